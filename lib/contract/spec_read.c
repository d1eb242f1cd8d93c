/* spec_read.c -- reading a resource's spec out of a cJSON tree; see
 * spec_read.h. */
#include "spec_read.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hostport.h"

int spec_fail(struct spec_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errbuf, c->errbuf_size, fmt, ap);
	va_end(ap);
	/* Messages quote what the user wrote; a control byte in it (a newline
	 * in a field name) must not break the one line a message is. */
	for (char *p = c->errbuf; c->errbuf_size > 0 && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return SPEC_E_INVALID;
}

int spec_nomem(struct spec_ctx *c)
{
	snprintf(c->errbuf, c->errbuf_size, "out of memory");
	return SPEC_E_NOMEM;
}

const cJSON *spec_member(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	/* null is how YAML writes "nothing here" ("ttl:"): same as absent. */
	return cJSON_IsNull(item) ? NULL : item;
}

int spec_check_fields(struct spec_ctx *c, const cJSON *obj, const char *path,
                      const char *const *allowed)
{
	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(it->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return spec_fail(c, "%s.%s: unknown field", path, it->string);
		for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
			if (strcmp(prev->string, it->string) == 0)
				return spec_fail(c, "%s.%s: given twice", path, it->string);
	}
	return 0;
}

int spec_get_object(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                    int required, const cJSON **out)
{
	const cJSON *item = spec_member(obj, name);

	*out = NULL;
	if (item == NULL)
		return required ? spec_fail(c, "%s.%s: required", path, name) : 0;
	if (!cJSON_IsObject(item))
		return spec_fail(c, "%s.%s: must be an object", path, name);
	*out = item;
	return 0;
}

int spec_dup(struct spec_ctx *c, char **out, const char *s)
{
	*out = strdup(s);
	return *out == NULL ? spec_nomem(c) : 0;
}

int spec_get_string(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                    int required, const char *def, size_t max, char **out)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;
	size_t len;

	if (item != NULL && !cJSON_IsString(item))
		return spec_fail(c, "%s.%s: must be a string", path, name);
	len = item != NULL ? strlen(item->valuestring) : 0;
	if (len == 0) {
		if (required)
			return spec_fail(c, "%s.%s: required", path, name);
		return def != NULL ? spec_dup(c, out, def) : 0;
	}
	if (len > max)
		return spec_fail(c, "%s.%s: longer than %zu bytes", path, name, max);
	return spec_dup(c, out, item->valuestring);
}

int spec_get_int(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                 long long def, long long min, long long max, long long *out)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;
	double v;

	if (item == NULL) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(item))
		return spec_fail(c, "%s.%s: must be an integer", path, name);
	v = item->valuedouble;
	if (v != floor(v))
		return spec_fail(c, "%s.%s: %g is not an integer", path, name, v);
	if (v < (double)min || v > (double)max)
		return spec_fail(c, "%s.%s: %.0f is out of range %lld..%lld", path, name, v, min,
		                 max);
	*out = (long long)v;
	return 0;
}

int spec_get_bool(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path, int def,
                  int *out)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;

	if (item == NULL) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsBool(item))
		return spec_fail(c, "%s.%s: must be true or false", path, name);
	*out = cJSON_IsTrue(item);
	return 0;
}

/* "24h", "90s", "500ms": ms in the largest unit that states it exactly. */
static const char *ms_text(char *buf, size_t size, long long ms)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", ms / 1000);
	else
		snprintf(buf, size, "%lldms", ms);
	return buf;
}

