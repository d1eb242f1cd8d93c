/* tw_lineproto.c -- line protocol encoding; see tw_lineproto.h. */
#include "tw_lineproto.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *errbuf, size_t errbuf_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errbuf_size, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errbuf_size > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errbuf_size, fmt, ap);
		va_end(ap);
	}
	return TW_LP_E_INVALID;
}

/* ==== Buffer ==== */

void tw_buf_init(struct tw_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int tw_buf_append(struct tw_buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return TW_LP_E_FULL;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		char *data;

		while (cap - b->len < n)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		if (cap > b->max)
			cap = b->max;
		data = realloc(b->data, cap);
		if (data == NULL)
			return TW_LP_E_NOMEM;
		b->data = data;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return TW_LP_OK;
}

void tw_buf_reset(struct tw_buf *b)
{
	b->len = 0;
}

void tw_buf_free(struct tw_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* ==== Numbers ==== */

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
 * The text the printf loop in tw_lp_format_double writes, for the values
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

int tw_lp_format_double(double v, char *buf, size_t size)
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

/* ==== Escaping ==== */

enum elem {
	ELEM_MEASUREMENT,
	ELEM_TAG_KEY,
	ELEM_TAG_VALUE,
	ELEM_FIELD_KEY,
};

static const char *const elem_names[] = {
    [ELEM_MEASUREMENT] = "measurement",
    [ELEM_TAG_KEY] = "tag key",
    [ELEM_TAG_VALUE] = "tag",
    [ELEM_FIELD_KEY] = "field key",
};

static int needs_escape(enum elem e, char c)
{
	if (c == ',' || c == ' ')
		return 1;
	return c == '=' && e != ELEM_MEASUREMENT;
}

/* Renders up to 40 bytes of s for an error message: printable ASCII as it
 * is, '"' and '\\' with a backslash, other bytes as \xNN. */
static const char *excerpt(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0, i;

	for (i = 0; i < len && i < 40 && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		}
	}
	if (i < len && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Appends s escaped for element e, or refuses it. what names the element
 * in the error (`tag "site"`, `measurement`). */
static int put_escaped(struct tw_buf *b, enum elem e, const char *s, size_t len, const char *what,
                       char *errbuf, size_t errbuf_size)
{
	char ex[200];
	size_t run = 0;
	int r;

	if (len == 0)
		return fail(errbuf, errbuf_size, "%s: empty", what);
	if (e != ELEM_TAG_VALUE && s[0] == '_')
		return fail(errbuf, errbuf_size, "%s: \"%s\" starts with '_', reserved by InfluxDB",
		            what, excerpt(s, len, ex, sizeof(ex)));
	if (e == ELEM_MEASUREMENT && s[0] == '#')
		return fail(errbuf, errbuf_size, "%s: \"%s\" starts with '#', a comment", what,
		            excerpt(s, len, ex, sizeof(ex)));
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\n' || c == '\r')
			return fail(errbuf, errbuf_size, "%s: \"%s\" contains a newline", what,
			            excerpt(s, len, ex, sizeof(ex)));
		if (c == '\\' && (i + 1 == len || s[i + 1] == '\\' || needs_escape(e, s[i + 1])))
			return fail(errbuf, errbuf_size,
			            "%s: \"%s\" has a backslash at the end or before '\\', ',', "
			            "'=' or ' ', which line protocol cannot carry unambiguously",
			            what, excerpt(s, len, ex, sizeof(ex)));
		if (needs_escape(e, c)) {
			r = tw_buf_append(b, s + run, i - run);
			if (r == 0)
				r = tw_buf_append(b, "\\", 1);
			if (r < 0)
				return r;
			run = i;
		}
	}
	return tw_buf_append(b, s + run, len - run);
}

static int put_string_value(struct tw_buf *b, const char *s, size_t len, const char *key,
                            char *errbuf, size_t errbuf_size)
{
	size_t run = 0;
	int r;

	if (len > TW_LP_STRING_MAX)
		return fail(errbuf, errbuf_size, "field \"%s\": string longer than %d bytes", key,
		            TW_LP_STRING_MAX);
	r = tw_buf_append(b, "\"", 1);
	for (size_t i = 0; r == 0 && i < len; i++) {
		if (s[i] == '\n' || s[i] == '\r')
			return fail(errbuf, errbuf_size, "field \"%s\": string contains a newline",
			            key);
		if (s[i] == '"' || s[i] == '\\') {
			r = tw_buf_append(b, s + run, i - run);
			if (r == 0)
				r = tw_buf_append(b, "\\", 1);
			run = i;
		}
	}
	if (r == 0)
		r = tw_buf_append(b, s + run, len - run);
	if (r == 0)
		r = tw_buf_append(b, "\"", 1);
	return r;
}

static int put_field_value(struct tw_buf *b, const struct tw_lp_field *f, char *errbuf,
                           size_t errbuf_size)
{
	char num[40];
	int n;

	switch (f->type) {
	case TW_LP_FLOAT:
		n = tw_lp_format_double(f->v.f, num, sizeof(num));
		if (n < 0)
			return fail(errbuf, errbuf_size, "field \"%s\": %s is not a finite number",
			            f->key, isnan(f->v.f) ? "NaN" : "infinity");
		return tw_buf_append(b, num, (size_t)n);
	case TW_LP_INT:
		n = snprintf(num, sizeof(num), "%" PRId64 "i", f->v.i);
		return tw_buf_append(b, num, (size_t)n);
	case TW_LP_UINT:
		n = snprintf(num, sizeof(num), "%" PRIu64 "u", f->v.u);
		return tw_buf_append(b, num, (size_t)n);
	case TW_LP_BOOL:
		return f->v.b ? tw_buf_append(b, "true", 4) : tw_buf_append(b, "false", 5);
	case TW_LP_STRING:
		return put_string_value(b, f->v.s.ptr, f->v.s.len, f->key, errbuf, errbuf_size);
	default:
		return fail(errbuf, errbuf_size, "field \"%s\": unknown type %d", f->key,
		            (int)f->type);
	}
}

static int put_point(struct tw_buf *b, const struct tw_lp_point *pt, char *errbuf,
                     size_t errbuf_size)
{
	const struct tw_lp_tag *sorted[TW_LP_TAGS_MAX];
	char what[128], ex[200];
	int r;

	if (pt->measurement == NULL)
		return fail(errbuf, errbuf_size, "measurement: empty");
	if (pt->n_tags > TW_LP_TAGS_MAX)
		return fail(errbuf, errbuf_size, "%zu tags, more than %d", pt->n_tags,
		            TW_LP_TAGS_MAX);
	if (pt->n_fields == 0)
		return fail(errbuf, errbuf_size, "no fields: a point needs at least one");
	/* Insertion sort: a handful of tags, and stable for equal keys so the
	 * duplicate check below sees them side by side. */
	for (size_t i = 0; i < pt->n_tags; i++) {
		size_t j = i;

		if (pt->tags[i].key == NULL)
			return fail(errbuf, errbuf_size, "tag key: empty");
		while (j > 0 && strcmp(sorted[j - 1]->key, pt->tags[i].key) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &pt->tags[i];
	}
	r = put_escaped(b, ELEM_MEASUREMENT, pt->measurement, strlen(pt->measurement),
	                elem_names[ELEM_MEASUREMENT], errbuf, errbuf_size);
	for (size_t i = 0; r == 0 && i < pt->n_tags; i++) {
		const struct tw_lp_tag *t = sorted[i];
		size_t klen = strlen(t->key);

		if (i > 0 && strcmp(sorted[i - 1]->key, t->key) == 0)
			return fail(errbuf, errbuf_size, "tag \"%s\" given twice",
			            excerpt(t->key, klen, ex, sizeof(ex)));
		r = tw_buf_append(b, ",", 1);
		if (r == 0)
			r = put_escaped(b, ELEM_TAG_KEY, t->key, klen, elem_names[ELEM_TAG_KEY],
			                errbuf, errbuf_size);
		if (r == 0)
			r = tw_buf_append(b, "=", 1);
		if (r == 0) {
			snprintf(what, sizeof(what), "tag \"%s\"",
			         excerpt(t->key, klen, ex, sizeof(ex)));
			if (t->value_len > 0 && t->value == NULL)
				return fail(errbuf, errbuf_size, "%s: no value", what);
			r = put_escaped(b, ELEM_TAG_VALUE, t->value, t->value_len, what, errbuf,
			                errbuf_size);
		}
	}
	for (size_t i = 0; r == 0 && i < pt->n_fields; i++) {
		const struct tw_lp_field *f = &pt->fields[i];

		if (f->key == NULL)
			return fail(errbuf, errbuf_size, "field key: empty");
		/* Quadratic, but points carry at most TW_VALUES_MAX-ish fields. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(pt->fields[j].key, f->key) == 0)
				return fail(errbuf, errbuf_size, "field \"%s\" given twice",
				            excerpt(f->key, strlen(f->key), ex, sizeof(ex)));
		r = tw_buf_append(b, i == 0 ? " " : ",", 1);
		if (r == 0)
			r = put_escaped(b, ELEM_FIELD_KEY, f->key, strlen(f->key),
			                elem_names[ELEM_FIELD_KEY], errbuf, errbuf_size);
		if (r == 0)
			r = tw_buf_append(b, "=", 1);
		if (r == 0)
			r = put_field_value(b, f, errbuf, errbuf_size);
	}
	if (r == 0 && pt->has_ts) {
		char ts[32];
		int n = snprintf(ts, sizeof(ts), " %" PRId64, pt->ts_ns);

		r = tw_buf_append(b, ts, (size_t)n);
	}
	if (r == 0)
		r = tw_buf_append(b, "\n", 1);
	return r;
}

int tw_lp_append(struct tw_buf *b, const struct tw_lp_point *pt, char *errbuf, size_t errbuf_size)
{
	size_t mark = b->len;
	int r = put_point(b, pt, errbuf, errbuf_size);

	if (r < 0) {
		b->len = mark; /* all or nothing: a batch never holds half a point */
		if (r == TW_LP_E_FULL)
			fail(errbuf, errbuf_size, "buffer full (%zu bytes)", b->max);
		else if (r == TW_LP_E_NOMEM)
			fail(errbuf, errbuf_size, "out of memory");
	}
	return r;
}

int tw_lp_append_event(struct tw_buf *b, const char *measurement, const char *const *key_names,
                       size_t n_keys, const char *const *value_names, size_t n_values,
                       const struct tw_event *ev, char *errbuf, size_t errbuf_size)
{
	struct tw_lp_tag tags[TW_KEY_MAX];
	struct tw_lp_field fields[TW_VALUES_MAX];
	struct tw_lp_point pt;
	size_t n_tags = 0, n_fields = 0, start = 0, key_len = ev->key_len;

	if (n_keys > TW_KEY_MAX || n_values > TW_VALUES_MAX)
		return fail(errbuf, errbuf_size, "too many keys or values");
	if (key_len > TW_KEY_MAX)
		return fail(errbuf, errbuf_size, "event key longer than %d bytes", TW_KEY_MAX);
	/* No key fields means one series for everything: the event key is
	 * then empty and no tag is written. */
	if (n_keys > 0) {
		for (size_t i = 0; i <= key_len; i++) {
			if (i < key_len && ev->key[i] != TW_KEY_SEP)
				continue;
			if (n_tags == n_keys)
				return fail(errbuf, errbuf_size,
				            "event key has more than %zu parts", n_keys);
			tags[n_tags].key = key_names[n_tags];
			tags[n_tags].value = ev->key + start;
			tags[n_tags].value_len = i - start;
			n_tags++;
			start = i + 1;
		}
		if (n_tags != n_keys)
			return fail(errbuf, errbuf_size, "event key has %zu parts, expected %zu",
			            n_tags, n_keys);
	} else if (key_len != 0) {
		return fail(errbuf, errbuf_size, "event has a key but no key names were given");
	}
	for (size_t i = 0; i < n_values; i++) {
		if (!(ev->present & (UINT32_C(1) << i)))
			continue;
		fields[n_fields].key = value_names[i];
		fields[n_fields].type = TW_LP_FLOAT;
		fields[n_fields].v.f = ev->values[i];
		n_fields++;
	}
	pt.measurement = measurement;
	pt.tags = tags;
	pt.n_tags = n_tags;
	pt.fields = fields;
	pt.n_fields = n_fields;
	pt.ts_ns = ev->ts_ns;
	pt.has_ts = 1;
	return tw_lp_append(b, &pt, errbuf, errbuf_size);
}
