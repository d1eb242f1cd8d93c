/* Unit tests for operator/scale_json.c: a parsed spec.workers ->
 * struct scale_spec over the operator's defaults (unset members keep the
 * defaults, every member maps, errors name the field), and a decision ->
 * the status fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "scale_json.h"

static const struct spec_workers_rules tw_rules = {1, 10, 1000, 1000000000, 1};

/* The operator's defaults as main.c builds them from its flags: 2s polling,
 * 1m windows, fallback 3 after 4 failures. */
static void operator_defaults(struct scale_spec *d)
{
	scale_spec_defaults(d);
	d->polling_interval_ms = 2000;
	d->stabilization_window_ms = 60000;
	d->cooldown_period_ms = 60000;
	d->trend_window_ms = 30000;
	d->fallback_replicas = 3;
	d->failure_threshold = 4;
}

/* spec (JSON text of a spec object) through the contract's parser, then
 * mapped. Returns the mapping's code; a spec the parser refuses fails. */
static int map(const char *spec_json, struct scale_spec *out, char *err, size_t n)
{
	struct spec_ctx c = {err, n};
	struct spec_workers w;
	struct scale_spec def;
	cJSON *spec = cJSON_Parse(spec_json);
	int rc;

	assert_non_null(spec);
	memset(&w, 0, sizeof(w));
	if (spec_parse_workers(&c, spec, &tw_rules, &w) != 0)
		fail_msg("%s: the parser says %s", spec_json, err);
	operator_defaults(&def);
	rc = scale_spec_from_workers(&w, &def, out, err, n);
	spec_workers_free(&w);
	cJSON_Delete(spec);
	return rc;
}

static void test_unset_keeps_the_operators_defaults(void **state)
{
	struct scale_spec s, def;
	char err[256];

	(void)state;
	operator_defaults(&def);
	assert_int_equal(map("{}", &s, err, sizeof(err)), 0);
	/* The kind's replica and lag defaults come from the parser... */
	assert_int_equal(s.min_replicas, 1);
	assert_int_equal(s.max_replicas, 10);
	assert_int_equal(s.lag_threshold, 1000);
	assert_int_equal(s.activation_lag_threshold, 0);
	/* ...everything else from the operator. */
	assert_int_equal(s.polling_interval_ms, def.polling_interval_ms);
	assert_int_equal(s.stabilization_window_ms, def.stabilization_window_ms);
	assert_int_equal(s.cooldown_period_ms, def.cooldown_period_ms);
	assert_int_equal(s.trend_window_ms, def.trend_window_ms);
	assert_int_equal(s.fallback_replicas, 3);
	assert_int_equal(s.failure_threshold, 4);
	assert_int_equal(s.allow_idle_consumers, def.allow_idle_consumers);
	assert_int_equal(s.limit_to_partitions_with_lag, def.limit_to_partitions_with_lag);
	assert_int_equal(s.exclude_persistent_lag, def.exclude_persistent_lag);
	assert_int_equal(s.persistent_after_ms, def.persistent_after_ms);
	assert_int_equal(s.target_drain_ms, def.target_drain_ms);
	assert_int_equal(s.target_utilization_pct, def.target_utilization_pct);
	assert_int_equal(s.even_partitions, def.even_partitions);
	assert_int_equal(s.scale_up_interval_ms, def.scale_up_interval_ms);

	/* An empty scaling section is the same. */
	assert_int_equal(map("{\"workers\":{\"scaling\":{}}}", &s, err, sizeof(err)), 0);
	assert_int_equal(s.polling_interval_ms, 2000);
	assert_int_equal(s.fallback_replicas, 3);
}

