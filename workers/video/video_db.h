/* video_db.h -- a VideoJob's plan and segment states in PostgreSQL, shared
 * by split (records the plan), process (segment states, frame rows) and
 * assemble (reads the plan, records the result).
 *
 * Tables, created on connect (CREATE TABLE IF NOT EXISTS, under an advisory
 * lock so replicas starting together do not race on the catalog):
 *
 *   video_jobs      job text PRIMARY KEY ("<namespace>/<name>"), source,
 *                   output, stream, tb_num, tb_den, segments_total,
 *                   frames_total, duration_ms, state (planned | assembled |
 *                   failed), reason, created_at, updated_at
 *   video_segments  (job, idx) PRIMARY KEY, start_pts, end_pts (source
 *                   time base, [start, end)), start_ms, end_ms,
 *                   frames_expected (-1 unknown), frames_done, state
 *                   (pending | done | failed), attempts, reason, output (the
 *                   segment file URI), updated_at
 *   <frames table>  spec.sinks.postgres.table, default video_frames:
 *                   (job text, segment int, frame int, pts_ms bigint,
 *                   mean_luma, motion, scene_score double precision,
 *                   PRIMARY KEY (job, segment, frame)). process writes it
 *                   (video_db_segment_finish): delete the segment's rows and
 *                   insert them again in one transaction, so a redelivered
 *                   task counts each frame once. The three measures are
 *                   nullable and always were: NULL where spec.analysis
 *                   leaves a measure out, and motion and scene_score on
 *                   each segment's first frame; with an empty spec.analysis
 *                   the job has no rows at all.
 *
 * Every function returns 0 (or what it says), or -1 with one line in
 * errbuf: "postgres: <what>: <the server's message>". Connections are the
 * caller's (PQfinish); not for two threads at once.
 */
#ifndef SLUICE_VIDEO_DB_H
#define SLUICE_VIDEO_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "video_segment.h"
#include "vj_spec.h"

#define VIDEO_DB_URI_MAX 4096
#define VIDEO_DB_REASON_MAX 1024

/* One segment of the plan. */
struct video_db_segment {
	int32_t idx;
	int64_t start_pts, end_pts;
	int64_t start_ms, end_ms;
	int64_t frames_expected; /* -1: unknown */
	int64_t frames_done;     /* read only: set by video_db_segment_done */
	char state[16];          /* read only: pending | done | failed */
	int32_t attempts;        /* read only */
	char output[VIDEO_DB_URI_MAX + 1];
};

/* The job row. */
struct video_db_job {
	char job[320];
	char source[VIDEO_DB_URI_MAX + 1];
	char output[VIDEO_DB_URI_MAX + 1];
	int32_t stream, tb_num, tb_den;
	int32_t segments_total;
	int64_t frames_total, duration_ms;
	char state[16];
	char reason[VIDEO_DB_REASON_MAX];
};

/*
 * Connects with dsn (a libpq connection string or URI; pg_connect, as
 * application_name "sluice-video", 10 s connect timeout, no statement
 * timeout) and creates the schema with frames_table as the frames table's
 * name (a lower-case SQL identifier; vj_spec checked it). Returns the
 * connection or NULL with the reason in errbuf (neither the DSN nor its
 * password is ever written there).
 */
PGconn *video_db_connect(const char *dsn, const char *frames_table, char *errbuf,
                         size_t errbuf_size);

/*
 * video_db_connect for a job: the DSN from the Secret reference
 * spec.sinks.postgres.dsn (its environment variable, lib/secret_env.h),
 * the frames table from spec.sinks.postgres.table; with
 * spec.sinks.postgres.tls.ca, the server verified against that CA
 * (sslmode=verify-full, pg_connect_ca_pem). An unset reference or variable
 * is an error that names both.
 */
PGconn *video_db_connect_spec(const struct vj_spec *spec, char *errbuf, size_t errbuf_size);

