/* tw_sink_pg.c -- the PostgreSQL sink (libpq): window results upserted one
 * row per (resource, key, window start, value field), in one transaction
 * per batch, into a table whose schema it creates and migrates on connect.
 * See tw_sink_int.h for the pure parts and docs/telemetry-sinks.md for the
 * table and how to query it. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "pg.h"
#include "secret_env.h"
#include "tw_sink_int.h"
#include "tw_time.h"

/* Identifiers are quoted in SQL, but only names tw_spec accepts get there:
 * [a-z_][a-z0-9_]*, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1). */
#define TABLE_MAX 63
/* Statement text for DDL and trims, the table name included. */
#define SQL_MAX 4096
/* Every Sluice worker creating or migrating a table takes this transaction
 * lock first, so N replicas starting at once do it one at a time (CREATE
 * TABLE IF NOT EXISTS alone still races on the catalog). Any constant
 * would do; this one spells "sluice" in ASCII. */
#define SCHEMA_LOCK_KEY "115108117105099101"
/* A server that does not answer a connect or a statement in this long is
 * away (RETRY): the loop is never stuck on one write. */
#define CONNECT_TIMEOUT_S 10
#define STATEMENT_TIMEOUT_MS 30000

/* Longest path of the CA file. */
#define PATH_MAX_LEN 512

struct pg_sink {
	struct tw_sink_schema schema;
	char *dsn;
	char ca_file[PATH_MAX_LEN]; /* spec.sinks.postgres.tls.ca written out; "": none */
	char table[TABLE_MAX + 1];
	uint32_t max_rows_per_key;
	int64_t max_age_ns;
	PGconn *conn;    /* NULL: connect on the next call */
	struct buf sql;  /* upsert text, reused */
	size_t sql_rows; /* rows the upsert in sql is for; 0: none */
	struct buf vals; /* parameter values (text NUL-ended, binary 8 bytes), reused */
	/* TW_SINK_PG_PARAMS * ROWS_PER_INSERT of each: offsets into vals, then
	 * what libpq takes (pointers, lengths, formats, types). */
	size_t *offs;
	const char **params;
	int *lens, *formats;
	Oid *types;
	int prepared; /* the full-size upsert is prepared on this connection */
};

/* The upsert's parameter types by column (pg_type OIDs, fixed since
 * PostgreSQL's first releases) and which of them go binary. */
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701
#define OID_TEXT_ARRAY 1009
#define OID_TIMESTAMPTZ 1184
static const Oid column_types[TW_SINK_PG_PARAMS] = {
    OID_TEXT,   OID_TEXT,   OID_TEXT_ARRAY, OID_TIMESTAMPTZ, OID_TIMESTAMPTZ,
    OID_INT8,   OID_TEXT,   OID_INT8,       OID_FLOAT8,      OID_FLOAT8,
    OID_FLOAT8, OID_FLOAT8, OID_FLOAT8,     OID_FLOAT8,      OID_FLOAT8,
};
/* The prepared full-size upsert's name (one per connection). */
#define UPSERT_STMT "sluice_upsert"

#define NO_VALUE SIZE_MAX

/* ==== Pure text ==== */

static const char *const columns[TW_SINK_PG_PARAMS] = {
    "resource", "key", "key_fields", "window_start", "window_end", "count", "field", "value_count",
    "sum",      "min", "max",        "mean",         "p50",        "p95",   "p99",
};

int tw_sink_pg_insert_sql(struct buf *out, const char *table, size_t nrows)
{
	char tmp[96];
	int rc = 0, n;

#define PUT(s) (rc = rc ? rc : buf_append(out, (s), strlen(s)))
	PUT("INSERT INTO \"");
	PUT(table);
	PUT("\" AS t (");
	for (size_t c = 0; c < TW_SINK_PG_PARAMS; c++) {
		PUT(c ? ", " : "");
		PUT(columns[c]);
	}
	PUT(") VALUES ");
	for (size_t r = 0; r < nrows; r++) {
		PUT(r ? ", (" : "(");
		for (size_t c = 0; c < TW_SINK_PG_PARAMS; c++) {
			n = snprintf(tmp, sizeof(tmp), "%s$%zu", c ? ", " : "",
			             r * TW_SINK_PG_PARAMS + c + 1);
			if (n < 0 || (size_t)n >= sizeof(tmp))
				return LP_E_INVALID;
			PUT(tmp);
		}
		PUT(")");
	}
	PUT(" ON CONFLICT (resource, key, window_start, field) DO UPDATE SET ");
	/* Every column but the key's: resource, key, window_start, field. */
	for (size_t c = 2, first = 1; c < TW_SINK_PG_PARAMS; c++) {
		if (c == 3 || c == 6)
			continue;
		PUT(first ? "" : ", ");
		PUT(columns[c]);
		PUT(" = EXCLUDED.");
		PUT(columns[c]);
		first = 0;
	}
	for (int side = 0; side < 2; side++) {
		PUT(side ? ") IS DISTINCT FROM (" : " WHERE (");
		for (size_t c = 2, first = 1; c < TW_SINK_PG_PARAMS; c++) {
			if (c == 3 || c == 6)
				continue;
			PUT(first ? "" : ", ");
			PUT(side ? "EXCLUDED." : "t.");
			PUT(columns[c]);
			first = 0;
		}
	}
	PUT(")");
	rc = rc ? rc : buf_append(out, "", 1);
#undef PUT
	return rc;
}

