/*
 * reflector.h - keeps an in-memory cache of one kind of Kubernetes object in
 * step with the API server, and says what changed.
 *
 * client-go's Reflector (tools/cache/reflector.go; docs/operator-internals.md) in two parts:
 *
 *   - The store (pure: no I/O): objects keyed by "namespace/name" ("name"
 *     for cluster-scoped ones), fed watch events one at a time
 *     (reflector_store_apply) or a listing page by page
 *     (reflector_store_list_begin / _page / _end: mark and sweep, so a
 *     listing holds the store plus one page, never a second copy).
 *     Each change is reported to a handler, which in the operator enqueues
 *     a key (workqueue.h).
 *   - The loop (reflector_run): LIST page by page into the store, WATCH
 *     from the list's resourceVersion with bookmarks; when the watch ends,
 *     watch again from the last resourceVersion seen; on 410 Gone relist;
 *     when the API server is away, retry with capped, jittered exponential
 *     backoff. It never gives up: only the stop flag ends it.
 *
 * Ownership: the store owns its objects, held as compact JSON text without
 * managedFields and kubectl's last-applied annotation (and projected
 * further where a projection is set), deflated against the store's first
 * object as a preset dictionary (objects of one kind share most of their
 * text: a TelemetryWindow's 1.5 KiB take ~80 bytes). Callers get trees parsed from that
 * text (reflector_store_get) that they free with cJSON_Delete. A handler gets
 * borrowed pointers that are valid only during the call. Objects handed to
 * reflector_store_apply / _list_page / _replace become the store's (or are
 * freed by it), whatever the result.
 *
 * Threads: a store has one writer (the thread running the reflector, or the
 * test calling apply/list/replace) and any number of readers: reflector_store_get,
 * _len and _foreach may be called from any thread at once; a mutex guards
 * the map. Handlers run on the writer's thread without the store's lock
 * held, so they may read the store. reflector_run() runs on its caller's
 * thread (no thread of its own); reflector_synced() and reflector_stats()
 * may be called from any thread while it runs.
 */
#ifndef SLUICE_REFLECTOR_H
#define SLUICE_REFLECTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kube_client.h"
#include "kube_watch.h"

/* "namespace/name": a namespace (63) and a name (253) at most, and a NUL. */
#define REFLECTOR_KEY_MAX 320
#define REFLECTOR_MAX_OBJECTS_DEFAULT 100000

enum reflector_rc {
	REFLECTOR_OK = 0,
	REFLECTOR_EINVAL = -1,   /* no metadata.name, a key too long, bad options */
	REFLECTOR_ENOMEM = -2,   /* an allocation failed */
	REFLECTOR_EFULL = -3,    /* max_objects objects held: the object was dropped */
	REFLECTOR_ENOTFOUND = -4 /* reflector_store_get: no such key */
};

enum reflector_event {
	REFLECTOR_ADDED,
	REFLECTOR_UPDATED,
	REFLECTOR_DELETED,
};

/* "added", "updated", "deleted"; "unknown" out of range. Static strings. */
const char *reflector_event_name(enum reflector_event ev);

/*
 * Told of every change to the store, in order. key is the object's store
 * key. ADDED: obj is the new object, old NULL. UPDATED: obj the new, old the
 * previous. DELETED: obj NULL, old the last state known (the stored one, or
 * the DELETED event's own object when the store never held it). All three
 * are borrowed for the call.
 */
typedef void (*reflector_handler_fn)(enum reflector_event ev, const char *key, const cJSON *obj,
                                     const cJSON *old, void *opaque);

/* ---------------------------------------------------------------- the store */

struct reflector_store;

/* A store for at most max_objects objects (0: REFLECTOR_MAX_OBJECTS_DEFAULT;
 * see reflector_store_list_begin for the one exception). Returns 0 with
 * *out set, or REFLECTOR_ENOMEM. */
int reflector_store_new(struct reflector_store **out, size_t max_objects);

/* Frees the store and every object in it. NULL is a no-op. */
void reflector_store_free(struct reflector_store *s);

