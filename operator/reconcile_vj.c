/* reconcile_vj.c - see reconcile_vj.h. */
#include "reconcile_vj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "conditions.h"
#include "events.h"
#include "log.h"
#include "redis_keys.h"
#include "vj_progress.h"
#include "vj_spec.h"
#include "workers_health.h"

#define KIND_LABEL "videojob"
#define JOB_BACKOFF_LIMIT 2

const char *reconcile_vj_progress(long long done, long long total, char *buf, size_t size)
{
	long long pct = total > 0 ? done * 100 / total : 0;
	if (pct > 100)
		pct = 100;
	if (pct < 0)
		pct = 0;
	snprintf(buf, size, "%lld%%", pct);
	return buf;
}

const char *reconcile_vj_phase(const struct vj_state *st, const char **reason, char *msg,
                               size_t msg_size)
{
	msg[0] = '\0';
	*reason = "";
	if (st->failed != NULL && st->failed[0] != '\0') {
		*reason = "JobFailed";
		snprintf(msg, msg_size, "%s", st->failed);
		return "Failed";
	}
	if (st->split_job_failed && !st->split_done) {
		*reason = "SplitFailed";
		snprintf(msg, msg_size, "the split Job failed");
		return "Failed";
	}
	if (st->assemble_job_failed && !st->assembled) {
		*reason = "AssembleFailed";
		snprintf(msg, msg_size, "the assemble Job failed");
		return "Failed";
	}
	if (st->assembled) {
		*reason = "Succeeded";
		snprintf(msg, msg_size, "%lld segments processed and assembled",
		         st->segments_total);
		return "Succeeded";
	}
	if (!st->split_done) {
		*reason = "Splitting";
		snprintf(msg, msg_size, "probing the source and publishing segment tasks");
		return "Splitting";
	}
	if (st->segments_failed > 0 &&
	    st->segments_done + st->segments_failed >= st->segments_total) {
		*reason = "SegmentsFailed";
		snprintf(msg, msg_size, "%lld of %lld segments failed after every attempt",
		         st->segments_failed, st->segments_total);
		return "Failed";
	}
	if (st->segments_done < st->segments_total) {
		*reason = "Processing";
		snprintf(msg, msg_size, "%lld of %lld segments done", st->segments_done,
		         st->segments_total);
		return "Processing";
	}
	*reason = "Assembling";
	snprintf(msg, msg_size, "all %lld segments done: assembling the output",
	         st->segments_total);
	return "Assembling";
}

static int terminal(const char *phase)
{
	return phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
	return cJSON_GetStringValue(reconcile_path(obj, a, b));
}

static int int_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *v = reconcile_path(obj, a, b);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* A Job's outcome: 1 succeeded, -1 failed, 0 running. */
static int job_outcome(const cJSON *job)
{
	const cJSON *c;
	if (int_at(job, "status", "succeeded") > 0)
		return 1;
	cJSON_ArrayForEach(c, reconcile_path(job, "status", "conditions"))
	{
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
		if (t != NULL && s != NULL && strcmp(t, "Failed") == 0 && strcmp(s, "True") == 0)
			return -1;
	}
	return 0;
}

static void delete_child(const struct reconcile_ctx *ctx, const char *resource_group,
                         const char *resource, const char *ns, const char *name)
{
	struct kube_ref ref = {resource_group, "v1", resource, ns, name, NULL};
	struct kube_delete_opts o = {.propagation_policy = "Background",
	                             .grace_period_seconds = -1};
	struct kube_error err;
	char msg[600];
	int rc = kube_client_delete(ctx->kube, &ref, &o, NULL, &err);
	if (rc != 0 && rc != KUBE_ENOTFOUND)
		log_warn("delete failed", "resource", resource, "namespace", ns, "name", name,
		         "error", kube_error_format(&err, msg, sizeof(msg)), NULL);
}

