/*
 * redis_pool.h - the operator's kept Redis connections: one per address
 * (the status Redis, a sink's Redis), opened with lib/redis_conn (bounded
 * connect and command timeouts, "host:port" and "[v6]:port") on first use
 * and used again by later reconciles instead of a connect per pass.
 *
 * A caller never holds a connection: it hands redis_pool_run() the work to
 * do on one, and the pool lends the kept connection for that call alone (a
 * hiredis context is not thread-safe). A second caller for the same address
 * meanwhile gets a connection of its own, closed after its call when one is
 * already kept. A connection that broke (its context's err set: the server
 * closed it, restarted, a timeout) is dropped, so the next call reconnects;
 * when the one that broke was a kept one, which may have gone stale while it
 * waited, the work is tried once more on a new connection.
 *
 * Threads: any number; one mutex guards the table, never held during I/O.
 */
#ifndef SLUICE_REDIS_POOL_H
#define SLUICE_REDIS_POOL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* Addresses a pool keeps a connection for when the caller says 0; past its
 * bound the least recently used idle connection is closed. */
#define REDIS_POOL_MAX_ADDRS_DEFAULT 32

struct redis_pool;

/* Counters, for tests and logs. */
struct redis_pool_stats {
	unsigned long long opened;  /* connections made */
	unsigned long long reused;  /* calls that ran on a kept connection */
	unsigned long long dropped; /* connections closed because they broke */
	unsigned long long retried; /* calls tried again after a kept one broke */
	size_t kept;                /* idle connections held now */
};

/*
 * The work to do on a connection: returns 0, or -1 with the reason in
 * errbuf (leaving c->err set when the connection itself failed). It may run
 * twice for one redis_pool_run() (see above), so it must be idempotent or
 * keep its own account of what it did (arg).
 */
typedef int (*redis_pool_fn)(redisContext *c, const char *addr, void *arg, char *errbuf,
                             size_t errbuf_size);

/*
 * A pool whose connections use timeout_ms (> 0) for the connect and each
 * command, for up to max_addrs addresses (0: the default). Returns NULL when
 * out of memory.
 */
struct redis_pool *redis_pool_new(int timeout_ms, size_t max_addrs);

/*
 * Connections to addr authenticate as user (NULL or "": the default user)
 * with password (lib/redis_conn.h), the operator's status Redis being the
 * one Redis it holds credentials for; other addresses connect without.
 * Call before the pool is used. Copies the strings. Returns 0, or -1 when
 * out of memory.
 */
int redis_pool_auth(struct redis_pool *p, const char *addr, const char *user, const char *password);

/* Closes every kept connection and frees the pool. No call may be running.
 * NULL is a no-op. */
void redis_pool_free(struct redis_pool *p);

/*
 * Runs fn on a connection to addr ("host:port", "[::1]:6379"): the one kept
 * for addr, else a new one. Returns fn's result, or -1 with the reason in
 * errbuf ("redis [::1]:6379: Connection refused") when no connection could
 * be made. With p NULL every call opens and closes its own connection
 * (timeout 3 s).
 */
int redis_pool_run(struct redis_pool *p, const char *addr, redis_pool_fn fn, void *arg,
                   char *errbuf, size_t errbuf_size);

/* The counters so far. */
void redis_pool_stats(struct redis_pool *p, struct redis_pool_stats *out);

#endif
