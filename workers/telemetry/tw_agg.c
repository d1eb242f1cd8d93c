/* tw_agg.c -- per key, per pane aggregates; see tw_agg.h. */
#include "tw_agg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tw_agg_config_init(struct tw_agg_config *cfg, uint32_t nvalues, unsigned kinds, double alpha,
                       uint32_t max_buckets, char *errbuf, size_t errbuf_size)
{
	if (nvalues > TW_VALUES_MAX) {
		snprintf(errbuf, errbuf_size, "aggregates: %u value fields, the most is %d",
		         nvalues, TW_VALUES_MAX);
		return TW_AGG_E_CONFIG;
	}
	if ((kinds & ~TW_AGG_ALL) != 0) {
		snprintf(errbuf, errbuf_size, "aggregates: unknown kind bits 0x%x",
		         kinds & ~TW_AGG_ALL);
		return TW_AGG_E_CONFIG;
	}
	if (tw_sketch_config_init(&cfg->sketch, alpha > 0 ? alpha : TW_SKETCH_ALPHA_DEFAULT,
	                          max_buckets > 0 ? max_buckets : TW_SKETCH_BUCKETS_DEFAULT, errbuf,
	                          errbuf_size) < 0)
		return TW_AGG_E_CONFIG;
	cfg->nvalues = nvalues;
	cfg->kinds = kinds;
	return TW_AGG_OK;
}

static void value_reset(struct tw_agg_value *v)
{
	v->count = 0;
	v->sum = 0.0;
	v->min = INFINITY;
	v->max = -INFINITY;
}

struct tw_agg *tw_agg_new(const struct tw_agg_config *cfg)
{
	struct tw_agg *a = malloc(sizeof(*a) + (size_t)cfg->nvalues * sizeof(a->v[0]));

	if (a == NULL)
		return NULL;
	a->count = 0;
	a->nvalues = cfg->nvalues;
	for (uint32_t i = 0; i < a->nvalues; i++) {
		value_reset(&a->v[i]);
		tw_sketch_init(&a->v[i].sketch);
	}
	return a;
}

void tw_agg_free(struct tw_agg *a)
{
	if (a == NULL)
		return;
	for (uint32_t i = 0; i < a->nvalues; i++)
		tw_sketch_free(&a->v[i].sketch);
	free(a);
}

void tw_agg_reset(struct tw_agg *a)
{
	a->count = 0;
	for (uint32_t i = 0; i < a->nvalues; i++) {
		value_reset(&a->v[i]);
		tw_sketch_reset(&a->v[i].sketch);
	}
}

int tw_agg_add(struct tw_agg *a, const struct tw_agg_config *cfg, const struct tw_event *ev)
{
	int sketches = (cfg->kinds & TW_AGG_QUANTILES) != 0;
	int rc = TW_AGG_OK;

	a->count++;
	for (uint32_t i = 0; i < a->nvalues; i++) {
		struct tw_agg_value *v = &a->v[i];
		double x = ev->values[i];

		if (!(ev->present & (1u << i)) || !isfinite(x))
			continue;
		v->count++;
		v->sum += x;
		if (x < v->min)
			v->min = x;
		if (x > v->max)
			v->max = x;
		if (sketches && tw_sketch_add(&v->sketch, &cfg->sketch, x) == TW_SKETCH_E_NOMEM)
			rc = TW_AGG_E_NOMEM;
	}
	return rc;
}

int tw_agg_merge(struct tw_agg *dst, const struct tw_agg *src, const struct tw_agg_config *cfg)
{
	int sketches = (cfg->kinds & TW_AGG_QUANTILES) != 0;

	dst->count += src->count;
	for (uint32_t i = 0; i < dst->nvalues && i < src->nvalues; i++) {
		struct tw_agg_value *d = &dst->v[i];
		const struct tw_agg_value *s = &src->v[i];

		if (s->count == 0)
			continue;
		d->count += s->count;
		d->sum += s->sum;
		if (s->min < d->min)
			d->min = s->min;
		if (s->max > d->max)
			d->max = s->max;
		if (sketches && tw_sketch_merge(&d->sketch, &s->sketch, &cfg->sketch) < 0)
			return TW_AGG_E_NOMEM;
	}
	return TW_AGG_OK;
}

void tw_agg_result(const struct tw_agg *a, const struct tw_agg_config *cfg,
                   struct tw_value_result *out)
{
	int sketches = (cfg->kinds & TW_AGG_QUANTILES) != 0;

	for (uint32_t i = 0; i < a->nvalues; i++) {
		const struct tw_agg_value *v = &a->v[i];
		struct tw_value_result *r = &out[i];

		r->count = v->count;
		r->sum = v->sum;
		if (v->count == 0) {
			r->min = r->max = r->mean = NAN;
		} else {
			r->min = v->min;
			r->max = v->max;
			r->mean = v->sum / (double)v->count;
		}
		if (sketches && v->count > 0) {
			static const double qs[3] = {0.50, 0.95, 0.99};
			double q[3];

			tw_sketch_quantiles(&v->sketch, &cfg->sketch, qs, 3, q);
			r->p50 = q[0];
			r->p95 = q[1];
			r->p99 = q[2];
		} else {
			r->p50 = r->p95 = r->p99 = NAN;
		}
	}
}
