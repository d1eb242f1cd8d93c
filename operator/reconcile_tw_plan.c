/* reconcile_tw_plan.c - the TelemetryWindow reconciler's decisions; see
 * reconcile_tw_plan.h. */
#include "reconcile_tw_plan.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "conditions.h"

static int set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int tw_plan_own_prefix(const char *prefix, const char *ns, const char *name)
{
	char def[TW_PLAN_PREFIX_MAX];
	snprintf(def, sizeof(def), "sluice:%s:%s:", ns, name);
	return prefix != NULL && strcmp(prefix, def) == 0;
}

void tw_plan_begin(const struct tw_resource *r, struct tw_begin *out)
{
	memset(out, 0, sizeof(*out));
	if (r->deleting) {
		out->step = TW_STEP_FINALIZE;
	} else if (!r->name_ok) {
		out->step = TW_STEP_REPORT;
		out->reason = "InvalidName";
		out->message = "the name must be at most 63 characters (it is a label value)";
	} else if (r->spec == TW_PLAN_SPEC_NOMEM) {
		out->step = TW_STEP_RETRY;
	} else if (r->spec == TW_PLAN_SPEC_INVALID) {
		out->step = TW_STEP_REPORT;
		out->reason = "InvalidSpec";
		out->message = r->spec_error != NULL ? r->spec_error : "";
	} else {
		out->step = TW_STEP_RUN;
		out->add_finalizer = set(r->status_redis) || r->makes_topics ||
		                     (r->sink_redis_addr != NULL &&
		                      tw_plan_own_prefix(r->sink_redis_prefix, r->ns, r->name));
	}
}

void tw_plan_cleanup(const struct tw_resource *r, struct tw_cleanup *out)
{
	memset(out, 0, sizeof(*out));
	out->needed = r->has_finalizer;
	if (!out->needed)
		return;
	if (r->owned_topics != NULL && set(r->bootstrap)) {
		out->topics = *r->owned_topics;
		out->bootstrap = r->bootstrap;
	}
	if (set(r->status_redis)) {
		/* The status keys' prefix (docs/contracts.md §3). */
		out->target[out->n].addr = r->status_redis;
		snprintf(out->target[out->n].prefix, sizeof(out->target[0].prefix),
		         "sluice:tw:%s:%s:", r->ns, r->name);
		out->n++;
	}
	if (r->sink_redis_addr != NULL &&
	    tw_plan_own_prefix(r->sink_redis_prefix, r->ns, r->name)) {
		out->target[out->n].addr = r->sink_redis_addr;
		snprintf(out->target[out->n].prefix, sizeof(out->target[0].prefix), "%s",
		         r->sink_redis_prefix);
		out->n++;
	}
}

void tw_plan_cleanup_event(int failed, const char *error, long long deleted,
                           struct events_planned *out)
{
	char note[EVENTS_NOTE_MAX];

	if (failed) {
		snprintf(note, sizeof(note), "removing Redis keys failed, will retry: %s",
		         error != NULL ? error : "");
		events_plan(out, EVENTS_WARNING, "CleanupFailed", note, "Delete");
	} else {
		snprintf(note, sizeof(note), "deleted %lld Redis keys", deleted);
		events_plan(out, EVENTS_NORMAL, "CleanedUp", note, "Delete");
	}
}

static void not_ready(struct tw_plan *p, const char *reason, const char *msg)
{
	p->ready_status = "False";
	snprintf(p->ready_reason, sizeof(p->ready_reason), "%s", reason);
	snprintf(p->ready_message, sizeof(p->ready_message), "%s", msg);
}

/* TopicReady, and Ready False when the input topic cannot be read. */
static void judge_topic(const struct tw_observed *o, struct tw_plan *p)
{
	if (o->topic_state == TW_TOPIC_FOUND) {
		p->topic_status = "True";
		p->topic_reason = "TopicFound";
		const char *by = o->topic_owned ? " (created by the operator)" : "";
		if (o->dlq_error == NULL)
			snprintf(p->topic_message, sizeof(p->topic_message),
			         "topic %s has %d partitions%s", o->topic, o->partitions, by);
		else
			snprintf(p->topic_message, sizeof(p->topic_message),
			         "topic %s has %d partitions%s; dead-letter topic %s: %s", o->topic,
			         o->partitions, by, o->dead_letter_topic, o->dlq_error);
		return;
	}
	p->topic_status = "False";
	if (o->topic_state == TW_TOPIC_NOT_FOUND) {
		p->topic_reason = "TopicNotFound";
		snprintf(p->topic_message, sizeof(p->topic_message),
		         "topic %s does not exist on %s", o->topic, o->bootstrap);
	} else if (o->topic_state == TW_TOPIC_CREATE_FAILED) {
		p->topic_reason = "TopicCreateFailed";
		snprintf(p->topic_message, sizeof(p->topic_message), "topic %s on %s: %s", o->topic,
		         o->bootstrap, o->kafka_error != NULL ? o->kafka_error : "");
	} else if (o->topic_state == TW_TOPIC_SECRET_NOT_FOUND) {
		p->topic_reason = "SecretNotFound";
		snprintf(p->topic_message, sizeof(p->topic_message), "%s",
		         o->kafka_error != NULL ? o->kafka_error : "");
	} else {
		p->topic_reason = o->topic_state == TW_TOPIC_AUTH_FAILED
		                      ? "KafkaAuthenticationFailed"
		                  : o->topic_state == TW_TOPIC_TLS_FAILED ? "KafkaTLSFailed"
		                                                          : "KafkaUnavailable";
		snprintf(p->topic_message, sizeof(p->topic_message), "Kafka at %s: %s",
		         o->bootstrap, o->kafka_error != NULL ? o->kafka_error : "");
	}
	not_ready(p, p->topic_reason, p->topic_message);
}

