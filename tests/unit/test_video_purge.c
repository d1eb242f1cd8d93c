/* workers/video/video_purge.c's pure part: the statements of each step and
 * the order of the steps, batch by batch. (The deletes themselves run
 * against a real PostgreSQL in tests/integration/video_purge_it.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "video_purge.h"

static void test_sql(void **state)
{
	char buf[512];

	(void)state;
	assert_int_equal(video_purge_sql(VIDEO_PURGE_SEGMENTS, "f", 10000, buf, sizeof(buf)), 0);
	assert_string_equal(buf,
	                    "DELETE FROM video_segments WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	                    "video_segments WHERE job = $1 LIMIT 10000))");
	assert_int_equal(video_purge_sql(VIDEO_PURGE_JOB, "f", 10000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "DELETE FROM video_jobs WHERE job = $1");
	assert_int_equal(video_purge_sql(VIDEO_PURGE_FRAMES, "video_frames", 7, buf, sizeof(buf)),
	                 0);
	assert_string_equal(buf, "DELETE FROM \"video_frames\" WHERE ctid = ANY(ARRAY(SELECT ctid "
	                         "FROM \"video_frames\" WHERE job = $1 LIMIT 7))");
}

static void test_sql_refusals(void **state)
{
	char buf[512], small[40];

	(void)state;
	assert_int_equal(video_purge_sql(VIDEO_PURGE_DONE, "f", 1, buf, sizeof(buf)), -1);
	assert_int_equal(video_purge_sql(VIDEO_PURGE_FRAMES, "f", 0, buf, sizeof(buf)), -1);
	assert_int_equal(video_purge_sql(VIDEO_PURGE_SEGMENTS, "f", -5, buf, sizeof(buf)), -1);
	assert_int_equal(video_purge_sql(VIDEO_PURGE_FRAMES, "", 1, buf, sizeof(buf)), -1);
	assert_int_equal(video_purge_sql(VIDEO_PURGE_FRAMES, NULL, 1, buf, sizeof(buf)), -1);
	assert_int_equal(video_purge_sql(VIDEO_PURGE_FRAMES, "f", 1, small, sizeof(small)), -1);
	assert_int_equal(video_purge_sql(VIDEO_PURGE_JOB, "f", 1, NULL, 0), -1);
}

/* Each step and what its last statement deleted: the step that follows. */
static void test_next(void **state)
{
	static const struct {
		enum video_purge_step step;
		long long affected;
		int batch;
		enum video_purge_step want;
	} cases[] = {
	    /* A full batch: maybe more; the same step again. */
	    {VIDEO_PURGE_SEGMENTS, 100, 100, VIDEO_PURGE_SEGMENTS},
	    {VIDEO_PURGE_SEGMENTS, 99, 100, VIDEO_PURGE_JOB},
	    {VIDEO_PURGE_SEGMENTS, 0, 100, VIDEO_PURGE_JOB},
	    /* The job row: one statement, whatever it found. */
	    {VIDEO_PURGE_JOB, 0, 100, VIDEO_PURGE_FRAMES},
	    {VIDEO_PURGE_JOB, 1, 1, VIDEO_PURGE_FRAMES},
	    {VIDEO_PURGE_FRAMES, 10000, 10000, VIDEO_PURGE_FRAMES},
	    {VIDEO_PURGE_FRAMES, 9999, 10000, VIDEO_PURGE_DONE},
	    {VIDEO_PURGE_FRAMES, 0, 10000, VIDEO_PURGE_DONE},
	    {VIDEO_PURGE_DONE, 0, 1, VIDEO_PURGE_DONE},
	    {VIDEO_PURGE_DONE, 5, 1, VIDEO_PURGE_DONE},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(video_purge_next(cases[i].step, cases[i].affected, cases[i].batch),
		                 cases[i].want);
}

/* A whole run on paper: 25 segments and 23 frames at a batch of 10 take
 * 3 + 1 + 3 statements, and an empty job 1 + 1 + 1. */
static void test_walk(void **state)
{
	static const struct {
		long long segments, frames;
		int statements;
	} cases[] = {{25, 23, 7}, {0, 0, 3}, {10, 10, 5}, {9, 30, 6}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long left[3] = {cases[i].segments, 1, cases[i].frames};
		enum video_purge_step s = VIDEO_PURGE_SEGMENTS;
		int n = 0;

		while (s != VIDEO_PURGE_DONE && n < 100) {
			long long *l = &left[s == VIDEO_PURGE_SEGMENTS ? 0
			                     : s == VIDEO_PURGE_JOB    ? 1
			                                               : 2];
			long long del = *l < 10 ? *l : 10;

			*l -= del;
			s = video_purge_next(s, del, 10);
			n++;
		}
		assert_int_equal(n, cases[i].statements);
		assert_int_equal(left[0] + left[1] + left[2], 0);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(video_purge_step_name(VIDEO_PURGE_SEGMENTS), "segments");
	assert_string_equal(video_purge_step_name(VIDEO_PURGE_JOB), "job");
	assert_string_equal(video_purge_step_name(VIDEO_PURGE_FRAMES), "frames");
	assert_string_equal(video_purge_step_name(VIDEO_PURGE_DONE), "done");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sql),   cmocka_unit_test(test_sql_refusals),
	    cmocka_unit_test(test_next),  cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
