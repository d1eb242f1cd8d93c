/* reconcile_vw.c - the VideoWatch reconciler's reads and writes around its
 * pure plan; see reconcile_vw.h. */
#include "reconcile_vw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conditions.h"
#include "log.h"
#include "vw_spec.h"

struct vw_read {
	cJSON *obj, *eff;
	struct vw_spec vs;
	int parsed;
	char spec_error[1024];
};

/* spec with the operator's defaults filled into spec.template, as for a
 * VideoJob. */
static cJSON *effective_spec(const cJSON *spec, const struct children_defaults *d)
{
	cJSON *eff = cJSON_Duplicate(spec, 1), *tmpl;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(spec, "template");

	if (eff == NULL || !cJSON_IsObject(t))
		return eff;
	tmpl = children_vj_effective_spec(t, d);
	if (tmpl == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(eff, "template", tmpl)) {
		cJSON_Delete(tmpl);
		cJSON_Delete(eff);
		return NULL;
	}
	return eff;
}

static int observe(const struct reconcile_ctx *ctx, const char *ns, const char *name,
                   struct vw_read *rd)
{
	char key[REFLECTOR_KEY_MAX];

	memset(rd, 0, sizeof(*rd));
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (reflector_store_get(ctx->vw_store, key, &rd->obj) != 0)
		return -1;
	if (!children_name_ok(name)) {
		snprintf(
		    rd->spec_error, sizeof(rd->spec_error),
		    "metadata.name: longer than %d characters (the children's labels carry it)",
		    CHILDREN_NAME_MAX);
		return 0;
	}
	rd->eff = effective_spec(reconcile_path(rd->obj, "spec", NULL), &ctx->defaults);
	if (rd->eff == NULL)
		snprintf(rd->spec_error, sizeof(rd->spec_error), "out of memory");
	else if (vw_spec_parse(rd->eff, name, ns, &rd->vs, rd->spec_error,
	                       sizeof(rd->spec_error)) == 0)
		rd->parsed = 1;
	return 0;
}

static void read_free(struct vw_read *rd)
{
	if (rd->parsed)
		vw_spec_free(&rd->vs);
	cJSON_Delete(rd->eff);
	cJSON_Delete(rd->obj);
}

/* The watcher's config.json: the VideoWatch as a document, with its uid
 * (the VideoJobs' ownerReference) and the effective spec. */
static char *config_text(const struct vw_read *rd, const char *ns, const char *name)
{
	cJSON *doc = cJSON_CreateObject(), *meta;
	const char *uid = reconcile_meta(rd->obj, "uid");
	char *text = NULL;

	if (doc != NULL && cJSON_AddStringToObject(doc, "apiVersion", "sluice.dev/v1alpha1") &&
	    cJSON_AddStringToObject(doc, "kind", "VideoWatch") &&
	    (meta = cJSON_AddObjectToObject(doc, "metadata")) != NULL &&
	    cJSON_AddStringToObject(meta, "name", name) &&
	    cJSON_AddStringToObject(meta, "namespace", ns) &&
	    (uid == NULL || cJSON_AddStringToObject(meta, "uid", uid)) &&
	    cJSON_AddItemToObject(doc, "spec", cJSON_Duplicate(rd->eff, 1)))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

/* Server-side applies obj (consumed) to its collection. */
static int apply_child(const struct reconcile_ctx *ctx, const char *group, const char *version,
                       const char *resource, cJSON *obj, cJSON **out, char *err, size_t err_size)
{
	const char *ns = cJSON_GetStringValue(reconcile_path(obj, "metadata", "namespace"));
	const char *name = cJSON_GetStringValue(reconcile_path(obj, "metadata", "name"));
	struct kube_ref ref = {group, version, resource, ns, name, NULL};
	int rc;

	if (obj == NULL) {
		snprintf(err, err_size, "cannot build the watcher's %s: out of memory", resource);
		return -1;
	}
	rc = reconcile_apply(ctx, &ref, obj, out, err, err_size);
	cJSON_Delete(obj);
	return rc;
}

/* spec.workers as children.h reads it, for the watcher: its ServiceAccount,
 * its environment and spec.watcher's placement. */
static cJSON *watcher_workers(const struct reconcile_ctx *ctx, const struct vw_read *rd,
                              const char *name)
{
	static const char *const copied[] = {"nodeSelector", "tolerations", "affinity"};
	cJSON *w = cJSON_CreateObject();
	char sa[CHILDREN_NAME_MAX + 16];
	const struct vw_spec *vs = &rd->vs;

	snprintf(sa, sizeof(sa), "%s-watcher", name);
	if (w == NULL || cJSON_AddStringToObject(w, "serviceAccountName", sa) == NULL ||
	    !cJSON_AddItemToObject(
	        w, "env",
	        vw_plan_watcher_env(vs->upload.enabled ? vs->upload.token.name : NULL,
	                            vs->upload.token.key, ctx->defaults.api_server,
	                            ctx->defaults.dashboard_url)))
		goto fail;
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(vs->watcher, copied[i]);
		if (v != NULL && !cJSON_AddItemToObject(w, copied[i], cJSON_Duplicate(v, 1)))
			goto fail;
	}
	return w;
fail:
	cJSON_Delete(w);
	return NULL;
}

