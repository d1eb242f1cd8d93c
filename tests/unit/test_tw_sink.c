/* Unit tests for the telemetry sinks' pure parts (workers/telemetry/tw_sink*.c): the
 * secret variable names, the exact SQL, Redis arguments and line protocol
 * they build, the answer tables (SQLSTATE, Redis errors), and tw_sinks_new's
 * configuration errors. The InfluxDB rules (status and body, Retry-After,
 * the 413 split) are the store's: tests/unit/test_influx.c. No server is
 * needed: the one write here goes to a closed port. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "metrics.h"
#include "secret_env.h"
#include "tw_agg.h"
#include "tw_sink.h"
#include "tw_sink_int.h"
#include "tw_spec.h"

#define T0 INT64_C(1795410000000000000) /* 2026-11-23T05:00:00Z */
#define MIN INT64_C(60000000000)

/* prod/sensors, keys host and site, values temp and load, 1m windows. */
static const struct tw_sink_schema schema = {
    .resource = "prod/sensors",
    .key_names = {"host", "site"},
    .nkeys = 2,
    .value_names = {"temp", "load"},
    .nvalues = 2,
    .aggregations = TW_AGG_ALL,
    .window_size_ns = MIN,
};

/* A window of key "h1" US "s3": temp over 3 events, load in none. */
static struct tw_row make_row(void)
{
	struct tw_row r;

	memset(&r, 0, sizeof(r));
	memcpy(r.key, "h1\x1fs3", 5);
	r.key_len = 5;
	r.start_ns = T0;
	r.end_ns = T0 + MIN;
	r.count = 3;
	r.nvalues = 2;
	r.values[0] = (struct tw_value_result){3, 64.5, 21, 22, 21.5, 21.5, 22, 22};
	r.values[1] = (struct tw_value_result){0, 0, NAN, NAN, NAN, NAN, NAN, NAN};
	return r;
}

/* The buffer as a NUL-terminated string (it may hold a NUL already). */
static const char *buf_str(struct buf *b)
{
	assert_int_equal(buf_append(b, "", 1), 0);
	b->len--;
	return b->data;
}

/* ==== Common ==== */