/* video_db_record_plan: a different plan is recorded under the job name. */
#define VIDEO_DB_E_CONFLICT (-2)

/*
 * Records job and its n segments, once. Returns 1 when this call recorded
 * them, 0 when the same plan was already there (same source and segment
 * count, and the same boundaries: a rerun of split), VIDEO_DB_E_CONFLICT
 * when a different plan is recorded under this job name, or -1 with the
 * reason.
 */
int video_db_record_plan(PGconn *c, const struct video_db_job *job,
                         const struct video_db_segment *segs, size_t n, char *errbuf,
                         size_t errbuf_size);

/*
 * Reads job's row into *out and its segments, ordered by idx, into *segs
 * (malloc'd, the caller frees; *n of them). Returns 1 when found, 0 when no
 * plan is recorded for job (*segs NULL, *n 0), -1 on error.
 */
int video_db_read_plan(PGconn *c, const char *job, struct video_db_job *out,
                       struct video_db_segment **segs, size_t *n, char *errbuf, size_t errbuf_size);

/*
 * Deletes job's plan, its segments and its rows in frames_table, in one
 * transaction: a VideoJob deleted and created again under the same name
 * with another source starts afresh. Returns 0 or -1.
 */
int video_db_delete_job(PGconn *c, const char *job, const char *frames_table, char *errbuf,
                        size_t errbuf_size);

/* Counts job's segments by state. */
int video_db_segment_counts(PGconn *c, const char *job, int64_t *total, int64_t *done,
                            int64_t *failed, char *errbuf, size_t errbuf_size);

/*
 * Segment states, for process:
 *   attempt: attempts + 1, returned in *attempts (call before working on it;
 *            compare with spec.maxAttempts)
 *   done:    state done, frames_done = frames, reason cleared (repeatable)
 *   failed:  state failed with reason (after maxAttempts)
 * A segment that is not in the plan is an error.
 */
int video_db_segment_attempt(PGconn *c, const char *job, int32_t idx, int32_t *attempts,
                             char *errbuf, size_t errbuf_size);
int video_db_segment_done(PGconn *c, const char *job, int32_t idx, int64_t frames, char *errbuf,
                          size_t errbuf_size);
int video_db_segment_failed(PGconn *c, const char *job, int32_t idx, const char *reason,
                            char *errbuf, size_t errbuf_size);

/*
 * process's write for a finished segment, in one transaction: deletes
 * job's rows of segment in frames_table, copies rows[0..n) in (COPY), and
 * marks the segment done with frames (video_db_segment_done). A measure
 * not in analysis (VJ_ANALYSIS_* bits) is written as NULL whatever the row
 * holds, a NaN as NULL too; analysis 0 writes no rows (rows and n are not
 * read), only the delete and the state. Repeatable: a redelivered task
 * leaves each frame's row once. Returns 0, or -1 with nothing changed.
 */
int video_db_segment_finish(PGconn *c, const char *frames_table, const char *job, int32_t segment,
                            unsigned analysis, const struct vseg_frame *rows, size_t n,
                            int64_t frames, char *errbuf, size_t errbuf_size);

/*
 * Pure, for the above and its tests: appends one frame row in PostgreSQL's
 * COPY text format to buf (size bytes, NUL-terminated): job, segment,
 * frame, pts_ms, mean_luma, motion, scene_score, tab-separated, a measure
 * that is NaN or not in analysis as \N, the job text escaped (backslash,
 * tab, newline, carriage return). Returns the length appended, or -1 when
 * it does not fit.
 */
int video_db_copy_row(char *buf, size_t size, const char *job, int32_t segment, unsigned analysis,
                      const struct vseg_frame *row);

/* The job's state (planned | assembled | failed) and reason (NULL: none). */
int video_db_job_state(PGconn *c, const char *job, const char *state, const char *reason,
                       char *errbuf, size_t errbuf_size);

#endif
