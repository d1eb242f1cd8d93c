/* Unit tests for operator/reconcile_tw_plan.c, the TelemetryWindow
 * reconciler's decisions: tables of cases for the first decision of a pass
 * (deletion, invalid name or spec, the finalizer), the cleanup of a deleted
 * resource, and the status (phase, Ready and its precedence, TopicReady,
 * WorkersAvailable, replicas, progress present or absent, the Ready Event).
 * All pure: no server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reconcile_tw_plan.h"

#define NOW "2026-11-23T05:00:00Z"
#define EARLIER "2026-11-23T04:00:00Z"

/* ------------------------------------------------------------ helpers */

static const cJSON *cond(const cJSON *status, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		if (t != NULL && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static const char *cond_field(const cJSON *status, const char *type, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cond(status, type), field));
}

static const char *str(const cJSON *status, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(status, field));
}

static int has(const cJSON *status, const char *field)
{
	return cJSON_GetObjectItemCaseSensitive(status, field) != NULL;
}

static double num(const cJSON *status, const char *field)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(status, field);
	assert_true(cJSON_IsNumber(n));
	return n->valuedouble;
}

/* -------------------------------------------------------------- begin */

static const struct {
	const char *what;
	struct tw_resource r;
	enum tw_step step;
	const char *reason, *message;
	int add_finalizer;
} begin_cases[] = {
    {"deleting wins over everything",
     {.ns = "m", .name = "s", .deleting = 1, .name_ok = 0, .spec = TW_PLAN_SPEC_INVALID},
     TW_STEP_FINALIZE,
     NULL,
     NULL,
     0},
    {"a name the labels cannot carry",
     {.ns = "m", .name = "s", .name_ok = 0, .spec = TW_PLAN_SPEC_INVALID, .spec_error = "x"},
     TW_STEP_REPORT,
     "InvalidName",
     "the name must be at most 63 characters",
     0},
    {"the name comes before out of memory",
     {.ns = "m", .name = "s", .name_ok = 0, .spec = TW_PLAN_SPEC_NOMEM},
     TW_STEP_REPORT,
     "InvalidName",
     "at most 63",
     0},
    {"out of memory: retried",
     {.ns = "m", .name = "s", .name_ok = 1, .spec = TW_PLAN_SPEC_NOMEM},
     TW_STEP_RETRY,
     NULL,
     NULL,
     0},
    {"an invalid spec, with the parser's message",
     {.ns = "m",
      .name = "s",
      .name_ok = 1,
      .spec = TW_PLAN_SPEC_INVALID,
      .spec_error = "spec.window.size: required"},
     TW_STEP_REPORT,
     "InvalidSpec",
     "spec.window.size: required",
     0},
    {"runs; no Redis state, no finalizer",
     {.ns = "m", .name = "s", .name_ok = 1, .spec = TW_PLAN_SPEC_OK},
     TW_STEP_RUN,
     NULL,
     NULL,
     0},
    {"an empty --redis-addr is none",
     {.ns = "m", .name = "s", .name_ok = 1, .spec = TW_PLAN_SPEC_OK, .status_redis = ""},
     TW_STEP_RUN,
     NULL,
     NULL,
     0},
    {"the status Redis: finalizer",
     {.ns = "m", .name = "s", .name_ok = 1, .spec = TW_PLAN_SPEC_OK, .status_redis = "r:6379"},
     TW_STEP_RUN,
     NULL,
     NULL,
     1},
    {"a sink prefix of its own: finalizer",
     {.ns = "m",
      .name = "s",
      .name_ok = 1,
      .spec = TW_PLAN_SPEC_OK,
      .sink_redis_addr = "[::1]:6379",
      .sink_redis_prefix = "sluice:m:s:"},
     TW_STEP_RUN,
     NULL,
     NULL,
     1},
    {"a shared sink prefix is not the resource's to remove",
     {.ns = "m",
      .name = "s",
      .name_ok = 1,
      .spec = TW_PLAN_SPEC_OK,
      .sink_redis_addr = "r:6379",
      .sink_redis_prefix = "shared:"},
     TW_STEP_RUN,
     NULL,
     NULL,
     0},
    {"topics the operator may create: a finalizer to delete them",
     {.ns = "m", .name = "s", .name_ok = 1, .spec = TW_PLAN_SPEC_OK, .makes_topics = 1},
     TW_STEP_RUN,
     NULL,
     NULL,
     1},
    {"another resource's default prefix neither",
     {.ns = "m",
      .name = "s",
      .name_ok = 1,
      .spec = TW_PLAN_SPEC_OK,
      .sink_redis_addr = "r:6379",
      .sink_redis_prefix = "sluice:m:other:"},
     TW_STEP_RUN,
     NULL,
     NULL,
     0},
};

