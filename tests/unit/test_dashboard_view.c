/* Unit tests for dashboard/dash_view.c: list rows and details of each kind
 * from objects as the API server holds them, the workers' sample, and the
 * effective spec (the operator's defaults where a resource names none). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dash_view.h"

static char *row_text(enum dash_kind k, const char *json)
{
	cJSON *obj = cJSON_Parse(json);
	cJSON *row;
	char *text;

	assert_non_null(obj);
	row = dash_view_row(k, obj);
	assert_non_null(row);
	text = cJSON_PrintUnformatted(row);
	cJSON_Delete(row);
	cJSON_Delete(obj);
	return text;
}

static void expect_row(enum dash_kind k, const char *json, const char *want)
{
	char *text = row_text(k, json);

	assert_string_equal(text, want);
	free(text);
}

static void test_videojob(void **state)
{
	(void)state;
	expect_row(
	    DASH_VJ,
	    "{\"metadata\":{\"name\":\"clip\",\"namespace\":\"media\","
	    "\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{"
	    "\"sluice.dev/videowatch\":\"cam\"}},"
	    "\"spec\":{\"source\":{\"uri\":\"file:///in/a.mp4\"},\"output\":{\"uri\":"
	    "\"file:///out/a.mp4\"}},"
	    "\"status\":{\"phase\":\"Processing\",\"progress\":\"33%\",\"segmentsDone\":1,"
	    "\"segmentsTotal\":3,\"framesDone\":48,\"framesTotal\":144,\"lag\":2,"
	    "\"replicas\":2,\"desiredReplicas\":3,\"startTime\":\"2026-01-01T00:00:01Z\","
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":"
	    "\"Processing\",\"message\":\"1/3\"},{\"type\":\"Failed\",\"status\":"
	    "\"False\",\"reason\":\"NotFailed\",\"message\":\"\"}]}}",
	    "{\"namespace\":\"media\",\"name\":\"clip\",\"created\":\"2026-01-01T00:00:00Z\","
	    "\"phase\":\"Processing\",\"ready\":{\"status\":\"True\",\"reason\":"
	    "\"Processing\",\"message\":\"1/3\"},\"segmentsDone\":1,\"segmentsTotal\":3,"
	    "\"framesDone\":48,\"framesTotal\":144,\"lag\":2,\"replicas\":2,"
	    "\"desiredReplicas\":3,\"progress\":\"33%\",\"source\":\"file:///in/a.mp4\","
	    "\"output\":\"file:///out/a.mp4\",\"startTime\":\"2026-01-01T00:00:01Z\","
	    "\"videoWatch\":\"cam\",\"percent\":33}");
	/* Failed: the Failed condition's message; nothing yet: only names. */
	expect_row(DASH_VJ,
	           "{\"metadata\":{\"name\":\"x\",\"namespace\":\"n\"},\"status\":{\"phase\":"
	           "\"Failed\",\"segmentsDone\":3,\"segmentsTotal\":3,\"conditions\":[{\"type\":"
	           "\"Failed\",\"status\":\"True\",\"reason\":\"SplitFailed\",\"message\":"
	           "\"no video stream\"}]}}",
	           "{\"namespace\":\"n\",\"name\":\"x\",\"phase\":\"Failed\",\"segmentsDone\":3,"
	           "\"segmentsTotal\":3,\"percent\":100,\"failed\":\"no video stream\"}");
	expect_row(DASH_VJ, "{\"metadata\":{\"name\":\"x\",\"namespace\":\"n\"}}",
	           "{\"namespace\":\"n\",\"name\":\"x\"}");
	/* A succeeded job with no segment counts is done all the same. */
	expect_row(DASH_VJ,
	           "{\"metadata\":{\"name\":\"x\",\"namespace\":\"n\"},\"status\":{\"phase\":"
	           "\"Succeeded\",\"segmentsTotal\":0}}",
	           "{\"namespace\":\"n\",\"name\":\"x\",\"phase\":\"Succeeded\","
	           "\"segmentsTotal\":0,\"percent\":100}");
}

