/*
 * httpd.h - the HTTP endpoint every Sluice process serves, on libmicrohttpd:
 *
 *   GET /metrics  the metrics registry, Content-Type
 *                 "text/plain; version=0.0.4; charset=utf-8"
 *   GET /healthz  200 "ok", or 503 with the reason from the liveness check
 *   GET /readyz   200 "ok", or 503 with the reason from the readiness check
 *   GET /status   when the server has a component: one JSON document of
 *                 the same registry and the program's state (docs/status.md):
 *                 {"component", "version", "gitRev", "time", "metrics"
 *                 (metrics_render_json; {} without a registry), "state"
 *                 (from the state callback; null without one)}
 *   anything else 404 "not found"; methods other than GET and HEAD get
 *                 405 "method not allowed" with "Allow: GET, HEAD"
 *
 * unless the server has a handler (struct httpd_handler): then every other
 * request, any method, goes to it, its body streamed in chunks, so an
 * application (the dashboard, the upload endpoint) serves its own paths
 * beside the three built in.
 *
 * Threads: without a handler, libmicrohttpd runs one internal polling
 * thread per server (no thread pool, no thread per connection). It is the
 * only thread this module starts. Requests, and so the check callbacks and
 * metrics_render() and the state callback, run on it, one at a time. With a handler, each
 * connection gets a thread of its own (at most HTTPD_MAX_CONNECTIONS), so
 * a slow upload or query never holds up /healthz: the handler's callbacks
 * and the checks then run on several threads at once.
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

/*
 * The program's state for GET /status: one JSON value (an object, by
 * convention) as text the caller frees with free(), or NULL when it cannot
 * be had (out of memory): "state" is then null. It runs on the server
 * thread, as the checks do, so it reads only what is shared under a lock
 * or a snapshot the program's own thread publishes, and returns quickly.
 */
typedef char *(*httpd_state_fn)(void *arg);

/* A request given to a handler. Valid from begin until done returns. */
struct httpd_request;

/*
 * An application's paths. The callbacks for one request run on one thread,
 * in this order: begin once the headers are in; body for each chunk of the
 * request body, as it arrives; end once it is all in; done always, last
 * (also after a client went away halfway: then completed is 0 and no
 * response goes out). A callback answers with httpd_respond*; once it has,
 * the rest of the body is not read and end is not called. end must answer.
 *
 * Answering in begin (401, 413) before a body is read means a client that
 * sent "Expect: 100-continue" (curl -T) never sends it. Any other answer to
 * a request with a body goes out once the body is all in, the rest of it
 * read and dropped meanwhile: an answer given in body (libmicrohttpd 0.9
 * queues no response while a body streams in), and one given in begin to
 * a client that sends its body without waiting (a browser's fetch), which
 * would otherwise read a reset instead of the answer.
 */
struct httpd_handler {
	void (*begin)(void *arg, struct httpd_request *r, void **state);
	void (*body)(void *arg, struct httpd_request *r, void *state, const char *data, size_t len);
	void (*end)(void *arg, struct httpd_request *r, void *state);
	void (*done)(void *arg, void *state, int completed);
	void *arg;
};

const char *httpd_request_method(const struct httpd_request *r);
/* The path, percent-decoded by libmicrohttpd, without the query. */
const char *httpd_request_path(const struct httpd_request *r);
/* A header (name case-insensitive) or a query argument (decoded); NULL
 * when absent. */
const char *httpd_request_header(const struct httpd_request *r, const char *name);
const char *httpd_request_query(const struct httpd_request *r, const char *name);
/* Content-Length, or -1 when the request has none (chunked or no body). */
long long httpd_request_content_length(const struct httpd_request *r);
/* A Content-Length header's value (NULL: absent) as a byte count: digits
 * only, no sign or blanks, within long long; -1 otherwise. Pure. */
long long httpd_parse_content_length(const char *v);
/* Whether a response was queued. */
int httpd_request_answered(const struct httpd_request *r);

/* Adds a header to the response still to be sent (Location,
 * Access-Control-*...); at most HTTPD_MAX_HEADERS, copied. Returns 0 or -1. */
#define HTTPD_MAX_HEADERS 8
int httpd_header(struct httpd_request *r, const char *name, const char *value);

/* Queues the response: body copied (httpd_respond) or taken over and freed
 * (httpd_respond_owned, which frees it on failure too). At most once per
 * request; returns 0, or -1 when it could not be queued (the connection is
 * then closed). */
int httpd_respond(struct httpd_request *r, unsigned int status, const char *content_type,
                  const char *body, size_t len);
int httpd_respond_owned(struct httpd_request *r, unsigned int status, const char *content_type,
                        char *body, size_t len);
/* text/plain; charset=utf-8, the text and a newline. */
int httpd_respond_text(struct httpd_request *r, unsigned int status, const char *text);

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
	/* GET /status's "component" ("operator", "telemetry"), borrowed;
	 * NULL: no /status (404, or the handler's). */
	const char *component;
	httpd_state_fn state; /* "state"; NULL: null */
	void *state_arg;
	/* Serves every request the paths above do not; NULL: none (404/405).
	 * Borrowed, must outlive the server. */
	const struct httpd_handler *handler;
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
