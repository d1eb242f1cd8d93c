/* topics.c - see topics.h. */
#include "topics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka.h"
#include "kafka_meta.h"
#include "topic_batch.h"
#include "topic_ledger.h"

/* Callers in one CreateTopics request: each asks at most TOPICS_CALL_MAX
 * topics, and a request carries at most TOPICS_BATCH_MAX. */
#define CREATE_CALLERS_MAX (TOPICS_BATCH_MAX / TOPICS_CALL_MAX)

struct client {
	char *key; /* topics_key */
	rd_kafka_t *rk;
	struct kafka_meta *meta;     /* rk's shared answer and kept probes */
	struct topic_ledger *ledger; /* the topics rk described */
	unsigned long long used;     /* the cache's clock when last taken */
	int refs;                    /* calls running on it; never closed while > 0 */
	int failed;                  /* a security failure: closed when refs drops to 0 */
	int retiring; /* holds too many dead topics: takes no new call, closed when refs is 0 */
	struct topic_batch creates, deletes;
};

struct topics {
	pthread_mutex_t mu;
	/* a batch returned (topic_batch states changed), or stats changed */
	pthread_cond_t cv;
	char *client_id;
	size_t ledger_cap;
	int64_t stale_ms;
	int describe_age_ms; /* kafka_meta_new's max_age_ms */
	int64_t (*now_ms)(void);
	struct client clients[TOPICS_MAX_CLIENTS];
	unsigned long long clock;
	struct topics_stats stats; /* handles_open, topics_held: computed by topics_stats */
};

struct topics *topics_new_ex(const char *client_id, const struct topics_opts *o)
{
	struct topics *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->client_id = strdup(client_id);
	t->ledger_cap = o->ledger_cap > 0 ? o->ledger_cap : TOPICS_LEDGER_CAP;
	t->stale_ms = o->stale_ms != 0 ? (int64_t)o->stale_ms : TOPICS_STALE_MS;
	t->describe_age_ms = o->describe_age_ms == 0  ? KAFKA_META_MAX_AGE_MS
	                     : o->describe_age_ms < 0 ? 0
	                                              : o->describe_age_ms;
	t->now_ms = o->now_ms != NULL ? o->now_ms : clock_mono_ms;
	if (t->client_id == NULL || pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t->client_id);
		free(t);
		return NULL;
	}
	if (pthread_cond_init(&t->cv, NULL) != 0) {
		pthread_mutex_destroy(&t->mu);
		free(t->client_id);
		free(t);
		return NULL;
	}
	return t;
}

struct topics *topics_new(const char *client_id)
{
	struct topics_opts o = {0};
	return topics_new_ex(client_id, &o);
}

/* What a client slot owns, taken out of it to be destroyed outside the
 * lock (rd_kafka_destroy joins librdkafka's threads). */
struct client_parts {
	rd_kafka_t *rk;
	struct topic_ledger *ledger;
	struct kafka_meta *meta;
};

/* Empties slot c; its parts go to the caller (*p). */
static void client_take(struct client *c, struct client_parts *p)
{
	p->rk = c->rk;
	p->ledger = c->ledger;
	p->meta = c->meta;
	free(c->key);
	memset(c, 0, sizeof(*c));
}

static void client_destroy(struct client_parts *p)
{
	kafka_meta_free(p->meta); /* its probes; before rk, which it uses */
	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	topic_ledger_free(p->ledger);
	memset(p, 0, sizeof(*p));
}

void topics_free(struct topics *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++) {
		struct client_parts p;

		client_take(&t->clients[i], &p);
		client_destroy(&p);
	}
	pthread_cond_destroy(&t->cv);
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
 * recently used idle slot) when there is none. A retiring handle is not
 * taken: its last call closes it. */
