/* Unit tests for lib/contract/tw_time.c: RFC 3339, epoch numbers, strptime-style
 * formats, range limits, exact reasons, formatting and round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tw_time.h"
#include "clock.h"

#define NS INT64_C(1000000000)
/* 2026-11-23T05:00:00Z */
#define T2026 INT64_C(1795410000)

/* Parses text (copied to an exact-size heap block, so ASan catches any read
 * past the length: Kafka payloads are not NUL-terminated). */
static int parse_kind(const struct tw_time_spec *spec, const char *text, int64_t *ns, char *err,
                      size_t err_size)
{
	size_t n = strlen(text);
	char *copy = malloc(n ? n : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, text, n);
	r = tw_time_parse(spec, copy, n, ns, err, err_size);
	free(copy);
	return r;
}

static void check_ok(enum tw_time_kind kind, const char *fmt, const char *text, int64_t want,
                     int line)
{
	struct tw_time_spec spec;
	char err[256] = "";
	int64_t ns = -42;
	int r;

	if (tw_time_spec_init(&spec, kind, fmt, err, sizeof(err)) != 0)
		fail_msg("line %d: spec: %s", line, err);
	r = parse_kind(&spec, text, &ns, err, sizeof(err));
	if (r != 0 || ns != want)
		fail_msg("line %d: [%s] (%s): got %d %lld [%s], want %lld", line, text,
		         fmt ? fmt : tw_time_kind_name(kind), r, (long long)ns, err,
		         (long long)want);
}

static void check_err(enum tw_time_kind kind, const char *fmt, const char *text, int code,
                      const char *reason, int line)
{
	struct tw_time_spec spec;
	char err[256] = "";
	int64_t ns = -42;
	int r;

	if (tw_time_spec_init(&spec, kind, fmt, err, sizeof(err)) != 0)
		fail_msg("line %d: spec: %s", line, err);
	r = parse_kind(&spec, text, &ns, err, sizeof(err));
	if (r != code || strcmp(err, reason) != 0 || ns != -42)
		fail_msg("line %d: [%s] (%s): got %d [%s] ns=%lld, want %d [%s]", line, text,
		         fmt ? fmt : tw_time_kind_name(kind), r, err, (long long)ns, code, reason);
}

#define RFC_OK(text, want) check_ok(TW_TIME_RFC3339, NULL, text, want, __LINE__)
#define RFC_ERR(text, code, reason) check_err(TW_TIME_RFC3339, NULL, text, code, reason, __LINE__)
#define EPOCH_OK(kind, text, want) check_ok(kind, NULL, text, want, __LINE__)
#define EPOCH_ERR(kind, text, code, reason) check_err(kind, NULL, text, code, reason, __LINE__)
#define STRP_OK(fmt, text, want) check_ok(TW_TIME_STRPTIME, fmt, text, want, __LINE__)
#define STRP_ERR(fmt, text, code, reason)                                                          \
	check_err(TW_TIME_STRPTIME, fmt, text, code, reason, __LINE__)

#define SYNTAX TW_TIME_E_SYNTAX
#define RANGE TW_TIME_E_RANGE
#define RANGE_TEXT "(the range is 1900-01-01T00:00:00Z to 2262-04-11T23:47:16.854775807Z)"
#define BEFORE "before 1900-01-01T00:00:00Z " RANGE_TEXT
#define AFTER "after 2262-04-11T23:47:16.854775807Z " RANGE_TEXT
/* 1900-01-01T00:00:00Z in s: the earliest time accepted. */
#define T1900 INT64_C(-2208988800)

/* ==== RFC 3339 ==== */

static void test_rfc3339_valid(void **state)
{
	(void)state;
	RFC_OK("2026-11-23T05:00:00Z", T2026 * NS);
	RFC_OK("2026-11-23t05:00:00z", T2026 * NS);
	RFC_OK("2026-11-23 05:00:00Z", T2026 * NS);
	RFC_OK("2026-11-23T05:00:00.1Z", T2026 * NS + 100000000);
	RFC_OK("2026-11-23T05:00:00.123Z", T2026 * NS + 123000000);
	RFC_OK("2026-11-23T05:00:00.123456Z", T2026 * NS + 123456000);
	RFC_OK("2026-11-23T05:00:00.123456789Z", T2026 * NS + 123456789);
	RFC_OK("2026-11-23T05:00:00.000000001Z", T2026 * NS + 1);
	/* past ns: truncated, never rounded up */
	RFC_OK("2026-11-23T05:00:00.1234567899999Z", T2026 * NS + 123456789);
	RFC_OK("2026-11-23T07:00:00+02:00", T2026 * NS);
	RFC_OK("2026-11-23T07:30:00.5+02:30", T2026 * NS + 500000000);
	RFC_OK("2026-11-22T23:30:00-05:30", T2026 * NS);
	RFC_OK("2026-11-23T05:00:00-00:00", T2026 * NS);
	RFC_OK("2026-11-23T05:00:00+00:00", T2026 * NS);
	RFC_OK("2026-11-24T04:59:00+23:59", T2026 * NS);
	/* the edges of the int64 ns range */
	RFC_OK("1970-01-01T00:00:00Z", 0);
	RFC_OK("1970-01-01T00:00:00.000000001Z", 1);
	RFC_OK("1969-12-31T23:30:00-01:00", 1800 * NS);
	RFC_OK("2262-04-11T23:47:16.854775807Z", INT64_MAX);
	RFC_OK("2262-04-12T01:47:16.854775807+02:00", INT64_MAX);
	RFC_OK("2262-04-11T23:47:16.854775806Z", INT64_MAX - 1);
	/* before 1970: negative, down to 1900-01-01 */
	RFC_OK("1969-12-31T23:59:59.999999999Z", -1);
	RFC_OK("1969-12-31T23:59:59Z", -NS);
	RFC_OK("1969-12-31T23:59:59.5Z", -NS / 2);
	RFC_OK("1969-12-31T23:59:59.9999999999Z", -1); /* past ns: rounded down */
	RFC_OK("1970-01-01T00:30:00+01:00", -1800 * NS);
	RFC_OK("1969-12-31T19:00:00-05:00", 0);
	RFC_OK("1969-07-20T20:17:40Z", (INT64_C(-14256000) + 20 * 3600 + 17 * 60 + 40) * NS);
	RFC_OK("1900-01-01T00:00:00Z", T1900 * NS);
	RFC_OK("1900-01-01T00:00:00Z", TW_TIME_MIN_NS);
	RFC_OK("1900-01-01T00:00:00.000000001Z", T1900 * NS + 1);
	RFC_OK("1900-01-01T01:00:00+01:00", T1900 * NS);
	RFC_OK("1899-12-31T23:00:00-01:00", T1900 * NS);
	RFC_OK("1900-02-28T23:59:59.999999999Z", INT64_C(-2203891200) * NS - 1);
	RFC_OK("1900-03-01T00:00:00Z", INT64_C(-2203891200) * NS);
	RFC_OK("1904-02-29T00:00:00Z", INT64_C(-2077747200) * NS);
	RFC_OK("1960-02-29T00:00:00Z", INT64_C(-310521600) * NS);
	/* leap days */
	RFC_OK("2024-02-29T00:00:00Z", INT64_C(1709164800) * NS);
	RFC_OK("2000-02-29T00:00:00Z", INT64_C(951782400) * NS);
	RFC_OK("1972-12-31T23:59:59Z", INT64_C(94694399) * NS);
}

