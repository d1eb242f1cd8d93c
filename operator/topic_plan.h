/*
 * topic_plan.h - which Kafka topics a resource's operator made, and what to
 * do with each topic a pass needs: pure decisions for reconcile_tw.c and
 * reconcile_vj.c, unit-tested in tests/unit/test_topic_plan.c.
 *
 * Ownership survives restarts in the resource itself: before the operator
 * creates a topic it records the name in status.kafka.createdTopics (a
 * merge patch carrying the resource's resourceVersion, so a pass working
 * from a stale cache is refused instead of recording twice), and only
 * then creates it. The finalizer deletes exactly the topics in that list:
 * a topic that existed before (a TelemetryWindow's input topic, a shared
 * dead-letter topic, a VideoJob's spec.kafka.topic pointing at someone
 * else's topic) is never in it, so never deleted. A claim whose creation
 * failed names a topic that may not exist: deleting an absent topic is
 * success.
 *
 * Threads: none; every function is pure.
 */
#ifndef SLUICE_TOPIC_PLAN_H
#define SLUICE_TOPIC_PLAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* status.kafka.createdTopics holds at most this many names (a resource
 * has an input or task topic and a dead-letter topic; room for a topic
 * renamed in the spec once or twice). */
#define TOPIC_PLAN_MAX 8

struct topic_owned {
	size_t n;
	const char *name[TOPIC_PLAN_MAX]; /* borrowed from the status */
};

/* status.kafka.createdTopics of status (.status, may be NULL) into *out:
 * strings only, duplicates and entries past TOPIC_PLAN_MAX dropped. */
void topic_plan_owned(const cJSON *status, struct topic_owned *out);

/* Whether status (may be NULL) has status.kafka.createdTopics at all: a
 * resource this operator has reconciled since it records topics. */
int topic_plan_recorded(const cJSON *status);

/* Whether topic is among o's. */
int topic_plan_owns(const struct topic_owned *o, const char *topic);

/* Where a topic stands on the cluster. */
enum topic_state {
	TOPIC_STATE_FOUND,
	TOPIC_STATE_NOT_FOUND,
	TOPIC_STATE_UNAVAILABLE, /* Kafka could not tell */
};

enum topic_action {
	TOPIC_KEEP,    /* there (or Kafka away): nothing to do now */
	TOPIC_CLAIM,   /* missing, not recorded: record it, then create it */
	TOPIC_CREATE,  /* missing, recorded by an earlier pass: create it */
	TOPIC_MISSING, /* missing and the operator may not create it */
};

/* The action for a topic in state, which the operator may create
 * (may_create) and has recorded (owned). */
enum topic_action topic_plan_action(enum topic_state state, int may_create, int owned);

/*
 * The status merge patch that records o's topics plus the n names in claim
 * (those already there not twice): {"kafka": {"createdTopics": [...]}}.
 * Returns the object (the caller's: cJSON_Delete), or NULL when out of
 * memory or the list would pass TOPIC_PLAN_MAX.
 */
cJSON *topic_plan_claim(const struct topic_owned *o, const char *const *claim, size_t n);

/* The partition count to grow a topic to: wanted when above current (and
 * current known, > 0), else 0: nothing (partitions never shrink). */
int topic_plan_grow(int current, int wanted);

#endif
