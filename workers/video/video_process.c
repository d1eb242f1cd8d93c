/* video_process.c -- the `process` worker's loop: Kafka task in, segment
 * out, sinks written, offset committed last. video_process.h has the order
 * of the steps and why; docs/video-process.md how to run it. */
#include "video_process.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>
#include <libpq-fe.h>
#include <cjson/cJSON.h>

#include "clock.h"
#include "dlq.h"
#include "kafka.h"
#include "kafka_security.h"
#include "log.h"
#include "secret_env.h"
#include "signals.h"
#include "influx_client.h"
#include "lineproto.h"
#include "video_db.h"
#include "vj_progress.h"
#include "vj_spec.h"
#include "vj_task.h"

/* A poll never sleeps longer, so a stop request is seen quickly. */
#define POLL_MS 200
/* InfluxDB: a throughput point is a metric, not the job's result: a few
 * tries, then it is dropped with a warning (at once when it is rejected or
 * the sink's configuration cannot work). */
#define INFLUX_TRIES 3
#define INFLUX_TIMEOUT_S 10
/* How long one dead letter may take to be delivered before it is retried. */
#define DLQ_FLUSH_MS 10000
/* Segments can take minutes at high resolutions; librdkafka's 5 min
 * default would make a slow segment look like a dead member. */
#define MAX_POLL_INTERVAL "900000"

#define DLQ_KIND_FAILED "failed"

enum { DLQ_NONE, DLQ_PENDING, DLQ_DELIVERED, DLQ_FAILED };

struct pmetrics {
	struct metrics_family *segments, *frames, *failures, *corrupt, *seconds, *busy;
};

/* GET /status's state (video_process_state): the loop writes it, the HTTP
 * thread reads it, both under mu. */
struct pstate_v {
	int running; /* a segment is being encoded */
	int32_t segment, segments, attempt;
	int64_t frames;     /* encoded so far in this try */
	int64_t started_ns; /* wall clock */
	char source[KAFKA_SOURCE_MAX];
	uint64_t done, failed, retried, skipped, malformed, frames_total;
};

struct pstate {
	pthread_mutex_t mu;
	struct pstate_v v;
};

struct video_process {
	struct video_process_options opt;
	struct vj_spec spec;
	char job[VJ_TASK_JOB_MAX + 1];
	char client_id[300];

	rd_kafka_t *consumer, *producer;
	int closed;
	int destroy_ok; /* kafka_consumer_close's verdict */
	int ready;      /* read by the HTTP thread: __atomic */
	int dlq_state;  /* the dead letter in flight: DLQ_NONE, _PENDING, _DELIVERED, _FAILED */

	PGconn *pg;
	redisContext *redis;

	struct influx_client *influx; /* NULL: no InfluxDB sink */

	struct vseg_frame *rows;
	size_t nrows, cap_rows;
	int rows_failed;

	struct pmetrics m;
	int metrics_warned;
	struct pstate st;
};

/* ==== pure parts ==== */

int64_t vproc_backoff_ms(int attempt, int64_t cap_ms)
{
	int64_t d = 1000;

	for (int i = 1; i < attempt && d < cap_ms; i++)
		d *= 2;
	return d < cap_ms ? d : cap_ms;
}

int vproc_copy_row(char *buf, size_t size, const char *job, int32_t segment,
                   const struct vseg_frame *row)
{
	return video_db_copy_row(buf, size, job, segment, VJ_ANALYSIS_ALL, row);
}

/* ==== small helpers ==== */

static const char *i64s(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%" PRId64, v);
	return buf;
}

static void madd(struct video_process *p, struct metrics_family *f, const char *const labels[],
                 double v)
{
	if (f != NULL && metrics_add(f, labels, v) < 0 && !p->metrics_warned) {
		p->metrics_warned = 1;
		log_warn("cannot update a metric (further failures are not logged)", NULL);
	}
}

static void count_segment(struct video_process *p, const char *result)
{
	madd(p, p->m.segments, (const char *const[]){result, NULL}, 1);
	pthread_mutex_lock(&p->st.mu);
	if (strcmp(result, "done") == 0)
		p->st.v.done++;
	else if (strcmp(result, "failed") == 0)
		p->st.v.failed++;
	else if (strcmp(result, "retried") == 0)
		p->st.v.retried++;
	else if (strcmp(result, "skipped") == 0)
		p->st.v.skipped++;
	else
		p->st.v.malformed++;
	pthread_mutex_unlock(&p->st.mu);
}

/* The segment in progress for /status: started (running 1) or over (0,
 * frames added to the total). */
static void state_segment(struct video_process *p, int running, const struct vj_task *t,
                          int attempt, const char *source, int64_t frames_done)
{
	pthread_mutex_lock(&p->st.mu);
	p->st.v.running = running;
	if (running) {
		p->st.v.segment = t->segment;
		p->st.v.segments = t->segments;
		p->st.v.attempt = attempt;
		p->st.v.frames = 0;
		p->st.v.started_ns = clock_real_ns();
		snprintf(p->st.v.source, sizeof(p->st.v.source), "%s", source);
	}
	p->st.v.frames_total += (uint64_t)(frames_done > 0 ? frames_done : 0);
	pthread_mutex_unlock(&p->st.mu);
}