static void test_secret_env(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(secret_env_name("pg-creds", "dsn", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "SLUICE_SECRET_PG_CREDS_DSN");
	assert_int_equal(secret_env_name("influx.v2/x", "Token_1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "SLUICE_SECRET_INFLUX_V2_X_TOKEN_1");
	assert_int_equal(secret_env_name("a", "b", buf, 18), 0); /* exactly fits */
	assert_string_equal(buf, "SLUICE_SECRET_A_B");
	assert_int_equal(secret_env_name("a", "b", buf, 17), -1);
	assert_int_equal(secret_env_name(NULL, "b", buf, sizeof(buf)), -1);
	assert_int_equal(secret_env_name("a", NULL, buf, sizeof(buf)), -1);
	assert_int_equal(secret_env_name("\xc3\xa9", "k", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "SLUICE_SECRET____K"); /* each non-ASCII byte a '_' */
}

static void test_key_split(void **state)
{
	struct tw_sink_key_part p[8];

	(void)state;
	assert_int_equal(tw_sink_key_split("h1\x1fs3", 5, 2, p, 8), 2);
	assert_int_equal(p[0].len, 2);
	assert_memory_equal(p[0].p, "h1", 2);
	assert_int_equal(p[1].len, 2);
	assert_memory_equal(p[1].p, "s3", 2);
	assert_int_equal(tw_sink_key_split("", 0, 0, p, 8), 0);
	assert_int_equal(tw_sink_key_split("", 0, 1, p, 8), 1);
	assert_int_equal(p[0].len, 0);
	assert_int_equal(tw_sink_key_split("a\x1f", 2, 2, p, 8), 2);
	assert_int_equal(p[1].len, 0);
	assert_int_equal(tw_sink_key_split("a\x1f"
	                                   "b\x1f"
	                                   "c",
	                                   5, 3, p, 2),
	                 2); /* bounded */
}

/* ==== PostgreSQL ==== */

static void test_pg_insert_sql(void **state)
{
	static const char one[] =
	    "INSERT INTO \"tw\" AS t (resource, key, key_fields, window_start, window_end, count, "
	    "field, value_count, sum, min, max, mean, p50, p95, p99) VALUES ($1, $2, $3, $4, $5, "
	    "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (resource, key, "
	    "window_start, field) DO UPDATE SET key_fields = EXCLUDED.key_fields, window_end = "
	    "EXCLUDED.window_end, count = EXCLUDED.count, value_count = EXCLUDED.value_count, sum "
	    "= EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, mean = EXCLUDED.mean, p50 = "
	    "EXCLUDED.p50, p95 = EXCLUDED.p95, p99 = EXCLUDED.p99 WHERE (t.key_fields, "
	    "t.window_end, t.count, t.value_count, t.sum, t.min, t.max, t.mean, t.p50, t.p95, "
	    "t.p99) IS DISTINCT FROM (EXCLUDED.key_fields, EXCLUDED.window_end, EXCLUDED.count, "
	    "EXCLUDED.value_count, EXCLUDED.sum, EXCLUDED.min, EXCLUDED.max, EXCLUDED.mean, "
	    "EXCLUDED.p50, EXCLUDED.p95, EXCLUDED.p99)";
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(tw_sink_pg_insert_sql(&b, "tw", 1), 0);
	assert_string_equal(b.data, one);
	assert_int_equal(b.len, sizeof(one)); /* the NUL counted */

	buf_reset(&b);
	assert_int_equal(tw_sink_pg_insert_sql(&b, "tw", 2), 0);
	assert_non_null(strstr(b.data, "$14, $15), ($16, $17, "));
	assert_non_null(strstr(b.data, "$29, $30) ON CONFLICT"));
	assert_null(strstr(b.data, "$31"));

	buf_reset(&b);
	assert_int_equal(tw_sink_pg_insert_sql(&b, "tw", TW_SINK_PG_ROWS_PER_INSERT), 0);
	assert_non_null(strstr(b.data, "$14985), ($14986, "));
	assert_non_null(strstr(b.data, "$15000) ON CONFLICT"));
	assert_null(strstr(b.data, "$15001"));
	buf_free(&b);

	buf_init(&b, 100); /* a buffer too small fails, never writes half */
	assert_int_equal(tw_sink_pg_insert_sql(&b, "tw", 1), LP_E_FULL);
	buf_free(&b);
}

static void test_pg_key_array(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(tw_sink_pg_key_array("d-17\x1fs3", 7, 2, buf, sizeof(buf)), 13);
	assert_string_equal(buf, "{\"d-17\",\"s3\"}");
	assert_int_equal(tw_sink_pg_key_array("a\"b\\c", 5, 1, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "{\"a\\\"b\\\\c\"}");
	assert_int_equal(tw_sink_pg_key_array("", 0, 0, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "{}");
	assert_int_equal(tw_sink_pg_key_array("", 0, 1, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "{\"\"}");
	assert_int_equal(tw_sink_pg_key_array("NULL\x1f{x, y}", 11, 2, buf, sizeof(buf)), 17);
	assert_string_equal(buf, "{\"NULL\",\"{x, y}\"}");
	assert_int_equal(tw_sink_pg_key_array("abc", 3, 1, buf, 7), -1);
	assert_int_equal(tw_sink_pg_key_array("abc", 3, 1, buf, 8), 7);
}

static void test_pg_format(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(tw_sink_pg_format_ts(0, buf, sizeof(buf)), 29);
	assert_string_equal(buf, "1970-01-01 00:00:00.000000+00");
	tw_sink_pg_format_ts(T0 + 123456789, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23 05:00:00.123456+00"); /* ns dropped */
	tw_sink_pg_format_ts(INT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "2262-04-11 23:47:16.854775+00");
	assert_int_equal(tw_sink_pg_format_ts(0, buf, 31), -1);

	/* Binary timestamptz: microseconds since 2000-01-01 UTC, rounded down
	 * like the text form. */
	assert_int_equal(tw_sink_pg_time_us(946684800000000000LL), 0);
	assert_int_equal(tw_sink_pg_time_us(0), -946684800000000LL);
	assert_int_equal(tw_sink_pg_time_us(946684800000001999LL), 1);
	assert_int_equal(tw_sink_pg_time_us(946684799999999999LL), -1);
	assert_int_equal(tw_sink_pg_time_us(-1), -946684800000001LL);
	/* Before 1970 (historical data): floor, never truncation toward 0. */
	tw_sink_pg_format_ts(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31 23:59:59.999999+00");
	tw_sink_pg_format_ts(-2208988800000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "1900-01-01 00:00:00.000000+00");
	tw_sink_pg_format_ts(-2203891200000000001LL, buf, sizeof(buf));
	assert_string_equal(buf, "1900-02-28 23:59:59.999999+00");
	assert_int_equal(tw_sink_pg_time_us(-2208988800000000000LL),
	                 -2208988800000000LL - 946684800000000LL);
	assert_int_equal(tw_sink_pg_time_us(-1001), -946684800000002LL);
	assert_int_equal(tw_sink_pg_time_us(-1000), -946684800000001LL);

	/* Network byte order: float8 21.5 is 0x4035800000000000. */
	unsigned char be[8];
	double d = 21.5;
	uint64_t bits;
	memcpy(&bits, &d, sizeof(bits));
	tw_sink_pg_be64(bits, be);
	assert_memory_equal(be, "\x40\x35\x80\x00\x00\x00\x00\x00", 8);
	tw_sink_pg_be64((uint64_t)-2, be);
	assert_memory_equal(be, "\xff\xff\xff\xff\xff\xff\xff\xfe", 8);
}

static void test_pg_classify(void **state)
{
	static const struct {
		const char *state;
		int want;
	} cases[] = {
	    {NULL, TW_SINK_E_RETRY},     {"", TW_SINK_E_RETRY},       {"08006", TW_SINK_E_RETRY},
	    {"40001", TW_SINK_E_RETRY},  {"40P01", TW_SINK_E_RETRY},  {"53100", TW_SINK_E_RETRY},
	    {"55P03", TW_SINK_E_RETRY},  {"57014", TW_SINK_E_RETRY},  {"57P01", TW_SINK_E_RETRY},
	    {"58030", TW_SINK_E_RETRY},  {"XX000", TW_SINK_E_RETRY},  {"25P02", TW_SINK_E_RETRY},
	    {"42P01", TW_SINK_E_RETRY},  {"42703", TW_SINK_E_RETRY},  {"22021", TW_SINK_E_REJECT},
	    {"22003", TW_SINK_E_REJECT}, {"23505", TW_SINK_E_REJECT}, {"21000", TW_SINK_E_REJECT},
	    {"42601", TW_SINK_E_REJECT}, {"54000", TW_SINK_E_REJECT}, {"42501", TW_SINK_E_CONFIG},
	    {"28P01", TW_SINK_E_CONFIG}, {"3D000", TW_SINK_E_CONFIG},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tw_sink_pg_classify(cases[i].state) != cases[i].want)
			fail_msg("SQLSTATE %s: got %d want %d",
			         cases[i].state ? cases[i].state : "NULL",
			         tw_sink_pg_classify(cases[i].state), cases[i].want);
}

/* ==== Redis ==== */

static void test_redis_member(void **state)
{
	struct tw_row r = make_row();
	struct tw_sink_schema s = schema;
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(tw_sink_redis_member(&b, &s, &r), 0);
	assert_string_equal(buf_str(&b),
	                    "{\"start\":1795410000000000000,\"end\":1795410060000000000,"
	                    "\"count\":3,\"fields\":{\"temp\":{\"count\":3,\"sum\":64.5,\"min\":21,"
	                    "\"max\":22,\"mean\":21.5,\"p50\":21.5,\"p95\":22,\"p99\":22},"
	                    "\"load\":{\"count\":0,\"sum\":0}}}");

	/* Only what was asked for; field names escaped as JSON. */
	s.aggregations = TW_AGG_COUNT | TW_AGG_MAX | TW_AGG_P99;
	s.value_names[0] = "t\"q";
	s.nvalues = 1;
	buf_reset(&b);
	assert_int_equal(tw_sink_redis_member(&b, &s, &r), 0);
	assert_string_equal(buf_str(&b), "{\"start\":1795410000000000000,\"end\":"
	                                 "1795410060000000000,\"count\":3,\"fields\":{\"t\\\"q\":{"
	                                 "\"count\":3,\"max\":22,\"p99\":22}}}");

	/* A spec without value fields. */
	s.nvalues = 0;
	buf_reset(&b);
	assert_int_equal(tw_sink_redis_member(&b, &s, &r), 0);
	assert_string_equal(buf_str(&b), "{\"start\":1795410000000000000,\"end\":"
	                                 "1795410060000000000,\"count\":3,\"fields\":{}}");
	buf_free(&b);
}

static void test_redis_row_cmd(void **state)
{
	static const char *const want[] = {"EVALSHA",
	                                   "0123456789abcdef0123456789abcdef01234567",
	                                   "2",
	                                   "sluice:prod:sensors:h1\x1fs3:latest",
	                                   "sluice:prod:sensors:h1\x1fs3:timeline",
	                                   "1795410000000000000",
	                                   "1795410000000",
	                                   "3600000",
	                                   "60",
	                                   NULL /* member */,
	                                   "start",
	                                   "1795410000000000000",
	                                   "end",
	                                   "1795410060000000000",
	                                   "count",
	                                   "3",
	                                   "temp.count",
	                                   "3",
	                                   "temp.sum",
	                                   "64.5",
	                                   "temp.min",
	                                   "21",
	                                   "temp.max",
	                                   "22",
	                                   "temp.mean",
	                                   "21.5",
	                                   "temp.p50",
	                                   "21.5",
	                                   "temp.p95",
	                                   "22",
	                                   "temp.p99",
	                                   "22",
	                                   "load.count",
	                                   "0",
	                                   "load.sum",
	                                   "0"};
	const size_t nwant = sizeof(want) / sizeof(want[0]);
	struct tw_row r = make_row();
	struct tw_sink_redis_cmd *cmd = calloc(1, sizeof(*cmd));
	char err[128];

	(void)state;
	assert_non_null(cmd);
	buf_init(&cmd->buf, 1 << 20);
	assert_int_equal(tw_sink_redis_row_cmd(cmd, "0123456789abcdef0123456789abcdef01234567",
	                                       "sluice:prod:sensors:", INT64_C(3600) * 1000000000,
	                                       &schema, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(cmd->argc, nwant);
	for (size_t i = 0; i < nwant; i++) {
		if (want[i] == NULL)
			continue;
		if (cmd->argvlen[i] != strlen(want[i]) ||
		    memcmp(cmd->argv[i], want[i], cmd->argvlen[i]) != 0)
			fail_msg("argv[%zu] is \"%.*s\", want \"%s\"", i, (int)cmd->argvlen[i],
			         cmd->argv[i], want[i]);
	}
	assert_int_equal(cmd->argvlen[9], strlen("{\"start\":1795410000000000000,"
	                                         "\"end\":1795410060000000000,\"count\":3,"
	                                         "\"fields\":{\"temp\":{\"count\":3,\"sum\":64.5,"
	                                         "\"min\":21,\"max\":22,\"mean\":21.5,\"p50\":21.5,"
	                                         "\"p95\":22,\"p99\":22},\"load\":{\"count\":0,"
	                                         "\"sum\":0}}}"));
	assert_memory_equal(cmd->argv[9], "{\"start\":1795410000000000000,", 29);
	assert_true(cmd->argc <= TW_SINK_REDIS_ARGS_MAX);
	buf_free(&cmd->buf);
	free(cmd);
}

/* The largest row fits in TW_SINK_REDIS_ARGS_MAX arguments. */
static void test_redis_row_cmd_max(void **state)
{
	static const char *const names[TW_VALUES_MAX] = {"a", "b", "c", "d", "e", "f", "g", "h",
	                                                 "i", "j", "k", "l", "m", "n", "o", "p"};
	struct tw_sink_schema s = schema;
	struct tw_row r = make_row();
	struct tw_sink_redis_cmd *cmd = calloc(1, sizeof(*cmd));
	char err[128];

	(void)state;
	assert_non_null(cmd);
	memcpy(s.value_names, names, sizeof(names));
	s.nvalues = TW_VALUES_MAX;
	r.nvalues = TW_VALUES_MAX;
	for (size_t i = 0; i < TW_VALUES_MAX; i++)
		r.values[i] = (struct tw_value_result){1, 1, 1, 1, 1, 1, 1, 1};
	buf_init(&cmd->buf, 1 << 20);
	assert_int_equal(
	    tw_sink_redis_row_cmd(cmd, "x", "p:", 1000000000, &s, &r, err, sizeof(err)), 0);
	assert_int_equal(cmd->argc, TW_SINK_REDIS_ARGS_MAX);
	buf_free(&cmd->buf);
	free(cmd);
}

static void test_redis_classify(void **state)
{
	(void)state;
	assert_int_equal(tw_sink_redis_classify("LOADING Redis is loading the dataset in memory"),
	                 TW_SINK_E_RETRY);
	assert_int_equal(tw_sink_redis_classify("BUSY Redis is busy running a script"),
	                 TW_SINK_E_RETRY);
	assert_int_equal(tw_sink_redis_classify("OOM command not allowed when used memory > "
	                                        "'maxmemory'"),
	                 TW_SINK_E_RETRY);
	assert_int_equal(tw_sink_redis_classify("READONLY You can't write against a read only "
	                                        "replica."),
	                 TW_SINK_E_RETRY);
	assert_int_equal(tw_sink_redis_classify("MASTERDOWN Link with MASTER is down"),
	                 TW_SINK_E_RETRY);
	assert_int_equal(tw_sink_redis_classify(NULL), TW_SINK_E_RETRY);
	assert_int_equal(tw_sink_redis_classify("NOAUTH Authentication required."),
	                 TW_SINK_E_CONFIG);
	assert_int_equal(tw_sink_redis_classify("WRONGPASS invalid username-password pair"),
	                 TW_SINK_E_CONFIG);
	assert_int_equal(tw_sink_redis_classify("NOPERM this user has no permissions"),
	                 TW_SINK_E_CONFIG);
	assert_int_equal(tw_sink_redis_classify("WRONGTYPE Operation against a key holding the "
	                                        "wrong kind of value script: 1a2b"),
	                 TW_SINK_E_REJECT);
	assert_int_equal(tw_sink_redis_classify("ERR Error running script"), TW_SINK_E_REJECT);
	assert_int_equal(tw_sink_redis_classify("OOMX not a code we know"), TW_SINK_E_REJECT);
}

/* ==== InfluxDB ==== */

static void test_influx_duration(void **state)
{
	char buf[24];

	(void)state;
	assert_int_equal(tw_sink_influx_duration(MIN, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "1m");
	tw_sink_influx_duration(90 * INT64_C(1000000000), buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	tw_sink_influx_duration(2 * 60 * MIN, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
	tw_sink_influx_duration(1500 * INT64_C(1000000), buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	tw_sink_influx_duration(500, buf, sizeof(buf));
	assert_string_equal(buf, "500ns");
	assert_int_equal(tw_sink_influx_duration(MIN, buf, 23), -1);
}

static void test_influx_window_line(void **state)
{
	struct tw_sink_schema s = schema;
	struct tw_row r = make_row();
	char err[256], tag[64];
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(tw_sink_influx_window_line(&b, &s, &r, err, sizeof(err)), 0);
	assert_string_equal(buf_str(&b),
	                    "telemetry_window,host=h1,resource=prod/sensors,site=s3,window=1m "
	                    "count=3i,temp_count=3i,temp_sum=64.5,temp_min=21,temp_max=22,"
	                    "temp_mean=21.5,temp_p50=21.5,temp_p95=22,temp_p99=22,load_count=0i,"
	                    "load_sum=0 1795410000000000000\n");

	/* Key fields named like our own tags are renamed; an empty key part
	 * is no tag; aggregates not asked for are left out. */
	s.key_names[0] = "resource";
	s.key_names[1] = "window";
	s.aggregations = TW_AGG_COUNT | TW_AGG_MEAN;
	memcpy(r.key, "a b\x1f", 4);
	r.key_len = 4;
	buf_reset(&b);
	assert_int_equal(tw_sink_influx_window_line(&b, &s, &r, err, sizeof(err)), 0);
	assert_string_equal(buf_str(&b),
	                    "telemetry_window,key_resource=a\\ b,resource=prod/sensors,"
	                    "window=1m count=3i,temp_count=3i,temp_mean=21.5,"
	                    "load_count=0i 1795410000000000000\n");
	assert_string_equal(tw_sink_influx_key_tag("window", tag, sizeof(tag)), "key_window");
	assert_string_equal(tw_sink_influx_key_tag("host", tag, sizeof(tag)), "host");

	/* What line protocol cannot carry is refused, the buffer untouched. */
	memcpy(r.key, "a\\\x1fs3", 5);
	r.key_len = 5;
	buf_reset(&b);
	assert_int_equal(tw_sink_influx_window_line(&b, &s, &r, err, sizeof(err)), LP_E_INVALID);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_influx_event_line(void **state)
{
	struct tw_event ev;
	char err[256];
	struct buf b;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = T0 + 123;
	memcpy(ev.key, "h1\x1fs3", 5);
	ev.key_len = 5;
	ev.present = 2;
	ev.values[0] = 99;
	ev.values[1] = 0.25;
	buf_init(&b, 1 << 16);
	assert_int_equal(tw_sink_influx_event_line(&b, &schema, &ev, err, sizeof(err)), 0);
	assert_string_equal(buf_str(&b), "telemetry_raw,host=h1,resource=prod/sensors,site=s3 "
	                                 "load=0.25 1795410000000000123\n");
	ev.present = 0;
	buf_reset(&b);
	assert_int_equal(tw_sink_influx_event_line(&b, &schema, &ev, err, sizeof(err)), 1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* ==== tw_sinks_new ==== */

static const char doc_head[] =
    "{\"name\":\"sensors\",\"namespace\":\"prod\",\"spec\":{"
    "\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"t\"},"
    "\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"%s\"],\"values\":[\"temp\"]},"
    "\"window\":{\"size\":\"60s\"}%s}}";

static void load_spec(struct tw_spec *spec, const char *key, const char *sinks)
{
	char text[2048], err[256];
	cJSON *doc;

	snprintf(text, sizeof(text), doc_head, key, sinks);
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	if (tw_spec_parse_document(doc, spec, err, sizeof(err)) != 0)
		fail_msg("spec: %s", err);
	cJSON_Delete(doc);
}

static void test_sinks_new(void **state)
{
	struct tw_spec spec;
	struct tw_sink **sinks;
	size_t n = 99;
	char err[256];

	(void)state;
	load_spec(&spec, "host", "");
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	tw_sinks_free(sinks, n);
	tw_spec_free(&spec);

	/* All three, in order; nothing connects yet. */
	setenv("SLUICE_SECRET_PG_CREDS_DSN", "host=127.0.0.1 port=1 dbname=x", 1);
	setenv("SLUICE_SECRET_INFLUX_TOKEN", "u:p", 1);
	load_spec(&spec, "host",
	          ",\"sinks\":{\"influxdb\":{\"url\":\"http://127.0.0.1:1\",\"database\":\"d\","
	          "\"api\":\"v2\",\"org\":\"o\",\"token\":{\"name\":\"influx\",\"key\":\"token\"}},"
	          "\"postgres\":{\"dsn\":{\"name\":\"pg-creds\",\"key\":\"dsn\"}},"
	          "\"redis\":{\"addr\":\"[::1]:6379\"}}");
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(tw_sink_name(sinks[0]), "postgres");
	assert_string_equal(tw_sink_name(sinks[1]), "redis");
	assert_string_equal(tw_sink_name(sinks[2]), "influxdb");
	assert_int_equal(tw_sink_retry_after_ms(sinks[2]), 0);
	assert_int_equal(tw_sink_trim(sinks[1], 0, err, sizeof(err)), 0); /* Redis: TTL */
	/* InfluxDB without retention.maxAge: nothing to delete, nothing sent. */
	assert_int_equal(tw_sink_trim(sinks[2], INT64_C(1800000000000000000), err, sizeof(err)), 0);
	tw_sinks_free(sinks, n);
	tw_spec_free(&spec);

	/* With it, the running worker's trim deletes through the client: a
	 * server that is away is a retry (the next trim tries again). */
	load_spec(&spec, "host",
	          ",\"sinks\":{\"influxdb\":{\"url\":\"http://127.0.0.1:1\",\"database\":\"d\"}},"
	          "\"retention\":{\"maxAge\":\"1h\"}");
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tw_sink_trim(sinks[0], INT64_C(1800000000000000000), err, sizeof(err)),
	                 TW_SINK_E_RETRY);
	assert_non_null(strstr(err, "influxdb: POST http://127.0.0.1:1/query?db=d: "));
	tw_sinks_free(sinks, n);
	tw_spec_free(&spec);
	load_spec(&spec, "host",
	          ",\"sinks\":{\"influxdb\":{\"url\":\"http://127.0.0.1:1\",\"database\":\"d\","
	          "\"api\":\"v2\",\"org\":\"o\",\"token\":{\"name\":\"influx\",\"key\":\"token\"}},"
	          "\"postgres\":{\"dsn\":{\"name\":\"pg-creds\",\"key\":\"dsn\"}},"
	          "\"redis\":{\"addr\":\"[::1]:6379\"}}");

	/* A secret that is not in the environment. */
	unsetenv("SLUICE_SECRET_PG_CREDS_DSN");
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_string_equal(err, "spec.sinks.postgres.dsn: environment variable "
	                         "SLUICE_SECRET_PG_CREDS_DSN is not set (Secret \"pg-creds\", key "
	                         "\"dsn\")");
	assert_null(sinks);
	assert_int_equal(n, 0);

	/* A DSN libpq cannot read. */
	setenv("SLUICE_SECRET_PG_CREDS_DSN", "host=x port", 1);
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_non_null(strstr(err, "spec.sinks.postgres.dsn: "));
	unsetenv("SLUICE_SECRET_PG_CREDS_DSN");
	unsetenv("SLUICE_SECRET_INFLUX_TOKEN");
	tw_spec_free(&spec);

	/* A key InfluxDB cannot name. */
	load_spec(&spec, "_host",
	          ",\"sinks\":{\"influxdb\":{\"url\":\"http://127.0.0.1:1\",\"database\":\"d\"}}");
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_string_equal(err, "spec.fields.keys[0]: \"_host\" starts with '_', which InfluxDB "
	                         "reserves: the influxdb sink cannot write it");
	tw_spec_free(&spec);
}

/* A failed write shows in the metrics (the server: a closed port). */
static void test_sinks_metrics(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct tw_row row = make_row();
	struct tw_batch batch = {&row, 1, NULL, 0};
	struct tw_spec spec;
	struct tw_sink **sinks;
	size_t n, len;
	char err[512], *text;

	(void)state;
	assert_non_null(reg);
	assert_int_equal(tw_sinks_set_metrics(reg), 0);
	assert_int_equal(tw_sinks_set_metrics(reg), 0); /* the same registry: no-op */
	load_spec(&spec, "host", ",\"sinks\":{\"redis\":{\"addr\":\"127.0.0.1:1\"}}");
	assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)), 0);
	row.nvalues = 1;
	assert_int_equal(tw_sink_write(sinks[0], &batch, err, sizeof(err)), TW_SINK_E_RETRY);
	assert_non_null(strstr(err, "redis: connect: "));
	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(strstr(text, "sluice_tw_sink_write_seconds_count{sink=\"redis\"} 1\n"));
	assert_non_null(strstr(text, "sluice_tw_sink_errors_total{sink=\"redis\",op=\"write\","
	                             "result=\"retry\"} 1\n"));
	free(text);
	tw_sinks_free(sinks, n);
	tw_spec_free(&spec);
	assert_int_equal(tw_sinks_set_metrics(NULL), 0);
	metrics_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secret_env),        cmocka_unit_test(test_key_split),
	    cmocka_unit_test(test_pg_insert_sql),     cmocka_unit_test(test_pg_key_array),
	    cmocka_unit_test(test_pg_format),         cmocka_unit_test(test_pg_classify),
	    cmocka_unit_test(test_redis_member),      cmocka_unit_test(test_redis_row_cmd),
	    cmocka_unit_test(test_redis_row_cmd_max), cmocka_unit_test(test_redis_classify),
	    cmocka_unit_test(test_influx_duration),   cmocka_unit_test(test_influx_window_line),
	    cmocka_unit_test(test_influx_event_line), cmocka_unit_test(test_sinks_new),
	    cmocka_unit_test(test_sinks_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
