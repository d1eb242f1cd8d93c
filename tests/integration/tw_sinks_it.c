/*
 * tw_sinks_it.c - the telemetry sinks (workers/telemetry/tw_sink*.c) against REAL
 * PostgreSQL, Redis and InfluxDB from the test stack, judged with their own
 * clients (libpq, hiredis, InfluxDB's /query over libcurl); and, for the
 * answers InfluxDB 1.x will not give on demand (413, 429 with Retry-After,
 * 401), a small libmicrohttpd server inside the test.
 *
 * Needs build/stack.env (PG_DSN, REDIS_ADDR, INFLUX_URL, INFLUX_DB), as
 * `make integration` sources it. Every run uses names of its own (the pid
 * and the time: tables twit_<run>_*, resources sluice-it/tw-<run>-*,
 * InfluxDB databases twit_<run>_*), drops its tables and databases at the
 * end and leaves other data alone, so runs never collide.
 *
 * Build and run by hand (from the repository root, with the stack up):
 *
 *   make build/tests/tw_sinks_it && . build/stack.env && build/tests/tw_sinks_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <microhttpd.h>

#include "tw_agg.h"
#include "tw_sink.h"
#include "tw_spec.h"

#define T0 INT64_C(1795410000000000000) /* 2026-11-23T05:00:00Z */
#define MIN INT64_C(60000000000)
#define NS "sluice-it"

static struct {
	char run[32];  /* "<pid>-<time>": resource names */
	char runu[32]; /* "<pid>_<time>": table and database names */
	char pg_dsn[1024];
	PGconn *pg;
	redisContext *redis;
	char redis_addr[128];
	char influx_url[256], influx_db[64];
	CURL *curl;
	char tables[16][64];
	int ntables;
	char dbs[8][64];
	int ndbs;
} it;

/* ==== Helpers ==== */

/* A TCP port on 127.0.0.1 that nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void table_name(char *buf, size_t size, const char *suffix)
{
	snprintf(buf, size, "twit_%s_%s", it.runu, suffix);
	assert_true(it.ntables < 16);
	snprintf(it.tables[it.ntables++], sizeof(it.tables[0]), "%s", buf);
}

/*
 * The spec of resource sluice-it/tw-<run>-<name>: keys host and site,
 * values temp and load, 1m tumbling windows; extra is appended inside
 * "spec" (",\"sinks\":{...}").
 */
static void spec_load(struct tw_spec *spec, const char *name, const char *extra)
{
	char text[4096], err[256];
	cJSON *doc;
	int n;

	n = snprintf(text, sizeof(text),
	             "{\"name\":\"tw-%s-%s\",\"namespace\":\"" NS "\",\"spec\":{"
	             "\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"t\"},"
	             "\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\",\"site\"],"
	             "\"values\":[\"temp\",\"load\"]},\"window\":{\"size\":\"60s\"}%s}}",
	             it.run, name, extra);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	if (tw_spec_parse_document(doc, spec, err, sizeof(err)) != 0)
		fail_msg("spec: %s\n%s", err, text);
	cJSON_Delete(doc);
}

/* The one sink spec configures. */
static struct tw_sink **open_sink(const struct tw_spec *spec)
{
	struct tw_sink **sinks;
	size_t n;
	char err[512];

	if (tw_sinks_new(spec, &sinks, &n, err, sizeof(err)) != 0)
		fail_msg("tw_sinks_new: %s", err);
	assert_int_equal(n, 1);
	return sinks;
}

static void close_sink(struct tw_sink **sinks)
{
	tw_sinks_free(sinks, 1);
}

/* A window of key host US site: temp over count events around base, load
 * in none of them. */
static struct tw_row row_of(const char *host, const char *site, int64_t start, uint64_t count,
                            double base)
{
	struct tw_row r;
	int n;

	memset(&r, 0, sizeof(r));
	n = snprintf(r.key, sizeof(r.key), "%s\x1f%s", host, site);
	r.key_len = (size_t)n;
	r.start_ns = start;
	r.end_ns = start + MIN;
	r.count = count;
	r.nvalues = 2;
	r.values[0] = (struct tw_value_result){
	    count, base * (double)count, base - 1, base + 1, base, base, base + 0.5, base + 1};
	r.values[1] = (struct tw_value_result){0, 0, NAN, NAN, NAN, NAN, NAN, NAN};
	return r;
}

static int write_rows(struct tw_sink *s, const struct tw_row *rows, size_t n, char *err,
                      size_t size)
{
	struct tw_batch b = {rows, n, NULL, 0};

	return tw_sink_write(s, &b, err, size);
}

static void expect_write(struct tw_sink *s, const struct tw_batch *b, int want)
{
	char err[1024] = "";
	int rc = tw_sink_write(s, b, err, sizeof(err));

	if (rc != want)
		fail_msg("%s write: got %d want %d: %s", tw_sink_name(s), rc, want, err);
}

/* ---- PostgreSQL, through the test's own connection ---- */

static char *pg_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs the query and returns its rows as text, "a|b|c\n" per row, NULL as
 * "-"; the caller frees it. */
static char *pg_text(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	PGresult *res;
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	res = PQexec(it.pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	out[0] = '\0';
	for (int r = 0; r < PQntuples(res); r++) {
		for (int c = 0; c < PQnfields(res); c++) {
			const char *v = PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c);
			size_t need = strlen(v) + 2;

			while (len + need + 1 > cap) {
				cap *= 2;
				out = realloc(out, cap);
				assert_non_null(out);
			}
			len += (size_t)sprintf(out + len, "%s%s", v,
			                       c + 1 < PQnfields(res) ? "|" : "\n");
		}
	}
	PQclear(res);
	return out;
}

static void pg_run(const char *sql)
{
	free(pg_text("%s", sql));
}

/* ---- Redis ---- */

static redisReply *redis_cmd(int argc, const char **argv)
{
	size_t len[16];
	redisReply *r;

	for (int i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	r = redisCommandArgv(it.redis, argc, argv, len);
	if (r == NULL)
		fail_msg("redis %s: %s", argv[0], it.redis->errstr);
	return r;
}

/* The whole state of a key pair as text: the hash (fields sorted), the
 * timeline with scores, and whether both have a TTL. */
static char *redis_state(const char *base)
{
	char latest[512], timeline[512];
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	redisReply *h, *z;

	assert_non_null(out);
	snprintf(latest, sizeof(latest), "%s:latest", base);
	snprintf(timeline, sizeof(timeline), "%s:timeline", base);
	h = redis_cmd(2, (const char *[]){"HGETALL", latest});
	z = redis_cmd(5, (const char *[]){"ZRANGE", timeline, "0", "-1", "WITHSCORES"});
	assert_int_equal(h->type, REDIS_REPLY_ARRAY);
	assert_int_equal(z->type, REDIS_REPLY_ARRAY);
	/* Fields sorted by name (a hash has no order). */
	for (size_t i = 0; i < h->elements; i += 2)
		for (size_t j = i + 2; j < h->elements; j += 2)
			if (strcmp(h->element[j]->str, h->element[i]->str) < 0) {
				redisReply *t0 = h->element[i], *t1 = h->element[i + 1];

				h->element[i] = h->element[j];
				h->element[i + 1] = h->element[j + 1];
				h->element[j] = t0;
				h->element[j + 1] = t1;
			}
	out[0] = '\0';
	for (size_t i = 0; i < h->elements; i += 2)
		len += (size_t)snprintf(out + len, cap - len, "%s=%s\n", h->element[i]->str,
		                        h->element[i + 1]->str);
	for (size_t i = 0; i < z->elements; i += 2)
		len += (size_t)snprintf(out + len, cap - len, "%s %s\n", z->element[i + 1]->str,
		                        z->element[i]->str);
	assert_true(len < cap);
	freeReplyObject(h);
	freeReplyObject(z);
	return out;
}

/* ---- InfluxDB ---- */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	char **buf = arg;
	size_t old = *buf != NULL ? strlen(*buf) : 0;
	char *b = realloc(*buf, old + size * n + 1);

	assert_non_null(b);
	memcpy(b + old, p, size * n);
	b[old + size * n] = '\0';
	*buf = b;
	return size * n;
}

