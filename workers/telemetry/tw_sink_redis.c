/* tw_sink_redis.c -- the Redis sink (hiredis): per key, the latest window as
 * a hash and a short timeline as a sorted set, both with the spec's TTL,
 * written by one Lua script per row (EVALSHA) in one pipeline per batch.
 * See tw_sink_int.h for the pure parts and docs/telemetry-sinks.md for the
 * keys and how to read them. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "dtoa.h"
#include "hostport.h"
#include "log.h"
#include "redis_conn.h"
#include "tw_agg.h"
#include "tw_progress.h"
#include "tw_sink_int.h"
#include "tw_time.h"

/* Connect and command timeout: a Redis that does not answer in this long
 * is treated as away (RETRY), so a write never hangs the loop. */
#define REDIS_TIMEOUT_MS 5000
/* Longest host name in spec.sinks.redis.addr. */
#define HOST_MAX 256

struct redis_sink {
	struct tw_sink_schema schema;
	char *addr;     /* spec.sinks.redis.addr, "host:port" */
	char *user;     /* spec.sinks.redis.username; NULL: the default user */
	char *password; /* from spec.sinks.redis.password's Secret; NULL: no AUTH */
	char *prefix;
	int64_t ttl_ns;
	redisContext *c; /* NULL: connect on the next write */
	char sha[41];    /* of tw_sink_redis_script on this connection */
	struct tw_sink_redis_cmd cmd;
};

/* ==== Pure text ==== */

/*
 * Window starts are compared as Lua numbers (doubles): distinct windows
 * start at least 1 ms apart, far more than a double's 256 ns step at
 * today's nanosecond times, so the comparison is exact for them.
 */
const char tw_sink_redis_script[] =
    "local cur = redis.call('HGET', KEYS[1], 'start')\n"
    "if not cur or tonumber(cur) <= tonumber(ARGV[1]) then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('HSET', KEYS[1], unpack(ARGV, 6))\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[2], ARGV[2])\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])\n"
    "redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[4]))\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[3])\n"
    "return 0\n";

