/* influx_client.h -- the one InfluxDB HTTP client (libcurl), for the
 * telemetry sink's windows and raw points and the video worker's segment
 * points: writes line protocol to the v1 /write or the v2 /api/v2/write
 * API (and deletes what retention drops: influx_client_delete), answered by influx.h's rules
 * (Telegraf's), with a 413 halved and sent again (influx_post_split), a v1 "database not found"
 * answered by CREATE DATABASE and the write sent once more, and Retry-After kept for the caller.
 * Messages name the URL, never the token.
 *
 * Logs (lib/log.h) each event of a write, every line naming the writer by
 * the options' log_key/log_value ("resource" "prod/sensors", "job" ...):
 *   warn  influxdb request failed (error for a URL curl cannot use)
 *   warn  influxdb request too large; splitting it
 *   info  influxdb database created
 *   error influxdb CREATE DATABASE failed
 *   error influxdb refused the credentials: check the token Secret
 *   warn  influxdb write to retry
 *   error influxdb rejected points
 *   warn  influxdb retention delete failed
 *
 * A client is used by one thread at a time.
 */
#ifndef SLUICE_INFLUX_CLIENT_H
#define SLUICE_INFLUX_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "influx.h"
#include "influx_delete.h"

struct influx_client_options {
	const char *url;        /* "http[s]://host:port[/base]" */
	int api;                /* 1 (/write) or 2 (/api/v2/write) */
	const char *db;         /* the database (v1) or bucket (v2) */
	const char *org;        /* v2's organisation; NULL: none */
	const char *token;      /* sent as "Authorization: Token <token>"; NULL: none */
	long timeout_s;         /* a whole request; 0: no limit */
	long connect_timeout_s; /* 0: curl's default */
	/* What every log line names the writer by; NULL: "database" db. */
	const char *log_key, *log_value;
};

struct influx_client;

/*
 * Makes a client (everything in o is copied; nothing connects yet).
 * Returns 0 with *out set, or INFLUX_CONFIG with the reason in errbuf
 * (out of memory, url or token too long, curl cannot start).
 */
int influx_client_open(const struct influx_client_options *o, struct influx_client **out,
                       char *errbuf, size_t errbuf_size);

/*
 * Writes len bytes of line protocol (whole lines, each ending in '\n').
 * Returns an influx_outcome with the reason in errbuf when it is not
 * INFLUX_OK:
 *   "influxdb: POST <url>: Connection refused"          RETRY (CONFIG for a
 *                                                       URL curl cannot use)
 *   "influxdb: 503: <the body's first line>"            RETRY
 *   "influxdb: 401 (check the token): <first line>"     AUTH
 *   "influxdb: 400: <first line>"                       REJECT
 *   "influxdb: 413: one point of N bytes is larger ..." REJECT
 *   "influxdb: database \"d\" not found and CREATE DATABASE failed: 403 ..."
 *                                                       CONFIG (refused) or RETRY
 * After a refused CREATE DATABASE (401/403) the client does not try again:
 * "database not found" is CONFIG from then on.
 */
int influx_client_write(struct influx_client *c, const char *body, size_t len, char *errbuf,
                        size_t errbuf_size);

/*
 * Sends a retention delete planned by influx_delete_plan (for this
 * client's api, url, db and org) with the client's token, and judges the
 * answer by influx_delete_outcome. Returns an influx_outcome with the
 * reason in errbuf when it is not INFLUX_OK ("influxdb: delete: 400:
 * <the body's first line>", "influxdb: POST <url>: Connection refused").
 * Logs a warning for a delete that failed; nothing when it succeeded.
 */
int influx_client_delete(struct influx_client *c, const struct influx_delete_req *req, char *errbuf,
                         size_t errbuf_size);

/* How long the last write's RETRY answers asked to wait (Retry-After, the
 * longest of them, influx_retry_after's cap), or 0 when none said. */
int64_t influx_client_retry_after_ms(const struct influx_client *c);

/* Frees the client; NULL is a no-op. */
void influx_client_close(struct influx_client *c);

#endif
