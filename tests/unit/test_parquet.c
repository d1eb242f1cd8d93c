/* Unit tests for the Parquet reader (workers/tools/parquet.c, parquet_text.c,
 * parquet_thrift.c) and csvrec_join, which renders its rows as CSV.
 *
 * Files come from pyarrow, the reference writer: tests/unit/fixtures/
 * parquet_gen.py writes them at test time into a temporary folder, each
 * with the cells the reader must give (or the error it must give), and
 * every cell the reader gives is compared with those. It runs with the
 * virtualenv scripts/deps.sh makes ($SLUICE_CACHE/venv-pyarrow-$PYARROW_VERSION,
 * or $SLUICE_PYARROW_PYTHON); without one, the file tests are skipped with
 * a message saying how to make it, and the rest still runs. Then every
 * small file is corrupted byte by byte and cut short: the reader must
 * answer each with rows or an error naming the file, never a crash (run
 * under ASan by make unit-asan), and never a row of the row group the
 * error names. test_bad_row_group damages one page of a row group and
 * checks that the rows before it, and none of it, come out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "csvrec.h"
#include "parquet.h"
#include "parquet_text.h"
#include "parquet_thrift.h"

static char dir[256];
static char python[1024];
static int have_files;

static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name, const char *ext)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s%s", dir, name, ext);
	return buf[i];
}

static char *slurp(const char *file, size_t *len)
{
	FILE *f = fopen(file, "rb");
	char *p = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p != NULL) {
			p[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

/* The virtualenv's python: $SLUICE_PYARROW_PYTHON, or where deps.sh puts
 * it (scripts/versions.sh says; the tests run from the repository's root). */
static void find_python(void)
{
	const char *env = getenv("SLUICE_PYARROW_PYTHON");

	python[0] = '\0';
	if (env != NULL && env[0] != '\0') {
		snprintf(python, sizeof(python), "%s", env);
		return;
	}
	FILE *p = popen(". scripts/versions.sh && "
	                "printf '%s' \"$SLUICE_CACHE/venv-pyarrow-$PYARROW_VERSION/bin/python\"",
	                "r");
	if (p == NULL)
		return;
	if (fgets(python, sizeof(python), p) == NULL)
		python[0] = '\0';
	pclose(p);
}

