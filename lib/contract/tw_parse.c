/* tw_parse.c -- payload to struct tw_event; see tw_parse.h.
 *
 * The hot path is one pass over the message: a validating scanner per
 * format records where each configured field's text is ("tokens"), and
 * only then are the timestamp, key and values decoded from those tokens.
 * Nothing is allocated and no tree is built: the worker's budget is about
 * 1 us per event for parse + dedupe + window (issue 3), so a cJSON tree per
 * message is out of the question.
 *
 * Sections: helpers (messages, UTF-8, numbers, decoding), JSON, CSV, line
 * protocol, turning tokens into the event, set-up.
 */
#include "tw_parse.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "err.h"

/* Every configured name gets a slot: the timestamp, the keys, the values. */
#define SLOTS_MAX (1 + TW_KEYS_MAX + TW_VALUES_MAX)
/* Longest decoded timestamp text looked at. */
#define TS_TEXT_MAX 128
/* Longest number text converted (longer ones are refused, not guessed). */
#define NUM_TEXT_MAX 512
/* Source bytes shown of a value in a reason. */
#define EXCERPT_MAX 64

enum tok_type {
	TOK_STRING = 1, /* JSON string, CSV cell, LP string field */
	TOK_NUMBER,     /* JSON number, LP float field */
	TOK_INT,        /* LP 12i: the text without its suffix */
	TOK_UINT,       /* LP 12u: the text without its suffix */
	TOK_TRUE,
	TOK_FALSE,
	TOK_NULL,
	TOK_OBJECT,
	TOK_ARRAY,
	TOK_TAG, /* LP tag value or measurement */
};

/* How a token's text is escaped in the message. */
enum tok_enc {
	ENC_RAW = 0, /* the bytes are the text */
	ENC_JSON,    /* JSON string escapes */
	ENC_CSV,     /* "" for " inside a quoted cell */
	ENC_LP_MEAS, /* \, \space \\ */
	ENC_LP_TAG,  /* \, \= \space \\ (tag keys and values, field keys) */
	ENC_LP_STR,  /* \" \\ */
};

struct tok {
	const char *ptr; /* the text as it is in the message (inside any quotes) */
	size_t len;
	uint8_t type; /* enum tok_type */
	uint8_t enc;  /* enum tok_enc */
};

/* A JSON path trie: the configured names split on '.'. Node 0 is the root
 * (the top-level object). */
struct jnode {
	const char *seg;
	size_t seg_len;
	int slot;        /* >= 0: a configured field ends here */
	int first_child; /* -1: none */
	int next;        /* next sibling, -1: none */
	int kid_begin;   /* children in config order: kids[kid_begin..+n_kids) */
	int n_kids;
};

struct tw_parser {
	enum tw_format format;
	struct tw_time_spec ts;
	int ts_slot; /* -1 in line protocol: the line's timestamp */
	size_t n_keys, n_values, n_slots;
	int key_slot[TW_KEYS_MAX];
	int value_slot[TW_VALUES_MAX];
	char *names[SLOTS_MAX]; /* as configured, for reasons and LP/CSV lookup */
	size_t name_lens[SLOTS_MAX];

	struct jnode *nodes; /* JSON */
	size_t n_nodes;
	int *kids;
	char *segs;

	int meas_slot; /* LP: the slot named "_measurement", or -1 */

	signed char *col_slot; /* CSV: column index to slot, -1 for unused */
	size_t n_cols;
	char delim;
};

/* One parse call's state; lives on the stack. */
struct scan {
	const struct tw_parser *p;
	const char *buf;
	size_t len;
	size_t pos;
	uint32_t found; /* bit i: toks[i] is set */
	struct tok toks[SLOTS_MAX];
	const char *lp_ts; /* line protocol timestamp text, NULL if none */
	size_t lp_ts_len;
	char *errbuf;
	size_t errbuf_size;
};

