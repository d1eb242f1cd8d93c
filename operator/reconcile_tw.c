/* reconcile_tw.c - see reconcile_tw.h. */
#include "reconcile_tw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "conditions.h"
#include "events.h"
#include "log.h"
#include "redis_keys.h"
#include "tw_progress.h"
#include "tw_spec.h"
#include "tw_time.h"
#include "workers_health.h"
#include "clock.h"
#include "hostport.h"

#define KIND_LABEL "telemetrywindow"
#define MODE "telemetry"

/* What one pass found, turned into the status at the end. */
struct tw_pass {
	const cJSON *obj;
	const cJSON *old_conds;
	long long generation;
	const char *ready_status, *ready_reason; /* Ready */
	char ready_msg[1024];
	const char *topic_status, *topic_reason; /* TopicReady; NULL: left out */
	char topic_msg[1024];
	const cJSON *deployment;      /* as stored, or NULL */
	struct workers_health health; /* of the deployment's pods, when it exists */
	int have_progress;            /* progress read from the status Redis */
	struct tw_progress progress;
};

static long long generation_of(const cJSON *obj)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "generation");
	return cJSON_IsNumber(g) ? (long long)g->valuedouble : 0;
}

/* obj.a.b (b NULL: obj.a), or NULL. */
static const cJSON *path(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, a);
	return b != NULL ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static int int_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *v = path(obj, a, b);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* Builds the status and writes it when it changed; emits an Event when
 * Ready changed its status or reason. */
static int finish(const struct reconcile_ctx *ctx, struct tw_pass *p)
{
	char now[32];
	cJSON *st = cJSON_CreateObject(), *conds;
	const char *phase;
	int rc;

	conditions_now(now, sizeof(now));
	if (strcmp(p->ready_status, "True") == 0)
		phase = "Running";
	else if (strcmp(p->ready_reason, "InvalidSpec") == 0 ||
	         strcmp(p->ready_reason, "InvalidName") == 0)
		phase = "Failed";
	else
		phase = "Degraded";
	if (st == NULL || cJSON_AddStringToObject(st, "phase", phase) == NULL ||
	    cJSON_AddNumberToObject(st, "observedGeneration", (double)p->generation) == NULL ||
	    (conds = cJSON_AddArrayToObject(st, "conditions")) == NULL)
		goto nomem;
	if (p->deployment != NULL &&
	    cJSON_AddNumberToObject(st, "replicas",
	                            int_at(p->deployment, "status", "readyReplicas")) == NULL)
		goto nomem;
	if (p->have_progress) {
		const struct tw_progress *g = &p->progress;
		char wm[64];
		if (cJSON_AddNumberToObject(st, "eventsProcessed", (double)g->events) == NULL ||
		    cJSON_AddNumberToObject(st, "duplicates", (double)g->duplicates) == NULL ||
		    cJSON_AddNumberToObject(st, "late", (double)g->late) == NULL ||
		    cJSON_AddNumberToObject(st, "malformed", (double)g->malformed) == NULL ||
		    cJSON_AddNumberToObject(st, "windowsEmitted", (double)g->windows) == NULL)
			goto nomem;
		if (g->watermark_ns != INT64_MIN &&
		    clock_format_rfc3339(g->watermark_ns, wm, sizeof(wm)) > 0 &&
		    cJSON_AddStringToObject(st, "lastWatermark", wm) == NULL)
			goto nomem;
	}
	if (conditions_add(conds, p->old_conds, "Ready", p->ready_status, p->ready_reason,
	                   p->ready_msg, p->generation, now) != 0)
		goto nomem;
	if (p->topic_status != NULL &&
	    conditions_add(conds, p->old_conds, "TopicReady", p->topic_status, p->topic_reason,
	                   p->topic_msg, p->generation, now) != 0)
		goto nomem;
	if (p->deployment != NULL &&
	    conditions_add(conds, p->old_conds, "WorkersAvailable", p->health.status,
	                   p->health.reason, p->health.message, p->generation, now) != 0)
		goto nomem;

	/* An Event for every change of Ready's status or reason, once the
	 * status saying so is written. */
	const char *was_s = conditions_status(p->old_conds, "Ready");
	const char *was_r = conditions_reason(p->old_conds, "Ready");
	rc = reconcile_write_status(ctx, RECONCILE_TW_PLURAL, p->obj, st);
	if (rc == 1 &&
	    (strcmp(was_s, p->ready_status) != 0 || strcmp(was_r, p->ready_reason) != 0)) {
		int ok = strcmp(p->ready_status, "True") == 0;
		events_emit(ctx->kube, p->obj, ok ? EVENTS_NORMAL : EVENTS_WARNING,
		            ok ? "Ready" : p->ready_reason, p->ready_msg, "Reconcile",
		            ctx->instance);
	}
	if (rc > 0)
		rc = 0;
	cJSON_Delete(st);
	return rc;
nomem:
	cJSON_Delete(st);
	return KUBE_ENOMEM;
}