static int make_files(void **state)
{
	(void)state;
	if (access("scripts/versions.sh", R_OK) != 0 ||
	    access("tests/unit/fixtures/parquet_gen.py", R_OK) != 0) {
		fprintf(stderr, "test_parquet: run it from the repository's root (it reads "
		                "scripts/versions.sh and tests/unit/fixtures/parquet_gen.py)\n");
		return -1;
	}
	find_python();
	if (python[0] == '\0' || access(python, X_OK) != 0) {
		fprintf(stderr,
		        "test_parquet: SKIPPING the tests on pyarrow's files: no virtualenv python "
		        "at '%s' (scripts/deps.sh pyarrow makes it; make test runs it)\n",
		        python);
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/sluice-parquet-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	if (sh("'%s' tests/unit/fixtures/parquet_gen.py '%s'", python, dir) < 0) {
		fprintf(stderr, "test_parquet: tests/unit/fixtures/parquet_gen.py failed\n");
		return -1;
	}
	have_files = 1;
	return 0;
}

static int remove_files(void **state)
{
	(void)state;
	return have_files ? sh("rm -rf '%s'", dir) : 0;
}

#define NEED_FILES()                                                                               \
	do {                                                                                       \
		if (!have_files)                                                                   \
			skip();                                                                    \
	} while (0)

/* ---- parquet_text ---- */

static const char *txt(int n, const char *buf)
{
	return n < 0 ? "(none)" : buf;
}

static void test_text_dates(void **state)
{
	char b[PQTEXT_NUM_MAX];
	(void)state;

	assert_string_equal(txt(pqtext_date(0, b, sizeof(b)), b), "1970-01-01");
	assert_string_equal(txt(pqtext_date(-1, b, sizeof(b)), b), "1969-12-31");
	assert_string_equal(txt(pqtext_date(11016, b, sizeof(b)), b), "2000-02-29");
	assert_string_equal(txt(pqtext_date(-719162, b, sizeof(b)), b), "0001-01-01");
	assert_string_equal(txt(pqtext_date(-719163, b, sizeof(b)), b), "0000-12-31");
	assert_string_equal(txt(pqtext_date(-719528, b, sizeof(b)), b), "0000-01-01");
	assert_string_equal(txt(pqtext_date(-719529, b, sizeof(b)), b), "-0001-12-31");
	assert_string_equal(txt(pqtext_date(2932897, b, sizeof(b)), b), "+10000-01-01");
	assert_string_equal(txt(pqtext_date(2932896, b, sizeof(b)), b), "9999-12-31");
	assert_int_equal(pqtext_date(0, b, 10), -1); /* no room for the NUL */
}

static void test_text_timestamps(void **state)
{
	char b[PQTEXT_NUM_MAX];
	(void)state;

	assert_string_equal(txt(pqtext_timestamp(1795410000123, PQTEXT_MILLIS, 1, b, sizeof(b)), b),
	                    "2026-11-23T05:00:00.123Z");
	assert_string_equal(txt(pqtext_timestamp(-1, PQTEXT_MILLIS, 1, b, sizeof(b)), b),
	                    "1969-12-31T23:59:59.999Z");
	assert_string_equal(txt(pqtext_timestamp(1, PQTEXT_MICROS, 0, b, sizeof(b)), b),
	                    "1970-01-01T00:00:00.000001");
	assert_string_equal(txt(pqtext_timestamp(INT64_MIN, PQTEXT_NANOS, 1, b, sizeof(b)), b),
	                    "1677-09-21T00:12:43.145224192Z");
	assert_string_equal(txt(pqtext_timestamp(INT64_MAX, PQTEXT_NANOS, 1, b, sizeof(b)), b),
	                    "2262-04-11T23:47:16.854775807Z");
	assert_string_equal(txt(pqtext_timestamp(INT64_MIN, PQTEXT_MILLIS, 1, b, sizeof(b)), b),
	                    "-292275055-05-16T16:47:04.192Z");
	assert_string_equal(txt(pqtext_timestamp(INT64_MAX, PQTEXT_MICROS, 1, b, sizeof(b)), b),
	                    "+294247-01-10T04:00:54.775807Z");
	assert_int_equal(pqtext_timestamp(0, (enum pqtext_unit)9, 1, b, sizeof(b)), -1);

	assert_string_equal(txt(pqtext_time(0, PQTEXT_MILLIS, b, sizeof(b)), b), "00:00:00.000");
	assert_string_equal(txt(pqtext_time(86399999, PQTEXT_MILLIS, b, sizeof(b)), b),
	                    "23:59:59.999");
	assert_int_equal(pqtext_time(86400000, PQTEXT_MILLIS, b, sizeof(b)), -1);
	assert_int_equal(pqtext_time(-1, PQTEXT_NANOS, b, sizeof(b)), -1);
	assert_string_equal(txt(pqtext_time(45296000007, PQTEXT_MICROS, b, sizeof(b)), b),
	                    "12:34:56.000007");

	/* INT96: nanoseconds of the day, then the Julian day, little-endian. */
	uint8_t i96[12] = {0};
	uint64_t ns = 3723000000001ULL; /* 01:02:03.000000001 */
	for (int i = 0; i < 8; i++)
		i96[i] = (uint8_t)(ns >> (8 * i));
	uint32_t jd = 2440588 + 1;
	for (int i = 0; i < 4; i++)
		i96[8 + i] = (uint8_t)(jd >> (8 * i));
	assert_string_equal(txt(pqtext_int96(i96, b, sizeof(b)), b),
	                    "1970-01-02T01:02:03.000000001");
}

static void test_text_decimals(void **state)
{
	char b[640];
	(void)state;

	assert_string_equal(txt(pqtext_decimal_int(12345, 2, b, sizeof(b)), b), "123.45");
	assert_string_equal(txt(pqtext_decimal_int(-5, 3, b, sizeof(b)), b), "-0.005");
	assert_string_equal(txt(pqtext_decimal_int(7, 0, b, sizeof(b)), b), "7");
	assert_string_equal(txt(pqtext_decimal_int(0, 2, b, sizeof(b)), b), "0.00");
	assert_string_equal(txt(pqtext_decimal_int(-100, 2, b, sizeof(b)), b), "-1.00");
	assert_string_equal(txt(pqtext_decimal_int(INT64_MIN, 0, b, sizeof(b)), b),
	                    "-9223372036854775808");
	assert_int_equal(pqtext_decimal_int(1, -1, b, sizeof(b)), -1);
	assert_int_equal(pqtext_decimal_int(12345, 2, b, 6), -1);
	assert_int_equal(pqtext_decimal_int(12345, 2, b, 7), 6);

	static const uint8_t m1[] = {0xff}, m2[] = {0xff, 0x85}, zero[] = {0, 0, 0};
	static const uint8_t max128[16] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t min128[16] = {0x80};
	assert_string_equal(txt(pqtext_decimal_be(m1, 1, 0, b, sizeof(b)), b), "-1");
	assert_string_equal(txt(pqtext_decimal_be(m2, 2, 2, b, sizeof(b)), b), "-1.23");
	assert_string_equal(txt(pqtext_decimal_be(zero, 3, 1, b, sizeof(b)), b), "0.0");
	assert_string_equal(txt(pqtext_decimal_be(zero, 0, 0, b, sizeof(b)), b), "0");
	assert_string_equal(txt(pqtext_decimal_be(max128, 16, 0, b, sizeof(b)), b),
	                    "170141183460469231731687303715884105727");
	assert_string_equal(txt(pqtext_decimal_be(min128, 16, 38, b, sizeof(b)), b),
	                    "-1.70141183460469231731687303715884105728");
	uint8_t big[PQTEXT_DECIMAL_BYTES_MAX + 1];
	memset(big, 0xff, sizeof(big));
	assert_string_equal(
	    txt(pqtext_decimal_be(big, PQTEXT_DECIMAL_BYTES_MAX, 0, b, sizeof(b)), b), "-1");
	assert_int_equal(pqtext_decimal_be(big, sizeof(big), 0, b, sizeof(b)), -1);
}

static void test_text_floats(void **state)
{
	char b[PQTEXT_NUM_MAX];
	(void)state;

	assert_string_equal(txt(pqtext_double(21.5, b, sizeof(b)), b), "21.5");
	assert_string_equal(txt(pqtext_double(NAN, b, sizeof(b)), b), "NaN");
	assert_string_equal(txt(pqtext_double(-INFINITY, b, sizeof(b)), b), "-Infinity");
	assert_string_equal(txt(pqtext_float(0.1f, b, sizeof(b)), b), "0.1");
	assert_string_equal(txt(pqtext_float(INFINITY, b, sizeof(b)), b), "Infinity");
	assert_string_equal(txt(pqtext_float(16777216.0f, b, sizeof(b)), b), "16777216");
	assert_string_equal(txt(pqtext_half(0x3c00, b, sizeof(b)), b), "1");
	assert_string_equal(txt(pqtext_half(0x2e66, b, sizeof(b)), b), "0.1");
	/* 65500 is nearer 65504 than either neighbour (65472, infinity). */
	assert_string_equal(txt(pqtext_half(0x7bff, b, sizeof(b)), b), "6.55e+04");
	assert_string_equal(txt(pqtext_half(0x7e00, b, sizeof(b)), b), "NaN");
	assert_string_equal(txt(pqtext_half(0x8000, b, sizeof(b)), b), "-0");

	/* Every float32 text reads back as the same float, for a spread of bit patterns. */
	for (uint64_t u = 0; u < 0x100000000ULL; u += 65521) {
		uint32_t bits = (uint32_t)u;
		float f;
		memcpy(&f, &bits, sizeof(f));
		if (!isfinite(f))
			continue;
		assert_true(pqtext_float(f, b, sizeof(b)) > 0);
		float back = strtof(b, NULL);
		assert_memory_equal(&back, &f, sizeof(f));
	}
	/* Every binary16: the text reads back (rounded to binary16) as the
	 * same value, and one digit fewer would not. */
	for (uint32_t h = 0; h < 0x10000; h++) {
		double v = pqtext_half_value((uint16_t)h);
		int n = pqtext_half((uint16_t)h, b, sizeof(b));
		assert_true(n > 0);
		if (!isfinite(v))
			continue;
		/* d is nearer h than either neighbour (a tie goes to the even one). */
		double d = fabs(strtod(b, NULL)), m = fabs(v);
		uint32_t k = h & 0x7fff;
		double lo = k == 0 ? -pqtext_half_value(1) : pqtext_half_value((uint16_t)(k - 1));
		double hi = k == 0x7bff ? 65536.0 : pqtext_half_value((uint16_t)(k + 1));
		double err = fabs(d - m);
		if (d >= m)
			assert_true(err < (hi - m) / 2 || (err == (hi - m) / 2 && (k & 1) == 0));
		else
			assert_true(err < (m - lo) / 2 || (err == (m - lo) / 2 && (k & 1) == 0));
		if (h % 97 == 0 && isfinite(v) && v != 0) {
			/* Shortest: the text of one digit fewer reads back elsewhere. */
			char shorter[400];
			int digits = 0;
			for (const char *c = b; *c != '\0' && *c != 'e'; c++)
				digits += *c >= '0' && *c <= '9';
			if (digits > 1) {
				snprintf(shorter, sizeof(shorter), "%.*g", digits - 1, v);
				assert_true(strtod(shorter, NULL) != v);
			}
		}
	}
}

static void test_text_bytes(void **state)
{
	char b[64];
	static const struct {
		const char *in, *out;
	} vec[] = {{"", ""},
	           {"f", "Zg=="},
	           {"fo", "Zm8="},
	           {"foo", "Zm9v"},
	           {"foob", "Zm9vYg=="},
	           {"fooba", "Zm9vYmE="},
	           {"foobar", "Zm9vYmFy"},
	           {"\xff\xfe\xfd", "//79"}};
	(void)state;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t len = strlen(vec[i].in);
		assert_int_equal(pqtext_base64((const uint8_t *)vec[i].in, len, b, sizeof(b)),
		                 (int)strlen(vec[i].out));
		assert_string_equal(b, vec[i].out);
		assert_int_equal(pqtext_base64_size(len), strlen(vec[i].out) + 1);
		assert_int_equal(
		    pqtext_base64((const uint8_t *)vec[i].in, len, b, pqtext_base64_size(len) - 1),
		    -1);
	}
	static const uint8_t u[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
	                              0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
	assert_string_equal(txt(pqtext_uuid(u, b, sizeof(b)), b),
	                    "123e4567-e89b-12d3-a456-426614174000");
}

/* ---- the Thrift reader ---- */

static void test_thrift(void **state)
{
	struct thrift t;
	int16_t last = 0, id;
	int32_t v;
	(void)state;

	/* Field 1 (delta) i32 -3 (zigzag 5), field 300 (long form) bool true, stop. */
	static const uint8_t ok[] = {0x15, 0x05, 0x01, 0xd8, 0x04, 0x00};
	thrift_init(&t, ok, sizeof(ok));
	assert_int_equal(thrift_field(&t, &last, &id), THRIFT_I32);
	assert_int_equal(id, 1);
	assert_int_equal(thrift_i32(&t, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(thrift_field(&t, &last, &id), THRIFT_TRUE);
	assert_int_equal(id, 300);
	assert_int_equal(thrift_field(&t, &last, &id), THRIFT_STOP);
	assert_int_equal(thrift_used(&t, ok), sizeof(ok));

	/* A varint that never ends. */
	static const uint8_t endless[] = {0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	last = 0;
	thrift_init(&t, endless, sizeof(endless));
	assert_int_equal(thrift_field(&t, &last, &id), THRIFT_I32);
	assert_int_equal(thrift_i32(&t, &v), -1);
	assert_string_equal(t.err, "varint too long");

	/* A list claiming more elements than there are bytes. */
	static const uint8_t list[] = {0xf5, 0xff, 0x01, 0x02};
	int et;
	uint32_t n;
	thrift_init(&t, list, sizeof(list));
	assert_int_equal(thrift_list(&t, &et, &n), -1);
	assert_string_equal(t.err, "list longer than the bytes left");

	/* Structs nested deeper than THRIFT_DEPTH_MAX: refused, not recursed into. */
	uint8_t deep[200];
	memset(deep, 0x1c, sizeof(deep)); /* field +1, struct, again and again */
	thrift_init(&t, deep, sizeof(deep));
	assert_int_equal(thrift_skip(&t, THRIFT_STRUCT), -1);
	assert_string_equal(t.err, "nested too deep");

	/* A string longer than what is left. */
	static const uint8_t str[] = {0x05, 'a', 'b'};
	const uint8_t *p;
	size_t len;
	thrift_init(&t, str, sizeof(str));
	assert_int_equal(thrift_binary(&t, &p, &len), -1);
	/* The first error sticks. */
	assert_int_equal(thrift_i32(&t, &v), -1);
	assert_string_equal(t.err, "string longer than the bytes left");
}

/* ---- csvrec_join ---- */

static void test_csvrec_join(void **state)
{
	char *cells[] = {"plain", "", "a,b", "say \"hi\"", "two\nlines", "cr\r", " pad ", "\""};
	size_t n = sizeof(cells) / sizeof(cells[0]);
	char *rec = csvrec_join(cells, n, ',');
	(void)state;

	assert_non_null(rec);
	assert_string_equal(
	    rec, "plain,,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\", pad ,\"\"\"\"");
	char scratch[256], *back[16], err[128];
	int m = csvrec_split(rec, strlen(rec), ',', scratch, sizeof(scratch), back, 16, err,
	                     sizeof(err));
	assert_int_equal(m, (int)n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(back[i], cells[i]);
	free(rec);

	char *semi[] = {"a;b", "c,d"};
	rec = csvrec_join(semi, 2, ';');
	assert_string_equal(rec, "\"a;b\";c,d");
	free(rec);
	rec = csvrec_join(NULL, 0, ',');
	assert_string_equal(rec, "");
	free(rec);
}

/* ---- files made by hand ---- */

static void expect_open_error(const void *data, size_t len, const char *want)
{
	char err[512] = "";
	struct parquet_reader *r = parquet_open_mem(data, len, "x.parquet", err, sizeof(err));

	assert_null(r);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_true(strncmp(err, "parquet: x.parquet: ", 20) == 0);
}

static void test_open_errors(void **state)
{
	(void)state;
	expect_open_error("", 0, "not a Parquet file (0 bytes; an empty one has at least 12)");
	expect_open_error("PAR1PAR1", 8, "not a Parquet file (8 bytes");
	expect_open_error("a,b,c\n1,2,3\n", 12, "not a Parquet file (no PAR1 at its start)");
	expect_open_error("PAR1\0\0\0\0\0\0\0\0", 12, "no PAR1 at its end");
	expect_open_error("PAR1\0\0\0\0PARE", 12, "the file is encrypted");
	expect_open_error("PAR1\x05\0\0\0PAR1", 12,
	                  "corrupt footer: 5 bytes of metadata in a file of 12");
	expect_open_error("PAR1\0\0\0\0PAR1", 12, "corrupt metadata: truncated at byte 0");
	/* FileMetaData with an empty schema list. */
	expect_open_error("PAR1\x29\x0c\x00\x03\0\0\0PAR1", 15, "corrupt metadata: no schema");
	/* A schema whose root has no columns after it. */
	expect_open_error("PAR1\x29\x1c\x00\x00\x04\0\0\0PAR1", 16, "no columns");
}

static void test_not_a_file(void **state)
{
	int fds[2];
	char err[256];
	(void)state;

	assert_int_equal(pipe(fds), 0);
	assert_null(parquet_open_fd(fds[0], "pipe", err, sizeof(err)));
	assert_string_equal(err, "parquet: pipe: not a regular file (a Parquet file is read from "
	                         "its end: give a file, not a pipe)");
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(parquet_magic("PAR1xyz", 7), 1);
	assert_int_equal(parquet_magic("PAR", 3), 0);
	assert_int_equal(parquet_magic("par1", 4), 0);
}

/* ---- pyarrow's files ---- */

static cJSON *load_json(const char *file)
{
	size_t len;
	char *text = slurp(file, &len);
	assert_non_null(text);
	cJSON *j = cJSON_Parse(text);
	free(text);
	assert_non_null(j);
	return j;
}

/* The binary16 whose exact value is v (finite): a binary search, as the
 * positive ones grow with their bits. */
static uint16_t half_bits(double v)
{
	double m = fabs(v);
	uint32_t lo = 0, hi = 0x7bff;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (pqtext_half_value((uint16_t)mid) < m)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pqtext_half_value((uint16_t)lo) != m)
		fail_msg("%g is no binary16", v);
	return (uint16_t)(lo | (signbit(v) ? 0x8000 : 0));
}

static void check_cell(const char *file, uint64_t row, const char *col, const char *kind,
                       const char *got, const char *want)
{
	int same;

	if (strcmp(kind, "text") == 0 || strcmp(want, "NaN") == 0 ||
	    strcmp(want, "Infinity") == 0 || strcmp(want, "-Infinity") == 0) {
		same = strcmp(got, want) == 0;
	} else {
		char *end;
		double w = strtod(want, NULL);
		double g = strtod(got, &end);
		same = *end == '\0' && *got != '\0' && csvrec_is_json_number(got, strlen(got));
		if (strcmp(kind, "float") == 0) {
			same = same && strtof(got, NULL) == (float)w &&
			       !signbit(strtof(got, NULL)) == !signbit(w);
		} else if (strcmp(kind, "half") == 0) {
			char b[PQTEXT_NUM_MAX];
			same = same && pqtext_half(half_bits(w), b, sizeof(b)) > 0 &&
			       strcmp(b, got) == 0;
		} else {
			same = same && memcmp(&g, &w, sizeof(g)) == 0;
		}
	}
	if (!same)
		fail_msg("%s: row %llu, column %s (%s): got \"%.80s\", want \"%.80s\"", file,
		         (unsigned long long)row, col, kind, got, want);
}

/* Reads every row of the file and compares it with NAME.json. */
static void check_file(const char *name, int from_memory)
{
	cJSON *j = load_json(path(name, ".json"));
	char err[512];
	char *data = NULL;
	size_t len = 0;
	FILE *f = NULL;
	struct parquet_reader *r;

	if (from_memory) {
		data = slurp(path(name, ".parquet"), &len);
		assert_non_null(data);
		r = parquet_open_mem(data, len, name, err, sizeof(err));
	} else {
		f = fopen(path(name, ".parquet"), "rb");
		assert_non_null(f);
		r = parquet_open_fd(fileno(f), name, err, sizeof(err));
	}
	cJSON *error = cJSON_GetObjectItem(j, "error");
	if (error != NULL) {
		/* Refused: when opened, or at the first row. */
		int rc = PARQUET_ERROR;
		if (r != NULL) {
			char *const *cells;
			while ((rc = parquet_next(r, &cells, err, sizeof(err))) == PARQUET_ROW)
				;
		}
		assert_int_equal(rc, PARQUET_ERROR);
		if (strstr(err, error->valuestring) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", name, err, error->valuestring);
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "parquet: %s: ", name);
		assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
		goto done;
	}
	if (r == NULL)
		fail_msg("%s: %s", name, err);
	cJSON *cols = cJSON_GetObjectItem(j, "columns");
	cJSON *kinds = cJSON_GetObjectItem(j, "kinds");
	cJSON *rows = cJSON_GetObjectItem(j, "rows");
	size_t ncols = (size_t)cJSON_GetArraySize(cols);
	assert_int_equal(parquet_ncolumns(r), ncols);
	for (size_t i = 0; i < ncols; i++)
		assert_string_equal(parquet_names(r)[i],
		                    cJSON_GetArrayItem(cols, (int)i)->valuestring);
	assert_int_equal(parquet_nrows(r), (uint64_t)cJSON_GetArraySize(rows));

	char *const *cells;
	uint64_t n = 0;
	cJSON *row, *bad = cJSON_GetObjectItem(j, "bad");
	cJSON_ArrayForEach(row, rows)
	{
		int rc = parquet_next(r, &cells, err, sizeof(err));
		char at[24];
		snprintf(at, sizeof(at), "%llu", (unsigned long long)n + 1);
		cJSON *why = cJSON_GetObjectItem(bad, at);
		if (why != NULL) {
			/* Skipped, and said why; the next row goes on. */
			char want[256];
			snprintf(want, sizeof(want), "parquet: %s: %s", name, why->valuestring);
			if (rc != PARQUET_BAD_ROW || strncmp(err, want, strlen(want)) != 0)
				fail_msg("%s: row %s: %d \"%s\", want \"%s\"", name, at, rc, err,
				         want);
			n++;
			assert_int_equal(parquet_row(r), n);
			continue;
		}
		if (rc != PARQUET_ROW)
			fail_msg("%s: row %llu: %d %s", name, (unsigned long long)n + 1, rc, err);
		n++;
		assert_int_equal(parquet_row(r), n);
		for (size_t i = 0; i < ncols; i++) {
			const char *col = cJSON_GetArrayItem(cols, (int)i)->valuestring;
			cJSON *want = cJSON_GetArrayItem(row, (int)i);
			if (cJSON_IsNull(want)) {
				if (!parquet_is_null(r, i) || cells[i][0] != '\0')
					fail_msg("%s: row %llu, column %s: \"%.80s\", want null",
					         name, (unsigned long long)n, col, cells[i]);
				continue;
			}
			assert_false(parquet_is_null(r, i));
			check_cell(name, n, col, cJSON_GetObjectItem(kinds, col)->valuestring,
			           cells[i], want->valuestring);
		}
	}
	assert_int_equal(parquet_next(r, &cells, err, sizeof(err)), PARQUET_END);
	assert_int_equal(parquet_next(r, &cells, err, sizeof(err)), PARQUET_END);
done:
	parquet_close(r);
	if (f != NULL)
		fclose(f);
	free(data);
	cJSON_Delete(j);
}

static cJSON *manifest(void)
{
	return load_json(path("manifest", ".json"));
}

static void test_pyarrow_files(void **state)
{
	(void)state;
	NEED_FILES();
	cJSON *m = manifest(), *name;
	int files = 0;
	cJSON_ArrayForEach(name, m)
	{
		check_file(name->valuestring, 0);
		check_file(name->valuestring, 1);
		files++;
	}
	assert_true(files >= 20);
	cJSON_Delete(m);
}

/* A damaged page in a row group: that row group gives no row. Each file
 * whose NAME.json has "corrupt" is damaged at its byte "at" (the last
 * page of row group 1's last column); the reader gives exactly row group
 * 0's rows, then the error naming row group 1 and the column, read from
 * memory and from the file. */
static void check_bad_row_group(const char *name, int from_memory)
{
	cJSON *j = load_json(path(name, ".json"));
	cJSON *corrupt = cJSON_GetObjectItem(j, "corrupt");
	char err[512];
	size_t len;
	uint8_t *data = (uint8_t *)slurp(path(name, ".parquet"), &len);
	FILE *f = NULL;
	struct parquet_reader *r;

	assert_non_null(data);
	size_t at = (size_t)cJSON_GetObjectItem(corrupt, "at")->valuedouble;
	uint64_t rows = (uint64_t)cJSON_GetObjectItem(corrupt, "rows")->valuedouble;
	assert_true(at < len);
	data[at] ^= 0xff;
	if (from_memory) {
		r = parquet_open_mem(data, len, name, err, sizeof(err));
	} else {
		f = tmpfile();
		assert_non_null(f);
		assert_int_equal(fwrite(data, 1, len, f), len);
		assert_int_equal(fflush(f), 0);
		r = parquet_open_fd(fileno(f), name, err, sizeof(err));
	}
	if (r == NULL)
		fail_msg("%s: %s", name, err);
	cJSON *want = cJSON_GetObjectItem(j, "rows");
	char *const *cells;
	int rc;
	uint64_t n = 0;
	while ((rc = parquet_next(r, &cells, err, sizeof(err))) == PARQUET_ROW) {
		n++;
		assert_true(n <= rows);
		cJSON *row = cJSON_GetArrayItem(want, (int)n - 1);
		/* The first column is the row's number. */
		assert_string_equal(cells[0], cJSON_GetArrayItem(row, 0)->valuestring);
	}
	assert_int_equal(rc, PARQUET_ERROR);
	assert_int_equal(n, rows);
	assert_int_equal(parquet_row(r), rows);
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "parquet: %s: %s", name,
	         cJSON_GetObjectItem(corrupt, "error")->valuestring);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, cJSON_GetObjectItem(corrupt, "why")->valuestring) == NULL)
		fail_msg("%s: \"%s\", want \"%s...%s\"", name, err, prefix,
		         cJSON_GetObjectItem(corrupt, "why")->valuestring);
	/* It stays failed. */
	assert_int_equal(parquet_next(r, &cells, err, sizeof(err)), PARQUET_ERROR);
	parquet_close(r);
	if (f != NULL)
		fclose(f);
	free(data);
	cJSON_Delete(j);
}

static void test_bad_row_group(void **state)
{
	(void)state;
	NEED_FILES();
	cJSON *m = manifest(), *name;
	int files = 0;
	cJSON_ArrayForEach(name, m)
	{
		cJSON *j = load_json(path(name->valuestring, ".json"));
		int damaged = cJSON_GetObjectItem(j, "corrupt") != NULL;
		cJSON_Delete(j);
		if (!damaged)
			continue;
		check_bad_row_group(name->valuestring, 1);
		check_bad_row_group(name->valuestring, 0);
		files++;
	}
	assert_true(files >= 2);
	cJSON_Delete(m);
}

/* Reads what it can of a damaged file: rows or an error naming it,
 * nothing else. An error in a row group comes before any of its rows:
 * where every row group has `group` rows (the small files' 12, or the
 * rg3 files' 10) and the metadata still says `total`, the rows read
 * when row group K fails are K * group. */
static void read_damaged(const uint8_t *data, size_t len, uint64_t group, uint64_t total)
{
	char err[512];
	struct parquet_reader *r = parquet_open_mem(data, len, "bad.parquet", err, sizeof(err));

	if (r == NULL) {
		assert_true(strncmp(err, "parquet: bad.parquet: ", 22) == 0);
		return;
	}
	size_t ncols = parquet_ncolumns(r);
	char *const *cells;
	int rc;
	for (int i = 0; i < 100000; i++) {
		rc = parquet_next(r, &cells, err, sizeof(err));
		if (rc == PARQUET_ROW) {
			for (size_t c = 0; c < ncols; c++)
				assert_true(strlen(cells[c]) < (1u << 28));
			continue;
		}
		if (rc == PARQUET_BAD_ROW) {
			assert_true(strncmp(err, "parquet: bad.parquet: row ", 26) == 0);
			continue;
		}
		if (rc == PARQUET_ERROR) {
			assert_true(strncmp(err, "parquet: bad.parquet: ", 22) == 0);
			unsigned long k;
			if (parquet_nrows(r) == total &&
			    sscanf(err, "parquet: bad.parquet: row group %lu,", &k) == 1 &&
			    parquet_row(r) != k * group)
				fail_msg("%s after %llu rows", err,
				         (unsigned long long)parquet_row(r));
		} else {
			assert_int_equal(rc, PARQUET_END);
		}
		break;
	}
	parquet_close(r);
}

static void test_damaged_files(void **state)
{
	(void)state;
	NEED_FILES();
	cJSON *m = manifest(), *name;
	int files = 0;
	cJSON_ArrayForEach(name, m)
	{
		if (strncmp(name->valuestring, "small-", 6) != 0)
			continue;
		size_t len;
		uint8_t *orig = (uint8_t *)slurp(path(name->valuestring, ".parquet"), &len);
		assert_non_null(orig);
		uint64_t group = strstr(name->valuestring, "rg3") != NULL ? 10 : 12;
		uint64_t total = strstr(name->valuestring, "rg3") != NULL ? 30 : 24;
		/* Each copy is a heap block of exactly its length, so ASan sees
		 * any read past it. */
		uint8_t *buf = malloc(len);
		assert_non_null(buf);
		for (size_t at = 0; at < len; at++) {
			static const uint8_t xors[] = {0x01, 0x80, 0xff};
			for (size_t k = 0; k < sizeof(xors); k++) {
				memcpy(buf, orig, len);
				buf[at] ^= xors[k];
				read_damaged(buf, len, group, total);
			}
		}
		/* Cut short, and with bytes taken out before the footer. */
		for (size_t cut = 0; cut < len; cut += 7) {
			uint8_t *part = malloc(cut > 0 ? cut : 1);
			memcpy(part, orig, cut);
			read_damaged(part, cut, group, total);
			free(part);
			if (cut + 3 < len) {
				uint8_t *gap = malloc(len - 3);
				memcpy(gap, orig, cut);
				memcpy(gap + cut, orig + cut + 3, len - cut - 3);
				read_damaged(gap, len - 3, group, total);
				free(gap);
			}
		}
		free(buf);
		free(orig);
		files++;
	}
	assert_true(files >= 4);
	cJSON_Delete(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_dates),    cmocka_unit_test(test_text_timestamps),
	    cmocka_unit_test(test_text_decimals), cmocka_unit_test(test_text_floats),
	    cmocka_unit_test(test_text_bytes),    cmocka_unit_test(test_thrift),
	    cmocka_unit_test(test_csvrec_join),   cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_not_a_file),    cmocka_unit_test(test_pyarrow_files),
	    cmocka_unit_test(test_bad_row_group), cmocka_unit_test(test_damaged_files),
	};
	return cmocka_run_group_tests(tests, make_files, remove_files);
}
