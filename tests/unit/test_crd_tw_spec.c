/* The TelemetryWindow CRD (crds/telemetrywindows.sluice.dev.yaml) and the
 * worker's spec parser (lib/contract/tw_spec.c) must describe one spec: the
 * operator copies what the API server stored, defaults included, into the
 * worker's ConfigMap. This test reads the CRD's schema and checks, against
 * tw_spec_parse():
 *
 *   - the same field names, both ways (a CRD-only field would make the
 *     worker refuse the spec; a worker-only field would be pruned by the API
 *     server and never reach it);
 *   - the CRD's defaults are the worker's (a spec defaulted by the API server
 *     parses to exactly what the bare spec parses to);
 *   - every enum value the CRD admits, and every integer bound, is one the
 *     worker admits too.
 *
 * Run from the repository root (make does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tw_spec.h"
#include "yaml_json.h"

#define CRD_PATH "crds/telemetrywindows.sluice.dev.yaml"

static cJSON *crd;               /* the whole document */
static const cJSON *spec_schema; /* .spec's schema */

/* Every field lib/contract/tw_spec.h documents, each with a valid value. When
 * tw_spec learns a field, add it here; the test then insists the CRD has it. */
static const char full_spec[] =
    "{\"kafka\":{\"bootstrap\":\"k:9092\",\"topic\":\"t\",\"group\":\"g\","
    "  \"deadLetterTopic\":\"t.dlq\",\"replicationFactor\":3,"
    "  \"tls\":{\"ca\":{\"name\":\"kca\",\"key\":\"ca.crt\"},"
    "   \"cert\":{\"name\":\"kc\",\"key\":\"tls.crt\"},"
    "   \"key\":{\"name\":\"kc\",\"key\":\"tls.key\"},\"serverName\":\"kafka.internal\"},"
    "  \"sasl\":{\"mechanism\":\"SCRAM-SHA-512\",\"username\":{\"name\":\"ku\",\"key\":\"user\"},"
    "   \"password\":{\"name\":\"ku\",\"key\":\"password\"}},"
    "  \"createTopic\":{\"partitions\":6,\"replicationFactor\":2}},"
    " \"format\":\"csv\",\"csv\":{\"columns\":[\"ts\",\"host\",\"temp\"],\"delimiter\":\";\"},"
    " \"fields\":{\"timestamp\":\"ts\",\"timestampFormat\":\"rfc3339\",\"keys\":[\"host\"],"
    "  \"values\":[\"temp\"]},"
    " \"window\":{\"size\":\"60s\",\"slide\":\"30s\",\"watermarkDelay\":\"5s\","
    "  \"allowedLateness\":\"1s\",\"idleTimeout\":\"10s\"},"
    " \"dedupe\":{\"enabled\":true,\"horizon\":\"2m\",\"maxEntries\":1000},"
    " \"aggregations\":[\"count\",\"p99\"],"
    " \"sinks\":{\"influxdb\":{\"url\":\"http://i:8086\",\"database\":\"d\",\"org\":\"o\","
    "   \"token\":{\"name\":\"s\",\"key\":\"k\"},\"raw\":true,\"windows\":true,\"api\":\"v2\"},"
    "  \"postgres\":{\"dsn\":{\"name\":\"s\",\"key\":\"k\"},\"table\":\"t\","
    "   \"tls\":{\"ca\":{\"name\":\"pgca\",\"key\":\"ca.crt\"}}},"
    "  \"redis\":{\"addr\":\"r:6379\",\"prefix\":\"p:\",\"ttl\":\"1h\","
    "   \"username\":\"sluice\",\"password\":{\"name\":\"rp\",\"key\":\"password\"}}},"
    " \"retention\":{\"maxRowsPerKey\":5,\"maxAge\":\"24h\"},"
    " \"workers\":{\"minReplicas\":1,\"maxReplicas\":3,\"lagThreshold\":10,"
    "  \"activationLagThreshold\":2,\"image\":\"reg/sluice-worker:1\","
    "  \"imagePullPolicy\":\"IfNotPresent\","
    "  \"scaling\":{\"pollingInterval\":30,\"stabilizationWindow\":\"2m\","
    "   \"cooldownPeriod\":\"0\",\"trendWindow\":\"1m30s\",\"scaleUpInterval\":\"500ms\","
    "   \"persistentLagAfter\":45,\"fallback\":{\"replicas\":2,\"failureThreshold\":5},"
    "   \"allowIdleConsumers\":false,\"limitToPartitionsWithLag\":true,"
    "   \"excludePersistentLag\":true,\"targetDrainSeconds\":120,\"targetUtilization\":70,"
    "   \"partitionDistribution\":\"Even\"},"
    "  \"env\":[{\"name\":\"SLUICE_LOG_LEVEL\",\"value\":\"debug\"}],"
    "  \"nodeSelector\":{\"disk\":\"ssd\"},\"tolerations\":[{\"operator\":\"Exists\"}],"
    "  \"affinity\":{\"nodeAffinity\":{}},\"serviceAccountName\":\"sa\","
    "  \"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"},"
    "   \"limits\":{\"cpu\":1,\"memory\":\"128Mi\"}}}}";