static void fail_pass(struct tw_pass *p, const char *reason, const char *msg)
{
	p->ready_status = "False";
	p->ready_reason = reason;
	snprintf(p->ready_msg, sizeof(p->ready_msg), "%s", msg);
}

/* The status keys' prefix (CONTRACTS.md 3). */
static void status_prefix(char *buf, size_t n, const char *ns, const char *name)
{
	snprintf(buf, n, "sluice:tw:%s:%s:", ns, name);
}

/* Whether a sink prefix belongs to this resource alone: the default
 * "sluice:<ns>:<name>:" holds both; a prefix a user shares between
 * resources must not be wiped when one of them goes. */
static int own_prefix(const char *prefix, const char *ns, const char *name)
{
	char def[600];
	snprintf(def, sizeof(def), "sluice:%s:%s:", ns, name);
	return prefix != NULL && strcmp(prefix, def) == 0;
}

static int finalize(const struct reconcile_ctx *ctx, const cJSON *obj, const char *ns,
                    const char *name)
{
	char prefix[600], err[512] = "", note[1024];
	long long n = 0, total = 0;
	int failed = 0;

	if (!reconcile_has_finalizer(obj))
		return RECONCILE_OK;
	if (ctx->defaults.redis_addr != NULL && ctx->defaults.redis_addr[0] != '\0') {
		status_prefix(prefix, sizeof(prefix), ns, name);
		if (redis_keys_delete_prefix(ctx->defaults.redis_addr, prefix,
		                             ctx->redis_timeout_ms, &n, err, sizeof(err)) != 0)
			failed = 1;
		total += n;
	}
	/* The sink's keys, when the prefix is the resource's own. */
	cJSON *eff = children_tw_effective_spec(cJSON_GetObjectItemCaseSensitive(obj, "spec"),
	                                        &ctx->defaults);
	struct tw_spec ts;
	char perr[512];
	if (!failed && eff != NULL && tw_spec_parse(eff, name, ns, &ts, perr, sizeof(perr)) == 0) {
		if (ts.sinks.redis.enabled && own_prefix(ts.sinks.redis.prefix, ns, name)) {
			if (redis_keys_delete_prefix(ts.sinks.redis.addr, ts.sinks.redis.prefix,
			                             ctx->redis_timeout_ms, &n, err,
			                             sizeof(err)) != 0)
				failed = 1;
			total += n;
		}
		tw_spec_free(&ts);
	}
	cJSON_Delete(eff);
	if (failed) {
		snprintf(note, sizeof(note), "removing Redis keys failed, will retry: %s", err);
		log_warn("cleanup failed", "namespace", ns, "name", name, "error", err, NULL);
		events_emit(ctx->kube, obj, EVENTS_WARNING, "CleanupFailed", note, "Delete",
		            ctx->instance);
		return RECONCILE_ERROR;
	}
	if (reconcile_set_finalizer(ctx, RECONCILE_TW_PLURAL, obj, 0) != 0)
		return RECONCILE_ERROR;
	snprintf(note, sizeof(note), "deleted %lld Redis keys", total);
	log_info("cleaned up", "namespace", ns, "name", name, "detail", note, NULL);
	events_emit(ctx->kube, obj, EVENTS_NORMAL, "CleanedUp", note, "Delete", ctx->instance);
	return RECONCILE_OK;
}

/* The Secret references of a parsed spec, for the pod's env. */
static size_t secrets_of(const struct tw_spec *ts, struct children_secret *out)
{
	size_t n = 0;
	if (ts->sinks.postgres.enabled && ts->sinks.postgres.dsn.name != NULL)
		out[n++] = (struct children_secret){ts->sinks.postgres.dsn.name,
		                                    ts->sinks.postgres.dsn.key};
	if (ts->sinks.influxdb.enabled && ts->sinks.influxdb.token.name != NULL)
		out[n++] = (struct children_secret){ts->sinks.influxdb.token.name,
		                                    ts->sinks.influxdb.token.key};
	return n;
}

