/* reconcile_vj.c - the VideoJob reconciler's reads and writes around its
 * pure plan (reconcile_vj_plan.h); see reconcile_vj.h. */
#include "reconcile_vj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conditions.h"
#include "events.h"
#include "kafka_security.h"
#include "log.h"
#include "reconcile_topics.h"
#include "reconcile_vj_purge.h"
#include "vj_progress.h"
#include "vj_spec.h"
#include "workers_health.h"

#define KIND_LABEL "videojob"
#define JOB_BACKOFF_LIMIT 2
/* GET /api/v1/nodes a page at a time, so a large cluster's list is never
 * held whole; Kubernetes' own limit is 5000 nodes. */
#define NODES_PAGE 500
#define NODES_PAGES_MAX 100
/* apply_job: no worker image to run the Job with (KUBE_E* codes are < 0). */
#define JOB_NO_IMAGE 1

_Static_assert((int)VJ_PLAN_OK == (int)RECONCILE_OK && (int)VJ_PLAN_POLL == (int)RECONCILE_POLL &&
                   (int)VJ_PLAN_ERROR == (int)RECONCILE_ERROR,
               "the plan's results are the work queue's");

/* ------------------------------------------------------------ observe */

/* The resource as the cache has it, and its effective spec parsed. */
struct vj_read {
	cJSON *obj, *eff;
	struct vj_spec vs;
	int parsed;
	char spec_error[1024];
	struct topic_owned owned;
	struct vj_resource res;
};

/* The status Redis: the operator's, else the spec's. */
static const char *status_redis(const struct reconcile_ctx *ctx, const struct vj_spec *vs)
{
	if (ctx->defaults.redis_addr != NULL && ctx->defaults.redis_addr[0] != '\0')
		return ctx->defaults.redis_addr;
	return vs != NULL && vs->sinks.redis.enabled ? vs->sinks.redis.addr : NULL;
}

/* Reads ns/name from the cache into *rd. Returns 0, or -1 when it is gone. */
static int observe_resource(const struct reconcile_ctx *ctx, const char *ns, const char *name,
                            struct vj_read *rd)
{
	char key[REFLECTOR_KEY_MAX];
	struct vj_resource *r = &rd->res;

	memset(rd, 0, sizeof(*rd));
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (reflector_store_get(ctx->vj_store, key, &rd->obj) != 0)
		return -1;
	r->ns = ns;
	r->name = name;
	r->deleting = reconcile_path(rd->obj, "metadata", "deletionTimestamp") != NULL;
	r->has_finalizer = reconcile_has_finalizer(rd->obj);
	r->old_phase = cJSON_GetStringValue(reconcile_path(rd->obj, "status", "phase"));
	r->generation = reconcile_generation(rd->obj);
	r->observed_generation = reconcile_int(rd->obj, "status", "observedGeneration");
	r->name_ok = children_name_ok(name);
	topic_plan_owned(reconcile_path(rd->obj, "status", NULL), &rd->owned);
	r->owned_topics = &rd->owned;
	r->topics_recorded = topic_plan_recorded(reconcile_path(rd->obj, "status", NULL));
	rd->eff = children_vj_effective_spec(reconcile_path(rd->obj, "spec", NULL), &ctx->defaults);
	if (rd->eff == NULL) {
		r->spec = VJ_PLAN_SPEC_NOMEM;
	} else if (vj_spec_parse(rd->eff, name, ns, &rd->vs, rd->spec_error,
	                         sizeof(rd->spec_error)) != 0) {
		r->spec = VJ_PLAN_SPEC_INVALID;
		r->spec_error = rd->spec_error;
	} else {
		rd->parsed = 1;
		r->spec = VJ_PLAN_SPEC_OK;
		r->bootstrap = rd->vs.kafka.bootstrap;
		r->topic = rd->vs.kafka.topic;
		r->dead_letter_topic = rd->vs.kafka.dead_letter_topic;
	}
	r->status_redis = status_redis(ctx, rd->parsed ? &rd->vs : NULL);
	return 0;
}

static void read_free(struct vj_read *rd)
{
	if (rd->parsed)
		vj_spec_free(&rd->vs);
	cJSON_Delete(rd->eff);
	cJSON_Delete(rd->obj);
}

struct progress_read {
	const char *ns, *name;
	struct vj_progress *out;
};

