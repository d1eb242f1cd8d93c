/* Unit tests for operator/scale_json.c: spec.workers -> struct scale_spec
 * (defaults, every field, both duration forms, errors naming the field)
 * and a decision -> the status fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "scale_json.h"

static int parse(const char *json, struct scale_spec *out, char *err, size_t n)
{
	struct scale_spec def;
	cJSON *w = json != NULL ? cJSON_Parse(json) : NULL;

	scale_spec_defaults(&def);
	def.min_replicas = 1;
	int rc = scale_spec_from_json(w, &def, out, err, n);
	cJSON_Delete(w);
	return rc;
}

static void test_defaults_kept(void **state)
{
	struct scale_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse(NULL, &s, err, sizeof(err)), 0);
	assert_int_equal(s.min_replicas, 1);
	assert_int_equal(s.max_replicas, 10);
	assert_int_equal(s.polling_interval_ms, 5000);
	assert_int_equal(parse("{\"image\": \"x\", \"resources\": {}}", &s, err, sizeof(err)), 0);
	assert_int_equal(s.lag_threshold, 1000);
	assert_int_equal(s.cooldown_period_ms, 300000);
}

static void test_every_field(void **state)
{
	struct scale_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"minReplicas\": 0, \"maxReplicas\": 64, \"lagThreshold\": 3000,"
	                       " \"activationLagThreshold\": 5, \"allowIdleConsumers\": true,"
	                       " \"limitToPartitionsWithLag\": true, \"pollingInterval\": \"2s\","
	                       " \"stabilizationWindow\": \"1m30s\", \"cooldownPeriod\": 30,"
	                       " \"trendWindow\": \"0s\","
	                       " \"fallback\": {\"replicas\": 3, \"failureThreshold\": 5}}",
	                       &s, err, sizeof(err)),
	                 0);
	assert_int_equal(s.min_replicas, 0);
	assert_int_equal(s.max_replicas, 64);
	assert_int_equal(s.lag_threshold, 3000);
	assert_int_equal(s.activation_lag_threshold, 5);
	assert_true(s.allow_idle_consumers);
	assert_true(s.limit_to_partitions_with_lag);
	assert_int_equal(s.polling_interval_ms, 2000);
	assert_int_equal(s.stabilization_window_ms, 90000);
	assert_int_equal(s.cooldown_period_ms, 30000);
	assert_int_equal(s.trend_window_ms, 0);
	assert_int_equal(s.fallback_replicas, 3);
	assert_int_equal(s.failure_threshold, 5);
}

static void test_errors_name_the_field(void **state)
{
	static const struct {
		const char *json, *err;
	} t[] = {
	    {"[]", "spec.workers: must be an object"},
	    {"{\"minReplicas\": -1}", "spec.workers.minReplicas: must be between 0 and 2147483647"},
	    {"{\"minReplicas\": 1.5}", "spec.workers.minReplicas: must be an integer"},
	    {"{\"maxReplicas\": \"3\"}", "spec.workers.maxReplicas: must be an integer"},
	    {"{\"minReplicas\": 5, \"maxReplicas\": 4}",
	     "spec.workers.maxReplicas: must not be below minReplicas"},
	    {"{\"lagThreshold\": 0}", "spec.workers.lagThreshold: must be between 1 and "},
	    {"{\"allowIdleConsumers\": 1}",
	     "spec.workers.allowIdleConsumers: must be true or false"},
	    {"{\"pollingInterval\": \"5 s\"}", "spec.workers.pollingInterval: \"5 s\" is not a"},
	    {"{\"pollingInterval\": \"0s\"}", "spec.workers.pollingInterval: must be > 0"},
	    {"{\"cooldownPeriod\": -3}", "spec.workers.cooldownPeriod: must be between 0 and"},
	    {"{\"fallback\": 3}", "spec.workers.fallback: must be an object"},
	    {"{\"fallback\": {\"replicas\": -2}}",
	     "spec.workers.fallback.replicas: must be between"},
	    {"{\"fallback\": {\"failureThreshold\": true}}",
	     "spec.workers.fallback.failureThreshold: must be an integer"},
	};
	struct scale_spec s;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(err, 0, sizeof(err));
		assert_int_equal(parse(t[i].json, &s, err, sizeof(err)), -1);
		if (strncmp(err, t[i].err, strlen(t[i].err)) != 0)
			fail_msg("%s: got \"%s\", want \"%s...\"", t[i].json, err, t[i].err);
	}
}

static void test_status_fill(void **state)
{
	struct scale_decision d = {.desired = 4, .lag = 5000, .lag_seconds = 12};
	cJSON *st = cJSON_Parse("{\"phase\": \"Running\", \"lag\": 1, \"lastScaleTime\": \"x\"}");
	char *text;

	(void)state;
	assert_int_equal(scale_status_fill(st, &d, 2, INT64_C(1795410000123)), 0);
	text = cJSON_PrintUnformatted(st);
	assert_string_equal(text, "{\"phase\":\"Running\",\"lag\":5000,\"lastScaleTime\":"
	                          "\"2026-11-23T05:00:00Z\",\"lagSeconds\":12,\"replicas\":2,"
	                          "\"desiredReplicas\":4}");
	free(text);
	/* Unread lag and unknown drain time: the last values stay. */
	d.lag = -1;
	d.lag_seconds = -1;
	d.desired = 2;
	assert_int_equal(scale_status_fill(st, &d, 2, 0), 0);
	text = cJSON_PrintUnformatted(st);
	assert_string_equal(text, "{\"phase\":\"Running\",\"lag\":5000,\"lastScaleTime\":"
	                          "\"2026-11-23T05:00:00Z\",\"lagSeconds\":12,\"replicas\":2,"
	                          "\"desiredReplicas\":2}");
	free(text);
	cJSON_Delete(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_kept),
	    cmocka_unit_test(test_every_field),
	    cmocka_unit_test(test_errors_name_the_field),
	    cmocka_unit_test(test_status_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
