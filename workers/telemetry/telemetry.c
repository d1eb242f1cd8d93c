/* telemetry.c -- the telemetry worker's loop and life cycle: start-up (the
 * spec, the parser, the stream core, the sinks, the Kafka clients), the
 * poll loop and its housekeeping (idle ticks, lag, metrics, fetcher
 * wake-ups, pausing), the stop (drain, leave the group), and the status.
 * See telemetry.h for the flow and docs/telemetry-worker.md for what it
 * guarantees.
 *
 * The work is done by modules with one job each, wired together here:
 *
 *   tw_ingest   one message: parse, core, rows held, dead letters
 *   tw_flush    the flush and its delivery order: cut, write to the sinks,
 *               wait for the dead letters, commit (read tw_flush.h first)
 *   tw_assign   the rebalance callback: partitions created and dropped
 *   tw_dlq      the dead-letter producer
 *   tw_pause    pausing consumption, and the processing clock
 *   tw_parts    the owned partitions' commits and lags
 *   tw_health   /healthz, /readyz and the fatal error
 *   tw_metrics  the metric families, and the counters synced into them
 *   tw_status   GET /status's state, published every tick
 *
 * Each module owns its own state and counters; struct telemetry holds one
 * of each and the pointers each borrows are set once, in wire().
 */
#include "telemetry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "kafka_security.h"
#include "log.h"
#include "redis_conn.h"
#include "rowbuf.h"
#include "secret_env.h"
#include "signals.h"
#include "sink_runner.h"
#include "tw_assign.h"
#include "tw_core.h"
#include "tw_dlq.h"
#include "tw_flush.h"
#include "tw_health.h"
#include "tw_ingest.h"
#include "tw_metrics.h"
#include "tw_parse.h"
#include "tw_parts.h"
#include "tw_pause.h"
#include "tw_report.h"
#include "tw_sink.h"
#include "tw_spec.h"
#include "tw_status.h"
#include "tw_window.h"

/* tw_sinks_new makes at most three; one more health slot for the
 * dead-letter producer. */
#define SINKS_MAX 3
_Static_assert(SINKS_MAX + 1 <= TW_HEALTH_SLOTS, "a health slot per sink, and the producer's");
_Static_assert(SINKS_MAX <= TW_FLUSH_SINKS_MAX, "the flush tracks every sink");

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

struct telemetry {
	struct telemetry_options opt;
	struct tw_spec spec;
	char resource[512];
	char client_id[300];
	struct tw_parser *parser;
	struct tw_core *core;
	struct tw_sink **sinks;
	size_t nsinks;
	struct sink_runner *runners[SINKS_MAX]; /* each sink's thread */
	struct tw_report *report;               /* the status Redis; NULL: none configured */
	struct rowbuf rows;                     /* window rows and raw events held */

	rd_kafka_t *consumer;
	int closed;                              /* the consumer left the group */
	int destroy_ok;                          /* kafka_consumer_close's verdict */
	rd_kafka_queue_t *queue;                 /* the consumer's: its length is the prefetch */
	struct kafka_waker *waker;               /* wake_fetcher's requests, on their own thread */
	struct kafka_reaper *reaper;             /* destroys consumed messages, off the loop */
	size_t queued_at_wake, taken_since_wake; /* wake_fetcher's last look, and since */
	uint64_t wakes;
	int64_t last_tick, last_trim, last_lag, last_sync, last_ppoll, last_wake;
	size_t dlq_kept; /* failed dead-letter deliveries kept at the last look */
	/* The work this process did (tw_progress.h's m.<member>.*): messages
	 * taken, and the time from a poll that returned messages to the
	 * loop's next poll, in ns; busy_since is that poll's return, 0 while
	 * the loop waits. */
	uint64_t work_events;
	int64_t busy_ns, busy_since;

	struct tw_parts parts;
	struct tw_pause pause;
	struct tw_health health;
	struct tw_metrics m;
	struct tw_dlq dlq;
	struct tw_ingest in;
	struct tw_flush fl;
	struct tw_assign assign;
	struct tw_status status;
	struct metrics_registry *reg;
};

