/*
 * httpd.h - the HTTP endpoint every Sluice process serves, on libmicrohttpd:
 *
 *   GET /metrics  the metrics registry, Content-Type
 *                 "text/plain; version=0.0.4; charset=utf-8"
 *   GET /healthz  200 "ok", or 503 with the reason from the liveness check
 *   GET /readyz   200 "ok", or 503 with the reason from the readiness check
 *   anything else 404 "not found"; methods other than GET and HEAD get
 *                 405 "method not allowed" with "Allow: GET, HEAD"
 *
 * Threads: libmicrohttpd runs one internal polling thread per server
 * (MHD_USE_INTERNAL_POLLING_THREAD, no thread pool, no thread per
 * connection). It is the only thread this module starts. Requests, and so
 * the check callbacks and metrics_render(), run on it, one at a time.
 */
#ifndef SLUICE_HTTPD_H
#define SLUICE_HTTPD_H

#include <stddef.h>

#include "metrics.h"

#define HTTPD_ERR (-1)

/* Bounds on what clients can hold: connections at once, and seconds a
 * connection may stay idle. */
#define HTTPD_MAX_CONNECTIONS 64
#define HTTPD_IDLE_TIMEOUT_S 10

/*
 * A health check. Returns 0 when healthy; otherwise non-zero with a short
 * reason written into reason (reason_size bytes, starts empty), which
 * becomes the body of the 503. Called on the server thread, so it must only
 * read state that is safe to read from there (an atomic flag, a value under
 * a lock), and return quickly.
 */
typedef int (*httpd_check_fn)(void *arg, char *reason, size_t reason_size);

struct httpd_options {
	const char *addr; /* IPv4 or IPv6 address literal; NULL: "127.0.0.1" */
	int port;         /* 0..65535; 0 picks a free port (see httpd_port) */
	/* Rendered at /metrics; borrowed, must outlive the server. NULL:
	 * /metrics answers 404. */
	struct metrics_registry *metrics;
	httpd_check_fn healthz; /* NULL: always "ok" */
	void *healthz_arg;
	httpd_check_fn readyz; /* NULL: always "ok" */
	void *readyz_arg;
};

struct httpd;

/*
 * Binds, listens and starts serving. On success *out owns the server (stop
 * it with httpd_stop) and 0 is returned; otherwise *out is NULL and errbuf
 * says why, e.g.
 *   httpd: cannot listen on 127.0.0.1:9090: Address already in use
 *   httpd: invalid listen address "localhost" (want an IPv4 or IPv6 address)
 */
int httpd_start(const struct httpd_options *opts, struct httpd **out, char *errbuf,
                size_t errbuf_size);

/* The port the server listens on: the one asked for, or the one the kernel
 * picked for port 0. */
int httpd_port(const struct httpd *h);

/* Stops accepting, finishes the request in progress, joins the server
 * thread, closes the socket and frees h. NULL is a no-op. */
void httpd_stop(struct httpd *h);

#endif /* SLUICE_HTTPD_H */
