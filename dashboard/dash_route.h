/* dash_route.h -- the dashboard's URL space: a request's method and path
 * (percent-decoded, without the query) to the route it names, with the
 * namespace, name and last segment it carries. Pure; docs/dashboard.md
 * lists the routes with curl examples.
 *
 *   GET  /, /index.html, /assets/<file>                       the page
 *   GET  /api/v1/info
 *   GET  /api/v1/workers                                      replicas, lag over time
 *   GET  /api/v1/videojobs[/<ns>/<name>[/frames]]
 *   GET  /api/v1/telemetrywindows[/<ns>/<name>[/latest|/history|/export.csv]]
 *   POST /api/v1/telemetrywindows/<ns>/<name>/load             a CSV body
 *   GET  /api/v1/telemetrywindows/<ns>/<name>/load/<id>
 *   GET  /api/v1/videowatches[/<ns>/<name>]
 *   PUT  /api/v1/videowatches/<ns>/<name>/upload/<file>
 *
 * HEAD goes wherever GET does. A known path with another method is
 * DASH_R_BAD_METHOD (405, with `allow`); anything else DASH_R_NOT_FOUND.
 * Namespaces are DNS labels (at most 63 bytes), names DNS subdomains (at
 * most 253), files one path segment not starting with '.', without control
 * bytes (at most DASH_FILE_MAX), load ids DASH_LOAD_ID_LEN hex digits: a
 * segment that breaks its rule makes the path DASH_R_NOT_FOUND, so nothing
 * malformed reaches a cache key, a query or a URL.
 */
#ifndef SLUICE_DASH_ROUTE_H
#define SLUICE_DASH_ROUTE_H

#include <stddef.h>

#define DASH_NS_MAX 63
#define DASH_NAME_MAX 253
#define DASH_FILE_MAX 255
#define DASH_LOAD_ID_LEN 16

enum dash_route_id {
	DASH_R_NOT_FOUND = 0,
	DASH_R_BAD_METHOD,
	DASH_R_ASSET, /* arg: the asset's path, "/index.html" for "/" */
	DASH_R_INFO,
	DASH_R_WORKERS,
	DASH_R_VJ_LIST,
	DASH_R_VJ_GET,
	DASH_R_VJ_FRAMES,
	DASH_R_TW_LIST,
	DASH_R_TW_GET,
	DASH_R_TW_LATEST,
	DASH_R_TW_HISTORY,
	DASH_R_TW_EXPORT,
	DASH_R_TW_LOAD,     /* POST */
	DASH_R_TW_LOAD_GET, /* arg: the load's id */
	DASH_R_VW_LIST,
	DASH_R_VW_GET,
	DASH_R_VW_UPLOAD, /* PUT; arg: the file name */
};

struct dash_route {
	enum dash_route_id id;
	char ns[DASH_NS_MAX + 1];
	char name[DASH_NAME_MAX + 1];
	char arg[DASH_FILE_MAX + 2];
	const char *allow; /* DASH_R_BAD_METHOD: the Allow header's value (static) */
};

/* Fills *out for method and path. Returns out->id. */
enum dash_route_id dash_route_parse(const char *method, const char *path, struct dash_route *out);

/* "videojobs", "telemetrywindows" or "videowatches" for a route of that
 * kind; NULL for the others. Static strings. */
const char *dash_route_plural(enum dash_route_id id);

/* Whether s is a DNS label (namespace), a DNS subdomain (name), a file name
 * the upload takes, or a load id, by the rules above. 1 or 0. */
int dash_route_ns_ok(const char *s);
int dash_route_name_ok(const char *s);
int dash_route_file_ok(const char *s);
int dash_route_load_id_ok(const char *s);

#endif
