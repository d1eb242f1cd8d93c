/* tw_sketch.c -- DDSketch with dense, collapsing stores; see tw_sketch.h. */
#include "tw_sketch.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new store starts this wide: enough for a window of one sensor's values,
 * which rarely spread over more than a factor of 1.4 (16 buckets at 1%). */
#define STORE_MIN_CAP 16

int tw_sketch_config_init(struct tw_sketch_config *cfg, double alpha, uint32_t max_buckets,
                          char *errbuf, size_t errbuf_size)
{
	/* alpha > 0.5 makes gamma > 3 and the bound meaningless; NaN fails too. */
	if (!(alpha > 0.0 && alpha <= 0.5)) {
		snprintf(errbuf, errbuf_size, "sketch: relative accuracy %g is not in (0, 0.5]",
		         alpha);
		return TW_SKETCH_E_CONFIG;
	}
	if (max_buckets < STORE_MIN_CAP) {
		snprintf(errbuf, errbuf_size, "sketch: max_buckets %u is below %d", max_buckets,
		         STORE_MIN_CAP);
		return TW_SKETCH_E_CONFIG;
	}
	cfg->alpha = alpha;
	cfg->max_buckets = max_buckets;
	cfg->gamma = (1.0 + alpha) / (1.0 - alpha);
	cfg->ln_gamma = log(cfg->gamma);
	cfg->inv_ln_gamma = 1.0 / cfg->ln_gamma;
	return TW_SKETCH_OK;
}

void tw_sketch_init(struct tw_sketch *s)
{
	memset(s, 0, sizeof(*s));
	s->min = INFINITY;
	s->max = -INFINITY;
}

/* A store's positions in ascending index order: pairs while sparse,
 * buckets (zeros included) when dense. */
static uint32_t store_len(const struct tw_sketch_store *st)
{
	return st->dense ? st->cap : st->n;
}

static uint64_t store_at(const struct tw_sketch_store *st, uint32_t j, int32_t *index)
{
	*index = st->dense ? st->lo + (int32_t)j : st->idx[j];
	return st->counts[j];
}

static void store_clear(struct tw_sketch_store *st)
{
	if (st->dense && st->cap > 0)
		memset(st->counts, 0, (size_t)st->cap * sizeof(st->counts[0]));
	st->n = 0;
}

static void store_free(struct tw_sketch_store *st)
{
	free(st->counts);
	free(st->idx);
	memset(st, 0, sizeof(*st));
}

void tw_sketch_reset(struct tw_sketch *s)
{
	store_clear(&s->pos);
	store_clear(&s->neg);
	s->zero = 0;
	s->count = 0;
	s->collapsed = 0;
	s->min = INFINITY;
	s->max = -INFINITY;
}

void tw_sketch_free(struct tw_sketch *s)
{
	store_free(&s->pos);
	store_free(&s->neg);
	tw_sketch_init(s);
}

/* Re-lays st, dense, over [new_lo, new_lo + new_cap), folding indices below
 * new_lo into new_lo (the collapse); returns how many values were folded,
 * or -1 when out of memory (st unchanged). */
static int64_t store_relayout(struct tw_sketch_store *st, int64_t new_lo, uint32_t new_cap)
{
	uint64_t *counts = calloc(new_cap, sizeof(*counts));
	uint32_t len = store_len(st);
	int64_t folded = 0;

	if (counts == NULL)
		return -1;
	for (uint32_t j = 0; j < len; j++) {
		int32_t at;
		uint64_t c = store_at(st, j, &at);
		int64_t idx = at;

		if (c == 0)
			continue;
		if (idx < new_lo) {
			idx = new_lo;
			folded += (int64_t)c;
		}
		counts[idx - new_lo] += c;
	}
	free(st->counts);
	free(st->idx);
	st->counts = counts;
	st->idx = NULL;
	st->lo = (int32_t)new_lo;
	st->cap = new_cap;
	st->n = 0;
	st->dense = 1;
	return folded;
}

/* Adds n at index idx to a dense store (or one about to become dense),
 * growing or collapsing it as needed. */
