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

/* What GET /status shows: each slot ok or failing for how long, its last
 * error kept after a recovery, its last success on the wall clock. */
static void test_view(void **state)
{
	struct tw_health h;
	struct tw_health_slot v[TW_HEALTH_SLOTS];
	char fatal[64];
	int ready = -1;

	(void)state;
	assert_int_equal(tw_health_init(&h, "ns/tw"), 0);
	assert_int_equal(tw_health_view(&h, 0, v, fatal, sizeof(fatal), &ready), 0);
	assert_int_equal(ready, 0);
	assert_string_equal(fatal, "");
	assert_int_equal(tw_health_add(&h, "influxdb"), 0);
	assert_int_equal(tw_health_add(&h, "postgres"), 1);
	assert_int_equal(tw_health_view(&h, 5000, v, fatal, sizeof(fatal), &ready), 2);
	assert_string_equal(v[0].name, "influxdb");
	assert_int_equal(v[0].failing, 0);
	assert_int_equal(v[0].last_ok_ns, 0); /* no success yet */
	assert_string_equal(v[0].last_error, "");

	tw_health_failed(&h, 1, 1000, "connection refused");
	(void)tw_health_ok(&h, 0);
	tw_health_set_ready(&h);
	assert_int_equal(tw_health_view(&h, 4000, v, fatal, sizeof(fatal), &ready), 2);
	assert_int_equal(ready, 1);
	assert_int_equal(v[0].failing, 0);
	assert_true(v[0].last_ok_ns > 0);
	assert_int_equal(v[1].failing, 1);
	assert_int_equal(v[1].failing_for_ms, 3000);
	assert_string_equal(v[1].last_error, "connection refused");

	/* Recovered: ok, the error still there to read. */
	(void)tw_health_ok(&h, 1);
	assert_int_equal(tw_health_view(&h, 9000, v, fatal, sizeof(fatal), &ready), 2);
	assert_int_equal(v[1].failing, 0);
	assert_int_equal(v[1].failing_for_ms, 0);
	assert_true(v[1].last_ok_ns >= v[0].last_ok_ns);
	assert_string_equal(v[1].last_error, "connection refused");

	tw_health_set_fatal(&h, "kafka client", "broker gone");
	(void)tw_health_view(&h, 9000, v, fatal, sizeof(fatal), &ready);
	assert_string_equal(fatal, "kafka client: broker gone");
	tw_health_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slots_and_check),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_view),
	    cmocka_unit_test(test_fatal_and_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
