/* tw_parts.h -- the partitions this telemetry worker owns, loop side: for
 * each, what was last committed (offset and checkpoint text) and its lag.
 * The stream core holds each partition's stream state; this table is what
 * the commits, the lag and the status need next to it.
 *
 * Pure: no I/O. The loop's thread owns it (the rebalance callback adds and
 * removes, the flush updates the commits).
 */
#ifndef SLUICE_TW_PARTS_H
#define SLUICE_TW_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "tw_window.h"

/* committed_offset when nothing was committed (RD_KAFKA_OFFSET_INVALID). */
#define TW_PART_NO_COMMIT INT64_C(-1001)

struct tw_part {
	int32_t partition;
	int64_t committed_offset;                    /* TW_PART_NO_COMMIT: none */
	char committed_meta[TW_CHECKPOINT_TEXT_MAX]; /* its checkpoint text; "": none */
	int64_t lag;                                 /* -1: unknown */
};

/* v[0..n) in no particular order; zeroed is empty. */
struct tw_parts {
	struct tw_part *v;
	size_t n, cap;
};

/* Frees the table; it is then empty and may be reused. */
void tw_parts_free(struct tw_parts *ps);

/* The entry of partition, or NULL. Valid until the next add or remove. */
struct tw_part *tw_parts_find(struct tw_parts *ps, int32_t partition);

/* The entry of partition: the existing one, or a new one with nothing
 * committed and the lag unknown. NULL when out of memory. */
struct tw_part *tw_parts_add(struct tw_parts *ps, int32_t partition);

/* Removes partition's entry (the last one takes its place); nothing when
 * there is none. */
void tw_parts_remove(struct tw_parts *ps, int32_t partition);

/*
 * Whether checkpoint cp of p is to be committed: it has an offset
 * (cp->offset != TW_OFFSET_NONE) and differs from the last commit in the
 * offset or in the text. meta (meta_size bytes, TW_CHECKPOINT_TEXT_MAX
 * fits) receives cp's text when it has an offset ("" if it does not fit).
 */
int tw_part_changed(const struct tw_part *p, const struct tw_checkpoint *cp, char *meta,
                    size_t meta_size);

#endif