/* ==== small helpers ==== */

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

static int fatal(const struct telemetry *t)
{
	return tw_health_is_fatal(&t->health);
}

/* The processing time the core sees (tw_pause.h). */
static int64_t core_now(const struct telemetry *t)
{
	return tw_pause_now(&t->pause, clock_mono_ms());
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

int telemetry_healthz(void *arg, char *reason, size_t reason_size)
{
	struct telemetry *t = arg;

	return tw_health_check(&t->health, clock_mono_ms(), t->opt.unhealthy_after_ms, reason,
	                       reason_size);
}

int telemetry_readyz(void *arg, char *reason, size_t reason_size)
{
	struct telemetry *t = arg;

	return tw_health_ready(&t->health, reason, reason_size);
}

char *telemetry_state(void *arg)
{
	struct telemetry *t = arg;

	return tw_status_json(&t->status, clock_mono_ms());
}

/* Pauses (or resumes) every assigned partition: the sinks are behind and
 * the buffer behind the batch in flight is full, or the worker is
 * stopping. */
static void set_paused(struct telemetry *t, int pause, const char *why)
{
	char n[32];

	if (t->pause.paused == pause || tw_pause_assignment(t->consumer, pause, t->resource) < 0)
		return;
	tw_pause_mark(&t->pause, pause, clock_mono_ms());
	log_info(pause ? "consumption paused" : "consumption resumed", "resource", t->resource,
	         "reason", why, "rows_waiting", u64(n, sizeof(n), rowbuf_pending(&t->rows)), NULL);
	tw_metrics_set(&t->m, t->m.paused, NULL, pause);
}

/* Every module's counters, as totals. */
static void tally(const struct telemetry *t, struct tw_tally *s)
{
	const uint64_t *n = t->in.n;

	memset(s, 0, sizeof(*s));
	s->c.events_in = n[TW_IN_EVENTS];
	s->c.duplicates = n[TW_IN_DUPLICATES];
	s->c.late = n[TW_IN_LATE];
	s->c.partial_late = n[TW_IN_PARTIAL_LATE];
	s->c.replayed = n[TW_IN_REPLAYED];
	s->c.overflow = n[TW_IN_OVERFLOW];
	s->c.malformed = n[TW_IN_MALFORMED];
	s->c.windows_emitted = n[TW_IN_WINDOWS];
	s->c.dead_lettered = t->dlq.delivered_total;
	s->c.batches = t->fl.batches;
	s->c.commits = t->fl.commits;
	memcpy(s->malformed_by, t->in.malformed_by, sizeof(s->malformed_by));
	memcpy(s->dlq_by, t->dlq.delivered, sizeof(s->dlq_by));
	s->commit_errors = t->fl.commit_errors;
	s->fetch_wakeups = t->wakes;
	s->status_errors = tw_report_failures(t->report);
}

/* One owned partition's status from the table and the core. */
static void part_status(const struct telemetry *t, const struct tw_part *p,
                        struct telemetry_partition_status *ps)
{
	struct tw_core_stats st;

	memset(ps, 0, sizeof(*ps));
	ps->partition = p->partition;
	ps->committed_offset = p->committed_offset;
	ps->lag = p->lag;
	ps->max_ts_ns = ps->watermark_ns = TW_TS_NONE;
	if (tw_core_stats(t->core, p->partition, &st) == 0) {
		ps->max_ts_ns = st.window.max_ts_ns;
		ps->watermark_ns = st.window.watermark_ns;
		ps->open_windows = st.window.open_windows;
	}
}

/* GET /status's snapshot (tw_status.h): the counters and each partition,
 * its consumed offset from librdkafka's cached position (no request). A
 * snapshot that cannot be made leaves the last one. */
static void publish_status(struct telemetry *t)
{
	struct tw_status_part *v = calloc(t->parts.n > 0 ? t->parts.n : 1, sizeof(*v));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)t->parts.n);
	struct tw_tally s;

	if (v != NULL && l != NULL) {
		for (size_t i = 0; i < t->parts.n; i++) {
			part_status(t, &t->parts.v[i], &v[i].st);
			v[i].consumed_offset = -1;
			rd_kafka_topic_partition_list_add(l, t->spec.kafka.topic,
			                                  t->parts.v[i].partition);
		}
		if (t->consumer != NULL &&
		    rd_kafka_position(t->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR)
			for (int i = 0; i < l->cnt && (size_t)i < t->parts.n; i++)
				v[i].consumed_offset = l->elems[i].offset;
		tally(t, &s);
		(void)tw_status_publish(&t->status, &s.c, v, t->parts.n, t->pause.paused,
		                        rowbuf_held(&t->rows));
	}
	if (l != NULL)
		rd_kafka_topic_partition_list_destroy(l);
	free(v);
}

