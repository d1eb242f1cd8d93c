/* Unit tests for lib/contract/tw_parse.c: JSON, CSV and line protocol input, every
 * error code with its exact reason, escapes, Unicode, nesting, bounds and
 * set-up checks.
 *
 * Every message is copied into a heap block of exactly its length before it
 * is parsed (Kafka payloads are not NUL-terminated), so under ASan any read
 * past the end fails the test. */
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

#include "tw_parse.h"

#define NS INT64_C(1000000000)
#define T2026 (INT64_C(1795410000) * NS) /* 2026-11-23T05:00:00Z */
/* tw_time's range, named in every out-of-range reason. */
#define TW_RANGE_TEXT "(the range is 1900-01-01T00:00:00Z to 2262-04-11T23:47:16.854775807Z)"

/* ==== Helpers ==== */

static struct tw_parser *new_parser(const struct tw_parser_spec *spec, int line)
{
	char err[512] = "";
	struct tw_parser *p = tw_parser_new(spec, err, sizeof(err));

	if (p == NULL)
		fail_msg("line %d: tw_parser_new: %s", line, err);
	return p;
}

static int run(const struct tw_parser *p, const char *msg, size_t len, struct tw_event *ev,
               char *err, size_t err_size)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, msg, len);
	r = tw_parser_parse(p, copy, len, ev, err, err_size);
	free(copy);
	return r;
}

static struct tw_event parse_ok(const struct tw_parser *p, const char *msg, size_t len, int line)
{
	struct tw_event ev;
	char err[512] = "";
	int r;

	memset(&ev, 0xa5, sizeof(ev)); /* the parser must set what it reports */
	r = run(p, msg, len, &ev, err, sizeof(err));
	if (r != 0)
		fail_msg("line %d: [%.*s]: %d [%s]", line, (int)len, msg, r, err);
	return ev;
}

static void parse_err(const struct tw_parser *p, const char *msg, size_t len, int code,
                      const char *reason, int line)
{
	struct tw_event ev;
	char err[512] = "";
	int r = run(p, msg, len, &ev, err, sizeof(err));

	if (r != code || strcmp(err, reason) != 0)
		fail_msg("line %d: [%.*s]: got %d [%s], want %d [%s]", line, (int)len, msg, r, err,
		         code, reason);
}

/* The key with '|' standing for TW_KEY_SEP. */
static void key_is(const struct tw_event *ev, const char *want, int line)
{
	char buf[TW_KEY_MAX + 1];

	assert_true(ev->key_len <= TW_KEY_MAX);
	for (size_t i = 0; i < ev->key_len; i++)
		buf[i] = ev->key[i] == TW_KEY_SEP ? '|' : ev->key[i];
	buf[ev->key_len] = '\0';
	if (ev->key_len != strlen(want) || memcmp(buf, want, ev->key_len) != 0)
		fail_msg("line %d: key [%s], want [%s]", line, buf, want);
}

#define OK(p, msg) parse_ok(p, msg, sizeof(msg) - 1, __LINE__)
#define OKN(p, msg, n) parse_ok(p, msg, n, __LINE__)
#define ERR(p, msg, code, reason) parse_err(p, msg, sizeof(msg) - 1, code, reason, __LINE__)
#define ERRN(p, msg, n, code, reason) parse_err(p, msg, n, code, reason, __LINE__)
#define KEY_IS(ev, want) key_is(&(ev), want, __LINE__)
#define NEW(spec) new_parser(spec, __LINE__)

#define SYNTAX TW_EVENT_E_SYNTAX
#define MISSING TW_EVENT_E_MISSING
#define TYPE TW_EVENT_E_TYPE
#define TIMESTAMP TW_EVENT_E_TIMESTAMP
#define TOO_LONG TW_EVENT_E_TOO_LONG

static const char *const std_keys[] = {"device", "site"};
static const char *const std_values[] = {"temp", "hum"};

static struct tw_parser *json_parser(enum tw_time_kind kind)
{
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "ts",
	    .ts_kind = kind,
	    .key_fields = std_keys,
	    .n_key_fields = 2,
	    .value_fields = std_values,
	    .n_value_fields = 2,
	};

	return NEW(&spec);
}

/* ==== JSON: events ==== */

static void test_json_basic(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);
	struct tw_event ev;

	(void)state;
	ev = OK(p, "{\"ts\":\"2026-11-23T05:00:00.123Z\",\"device\":\"d-17\",\"site\":\"s3\","
	           "\"temp\":21.5,\"hum\":40}");
	assert_int_equal(ev.ts_ns, T2026 + 123000000);
	KEY_IS(ev, "d-17|s3");
	assert_int_equal(ev.present, 3);
	assert_true(ev.values[0] == 21.5);
	assert_true(ev.values[1] == 40);

	/* any member order, white space everywhere, one trailing line break */
	ev = OK(p, " \t\r\n{ \"hum\" : 40 ,\n\t\"temp\":\r\n-1.5 , \"site\" :\"s3\", \"device\""
	           ":\"d\",\"ts\":\"2026-11-23T05:00:00Z\" }\r\n");
	assert_int_equal(ev.ts_ns, T2026);
	KEY_IS(ev, "d|s3");
	assert_int_equal(ev.present, 3);
	assert_true(ev.values[0] == -1.5);
	assert_true(ev.values[1] == 40);

	/* a UTF-8 byte order mark is skipped */
	ev = OK(p, "\xef\xbb\xbf{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\"}");
	KEY_IS(ev, "d|s");
	assert_int_equal(ev.present, 0);

	/* a missing or null value only clears its present bit */
	ev = OK(p, "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\",\"hum\":7}");
	assert_int_equal(ev.present, 2);
	assert_true(ev.values[1] == 7);
	ev = OK(p, "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\",\"temp\":null,"
	           "\"hum\":null}");
	assert_int_equal(ev.present, 0);

	/* other members of every kind are validated and skipped, including
	 * same-named members deeper down */
	ev = OK(p, "{\"x\":{\"ts\":\"bad\",\"temp\":\"bad\",\"a\":[1,{\"b\":[[],{}]},\"s\",true,"
	           "false,null,-0.5e-3]},\"ts\":\"2026-11-23T05:00:00Z\",\"y\":[],\"z\":{},"
	           "\"device\":\"d\",\"site\":\"s\",\"\":\"\",\"u\":\"\\u00e9\\ud83d\\ude00\","
	           "\"temp\":1,\"w\":\"\xc3\xa9\xf0\x9f\x98\x80\x7f\"}");
	KEY_IS(ev, "d|s");
	assert_int_equal(ev.present, 1);
	assert_true(ev.values[0] == 1);
	tw_parser_free(p);
}

static void check_value(struct tw_parser *p, const char *num, double want, int line)
{
	char msg[1024];
	struct tw_event ev;
	int n = snprintf(msg, sizeof(msg),
	                 "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\","
	                 "\"temp\":%s}",
	                 num);

	ev = parse_ok(p, msg, (size_t)n, line);
	if (ev.present != 1 || memcmp(&ev.values[0], &want, sizeof(want)) != 0)
		fail_msg("line %d: %s: got %a (present %u), want %a", line, num, ev.values[0],
		         ev.present, want);
}

#define VALUE_IS(p, num, want) check_value(p, num, want, __LINE__)

static void test_json_values(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);
	char msg[2048], num[700];
	int n;

	(void)state;
	VALUE_IS(p, "0", 0.0);
	VALUE_IS(p, "-0", -0.0);
	VALUE_IS(p, "-0.0", -0.0);
	VALUE_IS(p, "7", 7.0);
	VALUE_IS(p, "-12.75", -12.75);
	VALUE_IS(p, "1e3", 1000.0);
	VALUE_IS(p, "1E+3", 1000.0);
	VALUE_IS(p, "2.5e-3", 2.5e-3);
	VALUE_IS(p, "0.1", 0.1);
	VALUE_IS(p, "0.000001", 0.000001);
	VALUE_IS(p, "123456789012345678", 123456789012345678.0);
	VALUE_IS(p, "9007199254740993", strtod("9007199254740993", NULL));
	VALUE_IS(p, "12345678901234567890123", strtod("12345678901234567890123", NULL));
	VALUE_IS(p, "3.141592653589793238462643383279",
	         strtod("3.141592653589793238462643383279", NULL));
	VALUE_IS(p, "0.00000000000000000000000000000000000001", 1e-38);
	VALUE_IS(p, "1e308", 1e308);
	VALUE_IS(p, "1.7976931348623157e308", DBL_MAX);
	VALUE_IS(p, "5e-324", 5e-324);
	VALUE_IS(p, "1e-400", 0.0);
	VALUE_IS(p, "1e22", 1e22);
	VALUE_IS(p, "1e23", 1e23);
	VALUE_IS(p, "8.98846567431158e307", 8.98846567431158e307);
	/* numbers of up to 512 characters convert exactly */
	memset(num, '0', sizeof(num));
	num[0] = '1';
	num[1] = '.';
	num[512] = '\0';
	VALUE_IS(p, num, 1.0);