static void test_rfc3339_errors(void **state)
{
	(void)state;
	RFC_ERR("", SYNTAX, "expected a 4-digit year at offset 0");
	RFC_ERR("26-11-23T05:00:00Z", SYNTAX, "expected a 4-digit year at offset 2");
	RFC_ERR("2026/11/23T05:00:00Z", SYNTAX, "expected '-' at offset 4");
	RFC_ERR("2026-1-23T05:00:00Z", SYNTAX, "expected a 2-digit month at offset 6");
	RFC_ERR("2026-11+23T05:00:00Z", SYNTAX, "expected '-' at offset 7");
	RFC_ERR("2026-11-2T05:00:00Z", SYNTAX, "expected a 2-digit day at offset 9");
	RFC_ERR("2026-11-23", SYNTAX, "expected 'T' at offset 10");
	RFC_ERR("2026-11-23X05:00:00Z", SYNTAX, "expected 'T' at offset 10");
	RFC_ERR("2026-11-23T5:00:00Z", SYNTAX, "expected a 2-digit hour at offset 12");
	RFC_ERR("2026-11-23T05-00:00Z", SYNTAX, "expected ':' at offset 13");
	RFC_ERR("2026-11-23T05:0:00Z", SYNTAX, "expected a 2-digit minute at offset 15");
	RFC_ERR("2026-11-23T05:00", SYNTAX, "expected ':' at offset 16");
	RFC_ERR("2026-11-23T05:00:0Z", SYNTAX, "expected a 2-digit second at offset 18");
	RFC_ERR("2026-11-23T05:00:00.Z", SYNTAX, "expected a digit after '.' at offset 20");
	RFC_ERR("2026-11-23T05:00:00", SYNTAX, "missing UTC offset ('Z' or +hh:mm) at offset 19");
	RFC_ERR("2026-11-23T05:00:00.123", SYNTAX,
	        "missing UTC offset ('Z' or +hh:mm) at offset 23");
	RFC_ERR("2026-11-23T05:00:00 Z", SYNTAX, "expected 'Z' or a +hh:mm offset at offset 19");
	RFC_ERR("2026-11-23T05:00:00UTC", SYNTAX, "expected 'Z' or a +hh:mm offset at offset 19");
	RFC_ERR("2026-11-23T05:00:00+0200", SYNTAX, "expected ':' at offset 22");
	RFC_ERR("2026-11-23T05:00:00+2:00", SYNTAX, "expected a 2-digit offset hour at offset 21");
	RFC_ERR("2026-11-23T05:00:00+02:0", SYNTAX,
	        "expected a 2-digit offset minute at offset 24");
	RFC_ERR("2026-11-23T05:00:00+24:00", SYNTAX, "offset hour 24 out of range");
	RFC_ERR("2026-11-23T05:00:00+02:60", SYNTAX, "offset minute 60 out of range");
	RFC_ERR("2026-11-23T05:00:00Zjunk", SYNTAX, "trailing data at offset 20");
	RFC_ERR("2026-11-23T05:00:00Z ", SYNTAX, "trailing data at offset 20");
	RFC_ERR("2026-00-23T05:00:00Z", SYNTAX, "month 0 out of range");
	RFC_ERR("2026-13-23T05:00:00Z", SYNTAX, "month 13 out of range");
	RFC_ERR("2026-11-00T05:00:00Z", SYNTAX, "day 0 out of range for 2026-11");
	RFC_ERR("2026-11-31T05:00:00Z", SYNTAX, "day 31 out of range for 2026-11");
	RFC_ERR("2026-02-29T05:00:00Z", SYNTAX, "day 29 out of range for 2026-02");
	RFC_ERR("2100-02-29T05:00:00Z", SYNTAX, "day 29 out of range for 2100-02");
	RFC_ERR("1900-02-29T00:00:00Z", SYNTAX, "day 29 out of range for 1900-02");
	RFC_ERR("2026-11-23T24:00:00Z", SYNTAX, "hour 24 out of range");
	RFC_ERR("2026-11-23T05:60:00Z", SYNTAX, "minute 60 out of range");
	RFC_ERR("2026-12-31T23:59:60Z", SYNTAX, "second 60 out of range");
	/* absurd: outside 1900 .. the int64 ns limit */
	RFC_ERR("1899-12-31T23:59:59.999999999Z", RANGE, BEFORE);
	RFC_ERR("1899-12-31T23:59:59Z", RANGE, BEFORE);
	RFC_ERR("1677-09-21T00:12:43.145224192Z", RANGE, BEFORE); /* INT64_MIN ns */
	RFC_ERR("0001-01-01T00:00:00Z", RANGE, BEFORE);
	RFC_ERR("1900-01-01T00:30:00+01:00", RANGE, BEFORE);
	RFC_ERR("1899-12-31T22:59:59.999999999-01:00", RANGE, BEFORE);
	RFC_ERR("2262-04-11T23:47:16.854775808Z", RANGE, AFTER);
	RFC_ERR("2262-04-11T23:47:17Z", RANGE, AFTER);
	RFC_ERR("9999-12-31T23:59:59.999999999Z", RANGE, AFTER);
	RFC_ERR("2262-04-11T23:47:16.854775807-00:01", RANGE, AFTER);
}

