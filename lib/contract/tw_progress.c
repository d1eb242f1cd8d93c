/* tw_progress.c -- a TelemetryWindow's progress hash in Redis; see
 * tw_progress.h. */
#include "tw_progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-partition fields, in struct tw_progress_part's order. */
enum { F_EVENTS, F_DUPLICATES, F_LATE, F_MALFORMED, F_WINDOWS, F_WATERMARK, F_COUNT };
static const char *const field_names[F_COUNT] = {"events",    "duplicates", "late",
                                                 "malformed", "windows",    "watermark"};

int tw_progress_key(const char *ns, const char *name, char *buf, size_t size)
{
	int n;

	if (ns == NULL || name == NULL || ns[0] == '\0' || name[0] == '\0')
		return -1;
	n = snprintf(buf, size, "sluice:tw:%s:%s:stats", ns, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int64_t *part_field(struct tw_progress_part *p, int f)
{
	switch (f) {
	case F_EVENTS:
		return &p->events;
	case F_DUPLICATES:
		return &p->duplicates;
	case F_LATE:
		return &p->late;
	case F_MALFORMED:
		return &p->malformed;
	case F_WINDOWS:
		return &p->windows;
	default:
		return &p->watermark_ns;
	}
}

static void part_zero(struct tw_progress_part *p)
{
	memset(p, 0, sizeof(*p));
	p->watermark_ns = INT64_MIN;
}

/* "p<N>.<field>": *partition and the field's index, or -1 for another
 * field. */
static int parse_field(const char *s, int32_t *partition)
{
	char *end;
	long n;

	if (s[0] != 'p' || s[1] < '0' || s[1] > '9')
		return -1;
	errno = 0;
	n = strtol(s + 1, &end, 10);
	if (errno != 0 || *end != '.' || n < 0 || n >= TW_PROGRESS_PARTITIONS_MAX)
		return -1;
	for (int f = 0; f < F_COUNT; f++)
		if (strcmp(end + 1, field_names[f]) == 0) {
			*partition = (int32_t)n;
			return f;
		}
	return -1;
}

/* A member's work field "m.<member>.events" or "m.<member>.busy_ms":
 * W_EVENTS or W_BUSY, or -1 for another field. */
enum { W_EVENTS, W_BUSY };
static const char *const work_names[2] = {"events", "busy_ms"};

static int parse_work_field(const char *s)
{
	size_t len;

	if (s[0] != 'm' || s[1] != '.')
		return -1;
	len = strlen(s + 2);
	for (int w = W_EVENTS; w <= W_BUSY; w++) {
		size_t sl = strlen(work_names[w]);
		/* at least one byte of member, then '.', then the name */
		if (len >= sl + 2 && len - sl - 1 <= TW_PROGRESS_MEMBER_MAX &&
		    s[2 + len - sl - 1] == '.' && strcmp(s + 2 + len - sl, work_names[w]) == 0)
			return w;
	}
	return -1;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || s[0] == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

static void zero(struct tw_progress *out)
{
	memset(out, 0, sizeof(*out));
	out->watermark_ns = INT64_MIN;
}

/* Adds a to *sum, saturating (a corrupt hash must not overflow). */
static void add_sat(int64_t *sum, int64_t a)
{
	if (a > 0 && *sum > INT64_MAX - a)
		*sum = INT64_MAX;
	else if (a < 0 && *sum < INT64_MIN - a)
		*sum = INT64_MIN;
	else
		*sum += a;
}

int tw_progress_sum(const char *const *fields, const char *const *values, size_t n,
                    struct tw_progress *out, char *errbuf, size_t errbuf_size)
{
	/* Partitions seen, as a bitmap, to count them once each. */
	static const size_t words = TW_PROGRESS_PARTITIONS_MAX / 64;
	uint64_t *seen = calloc(words, sizeof(*seen));

	zero(out);
	if (seen == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int32_t p;
		int f = parse_field(fields[i], &p);
		int w = f < 0 ? parse_work_field(fields[i]) : -1;
		int64_t v;

		if (f < 0 && w < 0)
			continue;
		if (parse_i64(values[i], &v) < 0) {
			snprintf(errbuf, errbuf_size, "%s: \"%.40s\" is not an integer", fields[i],
			         values[i] != NULL ? values[i] : "");
			free(seen);
			zero(out);
			return -1;
		}
		if (w == W_EVENTS) {
			add_sat(&out->work_events, v);
			continue;
		}
		if (w == W_BUSY) {
			add_sat(&out->work_busy_ms, v);
			out->work_members++;
			continue;
		}
		if (!(seen[p / 64] & (UINT64_C(1) << (p % 64)))) {
			seen[p / 64] |= UINT64_C(1) << (p % 64);
			out->partitions++;
		}
		switch (f) {
		case F_EVENTS:
			add_sat(&out->events, v);
			break;
		case F_DUPLICATES:
			add_sat(&out->duplicates, v);
			break;
		case F_LATE:
			add_sat(&out->late, v);
			break;
		case F_MALFORMED:
			add_sat(&out->malformed, v);
			break;
		case F_WINDOWS:
			add_sat(&out->windows, v);
			break;
		default:
			/* The resource's watermark is its slowest partition's. */
			if (out->watermark_ns == INT64_MIN || v < out->watermark_ns)
				out->watermark_ns = v;
			break;
		}
	}
	free(seen);
	return 0;
}

static int reply_error(redisContext *c, const redisReply *r, const char *what, char *errbuf,
                       size_t errbuf_size)
{
	if (r == NULL)
		snprintf(errbuf, errbuf_size, "redis: %s: %s", what,
		         c->errstr[0] != '\0' ? c->errstr : "no reply");
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(errbuf, errbuf_size, "redis: %s: %s", what, r->str);
	else
		snprintf(errbuf, errbuf_size, "redis: %s: unexpected reply type %d", what, r->type);
	return -1;
}

int tw_progress_read(redisContext *c, const char *ns, const char *name, struct tw_progress *out,
                     char *errbuf, size_t errbuf_size)
{
	char key[TW_PROGRESS_KEY_MAX];
	const char *argv[2] = {"HGETALL", key};
	const char **fields = NULL, **values = NULL;
	redisReply *r;
	size_t n;
	int rc;

	zero(out);
	if (tw_progress_key(ns, name, key, sizeof(key)) < 0) {
		snprintf(errbuf, errbuf_size, "no namespace or name, or too long");
		return -1;
	}
	r = redisCommandArgv(c, 2, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		rc = reply_error(c, r, "HGETALL", errbuf, errbuf_size);
		freeReplyObject(r);
		return rc;
	}
	n = r->elements / 2;
	fields = calloc(n > 0 ? n : 1, sizeof(*fields));
	values = calloc(n > 0 ? n : 1, sizeof(*values));
	if (fields == NULL || values == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		rc = -1;
	} else {
		for (size_t i = 0; i < n; i++) {
			const redisReply *f = r->element[2 * i], *v = r->element[2 * i + 1];

			fields[i] = f->type == REDIS_REPLY_STRING ? f->str : "";
			values[i] = v->type == REDIS_REPLY_STRING ? v->str : "";
		}
		rc = tw_progress_sum(fields, values, n, out, errbuf, errbuf_size);
	}
	free(fields);
	free(values);
	freeReplyObject(r);
	return rc;
}

int tw_progress_read_part(redisContext *c, const char *ns, const char *name, int32_t partition,
                          struct tw_progress_part *out, int *found, char *errbuf,
                          size_t errbuf_size)
{
	char key[TW_PROGRESS_KEY_MAX], names[F_COUNT][32];
	const char *argv[2 + F_COUNT] = {"HMGET", key};
	redisReply *r;
	int rc = 0;

	part_zero(out);
	*found = 0;
	if (tw_progress_key(ns, name, key, sizeof(key)) < 0 || partition < 0) {
		snprintf(errbuf, errbuf_size, "no namespace or name, or too long");
		return -1;
	}
	for (int f = 0; f < F_COUNT; f++) {
		snprintf(names[f], sizeof(names[f]), "p%" PRId32 ".%s", partition, field_names[f]);
		argv[2 + f] = names[f];
	}
	r = redisCommandArgv(c, 2 + F_COUNT, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != F_COUNT) {
		rc = reply_error(c, r, "HMGET", errbuf, errbuf_size);
		freeReplyObject(r);
		return rc;
	}
	for (int f = 0; f < F_COUNT; f++) {
		const redisReply *v = r->element[f];

		if (v->type != REDIS_REPLY_STRING)
			continue;
		if (parse_i64(v->str, part_field(out, f)) < 0) {
			snprintf(errbuf, errbuf_size, "%s: \"%.40s\" is not an integer", names[f],
			         v->str);
			part_zero(out);
			rc = -1;
			break;
		}
		*found = 1;
	}
	freeReplyObject(r);
	return rc;
}

int tw_progress_write(redisContext *c, const char *ns, const char *name, const int32_t *partitions,
                      const struct tw_progress_part *parts, size_t n, char *errbuf,
                      size_t errbuf_size)
{
	return tw_progress_write_work(c, ns, name, partitions, parts, n, NULL, errbuf, errbuf_size);
}

/* "m.<member>.<what>" into buf (TW_PROGRESS_MEMBER_MAX + 16 bytes); -1 when
 * the member is empty or too long. */
static int work_field(char *buf, size_t size, const char *member, const char *what)
{
	size_t len = member != NULL ? strlen(member) : 0;
	int n;

	if (len == 0 || len > TW_PROGRESS_MEMBER_MAX)
		return -1;
	n = snprintf(buf, size, "m.%s.%s", member, what);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int tw_progress_write_work(redisContext *c, const char *ns, const char *name,
                           const int32_t *partitions, const struct tw_progress_part *parts,
                           size_t n, const struct tw_progress_work *work, char *errbuf,
                           size_t errbuf_size)
{
	char key[TW_PROGRESS_KEY_MAX];
	char wf[2][TW_PROGRESS_MEMBER_MAX + 16], wv[2][32];
	size_t argc = 2, max = 2 + 2 * F_COUNT * n + 4;
	const char **argv;
	char *text; /* 2 * F_COUNT strings of 32 bytes per partition */
	redisReply *r;
	int rc = 0;

	if (tw_progress_key(ns, name, key, sizeof(key)) < 0) {
		snprintf(errbuf, errbuf_size, "no namespace or name, or too long");
		return -1;
	}
	if (work != NULL && (work_field(wf[0], sizeof(wf[0]), work->member, "events") < 0 ||
	                     work_field(wf[1], sizeof(wf[1]), work->member, "busy_ms") < 0)) {
		snprintf(errbuf, errbuf_size, "member name empty or too long");
		return -1;
	}
	if (n == 0 && work == NULL)
		return 0;
	argv = calloc(max, sizeof(*argv));
	text = malloc((n > 0 ? n : 1) * 2 * F_COUNT * 32);
	if (argv == NULL || text == NULL) {
		free(argv);
		free(text);
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	argv[0] = "HSET";
	argv[1] = key;
	for (size_t i = 0; i < n; i++) {
		struct tw_progress_part p = parts[i];

		for (int f = 0; f < F_COUNT; f++) {
			char *fname = text + (i * 2 * F_COUNT + 2 * (size_t)f) * 32;
			char *fval = fname + 32;
			int64_t v = *part_field(&p, f);

			if (f == F_WATERMARK && v == INT64_MIN)
				continue;
			snprintf(fname, 32, "p%" PRId32 ".%s", partitions[i], field_names[f]);
			snprintf(fval, 32, "%" PRId64, v);
			argv[argc++] = fname;
			argv[argc++] = fval;
		}
	}
	if (work != NULL) {
		snprintf(wv[0], sizeof(wv[0]), "%" PRId64, work->events);
		snprintf(wv[1], sizeof(wv[1]), "%" PRId64, work->busy_ms);
		for (int w = 0; w < 2; w++) {
			argv[argc++] = wf[w];
			argv[argc++] = wv[w];
		}
	}
	r = redisCommandArgv(c, (int)argc, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		rc = reply_error(c, r, "HSET", errbuf, errbuf_size);
	freeReplyObject(r);
	free(argv);
	free(text);
	return rc;
}

int tw_progress_forget_member(redisContext *c, const char *ns, const char *name, const char *member,
                              char *errbuf, size_t errbuf_size)
{
	char key[TW_PROGRESS_KEY_MAX];
	char wf[2][TW_PROGRESS_MEMBER_MAX + 16];
	const char *argv[4] = {"HDEL", key, wf[0], wf[1]};
	redisReply *r;
	int rc = 0;

	if (tw_progress_key(ns, name, key, sizeof(key)) < 0 ||
	    work_field(wf[0], sizeof(wf[0]), member, "events") < 0 ||
	    work_field(wf[1], sizeof(wf[1]), member, "busy_ms") < 0) {
		snprintf(errbuf, errbuf_size, "no namespace, name or member, or too long");
		return -1;
	}
	r = redisCommandArgv(c, 4, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		rc = reply_error(c, r, "HDEL", errbuf, errbuf_size);
	freeReplyObject(r);
	return rc;
}

int tw_progress_delete(redisContext *c, const char *ns, const char *name, char *errbuf,
                       size_t errbuf_size)
{
	char key[TW_PROGRESS_KEY_MAX];
	const char *argv[2] = {"DEL", key};
	redisReply *r;
	int rc = 0;

	if (tw_progress_key(ns, name, key, sizeof(key)) < 0) {
		snprintf(errbuf, errbuf_size, "no namespace or name, or too long");
		return -1;
	}
	r = redisCommandArgv(c, 2, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		rc = reply_error(c, r, "DEL", errbuf, errbuf_size);
	freeReplyObject(r);
	return rc;
}
