/* lineproto.c -- line protocol encoding; see lineproto.h. */
#include "lineproto.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "err.h"

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
static int put_escaped(struct buf *b, enum elem e, const char *s, size_t len, const char *what,
                       char *errbuf, size_t errbuf_size)
{
	char ex[200];
	size_t run = 0;
	int r;

	if (len == 0)
		return err_set(errbuf, errbuf_size, LP_E_INVALID, "%s: empty", what);
	if (e != ELEM_TAG_VALUE && s[0] == '_')
		return err_set(errbuf, errbuf_size, LP_E_INVALID,
		               "%s: \"%s\" starts with '_', reserved by InfluxDB", what,
		               excerpt(s, len, ex, sizeof(ex)));
	if (e == ELEM_MEASUREMENT && s[0] == '#')
		return err_set(errbuf, errbuf_size, LP_E_INVALID,
		               "%s: \"%s\" starts with '#', a comment", what,
		               excerpt(s, len, ex, sizeof(ex)));
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\n' || c == '\r')
			return err_set(errbuf, errbuf_size, LP_E_INVALID,
			               "%s: \"%s\" contains a newline", what,
			               excerpt(s, len, ex, sizeof(ex)));
		if (c == '\\' && (i + 1 == len || s[i + 1] == '\\' || needs_escape(e, s[i + 1])))
			return err_set(errbuf, errbuf_size, LP_E_INVALID,
			               "%s: \"%s\" has a backslash at the end or before '\\', ',', "
			               "'=' or ' ', which line protocol cannot carry unambiguously",
			               what, excerpt(s, len, ex, sizeof(ex)));
		if (needs_escape(e, c)) {
			r = buf_append(b, s + run, i - run);
			if (r == 0)
				r = buf_append(b, "\\", 1);
			if (r < 0)
				return r;
			run = i;
		}
	}
	return buf_append(b, s + run, len - run);
}

static int put_string_value(struct buf *b, const char *s, size_t len, const char *key, char *errbuf,
                            size_t errbuf_size)
{
	size_t run = 0;
	int r;

	if (len > LP_STRING_MAX)
		return err_set(errbuf, errbuf_size, LP_E_INVALID,
		               "field \"%s\": string longer than %d bytes", key, LP_STRING_MAX);
	r = buf_append(b, "\"", 1);
	for (size_t i = 0; r == 0 && i < len; i++) {
		if (s[i] == '\n' || s[i] == '\r')
			return err_set(errbuf, errbuf_size, LP_E_INVALID,
			               "field \"%s\": string contains a newline", key);
		if (s[i] == '"' || s[i] == '\\') {
			r = buf_append(b, s + run, i - run);
			if (r == 0)
				r = buf_append(b, "\\", 1);
			run = i;
		}
	}
	if (r == 0)
		r = buf_append(b, s + run, len - run);
	if (r == 0)
		r = buf_append(b, "\"", 1);
	return r;
}

static int put_field_value(struct buf *b, const struct lp_field *f, char *errbuf,
                           size_t errbuf_size)
{
	char num[40];
	int n;

	switch (f->type) {
	case LP_FLOAT:
		n = dtoa_shortest(f->v.f, num, sizeof(num));
		if (n < 0)
			return err_set(errbuf, errbuf_size, LP_E_INVALID,
			               "field \"%s\": %s is not a finite number", f->key,
			               isnan(f->v.f) ? "NaN" : "infinity");
		return buf_append(b, num, (size_t)n);
	case LP_INT:
		n = snprintf(num, sizeof(num), "%" PRId64 "i", f->v.i);
		return buf_append(b, num, (size_t)n);
	case LP_UINT:
		n = snprintf(num, sizeof(num), "%" PRIu64 "u", f->v.u);
		return buf_append(b, num, (size_t)n);
	case LP_BOOL:
		return f->v.b ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
	case LP_STRING:
		return put_string_value(b, f->v.s.ptr, f->v.s.len, f->key, errbuf, errbuf_size);
	default:
		return err_set(errbuf, errbuf_size, LP_E_INVALID, "field \"%s\": unknown type %d",
		               f->key, (int)f->type);
	}
}