int tw_sink_pg_key_array(const char *key, size_t key_len, size_t nkeys, char *buf, size_t size)
{
	struct tw_sink_key_part parts[TW_KEYS_MAX + 1];
	size_t n = tw_sink_key_split(key, key_len, nkeys, parts, TW_KEYS_MAX + 1), w = 0;

#define PUTC(ch)                                                                                   \
	do {                                                                                       \
		if (w + 1 >= size)                                                                 \
			return -1;                                                                 \
		buf[w++] = (ch);                                                                   \
	} while (0)
	if (size == 0)
		return -1;
	PUTC('{');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			PUTC(',');
		PUTC('"');
		for (size_t j = 0; j < parts[i].len; j++) {
			char ch = parts[i].p[j];

			if (ch == '"' || ch == '\\')
				PUTC('\\');
			PUTC(ch);
		}
		PUTC('"');
	}
	PUTC('}');
#undef PUTC
	buf[w] = '\0';
	return (int)w;
}

int tw_sink_pg_format_ts(int64_t ns, char *buf, size_t size)
{
	int64_t sec = tw_time_floor_div(ns, 1000000000), rem = tw_time_floor_mod(ns, 1000000000);
	time_t t;
	struct tm tm;
	int n;

	if (size < 32)
		return -1;
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	n = snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (int)(rem / 1000));
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 UTC. */
#define PG_EPOCH_US INT64_C(946684800000000)

int64_t tw_sink_pg_time_us(int64_t ns)
{
	return tw_time_floor_div(ns, 1000) - PG_EPOCH_US;
}

void tw_sink_pg_be64(uint64_t v, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

int tw_sink_pg_classify(const char *st)
{
	if (st == NULL || strlen(st) != 5)
		return TW_SINK_E_RETRY; /* no answer: the connection broke */
	if (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0)
		return TW_SINK_E_RETRY;
	if (strcmp(st, "42501") == 0 || strncmp(st, "28", 2) == 0 || strncmp(st, "3D", 2) == 0)
		return TW_SINK_E_CONFIG;
	/* 21: cardinality (the same row twice in one upsert), 22: data,
	 * 23: constraints, 42: a statement never valid, 54: a limit passed. */
	if (strncmp(st, "21", 2) == 0 || strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
	    strncmp(st, "42", 2) == 0 || strncmp(st, "54", 2) == 0)
		return TW_SINK_E_REJECT;
	/* 08 connection, 40 serialization/deadlock, 53 resources, 55 lock not
	 * available, 57 shutdown/cancel (statement_timeout), 58 I/O, XX
	 * internal; and anything unknown: retrying loses nothing. */
	return TW_SINK_E_RETRY;
}

/* ==== Connection and statements ==== */

static void pg_notice(void *arg, const char *message)
{
	const struct pg_sink *s = arg;
	size_t n = strcspn(message, "\n");
	char line[512];

	snprintf(line, sizeof(line), "%.*s", (int)n, message);
	log_debug("postgres notice", "resource", s->schema.resource, "table", s->table, "notice",
	          line, NULL);
}

static void pg_drop(struct pg_sink *s)
{
	if (s->conn != NULL) {
		PQfinish(s->conn);
		s->conn = NULL;
	}
	s->prepared = 0;
}

/* The connection's last error, first line only. */
static void conn_error(const PGconn *conn, char *buf, size_t size)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";

	snprintf(buf, size, "%.*s", (int)strcspn(m, "\n"), m);
}

/*
 * Runs sql with text parameters. Returns 0 with *out the result (when out
 * is not NULL; the caller PQclears it), or the classified failure with
 * "postgres: <what>: <message> (SQLSTATE xxxxx)" in errbuf; a connection
 * that broke is dropped, to be made again on the next call.
 */
/* A statement's result: 0 (kept in *out when out is not NULL), or its error
 * classified, in errbuf and the log; a broken connection is dropped. */
