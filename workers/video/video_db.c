/* video_db.c -- VideoJob plan and segment states in PostgreSQL; see
 * video_db.h. */
#include "video_db.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "secret_env.h"

/* The lock every Sluice worker takes around DDL (tw_sink_pg.c uses the same
 * one): "sluice" in ASCII. */
#define SCHEMA_LOCK_KEY "115108117105099101"
#define SQL_MAX 2048
/* COPY data is sent in pieces of about this size; a row is far shorter. */
#define COPY_CHUNK 65536
#define COPY_ROW_MAX 1024
/* The telemetry sink's connect timeout; no statement timeout: deleting a
 * long job's frame rows may take a while. */
#define VIDEO_DB_CONNECT_TIMEOUT_S 10
#define VIDEO_DB_APPLICATION_NAME "sluice-video"

__attribute__((format(printf, 4, 5))) static int pg_fail(PGconn *c, char *errbuf,
                                                         size_t errbuf_size, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t n;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(errbuf, errbuf_size, "postgres: %s: %s", what, m);
	/* libpq's messages end with a newline: one line in errbuf. */
	n = strlen(errbuf);
	while (n > 0 && (errbuf[n - 1] == '\n' || errbuf[n - 1] == ' '))
		errbuf[--n] = '\0';
	return -1;
}

/* Runs sql with params; the result when its status is ok (the caller
 * PQclears it), NULL after writing the reason. */
static PGresult *exec(PGconn *c, const char *what, const char *sql, int n,
                      const char *const *params, ExecStatusType ok, char *errbuf,
                      size_t errbuf_size)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (res != NULL && PQresultStatus(res) == ok)
		return res;
	if (res != NULL && PQresultErrorMessage(res)[0] != '\0') {
		size_t len;

		snprintf(errbuf, errbuf_size, "postgres: %s: %s", what, PQresultErrorMessage(res));
		len = strlen(errbuf);
		while (len > 0 && errbuf[len - 1] == '\n')
			errbuf[--len] = '\0';
	} else {
		pg_fail(c, errbuf, errbuf_size, "%s", what);
	}
	PQclear(res);
	return NULL;
}

static int cmd(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
               char *errbuf, size_t errbuf_size)
{
	PGresult *res = exec(c, what, sql, n, params, PGRES_COMMAND_OK, errbuf, errbuf_size);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static void rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

static int create_schema(PGconn *c, const char *frames_table, char *errbuf, size_t errbuf_size)
{
	static const char jobs[] =
	    "CREATE TABLE IF NOT EXISTS video_jobs ("
	    " job text PRIMARY KEY, source text NOT NULL, output text NOT NULL,"
	    " stream int NOT NULL, tb_num int NOT NULL, tb_den int NOT NULL,"
	    " segments_total int NOT NULL, frames_total bigint NOT NULL,"
	    " duration_ms bigint NOT NULL, state text NOT NULL DEFAULT 'planned',"
	    " reason text, created_at timestamptz NOT NULL DEFAULT now(),"
	    " updated_at timestamptz NOT NULL DEFAULT now())";
	static const char segments[] =
	    "CREATE TABLE IF NOT EXISTS video_segments ("
	    " job text NOT NULL REFERENCES video_jobs(job) ON DELETE CASCADE,"
	    " idx int NOT NULL, start_pts bigint NOT NULL, end_pts bigint NOT NULL,"
	    " start_ms bigint NOT NULL, end_ms bigint NOT NULL,"
	    " frames_expected bigint NOT NULL, frames_done bigint,"
	    " state text NOT NULL DEFAULT 'pending'"
	    "  CHECK (state IN ('pending', 'done', 'failed')),"
	    " attempts int NOT NULL DEFAULT 0, reason text, output text NOT NULL,"
	    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job, idx))";
	char frames[SQL_MAX];

	snprintf(frames, sizeof(frames),
	         "CREATE TABLE IF NOT EXISTS \"%s\" ("
	         " job text NOT NULL, segment int NOT NULL, frame int NOT NULL,"
	         " pts_ms bigint NOT NULL, mean_luma double precision,"
	         " motion double precision, scene_score double precision,"
	         " PRIMARY KEY (job, segment, frame))",
	         frames_table);
	if (cmd(c, "BEGIN", "BEGIN", 0, NULL, errbuf, errbuf_size) < 0)
		return -1;
	{
		PGresult *res = exec(c, "schema lock",
		                     "SELECT 1 FROM pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", 0,
		                     NULL, PGRES_TUPLES_OK, errbuf, errbuf_size);

		if (res == NULL) {
			rollback(c);
			return -1;
		}
		PQclear(res);
	}
	if (cmd(c, "create video_jobs", jobs, 0, NULL, errbuf, errbuf_size) < 0 ||
	    cmd(c, "create video_segments", segments, 0, NULL, errbuf, errbuf_size) < 0 ||
	    cmd(c, "create frames table", frames, 0, NULL, errbuf, errbuf_size) < 0 ||
	    cmd(c, "COMMIT", "COMMIT", 0, NULL, errbuf, errbuf_size) < 0) {
		rollback(c);
		return -1;
	}
	return 0;
}

