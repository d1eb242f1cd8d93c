/* reconcile_vj_plan.c - the VideoJob reconciler's decisions; see
 * reconcile_vj_plan.h. */
#include "reconcile_vj_plan.h"

#include <stdio.h>
#include <string.h>

#include "conditions.h"
#include "spec_common.h"
#include "vj_spec.h"

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

int vj_plan_terminal(const char *phase)
{
	return phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

int vj_plan_job_outcome(const cJSON *job)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(job, "status");
	const cJSON *succeeded = cJSON_GetObjectItemCaseSensitive(st, "succeeded");
	const cJSON *c;

	if (cJSON_IsNumber(succeeded) && succeeded->valueint > 0)
		return 1;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "conditions"))
	{
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
		if (t != NULL && s != NULL && strcmp(t, "Failed") == 0 && strcmp(s, "True") == 0)
			return -1;
	}
	return 0;
}

int vj_plan_assemble_may_exist(const char *old_phase, const struct vj_progress *progress)
{
	if (progress != NULL)
		return progress->split_done;
	return !(old_phase == NULL || old_phase[0] == '\0' || strcmp(old_phase, "Pending") == 0 ||
	         strcmp(old_phase, "Splitting") == 0);
}

int vj_plan_wait_for_change(const char *phase, const cJSON *split_job, const cJSON *dep)
{
	const cJSON *active = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(split_job, "status"), "active");

	return phase != NULL && strcmp(phase, "Splitting") == 0 && split_job != NULL &&
	       vj_plan_job_outcome(split_job) == 0 &&
	       !(cJSON_IsNumber(active) && active->valueint > 0) &&
	       (dep == NULL || workers_health_stopped(dep));
}

void vj_plan_begin(const struct vj_resource *r, struct vj_begin *out)
{
	memset(out, 0, sizeof(*out));
	if (r->deleting) {
		out->step = VJ_STEP_FINALIZE;
	} else if (vj_plan_terminal(r->old_phase) && r->observed_generation == r->generation) {
		out->step = VJ_STEP_FINISHED;
	} else if (!r->name_ok) {
		out->step = VJ_STEP_REPORT;
		out->reason = "InvalidName";
		out->message = "the name must be at most 63 characters (it is a label value)";
	} else if (r->spec == VJ_PLAN_SPEC_NOMEM) {
		out->step = VJ_STEP_RETRY;
	} else if (r->spec == VJ_PLAN_SPEC_INVALID) {
		out->step = VJ_STEP_REPORT;
		out->reason = "InvalidSpec";
		out->message = r->spec_error != NULL ? r->spec_error : "";
	} else {
		out->step = VJ_STEP_RUN;
	}
}

/* Whether q, a resource quantity as the API writes it ("1", "500m", "2k")
 * or a number, is above zero. A malformed one is not. */
static int quantity_positive(const cJSON *q)
{
	const char *s = cJSON_GetStringValue(q);

	if (cJSON_IsNumber(q))
		return q->valuedouble > 0;
	if (s == NULL || !spec_quantity_ok(s) || s[0] == '-')
		return 0;
	/* Above zero when the number before the suffix or exponent has a
	 * digit other than 0: no suffix scales a positive number to zero. */
	for (; *s == '+' || *s == '.' || (*s >= '0' && *s <= '9'); s++)
		if (*s >= '1' && *s <= '9')
			return 1;
	return 0;
}

int vj_plan_gpu_nodes_add(const cJSON *list, struct vj_gpu_nodes *acc)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *node;

	if (!cJSON_IsArray(items))
		return -1;
	cJSON_ArrayForEach(node, items)
	{
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(node, "status");
		const cJSON *alloc = cJSON_GetObjectItemCaseSensitive(st, "allocatable");

		acc->nodes++;
		if (quantity_positive(
		        cJSON_GetObjectItemCaseSensitive(alloc, VJ_PLAN_GPU_RESOURCE)))
			acc->with_gpu++;
	}
	return 0;
}

int vj_plan_gpu_due(const struct vj_resource *res, const char *codec, enum vj_step step)
{
	return step == VJ_STEP_RUN && vj_spec_codec_nvenc(codec) &&
	       (res->old_phase == NULL || strcmp(res->old_phase, "Pending") == 0);
}