/* The least a user writes, with every sink present (empty of optional
 * fields) so their defaults are compared too. */
static const char minimal_spec[] =
    "{\"kafka\":{\"bootstrap\":\"k:9092\",\"topic\":\"t\"},"
    " \"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"temp\"]},"
    " \"window\":{\"size\":\"60s\"},"
    " \"sinks\":{\"influxdb\":{\"url\":\"http://i:8086\",\"database\":\"d\"},"
    "  \"postgres\":{\"dsn\":{\"name\":\"s\",\"key\":\"k\"}},"
    "  \"redis\":{\"addr\":\"r:6379\"}}}";

/* ---------------------------------------------------------------- loading */

static int load_crd(void **state)
{
	FILE *f = fopen(CRD_PATH, "rb");
	char err[256], *text;
	long len;
	const cJSON *versions, *schema;

	(void)state;
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open (run from the repository root)\n", CRD_PATH);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	text = malloc((size_t)len);
	if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (yaml_json_parse(text, (size_t)len, &crd, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", CRD_PATH, err);
		free(text);
		return -1;
	}
	free(text);
	versions = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(crd, "spec"),
	                                            "versions");
	schema = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(versions, 0), "schema"),
	    "openAPIV3Schema");
	spec_schema = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(schema, "properties"), "spec");
	if (spec_schema == NULL) {
		fprintf(stderr, "%s: no openAPIV3Schema.properties.spec\n", CRD_PATH);
		return -1;
	}
	return 0;
}

static int free_crd(void **state)
{
	(void)state;
	cJSON_Delete(crd);
	return 0;
}

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	return j;
}

static const cJSON *props(const cJSON *schema)
{
	return cJSON_GetObjectItemCaseSensitive(schema, "properties");
}

static int parse_spec(const cJSON *spec, struct tw_spec *out, char *err, size_t size)
{
	return tw_spec_parse(spec, "tw", "ns", out, err, size);
}

/* ---------------------------------------------------------------- names */

/* Every member of obj (recursively through objects) is a property of
 * schema. */
static void check_known(const cJSON *obj, const cJSON *schema, const char *path)
{
	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		const cJSON *sub = cJSON_GetObjectItemCaseSensitive(props(schema), it->string);
		char p[256];

		/* A map (resources.requests): any name, the schema of its values. */
		if (sub == NULL)
			sub = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
		snprintf(p, sizeof(p), "%s.%s", path, it->string);
		if (sub == NULL)
			fail_msg("%s: tw_spec reads it, the CRD does not have it (the API server "
			         "would prune it)",
			         p);
		/* A Kubernetes structure the worker does not read (affinity) is
		 * kept whole by the API server. */
		if (cJSON_IsObject(it) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		                              sub, "x-kubernetes-preserve-unknown-fields")))
			check_known(it, sub, p);
	}
}

/* Every property of schema (recursively through object properties) is a
 * member of obj. */
