/* dash_view.c -- list rows, details and samples of cached resources; see
 * dash_view.h. */
#include "dash_view.h"

#include "spec_defaults.h"

#include <stdio.h>
#include <string.h>

static const char *const plurals[DASH_KINDS] = {"videojobs", "telemetrywindows", "videowatches"};
static const char *const names[DASH_KINDS] = {"VideoJob", "TelemetryWindow", "VideoWatch"};

const char *dash_kind_plural(enum dash_kind k)
{
	return k < DASH_KINDS ? plurals[k] : "unknown";
}

const char *dash_kind_name(enum dash_kind k)
{
	return k < DASH_KINDS ? names[k] : "unknown";
}

static const cJSON *at(const cJSON *obj, const char *path)
{
	char part[64];

	while (obj != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');

		size_t n = dot != NULL ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, part) : NULL;
		path += n + (dot != NULL);
	}
	return obj;
}

const char *dash_json_str(const cJSON *obj, const char *path)
{
	const cJSON *v = at(obj, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double dash_json_num(const cJSON *obj, const char *path, double absent)
{
	const cJSON *v = at(obj, path);

	return cJSON_IsNumber(v) ? v->valuedouble : absent;
}

/* Copies the string at path into o as key, when there is one. */
static int copy_str(cJSON *o, const char *key, const cJSON *obj, const char *path)
{
	const char *s = dash_json_str(obj, path);

	return s == NULL || cJSON_AddStringToObject(o, key, s) != NULL ? 0 : -1;
}

static int copy_num(cJSON *o, const char *key, const cJSON *obj, const char *path)
{
	const cJSON *v = at(obj, path);

	return !cJSON_IsNumber(v) || cJSON_AddNumberToObject(o, key, v->valuedouble) != NULL ? 0
	                                                                                     : -1;
}

/* The condition of type t, or NULL. */
static const cJSON *condition(const cJSON *obj, const char *t)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, at(obj, "status.conditions"))
	{
		const char *ct = dash_json_str(c, "type");
		if (ct != NULL && strcmp(ct, t) == 0)
			return c;
	}
	return NULL;
}

static int add_ready(cJSON *o, const cJSON *obj)
{
	const cJSON *c = condition(obj, "Ready");
	cJSON *r;

	if (c == NULL)
		return 0;
	r = cJSON_AddObjectToObject(o, "ready");
	if (r == NULL || copy_str(r, "status", c, "status") < 0 ||
	    copy_str(r, "reason", c, "reason") < 0 || copy_str(r, "message", c, "message") < 0)
		return -1;
	return 0;
}

static int common(cJSON *o, const cJSON *obj)
{
	if (copy_str(o, "namespace", obj, "metadata.namespace") < 0 ||
	    copy_str(o, "name", obj, "metadata.name") < 0 ||
	    copy_str(o, "created", obj, "metadata.creationTimestamp") < 0 ||
	    copy_str(o, "phase", obj, "status.phase") < 0 || add_ready(o, obj) < 0)
		return -1;
	return 0;
}

/* status.<f> for each name in fs, as the same key. */
static int status_nums(cJSON *o, const cJSON *obj, const char *const *fs)
{
	char path[96];

	for (; *fs != NULL; fs++) {
		snprintf(path, sizeof(path), "status.%s", *fs);
		if (copy_num(o, *fs, obj, path) < 0)
			return -1;
	}
	return 0;
}

/* metadata.labels[label] (a key with dots, so not a path) as key. */
static int add_label(cJSON *o, const char *key, const cJSON *obj, const char *label)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(at(obj, "metadata.labels"), label);

	return !cJSON_IsString(v) || cJSON_AddStringToObject(o, key, v->valuestring) != NULL ? 0
	                                                                                     : -1;
}

static int vj_row(cJSON *o, const cJSON *obj)
{
	static const char *const nums[] = {
	    "segmentsDone", "segmentsTotal", "framesDone",      "framesTotal", "lag",
	    "lagSeconds",   "replicas",      "desiredReplicas", NULL};
	double done = dash_json_num(obj, "status.segmentsDone", -1);
	double total = dash_json_num(obj, "status.segmentsTotal", -1);
	const cJSON *failed = condition(obj, "Failed");
	const char *fs = failed != NULL ? dash_json_str(failed, "status") : NULL;

	if (status_nums(o, obj, nums) < 0 || copy_str(o, "progress", obj, "status.progress") < 0 ||
	    copy_str(o, "source", obj, "spec.source.uri") < 0 ||
	    copy_str(o, "output", obj, "spec.output.uri") < 0 ||
	    copy_str(o, "startTime", obj, "status.startTime") < 0 ||
	    copy_str(o, "completionTime", obj, "status.completionTime") < 0 ||
	    add_label(o, "videoWatch", obj, "sluice.dev/videowatch") < 0)
		return -1;
	if (done >= 0 && total > 0) {
		double pct = done >= total ? 100 : (double)(long long)(done * 100 / total);
		if (cJSON_AddNumberToObject(o, "percent", pct) == NULL)
			return -1;
	} else if (total == 0 && dash_json_str(obj, "status.phase") != NULL &&
	           strcmp(dash_json_str(obj, "status.phase"), "Succeeded") == 0) {
		if (cJSON_AddNumberToObject(o, "percent", 100) == NULL)
			return -1;
	}
	if (fs != NULL && strcmp(fs, "True") == 0 && copy_str(o, "failed", failed, "message") < 0)
		return -1;
	return 0;
}