/* Every day 1900-01-01 .. 2262-04-11 against glibc's calendar: the
 * hand-written date arithmetic must agree with an independent one, before
 * 1970 (negative) as after. */
static void test_rfc3339_every_day(void **state)
{
	char text[64];
	int64_t ns;
	char err[128];

	(void)state;
	for (int64_t day = T1900 / 86400; day <= 106750; day++) {
		time_t t = (time_t)(day * 86400 + tw_time_floor_mod(day * 7919, 86400));
		struct tm tm;

		assert_non_null(gmtime_r(&t, &tm));
		assert_int_not_equal(strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm), 0);
		if (tw_time_parse_rfc3339(text, strlen(text), &ns, err, sizeof(err)) != 0 ||
		    ns != (int64_t)t * NS)
			fail_msg("%s: got %lld [%s], want %lld", text, (long long)ns, err,
			         (long long)t * NS);
	}
}

/* ==== Epoch numbers ==== */

static void test_epoch_valid(void **state)
{
	(void)state;
	EPOCH_OK(TW_TIME_EPOCH_S, "0", 0);
	EPOCH_OK(TW_TIME_EPOCH_S, "-0", 0);
	EPOCH_OK(TW_TIME_EPOCH_S, "+1", NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "0001", NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "1795410000", T2026 * NS);
	/* decimal in s, exact (a double would give ...122999999) */
	EPOCH_OK(TW_TIME_EPOCH_S, "1700000000.123", INT64_C(1700000000123000000));
	EPOCH_OK(TW_TIME_EPOCH_S, "1700000000.123456789", INT64_C(1700000000123456789));
	EPOCH_OK(TW_TIME_EPOCH_S, "1700000000.1234567899", INT64_C(1700000000123456789));
	EPOCH_OK(TW_TIME_EPOCH_S, "1700000000.", INT64_C(1700000000) * NS);
	EPOCH_OK(TW_TIME_EPOCH_S, ".5", 500000000);
	EPOCH_OK(TW_TIME_EPOCH_S, "0.000000001", 1);
	EPOCH_OK(TW_TIME_EPOCH_S, "0.0000000009", 0);
	EPOCH_OK(TW_TIME_EPOCH_S, "1.7e9", INT64_C(1700000000) * NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "17E8", INT64_C(1700000000) * NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "1.700000000123e+9", INT64_C(1700000000123000000));
	EPOCH_OK(TW_TIME_EPOCH_S, "1e-9", 1);
	EPOCH_OK(TW_TIME_EPOCH_S, "1e-10", 0);
	EPOCH_OK(TW_TIME_EPOCH_S, "0e999999999", 0);
	EPOCH_OK(TW_TIME_EPOCH_S, "1700000000.000000000000000000", INT64_C(1700000000) * NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "9223372036.854775807", INT64_MAX);
	EPOCH_OK(TW_TIME_EPOCH_MS, "1700000000123", INT64_C(1700000000123000000));
	EPOCH_OK(TW_TIME_EPOCH_MS, "1700000000123.456", INT64_C(1700000000123456000));
	EPOCH_OK(TW_TIME_EPOCH_MS, "0.5", 500000);
	EPOCH_OK(TW_TIME_EPOCH_US, "1700000000123456", INT64_C(1700000000123456000));
	EPOCH_OK(TW_TIME_EPOCH_US, "1700000000123456.789", INT64_C(1700000000123456789));
	EPOCH_OK(TW_TIME_EPOCH_NS, "1700000000123456789", INT64_C(1700000000123456789));
	EPOCH_OK(TW_TIME_EPOCH_NS, "9223372036854775807", INT64_MAX);
	EPOCH_OK(TW_TIME_EPOCH_NS, "9223372036854775807.9", INT64_MAX);
	EPOCH_OK(TW_TIME_EPOCH_NS, "00000000000000000000000000009223372036854775807", INT64_MAX);
	EPOCH_OK(TW_TIME_EPOCH_NS, "1.5", 1);
	/* negative: before 1970, down to 1900-01-01 */
	EPOCH_OK(TW_TIME_EPOCH_S, "-1", -NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "-1.5", -NS - NS / 2);
	EPOCH_OK(TW_TIME_EPOCH_S, "-0.5", -NS / 2);
	EPOCH_OK(TW_TIME_EPOCH_S, "-.5", -NS / 2);
	EPOCH_OK(TW_TIME_EPOCH_S, "-0.000000001", -1);
	EPOCH_OK(TW_TIME_EPOCH_S, "-1e9", -INT64_C(1000000000) * NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "-2.2089888e9", INT64_C(-2208988800) * NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "-2208988800", TW_TIME_MIN_NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "-2208988800.000000000000", TW_TIME_MIN_NS);
	EPOCH_OK(TW_TIME_EPOCH_S, "-2208988799.999999999", TW_TIME_MIN_NS + 1);
	EPOCH_OK(TW_TIME_EPOCH_MS, "-1", -1000000);
	EPOCH_OK(TW_TIME_EPOCH_MS, "-1.5", -1500000);
	EPOCH_OK(TW_TIME_EPOCH_MS, "-2208988800000", TW_TIME_MIN_NS);
	EPOCH_OK(TW_TIME_EPOCH_MS, "-14256000000", INT64_C(-14256000) * NS);
	EPOCH_OK(TW_TIME_EPOCH_US, "-1", -1000);
	EPOCH_OK(TW_TIME_EPOCH_US, "-2208988800000000", TW_TIME_MIN_NS);
	EPOCH_OK(TW_TIME_EPOCH_NS, "-1", -1);
	EPOCH_OK(TW_TIME_EPOCH_NS, "-2208988800000000000", TW_TIME_MIN_NS);
	/* finer than 1 ns: rounded down, toward the past (away from 0) */
	EPOCH_OK(TW_TIME_EPOCH_NS, "-1.5", -2);
	EPOCH_OK(TW_TIME_EPOCH_NS, "-1.0", -1);
	EPOCH_OK(TW_TIME_EPOCH_NS, "-0.1", -1);
	EPOCH_OK(TW_TIME_EPOCH_S, "-0.0000000015", -2);
	EPOCH_OK(TW_TIME_EPOCH_S, "-0.0000000010", -1);
	EPOCH_OK(TW_TIME_EPOCH_S, "-1e-10", -1);
	EPOCH_OK(TW_TIME_EPOCH_S, "-1e-99999", -1);
	EPOCH_OK(TW_TIME_EPOCH_S, "-0e5", 0);
	EPOCH_OK(TW_TIME_EPOCH_S, "-2208988799.9999999999", TW_TIME_MIN_NS);
}

