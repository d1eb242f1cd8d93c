/* telemetry.c -- the telemetry worker's loop: Kafka in, stream core, sinks
 * out, offsets committed behind the sinks. See telemetry.h for the flow and
 * docs/telemetry-worker.md for what it guarantees.
 *
 * The order of a flush is the whole delivery story, so here it is once:
 *
 *   1. cut: freeze the rows and raw events held (rowbuf) and take every
 *      assigned partition's checkpoint (tw_core_checkpoint) at that same
 *      moment, so the checkpoint covers exactly what the batch holds;
 *   2. write the frozen batch to every sink not yet done with it; a sink
 *      that asks for a retry gets the same batch again after a backoff,
 *      while consumption goes on behind it up to buffer_max and then
 *      pauses; a sink that rejects it has the batch dead-lettered;
 *   3. wait until every dead letter produced so far is delivered, so no
 *      commit moves past a message whose dead letter could still be lost;
 *   4. commit each partition's checkpoint offset with its metadata text,
 *      synchronously, and release the batch.
 *
 * A crash anywhere before 4 replays from the previous commit, and the
 * replay gives the same rows (docs/telemetry-semantics.md): sinks upsert.
 */
#include "telemetry.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dead_letter.h"
#include "kafka.h"
#include "log.h"
#include "rowbuf.h"
#include "signals.h"
#include "sink_runner.h"
#include "tw_core.h"
#include "tw_parse.h"
#include "tw_progress.h"
#include "tw_report.h"
#include "tw_sink.h"
#include "tw_spec.h"
#include "tw_time.h"
#include "tw_window.h"
#include "clock.h"

/* tw_sinks_new makes at most three; one more health slot for the
 * dead-letter producer. */
#define SINKS_MAX 3
#define HEALTH_SLOTS (SINKS_MAX + 1)

/* Housekeeping periods. The idle tick is the granularity of
 * window.idleTimeout; lag is read from librdkafka's cached watermarks. */
#define TICK_MS 1000
#define LAG_MS 5000
/* Counters reach /metrics this often: a scrape (or the benchmark, which
 * times a run by them) is at most this stale. A sync is a few dozen
 * locked additions. */
#define METRICS_SYNC_MS 20
#define PRODUCER_POLL_MS 50
/* A poll never sleeps longer, so a stop request is seen quickly. */
#define POLL_MAX_MS 100
/* Messages taken from the queue between two turns of the loop's
 * housekeeping: a quarter of a millisecond of work. */
#define POLL_BURST 256
/* Fetcher wake-ups (wake_fetcher): at most one per WAKE_MS and one at a
 * time, each waiting at most WAKE_TIMEOUT_MS for the brokers' answers (on
 * the waker's thread), and a second after a failed one. */
#define WAKE_MS 2
#define WAKE_TIMEOUT_MS 500
#define WAKE_FAILED_MS 1000
/* How long one wait for dead-letter delivery may block the loop before
 * the flush is retried like a sink's. */
#define DLQ_FLUSH_MS 2000
/* A full producer queue: how long to keep polling before giving up. */
#define DLQ_QUEUE_FULL_MS 60000
/* Reading committed offsets on assignment. */
#define COMMITTED_TIMEOUT_MS 10000
#define COMMITTED_TRIES 3
/* Repeated failures of one sink are logged at most this often. */
#define FAILURE_LOG_MS 10000
/* ... and those of the status Redis. */
#define REPORT_LOG_MS 30000

/* Malformed reasons, as metric labels, by -tw_event_error (and range). */
static const char *const malformed_names[] = {"other",     "syntax",   "missing", "type",
                                              "timestamp", "too_long", "range"};
#define MALFORMED_RANGE 6
#define MALFORMED_KINDS 7

/* Dead-letter kinds, as metric labels and in the delivery opaque. */
enum dlq_kind { DLQ_MALFORMED, DLQ_LATE, DLQ_OVERFLOW, DLQ_REJECTED, DLQ_KINDS };
static const char *const dlq_kind_names[] = {DLQ_KIND_MALFORMED, DLQ_KIND_LATE, DLQ_KIND_OVERFLOW,
                                             DLQ_KIND_REJECTED};

/* What /healthz and /readyz read, from the HTTP thread, under mu. */
struct health {
	pthread_mutex_t mu;
	size_t n;
	const char *names[HEALTH_SLOTS];
	int64_t failing_since_ms[HEALTH_SLOTS]; /* 0: healthy */
	char last_error[HEALTH_SLOTS][256];
	int ready;
	char fatal[512]; /* non-empty: a fatal error stops the worker */
};

/* One assigned partition, loop side (the core holds the stream state). */
struct part {
	int32_t partition;
	int64_t committed_offset; /* RD_KAFKA_OFFSET_INVALID: none */
	char committed_meta[TW_CHECKPOINT_TEXT_MAX];
	int64_t lag; /* -1: unknown */
};

struct pending_cp {
	int32_t partition;
	struct tw_checkpoint cp;
};

struct tmetrics {
	struct metrics_family *events_in, *duplicates, *late, *partial_late, *replayed, *overflow,
	    *malformed, *windows, *dlq, *batches, *commits, *commit_errors, *sink_up, *lag,
	    *watermark, *assigned, *paused, *pending, *status_errors, *fetch_wakeups;
};

struct telemetry {
	struct telemetry_options opt;
	struct tw_spec spec;
	char resource[512];
	char client_id[300];
	struct tw_parser *parser;
	struct tw_core *core;
	struct tw_sink **sinks;
	size_t nsinks;
	int raw; /* keep raw events for InfluxDB */
	/* Progress to the status Redis (tw_report.h); NULL: none configured. */
	struct tw_report *report;
	int64_t last_report_log;
	uint64_t report_errors_synced;

	rd_kafka_t *consumer, *producer;
	int closed; /* the consumer left the group */

	struct rowbuf rows;
	struct sink_runner *runners[SINKS_MAX]; /* each sink's thread */
	unsigned trim_due;                      /* bit per sink: retention trim to start */
	struct {
		int active;                       /* a batch is frozen */
		int attempting;                   /* its writes were started and are not all back */
		int failed;                       /* ... and one of them failed */
		unsigned acked, started, running; /* bits per sink */
		unsigned attempt;
		int64_t retry_at, frozen_at, retry_after;
		struct pending_cp *cps;
		size_t ncps, cap;
	} fl;

	struct part *parts;
	size_t nparts, cap_parts;
	int paused;
	int64_t paused_since; /* mono ms when consumption was paused */
	/* Time the loop was not reading: paused, or blocked writing to the
	 * sinks. The core's processing clock leaves it out (core_now). */
	int64_t stall_ms;

	int64_t last_cut, last_tick, last_trim, last_lag, last_sync, last_ppoll, last_wake;
	rd_kafka_queue_t *queue;                 /* the consumer's: its length is the prefetch */
	struct kafka_waker *waker;               /* wake_fetcher's requests, on their own thread */
	struct kafka_reaper *reaper;             /* destroys consumed messages, off the loop */
	size_t queued_at_wake, taken_since_wake; /* wake_fetcher's last look, and since */
	uint64_t wakes, wakes_synced;
	int64_t last_fail_log[HEALTH_SLOTS];

	struct telemetry_counters c, synced;
	uint64_t malformed_by[MALFORMED_KINDS], malformed_synced[MALFORMED_KINDS];
	uint64_t dlq_by[DLQ_KINDS], dlq_synced[DLQ_KINDS];
	uint64_t commit_errors, commit_errors_synced;
	int metrics_warned;

	struct metrics_registry *reg;
	struct tmetrics m;
	struct health h;
	int fatal;
	unsigned rng;
};

/* ==== small helpers ==== */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The processing time the core sees (window.idleTimeout): the monotonic
 * clock minus the time the loop was not reading its partitions. A
 * partition is idle when its producers are quiet, not while this worker
 * waits for a sink: counting that wait would advance the watermark over
 * events still unread in Kafka and turn them late.
 */
static int64_t core_now(const struct telemetry *t)
{
	return (t->paused ? t->paused_since : mono_ms()) - t->stall_ms;
}

static const char *i64(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%" PRId64, v);
	return buf;
}

static const char *u64(char *buf, size_t size, uint64_t v)
{
	snprintf(buf, size, "%" PRIu64, v);
	return buf;
}

/* A stop that no flush can fix: logged once, shown by /healthz, and the
 * loop exits without committing anything more. */
static void set_fatal(struct telemetry *t, const char *what, const char *detail)
{
	if (t->fatal)
		return;
	t->fatal = 1;
	log_error("fatal error: stopping without committing further", "resource", t->resource,
	          "what", what, "error", detail, NULL);
	pthread_mutex_lock(&t->h.mu);
	snprintf(t->h.fatal, sizeof(t->h.fatal), "%s: %s", what, detail);
	pthread_mutex_unlock(&t->h.mu);
}

static void madd(struct telemetry *t, struct metrics_family *f, const char *const labels[],
                 double v)
{
	if (f != NULL && v > 0 && metrics_add(f, labels, v) < 0 && !t->metrics_warned) {
		t->metrics_warned = 1;
		log_warn("cannot update a metric (further failures are not logged)", NULL);
	}
}

