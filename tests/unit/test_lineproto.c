/* Unit tests for workers/store/lineproto.c: the capped buffer, exact lines,
 * escaping per element, every refusal and its reason, float round trips, and
 * encode -> tw_parse (line protocol) -> the same event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "lineproto.h"
#include "tw_event_lp.h"
#include "tw_parse.h"

/* ==== Buffer ==== */

static void test_buf(void **state)
{
	struct buf b;
	char big[1000];

	(void)state;
	buf_init(&b, 10);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_int_equal(buf_append(&b, "world", 5), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "helloworld", 10);
	assert_true(b.cap <= 10);
	/* past the cap: refused, buffer unchanged */
	assert_int_equal(buf_append(&b, "!", 1), LP_E_FULL);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "helloworld", 10);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_non_null(b.data);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_memory_equal(b.data, "abc", 3);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_free(&b); /* twice is fine */
	buf_free(NULL);

	/* growth well past the first allocation */
	memset(big, 'x', sizeof(big));
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 100 * sizeof(big));
	assert_true(b.cap >= b.len);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 'x');
	buf_free(&b);

	/* a zero cap takes nothing */
	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "a", 1), LP_E_FULL);
	assert_int_equal(buf_append(&b, "", 0), 0);
	buf_free(&b);
}

/* ==== Numbers ==== */

static void check_double(double v, const char *want)
{
	char buf[40];
	int n = dtoa_shortest(v, buf, sizeof(buf));

	if (n != (int)strlen(want) || strcmp(buf, want) != 0)
		fail_msg("%.17g: got %d [%s], want [%s]", v, n, buf, want);
}

static void test_format_double(void **state)
{
	char buf[40];

	(void)state;
	check_double(0.0, "0");
	check_double(-0.0, "0");
	check_double(40, "40");
	check_double(-40, "-40");
	check_double(21.5, "21.5");
	check_double(0.1, "0.1");
	check_double(0.1 + 0.2, "0.30000000000000004");
	check_double(1.0 / 3, "0.3333333333333333");
	check_double(2.0 / 3, "0.6666666666666666");
	check_double(1e15, "1000000000000000");
	check_double(9007199254740991.0, "9007199254740991");
	check_double(9007199254740992.0, "9007199254740992");
	check_double(1e300, "1e+300");
	check_double(-2.5e-300, "-2.5e-300");
	check_double(5e-324, "4.94065645841247e-324");
	check_double(DBL_MAX, "1.7976931348623157e+308");
	check_double(123456.789, "123456.789");
	assert_int_equal(dtoa_shortest(NAN, buf, sizeof(buf)), -1);
	assert_int_equal(dtoa_shortest(INFINITY, buf, sizeof(buf)), -1);
	assert_int_equal(dtoa_shortest(-INFINITY, buf, sizeof(buf)), -1);
	assert_int_equal(dtoa_shortest(1.5, buf, 31), -1);
	assert_int_equal(dtoa_shortest(1.5, buf, 32), 3);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Every finite double reads back exactly from its text. */
static void test_format_double_round_trip(void **state)
{
	uint64_t x = 88172645463325252ULL;
	char buf[40];

	(void)state;
	for (int i = 0; i < 300000; i++) {
		uint64_t bits = xorshift(&x);
		double v;

		memcpy(&v, &bits, sizeof(v));
		if (i % 3 == 0)
			v = (double)(int64_t)(bits >> 20) / 1000.0; /* "typed" values */
		if (!isfinite(v))
			continue;
		assert_true(dtoa_shortest(v, buf, sizeof(buf)) > 0);
		if (strtod(buf, NULL) != v)
			fail_msg("%a -> %s -> %a", v, buf, strtod(buf, NULL));
		assert_true(strlen(buf) <= 24);
	}
}

/* The shortest of printf's 15, 16 or 17 digits that strtod reads back:
 * what dtoa_shortest computes in integers where it can. */
static void printf_shortest(double v, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
}

/* The same text as printf's: window results (sums, means, quantiles),
 * typed values, neighbours of powers of ten and of two (where rounding
 * carries and the gap below halves), all signs. */
static void test_format_double_matches_printf(void **state)
{
	uint64_t x = 2463534242ULL;
	char got[40], want[40];

	(void)state;
	for (int i = 0; i < 600000; i++) {
		uint64_t r = xorshift(&x), bits;
		double v;

		switch (i % 5) {
		case 0:
			v = ldexp((double)(xorshift(&x) >> 11) / 9007199254740992.0 + 0.5,
			          (int)(r % 70) - 20);
			break;
		case 1:
			v = (double)(int64_t)(r >> 20) / 1000.0;
			break;
		case 2:
			v = (double)(int64_t)(r >> 30) / 28.0;
			break;
		case 3:
			v = pow(10, (int)(r % 20) - 5);
			memcpy(&bits, &v, sizeof(bits));
			bits += xorshift(&x) % 9 - 4;
			memcpy(&v, &bits, sizeof(v));
			break;
		default:
			v = ldexp(1.0, (int)(r % 70) - 20);
			memcpy(&bits, &v, sizeof(bits));
			bits += xorshift(&x) % 5 - 2;
			memcpy(&v, &bits, sizeof(v));
			break;
		}
		if (r >> 63)
			v = -v;
		if (v == floor(v))
			continue; /* integers: test_format_double */
		printf_shortest(v, want, sizeof(want));
		assert_int_equal(dtoa_shortest(v, got, sizeof(got)), (int)strlen(want));
		if (strcmp(got, want) != 0)
			fail_msg("%a: got %s, printf %s", v, got, want);
	}
}

/* ==== Points ==== */

static void check_point(const struct lp_point *pt, const char *want, int line)
{
	struct buf b;
	char err[256] = "";
	int r;

	buf_init(&b, 1 << 20);
	r = lp_append(&b, pt, err, sizeof(err));
	if (r != 0 || b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
		fail_msg("line %d: got %d [%.*s] [%s], want [%s]", line, r, (int)b.len,
		         b.data ? b.data : "", err, want);
	buf_free(&b);
}

static void check_refused(const struct lp_point *pt, const char *reason, int line)
{
	struct buf b;
	char err[256] = "";
	int r;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, "before\n", 7), 0);
	r = lp_append(&b, pt, err, sizeof(err));
	if (r != LP_E_INVALID || strcmp(err, reason) != 0)
		fail_msg("line %d: got %d [%s], want [%s]", line, r, err, reason);
	/* all or nothing */
	if (b.len != 7 || memcmp(b.data, "before\n", 7) != 0)
		fail_msg("line %d: buffer changed: [%.*s]", line, (int)b.len, b.data);
	buf_free(&b);
}

