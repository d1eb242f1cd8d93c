/* reconcile_tw.c - the TelemetryWindow reconciler's reads and writes around
 * its pure plan (reconcile_tw_plan.h); see reconcile_tw.h. */
#include "reconcile_tw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conditions.h"
#include "events.h"
#include "kafka_security.h"
#include "log.h"
#include "reconcile_topics.h"
#include "reconcile_tw_plan.h"
#include "tw_progress.h"
#include "tw_spec.h"
#include "workers_health.h"

#define KIND_LABEL "telemetrywindow"
#define MODE "telemetry"

/* ------------------------------------------------------------ observe */

/* The resource as the cache has it, and its effective spec parsed. */
struct tw_read {
	cJSON *obj, *eff;
	struct tw_spec ts;
	int parsed;
	char spec_error[1024];
	struct topic_owned owned;
	struct tw_resource res;
};

/* Reads ns/name from the cache into *rd. Returns 0, or -1 when it is gone. */
static int observe_resource(const struct reconcile_ctx *ctx, const char *ns, const char *name,
                            struct tw_read *rd)
{
	char key[REFLECTOR_KEY_MAX];
	struct tw_resource *r = &rd->res;

	memset(rd, 0, sizeof(*rd));
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (reflector_store_get(ctx->tw_store, key, &rd->obj) != 0)
		return -1;
	r->ns = ns;
	r->name = name;
	r->deleting = reconcile_path(rd->obj, "metadata", "deletionTimestamp") != NULL;
	r->has_finalizer = reconcile_has_finalizer(rd->obj);
	r->name_ok = children_name_ok(name);
	r->status_redis = ctx->defaults.redis_addr;
	topic_plan_owned(reconcile_path(rd->obj, "status", NULL), &rd->owned);
	r->owned_topics = &rd->owned;
	rd->eff = children_tw_effective_spec(reconcile_path(rd->obj, "spec", NULL), &ctx->defaults);
	if (rd->eff == NULL) {
		r->spec = TW_PLAN_SPEC_NOMEM;
	} else if (tw_spec_parse(rd->eff, name, ns, &rd->ts, rd->spec_error,
	                         sizeof(rd->spec_error)) != 0) {
		r->spec = TW_PLAN_SPEC_INVALID;
		r->spec_error = rd->spec_error;
	} else {
		rd->parsed = 1;
		r->spec = TW_PLAN_SPEC_OK;
		r->makes_topics = 1;
		r->bootstrap = rd->ts.kafka.bootstrap;
		if (rd->ts.sinks.redis.enabled) {
			r->sink_redis_addr = rd->ts.sinks.redis.addr;
			r->sink_redis_prefix = rd->ts.sinks.redis.prefix;
		}
	}
	return 0;
}

static void read_free(struct tw_read *rd)
{
	if (rd->parsed)
		tw_spec_free(&rd->ts);
	cJSON_Delete(rd->eff);
	cJSON_Delete(rd->obj);
}

struct progress_read {
	const char *ns, *name;
	struct tw_progress *out;
};

static int read_progress_on(redisContext *c, const char *addr, void *arg, char *errbuf,
                            size_t errbuf_size)
{
	struct progress_read *pr = arg;
	(void)addr;
	return tw_progress_read(c, pr->ns, pr->name, pr->out, errbuf, errbuf_size);
}

/* What the workers recorded (docs/contracts.md §3), from the status Redis on the
 * kept connection. Returns 0 when read; a Redis that cannot be read leaves
 * the counts out of this status write (the ones stored stay) and is only
 * logged. */
static int observe_progress(const struct reconcile_ctx *ctx, const char *ns, const char *name,
                            struct tw_progress *out)
{
	const char *addr = ctx->defaults.redis_addr;
	struct progress_read pr = {ns, name, out};
	char err[512];