static void test_epoch_errors(void **state)
{
	(void)state;
	EPOCH_ERR(TW_TIME_EPOCH_S, "", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "-", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, ".", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "abc", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "1.2.3", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "1e", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "1e+", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "e5", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, " 1", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "1 ", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "0x10", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "1,5", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "inf", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "--1", SYNTAX, "not a decimal number");
	EPOCH_ERR(TW_TIME_EPOCH_S, "-2208988801", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_S, "-2208988800.000000001", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_S, "-2208988800.0000000001", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_MS, "-2208988800000.000001", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_MS, "-2208988800001", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_US, "-2208988800000001", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_NS, "-2208988800000000001", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_NS, "-9223372036854775808", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_NS, "-99999999999999999999999999", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_S, "-1e10", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_S, "-1e999999999999", RANGE, BEFORE);
	EPOCH_ERR(TW_TIME_EPOCH_S, "9223372037", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_S, "9223372036.854775808", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_S, "1e10", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_S, "1e999999999999", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_MS, "9223372036855", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_US, "9223372036854776", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_NS, "9223372036854775808", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_NS, "18446744073709551616", RANGE, AFTER);
	EPOCH_ERR(TW_TIME_EPOCH_NS, "99999999999999999999999999", RANGE, AFTER);
}

static void test_epoch_direct(void **state)
{
	char err[64] = "";
	int64_t ns = -1;

	(void)state;
	assert_int_equal(tw_time_parse_epoch("12", 2, TW_TIME_EPOCH_MS, &ns, err, sizeof(err)), 0);
	assert_int_equal(ns, 12000000);
	/* only the given length is read */
	assert_int_equal(tw_time_parse_epoch("1234", 2, TW_TIME_EPOCH_NS, &ns, err, sizeof(err)),
	                 0);
	assert_int_equal(ns, 12);
	assert_int_equal(tw_time_parse_epoch("12", 2, TW_TIME_RFC3339, &ns, err, sizeof(err)),
	                 TW_TIME_E_SPEC);
	assert_string_equal(err, "not an epoch unit");
	/* a NULL errbuf is fine */
	assert_int_equal(tw_time_parse_epoch("x", 1, TW_TIME_EPOCH_S, &ns, NULL, 0), SYNTAX);
}

/* ==== strptime-style formats ==== */