#define BAD_VALUE(v, code, reason)                                                                 \
	do {                                                                                       \
		n = snprintf(msg, sizeof(msg),                                                     \
		             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\","   \
		             "\"temp\":%s}",                                                       \
		             v);                                                                   \
		ERRN(p, msg, (size_t)n, code, reason);                                             \
	} while (0)

	BAD_VALUE("1e400", TYPE, "field \"temp\": 1e400 is out of range");
	BAD_VALUE("-1e400", TYPE, "field \"temp\": -1e400 is out of range");
	num[512] = '0';
	num[513] = '\0';
	BAD_VALUE(num, TYPE, "field \"temp\": number longer than 512 bytes");
	BAD_VALUE("\"abc\"", TYPE, "field \"temp\": \"abc\" is not a number");
	BAD_VALUE("\"21.5\"", TYPE, "field \"temp\": \"21.5\" is not a number");
	BAD_VALUE("\"\"", TYPE, "field \"temp\": \"\" is not a number");
	BAD_VALUE("\"a\\\"b\\u00e9\"", TYPE, "field \"temp\": \"a\\\"b\\u00e9\" is not a number");
	BAD_VALUE("\"\xc3\xa9\"", TYPE, "field \"temp\": \"\xc3\xa9\" is not a number");
	BAD_VALUE("true", TYPE, "field \"temp\": true is not a number");
	BAD_VALUE("false", TYPE, "field \"temp\": false is not a number");
	BAD_VALUE("{\"v\":1}", TYPE, "field \"temp\": an object is not a number");
	BAD_VALUE("[1]", TYPE, "field \"temp\": an array is not a number");
	/* a long string is cut in the reason */
	BAD_VALUE("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	          TYPE,
	          "field \"temp\": "
	          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" "
	          "is not a number");
#undef BAD_VALUE
	tw_parser_free(p);
}

static void check_key(struct tw_parser *p, const char *device_json, const char *want, int line)
{
	char msg[2048];
	struct tw_event ev;
	int n =
	    snprintf(msg, sizeof(msg),
	             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":%s,\"site\":\"s\"}", device_json);

	ev = parse_ok(p, msg, (size_t)n, line);
	key_is(&ev, want, line);
}

static void check_key_err(struct tw_parser *p, const char *device_json, int code,
                          const char *reason, int line)
{
	char msg[2048];
	int n =
	    snprintf(msg, sizeof(msg),
	             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":%s,\"site\":\"s\"}", device_json);

	parse_err(p, msg, (size_t)n, code, reason, line);
}

#define DEVICE_KEY(p, json, want) check_key(p, json, want, __LINE__)
#define DEVICE_ERR(p, json, code, reason) check_key_err(p, json, code, reason, __LINE__)

/* n copies of c, NUL-terminated, in buf. */
static const char *quoted_run(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_json_keys(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);
	char big[800];

	(void)state;
	DEVICE_KEY(p, "\"d-17\"", "d-17|s");
	DEVICE_KEY(p, "\"\"", "|s");
	DEVICE_KEY(p, "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", "a\"b\\c/d\be\ff\ng\rh\ti|s");
	DEVICE_KEY(p, "\"caf\\u00e9\"", "caf\xc3\xa9|s");
	DEVICE_KEY(p, "\"caf\\u00E9\"", "caf\xc3\xa9|s");
	DEVICE_KEY(p, "\"\\u0041\\u07ff\\u0800\\uffff\"", "A\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf|s");
	DEVICE_KEY(p, "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80|s");
	DEVICE_KEY(p, "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf|s");
	DEVICE_KEY(p, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xf0\x9f\x98\x80|s");
	/* numbers in canonical form */
	DEVICE_KEY(p, "17", "17|s");
	DEVICE_KEY(p, "17.0", "17|s");
	DEVICE_KEY(p, "1.7e1", "17|s");
	DEVICE_KEY(p, "170e-1", "17|s");
	DEVICE_KEY(p, "-5", "-5|s");
	DEVICE_KEY(p, "0", "0|s");
	DEVICE_KEY(p, "-0", "0|s");
	DEVICE_KEY(p, "-0.0", "0|s");
	DEVICE_KEY(p, "0.1", "0.1|s");
	DEVICE_KEY(p, "1e20", "1e+20|s");
	DEVICE_KEY(p, "12345678901234567890123", "12345678901234567890123|s");
	DEVICE_ERR(p, "1e400", TYPE, "key field \"device\": 1e400 is out of range");
	DEVICE_ERR(p, "true", TYPE, "key field \"device\": true is not a string or number");
	DEVICE_ERR(p, "false", TYPE, "key field \"device\": false is not a string or number");
	DEVICE_ERR(p, "{}", TYPE, "key field \"device\": an object is not a string or number");
	DEVICE_ERR(p, "[\"d\"]", TYPE, "key field \"device\": an array is not a string or number");
	DEVICE_ERR(p, "null", MISSING, "key field \"device\" is null");
	DEVICE_ERR(p, "\"a\\u0000b\"", TYPE, "key field \"device\": contains U+0000");
	DEVICE_ERR(p, "\"a\\u001fb\"", TYPE, "key field \"device\": contains U+001F");
	ERR(p, "{\"ts\":\"2026-11-23T05:00:00Z\",\"site\":\"s\"}", MISSING,
	    "missing key field \"device\"");
	ERR(p, "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\"}", MISSING,
	    "missing key field \"site\"");

	/* the key's bound: 256 bytes with the separators */
	{
		char msg[1024];
		int n;
		struct tw_event ev;

		n = snprintf(msg, sizeof(msg),
		             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"%s\",\"site\":\"s\"}",
		             quoted_run(big, 'k', 254));
		ev = OKN(p, msg, (size_t)n);
		assert_int_equal(ev.key_len, 256);
		n = snprintf(msg, sizeof(msg),
		             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"%s\",\"site\":\"ss\"}",
		             quoted_run(big, 'k', 254));
		ERRN(p, msg, (size_t)n, TOO_LONG,
		     "key longer than 256 bytes (at key field \"site\")");
		/* 256 bytes: no room for the separator */
		n = snprintf(msg, sizeof(msg),
		             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"%s\",\"site\":\"\"}",
		             quoted_run(big, 'k', 256));
		ERRN(p, msg, (size_t)n, TOO_LONG,
		     "key longer than 256 bytes (at key field \"site\")");
		n = snprintf(msg, sizeof(msg),
		             "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"%s\",\"site\":\"\"}",
		             quoted_run(big, 'k', 255));
		ev = OKN(p, msg, (size_t)n);
		assert_int_equal(ev.key_len, 256);
	}
	{
		char run300[301];

		snprintf(big, sizeof(big), "\"%s\"", quoted_run(run300, 'k', 300));
	}
	DEVICE_ERR(p, big, TOO_LONG, "key longer than 256 bytes (at key field \"device\")");
	/* escapes decode into the bound too: 100 x \u00e9 is 200 bytes, 130 is 260 */
	{
		char esc[1024];
		size_t o = 0;

		esc[o++] = '"';
		for (int i = 0; i < 130; i++) {
			memcpy(esc + o, "\\u00e9", 6);
			o += 6;
		}
		esc[o++] = '"';
		esc[o] = '\0';
		DEVICE_ERR(p, esc, TOO_LONG, "key longer than 256 bytes (at key field \"device\")");
	}
	/* long integer IDs keep every digit, up to the key's bound */
	{
		char want[sizeof(big) + 8];

		snprintf(want, sizeof(want), "%s|s", quoted_run(big, '9', 200));
		DEVICE_KEY(p, big, want);
		snprintf(want, sizeof(want), "%s|s", quoted_run(big, '9', 254));
		DEVICE_KEY(p, big, want);
	}
	DEVICE_ERR(p, quoted_run(big, '9', 255), TOO_LONG,
	           "key longer than 256 bytes (at key field \"site\")");
	DEVICE_ERR(p, quoted_run(big, '1', 300), TOO_LONG,
	           "key longer than 256 bytes (at key field \"device\")");
	tw_parser_free(p);
}

static void test_json_key_roles(void **state)
{
	static const char *const ids[] = {"id"};
	static const char *const many[] = {"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"};
	static const char *const sixteen[] = {"v0", "v1", "v2",  "v3",  "v4",  "v5",  "v6",  "v7",
	                                      "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15"};
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "ts",
	    .ts_kind = TW_TIME_EPOCH_S,
	    .key_fields = ids,
	    .n_key_fields = 1,
	    .value_fields = ids,
	    .n_value_fields = 1,
	};
	struct tw_parser *p = NEW(&spec);
	struct tw_event ev;

	(void)state;
	/* one field as key and value */
	ev = OK(p, "{\"ts\":1,\"id\":17}");
	KEY_IS(ev, "17");
	assert_int_equal(ev.present, 1);
	assert_true(ev.values[0] == 17);
	assert_int_equal(ev.ts_ns, NS);
	tw_parser_free(p);

	/* no key fields: one series */
	spec.n_key_fields = 0;
	spec.key_fields = NULL;
	p = NEW(&spec);
	ev = OK(p, "{\"ts\":1,\"id\":17}");
	assert_int_equal(ev.key_len, 0);
	tw_parser_free(p);

	/* the timestamp as a key too */
	spec.key_fields = (const char *const[]){"ts"};
	spec.n_key_fields = 1;
	p = NEW(&spec);
	ev = OK(p, "{\"ts\":1.50}");
	KEY_IS(ev, "1.5");
	assert_int_equal(ev.ts_ns, NS + NS / 2);
	tw_parser_free(p);

	/* eight keys, sixteen values */
	spec.key_fields = many;
	spec.n_key_fields = 8;
	spec.value_fields = sixteen;
	spec.n_value_fields = 16;
	p = NEW(&spec);
	ev = OK(p,
	        "{\"ts\":0,\"k8\":8,\"k7\":7,\"k6\":6,\"k5\":5,\"k4\":4,\"k3\":3,\"k2\":2,"
	        "\"k1\":1,\"v0\":0,\"v1\":1,\"v2\":2,\"v3\":3,\"v4\":4,\"v5\":5,\"v6\":6,\"v7\":7,"
	        "\"v8\":8,\"v9\":9,\"v10\":10,\"v11\":11,\"v12\":12,\"v13\":13,\"v14\":14,"
	        "\"v15\":15}");
	KEY_IS(ev, "1|2|3|4|5|6|7|8");
	assert_int_equal(ev.present, 0xffff);
	for (int i = 0; i < 16; i++)
		assert_true(ev.values[i] == i);
	ev = OK(p, "{\"ts\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,"
	           "\"k8\":8,\"v15\":15,\"v3\":3}");
	assert_int_equal(ev.present, (1u << 15) | (1u << 3));
	assert_true(ev.values[15] == 15);
	assert_true(ev.values[3] == 3);
	ERR(p, "{\"ts\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7}", MISSING,
	    "missing key field \"k8\"");
	tw_parser_free(p);
}

