/* children.c - see children.h. */
#include "children.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_security.h"
#include "redis_conn.h"
#include "secret_env.h"
#include "spec_defaults.h"

static const char *meta_str(const cJSON *obj, const char *field)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, field));
}

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int children_name_ok(const char *name)
{
	return set(name) && strlen(name) <= CHILDREN_NAME_MAX;
}

cJSON *children_tw_effective_spec(const cJSON *spec, const struct children_defaults *d)
{
	const struct spec_defaults sd = {
	    .kafka_bootstrap = d->kafka_bootstrap,
	    .kafka = d->kafka_security,
	    .redis_addr = d->redis_addr,
	    .redis_username = d->redis_username,
	    .redis_password_secret = d->redis_password_secret,
	    .redis_password_key = d->redis_password_key,
	    .postgres_secret = d->postgres_secret,
	    .influx_url = d->influx_url,
	    .influx_database = d->influx_database,
	};

	return spec_defaults_apply(spec, &sd);
}

char *children_config_json(const char *name, const char *namespace, const cJSON *spec)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *copy = cJSON_Duplicate(spec, 1);
	char *text = NULL;

	if (doc == NULL || copy == NULL)
		goto done;
	if (cJSON_AddStringToObject(doc, "name", name) == NULL ||
	    cJSON_AddStringToObject(doc, "namespace", namespace) == NULL)
		goto done;
	if (!cJSON_AddItemToObject(doc, "spec", copy))
		goto done;
	copy = NULL;
	text = cJSON_PrintUnformatted(doc);
done:
	cJSON_Delete(copy);
	cJSON_Delete(doc);
	return text;
}

const char *children_config_hash(const char *text, char *buf, size_t size)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	snprintf(buf, size, "%016" PRIx64, h);
	return buf;
}

cJSON *children_owner_ref(const cJSON *owner)
{
	const char *api =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(owner, "apiVersion"));
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(owner, "kind"));
	const char *name = meta_str(owner, "name");
	const char *uid = meta_str(owner, "uid");
	cJSON *r;

	if (!set(api) || !set(kind) || !set(name) || !set(uid))
		return NULL;
	r = cJSON_CreateObject();
	if (r == NULL || cJSON_AddStringToObject(r, "apiVersion", api) == NULL ||
	    cJSON_AddStringToObject(r, "kind", kind) == NULL ||
	    cJSON_AddStringToObject(r, "name", name) == NULL ||
	    cJSON_AddStringToObject(r, "uid", uid) == NULL ||
	    cJSON_AddTrueToObject(r, "controller") == NULL ||
	    cJSON_AddTrueToObject(r, "blockOwnerDeletion") == NULL) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

cJSON *children_labels(const char *kind_label, const char *name, const char *component)
{
	char key[64];
	cJSON *l = cJSON_CreateObject();

	snprintf(key, sizeof(key), "sluice.dev/%s", kind_label);
	if (l == NULL ||
	    cJSON_AddStringToObject(l, "app.kubernetes.io/name", "sluice-worker") == NULL ||
	    cJSON_AddStringToObject(l, "app.kubernetes.io/instance", name) == NULL ||
	    (component != NULL &&
	     cJSON_AddStringToObject(l, "app.kubernetes.io/component", component) == NULL) ||
	    cJSON_AddStringToObject(l, CHILDREN_LABEL_MANAGED_BY, CHILDREN_MANAGED_BY) == NULL ||
	    cJSON_AddStringToObject(l, key, name) == NULL) {
		cJSON_Delete(l);
		return NULL;
	}
	return l;
}

