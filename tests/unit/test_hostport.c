/* Unit tests for lib/hostport.h and lib/redis_conn.h: every address form a
 * user writes (names, IPv4, bracketed and bare IPv6), every malformed one,
 * and a Redis connection's errors where no server is needed (a closed port,
 * a bad address). The round trips with a real Redis are in
 * tests/integration/redis_keys_it.c and tw_progress_it.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostport.h"
#include "redis_conn.h"

static void test_good_forms(void **state)
{
	static const struct {
		const char *addr, *host;
		int port;
	} cases[] = {
	    {"127.0.0.1:6379", "127.0.0.1", 6379},
	    {"redis:1", "redis", 1},
	    {"redis.sluice.svc.cluster.local:65535", "redis.sluice.svc.cluster.local", 65535},
	    {"[::1]:7000", "::1", 7000},
	    {"[fe80::1%lo]:6379", "fe80::1%lo", 6379},
	    {"::1:6379", "::1", 6379}, /* the port follows the last colon */
	    {"h:06379", "h", 6379},
	};
	char host[64];
	int port;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		port = -1;
		if (hostport_split(cases[i].addr, host, sizeof(host), &port) != 0)
			fail_msg("case %zu: %s refused", i, cases[i].addr);
		assert_string_equal(host, cases[i].host);
		assert_int_equal(port, cases[i].port);
	}
	/* host may be NULL: only check. */
	assert_int_equal(hostport_split("[::1]:6379", NULL, 0, &port), 0);
	assert_int_equal(port, 6379);
}

static void test_bad_forms(void **state)
{
	static const char *const bad[] = {
	    "redis",   "redis:",  "redis:0",   "redis:65536", "redis:123456", ":6379",
	    "[]:6379", "h:6379x", "h:+80",     "h:-1",        "h: 80",        " h:80",
	    "h o:80",  "[::1]",   "[::1:6379", "::1]:6379",   "a/b:80",       "",
	};
	char host[64];
	int port;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hostport_split(bad[i], host, sizeof(host), &port) != -1)
			fail_msg("case %zu: \"%s\" accepted", i, bad[i]);
	assert_int_equal(hostport_split(NULL, host, sizeof(host), &port), -1);
	/* A host that does not fit is refused, not cut. */
	assert_int_equal(hostport_split("longhostname:1", host, 5, &port), -1);
	assert_int_equal(hostport_split("long:1", host, 5, &port), 0);
	assert_string_equal(host, "long");
}

/* A TCP port on 127.0.0.1 that nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_redis_conn_errors(void **state)
{
	char addr[64], err[256];

	(void)state;
	assert_null(redis_conn_open("no-port", NULL, 1000, err, sizeof(err)));
	assert_string_equal(err, "redis no-port: not host:port");
	assert_null(redis_conn_open(NULL, NULL, 1000, err, sizeof(err)));
	assert_string_equal(err, "redis : not host:port");

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", closed_port());
	assert_null(redis_conn_open(addr, "secret", 1000, err, sizeof(err)));
	/* The address as written, the reason, never the password. */
	assert_non_null(strstr(err, addr));
	assert_non_null(strstr(err, "refused"));
	assert_null(strstr(err, "secret"));

	/* The bracketed form reaches the connect (an IPv6 socket to 127.0.0.1,
	 * IPv4-mapped): the error names the address whole. */
	snprintf(addr, sizeof(addr), "[::ffff:127.0.0.1]:%d", closed_port());
	assert_null(redis_conn_open(addr, NULL, 1000, err, sizeof(err)));
	assert_true(strncmp(err, "redis [::ffff:127.0.0.1]:", 25) == 0);
	assert_non_null(strstr(err, "refused"));
}

/* What an AUTH refusal says: the cause and the user, never a password. */
static void test_redis_conn_auth_message(void **state)
{
	char m[256];

	(void)state;
	redis_conn_auth_message("sluice",
	                        "WRONGPASS invalid username-password pair or user is "
	                        "disabled.",
	                        m, sizeof(m));
	assert_true(strncmp(m, "authentication failed for user sluice", 37) == 0);
	redis_conn_auth_message(NULL, "WRONGPASS invalid username-password pair", m, sizeof(m));
	assert_true(strncmp(m, "authentication failed for user default", 38) == 0);
	redis_conn_auth_message("",
	                        "ERR AUTH <password> called without any password configured "
	                        "for the default user. Are you sure your configuration is correct?",
	                        m, sizeof(m));
	assert_string_equal(m, "the server has no password for user default: drop the password "
	                       "or set requirepass");
	redis_conn_auth_message(NULL, "NOAUTH Authentication required.", m, sizeof(m));
	assert_string_equal(m, "authentication required: the server wants a password");
	redis_conn_auth_message("u", "ERR something else", m, sizeof(m));
	assert_string_equal(m, "AUTH as user u: ERR something else");
	redis_conn_auth_message("u", NULL, m, sizeof(m));
	assert_string_equal(m, "AUTH as user u: ");
	/* Bounded by the buffer. */
	redis_conn_auth_message("u", "WRONGPASS x", m, 8);
	assert_string_equal(m, "authent");
}

static void test_redis_conn_status_auth(void **state)
{
	struct redis_auth a;

	(void)state;
	unsetenv(REDIS_CONN_ENV_USERNAME);
	unsetenv(REDIS_CONN_ENV_PASSWORD);
	a = redis_conn_status_auth();
	assert_null(a.user);
	assert_null(a.password);
	setenv(REDIS_CONN_ENV_USERNAME, "", 1);
	setenv(REDIS_CONN_ENV_PASSWORD, "", 1);
	a = redis_conn_status_auth();
	assert_null(a.user);
	assert_null(a.password);
	setenv(REDIS_CONN_ENV_USERNAME, "sluice", 1);
	setenv(REDIS_CONN_ENV_PASSWORD, "pw", 1);
	a = redis_conn_status_auth();
	assert_string_equal(a.user, "sluice");
	assert_string_equal(a.password, "pw");
	unsetenv(REDIS_CONN_ENV_USERNAME);
	unsetenv(REDIS_CONN_ENV_PASSWORD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_forms),
	    cmocka_unit_test(test_bad_forms),
	    cmocka_unit_test(test_redis_conn_errors),
	    cmocka_unit_test(test_redis_conn_auth_message),
	    cmocka_unit_test(test_redis_conn_status_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