#define POINT_IS(pt, want) check_point(pt, want, __LINE__)
#define REFUSED(pt, reason) check_refused(pt, reason, __LINE__)

static struct lp_tag tag(const char *k, const char *v)
{
	struct lp_tag t = {k, v, strlen(v)};

	return t;
}

static struct lp_field ffloat(const char *k, double v)
{
	struct lp_field f = {.key = k, .type = LP_FLOAT};

	f.v.f = v;
	return f;
}

static struct lp_field fstr(const char *k, const char *s)
{
	struct lp_field f = {.key = k, .type = LP_STRING};

	f.v.s.ptr = s;
	f.v.s.len = strlen(s);
	return f;
}

static void test_point_basic(void **state)
{
	struct lp_tag tags[3] = {tag("site", "s3"), tag("device", "d-17"), tag("a", "1")};
	struct lp_field fields[6];
	struct lp_point pt = {"weather", tags, 2, fields, 2, INT64_C(1795410000123000000), 1};

	(void)state;
	fields[0] = ffloat("temp", 21.5);
	fields[1] = ffloat("hum", 40);
	POINT_IS(&pt, "weather,device=d-17,site=s3 temp=21.5,hum=40 1795410000123000000\n");
	/* the caller's tag array keeps its order */
	assert_string_equal(tags[0].key, "site");
	assert_string_equal(tags[1].key, "device");

	pt.n_tags = 3;
	POINT_IS(&pt, "weather,a=1,device=d-17,site=s3 temp=21.5,hum=40 1795410000123000000\n");

	/* every field type */
	fields[0].type = LP_INT;
	fields[0].v.i = -42;
	fields[1].type = LP_UINT;
	fields[1].v.u = UINT64_MAX;
	fields[2].key = "ok";
	fields[2].type = LP_BOOL;
	fields[2].v.b = 1;
	fields[3].key = "bad";
	fields[3].type = LP_BOOL;
	fields[3].v.b = 0;
	fields[4] = fstr("msg", "hi \"there\" C:\\x");
	fields[5] = ffloat("min", INT64_MIN);
	pt.n_tags = 0;
	pt.n_fields = 6;
	pt.has_ts = 0;
	POINT_IS(&pt, "weather temp=-42i,hum=18446744073709551615u,ok=true,bad=false,"
	              "msg=\"hi \\\"there\\\" C:\\\\x\",min=-9.223372036854776e+18\n");
	fields[0].v.i = INT64_MIN;
	pt.n_fields = 1;
	POINT_IS(&pt, "weather temp=-9223372036854775808i\n");
	/* negative and zero timestamps are written as they are */
	pt.has_ts = 1;
	pt.ts_ns = -5;
	POINT_IS(&pt, "weather temp=-9223372036854775808i -5\n");
	pt.ts_ns = 0;
	POINT_IS(&pt, "weather temp=-9223372036854775808i 0\n");
	/* an empty string field is fine */
	fields[0] = fstr("s", "");
	POINT_IS(&pt, "weather s=\"\" 0\n");
}