/* The Secret references of the spec, for the pods' env. */
static size_t secrets_of(const struct vj_spec *vs, struct children_secret *out)
{
	size_t n = 0;
	if (vs->sinks.postgres.enabled && vs->sinks.postgres.dsn.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.postgres.dsn.name,
		                                    vs->sinks.postgres.dsn.key};
	if (vs->sinks.redis.enabled && vs->sinks.redis.password.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.redis.password.name,
		                                    vs->sinks.redis.password.key};
	if (vs->sinks.influxdb.enabled && vs->sinks.influxdb.token.name != NULL)
		out[n++] = (struct children_secret){vs->sinks.influxdb.token.name,
		                                    vs->sinks.influxdb.token.key};
	return n;
}

/* The status Redis: the operator's, else the spec's. */
static const char *status_redis(const struct reconcile_ctx *ctx, const struct vj_spec *vs)
{
	if (ctx->defaults.redis_addr != NULL && ctx->defaults.redis_addr[0] != '\0')
		return ctx->defaults.redis_addr;
	return vs != NULL && vs->sinks.redis.enabled ? vs->sinks.redis.addr : NULL;
}

static int finalize(const struct reconcile_ctx *ctx, const cJSON *obj, const char *ns,
                    const char *name)
{
	char err[512] = "", note[1024], prefix[600];
	struct vj_spec vs;
	int parsed = 0, failed = 0;
	long long n = 0;

	if (!reconcile_has_finalizer(obj))
		return RECONCILE_OK;
	memset(&vs, 0, sizeof(vs));
	cJSON *eff = children_vj_effective_spec(reconcile_path(obj, "spec", NULL), &ctx->defaults);
	if (eff != NULL && vj_spec_parse(eff, name, ns, &vs, err, sizeof(err)) == 0)
		parsed = 1;
	cJSON_Delete(eff);
	if (parsed) {
		/* The task topics are the job's own. */
		const char *topics[] = {vs.kafka.topic, vs.kafka.dead_letter_topic};
		for (size_t i = 0; i < 2 && !failed; i++)
			if (topics_delete(ctx->topics, vs.kafka.bootstrap, topics[i],
			                  ctx->kafka_timeout_ms, err, sizeof(err)) != TOPICS_OK)
				failed = 1;
	}
	const char *addr = status_redis(ctx, parsed ? &vs : NULL);
	if (!failed && addr != NULL) {
		snprintf(prefix, sizeof(prefix), "sluice:vj:%s:%s:", ns, name);
		if (redis_keys_delete_prefix(addr, prefix, ctx->redis_timeout_ms, &n, err,
		                             sizeof(err)) != 0)
			failed = 1;
	}
	if (parsed)
		vj_spec_free(&vs);
	if (failed) {
		snprintf(note, sizeof(note), "cleanup failed, will retry: %s", err);
		events_emit(ctx->kube, obj, EVENTS_WARNING, "CleanupFailed", note, "Delete",
		            ctx->instance);
		return RECONCILE_ERROR;
	}
	if (reconcile_set_finalizer(ctx, RECONCILE_VJ_PLURAL, obj, 0) != 0)
		return RECONCILE_ERROR;
	snprintf(note, sizeof(note), "deleted the task topics and %lld Redis keys", n);
	events_emit(ctx->kube, obj, EVENTS_NORMAL, "CleanedUp", note, "Delete", ctx->instance);
	return RECONCILE_OK;
}

/* Everything one pass found, for the status. */
struct vj_pass {
	const cJSON *obj;
	const cJSON *old_status;
	long long generation;
	const char *phase, *reason;
	/* Pods that cannot run (workers_health.h): Ready False with their
	 * reason while the phase goes on; NULL when none. */
	const char *workers_reason;
	char workers_reason_buf[64]; /* outlives the pods it came from */
	char workers_msg[1280];
	char msg[1280];
	int ready; /* infrastructure fine (spec, topic, children) */
	struct vj_progress prog;
	int have_progress;
	int replicas;
	const char *topic;
};

