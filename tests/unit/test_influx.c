/* Unit tests for the store's InfluxDB parts (workers/store/influx.c,
 * influx_client.c, influx_delete.c): the answer table (status and body),
 * Retry-After, the write, query and CREATE DATABASE texts, the 413 split,
 * the retention delete (cutoff, request of each API, its answers), and the client
 * against what needs no server (a closed port, a URL curl refuses). The
 * client against a real InfluxDB and a fake one (413, 429, 401) is
 * tests/integration/tw_sinks_it.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "influx.h"
#include "influx_client.h"
#include "influx_delete.h"
#include "log.h"

#define V1 1
#define V2 2

static void test_influx_classify(void **state)
{
	static const struct {
		int api;
		long status;
		const char *body;
		enum influx_action want;
	} cases[] = {
	    {V1, 204, NULL, INFLUX_ACT_OK},
	    {V2, 204, "", INFLUX_ACT_OK},
	    {V2, 200, NULL, INFLUX_ACT_OK},
	    {V2, 201, NULL, INFLUX_ACT_OK},
	    {V2, 202, NULL, INFLUX_ACT_OK},
	    {V2, 207, NULL, INFLUX_ACT_OK},
	    {V1, 400, "{\"error\":\"unable to parse 'x': missing fields\"}", INFLUX_ACT_REJECT},
	    {V1, 400,
	     "{\"error\":\"partial write: field type conflict: input field \\\"count\\\" on "
	     "measurement \\\"m\\\" is type integer, already exists as type string dropped=1\"}",
	     INFLUX_ACT_REJECT},
	    {V2, 400, NULL, INFLUX_ACT_REJECT},
	    {V2, 422,
	     "{\"code\":\"unprocessable entity\",\"message\":\"partial write: "
	     "dropped 4 points outside retention policy\"}",
	     INFLUX_ACT_REJECT},
	    {V2, 406, NULL, INFLUX_ACT_REJECT},
	    {V2, 404, "{\"message\":\"bucket \\\"b\\\" not found\"}", INFLUX_ACT_REJECT},
	    {V1, 404, "{\"error\":\"database not found: \\\"x\\\"\"}", INFLUX_ACT_CREATE_DB},
	    {V2, 404, "{\"error\":\"database not found: \\\"x\\\"\"}", INFLUX_ACT_REJECT},
	    {V1, 500, "{\"error\":\"database not found: \\\"x\\\"\"}", INFLUX_ACT_CREATE_DB},
	    {V1, 413, NULL, INFLUX_ACT_SPLIT},
	    {V2, 413, "{\"code\":\"request too large\"}", INFLUX_ACT_SPLIT},
	    {V1, 401, NULL, INFLUX_ACT_AUTH},
	    {V2, 403, NULL, INFLUX_ACT_AUTH},
	    {V2, 429, NULL, INFLUX_ACT_RETRY},
	    {V1, 429, NULL, INFLUX_ACT_RETRY},
	    {V2, 502, NULL, INFLUX_ACT_RETRY},
	    {V2, 503, "{\"message\":\"partial write\"}", INFLUX_ACT_RETRY},
	    {V2, 504, NULL, INFLUX_ACT_RETRY},
	    {V1, 500, "{\"error\":\"timeout\"}", INFLUX_ACT_RETRY},
	    {V2, 500, NULL, INFLUX_ACT_RETRY},
	    {V1, 500,
	     "{\"error\":\"partial write: points beyond retention policy "
	     "dropped=2\"}",
	     INFLUX_ACT_REJECT},
	    {V1, 500, "{\"error\":\"points beyond retention policy\"}", INFLUX_ACT_REJECT},
	    {V1, 500, "{\"error\":\"unable to parse\"}", INFLUX_ACT_REJECT},
	    {V1, 500, "{\"error\":\"retention policy not found: x\"}", INFLUX_ACT_REJECT},
	    {V1, 500, "{\"error\":\"write failed: hinted handoff queue not empty\"}",
	     INFLUX_ACT_OK},
	    {V1, 301, NULL, INFLUX_ACT_RETRY},
	    {V1, 0, NULL, INFLUX_ACT_RETRY},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum influx_action got =
		    influx_classify(cases[i].api, cases[i].status, cases[i].body);

		if (got != cases[i].want)
			fail_msg("case %zu: v%d %ld %s: got %d want %d", i, (int)cases[i].api,
			         cases[i].status, cases[i].body ? cases[i].body : "(no body)", got,
			         cases[i].want);
	}
}

static void test_influx_retry_after(void **state)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT */
	const time_t date = 1445412480;

	(void)state;
	assert_int_equal(influx_retry_after(NULL, 0), 0);
	assert_int_equal(influx_retry_after("120", 0), 120000);
	assert_int_equal(influx_retry_after(" 7 ", 0), 7000);
	assert_int_equal(influx_retry_after("1.5", 0), 1500);
	assert_int_equal(influx_retry_after("0", 0), 0);
	assert_int_equal(influx_retry_after("600", 0), 600000);
	assert_int_equal(influx_retry_after("601", 0), INFLUX_RETRY_AFTER_MAX_MS);
	assert_int_equal(influx_retry_after("1e300", 0), INFLUX_RETRY_AFTER_MAX_MS);
	assert_int_equal(influx_retry_after("soon", 0), INFLUX_RETRY_AFTER_BAD_MS);
	assert_int_equal(influx_retry_after("5s", 0), INFLUX_RETRY_AFTER_BAD_MS);
	assert_int_equal(influx_retry_after("-5", 0), INFLUX_RETRY_AFTER_BAD_MS);
	assert_int_equal(influx_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 30), 30000);
	assert_int_equal(influx_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + 5), 0);
	assert_int_equal(influx_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 3600),
	                 INFLUX_RETRY_AFTER_MAX_MS);
}

