/* tw_sink_int.h -- inside the telemetry sinks (tw_sink*.c): the ops table each
 * sink kind fills, what the sinks copy out of the spec, and the pure text
 * builders and classifiers behind each adapter. The builders are declared
 * here, not kept static, so the unit tests (tests/unit/test_tw_sink.c) can
 * check their exact output; the loop uses tw_sink.h only.
 *
 * Everything here is pure (no I/O, no clock, no global state) unless a
 * comment says otherwise; docs/telemetry-sinks.md describes what each sink
 * writes and how to query it.
 */
#ifndef SLUICE_TW_SINK_INT_H
#define SLUICE_TW_SINK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tw_event.h"
#include "lineproto.h"
#include "tw_parse.h"
#include "tw_sink.h"
#include "tw_spec.h"

/* ==== The ops table ==== */

/*
 * One sink kind. open() gets the spec (borrowed for the call: a sink copies
 * what it keeps) and the secret its spec references, already read from the
 * environment (NULL when the spec names none); it connects to nothing (the
 * first write does), and returns 0 with *impl set, or TW_SINK_E_CONFIG with
 * the reason in errbuf. The other calls are tw_sink.h's, on impl; close(NULL)
 * is a no-op.
 */
struct tw_sink_ops {
	const char *name;
	int (*open)(const struct tw_spec *spec, const char *secret, void **impl, char *errbuf,
	            size_t errbuf_size);
	int (*write)(void *impl, const struct tw_batch *batch, char *errbuf, size_t errbuf_size);
	int (*trim)(void *impl, int64_t now_ns, char *errbuf, size_t errbuf_size);
	int64_t (*retry_after_ms)(const void *impl);
	void (*close)(void *impl);
};

extern const struct tw_sink_ops tw_sink_pg_ops;
extern const struct tw_sink_ops tw_sink_redis_ops;
extern const struct tw_sink_ops tw_sink_influx_ops;

/* Opens one sink of the kind ops implements (tw_sinks_new does, for each
 * configured kind; the unit tests, for sinks of their own). Returns 0 with
 * the sink in *out, which tw_sinks_free frees as one of an array, or the
 * open's error. */
int tw_sink_open(const struct tw_sink_ops *ops, const struct tw_spec *spec, const char *secret,
                 struct tw_sink **out, char *errbuf, size_t errbuf_size);

/* Writes the message to errbuf (when there is one) and returns rc: err.h's
 * err_set, under the name every sink already calls. */