static void test_json_paths(void **state)
{
	static const char *const keys[] = {"device.id", "a.b.c", "x\\.y", "p\\\\q"};
	static const char *const values[] = {"m.temp", "m.hum"};
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "meta.time",
	    .ts_kind = TW_TIME_EPOCH_MS,
	    .key_fields = keys,
	    .n_key_fields = 4,
	    .value_fields = values,
	    .n_value_fields = 2,
	};
	struct tw_parser *p = NEW(&spec);
	struct tw_event ev;

	(void)state;
	ev = OK(p, "{\"meta\":{\"time\":1500},\"device\":{\"id\":\"d1\",\"other\":[1]},"
	           "\"a\":{\"b\":{\"c\":3}},\"x.y\":\"dot\",\"p\\\\q\":\"bs\","
	           "\"m\":{\"temp\":1,\"hum\":2}}");
	assert_int_equal(ev.ts_ns, 1500000000);
	KEY_IS(ev, "d1|3|dot|bs");
	assert_int_equal(ev.present, 3);
	/* member names are compared after unescaping */
	ev = OK(p, "{\"m\\u0065ta\":{\"ti\\u006de\":1},\"device\":{\"\\u0069d\":\"d1\"},"
	           "\"a\":{\"b\":{\"c\":3}},\"x\\u002ey\":\"dot\",\"p\\u005cq\":\"bs\"}");
	KEY_IS(ev, "d1|3|dot|bs");
	assert_int_equal(ev.present, 0);
	/* "x.y" is not the path x -> y */
	ERR(p,
	    "{\"meta\":{\"time\":1},\"device\":{\"id\":\"d1\"},\"a\":{\"b\":{\"c\":3}},"
	    "\"x\":{\"y\":\"dot\"},\"p\\\\q\":\"bs\"}",
	    MISSING, "missing key field \"x\\\\.y\"");
	/* an intermediate that is not an object: the field is missing */
	ERR(p, "{\"meta\":{\"time\":1},\"device\":\"d1\"}", MISSING,
	    "missing key field \"device.id\"");
	ERR(p, "{\"meta\":{\"time\":1},\"device\":[{\"id\":\"d1\"}]}", MISSING,
	    "missing key field \"device.id\"");
	ERR(p, "{\"meta\":{\"time\":1},\"device\":null}", MISSING,
	    "missing key field \"device.id\"");
	ERR(p, "{\"meta\":{\"time\":1},\"device\":{\"ID\":\"d1\"}}", MISSING,
	    "missing key field \"device.id\"");
	ERR(p, "{\"time\":1}", MISSING, "missing timestamp field \"meta.time\"");
	ERR(p, "{\"meta\":{},\"time\":1}", MISSING, "missing timestamp field \"meta.time\"");
	/* the same object twice: fine while no field repeats */
	ev = OK(p, "{\"meta\":{\"time\":1},\"device\":{\"x\":1},\"device\":{\"id\":\"d2\"},"
	           "\"a\":{\"b\":{\"c\":3}},\"x.y\":\"dot\",\"p\\\\q\":\"bs\"}");
	KEY_IS(ev, "d2|3|dot|bs");
	ERR(p, "{\"meta\":{\"time\":1},\"device\":{\"id\":\"d1\"},\"device\":{\"id\":\"d2\"}}",
	    SYNTAX, "json: duplicate field \"device.id\" at byte 50");
	/* member names longer than any configured name, escaped or not */
	{
		char msg[2048];
		size_t o = 0;

		o += (size_t)snprintf(msg, sizeof(msg), "{\"meta\":{\"time\":1,\"");
		for (int i = 0; i < 300; i++) {
			memcpy(msg + o, "\\u0041", 6);
			o += 6;
		}
		o += (size_t)snprintf(msg + o, sizeof(msg) - o,
		                      "\":1},\"device\":{\"id\":\"d\"},"
		                      "\"a\":{\"b\":{\"c\":3}},\"x.y\":"
		                      "\"dot\",\"p\\\\q\":\"bs\"}");
		ev = OKN(p, msg, o);
		KEY_IS(ev, "d|3|dot|bs");
	}
	tw_parser_free(p);
}

