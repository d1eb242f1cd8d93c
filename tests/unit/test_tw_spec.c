/* Unit tests for lib/contract/tw_spec.c: defaults, a full spec, both document
 * forms, file loading (JSON and YAML), and every validation message,
 * table-driven: each case changes one field of a valid spec. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tw_agg.h"
#include "tw_core.h"
#include "tw_spec.h"

#define S INT64_C(1000000000)

static const char base_doc[] =
    "{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"TelemetryWindow\","
    " \"metadata\":{\"name\":\"sensors\",\"namespace\":\"prod\",\"uid\":\"x\"},"
    " \"spec\":{"
    "  \"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"telemetry\"},"
    "  \"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"temp\",\"load\"]},"
    "  \"window\":{\"size\":\"60s\"}},"
    " \"status\":{\"phase\":\"Running\"}}";

/* Sets the member at a dotted path to the JSON text value (NULL deletes
 * it), creating objects on the way. */
static void set_path(cJSON *doc, const char *path, const char *value)
{
	char buf[256], *p = buf, *dot;
	cJSON *obj = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((dot = strchr(p, '.')) != NULL) {
		cJSON *next;

		*dot = '\0';
		next = cJSON_GetObjectItemCaseSensitive(obj, p);
		if (next == NULL || !cJSON_IsObject(next)) {
			cJSON_DeleteItemFromObjectCaseSensitive(obj, p);
			next = cJSON_AddObjectToObject(obj, p);
		}
		obj = next;
		p = dot + 1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, p);
	if (value != NULL) {
		cJSON *v = cJSON_Parse(value);

		assert_non_null(v);
		cJSON_AddItemToObject(obj, p, v);
	}
}

/* Parses base_doc with up to three edits; returns the result code. */
static int parse_with(struct tw_spec *spec, char *err, size_t size, const char *const *edits)
{
	cJSON *doc = cJSON_Parse(base_doc);
	int rc;

	assert_non_null(doc);
	for (size_t i = 0; edits != NULL && edits[i] != NULL; i += 2)
		set_path(doc, edits[i], edits[i + 1]);
	rc = tw_spec_parse_document(doc, spec, err, size);
	cJSON_Delete(doc);
	return rc;
}

static void test_defaults(void **state)
{
	struct tw_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse_with(&s, err, sizeof(err), NULL), 0);
	assert_string_equal(s.name, "sensors");
	assert_string_equal(s.namespace, "prod");
	assert_string_equal(s.kafka.bootstrap, "127.0.0.1:9092");
	assert_string_equal(s.kafka.topic, "telemetry");
	assert_string_equal(s.kafka.group, "sluice-tw-prod-sensors");
	assert_string_equal(s.kafka.dead_letter_topic, "telemetry.dlq");
	assert_int_equal(s.format, TW_FORMAT_JSON);
	assert_int_equal(s.csv.ncolumns, 0);
	assert_string_equal(s.fields.timestamp, "ts");
	assert_int_equal(s.fields.timestamp_kind, TW_TIME_RFC3339);
	assert_null(s.fields.timestamp_pattern);
	assert_int_equal(s.fields.nkeys, 1);
	assert_string_equal(s.fields.keys[0], "host");
	assert_int_equal(s.fields.nvalues, 2);
	assert_string_equal(s.fields.values[1], "load");
	assert_int_equal(s.window.size_ns, 60 * S);
	assert_int_equal(s.window.slide_ns, 60 * S); /* tumbling */
	assert_int_equal(s.window.watermark_delay_ns, 10 * S);
	assert_int_equal(s.window.allowed_lateness_ns, 0);
	assert_int_equal(s.window.idle_timeout_ns, 30 * S);
	assert_true(s.dedupe.enabled);
	assert_int_equal(s.dedupe.horizon_ns, 70 * S); /* size + delay */
	assert_int_equal(s.dedupe.max_entries, TW_DEDUPE_MAX_ENTRIES_DEFAULT);
	assert_int_equal(s.aggregations, TW_AGG_ALL);
	assert_false(s.sinks.influxdb.enabled);
	assert_false(s.sinks.postgres.enabled);
	assert_false(s.sinks.redis.enabled);
	assert_int_equal(s.retention.max_rows_per_key, 1000);
	assert_int_equal(s.retention.max_age_ns, 0);
	assert_int_equal(s.workers.min_replicas, 1);
	assert_int_equal(s.workers.max_replicas, 10);
	assert_int_equal(s.workers.lag_threshold, 1000);
	assert_int_equal(s.workers.activation_lag_threshold, 0);
	assert_null(s.workers.image);
	assert_null(s.workers.image_pull_policy);
	assert_int_equal(s.workers.requests.n, 0);
	assert_int_equal(s.workers.limits.n, 0);
	tw_spec_free(&s);
	tw_spec_free(&s); /* twice is fine */
}