/* The watcher's children; *ready: it has a ready pod. Returns 0, or -1
 * with err set. */
static int apply_watcher(const struct reconcile_ctx *ctx, const struct vw_read *rd, const char *ns,
                         const char *name, int *ready, char *err, size_t err_size)
{
	const struct vw_spec *vs = &rd->vs;
	char *text = config_text(rd, ns, name);
	char hash[32];
	cJSON *workers = NULL, *dep, *spec, *strategy, *stored = NULL;
	int rc = -1;

	*ready = 0;
	if (text == NULL) {
		snprintf(err, err_size, "out of memory");
		return -1;
	}
	if (apply_child(ctx, "", "v1", "configmaps",
	                children_configmap(rd->obj, VW_KIND_LABEL, text), NULL, err,
	                err_size) != 0 ||
	    apply_child(ctx, "", "v1", "serviceaccounts", vw_plan_service_account(rd->obj), NULL,
	                err, err_size) != 0 ||
	    apply_child(ctx, "rbac.authorization.k8s.io", "v1", "roles", vw_plan_role(rd->obj),
	                NULL, err, err_size) != 0 ||
	    apply_child(ctx, "rbac.authorization.k8s.io", "v1", "rolebindings",
	                vw_plan_role_binding(rd->obj), NULL, err, err_size) != 0 ||
	    (vs->upload.enabled &&
	     apply_child(ctx, "", "v1", "services", vw_plan_service(rd->obj, vs->upload.port), NULL,
	                 err, err_size) != 0))
		goto done;
	const cJSON *image = cJSON_GetObjectItemCaseSensitive(vs->watcher, "image");
	if (!cJSON_IsString(image) &&
	    (ctx->defaults.worker_image == NULL || ctx->defaults.worker_image[0] == '\0')) {
		snprintf(err, err_size,
		         "no watcher image: set spec.watcher.image or the operator's "
		         "--worker-image");
		goto done;
	}
	children_config_hash(text, hash, sizeof(hash));
	workers = watcher_workers(ctx, rd, name);
	const cJSON *pull = cJSON_GetObjectItemCaseSensitive(vs->watcher, "imagePullPolicy");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(vs->watcher, "resources");
	struct children_workload wl = {
	    .owner = rd->obj,
	    .kind_label = VW_KIND_LABEL,
	    .mode = VW_MODE,
	    .config_hash = hash,
	    .image = cJSON_GetStringValue(image),
	    .pull_policy = cJSON_GetStringValue(pull),
	    .resources = cJSON_IsObject(res) ? res : NULL,
	    .workers = workers,
	    .volume = vs->volume,
	    .replicas = 1,
	    .defaults = &ctx->defaults,
	};
	dep = workers != NULL ? children_deployment(&wl) : NULL;
	/* One watcher at a time: on the host network a second would find the
	 * upload port taken. */
	if (dep != NULL && ((spec = cJSON_GetObjectItemCaseSensitive(dep, "spec")) == NULL ||
	                    (strategy = cJSON_AddObjectToObject(spec, "strategy")) == NULL ||
	                    cJSON_AddStringToObject(strategy, "type", "Recreate") == NULL)) {
		cJSON_Delete(dep);
		dep = NULL;
	}
	if (apply_child(ctx, "apps", "v1", "deployments", dep, &stored, err, err_size) != 0)
		goto done;
	*ready = reconcile_int(stored, "status", "readyReplicas") >= 1;
	rc = 0;
done:
	cJSON_Delete(stored);
	cJSON_Delete(workers);
	free(text);
	return rc;
}

/* The watch's VideoJobs, copied out of the cache (only the strings the
 * plan reads), in an array grown as needed. */
struct jobs_of {
	const char *ns, *watch;
	struct vw_job_seen *jobs;
	size_t n, cap;
	int nomem;
};

