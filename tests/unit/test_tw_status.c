/* Unit tests for workers/telemetry/tw_status.c: the telemetry worker's
 * GET /status state from a published snapshot and the sinks' health. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tw_status.h"
#include "tw_window.h"

static cJSON *state(struct tw_status *s, int64_t now_ms)
{
	char *text = tw_status_json(s, now_ms);
	assert_non_null(text);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	free(text);
	return o;
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);
	assert_true(cJSON_IsNumber(v));
	return cJSON_GetNumberValue(v);
}

static const char *str(const cJSON *o, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));
	assert_non_null(v);
	return v;
}

static void test_nothing_published(void **state_)
{
	struct tw_health h;
	struct tw_status s;

	(void)state_;
	assert_int_equal(tw_health_init(&h, "prod/sensors"), 0);
	assert_int_equal(tw_health_add(&h, "influxdb"), 0);
	assert_int_equal(tw_health_add(&h, "dead-letter producer"), 1);
	assert_int_equal(tw_status_init(&s, "prod/sensors", "sensors", &h, 1), 0);
	cJSON *o = state(&s, 0);
	assert_string_equal(str(o, "resource"), "prod/sensors");
	assert_string_equal(str(o, "topic"), "sensors");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "assignedPartitions")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "partitions")), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "publishedAt")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "lastWatermark")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "ready")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "paused")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "fatal")));
	/* The sinks apart from the dead-letter producer. */
	cJSON *sinks = cJSON_GetObjectItem(o, "sinks");
	assert_int_equal(cJSON_GetArraySize(sinks), 1);
	cJSON *sink = cJSON_GetArrayItem(sinks, 0);
	assert_string_equal(str(sink, "name"), "influxdb");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(sink, "ok")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(sink, "lastError")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(sink, "lastSuccess")));
	assert_string_equal(str(cJSON_GetObjectItem(o, "deadLetterProducer"), "name"),
	                    "dead-letter producer");
	cJSON_Delete(o);
	tw_status_destroy(&s);
	tw_status_destroy(&s); /* twice: a no-op */
	tw_health_destroy(&h);
}

static void test_published(void **state_)
{
	struct tw_health h;
	struct tw_status s;
	struct telemetry_counters c = {.events_in = 10, .windows_emitted = 4, .commits = 2};
	/* Out of order, as the loop's table keeps them. */
	struct tw_status_part parts[] = {
	    {.st = {.partition = 2,
	            .committed_offset = -1001,
	            .lag = -1,
	            .max_ts_ns = TW_TS_NONE,
	            .watermark_ns = TW_TS_NONE},
	     .consumed_offset = -1001},
	    {.st = {.partition = 0,
	            .committed_offset = 40,
	            .lag = 3,
	            .max_ts_ns = INT64_C(1700000005000000000),
	            .watermark_ns = INT64_C(1700000000000000000),
	            .open_windows = 2},
	     .consumed_offset = 43},
	};

	(void)state_;
	assert_int_equal(tw_health_init(&h, "prod/sensors"), 0);
	assert_int_equal(tw_health_add(&h, "postgres"), 0);
	assert_int_equal(tw_health_add(&h, "redis"), 1);
	assert_int_equal(tw_health_add(&h, "dead-letter producer"), 2);
	assert_int_equal(tw_status_init(&s, "prod/sensors", "sensors", &h, 2), 0);
	assert_int_equal(tw_status_publish(&s, &c, parts, 2, 1, 17), 0);
	tw_health_failed(&h, 1, 1000, "connection refused");
	(void)tw_health_ok(&h, 0);
	tw_health_set_ready(&h);

	cJSON *o = state(&s, 3500);
	assert_int_equal(num(o, "eventsIn"), 10);
	assert_int_equal(num(o, "windowsEmitted"), 4);
	assert_int_equal(num(o, "commits"), 2);
	assert_int_equal(num(o, "openWindows"), 2);
	assert_int_equal(num(o, "rowsHeld"), 17);
	assert_int_equal(num(o, "lag"), 3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "paused")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ready")));
	assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(o, "publishedAt")));
	/* Sorted by partition. */
	cJSON *ap = cJSON_GetObjectItem(o, "assignedPartitions");
	assert_int_equal(cJSON_GetArraySize(ap), 2);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetArrayItem(ap, 0)), 0);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetArrayItem(ap, 1)), 2);
	cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "partitions"), 0);
	assert_int_equal(num(p0, "partition"), 0);
	assert_int_equal(num(p0, "committedOffset"), 40);
	assert_int_equal(num(p0, "consumedOffset"), 43);
	assert_string_equal(str(p0, "watermark"), "2023-11-14T22:13:20Z");
	assert_string_equal(str(p0, "maxEventTime"), "2023-11-14T22:13:25Z");
	cJSON *p2 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "partitions"), 1);
	assert_int_equal(num(p2, "partition"), 2);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p2, "committedOffset")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p2, "consumedOffset")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p2, "watermark")));
	assert_string_equal(str(o, "lastWatermark"), "2023-11-14T22:13:20Z");

	cJSON *sinks = cJSON_GetObjectItem(o, "sinks");
	assert_int_equal(cJSON_GetArraySize(sinks), 2);
	cJSON *pg = cJSON_GetArrayItem(sinks, 0), *redis = cJSON_GetArrayItem(sinks, 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pg, "ok")));
	assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(pg, "lastSuccess")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(redis, "ok")));
	assert_true(num(redis, "failingForSeconds") == 2.5);
	assert_string_equal(str(redis, "lastError"), "connection refused");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(redis, "lastSuccess")));
	cJSON_Delete(o);

	/* A new snapshot replaces the old: fewer partitions, resumed. */
	assert_int_equal(tw_status_publish(&s, &c, parts + 1, 1, 0, 0), 0);
	o = state(&s, 3500);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "assignedPartitions")), 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "paused")));
	cJSON_Delete(o);
	/* And none. */
	assert_int_equal(tw_status_publish(&s, &c, NULL, 0, 0, 0), 0);
	o = state(&s, 3500);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "partitions")), 0);
	cJSON_Delete(o);
	tw_status_destroy(&s);
	tw_health_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_published),
	    cmocka_unit_test(test_published),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