/* ==== Helpers ==== */

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0. p[0] >= 0x80. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		               (p[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

/*
 * Renders up to EXCERPT_MAX bytes of src for a reason. Printable ASCII and
 * whole UTF-8 characters stay as they are; other bytes become \xNN. In
 * "text" mode '"' and '\\' get a backslash; in "json_raw" mode the source
 * is already JSON-escaped text and is kept as it is. out needs 4 *
 * EXCERPT_MAX + 8 bytes.
 */
static const char *excerpt(char *out, const char *src, size_t len, int json_raw)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	while (i < len && i < EXCERPT_MAX) {
		unsigned char c = s[i];
		size_t n = c >= 0x80 ? utf8_len(s + i, len - i) : 0;

		if (n > 0 && i + n > EXCERPT_MAX)
			break; /* a character cut at the limit: show "..." instead */
		if (n > 0) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (!json_raw && (c == '"' || c == '\\')) {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			static const char hex[] = "0123456789abcdef";

			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
		i++;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

#define EXCERPT_BUF (4 * EXCERPT_MAX + 8)

static const char *slot_name(const struct scan *sc, int slot, char *out)
{
	return excerpt(out, sc->p->names[slot], sc->p->name_lens[slot], 0);
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exact powers of ten a double holds: the Clinger fast path below. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

enum {
	NUM_OK = 0,
	NUM_SYNTAX = -1,
	NUM_RANGE = -2, /* beyond a double: 1e999 */
	NUM_LONG = -3,  /* over NUM_TEXT_MAX bytes */
};

/*
 * A decimal number: [+-] digits [. digits] [(e|E) [+-] digits], with at
 * least one mantissa digit on either side of the point. When the digits
 * fit 2^53 and the power of ten is exact (the usual telemetry value), one
 * multiplication or division gives the correctly rounded double; anything
 * else goes to strtod(), which is correctly rounded too. strtod() reads
 * the C locale's '.', and the worker never calls setlocale().
 */
static int parse_double(const char *t, size_t n, double *out)
{
	uint64_t mant = 0;
	int64_t e10 = 0, exp = 0;
	int neg = 0, nd = 0, digits = 0, inexact = 0;
	size_t i = 0;

	if (i < n && (t[i] == '+' || t[i] == '-'))
		neg = t[i++] == '-';
	for (; i < n && is_digit(t[i]); i++, digits++) {
		int d = t[i] - '0';

		if (mant == 0 && d == 0)
			continue;
		if (nd < 19) {
			mant = mant * 10 + (uint64_t)d;
			nd++;
		} else {
			e10++;
			inexact |= d != 0;
		}
	}
	if (i < n && t[i] == '.') {
		for (i++; i < n && is_digit(t[i]); i++, digits++) {
			int d = t[i] - '0';

			if (mant == 0 && d == 0) {
				e10--;
			} else if (nd < 19) {
				mant = mant * 10 + (uint64_t)d;
				nd++;
				e10--;
			} else {
				inexact |= d != 0;
			}
		}
	}
	if (digits == 0)
		return NUM_SYNTAX;
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		int eneg = 0, edigits = 0;

		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			eneg = t[i++] == '-';
		for (; i < n && is_digit(t[i]); i++, edigits++)
			if (exp < 1000000)
				exp = exp * 10 + (t[i] - '0');
		if (edigits == 0)
			return NUM_SYNTAX;
		e10 += eneg ? -exp : exp;
	}
	if (i != n)
		return NUM_SYNTAX;
	if (mant == 0) {
		*out = neg ? -0.0 : 0.0;
		return NUM_OK;
	}
	if (!inexact && mant <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
		double v = (double)mant;

		v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
		*out = neg ? -v : v;
		return NUM_OK;
	}
	{
		char tmp[NUM_TEXT_MAX + 1];
		double v;

		if (n > NUM_TEXT_MAX)
			return NUM_LONG;
		memcpy(tmp, t, n);
		tmp[n] = '\0';
		v = strtod(tmp, NULL);
		if (isinf(v))
			return NUM_RANGE;
		*out = v;
	}
	return NUM_OK;
}

/* Whether t is [+-]digits and nothing else. */
static int is_integer_text(const char *t, size_t n)
{
	size_t i = 0;

	if (i < n && (t[i] == '+' || t[i] == '-'))
		i++;
	if (i == n)
		return 0;
	for (; i < n; i++)
		if (!is_digit(t[i]))
			return 0;
	return 1;
}

/*
 * A numeric key in canonical form, so that one device is one key however
 * its producer writes the number: integer text as it is but without '+'
 * or leading zeros ("-0" is "0"; big IDs keep every digit), any other
 * number as the shortest text that round-trips its double ("17.0" and
 * "1.7e1" are "17"). Returns the length or a NUM_* error.
 */
static int number_key(const char *t, size_t n, char *dst, size_t cap)
{
	if (is_integer_text(t, n)) {
		int neg = t[0] == '-';
		size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0, o = 0;

		while (i + 1 < n && t[i] == '0')
			i++;
		if (t[i] == '0')
			neg = 0;
		if (n - i + 1 > cap)
			return NUM_LONG;
		if (neg)
			dst[o++] = '-';
		memcpy(dst + o, t + i, n - i);
		return (int)(o + n - i);
	} else {
		double v;
		int r = parse_double(t, n, &v);

		if (r < 0)
			return r;
		if (cap < 32)
			return NUM_LONG;
		return dtoa_shortest(v, dst, cap);
	}
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t put_utf8(char *dst, uint32_t cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | (cp >> 6));
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | (cp >> 12));
		dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | (cp >> 18));
	dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Whether an LP escape "\c" stands for c in text of this encoding. */
static int lp_escapes(enum tok_enc enc, char c)
{
	switch (enc) {
	case ENC_LP_MEAS:
		return c == ',' || c == ' ' || c == '\\';
	case ENC_LP_TAG:
		return c == ',' || c == '=' || c == ' ' || c == '\\';
	case ENC_LP_STR:
		return c == '"' || c == '\\';
	default:
		return 0;
	}
}

/*
 * Decodes a token's text into dst (cap bytes). The scanners validated the
 * escapes already. Returns the decoded length, or -1 if it needs more than
 * cap bytes.
 */
static long decode(const struct tok *t, char *dst, size_t cap)
{
	const char *s = t->ptr;
	size_t n = t->len, o = 0, i = 0;

	if (t->enc == ENC_RAW) {
		if (n > cap)
			return -1;
		memcpy(dst, s, n);
		return (long)n;
	}
	while (i < n) {
		char c = s[i];
		char tmp[4];
		size_t k = 1;

		tmp[0] = c;
		if (t->enc == ENC_JSON && c == '\\') {
			char e = s[i + 1];

			i += 2;
			switch (e) {
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'n':
				tmp[0] = '\n';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			case 'u': {
				uint32_t cp = (uint32_t)hex4(s + i);

				i += 4;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     ((uint32_t)hex4(s + i + 2) - 0xdc00);
					i += 6;
				}
				k = put_utf8(tmp, cp);
				break;
			}
			default: /* " \ / */
				tmp[0] = e;
			}
		} else if (t->enc == ENC_CSV && c == '"') {
			i += 2; /* "" */
		} else if (c == '\\' && i + 1 < n && lp_escapes((enum tok_enc)t->enc, s[i + 1])) {
			tmp[0] = s[i + 1];
			i += 2;
		} else {
			i++;
		}
		if (k > cap - o)
			return -1;
		memcpy(dst + o, tmp, k);
		o += k;
	}
	return (long)o;
}

/* ==== JSON ==== */

/* What the string scanner must look at: 0 plain, 1 '"', 2 '\\', 3 a
 * control character, 4 a UTF-8 lead or stray byte. */
static const unsigned char json_str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x00 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 0x50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x90 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xa0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xb0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xc0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xd0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xe0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xf0 */
};

static int j_unexpected(struct scan *sc)
{
	unsigned char c;

	if (sc->pos >= sc->len)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "json: unexpected end of input at byte %zu", sc->pos);
	c = (unsigned char)sc->buf[sc->pos];
	if (c > 0x20 && c < 0x7f)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "json: unexpected '%c' at byte %zu", c, sc->pos);
	return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
	               "json: unexpected byte 0x%02x at byte %zu", c, sc->pos);
}

static void j_ws_slow(struct scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->buf[sc->pos];

		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			return;
		sc->pos++;
	}
}

/* Most tokens are not preceded by white space: decide that inline. */
static inline void j_ws(struct scan *sc)
{
	if (sc->pos < sc->len && (unsigned char)sc->buf[sc->pos] > ' ')
		return;
	j_ws_slow(sc);
}

/* At '"': validates the string and sets [*start, *start + *n) to its
 * content; *esc says whether it has escapes. */
static int j_string(struct scan *sc, size_t *start, size_t *n, int *esc)
{
	const unsigned char *b = (const unsigned char *)sc->buf;
	size_t len = sc->len, pos = sc->pos + 1, open = sc->pos;

	*esc = 0;
	*start = pos;
	for (;;) {
		size_t k;

		while (pos < len && json_str_class[b[pos]] == 0)
			pos++;
		if (pos >= len)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
			               "json: unterminated string at byte %zu", open);
		switch (json_str_class[b[pos]]) {
		case 1:
			*n = pos - *start;
			sc->pos = pos + 1;
			return 0;
		case 2:
			*esc = 1;
			if (pos + 1 >= len)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
				               "json: unterminated string at byte %zu", open);
			switch (b[pos + 1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				pos += 2;
				break;
			case 'u': {
				int cp = pos + 6 <= len ? hex4(sc->buf + pos + 2) : -1, lo;

				if (cp < 0)
					return err_set(sc->errbuf, sc->errbuf_size,
					               TW_EVENT_E_SYNTAX,
					               "json: invalid \\u escape at byte %zu", pos);
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return err_set(
					    sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
					    "json: unpaired surrogate \\u%04x at byte %zu",
					    (unsigned)cp, pos);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					lo = pos + 12 <= len && b[pos + 6] == '\\' &&
					             b[pos + 7] == 'u'
					         ? hex4(sc->buf + pos + 8)
					         : -1;
					if (lo < 0xdc00 || lo > 0xdfff)
						return err_set(
						    sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
						    "json: unpaired surrogate \\u%04x at "
						    "byte %zu",
						    (unsigned)cp, pos);
					pos += 6;
				}
				pos += 6;
				break;
			}
			default:
				if (b[pos + 1] > 0x20 && b[pos + 1] < 0x7f)
					return err_set(sc->errbuf, sc->errbuf_size,
					               TW_EVENT_E_SYNTAX,
					               "json: invalid escape '\\%c' at byte %zu",
					               b[pos + 1], pos);
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
				               "json: invalid escape at byte %zu", pos);
			}
			break;
		case 3:
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
			               "json: control character 0x%02x in a string at byte %zu",
			               b[pos], pos);
		default:
			k = utf8_len(b + pos, len - pos);
			if (k == 0)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
				               "json: invalid UTF-8 at byte %zu", pos);
			pos += k;
		}
	}
}

