/*
 * reconcile_vj_plan.h - what the VideoJob reconciler decides, apart from
 * what it reads and writes (reconcile_vj.c): plain values in, plain values
 * out, no I/O, so the phase machine, the children each phase needs, the
 * status, its conditions and Events are unit-tested without servers.
 *
 * A pass (reconcile_vj.h) runs:
 *
 *   observe the resource (cache; the effective spec parsed)
 *     ─► vj_plan_begin: finalize, leave a finished job alone, report an
 *        invalid one, or run
 *     ─► an NVENC job about to run: the nodes listed (GET /api/v1/nodes),
 *        vj_plan_gpu_nodes_add, vj_plan_gpu: report it (NoGPU) when no node
 *        has an NVIDIA GPU
 *   finalize: vj_plan_cleanup (topics, Redis prefix) ─► delete them
 *     ─► vj_plan_cleanup_event ─► drop the finalizer, the Event
 *   run: finalizer, task topics, ConfigMap, split Job (the first failure
 *     stops here: vj_observed.stop) ─► split Job's outcome, progress,
 *     assemble Job read
 *     ─► vj_plan_phase: phase, the Job whose pods explain it, the children
 *        the phase needs ─► those pods read; process Deployment applied
 *        (its container's resources: vj_plan_process_resources) and
 *        judged, or assemble Job created, or the workers deleted
 *     ─► vj_plan_status: status, conditions, Events, the pass's result
 *     ─► status written; the Events once it is
 *
 * Threads: none; every function is pure.
 */
#ifndef SLUICE_RECONCILE_VJ_PLAN_H
#define SLUICE_RECONCILE_VJ_PLAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "events.h"
#include "topic_plan.h"
#include "vj_progress.h"
#include "workers_health.h"

#define VJ_PLAN_MSG_MAX 1280
#define VJ_PLAN_PREFIX_MAX 600

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

/* Whether phase is Succeeded or Failed. NULL is not. */
int vj_plan_terminal(const char *phase);

/*
 * Whether a pass that found the status already so may wait for a change
 * (RECONCILE_OK) instead of polling: while Splitting, the split Job has no
 * pod (status.active 0 or absent; NULL: not read) and no outcome, and the
 * process workers are stopped (workers_health_stopped) or not made (dep
 * NULL). Nothing the job reports can move then, and the Job's pod starting
 * (status.active) or its workers being scaled is a change the watches
 * bring. Any other phase keeps polling: progress lives in Redis. Pure.
 */
int vj_plan_wait_for_change(const char *phase, const cJSON *split_job, const cJSON *dep);

/* A Job's outcome from its status: 1 succeeded, -1 failed (a Failed
 * condition True), 0 running or not there (NULL). */
int vj_plan_job_outcome(const cJSON *job);

/*
 * Whether the assemble Job may exist, so that a pass reads it (a GET):
 * it is made only in the Assembling phase, which needs the workers'
 * progress to say the split is done. Not when the progress was read and
 * says it is not (old_phase aside), nor when no progress was read and
 * the status never left Pending or Splitting (old_phase NULL, "",
 * "Pending", "Splitting"): a new job's passes skip the request (issue 19).
 * Pure.
 */
int vj_plan_assemble_may_exist(const char *old_phase, const struct vj_progress *progress);

/* vj_spec_parse's verdict on the effective spec. */
enum vj_plan_spec {
	VJ_PLAN_SPEC_OK,
	VJ_PLAN_SPEC_INVALID, /* refused: spec_error says why */
	VJ_PLAN_SPEC_NOMEM,   /* not judged: out of memory */
};

/* The resource as the cache has it, its effective spec parsed. */
struct vj_resource {
	const char *ns, *name;
	int deleting;            /* metadata.deletionTimestamp is set */
	int has_finalizer;       /* RECONCILE_FINALIZER is among metadata.finalizers */
	const char *old_phase;   /* status.phase, NULL when none */
	long long generation;    /* metadata.generation */
	int observed_generation; /* status.observedGeneration */
	int name_ok;             /* children_name_ok(name) */
	enum vj_plan_spec spec;
	const char *spec_error; /* VJ_PLAN_SPEC_INVALID: the parser's message */
	/* The parsed spec's task topics (VJ_PLAN_SPEC_OK), NULL otherwise. */
	const char *bootstrap, *topic, *dead_letter_topic;
	/* status.kafka.createdTopics: recorded (topic_plan_recorded) and the
	 * names (topic_plan_owned; NULL: none). */
	int topics_recorded;
	const struct topic_owned *owned_topics;
	/* Where the progress keys are: --redis-addr, else the spec's
	 * sinks.redis.addr when it parsed and has one; NULL: nowhere. */
	const char *status_redis;
};