static int jput(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

static int jnum(struct buf *b, double v)
{
	char num[32];

	if (dtoa_shortest(v, num, sizeof(num)) < 0)
		return LP_E_INVALID;
	return jput(b, num);
}

int tw_sink_redis_member(struct buf *out, const struct tw_sink_schema *schema,
                         const struct tw_row *row)
{
	char head[96], name[TW_FIELD_NAME_MAX * 6 + 1];
	size_t nv = row->nvalues < schema->nvalues ? row->nvalues : schema->nvalues;
	int rc;

	snprintf(head, sizeof(head),
	         "{\"start\":%" PRId64 ",\"end\":%" PRId64 ",\"count\":%" PRIu64, row->start_ns,
	         row->end_ns, row->count);
	if ((rc = jput(out, head)) < 0 || (rc = jput(out, ",\"fields\":{")) < 0)
		return rc;
	for (size_t v = 0; v < nv; v++) {
		const struct tw_value_result *r = &row->values[v];
		char count[48];

		log_json_escape(name, sizeof(name), schema->value_names[v],
		                strlen(schema->value_names[v]));
		snprintf(count, sizeof(count), "\":{\"count\":%" PRIu64, r->count);
		if ((rc = jput(out, v ? ",\"" : "\"")) < 0 || (rc = jput(out, name)) < 0 ||
		    (rc = jput(out, count)) < 0)
			return rc;
		for (size_t a = 0; a < TW_SINK_AGGS; a++) {
			double x = tw_sink_agg_value(&tw_sink_aggs[a], r);

			if (!(schema->aggregations & tw_sink_aggs[a].kind) || !isfinite(x))
				continue;
			if ((rc = jput(out, ",\"")) < 0 ||
			    (rc = jput(out, tw_sink_aggs[a].name)) < 0 ||
			    (rc = jput(out, "\":")) < 0 || (rc = jnum(out, x)) < 0)
				return rc;
		}
		if ((rc = jput(out, "}")) < 0)
			return rc;
	}
	return jput(out, "}}");
}

/* Opens argument number cmd->argc at the end of the buffer. */
static int arg_open(struct tw_sink_redis_cmd *cmd)
{
	if (cmd->argc == TW_SINK_REDIS_ARGS_MAX)
		return LP_E_FULL;
	cmd->off[cmd->argc] = cmd->buf.len;
	return 0;
}

static void arg_close(struct tw_sink_redis_cmd *cmd)
{
	cmd->argvlen[cmd->argc] = cmd->buf.len - cmd->off[cmd->argc];
	cmd->argc++;
}

/* One whole argument: the n bytes at p. */
static int arg(struct tw_sink_redis_cmd *cmd, const void *p, size_t n)
{
	int rc;

	if ((rc = arg_open(cmd)) < 0 || (rc = buf_append(&cmd->buf, p, n)) < 0)
		return rc;
	arg_close(cmd);
	return 0;
}

static int arg_str(struct tw_sink_redis_cmd *cmd, const char *s)
{
	return arg(cmd, s, strlen(s));
}

/* "<prefix><key><suffix>" as one argument. */
static int arg_key(struct tw_sink_redis_cmd *cmd, const char *prefix, const struct tw_row *row,
                   const char *suffix)
{
	int rc;

	if ((rc = arg_open(cmd)) < 0 || (rc = buf_append(&cmd->buf, prefix, strlen(prefix))) < 0 ||
	    (rc = buf_append(&cmd->buf, row->key, row->key_len)) < 0 ||
	    (rc = buf_append(&cmd->buf, suffix, strlen(suffix))) < 0)
		return rc;
	arg_close(cmd);
	return 0;
}

/* "<field>.<agg>" as one argument. */
static int arg_field(struct tw_sink_redis_cmd *cmd, const char *field, const char *agg)
{
	int rc;

	if ((rc = arg_open(cmd)) < 0 || (rc = buf_append(&cmd->buf, field, strlen(field))) < 0 ||
	    (rc = buf_append(&cmd->buf, ".", 1)) < 0 ||
	    (rc = buf_append(&cmd->buf, agg, strlen(agg))) < 0)
		return rc;
	arg_close(cmd);
	return 0;
}

static int build_row(struct tw_sink_redis_cmd *cmd, const char *sha, const char *prefix,
                     int64_t ttl_ns, const struct tw_sink_schema *schema, const struct tw_row *row)
{
	char start[24], end[24], count[24], score[24], pttl[24], keep[16], num[32];
	size_t nv = row->nvalues < schema->nvalues ? row->nvalues : schema->nvalues;
	int rc;

	snprintf(start, sizeof(start), "%" PRId64, row->start_ns);
	snprintf(end, sizeof(end), "%" PRId64, row->end_ns);
	snprintf(count, sizeof(count), "%" PRIu64, row->count);
	/* A score is a double: milliseconds stay exact where nanoseconds
	 * would not (window starts are whole milliseconds). Floored: a
	 * window before 1970 scores the millisecond that contains it. */
	snprintf(score, sizeof(score), "%" PRId64, tw_time_floor_div(row->start_ns, 1000000));
	snprintf(pttl, sizeof(pttl), "%" PRId64, ttl_ns / 1000000);
	snprintf(keep, sizeof(keep), "%d", TW_SINK_REDIS_TIMELINE);
	if ((rc = arg_str(cmd, "EVALSHA")) < 0 || (rc = arg_str(cmd, sha)) < 0 ||
	    (rc = arg_str(cmd, "2")) < 0 || (rc = arg_key(cmd, prefix, row, ":latest")) < 0 ||
	    (rc = arg_key(cmd, prefix, row, ":timeline")) < 0 || (rc = arg_str(cmd, start)) < 0 ||
	    (rc = arg_str(cmd, score)) < 0 || (rc = arg_str(cmd, pttl)) < 0 ||
	    (rc = arg_str(cmd, keep)) < 0 || (rc = arg_open(cmd)) < 0 ||
	    (rc = tw_sink_redis_member(&cmd->buf, schema, row)) < 0)
		return rc;
	arg_close(cmd);
	if ((rc = arg_str(cmd, "start")) < 0 || (rc = arg_str(cmd, start)) < 0 ||
	    (rc = arg_str(cmd, "end")) < 0 || (rc = arg_str(cmd, end)) < 0 ||
	    (rc = arg_str(cmd, "count")) < 0 || (rc = arg_str(cmd, count)) < 0)
		return rc;
	for (size_t v = 0; v < nv; v++) {
		const struct tw_value_result *r = &row->values[v];

		snprintf(count, sizeof(count), "%" PRIu64, r->count);
		if ((rc = arg_field(cmd, schema->value_names[v], "count")) < 0 ||
		    (rc = arg_str(cmd, count)) < 0)
			return rc;
		for (size_t a = 0; a < TW_SINK_AGGS; a++) {
			double x = tw_sink_agg_value(&tw_sink_aggs[a], r);

			if (!(schema->aggregations & tw_sink_aggs[a].kind) ||
			    dtoa_shortest(x, num, sizeof(num)) < 0)
				continue; /* not asked for, or no value */
			if ((rc = arg_field(cmd, schema->value_names[v], tw_sink_aggs[a].name)) <
			        0 ||
			    (rc = arg_str(cmd, num)) < 0)
				return rc;
		}
	}
	return 0;
}

int tw_sink_redis_row_cmd(struct tw_sink_redis_cmd *cmd, const char *sha, const char *prefix,
                          int64_t ttl_ns, const struct tw_sink_schema *schema,
                          const struct tw_row *row, char *errbuf, size_t errbuf_size)
{
	int rc;

	buf_reset(&cmd->buf);
	cmd->argc = 0;
	rc = build_row(cmd, sha, prefix, ttl_ns, schema, row);
	if (rc < 0)
		return tw_sink_fail(errbuf, errbuf_size, rc,
		                    "redis: the command for a window does not fit (%s)",
		                    rc == LP_E_NOMEM ? "out of memory" : "too large");
	for (size_t i = 0; i < cmd->argc; i++)
		cmd->argv[i] = cmd->buf.data + cmd->off[i];
	return 0;
}

int tw_sink_redis_classify(const char *error)
{
	static const char *const retry[] = {"LOADING",  "BUSY", "TRYAGAIN",    "MASTERDOWN",
	                                    "READONLY", "OOM",  "CLUSTERDOWN", NULL};
	static const char *const config[] = {"NOAUTH", "WRONGPASS", "NOPERM", NULL};
	size_t n;

	if (error == NULL)
		return TW_SINK_E_RETRY;
	n = strcspn(error, " ");
	for (const char *const *w = retry; *w != NULL; w++)
		if (strlen(*w) == n && strncmp(error, *w, n) == 0)
			return TW_SINK_E_RETRY;
	for (const char *const *w = config; *w != NULL; w++)
		if (strlen(*w) == n && strncmp(error, *w, n) == 0)
			return TW_SINK_E_CONFIG;
	return TW_SINK_E_REJECT;
}

/* ==== Connection ==== */

static void redis_drop(struct redis_sink *s)
{
	if (s->c != NULL) {
		redisFree(s->c);
		s->c = NULL;
	}
	s->sha[0] = '\0';
}

/* The context broke (I/O, timeout, protocol): drop it and say RETRY. */
static int redis_broken(struct redis_sink *s, const char *what, char *errbuf, size_t errbuf_size)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s",
	         s->c != NULL && s->c->err ? s->c->errstr : "out of memory");
	log_warn("redis connection lost", "resource", s->schema.resource, "addr", s->addr, "during",
	         what, "error", msg, NULL);
	redis_drop(s);
	return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY, "redis: %s: %s", what, msg);
}

