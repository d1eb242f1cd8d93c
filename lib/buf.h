/* buf.h -- one growable byte buffer with a hard cap, for every body built
 * in memory before it is sent (line protocol batches, URLs, JSON): appends
 * never pass the cap, so a caller flushes and retries instead of growing
 * without bound.
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>

enum buf_error {
	BUF_OK = 0,
	BUF_E_FULL = -2,  /* the cap would be passed: flush, then retry */
	BUF_E_NOMEM = -3, /* realloc failed */
};

/*
 * Members are read-only outside buf_*(): data holds len bytes (not
 * NUL-terminated), cap is the allocation, max the most len may reach.
 * The buffer owns data; buf_free() releases it.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* An empty buffer that will never hold more than max bytes. Allocates
 * nothing until the first append. */
void buf_init(struct buf *b, size_t max);

/* Appends n bytes. Returns 0; BUF_E_FULL if len + n would pass max, or
 * BUF_E_NOMEM; in both cases the buffer is as it was. */
int buf_append(struct buf *b, const void *p, size_t n);

/* buf_append of a NUL-terminated string, its NUL not included. */
int buf_append_str(struct buf *b, const char *s);

/* Empties the buffer and keeps its memory for reuse. */
void buf_reset(struct buf *b);

/* Frees the memory; the buffer is then empty and may be reused. NULL is a
 * no-op. */
void buf_free(struct buf *b);

#endif
