/*
 * kafka.c - librdkafka set-up shared by every Sluice client. See kafka.h for
 * the settings and why each is chosen.
 */
#include "kafka.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_thread.h"
#include "log.h"
#include "version.h"
#include "err.h"

const char *kafka_strerror(char *buf, size_t size, rd_kafka_resp_err_t err)
{
	snprintf(buf, size, "%s (%s)", rd_kafka_err2str(err), rd_kafka_err2name(err));
	return buf;
}

int kafka_fail(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_resp_err_t err)
{
	char text[256];

	return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s", what,
	               kafka_strerror(text, sizeof(text), err));
}

int kafka_fail_error(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_error_t *error)
{
	if (error == NULL)
		return 0;
	err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %s (%s)", what,
	        rd_kafka_error_string(error), rd_kafka_error_name(error));
	rd_kafka_error_destroy(error);
	return KAFKA_ERR;
}

int kafka_fatal(rd_kafka_t *rk, char *errbuf, size_t errbuf_size)
{
	char reason[512];
	rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, reason, sizeof(reason));

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: fatal error: %s (%s)", reason,
	        rd_kafka_err2name(err));
	return 1;
}

const char *kafka_source(char *buf, size_t size, const char *topic, int32_t partition,
                         int64_t offset)
{
	if (offset < 0)
		snprintf(buf, size, "%s/%" PRId32 "/-", topic, partition);
	else
		snprintf(buf, size, "%s/%" PRId32 "/%" PRId64, topic, partition, offset);
	return buf;
}

/* librdkafka's levels are syslog's: 0 emerg .. 7 debug. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum log_level l = level <= 3   ? LOG_LEVEL_ERROR
	                   : level == 4 ? LOG_LEVEL_WARN
	                   : level <= 6 ? LOG_LEVEL_INFO
	                                : LOG_LEVEL_DEBUG;

	log_msg(l, buf, "kafka_fac", fac, "client", rd_kafka_name(rk), NULL);
}

/* Most errors here are transient (a broker went away, a connection was
 * refused) and librdkafka recovers by itself; they are worth a line, not
 * an action. ALL_BROKERS_DOWN and fatal errors are logged as errors. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)err;
	int severe = e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;

	log_msg(severe ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "kafka client error", "client",
	        rd_kafka_name(rk), "error", rd_kafka_err2name(e), "reason", reason, NULL);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errbuf,
                    size_t errbuf_size)
{
	char es[512];

	if (rd_kafka_conf_set(conf, name, value, es, sizeof(es)) != RD_KAFKA_CONF_OK)
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s=%s: %s", name, value, es);
	return 0;
}

static int conf_set_all(rd_kafka_conf_t *conf, const char *const *pairs, char *errbuf,
                        size_t errbuf_size)
{
	for (size_t i = 0; pairs != NULL && pairs[i] != NULL; i += 2) {
		if (pairs[i + 1] == NULL)
			return err_set(errbuf, errbuf_size, KAFKA_ERR,
			               "kafka: %s: property without a value", pairs[i]);
		if (conf_set(conf, pairs[i], pairs[i + 1], errbuf, errbuf_size) < 0)
			return KAFKA_ERR;
	}
	return 0;
}

/* The settings every client shares. */
static rd_kafka_conf_t *conf_common(const struct kafka_config *kc, void *opaque, char *errbuf,
                                    size_t errbuf_size)
{
	rd_kafka_conf_t *conf;

	if (kc->bootstrap == NULL || kc->bootstrap[0] == '\0') {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: bootstrap.servers: required");
		return NULL;
	}
	if (kc->client_id == NULL || kc->client_id[0] == '\0') {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: client.id: required");
		return NULL;
	}
	conf = rd_kafka_conf_new();
	if (conf == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: cannot allocate a configuration");
		return NULL;
	}
	/* clang-format off */
	const char *const pairs[] = {
	    "bootstrap.servers",       kc->bootstrap,
	    "client.id",               kc->client_id,
	    "client.software.name",    "sluice",
	    "client.software.version", SLUICE_VERSION,
	    "statistics.interval.ms",  "0",
	    "log.connection.close",    "false",
	    NULL,
	};
	/* clang-format on */
	if (conf_set_all(conf, pairs, errbuf, errbuf_size) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, opaque);
	return conf;
}

/* rd_kafka_new takes conf on success only. */
static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                              const struct kafka_config *kc, char *errbuf, size_t errbuf_size)
{
	char es[512];
	rd_kafka_t *rk;

	if (conf_set_all(conf, kc->extra, errbuf, errbuf_size) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(type, conf, es, sizeof(es));
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: cannot create a %s: %s",
		        type == RD_KAFKA_CONSUMER ? "consumer" : "producer", es);
	}
	return rk;
}