static void test_begin(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(begin_cases) / sizeof(begin_cases[0]); i++) {
		struct tw_begin b;

		print_message("begin: %s\n", begin_cases[i].what);
		tw_plan_begin(&begin_cases[i].r, &b);
		assert_int_equal(b.step, begin_cases[i].step);
		assert_int_equal(b.add_finalizer, begin_cases[i].add_finalizer);
		if (begin_cases[i].reason == NULL) {
			assert_null(b.reason);
			continue;
		}
		assert_string_equal(b.reason, begin_cases[i].reason);
		assert_non_null(strstr(b.message, begin_cases[i].message));
	}
}

static void test_own_prefix(void **state)
{
	(void)state;
	assert_true(tw_plan_own_prefix("sluice:m:s:", "m", "s"));
	assert_false(tw_plan_own_prefix("sluice:m:s", "m", "s"));
	assert_false(tw_plan_own_prefix("sluice:m:s:x:", "m", "s"));
	assert_false(tw_plan_own_prefix(NULL, "m", "s"));
}

/* ------------------------------------------------------------ cleanup */

static const struct {
	const char *what;
	struct tw_resource r;
	int needed;
	size_t n;
	const char *addr[2], *prefix[2];
} cleanup_cases[] = {
    {"no finalizer of ours: nothing",
     {.ns = "m", .name = "s", .deleting = 1, .status_redis = "r:1"},
     0,
     0,
     {NULL},
     {NULL}},
    {"finalizer, no Redis anywhere",
     {.ns = "m", .name = "s", .deleting = 1, .has_finalizer = 1},
     1,
     0,
     {NULL},
     {NULL}},
    {"the status keys",
     {.ns = "m", .name = "s", .deleting = 1, .has_finalizer = 1, .status_redis = "[::1]:6379"},
     1,
     1,
     {"[::1]:6379"},
     {"sluice:tw:m:s:"}},
    {"status keys, then the sink's own prefix",
     {.ns = "m",
      .name = "s",
      .deleting = 1,
      .has_finalizer = 1,
      .status_redis = "st:1",
      .sink_redis_addr = "sink:2",
      .sink_redis_prefix = "sluice:m:s:"},
     1,
     2,
     {"st:1", "sink:2"},
     {"sluice:tw:m:s:", "sluice:m:s:"}},
    {"a shared sink prefix stays",
     {.ns = "m",
      .name = "s",
      .deleting = 1,
      .has_finalizer = 1,
      .status_redis = "st:1",
      .sink_redis_addr = "sink:2",
      .sink_redis_prefix = "shared:"},
     1,
     1,
     {"st:1"},
     {"sluice:tw:m:s:"}},
    {"the sink alone",
     {.ns = "m",
      .name = "s",
      .deleting = 1,
      .has_finalizer = 1,
      .status_redis = "",
      .sink_redis_addr = "sink:2",
      .sink_redis_prefix = "sluice:m:s:"},
     1,
     1,
     {"sink:2"},
     {"sluice:m:s:"}},
};

