/* reconcile_vj_purge.c - the purge Job's reads and writes around
 * vj_purge_plan.h; see reconcile_vj_purge.h. */
#include "reconcile_vj_purge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "children.h"
#include "events.h"
#include "log.h"
#include "reconcile_vj_plan.h"
#include "workers_health.h"

#define KIND_LABEL "videojob"

/* The job's own writers go: the process Deployment, the split and
 * assemble Jobs (with their pods). */
static void stop_writers(const struct reconcile_ctx *ctx, const cJSON *obj)
{
	static const struct {
		const char *group, *resource, *mode;
	} w[] = {{"apps", "deployments", "process"},
	         {"batch", "jobs", "split"},
	         {"batch", "jobs", "assemble"}};
	const char *ns = reconcile_meta(obj, "namespace");

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		char *name = children_name(obj, w[i].mode);

		if (name != NULL)
			reconcile_delete_child(ctx, w[i].group, w[i].resource, ns, name);
		free(name);
	}
}

/* The pods of split, process and assemble that may still write; -1 when
 * they could not be listed. */
static long long observe_writers(const struct reconcile_ctx *ctx, const cJSON *obj)
{
	const char *ns = reconcile_meta(obj, "namespace");
	struct kube_ref pods = {"", "v1", "pods", ns, NULL, NULL};
	char selector[512], msg[600];
	struct kube_list_opts o = {.label_selector = selector, .limit = 500};
	struct kube_error err;
	cJSON *list = NULL;
	long long n;

	snprintf(selector, sizeof(selector),
	         "sluice.dev/" KIND_LABEL "=%s,app.kubernetes.io/component in "
	         "(split,process,assemble)",
	         reconcile_meta(obj, "name"));
	if (kube_client_list(ctx->kube, &pods, &o, &list, &err) != 0) {
		log_warn("pods not listed: the purge waits", "namespace", ns, "selector", selector,
		         "error", kube_error_format(&err, msg, sizeof(msg)), NULL);
		return -1;
	}
	n = vj_purge_count_writers(list);
	cJSON_Delete(list);
	return n;
}

/* The purge Job's pod spec: the worker pods' template with only the
 * PostgreSQL Secrets (a missing Kafka or Redis Secret must not stop it). */
static int create_job(const struct reconcile_ctx *ctx, const cJSON *obj, const cJSON *eff,
                      const struct vj_spec *vs)
{
	const char *ns = reconcile_meta(obj, "namespace");
	const cJSON *workers = cJSON_GetObjectItemCaseSensitive(eff, "workers");
	const cJSON *resources = cJSON_GetObjectItemCaseSensitive(workers, "resources");
	struct children_secret secrets[2];
	size_t n = 0;
	char hash[32], err[1024];
	char *config = children_config_json(reconcile_meta(obj, "name"), ns, eff);
	struct kube_ref jobs = {"batch", "v1", "jobs", ns, NULL, NULL};
	cJSON *job, *stored = NULL;
	int created = 0, rc;

	if (config == NULL)
		return RECONCILE_ERROR;
	secrets[n++] =
	    (struct children_secret){vs->sinks.postgres.dsn.name, vs->sinks.postgres.dsn.key};
	if (vs->sinks.postgres.tls_ca.name != NULL)
		secrets[n++] = (struct children_secret){vs->sinks.postgres.tls_ca.name,
		                                        vs->sinks.postgres.tls_ca.key};
	struct children_workload w = {
	    .owner = obj,
	    .kind_label = KIND_LABEL,
	    .mode = VJ_PURGE_MODE,
	    .config_hash = children_config_hash(config, hash, sizeof(hash)),
	    .image = vs->workers.image,
	    .pull_policy = vs->workers.image_pull_policy,
	    .resources = cJSON_IsObject(resources) ? resources : NULL,
	    .workers = workers,
	    .volume = NULL, /* the rows only: no media */
	    .secrets = secrets,
	    .n_secrets = n,
	    .replicas = -1,
	    .defaults = &ctx->defaults,
	};
	job = vj_purge_job(children_job(&w, VJ_PURGE_BACKOFF_LIMIT), obj, config);
	free(config);
	if (job == NULL)
		return RECONCILE_ERROR;
	rc = reconcile_ensure(ctx, &jobs, job, &stored, &created, err, sizeof(err));
	if (rc == 0 && created) {
		char note[EVENTS_NOTE_MAX];

		snprintf(note, sizeof(note),
		         "Job %s deletes the job's rows from PostgreSQL before the VideoJob goes "
		         "(spec.sinks.postgres.deleteWithJob)",
		         reconcile_meta(job, "name"));
		events_emit(ctx->kube, obj, EVENTS_NORMAL, "PurgeStarted", note, "Delete",
		            ctx->instance);
		log_info("purge job created", "namespace", ns, "name", reconcile_meta(obj, "name"),
		         "job", reconcile_meta(job, "name"), NULL);
	}
	cJSON_Delete(stored);
	cJSON_Delete(job);
	return rc == 0 ? RECONCILE_POLL : RECONCILE_ERROR;
}