/* POST /query?db=db with q; returns the parsed answer. */
static cJSON *influx_query(const char *db, const char *q)
{
	char url[512], *body = NULL, *form = NULL;
	char *eq = curl_easy_escape(it.curl, q, 0);
	long status = 0;
	cJSON *j;

	assert_non_null(eq);
	snprintf(url, sizeof(url), "%s/query?db=%s", it.influx_url, db);
	form = malloc(strlen(eq) + 3);
	assert_non_null(form);
	sprintf(form, "q=%s", eq);
	curl_free(eq);
	curl_easy_reset(it.curl);
	assert_int_equal(curl_easy_setopt(it.curl, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(it.curl, CURLOPT_POSTFIELDS, form), CURLE_OK);
	assert_int_equal(curl_easy_setopt(it.curl, CURLOPT_WRITEFUNCTION, on_data), CURLE_OK);
	assert_int_equal(curl_easy_setopt(it.curl, CURLOPT_WRITEDATA, &body), CURLE_OK);
	assert_int_equal(curl_easy_perform(it.curl), CURLE_OK);
	curl_easy_getinfo(it.curl, CURLINFO_RESPONSE_CODE, &status);
	free(form);
	if (status != 200 || body == NULL)
		fail_msg("influx query %s: %ld %s", q, status, body ? body : "");
	j = cJSON_Parse(body);
	if (j == NULL)
		fail_msg("influx query %s: not JSON: %s", q, body);
	free(body);
	return j;
}

/* Writes one line with the test's own client. */
static void influx_write_line(const char *db, const char *line)
{
	char url[512];
	long status = 0;

	snprintf(url, sizeof(url), "%s/write?db=%s", it.influx_url, db);
	curl_easy_reset(it.curl);
	assert_int_equal(curl_easy_setopt(it.curl, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(it.curl, CURLOPT_POSTFIELDS, line), CURLE_OK);
	assert_int_equal(curl_easy_perform(it.curl), CURLE_OK);
	curl_easy_getinfo(it.curl, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 204);
}

/*
 * The query's points as text, one line per point: the columns named in
 * cols, "|"-separated, in time then tag order as InfluxDB returns them.
 */
static char *influx_points(const char *db, const char *q, const char *const *cols)
{
	cJSON *j = influx_query(db, q), *series, *s;
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	out[0] = '\0';
	series =
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 0), "series");
	cJSON_ArrayForEach(s, series)
	{
		cJSON *columns = cJSON_GetObjectItem(s, "columns"), *v;
		int idx[32], n = 0;

		for (; cols[n] != NULL; n++) {
			idx[n] = -1;
			for (int c = 0; c < cJSON_GetArraySize(columns); c++)
				if (strcmp(cJSON_GetArrayItem(columns, c)->valuestring, cols[n]) ==
				    0)
					idx[n] = c;
		}
		cJSON_ArrayForEach(v, cJSON_GetObjectItem(s, "values"))
		{
			for (int c = 0; c < n; c++) {
				cJSON *x = idx[c] >= 0 ? cJSON_GetArrayItem(v, idx[c]) : NULL;
				char *t = x == NULL || cJSON_IsNull(x) ? NULL
				          : cJSON_IsString(x)          ? NULL
				                                       : cJSON_PrintUnformatted(x);

				len += (size_t)snprintf(out + len, cap - len, "%s%s",
				                        x == NULL || cJSON_IsNull(x) ? "-"
				                        : cJSON_IsString(x) ? x->valuestring
				                                            : t,
				                        c + 1 < n ? "|" : "\n");
				free(t);
			}
		}
	}
	assert_true(len < cap);
	cJSON_Delete(j);
	return out;
}

static void influx_drop_db(const char *db)
{
	char q[128];

	snprintf(q, sizeof(q), "DROP DATABASE \"%s\"", db);
	cJSON_Delete(influx_query(it.influx_db, q));
}