static void test_full_spec(void **state)
{
	static const char *const edits[] = {
	    "spec",
	    "{\"kafka\":{\"bootstrap\":\"k1:9092,k2:9092\",\"topic\":\"t\",\"group\":\"g\","
	    "  \"deadLetterTopic\":\"t-dead\"},"
	    " \"format\":\"csv\",\"csv\":{\"columns\":[\"time\",\"site\",\"dev\",\"v1\",\"v2\"],"
	    "  \"delimiter\":\";\"},"
	    " \"fields\":{\"timestamp\":\"time\",\"timestampFormat\":\"%Y-%m-%d %H:%M:%S\","
	    "  \"keys\":[\"site\",\"dev\"],\"values\":[\"v1\",\"v2\"]},"
	    " \"window\":{\"size\":\"1m\",\"slide\":\"15s\",\"watermarkDelay\":\"5s\","
	    "  \"allowedLateness\":\"2s\",\"idleTimeout\":\"0s\"},"
	    " \"dedupe\":{\"enabled\":true,\"horizon\":\"5m\",\"maxEntries\":1000},"
	    " \"aggregations\":[\"count\",\"p99\",\"mean\"],"
	    " \"sinks\":{"
	    "  \"influxdb\":{\"url\":\"https://influx:8086\",\"database\":\"b\",\"org\":\"o\","
	    "   \"token\":{\"name\":\"influx\",\"key\":\"token\"},\"raw\":true,\"windows\":false,"
	    "   \"api\":\"v2\"},"
	    "  \"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"},\"table\":\"tw_rows\","
	    "   \"tls\":{\"ca\":{\"name\":\"pgca\",\"key\":\"ca.crt\"}}},"
	    "  \"redis\":{\"addr\":\"[::1]:6379\",\"prefix\":\"p:\",\"ttl\":\"2h\","
	    "   \"username\":\"sluice\",\"password\":{\"name\":\"redis\",\"key\":\"pw\"}}},"
	    " \"retention\":{\"maxRowsPerKey\":0,\"maxAge\":\"24h\"},"
	    " \"workers\":{\"minReplicas\":0,\"maxReplicas\":5,\"lagThreshold\":50000,"
	    "  \"activationLagThreshold\":7,\"image\":\"registry.local/sluice-worker:0.3\","
	    "  \"imagePullPolicy\":\"Never\",\"resources\":{\"requests\":{\"cpu\":\"250m\","
	    "  \"memory\":\"48Mi\"},\"limits\":{\"memory\":67108864,\"nvidia.com/gpu\":1}}}}",
	    NULL};
	struct tw_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse_with(&s, err, sizeof(err), edits), 0);
	assert_string_equal(s.kafka.group, "g");
	assert_string_equal(s.kafka.dead_letter_topic, "t-dead");
	assert_int_equal(s.format, TW_FORMAT_CSV);
	assert_int_equal(s.csv.ncolumns, 5);
	assert_string_equal(s.csv.columns[4], "v2");
	assert_int_equal(s.csv.delimiter, ';');
	assert_int_equal(s.fields.timestamp_kind, TW_TIME_STRPTIME);
	assert_string_equal(s.fields.timestamp_pattern, "%Y-%m-%d %H:%M:%S");
	assert_int_equal(s.fields.nkeys, 2);
	assert_int_equal(s.window.slide_ns, 15 * S);
	assert_int_equal(s.window.watermark_delay_ns, 5 * S);
	assert_int_equal(s.window.allowed_lateness_ns, 2 * S);
	assert_int_equal(s.window.idle_timeout_ns, 0);
	assert_int_equal(s.dedupe.horizon_ns, 300 * S);
	assert_int_equal(s.dedupe.max_entries, 1000);
	assert_int_equal(s.aggregations, TW_AGG_COUNT | TW_AGG_P99 | TW_AGG_MEAN);
	assert_true(s.sinks.influxdb.enabled);
	assert_string_equal(s.sinks.influxdb.url, "https://influx:8086");
	assert_string_equal(s.sinks.influxdb.org, "o");
	assert_string_equal(s.sinks.influxdb.token.name, "influx");
	assert_string_equal(s.sinks.influxdb.token.key, "token");
	assert_true(s.sinks.influxdb_raw);
	assert_false(s.sinks.influxdb_windows);
	assert_int_equal(s.sinks.influxdb.api, SPEC_INFLUX_V2);
	assert_string_equal(s.sinks.postgres.dsn.name, "pg");
	assert_string_equal(s.sinks.postgres.table, "tw_rows");
	assert_string_equal(s.sinks.postgres.tls_ca.name, "pgca");
	assert_string_equal(s.sinks.postgres.tls_ca.key, "ca.crt");
	assert_string_equal(s.sinks.redis.addr, "[::1]:6379");
	assert_string_equal(s.sinks.redis.prefix, "p:");
	assert_int_equal(s.sinks.redis.ttl_ns, 7200 * S);
	assert_string_equal(s.sinks.redis.username, "sluice");
	assert_string_equal(s.sinks.redis.password.name, "redis");
	assert_string_equal(s.sinks.redis.password.key, "pw");
	assert_int_equal(s.retention.max_rows_per_key, 0);
	assert_int_equal(s.retention.max_age_ns, 86400 * S);
	assert_int_equal(s.workers.min_replicas, 0);
	assert_int_equal(s.workers.max_replicas, 5);
	assert_int_equal(s.workers.lag_threshold, 50000);
	assert_int_equal(s.workers.activation_lag_threshold, 7);
	assert_string_equal(s.workers.image, "registry.local/sluice-worker:0.3");
	assert_string_equal(s.workers.image_pull_policy, "Never");
	assert_int_equal(s.workers.requests.n, 2);
	assert_string_equal(s.workers.requests.names[0], "cpu");
	assert_string_equal(s.workers.requests.values[0], "250m");
	assert_string_equal(s.workers.requests.names[1], "memory");
	assert_string_equal(s.workers.requests.values[1], "48Mi");
	assert_int_equal(s.workers.limits.n, 2);
	assert_string_equal(s.workers.limits.values[0], "67108864");
	assert_string_equal(s.workers.limits.names[1], "nvidia.com/gpu");
	assert_string_equal(s.workers.limits.values[1], "1");
	tw_spec_free(&s);
}

