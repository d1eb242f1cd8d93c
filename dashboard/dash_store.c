/* dash_store.c -- reads of the result stores for the dashboard; see
 * dash_store.h. */
#include "dash_store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "dash_pool.h"
#include "dash_secret.h"
#include "export.h"
#include "pg.h"
#include "redis_conn.h"
#include "tw_spec.h"
#include "vj_spec.h"

#define SQL_MAX 2048
#define APP_NAME "sluice-dashboard"
#define IDLE_MAX 16
#define BOOTSTRAP_UNSET "unset:9092"
/* SCAN calls one latest read may make before it answers with what it has. */
#define SCAN_CALLS_MAX 200
/* pg_exec: the table is not there (SQLSTATE 42P01, undefined_table). */
#define NO_TABLE (-2)
/* A pool target as built: longer than DASH_POOL_TARGET_MAX is never kept
 * (dash_pool_give closes it), so a long one is not cut into another's. */
#define TARGET_BUF 2048

struct dash_store {
	struct kube_client *kube;
	struct dash_defaults defaults;
	int timeout_ms;
	struct dash_pool *pg, *redis;
};

/* ------------------------------------------------------------- replies */

unsigned int dash_reply_error(struct dash_reply *r, unsigned int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o == NULL || cJSON_AddStringToObject(o, "error", msg) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	r->status = status;
	r->type = "application/json";
	r->body = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (r->body == NULL) {
		r->body = strdup("{\"error\":\"out of memory\"}");
		r->status = 500;
	}
	r->len = r->body != NULL ? strlen(r->body) : 0;
	return r->status;
}

unsigned int dash_reply_json(struct dash_reply *r, unsigned int status, cJSON *obj)
{
	char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;

	cJSON_Delete(obj);
	if (text == NULL)
		return dash_reply_error(r, 500, "out of memory");
	r->status = status;
	r->type = "application/json";
	r->body = text;
	r->len = strlen(text);
	return status;
}

/* ------------------------------------------------------------- the store */

static void pg_close(void *conn)
{
	PQfinish(conn);
}

static void redis_close(void *conn)
{
	redisFree(conn);
}

struct dash_store *dash_store_new(const struct dash_store_options *o)
{
	struct dash_store *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->kube = o->kube;
	s->defaults = o->defaults;
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	s->pg = dash_pool_new(IDLE_MAX, pg_close);
	s->redis = dash_pool_new(IDLE_MAX, redis_close);
	if (s->pg == NULL || s->redis == NULL) {
		dash_store_free(s);
		return NULL;
	}
	return s;
}

void dash_store_free(struct dash_store *s)
{
	if (s == NULL)
		return;
	dash_pool_free(s->pg);
	dash_pool_free(s->redis);
	free(s);
}

size_t dash_store_idle(struct dash_store *s)
{
	return dash_pool_idle(s->pg) + dash_pool_idle(s->redis);
}

/* ------------------------------------------------------------- specs */

/* The effective spec, with a placeholder bootstrap when none is known. */
static cJSON *effective(const struct dash_store *s, const cJSON *obj, int *bootstrap_known)
{
	cJSON *spec =
	    dash_view_effective_spec(cJSON_GetObjectItemCaseSensitive(obj, "spec"), &s->defaults);
	cJSON *k;

	*bootstrap_known = 1;
	if (spec == NULL)
		return NULL;
	k = cJSON_GetObjectItemCaseSensitive(spec, "kafka");
	if (k == NULL)
		k = cJSON_AddObjectToObject(spec, "kafka");
	if (cJSON_IsObject(k) && !cJSON_HasObjectItem(k, "bootstrap")) {
		*bootstrap_known = 0;
		if (cJSON_AddStringToObject(k, "bootstrap", BOOTSTRAP_UNSET) == NULL) {
			cJSON_Delete(spec);
			return NULL;
		}
	}
	return spec;
}