static void test_json_timestamps(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);
	struct tw_parser *ms = json_parser(TW_TIME_EPOCH_MS);
	struct tw_parser *s = json_parser(TW_TIME_EPOCH_S);
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "ts",
	    .ts_kind = TW_TIME_STRPTIME,
	    .ts_format = "%d/%m/%Y %H:%M:%S.%f",
	};
	struct tw_parser *strp = NEW(&spec);
	struct tw_event ev;
	char msg[1024];

	(void)state;
	ev = OK(p, "{\"ts\":\"2026-11-23T07:00:00.5+02:00\",\"device\":\"d\",\"site\":\"s\"}");
	assert_int_equal(ev.ts_ns, T2026 + 500000000);
	ev = OK(p, "{\"ts\":\"2026-11-23T05:00:00\\u002e25Z\",\"device\":\"d\",\"site\":\"s\"}");
	assert_int_equal(ev.ts_ns, T2026 + 250000000);
	ev = OK(ms, "{\"ts\":1795410000123,\"device\":\"d\",\"site\":\"s\"}");
	assert_int_equal(ev.ts_ns, T2026 + 123000000);
	ev = OK(ms, "{\"ts\":\"1795410000123\",\"device\":\"d\",\"site\":\"s\"}");
	assert_int_equal(ev.ts_ns, T2026 + 123000000);
	ev = OK(s, "{\"ts\":1795410000.123456789,\"device\":\"d\",\"site\":\"s\"}");
	assert_int_equal(ev.ts_ns, T2026 + 123456789);
	ev = OK(s, "{\"ts\":1.795410000e9,\"device\":\"d\",\"site\":\"s\"}");
	assert_int_equal(ev.ts_ns, T2026);
	ev = OK(strp, "{\"ts\":\"23/11/2026 05:00:00.001\"}");
	assert_int_equal(ev.ts_ns, T2026 + 1000000);
	assert_int_equal(ev.key_len, 0);

	ERR(p, "{\"device\":\"d\",\"site\":\"s\"}", MISSING, "missing timestamp field \"ts\"");
	ERR(p, "{\"ts\":null,\"device\":\"d\",\"site\":\"s\"}", MISSING,
	    "timestamp field \"ts\" is null");
	ERR(p, "{\"ts\":1795410000,\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": 1795410000 is a number, but the timestamp kind is rfc3339");
	ERR(strp, "{\"ts\":1}", TIMESTAMP,
	    "timestamp field \"ts\": 1 is a number, but the timestamp kind is strptime");
	ERR(p, "{\"ts\":true,\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": true is not a timestamp");
	ERR(p, "{\"ts\":{\"s\":1},\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": an object is not a timestamp");
	ERR(p, "{\"ts\":[],\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": an array is not a timestamp");
	ERR(p, "{\"ts\":\"2026-13-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"2026-13-23T05:00:00Z\": month 13 out of range");
	ERR(p, "{\"ts\":\"2026-11-23T05:00:00\",\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"2026-11-23T05:00:00\": missing UTC offset ('Z' or +hh:mm) "
	    "at offset 19");
	ERR(p, "{\"ts\":\"\",\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"\": expected a 4-digit year at offset 0");
	ERR(p, "{\"ts\":\"1899-12-31T23:59:59Z\",\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"1899-12-31T23:59:59Z\": before "
	    "1900-01-01T00:00:00Z " TW_RANGE_TEXT);
	ERR(p, "{\"ts\":\"2262-04-12T00:00:00Z\",\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"2262-04-12T00:00:00Z\": after "
	    "2262-04-11T23:47:16.854775807Z " TW_RANGE_TEXT);
	assert_int_equal(OK(ms, "{\"ts\":-1,\"device\":\"d\",\"site\":\"s\"}").ts_ns, -1000000);
	ERR(ms, "{\"ts\":-2208988800001,\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": -2208988800001: before 1900-01-01T00:00:00Z " TW_RANGE_TEXT);
	ERR(ms, "{\"ts\":1e300,\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": 1e300: after 2262-04-11T23:47:16.854775807Z " TW_RANGE_TEXT);
	ERR(ms, "{\"ts\":\"soon\",\"device\":\"d\",\"site\":\"s\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"soon\": not a decimal number");
	ERR(strp, "{\"ts\":\"2026-11-23\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"2026-11-23\": expected '/' at offset 2");
	/* escaped timestamps decode into a bounded buffer */
	{
		size_t o = (size_t)snprintf(msg, sizeof(msg), "{\"ts\":\"");

		for (int i = 0; i < 130; i++) {
			memcpy(msg + o, "\\u0031", 6);
			o += 6;
		}
		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "\"}");
		{
			char want[512];
			size_t w =
			    (size_t)snprintf(want, sizeof(want), "timestamp field \"ts\": \"");

			/* the reason shows the first 64 bytes of the source */
			for (int i = 0; i < 10; i++)
				w += (size_t)snprintf(want + w, sizeof(want) - w, "\\u0031");
			snprintf(want + w, sizeof(want) - w, "\\u00...\": longer than 128 bytes");
			ERRN(ms, msg, o, TIMESTAMP, want);
		}
	}
	tw_parser_free(p);
	tw_parser_free(ms);
	tw_parser_free(s);
	tw_parser_free(strp);
}

/* ==== JSON: syntax ==== */

struct bad {
	const char *msg;
	size_t len;
	const char *reason;
};

#define BAD(m, r)                                                                                  \
	{                                                                                          \
		m, sizeof(m) - 1, r                                                                \
	}

static void test_json_syntax(void **state)
{
	static const struct bad cases[] = {
	    BAD("", "json: empty message"),
	    BAD(" \t\r\n", "json: empty message"),
	    BAD("\xef\xbb\xbf", "json: empty message"),
	    BAD("[1]", "json: expected an object at byte 0"),
	    BAD(" 1", "json: expected an object at byte 1"),
	    BAD("\"a\"", "json: expected an object at byte 0"),
	    BAD("{", "json: unexpected end of input at byte 1"),
	    BAD("{\"a\"", "json: unexpected end of input at byte 4"),
	    BAD("{\"a\":", "json: unexpected end of input at byte 5"),
	    BAD("{\"a\":1", "json: unexpected end of input at byte 6"),
	    BAD("{\"a\":1,", "json: unexpected end of input at byte 7"),
	    BAD("{\"a\":1,}", "json: unexpected '}' at byte 7"),
	    BAD("{,}", "json: unexpected ',' at byte 1"),
	    BAD("{\"a\" 1}", "json: unexpected '1' at byte 5"),
	    BAD("{\"a\":1 \"b\":2}", "json: unexpected '\"' at byte 7"),
	    BAD("{a:1}", "json: unexpected 'a' at byte 1"),
	    BAD("{'a':1}", "json: unexpected ''' at byte 1"),
	    BAD("{\"a\":1}}", "json: trailing data at byte 7"),
	    BAD("{} {}", "json: trailing data at byte 3"),
	    BAD("{}x", "json: trailing data at byte 2"),
	    BAD("{}\n{}", "json: trailing data at byte 3"),
	    BAD("{\"a\":1} // c", "json: trailing data at byte 8"),
	    BAD("{/*c*/}", "json: unexpected '/' at byte 1"),
	    BAD("{\"a\":[1,2,]}", "json: unexpected ']' at byte 10"),
	    BAD("{\"a\":[1 2]}", "json: unexpected '2' at byte 8"),
	    BAD("{\"a\":[}", "json: unexpected '}' at byte 6"),
	    BAD("{\"a\":[1}", "json: unexpected '}' at byte 7"),
	    BAD("{\"a\":{\"b\":1]}", "json: unexpected ']' at byte 11"),
	    BAD("{\"a\":01}", "json: unexpected '1' at byte 6"),
	    BAD("{\"a\":-01}", "json: unexpected '1' at byte 7"),
	    BAD("{\"a\":1.}", "json: unexpected '}' at byte 7"),
	    BAD("{\"a\":.5}", "json: unexpected '.' at byte 5"),
	    BAD("{\"a\":+1}", "json: unexpected '+' at byte 5"),
	    BAD("{\"a\":-}", "json: unexpected '}' at byte 6"),
	    BAD("{\"a\":1e}", "json: unexpected '}' at byte 7"),
	    BAD("{\"a\":1e+}", "json: unexpected '}' at byte 8"),
	    BAD("{\"a\":0x10}", "json: unexpected 'x' at byte 6"),
	    BAD("{\"a\":NaN}", "json: unexpected 'N' at byte 5"),
	    BAD("{\"a\":Infinity}", "json: unexpected 'I' at byte 5"),
	    BAD("{\"a\":tru}", "json: unexpected '}' at byte 8"),
	    BAD("{\"a\":True}", "json: unexpected 'T' at byte 5"),
	    BAD("{\"a\":flase}", "json: unexpected 'l' at byte 6"),
	    BAD("{\"a\":nul", "json: unexpected end of input at byte 8"),
	    BAD("{\"a\":nulll}", "json: unexpected 'l' at byte 9"),
	    BAD("{\"a\":\"x}", "json: unterminated string at byte 5"),
	    BAD("{\"a\":\"x\\", "json: unterminated string at byte 5"),
	    BAD("{\"a", "json: unterminated string at byte 1"),
	    BAD("{\"a\":\"\\q\"}", "json: invalid escape '\\q' at byte 6"),
	    BAD("{\"a\":\"\\'\"}", "json: invalid escape '\\'' at byte 6"),
	    BAD("{\"a\":\"\\\x01\"}", "json: invalid escape at byte 6"),
	    BAD("{\"a\":\"\\u12G4\"}", "json: invalid \\u escape at byte 6"),
	    BAD("{\"a\":\"\\u12\"}", "json: invalid \\u escape at byte 6"),
	    BAD("{\"a\":\"\\u12", "json: invalid \\u escape at byte 6"),
	    BAD("{\"a\":\"\\udc00\"}", "json: unpaired surrogate \\udc00 at byte 6"),
	    BAD("{\"a\":\"\\ud800\"}", "json: unpaired surrogate \\ud800 at byte 6"),
	    BAD("{\"a\":\"\\ud800x\"}", "json: unpaired surrogate \\ud800 at byte 6"),
	    BAD("{\"a\":\"\\ud800\\u0041\"}", "json: unpaired surrogate \\ud800 at byte 6"),
	    BAD("{\"a\":\"\\ud800\\ud800\"}", "json: unpaired surrogate \\ud800 at byte 6"),
	    BAD("{\"a\":\"\\ud800\\n\"}", "json: unpaired surrogate \\ud800 at byte 6"),
	    BAD("{\"a\":\"x\ny\"}", "json: control character 0x0a in a string at byte 7"),
	    BAD("{\"a\":\"\x01\"}", "json: control character 0x01 in a string at byte 6"),
	    BAD("{\"a\":\"\t\"}", "json: control character 0x09 in a string at byte 6"),
	    BAD("{\"a\":\"\0\"}", "json: control character 0x00 in a string at byte 6"),
	    BAD("{\"a\":\"\xff\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xc0\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xc1\xbf\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xe0\x80\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xed\xa0\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xf0\x80\x80\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xf4\x90\x80\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xf5\x80\x80\x80\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"\xe2\x82\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"a\":\"ok\xe2\x82", "json: invalid UTF-8 at byte 8"),
	    BAD("{\"a\":\"\xc3\"}", "json: invalid UTF-8 at byte 6"),
	    BAD("{\"\xff\":1}", "json: invalid UTF-8 at byte 2"),
	    BAD("{\"a\":1}\0", "json: trailing data at byte 7"),
	    BAD("{\"a\":1\0}", "json: unexpected byte 0x00 at byte 6"),
	    BAD("{\"a\"\x01:1}", "json: unexpected byte 0x01 at byte 4"),
	    BAD("{\"a\":\xc3\xa9}", "json: unexpected byte 0xc3 at byte 5"),
	    BAD("\xef\xbb{}", "json: expected an object at byte 0"),
	    BAD("{\"ts\":\"2026-11-23T05:00:00Z\",\"ts\":\"2026-11-23T05:00:00Z\"}",
	        "json: duplicate field \"ts\" at byte 29"),
	    BAD("{\"temp\":1,\"hum\":2,\"temp\":null}",
	        "json: duplicate field \"temp\" at byte 18"),
	    /* a syntax error wins over missing fields */
	    BAD("{\"device\":\"d\",}", "json: unexpected '}' at byte 14"),
	};
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_err(p, cases[i].msg, cases[i].len, SYNTAX, cases[i].reason, (int)i);
	/* other members may repeat */
	OK(p, "{\"x\":1,\"x\":2,\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\",\"site\":\"s\"}");
	tw_parser_free(p);
}

static void test_json_depth(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);
	static const char *const paths[] = {"a.a.a.a"};
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "t",
	    .ts_kind = TW_TIME_EPOCH_S,
	    .key_fields = paths,
	    .n_key_fields = 1,
	};
	struct tw_parser *deep = NEW(&spec);
	char *msg = malloc(200000), reason[128];
	size_t o;

	(void)state;
	assert_non_null(msg);
	/* 64 levels (the top object and 63 arrays) are fine, 65 are not */
	for (int levels = 63; levels <= 64; levels++) {
		o = (size_t)sprintf(msg, "{\"a\":");
		memset(msg + o, '[', (size_t)levels);
		o += (size_t)levels;
		memset(msg + o, ']', (size_t)levels);
		o += (size_t)levels;
		msg[o++] = '}';
		if (levels == 63) {
			ERRN(p, msg, o, MISSING, "missing timestamp field \"ts\"");
		} else {
			snprintf(reason, sizeof(reason), "json: nesting deeper than 64 at byte %d",
			         5 + 63);
			ERRN(p, msg, o, SYNTAX, reason);
		}
	}
	/* objects count too, also along a configured path */
	for (int levels = 64; levels <= 65; levels++) {
		o = 0;
		for (int i = 0; i < levels - 1; i++)
			o += (size_t)sprintf(msg + o, "{\"a\":");
		o += (size_t)sprintf(msg + o, "{}");
		for (int i = 0; i < levels - 1; i++)
			msg[o++] = '}';
		if (levels == 64) {
			ERRN(deep, msg, o, MISSING, "missing timestamp field \"t\"");
		} else {
			snprintf(reason, sizeof(reason), "json: nesting deeper than 64 at byte %d",
			         5 * 64);
			ERRN(deep, msg, o, SYNTAX, reason);
		}
	}
	/* 100,000 levels fail fast, without deep recursion */
	o = 0;
	msg[o++] = '{';
	msg[o++] = '"';
	msg[o++] = 'a';
	msg[o++] = '"';
	msg[o++] = ':';
	memset(msg + o, '[', 100000);
	o += 100000;
	ERRN(p, msg, o, SYNTAX, "json: nesting deeper than 64 at byte 68");
	free(msg);
	tw_parser_free(p);
	tw_parser_free(deep);
}

/* Which reason a message with several faults gets: syntax, then timestamp,
 * then keys in order, then values in order. */
static void test_json_error_order(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);

	(void)state;
	ERR(p, "{\"temp\":\"x\",\"site\":true}", MISSING, "missing timestamp field \"ts\"");
	ERR(p, "{\"ts\":\"bad\",\"temp\":\"x\"}", TIMESTAMP,
	    "timestamp field \"ts\": \"bad\": expected a 4-digit year at offset 0");
	ERR(p, "{\"ts\":\"2026-11-23T05:00:00Z\",\"site\":true,\"temp\":\"x\"}", MISSING,
	    "missing key field \"device\"");
	ERR(p, "{\"ts\":\"2026-11-23T05:00:00Z\",\"site\":true,\"device\":1,\"temp\":\"x\"}", TYPE,
	    "key field \"site\": true is not a string or number");
	ERR(p,
	    "{\"ts\":\"2026-11-23T05:00:00Z\",\"site\":\"s\",\"device\":1,\"hum\":[],"
	    "\"temp\":\"x\"}",
	    TYPE, "field \"temp\": \"x\" is not a number");
	ERR(p, "{\"ts\":\"bad\",\"temp\":\"x\",}", SYNTAX, "json: unexpected '}' at byte 23");
	tw_parser_free(p);
}

/* ==== CSV ==== */

static const char *const csv_cols[] = {"ts", "device", "site", "temp", "hum"};

static struct tw_parser *csv_parser(enum tw_time_kind kind, const char *fmt, char delim)
{
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_CSV,
	    .ts_field = "ts",
	    .ts_kind = kind,
	    .ts_format = fmt,
	    .key_fields = std_keys,
	    .n_key_fields = 2,
	    .value_fields = std_values,
	    .n_value_fields = 2,
	    .csv_columns = csv_cols,
	    .n_csv_columns = 5,
	    .csv_delimiter = delim,
	};

	return NEW(&spec);
}

