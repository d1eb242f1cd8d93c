/*
 * kube_client.h - a thin Kubernetes REST client over libcurl and cJSON.
 *
 * One client holds the configuration (kube_config.h) and a small pool of
 * libcurl easy handles; each handle keeps its connection alive between
 * requests (HTTP/2 over TLS when the server offers it, else HTTP/1.1), so a
 * reconcile pays no TLS handshake. Requests name an object by struct kube_ref
 * (group, version, plural, namespace, name, subresource); bodies go out and
 * come back as cJSON. A non-2xx answer is decoded from the API's Status into
 * struct kube_error and returned as a distinct negative code (kube_status.h);
 * a request that got no answer returns KUBE_ETRANSPORT.
 *
 * Threads: every function may be called from any thread at once. A request
 * takes a handle from the pool for its duration (a watch for minutes), waiting
 * when all max_handles are busy; the bearer token is read under the client's
 * lock; kube_client_stats() reads counters that requests update atomically.
 *
 * Ownership: cJSON given to a request is only read. cJSON returned in *out is
 * the caller's to cJSON_Delete(); *out is NULL on every error. out may be NULL
 * where the answer is not wanted (except for kube_client_list_all), and so
 * may err; err is cleared at the start of every call.
 */
#ifndef SLUICE_KUBE_CLIENT_H
#define SLUICE_KUBE_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "kube_config.h"
#include "kube_status.h"

/* Longest request path plus query string we build (names are at most 253
 * bytes; selectors and continue tokens are what make it long). */
#define KUBE_PATH_MAX 4096

/*
 * Names an object or a collection:
 *   {"", "v1", "configmaps", "ns", "cm"}            /api/v1/namespaces/ns/configmaps/cm
 *   {"apps", "v1", "deployments", "ns", "d", "scale"}
 *                                    /apis/apps/v1/namespaces/ns/deployments/d/scale
 *   {"", "v1", "namespaces", NULL, "ns"}            /api/v1/namespaces/ns
 * namespace NULL means a cluster-scoped resource, or every namespace for list
 * and watch. Strings are borrowed for the call.
 */
struct kube_ref {
	const char *group;       /* NULL or "" for the core group (/api/v1) */
	const char *version;     /* "v1", "v1alpha1" */
	const char *resource;    /* the plural: "configmaps", "videojobs" */
	const char *namespace;   /* NULL: cluster-scoped or all namespaces */
	const char *name;        /* NULL for list, watch and create */
	const char *subresource; /* NULL, "status" or "scale" */
};

/*
 * Writes ref's path into buf (size bytes). Every segment must be non-empty
 * and free of '/', '?', '#', '%', whitespace and control bytes, and not "." or
 * "..", so a name from a resource cannot walk the URL elsewhere; a
 * subresource needs a name. Returns 0, or KUBE_EINVAL (bad segment, too long).
 * Pure.
 */
int kube_path(char *buf, size_t size, const struct kube_ref *ref);

/*
 * Appends "?key=value" or "&key=value" to the NUL-terminated buf, value
 * percent-encoded (everything but RFC 3986 unreserved characters), so label
 * selectors such as "app in (a,b)" and opaque continue tokens survive.
 * value NULL or "" appends nothing. Returns 0 or KUBE_EINVAL (no room; buf is
 * then unchanged). Pure.
 */
int kube_query_add(char *buf, size_t size, const char *key, const char *value);

/* ---------------------------------------------------------------- stats */

enum kube_verb {
	KUBE_VERB_GET,
	KUBE_VERB_LIST,
	KUBE_VERB_WATCH,
	KUBE_VERB_CREATE,
	KUBE_VERB_REPLACE,
	KUBE_VERB_APPLY,
	KUBE_VERB_PATCH,
	KUBE_VERB_DELETE,
	KUBE_VERB_COUNT
};

/* Response codes counted one by one; others land in "other", requests
 * without an answer in "error". kube_stats_code_name() gives the labels. */
#define KUBE_STATS_CODES 18

/* Requests so far, per verb and response code, for client-go's
 * rest_client_requests_total{verb,code}. */
struct kube_client_stats {
	unsigned long long requests[KUBE_VERB_COUNT][KUBE_STATS_CODES];
	/* New connections opened (TCP + TLS handshakes); far below the request
	 * count when connections are reused. */
	unsigned long long connects;
	/* Answers that came over HTTP/2. */
	unsigned long long http2;
};

