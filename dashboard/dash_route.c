/* dash_route.c -- the dashboard's URL space; see dash_route.h. */
#include "dash_route.h"

#include <stdio.h>
#include <string.h>

#define API "/api/v1/"

static int is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int dash_route_ns_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DASH_NS_MAX || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int dash_route_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DASH_NAME_MAX || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

int dash_route_file_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DASH_FILE_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/' || s[i] == '\\')
			return 0;
	return 1;
}

int dash_route_load_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n != DASH_LOAD_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Copies the segment at *p (up to the next '/' or the end) into buf and
 * moves *p past it and its '/'. Returns 0, or -1 when it is empty or does
 * not fit. */
static int segment(const char **p, char *buf, size_t size)
{
	const char *end = strchr(*p, '/');
	size_t n = end != NULL ? (size_t)(end - *p) : strlen(*p);

	if (n == 0 || n >= size)
		return -1;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p += n;
	if (**p == '/')
		(*p)++;
	return 0;
}

static enum dash_route_id want(struct dash_route *out, const char *method, const char *allowed,
                               enum dash_route_id id)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int ok = strcmp(allowed, "GET") == 0 ? get : strcmp(method, allowed) == 0;

	if (ok) {
		out->id = id;
		return id;
	}
	out->id = DASH_R_BAD_METHOD;
	out->ns[0] = out->name[0] = out->arg[0] = '\0';
	out->allow = strcmp(allowed, "GET") == 0 ? "GET, HEAD" : allowed;
	return out->id;
}

static enum dash_route_id not_found(struct dash_route *out)
{
	memset(out, 0, sizeof(*out));
	out->id = DASH_R_NOT_FOUND;
	return out->id;
}

/* What follows "<plural>/<ns>/<name>/" for each kind. */
static enum dash_route_id sub(struct dash_route *out, const char *method, const char *plural,
                              const char *rest)
{
	char s[32];

	if (*rest == '\0')
		return want(out, method, "GET",
		            strcmp(plural, "videojobs") == 0          ? DASH_R_VJ_GET
		            : strcmp(plural, "telemetrywindows") == 0 ? DASH_R_TW_GET
		                                                      : DASH_R_VW_GET);
	if (segment(&rest, s, sizeof(s)) < 0)
		return not_found(out);
	if (strcmp(plural, "videojobs") == 0) {
		if (strcmp(s, "frames") == 0 && *rest == '\0')
			return want(out, method, "GET", DASH_R_VJ_FRAMES);
	} else if (strcmp(plural, "telemetrywindows") == 0) {
		if (*rest == '\0') {
			if (strcmp(s, "latest") == 0)
				return want(out, method, "GET", DASH_R_TW_LATEST);
			if (strcmp(s, "history") == 0)
				return want(out, method, "GET", DASH_R_TW_HISTORY);
			if (strcmp(s, "export.csv") == 0)
				return want(out, method, "GET", DASH_R_TW_EXPORT);
			if (strcmp(s, "load") == 0)
				return want(out, method, "POST", DASH_R_TW_LOAD);
		} else if (strcmp(s, "load") == 0) {
			if (segment(&rest, out->arg, sizeof(out->arg)) < 0 || *rest != '\0' ||
			    !dash_route_load_id_ok(out->arg))
				return not_found(out);
			return want(out, method, "GET", DASH_R_TW_LOAD_GET);
		}
	} else if (strcmp(s, "upload") == 0) {
		/* The rest is the file: one segment (a '/' in it was %2F). */
		if (strlen(rest) >= sizeof(out->arg) || !dash_route_file_ok(rest))
			return not_found(out);
		snprintf(out->arg, sizeof(out->arg), "%s", rest);
		return want(out, method, "PUT", DASH_R_VW_UPLOAD);
	}
	return not_found(out);
}

enum dash_route_id dash_route_parse(const char *method, const char *path, struct dash_route *out)
{
	static const char *const plurals[] = {"videojobs", "telemetrywindows", "videowatches"};
	static const enum dash_route_id lists[] = {DASH_R_VJ_LIST, DASH_R_TW_LIST, DASH_R_VW_LIST};
	const char *p;
	char plural[32];

	memset(out, 0, sizeof(*out));
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		snprintf(out->arg, sizeof(out->arg), "/index.html");
		return want(out, method, "GET", DASH_R_ASSET);
	}
	if (strncmp(path, "/assets/", 8) == 0) {
		if (!dash_route_file_ok(path + 8) || strlen(path) >= sizeof(out->arg))
			return not_found(out);
		snprintf(out->arg, sizeof(out->arg), "%s", path);
		return want(out, method, "GET", DASH_R_ASSET);
	}
	if (strncmp(path, API, strlen(API)) != 0)
		return not_found(out);
	p = path + strlen(API);
	if (strcmp(p, "info") == 0)
		return want(out, method, "GET", DASH_R_INFO);
	if (strcmp(p, "workers") == 0)
		return want(out, method, "GET", DASH_R_WORKERS);
	if (segment(&p, plural, sizeof(plural)) < 0)
		return not_found(out);
	for (size_t i = 0; i < sizeof(plurals) / sizeof(plurals[0]); i++) {
		if (strcmp(plural, plurals[i]) != 0)
			continue;
		if (*p == '\0' && p[-1] != '/')
			return want(out, method, "GET", lists[i]);
		if (segment(&p, out->ns, sizeof(out->ns)) < 0 || !dash_route_ns_ok(out->ns) ||
		    segment(&p, out->name, sizeof(out->name)) < 0 ||
		    !dash_route_name_ok(out->name) || (p[-1] == '/' && *p == '\0'))
			return not_found(out);
		return sub(out, method, plural, p);
	}
	return not_found(out);
}

const char *dash_route_plural(enum dash_route_id id)
{
	switch (id) {
	case DASH_R_VJ_LIST:
	case DASH_R_VJ_GET:
	case DASH_R_VJ_FRAMES:
		return "videojobs";
	case DASH_R_TW_LIST:
	case DASH_R_TW_GET:
	case DASH_R_TW_LATEST:
	case DASH_R_TW_HISTORY:
	case DASH_R_TW_EXPORT:
	case DASH_R_TW_LOAD:
	case DASH_R_TW_LOAD_GET:
		return "telemetrywindows";
	case DASH_R_VW_LIST:
	case DASH_R_VW_GET:
	case DASH_R_VW_UPLOAD:
		return "videowatches";
	default:
		return NULL;
	}
}