void vj_plan_gpu(const char *codec, const struct vj_gpu_nodes *nodes, struct vj_begin *out,
                 char *msg, size_t msg_size)
{
	char where[96];

	if (out->step != VJ_STEP_RUN || !vj_spec_codec_nvenc(codec) || nodes == NULL ||
	    nodes->with_gpu > 0)
		return;
	if (nodes->nodes == 0)
		snprintf(where, sizeof(where), "the cluster has no nodes");
	else if (nodes->nodes == 1)
		snprintf(where, sizeof(where), "the cluster's one node has none");
	else
		snprintf(where, sizeof(where), "none of the cluster's %lld nodes has one",
		         nodes->nodes);
	snprintf(msg, msg_size,
	         "spec.encoder.codec %s needs a node with an NVIDIA GPU (allocatable "
	         "%s); %s. Re-create the VideoJob once a node has one",
	         codec, VJ_PLAN_GPU_RESOURCE, where);
	out->step = VJ_STEP_REPORT;
	out->reason = "NoGPU";
	out->message = msg;
}

int vj_plan_process_resources(const cJSON *resources, const char *codec, cJSON **out)
{
	cJSON *res = NULL, *limits, *v;
	const cJSON *want;

	*out = NULL;
	if (resources != NULL && (res = cJSON_Duplicate(resources, 1)) == NULL)
		return -1;
	if (!vj_spec_codec_nvenc(codec)) {
		*out = res;
		return 0;
	}
	if (res == NULL && (res = cJSON_CreateObject()) == NULL)
		return -1;
	limits = cJSON_GetObjectItemCaseSensitive(res, "limits");
	if (limits != NULL && !cJSON_IsObject(limits)) {
		/* "limits": null is an absent member (spec_read.h). */
		cJSON_DeleteItemFromObjectCaseSensitive(res, "limits");
		limits = NULL;
	}
	if (limits == NULL && (limits = cJSON_AddObjectToObject(res, "limits")) == NULL)
		goto nomem;
	if (cJSON_GetObjectItemCaseSensitive(limits, VJ_PLAN_GPU_RESOURCE) == NULL) {
		/* A request without a limit is the user's number; Kubernetes
		 * wants the two equal for an extended resource. */
		want = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(res, "requests"), VJ_PLAN_GPU_RESOURCE);
		v = want != NULL ? cJSON_Duplicate(want, 1) : cJSON_CreateString("1");
		if (v == NULL || !cJSON_AddItemToObject(limits, VJ_PLAN_GPU_RESOURCE, v)) {
			cJSON_Delete(v);
			goto nomem;
		}
	}
	*out = res;
	return 0;
nomem:
	cJSON_Delete(res);
	return -1;
}

void vj_plan_cleanup(const struct vj_resource *r, struct vj_cleanup *out)
{
	memset(out, 0, sizeof(*out));
	out->needed = r->has_finalizer;
	if (!out->needed)
		return;
	if (r->spec == VJ_PLAN_SPEC_OK && r->topics_recorded) {
		out->bootstrap = r->bootstrap;
		for (size_t i = 0; r->owned_topics != NULL && i < r->owned_topics->n; i++)
			out->topics[out->n_topics++] = r->owned_topics->name[i];
	} else if (r->spec == VJ_PLAN_SPEC_OK) {
		/* Made by an operator from before the record, which deleted
		 * the spec's task topics: so does this one. */
		out->bootstrap = r->bootstrap;
		out->topics[out->n_topics++] = r->topic;
		out->topics[out->n_topics++] = r->dead_letter_topic;
	}
	if (r->status_redis != NULL) {
		out->redis_addr = r->status_redis;
		snprintf(out->redis_prefix, sizeof(out->redis_prefix), "sluice:vj:%s:%s:", r->ns,
		         r->name);
	}
}

int vj_plan_partitions(int current, int max_replicas, int owned)
{
	return owned ? topic_plan_grow(current, max_replicas) : 0;
}

void vj_plan_cleanup_event(int failed, const char *error, long long deleted,
                           struct events_planned *out)
{
	char note[EVENTS_NOTE_MAX];

	if (failed) {
		snprintf(note, sizeof(note), "cleanup failed, will retry: %s",
		         error != NULL ? error : "");
		events_plan(out, EVENTS_WARNING, "CleanupFailed", note, "Delete");
	} else {
		snprintf(note, sizeof(note), "deleted the task topics and %lld Redis keys",
		         deleted);
		events_plan(out, EVENTS_NORMAL, "CleanedUp", note, "Delete");
	}
}

void vj_plan_phase(int split_job, int assemble_job, const struct vj_progress *progress,
                   struct vj_phase *out)
{
	struct vj_state st = {.failed = ""};