static void test_cleanup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cleanup_cases) / sizeof(cleanup_cases[0]); i++) {
		struct tw_cleanup c;

		print_message("cleanup: %s\n", cleanup_cases[i].what);
		tw_plan_cleanup(&cleanup_cases[i].r, &c);
		assert_int_equal(c.needed, cleanup_cases[i].needed);
		assert_int_equal(c.n, cleanup_cases[i].n);
		for (size_t t = 0; t < c.n; t++) {
			assert_string_equal(c.target[t].addr, cleanup_cases[i].addr[t]);
			assert_string_equal(c.target[t].prefix, cleanup_cases[i].prefix[t]);
		}
	}
}

/* The topics the operator recorded go (where the spec says), and only
 * with our finalizer and a parsed spec. */
static void test_cleanup_topics(void **state)
{
	struct topic_owned owned = {2, {"telemetry", "telemetry.dlq"}};
	struct tw_resource r = {.ns = "m",
	                        .name = "s",
	                        .deleting = 1,
	                        .has_finalizer = 1,
	                        .owned_topics = &owned,
	                        .bootstrap = "k:9092"};
	struct tw_cleanup c;

	(void)state;
	tw_plan_cleanup(&r, &c);
	assert_int_equal(c.topics.n, 2);
	assert_string_equal(c.topics.name[0], "telemetry");
	assert_string_equal(c.topics.name[1], "telemetry.dlq");
	assert_string_equal(c.bootstrap, "k:9092");
	/* None recorded (a pre-existing input, a shared dead-letter topic). */
	owned.n = 0;
	tw_plan_cleanup(&r, &c);
	assert_int_equal(c.topics.n, 0);
	/* A spec that does not parse says no bootstrap: the topics stay. */
	owned.n = 2;
	r.bootstrap = NULL;
	tw_plan_cleanup(&r, &c);
	assert_int_equal(c.topics.n, 0);
	/* Not our finalizer: nothing. */
	r.bootstrap = "k:9092";
	r.has_finalizer = 0;
	tw_plan_cleanup(&r, &c);
	assert_false(c.needed);
	assert_int_equal(c.topics.n, 0);
}

static void test_cleanup_event(void **state)
{
	struct events_planned ev;

	(void)state;
	tw_plan_cleanup_event(0, NULL, 17, &ev);
	assert_int_equal(ev.type, EVENTS_NORMAL);
	assert_string_equal(ev.reason, "CleanedUp");
	assert_string_equal(ev.note, "deleted 17 Redis keys");
	assert_string_equal(ev.action, "Delete");
	tw_plan_cleanup_event(1, "redis [::1]:6379: Connection refused", 0, &ev);
	assert_int_equal(ev.type, EVENTS_WARNING);
	assert_string_equal(ev.reason, "CleanupFailed");
	assert_string_equal(ev.note,
	                    "removing Redis keys failed, will retry: redis [::1]:6379: Connection "
	                    "refused");
}

/* ------------------------------------------------------------- status */

static const struct workers_health healthy = {
    .desired = 2, .ready = 2, .status = "True", .reason = "WorkersReady", .message = "2 of 2"};
static const struct workers_health starting = {.desired = 2,
                                               .ready = 1,
                                               .status = "False",
                                               .reason = "WorkersNotReady",
                                               .message = "1 of 2 worker pods ready"};
static const struct workers_health no_image = {
    .desired = 1,
    .failing = 1,
    .status = "False",
    .reason = "ErrImageNeverPull",
    .message = "pod w-1: ErrImageNeverPull: Container image \"x:1\" is not present"};
static const struct tw_progress counts = {.events = 100,
                                          .duplicates = 3,
                                          .late = 2,
                                          .malformed = 1,
                                          .windows = 7,
                                          .watermark_ns = INT64_C(1795410000000000000),
                                          .partitions = 2};
static const struct tw_progress no_watermark = {.events = 5, .watermark_ns = INT64_MIN};

