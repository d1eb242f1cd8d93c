/* Unit tests for the operator's Redis: operator/redis_keys.c (a prefix's
 * keys deleted on every address form, a bracketed IPv6 one included; glob
 * characters in a prefix taken literally; SCAN in batches) and
 * operator/redis_pool.c (one kept connection per address, reused; a stale
 * one replaced within the call; broken ones dropped; the table's bound;
 * four threads on one address). Against an in-process fake Redis that
 * speaks enough RESP for SCAN, UNLINK, SET and PING, and can cut its
 * clients like a restarted server: no real server needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redis_keys.h"
#include "redis_pool.h"

/* ------------------------------------------------------------ fake Redis */

#define MAX_CLIENTS 16
#define MAX_KEYS 64
#define MAX_ARGS 80

struct client {
	int fd;
	char buf[8192];
	size_t len;
};

struct fake {
	int lfd, port;
	int wake[2];
	pthread_t th;
	atomic_int stop, cut; /* cut: close every client (a restart) */
	atomic_int accepted;  /* connections made to it */
	char *keys[MAX_KEYS]; /* NULL: deleted (never compacted, as SCAN needs) */
	size_t nkeys;
	struct client clients[MAX_CLIENTS];
};

/* Redis's glob, as much of it as a prefix pattern uses: * ? and \x. */
static int glob_match(const char *p, const char *s)
{
	for (; *p != '\0'; p++, s++) {
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (glob_match(p + 1, t))
					return 1;
				if (*t == '\0')
					return 0;
			}
		}
		if (*s == '\0')
			return 0;
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '?')
			continue;
		if (*p != *s)
			return 0;
	}
	return *s == '\0';
}

