/*
 * reconcile_vj.h - the VideoJob reconciler: a run-to-completion pipeline.
 *
 *   Pending ─► Splitting ─► Processing ─► Assembling ─► Succeeded
 *                  └────────────┴─────────────┴──────► Failed
 *
 * For a VideoJob <name> in <ns>, driven by what the workers recorded in the
 * status Redis (lib/vj_progress.h) and by its Jobs' status:
 *   - the spec must pass lib/vj_spec (the workers' parser), else Failed /
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
 */
#ifndef SLUICE_RECONCILE_VJ_H
#define SLUICE_RECONCILE_VJ_H

#include "reconcile.h"

#define RECONCILE_VJ_PLURAL "videojobs"
#define RECONCILE_VJ_KIND "VideoJob"

/* Phase and progress from what was recorded (pure). */
struct vj_state {
	int split_job_done, split_job_failed; /* the split Job's status */
	int assemble_job_failed;              /* the assemble Job's status */
	int have_progress;                    /* Redis was read */
	long long segments_total, segments_done, segments_failed;
	int split_done, assembled;
	const char *failed; /* vj_progress's reason, "" none */
};

/* The phase for st: "Splitting", "Processing", "Assembling", "Succeeded"
 * or "Failed" (with the reason in *reason and a message in msg). Pure. */
const char *reconcile_vj_phase(const struct vj_state *st, const char **reason, char *msg,
                               size_t msg_size);

/* "N%": done of total, rounded down; "0%" for total 0. Pure. */
const char *reconcile_vj_progress(long long done, long long total, char *buf, size_t size);

/* Reconciles the VideoJob ns/name. Returns RECONCILE_OK, RECONCILE_POLL or
 * RECONCILE_ERROR. */
int reconcile_vj(const struct reconcile_ctx *ctx, const char *ns, const char *name);

#endif
