/* tw_sink.c -- the front of the telemetry sinks: creation from the spec,
 * secrets from the environment, dispatch to each kind's ops table
 * (tw_sink_pg.c, tw_sink_redis.c, tw_sink_influx.c), and the latency and
 * error metrics every write gets; see tw_sink.h and tw_sink_int.h. */
#include "tw_sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "secret_env.h"
#include "tw_agg.h"
#include "tw_sink_int.h"

struct tw_sink {
	const struct tw_sink_ops *ops;
	void *impl;
};

int tw_sink_fail(char *errbuf, size_t errbuf_size, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(errbuf, errbuf_size, rc, fmt, ap);
	va_end(ap);
	return rc;
}

/* ==== Metrics ==== */

/* Set at start-up, before any write (tw_sinks_set_metrics); read-only
 * after, so sinks on several threads only read these pointers. */
static struct {
	struct metrics_registry *reg;
	struct metrics_family *seconds, *errors;
} sink_metrics;

int tw_sinks_set_metrics(struct metrics_registry *reg)
{
	/* Sink writes take from a millisecond (Redis on localhost) to the
	 * 30 s request timeouts, so the buckets span both. */
	static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
	                                0.25,  0.5,    1,     2.5,  5,     10,   30};
	static const char *const sink_label[] = {"sink", NULL};
	static const char *const error_labels[] = {"sink", "op", "result", NULL};
	struct metrics_family *seconds, *errors;
	char errbuf[256];

	if (reg == sink_metrics.reg)
		return 0;
	if (reg == NULL) {
		sink_metrics.reg = NULL;
		sink_metrics.seconds = sink_metrics.errors = NULL;
		return 0;
	}
	if (metrics_histogram(reg, "sluice_tw_sink_write_seconds",
	                      "Time one telemetry sink write took, failed ones included.",
	                      sink_label, bounds, sizeof(bounds) / sizeof(bounds[0]), &seconds,
	                      errbuf, sizeof(errbuf)) < 0 ||
	    metrics_counter(reg, "sluice_tw_sink_errors_total",
	                    "Telemetry sink writes and trims that failed, by result (retry, "
	                    "reject, config).",
	                    error_labels, &errors, errbuf, sizeof(errbuf)) < 0) {
		log_error("telemetry sink metrics not registered", "error", errbuf, NULL);
		return -1;
	}
	sink_metrics.reg = reg;
	sink_metrics.seconds = seconds;
	sink_metrics.errors = errors;
	return 0;
}

static const char *result_name(int rc)
{
	switch (rc) {
	case TW_SINK_E_RETRY:
		return "retry";
	case TW_SINK_E_REJECT:
		return "reject";
	case TW_SINK_E_CONFIG:
		return "config";
	default:
		return "other";
	}
}

static void count_error(const struct tw_sink *s, const char *op, int rc)
{
	const char *values[] = {s->ops->name, op, result_name(rc), NULL};

	if (sink_metrics.errors != NULL && metrics_inc(sink_metrics.errors, values) < 0)
		log_warn("telemetry sink error not counted", "sink", s->ops->name, NULL);
}

/* ==== Secrets ==== */

/* The secret ref names, from the environment; *out NULL when the spec has
 * no reference. The value stays owned by the environment. */
static int read_secret(const struct spec_secret_ref *ref, const char *field, const char **out,
                       char *errbuf, size_t errbuf_size)
{
	char var[512];
	const char *v;

	*out = NULL;
	if (ref->name == NULL)
		return 0;
	if (secret_env_name(ref->name, ref->key, var, sizeof(var)) < 0)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "%s: the Secret reference {%s, %s} is too long", field,
		                    ref->name, ref->key);
	v = getenv(var);
	if (v == NULL || v[0] == '\0')
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "%s: environment variable %s is not set (Secret \"%s\", key "
		                    "\"%s\")",
		                    field, var, ref->name, ref->key);
	*out = v;
	return 0;
}

/* ==== Sinks ==== */

int tw_sinks_new(const struct tw_spec *spec, struct tw_sink ***sinks, size_t *n, char *errbuf,
                 size_t errbuf_size)
{
	const struct {
		const struct tw_sink_ops *ops;
		int enabled;
		const struct spec_secret_ref *secret;
		const char *field;
	} kinds[] = {
	    {&tw_sink_pg_ops, spec->sinks.postgres.enabled, &spec->sinks.postgres.dsn,
	     "spec.sinks.postgres.dsn"},
	    {&tw_sink_redis_ops, spec->sinks.redis.enabled, &spec->sinks.redis.password,
	     "spec.sinks.redis.password"},
	    {&tw_sink_influx_ops, spec->sinks.influxdb.enabled, &spec->sinks.influxdb.token,
	     "spec.sinks.influxdb.token"},
	};
	const size_t nkinds = sizeof(kinds) / sizeof(kinds[0]);
	struct tw_sink **arr;
	size_t k = 0;
	int rc = 0;

	*sinks = NULL;
	*n = 0;
	arr = calloc(nkinds, sizeof(*arr));
	if (arr == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "sinks: out of memory");
	for (size_t i = 0; i < nkinds && rc == 0; i++) {
		const char *secret = NULL;
		struct tw_sink *s;

		if (!kinds[i].enabled)
			continue;
		if (kinds[i].secret != NULL && (rc = read_secret(kinds[i].secret, kinds[i].field,
		                                                 &secret, errbuf, errbuf_size)) < 0)
			break;
		if ((rc = tw_sink_open(kinds[i].ops, spec, secret, &s, errbuf, errbuf_size)) < 0)
			break;
		arr[k++] = s;
	}
	if (rc < 0) {
		tw_sinks_free(arr, k);
		return rc;
	}
	*sinks = arr;
	*n = k;
	return 0;
}

