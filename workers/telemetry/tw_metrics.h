/* tw_metrics.h -- the telemetry worker's Prometheus metrics: the families
 * it registers, and the counters the loop keeps added to them.
 *
 * The loop's modules count in plain integers (tw_ingest, tw_dlq, tw_flush
 * ...); every METRICS_SYNC_MS the loop gathers their totals into a
 * tw_tally and tw_metrics_sync adds what grew since the last sync, so the
 * hot path never takes the registry's lock. Gauges are set directly
 * (tw_metrics_set). With no registry every family is NULL and every call
 * a no-op.
 *
 * Runs on the loop's thread. A metric that cannot be updated is logged
 * once, never fatal.
 */
#ifndef SLUICE_TW_METRICS_H
#define SLUICE_TW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "telemetry.h"
#include "tw_dlq.h"
#include "tw_ingest.h"

/* Every counter's total so far. */
struct tw_tally {
	struct telemetry_counters c;
	uint64_t malformed_by[TW_MALFORMED_KINDS];
	uint64_t dlq_by[TW_DLQ_KINDS];
	uint64_t commit_errors; /* checkpoints Kafka refused to commit */
	uint64_t fetch_wakeups; /* kafka_waker_poke calls that started a wake-up */
	uint64_t status_errors; /* failed writes to the status Redis */
};

/* Zeroed: no families (every call a no-op) until tw_metrics_register. */
struct tw_metrics {
	struct metrics_family *events_in, *duplicates, *late, *partial_late, *replayed, *overflow,
	    *malformed, *windows, *dlq, *batches, *commits, *commit_errors, *sink_up, *lag,
	    *watermark, *assigned, *paused, *pending, *status_errors, *fetch_wakeups;
	int warned;             /* a failed update was logged */
	struct tw_tally synced; /* what the counters hold */
};

/*
 * Registers the families in reg (borrowed; it must outlive m), the sinks'
 * own (tw_sinks_set_metrics), and shows every sink (sink names[0..nsinks))
 * up and every dead-letter kind at 0 from the start. Returns 0, or -1 with
 * the reason in errbuf.
 */
int tw_metrics_register(struct tw_metrics *m, struct metrics_registry *reg,
                        const char *const *sink_names, size_t nsinks, char *errbuf,
                        size_t errbuf_size);

/* Adds to each counter what now holds past the last sync. */
void tw_metrics_sync(struct tw_metrics *m, const struct tw_tally *now);

/* metrics_set and metrics_add of f (NULL: nothing) with labels; add
 * ignores v <= 0. */
void tw_metrics_set(struct tw_metrics *m, struct metrics_family *f, const char *const labels[],
                    double v);
void tw_metrics_add(struct tw_metrics *m, struct metrics_family *f, const char *const labels[],
                    double v);

#endif