/* ==== housekeeping ==== */

static void sync_metrics(struct telemetry *t)
{
	struct tw_tally s;

	tally(t, &s);
	tw_metrics_sync(&t->m, &s);
	tw_metrics_set(&t->m, t->m.pending, NULL, (double)rowbuf_held(&t->rows));
	for (size_t i = 0; i < t->parts.n; i++) {
		struct tw_core_stats st;
		char pn[16];
		if (tw_core_stats(t->core, t->parts.v[i].partition, &st) == 0 &&
		    st.window.watermark_ns != TW_TS_NONE)
			tw_metrics_set(&t->m, t->m.watermark,
			               (const char *const[]){
			                   i64(pn, sizeof(pn), t->parts.v[i].partition), NULL},
			               (double)st.window.watermark_ns / 1e9);
	}
}

/* Lag per partition: the end offset librdkafka last saw in a fetch
 * (cached, no request) minus the committed offset, as the operator and
 * kafka-consumer-groups count it; with no commit, the whole partition. */
static void update_lag(struct telemetry *t)
{
	for (size_t i = 0; i < t->parts.n; i++) {
		struct tw_part *p = &t->parts.v[i];
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
		tw_metrics_set(&t->m, t->m.lag,
		               (const char *const[]){t->spec.kafka.topic,
		                                     i64(pn, sizeof(pn), p->partition), NULL},
		               (double)p->lag);
	}
}

/* Messages the partitions hold past what this worker has fetched: their
 * last known end offsets less its positions, less what waits in its queue.
 * From librdkafka's cached figures: no request. */
