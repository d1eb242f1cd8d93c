/* Unit tests for the store's PostgreSQL connect (workers/store/pg.c): which
 * DSNs libpq parses, what a failed connect means, that no message ever
 * holds the password, and a connect to a closed port. Connects to real
 * servers are tests/integration/tw_sinks_it.c and video_db_it.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg.h"

static void test_pg_dsn_is_conninfo(void **state)
{
	(void)state;
	assert_true(pg_dsn_is_conninfo("postgresql://u@h/db"));
	assert_true(pg_dsn_is_conninfo("postgres://h"));
	assert_true(pg_dsn_is_conninfo("host=h dbname=x"));
	assert_false(pg_dsn_is_conninfo("sluice"));
	assert_false(pg_dsn_is_conninfo(""));
}

static void test_pg_connect_classify(void **state)
{
	(void)state;
	assert_int_equal(pg_connect_classify(1, "fe_sendauth: no password supplied"),
	                 PG_CONNECT_E_CONFIG);
	assert_int_equal(pg_connect_classify(0, "connection to server at \"h\" (::1), port 5432 "
	                                        "failed: FATAL:  password authentication failed "
	                                        "for user \"u\""),
	                 PG_CONNECT_E_CONFIG);
	assert_int_equal(pg_connect_classify(0, "connection to server at \"h\", port 5432 failed: "
	                                        "FATAL:  database \"x\" does not exist"),
	                 PG_CONNECT_E_CONFIG);
	assert_int_equal(pg_connect_classify(0, "connection to server at \"127.0.0.1\", port 1 "
	                                        "failed: Connection refused"),
	                 PG_CONNECT_E_RETRY);
	assert_int_equal(pg_connect_classify(0, "timeout expired"), PG_CONNECT_E_RETRY);
	/* verify-full: the wrong CA, or a certificate for another host. */
	assert_int_equal(pg_connect_classify(0, "connection to server at \"127.0.0.1\", port 5432 "
	                                        "failed: SSL error: certificate verify failed"),
	                 PG_CONNECT_E_CONFIG);
	assert_int_equal(pg_connect_classify(0, "connection to server at \"10.0.0.1\", port 5432 "
	                                        "failed: server certificate for \"db\" does not "
	                                        "match host name \"10.0.0.1\""),
	                 PG_CONNECT_E_CONFIG);
}