static void test_sink_defaults_and_influx_format(void **state)
{
	static const char *const edits[] = {
	    "spec.sinks",
	    "{\"influxdb\":{\"url\":\"http://i:8086\",\"database\":\"d\"},"
	    " \"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"}},"
	    " \"redis\":{\"addr\":\"r:6379\"}}",
	    "spec.format",
	    "\"influx\"",
	    "spec.fields",
	    "{\"keys\":[\"host\"],\"values\":[\"temp\"]}",
	    NULL};
	static const char *const edits2[] = {
	    "spec.format",
	    "\"influx\"",
	    "spec.fields",
	    "{\"timestamp\":\"_time\",\"timestampFormat\":\"epoch_ms\",\"values\":[\"v\"]}",
	    "spec.workers",
	    "{\"minReplicas\":20}",
	    NULL};
	struct tw_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse_with(&s, err, sizeof(err), edits), 0);
	assert_int_equal(s.format, TW_FORMAT_LP);
	assert_string_equal(s.fields.timestamp, "");
	assert_int_equal(s.fields.timestamp_kind, TW_TIME_EPOCH_NS);
	assert_null(s.sinks.influxdb.token.name);
	assert_null(s.sinks.influxdb.org);
	assert_false(s.sinks.influxdb_raw);
	assert_true(s.sinks.influxdb_windows);
	assert_int_equal(s.sinks.influxdb.api, SPEC_INFLUX_V1);
	assert_string_equal(s.sinks.postgres.table, "telemetry_windows");
	assert_string_equal(s.sinks.redis.prefix, "sluice:prod:sensors:");
	assert_int_equal(s.sinks.redis.ttl_ns, 3600 * S);
	assert_null(s.sinks.redis.username);
	assert_null(s.sinks.redis.password.name);
	tw_spec_free(&s);

	assert_int_equal(parse_with(&s, err, sizeof(err), edits2), 0);
	assert_int_equal(s.fields.timestamp_kind, TW_TIME_EPOCH_MS);
	assert_int_equal(s.fields.nkeys, 0);
	/* maxReplicas follows a minReplicas above its default. */
	assert_int_equal(s.workers.max_replicas, 20);
	tw_spec_free(&s);
}