static int write_status(const struct reconcile_ctx *ctx, struct vj_pass *p)
{
	const cJSON *old_conds = reconcile_path(p->old_status, "conditions", NULL);
	const char *old_phase = cJSON_GetStringValue(reconcile_path(p->old_status, "phase", NULL));
	const char *start = cJSON_GetStringValue(reconcile_path(p->old_status, "startTime", NULL));
	const char *done =
	    cJSON_GetStringValue(reconcile_path(p->old_status, "completionTime", NULL));
	char now[32], pct[8];
	cJSON *st = cJSON_CreateObject(), *conds;
	int succeeded = strcmp(p->phase, "Succeeded") == 0,
	    failed = strcmp(p->phase, "Failed") == 0;
	int rc;

	conditions_now(now, sizeof(now));
	if (st == NULL || cJSON_AddStringToObject(st, "phase", p->phase) == NULL ||
	    cJSON_AddNumberToObject(st, "observedGeneration", (double)p->generation) == NULL ||
	    (conds = cJSON_AddArrayToObject(st, "conditions")) == NULL)
		goto nomem;
	if (p->have_progress) {
		reconcile_vj_progress(p->prog.segments_done, p->prog.segments_total, pct,
		                      sizeof(pct));
		if (cJSON_AddStringToObject(st, "progress", succeeded ? "100%" : pct) == NULL ||
		    cJSON_AddNumberToObject(st, "segmentsTotal", (double)p->prog.segments_total) ==
		        NULL ||
		    cJSON_AddNumberToObject(st, "segmentsDone", (double)p->prog.segments_done) ==
		        NULL ||
		    cJSON_AddNumberToObject(st, "framesTotal", (double)p->prog.frames_total) ==
		        NULL ||
		    cJSON_AddNumberToObject(st, "framesDone", (double)p->prog.frames_done) == NULL)
			goto nomem;
	}
	if (p->topic != NULL && cJSON_AddStringToObject(st, "topic", p->topic) == NULL)
		goto nomem;
	if (cJSON_AddNumberToObject(st, "replicas", p->replicas) == NULL ||
	    cJSON_AddStringToObject(st, "startTime", start != NULL ? start : now) == NULL)
		goto nomem;
	if ((succeeded || failed) &&
	    cJSON_AddStringToObject(st, "completionTime", done != NULL ? done : now) == NULL)
		goto nomem;
	const char *ready_reason = p->workers_reason != NULL ? p->workers_reason : p->reason;
	const char *ready_msg = p->workers_reason != NULL ? p->workers_msg : p->msg;
	int ready_changed = strcmp(conditions_reason(old_conds, "Ready"), ready_reason) != 0;
	if (conditions_add(conds, old_conds, "Ready",
	                   p->ready && p->workers_reason == NULL ? "True" : "False", ready_reason,
	                   ready_msg, p->generation, now) != 0 ||
	    conditions_add(conds, old_conds, "Complete", succeeded ? "True" : "False",
	                   succeeded ? "Succeeded" : p->phase, succeeded ? p->msg : "",
	                   p->generation, now) != 0 ||
	    conditions_add(conds, old_conds, "Failed", failed ? "True" : "False",
	                   failed ? p->reason : "NotFailed", failed ? p->msg : "", p->generation,
	                   now) != 0)
		goto nomem;

	/* An Event per phase (and per change of the reason), once written;
	 * one more when the workers' trouble starts or changes. */
	rc = reconcile_write_status(ctx, RECONCILE_VJ_PLURAL, p->obj, st);
	if (rc == 1 && (old_phase == NULL || strcmp(old_phase, p->phase) != 0 ||
	                (ready_changed && p->workers_reason == NULL)))
		events_emit(ctx->kube, p->obj, failed || !p->ready ? EVENTS_WARNING : EVENTS_NORMAL,
		            p->reason, p->msg, "Reconcile", ctx->instance);
	if (rc == 1 && ready_changed && p->workers_reason != NULL)
		events_emit(ctx->kube, p->obj, EVENTS_WARNING, p->workers_reason, p->workers_msg,
		            "Reconcile", ctx->instance);
	if (rc > 0)
		rc = 0;
	cJSON_Delete(st);
	return rc;
nomem:
	cJSON_Delete(st);
	return KUBE_ENOMEM;
}

