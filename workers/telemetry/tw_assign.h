/* tw_assign.h -- the telemetry worker's partition assignment: the consumer
 * group's rebalance callback, which creates each assigned partition's state
 * and drops each revoked one's.
 *
 * Assign: read the committed offsets and their metadata (retried; without
 * them nothing is safe to start from, so a failure is fatal), turn each
 * into a start (tw_assign_restore: the committed checkpoint, or a fresh
 * start at the committed offset when the metadata is not one), create the
 * partition in the stream core and the table (a partition assigned twice
 * starts over), hand the assignment to librdkafka, and pause the new
 * partitions when the loop has paused consumption.
 *
 * With cooperative-sticky (lib/kafka.h) both come incrementally: an assign
 * adds its partitions to those held, a revoke (or a lost assignment,
 * rd_kafka_assignment_lost) names only the partitions that go; the others
 * keep their state, and their paused state in librdkafka.
 *
 * Revoke (or a failed rebalance): drop the partition from the core, the
 * table, the flush's checkpoints (one of a partition no longer owned must
 * never be committed), the status report and the rows held behind the
 * batch in flight. Open windows are not emitted: the next owner replays
 * them from the committed offset (docs/telemetry-semantics.md).
 *
 * tw_assign_restore is pure; tw_assign_rebalance runs on the loop's thread,
 * inside rd_kafka_consumer_poll.
 */
#ifndef SLUICE_TW_ASSIGN_H
#define SLUICE_TW_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "rowbuf.h"
#include "tw_core.h"
#include "tw_flush.h"
#include "tw_health.h"
#include "tw_metrics.h"
#include "tw_parts.h"
#include "tw_pause.h"
#include "tw_report.h"

/* Reading committed offsets on assignment. */
#define TW_ASSIGN_COMMITTED_TIMEOUT_MS 10000
#define TW_ASSIGN_COMMITTED_TRIES 3

/* Where one assigned partition starts. */
struct tw_restore {
	int64_t committed_offset; /* the committed offset, or TW_PART_NO_COMMIT */
	int have_cp;              /* cp is the committed checkpoint: restore it */
	struct tw_checkpoint cp;
	char meta[TW_CHECKPOINT_TEXT_MAX]; /* the metadata as text ("": none) */
	int bad_meta;                      /* metadata that is not a checkpoint: the windows start
	                                      afresh at the committed offset; error says why */
	char error[512];
};

/* The start of a partition whose commit is offset (negative: none) with
 * metadata (metadata_size bytes, not NUL-terminated; NULL or 0: none).
 * Metadata without a committed offset is ignored. */
void tw_assign_restore(int64_t offset, const void *metadata, size_t metadata_size,
                       struct tw_restore *out);

/* What the callback changes (all borrowed; the caller fills every member
 * before subscribing). */
struct tw_assign {
	const char *resource; /* for logs */
	struct tw_parts *parts;
	struct tw_core *core;
	struct rowbuf *rows;
	struct tw_flush *flush;
	struct tw_report *report; /* NULL: none */
	struct tw_pause *pause;   /* paused or not; the core's clock */
	struct tw_health *health; /* ready, fatal */
	struct tw_metrics *metrics;
	/* Set by the callback on the first assignment (even empty): what
	 * kafka_consumer_close needs (librdkafka#4312). */
	int assigned;
};

/* kafka_rebalance_fn: opaque is a struct tw_assign. */
void tw_assign_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);

#endif
