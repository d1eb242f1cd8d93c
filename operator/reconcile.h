/*
 * reconcile.h - what the reconcilers share: their context, result codes,
 * and the API writes every kind makes the same way (status through /status
 * only when it changed, the finalizer, server-side apply of a child).
 *
 * A reconciler is called with one key at a time by the work queue (never
 * two workers on one key), reads the resource from its reflector's store,
 * and drives the cluster towards the state the resource describes. It is
 * idempotent: running it twice changes nothing the second time, and a
 * restarted operator finds its children by their fixed names.
 *
 * Threads: the context is read-only once built; its members are
 * thread-safe, so any number of workers share it.
 */
#ifndef SLUICE_RECONCILE_H
#define SLUICE_RECONCILE_H

#include <cjson/cJSON.h>

#include "children.h"
#include "events.h"
#include "kube_client.h"
#include "redis_pool.h"
#include "reflector.h"
#include "secret_cache.h"
#include "topics.h"

enum reconcile_rc {
	RECONCILE_OK = 0,    /* done; look again on the next change (its own,
	                        or a child's: a Deployment's or Job's status) */
	RECONCILE_POLL = 1,  /* done; look again after ctx->poll_ms too */
	RECONCILE_ERROR = -1 /* failed; retry with the key's backoff */
};

/* The finalizer that holds a resource until its external state is gone. */
#define RECONCILE_FINALIZER "sluice.dev/cleanup"
/* The server-side apply field manager of everything the operator writes. */
#define RECONCILE_FIELD_MANAGER "sluice-operator"

struct reconcile_ctx {
	struct kube_client *kube;
	struct reflector_store *tw_store; /* TelemetryWindows */
	struct reflector_store *vj_store; /* VideoJobs */
	struct reflector_store *vw_store; /* VideoWatches */
	/* The Deployments the operator made, by label: metadata, spec.replicas
	 * and status' readiness only (controller.c's projection); for the
	 * autoscaler. NULL: none (it then GETs the Deployment). */
	struct reflector_store *deploy_store;
	struct topics *topics;
	/* The Secrets resources' spec.kafka.tls and .sasl name, read for the
	 * operator's own Kafka clients (topics, lag); NULL: none can be read
	 * (a resource naming one is told SecretNotFound). */
	struct secret_cache *secrets;
	/* Kept Redis connections, one per address (the status Redis, a sink's),
	 * lent to one worker at a time; NULL: a connection per call. */
	struct redis_pool *redis;
	struct children_defaults defaults;
	const char *instance; /* Events' reportingInstance (the pod or host name) */
	int poll_ms;          /* RECONCILE_POLL's delay */
	int kafka_timeout_ms; /* one topic describe/create/delete */
	int redis_timeout_ms;
	/* The operator's own password for the status Redis (defaults.redis_addr,
	 * as defaults.redis_username): --status-redis-password-file or env
	 * SLUICE_STATUS_REDIS_PASSWORD. NULL: no AUTH. Never in a child. */
	const char *redis_password;
};

/* The reference of a kind's collection in ns. */
struct kube_ref reconcile_kind_ref(const char *plural, const char *ns, const char *name,
                                   const char *subresource);

/* metadata.<field> of obj as a string, or NULL. */
const char *reconcile_meta(const cJSON *obj, const char *field);

/* obj.a.b (b NULL: obj.a), or NULL. */
const cJSON *reconcile_path(const cJSON *obj, const char *a, const char *b);

/* metadata.generation, or 0. */
long long reconcile_generation(const cJSON *obj);

/* obj.a.b as an int (cJSON's valueint), or 0 when it is not a number. */
int reconcile_int(const cJSON *obj, const char *a, const char *b);

/*
 * Creates body (a Deployment or Job, its name in metadata) unless an object
 * of that name exists; *out (may be NULL) is the object as stored. *created
 * says which. For children whose spec is fixed once made (a Job's pod
 * template) or partly owned by others (a Deployment's replicas).
 */
int reconcile_ensure(const struct reconcile_ctx *ctx, const struct kube_ref *coll,
                     const cJSON *body, cJSON **out, int *created, char *errbuf,
                     size_t errbuf_size);

/* Whether obj's metadata.finalizers holds RECONCILE_FINALIZER. */
int reconcile_has_finalizer(const cJSON *obj);

