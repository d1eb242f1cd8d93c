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

#include "yaml_json.h"

#define PATH_MAX_LEN 160
/* Longest plain string field (bootstrap lists, prefixes, images). */
#define TEXT_MAX 1024
#define URI_MAX 2048
#define FILTERS_MAX 4096
/* Kubernetes: DNS subdomain names 253, namespaces (DNS labels) 63. */
#define NAME_MAX_LEN 253
#define NAMESPACE_MAX_LEN 63
#define TOPIC_MAX_LEN 249
#define SQL_IDENT_MAX 63
#define QUANTITIES_MAX 16

#define DEFAULT_SEGMENT_SECONDS 2
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_CRF 23
#define DEFAULT_MIN_REPLICAS 0
#define DEFAULT_MAX_REPLICAS 4
#define DEFAULT_LAG_THRESHOLD 2
#define REPLICAS_LIMIT 1000

struct ctx {
	char *errbuf;
	size_t errbuf_size;
};

__attribute__((format(printf, 2, 3))) static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errbuf, c->errbuf_size, fmt, ap);
	va_end(ap);
	return VJ_SPEC_E_INVALID;
}

static int nomem(struct ctx *c)
{
	snprintf(c->errbuf, c->errbuf_size, "out of memory");
	return VJ_SPEC_E_NOMEM;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	/* null is how YAML writes "nothing here" ("ttl:"): same as absent. */
	return cJSON_IsNull(item) ? NULL : item;
}

/* Refuses members not in allowed (NULL-terminated) and repeated members. */
static int check_fields(struct ctx *c, const cJSON *obj, const char *path,
                        const char *const *allowed)
{
	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(it->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return fail(c, "%s.%s: unknown field", path, it->string);
		for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
			if (strcmp(prev->string, it->string) == 0)
				return fail(c, "%s.%s: given twice", path, it->string);
	}
	return 0;
}

/* *out: the object at obj.name, or NULL when absent and optional. */
static int get_object(struct ctx *c, const cJSON *obj, const char *name, const char *path,
                      int required, const cJSON **out)
{
	const cJSON *item = member(obj, name);

	*out = NULL;
	if (item == NULL)
		return required ? fail(c, "%s.%s: required", path, name) : 0;
	if (!cJSON_IsObject(item))
		return fail(c, "%s.%s: must be an object", path, name);
	*out = item;
	return 0;
}

static int dup_to(struct ctx *c, char **out, const char *s)
{
	*out = strdup(s);
	return *out == NULL ? nomem(c) : 0;
}

/*
 * *out: a copy of the string at obj.name, of at most max bytes, or of def
 * when absent (NULL def: stays NULL). Empty strings count as absent.
 */
static int get_string(struct ctx *c, const cJSON *obj, const char *name, const char *path,
                      int required, const char *def, size_t max, char **out)
{
	const cJSON *item = obj != NULL ? member(obj, name) : NULL;
	size_t len;

	if (item != NULL && !cJSON_IsString(item))
		return fail(c, "%s.%s: must be a string", path, name);
	len = item != NULL ? strlen(item->valuestring) : 0;
	if (len == 0) {
		if (required)
			return fail(c, "%s.%s: required", path, name);
		return def != NULL ? dup_to(c, out, def) : 0;
	}
	if (len > max)
		return fail(c, "%s.%s: longer than %zu bytes", path, name, max);
	return dup_to(c, out, item->valuestring);
}

static int get_int(struct ctx *c, const cJSON *obj, const char *name, const char *path,
                   long long def, long long min, long long max, long long *out)
{
	const cJSON *item = obj != NULL ? member(obj, name) : NULL;
	double v;

	if (item == NULL) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(item))
		return fail(c, "%s.%s: must be an integer", path, name);
	v = item->valuedouble;
	if (v != floor(v))
		return fail(c, "%s.%s: %g is not an integer", path, name, v);
	if (v < (double)min || v > (double)max)
		return fail(c, "%s.%s: %.0f is out of range %lld..%lld", path, name, v, min, max);
	*out = (long long)v;
	return 0;
}

/* A Secret reference {name, key} at obj.name; ref->name stays NULL when
 * absent and optional. */