/* What differs from a pass that got through (topic found with 3
 * partitions, children applied, workers ready): observed() fills the rest. */
struct pass {
	const char *invalid_reason, *invalid_message;
	enum tw_topic topic_state;
	const char *kafka_error, *dlq_error;
	const char *apply_error;             /* also: no Deployment, so no health */
	const struct workers_health *health; /* NULL: healthy */
	const struct tw_progress *progress;
	int topic_owned;
};

static struct tw_observed observed(const struct pass *in)
{
	struct tw_observed o = {
	    .generation = 4,
	    .now = NOW,
	    .invalid_reason = in->invalid_reason,
	    .invalid_message = in->invalid_message,
	    .topic = "telemetry",
	    .bootstrap = "k:9092",
	    .dead_letter_topic = "telemetry.dlq",
	    .topic_state = in->topic_state,
	    .partitions = 3,
	    .kafka_error = in->kafka_error,
	    .dlq_error = in->dlq_error,
	    .apply_error = in->apply_error,
	    .progress = in->progress,
	    .topic_owned = in->topic_owned,
	};

	if (in->apply_error == NULL) {
		o.have_deployment = 1;
		o.health = in->health != NULL ? in->health : &healthy;
		o.ready_replicas = o.health->ready;
	}
	return o;
}

