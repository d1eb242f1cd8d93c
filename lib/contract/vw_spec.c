/* vw_spec.c -- the VideoWatch spec. See vw_spec.h. */
#include "vw_spec.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_read.h"
#include "vj_spec.h"

#define DIR_MAX 1024
#define GLOB_MAX 256
#define WATCH_NAME_PART 16
#define STEM_PART 20
#define OUTPUT_URI_MAX 4096

/* A relative directory: no leading '/', no "." or ".." component, no empty
 * component (no "//"), no white space. "" is the mount itself. */
static int relative_dir_ok(const char *s)
{
	const char *p = s;

	if (s[0] == '/')
		return 0;
	while (*p != '\0') {
		const char *end = strchr(p, '/');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
				return 0;
		p += n;
		if (*p == '/')
			p++;
		if (end != NULL && *p == '\0')
			return 0; /* trailing '/' */
	}
	return 1;
}

static int parse_upload(struct spec_ctx *c, const cJSON *spec, struct vw_spec *out)
{
	static const char *const fields[] = {"token", "maxBytes", "port", NULL};
	const char *p = "spec.upload";
	const cJSON *u;
	long long max, port;
	int rc;

	if ((rc = spec_get_object(c, spec, "upload", "spec", 0, &u)) < 0 || u == NULL)
		return rc;
	out->upload.enabled = 1;
	if ((rc = spec_check_fields(c, u, p, fields)) < 0 ||
	    (rc = spec_get_secret_ref(c, u, "token", p, 1, "(a Secret holding the bearer token)",
	                              &out->upload.token.name, &out->upload.token.key)) < 0 ||
	    (rc = spec_get_int(c, u, "maxBytes", p, VW_UPLOAD_MAX_BYTES_DEFAULT, 1LL << 20,
	                       1LL << 40, &max)) < 0 ||
	    (rc = spec_get_int(c, u, "port", p, 8080, 1, 65535, &port)) < 0)
		return rc;
	out->upload.max_bytes = max;
	out->upload.port = (int)port;
	return 0;
}

static int parse_watcher(struct spec_ctx *c, const cJSON *spec, struct vw_spec *out)
{
	static const char *const fields[] = {
	    "image",       "imagePullPolicy", "resources", "nodeSelector",
	    "tolerations", "affinity",        NULL};
	const char *p = "spec.watcher";
	const cJSON *w, *pol;
	int rc;

	if ((rc = spec_get_object(c, spec, "watcher", "spec", 0, &w)) < 0 || w == NULL)
		return rc;
	if ((rc = spec_check_fields(c, w, p, fields)) < 0 ||
	    (rc = spec_check_pod_fields(c, w, p)) < 0)
		return rc;
	pol = spec_member(w, "imagePullPolicy");
	if (pol != NULL &&
	    (!cJSON_IsString(pol) || (strcmp(pol->valuestring, "Always") != 0 &&
	                              strcmp(pol->valuestring, "IfNotPresent") != 0 &&
	                              strcmp(pol->valuestring, "Never") != 0)))
		return spec_fail(c, "%s.imagePullPolicy: must be Always, IfNotPresent or Never", p);
	if (spec_member(w, "image") != NULL && !cJSON_IsString(spec_member(w, "image")))
		return spec_fail(c, "%s.image: must be a string", p);
	out->watcher = cJSON_Duplicate(w, 1);
	return out->watcher == NULL ? spec_nomem(c) : 0;
}

/* The template judged as the VideoJob it makes for an example file (by
 * vw_job_object, which asks vj_spec_parse); the message is moved under
 * spec.template. */
static int check_template(struct spec_ctx *c, const struct vw_spec *s)
{
	char why[512];
	const char *msg;
	cJSON *job = vw_job_object(s, "example.mp4", why, sizeof(why));

	if (job != NULL) {
		cJSON_Delete(job);
		return 0;
	}
	if (strcmp(why, "out of memory") == 0)
		return spec_nomem(c);
	/* "example.mp4: spec.output.uri: ..." -> "spec.template.output.uri: ..." */
	msg = strstr(why, "spec.");
	return spec_fail(c, "spec.template.%s", msg != NULL ? msg + 5 : why);
}

