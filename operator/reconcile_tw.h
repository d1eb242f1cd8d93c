/*
 * reconcile_tw.h - the TelemetryWindow reconciler.
 *
 * For a TelemetryWindow <name> in <ns> it makes sure of:
 *   - its spec: the effective spec (children_tw_effective_spec) must pass
 *     lib/contract/tw_spec, the worker's own parser; if not: phase Failed,
 *     Ready=False reason InvalidSpec with the parser's message, an Event,
 *     and nothing else is touched;
 *   - the input topic: it is the user's, so it is only looked at
 *     (TopicReady=False TopicNotFound or KafkaUnavailable when it cannot
 *     be seen; the workers are deployed anyway and start when it appears);
 *     the dead-letter topic is created with the input's partition count;
 *   - ConfigMap <name>-config (config.json) and Deployment
 *     <name>-telemetry, applied server-side; replicas are set only when the
 *     Deployment is created (minReplicas), later they are the scaler's;
 *   - status through /status: phase, observedGeneration, replicas,
 *     conditions Ready / TopicReady / WorkersAvailable;
 *   - finalizer sluice.dev/cleanup when there is Redis state to remove
 *     (the status keys sluice:tw:<ns>:<name>: on --redis-addr, and the
 *     sink's keys when its prefix is the resource's own).
 *
 * Events: Created, ConfigChanged (a rollout), Ready, InvalidSpec,
 * TopicNotFound, KafkaUnavailable, ApplyFailed, CleanedUp, CleanupFailed.
 *
 * What to do, the status and the Events are decided by the pure functions
 * of reconcile_tw_plan.h; reconcile_tw.c only reads (the cache, Kafka, the
 * status Redis on the context's kept connection) and writes.
 */
#ifndef SLUICE_RECONCILE_TW_H
#define SLUICE_RECONCILE_TW_H

#include "reconcile.h"

#define RECONCILE_TW_PLURAL "telemetrywindows"
#define RECONCILE_TW_KIND "TelemetryWindow"

/* Reconciles the TelemetryWindow ns/name. Returns RECONCILE_OK,
 * RECONCILE_POLL or RECONCILE_ERROR. */
int reconcile_tw(const struct reconcile_ctx *ctx, const char *ns, const char *name);

#endif