int dash_store_tw_spec(const struct dash_store *s, const cJSON *obj, struct tw_spec *out,
                       int *bootstrap_known, char *errbuf, size_t errbuf_size)
{
	cJSON *spec = effective(s, obj, bootstrap_known);
	const char *ns = dash_json_str(obj, "metadata.namespace");
	const char *name = dash_json_str(obj, "metadata.name");
	int rc;

	memset(out, 0, sizeof(*out));
	if (spec == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	rc = tw_spec_parse(spec, name != NULL ? name : "", ns != NULL ? ns : "", out, errbuf,
	                   errbuf_size);
	cJSON_Delete(spec);
	return rc < 0 ? -1 : 0;
}

static int vj_spec_of(const struct dash_store *s, const cJSON *obj, struct vj_spec *out,
                      char *errbuf, size_t errbuf_size)
{
	int known;
	cJSON *spec = effective(s, obj, &known);
	const char *ns = dash_json_str(obj, "metadata.namespace");
	const char *name = dash_json_str(obj, "metadata.name");
	int rc;

	memset(out, 0, sizeof(*out));
	if (spec == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	rc = vj_spec_parse(spec, name != NULL ? name : "", ns != NULL ? ns : "", out, errbuf,
	                   errbuf_size);
	cJSON_Delete(spec);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------- PostgreSQL */

/* A connection for the sink pg of namespace ns (the DSN in its Secret; with
 * tls.ca, the server verified against that CA, as the workers do: pg.h's
 * pg_connect_ca_pem): an idle one, or a new one (*reused says which). The
 * target (the pool's key) names both Secrets, so a connection made with
 * one CA is never lent for another. NULL with errbuf set. */
static PGconn *pg_take(struct dash_store *s, const char *ns, const struct spec_postgres *pg,
                       char *target, size_t target_size, int *reused, char *errbuf,
                       size_t errbuf_size)
{
	const struct spec_secret_ref *ref = &pg->dsn, *ca = &pg->tls_ca;
	char *dsn = NULL, *ca_pem = NULL;
	PGconn *c;

	snprintf(target, target_size, "%s/%s/%s%s%s%s%s", ns, ref->name, ref->key,
	         ca->name != NULL ? " ca " : "", ca->name != NULL ? ca->name : "",
	         ca->name != NULL ? "/" : "", ca->name != NULL ? ca->key : "");
	c = dash_pool_take(s->pg, target);
	*reused = c != NULL;
	if (c != NULL)
		return c;
	if (dash_secret_get(s->kube, ns, ref->name, ref->key, &dsn, errbuf, errbuf_size) != 0)
		return NULL;
	if (ca->name != NULL &&
	    dash_secret_get(s->kube, ns, ca->name, ca->key, &ca_pem, errbuf, errbuf_size) != 0) {
		dash_secret_free(dsn);
		return NULL;
	}
	c = pg_connect_ca_pem(dsn, ca_pem, APP_NAME, (s->timeout_ms + 999) / 1000, s->timeout_ms,
	                      NULL, errbuf, errbuf_size);
	dash_secret_free(dsn);
	dash_secret_free(ca_pem);
	return c;
}

/* Runs sql with params on a connection for ref; *res (PQclear it) holds
 * the tuples. A kept connection that turns out dead is replaced once.
 * Returns 0, NO_TABLE when the table does not exist (yet: the sink makes
 * it on its first write), or -1 with errbuf set. */
static int pg_exec(struct dash_store *s, const char *ns, const struct spec_postgres *ref,
                   const char *sql, int n, const char *const *params, PGresult **res, char *errbuf,
                   size_t errbuf_size)
{
	char target[TARGET_BUF];

	*res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused;
		PGconn *c =
		    pg_take(s, ns, ref, target, sizeof(target), &reused, errbuf, errbuf_size);
		PGresult *r;

		if (c == NULL)
			return -1;
		r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
		if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
			dash_pool_give(s->pg, target, c);
			*res = r;
			return 0;
		}
		snprintf(errbuf, errbuf_size, "postgres: %s",
		         r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
		errbuf[strcspn(errbuf, "\n")] = '\0';
		const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		int missing = state != NULL && strcmp(state, "42P01") == 0;
		PQclear(r);
		if (PQstatus(c) == CONNECTION_OK) {
			dash_pool_give(s->pg, target,
			               c); /* a query error: the connection is fine */
			return missing ? NO_TABLE : -1;
		}
		dash_pool_drop(s->pg, c);
		if (!reused)
			return -1;
	}
	return -1;
}

/* The cell as a number divided by div (1000: ms to s, exactly rounded),
 * or null. */
static cJSON *num_or_null(const PGresult *r, int row, int col, double div)
{
	if (PQgetisnull(r, row, col))
		return cJSON_CreateNull();
	return cJSON_CreateNumber(strtod(PQgetvalue(r, row, col), NULL) / div);
}

/* Appends column col of every row to a new array named name in o (empty
 * for r NULL). */
static int column(cJSON *o, const char *name, const PGresult *r, int col, double div)
{
	cJSON *arr = cJSON_AddArrayToObject(o, name);

	if (arr == NULL)
		return -1;
	for (int i = 0; r != NULL && i < PQntuples(r); i++) {
		cJSON *v = num_or_null(r, i, col, div);
		if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			return -1;
		}
	}
	return 0;
}

unsigned int dash_store_frames(struct dash_store *s, const cJSON *obj, int max_points,
                               struct dash_reply *r)
{
	struct vj_spec spec;
	char err[1024], sql[SQL_MAX], job[600], bucket[32], cut[32];
	PGresult *res = NULL;
	cJSON *o = NULL;
	long long frames, max_ms, b = 1;
	int rc;

	if (vj_spec_of(s, obj, &spec, err, sizeof(err)) < 0)
		return dash_reply_error(r, 409, "the VideoJob's spec: %s", err);
	if (!spec.sinks.postgres.enabled || spec.sinks.postgres.dsn.name == NULL) {
		vj_spec_free(&spec);
		return dash_reply_error(
		    r, 409,
		    "the VideoJob has no spec.sinks.postgres (and the dashboard "
		    "no --postgres-secret): no frame rows to read");
	}
	if (max_points < 10 || max_points > DASH_FRAMES_POINTS_MAX)
		max_points = DASH_FRAMES_POINTS_DEFAULT;
	snprintf(job, sizeof(job), "%s/%s", spec.namespace, spec.name);
	const char *p1[] = {job};
	snprintf(sql, sizeof(sql),
	         "SELECT count(*), coalesce(max(pts_ms), 0) FROM \"%s\" WHERE job = $1",
	         spec.sinks.postgres.table);
	rc = pg_exec(s, spec.namespace, &spec.sinks.postgres, sql, 1, p1, &res, err, sizeof(err));
	if (rc == NO_TABLE) {
		/* No frame written yet: the process workers make the table. */
		o = cJSON_CreateObject();
		cJSON *none = o != NULL ? cJSON_AddObjectToObject(o, "cuts") : NULL;
		if (none == NULL || cJSON_AddStringToObject(o, "job", job) == NULL ||
		    cJSON_AddNumberToObject(o, "frames", 0) == NULL ||
		    cJSON_AddNumberToObject(o, "bucketMs", 1) == NULL ||
		    cJSON_AddNumberToObject(o, "cutThreshold", DASH_SCENE_CUT) == NULL ||
		    column(o, "t", res, 0, 1) < 0 || column(o, "meanLuma", res, 1, 1) < 0 ||
		    column(o, "motion", res, 2, 1) < 0 || column(o, "sceneScore", res, 3, 1) < 0 ||
		    column(none, "t", res, 0, 1) < 0 || column(none, "score", res, 1, 1) < 0)
			goto nomem;
		vj_spec_free(&spec);
		return dash_reply_json(r, 200, o);
	}
	if (rc < 0)
		goto store_error;
	frames = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	max_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;
	if (frames > max_points)
		b = max_ms / max_points + 1;
	snprintf(bucket, sizeof(bucket), "%lld", b);
	const char *p2[] = {job, bucket};
	if (b <= 1)
		snprintf(sql, sizeof(sql),
		         "SELECT pts_ms, mean_luma, motion, scene_score FROM \"%s\" WHERE job = $1 "
		         "ORDER BY pts_ms, segment, frame LIMIT %d",
		         spec.sinks.postgres.table, DASH_FRAMES_POINTS_MAX);
	else
		snprintf(sql, sizeof(sql),
		         "SELECT (pts_ms / $2::bigint) * $2::bigint AS t, avg(mean_luma), "
		         "avg(motion), max(scene_score) FROM \"%s\" WHERE job = $1 GROUP BY 1 "
		         "ORDER BY 1",
		         spec.sinks.postgres.table);
	if (pg_exec(s, spec.namespace, &spec.sinks.postgres, sql, b <= 1 ? 1 : 2, p2, &res, err,
	            sizeof(err)) < 0)
		goto store_error;
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "job", job) == NULL ||
	    cJSON_AddNumberToObject(o, "frames", (double)frames) == NULL ||
	    cJSON_AddNumberToObject(o, "bucketMs", (double)b) == NULL ||
	    cJSON_AddNumberToObject(o, "cutThreshold", DASH_SCENE_CUT) == NULL ||
	    column(o, "t", res, 0, 1000) < 0 || column(o, "meanLuma", res, 1, 1) < 0 ||
	    column(o, "motion", res, 2, 1) < 0 || column(o, "sceneScore", res, 3, 1) < 0)
		goto nomem;
	PQclear(res);
	res = NULL;
	snprintf(cut, sizeof(cut), "%g", DASH_SCENE_CUT);
	const char *p3[] = {job, cut};
	snprintf(sql, sizeof(sql),
	         "SELECT pts_ms, scene_score FROM \"%s\" WHERE job = $1 AND scene_score >= "
	         "$2::float8 ORDER BY pts_ms LIMIT %d",
	         spec.sinks.postgres.table, DASH_CUTS_MAX);
	if (pg_exec(s, spec.namespace, &spec.sinks.postgres, sql, 2, p3, &res, err, sizeof(err)) <
	    0)
		goto store_error;
	cJSON *cuts = cJSON_AddObjectToObject(o, "cuts");
	if (cuts == NULL || column(cuts, "t", res, 0, 1000) < 0 ||
	    column(cuts, "score", res, 1, 1) < 0)
		goto nomem;
	PQclear(res);
	vj_spec_free(&spec);
	return dash_reply_json(r, 200, o);
