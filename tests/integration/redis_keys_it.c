/*
 * redis_keys_it.c - the finalizer's Redis cleanup (operator/redis_keys.h)
 * and the operator's kept connections (operator/redis_pool.h) against the
 * REAL Redis of the test stack, reached over IPv6 as "[::ffff:127.0.0.1]:<port>":
 * a bracketed IPv6 address, the form whose cleanup used to fail (the host
 * kept its brackets) while progress reads on it worked. The IPv4-mapped
 * address reaches the stack's Redis, which listens on 127.0.0.1 only (as
 * every server of the stack does), through an IPv6 socket.
 *
 * Needs REDIS_ADDR from build/stack.env (make integration sources it); the
 * port is REDIS_ADDR's. On a machine without IPv6 the tests are skipped.
 * Keys are sluice:tw:sluice-it:rk-<pid>-<n>:..., deleted by the tests
 * themselves.
 *
 *   make build/tests/redis_keys_it && . build/stack.env && build/tests/redis_keys_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "hostport.h"
#include "redis_keys.h"
#include "redis_pool.h"
#include "tw_progress.h"

#define NS "sluice-it"

static char v6_addr[64], v4_addr[128];
static int have_v6;      /* the machine has IPv6 sockets */
static redisContext *v6; /* a plain connection over IPv6, for checks */