static int parse_template(struct spec_ctx *c, const cJSON *spec, struct vw_spec *out)
{
	const cJSON *t;
	int rc;

	if ((rc = spec_get_object(c, spec, "template", "spec", 1, &t)) < 0)
		return rc;
	if (spec_member(t, "source") != NULL)
		return spec_fail(c,
		                 "spec.template.source: set per file by the watch; leave it out");
	if (spec_member(t, "volume") != NULL)
		return spec_fail(c, "spec.template.volume: the watch's spec.volume is used; leave "
		                    "it out");
	out->template = cJSON_Duplicate(t, 1);
	return out->template == NULL ? spec_nomem(c) : 0;
}

static int parse_top(struct spec_ctx *c, const cJSON *spec, struct vw_spec *out)
{
	const cJSON *v, *m;
	long long settle, rescan, ok_hist, failed_hist;
	int rc;

	if ((rc = spec_get_object(c, spec, "volume", "spec", 1, &v)) < 0)
		return rc;
	m = spec_member(v, "mountPath");
	if (m == NULL || !cJSON_IsString(m))
		return spec_fail(c, "spec.volume.mountPath: required");
	if (!spec_abs_path_ok(m->valuestring) || strcmp(m->valuestring, "/") == 0)
		return spec_fail(c, "spec.volume.mountPath: \"%s\" is not an absolute path below /",
		                 m->valuestring);
	if ((rc = spec_dup(c, &out->mount_path, m->valuestring)) < 0)
		return rc;
	out->volume = cJSON_Duplicate(v, 1);
	if (out->volume == NULL)
		return spec_nomem(c);
	if ((rc = spec_get_string(c, spec, "directory", "spec", 0, "", DIR_MAX, &out->directory)) <
	        0 ||
	    (rc = spec_get_string(c, spec, "glob", "spec", 0, "*", GLOB_MAX, &out->glob)) < 0)
		return rc;
	if (!relative_dir_ok(out->directory))
		return spec_fail(c,
		                 "spec.directory: \"%s\" must be a path relative to "
		                 "spec.volume.mountPath, without \".\", \"..\" or empty parts",
		                 out->directory);
	if (strchr(out->glob, '/') != NULL)
		return spec_fail(c, "spec.glob: \"%s\" matches file names, it cannot hold '/'",
		                 out->glob);
	if ((rc = spec_get_int(c, spec, "settleSeconds", "spec", 10, 0, 86400, &settle)) < 0 ||
	    (rc = spec_get_int(c, spec, "rescanSeconds", "spec", 30, 1, 3600, &rescan)) < 0 ||
	    (rc = spec_get_int(c, spec, "successfulJobsHistoryLimit", "spec", 3, 0, 1000,
	                       &ok_hist)) < 0 ||
	    (rc = spec_get_int(c, spec, "failedJobsHistoryLimit", "spec", 1, 0, 1000,
	                       &failed_hist)) < 0)
		return rc;
	out->settle_seconds = (int)settle;
	out->rescan_seconds = (int)rescan;
	out->successful_history = (int)ok_hist;
	out->failed_history = (int)failed_hist;
	return 0;
}

int vw_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct vw_spec *out,
                  char *errbuf, size_t errbuf_size)
{
	static const char *const fields[] = {"volume",
	                                     "directory",
	                                     "glob",
	                                     "settleSeconds",
	                                     "rescanSeconds",
	                                     "successfulJobsHistoryLimit",
	                                     "failedJobsHistoryLimit",
	                                     "upload",
	                                     "template",
	                                     "watcher",
	                                     NULL};
	struct spec_ctx c = {errbuf, errbuf_size};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_identity(&c, name, namespace, spec, &out->name, &out->namespace)) == 0 &&
	    (rc = spec_check_fields(&c, spec, "spec", fields)) == 0 &&
	    (rc = parse_top(&c, spec, out)) == 0 && (rc = parse_upload(&c, spec, out)) == 0 &&
	    (rc = parse_watcher(&c, spec, out)) == 0 && (rc = parse_template(&c, spec, out)) == 0)
		rc = check_template(&c, out);
	if (rc < 0)
		vw_spec_free(out);
	return rc;
}