static void set_not_ready(struct vj_pass *p, const char *phase, const char *reason, const char *msg)
{
	p->ready = 0;
	p->phase = phase;
	p->reason = reason;
	snprintf(p->msg, sizeof(p->msg), "%s", msg);
}

/* The progress the workers recorded; 0 when read. */
static int read_progress(const struct reconcile_ctx *ctx, const struct vj_spec *vs, const char *ns,
                         const char *name, struct vj_progress *out)
{
	char err[256];
	const char *addr = status_redis(ctx, vs);
	redisContext *c;
	int rc;

	if (addr == NULL)
		return -1;
	c = vj_progress_connect(addr, NULL, ctx->redis_timeout_ms, err, sizeof(err));
	if (c == NULL) {
		log_debug("status Redis unavailable", "addr", addr, "error", err, NULL);
		return -1;
	}
	rc = vj_progress_read(c, ns, name, out, err, sizeof(err));
	if (rc != 0)
		log_debug("progress not read", "namespace", ns, "name", name, "error", err, NULL);
	redisFree(c);
	return rc;
}

/*
 * What the split and assemble Jobs' pods say: one that cannot run while
 * its Job should (a missing claim, an image the node lacks, admission)
 * turns Ready False with the pod's reason; a failed Job's message gets the
 * worker's last log line (its termination message), which is there even
 * when the worker could not reach the status Redis.
 */
static void explain_jobs(const struct reconcile_ctx *ctx, const cJSON *obj,
                         const struct vj_state *st, struct vj_pass *p)
{
	const char *mode = NULL;
	int failed = 0;

	if (strcmp(p->phase, "Splitting") == 0 && !st->split_job_done)
		mode = "split";
	else if (strcmp(p->phase, "Assembling") == 0)
		mode = "assemble";
	else if (strcmp(p->reason, "SplitFailed") == 0 ||
	         strcmp(p->reason, "AssembleFailed") == 0) {
		mode = p->reason[0] == 'S' ? "split" : "assemble";
		failed = 1;
	}
	if (mode == NULL)
		return;
	cJSON *pods = reconcile_pods(ctx, obj, KIND_LABEL, mode);
	struct workers_health h;
	char last[512];

	if (failed && workers_health_exit_message(pods, last, sizeof(last))) {
		size_t n = strlen(p->msg);
		snprintf(p->msg + n, sizeof(p->msg) - n, ": %s", last);
	} else if (!failed && workers_health_pods(pods, time(NULL), &h)) {
		snprintf(p->workers_reason_buf, sizeof(p->workers_reason_buf), "%s", h.reason);
		p->workers_reason = p->workers_reason_buf;
		snprintf(p->workers_msg, sizeof(p->workers_msg), "the %s Job: %s", mode, h.message);
	}
	cJSON_Delete(pods);
}

