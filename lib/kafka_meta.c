/*
 * kafka_meta: the shared describe answer of a long-lived admin handle, its
 * probe handles, and the wait for created topics on every broker
 * (kafka_meta.h).
 */
#include "kafka_meta.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "kafka_int.h"
#include "log.h"

/* "host:port" of b ("[host]:port" for an IPv6 address) into buf. */
static const char *broker_addr(const struct rd_kafka_metadata_broker *b, char *buf, size_t size)
{
	const char *host = b->host != NULL ? b->host : "";

	if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%s]:%d", host, b->port);
	else
		snprintf(buf, size, "%s:%d", host, b->port);
	return buf;
}

/* A metadata-only handle whose bootstrap is the one broker at addr: never
 * produces, so no idempotence (no InitProducerId) and no topic creation. */
static rd_kafka_t *probe_new(const struct kafka_config *kc, const char *addr, char *errbuf,
                             size_t errbuf_size)
{
	static const char *const extra[] = {"allow.auto.create.topics", "false", NULL};
	struct kafka_config one = *kc;
	rd_kafka_conf_t *conf;

	one.bootstrap = addr;
	one.extra = extra;
	conf = kafka_conf_common(&one, NULL, errbuf, errbuf_size);
	if (conf == NULL)
		return NULL;
	return kafka_client_new(RD_KAFKA_PRODUCER, conf, &one, errbuf, errbuf_size);
}

/* ------------------------------------------------------------ kafka_meta */

/* One all-topics answer, shared by the callers that took it. */
struct meta_answer {
	const struct rd_kafka_metadata *md;
	int64_t at_ms;          /* when it was asked for */
	unsigned long long seq; /* its fetch's number (fetches_started then) */
	int refs;               /* the cache's and each caller's */
};

struct meta_probe {
	char addr[300]; /* its bootstrap: the broker's advertised host:port */
	rd_kafka_t *rk;
};

/* A topic the handle created, known before an answer lists it. */
struct meta_note {
	char *topic; /* NULL: a free slot */
	int partitions, replication;
	int64_t at_ms;          /* noted then: valid for max_age_ms */
	unsigned long long seq; /* fetches_started then: a later fetch lists it */
};

#define META_NOTES_MAX 128

struct kafka_meta {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a fetch finished */
	rd_kafka_t *rk;
	int max_age_ms;
	struct meta_answer *cur; /* NULL: none, or invalidated */
	unsigned long long gen;  /* kafka_meta_invalidate calls */
	int fetching;            /* a fetch is under way; the others wait for it */
	unsigned long long fetches_started, fetches_done;
	int last_ok;                  /* the last fetch's outcome ... */
	rd_kafka_resp_err_t last_err; /* ... its error, or */
	char last_sec[512];           /* its security failure's text */
	struct kafka_meta_stats stats;
	struct meta_note notes[META_NOTES_MAX]; /* a ring, oldest overwritten */
	size_t next_note;
	/* Held through a kafka_meta_wait: one wait at a time uses the probes. */
	pthread_mutex_t probes_mu;
	struct meta_probe probes[KAFKA_WAIT_BROKERS_MAX];
	int n_probes;
};

struct kafka_meta *kafka_meta_new(rd_kafka_t *rk, int max_age_ms)
{
	struct kafka_meta *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return NULL;
	}
	if (pthread_cond_init(&m->cv, NULL) != 0) {
		pthread_mutex_destroy(&m->mu);
		free(m);
		return NULL;
	}
	if (pthread_mutex_init(&m->probes_mu, NULL) != 0) {
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		free(m);
		return NULL;
	}
	m->rk = rk;
	m->max_age_ms = max_age_ms > 0 ? max_age_ms : 0;
	return m;
}

/* Drops one reference of a (NULL: none); the last frees it. Under m->mu. */
static void answer_unref(struct meta_answer *a)
{
	if (a == NULL || --a->refs > 0)
		return;
	rd_kafka_metadata_destroy(a->md);
	free(a);
}