static void test_influx_write_url(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(influx_write_url(&b, V1, "http://influx:8086", "sluice", NULL), 0);
	assert_string_equal(b.data, "http://influx:8086/write?db=sluice&precision=ns");
	buf_reset(&b);
	assert_int_equal(influx_write_url(&b, V1, "https://h/base//", "my db&x", "ignored"), 0);
	assert_string_equal(b.data, "https://h/base/write?db=my%20db%26x&precision=ns");
	buf_reset(&b);
	assert_int_equal(influx_write_url(&b, V2, "http://h:8086/", "sluice/autogen", "Acme Inc"),
	                 0);
	assert_string_equal(
	    b.data,
	    "http://h:8086/api/v2/write?org=Acme%20Inc&bucket=sluice%2Fautogen&precision=ns");
	buf_reset(&b);
	assert_int_equal(influx_write_url(&b, V2, "http://h", "b", NULL), 0);
	assert_string_equal(b.data, "http://h/api/v2/write?bucket=b&precision=ns");
	buf_free(&b);
}

static void test_influx_split_point(void **state)
{
	(void)state;
	assert_int_equal(influx_split_point("", 0), 0);
	assert_int_equal(influx_split_point("a\n", 2), 0);
	assert_int_equal(influx_split_point("a\nb\n", 4), 2);
	assert_int_equal(influx_split_point("a\nb\nc\n", 6), 2);
	assert_int_equal(influx_split_point("a\nb\nc\nd\n", 8), 4);
	assert_int_equal(influx_split_point("a\nbb\nccc\ndddd\neeeee\n", 20), 5);
	assert_int_equal(influx_split_point("a\nb", 3), 2); /* no final newline */
}

/* A fake server: answers 413 to a body over max_lines lines, RETRY at the
 * retry_at-th request, REJECT for a body holding reject_line; records the
 * bodies it accepted. */
struct fake {
	size_t max_lines;
	int retry_at, reject_line;
	int calls;
	char accepted[64][64];
	int naccepted;
};

static int fake_post(void *ctx, const char *data, size_t len, char *errbuf, size_t errbuf_size)
{
	struct fake *f = ctx;
	size_t lines = 0;
	char body[64];

	f->calls++;
	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	if (f->retry_at == f->calls)
		return err_set(errbuf, errbuf_size, INFLUX_RETRY, "503 at call %d", f->calls);
	if (lines > f->max_lines)
		return INFLUX_TOO_LARGE;
	snprintf(body, sizeof(body), "%.*s", (int)len, data);
	if (f->reject_line > 0) {
		char needle[16];

		snprintf(needle, sizeof(needle), "%d\n", f->reject_line);
		if (strstr(body, needle) != NULL)
			return err_set(errbuf, errbuf_size, INFLUX_REJECT, "400 with %d",
			               f->reject_line);
	}
	snprintf(f->accepted[f->naccepted++], sizeof(f->accepted[0]), "%s", body);
	return INFLUX_OK;
}