/* "get", "list", ...; "unknown" out of range. Static strings. */
const char *kube_verb_name(enum kube_verb verb);
/* "200", "404", ..., "other", "error"; NULL out of range. Static strings. */
const char *kube_stats_code_name(int index);
/* The index counting HTTP code (0: no answer). Pure. */
int kube_stats_code_index(int http_code);

/* ---------------------------------------------------------------- client */

enum kube_http_version {
	KUBE_HTTP_2 = 0, /* HTTP/2 over TLS when the server agrees (ALPN), else 1.1 */
	KUBE_HTTP_1_1,   /* HTTP/1.1 only */
};

struct kube_client_options {
	long connect_timeout_ms; /* 0: 10000 */
	long timeout_ms;         /* whole request, watches excepted; 0: 30000 */
	enum kube_http_version http_version;
	size_t max_response_bytes; /* 0: 64 MiB; past it: KUBE_ETOOLARGE */
	unsigned max_handles;      /* concurrent requests (watches count); 0: 4 */
	const char *user_agent;    /* NULL: "sluice-operator/<version>"; copied */
};

struct kube_client;

/*
 * Creates a client from cfg, taking over what cfg owns (on success cfg is
 * left zeroed; on failure it is untouched and still the caller's). opts NULL
 * takes every default. Handles are made on first use, so this does no I/O.
 * Returns 0 with *out set, or KUBE_ENOMEM / KUBE_EINVAL with errbuf set.
 */
int kube_client_new(struct kube_client **out, struct kube_config *cfg,
                    const struct kube_client_options *opts, char *errbuf, size_t errbuf_size);

/* Closes connections and frees everything. No request may be running.
 * NULL is a no-op. */
void kube_client_free(struct kube_client *c);

/* The configuration in use (its namespace, server, source). Owned by c. */
const struct kube_config *kube_client_config(const struct kube_client *c);

/* Copies the counters; any thread. */
void kube_client_stats(struct kube_client *c, struct kube_client_stats *out);

/* ---------------------------------------------------------------- verbs */

/* GET one object (or its /status or /scale). KUBE_ENOTFOUND when absent. */
int kube_client_get(struct kube_client *c, const struct kube_ref *ref, cJSON **out,
                    struct kube_error *err);

struct kube_list_opts {
	const char *label_selector;   /* "app=x,tier!=db"; NULL for all */
	const char *field_selector;   /* "metadata.name=x"; NULL for all */
	const char *resource_version; /* NULL/"": consistent read; "0": any (cache) */
	const char *continue_token;   /* from a previous page's metadata.continue */
	long limit;                   /* page size; 0: no limit */
};

/*
 * One page of a collection (ref->name NULL). The next page's token is the
 * result's metadata.continue; an expired token gives KUBE_EGONE (relist).
 */
int kube_client_list(struct kube_client *c, const struct kube_ref *ref,
                     const struct kube_list_opts *opts, cJSON **out, struct kube_error *err);

/*
 * Told of each item of a LIST page, in order; item is the callee's (kept or
 * cJSON_Delete'd). Returns 0 to go on, or a kube_* code that ends the walk
 * and is returned.
 */
typedef int (*kube_list_item_fn)(cJSON *item, void *opaque);

/*
 * One page, as kube_client_list, parsed one item at a time: the page is
 * never one cJSON tree (a tree takes several times its text: 500
 * Deployments are ~2.5 MB of JSON and far more as a tree), so the peak is
 * the page's text plus one item. Each item goes to fn; *meta receives the
 * list's metadata (resourceVersion, continue), the caller's to free, NULL
 * when absent. Items handed over before an error stay the callee's.
 */
int kube_client_list_each(struct kube_client *c, const struct kube_ref *ref,
                          const struct kube_list_opts *opts, kube_list_item_fn fn, void *opaque,
                          cJSON **meta, struct kube_error *err);

/*
 * The walk behind kube_client_list_each over a list's text (len bytes): a
 * JSON object whose "items" array's elements go to fn one by one, whose
 * "metadata" goes to *meta, and whose other members are parsed and
 * dropped. Returns KUBE_OK, KUBE_EPROTOCOL (not such an object; *meta
 * NULL) or fn's code. Pure; exposed for tests.
 */