static int read_progress_on(redisContext *c, const char *addr, void *arg, char *errbuf,
                            size_t errbuf_size)
{
	struct progress_read *pr = arg;
	(void)addr;
	return vj_progress_read(c, pr->ns, pr->name, pr->out, errbuf, errbuf_size);
}

/* The progress the workers recorded, on the kept connection to the status
 * Redis; 0 when read (else only logged). */
static int observe_progress(const struct reconcile_ctx *ctx, const struct vj_read *rd,
                            struct vj_progress *out)
{
	struct progress_read pr = {rd->res.ns, rd->res.name, out};
	const char *addr = rd->res.status_redis;
	char err[512];

	if (addr == NULL)
		return -1;
	if (redis_pool_run(ctx->redis, addr, read_progress_on, &pr, err, sizeof(err)) != 0) {
		log_debug("progress not read", "namespace", rd->res.ns, "name", rd->res.name,
		          "error", err, NULL);
		return -1;
	}
	return 0;
}

/* The assemble Job's outcome (vj_plan_job_outcome); 0 when there is none. */
static int observe_assemble_job(const struct reconcile_ctx *ctx, const cJSON *obj)
{
	char *asm_name = children_name(obj, "assemble");
	struct kube_ref ref = {"batch",  "v1", "jobs", reconcile_meta(obj, "namespace"),
	                       asm_name, NULL};
	cJSON *job = NULL;
	int outcome = 0;

	if (asm_name != NULL && kube_client_get(ctx->kube, &ref, &job, NULL) == 0)
		outcome = vj_plan_job_outcome(job);
	cJSON_Delete(job);
	free(asm_name);
	return outcome;
}

/* The cluster's nodes counted for vj_plan_gpu (an NVENC job about to run),
 * page by page; the count stops at the first page with a GPU, since one is
 * enough. Once per pass of such a job, no cache: each pass sees the nodes
 * as they are then (a pass is rare: changes and resyncs). Returns 0, or -1
 * when the nodes could not be read (logged; RBAC without get/list on
 * nodes, the API server away). */
static int observe_gpu_nodes(const struct reconcile_ctx *ctx, const struct vj_read *rd,
                             struct vj_gpu_nodes *out)
{
	struct kube_ref nodes = {"", "v1", "nodes", NULL, NULL, NULL};
	const char *cont = NULL;
	cJSON *page = NULL;
	struct kube_error err;
	char msg[600];

	for (int i = 0; i < NODES_PAGES_MAX; i++) {
		struct kube_list_opts o = {.limit = NODES_PAGE, .continue_token = cont};
		cJSON *next = NULL;
		int rc = kube_client_list(ctx->kube, &nodes, &o, &next, &err);

		cJSON_Delete(page); /* cont pointed into it */
		page = next;
		if (rc != 0) {
			log_warn("nodes not listed: the GPU check is skipped", "namespace",
			         rd->res.ns, "name", rd->res.name, "error",
			         kube_error_format(&err, msg, sizeof(msg)), NULL);
			return -1;
		}
		if (vj_plan_gpu_nodes_add(page, out) != 0)
			break;
		cont = cJSON_GetStringValue(reconcile_path(page, "metadata", "continue"));
		if (out->with_gpu > 0 || cont == NULL || cont[0] == '\0') {
			cJSON_Delete(page);
			return 0;
		}
	}
	cJSON_Delete(page);
	log_warn("nodes not counted: the GPU check is skipped", "namespace", rd->res.ns, "name",
	         rd->res.name, NULL);
	return -1;
}

/* What one run of a pass holds until its status is written: the health
 * judgments' reasons may point into the pods and the Deployment. */
struct vj_run {
	cJSON *split, *dep, *job_pods, *worker_pods;
	cJSON *process_resources; /* vj_plan_process_resources */
	char *config_text;
	char hash[32];
	struct children_secret secrets[4 + SPEC_KAFKA_SECRET_REFS_MAX];
	struct children_workload wl; /* the worker pods' template, mode by mode */
	struct vj_progress progress;
	struct vj_phase phase;
	struct workers_health job_health, workers;
	char exit_msg[512];
	int split_created; /* this pass made the split Job */
	/* VJ_STOP_KAFKA: the reason (topics_reason, or SecretNotFound) */
	const char *kafka_reason;
};

static void run_free(struct vj_run *w)
{
	free(w->config_text);
	cJSON_Delete(w->process_resources);
	cJSON_Delete(w->worker_pods);
	cJSON_Delete(w->job_pods);
	cJSON_Delete(w->dep);
	cJSON_Delete(w->split);
}

