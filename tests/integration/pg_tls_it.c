/*
 * pg_tls_it.c - PostgreSQL with sslmode=verify-full against the test
 * stack's REAL PostgreSQL, which serves TLS with a certificate for 127.0.0.1
 * and localhost from the stack's CA (tests/e2e/stack.sh: PG_CA_PEM, and an
 * unrelated PG_OTHER_CA_PEM): workers/store/pg's pg_connect_ca and the
 * telemetry PostgreSQL sink with spec.sinks.postgres.tls.ca. The right CA
 * connects over TLS (pg_stat_ssl says so) even when the DSN says
 * sslmode=disable; the wrong one fails as CONFIG, saying why.
 *
 * Needs PG_DSN, PG_CA_PEM, PG_OTHER_CA_PEM from build/stack.env (make
 * integration sources it). The sink's table is twtls_<pid>_<time>, dropped
 * at the end.
 *
 *   make build/tests/pg_tls_it && . build/stack.env && build/tests/pg_tls_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "pg.h"
#include "secret_env.h"
#include "tw_sink.h"
#include "tw_spec.h"

#define T0 INT64_C(1795410000000000000)
#define MIN INT64_C(60000000000)

static const char *dsn, *ca, *other_ca;
static char table[64];

static int setup(void **state)
{
	(void)state;
	dsn = it_env("PG_DSN");
	snprintf(table, sizeof(table), "twtls_%ld_%ld", (long)getpid(), (long)time(NULL));
	return 0;
}

/* Every test first: the stack's CAs, or skip. */
static void need_ca(void)
{
	ca = it_env("PG_CA_PEM");
	other_ca = it_env("PG_OTHER_CA_PEM");
}

static int teardown(void **state)
{
	char sql[128];
	PGconn *c = PQconnectdb(dsn);
	PGresult *r;

	(void)state;
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
	r = PQexec(c, sql);
	PQclear(r);
	PQfinish(c);
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

static void test_connect_verify_full(void **state)
{
	char err[512];
	int failure = 0;
	PGconn *c;

	(void)state;
	need_ca();
	/* The stack's DSN says sslmode=disable: the CA wins over it. */
	c = pg_connect_ca(dsn, ca, "pg_tls_it", 5, 0, &failure, err, sizeof(err));
	if (c == NULL)
		fail_msg("verify-full with the stack's CA: %s", err);
	assert_true(is_ssl(c));
	PQfinish(c);

	/* Without a CA: as before, the DSN's sslmode (disable). */
	c = pg_connect(dsn, "pg_tls_it", 5, 0, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_false(is_ssl(c));
	PQfinish(c);

	c = pg_connect_ca(dsn, other_ca, "pg_tls_it", 5, 0, &failure, err, sizeof(err));
	assert_null(c);
	assert_int_equal(failure, PG_CONNECT_E_CONFIG);
	if (strstr(err, "certificate verify failed") == NULL)
		fail_msg("the wrong CA: %s", err);
}

static void sink_spec(struct tw_spec *spec)
{
	char text[2048], errbuf[256];
	cJSON *doc;

	snprintf(
	    text, sizeof(text),
	    "{\"name\":\"tls\",\"namespace\":\"sluice-it\",\"spec\":{"
	    "\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"t\"},"
	    "\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"temp\"]},"
	    "\"window\":{\"size\":\"60s\"},"
	    "\"sinks\":{\"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"},\"table\":\"%s\","
	    "\"tls\":{\"ca\":{\"name\":\"pg-ca\",\"key\":\"ca.crt\"}}}}}}",
	    table);
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	if (tw_spec_parse_document(doc, spec, errbuf, sizeof(errbuf)) != 0)
		fail_msg("spec: %s", errbuf);
	cJSON_Delete(doc);
}

static int sink_write(const struct tw_spec *spec, char *err, size_t size)
{
	struct tw_row row;
	struct tw_batch b = {&row, 1, NULL, 0};
	struct tw_sink **sinks;
	size_t n;
	int rc;

	memset(&row, 0, sizeof(row));
	row.key_len = (size_t)snprintf(row.key, sizeof(row.key), "h1");
	row.start_ns = T0;
	row.end_ns = T0 + MIN;
	row.count = 1;
	row.nvalues = 1;
	row.values[0] = (struct tw_value_result){1, 20, 20, 20, 20, 20, 20, 20};
	rc = tw_sinks_new(spec, &sinks, &n, err, size);
	if (rc != 0)
		return rc;
	rc = tw_sink_write(sinks[0], &b, err, size);
	tw_sinks_free(sinks, n);
	return rc;
}

static void test_sink_verify_full(void **state)
{
	char dsn_var[256], ca_var[256], err[1024];
	char *pem, *other;
	struct tw_spec spec;

	(void)state;
	need_ca();
	pem = it_slurp(ca);
	other = it_slurp(other_ca);
	assert_int_equal(secret_env_name("pg", "dsn", dsn_var, sizeof(dsn_var)), 0);
	assert_int_equal(secret_env_name("pg-ca", "ca.crt", ca_var, sizeof(ca_var)), 0);
	setenv(dsn_var, dsn, 1);
	setenv(ca_var, pem, 1);
	sink_spec(&spec);
	err[0] = '\0';
	if (sink_write(&spec, err, sizeof(err)) != TW_SINK_OK)
		fail_msg("write with the right CA: %s", err);

	setenv(ca_var, other, 1);
	assert_int_equal(sink_write(&spec, err, sizeof(err)), TW_SINK_E_CONFIG);
	if (strstr(err, "certificate verify failed") == NULL)
		fail_msg("the wrong CA: %s", err);

	setenv(ca_var, "not a certificate", 1);
	assert_int_equal(sink_write(&spec, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_non_null(strstr(err, "spec.sinks.postgres.tls.ca"));
	assert_non_null(strstr(err, "not a PEM certificate"));

	unsetenv(ca_var);
	assert_int_equal(sink_write(&spec, err, sizeof(err)), TW_SINK_E_CONFIG);
	assert_non_null(strstr(err, ca_var));
	tw_spec_free(&spec);
	free(pem);
	free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_verify_full),
	    cmocka_unit_test(test_sink_verify_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