static void note_clear(struct meta_note *n)
{
	free(n->topic);
	memset(n, 0, sizeof(*n));
}

/* Drops the notes an answer of fetch seq lists (made before it started),
 * or all (seq ULLONG_MAX). Under m->mu. */
static void notes_drop(struct kafka_meta *m, unsigned long long seq)
{
	for (size_t i = 0; i < META_NOTES_MAX; i++)
		if (m->notes[i].topic != NULL && m->notes[i].seq < seq)
			note_clear(&m->notes[i]);
}

static void probe_close(struct meta_probe *p)
{
	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	memset(p, 0, sizeof(*p));
}

/* Closes every kept probe. Under m->probes_mu (or alone with m). */
static void probes_close(struct kafka_meta *m)
{
	for (int i = 0; i < m->n_probes; i++)
		probe_close(&m->probes[i]);
	m->n_probes = 0;
	pthread_mutex_lock(&m->mu);
	m->stats.probes_open = 0; /* n_probes is probes_mu's; stats are mu's */
	pthread_mutex_unlock(&m->mu);
}

void kafka_meta_free(struct kafka_meta *m)
{
	if (m == NULL)
		return;
	probes_close(m);
	notes_drop(m, ULLONG_MAX);
	answer_unref(m->cur);
	pthread_mutex_destroy(&m->probes_mu);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void kafka_meta_invalidate(struct kafka_meta *m)
{
	pthread_mutex_lock(&m->mu);
	m->gen++;
	answer_unref(m->cur);
	m->cur = NULL;
	notes_drop(m, ULLONG_MAX);
	pthread_mutex_unlock(&m->mu);
}

void kafka_meta_created(struct kafka_meta *m, const char *topic, int partitions, int replication)
{
	struct meta_note *n = NULL;
	char *copy = strdup(topic);

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < META_NOTES_MAX && n == NULL; i++)
		if (m->notes[i].topic != NULL && strcmp(m->notes[i].topic, topic) == 0)
			n = &m->notes[i];
	if (n == NULL) {
		n = &m->notes[m->next_note];
		m->next_note = (m->next_note + 1) % META_NOTES_MAX;
	}
	note_clear(n);
	if (copy != NULL)
		*n = (struct meta_note){copy, partitions, replication, clock_mono_ms(),
		                        m->fetches_started};
	pthread_mutex_unlock(&m->mu);
	/* Out of memory: not noted; a describe asks the cluster instead. */
}

/* topic's note, valid and newer than the kept answer, into *out: 1, else
 * 0. Under m->mu. */
static int note_find(const struct kafka_meta *m, const char *topic, struct meta_note *out)
{
	int64_t now = clock_mono_ms();

	for (size_t i = 0; i < META_NOTES_MAX; i++) {
		const struct meta_note *n = &m->notes[i];

		if (n->topic == NULL || strcmp(n->topic, topic) != 0)
			continue;
		if (now - n->at_ms >= m->max_age_ms || (m->cur != NULL && m->cur->seq > n->seq))
			return 0;
		*out = *n;
		return 1;
	}
	return 0;
}

void kafka_meta_stats(struct kafka_meta *m, struct kafka_meta_stats *out)
{
	pthread_mutex_lock(&m->mu);
	*out = m->stats;
	pthread_mutex_unlock(&m->mu);
}

/* The last fetch's failure as "kafka: <what>: <reason>" (or its security
 * text) into errbuf. Under m->mu. */
static int meta_failure(const struct kafka_meta *m, const char *what, char *errbuf,
                        size_t errbuf_size)
{
	if (m->last_sec[0] != '\0')
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "%s", m->last_sec);
	return kafka_fail(errbuf, errbuf_size, what, m->last_err);
}

