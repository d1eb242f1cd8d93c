/*
 * reconcile_vj.h - the VideoJob reconciler: a run-to-completion pipeline.
 *
 *   Pending ─► Splitting ─► Processing ─► Assembling ─► Succeeded
 *                  └────────────┴─────────────┴──────► Failed
 *
 * For a VideoJob <name> in <ns>, driven by what the workers recorded in the
 * status Redis (lib/contract/vj_progress.h) and by its Jobs' status:
 *   - the spec must pass lib/contract/vj_spec (the workers' parser), else Failed /
 *     InvalidSpec;
 *   - the task topic (spec.kafka.topic, partitions = workers.maxReplicas)
 *     and its dead-letter topic are created (KafkaUnavailable otherwise);
 *   - ConfigMap <name>-config, Job <name>-split, Deployment <name>-process
 *     (created with minReplicas; the autoscaler scales it by the topic's
 *     lag), Job <name>-assemble once every segment is done;
 *   - phase, progress "N%", segments and frames, startTime, completionTime,
 *     replicas, topic, observedGeneration, conditions Ready / Complete /
 *     Failed; an Event per phase;
 *   - on success the process Deployment is deleted; on failure (the split
 *     Job failed, vj_progress's failed reason, segments that failed for
 *     good, the assemble Job failed) the reason is on the status and in a
 *     Warning Event, and the workers are deleted too;
 *   - finalizer sluice.dev/cleanup deletes the topics and the Redis keys.
 * A finished job (Succeeded/Failed for its current generation) is left
 * alone.
 *
 * The phase machine, the children each phase needs, the status and the
 * Events are decided by the pure functions of reconcile_vj_plan.h;
 * reconcile_vj.c only reads (the cache, the Jobs and pods, the status Redis
 * on the context's kept connection) and writes.
 */
#ifndef SLUICE_RECONCILE_VJ_H
#define SLUICE_RECONCILE_VJ_H

#include "reconcile.h"
#include "reconcile_vj_plan.h" /* its decisions: reconcile_vj_phase, ... */

#define RECONCILE_VJ_PLURAL "videojobs"
#define RECONCILE_VJ_KIND "VideoJob"

/* Reconciles the VideoJob ns/name. Returns RECONCILE_OK, RECONCILE_POLL or
 * RECONCILE_ERROR. */
int reconcile_vj(const struct reconcile_ctx *ctx, const char *ns, const char *name);

#endif
