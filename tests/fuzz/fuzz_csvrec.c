/* fuzz_csvrec.c -- libFuzzer target for the loader's CSV file reader
 * (workers/tools/csvrec.c).
 *
 * The input is a whole file. Every record it yields is split into cells;
 * besides crashes and sanitizer reports it checks that a split record,
 * written back with every cell quoted, splits into the same cells, and that
 * the record as JSON is an object cJSON reads, with one member per cell.
 *
 *   make fuzz   (or: clang -g -O1 -fsanitize=fuzzer,address,undefined ...)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "csvrec.h"
#include "fuzz_input.h"

#define MAX_CELLS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const char *rec, size_t len)
{
	static char *cells[MAX_CELLS], *again[MAX_CELLS];
	static const char *names[MAX_CELLS] = {0};
	static char name_buf[MAX_CELLS][8];
	char err[128];
	char *scratch = malloc(len + MAX_CELLS);
	int n;

	FUZZ_CHECK(scratch != NULL);
	n = csvrec_split(rec, len, ',', scratch, len + MAX_CELLS, cells, MAX_CELLS, err,
	                 sizeof(err));
	if (n < 0) {
		FUZZ_CHECK(strncmp(err, "csv: ", 5) == 0);
		free(scratch);
		return;
	}
	FUZZ_CHECK(n >= 1 && n <= MAX_CELLS);

	/* Quote every cell again: "" for each quote. */
	size_t cap = 3 * len + 3 * (size_t)n + 1, o = 0;
	char *quoted = malloc(cap);
	FUZZ_CHECK(quoted != NULL);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			quoted[o++] = ',';
		quoted[o++] = '"';
		for (const char *c = cells[i]; *c != '\0'; c++) {
			if (*c == '"')
				quoted[o++] = '"';
			quoted[o++] = *c;
		}
		quoted[o++] = '"';
	}
	FUZZ_CHECK(o < cap);
	char *scratch2 = malloc(o + MAX_CELLS);
	FUZZ_CHECK(scratch2 != NULL);
	int m = csvrec_split(quoted, o, ',', scratch2, o + MAX_CELLS, again, MAX_CELLS, err,
	                     sizeof(err));
	FUZZ_CHECK(m == n);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(strcmp(cells[i], again[i]) == 0);

	/* The JSON form: distinct names, so every cell is one member. */
	for (int i = 0; i < n; i++) {
		snprintf(name_buf[i], sizeof(name_buf[i]), "c%d", i);
		names[i] = name_buf[i];
	}
	char *json = csvrec_json((char *const *)names, cells, (size_t)n);
	FUZZ_CHECK(json != NULL);
	cJSON *doc = cJSON_Parse(json);
	FUZZ_CHECK(doc != NULL && cJSON_IsObject(doc));
	FUZZ_CHECK(cJSON_GetArraySize(doc) == n);
	cJSON_Delete(doc);
	free(json);
	free(scratch2);
	free(quoted);
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csvrec_reader r;
	const char *rec;
	size_t len;
	char err[128];
	FILE *f;
	int rc;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	FUZZ_CHECK(f != NULL);
	csvrec_init(&r, f);
	while ((rc = csvrec_read(&r, &rec, &len, err, sizeof(err))) == 1) {
		FUZZ_CHECK(len > 0 && strlen(rec) <= len);
		check_record(rec, len);
	}
	FUZZ_CHECK(rc == 0 || strncmp(err, "csv: ", 5) == 0);
	csvrec_free(&r);
	fclose(f);
	return 0;
}