static void check_covered(const cJSON *schema, const cJSON *obj, const char *path)
{
	for (const cJSON *it = props(schema) != NULL ? props(schema)->child : NULL; it != NULL;
	     it = it->next) {
		const cJSON *member = cJSON_GetObjectItemCaseSensitive(obj, it->string);
		char p[256];

		snprintf(p, sizeof(p), "%s.%s", path, it->string);
		if (member == NULL)
			fail_msg("%s: in the CRD but not in this test's full spec (is it a tw_spec "
			         "field? the worker refuses unknown fields)",
			         p);
		if (props(it) != NULL)
			check_covered(it, member, p);
	}
}

static void test_same_field_names(void **state)
{
	cJSON *full = parse(full_spec);
	struct tw_spec s;
	char err[256];

	(void)state;
	/* tw_spec refuses unknown fields: all of these are its own. */
	if (parse_spec(full, &s, err, sizeof(err)) != 0)
		fail_msg("the full spec: %s", err);
	tw_spec_free(&s);
	check_known(full, spec_schema, "spec");
	check_covered(spec_schema, full, "spec");
	cJSON_Delete(full);
}

/* ---------------------------------------------------------------- defaults */

/* Structural defaulting as the API server does it: a property absent from
 * obj gets its schema default; objects present (or just defaulted) are
 * defaulted inside. */
static void apply_defaults(cJSON *obj, const cJSON *schema)
{
	for (const cJSON *p = props(schema) != NULL ? props(schema)->child : NULL; p != NULL;
	     p = p->next) {
		cJSON *member = cJSON_GetObjectItemCaseSensitive(obj, p->string);
		const cJSON *def = cJSON_GetObjectItemCaseSensitive(p, "default");

		if (member == NULL && def != NULL) {
			member = cJSON_Duplicate(def, 1);
			assert_non_null(member);
			cJSON_AddItemToObject(obj, p->string, member);
		}
		if (member != NULL && cJSON_IsObject(member))
			apply_defaults(member, p);
	}
}

static void same_str(const char *a, const char *b, const char *what)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		fail_msg("%s: worker default \"%s\", CRD default gives \"%s\"", what,
		         a != NULL ? a : "(null)", b != NULL ? b : "(null)");
}

#define SAME(field)                                                                                \
	do {                                                                                       \
		if ((a)->field != (b)->field)                                                      \
			fail_msg("%s: worker default %lld, CRD default gives %lld", #field,        \
			         (long long)(a)->field, (long long)(b)->field);                    \
	} while (0)
#define SAME_STR(field) same_str((a)->field, (b)->field, #field)

/* a: the bare spec parsed (the worker's defaults); b: the spec the API
 * server would store, parsed. */
