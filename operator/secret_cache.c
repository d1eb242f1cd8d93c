/* secret_cache.c - see secret_cache.h. */
#include "secret_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kube_client.h"
#include "kube_config.h"

struct entry {
	char *key;     /* "<ns>/<name>"; NULL: a free slot */
	cJSON *data;   /* the Secret's data (NULL: it had none, or it is missing) */
	int missing;   /* the API server said it does not exist */
	int64_t at_ms; /* when read */
};

struct secret_cache {
	pthread_mutex_t mu;
	secret_fetch_fn fetch;
	void *arg;
	int64_t ttl_ms;
	struct entry e[SECRET_CACHE_MAX];
};

struct secret_cache *secret_cache_new(secret_fetch_fn fetch, void *arg, int64_t ttl_ms)
{
	struct secret_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return NULL;
	}
	c->fetch = fetch;
	c->arg = arg;
	c->ttl_ms = ttl_ms;
	return c;
}

static void entry_clear(struct entry *e)
{
	free(e->key);
	cJSON_Delete(e->data);
	memset(e, 0, sizeof(*e));
}

void secret_cache_free(struct secret_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < SECRET_CACHE_MAX; i++)
		entry_clear(&c->e[i]);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int secret_cache_kube_fetch(void *arg, const char *ns, const char *name, cJSON **out, char *why,
                            size_t why_size)
{
	struct kube_ref ref = {"", "v1", "secrets", ns, name, NULL};
	struct kube_error err;
	char msg[600];
	int rc = kube_client_get(arg, &ref, out, &err);

	if (rc == 0)
		return 0;
	if (rc == KUBE_ENOTFOUND)
		return 1;
	snprintf(why, why_size, "%s", kube_error_format(&err, msg, sizeof(msg)));
	return -1;
}

/* data[key] decoded (secret_value with the Secret's data). */
static int data_value(const cJSON *data, const char *ns, const char *name, const char *key,
                      char **out, char *why, size_t why_size)
{
	const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, key));
	unsigned char *v = NULL;
	size_t len = 0;

	*out = NULL;
	if (b64 == NULL) {
		snprintf(why, why_size, "Secret \"%s\" in namespace \"%s\" has no key \"%s\"", name,
		         ns, key);
		return -1;
	}
	if (kube_config_base64_decode(b64, strlen(b64), &v, &len) != 0) {
		snprintf(why, why_size,
		         "Secret \"%s\" in namespace \"%s\": key \"%s\" is not valid base64", name,
		         ns, key);
		return -1;
	}
	*out = (char *)v;
	return 0;
}

int secret_value(const cJSON *secret, const char *ns, const char *name, const char *key, char **out,
                 char *why, size_t why_size)
{
	return data_value(cJSON_GetObjectItemCaseSensitive(secret, "data"), ns, name, key, out, why,
	                  why_size);
}

/* The entry for key: the one kept, else a free slot or the oldest. */
static struct entry *slot_of(struct secret_cache *c, const char *key, int *hit)
{
	struct entry *slot = NULL;

	*hit = 0;
	for (size_t i = 0; i < SECRET_CACHE_MAX; i++) {
		struct entry *e = &c->e[i];
		if (e->key != NULL && strcmp(e->key, key) == 0) {
			*hit = 1;
			return e;
		}
		if (slot == NULL ||
		    (slot->key != NULL && (e->key == NULL || e->at_ms < slot->at_ms)))
			slot = e;
	}
	return slot;
}

char *secret_cache_get(struct secret_cache *c, const char *ns, const char *name, const char *key,
                       int64_t now_ms, char *why, size_t why_size)
{
	char k[600];
	struct entry *e;
	cJSON *obj = NULL, *data = NULL;
	char *value = NULL;
	int hit, rc;

	snprintf(k, sizeof(k), "%s/%s", ns, name);
	pthread_mutex_lock(&c->mu);
	e = slot_of(c, k, &hit);
	if (hit && now_ms - e->at_ms < c->ttl_ms) {
		if (e->missing)
			snprintf(why, why_size, "Secret \"%s\" does not exist in namespace \"%s\"",
			         name, ns);
		else
			data_value(e->data, ns, name, key, &value, why, why_size);
		pthread_mutex_unlock(&c->mu);
		return value;
	}
	pthread_mutex_unlock(&c->mu);

	/* Read it again, outside the lock (another thread may read it at the
	 * same time; both answers are the API server's). */
	why[0] = '\0';
	rc = c->fetch(c->arg, ns, name, &obj, why, why_size);
	if (rc < 0) {
		char detail[512];
		snprintf(detail, sizeof(detail), "%s", why);
		snprintf(why, why_size, "Secret \"%s\" in namespace \"%s\": %s", name, ns, detail);
		return NULL;
	}
	if (rc == 0) {
		secret_value(obj, ns, name, key, &value, why, why_size);
		data = cJSON_DetachItemFromObjectCaseSensitive(obj, "data");
		cJSON_Delete(obj);
	} else {
		snprintf(why, why_size, "Secret \"%s\" does not exist in namespace \"%s\"", name,
		         ns);
	}
	pthread_mutex_lock(&c->mu);
	e = slot_of(c, k, &hit);
	if (!hit) {
		entry_clear(e);
		e->key = strdup(k);
	}
	if (e->key != NULL) {
		cJSON_Delete(e->data);
		e->data = data;
		data = NULL;
		e->missing = rc == 1;
		e->at_ms = now_ms;
	}
	pthread_mutex_unlock(&c->mu);
	cJSON_Delete(data);
	return value;
}

const char *secret_lookup_get(void *ctx, const char *name, const char *key, char *why,
                              size_t why_size)
{
	struct secret_lookup *l = ctx;
	char *v;

	if (l->n >= SECRET_LOOKUP_MAX) {
		snprintf(why, why_size, "more than %d Secret keys", SECRET_LOOKUP_MAX);
		return NULL;
	}
	v = secret_cache_get(l->cache, l->ns, name, key,
	                     l->now_ms != 0 ? l->now_ms : clock_mono_ms(), why, why_size);
	if (v != NULL)
		l->held[l->n++] = v;
	return v;
}

void secret_lookup_free(struct secret_lookup *l)
{
	for (size_t i = 0; i < l->n; i++) {
		volatile char *p = l->held[i];
		while (*p != '\0')
			*p++ = '\0';
		free(l->held[i]);
		l->held[i] = NULL;
	}
	l->n = 0;
}
