/* topics.c - see topics.h. */
#include "topics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

struct client {
	char *key; /* topics_key */
	rd_kafka_t *rk;
	unsigned long long used; /* the cache's clock when last taken */
	int refs;                /* calls running on it; never closed while > 0 */
	int failed;              /* a security failure: closed when refs drops to 0 */
};

struct topics {
	pthread_mutex_t mu;
	char *client_id;
	struct client clients[TOPICS_MAX_CLIENTS];
	unsigned long long clock;
};

struct topics *topics_new(const char *client_id)
{
	struct topics *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->client_id = strdup(client_id);
	if (t->client_id == NULL || pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t->client_id);
		free(t);
		return NULL;
	}
	return t;
}

static void client_close(struct client *c)
{
	if (c->rk != NULL)
		rd_kafka_destroy(c->rk);
	free(c->key);
	memset(c, 0, sizeof(*c));
}

void topics_free(struct topics *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++)
		client_close(&t->clients[i]);
	pthread_mutex_destroy(&t->mu);
	free(t->client_id);
	free(t);
}

int topics_replication(int requested, int brokers)
{
	if (requested > 0)
		return requested;
	if (brokers < 1)
		brokers = 1;
	return brokers < 3 ? brokers : 3;
}

int topics_min_insync(int rf)
{
	return rf > 1 ? (rf < 2 ? rf : 2) : 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	/* 0xff marks an absent field, 0xfe ends a present one: absent, ""
	 * and "a" + "b" vs "ab" all differ. */
	if (s == NULL)
		return (h ^ 0xffu) * 1099511628211ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xfeu) * 1099511628211ULL;
}

const char *topics_key(const char *bootstrap, const struct kafka_security *sec, char *buf,
                       size_t size)
{
	uint64_t h = 14695981039346656037ULL;

	if (sec != NULL) {
		h = fnv(h, sec->tls ? "tls" : "plain");
		h = fnv(h, sec->ca_pem);
		h = fnv(h, sec->cert_pem);
		h = fnv(h, sec->key_pem);
		h = fnv(h, sec->server_name);
		h = fnv(h, sec->sasl_mechanism);
		h = fnv(h, sec->username);
		h = fnv(h, sec->password);
	}
	snprintf(buf, size, "%s#%016llx", bootstrap != NULL ? bootstrap : "",
	         (unsigned long long)h);
	return buf;
}

/* Takes the handle for bootstrap and sec, making it (in a free or the least
 * recently used idle slot) when there is none. */
static struct client *acquire(struct topics *t, const char *bootstrap,
                              const struct kafka_security *sec, char *errbuf, size_t n)
{
	static const char *const extra[] = {"allow.auto.create.topics", "false", NULL};
	struct client *found = NULL, *slot = NULL;
	char key[TOPICS_KEY_MAX];

	topics_key(bootstrap, sec, key, sizeof(key));
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++) {
		struct client *c = &t->clients[i];
		if (c->rk != NULL && strcmp(c->key, key) == 0) {
			found = c;
			break;
		}
		if (c->refs == 0 &&
		    (slot == NULL || c->rk == NULL || (slot->rk != NULL && c->used < slot->used)))
			slot = c;
	}
	if (found == NULL && slot != NULL) {
		struct kafka_config kc = {.bootstrap = bootstrap,
		                          .security = sec,
		                          .client_id = t->client_id,
		                          .extra = extra};
		rd_kafka_t *rk = kafka_producer_new(&kc, NULL, NULL, errbuf, n);
		char *k = strdup(key);
		if (rk != NULL && k != NULL) {
			client_close(slot);
			slot->rk = rk;
			slot->key = k;
			found = slot;
		} else {
			if (rk != NULL)
				rd_kafka_destroy(rk);
			free(k);
		}
	} else if (found == NULL) {
		snprintf(errbuf, n, "kafka: %d clusters in use at once", TOPICS_MAX_CLIENTS);
	}
	if (found != NULL) {
		found->refs++;
		found->used = ++t->clock;
	}
	pthread_mutex_unlock(&t->mu);
	return found;
}

/* Gives c back after a call that answered rc; a security failure closes
 * it once no other call runs on it. */
static void release(struct topics *t, struct client *c, int rc)
{
	rd_kafka_t *close = NULL;

	pthread_mutex_lock(&t->mu);
	c->refs--;
	if (rc == TOPICS_EAUTH || rc == TOPICS_ETLS)
		c->failed = 1;
	if (c->failed && c->refs == 0) {
		close = c->rk;
		c->rk = NULL;
		free(c->key);
		c->key = NULL;
		c->failed = 0;
	}
	pthread_mutex_unlock(&t->mu);
	if (close != NULL)
		rd_kafka_destroy(close); /* outside the lock: it joins librdkafka's threads */
}

/* kafka_security_failure's kinds as topics_rc codes. */
static int topics_rc_of(int kind)
{
	return kind == KAFKA_SEC_AUTH ? TOPICS_EAUTH : kind == KAFKA_SEC_TLS ? TOPICS_ETLS : 0;
}

int topics_security_failure(int err, const char *text)
{
	return topics_rc_of(kafka_security_failure(err, text));
}

const char *topics_reason(int rc)
{
	switch (rc) {
	case TOPICS_OK:
		return NULL;
	case TOPICS_ENOTFOUND:
		return "TopicNotFound";
	case TOPICS_EAUTH:
		return "KafkaAuthenticationFailed";
	case TOPICS_ETLS:
		return "KafkaTLSFailed";
	default:
		return "KafkaUnavailable";
	}
}

