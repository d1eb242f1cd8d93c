/* dash_csv.h -- the CSV side of the dashboard's load form, decided without
 * I/O: how `sluice-worker load` (workers/tools/load.h) must publish a file
 * so that the TelemetryWindow reads it (its format, delimiter and key
 * fields, judged against the file's header row), the loader's command
 * line, and what its log lines say of its progress. Pure; tested with
 * tables of cases (tests/unit/test_dashboard_csv.c).
 */
#ifndef SLUICE_DASH_CSV_H
#define SLUICE_DASH_CSV_H

#include <stddef.h>

#include "tw_spec.h"

#define DASH_KEY_FIELDS_MAX 1024

struct dash_load_plan {
	int as_json;   /* publish each record as a JSON object (format json) */
	char delim[2]; /* the file's delimiter, as --delimiter takes it */
	char key_fields[DASH_KEY_FIELDS_MAX]; /* "a,b" for --key-fields, or "" */
};

/*
 * How to publish a file whose first record is header (len bytes, without
 * its line break) to the TelemetryWindow spec:
 *   format json     each record as a JSON object keyed by the header
 *                   (--as-json); the header must hold fields.timestamp
 *   format csv      each record as it is, split at csv.delimiter; the
 *                   header must be csv.columns exactly, in order (the
 *                   worker reads cells by position)
 *   format influx   refused: the topic takes line protocol, not CSV
 * The message key is the spec's key fields (those the header has), so a
 * key's records share a partition as the worker expects. Returns 0, or -1
 * with errbuf saying what to fix, e.g.
 *   the file's header has no column "ts" (spec.fields.timestamp)
 */
int dash_load_plan(const struct tw_spec *spec, const char *header, size_t len,
                   struct dash_load_plan *out, char *errbuf, size_t errbuf_size);

/* The loader's arguments, borrowed strings. */
struct dash_load_cmd {
	const char *worker; /* the sluice-worker binary */
	const char *file, *topic, *bootstrap, *client_id;
	const struct dash_load_plan *plan;
};

#define DASH_LOAD_ARGV_MAX 24

/*
 * argv for `<worker> load --file F --topic T --bootstrap B --progress log
 * --log-level info [--client-id C] [--delimiter D] [--key-fields K] [--as-json]`, NULL
 * ended, pointing into c. Returns argc, or -1 when argv (max entries, NULL
 * included) is too small.
 */
int dash_load_argv(const struct dash_load_cmd *c, const char **argv, size_t max);

/* What the loader said so far. */
struct dash_load_progress {
	long long rows, delivered, failed, skipped;
	int percent;     /* -1: unknown */
	int finished;    /* "load finished" was logged */
	char error[512]; /* the last error line: its msg and error fields */
};

/* An empty progress (counts 0, percent -1). */
void dash_load_progress_init(struct dash_load_progress *p);

/*
 * Reads one line of the loader's stderr (its JSON log lines, lib/log.h):
 * "load progress" and "load finished" set the counts (and finished); a
 * line at level error sets error; a line that is not JSON (the loader's
 * usage messages) sets error too. Returns 1 when p changed, else 0.
 */
int dash_load_progress_line(const char *line, struct dash_load_progress *p);

#endif