int vw_spec_parse_document(const cJSON *doc, struct vw_spec *out, char *errbuf, size_t errbuf_size)
{
	struct spec_ctx c = {errbuf, errbuf_size};
	const cJSON *spec, *uid;
	const char *name, *ns;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_document(&c, doc, "VideoWatch", &spec, &name, &ns)) < 0 ||
	    (rc = vw_spec_parse(spec, name, ns, out, errbuf, errbuf_size)) < 0)
		return rc;
	uid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "metadata"),
	                                       "uid");
	if (cJSON_IsString(uid) && uid->valuestring[0] != '\0' &&
	    (rc = spec_dup(&c, &out->uid, uid->valuestring)) < 0)
		vw_spec_free(out);
	return rc;
}

int vw_spec_load_file(const char *path, struct vw_spec *out, char *errbuf, size_t errbuf_size)
{
	struct spec_ctx c = {errbuf, errbuf_size};
	char why[512];
	cJSON *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_load_document(&c, path, VW_SPEC_FILE_MAX, &doc)) < 0)
		return rc;
	rc = vw_spec_parse_document(doc, out, why, sizeof(why));
	cJSON_Delete(doc);
	if (rc < 0)
		snprintf(errbuf, errbuf_size, "%s: %s", path, why);
	return rc;
}

void vw_spec_free(struct vw_spec *s)
{
	free(s->name);
	free(s->namespace);
	free(s->uid);
	free(s->mount_path);
	free(s->directory);
	free(s->glob);
	spec_secret_ref_free(&s->upload.token);
	cJSON_Delete(s->volume);
	cJSON_Delete(s->template);
	cJSON_Delete(s->watcher);
	memset(s, 0, sizeof(*s));
}

int vw_spec_dir_path(const struct vw_spec *s, char *buf, size_t size)
{
	size_t n = strlen(s->mount_path);
	int w;

	while (n > 1 && s->mount_path[n - 1] == '/')
		n--;
	w = s->directory[0] == '\0'
	        ? snprintf(buf, size, "%.*s", (int)n, s->mount_path)
	        : snprintf(buf, size, "%.*s/%s", (int)n, s->mount_path, s->directory);
	return w < 0 || (size_t)w >= size ? -1 : 0;
}

int vw_name_matches(const struct vw_spec *s, const char *file)
{
	return file[0] != '\0' && file[0] != '.' && strchr(file, '/') == NULL &&
	       fnmatch(s->glob, file, FNM_PERIOD) == 0;
}

/* FNV-1a, 32 bits: stable across builds and machines, which is all a name
 * needs (not a defence against chosen collisions: the marker and the
 * annotation say which file a job is for). */
static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* Appends s reduced to [a-z0-9-] (upper case folded, runs of anything else
 * as one '-', no '-' at either end) to out (at n), at most max characters.
 * Returns the new length. */
static size_t append_dns_part(char *out, size_t n, const char *s, size_t len, size_t max)
{
	size_t start = n, i;
	int dash = 0;

	for (i = 0; i < len && n - start < max; i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (dash && n > start)
				out[n++] = '-';
			if (n - start < max)
				out[n++] = ch;
			dash = 0;
		} else {
			dash = 1;
		}
	}
	while (n > start && out[n - 1] == '-')
		n--;
	return n;
}

