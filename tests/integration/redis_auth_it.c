/*
 * redis_auth_it.c - Redis AUTH against the test stack's REAL Redis, which has
 * an ACL user with a password besides the passwordless default user
 * (tests/e2e/stack.sh: REDIS_AUTH_USER, REDIS_AUTH_PASSWORD): the one connect
 * (lib/redis_conn), the telemetry Redis sink (spec.sinks.redis.username and
 * .password), the workers' progress writes (tw_report) and the operator's
 * kept connections (redis_pool). Each is checked by who Redis says the
 * connection is (ACL WHOAMI, CLIENT LIST's user=), and each refusal by its
 * message: the cause and the user, never the password.
 *
 * Needs REDIS_ADDR, REDIS_AUTH_USER, REDIS_AUTH_PASSWORD from build/stack.env
 * (make integration sources it). Keys are under sluice:sluice-it:ra-<pid>-.
 *
 *   make build/tests/redis_auth_it && . build/stack.env && build/tests/redis_auth_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "redis_conn.h"
#include "redis_pool.h"
#include "secret_env.h"
#include "tw_progress.h"
#include "tw_report.h"
#include "tw_sink.h"
#include "tw_spec.h"

#define NS "sluice-it"
#define T0 INT64_C(1795410000000000000)
#define MIN INT64_C(60000000000)

static const char *addr, *user, *password;
static char run[32];

static int setup(void **state)
{
	(void)state;
	addr = it_env("REDIS_ADDR");
	snprintf(run, sizeof(run), "ra-%ld-%ld", (long)getpid(), (long)time(NULL));
	return 0;
}

/* Every test first: the ACL user, or skip. */
static void need_user(void)
{
	user = it_env("REDIS_AUTH_USER");
	password = it_env("REDIS_AUTH_PASSWORD");
}

/* Who Redis says c is. */
static void expect_whoami(redisContext *c, const char *want)
{
	redisReply *r = redisCommand(c, "ACL WHOAMI");

	assert_non_null(r);
	if (r->type != REDIS_REPLY_STRING)
		fail_msg("ACL WHOAMI: %s", r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
	assert_string_equal(r->str, want);
	freeReplyObject(r);
}

/* How many connections Redis lists for user (CLIENT LIST's user=). */
static int connections_of(const char *u)
{
	redisContext *c = redis_conn_open(addr, NULL, 2000, NULL, 0);
	char field[128];
	redisReply *r;
	int n = 0;

	assert_non_null(c);
	r = redisCommand(c, "CLIENT LIST");
	assert_true(r != NULL && r->type == REDIS_REPLY_STRING);
	snprintf(field, sizeof(field), " user=%s ", u);
	for (const char *p = r->str; (p = strstr(p, field)) != NULL; p++)
		n++;
	freeReplyObject(r);
	redisFree(c);
	return n;
}

static void expect_clean(const char *err)
{
	if (strstr(err, password) != NULL || strstr(err, "not-the-password") != NULL)
		fail_msg("a message holds the password: %s", err);
}

/* ==== lib/redis_conn ==== */

static void test_conn_acl_user(void **state)
{
	struct redis_auth a;
	redisContext *c;
	char err[256];

	(void)state;
	need_user();
	a = (struct redis_auth){user, password};
	assert_int_equal(redis_conn_connect(addr, &a, 2000, &c, err, sizeof(err)), 0);
	expect_whoami(c, user);
	redisFree(c);

	/* Without a user: the default one, no AUTH. */
	c = redis_conn_open_auth(addr, NULL, 2000, err, sizeof(err));
	assert_non_null(c);
	expect_whoami(c, "default");
	redisFree(c);
}

static void test_conn_refusals(void **state)
{
	struct redis_auth wrong, nouser;
	struct redis_auth dflt = {NULL, "not-the-password"};
	redisContext *c = (redisContext *)1;
	char err[256], want[256];

	(void)state;
	need_user();
	wrong = (struct redis_auth){user, "not-the-password"};
	nouser = (struct redis_auth){"sluice-no-such-user", password};
	assert_int_equal(redis_conn_connect(addr, &wrong, 2000, &c, err, sizeof(err)),
	                 REDIS_CONN_E_AUTH);
	assert_null(c);
	snprintf(want, sizeof(want), "redis %s: authentication failed for user %s", addr, user);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want it to start \"%s\"", err, want);
	expect_clean(err);

	assert_int_equal(redis_conn_connect(addr, &nouser, 2000, &c, err, sizeof(err)),
	                 REDIS_CONN_E_AUTH);
	assert_non_null(strstr(err, "authentication failed for user sluice-no-such-user"));
	expect_clean(err);

	/* The stack's default user has no password: AUTH with one is refused
	 * (Redis 6+), and the message says what to change. */
	assert_int_equal(redis_conn_connect(addr, &dflt, 2000, &c, err, sizeof(err)),
	                 REDIS_CONN_E_AUTH);
	assert_non_null(strstr(err, "the server has no password for user default"));
	expect_clean(err);
}