static int load_script(struct redis_sink *s, char *errbuf, size_t errbuf_size)
{
	const char *argv[] = {"SCRIPT", "LOAD", tw_sink_redis_script};
	size_t argvlen[] = {6, 4, sizeof(tw_sink_redis_script) - 1};
	redisReply *r = redisCommandArgv(s->c, 3, argv, argvlen);
	int rc = 0;

	if (r == NULL)
		return redis_broken(s, "SCRIPT LOAD", errbuf, errbuf_size);
	if (r->type == REDIS_REPLY_STRING && r->len == 40) {
		memcpy(s->sha, r->str, 40);
		s->sha[40] = '\0';
	} else {
		const char *e = r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";

		rc = r->type == REDIS_REPLY_ERROR ? tw_sink_redis_classify(e) : TW_SINK_E_RETRY;
		tw_sink_fail(errbuf, errbuf_size, rc, "redis: SCRIPT LOAD: %s", e);
		log_error("redis SCRIPT LOAD failed", "resource", s->schema.resource, "error", e,
		          NULL);
	}
	freeReplyObject(r);
	return rc;
}

/* Could not connect: RETRY, as for a connection that broke. why is
 * redis_conn_open's "redis host:port: reason"; the message reads
 * "redis: connect: host:port: reason". */
