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
	    cmocka_unit_test(test_sinks),
	    cmocka_unit_test(test_document_envelope),
	    cmocka_unit_test(test_load_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
