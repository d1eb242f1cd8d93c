/*
 * metrics.h - a registry of Prometheus counters, gauges and histograms,
 * rendered in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * A family (one metric name) has a fixed list of label names; each distinct
 * list of label values is a child (a series) with its own value, created on
 * first use and found again in O(1) (a hash of its label values), kept
 * until removed (metrics_remove, metrics_remove_matching). Families render
 * in registration order, children in creation order (a removed child that
 * comes back is new: it renders last).
 *
 * Threads: one mutex per registry guards everything, so the HTTP thread may
 * render while other threads update. Families live as long as the registry.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>

#define METRICS_ERR (-1)

/* Bounds, so a label fed from data (a topic, a resource name) cannot grow
 * the registry without limit: past them, updates fail. */
#define METRICS_MAX_LABELS 8
#define METRICS_MAX_CHILDREN 10000
#define METRICS_MAX_BUCKETS 64

struct metrics_registry;
struct metrics_family;

/* A new, empty registry, or NULL when out of memory. */
struct metrics_registry *metrics_registry_new(void);

/* Frees the registry and every family in it; NULL is a no-op. No other
 * thread may use it or its families any more. */
void metrics_registry_free(struct metrics_registry *reg);

/*
 * Register a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new in
 * the registry; labels is a NULL-terminated array of label names matching
 * [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", distinct, at most
 * METRICS_MAX_LABELS (NULL for none; histograms may not use "le"). help may
 * be NULL (no # HELP line). Names, help and label names are copied.
 *
 * A family without labels starts with its single child at 0, so it renders
 * before its first update; a family with labels renders nothing until its
 * first child exists.
 *
 * Histogram bounds are the upper bounds of the buckets, finite and strictly
 * increasing (nbounds <= METRICS_MAX_BUCKETS); the +Inf bucket is implicit.
 *
 * On success *out is the family (owned by the registry) and 0 is returned;
 * otherwise METRICS_ERR with the reason in errbuf, e.g.
 *   metrics: invalid metric name "9lives"
 */
int metrics_counter(struct metrics_registry *reg, const char *name, const char *help,
                    const char *const labels[], struct metrics_family **out, char *errbuf,
                    size_t errbuf_size);
int metrics_gauge(struct metrics_registry *reg, const char *name, const char *help,
                  const char *const labels[], struct metrics_family **out, char *errbuf,
                  size_t errbuf_size);
int metrics_histogram(struct metrics_registry *reg, const char *name, const char *help,
                      const char *const labels[], const double *bounds, size_t nbounds,
                      struct metrics_family **out, char *errbuf, size_t errbuf_size);

/*
 * Updates. values is a NULL-terminated array with one value per label name,
 * in the family's order (NULL or {NULL} for a family without labels); values
 * are copied on a child's creation. Each returns 0, or METRICS_ERR when the
 * number of values is wrong, the operation does not fit the family's type,
 * the family already has METRICS_MAX_CHILDREN children, memory runs out, or:
 *
 * metrics_add: counters (v >= 0, not NaN) and gauges (any v).
 * metrics_inc: metrics_add with 1.
 * metrics_set: gauges only.
 * metrics_observe: histograms only; NaN counts only in the +Inf bucket.
 */
int metrics_add(struct metrics_family *fam, const char *const values[], double v);
int metrics_inc(struct metrics_family *fam, const char *const values[]);
int metrics_set(struct metrics_family *fam, const char *const values[], double v);
int metrics_observe(struct metrics_family *fam, const char *const values[], double v);

/*
 * Removal, so that the series of something gone (a deleted resource, a
 * topic) do not stay in /metrics and in memory for the life of the process.
 *
 * metrics_remove: removes fam's child for values (as for the updates; the
 * single child of a family without labels too, which then renders nothing
 * until its next update). Returns 1 when it removed one, 0 when there was
 * none, METRICS_ERR when fam is NULL, the number of values is wrong or
 * memory runs out (long values need a buffer).
 *
 * metrics_remove_matching: removes, in every family of reg, every child
 * whose label names[i] has the value values[i] for every i. names and values
 * are NULL-terminated, of the same length, 1 to METRICS_MAX_LABELS entries.
 * A family without all of the names loses nothing. Every series of one
 * resource, whatever its other labels (e.g. "reason"):
 *
 *   metrics_remove_matching(reg, (const char *const[]){"kind", "namespace", "name", NULL},
 *                           (const char *const[]){"VideoJob", ns, name, NULL});
 *
 * Returns the number of children removed, METRICS_ERR for bad arguments.
 * Time: one pass over the children of each family having the names.
 *
 * Both keep the other children in their order.
 */
int metrics_remove(struct metrics_family *fam, const char *const values[]);
int metrics_remove_matching(struct metrics_registry *reg, const char *const names[],
                            const char *const values[]);

/*
 * Renders the registry. On success *text is a NUL-terminated string the
 * caller frees with free(), *len its length, and 0 is returned; METRICS_ERR
 * when out of memory.
 */
int metrics_render(struct metrics_registry *reg, char **text, size_t *len);

/*
 * Renders the registry as one JSON object, for GET /status (docs/status.md):
 * a member per family, in registration order, holding its type, help (null
 * when it has none), label names and one series per child:
 *
 *   {"sluice_events_total": {"type": "counter", "help": "Events read.",
 *     "labels": ["topic"], "series": [{"labels": {"topic": "t"}, "value": 3}]},
 *    "sluice_segment_seconds": {"type": "histogram", "help": null, "labels": [],
 *     "series": [{"labels": {}, "buckets": {"0.5": 1, "1": 2, "+Inf": 2},
 *                 "sum": 1.25, "count": 2}]}}
 *
 * (whitespace added here; the text has none). Values are JSON numbers;
 * NaN and the infinities, which JSON has no number for, are the strings
 * "NaN", "+Inf", "-Inf". Bucket keys are the upper bounds as /metrics
 * writes them (metrics_format_value), the counts cumulative as there. A
 * family with labels but no child yet has "series": []. Same ownership and
 * errors as metrics_render; the registry's lock is held while it renders.
 */
int metrics_render_json(struct metrics_registry *reg, char **text, size_t *len);

/*
 * Formats v as Prometheus reads it: the fewest digits that read back as
 * exactly v ("0.1", "3", "1.5e-07"), whole numbers below 1e17 in full
 * ("40000", not "4e+04"), or "+Inf", "-Inf", "NaN". Uses the C locale's
 * decimal point (Sluice never calls setlocale). buf should hold 32 bytes.
 * Returns buf.
 */
const char *metrics_format_value(char *buf, size_t size, double v);

#endif /* SLUICE_METRICS_H */