static int redis_unreachable(struct redis_sink *s, const char *why, char *errbuf,
                             size_t errbuf_size)
{
	static const char prefix[] = "redis ";
	const char *w =
	    strncmp(why, prefix, sizeof(prefix) - 1) == 0 ? why + sizeof(prefix) - 1 : why;

	log_warn("redis connection lost", "resource", s->schema.resource, "addr", s->addr, "during",
	         "connect", "error", w, NULL);
	redis_drop(s);
	return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_RETRY, "redis: connect: %s", w);
}

/* Redis refused the credentials: CONFIG (the Secret is wrong, or the user
 * is off; retrying would not help). why is redis_conn_open's "redis
 * host:port: authentication failed for user U (...)", never the password. */
static int redis_refused(struct redis_sink *s, const char *why, char *errbuf, size_t errbuf_size)
{
	static const char prefix[] = "redis ";
	const char *w =
	    strncmp(why, prefix, sizeof(prefix) - 1) == 0 ? why + sizeof(prefix) - 1 : why;

	log_error("redis refused the credentials", "resource", s->schema.resource, "addr", s->addr,
	          "user", s->user != NULL ? s->user : "default", "error", w, NULL);
	return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "redis: %s", w);
}

static int redis_ready(struct redis_sink *s, char *errbuf, size_t errbuf_size)
{
	struct redis_auth auth = {s->user, s->password};
	char why[256];
	int rc;

	if (s->c != NULL && s->sha[0] != '\0')
		return 0;
	if (s->c == NULL) {
		/* AUTH on every (re)connect: a Redis that restarted forgets the
		 * connection, not the ACL. */
		rc = redis_conn_connect(s->addr, &auth, REDIS_TIMEOUT_MS, &s->c, why, sizeof(why));
		if (rc == REDIS_CONN_E_AUTH)
			return redis_refused(s, why, errbuf, errbuf_size);
		if (rc < 0)
			return redis_unreachable(s, why, errbuf, errbuf_size);
	}
	if ((rc = load_script(s, errbuf, errbuf_size)) < 0) {
		redis_drop(s);
		return rc;
	}
	return 0;
}

/* ==== Writes ==== */

/*
 * Sends rows [from, to) as one pipeline and reads every reply (so the
 * connection stays in step even after an error reply). *noscript is set
 * when the server had lost the script (a restart, SCRIPT FLUSH).
 */