static void test_strptime_valid(void **state)
{
	(void)state;
	STRP_OK("%Y-%m-%d %H:%M:%S", "2026-11-23 05:00:00", T2026 * NS);
	STRP_OK("%Y-%m-%d %H:%M:%S.%f", "2026-11-23 05:00:00.123", T2026 * NS + 123000000);
	STRP_OK("%Y-%m-%d %H:%M:%S.%f", "2026-11-23 05:00:00.123456789", T2026 * NS + 123456789);
	STRP_OK("%Y-%m-%d %H:%M:%S.%f", "2026-11-23 05:00:00.123456789123", T2026 * NS + 123456789);
	STRP_OK("%Y%m%d%H%M%S", "20261123050000", T2026 * NS);
	STRP_OK("%Y-%m-%d", "2026-11-23", (T2026 - 5 * 3600) * NS);
	STRP_OK("%Y-%m-%d", "2026-1-2", INT64_C(1767312000) * NS);
	STRP_OK("%Y", "1970", 0);
	STRP_OK("%d/%m/%Y %H:%M", "23/11/2026 05:00", T2026 * NS);
	STRP_OK("%Y-%m-%dT%H:%M:%S%z", "2026-11-23T07:00:00+02:00", T2026 * NS);
	STRP_OK("%Y-%m-%dT%H:%M:%S%z", "2026-11-23T07:00:00+0200", T2026 * NS);
	STRP_OK("%Y-%m-%dT%H:%M:%S%z", "2026-11-23T07:00:00+02", T2026 * NS);
	STRP_OK("%Y-%m-%dT%H:%M:%S%z", "2026-11-22T23:30:00-0530", T2026 * NS);
	STRP_OK("%Y-%m-%dT%H:%M:%S%z", "2026-11-23T05:00:00Z", T2026 * NS);
	STRP_OK("%Y-%m-%dT%H:%M:%S%z", "2026-11-23T05:00:00z", T2026 * NS);
	STRP_OK("%Y-%m-%d %H:%M:%S %Z", "2026-11-23 05:00:00 UTC", T2026 * NS);
	STRP_OK("%Y-%m-%d %H:%M:%S %Z", "2026-11-23 05:00:00 GMT", T2026 * NS);
	STRP_OK("%Y-%m-%d %H:%M:%S%Z", "2026-11-23 05:00:00Z", T2026 * NS);
	STRP_OK("%d %b %Y %H:%M:%S", "23 Nov 2026 05:00:00", T2026 * NS);
	STRP_OK("%d %b %Y %H:%M:%S", "23 nov 2026 05:00:00", T2026 * NS);
	STRP_OK("%d %B %Y %H:%M:%S", "23 NOVEMBER 2026 05:00:00", T2026 * NS);
	STRP_OK("%d %h %Y %H:%M:%S", "23 November 2026 05:00:00", T2026 * NS);
	STRP_OK("%a, %d %b %Y %H:%M:%S %Z", "Mon, 23 Nov 2026 05:00:00 GMT", T2026 * NS);
	STRP_OK("%A %d %b %Y %T", "monday 23 Nov 2026 05:00:00", T2026 * NS);
	STRP_OK("%Y-%m-%d %I:%M %p", "2026-11-23 05:00 AM", T2026 * NS);
	STRP_OK("%Y-%m-%d %I:%M %p", "2026-11-23 05:00 pm", (T2026 + 12 * 3600) * NS);
	STRP_OK("%Y-%m-%d %I:%M %p", "2026-11-23 12:00 AM", (T2026 - 5 * 3600) * NS);
	STRP_OK("%Y-%m-%d %I:%M %p", "2026-11-23 12:30 PM", (T2026 + 7 * 3600 + 1800) * NS);
	STRP_OK("%Y-%m-%d %I:%M", "2026-11-23 12:00", (T2026 - 5 * 3600) * NS);
	STRP_OK("%Y-%j %H:%M", "2026-327 05:00", T2026 * NS);
	STRP_OK("%Y-%j", "2024-366", INT64_C(1735603200) * NS);
	STRP_OK("%Y-%j", "2024-060", INT64_C(1709164800) * NS);
	STRP_OK("%y-%m-%d", "70-01-01", 0);
	STRP_OK("%y-%m-%d", "26-11-23", (T2026 - 5 * 3600) * NS);
	STRP_OK("%y-%m-%d", "68-01-01", INT64_C(3092601600) * NS);
	STRP_OK("%e.%m.%Y", " 3.01.1970", 2 * 86400 * NS);
	STRP_OK("%e.%m.%Y", "3.01.1970", 2 * 86400 * NS);
	STRP_OK("%F %T", "2026-11-23 05:00:00", T2026 * NS);
	STRP_OK("%F %R", "2026-11-23 05:00", T2026 * NS);
	STRP_OK("%D %T", "11/23/26 05:00:00", T2026 * NS);
	STRP_OK("%s", "1795410000", T2026 * NS);
	STRP_OK("%s.%f", "1795410000.5", T2026 * NS + 500000000);
	STRP_OK("@%s", "@0", 0);
	STRP_OK("%Y%%%m", "2026%11", INT64_C(1793491200) * NS);
	/* white space in the format matches any run, including none */
	STRP_OK("%Y-%m-%d %H:%M:%S", "2026-11-23     05:00:00", T2026 * NS);
	STRP_OK("%Y-%m-%d %H:%M:%S", "2026-11-2305:00:00", T2026 * NS);
	STRP_OK("%Y-%m-%d%n%H:%M:%S", "2026-11-23\t05:00:00", T2026 * NS);
	STRP_OK("%Y-%m-%d%t%H:%M:%S", "2026-11-23\n\r 05:00:00", T2026 * NS);
	STRP_OK(" %Y ", "  2026  ", INT64_C(1767225600) * NS);
}