/* {apiVersion, kind, metadata: {name, namespace, labels, ownerReferences}} */
cJSON *children_object(const char *api, const char *kind, const cJSON *owner,
                       const char *child_name, const char *kind_label, const char *component)
{
	const char *name = meta_str(owner, "name");
	const char *ns = meta_str(owner, "namespace");
	cJSON *obj, *md, *refs, *ref;

	if (!children_name_ok(name) || !set(ns))
		return NULL;
	obj = cJSON_CreateObject();
	if (obj == NULL || cJSON_AddStringToObject(obj, "apiVersion", api) == NULL ||
	    cJSON_AddStringToObject(obj, "kind", kind) == NULL ||
	    (md = cJSON_AddObjectToObject(obj, "metadata")) == NULL ||
	    cJSON_AddStringToObject(md, "name", child_name) == NULL ||
	    cJSON_AddStringToObject(md, "namespace", ns) == NULL)
		goto fail;
	if (!cJSON_AddItemToObject(md, "labels", children_labels(kind_label, name, component)))
		goto fail;
	if ((refs = cJSON_AddArrayToObject(md, "ownerReferences")) == NULL ||
	    (ref = children_owner_ref(owner)) == NULL)
		goto fail;
	cJSON_AddItemToArray(refs, ref);
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

char *children_name(const cJSON *owner, const char *mode)
{
	const char *name = meta_str(owner, "name");
	size_t n;
	char *out;

	if (name == NULL)
		return NULL;
	n = strlen(name) + strlen(mode) + 2;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s-%s", name, mode);
	return out;
}

cJSON *children_configmap(const cJSON *owner, const char *kind_label, const char *config_text)
{
	char *name = children_name(owner, "config");
	cJSON *cm = name != NULL
	                ? children_object("v1", "ConfigMap", owner, name, kind_label, "config")
	                : NULL;
	cJSON *data;

	free(name);
	if (cm == NULL)
		return NULL;
	if ((data = cJSON_AddObjectToObject(cm, "data")) == NULL ||
	    cJSON_AddStringToObject(data, CHILDREN_CONFIG_KEY, config_text) == NULL) {
		cJSON_Delete(cm);
		return NULL;
	}
	return cm;
}

static int add_env_value(cJSON *env, const char *name, const char *value)
{
	cJSON *e = cJSON_CreateObject();
	if (e == NULL || !cJSON_AddItemToArray(env, e)) {
		cJSON_Delete(e);
		return -1;
	}
	return cJSON_AddStringToObject(e, "name", name) != NULL &&
	               cJSON_AddStringToObject(e, "value", value) != NULL
	           ? 0
	           : -1;
}

/* Whether the resource's own spec.workers.env names var. */
static int user_env_has(const struct children_workload *w, const char *var)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w->workers, "env"))
	{
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name"));
		if (n != NULL && strcmp(n, var) == 0)
			return 1;
	}
	return 0;
}

/* Adds {name, valueFrom: {<source>: {<a>: va, <b>: vb}}} unless the
 * resource's env names it. */
static int add_env_from(cJSON *env, const struct children_workload *w, const char *name,
                        const char *source, const char *a, const char *va, const char *b,
                        const char *vb)
{
	cJSON *e, *vf, *src;

	if (user_env_has(w, name))
		return 0;
	e = cJSON_CreateObject();
	if (e == NULL || !cJSON_AddItemToArray(env, e)) {
		cJSON_Delete(e);
		return -1;
	}
	return cJSON_AddStringToObject(e, "name", name) != NULL &&
	               (vf = cJSON_AddObjectToObject(e, "valueFrom")) != NULL &&
	               (src = cJSON_AddObjectToObject(vf, source)) != NULL &&
	               cJSON_AddStringToObject(src, a, va) != NULL &&
	               (b == NULL || cJSON_AddStringToObject(src, b, vb) != NULL)
	           ? 0
	           : -1;
}

static int add_env_own(cJSON *env, const struct children_workload *w, const char *name,
                       const char *value)
{
	return user_env_has(w, name) ? 0 : add_env_value(env, name, value);
}

/* The status Redis's credentials (lib/redis_conn.h): the user as a value,
 * the password from the Secret by reference, never its value. */
static int status_redis_auth_env(cJSON *env, const struct children_workload *w)
{
	const struct children_defaults *d = w->defaults;

	if (!set(d->redis_password_secret) || !set(d->redis_password_key))
		return 0;
	if (set(d->redis_username) &&
	    add_env_own(env, w, REDIS_CONN_ENV_USERNAME, d->redis_username) != 0)
		return -1;
	return add_env_from(env, w, REDIS_CONN_ENV_PASSWORD, "secretKeyRef", "name",
	                    d->redis_password_secret, "key", d->redis_password_key);
}