store_error:
	cJSON_Delete(o);
	vj_spec_free(&spec);
	return dash_reply_error(r, 502, "%s", err);
nomem:
	PQclear(res);
	cJSON_Delete(o);
	vj_spec_free(&spec);
	return dash_reply_error(r, 500, "out of memory");
}

/* The key's fields (split at TW_KEY_SEP) as an array in o. */
static int key_fields(cJSON *o, const char *key)
{
	cJSON *arr = cJSON_AddArrayToObject(o, "keyFields");
	const char *p = key;

	if (arr == NULL)
		return -1;
	for (;;) {
		const char *sep = strchr(p, TW_KEY_SEP);
		size_t n = sep != NULL ? (size_t)(sep - p) : strlen(p);
		char part[512];
		cJSON *v;

		snprintf(part, sizeof(part), "%.*s", (int)(n < sizeof(part) ? n : sizeof(part) - 1),
		         p);
		v = cJSON_CreateString(part);
		if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			return -1;
		}
		if (sep == NULL)
			return 0;
		p = sep + 1;
	}
}

/* The series for (key, field) in arr, made when new. */
static cJSON *series(cJSON *arr, const char *key, const char *field)
{
	static const char *const cols[] = {"t", "count", "mean", "min", "max", "p95", NULL};
	cJSON *it;

	/* Rows come ordered by key and field, so the series is the last one
	 * when it exists. */
	it = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
	if (it != NULL && strcmp(dash_json_str(it, "key"), key) == 0 &&
	    strcmp(dash_json_str(it, "field"), field) == 0)
		return it;
	it = cJSON_CreateObject();
	if (it == NULL || !cJSON_AddItemToArray(arr, it))
		goto fail;
	if (cJSON_AddStringToObject(it, "key", key) == NULL || key_fields(it, key) < 0 ||
	    cJSON_AddStringToObject(it, "field", field) == NULL)
		return NULL;
	for (size_t i = 0; cols[i] != NULL; i++)
		if (cJSON_AddArrayToObject(it, cols[i]) == NULL)
			return NULL;
	return it;
fail:
	cJSON_Delete(it);
	return NULL;
}