/* Sleeps ms unless a stop is requested; returns 1 when it is. */
static int nap(int64_t ms)
{
	return signals_wait((int)ms) == 1;
}

void video_process_options_default(struct video_process_options *o)
{
	memset(o, 0, sizeof(*o));
	o->retry_max_ms = 30000;
	o->create_dlq_topic = 1;
}

/* FFmpeg's own log lines as JSON lines at the matching level (warnings and
 * errors only: the rest is decoder chatter). */
static void on_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
	static int print_prefix = 1;
	char line[1024];

	if (level > AV_LOG_WARNING)
		return;
	av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	line[strcspn(line, "\n")] = '\0';
	if (line[0] == '\0')
		return;
	log_msg(level <= AV_LOG_ERROR ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "ffmpeg", "detail", line,
	        NULL);
}

/* ==== PostgreSQL ==== */

static int pg_ensure(struct video_process *p, char *errbuf, size_t errbuf_size)
{
	if (p->pg != NULL && PQstatus(p->pg) == CONNECTION_OK)
		return 0;
	if (p->pg != NULL) {
		PQfinish(p->pg);
		p->pg = NULL;
	}
	p->pg = video_db_connect_spec(&p->spec, errbuf, errbuf_size);
	return p->pg != NULL ? 0 : -1;
}

/* Step 3: the segment's rows replaced (only the measures spec.analysis
 * asks for; none at all for an empty list) and the segment marked done, in
 * one transaction. */
static int pg_write_segment(struct video_process *p, const struct vj_task *t, int64_t frames,
                            char *errbuf, size_t errbuf_size)
{
	if (pg_ensure(p, errbuf, errbuf_size) < 0)
		return -1;
	return video_db_segment_finish(p->pg, p->spec.sinks.postgres.table, t->job, t->segment,
	                               p->spec.analysis, p->rows, p->nrows, frames, errbuf,
	                               errbuf_size);
}

/* ==== Redis ==== */

static int redis_ensure(struct video_process *p, char *errbuf, size_t errbuf_size)
{
	if (p->redis != NULL && p->redis->err == 0)
		return 0;
	if (p->redis != NULL) {
		redisFree(p->redis);
		p->redis = NULL;
	}
	p->redis = vj_progress_connect_spec(&p->spec, errbuf, errbuf_size);
	return p->redis != NULL ? 0 : -1;
}

/* ==== InfluxDB (the store's client: influx_client.h) ==== */

static void influx_point(struct video_process *p, const struct vj_task *t,
                         const struct vseg_result *r)
{
	struct buf b;
	char errbuf[512] = "";

	if (p->influx == NULL)
		return;
	const int64_t now_ns = clock_real_ns();
	const struct lp_tag tags[] = {
	    {.key = "job", .value = t->job, .value_len = strlen(t->job)},
	    {.key = "worker", .value = p->client_id, .value_len = strlen(p->client_id)},
	};
	const struct lp_field fields[] = {
	    {.key = "segment", .type = LP_INT, .v.i = t->segment},
	    {.key = "frames", .type = LP_INT, .v.i = r->frames},
	    {.key = "seconds", .type = LP_FLOAT, .v.f = r->seconds},
	    {.key = "fps",
	     .type = LP_FLOAT,
	     .v.f = r->seconds > 0 ? (double)r->frames / r->seconds : 0},
	    {.key = "bytes", .type = LP_INT, .v.i = r->bytes},
	    {.key = "corrupt_packets", .type = LP_INT, .v.i = r->corrupt_packets},
	};
	const struct lp_point pt = {.measurement = "sluice_vj_segments",
	                            .tags = tags,
	                            .n_tags = 2,
	                            .fields = fields,
	                            .n_fields = 6,
	                            .ts_ns = now_ns,
	                            .has_ts = 1};
	buf_init(&b, 4096);
	if (lp_append(&b, &pt, errbuf, sizeof(errbuf)) < 0) {
		log_warn("influxdb point not built", "job", t->job, "error", errbuf, NULL);
		buf_free(&b);
		return;
	}
	for (int attempt = 0; attempt < INFLUX_TRIES; attempt++) {
		int rc = influx_client_write(p->influx, b.data, b.len, errbuf, sizeof(errbuf));

		if (rc == INFLUX_OK)
			break;
		/* Rejected, or a configuration that will not change: no use
		 * trying again. */
		if (rc == INFLUX_REJECT || rc == INFLUX_CONFIG || attempt + 1 >= INFLUX_TRIES) {
			log_warn("throughput point not written to influxdb (dropped)", "job",
			         t->job, "error", errbuf, NULL);
			break;
		}
		if (nap(500))
			break;
	}
	buf_free(&b);
}