/* The container's env: POD_NAME, POD_NAMESPACE and POD_IP first (later
 * values refer to them); off the host network, SLUICE_METRICS_ADDR (the
 * endpoint on the pod's address, so Prometheus reaches /metrics, and the
 * exec probe asks there too); one secretKeyRef per distinct reference, the status
 * Redis, a Kafka client.id unique to the pod, the port file the probe reads
 * (on the host network every replica listens on a port of its own), then
 * the resource's own spec.workers.env, which wins over any of these. */
static cJSON *pod_env(const struct children_workload *w)
{
	cJSON *env = cJSON_CreateArray(), *e;
	char var[256];

	if (env == NULL)
		return NULL;
	if (add_env_from(env, w, "POD_NAME", "fieldRef", "fieldPath", "metadata.name", NULL,
	                 NULL) != 0 ||
	    add_env_from(env, w, "POD_NAMESPACE", "fieldRef", "fieldPath", "metadata.namespace",
	                 NULL, NULL) != 0 ||
	    add_env_from(env, w, "POD_IP", "fieldRef", "fieldPath", "status.podIP", NULL, NULL) !=
	        0 ||
	    (!w->defaults->host_network &&
	     add_env_own(env, w, "SLUICE_METRICS_ADDR", "$(POD_IP)") != 0))
		goto fail;
	for (size_t i = 0; i < w->n_secrets; i++) {
		const struct children_secret *s = &w->secrets[i];
		int dup = 0;

		if (!set(s->name) || !set(s->key) ||
		    secret_env_name(s->name, s->key, var, sizeof(var)) != 0)
			continue;
		for (size_t j = 0; j < i; j++)
			if (set(w->secrets[j].name) && set(w->secrets[j].key) &&
			    strcmp(w->secrets[j].name, s->name) == 0 &&
			    strcmp(w->secrets[j].key, s->key) == 0)
				dup = 1;
		if (!dup &&
		    add_env_from(env, w, var, "secretKeyRef", "name", s->name, "key", s->key) != 0)
			goto fail;
	}
	if (set(w->defaults->redis_addr) &&
	    (add_env_own(env, w, "SLUICE_STATUS_REDIS", w->defaults->redis_addr) != 0 ||
	     status_redis_auth_env(env, w) != 0))
		goto fail;
	if (add_env_own(env, w, "SLUICE_KAFKA_CLIENT_ID", "$(POD_NAME)") != 0 ||
	    add_env_own(env, w, "SLUICE_METRICS_PORT_FILE", CHILDREN_RUN_DIR "/metrics-port") !=
	        0 ||
	    (w->defaults->host_network && add_env_own(env, w, "SLUICE_METRICS_PORT", "0") != 0))
		goto fail;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(w->workers, "env"))
	{
		if (!cJSON_AddItemToArray(env, cJSON_Duplicate(e, 1)))
			goto fail;
	}
	return env;
fail:
	cJSON_Delete(env);
	return NULL;
}