/* Looks at the input topic and creates the dead-letter one. */
static void check_topics(const struct reconcile_ctx *ctx, const struct tw_spec *ts,
                         struct tw_pass *p)
{
	char err[512];
	int parts = 0, repl = 0;
	int rc = topics_describe(ctx->topics, ts->kafka.bootstrap, ts->kafka.topic,
	                         ctx->kafka_timeout_ms, &parts, &repl, err, sizeof(err));

	if (rc == TOPICS_OK) {
		p->topic_status = "True";
		p->topic_reason = "TopicFound";
		snprintf(p->topic_msg, sizeof(p->topic_msg), "topic %s has %d partitions",
		         ts->kafka.topic, parts);
		if (topics_create(ctx->topics, ts->kafka.bootstrap, ts->kafka.dead_letter_topic,
		                  parts, repl, ctx->kafka_timeout_ms, err,
		                  sizeof(err)) != TOPICS_OK) {
			log_warn("dead-letter topic not created", "topic",
			         ts->kafka.dead_letter_topic, "error", err, NULL);
			snprintf(p->topic_msg, sizeof(p->topic_msg),
			         "topic %s has %d partitions; dead-letter topic %s: %s",
			         ts->kafka.topic, parts, ts->kafka.dead_letter_topic, err);
		}
		return;
	}
	p->topic_status = "False";
	if (rc == TOPICS_ENOTFOUND) {
		p->topic_reason = "TopicNotFound";
		snprintf(p->topic_msg, sizeof(p->topic_msg), "topic %s does not exist on %s",
		         ts->kafka.topic, ts->kafka.bootstrap);
	} else {
		p->topic_reason = "KafkaUnavailable";
		snprintf(p->topic_msg, sizeof(p->topic_msg), "Kafka at %s: %s", ts->kafka.bootstrap,
		         err);
	}
	fail_pass(p, p->topic_reason, p->topic_msg);
}

/* What the workers recorded (CONTRACTS.md 3), from the status Redis; a
 * Redis that cannot be read leaves the counts out of this status write
 * (the ones stored stay) and is only logged. */
static void read_progress(const struct reconcile_ctx *ctx, const char *ns, const char *name,
                          struct tw_pass *p)
{
	char host[256], err[256];
	int port;
	const char *addr = ctx->defaults.redis_addr;

	if (addr == NULL || addr[0] == '\0' || hostport_split(addr, host, sizeof(host), &port) != 0)
		return;
	struct timeval tv = {ctx->redis_timeout_ms / 1000, (ctx->redis_timeout_ms % 1000) * 1000};
	redisContext *rc = redisConnectWithTimeout(host, port, tv);
	if (rc == NULL || rc->err != 0) {
		log_debug("status Redis unavailable", "addr", addr, "error",
		          rc != NULL ? rc->errstr : "out of memory", NULL);
		redisFree(rc);
		return;
	}
	redisSetTimeout(rc, tv);
	if (tw_progress_read(rc, ns, name, &p->progress, err, sizeof(err)) == 0)
		p->have_progress = 1;
	else
		log_debug("progress not read", "namespace", ns, "name", name, "error", err, NULL);
	redisFree(rc);
}

/* ConfigMap and Deployment. Returns 0 or a KUBE_E* code with p's Ready
 * set to ApplyFailed; *dep_out is the Deployment as stored. */
static int apply_children(const struct reconcile_ctx *ctx, const cJSON *obj,
                          const struct tw_spec *ts, const char *config_text, struct tw_pass *p,
                          cJSON **dep_out)
{
	const char *ns = reconcile_meta(obj, "namespace");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *workers = cJSON_GetObjectItemCaseSensitive(spec, "workers");
	char hash[32], err[1024] = "";
	struct children_secret secrets[4];
	cJSON *cm = children_configmap(obj, KIND_LABEL, config_text);
	struct kube_ref cm_ref = {"", "v1", "configmaps", ns, NULL, NULL};
	int rc = KUBE_ENOMEM;

	children_config_hash(config_text, hash, sizeof(hash));
	struct children_workload w = {
	    .owner = obj,
	    .kind_label = KIND_LABEL,
	    .mode = MODE,
	    .config_hash = hash,
	    .image = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(workers, "image")),
	    .pull_policy =
	        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(workers, "imagePullPolicy")),
	    .resources = cJSON_GetObjectItemCaseSensitive(workers, "resources"),
	    .workers = workers,
	    .secrets = secrets,
	    .n_secrets = secrets_of(ts, secrets),
	    .replicas = -1,
	    .defaults = &ctx->defaults,
	};
	if (cm == NULL)
		goto done;
	cm_ref.name = reconcile_meta(cm, "name");
	if ((rc = reconcile_apply(ctx, &cm_ref, cm, NULL, err, sizeof(err))) != 0)
		goto done;

	rc = reconcile_workers(ctx, &w, ts->workers.min_replicas, dep_out, err, sizeof(err));
