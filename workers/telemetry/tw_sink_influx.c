/* tw_sink_influx.c -- the InfluxDB sink (libcurl): window results (and raw
 * events when spec.sinks.influxdb.raw is on) as line protocol, up to
 * TW_SINK_INFLUX_BATCH_LINES points per request, to the v1 /write or the v2
 * /api/v2/write API, answered by Telegraf's rules (influx_classify).
 * See tw_sink_int.h for the pure parts and docs/telemetry-sinks.md for the
 * measurements and how to query them. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "tw_agg.h"
#include "tw_sink_int.h"

/* Whole request and connect timeouts: a server that takes longer is away
 * (RETRY), and the loop is never stuck on one write. */
#define INFLUX_TIMEOUT_S 30
#define INFLUX_CONNECT_TIMEOUT_S 10
/* Response bytes kept for classification and the error message. */
#define BODY_MAX 4096
/* Longest reason carried in an errbuf here. */
#define REASON_MAX 512

struct influx_sink {
	struct tw_sink_schema schema;
	enum tw_influx_api api;
	int raw, windows;
	char *db;
	struct buf write_url, query_url;
	CURL *curl;
	struct curl_slist *write_headers, *query_headers;
	char curl_err[CURL_ERROR_SIZE];
	char body[BODY_MAX + 1];
	size_t body_len;
	struct buf lines;
	size_t nlines;
	int create_refused; /* CREATE DATABASE was refused (401/403): not again */
	int64_t retry_after_ms;
	int curl_global;
};

/* ==== Pure text and rules ==== */

int tw_sink_influx_duration(int64_t ns, char *buf, size_t size)
{
	static const struct {
		int64_t unit;
		const char *suffix;
	} units[] = {
	    {INT64_C(3600000000000), "h"},
	    {INT64_C(60000000000), "m"},
	    {INT64_C(1000000000), "s"},
	    {INT64_C(1000000), "ms"},
	};
	int n = -1;

	if (size < 24)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && n < 0; i++)
		if (ns > 0 && ns % units[i].unit == 0)
			n = snprintf(buf, size, "%" PRId64 "%s", ns / units[i].unit,
			             units[i].suffix);
	if (n < 0)
		n = snprintf(buf, size, "%" PRId64 "ns", ns);
	return n;
}

const char *tw_sink_influx_key_tag(const char *name, char *buf, size_t size)
{
	if (strcmp(name, "resource") == 0 || strcmp(name, "window") == 0) {
		snprintf(buf, size, "key_%s", name);
		return buf;
	}
	return name;
}

/* The resource tag and one tag per non-empty key part into tags; returns
 * how many. names holds the renamed tag keys. */
static size_t key_tags(const struct tw_sink_schema *schema, const char *key, size_t key_len,
                       struct lp_tag *tags, char (*names)[TW_FIELD_NAME_MAX + 8])
{
	struct tw_sink_key_part parts[TW_KEYS_MAX];
	size_t n = tw_sink_key_split(key, key_len, schema->nkeys, parts, TW_KEYS_MAX), nt = 0;

	tags[nt++] = (struct lp_tag){"resource", schema->resource, strlen(schema->resource)};
	for (size_t i = 0; i < n && i < schema->nkeys; i++) {
		if (parts[i].len == 0)
			continue; /* InfluxDB reads a missing tag as the empty value */
		tags[nt++] = (struct lp_tag){
		    tw_sink_influx_key_tag(schema->key_names[i], names[i], sizeof(names[i])),
		    parts[i].p, parts[i].len};
	}
	return nt;
}

