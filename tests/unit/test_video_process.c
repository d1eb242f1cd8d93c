/* Unit tests for the pure parts of workers/video/video_process.c: the COPY text
 * of a frame row (escaping, NULL for NaN, exact doubles, bounds) and the
 * retry backoff. The loop itself runs against real servers in
 * tests/e2e/test_video_process.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "video_process.h"

static void test_copy_row(void **state)
{
	struct vseg_frame f = {.index = 7,
	                       .pts = 900,
	                       .pts_ms = 1234,
	                       .mean_luma = 16.5,
	                       .motion = NAN,
	                       .scene_score = 0.25};
	char buf[256];

	(void)state;
	int n = vproc_copy_row(buf, sizeof(buf), "media/clip", 3, &f);
	assert_string_equal(buf, "media/clip\t3\t7\t1234\t16.5\t\\N\t0.25\n");
	assert_int_equal(n, (int)strlen(buf));

	/* Bytes COPY treats specially are escaped in the job text. */
	n = vproc_copy_row(buf, sizeof(buf), "a\\b\tc\nd", 0, &f);
	assert_string_equal(buf, "a\\\\b\\tc\\nd\t0\t7\t1234\t16.5\t\\N\t0.25\n");

	/* Doubles read back exactly. */
	f.motion = 0.1;
	vproc_copy_row(buf, sizeof(buf), "j", 0, &f);
	assert_non_null(strstr(buf, "\t0.10000000000000001\t"));

	/* Too small: -1, whatever the cut. */
	for (size_t size = 1; size < 20; size++)
		assert_int_equal(vproc_copy_row(buf, size, "media/clip", 3, &f), -1);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(vproc_backoff_ms(1, 30000), 1000);
	assert_int_equal(vproc_backoff_ms(2, 30000), 2000);
	assert_int_equal(vproc_backoff_ms(5, 30000), 16000);
	assert_int_equal(vproc_backoff_ms(6, 30000), 30000);
	assert_int_equal(vproc_backoff_ms(60, 30000), 30000);
	assert_int_equal(vproc_backoff_ms(1, 500), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copy_row),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
