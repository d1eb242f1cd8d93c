/* topic_batch.c - see topic_batch.h. */
#include "topic_batch.h"

enum topic_batch_state topic_batch_join(struct topic_batch *b, struct topic_batch_req *r)
{
	r->next = NULL;
	if (b->run == NULL && b->head == NULL) {
		b->run = r;
		b->running = 1;
		r->state = TOPIC_BATCH_LEADING;
		return r->state;
	}
	if (b->tail != NULL)
		b->tail->next = r;
	else
		b->head = r;
	b->tail = r;
	b->queued++;
	r->state = TOPIC_BATCH_QUEUED;
	return r->state;
}

struct topic_batch_req *topic_batch_done(struct topic_batch *b, size_t max)
{
	struct topic_batch_req *r = b->run, *next, *last = NULL;

	while (r != NULL) {
		next = r->next;
		r->next = NULL;
		r->state = TOPIC_BATCH_DONE;
		r = next;
	}
	b->run = NULL;
	b->running = 0;
	if (b->head == NULL)
		return NULL;
	if (max == 0)
		max = 1;
	b->run = b->head;
	for (r = b->head; r != NULL && b->running < max; r = r->next) {
		r->state = b->running == 0 ? TOPIC_BATCH_LEADING : TOPIC_BATCH_RUNNING;
		b->running++;
		last = r;
	}
	b->head = last->next;
	last->next = NULL;
	if (b->head == NULL)
		b->tail = NULL;
	b->queued -= b->running;
	return b->run;
}

int topic_batch_idle(const struct topic_batch *b)
{
	return b->run == NULL && b->head == NULL;
}