static int dense_add(struct tw_sketch_store *st, uint32_t max_buckets, int32_t idx, uint64_t n,
                     uint64_t *collapsed)
{
	int64_t lo = idx, hi = idx, need, new_lo;
	uint32_t new_cap, len = store_len(st), first = 0, last;
	int64_t folded;

	if (st->dense && st->cap > 0 && idx >= st->lo && (int64_t)idx < (int64_t)st->lo + st->cap) {
		st->counts[idx - st->lo] += n;
		return 0;
	}
	/* The range that must fit: the occupied buckets (not the slack
	 * around them) plus idx. */
	while (first < len && st->counts[first] == 0)
		first++;
	if (first < len) {
		int32_t a, b;

		last = len - 1;
		while (st->counts[last] == 0)
			last--;
		store_at(st, first, &a);
		store_at(st, last, &b);
		if (a < lo)
			lo = a;
		if (b > hi)
			hi = b;
	}
	need = hi - lo + 1;
	if (need > (int64_t)max_buckets) {
		/* Keep the highest magnitudes; see the header for why. */
		new_cap = max_buckets;
		new_lo = hi - new_cap + 1;
		if (st->dense && new_lo == st->lo && st->cap == new_cap) {
			/* Already laid out so: fold idx into the lowest bucket
			 * without copying (the steady state of a collapsed
			 * store fed ever smaller values). */
			st->counts[0] += n;
			*collapsed += n;
			return 0;
		}
	} else {
		int64_t want = st->dense ? (int64_t)st->cap * 2 : need + need / 2;

		if (want < need)
			want = need;
		if (want < STORE_MIN_CAP)
			want = STORE_MIN_CAP;
		if (want > (int64_t)max_buckets)
			want = max_buckets;
		new_cap = (uint32_t)want;
		if (!st->dense || first >= len)
			new_lo = lo - (int64_t)(new_cap - need) / 2; /* room on both sides */
		else if (idx < st->lo)
			new_lo = hi - new_cap + 1; /* growing down: slack below */
		else
			new_lo = lo; /* growing up: slack above */
	}
	folded = store_relayout(st, new_lo, new_cap);
	if (folded < 0)
		return TW_SKETCH_E_NOMEM;
	*collapsed += (uint64_t)folded;
	if (idx < st->lo) {
		idx = st->lo;
		*collapsed += n;
	}
	st->counts[idx - st->lo] += n;
	return 0;
}

/* Adds n at index idx: into the sorted pairs while they stay few, else
 * dense. */
static int store_add(struct tw_sketch_store *st, uint32_t max_buckets, int32_t idx, uint64_t n,
                     uint64_t *collapsed)
{
	uint32_t lo = 0, hi, sparse_max;

	if (st->dense)
		return dense_add(st, max_buckets, idx, n, collapsed);
	hi = st->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (st->idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->n && st->idx[lo] == idx) {
		st->counts[lo] += n;
		return 0;
	}
	sparse_max = max_buckets < TW_SKETCH_SPARSE_MAX ? max_buckets : TW_SKETCH_SPARSE_MAX;
	if (st->n == sparse_max)
		return dense_add(st, max_buckets, idx, n, collapsed);
	if (st->n == st->cap) {
		uint32_t cap = st->cap ? st->cap * 2 : 8;
		uint64_t *counts;
		int32_t *ix;

		if (cap > sparse_max)
			cap = sparse_max;
		counts = realloc(st->counts, cap * sizeof(*counts));
		if (counts == NULL)
			return TW_SKETCH_E_NOMEM;
		st->counts = counts;
		ix = realloc(st->idx, cap * sizeof(*ix));
		if (ix == NULL)
			return TW_SKETCH_E_NOMEM;
		st->idx = ix;
		st->cap = cap;
	}
	memmove(&st->idx[lo + 1], &st->idx[lo], (st->n - lo) * sizeof(st->idx[0]));
	memmove(&st->counts[lo + 1], &st->counts[lo], (st->n - lo) * sizeof(st->counts[0]));
	st->idx[lo] = idx;
	st->counts[lo] = n;
	st->n++;
	return 0;
}

static int32_t value_index(const struct tw_sketch_config *cfg, double x)
{
	/* x >= DBL_MIN, so log(x) is finite: |index| < 36000 at alpha 0.01
	 * and < 2^31 for any alpha the config allows. */
	return (int32_t)ceil(log(x) * cfg->inv_ln_gamma);
}