/* The pods of the Job the phase names (ph->explain): of a failed Job, the
 * last line one left; of a running one, one that cannot run. */
static void observe_job_pods(const struct reconcile_ctx *ctx, const cJSON *obj, struct vj_run *w,
                             struct vj_observed *o)
{
	const struct vj_phase *ph = &w->phase;

	/* A Job made by this very pass has no pod to tell of yet: the next
	 * pass (its creation's event brings one) looks (issue 19). */
	if (ph->explain == NULL || (w->split_created && strcmp(ph->explain, "split") == 0))
		return;
	w->job_pods = reconcile_pods(ctx, obj, KIND_LABEL, ph->explain);
	if (ph->explain_failed) {
		if (workers_health_exit_message(w->job_pods, w->exit_msg, sizeof(w->exit_msg)))
			o->job_exit_message = w->exit_msg;
	} else if (workers_health_pods(w->job_pods, time(NULL), &w->job_health)) {
		o->job_pods = &w->job_health;
	}
}

/* -------------------------------------------------------------- apply */

/* The process Deployment goes (a finished job's workers). */
static void remove_workers(const struct reconcile_ctx *ctx, const cJSON *obj)
{
	char *dn = children_name(obj, "process");
	if (dn != NULL)
		reconcile_delete_child(ctx, "apps", "deployments", reconcile_meta(obj, "namespace"),
		                       dn);
	free(dn);
}

/* The cleanup vj_plan_cleanup asked for, then the finalizer dropped. */
static int finalize(const struct reconcile_ctx *ctx, const struct vj_read *rd)
{
	struct vj_purge_pass purge;
	struct vj_cleanup plan;
	struct events_planned ev;
	char err[512] = "";
	long long n = 0;
	int failed = 0;

	vj_plan_cleanup(&rd->res, &plan);
	if (!plan.needed)
		return RECONCILE_OK;
	/* deleteWithJob: the rows first, by a purge Job (reconcile_vj_purge.h). */
	int purge_rc =
	    reconcile_vj_purge(ctx, rd->obj, rd->eff, rd->parsed ? &rd->vs : NULL, &purge);
	if (purge_rc != RECONCILE_OK)
		return purge_rc;
	if (plan.n_topics > 0 && rd->parsed) {
		const struct kafka_security *sec = NULL;
		struct kafka_security sec_buf;
		struct secret_lookup sl;

		if (reconcile_kafka_security(ctx, rd->res.ns, &rd->vs.kafka, &sl, &sec_buf, &sec,
		                             err, sizeof(err)) != 0)
			/* Its Secret went first (a namespace being deleted): waiting
			 * would hold the resource, and its namespace, for ever. */
			log_warn("topics left: no credentials", "namespace", rd->res.ns, "name",
			         rd->res.name, "error", err, NULL);
		else
			for (size_t i = 0; i < plan.n_topics && !failed; i++)
				if (topics_delete(ctx->topics, plan.bootstrap, sec, plan.topics[i],
				                  ctx->kafka_timeout_ms, err,
				                  sizeof(err)) != TOPICS_OK)
					failed = 1;
		secret_lookup_free(&sl);
	}
	if (!failed && plan.redis_addr != NULL &&
	    reconcile_redis_delete_prefix(ctx, plan.redis_addr, plan.redis_prefix, &n, err,
	                                  sizeof(err)) != 0)
		failed = 1;
	vj_plan_cleanup_event(failed, err, n, &ev);
	if (failed) {
		events_emit_planned(ctx->kube, rd->obj, &ev, ctx->instance);
		return RECONCILE_ERROR;
	}
	if (reconcile_set_finalizer(ctx, RECONCILE_VJ_PLURAL, rd->obj, 0) != 0)
		return RECONCILE_ERROR;
	events_emit_planned(ctx->kube, rd->obj, &ev, ctx->instance);
	reconcile_vj_purge_finish(ctx, rd->obj, &purge);
	return RECONCILE_OK;
}

/* The Secret references of the spec, for the pods' env. */
static size_t secrets_of(const struct vj_spec *vs, struct children_secret *out)
{
	size_t n = 0;
	if (vs->sinks.postgres.enabled && vs->sinks.postgres.dsn.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.postgres.dsn.name,
		                                    vs->sinks.postgres.dsn.key};
	if (vs->sinks.postgres.enabled && vs->sinks.postgres.tls_ca.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.postgres.tls_ca.name,
		                                    vs->sinks.postgres.tls_ca.key};
	if (vs->sinks.redis.enabled && vs->sinks.redis.password.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.redis.password.name,
		                                    vs->sinks.redis.password.key};
	if (vs->sinks.influxdb.enabled && vs->sinks.influxdb.token.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.influxdb.token.name,
		                                    vs->sinks.influxdb.token.key};
	n += children_kafka_secrets(&vs->kafka, out + n);
	return n;
}