done:
	if (rc != 0)
		fail_pass(p, "ApplyFailed", err[0] != '\0' ? err : kube_strerror(rc));
	cJSON_Delete(cm);
	return rc;
}

int reconcile_tw(const struct reconcile_ctx *ctx, const char *ns, const char *name)
{
	char key[REFLECTOR_KEY_MAX], err[1024];
	cJSON *obj = NULL, *eff = NULL, *dep = NULL, *pods = NULL;
	char *config_text = NULL;
	struct tw_spec ts;
	int parsed = 0, rc = RECONCILE_POLL;

	memset(&ts, 0, sizeof(ts));
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (reflector_store_get(ctx->tw_store, key, &obj) != 0)
		return RECONCILE_OK; /* gone: the garbage collector removes the children */
	if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	                                     "deletionTimestamp") != NULL) {
		rc = finalize(ctx, obj, ns, name);
		cJSON_Delete(obj);
		return rc;
	}

	struct tw_pass p = {
	    .obj = obj,
	    .old_conds = path(obj, "status", "conditions"),
	    .generation = generation_of(obj),
	    .ready_status = "True",
	    .ready_reason = "Running",
	};
	snprintf(p.ready_msg, sizeof(p.ready_msg), "workers deployed");

	if (!children_name_ok(name)) {
		fail_pass(&p, "InvalidName",
		          "the name must be at most 63 characters (it is a label value)");
		rc = RECONCILE_OK;
		goto status;
	}
	eff = children_tw_effective_spec(cJSON_GetObjectItemCaseSensitive(obj, "spec"),
	                                 &ctx->defaults);
	if (eff == NULL) {
		rc = RECONCILE_ERROR;
		goto done;
	}
	if (tw_spec_parse(eff, name, ns, &ts, err, sizeof(err)) != 0) {
		fail_pass(&p, "InvalidSpec", err);
		rc = RECONCILE_OK; /* nothing to retry until the spec changes */
		goto status;
	}
	parsed = 1;

	/* The finalizer, when there is Redis state to remove on deletion. */
	if ((ctx->defaults.redis_addr != NULL && ctx->defaults.redis_addr[0] != '\0') ||
	    (ts.sinks.redis.enabled && own_prefix(ts.sinks.redis.prefix, ns, name))) {
		if (reconcile_set_finalizer(ctx, RECONCILE_TW_PLURAL, obj, 1) != 0) {
			rc = RECONCILE_ERROR;
			goto done;
		}
	}

	check_topics(ctx, &ts, &p);
	config_text = children_config_json(name, ns, eff);
	if (config_text == NULL) {
		rc = RECONCILE_ERROR;
		goto done;
	}
	if (apply_children(ctx, obj, &ts, config_text, &p, &dep) != 0)
		rc = RECONCILE_ERROR;
	p.deployment = dep;
	/* Workers that cannot run make the resource not Ready, whatever else
	 * is fine: the pods' own reason, within one pass. */
	pods = reconcile_worker_pods(ctx, obj, KIND_LABEL, MODE, dep);
	workers_health_judge(dep, pods, time(NULL), &p.health);
	if (p.health.failing && strcmp(p.ready_status, "True") == 0)
		fail_pass(&p, p.health.reason, p.health.message);
	read_progress(ctx, ns, name, &p);
status:
	if (finish(ctx, &p) != 0 && rc != RECONCILE_ERROR)
		rc = RECONCILE_ERROR;
done:
	if (parsed)
		tw_spec_free(&ts);
	free(config_text);
	cJSON_Delete(pods);
	cJSON_Delete(dep);
	cJSON_Delete(eff);
	cJSON_Delete(obj);
	return rc;
}