static int j_number(struct scan *sc)
{
	const char *b = sc->buf;
	size_t len = sc->len;

	if (sc->pos < len && b[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < len && b[sc->pos] == '0') {
		sc->pos++;
	} else if (sc->pos < len && b[sc->pos] >= '1' && b[sc->pos] <= '9') {
		while (sc->pos < len && is_digit(b[sc->pos]))
			sc->pos++;
	} else {
		return j_unexpected(sc);
	}
	if (sc->pos < len && b[sc->pos] == '.') {
		sc->pos++;
		if (sc->pos >= len || !is_digit(b[sc->pos]))
			return j_unexpected(sc);
		while (sc->pos < len && is_digit(b[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < len && (b[sc->pos] == 'e' || b[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < len && (b[sc->pos] == '+' || b[sc->pos] == '-'))
			sc->pos++;
		if (sc->pos >= len || !is_digit(b[sc->pos]))
			return j_unexpected(sc);
		while (sc->pos < len && is_digit(b[sc->pos]))
			sc->pos++;
	}
	return 0;
}

static int j_literal(struct scan *sc, const char *word, size_t n)
{
	for (size_t i = 0; i < n; i++, sc->pos++)
		if (sc->pos >= sc->len || sc->buf[sc->pos] != word[i])
			return j_unexpected(sc);
	return 0;
}

static int j_object(struct scan *sc, int node, int depth);
static int j_array(struct scan *sc, int depth);

/* Any value at sc->pos; if slot >= 0 its token is recorded there. */
static int j_value(struct scan *sc, int slot, int depth)
{
	size_t start = sc->pos, n = 0;
	int r, esc = 0;
	enum tok_type type;

	if (sc->pos >= sc->len)
		return j_unexpected(sc);
	switch (sc->buf[sc->pos]) {
	case '"':
		r = j_string(sc, &start, &n, &esc);
		type = TOK_STRING;
		break;
	case '{':
		r = j_object(sc, -1, depth + 1);
		type = TOK_OBJECT;
		break;
	case '[':
		r = j_array(sc, depth + 1);
		type = TOK_ARRAY;
		break;
	case 't':
		r = j_literal(sc, "true", 4);
		type = TOK_TRUE;
		break;
	case 'f':
		r = j_literal(sc, "false", 5);
		type = TOK_FALSE;
		break;
	case 'n':
		r = j_literal(sc, "null", 4);
		type = TOK_NULL;
		break;
	default:
		r = j_number(sc);
		type = TOK_NUMBER;
	}
	if (r < 0 || slot < 0)
		return r;
	if (type != TOK_STRING)
		n = sc->pos - start;
	sc->toks[slot].ptr = sc->buf + start;
	sc->toks[slot].len = n;
	sc->toks[slot].type = (uint8_t)type;
	sc->toks[slot].enc = esc ? ENC_JSON : ENC_RAW;
	sc->found |= UINT32_C(1) << slot;
	return 0;
}

static int j_too_deep(struct scan *sc)
{
	return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
	               "json: nesting deeper than %d at byte %zu", TW_JSON_DEPTH_MAX, sc->pos);
}

/* Names are short: a loop beats a call to memcmp(). */
static inline int bytes_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* The child of node named by the member name [start, start + n), or -1.
 * The search starts after the child found last in this object (*hint):
 * producers write members in the same order every time, so a lookup
 * usually succeeds at its first comparison. */
static int j_child(const struct scan *sc, int node, size_t start, size_t n, int esc, int *hint)
{
	const struct jnode *nd = &sc->p->nodes[node];
	const struct tw_parser *p = sc->p;
	const char *name = sc->buf + start;
	char tmp[TW_FIELD_NAME_MAX];

	if (esc) {
		struct tok t = {name, n, TOK_STRING, ENC_JSON};
		long k = decode(&t, tmp, sizeof(tmp));

		if (k < 0)
			return -1; /* longer than any configured name */
		name = tmp;
		n = (size_t)k;
	}
	for (int k = 0, i = *hint; k < nd->n_kids; k++, i = i + 1 == nd->n_kids ? 0 : i + 1) {
		const struct jnode *c = &p->nodes[p->kids[nd->kid_begin + i]];

		if (c->seg_len == n && bytes_eq(c->seg, name, n)) {
			*hint = i + 1 == nd->n_kids ? 0 : i + 1;
			return p->kids[nd->kid_begin + i];
		}
	}
	return -1;
}

/* At '{': an object; node is its place in the path trie, -1 if no
 * configured field lies inside. */
static int j_object(struct scan *sc, int node, int depth)
{
	const struct tw_parser *p = sc->p;
	int r, hint = 0;

	if (depth > TW_JSON_DEPTH_MAX)
		return j_too_deep(sc);
	sc->pos++;
	j_ws(sc);
	if (sc->pos < sc->len && sc->buf[sc->pos] == '}') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		size_t name_at = sc->pos, start, n;
		int esc, child = -1;

		if (sc->pos >= sc->len || sc->buf[sc->pos] != '"')
			return j_unexpected(sc);
		r = j_string(sc, &start, &n, &esc);
		if (r < 0)
			return r;
		if (node >= 0 && n > 0 && p->nodes[node].n_kids > 0)
			child = j_child(sc, node, start, n, esc, &hint);
		j_ws(sc);
		if (sc->pos >= sc->len || sc->buf[sc->pos] != ':')
			return j_unexpected(sc);
		sc->pos++;
		j_ws(sc);
		if (child < 0) {
			r = j_value(sc, -1, depth);
		} else if (p->nodes[child].slot >= 0) {
			int slot = p->nodes[child].slot;
			char nm[EXCERPT_BUF];

			/* Which of two values would be "the" field is anyone's
			 * guess (RFC 8259 leaves it open): refuse both. */
			if (sc->found & (UINT32_C(1) << slot))
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
				               "json: duplicate field \"%s\" at byte %zu",
				               slot_name(sc, slot, nm), name_at);
			r = j_value(sc, slot, depth);
		} else if (sc->pos < sc->len && sc->buf[sc->pos] == '{') {
			r = j_object(sc, child, depth + 1);
		} else {
			r = j_value(sc, -1, depth);
		}
		if (r < 0)
			return r;
		j_ws(sc);
		if (sc->pos < sc->len && sc->buf[sc->pos] == ',') {
			sc->pos++;
			j_ws(sc);
			continue;
		}
		if (sc->pos < sc->len && sc->buf[sc->pos] == '}') {
			sc->pos++;
			return 0;
		}
		return j_unexpected(sc);
	}
}

static int j_array(struct scan *sc, int depth)
{
	int r;

	if (depth > TW_JSON_DEPTH_MAX)
		return j_too_deep(sc);
	sc->pos++;
	j_ws(sc);
	if (sc->pos < sc->len && sc->buf[sc->pos] == ']') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		r = j_value(sc, -1, depth);
		if (r < 0)
			return r;
		j_ws(sc);
		if (sc->pos < sc->len && sc->buf[sc->pos] == ',') {
			sc->pos++;
			j_ws(sc);
			continue;
		}
		if (sc->pos < sc->len && sc->buf[sc->pos] == ']') {
			sc->pos++;
			return 0;
		}
		return j_unexpected(sc);
	}
}

static void skip_bom(struct scan *sc)
{
	if (sc->len >= 3 && memcmp(sc->buf, "\xef\xbb\xbf", 3) == 0)
		sc->pos = 3;
}

static int json_scan(struct scan *sc)
{
	int r;

	skip_bom(sc);
	j_ws(sc);
	if (sc->pos >= sc->len)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "json: empty message");
	if (sc->buf[sc->pos] != '{')
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "json: expected an object at byte %zu", sc->pos);
	r = j_object(sc, 0, 1);
	if (r < 0)
		return r;
	j_ws(sc);
	if (sc->pos < sc->len)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "json: trailing data at byte %zu", sc->pos);
	return 0;
}