static void test_point_escaping(void **state)
{
	struct lp_tag tags[2];
	struct lp_field fields[1];
	struct lp_point pt = {"my meas,x=1", tags, 2, fields, 1, 7, 1};

	(void)state;
	tags[0] = tag("tag key,=", "val ue,=x");
	tags[1] = tag("b", "C:\\temp");
	fields[0] = ffloat("field key,=", 1.5);
	POINT_IS(&pt, "my\\ meas\\,x=1,b=C:\\temp,tag\\ key\\,\\==val\\ ue\\,\\=x "
	              "field\\ key\\,\\==1.5 7\n");
	/* UTF-8 and quotes pass through names unchanged */
	pt.measurement = "m\xc3\xa9t\xc3\xa9o";
	tags[0] = tag("\"q\"", "\xf0\x9f\x98\x80");
	pt.n_tags = 1;
	POINT_IS(&pt, "m\xc3\xa9t\xc3\xa9o,\"q\"=\xf0\x9f\x98\x80 field\\ key\\,\\==1.5 7\n");
	/* a tag value may start with '_' (only names are reserved) */
	tags[0] = tag("t", "_x");
	POINT_IS(&pt, "m\xc3\xa9t\xc3\xa9o,t=_x field\\ key\\,\\==1.5 7\n");
	/* '=' needs no escape in a measurement */
	pt.measurement = "a=b";
	pt.n_tags = 0;
	POINT_IS(&pt, "a=b field\\ key\\,\\==1.5 7\n");
	/* a measurement may hold '#' after its first byte */
	pt.measurement = "a#b";
	POINT_IS(&pt, "a#b field\\ key\\,\\==1.5 7\n");
}

