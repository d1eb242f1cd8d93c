/* dash_pool.c -- kept connections per target; see dash_pool.h. */
#include "dash_pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct idle {
	char target[DASH_POOL_TARGET_MAX + 1];
	void *conn;
	uint64_t seq; /* when it was given back: the lowest is the oldest */
};

struct dash_pool {
	pthread_mutex_t mu;
	dash_pool_close_fn close_fn;
	struct idle *idle;
	size_t n, max;
	uint64_t seq;
};

struct dash_pool *dash_pool_new(size_t max_idle, dash_pool_close_fn close_fn)
{
	struct dash_pool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->max = max_idle > 0 ? max_idle : 1;
	p->idle = calloc(p->max, sizeof(*p->idle));
	if (p->idle == NULL || pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p->idle);
		free(p);
		return NULL;
	}
	p->close_fn = close_fn;
	return p;
}

void *dash_pool_take(struct dash_pool *p, const char *target)
{
	void *conn = NULL;
	size_t best = SIZE_MAX;

	pthread_mutex_lock(&p->mu);
	/* The most recently given back: the likeliest to be still alive. */
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->idle[i].target, target) == 0 &&
		    (best == SIZE_MAX || p->idle[i].seq > p->idle[best].seq))
			best = i;
	if (best != SIZE_MAX) {
		conn = p->idle[best].conn;
		p->idle[best] = p->idle[--p->n];
	}
	pthread_mutex_unlock(&p->mu);
	return conn;
}

void dash_pool_give(struct dash_pool *p, const char *target, void *conn)
{
	void *evicted = NULL;

	if (conn == NULL)
		return;
	if (strlen(target) > DASH_POOL_TARGET_MAX) {
		p->close_fn(conn);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->n == p->max) {
		size_t oldest = 0;
		for (size_t i = 1; i < p->n; i++)
			if (p->idle[i].seq < p->idle[oldest].seq)
				oldest = i;
		evicted = p->idle[oldest].conn;
		p->idle[oldest] = p->idle[--p->n];
	}
	strcpy(p->idle[p->n].target, target);
	p->idle[p->n].conn = conn;
	p->idle[p->n].seq = ++p->seq;
	p->n++;
	pthread_mutex_unlock(&p->mu);
	if (evicted != NULL)
		p->close_fn(evicted);
}

void dash_pool_drop(struct dash_pool *p, void *conn)
{
	if (conn != NULL)
		p->close_fn(conn);
}

size_t dash_pool_idle(struct dash_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void dash_pool_free(struct dash_pool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		p->close_fn(p->idle[i].conn);
	pthread_mutex_destroy(&p->mu);
	free(p->idle);
	free(p);
}
