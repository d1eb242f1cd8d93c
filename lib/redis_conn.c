/* redis_conn.c -- connect, time out, authenticate; see redis_conn.h. */
#include "redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "err.h"
#include "hostport.h"

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

struct redis_auth redis_conn_status_auth(void)
{
	struct redis_auth a = {getenv(REDIS_CONN_ENV_USERNAME), getenv(REDIS_CONN_ENV_PASSWORD)};

	if (!set(a.user))
		a.user = NULL;
	if (!set(a.password))
		a.password = NULL;
	return a;
}

static int starts(const char *s, const char *word)
{
	return strncmp(s, word, strlen(word)) == 0;
}

void redis_conn_auth_message(const char *user, const char *reply, char *buf, size_t size)
{
	const char *u = set(user) ? user : "default";

	if (reply == NULL)
		reply = "";
	if (starts(reply, "WRONGPASS"))
		snprintf(buf, size,
		         "authentication failed for user %s (WRONGPASS: wrong password, "
		         "or no such user, or the user is off)",
		         u);
	else if (starts(reply, "ERR AUTH") && strstr(reply, "without any password") != NULL)
		snprintf(buf, size,
		         "the server has no password for user default: drop the password or set "
		         "requirepass");
	else if (starts(reply, "NOAUTH"))
		snprintf(buf, size, "authentication required: the server wants a password");
	else
		snprintf(buf, size, "AUTH as user %s: %s", u, reply);
}

/* AUTH on c. Returns 0 or REDIS_CONN_E_AUTH (or _CONNECT when the
 * connection broke) with the reason in errbuf. */
static int auth(redisContext *c, const char *addr, const struct redis_auth *a, char *errbuf,
                size_t errbuf_size)
{
	char why[256];
	redisReply *r;
	int rc = 0;

	/* Binary-safe arguments: a password may hold spaces or '%'. */
	if (set(a->user)) {
		const char *argv[] = {"AUTH", a->user, a->password};
		size_t lens[] = {4, strlen(a->user), strlen(a->password)};
		r = redisCommandArgv(c, 3, argv, lens);
	} else {
		const char *argv[] = {"AUTH", a->password};
		size_t lens[] = {4, strlen(a->password)};
		r = redisCommandArgv(c, 2, argv, lens);
	}
	if (r == NULL)
		return err_set(errbuf, errbuf_size, REDIS_CONN_E_CONNECT, "redis %s: AUTH: %s",
		               addr, c->errstr);
	if (r->type == REDIS_REPLY_ERROR) {
		redis_conn_auth_message(a->user, r->str, why, sizeof(why));
		rc = err_set(errbuf, errbuf_size, REDIS_CONN_E_AUTH, "redis %s: %s", addr, why);
	}
	freeReplyObject(r);
	return rc;
}

int redis_conn_connect(const char *addr, const struct redis_auth *a, int timeout_ms,
                       redisContext **out, char *errbuf, size_t errbuf_size)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	char host[256];
	redisContext *c;
	int port, rc;

	*out = NULL;
	if (hostport_split(addr, host, sizeof(host), &port) < 0)
		return err_set(errbuf, errbuf_size, REDIS_CONN_E_CONNECT, "redis %s: not host:port",
		               addr != NULL ? addr : "");
	c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL)
		return err_set(errbuf, errbuf_size, REDIS_CONN_E_CONNECT, "redis %s: out of memory",
		               addr);
	if (c->err) {
		rc = err_set(errbuf, errbuf_size, REDIS_CONN_E_CONNECT, "redis %s: %s", addr,
		             c->errstr);
		redisFree(c);
		return rc;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		redisFree(c);
		return err_set(errbuf, errbuf_size, REDIS_CONN_E_CONNECT,
		               "redis %s: cannot set a timeout", addr);
	}
	if (a != NULL && set(a->password)) {
		rc = auth(c, addr, a, errbuf, errbuf_size);
		if (rc < 0) {
			redisFree(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

redisContext *redis_conn_open_auth(const char *addr, const struct redis_auth *a, int timeout_ms,
                                   char *errbuf, size_t errbuf_size)
{
	redisContext *c;

	return redis_conn_connect(addr, a, timeout_ms, &c, errbuf, errbuf_size) == 0 ? c : NULL;
}

redisContext *redis_conn_open(const char *addr, const char *password, int timeout_ms, char *errbuf,
                              size_t errbuf_size)
{
	struct redis_auth a = {NULL, password};

	return redis_conn_open_auth(addr, &a, timeout_ms, errbuf, errbuf_size);
}
