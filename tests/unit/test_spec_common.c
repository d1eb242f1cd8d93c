/* Unit tests for lib/contract/spec_common.h: the sections both kinds share,
 * parsed once with each kind's rules. tests/unit/test_tw_spec.c and
 * test_vj_spec.c check the same sections through each kind's parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec_common.h"

static const struct spec_workers_rules follows = {1, 10, 1000, 1000000000, 1};
static const struct spec_workers_rules fixed = {0, 4, 2, 1000000, 0};

/* Parses json (a spec object) with parse; returns its code, message in err. */
static int workers(const char *json, const struct spec_workers_rules *r, struct spec_workers *w,
                   char *err, size_t size)
{
	struct spec_ctx c = {err, size};
	cJSON *spec = cJSON_Parse(json);
	int rc;

	assert_non_null(spec);
	memset(w, 0, sizeof(*w));
	err[0] = '\0';
	rc = spec_parse_workers(&c, spec, r, w);
	cJSON_Delete(spec);
	return rc;
}

static void test_workers_defaults_per_kind(void **state)
{
	struct spec_workers w;
	char err[256];

	(void)state;
	assert_int_equal(workers("{}", &follows, &w, err, sizeof(err)), 0);
	assert_int_equal(w.min_replicas, 1);
	assert_int_equal(w.max_replicas, 10);
	assert_int_equal(w.lag_threshold, 1000);
	assert_null(w.image);
	spec_workers_free(&w);

	/* An unset maxReplicas follows a larger minReplicas for one kind... */
	assert_int_equal(
	    workers("{\"workers\":{\"minReplicas\":12}}", &follows, &w, err, sizeof(err)), 0);
	assert_int_equal(w.max_replicas, 12);
	spec_workers_free(&w);
	/* ...and is the kind's default, below it, for the other. */
	assert_int_equal(workers("{\"workers\":{\"minReplicas\":5}}", &fixed, &w, err, sizeof(err)),
	                 SPEC_E_INVALID);
	assert_string_equal(err,
	                    "spec.workers.maxReplicas: 4 is below spec.workers.minReplicas: 5");
	spec_workers_free(&w);

	assert_int_equal(
	    workers("{\"workers\":{\"lagThreshold\":1000001}}", &fixed, &w, err, sizeof(err)),
	    SPEC_E_INVALID);
	assert_non_null(strstr(err, "spec.workers.lagThreshold"));
	spec_workers_free(&w);
}

static void test_workers_resources_and_image(void **state)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
	    {"{\"workers\":{\"image\":\"a b\"}}", "spec.workers.image: \"a b\" has white space"},
	    {"{\"workers\":{\"imagePullPolicy\":\"Sometimes\"}}",
	     "spec.workers.imagePullPolicy: \"Sometimes\" is not one of Always, IfNotPresent, "
	     "Never"},
	    {"{\"workers\":{\"resources\":{\"limits\":{\"memory\":\"64MB\"}}}}",
	     "spec.workers.resources.limits.memory: \"64MB\" is not a quantity (such as 500m, "
	     "64Mi, "
	     "2)"},
	    {"{\"workers\":{\"resources\":{\"requests\":{\"cpu\":true}}}}",
	     "spec.workers.resources.requests.cpu: must be a quantity (a string or an integer)"},
	    {"{\"workers\":{\"replicas\":2}}", "spec.workers.replicas: unknown field"},
	};
	struct spec_workers w;
	char err[256];

	(void)state;
	assert_int_equal(workers("{\"workers\":{\"image\":\"r/w:1\",\"imagePullPolicy\":\"Never\","
	                         "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":64},"
	                         "\"limits\":{\"memory\":\"1Gi\"}}}}",
	                         &fixed, &w, err, sizeof(err)),
	                 0);
	assert_string_equal(w.image, "r/w:1");
	assert_string_equal(w.image_pull_policy, "Never");
	assert_int_equal(w.requests.n, 2);
	assert_string_equal(w.requests.names[1], "memory");
	assert_string_equal(w.requests.values[1], "64");
	assert_int_equal(w.limits.n, 1);
	spec_workers_free(&w);
	spec_workers_free(&w); /* twice is safe */

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int k = 0; k < 2; k++) {
			int rc = workers(bad[i].json, k ? &fixed : &follows, &w, err, sizeof(err));

			spec_workers_free(&w);
			if (rc != SPEC_E_INVALID || strcmp(err, bad[i].want) != 0)
				fail_msg("case %zu kind %d: rc %d, got \"%s\", want \"%s\"", i, k,
				         rc, err, bad[i].want);
		}
	}
}

