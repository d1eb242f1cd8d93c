/*
 * workers_health.h - what a resource's status says about its worker pods,
 * decided from the worker Deployment and its pods as the API server
 * reports them (pure: no I/O, so every rule is unit-tested).
 *
 * A resource can look fine while its workers cannot run: pods refused by
 * admission (Pod Security, quotas), an image the node does not have, a
 * crash loop, an OOM kill, no node to schedule on, a worker that runs but
 * never gets ready (Kafka out of its reach). These reach the status
 * as a False condition whose reason is the pod's own (the ReplicaSet's
 * FailedCreate, ErrImageNeverPull, CrashLoopBackOff, OOMKilled,
 * Unschedulable) and whose message says which pod and why, including the
 * last lines a crashed worker wrote (its termination message).
 *
 * Threads: none. The result's reason may point into deployment or pods:
 * use it while they live; the message is copied.
 */
#ifndef SLUICE_WORKERS_HEALTH_H
#define SLUICE_WORKERS_HEALTH_H

#include <time.h>

#include <cjson/cJSON.h>

/* How long a started worker may stay not ready before it counts as one
 * that cannot run: a telemetry worker is ready at its first partition
 * assignment, a few seconds after start when Kafka answers. */
#define WORKERS_READY_GRACE_S 30
/* How long a scheduled pod may take to have its container created (volumes
 * mounted, the sandbox made; images are pulled after that). */
#define WORKERS_START_GRACE_S 60

struct workers_health {
	int desired;        /* the Deployment's spec.replicas */
	int ready;          /* its status.readyReplicas */
	int failing;        /* 1: the workers cannot run (Ready turns False) */
	const char *status; /* "True", "False" or "Unknown": the WorkersAvailable condition */
	const char *reason; /* CamelCase: the pod's own or ours */
	char message[1024];
};

/*
 * Judges deployment (as stored; NULL: not made yet) and pods (a PodList as
 * the API server returns it, or NULL when not read: the operator reads pods
 * only while fewer are ready than wanted), at now (seconds since the epoch).
 * In order: pods refused (ReplicaFailure: failing), a pod's container
 * waiting on an image or a crash loop, or last killed for memory (failing),
 * a pod that cannot be scheduled (failing), or scheduled more than
 * WORKERS_START_GRACE_S ago with its container not yet created (failing),
 * a container running for more than WORKERS_READY_GRACE_S without being
 * ready (failing), scaled to zero,
 * all ready, some not ready yet.
 */
void workers_health_judge(const cJSON *deployment, const cJSON *pods, time_t now,
                          struct workers_health *out);

/*
 * Whether deployment (as stored) asks for no worker and has none: spec.
 * replicas, status.replicas and status.readyReplicas all 0 (absent counts 0
 * in status). NULL (not made yet) is not stopped. Nothing a stopped
 * Deployment's resource reports can move until it is scaled, and scaling
 * it is a change its watch brings: the reconcilers stop polling then.
 */
int workers_health_stopped(const cJSON *deployment);

/* The first pod of pods (a PodList) that cannot run, as above, into out
 * (failing, status "False", reason, message). Returns 1 when one was found;
 * for a Job's pods, which have no Deployment to judge. */
int workers_health_pods(const cJSON *pods, time_t now, struct workers_health *out);

/* The first line of the termination message a failed pod of pods left
 * (the worker's last log line, FallbackToLogsOnError) into buf. Returns 1
 * when there was one. */
int workers_health_exit_message(const cJSON *pods, char *buf, size_t size);

#endif