static int pg_result(struct pg_sink *s, const char *what, PGresult *res, PGresult **out,
                     char *errbuf, size_t errbuf_size)
{
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state, *msg;
	char cmsg[512];
	int rc;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out != NULL)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (msg == NULL) {
		conn_error(s->conn, cmsg, sizeof(cmsg));
		msg = cmsg;
	}
	rc = PQstatus(s->conn) == CONNECTION_BAD ? TW_SINK_E_RETRY : tw_sink_pg_classify(state);
	tw_sink_fail(errbuf, errbuf_size, rc, "postgres: %s: %s (SQLSTATE %s)", what, msg,
	             state != NULL ? state : "none");
	log_msg(rc == TW_SINK_E_RETRY ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
	        "postgres statement failed", "resource", s->schema.resource, "table", s->table,
	        "statement", what, "sqlstate", state != NULL ? state : "", "error", msg, NULL);
	PQclear(res);
	if (PQstatus(s->conn) == CONNECTION_BAD)
		pg_drop(s);
	return rc;
}

static int pg_exec(struct pg_sink *s, const char *what, const char *sql, int nparams,
                   const char *const *params, PGresult **out, char *errbuf, size_t errbuf_size)
{
	return pg_result(s, what, PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0),
	                 out, errbuf, errbuf_size);
}

/* Ends a failed transaction; a connection that cannot is dropped. */
static void pg_rollback(struct pg_sink *s)
{
	PGresult *res;

	if (s->conn == NULL)
		return;
	res = PQexec(s->conn, "ROLLBACK");
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[512];

		conn_error(s->conn, msg, sizeof(msg));
		log_warn("postgres rollback failed; reconnecting", "resource", s->schema.resource,
		         "error", msg, NULL);
		pg_drop(s);
	}
	PQclear(res);
}

/* ==== Schema ==== */

/*
 * Version 1, the current layout: one row per (resource, key, window start,
 * value field); a window of a spec without value fields is one row with
 * field ''. NULL aggregates are "no value" (nothing to aggregate, or not
 * asked for).
 */
static int create_v1(struct pg_sink *s, char *errbuf, size_t errbuf_size)
{
	char sql[SQL_MAX];
	int rc;

	snprintf(sql, sizeof(sql),
	         "CREATE TABLE \"%s\" ("
	         "resource text NOT NULL, "
	         "key text NOT NULL, "
	         "key_fields text[] NOT NULL, "
	         "window_start timestamptz NOT NULL, "
	         "window_end timestamptz NOT NULL, "
	         "count bigint NOT NULL, "
	         "field text NOT NULL, "
	         "value_count bigint NOT NULL, "
	         "sum double precision, min double precision, max double precision, "
	         "mean double precision, p50 double precision, p95 double precision, "
	         "p99 double precision, "
	         "PRIMARY KEY (resource, key, window_start, field))",
	         s->table);
	if ((rc = pg_exec(s, "create table", sql, 0, NULL, NULL, errbuf, errbuf_size)) < 0)
		return rc;
	snprintf(sql, sizeof(sql),
	         "COMMENT ON TABLE \"%s\" IS 'Sluice TelemetryWindow results: one row per "
	         "(resource, key, window_start, field). See docs/telemetry-sinks.md.'",
	         s->table);
	return pg_exec(s, "comment on table", sql, 0, NULL, NULL, errbuf, errbuf_size);
}

/*
 * Version 0 is the layout before versioning: one row per (resource, key,
 * window_start) with every field's aggregates in a JSONB column
 * `aggregates` ({"temp": {"count": 3, "sum": 64.5, ...}}). Its rows are
 * expanded into a temporary table, the table is made again at v1 and the
 * rows put back, all in the caller's transaction: the migration happens
 * whole or not at all.
 */
static int migrate_v0_v1(struct pg_sink *s, char *errbuf, size_t errbuf_size)
{
	char sql[SQL_MAX];
	int rc;

	snprintf(sql, sizeof(sql),
	         "CREATE TEMPORARY TABLE sluice_migrate ON COMMIT DROP AS SELECT "
	         "o.resource, o.key, string_to_array(o.key, chr(31)) AS key_fields, "
	         "o.window_start, o.window_end, o.count, coalesce(f.key, '') AS field, "
	         "coalesce((f.value->>'count')::bigint, 0) AS value_count, "
	         "(f.value->>'sum')::float8 AS sum, (f.value->>'min')::float8 AS min, "
	         "(f.value->>'max')::float8 AS max, (f.value->>'mean')::float8 AS mean, "
	         "(f.value->>'p50')::float8 AS p50, (f.value->>'p95')::float8 AS p95, "
	         "(f.value->>'p99')::float8 AS p99 "
	         "FROM \"%s\" AS o LEFT JOIN LATERAL jsonb_each(o.aggregates) AS f ON true",
	         s->table);
	if ((rc = pg_exec(s, "migrate v0: copy rows", sql, 0, NULL, NULL, errbuf, errbuf_size)) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "DROP TABLE \"%s\"", s->table);
	if ((rc = pg_exec(s, "migrate v0: drop table", sql, 0, NULL, NULL, errbuf, errbuf_size)) <
	        0 ||
	    (rc = create_v1(s, errbuf, errbuf_size)) < 0)
		return rc;
	snprintf(sql, sizeof(sql),
	         "INSERT INTO \"%s\" (resource, key, key_fields, window_start, window_end, count, "
	         "field, value_count, sum, min, max, mean, p50, p95, p99) "
	         "SELECT resource, key, key_fields, window_start, window_end, count, field, "
	         "value_count, sum, min, max, mean, p50, p95, p99 FROM sluice_migrate",
	         s->table);
	return pg_exec(s, "migrate v0: insert rows", sql, 0, NULL, NULL, errbuf, errbuf_size);
}