	memset(out, 0, sizeof(*out));
	st.split_job_done = split_job > 0;
	st.split_job_failed = split_job < 0;
	st.assemble_job_failed = assemble_job < 0;
	if (progress != NULL) {
		st.have_progress = 1;
		st.segments_total = progress->segments_total;
		st.segments_done = progress->segments_done;
		st.segments_failed = progress->segments_failed;
		st.split_done = progress->split_done;
		st.assembled = progress->assembled;
		st.failed = progress->failed;
	}
	out->phase = reconcile_vj_phase(&st, &out->reason, out->message, sizeof(out->message));

	/* Which Job's pods tell more: one that cannot run while its Job
	 * should (a missing claim, an image the node lacks, admission), or
	 * the last words of one that failed. */
	if (strcmp(out->phase, "Splitting") == 0 && !st.split_job_done) {
		out->explain = "split";
	} else if (strcmp(out->phase, "Assembling") == 0) {
		out->explain = "assemble";
	} else if (strcmp(out->reason, "SplitFailed") == 0 ||
	           strcmp(out->reason, "AssembleFailed") == 0) {
		out->explain = out->reason[0] == 'S' ? "split" : "assemble";
		out->explain_failed = 1;
	}
	out->run_workers =
	    strcmp(out->phase, "Splitting") == 0 || strcmp(out->phase, "Processing") == 0;
	out->run_assemble = strcmp(out->phase, "Assembling") == 0;
	out->remove_workers = vj_plan_terminal(out->phase);
}

static void stopped(struct vj_plan *p, const char *phase, const char *reason, const char *msg,
                    enum vj_plan_rc rc)
{
	p->ready = 0;
	p->phase = phase;
	p->reason = reason;
	snprintf(p->message, sizeof(p->message), "%s", msg != NULL ? msg : "");
	p->rc = rc;
}

/* Phase, reason, message, readiness, workers' trouble, replicas and result. */
static void judge(const struct vj_observed *o, struct vj_plan *p)
{
	const char *old_phase =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o->old_status, "phase"));
	const char *kept = old_phase != NULL ? old_phase : "Pending";
	const struct vj_phase *ph = o->phase;
	char note[VJ_PLAN_MSG_MAX];

	p->ready = 1;
	p->rc = VJ_PLAN_POLL;
	switch (o->stop) {
	case VJ_STOP_REPORT:
		stopped(p, "Failed", o->stop_reason, o->stop_error, VJ_PLAN_OK);
		return;
	case VJ_STOP_KAFKA:
		snprintf(note, sizeof(note), "Kafka at %s: %s", o->bootstrap,
		         o->stop_error != NULL ? o->stop_error : "");
		/* stop_reason: SecretNotFound, KafkaAuthenticationFailed,
		 * KafkaTLSFailed (operator/topics.h); NULL: KafkaUnavailable. */
		stopped(p, kept, o->stop_reason != NULL ? o->stop_reason : "KafkaUnavailable", note,
		        VJ_PLAN_POLL);
		return;
	case VJ_STOP_CONFIG:
		stopped(p, kept, "ApplyFailed", o->stop_error, VJ_PLAN_ERROR);
		return;
	case VJ_STOP_NO_IMAGE:
		stopped(p, "Pending", "ApplyFailed", "no worker image: set --worker-image",
		        VJ_PLAN_POLL);
		return;
	case VJ_STOP_SPLIT_JOB:
		stopped(p, kept, "ApplyFailed", o->stop_error, VJ_PLAN_ERROR);
		return;
	case VJ_STOP_NONE:
	default:
		break;
	}
	p->phase = ph->phase;
	p->reason = ph->reason;
	snprintf(p->message, sizeof(p->message), "%s", ph->message);
	if (ph->explain != NULL && ph->explain_failed && o->job_exit_message != NULL) {
		size_t n = strlen(p->message);
		snprintf(p->message + n, sizeof(p->message) - n, ": %s", o->job_exit_message);
	} else if (ph->explain != NULL && !ph->explain_failed && o->job_pods != NULL) {
		snprintf(p->workers_reason, sizeof(p->workers_reason), "%s", o->job_pods->reason);
		snprintf(p->workers_message, sizeof(p->workers_message), "the %s Job: %s",
		         ph->explain, o->job_pods->message);
	}
	if (ph->run_workers) {
		if (o->workers_failed) {
			p->rc = VJ_PLAN_ERROR;
		} else {
			p->replicas = o->ready_replicas;
			/* Still processing, but not getting anywhere (the split
			 * Job's trouble, found first, comes first). */
			if (o->workers != NULL && o->workers->failing &&
			    p->workers_reason[0] == '\0') {
				snprintf(p->workers_reason, sizeof(p->workers_reason), "%s",
				         o->workers->reason);
				snprintf(p->workers_message, sizeof(p->workers_message), "%s",
				         o->workers->message);
			}
		}
	}
	if (ph->run_assemble && o->assemble_failed)
		p->rc = VJ_PLAN_ERROR;
	if (ph->remove_workers) {
		p->replicas = 0;
		p->rc = VJ_PLAN_OK;
	}
}

