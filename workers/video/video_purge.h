/* video_purge.h -- `sluice-worker purge --config VJ.json`: deletes a
 * VideoJob's rows from PostgreSQL (video_db.h's tables), for the operator's
 * purge Job when a job with spec.sinks.postgres.deleteWithJob is deleted
 * (docs/video-worker.md, "Deleting a job's rows").
 *
 * Rows are keyed by the job's "<namespace>/<name>" (vj_spec_job_id); the
 * VideoJob's finalizer holds its name until the purge is over, so no other
 * job of that name can write meanwhile. The deletes run in this order, in
 * bounded batches, each batch a statement (its own transaction):
 *
 *   1. segments   video_segments WHERE job = $1, at most batch rows each
 *   2. job        the video_jobs row (one)
 *   3. frames     <frames table> WHERE job = $1, at most batch rows each
 *
 * The plan goes first: a process worker still finishing a segment then
 * fails its write (its segment is gone, video_db_segment_finish rolls its
 * rows back) instead of leaving frame rows behind the purge. A step repeats
 * while its last batch was full. Idempotent: a rerun after a failure, or
 * after success, deletes what is left (nothing) and succeeds.
 */
#ifndef SLUICE_VIDEO_PURGE_H
#define SLUICE_VIDEO_PURGE_H

#include <stddef.h>

#include <libpq-fe.h>

/* Rows per statement. */
#define VIDEO_PURGE_BATCH 10000
/* At most this many statements per run (10^9 rows at the default batch):
 * bounded, and far above any job's rows. */
#define VIDEO_PURGE_STATEMENTS_MAX 100000

enum video_purge_step {
	VIDEO_PURGE_SEGMENTS,
	VIDEO_PURGE_JOB,
	VIDEO_PURGE_FRAMES,
	VIDEO_PURGE_DONE,
};

/*
 * The statement of step (not VIDEO_PURGE_DONE) into buf: a DELETE with the
 * job as $1, of at most batch (>= 1) rows for the batched steps;
 * frames_table (a lower-case SQL identifier, vj_spec checked it) quoted.
 * Returns 0, or -1 when buf is too small, batch < 1 or step is DONE. Pure.
 */
int video_purge_sql(enum video_purge_step step, const char *frames_table, int batch, char *buf,
                    size_t size);

/* The step after a statement of step deleted affected rows: the same step
 * again while a batched step's batch was full (affected >= batch), else the
 * next one. Pure. */
enum video_purge_step video_purge_next(enum video_purge_step step, long long affected, int batch);

/* "segments", "job", "frames", "done". Pure. */
const char *video_purge_step_name(enum video_purge_step step);

/* Rows deleted, by table. */
struct video_purge_counts {
	long long segments, jobs, frames;
	long long statements;
};

/*
 * Deletes job's rows on c, batch rows per statement, counting them into
 * *out (zeroed first). Returns 0 when nothing is left, or -1 with one line
 * in errbuf ("postgres: delete frames of media/clip: <the server's
 * message>"); what was deleted before stays deleted.
 */
int video_purge_run(PGconn *c, const char *job, const char *frames_table, int batch,
                    struct video_purge_counts *out, char *errbuf, size_t errbuf_size);

/* The mode: loads the VideoJob at spec_path, connects with its
 * spec.sinks.postgres (video_db_connect_spec), purges, logs the counts.
 * Returns the exit status: 0 done, 1 failed (logged and on stderr), 2 a bad
 * config. */
int video_purge_main(const char *spec_path);

#endif
