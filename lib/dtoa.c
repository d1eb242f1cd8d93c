/* dtoa.c -- shortest round-trip decimal text of a double; see dtoa.h. */
#include "dtoa.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exact decimal arithmetic below: v = f * 2^e is scaled by 10^k as
 * f * 5^k / 2^s (s = -(e + k)), which fits 128 bits while k <= 22. */
#define FAST_K_MAX 22

static const uint64_t pow5_u64[FAST_K_MAX + 1] = {
    1ULL,
    5ULL,
    25ULL,
    125ULL,
    625ULL,
    3125ULL,
    15625ULL,
    78125ULL,
    390625ULL,
    1953125ULL,
    9765625ULL,
    48828125ULL,
    244140625ULL,
    1220703125ULL,
    6103515625ULL,
    30517578125ULL,
    152587890625ULL,
    762939453125ULL,
    3814697265625ULL,
    19073486328125ULL,
    95367431640625ULL,
    476837158203125ULL,
    2384185791015625ULL,
};

static const uint64_t pow10_u64[] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
};

typedef unsigned __int128 u128;

/*
 * v (= f * 2^e, f with its leading bit) rounded to prec significant
 * digits, half to even, as printf does: *m (prec digits, or 10^prec when
 * rounding carried) times 10^-*k, and *x the decimal exponent of the
 * first digit. *t and *s hold v * 10^k = t / 2^s for the round-trip test.
 * Returns 0 where that does not fit the arithmetic.
 */
static int round_digits(uint64_t f, int e, int prec, int x, uint64_t *m, int *k, int *xout, u128 *t,
                        int *s)
{
	for (int tries = 0; tries < 3; tries++) {
		int kk = prec - 1 - x;
		int ss = -(e + kk);

		if (kk < 0 || kk > FAST_K_MAX || ss <= 0 || ss >= 120)
			return 0;
		u128 tt = (u128)f * pow5_u64[kk];
		u128 q = tt >> ss;
		if (q >= pow10_u64[prec]) {
			x++; /* the estimate was low */
			continue;
		}
		if (q < pow10_u64[prec - 1]) {
			x--;
			continue;
		}
		u128 r = tt - (q << ss), half = (u128)1 << (ss - 1);
		if (r > half || (r == half && (q & 1)))
			q++;
		*m = (uint64_t)q;
		*k = kk;
		*xout = x;
		*t = tt;
		*s = ss;
		return 1;
	}
	return 0;
}

/*
 * Whether m * 10^-k reads back as v: it lies within half the gap to v's
 * neighbours. With D - v = (m * 2^s - t) / (2^s * 10^k) and half a gap
 * 2^(e-1), that is 2|m * 2^s - t| < 5^k (a quarter below a power of two,
 * whose lower neighbour is closer). 5^k is odd: no ties.
 */
static int reads_back(uint64_t f, uint64_t m, int k, u128 t, int s)
{
	u128 d = (u128)m << s;
	int below = d < t;
	u128 diff = below ? t - d : d - t;
	u128 bound = pow5_u64[k];

	if (below && f == (1ULL << 52))
		return 4 * diff < bound;
	return 2 * diff < bound;
}

/*
 * The text the printf loop in dtoa_shortest writes, for the values
 * windows yield (not integral, 1e-4 <= |v| < 1e15), computed exactly in
 * integers: printf("%.17g") and strtod() work in arbitrary precision and
 * were most of a sink's CPU. Returns the length, or 0 to leave v to printf.
 */
static int format_double_fast(double v, char *buf)
{
	uint64_t bits, m = 0;
	double a = fabs(v);
	int k = 0, x = 0, s = 0, prec;
	u128 t = 0;

	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	memcpy(&bits, &v, sizeof(bits));
	uint64_t f = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
	int e = (int)((bits >> 52) & 0x7ff) - 1075;
	int guess = (int)floor(log10(a));

	for (prec = 15;; prec++) {
		if (!round_digits(f, e, prec, guess, &m, &k, &x, &t, &s))
			return 0;
		if (prec == 17 || reads_back(f, m, k, t, s))
			break;
	}
	if (m == pow10_u64[prec]) { /* 9.99..95 rounded up to 10.00..0 */
		m /= 10;
		x++;
	}
	if (x < -4 || x >= prec)
		return 0; /* printf writes an exponent there */
	char digits[24] = "";
	int nd = prec;
	for (int i = prec - 1; i >= 0; i--, m /= 10)
		digits[i] = (char)('0' + m % 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	char *p = buf;
	if (v < 0)
		*p++ = '-';
	if (x < 0) {
		*p++ = '0';
		*p++ = '.';
		for (int i = 0; i < -x - 1; i++)
			*p++ = '0';
		memcpy(p, digits, (size_t)nd);
		p += nd;
	} else {
		int whole = x + 1;
		for (int i = 0; i < whole; i++)
			*p++ = i < nd ? digits[i] : '0';
		if (nd > whole) {
			*p++ = '.';
			memcpy(p, digits + whole, (size_t)(nd - whole));
			p += nd - whole;
		}
	}
	*p = '\0';
	return (int)(p - buf);
}

int dtoa_shortest(double v, char *buf, size_t size)
{
	int n = -1;

	if (!isfinite(v) || size < 32)
		return -1;
	/* Integral values print as integers: "40", not "4e+01". 2^53 keeps
	 * every such value exact. */
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		if (v == 0)
			return snprintf(buf, size, "0"); /* -0 too: no sign on a zero */
		return snprintf(buf, size, "%" PRId64, (int64_t)v);
	}
	if ((n = format_double_fast(v, buf)) > 0)
		return n;
	/* Shortest of 15, 16 or 17 significant digits that reads back exactly
	 * (17 always does); 15 covers what people type. */
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, size, "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	return n;
}
