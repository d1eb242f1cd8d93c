/* tw_time.c -- timestamp text to int64 ns and back; see tw_time.h. */
#include "tw_time.h"

#include <string.h>

#include "err.h"

#define NS_PER_S INT64_C(1000000000)
/* INT64_MAX ns = 9223372036 s + 854775807 ns. */
#define MAX_S INT64_C(9223372036)
#define MAX_S_FRAC INT64_C(854775807)
/* TW_TIME_MIN_NS in whole seconds (it has no fraction). */
#define MIN_S (TW_TIME_MIN_NS / NS_PER_S)
/* |TW_TIME_MIN_NS|, for magnitudes read before their sign is applied. */
#define MIN_MAGNITUDE ((uint64_t)(-(TW_TIME_MIN_NS + 1)) + 1u)

#define RANGE_TEXT "(the range is " TW_TIME_MIN_TEXT " to " TW_TIME_MAX_TEXT ")"
#define REASON_BEFORE "before " TW_TIME_MIN_TEXT " " RANGE_TEXT
#define REASON_AFTER "after " TW_TIME_MAX_TEXT " " RANGE_TEXT

_Static_assert(TW_TIME_MIN_NS % NS_PER_S == 0, "the earliest time is a whole second");

int64_t tw_time_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

int64_t tw_time_floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;

	if (r != 0 && (r < 0) != (b < 0))
		r += b;
	return r;
}

/* ==== Calendar ==== */

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil, exact for every year an int64 ns can reach). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Seconds since the epoch (may be negative) plus a fraction in [0, 1e9)
 * into ns, refusing what lies outside TW_TIME_MIN_NS .. TW_TIME_MAX_NS. */
static int secs_to_ns(int64_t secs, int64_t frac_ns, int64_t *ns, char *errbuf, size_t errbuf_size)
{
	if (secs < MIN_S)
		return err_set(errbuf, errbuf_size, TW_TIME_E_RANGE, REASON_BEFORE);
	if (secs > MAX_S || (secs == MAX_S && frac_ns > MAX_S_FRAC))
		return err_set(errbuf, errbuf_size, TW_TIME_E_RANGE, REASON_AFTER);
	*ns = secs * NS_PER_S + frac_ns;
	return TW_TIME_OK;
}

/* The one place a calendar date and a clock time become ns. offset_s is
 * the zone's offset east of UTC, subtracted to get UTC. */
static int civil_to_ns(int64_t y, int mo, int d, int h, int mi, int s, int64_t frac_ns,
                       int offset_s, int64_t *ns, char *errbuf, size_t errbuf_size)
{
	int64_t secs;

	if (mo < 1 || mo > 12)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "month %d out of range", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX,
		               "day %d out of range for %04lld-%02d", d, (long long)y, mo);
	if (h > 23)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "hour %d out of range", h);
	if (mi > 59)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "minute %d out of range", mi);
	/* 60 is a leap second; int64 ns since the epoch (like POSIX time)
	 * has no place for it, and guessing would shift the window. */
	if (s > 59)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "second %d out of range", s);
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
	return secs_to_ns(secs, frac_ns, ns, errbuf, errbuf_size);
}

/* ==== RFC 3339 ==== */

/* Reads exactly n digits at s[*i]; -1 if any is not a digit. */
static int fixed_digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;

	for (int k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[*i] - '0');
		(*i)++;
	}
	*out = v;
	return 0;
}

static int expect_char(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

#define RFC_EXPECT(what)                                                                           \
	err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "expected %s at offset %zu", (what), i)

