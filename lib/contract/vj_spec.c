/* vj_spec.c -- VideoJob spec: parse, default, validate; see vj_spec.h.
 *
 * The same shape as tw_spec.c: every check reports "<field path>: <what is
 * wrong>", with the path as the user wrote it in the manifest, so
 * `kubectl apply` users and config-file users read the same messages.
 */
#include "vj_spec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_common.h"
#include "spec_read.h"
#include "yaml_json.h"

/* The shared readers' codes are returned as they are. */
_Static_assert((int)VJ_SPEC_E_INVALID == (int)SPEC_E_INVALID &&
                   (int)VJ_SPEC_E_NOMEM == (int)SPEC_E_NOMEM && (int)VJ_SPEC_E_IO == (int)SPEC_E_IO,
               "spec_read.h and vj_spec.h disagree on error codes");

#define URI_MAX 2048
#define FILTERS_MAX 4096

#define DEFAULT_SEGMENT_SECONDS 2
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_CRF 23
#define DEFAULT_MIN_REPLICAS 0
#define DEFAULT_MAX_REPLICAS 4
#define DEFAULT_LAG_THRESHOLD 2

static int one_of(const char *s, const char *const *choices)
{
	for (size_t i = 0; choices[i] != NULL; i++)
		if (strcmp(s, choices[i]) == 0)
			return 1;
	return 0;
}

/* "a, b, c" for messages. */
static const char *choices_text(char *buf, size_t size, const char *const *choices)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; choices[i] != NULL && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i > 0 ? ", " : "", choices[i]);
	return buf;
}

/* A string at obj.name that must be one of choices; def when absent. */
static int get_enum(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                    const char *def, const char *const *choices, char **out)
{
	char list[256];
	int rc;

	if ((rc = spec_get_string(c, obj, name, path, 0, def, SPEC_TEXT_MAX, out)) < 0)
		return rc;
	if (*out != NULL && !one_of(*out, choices))
		return spec_fail(c, "%s.%s: \"%s\" is not one of %s", path, name, *out,
		                 choices_text(list, sizeof(list), choices));
	return 0;
}

/* No user:password@ in a URL's authority: credentials belong in Secrets. */
const char *vj_spec_file_path(const char *uri)
{
	if (uri == NULL || strncmp(uri, "file://", 7) != 0 || uri[7] != '/')
		return NULL;
	return uri + 7;
}

int vj_spec_codec_nvenc(const char *codec)
{
	return codec != NULL &&
	       (strcmp(codec, "h264_nvenc") == 0 || strcmp(codec, "hevc_nvenc") == 0);
}

