/* parquet.h -- rows out of a Parquet file, for `sluice-worker load`.
 *
 * Debian has no Arrow or Parquet library for C, so this is a reader of the
 * format itself (https://github.com/apache/parquet-format), thin and
 * bounded: it yields a file's rows one at a time as text cells, one per
 * column, the way csvrec yields a CSV file's records, so the loader
 * publishes a Parquet row exactly as it publishes a CSV record.
 *
 * What it reads: flat schemas (REQUIRED and OPTIONAL columns; a nested or
 * repeated column is refused, named), every physical type, data pages v1
 * and v2, dictionary pages, the PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY,
 * RLE (booleans) and BYTE_STREAM_SPLIT encodings, and UNCOMPRESSED, SNAPPY,
 * GZIP and ZSTD pages; page checksums when the writer stored them. How each
 * type becomes text is parquet_text.h's. docs/telemetry-input.md ("Parquet
 * files") has the table.
 *
 * Careful: every length, offset and count read from the file is checked
 * against the file's size and the bounds below before it is used, so a
 * corrupt or hostile file gives an error naming the file, the row group,
 * the column and what was wrong, never a crash or a read out of bounds.
 * A row group is read whole (every page, decompressed and decoded, its
 * values dropped) before its first row is returned, so damage anywhere in
 * it fails it before any of its rows is out: the rows of earlier row
 * groups come, none of the damaged one. Memory: the footer, one row
 * group's compressed column chunks, and one page and one dictionary per
 * column.
 *
 * Threads: one reader per thread. I/O: pread() on the file descriptor (or
 * nothing, for parquet_open_mem).
 */
#ifndef SLUICE_PARQUET_H
#define SLUICE_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#define PARQUET_COLUMNS_MAX 1024
/* The file's metadata (its footer). */
#define PARQUET_FOOTER_MAX (64u << 20)
/* One column chunk, compressed; one row group's chunks together. */
#define PARQUET_CHUNK_MAX (256u << 20)
#define PARQUET_ROW_GROUP_MAX (1024u << 20)
/* One page, uncompressed; a dictionary's values as text. */
#define PARQUET_PAGE_MAX (64u << 20)
#define PARQUET_DICT_TEXT_MAX (256u << 20)

/* What parquet_next returns. */
enum parquet_next_result {
	PARQUET_ROW = 1, /* a row: *cells holds it */
	PARQUET_END = 0, /* no more rows */
	PARQUET_ERROR =
	    -1, /* the file cannot be read on (errbuf); every later call says so again */
	PARQUET_BAD_ROW =
	    -2, /* this row has a value with no text (errbuf); the next call goes on */
};

struct parquet_reader;

/* Whether the first bytes of a file (len of them) are Parquet's magic "PAR1". */
int parquet_magic(const void *head, size_t len);

/*
 * Opens the Parquet file on fd (borrowed: the caller closes it after
 * parquet_close; it must be a regular file, as the metadata is at its
 * end), reads and checks its metadata. name is the file's name for
 * messages (copied). Returns the reader, or NULL with the reason in errbuf:
 *   parquet: f.parquet: not a Parquet file (no PAR1 at its end)
 *   parquet: f.parquet: column "tags" is repeated (a list): only flat schemas are read
 *   parquet: f.parquet: row group 0, column "t": LZO compression is not read (UNCOMPRESSED, SNAPPY,
 * GZIP, ZSTD are)
 */
struct parquet_reader *parquet_open_fd(int fd, const char *name, char *errbuf, size_t errbuf_size);

/* The same over a file held in memory (borrowed: it must outlive the reader). */
struct parquet_reader *parquet_open_mem(const void *data, size_t size, const char *name,
                                        char *errbuf, size_t errbuf_size);

/* Frees the reader; NULL is a no-op. */
void parquet_close(struct parquet_reader *r);

/* The columns' names, in the schema's order (owned by the reader). */
size_t parquet_ncolumns(const struct parquet_reader *r);
char *const *parquet_names(const struct parquet_reader *r);

/* Rows in the file (the row groups' counts added up), and rows returned
 * or skipped so far: after parquet_next, the 1-based number of its row. */
uint64_t parquet_nrows(const struct parquet_reader *r);
uint64_t parquet_row(const struct parquet_reader *r);

/*
 * The next row: *cells points to parquet_ncolumns() NUL-terminated cells,
 * valid until the next call (owned by the reader); a null is an empty cell
 * (parquet_is_null tells it from an empty string). Returns a
 * parquet_next_result; the reasons in errbuf name the file, the row group
 * and the column (PARQUET_ERROR comes at the first row of the row group
 * that holds the damage, before any of its rows; a row group's many rows
 * can make that call a long one):
 *   parquet: f.parquet: row group 2, column "temp": page at offset 81920: snappy: corrupt data
 *   parquet: f.parquet: row 17, column "note": a string value holds a NUL byte (PARQUET_BAD_ROW)
 */
int parquet_next(struct parquet_reader *r, char *const **cells, char *errbuf, size_t errbuf_size);

/* Whether column's cell in the row parquet_next returned last is null. */
int parquet_is_null(const struct parquet_reader *r, size_t column);

#endif
