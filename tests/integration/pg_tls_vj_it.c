/*
 * pg_tls_vj_it.c - spec.sinks.postgres.tls.ca beyond the telemetry sink
 * (pg_tls_it.c covers that one), against the test stack's REAL PostgreSQL
 * and its TLS (tests/e2e/stack.sh: PG_CA_PEM, PG_OTHER_CA_PEM):
 *
 *   - pg_connect_ca_pem: the CA as PEM text (a Secret's value) verifies
 *     the server (pg_stat_ssl says TLS) over the DSN's sslmode=disable, and
 *     leaves no CA file behind; the wrong CA and a non-certificate fail as
 *     CONFIG;
 *   - the VideoJob's workers (video_db_connect_spec) with a VideoJob's
 *     spec.sinks.postgres.tls.ca, the CA from its Secret's variable;
 *   - `sluice-worker export` (export_run) with a TelemetryWindow's.
 *
 * A stack without PG_CA_PEM (one made before PostgreSQL had TLS) skips.
 *
 *   make build/tests/pg_tls_vj_it && . build/stack.env && build/tests/pg_tls_vj_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "export.h"
#include "pg.h"
#include "secret_env.h"
#include "video_db.h"
#include "vj_spec.h"

static const char *dsn, *ca, *other_ca;
static char table[64], job[64], tmpdir[128];

static void need_ca(void)
{
	ca = getenv("PG_CA_PEM");
	other_ca = getenv("PG_OTHER_CA_PEM");
	if (ca == NULL || ca[0] == '\0' || other_ca == NULL || other_ca[0] == '\0') {
		print_message("skipped: PG_CA_PEM is not set (a stack older than PostgreSQL's "
		              "TLS: down and up again)\n");
		skip();
	}
}

/* Files in tmpdir (the CA files go there: TMPDIR). */
static int files_left(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	dsn = it_env("PG_DSN");
	snprintf(table, sizeof(table), "vjtls_%ld_%ld", (long)getpid(), (long)time(NULL));
	snprintf(job, sizeof(job), "vjtls-%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pg_tls_vj_it.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	setenv("TMPDIR", tmpdir, 1);
	return 0;
}

static int teardown(void **state)
{
	char sql[256], path[256];
	PGconn *c = PQconnectdb(dsn);

	(void)state;
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s; DROP TABLE IF EXISTS %s_tw", table,
	         table);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof(sql), "DELETE FROM video_jobs WHERE job LIKE 'sluice-it/%s%%'", table);
	PQclear(PQexec(c, sql));
	PQfinish(c);
	snprintf(path, sizeof(path), "%s/out.csv", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static int is_ssl(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
	int ssl;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	ssl = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return ssl;
}

static void test_connect_ca_pem(void **state)
{
	char err[512];
	int failure = 0;
	char *pem, *other;
	PGconn *c;

	(void)state;
	need_ca();
	pem = it_slurp(ca);
	other = it_slurp(other_ca);
	c = pg_connect_ca_pem(dsn, pem, "pg_tls_vj_it", 5, 0, &failure, err, sizeof(err));
	if (c == NULL)
		fail_msg("verify-full with the stack's CA: %s", err);
	assert_true(is_ssl(c));
	PQfinish(c);
	assert_int_equal(files_left(), 0); /* the CA file went with the connect */

	c = pg_connect_ca_pem(dsn, NULL, "pg_tls_vj_it", 5, 0, &failure, err, sizeof(err));
	assert_non_null(c);
	assert_false(is_ssl(c)); /* no CA: the DSN's own sslmode (disable) */
	PQfinish(c);

	c = pg_connect_ca_pem(dsn, other, "pg_tls_vj_it", 5, 0, &failure, err, sizeof(err));
	assert_null(c);
	assert_int_equal(failure, PG_CONNECT_E_CONFIG);
	if (strstr(err, "certificate verify failed") == NULL)
		fail_msg("the wrong CA: %s", err);
	assert_int_equal(files_left(), 0);

	c = pg_connect_ca_pem(dsn, "not a certificate", "pg_tls_vj_it", 5, 0, &failure, err,
	                      sizeof(err));
	assert_null(c);
	assert_int_equal(failure, PG_CONNECT_E_CONFIG);
	assert_string_equal(err, "postgres: tls.ca: not a PEM certificate");
	free(pem);
	free(other);
}

static void vj_spec_with_ca(struct vj_spec *spec)
{
	char text[1024], err[256];
	cJSON *doc;

	snprintf(text, sizeof(text),
	         "{\"name\":\"%s\",\"namespace\":\"sluice-it\",\"spec\":{"
	         "\"source\":{\"uri\":\"file:///in/a.mp4\"},\"output\":{\"uri\":\"file:///o.mp4\"},"
	         "\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\"},"
	         "\"sinks\":{\"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"},"
	         "\"table\":\"%s\",\"tls\":{\"ca\":{\"name\":\"pg-ca\",\"key\":\"ca.crt\"}}}}}}",
	         job, table);
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	if (vj_spec_parse_document(doc, spec, err, sizeof(err)) != 0)
		fail_msg("spec: %s", err);
	cJSON_Delete(doc);
}