unsigned int dash_store_history(struct dash_store *s, const cJSON *obj, int64_t since_ms,
                                const char *key, const char *field, long limit,
                                struct dash_reply *r)
{
	static const char *const cols[] = {"t", "count", "mean", "min", "max", "p95", NULL};
	struct tw_spec spec;
	char err[1024], sql[SQL_MAX], resource[600], since[32], lim[32];
	PGresult *res = NULL;
	cJSON *o = NULL, *arr;
	int known, np = 3;
	const char *params[5];

	if (dash_store_tw_spec(s, obj, &spec, &known, err, sizeof(err)) < 0)
		return dash_reply_error(r, 409, "the TelemetryWindow's spec: %s", err);
	if (!spec.sinks.postgres.enabled) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 409,
		                        "the TelemetryWindow has no spec.sinks.postgres (and the "
		                        "dashboard no --postgres-secret): no history to read");
	}
	if (limit < 1 || limit > DASH_HISTORY_ROWS_MAX)
		limit = DASH_HISTORY_ROWS_MAX;
	snprintf(resource, sizeof(resource), "%s/%s", spec.namespace, spec.name);
	snprintf(since, sizeof(since), "%.3f", (double)since_ms / 1000.0);
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	params[0] = resource;
	params[1] = since;
	params[2] = lim;
	char cond[128] = "";
	if (key != NULL && key[0] != '\0') {
		params[np++] = key;
		snprintf(cond, sizeof(cond), " AND key = $%d", np);
	}
	if (field != NULL) {
		params[np++] = field;
		snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond), " AND field = $%d", np);
	}
	/* The newest rows when there are too many: the newest windows matter. */
	snprintf(sql, sizeof(sql),
	         "SELECT * FROM (SELECT key, extract(epoch FROM window_start)::float8 AS t, "
	         "field, count, mean, min, max, p95 FROM \"%s\" WHERE resource = $1 AND "
	         "window_start >= to_timestamp($2::float8)%s ORDER BY window_start DESC LIMIT "
	         "$3::bigint) x ORDER BY key, field, t",
	         spec.sinks.postgres.table, cond);
	int rc = pg_exec(s, spec.namespace, &spec.sinks.postgres, sql, np, params, &res, err,
	                 sizeof(err));
	if (rc < 0 && rc != NO_TABLE) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 502, "%s", err);
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "series");
	/* No table: nothing written yet (the sink makes it on its first write). */
	int rows = res != NULL ? PQntuples(res) : 0, truncated = rows > limit;
	if (truncated)
		rows = (int)limit;
	if (arr == NULL || cJSON_AddStringToObject(o, "resource", resource) == NULL ||
	    cJSON_AddNumberToObject(o, "rows", rows) == NULL ||
	    cJSON_AddBoolToObject(o, "truncated", truncated) == NULL)
		goto nomem;
	for (int i = 0; i < rows; i++) {
		cJSON *sr = series(arr, PQgetvalue(res, i, 0), PQgetvalue(res, i, 2));
		if (sr == NULL)
			goto nomem;
		for (int c = 0; cols[c] != NULL; c++) {
			int col = c == 0 ? 1 : c + 2;
			cJSON *v = num_or_null(res, i, col, 1);
			if (v == NULL || !cJSON_AddItemToArray(
			                     cJSON_GetObjectItemCaseSensitive(sr, cols[c]), v)) {
				cJSON_Delete(v);
				goto nomem;
			}
		}
	}
	PQclear(res);
	tw_spec_free(&spec);
	return dash_reply_json(r, 200, o);