/* Cuts an object down, in place, to what its cache's readers use. */
typedef void (*reflector_project_fn)(cJSON *obj);

/* Every object stored from now on goes through fn first (NULL: none).
 * Call before the store is fed. */
void reflector_store_set_project(struct reflector_store *s, reflector_project_fn fn);

/* A projection for watches that only need to know an object exists and
 * whose it is (an owner watching its children): metadata's name,
 * namespace, uid, resourceVersion, generation, labels, ownerReferences and
 * deletionTimestamp; nothing else. controller-runtime's metadata-only
 * informers keep the same. */
void reflector_keep_metadata(cJSON *obj);

/*
 * The store key of obj into buf (size bytes): "<namespace>/<name>", or
 * "<name>" without a namespace (client-go's MetaNamespaceKeyFunc). Returns
 * 0, or REFLECTOR_EINVAL when metadata.name is missing or empty, a part
 * holds '/', or the key does not fit. Pure.
 */
int reflector_object_key(const cJSON *obj, char *buf, size_t size);

/*
 * Applies one watch event: KUBE_WATCH_ADDED and _MODIFIED store obj (an
 * object already held with the same metadata.resourceVersion is left as is
 * and reported to nobody), KUBE_WATCH_DELETED removes it; other types are
 * ignored. fn (may be NULL) hears of the change. Takes obj in every case.
 * During a listing, an object stored counts as seen by it (it is newer than
 * the listing). Returns 0, REFLECTOR_EINVAL (no key; obj freed),
 * REFLECTOR_EFULL (a new object past max_objects; freed, not stored) or
 * REFLECTOR_ENOMEM.
 */
int reflector_store_apply(struct reflector_store *s, enum kube_watch_type type, cJSON *obj,
                          reflector_handler_fn fn, void *opaque);

/*
 * A listing, page by page (mark and sweep; client-go's Replace without the
 * second copy):
 *
 *   reflector_store_list_begin(s);
 *   for each LIST page: reflector_store_list_page(s, page's items, ...);
 *   reflector_store_list_end(s, ...);      or, when the LIST failed midway,
 *   reflector_store_list_abort(s);
 *
 * Each page's items are stored as the page arrives and reported as
 * reflector_store_apply reports them (added, updated; an object with the
 * resourceVersion held is unchanged and reported to nobody), so a
 * listing's peak is the store plus the one page being applied. _end removes
 * every object the listing did not see (deleted while no watch was
 * looking) and reports each as deleted. _abort forgets the listing: nothing
 * is deleted, what its pages stored stays (it was true when listed), and
 * the next complete listing sweeps. Readers see the store change page by
 * page.
 *
 * Bound: a listing keeps the first max_objects keys it sees; further ones
 * are dropped (counted; one held from before is then removed by the sweep,
 * as absent). Objects held from before that the listing has not seen (yet)
 * do not count against it, so while a listing runs, and after one that
 * failed until the next one ends, the store may hold up to 2 * max_objects
 * objects (as a whole-list replace holding the old content and the new side
 * by side would).
 *
 * *res (may be NULL) is added to, not reset: one struct sums a listing.
 */
struct reflector_replace_result {
	size_t added, updated, deleted, unchanged;
	size_t invalid; /* items without a key, skipped */
	size_t dropped; /* items past max_objects, skipped */
};

/* Starts a listing (one already open is abandoned, as by _abort). */
void reflector_store_list_begin(struct reflector_store *s);

/*
 * Applies one page: items (a JSON array of objects, a list's "items"; NULL
 * for none) is taken in every case. Returns 0, REFLECTOR_EFULL when some
 * were dropped, REFLECTOR_EINVAL (no listing open, or items is not an
 * array: nothing stored) or REFLECTOR_ENOMEM (the items before the failing
 * one were stored; call _abort).
 */
int reflector_store_list_page(struct reflector_store *s, cJSON *items, reflector_handler_fn fn,
                              void *opaque, struct reflector_replace_result *res);