static int get_secret_ref(struct ctx *c, const cJSON *obj, const char *name, const char *path,
                          int required, const char *why, struct vj_secret_ref *ref)
{
	static const char *const fields[] = {"name", "key", NULL};
	const cJSON *item = member(obj, name);
	char p[PATH_MAX_LEN];
	int rc;

	if (item == NULL)
		return required ? fail(c, "%s.%s: required%s", path, name, why) : 0;
	if (!cJSON_IsObject(item))
		return fail(c, "%s.%s: must be a Secret reference {name, key}", path, name);
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if ((rc = check_fields(c, item, p, fields)) < 0 ||
	    (rc = get_string(c, item, "name", p, 1, NULL, NAME_MAX_LEN, &ref->name)) < 0 ||
	    (rc = get_string(c, item, "key", p, 1, NULL, NAME_MAX_LEN, &ref->key)) < 0)
		return rc;
	return 0;
}

/* A lower-case DNS-1123 name: a-z 0-9 '-' (and '.' when dots), alphanumeric
 * at both ends. */
static int dns_name_ok(const char *s, size_t max, int dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && ch != '-' && !(dots && ch == '.'))
			return 0;
		if (!alnum && (i == 0 || i == n - 1))
			return 0;
	}
	return 1;
}

static int topic_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TOPIC_MAX_LEN || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int sql_ident_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SQL_IDENT_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* "host:port" with a port in 1..65535 (IPv6 as "[::1]:6379"). */
static int host_port_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s || strchr(s, ' ') != NULL)
		return 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return errno == 0 && end != colon + 1 && *end == '\0' && port >= 1 && port <= 65535;
}

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
static int get_enum(struct ctx *c, const cJSON *obj, const char *name, const char *path,
                    const char *def, const char *const *choices, char **out)
{
	char list[256];
	int rc;

	if ((rc = get_string(c, obj, name, path, 0, def, TEXT_MAX, out)) < 0)
		return rc;
	if (*out != NULL && !one_of(*out, choices))
		return fail(c, "%s.%s: \"%s\" is not one of %s", path, name, *out,
		            choices_text(list, sizeof(list), choices));
	return 0;
}

/* No user:password@ in a URL's authority: credentials belong in Secrets. */
static int has_userinfo(const char *uri)
{
	const char *auth = strstr(uri, "://");
	size_t n;

	if (auth == NULL)
		return 0;
	auth += 3;
	n = strcspn(auth, "/?#");
	return memchr(auth, '@', n) != NULL;
}

static int no_space(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			return 0;
	return 1;
}

const char *vj_spec_file_path(const char *uri)
{
	if (uri == NULL || strncmp(uri, "file://", 7) != 0 || uri[7] != '/')
		return NULL;
	return uri + 7;
}