static void expect_pg(const char *want, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void expect_pg(const char *want, const char *fmt, ...)
{
	char sql[4096], *got;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	got = pg_text("%s", sql);
	if (strcmp(got, want) != 0)
		fail_msg("%s\n got: %s\nwant: %s", sql, got, want);
	free(got);
}

/* Lines that differ between two dumps of the same number of lines. */
static int lines_differing(const char *a, const char *b)
{
	int n = 0;

	while (*a != '\0' && *b != '\0') {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		n += la != lb || memcmp(a, b, la) != 0;
		a += la + (a[la] == '\n');
		b += lb + (b[lb] == '\n');
	}
	assert_true(*a == '\0' && *b == '\0');
	return n;
}

static void pg_spec(struct tw_spec *spec, const char *name, const char *table, const char *more)
{
	char extra[1024];

	snprintf(extra, sizeof(extra),
	         ",\"sinks\":{\"postgres\":{\"dsn\":{\"name\":\"it-pg\",\"key\":\"dsn\"},"
	         "\"table\":\"%s\"}}%s",
	         table, more);
	spec_load(spec, name, extra);
}

/* Every column of a table, dumped in key order, with the row version
 * (xmin): equal dumps mean not one row was written. */
#define DUMP_SQL                                                                                   \
	"SELECT resource, replace(key, chr(31), '/'), key_fields, window_start, window_end, "      \
	"count, field, value_count, sum, min, max, mean, p50, p95, p99, xmin FROM \"%s\" ORDER "   \
	"BY "                                                                                      \
	"key, window_start, field"

/* ==== PostgreSQL ==== */

/* Creates the table and its version row; the same batch twice leaves the
 * very same rows (not even a new row version), from the same sink or a new
 * one; a changed window is updated; a window twice in one batch is fine. */
static void test_pg_create_idempotent(void **state)
{
	char table[64], want[2048];
	struct tw_spec spec;
	struct tw_sink **s, **s2;
	struct tw_row rows[4];
	char *before, *after;

	(void)state;
	table_name(table, sizeof(table), "a");
	pg_spec(&spec, "pg-a", table, "");
	s = open_sink(&spec);
	rows[0] = row_of("h1", "s1", T0, 3, 21.5);
	rows[1] = row_of("h1", "s1", T0 + MIN, 2, 22);
	rows[2] = row_of("h2", "s2", T0, 1, 30);
	rows[3] = row_of("h2", "s2", T0 + MIN, 4, 0.1);
	assert_int_equal(write_rows(s[0], rows, 4, NULL, 0), TW_SINK_OK);

	expect_pg("1\n", "SELECT version FROM sluice_schema_version WHERE table_name = '%s'",
	          table);
	expect_pg("resource,key,key_fields,window_start,window_end,count,field,value_count,sum,min,"
	          "max,mean,p50,p95,p99\n",
	          "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
	          "information_schema.columns WHERE table_schema = current_schema() AND "
	          "table_name = '%s'",
	          table);
	snprintf(want, sizeof(want),
	         NS "/tw-%s-pg-a|h1/s1|{h1,s1}|2026-11-23 05:00:00+00|2026-11-23 05:01:00+00|3|"
	            "load|0|0|-|-|-|-|-|-\n" NS "/tw-%s-pg-a|h1/s1|{h1,s1}|2026-11-23 05:00:00+00|"
	            "2026-11-23 05:01:00+00|3|temp|3|64.5|20.5|22.5|21.5|21.5|22|22.5\n",
	         it.run, it.run);
	expect_pg(want,
	          "SELECT resource, replace(key, chr(31), '/'), key_fields, window_start, "
	          "window_end, count, field, value_count, sum, min, max, mean, p50, p95, p99 "
	          "FROM \"%s\" WHERE key_fields = '{h1,s1}' AND window_start = "
	          "'2026-11-23 05:00:00Z' ORDER BY field",
	          table);
	expect_pg("8\n", "SELECT count(*) FROM \"%s\"", table);

	/* Replays: the same sink, then a new one (a restarted worker). */
	before = pg_text(DUMP_SQL, table);
	assert_int_equal(write_rows(s[0], rows, 4, NULL, 0), TW_SINK_OK);
	s2 = open_sink(&spec);
	assert_int_equal(write_rows(s2[0], rows, 4, NULL, 0), TW_SINK_OK);
	after = pg_text(DUMP_SQL, table);
	assert_string_equal(before, after);
	free(after);

	/* A window written again with other numbers: its two rows change,
	 * nothing else does. */
	rows[1] = row_of("h1", "s1", T0 + MIN, 5, 22);
	assert_int_equal(write_rows(s2[0], &rows[1], 1, NULL, 0), TW_SINK_OK);
	after = pg_text(DUMP_SQL, table);
	assert_int_equal(lines_differing(before, after), 2);
	expect_pg("5|temp|5|110\n",
	          "SELECT count, field, value_count, sum FROM \"%s\" WHERE key_fields = '{h1,s1}' "
	          "AND window_start = '2026-11-23 05:01:00Z' AND field = 'temp'",
	          table);
	free(before);
	free(after);

	/* One window twice in a batch: the later stands. */
	rows[0] = row_of("h3", "s3", T0, 1, 1);
	rows[1] = row_of("h3", "s3", T0, 7, 2);
	assert_int_equal(write_rows(s2[0], rows, 2, NULL, 0), TW_SINK_OK);
	expect_pg("7|14\n",
	          "SELECT count, sum FROM \"%s\" WHERE key_fields = '{h3,s3}' AND field = 'temp'",
	          table);
	close_sink(s);
	close_sink(s2);
	tw_spec_free(&spec);
}

/* A batch larger than one INSERT (1000 database rows): 700 windows of two
 * fields each go in two statements of one transaction; a replay of it
 * leaves every row as it was. */
static void test_pg_large_batch(void **state)
{
	char table[64], host[16];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row *rows = calloc(700, sizeof(*rows));
	char *before, *after;

	(void)state;
	assert_non_null(rows);
	table_name(table, sizeof(table), "large");
	pg_spec(&spec, "pg-large", table, "");
	s = open_sink(&spec);
	for (int i = 0; i < 700; i++) {
		snprintf(host, sizeof(host), "h%d", i % 70);
		rows[i] = row_of(host, "s1", T0 + (i / 70) * MIN, (uint64_t)i + 1, i);
	}
	assert_int_equal(write_rows(s[0], rows, 700, NULL, 0), TW_SINK_OK);
	expect_pg("1400|700|245350\n",
	          "SELECT count(*), count(DISTINCT (key, window_start)), sum(count) FILTER "
	          "(WHERE field = 'temp') FROM \"%s\"",
	          table);
	before = pg_text(DUMP_SQL, table);
	assert_int_equal(write_rows(s[0], rows, 700, NULL, 0), TW_SINK_OK);
	after = pg_text(DUMP_SQL, table);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(rows);
	close_sink(s);
	tw_spec_free(&spec);
}

/* A table in the layout before versioning (JSONB aggregates, no version
 * row), made by hand, is migrated to v1 on the first write, rows kept. */
static void test_pg_migrate_v0(void **state)
{
	char table[64], sql[2048], want[2048];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("new", "s1", T0, 1, 5);

	(void)state;
	table_name(table, sizeof(table), "v0");
	snprintf(sql, sizeof(sql),
	         "CREATE TABLE \"%s\" (resource text NOT NULL, key text NOT NULL, "
	         "window_start timestamptz NOT NULL, window_end timestamptz NOT NULL, "
	         "count bigint NOT NULL, aggregates jsonb NOT NULL, "
	         "PRIMARY KEY (resource, key, window_start))",
	         table);
	pg_run(sql);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO \"%s\" VALUES "
	         "('" NS "/tw-%s-pg-v0', 'old' || chr(31) || 's9', '2026-11-23 04:00:00Z', "
	         "'2026-11-23 04:01:00Z', 2, '{\"temp\": {\"count\": 2, \"sum\": 41, \"min\": 20, "
	         "\"max\": 21, \"mean\": 20.5, \"p50\": 20, \"p95\": 21, \"p99\": 21}, \"load\": "
	         "{\"count\": 1, \"sum\": 0.5, \"min\": 0.5, \"max\": 0.5, \"mean\": 0.5, \"p50\": "
	         "null, \"p95\": null, \"p99\": null}}'), "
	         "('" NS "/tw-%s-pg-v0', 'empty' || chr(31) || 's9', '2026-11-23 04:00:00Z', "
	         "'2026-11-23 04:01:00Z', 4, '{}')",
	         table, it.run, it.run);
	pg_run(sql);

	pg_spec(&spec, "pg-v0", table, "");
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, NULL, 0), TW_SINK_OK);

	expect_pg("1\n", "SELECT version FROM sluice_schema_version WHERE table_name = '%s'",
	          table);
	expect_pg("0\n",
	          "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
	          "current_schema() AND table_name = '%s' AND column_name = 'aggregates'",
	          table);
	snprintf(want, sizeof(want),
	         "empty/s9|{empty,s9}|2026-11-23 04:00:00+00|4||0|-|-|-|-|-|-|-\n"
	         "new/s1|{new,s1}|2026-11-23 05:00:00+00|1|load|0|0|-|-|-|-|-|-\n"
	         "new/s1|{new,s1}|2026-11-23 05:00:00+00|1|temp|1|5|4|6|5|5|5.5|6\n"
	         "old/s9|{old,s9}|2026-11-23 04:00:00+00|2|load|1|0.5|0.5|0.5|0.5|-|-|-\n"
	         "old/s9|{old,s9}|2026-11-23 04:00:00+00|2|temp|2|41|20|21|20.5|20|21|21\n");
	expect_pg(want,
	          "SELECT replace(key, chr(31), '/'), key_fields, window_start, count, field, "
	          "value_count, sum, min, max, mean, p50, p95, p99 FROM \"%s\" ORDER BY key, field",
	          table);
	/* Idempotent from now on, like any v1 table. */
	assert_int_equal(write_rows(s[0], &row, 1, NULL, 0), TW_SINK_OK);
	expect_pg("5\n", "SELECT count(*) FROM \"%s\"", table);
	close_sink(s);
	tw_spec_free(&spec);
}

/* A table Sluice did not make, or of a newer schema, is left alone:
 * TW_SINK_E_CONFIG with the reason. */