/* ==== The telemetry Redis sink ==== */

static void sink_spec(struct tw_spec *spec, const char *name, const char *auth)
{
	char text[2048], err[256];
	cJSON *doc;

	snprintf(text, sizeof(text),
	         "{\"name\":\"%s-%s\",\"namespace\":\"" NS "\",\"spec\":{"
	         "\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"t\"},"
	         "\"fields\":{\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"temp\"]},"
	         "\"window\":{\"size\":\"60s\"},"
	         "\"sinks\":{\"redis\":{\"addr\":\"%s\"%s}}}}",
	         run, name, addr, auth);
	doc = cJSON_Parse(text);
	assert_non_null(doc);
	if (tw_spec_parse_document(doc, spec, err, sizeof(err)) != 0)
		fail_msg("spec: %s", err);
	cJSON_Delete(doc);
}

static struct tw_row one_row(void)
{
	struct tw_row r;

	memset(&r, 0, sizeof(r));
	r.key_len = (size_t)snprintf(r.key, sizeof(r.key), "h1");
	r.start_ns = T0;
	r.end_ns = T0 + MIN;
	r.count = 1;
	r.nvalues = 1;
	r.values[0] = (struct tw_value_result){1, 20, 20, 20, 20, 20, 20, 20};
	return r;
}

/* Writes one window with the sink spec configures; returns its result. */
static int sink_write(const struct tw_spec *spec, int *conns_during, char *err, size_t size)
{
	struct tw_row row = one_row();
	struct tw_batch b = {&row, 1, NULL, 0};
	struct tw_sink **sinks;
	size_t n;
	int rc;

	if (tw_sinks_new(spec, &sinks, &n, err, size) != 0)
		fail_msg("tw_sinks_new: %s", err);
	assert_int_equal(n, 1);
	rc = tw_sink_write(sinks[0], &b, err, size);
	if (conns_during != NULL)
		*conns_during = connections_of(user);
	tw_sinks_free(sinks, n);
	return rc;
}

static void test_sink_auths_as_the_acl_user(void **state)
{
	char var[256], err[512], auth[512], key[256];
	struct tw_spec spec;
	redisContext *c;
	redisReply *r;
	int before, during;

	(void)state;
	need_user();
	assert_int_equal(secret_env_name("redis-auth", "password", var, sizeof(var)), 0);
	setenv(var, password, 1);
	snprintf(auth, sizeof(auth),
	         ",\"username\":\"%s\",\"password\":{\"name\":\"redis-auth\",\"key\":\"password\"}",
	         user);
	sink_spec(&spec, "sink", auth);
	before = connections_of(user);
	err[0] = '\0';
	if (sink_write(&spec, &during, err, sizeof(err)) != TW_SINK_OK)
		fail_msg("write: %s", err);
	/* The sink's kept connection is the ACL user's. */
	assert_int_equal(during, before + 1);
	tw_spec_free(&spec);

	c = redis_conn_open(addr, NULL, 2000, err, sizeof(err));
	assert_non_null(c);
	snprintf(key, sizeof(key), "sluice:" NS ":%s-sink:h1:latest", run);
	r = redisCommand(c, "HGET %s count", key);
	assert_true(r != NULL && r->type == REDIS_REPLY_STRING);
	assert_string_equal(r->str, "1");
	freeReplyObject(r);
	r = redisCommand(c, "DEL %s %s:timeline", key, key);
	freeReplyObject(r);
	redisFree(c);

	/* A wrong password in the Secret: CONFIG, naming the user, not the
	 * password. */
	setenv(var, "not-the-password", 1);
	sink_spec(&spec, "sink", auth);
	assert_int_equal(sink_write(&spec, NULL, err, sizeof(err)), TW_SINK_E_CONFIG);
	if (strstr(err, "authentication failed for user") == NULL || strstr(err, user) == NULL)
		fail_msg("message: %s", err);
	expect_clean(err);
	tw_spec_free(&spec);

	/* The Secret's variable missing: refused at open, naming it. */
	unsetenv(var);
	sink_spec(&spec, "sink", auth);
	{
		struct tw_sink **sinks;
		size_t n;

		assert_int_equal(tw_sinks_new(&spec, &sinks, &n, err, sizeof(err)),
		                 TW_SINK_E_CONFIG);
		assert_non_null(strstr(err, "spec.sinks.redis.password"));
		assert_non_null(strstr(err, var));
	}
	tw_spec_free(&spec);
}

