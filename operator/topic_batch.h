/*
 * topic_batch.h - group commit for Kafka admin requests: callers that ask
 * one cluster at the same time share one request (issue 19: a burst of
 * VideoJobs makes one CreateTopics, not one each).
 *
 * The rule: a caller that finds nothing in flight leads at once, alone (no
 * added delay when calls are not concurrent). A caller that finds a
 * request in flight queues. When the request in flight returns, the
 * oldest queued caller leads the next one, taking everything queued (at
 * most max, oldest first, the rest stay queued for the one after). So at
 * most one request per batch is in flight, and no caller waits longer than
 * the request ahead of it plus its own.
 *
 * Pure: no locks, no I/O, no allocation. The caller (topics.c) holds its
 * mutex around every call here, and its condition variable wakes the
 * callers whose state changed. Queued requests are the callers' own
 * structs (intrusive: embed struct topic_batch_req), so a batch costs no
 * memory beyond its callers' stacks and the number queued is bounded by
 * the threads that call.
 */
#ifndef SLUICE_TOPIC_BATCH_H
#define SLUICE_TOPIC_BATCH_H

#include <stddef.h>

enum topic_batch_state {
	TOPIC_BATCH_IDLE = 0, /* not joined */
	TOPIC_BATCH_QUEUED,   /* waiting for the request ahead to return */
	TOPIC_BATCH_LEADING,  /* runs the batch b->run now (it is its first) */
	TOPIC_BATCH_RUNNING,  /* in the batch in flight, led by another */
	TOPIC_BATCH_DONE,     /* its batch returned: its result is in */
};

/* One caller's place; embed it in the caller's request. */
struct topic_batch_req {
	struct topic_batch_req *next; /* the queue's link, then the batch's */
	enum topic_batch_state state;
};

/* Zero-initialised: idle. */
struct topic_batch {
	struct topic_batch_req *run;         /* the batch in flight (linked by next), NULL: none */
	size_t running;                      /* its length */
	struct topic_batch_req *head, *tail; /* the queue, oldest first */
	size_t queued;                       /* its length */
};

/*
 * r joins b. Returns TOPIC_BATCH_LEADING when nothing was in flight and
 * nothing queued (b->run is r alone: send it now), else
 * TOPIC_BATCH_QUEUED (wait until r->state changes). r->state is set to
 * the same.
 */
enum topic_batch_state topic_batch_join(struct topic_batch *b, struct topic_batch_req *r);

/*
 * The batch in flight returned (its leader calls this once it has put
 * every member's result in place): each member's state becomes
 * TOPIC_BATCH_DONE, and the next batch is formed from the queue's oldest
 * max (max 0 counts as 1): its first is TOPIC_BATCH_LEADING and returned,
 * the others TOPIC_BATCH_RUNNING. NULL when nothing was queued (b idle).
 */
struct topic_batch_req *topic_batch_done(struct topic_batch *b, size_t max);

/* Whether b has nothing in flight and nothing queued. */
int topic_batch_idle(const struct topic_batch *b);

#endif
