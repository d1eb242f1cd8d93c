/* video_split.c -- `sluice-worker split`; see video_split.h. */
#include "video_split.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/mathematics.h>

#include "kafka.h"
#include "kafka_security.h"
#include "log.h"
#include "video_db.h"
#include "video_plan.h"
#include "video_probe.h"
#include "vj_progress.h"
#include "vj_spec.h"
#include "vj_task.h"

#define PROBE_TIMEOUT_MS 15000
#define KAFKA_TIMEOUT_MS 15000
#define ERR_MAX 2048

struct split {
	struct vj_spec spec;
	char job[VJ_TASK_JOB_MAX + 1];
	struct video_probe probe;
	struct video_db_job row;
	struct video_db_segment *segs;
	size_t nsegs;
	PGconn *pg;
	redisContext *redis;
	rd_kafka_t *producer;
	/* Delivery reports. */
	size_t delivered, failed;
	char delivery_error[512];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct split *s = opaque;

	(void)rk;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		s->delivered++;
		return;
	}
	if (s->failed++ == 0)
		snprintf(s->delivery_error, sizeof(s->delivery_error), "%s",
		         rd_kafka_err2str(msg->err));
}

/* The plan from the probe: segments with their URIs and ms ranges. */
static int plan(struct split *s, char *errbuf, size_t size)
{
	const struct video_probe *p = &s->probe;
	AVRational tb = {p->tb_num, p->tb_den}, ms = {1, 1000};
	struct video_plan_segment *ps;
	size_t n;
	int64_t target = av_rescale_q(s->spec.segment_seconds, (AVRational){1, 1}, tb);

	if (p->whole) {
		log_warn("the source's B-frames cannot be timed from its container: one segment",
		         "job", s->job, "codec", p->codec, NULL);
		target = INT64_MAX;
	}

	if (video_plan_segments(p->packets, p->npackets, target, &ps, &n) < 0) {
		snprintf(errbuf, size, "plan: out of memory");
		return -1;
	}
	s->segs = calloc(n, sizeof(*s->segs));
	if (s->segs == NULL) {
		free(ps);
		snprintf(errbuf, size, "plan: out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct video_db_segment *d = &s->segs[i];

		d->idx = (int32_t)i;
		d->start_pts = ps[i].start_pts;
		d->end_pts = ps[i].end_pts;
		d->start_ms = av_rescale_q(ps[i].start_pts - p->min_pts, tb, ms);
		d->end_ms =
		    i + 1 < n ? av_rescale_q(ps[i].end_pts - p->min_pts, tb, ms) : p->duration_ms;
		if (d->end_ms < d->start_ms)
			d->end_ms = d->start_ms;
		d->frames_expected = ps[i].frames;
		if (vj_task_segment_uri(s->spec.output_uri, d->idx, d->output, sizeof(d->output)) <
		    0) {
			free(ps);
			snprintf(errbuf, size, "spec.output.uri: no room for segment file names");
			return -1;
		}
	}
	free(ps);
	s->nsegs = n;
	snprintf(s->row.job, sizeof(s->row.job), "%s", s->job);
	snprintf(s->row.source, sizeof(s->row.source), "%s", s->spec.source_uri);
	snprintf(s->row.output, sizeof(s->row.output), "%s", s->spec.output_uri);
	s->row.stream = p->stream;
	s->row.tb_num = p->tb_num;
	s->row.tb_den = p->tb_den;
	s->row.segments_total = (int32_t)n;
	s->row.frames_total = (int64_t)p->npackets;
	s->row.duration_ms = p->duration_ms;
	return 0;
}

static int publish(struct split *s, const struct video_db_segment *segs, size_t n,
                   size_t *published, char *errbuf, size_t size)
{
	struct kafka_security sec;
	struct kafka_config kc = {
	    .bootstrap = s->spec.kafka.bootstrap, .security = &sec, .client_id = "sluice-split"};
	int partitions = 0, replication = 0;
	char why[512];

	*published = 0;
	if (spec_kafka_security_env(&s->spec.kafka, &sec, errbuf, size) < 0)
		return -1;
	s->producer = kafka_producer_new(&kc, on_delivery, s, errbuf, size);
	if (s->producer == NULL)
		return -1;
	/* Replication -1: the broker's default.replication.factor. */
	if (kafka_topic_create(s->producer, s->spec.kafka.topic, s->spec.workers.max_replicas, -1,
	                       KAFKA_TIMEOUT_MS, errbuf, size) < 0 ||
	    kafka_topic_describe(s->producer, s->spec.kafka.topic, KAFKA_TIMEOUT_MS, &partitions,
	                         &replication, errbuf, size) < 0)
		return -1;
	if (kafka_topic_create(s->producer, s->spec.kafka.dead_letter_topic, partitions,
	                       replication, KAFKA_TIMEOUT_MS, why, sizeof(why)) < 0)
		log_warn("cannot create the dead-letter topic", "job", s->job, "topic",
		         s->spec.kafka.dead_letter_topic, "error", why, NULL);
	for (size_t i = 0; i < n; i++) {
		struct vj_task t;
		char key[16], *value;
		rd_kafka_resp_err_t err;

		if (strcmp(segs[i].state, "done") == 0)
			continue;
		memset(&t, 0, sizeof(t));
		snprintf(t.job, sizeof(t.job), "%s", s->job);
		snprintf(t.source, sizeof(t.source), "%s", s->spec.source_uri);
		snprintf(t.output, sizeof(t.output), "%s", segs[i].output);
		t.segment = segs[i].idx;
		t.segments = (int32_t)n;
		t.stream = s->row.stream;
		t.tb_num = s->row.tb_num;
		t.tb_den = s->row.tb_den;
		t.start_pts = segs[i].start_pts;
		t.end_pts = segs[i].end_pts;
		t.start_ms = segs[i].start_ms;
		t.end_ms = segs[i].end_ms;
		t.frames = segs[i].frames_expected;
		value = vj_task_encode(&t);
		if (value == NULL || vj_task_key(&t, key, sizeof(key)) < 0) {
			free(value);
			snprintf(errbuf, size, "kafka: task %zu: out of memory", i);
			return -1;
		}
		err = rd_kafka_producev(
		    s->producer, RD_KAFKA_V_TOPIC(s->spec.kafka.topic),
		    RD_KAFKA_V_PARTITION(partitions > 0 ? t.segment % partitions : 0),
		    RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value, strlen(value)),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		free(value);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(s->producer, 100);
			i--; /* again */
			continue;
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(errbuf, size, "kafka: publish to %s: %s", s->spec.kafka.topic,
			         rd_kafka_err2str(err));
			return -1;
		}
		(*published)++;
		rd_kafka_poll(s->producer, 0);
	}
	if (rd_kafka_flush(s->producer, KAFKA_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(errbuf, size, "kafka: %d tasks not delivered within %d ms",
		         rd_kafka_outq_len(s->producer), KAFKA_TIMEOUT_MS);
		return -1;
	}
	if (s->failed > 0) {
		snprintf(errbuf, size, "kafka: %zu of %zu tasks not delivered: %s", s->failed,
		         *published, s->delivery_error);
		return -1;
	}
	return 0;
}

static int run(struct split *s, char *errbuf, size_t size)
{
	struct video_db_job stored;
	struct video_db_segment *have = NULL;
	struct vj_progress prog;
	size_t nhave = 0, published = 0;
	char n1[24], n2[24], n3[24], n4[24];
	int recorded;

	if (video_probe_open(s->spec.source_uri, PROBE_TIMEOUT_MS, &s->probe, errbuf, size) < 0)
		return -1;
	if (s->probe.corrupt > 0) {
		snprintf(n1, sizeof(n1), "%" PRId64, s->probe.corrupt);
		log_warn("corrupt video packets in the source (kept in the plan)", "job", s->job,
		         "packets", n1, NULL);
	}
	if (plan(s, errbuf, size) < 0)
		return -1;
	s->pg = video_db_connect_spec(&s->spec, errbuf, size);
	if (s->pg == NULL)
		return -1;
	s->redis = vj_progress_connect_spec(&s->spec, errbuf, size);
	if (s->redis == NULL)
		return -1;
	if (vj_progress_read(s->redis, s->spec.namespace, s->spec.name, &prog, errbuf, size) < 0)
		return -1;
	recorded = video_db_record_plan(s->pg, &s->row, s->segs, s->nsegs, errbuf, size);
	/* Another plan under this name, and no progress in Redis (the operator
	 * deletes the keys with the VideoJob): a new VideoJob reusing the name
	 * of a deleted one. Its old rows go; a live job's plan never changes. */
	if (recorded == VIDEO_DB_E_CONFLICT && !prog.split_done) {
		log_warn("replacing the plan of an earlier VideoJob of this name", "job", s->job,
		         "reason", errbuf, NULL);
		if (video_db_delete_job(s->pg, s->job, s->spec.sinks.postgres.table, errbuf, size) <
		    0)
			return -1;
		recorded = video_db_record_plan(s->pg, &s->row, s->segs, s->nsegs, errbuf, size);
	}
	if (recorded < 0)
		return -1;
	if (!recorded && prog.split_done) {
		snprintf(n1, sizeof(n1), "%zu", s->nsegs);
		log_info("already split: nothing published", "job", s->job, "segments", n1, NULL);
		return 0;
	}
	/* The states as recorded: a resumed split skips segments done since. */
	if (video_db_read_plan(s->pg, s->job, &stored, &have, &nhave, errbuf, size) <= 0) {
		free(have);
		if (errbuf[0] == '\0')
			snprintf(errbuf, size, "postgres: the plan just recorded is gone");
		return -1;
	}
	if (publish(s, have, nhave, &published, errbuf, size) < 0) {
		free(have);
		return -1;
	}
	free(have);
	if (vj_progress_split(s->redis, s->spec.namespace, s->spec.name, (int64_t)s->nsegs,
	                      s->row.frames_total, s->row.duration_ms, errbuf, size) < 0)
		return -1;
	snprintf(n1, sizeof(n1), "%zu", s->nsegs);
	snprintf(n2, sizeof(n2), "%" PRId64, s->row.frames_total);
	snprintf(n3, sizeof(n3), "%" PRId64, s->row.duration_ms);
	snprintf(n4, sizeof(n4), "%zu", published);
	log_info("split done", "job", s->job, "source", s->spec.source_uri, "codec", s->probe.codec,
	         "segments", n1, "frames", n2, "duration_ms", n3, "published", n4, "topic",
	         s->spec.kafka.topic, NULL);
	return 0;
}

int video_split_main(const char *spec_path)
{
	struct split s;
	char errbuf[ERR_MAX] = "", msg[ERR_MAX + 400];
	int status = 0;

	memset(&s, 0, sizeof(s));
	if (spec_path == NULL) {
		fprintf(stderr, "sluice-worker: split: --config FILE (the VideoJob) is required\n");
		return 2;
	}
	if (vj_spec_load_file(spec_path, &s.spec, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: split: %s\n", errbuf);
		return 2;
	}
	vj_spec_job_id(&s.spec, s.job, sizeof(s.job));
	video_probe_log_to_json(s.job);
	if (run(&s, errbuf, sizeof(errbuf)) < 0) {
		snprintf(msg, sizeof(msg), "split %s: %s", s.job, errbuf);
		log_error("split failed", "job", s.job, "error", msg, NULL);
		/* The operator shows the reason on the VideoJob; when Redis cannot
		 * take it, the last log line (the pod's termination message) does. */
		if (s.redis == NULL)
			s.redis = vj_progress_connect_spec(&s.spec, errbuf, sizeof(errbuf));
		if (s.redis == NULL ||
		    vj_progress_job_failed(s.redis, s.spec.namespace, s.spec.name, msg, errbuf,
		                           sizeof(errbuf)) != 0)
			log_error("cannot report the failure to the status Redis", "job", s.job,
			          "error", errbuf, NULL);
		fprintf(stderr, "sluice-worker: %s\n", msg);
		status = 1;
	}
	if (s.producer != NULL)
		rd_kafka_destroy(s.producer);
	if (s.redis != NULL)
		redisFree(s.redis);
	if (s.pg != NULL)
		PQfinish(s.pg);
	free(s.segs);
	video_probe_free(&s.probe);
	vj_spec_free(&s.spec);
	return status;
}
