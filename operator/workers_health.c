/* workers_health.c - see workers_health.h. */
#include "workers_health.h"

#include <stdio.h>
#include <string.h>

#include "conditions.h"

static const cJSON *member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static const char *str(const cJSON *obj, const char *name)
{
	return cJSON_GetStringValue(member(obj, name));
}

static int num(const cJSON *obj, const char *name)
{
	const cJSON *v = member(obj, name);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* The first line of s, at most max bytes, for a message. */
static int first_line(const char *s, int max)
{
	int n = (int)strcspn(s, "\n");
	return n < max ? n : max;
}

/* Waiting reasons that mean the container will not start by itself. */
static int stuck_waiting(const char *reason)
{
	static const char *const stuck[] = {
	    "CrashLoopBackOff",     "ErrImageNeverPull", "ErrImagePull",
	    "ImagePullBackOff",     "InvalidImageName",  "CreateContainerConfigError",
	    "CreateContainerError", "RunContainerError", NULL};
	for (size_t i = 0; reason != NULL && stuck[i] != NULL; i++)
		if (strcmp(reason, stuck[i]) == 0)
			return 1;
	return 0;
}

/* "2026-12-07T01:35:39Z" as seconds since the epoch, or -1. */
static time_t rfc3339_seconds(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL)
		return -1;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || (*end != 'Z' && *end != '.'))
		return -1;
	return timegm(&tm);
}

/* A pod that cannot run: its reason and message into out; 1 when found. */
static int pod_problem(const cJSON *pod, time_t now, struct workers_health *out)
{
	const char *name = str(member(pod, "metadata"), "name");
	const cJSON *st = member(pod, "status"), *cs, *c;

	if (name == NULL)
		name = "?";
	cJSON_ArrayForEach(cs, member(st, "containerStatuses"))
	{
		const cJSON *waiting = member(member(cs, "state"), "waiting");
		const cJSON *last = member(member(cs, "lastState"), "terminated");
		const char *wr = str(waiting, "reason"), *lr = str(last, "reason");
		const char *lm = str(last, "message");

		if (lr != NULL && strcmp(lr, "OOMKilled") == 0) {
			out->reason = "OOMKilled";
			snprintf(
			    out->message, sizeof(out->message),
			    "pod %s: killed for using more memory than its limit (%d restarts)",
			    name, num(cs, "restartCount"));
			return 1;
		}
		const cJSON *running = member(member(cs, "state"), "running");
		time_t started = rfc3339_seconds(str(running, "startedAt"));
		if (running != NULL && !cJSON_IsTrue(member(cs, "ready")) && started >= 0 &&
		    now - started > WORKERS_READY_GRACE_S) {
			out->reason = "WorkersNotReady";
			snprintf(
			    out->message, sizeof(out->message),
			    "pod %s: running for %lld s and not ready (its readiness probe fails: "
			    "kubectl describe pod %s)",
			    name, (long long)(now - started), name);
			return 1;
		}
		if (!stuck_waiting(wr))
			continue;
		out->reason = wr;
		if (lm != NULL && lm[0] != '\0')
			snprintf(out->message, sizeof(out->message),
			         "pod %s: %s: %s; it last exited %d: %.*s", name, wr,
			         str(waiting, "message") != NULL ? str(waiting, "message") : "",
			         num(last, "exitCode"), first_line(lm, 600), lm);
		else
			snprintf(out->message, sizeof(out->message), "pod %s: %s: %s", name, wr,
			         str(waiting, "message") != NULL ? str(waiting, "message") : "");
		return 1;
	}
	cJSON_ArrayForEach(c, member(st, "conditions"))
	{
		const char *t = str(c, "type"), *s = str(c, "status"), *r = str(c, "reason");
		if (t == NULL || s == NULL || strcmp(t, "PodScheduled") != 0)
			continue;
		if (strcmp(s, "False") == 0) {
			out->reason = r != NULL && strcmp(r, "Unschedulable") == 0 ? "Unschedulable"
			                                                           : "NotScheduled";
			snprintf(out->message, sizeof(out->message), "pod %s: %s", name,
			         str(c, "message") != NULL ? str(c, "message") : "not scheduled");
			return 1;
		}
		/* Scheduled long ago and its container still not made: a volume
		 * that does not mount (FailedMount, an Event only) or a sandbox
		 * the runtime cannot create. */
		time_t since = rfc3339_seconds(str(c, "lastTransitionTime"));
		cJSON_ArrayForEach(cs, member(st, "containerStatuses"))
		{
			const char *wr = str(member(member(cs, "state"), "waiting"), "reason");
			if (wr != NULL && strcmp(wr, "ContainerCreating") == 0 && since >= 0 &&
			    now - since > WORKERS_START_GRACE_S) {
				out->reason = "ContainerCreating";
				snprintf(out->message, sizeof(out->message),
				         "pod %s: scheduled %lld s ago and its container not "
				         "created yet "
				         "(a volume that does not mount? kubectl describe pod %s)",
				         name, (long long)(now - since), name);
				return 1;
			}
		}
	}
	return 0;
}