static int influx_setup(struct video_process *p, char *errbuf, size_t errbuf_size)
{
	const char *token = NULL;
	char var[256];

	if (!p->spec.sinks.influxdb.enabled)
		return 0;
	if (p->spec.sinks.influxdb.token.name != NULL) {
		token = secret_env_get(p->spec.sinks.influxdb.token.name,
		                       p->spec.sinks.influxdb.token.key, var, sizeof(var));
		if (token == NULL) {
			snprintf(errbuf, errbuf_size,
			         "spec.sinks.influxdb.token: environment variable %s is not set",
			         var);
			return VPROC_ERR;
		}
	}
	const struct influx_client_options o = {
	    .url = p->spec.sinks.influxdb.url,
	    .api = (int)p->spec.sinks.influxdb.api,
	    .db = p->spec.sinks.influxdb.database,
	    .org = p->spec.sinks.influxdb.org,
	    .token = token,
	    .timeout_s = INFLUX_TIMEOUT_S,
	    .log_key = "job",
	    .log_value = p->job,
	};
	if (influx_client_open(&o, &p->influx, errbuf, errbuf_size) < 0)
		return VPROC_ERR;
	return 0;
}

/* ==== Kafka ==== */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct video_process *p = opaque;
	char errbuf[256], n[16];

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (kafka_rebalance_assign(rk, parts, errbuf, sizeof(errbuf)) < 0)
			log_error("cannot take the assigned partitions", "job", p->job, "error",
			          errbuf, NULL);
		else
			log_info("partitions assigned", "job", p->job, "count",
			         i64s(n, sizeof(n), parts->cnt), NULL);
		__atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
		return;
	}
	if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		log_error("rebalance failed: dropping every partition", "job", p->job, "error",
		          kafka_strerror(errbuf, sizeof(errbuf), err), NULL);
	if (kafka_rebalance_revoke(rk, parts, errbuf, sizeof(errbuf)) < 0)
		log_error("cannot give partitions back", "job", p->job, "error", errbuf, NULL);
	else
		log_info("partitions revoked", "job", p->job, "count",
		         i64s(n, sizeof(n), parts->cnt), NULL);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct video_process *p = opaque;

	(void)rk;
	p->dlq_state = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR ? DLQ_DELIVERED : DLQ_FAILED;
}

/* Sends the task to the dead-letter topic and waits for its delivery,
 * retrying until it is delivered or a stop is requested: a dead letter
 * still in flight (its partition has no leader yet) is waited for again,
 * produced again only once its delivery report says it failed
 * (message.timeout.ms, SLUICE_KAFKA_MESSAGE_TIMEOUT_MS), so a slow broker
 * does not get it twice. Meanwhile no task is read and nothing committed.
 * 0 once delivered, -1 when stopped first. */