int tw_time_parse_rfc3339(const char *s, size_t len, int64_t *ns, char *errbuf, size_t errbuf_size)
{
	size_t i = 0;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0;

	if (fixed_digits(s, len, &i, 4, &y) < 0)
		return RFC_EXPECT("a 4-digit year");
	if (expect_char(s, len, &i, '-') < 0)
		return RFC_EXPECT("'-'");
	if (fixed_digits(s, len, &i, 2, &mo) < 0)
		return RFC_EXPECT("a 2-digit month");
	if (expect_char(s, len, &i, '-') < 0)
		return RFC_EXPECT("'-'");
	if (fixed_digits(s, len, &i, 2, &d) < 0)
		return RFC_EXPECT("a 2-digit day");
	if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
		return RFC_EXPECT("'T'");
	i++;
	if (fixed_digits(s, len, &i, 2, &h) < 0)
		return RFC_EXPECT("a 2-digit hour");
	if (expect_char(s, len, &i, ':') < 0)
		return RFC_EXPECT("':'");
	if (fixed_digits(s, len, &i, 2, &mi) < 0)
		return RFC_EXPECT("a 2-digit minute");
	if (expect_char(s, len, &i, ':') < 0)
		return RFC_EXPECT("':'");
	if (fixed_digits(s, len, &i, 2, &sec) < 0)
		return RFC_EXPECT("a 2-digit second");
	if (i < len && s[i] == '.') {
		int digits = 0;

		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (digits < 9) {
				frac = frac * 10 + (s[i] - '0');
				digits++;
			}
			i++;
		}
		if (digits == 0)
			return RFC_EXPECT("a digit after '.'");
		while (digits++ < 9)
			frac *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		i++;
		if (fixed_digits(s, len, &i, 2, &oh) < 0)
			return RFC_EXPECT("a 2-digit offset hour");
		if (expect_char(s, len, &i, ':') < 0)
			return RFC_EXPECT("':'");
		if (fixed_digits(s, len, &i, 2, &om) < 0)
			return RFC_EXPECT("a 2-digit offset minute");
		if (oh > 23)
			return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX,
			               "offset hour %d out of range", oh);
		if (om > 59)
			return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX,
			               "offset minute %d out of range", om);
	} else if (i >= len) {
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX,
		               "missing UTC offset ('Z' or +hh:mm) at offset %zu", i);
	} else {
		return RFC_EXPECT("'Z' or a +hh:mm offset");
	}
	if (i != len)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "trailing data at offset %zu",
		               i);
	return civil_to_ns(y, mo, d, h, mi, sec, frac, sign * (oh * 3600 + om * 60), ns, errbuf,
	                   errbuf_size);
}

#undef RFC_EXPECT

/* ==== Epoch numbers ==== */

static int unit_exp10(enum tw_time_kind unit)
{
	switch (unit) {
	case TW_TIME_EPOCH_S:
		return 9;
	case TW_TIME_EPOCH_MS:
		return 6;
	case TW_TIME_EPOCH_US:
		return 3;
	case TW_TIME_EPOCH_NS:
		return 0;
	default:
		return -1;
	}
}

int tw_time_parse_epoch(const char *s, size_t len, enum tw_time_kind unit, int64_t *ns,
                        char *errbuf, size_t errbuf_size)
{
	/* The digits are kept as text, not a double: 1700000000.123 s must be
	 * exactly 1700000000123000000 ns, which a double cannot hold. */
	const char *sig = NULL; /* first significant digit (not a leading zero) */
	size_t nsig = 0;        /* digits from sig on, trailing ones included */
	int64_t point = 0;      /* the power of ten of the last digit seen */
	int64_t exp = 0;
	int neg = 0, ndigits = 0, scale = unit_exp10(unit);
	size_t i = 0;
	uint64_t acc = 0;
	int64_t shift;

	if (scale < 0)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC, "not an epoch unit");
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++) {
		if (sig == NULL && s[i] != '0')
			sig = s + i;
		if (sig != NULL)
			nsig++;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++) {
			point--;
			if (sig == NULL && s[i] != '0')
				sig = s + i;
			if (sig != NULL)
				nsig++;
		}
	}
	if (ndigits == 0)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "not a decimal number");
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0, edigits = 0;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			eneg = s[i++] == '-';
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, edigits++)
			if (exp < 100000) /* far past any int64; keeps exp bounded */
				exp = exp * 10 + (s[i] - '0');
		if (edigits == 0)
			return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX,
			               "not a decimal number");
		if (eneg)
			exp = -exp;
	}
	if (i != len)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "not a decimal number");
	if (sig == NULL) {
		*ns = 0;
		return TW_TIME_OK;
	}
	/* value = digits(sig, nsig) * 10^shift in ns; the significant digits
	 * may straddle the '.', which is skipped below. acc is the magnitude,
	 * the sign applied last. */
	shift = point + exp + scale;
	{
		int64_t keep = (int64_t)nsig + (shift < 0 ? shift : 0);
		int64_t k = 0;
		int dropped = 0; /* a non-zero digit finer than 1 ns */
		const char *c = sig;

		if (keep + (shift > 0 ? shift : 0) > 19)
			return err_set(errbuf, errbuf_size, TW_TIME_E_RANGE,
			               neg ? REASON_BEFORE : REASON_AFTER);
		for (; k < keep; c++) {
			if (*c == '.')
				continue;
			acc = acc * 10 + (uint64_t)(*c - '0');
			k++;
		}
		for (; k < (int64_t)nsig; c++) {
			if (*c == '.')
				continue;
			dropped |= *c != '0';
			k++;
		}
		for (int64_t z = 0; z < shift; z++)
			acc *= 10; /* at most 19 digits in all: cannot wrap */
		/* Rounding down: toward zero for a positive number, away from
		 * it for a negative one (-1.5 ns is -2 ns). */
		if (neg && dropped)
			acc++;
	}
	if (neg) {
		if (acc > MIN_MAGNITUDE)
			return err_set(errbuf, errbuf_size, TW_TIME_E_RANGE, REASON_BEFORE);
		*ns = acc == 0 ? 0 : -(int64_t)(acc - 1) - 1;
		return TW_TIME_OK;
	}
	if (acc > (uint64_t)INT64_MAX)
		return err_set(errbuf, errbuf_size, TW_TIME_E_RANGE, REASON_AFTER);
	*ns = (int64_t)acc;
	return TW_TIME_OK;
}

