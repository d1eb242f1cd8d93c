/* tw_report.c -- partition progress to the status Redis; see tw_report.h. */
#include "tw_report.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "err.h"
#include "hostport.h"
#include "redis_conn.h"

struct base {
	int32_t partition;
	struct tw_progress_part v; /* what the previous owners reported */
};

struct tw_report {
	char *addr;            /* "host:port", as given */
	char *user, *password; /* tw_report_set_auth; NULL: none */
	char *ns, *name;
	char *member; /* tw_report_set_member; NULL: no work reported */
	int64_t work_events, work_busy_ms;
	redisContext *c;
	struct base *bases;
	size_t nbases, cap;
	int64_t next_try_ms, backoff_ms;
	uint64_t failures;
	/* scratch for the write */
	int32_t *ids;
	struct tw_progress_part *vals;
	size_t scratch;
};

struct tw_report *tw_report_new(const char *addr, const char *ns, const char *name, char *errbuf,
                                size_t errbuf_size)
{
	struct tw_report *r = calloc(1, sizeof(*r));
	char host[256]; /* redis_conn_open's bound too */
	int port;

	if (r == NULL) {
		err_set(errbuf, errbuf_size, -1, "out of memory");
		return NULL;
	}
	if (hostport_split(addr, host, sizeof(host), &port) < 0) {
		err_set(errbuf, errbuf_size, -1, "\"%s\" is not host:port", addr);
		free(r);
		return NULL;
	}
	r->addr = strdup(addr);
	r->ns = strdup(ns);
	r->name = strdup(name);
	if (r->addr == NULL || r->ns == NULL || r->name == NULL) {
		err_set(errbuf, errbuf_size, -1, "out of memory");
		tw_report_free(r);
		return NULL;
	}
	return r;
}

void tw_report_free(struct tw_report *r)
{
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	free(r->addr);
	free(r->user);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r->ns);
	free(r->name);
	free(r->member);
	free(r->bases);
	free(r->ids);
	free(r->vals);
	free(r);
}

int tw_report_set_auth(struct tw_report *r, const char *user, const char *password)
{
	free(r->user);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	r->user = user != NULL && user[0] != '\0' ? strdup(user) : NULL;
	r->password = password != NULL && password[0] != '\0' ? strdup(password) : NULL;
	if ((user != NULL && user[0] != '\0' && r->user == NULL) ||
	    (password != NULL && password[0] != '\0' && r->password == NULL))
		return -1;
	return 0;
}

static struct base *base_find(struct tw_report *r, int32_t partition)
{
	for (size_t i = 0; i < r->nbases; i++)
		if (r->bases[i].partition == partition)
			return &r->bases[i];
	return NULL;
}

void tw_report_forget(struct tw_report *r, int32_t partition)
{
	struct base *b = r != NULL ? base_find(r, partition) : NULL;

	if (b != NULL)
		*b = r->bases[--r->nbases];
}

int tw_report_set_member(struct tw_report *r, const char *member)
{
	free(r->member);
	r->member = NULL;
	if (member == NULL || member[0] == '\0')
		return 0;
	if (strlen(member) > TW_PROGRESS_MEMBER_MAX)
		return -1;
	r->member = strdup(member);
	return r->member != NULL ? 0 : -1;
}

void tw_report_set_work(struct tw_report *r, int64_t events, int64_t busy_ms)
{
	if (r == NULL)
		return;
	r->work_events = events;
	r->work_busy_ms = busy_ms;
}

uint64_t tw_report_failures(const struct tw_report *r)
{
	return r != NULL ? r->failures : 0;
}

static int failed(struct tw_report *r, int64_t now_ms)
{
	r->failures++;
	if (r->c != NULL) {
		redisFree(r->c);
		r->c = NULL;
	}
	r->backoff_ms = r->backoff_ms == 0 ? TW_REPORT_BACKOFF_MIN_MS : r->backoff_ms * 2;
	if (r->backoff_ms > TW_REPORT_BACKOFF_MAX_MS)
		r->backoff_ms = TW_REPORT_BACKOFF_MAX_MS;
	r->next_try_ms = now_ms + r->backoff_ms;
	return TW_REPORT_FAILED;
}