static int dead_letter(struct video_process *p, const rd_kafka_message_t *m, const char *kind,
                       const char *reason)
{
	char src[KAFKA_SOURCE_MAX], text[256];

	kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	p->dlq_state = DLQ_NONE;
	for (int attempt = 1;; attempt++) {
		rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
		if (p->dlq_state != DLQ_PENDING) {
			err = rd_kafka_producev(
			    p->producer, RD_KAFKA_V_TOPIC(p->spec.kafka.dead_letter_topic),
			    RD_KAFKA_V_KEY(m->key, m->key_len),
			    RD_KAFKA_V_VALUE(m->payload, m->len),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_HEADER(DLQ_HEADER_REASON, reason, (ssize_t)strlen(reason)),
			    RD_KAFKA_V_HEADER(DLQ_HEADER_KIND, kind, (ssize_t)strlen(kind)),
			    RD_KAFKA_V_HEADER(DLQ_HEADER_SOURCE, src, (ssize_t)strlen(src)),
			    RD_KAFKA_V_HEADER(DLQ_HEADER_RESOURCE, p->job, (ssize_t)strlen(p->job)),
			    RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				p->dlq_state = DLQ_PENDING;
		}
		if (p->dlq_state == DLQ_PENDING)
			(void)rd_kafka_flush(p->producer,
			                     DLQ_FLUSH_MS); /* the report sets the state */
		if (p->dlq_state == DLQ_DELIVERED) {
			log_warn("task dead-lettered", "job", p->job, "source", src, "kind", kind,
			         "reason", reason, "topic", p->spec.kafka.dead_letter_topic, NULL);
			return 0;
		}
		log_warn("dead letter not delivered: retrying", "job", p->job, "source", src,
		         "error",
		         err != RD_KAFKA_RESP_ERR_NO_ERROR ? kafka_strerror(text, sizeof(text), err)
		         : p->dlq_state == DLQ_FAILED      ? "delivery failed: produced again"
		                                           : "not delivered yet",
		         NULL);
		if (nap(vproc_backoff_ms(attempt, p->opt.retry_max_ms)))
			return -1;
	}
}

/* ==== one task ==== */

static int on_row(void *arg, const struct vseg_frame *row)
{
	struct video_process *p = arg;

	if (p->nrows == p->cap_rows) {
		size_t ncap = p->cap_rows ? p->cap_rows * 2 : 256;
		struct vseg_frame *r = realloc(p->rows, ncap * sizeof(*r));
		if (r == NULL) {
			p->rows_failed = 1;
			return 1;
		}
		p->rows = r;
		p->cap_rows = ncap;
	}
	p->rows[p->nrows++] = *row;
	pthread_mutex_lock(&p->st.mu);
	p->st.v.frames = (int64_t)p->nrows;
	pthread_mutex_unlock(&p->st.mu);
	return 0;
}

static int stop_requested(void *arg)
{
	(void)arg;
	return signals_stop_requested();
}

/* Marks the segment failed everywhere and dead-letters the task. 0, or
 * -1 when stopped before it was all done (nothing to commit then). */
static int fail_segment(struct video_process *p, const rd_kafka_message_t *m,
                        const struct vj_task *t, const char *reason)
{
	char errbuf[1024], job_reason[VJ_PROGRESS_REASON_MAX];

	/* The job cannot succeed without this segment: it fails with the
	 * segment's reason (the operator shows meta.failed). */
	snprintf(job_reason, sizeof(job_reason), "segment %" PRId32 " failed: %s", t->segment,
	         reason);
	for (int attempt = 1;; attempt++) {
		int ok =
		    pg_ensure(p, errbuf, sizeof(errbuf)) == 0 &&
		    video_db_segment_failed(p->pg, t->job, t->segment, reason, errbuf,
		                            sizeof(errbuf)) == 0 &&
		    video_db_job_state(p->pg, t->job, "failed", job_reason, errbuf,
		                       sizeof(errbuf)) == 0 &&
		    redis_ensure(p, errbuf, sizeof(errbuf)) == 0 &&
		    vj_progress_segment_failed(p->redis, p->spec.namespace, p->spec.name,
		                               t->segment, reason, errbuf, sizeof(errbuf)) == 0 &&
		    vj_progress_job_failed(p->redis, p->spec.namespace, p->spec.name, job_reason,
		                           errbuf, sizeof(errbuf)) == 0;
		if (ok)
			break;
		log_warn("cannot record a failed segment: retrying", "job", p->job, "error", errbuf,
		         NULL);
		if (nap(vproc_backoff_ms(attempt, p->opt.retry_max_ms)))
			return -1;
	}
	count_segment(p, "failed");
	return dead_letter(p, m, DLQ_KIND_FAILED, reason);
}

/* Steps 3 and 4, retried until they hold or a stop is requested. */
static int persist(struct video_process *p, const struct vj_task *t, const struct vseg_result *r)
{
	char errbuf[1024];

	for (int attempt = 1;; attempt++) {
		if (pg_write_segment(p, t, r->frames, errbuf, sizeof(errbuf)) == 0 &&
		    redis_ensure(p, errbuf, sizeof(errbuf)) == 0 &&
		    vj_progress_segment_done(p->redis, p->spec.namespace, p->spec.name, t->segment,
		                             r->frames, errbuf, sizeof(errbuf)) == 0)
			break;
		log_warn("cannot record a finished segment: retrying", "job", p->job, "error",
		         errbuf, NULL);
		if (nap(vproc_backoff_ms(attempt, p->opt.retry_max_ms)))
			return -1;
	}
	influx_point(p, t, r);
	return 0;
}

/* Whether the segment is already done (state and frames from PostgreSQL)
 * and its file is in place: a redelivery after the rows were committed but
 * before the offset was. 1 yes (frames in *frames), 0 no, -1 unknown. */
static int already_done(struct video_process *p, const struct vj_task *t, int64_t *frames)
{
	char seg[16], errbuf[512], path[VJ_TASK_URI_MAX + 1];
	const char *params[] = {t->job, seg};
	const char *file = vj_spec_file_path(t->output);
	int rc = 0;

	if (pg_ensure(p, errbuf, sizeof(errbuf)) < 0)
		return -1;
	snprintf(seg, sizeof(seg), "%" PRId32, t->segment);
	PGresult *r = PQexecParams(p->pg,
	                           "SELECT frames_done FROM video_segments WHERE job = $1 AND "
	                           "idx = $2 AND state = 'done'",
	                           2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -1;
	}
	snprintf(path, sizeof(path), "%s", file != NULL ? file : t->output);
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && access(path, R_OK) == 0) {
		*frames = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rc = 1;
	}
	PQclear(r);
	return rc;
}

/* Counts an attempt in PostgreSQL, retrying while it is away. 0 with
 * *attempts set, -1 when stopped, -2 when the segment is not in the plan
 * (or another error the server will repeat). */
