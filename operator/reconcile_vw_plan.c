/* reconcile_vw_plan.c - the VideoWatch reconciler's plan; see
 * reconcile_vw_plan.h. */
#include "reconcile_vw_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "children.h"
#include "conditions.h"
#include "hostport.h"
#include "secret_env.h"

#define ROLE_SUFFIX "watcher"
#define SERVICE_SUFFIX "upload"

enum vw_job_state vw_plan_job_state(const char *phase)
{
	if (phase != NULL && strcmp(phase, "Succeeded") == 0)
		return VW_JOB_SUCCEEDED;
	if (phase != NULL && strcmp(phase, "Failed") == 0)
		return VW_JOB_FAILED;
	return VW_JOB_ACTIVE;
}

/* Newest first; ties by name, so the order never depends on the cache's. */
static int newest_first(const void *a, const void *b)
{
	const struct vw_job_seen *x = *(const struct vw_job_seen *const *)a;
	const struct vw_job_seen *y = *(const struct vw_job_seen *const *)b;
	int c =
	    strcmp(y->finished != NULL ? y->finished : "", x->finished != NULL ? x->finished : "");

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* Finished jobs in state beyond the newest keep ones go into p's list;
 * returns how many are kept, or -1 when out of memory. */
static long prune(const struct vw_observed *o, enum vw_job_state state, int keep, struct vw_plan *p)
{
	const struct vw_job_seen **v;
	size_t n = 0, i;

	v = malloc((o->n_jobs > 0 ? o->n_jobs : 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	for (i = 0; i < o->n_jobs; i++)
		if (o->jobs[i].state == state)
			v[n++] = &o->jobs[i];
	qsort(v, n, sizeof(*v), newest_first);
	for (i = (size_t)keep; i < n; i++)
		p->delete_jobs[p->n_delete++] = v[i]->name;
	free(v);
	return n < (size_t)keep ? (long)n : keep;
}

static const char *folder_error(const cJSON *old_status, int *known)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(old_status, "watcher");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(w, "folderError");

	*known = cJSON_IsString(e);
	return cJSON_IsString(e) ? e->valuestring : "";
}

static int add_conditions(const struct vw_observed *o, cJSON *status)
{
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(o->old_status, "conditions");
	cJSON *conds = cJSON_AddArrayToObject(status, "conditions");
	int known;
	const char *folder = folder_error(o->old_status, &known);
	const char *st, *reason, *msg;

	if (conds == NULL)
		return -1;
	if (!known)
		st = "Unknown", reason = "NotScanned",
		msg = "the watcher has not scanned the folder yet";
	else if (folder[0] != '\0')
		st = "False", reason = "NotReadable", msg = folder;
	else
		st = "True", reason = "Readable", msg = "";
	if (conditions_add(conds, old, "FolderReadable", st, reason, msg, o->generation, o->now) !=
	    0)
		return -1;
	if (o->spec_error != NULL)
		st = "False", reason = "InvalidSpec", msg = o->spec_error;
	else if (o->apply_error != NULL)
		st = "False", reason = "WatcherNotCreated", msg = o->apply_error;
	else if (!o->watcher_ready)
		st = "False", reason = "WatcherNotReady", msg = "the watcher pod is not ready";
	else if (known && folder[0] != '\0')
		st = "False", reason = "FolderNotReadable", msg = folder;
	else
		st = "True", reason = "Watching", msg = "";
	return conditions_add(conds, old, "Ready", st, reason, msg, o->generation, o->now);
}

int vw_plan(const struct vw_observed *o, struct vw_plan *out)
{
	long ok, failed;
	size_t active = 0;

	memset(out, 0, sizeof(*out));
	out->delete_jobs = malloc((o->n_jobs > 0 ? o->n_jobs : 1) * sizeof(*out->delete_jobs));
	out->status = cJSON_CreateObject();
	if (out->delete_jobs == NULL || out->status == NULL)
		goto fail;
	for (size_t i = 0; i < o->n_jobs; i++)
		active += o->jobs[i].state == VW_JOB_ACTIVE;
	ok = prune(o, VW_JOB_SUCCEEDED, o->successful_history, out);
	failed = ok < 0 ? -1 : prune(o, VW_JOB_FAILED, o->failed_history, out);
	if (failed < 0 ||
	    cJSON_AddNumberToObject(out->status, "observedGeneration", (double)o->generation) ==
	        NULL ||
	    cJSON_AddNumberToObject(out->status, "active", (double)active) == NULL ||
	    cJSON_AddNumberToObject(out->status, "succeeded", (double)ok) == NULL ||
	    cJSON_AddNumberToObject(out->status, "failed", (double)failed) == NULL ||
	    add_conditions(o, out->status) != 0)
		goto fail;
	return 0;
fail:
	vw_plan_free(out);
	return -1;
}

void vw_plan_free(struct vw_plan *p)
{
	cJSON_Delete(p->status);
	free(p->delete_jobs);
	memset(p, 0, sizeof(*p));
}

/* "<watch>-<suffix>" as a child of owner. */
static cJSON *watch_child(const cJSON *owner, const char *api, const char *kind, const char *suffix)
{
	char *name = children_name(owner, suffix);
	cJSON *obj =
	    name != NULL ? children_object(api, kind, owner, name, VW_KIND_LABEL, VW_MODE) : NULL;

	free(name);
	return obj;
}

cJSON *vw_plan_service_account(const cJSON *owner)
{
	cJSON *sa = watch_child(owner, "v1", "ServiceAccount", ROLE_SUFFIX);

	/* The watcher's pod mounts its token; nothing else should. */
	if (sa != NULL && cJSON_AddTrueToObject(sa, "automountServiceAccountToken") == NULL) {
		cJSON_Delete(sa);
		return NULL;
	}
	return sa;
}

/* {apiGroups: [sluice.dev], resources: [resource], resourceNames: [name]
 * (when set), verbs}. */
static int add_rule(cJSON *rules, const char *resource, const char *name, const char *const *verbs)
{
	cJSON *r = cJSON_CreateObject(), *a;

	if (r == NULL || !cJSON_AddItemToArray(rules, r))
		goto fail;
	if ((a = cJSON_AddArrayToObject(r, "apiGroups")) == NULL ||
	    !cJSON_AddItemToArray(a, cJSON_CreateString("sluice.dev")) ||
	    (a = cJSON_AddArrayToObject(r, "resources")) == NULL ||
	    !cJSON_AddItemToArray(a, cJSON_CreateString(resource)))
		return -1;
	if (name != NULL && ((a = cJSON_AddArrayToObject(r, "resourceNames")) == NULL ||
	                     !cJSON_AddItemToArray(a, cJSON_CreateString(name))))
		return -1;
	if ((a = cJSON_AddArrayToObject(r, "verbs")) == NULL)
		return -1;
	for (; *verbs != NULL; verbs++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(*verbs)))
			return -1;
	return 0;
fail:
	cJSON_Delete(r);
	return -1;
}

cJSON *vw_plan_role(const cJSON *owner)
{
	static const char *const create_get[] = {"create", "get", NULL};
	static const char *const get[] = {"get", NULL};
	static const char *const get_patch[] = {"get", "patch", NULL};
	cJSON *role = watch_child(owner, "rbac.authorization.k8s.io/v1", "Role", ROLE_SUFFIX),
	      *rules;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(owner, "metadata"), "name"));

	if (role == NULL || (rules = cJSON_AddArrayToObject(role, "rules")) == NULL ||
	    add_rule(rules, "videojobs", NULL, create_get) != 0 ||
	    add_rule(rules, "videowatches", name, get) != 0 ||
	    add_rule(rules, "videowatches/status", name, get_patch) != 0) {
		cJSON_Delete(role);
		return NULL;
	}
	return role;
}