static void test_short_form_and_direct(void **state)
{
	const char *doc = "{\"name\":\"a.b-c\",\"spec\":{\"kafka\":{\"bootstrap\":\"k:1\","
	                  "\"topic\":\"t\"},\"fields\":{\"timestamp\":\"ts\"},"
	                  "\"window\":{\"size\":\"1s\"},\"dedupe\":{\"enabled\":false,"
	                  "\"horizon\":\"0s\"}}}";
	cJSON *j = cJSON_Parse(doc);
	struct tw_spec s;
	char err[256];

	(void)state;
	assert_int_equal(tw_spec_parse_document(j, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "a.b-c");
	assert_string_equal(s.namespace, "default");
	assert_false(s.dedupe.enabled);
	tw_spec_free(&s);
	assert_int_equal(
	    tw_spec_parse(cJSON_GetObjectItem(j, "spec"), "x", "", &s, err, sizeof(err)), 0);
	assert_string_equal(s.namespace, "default");
	tw_spec_free(&s);
	assert_int_equal(
	    tw_spec_parse(cJSON_GetObjectItem(j, "spec"), NULL, NULL, &s, err, sizeof(err)),
	    TW_SPEC_E_INVALID);
	assert_string_equal(err, "metadata.name: required");
	cJSON_Delete(j);
}

/* ---- every message ---------------------------------------------------- */

struct bad {
	const char *edits[7];
	const char *want; /* exact; "..." stands for any text in between */
};

static const struct bad bad_cases[] = {
    /* kafka: replicationFactor, createTopic */
    {{"spec.kafka.replicationFactor", "-1"}, "spec.kafka.replicationFactor: ..."},
    {{"spec.kafka.replicationFactor", "40000"}, "spec.kafka.replicationFactor: ..."},
    {{"spec.kafka.createTopic", "{}"}, "spec.kafka.createTopic.partitions: required"},
    {{"spec.kafka.createTopic", "{\"partitions\":0}"}, "spec.kafka.createTopic.partitions: ..."},
    {{"spec.kafka.createTopic", "{\"partitions\":2,\"replicas\":3}"}, "spec.kafka.createTopic..."},
    {{"spec.kafka.createTopic", "{\"partitions\":2,\"replicationFactor\":-2}"},
     "spec.kafka.createTopic.replicationFactor: ..."},
    /* window */
    {{"spec.window.slide", "\"45s\""},
     "spec.window.slide: 45s does not divide spec.window.size: 60s"},
    {{"spec.window.slide", "\"90s\""},
     "spec.window.slide: 90s is longer than spec.window.size: 60s"},
    {{"spec.window.slide", "\"0s\""}, "spec.window.slide: must be longer than 0s"},
    {{"spec.window.slide", "\"50ms\""},
     "spec.window.slide: 50ms puts each event in 1200 windows of spec.window.size: 60s; the most "
     "is 1024"},
    {{"spec.window.size", NULL}, "spec.window.size: required"},
    {{"spec.window.size", "\"0\""}, "spec.window.size: must be longer than 0s"},
    {{"spec.window.size", "\"abc\""},
     "spec.window.size: \"abc\" is not a duration (such as 30s, 500ms, 2m, 1h, 1m30s)"},
    {{"spec.window.size", "\"-1s\""},
     "spec.window.size: \"-1s\" is not a duration (such as 30s, 500ms, 2m, 1h, 1m30s)"},
    {{"spec.window.size", "60"}, "spec.window.size: must be a duration string such as \"30s\""},
    {{"spec.window.size", "\"10001h\""}, "spec.window.size: 10001h is longer than 10000h"},
    {{"spec.window.watermarkDelay", "\"1.5s\""},
     "spec.window.watermarkDelay: \"1.5s\" is not a duration (such as 30s, 500ms, 2m, 1h, 1m30s)"},
    {{"spec.window.allowedLateness", "true"},
     "spec.window.allowedLateness: must be a duration string such as \"30s\""},
    {{"spec.window.idleTimeout", "\"20000h\""},
     "spec.window.idleTimeout: 20000h is longer than 10000h"},
    {{"spec.window.sise", "\"1s\""}, "spec.window.sise: unknown field"},
    {{"spec.window", NULL}, "spec.window: required"},
    {{"spec.window", "\"60s\""}, "spec.window: must be an object"},
    /* kafka */
    {{"spec.kafka", NULL}, "spec.kafka: required"},
    {{"spec.kafka.bootstrap", NULL}, "spec.kafka.bootstrap: required"},
    {{"spec.kafka.bootstrap", "\"\""}, "spec.kafka.bootstrap: required"},
    {{"spec.kafka.bootstrap", "9092"}, "spec.kafka.bootstrap: must be a string"},
    {{"spec.kafka.bootstrap", "\"a:1, b:2\""},
     "spec.kafka.bootstrap: \"a:1, b:2\" has a space; separate brokers with commas"},
    {{"spec.kafka.topic", NULL}, "spec.kafka.topic: required"},
    {{"spec.kafka.topic", "\"bad topic\""},
     "spec.kafka.topic: \"bad topic\" is not a Kafka topic name (letters, digits, '.', '_', '-'; "
     "at most 249 bytes)"},
    {{"spec.kafka.topic", "\"..\""}, "spec.kafka.topic: \"..\" is not a Kafka topic name..."},
    {{"spec.kafka.deadLetterTopic", "\"telemetry\""},
     "spec.kafka.deadLetterTopic: must differ from spec.kafka.topic"},
    {{"spec.kafka.deadLetterTopic", "\"a/b\""},
     "spec.kafka.deadLetterTopic: \"a/b\" is not a Kafka topic name (letters, digits, '.', '_', "
     "'-'; at most 249 bytes)"},
    {{"spec.kafka.group", "\"gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
                          "gggggggggggggggggggggggggggggg"
                          "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"
                          "gggggggggggggggggggggggggggg"
                          "gggggggggggggggggggggggggggggggggggggggggggggggggggggggg\""},
     "spec.kafka.group: \"ggg...ggg\" is longer than 255 bytes"},
    {{"spec.kafka.brokers", "\"x\""}, "spec.kafka.brokers: unknown field"},
    /* format and csv */
    {{"spec.format", "\"xml\""}, "spec.format: \"xml\" is not one of json, csv, influx"},
    {{"spec.format", "1"}, "spec.format: must be a string"},
    {{"spec.csv", "{\"columns\":[\"ts\"]}"}, "spec.csv: only used with spec.format csv"},
    {{"spec.format", "\"csv\""}, "spec.csv.columns: required when spec.format is csv"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"columns\":[]}"},
     "spec.csv.columns: required when spec.format is csv"},
    {{"spec.format", "\"csv\"", "spec.csv", "\"ts,host\""}, "spec.csv: must be an object"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"columns\":[\"ts\",\"host\",\"temp\"]}"},
     "spec.fields.values[1]: \"load\" is not in spec.csv.columns"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"columns\":[\"ts\",\"temp\",\"load\"]}"},
     "spec.fields.keys[0]: \"host\" is not in spec.csv.columns"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"columns\":[\"host\",\"temp\",\"load\"]}"},
     "spec.fields.timestamp: \"ts\" is not in spec.csv.columns"},
    {{"spec.format", "\"csv\"", "spec.csv",
      "{\"columns\":[\"ts\",\"host\",\"temp\",\"load\"],\"delimiter\":\";;\"}"},
     "spec.csv.delimiter: must be one character"},
    {{"spec.format", "\"csv\"", "spec.csv",
      "{\"columns\":[\"ts\",\"host\",\"temp\",\"load\"],\"delimiter\":\"\\\"\"}"},
     "spec.csv.delimiter: a quote, CR or LF cannot be the delimiter"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"columns\":[\"ts\",1]}"},
     "spec.csv.columns[1]: must be a string"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"columns\":[\"ts\",\"ts\"]}"},
     "spec.csv.columns[1]: \"ts\" repeats spec.csv.columns[0]"},
    {{"spec.format", "\"csv\"", "spec.csv", "{\"cols\":[\"ts\"]}"}, "spec.csv.cols: unknown field"},
    /* fields */
    {{"spec.fields", NULL}, "spec.fields: required"},
    {{"spec.fields.timestamp", NULL}, "spec.fields.timestamp: required"},
    {{"spec.fields.timestamp", "[\"ts\"]"}, "spec.fields.timestamp: must be a string"},
    {{"spec.fields.keys", "\"host\""}, "spec.fields.keys: must be a list of strings"},
    {{"spec.fields.keys", "[\"\"]"}, "spec.fields.keys[0]: must not be empty"},
    {{"spec.fields.keys", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]"},
     "spec.fields.keys: 9 entries, the most is 8"},
    {{"spec.fields.values", "[\"temp\",\"temp\"]"},
     "spec.fields.values[1]: \"temp\" repeats spec.fields.values[0]"},
    {{"spec.fields.values",
      "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\","
      "\"15\",\"16\",\"17\"]"},
     "spec.fields.values: 17 entries, the most is 16"},
    {{"spec.fields.values", "[\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                            "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                            "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                            "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                            "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"]"},
     "spec.fields.values[0]: longer than 255 bytes"},
    {{"spec.fields.timestampFormat", "\"iso\""},
     "spec.fields.timestampFormat: \"iso\" is not rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns "
     "or a strptime pattern (with '%')"},
    {{"spec.fields.timestampFormat", "\"strptime\""},
     "spec.fields.timestampFormat: give the strptime pattern itself, such as \"%Y-%m-%d "
     "%H:%M:%S\""},
    {{"spec.fields.timestampFormat", "\"%H:%M\""}, "spec.fields.timestampFormat: \"%H:%M\": ..."},
    {{"spec.fields.timestampFormat", "5"}, "spec.fields.timestampFormat: must be a string"},
    {{"spec.fields.tags", "[]"}, "spec.fields.tags: unknown field"},
    {{"spec.fields.timestamp", "\"a..b\""}, "spec.fields: field \"a..b\": empty JSON path segment"},
    {{"spec.format", "\"influx\""},
     "spec.fields.timestamp: with spec.format influx the line's own timestamp is the event time: "
     "leave it out or write \"_time\""},
    {{"spec.format", "\"influx\"", "spec.fields.timestamp", NULL, "spec.fields.timestampFormat",
      "\"rfc3339\""},
     "spec.fields.timestampFormat: with spec.format influx only epoch_s, epoch_ms, epoch_us or "
     "epoch_ns (the lines' precision)"},
    {{"spec.format", "\"influx\"", "spec.fields.timestamp", NULL, "spec.fields.timestampFormat",
      "\"%s\""},
     "spec.fields.timestampFormat: with spec.format influx only epoch_s, epoch_ms, epoch_us or "
     "epoch_ns (the lines' precision)"},
    /* dedupe */
    {{"spec.dedupe", "[]"}, "spec.dedupe: must be an object"},
    {{"spec.dedupe.enabled", "\"yes\""}, "spec.dedupe.enabled: must be true or false"},
    {{"spec.dedupe.horizon", "\"0s\""}, "spec.dedupe.horizon: must be longer than 0s"},
    {{"spec.dedupe.maxEntries", "0"}, "spec.dedupe.maxEntries: 0 is out of range 1..1073741824"},
    {{"spec.dedupe.maxEntries", "1.5"}, "spec.dedupe.maxEntries: 1.5 is not an integer"},
    {{"spec.dedupe.maxEntries", "\"10\""}, "spec.dedupe.maxEntries: must be an integer"},
    {{"spec.dedupe.keys", "[]"}, "spec.dedupe.keys: unknown field"},
    /* aggregations */
    {{"spec.aggregations", "\"count\""}, "spec.aggregations: must be a list of strings"},
    {{"spec.aggregations", "[]"}, "spec.aggregations: must not be empty (leave it out for all)"},
    {{"spec.aggregations", "[\"count\",\"median\"]"},
     "spec.aggregations[1]: \"median\" is not one of count, sum, min, max, mean, p50, p95, p99"},
    {{"spec.aggregations", "[\"sum\",\"sum\"]"}, "spec.aggregations[1]: \"sum\" is listed twice"},
    {{"spec.aggregations", "[1]"}, "spec.aggregations[0]: must be a string"},
    /* sinks */
    {{"spec.sinks", "\"influx\""}, "spec.sinks: must be an object"},
    {{"spec.sinks.kafka", "{}"}, "spec.sinks.kafka: unknown field"},
    {{"spec.sinks.influxdb", "{\"database\":\"d\"}"}, "spec.sinks.influxdb.url: required"},
    {{"spec.sinks.influxdb", "{\"url\":\"ftp://x\",\"database\":\"d\"}"},
     "spec.sinks.influxdb.url: \"ftp://x\" is not http(s)://host[:port] without credentials (use "
     "token)"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\"}"}, "spec.sinks.influxdb.database: required"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\",\"database\":\"d\",\"api\":\"v3\"}"},
     "spec.sinks.influxdb.api: \"v3\" is not one of v1, v2"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\",\"database\":\"d\",\"api\":2}"},
     "spec.sinks.influxdb.api: must be a string"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\",\"database\":\"d\",\"api\":\"v2\"}"},
     "spec.sinks.influxdb.token: required when spec.sinks.influxdb.api is v2"},
    {{"spec.sinks.influxdb",
      "{\"url\":\"http://x\",\"database\":\"d\",\"raw\":false,\"windows\":false}"},
     "spec.sinks.influxdb: raw and windows are both false: nothing to write"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\",\"database\":\"d\",\"raw\":1}"},
     "spec.sinks.influxdb.raw: must be true or false"},
    {{"spec.sinks.influxdb",
      "{\"url\":\"http://x\",\"database\":\"d\",\"token\":{\"name\":\"s\"}}"},
     "spec.sinks.influxdb.token.key: required"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\",\"database\":\"d\",\"token\":\"abc\"}"},
     "spec.sinks.influxdb.token: must be a Secret reference {name, key}"},
    {{"spec.sinks.influxdb",
      "{\"url\":\"http://"
      "x\",\"database\":\"d\",\"token\":{\"name\":\"s\",\"key\":\"k\",\"value\":\"v\"}}"},
     "spec.sinks.influxdb.token.value: unknown field"},
    {{"spec.sinks.influxdb", "{\"url\":\"http://x\",\"database\":\"d\",\"password\":\"p\"}"},
     "spec.sinks.influxdb.password: unknown field"},
    {{"spec.sinks.postgres", "{}"},
     "spec.sinks.postgres.dsn: required (a Secret reference {name, key})"},
    {{"spec.sinks.postgres", "{\"dsn\":\"postgres://u:p@h/db\"}"},
     "spec.sinks.postgres.dsn: must be a Secret reference {name, key}"},
    {{"spec.sinks.postgres", "{\"dsn\":{\"name\":\"p\",\"key\":\"k\"},\"table\":\"Rows\"}"},
     "spec.sinks.postgres.table: \"Rows\" is not a lower-case SQL identifier ([a-z_][a-z0-9_]*, at "
     "most 63 bytes)"},
    {{"spec.sinks.postgres", "{\"dsn\":{\"name\":\"p\",\"key\":\"k\"},\"table\":\"1rows\"}"},
     "spec.sinks.postgres.table: \"1rows\" is not a lower-case SQL identifier..."},
    {{"spec.sinks.postgres", "{\"dsn\":{\"name\":\"p\",\"key\":\"k\"},\"tls\":{}}"},
     "spec.sinks.postgres.tls.ca: required (a Secret reference {name, key} to the CA's PEM)"},
    {{"spec.sinks.postgres",
      "{\"dsn\":{\"name\":\"p\",\"key\":\"k\"},\"tls\":{\"ca\":{\"name\":\"c\",\"key\":\"k\"},"
      "\"sslmode\":\"require\"}}"},
     "spec.sinks.postgres.tls.sslmode: unknown field"},
    {{"spec.sinks.redis", "{}"}, "spec.sinks.redis.addr: required"},
    {{"spec.sinks.redis", "{\"addr\":\"localhost\"}"},
     "spec.sinks.redis.addr: \"localhost\" is not host:port"},
    {{"spec.sinks.redis", "{\"addr\":\"h:0\"}"}, "spec.sinks.redis.addr: \"h:0\" is not host:port"},
    {{"spec.sinks.redis", "{\"addr\":\"h:6379\",\"ttl\":\"500ms\"}"},
     "spec.sinks.redis.ttl: 500ms is shorter than 1s (Redis expires in whole seconds)"},
    {{"spec.sinks.redis", "{\"addr\":\"h:6379\",\"db\":1}"}, "spec.sinks.redis.db: unknown field"},
    {{"spec.sinks.redis", "{\"addr\":\"h:6379\",\"username\":\"u\"}"},
     "spec.sinks.redis.username: needs spec.sinks.redis.password (a Secret reference {name, "
     "key})"},
    {{"spec.sinks.redis", "{\"addr\":\"h:6379\",\"username\":\"a b\","
                          "\"password\":{\"name\":\"s\",\"key\":\"k\"}}"},
     "spec.sinks.redis.username: \"a b\" has a blank"},
    {{"spec.sinks.redis", "{\"addr\":\"h:6379\",\"password\":\"hunter2\"}"},
     "spec.sinks.redis.password: must be a Secret reference {name, key}"},
    /* retention, workers */
    {{"spec.retention.maxRowsPerKey", "-1"},
     "spec.retention.maxRowsPerKey: -1 is out of range 0..1000000000"},
    {{"spec.retention.maxAge", "\"forever\""},
     "spec.retention.maxAge: \"forever\" is not a duration (such as 30s, 500ms, 2m, 1h, 1m30s)"},
    {{"spec.retention.rows", "1"}, "spec.retention.rows: unknown field"},
    {{"spec.workers", "{\"minReplicas\":3,\"maxReplicas\":2}"},
     "spec.workers.maxReplicas: 2 is below spec.workers.minReplicas: 3"},
    {{"spec.workers.lagThreshold", "0"},
     "spec.workers.lagThreshold: 0 is out of range 1..1000000000000"},
    {{"spec.workers.minReplicas", "1001"},
     "spec.workers.minReplicas: 1001 is out of range 0..1000"},
    {{"spec.workers.maxReplicas", "0"}, "spec.workers.maxReplicas: 0 is out of range 1..1000"},
    {{"spec.workers.img", "\"x\""}, "spec.workers.img: unknown field"},
    {{"spec.workers.image", "\"reg/w: 1\""}, "spec.workers.image: \"reg/w: 1\" has white space"},
    {{"spec.workers.image", "1"}, "spec.workers.image: must be a string"},
    {{"spec.workers.imagePullPolicy", "\"always\""},
     "spec.workers.imagePullPolicy: \"always\" is not one of Always, IfNotPresent, Never"},
    {{"spec.workers.activationLagThreshold", "-1"},
     "spec.workers.activationLagThreshold: -1 is out of range 0..1000000000000"},
    {{"spec.workers.resources", "[]"}, "spec.workers.resources: must be an object"},
    {{"spec.workers.resources", "{\"request\":{}}"},
     "spec.workers.resources.request: unknown field"},
    {{"spec.workers.resources", "{\"requests\":\"1\"}"},
     "spec.workers.resources.requests: must be a map of resource names to quantities"},
    {{"spec.workers.resources", "{\"limits\":{\"memory\":\"64MB\"}}"},
     "spec.workers.resources.limits.memory: \"64MB\" is not a quantity (such as 500m, 64Mi, 2)"},
    {{"spec.workers.resources", "{\"limits\":{\"cpu\":0.5}}"},
     "spec.workers.resources.limits.cpu: 0.5 is not a quantity"},
    {{"spec.workers.resources", "{\"limits\":{\"cpu\":true}}"},
     "spec.workers.resources.limits.cpu: must be a quantity (a string or an integer)"},
    {{"spec.workers.resources", "{\"limits\":{\"c pu\":\"1\"}}"},
     "spec.workers.resources.limits: \"c pu\" is not a resource name"},
    {{"spec.workers.resources",
      "{\"requests\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
      "\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,\"q\":1}}"},
     "spec.workers.resources.requests: more than 16 resources"},
    /* envelope */
    {{"spec.extra", "1"}, "spec.extra: unknown field"},
    {{"spec", NULL}, "spec: required"},
    {{"spec", "[]"}, "spec: must be an object"},
    {{"kind", "\"VideoJob\""}, "kind: \"VideoJob\" is not TelemetryWindow"},
    {{"kind", "1"}, "kind: must be a string"},
    {{"metadata", "\"x\""}, "metadata: must be an object"},
    {{"metadata.name", NULL}, "metadata.name: required"},
    {{"metadata.name", "5"}, "metadata.name: must be a string"},
    {{"metadata.namespace", "5"}, "metadata.namespace: must be a string"},
    {{"metadata.name", "\"Bad_Name\""},
     "metadata.name: \"Bad_Name\" is not a lower-case DNS name (a-z, 0-9, '-', '.'; at most 253 "
     "bytes)"},
    {{"metadata.name", "\"-x\""}, "metadata.name: \"-x\" is not a lower-case DNS name..."},
    {{"metadata.namespace", "\"a.b\""},
     "metadata.namespace: \"a.b\" is not a lower-case DNS label (a-z, 0-9, '-'; at most 63 bytes)"},
    {{"extra", "{}"}, "extra: unknown field"},
    {{"metadata", NULL}, "name: required"},
};