static void test_influx_post_split(void **state)
{
	static const char lines[] = "1\n2\n3\n4\n5\n6\n7\n";
	struct fake f;
	char err[128];

	(void)state;
	/* Taken whole. */
	memset(&f, 0, sizeof(f));
	f.max_lines = 100;
	assert_int_equal(influx_post_split(lines, 14, fake_post, &f, err, sizeof(err)), 0);
	assert_int_equal(f.calls, 1);

	/* 7 lines, at most 2 per request: 7 -> 3 + 4 -> (1 + 2) + (2 + 2), in
	 * order, every line once. */
	memset(&f, 0, sizeof(f));
	f.max_lines = 2;
	assert_int_equal(influx_post_split(lines, 14, fake_post, &f, err, sizeof(err)), 0);
	assert_int_equal(f.naccepted, 4);
	assert_string_equal(f.accepted[0], "1\n");
	assert_string_equal(f.accepted[1], "2\n3\n");
	assert_string_equal(f.accepted[2], "4\n5\n");
	assert_string_equal(f.accepted[3], "6\n7\n");
	assert_int_equal(f.calls, 7); /* 7, 3, 1, 2, 4, 2, 2 */

	/* A single line still too large is a REJECT. */
	memset(&f, 0, sizeof(f));
	f.max_lines = 0;
	assert_int_equal(influx_post_split("1\n2\n", 4, fake_post, &f, err, sizeof(err)),
	                 INFLUX_REJECT);
	assert_non_null(strstr(err, "413"));

	/* A rejected half does not stop the other; the first reason is kept. */
	memset(&f, 0, sizeof(f));
	f.max_lines = 2;
	f.reject_line = 3;
	assert_int_equal(influx_post_split(lines, 14, fake_post, &f, err, sizeof(err)),
	                 INFLUX_REJECT);
	assert_string_equal(err, "400 with 3");
	assert_int_equal(f.naccepted, 3); /* 1, 4-5, 6-7 */

	/* RETRY stops at once: nothing after it is sent. */
	memset(&f, 0, sizeof(f));
	f.max_lines = 2;
	f.retry_at = 3; /* 7 (413), 3 (413), 1 (503) */
	assert_int_equal(influx_post_split(lines, 14, fake_post, &f, err, sizeof(err)),
	                 INFLUX_RETRY);
	assert_int_equal(f.calls, 3);
	assert_string_equal(err, "503 at call 3");

	/* RETRY after a REJECT wins, with its own reason. */
	memset(&f, 0, sizeof(f));
	f.max_lines = 2;
	f.reject_line = 1;
	f.retry_at = 5; /* 7, 3, 1 (400), 2-3, 4-7 (503) */
	assert_int_equal(influx_post_split(lines, 14, fake_post, &f, err, sizeof(err)),
	                 INFLUX_RETRY);
	assert_string_equal(err, "503 at call 5");
}

/* AUTH and CONFIG stop the split as RETRY does: the other halves would be
 * refused the same way. */
static int refusing_post(void *ctx, const char *data, size_t len, char *errbuf, size_t errbuf_size)
{
	int *calls = ctx;

	(void)data;
	++*calls;
	if (len > 2)
		return INFLUX_TOO_LARGE;
	return err_set(errbuf, errbuf_size, *calls == 3 ? INFLUX_AUTH : INFLUX_CONFIG,
	               "refused at call %d", *calls);
}

static void test_influx_post_split_stops(void **state)
{
	char err[128];
	int calls = 0;

	(void)state;
	/* 3 lines (413), 1 line (AUTH): the second half is never sent. */
	assert_int_equal(influx_post_split("1\n2\n3\n", 6, refusing_post, &calls, err, sizeof(err)),
	                 INFLUX_CONFIG);
	assert_int_equal(calls, 2);
	assert_string_equal(err, "refused at call 2");
	calls = 1;
	assert_int_equal(influx_post_split("1\n2\n3\n", 6, refusing_post, &calls, err, sizeof(err)),
	                 INFLUX_AUTH);
	assert_int_equal(calls, 3);
}