static void compare(const struct tw_spec *a, const struct tw_spec *b)
{
	SAME_STR(kafka.bootstrap);
	SAME_STR(kafka.topic);
	SAME_STR(kafka.group);
	SAME_STR(kafka.dead_letter_topic);
	SAME(kafka.tls.enabled);
	SAME_STR(kafka.tls.ca.name);
	SAME_STR(kafka.tls.ca.key);
	SAME_STR(kafka.tls.cert.name);
	SAME_STR(kafka.tls.cert.key);
	SAME_STR(kafka.tls.key.name);
	SAME_STR(kafka.tls.key.key);
	SAME_STR(kafka.tls.server_name);
	SAME(kafka.sasl.mechanism);
	SAME_STR(kafka.sasl.username.name);
	SAME_STR(kafka.sasl.username.key);
	SAME_STR(kafka.sasl.password.name);
	SAME_STR(kafka.sasl.password.key);
	SAME(kafka.replication_factor);
	SAME(kafka.create_topic.enabled);
	SAME(kafka.create_topic.partitions);
	SAME(kafka.create_topic.replication_factor);
	SAME(format);
	SAME(csv.ncolumns);
	for (size_t i = 0; i < a->csv.ncolumns; i++)
		SAME_STR(csv.columns[i]);
	SAME(csv.delimiter);
	SAME_STR(fields.timestamp);
	SAME(fields.timestamp_kind);
	SAME_STR(fields.timestamp_pattern);
	SAME(fields.nkeys);
	SAME(fields.nvalues);
	SAME(window.size_ns);
	SAME(window.slide_ns);
	SAME(window.watermark_delay_ns);
	SAME(window.allowed_lateness_ns);
	SAME(window.idle_timeout_ns);
	SAME(dedupe.enabled);
	SAME(dedupe.horizon_ns);
	SAME(dedupe.max_entries);
	SAME(aggregations);
	SAME(sinks.influxdb.enabled);
	SAME_STR(sinks.influxdb.url);
	SAME_STR(sinks.influxdb.database);
	SAME_STR(sinks.influxdb.org);
	SAME_STR(sinks.influxdb.token.name);
	SAME_STR(sinks.influxdb.token.key);
	SAME(sinks.influxdb_raw);
	SAME(sinks.influxdb_windows);
	SAME(sinks.influxdb.api);
	SAME(sinks.postgres.enabled);
	SAME_STR(sinks.postgres.dsn.name);
	SAME_STR(sinks.postgres.dsn.key);
	SAME_STR(sinks.postgres.table);
	SAME(sinks.redis.enabled);
	SAME_STR(sinks.redis.addr);
	SAME_STR(sinks.redis.prefix);
	SAME(sinks.redis.ttl_ns);
	SAME(retention.max_rows_per_key);
	SAME(retention.max_age_ns);
	SAME(workers.min_replicas);
	SAME(workers.max_replicas);
	SAME(workers.lag_threshold);
	SAME(workers.activation_lag_threshold);
	SAME_STR(workers.image);
	SAME_STR(workers.image_pull_policy);
	SAME(workers.scaling.polling_interval_ms);
	SAME(workers.scaling.stabilization_window_ms);
	SAME(workers.scaling.cooldown_period_ms);
	SAME(workers.scaling.trend_window_ms);
	SAME(workers.scaling.scale_up_interval_ms);
	SAME(workers.scaling.fallback_replicas);
	SAME(workers.scaling.failure_threshold);
	SAME(workers.scaling.allow_idle_consumers);
	SAME(workers.scaling.limit_to_partitions_with_lag);
	SAME(workers.scaling.exclude_persistent_lag);
	SAME(workers.scaling.persistent_after_ms);
	SAME(workers.scaling.target_drain_ms);
	SAME(workers.scaling.target_utilization_pct);
	SAME(workers.scaling.even_partitions);
	SAME(workers.requests.n);
	SAME(workers.limits.n);
}

static void check_defaults_of(const char *text, const char *edit_key, const char *edit_json)
{
	cJSON *bare = parse(text), *defaulted;
	struct tw_spec a, b;
	char err[256];

	if (edit_key != NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(bare, edit_key);
		cJSON_AddItemToObject(bare, edit_key, parse(edit_json));
	}
	defaulted = cJSON_Duplicate(bare, 1);
	assert_non_null(defaulted);
	apply_defaults(defaulted, spec_schema);
	if (parse_spec(bare, &a, err, sizeof(err)) != 0)
		fail_msg("bare spec: %s", err);
	if (parse_spec(defaulted, &b, err, sizeof(err)) != 0)
		fail_msg("the spec with the CRD's defaults: %s", err);
	compare(&a, &b);
	tw_spec_free(&a);
	tw_spec_free(&b);
	cJSON_Delete(bare);
	cJSON_Delete(defaulted);
}

static void test_crd_defaults_are_the_workers(void **state)
{
	(void)state;
	check_defaults_of(minimal_spec, NULL, NULL);
	/* The csv block's own defaults. */
	{
		cJSON *m = parse(minimal_spec);
		char *text;

		cJSON_AddStringToObject(m, "format", "csv");
		cJSON_AddItemToObject(m, "csv", parse("{\"columns\":[\"ts\",\"host\",\"temp\"]}"));
		text = cJSON_PrintUnformatted(m);
		check_defaults_of(text, NULL, NULL);
		free(text);
		cJSON_Delete(m);
	}
	/* Partly written sections get the rest from the defaults. */
	check_defaults_of(minimal_spec, "workers", "{\"minReplicas\":0}");
	check_defaults_of(minimal_spec, "dedupe", "{\"enabled\":false}");
	check_defaults_of(minimal_spec, "retention", "{\"maxAge\":\"1h\"}");
}

