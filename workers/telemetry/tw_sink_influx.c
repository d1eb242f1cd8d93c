/* tw_sink_influx.c -- the InfluxDB sink: window results (and raw events
 * when spec.sinks.influxdb_raw is on) as line protocol, up to
 * TW_SINK_INFLUX_BATCH_LINES points per request, written by the store's
 * InfluxDB client (influx_client.h: v1 or v2 API, Telegraf's rules, the 413
 * split, CREATE DATABASE, Retry-After), its outcomes mapped to
 * TW_SINK_E_*; and retention.maxAge kept by deleting older points
 * (influx_delete.h plans the request, influx_client_delete sends it). See
 * tw_sink_int.h for the pure parts and docs/telemetry-sinks.md for the
 * measurements, how to query them and how retention works. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "influx_client.h"
#include "influx_delete.h"
#include "log.h"
#include "tw_agg.h"
#include "tw_sink_int.h"

/* Whole request and connect timeouts: a server that takes longer is away
 * (RETRY), and the loop is never stuck on one write. */
#define INFLUX_TIMEOUT_S 30
#define INFLUX_CONNECT_TIMEOUT_S 10
/* Longest reason carried in an errbuf here. */
#define REASON_MAX 512
/* A retention delete's URL and body (one measurement, one resource). */
#define DELETE_MAX 16384

