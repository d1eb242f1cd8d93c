/* Unit tests for the processing clock of workers/telemetry/tw_pause.c:
 * monotonic time less what the loop spent not reading (paused, or blocked
 * on a sink, a commit, a full dead-letter queue). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tw_pause.h"

static void test_clock(void **state)
{
	struct tw_pause p = {0};

	(void)state;
	assert_int_equal(tw_pause_now(&p, 1000), 1000);
	/* Blocked writing for 30 ms: left out. */
	tw_pause_stalled(&p, 30);
	assert_int_equal(tw_pause_now(&p, 1100), 1070);
	/* Paused at 1200: the clock stops there. */
	tw_pause_mark(&p, 1, 1200);
	assert_true(p.paused);
	assert_int_equal(tw_pause_now(&p, 1200), 1170);
	assert_int_equal(tw_pause_now(&p, 5000), 1170);
	/* A stall while paused is part of the pause, not counted twice. */
	tw_pause_stalled(&p, 500);
	assert_int_equal(tw_pause_now(&p, 5000), 1170);
	/* Pausing again changes nothing. */
	tw_pause_mark(&p, 1, 3000);
	assert_int_equal(p.paused_since, 1200);
	/* Resumed at 2200: the pause is left out, the clock runs on. */
	tw_pause_mark(&p, 0, 2200);
	assert_false(p.paused);
	assert_int_equal(p.stall_ms, 1030);
	assert_int_equal(tw_pause_now(&p, 2200), 1170);
	assert_int_equal(tw_pause_now(&p, 2300), 1270);
	/* Resuming again changes nothing. */
	tw_pause_mark(&p, 0, 9000);
	assert_int_equal(tw_pause_now(&p, 2300), 1270);
}

/* The clock never runs backwards, whatever the order of stalls and
 * pauses, as long as a stall is no longer than the time that passed. */
static void test_monotonic(void **state)
{
	struct tw_pause p = {0};
	int64_t mono = 0, last = tw_pause_now(&p, 0);

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		int64_t step = (int64_t)(i * 7919u % 13u);
		mono += step;
		switch (i % 4) {
		case 0:
			tw_pause_stalled(&p, step);
			break;
		case 1:
			tw_pause_mark(&p, (i / 4) % 2 == 0, mono);
			break;
		default:
			break;
		}
		int64_t now = tw_pause_now(&p, mono);
		assert_true(now >= last);
		assert_true(now <= mono);
		last = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