static void test_video_db_verify_full(void **state)
{
	char dsn_var[256], ca_var[256], err[1024];
	struct vj_spec spec;
	char *pem, *other;
	PGconn *c;

	(void)state;
	need_ca();
	pem = it_slurp(ca);
	other = it_slurp(other_ca);
	assert_int_equal(secret_env_name("pg", "dsn", dsn_var, sizeof(dsn_var)), 0);
	assert_int_equal(secret_env_name("pg-ca", "ca.crt", ca_var, sizeof(ca_var)), 0);
	setenv(dsn_var, dsn, 1);
	setenv(ca_var, pem, 1);
	vj_spec_with_ca(&spec);

	c = video_db_connect_spec(&spec, err, sizeof(err));
	if (c == NULL)
		fail_msg("the video workers with the right CA: %s", err);
	assert_true(is_ssl(c));
	PQfinish(c);

	setenv(ca_var, other, 1);
	assert_null(video_db_connect_spec(&spec, err, sizeof(err)));
	if (strstr(err, "certificate verify failed") == NULL)
		fail_msg("the wrong CA: %s", err);

	unsetenv(ca_var);
	assert_null(video_db_connect_spec(&spec, err, sizeof(err)));
	assert_non_null(strstr(err, "spec.sinks.postgres.tls.ca"));
	assert_non_null(strstr(err, ca_var));
	assert_int_equal(files_left(), 0);
	vj_spec_free(&spec);
	unsetenv(dsn_var);
	free(pem);
	free(other);
}

static void test_export_verify_full(void **state)
{
	char dsn_var[256], ca_var[256], spec_path[256], out[256], sql[512];
	char *pem, *other, *csv;
	PGconn *c;
	FILE *f;

	(void)state;
	need_ca();
	pem = it_slurp(ca);
	other = it_slurp(other_ca);
	/* The table as the sink makes it, the columns the exporter reads. */
	c = PQconnectdb(dsn);
	snprintf(sql, sizeof(sql),
	         "CREATE TABLE %s_tw (resource text, key text, window_start timestamptz, "
	         "window_end timestamptz, field text, count bigint, value_count bigint, sum "
	         "float8, min float8, max float8, mean float8, p50 float8, p95 float8, p99 "
	         "float8); INSERT INTO %s_tw VALUES ('sluice-it/tw', 'h1', "
	         "'2027-01-15T08:00:00Z', '2027-01-15T08:01:00Z', 'temp', 1, 1, 20, 20, 20, 20, "
	         "20, 20, 20)",
	         table, table);
	PGresult *r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);

	snprintf(spec_path, sizeof(spec_path), "%s/tw.json", tmpdir);
	snprintf(out, sizeof(out), "%s/out.csv", tmpdir);
	f = fopen(spec_path, "w");
	assert_non_null(f);
	fprintf(f,
	        "{\"name\":\"tw\",\"namespace\":\"sluice-it\",\"spec\":{"
	        "\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"t\"},"
	        "\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"temp\"]},"
	        "\"window\":{\"size\":\"60s\"},"
	        "\"sinks\":{\"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"},"
	        "\"table\":\"%s_tw\",\"tls\":{\"ca\":{\"name\":\"pg-ca\",\"key\":\"ca.crt\"}}}}}}",
	        table);
	fclose(f);
	assert_int_equal(secret_env_name("pg", "dsn", dsn_var, sizeof(dsn_var)), 0);
	assert_int_equal(secret_env_name("pg-ca", "ca.crt", ca_var, sizeof(ca_var)), 0);
	setenv(dsn_var, dsn, 1);
	struct export_options o = {.spec_path = spec_path, .last = 10, .output = out};

	setenv(ca_var, pem, 1);
	assert_int_equal(export_run(&o), 0);
	csv = it_slurp(out);
	assert_non_null(strstr(csv, "h1,2027-01-15T08:00:00.000Z"));
	free(csv);
	unlink(out);

	setenv(ca_var, other, 1);
	assert_int_equal(export_run(&o), 1); /* the server refused: no CSV */
	assert_int_not_equal(access(out, F_OK), 0);

	unsetenv(ca_var);
	assert_int_equal(export_run(&o), EXPORT_EXIT_USAGE);
	unlink(spec_path);
	assert_int_equal(files_left(), 0);
	unsetenv(dsn_var);
	free(pem);
	free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_ca_pem),
	    cmocka_unit_test(test_video_db_verify_full),
	    cmocka_unit_test(test_export_verify_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