/* redis_conn_open's message names the address ("redis host:port: why");
 * this one has always read "redis: connect host:port: why". */
static int connect_once(struct tw_report *r, char *errbuf, size_t errbuf_size)
{
	static const char prefix[] = "redis ";
	char why[512];

	if (r->c != NULL)
		return 0;
	struct redis_auth auth = {r->user, r->password};

	r->c = redis_conn_open_auth(r->addr, &auth, TW_REPORT_TIMEOUT_MS, why, sizeof(why));
	if (r->c == NULL) {
		const char *w =
		    strncmp(why, prefix, sizeof(prefix) - 1) == 0 ? why + sizeof(prefix) - 1 : why;
		return err_set(errbuf, errbuf_size, -1, "redis: connect %s", w);
	}
	return 0;
}

static int reserve(struct tw_report *r, size_t n)
{
	if (n > r->scratch) {
		int32_t *ids = realloc(r->ids, n * sizeof(*ids));
		if (ids == NULL)
			return -1;
		r->ids = ids;
		struct tw_progress_part *vals = realloc(r->vals, n * sizeof(*vals));
		if (vals == NULL)
			return -1;
		r->vals = vals;
		r->scratch = n;
	}
	if (r->nbases + n > r->cap) {
		size_t ncap = r->cap == 0 ? 16 : r->cap;
		while (ncap < r->nbases + n)
			ncap *= 2;
		struct base *b = realloc(r->bases, ncap * sizeof(*b));
		if (b == NULL)
			return -1;
		r->bases = b;
		r->cap = ncap;
	}
	return 0;
}

int tw_report_write(struct tw_report *r, const int32_t *partitions,
                    const struct tw_progress_part *parts, size_t n, int64_t now_ms, char *errbuf,
                    size_t errbuf_size)
{
	size_t m = 0;

	if (n == 0)
		return TW_REPORT_WRITTEN;
	if (now_ms < r->next_try_ms)
		return TW_REPORT_WAITING;
	if (reserve(r, n) < 0)
		return err_set(errbuf, errbuf_size, TW_REPORT_NOMEM, "out of memory");
	if (connect_once(r, errbuf, errbuf_size) < 0)
		return failed(r, now_ms);
	for (size_t i = 0; i < n; i++) {
		struct base *b = base_find(r, partitions[i]);
		struct tw_progress_part *out = &r->vals[m];

		if (b == NULL) {
			int found;

			b = &r->bases[r->nbases];
			b->partition = partitions[i];
			if (tw_progress_read_part(r->c, r->ns, r->name, partitions[i], &b->v,
			                          &found, errbuf, errbuf_size) < 0) {
				if (r->c->err)
					return failed(r, now_ms);
				/* A corrupt field: start this partition's totals afresh. */
				memset(&b->v, 0, sizeof(b->v));
			}
			r->nbases++;
		}
		out->events = b->v.events + parts[i].events;
		out->duplicates = b->v.duplicates + parts[i].duplicates;
		out->late = b->v.late + parts[i].late;
		out->malformed = b->v.malformed + parts[i].malformed;
		out->windows = b->v.windows + parts[i].windows;
		/* The restored checkpoint carries the watermark: it only moves on. */
		out->watermark_ns = parts[i].watermark_ns;
		r->ids[m++] = partitions[i];
	}
	struct tw_progress_work w = {r->member, r->work_events, r->work_busy_ms};
	if (tw_progress_write_work(r->c, r->ns, r->name, r->ids, r->vals, m,
	                           r->member != NULL ? &w : NULL, errbuf, errbuf_size) < 0)
		return failed(r, now_ms);
	r->backoff_ms = 0;
	r->next_try_ms = 0;
	return TW_REPORT_WRITTEN;
}

int tw_report_forget_member(struct tw_report *r, char *errbuf, size_t errbuf_size)
{
	if (r == NULL || r->member == NULL)
		return 0;
	if (connect_once(r, errbuf, errbuf_size) < 0)
		return -1;
	if (tw_progress_forget_member(r->c, r->ns, r->name, r->member, errbuf, errbuf_size) < 0) {
		if (r->c->err) {
			redisFree(r->c);
			r->c = NULL;
		}
		return -1;
	}
	return 0;
}
