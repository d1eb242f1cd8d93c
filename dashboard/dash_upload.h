/* dash_upload.h -- a file PUT to the dashboard, forwarded as it arrives to
 * a VideoWatch's upload endpoint (its status.watcher.uploadURL + "/" +
 * file), with the user's own Authorization header: the dashboard holds no
 * upload token and writes nothing to disk. The watcher's status and JSON
 * body go back to the user as they are ({"videoJob", "namespace", "file",
 * "url"} on success).
 *
 * One upload is one libcurl transfer on a thread of its own, reading the
 * body from a socket pair that the request's thread writes each chunk
 * into: a slow watcher slows the writer down (no buffering past the
 * socket's), a client that goes away aborts the transfer, and a watcher
 * that answers before it takes the body (401, 413) is seen before the
 * client's body is read at all (dash_upload_start waits for that), so a
 * client that sent "Expect: 100-continue" never sends it.
 *
 * Threads: one upload is driven by one thread (the request's); its
 * transfer runs on its own.
 */
#ifndef SLUICE_DASH_UPLOAD_H
#define SLUICE_DASH_UPLOAD_H

#include <stddef.h>

#include "dash_store.h"

/* Most bytes of the watcher's answer passed back. */
#define DASH_UPLOAD_REPLY_MAX 65536

/*
 * The target URL: base (http:// or https://, a trailing '/' dropped) + "/"
 * + file percent-encoded (all but RFC 3986's unreserved characters).
 * Returns 0, or -1 when base is not an http(s) URL or buf is too small.
 * Pure.
 */
int dash_upload_url(char *buf, size_t size, const char *base, const char *file);

struct dash_upload;

struct dash_upload_options {
	const char *url;           /* dash_upload_url's */
	const char *authorization; /* the client's header value, sent as it is */
	const char *content_type;  /* the client's, or NULL */
	long long content_length;  /* -1: unknown (sent chunked) */
	long connect_timeout_ms;   /* 0: 10000 */
	/* How long start waits for the watcher to take the body or answer;
	 * 0: 30000. */
	long start_timeout_ms;
};

/*
 * Starts the transfer and waits until the watcher takes the body or
 * answers. Returns 0 with *out set when it takes the body (feed it, then
 * finish), 1 when it answered already (r holds its answer, or a 502 when
 * it could not be reached; *out is NULL), -1 when out of resources (r
 * holds a 500).
 */
int dash_upload_start(struct dash_upload **out, const struct dash_upload_options *o,
                      struct dash_reply *r);

/* Passes the next chunk on, blocking while the watcher reads slowly.
 * Returns 0, or 1 when the transfer ended already (the watcher answered
 * early, or failed): stop feeding and call finish. */
int dash_upload_feed(struct dash_upload *u, const char *data, size_t len);

/* Ends the body, waits for the answer, fills r (the watcher's status and
 * body, or 502 naming what failed) and frees u. */
void dash_upload_finish(struct dash_upload *u, struct dash_reply *r);

/* The client went away: aborts the transfer and frees u. NULL is a
 * no-op. */
void dash_upload_abort(struct dash_upload *u);

#endif
