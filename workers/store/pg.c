/* pg.c -- PostgreSQL connections and their messages; see pg.h. */
#include "pg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

/* One line of a reason, scrubbed. */
#define MSG_MAX 512
/* libpq has about 50 connection keywords. */
#define KEYWORDS_MAX 128

/* ==== Pure parts ==== */

int pg_dsn_is_conninfo(const char *dsn)
{
	return strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0 ||
	       strchr(dsn, '=') != NULL;
}

int pg_connect_classify(int needs_password, const char *message)
{
	/* A certificate the CA did not sign, or for another host name
	 * (verify-full), will not fix itself either. */
	if (needs_password || strstr(message, "authentication failed") != NULL ||
	    strstr(message, "does not exist") != NULL ||
	    strstr(message, "certificate verify failed") != NULL ||
	    (strstr(message, "server certificate for") != NULL &&
	     strstr(message, "does not match host name") != NULL))
		return PG_CONNECT_E_CONFIG;
	return PG_CONNECT_E_RETRY;
}

/* Appends len bytes of s to out (size bytes, *n used), cutting what does
 * not fit; out stays NUL-terminated. */
static void put(char *out, size_t size, size_t *n, const char *s, size_t len)
{
	size_t room = size - 1 - *n;
	size_t take = len < room ? len : room;

	memcpy(out + *n, s, take);
	*n += take;
	out[*n] = '\0';
}

static int is_keyword(const char *s, size_t len, const char *const *keywords)
{
	for (; *keywords != NULL; keywords++)
		if (strlen(*keywords) == len && memcmp(*keywords, s, len) == 0)
			return 1;
	return 0;
}

size_t pg_scrub(char *out, size_t size, const char *msg, const char *password,
                const char *const *keywords)
{
	size_t line = strcspn(msg, "\r\n"), plen = password != NULL ? strlen(password) : 0;
	size_t n = 0, i = 0;

	if (size == 0)
		return 0;
	out[0] = '\0';
	while (line > 0 && (msg[line - 1] == ' ' || msg[line - 1] == '\t'))
		line--;
	while (i < line) {
		const char *close;
		size_t span;

		if (plen > 0 && line - i >= plen && memcmp(msg + i, password, plen) == 0) {
			put(out, size, &n, "***", 3);
			i += plen;
			continue;
		}
		if (keywords == NULL || msg[i] != '"') {
			put(out, size, &n, msg + i, 1);
			i++;
			continue;
		}
		close = memchr(msg + i + 1, '"', line - i - 1);
		if (close == NULL) { /* no end: the rest could be anything */
			put(out, size, &n, "\"***", 4);
			break;
		}
		span = (size_t)(close - (msg + i + 1));
		if ((span == 1 && ispunct((unsigned char)msg[i + 1])) ||
		    is_keyword(msg + i + 1, span, keywords))
			put(out, size, &n, msg + i, span + 2);
		else
			put(out, size, &n, "\"***\"", 5);
		i += span + 2;
	}
	return n;
}

/* ==== libpq ==== */

/* libpq's parse error, scrubbed of whatever of the DSN it quotes that is
 * not a keyword (the password cannot be told apart: the parse failed). */
static void scrub_parse_error(const char *perr, char *out, size_t size)
{
	PQconninfoOption *defaults = PQconndefaults();
	const char *keywords[KEYWORDS_MAX + 1];
	size_t n = 0;

	for (const PQconninfoOption *o = defaults;
	     o != NULL && o->keyword != NULL && n < KEYWORDS_MAX; o++)
		keywords[n++] = o->keyword;
	keywords[n] = NULL;
	pg_scrub(out, size, perr != NULL ? perr : "out of memory", NULL, keywords);
	PQconninfoFree(defaults);
}

/* Parses a connection string or URI: the options (the caller frees them
 * with PQconninfoFree), or NULL with the scrubbed reason in msg. Anything
 * else is refused, unquoted: a lone word in a DSN's place is more likely a
 * password put under the wrong key than a database name. */
static PQconninfoOption *parse(const char *dsn, char *msg, size_t size)
{
	char *perr = NULL;
	PQconninfoOption *opts;

	if (!pg_dsn_is_conninfo(dsn)) {
		snprintf(msg, size,
		         "not a connection string or URI (host=... dbname=... or "
		         "postgresql://...)");
		return NULL;
	}
	opts = PQconninfoParse(dsn, &perr);
	if (opts == NULL)
		scrub_parse_error(perr, msg, size);
	PQfreemem(perr);
	return opts;
}

int pg_dsn_check(const char *dsn, char *errbuf, size_t errbuf_size)
{
	PQconninfoOption *opts;
	char msg[MSG_MAX];

	opts = parse(dsn, msg, sizeof(msg));
	if (opts == NULL)
		return err_set(errbuf, errbuf_size, PG_CONNECT_E_CONFIG, "%s", msg);
	PQconninfoFree(opts);
	return 0;
}

static const char *option(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val;
	return NULL;
}

static void set_failure(int *failure, int rc)
{
	if (failure != NULL)
		*failure = rc;
}