/*
 * Applies one listed item (an object; taken in every case), as one of a
 * page's: for a listing read item by item (kube_client_list_each), whose
 * peak is then one item's tree, not a page's. Returns 0, REFLECTOR_EFULL
 * (dropped), REFLECTOR_EINVAL (no listing open, or not an object) or
 * REFLECTOR_ENOMEM.
 */
int reflector_store_list_item(struct reflector_store *s, cJSON *item, reflector_handler_fn fn,
                              void *opaque, struct reflector_replace_result *res);

/*
 * Ends the listing: removes every object it did not see, reporting each to
 * fn (may be NULL) as deleted, and closes it. Returns 0, REFLECTOR_EINVAL
 * (no listing open) or REFLECTOR_ENOMEM (nothing removed; the listing is
 * abandoned).
 */
int reflector_store_list_end(struct reflector_store *s, reflector_handler_fn fn, void *opaque,
                             struct reflector_replace_result *res);

/* Abandons the open listing, if any: nothing is deleted. */
void reflector_store_list_abort(struct reflector_store *s);

/*
 * A listing of one page (begin, page, end): replaces the whole content
 * with items, reporting to fn (may be NULL) every object added, every
 * object whose resourceVersion changed, and every object held before but
 * absent now. Takes items in every case. *res (may be NULL) is reset, then
 * counts what happened. Returns 0, REFLECTOR_EFULL when some were dropped
 * (the first max_objects keys are kept), REFLECTOR_EINVAL (items is not an
 * array; the store is unchanged) or REFLECTOR_ENOMEM (nothing deleted; the
 * items before the failure stay stored).
 */
int reflector_store_replace(struct reflector_store *s, cJSON *items, reflector_handler_fn fn,
                            void *opaque, struct reflector_replace_result *res);

/* A deep copy of the object under key into *out (the caller's to
 * cJSON_Delete). Returns 0, REFLECTOR_ENOTFOUND or REFLECTOR_ENOMEM; *out is
 * NULL on error. */
int reflector_store_get(struct reflector_store *s, const char *key, cJSON **out);

/* Objects held. */
size_t reflector_store_len(struct reflector_store *s);

/* Bytes the objects take as held (their data, resourceVersions, keys and
 * the dictionary; not the allocator's or the map's overhead). A walk of
 * the map under the lock: for tests and occasional reports. */
size_t reflector_store_bytes(struct reflector_store *s);

/*
 * Calls fn for every object, in no particular order, with the store locked
 * (so fn sees one consistent state) until fn returns non-zero, which is
 * returned. obj is borrowed for the call; fn must be quick and must not call
 * the store (it would deadlock). For a resync: enqueue every key.
 */
typedef int (*reflector_store_fn)(const char *key, const cJSON *obj, void *opaque);
int reflector_store_foreach(struct reflector_store *s, reflector_store_fn fn, void *opaque);

/*
 * The same walk over the keys and resourceVersions alone: no object is
 * parsed (a sweep for new and deleted keys costs a map walk, not a parse
 * per object). rv is "" for an object without one. Same rules as
 * reflector_store_foreach.
 */
typedef int (*reflector_store_key_fn)(const char *key, const char *rv, void *opaque);
int reflector_store_foreach_key(struct reflector_store *s, reflector_store_key_fn fn, void *opaque);

/*
 * The resourceVersion of the object under key into buf (NUL-terminated;
 * "" for an object without one), with no parse: a caller that remembers
 * it knows whether the object changed. Returns 0, REFLECTOR_ENOTFOUND, or
 * REFLECTOR_EINVAL when it does not fit in size (buf then "" if size > 0).
 */
int reflector_store_rv(struct reflector_store *s, const char *key, char *buf, size_t size);

/* ---------------------------------------------------------------- the loop */

