/* topics.c - see topics.h. */
#include "topics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"

struct client {
	char *bootstrap;
	rd_kafka_t *rk;
	unsigned long long used; /* the cache's clock when last taken */
	int refs;                /* calls running on it; never closed while > 0 */
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
	free(c->bootstrap);
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

/* Takes the handle for bootstrap, making it (in a free or the least
 * recently used idle slot) when there is none. */
static struct client *acquire(struct topics *t, const char *bootstrap, char *errbuf, size_t n)
{
	static const char *const extra[] = {"allow.auto.create.topics", "false", NULL};
	struct client *found = NULL, *slot = NULL;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++) {
		struct client *c = &t->clients[i];
		if (c->rk != NULL && strcmp(c->bootstrap, bootstrap) == 0) {
			found = c;
			break;
		}
		if (c->refs == 0 &&
		    (slot == NULL || c->rk == NULL || (slot->rk != NULL && c->used < slot->used)))
			slot = c;
	}
	if (found == NULL && slot != NULL) {
		struct kafka_config kc = {
		    .bootstrap = bootstrap, .client_id = t->client_id, .extra = extra};
		rd_kafka_t *rk = kafka_producer_new(&kc, NULL, NULL, errbuf, n);
		char *b = strdup(bootstrap);
		if (rk != NULL && b != NULL) {
			client_close(slot);
			slot->rk = rk;
			slot->bootstrap = b;
			found = slot;
		} else {
			if (rk != NULL)
				rd_kafka_destroy(rk);
			free(b);
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

static void release(struct topics *t, struct client *c)
{
	pthread_mutex_lock(&t->mu);
	c->refs--;
	pthread_mutex_unlock(&t->mu);
}

/* Sorts a librdkafka error text into our codes. */
static int classify(const char *errbuf)
{
	if (strstr(errbuf, "UNKNOWN_TOPIC") != NULL)
		return TOPICS_ENOTFOUND;
	if (strstr(errbuf, "TIMED_OUT") != NULL || strstr(errbuf, "TRANSPORT") != NULL ||
	    strstr(errbuf, "ALL_BROKERS_DOWN") != NULL || strstr(errbuf, "RESOLVE") != NULL)
		return TOPICS_EUNAVAILABLE;
	return TOPICS_EFAILED;
}

int topics_describe(struct topics *t, const char *bootstrap, const char *topic, int timeout_ms,
                    int *partitions, int *replication, char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, errbuf, errbuf_size);
	int rc;

	if (c == NULL)
		return TOPICS_EFAILED;
	rc = kafka_topic_describe(c->rk, topic, timeout_ms, partitions, replication, errbuf,
	                          errbuf_size);
	release(t, c);
	return rc == 0 ? TOPICS_OK : classify(errbuf);
}

int topics_create(struct topics *t, const char *bootstrap, const char *topic, int partitions,
                  int replication, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, errbuf, errbuf_size);
	int rc;

	if (c == NULL)
		return TOPICS_EFAILED;
	rc = kafka_topic_create(c->rk, topic, partitions, replication, timeout_ms, errbuf,
	                        errbuf_size);
	release(t, c);
	return rc == 0 ? TOPICS_OK : classify(errbuf);
}

int topics_delete(struct topics *t, const char *bootstrap, const char *topic, int timeout_ms,
                  char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, errbuf, errbuf_size);
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
		rc = TOPICS_EUNAVAILABLE;
		goto done;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, what, rd_kafka_event_error(ev));
		rc = classify(errbuf);
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
		rc = classify(errbuf);
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
	release(t, c);
	return rc;
}