static void mset(struct telemetry *t, struct metrics_family *f, const char *const labels[],
                 double v)
{
	if (f != NULL && metrics_set(f, labels, v) < 0 && !t->metrics_warned) {
		t->metrics_warned = 1;
		log_warn("cannot update a metric (further failures are not logged)", NULL);
	}
}

void telemetry_options_default(struct telemetry_options *o)
{
	memset(o, 0, sizeof(*o));
	o->flush_interval_ms = 500;
	o->flush_rows = 2000;
	o->buffer_max = 20000;
	o->unhealthy_after_ms = 60000;
	o->session_timeout_ms = 0;
	o->shutdown_timeout_ms = 20000;
	o->retry_max_ms = 30000;
	o->trim_interval_ms = 60000;
	o->create_dlq_topic = 1;
}

int64_t telemetry_backoff_ms(unsigned attempt, int64_t retry_after_ms, int64_t cap_ms,
                             double jitter)
{
	int64_t d = 100;

	if (retry_after_ms > 0)
		return retry_after_ms < 300000 ? retry_after_ms : 300000;
	if (cap_ms < 100)
		cap_ms = 100;
	for (unsigned i = 1; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (!(jitter >= 0 && jitter < 1))
		jitter = 0;
	return d / 2 + (int64_t)((double)(d - d / 2) * jitter);
}

/* ==== health ==== */

static void health_ok(struct telemetry *t, size_t slot)
{
	pthread_mutex_lock(&t->h.mu);
	int was = t->h.failing_since_ms[slot] != 0;
	t->h.failing_since_ms[slot] = 0;
	pthread_mutex_unlock(&t->h.mu);
	if (was) {
		log_info("sink recovered", "resource", t->resource, "sink", t->h.names[slot], NULL);
		t->last_fail_log[slot] = 0;
	}
	if (slot < t->nsinks)
		mset(t, t->m.sink_up, (const char *const[]){t->h.names[slot], NULL}, 1);
}

static void health_failed(struct telemetry *t, size_t slot, int64_t now, const char *error)
{
	pthread_mutex_lock(&t->h.mu);
	if (t->h.failing_since_ms[slot] == 0)
		t->h.failing_since_ms[slot] = now;
	snprintf(t->h.last_error[slot], sizeof(t->h.last_error[slot]), "%s", error);
	pthread_mutex_unlock(&t->h.mu);
	if (slot < t->nsinks)
		mset(t, t->m.sink_up, (const char *const[]){t->h.names[slot], NULL}, 0);
}

int telemetry_healthz(void *arg, char *reason, size_t reason_size)
{
	struct telemetry *t = arg;
	int64_t now = mono_ms();
	int rc = 0;

	pthread_mutex_lock(&t->h.mu);
	if (t->h.fatal[0] != '\0') {
		snprintf(reason, reason_size, "fatal: %s", t->h.fatal);
		rc = 1;
	}
	for (size_t i = 0; rc == 0 && i < t->h.n; i++) {
		int64_t since = t->h.failing_since_ms[i];
		if (since != 0 && now - since > t->opt.unhealthy_after_ms) {
			snprintf(reason, reason_size, "%s has failed for %" PRId64 " s: %s",
			         t->h.names[i], (now - since) / 1000, t->h.last_error[i]);
			rc = 1;
		}
	}
	pthread_mutex_unlock(&t->h.mu);
	return rc;
}

int telemetry_readyz(void *arg, char *reason, size_t reason_size)
{
	struct telemetry *t = arg;
	int ready;

	pthread_mutex_lock(&t->h.mu);
	ready = t->h.ready;
	pthread_mutex_unlock(&t->h.mu);
	if (!ready)
		snprintf(reason, reason_size, "waiting for the first partition assignment");
	return !ready;
}

/* ==== partitions ==== */

static struct part *part_find(struct telemetry *t, int32_t partition)
{
	for (size_t i = 0; i < t->nparts; i++)
		if (t->parts[i].partition == partition)
			return &t->parts[i];
	return NULL;
}

static struct part *part_add(struct telemetry *t, int32_t partition)
{
	struct part *p = part_find(t, partition);

	if (p != NULL)
		return p;
	if (t->nparts == t->cap_parts) {
		size_t ncap = t->cap_parts == 0 ? 16 : t->cap_parts * 2;
		struct part *np = realloc(t->parts, ncap * sizeof(*np));
		if (np == NULL)
			return NULL;
		t->parts = np;
		t->cap_parts = ncap;
	}
	p = &t->parts[t->nparts++];
	memset(p, 0, sizeof(*p));
	p->partition = partition;
	p->committed_offset = RD_KAFKA_OFFSET_INVALID;
	p->lag = -1;
	return p;
}

static void part_remove(struct telemetry *t, int32_t partition)
{
	for (size_t i = 0; i < t->nparts; i++) {
		if (t->parts[i].partition != partition)
			continue;
		t->parts[i] = t->parts[--t->nparts];
		break;
	}
	/* A checkpoint taken for a partition we no longer own must never be
	 * committed: the new owner's commits would be overwritten. */
	for (size_t i = 0; i < t->fl.ncps;) {
		if (t->fl.cps[i].partition == partition)
			t->fl.cps[i] = t->fl.cps[--t->fl.ncps];
		else
			i++;
	}
}

/* Whether partition p's checkpoint cp differs from what was committed. */
static int cp_changed(const struct part *p, const struct tw_checkpoint *cp, char *meta,
                      size_t meta_size)
{
	if (cp->offset == TW_OFFSET_NONE)
		return 0;
	if (tw_checkpoint_format(cp, meta, meta_size) < 0)
		meta[0] = '\0';
	return cp->offset != p->committed_offset || strcmp(meta, p->committed_meta) != 0;
}

static int checkpoints_changed(struct telemetry *t)
{
	char meta[TW_CHECKPOINT_TEXT_MAX];
	struct tw_checkpoint cp;

	for (size_t i = 0; i < t->nparts; i++) {
		if (tw_core_checkpoint(t->core, t->parts[i].partition, &cp) == 0 &&
		    cp_changed(&t->parts[i], &cp, meta, sizeof(meta)))
			return 1;
	}
	return 0;
}

static void pause_partitions(struct telemetry *t, rd_kafka_topic_partition_list_t *list, int pause)
{
	rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(t->consumer, list)
	                                : rd_kafka_resume_partitions(t->consumer, list);
	char text[256];

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn(pause ? "cannot pause partitions" : "cannot resume partitions", "resource",
		         t->resource, "error", kafka_strerror(text, sizeof(text), err), NULL);
	for (int i = 0; i < list->cnt; i++) {
		if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			char src[KAFKA_SOURCE_MAX];
			log_warn(pause ? "cannot pause a partition" : "cannot resume a partition",
			         "source",
			         kafka_source(src, sizeof(src), list->elems[i].topic,
			                      list->elems[i].partition, -1),
			         "error", kafka_strerror(text, sizeof(text), list->elems[i].err),
			         NULL);
		}
	}
}

/* Pauses (or resumes) every assigned partition: the sinks are behind and
 * the buffer behind the batch in flight is full, or the worker is
 * stopping. Pausing drops what librdkafka had prefetched; resuming starts
 * at the next offset not yet returned. */
static void set_paused(struct telemetry *t, int pause, const char *why)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	rd_kafka_resp_err_t err;
	char text[256];

	if (t->paused == pause)
		return;
	err = rd_kafka_assignment(t->consumer, &a);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_warn("cannot read the assignment", "resource", t->resource, "error",
		         kafka_strerror(text, sizeof(text), err), NULL);
		return;
	}
	pause_partitions(t, a, pause);
	rd_kafka_topic_partition_list_destroy(a);
	if (pause)
		t->paused_since = mono_ms();
	else
		t->stall_ms += mono_ms() - t->paused_since;
	t->paused = pause;
	char n[32];
	log_info(pause ? "consumption paused" : "consumption resumed", "resource", t->resource,
	         "reason", why, "rows_waiting", u64(n, sizeof(n), rowbuf_pending(&t->rows)), NULL);
	mset(t, t->m.paused, NULL, pause);
}

/* ==== the rebalance callback ==== */

/* Reads the committed offsets and metadata of parts into parts itself,
 * retrying a few times: without them the checkpoints cannot be restored. */
static int read_committed(struct telemetry *t, rd_kafka_topic_partition_list_t *parts)
{
	char text[256];
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int attempt = 1; attempt <= COMMITTED_TRIES; attempt++) {
		err = rd_kafka_committed(t->consumer, parts, COMMITTED_TIMEOUT_MS);
		int part_err = 0;
		for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < parts->cnt; i++)
			if (parts->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
				err = parts->elems[i].err;
				part_err = 1;
			}
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		char a[16];
		log_warn("cannot read committed offsets", "resource", t->resource, "attempt",
		         i64(a, sizeof(a), attempt), "error",
		         kafka_strerror(text, sizeof(text), err), "scope",
		         part_err ? "partition" : "request", NULL);
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
	}
	set_fatal(t, "read committed offsets", kafka_strerror(text, sizeof(text), err));
	return -1;
}