/* ==== strptime-style formats ==== */

static const char *const month_names[12] = {"january",   "february", "march",    "april",
                                            "may",       "june",     "july",     "august",
                                            "september", "october",  "november", "december"};
static const char *const weekday_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                             "thursday", "friday", "saturday"};

struct tm_parts {
	int64_t year;
	int mon, mday, yday, hour, min, sec, pm, offset_s;
	int64_t frac_ns, epoch;
	unsigned have_year : 1, have_yday : 1, have_epoch : 1, hour12 : 1;
	unsigned epoch_neg : 1;    /* %s had a '-' */
	unsigned frac_dropped : 1; /* %f had a non-zero digit past the 9th */
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Matches a full or 3-letter English name, any case; returns its index. */
static int match_name(const char *s, size_t len, size_t *i, const char *const *names, int n)
{
	for (int k = 0; k < n; k++) {
		size_t full = strlen(names[k]), m = 0;

		while (m < full && *i + m < len && lower((unsigned char)s[*i + m]) == names[k][m])
			m++;
		if (m == full || m == 3) {
			*i += m;
			return k;
		}
	}
	return -1;
}

/* 1 to width digits, greedy. */
static int read_num(const char *s, size_t len, size_t *i, int width, int64_t *out)
{
	int64_t v = 0;
	int n = 0;

	while (n < width && *i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (s[*i] - '0');
		(*i)++;
		n++;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

static int strp_match(const char *fmt, const char *s, size_t len, size_t *i, struct tm_parts *tm,
                      char *errbuf, size_t errbuf_size);

#define STRP_FAIL(...) err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, __VA_ARGS__)

static int strp_num(const char *s, size_t len, size_t *i, char conv, int width, int64_t lo,
                    int64_t hi, int64_t *out, char *errbuf, size_t errbuf_size)
{
	if (read_num(s, len, i, width, out) < 0)
		return STRP_FAIL("expected a number for %%%c at offset %zu", conv, *i);
	if (*out < lo || *out > hi)
		return STRP_FAIL("%%%c value %lld out of range", conv, (long long)*out);
	return 0;
}

static int strp_conv(char conv, const char *s, size_t len, size_t *i, struct tm_parts *tm,
                     char *errbuf, size_t errbuf_size)
{
	int64_t v;
	int k, r;

	switch (conv) {
	case 'Y':
		r = strp_num(s, len, i, conv, 4, 0, 9999, &v, errbuf, errbuf_size);
		tm->year = v;
		tm->have_year = 1;
		return r;
	case 'y':
		r = strp_num(s, len, i, conv, 2, 0, 99, &v, errbuf, errbuf_size);
		tm->year = v < 69 ? 2000 + v : 1900 + v; /* POSIX */
		tm->have_year = 1;
		return r;
	case 'm':
		r = strp_num(s, len, i, conv, 2, 1, 12, &v, errbuf, errbuf_size);
		tm->mon = (int)v;
		return r;
	case 'e':
		while (*i < len && s[*i] == ' ')
			(*i)++;
		/* fall through */
	case 'd':
		r = strp_num(s, len, i, conv, 2, 1, 31, &v, errbuf, errbuf_size);
		tm->mday = (int)v;
		return r;
	case 'H':
		r = strp_num(s, len, i, conv, 2, 0, 23, &v, errbuf, errbuf_size);
		tm->hour = (int)v;
		return r;
	case 'I':
		r = strp_num(s, len, i, conv, 2, 1, 12, &v, errbuf, errbuf_size);
		tm->hour = (int)v;
		tm->hour12 = 1;
		return r;
	case 'M':
		r = strp_num(s, len, i, conv, 2, 0, 59, &v, errbuf, errbuf_size);
		tm->min = (int)v;
		return r;
	case 'S':
		r = strp_num(s, len, i, conv, 2, 0, 59, &v, errbuf, errbuf_size);
		tm->sec = (int)v;
		return r;
	case 'j':
		r = strp_num(s, len, i, conv, 3, 1, 366, &v, errbuf, errbuf_size);
		tm->yday = (int)v;
		tm->have_yday = 1;
		return r;
	case 'f': {
		int digits = 0;
		int64_t frac = 0;

		while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
			if (digits < 9) {
				frac = frac * 10 + (s[*i] - '0');
				digits++;
			} else if (s[*i] != '0') {
				tm->frac_dropped = 1;
			}
			(*i)++;
		}
		if (digits == 0)
			return STRP_FAIL("expected digits for %%f at offset %zu", *i);
		while (digits++ < 9)
			frac *= 10;
		tm->frac_ns = frac;
		return 0;
	}
	case 's':
		tm->epoch_neg = 0;
		if (*i < len && (s[*i] == '-' || s[*i] == '+'))
			tm->epoch_neg = s[(*i)++] == '-';
		if (read_num(s, len, i, 18, &v) < 0)
			return STRP_FAIL("expected a number for %%s at offset %zu", *i);
		if (*i < len && s[*i] >= '0' && s[*i] <= '9')
			return err_set(errbuf, errbuf_size, TW_TIME_E_RANGE,
			               tm->epoch_neg ? REASON_BEFORE : REASON_AFTER);
		tm->epoch = v;
		tm->have_epoch = 1;
		return 0;
	case 'p':
		if (*i + 2 <= len && lower((unsigned char)s[*i + 1]) == 'm' &&
		    (lower((unsigned char)s[*i]) == 'a' || lower((unsigned char)s[*i]) == 'p')) {
			tm->pm = lower((unsigned char)s[*i]) == 'p';
			*i += 2;
			return 0;
		}
		return STRP_FAIL("expected AM or PM at offset %zu", *i);
	case 'b':
	case 'h':
	case 'B':
		k = match_name(s, len, i, month_names, 12);
		if (k < 0)
			return STRP_FAIL("expected a month name at offset %zu", *i);
		tm->mon = k + 1;
		return 0;
	case 'a':
	case 'A':
		if (match_name(s, len, i, weekday_names, 7) < 0)
			return STRP_FAIL("expected a weekday name at offset %zu", *i);
		return 0;
	case 'z': {
		int64_t hh, mm = 0;
		int sign;

		if (*i < len && (s[*i] == 'Z' || s[*i] == 'z')) {
			(*i)++;
			tm->offset_s = 0;
			return 0;
		}
		if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
			return STRP_FAIL("expected Z or +hh:mm at offset %zu", *i);
		sign = s[(*i)++] == '-' ? -1 : 1;
		if (*i + 2 > len || read_num(s, len, i, 2, &hh) < 0 || hh > 23)
			return STRP_FAIL("expected an offset hour 00-23 at offset %zu", *i);
		if (*i < len && s[*i] == ':')
			(*i)++;
		if (*i < len && s[*i] >= '0' && s[*i] <= '9') {
			if (read_num(s, len, i, 2, &mm) < 0 || mm > 59)
				return STRP_FAIL("expected an offset minute 00-59 at offset %zu",
				                 *i);
		}
		tm->offset_s = sign * (int)(hh * 3600 + mm * 60);
		return 0;
	}
	case 'Z':
		if (*i + 3 <= len &&
		    (memcmp(s + *i, "UTC", 3) == 0 || memcmp(s + *i, "GMT", 3) == 0)) {
			*i += 3;
		} else if (*i < len && s[*i] == 'Z') {
			(*i)++;
		} else {
			return STRP_FAIL("expected UTC, GMT or Z at offset %zu", *i);
		}
		tm->offset_s = 0;
		return 0;
	case 'T':
		return strp_match("%H:%M:%S", s, len, i, tm, errbuf, errbuf_size);
	case 'F':
		return strp_match("%Y-%m-%d", s, len, i, tm, errbuf, errbuf_size);
	case 'R':
		return strp_match("%H:%M", s, len, i, tm, errbuf, errbuf_size);
	case 'D':
		return strp_match("%m/%d/%y", s, len, i, tm, errbuf, errbuf_size);
	case 'n':
	case 't':
		while (*i < len && is_space((unsigned char)s[*i]))
			(*i)++;
		return 0;
	case '%':
		if (*i < len && s[*i] == '%') {
			(*i)++;
			return 0;
		}
		return STRP_FAIL("expected '%%' at offset %zu", *i);
	default:
		/* tw_time_spec_init() refused it already. */
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC, "unsupported conversion %%%c",
		               conv);
	}
}

static int strp_match(const char *fmt, const char *s, size_t len, size_t *i, struct tm_parts *tm,
                      char *errbuf, size_t errbuf_size)
{
	for (const char *f = fmt; *f != '\0'; f++) {
		if (is_space((unsigned char)*f)) {
			while (*i < len && is_space((unsigned char)s[*i]))
				(*i)++;
		} else if (*f == '%') {
			int r;

			f++;
			if (*f == '\0')
				return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
				               "format ends with a lone '%%'");
			r = strp_conv(*f, s, len, i, tm, errbuf, errbuf_size);
			if (r < 0)
				return r;
		} else {
			if (*i >= len || s[*i] != *f)
				return STRP_FAIL("expected '%c' at offset %zu", *f, *i);
			(*i)++;
		}
	}
	return 0;
}