int spec_get_duration_ms(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                         long long def, long long min_ms, long long max_ms, long long *out_ms)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;
	char val[32], lo[32], hi[32];
	long long ms;

	if (item == NULL) {
		*out_ms = def;
		return 0;
	}
	if (cJSON_IsNumber(item)) {
		double v = item->valuedouble;

		if (v != floor(v))
			return spec_fail(c, "%s.%s: %g is not a whole number of seconds", path,
			                 name, v);
		/* Checked as a double: 1e300 fits no long long. */
		if (v * 1000.0 < (double)min_ms || v * 1000.0 > (double)max_ms)
			return spec_fail(c, "%s.%s: %gs is out of range %s..%s", path, name, v,
			                 ms_text(lo, sizeof(lo), min_ms),
			                 ms_text(hi, sizeof(hi), max_ms));
		ms = (long long)v * 1000;
	} else if (cJSON_IsString(item)) {
		if (config_parse_duration_ms(item->valuestring, &ms) != 0)
			return spec_fail(c,
			                 "%s.%s: \"%.64s\" is not a duration (such as 30s, 500ms, "
			                 "2m, 1h, 1m30s) or a number of seconds",
			                 path, name, item->valuestring);
	} else {
		return spec_fail(c,
		                 "%s.%s: must be a duration (such as \"30s\") or a number of "
		                 "seconds",
		                 path, name);
	}
	if (ms < min_ms || ms > max_ms)
		return spec_fail(c, "%s.%s: %s is out of range %s..%s", path, name,
		                 ms_text(val, sizeof(val), ms), ms_text(lo, sizeof(lo), min_ms),
		                 ms_text(hi, sizeof(hi), max_ms));
	*out_ms = ms;
	return 0;
}

