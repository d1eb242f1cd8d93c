/* Unit tests for operator/scale_pause.c: the pause annotations ->
 * scale_obs.paused_replicas, and what a malformed value says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "scale.h"
#include "scale_pause.h"

/* paused_replicas of the annotations object given as JSON (NULL: none). */
static int32_t pause_of(const char *json, char *why, size_t why_size)
{
	cJSON *a = json != NULL ? cJSON_Parse(json) : NULL;
	int32_t n;

	assert_true(json == NULL || a != NULL);
	n = scale_pause_from_annotations(a, why, why_size);
	cJSON_Delete(a);
	return n;
}

static void test_no_annotations(void **state)
{
	char why[256] = "x";

	(void)state;
	assert_int_equal(pause_of(NULL, why, sizeof(why)), SCALE_NOT_PAUSED);
	assert_string_equal(why, "");
	assert_int_equal(pause_of("{}", why, sizeof(why)), SCALE_NOT_PAUSED);
	assert_int_equal(pause_of("{\"other\": \"2\"}", why, sizeof(why)), SCALE_NOT_PAUSED);
	assert_string_equal(why, "");
}

static void test_paused_replicas(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(pause_of("{\"sluice.dev/paused-replicas\": \"2\"}", why, sizeof(why)), 2);
	assert_string_equal(why, "");
	assert_int_equal(pause_of("{\"sluice.dev/paused-replicas\": \"0\"}", why, sizeof(why)), 0);
	assert_int_equal(pause_of("{\"sluice.dev/paused-replicas\": \"007\"}", why, sizeof(why)),
	                 7);
	assert_int_equal(
	    pause_of("{\"sluice.dev/paused-replicas\": \"999999999\"}", why, sizeof(why)),
	    999999999);
}

static void test_paused_keep(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(pause_of("{\"sluice.dev/paused\": \"true\"}", why, sizeof(why)),
	                 SCALE_PAUSED_KEEP);
	assert_string_equal(why, "");
	assert_int_equal(pause_of("{\"sluice.dev/paused\": \"false\"}", why, sizeof(why)),
	                 SCALE_NOT_PAUSED);
	assert_string_equal(why, "");
}

static void test_replicas_win_over_keep(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(pause_of("{\"sluice.dev/paused\": \"true\","
	                          " \"sluice.dev/paused-replicas\": \"3\"}",
	                          why, sizeof(why)),
	                 3);
	assert_int_equal(pause_of("{\"sluice.dev/paused\": \"false\","
	                          " \"sluice.dev/paused-replicas\": \"0\"}",
	                          why, sizeof(why)),
	                 0);
}

static void test_malformed_count(void **state)
{
	static const char *const bad[] = {"\"two\"",        "\"-1\"", "\"+1\"",  "\" 3\"",
	                                  "\"3 \"",         "\"\"",   "\"1e3\"", "\"1.0\"",
	                                  "\"1000000000\"", "3",      "null",    "true"};
	char json[128], why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"sluice.dev/paused-replicas\": %s}", bad[i]);
		assert_int_equal(pause_of(json, why, sizeof(why)), SCALE_NOT_PAUSED);
		assert_non_null(strstr(why, "annotation sluice.dev/paused-replicas: "));
		assert_non_null(strstr(why, "is not a non-negative integer"));
	}
	assert_int_equal(pause_of("{\"sluice.dev/paused-replicas\": \"two\"}", why, sizeof(why)),
	                 SCALE_NOT_PAUSED);
	assert_string_equal(
	    why, "annotation sluice.dev/paused-replicas: \"two\" is not a non-negative integer");
	/* A malformed count pauses nothing, even with paused "true" beside it. */
	assert_int_equal(pause_of("{\"sluice.dev/paused\": \"true\","
	                          " \"sluice.dev/paused-replicas\": \"x\"}",
	                          why, sizeof(why)),
	                 SCALE_NOT_PAUSED);
	assert_true(why[0] != '\0');
}

static void test_malformed_paused(void **state)
{
	static const char *const bad[] = {"\"yes\"", "\"True\"", "\"1\"", "\"\"", "true", "1"};
	char json[128], why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"sluice.dev/paused\": %s}", bad[i]);
		assert_int_equal(pause_of(json, why, sizeof(why)), SCALE_NOT_PAUSED);
		assert_non_null(strstr(why, "annotation sluice.dev/paused: "));
		assert_non_null(strstr(why, "is not \"true\" or \"false\""));
	}
}

static void test_long_value_cut(void **state)
{
	char json[512], value[301], why[256];

	(void)state;
	memset(value, 'z', 300);
	value[300] = '\0';
	snprintf(json, sizeof(json), "{\"sluice.dev/paused-replicas\": \"%s\"}", value);
	assert_int_equal(pause_of(json, why, sizeof(why)), SCALE_NOT_PAUSED);
	assert_true(strlen(why) < 160);
	assert_non_null(strstr(why, "...\""));
	/* A small buffer is cut, never overrun; none at all is fine. */
	char tiny[8];
	assert_int_equal(pause_of(json, tiny, sizeof(tiny)), SCALE_NOT_PAUSED);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(pause_of(json, NULL, 0), SCALE_NOT_PAUSED);
	assert_int_equal(pause_of("{\"sluice.dev/paused-replicas\": \"4\"}", NULL, 0), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_annotations),  cmocka_unit_test(test_paused_replicas),
	    cmocka_unit_test(test_paused_keep),     cmocka_unit_test(test_replicas_win_over_keep),
	    cmocka_unit_test(test_malformed_count), cmocka_unit_test(test_malformed_paused),
	    cmocka_unit_test(test_long_value_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