int vj_spec_job_id(const struct vj_spec *spec, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", spec->namespace, spec->name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- sections ------------------------------------------------------- */

static int parse_uri(struct ctx *c, const cJSON *spec, const char *section, int http_ok, char **out)
{
	static const char *const fields[] = {"uri", NULL};
	const cJSON *o;
	char p[PATH_MAX_LEN];
	int rc;

	snprintf(p, sizeof(p), "spec.%s", section);
	if ((rc = get_object(c, spec, section, "spec", 1, &o)) < 0 ||
	    (rc = check_fields(c, o, p, fields)) < 0 ||
	    (rc = get_string(c, o, "uri", p, 1, NULL, URI_MAX, out)) < 0)
		return rc;
	if (!no_space(*out))
		return fail(c, "%s.uri: \"%s\" has white space", p, *out);
	if (vj_spec_file_path(*out) != NULL && (*out)[8] != '\0')
		return 0;
	if (http_ok && (strncmp(*out, "http://", 7) == 0 || strncmp(*out, "https://", 8) == 0)) {
		const char *host = strstr(*out, "://") + 3;

		if (has_userinfo(*out))
			return fail(
			    c, "%s.uri: credentials in the URL are not allowed (user:password@)",
			    p);
		if (host[0] == '\0' || host[0] == '/' || strchr(host, '/') == NULL)
			return fail(c, "%s.uri: \"%s\" has no host/path", p, *out);
		return 0;
	}
	return fail(c, "%s.uri: \"%s\" is not %s", p, *out,
	            http_ok ? "file:///path, http://host/path or https://host/path"
	                    : "file:///path");
}

static int parse_analysis(struct ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const names[] = {"meanLuma", "motion", "sceneScore", NULL};
	const cJSON *a = member(spec, "analysis"), *it;
	char list[128];
	int i = 0;

	if (a == NULL) {
		out->analysis = VJ_ANALYSIS_ALL;
		return 0;
	}
	if (!cJSON_IsArray(a))
		return fail(c, "spec.analysis: must be a list of strings");
	cJSON_ArrayForEach(it, a)
	{
		unsigned bit = 0;

		if (!cJSON_IsString(it))
			return fail(c, "spec.analysis[%d]: must be a string", i);
		for (unsigned k = 0; names[k] != NULL; k++)
			if (strcmp(it->valuestring, names[k]) == 0)
				bit = 1u << k;
		if (bit == 0)
			return fail(c, "spec.analysis[%d]: \"%s\" is not one of %s", i,
			            it->valuestring, choices_text(list, sizeof(list), names));
		if (out->analysis & bit)
			return fail(c, "spec.analysis[%d]: \"%s\" is listed twice", i,
			            it->valuestring);
		out->analysis |= bit;
		i++;
	}
	return 0;
}

static int parse_encoder(struct ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {"codec", "crf", "preset", NULL};
	static const char *const codecs[] = {"libx264", "libx265", "libvpx-vp9", "mpeg4", NULL};
	static const char *const presets[] = {"ultrafast", "superfast", "veryfast", "faster",
	                                      "fast",      "medium",    "slow",     "slower",
	                                      "veryslow",  NULL};
	const char *p = "spec.encoder";
	const cJSON *e;
	long long crf;
	int rc;

	if ((rc = get_object(c, spec, "encoder", "spec", 0, &e)) < 0 ||
	    (e != NULL && (rc = check_fields(c, e, p, fields)) < 0) ||
	    (rc = get_enum(c, e, "codec", p, "libx264", codecs, &out->encoder.codec)) < 0 ||
	    (rc = get_int(c, e, "crf", p, DEFAULT_CRF, 0, 51, &crf)) < 0 ||
	    (rc = get_enum(c, e, "preset", p, "medium", presets, &out->encoder.preset)) < 0)
		return rc;
	out->encoder.crf = (int)crf;
	return 0;
}

static int parse_kafka(struct ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {"bootstrap", "topic", NULL};
	const char *p = "spec.kafka";
	const cJSON *k;
	char def[NAME_MAX_LEN + NAMESPACE_MAX_LEN + 16];
	int rc;

	if ((rc = get_object(c, spec, "kafka", "spec", 1, &k)) < 0 ||
	    (rc = check_fields(c, k, p, fields)) < 0 ||
	    (rc = get_string(c, k, "bootstrap", p, 1, NULL, TEXT_MAX, &out->kafka.bootstrap)) < 0)
		return rc;
	if (!no_space(out->kafka.bootstrap))
		return fail(c, "%s.bootstrap: \"%s\" has a space; separate brokers with commas", p,
		            out->kafka.bootstrap);
	snprintf(def, sizeof(def), "sluice-vj-%s-%s", out->namespace, out->name);
	if ((rc = get_string(c, k, "topic", p, 0, def, TEXT_MAX, &out->kafka.topic)) < 0 ||
	    (rc = dup_to(c, &out->kafka.group, def)) < 0)
		return rc;
	if (!topic_ok(out->kafka.topic))
		return fail(c,
		            "%s.topic: \"%s\" is not a Kafka topic name (letters, digits, '.', "
		            "'_', '-'; at most %d bytes)%s",
		            p, out->kafka.topic, TOPIC_MAX_LEN - 4,
		            member(k, "topic") == NULL ? "; the name is too long for the "
		                                         "default, set spec.kafka.topic"
		                                       : "");
	/* The dead-letter topic adds ".dlq": keep room for it. */
	if (strlen(out->kafka.topic) > TOPIC_MAX_LEN - 4)
		return fail(c, "%s.topic: \"%s\" is longer than %d bytes (\".dlq\" must fit)", p,
		            out->kafka.topic, TOPIC_MAX_LEN - 4);
	snprintf(def, sizeof(def), "%s.dlq", out->kafka.topic);
	return dup_to(c, &out->kafka.dead_letter_topic, def);
}

/* workers.resources: {requests, limits}, each a map of Kubernetes
 * quantities (strings or numbers). The operator copies it into the Pod. */
static int parse_resources(struct ctx *c, const cJSON *w, struct vj_spec *out)
{
	static const char *const fields[] = {"requests", "limits", NULL};
	const char *p = "spec.workers.resources";
	const cJSON *r;
	int rc;

	if ((rc = get_object(c, w, "resources", "spec.workers", 0, &r)) < 0 || r == NULL)
		return rc;
	if ((rc = check_fields(c, r, p, fields)) < 0)
		return rc;
	for (const cJSON *part = r->child; part != NULL; part = part->next) {
		int n = 0;

		if (cJSON_IsNull(part))
			continue;
		if (!cJSON_IsObject(part))
			return fail(c, "%s.%s: must be a map of quantities", p, part->string);
		for (const cJSON *q = part->child; q != NULL; q = q->next, n++) {
			if (!cJSON_IsString(q) && !cJSON_IsNumber(q))
				return fail(c, "%s.%s.%s: must be a quantity such as \"500m\" or 1",
				            p, part->string, q->string);
			if (cJSON_IsString(q) &&
			    (q->valuestring[0] == '\0' || !no_space(q->valuestring)))
				return fail(c, "%s.%s.%s: \"%s\" is not a quantity", p,
				            part->string, q->string, q->valuestring);
		}
		if (n > QUANTITIES_MAX)
			return fail(c, "%s.%s: %d entries, the most is %d", p, part->string, n,
			            QUANTITIES_MAX);
	}
	out->workers.resources = cJSON_Duplicate(r, 1);
	return out->workers.resources == NULL ? nomem(c) : 0;
}

static int parse_workers(struct ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {
	    "minReplicas", "maxReplicas",     "lagThreshold", "activationLagThreshold",
	    "image",       "imagePullPolicy", "resources",    NULL};
	static const char *const policies[] = {"Always", "IfNotPresent", "Never", NULL};
	const char *p = "spec.workers";
	const cJSON *w;
	long long lo, hi, lag, act;
	int rc;

	if ((rc = get_object(c, spec, "workers", "spec", 0, &w)) < 0 ||
	    (w != NULL && (rc = check_fields(c, w, p, fields)) < 0) ||
	    (rc = get_int(c, w, "minReplicas", p, DEFAULT_MIN_REPLICAS, 0, REPLICAS_LIMIT, &lo)) <
	        0 ||
	    (rc = get_int(c, w, "maxReplicas", p, DEFAULT_MAX_REPLICAS, 1, REPLICAS_LIMIT, &hi)) <
	        0 ||
	    (rc = get_int(c, w, "lagThreshold", p, DEFAULT_LAG_THRESHOLD, 1, 1000000, &lag)) < 0 ||
	    (rc = get_int(c, w, "activationLagThreshold", p, 0, 0, 1000000, &act)) < 0)
		return rc;
	if (hi < lo)
		return fail(c, "%s.maxReplicas: %lld is below %s.minReplicas: %lld", p, hi, p, lo);
	out->workers.min_replicas = (int32_t)lo;
	out->workers.max_replicas = (int32_t)hi;
	out->workers.lag_threshold = lag;
	out->workers.activation_lag_threshold = act;
	if ((rc = get_string(c, w, "image", p, 0, NULL, TEXT_MAX, &out->workers.image)) < 0 ||
	    (rc = get_enum(c, w, "imagePullPolicy", p, NULL, policies,
	                   &out->workers.image_pull_policy)) < 0)
		return rc;
	if (out->workers.image != NULL && !no_space(out->workers.image))
		return fail(c, "%s.image: \"%s\" has white space", p, out->workers.image);
	return parse_resources(c, w, out);
}

static int parse_postgres(struct ctx *c, const cJSON *sinks, struct vj_spec *out)
{
	static const char *const fields[] = {"dsn", "table", NULL};
	const char *p = "spec.sinks.postgres";
	const cJSON *s = NULL;
	int rc;

	if (sinks != NULL && (rc = get_object(c, sinks, "postgres", "spec.sinks", 0, &s)) < 0)
		return rc;
	out->sinks.postgres.enabled = s != NULL;
	if ((s != NULL && (rc = check_fields(c, s, p, fields)) < 0) ||
	    (s != NULL &&
	     (rc = get_secret_ref(c, s, "dsn", p, 0, "", &out->sinks.postgres.dsn)) < 0) ||
	    (rc = get_string(c, s, "table", p, 0, "video_frames", TEXT_MAX,
	                     &out->sinks.postgres.table)) < 0)
		return rc;
	if (!sql_ident_ok(out->sinks.postgres.table))
		return fail(c,
		            "%s.table: \"%s\" is not a lower-case SQL identifier "
		            "([a-z_][a-z0-9_]*, at most %d bytes)",
		            p, out->sinks.postgres.table, SQL_IDENT_MAX);
	return 0;
}

static int parse_redis(struct ctx *c, const cJSON *sinks, struct vj_spec *out)
{
	static const char *const fields[] = {"addr", "password", "prefix", NULL};
	const char *p = "spec.sinks.redis";
	const cJSON *s = NULL;
	char def[NAME_MAX_LEN + NAMESPACE_MAX_LEN + 16];
	int rc;

	if (sinks != NULL && (rc = get_object(c, sinks, "redis", "spec.sinks", 0, &s)) < 0)
		return rc;
	out->sinks.redis.enabled = s != NULL;
	snprintf(def, sizeof(def), "sluice:vj:%s:%s:", out->namespace, out->name);
	if ((s != NULL && (rc = check_fields(c, s, p, fields)) < 0) ||
	    (rc = get_string(c, s, "addr", p, 0, NULL, TEXT_MAX, &out->sinks.redis.addr)) < 0 ||
	    (s != NULL &&
	     (rc = get_secret_ref(c, s, "password", p, 0, "", &out->sinks.redis.password)) < 0) ||
	    (rc = get_string(c, s, "prefix", p, 0, def, TEXT_MAX, &out->sinks.redis.prefix)) < 0)
		return rc;
	if (out->sinks.redis.addr != NULL && !host_port_ok(out->sinks.redis.addr))
		return fail(c, "%s.addr: \"%s\" is not host:port", p, out->sinks.redis.addr);
	return 0;
}

static int parse_influxdb(struct ctx *c, const cJSON *sinks, struct vj_spec *out)
{
	static const char *const fields[] = {"url", "database", "org", "token", "api", NULL};
	static const char *const apis[] = {"v1", "v2", NULL};
	const char *p = "spec.sinks.influxdb";
	const cJSON *s;
	char *api = NULL;
	int rc;

	if (sinks == NULL)
		return 0;
	if ((rc = get_object(c, sinks, "influxdb", "spec.sinks", 0, &s)) < 0 || s == NULL)
		return rc;
	out->sinks.influxdb.enabled = 1;
	if ((rc = check_fields(c, s, p, fields)) < 0 ||
	    (rc = get_string(c, s, "url", p, 1, NULL, TEXT_MAX, &out->sinks.influxdb.url)) < 0)
		return rc;
	if ((strncmp(out->sinks.influxdb.url, "http://", 7) != 0 &&
	     strncmp(out->sinks.influxdb.url, "https://", 8) != 0) ||
	    has_userinfo(out->sinks.influxdb.url) || !no_space(out->sinks.influxdb.url))
		return fail(c,
		            "%s.url: \"%s\" is not http(s)://host[:port] without credentials "
		            "(use token)",
		            p, out->sinks.influxdb.url);
	if ((rc = get_string(c, s, "database", p, 1, NULL, TEXT_MAX,
	                     &out->sinks.influxdb.database)) < 0 ||
	    (rc = get_string(c, s, "org", p, 0, NULL, TEXT_MAX, &out->sinks.influxdb.org)) < 0 ||
	    (rc = get_secret_ref(c, s, "token", p, 0, "", &out->sinks.influxdb.token)) < 0 ||
	    (rc = get_enum(c, s, "api", p, "v1", apis, &api)) < 0) {
		free(api);
		return rc;
	}
	out->sinks.influxdb.api = strcmp(api, "v2") == 0 ? VJ_INFLUX_V2 : VJ_INFLUX_V1;
	free(api);
	if (out->sinks.influxdb.api == VJ_INFLUX_V2 && out->sinks.influxdb.token.name == NULL)
		return fail(c, "%s.token: required when %s.api is v2", p, p);
	return 0;
}

static int parse_sinks(struct ctx *c, const cJSON *spec, struct vj_spec *out)
{
	static const char *const fields[] = {"postgres", "redis", "influxdb", NULL};
	const cJSON *s;
	int rc;

	if ((rc = get_object(c, spec, "sinks", "spec", 0, &s)) < 0 ||
	    (s != NULL && (rc = check_fields(c, s, "spec.sinks", fields)) < 0) ||
	    (rc = parse_postgres(c, s, out)) < 0 || (rc = parse_redis(c, s, out)) < 0 ||
	    (rc = parse_influxdb(c, s, out)) < 0)
		return rc;
	return 0;
}

static int parse_top(struct ctx *c, const cJSON *spec, struct vj_spec *out)
{
	const cJSON *f;
	long long seg, attempts;
	int rc;

	if ((rc = parse_uri(c, spec, "source", 1, &out->source_uri)) < 0 ||
	    (rc = parse_uri(c, spec, "output", 0, &out->output_uri)) < 0)
		return rc;
	if (strcmp(out->source_uri, out->output_uri) == 0)
		return fail(c, "spec.output.uri: must differ from spec.source.uri (the source "
		               "would be overwritten)");
	if ((rc = get_int(c, spec, "segmentSeconds", "spec", DEFAULT_SEGMENT_SECONDS, 1, 60,
	                  &seg)) < 0 ||
	    (rc = get_int(c, spec, "maxAttempts", "spec", DEFAULT_MAX_ATTEMPTS, 1, 100,
	                  &attempts)) < 0)
		return rc;
	out->segment_seconds = (int)seg;
	out->max_attempts = (int)attempts;
	f = member(spec, "filters");
	if (f != NULL && !cJSON_IsString(f))
		return fail(c, "spec.filters: must be a string (a libavfilter graph)");
	if (f != NULL && strlen(f->valuestring) > FILTERS_MAX)
		return fail(c, "spec.filters: longer than %d bytes", FILTERS_MAX);
	if (f != NULL && f->valuestring[0] != '\0' &&
	    (rc = dup_to(c, &out->filters, f->valuestring)) < 0)
		return rc;
	return parse_analysis(c, spec, out);
}

int vj_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct vj_spec *out,
                  char *errbuf, size_t errbuf_size)
{
	static const char *const fields[] = {
	    "source",  "output", "segmentSeconds", "maxAttempts", "filters", "analysis",
	    "encoder", "kafka",  "workers",        "sinks",       NULL};
	struct ctx c = {errbuf, errbuf_size};
	int rc;

	memset(out, 0, sizeof(*out));
	if (namespace == NULL || namespace[0] == '\0')
	namespace = "default";
	if (name == NULL || name[0] == '\0')
		rc = fail(&c, "metadata.name: required");
	else if (!dns_name_ok(name, NAME_MAX_LEN, 1))
		rc = fail(&c,
		          "metadata.name: \"%s\" is not a lower-case DNS name (a-z, 0-9, '-', "
		          "'.'; at most %d bytes)",
		          name, NAME_MAX_LEN);
	else if (!dns_name_ok(namespace, NAMESPACE_MAX_LEN, 0))
		rc = fail(&c,
		          "metadata.namespace: \"%s\" is not a lower-case DNS label (a-z, 0-9, "
		          "'-'; at most %d bytes)",
		          namespace, NAMESPACE_MAX_LEN);
	else if (!cJSON_IsObject(spec))
		rc = fail(&c, "spec: must be an object");
	else if ((rc = dup_to(&c, &out->name, name)) == 0 &&
	         (rc = dup_to(&c, &out->namespace, namespace)) == 0 &&
	         (rc = check_fields(&c, spec, "spec", fields)) == 0 &&
	         (rc = parse_top(&c, spec, out)) == 0 && (rc = parse_encoder(&c, spec, out)) == 0 &&
	         (rc = parse_kafka(&c, spec, out)) == 0 && (rc = parse_workers(&c, spec, out)) == 0)
		rc = parse_sinks(&c, spec, out);
	if (rc < 0)
		vj_spec_free(out);
	return rc;
}