rd_kafka_t *kafka_consumer_new(const struct kafka_config *kc, kafka_rebalance_fn rebalance,
                               void *opaque, char *errbuf, size_t errbuf_size)
{
	char session[24], heartbeat[24];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;

	if (kc->group == NULL || kc->group[0] == '\0') {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: group.id: required for a consumer");
		return NULL;
	}
	conf = conf_common(kc, opaque, errbuf, errbuf_size);
	if (conf == NULL)
		return NULL;
	char prefetch_messages[16], prefetch_kbytes[16];
	snprintf(prefetch_messages, sizeof(prefetch_messages), "%d", KAFKA_PREFETCH_MESSAGES);
	snprintf(prefetch_kbytes, sizeof(prefetch_kbytes), "%d", KAFKA_PREFETCH_KBYTES);
	/* clang-format off */
	const char *const pairs[] = {
	    "group.id",                      kc->group,
	    "enable.auto.commit",            "false",
	    "enable.auto.offset.store",      "false",
	    "auto.offset.reset",             "earliest",
	    "partition.assignment.strategy", "range",
	    "isolation.level",               "read_committed",
	    "enable.partition.eof",          "false",
	    "queued.min.messages",           prefetch_messages,
	    "queued.max.messages.kbytes",    prefetch_kbytes,
	    NULL,
	};
	/* clang-format on */
	if (conf_set_all(conf, pairs, errbuf, errbuf_size) < 0)
		goto fail;
	if (kc->session_timeout_ms > 0) {
		/* A third of the session, as Kafka advises, at most librdkafka's
		 * default of 3 s. */
		int hb = kc->session_timeout_ms / 3;
		if (hb > 3000)
			hb = 3000;
		if (hb < 100)
			hb = 100;
		snprintf(session, sizeof(session), "%d", kc->session_timeout_ms);
		snprintf(heartbeat, sizeof(heartbeat), "%d", hb);
		if (conf_set(conf, "session.timeout.ms", session, errbuf, errbuf_size) < 0 ||
		    conf_set(conf, "heartbeat.interval.ms", heartbeat, errbuf, errbuf_size) < 0)
			goto fail;
	}
	if (rebalance != NULL)
		rd_kafka_conf_set_rebalance_cb(conf, rebalance);
	rk = client_new(RD_KAFKA_CONSUMER, conf, kc, errbuf, errbuf_size);
	if (rk == NULL)
		return NULL;
	/* Serve every callback from rd_kafka_consumer_poll, on one queue. */
	rd_kafka_resp_err_t err = rd_kafka_poll_set_consumer(rk);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, "poll_set_consumer", err);
		rd_kafka_destroy(rk);
		return NULL;
	}
	return rk;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

rd_kafka_t *kafka_producer_new(const struct kafka_config *kc, kafka_delivery_fn delivery,
                               void *opaque, char *errbuf, size_t errbuf_size)
{
	rd_kafka_conf_t *conf = conf_common(kc, opaque, errbuf, errbuf_size);

	if (conf == NULL)
		return NULL;
	/* clang-format off */
	const char *const pairs[] = {
	    "acks",               "all",
	    "enable.idempotence", "true",
	    "partitioner",        "murmur2_random",
	    NULL,
	};
	/* clang-format on */
	if (conf_set_all(conf, pairs, errbuf, errbuf_size) < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (delivery != NULL)
		rd_kafka_conf_set_dr_msg_cb(conf, delivery);
	return client_new(RD_KAFKA_PRODUCER, conf, kc, errbuf, errbuf_size);
}

int kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions, int replication,
                       int timeout_ms, char *errbuf, size_t errbuf_size)
{
	char es[512];
	rd_kafka_NewTopic_t *nt;
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	int rc = KAFKA_ERR;

	nt = rd_kafka_NewTopic_new(topic, partitions, replication, es, sizeof(es));
	if (nt == NULL)
		return err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s",
		               topic, es);
	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (opts == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": cannot allocate admin options", topic);
		goto done;
	}
	if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, es, sizeof(es)) ||
	    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, es, sizeof(es))) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s", topic,
		        es);
		goto done;
	}
	q = rd_kafka_queue_new(rk);
	if (q == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": cannot allocate a queue", topic);
		goto done;
	}
	rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
	/* The request times out by itself after timeout_ms; the margin only
	 * covers the result's trip back. */
	ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
	if (ev == NULL) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": no answer within %d ms", topic, timeout_ms);
		goto done;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s (%s)",
		        topic, rd_kafka_event_error_string(ev),
		        rd_kafka_err2name(rd_kafka_event_error(ev)));
		goto done;
	}
	const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
	size_t n = 0;
	const rd_kafka_topic_result_t **tr =
	    res != NULL ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
	if (tr == NULL || n != 1) {
		err_set(errbuf, errbuf_size, KAFKA_ERR,
		        "kafka: create topic \"%s\": unexpected answer", topic);
		goto done;
	}
	rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[0]);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		rc = 0;
	} else {
		char text[256];
		const char *detail = rd_kafka_topic_result_error_string(tr[0]);
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: create topic \"%s\": %s: %s", topic,
		        kafka_strerror(text, sizeof(text), err), detail != NULL ? detail : "");
	}
done:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

int kafka_topic_describe(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions,
                         int *replication, char *errbuf, size_t errbuf_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	char what[300];
	int rc = KAFKA_ERR;

	snprintf(what, sizeof(what), "metadata of topic \"%s\"", topic);
	if (rkt == NULL)
		return kafka_fail(errbuf, errbuf_size, what, rd_kafka_last_error());
	err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, what, err);
		goto done;
	}
	if (md->topic_cnt != 1) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: %d topics in the answer", what,
		        md->topic_cnt);
		goto done;
	}
	if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_fail(errbuf, errbuf_size, what, md->topics[0].err);
		goto done;
	}
	if (md->topics[0].partition_cnt < 1) {
		err_set(errbuf, errbuf_size, KAFKA_ERR, "kafka: %s: no partitions", what);
		goto done;
	}
	*partitions = md->topics[0].partition_cnt;
	*replication = md->topics[0].partitions[0].replica_cnt;
	rc = 0;
done:
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return rc;
}

static int cooperative(rd_kafka_t *rk)
{
	return strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

int kafka_rebalance_assign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions,
                           char *errbuf, size_t errbuf_size)
{
	if (cooperative(rk))
		return kafka_fail_error(errbuf, errbuf_size, "incremental assign",
		                        rd_kafka_incremental_assign(rk, partitions));
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, partitions);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0
	                                         : kafka_fail(errbuf, errbuf_size, "assign", err);
}

int kafka_rebalance_revoke(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions,
                           char *errbuf, size_t errbuf_size)
{
	if (cooperative(rk))
		return kafka_fail_error(errbuf, errbuf_size, "incremental unassign",
		                        rd_kafka_incremental_unassign(rk, partitions));
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, NULL);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0
	                                         : kafka_fail(errbuf, errbuf_size, "unassign", err);
}

int kafka_wake_fetcher(rd_kafka_t *consumer, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t err = rd_kafka_assignment(consumer, &parts);

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) {
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* the latest offset */
		err = rd_kafka_offsets_for_times(consumer, parts, timeout_ms);
	}
	if (parts != NULL)
		rd_kafka_topic_partition_list_destroy(parts);
	return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : KAFKA_ERR;
}

struct kafka_waker {
	rd_kafka_t *consumer;
	int timeout_ms, fail_ms;
	struct bg_thread bg;
	int requested, busy; /* under bg.mu */
};

static void *waker_main(void *arg)
{
	struct kafka_waker *w = arg;

	pthread_mutex_lock(&w->bg.mu);
	for (;;) {
		while (!w->requested && !w->bg.stop)
			pthread_cond_wait(&w->bg.cond, &w->bg.mu);
		if (w->bg.stop)
			break;
		w->requested = 0;
		pthread_mutex_unlock(&w->bg.mu);
		int failed = kafka_wake_fetcher(w->consumer, w->timeout_ms) != 0;
		pthread_mutex_lock(&w->bg.mu);
		/* A broker that does not answer is not asked again at once. */
		if (failed && bg_thread_sleep_ms(&w->bg, w->fail_ms))
			break;
		w->busy = 0;
	}
	pthread_mutex_unlock(&w->bg.mu);
	return NULL;
}

struct kafka_waker *kafka_waker_new(rd_kafka_t *consumer, int timeout_ms, int fail_ms, char *errbuf,
                                    size_t errbuf_size)
{
	struct kafka_waker *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(errbuf, errbuf_size, "kafka: fetcher waker: out of memory");
		return NULL;
	}
	w->consumer = consumer;
	w->timeout_ms = timeout_ms;
	w->fail_ms = fail_ms;
	if (bg_thread_start(&w->bg, waker_main, w, "kafka: fetcher waker", errbuf, errbuf_size) <
	    0) {
		free(w);
		return NULL;
	}
	return w;
}

int kafka_waker_poke(struct kafka_waker *w)
{
	int started = 0;

	pthread_mutex_lock(&w->bg.mu);
	if (!w->busy && !w->bg.stop) {
		w->busy = w->requested = 1;
		pthread_cond_broadcast(&w->bg.cond);
		started = 1;
	}
	pthread_mutex_unlock(&w->bg.mu);
	return started;
}

void kafka_waker_free(struct kafka_waker *w)
{
	if (w == NULL)
		return;
	bg_thread_stop(&w->bg);
	free(w);
}