int tw_sink_influx_window_line(struct buf *b, const struct tw_sink_schema *schema,
                               const struct tw_row *row, char *errbuf, size_t errbuf_size)
{
	/* 1 + 8 fields per value field, each name "<field>_<agg>". */
	enum { NFIELDS = 1 + TW_VALUES_MAX * (1 + TW_SINK_AGGS) };
	char tag_names[TW_KEYS_MAX][TW_FIELD_NAME_MAX + 8], window[24];
	char names[NFIELDS][TW_FIELD_NAME_MAX + 8]; /* 34 KiB of stack */
	struct lp_tag tags[TW_KEYS_MAX + 2];
	struct lp_field fields[NFIELDS];
	size_t nv = row->nvalues < schema->nvalues ? row->nvalues : schema->nvalues, nt, nf = 0;
	struct lp_point pt;

	nt = key_tags(schema, row->key, row->key_len, tags, tag_names);
	tw_sink_influx_duration(schema->window_size_ns, window, sizeof(window));
	tags[nt++] = (struct lp_tag){"window", window, strlen(window)};
	fields[nf].key = "count";
	fields[nf].type = LP_INT;
	fields[nf++].v.i = (int64_t)row->count;
	for (size_t v = 0; v < nv; v++) {
		const struct tw_value_result *r = &row->values[v];

		snprintf(names[nf], sizeof(names[nf]), "%s_count", schema->value_names[v]);
		fields[nf].key = names[nf];
		fields[nf].type = LP_INT;
		fields[nf++].v.i = (int64_t)r->count;
		for (size_t a = 0; a < TW_SINK_AGGS; a++) {
			double x = tw_sink_agg_value(&tw_sink_aggs[a], r);

			if (!(schema->aggregations & tw_sink_aggs[a].kind) || !isfinite(x))
				continue; /* not asked for, or no value */
			snprintf(names[nf], sizeof(names[nf]), "%s_%s", schema->value_names[v],
			         tw_sink_aggs[a].name);
			fields[nf].key = names[nf];
			fields[nf].type = LP_FLOAT;
			fields[nf++].v.f = x;
		}
	}
	pt = (struct lp_point){
	    TW_SINK_INFLUX_WINDOW_MEASUREMENT, tags, nt, fields, nf, row->start_ns, 1};
	return lp_append(b, &pt, errbuf, errbuf_size);
}

int tw_sink_influx_event_line(struct buf *b, const struct tw_sink_schema *schema,
                              const struct tw_event *ev, char *errbuf, size_t errbuf_size)
{
	char tag_names[TW_KEYS_MAX][TW_FIELD_NAME_MAX + 8];
	struct lp_tag tags[TW_KEYS_MAX + 1];
	struct lp_field fields[TW_VALUES_MAX];
	size_t nt, nf = 0;
	struct lp_point pt;

	nt = key_tags(schema, ev->key, ev->key_len, tags, tag_names);
	for (size_t v = 0; v < schema->nvalues && v < TW_VALUES_MAX; v++) {
		if (!(ev->present & (UINT32_C(1) << v)) || !isfinite(ev->values[v]))
			continue;
		fields[nf].key = schema->value_names[v];
		fields[nf].type = LP_FLOAT;
		fields[nf++].v.f = ev->values[v];
	}
	if (nf == 0)
		return 1;
	pt = (struct lp_point){TW_SINK_INFLUX_RAW_MEASUREMENT, tags, nt, fields, nf, ev->ts_ns, 1};
	return lp_append(b, &pt, errbuf, errbuf_size);
}

static int post_split(const char *data, size_t len, tw_sink_influx_post_fn post, void *ctx,
                      char *errbuf, size_t errbuf_size, int depth)
{
	char second[REASON_MAX];
	size_t cut;
	int rc1, rc2;

	rc1 = post(ctx, data, len, errbuf, errbuf_size);
	if (rc1 != TW_SINK_INFLUX_TOO_LARGE)
		return rc1;
	cut = influx_split_point(data, len);
	if (cut == 0 || depth >= 64)
		return tw_sink_fail(
		    errbuf, errbuf_size, TW_SINK_E_REJECT,
		    "influxdb: 413: one point of %zu bytes is larger than the server "
		    "takes",
		    len);
	rc1 = post_split(data, cut, post, ctx, errbuf, errbuf_size, depth + 1);
	if (rc1 == TW_SINK_E_RETRY)
		return rc1;
	/* Keep the first half's reason when both halves fail. */
	rc2 = post_split(data + cut, len - cut, post, ctx, rc1 < 0 ? second : errbuf,
	                 rc1 < 0 ? sizeof(second) : errbuf_size, depth + 1);
	if (rc2 == TW_SINK_E_RETRY && rc1 < 0)
		tw_sink_fail(errbuf, errbuf_size, rc2, "%s", second);
	if (rc2 == TW_SINK_E_RETRY)
		return rc2;
	return rc1 < 0 ? rc1 : rc2;
}

