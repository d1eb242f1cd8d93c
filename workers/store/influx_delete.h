/* influx_delete.h -- retention for InfluxDB: which points are too old
 * (the cutoff) and the request that deletes them, for both APIs, and what
 * the answer means. Pure; influx_client_delete (influx_client.h) sends it.
 *
 *   v1  POST <url>/query?db=<db>
 *       q=DELETE FROM "<measurement>" WHERE "<tag>" = '<value>' AND
 *         time < '<cutoff>'                  (form-encoded, InfluxQL)
 *   v2  POST <url>/api/v2/delete?org=<org>&bucket=<db>
 *       {"start":"1677-09-21T00:12:43.145224194Z","stop":"<cutoff - 1ns>",
 *        "predicate":"_measurement=\"<measurement>\" AND <tag>=\"<value>\""}
 *
 * v2's stop is inclusive, so it is the cutoff less a nanosecond: both APIs
 * delete exactly the points with time < cutoff. The tag scopes the delete
 * to one writer's points (the telemetry sink's "resource" tag), since a
 * database is shared by many resources.
 */
#ifndef SLUICE_INFLUX_DELETE_H
#define SLUICE_INFLUX_DELETE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The earliest time InfluxDB stores: v2's delete starts there. */
#define INFLUX_TIME_MIN_NS (INT64_MIN + 2)
#define INFLUX_DELETE_START "1677-09-21T00:12:43.145224194Z"

/* influx_delete_plan's refusals (besides BUF_E_* from the buffers). */
#define INFLUX_DELETE_E_INVALID (-100)

/* What to delete. Strings are borrowed for the call. */
struct influx_delete_in {
	int api;         /* 1 or 2 */
	const char *url; /* "http[s]://host:port[/base]" */
	const char *db;  /* the database (v1) or bucket (v2) */
	const char *org; /* v2's organisation; NULL: left out */
	const char *measurement;
	const char *tag_key;   /* [A-Za-z0-9_]+; NULL: every point of the measurement */
	const char *tag_value; /* no newline */
	int64_t now_ns;        /* the writer's wall clock (clock_real_ns) */
	int64_t max_age_ns;    /* retention.maxAge; <= 0: no age limit */
	int64_t span_ns;       /* how long after its timestamp a point still covers
	                        * (a window's size: its time is the window's start);
	                        * 0 for an instant */
};

/* The planned request. Buffers are the caller's (buf_init them; they are
 * appended to, NUL-terminated). */
struct influx_delete_req {
	int64_t cutoff_ns;        /* points with time < cutoff_ns go */
	const char *content_type; /* a static string */
	struct buf *url, *body;
};

/*
 * The cutoff: now - max_age - span (a point goes when what it covers ended
 * more than max_age ago), and the request of the header's table for it.
 * Returns 0 with req filled; 1 when there is nothing to delete (no age
 * limit, or a cutoff at or before InfluxDB's earliest time; req->url and
 * body untouched); INFLUX_DELETE_E_INVALID for an api other than 1 or 2, a
 * missing url/db/measurement, a tag key that is not [A-Za-z0-9_]+, or a
 * measurement or tag value with a control byte (InfluxQL cannot quote a
 * newline); a BUF_E_* code when a buffer is full.
 */
int influx_delete_plan(const struct influx_delete_in *in, struct influx_delete_req *req);

/*
 * What a delete's answer means, as an influx_outcome (influx.h):
 *   2xx, v1 body without "error"                     OK
 *   2xx or 404, v1 body has "database not found"     OK (nothing was written)
 *   2xx, v1 body has another "error" (InfluxQL's)    REJECT
 *   401, 403                                         AUTH
 *   429, 5xx, 1xx, 3xx                               RETRY
 *   any other 4xx                                    REJECT
 * body may be NULL.
 */
int influx_delete_outcome(int api, long status, const char *body);

#endif
