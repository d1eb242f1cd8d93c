/* tw_time.h -- event timestamps: text in, int64 nanoseconds since the Unix
 * epoch (UTC) out, and back to RFC 3339 for logs and sinks.
 *
 * Three kinds of timestamp text, chosen once per TelemetryWindow in its
 * spec.fields (see docs/telemetry-input.md):
 *   - RFC 3339: 2026-11-23T05:00:00Z, 2026-11-23T07:00:00.123456789+02:00;
 *   - an epoch number in a declared unit (s, ms, us, ns): 1700000000,
 *     1700000000.123 (s), 1700000000123 (ms);
 *   - a strptime-style format from the config: "%Y-%m-%d %H:%M:%S.%f".
 *
 * Everything here is pure (no clock, no locale, no allocation) and
 * reentrant. Text is taken as (pointer, length), never NUL-terminated:
 * it comes straight from Kafka payloads.
 *
 * The range is TW_TIME_MIN_NS .. TW_TIME_MAX_NS: 1900-01-01T00:00:00Z
 * (a negative number: historical data) up to the int64 ns limit,
 * 2262-04-11T23:47:16.854775807Z, in every kind (RFC 3339, epoch numbers
 * with a sign, strptime formats, %s with a sign). Anything outside is
 * refused with TW_TIME_E_RANGE and a reason naming the range ("absurd"
 * timestamps in the words). Digits finer than 1 ns are dropped by
 * rounding down, toward the past, for negative numbers too (-1.5 ns is
 * -2 ns), so every kind agrees with the RFC 3339 text of the same instant.
 *
 * Times before 1970 are negative: anything that divides one (window
 * alignment, ns to ms or s) must round toward minus infinity, not toward
 * zero as C's '/' does. tw_time_floor_div() and tw_time_floor_mod() are
 * the one place for that.
 */
#ifndef SLUICE_TW_TIME_H
#define SLUICE_TW_TIME_H

#include <stddef.h>
#include <stdint.h>

/* The earliest event time accepted: 1900-01-01T00:00:00Z. */
#define TW_TIME_MIN_NS (INT64_C(-2208988800) * INT64_C(1000000000))
/* The latest: INT64_MAX, 2262-04-11T23:47:16.854775807Z. */
#define TW_TIME_MAX_NS INT64_MAX
/* Both ends as text, for messages and docs. */
#define TW_TIME_MIN_TEXT "1900-01-01T00:00:00Z"
#define TW_TIME_MAX_TEXT "2262-04-11T23:47:16.854775807Z"

/* Longest strptime-style format kept, NUL included. */
#define TW_TIME_FMT_MAX 64

enum tw_time_kind {
	TW_TIME_UNSET = 0, /* not configured: an error for tw_time_spec_init() */
	TW_TIME_RFC3339,
	TW_TIME_EPOCH_S,
	TW_TIME_EPOCH_MS,
	TW_TIME_EPOCH_US,
	TW_TIME_EPOCH_NS,
	TW_TIME_STRPTIME,
};

enum tw_time_error {
	TW_TIME_OK = 0,
	TW_TIME_E_SYNTAX = -1, /* the text is not a timestamp of the kind */
	TW_TIME_E_RANGE = -2,  /* a timestamp, but before 1900 or after the int64 limit */
	TW_TIME_E_SPEC = -3,   /* tw_time_spec_init(): bad kind or format */
};

/* A compiled timestamp setting; a plain value, copy it freely. */
struct tw_time_spec {
	enum tw_time_kind kind;
	char fmt[TW_TIME_FMT_MAX]; /* TW_TIME_STRPTIME only */
};

/*
 * Parses a kind name as the config spells it: "rfc3339", "epoch_s",
 * "epoch_ms", "epoch_us", "epoch_ns" or "strptime" (exactly, lower case).
 * Returns 0, or -1 for anything else (NULL included), leaving *kind as is.
 */
int tw_time_kind_parse(const char *name, enum tw_time_kind *kind);