int tw_sink_influx_post_split(const char *data, size_t len, tw_sink_influx_post_fn post, void *ctx,
                              char *errbuf, size_t errbuf_size)
{
	return post_split(data, len, post, ctx, errbuf, errbuf_size, 0);
}

/* ==== HTTP ==== */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct influx_sink *s = arg;
	size_t bytes = size * n, room = BODY_MAX - s->body_len;
	size_t take = bytes < room ? bytes : room;

	memcpy(s->body + s->body_len, p, take);
	s->body_len += take;
	return bytes; /* the rest is dropped, not an error */
}

/* The body's first line, for messages. */
static const char *body_line(struct influx_sink *s, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)strcspn(s->body, "\r\n"), s->body);
	return buf;
}

/* POSTs len bytes of data to url; *status is the HTTP status. A transfer
 * failure (refused, reset, timed out) is RETRY; a URL curl cannot use is
 * CONFIG. */
static int http_post(struct influx_sink *s, const char *url, struct curl_slist *headers,
                     const char *data, size_t len, long *status, char *errbuf, size_t errbuf_size)
{
	CURLcode cc;

	s->body_len = 0;
	s->body[0] = '\0';
	s->curl_err[0] = '\0';
	if ((cc = curl_easy_setopt(s->curl, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, data)) != CURLE_OK ||
	    (cc = curl_easy_perform(s->curl)) != CURLE_OK) {
		int rc = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL
		             ? TW_SINK_E_CONFIG
		             : TW_SINK_E_RETRY;
		const char *detail = s->curl_err[0] != '\0' ? s->curl_err : curl_easy_strerror(cc);

		log_msg(rc == TW_SINK_E_RETRY ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
		        "influxdb request failed", "resource", s->schema.resource, "url", url,
		        "error", detail, NULL);
		return tw_sink_fail(errbuf, errbuf_size, rc, "influxdb: POST %s: %s", url, detail);
	}
	s->body[s->body_len] = '\0';
	*status = 0;
	if ((cc = curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, status)) != CURLE_OK)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
		                    "influxdb: POST %s: no status: %s", url,
		                    curl_easy_strerror(cc));
	return 0;
}

/* CREATE DATABASE, as Telegraf does on "database not found". Returns 0
 * when it exists now; TW_SINK_E_CONFIG when the server refused (401/403:
 * no right to create it), RETRY otherwise. */
static int create_database(struct influx_sink *s, char *errbuf, size_t errbuf_size)
{
	struct buf q;
	char line[256];
	long status;
	int rc;

	buf_init(&q, 4096);
	if (influx_create_db_body(&q, s->db) < 0) {
		buf_free(&q);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
		                    "influxdb: out of memory");
	}
	rc = http_post(s, s->query_url.data, s->query_headers, q.data, q.len - 1, &status, errbuf,
	               errbuf_size);
	buf_free(&q);
	if (rc < 0)
		return rc;
	if (status == 200 && strstr(s->body, "\"error\"") == NULL) {
		log_info("influxdb database created", "resource", s->schema.resource, "database",
		         s->db, NULL);
		return 0;
	}
	rc = status == 401 || status == 403 ? TW_SINK_E_CONFIG : TW_SINK_E_RETRY;
	if (rc == TW_SINK_E_CONFIG)
		s->create_refused = 1;
	body_line(s, line, sizeof(line));
	log_error("influxdb CREATE DATABASE failed", "resource", s->schema.resource, "database",
	          s->db, "response", line, NULL);
	return tw_sink_fail(
	    errbuf, errbuf_size, rc,
	    "influxdb: database \"%s\" not found and CREATE DATABASE failed: %ld %s", s->db, status,
	    line);
}