static void test_pg_not_ours(void **state)
{
	char table[64], sql[512], err[1024];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);

	(void)state;
	table_name(table, sizeof(table), "foreign");
	snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\" (id int, note text)", table);
	pg_run(sql);
	pg_spec(&spec, "pg-foreign", table, "");
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_non_null(strstr(err, "exists but is not a Sluice telemetry table"));
	expect_pg("id,note\n",
	          "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
	          "information_schema.columns WHERE table_schema = current_schema() AND "
	          "table_name = '%s'",
	          table);
	close_sink(s);
	tw_spec_free(&spec);

	table_name(table, sizeof(table), "newer");
	pg_spec(&spec, "pg-newer", table, "");
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_OK);
	close_sink(s);
	snprintf(sql, sizeof(sql),
	         "UPDATE sluice_schema_version SET version = 2 WHERE table_name = '%s'", table);
	pg_run(sql);
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_non_null(strstr(err, "has schema version 2, newer than this worker's 1"));
	close_sink(s);
	tw_spec_free(&spec);
}

/* Retention trims exactly the windows past the cap (the newest kept) and
 * those older than maxAge, of its own resource only. */
static void test_pg_trim(void **state)
{
	static const char per_window[] = "SELECT split_part(key, chr(31), 1), "
	                                 "(extract(epoch FROM window_start - "
	                                 "'2026-11-23 05:00:00Z') / 60)::int, count(*) FROM "
	                                 "\"%s\" WHERE resource = '" NS "/tw-%s-%s' GROUP BY 1, 2 "
	                                 "ORDER BY 1, 2";
	char table[64], err[512];
	struct tw_spec a_spec, b_spec;
	struct tw_sink **a, **b;
	struct tw_row rows[7];
	const char *b_all = "h1|0|2\nh1|1|2\nh1|2|2\nh1|3|2\nh1|4|2\n";

	(void)state;
	table_name(table, sizeof(table), "trim");
	pg_spec(&a_spec, "pg-trim-a", table,
	        ",\"retention\":{\"maxRowsPerKey\":3,\"maxAge\":\"10m\"}");
	pg_spec(&b_spec, "pg-trim-b", table, ",\"retention\":{\"maxRowsPerKey\":0}");
	a = open_sink(&a_spec);
	b = open_sink(&b_spec);
	for (int i = 0; i < 5; i++)
		rows[i] = row_of("h1", "s1", T0 + i * MIN, 1, i);
	rows[5] = row_of("h2", "s1", T0, 1, 0);
	rows[6] = row_of("h2", "s1", T0 + MIN, 1, 0);
	assert_int_equal(write_rows(a[0], rows, 7, NULL, 0), TW_SINK_OK);
	assert_int_equal(write_rows(b[0], rows, 5, NULL, 0), TW_SINK_OK);

	/* now - maxAge = T0: nothing is that old; the cap keeps 3 windows. */
	assert_int_equal(tw_sink_trim(a[0], T0 + 10 * MIN, err, sizeof(err)), 0);
	expect_pg("h1|2|2\nh1|3|2\nh1|4|2\nh2|0|2\nh2|1|2\n", per_window, table, it.run,
	          "pg-trim-a");
	expect_pg(b_all, per_window, table, it.run, "pg-trim-b");
	/* The same again changes nothing. */
	assert_int_equal(tw_sink_trim(a[0], T0 + 10 * MIN, err, sizeof(err)), 0);
	expect_pg("h1|2|2\nh1|3|2\nh1|4|2\nh2|0|2\nh2|1|2\n", per_window, table, it.run,
	          "pg-trim-a");

	/* now - maxAge = T0 + 3m: windows that ended before it go (h2's end
	 * at 1m and 2m); h1's window ending at exactly 3m stays. */
	assert_int_equal(tw_sink_trim(a[0], T0 + 13 * MIN, err, sizeof(err)), 0);
	expect_pg("h1|2|2\nh1|3|2\nh1|4|2\n", per_window, table, it.run, "pg-trim-a");
	expect_pg(b_all, per_window, table, it.run, "pg-trim-b");

	/* A sink without retention trims nothing. */
	assert_int_equal(tw_sink_trim(b[0], T0 + 1000 * MIN, err, sizeof(err)), 0);
	expect_pg(b_all, per_window, table, it.run, "pg-trim-b");
	close_sink(a);
	close_sink(b);
	tw_spec_free(&a_spec);
	tw_spec_free(&b_spec);
}

/* A row the database refuses is REJECT; the transaction is rolled back
 * and the connection still serves the next batch. */
static void test_pg_reject(void **state)
{
	char table[64], err[1024];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row rows[2];

	(void)state;
	table_name(table, sizeof(table), "reject");
	pg_spec(&spec, "pg-reject", table, "");
	s = open_sink(&spec);
	rows[0] = row_of("ok", "s1", T0, 1, 1);
	rows[1] = row_of("\xff", "s1", T0, 1, 1); /* not UTF-8 */
	assert_int_equal(write_rows(s[0], rows, 2, err, sizeof(err)), TW_SINK_E_REJECT);
	assert_non_null(strstr(err, "SQLSTATE 22021"));
	expect_pg("0\n", "SELECT count(*) FROM \"%s\"", table);
	assert_int_equal(write_rows(s[0], rows, 1, err, sizeof(err)), TW_SINK_OK);
	expect_pg("2\n", "SELECT count(*) FROM \"%s\"", table);
	close_sink(s);
	tw_spec_free(&spec);
}

/* A lost connection is RETRY, and the next write connects again. */
static void test_pg_reconnect(void **state)
{
	char table[64], err[1024];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);

	(void)state;
	table_name(table, sizeof(table), "reconnect");
	pg_spec(&spec, "pg-reconnect", table, "");
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_OK);
	expect_pg("1\n",
	          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
	          "application_name = 'twit_%s' AND pid <> pg_backend_pid()",
	          it.runu);
	usleep(100 * 1000);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_E_RETRY);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_OK);
	close_sink(s);
	tw_spec_free(&spec);
}

static void test_pg_unreachable(void **state)
{
	char dsn[256], err[1024];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);

	(void)state;
	snprintf(dsn, sizeof(dsn), "postgresql://postgres@127.0.0.1:%d/sluice?connect_timeout=3",
	         closed_port());
	setenv("SLUICE_SECRET_IT_PG_DOWN_DSN", dsn, 1);
	spec_load(&spec, "pg-down",
	          ",\"sinks\":{\"postgres\":{\"dsn\":{\"name\":\"it-pg-down\",\"key\":\"dsn\"}}}");
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_E_RETRY);
	assert_non_null(strstr(err, "postgres: connect: "));
	/* Trimming needs the server too. */
	assert_int_equal(tw_sink_trim(s[0], T0, err, sizeof(err)), TW_SINK_E_RETRY);
	close_sink(s);
	tw_spec_free(&spec);
}

/* ==== Redis ==== */

static void redis_spec(struct tw_spec *spec, const char *name, const char *more)
{
	char extra[512];

	snprintf(extra, sizeof(extra), ",\"sinks\":{\"redis\":{\"addr\":\"%s\"%s}}", it.redis_addr,
	         more);
	spec_load(spec, name, extra);
}

/* "<default prefix><host>\x1f<site>" of resource tw-<run>-<name>. */
static void redis_base(char *buf, size_t size, const char *name, const char *key)
{
	snprintf(buf, size, "sluice:" NS ":tw-%s-%s:%s", it.run, name, key);
}