static void test_csv_basic(void **state)
{
	struct tw_parser *p = csv_parser(TW_TIME_EPOCH_MS, NULL, 0);
	struct tw_event ev;

	(void)state;
	ev = OK(p, "1795410000123,d-17,s3,21.5,40");
	assert_int_equal(ev.ts_ns, T2026 + 123000000);
	KEY_IS(ev, "d-17|s3");
	assert_int_equal(ev.present, 3);
	assert_true(ev.values[0] == 21.5);
	assert_true(ev.values[1] == 40);
	OK(p, "1795410000123,d-17,s3,21.5,40\n");
	OK(p, "1795410000123,d-17,s3,21.5,40\r\n");
	OK(p, "\xef\xbb\xbf"
	      "1795410000123,d-17,s3,21.5,40");

	/* RFC 4180 quoting: delimiters, doubled quotes, line breaks */
	ev = OK(p, "\"1795410000123\",\"d,\"\"17\"\"\",\"s\r\n3\",\"21.5\",\"\"");
	KEY_IS(ev, "d,\"17\"|s\r\n3");
	assert_int_equal(ev.present, 1);
	ev = OK(p, "1795410000123,\"\"\"\",\"\"\"\"\"\",1,2");
	KEY_IS(ev, "\"|\"\"");
	/* keys byte for byte; numbers and times trimmed of spaces and tabs */
	ev = OK(p, " 1795410000123\t,  d 17 ,s3,  21.5  ,\t40\t\n");
	assert_int_equal(ev.ts_ns, T2026 + 123000000);
	KEY_IS(ev, "  d 17 |s3");
	assert_true(ev.values[0] == 21.5);
	assert_true(ev.values[1] == 40);
	ev = OK(p, "1795410000123,d,s,\" -1e3 \",+5");
	assert_true(ev.values[0] == -1000);
	assert_true(ev.values[1] == 5);
	/* empty cells: no value */
	ev = OK(p, "1795410000123,d,s,,");
	assert_int_equal(ev.present, 0);
	ev = OK(p, "1795410000123,d,s,\"\",   ");
	assert_int_equal(ev.present, 0);
	ev = OK(p, "1795410000123,caf\xc3\xa9,s,.5,5.");
	KEY_IS(ev, "caf\xc3\xa9|s");
	assert_true(ev.values[0] == 0.5);
	assert_true(ev.values[1] == 5);
	tw_parser_free(p);

	/* other delimiters, a strptime timestamp */
	p = csv_parser(TW_TIME_STRPTIME, "%Y-%m-%d %H:%M:%S", ';');
	ev = OK(p, "2026-11-23 05:00:00;d,1;s;21.5;40");
	KEY_IS(ev, "d,1|s");
	assert_int_equal(ev.ts_ns, T2026);
	ERR(p, "2026-11-23 05:00:00;d;s;21,5;40", TYPE, "field \"temp\": \"21,5\" is not a number");
	tw_parser_free(p);
	p = csv_parser(TW_TIME_RFC3339, NULL, '\t');
	ev = OK(p, "2026-11-23T05:00:00Z\td 1\ts\t1\t2\n");
	KEY_IS(ev, "d 1|s");
	assert_int_equal(ev.present, 3);
	tw_parser_free(p);
}

static void test_csv_errors(void **state)
{
	static const struct bad syntax[] = {
	    BAD("", "csv: 1 columns, the header has 5"),
	    BAD("1,d,s,2", "csv: 4 columns, the header has 5"),
	    BAD("1,d,s,2\n", "csv: 4 columns, the header has 5"),
	    BAD("1,d,s,2,3,4", "csv: more than 5 columns at byte 10"),
	    BAD("1,d,s,2,3,", "csv: more than 5 columns at byte 10"),
	    BAD("1,d\"x,s,2,3", "csv: '\"' inside unquoted column 2 at byte 3"),
	    BAD("1,\"d\"x,s,2,3", "csv: unexpected data after the closing quote of column 2 at "
	                          "byte 5"),
	    BAD("1,\"d\" ,s,2,3", "csv: unexpected data after the closing quote of column 2 at "
	                          "byte 5"),
	    BAD("1,\"d,s,2,3", "csv: unterminated quoted column 2 at byte 2"),
	    BAD("1,d,s,2,\"", "csv: unterminated quoted column 5 at byte 8"),
	    BAD("1,d,s,2,3\n1,d,s,2,3", "csv: more than one record at byte 10"),
	    BAD("1,d,s,2,3\n\n", "csv: more than one record at byte 10"),
	    BAD("1,d,s,2,3\r\n\r\n", "csv: more than one record at byte 11"),
	    BAD("1,d,s,2,3\r", "csv: CR without LF at byte 9"),
	    BAD("1,d\r,s,2,3", "csv: CR without LF at byte 3"),
	    BAD("1,d,s\n,2,3", "csv: more than one record at byte 6"),
	};
	struct tw_parser *p = csv_parser(TW_TIME_EPOCH_MS, NULL, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
		parse_err(p, syntax[i].msg, syntax[i].len, SYNTAX, syntax[i].reason, (int)i);
	ERR(p, ",d,s,1,2", MISSING, "timestamp field \"ts\" is empty");
	ERR(p, "  ,d,s,1,2", MISSING, "timestamp field \"ts\" is empty");
	ERR(p, "\"\",d,s,1,2", MISSING, "timestamp field \"ts\" is empty");
	ERR(p, "1,,s,1,2", MISSING, "key field \"device\" is empty");
	ERR(p, "1,\"\",s,1,2", MISSING, "key field \"device\" is empty");
	ERR(p, "1,d,,1,2", MISSING, "key field \"site\" is empty");
	ERR(p, "soon,d,s,1,2", TIMESTAMP, "timestamp field \"ts\": \"soon\": not a decimal number");
	ERR(p, "-2208988800001,d,s,1,2", TIMESTAMP,
	    "timestamp field \"ts\": \"-2208988800001\": before "
	    "1900-01-01T00:00:00Z " TW_RANGE_TEXT);
	ERR(p, "\"1\"\"\",d,s,1,2", TIMESTAMP,
	    "timestamp field \"ts\": \"1\\\"\\\"\": not a decimal number");
	ERR(p, "1,d,s,abc,2", TYPE, "field \"temp\": \"abc\" is not a number");
	ERR(p, "1,d,s,nan,2", TYPE, "field \"temp\": \"nan\" is not a number");
	ERR(p, "1,d,s,inf,2", TYPE, "field \"temp\": \"inf\" is not a number");
	ERR(p, "1,d,s,0x10,2", TYPE, "field \"temp\": \"0x10\" is not a number");
	ERR(p, "1,d,s,1 2,2", TYPE, "field \"temp\": \"1 2\" is not a number");
	ERR(p, "1,d,s,\"1\"\"2\",2", TYPE, "field \"temp\": \"1\\\"\\\"2\" is not a number");
	ERR(p, "1,d,s,1,1e999", TYPE, "field \"hum\": \"1e999\" is out of range");
	ERR(p, "1,d\xff,s,1,2", TYPE, "key field \"device\": invalid UTF-8");
	ERR(p, "1,d\xc3,s,1,2", TYPE, "key field \"device\": invalid UTF-8");
	ERR(p, "1,d\x1f,s,1,2", TYPE, "key field \"device\": contains U+001F");
	ERRN(p, "1,d\0,s,1,2", 10, TYPE, "key field \"device\": contains U+0000");
	{
		char msg[600];
		int n = snprintf(msg, sizeof(msg), "1,%0300d,s,1,2", 7);

		ERRN(p, msg, (size_t)n, TOO_LONG,
		     "key longer than 256 bytes (at key field \"device\")");
	}
	tw_parser_free(p);
}

/* ==== Line protocol ==== */

static struct tw_parser *lp_parser(enum tw_time_kind kind, const char *const *keys, size_t nk,
                                   const char *const *values, size_t nv)
{
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_LP,
	    .ts_kind = kind,
	    .key_fields = keys,
	    .n_key_fields = nk,
	    .value_fields = values,
	    .n_value_fields = nv,
	};

	return NEW(&spec);
}