/* An exec probe of the worker's endpoint (probe.h). */
static cJSON *exec_probe(const char *path, int period_s)
{
	cJSON *p = cJSON_CreateObject(), *ex, *cmd;

	if (p == NULL || (ex = cJSON_AddObjectToObject(p, "exec")) == NULL ||
	    (cmd = cJSON_AddArrayToObject(ex, "command")) == NULL ||
	    !cJSON_AddItemToArray(cmd, cJSON_CreateString("sluice-worker")) ||
	    !cJSON_AddItemToArray(cmd, cJSON_CreateString("probe")) ||
	    !cJSON_AddItemToArray(cmd, cJSON_CreateString(path)) ||
	    cJSON_AddNumberToObject(p, "periodSeconds", period_s) == NULL ||
	    cJSON_AddNumberToObject(p, "timeoutSeconds", 3) == NULL ||
	    cJSON_AddNumberToObject(p, "failureThreshold", 3) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* Pod Security "restricted": non-root with a fixed uid and gid (the
 * image's user; without runAsGroup the kubelet takes the image's primary
 * group), the runtime's seccomp profile. */
static int add_pod_security(cJSON *spec)
{
	cJSON *psc, *sp;
	return (psc = cJSON_AddObjectToObject(spec, "securityContext")) != NULL &&
	               cJSON_AddTrueToObject(psc, "runAsNonRoot") != NULL &&
	               cJSON_AddNumberToObject(psc, "runAsUser", CHILDREN_UID) != NULL &&
	               cJSON_AddNumberToObject(psc, "runAsGroup", CHILDREN_UID) != NULL &&
	               cJSON_AddNumberToObject(psc, "fsGroup", CHILDREN_UID) != NULL &&
	               (sp = cJSON_AddObjectToObject(psc, "seccompProfile")) != NULL &&
	               cJSON_AddStringToObject(sp, "type", "RuntimeDefault") != NULL
	           ? 0
	           : -1;
}

/* Where the pod runs: the operator's host-network setting, and the
 * resource's serviceAccountName, nodeSelector, tolerations and affinity. */
static int add_placement(cJSON *spec, const struct children_workload *w)
{
	static const char *const copied[] = {"nodeSelector", "tolerations", "affinity"};
	const char *sa = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(w->workers, "serviceAccountName"));

	if (w->defaults->host_network &&
	    (cJSON_AddTrueToObject(spec, "hostNetwork") == NULL ||
	     cJSON_AddStringToObject(spec, "dnsPolicy", "ClusterFirstWithHostNet") == NULL))
		return -1;
	/* Workers never call the API server: no token unless asked for. */
	if (set(sa) ? cJSON_AddStringToObject(spec, "serviceAccountName", sa) == NULL
	            : cJSON_AddFalseToObject(spec, "automountServiceAccountToken") == NULL)
		return -1;
	/* The kubelet's service links are environment noise here. */
	if (cJSON_AddFalseToObject(spec, "enableServiceLinks") == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(w->workers, copied[i]);
		if (v != NULL && !cJSON_IsNull(v) &&
		    !cJSON_AddItemToObject(spec, copied[i], cJSON_Duplicate(v, 1)))
			return -1;
	}
	return 0;
}

/* Adds {name, mountPath[, readOnly][, subPath]} to mounts. */
static int add_mount(cJSON *mounts, const char *name, const char *path, int read_only,
                     const char *sub_path)
{
	cJSON *m = cJSON_CreateObject();
	if (m == NULL || !cJSON_AddItemToArray(mounts, m)) {
		cJSON_Delete(m);
		return -1;
	}
	return cJSON_AddStringToObject(m, "name", name) != NULL &&
	               cJSON_AddStringToObject(m, "mountPath", path) != NULL &&
	               (!read_only || cJSON_AddTrueToObject(m, "readOnly") != NULL) &&
	               (!set(sub_path) || cJSON_AddStringToObject(m, "subPath", sub_path) != NULL)
	           ? 0
	           : -1;
}

/* The pod's volumes and the container's mounts: the ConfigMap, a small
 * memory-backed directory for the port file, and the resource's volume
 * (spec.volume: one volume source plus mountPath and subPath). */
static int add_volumes(cJSON *spec, cJSON *c, const struct children_workload *w,
                       const char *cm_name)
{
	cJSON *vols, *mounts, *v, *src;

	if ((vols = cJSON_AddArrayToObject(spec, "volumes")) == NULL ||
	    (mounts = cJSON_AddArrayToObject(c, "volumeMounts")) == NULL)
		return -1;
	if (add_mount(mounts, "config", CHILDREN_CONFIG_DIR, 1, NULL) != 0 ||
	    add_mount(mounts, "run", CHILDREN_RUN_DIR, 0, NULL) != 0)
		return -1;
	if ((v = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(vols, v) ||
	    cJSON_AddStringToObject(v, "name", "config") == NULL ||
	    (src = cJSON_AddObjectToObject(v, "configMap")) == NULL ||
	    cJSON_AddStringToObject(src, "name", cm_name) == NULL)
		return -1;
	if ((v = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(vols, v) ||
	    cJSON_AddStringToObject(v, "name", "run") == NULL ||
	    (src = cJSON_AddObjectToObject(v, "emptyDir")) == NULL ||
	    cJSON_AddStringToObject(src, "medium", "Memory") == NULL ||
	    cJSON_AddStringToObject(src, "sizeLimit", "1Mi") == NULL)
		return -1;
	if (w->volume == NULL)
		return 0;
	const char *mount_path =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w->volume, "mountPath"));
	const char *sub_path =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w->volume, "subPath"));
	if (!set(mount_path))
		return -1;
	if ((v = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(vols, v) ||
	    cJSON_AddStringToObject(v, "name", CHILDREN_DATA_VOLUME) == NULL)
		return -1;
	/* The volume source is everything but the mount's own fields. */
	for (const cJSON *it = w->volume->child; it != NULL; it = it->next) {
		if (strcmp(it->string, "mountPath") == 0 || strcmp(it->string, "subPath") == 0 ||
		    strcmp(it->string, "readOnly") == 0)
			continue;
		if (!cJSON_AddItemToObject(v, it->string, cJSON_Duplicate(it, 1)))
			return -1;
	}
	return add_mount(mounts, CHILDREN_DATA_VOLUME, mount_path, 0, sub_path);
}