/* ---------------------------------------------------------------- enums, bounds */

static const cJSON *schema_at(const char *dotted)
{
	const cJSON *s = spec_schema;
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (tok = strtok_r(buf, ".", &save); tok != NULL; tok = strtok_r(NULL, ".", &save)) {
		s = cJSON_GetObjectItemCaseSensitive(props(s), tok);
		if (s == NULL)
			fail_msg("the CRD has no spec.%s", dotted);
	}
	return s;
}

/* A full spec with member path set to value (JSON text). */
static int parse_with(const char *dotted, const cJSON *value, char *err, size_t size)
{
	cJSON *spec = parse(full_spec), *obj = spec;
	char buf[128], *dot, *key = buf;
	struct tw_spec s;
	int rc;

	snprintf(buf, sizeof(buf), "%s", dotted);
	while ((dot = strchr(key, '.')) != NULL) {
		*dot = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		assert_non_null(obj);
		key = dot + 1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	cJSON_AddItemToObject(obj, key, cJSON_Duplicate(value, 1));
	/* Bounds of one field must not trip another's rule. */
	if (strcmp(dotted, "workers.minReplicas") == 0) {
		cJSON *w = cJSON_GetObjectItemCaseSensitive(spec, "workers");

		cJSON_DeleteItemFromObjectCaseSensitive(w, "maxReplicas");
		cJSON_AddNumberToObject(w, "maxReplicas", 1000);
	}
	rc = parse_spec(spec, &s, err, size);
	if (rc == 0)
		tw_spec_free(&s);
	cJSON_Delete(spec);
	return rc;
}

static void test_crd_enums_admitted_by_the_worker(void **state)
{
	static const char *const enums[] = {"format", "sinks.influxdb.api",
	                                    "workers.imagePullPolicy",
	                                    "workers.scaling.partitionDistribution"};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(schema_at(enums[i]), "enum"), *v;

		assert_non_null(e);
		cJSON_ArrayForEach(v, e)
		{
			int rc;

			/* csv needs its block and influx its own timestamp rules:
			 * the full spec is csv; give the others what they need. */
			if (strcmp(enums[i], "format") == 0 && strcmp(v->valuestring, "csv") != 0) {
				cJSON *spec = parse(full_spec);
				struct tw_spec s;
				cJSON *f = cJSON_GetObjectItemCaseSensitive(spec, "fields");

				cJSON_DeleteItemFromObjectCaseSensitive(spec, "csv");
				cJSON_DeleteItemFromObjectCaseSensitive(spec, "format");
				cJSON_AddItemToObject(spec, "format", cJSON_Duplicate(v, 1));
				if (strcmp(v->valuestring, "influx") == 0) {
					cJSON_DeleteItemFromObjectCaseSensitive(f, "timestamp");
					cJSON_DeleteItemFromObjectCaseSensitive(f,
					                                        "timestampFormat");
				}
				rc = parse_spec(spec, &s, err, sizeof(err));
				if (rc == 0)
					tw_spec_free(&s);
				cJSON_Delete(spec);
			} else {
				rc = parse_with(enums[i], v, err, sizeof(err));
			}
			if (rc != 0)
				fail_msg("spec.%s: the CRD admits \"%s\", the worker says: %s",
				         enums[i], v->valuestring, err);
		}
	}
	/* Aggregations: the item enum. */
	{
		const cJSON *items =
		    cJSON_GetObjectItemCaseSensitive(schema_at("aggregations"), "items");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(items, "enum"), *v;
		const cJSON *def =
		    cJSON_GetObjectItemCaseSensitive(schema_at("aggregations"), "default");

		assert_int_equal(cJSON_GetArraySize(e), cJSON_GetArraySize(def));
		cJSON_ArrayForEach(v, e)
		{
			cJSON *one = cJSON_CreateArray();

			cJSON_AddItemToArray(one, cJSON_Duplicate(v, 1));
			if (parse_with("aggregations", one, err, sizeof(err)) != 0)
				fail_msg("aggregations: the CRD admits \"%s\", the worker says: %s",
				         v->valuestring, err);
			cJSON_Delete(one);
		}
	}
}

