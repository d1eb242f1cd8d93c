/*
 * video_db_it.c - workers/video/video_db.c against a REAL PostgreSQL and
 * lib/contract/vj_progress.c against a REAL Redis: what split, process and assemble
 * rely on. The plan is recorded once (a rerun is a no-op, a different plan
 * is refused), segment states move as process moves them, a segment's
 * frame rows carry only the measures spec.analysis asks for (NULL for the
 * others, no rows for none) and replace the previous ones, progress counts
 * a redelivered segment once.
 *
 * Needs PG_DSN and REDIS_ADDR (build/stack.env): `make integration`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_conn.h"
#include "vj_progress.h"
#include "video_db.h"

static char job[64], ns[32], name[32];

static void plan(struct video_db_job *j, struct video_db_segment *s, size_t n, int64_t shift)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->job, sizeof(j->job), "%s", job);
	snprintf(j->source, sizeof(j->source), "file:///in.mp4");
	snprintf(j->output, sizeof(j->output), "file:///out.mp4");
	j->tb_num = 1;
	j->tb_den = 12800;
	j->frames_total = (int64_t)n * 50;
	j->duration_ms = (int64_t)n * 2000;
	memset(s, 0, n * sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		s[i].idx = (int32_t)i;
		s[i].start_pts = (int64_t)i * 25600 + shift;
		s[i].end_pts = (int64_t)(i + 1) * 25600;
		s[i].start_ms = (int64_t)i * 2000;
		s[i].end_ms = (int64_t)(i + 1) * 2000;
		s[i].frames_expected = 50;
		snprintf(s[i].output, sizeof(s[i].output), "file:///seg-%zu.mp4", i);
	}
}

static void test_plan_and_segment_states(void **state)
{
	struct video_db_job j, got;
	struct video_db_segment s[3], *segs = NULL;
	size_t n;
	int64_t total, done, failed;
	int32_t attempts;
	char err[1024];
	PGconn *c;

	(void)state;
	c = video_db_connect(it_env("PG_DSN"), "video_frames_it", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	plan(&j, s, 3, 0);
	assert_int_equal(video_db_record_plan(c, &j, s, 3, err, sizeof(err)), 1);
	/* The same plan again: nothing new. */
	assert_int_equal(video_db_record_plan(c, &j, s, 3, err, sizeof(err)), 0);
	/* Other boundaries under the same name: refused. */
	plan(&j, s, 3, 1);
	assert_int_equal(video_db_record_plan(c, &j, s, 3, err, sizeof(err)), VIDEO_DB_E_CONFLICT);
	assert_non_null(strstr(err, "boundaries differ"));
	plan(&j, s, 2, 0);
	assert_int_equal(video_db_record_plan(c, &j, s, 2, err, sizeof(err)), VIDEO_DB_E_CONFLICT);
	assert_non_null(strstr(err, "a different plan is recorded"));

	assert_int_equal(video_db_read_plan(c, job, &got, &segs, &n, err, sizeof(err)), 1);
	assert_int_equal(n, 3);
	assert_int_equal(got.segments_total, 3);
	assert_int_equal(got.tb_den, 12800);
	assert_string_equal(got.state, "planned");
	assert_int_equal(segs[2].start_pts, 51200);
	assert_string_equal(segs[1].state, "pending");
	assert_string_equal(segs[1].output, "file:///seg-1.mp4");
	free(segs);

	assert_int_equal(video_db_segment_attempt(c, job, 1, &attempts, err, sizeof(err)), 0);
	assert_int_equal(attempts, 1);
	assert_int_equal(video_db_segment_attempt(c, job, 1, &attempts, err, sizeof(err)), 0);
	assert_int_equal(attempts, 2);
	assert_int_equal(video_db_segment_done(c, job, 1, 50, err, sizeof(err)), 0);
	assert_int_equal(video_db_segment_done(c, job, 1, 50, err, sizeof(err)), 0);
	assert_int_equal(video_db_segment_failed(c, job, 2, "decode: boom", err, sizeof(err)), 0);
	assert_int_equal(video_db_segment_done(c, job, 7, 50, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no segment 7"));
	assert_int_equal(video_db_segment_counts(c, job, &total, &done, &failed, err, sizeof(err)),
	                 0);
	assert_int_equal(total, 3);
	assert_int_equal(done, 1);
	assert_int_equal(failed, 1);
	assert_int_equal(video_db_job_state(c, job, "failed", "segment 2 failed", err, sizeof(err)),
	                 0);
	assert_int_equal(video_db_read_plan(c, job, &got, &segs, &n, err, sizeof(err)), 1);
	assert_string_equal(got.state, "failed");
	assert_string_equal(got.reason, "segment 2 failed");
	assert_int_equal(segs[1].frames_done, 50);
	assert_int_equal(segs[1].attempts, 2);
	free(segs);
	assert_int_equal(video_db_read_plan(c, "no/such", &got, &segs, &n, err, sizeof(err)), 0);
	assert_null(segs);
	/* A VideoJob re-created under the name: the old plan goes, a new one fits. */
	assert_int_equal(video_db_delete_job(c, job, "video_frames_it", err, sizeof(err)), 0);
	assert_int_equal(video_db_read_plan(c, job, &got, &segs, &n, err, sizeof(err)), 0);
	plan(&j, s, 2, 0);
	assert_int_equal(video_db_record_plan(c, &j, s, 2, err, sizeof(err)), 1);
	PQfinish(c);
}

/* One psql-like answer: the first column of the first row of sql (with
 * job as $1 when it has a $1), "NULL" for a null, into out. */
static void query1(PGconn *c, const char *sql, char *out, size_t size)
{
	const char *p[] = {job};
	PGresult *r = PQexecParams(c, sql, strstr(sql, "$1") != NULL, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	snprintf(out, size, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* What spec.analysis leaves out is NULL in the frames table; an empty list
 * writes no rows but still finishes the segment; a redelivered segment
 * replaces its rows. The measure columns are nullable as created. */
static void test_frame_rows_follow_analysis(void **state)
{
	static const char table[] = "video_frames_it";
	struct video_db_job j;
	struct video_db_segment s[3], *segs = NULL;
	struct vseg_frame rows[4];
	size_t n;
	int64_t total, done, failed;
	char err[1024], got[512];
	PGconn *c;

	(void)state;
	c = video_db_connect(it_env("PG_DSN"), table, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	/* Whatever an earlier run left under this job name. */
	assert_int_equal(video_db_delete_job(c, job, table, err, sizeof(err)), 0);
	plan(&j, s, 3, 0);
	assert_int_equal(video_db_record_plan(c, &j, s, 3, err, sizeof(err)), 1);
	for (int i = 0; i < 4; i++)
		rows[i] = (struct vseg_frame){.index = i,
		                              .pts = i * 512,
		                              .pts_ms = i * 40,
		                              .mean_luma = 16 + i,
		                              .motion = i == 0 ? NAN : 0.5 * i,
		                              .scene_score = i == 0 ? NAN : 0.25};

	/* Segment 0: mean luma only, whatever the rows hold for the rest. */
	assert_int_equal(video_db_segment_finish(c, table, job, 0, VJ_ANALYSIS_MEAN_LUMA, rows, 4,
	                                         4, err, sizeof(err)),
	                 0);
	query1(c,
	       "SELECT string_agg(concat_ws(',', frame, pts_ms, coalesce(mean_luma::text, 'N'),"
	       " coalesce(motion::text, 'N'), coalesce(scene_score::text, 'N')), ';'"
	       " ORDER BY frame) FROM video_frames_it WHERE job = $1 AND segment = 0",
	       got, sizeof(got));
	assert_string_equal(got, "0,0,16,N,N;1,40,17,N,N;2,80,18,N,N;3,120,19,N,N");
	/* Segment 1: all three, the first frame's NaN as NULL. */
	assert_int_equal(video_db_segment_finish(c, table, job, 1, VJ_ANALYSIS_ALL, rows, 4, 4, err,
	                                         sizeof(err)),
	                 0);
	query1(c,
	       "SELECT string_agg(concat_ws(',', frame, coalesce(mean_luma::text, 'N'),"
	       " coalesce(motion::text, 'N'), coalesce(scene_score::text, 'N')), ';'"
	       " ORDER BY frame) FROM video_frames_it WHERE job = $1 AND segment = 1",
	       got, sizeof(got));
	assert_string_equal(got, "0,16,N,N;1,17,0.5,0.25;2,18,1,0.25;3,19,1.5,0.25");
	/* Redelivered with motion and scene score: replaced, each frame once. */
	assert_int_equal(video_db_segment_finish(c, table, job, 1,
	                                         VJ_ANALYSIS_MOTION | VJ_ANALYSIS_SCENE_SCORE, rows,
	                                         3, 3, err, sizeof(err)),
	                 0);
	query1(c,
	       "SELECT concat_ws(',', count(*), count(mean_luma), count(motion),"
	       " count(scene_score)) FROM video_frames_it WHERE job = $1 AND segment = 1",
	       got, sizeof(got));
	assert_string_equal(got, "3,0,2,2");
	/* Segment 2: no analysis, no rows (not even for rows handed in), and
	 * the segment is done all the same. */
	assert_int_equal(video_db_segment_finish(c, table, job, 2, 0, rows, 4, 4, err, sizeof(err)),
	                 0);
	query1(c, "SELECT count(*) FROM video_frames_it WHERE job = $1 AND segment = 2", got,
	       sizeof(got));
	assert_string_equal(got, "0");
	assert_int_equal(video_db_segment_counts(c, job, &total, &done, &failed, err, sizeof(err)),
	                 0);
	assert_int_equal(done, 3);
	assert_int_equal(video_db_read_plan(c, job, &j, &segs, &n, err, sizeof(err)), 1);
	assert_int_equal(segs[2].frames_done, 4);
	assert_int_equal(segs[1].frames_done, 3);
	free(segs);
	/* A segment not in the plan: an error, and its rows are not kept. */
	assert_int_equal(video_db_segment_finish(c, table, job, 9, VJ_ANALYSIS_ALL, rows, 4, 4, err,
	                                         sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "has no segment 9"));
	query1(c, "SELECT count(*) FROM video_frames_it WHERE job = $1 AND segment = 9", got,
	       sizeof(got));
	assert_string_equal(got, "0");
	/* The schema: the three measures may be NULL, nothing else may. */
	query1(c,
	       "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM"
	       " information_schema.columns WHERE table_name = 'video_frames_it'"
	       " AND is_nullable = 'YES'",
	       got, sizeof(got));
	assert_string_equal(got, "mean_luma,motion,scene_score");
	assert_int_equal(video_db_delete_job(c, job, table, err, sizeof(err)), 0);
	query1(c, "SELECT count(*) FROM video_frames_it WHERE job = $1", got, sizeof(got));
	assert_string_equal(got, "0");
	PQfinish(c);
}

static void test_progress(void **state)
{
	struct vj_progress p;
	char err[512];
	redisContext *r;

	(void)state;
	r = redis_conn_open(it_env("REDIS_ADDR"), NULL, 2000, err, sizeof(err));
	if (r == NULL)
		fail_msg("%s", err);
	assert_int_equal(vj_progress_split(r, ns, name, 4, 200, 8000, err, sizeof(err)), 0);
	assert_int_equal(vj_progress_segment_done(r, ns, name, 0, 50, err, sizeof(err)), 0);
	assert_int_equal(vj_progress_segment_done(r, ns, name, 0, 50, err, sizeof(err)), 0);
	assert_int_equal(vj_progress_segment_failed(r, ns, name, 1, "boom", err, sizeof(err)), 0);
	assert_int_equal(vj_progress_read(r, ns, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.segments_total, 4);
	assert_int_equal(p.frames_total, 200);
	assert_int_equal(p.segments_done, 1);
	assert_int_equal(p.frames_done, 50);
	assert_int_equal(p.segments_failed, 1);
	assert_true(p.split_done);
	assert_false(p.assembled);
	/* A retried segment that succeeds leaves the failed hash. */
	assert_int_equal(vj_progress_segment_done(r, ns, name, 1, 49, err, sizeof(err)), 0);
	assert_int_equal(vj_progress_assembled(r, ns, name, 99, err, sizeof(err)), 0);
	assert_int_equal(vj_progress_job_failed(r, ns, name, "why", err, sizeof(err)), 0);
	assert_int_equal(vj_progress_read(r, ns, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.segments_done, 2);
	assert_int_equal(p.frames_done, 99);
	assert_int_equal(p.segments_failed, 0);
	assert_true(p.assembled);
	assert_int_equal(p.output_frames, 99);
	assert_string_equal(p.failed, "why");
	assert_int_equal(vj_progress_delete(r, ns, name, err, sizeof(err)), 0);
	assert_int_equal(vj_progress_read(r, ns, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.segments_total, 0);
	redisFree(r);
	assert_null(redis_conn_open("127.0.0.1:1", NULL, 2000, err, sizeof(err)));
	assert_non_null(strstr(err, "redis 127.0.0.1:1: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_and_segment_states),
	    cmocka_unit_test(test_frame_rows_follow_analysis),
	    cmocka_unit_test(test_progress),
	};

	snprintf(ns, sizeof(ns), "it");
	snprintf(name, sizeof(name), "vdb-%ld", (long)getpid());
	snprintf(job, sizeof(job), "%s/%s", ns, name);
	return cmocka_run_group_tests_name("video_db_it", tests, NULL, NULL);
}
