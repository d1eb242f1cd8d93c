/* Unit tests for workers/telemetry/dead_letter.c: the exact reasons for late,
 * overflow and out-of-range events, their kinds, and the JSON a rejected
 * window row or raw event is dead-lettered as. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dead_letter.h"
#include "tw_window.h"

#define S INT64_C(1000000000)
/* 2026-11-23T05:00:00Z */
#define T0 (INT64_C(1795410000) * S)

static void load_spec(struct tw_spec *spec, const char *keys, const char *values)
{
	char text[1024], err[256];

	snprintf(text, sizeof(text),
	         "{\"name\":\"sensors\",\"namespace\":\"prod\",\"spec\":{"
	         "\"kafka\":{\"bootstrap\":\"k:9092\",\"topic\":\"t\"},"
	         "\"fields\":{\"timestamp\":\"ts\",\"keys\":%s,\"values\":%s},"
	         "\"window\":{\"size\":\"10s\"}}}",
	         keys, values);
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	int rc = tw_spec_parse_document(doc, spec, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	cJSON_Delete(doc);
}

static struct tw_event event(const char *key, size_t key_len, int64_t ts)
{
	struct tw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = ts;
	ev.key_len = key_len;
	memcpy(ev.key, key, key_len);
	return ev;
}

static void test_reasons(void **state)
{
	char buf[DLQ_REASON_MAX];
	struct tw_event ev = event("d", 1, T0 + 1 * S);

	(void)state;
	assert_string_equal(dead_letter_reason(buf, sizeof(buf), TW_LATE, &ev, T0 + 12 * S),
	                    "late: event time 2026-11-23T05:00:01Z is before the watermark "
	                    "2026-11-23T05:00:12Z: every window that contains it has closed");
	assert_string_equal(dead_letter_kind(TW_LATE), "late");
	assert_string_equal(dead_letter_reason(buf, sizeof(buf), TW_OVERFLOW, &ev, TW_TS_NONE),
	                    "overflow: the partition holds its most (pane, key) aggregates; event "
	                    "time 2026-11-23T05:00:01Z not added");
	assert_string_equal(dead_letter_kind(TW_OVERFLOW), "overflow");
	ev.ts_ns = INT64_MAX; /* 2262-04-11T23:47:16.854775807Z */
	assert_string_equal(
	    dead_letter_reason(buf, sizeof(buf), TW_WINDOW_E_RANGE, &ev, TW_TS_NONE),
	    "event time 2262-04-11T23:47:16.854775807Z is out of the range windows handle: its "
	    "windows, watermark delay and allowed lateness must end by "
	    "2262-04-11T23:47:16.854775807Z");
	assert_string_equal(dead_letter_kind(TW_WINDOW_E_RANGE), "malformed");
	assert_string_equal(dead_letter_reason(buf, sizeof(buf), 42, &ev, TW_TS_NONE),
	                    "refused by the stream core (42)");
	/* A late event before any watermark is impossible, but reads sanely. */
	ev.ts_ns = T0 + 500000000;
	assert_string_equal(dead_letter_reason(buf, sizeof(buf), TW_LATE, &ev, TW_TS_NONE),
	                    "late: event time 2026-11-23T05:00:00.500Z is before the watermark "
	                    "none: every window that contains it has closed");
	/* Cut to the buffer, always terminated. */
	char small[8];
	assert_string_equal(dead_letter_reason(small, sizeof(small), TW_LATE, &ev, T0), "late: e");
}

static void test_row_json(void **state)
{
	struct tw_spec spec;
	struct tw_row row;

	(void)state;
	load_spec(&spec, "[\"site\",\"device\"]", "[\"temp\",\"hum\"]");
	memset(&row, 0, sizeof(row));
	row.partition = 3;
	row.key_len = 7;
	memcpy(row.key,
	       "s1\x1f"
	       "d\"17",
	       7);
	row.start_ns = T0;
	row.end_ns = T0 + 10 * S;
	row.count = 4;
	row.nvalues = 2;
	row.values[0] = (struct tw_value_result){.count = 4,
	                                         .sum = 86,
	                                         .min = 21,
	                                         .max = 22,
	                                         .mean = 21.5,
	                                         .p50 = 21.5,
	                                         .p95 = 22,
	                                         .p99 = 22};
	row.values[1] = (struct tw_value_result){.count = 0,
	                                         .sum = 0,
	                                         .min = NAN,
	                                         .max = NAN,
	                                         .mean = NAN,
	                                         .p50 = NAN,
	                                         .p95 = NAN,
	                                         .p99 = NAN};
	char *json = dead_letter_row_json(&spec, &row);
	assert_non_null(json);
	assert_string_equal(
	    json, "{\"resource\":\"prod/sensors\",\"key\":{\"site\":\"s1\",\"device\":\"d\\\"17\"},"
	          "\"partition\":3,\"start\":\"2026-11-23T05:00:00Z\",\"end\":\"2026-11-23T05:00:"
	          "10Z\",\"count\":4,\"values\":{\"temp\":{\"count\":4,\"sum\":86,\"min\":21,"
	          "\"max\":22,\"mean\":21.5,\"p50\":21.5,\"p95\":22,\"p99\":22},\"hum\":{\"count\":"
	          "0,\"sum\":0,\"min\":null,\"max\":null,\"mean\":null,\"p50\":null,\"p95\":null,"
	          "\"p99\":null}}}");
	free(json);
	tw_spec_free(&spec);
}

static void test_event_json(void **state)
{
	struct tw_spec spec;

	(void)state;
	load_spec(&spec, "[\"device\"]", "[\"temp\",\"hum\",\"co2\"]");
	struct tw_event ev = event("d1", 2, T0 + 250 * (S / 1000));
	ev.present = 1u | 4u; /* temp and co2, not hum */
	ev.values[0] = 21.25;
	ev.values[1] = 99;
	ev.values[2] = 400;
	char *json = dead_letter_event_json(&spec, &ev);
	assert_non_null(json);
	assert_string_equal(json,
	                    "{\"resource\":\"prod/sensors\",\"key\":{\"device\":\"d1\"},"
	                    "\"time\":\"2026-11-23T05:00:00.250Z\",\"values\":{\"temp\":21.25,"
	                    "\"co2\":400}}");
	free(json);
	tw_spec_free(&spec);

	/* No key fields: an empty key object. */
	load_spec(&spec, "[]", "[]");
	ev = event("", 0, T0);
	json = dead_letter_event_json(&spec, &ev);
	assert_non_null(json);
	assert_string_equal(json, "{\"resource\":\"prod/sensors\",\"key\":{},\"time\":\"2026-11-23T"
	                          "05:00:00Z\",\"values\":{}}");
	free(json);
	tw_spec_free(&spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_row_json),
	    cmocka_unit_test(test_event_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
