/* vj_task.c -- the segment task message; see vj_task.h. */
#include "vj_task.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* JSON numbers are doubles: integers beyond 2^53 would lose digits, so
 * pts values travel as numbers only within that range (every real one is). */
#define EXACT_MAX 9007199254740992.0

char *vj_task_encode(const struct vj_task *t)
{
	cJSON *o = cJSON_CreateObject(), *tb;
	char *text = NULL;

	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "v", VJ_TASK_VERSION) != NULL &&
	    cJSON_AddStringToObject(o, "job", t->job) != NULL &&
	    cJSON_AddStringToObject(o, "source", t->source) != NULL &&
	    cJSON_AddNumberToObject(o, "segment", t->segment) != NULL &&
	    cJSON_AddNumberToObject(o, "segments", t->segments) != NULL &&
	    cJSON_AddNumberToObject(o, "stream", t->stream) != NULL &&
	    (tb = cJSON_AddArrayToObject(o, "time_base")) != NULL &&
	    cJSON_AddItemToArray(tb, cJSON_CreateNumber(t->tb_num)) &&
	    cJSON_AddItemToArray(tb, cJSON_CreateNumber(t->tb_den)) &&
	    cJSON_AddNumberToObject(o, "start_pts", (double)t->start_pts) != NULL &&
	    cJSON_AddNumberToObject(o, "end_pts", (double)t->end_pts) != NULL &&
	    cJSON_AddNumberToObject(o, "start_ms", (double)t->start_ms) != NULL &&
	    cJSON_AddNumberToObject(o, "end_ms", (double)t->end_ms) != NULL &&
	    cJSON_AddNumberToObject(o, "frames", (double)t->frames) != NULL &&
	    cJSON_AddStringToObject(o, "output", t->output) != NULL)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