/*
 * migrations[v] takes a table from version v to v + 1, inside the caller's
 * transaction. A new table is created at version 1 and then migrated like
 * an old one, so version 2 is one function (migrate_v1_v2) appended here
 * and TW_SINK_PG_SCHEMA_VERSION bumped, and fresh tables always take the
 * path upgrades take.
 */
typedef int (*migration_fn)(struct pg_sink *s, char *errbuf, size_t errbuf_size);
static const migration_fn migrations[] = {migrate_v0_v1};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == TW_SINK_PG_SCHEMA_VERSION,
               "one migration per schema version");

/* Which version an unversioned table has by its columns: 0 (the JSONB
 * layout), 1 (a v1 table whose version row was lost), or -1: a table
 * Sluice did not make, which it will not touch. */
static int detect_version(struct pg_sink *s, int *version, char *errbuf, size_t errbuf_size)
{
	const char *params[] = {s->table};
	int has_aggregates = 0, has_field = 0, has_value_count = 0, rc;
	PGresult *res;

	rc = pg_exec(s, "read columns",
	             "SELECT column_name FROM information_schema.columns "
	             "WHERE table_schema = current_schema() AND table_name = $1",
	             1, params, &res, errbuf, errbuf_size);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *c = PQgetvalue(res, i, 0);

		has_aggregates |= strcmp(c, "aggregates") == 0;
		has_field |= strcmp(c, "field") == 0;
		has_value_count |= strcmp(c, "value_count") == 0;
	}
	*version = PQntuples(res) == 0            ? -2 /* no table */
	           : has_field && has_value_count ? 1
	           : has_aggregates && !has_field ? 0
	                                          : -1;
	PQclear(res);
	return 0;
}

/*
 * Creates the table or brings it to TW_SINK_PG_SCHEMA_VERSION, in one
 * transaction under SCHEMA_LOCK_KEY; a table of a newer version, or one
 * that is not Sluice's, is a TW_SINK_E_CONFIG (written over, it would lose
 * somebody's data).
 */
static int ensure_schema(struct pg_sink *s, char *errbuf, size_t errbuf_size)
{
	const char *params[2] = {s->table, NULL};
	char vtext[16];
	PGresult *res;
	int version = -2, had_row, from, rc;

	if ((rc = pg_exec(s, "begin", "BEGIN", 0, NULL, NULL, errbuf, errbuf_size)) < 0)
		return rc;
	if ((rc = pg_exec(s, "schema lock", "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", 0,
	                  NULL, NULL, errbuf, errbuf_size)) < 0 ||
	    (rc = pg_exec(s, "create sluice_schema_version",
	                  "CREATE TABLE IF NOT EXISTS sluice_schema_version ("
	                  "table_name text PRIMARY KEY, version integer NOT NULL, "
	                  "updated_at timestamptz NOT NULL DEFAULT now())",
	                  0, NULL, NULL, errbuf, errbuf_size)) < 0 ||
	    (rc = pg_exec(s, "read schema version",
	                  "SELECT version FROM sluice_schema_version WHERE table_name = $1", 1,
	                  params, &res, errbuf, errbuf_size)) < 0)
		goto fail;
	had_row = PQntuples(res) == 1;
	if (had_row)
		version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (version == -2 && (rc = detect_version(s, &version, errbuf, errbuf_size)) < 0)
		goto fail;
	if (version == -1) {
		rc = tw_sink_fail(
		    errbuf, errbuf_size, TW_SINK_E_CONFIG,
		    "postgres: table \"%s\" exists but is not a Sluice telemetry table "
		    "(no version in sluice_schema_version, columns unknown); choose "
		    "another spec.sinks.postgres.table",
		    s->table);
		goto fail;
	}
	if (version > TW_SINK_PG_SCHEMA_VERSION) {
		rc = tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                  "postgres: table \"%s\" has schema version %d, newer than this "
		                  "worker's %d: upgrade the worker",
		                  s->table, version, TW_SINK_PG_SCHEMA_VERSION);
		goto fail;
	}
	from = version;
	if (version == -2) {
		if ((rc = create_v1(s, errbuf, errbuf_size)) < 0)
			goto fail;
		version = 1;
	}
	for (; version < TW_SINK_PG_SCHEMA_VERSION; version++)
		if ((rc = migrations[version](s, errbuf, errbuf_size)) < 0)
			goto fail;
	snprintf(vtext, sizeof(vtext), "%d", version);
	if (!had_row || from != version) {
		params[1] = vtext;
		if ((rc = pg_exec(s, "write schema version",
		                  "INSERT INTO sluice_schema_version (table_name, version) "
		                  "VALUES ($1, $2) ON CONFLICT (table_name) DO UPDATE SET "
		                  "version = EXCLUDED.version, updated_at = now()",
		                  2, params, NULL, errbuf, errbuf_size)) < 0)
			goto fail;
	}
	if ((rc = pg_exec(s, "commit schema", "COMMIT", 0, NULL, NULL, errbuf, errbuf_size)) < 0)
		return rc;
	if (from != version) {
		char ftext[16];

		snprintf(ftext, sizeof(ftext), "%d", from);
		log_info(from == -2 ? "postgres table created" : "postgres table migrated",
		         "resource", s->schema.resource, "table", s->table, "from_version",
		         from == -2 ? "none" : ftext, "version", vtext, NULL);
	}
	return 0;