enum vj_step {
	VJ_STEP_FINALIZE, /* being deleted: vj_plan_cleanup */
	VJ_STEP_FINISHED, /* Succeeded/Failed for this generation: only make
	                     sure the process Deployment is gone */
	VJ_STEP_REPORT,   /* cannot run: phase Failed, the status says why */
	VJ_STEP_RETRY,    /* nothing decided (out of memory): RECONCILE_ERROR */
	VJ_STEP_RUN,      /* finalizer, topics, children, status */
};

struct vj_begin {
	enum vj_step step;
	const char *reason, *message; /* VJ_STEP_REPORT (borrowed) */
};

/* The first decision of a pass, in this order: being deleted, finished for
 * its generation, a name the labels cannot carry (InvalidName), the spec
 * (InvalidSpec). */
void vj_plan_begin(const struct vj_resource *r, struct vj_begin *out);

/* The extended resource NVIDIA's device plugin advertises on a node with a
 * GPU, and what an NVENC job's process container asks for. */
#define VJ_PLAN_GPU_RESOURCE "nvidia.com/gpu"

/* What the cluster's nodes offer an NVENC job, counted over the pages of
 * GET /api/v1/nodes. Start from {0, 0}. */
struct vj_gpu_nodes {
	long long nodes;    /* Nodes listed */
	long long with_gpu; /* of them, with status.allocatable["nvidia.com/gpu"] > 0 */
};

/* Adds the items of one NodeList page to *acc: a node counts as having a
 * GPU when its allocatable nvidia.com/gpu is a quantity above zero (a
 * string as the API writes it, or a number). Returns 0, or -1 when list is
 * not a list (no items array; *acc unchanged). Pure. */
int vj_plan_gpu_nodes_add(const cJSON *list, struct vj_gpu_nodes *acc);

/*
 * Whether the nodes are to be counted for the GPU check of res: an NVENC
 * codec, a job vj_plan_begin lets run (step), and one that has not started
 * (no phase yet, or Pending). A running job is not checked again: a device
 * plugin that restarts (its GPUs briefly not allocatable) must not fail it;
 * its pods say Unschedulable if the GPUs are really gone. Pure.
 */
int vj_plan_gpu_due(const struct vj_resource *res, const char *codec, enum vj_step step);

/*
 * The GPU check of a job vj_plan_begin let run (out->step VJ_STEP_RUN; any
 * other step is left alone): when codec is an NVENC encoder
 * (vj_spec_codec_nvenc) and nodes were counted (not NULL) and none has a
 * GPU, out becomes VJ_STEP_REPORT, reason "NoGPU", with a message in msg
 * (borrowed by out->message) naming the encoder, nvidia.com/gpu and the
 * number of nodes. nodes NULL (the list could not be read) lets the job
 * run: the scheduler still refuses its pods, and a transient error must not
 * fail a job for good. Pure.
 */
void vj_plan_gpu(const char *codec, const struct vj_gpu_nodes *nodes, struct vj_begin *out,
                 char *msg, size_t msg_size);

/*
 * The process container's resources: spec.workers.resources as written
 * (resources, may be NULL), plus limits["nvidia.com/gpu"] = "1" when codec
 * is an NVENC encoder. The user's own value wins: a limit they set stays;
 * a request they set without a limit becomes the limit too (an extended
 * resource's request and limit must be equal). The split and assemble Jobs
 * do not encode and get resources as written. Returns 0 with *out a new
 * object (the caller's: cJSON_Delete), or NULL when there is nothing to
 * set; -1 when out of memory (*out NULL). Pure.
 */
int vj_plan_process_resources(const cJSON *resources, const char *codec, cJSON **out);

/* What a deleted job leaves, removed in order (the first failure stops the
 * rest): the topics the operator created (status.kafka.createdTopics; a
 * job from before that record: its task and dead-letter topics, as
 * before), when the spec parsed (its bootstrap says where), then its
 * progress keys "sluice:vj:<ns>:<name>:" on the status Redis. */
struct vj_cleanup {
	int needed; /* 0: no finalizer of ours, nothing to do */
	size_t n_topics;
	const char *topics[TOPIC_PLAN_MAX]; /* borrowed from the resource */
	const char *bootstrap;              /* of the topics */
	const char *redis_addr;             /* NULL: no Redis to clean */
	char redis_prefix[VJ_PLAN_PREFIX_MAX];
};

void vj_plan_cleanup(const struct vj_resource *r, struct vj_cleanup *out);

/* The Event after a cleanup: CleanupFailed (Warning, error: retried) or
 * CleanedUp with how many Redis keys went. */
void vj_plan_cleanup_event(int failed, const char *error, long long deleted,
                           struct events_planned *out);