static int sinks(const char *json, struct spec_influxdb *ix, struct spec_postgres *pg,
                 int dsn_required, char *err, size_t size)
{
	static const char *const extra[] = {"raw", NULL};
	struct spec_ctx c = {err, size};
	cJSON *s = cJSON_Parse(json);
	const cJSON *obj;
	int rc;

	assert_non_null(s);
	memset(ix, 0, sizeof(*ix));
	memset(pg, 0, sizeof(*pg));
	err[0] = '\0';
	rc = spec_parse_influxdb(&c, s, extra, ix, &obj);
	if (rc == 0)
		rc = spec_parse_postgres(&c, s, "rows", dsn_required, pg);
	cJSON_Delete(s);
	return rc;
}

/* spec.workers.scaling: absent members stay SPEC_UNSET (the operator's
 * flags apply), each member read in each form it takes. */
static void test_scaling_unset_and_every_member(void **state)
{
	struct spec_workers w;
	const struct spec_scaling *s = &w.scaling;
	char err[256];

	(void)state;
	for (int i = 0; i < 3; i++) {
		static const char *const empty[] = {"{}", "{\"workers\":{}}",
		                                    "{\"workers\":{\"scaling\":{}}}"};

		assert_int_equal(workers(empty[i], &follows, &w, err, sizeof(err)), 0);
		assert_int_equal(s->polling_interval_ms, SPEC_UNSET);
		assert_int_equal(s->stabilization_window_ms, SPEC_UNSET);
		assert_int_equal(s->cooldown_period_ms, SPEC_UNSET);
		assert_int_equal(s->trend_window_ms, SPEC_UNSET);
		assert_int_equal(s->scale_up_interval_ms, SPEC_UNSET);
		assert_int_equal(s->persistent_after_ms, SPEC_UNSET);
		assert_int_equal(s->fallback_replicas, SPEC_UNSET);
		assert_int_equal(s->failure_threshold, SPEC_UNSET);
		assert_int_equal(s->allow_idle_consumers, SPEC_UNSET);
		assert_int_equal(s->limit_to_partitions_with_lag, SPEC_UNSET);
		assert_int_equal(s->exclude_persistent_lag, SPEC_UNSET);
		assert_int_equal(s->target_drain_ms, SPEC_UNSET);
		assert_int_equal(s->target_utilization_pct, SPEC_UNSET);
		assert_int_equal(s->even_partitions, SPEC_UNSET);
		spec_workers_free(&w);
	}

	assert_int_equal(workers("{\"workers\":{\"scaling\":{\"pollingInterval\":30,"
	                         "\"stabilizationWindow\":\"2m\",\"cooldownPeriod\":\"0\","
	                         "\"trendWindow\":\"1m30s\",\"scaleUpInterval\":\"500ms\","
	                         "\"persistentLagAfter\":\"24h\",\"fallback\":{\"replicas\":0},"
	                         "\"allowIdleConsumers\":true,\"limitToPartitionsWithLag\":false,"
	                         "\"excludePersistentLag\":false,\"targetDrainSeconds\":86400,"
	                         "\"targetUtilization\":1,\"partitionDistribution\":\"Any\"}}}",
	                         &fixed, &w, err, sizeof(err)),
	                 0);
	assert_int_equal(s->polling_interval_ms, 30000);
	assert_int_equal(s->stabilization_window_ms, 120000);
	assert_int_equal(s->cooldown_period_ms, 0);
	assert_int_equal(s->trend_window_ms, 90000);
	assert_int_equal(s->scale_up_interval_ms, 500);
	assert_int_equal(s->persistent_after_ms, 86400000);
	assert_int_equal(s->fallback_replicas, 0);
	assert_int_equal(s->failure_threshold, SPEC_UNSET); /* optional inside fallback */
	assert_int_equal(s->allow_idle_consumers, 1);
	assert_int_equal(s->limit_to_partitions_with_lag, 0);
	assert_int_equal(s->exclude_persistent_lag, 0);
	assert_int_equal(s->target_drain_ms, 86400000);
	assert_int_equal(s->target_utilization_pct, 1);
	assert_int_equal(s->even_partitions, 0);
	spec_workers_free(&w);

	/* The other ends; a fallback above maxReplicas is the decision's to clamp. */
	assert_int_equal(
	    workers("{\"workers\":{\"maxReplicas\":2,\"scaling\":{\"pollingInterval\":\"1ms\","
	            "\"stabilizationWindow\":86400,\"cooldownPeriod\":\"24h\","
	            "\"trendWindow\":0,\"scaleUpInterval\":\"1h\",\"persistentLagAfter\":1,"
	            "\"fallback\":{\"replicas\":1000,\"failureThreshold\":1000},"
	            "\"limitToPartitionsWithLag\":true,\"excludePersistentLag\":true,"
	            "\"targetDrainSeconds\":1,\"targetUtilization\":100,"
	            "\"partitionDistribution\":\"Even\",\"allowIdleConsumers\":false}}}",
	            &fixed, &w, err, sizeof(err)),
	    0);
	assert_int_equal(s->polling_interval_ms, 1);
	assert_int_equal(s->stabilization_window_ms, 86400000);
	assert_int_equal(s->cooldown_period_ms, 86400000);
	assert_int_equal(s->trend_window_ms, 0);
	assert_int_equal(s->scale_up_interval_ms, 3600000);
	assert_int_equal(s->persistent_after_ms, 1000);
	assert_int_equal(s->fallback_replicas, 1000);
	assert_int_equal(s->failure_threshold, 1000);
	assert_int_equal(s->allow_idle_consumers, 0);
	assert_int_equal(s->limit_to_partitions_with_lag, 1);
	assert_int_equal(s->exclude_persistent_lag, 1);
	assert_int_equal(s->target_drain_ms, 1000);
	assert_int_equal(s->target_utilization_pct, 100);
	assert_int_equal(s->even_partitions, 1);
	spec_workers_free(&w);
}