static long long redis_int(int argc, const char **argv)
{
	redisReply *r = redis_cmd(argc, argv);
	long long v;

	if (r->type != REDIS_REPLY_INTEGER)
		fail_msg("redis %s %s: not an integer", argv[0], argc > 1 ? argv[1] : "");
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Hash, timeline and TTLs hold what the docs say. */
static void test_redis_contents(void **state)
{
	static const char want_h1[] =
	    "count=4\nend=1795410180000000000\nload.count=0\nload.sum=0\n"
	    "start=1795410120000000000\ntemp.count=4\ntemp.max=24\ntemp.mean=23\ntemp.min=22\n"
	    "temp.p50=23\ntemp.p95=23.5\ntemp.p99=24\ntemp.sum=92\n"
	    "1795410000000 {\"start\":1795410000000000000,\"end\":1795410060000000000,\"count\":3,"
	    "\"fields\":{\"temp\":{\"count\":3,\"sum\":64.5,\"min\":20.5,\"max\":22.5,\"mean\":21."
	    "5,"
	    "\"p50\":21.5,\"p95\":22,\"p99\":22.5},\"load\":{\"count\":0,\"sum\":0}}}\n"
	    "1795410060000 {\"start\":1795410060000000000,\"end\":1795410120000000000,\"count\":2,"
	    "\"fields\":{\"temp\":{\"count\":2,\"sum\":44,\"min\":21,\"max\":23,\"mean\":22,"
	    "\"p50\":22,\"p95\":22.5,\"p99\":23},\"load\":{\"count\":0,\"sum\":0}}}\n"
	    "1795410120000 {\"start\":1795410120000000000,\"end\":1795410180000000000,\"count\":4,"
	    "\"fields\":{\"temp\":{\"count\":4,\"sum\":92,\"min\":22,\"max\":24,\"mean\":23,"
	    "\"p50\":23,\"p95\":23.5,\"p99\":24},\"load\":{\"count\":0,\"sum\":0}}}\n";
	char base[256], key[300], *got;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row rows[4];
	long long pttl;

	(void)state;
	redis_spec(&spec, "r-contents", ",\"ttl\":\"90s\"");
	s = open_sink(&spec);
	rows[0] = row_of("h1", "s1", T0, 3, 21.5);
	rows[1] = row_of("h1", "s1", T0 + MIN, 2, 22);
	rows[2] = row_of("h1", "s1", T0 + 2 * MIN, 4, 23);
	rows[3] = row_of("h2", "s2", T0, 1, 30);
	assert_int_equal(write_rows(s[0], rows, 4, NULL, 0), TW_SINK_OK);

	redis_base(base, sizeof(base), "r-contents", "h1\x1fs1");
	got = redis_state(base);
	assert_string_equal(got, want_h1);
	free(got);
	redis_base(base, sizeof(base), "r-contents", "h2\x1fs2");
	snprintf(key, sizeof(key), "%s:timeline", base);
	assert_int_equal(redis_int(2, (const char *[]){"ZCARD", key}), 1);
	for (int k = 0; k < 2; k++) {
		snprintf(key, sizeof(key), "%s:%s", base, k ? "timeline" : "latest");
		pttl = redis_int(2, (const char *[]){"PTTL", key});
		if (pttl <= 80000 || pttl > 90000)
			fail_msg("PTTL %s is %lld, want (80000, 90000]", key, pttl);
	}
	close_sink(s);
	tw_spec_free(&spec);
}

/* The same rows again, an old window replayed alone, a new connection:
 * the same state. A window written with other numbers replaces its
 * timeline member; the latest stays the newest window. */
static void test_redis_idempotent(void **state)
{
	char base[256], key[300], score[32], *before, *after;
	struct tw_spec spec;
	struct tw_sink **s, **s2;
	struct tw_row rows[3];
	redisReply *r;

	(void)state;
	redis_spec(&spec, "r-idem", "");
	s = open_sink(&spec);
	rows[0] = row_of("h1", "s1", T0, 3, 21.5);
	rows[1] = row_of("h1", "s1", T0 + MIN, 2, 22);
	rows[2] = row_of("h1", "s1", T0 + 2 * MIN, 4, 23);
	assert_int_equal(write_rows(s[0], rows, 3, NULL, 0), TW_SINK_OK);
	redis_base(base, sizeof(base), "r-idem", "h1\x1fs1");
	before = redis_state(base);

	assert_int_equal(write_rows(s[0], rows, 3, NULL, 0), TW_SINK_OK);
	assert_int_equal(write_rows(s[0], rows, 1, NULL, 0), TW_SINK_OK); /* old, alone */
	s2 = open_sink(&spec);
	assert_int_equal(write_rows(s2[0], rows, 3, NULL, 0), TW_SINK_OK);
	after = redis_state(base);
	assert_string_equal(before, after);
	free(after);

	rows[1] = row_of("h1", "s1", T0 + MIN, 9, 22);
	assert_int_equal(write_rows(s2[0], &rows[1], 1, NULL, 0), TW_SINK_OK);
	snprintf(key, sizeof(key), "%s:timeline", base);
	assert_int_equal(redis_int(2, (const char *[]){"ZCARD", key}), 3);
	snprintf(score, sizeof(score), "%lld", (long long)((T0 + MIN) / 1000000));
	r = redis_cmd(4, (const char *[]){"ZRANGEBYSCORE", key, score, score});
	assert_int_equal(r->elements, 1);
	assert_non_null(strstr(r->element[0]->str, "\"count\":9,"));
	freeReplyObject(r);
	snprintf(key, sizeof(key), "%s:latest", base);
	r = redis_cmd(3, (const char *[]){"HGET", key, "start"});
	assert_string_equal(r->str, "1795410120000000000");
	freeReplyObject(r);
	free(before);
	close_sink(s);
	close_sink(s2);
	tw_spec_free(&spec);
}

/* The timeline keeps the newest 60 windows. */
static void test_redis_timeline_cap(void **state)
{
	char base[256], key[300];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row rows[65];
	redisReply *r;

	(void)state;
	redis_spec(&spec, "r-cap", "");
	s = open_sink(&spec);
	for (int i = 0; i < 65; i++)
		rows[i] = row_of("h1", "s1", T0 + i * MIN, 1, i);
	assert_int_equal(write_rows(s[0], rows, 65, NULL, 0), TW_SINK_OK);
	redis_base(base, sizeof(base), "r-cap", "h1\x1fs1");
	snprintf(key, sizeof(key), "%s:timeline", base);
	assert_int_equal(redis_int(2, (const char *[]){"ZCARD", key}), 60);
	r = redis_cmd(5, (const char *[]){"ZRANGE", key, "0", "0", "WITHSCORES"});
	assert_string_equal(r->element[1]->str, "1795410300000"); /* T0 + 5m */
	freeReplyObject(r);
	snprintf(key, sizeof(key), "%s:latest", base);
	r = redis_cmd(3, (const char *[]){"HGET", key, "start"});
	assert_string_equal(r->str, "1795413840000000000"); /* T0 + 64m */
	freeReplyObject(r);
	close_sink(s);
	tw_spec_free(&spec);
}

/* More rows than one round trip (1024): every key is written. */
static void test_redis_large_batch(void **state)
{
	char base[256], key[300], host[16];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row *rows = calloc(1500, sizeof(*rows));
	redisReply *r;

	(void)state;
	assert_non_null(rows);
	redis_spec(&spec, "r-large", "");
	s = open_sink(&spec);
	for (int i = 0; i < 1500; i++) {
		snprintf(host, sizeof(host), "h%d", i);
		rows[i] = row_of(host, "s1", T0, (uint64_t)i + 1, i);
	}
	assert_int_equal(write_rows(s[0], rows, 1500, NULL, 0), TW_SINK_OK);
	for (int i = 0; i < 1500; i += 499) {
		snprintf(host, sizeof(host), "h%d\x1fs1", i);
		redis_base(base, sizeof(base), "r-large", host);
		snprintf(key, sizeof(key), "%s:latest", base);
		r = redis_cmd(3, (const char *[]){"HGET", key, "count"});
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_int_equal(atoi(r->str), i + 1);
		freeReplyObject(r);
	}
	redis_base(base, sizeof(base), "r-large", "h1499\x1fs1");
	snprintf(key, sizeof(key), "%s:timeline", base);
	assert_int_equal(redis_int(2, (const char *[]){"ZCARD", key}), 1);
	free(rows);
	close_sink(s);
	tw_spec_free(&spec);
}

/* The script cache flushed (as by a restart): loaded again, no error. A
 * key of the wrong type is REJECT; a Redis that is away is RETRY. */
static void test_redis_failures(void **state)
{
	char base[256], key[300], addr[64], err[1024];
	struct tw_spec spec, down;
	struct tw_sink **s, **d;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);
	redisReply *r;

	(void)state;
	redis_spec(&spec, "r-fail", "");
	s = open_sink(&spec);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_OK);
	r = redis_cmd(2, (const char *[]){"SCRIPT", "FLUSH"});
	freeReplyObject(r);
	row = row_of("h1", "s1", T0 + MIN, 1, 1);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_OK);
	redis_base(base, sizeof(base), "r-fail", "h1\x1fs1");
	snprintf(key, sizeof(key), "%s:timeline", base);
	assert_int_equal(redis_int(2, (const char *[]){"ZCARD", key}), 2);

	snprintf(key, sizeof(key), "%s:latest", base);
	assert_int_equal(redis_int(2, (const char *[]){"DEL", key}), 1);
	r = redis_cmd(3, (const char *[]){"SET", key, "not a hash"});
	freeReplyObject(r);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_E_REJECT);
	assert_non_null(strstr(err, "WRONGTYPE"));
	assert_int_equal(redis_int(2, (const char *[]){"DEL", key}), 1);
	assert_int_equal(write_rows(s[0], &row, 1, err, sizeof(err)), TW_SINK_OK);
	close_sink(s);
	tw_spec_free(&spec);

	snprintf(addr, sizeof(addr), ",\"sinks\":{\"redis\":{\"addr\":\"127.0.0.1:%d\"}}",
	         closed_port());
	spec_load(&down, "r-down", addr);
	d = open_sink(&down);
	assert_int_equal(write_rows(d[0], &row, 1, err, sizeof(err)), TW_SINK_E_RETRY);
	assert_non_null(strstr(err, "redis: connect: "));
	close_sink(d);
	tw_spec_free(&down);
}