static const char *const lp_keys[] = {"_measurement", "host"};
static const char *const lp_values[] = {"temp", "hum", "ok", "n"};

static void test_lp_basic(void **state)
{
	struct tw_parser *p = lp_parser(TW_TIME_UNSET, lp_keys, 2, lp_values, 4);
	struct tw_event ev;

	(void)state;
	ev = OK(p, "weather,host=a temp=21.5,hum=40i,ok=true,n=7u 1795410000123456789");
	assert_int_equal(ev.ts_ns, T2026 + 123456789);
	KEY_IS(ev, "weather|a");
	assert_int_equal(ev.present, 15);
	assert_true(ev.values[0] == 21.5);
	assert_true(ev.values[1] == 40);
	assert_true(ev.values[2] == 1);
	assert_true(ev.values[3] == 7);
	/* white space: leading, runs between sections, trailing, one line break */
	ev = OK(p, " \tweather,host=a   temp=1,x=\"a b\"   1795410000000000000  \r\n");
	assert_int_equal(ev.ts_ns, T2026);
	assert_int_equal(ev.present, 1);
	OK(p, "weather,host=a temp=1 1795410000000000000\n");
	OK(p, "\xef\xbb\xbfweather,host=a temp=1 1");
	/* booleans count as 1 and 0 in line protocol */
	static const char *const truths[] = {"t", "T", "true", "True", "TRUE"};
	static const char *const lies[] = {"f", "F", "false", "False", "FALSE"};
	for (int i = 0; i < 5; i++) {
		char msg[128];
		int n = snprintf(msg, sizeof(msg), "w,host=a ok=%s,n=%s 0", truths[i], lies[i]);

		ev = OKN(p, msg, (size_t)n);
		assert_int_equal(ev.present, 12);
		assert_true(ev.values[2] == 1);
		assert_true(ev.values[3] == 0);
	}
	/* numbers of every kind */
	ev = OK(p, "w,host=a temp=-1.5e-3,hum=-9223372036854775808i,ok=18446744073709551615u,"
	           "n=.5 0");
	assert_true(ev.values[0] == -1.5e-3);
	assert_true(ev.values[1] == -9223372036854775808.0);
	assert_true(ev.values[2] == 18446744073709551615.0);
	assert_true(ev.values[3] == 0.5);
	ev = OK(p, "w,host=a temp=1.,hum=0i,ok=0u,n=1E5 0");
	assert_true(ev.values[0] == 1);
	assert_true(ev.values[3] == 1e5);
	/* unconfigured tags and fields are skipped; values may be missing */
	ev = OK(p, "w,a=1,host=h,z=2 s=\"x\",b=true,i=1i,temp=2 0");
	KEY_IS(ev, "w|h");
	assert_int_equal(ev.present, 1);
	/* repeated unconfigured names are fine */
	OK(p, "w,x=1,x=2,host=a x=1,x=2 0");
	tw_parser_free(p);
}

static void test_lp_escapes(void **state)
{
	static const char *const keys[] = {"_measurement", "ho st", "a,b=c"};
	static const char *const values[] = {"te mp"};
	struct tw_parser *p = lp_parser(TW_TIME_UNSET, keys, 3, values, 1);
	static const char *const skeys[] = {"name", "num", "u", "f"};
	struct tw_parser *s = lp_parser(TW_TIME_UNSET, skeys, 4, NULL, 0);
	struct tw_event ev;

	(void)state;
	ev = OK(p, "my\\ meas\\,x,ho\\ st=a\\,b\\=c\\ d\\\\e,a\\,b\\=c=x\\y te\\ mp=1 0");
	KEY_IS(ev, "my meas,x|a,b=c d\\e|x\\y");
	assert_int_equal(ev.present, 1);
	/* in a measurement '=' is plain, and "\=" stays two bytes */
	ev = OK(p, "a=b\\=c,ho\\ st=1,a\\,b\\=c=2 te\\ mp=1 0");
	KEY_IS(ev, "a=b\\=c|1|2");
	/* a backslash before another byte is literal; "\\\\" is one backslash */
	ev = OK(p, "m\\x,ho\\ st=a\\b,a\\,b\\=c=c\\\\ te\\ mp=1 0");
	KEY_IS(ev, "m\\x|a\\b|c\\");
	ERR(p, "m\\ te\\ mp=1 0", SYNTAX, "line protocol: field key without '=' at byte 13");
	/* UTF-8 passes through */
	ev = OK(p, "m\xc3\xa9t\xc3\xa9o,ho\\ st=\xf0\x9f\x98\x80,a\\,b\\=c=x te\\ mp=1 0");
	KEY_IS(ev, "m\xc3\xa9t\xc3\xa9o|\xf0\x9f\x98\x80|x");

	/* string and numeric fields as keys */
	ev = OK(s, "m name=\"a \\\"b\\\" c\\\\d\\e, =\",num=017i,u=42u,f=1.50 0");
	KEY_IS(ev, "a \"b\" c\\d\\e, =|17|42|1.5");
	ev = OK(s, "m name=\"\",num=-0i,u=0u,f=-0.0 0");
	KEY_IS(ev, "|0|0|0");
	ERR(s, "m name=t,num=1i,u=1u,f=1 0", TYPE,
	    "key field \"name\": t is not a string or number");
	ERR(s, "m name=\"x\",num=FALSE,u=1u,f=1 0", TYPE,
	    "key field \"num\": FALSE is not a string or number");
	ERR(s, "m name=\"a\\x\",num=1i,u=1u,f=1e400 0", TYPE,
	    "key field \"f\": 1e400 is out of range");
	ERR(s, "m,name=\"x\x1f\" num=1i,u=1u,f=1 0", TYPE, "key field \"name\": contains U+001F");
	ERR(s, "m,name=\xff num=1i,u=1u,f=1 0", TYPE, "key field \"name\": invalid UTF-8");
	tw_parser_free(p);
	tw_parser_free(s);
}

static void test_lp_types(void **state)
{
	static const char *const values[] = {"host", "s", "temp"};
	struct tw_parser *p = lp_parser(TW_TIME_UNSET, NULL, 0, values, 3);
	struct tw_event ev;

	(void)state;
	ev = OK(p, "weather temp=1 0");
	assert_int_equal(ev.present, 4);
	ERR(p, "weather,host=a temp=1 0", TYPE, "field \"host\": \"a\" is not a number");
	ERR(p, "weather,host=1 temp=1 0", TYPE, "field \"host\": \"1\" is not a number");
	ERR(p, "weather temp=1,host=\"a\" 0", TYPE, "field \"host\": \"a\" is not a number");
	ERR(p, "weather temp=1,host=\"1\" 0", TYPE, "field \"host\": \"1\" is not a number");
	ERR(p, "weather temp=1,s=\"a\\\"b\" 0", TYPE,
	    "field \"s\": \"a\\\\\\\"b\" is not a number");
	tw_parser_free(p);
	{
		static const char *const m[] = {"_measurement"};

		p = lp_parser(TW_TIME_UNSET, NULL, 0, m, 1);
		ERR(p, "weather temp=1 0", TYPE,
		    "field \"_measurement\": \"weather\" is not a number");
		tw_parser_free(p);
	}
}

