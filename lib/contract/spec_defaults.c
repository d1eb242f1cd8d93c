/* spec_defaults.c -- see spec_defaults.h. */
#include "spec_defaults.h"

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
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
		if (k == NULL ||
		    (cJSON_IsObject(k) && !cJSON_HasObjectItem(k, "bootstrap") &&
		     cJSON_AddStringToObject(k, "bootstrap", d->kafka_bootstrap) == NULL))
			goto fail;
	}
	sinks = cJSON_GetObjectItemCaseSensitive(out, "sinks");
	if (sinks == NULL && (sinks = cJSON_AddObjectToObject(out, "sinks")) == NULL)
		goto fail;
	if (!cJSON_IsObject(sinks))
		return out; /* the parser will name the problem */
	if (set(d->redis_addr) && !cJSON_HasObjectItem(sinks, "redis")) {
		cJSON *r = cJSON_AddObjectToObject(sinks, "redis");
		if (r == NULL || cJSON_AddStringToObject(r, "addr", d->redis_addr) == NULL)
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