fail:
	pg_rollback(s);
	return rc;
}

/* Connects (when not connected) and checks the schema. */
static int pg_ready(struct pg_sink *s, char *errbuf, size_t errbuf_size)
{
	char msg[600];
	int failure, rc;

	if (s->conn != NULL)
		return 0;
	s->conn =
	    pg_connect_ca(s->dsn, s->ca_file[0] != '\0' ? s->ca_file : NULL, "sluice-telemetry",
	                  CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_MS, &failure, msg, sizeof(msg));
	if (s->conn == NULL) {
		/* A wrong password or database will not fix itself; a server
		 * that is away will. */
		rc = failure == PG_CONNECT_E_CONFIG ? TW_SINK_E_CONFIG : TW_SINK_E_RETRY;
		log_msg(rc == TW_SINK_E_RETRY ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
		        "postgres connect failed", "resource", s->schema.resource, "error", msg,
		        NULL);
		pg_drop(s);
		return tw_sink_fail(errbuf, errbuf_size, rc, "%s", msg);
	}
	PQsetNoticeProcessor(s->conn, pg_notice, s);
	if ((rc = ensure_schema(s, errbuf, errbuf_size)) < 0) {
		pg_drop(s); /* checked again on the next connection */
		return rc;
	}
	return 0;
}

/* ==== Writes ==== */

static int cmp_row(const void *a, const void *b)
{
	const struct tw_row *x = *(const struct tw_row *const *)a;
	const struct tw_row *y = *(const struct tw_row *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x < y ? -1 : x > y; /* batch order */
}

/*
 * Marks in skip[] every row that a later row of the batch repeats (same
 * key and window start): one upsert may not touch a row twice, and the
 * last write of a window is the one that stands, as with separate batches.
 */
static int mark_repeats(const struct tw_batch *b, unsigned char *skip)
{
	const struct tw_row **order;

	memset(skip, 0, b->nrows);
	if (b->nrows < 2)
		return 0;
	order = malloc(b->nrows * sizeof(*order));
	if (order == NULL)
		return -1;
	for (size_t i = 0; i < b->nrows; i++)
		order[i] = &b->rows[i];
	qsort(order, b->nrows, sizeof(*order), cmp_row);
	for (size_t i = 0; i + 1 < b->nrows; i++) {
		const struct tw_row *x = order[i], *y = order[i + 1];

		if (x->key_len == y->key_len && x->start_ns == y->start_ns &&
		    memcmp(x->key, y->key, x->key_len) == 0)
			skip[x - b->rows] = 1;
	}
	free(order);
	return 0;
}

/* Appends parameter i's text (NULL: SQL NULL) and records where it is. */
static int put_text(struct pg_sink *s, size_t i, const char *text)
{
	if (text == NULL) {
		s->offs[i] = NO_VALUE;
		return 0;
	}
	s->offs[i] = s->vals.len;
	s->lens[i] = 0; /* text: libpq reads to the NUL */
	return buf_append(&s->vals, text, strlen(text) + 1);
}

/* Appends parameter i's 8 binary bytes (int8, float8, timestamptz). */
static int put_binary(struct pg_sink *s, size_t i, uint64_t v)
{
	unsigned char be[8];

	tw_sink_pg_be64(v, be);
	s->offs[i] = s->vals.len;
	s->lens[i] = 8;
	return buf_append(&s->vals, (const char *)be, sizeof(be));
}

static int put_int8(struct pg_sink *s, size_t i, int64_t v)
{
	return put_binary(s, i, (uint64_t)v);
}

/* NaN is "no value": SQL NULL, as in the text form before. */
static int put_float8(struct pg_sink *s, size_t i, double v)
{
	uint64_t bits;

	if (isnan(v)) {
		s->offs[i] = NO_VALUE;
		return 0;
	}
	memcpy(&bits, &v, sizeof(bits));
	return put_binary(s, i, bits);
}

/* The 15 parameters of one database row: the row's window and value field
 * v (v < 0: the '' row of a spec without value fields). */
static int put_db_row(struct pg_sink *s, size_t base, const struct tw_row *row, int v,
                      const char *key_text, const char *key_array)
{
	const struct tw_value_result *r = v >= 0 ? &row->values[v] : NULL;
	int rc;

	rc = put_text(s, base + 0, s->schema.resource);
	rc = rc ? rc : put_text(s, base + 1, key_text);
	rc = rc ? rc : put_text(s, base + 2, key_array);
	rc = rc ? rc : put_int8(s, base + 3, tw_sink_pg_time_us(row->start_ns));
	rc = rc ? rc : put_int8(s, base + 4, tw_sink_pg_time_us(row->end_ns));
	rc = rc ? rc : put_int8(s, base + 5, (int64_t)row->count);
	rc = rc ? rc : put_text(s, base + 6, r != NULL ? s->schema.value_names[v] : "");
	rc = rc ? rc : put_int8(s, base + 7, r != NULL ? (int64_t)r->count : 0);
	for (size_t a = 0; a < TW_SINK_AGGS && rc == 0; a++) {
		if (r != NULL && (s->schema.aggregations & tw_sink_aggs[a].kind))
			rc = put_float8(s, base + 8 + a, tw_sink_agg_value(&tw_sink_aggs[a], r));
		else
			s->offs[base + 8 + a] = NO_VALUE;
	}
	return rc;
}

/* Builds the upsert text for ndb rows in s->sql, unless it is there. */
static int upsert_text(struct pg_sink *s, size_t ndb, char *errbuf, size_t errbuf_size)
{
	if (s->sql_rows == ndb)
		return 0;
	buf_reset(&s->sql);
	s->sql_rows = 0;
	if (tw_sink_pg_insert_sql(&s->sql, s->table, ndb) < 0)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
		                    "postgres: out of memory building the upsert");
	s->sql_rows = ndb;
	return 0;
}