int vj_spec_parse_document(const cJSON *doc, struct vj_spec *out, char *errbuf, size_t errbuf_size)
{
	static const char *const fields[] = {"apiVersion", "kind", "metadata",  "spec",
	                                     "status",     "name", "namespace", NULL};
	struct ctx c = {errbuf, errbuf_size};
	const cJSON *meta, *kind, *name, *ns, *spec;
	const char *where = "metadata.";

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(doc))
		return fail(&c, "document: must be an object (a VideoJob)");
	for (const cJSON *it = doc->child; it != NULL; it = it->next)
		if (!one_of(it->string, fields))
			return fail(&c, "%s: unknown field", it->string);
	kind = member(doc, "kind");
	if (kind != NULL && !cJSON_IsString(kind))
		return fail(&c, "kind: must be a string");
	if (kind != NULL && strcmp(kind->valuestring, "VideoJob") != 0)
		return fail(&c, "kind: \"%s\" is not VideoJob", kind->valuestring);
	meta = member(doc, "metadata");
	if (meta != NULL && !cJSON_IsObject(meta))
		return fail(&c, "metadata: must be an object");
	if (meta == NULL) {
		meta = doc; /* the short form: name and namespace at the top */
		where = "";
	}
	name = member(meta, "name");
	ns = member(meta, "namespace");
	if (name != NULL && !cJSON_IsString(name))
		return fail(&c, "%sname: must be a string", where);
	if (ns != NULL && !cJSON_IsString(ns))
		return fail(&c, "%snamespace: must be a string", where);
	if (name == NULL)
		return fail(&c, "%sname: required", where);
	spec = member(doc, "spec");
	if (spec == NULL)
		return fail(&c, "spec: required");
	return vj_spec_parse(spec, name->valuestring, ns != NULL ? ns->valuestring : NULL, out,
	                     errbuf, errbuf_size);
}