static int collect_job(const char *key, const cJSON *obj, void *opaque)
{
	struct jobs_of *j = opaque;
	const char *ns = cJSON_GetStringValue(reconcile_path(obj, "metadata", "namespace"));
	const cJSON *labels = reconcile_path(obj, "metadata", "labels");
	const char *owner =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, VW_LABEL_WATCH));
	const char *name = cJSON_GetStringValue(reconcile_path(obj, "metadata", "name"));
	const char *done = cJSON_GetStringValue(reconcile_path(obj, "status", "completionTime"));
	struct vw_job_seen *seen;

	(void)key;
	if (ns == NULL || owner == NULL || name == NULL || strcmp(ns, j->ns) != 0 ||
	    strcmp(owner, j->watch) != 0)
		return 0;
	if (done == NULL)
		done = cJSON_GetStringValue(reconcile_path(obj, "metadata", "creationTimestamp"));
	if (j->n == j->cap) {
		size_t cap = j->cap > 0 ? j->cap * 2 : 16;
		struct vw_job_seen *grown = realloc(j->jobs, cap * sizeof(*grown));

		if (grown == NULL) {
			j->nomem = 1;
			return 1; /* stop: the plan must not prune from a partial list */
		}
		j->jobs = grown;
		j->cap = cap;
	}
	seen = &j->jobs[j->n];
	*seen = (struct vw_job_seen){
	    .name = strdup(name),
	    .state =
	        vw_plan_job_state(cJSON_GetStringValue(reconcile_path(obj, "status", "phase"))),
	    .finished = done != NULL ? strdup(done) : NULL,
	};
	if (seen->name == NULL || (done != NULL && seen->finished == NULL)) {
		free((char *)seen->name);
		free((char *)seen->finished);
		j->nomem = 1;
		return 1;
	}
	j->n++;
	return 0;
}

static void jobs_free(struct jobs_of *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free((char *)j->jobs[i].name);
		free((char *)j->jobs[i].finished);
	}
	free(j->jobs);
}

static void delete_jobs(const struct reconcile_ctx *ctx, const char *ns, const struct vw_plan *p)
{
	struct kube_delete_opts opts = {.propagation_policy = "Background",
	                                .grace_period_seconds = -1};

	for (size_t i = 0; i < p->n_delete; i++) {
		struct kube_ref ref = {"sluice.dev", "v1alpha1",        "videojobs",
		                       ns,           p->delete_jobs[i], NULL};
		struct kube_error err;
		char msg[600];
		int rc = kube_client_delete(ctx->kube, &ref, &opts, NULL, &err);

		if (rc != 0 && rc != KUBE_ENOTFOUND) {
			kube_error_format(&err, msg, sizeof(msg));
			log_warn("cannot delete a VideoJob past the history limit", "namespace", ns,
			         "name", p->delete_jobs[i], "error", msg, NULL);
		} else {
			log_info("VideoJob past the history limit deleted", "namespace", ns, "name",
			         p->delete_jobs[i], NULL);
		}
	}
}

int reconcile_vw(const struct reconcile_ctx *ctx, const char *ns, const char *name)
{
	struct vw_read rd;
	struct jobs_of jobs = {.ns = ns, .watch = name};
	struct vw_plan plan;
	char err[1024] = "", now[32];
	int ready = 0, apply_failed = 0, rc = RECONCILE_ERROR;

	if (observe(ctx, ns, name, &rd) != 0)
		return RECONCILE_OK; /* gone: the garbage collector removes the rest */
	if (reconcile_path(rd.obj, "metadata", "deletionTimestamp") != NULL) {
		read_free(&rd);
		return RECONCILE_OK;
	}
	if (rd.parsed)
		apply_failed = apply_watcher(ctx, &rd, ns, name, &ready, err, sizeof(err)) != 0;
	reflector_store_foreach(ctx->vj_store, collect_job, &jobs);
	if (jobs.nomem)
		goto done;
	struct vw_observed o = {
	    .generation = reconcile_generation(rd.obj),
	    .old_status = reconcile_path(rd.obj, "status", NULL),
	    .spec_error = rd.parsed ? NULL : rd.spec_error,
	    .apply_error = apply_failed ? err : NULL,
	    .watcher_ready = ready,
	    .jobs = jobs.jobs,
	    .n_jobs = jobs.n,
	    .successful_history = rd.parsed ? rd.vs.successful_history : 1000,
	    .failed_history = rd.parsed ? rd.vs.failed_history : 1000,
	    .now = conditions_now(now, sizeof(now)),
	};
	if (vw_plan(&o, &plan) != 0)
		goto done;
	delete_jobs(ctx, ns, &plan);
	rc = reconcile_write_status(ctx, RECONCILE_VW_PLURAL, rd.obj, plan.status) < 0
	         ? RECONCILE_ERROR
	         : (apply_failed ? RECONCILE_ERROR : RECONCILE_POLL);
	vw_plan_free(&plan);
done:
	jobs_free(&jobs);
	read_free(&rd);
	return rc;
}