int vj_task_key(const struct vj_task *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%" PRId32, t->segment);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

__attribute__((format(printf, 3, 4))) static int fail(char *errbuf, size_t size, const char *fmt,
                                                      ...)
{
	va_list ap;
	int n = snprintf(errbuf, size, "task: ");

	if (n < 0 || (size_t)n >= size)
		return -1;
	va_start(ap, fmt);
	vsnprintf(errbuf + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int get_int(const cJSON *o, const char *name, int required, int64_t def, int64_t *out,
                   char *errbuf, size_t size)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	double v;

	if (it == NULL) {
		if (required)
			return fail(errbuf, size, "%s: required", name);
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(it))
		return fail(errbuf, size, "%s: must be an integer", name);
	v = it->valuedouble;
	if (!isfinite(v) || v != floor(v) || fabs(v) > EXACT_MAX)
		return fail(errbuf, size, "%s: %g is not an integer", name, v);
	*out = (int64_t)v;
	return 0;
}

static int get_int32(const cJSON *o, const char *name, int32_t *out, char *errbuf, size_t size)
{
	int64_t v;

	if (get_int(o, name, 1, 0, &v, errbuf, size) < 0)
		return -1;
	if (v < INT32_MIN || v > INT32_MAX)
		return fail(errbuf, size, "%s: %" PRId64 " is out of range", name, v);
	*out = (int32_t)v;
	return 0;
}

static int get_str(const cJSON *o, const char *name, char *out, size_t max, char *errbuf,
                   size_t size)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t n;

	if (it == NULL)
		return fail(errbuf, size, "%s: required", name);
	if (!cJSON_IsString(it))
		return fail(errbuf, size, "%s: must be a string", name);
	n = strlen(it->valuestring);
	if (n == 0)
		return fail(errbuf, size, "%s: must not be empty", name);
	if (n > max)
		return fail(errbuf, size, "%s: longer than %zu bytes", name, max);
	memcpy(out, it->valuestring, n + 1);
	return 0;
}

static int check(const struct vj_task *t, char *errbuf, size_t size)
{
	if (t->segments < 1)
		return fail(errbuf, size, "segments: %" PRId32 " is below 1", t->segments);
	if (t->segment < 0 || t->segment >= t->segments)
		return fail(errbuf, size, "segment: %" PRId32 " is not in 0..%" PRId32, t->segment,
		            t->segments - 1);
	if (t->stream < 0)
		return fail(errbuf, size, "stream: %" PRId32 " is negative", t->stream);
	if (t->tb_num <= 0 || t->tb_den <= 0)
		return fail(errbuf, size, "time_base: %" PRId32 "/%" PRId32 " is not positive",
		            t->tb_num, t->tb_den);
	if (t->start_pts >= t->end_pts)
		return fail(errbuf, size, "end_pts: %" PRId64 " is not above start_pts: %" PRId64,
		            t->end_pts, t->start_pts);
	if (t->start_ms > t->end_ms)
		return fail(errbuf, size, "end_ms: %" PRId64 " is below start_ms: %" PRId64,
		            t->end_ms, t->start_ms);
	if (t->frames < -1)
		return fail(errbuf, size, "frames: %" PRId64 " is below -1", t->frames);
	if (strchr(t->job, '/') == NULL)
		return fail(errbuf, size, "job: \"%s\" is not <namespace>/<name>", t->job);
	return 0;
}

int vj_task_decode(const char *data, size_t len, struct vj_task *out, char *errbuf,
                   size_t errbuf_size)
{
	cJSON *o;
	const cJSON *tb;
	int64_t v = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > VJ_TASK_MSG_MAX)
		return fail(errbuf, errbuf_size, "%zu bytes, the most is %d", len, VJ_TASK_MSG_MAX);
	o = cJSON_ParseWithLength(data, len);
	if (o == NULL)
		return fail(errbuf, errbuf_size, "not valid JSON");
	if (!cJSON_IsObject(o)) {
		fail(errbuf, errbuf_size, "must be a JSON object");
		goto out;
	}
	if (get_int(o, "v", 1, 0, &v, errbuf, errbuf_size) < 0)
		goto out;
	if (v != VJ_TASK_VERSION) {
		fail(errbuf, errbuf_size, "v: version %" PRId64 " is not %d", v, VJ_TASK_VERSION);
		goto out;
	}
	tb = cJSON_GetObjectItemCaseSensitive(o, "time_base");
	if (!cJSON_IsArray(tb) || cJSON_GetArraySize(tb) != 2 ||
	    !cJSON_IsNumber(cJSON_GetArrayItem(tb, 0)) ||
	    !cJSON_IsNumber(cJSON_GetArrayItem(tb, 1))) {
		fail(errbuf, errbuf_size, "time_base: must be [num, den]");
		goto out;
	}
	{
		double num = cJSON_GetArrayItem(tb, 0)->valuedouble;
		double den = cJSON_GetArrayItem(tb, 1)->valuedouble;

		if (!(num >= 1 && num <= INT32_MAX && den >= 1 && den <= INT32_MAX) ||
		    num != floor(num) || den != floor(den)) {
			fail(errbuf, errbuf_size, "time_base: must be two positive integers");
			goto out;
		}
		out->tb_num = (int32_t)num;
		out->tb_den = (int32_t)den;
	}
	if (get_str(o, "job", out->job, VJ_TASK_JOB_MAX, errbuf, errbuf_size) < 0 ||
	    get_str(o, "source", out->source, VJ_TASK_URI_MAX, errbuf, errbuf_size) < 0 ||
	    get_str(o, "output", out->output, VJ_TASK_URI_MAX, errbuf, errbuf_size) < 0 ||
	    get_int32(o, "segment", &out->segment, errbuf, errbuf_size) < 0 ||
	    get_int32(o, "segments", &out->segments, errbuf, errbuf_size) < 0 ||
	    get_int32(o, "stream", &out->stream, errbuf, errbuf_size) < 0 ||
	    get_int(o, "start_pts", 1, 0, &out->start_pts, errbuf, errbuf_size) < 0 ||
	    get_int(o, "end_pts", 1, 0, &out->end_pts, errbuf, errbuf_size) < 0 ||
	    get_int(o, "start_ms", 1, 0, &out->start_ms, errbuf, errbuf_size) < 0 ||
	    get_int(o, "end_ms", 1, 0, &out->end_ms, errbuf, errbuf_size) < 0 ||
	    get_int(o, "frames", 0, -1, &out->frames, errbuf, errbuf_size) < 0)
		goto out;
	rc = check(out, errbuf, errbuf_size);
out:
	cJSON_Delete(o);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int vj_task_segment_dir_uri(const char *output_uri, char *out, size_t size)
{
	const char *path, *slash;
	int n;

	if (output_uri == NULL || strncmp(output_uri, "file:///", 8) != 0)
		return -1;
	path = output_uri + 7;
	slash = strrchr(path, '/');
	if (slash[1] == '\0')
		return -1; /* a directory, not a file */
	n = snprintf(out, size, "file://%.*s/.%s.segments", (int)(slash - path), path, slash + 1);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int vj_task_segment_uri(const char *output_uri, int32_t idx, char *out, size_t size)
{
	size_t n;
	int m;

	if (idx < 0 || vj_task_segment_dir_uri(output_uri, out, size) < 0)
		return -1;
	n = strlen(out);
	m = snprintf(out + n, size - n, "/seg-%05" PRId32 ".mp4", idx);
	return m < 0 || (size_t)m >= size - n ? -1 : 0;
}
