/* dash_assets.h -- the page's files (dashboard/assets/: HTML, JS, CSS) and
 * uPlot's (fetched once from the npm registry into the cache outside the
 * checkout), embedded in the binary at build time by
 * scripts/dashboard-assets.sh into $(BUILD)/dashboard/assets.c, so the
 * image needs neither Node.js nor the files. */
#ifndef SLUICE_DASH_ASSETS_H
#define SLUICE_DASH_ASSETS_H

#include <stddef.h>

struct dash_asset {
	const char *path; /* "/index.html", "/assets/app.js", ... */
	const char *type; /* its Content-Type */
	const char *etag; /* a hash of its bytes, quoted */
	const unsigned char *data;
	size_t len;
};

/* Every asset; the last entry's path is NULL. */
extern const struct dash_asset dash_assets[];

#endif
