/* `sluice-worker export` (workers/tools/export.h): the pure parts, CSV cells and
 * the query text. The round trip against PostgreSQL is in
 * tests/e2e/test_telemetry.py (test_export_*), judged with psql. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static char *cell(const char *s)
{
	static char out[256];
	FILE *f;

	memset(out, 0, sizeof(out));
	f = fmemopen(out, sizeof(out), "w");

	assert_non_null(f);
	assert_int_equal(export_csv_cell(f, s), 0);
	fclose(f);
	return out;
}

static void test_cells(void **state)
{
	(void)state;
	assert_string_equal(cell("d-17"), "d-17");
	assert_string_equal(cell(""), "");
	assert_string_equal(cell("21.5"), "21.5");
	assert_string_equal(cell("site-a,d-17"), "\"site-a,d-17\"");
	assert_string_equal(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
	assert_string_equal(cell("two\nlines"), "\"two\nlines\"");
	assert_string_equal(cell("cr\r"), "\"cr\r\"");
}

static void test_header(void **state)
{
	(void)state;
	/* The column order is part of the interface: scripts read by position. */
	assert_string_equal(export_csv_header,
	                    "key,window_start,window_end,field,count,value_count,"
	                    "sum,min,max,mean,p50,p95,p99");
}

static void test_sql(void **state)
{
	char buf[2048];

	(void)state;
	assert_true(export_sql(buf, sizeof(buf), "telemetry_windows", 0) > 0);
	assert_non_null(strstr(buf, "FROM \"telemetry_windows\" WHERE resource = $1 ORDER BY "
	                            "window_start DESC LIMIT $2::bigint"));
	assert_null(strstr(buf, "$3"));
	assert_non_null(strstr(buf, "ORDER BY t.window_start, key, field"));
	assert_true(export_sql(buf, sizeof(buf), "t", 1) > 0);
	assert_non_null(strstr(buf, "WHERE resource = $1 AND key = $3 ORDER BY"));
	assert_non_null(strstr(buf, "WHERE t.resource = $1 AND key = $3 ORDER BY"));
	assert_int_equal(export_sql(buf, 40, "t", 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cells),
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_sql),
	};

	return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