static const struct {
	const char *what;
	struct pass in;
	const char *phase, *ready, *reason, *message;
	const char *topic, *topic_reason, *topic_message; /* NULL: no TopicReady */
	const char *workers;                              /* WorkersAvailable; NULL: none */
	int replicas;                                     /* -1: left out */
	int progress;                                     /* eventsProcessed is there */
} status_cases[] = {
    {"invalid name",
     {.invalid_reason = "InvalidName", .invalid_message = "at most 63"},
     "Failed",
     "False",
     "InvalidName",
     "at most 63",
     NULL,
     NULL,
     NULL,
     NULL,
     -1,
     0},
    {"invalid spec: nothing else counts",
     {.invalid_reason = "InvalidSpec",
      .invalid_message = "spec.window.size: required",
      .progress = &counts},
     "Failed",
     "False",
     "InvalidSpec",
     "spec.window.size: required",
     NULL,
     NULL,
     NULL,
     NULL,
     -1,
     0},
    {"running",
     {0},
     "Running",
     "True",
     "Running",
     "workers deployed",
     "True",
     "TopicFound",
     "topic telemetry has 3 partitions",
     "True",
     2,
     0},
    {"the dead-letter topic not made: still running",
     {.dlq_error = "not allowed"},
     "Running",
     "True",
     "Running",
     "workers deployed",
     "True",
     "TopicFound",
     "topic telemetry has 3 partitions; dead-letter topic telemetry.dlq: not allowed",
     "True",
     2,
     0},
    {"input topic missing",
     {.topic_state = TW_TOPIC_NOT_FOUND},
     "Degraded",
     "False",
     "TopicNotFound",
     "topic telemetry does not exist on k:9092",
     "False",
     "TopicNotFound",
     "topic telemetry does not exist on k:9092",
     "True",
     2,
     0},
    {"createTopic could not make it",
     {.topic_state = TW_TOPIC_CREATE_FAILED, .kafka_error = "INVALID_REPLICATION_FACTOR"},
     "Degraded",
     "False",
     "TopicCreateFailed",
     "topic telemetry on k:9092: INVALID_REPLICATION_FACTOR",
     "False",
     "TopicCreateFailed",
     "topic telemetry on k:9092: INVALID_REPLICATION_FACTOR",
     "True",
     2,
     0},
    {"input topic created by the operator",
     {.topic_state = TW_TOPIC_FOUND, .topic_owned = 1},
     "Running",
     "True",
     "Running",
     "workers deployed",
     "True",
     "TopicFound",
     "topic telemetry has 3 partitions (created by the operator)",
     "True",
     2,
     0},
    {"Kafka away",
     {.topic_state = TW_TOPIC_UNAVAILABLE, .kafka_error = "timed out"},
     "Degraded",
     "False",
     "KafkaUnavailable",
     "Kafka at k:9092: timed out",
     "False",
     "KafkaUnavailable",
     "Kafka at k:9092: timed out",
     "True",
     2,
     0},
    {"a Secret missing",
     {.topic_state = TW_TOPIC_SECRET_NOT_FOUND,
      .kafka_error = "spec.kafka.sasl.password: Secret \"c\" key \"password\": Secret \"c\" "
                     "does not exist in namespace \"n\""},
     "Degraded",
     "False",
     "SecretNotFound",
     "spec.kafka.sasl.password: Secret \"c\" key \"password\": Secret \"c\" does not exist "
     "in namespace \"n\"",
     "False",
     "SecretNotFound",
     "spec.kafka.sasl.password: Secret \"c\" key \"password\": Secret \"c\" does not exist "
     "in namespace \"n\"",
     "True",
     2,
     0},
    {"a refused login",
     {.topic_state = TW_TOPIC_AUTH_FAILED, .kafka_error = "SASL authentication error"},
     "Degraded",
     "False",
     "KafkaAuthenticationFailed",
     "Kafka at k:9092: SASL authentication error",
     "False",
     "KafkaAuthenticationFailed",
     "Kafka at k:9092: SASL authentication error",
     "True",
     2,
     0},
    {"a failed handshake",
     {.topic_state = TW_TOPIC_TLS_FAILED, .kafka_error = "SSL handshake failed"},
     "Degraded",
     "False",
     "KafkaTLSFailed",
     "Kafka at k:9092: SSL handshake failed",
     "False",
     "KafkaTLSFailed",
     "Kafka at k:9092: SSL handshake failed",
     "True",
     2,
     0},
    {"apply failed wins over the topic",
     {.topic_state = TW_TOPIC_NOT_FOUND, .apply_error = "apply configmaps s-config: 403"},
     "Degraded",
     "False",
     "ApplyFailed",
     "apply configmaps s-config: 403",
     "False",
     "TopicNotFound",
     "topic telemetry does not exist on k:9092",
     NULL,
     -1,
     0},
    {"workers that cannot run",
     {.health = &no_image},
     "Degraded",
     "False",
     "ErrImageNeverPull",
     "pod w-1: ErrImageNeverPull",
     "True",
     "TopicFound",
     "topic telemetry has 3 partitions",
     "False",
     0,
     0},
    {"the topic's trouble comes before the workers'",
     {.topic_state = TW_TOPIC_NOT_FOUND, .health = &no_image},
     "Degraded",
     "False",
     "TopicNotFound",
     "does not exist",
     "False",
     "TopicNotFound",
     "does not exist",
     "False",
     0,
     0},
    {"workers still starting: running",
     {.health = &starting},
     "Running",
     "True",
     "Running",
     "workers deployed",
     "True",
     "TopicFound",
     "3 partitions",
     "False",
     1,
     0},
    {"progress read",
     {.progress = &counts},
     "Running",
     "True",
     "Running",
     "workers deployed",
     "True",
     "TopicFound",
     "3 partitions",
     "True",
     2,
     1},
    {"progress without a watermark",
     {.progress = &no_watermark},
     "Running",
     "True",
     "Running",
     "workers deployed",
     "True",
     "TopicFound",
     "3 partitions",
     "True",
     2,
     1},
};