static void test_telemetrywindow(void **state)
{
	(void)state;
	expect_row(DASH_TW,
	           "{\"metadata\":{\"name\":\"sensors\",\"namespace\":\"prod\"},\"spec\":{"
	           "\"kafka\":{\"topic\":\"t\"},\"window\":{\"size\":\"1m\"},\"sinks\":{"
	           "\"redis\":{\"addr\":\"r:6379\"},\"postgres\":{\"dsn\":{\"name\":\"pg\","
	           "\"key\":\"dsn\"}}}},\"status\":{\"phase\":\"Running\",\"lag\":12,"
	           "\"replicas\":1,\"eventsProcessed\":1000,\"duplicates\":2,\"late\":3,"
	           "\"malformed\":4,\"windowsEmitted\":5,\"lastWatermark\":"
	           "\"2026-01-01T00:00:00Z\"}}",
	           "{\"namespace\":\"prod\",\"name\":\"sensors\",\"phase\":\"Running\",\"lag\":12,"
	           "\"replicas\":1,\"eventsProcessed\":1000,\"duplicates\":2,\"late\":3,"
	           "\"malformed\":4,\"windowsEmitted\":5,\"lastWatermark\":"
	           "\"2026-01-01T00:00:00Z\",\"topic\":\"t\",\"windowSize\":\"1m\",\"format\":"
	           "\"json\",\"sinks\":[\"postgres\",\"redis\"]}");
	expect_row(DASH_TW,
	           "{\"metadata\":{\"name\":\"s\",\"namespace\":\"p\"},\"spec\":{\"format\":"
	           "\"csv\"}}",
	           "{\"namespace\":\"p\",\"name\":\"s\",\"format\":\"csv\",\"sinks\":[]}");
}

static void test_videowatch(void **state)
{
	(void)state;
	expect_row(DASH_VW,
	           "{\"metadata\":{\"name\":\"cam\",\"namespace\":\"media\"},\"spec\":{"
	           "\"directory\":\"in\",\"glob\":\"*.mp4\",\"upload\":{\"token\":{\"name\":\"t\","
	           "\"key\":\"k\"}}},\"status\":{\"active\":1,\"succeeded\":2,\"failed\":0,"
	           "\"watcher\":{\"filesSeen\":3,\"jobsCreated\":3,\"filesRejected\":0,"
	           "\"lastFile\":\"c.mp4\",\"lastJob\":\"cam-c-1\",\"folderError\":\"\","
	           "\"uploadURL\":\"http://10.0.0.7:8080/uploads\"}}}",
	           "{\"namespace\":\"media\",\"name\":\"cam\",\"active\":1,\"succeeded\":2,"
	           "\"failed\":0,\"directory\":\"in\",\"glob\":\"*.mp4\",\"upload\":true,"
	           "\"filesSeen\":3,\"jobsCreated\":3,\"filesRejected\":0,\"lastFile\":\"c.mp4\","
	           "\"lastJob\":\"cam-c-1\",\"folderError\":\"\",\"uploadURL\":"
	           "\"http://10.0.0.7:8080/uploads\"}");
	expect_row(DASH_VW, "{\"metadata\":{\"name\":\"w\",\"namespace\":\"n\"}}",
	           "{\"namespace\":\"n\",\"name\":\"w\",\"upload\":false}");
}

static void test_detail_and_sample(void **state)
{
	cJSON *obj = cJSON_Parse(
	    "{\"metadata\":{\"name\":\"s\",\"namespace\":\"p\",\"labels\":{\"a\":\"b\"}},"
	    "\"spec\":{\"kafka\":{\"topic\":\"t\"}},\"status\":{\"replicas\":2,\"lag\":7,"
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":"
	    "\"TopicNotFound\",\"message\":\"no topic t\"}]}}");
	cJSON *d = dash_view_detail(DASH_TW, obj);
	struct dash_sample s = {.t_ms = 5};

	(void)state;
	assert_non_null(d);
	assert_string_equal(dash_json_str(d, "kind"), "TelemetryWindow");
	assert_string_equal(dash_json_str(d, "ready.reason"), "TopicNotFound");
	assert_string_equal(dash_json_str(d, "spec.kafka.topic"), "t");
	assert_string_equal(dash_json_str(d, "labels.a"), "b");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "conditions")), 1);
	assert_null(cJSON_GetObjectItem(d, "annotations"));
	cJSON_Delete(d);
	dash_view_sample(obj, &s);
	assert_int_equal(s.t_ms, 5);
	assert_int_equal(s.replicas, 2);
	assert_int_equal(s.desired, -1);
	assert_int_equal(s.lag, 7);
	cJSON_Delete(obj);
	assert_string_equal(dash_kind_plural(DASH_VW), "videowatches");
	assert_string_equal(dash_kind_name(DASH_KINDS), "unknown");
	assert_true(dash_json_num(NULL, "a", -3) == -3);
	assert_null(dash_json_str(NULL, "a.b"));
}

static char *effective(const char *spec, const struct dash_defaults *d)
{
	cJSON *s = spec != NULL ? cJSON_Parse(spec) : NULL;
	cJSON *e = dash_view_effective_spec(s, d);
	char *text;

	assert_non_null(e);
	text = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
	cJSON_Delete(s);
	return text;
}

