/* tw_agg_kind.h -- the aggregations a TelemetryWindow may ask for
 * (spec.aggregations[]): their names and bits, one list for the CRD, the
 * spec parser, the window store (workers/telemetry/tw_agg.h) and the sinks.
 */
#ifndef SLUICE_TW_AGG_KIND_H
#define SLUICE_TW_AGG_KIND_H

/* spec.aggregations[] entries, as bits. */
enum tw_agg_kind {
	TW_AGG_COUNT = 1u << 0,
	TW_AGG_SUM = 1u << 1,
	TW_AGG_MIN = 1u << 2,
	TW_AGG_MAX = 1u << 3,
	TW_AGG_MEAN = 1u << 4,
	TW_AGG_P50 = 1u << 5,
	TW_AGG_P95 = 1u << 6,
	TW_AGG_P99 = 1u << 7,
};
#define TW_AGG_ALL 0xffu
#define TW_AGG_QUANTILES (TW_AGG_P50 | TW_AGG_P95 | TW_AGG_P99)

/*
 * "count", "sum", "min", "max", "mean", "p50", "p95" or "p99" (exactly) into
 * *kind. Returns 0, or -1 for anything else (NULL included).
 */
int tw_agg_parse(const char *name, unsigned *kind);

/* The name of one kind bit; NULL when kind is not exactly one known bit. */
const char *tw_agg_name(unsigned kind);

#endif