nomem:
	PQclear(res);
	cJSON_Delete(o);
	tw_spec_free(&spec);
	return dash_reply_error(r, 500, "out of memory");
}

unsigned int dash_store_export(struct dash_store *s, const cJSON *obj, long long last,
                               const char *key, struct dash_reply *r)
{
	struct tw_spec spec;
	char err[1024], sql[SQL_MAX], resource[600], n[32], target[TARGET_BUF];
	const char *params[3];
	char *text = NULL;
	size_t text_len = 0;
	PGconn *c = NULL;
	PGresult *res;
	FILE *f = NULL;
	int known, reused, failed = 0;

	if (dash_store_tw_spec(s, obj, &spec, &known, err, sizeof(err)) < 0)
		return dash_reply_error(r, 409, "the TelemetryWindow's spec: %s", err);
	if (!spec.sinks.postgres.enabled) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 409,
		                        "the TelemetryWindow has no spec.sinks.postgres (and the "
		                        "dashboard no --postgres-secret): nothing to export");
	}
	if (last < 1 || last > DASH_EXPORT_LAST_MAX) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 400, "last must be 1..%d", DASH_EXPORT_LAST_MAX);
	}
	snprintf(resource, sizeof(resource), "%s/%s", spec.namespace, spec.name);
	snprintf(n, sizeof(n), "%lld", last);
	params[0] = resource;
	params[1] = n;
	params[2] = key;
	if (export_sql(sql, sizeof(sql), spec.sinks.postgres.table, key != NULL) < 0) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 500, "query too long");
	}
	c = pg_take(s, spec.namespace, &spec.sinks.postgres, target, sizeof(target), &reused, err,
	            sizeof(err));
	if (c == NULL) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 502, "%s", err);
	}
	/* A kept connection the server closed meanwhile fails to send: once,
	 * a new one. */
	int sent = PQsendQueryParams(c, sql, key != NULL ? 3 : 2, NULL, params, NULL, NULL, 0);
	if (!sent && reused) {
		dash_pool_drop(s->pg, c);
		c = pg_take(s, spec.namespace, &spec.sinks.postgres, target, sizeof(target),
		            &reused, err, sizeof(err));
		if (c == NULL) {
			tw_spec_free(&spec);
			return dash_reply_error(r, 502, "%s", err);
		}
		sent = PQsendQueryParams(c, sql, key != NULL ? 3 : 2, NULL, params, NULL, NULL, 0);
	}
	if (!sent || !PQsetSingleRowMode(c)) {
		snprintf(err, sizeof(err), "postgres: %s", PQerrorMessage(c));
		failed = 2;
	}
	f = open_memstream(&text, &text_len);
	if (f == NULL || fprintf(f, "%s\n", export_csv_header) < 0)
		failed = failed ? failed : 3;
	/* Single-row mode: the CSV grows row by row, up to its bound; every
	 * result is read so the connection ends clean. */
	for (;;) {
		res = sent ? PQgetResult(c) : NULL;
		if (res == NULL)
			break;
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && !failed) {
			for (int col = 0; col < PQnfields(res) && !failed; col++)
				if ((col > 0 && fputc(',', f) == EOF) ||
				    (!PQgetisnull(res, 0, col) &&
				     export_csv_cell(f, PQgetvalue(res, 0, col)) == EOF))
					failed = 3;
			if (!failed && fputc('\n', f) == EOF)
				failed = 3;
			if (!failed && (size_t)ftell(f) > DASH_EXPORT_BYTES_MAX)
				failed = 4;
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !failed) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			/* No table yet (nothing written): the header alone. */
			if (state == NULL || strcmp(state, "42P01") != 0) {
				snprintf(err, sizeof(err), "postgres: %s",
				         PQresultErrorMessage(res));
				failed = 2;
			}
		}
		PQclear(res);
	}
	if (f != NULL && fclose(f) != 0 && !failed)
		failed = 3;
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE)
		dash_pool_give(s->pg, target, c);
	else
		dash_pool_drop(s->pg, c);
	tw_spec_free(&spec);
	if (failed) {
		free(text);
		err[strcspn(err, "\n")] = '\0';
		if (failed == 2)
			return dash_reply_error(r, 502, "%s", err);
		if (failed == 4)
			return dash_reply_error(
			    r, 413, "the CSV passes %u MiB: ask for fewer windows (last)",
			    DASH_EXPORT_BYTES_MAX >> 20);
		return dash_reply_error(r, 500, "out of memory");
	}
	r->status = 200;
	r->type = "text/csv; charset=utf-8";
	r->body = text;
	r->len = text_len;
	return 200;
}

