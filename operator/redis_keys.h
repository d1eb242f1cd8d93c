/*
 * redis_keys.h - removes a resource's keys from Redis when it is deleted
 * (the finalizer's work): every key under a prefix, found with SCAN (never
 * KEYS, which blocks the server) and removed with UNLINK in batches.
 *
 * Threads: any thread; each call has its own connection.
 */
#ifndef SLUICE_REDIS_KEYS_H
#define SLUICE_REDIS_KEYS_H

#include <stddef.h>

/*
 * Deletes every key of the Redis at addr ("host:port") that starts with
 * prefix (non-empty; glob characters in it are escaped, so it matches
 * literally). *deleted (may be NULL) counts them. Returns 0, or -1 with the
 * reason in errbuf ("redis 127.0.0.1:6379: Connection refused").
 */
int redis_keys_delete_prefix(const char *addr, const char *prefix, int timeout_ms,
                             long long *deleted, char *errbuf, size_t errbuf_size);

/* Writes prefix with the glob characters * ? [ ] \ escaped and a '*'
 * appended into buf. Returns 0, or -1 when it does not fit. Pure. */
int redis_keys_pattern(const char *prefix, char *buf, size_t size);

#endif