/* Records the Retry-After of the last response (the longest asked for
 * during this write wins). */
static void note_retry_after(struct influx_sink *s)
{
	struct curl_header *h = NULL;
	int64_t ms;

	if (curl_easy_header(s->curl, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
	    h == NULL)
		return;
	ms = influx_retry_after(h->value, time(NULL));
	if (ms > s->retry_after_ms)
		s->retry_after_ms = ms;
}

/* One request body, answered by influx_classify. */
static int influx_post(void *ctx, const char *data, size_t len, char *errbuf, size_t errbuf_size)
{
	struct influx_sink *s = ctx;
	char line[256], code[16];
	long status;
	int rc;

	for (int attempt = 0;; attempt++) {
		if ((rc = http_post(s, s->write_url.data, s->write_headers, data, len, &status,
		                    errbuf, errbuf_size)) < 0)
			return rc;
		body_line(s, line, sizeof(line));
		snprintf(code, sizeof(code), "%ld", status);
		switch (influx_classify(s->api, status, s->body)) {
		case INFLUX_ACT_OK:
			return TW_SINK_OK;
		case INFLUX_ACT_SPLIT:
			log_warn("influxdb request too large; splitting it", "resource",
			         s->schema.resource, NULL);
			return TW_SINK_INFLUX_TOO_LARGE;
		case INFLUX_ACT_CREATE_DB:
			if (attempt > 0 || s->create_refused)
				return tw_sink_fail(errbuf, errbuf_size,
				                    s->create_refused ? TW_SINK_E_CONFIG
				                                      : TW_SINK_E_RETRY,
				                    "influxdb: %ld: %s", status, line);
			if ((rc = create_database(s, errbuf, errbuf_size)) < 0)
				return rc;
			continue; /* and write again, once */
		case INFLUX_ACT_AUTH:
			/* Nothing is lost by retrying, and a token being rotated
			 * heals by itself; but say so loudly. */
			log_error("influxdb refused the credentials: check the token Secret",
			          "resource", s->schema.resource, "url", s->write_url.data,
			          "status", code, "response", line, NULL);
			return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
			                    "influxdb: %ld (check the token): %s", status, line);
		case INFLUX_ACT_RETRY:
			note_retry_after(s);
			log_warn("influxdb write to retry", "resource", s->schema.resource,
			         "status", code, "response", line, NULL);
			return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
			                    "influxdb: %ld: %s", status, line);
		case INFLUX_ACT_REJECT:
		default:
			log_error("influxdb rejected points", "resource", s->schema.resource,
			          "status", code, "response", line, NULL);
			return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_REJECT,
			                    "influxdb: %ld: %s", status, line);
		}
	}
}

/* ==== Writes ==== */

/* A batch's progress: the first REJECT's reason is kept, the rest goes on. */
struct progress {
	int rejected;
	char reason[REASON_MAX];
};

static void note_reject(struct progress *p, const char *reason)
{
	if (!p->rejected) {
		p->rejected = 1;
		snprintf(p->reason, sizeof(p->reason), "%s", reason);
	}
}

static int flush_lines(struct influx_sink *s, struct progress *p, char *errbuf, size_t errbuf_size)
{
	char reason[REASON_MAX];
	int rc;

	if (s->lines.len == 0)
		return 0;
	rc = tw_sink_influx_post_split(s->lines.data, s->lines.len, influx_post, s, reason,
	                               sizeof(reason));
	buf_reset(&s->lines);
	s->nlines = 0;
	if (rc == TW_SINK_E_REJECT) {
		note_reject(p, reason);
		return 0;
	}
	if (rc < 0)
		return tw_sink_fail(errbuf, errbuf_size, rc, "%s", reason);
	return 0;
}