static void put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void puts_fd(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

static void bulk(int fd, const char *s)
{
	char head[32];
	snprintf(head, sizeof(head), "$%zu\r\n", strlen(s));
	puts_fd(fd, head);
	puts_fd(fd, s);
	puts_fd(fd, "\r\n");
}

/* SCAN examines two slots per call, so a scan takes several batches. */
static void cmd_scan(struct fake *f, int fd, char **argv, int argc)
{
	size_t at = (size_t)strtoul(argv[1], NULL, 10), end = at + 2, n = 0;
	const char *pattern = argc >= 4 && strcasecmp(argv[2], "MATCH") == 0 ? argv[3] : "*";
	const char *hit[2];
	char next[32], head[32];

	if (end >= f->nkeys)
		end = f->nkeys;
	for (size_t i = at; i < end; i++)
		if (f->keys[i] != NULL && glob_match(pattern, f->keys[i]))
			hit[n++] = f->keys[i];
	snprintf(next, sizeof(next), "%zu", end >= f->nkeys ? (size_t)0 : end);
	puts_fd(fd, "*2\r\n");
	bulk(fd, next);
	snprintf(head, sizeof(head), "*%zu\r\n", n);
	puts_fd(fd, head);
	for (size_t i = 0; i < n; i++)
		bulk(fd, hit[i]);
}

static void command(struct fake *f, int fd, char **argv, int argc)
{
	char reply[64];

	if (strcasecmp(argv[0], "PING") == 0) {
		puts_fd(fd, "+PONG\r\n");
	} else if (strcasecmp(argv[0], "SET") == 0 && argc == 3 && f->nkeys < MAX_KEYS) {
		f->keys[f->nkeys++] = strdup(argv[1]);
		puts_fd(fd, "+OK\r\n");
	} else if (strcasecmp(argv[0], "SCAN") == 0 && argc >= 2) {
		cmd_scan(f, fd, argv, argc);
	} else if (strcasecmp(argv[0], "UNLINK") == 0) {
		long n = 0;
		for (int a = 1; a < argc; a++)
			for (size_t i = 0; i < f->nkeys; i++)
				if (f->keys[i] != NULL && strcmp(f->keys[i], argv[a]) == 0) {
					free(f->keys[i]);
					f->keys[i] = NULL;
					n++;
				}
		snprintf(reply, sizeof(reply), ":%ld\r\n", n);
		puts_fd(fd, reply);
	} else {
		puts_fd(fd, "-ERR unknown command\r\n");
	}
}

/* Runs every complete command in c's buffer. */
static void serve(struct fake *f, struct client *c)
{
	for (;;) {
		char *argv[MAX_ARGS], *p = c->buf, *end = c->buf + c->len, *nl;
		int argc, ok = 1;

		if (c->len == 0 || *p != '*' || (nl = memchr(p, '\n', c->len)) == NULL)
			return;
		argc = atoi(p + 1);
		p = nl + 1;
		for (int a = 0; a < argc && ok; a++) {
			if (p >= end || *p != '$' ||
			    (nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
				ok = 0;
				break;
			}
			size_t n = (size_t)atol(p + 1);
			p = nl + 1;
			if ((size_t)(end - p) < n + 2 || a >= MAX_ARGS) {
				ok = 0;
				break;
			}
			argv[a] = p;
			p[n] = '\0'; /* over the \r */
			p += n + 2;
		}
		if (!ok)
			return; /* wait for the rest */
		command(f, c->fd, argv, argc);
		c->len = (size_t)(end - p);
		memmove(c->buf, p, c->len);
	}
}

static void cut_clients(struct fake *f)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (f->clients[i].fd >= 0) {
			close(f->clients[i].fd);
			f->clients[i].fd = -1;
		}
}

static void *fake_thread(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd pf[MAX_CLIENTS + 2];
		int idx[MAX_CLIENTS + 2], n = 0;

		if (atomic_exchange(&f->cut, 0))
			cut_clients(f);
		pf[n] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
		idx[n++] = -1;
		pf[n] = (struct pollfd){.fd = f->wake[0], .events = POLLIN};
		idx[n++] = -2;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (f->clients[i].fd >= 0) {
				pf[n] = (struct pollfd){.fd = f->clients[i].fd, .events = POLLIN};
				idx[n++] = i;
			}
		if (poll(pf, (nfds_t)n, 1000) <= 0)
			continue;
		for (int k = 0; k < n; k++) {
			if (pf[k].revents == 0)
				continue;
			if (idx[k] == -1) {
				int fd = accept(f->lfd, NULL, NULL);
				int slot = -1;
				for (int i = 0; i < MAX_CLIENTS && fd >= 0; i++)
					if (f->clients[i].fd < 0) {
						slot = i;
						break;
					}
				if (slot < 0) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				f->clients[slot].fd = fd;
				f->clients[slot].len = 0;
				atomic_fetch_add(&f->accepted, 1);
			} else if (idx[k] == -2) {
				char b[16];
				if (read(f->wake[0], b, sizeof(b)) < 0)
					continue;
			} else {
				struct client *c = &f->clients[idx[k]];
				ssize_t r =
				    read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
				if (r <= 0) {
					close(c->fd);
					c->fd = -1;
					continue;
				}
				c->len += (size_t)r;
				serve(f, c);
			}
		}
	}
	cut_clients(f);
	return NULL;
}

/* A fake Redis on 127.0.0.1 (the only address a server of ours listens
 * on; IPv6 clients reach it as ::ffff:127.0.0.1). */
static struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int one = 1;

	assert_non_null(f);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, len), 0);
	assert_int_equal(listen(f->lfd, 16), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
	f->port = ntohs(a.sin_port);
	for (int i = 0; i < MAX_CLIENTS; i++)
		f->clients[i].fd = -1;
	assert_int_equal(pipe(f->wake), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_thread, f), 0);
	return f;
}

static void fake_wake(struct fake *f)
{
	assert_int_equal(write(f->wake[1], "x", 1), 1);
}

/* Closes every client's connection, as a restarted server would. */
static void fake_cut(struct fake *f)
{
	atomic_store(&f->cut, 1);
	fake_wake(f);
	while (atomic_load(&f->cut))
		usleep(1000);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	fake_wake(f);
	pthread_join(f->th, NULL);
	close(f->lfd);
	close(f->wake[0]);
	close(f->wake[1]);
	for (size_t i = 0; i < f->nkeys; i++)
		free(f->keys[i]);
	free(f);
}

