/* tw_agg.h -- the aggregate of one key over one pane or window: count, and
 * per value field count, sum, min, max, mean and p50/p95/p99.
 *
 * The aggregation names below are the ones spec.aggregations[] accepts
 * (lib/contract/tw_agg_kind.h: the spec parser reads them through tw_agg_parse), so the CRD, the
 * config file and the sinks agree on one list. Quantiles come from a tw_sketch per value field,
 * kept only when a quantile was asked for (the bound is in tw_sketch.h: |q' - q| <= alpha * |q|).
 *
 * A value field that an event lacks (its bit clear in tw_event.present), or
 * whose value is NaN or infinite, is skipped for that field only; the
 * event still counts in tw_agg.count. A field that no event of the window
 * had reports count 0, sum 0 and NAN for min, max, mean and the quantiles:
 * sinks write NAN as "no value", never as a number.
 *
 * Aggregates merge (tw_agg_merge), so the window store keeps one per pane
 * and adds panes together when a hopping window closes. Summation is in
 * event order within a pane and pane order within a window, so the same
 * events in the same order give bit-identical sums (replays rely on it).
 */
#ifndef SLUICE_TW_AGG_H
#define SLUICE_TW_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "tw_agg_kind.h"
#include "tw_event.h"
#include "tw_sketch.h"

enum tw_agg_error {
	TW_AGG_OK = 0,
	TW_AGG_E_NOMEM = -1,
	TW_AGG_E_CONFIG = -2,
};

/* Shared, read-only settings for every aggregate of a stream. */
struct tw_agg_config {
	uint32_t nvalues; /* value fields per event, <= TW_VALUES_MAX */
	unsigned kinds;   /* TW_AGG_* bits; quantile bits turn the sketches on */
	struct tw_sketch_config sketch;
};

/*
 * Fills cfg; alpha and max_buckets as for tw_sketch_config_init (0 picks the
 * defaults). Returns 0, or TW_AGG_E_CONFIG with the reason in errbuf.
 */
int tw_agg_config_init(struct tw_agg_config *cfg, uint32_t nvalues, unsigned kinds, double alpha,
                       uint32_t max_buckets, char *errbuf, size_t errbuf_size);

struct tw_agg_value {
	uint64_t count;
	double sum, min, max;
	struct tw_sketch sketch; /* empty unless cfg->kinds has a quantile */
};

struct tw_agg {
	uint64_t count; /* events, whatever fields they had */
	uint32_t nvalues;
	struct tw_agg_value v[]; /* nvalues of them */
};

/* One value field's result. */
struct tw_value_result {
	uint64_t count;
	double sum, min, max, mean, p50, p95, p99;
};

/* A new, empty aggregate for cfg; NULL when out of memory. Free with
 * tw_agg_free. */
struct tw_agg *tw_agg_new(const struct tw_agg_config *cfg);

/* Frees a and its sketches; NULL is a no-op. */
void tw_agg_free(struct tw_agg *a);

/* Empties a, keeping its sketches' memory for reuse. */
void tw_agg_reset(struct tw_agg *a);

/* Adds one event. Returns 0 or TW_AGG_E_NOMEM (a sketch could not grow:
 * the event's count and plain statistics are in, its quantile sample may
 * be missing). */
int tw_agg_add(struct tw_agg *a, const struct tw_agg_config *cfg, const struct tw_event *ev);

/* dst += src. Returns 0 or TW_AGG_E_NOMEM (dst then partial: discard it). */
int tw_agg_merge(struct tw_agg *dst, const struct tw_agg *src, const struct tw_agg_config *cfg);

/* Writes a->nvalues results to out. Fields cfg->kinds does not ask for are
 * still filled when they cost nothing (count, sum, min, max, mean); the
 * quantiles are NAN without a quantile kind. */
void tw_agg_result(const struct tw_agg *a, const struct tw_agg_config *cfg,
                   struct tw_value_result *out);

#endif