static void test_point_refused(void **state)
{
	struct lp_tag tags[LP_TAGS_MAX + 1];
	struct lp_field fields[3];
	struct lp_point pt = {"m", tags, 0, fields, 1, 1, 1};
	static char longstr[LP_STRING_MAX + 2];

	(void)state;
	fields[0] = ffloat("f", 1);

	pt.measurement = NULL;
	REFUSED(&pt, "measurement: empty");
	pt.measurement = "";
	REFUSED(&pt, "measurement: empty");
	pt.measurement = "_m";
	REFUSED(&pt, "measurement: \"_m\" starts with '_', reserved by InfluxDB");
	pt.measurement = "#m";
	REFUSED(&pt, "measurement: \"#m\" starts with '#', a comment");
	pt.measurement = "a\nb";
	REFUSED(&pt, "measurement: \"a\\x0ab\" contains a newline");
	pt.measurement = "a\rb";
	REFUSED(&pt, "measurement: \"a\\x0db\" contains a newline");
	pt.measurement = "a\\";
	REFUSED(&pt, "measurement: \"a\\\\\" has a backslash at the end or before '\\', ',', "
	             "'=' or ' ', which line protocol cannot carry unambiguously");
	pt.measurement = "a\\ b";
	REFUSED(&pt, "measurement: \"a\\\\ b\" has a backslash at the end or before '\\', ',', "
	             "'=' or ' ', which line protocol cannot carry unambiguously");
	pt.measurement = "a\\\\b";
	REFUSED(&pt, "measurement: \"a\\\\\\\\b\" has a backslash at the end or before '\\', "
	             "',', '=' or ' ', which line protocol cannot carry unambiguously");
	pt.measurement = "m";

	pt.n_tags = 1;
	tags[0] = tag("", "v");
	REFUSED(&pt, "tag key: empty");
	tags[0].key = NULL;
	REFUSED(&pt, "tag key: empty");
	tags[0] = tag("_t", "v");
	REFUSED(&pt, "tag key: \"_t\" starts with '_', reserved by InfluxDB");
	tags[0] = tag("t\n", "v");
	REFUSED(&pt, "tag key: \"t\\x0a\" contains a newline");
	tags[0] = tag("t\\=", "v");
	REFUSED(&pt, "tag key: \"t\\\\=\" has a backslash at the end or before '\\', ',', '=' "
	             "or ' ', which line protocol cannot carry unambiguously");
	tags[0] = tag("t", "");
	REFUSED(&pt, "tag \"t\": empty");
	tags[0] = tag("t", "a\nb");
	REFUSED(&pt, "tag \"t\": \"a\\x0ab\" contains a newline");
	tags[0] = tag("t", "a\\,");
	REFUSED(&pt, "tag \"t\": \"a\\\\,\" has a backslash at the end or before '\\', ',', '=' "
	             "or ' ', which line protocol cannot carry unambiguously");
	tags[0] = tag("t", "v");
	tags[0].value = NULL;
	REFUSED(&pt, "tag \"t\": no value");
	tags[0] = tag("t", "v");
	tags[1] = tag("s", "v");
	tags[2] = tag("t", "w");
	pt.n_tags = 3;
	REFUSED(&pt, "tag \"t\" given twice");
	for (int i = 0; i <= LP_TAGS_MAX; i++)
		tags[i] = tag("k", "v");
	pt.n_tags = LP_TAGS_MAX + 1;
	REFUSED(&pt, "65 tags, more than 64");
	pt.n_tags = 0;

	pt.n_fields = 0;
	REFUSED(&pt, "no fields: a point needs at least one");
	pt.n_fields = 1;
	fields[0] = ffloat("", 1);
	REFUSED(&pt, "field key: empty");
	fields[0].key = NULL;
	REFUSED(&pt, "field key: empty");
	fields[0] = ffloat("_f", 1);
	REFUSED(&pt, "field key: \"_f\" starts with '_', reserved by InfluxDB");
	fields[0] = ffloat("f\r", 1);
	REFUSED(&pt, "field key: \"f\\x0d\" contains a newline");
	fields[0] = ffloat("f", NAN);
	REFUSED(&pt, "field \"f\": NaN is not a finite number");
	fields[0] = ffloat("f", -INFINITY);
	REFUSED(&pt, "field \"f\": infinity is not a finite number");
	fields[0] = fstr("f", "a\nb");
	REFUSED(&pt, "field \"f\": string contains a newline");
	memset(longstr, 'x', LP_STRING_MAX + 1);
	fields[0] = fstr("f", longstr);
	REFUSED(&pt, "field \"f\": string longer than 65535 bytes");
	longstr[LP_STRING_MAX] = '\0';
	fields[0] = fstr("f", longstr);
	{
		struct buf b;
		char err[128];

		buf_init(&b, 1 << 20);
		assert_int_equal(lp_append(&b, &pt, err, sizeof(err)), 0);
		assert_int_equal(b.len, strlen("m f=\"\" 1\n") + LP_STRING_MAX);
		buf_free(&b);
	}
	fields[0] = ffloat("f", 1);
	fields[0].type = (enum lp_type)42;
	REFUSED(&pt, "field \"f\": unknown type 42");
	fields[0] = ffloat("f", 1);
	fields[1] = ffloat("g", 2);
	fields[2] = ffloat("f", 3);
	pt.n_fields = 3;
	REFUSED(&pt, "field \"f\" given twice");
}

