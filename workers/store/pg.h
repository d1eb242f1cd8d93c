/* pg.h -- the one way Sluice connects to PostgreSQL (libpq): the telemetry
 * sink (tw_sink_pg.c), the video workers' plan and frame rows (video_db.c),
 * `sluice-worker export`. Takes the DSN as a user writes it (a libpq
 * connection string or a postgresql:// URI; a lone word is refused: more
 * likely a password under the wrong Secret key than a database name), puts
 * the caller's application_name, connect timeout and statement timeout
 * under it (a setting the DSN names itself wins), and explains a failure
 * in one line that never holds the password.
 */
#ifndef SLUICE_PG_H
#define SLUICE_PG_H

#include <stddef.h>

#include <libpq-fe.h>

/* What a failed connect means. */
enum pg_connect_failure {
	PG_CONNECT_E_RETRY = -1,  /* away, refused, timed out: it may work later */
	PG_CONNECT_E_CONFIG = -2, /* a wrong password, no such database or user, a
	                           * DSN libpq cannot read: it will not fix itself */
};

/*
 * Connects with dsn, adding application_name (NULL: none), connect_timeout
 * (connect_timeout_s; 0: libpq's default, no limit) and statement_timeout
 * (statement_timeout_ms, sent as options "-c statement_timeout=N"; 0: the
 * server's). Returns the connection (the caller PQfinishes it) or NULL,
 * with *failure (when failure is not NULL) a pg_connect_failure and
 * errbuf "postgres: connect: <libpq's first line>", the password (when the
 * DSN holds one) written "***". A DSN pg_dsn_check refuses is not tried
 * (CONFIG, its reason).
 */
PGconn *pg_connect(const char *dsn, const char *application_name, int connect_timeout_s,
                   int statement_timeout_ms, int *failure, char *errbuf, size_t errbuf_size);

/*
 * pg_connect verifying the server against the CA in ca_file (a PEM file;
 * NULL: as pg_connect): sslmode=verify-full and sslrootcert=ca_file, over
 * whatever the DSN says of either. A server certificate the CA did not sign,
 * or one for another host name, fails as CONFIG.
 */
PGconn *pg_connect_ca(const char *dsn, const char *ca_file, const char *application_name,
                      int connect_timeout_s, int statement_timeout_ms, int *failure, char *errbuf,
                      size_t errbuf_size);

/*
 * pg_connect_ca with the CA as PEM text (ca_pem, a Secret's value; NULL: as
 * pg_connect): written to a private file under pg_ca_dir()
 * (pg_ca_file_write) for the connect and removed when it returns, as libpq
 * reads sslrootcert during the handshake only. A pem that holds no
 * certificate, or a directory that cannot take the file, fails as CONFIG
 * ("postgres: tls.ca: not a PEM certificate"). For connections made once
 * (export, the video workers, the dashboard's); PQreset on the result
 * would find no CA file.
 */
PGconn *pg_connect_ca_pem(const char *dsn, const char *ca_pem, const char *application_name,
                          int connect_timeout_s, int statement_timeout_ms, int *failure,
                          char *errbuf, size_t errbuf_size);

/* Where a CA file goes: $TMPDIR, else /run/sluice when writable (the worker
 * pods' run directory: their root file system is read-only), else /tmp. */
const char *pg_ca_dir(void);

/*
 * Writes pem (a CA bundle from a Secret; it must hold a PEM certificate)
 * to a new file only its owner may read (mkstemp, 0600) under dir, its path
 * into path. Returns 0, or -1 with the reason in errbuf (nothing left on
 * disk). The caller unlinks the file when done.
 */
int pg_ca_file_write(const char *pem, const char *dir, char *path, size_t path_size, char *errbuf,
                     size_t errbuf_size);

/*
 * Whether dsn is a connection string or URI libpq can read (a sink checks
 * its DSN when it starts, before any connect). Returns 0, or
 * PG_CONNECT_E_CONFIG with the reason in errbuf: libpq's, one line,
 * nothing of the DSN that could be its password (see pg_scrub).
 */
int pg_dsn_check(const char *dsn, char *errbuf, size_t errbuf_size);

/* ==== Pure parts ==== */

/* Whether libpq reads dsn as a connection string or URI (it starts with
 * "postgresql://" or "postgres://", or holds '='), not a database name. */
int pg_dsn_is_conninfo(const char *dsn);

/* A failed connect's pg_connect_failure: CONFIG when the server asked for a
 * password none was given for (needs_password), or message says
 * "authentication failed" or "does not exist"; RETRY otherwise. */
int pg_connect_classify(int needs_password, const char *message);

/*
 * The first line of msg into out (NUL-terminated, cut to size), trailing
 * blanks dropped, with every occurrence of password (when not NULL or "")
 * written "***". When keywords is not NULL (a NULL-terminated list of
 * libpq's connection keywords: for a DSN that could not be parsed, whose
 * password is unknown), every quoted "..." span of more than one byte that
 * is not one of them is written "***" too: libpq's parse errors quote the
 * piece of the DSN they stopped at, which may be the password. Returns the
 * length written.
 */
size_t pg_scrub(char *out, size_t size, const char *msg, const char *password,
                const char *const *keywords);

#endif