/* ==== CSV (RFC 4180) ==== */

static int csv_scan(struct scan *sc)
{
	const struct tw_parser *p = sc->p;
	const char *b = sc->buf;
	size_t len = sc->len, col = 0;
	char delim = p->delim;

	skip_bom(sc);
	for (;;) {
		size_t start, end;
		int esc = 0;

		if (col == p->n_cols)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
			               "csv: more than %zu columns at byte %zu", p->n_cols,
			               sc->pos);
		if (sc->pos < len && b[sc->pos] == '"') {
			size_t open = sc->pos;

			start = ++sc->pos;
			for (;;) {
				const char *q = memchr(b + sc->pos, '"', len - sc->pos);

				if (q == NULL)
					return err_set(
					    sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
					    "csv: unterminated quoted column %zu at byte %zu",
					    col + 1, open);
				sc->pos = (size_t)(q - b);
				if (sc->pos + 1 < len && b[sc->pos + 1] == '"') {
					esc = 1;
					sc->pos += 2;
					continue;
				}
				break;
			}
			end = sc->pos++;
			if (sc->pos < len && b[sc->pos] != delim && b[sc->pos] != '\n' &&
			    b[sc->pos] != '\r')
				return err_set(
				    sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
				    "csv: unexpected data after the closing quote of column "
				    "%zu at byte %zu",
				    col + 1, sc->pos);
		} else {
			start = sc->pos;
			while (sc->pos < len && b[sc->pos] != delim && b[sc->pos] != '\n' &&
			       b[sc->pos] != '\r') {
				if (b[sc->pos] == '"')
					return err_set(
					    sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
					    "csv: '\"' inside unquoted column %zu at byte %zu",
					    col + 1, sc->pos);
				sc->pos++;
			}
			end = sc->pos;
		}
		if (p->col_slot[col] >= 0) {
			struct tok *t = &sc->toks[p->col_slot[col]];

			t->ptr = b + start;
			t->len = end - start;
			t->type = TOK_STRING;
			t->enc = esc ? ENC_CSV : ENC_RAW;
			sc->found |= UINT32_C(1) << p->col_slot[col];
		}
		col++;
		if (sc->pos < len && b[sc->pos] == delim) {
			sc->pos++;
			continue;
		}
		break;
	}
	/* One record per message, with at most one line break after it. */
	if (sc->pos < len && b[sc->pos] == '\r') {
		if (sc->pos + 1 >= len || b[sc->pos + 1] != '\n')
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
			               "csv: CR without LF at byte %zu", sc->pos);
		sc->pos++;
	}
	if (sc->pos < len && b[sc->pos] == '\n')
		sc->pos++;
	if (sc->pos < len)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "csv: more than one record at byte %zu", sc->pos);
	if (col != p->n_cols)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "csv: %zu columns, the header has %zu", col, p->n_cols);
	return 0;
}

/* ==== InfluxDB line protocol ==== */

static int lp_fail(struct scan *sc, const char *what)
{
	return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
	               "line protocol: %s at byte %zu", what, sc->pos);
}

static int lp_eol(const struct scan *sc)
{
	return sc->pos >= sc->len || sc->buf[sc->pos] == '\n' || sc->buf[sc->pos] == '\r';
}

/* Scans a measurement, tag key, tag value or field key up to an unescaped
 * terminator (',', ' ', a line end, and for keys '='). */
static void lp_name(struct scan *sc, enum tok_enc enc, int stop_at_eq, int *esc)
{
	const char *b = sc->buf;

	*esc = 0;
	while (sc->pos < sc->len) {
		char c = b[sc->pos];

		if (c == '\\' && sc->pos + 1 < sc->len && lp_escapes(enc, b[sc->pos + 1])) {
			*esc = 1;
			sc->pos += 2;
			continue;
		}
		if (c == ',' || c == ' ' || c == '\n' || c == '\r' || (stop_at_eq && c == '='))
			return;
		sc->pos++;
	}
}

/* The slot a tag or field key names, or -1. */
static int lp_slot(const struct scan *sc, const char *name, size_t n, int esc)
{
	const struct tw_parser *p = sc->p;
	char tmp[TW_FIELD_NAME_MAX];

	if (esc) {
		struct tok t = {name, n, TOK_TAG, ENC_LP_TAG};
		long k = decode(&t, tmp, sizeof(tmp));

		if (k < 0)
			return -1;
		name = tmp;
		n = (size_t)k;
	}
	for (size_t i = 0; i < p->n_slots; i++)
		if (p->name_lens[i] == n && memcmp(p->names[i], name, n) == 0)
			return (int)i;
	return -1;
}

static int lp_record(struct scan *sc, int slot, size_t name_at, const char *ptr, size_t n,
                     enum tok_type type, enum tok_enc enc)
{
	char nm[EXCERPT_BUF];

	if (slot < 0)
		return 0;
	if (sc->found & (UINT32_C(1) << slot))
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "line protocol: duplicate tag or field \"%s\" at byte %zu",
		               slot_name(sc, slot, nm), name_at);
	sc->toks[slot].ptr = ptr;
	sc->toks[slot].len = n;
	sc->toks[slot].type = (uint8_t)type;
	sc->toks[slot].enc = (uint8_t)enc;
	sc->found |= UINT32_C(1) << slot;
	return 0;
}

static int is_lp_bool(const char *t, size_t n, int *v)
{
	static const char *const yes[] = {"t", "T", "true", "True", "TRUE"};
	static const char *const no[] = {"f", "F", "false", "False", "FALSE"};

	for (size_t i = 0; i < 5; i++) {
		if (strlen(yes[i]) == n && memcmp(yes[i], t, n) == 0) {
			*v = 1;
			return 1;
		}
		if (strlen(no[i]) == n && memcmp(no[i], t, n) == 0) {
			*v = 0;
			return 1;
		}
	}
	return 0;
}

/* An integer field value without its suffix: -?digits for i, digits for u,
 * in range. */