/* Runs the upsert of the first ndb database rows staged in vals/offs. Full
 * chunks run a statement prepared once per connection: the server parses
 * and analyses 15,000 parameters' worth of VALUES once, not per chunk. */
static int flush_rows(struct pg_sink *s, size_t ndb, char *errbuf, size_t errbuf_size)
{
	int nparams = (int)(ndb * TW_SINK_PG_PARAMS);
	PGresult *res;
	int rc;

	if (ndb == 0)
		return 0;
	if (ndb == TW_SINK_PG_ROWS_PER_INSERT && !s->prepared) {
		if ((rc = upsert_text(s, ndb, errbuf, errbuf_size)) < 0)
			return rc;
		res = PQprepare(s->conn, UPSERT_STMT, s->sql.data, nparams, s->types);
		if ((rc = pg_result(s, "prepare upsert", res, NULL, errbuf, errbuf_size)) < 0)
			return rc;
		s->prepared = 1;
	}
	for (int i = 0; i < nparams; i++)
		s->params[i] = s->offs[i] == NO_VALUE ? NULL : s->vals.data + s->offs[i];
	if (ndb == TW_SINK_PG_ROWS_PER_INSERT) {
		res = PQexecPrepared(s->conn, UPSERT_STMT, nparams, s->params, s->lens, s->formats,
		                     0);
	} else {
		if ((rc = upsert_text(s, ndb, errbuf, errbuf_size)) < 0)
			return rc;
		res = PQexecParams(s->conn, s->sql.data, nparams, s->types, s->params, s->lens,
		                   s->formats, 0);
	}
	rc = pg_result(s, "upsert", res, NULL, errbuf, errbuf_size);
	buf_reset(&s->vals);
	return rc;
}

static int write_rows(struct pg_sink *s, const struct tw_batch *b, const unsigned char *skip,
                      char *errbuf, size_t errbuf_size)
{
	size_t ndb = 0;
	int rc;

	for (size_t i = 0; i < b->nrows; i++) {
		const struct tw_row *row = &b->rows[i];
		size_t nv = row->nvalues < s->schema.nvalues ? row->nvalues : s->schema.nvalues;
		char key_text[TW_KEY_MAX + 1], key_array[3 * TW_KEY_MAX + 8];

		if (skip[i])
			continue;
		if (row->key_len > TW_KEY_MAX || memchr(row->key, '\0', row->key_len) != NULL)
			return tw_sink_fail(
			    errbuf, errbuf_size, TW_SINK_E_REJECT,
			    "postgres: a key with a NUL byte or longer than %d bytes "
			    "cannot be text",
			    TW_KEY_MAX);
		memcpy(key_text, row->key, row->key_len);
		key_text[row->key_len] = '\0';
		if (tw_sink_pg_key_array(row->key, row->key_len, s->schema.nkeys, key_array,
		                         sizeof(key_array)) < 0)
			return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_REJECT,
			                    "postgres: the fields of key \"%s\" cannot be a text[]",
			                    key_text);
		for (size_t j = 0; j < (nv > 0 ? nv : 1); j++) {
			if (put_db_row(s, ndb * TW_SINK_PG_PARAMS, row, nv > 0 ? (int)j : -1,
			               key_text, key_array) < 0)
				return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
				                    "postgres: out of memory staging rows");
			if (++ndb == TW_SINK_PG_ROWS_PER_INSERT) {
				if ((rc = flush_rows(s, ndb, errbuf, errbuf_size)) < 0)
					return rc;
				ndb = 0;
			}
		}
	}
	return flush_rows(s, ndb, errbuf, errbuf_size);
}