int reconcile_vj_purge(const struct reconcile_ctx *ctx, const cJSON *obj, const cJSON *eff,
                       const struct vj_spec *vs, struct vj_purge_pass *out)
{
	struct vj_purge_observed o = {0};
	const char *ns = reconcile_meta(obj, "namespace");
	char *job_name = NULL, exit_msg[512];
	cJSON *job = NULL, *pods = NULL;
	int rc = RECONCILE_OK;

	memset(out, 0, sizeof(*out));
	o.asked =
	    vs != NULL && vs->sinks.postgres_delete_with_job && vs->sinks.postgres.dsn.name != NULL;
	if (!o.asked) {
		vj_purge_decide(&o, &out->d);
		return RECONCILE_OK;
	}
	snprintf(out->table, sizeof(out->table), "%s", vs->sinks.postgres.table);
	o.has_image = (vs->workers.image != NULL && vs->workers.image[0] != '\0') ||
	              (ctx->defaults.worker_image != NULL && ctx->defaults.worker_image[0] != '\0');
	job_name = children_name(obj, VJ_PURGE_MODE);
	if (job_name == NULL)
		return RECONCILE_ERROR;
	{
		struct kube_ref ref = {"batch", "v1", "jobs", ns, job_name, NULL};
		struct kube_error err;
		char msg[600];
		int g = kube_client_get(ctx->kube, &ref, &job, &err);

		if (g != 0 && g != KUBE_ENOTFOUND) {
			log_warn("purge job not read", "namespace", ns, "job", job_name, "error",
			         kube_error_format(&err, msg, sizeof(msg)), NULL);
			free(job_name);
			return RECONCILE_ERROR;
		}
		o.job_found = g == 0;
	}
	if (o.job_found) {
		const char *uid = reconcile_meta(obj, "uid");
		const char *ours = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		    reconcile_path(job, "metadata", "annotations"), VJ_PURGE_OWNER_UID));

		o.job_ours = uid != NULL && ours != NULL && strcmp(uid, ours) == 0;
		o.job_deleting = reconcile_path(job, "metadata", "deletionTimestamp") != NULL;
		o.job_outcome = vj_plan_job_outcome(job);
		if (o.job_outcome < 0) {
			const char *message;

			vj_purge_job_failure(job, &o.job_reason, &message);
			pods = reconcile_pods(ctx, obj, KIND_LABEL, VJ_PURGE_MODE);
			o.job_error = workers_health_exit_message(pods, exit_msg, sizeof(exit_msg))
			                  ? exit_msg
			                  : message;
		}
	} else if (o.has_image) {
		o.writers = observe_writers(ctx, obj);
	}
	vj_purge_decide(&o, &out->d);
	log_debug("purge", "namespace", ns, "name", reconcile_meta(obj, "name"), "action",
	          vj_purge_action_name(out->d.action), NULL);
	switch (out->d.action) {
	case VJ_PURGE_DELETE_STALE:
		reconcile_delete_child(ctx, "batch", "jobs", ns, job_name);
		rc = RECONCILE_POLL;
		break;
	case VJ_PURGE_STOP_WRITERS:
		stop_writers(ctx, obj);
		rc = RECONCILE_POLL;
		break;
	case VJ_PURGE_CREATE:
		/* Again: a Deployment scaled to zero has no pods to count. */
		stop_writers(ctx, obj);
		rc = create_job(ctx, obj, eff, vs);
		break;
	case VJ_PURGE_WAIT:
		rc = RECONCILE_POLL;
		break;
	case VJ_PURGE_SKIP:
	case VJ_PURGE_DONE:
	case VJ_PURGE_GIVE_UP:
	default:
		rc = RECONCILE_OK;
		break;
	}
	cJSON_Delete(pods);
	cJSON_Delete(job);
	free(job_name);
	return rc;
}

void reconcile_vj_purge_finish(const struct reconcile_ctx *ctx, const cJSON *obj,
                               const struct vj_purge_pass *p)
{
	struct events_planned ev;
	const char *name = reconcile_meta(obj, "name");

	if (name == NULL || !vj_purge_event(&p->d, name, p->table, &ev))
		return;
	events_emit_planned(ctx->kube, obj, &ev, ctx->instance);
	if (p->d.action == VJ_PURGE_GIVE_UP) {
		log_warn("purge failed: the job's rows stay", "namespace",
		         reconcile_meta(obj, "namespace"), "name", name, "error", p->d.message,
		         NULL);
		return;
	}
	char *job_name = children_name(obj, VJ_PURGE_MODE);
	if (job_name != NULL)
		reconcile_delete_child(ctx, "batch", "jobs", reconcile_meta(obj, "namespace"),
		                       job_name);
	free(job_name);
}