static int count_attempt(struct video_process *p, const struct vj_task *t, int32_t *attempts,
                         char *errbuf, size_t errbuf_size)
{
	for (int attempt = 1;; attempt++) {
		if (pg_ensure(p, errbuf, errbuf_size) == 0) {
			if (video_db_segment_attempt(p->pg, t->job, t->segment, attempts, errbuf,
			                             errbuf_size) == 0)
				return 0;
			/* Connected and refused: a segment missing from the plan. */
			if (PQstatus(p->pg) == CONNECTION_OK)
				return -2;
		}
		log_warn("cannot count the attempt: retrying", "job", p->job, "error", errbuf,
		         NULL);
		if (nap(vproc_backoff_ms(attempt, p->opt.retry_max_ms)))
			return -1;
	}
}

/* Handles one task message. Returns 1 when its offset may be committed,
 * 0 when not (a stop came first). */
static int handle_task(struct video_process *p, const rd_kafka_message_t *m)
{
	struct vj_task *t = malloc(sizeof(*t));
	char errbuf[1024], src[KAFKA_SOURCE_MAX], n1[24], n2[24], n3[24];
	int ret = 0;

	kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	if (t == NULL)
		return 0;
	if (vj_task_decode(m->payload, m->len, t, errbuf, sizeof(errbuf)) < 0 ||
	    (strcmp(t->job, p->job) != 0 &&
	     snprintf(errbuf, sizeof(errbuf), "task of job \"%s\" on the topic of \"%s\"", t->job,
	              p->job) > 0)) {
		count_segment(p, "malformed");
		ret = dead_letter(p, m, DLQ_KIND_MALFORMED, errbuf) == 0;
		free(t);
		return ret;
	}
	struct vseg_request req;
	vseg_request_init(&req);
	req.source = t->source;
	req.segment = t->segment;
	req.stream_index = t->stream;
	req.start_pts = t->start_pts;
	/* The last segment runs to the stream's end, whatever times its
	 * last frames come out with: a source planned whole (video_probe.h)
	 * gets its times from the decoder, after split's packet times. */
	req.end_pts = t->segment == t->segments - 1 ? VSEG_END_OPEN : t->end_pts;
	req.filters = p->spec.filters;
	req.encoder.codec = p->spec.encoder.codec;
	req.encoder.crf = p->spec.encoder.crf;
	req.encoder.preset = p->spec.encoder.preset;
	req.encoder.threads = p->opt.encoder_threads;
	req.decoder_threads = p->opt.decoder_threads;
	req.filter_threads = p->opt.filter_threads;
	req.output = t->output;
	/* spec.analysis: the measures computed and written; none, no rows. */
	req.analysis = p->spec.analysis;
	req.on_frame = p->spec.analysis != 0 ? on_row : NULL;
	req.frame_arg = p;
	req.cancel = stop_requested;

	int64_t done_frames = 0;
	if (already_done(p, t, &done_frames) == 1) {
		/* Done before the crash or rebalance that redelivered it: set
		 * the progress again (the write that may have been lost) and
		 * move on. */
		for (int attempt = 1;; attempt++) {
			if (redis_ensure(p, errbuf, sizeof(errbuf)) == 0 &&
			    vj_progress_segment_done(p->redis, p->spec.namespace, p->spec.name,
			                             t->segment, done_frames, errbuf,
			                             sizeof(errbuf)) == 0) {
				ret = 1;
				break;
			}
			if (nap(vproc_backoff_ms(attempt, p->opt.retry_max_ms)))
				break;
		}
		count_segment(p, "skipped");
		log_info("segment already done: redelivery skipped", "job", p->job, "segment",
		         i64s(n1, sizeof(n1), t->segment), "source", src, NULL);
		free(t);
		return ret;
	}
	for (int attempt = 1;; attempt++) {
		int32_t attempts = 0;
		int rc = count_attempt(p, t, &attempts, errbuf, sizeof(errbuf));
		if (rc == -1)
			break;
		if (rc == -2) {
			/* Not in the plan: nothing to mark, the task is poison. */
			count_segment(p, "malformed");
			ret = dead_letter(p, m, DLQ_KIND_MALFORMED, errbuf) == 0;
			break;
		}
		if (attempts > p->spec.max_attempts) {
			/* Earlier tries died with their worker (a crash, kill -9). */
			snprintf(errbuf, sizeof(errbuf),
			         "segment %" PRId32 ": gave up after %d attempts (earlier attempts "
			         "did not finish: the worker stopped or crashed)",
			         t->segment, p->spec.max_attempts);
			ret = fail_segment(p, m, t, errbuf) == 0;
			break;
		}
		struct vseg_result res;
		p->nrows = 0;
		p->rows_failed = 0;
		log_info("segment started", "job", p->job, "segment",
		         i64s(n1, sizeof(n1), t->segment), "attempt",
		         i64s(n2, sizeof(n2), attempts), "source", src, NULL);
		if (p->m.busy != NULL)
			(void)metrics_set(p->m.busy, NULL, 1);
		state_segment(p, 1, t, attempts, src, 0);
		rc = vseg_run(&req, &res, errbuf, sizeof(errbuf));
		state_segment(p, 0, t, attempts, src, rc == 0 ? res.frames : 0);
		if (p->m.busy != NULL)
			(void)metrics_set(p->m.busy, NULL, 0);
		madd(p, p->m.corrupt, NULL, (double)res.corrupt_packets);
		if (rc == VSEG_E_CANCELLED) {
			log_info("segment abandoned: stopping", "job", p->job, "segment",
			         i64s(n1, sizeof(n1), t->segment), NULL);
			break;
		}
		if (rc == 0) {
			if (p->m.seconds != NULL)
				(void)metrics_observe(p->m.seconds, NULL, res.seconds);
			if (persist(p, t, &res) < 0)
				break;
			madd(p, p->m.frames, NULL, (double)res.frames);
			count_segment(p, "done");
			char secs[32], fps[32];
			snprintf(secs, sizeof(secs), "%.3f", res.seconds);
			snprintf(fps, sizeof(fps), "%.1f",
			         res.seconds > 0 ? (double)res.frames / res.seconds : 0);
			log_info("segment done", "job", p->job, "segment",
			         i64s(n1, sizeof(n1), t->segment), "frames",
			         i64s(n2, sizeof(n2), res.frames), "corrupt_packets",
			         i64s(n3, sizeof(n3), res.corrupt_packets), "seconds", secs, "fps",
			         fps, "output", t->output, NULL);
			ret = 1;
			break;
		}
		if (rc == VSEG_E_CALLBACK && p->rows_failed)
			snprintf(errbuf, sizeof(errbuf), "segment %" PRId32 ": out of memory",
			         t->segment);
		madd(p, p->m.failures, (const char *const[]){vseg_error_name(rc), NULL}, 1);
		log_warn("segment failed", "job", p->job, "segment",
		         i64s(n1, sizeof(n1), t->segment), "attempt",
		         i64s(n2, sizeof(n2), attempts), "error", errbuf, NULL);
		if (attempts >= p->spec.max_attempts) {
			ret = fail_segment(p, m, t, errbuf) == 0;
			break;
		}
		count_segment(p, "retried");
		if (nap(vproc_backoff_ms(attempt, p->opt.retry_max_ms)))
			break;
	}
	free(t);
	return ret;
}