/*
 * A reference to an all-topics answer at most max_age_ms old, of a fetch
 * started after the first min_seq (0: any), into *out (give it back with meta_put). A
 * caller that finds a fetch under way waits for it and shares its outcome
 * (its answer if asked for late enough, else it asks next), a failure
 * included (what names the caller's own request in errbuf), so a cluster
 * that does not answer costs one wait, not one per caller. An answer
 * fetched across an invalidation goes to its caller only: it may predate
 * the change.
 */
static int meta_get(struct kafka_meta *m, int timeout_ms, unsigned long long min_seq,
                    const char *what, struct meta_answer **out, char *errbuf, size_t errbuf_size)
{
	const struct rd_kafka_metadata *md = NULL;
	struct meta_answer *a;
	rd_kafka_resp_err_t err;
	unsigned long long gen, seq;
	char sec[512];
	int64_t now;
	int rc;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		now = clock_mono_ms();
		if (m->cur != NULL && now - m->cur->at_ms < m->max_age_ms &&
		    m->cur->seq > min_seq) {
			m->cur->refs++;
			m->stats.answers_shared++;
			*out = m->cur;
			pthread_mutex_unlock(&m->mu);
			return 0;
		}
		if (!m->fetching)
			break;
		unsigned long long seen = m->fetches_done;
		while (m->fetching)
			pthread_cond_wait(&m->cv, &m->mu);
		if (m->fetches_done != seen && !m->last_ok) {
			rc = meta_failure(m, what, errbuf, errbuf_size);
			pthread_mutex_unlock(&m->mu);
			return rc;
		}
		/* A fresh answer now, unless invalidated meanwhile: look again. */
	}
	m->fetching = 1;
	seq = ++m->fetches_started;
	gen = m->gen;
	m->stats.requests++;
	pthread_mutex_unlock(&m->mu);

	rc = kafka_metadata_fetch(m->rk, 1, timeout_ms, &md, &err, sec, sizeof(sec));
	a = rc == 0 ? calloc(1, sizeof(*a)) : NULL;

	pthread_mutex_lock(&m->mu);
	m->fetching = 0;
	m->fetches_done++;
	m->last_ok = a != NULL;
	m->last_err = rc == 0 ? RD_KAFKA_RESP_ERR__FAIL : err; /* _FAIL: no memory */
	snprintf(m->last_sec, sizeof(m->last_sec), "%s", rc == 0 ? "" : sec);
	if (a != NULL) {
		a->md = md;
		a->at_ms = now;
		a->seq = seq;
		a->refs = 1;
		if (gen == m->gen) {
			answer_unref(m->cur);
			m->cur = a;
			a->refs++;
			notes_drop(m, seq); /* it lists them */
		}
		*out = a;
		rc = 0;
	} else if (rc == 0) {
		rd_kafka_metadata_destroy(md);
		m->last_sec[0] = '\0';
		rc = err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: out of memory", what);
	} else {
		rc = meta_failure(m, what, errbuf, errbuf_size);
	}
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

static void meta_put(struct kafka_meta *m, struct meta_answer *a)
{
	pthread_mutex_lock(&m->mu);
	answer_unref(a);
	pthread_mutex_unlock(&m->mu);
}

