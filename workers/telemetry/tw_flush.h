/* tw_flush.h -- the telemetry worker's flush: how a batch goes from the rows
 * held to the sinks and its offsets to Kafka. The order is the whole
 * delivery story, so here it is once:
 *
 *   1. cut: freeze the rows and raw events held (rowbuf) and take every
 *      assigned partition's checkpoint (tw_core_checkpoint) at that same
 *      moment, so the checkpoint covers exactly what the batch holds;
 *   2. write the frozen batch to every sink not yet done with it, each on
 *      its own thread (sink_runner); a sink that asks for a retry gets the
 *      same batch again after a backoff, while consumption goes on behind
 *      it (the loop pauses it at buffer_max); a sink that rejects it has
 *      the batch dead-lettered (tw_dlq_batch) and counts as done;
 *   3. wait until every dead letter produced so far is delivered, so no
 *      commit moves past a message whose dead letter could still be lost
 *      (a wait that times out is retried like a sink's failure);
 *   4. commit each partition's checkpoint offset with its metadata text,
 *      synchronously, write the owned partitions' progress to the status
 *      Redis (tw_report), and release the batch.
 *
 * A crash anywhere before 4 replays from the previous commit, and the
 * replay gives the same rows (docs/telemetry-semantics.md): sinks upsert.
 * Retention trims run on the sinks' threads when their write of the batch
 * in flight is not waiting to start, so trimming never holds the stream up.
 *
 * The pure part is the state machine: struct tw_flush_state, what the next
 * step is (tw_flush_decide), when a batch is due (tw_flush_due), what a
 * sink's outcome means (tw_flush_outcome), which trims may start
 * (tw_flush_trims), and the retry backoff (tw_flush_backoff_ms). The
 * adapter (struct tw_flush) applies them to the rows, the core, the
 * runners, the dead-letter producer and the consumer, on the loop's thread.
 */
#ifndef SLUICE_TW_FLUSH_H
#define SLUICE_TW_FLUSH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "rowbuf.h"
#include "sink_runner.h"
#include "tw_core.h"
#include "tw_dlq.h"
#include "tw_health.h"
#include "tw_metrics.h"
#include "tw_parts.h"
#include "tw_report.h"

/* Most sinks one flush writes to (bits of an unsigned). */
#define TW_FLUSH_SINKS_MAX 16

/* ==== The state machine (pure) ==== */

/* One batch's progress; bit i of a mask is sink i. Zeroed: no batch. */
struct tw_flush_state {
	int active;          /* a batch is frozen */
	int attempting;      /* its writes were started and are not all back */
	int failed;          /* ... and one of them failed */
	unsigned acked;      /* sinks done with the batch (written or rejected) */
	unsigned started;    /* sinks whose write this attempt started */
	unsigned running;    /* sinks whose write is on their thread now */
	unsigned attempt;    /* failed attempts so far */
	int64_t retry_at;    /* monotonic ms: no attempt starts before */
	int64_t frozen_at;   /* when the batch was cut */
	int64_t retry_after; /* the longest Retry-After a sink gave this attempt */
};

enum tw_flush_step {
	TW_FLUSH_NONE,    /* no batch in flight */
	TW_FLUSH_BACKOFF, /* the next attempt waits for retry_at */
	TW_FLUSH_BEGIN,   /* start an attempt (tw_flush_on_begin) */
	TW_FLUSH_SKIP,    /* the batch is empty: .sinks have nothing to write, done */
	TW_FLUSH_WRITE,   /* start the writes of .sinks */
	TW_FLUSH_PENDING, /* writes in progress, or a sink busy with a trim */
	TW_FLUSH_RETRY,   /* every write is back and one failed: back off */
	TW_FLUSH_COMMIT,  /* every sink is done: steps 3 and 4 */
};

struct tw_flush_decision {
	enum tw_flush_step step;
	unsigned sinks; /* SKIP, WRITE: which */
};

/*
 * The next step for st at monotonic now, with nsinks sinks (at most
 * TW_FLUSH_SINKS_MAX), batch_empty when the frozen batch has no row and no
 * event, and busy the sinks whose thread has a job (a trim) so that no
 * write can start there. Applying the step and asking again makes
 * progress: BEGIN, SKIP and WRITE always change what the next answer is.
 */
struct tw_flush_decision tw_flush_decide(const struct tw_flush_state *st, int64_t now,
                                         size_t nsinks, int batch_empty, unsigned busy);

/* Transitions, one per step or event. */
void tw_flush_on_cut(struct tw_flush_state *st, int64_t now);     /* a new batch, tried at once */
void tw_flush_on_begin(struct tw_flush_state *st);                /* BEGIN */
void tw_flush_on_skip(struct tw_flush_state *st, unsigned sinks); /* SKIP */
void tw_flush_on_started(struct tw_flush_state *st, unsigned sinks); /* WRITE, for those started */
/* RETRY (or a dead-letter wait that timed out): the next attempt after
 * tw_flush_backoff_ms(attempt, retry_after, cap_ms, jitter). */