#undef STRP_FAIL

static int parse_strptime(const char *fmt, const char *s, size_t len, int64_t *ns, char *errbuf,
                          size_t errbuf_size)
{
	struct tm_parts tm;
	size_t i = 0;
	int r, hour;

	memset(&tm, 0, sizeof(tm));
	tm.mon = 1;
	tm.mday = 1;
	tm.pm = -1;
	r = strp_match(fmt, s, len, &i, &tm, errbuf, errbuf_size);
	if (r < 0)
		return r;
	if (i != len)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX, "trailing data at offset %zu",
		               i);
	if (tm.have_epoch) {
		int64_t secs = tm.epoch, frac = tm.frac_ns;

		/* -E.F seconds is -(E + 1) s + (1 - 0.F) s; digits past the 9th
		 * round the magnitude up, the time down, as for epoch numbers. */
		if (tm.epoch_neg) {
			frac += tm.frac_dropped;
			secs = -secs;
			if (frac == NS_PER_S) {
				secs--;
				frac = 0;
			} else if (frac > 0) {
				secs--;
				frac = NS_PER_S - frac;
			}
		}
		return secs_to_ns(secs, frac, ns, errbuf, errbuf_size);
	}
	if (tm.have_yday) {
		int yday = tm.yday;

		if (yday > (is_leap(tm.year) ? 366 : 365))
			return err_set(errbuf, errbuf_size, TW_TIME_E_SYNTAX,
			               "day of year %d out of range for %04lld", yday,
			               (long long)tm.year);
		tm.mon = 1;
		while (yday > days_in_month(tm.year, tm.mon)) {
			yday -= days_in_month(tm.year, tm.mon);
			tm.mon++;
		}
		tm.mday = yday;
	}
	hour = tm.hour;
	if (tm.hour12)
		hour = hour % 12 + (tm.pm == 1 ? 12 : 0);
	return civil_to_ns(tm.year, tm.mon, tm.mday, hour, tm.min, tm.sec, tm.frac_ns, tm.offset_s,
	                   ns, errbuf, errbuf_size);
}