static void on_assign(struct telemetry *t, rd_kafka_topic_partition_list_t *parts)
{
	char errbuf[512], src[KAFKA_SOURCE_MAX];

	if (parts->cnt > 0 && read_committed(t, parts) < 0) {
		/* Without the commit there is nothing safe to start from; assign
		 * anyway (librdkafka expects it) and let the loop stop. */
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
	}
	for (int i = 0; !t->fatal && i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *e = &parts->elems[i];
		struct tw_checkpoint cp;
		char meta[TW_CHECKPOINT_TEXT_MAX] = "";
		int have_cp = 0;

		if (e->offset >= 0 && e->metadata != NULL && e->metadata_size > 0) {
			size_t n = e->metadata_size < sizeof(meta) - 1 ? e->metadata_size
			                                               : sizeof(meta) - 1;
			memcpy(meta, e->metadata, n);
			meta[n] = '\0';
			if (tw_checkpoint_parse(meta, e->offset, &cp, errbuf, sizeof(errbuf)) == 0)
				have_cp = 1;
			else
				log_warn("committed metadata is not a checkpoint: starting the "
				         "partition's windows afresh at the committed offset",
				         "source",
				         kafka_source(src, sizeof(src), e->topic, e->partition,
				                      e->offset),
				         "metadata", meta, "error", errbuf, NULL);
		}
		if (tw_core_has(t->core, e->partition)) { /* assigned twice: start over */
			(void)tw_core_revoke(t->core, e->partition);
			part_remove(t, e->partition);
			(void)rowbuf_drop_partition(&t->rows, e->partition);
		}
		int rc = tw_core_assign(t->core, e->partition, have_cp ? &cp : NULL, core_now(t));
		struct part *p = rc == 0 ? part_add(t, e->partition) : NULL;
		if (p == NULL) {
			char code[16];
			set_fatal(t, "assign partition",
			          rc == 0 ? "out of memory" : i64(code, sizeof(code), rc));
			break;
		}
		p->committed_offset = e->offset >= 0 ? e->offset : RD_KAFKA_OFFSET_INVALID;
		snprintf(p->committed_meta, sizeof(p->committed_meta), "%s", have_cp ? meta : "");
		log_info("partition assigned", "resource", t->resource, "source",
		         kafka_source(src, sizeof(src), e->topic, e->partition, e->offset),
		         "checkpoint", have_cp ? meta : "none", NULL);
	}
	if (kafka_rebalance_assign(t->consumer, parts, errbuf, sizeof(errbuf)) < 0)
		set_fatal(t, "assign", errbuf);
	/* A partition keeps its paused state across a rebalance in librdkafka:
	 * set it to what the loop wants now. */
	if (parts->cnt > 0)
		pause_partitions(t, parts, t->paused);
	pthread_mutex_lock(&t->h.mu);
	t->h.ready = 1;
	pthread_mutex_unlock(&t->h.mu);
	mset(t, t->m.assigned, NULL, (double)t->nparts);
}

static void on_revoke(struct telemetry *t, rd_kafka_topic_partition_list_t *parts)
{
	char errbuf[512], src[KAFKA_SOURCE_MAX];
	int lost = rd_kafka_assignment_lost(t->consumer);

	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *e = &parts->elems[i];
		/* Open windows are not emitted: the next owner replays them from
		 * the committed offset (docs/telemetry-semantics.md). */
		(void)tw_core_revoke(t->core, e->partition);
		part_remove(t, e->partition);
		tw_report_forget(t->report, e->partition);
		/* Its windows not yet in flight come again from the replay. */
		(void)rowbuf_drop_partition(&t->rows, e->partition);
		if (t->m.lag != NULL) {
			char pn[16];
			mset(t, t->m.lag,
			     (const char *const[]){e->topic, i64(pn, sizeof(pn), e->partition),
			                           NULL},
			     0);
		}
		log_info(lost ? "partition lost" : "partition revoked", "resource", t->resource,
		         "source", kafka_source(src, sizeof(src), e->topic, e->partition, -1),
		         NULL);
	}
	if (kafka_rebalance_revoke(t->consumer, parts, errbuf, sizeof(errbuf)) < 0)
		log_warn("cannot revoke partitions", "resource", t->resource, "error", errbuf,
		         NULL);
	mset(t, t->m.assigned, NULL, (double)t->nparts);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct telemetry *t = opaque;
	char text[256];

	(void)rk;
	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		on_assign(t, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		on_revoke(t, parts);
		break;
	default:
		log_error("rebalance failed: dropping every partition", "resource", t->resource,
		          "error", kafka_strerror(text, sizeof(text), err), NULL);
		on_revoke(t, parts);
		break;
	}
}

/* ==== dead letters ==== */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct telemetry *t = opaque;
	intptr_t kind = (intptr_t)msg->_private;
	char text[256], src[KAFKA_SOURCE_MAX] = "";

	(void)rk;
	if (kind < 0 || kind >= DLQ_KINDS)
		kind = DLQ_MALFORMED;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		t->dlq_by[kind]++;
		t->c.dead_lettered++;
		return;
	}
	/* The producer retries by itself (message.timeout.ms is infinite), so
	 * a failed delivery is permanent: a dead letter is lost, and the only
	 * safe move is not to commit past it. */
	rd_kafka_headers_t *hdrs = NULL;
	const void *v = NULL;
	size_t vlen = 0;
	if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, DLQ_HEADER_SOURCE, &v, &vlen) ==
	        RD_KAFKA_RESP_ERR_NO_ERROR &&
	    v != NULL) {
		snprintf(src, sizeof(src), "%.*s", (int)vlen, (const char *)v);
	}
	log_error("dead letter not delivered", "resource", t->resource, "topic",
	          t->spec.kafka.dead_letter_topic, "source", src, "error",
	          kafka_strerror(text, sizeof(text), msg->err), NULL);
	set_fatal(t, "dead letter not delivered", text);
}

/* Produces one dead letter; the headers are described in dead_letter.h.
 * Returns 0, or -1 after set_fatal. */
static int dlq_send(struct telemetry *t, enum dlq_kind kind, const void *key, size_t key_len,
                    const void *value, size_t value_len, const char *reason, const char *source)
{
	char text[256];
	rd_kafka_resp_err_t err;
	int64_t start = 0;

	for (;;) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(4);
		if (h == NULL) {
			set_fatal(t, "dead letter", "out of memory");
			return -1;
		}
		if (rd_kafka_header_add(h, DLQ_HEADER_REASON, -1, reason, -1) ||
		    rd_kafka_header_add(h, DLQ_HEADER_KIND, -1, dlq_kind_names[kind], -1) ||
		    rd_kafka_header_add(h, DLQ_HEADER_SOURCE, -1, source, -1) ||
		    rd_kafka_header_add(h, DLQ_HEADER_RESOURCE, -1, t->resource, -1)) {
			rd_kafka_headers_destroy(h);
			set_fatal(t, "dead letter", "cannot add headers");
			return -1;
		}
		err = rd_kafka_producev(
		    t->producer, RD_KAFKA_V_TOPIC(t->spec.kafka.dead_letter_topic),
		    RD_KAFKA_V_KEY(key, key_len),
		    RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value_len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_OPAQUE((void *)(intptr_t)kind), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (start != 0 && !t->paused) /* waited, not reading */
				t->stall_ms += mono_ms() - start;
			return 0; /* the producer owns h now */
		}
		rd_kafka_headers_destroy(h);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* The broker is slow or away: serve delivery reports to drain
		 * the queue, within a bound. */
		int64_t now = mono_ms();
		if (start == 0)
			start = now;
		if (now - start > DLQ_QUEUE_FULL_MS || signals_stop_requested())
			break;
		rd_kafka_poll(t->producer, 100);
	}
	log_error("cannot produce a dead letter", "resource", t->resource, "topic",
	          t->spec.kafka.dead_letter_topic, "source", source, "error",
	          kafka_strerror(text, sizeof(text), err), NULL);
	set_fatal(t, "produce dead letter", text);
	return -1;
}

static void dlq_message(struct telemetry *t, enum dlq_kind kind, const rd_kafka_message_t *m,
                        const char *reason)
{
	char src[KAFKA_SOURCE_MAX];

	kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	(void)dlq_send(t, kind, m->key, m->key_len, m->payload, m->len, reason, src);
}

/* The key as the loader writes it: key fields joined by ','. */
static size_t readable_key(char *dst, const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = key[i] == TW_KEY_SEP ? ',' : key[i];
	return len;
}

/* A sink refused the batch for good: every row and raw event goes to the
 * dead-letter topic as JSON, so nothing is dropped silently. */
static void dlq_batch(struct telemetry *t, const struct tw_batch *b, const char *sink,
                      const char *error)
{
	char reason[DLQ_REASON_MAX], src[KAFKA_SOURCE_MAX], key[TW_KEY_MAX];

	/* One line, cut: a server's message can be long. */
	snprintf(reason, sizeof(reason), "%.32s rejected the batch: %.200s", sink, error);
	for (size_t i = 0; !t->fatal && i < b->nrows; i++) {
		char *json = dead_letter_row_json(&t->spec, &b->rows[i]);
		if (json == NULL) {
			set_fatal(t, "dead letter", "out of memory");
			return;
		}
		kafka_source(src, sizeof(src), t->spec.kafka.topic, b->rows[i].partition, -1);
		(void)dlq_send(t, DLQ_REJECTED, key,
		               readable_key(key, b->rows[i].key, b->rows[i].key_len), json,
		               strlen(json), reason, src);
		free(json);
	}
	for (size_t i = 0; !t->fatal && i < b->nevents; i++) {
		char *json = dead_letter_event_json(&t->spec, &b->events[i]);
		if (json == NULL) {
			set_fatal(t, "dead letter", "out of memory");
			return;
		}
		snprintf(src, sizeof(src), "%s/-/-", t->spec.kafka.topic);
		(void)dlq_send(t, DLQ_REJECTED, key,
		               readable_key(key, b->events[i].key, b->events[i].key_len), json,
		               strlen(json), reason, src);
		free(json);
	}
}

