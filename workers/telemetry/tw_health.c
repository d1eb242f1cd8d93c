/* tw_health.c -- the telemetry worker's health state; see tw_health.h. */
#include "tw_health.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

int tw_health_init(struct tw_health *h, const char *resource)
{
	memset(h, 0, sizeof(*h));
	h->resource = resource;
	return pthread_mutex_init(&h->mu, NULL) == 0 ? 0 : -1;
}

void tw_health_destroy(struct tw_health *h)
{
	pthread_mutex_destroy(&h->mu);
}

int tw_health_add(struct tw_health *h, const char *name)
{
	int slot;

	pthread_mutex_lock(&h->mu);
	if (h->n == TW_HEALTH_SLOTS) {
		pthread_mutex_unlock(&h->mu);
		return -1;
	}
	slot = (int)h->n++;
	h->names[slot] = name;
	h->failing_since_ms[slot] = 0;
	h->last_error[slot][0] = '\0';
	h->last_ok_ns[slot] = 0;
	pthread_mutex_unlock(&h->mu);
	return slot;
}

const char *tw_health_name(const struct tw_health *h, size_t slot)
{
	return slot < h->n ? h->names[slot] : "";
}

int tw_health_ok(struct tw_health *h, size_t slot)
{
	int was;

	if (slot >= h->n)
		return 0;
	pthread_mutex_lock(&h->mu);
	was = h->failing_since_ms[slot] != 0;
	h->failing_since_ms[slot] = 0;
	h->last_ok_ns[slot] = clock_real_ns();
	pthread_mutex_unlock(&h->mu);
	return was;
}

void tw_health_failed(struct tw_health *h, size_t slot, int64_t now_ms, const char *error)
{
	if (slot >= h->n)
		return;
	pthread_mutex_lock(&h->mu);
	if (h->failing_since_ms[slot] == 0)
		h->failing_since_ms[slot] = now_ms;
	snprintf(h->last_error[slot], sizeof(h->last_error[slot]), "%s", error);
	pthread_mutex_unlock(&h->mu);
}

void tw_health_set_ready(struct tw_health *h)
{
	pthread_mutex_lock(&h->mu);
	h->ready = 1;
	pthread_mutex_unlock(&h->mu);
}

void tw_health_set_fatal(struct tw_health *h, const char *what, const char *detail)
{
	if (h->fatal)
		return;
	h->fatal = 1;
	log_error("fatal error: stopping without committing further", "resource", h->resource,
	          "what", what, "error", detail, NULL);
	pthread_mutex_lock(&h->mu);
	snprintf(h->fatal_text, sizeof(h->fatal_text), "%s: %s", what, detail);
	pthread_mutex_unlock(&h->mu);
}

int tw_health_is_fatal(const struct tw_health *h)
{
	return h->fatal;
}

int tw_health_check(struct tw_health *h, int64_t now_ms, int64_t unhealthy_after_ms, char *reason,
                    size_t reason_size)
{
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	if (h->fatal_text[0] != '\0') {
		snprintf(reason, reason_size, "fatal: %s", h->fatal_text);
		rc = 1;
	}
	for (size_t i = 0; rc == 0 && i < h->n; i++) {
		int64_t since = h->failing_since_ms[i];
		if (since != 0 && now_ms - since > unhealthy_after_ms) {
			snprintf(reason, reason_size, "%s has failed for %" PRId64 " s: %s",
			         h->names[i], (now_ms - since) / 1000, h->last_error[i]);
			rc = 1;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int tw_health_ready(struct tw_health *h, char *reason, size_t reason_size)
{
	int ready;

	pthread_mutex_lock(&h->mu);
	ready = h->ready;
	pthread_mutex_unlock(&h->mu);
	if (!ready)
		snprintf(reason, reason_size, "waiting for the first partition assignment");
	return !ready;
}

size_t tw_health_view(struct tw_health *h, int64_t now_ms, struct tw_health_slot *out, char *fatal,
                      size_t fatal_size, int *ready)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	n = h->n;
	for (size_t i = 0; i < n; i++) {
		int64_t since = h->failing_since_ms[i];
		out[i].name = h->names[i];
		out[i].failing = since != 0;
		out[i].failing_for_ms = since != 0 && now_ms > since ? now_ms - since : 0;
		snprintf(out[i].last_error, sizeof(out[i].last_error), "%s", h->last_error[i]);
		out[i].last_ok_ns = h->last_ok_ns[i];
	}
	if (fatal_size > 0)
		snprintf(fatal, fatal_size, "%s", h->fatal_text);
	*ready = h->ready;
	pthread_mutex_unlock(&h->mu);
	return n;
}
