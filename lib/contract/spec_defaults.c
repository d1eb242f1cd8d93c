/* spec_defaults.c -- see spec_defaults.h. */
#include "spec_defaults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_common.h"
#include "spec_read.h"

const char *const spec_defaults_sasl_choices[] = {"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512",
                                                  NULL};

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static int kafka_tls_set(const struct spec_kafka_defaults *k)
{
	return k->tls || set(k->ca) || set(k->cert) || set(k->key) || set(k->server_name);
}

static int kafka_sasl_set(const struct spec_kafka_defaults *k)
{
	return set(k->sasl_mechanism) || set(k->sasl_username) || set(k->sasl_password);
}

/* obj.field = {name, key} from "secret/key" (unset: nothing); a string
 * without '/' as it is, for the parser to refuse. 0, or -1 out of memory. */
static int add_ref(cJSON *obj, const char *field, const char *ref)
{
	const char *slash;
	cJSON *r;
	char *name;
	int ok;

	if (!set(ref))
		return 0;
	slash = strchr(ref, '/');
	if (slash == NULL)
		return cJSON_AddStringToObject(obj, field, ref) != NULL ? 0 : -1;
	name = strndup(ref, (size_t)(slash - ref));
	r = cJSON_AddObjectToObject(obj, field);
	ok = name != NULL && r != NULL && cJSON_AddStringToObject(r, "name", name) != NULL &&
	     cJSON_AddStringToObject(r, "key", slash + 1) != NULL;
	free(name);
	return ok ? 0 : -1;
}

/* k.tls and k.sasl from d (each only when d sets any of it). */
static int add_kafka_security(cJSON *k, const struct spec_kafka_defaults *d)
{
	cJSON *t, *s;

	if (kafka_tls_set(d)) {
		t = cJSON_AddObjectToObject(k, "tls");
		if (t == NULL || add_ref(t, "ca", d->ca) < 0 || add_ref(t, "cert", d->cert) < 0 ||
		    add_ref(t, "key", d->key) < 0 ||
		    (set(d->server_name) &&
		     cJSON_AddStringToObject(t, "serverName", d->server_name) == NULL))
			return -1;
	}
	if (kafka_sasl_set(d)) {
		s = cJSON_AddObjectToObject(k, "sasl");
		if (s == NULL ||
		    (set(d->sasl_mechanism) &&
		     cJSON_AddStringToObject(s, "mechanism", d->sasl_mechanism) == NULL) ||
		    add_ref(s, "username", d->sasl_username) < 0 ||
		    add_ref(s, "password", d->sasl_password) < 0)
			return -1;
	}
	return 0;
}