static int pg_write(void *impl, const struct tw_batch *b, char *errbuf, size_t errbuf_size)
{
	struct pg_sink *s = impl;
	unsigned char *skip;
	int rc;

	if (b->nrows == 0)
		return TW_SINK_OK; /* raw events are InfluxDB's alone */
	if ((rc = pg_ready(s, errbuf, errbuf_size)) < 0)
		return rc;
	skip = malloc(b->nrows);
	if (skip == NULL || mark_repeats(b, skip) < 0) {
		free(skip);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY,
		                    "postgres: out of memory");
	}
	buf_reset(&s->vals);
	if ((rc = pg_exec(s, "begin", "BEGIN", 0, NULL, NULL, errbuf, errbuf_size)) == 0) {
		rc = write_rows(s, b, skip, errbuf, errbuf_size);
		if (rc == 0)
			rc = pg_exec(s, "commit", "COMMIT", 0, NULL, NULL, errbuf, errbuf_size);
		else
			pg_rollback(s);
	}
	free(skip);
	return rc;
}

/* ==== Retention ==== */

static int pg_trim(void *impl, int64_t now_ns, char *errbuf, size_t errbuf_size)
{
	struct pg_sink *s = impl;
	char sql[SQL_MAX], cap[16], cutoff[32];
	const char *params[2] = {s->schema.resource, NULL};
	PGresult *res;
	int rc, by_rows = s->max_rows_per_key > 0, by_age = s->max_age_ns > 0;
	long deleted_rows = 0, deleted_old = 0;

	if (by_age && (now_ns - s->max_age_ns < 0 ||
	               tw_sink_pg_format_ts(now_ns - s->max_age_ns, cutoff, sizeof(cutoff)) < 0))
		by_age = 0; /* nothing is that old */
	if (!by_rows && !by_age)
		return 0;
	if ((rc = pg_ready(s, errbuf, errbuf_size)) < 0 ||
	    (rc = pg_exec(s, "begin", "BEGIN", 0, NULL, NULL, errbuf, errbuf_size)) < 0)
		return rc;
	if (by_rows) {
		/* Keep the newest max_rows_per_key windows of each key (every
		 * field's row of a kept window stays). */
		snprintf(cap, sizeof(cap), "%" PRIu32, s->max_rows_per_key);
		params[1] = cap;
		snprintf(sql, sizeof(sql),
		         "DELETE FROM \"%s\" AS d USING (SELECT key, window_start FROM ("
		         "SELECT key, window_start, row_number() OVER (PARTITION BY key ORDER BY "
		         "window_start DESC) AS rn FROM (SELECT DISTINCT key, window_start FROM "
		         "\"%s\" WHERE resource = $1) AS w) AS r WHERE rn > $2::bigint) AS old "
		         "WHERE d.resource = $1 AND d.key = old.key AND "
		         "d.window_start = old.window_start",
		         s->table, s->table);
		if ((rc = pg_exec(s, "trim rows per key", sql, 2, params, &res, errbuf,
		                  errbuf_size)) < 0)
			goto fail;
		deleted_rows = atol(PQcmdTuples(res));
		PQclear(res);
	}
	if (by_age) {
		/* Windows that ended before now - maxAge. */
		params[1] = cutoff;
		snprintf(sql, sizeof(sql),
		         "DELETE FROM \"%s\" WHERE resource = $1 AND window_end < $2::timestamptz",
		         s->table);
		if ((rc = pg_exec(s, "trim by age", sql, 2, params, &res, errbuf, errbuf_size)) < 0)
			goto fail;
		deleted_old = atol(PQcmdTuples(res));
		PQclear(res);
	}
	if ((rc = pg_exec(s, "commit", "COMMIT", 0, NULL, NULL, errbuf, errbuf_size)) < 0)
		return rc;
	if (deleted_rows + deleted_old > 0) {
		char a[24], b[24];

		snprintf(a, sizeof(a), "%ld", deleted_rows);
		snprintf(b, sizeof(b), "%ld", deleted_old);
		log_debug("postgres rows trimmed", "resource", s->schema.resource, "table",
		          s->table, "over_cap", a, "too_old", b, NULL);
	}
	return 0;
fail:
	pg_rollback(s);
	return rc;
}