/* ==== life cycle ==== */

int video_process_new(const struct video_process_options *o, struct video_process **out,
                      char *errbuf, size_t errbuf_size)
{
	struct video_process *p = calloc(1, sizeof(*p));
	char host[256];

	if (p == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return VPROC_ERR;
	}
	if (pthread_mutex_init(&p->st.mu, NULL) != 0) {
		snprintf(errbuf, errbuf_size, "cannot create a mutex");
		free(p);
		return VPROC_ERR;
	}
	p->opt = *o;
	if (o->spec_path == NULL) {
		snprintf(errbuf, errbuf_size, "process: --config VJ.json is required");
		free(p);
		return VPROC_ERR;
	}
	if (vj_spec_load_file(o->spec_path, &p->spec, errbuf, errbuf_size) < 0) {
		free(p);
		return VPROC_ERR;
	}
	if (vj_spec_job_id(&p->spec, p->job, sizeof(p->job)) < 0) {
		snprintf(errbuf, errbuf_size, "the job's name is too long");
		video_process_free(p);
		return VPROC_ERR;
	}
	if (o->client_id != NULL && o->client_id[0] != '\0') {
		snprintf(p->client_id, sizeof(p->client_id), "%s", o->client_id);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(p->client_id, sizeof(p->client_id), "sluice-worker-%s", host);
	}
	*out = p;
	return 0;
}

int video_process_readyz(void *arg, char *reason, size_t reason_size)
{
	struct video_process *p = arg;

	if (__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE))
		return 0;
	snprintf(reason, reason_size, "waiting for the first partition assignment");
	return 1;
}