cJSON *spec_defaults_apply(const cJSON *spec, const struct spec_defaults *d)
{
	cJSON *out = cJSON_Duplicate(spec, 1);
	cJSON *sinks;

	if (out == NULL)
		return NULL;
	if (!cJSON_IsObject(out))
		return out;
	if (set(d->kafka_bootstrap)) {
		cJSON *k = cJSON_GetObjectItemCaseSensitive(out, "kafka");
		if (k == NULL)
			k = cJSON_AddObjectToObject(out, "kafka");
		if (k == NULL)
			goto fail;
		/* The default cluster with its security; a resource's own tls or
		 * sasl is never mixed with the defaults. */
		if (cJSON_IsObject(k) && !cJSON_HasObjectItem(k, "bootstrap") &&
		    (cJSON_AddStringToObject(k, "bootstrap", d->kafka_bootstrap) == NULL ||
		     (!cJSON_HasObjectItem(k, "tls") && !cJSON_HasObjectItem(k, "sasl") &&
		      add_kafka_security(k, &d->kafka) < 0)))
			goto fail;
	}
	sinks = cJSON_GetObjectItemCaseSensitive(out, "sinks");
	if (sinks == NULL && (sinks = cJSON_AddObjectToObject(out, "sinks")) == NULL)
		goto fail;
	if (!cJSON_IsObject(sinks))
		return out; /* the parser will name the problem */
	if (set(d->redis_addr) && !cJSON_HasObjectItem(sinks, "redis")) {
		cJSON *r = cJSON_AddObjectToObject(sinks, "redis");
		cJSON *pw;
		if (r == NULL || cJSON_AddStringToObject(r, "addr", d->redis_addr) == NULL)
			goto fail;
		if (set(d->redis_password_secret) && set(d->redis_password_key) &&
		    ((set(d->redis_username) &&
		      cJSON_AddStringToObject(r, "username", d->redis_username) == NULL) ||
		     (pw = cJSON_AddObjectToObject(r, "password")) == NULL ||
		     cJSON_AddStringToObject(pw, "name", d->redis_password_secret) == NULL ||
		     cJSON_AddStringToObject(pw, "key", d->redis_password_key) == NULL))
			goto fail;
	}
	if (set(d->postgres_secret) && !cJSON_HasObjectItem(sinks, "postgres")) {
		cJSON *p = cJSON_AddObjectToObject(sinks, "postgres");
		cJSON *dsn = p != NULL ? cJSON_AddObjectToObject(p, "dsn") : NULL;
		if (dsn == NULL ||
		    cJSON_AddStringToObject(dsn, "name", d->postgres_secret) == NULL ||
		    cJSON_AddStringToObject(dsn, "key", "dsn") == NULL)
			goto fail;
	}
	if (set(d->influx_url) && set(d->influx_database) &&
	    !cJSON_HasObjectItem(sinks, "influxdb")) {
		cJSON *i = cJSON_AddObjectToObject(sinks, "influxdb");
		if (i == NULL || cJSON_AddStringToObject(i, "url", d->influx_url) == NULL ||
		    cJSON_AddStringToObject(i, "database", d->influx_database) == NULL)
			goto fail;
	}
	if (cJSON_GetArraySize(sinks) == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(out, "sinks");
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

/* "secret/key": a Secret's name (a DNS subdomain) and one of its keys. */
static int ref_ok(const char *ref)
{
	const char *slash = strchr(ref, '/');
	char name[SPEC_NAME_MAX + 1];
	size_t n;

	if (slash == NULL || (n = (size_t)(slash - ref)) > SPEC_NAME_MAX)
		return 0;
	memcpy(name, ref, n);
	name[n] = '\0';
	if (!spec_dns_name_ok(name, SPEC_NAME_MAX, 1) || slash[1] == '\0' ||
	    strlen(slash + 1) > SPEC_NAME_MAX)
		return 0;
	for (const char *p = slash + 1; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return 0;
	return 1;
}

int spec_defaults_kafka_check(const struct spec_kafka_defaults *k, const char *bootstrap,
                              char *errbuf, size_t errbuf_size)
{
	const struct {
		const char *flag, *value;
	} refs[] = {
	    {"--kafka-ca-secret", k->ca},
	    {"--kafka-cert-secret", k->cert},
	    {"--kafka-key-secret", k->key},
	    {"--kafka-sasl-username-secret", k->sasl_username},
	    {"--kafka-sasl-password-secret", k->sasl_password},
	};
	enum spec_sasl_mechanism m;

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (set(refs[i].value) && !ref_ok(refs[i].value)) {
			snprintf(errbuf, errbuf_size,
			         "%s: \"%s\" is not secret/key (a Secret in each resource's "
			         "namespace and its key)",
			         refs[i].flag, refs[i].value);
			return -1;
		}
	if (set(k->cert) != set(k->key)) {
		snprintf(errbuf, errbuf_size,
		         "--kafka-cert-secret and --kafka-key-secret: give both or neither");
		return -1;
	}
	if (set(k->server_name) &&
	    (!spec_no_blank(k->server_name) || strlen(k->server_name) > SPEC_NAME_MAX)) {
		snprintf(errbuf, errbuf_size, "--kafka-server-name: \"%s\" is not a host name",
		         k->server_name);
		return -1;
	}
	if (set(k->sasl_mechanism) && spec_sasl_mechanism_parse(k->sasl_mechanism, &m) < 0) {
		snprintf(errbuf, errbuf_size,
		         "--kafka-sasl-mechanism: \"%s\" is not one of PLAIN, SCRAM-SHA-256, "
		         "SCRAM-SHA-512",
		         k->sasl_mechanism);
		return -1;
	}
	if (kafka_sasl_set(k) && !set(k->sasl_mechanism)) {
		snprintf(errbuf, errbuf_size,
		         "--kafka-sasl-mechanism: required with --kafka-sasl-username-secret and "
		         "--kafka-sasl-password-secret");
		return -1;
	}
	if (set(k->sasl_mechanism) && (!set(k->sasl_username) || !set(k->sasl_password))) {
		snprintf(errbuf, errbuf_size, "%s: required with --kafka-sasl-mechanism %s",
		         set(k->sasl_username) ? "--kafka-sasl-password-secret"
		                               : "--kafka-sasl-username-secret",
		         k->sasl_mechanism);
		return -1;
	}
	if ((kafka_tls_set(k) || kafka_sasl_set(k)) && !set(bootstrap)) {
		snprintf(errbuf, errbuf_size,
		         "--kafka-bootstrap: required with the default cluster's TLS or SASL "
		         "(--kafka-tls, --kafka-sasl-mechanism, ...)");
		return -1;
	}
	return 0;
}

int spec_defaults_kafka_from(const struct config *cfg, const char *bootstrap,
                             struct spec_kafka_defaults *out, char *errbuf, size_t errbuf_size)
{
	*out = (struct spec_kafka_defaults){
	    .tls = config_get_bool(cfg, "kafka-tls"),
	    .ca = config_get_string(cfg, "kafka-ca-secret"),
	    .cert = config_get_string(cfg, "kafka-cert-secret"),
	    .key = config_get_string(cfg, "kafka-key-secret"),
	    .server_name = config_get_string(cfg, "kafka-server-name"),
	    .sasl_mechanism = config_get_string(cfg, "kafka-sasl-mechanism"),
	    .sasl_username = config_get_string(cfg, "kafka-sasl-username-secret"),
	    .sasl_password = config_get_string(cfg, "kafka-sasl-password-secret"),
	};
	return spec_defaults_kafka_check(out, bootstrap, errbuf, errbuf_size);
}