static struct client *acquire(struct topics *t, const char *bootstrap,
                              const struct kafka_security *sec, char *errbuf, size_t n)
{
	static const char *const extra[] = {"allow.auto.create.topics", "false", NULL};
	struct client *found = NULL, *slot = NULL;
	struct client_parts old = {0};
	char key[TOPICS_KEY_MAX];

	topics_key(bootstrap, sec, key, sizeof(key));
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++) {
		struct client *c = &t->clients[i];
		if (c->rk != NULL && !c->retiring && strcmp(c->key, key) == 0) {
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
		struct client_parts made = {0};
		char *k = strdup(key);
		int lrc;

		made.rk = kafka_producer_new(&kc, NULL, NULL, errbuf, n);
		lrc = made.rk != NULL ? topic_ledger_new(t->ledger_cap, t->stale_ms, &made.ledger)
		                      : 0;
		made.meta = made.rk != NULL ? kafka_meta_new(made.rk, t->describe_age_ms) : NULL;
		if (made.rk != NULL && made.meta != NULL && k != NULL && lrc == 0) {
			client_take(slot, &old);
			slot->rk = made.rk;
			slot->key = k;
			slot->ledger = made.ledger;
			slot->meta = made.meta;
			found = slot;
			t->stats.handles_made++;
		} else {
			if (made.rk != NULL)
				snprintf(errbuf, n, "kafka: %s: out of memory", bootstrap);
			client_destroy(&made);
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
	client_destroy(&old);
	return found;
}

/* Gives c back after a call that answered rc. A security failure closes
 * it once no other call runs on it; so do dead topics past the ledger's
 * limit (the next call makes a fresh handle that holds none). */
static void release(struct topics *t, struct client *c, int rc)
{
	struct client_parts gone = {0};

	pthread_mutex_lock(&t->mu);
	c->refs--;
	if (rc == TOPICS_EAUTH || rc == TOPICS_ETLS)
		c->failed = 1;
	if (!c->retiring && topic_ledger_renew(c->ledger, t->now_ms()))
		c->retiring = 1;
	if ((c->failed || c->retiring) && c->refs == 0) {
		if (c->retiring && !c->failed)
			t->stats.handles_renewed++;
		client_take(c, &gone);
		pthread_cond_broadcast(&t->cv); /* stats changed */
	}
	pthread_mutex_unlock(&t->mu);
	client_destroy(&gone);
}

/* Records that c is about to describe topic. A full ledger retires the
 * handle (the topic goes unrecorded until the handle is made again). */
static void touch(struct topics *t, struct client *c, const char *topic)
{
	pthread_mutex_lock(&t->mu);
	if (topic_ledger_touch(c->ledger, topic, t->now_ms()) == TOPIC_LEDGER_FULL)
		c->retiring = 1;
	pthread_mutex_unlock(&t->mu);
}

void topics_forget(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                   const char *topic)
{
	char key[TOPICS_KEY_MAX];
	struct client_parts gone = {0};

	topics_key(bootstrap, sec, key, sizeof(key));
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++) {
		struct client *c = &t->clients[i];

		if (c->rk == NULL || strcmp(c->key, key) != 0 ||
		    !topic_ledger_forget(c->ledger, topic))
			continue;
		/* An idle handle is made again now; a busy one by its last call. */
		if (!c->retiring && topic_ledger_renew(c->ledger, t->now_ms()))
			c->retiring = 1;
		if (c->retiring && c->refs == 0 && gone.rk == NULL) {
			t->stats.handles_renewed++;
			client_take(c, &gone);
		}
	}
	pthread_cond_broadcast(&t->cv); /* stats changed */
	pthread_mutex_unlock(&t->mu);
	client_destroy(&gone);
}

/* The counters now into *out. Under t->mu. */
static void stats_locked(struct topics *t, struct topics_stats *out)
{
	int64_t now = t->now_ms();

	*out = t->stats;
	out->handles_open = 0;
	out->topics_held = 0;
	out->topics_dead = 0;
	out->metadata_requests = 0;
	out->metadata_shared = 0;
	out->probes_made = 0;
	out->probes_open = 0;
	for (size_t i = 0; i < TOPICS_MAX_CLIENTS; i++) {
		struct topic_ledger_counts n;
		struct kafka_meta_stats ms;

		if (t->clients[i].rk == NULL)
			continue;
		out->handles_open++;
		topic_ledger_count(t->clients[i].ledger, now, &n);
		out->topics_held += n.held;
		out->topics_dead += n.dead;
		kafka_meta_stats(t->clients[i].meta, &ms);
		out->metadata_requests += ms.requests;
		out->metadata_shared += ms.answers_shared;
		out->probes_made += ms.probes_made;
		out->probes_open += ms.probes_open;
	}
}

void topics_stats(struct topics *t, struct topics_stats *out)
{
	pthread_mutex_lock(&t->mu);
	stats_locked(t, out);
	pthread_mutex_unlock(&t->mu);
}

int topics_stats_wait(struct topics *t, topics_stats_pred pred, void *arg, int timeout_ms,
                      struct topics_stats *out)
{
	struct timespec until;
	int met = 0, rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	for (;;) {
		stats_locked(t, out);
		met = pred(out, arg);
		if (met || rc != 0)
			break;
		rc = pthread_cond_timedwait(&t->cv, &t->mu, &until);
	}
	pthread_mutex_unlock(&t->mu);
	return met;
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
	touch(t, c, topic);
	/* The handle's shared answer (kafka_meta): a pass that describes its
	 * topics, and every pass within the second, cost one request. It asks
	 * in slices and stops at a refused login. */
	rc = kafka_meta_describe(c->meta, topic, timeout_ms > 0 ? timeout_ms : 1, partitions,
	                         replication, errbuf, errbuf_size) == 0
	         ? TOPICS_OK
	         : classify_on(c->rk, errbuf, errbuf_size);
	if (rc == TOPICS_OK)
		topics_drain_errors(c->rk, errbuf, 0);
	release(t, c, rc);
	return rc;
}

/* One topic of a batched CreateTopics or DeleteTopics. */
struct admin_item {
	const char *topic;
	int partitions, replication; /* creates: as topics_create's */
	int rf;                      /* creates: the replication factor asked for */
	/* out */
	int rc;   /* topics_rc */
	int made; /* created (deleted) by this request, not there (absent) before */
	char err[TOPICS_ERR_MAX];
};

/* One caller's topics in a batch. */
struct admin_req {
	struct topic_batch_req b; /* first: a topic_batch_req * is its admin_req */
	struct admin_item *items;
	size_t n;
	int timeout_ms;
	const struct kafka_config *kc; /* creates: for the probes (kafka_meta_wait) */
};

/* Sends a batch's request for its items m[0..n) and puts each answer in
 * place; kc and timeout_ms: the batch's. */
typedef void (*admin_send_fn)(struct topics *t, struct client *c, const struct kafka_config *kc,
                              struct admin_item **m, size_t n, int timeout_ms);

/* The batch led by r: every member's items into m (at most
 * TOPICS_BATCH_MAX), their longest timeout into *timeout_ms. Under t->mu. */
static size_t batch_items(struct admin_req *r, struct admin_item **m, int *timeout_ms)
{
	size_t n = 0;

	*timeout_ms = 1;
	for (struct topic_batch_req *q = &r->b; q != NULL; q = q->next) {
		struct admin_req *a = (struct admin_req *)q;

		if (a->timeout_ms > *timeout_ms)
			*timeout_ms = a->timeout_ms;
		for (size_t i = 0; i < a->n && n < TOPICS_BATCH_MAX; i++)
			m[n++] = &a->items[i];
	}
	return n;
}

/*
 * r's topics through b, c's batch of one kind: r leads its own request at
 * once, or waits while another is in flight and then is answered by the
 * oldest waiter's request, or leads it (topic_batch.h). callers: the most
 * callers one request takes. Returns with r's answers in its items.
 */
static void admin_batched(struct topics *t, struct client *c, struct topic_batch *b,
                          struct admin_req *r, size_t callers, admin_send_fn send)
{
	struct admin_item *m[TOPICS_BATCH_MAX];
	size_t n = 0;
	int timeout_ms = 1, leading;

	pthread_mutex_lock(&t->mu);
	topic_batch_join(b, &r->b);
	while (r->b.state == TOPIC_BATCH_QUEUED || r->b.state == TOPIC_BATCH_RUNNING)
		pthread_cond_wait(&t->cv, &t->mu);
	leading = r->b.state == TOPIC_BATCH_LEADING;
	if (leading)
		n = batch_items(r, m, &timeout_ms);
	pthread_mutex_unlock(&t->mu);
	if (!leading)
		return; /* TOPIC_BATCH_DONE: answered by another's request */
	send(t, c, r->kc, m, n, timeout_ms);
	pthread_mutex_lock(&t->mu);
	topic_batch_done(b, callers);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* The index of the first of m[0..i) with m[i]'s topic, or i. */
static size_t first_of(struct admin_item **m, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(m[j]->topic, m[i]->topic) == 0)
			return j;
	return i;
}

/* The same failure for every item still waiting for an answer (rc
 * TOPICS_EFAILED and no text), each worded with its own topic. */
static void admin_fail_all(struct admin_item **m, size_t n, const char *verb, int rc,
                           const char *why)
{
	for (size_t i = 0; i < n; i++)
		if (m[i]->rc == TOPICS_EFAILED && m[i]->err[0] == '\0') {
			m[i]->rc = rc;
			snprintf(m[i]->err, sizeof(m[i]->err), "kafka: %s topic \"%s\": %s", verb,
			         m[i]->topic, why);
		}
}

/* Every item unanswered: rc TOPICS_EFAILED, no text. */
static void admin_reset(struct admin_item **m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		m[i]->rc = TOPICS_EFAILED;
		m[i]->made = 0;
		m[i]->err[0] = '\0';
	}
}