int vw_job_name(const char *watch, const char *file, char *buf, size_t size)
{
	char name[WATCH_NAME_PART + STEM_PART + 16];
	const char *dot = strrchr(file, '.');
	size_t stem_len = dot != NULL && dot != file ? (size_t)(dot - file) : strlen(file);
	uint32_t h = fnv1a(fnv1a(2166136261u, watch), "/");
	size_t n;

	h = fnv1a(h, file);
	n = append_dns_part(name, 0, watch, strlen(watch), WATCH_NAME_PART);
	if (n > 0)
		name[n++] = '-';
	n = append_dns_part(name, n, file, stem_len, STEM_PART);
	if (n > 0 && name[n - 1] != '-')
		name[n++] = '-';
	snprintf(name + n, sizeof(name) - n, "%08x", h);
	if (strlen(name) + 1 > size)
		return -1;
	memcpy(buf, name, strlen(name) + 1);
	return 0;
}

/* output.uri with {stem}, {name} and {ext} filled in for file. */
static int fill_output(const char *pattern, const char *file, char *out, size_t size)
{
	const char *dot = strrchr(file, '.');
	size_t stem_len = dot != NULL && dot != file ? (size_t)(dot - file) : strlen(file);
	const char *ext = dot != NULL && dot != file ? dot + 1 : "";
	size_t n = 0;

	for (const char *p = pattern; *p != '\0';) {
		const char *val = NULL;
		size_t vlen = 0, skip = 1;

		if (strncmp(p, "{stem}", 6) == 0) {
			val = file, vlen = stem_len, skip = 6;
		} else if (strncmp(p, "{name}", 6) == 0) {
			val = file, vlen = strlen(file), skip = 6;
		} else if (strncmp(p, "{ext}", 5) == 0) {
			val = ext, vlen = strlen(ext), skip = 5;
		} else {
			val = p, vlen = 1;
		}
		if (n + vlen + 1 > size)
			return -1;
		memcpy(out + n, val, vlen);
		n += vlen;
		p += skip;
	}
	out[n] = '\0';
	return 0;
}

/* Sets obj.name to a new string, replacing what was there. */
static int set_string(cJSON *obj, const char *name, const char *value)
{
	cJSON *s = cJSON_CreateString(value);

	if (s == NULL)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(obj, name) != NULL)
		return cJSON_ReplaceItemInObjectCaseSensitive(obj, name, s) ? 0 : -1;
	return cJSON_AddItemToObject(obj, name, s) ? 0 : -1;
}

static cJSON *job_metadata(const struct vw_spec *s, const char *file, const char *name)
{
	cJSON *meta = cJSON_CreateObject(), *labels, *ann, *owners, *o;

	if (meta == NULL || cJSON_AddStringToObject(meta, "name", name) == NULL ||
	    cJSON_AddStringToObject(meta, "namespace", s->namespace) == NULL ||
	    (labels = cJSON_AddObjectToObject(meta, "labels")) == NULL ||
	    cJSON_AddStringToObject(labels, VW_LABEL_WATCH, s->name) == NULL ||
	    (ann = cJSON_AddObjectToObject(meta, "annotations")) == NULL ||
	    cJSON_AddStringToObject(ann, VW_ANNOTATION_FILE, file) == NULL)
		goto fail;
	/* No blockOwnerDeletion: where the API server enforces owner references
	 * it would need update on videowatches/finalizers, which the watcher's
	 * Role does not grant; the garbage collector deletes the jobs either way. */
	if (s->uid != NULL) {
		if ((owners = cJSON_AddArrayToObject(meta, "ownerReferences")) == NULL ||
		    (o = cJSON_CreateObject()) == NULL)
			goto fail;
		cJSON_AddItemToArray(owners, o);
		if (cJSON_AddStringToObject(o, "apiVersion", "sluice.dev/v1alpha1") == NULL ||
		    cJSON_AddStringToObject(o, "kind", "VideoWatch") == NULL ||
		    cJSON_AddStringToObject(o, "name", s->name) == NULL ||
		    cJSON_AddStringToObject(o, "uid", s->uid) == NULL ||
		    cJSON_AddTrueToObject(o, "controller") == NULL)
			goto fail;
	}
	return meta;
fail:
	cJSON_Delete(meta);
	return NULL;
}