static void test_every_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		struct tw_spec s;
		char err[512] = "";
		const char *dots = strstr(b->want, "...");
		int rc = parse_with(&s, err, sizeof(err), b->edits);

		if (rc != TW_SPEC_E_INVALID)
			fail_msg("case %zu (%s): rc %d, want %s", i, b->edits[0], rc, b->want);
		if (dots != NULL) {
			size_t head = (size_t)(dots - b->want), tail = strlen(dots + 3);

			if (strncmp(err, b->want, head) != 0 || strlen(err) < head + tail ||
			    strcmp(err + strlen(err) - tail, dots + 3) != 0)
				fail_msg("case %zu:\n got  %s\n want %s", i, err, b->want);
		} else if (strcmp(err, b->want) != 0) {
			fail_msg("case %zu:\n got  %s\n want %s", i, err, b->want);
		}
		/* Nothing to free on failure; a second free is harmless anyway. */
		tw_spec_free(&s);
	}
}

/* The apimachinery quantity grammar, as the CRD's pattern states it. */
static void test_quantities(void **state)
{
	static const char *const good[] = {"1",   "0",    "+1",   "-1",     "500m",     "0.5", ".5",
	                                   "1.",  "64Mi", "1Gi",  "2Ei",    "1k",       "1n",  "3u",
	                                   "1e3", "1E+3", "1e-3", "1.5e.5", "128974848"};
	static const char *const bad[] = {"",     "m",  "Mi",  "1MB", "1mi",  "1 Mi",
	                                  "1Ki ", "1e", "1e+", ".",   "1..2", "--1",
	                                  "0x10", "1K", "1iB", "e3",  "1.5.5"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!spec_quantity_ok(good[i]))
			fail_msg("\"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (spec_quantity_ok(bad[i]))
			fail_msg("\"%s\" taken", bad[i]);
}

static void test_dead_letter_default_too_long(void **state)
{
	char topic[260], edit[270];
	const char *edits[] = {"spec.kafka.topic", edit, NULL};
	struct tw_spec s;
	char err[512];

	(void)state;
	memset(topic, 't', 249);
	topic[249] = '\0';
	snprintf(edit, sizeof(edit), "\"%s\"", topic);
	assert_int_equal(parse_with(&s, err, sizeof(err), edits), TW_SPEC_E_INVALID);
	assert_non_null(strstr(err, ".dlq\" is not a Kafka topic name"));
	assert_true(strncmp(err, "spec.kafka.deadLetterTopic: \"ttt", 32) == 0);
}

static void test_repeated_member(void **state)
{
	const char *doc =
	    "{\"name\":\"x\",\"spec\":{\"kafka\":{\"bootstrap\":\"k:1\",\"topic\":\"t\"},"
	    "\"fields\":{\"timestamp\":\"ts\"},"
	    "\"window\":{\"size\":\"1s\",\"size\":\"2s\"}}}";
	cJSON *j = cJSON_Parse(doc);
	struct tw_spec s;
	char err[256];

	(void)state;
	assert_int_equal(tw_spec_parse_document(j, &s, err, sizeof(err)), TW_SPEC_E_INVALID);
	assert_string_equal(err, "spec.window.size: given twice");
	cJSON_Delete(j);
	j = cJSON_Parse("[1]");
	assert_int_equal(tw_spec_parse_document(j, &s, err, sizeof(err)), TW_SPEC_E_INVALID);
	assert_string_equal(err, "document: must be an object (a TelemetryWindow)");
	cJSON_Delete(j);
}

/* ---- files ---------------------------------------------------------- */

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/test_tw_spec.XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static void test_load_yaml_file(void **state)
{
	const char *yaml = "# a TelemetryWindow, as kubectl would take it\n"
	                   "apiVersion: sluice.dev/v1alpha1\n"
	                   "kind: TelemetryWindow\n"
	                   "metadata:\n"
	                   "  name: sensors\n"
	                   "  namespace: lab\n"
	                   "spec:\n"
	                   "  kafka: {bootstrap: \"127.0.0.1:9092\", topic: telemetry}\n"
	                   "  format: json\n"
	                   "  fields:\n"
	                   "    timestamp: ts\n"
	                   "    timestampFormat: epoch_ms\n"
	                   "    keys: [host, dc]\n"
	                   "    values:\n"
	                   "      - temp\n"
	                   "  window:\n"
	                   "    size: 30s\n"
	                   "    slide: 10s\n"
	                   "    watermarkDelay: 10s\n"
	                   "  aggregations: [count, mean, p95]\n"
	                   "  sinks:\n"
	                   "    redis:\n"
	                   "      addr: 127.0.0.1:6379\n"
	                   "      ttl: 1h\n"
	                   "  retention:\n"
	                   "    maxRowsPerKey: 500\n";
	char *path = write_temp(yaml);
	struct tw_spec s;
	char err[512];

	(void)state;
	assert_int_equal(tw_spec_load_file(path, &s, err, sizeof(err)), 0);
	assert_string_equal(s.namespace, "lab");
	assert_int_equal(s.fields.timestamp_kind, TW_TIME_EPOCH_MS);
	assert_int_equal(s.fields.nkeys, 2);
	assert_int_equal(s.window.size_ns, 30 * S);
	assert_int_equal(s.window.slide_ns, 10 * S);
	assert_int_equal(s.aggregations, TW_AGG_COUNT | TW_AGG_MEAN | TW_AGG_P95);
	assert_string_equal(s.sinks.redis.addr, "127.0.0.1:6379");
	assert_int_equal(s.retention.max_rows_per_key, 500);
	tw_spec_free(&s);
	unlink(path);
	free(path);
}

static void test_load_json_file_and_errors(void **state)
{
	char *json = write_temp(base_doc);
	char *bad_json = write_temp("{\"spec\": ");
	char *bad_yaml = write_temp("spec:\n  window: [\n");
	char *bad_spec =
	    write_temp("name: x\nspec:\n  kafka: {bootstrap: k, topic: t}\n"
	               "  fields: {timestamp: ts}\n  window: {size: 60s, slide: 45s}\n");
	char *empty = write_temp("");
	struct tw_spec s;
	char err[512], want[512];

	(void)state;
	assert_int_equal(tw_spec_load_file(json, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "sensors");
	tw_spec_free(&s);

	assert_int_equal(tw_spec_load_file(bad_json, &s, err, sizeof(err)), TW_SPEC_E_INVALID);
	snprintf(want, sizeof(want), "%s: not valid JSON near byte 8", bad_json);
	assert_string_equal(err, want);

	assert_int_equal(tw_spec_load_file(bad_yaml, &s, err, sizeof(err)), TW_SPEC_E_INVALID);
	snprintf(want, sizeof(want), "%s: yaml: line ", bad_yaml);
	assert_true(strncmp(err, want, strlen(want)) == 0);

	assert_int_equal(tw_spec_load_file(bad_spec, &s, err, sizeof(err)), TW_SPEC_E_INVALID);
	snprintf(want, sizeof(want),
	         "%s: spec.window.slide: 45s does not divide spec.window.size: 60s", bad_spec);
	assert_string_equal(err, want);

	assert_int_equal(tw_spec_load_file(empty, &s, err, sizeof(err)), TW_SPEC_E_INVALID);
	snprintf(want, sizeof(want), "%s: yaml: the file holds no document", empty);
	assert_string_equal(err, want);

	assert_int_equal(tw_spec_load_file("/nonexistent/tw.yaml", &s, err, sizeof(err)),
	                 TW_SPEC_E_IO);
	assert_string_equal(err, "/nonexistent/tw.yaml: No such file or directory");

	unlink(json);
	unlink(bad_json);
	unlink(bad_yaml);
	unlink(bad_spec);
	unlink(empty);
	free(json);
	free(bad_json);
	free(bad_yaml);
	free(bad_spec);
	free(empty);
}

static void test_file_too_large(void **state)
{
	char *path = strdup("/tmp/test_tw_spec.XXXXXX");
	int fd = mkstemp(path);
	struct tw_spec s;
	char err[512], want[512];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, TW_SPEC_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(tw_spec_load_file(path, &s, err, sizeof(err)), TW_SPEC_E_IO);
	snprintf(want, sizeof(want), "%s: larger than %d bytes", path, TW_SPEC_FILE_MAX);
	assert_string_equal(err, want);
	unlink(path);
	free(path);
}

/* ---- to the core and the parser ------------------------------------- */

static void test_core_config_and_parser_spec(void **state)
{
	static const char *const edits[] = {
	    "spec.window",
	    "{\"size\":\"1m\",\"slide\":\"20s\",\"watermarkDelay\":\"5s\","
	    "\"allowedLateness\":\"1s\",\"idleTimeout\":\"45s\"}",
	    "spec.aggregations", "[\"count\",\"p50\"]", NULL};
	struct tw_core_config cfg;
	struct tw_parser_spec ps;
	struct tw_spec s;
	char err[256];

	(void)state;
	assert_int_equal(parse_with(&s, err, sizeof(err), edits), 0);
	assert_int_equal(tw_core_config_from_spec(&s, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.window.size_ns, 60 * S);
	assert_int_equal(cfg.window.slide_ns, 20 * S);
	assert_int_equal(cfg.window.delay_ns, 5 * S);
	assert_int_equal(cfg.window.lateness_ns, 1 * S);
	assert_int_equal(cfg.window.idle_timeout_ms, 45000);
	assert_int_equal(cfg.window.agg.nvalues, 2);
	assert_int_equal(cfg.window.agg.kinds, TW_AGG_COUNT | TW_AGG_P50);
	assert_true(cfg.dedupe_enabled);
	assert_int_equal(cfg.dedupe.horizon_ns, 65 * S);

	tw_spec_parser_spec(&s, &ps);
	assert_int_equal(ps.format, TW_FORMAT_JSON);
	assert_string_equal(ps.ts_field, "ts");
	assert_int_equal(ps.ts_kind, TW_TIME_RFC3339);
	assert_int_equal(ps.n_key_fields, 1);
	assert_string_equal(ps.key_fields[0], "host");
	assert_int_equal(ps.n_value_fields, 2);
	assert_string_equal(ps.value_fields[1], "load");
	tw_spec_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_spec),
	    cmocka_unit_test(test_quantities),
	    cmocka_unit_test(test_sink_defaults_and_influx_format),
	    cmocka_unit_test(test_short_form_and_direct),
	    cmocka_unit_test(test_every_message),
	    cmocka_unit_test(test_dead_letter_default_too_long),
	    cmocka_unit_test(test_repeated_member),
	    cmocka_unit_test(test_load_yaml_file),
	    cmocka_unit_test(test_load_json_file_and_errors),
	    cmocka_unit_test(test_file_too_large),
	    cmocka_unit_test(test_core_config_and_parser_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