static void test_strptime_errors(void **state)
{
	(void)state;
	STRP_ERR("%Y-%m-%d", "2026/11/23", SYNTAX, "expected '-' at offset 4");
	STRP_ERR("%Y-%m-%d", "2026-xx-23", SYNTAX, "expected a number for %m at offset 5");
	STRP_ERR("%Y-%m-%d", "", SYNTAX, "expected a number for %Y at offset 0");
	STRP_ERR("%Y-%m-%d", "2026-13-23", SYNTAX, "%m value 13 out of range");
	STRP_ERR("%Y-%m-%d", "2026-00-23", SYNTAX, "%m value 0 out of range");
	STRP_ERR("%Y-%m-%d", "2026-04-31", SYNTAX, "day 31 out of range for 2026-04");
	STRP_ERR("%Y-%m-%d", "2026-02-29", SYNTAX, "day 29 out of range for 2026-02");
	STRP_ERR("%Y-%m-%d", "2026-11-32", SYNTAX, "%d value 32 out of range");
	STRP_ERR("%Y-%m-%d", "2026-11-23x", SYNTAX, "trailing data at offset 10");
	STRP_ERR("%Y-%m-%d", "2026-11-234", SYNTAX, "trailing data at offset 10");
	STRP_ERR("%Y %H", "2026 24", SYNTAX, "%H value 24 out of range");
	STRP_ERR("%Y %I", "2026 13", SYNTAX, "%I value 13 out of range");
	STRP_ERR("%Y %I", "2026 00", SYNTAX, "%I value 0 out of range");
	STRP_ERR("%Y %M", "2026 60", SYNTAX, "%M value 60 out of range");
	STRP_ERR("%Y %S", "2026 60", SYNTAX, "%S value 60 out of range");
	STRP_ERR("%Y %j", "2026 367", SYNTAX, "%j value 367 out of range");
	STRP_ERR("%Y %j", "2026 000", SYNTAX, "%j value 0 out of range");
	STRP_ERR("%Y %j", "2026 366", SYNTAX, "day of year 366 out of range for 2026");
	STRP_ERR("%Y %I %p", "2026 05 XM", SYNTAX, "expected AM or PM at offset 8");
	STRP_ERR("%Y %p", "2026 A", SYNTAX, "expected AM or PM at offset 5");
	STRP_ERR("%Y %b", "2026 Foo", SYNTAX, "expected a month name at offset 5");
	STRP_ERR("%Y %b", "2026 Ju", SYNTAX, "expected a month name at offset 5");
	STRP_ERR("%a %Y", "Xyz 2026", SYNTAX, "expected a weekday name at offset 0");
	STRP_ERR("%Y%z", "2026", SYNTAX, "expected Z or +hh:mm at offset 4");
	STRP_ERR("%Y%z", "2026+", SYNTAX, "expected an offset hour 00-23 at offset 5");
	STRP_ERR("%Y%z", "2026+24", SYNTAX, "expected an offset hour 00-23 at offset 7");
	STRP_ERR("%Y%z", "2026+02:60", SYNTAX, "expected an offset minute 00-59 at offset 10");
	STRP_ERR("%Y %Z", "2026 CET", SYNTAX, "expected UTC, GMT or Z at offset 5");
	STRP_ERR("%Y %f", "2026 x", SYNTAX, "expected digits for %f at offset 5");
	STRP_ERR("%s", "x", SYNTAX, "expected a number for %s at offset 0");
	STRP_ERR("%Y%%", "2026x", SYNTAX, "expected '%' at offset 4");
	STRP_ERR("%s", "-x", SYNTAX, "expected a number for %s at offset 1");
	STRP_ERR("%s", "--1", SYNTAX, "expected a number for %s at offset 1");
	STRP_ERR("%Y", "1899", RANGE, BEFORE);
	STRP_ERR("%Y", "0000", RANGE, BEFORE);
	STRP_ERR("%Y-%m-%d %H:%M:%S.%f", "1899-12-31 23:59:59.999999999", RANGE, BEFORE);
	STRP_ERR("%Y %z", "1900 +01:00", RANGE, BEFORE);
	STRP_ERR("%F", "1900-02-29", SYNTAX, "day 29 out of range for 1900-02");
	STRP_ERR("%Y %j", "1900 366", SYNTAX, "day of year 366 out of range for 1900");
	STRP_ERR("%s", "-2208988801", RANGE, BEFORE);
	STRP_ERR("%s.%f", "-2208988800.000000001", RANGE, BEFORE);
	STRP_ERR("%s.%f", "-2208988800.0000000001", RANGE, BEFORE);
	STRP_ERR("%s", "-9999999999999999999999", RANGE, BEFORE);
	STRP_ERR("%Y", "2263", RANGE, AFTER);
	STRP_ERR("%Y", "9999", RANGE, AFTER);
	STRP_OK("%Y %z", "1970 +01:00", -3600 * NS);
	STRP_ERR("%s", "9223372037", RANGE, AFTER);
	STRP_ERR("%s", "9999999999999999999999", RANGE, AFTER);
	STRP_ERR("%s.%f", "9223372036.854775808", RANGE, AFTER);
	STRP_OK("%s.%f", "9223372036.854775807", INT64_MAX);
	/* before 1970, down to 1900, every conversion */
	STRP_OK("%y", "69", INT64_C(-31536000) * NS);
	STRP_OK("%Y", "1969", INT64_C(-31536000) * NS);
	STRP_OK("%Y", "1900", TW_TIME_MIN_NS);
	STRP_OK("%D", "01/01/69", INT64_C(-31536000) * NS);
	STRP_OK("%Y-%m-%d %H:%M:%S.%f", "1969-12-31 23:59:59.999999999", -1);
	STRP_OK("%Y-%m-%d %H:%M:%S.%f", "1969-12-31 23:59:59.9999999999", -1);
	STRP_OK("%d/%m/%Y %H:%M", "01/01/1900 00:00", TW_TIME_MIN_NS);
	STRP_OK("%d %b %Y %I:%M %p", "20 Jul 1969 08:17 PM", (INT64_C(-14256000) + 73020) * NS);
	STRP_OK("%Y %j", "1904 366", INT64_C(-2051308800) * NS);
	STRP_OK("%Y %j", "1900 365", (T1900 + 364 * 86400) * NS);
	STRP_OK("%F", "1904-02-29", INT64_C(-2077747200) * NS);
	STRP_OK("%F", "2000-02-29", INT64_C(951782400) * NS);
	STRP_OK("%F %T%z", "1900-01-01 01:00:00+01:00", TW_TIME_MIN_NS);
	/* %s with a sign; a fraction after a '-' is part of the magnitude */
	STRP_OK("%s", "-1", -NS);
	STRP_OK("%s", "+1", NS);
	STRP_OK("%s", "-0", 0);
	STRP_OK("%s", "-2208988800", TW_TIME_MIN_NS);
	STRP_OK("%s.%f", "-1.5", -NS - NS / 2);
	STRP_OK("%s.%f", "-0.5", -NS / 2);
	STRP_OK("%s.%f", "-0.000000001", -1);
	STRP_OK("%s.%f", "-0.0000000015", -2);
	STRP_OK("%s.%f", "-0.9999999999", -NS);
	STRP_OK("%s.%f", "-1.999999999", -2 * NS + 1);
	STRP_OK("%s.%f", "-2208988800.000", TW_TIME_MIN_NS);
	STRP_OK("%s.%f", "-2208988799.9999999999", TW_TIME_MIN_NS);
	STRP_OK("t=%s", "t=-60", -60 * NS);
}