/* Every rule the CRDs state, refused with the field's path. */
static void test_scaling_refused_naming_the_field(void **state)
{
	static const struct {
		const char *scaling, *want;
	} bad[] = {
	    {"[]", "spec.workers.scaling: must be an object"},
	    {"{\"pollingIntervall\":\"5s\"}",
	     "spec.workers.scaling.pollingIntervall: unknown field"},
	    {"{\"pollingInterval\":\"0s\"}",
	     "spec.workers.scaling.pollingInterval: 0s is out of range 1ms..24h"},
	    {"{\"pollingInterval\":0}",
	     "spec.workers.scaling.pollingInterval: 0s is out of range 1ms..24h"},
	    {"{\"pollingInterval\":\"5 s\"}",
	     "spec.workers.scaling.pollingInterval: \"5 s\" is not a duration (such as 30s, "
	     "500ms, 2m, 1h, 1m30s) or a number of seconds"},
	    {"{\"pollingInterval\":1.5}",
	     "spec.workers.scaling.pollingInterval: 1.5 is not a whole number of seconds"},
	    {"{\"pollingInterval\":true}",
	     "spec.workers.scaling.pollingInterval: must be a duration (such as \"30s\") or a "
	     "number of seconds"},
	    {"{\"stabilizationWindow\":\"25h\"}",
	     "spec.workers.scaling.stabilizationWindow: 25h is out of range 0s..24h"},
	    {"{\"stabilizationWindow\":-1}",
	     "spec.workers.scaling.stabilizationWindow: -1s is out of range 0s..24h"},
	    {"{\"cooldownPeriod\":86401}",
	     "spec.workers.scaling.cooldownPeriod: 86401s is out of range 0s..24h"},
	    {"{\"cooldownPeriod\":1e300}",
	     "spec.workers.scaling.cooldownPeriod: 1e+300s is out of range 0s..24h"},
	    {"{\"trendWindow\":\"1d\"}",
	     "spec.workers.scaling.trendWindow: \"1d\" is not a duration"},
	    {"{\"scaleUpInterval\":\"-1s\"}",
	     "spec.workers.scaling.scaleUpInterval: \"-1s\" is not a duration"},
	    {"{\"persistentLagAfter\":\"0\"}",
	     "spec.workers.scaling.persistentLagAfter: 0s is out of range 1ms..24h"},
	    {"{\"fallback\":3}", "spec.workers.scaling.fallback: must be an object"},
	    {"{\"fallback\":{}}", "spec.workers.scaling.fallback.replicas: required"},
	    {"{\"fallback\":{\"failureThreshold\":3}}",
	     "spec.workers.scaling.fallback.replicas: required"},
	    {"{\"fallback\":{\"replicas\":2,\"threshold\":3}}",
	     "spec.workers.scaling.fallback.threshold: unknown field"},
	    {"{\"fallback\":{\"replicas\":-1}}",
	     "spec.workers.scaling.fallback.replicas: -1 is out of range 0..1000"},
	    {"{\"fallback\":{\"replicas\":1001}}",
	     "spec.workers.scaling.fallback.replicas: 1001 is out of range 0..1000"},
	    {"{\"fallback\":{\"replicas\":\"2\"}}",
	     "spec.workers.scaling.fallback.replicas: must be an integer"},
	    {"{\"fallback\":{\"replicas\":2,\"failureThreshold\":1001}}",
	     "spec.workers.scaling.fallback.failureThreshold: 1001 is out of range 0..1000"},
	    {"{\"allowIdleConsumers\":\"yes\"}",
	     "spec.workers.scaling.allowIdleConsumers: must be true or false"},
	    {"{\"limitToPartitionsWithLag\":1}",
	     "spec.workers.scaling.limitToPartitionsWithLag: must be true or false"},
	    {"{\"excludePersistentLag\":null,\"targetDrainSeconds\":0}",
	     "spec.workers.scaling.targetDrainSeconds: 0 is out of range 1..86400"},
	    {"{\"excludePersistentLag\":\"true\"}",
	     "spec.workers.scaling.excludePersistentLag: must be true or false"},
	    {"{\"targetDrainSeconds\":86401}",
	     "spec.workers.scaling.targetDrainSeconds: 86401 is out of range 1..86400"},
	    {"{\"targetDrainSeconds\":\"60s\"}",
	     "spec.workers.scaling.targetDrainSeconds: must be an integer"},
	    {"{\"targetUtilization\":0}",
	     "spec.workers.scaling.targetUtilization: 0 is out of range 1..100"},
	    {"{\"targetUtilization\":101}",
	     "spec.workers.scaling.targetUtilization: 101 is out of range 1..100"},
	    {"{\"targetUtilization\":80.5}",
	     "spec.workers.scaling.targetUtilization: 80.5 is not an integer"},
	    {"{\"partitionDistribution\":\"even\"}",
	     "spec.workers.scaling.partitionDistribution: must be one of Any, Even"},
	    {"{\"partitionDistribution\":1}",
	     "spec.workers.scaling.partitionDistribution: must be one of Any, Even"},
	    {"{\"allowIdleConsumers\":true,\"limitToPartitionsWithLag\":true}",
	     "spec.workers.scaling.limitToPartitionsWithLag: cannot be true with "
	     "allowIdleConsumers"},
	    {"{\"allowIdleConsumers\":true,\"partitionDistribution\":\"Even\"}",
	     "spec.workers.scaling.partitionDistribution: Even cannot be used with "
	     "allowIdleConsumers"},
	};
	struct spec_workers w;
	char json[512], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"workers\":{\"scaling\":%s}}", bad[i].scaling);
		assert_int_equal(workers(json, &follows, &w, err, sizeof(err)), SPEC_E_INVALID);
		if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("%s: got \"%s\", want \"%s...\"", bad[i].scaling, err,
			         bad[i].want);
		spec_workers_free(&w);
	}
	/* One of the two alone is fine. */
	assert_int_equal(workers("{\"workers\":{\"scaling\":{\"allowIdleConsumers\":true,"
	                         "\"limitToPartitionsWithLag\":false,"
	                         "\"partitionDistribution\":\"Any\"}}}",
	                         &follows, &w, err, sizeof(err)),
	                 0);
	spec_workers_free(&w);
}