int vj_spec_job_id(const struct vj_spec *spec, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", spec->namespace, spec->name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- sections ------------------------------------------------------- */

static int parse_uri(struct spec_ctx *c, const cJSON *spec, const char *section, int http_ok,
                     char **out)
{
	static const char *const fields[] = {"uri", NULL};
	const cJSON *o;
	char p[SPEC_PATH_MAX];
	int rc;

	snprintf(p, sizeof(p), "spec.%s", section);
	if ((rc = spec_get_object(c, spec, section, "spec", 1, &o)) < 0 ||
	    (rc = spec_check_fields(c, o, p, fields)) < 0 ||
	    (rc = spec_get_string(c, o, "uri", p, 1, NULL, URI_MAX, out)) < 0)
		return rc;
	if (!spec_no_blank(*out))
		return spec_fail(c, "%s.uri: \"%s\" has white space", p, *out);
	if (vj_spec_file_path(*out) != NULL && (*out)[8] != '\0')
		return 0;
	if (http_ok && (strncmp(*out, "http://", 7) == 0 || strncmp(*out, "https://", 8) == 0)) {
		const char *host = strstr(*out, "://") + 3;

		if (spec_url_has_userinfo(*out))
			return spec_fail(
			    c, "%s.uri: credentials in the URL are not allowed (user:password@)",
			    p);
		if (host[0] == '\0' || host[0] == '/' || strchr(host, '/') == NULL)
			return spec_fail(c, "%s.uri: \"%s\" has no host/path", p, *out);
		return 0;
	}
	return spec_fail(c, "%s.uri: \"%s\" is not %s", p, *out,
	                 http_ok ? "file:///path, http://host/path or https://host/path"
	                         : "file:///path");
}

static int parse_analysis(struct spec_ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const names[] = {"meanLuma", "motion", "sceneScore", NULL};
	const cJSON *a = spec_member(spec, "analysis"), *it;
	char list[128];
	int i = 0;

	if (a == NULL) {
		out->analysis = VJ_ANALYSIS_ALL;
		return 0;
	}
	if (!cJSON_IsArray(a))
		return spec_fail(c, "spec.analysis: must be a list of strings");
	cJSON_ArrayForEach(it, a)
	{
		unsigned bit = 0;

		if (!cJSON_IsString(it))
			return spec_fail(c, "spec.analysis[%d]: must be a string", i);
		for (unsigned k = 0; names[k] != NULL; k++)
			if (strcmp(it->valuestring, names[k]) == 0)
				bit = 1u << k;
		if (bit == 0)
			return spec_fail(c, "spec.analysis[%d]: \"%s\" is not one of %s", i,
			                 it->valuestring, choices_text(list, sizeof(list), names));
		if (out->analysis & bit)
			return spec_fail(c, "spec.analysis[%d]: \"%s\" is listed twice", i,
			                 it->valuestring);
		out->analysis |= bit;
		i++;
	}
	return 0;
}

static int parse_encoder(struct spec_ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {"codec", "crf", "preset", NULL};
	static const char *const codecs[] = {"libx264",    "libx265",    "libvpx-vp9", "mpeg4",
	                                     "h264_nvenc", "hevc_nvenc", NULL};
	static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",
	                                      "fast",      "medium",    "slow",     "slower",
	                                      "veryslow",  NULL};
	const char *p = "spec.encoder";
	const cJSON *e;
	long long crf;
	int rc;

	if ((rc = spec_get_object(c, spec, "encoder", "spec", 0, &e)) < 0 ||
	    (e != NULL && (rc = spec_check_fields(c, e, p, fields)) < 0) ||
	    (rc = get_enum(c, e, "codec", p, "libx264", codecs, &out->encoder.codec)) < 0 ||
	    (rc = spec_get_int(c, e, "crf", p, DEFAULT_CRF, 0, 51, &crf)) < 0 ||
	    (rc = get_enum(c, e, "preset", p, "medium", presets, &out->encoder.preset)) < 0)
		return rc;
	out->encoder.crf = (int)crf;
	return 0;
}

static int parse_kafka(struct spec_ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {"bootstrap", "topic", "replicationFactor",
	                                     "tls",       "sasl",  NULL};
	const char *p = "spec.kafka";
	const cJSON *k;
	char def[SPEC_NAME_MAX + SPEC_NAMESPACE_MAX + 16];
	int rc;

	if ((rc = spec_get_object(c, spec, "kafka", "spec", 1, &k)) < 0 ||
	    (rc = spec_check_fields(c, k, p, fields)) < 0 ||
	    (rc = spec_get_bootstrap(c, k, &out->kafka.bootstrap)) < 0 ||
	    (rc = spec_get_kafka_security(c, k, &out->kafka)) < 0 ||
	    (rc = spec_get_kafka_topics(c, k, 0, &out->kafka)) < 0)
		return rc;
	snprintf(def, sizeof(def), "sluice-vj-%s-%s", out->namespace, out->name);
	/* The dead-letter topic adds ".dlq": keep room for it. */
	if ((rc = spec_get_string(c, k, "topic", p, 0, def, SPEC_TEXT_MAX, &out->kafka.topic)) <
	        0 ||
	    (rc = spec_dup(c, &out->kafka.group, def)) < 0 ||
	    (rc = spec_check_topic(c, p, "topic", out->kafka.topic, SPEC_TOPIC_MAX - 4,
	                           spec_member(k, "topic") == NULL
	                               ? "; the name is too long for the default, set "
	                                 "spec.kafka.topic"
	                               : NULL)) < 0)
		return rc;
	snprintf(def, sizeof(def), "%s.dlq", out->kafka.topic);
	return spec_dup(c, &out->kafka.dead_letter_topic, def);
}

