/* reconcile.c - see reconcile.h. */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "redis_keys.h"

struct kube_ref reconcile_kind_ref(const char *plural, const char *ns, const char *name,
                                   const char *subresource)
{
	struct kube_ref r = {"sluice.dev", "v1alpha1", plural, ns, name, subresource};
	return r;
}

const char *reconcile_meta(const cJSON *obj, const char *field)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, field));
}

static const cJSON *finalizers(const cJSON *obj)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	                                        "finalizers");
}

int reconcile_has_finalizer(const cJSON *obj)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, finalizers(obj))
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, RECONCILE_FINALIZER) == 0)
			return 1;
	}
	return 0;
}

int reconcile_set_finalizer(const struct reconcile_ctx *ctx, const char *plural, cJSON *obj,
                            int add)
{
	const char *ns = reconcile_meta(obj, "namespace"), *name = reconcile_meta(obj, "name");
	const char *rv = reconcile_meta(obj, "resourceVersion");
	struct kube_ref ref = reconcile_kind_ref(plural, ns, name, NULL);
	struct kube_error err;
	cJSON *patch, *md, *list, *out = NULL;
	const cJSON *f;
	char msg[600];
	int rc;

	if (reconcile_has_finalizer(obj) == add)
		return 0;
	patch = cJSON_CreateObject();
	if (patch == NULL || (md = cJSON_AddObjectToObject(patch, "metadata")) == NULL ||
	    (list = cJSON_AddArrayToObject(md, "finalizers")) == NULL ||
	    (rv != NULL && cJSON_AddStringToObject(md, "resourceVersion", rv) == NULL)) {
		cJSON_Delete(patch);
		return KUBE_ENOMEM;
	}
	cJSON_ArrayForEach(f, finalizers(obj))
	{
		if (cJSON_IsString(f) && strcmp(f->valuestring, RECONCILE_FINALIZER) != 0)
			cJSON_AddItemToArray(list, cJSON_CreateString(f->valuestring));
	}
	if (add)
		cJSON_AddItemToArray(list, cJSON_CreateString(RECONCILE_FINALIZER));
	rc = kube_client_merge_patch(ctx->kube, &ref, patch, &out, &err);
	if (rc != 0) {
		log_warn(add ? "adding the finalizer failed" : "removing the finalizer failed",
		         "resource", plural, "namespace", ns, "name", name, "error",
		         kube_error_format(&err, msg, sizeof(msg)), NULL);
	} else {
		const char *now = reconcile_meta(out, "resourceVersion");
		cJSON *held = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");

		if (now != NULL && cJSON_IsString(held))
			cJSON_SetValuestring(held, now);
	}
	cJSON_Delete(out);
	cJSON_Delete(patch);
	return rc;
}

int reconcile_status_changed(const cJSON *old, const cJSON *status)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, status)
	{
		const cJSON *was = cJSON_GetObjectItemCaseSensitive(old, item->string);
		if (cJSON_IsNull(item) ? was != NULL && !cJSON_IsNull(was)
		                       : was == NULL || !cJSON_Compare(item, was, 1))
			return 1;
	}
	return 0;
}

int reconcile_write_status(const struct reconcile_ctx *ctx, const char *plural, const cJSON *obj,
                           const cJSON *status)
{
	const char *ns = reconcile_meta(obj, "namespace"), *name = reconcile_meta(obj, "name");
	struct kube_ref ref = reconcile_kind_ref(plural, ns, name, "status");
	struct kube_error err;
	char msg[600];
	cJSON *patch;
	int rc;

	if (!reconcile_status_changed(cJSON_GetObjectItemCaseSensitive(obj, "status"), status))
		return 0;
	const char *rv = reconcile_meta(obj, "resourceVersion");
	cJSON *md;
	patch = cJSON_CreateObject();
	if (patch == NULL || !cJSON_AddItemToObject(patch, "status", cJSON_Duplicate(status, 1)) ||
	    (rv != NULL && ((md = cJSON_AddObjectToObject(patch, "metadata")) == NULL ||
	                    cJSON_AddStringToObject(md, "resourceVersion", rv) == NULL))) {
		cJSON_Delete(patch);
		return KUBE_ENOMEM;
	}
	rc = kube_client_merge_patch(ctx->kube, &ref, patch, NULL, &err);
	if (rc == 0)
		rc = 1;
	else if (rc == KUBE_ECONFLICT)
		log_debug("status not written: the cache was behind", "resource", plural,
		          "namespace", ns, "name", name, NULL);
	else
		log_warn("status update failed", "resource", plural, "namespace", ns, "name", name,
		         "error", kube_error_format(&err, msg, sizeof(msg)), NULL);
	cJSON_Delete(patch);
	return rc;
}

