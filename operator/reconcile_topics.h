/*
 * reconcile_topics.h - the topics a pass needs, made the same way for every
 * kind: described, the missing ones the operator may make recorded in the
 * resource's status.kafka.createdTopics, then created (topic_plan.h says
 * why in that order), and the recorded ones deleted when it goes.
 *
 * Threads: as reconcile.h (one worker per resource).
 */
#ifndef SLUICE_RECONCILE_TOPICS_H
#define SLUICE_RECONCILE_TOPICS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kafka.h"
#include "kafka_security.h"
#include "reconcile.h"
#include "topic_plan.h"

#define RECONCILE_TOPIC_ERR_MAX 512

struct reconcile_topic {
	/* in */
	const char *name;
	int may_create;  /* the operator may create it when missing */
	int partitions;  /* when created (set after describe: may depend on another topic) */
	int replication; /* the spec's; 0: min(3, brokers) */
	/* out of reconcile_topics_describe */
	enum topic_state state;
	int partitions_now; /* TOPIC_STATE_FOUND: its partition count */
	int owned;          /* in status.kafka.createdTopics */
	int rc;             /* out of describe (then create): the topics_rc; TOPICS_OK when found */
	/* out of reconcile_topics_apply */
	enum topic_action action;
	int created;                         /* created by this pass */
	char error[RECONCILE_TOPIC_ERR_MAX]; /* describe or create failed: why; "" none */
};

/*
 * The operator's Kafka settings for a resource in ns with spec.kafka k:
 * k's tls and sasl (kafka_security.h), each Secret key read through
 * ctx->secrets into l (values held until secret_lookup_free(l), which the
 * caller calls also after a failure). *out is sec, or NULL when k names
 * neither (PLAINTEXT). Returns 0, or -1 with the first missing reference
 * in err (the resource's SecretNotFound):
 *   spec.kafka.sasl.password: Secret "c" key "password": Secret "c" in namespace "n" has no key
 * "password"
 */
int reconcile_kafka_security(const struct reconcile_ctx *ctx, const char *ns,
                             const struct spec_kafka *k, struct secret_lookup *l,
                             struct kafka_security *sec, const struct kafka_security **out,
                             char *err, size_t err_size);

/* Describes the n topics on bootstrap (sec: NULL for PLAINTEXT); owned
 * from obj's status. Never fails as a whole: each topic's state (and rc)
 * says. A security failure (TOPICS_EAUTH, TOPICS_ETLS) of one topic is
 * that of the rest too: they are not asked, so a bad resource costs one
 * bounded wait per pass. */
void reconcile_topics_describe(const struct reconcile_ctx *ctx, const cJSON *obj,
                               const char *bootstrap, const struct kafka_security *sec,
                               struct reconcile_topic *t, size_t n);

/*
 * The action of each described topic (topic_plan_action); the claims
 * recorded in obj's status at once (plural: "telemetrywindows"; an empty
 * list too when the status has none yet, so that a resource from before
 * the record is told apart: topic_plan_recorded), then every CLAIM and
 * CREATE created. Returns 0, or -1 when the claims could not be
 * recorded (nothing created; the reason in err, a conflict included: the
 * cache was behind, retry). A creation that failed is in its t->error.
 */
int reconcile_topics_apply(const struct reconcile_ctx *ctx, const char *plural, const cJSON *obj,
                           const char *bootstrap, const struct kafka_security *sec,
                           struct reconcile_topic *t, size_t n, char *err, size_t err_size);

/* Deletes the topics of o on bootstrap, in order; the first failure stops
 * the rest. Returns 0, or -1 with the reason in err. */
int reconcile_topics_delete(const struct reconcile_ctx *ctx, const struct topic_owned *o,
                            const char *bootstrap, const struct kafka_security *sec, char *err,
                            size_t err_size);

#endif