/* The task topic, one partition per possible replica (grown when
 * maxReplicas grew: vj_plan_partitions), and its dead-letter topic, each
 * created when missing (reconcile_topics.h), with the operator's Kafka
 * settings for the spec (reconcile_kafka_security). Returns 0, or -1 with
 * the reason in err and its condition reason in *reason. */
static int apply_topics(const struct reconcile_ctx *ctx, const struct vj_read *rd,
                        const char **reason, char *err, size_t err_size)
{
	const struct vj_spec *vs = &rd->vs;
	struct reconcile_topic tt[2] = {
	    {.name = vs->kafka.topic,
	     .may_create = 1,
	     .partitions = vs->workers.max_replicas,
	     .replication = vs->kafka.replication_factor},
	    {.name = vs->kafka.dead_letter_topic,
	     .may_create = 1,
	     .partitions = vs->workers.max_replicas,
	     .replication = vs->kafka.replication_factor},
	};
	const struct kafka_security *sec = NULL;
	struct kafka_security sec_buf;
	struct secret_lookup sl;
	int grow, rc = -1;

	*reason = "KafkaUnavailable";
	if (reconcile_kafka_security(ctx, rd->res.ns, &vs->kafka, &sl, &sec_buf, &sec, err,
	                             err_size) != 0) {
		*reason = "SecretNotFound";
		goto out;
	}
	reconcile_topics_describe(ctx, rd->obj, vs->kafka.bootstrap, sec, tt, 2);
	if (reconcile_topics_apply(ctx, RECONCILE_VJ_PLURAL, rd->obj, vs->kafka.bootstrap, sec, tt,
	                           2, err, err_size) != 0)
		goto out;
	for (size_t i = 0; i < 2; i++)
		if (tt[i].state != TOPIC_STATE_FOUND) {
			snprintf(err, err_size, "%s",
			         tt[i].error[0] != '\0' ? tt[i].error : "not created");
			if (tt[i].rc != TOPICS_OK)
				*reason = topics_reason(tt[i].rc);
			goto out;
		}
	grow = vj_plan_partitions(tt[0].partitions_now, vs->workers.max_replicas,
	                          tt[0].owned || tt[0].created);
	if (grow > 0) {
		int g = topics_grow(ctx->topics, vs->kafka.bootstrap, sec, tt[0].name, grow,
		                    ctx->kafka_timeout_ms, err, err_size);
		if (g != TOPICS_OK) {
			*reason = topics_reason(g);
			goto out;
		}
		char parts[16];
		snprintf(parts, sizeof(parts), "%d", grow);
		log_info("topic grown", "namespace", rd->res.ns, "name", rd->res.name, "topic",
		         tt[0].name, "partitions", parts, NULL);
	}
	rc = 0;
out:
	secret_lookup_free(&sl);
	return rc;
}

/* Creates the Job of w's mode unless it exists; *out (may be NULL) is the
 * Job as stored, *created (may be NULL) whether this call made it. Returns
 * 0, JOB_NO_IMAGE, or a KUBE_E* code with the reason in err. */
static int apply_job(const struct reconcile_ctx *ctx, const struct children_workload *w,
                     cJSON **out, int *created, char *err, size_t err_size)
{
	struct kube_ref jobs = {"batch", "v1", "jobs", reconcile_meta(w->owner, "namespace"),
	                        NULL,    NULL};
	cJSON *body = children_job(w, JOB_BACKOFF_LIMIT), *tmp = NULL;
	int made = 0, rc;

	if (body == NULL)
		return JOB_NO_IMAGE;
	rc = reconcile_ensure(ctx, &jobs, body, out != NULL ? out : &tmp, &made, err, err_size);
	if (created != NULL)
		*created = made;
	cJSON_Delete(tmp);
	cJSON_Delete(body);
	return rc;
}

/* The status of the plan, and its Events once written. Returns the pass's
 * result; *written (may be NULL) says whether the status changed. */