int reconcile_write_status_events(const struct reconcile_ctx *ctx, const char *plural,
                                  const cJSON *obj, const cJSON *status,
                                  const struct events_planned *events, size_t n)
{
	int rc = reconcile_write_status(ctx, plural, obj, status);

	if (rc == 1)
		for (size_t i = 0; i < n; i++)
			events_emit_planned(ctx->kube, obj, &events[i], ctx->instance);
	return rc;
}

/* One redis_pool_run of a prefix's deletion; the count survives a retry. */
struct delete_prefix {
	const char *prefix;
	long long deleted;
};

static int delete_prefix_on(redisContext *c, const char *addr, void *arg, char *errbuf,
                            size_t errbuf_size)
{
	struct delete_prefix *d = arg;
	long long n = 0;
	int rc = redis_keys_delete_prefix_on(c, addr, d->prefix, &n, errbuf, errbuf_size);

	d->deleted += n;
	return rc;
}

int reconcile_redis_delete_prefix(const struct reconcile_ctx *ctx, const char *addr,
                                  const char *prefix, long long *deleted, char *errbuf,
                                  size_t errbuf_size)
{
	struct delete_prefix d = {prefix, 0};
	int rc;

	rc = redis_pool_run(ctx->redis, addr, delete_prefix_on, &d, errbuf, errbuf_size);
	if (deleted != NULL)
		*deleted = d.deleted;
	return rc;
}

int reconcile_apply(const struct reconcile_ctx *ctx, const struct kube_ref *ref, const cJSON *body,
                    cJSON **out, char *errbuf, size_t errbuf_size)
{
	struct kube_error err;
	char msg[600];
	int rc = kube_client_apply(ctx->kube, ref, body, RECONCILE_FIELD_MANAGER, 1, out, &err);

	if (rc != 0) {
		kube_error_format(&err, msg, sizeof(msg));
		snprintf(errbuf, errbuf_size, "apply %s %s: %s", ref->resource,
		         ref->name != NULL ? ref->name : "", msg);
		log_warn("apply failed", "resource", ref->resource, "namespace", ref->namespace,
		         "name", ref->name, "error", msg, NULL);
	}
	return rc;
}

const cJSON *reconcile_path(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, a);
	return b != NULL ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

int reconcile_int(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *v = reconcile_path(obj, a, b);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

long long reconcile_generation(const cJSON *obj)
{
	const cJSON *g = reconcile_path(obj, "metadata", "generation");
	return cJSON_IsNumber(g) ? (long long)g->valuedouble : 0;
}

int reconcile_ensure(const struct reconcile_ctx *ctx, const struct kube_ref *coll,
                     const cJSON *body, cJSON **out, int *created, char *errbuf, size_t errbuf_size)
{
	struct kube_ref one = *coll;
	struct kube_error err;
	char msg[600];
	int rc;

	*created = 0;
	one.name = reconcile_meta(body, "name");
	rc = kube_client_get(ctx->kube, &one, out, &err);
	if (rc == KUBE_ENOTFOUND) {
		rc = kube_client_create(ctx->kube, coll, body, out, &err);
		if (rc == 0)
			*created = 1;
		else if (rc == KUBE_EEXISTS)
			rc = kube_client_get(ctx->kube, &one, out, &err);
	}
	if (rc != 0) {
		kube_error_format(&err, msg, sizeof(msg));
		snprintf(errbuf, errbuf_size, "%s %s: %s", coll->resource, one.name, msg);
		log_warn("child not created", "resource", coll->resource, "namespace",
		         coll->namespace, "name", one.name, "error", msg, NULL);
	}
	return rc;
}

int reconcile_workers(const struct reconcile_ctx *ctx, const struct children_workload *wl,
                      int initial_replicas, cJSON **out, char *errbuf, size_t errbuf_size)
{
	struct children_workload w = *wl;
	const char *ns = reconcile_meta(w.owner, "namespace");
	char *dep_name = children_name(w.owner, w.mode),
	     *cm_name = children_name(w.owner, "config");
	struct kube_ref dep_ref = {"apps", "v1", "deployments", ns, dep_name, NULL};
	cJSON *dep = NULL, *existing = NULL;
	struct kube_error kerr;
	char note[1200];
	int rc = KUBE_ENOMEM;

	if (dep_name == NULL || cm_name == NULL)
		goto done;
	rc = kube_client_get(ctx->kube, &dep_ref, &existing, &kerr);
	if (rc == KUBE_ENOTFOUND) {
		/* Created once with the initial replicas; afterwards replicas are
		 * the scaler's, so the apply below leaves them out. */
		w.replicas = initial_replicas;
		dep = children_deployment(&w);
		if (dep == NULL) {
			snprintf(errbuf, errbuf_size, "no worker image: set --worker-image");
			rc = KUBE_EINVAL;
			goto done;
		}
		struct kube_ref coll = dep_ref;
		coll.name = NULL;
		rc = kube_client_create(ctx->kube, &coll, dep, out, &kerr);
		if (rc == 0) {
			snprintf(note, sizeof(note),
			         "created ConfigMap %s and Deployment %s (%d replicas)", cm_name,
			         dep_name, w.replicas);
			events_emit(ctx->kube, w.owner, EVENTS_NORMAL, "Created", note, "Reconcile",
			            ctx->instance);
			log_info("workers created", "namespace", ns, "deployment", dep_name, NULL);
			goto done;
		}
		if (rc != KUBE_EEXISTS) {
			kube_error_format(&kerr, errbuf, errbuf_size);
			goto done;
		}
		cJSON_Delete(dep);
		dep = NULL;
	} else if (rc != 0) {
		kube_error_format(&kerr, errbuf, errbuf_size);
		goto done;
	}
	w.replicas = -1;
	dep = children_deployment(&w);
	if (dep == NULL) {
		snprintf(errbuf, errbuf_size, "no worker image: set --worker-image");
		rc = KUBE_EINVAL;
		goto done;
	}
	const cJSON *tmpl_md =
	    reconcile_path(reconcile_path(existing, "spec", "template"), "metadata", "annotations");
	const char *old_hash =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tmpl_md, CHILDREN_CONFIG_HASH));
	rc = reconcile_apply(ctx, &dep_ref, dep, out, errbuf, errbuf_size);
	if (rc == 0 && old_hash != NULL && strcmp(old_hash, w.config_hash) != 0) {
		snprintf(note, sizeof(note),
		         "configuration changed (config hash %s, was %s): rolling Deployment %s",
		         w.config_hash, old_hash, dep_name);
		events_emit(ctx->kube, w.owner, EVENTS_NORMAL, "ConfigChanged", note, "Reconcile",
		            ctx->instance);
		log_info("configuration changed", "namespace", ns, "deployment", dep_name, "hash",
		         w.config_hash, NULL);
	}
