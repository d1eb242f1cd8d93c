/*
 * redis_keys.h - removes a resource's keys from Redis when it is deleted
 * (the finalizer's work): every key under a prefix, found with SCAN (never
 * KEYS, which blocks the server) and removed with UNLINK in batches.
 *
 * Threads: any thread; a connection is used by one call at a time.
 */
#ifndef SLUICE_REDIS_KEYS_H
#define SLUICE_REDIS_KEYS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/*
 * Deletes every key of the Redis at addr ("host:port", "[::1]:6379") that
 * starts with prefix (non-empty; glob characters in it are escaped, so it
 * matches literally), on a connection of its own (lib/redis_conn.h,
 * timeout_ms for the connect and each command). *deleted (may be NULL)
 * counts them. Returns 0, or -1 with the reason in errbuf
 * ("redis 127.0.0.1:6379: Connection refused").
 */
int redis_keys_delete_prefix(const char *addr, const char *prefix, int timeout_ms,
                             long long *deleted, char *errbuf, size_t errbuf_size);

/*
 * The same on the connection c (to addr, which only names it in messages):
 * *deleted (may be NULL) counts the keys removed, also when it fails part
 * way. Returns 0, or -1 with the reason in errbuf; a connection that failed
 * is left with c->err set.
 */
int redis_keys_delete_prefix_on(redisContext *c, const char *addr, const char *prefix,
                                long long *deleted, char *errbuf, size_t errbuf_size);

/* Writes prefix with the glob characters * ? [ ] \ escaped and a '*'
 * appended into buf. Returns 0, or -1 when it does not fit. Pure. */
int redis_keys_pattern(const char *prefix, char *buf, size_t size);

#endif