static void test_effective_spec(void **state)
{
	struct dash_defaults none = {0};
	struct dash_defaults d = {
	    .kafka_bootstrap = "k:9092", .redis_addr = "r:6379", .postgres_secret = "pg"};
	char *t;

	(void)state;
	t = effective("{\"kafka\":{\"topic\":\"t\"}}", &none);
	assert_string_equal(t, "{\"kafka\":{\"topic\":\"t\"}}");
	free(t);
	t = effective("{\"kafka\":{\"topic\":\"t\"}}", &d);
	assert_string_equal(t, "{\"kafka\":{\"topic\":\"t\",\"bootstrap\":\"k:9092\"},\"sinks\":{"
	                       "\"redis\":{\"addr\":\"r:6379\"},\"postgres\":{\"dsn\":{\"name\":"
	                       "\"pg\",\"key\":\"dsn\"}}}}");
	free(t);
	/* What the resource names is kept as written. */
	t = effective("{\"kafka\":{\"bootstrap\":\"mine:1\"},\"sinks\":{\"redis\":{\"addr\":"
	              "\"mine:2\",\"prefix\":\"p:\"},\"postgres\":{\"dsn\":{\"name\":\"x\","
	              "\"key\":\"y\"}}}}",
	              &d);
	assert_string_equal(t, "{\"kafka\":{\"bootstrap\":\"mine:1\"},\"sinks\":{\"redis\":{"
	                       "\"addr\":\"mine:2\",\"prefix\":\"p:\"},\"postgres\":{\"dsn\":{"
	                       "\"name\":\"x\",\"key\":\"y\"}}}}");
	free(t);
	/* No spec at all: the defaults alone. */
	t = effective(NULL, &(struct dash_defaults){.redis_addr = "r:1"});
	assert_string_equal(t, "{\"sinks\":{\"redis\":{\"addr\":\"r:1\"}}}");
	free(t);
	/* A sinks of the wrong type is left for the parser to name. */
	t = effective("{\"sinks\":3}", &d);
	assert_string_equal(t, "{\"sinks\":3,\"kafka\":{\"bootstrap\":\"k:9092\"}}");
	free(t);
	/* The operator's default cluster's security, by the same rule: only
	 * where the resource names no bootstrap, tls or sasl. */
	d.kafka_security = (struct spec_kafka_defaults){.tls = 1};
	t = effective("{\"kafka\":{\"topic\":\"t\"}}", &d);
	assert_non_null(
	    strstr(t, "\"kafka\":{\"topic\":\"t\",\"bootstrap\":\"k:9092\",\"tls\":{}}"));
	free(t);
	t = effective("{\"kafka\":{\"bootstrap\":\"mine:1\"}}", &d);
	assert_null(strstr(t, "tls"));
	free(t);
}

/* Who the dashboard AUTHs as on a TelemetryWindow's Redis sink. */
static void test_redis_auth(void **state)
{
	static const struct {
		const char *spec;
		int has_password;
		enum dash_redis_auth want;
	} cases[] = {
	    /* no sink of its own: the default one, the status Redis */
	    {"{}", 0, DASH_REDIS_AUTH_STATUS},
	    {"{\"sinks\":{}}", 0, DASH_REDIS_AUTH_STATUS},
	    {"{\"sinks\":{\"postgres\":{}}}", 0, DASH_REDIS_AUTH_STATUS},
	    {"null", 0, DASH_REDIS_AUTH_STATUS},
	    /* its own: its password Secret, or none */
	    {"{\"sinks\":{\"redis\":{\"addr\":\"r:6379\"}}}", 0, DASH_REDIS_AUTH_NONE},
	    {"{\"sinks\":{\"redis\":{\"addr\":\"r:6379\",\"password\":{\"name\":\"r\","
	     "\"key\":\"p\"}}}}",
	     1, DASH_REDIS_AUTH_SECRET},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *spec = cJSON_Parse(cases[i].spec);
		if (dash_view_redis_auth(spec, cases[i].has_password) != cases[i].want)
			fail_msg("case %zu (%s)", i, cases[i].spec);
		cJSON_Delete(spec);
	}
	assert_int_equal(dash_view_redis_auth(NULL, 0), DASH_REDIS_AUTH_STATUS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_videojob),       cmocka_unit_test(test_telemetrywindow),
	    cmocka_unit_test(test_videowatch),     cmocka_unit_test(test_detail_and_sample),
	    cmocka_unit_test(test_effective_spec), cmocka_unit_test(test_redis_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