done:
	cJSON_Delete(existing);
	cJSON_Delete(dep);
	free(dep_name);
	free(cm_name);
	return rc;
}

cJSON *reconcile_pods(const struct reconcile_ctx *ctx, const cJSON *owner, const char *kind_label,
                      const char *mode)
{
	const char *ns = reconcile_meta(owner, "namespace"), *name = reconcile_meta(owner, "name");
	char selector[512], msg[600];
	struct kube_ref pods = {"", "v1", "pods", ns, NULL, NULL};
	struct kube_list_opts o = {
	    .label_selector = selector, .resource_version = "0", .limit = 50};
	struct kube_error err;
	cJSON *out = NULL;

	snprintf(selector, sizeof(selector), "sluice.dev/%s=%s,app.kubernetes.io/component=%s",
	         kind_label, name, mode);
	if (kube_client_list(ctx->kube, &pods, &o, &out, &err) != 0) {
		log_debug("pods not read", "namespace", ns, "selector", selector, "error",
		          kube_error_format(&err, msg, sizeof(msg)), NULL);
		return NULL;
	}
	return out;
}

cJSON *reconcile_worker_pods(const struct reconcile_ctx *ctx, const cJSON *owner,
                             const char *kind_label, const char *mode, const cJSON *dep)
{
	const cJSON *want = reconcile_path(dep, "spec", "replicas");
	const cJSON *ready = reconcile_path(dep, "status", "readyReplicas");

	if (dep == NULL || !cJSON_IsNumber(want) || want->valueint == 0 ||
	    (cJSON_IsNumber(ready) && ready->valueint >= want->valueint))
		return NULL;
	return reconcile_pods(ctx, owner, kind_label, mode);
}

void reconcile_delete_child(const struct reconcile_ctx *ctx, const char *group,
                            const char *resource, const char *ns, const char *name)
{
	struct kube_ref ref = {group, "v1", resource, ns, name, NULL};
	struct kube_delete_opts o = {.propagation_policy = "Background",
	                             .grace_period_seconds = -1};
	struct kube_error err;
	char msg[600];
	int rc = kube_client_delete(ctx->kube, &ref, &o, NULL, &err);
	if (rc != 0 && rc != KUBE_ENOTFOUND)
		log_warn("delete failed", "resource", resource, "namespace", ns, "name", name,
		         "error", kube_error_format(&err, msg, sizeof(msg)), NULL);
}