int topics_drain_errors(rd_kafka_t *rk, char *errbuf, size_t errbuf_size)
{
	return topics_rc_of(kafka_take_security_error(rk, errbuf, errbuf_size));
}

/* Sorts a librdkafka error text into our codes; a security failure among
 * the handle's error events wins over a time-out (it is why). */
static int classify_on(rd_kafka_t *rk, char *errbuf, size_t n)
{
	int sec = topics_drain_errors(rk, errbuf, n);

	/* kafka_topic_describe may have taken the error event already: then
	 * errbuf holds its text. */
	if (sec == 0)
		sec = topics_security_failure(0, errbuf);
	if (sec != 0)
		return sec;
	if (strstr(errbuf, "UNKNOWN_TOPIC") != NULL)
		return TOPICS_ENOTFOUND;
	if (strstr(errbuf, "TIMED_OUT") != NULL || strstr(errbuf, "TRANSPORT") != NULL ||
	    strstr(errbuf, "ALL_BROKERS_DOWN") != NULL || strstr(errbuf, "RESOLVE") != NULL)
		return TOPICS_EUNAVAILABLE;
	return TOPICS_EFAILED;
}

int topics_describe(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                    const char *topic, int timeout_ms, int *partitions, int *replication,
                    char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, sec, errbuf, errbuf_size);
	int rc;

	if (c == NULL)
		return TOPICS_EFAILED;
	/* kafka_topic_describe asks in slices and stops at a refused login. */
	rc = kafka_topic_describe(c->rk, topic, timeout_ms > 0 ? timeout_ms : 1, partitions,
	                          replication, errbuf, errbuf_size) == 0
	         ? TOPICS_OK
	         : classify_on(c->rk, errbuf, errbuf_size);
	if (rc == TOPICS_OK)
		topics_drain_errors(c->rk, errbuf, 0);
	release(t, c, rc);
	return rc;
}

int topics_create(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                  const char *topic, int partitions, int replication, int timeout_ms, int *created,
                  char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, sec, errbuf, errbuf_size);
	struct kafka_config kc = {
	    .bootstrap = bootstrap, .security = sec, .client_id = t->client_id};
	int rc, brokers = 1, made = 0;

	if (created != NULL)
		*created = 0;
	if (c == NULL)
		return TOPICS_EFAILED;
	rc = replication > 0
	         ? 0
	         : kafka_cluster_brokers(c->rk, timeout_ms, &brokers, errbuf, errbuf_size);
	if (rc == 0) {
		int rf = topics_replication(replication, brokers);
		rc = kafka_topic_create_ex(c->rk, topic, partitions, rf, topics_min_insync(rf),
		                           timeout_ms, &made, errbuf, errbuf_size);
	}
	if (rc == 0 && made) {
		if (created != NULL)
			*created = 1;
		rc = kafka_topic_wait(c->rk, &kc, topic, partitions, timeout_ms, errbuf,
		                      errbuf_size);
	}
	rc = rc == 0 ? TOPICS_OK : classify_on(c->rk, errbuf, errbuf_size);
	release(t, c, rc);
	return rc;
}

int topics_grow(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                const char *topic, int partitions, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, sec, errbuf, errbuf_size);
	struct kafka_config kc = {
	    .bootstrap = bootstrap, .security = sec, .client_id = t->client_id};
	int rc;

	if (c == NULL)
		return TOPICS_EFAILED;
	rc = kafka_topic_grow(c->rk, topic, partitions, timeout_ms, errbuf, errbuf_size);
	if (rc == 0)
		rc = kafka_topic_wait(c->rk, &kc, topic, partitions, timeout_ms, errbuf,
		                      errbuf_size);
	rc = rc == 0 ? TOPICS_OK : classify_on(c->rk, errbuf, errbuf_size);
	release(t, c, rc);
	return rc;
}

int topics_delete(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                  const char *topic, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, sec, errbuf, errbuf_size);
	rd_kafka_DeleteTopic_t *dt = NULL;
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	char what[300];
	int rc = TOPICS_EFAILED;

	if (c == NULL)
		return TOPICS_EFAILED;
	snprintf(what, sizeof(what), "delete topic \"%s\"", topic);
	dt = rd_kafka_DeleteTopic_new(topic);
	opts = rd_kafka_AdminOptions_new(c->rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
	q = rd_kafka_queue_new(c->rk);
	if (dt == NULL || opts == NULL || q == NULL) {
		snprintf(errbuf, errbuf_size, "kafka: %s: out of memory", what);
		goto done;
	}
	rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, NULL, 0);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, NULL, 0);
	rd_kafka_DeleteTopics(c->rk, &dt, 1, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	if (ev == NULL) {
		snprintf(errbuf, errbuf_size, "kafka: %s: timed out (TIMED_OUT)", what);
		rc = classify_on(c->rk, errbuf, errbuf_size);
		goto done;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, what, rd_kafka_event_error(ev));
		rc = classify_on(c->rk, errbuf, errbuf_size);
		goto done;
	}
	size_t n = 0;
	const rd_kafka_topic_result_t **res =
	    rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
	rd_kafka_resp_err_t err =
	    n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
		rc = TOPICS_OK;
	} else {
		kafka_fail(errbuf, errbuf_size, what, err);
		rc = classify_on(c->rk, errbuf, errbuf_size);
	}
done:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (opts != NULL)
		rd_kafka_AdminOptions_destroy(opts);
	if (dt != NULL)
		rd_kafka_DeleteTopic_destroy(dt);
	release(t, c, rc);
	return rc;
}