/* The Events of the status, in order, when it is written. */
static void plan_events(const struct vj_observed *o, struct vj_plan *p)
{
	const cJSON *old_conds = cJSON_GetObjectItemCaseSensitive(o->old_status, "conditions");
	const char *old_phase =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o->old_status, "phase"));
	const int trouble = p->workers_reason[0] != '\0';
	const char *ready_reason = trouble ? p->workers_reason : p->reason;
	const int ready_changed = strcmp(conditions_reason(old_conds, "Ready"), ready_reason) != 0;
	const int failed = strcmp(p->phase, "Failed") == 0;

	p->n_events = 0;
	if (old_phase == NULL || strcmp(old_phase, p->phase) != 0 || (ready_changed && !trouble))
		events_plan(&p->events[p->n_events++],
		            failed || !p->ready ? EVENTS_WARNING : EVENTS_NORMAL, p->reason,
		            p->message, "Reconcile");
	if (ready_changed && trouble)
		events_plan(&p->events[p->n_events++], EVENTS_WARNING, p->workers_reason,
		            p->workers_message, "Reconcile");
}

static int add_progress(cJSON *st, const struct vj_progress *g, int succeeded)
{
	char pct[8];

	reconcile_vj_progress(g->segments_done, g->segments_total, pct, sizeof(pct));
	if (cJSON_AddStringToObject(st, "progress", succeeded ? "100%" : pct) == NULL ||
	    cJSON_AddNumberToObject(st, "segmentsTotal", (double)g->segments_total) == NULL ||
	    cJSON_AddNumberToObject(st, "segmentsDone", (double)g->segments_done) == NULL ||
	    cJSON_AddNumberToObject(st, "framesTotal", (double)g->frames_total) == NULL ||
	    cJSON_AddNumberToObject(st, "framesDone", (double)g->frames_done) == NULL)
		return -1;
	return 0;
}

static const char *old_str(const struct vj_observed *o, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o->old_status, field));
}

int vj_plan_status(const struct vj_observed *o, struct vj_plan *out)
{
	const cJSON *old_conds = cJSON_GetObjectItemCaseSensitive(o->old_status, "conditions");
	const char *start = old_str(o, "startTime"), *done = old_str(o, "completionTime");
	long long gen = o->generation;
	cJSON *st, *conds;

	memset(out, 0, sizeof(*out));
	judge(o, out);
	const int succeeded = strcmp(out->phase, "Succeeded") == 0,
	          failed = strcmp(out->phase, "Failed") == 0,
	          trouble = out->workers_reason[0] != '\0';

	st = cJSON_CreateObject();
	if (st == NULL || cJSON_AddStringToObject(st, "phase", out->phase) == NULL ||
	    cJSON_AddNumberToObject(st, "observedGeneration", (double)gen) == NULL ||
	    (conds = cJSON_AddArrayToObject(st, "conditions")) == NULL)
		goto nomem;
	if (o->stop == VJ_STOP_NONE && o->progress != NULL &&
	    add_progress(st, o->progress, succeeded) != 0)
		goto nomem;
	if (o->topic != NULL && cJSON_AddStringToObject(st, "topic", o->topic) == NULL)
		goto nomem;
	if (cJSON_AddNumberToObject(st, "replicas", out->replicas) == NULL ||
	    cJSON_AddStringToObject(st, "startTime", start != NULL ? start : o->now) == NULL)
		goto nomem;
	if ((succeeded || failed) &&
	    cJSON_AddStringToObject(st, "completionTime", done != NULL ? done : o->now) == NULL)
		goto nomem;
	if (conditions_add(conds, old_conds, "Ready", out->ready && !trouble ? "True" : "False",
	                   trouble ? out->workers_reason : out->reason,
	                   trouble ? out->workers_message : out->message, gen, o->now) != 0 ||
	    conditions_add(conds, old_conds, "Complete", succeeded ? "True" : "False",
	                   succeeded ? "Succeeded" : out->phase, succeeded ? out->message : "", gen,
	                   o->now) != 0 ||
	    conditions_add(conds, old_conds, "Failed", failed ? "True" : "False",
	                   failed ? out->reason : "NotFailed", failed ? out->message : "", gen,
	                   o->now) != 0)
		goto nomem;
	out->status = st;
	plan_events(o, out);
	return 0;
nomem:
	cJSON_Delete(st);
	return -1;
}
