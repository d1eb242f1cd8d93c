/* fuzz_parquet.c -- libFuzzer target for the loader's Parquet reader
 * (workers/tools/parquet.c, with parquet_thrift.c and parquet_text.c).
 *
 * The input is a whole file, read from a heap block of exactly its size
 * (parquet_open_mem), so ASan sees any read past it. Besides crashes and
 * sanitizer reports it checks that every error names the file; that every
 * row has one NUL-terminated cell per column, nulls empty; that the row as
 * a CSV record (csvrec_join) splits back into the same cells; and that the
 * row as JSON (csvrec_json) is an object cJSON reads, one member per
 * column. Seeds: tests/fuzz/corpus/parquet/ (small files pyarrow wrote).
 *
 *   make fuzz   (or: make BUILD=build/x build/x/fuzz/fuzz_parquet, then run it
 *                on a corpus folder and tests/fuzz/corpus/parquet)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "csvrec.h"
#include "parquet.h"
#include "fuzz_input.h"

/* Rows looked at per input: a tiny file may claim billions of rows that
 * cost nothing to store (a dictionary index of bit width 0). */
#define ROWS_MAX 2000
/* The reader reads a row group whole before its first row, so a file
 * that claims more cells than this is only opened, not read. */
#define CELLS_MAX 2000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_row(struct parquet_reader *r, char *const *cells)
{
	size_t n = parquet_ncolumns(r);
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(cells[i]);
		FUZZ_CHECK(!parquet_is_null(r, i) || len == 0);
		total += len;
	}
	/* Splitting a joined record needs one scratch byte per cell besides
	 * the record's; skip the rare huge row rather than allocate for it. */
	if (total > (1u << 20) || n > CSVREC_CELLS_MAX)
		return;
	char *rec = csvrec_join(cells, n, ',');
	FUZZ_CHECK(rec != NULL);
	size_t len = strlen(rec);
	char *scratch = malloc(len + n + 1);
	char **back = malloc((n + 1) * sizeof(*back));
	char err[128];
	FUZZ_CHECK(scratch != NULL && back != NULL);
	int m = csvrec_split(rec, len, ',', scratch, len + n + 1, back, n + 1, err, sizeof(err));
	FUZZ_CHECK(m == (int)n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(strcmp(back[i], cells[i]) == 0);
	free(back);
	free(scratch);
	free(rec);

	char *json = csvrec_json(parquet_names(r), cells, n);
	FUZZ_CHECK(json != NULL);
	cJSON *doc = cJSON_Parse(json);
	/* cJSON refuses invalid UTF-8 no more than we do; an unescaped
	 * control character cannot appear: csvrec_json escapes them. */
	FUZZ_CHECK(doc != NULL && cJSON_IsObject(doc));
	FUZZ_CHECK(cJSON_GetArraySize(doc) == (int)n);
	cJSON_Delete(doc);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	static const char prefix[] = "parquet: fuzz: ";
	struct parquet_reader *r = parquet_open_mem(data, size, "fuzz", err, sizeof(err));

	if (r == NULL) {
		FUZZ_CHECK(strncmp(err, prefix, sizeof(prefix) - 1) == 0);
		return 0;
	}
	FUZZ_CHECK(parquet_ncolumns(r) >= 1 && parquet_ncolumns(r) <= PARQUET_COLUMNS_MAX);
	for (size_t i = 0; i < parquet_ncolumns(r); i++)
		FUZZ_CHECK(parquet_names(r)[i] != NULL);
	if (parquet_nrows(r) > CELLS_MAX / parquet_ncolumns(r)) {
		parquet_close(r);
		return 0;
	}
	for (int i = 0; i < ROWS_MAX; i++) {
		char *const *cells;
		int rc = parquet_next(r, &cells, err, sizeof(err));
		if (rc == PARQUET_ROW) {
			FUZZ_CHECK(parquet_row(r) == (uint64_t)i + 1);
			check_row(r, cells);
			continue;
		}
		if (rc == PARQUET_BAD_ROW) {
			FUZZ_CHECK(strncmp(err, "parquet: fuzz: row ", 19) == 0);
			continue;
		}
		if (rc == PARQUET_ERROR) {
			FUZZ_CHECK(strncmp(err, prefix, sizeof(prefix) - 1) == 0);
			/* It stays failed. */
			FUZZ_CHECK(parquet_next(r, &cells, err, sizeof(err)) == PARQUET_ERROR);
		} else {
			FUZZ_CHECK(rc == PARQUET_END);
			FUZZ_CHECK(parquet_row(r) <= parquet_nrows(r));
		}
		break;
	}
	parquet_close(r);
	return 0;
}