/* ==== InfluxDB ==== */

static void influx_spec(struct tw_spec *spec, const char *name, const char *url, const char *db,
                        const char *more)
{
	char extra[1024];

	snprintf(extra, sizeof(extra),
	         ",\"sinks\":{\"influxdb\":{\"url\":\"%s\",\"database\":\"%s\"%s}}", url, db, more);
	spec_load(spec, name, extra);
}

static struct tw_event event_of(const char *host, const char *site, int64_t ts, uint32_t present,
                                double temp, double load)
{
	struct tw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.key_len = (size_t)snprintf(ev.key, sizeof(ev.key), "%s\x1f%s", host, site);
	ev.ts_ns = ts;
	ev.present = present;
	ev.values[0] = temp;
	ev.values[1] = load;
	return ev;
}

static const char *const window_cols[] = {"time",       "site",     "window",    "count",
                                          "temp_count", "temp_sum", "temp_mean", "temp_p99",
                                          "load_count", "load_sum", "load_mean", NULL};
static const char *const raw_cols[] = {"time", "host", "site", "temp", "load", NULL};

/* v1 /write: windows and raw points land, and a replay changes nothing. */
static void test_influx_v1(void **state)
{
	char q[512], *got;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row rows[2];
	struct tw_event evs[3];
	struct tw_batch b = {rows, 2, evs, 3};

	(void)state;
	influx_spec(&spec, "i-v1", it.influx_url, it.influx_db, ",\"raw\":true");
	s = open_sink(&spec);
	rows[0] = row_of("h1", "s1", T0, 3, 21.5);
	rows[1] = row_of("h2", "s2", T0, 1, 30);
	evs[0] = event_of("h1", "s1", T0 + 1000000000, 1, 21, 0);
	evs[1] = event_of("h1", "s1", T0 + 2000000000, 3, 22, 0.5);
	evs[2] = event_of("h2", "s2", T0 + 3000000000, 0, 0, 0); /* no values: no point */
	for (int pass = 0; pass < 2; pass++) {
		expect_write(s[0], &b, TW_SINK_OK);
		snprintf(q, sizeof(q),
		         "SELECT * FROM telemetry_window WHERE resource = '" NS "/tw-%s-i-v1' "
		         "GROUP BY host",
		         it.run);
		got = influx_points(it.influx_db, q, window_cols);
		assert_string_equal(got, "2026-11-23T05:00:00Z|s1|1m|3|3|64.5|21.5|22.5|0|0|-\n"
		                         "2026-11-23T05:00:00Z|s2|1m|1|1|30|30|31|0|0|-\n");
		free(got);
		snprintf(q, sizeof(q),
		         "SELECT * FROM telemetry_raw WHERE resource = '" NS "/tw-%s-i-v1'",
		         it.run);
		got = influx_points(it.influx_db, q, raw_cols);
		assert_string_equal(got, "2026-11-23T05:00:01Z|h1|s1|21|-\n"
		                         "2026-11-23T05:00:02Z|h1|s1|22|0.5\n");
		free(got);
	}
	close_sink(s);
	tw_spec_free(&spec);
}

/* v2 /api/v2/write with a token (InfluxDB 1.8+'s compatibility API; the
 * bucket is the database). */
static void test_influx_v2(void **state)
{
	char q[512], *got;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0 + MIN, 2, 10);
	struct tw_batch b = {&row, 1, NULL, 0};

	(void)state;
	influx_spec(&spec, "i-v2", it.influx_url, it.influx_db,
	            ",\"api\":\"v2\",\"org\":\"sluice\",\"token\":{\"name\":\"it-influx\",\"key\":"
	            "\"token\"}");
	s = open_sink(&spec);
	expect_write(s[0], &b, TW_SINK_OK);
	snprintf(q, sizeof(q),
	         "SELECT * FROM telemetry_window WHERE resource = '" NS "/tw-%s-i-v2'", it.run);
	got = influx_points(it.influx_db, q, window_cols);
	assert_string_equal(got, "2026-11-23T05:01:00Z|s1|1m|2|2|20|10|11|0|0|-\n");
	free(got);
	close_sink(s);
	tw_spec_free(&spec);
}

/* v1 "database not found": CREATE DATABASE, then the write goes through. */
static void test_influx_create_db(void **state)
{
	char db[64], q[512], *got;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);
	struct tw_batch b = {&row, 1, NULL, 0};

	(void)state;
	snprintf(db, sizeof(db), "twit_%s_db", it.runu);
	snprintf(it.dbs[it.ndbs++], sizeof(it.dbs[0]), "%s", db);
	influx_spec(&spec, "i-db", it.influx_url, db, "");
	s = open_sink(&spec);
	expect_write(s[0], &b, TW_SINK_OK);
	got = influx_points(it.influx_db, "SHOW DATABASES", (const char *const[]){"name", NULL});
	snprintf(q, sizeof(q), "\n%s\n", db);
	assert_non_null(strstr(got, q));
	free(got);
	got = influx_points(db, "SELECT count(\"count\") FROM telemetry_window",
	                    (const char *const[]){"count", NULL});
	assert_string_equal(got, "1\n");
	free(got);
	close_sink(s);
	tw_spec_free(&spec);
}

