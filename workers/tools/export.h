/* export.h -- `sluice-worker export`: the last N windows of a
 * TelemetryWindow, as CSV, from the PostgreSQL table its spec names (what
 * the PostgreSQL sink wrote; docs/telemetry-sinks.md).
 *
 *   sluice-worker export --config TW.yaml [--last N] [--key K] [--output F.csv|-]
 *
 * "The last N windows" are the N latest window starts of the resource
 * (namespace/name), or of key K with --key; every row of those windows is
 * written, one per (key, window, value field), ordered by window start,
 * key, field. Columns, always in this order, with a header row:
 *
 *   key, window_start, window_end, field, count, value_count,
 *   sum, min, max, mean, p50, p95, p99
 *
 * Times are RFC 3339 UTC with milliseconds ("2027-01-15T08:00:00.000Z");
 * numbers are PostgreSQL's own text (shortest exact for doubles); an
 * aggregate with no value is an empty cell. Cells are quoted per RFC 4180
 * when they hold a comma, a quote or a line break. Lines end in "\n".
 *
 * The DSN comes from the spec's Secret reference, through the same
 * environment variable the worker reads (SLUICE_SECRET_<NAME>_<KEY>);
 * so does spec.sinks.postgres.tls.ca's CA, with which the server is
 * verified (sslmode=verify-full) as the sink verifies it.
 * A file output is written to F.tmp and renamed, so F is never half
 * written.
 */
#ifndef SLUICE_EXPORT_H
#define SLUICE_EXPORT_H

#include <stddef.h>
#include <stdio.h>

/* Exit statuses: 0 done; 1 the database or the output failed; 2 bad
 * options or a spec without a PostgreSQL sink. */
#define EXPORT_EXIT_USAGE 2

/* Most windows one export writes. */
#define EXPORT_LAST_MAX 1000000

struct export_options {
	const char *spec_path; /* the TelemetryWindow, JSON or YAML */
	long long last;        /* N, 1..EXPORT_LAST_MAX */
	const char *key;       /* NULL: every key */
	const char *output;    /* a path, or "-" / NULL for stdout */
};

int export_run(const struct export_options *o);

/* The header row, without its line break. */
extern const char export_csv_header[];

/*
 * The query, for table (a checked identifier) and with or without a key
 * parameter: $1 resource, $2 N, $3 key. Returns the length, or -1 when size
 * is too small.
 */
int export_sql(char *buf, size_t size, const char *table, int with_key);

/* Writes s as one CSV cell (quoted when it must be). Returns 0 or EOF. */
int export_csv_cell(FILE *f, const char *s);

#endif
