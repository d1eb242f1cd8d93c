/* dash_ring.c -- a bounded ring of samples; see dash_ring.h. */
#include "dash_ring.h"

#include <stdlib.h>
#include <string.h>

void dash_ring_init(struct dash_ring *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max < 1 ? 1 : max > DASH_RING_MAX ? DASH_RING_MAX : max;
}

/* Grows the allocation (the ring is not yet full, so its samples are in
 * order from 0 and head is 0). */
static int grow(struct dash_ring *r)
{
	size_t cap = r->cap == 0 ? 16 : r->cap * 2;
	struct dash_sample *s;

	if (cap > r->max)
		cap = r->max;
	s = realloc(r->s, cap * sizeof(*s));
	if (s == NULL)
		return -1;
	r->s = s;
	r->cap = cap;
	return 0;
}

int dash_ring_push(struct dash_ring *r, const struct dash_sample *s)
{
	if (r->n == r->cap && r->cap < r->max && grow(r) < 0)
		return -1;
	if (r->n < r->cap) {
		r->s[(r->head + r->n) % r->cap] = *s;
		r->n++;
		return 0;
	}
	r->s[r->head] = *s; /* full: the oldest goes */
	r->head = (r->head + 1) % r->cap;
	return 0;
}

const struct dash_sample *dash_ring_at(const struct dash_ring *r, size_t i)
{
	return i < r->n ? &r->s[(r->head + i) % r->cap] : NULL;
}

static int add_number(cJSON *arr, int64_t v, int absent)
{
	cJSON *item = absent ? cJSON_CreateNull() : cJSON_CreateNumber((double)v);

	return item != NULL && cJSON_AddItemToArray(arr, item) ? 0 : -1;
}

cJSON *dash_ring_json(const struct dash_ring *r, int64_t since_ms)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *t = cJSON_AddArrayToObject(o, "t");
	cJSON *rep = cJSON_AddArrayToObject(o, "replicas");
	cJSON *des = cJSON_AddArrayToObject(o, "desiredReplicas");
	cJSON *lag = cJSON_AddArrayToObject(o, "lag");

	if (o == NULL || t == NULL || rep == NULL || des == NULL || lag == NULL)
		goto fail;
	for (size_t i = 0; i < r->n; i++) {
		const struct dash_sample *s = dash_ring_at(r, i);
		cJSON *ts;

		if (s->t_ms < since_ms)
			continue;
		ts = cJSON_CreateNumber((double)s->t_ms / 1000.0);
		if (ts == NULL || !cJSON_AddItemToArray(t, ts) ||
		    add_number(rep, s->replicas, s->replicas < 0) < 0 ||
		    add_number(des, s->desired, s->desired < 0) < 0 ||
		    add_number(lag, s->lag, s->lag < 0) < 0)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

void dash_ring_free(struct dash_ring *r)
{
	free(r->s);
	r->s = NULL;
	r->cap = r->n = r->head = 0;
}
