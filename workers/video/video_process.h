/* video_process.h -- `sluice-worker process --config VJ.json`: one member
 * of a VideoJob's consumer group (spec.kafka.group), the replica the
 * operator scales by lag. For each task (vj_task.h) on spec.kafka.topic:
 *
 *   1. count the attempt in PostgreSQL (video_db_segment_attempt); past
 *      spec.maxAttempts the segment fails at once (step 5);
 *   2. run the segment (video_segment.h): decode exactly its frames, the
 *      job's filters, the encoder, the file renamed into place, per-frame
 *      analysis rows kept in memory;
 *   3. in one PostgreSQL transaction: delete the segment's frame rows,
 *      COPY them in again, mark the segment done (so a redelivered task
 *      leaves each frame counted once);
 *   4. HSET the segment's frame count in Redis (vj_progress_segment_done),
 *      post a throughput point to InfluxDB (best effort: a metric, not the
 *      job's result);
 *   5. only then commit the message's offset (synchronously).
 *
 * A task whose segment is already done in PostgreSQL (with its file in
 * place) is a redelivery: its progress is set again and it is committed
 * without work.
 *
 * A failed segment is retried here with backoff, each try counted in
 * PostgreSQL; after spec.maxAttempts it is marked failed with its reason
 * (PostgreSQL and the Redis failed hash; the job's meta.failed and
 * video_jobs.state too, since it cannot succeed any more), the task goes to the dead-letter
 * topic (spec.kafka.deadLetterTopic, headers as dead_letter.h: sluice-reason,
 * sluice-kind "failed" or "malformed", sluice-source, sluice-resource) and
 * the offset is committed. A message that is not a task of this job is
 * dead-lettered as malformed at once.
 *
 * PostgreSQL or Redis being away never loses a segment: their writes are
 * retried until they succeed or the worker is stopped, and nothing is
 * committed before. SIGTERM abandons the segment in progress (its
 * temporary file is removed; the final file is never partial), commits
 * nothing more and leaves the group: the next owner redoes the task.
 *
 * Threads: the caller's only (librdkafka and FFmpeg run their own);
 * video_process_readyz and video_process_state run on the HTTP thread.
 */
#ifndef SLUICE_VIDEO_PROCESS_H
#define SLUICE_VIDEO_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "video_segment.h"

#define VPROC_ERR (-1)

struct video_process_options {
	const char *spec_path;      /* the VideoJob (vj_spec.h) */
	const char *client_id;      /* NULL: "sluice-worker-<hostname>" */
	int decoder_threads;        /* 0: FFmpeg picks (one per core) */
	int encoder_threads;        /* 0: FFmpeg picks */
	int filter_threads;         /* 0: FFmpeg picks */
	int64_t session_timeout_ms; /* group session; 0: librdkafka's default */
	int64_t retry_max_ms;       /* cap of the backoff between tries */
	int create_dlq_topic;       /* create the dead-letter topic when missing */
};

/* Defaults: threads 0, session 0, retry cap 30 s, create the DLQ topic. */
void video_process_options_default(struct video_process_options *o);

struct video_process;

/* Loads the spec; nothing connects yet. 0 with *out set (free with
 * video_process_free), or VPROC_ERR with the reason in errbuf. */
int video_process_new(const struct video_process_options *o, struct video_process **out,
                      char *errbuf, size_t errbuf_size);

/* Registers the metrics in reg (borrowed, must outlive p):
 *   sluice_vj_segments_total{result}        done | failed | retried | malformed |
 *                                           skipped (redelivered, already done)
 *   sluice_vj_frames_total                  frames encoded
 *   sluice_vj_segment_failures_total{kind}  by video_segment error name
 *   sluice_vj_corrupt_packets_total         damaged packets skipped
 *   sluice_vj_segment_seconds               histogram of a segment's wall time
 *   sluice_vj_busy                          1 while a segment runs
 * then creates the consumer and the dead-letter producer and subscribes.
 * 0 or VPROC_ERR with errbuf set. */
int video_process_start(struct video_process *p, struct metrics_registry *reg, char *errbuf,
                        size_t errbuf_size);

/* /readyz: ready once the group gave this member its first assignment. */
int video_process_readyz(void *arg, char *reason, size_t reason_size);

/* httpd_state_fn for app.h: GET /status's state (docs/status.md): the job,
 * the segment being encoded (null between tasks) with its frames so far,
 * and the segments and frames counted since the start. Runs on the HTTP
 * thread; reads only what the loop shares under a lock. */
char *video_process_state(void *arg);

/* The loop until SIGTERM/SIGINT; 0 after a clean stop, VPROC_ERR after a
 * fatal error (logged). */
int video_process_run(struct video_process *p);

void video_process_free(struct video_process *p);

/* ==== Pure parts, for tests ==== */

/*
 * Appends one frame row in PostgreSQL's COPY text format to buf (size
 * bytes, NUL-terminated): job, segment, frame, pts_ms, mean_luma, motion,
 * scene_score, tab-separated, NaN as \N, the job text escaped (backslash,
 * tab, newline, carriage return). Returns the length appended, or -1 when
 * it does not fit.
 */
int vproc_copy_row(char *buf, size_t size, const char *job, int32_t segment,
                   const struct vseg_frame *row);

/* The backoff before try attempt (1, 2, ...): 1 s doubling up to cap_ms. */
int64_t vproc_backoff_ms(int attempt, int64_t cap_ms);

#endif