	if (addr == NULL || addr[0] == '\0')
		return -1;
	if (redis_pool_run(ctx->redis, addr, read_progress_on, &pr, err, sizeof(err)) != 0) {
		log_debug("progress not read", "namespace", ns, "name", name, "error", err, NULL);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- apply */

/* The cleanup tw_plan_cleanup asked for, then the finalizer dropped. */
static int finalize(const struct reconcile_ctx *ctx, const struct tw_read *rd)
{
	const struct tw_resource *r = &rd->res;
	struct tw_cleanup plan;
	struct events_planned ev;
	char err[512] = "";
	long long n = 0, total = 0;
	int failed = 0;

	tw_plan_cleanup(r, &plan);
	if (!plan.needed)
		return RECONCILE_OK;
	if (plan.topics.n > 0 && rd->parsed) {
		const struct kafka_security *sec = NULL;
		struct kafka_security sec_buf;
		struct secret_lookup sl;

		if (reconcile_kafka_security(ctx, r->ns, &rd->ts.kafka, &sl, &sec_buf, &sec, err,
		                             sizeof(err)) != 0)
			/* Its Secret went first (a namespace being deleted): the
			 * topics cannot be deleted, and waiting would hold the
			 * resource, and its namespace, for ever. */
			log_warn("topics left: no credentials", "namespace", r->ns, "name", r->name,
			         "error", err, NULL);
		else if (reconcile_topics_delete(ctx, &plan.topics, plan.bootstrap, sec, err,
		                                 sizeof(err)) != 0)
			failed = 1;
		secret_lookup_free(&sl);
	}
	for (size_t i = 0; i < plan.n && !failed; i++) {
		if (reconcile_redis_delete_prefix(ctx, plan.target[i].addr, plan.target[i].prefix,
		                                  &n, err, sizeof(err)) != 0)
			failed = 1;
		total += n;
	}
	tw_plan_cleanup_event(failed, err, total, &ev);
	if (failed) {
		log_warn("cleanup failed", "namespace", r->ns, "name", r->name, "error", err, NULL);
		events_emit_planned(ctx->kube, rd->obj, &ev, ctx->instance);
		return RECONCILE_ERROR;
	}
	if (reconcile_set_finalizer(ctx, RECONCILE_TW_PLURAL, rd->obj, 0) != 0)
		return RECONCILE_ERROR;
	log_info("cleaned up", "namespace", r->ns, "name", r->name, "detail", ev.note, NULL);
	events_emit_planned(ctx->kube, rd->obj, &ev, ctx->instance);
	return RECONCILE_OK;
}

/* The input topic (created when missing with createTopic) and, once the
 * input is there, its dead-letter topic (created when missing, with the
 * input's partitions), into o. Returns 0, or -1 when the topics to create
 * could not be recorded (err): a retry. */
static int apply_topics(const struct reconcile_ctx *ctx, const struct tw_read *rd,
                        struct reconcile_topic *tt, struct tw_observed *o, char *err,
                        size_t err_size)
{
	const struct spec_kafka *k = &rd->ts.kafka;
	const struct kafka_security *sec = NULL;
	struct kafka_security sec_buf;
	struct secret_lookup sl;
	size_t n = 1;
	int rc = 0;

	tt[0] = (struct reconcile_topic){
	    .name = k->topic,
	    .may_create = k->create_topic.enabled,
	    .partitions = k->create_topic.partitions,
	    .replication = k->create_topic.replication_factor > 0
	                       ? k->create_topic.replication_factor
	                       : k->replication_factor,
	};
	tt[1] = (struct reconcile_topic){
	    .name = k->dead_letter_topic, .may_create = 1, .replication = k->replication_factor};
	if (reconcile_kafka_security(ctx, rd->res.ns, k, &sl, &sec_buf, &sec, tt[0].error,
	                             sizeof(tt[0].error)) != 0) {
		/* Kafka is not asked: the workers could not log in either. */
		o->topic_state = TW_TOPIC_SECRET_NOT_FOUND;
		o->kafka_error = tt[0].error;
		secret_lookup_free(&sl);
		return 0;
	}
	reconcile_topics_describe(ctx, rd->obj, k->bootstrap, sec, tt, 2);
	if (tt[0].state == TOPIC_STATE_FOUND ||
	    (tt[0].state == TOPIC_STATE_NOT_FOUND && tt[0].may_create)) {
		n = 2;
		tt[1].partitions =
		    tt[0].state == TOPIC_STATE_FOUND ? tt[0].partitions_now : tt[0].partitions;
	}
	rc = reconcile_topics_apply(ctx, RECONCILE_TW_PLURAL, rd->obj, k->bootstrap, sec, tt, n,
	                            err, err_size);
	secret_lookup_free(&sl);
	if (rc != 0)
		return -1;
	o->partitions = tt[0].partitions_now;
	o->topic_owned = tt[0].owned || tt[0].created;
	switch (tt[0].state) {
	case TOPIC_STATE_FOUND:
		o->topic_state = TW_TOPIC_FOUND;
		break;
	case TOPIC_STATE_NOT_FOUND:
		o->topic_state = tt[0].may_create ? TW_TOPIC_CREATE_FAILED : TW_TOPIC_NOT_FOUND;
		o->kafka_error = tt[0].error;
		break;
	default:
		o->topic_state = tt[0].rc == TOPICS_EAUTH  ? TW_TOPIC_AUTH_FAILED
		                 : tt[0].rc == TOPICS_ETLS ? TW_TOPIC_TLS_FAILED
		                                           : TW_TOPIC_UNAVAILABLE;
		o->kafka_error = tt[0].error;
		break;
	}
	if (n == 2 && tt[1].state != TOPIC_STATE_FOUND)
		o->dlq_error = tt[1].error[0] != '\0' ? tt[1].error : "not created";
	return 0;
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
	if (ts->sinks.postgres.enabled && ts->sinks.postgres.tls_ca.name != NULL)
		out[n++] = (struct children_secret){ts->sinks.postgres.tls_ca.name,
		                                    ts->sinks.postgres.tls_ca.key};
	if (ts->sinks.redis.enabled && ts->sinks.redis.password.name != NULL)
		out[n++] = (struct children_secret){ts->sinks.redis.password.name,
		                                    ts->sinks.redis.password.key};
	n += children_kafka_secrets(&ts->kafka, out + n);
	return n;
}

/* ConfigMap and Deployment. Returns 0, or a KUBE_E* code with the reason in
 * err; *dep_out is the Deployment as stored. */
static int apply_children(const struct reconcile_ctx *ctx, const struct tw_read *rd,
                          const char *config_text, cJSON **dep_out, char *err, size_t err_size)
{
	const cJSON *obj = rd->obj;
	const cJSON *workers = reconcile_path(obj, "spec", "workers");
	char hash[32];
	struct children_secret secrets[4 + SPEC_KAFKA_SECRET_REFS_MAX];
	cJSON *cm = children_configmap(obj, KIND_LABEL, config_text);
	struct kube_ref cm_ref = {"", "v1", "configmaps", rd->res.ns, NULL, NULL};
	int rc = KUBE_ENOMEM;

	err[0] = '\0';
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
	    .n_secrets = secrets_of(&rd->ts, secrets),
	    .replicas = -1,
	    .defaults = &ctx->defaults,
	};
	if (cm != NULL) {
		cm_ref.name = reconcile_meta(cm, "name");
		rc = reconcile_apply(ctx, &cm_ref, cm, NULL, err, err_size);
		if (rc == 0)
			rc = reconcile_workers(ctx, &w, rd->ts.workers.min_replicas, dep_out, err,
			                       err_size);
	}
	if (rc != 0 && err[0] == '\0')
		snprintf(err, err_size, "%s", kube_strerror(rc));
	cJSON_Delete(cm);
	return rc;
}

/* The status of the plan, and its Event once written. Returns 1 when
 * written, 0 when it already read so, or a KUBE_E* code. */
static int apply_status(const struct reconcile_ctx *ctx, const cJSON *obj, struct tw_observed *o)
{
	struct tw_plan plan;
	char now[32];
	int rc;

	o->now = conditions_now(now, sizeof(now));
	if (tw_plan_status(o, &plan) != 0)
		return KUBE_ENOMEM;
	rc = reconcile_write_status_events(ctx, RECONCILE_TW_PLURAL, obj, plan.status, &plan.event,
	                                   plan.emit ? 1 : 0);
	cJSON_Delete(plan.status);
	return rc;
}

/* ---------------------------------------------------------------- pass */

/* What every status starts from: the resource's generation and conditions. */
static struct tw_observed observed_of(const struct tw_read *rd)
{
	return (struct tw_observed){
	    .generation = reconcile_generation(rd->obj),
	    .old_conditions = reconcile_path(rd->obj, "status", "conditions"),
	};
}

/* The resource can run: finalizer, topics, children, then the status. */
static int run(const struct reconcile_ctx *ctx, const struct tw_read *rd, const struct tw_begin *b)
{
	const struct tw_spec *ts = &rd->ts;
	struct tw_observed o = observed_of(rd);
	char topics_err[512], apply_err[1024];
	struct reconcile_topic tt[2];
	cJSON *dep = NULL, *pods = NULL;
	char *config_text = NULL;
	struct workers_health health;
	struct tw_progress progress;
	int rc = RECONCILE_POLL;

	if (b->add_finalizer && reconcile_set_finalizer(ctx, RECONCILE_TW_PLURAL, rd->obj, 1) != 0)
		return RECONCILE_ERROR;

	o.topic = ts->kafka.topic;
	o.bootstrap = ts->kafka.bootstrap;
	o.dead_letter_topic = ts->kafka.dead_letter_topic;
	if (apply_topics(ctx, rd, tt, &o, topics_err, sizeof(topics_err)) != 0) {
		log_warn("topics not made", "namespace", rd->res.ns, "name", rd->res.name, "error",
		         topics_err, NULL);
		return RECONCILE_ERROR;
	}

	config_text = children_config_json(rd->res.name, rd->res.ns, rd->eff);
	if (config_text == NULL)
		return RECONCILE_ERROR;
	if (apply_children(ctx, rd, config_text, &dep, apply_err, sizeof(apply_err)) != 0) {
		o.apply_error = apply_err;
		rc = RECONCILE_ERROR;
	}
	pods = reconcile_worker_pods(ctx, rd->obj, KIND_LABEL, MODE, dep);
	workers_health_judge(dep, pods, time(NULL), &health);
	o.have_deployment = dep != NULL;
	o.ready_replicas = reconcile_int(dep, "status", "readyReplicas");
	o.health = &health;
	if (observe_progress(ctx, rd->res.ns, rd->res.name, &progress) == 0)
		o.progress = &progress;

	int written = apply_status(ctx, rd->obj, &o);
	if (written < 0)
		rc = RECONCILE_ERROR;
	else if (rc == RECONCILE_POLL && written == 0 && o.topic_state == TW_TOPIC_FOUND &&
	         o.dlq_error == NULL && workers_health_stopped(dep))
		/* Idle and well: no worker runs, so no progress can move until
		 * the autoscaler scales the Deployment, whose change brings the
		 * next pass. Polling 2,000 idle resources would be the
		 * operator's whole cost at rest. Trouble (a missing topic) is
		 * still polled: its repair makes no Kubernetes event. */
		rc = RECONCILE_OK;
	free(config_text);
	cJSON_Delete(pods);
	cJSON_Delete(dep);
	return rc;
}

int reconcile_tw(const struct reconcile_ctx *ctx, const char *ns, const char *name)
{
	struct tw_read rd;
	struct tw_begin b;
	int rc;

	if (observe_resource(ctx, ns, name, &rd) != 0)
		return RECONCILE_OK; /* gone: the garbage collector removes the children */
	struct tw_observed o = observed_of(&rd);
	tw_plan_begin(&rd.res, &b);
	switch (b.step) {
	case TW_STEP_FINALIZE:
		rc = finalize(ctx, &rd);
		break;
	case TW_STEP_REPORT:
		/* Nothing to retry until the resource changes. */
		o.invalid_reason = b.reason;
		o.invalid_message = b.message;
		rc = apply_status(ctx, rd.obj, &o) < 0 ? RECONCILE_ERROR : RECONCILE_OK;
		break;
	case TW_STEP_RUN:
		rc = run(ctx, &rd, &b);
		break;
	case TW_STEP_RETRY:
	default:
		rc = RECONCILE_ERROR;
		break;
	}
	read_free(&rd);
	return rc;
}