/* A key of a Secret's data: [-._a-zA-Z0-9]+. */
static int secret_key_ok(const char *s)
{
	if (s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

int spec_get_secret_ref(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                        int required, const char *why, char **ref_name, char **ref_key)
{
	static const char *const fields[] = {"name", "key", NULL};
	const cJSON *item = spec_member(obj, name);
	char p[SPEC_PATH_MAX];
	int rc;

	if (item == NULL)
		return required ? spec_fail(c, "%s.%s: required%s", path, name, why) : 0;
	if (!cJSON_IsObject(item))
		return spec_fail(c, "%s.%s: must be a Secret reference {name, key}", path, name);
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if ((rc = spec_check_fields(c, item, p, fields)) < 0 ||
	    (rc = spec_get_string(c, item, "name", p, 1, NULL, SPEC_NAME_MAX, ref_name)) < 0 ||
	    (rc = spec_get_string(c, item, "key", p, 1, NULL, SPEC_NAME_MAX, ref_key)) < 0)
		return rc;
	/* Kubernetes' rules for a Secret, as the CRDs' patterns state them: the
	 * values reach env names, messages and API paths. */
	if (!spec_dns_name_ok(*ref_name, SPEC_NAME_MAX, 1))
		return spec_fail(c, "%s.name: \"%s\" is not a Secret name (a DNS subdomain)", p,
		                 *ref_name);
	if (!secret_key_ok(*ref_key))
		return spec_fail(c, "%s.key: \"%s\" is not a Secret key ([-._a-zA-Z0-9]+)", p,
		                 *ref_key);
	return 0;
}

int spec_dns_name_ok(const char *s, size_t max, int dots)
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

int spec_topic_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SPEC_TOPIC_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

int spec_sql_ident_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SPEC_SQL_IDENT_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

int spec_host_port_ok(const char *s)
{
	char host[256];

	return hostport_split(s, host, sizeof(host), NULL) == 0;
}

/* A C identifier-like environment variable name, as Kubernetes takes them
 * ([-._a-zA-Z][-._a-zA-Z0-9]*). */
static int env_name_ok(const char *s)
{
	if (s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

int spec_check_pod_fields(struct spec_ctx *c, const cJSON *w, const char *path)
{
	static const char *const env_fields[] = {"name", "value", "valueFrom", NULL};
	const cJSON *env = spec_member(w, "env"), *sel = spec_member(w, "nodeSelector");
	const cJSON *tol = spec_member(w, "tolerations"), *aff = spec_member(w, "affinity");
	const cJSON *sa = spec_member(w, "serviceAccountName"), *it;
	char p[SPEC_PATH_MAX];
	int i = 0, rc;

	if (env != NULL && !cJSON_IsArray(env))
		return spec_fail(c, "%s.env: must be a list of {name, value}", path);
	cJSON_ArrayForEach(it, env)
	{
		const cJSON *name = spec_member(it, "name");

		snprintf(p, sizeof(p), "%s.env[%d]", path, i++);
		if (!cJSON_IsObject(it))
			return spec_fail(c, "%s: must be an object {name, value}", p);
		if ((rc = spec_check_fields(c, it, p, env_fields)) < 0)
			return rc;
		if (!cJSON_IsString(name) || !env_name_ok(name->valuestring))
			return spec_fail(c, "%s.name: required, letters, digits, '_', '-' or '.'",
			                 p);
		if (spec_member(it, "value") != NULL && !cJSON_IsString(spec_member(it, "value")))
			return spec_fail(c, "%s.value: must be a string", p);
		if (spec_member(it, "valueFrom") != NULL &&
		    !cJSON_IsObject(spec_member(it, "valueFrom")))
			return spec_fail(c, "%s.valueFrom: must be an object", p);
		for (const cJSON *prev = env->child; prev != it; prev = prev->next)
			if (strcmp(cJSON_GetStringValue(spec_member(prev, "name")),
			           name->valuestring) == 0)
				return spec_fail(c, "%s.name: \"%s\" given twice", p,
				                 name->valuestring);
	}
	if (sel != NULL && !cJSON_IsObject(sel))
		return spec_fail(c, "%s.nodeSelector: must be a map of strings", path);
	cJSON_ArrayForEach(it, sel)
	{
		if (!cJSON_IsString(it))
			return spec_fail(c, "%s.nodeSelector.%s: must be a string", path,
			                 it->string);
	}
	if (tol != NULL && !cJSON_IsArray(tol))
		return spec_fail(c, "%s.tolerations: must be a list", path);
	i = 0;
	cJSON_ArrayForEach(it, tol)
	{
		if (!cJSON_IsObject(it))
			return spec_fail(c, "%s.tolerations[%d]: must be an object", path, i);
		i++;
	}
	if (aff != NULL && !cJSON_IsObject(aff))
		return spec_fail(c, "%s.affinity: must be an object", path);
	if (sa != NULL && (!cJSON_IsString(sa) || !spec_dns_name_ok(sa->valuestring, 253, 1)))
		return spec_fail(c, "%s.serviceAccountName: must be a DNS name", path);
	return 0;
}

int spec_abs_path_ok(const char *s)
{
	if (s[0] != '/')
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p))
			return 0;
	for (const char *p = s; *p != '\0';) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
	}
	return 1;
}

int spec_identity(struct spec_ctx *c, const char *name, const char *namespace, const cJSON *spec,
                  char **out_name, char **out_namespace)
{
	int rc;

	if (namespace == NULL || namespace[0] == '\0')
	namespace = "default";
	if (name == NULL || name[0] == '\0')
		return spec_fail(c, "metadata.name: required");
	if (!spec_dns_name_ok(name, SPEC_NAME_MAX, 1))
		return spec_fail(
		    c,
		    "metadata.name: \"%s\" is not a lower-case DNS name (a-z, 0-9, '-', "
		    "'.'; at most %d bytes)",
		    name, SPEC_NAME_MAX);
	if (!spec_dns_name_ok(namespace, SPEC_NAMESPACE_MAX, 0))
		return spec_fail(
		    c,
		    "metadata.namespace: \"%s\" is not a lower-case DNS label (a-z, 0-9, "
		    "'-'; at most %d bytes)",
		    namespace, SPEC_NAMESPACE_MAX);
	if (!cJSON_IsObject(spec))
		return spec_fail(c, "spec: must be an object");
	if ((rc = spec_dup(c, out_name, name)) < 0 ||
	    (rc = spec_dup(c, out_namespace, namespace)) < 0)
		return rc;
	return 0;
}

int spec_read_file(struct spec_ctx *c, const char *path, size_t max, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(c->errbuf, c->errbuf_size, "%s: %s", path, strerror(errno));
		return SPEC_E_IO;
	}
	buf = malloc(max + 2);
	if (buf == NULL) {
		fclose(f);
		return spec_nomem(c);
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		snprintf(c->errbuf, c->errbuf_size, "%s: read error", path);
		fclose(f);
		free(buf);
		return SPEC_E_IO;
	}
	fclose(f);
	if (n > max) {
		snprintf(c->errbuf, c->errbuf_size, "%s: larger than %zu bytes", path, max);
		free(buf);
		return SPEC_E_IO;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}
