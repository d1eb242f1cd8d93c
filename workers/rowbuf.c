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

void rowbuf_free(struct rowbuf *b)
{
	free(b->rows);
	free(b->events);
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
	struct tw_row *row;

	if (r->key_len > TW_KEY_MAX || r->nvalues > TW_VALUES_MAX)
		return -1;
	if (grow((void **)&b->rows, &b->cap_rows, b->nrows, sizeof(*b->rows)) < 0)
		return -1;
	row = &b->rows[b->nrows++];
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
	if (grow((void **)&b->events, &b->cap_events, b->nevents, sizeof(*b->events)) < 0)
		return -1;
	b->events[b->nevents++] = *ev;
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
	b->frozen_rows = b->nrows;
	b->frozen_events = b->nevents;
	b->in_flight = 1;
}

void rowbuf_batch(const struct rowbuf *b, struct tw_batch *out)
{
	out->rows = b->frozen_rows > 0 ? b->rows : NULL;
	out->nrows = b->frozen_rows;
	out->events = b->frozen_events > 0 ? b->events : NULL;
	out->nevents = b->frozen_events;
}

size_t rowbuf_pending(const struct rowbuf *b)
{
	return (b->nrows - b->frozen_rows) + (b->nevents - b->frozen_events);
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
	b->nrows -= b->frozen_rows;
	if (b->nrows > 0)
		memmove(b->rows, b->rows + b->frozen_rows, b->nrows * sizeof(*b->rows));
	b->nevents -= b->frozen_events;
	if (b->nevents > 0)
		memmove(b->events, b->events + b->frozen_events, b->nevents * sizeof(*b->events));
	b->frozen_rows = b->frozen_events = 0;
	b->in_flight = 0;
	shrink((void **)&b->rows, &b->cap_rows, b->nrows, sizeof(*b->rows));
	shrink((void **)&b->events, &b->cap_events, b->nevents, sizeof(*b->events));
}

size_t rowbuf_drop_partition(struct rowbuf *b, int32_t partition)
{
	size_t o = b->frozen_rows;

	for (size_t i = b->frozen_rows; i < b->nrows; i++) {
		if (b->rows[i].partition == partition)
			continue;
		if (o != i)
			b->rows[o] = b->rows[i];
		o++;
	}
	size_t dropped = b->nrows - o;
	b->nrows = o;
	return dropped;
}
