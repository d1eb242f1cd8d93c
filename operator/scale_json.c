/*
 * scale_json.c - spec.workers -> struct scale_spec, and a decision -> the
 * status fields. See scale_json.h.
 */
#include "scale_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

int scale_spec_from_workers(const struct spec_workers *w,
                            const struct scale_spec *operator_defaults, struct scale_spec *out,
                            char *errbuf, size_t errbuf_size)
{
	const struct spec_scaling *sc = &w->scaling;
	struct scale_spec s = *operator_defaults;
	char why[160];

	s.min_replicas = w->min_replicas;
	s.max_replicas = w->max_replicas;
	s.lag_threshold = w->lag_threshold;
	s.activation_lag_threshold = w->activation_lag_threshold;
#define TAKE(to, from)                                                                             \
	do {                                                                                       \
		if (sc->from != SPEC_UNSET)                                                        \
			s.to = sc->from;                                                           \
	} while (0)
	TAKE(polling_interval_ms, polling_interval_ms);
	TAKE(stabilization_window_ms, stabilization_window_ms);
	TAKE(cooldown_period_ms, cooldown_period_ms);
	TAKE(trend_window_ms, trend_window_ms);
	TAKE(scale_up_interval_ms, scale_up_interval_ms);
	TAKE(fallback_replicas, fallback_replicas);
	TAKE(failure_threshold, failure_threshold);
	TAKE(allow_idle_consumers, allow_idle_consumers);
	TAKE(limit_to_partitions_with_lag, limit_to_partitions_with_lag);
	TAKE(exclude_persistent_lag, exclude_persistent_lag);
	TAKE(persistent_after_ms, persistent_after_ms);
	TAKE(target_drain_ms, target_drain_ms);
	TAKE(target_utilization_pct, target_utilization_pct);
	TAKE(even_partitions, even_partitions);
#undef TAKE
	if (scale_spec_validate(&s, why, sizeof(why)) < 0) {
		/* "pollingInterval: ..." -> spec.workers.scaling.pollingInterval; the
		 * four replica and lag fields sit directly under spec.workers. */
		int direct = strncmp(why, "minReplicas", 11) == 0 ||
		             strncmp(why, "maxReplicas", 11) == 0 ||
		             strncmp(why, "lagThreshold", 12) == 0 ||
		             strncmp(why, "activationLagThreshold", 22) == 0;

		snprintf(errbuf, errbuf_size, "spec.workers.%s%s", direct ? "" : "scaling.", why);
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

/* A rate as status shows it: to 0.1 message/s. */
static double tenths(double v)
{
	return round(v * 10.0) / 10.0;
}

/* status.scaling: a new object with the decision's reason and figures. */
static cJSON *scaling_status(const struct scale_decision *d)
{
	cJSON *sc = cJSON_CreateObject();

	if (sc == NULL)
		return NULL;
	if (set(sc, "reason", cJSON_CreateString(scale_reason_name(d->reason))) < 0 ||
	    set(sc, "message", cJSON_CreateString(d->reason_text)) < 0 ||
	    (d->rate_per_replica > 0 &&
	     set(sc, "ratePerReplica", cJSON_CreateNumber(tenths(d->rate_per_replica))) < 0) ||
	    (d->rates_known &&
	     set(sc, "inputRate",
	         cJSON_CreateNumber(d->input_rate > 0 ? tenths(d->input_rate) : 0)) < 0) ||
	    set(sc, "persistentLag",
	        cJSON_CreateNumber(d->persistent_lag > 0 ? (double)d->persistent_lag : 0)) < 0 ||
	    set(sc, "paused", cJSON_CreateBool(d->reason == SCALE_PAUSED)) < 0) {
		cJSON_Delete(sc);
		return NULL;
	}
	return sc;
}

int scale_status_fill(cJSON *status, const struct scale_decision *d, int32_t ready_replicas,
                      int64_t last_scale_ms)
{
	char ts[CLOCK_RFC3339_MAX];

	if (d->lag >= 0 && set(status, "lag", cJSON_CreateNumber((double)d->lag)) < 0)
		return -1;
	if (d->lag_seconds >= 0 &&
	    set(status, "lagSeconds", cJSON_CreateNumber((double)d->lag_seconds)) < 0)
		return -1;
	if (ready_replicas >= 0 && set(status, "replicas", cJSON_CreateNumber(ready_replicas)) < 0)
		return -1;
	if (set(status, "desiredReplicas", cJSON_CreateNumber(d->desired)) < 0 ||
	    set(status, "scaling", scaling_status(d)) < 0)
		return -1;
	if (last_scale_ms > 0 &&
	    clock_format_rfc3339(last_scale_ms / 1000 * INT64_C(1000000000), ts, sizeof(ts)) > 0)
		return set(status, "lastScaleTime", cJSON_CreateString(ts));
	return 0;
}