/* Whether md lacks topic (absent, or UNKNOWN_TOPIC_OR_PART). */
static int metadata_lacks(const struct rd_kafka_metadata *md, const char *topic)
{
	const struct rd_kafka_metadata_topic *t = kafka_metadata_topic(md, topic);

	return t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

int kafka_meta_describe(struct kafka_meta *m, const char *topic, int timeout_ms, int *partitions,
                        int *replication, char *errbuf, size_t errbuf_size)
{
	struct meta_answer *a = NULL;
	unsigned long long start;
	char what[300];
	int rc;

	struct meta_note note;
	int noted;

	pthread_mutex_lock(&m->mu);
	start = m->fetches_started; /* an answer of a later fetch is newer than the call */
	noted = note_find(m, topic, &note);
	if (noted)
		m->stats.answers_shared++;
	pthread_mutex_unlock(&m->mu);
	if (noted) { /* created through this handle a moment ago */
		*partitions = note.partitions;
		*replication = note.replication;
		return 0;
	}
	snprintf(what, sizeof(what), "metadata of topic \"%s\"", topic);
	if (meta_get(m, timeout_ms, 0, what, &a, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	/* "Not there" decides that the operator may create (and own) the
	 * topic: never from an answer older than the call, or a topic
	 * someone made a moment ago would be claimed, and deleted with its
	 * resource. */
	if (a->seq <= start && metadata_lacks(a->md, topic)) {
		meta_put(m, a);
		a = NULL;
		if (meta_get(m, timeout_ms, start, what, &a, errbuf, errbuf_size) < 0)
			return KAFKA_ERR;
	}
	rc = kafka_describe_from(a->md, topic, partitions, replication, errbuf, errbuf_size);
	meta_put(m, a);
	return rc;
}

int kafka_meta_brokers(struct kafka_meta *m, int timeout_ms, int *brokers, char *errbuf,
                       size_t errbuf_size)
{
	struct meta_answer *a = NULL;

	if (meta_get(m, timeout_ms, 0, "metadata of the cluster", &a, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	*brokers = a->md->broker_cnt;
	meta_put(m, a);
	if (*brokers < 1)
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: the cluster lists no broker");
	return 0;
}

/* The probes made to match cluster's brokers, by address: a kept one
 * reused, a new one made, one of a broker no longer listed closed. Into
 * at[i] the probe of cluster->brokers[i]. Under m->probes_mu. */
static int probes_sync(struct kafka_meta *m, const struct kafka_config *kc,
                       const struct rd_kafka_metadata *cluster, struct meta_probe **at,
                       char *errbuf, size_t errbuf_size)
{
	struct meta_probe kept[KAFKA_WAIT_BROKERS_MAX];
	int n = cluster->broker_cnt, made = 0;

	memset(kept, 0, sizeof(kept));
	for (int i = 0; i < n; i++) {
		char addr[300];

		broker_addr(&cluster->brokers[i], addr, sizeof(addr));
		for (int j = 0; j < m->n_probes; j++)
			if (m->probes[j].rk != NULL && strcmp(m->probes[j].addr, addr) == 0) {
				kept[i] = m->probes[j];
				m->probes[j].rk = NULL;
				break;
			}
		if (kept[i].rk == NULL) {
			snprintf(kept[i].addr, sizeof(kept[i].addr), "%s", addr);
			kept[i].rk = probe_new(kc, addr, errbuf, errbuf_size);
			made++;
		}
	}
	for (int j = 0; j < m->n_probes; j++)
		probe_close(&m->probes[j]);
	memcpy(m->probes, kept, sizeof(kept));
	m->n_probes = n;
	pthread_mutex_lock(&m->mu);
	m->stats.probes_open = (size_t)n;
	m->stats.probes_made += (unsigned long long)made;
	pthread_mutex_unlock(&m->mu);
	for (int i = 0; i < n; i++) {
		if (m->probes[i].rk == NULL)
			return KAFKA_ERR; /* errbuf: probe_new's reason */
		at[i] = &m->probes[i];
	}
	return 0;
}

/* Marks in ready[] (bit k: w[k]) what answer says of each want; why: the
 * first that is not ready, and why. */
static void wants_ready(const struct rd_kafka_metadata *answer, const struct kafka_topic_want *w,
                        size_t n, uint64_t *ready, char *why, size_t why_size)
{
	for (size_t k = 0; k < n; k++) {
		char r[200];

		if (*ready & (UINT64_C(1) << k))
			continue;
		if (kafka_metadata_topic_ready(answer, w[k].topic, w[k].partitions, r, sizeof(r)))
			*ready |= UINT64_C(1) << k;
		else if (why[0] == '\0')
			snprintf(why, why_size, "topic \"%s\": %s", w[k].topic, r);
	}
}

/* A wait in progress: what each round needs. */
struct wait_state {
	struct kafka_meta *m;
	const struct kafka_config *kc;
	const struct rd_kafka_metadata *cluster;
	struct meta_probe **probe; /* probe[i]: cluster->brokers[i]'s */
	const struct kafka_topic_want *w;
	size_t n;
	uint64_t *ready; /* ready[i]: bit k when broker i reported w[k] ready */
	int64_t deadline;
	char *why;
	size_t why_size;
};

/* p answered for another broker (its connection to its own broker went,
 * a broker closes idle connections after 10 minutes, and librdkafka
 * reconnected it to any broker it knew): made again, so that its next
 * request goes to its own broker; a kept probe that drifted would leave
 * that broker unasked for good. */
static void probe_renew(struct wait_state *ws, struct meta_probe *p)
{
	char es[256];

	if (p->rk == ws->m->rk)
		return; /* the client's own handle (one broker): not ours to remake */

	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	p->rk = probe_new(ws->kc, p->addr, es, sizeof(es));
	if (p->rk == NULL)
		snprintf(ws->why, ws->why_size, "%s", es);
	pthread_mutex_lock(&ws->m->mu);
	ws->m->stats.probes_made++;
	pthread_mutex_unlock(&ws->m->mu);
}

/* One round: each broker not yet ready for every want asked once (an
 * all-topics request of its probe). Returns how many brokers are ready
 * for all of them; ws->why: the last reason one was not. */
static int wait_round(struct wait_state *ws)
{
	const struct rd_kafka_metadata *cluster = ws->cluster;
	uint64_t all = ws->n == 64 ? UINT64_MAX : (UINT64_C(1) << ws->n) - 1;
	int done = 0;

	for (int i = 0; i < cluster->broker_cnt; i++) {
		const struct rd_kafka_metadata *md = NULL;
		struct meta_probe *p = ws->probe[i];
		int64_t remain_ms = ws->deadline - clock_mono_ms();
		rd_kafka_resp_err_t err;

		if (ws->ready[i] == all || remain_ms <= 0)
			continue;
		if (p->rk == NULL) { /* a renewal that failed: again */
			probe_renew(ws, p);
			if (p->rk == NULL)
				continue;
		}
		err = rd_kafka_metadata(p->rk, 1, NULL, &md,
		                        remain_ms < 2000 ? (int)remain_ms : 2000);
		/* Nobody polls a probe: its error events would pile up. */
		kafka_take_security_error(p->rk, NULL, 0);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(ws->why, ws->why_size, "broker %d: %s", cluster->brokers[i].id,
			         rd_kafka_err2name(err));
			continue;
		}
		/* Counted for the broker that answered, whichever it is; the
		 * one broker of a cluster of one whatever name it answered by
		 * (rk's bootstrap may name it otherwise than it advertises). */
		int j = kafka_metadata_answerer(cluster, md);
		if (j < 0 && cluster->broker_cnt == 1)
			j = 0;
		if (j >= 0) {
			char r[256] = "";

			wants_ready(md, ws->w, ws->n, &ws->ready[j], r, sizeof(r));
			if (ws->ready[j] != all)
				snprintf(ws->why, ws->why_size, "broker %d: %s",
				         cluster->brokers[j].id, r);
		}
		rd_kafka_metadata_destroy(md);
		if (j != i)
			probe_renew(ws, p);
	}
	for (int i = 0; i < cluster->broker_cnt; i++)
		done += ws->ready[i] == all;
	return done;
}

/* Sets each want's ready from the brokers' bits: ready on all of them. */
static void wants_settle(struct kafka_topic_want *w, size_t n, const uint64_t *ready, int brokers)
{
	for (size_t k = 0; k < n; k++) {
		w[k].ready = 1;
		for (int i = 0; i < brokers; i++)
			if (!(ready[i] & (UINT64_C(1) << k)))
				w[k].ready = 0;
	}
}

int kafka_meta_wait(struct kafka_meta *m, const struct kafka_config *kc, struct kafka_topic_want *w,
                    size_t n, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct meta_probe *probe[KAFKA_WAIT_BROKERS_MAX];
	uint64_t ready[KAFKA_WAIT_BROKERS_MAX] = {0};
	struct meta_answer *a = NULL;
	struct meta_probe one;
	const struct rd_kafka_metadata *cluster;
	char why[512] = "no answer", what[300];
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int brokers, backoff_ms = KAFKA_WAIT_FIRST_NAP_MS, rc = KAFKA_ERR;

	for (size_t k = 0; k < n; k++)
		w[k].ready = 0;
	if (n == 0)
		return 0;
	if (n == 1)
		snprintf(what, sizeof(what), "topic \"%s\" on every broker", w[0].topic);
	else
		snprintf(what, sizeof(what), "%zu topics on every broker", n);
	if (n > KAFKA_WAIT_TOPICS_MAX)
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: at most %d at once",
		               what, KAFKA_WAIT_TOPICS_MAX);
	/* The brokers, from a shared answer: a broker list a second old is
	 * as good as a new one (a broker that joined since gets no data of
	 * these topics yet). */
	if (meta_get(m, timeout_ms, 0, what, &a, errbuf, errbuf_size) < 0)
		return KAFKA_ERR;
	cluster = a->md;
	brokers = cluster->broker_cnt;
	if (brokers > KAFKA_WAIT_BROKERS_MAX) {
		meta_put(m, a);
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %d brokers, at most %d",
		               what, brokers, KAFKA_WAIT_BROKERS_MAX);
	}
	pthread_mutex_lock(&m->probes_mu);
	if (brokers == 1) {
		/* One broker: rk itself can only ask it; no probe needed. */
		one.rk = m->rk;
		broker_addr(&cluster->brokers[0], one.addr, sizeof(one.addr));
		probe[0] = &one;
		probes_close(m);
	} else if (probes_sync(m, kc, cluster, probe, errbuf, errbuf_size) < 0) {
		goto done;
	}
	struct wait_state ws = {m, kc, cluster, probe, w, n, ready, deadline, why, sizeof(why)};
	for (;;) {
		int done = wait_round(&ws);
		int64_t remain_ms;

		if (done == brokers)
			break;
		remain_ms = deadline - clock_mono_ms();
		if (remain_ms <= 0) {
			err_set(
			    errbuf, errbuf_size, KAFKA_ERR,
			    "kafka: %s: not ready within %d ms (%d of %d brokers; %s) (TIMED_OUT)",
			    what, timeout_ms, done, brokers, why);
			goto done;
		}
		int64_t nap = remain_ms < backoff_ms ? remain_ms : backoff_ms;
		struct timespec ts = {(time_t)(nap / 1000), (long)(nap % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		backoff_ms =
		    backoff_ms * 2 > KAFKA_WAIT_MAX_NAP_MS ? KAFKA_WAIT_MAX_NAP_MS : backoff_ms * 2;
	}
	rc = 0;
done:
	wants_settle(w, n, ready, brokers);
	pthread_mutex_unlock(&m->probes_mu);
	meta_put(m, a);
	return rc;
}

int kafka_topic_wait(rd_kafka_t *rk, const struct kafka_config *kc, const char *topic,
                     int partitions, int timeout_ms, char *errbuf, size_t errbuf_size)
{
	struct kafka_topic_want w = {.topic = topic, .partitions = partitions};
	struct kafka_meta *m = kafka_meta_new(rk, 0);
	int rc;

	if (m == NULL)
		return err_set(errbuf, errbuf_size, KAFKA_ERR,
		               "kafka: topic \"%s\" on every broker: out of memory", topic);
	rc = kafka_meta_wait(m, kc, &w, 1, timeout_ms, errbuf, errbuf_size);
	kafka_meta_free(m);
	return rc;
}