int workers_health_pods(const cJSON *pods, time_t now, struct workers_health *out)
{
	const cJSON *pod;

	cJSON_ArrayForEach(pod, member(pods, "items"))
	{
		if (pod_problem(pod, now, out)) {
			out->failing = 1;
			out->status = "False";
			return 1;
		}
	}
	return 0;
}

int workers_health_exit_message(const cJSON *pods, char *buf, size_t size)
{
	const cJSON *pod, *cs;

	cJSON_ArrayForEach(pod, member(pods, "items"))
	{
		cJSON_ArrayForEach(cs, member(member(pod, "status"), "containerStatuses"))
		{
			const cJSON *t = member(member(cs, "state"), "terminated");
			const char *m = str(t, "message");

			if (t != NULL && num(t, "exitCode") != 0 && m != NULL && m[0] != '\0') {
				/* The last line is the one the worker wrote last. */
				const char *end = m + strlen(m);
				while (end > m && (end[-1] == '\n' || end[-1] == '\r'))
					end--;
				const char *start = end;
				while (start > m && start[-1] != '\n')
					start--;
				snprintf(buf, size, "%.*s", (int)(end - start), start);
				return 1;
			}
		}
	}
	return 0;
}

void workers_health_judge(const cJSON *deployment, const cJSON *pods, time_t now,
                          struct workers_health *out)
{
	const cJSON *st = member(deployment, "status");
	const cJSON *refused = conditions_find(member(st, "conditions"), "ReplicaFailure");

	memset(out, 0, sizeof(*out));
	out->status = "Unknown";
	out->reason = "DeploymentPending";
	snprintf(out->message, sizeof(out->message), "the Deployment has not reported yet");
	if (deployment == NULL)
		return;
	out->desired = num(member(deployment, "spec"), "replicas");
	out->ready = num(st, "readyReplicas");
	if (refused != NULL && str(refused, "status") != NULL &&
	    strcmp(str(refused, "status"), "True") == 0) {
		out->failing = 1;
		out->status = "False";
		out->reason =
		    str(refused, "reason") != NULL ? str(refused, "reason") : "FailedCreate";
		snprintf(out->message, sizeof(out->message), "worker pods refused: %s",
		         str(refused, "message") != NULL ? str(refused, "message") : "");
		return;
	}
	if (workers_health_pods(pods, now, out))
		return;
	if (out->desired == 0) {
		out->status = "True";
		out->reason = "ScaledToZero";
		snprintf(out->message, sizeof(out->message), "no workers wanted");
	} else if (out->ready >= out->desired) {
		out->status = "True";
		out->reason = "WorkersReady";
		snprintf(out->message, sizeof(out->message), "%d of %d worker pods ready",
		         out->ready, out->desired);
	} else {
		out->status = "False";
		out->reason = "WorkersNotReady";
		snprintf(out->message, sizeof(out->message), "%d of %d worker pods ready",
		         out->ready, out->desired);
	}
}

static int status_int(const cJSON *obj, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "status"), field);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

int workers_health_stopped(const cJSON *deployment)
{
	const cJSON *want = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(deployment, "spec"), "replicas");

	return deployment != NULL && cJSON_IsNumber(want) && want->valueint == 0 &&
	       status_int(deployment, "replicas") == 0 &&
	       status_int(deployment, "readyReplicas") == 0;
}