static int lp_int_ok(const char *t, size_t n, int is_unsigned)
{
	uint64_t v = 0, limit;
	size_t i = 0;
	int neg = 0;

	if (!is_unsigned && i < n && t[i] == '-') {
		neg = 1;
		i++;
	}
	if (i == n)
		return 0;
	limit = is_unsigned ? UINT64_MAX : neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (!is_digit(t[i]))
			return 0;
		if (v > (limit - (uint64_t)(t[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(t[i] - '0');
	}
	return 1;
}

/* A float field value: parse_double()'s grammar without a leading '+'
 * (InfluxDB refuses it); NaN and infinities are not numbers there. */
static int lp_float_ok(const char *t, size_t n)
{
	double v;

	if (n == 0 || t[0] == '+')
		return 0;
	return parse_double(t, n, &v) != NUM_SYNTAX;
}

static int lp_field_value(struct scan *sc, int slot, size_t name_at)
{
	const char *b = sc->buf;
	size_t start;
	int v;

	if (sc->pos < sc->len && b[sc->pos] == '"') {
		size_t open = sc->pos;
		int esc = 0;

		start = ++sc->pos;
		for (;;) {
			if (sc->pos >= sc->len)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
				               "line protocol: unterminated string at byte %zu",
				               open);
			if (b[sc->pos] == '\\' && sc->pos + 1 < sc->len &&
			    lp_escapes(ENC_LP_STR, b[sc->pos + 1])) {
				esc = 1;
				sc->pos += 2;
				continue;
			}
			if (b[sc->pos] == '"')
				break;
			if (b[sc->pos] == '\n' || b[sc->pos] == '\r')
				return lp_fail(sc, "newline in a string field");
			sc->pos++;
		}
		sc->pos++;
		return lp_record(sc, slot, name_at, b + start, sc->pos - 1 - start, TOK_STRING,
		                 esc ? ENC_LP_STR : ENC_RAW);
	}
	start = sc->pos;
	while (sc->pos < sc->len && b[sc->pos] != ',' && b[sc->pos] != ' ' && b[sc->pos] != '\n' &&
	       b[sc->pos] != '\r')
		sc->pos++;
	{
		const char *t = b + start;
		size_t n = sc->pos - start;
		int ok;

		if (n == 0) {
			sc->pos = start;
			return lp_fail(sc, "missing field value");
		}
		if (is_lp_bool(t, n, &v))
			return lp_record(sc, slot, name_at, t, n, v ? TOK_TRUE : TOK_FALSE,
			                 ENC_RAW);
		if (t[n - 1] == 'i' || t[n - 1] == 'u') {
			ok = lp_int_ok(t, n - 1, t[n - 1] == 'u');
			if (ok != 0) {
				if (ok < 0) {
					sc->pos = start;
					return lp_fail(sc, "integer out of range");
				}
				return lp_record(sc, slot, name_at, t, n - 1,
				                 t[n - 1] == 'u' ? TOK_UINT : TOK_INT, ENC_RAW);
			}
		}
		if (lp_float_ok(t, n))
			return lp_record(sc, slot, name_at, t, n, TOK_NUMBER, ENC_RAW);
		{
			char ex[EXCERPT_BUF];

			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
			               "line protocol: invalid field value \"%s\" at byte %zu",
			               excerpt(ex, t, n, 0), start);
		}
	}
}

static void lp_spaces(struct scan *sc)
{
	while (sc->pos < sc->len && sc->buf[sc->pos] == ' ')
		sc->pos++;
}

static int lp_scan(struct scan *sc)
{
	const struct tw_parser *p = sc->p;
	const char *b = sc->buf;
	size_t start;
	int esc, r, slot;

	skip_bom(sc);
	while (sc->pos < sc->len && (b[sc->pos] == ' ' || b[sc->pos] == '\t'))
		sc->pos++;
	if (lp_eol(sc))
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "line protocol: empty message");
	if (b[sc->pos] == '#')
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_SYNTAX,
		               "line protocol: a comment, not a point");

	/* measurement */
	start = sc->pos;
	lp_name(sc, ENC_LP_MEAS, 0, &esc);
	if (sc->pos == start)
		return lp_fail(sc, "missing measurement");
	r = lp_record(sc, p->meas_slot, start, b + start, sc->pos - start, TOK_TAG,
	              esc ? ENC_LP_MEAS : ENC_RAW);
	if (r < 0)
		return r;

	/* tags */
	while (sc->pos < sc->len && b[sc->pos] == ',') {
		size_t key_at = ++sc->pos, vstart;
		int vesc;

		lp_name(sc, ENC_LP_TAG, 1, &esc);
		if (sc->pos == key_at)
			return lp_fail(sc, "empty tag key");
		if (sc->pos >= sc->len || b[sc->pos] != '=')
			return lp_fail(sc, "tag key without '='");
		slot = lp_slot(sc, b + key_at, sc->pos - key_at, esc);
		vstart = ++sc->pos;
		lp_name(sc, ENC_LP_TAG, 1, &vesc);
		if (sc->pos < sc->len && b[sc->pos] == '=')
			return lp_fail(sc, "unescaped '=' in a tag value");
		if (sc->pos == vstart)
			return lp_fail(sc, "empty tag value");
		r = lp_record(sc, slot, key_at, b + vstart, sc->pos - vstart, TOK_TAG,
		              vesc ? ENC_LP_TAG : ENC_RAW);
		if (r < 0)
			return r;
	}
	if (sc->pos >= sc->len || b[sc->pos] != ' ')
		return lp_fail(sc, "missing fields");
	lp_spaces(sc);
	if (lp_eol(sc))
		return lp_fail(sc, "missing fields");

	/* fields */
	for (;;) {
		size_t key_at = sc->pos;

		lp_name(sc, ENC_LP_TAG, 1, &esc);
		if (sc->pos == key_at)
			return lp_fail(sc, "empty field key");
		if (sc->pos >= sc->len || b[sc->pos] != '=')
			return lp_fail(sc, "field key without '='");
		slot = lp_slot(sc, b + key_at, sc->pos - key_at, esc);
		sc->pos++;
		r = lp_field_value(sc, slot, key_at);
		if (r < 0)
			return r;
		if (!lp_eol(sc) && b[sc->pos] != ',' && b[sc->pos] != ' ')
			return lp_fail(sc, "unexpected data after a field value");
		if (sc->pos < sc->len && b[sc->pos] == ',') {
			sc->pos++;
			continue;
		}
		break;
	}

	/* timestamp */
	lp_spaces(sc);
	if (!lp_eol(sc)) {
		start = sc->pos;
		if (b[sc->pos] == '-')
			sc->pos++;
		while (sc->pos < sc->len && is_digit(b[sc->pos]))
			sc->pos++;
		if (sc->pos == start || (sc->pos == start + 1 && b[start] == '-') ||
		    (!lp_eol(sc) && b[sc->pos] != ' ')) {
			sc->pos = start;
			return lp_fail(sc, "invalid timestamp");
		}
		sc->lp_ts = b + start;
		sc->lp_ts_len = sc->pos - start;
		lp_spaces(sc);
		if (!lp_eol(sc))
			return lp_fail(sc, "unexpected data after the timestamp");
	}

	/* one line per message, with at most one line break after it */
	if (sc->pos < sc->len && b[sc->pos] == '\r') {
		if (sc->pos + 1 >= sc->len || b[sc->pos + 1] != '\n')
			return lp_fail(sc, "CR without LF");
		sc->pos++;
	}
	if (sc->pos < sc->len && b[sc->pos] == '\n')
		sc->pos++;
	if (sc->pos < sc->len)
		return lp_fail(sc, "more than one line");
	return 0;
}

/* ==== Tokens to the event ==== */

/* The text of a token shown in a reason: quoted for strings, bare for
 * numbers and literals. */
static const char *shown(const struct scan *sc, const struct tok *t, char *out)
{
	if (t->type == TOK_OBJECT)
		return "an object";
	if (t->type == TOK_ARRAY)
		return "an array";
	if (t->type == TOK_STRING || t->type == TOK_TAG) {
		char ex[EXCERPT_BUF];

		snprintf(out, EXCERPT_BUF + 2, "\"%s\"",
		         excerpt(ex, t->ptr, t->len, sc->p->format == TW_FORMAT_JSON));
		return out;
	}
	return excerpt(out, t->ptr, t->len, 0);
}

/* CSV cells are trimmed of spaces and tabs where a number or a time is
 * read (spreadsheets pad them); keys are kept byte for byte. */
static void trim(const char **t, size_t *n)
{
	while (*n > 0 && (**t == ' ' || **t == '\t')) {
		(*t)++;
		(*n)--;
	}
	while (*n > 0 && ((*t)[*n - 1] == ' ' || (*t)[*n - 1] == '\t'))
		(*n)--;
}