int tw_sink_fail(char *errbuf, size_t errbuf_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ==== What every sink copies out of the spec ==== */

/*
 * The names a sink writes rows under. Made by tw_sink_schema_init, which
 * copies every string into arena (freed by tw_sink_schema_free); tests may
 * fill one by hand with literals and arena NULL.
 */
struct tw_sink_schema {
	const char *resource; /* "namespace/name" */
	const char *key_names[TW_KEYS_MAX];
	size_t nkeys;
	const char *value_names[TW_VALUES_MAX];
	size_t nvalues;
	unsigned aggregations; /* TW_AGG_* bits: which aggregates to write */
	int64_t window_size_ns;
	char *arena;
};

/* Returns 0, or TW_SINK_E_CONFIG (out of memory) with errbuf set. */
int tw_sink_schema_init(struct tw_sink_schema *s, const struct tw_spec *spec, char *errbuf,
                        size_t errbuf_size);
void tw_sink_schema_free(struct tw_sink_schema *s);

/* One key field's bytes inside a row's key (not NUL-terminated). */
struct tw_sink_key_part {
	const char *p;
	size_t len;
};

/*
 * Splits key (len bytes, fields joined by TW_KEY_SEP) into at most max
 * parts; returns how many it found. An empty key with nkeys 0 is 0 parts:
 * callers pass nkeys so that a single empty key field ("") is one empty
 * part, not none.
 */
size_t tw_sink_key_split(const char *key, size_t len, size_t nkeys, struct tw_sink_key_part *parts,
                         size_t max);

/* The aggregates in the order every sink writes them, with their names
 * (tw_agg_name) and where each sits in a struct tw_value_result. "count"
 * is not among them: window and field counts are always written. */
#define TW_SINK_AGGS 7
struct tw_sink_agg {
	unsigned kind;
	const char *name;
	size_t offset; /* of the double in struct tw_value_result */
};
extern const struct tw_sink_agg tw_sink_aggs[TW_SINK_AGGS];

/* The aggregate a of r. */
double tw_sink_agg_value(const struct tw_sink_agg *a, const struct tw_value_result *r);

/* ==== PostgreSQL (tw_sink_pg.c) ==== */

/* The schema version this build writes (sluice_schema_version.version). */
#define TW_SINK_PG_SCHEMA_VERSION 1
/* Database rows per INSERT statement: 15 parameters each, well under the
 * protocol's 65535 parameters, and a statement a server parses quickly. */
#define TW_SINK_PG_ROWS_PER_INSERT 1000
/* Parameters per database row of the INSERT. */
#define TW_SINK_PG_PARAMS 15

/*
 * Appends the upsert for nrows database rows (1..TW_SINK_PG_ROWS_PER_INSERT)
 * into table to out, NUL-terminated:
 *
 *   INSERT INTO "t" AS t (resource, key, key_fields, ...) VALUES ($1, ...), ...
 *   ON CONFLICT (resource, key, window_start, field) DO UPDATE SET ...
 *   WHERE (t.window_end, ...) IS DISTINCT FROM (EXCLUDED.window_end, ...)
 *
 * The WHERE makes an identical replay touch nothing. Returns 0 or a
 * LP_E_* code from buf_append.
 */
int tw_sink_pg_insert_sql(struct buf *out, const char *table, size_t nrows);

/*
 * The PostgreSQL text[] literal of the key's fields: {"d-17","s3"}, with '"'
 * and '\' escaped by '\' (every element quoted, so NULL, empty and spaces
 * are plain text). Returns the length written (NUL-terminated), or -1 when
 * size is too small.
 */
int tw_sink_pg_key_array(const char *key, size_t key_len, size_t nkeys, char *buf, size_t size);

/* ns since the epoch as a timestamptz literal: "2026-11-23 05:00:00.123456+00"
 * (microseconds: PostgreSQL's resolution; finer digits are dropped toward
 * -infinity). Returns the length, or -1 when size is under 32. */
int tw_sink_pg_format_ts(int64_t ns, char *buf, size_t size);

/* The upsert sends numbers and times in PostgreSQL's binary form: nothing
 * printed here to be parsed there, and a double crosses exactly. */

/* ns since the Unix epoch as a binary timestamptz: microseconds since
 * 2000-01-01 00:00:00 UTC, finer digits dropped toward -infinity (as the
 * text form above drops them). */
int64_t tw_sink_pg_time_us(int64_t ns);

/* v in network byte order: the 8 bytes of a binary int8, float8 (the
 * double's bits) or timestamptz parameter. */
void tw_sink_pg_be64(uint64_t v, unsigned char out[8]);

/*
 * What a failed statement means, by its SQLSTATE (NULL or "" when the server
 * gave none: the connection broke): TW_SINK_E_RETRY for connection, resource,
 * operator-intervention, lock and serialization classes (08, 53, 55, 57, 58,
 * 40, XX) and anything unknown; TW_SINK_E_REJECT for data and constraint
 * errors (22, 23) and statements the server will never accept (42, except
 * below); TW_SINK_E_CONFIG for no right to do it (42501, 28) or no such
 * database (3D). 42P01/42703 (the table or a column went away) are RETRY:
 * the sink re-checks its schema on the next write.
 */
int tw_sink_pg_classify(const char *sqlstate);

/* ==== Redis (tw_sink_redis.c) ==== */

/* Windows kept per key in the timeline (the spec has no field for it). */
#define TW_SINK_REDIS_TIMELINE 60
/* Rows whose commands go out before their replies are read: bounds the
 * memory of one round trip (one pipeline per batch up to this many rows). */
#define TW_SINK_REDIS_PIPELINE_ROWS 1024
/* EVALSHA sha 2 latest timeline start score pttl keep member + 2 per hash
 * field (start, end, count and at most 8 per value field). */
#define TW_SINK_REDIS_ARGS_MAX (10 + 2 * (3 + 8 * TW_VALUES_MAX))

/*
 * The Lua script every row runs (loaded once per connection with SCRIPT
 * LOAD, run with EVALSHA). KEYS: latest hash, timeline zset. ARGV: start ns,
 * score (start ms), TTL ms, timeline length, member, then hash field/value
 * pairs. It replaces the hash only when the row's window starts at or after
 * the stored one, replaces the timeline member of the same window start,
 * trims the timeline and sets both TTLs: the same rows in any order, any
 * number of times, leave the same state.
 */
extern const char tw_sink_redis_script[];

/* One command's arguments; argv/argvlen point into buf (valid until the
 * next build into the same struct). Initialise buf with buf_init and free
 * it with buf_free. */
struct tw_sink_redis_cmd {
	struct buf buf;
	size_t argc;
	size_t off[TW_SINK_REDIS_ARGS_MAX];
	const char *argv[TW_SINK_REDIS_ARGS_MAX];
	size_t argvlen[TW_SINK_REDIS_ARGS_MAX];
};

/*
 * Builds the EVALSHA of one row: keys "<prefix><key>:latest" and
 * "<prefix><key>:timeline" (the key's bytes exactly, TW_KEY_SEP included),
 * hash fields start, end (ns), count, and "<field>.count" plus
 * "<field>.<agg>" for each aggregate asked for that has a value, member as
 * tw_sink_redis_member. Returns 0, or a LP_E_* code (buffer) with errbuf
 * set.
 */
int tw_sink_redis_row_cmd(struct tw_sink_redis_cmd *cmd, const char *sha, const char *prefix,
                          int64_t ttl_ns, const struct tw_sink_schema *schema,
                          const struct tw_row *row, char *errbuf, size_t errbuf_size);

/*
 * Appends the timeline member of a row to out, compact JSON:
 *   {"start":1795410000000000000,"end":1795410060000000000,"count":3,
 *    "fields":{"temp":{"count":3,"sum":64.5,"min":21,...}}}
 * Field names escaped by log_json_escape; NaN and infinite aggregates left
 * out (JSON has no NaN). Returns 0 or a LP_E_* code.
 */
int tw_sink_redis_member(struct buf *out, const struct tw_sink_schema *schema,
                         const struct tw_row *row);

/*
 * What an error reply means, by its code (the first word): RETRY for
 * LOADING, BUSY, TRYAGAIN, MASTERDOWN, READONLY, OOM, CLUSTERDOWN;
 * CONFIG for NOAUTH, WRONGPASS, NOPERM; REJECT otherwise (WRONGTYPE, ERR:
 * the same command would fail again). NOSCRIPT is the caller's to handle.
 */
int tw_sink_redis_classify(const char *error);

/* ==== InfluxDB (tw_sink_influx.c) ==== */

/* Lines per request: InfluxDB's docs recommend 5,000 to 10,000 points. */
#define TW_SINK_INFLUX_BATCH_LINES 5000
/* Bytes per request body before it is sent early. */
#define TW_SINK_INFLUX_BATCH_BYTES (8u << 20)
#define TW_SINK_INFLUX_WINDOW_MEASUREMENT "telemetry_window"
#define TW_SINK_INFLUX_RAW_MEASUREMENT "telemetry_raw"

/* "1h", "5m", "30s", "1500ms": the window tag's value for size ns (the spec's
 * durations have ms resolution). Returns the length or -1 (size < 24). */
int tw_sink_influx_duration(int64_t ns, char *buf, size_t size);

/* The tag name a key field is written under: its own name, or "key_<name>"
 * for a name the window point uses itself ("resource", "window"). */
const char *tw_sink_influx_key_tag(const char *name, char *buf, size_t size);

/*
 * Appends the window point of row to b:
 *   telemetry_window,resource=ns/name,<key tags>,window=1m count=3i,
 *     temp_count=3i,temp_sum=64.5,... <start ns>
 * Key tags named by tw_sink_influx_key_tag; an empty key part is left out
 * (InfluxDB reads a missing tag as the empty value); "<field>_count" always
 * and "<field>_<agg>" for each aggregate asked for that has a finite value.
 * Contract as lp_append.
 */
int tw_sink_influx_window_line(struct buf *b, const struct tw_sink_schema *schema,
                               const struct tw_row *row, char *errbuf, size_t errbuf_size);

/*
 * Appends the raw point of ev: telemetry_raw,resource=...,<key tags>
 * <value>=<float>,... <ts ns>. An event without any value is not a point:
 * returns 1 and appends nothing. Otherwise as lp_append.
 */
int tw_sink_influx_event_line(struct buf *b, const struct tw_sink_schema *schema,
                              const struct tw_event *ev, char *errbuf, size_t errbuf_size);

/* Sending a batch (the 413 split, CREATE DATABASE, Retry-After) is the
 * store's InfluxDB client: influx_client.h. */

#endif
