/* sink_runner.h -- one sink's writes and trims on a thread of their own.
 *
 * The telemetry loop hands each sink the frozen batch (rowbuf.h) and goes
 * on reading Kafka while the three sinks write it at the same time, instead
 * of waiting for PostgreSQL, then Redis, then InfluxDB on the thread that
 * consumes. Offsets are still committed only after every sink acknowledged
 * the batch: that order lives in tw_flush.c, unchanged.
 *
 * A runner holds one job at a time (a write or a trim). The loop starts a
 * job, does other work, and collects the result with sink_runner_collect,
 * which never blocks. The batch a write reads must stay put until its
 * result is collected. When a job finishes, the runner calls the wake
 * function given at creation (from its thread), so a loop waiting in a poll
 * can return early.
 *
 * The sink itself (tw_sink.h) is only touched by the runner's thread
 * between start and collect, and by nobody else meanwhile.
 */
#ifndef SLUICE_SINK_RUNNER_H
#define SLUICE_SINK_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "tw_sink.h"

struct sink_runner;

enum sink_job { SINK_JOB_NONE, SINK_JOB_WRITE, SINK_JOB_TRIM };

struct sink_outcome {
	enum sink_job job;
	int rc;                 /* tw_sink_write's result, or tw_sink_trim's */
	int64_t retry_after_ms; /* after TW_SINK_E_RETRY: the server's Retry-After, or 0 */
	char error[1024];       /* the sink's message when rc != 0 */
};

/* Starts the runner's thread for s (which the caller still owns and frees
 * after sink_runner_free). wake(arg) may be NULL. Returns NULL with the
 * reason in errbuf when the thread cannot start. */
struct sink_runner *sink_runner_new(struct tw_sink *s, void (*wake)(void *), void *arg,
                                    char *errbuf, size_t errbuf_size);

/* Waits for a job in progress to finish, then stops the thread. NULL is
 * fine. */
void sink_runner_free(struct sink_runner *r);

/* Whether a job was started and its outcome not yet collected. */
int sink_runner_busy(struct sink_runner *r);

/* Starts writing batch (which must stay unchanged until collected) or
 * trimming to now_ns. Returns 0, or -1 when the runner is busy. */
int sink_runner_write(struct sink_runner *r, const struct tw_batch *batch);
int sink_runner_trim(struct sink_runner *r, int64_t now_ns);

/* Returns 1 and the finished job's outcome in *out (the runner is idle
 * again), or 0 when no job finished (still running, or none started). */
int sink_runner_collect(struct sink_runner *r, struct sink_outcome *out);

#endif