static void test_every_member_maps(void **state)
{
	struct scale_spec s;
	char err[256];

	(void)state;
	assert_int_equal(
	    map("{\"workers\":{\"minReplicas\":0,\"maxReplicas\":6,\"lagThreshold\":50,"
	        "\"activationLagThreshold\":7,\"scaling\":{"
	        "\"pollingInterval\":30,\"stabilizationWindow\":\"2m\",\"cooldownPeriod\":\"0\","
	        "\"trendWindow\":\"1m30s\",\"scaleUpInterval\":\"500ms\","
	        "\"persistentLagAfter\":45,\"fallback\":{\"replicas\":50,\"failureThreshold\":0},"
	        "\"allowIdleConsumers\":false,\"limitToPartitionsWithLag\":true,"
	        "\"excludePersistentLag\":true,\"targetDrainSeconds\":120,"
	        "\"targetUtilization\":70,\"partitionDistribution\":\"Even\"}}}",
	        &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.min_replicas, 0);
	assert_int_equal(s.max_replicas, 6);
	assert_int_equal(s.lag_threshold, 50);
	assert_int_equal(s.activation_lag_threshold, 7);
	assert_int_equal(s.polling_interval_ms, 30000);
	assert_int_equal(s.stabilization_window_ms, 120000);
	assert_int_equal(s.cooldown_period_ms, 0);
	assert_int_equal(s.trend_window_ms, 90000);
	assert_int_equal(s.scale_up_interval_ms, 500);
	assert_int_equal(s.persistent_after_ms, 45000);
	/* Not held to [min, max]: the decision clamps it. */
	assert_int_equal(s.fallback_replicas, 50);
	assert_int_equal(s.failure_threshold, 0);
	assert_int_equal(s.allow_idle_consumers, 0);
	assert_int_equal(s.limit_to_partitions_with_lag, 1);
	assert_int_equal(s.exclude_persistent_lag, 1);
	assert_int_equal(s.target_drain_ms, 120000);
	assert_int_equal(s.target_utilization_pct, 70);
	assert_int_equal(s.even_partitions, 1);

	/* Given false where the operator's default is true: false wins. */
	{
		struct spec_workers w;
		struct scale_spec def;
		struct spec_ctx c = {err, sizeof(err)};
		cJSON *spec = cJSON_Parse("{\"workers\":{\"scaling\":{\"allowIdleConsumers\":false,"
		                          "\"partitionDistribution\":\"Any\"}}}");

		memset(&w, 0, sizeof(w));
		assert_int_equal(spec_parse_workers(&c, spec, &tw_rules, &w), 0);
		operator_defaults(&def);
		def.allow_idle_consumers = 1;
		def.even_partitions = 1;
		assert_int_equal(scale_spec_from_workers(&w, &def, &s, err, sizeof(err)), 0);
		assert_int_equal(s.allow_idle_consumers, 0);
		assert_int_equal(s.even_partitions, 0);
		spec_workers_free(&w);
		cJSON_Delete(spec);
	}
}

/* A spec_workers that did not come through the parser (or an operator
 * default that is wrong): scale_spec_validate's word, under the field's
 * path, and *out untouched. */
static void test_errors_name_the_field(void **state)
{
	struct spec_workers w;
	struct scale_spec def, out;
	char err[256];

	(void)state;
	memset(&w, 0, sizeof(w));
	w.min_replicas = 0;
	w.max_replicas = 4;
	w.lag_threshold = 10;
	memset(&w.scaling, 0xff, sizeof(w.scaling)); /* every member SPEC_UNSET */
	assert_int_equal(w.scaling.polling_interval_ms, SPEC_UNSET);
	operator_defaults(&def);
	memset(&out, 0x5a, sizeof(out));

	w.scaling.polling_interval_ms = 0;
	assert_int_equal(scale_spec_from_workers(&w, &def, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "spec.workers.scaling.pollingInterval: must be > 0");
	assert_int_equal(out.min_replicas, 0x5a5a5a5a);
	w.scaling.polling_interval_ms = SPEC_UNSET;

	w.lag_threshold = 0;
	assert_int_equal(scale_spec_from_workers(&w, &def, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "spec.workers.lagThreshold: must be > 0");
	w.lag_threshold = 10;

	w.min_replicas = 5;
	assert_int_equal(scale_spec_from_workers(&w, &def, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "spec.workers.maxReplicas: must not be below minReplicas");
	w.min_replicas = 0;

	w.scaling.failure_threshold = -5;
	assert_int_equal(scale_spec_from_workers(&w, &def, &out, err, sizeof(err)), -1);
	assert_string_equal(err, "spec.workers.scaling.fallback.failureThreshold: must be >= 0");
	w.scaling.failure_threshold = SPEC_UNSET;

	assert_int_equal(scale_spec_from_workers(&w, &def, &out, err, sizeof(err)), 0);
	assert_int_equal(out.max_replicas, 4);
}

static void test_status_fill(void **state)
{
	struct scale_decision d = {
	    .desired = 4, .lag = 5000, .lag_seconds = 12, .reason = SCALE_UP};
	cJSON *st = cJSON_Parse("{\"phase\": \"Running\", \"lag\": 1, \"lastScaleTime\": \"x\"}");
	char *text;

	(void)state;
	strcpy(d.reason_text, "lag 5000 over 1000 per replica: 4");
	d.rate_per_replica = 123.456;
	d.rates_known = 1;
	d.input_rate = 400.04;
	assert_int_equal(scale_status_fill(st, &d, 2, INT64_C(1795410000123)), 0);
	text = cJSON_PrintUnformatted(st);
	assert_string_equal(text, "{\"phase\":\"Running\",\"lag\":5000,\"lastScaleTime\":"
	                          "\"2026-11-23T05:00:00Z\",\"lagSeconds\":12,\"replicas\":2,"
	                          "\"desiredReplicas\":4,\"scaling\":{\"reason\":\"up\","
	                          "\"message\":\"lag 5000 over 1000 per replica: 4\","
	                          "\"ratePerReplica\":123.5,\"inputRate\":400,"
	                          "\"persistentLag\":0,\"paused\":false}}");
	free(text);
	/* Unread lag, unknown drain time and rates, ready count unknown: the
	 * last values stay (a merge patch leaves out what is not set); scaling
	 * is rewritten whole. */
	memset(&d, 0, sizeof(d));
	d.lag = -1;
	d.lag_seconds = -1;
	d.desired = 3;
	d.reason = SCALE_PAUSED;
	d.persistent_lag = 17;
	strcpy(d.reason_text, "paused at 3 replicas (sluice.dev/paused-replicas)");
	assert_int_equal(scale_status_fill(st, &d, -1, 0), 0);
	text = cJSON_PrintUnformatted(st);
	assert_string_equal(text, "{\"phase\":\"Running\",\"lag\":5000,\"lastScaleTime\":"
	                          "\"2026-11-23T05:00:00Z\",\"lagSeconds\":12,\"replicas\":2,"
	                          "\"desiredReplicas\":3,\"scaling\":{\"reason\":\"paused\","
	                          "\"message\":\"paused at 3 replicas "
	                          "(sluice.dev/paused-replicas)\",\"persistentLag\":17,"
	                          "\"paused\":true}}");
	free(text);
	/* Ready 0 is written (a count, not unknown). */
	assert_int_equal(scale_status_fill(st, &d, 0, 0), 0);
	assert_int_equal(cJSON_GetObjectItem(st, "replicas")->valueint, 0);
	cJSON_Delete(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unset_keeps_the_operators_defaults),
	    cmocka_unit_test(test_every_member_maps),
	    cmocka_unit_test(test_errors_name_the_field),
	    cmocka_unit_test(test_status_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