static int64_t unfetched(struct telemetry *t, size_t queued)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)t->parts.n);
	int64_t total = 0;

	for (size_t i = 0; i < t->parts.n; i++)
		rd_kafka_topic_partition_list_add(l, t->spec.kafka.topic, t->parts.v[i].partition);
	if (rd_kafka_position(t->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int i = 0; i < l->cnt; i++) {
			int64_t lo = -1, hi = -1, pos = l->elems[i].offset;
			if (rd_kafka_get_watermark_offsets(t->consumer, t->spec.kafka.topic,
			                                   l->elems[i].partition, &lo,
			                                   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
				continue;
			if (pos < 0)
				pos = t->parts.v[i].committed_offset >= 0
				          ? t->parts.v[i].committed_offset
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
	if (t->pause.paused || t->parts.n == 0 || now - t->last_wake < WAKE_MS)
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
		tw_dlq_poll(&t->dlq); /* delivery reports, failed deliveries again */
		if (kafka_fatal(t->consumer, errbuf, sizeof(errbuf)) ||
		    tw_dlq_fatal(&t->dlq, errbuf, sizeof(errbuf)))
			tw_health_set_fatal(&t->health, "kafka client", errbuf);
		/* Failed deliveries kept: the dead-letter slot fails (/healthz
		 * after --unhealthy-after) until they are all delivered. */
		size_t kept = tw_dlq_undelivered(&t->dlq);
		if (kept > 0) {
			char why[400];
			snprintf(why, sizeof(why), "%zu dead letters not delivered: %s", kept,
			         t->dlq.last_error);
			tw_health_failed(&t->health, t->nsinks, now, why);
		} else if (t->dlq_kept > 0 && tw_health_ok(&t->health, t->nsinks)) {
			log_info("dead letters delivered again", "resource", t->resource, NULL);
		}
		t->dlq_kept = kept;
	}
	if (now - t->last_tick >= TICK_MS) {
		t->last_tick = now;
		tw_core_tick(t->core, core_now(t)); /* idle advance: may emit */
		kafka_reaper_flush(t->reaper);      /* a quiet stream's last messages */
		publish_status(t);
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
		tw_flush_trim_all(&t->fl); /* started by tw_flush_step */
	}
}

static int next_wait(const struct telemetry *t, int64_t now)
{
	int64_t wait = tw_flush_wait_ms(
	    &t->fl.st, now, t->fl.last_cut + t->opt.flush_interval_ms - now, POLL_MAX_MS);
	int64_t until = t->last_tick + TICK_MS - now;

	if (wait > POLL_MAX_MS)
		wait = POLL_MAX_MS;
	if (until < wait)
		wait = until;
	return wait < 0 ? 0 : (int)wait;
}

/* ==== life cycle ==== */

/* Points every module at what it borrows; t's members have their final
 * addresses, and the parser, core, sinks and report exist. */
static void wire(struct telemetry *t)
{
	t->dlq = (struct tw_dlq){
	    .spec = &t->spec, .resource = t->resource, .health = &t->health, .pause = &t->pause};
	t->in =
	    (struct tw_ingest){.parser = t->parser,
	                       .core = t->core,
	                       .rows = &t->rows,
	                       .dlq = &t->dlq,
	                       .health = &t->health,
	                       .resource = t->resource,
	                       .raw = t->spec.sinks.influxdb.enabled && t->spec.sinks.influxdb_raw};
	t->fl = (struct tw_flush){.flush_rows = t->opt.flush_rows,
	                          .interval_ms = t->opt.flush_interval_ms,
	                          .retry_max_ms = t->opt.retry_max_ms,
	                          .topic = t->spec.kafka.topic,
	                          .resource = t->resource,
	                          .rows = &t->rows,
	                          .core = t->core,
	                          .parts = &t->parts,
	                          .runners = t->runners,
	                          .nsinks = t->nsinks,
	                          .dlq_slot = t->nsinks,
	                          .health = &t->health,
	                          .dlq = &t->dlq,
	                          .metrics = &t->m,
	                          .report = t->report,
	                          .rng = (unsigned)getpid() ^ (unsigned)clock_mono_ms()};
	t->assign = (struct tw_assign){.resource = t->resource,
	                               .parts = &t->parts,
	                               .core = t->core,
	                               .rows = &t->rows,
	                               .flush = &t->fl,
	                               .report = t->report,
	                               .pause = &t->pause,
	                               .health = &t->health,
	                               .metrics = &t->m};
}

/* The name this process's work goes under in the status Redis: the pod
 * (POD_NAME, HOSTNAME), else the host and the process id (two processes
 * on one host, or pods on the host network, stay apart). */
static int report_member(struct telemetry *t, char *errbuf, size_t errbuf_size)
{
	const char *pod = getenv("POD_NAME");
	char member[TW_PROGRESS_MEMBER_MAX + 1], host[200];

	if (pod == NULL || pod[0] == '\0')
		pod = getenv("HOSTNAME");
	if (pod != NULL && pod[0] != '\0' && strlen(pod) <= TW_PROGRESS_MEMBER_MAX) {
		snprintf(member, sizeof(member), "%s", pod);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(member, sizeof(member), "%s-%ld", host, (long)getpid());
	}
	if (tw_report_set_member(t->report, member) != 0)
		return err_set(errbuf, errbuf_size, TELEMETRY_ERR, "telemetry: out of memory");
	return 0;
}

/* The loop is about to wait for messages: the busy time since the poll
 * that returned some ends here, and the report's figures are brought up
 * to date (both at this one moment, so they agree). */
static void busy_end(struct telemetry *t)
{
	if (t->busy_since == 0)
		return;
	int64_t now = clock_mono_ns();
	if (now > t->busy_since)
		t->busy_ns += now - t->busy_since;
	t->busy_since = 0;
	tw_report_set_work(t->report, (int64_t)t->work_events, t->busy_ns / 1000000);
}

/* The status Redis (docs/contracts.md §3): SLUICE_STATUS_REDIS with the
 * credentials of SLUICE_STATUS_REDIS_USERNAME and _PASSWORD, else the Redis
 * sink's address and credentials. Returns 0 (t->report NULL when there is
 * none) or TELEMETRY_ERR. */
static int open_report(struct telemetry *t, char *errbuf, size_t errbuf_size)
{
	const char *addr = getenv("SLUICE_STATUS_REDIS");
	struct redis_auth auth = redis_conn_status_auth();
	char why[256], var[512];

	if ((addr == NULL || addr[0] == '\0') && t->spec.sinks.redis.enabled) {
		const struct spec_secret_ref *pw = &t->spec.sinks.redis.password;

		addr = t->spec.sinks.redis.addr;
		auth.user = t->spec.sinks.redis.username;
		auth.password =
		    pw->name != NULL ? secret_env_get(pw->name, pw->key, var, sizeof(var)) : NULL;
	}
	if (addr == NULL || addr[0] == '\0')
		return 0;
	t->report = tw_report_new(addr, t->spec.namespace, t->spec.name, why, sizeof(why));
	if (t->report == NULL)
		return err_set(errbuf, errbuf_size, TELEMETRY_ERR,
		               "telemetry: SLUICE_STATUS_REDIS: %s", why);
	if (tw_report_set_auth(t->report, auth.user, auth.password) != 0)
		return err_set(errbuf, errbuf_size, TELEMETRY_ERR, "telemetry: out of memory");
	return report_member(t, errbuf, errbuf_size);
}

int telemetry_new(const struct telemetry_options *o, struct telemetry **out, char *errbuf,
                  size_t errbuf_size)
{
	struct telemetry *t = calloc(1, sizeof(*t));
	struct tw_parser_spec ps;
	struct tw_core_config cc;
	char host[256] = "localhost";

	*out = NULL;
	if (t == NULL)
		return err_set(errbuf, errbuf_size, TELEMETRY_ERR, "telemetry: out of memory");
	t->opt = *o;
	if (tw_health_init(&t->health, t->resource) < 0) {
		free(t);
		return err_set(errbuf, errbuf_size, TELEMETRY_ERR,
		               "telemetry: cannot create a mutex");
	}
	rowbuf_init(&t->rows);
	if (o->spec_path == NULL || o->spec_path[0] == '\0') {
		err_set(errbuf, errbuf_size, TELEMETRY_ERR,
		        "telemetry: --config FILE (the TelemetryWindow) is required");
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
	/* The core emits into t->in, which wire() fills before any event. */
	t->core = tw_core_new(&cc, tw_ingest_emit, &t->in, errbuf, errbuf_size);
	if (t->core == NULL)
		goto fail;
	if (tw_sinks_new(&t->spec, &t->sinks, &t->nsinks, errbuf, errbuf_size) < 0) {
		t->sinks = NULL;
		t->nsinks = 0;
		goto fail;
	}
	if (t->nsinks > SINKS_MAX) {
		err_set(errbuf, errbuf_size, TELEMETRY_ERR, "telemetry: %zu sinks, at most %d",
		        t->nsinks, SINKS_MAX);
		goto fail;
	}
	if (open_report(t, errbuf, errbuf_size) < 0)
		goto fail;
	/* Health slots: the sinks 0..nsinks-1, then the dead-letter producer
	 * (SINKS_MAX + 1 fit, checked above). */
	for (size_t i = 0; i < t->nsinks; i++)
		(void)tw_health_add(&t->health, tw_sink_name(t->sinks[i]));
	(void)tw_health_add(&t->health, "dead-letter producer");
	if (tw_status_init(&t->status, t->resource, t->spec.kafka.topic, &t->health, t->nsinks) <
	    0) {
		err_set(errbuf, errbuf_size, TELEMETRY_ERR, "telemetry: cannot create a mutex");
		goto fail;
	}
	if (o->client_id != NULL && o->client_id[0] != '\0') {
		snprintf(t->client_id, sizeof(t->client_id), "%s", o->client_id);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(t->client_id, sizeof(t->client_id), "sluice-worker-%s", host);
	}
	wire(t);
	*out = t;
	return 0;
fail:
	telemetry_free(t);
	return TELEMETRY_ERR;
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
	t->reg = reg;
	if (reg != NULL &&
	    tw_metrics_register(&t->m, reg, t->health.names, t->nsinks, errbuf, errbuf_size) < 0)
		return TELEMETRY_ERR;
	if (tw_dlq_start(&t->dlq, t->client_id, t->opt.create_dlq_topic, errbuf, errbuf_size) < 0)
		return TELEMETRY_ERR;
	struct kafka_security sec;
	if (spec_kafka_security_env(&t->spec.kafka, &sec, errbuf, errbuf_size) < 0)
		return TELEMETRY_ERR;
	struct kafka_config cc = {.bootstrap = t->spec.kafka.bootstrap,
	                          .security = &sec,
	                          .client_id = t->client_id,
	                          .group = t->spec.kafka.group,
	                          .session_timeout_ms = (int)t->opt.session_timeout_ms};
	t->consumer = kafka_consumer_new(&cc, tw_assign_rebalance, &t->assign, errbuf, errbuf_size);
	if (t->consumer == NULL)
		return TELEMETRY_ERR;
	t->fl.consumer = t->consumer;
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
	int64_t now = clock_mono_ms();
	int64_t deadline = now + t->opt.shutdown_timeout_ms;

	set_paused(t, 1, "stopping");
	while (!fatal(t) && now < deadline) {
		if (!tw_flush_active(&t->fl)) {
			if (rowbuf_pending(&t->rows) == 0 && !tw_flush_changed(&t->fl))
				break;
			tw_flush_cut(&t->fl, now);
		}
		tw_flush_advance(&t->fl, now);
		if (!tw_flush_active(&t->fl) && rowbuf_pending(&t->rows) == 0)
			break;
		/* Serve rebalances meanwhile; a message that still arrives is
		 * not processed and not committed: the next owner reads it. A
		 * finished write wakes the poll. */
		int64_t wait = tw_flush_wait_ms(&t->fl.st, now, 0, POLL_MAX_MS);
		if (wait > POLL_MAX_MS)
			wait = POLL_MAX_MS;
		rd_kafka_message_t *m =
		    rd_kafka_consumer_poll(t->consumer, wait > 0 ? (int)wait : 0);
		if (m != NULL)
			rd_kafka_message_destroy(m);
		now = clock_mono_ms();
	}
	if (tw_flush_active(&t->fl) || rowbuf_pending(&t->rows) > 0) {
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
	 * instead of letting the session time out; a consumer still joining
	 * waits for its first assignment (librdkafka#4312, lib/kafka.h). */
	if (kafka_consumer_close(t->consumer, &t->assign.assigned, KAFKA_CLOSE_WAIT_MS,
	                         &t->destroy_ok, text, sizeof(text)) < 0)
		log_warn("consumer close failed", "resource", t->resource, "error", text, NULL);
}

/* m, then what is queued behind it, up to POLL_BURST messages, on one
 * reading of the clock: a poll that may wait reads it four times, and this
 * loop did as often, for every message. */
static void take_burst(struct telemetry *t, rd_kafka_message_t *m)
{
	int64_t now = core_now(t);

	for (int n = 0; m != NULL; m = rd_kafka_consumer_poll(t->consumer, 0)) {
		t->taken_since_wake++;
		t->work_events++;
		if (!fatal(t))
			tw_ingest_message(&t->in, m, now);
		kafka_reaper_put(t->reaper, m); /* freed off this thread */
		if (++n == POLL_BURST || fatal(t) || t->pause.paused)
			break;
	}
}

int telemetry_run(struct telemetry *t)
{
	int64_t now = clock_mono_ms();
	int left;

	t->fl.last_cut = t->last_tick = t->last_trim = t->last_lag = t->last_sync = now;
	publish_status(t);
	while (!signals_stop_requested() && !fatal(t)) {
		now = clock_mono_ms();
		housekeeping(t, now);
		int was_paused = t->pause.paused;
		now = clock_mono_ms();
		tw_flush_step(&t->fl, now);
		if (!was_paused) /* committing (and waiting for dead letters), not reading */
			tw_pause_stalled(&t->pause, clock_mono_ms() - now);
		if (fatal(t))
			break;
		int behind = tw_flush_active(&t->fl);
		/* A dead letter whose delivery failed stops the reading too: what
		 * comes next would only add to what cannot be committed. */
		int undelivered = tw_dlq_undelivered(&t->dlq) > 0;
		set_paused(t,
		           undelivered || (behind && rowbuf_pending(&t->rows) >= t->opt.buffer_max),
		           undelivered ? "dead letters not delivered"
		           : behind    ? "the sinks are behind"
		                       : "the sinks caught up");
		wake_fetcher(t, now);
		busy_end(t);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(t->consumer, next_wait(t, now));
		if (m != NULL) {
			t->busy_since = clock_mono_ns();
			take_burst(t, m);
		}
	}
	busy_end(t);
	if (!fatal(t)) {
		log_info("stopping: flushing what is held", "resource", t->resource, NULL);
		drain(t);
	}
	sync_metrics(t);
	char *status = telemetry_snapshot_json(t);
	close_consumer(t);
	if (tw_dlq_wait(&t->dlq, 5000, &left) < 0) {
		char n[16];
		log_warn("dead letters not delivered at exit (their messages were not committed)",
		         "resource", t->resource, "count", i64(n, sizeof(n), left), NULL);
	}
	if (t->report != NULL) { /* this process's work goes with it */
		char why[512];
		if (tw_report_forget_member(t->report, why, sizeof(why)) < 0)
			log_warn("status redis: this worker's work fields not removed", "resource",
			         t->resource, "error", why, NULL);
	}
	log_info("telemetry worker stopped", "resource", t->resource, "status",
	         status != NULL ? status : "", NULL);
	free(status);
	return fatal(t) ? TELEMETRY_ERR : 0;
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
		kafka_consumer_destroy(t->consumer, t->destroy_ok);
	}
	tw_dlq_close(&t->dlq);
	if (t->reg != NULL)
		(void)tw_sinks_set_metrics(NULL); /* the registry may go before the next user */
	tw_sinks_free(t->sinks, t->nsinks);
	tw_report_free(t->report);
	tw_core_free(t->core);
	tw_parser_free(t->parser);
	tw_spec_free(&t->spec);
	rowbuf_free(&t->rows);
	tw_flush_free(&t->fl);
	tw_parts_free(&t->parts);
	tw_status_destroy(&t->status);
	tw_health_destroy(&t->health);
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
	struct tw_tally s;
	char *text;

	if (t->parts.n > 0) {
		ps = calloc(t->parts.n, sizeof(*ps));
		if (ps == NULL)
			return NULL;
	}
	for (size_t i = 0; i < t->parts.n; i++)
		part_status(t, &t->parts.v[i], &ps[i]);
	tally(t, &s);
	text = telemetry_status_json(t->resource, &s.c, ps, t->parts.n);
	free(ps);
	return text;
}