struct influx_sink {
	struct tw_sink_schema schema;
	int raw, windows;
	struct influx_client *client;
	struct buf lines;
	size_t nlines;
	int64_t retry_after_ms;
	/* Retention: where to delete and how old a point may get. */
	int api;
	char *url, *db, *org;
	int64_t max_age_ns;
	struct buf del_url, del_body;
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

/* A client outcome as a sink result: a refused token is retried (nothing is
 * lost, and a token being rotated heals by itself; the client logged it as
 * an error). */
static int sink_result(int outcome)
{
	switch (outcome) {
	case INFLUX_OK:
		return TW_SINK_OK;
	case INFLUX_REJECT:
		return TW_SINK_E_REJECT;
	case INFLUX_CONFIG:
		return TW_SINK_E_CONFIG;
	case INFLUX_AUTH:
	case INFLUX_RETRY:
	default:
		return TW_SINK_E_RETRY;
	}
}

static int flush_lines(struct influx_sink *s, struct progress *p, char *errbuf, size_t errbuf_size)
{
	char reason[REASON_MAX];
	int64_t wait_ms;
	int rc;

	if (s->lines.len == 0)
		return 0;
	rc = sink_result(
	    influx_client_write(s->client, s->lines.data, s->lines.len, reason, sizeof(reason)));
	wait_ms = influx_client_retry_after_ms(s->client);
	if (wait_ms > s->retry_after_ms)
		s->retry_after_ms = wait_ms;
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

/* ==== Retention ==== */

/* retention.maxAge: the points of this resource older than now - maxAge
 * go, by the same rule as PostgreSQL's rows: a window point (its time is
 * the window's start) when its window ended before the cutoff, a raw point
 * when its event time is before it. Nothing is capped by count here
 * (retention.maxRowsPerKey is PostgreSQL's). */
static int influx_trim(void *impl, int64_t now_ns, char *errbuf, size_t errbuf_size)
{
	struct influx_sink *s = impl;
	const struct {
		int on;
		const char *measurement;
		int64_t span_ns;
	} what[] = {
	    {s->windows, TW_SINK_INFLUX_WINDOW_MEASUREMENT, s->schema.window_size_ns},
	    {s->raw, TW_SINK_INFLUX_RAW_MEASUREMENT, 0},
	};
	char reason[REASON_MAX], cutoff[CLOCK_RFC3339_MAX];

	if (s->max_age_ns <= 0)
		return 0;
	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		struct influx_delete_in in = {
		    .api = s->api,
		    .url = s->url,
		    .db = s->db,
		    .org = s->org,
		    .measurement = what[i].measurement,
		    .tag_key = "resource",
		    .tag_value = s->schema.resource,
		    .now_ns = now_ns,
		    .max_age_ns = s->max_age_ns,
		    .span_ns = what[i].span_ns,
		};
		struct influx_delete_req req = {.url = &s->del_url, .body = &s->del_body};
		int rc;

		if (!what[i].on)
			continue;
		buf_reset(&s->del_url);
		buf_reset(&s->del_body);
		rc = influx_delete_plan(&in, &req);
		if (rc == 1)
			continue; /* nothing is that old */
		if (rc < 0)
			return tw_sink_fail(
			    errbuf, errbuf_size, TW_SINK_E_CONFIG,
			    "influxdb: retention delete of %s cannot be planned (%d)",
			    what[i].measurement, rc);
		rc = influx_client_delete(s->client, &req, reason, sizeof(reason));
		if (rc != INFLUX_OK)
			return tw_sink_fail(errbuf, errbuf_size, sink_result(rc), "%s", reason);
		clock_format_rfc3339(req.cutoff_ns, cutoff, sizeof(cutoff));
		log_debug("influxdb points before the cutoff deleted", "resource",
		          s->schema.resource, "measurement", what[i].measurement, "cutoff", cutoff,
		          NULL);
	}
	return 0;
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
	influx_client_close(s->client);
	buf_free(&s->lines);
	buf_free(&s->del_url);
	buf_free(&s->del_body);
	free(s->url);
	free(s->db);
	free(s->org);
	tw_sink_schema_free(&s->schema);
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

static int influx_open(const struct tw_spec *spec, const char *token, void **impl, char *errbuf,
                       size_t errbuf_size)
{
	struct influx_client_options o;
	struct influx_sink *s;
	int rc;

	if ((rc = check_names(spec, errbuf, errbuf_size)) < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "influxdb: out of memory");
	buf_init(&s->lines, TW_SINK_INFLUX_BATCH_BYTES);
	buf_init(&s->del_url, DELETE_MAX);
	buf_init(&s->del_body, DELETE_MAX);
	s->raw = spec->sinks.influxdb_raw;
	s->windows = spec->sinks.influxdb_windows;
	s->api = (int)spec->sinks.influxdb.api;
	s->max_age_ns = spec->retention.max_age_ns;
	s->url = strdup(spec->sinks.influxdb.url);
	s->db = strdup(spec->sinks.influxdb.database);
	s->org = spec->sinks.influxdb.org != NULL ? strdup(spec->sinks.influxdb.org) : NULL;
	if (s->url == NULL || s->db == NULL ||
	    (spec->sinks.influxdb.org != NULL && s->org == NULL)) {
		influx_close(s);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "influxdb: out of memory");
	}
	if ((rc = tw_sink_schema_init(&s->schema, spec, errbuf, errbuf_size)) < 0) {
		influx_close(s);
		return rc;
	}
	o = (struct influx_client_options){
	    .url = spec->sinks.influxdb.url,
	    .api = (int)spec->sinks.influxdb.api,
	    .db = spec->sinks.influxdb.database,
	    .org = spec->sinks.influxdb.org,
	    .token = token,
	    .timeout_s = INFLUX_TIMEOUT_S,
	    .connect_timeout_s = INFLUX_CONNECT_TIMEOUT_S,
	    .log_key = "resource",
	    .log_value = s->schema.resource,
	};
	if (influx_client_open(&o, &s->client, errbuf, errbuf_size) < 0) {
		influx_close(s);
		return TW_SINK_E_CONFIG;
	}
	*impl = s;
	return 0;
}

const struct tw_sink_ops tw_sink_influx_ops = {
    .name = "influxdb",
    .open = influx_open,
    .write = influx_write,
    .trim = influx_trim,
    .retry_after_ms = influx_retry_after_ms,
    .close = influx_close,
};
