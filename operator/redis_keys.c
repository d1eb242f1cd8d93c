/* redis_keys.c - see redis_keys.h. */
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

int redis_keys_pattern(const char *prefix, char *buf, size_t size)
{
	size_t o = 0;

	for (const char *p = prefix; *p != '\0'; p++) {
		if (strchr("*?[]\\", *p) != NULL) {
			if (o + 1 >= size)
				return -1;
			buf[o++] = '\\';
		}
		if (o + 1 >= size)
			return -1;
		buf[o++] = *p;
	}
	if (o + 2 > size)
		return -1;
	buf[o++] = '*';
	buf[o] = '\0';
	return 0;
}

static int fail(char *errbuf, size_t n, const char *addr, const char *what)
{
	snprintf(errbuf, n, "redis %s: %s", addr, what);
	return -1;
}

int redis_keys_delete_prefix(const char *addr, const char *prefix, int timeout_ms,
                             long long *deleted, char *errbuf, size_t errbuf_size)
{
	char host[256], pattern[1024], cursor[32] = "0";
	const char *colon = strrchr(addr, ':');
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	redisContext *c;
	long long count = 0;
	int rc = -1;

	if (deleted != NULL)
		*deleted = 0;
	if (prefix == NULL || prefix[0] == '\0')
		return fail(errbuf, errbuf_size, addr, "refusing an empty prefix");
	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return fail(errbuf, errbuf_size, addr, "not host:port");
	if (redis_keys_pattern(prefix, pattern, sizeof(pattern)) != 0)
		return fail(errbuf, errbuf_size, addr, "prefix too long");
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
	if (c == NULL)
		return fail(errbuf, errbuf_size, addr, "out of memory");
	if (c->err != 0) {
		fail(errbuf, errbuf_size, addr, c->errstr);
		goto done;
	}
	redisSetTimeout(c, tv);
	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 500", cursor, pattern);
		if (r == NULL) {
			fail(errbuf, errbuf_size, addr, c->errstr);
			goto done;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			fail(errbuf, errbuf_size, addr,
			     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected SCAN reply");
			freeReplyObject(r);
			goto done;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		const redisReply *keys = r->element[1];
		if (keys->elements > 0) {
			size_t n = keys->elements + 1;
			const char **argv = malloc(n * sizeof(*argv));
			size_t *lens = malloc(n * sizeof(*lens));
			redisReply *d = NULL;
			if (argv != NULL && lens != NULL) {
				argv[0] = "UNLINK";
				lens[0] = 6;
				for (size_t i = 0; i < keys->elements; i++) {
					argv[i + 1] = keys->element[i]->str;
					lens[i + 1] = keys->element[i]->len;
				}
				d = redisCommandArgv(c, (int)n, argv, lens);
			}
			free(argv);
			free(lens);
			if (d == NULL || d->type != REDIS_REPLY_INTEGER) {
				fail(errbuf, errbuf_size, addr,
				     d == NULL ? (c->err != 0 ? c->errstr : "out of memory")
				     : d->type == REDIS_REPLY_ERROR ? d->str
				                                    : "unexpected UNLINK reply");
				freeReplyObject(d);
				freeReplyObject(r);
				goto done;
			}
			count += d->integer;
			freeReplyObject(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	rc = 0;
done:
	redisFree(c);
	if (deleted != NULL)
		*deleted = count;
	return rc;
}