/*
 * Adds (add 1) or removes (add 0) RECONCILE_FINALIZER on the resource obj
 * (plural: "telemetrywindows") with a merge patch carrying obj's
 * resourceVersion, so a concurrent change makes it fail with
 * KUBE_ECONFLICT instead of dropping another controller's finalizer.
 * On success obj's metadata.resourceVersion becomes the patched object's,
 * so the pass's later writes with it (the status) do not conflict with
 * this one. A no-op when already so. Returns 0 or a KUBE_E* code (logged).
 */
int reconcile_set_finalizer(const struct reconcile_ctx *ctx, const char *plural, cJSON *obj,
                            int add);

/*
 * Whether every member of status differs from nothing in old (obj's
 * .status): 1 when a write is needed, 0 when old already says it all.
 * Pure.
 */
int reconcile_status_changed(const cJSON *old, const cJSON *status);

/*
 * Merge-patches obj's /status with status when reconcile_status_changed,
 * carrying obj's resourceVersion: a status computed from a stale cache (the
 * watch has not yet delivered our own previous write) is refused with
 * KUBE_ECONFLICT instead of written twice, so the Events that go with a
 * write are not emitted twice either. Returns 1 when written, 0 when there
 * was nothing to write, or a KUBE_E* code (logged unless a conflict).
 */
int reconcile_write_status(const struct reconcile_ctx *ctx, const char *plural, const cJSON *obj,
                           const cJSON *status);

/*
 * reconcile_write_status, then, once the status is written, the n Events a
 * plan decided on (events_emit: a failed Event is only logged). Returns 1
 * when written, 0 when there was nothing to write, or a KUBE_E* code.
 */
int reconcile_write_status_events(const struct reconcile_ctx *ctx, const char *plural,
                                  const cJSON *obj, const cJSON *status,
                                  const struct events_planned *events, size_t n);

/*
 * Deletes the keys under prefix of the Redis at addr (redis_keys.h) on the
 * context's kept connection to it (ctx->redis). *deleted (may be NULL)
 * counts them, also when it fails part way. Returns 0, or -1 with the
 * reason in errbuf.
 */
int reconcile_redis_delete_prefix(const struct reconcile_ctx *ctx, const char *addr,
                                  const char *prefix, long long *deleted, char *errbuf,
                                  size_t errbuf_size);

/* Deletes ns/name of resource in API group (NULL or "": the core group),
 * its dependents in the background; a missing object is fine, another
 * failure is logged. */
void reconcile_delete_child(const struct reconcile_ctx *ctx, const char *group,
                            const char *resource, const char *ns, const char *name);

/* Server-side apply of body to ref (force, RECONCILE_FIELD_MANAGER);
 * *out (may be NULL) is the object as stored. Logs failures. */
int reconcile_apply(const struct reconcile_ctx *ctx, const struct kube_ref *ref, const cJSON *body,
                    cJSON **out, char *errbuf, size_t errbuf_size);

/*
 * The pods of the worker Deployment dep (the owner's kind_label and mode),
 * as a PodList, when fewer are ready than wanted; NULL when all are (no
 * request made) or they could not be read (logged). For
 * workers_health_judge. The caller frees it.
 */
cJSON *reconcile_worker_pods(const struct reconcile_ctx *ctx, const cJSON *owner,
                             const char *kind_label, const char *mode, const cJSON *dep);

/* Every pod of the owner's component mode (a Job's), or NULL (logged). */
cJSON *reconcile_pods(const struct reconcile_ctx *ctx, const cJSON *owner, const char *kind_label,
                      const char *mode);

/*
 * The worker Deployment of wl (its ConfigMap applied before): created with
 * initial_replicas when missing; otherwise applied by server-side apply
 * without replicas (the scaler's), so a change of the spec (config hash,
 * image, resources, secret references, env, placement) rolls the pods.
 * Emits "Created" or "ConfigChanged" Events. *out (may be NULL): the
 * Deployment as stored. Returns 0 or a KUBE_E* code with errbuf set.
 */
int reconcile_workers(const struct reconcile_ctx *ctx, const struct children_workload *wl,
                      int initial_replicas, cJSON **out, char *errbuf, size_t errbuf_size);

#endif