PGconn *pg_connect(const char *dsn, const char *application_name, int connect_timeout_s,
                   int statement_timeout_ms, int *failure, char *errbuf, size_t errbuf_size)
{
	return pg_connect_ca(dsn, NULL, application_name, connect_timeout_s, statement_timeout_ms,
	                     failure, errbuf, errbuf_size);
}

int pg_ca_file_write(const char *pem, const char *dir, char *path, size_t path_size, char *errbuf,
                     size_t errbuf_size)
{
	size_t len = pem != NULL ? strlen(pem) : 0;
	int fd, n;

	path[0] = '\0';
	if (len == 0 || strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL)
		return err_set(errbuf, errbuf_size, -1, "not a PEM certificate");
	n = snprintf(path, path_size, "%s/sluice-pg-ca-XXXXXX", dir);
	if (n < 0 || (size_t)n >= path_size)
		return err_set(errbuf, errbuf_size, -1, "%s: path too long", dir);
	fd = mkstemp(path); /* 0600, a name of its own */
	if (fd < 0) {
		n = errno;
		path[0] = '\0';
		return err_set(errbuf, errbuf_size, -1, "%s: %s", dir, strerror(n));
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, pem + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			n = errno;
			close(fd);
			unlink(path);
			path[0] = '\0';
			return err_set(errbuf, errbuf_size, -1, "%s: %s", dir, strerror(n));
		}
		off += (size_t)w;
	}
	if (close(fd) != 0) {
		n = errno;
		unlink(path);
		path[0] = '\0';
		return err_set(errbuf, errbuf_size, -1, "%s: %s", dir, strerror(n));
	}
	return 0;
}

PGconn *pg_connect_ca(const char *dsn, const char *ca_file, const char *application_name,
                      int connect_timeout_s, int statement_timeout_ms, int *failure, char *errbuf,
                      size_t errbuf_size)
{
	const char *keys[7], *values[7];
	char timeout[24], options[48], msg[MSG_MAX];
	PQconninfoOption *opts = NULL;
	PGconn *c;
	int n = 0, rc;

	if ((opts = parse(dsn, msg, sizeof(msg))) == NULL) {
		set_failure(failure, PG_CONNECT_E_CONFIG);
		err_set(errbuf, errbuf_size, -1, "postgres: connect: %s", msg);
		return NULL;
	}
	/* Ours come first so that the DSN's own settings win (libpq keeps the
	 * last value of a repeated keyword, and dbname expands the DSN). */
	if (connect_timeout_s > 0) {
		snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s);
		keys[n] = "connect_timeout";
		values[n++] = timeout;
	}
	if (application_name != NULL) {
		keys[n] = "application_name";
		values[n++] = application_name;
	}
	if (statement_timeout_ms > 0) {
		snprintf(options, sizeof(options), "-c statement_timeout=%d", statement_timeout_ms);
		keys[n] = "options";
		values[n++] = options;
	}
	keys[n] = "dbname";
	values[n++] = dsn;
	/* After the DSN, so they win over its own sslmode and sslrootcert:
	 * naming a CA means verifying the server with it, host name included. */
	if (ca_file != NULL) {
		keys[n] = "sslmode";
		values[n++] = "verify-full";
		keys[n] = "sslrootcert";
		values[n++] = ca_file;
	}
	keys[n] = values[n] = NULL;
	c = PQconnectdbParams(keys, values, 1);
	if (c != NULL && PQstatus(c) == CONNECTION_OK) {
		PQconninfoFree(opts);
		return c;
	}
	pg_scrub(msg, sizeof(msg), c != NULL ? PQerrorMessage(c) : "out of memory",
	         option(opts, "password"), NULL);
	rc = pg_connect_classify(c != NULL && PQconnectionNeedsPassword(c), msg);
	PQfinish(c);
	PQconninfoFree(opts);
	set_failure(failure, rc);
	err_set(errbuf, errbuf_size, -1, "postgres: connect: %s", msg);
	return NULL;
}

const char *pg_ca_dir(void)
{
	const char *t = getenv("TMPDIR");

	if (t != NULL && t[0] != '\0')
		return t;
	return access("/run/sluice", W_OK) == 0 ? "/run/sluice" : "/tmp";
}

PGconn *pg_connect_ca_pem(const char *dsn, const char *ca_pem, const char *application_name,
                          int connect_timeout_s, int statement_timeout_ms, int *failure,
                          char *errbuf, size_t errbuf_size)
{
	char path[4096], why[256];
	PGconn *c;

	if (ca_pem == NULL)
		return pg_connect(dsn, application_name, connect_timeout_s, statement_timeout_ms,
		                  failure, errbuf, errbuf_size);
	if (pg_ca_file_write(ca_pem, pg_ca_dir(), path, sizeof(path), why, sizeof(why)) < 0) {
		set_failure(failure, PG_CONNECT_E_CONFIG);
		err_set(errbuf, errbuf_size, -1, "postgres: tls.ca: %s", why);
		return NULL;
	}
	c = pg_connect_ca(dsn, path, application_name, connect_timeout_s, statement_timeout_ms,
	                  failure, errbuf, errbuf_size);
	/* libpq read the file during the handshake, and never again. */
	(void)unlink(path);
	return c;
}