/* The loop fills `filling`; full slices wait in `full` (at most
 * REAPER_QUEUED) for the reaper thread, which destroys them and puts the
 * emptied arrays in `spare`. The reaper yields a core to the loop
 * (bg_thread) and so falls behind it by bursts: a few slices may wait
 * before the loop does. */
#define REAPER_QUEUED 6
struct reaper_slice {
	rd_kafka_message_t *m[KAFKA_REAPER_SLICE];
	size_t n;
};

struct kafka_reaper {
	struct bg_thread bg;
	struct reaper_slice *filling; /* the loop's own, no lock */
	struct reaper_slice *full[REAPER_QUEUED], *spare[REAPER_QUEUED + 1]; /* under bg.mu */
	size_t nfull, nspare;
	int busy; /* under bg.mu: the thread is destroying a slice */
};

static void *reaper_main(void *arg)
{
	struct kafka_reaper *r = arg;

	pthread_mutex_lock(&r->bg.mu);
	for (;;) {
		while (r->nfull == 0 && !r->bg.stop)
			pthread_cond_wait(&r->bg.cond, &r->bg.mu);
		if (r->nfull == 0)
			break; /* stopping and nothing left */
		struct reaper_slice *sl = r->full[0];
		memmove(&r->full[0], &r->full[1], (r->nfull - 1) * sizeof(r->full[0]));
		r->nfull--;
		r->busy = 1;
		pthread_mutex_unlock(&r->bg.mu);
		for (size_t i = 0; i < sl->n; i++)
			rd_kafka_message_destroy(sl->m[i]);
		sl->n = 0;
		pthread_mutex_lock(&r->bg.mu);
		r->spare[r->nspare++] = sl;
		r->busy = 0;
		pthread_cond_broadcast(&r->bg.cond);
	}
	pthread_mutex_unlock(&r->bg.mu);
	return NULL;
}

/* Frees the slices of a reaper whose thread is not running. */
static void reaper_free_slices(struct kafka_reaper *r)
{
	free(r->filling);
	for (size_t i = 0; i < r->nspare; i++)
		free(r->spare[i]);
	free(r);
}

struct kafka_reaper *kafka_reaper_new(char *errbuf, size_t errbuf_size)
{
	struct kafka_reaper *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(errbuf, errbuf_size, "kafka: message reaper: out of memory");
		return NULL;
	}
	/* One filling, REAPER_QUEUED waiting, one being destroyed. */
	r->filling = calloc(1, sizeof(*r->filling));
	for (size_t i = 0; i < REAPER_QUEUED + 1; i++)
		if ((r->spare[i] = calloc(1, sizeof(*r->spare[i]))) != NULL)
			r->nspare++;
	if (r->filling == NULL || r->nspare < REAPER_QUEUED + 1) {
		snprintf(errbuf, errbuf_size, "kafka: message reaper: out of memory");
		reaper_free_slices(r);
		return NULL;
	}
	if (bg_thread_start(&r->bg, reaper_main, r, "kafka: message reaper", errbuf, errbuf_size) <
	    0) {
		reaper_free_slices(r);
		return NULL;
	}
	return r;
}

/* Hands the filling slice to the thread (waiting while REAPER_QUEUED are
 * queued) and takes a spare one. */
static void reaper_hand_over(struct kafka_reaper *r)
{
	pthread_mutex_lock(&r->bg.mu);
	while (r->nfull == REAPER_QUEUED || r->nspare == 0)
		pthread_cond_wait(&r->bg.cond, &r->bg.mu);
	r->full[r->nfull++] = r->filling;
	r->filling = r->spare[--r->nspare];
	pthread_cond_broadcast(&r->bg.cond);
	pthread_mutex_unlock(&r->bg.mu);
}

void kafka_reaper_put(struct kafka_reaper *r, rd_kafka_message_t *m)
{
	r->filling->m[r->filling->n++] = m;
	if (r->filling->n == KAFKA_REAPER_SLICE)
		reaper_hand_over(r);
}

void kafka_reaper_flush(struct kafka_reaper *r)
{
	if (r->filling->n > 0)
		reaper_hand_over(r);
}

void kafka_reaper_drain(struct kafka_reaper *r)
{
	kafka_reaper_flush(r);
	pthread_mutex_lock(&r->bg.mu);
	while (r->nfull > 0 || r->busy)
		pthread_cond_wait(&r->bg.cond, &r->bg.mu);
	pthread_mutex_unlock(&r->bg.mu);
}

void kafka_reaper_free(struct kafka_reaper *r)
{
	if (r == NULL)
		return;
	kafka_reaper_drain(r);
	bg_thread_stop(&r->bg);
	reaper_free_slices(r);
}
