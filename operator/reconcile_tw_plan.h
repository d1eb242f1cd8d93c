/*
 * reconcile_tw_plan.h - what the TelemetryWindow reconciler decides, apart
 * from what it reads and writes (reconcile_tw.c): plain values in, plain
 * values out, no I/O, so every rule is unit-tested without servers.
 *
 * A pass (reconcile_tw.h) runs:
 *
 *   observe the resource (cache; the effective spec parsed)
 *     ─► tw_plan_begin: finalize, report an invalid resource, or run
 *   finalize: tw_plan_cleanup (which Redis prefixes) ─► delete them
 *     ─► tw_plan_cleanup_event ─► drop the finalizer, the Event
 *   run: finalizer ─► input topic described, dead-letter topic created ─►
 *     ConfigMap, Deployment ─► its pods judged, progress read
 *     ─► tw_plan_status: phase, conditions, counts, the Ready Event
 *     ─► status written; the Event once it is
 *
 * Threads: none; every function is pure.
 */
#ifndef SLUICE_RECONCILE_TW_PLAN_H
#define SLUICE_RECONCILE_TW_PLAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "events.h"
#include "topic_plan.h"
#include "tw_progress.h"
#include "workers_health.h"

#define TW_PLAN_MSG_MAX 1024
#define TW_PLAN_PREFIX_MAX 600

/* tw_spec_parse's verdict on the effective spec. */
enum tw_plan_spec {
	TW_PLAN_SPEC_OK,
	TW_PLAN_SPEC_INVALID, /* refused: spec_error says why */
	TW_PLAN_SPEC_NOMEM,   /* not judged: out of memory */
};

/* The resource as the cache has it, its effective spec parsed. */
struct tw_resource {
	const char *ns, *name;
	int deleting;      /* metadata.deletionTimestamp is set */
	int has_finalizer; /* RECONCILE_FINALIZER is among metadata.finalizers */
	int name_ok;       /* children_name_ok(name) */
	enum tw_plan_spec spec;
	const char *spec_error;   /* TW_PLAN_SPEC_INVALID: the parser's message */
	const char *status_redis; /* --redis-addr; NULL or "": none */
	/* sinks.redis of the parsed spec; NULL when it has none (or did not
	 * parse) */
	const char *sink_redis_addr, *sink_redis_prefix;
	/* The spec parsed: the operator may create topics (the dead-letter
	 * topic, the input topic with createTopic), so it keeps a finalizer
	 * to delete those it made. */
	int makes_topics;
	/* status.kafka.createdTopics (topic_plan_owned); NULL: none. */
	const struct topic_owned *owned_topics;
	const char *bootstrap; /* the parsed spec's; NULL when it did not parse */
};

enum tw_step {
	TW_STEP_FINALIZE, /* being deleted: tw_plan_cleanup */
	TW_STEP_REPORT,   /* cannot run: the status says why (Ready False), and
	                     nothing is retried until the resource changes */
	TW_STEP_RETRY,    /* nothing decided (out of memory): RECONCILE_ERROR */
	TW_STEP_RUN,      /* make the topic, children and status */
};

struct tw_begin {
	enum tw_step step;
	const char *reason, *message; /* TW_STEP_REPORT: Ready False's (borrowed) */
	int add_finalizer;            /* TW_STEP_RUN: there is state to remove on deletion (the
	                                 status keys, a sink prefix of its own, topics it may
	                                 create) */
};

/* The first decision of a pass: being deleted, then a name the labels
 * cannot carry (InvalidName), then the spec (InvalidSpec). */
void tw_plan_begin(const struct tw_resource *r, struct tw_begin *out);

/* Whether a sink prefix belongs to the resource ns/name alone: the default
 * "sluice:<ns>:<name>:" does; a prefix a user shares between resources
 * must not be wiped when one of them goes. */
int tw_plan_own_prefix(const char *prefix, const char *ns, const char *name);

/* What a deleted resource leaves, removed in order (the first failure
 * stops the rest): the topics the operator created (status.kafka.
 * createdTopics, when the spec parsed: its bootstrap says where), then the
 * Redis keys. */
struct tw_cleanup {
	int needed; /* 0: no finalizer of ours, nothing to do */
	struct topic_owned topics;
	const char *bootstrap; /* of the topics */
	size_t n;
	struct {
		const char *addr; /* borrowed from the resource */
		char prefix[TW_PLAN_PREFIX_MAX];
	} target[2];
};