/* ==== The workers' progress writes ==== */

static void test_report_auth(void **state)
{
	const int32_t ids[] = {0};
	const struct tw_progress_part parts[] = {{7, 0, 0, 0, 1, 1000}};
	char name[64], err[256];
	struct tw_report *r;
	struct tw_progress p;
	redisContext *c;

	(void)state;
	need_user();
	snprintf(name, sizeof(name), "%s-report", run);
	r = tw_report_new(addr, NS, name, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(tw_report_set_auth(r, user, "not-the-password"), 0);
	assert_int_equal(tw_report_write(r, ids, parts, 1, 0, err, sizeof(err)), TW_REPORT_FAILED);
	assert_non_null(strstr(err, "authentication failed for user"));
	expect_clean(err);
	tw_report_free(r);

	r = tw_report_new(addr, NS, name, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(tw_report_set_auth(r, user, password), 0);
	if (tw_report_write(r, ids, parts, 1, 0, err, sizeof(err)) != TW_REPORT_WRITTEN)
		fail_msg("report: %s", err);
	tw_report_free(r);
	c = redis_conn_open(addr, NULL, 2000, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(tw_progress_read(c, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 7);
	redisFree(c);
}

/* ==== The operator's kept connections ==== */

static int whoami_on(redisContext *c, const char *a, void *arg, char *errbuf, size_t errbuf_size)
{
	redisReply *r = redisCommand(c, "ACL WHOAMI");

	(void)a;
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		snprintf(errbuf, errbuf_size, "ACL WHOAMI failed");
		if (r != NULL)
			freeReplyObject(r);
		return -1;
	}
	snprintf(arg, 64, "%s", r->str);
	freeReplyObject(r);
	return 0;
}

static void test_pool_auth(void **state)
{
	struct redis_pool *p = redis_pool_new(2000, 0);
	char who[64], err[256], other[64];
	int port;

	(void)state;
	need_user();
	assert_non_null(p);
	assert_int_equal(redis_pool_auth(p, addr, user, password), 0);
	assert_int_equal(redis_pool_run(p, addr, whoami_on, who, err, sizeof(err)), 0);
	assert_string_equal(who, user);
	/* The same Redis by another spelling is another address: no AUTH. */
	assert_int_equal(sscanf(strrchr(addr, ':') + 1, "%d", &port), 1);
	snprintf(other, sizeof(other), "localhost:%d", port);
	assert_int_equal(redis_pool_run(p, other, whoami_on, who, err, sizeof(err)), 0);
	assert_string_equal(who, "default");
	redis_pool_free(p);

	p = redis_pool_new(2000, 0);
	assert_int_equal(redis_pool_auth(p, addr, user, "not-the-password"), 0);
	assert_int_equal(redis_pool_run(p, addr, whoami_on, who, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "authentication failed for user"));
	expect_clean(err);
	redis_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conn_acl_user),
	    cmocka_unit_test(test_conn_refusals),
	    cmocka_unit_test(test_sink_auths_as_the_acl_user),
	    cmocka_unit_test(test_report_auth),
	    cmocka_unit_test(test_pool_auth),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
