/* dash_ring.h -- replicas and lag of one resource over time: a bounded ring
 * of samples, the oldest overwritten once it is full. The dashboard keeps
 * one per resource (dash_cache.h samples every resource's status into it
 * every --sample-interval) for the "workers over time" charts.
 *
 * Pure: no clock, no locks (the owner serialises access). Memory grows with
 * the samples held, doubling up to max, so a resource that just appeared
 * costs a few bytes, not a full ring.
 */
#ifndef SLUICE_DASH_RING_H
#define SLUICE_DASH_RING_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The most samples any ring holds, whatever --history-window asks. */
#define DASH_RING_MAX 8192

/* One look at a resource's status. -1: the field is absent (not yet
 * written by the operator). */
struct dash_sample {
	int64_t t_ms; /* wall clock, ms since the epoch */
	int64_t lag;
	int32_t replicas;
	int32_t desired;
};

struct dash_ring {
	struct dash_sample *s;
	size_t cap;  /* allocated */
	size_t max;  /* the bound */
	size_t head; /* index of the oldest */
	size_t n;    /* held */
};

/* An empty ring of at most max samples (1..DASH_RING_MAX; outside: clamped).
 * Allocates nothing. */
void dash_ring_init(struct dash_ring *r, size_t max);

/* Appends s, dropping the oldest when max are held. Returns 0, or -1 when
 * out of memory (the ring is unchanged). */
int dash_ring_push(struct dash_ring *r, const struct dash_sample *s);

/* Sample i, 0 the oldest; NULL past the end. */
const struct dash_sample *dash_ring_at(const struct dash_ring *r, size_t i);

/*
 * The samples at or after since_ms as columns, for uPlot:
 *   {"t":[s, ...], "replicas":[...], "desiredReplicas":[...], "lag":[...]}
 * t in seconds (uPlot's x), an absent value as null. A new object, NULL
 * when out of memory.
 */
cJSON *dash_ring_json(const struct dash_ring *r, int64_t since_ms);

/* Frees the samples; the ring is then empty (and may be pushed to again). */
void dash_ring_free(struct dash_ring *r);

#endif