/* The line of a window row or, when row is NULL, of a raw event. */
static int append_point(struct influx_sink *s, const struct tw_row *row, const struct tw_event *ev,
                        char *reason, size_t size)
{
	if (row != NULL)
		return tw_sink_influx_window_line(&s->lines, &s->schema, row, reason, size);
	if (ev != NULL)
		return tw_sink_influx_event_line(&s->lines, &s->schema, ev, reason, size);
	return 1;
}

/* Appends one point (a window row or a raw event), sending the lines so
 * far first when the request is full. */
static int add_point(struct influx_sink *s, const struct tw_row *row, const struct tw_event *ev,
                     struct progress *p, char *errbuf, size_t errbuf_size)
{
	char reason[REASON_MAX];

	for (int tries = 0; tries < 2; tries++) {
		int rc;

		if (s->nlines == TW_SINK_INFLUX_BATCH_LINES &&
		    (rc = flush_lines(s, p, errbuf, errbuf_size)) < 0)
			return rc;
		rc = append_point(s, row, ev, reason, sizeof(reason));
		if (rc == 0) {
			s->nlines++;
			return 0;
		}
		if (rc == 1)
			return 0; /* an event without values: no point */
		if (rc == LP_E_INVALID) {
			char msg[REASON_MAX];

			snprintf(msg, sizeof(msg), "influxdb: point refused: %.400s", reason);
			log_error("influxdb point cannot be written", "resource",
			          s->schema.resource, "error", reason, NULL);
			note_reject(p, msg);
			return 0;
		}
		if (rc == LP_E_NOMEM)
			return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
			                    "influxdb: out of memory");
		if (s->lines.len == 0)
			break; /* full with nothing in it: the point alone is too big */
		if ((rc = flush_lines(s, p, errbuf, errbuf_size)) < 0)
			return rc;
	}
	note_reject(p, "influxdb: a point is larger than a whole request");
	return 0;
}

static int influx_write(void *impl, const struct tw_batch *b, char *errbuf, size_t errbuf_size)
{
	struct influx_sink *s = impl;
	struct progress p = {0, ""};
	int rc = 0;

	s->retry_after_ms = 0;
	buf_reset(&s->lines);
	s->nlines = 0;
	for (size_t i = 0; s->windows && i < b->nrows && rc == 0; i++)
		rc = add_point(s, &b->rows[i], NULL, &p, errbuf, errbuf_size);
	for (size_t i = 0; s->raw && i < b->nevents && rc == 0; i++)
		rc = add_point(s, NULL, &b->events[i], &p, errbuf, errbuf_size);
	if (rc == 0)
		rc = flush_lines(s, &p, errbuf, errbuf_size);
	if (rc < 0)
		return rc;
	if (p.rejected)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_REJECT, "%s", p.reason);
	return TW_SINK_OK;
}

/* ==== Life ==== */

static int64_t influx_retry_after_ms(const void *impl)
{
	const struct influx_sink *s = impl;

	return s->retry_after_ms;
}

static void influx_close(void *impl)
{
	struct influx_sink *s = impl;

	if (s == NULL)
		return;
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->write_headers);
	curl_slist_free_all(s->query_headers);
	if (s->curl_global)
		curl_global_cleanup();
	buf_free(&s->write_url);
	buf_free(&s->query_url);
	buf_free(&s->lines);
	tw_sink_schema_free(&s->schema);
	free(s->db);
	free(s);
}

/* Names InfluxDB reserves cannot be written; say so at start-up rather
 * than refuse every point. */