/* ==== one message ==== */

static void on_emit(void *opaque, const struct tw_result *r)
{
	struct telemetry *t = opaque;

	if (rowbuf_add_result(&t->rows, r) < 0) {
		set_fatal(t, "hold window results", "out of memory or past the row bound");
		return;
	}
	t->c.windows_emitted++;
}

/* now: core_now() when the burst it belongs to began. */
static void handle_message(struct telemetry *t, const rd_kafka_message_t *m, int64_t now)
{
	char reason[DLQ_REASON_MAX], src[KAFKA_SOURCE_MAX], text[256];
	struct tw_event ev;
	int rc;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Consumer errors are reported as messages; librdkafka recovers
		 * from the transient ones by itself. */
		log_warn("consumer error", "resource", t->resource, "source",
		         m->rkt != NULL
		             ? kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt),
		                            m->partition, m->offset)
		             : "",
		         "error", kafka_strerror(text, sizeof(text), m->err), "detail",
		         rd_kafka_message_errstr(m), NULL);
		return;
	}
	if (!tw_core_has(t->core, m->partition))
		return; /* left over from a revoked assignment */
	t->c.events_in++;
	rc = tw_parser_parse(t->parser, m->payload != NULL ? m->payload : "", m->len, &ev, reason,
	                     sizeof(reason));
	if (rc < 0) {
		t->c.malformed++;
		t->malformed_by[-rc < MALFORMED_RANGE ? -rc : 0]++;
		dlq_message(t, DLQ_MALFORMED, m, reason);
		(void)tw_core_skip(t->core, m->partition, m->offset);
		return;
	}
	rc = tw_core_process(t->core, m->partition, m->offset, &ev, now);
	switch (rc) {
	case TW_ADDED:
	case TW_PARTIAL_LATE:
		if (rc == TW_PARTIAL_LATE)
			t->c.partial_late++;
		if (t->raw && rowbuf_add_event(&t->rows, &ev) < 0)
			set_fatal(t, "hold raw events", "out of memory or past the row bound");
		break;
	case TW_DUPLICATE:
		t->c.duplicates++;
		break;
	case TW_REPLAYED:
		t->c.replayed++;
		break;
	case TW_LATE:
	case TW_OVERFLOW: {
		struct tw_core_stats st;
		int64_t wm = tw_core_stats(t->core, m->partition, &st) == 0 ? st.window.watermark_ns
		                                                            : TW_TS_NONE;
		if (rc == TW_LATE)
			t->c.late++;
		else
			t->c.overflow++;
		dlq_message(t, rc == TW_LATE ? DLQ_LATE : DLQ_OVERFLOW, m,
		            dead_letter_reason(reason, sizeof(reason), rc, &ev, wm));
		break;
	}
	case TW_WINDOW_E_RANGE:
		t->c.malformed++;
		t->malformed_by[MALFORMED_RANGE]++;
		dlq_message(t, DLQ_MALFORMED, m,
		            dead_letter_reason(reason, sizeof(reason), rc, &ev, TW_TS_NONE));
		(void)tw_core_skip(t->core, m->partition, m->offset);
		break;
	case TW_WINDOW_E_OFFSET:
		/* Already processed: a redelivery after a seek. */
		log_debug("message at or below the last offset processed: skipped", "source",
		          kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt), m->partition,
		                       m->offset),
		          NULL);
		break;
	default:
		set_fatal(t, "stream core",
		          rc == TW_WINDOW_E_NOMEM ? "out of memory" : i64(text, sizeof(text), rc));
		break;
	}
}

/* ==== flushing ==== */

static int cps_push(struct telemetry *t, int32_t partition, const struct tw_checkpoint *cp)
{
	if (t->fl.ncps == t->fl.cap) {
		size_t ncap = t->fl.cap == 0 ? 16 : t->fl.cap * 2;
		struct pending_cp *n = realloc(t->fl.cps, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		t->fl.cps = n;
		t->fl.cap = ncap;
	}
	t->fl.cps[t->fl.ncps].partition = partition;
	t->fl.cps[t->fl.ncps].cp = *cp;
	t->fl.ncps++;
	return 0;
}

/* Step 1: freeze the batch and take the checkpoints with it. */
static void cut_batch(struct telemetry *t, int64_t now)
{
	char meta[TW_CHECKPOINT_TEXT_MAX];
	struct tw_checkpoint cp;

	rowbuf_freeze(&t->rows);
	t->fl.ncps = 0;
	for (size_t i = 0; i < t->nparts; i++) {
		if (tw_core_checkpoint(t->core, t->parts[i].partition, &cp) == 0 &&
		    cp_changed(&t->parts[i], &cp, meta, sizeof(meta)) &&
		    cps_push(t, t->parts[i].partition, &cp) < 0) {
			set_fatal(t, "checkpoint", "out of memory");
			return;
		}
	}
	t->fl.active = 1;
	t->fl.attempting = 0;
	t->fl.acked = 0;
	t->fl.attempt = 0;
	t->fl.retry_after = 0;
	t->fl.retry_at = now;
	t->fl.frozen_at = now;
	t->last_cut = now;
}

static int batch_due(struct telemetry *t, int64_t now)
{
	size_t pending = rowbuf_pending(&t->rows);

	if (pending >= t->opt.flush_rows)
		return 1;
	if (now - t->last_cut < t->opt.flush_interval_ms)
		return 0;
	if (pending > 0 || checkpoints_changed(t))
		return 1;
	t->last_cut = now; /* nothing to do: look again an interval later */
	return 0;
}

/* The commit's per-partition results, copied onto the list we sent (the
 * callback's list is librdkafka's own). */
struct commit_result {
	rd_kafka_topic_partition_list_t *sent;
	rd_kafka_resp_err_t err;
	int called;
};

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct commit_result *r = opaque;

	(void)rk;
	r->called = 1;
	r->err = err;
	for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
		rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(
		    r->sent, offsets->elems[i].topic, offsets->elems[i].partition);
		if (e != NULL)
			e->err = offsets->elems[i].err;
	}
}

/* Step 4: commit the checkpoints taken at the cut, synchronously
 * (rd_kafka_commit_queue without a queue serves its callback itself). */
static void commit_checkpoints(struct telemetry *t)
{
	char meta[64][TW_CHECKPOINT_TEXT_MAX], text[256], src[KAFKA_SOURCE_MAX];
	size_t done = 0;

	/* In slices of 64, so the metadata texts live on the stack. */
	while (done < t->fl.ncps) {
		size_t n = t->fl.ncps - done < 64 ? t->fl.ncps - done : 64;
		rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
		for (size_t i = 0; i < n; i++) {
			const struct pending_cp *pc = &t->fl.cps[done + i];
			rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(
			    list, t->spec.kafka.topic, pc->partition);
			int len = tw_checkpoint_format(&pc->cp, meta[i], sizeof(meta[i]));
			e->offset = pc->cp.offset;
			e->metadata = meta[i];
			e->metadata_size = len > 0 ? (size_t)len : 0;
		}
		struct commit_result r = {.sent = list};
		rd_kafka_resp_err_t err =
		    rd_kafka_commit_queue(t->consumer, list, NULL, on_commit, &r);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && r.called)
			err = r.err;
		for (int i = 0; i < list->cnt; i++) {
			rd_kafka_topic_partition_t *e = &list->elems[i];
			rd_kafka_resp_err_t perr =
			    e->err != RD_KAFKA_RESP_ERR_NO_ERROR ? e->err : err;
			struct part *p = part_find(t, e->partition);
			kafka_source(src, sizeof(src), e->topic, e->partition, e->offset);
			if (perr == RD_KAFKA_RESP_ERR_NO_ERROR && p != NULL) {
				p->committed_offset = e->offset;
				memcpy(p->committed_meta, meta[i], sizeof(p->committed_meta));
				t->c.commits++;
				log_debug("committed", "source", src, "checkpoint", meta[i], NULL);
			} else if (perr != RD_KAFKA_RESP_ERR_NO_ERROR) {
				/* A rebalance in progress, usually: the next flush
				 * commits a newer checkpoint, or the next owner replays. */
				t->commit_errors++;
				log_warn("commit failed", "resource", t->resource, "source", src,
				         "error", kafka_strerror(text, sizeof(text), perr), NULL);
			}
			e->metadata = NULL; /* ours, on the stack */
			e->metadata_size = 0;
		}
		rd_kafka_topic_partition_list_destroy(list);
		done += n;
	}
	t->fl.ncps = 0;
}

static void schedule_retry(struct telemetry *t, int64_t now)
{
	t->rng = t->rng * 1103515245u + 12345u;
	double jitter = (double)((t->rng >> 8) & 0xffff) / 65536.0;
	t->fl.attempt++;
	t->fl.retry_at = now + telemetry_backoff_ms(t->fl.attempt, t->fl.retry_after,
	                                            t->opt.retry_max_ms, jitter);
	t->fl.retry_after = 0;
}

