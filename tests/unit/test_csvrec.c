/* Unit tests for workers/tools/csvrec.c: record boundaries (quoted line breaks,
 * CRLF, empty lines, a last line without a break), cells (quotes, escapes,
 * every error), the JSON number grammar and the record as JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvrec.h"

/* Reads every record of text; returns how many, each appended to out
 * separated by '|'. */
static int read_all(const char *text, char *out, size_t size, char *err, size_t err_size,
                    uint64_t *lines)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	struct csvrec_reader r;
	const char *rec;
	size_t len;
	int n = 0, rc;

	assert_non_null(f);
	csvrec_init(&r, f);
	out[0] = '\0';
	while ((rc = csvrec_read(&r, &rec, &len, err, err_size)) == 1) {
		assert_int_equal(strlen(rec), len);
		if (lines != NULL)
			lines[n] = r.line;
		if (n > 0)
			strncat(out, "|", size - strlen(out) - 1);
		strncat(out, rec, size - strlen(out) - 1);
		n++;
	}
	csvrec_free(&r);
	fclose(f);
	return rc < 0 ? -1 : n;
}

static void test_records(void **state)
{
	char out[256], err[128];
	uint64_t lines[8];

	(void)state;
	assert_int_equal(read_all("a,b\n1,2\n3,4\n", out, sizeof(out), err, sizeof(err), NULL), 3);
	assert_string_equal(out, "a,b|1,2|3,4");
	/* CRLF, no break after the last record, empty lines skipped. */
	assert_int_equal(
	    read_all("a,b\r\n\r\n1,2\n\n3,4", out, sizeof(out), err, sizeof(err), lines), 3);
	assert_string_equal(out, "a,b|1,2|3,4");
	assert_int_equal(lines[0], 1);
	assert_int_equal(lines[1], 3);
	assert_int_equal(lines[2], 5);
	/* A quoted cell holds line breaks and escaped quotes. */
	assert_int_equal(read_all("h\n\"x\ny\",\"say \"\"hi\"\"\"\nz\n", out, sizeof(out), err,
	                          sizeof(err), lines),
	                 3);
	assert_string_equal(out, "h|\"x\ny\",\"say \"\"hi\"\"\"|z");
	assert_int_equal(lines[1], 2);
	assert_int_equal(lines[2], 4);
	assert_int_equal(read_all("", out, sizeof(out), err, sizeof(err), NULL), 0);
	assert_int_equal(
	    read_all("h\n\"open\nstill open\n", out, sizeof(out), err, sizeof(err), NULL), -1);
	assert_string_equal(err, "csv: line 2: unterminated quoted cell at the end of the file");
}

static void test_record_too_long(void **state)
{
	size_t n = CSVREC_MAX + 10;
	char *text = malloc(n + 1);
	char out[64], err[128];

	(void)state;
	assert_non_null(text);
	memset(text, 'x', n);
	text[0] = '"'; /* one quoted cell that never ends in time */
	text[n] = '\0';
	for (size_t i = 1000; i < n; i += 1000)
		text[i] = '\n';
	FILE *f = fmemopen(text, n, "r");
	struct csvrec_reader r;
	const char *rec;
	size_t len;
	csvrec_init(&r, f);
	assert_int_equal(csvrec_read(&r, &rec, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "csv: line 1: record longer than 1048576 bytes");
	csvrec_free(&r);
	fclose(f);
	free(text);
	(void)out;
}

static int split(const char *rec, char delim, char **cells, size_t max, char *scratch,
                 size_t scratch_size, char *err, size_t err_size)
{
	return csvrec_split(rec, strlen(rec), delim, scratch, scratch_size, cells, max, err,
	                    err_size);
}

static void test_split(void **state)
{
	char *cells[8], scratch[256], err[128];

	(void)state;
	assert_int_equal(split("a,b,,d", ',', cells, 8, scratch, sizeof(scratch), err, sizeof(err)),
	                 4);
	assert_string_equal(cells[0], "a");
	assert_string_equal(cells[2], "");
	assert_string_equal(cells[3], "d");
	assert_int_equal(split("\"x,y\",\"a\"\"b\",\"\", 1 ", ',', cells, 8, scratch,
	                       sizeof(scratch), err, sizeof(err)),
	                 4);
	assert_string_equal(cells[0], "x,y");
	assert_string_equal(cells[1], "a\"b");
	assert_string_equal(cells[2], "");
	assert_string_equal(cells[3], " 1 ");
	assert_int_equal(split("", ',', cells, 8, scratch, sizeof(scratch), err, sizeof(err)), 1);
	assert_string_equal(cells[0], "");
	assert_int_equal(split("a;b,c", ';', cells, 8, scratch, sizeof(scratch), err, sizeof(err)),
	                 2);
	assert_string_equal(cells[1], "b,c");
	assert_int_equal(split("a,b\"c", ',', cells, 8, scratch, sizeof(scratch), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "csv: '\"' inside unquoted cell 2");
	assert_int_equal(split("a,\"bc", ',', cells, 8, scratch, sizeof(scratch), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "csv: unterminated quoted cell 2");
	assert_int_equal(
	    split("\"a\"x,b", ',', cells, 8, scratch, sizeof(scratch), err, sizeof(err)), -1);
	assert_string_equal(err, "csv: 'x' after the closing quote of cell 1");
	assert_int_equal(split("a,b,c", ',', cells, 2, scratch, sizeof(scratch), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "csv: more than 2 cells");
	assert_int_equal(split("a,b", ',', cells, 8, scratch, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "csv: scratch buffer too small");
}

static void test_json_numbers(void **state)
{
	static const char *const yes[] = {"0",   "-0",   "17",      "-1.5",
	                                  "1e3", "1E+3", "2.5e-07", "1700000000123"};
	static const char *const no[] = {"",    "-",   "01",  ".5",   "1.",  "+1", "1e",
	                                 "1e+", "NaN", "inf", "0x10", "1,5", " 1", "12a"};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(csvrec_is_json_number(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (csvrec_is_json_number(no[i], strlen(no[i])))
			fail_msg("\"%s\" read as a JSON number", no[i]);
}

static void test_json(void **state)
{
	char *names[] = {"ts", "device", "temp", "note", "empty", "padded"};
	char *cells[] = {"1700000000123", "007", "21.50", "say \"hi\"\n", "", " -4e2\t"};

	(void)state;
	char *json = csvrec_json(names, cells, 6);
	assert_non_null(json);
	assert_string_equal(json, "{\"ts\":1700000000123,\"device\":\"007\",\"temp\":21.50,"
	                          "\"note\":\"say \\\"hi\\\"\\n\",\"empty\":null,\"padded\":-4e2}");
	free(json);
	json = csvrec_json(names, cells, 0);
	assert_string_equal(json, "{}");
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_records), cmocka_unit_test(test_record_too_long),
	    cmocka_unit_test(test_split),   cmocka_unit_test(test_json_numbers),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