cJSON *vw_plan_role_binding(const cJSON *owner)
{
	cJSON *rb = watch_child(owner, "rbac.authorization.k8s.io/v1", "RoleBinding", ROLE_SUFFIX);
	char *name = children_name(owner, ROLE_SUFFIX);
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(owner, "metadata"), "namespace"));
	cJSON *ref, *subjects, *s;

	if (rb == NULL || name == NULL || ns == NULL ||
	    (ref = cJSON_AddObjectToObject(rb, "roleRef")) == NULL ||
	    cJSON_AddStringToObject(ref, "apiGroup", "rbac.authorization.k8s.io") == NULL ||
	    cJSON_AddStringToObject(ref, "kind", "Role") == NULL ||
	    cJSON_AddStringToObject(ref, "name", name) == NULL ||
	    (subjects = cJSON_AddArrayToObject(rb, "subjects")) == NULL ||
	    (s = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(subjects, s) ||
	    cJSON_AddStringToObject(s, "kind", "ServiceAccount") == NULL ||
	    cJSON_AddStringToObject(s, "name", name) == NULL ||
	    cJSON_AddStringToObject(s, "namespace", ns) == NULL) {
		free(name);
		cJSON_Delete(rb);
		return NULL;
	}
	free(name);
	return rb;
}

