/* tw_dedupe.h -- drops repeats of (key, timestamp) within a horizon.
 *
 * One tw_dedupe per Kafka partition (a key lives in one partition). It
 * remembers the pairs whose timestamp is newer than max_ts - horizon, where
 * max_ts is the largest event time it has been shown:
 *
 *   - a pair seen before and still remembered is a DUPLICATE;
 *   - a pair with ts <= max_ts - horizon is BEYOND the horizon: not looked
 *     up, not remembered, reported as new (with the default horizon,
 *     size + watermark delay, every such event is late for the windows
 *     anyway, so the window store drops it);
 *   - remembered pairs are forgotten as max_ts advances past them.
 *
 * Pairs are kept as (64-bit hash of the key, exact ts). Two different keys
 * are confused only if their hashes collide AND their timestamps are equal
 * within the horizon: with k distinct keys about k^2 / 2^65 (1e-12 for a
 * million keys). Memory is bounded: at most max_entries pairs, 40 bytes
 * each, allocated as needed. When a burst needs more, the pair that
 * arrived first is forgotten early (counted in evicted_early), so dedupe
 * degrades to "within the last max_entries events" rather than growing.
 *
 * Cost: O(1) on average per event (an arrival-order ring plus an
 * open-addressing index). Not thread-safe; one owner.
 */
#ifndef SLUICE_TW_DEDUPE_H
#define SLUICE_TW_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

/* TW_DEDUPE_MAX_ENTRIES_DEFAULT and _LIMIT are the spec's (tw_spec.h). */
#include "tw_spec.h"

enum tw_dedupe_verdict {
	TW_DEDUPE_NEW = 0,
	TW_DEDUPE_DUPLICATE = 1,
};

struct tw_dedupe_config {
	int64_t horizon_ns;   /* > 0 */
	uint32_t max_entries; /* 1 .. TW_DEDUPE_MAX_ENTRIES_LIMIT; 0 picks the default */
};

struct tw_dedupe_stats {
	uint64_t checked;        /* calls to tw_dedupe_check */
	uint64_t duplicates;     /* answered TW_DEDUPE_DUPLICATE */
	uint64_t beyond_horizon; /* too old to look up */
	uint64_t evicted_early;  /* forgotten inside the horizon for want of room */
	uint32_t entries;        /* pairs remembered now */
	uint32_t capacity;       /* pairs the current allocation holds */
	int64_t max_ts_ns;       /* INT64_MIN before the first event */
};

/*
 * A new, empty dedupe. Returns NULL with the reason in errbuf for a bad
 * config or when out of memory. Free with tw_dedupe_free.
 */
struct tw_dedupe *tw_dedupe_new(const struct tw_dedupe_config *cfg, char *errbuf,
                                size_t errbuf_size);

/* Frees d; NULL is a no-op. */
void tw_dedupe_free(struct tw_dedupe *d);

/*
 * Shows d one event: key_hash is tw_hash_bytes() of its key, ts_ns its event
 * time. Advances max_ts, forgets what fell out of the horizon, then answers
 * TW_DEDUPE_DUPLICATE (drop it) or TW_DEDUPE_NEW (remembered, unless beyond
 * the horizon). Never fails: running out of memory only shortens memory.
 */
int tw_dedupe_check(struct tw_dedupe *d, uint64_t key_hash, int64_t ts_ns);

/*
 * On a partition re-assigned from a checkpoint: sets max_ts to the
 * checkpoint's (INT64_MIN: none), so the horizon during the replay is the
 * one the first run had at that offset. Only raises max_ts.
 */
void tw_dedupe_restore(struct tw_dedupe *d, int64_t max_ts_ns);

void tw_dedupe_stats(const struct tw_dedupe *d, struct tw_dedupe_stats *st);

#endif
