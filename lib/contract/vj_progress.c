/* vj_progress.c -- VideoJob progress keys in Redis; see vj_progress.h. */
#include "vj_progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_conn.h"
#include "secret_env.h"

#define KEY_MAX 400

/* hiredis 0.14 does not promise that freeReplyObject(NULL) is a no-op. */
static void free_reply(redisReply *r)
{
	if (r != NULL)
		freeReplyObject(r);
}

int vj_progress_key(const char *ns, const char *name, const char *what, char *buf, size_t size)
{
	int n = snprintf(buf, size, "sluice:vj:%s:%s:%s", ns, name, what);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

const char *vj_progress_addr(const struct vj_spec *spec)
{
	const char *env = getenv("SLUICE_STATUS_REDIS");

	if (env != NULL && env[0] != '\0')
		return env;
	return spec->sinks.redis.addr;
}

redisContext *vj_progress_connect_spec(const struct vj_spec *spec, char *errbuf, size_t errbuf_size)
{
	const struct spec_secret_ref *ref = &spec->sinks.redis.password;
	const char *addr = vj_progress_addr(spec), *password = NULL;
	char var[512];

	if (addr == NULL) {
		snprintf(errbuf, errbuf_size,
		         "no status Redis: set SLUICE_STATUS_REDIS or spec.sinks.redis.addr");
		return NULL;
	}
	const char *env = getenv("SLUICE_STATUS_REDIS");
	struct redis_auth status = redis_conn_status_auth();

	/* The operator's status Redis has credentials of its own (the pod's
	 * SLUICE_STATUS_REDIS_USERNAME and _PASSWORD); without them,
	 * spec.sinks.redis.password as before. */
	if (env != NULL && env[0] != '\0' && status.password != NULL)
		return redis_conn_open_auth(addr, &status, 5000, errbuf, errbuf_size);
	if (ref->name != NULL) {
		password = secret_env_get(ref->name, ref->key, var, sizeof(var));
		if (password == NULL) {
			snprintf(errbuf, errbuf_size,
			         "spec.sinks.redis.password: Secret %s key %s: environment "
			         "variable %s is not set",
			         ref->name, ref->key, var);
			return NULL;
		}
	}
	return redis_conn_open(addr, password, 5000, errbuf, errbuf_size);
}

/* Runs argv; 0 unless the connection or Redis reports an error. */
static int run(redisContext *c, int argc, const char **argv, char *errbuf, size_t errbuf_size)
{
	size_t lens[16];
	redisReply *r;
	int rc = 0;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL) {
		snprintf(errbuf, errbuf_size, "redis %s: %s", argv[0], c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(errbuf, errbuf_size, "redis %s %s: %s", argv[0], argv[1], r->str);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

static int key_or_fail(const char *ns, const char *name, const char *what, char *key, char *errbuf,
                       size_t errbuf_size)
{
	if (vj_progress_key(ns, name, what, key, KEY_MAX) == 0)
		return 0;
	snprintf(errbuf, errbuf_size, "redis: key for %s/%s too long", ns, name);
	return -1;
}

int vj_progress_split(redisContext *c, const char *ns, const char *name, int64_t segments_total,
                      int64_t frames_total, int64_t duration_ms, char *errbuf, size_t errbuf_size)
{
	char key[KEY_MAX], seg[24], fr[24], dur[24];
	const char *argv[] = {"HSET",        key, "segments_total", seg, "frames_total", fr,
	                      "duration_ms", dur, "split_done",     "1"};

	if (key_or_fail(ns, name, "meta", key, errbuf, errbuf_size) < 0)
		return -1;
	snprintf(seg, sizeof(seg), "%" PRId64, segments_total);
	snprintf(fr, sizeof(fr), "%" PRId64, frames_total);
	snprintf(dur, sizeof(dur), "%" PRId64, duration_ms);
	if (run(c, 10, argv, errbuf, errbuf_size) < 0)
		return -1;
	/* A split that failed before (a source fixed since) leaves no stale
	 * reason behind once a split succeeds. */
	return run(c, 3, (const char *[]){"HDEL", key, "failed"}, errbuf, errbuf_size);
}

int vj_progress_segment_done(redisContext *c, const char *ns, const char *name, int32_t idx,
                             int64_t frames, char *errbuf, size_t errbuf_size)
{
	char key[KEY_MAX], fkey[KEY_MAX], i[16], fr[24];
	const char *set[] = {"HSET", key, i, fr};
	const char *del[] = {"HDEL", fkey, i};

	if (key_or_fail(ns, name, "done", key, errbuf, errbuf_size) < 0 ||
	    key_or_fail(ns, name, "failed", fkey, errbuf, errbuf_size) < 0)
		return -1;
	snprintf(i, sizeof(i), "%" PRId32, idx);
	snprintf(fr, sizeof(fr), "%" PRId64, frames);
	if (run(c, 4, set, errbuf, errbuf_size) < 0)
		return -1;
	return run(c, 3, del, errbuf, errbuf_size);
}

int vj_progress_segment_failed(redisContext *c, const char *ns, const char *name, int32_t idx,
                               const char *reason, char *errbuf, size_t errbuf_size)
{
	char key[KEY_MAX], i[16];
	const char *argv[] = {"HSET", key, i, reason};

	if (key_or_fail(ns, name, "failed", key, errbuf, errbuf_size) < 0)
		return -1;
	snprintf(i, sizeof(i), "%" PRId32, idx);
	return run(c, 4, argv, errbuf, errbuf_size);
}

int vj_progress_assembled(redisContext *c, const char *ns, const char *name, int64_t output_frames,
                          char *errbuf, size_t errbuf_size)
{
	char key[KEY_MAX], fr[24];
	const char *argv[] = {"HSET", key, "output_frames", fr, "assembled", "1"};

	if (key_or_fail(ns, name, "meta", key, errbuf, errbuf_size) < 0)
		return -1;
	snprintf(fr, sizeof(fr), "%" PRId64, output_frames);
	return run(c, 6, argv, errbuf, errbuf_size);
}

int vj_progress_job_failed(redisContext *c, const char *ns, const char *name, const char *reason,
                           char *errbuf, size_t errbuf_size)
{
	char key[KEY_MAX];
	const char *argv[] = {"HSET", key, "failed", reason};

	if (key_or_fail(ns, name, "meta", key, errbuf, errbuf_size) < 0)
		return -1;
	return run(c, 4, argv, errbuf, errbuf_size);
}

int vj_progress_delete(redisContext *c, const char *ns, const char *name, char *errbuf,
                       size_t errbuf_size)
{
	char meta[KEY_MAX], done[KEY_MAX], failed[KEY_MAX];
	const char *argv[] = {"DEL", meta, done, failed};

	if (key_or_fail(ns, name, "meta", meta, errbuf, errbuf_size) < 0 ||
	    key_or_fail(ns, name, "done", done, errbuf, errbuf_size) < 0 ||
	    key_or_fail(ns, name, "failed", failed, errbuf, errbuf_size) < 0)
		return -1;
	return run(c, 4, argv, errbuf, errbuf_size);
}

static int64_t to_int(const char *s)
{
	char *end;
	long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' ? (int64_t)v : 0;
}

void vj_progress_fill(struct vj_progress *out, const char *const *meta, size_t n_meta,
                      const char *const *done, size_t n_done, size_t n_failed)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i + 1 < 2 * n_meta; i += 2) {
		const char *f = meta[i], *v = meta[i + 1];

		if (strcmp(f, "segments_total") == 0)
			out->segments_total = to_int(v);
		else if (strcmp(f, "frames_total") == 0)
			out->frames_total = to_int(v);
		else if (strcmp(f, "duration_ms") == 0)
			out->duration_ms = to_int(v);
		else if (strcmp(f, "output_frames") == 0)
			out->output_frames = to_int(v);
		else if (strcmp(f, "split_done") == 0)
			out->split_done = strcmp(v, "1") == 0;
		else if (strcmp(f, "assembled") == 0)
			out->assembled = strcmp(v, "1") == 0;
		else if (strcmp(f, "failed") == 0)
			snprintf(out->failed, sizeof(out->failed), "%s", v);
	}
	out->segments_done = (int64_t)n_done;
	for (size_t i = 0; i + 1 < 2 * n_done; i += 2)
		out->frames_done += to_int(done[i + 1]);
	out->segments_failed = (int64_t)n_failed;
}

/* HGETALL key as a reply the caller frees; NULL with errbuf on error. */
static redisReply *hgetall(redisContext *c, const char *key, char *errbuf, size_t errbuf_size)
{
	redisReply *r = redisCommand(c, "HGETALL %s", key);

	if (r == NULL) {
		snprintf(errbuf, errbuf_size, "redis HGETALL %s: %s", key, c->errstr);
		return NULL;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		snprintf(errbuf, errbuf_size, "redis HGETALL %s: %s", key,
		         r->type == REDIS_REPLY_ERROR ? r->str : "not a hash");
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* The reply's strings as a flat array (borrowed from r); NULL when out of
 * memory. */
static const char **strings(const redisReply *r)
{
	const char **v = calloc(r->elements + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < r->elements; i++)
		v[i] = r->element[i]->str != NULL ? r->element[i]->str : "";
	return v;
}

int vj_progress_read(redisContext *c, const char *ns, const char *name, struct vj_progress *out,
                     char *errbuf, size_t errbuf_size)
{
	char key[KEY_MAX];
	redisReply *meta = NULL, *done = NULL, *failed = NULL;
	const char **mv = NULL, **dv = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (key_or_fail(ns, name, "meta", key, errbuf, errbuf_size) < 0 ||
	    (meta = hgetall(c, key, errbuf, errbuf_size)) == NULL ||
	    key_or_fail(ns, name, "done", key, errbuf, errbuf_size) < 0 ||
	    (done = hgetall(c, key, errbuf, errbuf_size)) == NULL ||
	    key_or_fail(ns, name, "failed", key, errbuf, errbuf_size) < 0 ||
	    (failed = hgetall(c, key, errbuf, errbuf_size)) == NULL)
		goto out;
	mv = strings(meta);
	dv = strings(done);
	if (mv == NULL || dv == NULL) {
		snprintf(errbuf, errbuf_size, "redis: out of memory");
		goto out;
	}
	vj_progress_fill(out, mv, meta->elements / 2, dv, done->elements / 2, failed->elements / 2);
	rc = 0;
out:
	free(mv);
	free(dv);
	free_reply(meta);
	free_reply(done);
	free_reply(failed);
	return rc;
}