/* Whether this machine makes IPv6 sockets at all. */
static int ipv6_sockets(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int setup(void **state)
{
	const char *a = getenv("REDIS_ADDR");
	char host[128];
	int port;

	(void)state;
	if (a == NULL || a[0] == '\0') {
		fprintf(stderr, "REDIS_ADDR is not set: source build/stack.env\n");
		return -1;
	}
	if (hostport_split(a, host, sizeof(host), &port) < 0)
		return -1;
	snprintf(v4_addr, sizeof(v4_addr), "%s", a);
	snprintf(v6_addr, sizeof(v6_addr), "[::ffff:127.0.0.1]:%d", port);
	have_v6 = ipv6_sockets();
	if (!have_v6)
		return 0;
	struct timeval tv = {2, 0};
	v6 = redisConnectWithTimeout("::ffff:127.0.0.1", port, tv);
	if (v6 == NULL || v6->err != 0) {
		fprintf(stderr, "redis_keys_it: Redis at %s does not answer on %s (%s)\n", a,
		        v6_addr, v6 != NULL ? v6->errstr : "out of memory");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (v6 != NULL)
		redisFree(v6);
	return 0;
}

static void name_for(char *buf, size_t size, int n)
{
	snprintf(buf, size, "rk-%d-%d", (int)getpid(), n);
}

static void set_key(const char *key)
{
	redisReply *r = redisCommand(v6, "SET %s 1", key);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
}

static long long exists(const char *key)
{
	redisReply *r = redisCommand(v6, "EXISTS %s", key);
	long long n;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	n = r->integer;
	freeReplyObject(r);
	return n;
}

/* The finalizer's call, on "[::ffff:127.0.0.1]:<port>": the prefix's keys go, the
 * neighbours' stay. */
static void test_delete_prefix_over_ipv6(void **state)
{
	char name[64], prefix[128], key[192], other[192], err[256] = "";
	long long n = -1;

	(void)state;
	if (!have_v6)
		skip();
	name_for(name, sizeof(name), 1);
	snprintf(prefix, sizeof(prefix), "sluice:tw:%s:%s:", NS, name);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "%sk%d", prefix, i);
		set_key(key);
	}
	/* A resource whose name extends this one's is not this one's. */
	snprintf(other, sizeof(other), "sluice:tw:%s:%sx:k0", NS, name);
	set_key(other);

	assert_int_equal(redis_keys_delete_prefix(v6_addr, prefix, 2000, &n, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(n, 5);
	snprintf(key, sizeof(key), "%sk0", prefix);
	assert_int_equal(exists(key), 0);
	assert_int_equal(exists(other), 1);

	/* Again: nothing left, no error. */
	assert_int_equal(redis_keys_delete_prefix(v6_addr, prefix, 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	snprintf(prefix, sizeof(prefix), "sluice:tw:%s:%sx:", NS, name);
	assert_int_equal(redis_keys_delete_prefix(v6_addr, prefix, 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
}

/* More keys than one SCAN batch (COUNT 500), written over IPv4 and removed
 * over IPv6: one server, both addresses. */
static void test_many_keys_both_addresses(void **state)
{
	char name[64], prefix[128], err[256];
	redisContext *c4;
	char host[128];
	int port;
	long long n = -1;

	(void)state;
	if (!have_v6)
		skip();
	assert_int_equal(hostport_split(v4_addr, host, sizeof(host), &port), 0);
	c4 = redisConnect(host, port);
	assert_non_null(c4);
	assert_int_equal(c4->err, 0);
	name_for(name, sizeof(name), 2);
	snprintf(prefix, sizeof(prefix), "sluice:vj:%s:%s:", NS, name);
	for (int i = 0; i < 1200; i++)
		redisAppendCommand(c4, "SET %sseg%d 1", prefix, i);
	for (int i = 0; i < 1200; i++) {
		redisReply *r = NULL;
		assert_int_equal(redisGetReply(c4, (void **)&r), REDIS_OK);
		freeReplyObject(r);
	}
	redisFree(c4);

	assert_int_equal(redis_keys_delete_prefix(v6_addr, prefix, 5000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1200);
}

static int delete_on(redisContext *c, const char *addr, void *arg, char *errbuf, size_t errbuf_size)
{
	long long n;
	return redis_keys_delete_prefix_on(c, addr, arg, &n, errbuf, errbuf_size);
}

struct progress_arg {
	const char *name;
	struct tw_progress out;
};

static int progress_on(redisContext *c, const char *addr, void *arg, char *errbuf,
                       size_t errbuf_size)
{
	struct progress_arg *p = arg;
	(void)addr;
	return tw_progress_read(c, NS, p->name, &p->out, errbuf, errbuf_size);
}

/* The reconcilers' path: progress read and keys removed on one kept
 * connection over IPv6. */
static void test_pool_over_ipv6(void **state)
{
	struct redis_pool *p = redis_pool_new(2000, 0);
	struct redis_pool_stats st;
	char name[64], key[TW_PROGRESS_KEY_MAX], prefix[128], err[256];
	struct progress_arg pa;
	redisReply *r;

	(void)state;
	if (!have_v6) {
		redis_pool_free(p);
		skip();
	}
	name_for(name, sizeof(name), 3);
	assert_int_equal(tw_progress_key(NS, name, key, sizeof(key)), 0);
	r = redisCommand(v6, "HSET %s p0.events 7 p0.windows 2", key);
	assert_non_null(r);
	freeReplyObject(r);

	pa.name = name;
	assert_int_equal(redis_pool_run(p, v6_addr, progress_on, &pa, err, sizeof(err)), 0);
	assert_int_equal(pa.out.events, 7);
	assert_int_equal(pa.out.windows, 2);
	snprintf(prefix, sizeof(prefix), "sluice:tw:%s:%s:", NS, name);
	assert_int_equal(redis_pool_run(p, v6_addr, delete_on, prefix, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, v6_addr, progress_on, &pa, err, sizeof(err)), 0);
	assert_int_equal(pa.out.events, 0);

	redis_pool_stats(p, &st);
	assert_int_equal(st.opened, 1);
	assert_int_equal(st.reused, 2);
	assert_int_equal(st.kept, 1);
	redis_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete_prefix_over_ipv6),
	    cmocka_unit_test(test_many_keys_both_addresses),
	    cmocka_unit_test(test_pool_over_ipv6),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("redis_keys_it", tests, setup, teardown);
}