static void test_lp_timestamps(void **state)
{
	static const char *const none[] = {"v"};
	struct tw_parser *ns = lp_parser(TW_TIME_UNSET, NULL, 0, none, 1);
	struct tw_parser *ms = lp_parser(TW_TIME_EPOCH_MS, NULL, 0, none, 1);
	struct tw_parser *s = lp_parser(TW_TIME_EPOCH_S, NULL, 0, none, 1);
	struct tw_parser *us = lp_parser(TW_TIME_EPOCH_US, NULL, 0, none, 1);
	struct tw_parser *n2 = lp_parser(TW_TIME_EPOCH_NS, NULL, 0, none, 1);
	struct tw_parser_spec spec = {.format = TW_FORMAT_LP, .ts_field = "_time"};
	struct tw_parser *t = NEW(&spec);

	(void)state;
	assert_int_equal(OK(ns, "m v=1 1795410000123456789").ts_ns, T2026 + 123456789);
	assert_int_equal(OK(n2, "m v=1 1795410000123456789").ts_ns, T2026 + 123456789);
	assert_int_equal(OK(ms, "m v=1 1795410000123").ts_ns, T2026 + 123000000);
	assert_int_equal(OK(us, "m v=1 1795410000123456").ts_ns, T2026 + 123456000);
	assert_int_equal(OK(s, "m v=1 1795410000").ts_ns, T2026);
	assert_int_equal(OK(t, "m v=1 0").ts_ns, 0);
	assert_int_equal(OK(ns, "m v=1 9223372036854775807").ts_ns, INT64_MAX);
	assert_int_equal(OK(ns, "m v=1 -0").ts_ns, 0);
	ERR(ns, "m v=1", MISSING, "line protocol: missing timestamp");
	ERR(ns, "m v=1  \n", MISSING, "line protocol: missing timestamp");
	assert_int_equal(OK(ns, "m v=1 -1").ts_ns, -1);
	ERR(ns, "m v=1 -2208988800000000001", TIMESTAMP,
	    "line protocol: timestamp -2208988800000000001: before "
	    "1900-01-01T00:00:00Z " TW_RANGE_TEXT);
	ERR(ns, "m v=1 9223372036854775808", TIMESTAMP,
	    "line protocol: timestamp 9223372036854775808: after "
	    "2262-04-11T23:47:16.854775807Z " TW_RANGE_TEXT);
	ERR(ms, "m v=1 9223372036855", TIMESTAMP,
	    "line protocol: timestamp 9223372036855: after "
	    "2262-04-11T23:47:16.854775807Z " TW_RANGE_TEXT);
	ERR(s, "m v=1 9223372037", TIMESTAMP,
	    "line protocol: timestamp 9223372037: after "
	    "2262-04-11T23:47:16.854775807Z " TW_RANGE_TEXT);
	tw_parser_free(ns);
	tw_parser_free(ms);
	tw_parser_free(s);
	tw_parser_free(us);
	tw_parser_free(n2);
	tw_parser_free(t);
}

static void test_lp_syntax(void **state)
{
	static const struct bad cases[] = {
	    BAD("", "line protocol: empty message"),
	    BAD("   ", "line protocol: empty message"),
	    BAD("\n", "line protocol: empty message"),
	    BAD("\r\n", "line protocol: empty message"),
	    BAD("# comment", "line protocol: a comment, not a point"),
	    BAD("  # comment", "line protocol: a comment, not a point"),
	    BAD(",host=a temp=1 1", "line protocol: missing measurement at byte 0"),
	    BAD(" ,host=a temp=1 1", "line protocol: missing measurement at byte 1"),
	    BAD("weather", "line protocol: missing fields at byte 7"),
	    BAD("weather ", "line protocol: missing fields at byte 8"),
	    BAD("weather\n", "line protocol: missing fields at byte 7"),
	    BAD("weather,host=a", "line protocol: missing fields at byte 14"),
	    BAD("weather,host=a ", "line protocol: missing fields at byte 15"),
	    BAD("weather\\", "line protocol: missing fields at byte 8"),
	    BAD("weather, temp=1", "line protocol: empty tag key at byte 8"),
	    BAD("weather,=a temp=1", "line protocol: empty tag key at byte 8"),
	    BAD("weather,host=a, temp=1", "line protocol: empty tag key at byte 15"),
	    BAD("weather,host temp=1", "line protocol: tag key without '=' at byte 12"),
	    BAD("weather,host", "line protocol: tag key without '=' at byte 12"),
	    BAD("weather,host=a=b temp=1",
	        "line protocol: unescaped '=' in a tag value at byte 14"),
	    BAD("weather,host= temp=1", "line protocol: empty tag value at byte 13"),
	    BAD("weather,host=,x=1 temp=1", "line protocol: empty tag value at byte 13"),
	    BAD("weather ,temp=1", "line protocol: empty field key at byte 8"),
	    BAD("weather =1", "line protocol: empty field key at byte 8"),
	    BAD("weather temp=1,", "line protocol: empty field key at byte 15"),
	    BAD("weather temp=1, hum=2", "line protocol: empty field key at byte 15"),
	    BAD("weather temp 1", "line protocol: field key without '=' at byte 12"),
	    BAD("weather temp", "line protocol: field key without '=' at byte 12"),
	    BAD("weather temp=", "line protocol: missing field value at byte 13"),
	    BAD("weather temp= 1", "line protocol: missing field value at byte 13"),
	    BAD("weather temp=,hum=1", "line protocol: missing field value at byte 13"),
	    BAD("weather temp=\"abc", "line protocol: unterminated string at byte 13"),
	    BAD("weather temp=\"abc\\\"", "line protocol: unterminated string at byte 13"),
	    BAD("weather temp=\"a\nb\" 1", "line protocol: newline in a string field at byte 15"),
	    BAD("weather temp=\"a\rb\" 1", "line protocol: newline in a string field at byte 15"),
	    BAD("weather temp=abc", "line protocol: invalid field value \"abc\" at byte 13"),
	    BAD("weather temp=1.2.3", "line protocol: invalid field value \"1.2.3\" at byte 13"),
	    BAD("weather temp=+1", "line protocol: invalid field value \"+1\" at byte 13"),
	    BAD("weather temp=inf", "line protocol: invalid field value \"inf\" at byte 13"),
	    BAD("weather temp=NaN", "line protocol: invalid field value \"NaN\" at byte 13"),
	    BAD("weather temp=1x", "line protocol: invalid field value \"1x\" at byte 13"),
	    BAD("weather temp=i", "line protocol: invalid field value \"i\" at byte 13"),
	    BAD("weather temp=1i2", "line protocol: invalid field value \"1i2\" at byte 13"),
	    BAD("weather temp=-1u", "line protocol: invalid field value \"-1u\" at byte 13"),
	    BAD("weather temp=1.5i", "line protocol: invalid field value \"1.5i\" at byte 13"),
	    BAD("weather temp=tru", "line protocol: invalid field value \"tru\" at byte 13"),
	    BAD("weather temp='a'", "line protocol: invalid field value \"'a'\" at byte 13"),
	    BAD("weather temp=9223372036854775808i",
	        "line protocol: integer out of range at byte 13"),
	    BAD("weather temp=-9223372036854775809i",
	        "line protocol: integer out of range at byte 13"),
	    BAD("weather temp=18446744073709551616u",
	        "line protocol: integer out of range at byte 13"),
	    BAD("weather temp=\"a\"x 1",
	        "line protocol: unexpected data after a field value at byte 16"),
	    BAD("weather temp=1 12a", "line protocol: invalid timestamp at byte 15"),
	    BAD("weather temp=1 -", "line protocol: invalid timestamp at byte 15"),
	    BAD("weather temp=1 1.5", "line protocol: invalid timestamp at byte 15"),
	    BAD("weather temp=1 +1", "line protocol: invalid timestamp at byte 15"),
	    BAD("weather temp=1 1 2", "line protocol: unexpected data after the timestamp at byte "
	                              "17"),
	    BAD("weather temp=1 1\nweather temp=2 2", "line protocol: more than one line at byte "
	                                              "17"),
	    BAD("weather temp=1 1\n\n", "line protocol: more than one line at byte 17"),
	    BAD("weather temp=1\nx", "line protocol: more than one line at byte 15"),
	    BAD("weather temp=1 1\r", "line protocol: CR without LF at byte 16"),
	    BAD("weather temp=1\r1", "line protocol: CR without LF at byte 14"),
	    BAD("weather,host=a,host=b temp=1 1",
	        "line protocol: duplicate tag or field \"host\" at byte 15"),
	    BAD("weather,host=a host=1 1",
	        "line protocol: duplicate tag or field \"host\" at byte 15"),
	    BAD("weather temp=1,temp=2 1",
	        "line protocol: duplicate tag or field \"temp\" at byte 15"),
	    BAD("weather,_measurement=x temp=1 1",
	        "line protocol: duplicate tag or field \"_measurement\" at byte 8"),
	};
	struct tw_parser *p = lp_parser(TW_TIME_UNSET, lp_keys, 2, lp_values, 4);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_err(p, cases[i].msg, cases[i].len, SYNTAX, cases[i].reason, (int)i);
	tw_parser_free(p);
}

/* ==== Set-up ==== */

static void check_setup_err(const struct tw_parser_spec *spec, const char *reason, int line)
{
	char err[512] = "";
	struct tw_parser *p = tw_parser_new(spec, err, sizeof(err));

	if (p != NULL || strcmp(err, reason) != 0) {
		tw_parser_free(p);
		fail_msg("line %d: got %p [%s], want [%s]", line, (void *)p, err, reason);
	}
	/* a NULL errbuf is fine too */
	assert_null(tw_parser_new(spec, NULL, 0));
}

#define SETUP_ERR(spec, reason) check_setup_err(spec, reason, __LINE__)

