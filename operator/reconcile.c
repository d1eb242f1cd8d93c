/* reconcile.c - see reconcile.h. */
#include "reconcile.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

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

int reconcile_set_finalizer(const struct reconcile_ctx *ctx, const char *plural, const cJSON *obj,
                            int add)
{
	const char *ns = reconcile_meta(obj, "namespace"), *name = reconcile_meta(obj, "name");
	const char *rv = reconcile_meta(obj, "resourceVersion");
	struct kube_ref ref = reconcile_kind_ref(plural, ns, name, NULL);
	struct kube_error err;
	cJSON *patch, *md, *list;
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
	rc = kube_client_merge_patch(ctx->kube, &ref, patch, NULL, &err);
	if (rc != 0)
		log_warn(add ? "adding the finalizer failed" : "removing the finalizer failed",
		         "resource", plural, "namespace", ns, "name", name, "error",
		         kube_error_format(&err, msg, sizeof(msg)), NULL);
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
