/*
 * conditions.h - status conditions in the Kubernetes convention
 * (metav1.Condition: type, status, reason, message, lastTransitionTime,
 * observedGeneration), built anew on every reconcile.
 *
 * A reconciler computes the whole status from what it sees and compares it
 * with the stored one, writing only when something changed; so the one
 * thing carried over from the old status is lastTransitionTime, which moves
 * only when a condition's status does (API conventions, "Typical status
 * properties"). Pure: no I/O; cJSON in, cJSON out.
 */
#ifndef SLUICE_CONDITIONS_H
#define SLUICE_CONDITIONS_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The condition of type in a conditions array, or NULL (borrowed). */
const cJSON *conditions_find(const cJSON *conditions, const char *type);

/* A condition's "status" ("True", "False", "Unknown"), or "" when absent. */
const char *conditions_status(const cJSON *conditions, const char *type);

/* A condition's "reason", or "" when absent. */
const char *conditions_reason(const cJSON *conditions, const char *type);

/*
 * Appends to conditions (a cJSON array) a condition of type with status,
 * reason (CamelCase) and message (may be NULL: ""), observedGeneration
 * generation, and lastTransitionTime: the old one's (from old, the stored
 * conditions array; may be NULL) when its status is the same, else now
 * (RFC 3339, "2026-11-23T09:00:00Z"). Returns 0, or -1 when out of memory.
 */
int conditions_add(cJSON *conditions, const cJSON *old, const char *type, const char *status,
                   const char *reason, const char *message, long long generation, const char *now);

/* Writes the current time as RFC 3339 in UTC with seconds ("...T09:00:00Z"),
 * the precision of metav1.Time, into buf (at least 32 bytes). Returns buf. */
const char *conditions_now(char *buf, size_t size);

#endif
