/* Unit tests for workers/telemetry/tw_health.c: /healthz and /readyz of the
 * telemetry worker from its slots' failures, readiness and a fatal
 * error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "tw_health.h"

static void test_slots_and_check(void **state)
{
	struct tw_health h;
	char reason[256] = "";

	(void)state;
	assert_int_equal(tw_health_init(&h, "ns/tw"), 0);
	assert_int_equal(tw_health_add(&h, "postgres"), 0);
	assert_int_equal(tw_health_add(&h, "redis"), 1);
	assert_int_equal(tw_health_add(&h, "dead-letter producer"), 2);
	assert_string_equal(tw_health_name(&h, 1), "redis");
	assert_string_equal(tw_health_name(&h, 3), "");
	assert_int_equal(tw_health_check(&h, 1000, 60000, reason, sizeof(reason)), 0);

	/* Failing, but not for long enough. */
	tw_health_failed(&h, 1, 1000, "connection refused");
	assert_int_equal(tw_health_check(&h, 61000, 60000, reason, sizeof(reason)), 0);
	/* The clock runs from the first failure of a run. */
	tw_health_failed(&h, 1, 30000, "timeout");
	assert_int_equal(tw_health_check(&h, 61001, 60000, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "redis has failed for 60 s: timeout");
	/* Recovered: healthy again, and it says so once. */
	assert_int_equal(tw_health_ok(&h, 1), 1);
	assert_int_equal(tw_health_ok(&h, 1), 0);
	assert_int_equal(tw_health_check(&h, 100000, 60000, reason, sizeof(reason)), 0);
	/* The first failing slot is the one named. */
	tw_health_failed(&h, 2, 1000, "3 dead letters not yet delivered");
	tw_health_failed(&h, 0, 1000, "deadlock");
	assert_int_equal(tw_health_check(&h, 100000, 60000, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "postgres has failed for 99 s: deadlock");
	/* Slots that do not exist are ignored. */
	tw_health_failed(&h, 7, 1, "x");
	assert_int_equal(tw_health_ok(&h, 7), 0);
	tw_health_destroy(&h);
}

static void test_full(void **state)
{
	struct tw_health h;

	(void)state;
	assert_int_equal(tw_health_init(&h, "ns/tw"), 0);
	for (int i = 0; i < TW_HEALTH_SLOTS; i++)
		assert_int_equal(tw_health_add(&h, "s"), i);
	assert_int_equal(tw_health_add(&h, "one too many"), -1);
	tw_health_destroy(&h);
}

static void test_fatal_and_ready(void **state)
{
	struct tw_health h;
	char reason[256] = "";

	(void)state;
	assert_int_equal(tw_health_init(&h, "ns/tw"), 0);
	assert_int_equal(tw_health_add(&h, "redis"), 0);
	assert_int_equal(tw_health_ready(&h, reason, sizeof(reason)), 1);
	assert_string_equal(reason, "waiting for the first partition assignment");
	tw_health_set_ready(&h);
	reason[0] = '\0';
	assert_int_equal(tw_health_ready(&h, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "");

	assert_false(tw_health_is_fatal(&h));
	tw_health_set_fatal(&h, "dead letter not delivered", "Broker: Topic authorization failed");
	tw_health_set_fatal(&h, "later", "ignored");
	assert_true(tw_health_is_fatal(&h));
	assert_int_equal(tw_health_check(&h, 0, 60000, reason, sizeof(reason)), 1);
	assert_string_equal(reason,
	                    "fatal: dead letter not delivered: Broker: Topic authorization failed");
	/* A fatal error wins over a failing slot. */
	tw_health_failed(&h, 0, 1, "x");
	assert_int_equal(tw_health_check(&h, 1000000, 10, reason, sizeof(reason)), 1);
	assert_non_null(strstr(reason, "fatal: "));
	tw_health_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slots_and_check),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_fatal_and_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
