/* redis_conn.c -- connect, time out, authenticate; see redis_conn.h. */
#include "redis_conn.h"

#include <sys/time.h>

#include "err.h"
#include "hostport.h"

redisContext *redis_conn_open(const char *addr, const char *password, int timeout_ms, char *errbuf,
                              size_t errbuf_size)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	char host[256];
	redisContext *c;
	redisReply *r;
	int port;

	if (hostport_split(addr, host, sizeof(host), &port) < 0) {
		err_set(errbuf, errbuf_size, -1, "redis %s: not host:port",
		        addr != NULL ? addr : "");
		return NULL;
	}
	c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL) {
		err_set(errbuf, errbuf_size, -1, "redis %s: out of memory", addr);
		return NULL;
	}
	if (c->err) {
		err_set(errbuf, errbuf_size, -1, "redis %s: %s", addr, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		err_set(errbuf, errbuf_size, -1, "redis %s: cannot set a timeout", addr);
		redisFree(c);
		return NULL;
	}
	if (password == NULL)
		return c;
	r = redisCommand(c, "AUTH %s", password);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		/* Redis's own text, never the password. */
		err_set(errbuf, errbuf_size, -1, "redis %s: AUTH: %s", addr,
		        r != NULL ? r->str : c->errstr);
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}
