/* video_purge.c -- a deleted VideoJob's rows out of PostgreSQL; see
 * video_purge.h. */
#include "video_purge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "video_db.h"
#include "vj_spec.h"

#define SQL_MAX 512
#define ERR_MAX 1024

/* A batch by ctid: the rows the job's index finds first, at most batch of
 * them, deleted by their physical address (ARRAY(...) makes it a TID scan). */
#define BATCHED(table)                                                                             \
	"DELETE FROM " table " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " table                     \
	" WHERE job = $1 LIMIT %d))"

int video_purge_sql(enum video_purge_step step, const char *frames_table, int batch, char *buf,
                    size_t size)
{
	int n;

	if (batch < 1 || buf == NULL || size == 0)
		return -1;
	switch (step) {
	case VIDEO_PURGE_SEGMENTS:
		n = snprintf(buf, size, BATCHED("video_segments"), batch);
		break;
	case VIDEO_PURGE_JOB:
		n = snprintf(buf, size, "DELETE FROM video_jobs WHERE job = $1");
		break;
	case VIDEO_PURGE_FRAMES:
		if (frames_table == NULL || frames_table[0] == '\0')
			return -1;
		n = snprintf(buf, size, BATCHED("\"%s\""), frames_table, frames_table, batch);
		break;
	case VIDEO_PURGE_DONE:
	default:
		return -1;
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

enum video_purge_step video_purge_next(enum video_purge_step step, long long affected, int batch)
{
	switch (step) {
	case VIDEO_PURGE_SEGMENTS:
		return affected >= batch ? VIDEO_PURGE_SEGMENTS : VIDEO_PURGE_JOB;
	case VIDEO_PURGE_JOB:
		return VIDEO_PURGE_FRAMES;
	case VIDEO_PURGE_FRAMES:
		return affected >= batch ? VIDEO_PURGE_FRAMES : VIDEO_PURGE_DONE;
	case VIDEO_PURGE_DONE:
	default:
		return VIDEO_PURGE_DONE;
	}
}

const char *video_purge_step_name(enum video_purge_step step)
{
	switch (step) {
	case VIDEO_PURGE_SEGMENTS:
		return "segments";
	case VIDEO_PURGE_JOB:
		return "job";
	case VIDEO_PURGE_FRAMES:
		return "frames";
	case VIDEO_PURGE_DONE:
	default:
		return "done";
	}
}

/* One statement: the rows it deleted, or -1 with the reason. */
static long long delete_batch(PGconn *c, const char *sql, const char *job,
                              enum video_purge_step step, char *errbuf, size_t errbuf_size)
{
	const char *p[] = {job};
	PGresult *res = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
	long long n;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c);

		if (m == NULL || m[0] == '\0')
			m = PQerrorMessage(c);
		snprintf(errbuf, errbuf_size, "postgres: delete %s of %s: %.*s",
		         video_purge_step_name(step), job, (int)strcspn(m, "\n"), m);
		PQclear(res);
		return -1;
	}
	n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

int video_purge_run(PGconn *c, const char *job, const char *frames_table, int batch,
                    struct video_purge_counts *out, char *errbuf, size_t errbuf_size)
{
	enum video_purge_step step = VIDEO_PURGE_SEGMENTS;
	char sql[SQL_MAX];

	memset(out, 0, sizeof(*out));
	while (step != VIDEO_PURGE_DONE) {
		long long n;

		if (out->statements >= VIDEO_PURGE_STATEMENTS_MAX) {
			snprintf(errbuf, errbuf_size,
			         "postgres: %s: rows still left after %d statements (something is "
			         "writing them?)",
			         job, VIDEO_PURGE_STATEMENTS_MAX);
			return -1;
		}
		if (video_purge_sql(step, frames_table, batch, sql, sizeof(sql)) != 0) {
			snprintf(errbuf, errbuf_size, "purge %s: no statement for step %s", job,
			         video_purge_step_name(step));
			return -1;
		}
		n = delete_batch(c, sql, job, step, errbuf, errbuf_size);
		if (n < 0)
			return -1;
		out->statements++;
		if (step == VIDEO_PURGE_SEGMENTS)
			out->segments += n;
		else if (step == VIDEO_PURGE_JOB)
			out->jobs += n;
		else
			out->frames += n;
		step = video_purge_next(step, n, batch);
	}
	return 0;
}

int video_purge_main(const char *spec_path)
{
	struct vj_spec spec;
	struct video_purge_counts counts;
	char errbuf[ERR_MAX] = "", job[320] = "";
	char seg[24], jobs[24], frames[24], stmts[24];
	PGconn *c;
	int status = 0;

	if (spec_path == NULL) {
		fprintf(stderr, "sluice-worker: purge: --config FILE (the VideoJob) is required\n");
		return 2;
	}
	if (vj_spec_load_file(spec_path, &spec, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: purge: %s\n", errbuf);
		return 2;
	}
	vj_spec_job_id(&spec, job, sizeof(job));
	c = video_db_connect_spec(&spec, errbuf, sizeof(errbuf));
	if (c == NULL || video_purge_run(c, job, spec.sinks.postgres.table, VIDEO_PURGE_BATCH,
	                                 &counts, errbuf, sizeof(errbuf)) != 0) {
		log_error("purge failed", "job", job, "error", errbuf, NULL);
		/* The last line is the pod's termination message, which the
		 * operator's Warning Event quotes. */
		fprintf(stderr, "sluice-worker: purge %s: %s\n", job, errbuf);
		status = 1;
	} else {
		snprintf(seg, sizeof(seg), "%lld", counts.segments);
		snprintf(jobs, sizeof(jobs), "%lld", counts.jobs);
		snprintf(frames, sizeof(frames), "%lld", counts.frames);
		snprintf(stmts, sizeof(stmts), "%lld", counts.statements);
		log_info("purged", "job", job, "table", spec.sinks.postgres.table, "jobs", jobs,
		         "segments", seg, "frames", frames, "statements", stmts, NULL);
	}
	if (c != NULL)
		PQfinish(c);
	vj_spec_free(&spec);
	return status;
}