static void judge(const struct tw_observed *o, struct tw_plan *p)
{
	p->ready_status = "True";
	snprintf(p->ready_reason, sizeof(p->ready_reason), "Running");
	snprintf(p->ready_message, sizeof(p->ready_message), "workers deployed");
	if (o->invalid_reason != NULL) {
		not_ready(p, o->invalid_reason,
		          o->invalid_message != NULL ? o->invalid_message : "");
		return;
	}
	judge_topic(o, p);
	if (o->apply_error != NULL)
		not_ready(p, "ApplyFailed", o->apply_error);
	/* Workers that cannot run make the resource not Ready, whatever else
	 * is fine: the pods' own reason, within one pass. */
	if (o->health != NULL && o->health->failing && strcmp(p->ready_status, "True") == 0)
		not_ready(p, o->health->reason, o->health->message);
}

static int add_progress(cJSON *st, const struct tw_progress *g)
{
	char wm[CLOCK_RFC3339_MAX];

	if (cJSON_AddNumberToObject(st, "eventsProcessed", (double)g->events) == NULL ||
	    cJSON_AddNumberToObject(st, "duplicates", (double)g->duplicates) == NULL ||
	    cJSON_AddNumberToObject(st, "late", (double)g->late) == NULL ||
	    cJSON_AddNumberToObject(st, "malformed", (double)g->malformed) == NULL ||
	    cJSON_AddNumberToObject(st, "windowsEmitted", (double)g->windows) == NULL)
		return -1;
	if (g->watermark_ns != INT64_MIN &&
	    clock_format_rfc3339(g->watermark_ns, wm, sizeof(wm)) > 0 &&
	    cJSON_AddStringToObject(st, "lastWatermark", wm) == NULL)
		return -1;
	return 0;
}

int tw_plan_status(const struct tw_observed *o, struct tw_plan *out)
{
	const int reported = o->invalid_reason != NULL;
	cJSON *st, *conds;

	memset(out, 0, sizeof(*out));
	judge(o, out);
	if (strcmp(out->ready_status, "True") == 0)
		out->phase = "Running";
	else if (strcmp(out->ready_reason, "InvalidSpec") == 0 ||
	         strcmp(out->ready_reason, "InvalidName") == 0)
		out->phase = "Failed";
	else
		out->phase = "Degraded";

	st = cJSON_CreateObject();
	if (st == NULL || cJSON_AddStringToObject(st, "phase", out->phase) == NULL ||
	    cJSON_AddNumberToObject(st, "observedGeneration", (double)o->generation) == NULL ||
	    (conds = cJSON_AddArrayToObject(st, "conditions")) == NULL)
		goto nomem;
	if (!reported && o->have_deployment &&
	    cJSON_AddNumberToObject(st, "replicas", o->ready_replicas) == NULL)
		goto nomem;
	if (!reported && o->progress != NULL && add_progress(st, o->progress) != 0)
		goto nomem;
	if (conditions_add(conds, o->old_conditions, "Ready", out->ready_status, out->ready_reason,
	                   out->ready_message, o->generation, o->now) != 0)
		goto nomem;
	if (out->topic_status != NULL &&
	    conditions_add(conds, o->old_conditions, "TopicReady", out->topic_status,
	                   out->topic_reason, out->topic_message, o->generation, o->now) != 0)
		goto nomem;
	if (!reported && o->have_deployment && o->health != NULL &&
	    conditions_add(conds, o->old_conditions, "WorkersAvailable", o->health->status,
	                   o->health->reason, o->health->message, o->generation, o->now) != 0)
		goto nomem;
	out->status = st;

	/* An Event for every change of Ready's status or reason, once the
	 * status saying so is written. */
	int ok = strcmp(out->ready_status, "True") == 0;
	out->emit = strcmp(conditions_status(o->old_conditions, "Ready"), out->ready_status) != 0 ||
	            strcmp(conditions_reason(o->old_conditions, "Ready"), out->ready_reason) != 0;
	events_plan(&out->event, ok ? EVENTS_NORMAL : EVENTS_WARNING,
	            ok ? "Ready" : out->ready_reason, out->ready_message, "Reconcile");
	return 0;
nomem:
	cJSON_Delete(st);
	return -1;
}
