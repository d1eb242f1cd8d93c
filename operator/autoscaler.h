/*
 * autoscaler.h - scales every resource's worker Deployment by its Kafka
 * consumer group's lag.
 *
 * One thread. Every pollingInterval per resource (TelemetryWindows and
 * VideoJobs, read from the controller's caches) it:
 *   1. reads the spec (the worker's own parser: lib/contract/tw_spec, lib/contract/vj_spec)
 *      for the bootstrap, topic, group and workers.{min,max}Replicas,
 *      lagThreshold, activationLagThreshold;
 *   2. reads the Deployment <name>-<mode>'s spec.replicas (no Deployment:
 *      nothing to scale yet, or any more; a VideoJob is scaled only while
 *      its phase is Splitting or Processing);
 *   3. reads the group's lag (operator/lag.h, one reader per cluster);
 *   4. decides (operator/scale.h, a pure function with its own per-resource
 *      history kept here);
 *   5. sets replicas through the Deployment's /scale subresource when the
 *      decision differs, with an Event "Scaled" carrying the reason;
 *   6. writes status.lag, lagSeconds, desiredReplicas and lastScaleTime with
 *      a merge patch of /status, only when one of them changed (every write
 *      is a watch event for every client).
 * It acts only while is_leader says so (leader election); a follower keeps
 * no history, so a new leader starts with fresh windows (scale.h seeds them
 * so that a restart never scales down before a window has passed).
 *
 * The replicas the reconcilers set at creation (minReplicas) are theirs; from
 * then on replicas belong to the autoscaler alone.
 */
#ifndef SLUICE_AUTOSCALER_H
#define SLUICE_AUTOSCALER_H

#include <stddef.h>
#include <stdint.h>

#include "reconcile.h"

struct metrics_registry;

struct autoscaler_options {
	const struct reconcile_ctx *ctx;    /* kube, stores, defaults, instance; borrowed */
	int64_t polling_ms;                 /* <= 0: SCALE_DEFAULT_POLLING_MS */
	int64_t stabilization_ms;           /* < 0: SCALE_DEFAULT_STABILIZATION_MS */
	int64_t cooldown_ms;                /* < 0: SCALE_DEFAULT_COOLDOWN_MS */
	int64_t trend_ms;                   /* < 0: SCALE_DEFAULT_TREND_MS; 0: off */
	int32_t fallback_replicas;          /* < 0: none */
	int32_t fallback_failure_threshold; /* < 0: SCALE_DEFAULT_FAILURE_THRESHOLD */
	int kafka_timeout_ms;               /* one lag request; <= 0: 5000 */
	int (*is_leader)(void *arg);        /* NULL: always */
	void *leader_arg;
	struct metrics_registry *metrics; /* may be NULL */
};

struct autoscaler;

/* Starts the thread. Returns 0 with *out, or -1 with errbuf. */
int autoscaler_start(struct autoscaler **out, const struct autoscaler_options *opts, char *errbuf,
                     size_t errbuf_size);

/* Stops and joins the thread (a poll in progress ends within its Kafka and
 * API timeouts) and frees everything. NULL is a no-op. */
void autoscaler_stop(struct autoscaler *a);

#endif /* SLUICE_AUTOSCALER_H */
