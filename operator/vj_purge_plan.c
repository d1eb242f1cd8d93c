/* vj_purge_plan.c - see vj_purge_plan.h. */
#include "vj_purge_plan.h"

#include <stdio.h>
#include <string.h>

static void decide(struct vj_purge_decision *out, enum vj_purge_action a)
{
	out->action = a;
	out->proceed = a == VJ_PURGE_SKIP || a == VJ_PURGE_DONE || a == VJ_PURGE_GIVE_UP;
	out->poll = !out->proceed;
}

void vj_purge_decide(const struct vj_purge_observed *o, struct vj_purge_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (!o->asked) {
		decide(out, VJ_PURGE_SKIP);
	} else if (o->job_found && !o->job_ours) {
		/* An earlier VideoJob of this name left it (its deletion did
		 * not get to delete it): its outcome is not ours. */
		decide(out, o->job_deleting ? VJ_PURGE_WAIT : VJ_PURGE_DELETE_STALE);
	} else if (o->job_found && o->job_outcome > 0) {
		decide(out, VJ_PURGE_DONE);
	} else if (o->job_found && o->job_outcome < 0) {
		decide(out, VJ_PURGE_GIVE_UP);
		snprintf(out->message, sizeof(out->message), "%s%s%s",
		         o->job_reason != NULL ? o->job_reason : "Failed",
		         o->job_error != NULL && o->job_error[0] != '\0' ? ": " : "",
		         o->job_error != NULL ? o->job_error : "");
	} else if (o->job_found) {
		decide(out, VJ_PURGE_WAIT);
	} else if (!o->has_image) {
		decide(out, VJ_PURGE_GIVE_UP);
		snprintf(
		    out->message, sizeof(out->message),
		    "NoImage: no worker image to run the purge Job with (spec.workers.image or "
		    "the operator's --worker-image)");
	} else if (o->writers < 0) {
		decide(out, VJ_PURGE_WAIT);
	} else if (o->writers > 0) {
		decide(out, VJ_PURGE_STOP_WRITERS);
	} else {
		decide(out, VJ_PURGE_CREATE);
	}
}

const char *vj_purge_action_name(enum vj_purge_action a)
{
	switch (a) {
	case VJ_PURGE_SKIP:
		return "skip";
	case VJ_PURGE_DELETE_STALE:
		return "delete-stale";
	case VJ_PURGE_STOP_WRITERS:
		return "stop-writers";
	case VJ_PURGE_CREATE:
		return "create";
	case VJ_PURGE_WAIT:
		return "wait";
	case VJ_PURGE_DONE:
		return "done";
	case VJ_PURGE_GIVE_UP:
		return "give-up";
	}
	return "unknown";
}

int vj_purge_event(const struct vj_purge_decision *d, const char *name, const char *table,
                   struct events_planned *out)
{
	char note[EVENTS_NOTE_MAX];

	if (d->action == VJ_PURGE_DONE) {
		snprintf(note, sizeof(note),
		         "Job %s-" VJ_PURGE_MODE
		         " deleted the job's rows from PostgreSQL (video_jobs, "
		         "video_segments, %s)",
		         name, table != NULL ? table : "the frames table");
		events_plan(out, EVENTS_NORMAL, "Purged", note, "Delete");
		return 1;
	}
	if (d->action == VJ_PURGE_GIVE_UP) {
		snprintf(note, sizeof(note),
		         "Job %s-" VJ_PURGE_MODE " failed (%s); the job's rows stay in PostgreSQL: "
		         "delete them with `sluice-worker purge --config <the job's config.json>`",
		         name, d->message);
		events_plan(out, EVENTS_WARNING, "PurgeFailed", note, "Delete");
		return 1;
	}
	return 0;
}

long long vj_purge_count_writers(const cJSON *pods)
{
	const cJSON *p;
	long long n = 0;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(pods, "items"))
	{
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "status");
		const char *phase =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "phase"));

		if (phase == NULL ||
		    (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0))
			n++;
	}
	return n;
}

/* The pod spec's volume "config" becomes a downwardAPI file. */
static int config_from_annotation(cJSON *pod_spec)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(pod_spec, "volumes"))
	{
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
		cJSON *vol = (cJSON *)v, *dapi, *items, *item, *ref;

		if (n == NULL || strcmp(n, "config") != 0)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(vol, "configMap");
		item = cJSON_CreateObject();
		if ((dapi = cJSON_AddObjectToObject(vol, "downwardAPI")) == NULL ||
		    (items = cJSON_AddArrayToObject(dapi, "items")) == NULL || item == NULL ||
		    !cJSON_AddItemToArray(items, item)) {
			cJSON_Delete(item);
			return -1;
		}
		return cJSON_AddStringToObject(item, "path", "config.json") != NULL &&
		               (ref = cJSON_AddObjectToObject(item, "fieldRef")) != NULL &&
		               cJSON_AddStringToObject(
		                   ref, "fieldPath",
		                   "metadata.annotations['" VJ_PURGE_CONFIG_ANNOTATION "']") != NULL
		           ? 0
		           : -1;
	}
	return -1;
}

cJSON *vj_purge_job(cJSON *job, const cJSON *owner, const char *config_text)
{
	const cJSON *omd = cJSON_GetObjectItemCaseSensitive(owner, "metadata");
	const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(omd, "uid"));
	cJSON *md = cJSON_GetObjectItemCaseSensitive(job, "metadata");
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(job, "spec");
	cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
	cJSON *tmd = cJSON_GetObjectItemCaseSensitive(tmpl, "metadata");
	cJSON *tann = cJSON_GetObjectItemCaseSensitive(tmd, "annotations");
	cJSON *ann;

	if (job == NULL || uid == NULL || uid[0] == '\0' || config_text == NULL ||
	    !cJSON_IsObject(md) || !cJSON_IsObject(spec) || !cJSON_IsObject(tann))
		goto fail;
	cJSON_DeleteItemFromObjectCaseSensitive(md, "ownerReferences");
	if ((ann = cJSON_AddObjectToObject(md, "annotations")) == NULL ||
	    cJSON_AddStringToObject(ann, VJ_PURGE_OWNER_UID, uid) == NULL ||
	    cJSON_AddNumberToObject(spec, "activeDeadlineSeconds", VJ_PURGE_DEADLINE_S) == NULL ||
	    cJSON_AddNumberToObject(spec, "ttlSecondsAfterFinished", VJ_PURGE_TTL_S) == NULL ||
	    cJSON_AddStringToObject(tann, VJ_PURGE_CONFIG_ANNOTATION, config_text) == NULL ||
	    config_from_annotation(cJSON_GetObjectItemCaseSensitive(tmpl, "spec")) != 0)
		goto fail;
	return job;
fail:
	cJSON_Delete(job);
	return NULL;
}

void vj_purge_job_failure(const cJSON *job, const char **reason, const char **message)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(job, "status");
	const cJSON *c;

	*reason = NULL;
	*message = NULL;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "conditions"))
	{
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));

		if (t != NULL && s != NULL && strcmp(t, "Failed") == 0 && strcmp(s, "True") == 0) {
			*reason =
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "reason"));
			*message =
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "message"));
			return;
		}
	}
}