static int apply_status(const struct reconcile_ctx *ctx, const cJSON *obj, struct vj_observed *o,
                        int *written)
{
	struct vj_plan plan;
	char now[32];
	int rc, wrote;

	if (written != NULL)
		*written = 0;
	o->now = conditions_now(now, sizeof(now));
	if (vj_plan_status(o, &plan) != 0)
		return RECONCILE_ERROR;
	wrote = reconcile_write_status_events(ctx, RECONCILE_VJ_PLURAL, obj, plan.status,
	                                      plan.events, plan.n_events);
	rc = wrote < 0 ? RECONCILE_ERROR : (int)plan.rc;
	if (written != NULL)
		*written = wrote > 0;
	cJSON_Delete(plan.status);
	return rc;
}

/* ---------------------------------------------------------------- pass */

/* The children the phase needs: the process workers (their ready replicas
 * and health into o), the assemble Job, or the workers removed. */
static void apply_phase(const struct reconcile_ctx *ctx, const struct vj_read *rd, struct vj_run *w,
                        struct vj_observed *o)
{
	struct children_workload *wl = &w->wl;
	char err[1024];

	if (w->phase.run_workers) {
		/* Kept in line with the spec: a change rolls the workers. Only
		 * they encode, so only they ask for an NVENC job's GPU. */
		const cJSON *as_written = wl->resources;

		wl->mode = "process";
		if (vj_plan_process_resources(as_written, rd->vs.encoder.codec,
		                              &w->process_resources) != 0) {
			o->workers_failed = 1;
		} else {
			wl->resources = w->process_resources;
			if (reconcile_workers(ctx, wl, rd->vs.workers.min_replicas, &w->dep, err,
			                      sizeof(err)) == 0) {
				w->worker_pods = reconcile_worker_pods(ctx, rd->obj, KIND_LABEL,
				                                       "process", w->dep);
				o->ready_replicas =
				    reconcile_int(w->dep, "status", "readyReplicas");
				workers_health_judge(w->dep, w->worker_pods, time(NULL),
				                     &w->workers);
				o->workers = &w->workers;
			} else {
				o->workers_failed = 1;
			}
			wl->resources = as_written;
		}
	}
	if (w->phase.run_assemble) {
		wl->mode = "assemble";
		o->assemble_failed = apply_job(ctx, wl, NULL, NULL, err, sizeof(err)) != 0;
	}
	if (w->phase.remove_workers)
		remove_workers(ctx, rd->obj);
}

/* What every phase needs, in order: the finalizer, the task topics, the
 * ConfigMap, the split Job (once; into w->split), and w->wl for the other
 * children. Returns VJ_STOP_NONE, the step that failed (the reason in err),
 * or -1 when there is nothing to report (the finalizer not added, out of
 * memory): an error to retry. */
static int apply_infra(const struct reconcile_ctx *ctx, const struct vj_read *rd, struct vj_run *w,
                       char *err, size_t err_size)
{
	const struct vj_spec *vs = &rd->vs;
	const cJSON *obj = rd->obj;
	const cJSON *workers = cJSON_GetObjectItemCaseSensitive(rd->eff, "workers");
	const cJSON *resources = cJSON_GetObjectItemCaseSensitive(workers, "resources");
	cJSON *cm;
	int rc;

	if (reconcile_set_finalizer(ctx, RECONCILE_VJ_PLURAL, rd->obj, 1) != 0)
		return -1;
	if (apply_topics(ctx, rd, &w->kafka_reason, err, err_size) != 0)
		return VJ_STOP_KAFKA;
	w->config_text = children_config_json(rd->res.name, rd->res.ns, rd->eff);
	cm = w->config_text != NULL ? children_configmap(obj, KIND_LABEL, w->config_text) : NULL;
	if (cm == NULL)
		return -1;
	struct kube_ref cm_ref = {"",  "v1", "configmaps", rd->res.ns, reconcile_meta(cm, "name"),
	                          NULL};
	rc = reconcile_apply(ctx, &cm_ref, cm, NULL, err, err_size);
	cJSON_Delete(cm);
	if (rc != 0)
		return VJ_STOP_CONFIG;

	children_config_hash(w->config_text, w->hash, sizeof(w->hash));
	w->wl = (struct children_workload){
	    .owner = obj,
	    .kind_label = KIND_LABEL,
	    .mode = "split",
	    .config_hash = w->hash,
	    .image = vs->workers.image,
	    .pull_policy = vs->workers.image_pull_policy,
	    /* As written: vj_spec checked the quantities. */
	    .resources = cJSON_IsObject(resources) ? resources : NULL,
	    .workers = workers,
	    .volume = cJSON_GetObjectItemCaseSensitive(rd->eff, "volume"),
	    .secrets = w->secrets,
	    .n_secrets = secrets_of(vs, w->secrets),
	    .replicas = -1,
	    .defaults = &ctx->defaults,
	};
	rc = apply_job(ctx, &w->wl, &w->split, &w->split_created, err, err_size);
	if (rc != 0)
		return rc == JOB_NO_IMAGE ? VJ_STOP_NO_IMAGE : VJ_STOP_SPLIT_JOB;
	return VJ_STOP_NONE;
}