char *video_process_state(void *arg)
{
	struct video_process *p = arg;
	struct pstate_v st;
	char at[CLOCK_RFC3339_MAX];
	cJSON *o = cJSON_CreateObject(), *task, *n;
	char *text = NULL;

	pthread_mutex_lock(&p->st.mu);
	st = p->st.v;
	pthread_mutex_unlock(&p->st.mu);
	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "job", p->job) == NULL ||
	    cJSON_AddStringToObject(o, "topic", p->spec.kafka.topic) == NULL ||
	    cJSON_AddBoolToObject(o, "ready", __atomic_load_n(&p->ready, __ATOMIC_ACQUIRE)) == NULL)
		goto out;
	if (!st.running) {
		if (cJSON_AddNullToObject(o, "task") == NULL)
			goto out;
	} else {
		task = cJSON_AddObjectToObject(o, "task");
		if (task == NULL || cJSON_AddNumberToObject(task, "segment", st.segment) == NULL ||
		    cJSON_AddNumberToObject(task, "segments", st.segments) == NULL ||
		    cJSON_AddNumberToObject(task, "attempt", st.attempt) == NULL ||
		    cJSON_AddNumberToObject(task, "frames", (double)st.frames) == NULL ||
		    clock_format_rfc3339(st.started_ns, at, sizeof(at)) < 0 ||
		    cJSON_AddStringToObject(task, "startedAt", at) == NULL ||
		    cJSON_AddStringToObject(task, "source", st.source) == NULL)
			goto out;
	}
	n = cJSON_AddObjectToObject(o, "segments");
	if (n == NULL || cJSON_AddNumberToObject(n, "done", (double)st.done) == NULL ||
	    cJSON_AddNumberToObject(n, "failed", (double)st.failed) == NULL ||
	    cJSON_AddNumberToObject(n, "retried", (double)st.retried) == NULL ||
	    cJSON_AddNumberToObject(n, "skipped", (double)st.skipped) == NULL ||
	    cJSON_AddNumberToObject(n, "malformed", (double)st.malformed) == NULL ||
	    cJSON_AddNumberToObject(o, "framesEncoded", (double)st.frames_total) == NULL)
		goto out;
	text = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return text;
}

static int register_metrics(struct video_process *p, struct metrics_registry *reg, char *errbuf,
                            size_t errbuf_size)
{
	static const char *const result_l[] = {"result", NULL};
	static const char *const kind_l[] = {"kind", NULL};
	static const double secs[] = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300};

	if (metrics_counter(
	        reg, "sluice_vj_segments_total",
	        "Segment tasks handled, by result (done, failed, retried, malformed, skipped).",
	        result_l, &p->m.segments, errbuf, errbuf_size) < 0 ||
	    metrics_counter(reg, "sluice_vj_frames_total", "Frames encoded into segment files.",
	                    NULL, &p->m.frames, errbuf, errbuf_size) < 0 ||
	    metrics_counter(reg, "sluice_vj_segment_failures_total",
	                    "Failed tries of a segment, by kind (source, decode, filter, encode, "
	                    "output, empty, ...).",
	                    kind_l, &p->m.failures, errbuf, errbuf_size) < 0 ||
	    metrics_counter(reg, "sluice_vj_corrupt_packets_total",
	                    "Damaged packets skipped while decoding.", NULL, &p->m.corrupt, errbuf,
	                    errbuf_size) < 0 ||
	    metrics_histogram(reg, "sluice_vj_segment_seconds",
	                      "Wall time of one segment: decode, filter, encode, write.", NULL,
	                      secs, sizeof(secs) / sizeof(secs[0]), &p->m.seconds, errbuf,
	                      errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_vj_busy", "1 while a segment is being processed.", NULL,
	                  &p->m.busy, errbuf, errbuf_size) < 0)
		return VPROC_ERR;
	static const char *const results[] = {"done", "failed", "retried", "malformed", "skipped"};
	for (size_t i = 0; i < 5; i++)
		(void)metrics_add(p->m.segments, (const char *const[]){results[i], NULL}, 0);
	return 0;
}

