/* tw_core.h -- the telemetry stream core: per Kafka partition, dedupe then
 * event-time windows, behind one call per event.
 *
 *   parse (tw_parse) -> tw_core_process -> emit callback -> sinks
 *                                       -> verdict: late/overflow -> dead letter
 *   sinks acknowledged -> tw_core_checkpoint -> commit offset + metadata
 *
 * Each partition is an independent pipeline with its own dedupe, windows,
 * watermark and counters (events are keyed by the key fields, so a key
 * lives in one partition). tw_core_assign creates a partition's state, from
 * a checkpoint when its commit carried one; tw_core_revoke frees it all.
 * Semantics of each stage: tw_dedupe.h, tw_window.h,
 * docs/telemetry-semantics.md.
 *
 * Pure: no I/O, no clock (processing time comes in as now_ms, monotonic).
 * Not thread-safe: one consumer thread owns a core.
 */
#ifndef SLUICE_TW_CORE_H
#define SLUICE_TW_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "tw_dedupe.h"
#include "tw_event.h"
#include "tw_spec.h"
#include "tw_window.h"

/* Most partitions one core holds at once. */
#define TW_CORE_PARTITIONS_MAX 4096

enum tw_core_error {
	/* tw_window's errors pass through: TW_WINDOW_E_NOMEM (-1) ... (-5). */
	TW_CORE_E_PARTITION = -10, /* not assigned (process, checkpoint...) or assigned twice */
	TW_CORE_E_LIMIT = -11,     /* TW_CORE_PARTITIONS_MAX reached */
};

struct tw_core_config {
	struct tw_window_config window;
	int dedupe_enabled;
	struct tw_dedupe_config dedupe;
};

/* Counters of one partition. */
struct tw_core_stats {
	struct tw_window_stats window; /* events in, late, emitted, open windows ... */
	uint64_t events_in;            /* tw_core_process calls that got a verdict */
	uint64_t duplicates;
	uint64_t skipped; /* tw_core_skip calls (malformed messages) */
	uint64_t dedupe_entries;
	uint64_t dedupe_evicted_early;
};

/*
 * The core settings a TelemetryWindow spec asks for (window, aggregations,
 * dedupe). Returns 0, or a negative code with the reason in errbuf (a spec
 * that tw_spec_parse accepted always converts).
 */
int tw_core_config_from_spec(const struct tw_spec *spec, struct tw_core_config *cfg, char *errbuf,
                             size_t errbuf_size);

/*
 * A core with no partitions. cfg is copied; every window result of every
 * partition goes to emit(opaque, result) with result->partition set.
 * Returns NULL with the reason in errbuf. Free with tw_core_free.
 */
struct tw_core *tw_core_new(const struct tw_core_config *cfg, tw_emit_fn emit, void *opaque,
                            char *errbuf, size_t errbuf_size);

/* Frees the core and every partition's state; emits nothing. NULL: no-op. */
void tw_core_free(struct tw_core *c);

/*
 * Partition assigned to this consumer. cp: the checkpoint parsed from the
 * committed offset's metadata (tw_checkpoint_parse), or NULL for a fresh
 * start; the caller then consumes from cp->offset. now_ms starts the idle
 * clock. Returns 0, TW_CORE_E_PARTITION (already assigned), TW_CORE_E_LIMIT,
 * TW_WINDOW_E_CONFIG (cp out of range) or TW_WINDOW_E_NOMEM.
 */
int tw_core_assign(struct tw_core *c, int32_t partition, const struct tw_checkpoint *cp,
                   int64_t now_ms);

/* Partition revoked: frees all of its state (open windows are not emitted;
 * the next owner replays them). Returns 0 or TW_CORE_E_PARTITION. */
int tw_core_revoke(struct tw_core *c, int32_t partition);

/* Whether partition is assigned (1) or not (0). */
int tw_core_has(const struct tw_core *c, int32_t partition);

/*
 * One parsed event from partition at offset. Hashes the key once, drops a
 * duplicate (TW_DUPLICATE), else hands it to the windows (tw_window_add:
 * verdicts TW_ADDED, TW_PARTIAL_LATE, TW_LATE, TW_REPLAYED, TW_OVERFLOW;
 * windows closed by it are emitted before this returns). Negative:
 * TW_CORE_E_PARTITION, TW_WINDOW_E_RANGE or TW_WINDOW_E_OFFSET (nothing
 * changed; dead-letter a RANGE event, an OFFSET is a caller bug), or
 * TW_WINDOW_E_NOMEM. A duplicate is not activity for the idle timeout.
 */
int tw_core_process(struct tw_core *c, int32_t partition, int64_t offset, const struct tw_event *ev,
                    int64_t now_ms);

/* A message at offset that produced no event (malformed, dead-lettered):
 * lets the committable offset move past it. Returns 0 or
 * TW_CORE_E_PARTITION. */
int tw_core_skip(struct tw_core *c, int32_t partition, int64_t offset);

/* Processing time passes for every partition (idle advance). */
void tw_core_tick(struct tw_core *c, int64_t now_ms);

/* The checkpoint to commit for partition (tw_window_checkpoint). Returns 0
 * or TW_CORE_E_PARTITION. */
int tw_core_checkpoint(const struct tw_core *c, int32_t partition, struct tw_checkpoint *cp);

/* Returns 0 or TW_CORE_E_PARTITION. */
int tw_core_stats(const struct tw_core *c, int32_t partition, struct tw_core_stats *st);

/* Assigned partitions, ascending, into out (at most n); returns how many
 * are assigned (may exceed n). */
size_t tw_core_partitions(const struct tw_core *c, int32_t *out, size_t n);

#endif
