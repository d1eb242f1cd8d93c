/* redis_keys.c - see redis_keys.h. */
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "redis_conn.h"

/* The longest SCAN pattern: a prefix of about 500 bytes, every byte escaped. */
#define PATTERN_MAX 1024

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

/* UNLINKs the keys of one SCAN batch; adds how many went to *count. */
static int unlink_batch(redisContext *c, const char *addr, const redisReply *keys, long long *count,
                        char *errbuf, size_t errbuf_size)
{
	size_t n = keys->elements + 1;
	const char **argv = malloc(n * sizeof(*argv));
	size_t *lens = malloc(n * sizeof(*lens));
	redisReply *d = NULL;
	int rc = 0;

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
	if (d == NULL || d->type != REDIS_REPLY_INTEGER)
		rc = err_set(errbuf, errbuf_size, -1, "redis %s: %s", addr,
		             d == NULL ? (c->err != 0 ? c->errstr : "out of memory")
		             : d->type == REDIS_REPLY_ERROR ? d->str
		                                            : "unexpected UNLINK reply");
	else
		*count += d->integer;
	freeReplyObject(d);
	return rc;
}

int redis_keys_delete_prefix_on(redisContext *c, const char *addr, const char *prefix,
                                long long *deleted, char *errbuf, size_t errbuf_size)
{
	char pattern[PATTERN_MAX], cursor[32] = "0";
	long long count = 0;
	int rc = 0;

	if (prefix == NULL || prefix[0] == '\0')
		rc = err_set(errbuf, errbuf_size, -1, "redis %s: refusing an empty prefix", addr);
	else if (redis_keys_pattern(prefix, pattern, sizeof(pattern)) != 0)
		rc = err_set(errbuf, errbuf_size, -1, "redis %s: prefix too long", addr);
	while (rc == 0) {
		redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 500", cursor, pattern);
		if (r == NULL) {
			rc = err_set(errbuf, errbuf_size, -1, "redis %s: %s", addr, c->errstr);
			break;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			rc = err_set(errbuf, errbuf_size, -1, "redis %s: %s", addr,
			             r->type == REDIS_REPLY_ERROR ? r->str
			                                          : "unexpected SCAN reply");
			freeReplyObject(r);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		if (r->element[1]->elements > 0)
			rc = unlink_batch(c, addr, r->element[1], &count, errbuf, errbuf_size);
		freeReplyObject(r);
		if (strcmp(cursor, "0") == 0)
			break;
	}
	if (deleted != NULL)
		*deleted = count;
	return rc;
}

int redis_keys_delete_prefix(const char *addr, const char *prefix, int timeout_ms,
                             long long *deleted, char *errbuf, size_t errbuf_size)
{
	char pattern[PATTERN_MAX];
	redisContext *c;
	int rc;

	if (deleted != NULL)
		*deleted = 0;
	/* The prefix first: no connection for a call refused anyway. */
	if (prefix == NULL || prefix[0] == '\0')
		return err_set(errbuf, errbuf_size, -1, "redis %s: refusing an empty prefix",
		               addr != NULL ? addr : "");
	if (redis_keys_pattern(prefix, pattern, sizeof(pattern)) != 0)
		return err_set(errbuf, errbuf_size, -1, "redis %s: prefix too long",
		               addr != NULL ? addr : "");
	c = redis_conn_open(addr, NULL, timeout_ms, errbuf, errbuf_size);
	if (c == NULL)
		return -1;
	rc = redis_keys_delete_prefix_on(c, addr, prefix, deleted, errbuf, errbuf_size);
	redisFree(c);
	return rc;
}