static int put_point(struct buf *b, const struct lp_point *pt, char *errbuf, size_t errbuf_size)
{
	const struct lp_tag *sorted[LP_TAGS_MAX];
	char what[128], ex[200];
	int r;

	if (pt->measurement == NULL)
		return err_set(errbuf, errbuf_size, LP_E_INVALID, "measurement: empty");
	if (pt->n_tags > LP_TAGS_MAX)
		return err_set(errbuf, errbuf_size, LP_E_INVALID, "%zu tags, more than %d",
		               pt->n_tags, LP_TAGS_MAX);
	if (pt->n_fields == 0)
		return err_set(errbuf, errbuf_size, LP_E_INVALID,
		               "no fields: a point needs at least one");
	/* Insertion sort: a handful of tags, and stable for equal keys so the
	 * duplicate check below sees them side by side. */
	for (size_t i = 0; i < pt->n_tags; i++) {
		size_t j = i;

		if (pt->tags[i].key == NULL)
			return err_set(errbuf, errbuf_size, LP_E_INVALID, "tag key: empty");
		while (j > 0 && strcmp(sorted[j - 1]->key, pt->tags[i].key) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &pt->tags[i];
	}
	r = put_escaped(b, ELEM_MEASUREMENT, pt->measurement, strlen(pt->measurement),
	                elem_names[ELEM_MEASUREMENT], errbuf, errbuf_size);
	for (size_t i = 0; r == 0 && i < pt->n_tags; i++) {
		const struct lp_tag *t = sorted[i];
		size_t klen = strlen(t->key);

		if (i > 0 && strcmp(sorted[i - 1]->key, t->key) == 0)
			return err_set(errbuf, errbuf_size, LP_E_INVALID, "tag \"%s\" given twice",
			               excerpt(t->key, klen, ex, sizeof(ex)));
		r = buf_append(b, ",", 1);
		if (r == 0)
			r = put_escaped(b, ELEM_TAG_KEY, t->key, klen, elem_names[ELEM_TAG_KEY],
			                errbuf, errbuf_size);
		if (r == 0)
			r = buf_append(b, "=", 1);
		if (r == 0) {
			snprintf(what, sizeof(what), "tag \"%s\"",
			         excerpt(t->key, klen, ex, sizeof(ex)));
			if (t->value_len > 0 && t->value == NULL)
				return err_set(errbuf, errbuf_size, LP_E_INVALID, "%s: no value",
				               what);
			r = put_escaped(b, ELEM_TAG_VALUE, t->value, t->value_len, what, errbuf,
			                errbuf_size);
		}
	}
	for (size_t i = 0; r == 0 && i < pt->n_fields; i++) {
		const struct lp_field *f = &pt->fields[i];

		if (f->key == NULL)
			return err_set(errbuf, errbuf_size, LP_E_INVALID, "field key: empty");
		/* Quadratic, but points carry at most TW_VALUES_MAX-ish fields. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(pt->fields[j].key, f->key) == 0)
				return err_set(errbuf, errbuf_size, LP_E_INVALID,
				               "field \"%s\" given twice",
				               excerpt(f->key, strlen(f->key), ex, sizeof(ex)));
		r = buf_append(b, i == 0 ? " " : ",", 1);
		if (r == 0)
			r = put_escaped(b, ELEM_FIELD_KEY, f->key, strlen(f->key),
			                elem_names[ELEM_FIELD_KEY], errbuf, errbuf_size);
		if (r == 0)
			r = buf_append(b, "=", 1);
		if (r == 0)
			r = put_field_value(b, f, errbuf, errbuf_size);
	}
	if (r == 0 && pt->has_ts) {
		char ts[32];
		int n = snprintf(ts, sizeof(ts), " %" PRId64, pt->ts_ns);

		r = buf_append(b, ts, (size_t)n);
	}
	if (r == 0)
		r = buf_append(b, "\n", 1);
	return r;
}

int lp_append(struct buf *b, const struct lp_point *pt, char *errbuf, size_t errbuf_size)
{
	size_t mark = b->len;
	int r = put_point(b, pt, errbuf, errbuf_size);

	if (r < 0) {
		b->len = mark; /* all or nothing: a batch never holds half a point */
		if (r == LP_E_FULL)
			err_set(errbuf, errbuf_size, LP_E_INVALID, "buffer full (%zu bytes)",
			        b->max);
		else if (r == LP_E_NOMEM)
			err_set(errbuf, errbuf_size, LP_E_INVALID, "out of memory");
	}
	return r;
}
