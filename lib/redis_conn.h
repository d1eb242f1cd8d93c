/* redis_conn.h -- the one way Sluice connects to Redis: the progress keys'
 * status Redis (operator and workers), the telemetry Redis sink, the
 * finalizer's cleanup. Takes the address as a user writes it ("host:port",
 * "[::1]:6379"), bounds the connect and every later command by one timeout,
 * and authenticates when a password is given. Messages name the address,
 * never the password.
 */
#ifndef SLUICE_REDIS_CONN_H
#define SLUICE_REDIS_CONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/*
 * Connects to addr with timeout_ms for the connect and for each command,
 * then sends AUTH password when password is not NULL. Returns the
 * connection (the caller frees it with redisFree), or NULL with the reason
 * in errbuf: "redis [::1]:6379: Connection refused".
 */
redisContext *redis_conn_open(const char *addr, const char *password, int timeout_ms, char *errbuf,
                              size_t errbuf_size);

#endif