/* ------------------------------------------------------------- Redis */

/* The pool's key for the Redis sink of spec with credentials mode: the
 * address, and who is AUTHed as (never a password), so a connection is
 * lent only for the credentials it was made with. */
static void redis_target(char *buf, size_t size, enum dash_redis_auth mode,
                         const struct tw_spec *spec)
{
	const struct spec_secret_ref *pw = &spec->sinks.redis.password;

	switch (mode) {
	case DASH_REDIS_AUTH_SECRET:
		snprintf(buf, size, "%s user %s secret %s/%s/%s", spec->sinks.redis.addr,
		         spec->sinks.redis.username != NULL ? spec->sinks.redis.username : "",
		         spec->namespace, pw->name, pw->key);
		return;
	case DASH_REDIS_AUTH_STATUS:
		snprintf(buf, size, "%s status", spec->sinks.redis.addr);
		return;
	case DASH_REDIS_AUTH_NONE:
		break;
	}
	snprintf(buf, size, "%s", spec->sinks.redis.addr);
}

/* A connection to spec's Redis sink AUTHed as mode says: an idle one for
 * target, or a new one (*reused says which). NULL with errbuf set. */
static redisContext *redis_take(struct dash_store *s, enum dash_redis_auth mode,
                                const struct tw_spec *spec, const char *target, int *reused,
                                char *errbuf, size_t errbuf_size)
{
	redisContext *c = dash_pool_take(s->redis, target);
	const struct spec_secret_ref *ref = &spec->sinks.redis.password;
	struct redis_auth auth = {NULL, NULL};
	char *password = NULL;

	*reused = c != NULL;
	if (c != NULL)
		return c;
	if (mode == DASH_REDIS_AUTH_STATUS)
		auth = redis_conn_status_auth();
	if (mode == DASH_REDIS_AUTH_SECRET) {
		if (dash_secret_get(s->kube, spec->namespace, ref->name, ref->key, &password,
		                    errbuf, errbuf_size) != 0)
			return NULL;
		auth.user = spec->sinks.redis.username;
		auth.password = password;
	}
	c = redis_conn_open_auth(spec->sinks.redis.addr, &auth, s->timeout_ms, errbuf, errbuf_size);
	dash_secret_free(password);
	return c;
}

