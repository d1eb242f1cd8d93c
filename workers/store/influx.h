/* influx.h -- the InfluxDB HTTP API as both pipelines write to it: the write
 * URL of each API version, what an answer means (Telegraf's rules), how long
 * a Retry-After asks to wait, and how a body a server found too large is
 * halved and sent again (influx_post_split). api is the spec's API version:
 * 1 (/write) or 2 (/api/v2/write). Pure; influx_client.h does the HTTP.
 */
#ifndef SLUICE_INFLUX_H
#define SLUICE_INFLUX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* Retry-After is honoured up to this (Telegraf's cap). */
#define INFLUX_RETRY_AFTER_MAX_MS (600 * 1000)
/* A Retry-After that cannot be read counts as this (Telegraf's guess). */
#define INFLUX_RETRY_AFTER_BAD_MS (10 * 1000)
/* What to do with a write's answer. */
enum influx_action {
	INFLUX_ACT_OK = 0,    /* delivered */
	INFLUX_ACT_REJECT,    /* dropped: retrying cannot help */
	INFLUX_ACT_RETRY,     /* transient: retry the batch later */
	INFLUX_ACT_SPLIT,     /* 413: halve the request and send both halves */
	INFLUX_ACT_CREATE_DB, /* v1 "database not found": CREATE DATABASE, retry */
	INFLUX_ACT_AUTH,      /* 401/403: retry, but log as a configuration error */
};

/*
 * Telegraf's rules (plugins/outputs/influxdb{,_v2}/http.go), one table for
 * both APIs, the first match winning:
 *
 *   2xx                                       OK
 *   v1, body has "database not found"         CREATE_DB
 *   413                                       SPLIT
 *   401, 403                                  AUTH
 *   429, 502, 503, 504                        RETRY
 *   400, 406, 422, any other 4xx              REJECT
 *   body has "hinted handoff queue not empty" OK (informational, v1)
 *   body has "partial write", "unable to parse", "points beyond retention
 *   policy", "retention policy not found"     REJECT
 *   anything else (other 5xx, 1xx, 3xx)       RETRY
 *
 * The sink honours Retry-After (influx_retry_after) on a RETRY
 * (not on AUTH) that carries one.
 * body may be NULL. Where Telegraf's v1 output drops every 4xx, this splits
 * 413 and retries 429 and 401/403 as its v2 output does, so nothing is lost
 * to a proxy's limit or a token being rotated.
 */
enum influx_action influx_classify(int api, long status, const char *body);

/*
 * Milliseconds a Retry-After value asks for: delta-seconds (decimals
 * allowed) or an HTTP date (compared with now), capped at
 * INFLUX_RETRY_AFTER_MAX_MS, 0 for a date in the past; an unreadable
 * value is INFLUX_RETRY_AFTER_BAD_MS; NULL is 0.
 */
int64_t influx_retry_after(const char *value, time_t now);

/*
 * The write URL: "<url>/write?db=<db>&precision=ns" (v1) or
 * "<url>/api/v2/write?org=<org>&bucket=<db>&precision=ns" (v2; org left out
 * when unset), values percent-encoded, a trailing '/' of url dropped.
 * Appended to out, NUL-terminated. Returns 0 or a LP_E_* code.
 */
int influx_write_url(struct buf *out, int api, const char *url, const char *db, const char *org);

/* Where to cut len bytes of whole lines in two halves by line count: the
 * offset just past the middle line's '\n'; 0 when there is one line. */
size_t influx_split_point(const char *data, size_t len);

/* "<url>/query" (a trailing '/' of url dropped), NUL-terminated, appended
 * to out: where InfluxDB 1.x takes CREATE DATABASE. Returns 0 or a BUF_E_*
 * code. */
int influx_query_url(struct buf *out, const char *url);

/* The form body "q=CREATE DATABASE \"<db>\"" percent-encoded,
 * NUL-terminated, appended to out. Returns 0 or a BUF_E_* code. */
int influx_create_db_body(struct buf *out, const char *db);

/* Appends s percent-encoded (RFC 3986: unreserved bytes as they are), no
 * NUL. Returns 0 or a BUF_E_* code. */
int influx_append_encoded(struct buf *out, const char *s);

/* Appends url without its trailing slashes, no NUL. Returns 0 or a BUF_E_*
 * code. */
int influx_append_base(struct buf *out, const char *url);

/* What a write came to (influx_client_write, and each post of
 * influx_post_split). */
enum influx_outcome {
	INFLUX_OK = 0,
	INFLUX_RETRY = -1,  /* transient (away, timed out, 429, 5xx): send it again later */
	INFLUX_REJECT = -2, /* permanent for these points: sending them again cannot help */
	INFLUX_AUTH = -3,   /* 401/403: the token was refused (it may be being rotated) */
	INFLUX_CONFIG = -4, /* a URL curl cannot use, no right to CREATE DATABASE */
};

/* What a post answers for a 413, besides an influx_outcome. */
#define INFLUX_TOO_LARGE 1

/* Sends one request body of len bytes (whole lines). Returns an
 * influx_outcome with its reason in errbuf, or INFLUX_TOO_LARGE. */
typedef int (*influx_post_fn)(void *ctx, const char *data, size_t len, char *errbuf,
                              size_t errbuf_size);

/*
 * Posts data (whole lines) with post; on INFLUX_TOO_LARGE halves it by
 * lines (influx_split_point) and posts each half the same way,
 * recursively (Telegraf's splitAndWrite), so every line is tried in the
 * largest request the server takes. A single line the server still finds
 * too large is INFLUX_REJECT ("influxdb: 413: one point of N bytes is
 * larger than the server takes"). A REJECTed half does not stop the other;
 * RETRY, AUTH and CONFIG stop at once (later halves are not sent: the
 * server asked for calm, or would refuse them the same way). Returns
 * INFLUX_OK, the first stopping failure, or else the first REJECT, with
 * that failure's reason in errbuf.
 */
int influx_post_split(const char *data, size_t len, influx_post_fn post, void *ctx, char *errbuf,
                      size_t errbuf_size);

#endif