static void check_spec_err(enum tw_time_kind kind, const char *fmt, const char *reason, int line)
{
	struct tw_time_spec spec;
	char err[256] = "";
	int r = tw_time_spec_init(&spec, kind, fmt, err, sizeof(err));

	if (r != TW_TIME_E_SPEC || strcmp(err, reason) != 0)
		fail_msg("line %d: [%s]: got %d [%s], want [%s]", line, fmt ? fmt : "(null)", r,
		         err, reason);
}

#define SPEC_ERR(kind, fmt, reason) check_spec_err(kind, fmt, reason, __LINE__)

static void test_spec(void **state)
{
	struct tw_time_spec spec;
	char err[128];
	char longfmt[TW_TIME_FMT_MAX + 1];
	int64_t ns;

	(void)state;
	SPEC_ERR(TW_TIME_UNSET, NULL,
	         "the timestamp kind is not set (rfc3339, epoch_s, epoch_ms, epoch_us, "
	         "epoch_ns or strptime)");
	SPEC_ERR((enum tw_time_kind)99, NULL,
	         "the timestamp kind is not set (rfc3339, epoch_s, epoch_ms, epoch_us, "
	         "epoch_ns or strptime)");
	SPEC_ERR(TW_TIME_STRPTIME, NULL, "the strptime kind needs a format");
	SPEC_ERR(TW_TIME_STRPTIME, "", "the strptime kind needs a format");
	memset(longfmt, 'x', TW_TIME_FMT_MAX);
	memcpy(longfmt, "%Y", 2);
	longfmt[TW_TIME_FMT_MAX] = '\0';
	SPEC_ERR(TW_TIME_STRPTIME, longfmt, "format longer than 63 bytes");
	longfmt[TW_TIME_FMT_MAX - 1] = '\0';
	assert_int_equal(tw_time_spec_init(&spec, TW_TIME_STRPTIME, longfmt, err, sizeof(err)), 0);
	SPEC_ERR(TW_TIME_STRPTIME, "%Y-%", "format ends with a lone '%'");
	SPEC_ERR(TW_TIME_STRPTIME, "%Y %Q", "unsupported conversion %Q in format");
	SPEC_ERR(TW_TIME_STRPTIME, "%Y %c", "unsupported conversion %c in format");
	SPEC_ERR(TW_TIME_STRPTIME, "%m-%d %H:%M", "format has no year (%Y, %y, %F or %D) nor %s");
	SPEC_ERR(TW_TIME_STRPTIME, "%s %Y", "%s can only be combined with %f and literal text");
	SPEC_ERR(TW_TIME_STRPTIME, "%s%z", "%s can only be combined with %f and literal text");
	SPEC_ERR(TW_TIME_STRPTIME, "%Y-%j-%m",
	         "%j cannot be combined with a month or a day of month");
	SPEC_ERR(TW_TIME_STRPTIME, "%F %j", "%j cannot be combined with a month or a day of month");

	/* a format given with another kind is ignored */
	assert_int_equal(tw_time_spec_init(&spec, TW_TIME_RFC3339, "%Q", err, sizeof(err)), 0);
	assert_int_equal(spec.kind, TW_TIME_RFC3339);
	assert_string_equal(spec.fmt, "");
	/* NULL errbuf */
	assert_int_equal(tw_time_spec_init(&spec, TW_TIME_UNSET, NULL, NULL, 0), TW_TIME_E_SPEC);
	/* a zeroed spec parses nothing */
	memset(&spec, 0, sizeof(spec));
	assert_int_equal(tw_time_parse(&spec, "0", 1, &ns, err, sizeof(err)), TW_TIME_E_SPEC);
	assert_string_equal(err, "the timestamp kind is not set");
	/* a tiny errbuf is cut, still NUL-terminated */
	assert_int_equal(tw_time_parse_rfc3339("x", 1, &ns, err, 8), SYNTAX);
	assert_string_equal(err, "expecte");
}

static void test_kind_names(void **state)
{
	static const struct {
		const char *name;
		enum tw_time_kind kind;
	} kinds[] = {
	    {"rfc3339", TW_TIME_RFC3339},   {"epoch_s", TW_TIME_EPOCH_S},
	    {"epoch_ms", TW_TIME_EPOCH_MS}, {"epoch_us", TW_TIME_EPOCH_US},
	    {"epoch_ns", TW_TIME_EPOCH_NS}, {"strptime", TW_TIME_STRPTIME},
	};
	enum tw_time_kind k = TW_TIME_UNSET;

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_int_equal(tw_time_kind_parse(kinds[i].name, &k), 0);
		assert_int_equal(k, kinds[i].kind);
		assert_string_equal(tw_time_kind_name(kinds[i].kind), kinds[i].name);
	}
	k = TW_TIME_EPOCH_S;
	assert_int_equal(tw_time_kind_parse("RFC3339", &k), -1);
	assert_int_equal(tw_time_kind_parse("epoch", &k), -1);
	assert_int_equal(tw_time_kind_parse("unset", &k), -1);
	assert_int_equal(tw_time_kind_parse("", &k), -1);
	assert_int_equal(tw_time_kind_parse(NULL, &k), -1);
	assert_int_equal(k, TW_TIME_EPOCH_S);
	assert_string_equal(tw_time_kind_name(TW_TIME_UNSET), "unset");
	assert_string_equal(tw_time_kind_name((enum tw_time_kind) - 1), "unset");
	assert_string_equal(tw_time_kind_name((enum tw_time_kind)42), "unset");
}

/* ==== Formatting ==== */

static void check_format(int64_t ns, const char *want)
{
	char buf[CLOCK_RFC3339_MAX];
	int n = clock_format_rfc3339(ns, buf, sizeof(buf));

	if (n != (int)strlen(want) || strcmp(buf, want) != 0)
		fail_msg("%lld: got %d [%s], want [%s]", (long long)ns, n, buf, want);
}

