/*
 * reconcile_vw_plan.h - the VideoWatch reconciler's plan (pure: plain
 * structs and cJSON in, cJSON out, no I/O), after observe and before apply
 * (reconcile_vw.h):
 *
 *   - the watcher's children: its ServiceAccount, a Role that lets it create
 *     and get VideoJobs and read and patch its own VideoWatch's status, the
 *     RoleBinding, and, when spec.upload is set, a Service for the upload
 *     port (the ConfigMap and Deployment are children.h's);
 *   - the status: observedGeneration, active / succeeded / failed counts of
 *     the watch's VideoJobs, and the conditions Ready and FolderReadable
 *     (from what the watcher writes under .status.watcher, which the
 *     operator never writes);
 *   - the history limits: which finished VideoJobs to delete, oldest first,
 *     as a CronJob does with its Jobs. A deleted job's file is not taken
 *     again (the watcher's marker remembers it).
 *
 * Ownership: returned cJSON and arrays belong to the caller; inputs are
 * borrowed.
 */
#ifndef SLUICE_RECONCILE_VW_PLAN_H
#define SLUICE_RECONCILE_VW_PLAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define RECONCILE_VW_KIND "VideoWatch"
#define RECONCILE_VW_PLURAL "videowatches"
/* The children's kind label and the watcher's mode. */
#define VW_KIND_LABEL "videowatch"
#define VW_MODE "watch"

enum vw_job_state { VW_JOB_ACTIVE, VW_JOB_SUCCEEDED, VW_JOB_FAILED };

/* One VideoJob of the watch, as the cache has it. */
struct vw_job_seen {
	const char *name;
	enum vw_job_state state;
	/* When it finished (status.completionTime, else its creation time):
	 * RFC 3339 in UTC, which sorts as text. */
	const char *finished;
};

/* The state of a VideoJob from its status.phase (NULL: not started). */
enum vw_job_state vw_plan_job_state(const char *phase);

struct vw_observed {
	long long generation;
	const cJSON *old_status; /* the stored .status, or NULL */
	const char *spec_error;  /* NULL: the spec is valid */
	const char *apply_error; /* NULL: the watcher's children are in place */
	int watcher_ready;       /* the watcher Deployment has a ready pod */
	const struct vw_job_seen *jobs;
	size_t n_jobs;
	int successful_history, failed_history; /* spec's history limits */
	const char *now;                        /* RFC 3339 */
};

struct vw_plan {
	cJSON *status;            /* the whole status the operator writes */
	const char **delete_jobs; /* names (borrowed from jobs) to delete */
	size_t n_delete;
};

/* Plans the status and the deletions. Returns 0, or -1 when out of memory
 * (*out then holds nothing). Free with vw_plan_free. */
int vw_plan(const struct vw_observed *o, struct vw_plan *out);
void vw_plan_free(struct vw_plan *p);

/* The watcher's ServiceAccount, Role and RoleBinding ("<watch>-watcher")
 * and its upload Service ("<watch>-upload", port upload_port; 0: none, NULL
 * returned) as children of owner, the VideoWatch. NULL when out of memory
 * or the owner lacks metadata. */
cJSON *vw_plan_service_account(const cJSON *owner);
cJSON *vw_plan_role(const cJSON *owner);
cJSON *vw_plan_role_binding(const cJSON *owner);
cJSON *vw_plan_service(const cJSON *owner, int upload_port);

/* The watcher's extra environment for children_workload.workers' "env":
 * the upload token from its Secret (when token_secret is set),
 * KUBERNETES_SERVICE_HOST/PORT from api_server ("host:port"; NULL: none)
 * and SLUICE_DASHBOARD_URL (NULL: none). A cJSON array. */
cJSON *vw_plan_watcher_env(const char *token_secret, const char *token_key, const char *api_server,
                           const char *dashboard_url);

#endif
