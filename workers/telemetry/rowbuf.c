/* rowbuf.c -- rows and raw events waiting for the sinks; see rowbuf.h. */
#include "rowbuf.h"

#include <stdlib.h>
#include <string.h>

/* First allocation, and the size a buffer shrinks back to. */
#define ROWBUF_INITIAL 256

void rowbuf_init(struct rowbuf *b)
{
	memset(b, 0, sizeof(*b));
}

/* Frees one part's arrays and empties it. */
static void part_free(struct rowbuf_part *p)
{
	free(p->rows);
	free(p->events);
	memset(p, 0, sizeof(*p));
}

void rowbuf_free(struct rowbuf *b)
{
	part_free(&b->batch);
	part_free(&b->tail);
	rowbuf_init(b);
}

/* Makes room for one more element of size elem in *arr; 0 or -1. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= ROWBUF_MAX)
		return -1;
	ncap = *cap == 0 ? ROWBUF_INITIAL : *cap * 2;
	if (ncap > ROWBUF_MAX)
		ncap = ROWBUF_MAX;
	p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

int rowbuf_add_result(struct rowbuf *b, const struct tw_result *r)
{
	struct rowbuf_part *t = &b->tail;
	struct tw_row *row;

	if (r->key_len > TW_KEY_MAX || r->nvalues > TW_VALUES_MAX)
		return -1;
	if (grow((void **)&t->rows, &t->cap_rows, t->nrows, sizeof(*t->rows)) < 0)
		return -1;
	row = &t->rows[t->nrows++];
	row->partition = r->partition;
	row->key_len = r->key_len;
	memcpy(row->key, r->key, r->key_len);
	row->start_ns = r->start_ns;
	row->end_ns = r->end_ns;
	row->count = r->count;
	row->nvalues = r->nvalues;
	if (r->nvalues > 0)
		memcpy(row->values, r->values, r->nvalues * sizeof(*r->values));
	return 0;
}

int rowbuf_add_event(struct rowbuf *b, const struct tw_event *ev)
{
	struct rowbuf_part *t = &b->tail;

	if (grow((void **)&t->events, &t->cap_events, t->nevents, sizeof(*t->events)) < 0)
		return -1;
	t->events[t->nevents++] = *ev;
	return 0;
}

int rowbuf_frozen(const struct rowbuf *b)
{
	return b->in_flight;
}

void rowbuf_freeze(struct rowbuf *b)
{
	if (rowbuf_frozen(b))
		return;
	/* The batch part is empty (released): its arrays become the tail's. */
	struct rowbuf_part empty = b->batch;
	b->batch = b->tail;
	b->tail = empty;
	b->in_flight = 1;
}

void rowbuf_batch(const struct rowbuf *b, struct tw_batch *out)
{
	out->rows = b->batch.nrows > 0 ? b->batch.rows : NULL;
	out->nrows = b->batch.nrows;
	out->events = b->batch.nevents > 0 ? b->batch.events : NULL;
	out->nevents = b->batch.nevents;
}

size_t rowbuf_pending(const struct rowbuf *b)
{
	return b->tail.nrows + b->tail.nevents;
}

size_t rowbuf_held(const struct rowbuf *b)
{
	return b->batch.nrows + b->batch.nevents + rowbuf_pending(b);
}

/* After a burst, give the memory back once the buffer is mostly empty, so
 * the worker's footprint follows its steady state. Failing to shrink is
 * harmless: the larger block stays. */
static void shrink(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap = *cap;
	void *p;

	while (ncap > ROWBUF_INITIAL && n < ncap / 4)
		ncap /= 2;
	if (ncap == *cap)
		return;
	p = realloc(*arr, ncap * elem);
	if (p != NULL) {
		*arr = p;
		*cap = ncap;
	}
}

void rowbuf_release(struct rowbuf *b)
{
	struct rowbuf_part *p = &b->batch;

	p->nrows = p->nevents = 0;
	b->in_flight = 0;
	shrink((void **)&p->rows, &p->cap_rows, 0, sizeof(*p->rows));
	shrink((void **)&p->events, &p->cap_events, 0, sizeof(*p->events));
}

size_t rowbuf_drop_partition(struct rowbuf *b, int32_t partition)
{
	struct rowbuf_part *t = &b->tail;
	size_t o = 0;

	for (size_t i = 0; i < t->nrows; i++) {
		if (t->rows[i].partition == partition)
			continue;
		if (o != i)
			t->rows[o] = t->rows[i];
		o++;
	}
	size_t dropped = t->nrows - o;
	t->nrows = o;
	return dropped;
}