/* The name tw_time_kind_parse() accepts for kind; "unset" for the rest.
 * The string is static. */
const char *tw_time_kind_name(enum tw_time_kind kind);

/*
 * Fills *spec for kind. fmt is the strptime-style format, required for
 * TW_TIME_STRPTIME and ignored otherwise; it is checked here, once, so a
 * bad format fails at start-up and not per event:
 *
 *   %Y year (4 digits at most)   %y year 69-99 -> 19xx, 00-68 -> 20xx
 *   %m month 1-12                %d, %e day 1-31 (%e: leading space ok)
 *   %H hour 0-23                 %I hour 1-12, with %p AM/PM
 *   %M minute 0-59               %S second 0-59 (no leap second 60)
 *   %f fraction of a second: 1 or more digits, past the 9th dropped
 *      (the Sluice extension; Python's %f, but up to ns)
 *   %j day of year 1-366         %b %h %B month name, %a %A weekday name
 *                                (English, any case, full or 3 letters;
 *                                weekdays are checked as names only)
 *   %z Z, +hh, +hhmm or +hh:mm   %Z UTC, GMT or Z (other names: use %z)
 *   %s epoch seconds, optionally signed: -1.5 with "%s.%f" is 1.5 s
 *      before 1970 (only with %f and literal text)
 *   %T = %H:%M:%S  %F = %Y-%m-%d  %R = %H:%M  %D = %m/%d/%y
 *   %n %t and any white space: zero or more white-space characters
 *   %% a literal '%'; any other character matches itself exactly
 *
 * Numbers take at most their field's width of digits (so "%Y%m%d" reads
 * "20261123"). Without %z or %Z the time is UTC. The whole text must be
 * consumed. A format needs a year (%Y, %y, %F or %D) or %s.
 *
 * Returns 0, or TW_TIME_E_SPEC with a reason in errbuf.
 */
int tw_time_spec_init(struct tw_time_spec *spec, enum tw_time_kind kind, const char *fmt,
                      char *errbuf, size_t errbuf_size);

/*
 * Parses s[0..len) as spec says into *ns. Returns 0, TW_TIME_E_SYNTAX or
 * TW_TIME_E_RANGE with the reason in errbuf (the reason does not repeat the
 * text, so callers can prefix their own context: `month 13 out of range`,
 * `before 1900-01-01T00:00:00Z (the range is ...)`). *ns is set only on
 * success.
 */
int tw_time_parse(const struct tw_time_spec *spec, const char *s, size_t len, int64_t *ns,
                  char *errbuf, size_t errbuf_size);

/*
 * RFC 3339 (section 5.6): YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm).
 * 'T' may also be 't' or a space (RFC 3339's own note), 'Z' may be 'z';
 * the offset is required (a time without one is ambiguous). Contract as
 * for tw_time_parse().
 */
int tw_time_parse_rfc3339(const char *s, size_t len, int64_t *ns, char *errbuf, size_t errbuf_size);

/*
 * An epoch number in unit (TW_TIME_EPOCH_S .. TW_TIME_EPOCH_NS): an
 * optional sign, digits, an optional fraction and an optional exponent
 * ("1700000000", "1700000000.123", "1.7e9"). Converted exactly, in decimal,
 * not through a double; digits finer than 1 ns are dropped. Contract as for
 * tw_time_parse().
 */
int tw_time_parse_epoch(const char *s, size_t len, enum tw_time_kind unit, int64_t *ns,
                        char *errbuf, size_t errbuf_size);

/*
 * floor(a / b) and a - floor(a / b) * b (in [0, b)) for b > 0: division
 * rounding toward minus infinity, so a time before 1970 lands in the
 * window, millisecond or second that contains it (-1 ns is in the second
 * starting at -1 s, not 0). Every division of an event time goes through
 * these. b <= 0 is a caller's bug (the result is then a / b, unchecked).
 */
int64_t tw_time_floor_div(int64_t a, int64_t b);
int64_t tw_time_floor_mod(int64_t a, int64_t b);

#endif