/* spec.volume: mountPath, optional readOnly and subPath, and one
 * Kubernetes volume source (persistentVolumeClaim, hostPath, nfs, ...),
 * whose own fields the API server checks. file:// URIs must then name
 * paths under the mount, which every pod of the job has. */
static int parse_volume(struct spec_ctx *c, const cJSON *spec, struct vj_spec *out)
{
	const char *p = "spec.volume";
	const cJSON *v, *it, *ro, *sub;
	const char *source = NULL;
	int rc;

	if ((rc = spec_get_object(c, spec, "volume", "spec", 0, &v)) < 0 || v == NULL)
		return rc;
	for (it = v->child; it != NULL; it = it->next) {
		if (strcmp(it->string, "mountPath") == 0 || strcmp(it->string, "readOnly") == 0 ||
		    strcmp(it->string, "subPath") == 0)
			continue;
		if (source != NULL)
			return spec_fail(c, "%s: one volume source, not both %s and %s", p, source,
			                 it->string);
		if (!cJSON_IsObject(it))
			return spec_fail(c, "%s.%s: must be an object (a volume source)", p,
			                 it->string);
		source = it->string;
	}
	if (source == NULL)
		return spec_fail(c,
		                 "%s: needs a volume source (persistentVolumeClaim, hostPath, "
		                 "nfs, ...)",
		                 p);
	if ((rc = spec_get_string(c, v, "mountPath", p, 1, NULL, URI_MAX,
	                          &out->volume_mount_path)) < 0)
		return rc;
	if (!spec_abs_path_ok(out->volume_mount_path) || strcmp(out->volume_mount_path, "/") == 0)
		return spec_fail(c, "%s.mountPath: \"%s\" is not an absolute path below /", p,
		                 out->volume_mount_path);
	ro = spec_member(v, "readOnly");
	if (ro != NULL && !cJSON_IsBool(ro))
		return spec_fail(c, "%s.readOnly: must be true or false", p);
	if (cJSON_IsTrue(ro))
		return spec_fail(c,
		                 "%s.readOnly: the workers write their segments and the output "
		                 "there; it cannot be read-only",
		                 p);
	sub = spec_member(v, "subPath");
	if (sub != NULL && (!cJSON_IsString(sub) || sub->valuestring[0] == '/' ||
	                    strstr(sub->valuestring, "..") != NULL))
		return spec_fail(c, "%s.subPath: must be a relative path without \"..\"", p);
	/* Both URIs must be on the volume when they are files. */
	const char *uris[][2] = {{"spec.source.uri", out->source_uri},
	                         {"spec.output.uri", out->output_uri}};
	size_t n = strlen(out->volume_mount_path);
	for (size_t i = 0; i < 2; i++) {
		const char *path = vj_spec_file_path(uris[i][1]);

		if (path != NULL && (strncmp(path, out->volume_mount_path, n) != 0 ||
		                     (path[n] != '/' && out->volume_mount_path[n - 1] != '/')))
			return spec_fail(c, "%s: \"%s\" is not under spec.volume.mountPath %s",
			                 uris[i][0], uris[i][1], out->volume_mount_path);
	}
	return 0;
}

static const struct spec_workers_rules workers_rules = {
    .min_replicas = DEFAULT_MIN_REPLICAS,
    .max_replicas = DEFAULT_MAX_REPLICAS,
    .lag_threshold = DEFAULT_LAG_THRESHOLD,
    .lag_limit = 1000000,
    .max_follows_min = 0,
};

