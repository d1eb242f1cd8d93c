/* kafka_security.c -- spec.kafka's tls and sasl to struct kafka_security;
 * see kafka_security.h. */
#include "kafka_security.h"

#include <stdio.h>
#include <string.h>

#include "secret_env.h"

/* *value from ref through get; a reference that is not set leaves it NULL. */
static int resolve(const struct spec_secret_ref *ref, const char *path, spec_secret_fn get,
                   void *ctx, const char **value, char *errbuf, size_t errbuf_size)
{
	char why[256] = "";

	*value = NULL;
	if (ref->name == NULL)
		return 0;
	*value = get(ctx, ref->name, ref->key, why, sizeof(why));
	if (*value == NULL || (*value)[0] == '\0') {
		snprintf(errbuf, errbuf_size, "%s: Secret \"%s\" key \"%s\": %s", path, ref->name,
		         ref->key, why[0] != '\0' ? why : "no value");
		*value = NULL;
		return -1;
	}
	return 0;
}

int spec_kafka_security(const struct spec_kafka *k, spec_secret_fn get, void *ctx,
                        struct kafka_security *out, char *errbuf, size_t errbuf_size)
{
	memset(out, 0, sizeof(*out));
	if (k->tls.enabled) {
		out->tls = 1;
		out->server_name = k->tls.server_name;
		if (resolve(&k->tls.ca, "spec.kafka.tls.ca", get, ctx, &out->ca_pem, errbuf,
		            errbuf_size) < 0 ||
		    resolve(&k->tls.cert, "spec.kafka.tls.cert", get, ctx, &out->cert_pem, errbuf,
		            errbuf_size) < 0 ||
		    resolve(&k->tls.key, "spec.kafka.tls.key", get, ctx, &out->key_pem, errbuf,
		            errbuf_size) < 0)
			return -1;
	}
	if (k->sasl.mechanism != SPEC_SASL_NONE) {
		out->sasl_mechanism = spec_sasl_mechanism_name(k->sasl.mechanism);
		if (resolve(&k->sasl.username, "spec.kafka.sasl.username", get, ctx, &out->username,
		            errbuf, errbuf_size) < 0 ||
		    resolve(&k->sasl.password, "spec.kafka.sasl.password", get, ctx, &out->password,
		            errbuf, errbuf_size) < 0)
			return -1;
	}
	return 0;
}

const char *spec_secret_from_env(void *ctx, const char *name, const char *key, char *why,
                                 size_t why_size)
{
	char var[256];
	const char *v;

	(void)ctx;
	var[0] = '\0';
	v = secret_env_get(name, key, var, sizeof(var));
	if (v == NULL)
		snprintf(why, why_size, "environment variable %s is unset or empty",
		         var[0] != '\0' ? var : "(name too long)");
	return v;
}

int spec_kafka_security_env(const struct spec_kafka *k, struct kafka_security *out, char *errbuf,
                            size_t errbuf_size)
{
	return spec_kafka_security(k, spec_secret_from_env, NULL, out, errbuf, errbuf_size);
}

size_t spec_kafka_secret_refs(const struct spec_kafka *k,
                              const struct spec_secret_ref *out[SPEC_KAFKA_SECRET_REFS_MAX])
{
	const struct spec_secret_ref *all[] = {&k->tls.ca, &k->tls.cert, &k->tls.key,
	                                       &k->sasl.username, &k->sasl.password};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (i < 3 && !k->tls.enabled)
			continue;
		if (i >= 3 && k->sasl.mechanism == SPEC_SASL_NONE)
			continue;
		if (all[i]->name != NULL && all[i]->key != NULL)
			out[n++] = all[i];
	}
	return n;
}