static void test_influx_query_and_create(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(influx_query_url(&b, "http://h:8086/base//"), 0);
	assert_string_equal(b.data, "http://h:8086/base/query");
	buf_reset(&b);
	assert_int_equal(influx_create_db_body(&b, "my db"), 0);
	assert_string_equal(b.data, "q=CREATE%20DATABASE%20%22my%20db%22");
	buf_free(&b);
}

/* ==== Retention deletes ==== */

/* 2027-01-15T08:00:00Z */
#define NOW_NS (INT64_C(1800000000) * 1000000000)
#define MIN_NS (INT64_C(60) * 1000000000)

/* A form value percent-decoded (the v1 body after "q="). */
static char *form_decoded(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	assert_non_null(out);
	for (; *s != '\0'; s++) {
		unsigned v;

		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static struct influx_delete_in delete_in(int api)
{
	return (struct influx_delete_in){
	    .api = api,
	    .url = "http://h:8086/",
	    .db = "tele metry",
	    .org = api == V2 ? "my org" : NULL,
	    .measurement = "telemetry_window",
	    .tag_key = "resource",
	    .tag_value = "prod/sensors",
	    .now_ns = NOW_NS,
	    .max_age_ns = 10 * MIN_NS,
	    .span_ns = MIN_NS,
	};
}

/* v1: InfluxQL DELETE over /query, the cutoff less the window's span. */
static void test_influx_delete_plan_v1(void **state)
{
	struct influx_delete_in in = delete_in(V1);
	struct buf url, body;
	struct influx_delete_req req = {.url = &url, .body = &body};
	char *q;

	(void)state;
	buf_init(&url, 4096);
	buf_init(&body, 4096);
	assert_int_equal(influx_delete_plan(&in, &req), 0);
	assert_true(req.cutoff_ns == NOW_NS - 11 * MIN_NS);
	assert_string_equal(url.data, "http://h:8086/query?db=tele%20metry");
	assert_string_equal(req.content_type, "application/x-www-form-urlencoded");
	assert_memory_equal(body.data, "q=", 2);
	assert_null(strchr(body.data, ' ')); /* encoded */
	q = form_decoded(body.data + 2);
	assert_string_equal(q, "DELETE FROM \"telemetry_window\" WHERE \"resource\" = "
	                       "'prod/sensors' AND time < '2027-01-15T07:49:00Z'");
	free(q);

	/* A raw point (no span), a fraction of a second, quotes escaped, no tag. */
	buf_reset(&url);
	buf_reset(&body);
	in.span_ns = 0;
	in.now_ns = NOW_NS + 500;
	in.tag_value = "it's\\x";
	in.measurement = "m\"1";
	assert_int_equal(influx_delete_plan(&in, &req), 0);
	q = form_decoded(body.data + 2);
	assert_string_equal(q, "DELETE FROM \"m\\\"1\" WHERE \"resource\" = 'it\\'s\\\\x' AND "
	                       "time < '2027-01-15T07:50:00.000000500Z'");
	free(q);
	buf_reset(&url);
	buf_reset(&body);
	in.tag_key = NULL;
	assert_int_equal(influx_delete_plan(&in, &req), 0);
	q = form_decoded(body.data + 2);
	assert_string_equal(q,
	                    "DELETE FROM \"m\\\"1\" WHERE time < '2027-01-15T07:50:00.000000500Z'");
	free(q);
	buf_free(&url);
	buf_free(&body);
}

/* v2: /api/v2/delete with a JSON body; stop is inclusive, so a ns less. */
static void test_influx_delete_plan_v2(void **state)
{
	struct influx_delete_in in = delete_in(V2);
	struct buf url, body;
	struct influx_delete_req req = {.url = &url, .body = &body};

	(void)state;
	buf_init(&url, 4096);
	buf_init(&body, 4096);
	assert_int_equal(influx_delete_plan(&in, &req), 0);
	assert_true(req.cutoff_ns == NOW_NS - 11 * MIN_NS);
	assert_string_equal(url.data,
	                    "http://h:8086/api/v2/delete?org=my%20org&bucket=tele%20metry");
	assert_string_equal(req.content_type, "application/json");
	assert_string_equal(body.data, "{\"start\":\"1677-09-21T00:12:43.145224194Z\","
	                               "\"stop\":\"2027-01-15T07:48:59.999999999Z\","
	                               "\"predicate\":\"_measurement=\\\"telemetry_window\\\" AND "
	                               "resource=\\\"prod/sensors\\\"\"}");

	/* No org; a quote in the value escaped for the predicate, then JSON. */
	buf_reset(&url);
	buf_reset(&body);
	in.org = NULL;
	in.tag_value = "a\"b";
	in.span_ns = 0;
	assert_int_equal(influx_delete_plan(&in, &req), 0);
	assert_string_equal(url.data, "http://h:8086/api/v2/delete?bucket=tele%20metry");
	assert_string_equal(body.data, "{\"start\":\"1677-09-21T00:12:43.145224194Z\","
	                               "\"stop\":\"2027-01-15T07:49:59.999999999Z\","
	                               "\"predicate\":\"_measurement=\\\"telemetry_window\\\" AND "
	                               "resource=\\\"a\\\\\\\"b\\\"\"}");
	buf_free(&url);
	buf_free(&body);
}

/* Nothing to delete, refusals, a full buffer. */
static void test_influx_delete_plan_edges(void **state)
{
	static const struct {
		int api;
		const char *measurement, *tag_key, *tag_value;
		int64_t now_ns, max_age_ns, span_ns;
		int want;
	} cases[] = {
	    {V1, "m", "resource", "a/b", NOW_NS, 0, 0, 1},        /* no age limit */
	    {V2, "m", "resource", "a/b", NOW_NS, -1, 0, 1},       /* no age limit */
	    {V1, "m", "resource", "a/b", NOW_NS, 1, -1, 1},       /* a bad span */
	    {V1, "m", "resource", "a/b", INT64_MIN + 5, 3, 0, 1}, /* before InfluxDB's time */
	    {V1, "m", "resource", "a/b", INT64_MIN + 5, 2, 0, 0}, /* the earliest cutoff */
	    {V1, "m", "resource", "a/b", INT64_MIN + 5, 1, INT64_MAX, 1}, /* overflow */
	    {V1, "m", "resource", "a/b", -NOW_NS, MIN_NS, 0, 0},          /* before 1970 */
	    {V1, "m", "resource", "a/b", NOW_NS, 1, 0, 0},
	    {3, "m", "resource", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {0, "m", "resource", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V1, NULL, "resource", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V1, "", "resource", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V1, "m\n", "resource", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V2, "m", "res ource", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V2, "m", "", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V2, "m", "res\"", "a/b", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V1, "m", "resource", NULL, NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V1, "m", "resource", "a\nb", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V2, "m", "resource", "a\tb", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	    {V2, "m", "resource", "a\x7f", NOW_NS, 1, 0, INFLUX_DELETE_E_INVALID},
	};
	struct buf url, body;

	(void)state;
	buf_init(&url, 4096);
	buf_init(&body, 4096);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct influx_delete_in in = delete_in(cases[i].api);
		struct influx_delete_req req = {.url = &url, .body = &body};
		int rc;

		buf_reset(&url);
		buf_reset(&body);
		in.measurement = cases[i].measurement;
		in.tag_key = cases[i].tag_key;
		in.tag_value = cases[i].tag_value;
		in.now_ns = cases[i].now_ns;
		in.max_age_ns = cases[i].max_age_ns;
		in.span_ns = cases[i].span_ns;
		rc = influx_delete_plan(&in, &req);
		if (rc != cases[i].want)
			fail_msg("case %zu: %d, want %d", i, rc, cases[i].want);
		if (rc != 0)
			assert_int_equal(url.len + body.len, 0); /* untouched */
		else
			assert_true(req.cutoff_ns ==
			            cases[i].now_ns - cases[i].max_age_ns - cases[i].span_ns);
	}
	/* The earliest cutoff is written as v2's start is. */
	{
		struct influx_delete_in in = delete_in(V1);
		struct influx_delete_req req = {.url = &url, .body = &body};
		char *q;

		buf_reset(&url);
		buf_reset(&body);
		in.now_ns = INT64_MIN + 5;
		in.max_age_ns = 2;
		in.span_ns = 0;
		assert_int_equal(influx_delete_plan(&in, &req), 0);
		q = form_decoded(body.data + 2);
		assert_non_null(strstr(q, "time < '1677-09-21T00:12:43.145224195Z'"));
		free(q);
	}
	buf_free(&url);
	buf_free(&body);

	/* A buffer too small is BUF_E_FULL, for both. */
	for (int api = V1; api <= V2; api++) {
		struct influx_delete_in in = delete_in(api);
		struct influx_delete_req req = {.url = &url, .body = &body};

		buf_init(&url, 4096);
		buf_init(&body, 40);
		assert_int_equal(influx_delete_plan(&in, &req), BUF_E_FULL);
		buf_free(&url);
		buf_free(&body);
		buf_init(&url, 10);
		buf_init(&body, 4096);
		assert_int_equal(influx_delete_plan(&in, &req), BUF_E_FULL);
		buf_free(&url);
		buf_free(&body);
	}
}

static void test_influx_delete_outcome(void **state)
{
	static const struct {
		int api;
		long status;
		const char *body;
		int want;
	} cases[] = {
	    {V1, 200, "{\"results\":[{\"statement_id\":0}]}", INFLUX_OK},
	    {V1, 200, NULL, INFLUX_OK},
	    {V1, 200, "{\"results\":[{\"statement_id\":0,\"error\":\"database not found: d\"}]}",
	     INFLUX_OK},
	    {V1, 404, "{\"error\":\"database not found: d\"}", INFLUX_OK},
	    {V1, 200,
	     "{\"results\":[{\"statement_id\":0,\"error\":\"error parsing query: found x\"}]}",
	     INFLUX_REJECT},
	    {V1, 400, "{\"error\":\"error parsing query\"}", INFLUX_REJECT},
	    {V1, 401, NULL, INFLUX_AUTH},
	    {V1, 403, "{\"error\":\"user is not authorized to delete\"}", INFLUX_AUTH},
	    {V1, 500, NULL, INFLUX_RETRY},
	    {V1, 503, NULL, INFLUX_RETRY},
	    {V2, 204, NULL, INFLUX_OK},
	    {V2, 200, "{\"error\":\"x\"}", INFLUX_OK},      /* v2's errors are statuses */
	    {V2, 404, "404 page not found", INFLUX_REJECT}, /* 1.8: no /api/v2/delete */
	    {V2, 404, "{\"code\":\"not found\",\"message\":\"bucket not found\"}", INFLUX_REJECT},
	    {V2, 400, "{\"code\":\"invalid\",\"message\":\"invalid request\"}", INFLUX_REJECT},
	    {V2, 401, NULL, INFLUX_AUTH},
	    {V2, 429, NULL, INFLUX_RETRY},
	    {V2, 502, NULL, INFLUX_RETRY},
	    {V2, 301, NULL, INFLUX_RETRY},
	    {V2, 100, NULL, INFLUX_RETRY},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = influx_delete_outcome(cases[i].api, cases[i].status, cases[i].body);

		if (got != cases[i].want)
			fail_msg("case %zu (v%d %ld): %d, want %d", i, cases[i].api,
			         cases[i].status, got, cases[i].want);
	}
}

/* The client's log lines, caught. */
static char *logged;
static size_t logged_len;
static FILE *log_file;

static void catch_logs(void)
{
	log_file = open_memstream(&logged, &logged_len);
	assert_non_null(log_file);
	log_set_output(log_file);
}

static const char *caught_logs(void)
{
	fflush(log_file);
	return logged;
}

static void release_logs(void)
{
	log_set_output(NULL);
	fclose(log_file);
	free(logged);
	logged = NULL;
}

static const struct influx_client_options closed_port = {
    .url = "http://127.0.0.1:1/",
    .api = V1,
    .db = "d b",
    .token = "s3cret-token",
    .timeout_s = 5,
    .connect_timeout_s = 2,
    .log_key = "resource",
    .log_value = "prod/sensors",
};

/* A server that is away is RETRY, named by its URL, without the token. */
static void test_influx_client_unreachable(void **state)
{
	struct influx_client *c;
	char err[512];

	(void)state;
	catch_logs();
	assert_int_equal(influx_client_open(&closed_port, &c, err, sizeof(err)), 0);
	assert_int_equal(influx_client_write(c, "m v=1i 1\n", 9, err, sizeof(err)), INFLUX_RETRY);
	assert_non_null(
	    strstr(err, "influxdb: POST http://127.0.0.1:1/write?db=d%20b&precision=ns: "));
	assert_null(strstr(err, "s3cret"));
	assert_int_equal(influx_client_retry_after_ms(c), 0);
	/* Nothing to send: nothing sent. */
	assert_int_equal(influx_client_write(c, "", 0, err, sizeof(err)), INFLUX_OK);
	/* A retention delete to a server that is away is RETRY too. */
	{
		struct influx_delete_in in = delete_in(V1);
		struct buf url, body;
		struct influx_delete_req req = {.url = &url, .body = &body};

		in.url = closed_port.url;
		buf_init(&url, 4096);
		buf_init(&body, 4096);
		assert_int_equal(influx_delete_plan(&in, &req), 0);
		assert_int_equal(influx_client_delete(c, &req, err, sizeof(err)), INFLUX_RETRY);
		assert_non_null(strstr(err, "influxdb: POST http://127.0.0.1:1/query?db="));
		assert_null(strstr(err, "s3cret"));
		buf_reset(&url);
		buf_reset(&body);
		assert_int_equal(influx_client_delete(c, &req, err, sizeof(err)), INFLUX_CONFIG);
		buf_free(&url);
		buf_free(&body);
	}
	influx_client_close(c);
	assert_non_null(strstr(caught_logs(), "influxdb request failed"));
	assert_non_null(strstr(caught_logs(), "\"resource\":\"prod/sensors\""));
	assert_null(strstr(caught_logs(), "s3cret"));
	release_logs();
	influx_client_close(NULL);
}

/* A URL curl will not use is CONFIG; one too long is refused at open. */
static void test_influx_client_config(void **state)
{
	struct influx_client_options o = closed_port;
	struct influx_client *c;
	char err[512], *url;

	(void)state;
	catch_logs();
	o.url = "gopher://127.0.0.1:1";
	o.log_key = NULL; /* named by the database */
	assert_int_equal(influx_client_open(&o, &c, err, sizeof(err)), 0);
	assert_int_equal(influx_client_write(c, "m v=1i 1\n", 9, err, sizeof(err)), INFLUX_CONFIG);
	assert_non_null(strstr(err, "influxdb: POST gopher://127.0.0.1:1/write?db="));
	influx_client_close(c);
	assert_non_null(strstr(caught_logs(), "\"database\":\"d b\""));
	release_logs();

	url = malloc(9000);
	assert_non_null(url);
	memcpy(url, "http://", 7);
	memset(url + 7, 'h', 9000 - 8);
	url[8999] = '\0';
	o.url = url;
	assert_int_equal(influx_client_open(&o, &c, err, sizeof(err)), INFLUX_CONFIG);
	assert_null(c);
	assert_string_equal(err, "influxdb: url or database too long");
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_influx_classify),
	    cmocka_unit_test(test_influx_retry_after),
	    cmocka_unit_test(test_influx_write_url),
	    cmocka_unit_test(test_influx_split_point),
	    cmocka_unit_test(test_influx_post_split),
	    cmocka_unit_test(test_influx_post_split_stops),
	    cmocka_unit_test(test_influx_query_and_create),
	    cmocka_unit_test(test_influx_delete_plan_v1),
	    cmocka_unit_test(test_influx_delete_plan_v2),
	    cmocka_unit_test(test_influx_delete_plan_edges),
	    cmocka_unit_test(test_influx_delete_outcome),
	    cmocka_unit_test(test_influx_client_unreachable),
	    cmocka_unit_test(test_influx_client_config),
	};

	return cmocka_run_group_tests_name("influx", tests, NULL, NULL);
}