static int parse_redis(struct spec_ctx *c, const cJSON *sinks, struct vj_spec *out)
{
	static const char *const fields[] = {"addr", "password", "prefix", NULL};
	const char *p = "spec.sinks.redis";
	const cJSON *s = NULL;
	char def[SPEC_NAME_MAX + SPEC_NAMESPACE_MAX + 16];
	int rc;

	if (sinks != NULL && (rc = spec_get_object(c, sinks, "redis", "spec.sinks", 0, &s)) < 0)
		return rc;
	out->sinks.redis.enabled = s != NULL;
	snprintf(def, sizeof(def), "sluice:vj:%s:%s:", out->namespace, out->name);
	if ((s != NULL && (rc = spec_check_fields(c, s, p, fields)) < 0) ||
	    (rc = spec_get_string(c, s, "addr", p, 0, NULL, SPEC_TEXT_MAX,
	                          &out->sinks.redis.addr)) < 0 ||
	    (s != NULL &&
	     (rc = spec_get_secret_ref(c, s, "password", p, 0, "", &out->sinks.redis.password.name,
	                               &out->sinks.redis.password.key)) < 0) ||
	    (rc = spec_get_string(c, s, "prefix", p, 0, def, SPEC_TEXT_MAX,
	                          &out->sinks.redis.prefix)) < 0)
		return rc;
	if (out->sinks.redis.addr != NULL && !spec_host_port_ok(out->sinks.redis.addr))
		return spec_fail(c, "%s.addr: \"%s\" is not host:port", p, out->sinks.redis.addr);
	return 0;
}

/* spec.sinks.postgres: the sink both kinds share (spec_parse_postgres),
 * and the VideoJob's own deleteWithJob, read here and taken out of a copy
 * for the shared parser, which knows only the common members. */
static int parse_postgres(struct spec_ctx *c, const cJSON *sinks, struct vj_spec *out)
{
	const char *p = "spec.sinks.postgres.deleteWithJob";
	const cJSON *pg = sinks != NULL ? spec_member(sinks, "postgres") : NULL;
	const cJSON *dwj = cJSON_IsObject(pg) ? spec_member(pg, "deleteWithJob") : NULL;
	cJSON *copy;
	int rc;

	if (dwj == NULL)
		return spec_parse_postgres(c, sinks, "video_frames", 0, &out->sinks.postgres);
	if (!cJSON_IsBool(dwj))
		return spec_fail(c, "%s: must be true or false", p);
	copy = cJSON_Duplicate(sinks, 1);
	if (copy == NULL)
		return spec_nomem(c);
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "postgres"),
	                                        "deleteWithJob");
	rc = spec_parse_postgres(c, copy, "video_frames", 0, &out->sinks.postgres);
	cJSON_Delete(copy);
	if (rc < 0)
		return rc;
	out->sinks.postgres_delete_with_job = cJSON_IsTrue(dwj);
	/* A postgres block replaces the operator's default sink, its DSN too:
	 * without one there is nothing to delete the rows with. */
	if (out->sinks.postgres_delete_with_job && out->sinks.postgres.dsn.name == NULL)
		return spec_fail(
		    c, "%s: needs spec.sinks.postgres.dsn (a Secret reference {name, key})", p);
	return 0;
}

static int parse_sinks(struct spec_ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {"postgres", "redis", "influxdb", NULL};
	const cJSON *s;
	int rc;

	if ((rc = spec_get_object(c, spec, "sinks", "spec", 0, &s)) < 0 ||
	    (s != NULL && (rc = spec_check_fields(c, s, "spec.sinks", fields)) < 0) ||
	    (rc = parse_postgres(c, s, out)) < 0 || (rc = parse_redis(c, s, out)) < 0 ||
	    (rc = spec_parse_influxdb(c, s, NULL, &out->sinks.influxdb, NULL)) < 0)
		return rc;
	return 0;
}