int kube_list_each_item(const char *text, size_t len, kube_list_item_fn fn, void *opaque,
                        cJSON **meta);

/*
 * Every page, following metadata.continue (at most KUBE_LIST_MAX_PAGES): one
 * list object with all items and the first page's metadata.resourceVersion,
 * which a watch then starts from. opts->limit is the page size.
 */
#define KUBE_LIST_MAX_PAGES 10000
int kube_client_list_all(struct kube_client *c, const struct kube_ref *ref,
                         const struct kube_list_opts *opts, cJSON **out, struct kube_error *err);

/* POST body to the collection (ref->name NULL). KUBE_EEXISTS when taken. */
int kube_client_create(struct kube_client *c, const struct kube_ref *ref, const cJSON *body,
                       cJSON **out, struct kube_error *err);

/* PUT body over the object: optimistic concurrency on the body's
 * metadata.resourceVersion (KUBE_ECONFLICT when it moved), e.g. a Lease. */
int kube_client_replace(struct kube_client *c, const struct kube_ref *ref, const cJSON *body,
                        cJSON **out, struct kube_error *err);

/*
 * Server-side apply: PATCH application/apply-patch+yaml with fieldManager
 * (required, at most 128 bytes) and force=true when force is set (take
 * fields over from other managers). body holds apiVersion, kind, metadata
 * name (and namespace) and only the fields this manager owns; JSON is YAML.
 * Creates the object when absent. Idempotent.
 */
int kube_client_apply(struct kube_client *c, const struct kube_ref *ref, const cJSON *body,
                      const char *field_manager, int force, cJSON **out, struct kube_error *err);

/* JSON merge patch (RFC 7386, application/merge-patch+json): null deletes a
 * key, objects merge, lists are replaced whole. */
int kube_client_merge_patch(struct kube_client *c, const struct kube_ref *ref, const cJSON *patch,
                            cJSON **out, struct kube_error *err);

/* JSON patch (RFC 6902, application/json-patch+json): an array of ops; a
 * failed "test" op gives KUBE_EINVALID. */
int kube_client_json_patch(struct kube_client *c, const struct kube_ref *ref, const cJSON *ops,
                           cJSON **out, struct kube_error *err);

struct kube_delete_opts {
	const char *propagation_policy; /* "Foreground", "Background", "Orphan"; NULL: default */
	long grace_period_seconds;      /* < 0: the object's default */
	const char *precondition_uid;   /* delete only this incarnation; NULL: any */
	const char *precondition_resource_version; /* NULL: any */
};

/*
 * DELETE the object. opts may be NULL. *out (out may be NULL) is the object
 * (still present with deletionTimestamp while finalizers run) or a Status.
 */
int kube_client_delete(struct kube_client *c, const struct kube_ref *ref,
                       const struct kube_delete_opts *opts, cJSON **out, struct kube_error *err);

/* Sets spec.replicas through the /scale subresource (merge patch); ref names
 * the Deployment (or any scalable resource); ref->subresource is ignored. */
int kube_client_scale(struct kube_client *c, const struct kube_ref *ref, int replicas, cJSON **out,
                      struct kube_error *err);

/*
 * Any request: method ("GET", "POST", ...), path_query (from kube_path and
 * kube_query_add), content_type of body (NULL when body is NULL), counted
 * under verb. For paths the typed calls do not cover (/version, Events).
 */
int kube_client_request(struct kube_client *c, enum kube_verb verb, const char *method,
                        const char *path_query, const char *content_type, const cJSON *body,
                        cJSON **out, struct kube_error *err);

/*
 * Streams a GET's 2xx body to fn in the chunks libcurl delivers (for
 * watches; kube_watch.h decodes them). fn returns 0 to go on, or non-zero to
 * end the request, which then returns that value. stop (may be NULL) is
 * checked at least once a second, idle or not: when it reads non-zero the
 * request ends with KUBE_ESTOPPED. timeout_ms bounds the whole request (0:
 * none). A non-2xx answer is read (bounded) and decoded as a Status.
 * Returns 0 when the server ended the body.
 */
typedef int (*kube_stream_fn)(const char *data, size_t len, void *opaque);
int kube_client_stream(struct kube_client *c, const char *path_query, long timeout_ms,
                       const atomic_int *stop, kube_stream_fn fn, void *opaque,
                       struct kube_error *err);

#endif /* SLUICE_KUBE_CLIENT_H */
