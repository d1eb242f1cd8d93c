/* tw_sketch.h -- quantiles with a relative error bound: a DDSketch.
 *
 * Values go into logarithmic buckets: with gamma = (1 + alpha) / (1 - alpha),
 * a positive x lands in bucket i = ceil(log_gamma(x)), i.e. gamma^(i-1) < x
 * <= gamma^i, and the bucket answers 2 * gamma^i / (gamma + 1). Negative
 * values use a mirrored store on |x|; zero has a counter of its own.
 * (Masson, Rim, Lee: "DDSketch: A Fast and Fully-Mergeable Quantile Sketch
 * with Relative-Error Guarantees", VLDB 2019.)
 *
 * The bound. tw_sketch_quantile(q) estimates x_r, the element of rank
 * r = floor(q * (n - 1)) (0-based) of the n values added, sorted; the answer
 * q' satisfies
 *
 *     |q' - x_r| <= alpha * |x_r|      (up to floating-point rounding)
 *
 * for every q, with two documented exceptions that keep memory bounded:
 *   - |x| below DBL_MIN (zero and subnormals) is counted as zero, so those
 *     answer 0: an absolute error below 2.3e-308;
 *   - each sign's store holds at most max_buckets buckets. A store that
 *     would need more collapses its LOWEST buckets (the values of smallest
 *     magnitude) into the lowest bucket kept, so those lose the bound
 *     (their estimate is too large in magnitude) while large values keep
 *     it. With alpha = 0.01 and the default 2048 buckets a store spans
 *     magnitudes over a ratio of 1e17 before anything collapses;
 *     tw_sketch_collapsed() says whether it ever happened.
 * Answers are clamped to the exact [min, max] seen, which only moves them
 * towards the truth.
 *
 * Mergeable: tw_sketch_merge(a, b) is the sketch of a's and b's values
 * together (same config required), so panes merge into windows exactly.
 *
 * A sketch is a plain struct: init it, add, free its buckets. Not
 * thread-safe; one owner at a time.
 */
#ifndef SLUICE_TW_SKETCH_H
#define SLUICE_TW_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define TW_SKETCH_ALPHA_DEFAULT 0.01
#define TW_SKETCH_BUCKETS_DEFAULT 2048

enum tw_sketch_error {
	TW_SKETCH_OK = 0,
	TW_SKETCH_E_NOMEM = -1,  /* bucket array could not grow; the value was not added */
	TW_SKETCH_E_VALUE = -2,  /* NaN or infinite: refused, the sketch is unchanged */
	TW_SKETCH_E_CONFIG = -3, /* alpha outside (0, 0.5], max_buckets < 16, or configs differ */
};

/* Shared, read-only settings; one per stream, passed to every call. */
struct tw_sketch_config {
	double alpha;
	uint32_t max_buckets; /* per store (positive, negative) */
	double gamma;
	double ln_gamma;
	double inv_ln_gamma;
};

/*
 * One sign's buckets. Sparse while few buckets are used (a window of one
 * key usually holds a handful of values): idx[0..n) ascending with their
 * counts. Dense past TW_SKETCH_SPARSE_MAX of them: counts for the indices
 * [lo, lo + cap), zeros allowed. Internal; use the functions below.
 */
#define TW_SKETCH_SPARSE_MAX 32
struct tw_sketch_store {
	uint64_t *counts;
	int32_t *idx; /* sparse: the bucket indices; NULL when dense */
	int32_t lo;   /* dense: index of counts[0] */
	uint32_t cap; /* sparse: pairs allocated; dense: buckets */
	uint32_t n;   /* sparse: pairs used */
	int dense;
};

struct tw_sketch {
	struct tw_sketch_store pos;
	struct tw_sketch_store neg; /* indexed by |x| */
	uint64_t zero;
	uint64_t count;
	double min, max;
	uint64_t collapsed; /* values that went into a collapsed bucket */
};

/*
 * Fills cfg for a relative accuracy alpha in (0, 0.5] and max_buckets >= 16
 * per store. Returns 0, or TW_SKETCH_E_CONFIG with the reason in errbuf.
 */
int tw_sketch_config_init(struct tw_sketch_config *cfg, double alpha, uint32_t max_buckets,
                          char *errbuf, size_t errbuf_size);

/* An empty sketch; allocates nothing until the first add. */
void tw_sketch_init(struct tw_sketch *s);

/* Empties s but keeps its bucket arrays for reuse. */
void tw_sketch_reset(struct tw_sketch *s);

/* Frees s's bucket arrays (not s itself) and leaves it empty; safe to call
 * twice and on a sketch that never allocated. */
void tw_sketch_free(struct tw_sketch *s);

/* Adds v. Returns 0, TW_SKETCH_E_VALUE for NaN/inf, or TW_SKETCH_E_NOMEM. */
int tw_sketch_add(struct tw_sketch *s, const struct tw_sketch_config *cfg, double v);

/* Adds every value of src into dst (src unchanged). Both must have been
 * filled under cfg. Returns 0 or TW_SKETCH_E_NOMEM (dst then holds part of
 * src: discard it). */
int tw_sketch_merge(struct tw_sketch *dst, const struct tw_sketch *src,
                    const struct tw_sketch_config *cfg);

/* The q-quantile, q in [0, 1] (clamped), within the bound above; NAN when
 * s is empty. */
double tw_sketch_quantile(const struct tw_sketch *s, const struct tw_sketch_config *cfg, double q);

/* n quantiles in one pass over the buckets: qs ascending, answers in out
 * (each as tw_sketch_quantile would give it). */
void tw_sketch_quantiles(const struct tw_sketch *s, const struct tw_sketch_config *cfg,
                         const double *qs, size_t n, double *out);

/* Values added (zeros included). */
uint64_t tw_sketch_count(const struct tw_sketch *s);

/* Buckets allocated over both stores: the sketch's memory is about 8 bytes
 * (12 while sparse) times this; never above 2 * max_buckets. */
size_t tw_sketch_buckets(const struct tw_sketch *s);

/* How many values landed in collapsed buckets (0: the bound holds for all). */
uint64_t tw_sketch_collapsed(const struct tw_sketch *s);

#endif