/* The CA file: private, what was given, and refused when not a PEM. */
static void test_pg_ca_file_write(void **state)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	char path[256], err[256], got[256];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	assert_int_equal(pg_ca_file_write(pem, "/tmp", path, sizeof(path), err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	assert_string_equal(got, pem);
	unlink(path);
	assert_int_equal(pg_ca_file_write("hunter2", "/tmp", path, sizeof(path), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "not a PEM certificate");
	assert_string_equal(path, "");
	assert_int_equal(
	    pg_ca_file_write(pem, "/nonexistent-dir", path, sizeof(path), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir: "));
}

static void test_pg_scrub(void **state)
{
	static const char *const keywords[] = {"host", "port", "password", NULL};
	char out[128];

	(void)state;
	/* The first line, without its trailing blanks. */
	assert_int_equal(
	    pg_scrub(out, sizeof(out), "refused  \n\tIs the server running?\n", NULL, NULL), 7);
	assert_string_equal(out, "refused");
	/* The password, wherever it is. */
	pg_scrub(out, sizeof(out), "user \"hunter2\": hunter2hunter", "hunter2", NULL);
	assert_string_equal(out, "user \"***\": ***hunter");
	pg_scrub(out, sizeof(out), "no password here", "", NULL);
	assert_string_equal(out, "no password here");
	/* Unparsed: every quoted piece of the DSN but keywords and
	 * punctuation. */
	pg_scrub(out, sizeof(out), "missing \"=\" after \"port\" in connection info string", NULL,
	         keywords);
	assert_string_equal(out, "missing \"=\" after \"port\" in connection info string");
	pg_scrub(out, sizeof(out), "missing \"=\" after \"cret\" in connection info string", NULL,
	         keywords);
	assert_string_equal(out, "missing \"=\" after \"***\" in connection info string");
	pg_scrub(out, sizeof(out), "invalid percent-encoded token: \"s%zz\"", NULL, keywords);
	assert_string_equal(out, "invalid percent-encoded token: \"***\"");
	pg_scrub(out, sizeof(out), "unexpected character \"a\" ... \"b", NULL, keywords);
	assert_string_equal(out, "unexpected character \"***\" ... \"***");
	/* Cut to size, still terminated. */
	assert_int_equal(pg_scrub(out, 5, "connection refused", NULL, NULL), 4);
	assert_string_equal(out, "conn");
	assert_int_equal(pg_scrub(out, 0, "x", NULL, NULL), 0);
}

static void test_pg_dsn_check(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(pg_dsn_check("host=h port=5432 dbname=x", err, sizeof(err)), 0);
	assert_int_equal(
	    pg_dsn_check("postgresql://u:p@h:5432/x?sslmode=disable", err, sizeof(err)), 0);
	/* A lone word: maybe the password under the DSN's key. */
	assert_int_equal(pg_dsn_check("hunter2", err, sizeof(err)), PG_CONNECT_E_CONFIG);
	assert_null(strstr(err, "hunter2"));
	assert_non_null(strstr(err, "not a connection string or URI"));
	assert_int_equal(pg_dsn_check("host=x port", err, sizeof(err)), PG_CONNECT_E_CONFIG);
	assert_non_null(strstr(err, "\"port\""));
	/* libpq quotes the token it could not decode: the password here. */
	assert_int_equal(pg_dsn_check("postgresql://u:pass%zzword@h/x", err, sizeof(err)),
	                 PG_CONNECT_E_CONFIG);
	assert_null(strstr(err, "pass"));
	assert_int_equal(pg_dsn_check("host=h password=se cret=1", err, sizeof(err)),
	                 PG_CONNECT_E_CONFIG);
	assert_null(strstr(err, "cret"));
}

/* A closed port: RETRY, "postgres: connect: ", no password; a DSN libpq
 * cannot read: CONFIG without trying. */
static void test_pg_connect_fails(void **state)
{
	char err[512];
	int failure = 0;

	(void)state;
	assert_null(pg_connect("host=127.0.0.1 port=1 user=u password=hunter2x dbname=x",
	                       "sluice-test", 2, 1000, &failure, err, sizeof(err)));
	assert_int_equal(failure, PG_CONNECT_E_RETRY);
	assert_memory_equal(err, "postgres: connect: ", 19);
	assert_null(strstr(err, "hunter2x"));
	assert_null(strchr(err, '\n'));
	assert_null(pg_connect("postgresql://u:hunter2%zz@127.0.0.1:1/x", NULL, 0, 0, &failure, err,
	                       sizeof(err)));
	assert_int_equal(failure, PG_CONNECT_E_CONFIG);
	assert_memory_equal(err, "postgres: connect: ", 19);
	assert_null(strstr(err, "hunter2"));
	assert_null(pg_connect("hunter2", NULL, 0, 0, &failure, err, sizeof(err)));
	assert_int_equal(failure, PG_CONNECT_E_CONFIG);
	assert_null(strstr(err, "hunter2"));
	/* failure may be NULL. */
	assert_null(
	    pg_connect("host=127.0.0.1 port=1 dbname=x", NULL, 2, 0, NULL, err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pg_dsn_is_conninfo), cmocka_unit_test(test_pg_connect_classify),
	    cmocka_unit_test(test_pg_scrub),           cmocka_unit_test(test_pg_dsn_check),
	    cmocka_unit_test(test_pg_connect_fails),   cmocka_unit_test(test_pg_ca_file_write),
	};

	return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