static double index_value(const struct tw_sketch_config *cfg, int32_t idx)
{
	/* The point of (gamma^(i-1), gamma^i] with the smallest worst-case
	 * relative error: exactly alpha at both ends. */
	return exp((double)idx * cfg->ln_gamma) * (2.0 / (cfg->gamma + 1.0));
}

int tw_sketch_add(struct tw_sketch *s, const struct tw_sketch_config *cfg, double v)
{
	int rc = 0;

	if (!isfinite(v))
		return TW_SKETCH_E_VALUE;
	if (v >= DBL_MIN)
		rc = store_add(&s->pos, cfg->max_buckets, value_index(cfg, v), 1, &s->collapsed);
	else if (v <= -DBL_MIN)
		rc = store_add(&s->neg, cfg->max_buckets, value_index(cfg, -v), 1, &s->collapsed);
	else
		s->zero++;
	if (rc < 0)
		return rc;
	s->count++;
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	return 0;
}

static int store_merge(struct tw_sketch_store *dst, const struct tw_sketch_store *src,
                       uint32_t max_buckets, uint64_t *collapsed)
{
	/* Highest index first: the first add sizes a dense dst for the top
	 * of the range, later ones only grow it downwards. */
	for (uint32_t j = store_len(src); j-- > 0;) {
		int32_t idx;
		uint64_t c = store_at(src, j, &idx);

		if (c == 0)
			continue;
		int rc = store_add(dst, max_buckets, idx, c, collapsed);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tw_sketch_merge(struct tw_sketch *dst, const struct tw_sketch *src,
                    const struct tw_sketch_config *cfg)
{
	int rc;

	if (src->count == 0)
		return 0;
	rc = store_merge(&dst->pos, &src->pos, cfg->max_buckets, &dst->collapsed);
	if (rc == 0)
		rc = store_merge(&dst->neg, &src->neg, cfg->max_buckets, &dst->collapsed);
	if (rc < 0)
		return rc;
	dst->zero += src->zero;
	dst->count += src->count;
	dst->collapsed += src->collapsed;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

void tw_sketch_quantiles(const struct tw_sketch *s, const struct tw_sketch_config *cfg,
                         const double *qs, size_t n, double *out)
{
	uint64_t cum = 0;
	size_t k = 0;

	if (s->count == 0) {
		for (size_t i = 0; i < n; i++)
			out[i] = NAN;
		return;
	}
/* The rank of qs[k]: clamped q times (count - 1). */
#define RANK(q) (((q) > 0.0 ? ((q) > 1.0 ? 1.0 : (q)) : 0.0) * (double)(s->count - 1))
/* Answers every pending quantile whose rank the running count passed. */
#define TAKE(value)                                                                                \
	while (k < n && (double)cum > RANK(qs[k]))                                                 \
	out[k++] = (value)

	/* Ascending value order: most negative (highest |x| index) first. */
	for (uint32_t j = store_len(&s->neg); j-- > 0 && k < n;) {
		int32_t idx;
		uint64_t c = store_at(&s->neg, j, &idx);

		if (c == 0)
			continue;
		cum += c;
		TAKE(-index_value(cfg, idx));
	}
	if (s->zero != 0) {
		cum += s->zero;
		TAKE(0.0);
	}
	for (uint32_t j = 0; j < store_len(&s->pos) && k < n; j++) {
		int32_t idx;
		uint64_t c = store_at(&s->pos, j, &idx);

		if (c == 0)
			continue;
		cum += c;
		TAKE(index_value(cfg, idx));
	}
#undef TAKE
#undef RANK
	for (; k < n; k++) /* unreachable with consistent counts; keeps out defined */
		out[k] = s->max;
	for (size_t i = 0; i < n; i++) {
		if (out[i] < s->min)
			out[i] = s->min;
		if (out[i] > s->max)
			out[i] = s->max;
	}
}

double tw_sketch_quantile(const struct tw_sketch *s, const struct tw_sketch_config *cfg, double q)
{
	double v;

	tw_sketch_quantiles(s, cfg, &q, 1, &v);
	return v;
}

uint64_t tw_sketch_count(const struct tw_sketch *s)
{
	return s->count;
}

size_t tw_sketch_buckets(const struct tw_sketch *s)
{
	return (size_t)s->pos.cap + s->neg.cap;
}

uint64_t tw_sketch_collapsed(const struct tw_sketch *s)
{
	return s->collapsed;
}