/* ==== Life ==== */

static int64_t pg_retry_after_ms(const void *impl)
{
	(void)impl;
	return 0; /* PostgreSQL never says; the loop backs off */
}

static void pg_close(void *impl)
{
	struct pg_sink *s = impl;

	if (s == NULL)
		return;
	pg_drop(s);
	tw_sink_schema_free(&s->schema);
	buf_free(&s->sql);
	buf_free(&s->vals);
	free(s->offs);
	free(s->params);
	free(s->lens);
	free(s->formats);
	free(s->types);
	free(s->dsn);
	if (s->ca_file[0] != '\0')
		unlink(s->ca_file);
	free(s);
}

/* Where the CA file goes: TMPDIR, else the pods' run directory (their root
 * file system is read-only; docs/contracts.md §4), else /tmp. */
static const char *ca_dir(void)
{
	const char *t = getenv("TMPDIR");

	if (t != NULL && t[0] != '\0')
		return t;
	return access("/run/sluice", W_OK) == 0 ? "/run/sluice" : "/tmp";
}

/* spec.sinks.postgres.tls.ca: the PEM from its Secret's variable into a
 * private file, for libpq's sslrootcert. */
static int write_ca(struct pg_sink *s, const struct spec_secret_ref *ca, char *errbuf,
                    size_t errbuf_size)
{
	char var[512], why[256];
	const char *pem;

	if (ca->name == NULL)
		return 0;
	pem = secret_env_get(ca->name, ca->key, var, sizeof(var));
	if (pem == NULL)
		return tw_sink_fail(
		    errbuf, errbuf_size, TW_SINK_E_CONFIG,
		    "spec.sinks.postgres.tls.ca: environment variable %s is not set "
		    "(Secret \"%s\", key \"%s\")",
		    var, ca->name, ca->key);
	if (pg_ca_file_write(pem, ca_dir(), s->ca_file, sizeof(s->ca_file), why, sizeof(why)) < 0)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.postgres.tls.ca (Secret \"%s\", key \"%s\"): %s",
		                    ca->name, ca->key, why);
	return 0;
}

static int table_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TABLE_MAX || (t[0] >= '0' && t[0] <= '9'))
		return 0;
	return strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int pg_open(const struct tw_spec *spec, const char *dsn, void **impl, char *errbuf,
                   size_t errbuf_size)
{
	const size_t nparams = (size_t)TW_SINK_PG_PARAMS * TW_SINK_PG_ROWS_PER_INSERT;
	struct pg_sink *s;
	char reason[512];
	int rc;

	if (dsn == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.postgres.dsn: no DSN");
	/* A DSN libpq cannot read will not get better: refuse it now. */
	if (pg_dsn_check(dsn, reason, sizeof(reason)) < 0)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.postgres.dsn: %s", reason);
	if (!table_ok(spec->sinks.postgres.table))
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.postgres.table: \"%s\" is not a lower-case SQL "
		                    "identifier",
		                    spec->sinks.postgres.table);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "postgres: out of memory");
	buf_init(&s->sql, 1u << 20);
	buf_init(&s->vals, 16u << 20);
	snprintf(s->table, sizeof(s->table), "%s", spec->sinks.postgres.table);
	s->max_rows_per_key = spec->retention.max_rows_per_key;
	s->max_age_ns = spec->retention.max_age_ns;
	s->dsn = strdup(dsn);
	s->offs = malloc(nparams * sizeof(*s->offs));
	s->params = malloc(nparams * sizeof(*s->params));
	s->lens = malloc(nparams * sizeof(*s->lens));
	s->formats = malloc(nparams * sizeof(*s->formats));
	s->types = malloc(nparams * sizeof(*s->types));
	if (s->dsn == NULL || s->offs == NULL || s->params == NULL || s->lens == NULL ||
	    s->formats == NULL || s->types == NULL) {
		pg_close(s);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "postgres: out of memory");
	}
	for (size_t i = 0; i < nparams; i++) {
		Oid t = column_types[i % TW_SINK_PG_PARAMS];
		s->types[i] = t;
		s->formats[i] = t == OID_INT8 || t == OID_FLOAT8 || t == OID_TIMESTAMPTZ;
		s->lens[i] = 0;
	}
	if ((rc = tw_sink_schema_init(&s->schema, spec, errbuf, errbuf_size)) < 0 ||
	    (rc = write_ca(s, &spec->sinks.postgres.tls_ca, errbuf, errbuf_size)) < 0) {
		pg_close(s);
		return rc;
	}
	*impl = s;
	return 0;
}

const struct tw_sink_ops tw_sink_pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .write = pg_write,
    .trim = pg_trim,
    .retry_after_ms = pg_retry_after_ms,
    .close = pg_close,
};