static void test_setup(void **state)
{
	static const char *const nine[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
	static const char *const seventeen[17] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
	                                          "j", "k", "l", "m", "n", "o", "p", "q"};
	static const char *const with_empty[] = {"a", ""};
	static const char *const with_null[] = {NULL};
	char longname[300];
	const char *longnames[1] = {longname};
	struct tw_parser_spec base = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "ts",
	    .ts_kind = TW_TIME_RFC3339,
	};
	struct tw_parser_spec spec;
	struct tw_parser *p;

	(void)state;
	spec = base;
	spec.format = TW_FORMAT_UNSET;
	SETUP_ERR(&spec, "the format is not set (json, csv or influx)");
	spec.format = (enum tw_format)9;
	SETUP_ERR(&spec, "the format is not set (json, csv or influx)");
	spec = base;
	spec.key_fields = nine;
	spec.n_key_fields = 9;
	SETUP_ERR(&spec, "9 key fields, at most 8");
	spec = base;
	spec.value_fields = seventeen;
	spec.n_value_fields = 17;
	SETUP_ERR(&spec, "17 value fields, at most 16");
	spec = base;
	spec.n_key_fields = 1;
	SETUP_ERR(&spec, "key or value field names missing");
	spec = base;
	spec.n_value_fields = 1;
	SETUP_ERR(&spec, "key or value field names missing");
	spec = base;
	spec.key_fields = with_empty;
	spec.n_key_fields = 2;
	SETUP_ERR(&spec, "key field 2 has an empty name");
	spec = base;
	spec.value_fields = with_null;
	spec.n_value_fields = 1;
	SETUP_ERR(&spec, "value field 1 has an empty name");
	spec = base;
	spec.ts_field = NULL;
	SETUP_ERR(&spec, "the timestamp field is not set");
	spec.ts_field = "";
	SETUP_ERR(&spec, "the timestamp field is not set");
	spec = base;
	spec.ts_kind = TW_TIME_UNSET;
	SETUP_ERR(&spec, "the timestamp kind is not set (rfc3339, epoch_s, epoch_ms, epoch_us, "
	                 "epoch_ns or strptime)");
	spec.ts_kind = TW_TIME_STRPTIME;
	spec.ts_format = "%Y %Q";
	SETUP_ERR(&spec, "unsupported conversion %Q in format");
	spec = base;
	memset(longname, 'n', sizeof(longname));
	longname[256] = '\0';
	spec.key_fields = longnames;
	spec.n_key_fields = 1;
	SETUP_ERR(&spec,
	          "field name \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	          "...\" is longer than 255 bytes");
	longname[255] = '\0';
	p = NEW(&spec);
	tw_parser_free(p);

	/* JSON paths */
	spec = base;
	spec.key_fields = (const char *const[]){"a", "a.b"};
	spec.n_key_fields = 2;
	SETUP_ERR(&spec, "field \"a.b\" is inside field \"a\": a field cannot be both");
	spec.key_fields = (const char *const[]){"a.b.c", "a.b"};
	SETUP_ERR(&spec, "field \"a.b.c\" is inside field \"a.b\": a field cannot be both");
	spec.key_fields = (const char *const[]){"ts.x", "y"};
	SETUP_ERR(&spec, "field \"ts.x\" is inside field \"ts\": a field cannot be both");
	spec.key_fields = (const char *const[]){"a..b", "y"};
	SETUP_ERR(&spec, "field \"a..b\": empty JSON path segment");
	spec.key_fields = (const char *const[]){".a", "y"};
	SETUP_ERR(&spec, "field \".a\": empty JSON path segment");
	spec.key_fields = (const char *const[]){"a.", "y"};
	SETUP_ERR(&spec, "field \"a.\": empty JSON path segment");
	spec.key_fields = (const char *const[]){"a\\q", "y"};
	SETUP_ERR(&spec, "field \"a\\\\q\": in a JSON path '\\' must come before '.' or '\\'");
	spec.key_fields = (const char *const[]){"a\\", "y"};
	SETUP_ERR(&spec, "field \"a\\\\\": in a JSON path '\\' must come before '.' or '\\'");
	/* siblings and the same name twice are fine */
	spec.key_fields = (const char *const[]){"a.b", "a.c"};
	spec.value_fields = (const char *const[]){"a.b", "a.d.e", "a.d.f"};
	spec.n_value_fields = 3;
	p = NEW(&spec);
	tw_parser_free(p);

	/* CSV */
	spec = base;
	spec.format = TW_FORMAT_CSV;
	SETUP_ERR(&spec, "CSV needs the header's column names");
	spec.csv_columns = csv_cols;
	spec.n_csv_columns = 5;
	spec.csv_delimiter = '"';
	SETUP_ERR(&spec, "the CSV delimiter cannot be '\"', CR or LF");
	spec.csv_delimiter = '\n';
	SETUP_ERR(&spec, "the CSV delimiter cannot be '\"', CR or LF");
	spec.csv_delimiter = '\r';
	SETUP_ERR(&spec, "the CSV delimiter cannot be '\"', CR or LF");
	spec.csv_delimiter = 0;
	spec.key_fields = (const char *const[]){"nope"};
	spec.n_key_fields = 1;
	SETUP_ERR(&spec, "field \"nope\" is not one of the CSV columns");
	spec.key_fields = (const char *const[]){"device"};
	spec.csv_columns = (const char *const[]){"ts", "device", "x", "device"};
	spec.n_csv_columns = 4;
	SETUP_ERR(&spec, "CSV column \"device\" appears twice in the header");
	spec.csv_columns = (const char *const[]){"ts", "device", "x", "x", ""};
	spec.n_csv_columns = 5;
	p = NEW(&spec); /* unreferenced repeats are fine */
	tw_parser_free(p);
	spec.csv_columns = (const char *const[]){"ts", NULL};
	spec.n_csv_columns = 2;
	SETUP_ERR(&spec, "CSV column 2 has no name");
	spec.n_csv_columns = TW_CSV_COLUMNS_MAX + 1;
	SETUP_ERR(&spec, "1025 CSV columns, more than 1024");

	/* line protocol */
	spec = base;
	spec.format = TW_FORMAT_LP;
	SETUP_ERR(&spec, "line protocol: the timestamp is the line's own; set the timestamp field "
	                 "to \"_time\" or leave it empty");
	spec.ts_field = "_time";
	SETUP_ERR(&spec, "line protocol: the timestamp precision must be epoch_s, epoch_ms, "
	                 "epoch_us or epoch_ns");
	spec.ts_kind = TW_TIME_STRPTIME;
	SETUP_ERR(&spec, "line protocol: the timestamp precision must be epoch_s, epoch_ms, "
	                 "epoch_us or epoch_ns");
	spec.ts_kind = TW_TIME_EPOCH_US;
	p = NEW(&spec);
	tw_parser_free(p);
	spec.ts_field = NULL;
	spec.ts_kind = TW_TIME_UNSET;
	/* dots are plain in line protocol names */
	spec.key_fields = (const char *const[]){"a.b", "a"};
	spec.n_key_fields = 2;
	p = NEW(&spec);
	{
		struct tw_event ev = OK(p, "m,a.b=1,a=2 v=1 0");

		KEY_IS(ev, "1|2");
	}
	tw_parser_free(p);

	tw_parser_free(NULL);
}

static void test_format_names(void **state)
{
	enum tw_format f = TW_FORMAT_UNSET;

	(void)state;
	assert_int_equal(tw_format_parse("json", &f), 0);
	assert_int_equal(f, TW_FORMAT_JSON);
	assert_int_equal(tw_format_parse("csv", &f), 0);
	assert_int_equal(f, TW_FORMAT_CSV);
	assert_int_equal(tw_format_parse("influx", &f), 0);
	assert_int_equal(f, TW_FORMAT_LP);
	f = TW_FORMAT_JSON;
	assert_int_equal(tw_format_parse("lineprotocol", &f), 0);
	assert_int_equal(f, TW_FORMAT_LP);
	assert_int_equal(tw_format_parse("JSON", &f), -1);
	assert_int_equal(tw_format_parse("", &f), -1);
	assert_int_equal(tw_format_parse(NULL, &f), -1);
	assert_int_equal(f, TW_FORMAT_LP);
	assert_string_equal(tw_format_name(TW_FORMAT_JSON), "json");
	assert_string_equal(tw_format_name(TW_FORMAT_CSV), "csv");
	assert_string_equal(tw_format_name(TW_FORMAT_LP), "influx");
	assert_string_equal(tw_format_name(TW_FORMAT_UNSET), "unset");
	assert_string_equal(tw_format_name((enum tw_format) - 3), "unset");
	assert_string_equal(tw_format_name((enum tw_format)17), "unset");
}

static void test_api_edges(void **state)
{
	struct tw_parser *p = json_parser(TW_TIME_RFC3339);
	struct tw_event ev;
	char err[16];

	(void)state;
	/* NULL errbuf, short errbuf */
	assert_int_equal(tw_parser_parse(p, "{", 1, &ev, NULL, 0), SYNTAX);
	assert_int_equal(tw_parser_parse(p, "{", 1, &ev, err, sizeof(err)), SYNTAX);
	assert_string_equal(err, "json: unexpecte");
	/* no buffer */
	assert_int_equal(tw_parser_parse(p, NULL, 0, &ev, err, sizeof(err)), SYNTAX);
	assert_string_equal(err, "json: empty mes");
	assert_int_equal(tw_parser_parse(p, NULL, 5, &ev, err, sizeof(err)), SYNTAX);
	assert_string_equal(err, "no message");
	/* only len bytes are read: what follows does not matter */
	{
		static const char msg[] = "{\"ts\":\"2026-11-23T05:00:00Z\",\"device\":\"d\","
		                          "\"site\":\"s\"}GARBAGE";

		assert_int_equal(
		    tw_parser_parse(p, msg, sizeof(msg) - 1 - 7, &ev, err, sizeof(err)), 0);
	}
	tw_parser_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_basic),
	    cmocka_unit_test(test_json_values),
	    cmocka_unit_test(test_json_keys),
	    cmocka_unit_test(test_json_key_roles),
	    cmocka_unit_test(test_json_paths),
	    cmocka_unit_test(test_json_timestamps),
	    cmocka_unit_test(test_json_syntax),
	    cmocka_unit_test(test_json_depth),
	    cmocka_unit_test(test_json_error_order),
	    cmocka_unit_test(test_csv_basic),
	    cmocka_unit_test(test_csv_errors),
	    cmocka_unit_test(test_lp_basic),
	    cmocka_unit_test(test_lp_escapes),
	    cmocka_unit_test(test_lp_types),
	    cmocka_unit_test(test_lp_timestamps),
	    cmocka_unit_test(test_lp_syntax),
	    cmocka_unit_test(test_setup),
	    cmocka_unit_test(test_format_names),
	    cmocka_unit_test(test_api_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
