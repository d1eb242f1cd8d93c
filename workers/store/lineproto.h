/* lineproto.h -- InfluxDB line protocol encoding for the InfluxDB sinks:
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
#ifndef SLUICE_LINEPROTO_H
#define SLUICE_LINEPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum lp_error {
	LP_OK = 0,
	LP_E_INVALID = -1,        /* the point cannot be written; reason in errbuf */
	LP_E_FULL = BUF_E_FULL,   /* the buffer's cap would be passed: flush, then retry */
	LP_E_NOMEM = BUF_E_NOMEM, /* realloc failed */
};

/* ==== Points ==== */

/* Most tags one point may have (they are sorted on the stack). */
#define LP_TAGS_MAX 64
/* Longest string field value InfluxDB accepts. */
#define LP_STRING_MAX 65535

/* A tag: key is NUL-terminated; the value is value_len bytes (a key part
 * of a tw_event is not NUL-terminated). */
struct lp_tag {
	const char *key;
	const char *value;
	size_t value_len;
};

enum lp_type {
	LP_FLOAT = 0, /* 21.5, written to round-trip exactly */
	LP_INT,       /* 40i */
	LP_UINT,      /* 40u (InfluxDB 2.x and 1.8+ only) */
	LP_BOOL,      /* true / false */
	LP_STRING,    /* "text", len bytes */
};

struct lp_field {
	const char *key; /* NUL-terminated */
	enum lp_type type;
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
struct lp_point {
	const char *measurement; /* NUL-terminated */
	const struct lp_tag *tags;
	size_t n_tags;
	const struct lp_field *fields;
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
 * Returns 0; LP_E_INVALID with the reason in errbuf (e.g. `tag "site":
 * value contains a newline`); LP_E_FULL or LP_E_NOMEM. On any error b
 * is as it was before the call, so a batch never holds half a point.
 */
int lp_append(struct buf *b, const struct lp_point *pt, char *errbuf, size_t errbuf_size);

#endif