/* prefix with SCAN's glob characters escaped, then "*:timeline". */
static int scan_pattern(char *buf, size_t size, const char *prefix)
{
	size_t n = 0;

	for (const char *p = prefix; *p != '\0'; p++) {
		if (n + 3 >= size)
			return -1;
		if (strchr("*?[]\\", *p) != NULL)
			buf[n++] = '\\';
		buf[n++] = *p;
	}
	if (n + sizeof("*:timeline") > size)
		return -1;
	memcpy(buf + n, "*:timeline", sizeof("*:timeline"));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The timeline keys under prefix, at most max (sorted), into keys (each
 * malloc'd). Returns how many, or -1 with errbuf set; *truncated when
 * there were more. */
static int scan_keys(redisContext *c, const char *prefix, int max, char **keys, int *truncated,
                     char *errbuf, size_t errbuf_size)
{
	char pattern[1200], cursor[32] = "0";
	int n = 0;

	*truncated = 0;
	if (scan_pattern(pattern, sizeof(pattern), prefix) < 0)
		return snprintf(errbuf, errbuf_size, "spec.sinks.redis.prefix: too long"), -1;
	for (int calls = 0; calls < SCAN_CALLS_MAX; calls++) {
		redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING) {
			snprintf(errbuf, errbuf_size, "redis: SCAN: %s",
			         rep == NULL                      ? c->errstr
			         : rep->type == REDIS_REPLY_ERROR ? rep->str
			                                          : "unexpected reply");
			freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (size_t i = 0; i < rep->element[1]->elements; i++) {
			redisReply *k = rep->element[1]->element[i];
			if (k->type != REDIS_REPLY_STRING)
				continue;
			if (n == max) {
				*truncated = 1;
				continue;
			}
			keys[n] = strndup(k->str, k->len);
			if (keys[n] != NULL)
				n++;
		}
		freeReplyObject(rep);
		if (strcmp(cursor, "0") == 0)
			break;
		if (calls == SCAN_CALLS_MAX - 1)
			*truncated = 1;
	}
	qsort(keys, (size_t)n, sizeof(*keys), cmp_str);
	return n;
}

/* One key's last windows: {"key","keyFields","windows":[...]}. NULL with
 * errbuf set (a Redis error) or out of memory. */
static cJSON *key_windows(redisContext *c, const char *rkey, const char *prefix, int last,
                          char *errbuf, size_t errbuf_size)
{
	size_t pl = strlen(prefix), kl = strlen(rkey);
	char key[1024];
	cJSON *o, *arr;
	redisReply *rep;

	if (kl < pl + strlen(":timeline") || kl - pl - strlen(":timeline") >= sizeof(key))
		return NULL;
	memcpy(key, rkey + pl, kl - pl - strlen(":timeline"));
	key[kl - pl - strlen(":timeline")] = '\0';
	rep = redisCommand(c, "ZRANGE %s %d -1", rkey, -last);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		snprintf(errbuf, errbuf_size, "redis: ZRANGE: %s",
		         rep == NULL                      ? c->errstr
		         : rep->type == REDIS_REPLY_ERROR ? rep->str
		                                          : "unexpected reply");
		freeReplyObject(rep);
		return NULL;
	}
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "key", key) == NULL || key_fields(o, key) < 0)
		goto nomem;
	arr = cJSON_AddArrayToObject(o, "windows");
	if (arr == NULL)
		goto nomem;
	for (size_t i = 0; i < rep->elements; i++) {
		redisReply *m = rep->element[i];
		cJSON *w =
		    m->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(m->str, m->len) : NULL;
		if (w == NULL)
			continue; /* not a window: skipped */
		if (!cJSON_AddItemToArray(arr, w)) {
			cJSON_Delete(w);
			goto nomem;
		}
	}
	freeReplyObject(rep);
	return o;