static int take_timestamp(struct scan *sc, struct tw_event *out)
{
	const struct tw_parser *p = sc->p;
	char reason[160], nm[EXCERPT_BUF], ex[EXCERPT_BUF + 2], text[TS_TEXT_MAX];
	const struct tok *t;
	const char *s;
	size_t n;
	int r;

	if (p->ts_slot < 0) {
		/* line protocol: the line's own timestamp */
		if (sc->lp_ts == NULL)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
			               "line protocol: missing timestamp");
		r = tw_time_parse(&p->ts, sc->lp_ts, sc->lp_ts_len, &out->ts_ns, reason,
		                  sizeof(reason));
		if (r < 0)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TIMESTAMP,
			               "line protocol: timestamp %s: %s",
			               excerpt(ex, sc->lp_ts, sc->lp_ts_len, 0), reason);
		return 0;
	}
	if (!(sc->found & (UINT32_C(1) << p->ts_slot)))
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
		               "missing timestamp field \"%s\"", slot_name(sc, p->ts_slot, nm));
	t = &sc->toks[p->ts_slot];
	switch (t->type) {
	case TOK_STRING:
		s = t->ptr;
		n = t->len;
		if (t->enc != ENC_RAW) {
			long k = decode(t, text, sizeof(text));

			if (k < 0)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TIMESTAMP,
				               "timestamp field \"%s\": %s: longer than %d bytes",
				               slot_name(sc, p->ts_slot, nm), shown(sc, t, ex),
				               TS_TEXT_MAX);
			s = text;
			n = (size_t)k;
		}
		if (p->format == TW_FORMAT_CSV) {
			trim(&s, &n);
			if (n == 0)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
				               "timestamp field \"%s\" is empty",
				               slot_name(sc, p->ts_slot, nm));
		}
		break;
	case TOK_NUMBER:
		if (p->ts.kind == TW_TIME_RFC3339 || p->ts.kind == TW_TIME_STRPTIME)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TIMESTAMP,
			               "timestamp field \"%s\": %s is a number, but the timestamp "
			               "kind is %s",
			               slot_name(sc, p->ts_slot, nm), shown(sc, t, ex),
			               tw_time_kind_name(p->ts.kind));
		s = t->ptr;
		n = t->len;
		break;
	case TOK_NULL:
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
		               "timestamp field \"%s\" is null", slot_name(sc, p->ts_slot, nm));
	default:
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TIMESTAMP,
		               "timestamp field \"%s\": %s is not a timestamp",
		               slot_name(sc, p->ts_slot, nm), shown(sc, t, ex));
	}
	r = tw_time_parse(&p->ts, s, n, &out->ts_ns, reason, sizeof(reason));
	if (r < 0)
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TIMESTAMP,
		               "timestamp field \"%s\": %s: %s", slot_name(sc, p->ts_slot, nm),
		               shown(sc, t, ex), reason);
	return 0;
}

/* Key text must be UTF-8 (PostgreSQL and InfluxDB refuse anything else)
 * without U+0000 (C strings in the sinks) or TW_KEY_SEP (it joins keys). */
static int check_key_text(struct scan *sc, int slot, const char *k, size_t n)
{
	const unsigned char *u = (const unsigned char *)k;
	char nm[EXCERPT_BUF];

	for (size_t i = 0; i < n;) {
		if (u[i] < 0x80) {
			if (u[i] == 0 || u[i] == (unsigned char)TW_KEY_SEP)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
				               "key field \"%s\": contains U+%04X",
				               slot_name(sc, slot, nm), u[i]);
			i++;
			continue;
		}
		size_t m = utf8_len(u + i, n - i);

		if (m == 0)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
			               "key field \"%s\": invalid UTF-8", slot_name(sc, slot, nm));
		i += m;
	}
	return 0;
}

static int too_long(struct scan *sc, int slot)
{
	char nm[EXCERPT_BUF];

	return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TOO_LONG,
	               "key longer than %d bytes (at key field \"%s\")", TW_KEY_MAX,
	               slot_name(sc, slot, nm));
}

static int take_keys(struct scan *sc, struct tw_event *out)
{
	const struct tw_parser *p = sc->p;
	size_t klen = 0;

	for (size_t i = 0; i < p->n_keys; i++) {
		int slot = p->key_slot[i];
		const struct tok *t = &sc->toks[slot];
		char nm[EXCERPT_BUF], ex[EXCERPT_BUF + 2], num[TW_KEY_MAX + 1];
		long k;

		if (!(sc->found & (UINT32_C(1) << slot)))
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
			               "missing key field \"%s\"", slot_name(sc, slot, nm));
		if (i > 0) {
			if (klen == TW_KEY_MAX)
				return too_long(sc, slot);
			out->key[klen++] = TW_KEY_SEP;
		}
		switch (t->type) {
		case TOK_STRING:
		case TOK_TAG:
			if (t->len == 0 && p->format == TW_FORMAT_CSV)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
				               "key field \"%s\" is empty",
				               slot_name(sc, slot, nm));
			k = decode(t, out->key + klen, TW_KEY_MAX - klen);
			if (k < 0)
				return too_long(sc, slot);
			break;
		case TOK_NUMBER:
		case TOK_INT:
		case TOK_UINT:
			k = number_key(t->ptr, t->len, num, sizeof(num));
			if (k == NUM_RANGE)
				return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
				               "key field \"%s\": %s is out of range",
				               slot_name(sc, slot, nm), shown(sc, t, ex));
			if (k < 0 || (size_t)k > TW_KEY_MAX - klen)
				return too_long(sc, slot);
			memcpy(out->key + klen, num, (size_t)k);
			break;
		case TOK_NULL:
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_MISSING,
			               "key field \"%s\" is null", slot_name(sc, slot, nm));
		default:
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
			               "key field \"%s\": %s is not a string or number",
			               slot_name(sc, slot, nm), shown(sc, t, ex));
		}
		if (check_key_text(sc, slot, out->key + klen, (size_t)k) < 0)
			return TW_EVENT_E_TYPE;
		klen += (size_t)k;
	}
	out->key_len = klen;
	return 0;
}

static int take_values(struct scan *sc, struct tw_event *out)
{
	const struct tw_parser *p = sc->p;
	uint32_t present = 0;

	for (size_t i = 0; i < p->n_values; i++) {
		int slot = p->value_slot[i], r;
		const struct tok *t = &sc->toks[slot];
		char nm[EXCERPT_BUF], ex[EXCERPT_BUF + 2], text[NUM_TEXT_MAX];
		const char *s = t->ptr;
		size_t n = t->len;
		double v;

		if (!(sc->found & (UINT32_C(1) << slot)))
			continue;
		switch (t->type) {
		case TOK_NULL:
			continue;
		case TOK_TRUE:
		case TOK_FALSE:
			if (p->format == TW_FORMAT_LP) {
				/* line protocol booleans are typed fields: 1 / 0 */
				out->values[i] = t->type == TOK_TRUE ? 1.0 : 0.0;
				present |= UINT32_C(1) << i;
				continue;
			}
			goto not_a_number;
		case TOK_NUMBER:
		case TOK_INT:
		case TOK_UINT:
			break;
		case TOK_STRING:
			if (p->format != TW_FORMAT_CSV)
				goto not_a_number;
			if (t->enc != ENC_RAW) {
				long k = decode(t, text, sizeof(text));

				if (k < 0)
					goto not_a_number;
				s = text;
				n = (size_t)k;
			}
			trim(&s, &n);
			if (n == 0)
				continue; /* an empty cell: no value */
			break;
		default:
			goto not_a_number;
		}
		r = parse_double(s, n, &v);
		if (r == NUM_RANGE)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
			               "field \"%s\": %s is out of range", slot_name(sc, slot, nm),
			               shown(sc, t, ex));
		if (r == NUM_LONG)
			return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
			               "field \"%s\": number longer than %d bytes",
			               slot_name(sc, slot, nm), NUM_TEXT_MAX);
		if (r < 0)
			goto not_a_number;
		out->values[i] = v;
		present |= UINT32_C(1) << i;
		continue;
	not_a_number:
		return err_set(sc->errbuf, sc->errbuf_size, TW_EVENT_E_TYPE,
		               "field \"%s\": %s is not a number", slot_name(sc, slot, nm),
		               shown(sc, t, ex));
	}
	out->present = present;
	return 0;
}