/* What the phase is, and what it needs. */
struct vj_phase {
	const char *phase, *reason; /* static */
	char message[VJ_PLAN_MSG_MAX];
	/* The Job whose pods to look at: "split" while it runs, "assemble"
	 * while Assembling, the one that failed (explain_failed: its pods'
	 * last words go into the message); NULL: none. */
	const char *explain;
	int explain_failed;
	int run_workers;    /* Splitting, Processing: the process Deployment kept in
	                       line with the spec */
	int run_assemble;   /* Assembling: the assemble Job, created once */
	int remove_workers; /* Succeeded, Failed: the process Deployment goes (the Jobs
	                       stay, for their logs) */
};

/* The Jobs' outcomes (vj_plan_job_outcome) and the recorded progress (NULL:
 * not read) into *out. */
void vj_plan_phase(int split_job, int assemble_job, const struct vj_progress *progress,
                   struct vj_phase *out);

/* The partition count to grow the task topic to when maxReplicas grew past
 * it: topic_plan_grow(current, max_replicas) for a topic the operator
 * created (owned); 0 for someone else's (its keys' partitions are theirs
 * to change). */
int vj_plan_partitions(int current, int max_replicas, int owned);

/* Where a pass stopped before its phase was known. */
enum vj_stop {
	VJ_STOP_NONE,      /* it got through: phase says the rest */
	VJ_STOP_REPORT,    /* VJ_STEP_REPORT: stop_reason, stop_error */
	VJ_STOP_KAFKA,     /* a task topic not made: stop_error; stop_reason the
	                      condition's reason (NULL: KafkaUnavailable) */
	VJ_STOP_CONFIG,    /* the ConfigMap not applied: stop_error */
	VJ_STOP_NO_IMAGE,  /* no worker image to run a Job with */
	VJ_STOP_SPLIT_JOB, /* the split Job not made: stop_error */
};

/* Everything one pass found, for the status. Pointers are borrowed. */
struct vj_observed {
	long long generation;    /* metadata.generation */
	const cJSON *old_status; /* .status as stored, or NULL */
	const char *now;         /* RFC 3339: startTime, completionTime, transitions */
	enum vj_stop stop;
	const char *stop_reason, *stop_error;
	const char *bootstrap; /* the spec's kafka.bootstrap, for VJ_STOP_KAFKA */
	const char *topic;     /* status.topic; NULL: left out (the spec did not parse) */
	/* VJ_STOP_NONE: */
	const struct vj_phase *phase;
	const struct vj_progress *progress; /* NULL: not read */
	/* The pods of phase->explain's Job: a pod of a running Job that cannot
	 * run (workers_health_pods; NULL: none), or a failed Job's pod's last
	 * line (workers_health_exit_message; NULL: none). */
	const struct workers_health *job_pods;
	const char *job_exit_message;
	/* phase->run_workers: the process Deployment not made (workers_failed),
	 * or its ready replicas and its workers judged (workers_health_judge). */
	int workers_failed;
	int ready_replicas;
	const struct workers_health *workers;
	int assemble_failed; /* phase->run_assemble: the Job not made */
};

/* The result of a pass, as the work queue wants it (reconcile.h's
 * RECONCILE_OK, RECONCILE_POLL, RECONCILE_ERROR). */
enum vj_plan_rc {
	VJ_PLAN_OK = 0,
	VJ_PLAN_POLL = 1,
	VJ_PLAN_ERROR = -1,
};

struct vj_plan {
	const char *phase, *reason;
	char message[VJ_PLAN_MSG_MAX];
	int ready; /* the infrastructure is fine (spec, topics, children) */
	/* Pods that cannot run: Ready False with their reason while the phase
	 * goes on; workers_reason "" when none. */
	char workers_reason[64];
	char workers_message[VJ_PLAN_MSG_MAX];
	int replicas;
	enum vj_plan_rc rc; /* before the status write (a failed one: error) */
	cJSON *status;      /* the whole status to write (the caller's: cJSON_Delete) */
	/* Emitted once the status is written: one per phase (and per change
	 * of its reason), one more when the workers' trouble starts or
	 * changes. */
	size_t n_events;
	struct events_planned events[2];
};

/*
 * The status of a pass: phase (Pending until known; a stop keeps the stored
 * phase, except InvalidName/InvalidSpec which fail the job), progress "N%"
 * ("100%" once Succeeded), segments and frames when read, topic, replicas,
 * startTime (kept), completionTime (kept; set when terminal), conditions
 * Ready, Complete, Failed, and the Events. Returns 0, or -1 when out of
 * memory (out->status NULL).
 */
int vj_plan_status(const struct vj_observed *o, struct vj_plan *out);

#endif