/* The pod template: labels, the config hash, one container. restart_policy
 * NULL: the Deployment's default (Always), with probes; a Job's pods run to
 * completion and have none. */
static cJSON *pod_template(const struct children_workload *w, const char *restart_policy)
{
	const char *name = meta_str(w->owner, "name");
	const char *image = set(w->image) ? w->image : w->defaults->worker_image;
	const char *pull = set(w->pull_policy) ? w->pull_policy : w->defaults->image_pull_policy;
	char *cm_name = children_name(w->owner, "config");
	cJSON *t = cJSON_CreateObject(), *md, *ann, *spec, *cs, *c, *args, *cmd, *sc, *caps, *drop;

	if (t == NULL || cm_name == NULL || !set(image))
		goto fail;
	if ((md = cJSON_AddObjectToObject(t, "metadata")) == NULL ||
	    !cJSON_AddItemToObject(md, "labels", children_labels(w->kind_label, name, w->mode)) ||
	    (ann = cJSON_AddObjectToObject(md, "annotations")) == NULL ||
	    cJSON_AddStringToObject(ann, CHILDREN_CONFIG_HASH, w->config_hash) == NULL)
		goto fail;
	if ((spec = cJSON_AddObjectToObject(t, "spec")) == NULL ||
	    (restart_policy != NULL &&
	     cJSON_AddStringToObject(spec, "restartPolicy", restart_policy) == NULL) ||
	    add_pod_security(spec) != 0 || add_placement(spec, w) != 0 ||
	    (cs = cJSON_AddArrayToObject(spec, "containers")) == NULL)
		goto fail;
	c = cJSON_CreateObject();
	if (c == NULL || !cJSON_AddItemToArray(cs, c)) {
		cJSON_Delete(c);
		goto fail;
	}
	if (cJSON_AddStringToObject(c, "name", "worker") == NULL ||
	    cJSON_AddStringToObject(c, "image", image) == NULL ||
	    (set(pull) && cJSON_AddStringToObject(c, "imagePullPolicy", pull) == NULL) ||
	    (cmd = cJSON_AddArrayToObject(c, "command")) == NULL ||
	    (args = cJSON_AddArrayToObject(c, "args")) == NULL)
		goto fail;
	cJSON_AddItemToArray(cmd, cJSON_CreateString("sluice-worker"));
	cJSON_AddItemToArray(args, cJSON_CreateString(w->mode));
	cJSON_AddItemToArray(args, cJSON_CreateString("--config"));
	cJSON_AddItemToArray(args, cJSON_CreateString(CHILDREN_CONFIG_DIR "/" CHILDREN_CONFIG_KEY));
	if (cJSON_GetArraySize(cmd) != 1 || cJSON_GetArraySize(args) != 3)
		goto fail;
	if (!cJSON_AddItemToObject(c, "env", pod_env(w)))
		goto fail;
	/* The endpoint's port, named for the workers' PodMonitor; on the host
	 * network each replica picks a free one instead. */
	if (!w->defaults->host_network) {
		cJSON *ports = cJSON_AddArrayToObject(c, "ports");
		cJSON *p = ports != NULL ? cJSON_CreateObject() : NULL;

		if (p == NULL || !cJSON_AddItemToArray(ports, p)) {
			cJSON_Delete(p);
			goto fail;
		}
		if (cJSON_AddStringToObject(p, "name", "metrics") == NULL ||
		    cJSON_AddNumberToObject(p, "containerPort", CHILDREN_METRICS_PORT) == NULL ||
		    cJSON_AddStringToObject(p, "protocol", "TCP") == NULL)
			goto fail;
	}
	if (w->resources != NULL &&
	    !cJSON_AddItemToObject(c, "resources", cJSON_Duplicate(w->resources, 1)))
		goto fail;
	if (restart_policy == NULL &&
	    (!cJSON_AddItemToObject(c, "readinessProbe", exec_probe("/readyz", 5)) ||
	     !cJSON_AddItemToObject(c, "livenessProbe", exec_probe("/healthz", 10))))
		goto fail;
	/* A worker that fails says why in its last log lines: they become the
	 * pod's termination message, which the operator reads when Redis,
	 * where it reports otherwise, cannot be reached. */
	if (cJSON_AddStringToObject(c, "terminationMessagePolicy", "FallbackToLogsOnError") == NULL)
		goto fail;
	if ((sc = cJSON_AddObjectToObject(c, "securityContext")) == NULL ||
	    cJSON_AddFalseToObject(sc, "allowPrivilegeEscalation") == NULL ||
	    cJSON_AddTrueToObject(sc, "readOnlyRootFilesystem") == NULL ||
	    (caps = cJSON_AddObjectToObject(sc, "capabilities")) == NULL ||
	    (drop = cJSON_AddArrayToObject(caps, "drop")) == NULL ||
	    !cJSON_AddItemToArray(drop, cJSON_CreateString("ALL")))
		goto fail;
	if (add_volumes(spec, c, w, cm_name) != 0)
		goto fail;
	free(cm_name);
	return t;
fail:
	free(cm_name);
	cJSON_Delete(t);
	return NULL;
}