static void test_point_full(void **state)
{
	struct lp_field f = ffloat("temp", 21.5);
	struct lp_point pt = {"weather", NULL, 0, &f, 1, 1, 1};
	const char *line = "weather temp=21.5 1\n";
	size_t n = strlen(line);
	struct buf b;
	char err[128];

	(void)state;
	/* room for exactly two points */
	buf_init(&b, 2 * n);
	assert_int_equal(lp_append(&b, &pt, err, sizeof(err)), 0);
	assert_int_equal(lp_append(&b, &pt, err, sizeof(err)), 0);
	assert_int_equal(lp_append(&b, &pt, err, sizeof(err)), LP_E_FULL);
	assert_string_equal(err, "buffer full (40 bytes)");
	assert_int_equal(b.len, 2 * n);
	assert_memory_equal(b.data + n, line, n);
	/* flush, then the point fits again */
	buf_reset(&b);
	assert_int_equal(lp_append(&b, &pt, err, sizeof(err)), 0);
	assert_memory_equal(b.data, line, n);
	buf_free(&b);
	/* one byte short of one point: nothing of it stays */
	buf_init(&b, n - 1);
	assert_int_equal(lp_append(&b, &pt, NULL, 0), LP_E_FULL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* ==== Events ==== */

static struct tw_event make_event(const char *key, size_t key_len)
{
	struct tw_event ev;

	memset(&ev, 0, sizeof(ev));
	memcpy(ev.key, key, key_len);
	ev.key_len = key_len;
	ev.ts_ns = INT64_C(1795410000123000000);
	return ev;
}

static void test_append_event(void **state)
{
	static const char *const keys[] = {"site", "device"};
	static const char *const values[] = {"temp", "hum", "press"};
	struct tw_event ev = make_event("s3\x1f"
	                                "d 17",
	                                7);
	struct buf b;
	char err[256];

	(void)state;
	buf_init(&b, 4096);
	ev.values[0] = 21.5;
	ev.values[1] = 40;
	ev.values[2] = 1013.25;
	ev.present = 5; /* temp, press */
	assert_int_equal(
	    tw_lp_append_event(&b, "weather", keys, 2, values, 3, &ev, err, sizeof(err)), 0);
	assert_int_equal(b.len, strlen("weather,device=d\\ 17,site=s3 temp=21.5,press=1013.25 "
	                               "1795410000123000000\n"));
	assert_memory_equal(b.data,
	                    "weather,device=d\\ 17,site=s3 temp=21.5,press=1013.25 "
	                    "1795410000123000000\n",
	                    b.len);
	buf_reset(&b);

	/* no present value: no point */
	ev.present = 0;
	assert_int_equal(
	    tw_lp_append_event(&b, "weather", keys, 2, values, 3, &ev, err, sizeof(err)),
	    LP_E_INVALID);
	assert_string_equal(err, "no fields: a point needs at least one");
	ev.present = 1;

	/* the key must have as many parts as there are names */
	assert_int_equal(
	    tw_lp_append_event(&b, "weather", keys, 1, values, 3, &ev, err, sizeof(err)),
	    LP_E_INVALID);
	assert_string_equal(err, "event key has more than 1 parts");
	ev = make_event("s3", 2);
	ev.present = 1;
	assert_int_equal(
	    tw_lp_append_event(&b, "weather", keys, 2, values, 3, &ev, err, sizeof(err)),
	    LP_E_INVALID);
	assert_string_equal(err, "event key has 1 parts, expected 2");
	/* an empty key part is an empty tag value: refused */
	ev = make_event("s3\x1f", 3);
	ev.present = 1;
	assert_int_equal(
	    tw_lp_append_event(&b, "weather", keys, 2, values, 3, &ev, err, sizeof(err)),
	    LP_E_INVALID);
	assert_string_equal(err, "tag \"device\": empty");
	/* no key fields: one series, no tags */
	ev = make_event("", 0);
	ev.present = 2;
	ev.values[1] = 3;
	assert_int_equal(tw_lp_append_event(&b, "w", NULL, 0, values, 3, &ev, err, sizeof(err)), 0);
	assert_memory_equal(b.data, "w hum=3 1795410000123000000\n", b.len);
	ev = make_event("x", 1);
	ev.present = 1;
	assert_int_equal(tw_lp_append_event(&b, "w", NULL, 0, values, 3, &ev, err, sizeof(err)),
	                 LP_E_INVALID);
	assert_string_equal(err, "event has a key but no key names were given");
	ev.key_len = TW_KEY_MAX + 1;
	assert_int_equal(tw_lp_append_event(&b, "w", keys, 2, values, 3, &ev, err, sizeof(err)),
	                 LP_E_INVALID);
	assert_string_equal(err, "event key longer than 256 bytes");
	assert_int_equal(
	    tw_lp_append_event(&b, "w", keys, TW_KEY_MAX + 1, values, 3, &ev, err, sizeof(err)),
	    LP_E_INVALID);
	assert_string_equal(err, "too many keys or values");
	buf_free(&b);
}

/* ==== Round trip: encode, parse back with tw_parse ==== */

static struct tw_parser *lp_parser(const char *const *keys, size_t n_keys,
                                   const char *const *values, size_t n_values)
{
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_LP,
	    .key_fields = keys,
	    .n_key_fields = n_keys,
	    .value_fields = values,
	    .n_value_fields = n_values,
	};
	char err[256];
	struct tw_parser *p = tw_parser_new(&spec, err, sizeof(err));

	if (p == NULL)
		fail_msg("tw_parser_new: %s", err);
	return p;
}

static void round_trip(struct tw_parser *p, const char *const *keys, size_t n_keys,
                       const char *const *values, size_t n_values, const struct tw_event *ev)
{
	struct buf b;
	struct tw_event back;
	char err[256], *copy;
	int r;

	buf_init(&b, 1 << 16);
	r = tw_lp_append_event(&b, "m", keys, n_keys, values, n_values, ev, err, sizeof(err));
	if (r != 0)
		fail_msg("append: %s", err);
	copy = malloc(b.len); /* not NUL-terminated, like a Kafka payload */
	assert_non_null(copy);
	memcpy(copy, b.data, b.len);
	r = tw_parser_parse(p, copy, b.len, &back, err, sizeof(err));
	if (r != 0)
		fail_msg("parse [%.*s]: %s", (int)b.len, b.data, err);
	assert_int_equal(back.ts_ns, ev->ts_ns);
	assert_int_equal(back.key_len, ev->key_len);
	assert_memory_equal(back.key, ev->key, ev->key_len);
	assert_int_equal(back.present, ev->present);
	for (size_t i = 0; i < n_values; i++) {
		if (!(ev->present & (1u << i)))
			continue;
		/* bit for bit, -0 aside (written as 0) */
		if (back.values[i] != ev->values[i])
			fail_msg("value %zu: %a -> [%.*s] -> %a", i, ev->values[i], (int)b.len,
			         b.data, back.values[i]);
	}
	free(copy);
	buf_free(&b);
}

static void test_round_trip(void **state)
{
	static const char *const keys[] = {"site", "dev ice", "x,y=z"};
	static const char *const values[] = {"temp", "hum", "a b", "c,d", "e=f", "g\"h"};
	static const char *const tag_values[] = {
	    "s3",         "d 17", "a,b",  "a=b",     "C:\\temp", "\xc3\xa9t\xc3\xa9",
	    "\"quoted\"", "#1",   "x\\y", "a\\b\\c",
	};
	static const double samples[] = {
	    0,
	    1,
	    -1,
	    21.5,
	    0.1,
	    1.0 / 3,
	    1e300,
	    -2.5e-300,
	    5e-324,
	    DBL_MAX,
	    -DBL_MAX,
	    9007199254740993.0,
	    123456789.123456789,
	    1e-7,
	    42,
	};
	struct tw_parser *p = lp_parser(keys, 3, values, 6);
	uint64_t x = 0x2545F4914F6CDD1DULL;
	size_t nt = sizeof(tag_values) / sizeof(tag_values[0]);

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct tw_event ev;
		size_t k = 0;

		memset(&ev, 0, sizeof(ev));
		for (int j = 0; j < 3; j++) {
			const char *t = tag_values[xorshift(&x) % nt];

			if (j > 0)
				ev.key[k++] = TW_KEY_SEP;
			memcpy(ev.key + k, t, strlen(t));
			k += strlen(t);
		}
		ev.key_len = k;
		ev.ts_ns = (int64_t)(xorshift(&x) >> 1);
		ev.present = (uint32_t)(xorshift(&x) % 63) + 1;
		for (int j = 0; j < 6; j++) {
			uint64_t bits = xorshift(&x);
			double v;

			if (j % 2 == 0) {
				v = samples[bits % (sizeof(samples) / sizeof(samples[0]))];
			} else {
				memcpy(&v, &bits, sizeof(v));
				if (!isfinite(v))
					v = (double)(int64_t)bits;
			}
			ev.values[j] = v == 0 ? 0.0 : v; /* -0 is written as 0 */
		}
		round_trip(p, keys, 3, values, 6, &ev);
	}
	tw_parser_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf),
	    cmocka_unit_test(test_format_double),
	    cmocka_unit_test(test_format_double_round_trip),
	    cmocka_unit_test(test_format_double_matches_printf),
	    cmocka_unit_test(test_point_basic),
	    cmocka_unit_test(test_point_escaping),
	    cmocka_unit_test(test_point_refused),
	    cmocka_unit_test(test_point_full),
	    cmocka_unit_test(test_append_event),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