int reconcile_vj(const struct reconcile_ctx *ctx, const char *ns, const char *name)
{
	char key[REFLECTOR_KEY_MAX], err[1024], hash[32], note[1200];
	cJSON *obj = NULL, *eff = NULL, *cm = NULL, *split = NULL, *asm_job = NULL, *dep = NULL,
	      *body = NULL;
	char *config_text = NULL;
	struct vj_spec vs;
	int parsed = 0, rc = RECONCILE_POLL, created;

	memset(&vs, 0, sizeof(vs));
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (reflector_store_get(ctx->vj_store, key, &obj) != 0)
		return RECONCILE_OK;
	if (reconcile_path(obj, "metadata", "deletionTimestamp") != NULL) {
		rc = finalize(ctx, obj, ns, name);
		cJSON_Delete(obj);
		return rc;
	}
	struct vj_pass p = {
	    .obj = obj,
	    .old_status = reconcile_path(obj, "status", NULL),
	    .generation = reconcile_generation(obj),
	    .phase = "Pending",
	    .reason = "Pending",
	    .ready = 1,
	};
	const char *old_phase = str_at(obj, "status", "phase");
	if (terminal(old_phase) && int_at(obj, "status", "observedGeneration") == p.generation) {
		/* Finished: make sure the workers are gone, touch nothing else. */
		char *dn = children_name(obj, "process");
		if (dn != NULL)
			delete_child(ctx, "apps", "deployments", ns, dn);
		free(dn);
		cJSON_Delete(obj);
		return RECONCILE_OK;
	}
	if (!children_name_ok(name)) {
		set_not_ready(&p, "Failed", "InvalidName",
		              "the name must be at most 63 characters (it is a label value)");
		rc = RECONCILE_OK;
		goto status;
	}
	eff = children_vj_effective_spec(reconcile_path(obj, "spec", NULL), &ctx->defaults);
	if (eff == NULL) {
		rc = RECONCILE_ERROR;
		goto done;
	}
	if (vj_spec_parse(eff, name, ns, &vs, err, sizeof(err)) != 0) {
		set_not_ready(&p, "Failed", "InvalidSpec", err);
		rc = RECONCILE_OK;
		goto status;
	}
	parsed = 1;
	p.topic = vs.kafka.topic;
	if (reconcile_set_finalizer(ctx, RECONCILE_VJ_PLURAL, obj, 1) != 0) {
		rc = RECONCILE_ERROR;
		goto done;
	}

	/* The task topic, one partition per possible replica, and its DLQ. */
	if (topics_create(ctx->topics, vs.kafka.bootstrap, vs.kafka.topic, vs.workers.max_replicas,
	                  -1, ctx->kafka_timeout_ms, err, sizeof(err)) != TOPICS_OK ||
	    topics_create(ctx->topics, vs.kafka.bootstrap, vs.kafka.dead_letter_topic,
	                  vs.workers.max_replicas, -1, ctx->kafka_timeout_ms, err,
	                  sizeof(err)) != TOPICS_OK) {
		snprintf(note, sizeof(note), "Kafka at %s: %s", vs.kafka.bootstrap, err);
		set_not_ready(&p, old_phase != NULL ? old_phase : "Pending", "KafkaUnavailable",
		              note);
		goto status;
	}

	config_text = children_config_json(name, ns, eff);
	cm = config_text != NULL ? children_configmap(obj, KIND_LABEL, config_text) : NULL;
	if (cm == NULL) {
		rc = RECONCILE_ERROR;
		goto done;
	}
	struct kube_ref cm_ref = {"", "v1", "configmaps", ns, reconcile_meta(cm, "name"), NULL};
	if (reconcile_apply(ctx, &cm_ref, cm, NULL, err, sizeof(err)) != 0) {
		set_not_ready(&p, old_phase != NULL ? old_phase : "Pending", "ApplyFailed", err);
		rc = RECONCILE_ERROR;
		goto status;
	}

	struct children_secret secrets[4];
	children_config_hash(config_text, hash, sizeof(hash));
	struct children_workload w = {
	    .owner = obj,
	    .kind_label = KIND_LABEL,
	    .config_hash = hash,
	    .image = vs.workers.image,
	    .pull_policy = vs.workers.image_pull_policy,
	    .resources = vs.workers.resources,
	    .workers = cJSON_GetObjectItemCaseSensitive(eff, "workers"),
	    .volume = cJSON_GetObjectItemCaseSensitive(eff, "volume"),
	    .secrets = secrets,
	    .n_secrets = secrets_of(&vs, secrets),
	    .replicas = -1,
	    .defaults = &ctx->defaults,
	};
	struct kube_ref jobs = {"batch", "v1", "jobs", ns, NULL, NULL};

	/* 1. split, once. */
	w.mode = "split";
	body = children_job(&w, JOB_BACKOFF_LIMIT);
	if (body == NULL) {
		set_not_ready(&p, "Pending", "ApplyFailed", "no worker image: set --worker-image");
		goto status;
	}
	if (reconcile_ensure(ctx, &jobs, body, &split, &created, err, sizeof(err)) != 0) {
		set_not_ready(&p, old_phase != NULL ? old_phase : "Pending", "ApplyFailed", err);
		rc = RECONCILE_ERROR;
		goto status;
	}
	cJSON_Delete(body);
	body = NULL;

	/* 2. where the workers are. */
	struct vj_state st = {.failed = ""};
	st.split_job_done = job_outcome(split) > 0;
	st.split_job_failed = job_outcome(split) < 0;
	if (read_progress(ctx, &vs, ns, name, &p.prog) == 0) {
		p.have_progress = 1;
		st.have_progress = 1;
		st.segments_total = p.prog.segments_total;
		st.segments_done = p.prog.segments_done;
		st.segments_failed = p.prog.segments_failed;
		st.split_done = p.prog.split_done;
		st.assembled = p.prog.assembled;
		st.failed = p.prog.failed;
	}
	char *asm_name = children_name(obj, "assemble");
	struct kube_ref asm_ref = {"batch", "v1", "jobs", ns, asm_name, NULL};
	if (asm_name != NULL && kube_client_get(ctx->kube, &asm_ref, &asm_job, NULL) == 0)
		st.assemble_job_failed = job_outcome(asm_job) < 0;
	free(asm_name);
	p.phase = reconcile_vj_phase(&st, &p.reason, p.msg, sizeof(p.msg));
	explain_jobs(ctx, obj, &st, &p);

	/* 3. the process workers while there are segments to do. */
	if (strcmp(p.phase, "Splitting") == 0 || strcmp(p.phase, "Processing") == 0) {
		/* Kept in line with the spec: a change rolls the workers. */
		w.mode = "process";
		if (reconcile_workers(ctx, &w, vs.workers.min_replicas, &dep, err, sizeof(err)) ==
		    0) {
			struct workers_health h;
			cJSON *pods = reconcile_worker_pods(ctx, obj, KIND_LABEL, "process", dep);

			p.replicas = int_at(dep, "status", "readyReplicas");
			workers_health_judge(dep, pods, time(NULL), &h);
			if (h.failing && p.workers_reason == NULL) {
				/* Still processing, but not getting anywhere (the
				 * split Job's trouble, found first, comes first). */
				snprintf(p.workers_reason_buf, sizeof(p.workers_reason_buf), "%s",
				         h.reason);
				p.workers_reason = p.workers_reason_buf;
				snprintf(p.workers_msg, sizeof(p.workers_msg), "%s", h.message);
			}
			cJSON_Delete(pods);
		} else {
			rc = RECONCILE_ERROR;
		}
	}
	/* 4. assemble once every segment is done. */
	if (strcmp(p.phase, "Assembling") == 0) {
		w.mode = "assemble";
		body = children_job(&w, JOB_BACKOFF_LIMIT);
		cJSON *tmp = NULL;
		if (body == NULL ||
		    reconcile_ensure(ctx, &jobs, body, &tmp, &created, err, sizeof(err)) != 0)
			rc = RECONCILE_ERROR;
		cJSON_Delete(tmp);
		cJSON_Delete(body);
		body = NULL;
	}
	/* 5. finished: the workers go away (the Jobs stay, for their logs). */
	if (terminal(p.phase)) {
		char *dn = children_name(obj, "process");
		if (dn != NULL)
			delete_child(ctx, "apps", "deployments", ns, dn);
		free(dn);
		p.replicas = 0;
		rc = RECONCILE_OK;
	}
status:
	if (write_status(ctx, &p) != 0)
		rc = RECONCILE_ERROR;
done:
	if (parsed)
		vj_spec_free(&vs);
	free(config_text);
	cJSON_Delete(body);
	cJSON_Delete(dep);
	cJSON_Delete(asm_job);
	cJSON_Delete(split);
	cJSON_Delete(cm);
	cJSON_Delete(eff);
	cJSON_Delete(obj);
	return rc;
}