static void test_sinks(void **state)
{
	static const struct {
		const char *json, *want;
		int dsn_required;
	} bad[] = {
	    {"{\"influxdb\":{\"url\":\"http://u:p@h\",\"database\":\"d\"}}",
	     "spec.sinks.influxdb.url: \"http://u:p@h\" is not http(s)://host[:port] without "
	     "credentials (use token)",
	     0},
	    {"{\"influxdb\":{\"url\":\"http://h\",\"database\":\"d\",\"api\":\"v2\"}}",
	     "spec.sinks.influxdb.token: required when spec.sinks.influxdb.api is v2", 0},
	    {"{\"influxdb\":{\"url\":\"http://h\",\"database\":\"d\",\"windows\":true}}",
	     "spec.sinks.influxdb.windows: unknown field", 0},
	    {"{\"postgres\":{}}",
	     "spec.sinks.postgres.dsn: required (a Secret reference {name, key})", 1},
	    {"{\"postgres\":{\"table\":\"Rows\"}}",
	     "spec.sinks.postgres.table: \"Rows\" is not a lower-case SQL identifier "
	     "([a-z_][a-z0-9_]*, at most 63 bytes)",
	     0},
	};
	struct spec_influxdb ix;
	struct spec_postgres pg;
	char err[256];

	(void)state;
	assert_int_equal(sinks("{\"influxdb\":{\"url\":\"https://h:8086\",\"database\":\"d\","
	                       "\"api\":\"v2\",\"token\":{\"name\":\"s\",\"key\":\"t\"},"
	                       "\"raw\":true}}",
	                       &ix, &pg, 1, err, sizeof(err)),
	                 0);
	assert_true(ix.enabled);
	assert_int_equal(ix.api, SPEC_INFLUX_V2);
	assert_string_equal(ix.token.key, "t");
	/* No postgres section: off, with the kind's table all the same. */
	assert_false(pg.enabled);
	assert_string_equal(pg.table, "rows");
	spec_influxdb_free(&ix);
	spec_postgres_free(&pg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = sinks(bad[i].json, &ix, &pg, bad[i].dsn_required, err, sizeof(err));

		spec_influxdb_free(&ix);
		spec_postgres_free(&pg);
		if (rc != SPEC_E_INVALID || strcmp(err, bad[i].want) != 0)
			fail_msg("case %zu: rc %d, got \"%s\", want \"%s\"", i, rc, err,
			         bad[i].want);
	}
}