/* Stores keys through a connection of its own (so the fake sees them in
 * order), then closes it. */
static void fake_set(struct fake *f, const char *const *keys, size_t n)
{
	redisContext *c = redisConnect("127.0.0.1", f->port);

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	for (size_t i = 0; i < n; i++) {
		redisReply *r = redisCommand(c, "SET %s 1", keys[i]);
		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_STATUS);
		freeReplyObject(r);
	}
	redisFree(c);
}

/* ---------------------------------------------------------- redis_keys */

static const char *const resource_keys[] = {
    "sluice:tw:m:s:stats", "sluice:tw:m:s2:stats", "sluice:tw:m:s:x", "other",
    "sluice:tw:m:s:y",     "sluice:tw:m:",
};

/* The address forms a spec or --redis-addr may use all reach the server:
 * the finalizer of a resource whose Redis is IPv6 ("[::1]:6379") used to
 * fail (the host kept its brackets) while its progress was read. The IPv6
 * forms here are IPv4-mapped, so they reach the fake on 127.0.0.1 through
 * an IPv6 socket. */
static void test_keys_address_forms(void **state)
{
	static const char *const hosts[] = {"127.0.0.1", "localhost", "[::ffff:127.0.0.1]",
	                                    "::ffff:127.0.0.1"};

	(void)state;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct fake *f = fake_start();
		char addr[64], err[256] = "";
		long long n = -1;

		snprintf(addr, sizeof(addr), "%s:%d", hosts[i], f->port);
		print_message("address %s\n", addr);
		fake_set(f, resource_keys, sizeof(resource_keys) / sizeof(resource_keys[0]));
		assert_int_equal(
		    redis_keys_delete_prefix(addr, "sluice:tw:m:s:", 2000, &n, err, sizeof(err)),
		    0);
		assert_int_equal(n, 3);
		/* Only the prefix's keys went. */
		assert_null(f->keys[0]);
		assert_string_equal(f->keys[1], "sluice:tw:m:s2:stats");
		assert_null(f->keys[2]);
		assert_string_equal(f->keys[3], "other");
		assert_null(f->keys[4]);
		assert_string_equal(f->keys[5], "sluice:tw:m:");
		fake_stop(f);
	}
}

static void test_keys_bad_addresses(void **state)
{
	static const char *const bad[] = {"",          "6379",      "host:",  ":6379",
	                                  "[::1]",     "[::1]6379", "host:0", "host:65536",
	                                  "host:63x9", "h o:1"};
	char err[256];
	long long n = -1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		print_message("bad address \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want), "redis %s: not host:port", bad[i]);
		assert_int_equal(redis_keys_delete_prefix(bad[i], "p:", 100, &n, err, sizeof(err)),
		                 -1);
		assert_string_equal(err, want);
		assert_int_equal(n, 0);
	}
	/* Nothing listening: the reason, naming the address as written. */
	struct fake *f = fake_start();
	char addr[64];
	int port = f->port;
	fake_stop(f);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(redis_keys_delete_prefix(addr, "p:", 500, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, addr));
	assert_non_null(strstr(err, "Connection refused"));
}