static int pipeline(struct redis_sink *s, const struct tw_batch *b, size_t from, size_t to,
                    int *noscript, char *errbuf, size_t errbuf_size)
{
	int rc = 0;

	for (size_t i = from; i < to; i++) {
		if ((rc = tw_sink_redis_row_cmd(&s->cmd, s->sha, s->prefix, s->ttl_ns, &s->schema,
		                                &b->rows[i], errbuf, errbuf_size)) < 0) {
			redis_drop(s); /* replies of rows already appended would be pending */
			return TW_SINK_E_REJECT;
		}
		if (redisAppendCommandArgv(s->c, (int)s->cmd.argc, s->cmd.argv, s->cmd.argvlen) !=
		    REDIS_OK)
			return redis_broken(s, "append", errbuf, errbuf_size);
	}
	for (size_t i = from; i < to; i++) {
		redisReply *r = NULL;

		if (redisGetReply(s->c, (void **)&r) != REDIS_OK || r == NULL)
			return redis_broken(s, "EVALSHA", errbuf, errbuf_size);
		if (r->type == REDIS_REPLY_ERROR && rc == 0) {
			if (strncmp(r->str, "NOSCRIPT", 8) == 0) {
				*noscript = 1;
				rc = TW_SINK_E_RETRY;
			} else {
				rc = tw_sink_redis_classify(r->str);
			}
			tw_sink_fail(errbuf, errbuf_size, rc, "redis: EVALSHA: %s", r->str);
			log_msg(rc == TW_SINK_E_RETRY ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
			        "redis write failed", "resource", s->schema.resource, "error",
			        r->str, NULL);
		}
		freeReplyObject(r);
	}
	return rc;
}

static int redis_write(void *impl, const struct tw_batch *b, char *errbuf, size_t errbuf_size)
{
	struct redis_sink *s = impl;
	int rc = 0;

	if (b->nrows == 0)
		return TW_SINK_OK;
	/* A second try only after NOSCRIPT: the rows are idempotent, so
	 * writing those that went through again changes nothing. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int noscript = 0;

		if ((rc = redis_ready(s, errbuf, errbuf_size)) < 0)
			return rc;
		for (size_t from = 0; from < b->nrows && rc == 0;
		     from += TW_SINK_REDIS_PIPELINE_ROWS) {
			size_t to = b->nrows - from > TW_SINK_REDIS_PIPELINE_ROWS
			                ? from + TW_SINK_REDIS_PIPELINE_ROWS
			                : b->nrows;

			rc = pipeline(s, b, from, to, &noscript, errbuf, errbuf_size);
		}
		if (!noscript)
			return rc;
		s->sha[0] = '\0'; /* load it again */
	}
	return rc;
}

/* ==== Life ==== */

static int64_t redis_retry_after_ms(const void *impl)
{
	(void)impl;
	return 0;
}

static void redis_close(void *impl)
{
	struct redis_sink *s = impl;

	if (s == NULL)
		return;
	redis_drop(s);
	tw_sink_schema_free(&s->schema);
	buf_free(&s->cmd.buf);
	free(s->addr);
	free(s->user);
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->prefix);
	free(s);
}

static int redis_open(const struct tw_spec *spec, const char *secret, void **impl, char *errbuf,
                      size_t errbuf_size)
{
	struct redis_sink *s;
	char host[HOST_MAX];
	int port, rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "redis: out of memory");
	buf_init(&s->cmd.buf, 1u << 20);
	if (hostport_split(spec->sinks.redis.addr, host, sizeof(host), &port) < 0) {
		redis_close(s);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG,
		                    "spec.sinks.redis.addr: \"%s\" is not host:port",
		                    spec->sinks.redis.addr);
	}
	s->ttl_ns = spec->sinks.redis.ttl_ns;
	s->addr = strdup(spec->sinks.redis.addr);
	s->prefix = strdup(spec->sinks.redis.prefix);
	if (spec->sinks.redis.username != NULL)
		s->user = strdup(spec->sinks.redis.username);
	if (secret != NULL)
		s->password = strdup(secret);
	if (s->addr == NULL || s->prefix == NULL ||
	    (spec->sinks.redis.username != NULL && s->user == NULL) ||
	    (secret != NULL && s->password == NULL)) {
		redis_close(s);
		return tw_sink_fail(errbuf, errbuf_size, TW_SINK_E_CONFIG, "redis: out of memory");
	}
	if ((rc = tw_sink_schema_init(&s->schema, spec, errbuf, errbuf_size)) < 0) {
		redis_close(s);
		return rc;
	}
	*impl = s;
	return 0;
}

const struct tw_sink_ops tw_sink_redis_ops = {
    .name = "redis",
    .open = redis_open,
    .write = redis_write,
    .trim = NULL, /* keys expire by TTL; the timeline is capped on write */
    .retry_after_ms = redis_retry_after_ms,
    .close = redis_close,
};