int tw_parser_parse(const struct tw_parser *p, const char *buf, size_t len, struct tw_event *out,
                    char *errbuf, size_t errbuf_size)
{
	struct scan sc;
	int r;

	sc.p = p;
	sc.buf = buf;
	sc.len = len;
	sc.pos = 0;
	sc.found = 0;
	sc.lp_ts = NULL;
	sc.lp_ts_len = 0;
	sc.errbuf = errbuf;
	sc.errbuf_size = errbuf_size;
	out->key_len = 0;
	out->present = 0;
	if (buf == NULL && len > 0)
		return err_set(errbuf, errbuf_size, TW_EVENT_E_SYNTAX, "no message");
	if (buf == NULL)
		sc.buf = "";
	switch (p->format) {
	case TW_FORMAT_JSON:
		r = json_scan(&sc);
		break;
	case TW_FORMAT_CSV:
		r = csv_scan(&sc);
		break;
	default:
		r = lp_scan(&sc);
	}
	if (r == 0)
		r = take_timestamp(&sc, out);
	if (r == 0)
		r = take_keys(&sc, out);
	if (r == 0)
		r = take_values(&sc, out);
	return r;
}

/* ==== Set-up ==== */

static const char *const format_names[] = {
    [TW_FORMAT_UNSET] = "unset",
    [TW_FORMAT_JSON] = "json",
    [TW_FORMAT_CSV] = "csv",
    [TW_FORMAT_LP] = "influx",
};

int tw_format_parse(const char *name, enum tw_format *format)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "json") == 0)
		*format = TW_FORMAT_JSON;
	else if (strcmp(name, "csv") == 0)
		*format = TW_FORMAT_CSV;
	else if (strcmp(name, "influx") == 0 || strcmp(name, "lineprotocol") == 0)
		*format = TW_FORMAT_LP;
	else
		return -1;
	return 0;
}

const char *tw_format_name(enum tw_format format)
{
	if ((int)format < TW_FORMAT_JSON || format > TW_FORMAT_LP)
		return format_names[TW_FORMAT_UNSET];
	return format_names[format];
}

void tw_parser_free(struct tw_parser *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_slots; i++)
		free(p->names[i]);
	free(p->nodes);
	free(p->kids);
	free(p->segs);
	free(p->col_slot);
	free(p);
}

#define SETUP_FAIL(...) (err_set(errbuf, errbuf_size, -1, __VA_ARGS__), tw_parser_free(p), NULL)

/* The slot for name (shared when two roles name the same field), or -1
 * with the reason in errbuf. role and idx say which setting it came from. */
static int add_slot(struct tw_parser *p, const char *name, const char *role, size_t idx,
                    char *errbuf, size_t errbuf_size)
{
	size_t n;
	char ex[EXCERPT_BUF];

	if (name == NULL || name[0] == '\0')
		return err_set(errbuf, errbuf_size, -1, "%s %zu has an empty name", role, idx + 1);
	n = strlen(name);
	if (n > TW_FIELD_NAME_MAX)
		return err_set(errbuf, errbuf_size, -1, "field name \"%s\" is longer than %d bytes",
		               excerpt(ex, name, n, 0), TW_FIELD_NAME_MAX);
	for (size_t i = 0; i < p->n_slots; i++)
		if (p->name_lens[i] == n && memcmp(p->names[i], name, n) == 0)
			return (int)i;
	p->names[p->n_slots] = strdup(name);
	if (p->names[p->n_slots] == NULL)
		return err_set(errbuf, errbuf_size, -1, "out of memory");
	p->name_lens[p->n_slots] = n;
	return (int)p->n_slots++;
}

/* Splits every slot name on unescaped '.' into the path trie. */
static int build_trie(struct tw_parser *p, char *errbuf, size_t errbuf_size)
{
	size_t total = 0, max_nodes = 1, used = 0;
	char ex[EXCERPT_BUF], ex2[EXCERPT_BUF];

	for (size_t i = 0; i < p->n_slots; i++) {
		total += p->name_lens[i];
		max_nodes += p->name_lens[i] / 2 + 1;
	}
	p->segs = malloc(total + 1);
	p->nodes = calloc(max_nodes, sizeof(*p->nodes));
	if (p->segs == NULL || p->nodes == NULL)
		return err_set(errbuf, errbuf_size, -1, "out of memory");
	p->nodes[0].slot = -1;
	p->nodes[0].first_child = -1;
	p->nodes[0].next = -1;
	p->n_nodes = 1;
	for (size_t i = 0; i < p->n_slots; i++) {
		const char *name = p->names[i];
		size_t n = p->name_lens[i], j = 0;
		int node = 0;

		for (;;) {
			char *seg = p->segs + used;
			size_t seg_len = 0;
			int c;

			while (j < n && name[j] != '.') {
				if (name[j] == '\\') {
					if (j + 1 >= n ||
					    (name[j + 1] != '.' && name[j + 1] != '\\'))
						return err_set(errbuf, errbuf_size, -1,
						               "field \"%s\": in a JSON path '\\' "
						               "must come before '.' or '\\'",
						               excerpt(ex, name, n, 0));
					j++;
				}
				seg[seg_len++] = name[j++];
			}
			if (seg_len == 0)
				return err_set(errbuf, errbuf_size, -1,
				               "field \"%s\": empty JSON path segment",
				               excerpt(ex, name, n, 0));
			used += seg_len;
			if (p->nodes[node].slot >= 0)
				goto overlap_parent;
			for (c = p->nodes[node].first_child; c >= 0; c = p->nodes[c].next)
				if (p->nodes[c].seg_len == seg_len &&
				    memcmp(p->nodes[c].seg, seg, seg_len) == 0)
					break;
			if (c < 0) {
				int *link = &p->nodes[node].first_child;

				while (*link >= 0) /* append: keep the config's order */
					link = &p->nodes[*link].next;
				c = (int)p->n_nodes++;
				p->nodes[c].seg = seg;
				p->nodes[c].seg_len = seg_len;
				p->nodes[c].slot = -1;
				p->nodes[c].first_child = -1;
				p->nodes[c].next = -1;
				*link = c;
			}
			node = c;
			if (j == n)
				break;
			j++; /* the '.' */
			if (j == n)
				return err_set(errbuf, errbuf_size, -1,
				               "field \"%s\": empty JSON path segment",
				               excerpt(ex, name, n, 0));
		}
		if (p->nodes[node].first_child >= 0) {
			/* another field lies inside this one */
			int d = node;

			while (p->nodes[d].slot < 0)
				d = p->nodes[d].first_child;
			return err_set(
			    errbuf, errbuf_size, -1,
			    "field \"%s\" is inside field \"%s\": a field cannot be both",
			    excerpt(ex2, p->names[p->nodes[d].slot], p->name_lens[p->nodes[d].slot],
			            0),
			    excerpt(ex, name, n, 0));
		}
		if (p->nodes[node].slot >= 0)
			return err_set(errbuf, errbuf_size, -1,
			               "fields \"%s\" and \"%s\" are one path",
			               excerpt(ex2, p->names[p->nodes[node].slot],
			                       p->name_lens[p->nodes[node].slot], 0),
			               excerpt(ex, name, n, 0));
		p->nodes[node].slot = (int)i;
		continue;
	overlap_parent:
		return err_set(errbuf, errbuf_size, -1,
		               "field \"%s\" is inside field \"%s\": a field cannot be both",
		               excerpt(ex, name, n, 0),
		               excerpt(ex2, p->names[p->nodes[node].slot],
		                       p->name_lens[p->nodes[node].slot], 0));
	}
	/* Children side by side, for j_child()'s cache-friendly scan. */
	p->kids = malloc(p->n_nodes * sizeof(*p->kids));
	if (p->kids == NULL)
		return err_set(errbuf, errbuf_size, -1, "out of memory");
	for (size_t i = 0, k = 0; i < p->n_nodes; i++) {
		p->nodes[i].kid_begin = (int)k;
		p->nodes[i].n_kids = 0;
		for (int c = p->nodes[i].first_child; c >= 0; c = p->nodes[c].next) {
			p->kids[k++] = c;
			p->nodes[i].n_kids++;
		}
	}
	return 0;
}