/* A point InfluxDB refuses (a field type conflict: 400 partial write) is
 * REJECT; a server that is away is RETRY. */
static void test_influx_reject_unreachable(void **state)
{
	char db[64], q[256], url[64], err[1024];
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);
	struct tw_batch b = {&row, 1, NULL, 0};

	(void)state;
	snprintf(db, sizeof(db), "twit_%s_conflict", it.runu);
	snprintf(it.dbs[it.ndbs++], sizeof(it.dbs[0]), "%s", db);
	snprintf(q, sizeof(q), "CREATE DATABASE \"%s\"", db);
	cJSON_Delete(influx_query(it.influx_db, q));
	/* Field types are kept per shard: the same time as the sink's point. */
	influx_write_line(db, "telemetry_window,resource=x count=\"text\" 1795410000000000000");
	influx_spec(&spec, "i-conflict", it.influx_url, db, "");
	s = open_sink(&spec);
	assert_int_equal(tw_sink_write(s[0], &b, err, sizeof(err)), TW_SINK_E_REJECT);
	assert_non_null(strstr(err, "influxdb: 400: "));
	assert_non_null(strstr(err, "field type conflict"));
	close_sink(s);
	tw_spec_free(&spec);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	influx_spec(&spec, "i-down", url, "sluice", "");
	s = open_sink(&spec);
	assert_int_equal(tw_sink_write(s[0], &b, err, sizeof(err)), TW_SINK_E_RETRY);
	assert_non_null(strstr(err, "influxdb: POST http://127.0.0.1:"));
	assert_int_equal(tw_sink_retry_after_ms(s[0]), 0);
	close_sink(s);
	tw_spec_free(&spec);
}

/* ---- A fake InfluxDB for the answers a real 1.x will not give ---- */

struct fake {
	pthread_mutex_t mu;
	struct MHD_Daemon *d;
	int port;
	int max_lines;           /* 413 above this many lines; 0: no limit */
	int status;              /* this status for every request; 0: 204 */
	const char *retry_after; /* sent with status, when not NULL */
	const char *body;        /* sent with status, when not NULL */
	int requests;
	int lines[64];  /* per request, the first 64 */
	char *accepted; /* the bodies answered 204, in order */
	size_t accepted_len;
	char auth[128], url[512];
};

struct upload {
	char *p;
	size_t len;
};

static const char *query_arg(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);

	return v != NULL ? v : "";
}

static enum MHD_Result fake_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_size, void **con_cls)
{
	struct fake *f = cls;
	struct upload *u = *con_cls;
	struct MHD_Response *resp;
	const char *auth, *body = "";
	int lines = 0, status;
	enum MHD_Result rc;

	(void)method;
	(void)version;
	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		if (u == NULL)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		char *p = realloc(u->p, u->len + *upload_size);

		if (p == NULL)
			return MHD_NO;
		memcpy(p + u->len, upload_data, *upload_size);
		u->p = p;
		u->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	for (size_t i = 0; i < u->len; i++)
		lines += u->p[i] == '\n';
	pthread_mutex_lock(&f->mu);
	if (f->requests < 64)
		f->lines[f->requests] = lines;
	f->requests++;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	snprintf(f->auth, sizeof(f->auth), "%s", auth != NULL ? auth : "");
	snprintf(f->url, sizeof(f->url), "%s?org=%s&bucket=%s&db=%s", url, query_arg(conn, "org"),
	         query_arg(conn, "bucket"), query_arg(conn, "db"));
	if (f->max_lines > 0 && lines > f->max_lines) {
		status = 413;
		body = "{\"code\":\"request too large\"}";
	} else if (f->status != 0) {
		status = f->status;
		body = f->body != NULL ? f->body : "";
	} else {
		char *p = realloc(f->accepted, f->accepted_len + u->len + 1);

		status = 204;
		if (p != NULL) {
			memcpy(p + f->accepted_len, u->p, u->len);
			f->accepted = p;
			f->accepted_len += u->len;
			p[f->accepted_len] = '\0';
		}
	}
	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp != NULL && status == f->status && f->retry_after != NULL)
		MHD_add_response_header(resp, "Retry-After", f->retry_after);
	pthread_mutex_unlock(&f->mu);
	if (resp == NULL)
		return MHD_NO;
	rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void fake_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (u != NULL) {
		free(u->p);
		free(u);
		*con_cls = NULL;
	}
}

static void fake_start(struct fake *f)
{
	const union MHD_DaemonInfo *info;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_handle, f,
	                     MHD_OPTION_NOTIFY_COMPLETED, fake_done, f, MHD_OPTION_SOCK_ADDR,
	                     (const struct sockaddr *)&(struct sockaddr_in){
	                         .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
	                     MHD_OPTION_END);
	assert_non_null(f->d);
	info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	f->port = info->port;
}

static void fake_reset(struct fake *f, int max_lines, int status, const char *retry_after,
                       const char *body)
{
	pthread_mutex_lock(&f->mu);
	f->max_lines = max_lines;
	f->status = status;
	f->retry_after = retry_after;
	f->body = body;
	f->requests = 0;
	f->accepted_len = 0;
	if (f->accepted != NULL)
		f->accepted[0] = '\0';
	pthread_mutex_unlock(&f->mu);
}

static void fake_stop(struct fake *f)
{
	MHD_stop_daemon(f->d);
	pthread_mutex_destroy(&f->mu);
	free(f->accepted);
}

/* 413: the request is halved, recursively, until the server takes each
 * part; every point arrives once, in order. */