static void test_format(void **state)
{
	char buf[64];

	(void)state;
	check_format(0, "1970-01-01T00:00:00Z");
	check_format(1, "1970-01-01T00:00:00.000000001Z");
	check_format(T2026 * NS, "2026-11-23T05:00:00Z");
	check_format(T2026 * NS + 123000000, "2026-11-23T05:00:00.123Z");
	check_format(T2026 * NS + 120000000, "2026-11-23T05:00:00.120Z");
	check_format(T2026 * NS + 123456000, "2026-11-23T05:00:00.123456Z");
	check_format(T2026 * NS + 123456789, "2026-11-23T05:00:00.123456789Z");
	check_format(T2026 * NS + 1000, "2026-11-23T05:00:00.000001Z");
	check_format(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
	check_format(-1, "1969-12-31T23:59:59.999999999Z");
	check_format(-NS, "1969-12-31T23:59:59Z");
	check_format(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
	check_format(INT64_C(951782400) * NS, "2000-02-29T00:00:00Z");
	/* before 1970: floor, never truncation toward 0 */
	check_format(-1000, "1969-12-31T23:59:59.999999Z");
	check_format(-1000000, "1969-12-31T23:59:59.999Z");
	check_format(-NS / 2, "1969-12-31T23:59:59.500Z");
	check_format(-NS - 1, "1969-12-31T23:59:58.999999999Z");
	check_format(-86400 * NS, "1969-12-31T00:00:00Z");
	check_format(-86400 * NS - 1, "1969-12-30T23:59:59.999999999Z");
	check_format(TW_TIME_MIN_NS, "1900-01-01T00:00:00Z");
	check_format(TW_TIME_MIN_NS - 1, "1899-12-31T23:59:59.999999999Z");
	check_format(TW_TIME_MIN_NS + 1, "1900-01-01T00:00:00.000000001Z");
	check_format(INT64_C(-2203891200) * NS - 1, "1900-02-28T23:59:59.999999999Z");
	check_format(INT64_C(-2077747200) * NS, "1904-02-29T00:00:00Z");

	/* too small: -1 and an empty string */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(clock_format_rfc3339(0, buf, 20), -1);
	assert_string_equal(buf, "");
	assert_int_equal(clock_format_rfc3339(0, buf, 21), 20);
	assert_int_equal(clock_format_rfc3339(0, buf, 0), -1);
	assert_int_equal(clock_format_rfc3339(0, NULL, 0), -1);
}

/* format -> parse gives the same ns, over the whole range (xorshift). */
static void test_format_round_trip(void **state)
{
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
	char buf[CLOCK_RFC3339_MAX], err[128];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		int64_t ns, back = -1;
		int n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ns = (int64_t)(x >> 1);
		if (i % 2 == 1) /* half of them before 1970, down to 1900 */
			ns = -(ns % (-TW_TIME_MIN_NS + 1));
		if (i % 4 == 1)
			ns -= ns % NS; /* whole seconds */
		else if (i % 4 == 2)
			ns -= ns % 1000000; /* ms */
		n = clock_format_rfc3339(ns, buf, sizeof(buf));
		assert_true(n > 0);
		if (tw_time_parse_rfc3339(buf, (size_t)n, &back, err, sizeof(err)) != 0 ||
		    back != ns)
			fail_msg("%lld -> %s -> %lld [%s]", (long long)ns, buf, (long long)back,
			         err);
	}
}

/* ==== Floor division ==== */

static void test_floor_div(void **state)
{
	static const struct {
		int64_t a, b, q, r;
	} cases[] = {
	    {0, 1000, 0, 0},
	    {1, 1000, 0, 1},
	    {999, 1000, 0, 999},
	    {1000, 1000, 1, 0},
	    {-1, 1000, -1, 999},
	    {-999, 1000, -1, 1},
	    {-1000, 1000, -1, 0},
	    {-1001, 1000, -2, 999},
	    {-1, NS, -1, NS - 1},
	    {-NS, NS, -1, 0},
	    {TW_TIME_MIN_NS, NS, T1900, 0},
	    {TW_TIME_MIN_NS, 86400 * NS, T1900 / 86400, 0},
	    {TW_TIME_MIN_NS + 1, 60 * NS, T1900 / 60, 1},
	    {TW_TIME_MIN_NS - 1, 60 * NS, T1900 / 60 - 1, 60 * NS - 1},
	    {INT64_MAX, NS, INT64_C(9223372036), INT64_C(854775807)},
	    {INT64_MIN, 1, INT64_MIN, 0},
	    {INT64_MIN, NS, INT64_C(-9223372037), INT64_C(145224192)},
	    {INT64_MIN + 1, INT64_MAX, -1, 0},
	    {-7, 2, -4, 1},
	    {7, 2, 3, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t q = tw_time_floor_div(cases[i].a, cases[i].b);
		int64_t r = tw_time_floor_mod(cases[i].a, cases[i].b);

		if (q != cases[i].q || r != cases[i].r)
			fail_msg("case %zu: %lld / %lld: got %lld r %lld, want %lld r %lld", i,
			         (long long)cases[i].a, (long long)cases[i].b, (long long)q,
			         (long long)r, (long long)cases[i].q, (long long)cases[i].r);
	}
	/* q * b + r == a and 0 <= r < b, over a sweep around 0 */
	for (int64_t a = -5000; a <= 5000; a++)
		for (int64_t b = 1; b <= 17; b++) {
			int64_t q = tw_time_floor_div(a, b), r = tw_time_floor_mod(a, b);

			assert_true(q * b + r == a && r >= 0 && r < b);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc3339_valid),
	    cmocka_unit_test(test_rfc3339_errors),
	    cmocka_unit_test(test_rfc3339_every_day),
	    cmocka_unit_test(test_epoch_valid),
	    cmocka_unit_test(test_epoch_errors),
	    cmocka_unit_test(test_epoch_direct),
	    cmocka_unit_test(test_strptime_valid),
	    cmocka_unit_test(test_strptime_errors),
	    cmocka_unit_test(test_spec),
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_floor_div),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
