/* parquet_text.c -- Parquet values as text; see parquet_text.h. */
#include "parquet_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"

/* snprintf's result as ours: the length, or -1 when it did not fit. */
static int fitted(int n, size_t size)
{
	return n >= 0 && (size_t)n < size ? n : -1;
}

/* The proleptic Gregorian date of a day count since 1970-01-01 (Howard
 * Hinnant's civil_from_days: http://howardhinnant.github.io/date_algorithms.html). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int pqtext_date(int64_t days, char *buf, size_t size)
{
	int64_t y;
	unsigned m, d;

	/* Past this the arithmetic below would overflow; no file holds it. */
	if (days < -(INT64_C(1) << 50) || days > (INT64_C(1) << 50))
		return -1;
	civil(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		return fitted(snprintf(buf, size, "%04" PRId64 "-%02u-%02u", y, m, d), size);
	if (y < 0)
		return fitted(snprintf(buf, size, "-%04" PRId64 "-%02u-%02u", -y, m, d), size);
	return fitted(snprintf(buf, size, "+%" PRId64 "-%02u-%02u", y, m, d), size);
}

static int64_t per_second(enum pqtext_unit unit, int *digits)
{
	switch (unit) {
	case PQTEXT_MILLIS:
		*digits = 3;
		return 1000;
	case PQTEXT_MICROS:
		*digits = 6;
		return 1000000;
	case PQTEXT_NANOS:
		*digits = 9;
		return 1000000000;
	}
	return 0;
}

/* floor(a / b) and the non-negative remainder, for b > 0. */
static int64_t floor_div(int64_t a, int64_t b, int64_t *rem)
{
	int64_t q = a / b, r = a % b;

	if (r < 0) {
		q--;
		r += b;
	}
	*rem = r;
	return q;
}

/* "T05:00:00.123" (with the 'T' when t is set) for a time of day. */
static int clock_text(int64_t sod, int64_t frac, int digits, int t, char *buf, size_t size)
{
	return fitted(snprintf(buf, size, "%s%02d:%02d:%02d.%0*" PRId64, t ? "T" : "",
	                       (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), digits,
	                       frac),
	              size);
}

/* The date of days, then the time of day (sod seconds and frac). */
static int date_time(int64_t days, int64_t sod, int64_t frac, int digits, const char *zone,
                     char *buf, size_t size)
{
	int n = pqtext_date(days, buf, size);
	if (n < 0)
		return -1;
	int k = clock_text(sod, frac, digits, 1, buf + n, size - (size_t)n);
	if (k < 0)
		return -1;
	n += k;
	k = fitted(snprintf(buf + n, size - (size_t)n, "%s", zone), size - (size_t)n);
	return k < 0 ? -1 : n + k;
}

int pqtext_timestamp(int64_t v, enum pqtext_unit unit, int utc, char *buf, size_t size)
{
	int digits;
	int64_t per = per_second(unit, &digits), frac, sod;

	if (per == 0)
		return -1;
	int64_t secs = floor_div(v, per, &frac);
	int64_t days = floor_div(secs, 86400, &sod);
	return date_time(days, sod, frac, digits, utc ? "Z" : "", buf, size);
}

int pqtext_time(int64_t v, enum pqtext_unit unit, char *buf, size_t size)
{
	int digits;
	int64_t per = per_second(unit, &digits), frac;

	if (per == 0 || v < 0 || v >= 86400 * per)
		return -1;
	int64_t secs = floor_div(v, per, &frac);
	return clock_text(secs, frac, digits, 0, buf, size);
}

int pqtext_int96(const uint8_t b[12], char *buf, size_t size)
{
	uint64_t u = 0;
	uint32_t j = 0;
	int64_t ns_day = INT64_C(86400) * 1000000000, nanos, sod, frac;

	for (int i = 7; i >= 0; i--)
		u = u << 8 | b[i];
	for (int i = 11; i >= 8; i--)
		j = j << 8 | b[i];
	/* 2440588 is the Julian day of 1970-01-01. */
	int64_t days = (int64_t)(int32_t)j - 2440588;
	days += floor_div((int64_t)u, ns_day, &nanos);
	int64_t secs = floor_div(nanos, 1000000000, &frac);
	(void)floor_div(secs, 86400, &sod);
	return date_time(days, sod, frac, 9, "", buf, size);
}

/* digits (n of them, no sign) with the point put scale digits from the right. */
static int place_point(int negative, const char *digits, size_t n, int scale, char *buf,
                       size_t size)
{
	size_t o = 0, need;
	size_t s = (size_t)scale;

	/* The digits may be "0" for zero, which has no sign. */
	if (n == 1 && digits[0] == '0')
		negative = 0;
	need = (size_t)negative + (n > s ? n : s + 1) + (s > 0) + 1;
	if (need > size)
		return -1;
	if (negative)
		buf[o++] = '-';
	if (n <= s) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (size_t i = n; i < s; i++)
			buf[o++] = '0';
		memcpy(buf + o, digits, n);
		o += n;
	} else {
		memcpy(buf + o, digits, n - s);
		o += n - s;
		if (s > 0) {
			buf[o++] = '.';
			memcpy(buf + o, digits + n - s, s);
			o += s;
		}
	}
	buf[o] = '\0';
	return (int)o;
}