cJSON *vw_plan_service(const cJSON *owner, int upload_port)
{
	cJSON *svc, *spec, *sel, *ports, *p;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(owner, "metadata"), "name"));

	if (upload_port <= 0 || name == NULL)
		return NULL;
	svc = watch_child(owner, "v1", "Service", SERVICE_SUFFIX);
	if (svc == NULL || (spec = cJSON_AddObjectToObject(svc, "spec")) == NULL ||
	    (sel = cJSON_AddObjectToObject(spec, "selector")) == NULL ||
	    cJSON_AddStringToObject(sel, "sluice.dev/" VW_KIND_LABEL, name) == NULL ||
	    cJSON_AddStringToObject(sel, "app.kubernetes.io/component", VW_MODE) == NULL ||
	    (ports = cJSON_AddArrayToObject(spec, "ports")) == NULL ||
	    (p = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(ports, p) ||
	    cJSON_AddStringToObject(p, "name", "upload") == NULL ||
	    cJSON_AddNumberToObject(p, "port", upload_port) == NULL ||
	    cJSON_AddNumberToObject(p, "targetPort", upload_port) == NULL ||
	    cJSON_AddStringToObject(p, "protocol", "TCP") == NULL) {
		cJSON_Delete(svc);
		return NULL;
	}
	return svc;
}

/* {name, value} or {name, valueFrom: {kind: {a: av, b: bv}}} onto env. */
static int env_add(cJSON *env, const char *name, const char *value, const char *kind, const char *a,
                   const char *av, const char *b, const char *bv)
{
	cJSON *e = cJSON_CreateObject(), *from, *k;

	if (e == NULL || !cJSON_AddItemToArray(env, e))
		goto fail;
	if (cJSON_AddStringToObject(e, "name", name) == NULL)
		return -1;
	if (value != NULL)
		return cJSON_AddStringToObject(e, "value", value) != NULL ? 0 : -1;
	return (from = cJSON_AddObjectToObject(e, "valueFrom")) != NULL &&
	               (k = cJSON_AddObjectToObject(from, kind)) != NULL &&
	               cJSON_AddStringToObject(k, a, av) != NULL &&
	               (b == NULL || cJSON_AddStringToObject(k, b, bv) != NULL)
	           ? 0
	           : -1;
fail:
	cJSON_Delete(e);
	return -1;
}

cJSON *vw_plan_watcher_env(const char *token_secret, const char *token_key, const char *api_server,
                           const char *dashboard_url)
{
	cJSON *env = cJSON_CreateArray();
	char host[256], port[16];
	int p;

	if (env == NULL)
		goto fail;
	if (token_secret != NULL && token_key != NULL &&
	    env_add(env, "SLUICE_UPLOAD_TOKEN", NULL, "secretKeyRef", "name", token_secret, "key",
	            token_key) != 0)
		goto fail;
	if (api_server != NULL && api_server[0] != '\0') {
		if (hostport_split(api_server, host, sizeof(host), &p) != 0)
			goto fail;
		snprintf(port, sizeof(port), "%d", p);
		if (env_add(env, "KUBERNETES_SERVICE_HOST", host, NULL, NULL, NULL, NULL, NULL) !=
		        0 ||
		    env_add(env, "KUBERNETES_SERVICE_PORT", port, NULL, NULL, NULL, NULL, NULL) !=
		        0)
			goto fail;
	}
	if (dashboard_url != NULL && dashboard_url[0] != '\0' &&
	    env_add(env, "SLUICE_DASHBOARD_URL", dashboard_url, NULL, NULL, NULL, NULL, NULL) != 0)
		goto fail;
	return env;
fail:
	cJSON_Delete(env);
	return NULL;
}