/* What every status starts from: the resource's generation and status. */
static struct vj_observed observed_of(const struct vj_read *rd)
{
	return (struct vj_observed){
	    .generation = rd->res.generation,
	    .old_status = reconcile_path(rd->obj, "status", NULL),
	};
}

/* The job can run: what every phase needs; then where the workers are,
 * the phase, and what it needs; then the status. */
static int run(const struct reconcile_ctx *ctx, const struct vj_read *rd)
{
	struct vj_observed o = observed_of(rd);
	struct vj_run w;
	char err[1024] = "";
	int stop, rc;

	memset(&w, 0, sizeof(w));
	o.topic = rd->vs.kafka.topic;
	o.bootstrap = rd->vs.kafka.bootstrap;
	stop = apply_infra(ctx, rd, &w, err, sizeof(err));
	if (stop < 0) {
		run_free(&w);
		return RECONCILE_ERROR;
	}
	o.stop = (enum vj_stop)stop;
	o.stop_error = err;
	if (o.stop == VJ_STOP_KAFKA)
		o.stop_reason = w.kafka_reason;
	if (o.stop == VJ_STOP_NONE) {
		if (observe_progress(ctx, rd, &w.progress) == 0)
			o.progress = &w.progress;
		int asm_job = vj_plan_assemble_may_exist(rd->res.old_phase, o.progress)
		                  ? observe_assemble_job(ctx, rd->obj)
		                  : 0;

		vj_plan_phase(vj_plan_job_outcome(w.split), asm_job, o.progress, &w.phase);
		o.phase = &w.phase;
		observe_job_pods(ctx, rd->obj, &w, &o);
		apply_phase(ctx, rd, &w, &o);
	}
	int written;
	rc = apply_status(ctx, rd->obj, &o, &written);
	if (rc == RECONCILE_POLL && !written && o.stop == VJ_STOP_NONE &&
	    vj_plan_wait_for_change(w.phase.phase, w.split, w.dep))
		rc = RECONCILE_OK;
	run_free(&w);
	return rc;
}

int reconcile_vj(const struct reconcile_ctx *ctx, const char *ns, const char *name)
{
	struct vj_read rd;
	struct vj_begin b;
	char gpu_msg[VJ_PLAN_MSG_MAX];
	int rc;

	if (observe_resource(ctx, ns, name, &rd) != 0)
		return RECONCILE_OK; /* gone: the garbage collector removes the children */
	struct vj_observed o = observed_of(&rd);
	vj_plan_begin(&rd.res, &b);
	if (vj_plan_gpu_due(&rd.res, rd.vs.encoder.codec, b.step)) {
		/* Before anything is made: without a GPU anywhere the job
		 * fails now, instead of its pods waiting to be scheduled. */
		struct vj_gpu_nodes nodes = {0, 0};
		int counted = observe_gpu_nodes(ctx, &rd, &nodes) == 0;

		vj_plan_gpu(rd.vs.encoder.codec, counted ? &nodes : NULL, &b, gpu_msg,
		            sizeof(gpu_msg));
	}
	switch (b.step) {
	case VJ_STEP_FINALIZE:
		rc = finalize(ctx, &rd);
		break;
	case VJ_STEP_FINISHED:
		/* Finished: make sure the workers are gone, touch nothing else. */
		remove_workers(ctx, rd.obj);
		rc = RECONCILE_OK;
		break;
	case VJ_STEP_REPORT:
		o.stop = VJ_STOP_REPORT;
		o.stop_reason = b.reason;
		o.stop_error = b.message;
		rc = apply_status(ctx, rd.obj, &o, NULL);
		break;
	case VJ_STEP_RUN:
		rc = run(ctx, &rd);
		break;
	case VJ_STEP_RETRY:
	default:
		rc = RECONCILE_ERROR;
		break;
	}
	read_free(&rd);
	return rc;
}
