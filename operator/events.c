/* events.c - see events.h. */
#include "events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define NOTE_MAX 1024

static const char *str(const cJSON *obj, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, field));
}

cJSON *events_build(const cJSON *obj, enum events_type type, const char *reason, const char *note,
                    const char *action, const char *instance, long long now_us)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *name = str(md, "name"), *ns = str(md, "namespace");
	char ev_name[320], when[64], cut[NOTE_MAX + 1];
	time_t secs = (time_t)(now_us / 1000000);
	struct tm tm;
	cJSON *e, *emd, *reg;

	if (name == NULL || ns == NULL)
		return NULL;
	/* Name: the regarding object's and the time in hex, as client-go's
	 * recorder does ("%v.%x"); unique per microsecond and object. */
	snprintf(ev_name, sizeof(ev_name), "%.240s.%llx", name,
	         (unsigned long long)now_us * 1000ULL);
	gmtime_r(&secs, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now_us % 1000000);
	snprintf(cut, sizeof(cut), "%s", note != NULL ? note : "");
	e = cJSON_CreateObject();
	if (e == NULL || cJSON_AddStringToObject(e, "apiVersion", "events.k8s.io/v1") == NULL ||
	    cJSON_AddStringToObject(e, "kind", "Event") == NULL ||
	    (emd = cJSON_AddObjectToObject(e, "metadata")) == NULL ||
	    cJSON_AddStringToObject(emd, "name", ev_name) == NULL ||
	    cJSON_AddStringToObject(emd, "namespace", ns) == NULL ||
	    cJSON_AddStringToObject(e, "eventTime", when) == NULL ||
	    cJSON_AddStringToObject(e, "reportingController", EVENTS_CONTROLLER) == NULL ||
	    cJSON_AddStringToObject(e, "reportingInstance", instance) == NULL ||
	    cJSON_AddStringToObject(e, "action", action) == NULL ||
	    cJSON_AddStringToObject(e, "reason", reason) == NULL ||
	    cJSON_AddStringToObject(e, "note", cut) == NULL ||
	    cJSON_AddStringToObject(e, "type", type == EVENTS_WARNING ? "Warning" : "Normal") ==
	        NULL ||
	    (reg = cJSON_AddObjectToObject(e, "regarding")) == NULL)
		goto fail;
	static const char *const top[] = {"apiVersion", "kind"};
	static const char *const meta[] = {"name", "namespace", "uid", "resourceVersion"};
	for (size_t i = 0; i < 2; i++)
		if (str(obj, top[i]) != NULL &&
		    cJSON_AddStringToObject(reg, top[i], str(obj, top[i])) == NULL)
			goto fail;
	for (size_t i = 0; i < 4; i++)
		if (str(md, meta[i]) != NULL &&
		    cJSON_AddStringToObject(reg, meta[i], str(md, meta[i])) == NULL)
			goto fail;
	return e;
fail:
	cJSON_Delete(e);
	return NULL;
}

int events_emit(struct kube_client *kc, const cJSON *obj, enum events_type type, const char *reason,
                const char *note, const char *action, const char *instance)
{
	struct kube_error err;
	char msg[600];
	cJSON *ev;
	int rc;

	ev = events_build(obj, type, reason, note, action, instance,
	                  (long long)(clock_real_ns() / 1000));
	if (ev == NULL)
		return KUBE_ENOMEM;
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(ev, "metadata"), "namespace"));
	struct kube_ref ref = {"events.k8s.io", "v1", "events", ns, NULL, NULL};
	rc = kube_client_create(kc, &ref, ev, NULL, &err);
	if (rc != 0)
		log_warn("event not recorded", "reason", reason, "namespace", ns, "error",
		         kube_error_format(&err, msg, sizeof(msg)), NULL);
	cJSON_Delete(ev);
	return rc;
}

struct events_planned *events_plan(struct events_planned *ev, enum events_type type,
                                   const char *reason, const char *note, const char *action)
{
	ev->type = type;
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason != NULL ? reason : "");
	snprintf(ev->note, sizeof(ev->note), "%s", note != NULL ? note : "");
	ev->action = action;
	return ev;
}

int events_emit_planned(struct kube_client *kc, const cJSON *obj, const struct events_planned *ev,
                        const char *instance)
{
	return events_emit(kc, obj, ev->type, ev->reason, ev->note, ev->action, instance);
}
