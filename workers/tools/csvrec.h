/* csvrec.h -- RFC 4180 records read from a file, for `sluice-worker load`.
 *
 * The loader publishes one Kafka message per data record, so it needs
 * record boundaries (a quoted cell may hold line breaks), the cells of the
 * key fields, and, with --as-json, every cell. tw_parse's CSV reader parses
 * one message and has no notion of a file, so this is the file side:
 *
 *   csvrec_read     the next record, without its line break (\n or \r\n)
 *   csvrec_split    a record's cells, unquoted and unescaped
 *   csvrec_json     a record as a JSON object keyed by the header's names
 *   csvrec_join     cells as a record (for rows that come from Parquet)
 *
 * Quoting as in RFC 4180 and docs/telemetry-input.md: a quoted cell may
 * hold the delimiter, line breaks and "" for a quote; nothing but the
 * delimiter or the end may follow its closing quote; an unquoted cell may
 * not contain a quote. Empty lines between records are skipped.
 *
 * Bounded: a record longer than CSVREC_MAX bytes or with more than
 * CSVREC_CELLS_MAX cells is an error, not a truncation. Pure but for the
 * FILE read by csvrec_read. One thread per reader.
 */
#ifndef SLUICE_CSVREC_H
#define SLUICE_CSVREC_H

#include <stdint.h>
#include <stdio.h>

#define CSVREC_MAX (1024 * 1024)
#define CSVREC_CELLS_MAX 1024

struct csvrec_reader {
	FILE *f;   /* borrowed */
	char *buf; /* the current record */
	size_t len, cap;
	uint64_t line; /* line number where the current record starts (1-based) */
	uint64_t next_line;
	uint64_t bytes; /* bytes read so far */
};

/* Starts reading f (borrowed: the caller closes it after csvrec_free). */
void csvrec_init(struct csvrec_reader *r, FILE *f);
void csvrec_free(struct csvrec_reader *r);

/*
 * The next record: *rec points to its bytes (len, NUL-terminated, without
 * the line break), valid until the next call. Returns 1, 0 at the end of
 * the file, or -1 with the reason in errbuf:
 *   csv: line 7: record longer than 1048576 bytes
 *   csv: line 9: unterminated quoted cell at the end of the file
 *   csv: read error: Input/output error
 */
int csvrec_read(struct csvrec_reader *r, const char **rec, size_t *len, char *errbuf,
                size_t errbuf_size);

/*
 * Splits rec (len bytes) at delim into at most max cells, unquoting and
 * unescaping them into scratch (at least len + max bytes); cells[i] then
 * points to a NUL-terminated cell in scratch. Returns the number of cells,
 * or -1 with the reason in errbuf:
 *   csv: '"' inside unquoted cell 2
 *   csv: unterminated quoted cell 3
 *   csv: 'x' after the closing quote of cell 1
 *   csv: more than 1024 cells
 */
int csvrec_split(const char *rec, size_t len, char delim, char *scratch, size_t scratch_size,
                 char **cells, size_t max, char *errbuf, size_t errbuf_size);

/*
 * The record as a JSON object {"name": value, ...} with the header's names
 * in order: a cell that is a JSON number once spaces and tabs around it are
 * trimmed is written as that number (its text kept, so no precision is
 * lost), an empty cell as null, anything else as a string. Returns a
 * string to free(), or NULL when out of memory.
 */
char *csvrec_json(char *const *names, char *const *cells, size_t n);

/*
 * The cells as one record (no line break), the inverse of csvrec_split: a
 * cell holding the delimiter, a quote, CR or LF is quoted, its quotes
 * doubled; every other cell is written as it is. Returns a string to
 * free(), or NULL when out of memory.
 */
char *csvrec_join(char *const *cells, size_t n, char delim);

/* Whether s is a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
int csvrec_is_json_number(const char *s, size_t len);

#endif
