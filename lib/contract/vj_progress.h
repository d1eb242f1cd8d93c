/* vj_progress.h -- a VideoJob's progress in Redis (docs/contracts.md §3): the
 * workers write it, the operator reads it into the VideoJob's status.
 *
 * Keys, all prefixed "sluice:vj:<namespace>:<name>:":
 *   meta    hash: segments_total, frames_total, duration_ms, split_done "1",
 *           assembled "1", output_frames, failed (the job's failure reason)
 *   done    hash: segment index -> frames in that segment. HSET, so a
 *           redelivered task is not counted twice.
 *   failed  hash: segment index -> reason.
 *
 * Where Redis is: env SLUICE_STATUS_REDIS ("host:port"), else
 * spec.sinks.redis.addr (vj_progress_addr). Calls are synchronous, one
 * round trip each, on the caller's redisContext (not thread-safe: one
 * context per thread).
 */
#ifndef SLUICE_VJ_PROGRESS_H
#define SLUICE_VJ_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "vj_spec.h"

#define VJ_PROGRESS_REASON_MAX 512

struct vj_progress {
	int64_t segments_total, segments_done, segments_failed;
	int64_t frames_total, frames_done;
	int64_t duration_ms, output_frames;
	int split_done, assembled;
	char failed[VJ_PROGRESS_REASON_MAX]; /* "" when the job has not failed */
};

/* "sluice:vj:<ns>:<name>:<what>" into buf. Returns 0, or -1 when it does
 * not fit. */
int vj_progress_key(const char *ns, const char *name, const char *what, char *buf, size_t size);

/* The status Redis for spec: env SLUICE_STATUS_REDIS when set and not
 * empty, else spec->sinks.redis.addr; NULL when neither. Borrowed. */
const char *vj_progress_addr(const struct vj_spec *spec);

/* The job's status Redis, through redis_conn_open (lib/redis_conn.h):
 * vj_progress_addr(spec), with the operator's status Redis credentials
 * (redis_conn_status_auth) when the address is SLUICE_STATUS_REDIS, else
 * the password from spec.sinks.redis.password when given
 * (lib/secret_env.h). 5 s timeout. NULL with the reason when there is no
 * address. */
redisContext *vj_progress_connect_spec(const struct vj_spec *spec, char *errbuf,
                                       size_t errbuf_size);

/*
 * The writers. Each returns 0, or -1 with Redis's or hiredis's reason in
 * errbuf. All are idempotent: repeating one leaves the same state.
 *   split:           meta segments_total, frames_total, duration_ms, split_done=1;
 *                    clears meta failed (a failed split's reason)
 *   segment_done:    done[idx] = frames, and idx leaves failed
 *   segment_failed:  failed[idx] = reason
 *   assembled:       meta assembled=1, output_frames
 *   job_failed:      meta failed = reason
 */
int vj_progress_split(redisContext *c, const char *ns, const char *name, int64_t segments_total,
                      int64_t frames_total, int64_t duration_ms, char *errbuf, size_t errbuf_size);
int vj_progress_segment_done(redisContext *c, const char *ns, const char *name, int32_t idx,
                             int64_t frames, char *errbuf, size_t errbuf_size);
int vj_progress_segment_failed(redisContext *c, const char *ns, const char *name, int32_t idx,
                               const char *reason, char *errbuf, size_t errbuf_size);
int vj_progress_assembled(redisContext *c, const char *ns, const char *name, int64_t output_frames,
                          char *errbuf, size_t errbuf_size);
int vj_progress_job_failed(redisContext *c, const char *ns, const char *name, const char *reason,
                           char *errbuf, size_t errbuf_size);

/*
 * Reads the three hashes into *out (zeros and "" for what is missing):
 * segments_done = entries of done, frames_done = their sum,
 * segments_failed = entries of failed. Returns 0, or -1 with the reason.
 */
int vj_progress_read(redisContext *c, const char *ns, const char *name, struct vj_progress *out,
                     char *errbuf, size_t errbuf_size);

/*
 * The pure part of vj_progress_read, for tests: folds the HGETALL replies
 * given as field/value string pairs (kv[2i] field, kv[2i+1] value) into
 * *out. A value that is not a non-negative integer counts as 0.
 */
void vj_progress_fill(struct vj_progress *out, const char *const *meta, size_t n_meta,
                      const char *const *done, size_t n_done, size_t n_failed);

/* Deletes the job's three keys (the operator's finalizer). 0 or -1. */
int vj_progress_delete(redisContext *c, const char *ns, const char *name, char *errbuf,
                       size_t errbuf_size);

#endif