static void test_keys_prefix_is_literal(void **state)
{
	static const char *const keys[] = {"a*b:1",  "axb:1", "a*b:2",  "a?c:1", "abc:1",
	                                   "a[1]:1", "a1:1",  "a\\d:1", "ad:1"};
	struct fake *f = fake_start();
	char addr[64], err[256];
	long long n = -1;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	fake_set(f, keys, sizeof(keys) / sizeof(keys[0]));
	assert_int_equal(redis_keys_delete_prefix(addr, "a*b:", 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(f->keys[1], "axb:1");
	assert_int_equal(redis_keys_delete_prefix(addr, "a?c:", 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f->keys[4], "abc:1");
	assert_int_equal(redis_keys_delete_prefix(addr, "a[1]:", 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f->keys[6], "a1:1");
	assert_int_equal(redis_keys_delete_prefix(addr, "a\\d:", 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f->keys[8], "ad:1");
	/* Nothing left under a prefix: 0, no error. */
	assert_int_equal(redis_keys_delete_prefix(addr, "a*b:", 2000, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	fake_stop(f);
}

static void test_keys_refusals_make_no_connection(void **state)
{
	struct fake *f = fake_start();
	char addr[64], err[256], longp[700];
	long long n = -1;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_int_equal(redis_keys_delete_prefix(addr, "", 500, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refusing an empty prefix"));
	assert_int_equal(redis_keys_delete_prefix(addr, NULL, 500, &n, err, sizeof(err)), -1);
	memset(longp, '*', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(redis_keys_delete_prefix(addr, longp, 500, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "prefix too long"));
	assert_int_equal(atomic_load(&f->accepted), 0);
	fake_stop(f);
}

/* ---------------------------------------------------------- redis_pool */

static int ping(redisContext *c, const char *addr, void *arg, char *errbuf, size_t errbuf_size)
{
	redisReply *r = redisCommand(c, "PING");
	int ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;

	(void)arg;
	if (!ok)
		snprintf(errbuf, errbuf_size, "redis %s: %s", addr,
		         r == NULL ? c->errstr : "unexpected reply");
	if (arg != NULL)
		atomic_fetch_add((atomic_int *)arg, 1);
	freeReplyObject(r);
	return ok ? 0 : -1;
}

static int delete_prefix(redisContext *c, const char *addr, void *arg, char *errbuf,
                         size_t errbuf_size)
{
	long long n;
	return redis_keys_delete_prefix_on(c, addr, arg, &n, errbuf, errbuf_size);
}

static void test_pool_keeps_one_connection(void **state)
{
	struct fake *f = fake_start();
	struct redis_pool *p = redis_pool_new(2000, 0);
	struct redis_pool_stats st;
	char addr[64], err[256];

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	for (int i = 0; i < 5; i++)
		assert_int_equal(redis_pool_run(p, addr, ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, addr, delete_prefix, "x:", err, sizeof(err)), 0);
	redis_pool_stats(p, &st);
	assert_int_equal(st.opened, 1);
	assert_int_equal(st.reused, 5);
	assert_int_equal(st.kept, 1);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(atomic_load(&f->accepted), 1);
	/* A reply that is an error leaves the connection fine: kept. */
	assert_int_equal(redis_pool_run(p, addr, delete_prefix, "", err, sizeof(err)), -1);
	redis_pool_stats(p, &st);
	assert_int_equal(st.kept, 1);
	redis_pool_free(p);
	fake_stop(f);
}

/* The server restarted (or closed the idle connection): the kept one is
 * stale, and the call succeeds anyway on a new one. */
static void test_pool_replaces_a_stale_connection(void **state)
{
	struct fake *f = fake_start();
	struct redis_pool *p = redis_pool_new(2000, 0);
	struct redis_pool_stats st;
	char addr[64], err[256];
	atomic_int calls = 0;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_int_equal(redis_pool_run(p, addr, ping, &calls, err, sizeof(err)), 0);
	fake_cut(f);
	assert_int_equal(redis_pool_run(p, addr, ping, &calls, err, sizeof(err)), 0);
	assert_int_equal(atomic_load(&calls), 3); /* once stale, once again */
	redis_pool_stats(p, &st);
	assert_int_equal(st.opened, 2);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.kept, 1);
	assert_int_equal(atomic_load(&f->accepted), 2);
	redis_pool_free(p);
	fake_stop(f);
}

/* No server: each call says why, and nothing broken is kept. */
static void test_pool_server_gone(void **state)
{
	struct fake *f = fake_start();
	struct redis_pool *p = redis_pool_new(500, 0);
	struct redis_pool_stats st;
	char addr[64], err[256];

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_int_equal(redis_pool_run(p, addr, ping, NULL, err, sizeof(err)), 0);
	fake_stop(f); /* the kept connection is cut, the port refuses */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(redis_pool_run(p, addr, ping, NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "Connection refused"));
	}
	redis_pool_stats(p, &st);
	assert_int_equal(st.kept, 0);
	assert_int_equal(st.opened, 1);
	assert_int_equal(st.dropped, 1);
	/* Not an address at all. */
	assert_int_equal(redis_pool_run(p, "nowhere", ping, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "redis nowhere: not host:port");
	redis_pool_free(p);
}

/* At most max_addrs addresses keep a connection; the least recently used
 * one is closed for a new one. */
static void test_pool_bound(void **state)
{
	struct fake *f[3];
	struct redis_pool *p = redis_pool_new(2000, 2);
	struct redis_pool_stats st;
	char addr[3][64], err[256];

	(void)state;
	for (int i = 0; i < 3; i++) {
		f[i] = fake_start();
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", f[i]->port);
	}
	assert_int_equal(redis_pool_run(p, addr[0], ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, addr[1], ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, addr[0], ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, addr[2], ping, NULL, err, sizeof(err)), 0); /* 1 goes */
	redis_pool_stats(p, &st);
	assert_int_equal(st.kept, 2);
	assert_int_equal(st.opened, 3);
	assert_int_equal(redis_pool_run(p, addr[0], ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, addr[2], ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(p, addr[1], ping, NULL, err, sizeof(err)), 0); /* again */
	redis_pool_stats(p, &st);
	assert_int_equal(st.opened, 4);
	assert_int_equal(st.reused, 3);
	assert_int_equal(st.kept, 2);
	redis_pool_free(p);
	for (int i = 0; i < 3; i++)
		fake_stop(f[i]);
}

struct worker_arg {
	struct redis_pool *p;
	const char *addr;
	atomic_int *failures;
};

static void *hammer(void *arg)
{
	struct worker_arg *w = arg;
	char err[256];

	for (int i = 0; i < 50; i++)
		if (redis_pool_run(w->p, w->addr, ping, NULL, err, sizeof(err)) != 0)
			atomic_fetch_add(w->failures, 1);
	return NULL;
}

/* Four reconcile workers on one address: each call has a connection of its
 * own while it runs (hiredis is not thread-safe), one stays kept. */
static void test_pool_threads(void **state)
{
	struct fake *f = fake_start();
	struct redis_pool *p = redis_pool_new(2000, 0);
	struct redis_pool_stats st;
	atomic_int failures = 0;
	char addr[64];
	pthread_t th[4];
	struct worker_arg w = {p, addr, &failures};

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	redis_pool_stats(p, &st);
	assert_int_equal(st.kept, 1);
	assert_int_equal(st.opened + st.reused, 200);
	assert_true(st.opened >= 1 && st.opened <= 200);
	redis_pool_free(p);
	fake_stop(f);
}

/* Without a pool every call has its own connection. */
static void test_no_pool(void **state)
{
	struct fake *f = fake_start();
	char addr[64], err[256];

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_int_equal(redis_pool_run(NULL, addr, ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(redis_pool_run(NULL, addr, ping, NULL, err, sizeof(err)), 0);
	assert_int_equal(atomic_load(&f->accepted), 2);
	assert_null(redis_pool_new(0, 0));
	redis_pool_free(NULL);
	fake_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_address_forms),
	    cmocka_unit_test(test_keys_bad_addresses),
	    cmocka_unit_test(test_keys_prefix_is_literal),
	    cmocka_unit_test(test_keys_refusals_make_no_connection),
	    cmocka_unit_test(test_pool_keeps_one_connection),
	    cmocka_unit_test(test_pool_replaces_a_stale_connection),
	    cmocka_unit_test(test_pool_server_gone),
	    cmocka_unit_test(test_pool_bound),
	    cmocka_unit_test(test_pool_threads),
	    cmocka_unit_test(test_no_pool),
	};
	/* As the operator does (lib/signals.h): a write to a cut connection is
	 * an error, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