static void test_influx_413_split(void **state)
{
	static const int want_lines[] = {10, 5, 2, 3, 5, 2, 3};
	char url[64], host[32];
	struct fake f;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row rows[10];
	struct tw_batch b = {rows, 10, NULL, 0};
	const char *p;

	(void)state;
	fake_start(&f);
	fake_reset(&f, 3, 0, NULL, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	influx_spec(&spec, "i-413", url, "sluice", "");
	s = open_sink(&spec);
	for (int i = 0; i < 10; i++) {
		snprintf(host, sizeof(host), "h%d", i);
		rows[i] = row_of(host, "s1", T0, 1, i);
	}
	expect_write(s[0], &b, TW_SINK_OK);
	assert_int_equal(f.requests, 7);
	for (int i = 0; i < 7; i++)
		if (f.lines[i] != want_lines[i])
			fail_msg("request %d had %d lines, want %d", i, f.lines[i], want_lines[i]);
	p = f.accepted;
	for (int i = 0; i < 10; i++) {
		snprintf(host, sizeof(host), "host=h%d,", i);
		assert_memory_equal(p, "telemetry_window,", 17);
		assert_non_null(strstr(p, host));
		assert_true(strstr(p, host) < strchr(p, '\n'));
		p = strchr(p, '\n') + 1;
	}
	assert_int_equal(*p, '\0');
	assert_string_equal(f.url, "/write?org=&bucket=&db=sluice");
	close_sink(s);
	tw_spec_free(&spec);
	fake_stop(&f);
}

/* 429 and 5xx with Retry-After (capped at 600 s), 401, 400 and the
 * bodies that mean "dropped"; and the v2 URL and token header. */
static void test_influx_statuses(void **state)
{
	static const struct {
		int status;
		const char *retry_after, *body;
		int want;
		int64_t want_ms;
	} cases[] = {
	    {429, "7", NULL, TW_SINK_E_RETRY, 7000},
	    {503, "100000", NULL, TW_SINK_E_RETRY, 600000},
	    {502, "1.5", NULL, TW_SINK_E_RETRY, 1500},
	    {504, "later", NULL, TW_SINK_E_RETRY, 10000},
	    {500, "3", "{\"error\":\"timeout\"}", TW_SINK_E_RETRY, 3000},
	    {503, NULL, NULL, TW_SINK_E_RETRY, 0},
	    {401, NULL, "{\"code\":\"unauthorized\"}", TW_SINK_E_RETRY, 0},
	    {403, NULL, NULL, TW_SINK_E_RETRY, 0},
	    {400, NULL, "{\"code\":\"invalid\",\"message\":\"unable to parse 'x'\"}",
	     TW_SINK_E_REJECT, 0},
	    {422, NULL, "{\"message\":\"partial write: dropped 1 points outside retention\"}",
	     TW_SINK_E_REJECT, 0},
	    {500, NULL, "{\"error\":\"partial write: points beyond retention policy\"}",
	     TW_SINK_E_REJECT, 0},
	    {0, NULL, NULL, TW_SINK_OK, 0},
	};
	char url[64], err[1024];
	struct fake f;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_row row = row_of("h1", "s1", T0, 1, 1);
	struct tw_batch b = {&row, 1, NULL, 0};

	(void)state;
	fake_start(&f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f.port);
	influx_spec(&spec, "i-status", url, "b",
	            ",\"api\":\"v2\",\"org\":\"o\",\"token\":{\"name\":\"it-influx\",\"key\":"
	            "\"token\"}");
	s = open_sink(&spec);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		fake_reset(&f, 0, cases[i].status, cases[i].retry_after, cases[i].body);
		rc = tw_sink_write(s[0], &b, err, sizeof(err));
		if (rc != cases[i].want || tw_sink_retry_after_ms(s[0]) != cases[i].want_ms)
			fail_msg(
			    "status %d Retry-After %s: got %d and %lld ms, want %d and %lld ms "
			    "(%s)",
			    cases[i].status, cases[i].retry_after ? cases[i].retry_after : "-", rc,
			    (long long)tw_sink_retry_after_ms(s[0]), cases[i].want,
			    (long long)cases[i].want_ms, err);
		assert_int_equal(f.requests, 1);
	}
	assert_string_equal(f.auth, "Token u:p");
	assert_string_equal(f.url, "/api/v2/write?org=o&bucket=b&db=");
	close_sink(s);
	tw_spec_free(&spec);
	fake_stop(&f);
}

/* At most 5000 points per request. */
static void test_influx_batches(void **state)
{
	char url[64];
	struct fake f;
	struct tw_spec spec;
	struct tw_sink **s;
	struct tw_event *evs = calloc(12001, sizeof(*evs));
	struct tw_batch b = {NULL, 0, evs, 12001};

	(void)state;
	assert_non_null(evs);
	fake_start(&f);
	fake_reset(&f, 0, 0, NULL, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	influx_spec(&spec, "i-batch", url, "sluice", ",\"raw\":true,\"windows\":false");
	s = open_sink(&spec);
	for (int i = 0; i < 12001; i++)
		evs[i] = event_of("h1", "s1", T0 + i, 1, i, 0);
	expect_write(s[0], &b, TW_SINK_OK);
	assert_int_equal(f.requests, 3);
	assert_int_equal(f.lines[0], 5000);
	assert_int_equal(f.lines[1], 5000);
	assert_int_equal(f.lines[2], 2001);
	close_sink(s);
	tw_spec_free(&spec);
	fake_stop(&f);
	free(evs);
}

/* ==== Set-up ==== */

static int setup(void **state)
{
	const char *dsn = it_env("PG_DSN"), *addr = it_env("REDIS_ADDR");
	char host[128];
	int port;
	PGresult *res;

	(void)state;
	snprintf(it.run, sizeof(it.run), "%d-%ld", (int)getpid(), (long)(time(NULL) % 1000000));
	snprintf(it.runu, sizeof(it.runu), "%d_%ld", (int)getpid(), (long)(time(NULL) % 1000000));
	/* The sinks' connections carry a name of this run, so the test can
	 * find (and cut) them among everybody else's. */
	snprintf(it.pg_dsn, sizeof(it.pg_dsn), "%s%sapplication_name=twit_%s", dsn,
	         strchr(dsn, '?') ? "&" : "?", it.runu);
	setenv("SLUICE_SECRET_IT_PG_DSN", it.pg_dsn, 1);
	setenv("SLUICE_SECRET_IT_INFLUX_TOKEN", "u:p", 1);
	snprintf(it.redis_addr, sizeof(it.redis_addr), "%s", addr);
	snprintf(it.influx_url, sizeof(it.influx_url), "%s", it_env("INFLUX_URL"));
	snprintf(it.influx_db, sizeof(it.influx_db), "%s", it_env("INFLUX_DB"));

	it.pg = PQconnectdb(dsn);
	if (PQstatus(it.pg) != CONNECTION_OK)
		fail_msg("postgres %s: %s", dsn, PQerrorMessage(it.pg));
	res = PQexec(it.pg, "SET TimeZone = 'UTC'");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	if (sscanf(addr, "%127[^:]:%d", host, &port) != 2)
		fail_msg("REDIS_ADDR %s is not host:port", addr);
	it.redis = redisConnect(host, port);
	if (it.redis == NULL || it.redis->err)
		fail_msg("redis %s: %s", addr, it.redis ? it.redis->errstr : "out of memory");
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	it.curl = curl_easy_init();
	assert_non_null(it.curl);
	return 0;
}

static int teardown(void **state)
{
	char sql[256], pattern[128];
	redisReply *r;

	(void)state;
	for (int i = 0; i < it.ntables; i++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\"", it.tables[i]);
		pg_run(sql);
	}
	snprintf(sql, sizeof(sql),
	         "DELETE FROM sluice_schema_version WHERE table_name LIKE 'twit\\_%s\\_%%'",
	         it.runu);
	pg_run(sql);
	PQfinish(it.pg);

	snprintf(pattern, sizeof(pattern), "sluice:" NS ":tw-%s-*", it.run);
	r = redis_cmd(2, (const char *[]){"KEYS", pattern});
	for (size_t i = 0; i < r->elements; i++)
		freeReplyObject(redis_cmd(2, (const char *[]){"DEL", r->element[i]->str}));
	freeReplyObject(r);
	redisFree(it.redis);

	for (int i = 0; i < it.ndbs; i++)
		influx_drop_db(it.dbs[i]);
	snprintf(sql, sizeof(sql), "DROP SERIES WHERE resource =~ /^" NS "\\/tw-%s-/", it.run);
	cJSON_Delete(influx_query(it.influx_db, sql));
	curl_easy_cleanup(it.curl);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pg_create_idempotent),
	    cmocka_unit_test(test_pg_large_batch),
	    cmocka_unit_test(test_pg_migrate_v0),
	    cmocka_unit_test(test_pg_not_ours),
	    cmocka_unit_test(test_pg_trim),
	    cmocka_unit_test(test_pg_reject),
	    cmocka_unit_test(test_pg_reconnect),
	    cmocka_unit_test(test_pg_unreachable),
	    cmocka_unit_test(test_redis_contents),
	    cmocka_unit_test(test_redis_idempotent),
	    cmocka_unit_test(test_redis_timeline_cap),
	    cmocka_unit_test(test_redis_large_batch),
	    cmocka_unit_test(test_redis_failures),
	    cmocka_unit_test(test_influx_v1),
	    cmocka_unit_test(test_influx_v2),
	    cmocka_unit_test(test_influx_create_db),
	    cmocka_unit_test(test_influx_reject_unreachable),
	    cmocka_unit_test(test_influx_413_split),
	    cmocka_unit_test(test_influx_statuses),
	    cmocka_unit_test(test_influx_batches),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
