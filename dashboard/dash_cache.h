/* dash_cache.h -- everything the dashboard shows of the API server, in
 * memory: one reflector (lib/kube/reflector.h: list, then watch) per kind
 * (VideoJobs, TelemetryWindows, VideoWatches), in every namespace or one,
 * and beside each store an index the pages read without parsing anything:
 * each resource's list row as JSON text, built once per change
 * (dash_view_row), and its workers' samples (dash_ring.h), one taken of
 * every resource every sample interval. A list request copies the rows
 * under a read lock, so it answers in well under a millisecond per
 * thousand resources however large the objects are.
 *
 * Threads: dash_cache_start starts one thread per reflector and a sampler
 * thread; every other function may be called from any thread at once.
 * Ownership: returned text and trees are the caller's (free, cJSON_Delete).
 */
#ifndef SLUICE_DASH_CACHE_H
#define SLUICE_DASH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dash_view.h"
#include "kube_client.h"
#include "kube_watch.h"
#include "metrics.h"

#define DASH_GROUP "sluice.dev"
#define DASH_VERSION "v1alpha1"
/* Most resources of one kind held. */
#define DASH_CACHE_MAX_OBJECTS 100000

struct dash_cache_options {
	/* The API server; NULL for a cache fed by dash_cache_apply alone (tests). */
	struct kube_client *kube;
	const char *namespace; /* NULL or "": every namespace */
	int64_t history_ms;    /* how far back samples go (the rings' length) */
	int64_t sample_ms;     /* how often every resource is sampled; 0: never (tests) */
	struct metrics_registry *metrics; /* sluice_dashboard_cache_objects; may be NULL */
};

struct dash_cache;

/* Creates the cache and starts its threads. Returns 0 with *out set, or -1
 * with errbuf saying why. */
int dash_cache_start(struct dash_cache **out, const struct dash_cache_options *o, char *errbuf,
                     size_t errbuf_size);

/* Stops the threads (within about a second) and frees everything. NULL is
 * a no-op. */
void dash_cache_stop(struct dash_cache *c);

/* Whether kind k has been listed once. */
int dash_cache_synced(struct dash_cache *c, enum dash_kind k);

/* /readyz: 0 once VideoJobs and TelemetryWindows are listed (VideoWatches
 * are not waited for: a cluster without their CRD still gets a
 * dashboard); else 1 with the reason. */
int dash_cache_ready(void *cache, char *reason, size_t reason_size);

/*
 * The list of kind k as the API returns it, rows sorted by namespace and
 * name, only namespace ns unless ns is NULL or "":
 *   {"kind":"VideoJob","synced":true,"count":2,"items":[row, row]}
 * A malloc'd string (*len bytes, NUL-terminated), NULL when out of memory.
 */
char *dash_cache_list(struct dash_cache *c, enum dash_kind k, const char *ns, size_t *len);

/* A copy of the cached object, or NULL when there is none. */
cJSON *dash_cache_get(struct dash_cache *c, enum dash_kind k, const char *ns, const char *name);

/* The resource's samples of the last history_ms (dash_ring_json), or NULL
 * when it has none. */
cJSON *dash_cache_samples(struct dash_cache *c, enum dash_kind k, const char *ns, const char *name);

/*
 * Every worker group's samples (VideoJobs and TelemetryWindows; only kind
 * k unless k is DASH_KINDS), at most max of them, the largest lag now
 * first:
 *   {"total":N,"items":[{"kind","namespace","name","samples":{...}}]}
 * A malloc'd string, NULL when out of memory.
 */
char *dash_cache_workers(struct dash_cache *c, enum dash_kind k, size_t max, size_t *len);

/* Takes one sample of every resource at now_ms (the sampler does it every
 * sample_ms). */
void dash_cache_sample_now(struct dash_cache *c, int64_t now_ms);

/* Applies a watch event to kind k's store and index as a reflector would;
 * takes obj. For caches made without kube (tests). Returns 0 or -1. */
int dash_cache_apply(struct dash_cache *c, enum dash_kind k, enum kube_watch_type type, cJSON *obj);

/* Resources of kind k held. */
size_t dash_cache_len(struct dash_cache *c, enum dash_kind k);

#endif
