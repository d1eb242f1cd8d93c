/* workers/video/video_plan.c: keyframe-aligned cuts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "video_plan.h"

/* 25 fps in a 1/12800 time base: 512 ticks a frame; a keyframe every
 * gop frames; B-frames reorder pts within a GOP (decode order != pts). */
static struct video_plan_packet *stream(size_t n, size_t gop, int bframes)
{
	struct video_plan_packet *p = calloc(n, sizeof(*p));

	for (size_t i = 0; i < n; i++) {
		size_t f = i;

		/* Swap pairs inside the GOP, after its keyframe, like P/B reordering. */
		if (bframes && i % gop != 0 && i % gop + 1 < gop && i % 2 == 1)
			f = i + 1;
		else if (bframes && i % gop != 0 && i % 2 == 0 && (i - 1) % gop != 0)
			f = i - 1;
		p[i].pts = (int64_t)f * 512;
		p[i].key = i % gop == 0;
	}
	return p;
}

static void test_cuts_on_keyframes(void **state)
{
	struct video_plan_packet *p = stream(250, 25, 0); /* 10 s, keyframe each 1 s */
	struct video_plan_segment *s;
	size_t n;
	int64_t frames = 0;

	(void)state;
	assert_int_equal(video_plan_segments(p, 250, 2 * 12800, &s, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s[i].start_pts, (int64_t)i * 50 * 512);
		assert_int_equal(s[i].frames, 50);
		frames += s[i].frames;
	}
	assert_int_equal(s[4].end_pts, 249 * 512 + 1);
	assert_int_equal(frames, 250);
	free(s);
	free(p);
}

static void test_sparse_keyframes_make_longer_segments(void **state)
{
	struct video_plan_packet *p = stream(250, 75, 1); /* keyframe each 3 s */
	struct video_plan_segment *s;
	size_t n;
	int64_t frames = 0;

	(void)state;
	assert_int_equal(video_plan_segments(p, 250, 2 * 12800, &s, &n), 0);
	assert_int_equal(n, 4); /* 0, 3, 6, 9 s */
	assert_int_equal(s[1].start_pts, 75 * 512);
	for (size_t i = 0; i < n; i++)
		frames += s[i].frames;
	assert_int_equal(frames, 250);
	assert_int_equal(s[3].frames, 25);
	free(s);
	free(p);
}

static void test_one_segment_and_errors(void **state)
{
	struct video_plan_packet one = {.pts = -100, .key = 0};
	struct video_plan_packet back[] = {{1000, 1}, {1100, 0}, {500, 1}, {9000, 1}};
	struct video_plan_segment *s;
	size_t n;

	(void)state;
	assert_int_equal(video_plan_segments(&one, 1, 10, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].start_pts, -100);
	assert_int_equal(s[0].end_pts, -99);
	assert_int_equal(s[0].frames, 1);
	free(s);
	/* A keyframe at 500 after 1000: not above the start (500, the minimum). */
	assert_int_equal(video_plan_segments(back, 4, 1000, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].start_pts, 500);
	assert_int_equal(s[1].start_pts, 9000);
	assert_int_equal(s[0].frames, 3);
	free(s);
	assert_int_equal(video_plan_segments(&one, 0, 10, &s, &n), -1);
	assert_int_equal(video_plan_segments(&one, 1, 0, &s, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cuts_on_keyframes),
	    cmocka_unit_test(test_sparse_keyframes_make_longer_segments),
	    cmocka_unit_test(test_one_segment_and_errors),
	};

	return cmocka_run_group_tests_name("video_plan", tests, NULL, NULL);
}