static int tw_row(cJSON *o, const cJSON *obj)
{
	static const char *const nums[] = {
	    "lag",        "lagSeconds", "replicas",  "desiredReplicas", "eventsProcessed",
	    "duplicates", "late",       "malformed", "windowsEmitted",  NULL};
	static const char *const sinks[] = {"postgres", "redis", "influxdb", NULL};
	const cJSON *s = at(obj, "spec.sinks");
	cJSON *arr;

	if (status_nums(o, obj, nums) < 0 ||
	    copy_str(o, "lastWatermark", obj, "status.lastWatermark") < 0 ||
	    copy_str(o, "topic", obj, "spec.kafka.topic") < 0 ||
	    copy_str(o, "windowSize", obj, "spec.window.size") < 0)
		return -1;
	if (cJSON_AddStringToObject(o, "format",
	                            dash_json_str(obj, "spec.format") != NULL
	                                ? dash_json_str(obj, "spec.format")
	                                : "json") == NULL)
		return -1;
	arr = cJSON_AddArrayToObject(o, "sinks");
	if (arr == NULL)
		return -1;
	for (size_t i = 0; sinks[i] != NULL; i++) {
		cJSON *v;
		if (!cJSON_HasObjectItem(s, sinks[i]))
			continue;
		v = cJSON_CreateString(sinks[i]);
		if (v == NULL || !cJSON_AddItemToArray(arr, v)) {
			cJSON_Delete(v);
			return -1;
		}
	}
	return 0;
}

static int vw_row(cJSON *o, const cJSON *obj)
{
	static const char *const nums[] = {"active", "succeeded", "failed", NULL};
	static const char *const wnums[] = {"filesSeen", "jobsCreated", "filesRejected", NULL};
	static const char *const wstrs[] = {"lastFile",    "lastJob",   "lastScanTime",
	                                    "folderError", "uploadURL", NULL};
	char path[96];

	if (status_nums(o, obj, nums) < 0 || copy_str(o, "directory", obj, "spec.directory") < 0 ||
	    copy_str(o, "glob", obj, "spec.glob") < 0)
		return -1;
	if (cJSON_AddBoolToObject(o, "upload", cJSON_IsObject(at(obj, "spec.upload"))) == NULL)
		return -1;
	for (size_t i = 0; wnums[i] != NULL; i++) {
		snprintf(path, sizeof(path), "status.watcher.%s", wnums[i]);
		if (copy_num(o, wnums[i], obj, path) < 0)
			return -1;
	}
	for (size_t i = 0; wstrs[i] != NULL; i++) {
		snprintf(path, sizeof(path), "status.watcher.%s", wstrs[i]);
		if (copy_str(o, wstrs[i], obj, path) < 0)
			return -1;
	}
	return 0;
}

cJSON *dash_view_row(enum dash_kind k, const cJSON *obj)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o == NULL || common(o, obj) < 0)
		goto fail;
	switch (k) {
	case DASH_VJ:
		rc = vj_row(o, obj);
		break;
	case DASH_TW:
		rc = tw_row(o, obj);
		break;
	case DASH_VW:
		rc = vw_row(o, obj);
		break;
	default:
		rc = -1;
	}
	if (rc == 0)
		return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int copy_item(cJSON *o, const char *key, const cJSON *obj, const char *path)
{
	const cJSON *v = at(obj, path);
	cJSON *c;

	if (v == NULL)
		return 0;
	c = cJSON_Duplicate(v, 1);
	if (c == NULL || !cJSON_AddItemToObject(o, key, c)) {
		cJSON_Delete(c);
		return -1;
	}
	return 0;
}

cJSON *dash_view_detail(enum dash_kind k, const cJSON *obj)
{
	cJSON *o = dash_view_row(k, obj);

	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "kind", dash_kind_name(k)) == NULL ||
	    copy_item(o, "conditions", obj, "status.conditions") < 0 ||
	    copy_item(o, "spec", obj, "spec") < 0 ||
	    copy_item(o, "labels", obj, "metadata.labels") < 0 ||
	    copy_item(o, "annotations", obj, "metadata.annotations") < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void dash_view_sample(const cJSON *obj, struct dash_sample *s)
{
	s->replicas = (int32_t)dash_json_num(obj, "status.replicas", -1);
	s->desired = (int32_t)dash_json_num(obj, "status.desiredReplicas", -1);
	s->lag = (int64_t)dash_json_num(obj, "status.lag", -1);
}

cJSON *dash_view_effective_spec(const cJSON *spec, const struct dash_defaults *d)
{
	const struct spec_defaults sd = {
	    .kafka_bootstrap = d->kafka_bootstrap,
	    .kafka = d->kafka_security,
	    .redis_addr = d->redis_addr,
	    .postgres_secret = d->postgres_secret,
	};
	cJSON *empty = NULL, *out;

	/* A resource without a spec still gets the defaults. */
	if (!cJSON_IsObject(spec))
		spec = empty = cJSON_CreateObject();
	out = spec != NULL ? spec_defaults_apply(spec, &sd) : NULL;
	cJSON_Delete(empty);
	return out;
}

enum dash_redis_auth dash_view_redis_auth(const cJSON *spec, int has_password)
{
	const cJSON *sinks = cJSON_GetObjectItemCaseSensitive(spec, "sinks");

	if (!cJSON_IsObject(spec) || !cJSON_IsObject(sinks) || !cJSON_HasObjectItem(sinks, "redis"))
		return DASH_REDIS_AUTH_STATUS;
	return has_password ? DASH_REDIS_AUTH_SECRET : DASH_REDIS_AUTH_NONE;
}