int pqtext_decimal_int(int64_t unscaled, int scale, char *buf, size_t size)
{
	char digits[24];
	uint64_t mag = unscaled < 0 ? 0 - (uint64_t)unscaled : (uint64_t)unscaled;

	if (scale < 0 || scale > 1000)
		return -1;
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, mag);
	return place_point(unscaled < 0, digits, (size_t)n, scale, buf, size);
}

int pqtext_decimal_be(const uint8_t *be, size_t len, int scale, char *buf, size_t size)
{
	uint8_t mag[PQTEXT_DECIMAL_BYTES_MAX];
	/* 512 bits hold at most 155 decimal digits. */
	char rev[160], digits[160];
	size_t n = 0;
	int negative;

	if (scale < 0 || scale > 1000 || len > PQTEXT_DECIMAL_BYTES_MAX)
		return -1;
	if (len == 0)
		return place_point(0, "0", 1, scale, buf, size);
	negative = (be[0] & 0x80) != 0;
	memcpy(mag, be, len);
	if (negative) { /* two's complement: invert, add one */
		int carry = 1;
		for (size_t i = len; i-- > 0;) {
			int v = (uint8_t)~mag[i] + carry;
			mag[i] = (uint8_t)v;
			carry = v >> 8;
		}
	}
	/* Repeated division by ten, most significant byte first. */
	size_t start = 0;
	while (start < len && mag[start] == 0)
		start++;
	while (start < len) {
		unsigned rem = 0;
		for (size_t i = start; i < len; i++) {
			unsigned cur = rem << 8 | mag[i];
			mag[i] = (uint8_t)(cur / 10);
			rem = cur % 10;
		}
		rev[n++] = (char)('0' + rem);
		while (start < len && mag[start] == 0)
			start++;
	}
	if (n == 0)
		rev[n++] = '0';
	for (size_t i = 0; i < n; i++)
		digits[i] = rev[n - 1 - i];
	return place_point(negative, digits, n, scale, buf, size);
}

static int special(double v, char *buf, size_t size)
{
	const char *s = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
	return fitted(snprintf(buf, size, "%s", s), size);
}

int pqtext_double(double v, char *buf, size_t size)
{
	if (!isfinite(v))
		return special(v, buf, size);
	if (v == 0 && signbit(v)) /* dtoa_shortest writes "0" */
		return fitted(snprintf(buf, size, "-0"), size);
	if (size < 32)
		return -1;
	return dtoa_shortest(v, buf, size);
}

int pqtext_float(float v, char *buf, size_t size)
{
	if (!isfinite(v))
		return special(v, buf, size);
	/* Nine significant digits always read back as the same float. */
	for (int p = 1; p <= 9; p++) {
		int n = fitted(snprintf(buf, size, "%.*g", p, (double)v), size);
		if (n < 0)
			return -1;
		if (p == 9 || strtof(buf, NULL) == v)
			return n;
	}
	return -1;
}

double pqtext_half_value(uint16_t bits)
{
	int e = bits >> 10 & 0x1f, m = bits & 0x3ff;
	double v;

	if (e == 0x1f)
		v = m != 0 ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp(m, -24);
	else
		v = ldexp(m | 0x400, e - 25);
	return (bits & 0x8000) != 0 ? -v : v;
}

/* Whether d rounds (to nearest, ties to even) to the positive finite
 * binary16 with bits b, given the values of its neighbours. */
static int rounds_to(double d, uint16_t b)
{
	double v = pqtext_half_value(b);
	/* Past the largest half, 65504, everything from 65520 on rounds to infinity. */
	double hi = b == 0x7bff ? 65536.0 : pqtext_half_value((uint16_t)(b + 1));
	double lo = b == 0 ? -pqtext_half_value(1) : pqtext_half_value((uint16_t)(b - 1));
	double up = (hi - v) / 2, down = (v - lo) / 2;
	int even = (b & 1) == 0;

	if (d > v)
		return d - v < up || (d - v == up && even);
	return v - d < down || (v - d == down && even);
}

int pqtext_half(uint16_t bits, char *buf, size_t size)
{
	double v = pqtext_half_value(bits);

	if (!isfinite(v))
		return special(v, buf, size);
	/* Five significant digits always read back as the same half. */
	for (int p = 1; p <= 5; p++) {
		int n = fitted(snprintf(buf, size, "%.*g", p, v), size);
		if (n < 0)
			return -1;
		if (p == 5 || rounds_to(fabs(strtod(buf, NULL)), (uint16_t)(bits & 0x7fff)))
			return n;
	}
	return -1;
}

int pqtext_uuid(const uint8_t b[16], char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size < 37)
		return -1;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[b[i] >> 4];
		buf[o++] = hex[b[i] & 0xf];
	}
	buf[o] = '\0';
	return (int)o;
}

size_t pqtext_base64_size(size_t len)
{
	return (len + 2) / 3 * 4 + 1;
}

int pqtext_base64(const uint8_t *p, size_t len, char *buf, size_t size)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;

	if (size < pqtext_base64_size(len) || pqtext_base64_size(len) > INT32_MAX)
		return -1;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		buf[o++] = abc[v >> 18];
		buf[o++] = abc[v >> 12 & 63];
		buf[o++] = abc[v >> 6 & 63];
		buf[o++] = abc[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		buf[o++] = abc[v >> 18];
		buf[o++] = abc[v >> 12 & 63];
		buf[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
		buf[o++] = '=';
	}
	buf[o] = '\0';
	return (int)o;
}