static int check_names(const struct tw_spec *spec, char *errbuf, size_t errbuf_size)
{
	for (size_t i = 0; i < spec->fields.nkeys; i++)
		if (spec->fields.keys[i][0] == '_')
			return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
			                    "spec.fields.keys[%zu]: \"%s\" starts with '_', which "
			                    "InfluxDB reserves: the influxdb sink cannot write it",
			                    i, spec->fields.keys[i]);
	for (size_t i = 0; i < spec->fields.nvalues; i++)
		if (spec->fields.values[i][0] == '_')
			return tw_sink_fail(
			    errbuf, errbuf_size, TW_SINK_E_CONFIG,
			    "spec.fields.values[%zu]: \"%s\" starts with '_', which "
			    "InfluxDB reserves: the influxdb sink cannot write it",
			    i, spec->fields.values[i]);
	return 0;
}

static int setup_curl(struct influx_sink *s, const char *token, char *errbuf, size_t errbuf_size)
{
	struct buf auth;
	CURLcode cc;

	if ((cc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "influxdb: curl_global_init: %s", curl_easy_strerror(cc));
	s->curl_global = 1;
	s->curl = curl_easy_init();
	if (s->curl == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "influxdb: curl_easy_init failed");
	if ((cc = curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, (long)INFLUX_TIMEOUT_S)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT,
	                           (long)INFLUX_CONNECT_TIMEOUT_S)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "sluice-worker")) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_err)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
	    (cc = curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s)) != CURLE_OK)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "influxdb: curl: %s",
		                    curl_easy_strerror(cc));
	/* "Expect:" off: curl would wait for a 100 Continue on large bodies. */
	buf_init(&auth, 8192);
	if (token != NULL && (buf_append_str(&auth, "Authorization: Token ") < 0 ||
	                      buf_append_str(&auth, token) < 0 || buf_append(&auth, "", 1) < 0)) {
		buf_free(&auth);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.influxdb.token: too long");
	}
	for (int q = 0; q < 2; q++) {
		struct curl_slist **list = q ? &s->query_headers : &s->write_headers;
		const char *hs[] = {q ? NULL : "Content-Type: text/plain; charset=utf-8",
		                    "Expect:", token != NULL ? auth.data : NULL};

		for (size_t i = 0; i < 3; i++) {
			struct curl_slist *l;

			if (hs[i] == NULL)
				continue;
			l = curl_slist_append(*list, hs[i]);
			if (l == NULL) {
				buf_free(&auth);
				return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
				                    "influxdb: out of memory");
			}
			*list = l;
		}
	}
	if (auth.data != NULL)
		memset(auth.data, 0, auth.len); /* the token lives on in the lists only */
	buf_free(&auth);
	return 0;
}

static int influx_open(const struct tw_spec *spec, const char *token, void **impl, char *errbuf,
                       size_t errbuf_size)
{
	struct influx_sink *s;
	int rc;

	if ((rc = check_names(spec, errbuf, errbuf_size)) < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "influxdb: out of memory");
	buf_init(&s->write_url, 8192);
	buf_init(&s->query_url, 8192);
	buf_init(&s->lines, TW_SINK_INFLUX_BATCH_BYTES);
	s->api = spec->sinks.influxdb.api;
	s->raw = spec->sinks.influxdb.raw;
	s->windows = spec->sinks.influxdb.windows;
	s->db = strdup(spec->sinks.influxdb.database);
	if (s->db == NULL ||
	    influx_write_url(&s->write_url, s->api, spec->sinks.influxdb.url, s->db,
	                     spec->sinks.influxdb.org) < 0 ||
	    influx_query_url(&s->query_url, spec->sinks.influxdb.url) < 0) {
		influx_close(s);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.influxdb: url or database too long");
	}
	if ((rc = setup_curl(s, token, errbuf, errbuf_size)) < 0 ||
	    (rc = tw_sink_schema_init(&s->schema, spec, errbuf, errbuf_size)) < 0) {
		influx_close(s);
		return rc;
	}
	*impl = s;
	return 0;
}

const struct tw_sink_ops tw_sink_influx_ops = {
    .name = "influxdb",
    .open = influx_open,
    .write = influx_write,
    .trim = NULL, /* retention is the database's own (retention policies) */
    .retry_after_ms = influx_retry_after_ms,
    .close = influx_close,
};
