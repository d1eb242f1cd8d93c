/*
 * events.h - Kubernetes Events (events.k8s.io/v1) about a resource, so
 * `kubectl describe` and `kubectl get events` show what the operator did
 * and why something failed.
 *
 * Reconcilers emit an Event on a transition (a condition that changed, a
 * child created, a rollout), never on every pass, so a resource that stays
 * broken does not flood the API server. A failed Event is logged and
 * otherwise ignored: it must never fail a reconcile.
 *
 * Threads: any thread; the client is thread-safe and nothing else is shared.
 */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#include <cjson/cJSON.h>

#include "kube_client.h"

#define EVENTS_CONTROLLER "sluice.dev/operator"

enum events_type {
	EVENTS_NORMAL,
	EVENTS_WARNING,
};

/* Room for a planned Event's reason and note (events_build cuts the note to
 * 1024 bytes; the rest is for the plan's own formatting). */
#define EVENTS_REASON_MAX 128
#define EVENTS_NOTE_MAX 1280

/* An Event a reconciler's pure plan decided on, for its apply step to emit:
 * plain values, so a plan's tests read them. */
struct events_planned {
	enum events_type type;
	char reason[EVENTS_REASON_MAX];
	char note[EVENTS_NOTE_MAX];
	const char *action; /* "Reconcile", "Delete" (static) */
};

/* Fills *ev (reason and note copied, cut to fit). Returns ev. */
struct events_planned *events_plan(struct events_planned *ev, enum events_type type,
                                   const char *reason, const char *note, const char *action);

/*
 * The Event (pure): regarding obj (apiVersion, kind, name, namespace, uid,
 * resourceVersion), reason (CamelCase), note (cut to 1024 bytes), action
 * ("Reconcile", "Delete"), reporting instance, time now_us (microseconds
 * since the epoch: eventTime and a unique name "<obj name>.<hex>").
 * Returns the object (the caller's) or NULL.
 */
cJSON *events_build(const cJSON *obj, enum events_type type, const char *reason, const char *note,
                    const char *action, const char *instance, long long now_us);

/* Builds and creates the Event in obj's namespace. Returns 0 or a KUBE_E*
 * code (already logged). */
int events_emit(struct kube_client *kc, const cJSON *obj, enum events_type type, const char *reason,
                const char *note, const char *action, const char *instance);

/* events_emit of a planned Event. */
int events_emit_planned(struct kube_client *kc, const cJSON *obj, const struct events_planned *ev,
                        const char *instance);

#endif