static void log_failure(struct telemetry *t, size_t slot, int64_t now, const char *msg,
                        const char *error)
{
	char a[16], rows[32];

	if (t->last_fail_log[slot] != 0 && now - t->last_fail_log[slot] < FAILURE_LOG_MS)
		return;
	t->last_fail_log[slot] = now;
	log_warn(msg, "resource", t->resource, "sink", t->h.names[slot], "attempt",
	         u64(a, sizeof(a), t->fl.attempt + 1), "rows",
	         u64(rows, sizeof(rows), t->rows.batch.nrows), "error", error, NULL);
}

/* After a commit: the owned partitions' counts to the status Redis
 * (tw_report.h). Never blocks longer than its timeout, never fails the
 * stream: a failure is counted, logged now and then, and retried by a later
 * flush after a backoff. */
static void report_progress(struct telemetry *t, int64_t now)
{
	struct tw_progress_part parts[64];
	int32_t ids[64];
	char errbuf[512];
	size_t n = 0;

	if (t->report == NULL)
		return;
	/* In slices of 64 partitions; one slice a flush covers the usual case. */
	for (size_t i = 0; i < t->nparts; i++) {
		struct tw_core_stats st;

		if (tw_core_stats(t->core, t->parts[i].partition, &st) != 0)
			continue;
		ids[n] = t->parts[i].partition;
		parts[n].events = (int64_t)(st.events_in + st.skipped);
		parts[n].duplicates = (int64_t)st.duplicates;
		parts[n].late = (int64_t)st.window.late;
		parts[n].malformed = (int64_t)st.skipped;
		parts[n].windows = (int64_t)st.window.windows_emitted;
		parts[n].watermark_ns =
		    st.window.watermark_ns == TW_TS_NONE ? INT64_MIN : st.window.watermark_ns;
		if (++n < 64 && i + 1 < t->nparts)
			continue;
		errbuf[0] = '\0';
		int rc = tw_report_write(t->report, ids, parts, n, now, errbuf, sizeof(errbuf));
		n = 0;
		if (rc == TW_REPORT_WAITING)
			return;
		if (rc < 0) {
			if (t->last_report_log == 0 || now - t->last_report_log >= REPORT_LOG_MS) {
				t->last_report_log = now;
				log_warn(
				    "status redis write failed: the stream goes on, the status "
				    "is retried later",
				    "resource", t->resource, "error", errbuf, NULL);
			}
			return;
		}
	}
}

/* A sink's write came back: acknowledged, rejected (dead-lettered: retrying
 * cannot help), or failed (the attempt is retried after a backoff). */
static void write_done(struct telemetry *t, size_t i, const struct sink_outcome *o, int64_t now)
{
	const char *name = t->h.names[i];

	t->fl.running &= ~(1u << i);
	if (o->rc == TW_SINK_OK) {
		t->fl.acked |= 1u << i;
		health_ok(t, i);
		return;
	}
	if (o->rc == TW_SINK_E_REJECT) {
		struct tw_batch b;
		rowbuf_batch(&t->rows, &b);
		log_error("sink rejected the batch: dead-lettering its rows", "resource",
		          t->resource, "sink", name, "error", o->error, NULL);
		dlq_batch(t, &b, name, o->error);
		t->fl.acked |= 1u << i;
		health_ok(t, i);
		return;
	}
	t->fl.failed = 1;
	health_failed(t, i, now, o->error);
	log_failure(t, i, now,
	            o->rc == TW_SINK_E_CONFIG ? "sink misconfigured: retrying the batch"
	                                      : "sink write failed: retrying the same batch",
	            o->error);
	if (o->retry_after_ms > t->fl.retry_after)
		t->fl.retry_after = o->retry_after_ms;
}

/* Collects what the sinks' threads finished: writes of the batch in flight
 * and retention trims. */
static void collect_outcomes(struct telemetry *t, int64_t now)
{
	struct sink_outcome o;

	for (size_t i = 0; i < t->nsinks; i++) {
		if (!sink_runner_collect(t->runners[i], &o))
			continue;
		if (o.job == SINK_JOB_WRITE)
			write_done(t, i, &o, now);
		else if (o.rc != 0)
			log_warn("retention trim failed: trying again later", "resource",
			         t->resource, "sink", t->h.names[i], "error", o.error, NULL);
	}
}

/* Retention trims run on the sinks' threads when they have no write of the
 * batch in flight to do, so trimming never holds up the stream. */
static void start_trims(struct telemetry *t)
{
	for (size_t i = 0; i < t->nsinks && t->trim_due != 0; i++) {
		unsigned bit = 1u << i;
		if (!(t->trim_due & bit) || sink_runner_busy(t->runners[i]))
			continue;
		if (t->fl.attempting && !(t->fl.acked & bit) && !(t->fl.started & bit))
			continue; /* its write goes first */
		if (sink_runner_trim(t->runners[i], real_ns()) == 0)
			t->trim_due &= ~bit;
	}
}

/* Steps 3 and 4, once every sink acknowledged the batch. */
static void flush_commit(struct telemetry *t, int64_t now)
{
	struct tw_batch b;

	/* Step 3: every dead letter so far delivered (those behind the cut
	 * too: a stricter wait, never a looser one). */
	if (rd_kafka_outq_len(t->producer) > 0) {
		rd_kafka_resp_err_t err = rd_kafka_flush(t->producer, DLQ_FLUSH_MS);
		if (t->fatal)
			return;
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			char n[64];
			snprintf(n, sizeof(n), "%d dead letters not yet delivered",
			         rd_kafka_outq_len(t->producer));
			health_failed(t, t->nsinks, now, n);
			log_failure(t, t->nsinks, now, "waiting for dead-letter delivery", n);
			schedule_retry(t, now);
			return;
		}
	}
	health_ok(t, t->nsinks);
	commit_checkpoints(t);
	report_progress(t, now);
	rowbuf_batch(&t->rows, &b);
	char rows[32], events[32], ms[32];
	log_debug("batch acknowledged", "resource", t->resource, "rows",
	          u64(rows, sizeof(rows), b.nrows), "events",
	          u64(events, sizeof(events), b.nevents), "ms",
	          i64(ms, sizeof(ms), mono_ms() - t->fl.frozen_at), NULL);
	if (b.nrows > 0 || b.nevents > 0)
		t->c.batches++;
	rowbuf_release(&t->rows);
	t->fl.active = 0;
}

/* Steps 2 to 4 for the batch in flight, as far as they can go now: the
 * writes of an attempt start on the sinks' threads, the loop reads on, and
 * a later call sees them all back and commits (or schedules the retry). */
static void flush_advance(struct telemetry *t, int64_t now)
{
	struct tw_batch b;

	collect_outcomes(t, now);
	if (t->fatal || !t->fl.active)
		return;
	if (!t->fl.attempting) {
		if (now < t->fl.retry_at)
			return;
		t->fl.attempting = 1;
		t->fl.started = 0;
		t->fl.failed = 0;
	}
	rowbuf_batch(&t->rows, &b);
	for (size_t i = 0; i < t->nsinks; i++) {
		unsigned bit = 1u << i;
		if ((t->fl.acked | t->fl.started) & bit)
			continue;
		if (b.nrows == 0 && b.nevents == 0) {
			t->fl.acked |= bit;
			continue;
		}
		/* Busy: a trim is finishing; the write starts on a later call. */
		if (sink_runner_write(t->runners[i], &b) == 0) {
			t->fl.started |= bit;
			t->fl.running |= bit;
		}
	}
	unsigned all = (1u << t->nsinks) - 1;
	if (t->fl.running != 0 || ((t->fl.acked | t->fl.started) & all) != all)
		return; /* writes in progress */
	t->fl.attempting = 0;
	if (t->fl.failed) {
		schedule_retry(t, now);
		return;
	}
	flush_commit(t, now);
}

static void flush_step(struct telemetry *t, int64_t now)
{
	if (!t->fl.active && batch_due(t, now))
		cut_batch(t, now);
	flush_advance(t, now);
	start_trims(t);
}

/* ==== housekeeping ==== */