/* spec.selector.matchLabels: the resource and the component. */
static int add_selector(cJSON *spec, const struct children_workload *w)
{
	char key[64];
	cJSON *sel, *ml;

	snprintf(key, sizeof(key), "sluice.dev/%s", w->kind_label);
	return (sel = cJSON_AddObjectToObject(spec, "selector")) != NULL &&
	               (ml = cJSON_AddObjectToObject(sel, "matchLabels")) != NULL &&
	               cJSON_AddStringToObject(ml, key, meta_str(w->owner, "name")) != NULL &&
	               cJSON_AddStringToObject(ml, "app.kubernetes.io/component", w->mode) != NULL
	           ? 0
	           : -1;
}

cJSON *children_deployment(const struct children_workload *w)
{
	char *name = children_name(w->owner, w->mode);
	cJSON *d = name != NULL ? children_object("apps/v1", "Deployment", w->owner, name,
	                                          w->kind_label, w->mode)
	                        : NULL;
	cJSON *spec;

	free(name);
	if (d == NULL)
		return NULL;
	if ((spec = cJSON_AddObjectToObject(d, "spec")) == NULL ||
	    (w->replicas >= 0 && cJSON_AddNumberToObject(spec, "replicas", w->replicas) == NULL) ||
	    add_selector(spec, w) != 0 ||
	    !cJSON_AddItemToObject(spec, "template", pod_template(w, NULL))) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

cJSON *children_job(const struct children_workload *w, int backoff_limit)
{
	char *name = children_name(w->owner, w->mode);
	cJSON *j = name != NULL
	               ? children_object("batch/v1", "Job", w->owner, name, w->kind_label, w->mode)
	               : NULL;
	cJSON *spec;

	free(name);
	if (j == NULL)
		return NULL;
	if ((spec = cJSON_AddObjectToObject(j, "spec")) == NULL ||
	    cJSON_AddNumberToObject(spec, "backoffLimit", backoff_limit) == NULL ||
	    !cJSON_AddItemToObject(spec, "template", pod_template(w, "Never"))) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

size_t children_kafka_secrets(const struct spec_kafka *k, struct children_secret *out)
{
	const struct spec_secret_ref *refs[SPEC_KAFKA_SECRET_REFS_MAX];
	size_t n = spec_kafka_secret_refs(k, refs);

	for (size_t i = 0; i < n; i++)
		out[i] = (struct children_secret){refs[i]->name, refs[i]->key};
	return n;
}