/* Reads at most VJ_SPEC_FILE_MAX bytes of path into a NUL-terminated buffer. */
static int read_file(struct ctx *c, const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(c->errbuf, c->errbuf_size, "%s: %s", path, strerror(errno));
		return VJ_SPEC_E_IO;
	}
	buf = malloc(VJ_SPEC_FILE_MAX + 2);
	if (buf == NULL) {
		fclose(f);
		return nomem(c);
	}
	n = fread(buf, 1, VJ_SPEC_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(c->errbuf, c->errbuf_size, "%s: read error", path);
		fclose(f);
		free(buf);
		return VJ_SPEC_E_IO;
	}
	fclose(f);
	if (n > VJ_SPEC_FILE_MAX) {
		snprintf(c->errbuf, c->errbuf_size, "%s: larger than %d bytes", path,
		         VJ_SPEC_FILE_MAX);
		free(buf);
		return VJ_SPEC_E_IO;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int vj_spec_load_file(const char *path, struct vj_spec *out, char *errbuf, size_t errbuf_size)
{
	struct ctx c = {errbuf, errbuf_size};
	char why[512];
	cJSON *doc = NULL;
	char *data;
	size_t len, i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_file(&c, path, &data, &len);
	if (rc < 0)
		return rc;
	while (i < len && strchr(" \t\r\n", data[i]) != NULL)
		i++;
	if (i < len && data[i] == '{') {
		const char *end = NULL;

		doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
		if (doc == NULL) {
			snprintf(errbuf, errbuf_size, "%s: not valid JSON near byte %td", path,
			         end != NULL ? end - data : (ptrdiff_t)0);
			free(data);
			return VJ_SPEC_E_INVALID;
		}
	} else if (yaml_json_parse(data, len, &doc, why, sizeof(why)) < 0) {
		snprintf(errbuf, errbuf_size, "%s: %s", path, why);
		free(data);
		return VJ_SPEC_E_INVALID;
	}
	free(data);
	rc = vj_spec_parse_document(doc, out, why, sizeof(why));
	cJSON_Delete(doc);
	if (rc < 0)
		snprintf(errbuf, errbuf_size, "%s: %s", path, why);
	return rc;
}

static void free_ref(struct vj_secret_ref *r)
{
	free(r->name);
	free(r->key);
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
	free(s->kafka.bootstrap);
	free(s->kafka.topic);
	free(s->kafka.group);
	free(s->kafka.dead_letter_topic);
	free(s->workers.image);
	free(s->workers.image_pull_policy);
	cJSON_Delete(s->workers.resources);
	free_ref(&s->sinks.postgres.dsn);
	free(s->sinks.postgres.table);
	free(s->sinks.redis.addr);
	free_ref(&s->sinks.redis.password);
	free(s->sinks.redis.prefix);
	free(s->sinks.influxdb.url);
	free(s->sinks.influxdb.database);
	free(s->sinks.influxdb.org);
	free_ref(&s->sinks.influxdb.token);
	memset(s, 0, sizeof(*s));
}