static void test_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		struct tw_observed o = observed(&status_cases[i].in);
		struct tw_plan p;

		print_message("status: %s\n", status_cases[i].what);
		assert_int_equal(tw_plan_status(&o, &p), 0);
		assert_non_null(p.status);
		assert_string_equal(p.phase, status_cases[i].phase);
		assert_string_equal(str(p.status, "phase"), status_cases[i].phase);
		assert_int_equal(num(p.status, "observedGeneration"), 4);
		assert_string_equal(cond_field(p.status, "Ready", "status"), status_cases[i].ready);
		assert_string_equal(cond_field(p.status, "Ready", "reason"),
		                    status_cases[i].reason);
		assert_non_null(
		    strstr(cond_field(p.status, "Ready", "message"), status_cases[i].message));
		if (status_cases[i].topic == NULL) {
			assert_null(cond(p.status, "TopicReady"));
		} else {
			assert_string_equal(cond_field(p.status, "TopicReady", "status"),
			                    status_cases[i].topic);
			assert_string_equal(cond_field(p.status, "TopicReady", "reason"),
			                    status_cases[i].topic_reason);
			assert_non_null(strstr(cond_field(p.status, "TopicReady", "message"),
			                       status_cases[i].topic_message));
		}
		if (status_cases[i].workers == NULL)
			assert_null(cond(p.status, "WorkersAvailable"));
		else
			assert_string_equal(cond_field(p.status, "WorkersAvailable", "status"),
			                    status_cases[i].workers);
		if (status_cases[i].replicas < 0)
			assert_false(has(p.status, "replicas"));
		else
			assert_int_equal(num(p.status, "replicas"), status_cases[i].replicas);
		assert_int_equal(has(p.status, "eventsProcessed"), status_cases[i].progress);
		/* Every condition is new: each says when, and for which generation. */
		assert_string_equal(cond_field(p.status, "Ready", "lastTransitionTime"), NOW);
		assert_int_equal(
		    cJSON_GetObjectItemCaseSensitive(cond(p.status, "Ready"), "observedGeneration")
		        ->valuedouble,
		    4);
		/* No stored Ready: the first one is an Event, Normal when ready. */
		assert_true(p.emit);
		if (strcmp(status_cases[i].ready, "True") == 0) {
			assert_int_equal(p.event.type, EVENTS_NORMAL);
			assert_string_equal(p.event.reason, "Ready");
		} else {
			assert_int_equal(p.event.type, EVENTS_WARNING);
			assert_string_equal(p.event.reason, status_cases[i].reason);
		}
		assert_string_equal(p.event.note, p.ready_message);
		assert_string_equal(p.event.action, "Reconcile");
		cJSON_Delete(p.status);
	}
}

static void test_progress_fields(void **state)
{
	const struct pass in = {.progress = &counts};
	struct tw_observed o = observed(&in);
	struct tw_plan p;

	(void)state;
	assert_int_equal(tw_plan_status(&o, &p), 0);
	assert_int_equal(num(p.status, "eventsProcessed"), 100);
	assert_int_equal(num(p.status, "duplicates"), 3);
	assert_int_equal(num(p.status, "late"), 2);
	assert_int_equal(num(p.status, "malformed"), 1);
	assert_int_equal(num(p.status, "windowsEmitted"), 7);
	assert_string_equal(str(p.status, "lastWatermark"), "2026-11-23T05:00:00Z");
	cJSON_Delete(p.status);

	o.progress = &no_watermark;
	assert_int_equal(tw_plan_status(&o, &p), 0);
	assert_int_equal(num(p.status, "eventsProcessed"), 5);
	assert_false(has(p.status, "lastWatermark"));
	cJSON_Delete(p.status);

	/* Not read: the stored counts stay, so none is written. */
	o.progress = NULL;
	assert_int_equal(tw_plan_status(&o, &p), 0);
	assert_false(has(p.status, "eventsProcessed"));
	assert_false(has(p.status, "windowsEmitted"));
	cJSON_Delete(p.status);
}

/* The Ready Event goes out on a change of Ready's status or reason only:
 * a resource that stays broken does not flood the API server. */