/* Every integer with bounds in the CRD: the worker takes both ends and
 * refuses one past each. */
static void check_bounds(const cJSON *schema, const char *path)
{
	for (const cJSON *p = props(schema) != NULL ? props(schema)->child : NULL; p != NULL;
	     p = p->next) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
		const cJSON *min = cJSON_GetObjectItemCaseSensitive(p, "minimum");
		const cJSON *max = cJSON_GetObjectItemCaseSensitive(p, "maximum");
		char sub[128], err[256];

		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] != '\0' ? "." : "", p->string);
		if (props(p) != NULL)
			check_bounds(p, sub);
		if (!cJSON_IsString(type) || strcmp(type->valuestring, "integer") != 0)
			continue;
		if (min == NULL || max == NULL)
			fail_msg("spec.%s: an integer without both bounds", sub);
		{
			double ends[4] = {min->valuedouble, max->valuedouble, min->valuedouble - 1,
			                  max->valuedouble + 1};

			for (int i = 0; i < 4; i++) {
				cJSON *v = cJSON_CreateNumber(ends[i]);
				int rc = parse_with(sub, v, err, sizeof(err));

				cJSON_Delete(v);
				if (i < 2 && rc != 0)
					fail_msg(
					    "spec.%s: the CRD admits %.0f, the worker says: %s",
					    sub, ends[i], err);
				if (i >= 2 && rc == 0)
					fail_msg(
					    "spec.%s: the CRD refuses %.0f, the worker takes it",
					    sub, ends[i]);
			}
		}
	}
}

static void test_crd_integer_bounds_are_the_workers(void **state)
{
	(void)state;
	check_bounds(spec_schema, "");
}

/* spec.workers.scaling's durations: the CRD's pattern (POSIX ERE as
 * written, so regcomp judges it) and the contract's reader
 * (spec_get_duration_ms) agree on strings, and each field's rule states the
 * reader's bounds: at most 24h or 86400 seconds, more than 0 where the
 * reader's least is 1 ms. CEL itself runs only on the API server
 * (tests/e2e/test_crds.py). */