static void sync_metrics(struct telemetry *t)
{
	const struct {
		struct metrics_family *f;
		uint64_t now, *synced;
	} plain[] = {
	    {t->m.events_in, t->c.events_in, &t->synced.events_in},
	    {t->m.duplicates, t->c.duplicates, &t->synced.duplicates},
	    {t->m.late, t->c.late, &t->synced.late},
	    {t->m.partial_late, t->c.partial_late, &t->synced.partial_late},
	    {t->m.replayed, t->c.replayed, &t->synced.replayed},
	    {t->m.overflow, t->c.overflow, &t->synced.overflow},
	    {t->m.windows, t->c.windows_emitted, &t->synced.windows_emitted},
	    {t->m.batches, t->c.batches, &t->synced.batches},
	    {t->m.commits, t->c.commits, &t->synced.commits},
	    {t->m.commit_errors, t->commit_errors, &t->commit_errors_synced},
	    {t->m.fetch_wakeups, t->wakes, &t->wakes_synced},
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		madd(t, plain[i].f, NULL, (double)(plain[i].now - *plain[i].synced));
		*plain[i].synced = plain[i].now;
	}
	for (size_t i = 0; i < MALFORMED_KINDS; i++) {
		madd(t, t->m.malformed, (const char *const[]){malformed_names[i], NULL},
		     (double)(t->malformed_by[i] - t->malformed_synced[i]));
		t->malformed_synced[i] = t->malformed_by[i];
	}
	for (size_t i = 0; i < DLQ_KINDS; i++) {
		madd(t, t->m.dlq, (const char *const[]){dlq_kind_names[i], NULL},
		     (double)(t->dlq_by[i] - t->dlq_synced[i]));
		t->dlq_synced[i] = t->dlq_by[i];
	}
	{
		uint64_t f = tw_report_failures(t->report);

		madd(t, t->m.status_errors, NULL, (double)(f - t->report_errors_synced));
		t->report_errors_synced = f;
	}
	t->synced.malformed = t->c.malformed;
	t->synced.dead_lettered = t->c.dead_lettered;
	mset(t, t->m.pending, NULL, (double)rowbuf_held(&t->rows));
	for (size_t i = 0; i < t->nparts; i++) {
		struct tw_core_stats st;
		char pn[16];
		if (tw_core_stats(t->core, t->parts[i].partition, &st) == 0 &&
		    st.window.watermark_ns != TW_TS_NONE)
			mset(
			    t, t->m.watermark,
			    (const char *const[]){i64(pn, sizeof(pn), t->parts[i].partition), NULL},
			    (double)st.window.watermark_ns / 1e9);
	}
}

/* Lag per partition: the end offset librdkafka last saw in a fetch
 * (cached, no request) minus the committed offset, as the operator and
 * kafka-consumer-groups count it; with no commit, the whole partition. */