void tw_flush_on_retry(struct tw_flush_state *st, int64_t now, int64_t cap_ms, double jitter);

enum tw_flush_outcome {
	TW_FLUSH_ACKED,    /* written: the sink is done */
	TW_FLUSH_REJECTED, /* refused for good: dead-letter the batch; the sink is done */
	TW_FLUSH_FAILED,   /* retry (TW_SINK_E_RETRY, or a misconfigured sink) */
};

/* Sink's write came back with rc (a tw_sink_result) and the server's
 * Retry-After (0: none); records it in st. */
enum tw_flush_outcome tw_flush_outcome(struct tw_flush_state *st, size_t sink, int rc,
                                       int64_t retry_after_ms);

enum tw_flush_due {
	TW_FLUSH_NOT_DUE,        /* keep collecting */
	TW_FLUSH_DUE,            /* cut a batch now */
	TW_FLUSH_DUE_IF_CHANGED, /* cut if a checkpoint moved, else look again an
	                            interval from now */
};

/* Whether a batch is due with pending rows plus events held, since_cut_ms
 * since the last cut (or look): flush_rows reached, or the interval
 * passed. */
enum tw_flush_due tw_flush_due(size_t pending, size_t flush_rows, int64_t since_cut_ms,
                               int64_t interval_ms);

/* Of the sinks due a trim, those that may start one now: idle (not busy)
 * and not owing the attempt in progress their write, which goes first. */
unsigned tw_flush_trims(const struct tw_flush_state *st, unsigned due, unsigned busy);

/*
 * How long to wait before retry number attempt (1, 2, ...) of a batch:
 * Retry-After when the server gave one (retry_after_ms > 0, at most
 * 5 minutes), else 100 ms doubling per attempt up to cap_ms, with "equal
 * jitter": half of it fixed, half scaled by jitter in [0, 1), so replicas
 * that failed together do not retry together.
 */
int64_t tw_flush_backoff_ms(unsigned attempt, int64_t retry_after_ms, int64_t cap_ms,
                            double jitter);

/* How long the loop may wait before the flush needs it again: max_ms while
 * writes run (a finished one wakes the loop), until retry_at while a batch
 * backs off, else idle_ms. Not clamped. */
int64_t tw_flush_wait_ms(const struct tw_flush_state *st, int64_t now, int64_t idle_ms,
                         int64_t max_ms);

/* ==== The adapter ==== */

/* What Kafka is told at step 4, one partition. */
struct tw_flush_cp {
	int32_t partition;
	struct tw_checkpoint cp;
};

/*
 * The caller fills the settings and borrowed pointers (consumer may come
 * later, before the first cut) and zeroes the rest; tw_flush_free frees
 * what the flush allocates. The counters are read by the loop for the
 * status and the metrics.
 */
struct tw_flush {
	/* settings */
	size_t flush_rows;
	int64_t interval_ms, retry_max_ms;
	const char *topic, *resource;
	/* borrowed */
	rd_kafka_t *consumer;
	struct rowbuf *rows;
	struct tw_core *core;
	struct tw_parts *parts;
	struct sink_runner *const *runners; /* nsinks, health slots 0..nsinks-1 */
	size_t nsinks;
	size_t dlq_slot; /* the dead-letter producer's health slot */
	struct tw_health *health;
	struct tw_dlq *dlq;
	struct tw_metrics *metrics;
	struct tw_report *report; /* NULL: no status Redis */
	/* state */
	struct tw_flush_state st;
	struct tw_flush_cp *cps; /* the checkpoints taken at the cut */
	size_t ncps, cap;
	int64_t last_cut;  /* or the last look that found nothing to cut */
	unsigned trim_due; /* sinks whose retention trim is to start */
	unsigned rng;      /* the backoff's jitter */
	int64_t last_fail_log[TW_HEALTH_SLOTS];
	int64_t last_report_log;
	/* counters */
	uint64_t batches, commits, commit_errors;
};

void tw_flush_free(struct tw_flush *f);

/* One turn of the loop at now: cut a batch when one is due, advance the
 * batch in flight, start the trims that may. */
void tw_flush_step(struct tw_flush *f, int64_t now);

/* Step 1 now, whether due or not (the stop's drain). Fatal (tw_health)
 * when out of memory. */
void tw_flush_cut(struct tw_flush *f, int64_t now);

/* Steps 2 to 4 for the batch in flight, as far as they go now: collects the
 * outcomes the sinks' threads finished, starts the writes an attempt
 * needs, and once all are back commits (or schedules the retry). */
void tw_flush_advance(struct tw_flush *f, int64_t now);

/* Whether a batch is in flight. */
int tw_flush_active(const struct tw_flush *f);

/* Whether some owned partition's checkpoint differs from its commit. */
int tw_flush_changed(const struct tw_flush *f);

/* Partition revoked: its checkpoint taken at the cut must never be
 * committed (the new owner's commits would be overwritten). */
void tw_flush_forget(struct tw_flush *f, int32_t partition);

/* Every sink is due a retention trim (started when it may). */
void tw_flush_trim_all(struct tw_flush *f);

#endif
