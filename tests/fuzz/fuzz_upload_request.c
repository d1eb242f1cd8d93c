/*
 * fuzz_upload_request.c - libFuzzer target for the HTTP upload path's
 * request handling, both hops of it:
 *
 *   the dashboard  PUT /api/v1/videowatches/<ns>/<name>/upload/<file>:
 *                  dash_route_parse (method and decoded path to a route),
 *                  then dash_upload_url (the watcher's URL for the file);
 *   the watcher    PUT /uploads/<file> (workers/video/upload_rules.c):
 *                  upload_check_request (method, path, bearer token,
 *                  Content-Length, file name against the watch's glob), the
 *                  temporary name, the 201's JSON and the follow URL.
 *
 * The input is fields, one a line: method, path, Authorization,
 * Content-Length, the watch's glob, the watcher's uploadURL, the dashboard
 * URL. (libmicrohttpd splits the request and decodes the path before any
 * of this runs; Content-Length is read by lib/httpd.c's httpd_parse_content_length.)
 *
 * Checks beyond the sanitizers: a route carries only names its rules allow
 * and PUT alone reaches the upload; the URL made for a file keeps the base
 * and encodes the name so that it decodes back to itself and cannot add a
 * path segment, a query or a fragment; every refusal has a status and a
 * message; an accepted request names a file that matches the glob, whose
 * temporary name no glob matches; the JSON answer reads back the same.
 * Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dash_route.h"
#include "dash_upload.h"
#include "fuzz_input.h"
#include "httpd.h"
#include "upload_rules.h"
#include "vw_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_METHOD, F_PATH, F_AUTH, F_LENGTH, F_GLOB, F_BASE, F_DASHBOARD, F_N };

#define TOKEN "s3cr3t-upload-token"

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The URL for file: base kept, the file one segment that decodes back. */
static void check_url(const char *url, const char *base, const char *file)
{
	size_t bl = strlen(base);
	const char *p;
	size_t i = 0;

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	FUZZ_CHECK(strncmp(url, base, bl) == 0 && url[bl] == '/');
	for (p = url + bl + 1; *p != '\0'; i++) {
		FUZZ_CHECK(strchr("/?#% \t\r\n", *p) == NULL || *p == '%');
		if (*p == '%') {
			int hi = hex_value(p[1]), lo = hi >= 0 ? hex_value(p[2]) : -1;

			FUZZ_CHECK(hi >= 0 && lo >= 0);
			FUZZ_CHECK((unsigned char)file[i] == (unsigned)(hi << 4 | lo));
			p += 3;
		} else {
			FUZZ_CHECK(file[i] == *p);
			p++;
		}
	}
	FUZZ_CHECK(file[i] == '\0');
}

static void dashboard_hop(const char *method, const char *path, const char *base)
{
	struct dash_route r;
	enum dash_route_id id = dash_route_parse(method, path, &r);
	size_t need;
	char *url;

	FUZZ_CHECK(id == r.id);
	if (id == DASH_R_BAD_METHOD) {
		FUZZ_CHECK(r.allow != NULL);
		return;
	}
	if (id == DASH_R_NOT_FOUND)
		return;
	if (r.ns[0] != '\0')
		FUZZ_CHECK(dash_route_ns_ok(r.ns) && dash_route_name_ok(r.name));
	if (id != DASH_R_VW_UPLOAD)
		return;
	FUZZ_CHECK(strcmp(method, "PUT") == 0 && dash_route_file_ok(r.arg));
	FUZZ_CHECK(strcmp(dash_route_plural(id), "videowatches") == 0);
	if (base == NULL)
		return;
	/* Exactly the room it needs, then one byte less: ASan sees any write
	 * past either. */
	need = strlen(base) + 2 + 3 * strlen(r.arg);
	url = malloc(need);
	FUZZ_CHECK(url != NULL);
	if (dash_upload_url(url, need, base, r.arg) == 0) {
		FUZZ_CHECK(strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0);
		check_url(url, base, r.arg);
		need = strlen(url) + 1;
		free(url);
		url = malloc(need - 1);
		FUZZ_CHECK(url != NULL);
		FUZZ_CHECK(dash_upload_url(url, need - 1, base, r.arg) == -1);
	}
	free(url);
}

static void check_answer(const char *file, const char *dashboard)
{
	char *json = upload_response_json("cam-clip-0a1b2c3d", "media", file, dashboard, NULL);
	cJSON *o;
	const cJSON *f;

	FUZZ_CHECK(json != NULL);
	o = cJSON_Parse(json);
	FUZZ_CHECK(o != NULL);
	f = cJSON_GetObjectItemCaseSensitive(o, "file");
	FUZZ_CHECK(cJSON_IsString(f) && strcmp(f->valuestring, file) == 0);
	FUZZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "url")));
	cJSON_Delete(o);
	free(json);
}

static void watcher_hop(char *const *f)
{
	struct vw_spec spec;
	struct upload_verdict v;
	const char *name = NULL;
	char tmp[UPLOAD_NAME_MAX + 32], url[2048];
	long long len = httpd_parse_content_length(f[F_LENGTH]);
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.name = "cam";
	spec.namespace = "media";
	spec.glob = f[F_GLOB] != NULL ? f[F_GLOB] : "*";
	spec.upload.enabled = 1;
	spec.upload.max_bytes = 10LL << 20;
	memset(&v, 0, sizeof(v));
	rc = upload_check_request(&spec, TOKEN, f[F_METHOD], f[F_PATH], f[F_AUTH], len, &name, &v);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && name == NULL);
		FUZZ_CHECK(v.status == 405 || v.status == 404 || v.status == 401 ||
		           v.status == 413 || v.status == 400);
		FUZZ_CHECK(v.message[0] != '\0');
		FUZZ_CHECK(v.status != 401 || !upload_token_ok(TOKEN, f[F_AUTH]));
		return;
	}
	FUZZ_CHECK(strcmp(f[F_METHOD], "PUT") == 0 && upload_token_ok(TOKEN, f[F_AUTH]));
	FUZZ_CHECK(len <= spec.upload.max_bytes);
	FUZZ_CHECK(name == f[F_PATH] + strlen(UPLOAD_PATH_PREFIX));
	FUZZ_CHECK(strlen(name) <= UPLOAD_NAME_MAX && strchr(name, '/') == NULL);
	FUZZ_CHECK(vw_name_matches(&spec, name));
	FUZZ_CHECK(upload_temp_name(tmp, sizeof(tmp), name, 0x0123456789abcdefULL) == 0);
	FUZZ_CHECK(strncmp(tmp, ".upload-", 8) == 0 && !vw_name_matches(&spec, tmp));
	FUZZ_CHECK(upload_over_limit(len, spec.upload.max_bytes, &v) == 0);
	check_answer(name, f[F_DASHBOARD]);
	(void)upload_follow_url(url, sizeof(url), f[F_DASHBOARD], "media", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[F_N];
	size_t n;
	char *buf = fuzz_fields(data, size, '\n', f, F_N, &n);

	if (n > F_PATH) {
		dashboard_hop(f[F_METHOD], f[F_PATH], f[F_BASE]);
		watcher_hop(f);
	}
	free(buf);
	return 0;
}