/* The options (both timeouts) and the reply queue of one admin request on
 * rk into *opts and *q. 0, or -1 with why (either may then be set: free
 * them with admin_release). */
static int admin_setup(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms,
                       rd_kafka_AdminOptions_t **opts, rd_kafka_queue_t **q, char *why,
                       size_t why_size)
{
	why[0] = '\0';
	*opts = rd_kafka_AdminOptions_new(rk, op);
	*q = rd_kafka_queue_new(rk);
	if (*opts == NULL || *q == NULL ||
	    rd_kafka_AdminOptions_set_request_timeout(*opts, timeout_ms, why, why_size) ||
	    rd_kafka_AdminOptions_set_operation_timeout(*opts, timeout_ms, why, why_size)) {
		if (why[0] == '\0')
			snprintf(why, why_size, "out of memory");
		return -1;
	}
	return 0;
}

static void admin_release(rd_kafka_event_t *ev, rd_kafka_queue_t *q, rd_kafka_AdminOptions_t *opts)
{
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (opts != NULL)
		rd_kafka_AdminOptions_destroy(opts);
}

/* Waits for a batch's admin event on q; NULL (why in errbuf, rc in *rc)
 * when it did not come or failed as a whole. */
static rd_kafka_event_t *admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, int timeout_ms, int *rc,
                                    char *why, size_t why_size)
{
	/* The request times out by itself after timeout_ms; the margin only
	 * covers the result's trip back. */
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);

	if (ev == NULL) {
		snprintf(why, why_size, "no answer within %d ms (TIMED_OUT)", timeout_ms);
		*rc = classify_on(rk, why, why_size);
		return NULL;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(why, why_size, "%s (%s)", rd_kafka_event_error_string(ev),
		         rd_kafka_err2name(rd_kafka_event_error(ev)));
		*rc = classify_on(rk, why, why_size);
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

/* The answers of a CreateTopics or DeleteTopics result tr[0..nr) into m's
 * members (by topic name; a duplicate takes its first's). ok_also: a
 * second error code that counts as success (TOPIC_ALREADY_EXISTS,
 * UNKNOWN_TOPIC_OR_PART) with made 0. Returns how many were made. */
static size_t admin_answers(rd_kafka_t *rk, const rd_kafka_topic_result_t **tr, size_t nr,
                            struct admin_item **m, size_t n, const char *verb,
                            rd_kafka_resp_err_t ok_also)
{
	size_t made = 0;

	for (size_t k = 0; k < nr; k++) {
		const char *name = rd_kafka_topic_result_name(tr[k]);
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[k]);

		for (size_t i = 0; i < n; i++) {
			struct admin_item *r = m[i];

			if (name == NULL || strcmp(r->topic, name) != 0 || r->err[0] != '\0' ||
			    r->rc != TOPICS_EFAILED)
				continue;
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == ok_also) {
				r->rc = TOPICS_OK;
				/* Only the first asker of a topic made it. */
				r->made = err == RD_KAFKA_RESP_ERR_NO_ERROR && first_of(m, i) == i;
				made += (size_t)r->made;
			} else {
				char text[256];
				const char *detail = rd_kafka_topic_result_error_string(tr[k]);

				snprintf(r->err, sizeof(r->err), "kafka: %s topic \"%s\": %s: %s",
				         verb, r->topic, kafka_strerror(text, sizeof(text), err),
				         detail != NULL ? detail : "");
				r->rc = classify_on(rk, r->err, sizeof(r->err));
			}
		}
	}
	admin_fail_all(m, n, verb, TOPICS_EFAILED, "not in the broker's answer");
	return made;
}

