/*
 * controller.h - the operator's control loop, assembled:
 *
 *   reflectors (TelemetryWindows, VideoJobs, and the Deployments and Jobs
 *   the operator made, by label) ─► handlers ─► work queue ─► workers ─►
 *   reconcile_tw / reconcile_vj
 *
 * One thread per reflector, `workers` reconcile threads. A resource's key
 * is queued when it is added or deleted, when its generation, finalizers or
 * deletionTimestamp change (not for its own status writes, which would
 * loop), when one of its children changes (a Deployment's status, a child
 * deleted by hand), and again poll_ms after each reconcile that asks for it.
 * A failed reconcile is retried with the key's exponential backoff.
 *
 * Threads: controller_start/stop from the main thread; controller_ready,
 * controller_status and controller_update_metrics from any.
 */
#ifndef SLUICE_CONTROLLER_H
#define SLUICE_CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#include "kube_client.h"
#include "metrics.h"
#include "reconcile.h"

struct controller_options {
	struct kube_client *kube;         /* borrowed */
	const char *namespace;            /* NULL or "": all namespaces */
	int workers;                      /* reconcile threads; 0: 4 */
	struct reconcile_ctx ctx;         /* kube, stores and topics are filled in */
	struct metrics_registry *metrics; /* may be NULL */
};

struct controller;

/* Builds everything and starts the reflectors, so the caches fill (and
 * /readyz turns ready) on every replica; keys queue up but nothing is
 * reconciled until controller_activate(). Returns 0 with *out set, or -1
 * with errbuf saying why (nothing left running). */
int controller_start(struct controller **out, const struct controller_options *opts, char *errbuf,
                     size_t errbuf_size);

/* Lets the reconcile workers run (starting their threads the first time):
 * called when this replica becomes the leader (at once without leader
 * election). Idempotent. Returns 0, or -1 with errbuf set. */
int controller_activate(struct controller *c, char *errbuf, size_t errbuf_size);

/* Stops reconciling, for a replica that lost the lead (the API server away
 * past the renew deadline, say): returns once no reconcile is running, so
 * the next leader never overlaps with this one. Keys stay queued; the
 * caches keep watching; controller_activate() resumes. */
void controller_deactivate(struct controller *c);

/* Stops the reflectors and the queue, waits for reconciles in progress to
 * end (each is bounded by the client's timeouts), joins every thread and
 * frees everything. NULL is a no-op. */
void controller_stop(struct controller *c);

/* The reconcilers' context (client, caches, defaults), for the autoscaler:
 * valid until controller_stop. */
const struct reconcile_ctx *controller_context(const struct controller *c);

/* /readyz: 0 once every reflector has listed, else non-zero with the
 * reflectors still waiting in reason. An httpd_check_fn. */
int controller_ready(void *c, char *reason, size_t reason_size);

/* What GET /status shows of the controller (docs/status.md). */
#define CONTROLLER_STATUS_RESOURCES 8
struct controller_status {
	size_t nresources;
	const char *resource[CONTROLLER_STATUS_RESOURCES]; /* "telemetrywindows", "deployments" */
	size_t objects[CONTROLLER_STATUS_RESOURCES];       /* in its cache */
	int synced[CONTROLLER_STATUS_RESOURCES];           /* listed at least once */
	size_t queue_depth, queue_waiting, queue_processing;
	int active;                /* reconciling (this replica leads) */
	uint64_t reconcile_errors; /* failed reconciles since the start */
	char last_error_key[512];  /* the last failed reconcile's key; "": none */
	int64_t last_error_ns;     /* its wall-clock time */
};

/* Fills *st; any thread. c NULL (not started yet): all zero. The reason
 * of a failed reconcile is in its reconciler's log line, not here. */
void controller_status(struct controller *c, struct controller_status *st);

/* Copies the queue's, reflectors' and client's counters into the metrics
 * (called every second or so by main). */
void controller_update_metrics(struct controller *c);

#endif
