/*
 * vj_purge_plan.h - what the VideoJob finalizer decides about the job's rows
 * in PostgreSQL when spec.sinks.postgres.deleteWithJob is set, apart from
 * what it reads and writes (reconcile_vj_purge.c): plain values in, plain
 * values out, no I/O.
 *
 * The operator cannot reach the database (it never reads the DSN's Secret
 * and has no PostgreSQL client), so a purge Job "<name>-purge" runs
 * `sluice-worker purge` in the worker image with the job's DSN by
 * secretKeyRef (docs/video-worker.md). One finalizer pass:
 *
 *   observe: the purge Job (GET), the job's writers (its split, process and
 *     assemble pods not yet finished)
 *     ─► vj_purge_decide:
 *          not asked, or nothing to purge with    ─► SKIP   (cleanup goes on)
 *          a purge Job of an earlier VideoJob of
 *            the same name (another uid)          ─► DELETE_STALE, look again
 *          the Job succeeded                      ─► DONE   (cleanup goes on)
 *          the Job failed (its backoffLimit or
 *            its deadline spent)                  ─► GIVE_UP (cleanup goes on;
 *                                                    a Warning names the failure)
 *          the Job runs                           ─► WAIT
 *          no Job, no worker image                ─► GIVE_UP
 *          no Job, writers still running          ─► STOP_WRITERS, look again
 *          no Job, writers unknown (list failed)  ─► WAIT
 *          no Job, no writers                     ─► CREATE, look again
 *   then the topics and Redis keys go (vj_plan_cleanup), the finalizer is
 *   dropped, the Event of vj_purge_event is emitted and the purge Job
 *   deleted.
 *
 * A broken database never blocks the deletion: the Job's backoffLimit
 * bounds its retries and activeDeadlineSeconds its time (a pod that cannot
 * even start, e.g. a missing Secret, fails it too).
 *
 * Threads: none; every function is pure.
 */
#ifndef SLUICE_VJ_PURGE_PLAN_H
#define SLUICE_VJ_PURGE_PLAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "events.h"

/* The purge Job's mode (sluice-worker purge, the component label and the
 * name "<name>-purge"). */
#define VJ_PURGE_MODE "purge"
/* The purge Job's annotation naming the VideoJob (its uid) it purges for. */
#define VJ_PURGE_OWNER_UID "sluice.dev/owner-uid"
/* The pod annotation that holds config.json, mounted by the downward API
 * (the purge outlives the job's ConfigMap under foreground deletion). */
#define VJ_PURGE_CONFIG_ANNOTATION "sluice.dev/config"
/* Tries of the purge pod, and the most time the Job may take. */
#define VJ_PURGE_BACKOFF_LIMIT 2
#define VJ_PURGE_DEADLINE_S 600
/* A finished purge Job the operator could not delete goes by itself. */
#define VJ_PURGE_TTL_S 3600
#define VJ_PURGE_MSG_MAX 1024

/* What a finalizer pass found. Pointers are borrowed. */
struct vj_purge_observed {
	int asked;              /* the spec parsed and has deleteWithJob: true */
	int has_image;          /* a worker image to run the Job with */
	int job_found;          /* the Job "<name>-purge" exists */
	int job_ours;           /* its VJ_PURGE_OWNER_UID is this VideoJob's uid */
	int job_deleting;       /* its deletionTimestamp is set */
	int job_outcome;        /* vj_plan_job_outcome: 1 succeeded, -1 failed, 0 not yet */
	const char *job_reason; /* a failed Job: its Failed condition's reason; NULL none */
	const char *job_error;  /* a failed Job: its pod's last line, else the condition's
	                           message; NULL none */
	long long writers;      /* split/process/assemble pods not finished; -1 unknown */
};

enum vj_purge_action {
	VJ_PURGE_SKIP,         /* nothing to purge: the cleanup goes on */
	VJ_PURGE_DELETE_STALE, /* delete an earlier VideoJob's purge Job; look again */
	VJ_PURGE_STOP_WRITERS, /* delete the process Deployment and the split and assemble
	                          Jobs; look again */
	VJ_PURGE_CREATE,       /* the writers' objects deleted, the purge Job created; look
	                          again */
	VJ_PURGE_WAIT,         /* look again */
	VJ_PURGE_DONE,         /* the rows are gone: the cleanup goes on */
	VJ_PURGE_GIVE_UP,      /* the rows stay: the cleanup goes on, with a Warning */
};

struct vj_purge_decision {
	enum vj_purge_action action;
	int proceed;                    /* the rest of the cleanup and the finalizer may go */
	int poll;                       /* look again after the poll period (nothing else wakes the
	                                   pass: pods are not watched) */
	char message[VJ_PURGE_MSG_MAX]; /* GIVE_UP: why, for the Warning */
};

/* The decision for o (the table above). Pure. */
void vj_purge_decide(const struct vj_purge_observed *o, struct vj_purge_decision *out);

/* "skip", "delete-stale", "stop-writers", "create", "wait", "done",
 * "give-up". Pure. */
const char *vj_purge_action_name(enum vj_purge_action a);

/*
 * The Event once the finalizer is dropped, for DONE ("Purged", Normal,
 * naming the Job and the table) and GIVE_UP ("PurgeFailed", Warning,
 * naming the Job, the failure and that the rows stay, with the command
 * that deletes them). Returns 1 with *out filled, 0 for the other actions
 * (no Event). Pure.
 */
int vj_purge_event(const struct vj_purge_decision *d, const char *name, const char *table,
                   struct events_planned *out);

/* The pods of pods (a PodList, may be NULL: 0) that may still write: phase
 * neither Succeeded nor Failed. Pure. */
long long vj_purge_count_writers(const cJSON *pods);

/*
 * The purge Job for the VideoJob owner, from job (children_job's Job of
 * mode VJ_PURGE_MODE, taken over and changed in place): no ownerReference
 * (foreground deletion of the VideoJob must not delete it, so the operator
 * deletes it, and ttlSecondsAfterFinished as a backstop), VJ_PURGE_OWNER_UID
 * = the owner's uid, activeDeadlineSeconds, and config.json from the pod's
 * VJ_PURGE_CONFIG_ANNOTATION (config_text) through a downwardAPI volume
 * instead of the job's ConfigMap. Returns job, or NULL (job freed) when
 * job is NULL, lacks the expected shape, or out of memory. Pure.
 */
cJSON *vj_purge_job(cJSON *job, const cJSON *owner, const char *config_text);

/* A failed Job's Failed condition: its reason (NULL: none) into *reason
 * and its message into *message (borrowed from job). Pure. */
void vj_purge_job_failure(const cJSON *job, const char **reason, const char **message);

#endif