/* Waits for the topics the request made (m[i]->made) on every broker
 * (kafka_meta_wait, one wait for all): the one that made a topic, and any
 * other asker of it in the batch, gets the wait's failure if it is not
 * ready in time. The ready ones are noted in the handle's shared answer
 * (kafka_meta_created), so the passes that follow describe them without
 * asking the cluster. */
static void creates_wait(struct client *c, const struct kafka_config *kc, struct admin_item **m,
                         size_t n, int timeout_ms)
{
	struct kafka_topic_want w[TOPICS_BATCH_MAX];
	size_t k = 0;
	char why[TOPICS_ERR_MAX];

	size_t at[TOPICS_BATCH_MAX];
	int rc = TOPICS_OK;

	for (size_t i = 0; i < n; i++)
		if (m[i]->made) {
			at[k] = i;
			w[k++] = (struct kafka_topic_want){m[i]->topic, m[i]->partitions, 0};
		}
	if (k == 0)
		return;
	if (kafka_meta_wait(c->meta, kc, w, k, timeout_ms, why, sizeof(why)) != 0)
		rc = classify_on(c->rk, why, sizeof(why));
	for (size_t j = 0; j < k; j++) {
		if (w[j].ready) {
			kafka_meta_created(c->meta, w[j].topic, w[j].partitions, m[at[j]]->rf);
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (m[i]->rc == TOPICS_OK && strcmp(m[i]->topic, w[j].topic) == 0) {
				m[i]->rc = rc;
				snprintf(m[i]->err, sizeof(m[i]->err), "%s", why);
			}
	}
}

static void send_creates(struct topics *t, struct client *c, const struct kafka_config *kc,
                         struct admin_item **m, size_t n, int timeout_ms)
{
	rd_kafka_NewTopic_t *nt[TOPICS_BATCH_MAX];
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	char why[256] = "";
	size_t k = 0, made = 0;
	int brokers = 1, need_brokers = 0, rc = TOPICS_EFAILED;

	admin_reset(m, n);
	for (size_t i = 0; i < n; i++)
		if (m[i]->replication <= 0)
			need_brokers = 1;
	/* From the shared answer: the cluster's size changes rarely. */
	if (need_brokers &&
	    kafka_meta_brokers(c->meta, timeout_ms, &brokers, why, sizeof(why)) != 0) {
		admin_fail_all(m, n, "create", classify_on(c->rk, why, sizeof(why)), why);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int rf = topics_replication(m[i]->replication, brokers);
		char isr[16];

		m[i]->rf = rf;
		if (first_of(m, i) != i)
			continue; /* one NewTopic per name: librdkafka refuses duplicates */
		nt[k] = rd_kafka_NewTopic_new(m[i]->topic, m[i]->partitions, rf, why, sizeof(why));
		if (nt[k] == NULL) {
			snprintf(m[i]->err, sizeof(m[i]->err), "kafka: create topic \"%s\": %s",
			         m[i]->topic, why);
			continue;
		}
		snprintf(isr, sizeof(isr), "%d", topics_min_insync(rf));
		if (topics_min_insync(rf) > 0 &&
		    rd_kafka_NewTopic_set_config(nt[k], "min.insync.replicas", isr) !=
		        RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(m[i]->err, sizeof(m[i]->err),
			         "kafka: create topic \"%s\": cannot set min.insync.replicas",
			         m[i]->topic);
			rd_kafka_NewTopic_destroy(nt[k]);
			continue;
		}
		k++;
	}
	why[0] = '\0';
	if (k == 0)
		goto done;
	if (admin_setup(c->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, &opts, &q, why,
	                sizeof(why)) != 0) {
		admin_fail_all(m, n, "create", TOPICS_EFAILED, why);
		goto done;
	}
	rd_kafka_CreateTopics(c->rk, nt, k, opts, q);
	ev = admin_wait(c->rk, q, timeout_ms, &rc, why, sizeof(why));
	if (ev == NULL) {
		admin_fail_all(m, n, "create", rc, why);
	} else {
		const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
		size_t nr = 0;
		const rd_kafka_topic_result_t **tr =
		    res != NULL ? rd_kafka_CreateTopics_result_topics(res, &nr) : NULL;

		made = admin_answers(c->rk, tr, tr != NULL ? nr : 0, m, n, "create",
		                     RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
	}
	/* The batch's callers return once what it made is on every broker. */
	creates_wait(c, kc, m, n, timeout_ms);
	pthread_mutex_lock(&t->mu);
	t->stats.create_requests++;
	t->stats.topics_created += made;
	pthread_cond_broadcast(&t->cv); /* stats changed */
	pthread_mutex_unlock(&t->mu);
done:
	/* A duplicate of a topic that could not be asked. */
	admin_fail_all(m, n, "create", TOPICS_EFAILED, "not sent");
	admin_release(ev, q, opts);
	rd_kafka_NewTopic_destroy_array(nt, k);
}

/* One call's first failure (TOPICS_OK when none). */
static int first_failure(const struct topics_new_topic *nt, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (nt[i].rc != TOPICS_OK)
			return nt[i].rc;
	return TOPICS_OK;
}

int topics_create_many(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                       struct topics_new_topic *nt, size_t n, int timeout_ms)
{
	struct kafka_config kc = {
	    .bootstrap = bootstrap, .security = sec, .client_id = t->client_id};
	struct admin_item items[TOPICS_CALL_MAX];
	struct admin_req r = {.items = items, .n = n, .timeout_ms = timeout_ms, .kc = &kc};
	char err[TOPICS_ERR_MAX] = "";
	struct client *c;
	int rc;

	for (size_t i = 0; i < n; i++) {
		nt[i].rc = TOPICS_EFAILED;
		nt[i].created = 0;
		nt[i].err[0] = '\0';
	}
	if (n == 0)
		return TOPICS_OK;
	if (n > TOPICS_CALL_MAX) {
		for (size_t i = 0; i < n; i++)
			snprintf(nt[i].err, sizeof(nt[i].err),
			         "kafka: create topic \"%s\": %zu topics in one call, at most %d",
			         nt[i].topic, n, TOPICS_CALL_MAX);
		return TOPICS_EFAILED;
	}
	c = acquire(t, bootstrap, sec, err, sizeof(err));
	if (c == NULL) {
		for (size_t i = 0; i < n; i++)
			snprintf(nt[i].err, sizeof(nt[i].err), "%s", err);
		return TOPICS_EFAILED;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = (struct admin_item){.topic = nt[i].topic,
		                               .partitions = nt[i].partitions,
		                               .replication = nt[i].replication};
	pthread_mutex_lock(&t->mu);
	t->stats.create_calls++;
	pthread_cond_broadcast(&t->cv); /* stats changed */
	pthread_mutex_unlock(&t->mu);
	admin_batched(t, c, &c->creates, &r, CREATE_CALLERS_MAX, send_creates);
	for (size_t i = 0; i < n; i++) {
		nt[i].rc = items[i].rc;
		nt[i].created = nt[i].rc == TOPICS_OK && items[i].made;
		snprintf(nt[i].err, sizeof(nt[i].err), "%s",
		         nt[i].rc != TOPICS_OK ? items[i].err : "");
	}
	rc = first_failure(nt, n);
	release(t, c, rc);
	return rc;
}

int topics_create(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                  const char *topic, int partitions, int replication, int timeout_ms, int *created,
                  char *errbuf, size_t errbuf_size)
{
	struct topics_new_topic nt = {
	    .topic = topic, .partitions = partitions, .replication = replication};
	int rc = topics_create_many(t, bootstrap, sec, &nt, 1, timeout_ms);

	if (created != NULL)
		*created = nt.created;
	if (rc != TOPICS_OK)
		snprintf(errbuf, errbuf_size, "%s", nt.err);
	return rc;
}

int topics_grow(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                const char *topic, int partitions, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, sec, errbuf, errbuf_size);
	struct kafka_config kc = {
	    .bootstrap = bootstrap, .security = sec, .client_id = t->client_id};
	struct kafka_topic_want w = {.topic = topic, .partitions = partitions};
	int rc;

	if (c == NULL)
		return TOPICS_EFAILED;
	rc = kafka_topic_grow(c->rk, topic, partitions, timeout_ms, errbuf, errbuf_size);
	if (rc == 0)
		rc = kafka_meta_wait(c->meta, &kc, &w, 1, timeout_ms, errbuf, errbuf_size);
	kafka_meta_invalidate(c->meta); /* grown, or maybe grown */
	rc = rc == 0 ? TOPICS_OK : classify_on(c->rk, errbuf, errbuf_size);
	release(t, c, rc);
	return rc;
}

static void send_deletes(struct topics *t, struct client *c, const struct kafka_config *kc,
                         struct admin_item **m, size_t n, int timeout_ms)
{
	rd_kafka_DeleteTopic_t *dt[TOPICS_BATCH_MAX];
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	char why[256] = "";
	size_t k = 0, made = 0;
	int rc = TOPICS_EFAILED;

	(void)kc;
	admin_reset(m, n);
	for (size_t i = 0; i < n; i++) {
		if (first_of(m, i) != i)
			continue;
		dt[k] = rd_kafka_DeleteTopic_new(m[i]->topic);
		if (dt[k] == NULL)
			snprintf(m[i]->err, sizeof(m[i]->err),
			         "kafka: delete topic \"%s\": out of memory", m[i]->topic);
		else
			k++;
	}
	if (k == 0)
		goto done;
	if (admin_setup(c->rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms, &opts, &q, why,
	                sizeof(why)) != 0) {
		admin_fail_all(m, n, "delete", TOPICS_EFAILED, why);
		goto done;
	}
	rd_kafka_DeleteTopics(c->rk, dt, k, opts, q);
	ev = admin_wait(c->rk, q, timeout_ms, &rc, why, sizeof(why));
	if (ev == NULL) {
		admin_fail_all(m, n, "delete", rc, why);
	} else {
		const rd_kafka_DeleteTopics_result_t *res = rd_kafka_event_DeleteTopics_result(ev);
		size_t nr = 0;
		const rd_kafka_topic_result_t **tr =
		    res != NULL ? rd_kafka_DeleteTopics_result_topics(res, &nr) : NULL;

		made = admin_answers(c->rk, tr, tr != NULL ? nr : 0, m, n, "delete",
		                     RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	}
	kafka_meta_invalidate(c->meta); /* deleted, or maybe deleted */
	pthread_mutex_lock(&t->mu);
	t->stats.delete_requests++;
	t->stats.topics_deleted += made;
	pthread_cond_broadcast(&t->cv); /* stats changed */
	pthread_mutex_unlock(&t->mu);
done:
	admin_fail_all(m, n, "delete", TOPICS_EFAILED, "not sent");
	admin_release(ev, q, opts);
	rd_kafka_DeleteTopic_destroy_array(dt, k);
}

int topics_delete(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                  const char *topic, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct client *c = acquire(t, bootstrap, sec, errbuf, errbuf_size);
	struct admin_item item = {.topic = topic};
	struct admin_req r = {.items = &item, .n = 1, .timeout_ms = timeout_ms};

	if (c == NULL)
		return TOPICS_EFAILED;
	pthread_mutex_lock(&t->mu);
	t->stats.delete_calls++;
	pthread_cond_broadcast(&t->cv); /* stats changed */
	pthread_mutex_unlock(&t->mu);
	admin_batched(t, c, &c->deletes, &r, TOPICS_BATCH_MAX, send_deletes);
	if (item.rc != TOPICS_OK) {
		snprintf(errbuf, errbuf_size, "%s", item.err);
	} else {
		/* Gone: the handle no longer needs its object. */
		pthread_mutex_lock(&t->mu);
		topic_ledger_forget(c->ledger, topic);
		pthread_mutex_unlock(&t->mu);
	}
	release(t, c, item.rc);
	return item.rc;
}