static int parse_top(struct spec_ctx *c, const cJSON *spec, struct vj_spec *out)
{
	const cJSON *f;
	long long seg, attempts;
	int rc;

	if ((rc = parse_uri(c, spec, "source", 1, &out->source_uri)) < 0 ||
	    (rc = parse_uri(c, spec, "output", 0, &out->output_uri)) < 0)
		return rc;
	if (strcmp(out->source_uri, out->output_uri) == 0)
		return spec_fail(c, "spec.output.uri: must differ from spec.source.uri (the source "
		                    "would be overwritten)");
	if ((rc = spec_get_int(c, spec, "segmentSeconds", "spec", DEFAULT_SEGMENT_SECONDS, 1, 60,
	                       &seg)) < 0 ||
	    (rc = spec_get_int(c, spec, "maxAttempts", "spec", DEFAULT_MAX_ATTEMPTS, 1, 100,
	                       &attempts)) < 0)
		return rc;
	out->segment_seconds = (int)seg;
	out->max_attempts = (int)attempts;
	f = spec_member(spec, "filters");
	if (f != NULL && !cJSON_IsString(f))
		return spec_fail(c, "spec.filters: must be a string (a libavfilter graph)");
	if (f != NULL && strlen(f->valuestring) > FILTERS_MAX)
		return spec_fail(c, "spec.filters: longer than %d bytes", FILTERS_MAX);
	if (f != NULL && f->valuestring[0] != '\0' &&
	    (rc = spec_dup(c, &out->filters, f->valuestring)) < 0)
		return rc;
	return parse_analysis(c, spec, out);
}

int vj_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct vj_spec *out,
                  char *errbuf, size_t errbuf_size)
{
	static const char *const fields[] = {"source",  "output",   "segmentSeconds", "maxAttempts",
	                                     "filters", "analysis", "encoder",        "kafka",
	                                     "workers", "sinks",    "volume",         NULL};
	struct spec_ctx c = {errbuf, errbuf_size};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_identity(&c, name, namespace, spec, &out->name, &out->namespace)) == 0 &&
	    (rc = spec_check_fields(&c, spec, "spec", fields)) == 0 &&
	    (rc = parse_top(&c, spec, out)) == 0 && (rc = parse_encoder(&c, spec, out)) == 0 &&
	    (rc = parse_kafka(&c, spec, out)) == 0 &&
	    (rc = spec_parse_workers(&c, spec, &workers_rules, &out->workers)) == 0 &&
	    (rc = parse_volume(&c, spec, out)) == 0)
		rc = parse_sinks(&c, spec, out);
	if (rc < 0)
		vj_spec_free(out);
	return rc;
}

int vj_spec_parse_document(const cJSON *doc, struct vj_spec *out, char *errbuf, size_t errbuf_size)
{
	struct spec_ctx c = {errbuf, errbuf_size};
	const cJSON *spec;
	const char *name, *ns;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_document(&c, doc, "VideoJob", &spec, &name, &ns)) < 0)
		return rc;
	return vj_spec_parse(spec, name, ns, out, errbuf, errbuf_size);
}

int vj_spec_load_file(const char *path, struct vj_spec *out, char *errbuf, size_t errbuf_size)
{
	struct spec_ctx c = {errbuf, errbuf_size};
	char why[512];
	cJSON *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_load_document(&c, path, VJ_SPEC_FILE_MAX, &doc)) < 0)
		return rc;
	rc = vj_spec_parse_document(doc, out, why, sizeof(why));
	cJSON_Delete(doc);
	if (rc < 0)
		snprintf(errbuf, errbuf_size, "%s: %s", path, why);
	return rc;
}

void vj_spec_free(struct vj_spec *s)
{
	free(s->name);
	free(s->namespace);
	free(s->source_uri);
	free(s->output_uri);
	free(s->filters);
	free(s->encoder.codec);
	free(s->encoder.preset);
	spec_kafka_free(&s->kafka);
	free(s->volume_mount_path);
	spec_workers_free(&s->workers);
	spec_postgres_free(&s->sinks.postgres);
	free(s->sinks.redis.addr);
	spec_secret_ref_free(&s->sinks.redis.password);
	free(s->sinks.redis.prefix);
	spec_influxdb_free(&s->sinks.influxdb);
	memset(s, 0, sizeof(*s));
}