static void update_lag(struct telemetry *t)
{
	for (size_t i = 0; i < t->nparts; i++) {
		struct part *p = &t->parts[i];
		int64_t lo = -1, hi = -1;
		char pn[16];
		if (rd_kafka_get_watermark_offsets(t->consumer, t->spec.kafka.topic, p->partition,
		                                   &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    hi < 0) {
			p->lag = -1;
			continue;
		}
		int64_t base = p->committed_offset >= 0 ? p->committed_offset : (lo >= 0 ? lo : 0);
		p->lag = hi > base ? hi - base : 0;
		mset(t, t->m.lag,
		     (const char *const[]){t->spec.kafka.topic, i64(pn, sizeof(pn), p->partition),
		                           NULL},
		     (double)p->lag);
	}
}

/* Messages the partitions hold past what this worker has fetched: their
 * last known end offsets less its positions, less what waits in its queue.
 * From librdkafka's cached figures: no request. */
static int64_t unfetched(struct telemetry *t, size_t queued)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)t->nparts);
	int64_t total = 0;

	for (size_t i = 0; i < t->nparts; i++)
		rd_kafka_topic_partition_list_add(l, t->spec.kafka.topic, t->parts[i].partition);
	if (rd_kafka_position(t->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int i = 0; i < l->cnt; i++) {
			int64_t lo = -1, hi = -1, pos = l->elems[i].offset;
			if (rd_kafka_get_watermark_offsets(t->consumer, t->spec.kafka.topic,
			                                   l->elems[i].partition, &lo,
			                                   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
				continue;
			if (pos < 0)
				pos = t->parts[i].committed_offset >= 0
				          ? t->parts[i].committed_offset
				          : lo;
			if (hi > pos && pos >= 0)
				total += hi - pos;
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	return total - (int64_t)queued;
}

/* librdkafka 2.0.2 may leave a partition unfetched for up to a second
 * after its queue reached the prefetch bound (kafka_wake_fetcher). Every
 * WAKE_MS the queue is looked at: when it is below half the bound, nothing
 * arrived since the last look, and the partitions hold more than was
 * fetched, the fetcher is woken. An idle or a fetching consumer sends
 * nothing. */
static void wake_fetcher(struct telemetry *t, int64_t now)
{
	if (t->paused || t->nparts == 0 || now - t->last_wake < WAKE_MS)
		return;
	t->last_wake = now;
	size_t queued = (size_t)rd_kafka_queue_length(t->queue);
	int arrived = queued + t->taken_since_wake > t->queued_at_wake;
	t->queued_at_wake = queued;
	t->taken_since_wake = 0;
	if (arrived || queued >= KAFKA_PREFETCH_MESSAGES / 2 || unfetched(t, queued) <= 0)
		return;
	/* On the waker's thread: this loop reads on meanwhile. */
	if (kafka_waker_poke(t->waker))
		t->wakes++;
}

static void housekeeping(struct telemetry *t, int64_t now)
{
	char errbuf[512];

	if (now - t->last_ppoll >= PRODUCER_POLL_MS) {
		t->last_ppoll = now;
		rd_kafka_poll(t->producer, 0); /* delivery reports */
		if (kafka_fatal(t->consumer, errbuf, sizeof(errbuf)) ||
		    kafka_fatal(t->producer, errbuf, sizeof(errbuf)))
			set_fatal(t, "kafka client", errbuf);
	}
	if (now - t->last_tick >= TICK_MS) {
		t->last_tick = now;
		tw_core_tick(t->core, core_now(t)); /* idle advance: may emit */
		kafka_reaper_flush(t->reaper);      /* a quiet stream's last messages */
	}
	if (now - t->last_sync >= METRICS_SYNC_MS) {
		t->last_sync = now;
		sync_metrics(t);
	}
	if (now - t->last_lag >= LAG_MS) {
		t->last_lag = now;
		update_lag(t);
	}
	if (t->opt.trim_interval_ms > 0 && now - t->last_trim >= t->opt.trim_interval_ms) {
		t->last_trim = now;
		t->trim_due = (1u << t->nsinks) - 1; /* started by flush_step */
	}
}

static int next_wait(const struct telemetry *t, int64_t now)
{
	int64_t wait = POLL_MAX_MS;
	int64_t until;

	if (t->fl.running != 0)
		until = POLL_MAX_MS; /* a finished write wakes the poll (wake_loop) */
	else if (t->fl.active)
		until = t->fl.retry_at - now;
	else
		until = t->last_cut + t->opt.flush_interval_ms - now;
	if (until < wait)
		wait = until;
	until = t->last_tick + TICK_MS - now;
	if (until < wait)
		wait = until;
	return wait < 0 ? 0 : (int)wait;
}

/* ==== life cycle ==== */

int telemetry_new(const struct telemetry_options *o, struct telemetry **out, char *errbuf,
                  size_t errbuf_size)
{
	struct telemetry *t = calloc(1, sizeof(*t));
	struct tw_parser_spec ps;
	struct tw_core_config cc;
	char host[256] = "localhost";

	*out = NULL;
	if (t == NULL) {
		snprintf(errbuf, errbuf_size, "telemetry: out of memory");
		return TELEMETRY_ERR;
	}
	t->opt = *o;
	if (pthread_mutex_init(&t->h.mu, NULL) != 0) {
		free(t);
		snprintf(errbuf, errbuf_size, "telemetry: cannot create a mutex");
		return TELEMETRY_ERR;
	}
	rowbuf_init(&t->rows);
	if (o->spec_path == NULL || o->spec_path[0] == '\0') {
		snprintf(errbuf, errbuf_size,
		         "telemetry: --config FILE (the TelemetryWindow) is "
		         "required");
		goto fail;
	}
	if (tw_spec_load_file(o->spec_path, &t->spec, errbuf, errbuf_size) < 0)
		goto fail;
	snprintf(t->resource, sizeof(t->resource), "%s/%s", t->spec.namespace, t->spec.name);
	tw_spec_parser_spec(&t->spec, &ps);
	t->parser = tw_parser_new(&ps, errbuf, errbuf_size);
	if (t->parser == NULL)
		goto fail;
	if (tw_core_config_from_spec(&t->spec, &cc, errbuf, errbuf_size) < 0)
		goto fail;
	t->core = tw_core_new(&cc, on_emit, t, errbuf, errbuf_size);
	if (t->core == NULL)
		goto fail;
	if (tw_sinks_new(&t->spec, &t->sinks, &t->nsinks, errbuf, errbuf_size) < 0) {
		t->sinks = NULL;
		t->nsinks = 0;
		goto fail;
	}
	if (t->nsinks > SINKS_MAX) {
		snprintf(errbuf, errbuf_size, "telemetry: %zu sinks, at most %d", t->nsinks,
		         SINKS_MAX);
		goto fail;
	}
	t->raw = t->spec.sinks.influxdb.enabled && t->spec.sinks.influxdb.raw;
	{
		/* CONTRACTS.md 3: the status Redis, else the Redis sink's. */
		const char *addr = getenv("SLUICE_STATUS_REDIS");

		if ((addr == NULL || addr[0] == '\0') && t->spec.sinks.redis.enabled)
			addr = t->spec.sinks.redis.addr;
		if (addr != NULL && addr[0] != '\0') {
			char why[256];

			t->report =
			    tw_report_new(addr, t->spec.namespace, t->spec.name, why, sizeof(why));
			if (t->report == NULL) {
				snprintf(errbuf, errbuf_size, "telemetry: SLUICE_STATUS_REDIS: %s",
				         why);
				goto fail;
			}
		}
	}
	for (size_t i = 0; i < t->nsinks; i++)
		t->h.names[i] = tw_sink_name(t->sinks[i]);
	t->h.names[t->nsinks] = "dead-letter producer";
	t->h.n = t->nsinks + 1;
	if (o->client_id != NULL && o->client_id[0] != '\0') {
		snprintf(t->client_id, sizeof(t->client_id), "%s", o->client_id);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(t->client_id, sizeof(t->client_id), "sluice-worker-%s", host);
	}
	t->rng = (unsigned)getpid() ^ (unsigned)mono_ms();
	*out = t;
	return 0;
fail:
	telemetry_free(t);
	return TELEMETRY_ERR;
}

static int register_metrics(struct telemetry *t, struct metrics_registry *reg, char *errbuf,
                            size_t errbuf_size)
{
	static const char *const sink_l[] = {"sink", NULL};
	static const char *const reason_l[] = {"reason", NULL};
	static const char *const kind_l[] = {"kind", NULL};
	static const char *const tp_l[] = {"topic", "partition", NULL};
	static const char *const p_l[] = {"partition", NULL};
	struct tmetrics *m = &t->m;
	const struct {
		struct metrics_family **f;
		const char *name, *help;
	} counters[] = {
	    {&m->events_in, "sluice_tw_events_in_total",
	     "Messages read from the topic, valid or not."},
	    {&m->duplicates, "sluice_tw_duplicates_total",
	     "Events dropped as repeats of (key, event time) within the dedupe horizon."},
	    {&m->late, "sluice_tw_late_total",
	     "Events whose every window had closed: dead-lettered, never added."},
	    {&m->partial_late, "sluice_tw_partial_late_total",
	     "Hopping-window events added to their open windows only."},
	    {&m->replayed, "sluice_tw_replayed_total",
	     "Replayed events whose windows were emitted before the last commit."},
	    {&m->overflow, "sluice_tw_overflow_total",
	     "Events refused because a partition holds its most aggregates: dead-lettered."},
	    {&m->windows, "sluice_tw_windows_emitted_total",
	     "Window results (one key, one window)."},
	    {&m->batches, "sluice_tw_batches_total", "Batches every sink acknowledged."},
	    {&m->commits, "sluice_tw_commits_total", "Partition checkpoints committed to Kafka."},
	    {&m->commit_errors, "sluice_tw_commit_errors_total",
	     "Partition checkpoints Kafka refused to commit (retried by a later flush)."},
	    {&m->fetch_wakeups, "sluice_tw_fetch_wakeups_total",
	     "Times the Kafka fetcher was woken with a queue below half its bound (librdkafka "
	     "2.0.2 would wait up to a second)."},
	    {&m->status_errors, "sluice_tw_status_errors_total",
	     "Progress writes to the status Redis that failed (retried later; the stream goes "
	     "on)."},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (metrics_counter(reg, counters[i].name, counters[i].help, NULL, counters[i].f,
		                    errbuf, errbuf_size) < 0)
			return TELEMETRY_ERR;
	if (metrics_counter(reg, "sluice_tw_malformed_total",
	                    "Messages the parser refused, or with an event time out of range, by "
	                    "reason: dead-lettered.",
	                    reason_l, &m->malformed, errbuf, errbuf_size) < 0 ||
	    metrics_counter(
	        reg, "sluice_tw_dlq_messages_total",
	        "Dead letters delivered, by kind (malformed, late, overflow, rejected).", kind_l,
	        &m->dlq, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_sink_up",
	                  "1 when the sink's last write succeeded, 0 while it fails.", sink_l,
	                  &m->sink_up, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_consumer_lag",
	                  "Messages between the committed offset and the end of the partition.",
	                  tp_l, &m->lag, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_watermark_seconds",
	                  "The partition's event-time watermark, in seconds since the epoch.", p_l,
	                  &m->watermark, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_assigned_partitions", "Partitions this member owns.",
	                  NULL, &m->assigned, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_paused",
	                  "1 while consumption is paused because the sinks are behind.", NULL,
	                  &m->paused, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_rows_waiting",
	                  "Window rows and raw events held for the sinks.", NULL, &m->pending,
	                  errbuf, errbuf_size) < 0)
		return TELEMETRY_ERR;
	/* sluice_tw_sink_write_seconds{sink} and sluice_tw_sink_errors_total
	 * {sink,op,result}: the sinks record them around every write and trim. */
	if (tw_sinks_set_metrics(reg) < 0) {
		snprintf(errbuf, errbuf_size, "metrics: cannot register the sink metrics");
		return TELEMETRY_ERR;
	}
	/* Show every sink and kind from the start, so dashboards see 0s. */
	for (size_t i = 0; i < t->nsinks; i++)
		mset(t, m->sink_up, (const char *const[]){t->h.names[i], NULL}, 1);
	for (size_t i = 0; i < DLQ_KINDS; i++)
		if (metrics_add(m->dlq, (const char *const[]){dlq_kind_names[i], NULL}, 0) < 0) {
			snprintf(errbuf, errbuf_size,
			         "metrics: cannot create sluice_tw_dlq_messages_total");
			return TELEMETRY_ERR;
		}
	return 0;
}

/* A sink's thread finished a job: the loop's poll returns now. */
static void wake_loop(void *arg)
{
	struct telemetry *t = arg;

	rd_kafka_queue_yield(t->queue);
}

int telemetry_start(struct telemetry *t, struct metrics_registry *reg, char *errbuf,
                    size_t errbuf_size)
{
	char producer_id[340];
	int partitions = 0, replication = 0;

	t->reg = reg;
	if (reg != NULL && register_metrics(t, reg, errbuf, errbuf_size) < 0)
		return TELEMETRY_ERR;
	/* Infinite delivery timeout: librdkafka keeps retrying a dead letter
	 * while the broker is away, and the commit waits for it. */
	static const char *const producer_extra[] = {"message.timeout.ms", "0", "linger.ms", "5",
	                                             NULL};
	snprintf(producer_id, sizeof(producer_id), "%s-dlq", t->client_id);
	struct kafka_config pc = {.bootstrap = t->spec.kafka.bootstrap,
	                          .client_id = producer_id,
	                          .extra = producer_extra};
	t->producer = kafka_producer_new(&pc, on_delivery, t, errbuf, errbuf_size);
	if (t->producer == NULL)
		return TELEMETRY_ERR;
	if (t->opt.create_dlq_topic) {
		char why[512];
		/* The dead-letter topic mirrors the source's partitions and
		 * replication, so keys spread the same way. */
		if (kafka_topic_describe(t->producer, t->spec.kafka.topic, 10000, &partitions,
		                         &replication, why, sizeof(why)) < 0)
			log_warn(
			    "cannot read the source topic: the dead-letter topic is not created",
			    "resource", t->resource, "topic", t->spec.kafka.topic, "error", why,
			    NULL);
		else if (kafka_topic_create(t->producer, t->spec.kafka.dead_letter_topic,
		                            partitions, replication, 10000, why, sizeof(why)) < 0)
			log_warn("cannot create the dead-letter topic", "resource", t->resource,
			         "topic", t->spec.kafka.dead_letter_topic, "error", why, NULL);
	}
	struct kafka_config cc = {.bootstrap = t->spec.kafka.bootstrap,
	                          .client_id = t->client_id,
	                          .group = t->spec.kafka.group,
	                          .session_timeout_ms = (int)t->opt.session_timeout_ms};
	t->consumer = kafka_consumer_new(&cc, on_rebalance, t, errbuf, errbuf_size);
	if (t->consumer == NULL)
		return TELEMETRY_ERR;
	t->queue = rd_kafka_queue_get_consumer(t->consumer);
	t->waker =
	    kafka_waker_new(t->consumer, WAKE_TIMEOUT_MS, WAKE_FAILED_MS, errbuf, errbuf_size);
	if (t->waker == NULL)
		return TELEMETRY_ERR;
	t->reaper = kafka_reaper_new(errbuf, errbuf_size);
	if (t->reaper == NULL)
		return TELEMETRY_ERR;
	for (size_t i = 0; i < t->nsinks; i++) {
		t->runners[i] = sink_runner_new(t->sinks[i], wake_loop, t, errbuf, errbuf_size);
		if (t->runners[i] == NULL)
			return TELEMETRY_ERR;
	}
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, t->spec.kafka.topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(t->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		return kafka_fail(errbuf, errbuf_size, "subscribe", err);
	char n[16];
	log_info("telemetry worker subscribed", "resource", t->resource, "topic",
	         t->spec.kafka.topic, "group", t->spec.kafka.group, "dead_letter_topic",
	         t->spec.kafka.dead_letter_topic, "client_id", t->client_id, "sinks",
	         u64(n, sizeof(n), t->nsinks), NULL);
	return 0;
}

/* SIGTERM: no new messages, finish what is held, commit what the sinks
 * acknowledged, within the shutdown budget. */
static void drain(struct telemetry *t)
{
	int64_t now = mono_ms();
	int64_t deadline = now + t->opt.shutdown_timeout_ms;

	set_paused(t, 1, "stopping");
	while (!t->fatal && now < deadline) {
		if (!t->fl.active) {
			if (rowbuf_pending(&t->rows) == 0 && !checkpoints_changed(t))
				break;
			cut_batch(t, now);
		}
		flush_advance(t, now);
		if (!t->fl.active && rowbuf_pending(&t->rows) == 0)
			break;
		/* Serve rebalances meanwhile; a message that still arrives is
		 * not processed and not committed: the next owner reads it. A
		 * finished write wakes the poll. */
		int64_t wait = !t->fl.active        ? 0
		               : t->fl.running != 0 ? POLL_MAX_MS
		                                    : t->fl.retry_at - now;
		if (wait > POLL_MAX_MS)
			wait = POLL_MAX_MS;
		rd_kafka_message_t *m =
		    rd_kafka_consumer_poll(t->consumer, wait > 0 ? (int)wait : 0);
		if (m != NULL)
			rd_kafka_message_destroy(m);
		now = mono_ms();
	}
	if (t->fl.active || rowbuf_pending(&t->rows) > 0) {
		char n[32];
		log_warn("stopping with rows the sinks did not acknowledge: the next owner replays "
		         "them from the last commit",
		         "resource", t->resource, "rows", u64(n, sizeof(n), rowbuf_held(&t->rows)),
		         NULL);
	}
}

static void close_consumer(struct telemetry *t)
{
	char text[256];

	if (t->consumer == NULL || t->closed)
		return;
	t->closed = 1;
	kafka_waker_free(t->waker); /* no wake-up under way while the group is left */
	t->waker = NULL;
	if (t->reaper != NULL)
		kafka_reaper_drain(t->reaper); /* no message held while it is left */
	/* Leaves the group now (the rebalance callback drops every partition)
	 * instead of letting the session time out. */
	rd_kafka_resp_err_t err = rd_kafka_consumer_close(t->consumer);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("consumer close failed", "resource", t->resource, "error",
		         kafka_strerror(text, sizeof(text), err), NULL);
}

/* m, then what is queued behind it, up to POLL_BURST messages, on one
 * reading of the clock: a poll that may wait reads it four times, and this
 * loop did as often, for every message. */
static void take_burst(struct telemetry *t, rd_kafka_message_t *m)
{
	int64_t now = core_now(t);

	for (int n = 0; m != NULL; m = rd_kafka_consumer_poll(t->consumer, 0)) {
		t->taken_since_wake++;
		if (!t->fatal)
			handle_message(t, m, now);
		kafka_reaper_put(t->reaper, m); /* freed off this thread */
		if (++n == POLL_BURST || t->fatal || t->paused)
			break;
	}
}

int telemetry_run(struct telemetry *t)
{
	int64_t now = mono_ms();

	t->last_cut = t->last_tick = t->last_trim = t->last_lag = t->last_sync = now;
	while (!signals_stop_requested() && !t->fatal) {
		now = mono_ms();
		housekeeping(t, now);
		int was_paused = t->paused;
		now = mono_ms();
		flush_step(t, now);
		if (!was_paused) /* committing (and waiting for dead letters), not reading */
			t->stall_ms += mono_ms() - now;
		if (t->fatal)
			break;
		set_paused(t, t->fl.active && rowbuf_pending(&t->rows) >= t->opt.buffer_max,
		           t->fl.active ? "the sinks are behind" : "the sinks caught up");
		wake_fetcher(t, now);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(t->consumer, next_wait(t, now));
		if (m != NULL)
			take_burst(t, m);
	}
	if (!t->fatal) {
		log_info("stopping: flushing what is held", "resource", t->resource, NULL);
		drain(t);
	}
	sync_metrics(t);
	char *status = telemetry_snapshot_json(t);
	close_consumer(t);
	if (t->producer != NULL &&
	    rd_kafka_flush(t->producer, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		char n[16];
		log_warn("dead letters not delivered at exit (their messages were not committed)",
		         "resource", t->resource, "count",
		         i64(n, sizeof(n), rd_kafka_outq_len(t->producer)), NULL);
	}
	log_info("telemetry worker stopped", "resource", t->resource, "status",
	         status != NULL ? status : "", NULL);
	free(status);
	return t->fatal ? TELEMETRY_ERR : 0;
}

void telemetry_free(struct telemetry *t)
{
	if (t == NULL)
		return;
	/* The sinks' threads first: a write in progress finishes, and their
	 * wake-ups use the consumer's queue. */
	for (size_t i = 0; i < t->nsinks; i++)
		sink_runner_free(t->runners[i]);
	kafka_waker_free(t->waker); /* still there when the consumer was never closed */
	t->waker = NULL;
	kafka_reaper_free(t->reaper); /* before the consumer its messages came from */
	if (t->consumer != NULL) {
		close_consumer(t);
		if (t->queue != NULL)
			rd_kafka_queue_destroy(t->queue);
		rd_kafka_destroy(t->consumer);
	}
	if (t->producer != NULL)
		rd_kafka_destroy(t->producer);
	if (t->reg != NULL)
		(void)tw_sinks_set_metrics(NULL); /* the registry may go before the next user */
	tw_sinks_free(t->sinks, t->nsinks);
	tw_report_free(t->report);
	tw_core_free(t->core);
	tw_parser_free(t->parser);
	tw_spec_free(&t->spec);
	rowbuf_free(&t->rows);
	free(t->fl.cps);
	free(t->parts);
	pthread_mutex_destroy(&t->h.mu);
	free(t);
}

/* ==== status ==== */

static int add_time_or_null(cJSON *o, const char *name, int64_t ns)
{
	char buf[CLOCK_RFC3339_MAX];

	if (ns == TW_TS_NONE || clock_format_rfc3339(ns, buf, sizeof(buf)) < 0)
		return cJSON_AddNullToObject(o, name) != NULL ? 0 : -1;
	return cJSON_AddStringToObject(o, name, buf) != NULL ? 0 : -1;
}

static int add_count_or_null(cJSON *o, const char *name, int64_t v)
{
	if (v < 0)
		return cJSON_AddNullToObject(o, name) != NULL ? 0 : -1;
	return cJSON_AddNumberToObject(o, name, (double)v) != NULL ? 0 : -1;
}

char *telemetry_status_json(const char *resource, const struct telemetry_counters *c,
                            const struct telemetry_partition_status *parts, size_t nparts)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *arr;
	int64_t lag = 0, low_wm = TW_TS_NONE;
	int any_wm = 0;
	char *text;

	if (o == NULL)
		return NULL;
	const struct {
		const char *name;
		uint64_t v;
	} nums[] = {
	    {"eventsIn", c->events_in},
	    {"duplicates", c->duplicates},
	    {"late", c->late},
	    {"partialLate", c->partial_late},
	    {"replayed", c->replayed},
	    {"overflow", c->overflow},
	    {"malformed", c->malformed},
	    {"windowsEmitted", c->windows_emitted},
	    {"deadLettered", c->dead_lettered},
	    {"batches", c->batches},
	    {"commits", c->commits},
	};
	if (cJSON_AddStringToObject(o, "resource", resource != NULL ? resource : "") == NULL)
		goto fail;
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (cJSON_AddNumberToObject(o, nums[i].name, (double)nums[i].v) == NULL)
			goto fail;
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].lag > 0)
			lag += parts[i].lag;
		if (parts[i].watermark_ns != TW_TS_NONE &&
		    (!any_wm || parts[i].watermark_ns < low_wm)) {
			low_wm = parts[i].watermark_ns;
			any_wm = 1;
		}
	}
	if (cJSON_AddNumberToObject(o, "lag", (double)lag) == NULL ||
	    add_time_or_null(o, "lastWatermark", low_wm) < 0)
		goto fail;
	arr = cJSON_AddArrayToObject(o, "partitions");
	if (arr == NULL)
		goto fail;
	for (size_t i = 0; i < nparts; i++) {
		cJSON *p = cJSON_CreateObject();
		if (p == NULL)
			goto fail;
		cJSON_AddItemToArray(arr, p);
		if (cJSON_AddNumberToObject(p, "partition", parts[i].partition) == NULL ||
		    add_count_or_null(p, "committedOffset", parts[i].committed_offset) < 0 ||
		    add_count_or_null(p, "lag", parts[i].lag) < 0 ||
		    add_time_or_null(p, "maxEventTime", parts[i].max_ts_ns) < 0 ||
		    add_time_or_null(p, "watermark", parts[i].watermark_ns) < 0 ||
		    cJSON_AddNumberToObject(p, "openWindows", (double)parts[i].open_windows) ==
		        NULL)
			goto fail;
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
fail:
	cJSON_Delete(o);
	return NULL;
}

char *telemetry_snapshot_json(struct telemetry *t)
{
	struct telemetry_partition_status *ps = NULL;
	char *text;

	if (t->nparts > 0) {
		ps = calloc(t->nparts, sizeof(*ps));
		if (ps == NULL)
			return NULL;
	}
	for (size_t i = 0; i < t->nparts; i++) {
		struct tw_core_stats st;
		ps[i].partition = t->parts[i].partition;
		ps[i].committed_offset = t->parts[i].committed_offset;
		ps[i].lag = t->parts[i].lag;
		ps[i].max_ts_ns = ps[i].watermark_ns = TW_TS_NONE;
		if (tw_core_stats(t->core, t->parts[i].partition, &st) == 0) {
			ps[i].max_ts_ns = st.window.max_ts_ns;
			ps[i].watermark_ns = st.window.watermark_ns;
			ps[i].open_windows = st.window.open_windows;
		}
	}
	text = telemetry_status_json(t->resource, &t->c, ps, t->nparts);
	free(ps);
	return text;
}