/* The status keys "sluice:tw:<ns>:<name>:" on the status Redis, then the
 * sink's own prefix (tw_plan_own_prefix) on the sink's Redis. */
void tw_plan_cleanup(const struct tw_resource *r, struct tw_cleanup *out);

/* The Event after a cleanup: CleanupFailed (Warning, error: the keys stay
 * and the finalizer too, retried) or CleanedUp with how many keys went. */
void tw_plan_cleanup_event(int failed, const char *error, long long deleted,
                           struct events_planned *out);

/* Where the input topic stands. */
enum tw_topic {
	TW_TOPIC_FOUND,
	TW_TOPIC_NOT_FOUND,
	TW_TOPIC_UNAVAILABLE,   /* Kafka could not tell */
	TW_TOPIC_CREATE_FAILED, /* missing; createTopic could not make it (kafka_error) */
	/* Kafka could not be asked (kafka_error says why, never a secret): */
	TW_TOPIC_SECRET_NOT_FOUND, /* a Secret (key) spec.kafka names is missing */
	TW_TOPIC_AUTH_FAILED,      /* the brokers refused the SASL login */
	TW_TOPIC_TLS_FAILED,       /* the TLS handshake failed */
};

/* Everything one pass found, for the status. Pointers are borrowed. */
struct tw_observed {
	long long generation;        /* metadata.generation */
	const cJSON *old_conditions; /* status.conditions as stored, or NULL */
	const char *now;             /* RFC 3339: a changed condition's lastTransitionTime */
	/* TW_STEP_REPORT: Ready False with these, and nothing below counts. */
	const char *invalid_reason, *invalid_message;
	/* The input topic (TW_STEP_RUN). */
	const char *topic, *bootstrap, *dead_letter_topic;
	enum tw_topic topic_state;
	int partitions;          /* TW_TOPIC_FOUND: the input topic's */
	int topic_owned;         /* the operator created the input topic (createTopic) */
	const char *kafka_error; /* TW_TOPIC_UNAVAILABLE, TW_TOPIC_CREATE_FAILED: why */
	const char *dlq_error;   /* TW_TOPIC_FOUND: the dead-letter topic could
	                            not be made; NULL: it is there */
	const char *apply_error; /* the ConfigMap or Deployment not applied; NULL: both are */
	/* The worker Deployment as stored after the apply; 0: none. */
	int have_deployment;
	int ready_replicas; /* its status.readyReplicas */
	/* Its workers (workers_health_judge); NULL: not judged. */
	const struct workers_health *health;
	/* What the workers recorded in the status Redis; NULL: not read (the
	 * stored counts stay as they are). */
	const struct tw_progress *progress;
};

struct tw_plan {
	const char *phase; /* Running, Degraded or Failed */
	const char *ready_status;
	char ready_reason[EVENTS_REASON_MAX];
	char ready_message[TW_PLAN_MSG_MAX];
	const char *topic_status; /* NULL: no TopicReady condition */
	const char *topic_reason;
	char topic_message[TW_PLAN_MSG_MAX];
	/* The whole status to write (the caller's: cJSON_Delete). */
	cJSON *status;
	/* Ready changed its status or reason: this Event goes out once the
	 * status saying so is written. */
	int emit;
	struct events_planned event;
};

/*
 * The status of a pass: Ready (True/Running "workers deployed" unless the
 * resource is invalid, the input topic is missing or Kafka away, the
 * children were not applied, or the workers cannot run — the first that
 * applies, the apply failure winning over the topic), phase from Ready
 * (Running; Failed for InvalidSpec and InvalidName; else Degraded),
 * TopicReady (False: TopicNotFound, TopicCreateFailed, KafkaUnavailable,
 * SecretNotFound, KafkaAuthenticationFailed, KafkaTLSFailed; Ready False
 * with the same reason, hence a Warning Event when it changes),
 * WorkersAvailable when there is a Deployment, replicas, and
 * the progress counts and lastWatermark when read. Returns 0, or -1 when
 * out of memory (out->status NULL).
 */
int tw_plan_status(const struct tw_observed *o, struct tw_plan *out);

#endif