struct reflector_options {
	const char *name;           /* for logs: "videojobs"; NULL: ref.resource */
	struct kube_client *client; /* borrowed; must outlive the reflector */
	/* What to list and watch: group, version, resource, namespace (NULL:
	 * all namespaces); name and subresource must be NULL. Copied. */
	struct kube_ref ref;
	const char *label_selector; /* NULL: all; copied */
	const char *field_selector; /* NULL: all; copied */
	long page_size;             /* LIST page size; 0: 500 */
	int watch_timeout_seconds;  /* 0: random in 300..599, as client-go */
	/* Backoff after a failed list or watch: starts at backoff_initial_ms,
	 * doubles per failure up to backoff_max_ms; each wait is drawn in
	 * [d/2, d] (jitter, so reflectors do not stampede a recovering API
	 * server). A watch that lasted backoff_reset_ms, or ended cleanly,
	 * resets it. 0: client-go's 800 ms, 30 s, 2 min. */
	int backoff_initial_ms;
	int backoff_max_ms;
	int backoff_reset_ms;
	size_t max_objects;           /* 0: REFLECTOR_MAX_OBJECTS_DEFAULT */
	reflector_project_fn project; /* NULL: objects kept whole (but trimmed) */
	/*
	 * NULL or "" (normal): LIST first. Otherwise skip the first LIST and WATCH
	 * from this resourceVersion, as a reflector resuming where it stopped
	 * would; the store starts empty and the reflector is not synced until a
	 * LIST (after a 410, say). Tests use it to reach the 410 path.
	 */
	const char *resume_resource_version;
	reflector_handler_fn handler; /* may be NULL */
	void *opaque;
	/* Required: set non-zero (any thread, a signal handler) to make
	 * reflector_run() return within about a second. */
	const atomic_int *stop;
};

/* Counters, for logs and /metrics. */
struct reflector_stats {
	uint64_t lists;          /* successful LISTs (whole listings) */
	uint64_t list_pages;     /* LIST pages received and stored, failed listings' too */
	uint64_t relists;        /* successful LISTs after the first, or after a 410 */
	uint64_t list_errors;    /* failed LISTs */
	uint64_t watches;        /* WATCH requests made */
	uint64_t watch_restarts; /* WATCHes after the first (any cause) */
	uint64_t watch_errors;   /* WATCHes that ended in an error, not a timeout */
	uint64_t expired;        /* 410 Gone: the resourceVersion was too old */
	uint64_t events;         /* ADDED/MODIFIED/DELETED applied */
	uint64_t bookmarks;
	uint64_t dropped; /* objects refused by the store (max_objects, no key) */
	size_t objects;   /* held now */
	int synced;       /* the first LIST has been stored */
	char resource_version[KUBE_WATCH_RV_MAX]; /* the last seen */
};

struct reflector;

/* Creates a reflector (and its store); no I/O. Returns 0 with *out set, or
 * REFLECTOR_EINVAL / REFLECTOR_ENOMEM with errbuf saying what. */
int reflector_new(struct reflector **out, const struct reflector_options *opts, char *errbuf,
                  size_t errbuf_size);

/* Frees the reflector and its store. reflector_run() must have returned.
 * NULL is a no-op. */
void reflector_free(struct reflector *r);

/*
 * Lists and watches until *opts->stop is set, then returns 0. Errors from
 * the API server (unreachable, 5xx, 403, a cut stream, a watch that ends
 * within a second having sent nothing) are logged and retried with
 * backoff, never returned. Call it once per reflector.
 */
int reflector_run(struct reflector *r);

/* Whether the first LIST has been stored (for /readyz). Any thread. */
int reflector_synced(struct reflector *r);

/* The reflector's store, for reads. Owned by r. */
struct reflector_store *reflector_get_store(struct reflector *r);

/* A consistent copy of the counters. Any thread. */
void reflector_stats(struct reflector *r, struct reflector_stats *out);

/*
 * The wait before retry number n (0-based) for the given settings and a
 * random value rnd in [0, 1]: d = min(initial * 2^n, max), waited
 * d/2 + rnd * d/2. Pure; exposed for tests.
 */
int64_t reflector_backoff_ms(unsigned n, int initial_ms, int max_ms, double rnd);

#endif /* SLUICE_REFLECTOR_H */