/* Conversions that set a date field; %s may not be mixed with them. */
static int conv_is_date_time(char c)
{
	return strchr("YymdeHIMSjbhBaAzZpTFRD", c) != NULL;
}

static int check_format(const char *fmt, char *errbuf, size_t errbuf_size)
{
	int year = 0, epoch = 0, date_time = 0, yday = 0, month_day = 0;

	if (fmt == NULL || fmt[0] == '\0')
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
		               "the strptime kind needs a format");
	if (strlen(fmt) >= TW_TIME_FMT_MAX)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC, "format longer than %d bytes",
		               TW_TIME_FMT_MAX - 1);
	for (const char *f = fmt; *f != '\0'; f++) {
		if (*f != '%')
			continue;
		f++;
		if (*f == '\0')
			return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
			               "format ends with a lone '%%'");
		if (strchr("YymdeHIMSjbhBaAzZpTFRDfsnt%", *f) == NULL)
			return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
			               "unsupported conversion %%%c in format", *f);
		year |= *f == 'Y' || *f == 'y' || *f == 'F' || *f == 'D';
		epoch |= *f == 's';
		date_time |= conv_is_date_time(*f);
		yday |= *f == 'j';
		month_day |= strchr("mdebhBFD", *f) != NULL;
	}
	if (epoch && date_time)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
		               "%%s can only be combined with %%f and literal text");
	if (!epoch && !year)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
		               "format has no year (%%Y, %%y, %%F or %%D) nor %%s");
	if (yday && month_day)
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
		               "%%j cannot be combined with a month or a day of month");
	return 0;
}