static const struct {
	const char *what, *old_ready; /* the stored Ready: status,reason */
	struct pass in;
	int emit;
	enum events_type type;
	const char *reason;
} event_cases[] = {
    {"steady and fine: none", "True,Running", {0}, 0, EVENTS_NORMAL, "Ready"},
    {"fixed: Ready", "False,TopicNotFound", {0}, 1, EVENTS_NORMAL, "Ready"},
    {"broke",
     "True,Running",
     {.topic_state = TW_TOPIC_NOT_FOUND},
     1,
     EVENTS_WARNING,
     "TopicNotFound"},
    {"still broken the same way: none",
     "False,TopicNotFound",
     {.topic_state = TW_TOPIC_NOT_FOUND},
     0,
     EVENTS_WARNING,
     "TopicNotFound"},
    {"broken another way",
     "False,TopicNotFound",
     {.topic_state = TW_TOPIC_UNAVAILABLE, .kafka_error = "down"},
     1,
     EVENTS_WARNING,
     "KafkaUnavailable"},
    {"the login refused",
     "True,Running",
     {.topic_state = TW_TOPIC_AUTH_FAILED, .kafka_error = "SASL authentication error"},
     1,
     EVENTS_WARNING,
     "KafkaAuthenticationFailed"},
    {"then the handshake",
     "False,KafkaAuthenticationFailed",
     {.topic_state = TW_TOPIC_TLS_FAILED, .kafka_error = "SSL handshake failed"},
     1,
     EVENTS_WARNING,
     "KafkaTLSFailed"},
    {"the workers' trouble",
     "True,Running",
     {.health = &no_image},
     1,
     EVENTS_WARNING,
     "ErrImageNeverPull"},
    {"an invalid spec once",
     "False,InvalidSpec",
     {.invalid_reason = "InvalidSpec", .invalid_message = "x"},
     0,
     EVENTS_WARNING,
     "InvalidSpec"},
};

static void test_ready_event(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(event_cases) / sizeof(event_cases[0]); i++) {
		char json[512], st[16], reason[64];
		struct tw_observed o = observed(&event_cases[i].in);
		struct tw_plan p;

		print_message("event: %s\n", event_cases[i].what);
		assert_int_equal(sscanf(event_cases[i].old_ready, "%15[^,],%63s", st, reason), 2);
		snprintf(json, sizeof(json),
		         "[{\"type\":\"Ready\",\"status\":\"%s\",\"reason\":\"%s\","
		         "\"lastTransitionTime\":\"" EARLIER "\"}]",
		         st, reason);
		cJSON *old = cJSON_Parse(json);
		assert_non_null(old);
		o.old_conditions = old;
		assert_int_equal(tw_plan_status(&o, &p), 0);
		assert_int_equal(p.emit, event_cases[i].emit);
		assert_int_equal(p.event.type, event_cases[i].type);
		assert_string_equal(p.event.reason, event_cases[i].reason);
		/* lastTransitionTime moves only when Ready's status does. */
		assert_string_equal(
		    cond_field(p.status, "Ready", "lastTransitionTime"),
		    strcmp(st, cond_field(p.status, "Ready", "status")) == 0 ? EARLIER : NOW);
		cJSON_Delete(p.status);
		cJSON_Delete(old);
	}
}

/* The same pass planned twice is the same plan. */
static void test_pure(void **state)
{
	const struct pass in = {.progress = &counts};
	struct tw_observed o = observed(&in);
	struct tw_plan a, b;

	(void)state;
	assert_int_equal(tw_plan_status(&o, &a), 0);
	assert_int_equal(tw_plan_status(&o, &b), 0);
	assert_true(cJSON_Compare(a.status, b.status, 1));
	assert_int_equal(a.emit, b.emit);
	assert_string_equal(a.event.note, b.event.note);
	cJSON_Delete(a.status);
	cJSON_Delete(b.status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_begin),
	    cmocka_unit_test(test_own_prefix),
	    cmocka_unit_test(test_cleanup),
	    cmocka_unit_test(test_cleanup_topics),
	    cmocka_unit_test(test_cleanup_event),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_progress_fields),
	    cmocka_unit_test(test_ready_event),
	    cmocka_unit_test(test_pure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
