/* tw_lineproto.h -- InfluxDB line protocol encoding for the InfluxDB sinks:
 * one point at a time appended to a growable, capped byte buffer that the
 * sink then POSTs to /write (v1) or /api/v2/write (v2) with precision=ns.
 *
 *   weather,device=d-17,site=s3 hum=40,temp=21.5 1795410000123000000
 *
 * Escaping follows the line protocol reference (docs/telemetry-input.md has
 * the table): measurement: comma, space; tag keys, tag values and field
 * keys: comma, equals sign, space; string field values: double quote and
 * backslash. What line protocol cannot carry unambiguously is refused with
 * an error instead of being written wrong: newlines (CR or LF) anywhere,
 * names starting with '_' (reserved by InfluxDB), a measurement starting
 * with '#' (a comment), empty names and tag values, a backslash that ends
 * a name or tag value or comes before a backslash or an escaped character
 * (InfluxDB 1.x and 2.x read those differently), NaN and infinities, strings
 * over 64 KiB.
 *
 * Pure: no I/O, no global state; buffers are the caller's, one per thread.
 */
#ifndef SLUICE_TW_LINEPROTO_H
#define SLUICE_TW_LINEPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tw_event.h"

enum tw_lp_error {
	TW_LP_OK = 0,
	TW_LP_E_INVALID = -1, /* the point cannot be written; reason in errbuf */
	TW_LP_E_FULL = -2,    /* the buffer's cap would be passed: flush, then retry */
	TW_LP_E_NOMEM = -3,   /* realloc failed */
};

/* ==== A growable byte buffer with a hard cap ==== */

/*
 * Members are read-only outside tw_buf_*(): data holds len bytes (not
 * NUL-terminated), cap is the allocation, max the most len may reach.
 * The buffer owns data; tw_buf_free() releases it.
 */
struct tw_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* An empty buffer that will never hold more than max bytes. Allocates
 * nothing until the first append. */
void tw_buf_init(struct tw_buf *b, size_t max);

/* Appends n bytes. Returns 0; TW_LP_E_FULL if len + n would pass max, or
 * TW_LP_E_NOMEM; in both cases the buffer is as it was. */
int tw_buf_append(struct tw_buf *b, const void *p, size_t n);

/* Empties the buffer and keeps its memory for reuse. */
void tw_buf_reset(struct tw_buf *b);

/* Frees the memory; the buffer is then empty and may be reused. NULL is a
 * no-op. */
void tw_buf_free(struct tw_buf *b);

/* ==== Points ==== */

/* Most tags one point may have (they are sorted on the stack). */
#define TW_LP_TAGS_MAX 64
/* Longest string field value InfluxDB accepts. */
#define TW_LP_STRING_MAX 65535

/* A tag: key is NUL-terminated; the value is value_len bytes (a key part
 * of a tw_event is not NUL-terminated). */
struct tw_lp_tag {
	const char *key;
	const char *value;
	size_t value_len;
};

enum tw_lp_type {
	TW_LP_FLOAT = 0, /* 21.5, written to round-trip exactly */
	TW_LP_INT,       /* 40i */
	TW_LP_UINT,      /* 40u (InfluxDB 2.x and 1.8+ only) */
	TW_LP_BOOL,      /* true / false */
	TW_LP_STRING,    /* "text", len bytes */
};

struct tw_lp_field {
	const char *key; /* NUL-terminated */
	enum tw_lp_type type;
	union {
		double f;
		int64_t i;
		uint64_t u;
		int b;
		struct {
			const char *ptr;
			size_t len;
		} s;
	} v;
};

/* One point. Pointers are borrowed for the call only. */
struct tw_lp_point {
	const char *measurement; /* NUL-terminated */
	const struct tw_lp_tag *tags;
	size_t n_tags;
	const struct tw_lp_field *fields;
	size_t n_fields; /* at least 1 */
	int64_t ts_ns;
	int has_ts; /* 0: no timestamp, InfluxDB uses its clock */
};

/*
 * Appends one point and its '\n' to b. Tags are written sorted by key
 * (byte order, as InfluxDB recommends; the caller's array is not
 * changed); fields in the order given. Duplicate tag keys or field keys are
 * refused.
 *
 * Returns 0; TW_LP_E_INVALID with the reason in errbuf (e.g. `tag "site":
 * value contains a newline`); TW_LP_E_FULL or TW_LP_E_NOMEM. On any error b
 * is as it was before the call, so a batch never holds half a point.
 */
int tw_lp_append(struct tw_buf *b, const struct tw_lp_point *pt, char *errbuf, size_t errbuf_size);

/*
 * Appends the raw event ev as a point of measurement: the key is split on
 * TW_KEY_SEP into n_keys tag values named key_names[i], and each present
 * value becomes a float field named value_names[i]. The key must have
 * exactly n_keys parts. An event with no present value is refused (a point
 * needs a field). Contract otherwise as for tw_lp_append().
 */
int tw_lp_append_event(struct tw_buf *b, const char *measurement, const char *const *key_names,
                       size_t n_keys, const char *const *value_names, size_t n_values,
                       const struct tw_event *ev, char *errbuf, size_t errbuf_size);

/*
 * Writes the shortest decimal text that reads back as exactly v ("21.5",
 * "0.1", "1e+300"; integers below 2^53 without exponent: "40"), NUL
 * terminated. Also used by the parser to render numeric keys canonically.
 * Returns the length, or -1 if v is not finite or size is under 32.
 */
int tw_lp_format_double(double v, char *buf, size_t size);

#endif