int video_process_start(struct video_process *p, struct metrics_registry *reg, char *errbuf,
                        size_t errbuf_size)
{
	char producer_id[340];
	int partitions = 0, replication = 0;

	av_log_set_callback(on_av_log);
	/* Connecting now creates the schema and shows a bad DSN at once;
	 * a database that is away is retried with the first task. */
	char why[512];
	if (pg_ensure(p, why, sizeof(why)) < 0)
		log_warn("postgres not reachable yet", "job", p->job, "error", why, NULL);
	if (reg != NULL && register_metrics(p, reg, errbuf, errbuf_size) < 0)
		return VPROC_ERR;
	if (influx_setup(p, errbuf, errbuf_size) < 0)
		return VPROC_ERR;
	char timeout[16];
	const char *producer_extra[] = {"linger.ms", "0", "message.timeout.ms", NULL, NULL};
	/* librdkafka's own default, 5 minutes, unless the env sets it. */
	producer_extra[3] =
	    kafka_message_timeout("300000", timeout, sizeof(timeout), errbuf, errbuf_size);
	if (producer_extra[3] == NULL)
		return VPROC_ERR;
	snprintf(producer_id, sizeof(producer_id), "%s-dlq", p->client_id);
	struct kafka_security sec;
	if (spec_kafka_security_env(&p->spec.kafka, &sec, errbuf, errbuf_size) < 0)
		return VPROC_ERR;
	struct kafka_config pc = {.bootstrap = p->spec.kafka.bootstrap,
	                          .security = &sec,
	                          .client_id = producer_id,
	                          .extra = producer_extra};
	p->producer = kafka_producer_new(&pc, on_delivery, p, errbuf, errbuf_size);
	if (p->producer == NULL)
		return VPROC_ERR;
	if (p->opt.create_dlq_topic) {
		if (kafka_topic_describe(p->producer, p->spec.kafka.topic, 10000, &partitions,
		                         &replication, why, sizeof(why)) < 0)
			log_warn("cannot read the task topic: the dead-letter topic is not created",
			         "job", p->job, "topic", p->spec.kafka.topic, "error", why, NULL);
		else if (kafka_topic_create(p->producer, p->spec.kafka.dead_letter_topic, 1,
		                            replication, 10000, why, sizeof(why)) < 0)
			log_warn("cannot create the dead-letter topic", "job", p->job, "topic",
			         p->spec.kafka.dead_letter_topic, "error", why, NULL);
	}
	/* One task at a time, and no prefetched backlog: tasks this member
	 * is not working on stay in Kafka where a rebalance can move them.
	 * Metadata every 10 s (librdkafka's default: 5 min): the operator grows
	 * the task topic when maxReplicas grows, and the group sees the new
	 * partitions, and rebalances onto them, only at a refresh. */
	static const char *const consumer_extra[] = {"max.poll.interval.ms",
	                                             MAX_POLL_INTERVAL,
	                                             "queued.min.messages",
	                                             "1",
	                                             "topic.metadata.refresh.interval.ms",
	                                             "10000",
	                                             NULL};
	struct kafka_config cc = {.bootstrap = p->spec.kafka.bootstrap,
	                          .security = &sec,
	                          .client_id = p->client_id,
	                          .group = p->spec.kafka.group,
	                          .session_timeout_ms = (int)p->opt.session_timeout_ms,
	                          .extra = consumer_extra};
	p->consumer = kafka_consumer_new(&cc, on_rebalance, p, errbuf, errbuf_size);
	if (p->consumer == NULL)
		return VPROC_ERR;
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, p->spec.kafka.topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(p->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		return kafka_fail(errbuf, errbuf_size, "subscribe", err);
	char n[3][16];
	log_info("process worker subscribed", "job", p->job, "topic", p->spec.kafka.topic, "group",
	         p->spec.kafka.group, "dead_letter_topic", p->spec.kafka.dead_letter_topic,
	         "client_id", p->client_id, "decoder_threads",
	         i64s(n[0], sizeof(n[0]), p->opt.decoder_threads), "encoder_threads",
	         i64s(n[1], sizeof(n[1]), p->opt.encoder_threads), "filter_threads",
	         i64s(n[2], sizeof(n[2]), p->opt.filter_threads), NULL);
	return 0;
}

static void close_consumer(struct video_process *p)
{
	char text[256];

	if (p->consumer == NULL || p->closed)
		return;
	p->closed = 1;
	/* ready is set by the first assignment: a consumer still joining
	 * waits for it (librdkafka#4312, lib/kafka.h). */
	if (kafka_consumer_close(p->consumer, &p->ready, KAFKA_CLOSE_WAIT_MS, &p->destroy_ok, text,
	                         sizeof(text)) < 0)
		log_warn("consumer close failed", "job", p->job, "error", text, NULL);
}

int video_process_run(struct video_process *p)
{
	char errbuf[512], src[KAFKA_SOURCE_MAX];
	int fatal = 0;

	while (!signals_stop_requested()) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, POLL_MS);
		if (m == NULL) {
			if (kafka_fatal(p->consumer, errbuf, sizeof(errbuf))) {
				log_error("fatal consumer error", "job", p->job, "error", errbuf,
				          NULL);
				fatal = 1;
				break;
			}
			continue;
		}
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			log_warn("consumer error", "job", p->job, "error",
			         kafka_strerror(errbuf, sizeof(errbuf), m->err), NULL);
			rd_kafka_message_destroy(m);
			continue;
		}
		if (handle_task(p, m)) {
			/* Synchronous: the next task starts only once this one is
			 * on record. A commit refused after a rebalance took the
			 * partition is harmless: its new owner redoes the task. */
			rd_kafka_resp_err_t err = rd_kafka_commit_message(p->consumer, m, 0);
			if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
				log_warn("offset commit failed: the task will be redone", "job",
				         p->job, "source",
				         kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt),
				                      m->partition, m->offset),
				         "error", kafka_strerror(errbuf, sizeof(errbuf), err),
				         NULL);
		}
		rd_kafka_message_destroy(m);
	}
	log_info("process worker stopping", "job", p->job, NULL);
	close_consumer(p);
	return fatal ? VPROC_ERR : 0;
}

void video_process_free(struct video_process *p)
{
	if (p == NULL)
		return;
	if (p->consumer != NULL) {
		close_consumer(p);
		kafka_consumer_destroy(p->consumer, p->destroy_ok);
	}
	if (p->producer != NULL) {
		rd_kafka_flush(p->producer, 5000);
		rd_kafka_destroy(p->producer);
	}
	if (p->pg != NULL)
		PQfinish(p->pg);
	if (p->redis != NULL)
		redisFree(p->redis);
	influx_client_close(p->influx);
	free(p->rows);
	vj_spec_free(&p->spec);
	pthread_mutex_destroy(&p->st.mu);
	free(p);
}