nomem:
	snprintf(errbuf, errbuf_size, "out of memory");
	freeReplyObject(rep);
	cJSON_Delete(o);
	return NULL;
}

unsigned int dash_store_latest(struct dash_store *s, const cJSON *obj, int max_keys, int last,
                               struct dash_reply *r)
{
	struct tw_spec spec;
	char err[1024], target[TARGET_BUF];
	char *keys[DASH_LATEST_KEYS_MAX];
	enum dash_redis_auth mode;
	redisContext *c = NULL;
	cJSON *o = NULL, *arr;
	int known, reused = 0, n = -1, truncated = 0, status = 200;

	if (dash_store_tw_spec(s, obj, &spec, &known, err, sizeof(err)) < 0)
		return dash_reply_error(r, 409, "the TelemetryWindow's spec: %s", err);
	if (!spec.sinks.redis.enabled) {
		tw_spec_free(&spec);
		return dash_reply_error(r, 409,
		                        "the TelemetryWindow has no spec.sinks.redis (and the "
		                        "dashboard no --redis-addr): no latest windows to read");
	}
	if (max_keys < 1 || max_keys > DASH_LATEST_KEYS_MAX)
		max_keys = 20;
	if (last < 1 || last > 60)
		last = 60;
	mode = dash_view_redis_auth(cJSON_GetObjectItemCaseSensitive(obj, "spec"),
	                            spec.sinks.redis.password.name != NULL);
	redis_target(target, sizeof(target), mode, &spec);
	for (int attempt = 0; attempt < 2 && n < 0; attempt++) {
		c = redis_take(s, mode, &spec, target, &reused, err, sizeof(err));
		if (c == NULL)
			break;
		n = scan_keys(c, spec.sinks.redis.prefix, max_keys, keys, &truncated, err,
		              sizeof(err));
		if (n < 0) {
			int io = c->err != 0;
			if (io) {
				dash_pool_drop(s->redis, c);
				c = NULL;
			}
			if (!io || !reused)
				break;
		}
	}
	if (n < 0) {
		if (c != NULL)
			dash_pool_give(s->redis, target, c);
		tw_spec_free(&spec);
		return dash_reply_error(r, 502, "%s", err);
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "keys");
	if (arr == NULL || cJSON_AddStringToObject(o, "prefix", spec.sinks.redis.prefix) == NULL ||
	    cJSON_AddBoolToObject(o, "truncated", truncated) == NULL)
		status = 500;
	for (int i = 0; i < n; i++) {
		if (status == 200) {
			cJSON *k = key_windows(c, keys[i], spec.sinks.redis.prefix, last, err,
			                       sizeof(err));
			if (k == NULL && c->err != 0)
				status = 502;
			else if (k != NULL && !cJSON_AddItemToArray(arr, k))
				cJSON_Delete(k);
		}
		free(keys[i]);
	}
	if (c->err != 0)
		dash_pool_drop(s->redis, c);
	else
		dash_pool_give(s->redis, target, c);
	tw_spec_free(&spec);
	if (status != 200) {
		cJSON_Delete(o);
		return status == 502 ? dash_reply_error(r, 502, "%s", err)
		                     : dash_reply_error(r, 500, "out of memory");
	}
	return dash_reply_json(r, 200, o);
}
