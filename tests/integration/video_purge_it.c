/*
 * video_purge_it.c - workers/video/video_purge.c against a REAL PostgreSQL:
 * a job's plan, segments and frame rows go, in batches, another job's rows
 * stay, and a second run finds nothing and succeeds.
 *
 * Needs PG_DSN (build/stack.env): `make integration`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "video_db.h"
#include "video_purge.h"

#define TABLE "video_frames_purge_it"
#define SEGMENTS 5
#define FRAMES 23 /* per segment */

static long long count(PGconn *c, const char *sql, const char *job)
{
	const char *p[] = {job};
	PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
	long long n;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

static long long rows_of(PGconn *c, const char *job)
{
	return count(c, "SELECT count(*) FROM \"" TABLE "\" WHERE job = $1", job) +
	       count(c, "SELECT count(*) FROM video_segments WHERE job = $1", job) +
	       count(c, "SELECT count(*) FROM video_jobs WHERE job = $1", job);
}

/* A job of SEGMENTS segments, each finished with FRAMES frame rows. */
static void fill(PGconn *c, const char *job)
{
	struct video_db_job j;
	struct video_db_segment s[SEGMENTS];
	struct vseg_frame rows[FRAMES];
	char err[1024];

	memset(&j, 0, sizeof(j));
	snprintf(j.job, sizeof(j.job), "%s", job);
	snprintf(j.source, sizeof(j.source), "file:///in.mp4");
	snprintf(j.output, sizeof(j.output), "file:///out.mp4");
	j.tb_num = 1;
	j.tb_den = 1000;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < SEGMENTS; i++) {
		s[i].idx = i;
		s[i].start_pts = i * 1000;
		s[i].end_pts = (i + 1) * 1000;
		s[i].end_ms = (i + 1) * 1000;
		s[i].frames_expected = FRAMES;
		snprintf(s[i].output, sizeof(s[i].output), "file:///seg-%d.mp4", i);
	}
	if (video_db_record_plan(c, &j, s, SEGMENTS, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	for (int i = 0; i < FRAMES; i++)
		rows[i] = (struct vseg_frame){.index = i,
		                              .pts_ms = i * 40,
		                              .mean_luma = 0.5,
		                              .motion = 0.1,
		                              .scene_score = 0.0};
	for (int i = 0; i < SEGMENTS; i++)
		if (video_db_segment_finish(c, TABLE, job, i, VJ_ANALYSIS_ALL, rows, FRAMES, FRAMES,
		                            err, sizeof(err)) < 0)
			fail_msg("%s", err);
}

static void test_purge(void **state)
{
	struct video_purge_counts n;
	char err[1024], job[64], other[64];
	PGconn *c;

	(void)state;
	snprintf(job, sizeof(job), "purge-it/a-%d", (int)getpid());
	snprintf(other, sizeof(other), "purge-it/b-%d", (int)getpid());
	c = video_db_connect(it_env("PG_DSN"), TABLE, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	fill(c, job);
	fill(c, other);
	assert_int_equal(rows_of(c, job), SEGMENTS * FRAMES + SEGMENTS + 1);

	/* Batches of 10: 115 frames take 12 statements, 5 segments one. */
	assert_int_equal(video_purge_run(c, job, TABLE, 10, &n, err, sizeof(err)), 0);
	assert_int_equal(n.segments, SEGMENTS);
	assert_int_equal(n.jobs, 1);
	assert_int_equal(n.frames, SEGMENTS * FRAMES);
	assert_int_equal(n.statements, 1 + 1 + 12);
	assert_int_equal(rows_of(c, job), 0);
	/* The other job is untouched. */
	assert_int_equal(rows_of(c, other), SEGMENTS * FRAMES + SEGMENTS + 1);

	/* Again: nothing left, still a success. */
	assert_int_equal(video_purge_run(c, job, TABLE, VIDEO_PURGE_BATCH, &n, err, sizeof(err)),
	                 0);
	assert_int_equal(n.segments + n.jobs + n.frames, 0);
	assert_int_equal(n.statements, 3);

	/* A late process write of a purged job's segment fails and leaves no
	 * rows: its plan is gone. */
	{
		struct vseg_frame row = {.index = 0, .pts_ms = 0, .mean_luma = 0.5};

		assert_int_equal(video_db_segment_finish(c, TABLE, job, 0, VJ_ANALYSIS_ALL, &row, 1,
		                                         1, err, sizeof(err)),
		                 -1);
		assert_int_equal(rows_of(c, job), 0);
	}

	assert_int_equal(video_purge_run(c, other, TABLE, VIDEO_PURGE_BATCH, &n, err, sizeof(err)),
	                 0);
	assert_int_equal(rows_of(c, other), 0);
	PQfinish(c);
}

/* A table that is not there: a clear error naming the step and the job. */
static void test_error(void **state)
{
	struct video_purge_counts n;
	char err[1024];
	PGconn *c;

	(void)state;
	c = video_db_connect(it_env("PG_DSN"), TABLE, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(
	    video_purge_run(c, "purge-it/x", "no_such_table_purge_it", 10, &n, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "postgres: delete frames of purge-it/x: "));
	assert_non_null(strstr(err, "no_such_table_purge_it"));
	assert_null(strchr(err, '\n'));
	PQfinish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_purge),
	    cmocka_unit_test(test_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