static void test_document_envelope(void **state)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
	    {"[]", "document: must be an object (a VideoJob)"},
	    {"{\"kind\":\"TelemetryWindow\",\"metadata\":{\"name\":\"a\"},\"spec\":{}}",
	     "kind: \"TelemetryWindow\" is not VideoJob"},
	    {"{\"metadata\":{\"namespace\":\"x\"},\"spec\":{}}", "metadata.name: required"},
	    {"{\"name\":\"a\"}", "spec: required"},
	    {"{\"name\":\"a\",\"spec\":{},\"extra\":1}", "extra: unknown field"},
	};
	const cJSON *spec;
	const char *name, *ns;
	char err[256];
	struct spec_ctx c = {err, sizeof(err)};
	cJSON *doc;

	(void)state;
	doc = cJSON_Parse("{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"VideoJob\","
	                  "\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},\"spec\":{\"x\":1}}");
	assert_int_equal(spec_document(&c, doc, "VideoJob", &spec, &name, &ns), 0);
	assert_string_equal(name, "a");
	assert_string_equal(ns, "n");
	assert_non_null(cJSON_GetObjectItem(spec, "x"));
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"name\":\"b\",\"spec\":{}}"); /* the short form */
	assert_int_equal(spec_document(&c, doc, "VideoJob", &spec, &name, &ns), 0);
	assert_string_equal(name, "b");
	assert_null(ns);
	cJSON_Delete(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = cJSON_Parse(bad[i].json);
		assert_non_null(doc);
		if (spec_document(&c, doc, "VideoJob", &spec, &name, &ns) != SPEC_E_INVALID ||
		    strcmp(err, bad[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, bad[i].want);
		cJSON_Delete(doc);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_document(void **state)
{
	char path[] = "/tmp/sluice-spec-XXXXXX", err[512];
	struct spec_ctx c = {err, sizeof(err)};
	cJSON *doc;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "  {\"name\": \"a\"}");
	assert_int_equal(spec_load_document(&c, path, 1024, &doc), 0);
	assert_string_equal(cJSON_GetObjectItem(doc, "name")->valuestring, "a");
	cJSON_Delete(doc);
	write_file(path, "name: b\nspec:\n  x: 1\n");
	assert_int_equal(spec_load_document(&c, path, 1024, &doc), 0);
	assert_string_equal(cJSON_GetObjectItem(doc, "name")->valuestring, "b");
	cJSON_Delete(doc);
	write_file(path, "{\"name\": }");
	assert_int_equal(spec_load_document(&c, path, 1024, &doc), SPEC_E_INVALID);
	assert_null(doc);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, "not valid JSON near byte"));
	unlink(path);
	assert_int_equal(spec_load_document(&c, path, 1024, &doc), SPEC_E_IO);
	assert_null(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_workers_defaults_per_kind),
	    cmocka_unit_test(test_workers_resources_and_image),
	    cmocka_unit_test(test_scaling_unset_and_every_member),
	    cmocka_unit_test(test_scaling_refused_naming_the_field),
	    cmocka_unit_test(test_sinks),
	    cmocka_unit_test(test_document_envelope),
	    cmocka_unit_test(test_load_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
