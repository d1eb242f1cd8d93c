/* upload_rules.c -- the upload endpoint's decisions. See upload_rules.h. */
#include "upload_rules.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

static int verdict(struct upload_verdict *v, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int verdict(struct upload_verdict *v, unsigned int status, const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
	return -1;
}

int upload_token_ok(const char *expected, const char *authorization)
{
	const char *given;
	size_t n, m, i;
	unsigned char diff;

	if (expected == NULL || expected[0] == '\0' || authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	given = authorization + 7;
	while (*given == ' ')
		given++;
	n = strlen(expected);
	m = strlen(given);
	/* Every byte of expected is compared whatever given holds; the
	 * lengths' difference joins the result instead of ending early. */
	diff = (unsigned char)(n != m);
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(expected[i] ^ (i < m ? given[i] : 0));
	return diff == 0;
}

const char *upload_path_name(const char *path, struct upload_verdict *v)
{
	size_t n = strlen(UPLOAD_PATH_PREFIX);

	if (path == NULL || strncmp(path, UPLOAD_PATH_PREFIX, n) != 0) {
		verdict(v, 404, "not found: files are uploaded with PUT %s<file>",
		        UPLOAD_PATH_PREFIX);
		return NULL;
	}
	return path + n;
}

int upload_check_name(const struct vw_spec *spec, const char *name, struct upload_verdict *v)
{
	size_t n = strlen(name);

	if (n == 0)
		return verdict(v, 400,
		               "no file name: PUT %s<file> (curl -T FILE http://HOST:PORT%s)",
		               UPLOAD_PATH_PREFIX, UPLOAD_PATH_PREFIX);
	if (strchr(name, '/') != NULL)
		return verdict(v, 400, "\"%.200s\": the file name must be one path segment, no '/'",
		               name);
	if (name[0] == '.')
		return verdict(v, 400, "\"%.200s\": the file name must not start with '.'", name);
	if (n > UPLOAD_NAME_MAX)
		return verdict(v, 400, "the file name is %zu bytes long, at most %d", n,
		               UPLOAD_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return verdict(v, 400, "the file name holds a control character");
	if (!vw_name_matches(spec, name))
		return verdict(v, 400, "\"%s\" does not match the watch's glob \"%.200s\"", name,
		               spec->glob);
	v->status = 0;
	v->message[0] = '\0';
	return 0;
}

int upload_over_limit(int64_t received, int64_t max_bytes, struct upload_verdict *v)
{
	if (received <= max_bytes)
		return 0;
	verdict(v, 413,
	        "the upload is over the watch's limit of %" PRId64 " bytes (spec.upload.maxBytes)",
	        max_bytes);
	return 1;
}

int upload_check_request(const struct vw_spec *spec, const char *token, const char *method,
                         const char *path, const char *authorization, long long content_length,
                         const char **name, struct upload_verdict *v)
{
	*name = NULL;
	if (strcmp(method, "PUT") != 0)
		return verdict(v, 405, "method not allowed: files are uploaded with PUT %s<file>",
		               UPLOAD_PATH_PREFIX);
	*name = upload_path_name(path, v);
	if (*name == NULL)
		return -1;
	if (!upload_token_ok(token, authorization)) {
		*name = NULL;
		return verdict(v, 401,
		               "unauthorized: send the watch's upload token as "
		               "\"Authorization: Bearer TOKEN\"");
	}
	if (content_length > spec->upload.max_bytes) {
		*name = NULL;
		return verdict(v, 413,
		               "%lld bytes is over the watch's limit of %" PRId64
		               " bytes (spec.upload.maxBytes)",
		               content_length, spec->upload.max_bytes);
	}
	if (upload_check_name(spec, *name, v) != 0) {
		*name = NULL;
		return -1;
	}
	return 0;
}

int upload_temp_name(char *buf, size_t size, const char *name, uint64_t rnd)
{
	int n = snprintf(buf, size, ".upload-%.*s-%016" PRIx64, UPLOAD_NAME_MAX, name, rnd);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int upload_follow_url(char *buf, size_t size, const char *dashboard, const char *ns,
                      const char *job)
{
	int n;

	if (dashboard != NULL && dashboard[0] != '\0') {
		size_t len = strlen(dashboard);

		while (len > 0 && dashboard[len - 1] == '/')
			len--;
		n = snprintf(buf, size, "%.*s/#/videojobs/%s/%s", (int)len, dashboard, ns, job);
	} else {
		n = snprintf(buf, size, "/apis/sluice.dev/v1alpha1/namespaces/%s/videojobs/%s", ns,
		             job);
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

char *upload_response_json(const char *job, const char *ns, const char *file, const char *dashboard,
                           const char *pending)
{
	char url[2048];
	cJSON *o;
	char *text = NULL;

	if (upload_follow_url(url, sizeof(url), dashboard, ns, job) != 0)
		url[0] = '\0';
	o = cJSON_CreateObject();
	if (o != NULL && cJSON_AddStringToObject(o, "videoJob", job) != NULL &&
	    cJSON_AddStringToObject(o, "namespace", ns) != NULL &&
	    cJSON_AddStringToObject(o, "file", file) != NULL &&
	    cJSON_AddStringToObject(o, "url", url) != NULL &&
	    (pending == NULL || cJSON_AddStringToObject(o, "pending", pending) != NULL))
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

int upload_url(char *buf, size_t size, const char *host, int port)
{
	int n = strchr(host, ':') != NULL
	            ? snprintf(buf, size, "http://[%s]:%d/uploads", host, port)
	            : snprintf(buf, size, "http://%s:%d/uploads", host, port);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}
