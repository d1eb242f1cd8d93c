/* tw_parse.h -- one Kafka message payload in, one struct tw_event out: the
 * input side of the telemetry worker's pure core (no I/O, no allocation per
 * event).
 *
 * A TelemetryWindow's spec.format and spec.fields are compiled once by
 * tw_parser_new(); tw_parser_parse() then turns each payload (JSON object,
 * CSV record or InfluxDB line protocol line) into an event, or refuses it
 * with an enum tw_event_error and a one-line reason meant for the
 * dead-letter topic:
 *
 *   missing timestamp field "ts"
 *   field "temp": "abc" is not a number
 *   json: unexpected '}' at byte 17
 *
 * docs/telemetry-input.md lists every format rule and every reason.
 */
#ifndef SLUICE_TW_PARSE_H
#define SLUICE_TW_PARSE_H

#include <stddef.h>

#include "tw_event.h"
#include "tw_time.h"

/* Most key fields (spec.fields.keys). */
#define TW_KEYS_MAX 8
/* Longest field name, NUL not counted. */
#define TW_FIELD_NAME_MAX 255
/* Most CSV columns in the header. */
#define TW_CSV_COLUMNS_MAX 1024
/* Deepest JSON nesting accepted: objects and arrays together. */
#define TW_JSON_DEPTH_MAX 64

enum tw_format {
	TW_FORMAT_UNSET = 0,
	TW_FORMAT_JSON,
	TW_FORMAT_CSV,
	TW_FORMAT_LP, /* InfluxDB line protocol */
};

/* Parses "json", "csv", "influx" or "lineprotocol" into *format. Returns 0, or
 * -1 for anything else (NULL included), leaving *format as is. */
int tw_format_parse(const char *name, enum tw_format *format);

/* "json", "csv", "influx"; "unset" otherwise. Static. */
const char *tw_format_name(enum tw_format format);

/*
 * The mapping, as the config gives it. Strings and arrays are borrowed for
 * the tw_parser_new() call only: the parser copies what it keeps.
 *
 * Field names:
 *   JSON: a path of object member names joined by '.': "device.id" is
 *         {"device":{"id":...}}; write "\." for a '.' inside a name and
 *         "\\" for a backslash.
 *   CSV:  a name from csv_columns.
 *   LP:   a tag key or a field key of the line; "_measurement" is the
 *         measurement.
 * One name may serve several roles (a key and a value, say).
 */
struct tw_parser_spec {
	enum tw_format format;

	/* JSON, CSV: the timestamp field and its kind (ts_format for
	 * TW_TIME_STRPTIME). LP: the line's own timestamp is the event time,
	 * so ts_field must be NULL, "" or "_time", and ts_kind is its
	 * precision: TW_TIME_UNSET (ns, line protocol's default) or an epoch
	 * unit. */
	const char *ts_field;
	enum tw_time_kind ts_kind;
	const char *ts_format;

	/* 0 to TW_KEYS_MAX key fields, joined into the event key in order. */
	const char *const *key_fields;
	size_t n_key_fields;

	/* 0 to TW_VALUES_MAX value fields: event values[i] and present bit i. */
	const char *const *value_fields;
	size_t n_value_fields;

	/* CSV only: the header's column names, in order, and the delimiter
	 * (0 means ','; '"', CR and LF are refused). */
	const char *const *csv_columns;
	size_t n_csv_columns;
	char csv_delimiter;
};

struct tw_parser;

/*
 * Checks and compiles spec. Returns a parser the caller owns and frees with
 * tw_parser_free(), or NULL with the reason in errbuf (a config error:
 * `field "temp" is not one of the CSV columns`).
 */
struct tw_parser *tw_parser_new(const struct tw_parser_spec *spec, char *errbuf,
                                size_t errbuf_size);

/* NULL is a no-op. */
void tw_parser_free(struct tw_parser *p);

/*
 * Parses the message buf[0..len) (not NUL-terminated; one JSON object, one
 * CSV record or one line-protocol line, each with at most one trailing
 * newline) into *out.
 *
 * Returns TW_EVENT_OK, or a negative enum tw_event_error with the reason in
 * errbuf; *out is then unspecified. Checks run in a fixed order, so one
 * message always gets the same reason: syntax (the whole message), then
 * the timestamp, then the key fields in order, then the value fields.
 *
 * A value field that is absent (or JSON null, or an empty CSV cell) only
 * leaves its present bit clear; a key or timestamp field that is absent is
 * TW_EVENT_E_MISSING.
 *
 * Threads: p is read-only here, so one parser may serve many threads, each
 * with its own out and errbuf.
 */
int tw_parser_parse(const struct tw_parser *p, const char *buf, size_t len, struct tw_event *out,
                    char *errbuf, size_t errbuf_size);

#endif
