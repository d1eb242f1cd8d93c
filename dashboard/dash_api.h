/* dash_api.h -- the dashboard's HTTP side: the lib/httpd handler (struct
 * httpd_handler) that serves the page's files and every route of
 * dash_route.h, from the cache (lists and details: no I/O), the result
 * stores (dash_store.h), the upload forwarder (dash_upload.h) and the
 * loader (dash_load.h). docs/dashboard.md documents the API.
 *
 * JSON answers carry Cache-Control: no-store; errors are {"error": "..."}
 * with the status that fits (400 bad query, 401 no token, 404, 405 with
 * Allow, 409 the resource cannot do it, 413, 502 a store or the watcher
 * failed, 503 busy).
 *
 * Threads: the handler's callbacks run on the server's connection
 * threads, several at once; everything it uses is thread-safe.
 */
#ifndef SLUICE_DASH_API_H
#define SLUICE_DASH_API_H

#include <stdint.h>

#include "dash_cache.h"
#include "dash_load.h"
#include "dash_store.h"
#include "httpd.h"
#include "metrics.h"

struct dash_api_options {
	struct dash_cache *cache; /* borrowed, all of them */
	struct dash_store *store;
	struct dash_loads *loads;
	struct metrics_registry *metrics; /* may be NULL */
	const char *namespace;            /* "" or NULL: all */
	/* The store's defaults, for /info (the page asks a store only when a
	 * resource has it, so it never draws a 409). */
	struct dash_defaults defaults;
	int64_t history_ms, sample_ms;
	long upload_start_timeout_ms; /* 0: dash_upload's default */
};

struct dash_api;

/* Returns the API, or NULL with errbuf set. */
struct dash_api *dash_api_new(const struct dash_api_options *o, char *errbuf, size_t errbuf_size);
void dash_api_free(struct dash_api *a);

/* The handler to give httpd_start (valid while a lives). */
const struct httpd_handler *dash_api_handler(struct dash_api *a);

#endif
