/* redis_conn.h -- the one way Sluice connects to Redis: the progress keys'
 * status Redis (operator and workers), the telemetry Redis sink, the
 * finalizer's cleanup. Takes the address as a user writes it ("host:port",
 * "[::1]:6379"), bounds the connect and every later command by one timeout,
 * and authenticates (AUTH [user] password) when a password is given.
 * Messages name the address and the user, never the password.
 *
 * No TLS: Debian 12's hiredis (0.14) has no hiredis_ssl, so a Redis across
 * an untrusted network needs a tunnel (docs/telemetry-sinks.md).
 */
#ifndef SLUICE_REDIS_CONN_H
#define SLUICE_REDIS_CONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* Who to AUTH as. password NULL or "": no AUTH. user NULL or "": the
 * default user ("AUTH password", what requirepass sets); else an ACL user
 * ("AUTH user password", Redis 6 and later). Borrowed strings. */
struct redis_auth {
	const char *user;
	const char *password;
};

/* The status Redis's credentials (docs/contracts.md §3), for the operator
 * and the workers alike: the environment's SLUICE_STATUS_REDIS_USERNAME
 * and SLUICE_STATUS_REDIS_PASSWORD (the operator puts both in its worker
 * pods, the password by secretKeyRef). Unset: no AUTH. Borrowed from the
 * environment. */
#define REDIS_CONN_ENV_USERNAME "SLUICE_STATUS_REDIS_USERNAME"
#define REDIS_CONN_ENV_PASSWORD "SLUICE_STATUS_REDIS_PASSWORD"
struct redis_auth redis_conn_status_auth(void);

enum redis_conn_error {
	REDIS_CONN_E_CONNECT = -1, /* not host:port, unreachable, timed out */
	REDIS_CONN_E_AUTH = -2,    /* Redis refused the credentials */
};

/*
 * Connects to addr with timeout_ms for the connect and for each command,
 * then sends AUTH when auth (may be NULL) has a password. Returns 0 with
 * *out set (the caller frees it with redisFree), or a redis_conn_error with
 * *out NULL and the reason in errbuf: "redis [::1]:6379: Connection
 * refused", "redis 127.0.0.1:6379: authentication failed for user
 * sluice (WRONGPASS ...)".
 */
int redis_conn_connect(const char *addr, const struct redis_auth *auth, int timeout_ms,
                       redisContext **out, char *errbuf, size_t errbuf_size);

/* redis_conn_connect, the connection or NULL. */
redisContext *redis_conn_open_auth(const char *addr, const struct redis_auth *auth, int timeout_ms,
                                   char *errbuf, size_t errbuf_size);

/* The same with the default user's password (NULL: no AUTH). */
redisContext *redis_conn_open(const char *addr, const char *password, int timeout_ms, char *errbuf,
                              size_t errbuf_size);

/*
 * Pure: what an AUTH error reply means, for the message, into buf: reply
 * "WRONGPASS ..." -> "authentication failed for user U" (U: user, or
 * "default"); "ERR AUTH <password> called without any password configured
 * ..." -> "the server has no password for user default: drop the password
 * or set requirepass"; "NOAUTH ..." (a command without AUTH on a server
 * that wants it) -> "authentication required: the server wants a
 * password"; anything else -> "AUTH: <reply>". Redis's replies never hold
 * the password.
 */
void redis_conn_auth_message(const char *user, const char *reply, char *buf, size_t size);

#endif