static int setup_csv(struct tw_parser *p, const struct tw_parser_spec *spec, char *errbuf,
                     size_t errbuf_size)
{
	char ex[EXCERPT_BUF];

	p->delim = spec->csv_delimiter ? spec->csv_delimiter : ',';
	if (p->delim == '"' || p->delim == '\r' || p->delim == '\n')
		return err_set(errbuf, errbuf_size, -1,
		               "the CSV delimiter cannot be '\"', CR or LF");
	if (spec->n_csv_columns == 0 || spec->csv_columns == NULL)
		return err_set(errbuf, errbuf_size, -1, "CSV needs the header's column names");
	if (spec->n_csv_columns > TW_CSV_COLUMNS_MAX)
		return err_set(errbuf, errbuf_size, -1, "%zu CSV columns, more than %d",
		               spec->n_csv_columns, TW_CSV_COLUMNS_MAX);
	p->n_cols = spec->n_csv_columns;
	p->col_slot = malloc(p->n_cols);
	if (p->col_slot == NULL)
		return err_set(errbuf, errbuf_size, -1, "out of memory");
	memset(p->col_slot, -1, p->n_cols);
	for (size_t i = 0; i < p->n_cols; i++)
		if (spec->csv_columns[i] == NULL)
			return err_set(errbuf, errbuf_size, -1, "CSV column %zu has no name",
			               i + 1);
	for (size_t s = 0; s < p->n_slots; s++) {
		int col = -1;

		for (size_t i = 0; i < p->n_cols; i++) {
			if (strcmp(spec->csv_columns[i], p->names[s]) != 0)
				continue;
			if (col >= 0)
				return err_set(errbuf, errbuf_size, -1,
				               "CSV column \"%s\" appears twice in the header",
				               excerpt(ex, p->names[s], p->name_lens[s], 0));
			col = (int)i;
		}
		if (col < 0)
			return err_set(errbuf, errbuf_size, -1,
			               "field \"%s\" is not one of the CSV columns",
			               excerpt(ex, p->names[s], p->name_lens[s], 0));
		p->col_slot[col] = (signed char)s;
	}
	return 0;
}

struct tw_parser *tw_parser_new(const struct tw_parser_spec *spec, char *errbuf, size_t errbuf_size)
{
	struct tw_parser *p = calloc(1, sizeof(*p));
	int slot;

	if (p == NULL)
		return SETUP_FAIL("out of memory"); /* tw_parser_free(NULL) is a no-op */
	p->format = spec->format;
	p->ts_slot = -1;
	if (spec->format != TW_FORMAT_JSON && spec->format != TW_FORMAT_CSV &&
	    spec->format != TW_FORMAT_LP)
		return SETUP_FAIL("the format is not set (json, csv or influx)");
	if (spec->n_key_fields > TW_KEYS_MAX)
		return SETUP_FAIL("%zu key fields, at most %d", spec->n_key_fields, TW_KEYS_MAX);
	if (spec->n_value_fields > TW_VALUES_MAX)
		return SETUP_FAIL("%zu value fields, at most %d", spec->n_value_fields,
		                  TW_VALUES_MAX);
	if ((spec->n_key_fields > 0 && spec->key_fields == NULL) ||
	    (spec->n_value_fields > 0 && spec->value_fields == NULL))
		return SETUP_FAIL("key or value field names missing");

	if (spec->format == TW_FORMAT_LP) {
		/* The line's timestamp is the event time; "_time" is what Flux
		 * calls it, accepted so a config can say so explicitly. */
		if (spec->ts_field != NULL && spec->ts_field[0] != '\0' &&
		    strcmp(spec->ts_field, "_time") != 0)
			return SETUP_FAIL("line protocol: the timestamp is the line's own; set "
			                  "the timestamp field to \"_time\" or leave it empty");
		/* (void): an epoch kind needs no format, so these cannot fail */
		if (spec->ts_kind == TW_TIME_UNSET)
			(void)tw_time_spec_init(&p->ts, TW_TIME_EPOCH_NS, NULL, NULL, 0);
		else if (spec->ts_kind >= TW_TIME_EPOCH_S && spec->ts_kind <= TW_TIME_EPOCH_NS)
			(void)tw_time_spec_init(&p->ts, spec->ts_kind, NULL, NULL, 0);
		else
			return SETUP_FAIL("line protocol: the timestamp precision must be "
			                  "epoch_s, epoch_ms, epoch_us or epoch_ns");
	} else {
		if (spec->ts_field == NULL || spec->ts_field[0] == '\0')
			return SETUP_FAIL("the timestamp field is not set");
		if (tw_time_spec_init(&p->ts, spec->ts_kind, spec->ts_format, errbuf, errbuf_size) <
		    0) {
			tw_parser_free(p);
			return NULL;
		}
		slot = add_slot(p, spec->ts_field, "timestamp field", 0, errbuf, errbuf_size);
		if (slot < 0) {
			tw_parser_free(p);
			return NULL;
		}
		p->ts_slot = slot;
	}
	for (size_t i = 0; i < spec->n_key_fields; i++) {
		slot = add_slot(p, spec->key_fields[i], "key field", i, errbuf, errbuf_size);
		if (slot < 0) {
			tw_parser_free(p);
			return NULL;
		}
		p->key_slot[p->n_keys++] = slot;
	}
	for (size_t i = 0; i < spec->n_value_fields; i++) {
		slot = add_slot(p, spec->value_fields[i], "value field", i, errbuf, errbuf_size);
		if (slot < 0) {
			tw_parser_free(p);
			return NULL;
		}
		p->value_slot[p->n_values++] = slot;
	}
	p->meas_slot = -1;
	for (size_t i = 0; i < p->n_slots; i++)
		if (strcmp(p->names[i], "_measurement") == 0)
			p->meas_slot = (int)i;
	if ((spec->format == TW_FORMAT_JSON && build_trie(p, errbuf, errbuf_size) < 0) ||
	    (spec->format == TW_FORMAT_CSV && setup_csv(p, spec, errbuf, errbuf_size) < 0)) {
		tw_parser_free(p);
		return NULL;
	}
	return p;
}