/* video_db_connect, verifying the server against ca_pem when not NULL. */
static PGconn *db_connect(const char *dsn, const char *ca_pem, const char *frames_table,
                          char *errbuf, size_t errbuf_size)
{
	PGconn *c = pg_connect_ca_pem(dsn, ca_pem, VIDEO_DB_APPLICATION_NAME,
	                              VIDEO_DB_CONNECT_TIMEOUT_S, 0, NULL, errbuf, errbuf_size);

	if (c == NULL)
		return NULL;
	/* Notices (e.g. "relation already exists, skipping") are noise here. */
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	if (create_schema(c, frames_table, errbuf, errbuf_size) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *video_db_connect(const char *dsn, const char *frames_table, char *errbuf,
                         size_t errbuf_size)
{
	return db_connect(dsn, NULL, frames_table, errbuf, errbuf_size);
}

PGconn *video_db_connect_spec(const struct vj_spec *spec, char *errbuf, size_t errbuf_size)
{
	const struct spec_secret_ref *ref = &spec->sinks.postgres.dsn;
	const struct spec_secret_ref *ca = &spec->sinks.postgres.tls_ca;
	char var[512];
	const char *dsn, *ca_pem = NULL;

	if (ref->name == NULL) {
		snprintf(errbuf, errbuf_size,
		         "spec.sinks.postgres.dsn: required (a Secret reference {name, key})");
		return NULL;
	}
	dsn = secret_env_get(ref->name, ref->key, var, sizeof(var));
	if (dsn == NULL) {
		snprintf(errbuf, errbuf_size,
		         "spec.sinks.postgres.dsn: Secret %s key %s: environment variable %s "
		         "is not set",
		         ref->name, ref->key, var);
		return NULL;
	}
	if (ca->name != NULL) {
		ca_pem = secret_env_get(ca->name, ca->key, var, sizeof(var));
		if (ca_pem == NULL) {
			snprintf(
			    errbuf, errbuf_size,
			    "spec.sinks.postgres.tls.ca: Secret %s key %s: environment variable "
			    "%s is not set",
			    ca->name, ca->key, var);
			return NULL;
		}
	}
	return db_connect(dsn, ca_pem, spec->sinks.postgres.table, errbuf, errbuf_size);
}

static void i64(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
}

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* 1: segs matches the stored segments of job exactly. */
static int same_segments(PGconn *c, const char *job, const struct video_db_segment *segs, size_t n,
                         char *errbuf, size_t errbuf_size)
{
	struct video_db_job stored;
	struct video_db_segment *have = NULL;
	size_t nh = 0;
	int same;

	if (video_db_read_plan(c, job, &stored, &have, &nh, errbuf, errbuf_size) <= 0) {
		free(have);
		return -1;
	}
	same = nh == n;
	for (size_t i = 0; same && i < n; i++)
		same = have[i].idx == segs[i].idx && have[i].start_pts == segs[i].start_pts &&
		       have[i].end_pts == segs[i].end_pts &&
		       have[i].frames_expected == segs[i].frames_expected;
	free(have);
	return same;
}

int video_db_record_plan(PGconn *c, const struct video_db_job *job,
                         const struct video_db_segment *segs, size_t n, char *errbuf,
                         size_t errbuf_size)
{
	static const char ins_job[] =
	    "INSERT INTO video_jobs (job, source, output, stream, tb_num, tb_den,"
	    " segments_total, frames_total, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
	    " $9) ON CONFLICT (job) DO NOTHING";
	static const char ins_seg[] =
	    "INSERT INTO video_segments (job, idx, start_pts, end_pts, start_ms, end_ms,"
	    " frames_expected, output) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
	char stream[24], num[24], den[24], total[24], frames[24], dur[24];
	const char *jp[] = {job->job, job->source, job->output, stream, num,
	                    den,      total,       frames,      dur};
	PGresult *res;
	int inserted, same;

	i64(stream, job->stream);
	i64(num, job->tb_num);
	i64(den, job->tb_den);
	i64(total, (int64_t)n);
	i64(frames, job->frames_total);
	i64(dur, job->duration_ms);
	if (cmd(c, "BEGIN", "BEGIN", 0, NULL, errbuf, errbuf_size) < 0)
		return -1;
	res = exec(c, "insert video_jobs", ins_job, 9, jp, PGRES_COMMAND_OK, errbuf, errbuf_size);
	if (res == NULL) {
		rollback(c);
		return -1;
	}
	inserted = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (!inserted) {
		struct video_db_job stored;
		struct video_db_segment *have = NULL;
		size_t nh = 0;

		rollback(c);
		if (video_db_read_plan(c, job->job, &stored, &have, &nh, errbuf, errbuf_size) < 0)
			return -1;
		free(have);
		if (strcmp(stored.source, job->source) != 0 ||
		    stored.segments_total != (int32_t)n) {
			snprintf(
			    errbuf, errbuf_size,
			    "postgres: job %s: a different plan is recorded (source %s, %" PRId32
			    " segments); delete the job's rows to plan it again",
			    job->job, stored.source, stored.segments_total);
			return VIDEO_DB_E_CONFLICT;
		}
		same = same_segments(c, job->job, segs, n, errbuf, errbuf_size);
		if (same < 0)
			return -1;
		if (!same) {
			snprintf(errbuf, errbuf_size,
			         "postgres: job %s: the recorded segment boundaries differ from "
			         "this plan (the source changed?)",
			         job->job);
			return VIDEO_DB_E_CONFLICT;
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char idx[24], sp[24], ep[24], sm[24], em[24], fe[24];
		const char *sp_[] = {job->job, idx, sp, ep, sm, em, fe, segs[i].output};

		i64(idx, segs[i].idx);
		i64(sp, segs[i].start_pts);
		i64(ep, segs[i].end_pts);
		i64(sm, segs[i].start_ms);
		i64(em, segs[i].end_ms);
		i64(fe, segs[i].frames_expected);
		if (cmd(c, "insert video_segments", ins_seg, 8, sp_, errbuf, errbuf_size) < 0) {
			rollback(c);
			return -1;
		}
	}
	if (cmd(c, "COMMIT", "COMMIT", 0, NULL, errbuf, errbuf_size) < 0) {
		rollback(c);
		return -1;
	}
	return 1;
}

int video_db_read_plan(PGconn *c, const char *job, struct video_db_job *out,
                       struct video_db_segment **segs, size_t *n, char *errbuf, size_t errbuf_size)
{
	static const char q_job[] =
	    "SELECT job, source, output, stream, tb_num, tb_den, segments_total, frames_total,"
	    " duration_ms, state, reason FROM video_jobs WHERE job = $1";
	static const char q_seg[] =
	    "SELECT idx, start_pts, end_pts, start_ms, end_ms, frames_expected,"
	    " coalesce(frames_done, -1), state, attempts, output FROM video_segments"
	    " WHERE job = $1 ORDER BY idx";
	const char *p[] = {job};
	PGresult *res;
	int rows;

	memset(out, 0, sizeof(*out));
	*segs = NULL;
	*n = 0;
	res = exec(c, "read video_jobs", q_job, 1, p, PGRES_TUPLES_OK, errbuf, errbuf_size);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	copy_text(out->job, sizeof(out->job), PQgetvalue(res, 0, 0));
	copy_text(out->source, sizeof(out->source), PQgetvalue(res, 0, 1));
	copy_text(out->output, sizeof(out->output), PQgetvalue(res, 0, 2));
	out->stream = atoi(PQgetvalue(res, 0, 3));
	out->tb_num = atoi(PQgetvalue(res, 0, 4));
	out->tb_den = atoi(PQgetvalue(res, 0, 5));
	out->segments_total = atoi(PQgetvalue(res, 0, 6));
	out->frames_total = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	out->duration_ms = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
	copy_text(out->state, sizeof(out->state), PQgetvalue(res, 0, 9));
	copy_text(out->reason, sizeof(out->reason), PQgetvalue(res, 0, 10));
	PQclear(res);

	res = exec(c, "read video_segments", q_seg, 1, p, PGRES_TUPLES_OK, errbuf, errbuf_size);
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	*segs = calloc(rows > 0 ? (size_t)rows : 1, sizeof(**segs));
	if (*segs == NULL) {
		PQclear(res);
		snprintf(errbuf, errbuf_size, "postgres: read video_segments: out of memory");
		return -1;
	}
	for (int i = 0; i < rows; i++) {
		struct video_db_segment *s = &(*segs)[i];

		s->idx = atoi(PQgetvalue(res, i, 0));
		s->start_pts = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		s->end_pts = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		s->start_ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		s->end_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		s->frames_expected = strtoll(PQgetvalue(res, i, 5), NULL, 10);
		s->frames_done = strtoll(PQgetvalue(res, i, 6), NULL, 10);
		copy_text(s->state, sizeof(s->state), PQgetvalue(res, i, 7));
		s->attempts = atoi(PQgetvalue(res, i, 8));
		copy_text(s->output, sizeof(s->output), PQgetvalue(res, i, 9));
	}
	*n = (size_t)rows;
	PQclear(res);
	return 1;
}

int video_db_delete_job(PGconn *c, const char *job, const char *frames_table, char *errbuf,
                        size_t errbuf_size)
{
	char frames[SQL_MAX];
	const char *p[] = {job};

	snprintf(frames, sizeof(frames), "DELETE FROM \"%s\" WHERE job = $1", frames_table);
	if (cmd(c, "BEGIN", "BEGIN", 0, NULL, errbuf, errbuf_size) < 0)
		return -1;
	if (cmd(c, "delete frames", frames, 1, p, errbuf, errbuf_size) < 0 ||
	    cmd(c, "delete video_jobs", "DELETE FROM video_jobs WHERE job = $1", 1, p, errbuf,
	        errbuf_size) < 0 ||
	    cmd(c, "COMMIT", "COMMIT", 0, NULL, errbuf, errbuf_size) < 0) {
		rollback(c);
		return -1;
	}
	return 0;
}

int video_db_segment_counts(PGconn *c, const char *job, int64_t *total, int64_t *done,
                            int64_t *failed, char *errbuf, size_t errbuf_size)
{
	static const char q[] = "SELECT count(*), count(*) FILTER (WHERE state = 'done'),"
	                        " count(*) FILTER (WHERE state = 'failed')"
	                        " FROM video_segments WHERE job = $1";
	const char *p[] = {job};
	PGresult *res =
	    exec(c, "count video_segments", q, 1, p, PGRES_TUPLES_OK, errbuf, errbuf_size);

	if (res == NULL)
		return -1;
	*total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*done = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	*failed = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return 0;
}

/* Runs an UPDATE of one segment; an absent segment is an error. */
static int update_segment(PGconn *c, const char *what, const char *sql, int n, const char *const *p,
                          const char *job, int32_t idx, PGresult **out, char *errbuf,
                          size_t errbuf_size)
{
	PGresult *res = exec(c, what, sql, n, p, out != NULL ? PGRES_TUPLES_OK : PGRES_COMMAND_OK,
	                     errbuf, errbuf_size);

	if (res == NULL)
		return -1;
	if ((out != NULL && PQntuples(res) == 0) ||
	    (out == NULL && strcmp(PQcmdTuples(res), "0") == 0)) {
		PQclear(res);
		snprintf(errbuf, errbuf_size, "postgres: %s: job %s has no segment %" PRId32, what,
		         job, idx);
		return -1;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int video_db_segment_attempt(PGconn *c, const char *job, int32_t idx, int32_t *attempts,
                             char *errbuf, size_t errbuf_size)
{
	static const char q[] =
	    "UPDATE video_segments SET attempts = attempts + 1,"
	    " updated_at = now() WHERE job = $1 AND idx = $2 RETURNING attempts";
	char i[24];
	const char *p[] = {job, i};
	PGresult *res;

	i64(i, idx);
	if (update_segment(c, "segment attempt", q, 2, p, job, idx, &res, errbuf, errbuf_size) < 0)
		return -1;
	*attempts = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int video_db_segment_done(PGconn *c, const char *job, int32_t idx, int64_t frames, char *errbuf,
                          size_t errbuf_size)
{
	static const char q[] = "UPDATE video_segments SET state = 'done', frames_done = $3,"
	                        " reason = NULL, updated_at = now() WHERE job = $1 AND idx = $2";
	char i[24], f[24];
	const char *p[] = {job, i, f};

	i64(i, idx);
	i64(f, frames);
	return update_segment(c, "segment done", q, 3, p, job, idx, NULL, errbuf, errbuf_size);
}

int video_db_segment_failed(PGconn *c, const char *job, int32_t idx, const char *reason,
                            char *errbuf, size_t errbuf_size)
{
	static const char q[] = "UPDATE video_segments SET state = 'failed', reason = $3,"
	                        " updated_at = now() WHERE job = $1 AND idx = $2";
	char i[24];
	const char *p[] = {job, i, reason};

	i64(i, idx);
	return update_segment(c, "segment failed", q, 3, p, job, idx, NULL, errbuf, errbuf_size);
}

int video_db_job_state(PGconn *c, const char *job, const char *state, const char *reason,
                       char *errbuf, size_t errbuf_size)
{
	static const char q[] = "UPDATE video_jobs SET state = $2, reason = $3, updated_at = now()"
	                        " WHERE job = $1";
	const char *p[] = {job, state, reason};
	PGresult *res = exec(c, "job state", q, 3, p, PGRES_COMMAND_OK, errbuf, errbuf_size);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int put_double(char *buf, size_t size, double v)
{
	if (isnan(v))
		return snprintf(buf, size, "\\N");
	return snprintf(buf, size, "%.17g", v);
}

int video_db_copy_row(char *buf, size_t size, const char *job, int32_t segment, unsigned analysis,
                      const struct vseg_frame *row)
{
	const unsigned bit[3] = {VJ_ANALYSIS_MEAN_LUMA, VJ_ANALYSIS_MOTION,
	                         VJ_ANALYSIS_SCENE_SCORE};
	const double v[3] = {row->mean_luma, row->motion, row->scene_score};
	size_t n = 0;
	int w;

	for (const char *c = job; *c != '\0'; c++) {
		const char *esc = *c == '\\'   ? "\\\\"
		                  : *c == '\t' ? "\\t"
		                  : *c == '\n' ? "\\n"
		                  : *c == '\r' ? "\\r"
		                               : NULL;
		size_t len = esc != NULL ? 2 : 1;
		if (n + len >= size)
			return -1;
		if (esc != NULL)
			memcpy(buf + n, esc, 2);
		else
			buf[n] = *c;
		n += len;
	}
	w = snprintf(buf + n, size - n, "\t%" PRId32 "\t%" PRId64 "\t%" PRId64 "\t", segment,
	             row->index, row->pts_ms);
	if (w < 0 || (size_t)w >= size - n)
		return -1;
	n += (size_t)w;
	for (int i = 0; i < 3; i++) {
		w = put_double(buf + n, size - n, (analysis & bit[i]) ? v[i] : NAN);
		if (w < 0 || (size_t)w + 1 >= size - n)
			return -1;
		n += (size_t)w;
		buf[n++] = i < 2 ? '\t' : '\n';
		buf[n] = '\0';
	}
	return (int)n;
}

/* The COPY of rows, once the server is waiting for the data: sends them in
 * pieces and ends the copy, then reads the COPY's result. 0 or -1. */
static int copy_rows(PGconn *c, const char *job, int32_t segment, unsigned analysis,
                     const struct vseg_frame *rows, size_t n, char *errbuf, size_t errbuf_size)
{
	char *chunk = malloc(COPY_CHUNK + COPY_ROW_MAX);
	size_t len = 0;
	int rc = -1;

	if (chunk == NULL) {
		PQputCopyEnd(c, "out of memory");
		snprintf(errbuf, errbuf_size, "postgres: copy frame rows: out of memory");
		goto drain;
	}
	for (size_t i = 0; i < n; i++) {
		int w = video_db_copy_row(chunk + len, COPY_CHUNK + COPY_ROW_MAX - len, job,
		                          segment, analysis, &rows[i]);
		if (w < 0) {
			PQputCopyEnd(c, "row too long");
			snprintf(errbuf, errbuf_size, "postgres: copy frame rows: row too long");
			goto drain;
		}
		len += (size_t)w;
		if (len >= COPY_CHUNK || i + 1 == n) {
			if (PQputCopyData(c, chunk, (int)len) != 1) {
				pg_fail(c, errbuf, errbuf_size, "copy frame rows");
				goto drain;
			}
			len = 0;
		}
	}
	if (PQputCopyEnd(c, NULL) != 1) {
		pg_fail(c, errbuf, errbuf_size, "copy frame rows");
		goto drain;
	}
	rc = 0;
drain:
	/* The COPY's own result, then nothing. */
	for (PGresult *r = PQgetResult(c); r != NULL; r = PQgetResult(c)) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *msg = PQresultErrorMessage(r);
			snprintf(errbuf, errbuf_size, "postgres: copy frame rows: %.*s",
			         (int)strcspn(msg, "\n"), msg);
			rc = -1;
		}
		PQclear(r);
	}
	free(chunk);
	return rc;
}

int video_db_segment_finish(PGconn *c, const char *frames_table, const char *job, int32_t segment,
                            unsigned analysis, const struct vseg_frame *rows, size_t n,
                            int64_t frames, char *errbuf, size_t errbuf_size)
{
	char seg[24], sql[SQL_MAX];
	const char *p[] = {job, seg};

	analysis &= VJ_ANALYSIS_ALL;
	i64(seg, segment);
	if (cmd(c, "BEGIN", "BEGIN", 0, NULL, errbuf, errbuf_size) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "DELETE FROM \"%s\" WHERE job = $1 AND segment = $2",
	         frames_table);
	if (cmd(c, "delete frame rows", sql, 2, p, errbuf, errbuf_size) < 0)
		goto rollback;
	/* No analysis asked for: no rows, and no COPY to set up. */
	if (analysis != 0 && n > 0) {
		PGresult *res;

		snprintf(sql, sizeof(sql),
		         "COPY \"%s\" (job, segment, frame, pts_ms, mean_luma, motion, scene_score)"
		         " FROM STDIN",
		         frames_table);
		res = exec(c, "copy frame rows", sql, 0, NULL, PGRES_COPY_IN, errbuf, errbuf_size);
		if (res == NULL)
			goto rollback;
		PQclear(res);
		if (copy_rows(c, job, segment, analysis, rows, n, errbuf, errbuf_size) < 0)
			goto rollback;
	}
	if (video_db_segment_done(c, job, segment, frames, errbuf, errbuf_size) < 0 ||
	    cmd(c, "COMMIT", "COMMIT", 0, NULL, errbuf, errbuf_size) < 0)
		goto rollback;
	return 0;
rollback:
	if (PQstatus(c) == CONNECTION_OK)
		rollback(c);
	return -1;
}