static void test_crd_scaling_durations_are_the_workers(void **state)
{
	static const char *const fields[] = {
	    "workers.scaling.pollingInterval", "workers.scaling.stabilizationWindow",
	    "workers.scaling.cooldownPeriod",  "workers.scaling.trendWindow",
	    "workers.scaling.scaleUpInterval", "workers.scaling.persistentLagAfter"};
	/* Within 24h when a duration: the rule, not the pattern, refuses more. */
	static const char *const samples[] = {"1s",  "30s", "500ms", "1m30s", "1h",   "24h", "2m0s",
	                                      "0",   "0s",  "",      "5 s",   "1.5s", "s",   "30",
	                                      "-1s", "1d",  "30S",   "+1s",   "1h1h", "ms",  " 1s"};
	char err[256];

	(void)state;
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		const cJSON *sch = schema_at(fields[f]);
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(sch, "pattern");
		const cJSON *rules =
		    cJSON_GetObjectItemCaseSensitive(sch, "x-kubernetes-validations");
		const char *rule = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rules, 0), "rule"));
		int positive;
		regex_t re;

		assert_true(cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(sch, "x-kubernetes-int-or-string")));
		assert_non_null(rule);
		positive = strstr(rule, "self > 0 && self <= 86400") != NULL;
		if (!positive && strstr(rule, "self >= 0 && self <= 86400") == NULL)
			fail_msg("spec.%s: the rule does not bound seconds to 0..86400: %s",
			         fields[f], rule);
		if (strstr(rule, "duration('24h')") == NULL ||
		    (positive && strstr(rule, "duration(self) > duration('0s')") == NULL))
			fail_msg("spec.%s: the rule does not bound durations as seconds: %s",
			         fields[f], rule);
		assert_true(cJSON_IsString(pat));
		assert_int_equal(regcomp(&re, pat->valuestring, REG_EXTENDED | REG_NOSUB), 0);
		for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
			int zero = strcmp(samples[i], "0") == 0 || strcmp(samples[i], "0s") == 0;
			int crd_ok =
			    regexec(&re, samples[i], 0, NULL, 0) == 0 && !(positive && zero);
			cJSON *v = cJSON_CreateString(samples[i]);
			int worker_ok = parse_with(fields[f], v, err, sizeof(err)) == 0;

			cJSON_Delete(v);
			if (crd_ok != worker_ok)
				fail_msg("spec.%s: \"%s\": the CRD %s it, the worker %s it (%s)",
				         fields[f], samples[i], crd_ok ? "takes" : "refuses",
				         worker_ok ? "takes" : "refuses", err);
		}
		regfree(&re);
		/* Whole seconds: the rule's ends, and one past each. */
		{
			double ends[4] = {positive ? 1 : 0, 86400, positive ? 0 : -1, 86401};

			for (int i = 0; i < 4; i++) {
				cJSON *v = cJSON_CreateNumber(ends[i]);
				int rc = parse_with(fields[f], v, err, sizeof(err));

				cJSON_Delete(v);
				if ((i < 2) != (rc == 0))
					fail_msg(
					    "spec.%s: %.0f seconds: the CRD %s it, the worker %s",
					    fields[f], ends[i], i < 2 ? "takes" : "refuses", err);
			}
		}
	}
}

/* The CRD's quantity pattern (resources.requests and .limits) and the
 * worker's spec_quantity_ok agree on a set of edge cases. The pattern is
 * POSIX ERE as written, so regcomp judges it. */
static void test_crd_quantity_pattern_is_the_workers(void **state)
{
	static const char *const samples[] = {
	    "1",   "0",  "+1",   "-1",   "500m", "0.5", ".5",  "1.", "64Mi",  "1Gi", "2Ei",   "1k",
	    "1n",  "3u", "1e3",  "1E+3", "1e-3", "",    "m",   "Mi", "1MB",   "1mi", "1 Mi",  "1e",
	    "1e+", ".",  "1..2", "--1",  "0x10", "1K",  "1iB", "e3", "1.5.5", "7Ti", "1.5e.5"};
	static const char *const lists[] = {"workers.resources.requests",
	                                    "workers.resources.limits"};

	(void)state;
	for (size_t l = 0; l < 2; l++) {
		const cJSON *ap =
		    cJSON_GetObjectItemCaseSensitive(schema_at(lists[l]), "additionalProperties");
		const cJSON *pat = cJSON_GetObjectItemCaseSensitive(ap, "pattern");
		regex_t re;

		assert_true(cJSON_IsString(pat));
		assert_int_equal(regcomp(&re, pat->valuestring, REG_EXTENDED | REG_NOSUB), 0);
		for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
			int crd_ok = regexec(&re, samples[i], 0, NULL, 0) == 0;

			if (crd_ok != spec_quantity_ok(samples[i]))
				fail_msg("spec.%s: \"%s\": the CRD %s it, the worker %s it",
				         lists[l], samples[i], crd_ok ? "takes" : "refuses",
				         crd_ok ? "refuses" : "takes");
		}
		regfree(&re);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_field_names),
	    cmocka_unit_test(test_crd_defaults_are_the_workers),
	    cmocka_unit_test(test_crd_enums_admitted_by_the_worker),
	    cmocka_unit_test(test_crd_integer_bounds_are_the_workers),
	    cmocka_unit_test(test_crd_scaling_durations_are_the_workers),
	    cmocka_unit_test(test_crd_quantity_pattern_is_the_workers),
	};

	return cmocka_run_group_tests_name("crd_tw_spec", tests, load_crd, free_crd);
}