/* Whether the job is one the operator accepts (vj_spec_parse, the
 * VideoJob's own judge) and its output would not be taken as a new file of
 * the watch (a loop). Returns 0, or -1 with "<file>: <why>" in errbuf. */
static int judge_job(const struct vw_spec *s, const cJSON *job, const char *file, const char *name,
                     const char *dir, char *errbuf, size_t errbuf_size)
{
	struct vj_spec vs;
	char why[512];
	const char *out, *slash;
	int rc;

	rc = vj_spec_parse(cJSON_GetObjectItemCaseSensitive(job, "spec"), name, s->namespace, &vs,
	                   why, sizeof(why));
	if (rc == VJ_SPEC_E_NOMEM) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	if (rc < 0) {
		snprintf(errbuf, errbuf_size, "%s: %s", file, why);
		return -1;
	}
	out = vj_spec_file_path(vs.output_uri);
	slash = out != NULL ? strrchr(out, '/') : NULL;
	rc = slash != NULL && (size_t)(slash - out) == strlen(dir) &&
	     strncmp(out, dir, strlen(dir)) == 0 && vw_name_matches(s, slash + 1);
	if (rc)
		snprintf(errbuf, errbuf_size,
		         "%s: spec.output.uri: \"%s\" is in the watched folder and matches "
		         "spec.glob, so the output would be taken as a new file",
		         file, vs.output_uri);
	vj_spec_free(&vs);
	return rc ? -1 : 0;
}

cJSON *vw_job_object(const struct vw_spec *s, const char *file, char *errbuf, size_t errbuf_size)
{
	char name[64], dir[DIR_MAX + 1024], uri[OUTPUT_URI_MAX], out_uri[OUTPUT_URI_MAX];
	cJSON *job = NULL, *spec, *meta, *src, *output, *out_node;

	if (!vw_name_matches(s, file)) {
		snprintf(errbuf, errbuf_size, "%s: not a name the watch takes (glob \"%s\")", file,
		         s->glob);
		return NULL;
	}
	if (vw_job_name(s->name, file, name, sizeof(name)) != 0 ||
	    vw_spec_dir_path(s, dir, sizeof(dir)) != 0 ||
	    snprintf(uri, sizeof(uri), "file://%s/%s", dir, file) >= (int)sizeof(uri)) {
		snprintf(errbuf, errbuf_size, "%s: the file's path is too long", file);
		return NULL;
	}
	output = cJSON_GetObjectItemCaseSensitive(s->template, "output");
	out_node = cJSON_GetObjectItemCaseSensitive(output, "uri");
	if (cJSON_IsString(out_node) &&
	    fill_output(out_node->valuestring, file, out_uri, sizeof(out_uri)) != 0) {
		snprintf(errbuf, errbuf_size, "%s: spec.template.output.uri is too long for it",
		         file);
		return NULL;
	}
	if ((job = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(job, "apiVersion", "sluice.dev/v1alpha1") == NULL ||
	    cJSON_AddStringToObject(job, "kind", "VideoJob") == NULL ||
	    (meta = job_metadata(s, file, name)) == NULL)
		goto nomem;
	cJSON_AddItemToObject(job, "metadata", meta);
	if ((spec = cJSON_Duplicate(s->template, 1)) == NULL)
		goto nomem;
	cJSON_AddItemToObject(job, "spec", spec);
	if ((src = cJSON_AddObjectToObject(spec, "source")) == NULL ||
	    set_string(src, "uri", uri) != 0 ||
	    !cJSON_AddItemToObject(spec, "volume", cJSON_Duplicate(s->volume, 1)))
		goto nomem;
	output = cJSON_GetObjectItemCaseSensitive(spec, "output");
	if (cJSON_IsString(out_node) && set_string(output, "uri", out_uri) != 0)
		goto nomem;
	if (judge_job(s, job, file, name, dir, errbuf, errbuf_size) != 0) {
		cJSON_Delete(job);
		return NULL;
	}
	return job;
nomem:
	cJSON_Delete(job);
	snprintf(errbuf, errbuf_size, "out of memory");
	return NULL;
}
