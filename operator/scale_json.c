/*
 * scale_json.c - spec.workers -> struct scale_spec, and a decision -> the
 * status fields. See scale_json.h.
 */
#include "scale_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "tw_time.h"
#include "clock.h"

#define FIELD "spec.workers."

static int bad(char *errbuf, size_t errbuf_size, const char *field, const char *why)
{
	snprintf(errbuf, errbuf_size, FIELD "%s: %s", field, why);
	return -1;
}

/* An integer field within [lo, hi]; absent: *out unchanged. */
static int get_int(const cJSON *obj, const char *name, int64_t lo, int64_t hi, int64_t *out,
                   char *errbuf, size_t errbuf_size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return bad(errbuf, errbuf_size, name, "must be an integer");
	if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
		char why[96];
		snprintf(why, sizeof(why), "must be between %lld and %lld", (long long)lo,
		         (long long)hi);
		return bad(errbuf, errbuf_size, name, why);
	}
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int get_int32(const cJSON *obj, const char *name, int32_t lo, int32_t *out, char *errbuf,
                     size_t errbuf_size)
{
	int64_t v = *out;

	if (get_int(obj, name, lo, INT32_MAX, &v, errbuf, errbuf_size) < 0)
		return -1;
	*out = (int32_t)v;
	return 0;
}

static int get_bool(const cJSON *obj, const char *name, int *out, char *errbuf, size_t errbuf_size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return bad(errbuf, errbuf_size, name, "must be true or false");
	*out = cJSON_IsTrue(v);
	return 0;
}

/* A duration: lib/config's syntax ("30s", "1m30s") or a number of seconds. */
static int get_duration(const cJSON *obj, const char *name, int64_t *out_ms, char *errbuf,
                        size_t errbuf_size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	long long ms;

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble > 366.0 * 86400)
			return bad(errbuf, errbuf_size, name, "must be between 0 and 366 days");
		*out_ms = (int64_t)llround(v->valuedouble * 1000.0);
		return 0;
	}
	if (!cJSON_IsString(v) || config_parse_duration_ms(v->valuestring, &ms) != 0 || ms < 0) {
		char why[128];
		snprintf(why, sizeof(why), "\"%.64s\" is not a duration (e.g. 30s, 5m, 1m30s)",
		         cJSON_IsString(v) ? v->valuestring : "?");
		return bad(errbuf, errbuf_size, name, why);
	}
	*out_ms = ms;
	return 0;
}

int scale_spec_from_json(const cJSON *w, const struct scale_spec *defaults, struct scale_spec *out,
                         char *errbuf, size_t errbuf_size)
{
	struct scale_spec s = *defaults;
	char why[160];

	if (w != NULL && !cJSON_IsNull(w)) {
		if (!cJSON_IsObject(w)) {
			snprintf(errbuf, errbuf_size, "spec.workers: must be an object");
			return -1;
		}
		const cJSON *fb = cJSON_GetObjectItemCaseSensitive(w, "fallback");
		if (fb != NULL && !cJSON_IsNull(fb) && !cJSON_IsObject(fb))
			return bad(errbuf, errbuf_size, "fallback", "must be an object");
		if (get_int32(w, "minReplicas", 0, &s.min_replicas, errbuf, errbuf_size) < 0 ||
		    get_int32(w, "maxReplicas", 1, &s.max_replicas, errbuf, errbuf_size) < 0 ||
		    get_int(w, "lagThreshold", 1, INT64_MAX / 2, &s.lag_threshold, errbuf,
		            errbuf_size) < 0 ||
		    get_int(w, "activationLagThreshold", 0, INT64_MAX / 2,
		            &s.activation_lag_threshold, errbuf, errbuf_size) < 0 ||
		    get_bool(w, "allowIdleConsumers", &s.allow_idle_consumers, errbuf,
		             errbuf_size) < 0 ||
		    get_bool(w, "limitToPartitionsWithLag", &s.limit_to_partitions_with_lag, errbuf,
		             errbuf_size) < 0 ||
		    get_duration(w, "pollingInterval", &s.polling_interval_ms, errbuf,
		                 errbuf_size) < 0 ||
		    get_duration(w, "stabilizationWindow", &s.stabilization_window_ms, errbuf,
		                 errbuf_size) < 0 ||
		    get_duration(w, "cooldownPeriod", &s.cooldown_period_ms, errbuf, errbuf_size) <
		        0 ||
		    get_duration(w, "trendWindow", &s.trend_window_ms, errbuf, errbuf_size) < 0)
			return -1;
		if (fb != NULL && cJSON_IsObject(fb)) {
			if (get_int32(fb, "replicas", 0, &s.fallback_replicas, errbuf,
			              errbuf_size) < 0) {
				snprintf(why, sizeof(why), "%s", errbuf + strlen(FIELD));
				snprintf(errbuf, errbuf_size, FIELD "fallback.%s", why);
				return -1;
			}
			if (get_int32(fb, "failureThreshold", 0, &s.failure_threshold, errbuf,
			              errbuf_size) < 0) {
				snprintf(why, sizeof(why), "%s", errbuf + strlen(FIELD));
				snprintf(errbuf, errbuf_size, FIELD "fallback.%s", why);
				return -1;
			}
		}
	}
	if (scale_spec_validate(&s, why, sizeof(why)) < 0) {
		snprintf(errbuf, errbuf_size, FIELD "%s", why);
		return -1;
	}
	*out = s;
	return 0;
}

/* Replaces (or adds) name in obj with item; frees item on failure. */
static int set(cJSON *obj, const char *name, cJSON *item)
{
	if (item == NULL)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(obj, name) != NULL)
		return cJSON_ReplaceItemInObjectCaseSensitive(obj, name, item) ? 0 : -1;
	if (!cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return -1;
	}
	return 0;
}

int scale_status_fill(cJSON *status, const struct scale_decision *d, int32_t replicas,
                      int64_t last_scale_ms)
{
	char ts[CLOCK_RFC3339_MAX];

	if (d->lag >= 0 && set(status, "lag", cJSON_CreateNumber((double)d->lag)) < 0)
		return -1;
	if (d->lag_seconds >= 0 &&
	    set(status, "lagSeconds", cJSON_CreateNumber((double)d->lag_seconds)) < 0)
		return -1;
	if (set(status, "replicas", cJSON_CreateNumber(replicas > 0 ? replicas : 0)) < 0 ||
	    set(status, "desiredReplicas", cJSON_CreateNumber(d->desired)) < 0)
		return -1;
	if (last_scale_ms > 0 &&
	    clock_format_rfc3339(last_scale_ms / 1000 * INT64_C(1000000000), ts, sizeof(ts)) > 0)
		return set(status, "lastScaleTime", cJSON_CreateString(ts));
	return 0;
}
