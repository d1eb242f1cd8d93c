/* rowbuf.h -- the window results and raw events the telemetry loop holds
 * between the stream core and the sinks.
 *
 * Results are copied out of the core's emit callback (which only lends
 * them) and raw events out of the parser, in arrival order. A flush
 * FREEZES everything held so far: that is the batch the sinks get
 * (rowbuf_batch), retried as it is until every sink acknowledged it, while
 * new rows and events keep arriving behind it, in the tail. rowbuf_release
 * then drops the batch. So a retry always writes the same batch, and the
 * tail is the bounded buffer the loop lets grow while it waits
 * (rowbuf_pending).
 *
 * The batch and the tail are separate arrays: adding to the tail never
 * moves the batch, so the sinks' threads read it while the loop goes on
 * adding. A freeze swaps the two; a release empties the batch and keeps its
 * arrays for the next swap. Memory grows as needed up to ROWBUF_MAX entries
 * of each kind in each (a window closing over many keys emits them all at
 * once: the core already holds them) and shrinks back after a burst. Pure:
 * no I/O. The loop's thread changes it; readers of a frozen batch only
 * read.
 */
#ifndef SLUICE_ROWBUF_H
#define SLUICE_ROWBUF_H

#include <stddef.h>

#include "tw_event.h"
#include "tw_sink.h"
#include "tw_window.h"

/* Most rows, and most events, in the batch and in the tail. */
#define ROWBUF_MAX (1u << 22)

struct rowbuf_part {
	struct tw_row *rows;
	size_t nrows, cap_rows;
	struct tw_event *events;
	size_t nevents, cap_events;
};

struct rowbuf {
	struct rowbuf_part batch; /* frozen: the batch in flight (empty when none) */
	struct rowbuf_part tail;  /* what arrived since */
	int in_flight;            /* frozen and not released (may be empty) */
};

/* An empty buffer (no allocation until the first add). */
void rowbuf_init(struct rowbuf *b);

/* Frees what b holds and empties it; safe twice. */
void rowbuf_free(struct rowbuf *b);

/* Copies one emitted window (key, counts, values) to the end. Returns 0, or
 * -1 when out of memory or past ROWBUF_MAX (b unchanged). */
int rowbuf_add_result(struct rowbuf *b, const struct tw_result *r);

/* Copies one raw event to the end. Returns 0 or -1 as above. */
int rowbuf_add_event(struct rowbuf *b, const struct tw_event *ev);

/* Whether a batch (possibly empty) is in flight: frozen, not released. */
int rowbuf_frozen(const struct rowbuf *b);

/* Freezes every row and event held; nothing changes when a batch is
 * already in flight. */
void rowbuf_freeze(struct rowbuf *b);

/* The batch in flight (empty when none): it points into b, valid until the
 * next release or free (adds do not move it). */
void rowbuf_batch(const struct rowbuf *b, struct tw_batch *out);

/* Rows plus events held behind the batch in flight (all of them when none
 * is). */
size_t rowbuf_pending(const struct rowbuf *b);

/* Rows plus events held, the batch in flight included. */
size_t rowbuf_held(const struct rowbuf *b);

/* Drops the batch in flight; what arrived behind it becomes the start. */
void rowbuf_release(struct rowbuf *b);

/*
 * Drops the rows of partition held behind the batch in flight (the batch
 * itself is left as it is: it is retried unchanged), keeping the others in
 * order; returns how many were dropped. For a revoked partition: whoever
 * owns it next replays and emits those windows again, and the same window
 * twice in one batch is something a sink may refuse (PostgreSQL will not
 * upsert one row twice in a statement).
 */
size_t rowbuf_drop_partition(struct rowbuf *b, int32_t partition);

#endif