int tw_sink_open(const struct tw_sink_ops *ops, const struct tw_spec *spec, const char *secret,
                 struct tw_sink **out, char *errbuf, size_t errbuf_size)
{
	struct tw_sink *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "sinks: out of memory");
	s->ops = ops;
	rc = ops->open(spec, secret, &s->impl, errbuf, errbuf_size);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void tw_sinks_free(struct tw_sink **sinks, size_t n)
{
	if (sinks == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (sinks[i] != NULL) {
			sinks[i]->ops->close(sinks[i]->impl);
			free(sinks[i]);
		}
	}
	free(sinks);
}

const char *tw_sink_name(const struct tw_sink *s)
{
	return s->ops->name;
}

int tw_sink_write(struct tw_sink *s, const struct tw_batch *batch, char *errbuf, size_t errbuf_size)
{
	double t0 = clock_mono_s();
	int rc;

	if (errbuf != NULL && errbuf_size > 0)
		errbuf[0] = '\0';
	rc = s->ops->write(s->impl, batch, errbuf, errbuf_size);
	if (sink_metrics.seconds != NULL) {
		const char *values[] = {s->ops->name, NULL};

		if (metrics_observe(sink_metrics.seconds, values, clock_mono_s() - t0) < 0)
			log_warn("telemetry sink latency not recorded", "sink", s->ops->name, NULL);
	}
	if (rc < 0)
		count_error(s, "write", rc);
	return rc;
}

int64_t tw_sink_retry_after_ms(const struct tw_sink *s)
{
	return s->ops->retry_after_ms != NULL ? s->ops->retry_after_ms(s->impl) : 0;
}

int tw_sink_trim(struct tw_sink *s, int64_t now_ns, char *errbuf, size_t errbuf_size)
{
	int rc;

	if (errbuf != NULL && errbuf_size > 0)
		errbuf[0] = '\0';
	if (s->ops->trim == NULL)
		return 0;
	rc = s->ops->trim(s->impl, now_ns, errbuf, errbuf_size);
	if (rc < 0)
		count_error(s, "trim", rc);
	return rc;
}

/* ==== What sinks share ==== */

int tw_sink_schema_init(struct tw_sink_schema *s, const struct tw_spec *spec, char *errbuf,
                        size_t errbuf_size)
{
	size_t need = strlen(spec->namespace) + 1 + strlen(spec->name) + 1;
	char *p;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < spec->fields.nkeys; i++)
		need += strlen(spec->fields.keys[i]) + 1;
	for (size_t i = 0; i < spec->fields.nvalues; i++)
		need += strlen(spec->fields.values[i]) + 1;
	s->arena = malloc(need);
	if (s->arena == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "sinks: out of memory");
	p = s->arena;
	s->resource = p;
	p += sprintf(p, "%s/%s", spec->namespace, spec->name) + 1;
	for (size_t i = 0; i < spec->fields.nkeys; i++) {
		s->key_names[i] = p;
		p += sprintf(p, "%s", spec->fields.keys[i]) + 1;
	}
	for (size_t i = 0; i < spec->fields.nvalues; i++) {
		s->value_names[i] = p;
		p += sprintf(p, "%s", spec->fields.values[i]) + 1;
	}
	s->nkeys = spec->fields.nkeys;
	s->nvalues = spec->fields.nvalues;
	s->aggregations = spec->aggregations;
	s->window_size_ns = spec->window.size_ns;
	return 0;
}

void tw_sink_schema_free(struct tw_sink_schema *s)
{
	if (s == NULL)
		return;
	free(s->arena);
	memset(s, 0, sizeof(*s));
}

size_t tw_sink_key_split(const char *key, size_t len, size_t nkeys, struct tw_sink_key_part *parts,
                         size_t max)
{
	size_t n = 0, start = 0;

	if (len == 0 && nkeys == 0)
		return 0;
	for (size_t i = 0; i <= len && n < max; i++) {
		if (i == len || key[i] == TW_KEY_SEP) {
			parts[n].p = key + start;
			parts[n].len = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

const struct tw_sink_agg tw_sink_aggs[TW_SINK_AGGS] = {
    {TW_AGG_SUM, "sum", offsetof(struct tw_value_result, sum)},
    {TW_AGG_MIN, "min", offsetof(struct tw_value_result, min)},
    {TW_AGG_MAX, "max", offsetof(struct tw_value_result, max)},
    {TW_AGG_MEAN, "mean", offsetof(struct tw_value_result, mean)},
    {TW_AGG_P50, "p50", offsetof(struct tw_value_result, p50)},
    {TW_AGG_P95, "p95", offsetof(struct tw_value_result, p95)},
    {TW_AGG_P99, "p99", offsetof(struct tw_value_result, p99)},
};

double tw_sink_agg_value(const struct tw_sink_agg *a, const struct tw_value_result *r)
{
	double v;

	memcpy(&v, (const char *)r + a->offset, sizeof(v));
	return v;
}