/* ==== Public ==== */

static const char *const kind_names[] = {
    [TW_TIME_UNSET] = "unset",       [TW_TIME_RFC3339] = "rfc3339",
    [TW_TIME_EPOCH_S] = "epoch_s",   [TW_TIME_EPOCH_MS] = "epoch_ms",
    [TW_TIME_EPOCH_US] = "epoch_us", [TW_TIME_EPOCH_NS] = "epoch_ns",
    [TW_TIME_STRPTIME] = "strptime",
};

int tw_time_kind_parse(const char *name, enum tw_time_kind *kind)
{
	if (name == NULL)
		return -1;
	for (int k = TW_TIME_RFC3339; k <= TW_TIME_STRPTIME; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*kind = (enum tw_time_kind)k;
			return 0;
		}
	}
	return -1;
}

const char *tw_time_kind_name(enum tw_time_kind kind)
{
	if ((int)kind < TW_TIME_RFC3339 || kind > TW_TIME_STRPTIME)
		return kind_names[TW_TIME_UNSET];
	return kind_names[kind];
}

int tw_time_spec_init(struct tw_time_spec *spec, enum tw_time_kind kind, const char *fmt,
                      char *errbuf, size_t errbuf_size)
{
	memset(spec, 0, sizeof(*spec));
	switch (kind) {
	case TW_TIME_RFC3339:
	case TW_TIME_EPOCH_S:
	case TW_TIME_EPOCH_MS:
	case TW_TIME_EPOCH_US:
	case TW_TIME_EPOCH_NS:
		break;
	case TW_TIME_STRPTIME: {
		int r = check_format(fmt, errbuf, errbuf_size);

		if (r < 0)
			return r;
		memcpy(spec->fmt, fmt, strlen(fmt) + 1);
		break;
	}
	default:
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
		               "the timestamp kind is not set (rfc3339, epoch_s, epoch_ms, "
		               "epoch_us, epoch_ns or strptime)");
	}
	spec->kind = kind;
	return 0;
}

int tw_time_parse(const struct tw_time_spec *spec, const char *s, size_t len, int64_t *ns,
                  char *errbuf, size_t errbuf_size)
{
	switch (spec->kind) {
	case TW_TIME_RFC3339:
		return tw_time_parse_rfc3339(s, len, ns, errbuf, errbuf_size);
	case TW_TIME_EPOCH_S:
	case TW_TIME_EPOCH_MS:
	case TW_TIME_EPOCH_US:
	case TW_TIME_EPOCH_NS:
		return tw_time_parse_epoch(s, len, spec->kind, ns, errbuf, errbuf_size);
	case TW_TIME_STRPTIME:
		return parse_strptime(spec->fmt, s, len, ns, errbuf, errbuf_size);
	default:
		return err_set(errbuf, errbuf_size, TW_TIME_E_SPEC,
		               "the timestamp kind is not set");
	}
}
