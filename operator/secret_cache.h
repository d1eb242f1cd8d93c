/*
 * secret_cache.h - the Secrets a resource's Kafka settings name
 * (spec.kafka.tls, spec.kafka.sasl), read through the API server
 * (GET /api/v1/namespaces/<ns>/secrets/<name>) and kept for a short while,
 * so that reconciling many resources at a high rate does not GET a Secret
 * each time. A Secret changed in the API server is seen within the TTL;
 * a missing one is asked for again after the TTL too.
 *
 * Values never reach logs, Events or the status: lookups copy them into
 * the caller's struct secret_lookup, which frees (and clears) them.
 *
 * Threads: any thread; one mutex guards the cache (the API request runs
 * outside it).
 */
#ifndef SLUICE_SECRET_CACHE_H
#define SLUICE_SECRET_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct kube_client;

/* How long a Secret read (or found missing) is kept. */
#define SECRET_CACHE_TTL_MS 15000
/* Secrets kept at most; the oldest read goes first past it. */
#define SECRET_CACHE_MAX 256

/*
 * Reads Secret ns/name: 0 with *out (the object, the caller's), 1 when it
 * does not exist, -1 on any other failure with why (no secret values in
 * it). The kube adapter's is secret_cache_kube_fetch.
 */
typedef int (*secret_fetch_fn)(void *arg, const char *ns, const char *name, cJSON **out, char *why,
                               size_t why_size);

struct secret_cache;

/* A cache reading through fetch(arg, ...), keeping answers ttl_ms; NULL
 * when out of memory. */
struct secret_cache *secret_cache_new(secret_fetch_fn fetch, void *arg, int64_t ttl_ms);
void secret_cache_free(struct secret_cache *c);

/* The fetch of a kube_client (arg): GET through the API server. */
int secret_cache_kube_fetch(void *arg, const char *ns, const char *name, cJSON **out, char *why,
                            size_t why_size);

/*
 * data[key] of the Secret object secret, base64-decoded, into *out (the
 * caller's to free; NUL-terminated). Returns 0, or -1 with why:
 *   Secret "x" in namespace "y" has no key "password"
 *   Secret "x" in namespace "y": key "password" is not valid base64
 * (ns and name only for the text). Pure.
 */
int secret_value(const cJSON *secret, const char *ns, const char *name, const char *key, char **out,
                 char *why, size_t why_size);

/*
 * The value of key in Secret ns/name at now_ms (a monotonic clock in
 * milliseconds), from the cache when read less than the TTL ago, else
 * read again. Returns a copy (the caller's to free) or NULL with why:
 *   Secret "x" does not exist in namespace "y"
 *   Secret "x" in namespace "y" has no key "password"
 *   Secret "x" in namespace "y": <the API's answer>   (not kept)
 */
char *secret_cache_get(struct secret_cache *c, const char *ns, const char *name, const char *key,
                       int64_t now_ms, char *why, size_t why_size);

/* Lookups for one resource (namespace ns), as kafka_security.h's
 * spec_secret_fn: the values stay valid until secret_lookup_free. */
#define SECRET_LOOKUP_MAX 8
struct secret_lookup {
	struct secret_cache *cache;
	const char *ns;
	int64_t now_ms; /* 0: the monotonic clock at each lookup */
	char *held[SECRET_LOOKUP_MAX];
	size_t n;
};

/* spec_secret_fn over a struct secret_lookup (ctx). */
const char *secret_lookup_get(void *ctx, const char *name, const char *key, char *why,
                              size_t why_size);

/* Clears and frees the values held. */
void secret_lookup_free(struct secret_lookup *l);

#endif
