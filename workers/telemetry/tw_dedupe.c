/* tw_dedupe.c -- (key, ts) dedupe within a horizon; see tw_dedupe.h.
 *
 * Layout: a ring of remembered pairs in arrival order (so forgetting is
 * popping the head), and an open-addressing index (linear probing, at most
 * half full) whose slots hold a ring position plus 32 bits of the pair's
 * hash, so most probes never touch the ring. Each pair knows its slot, so
 * forgetting it needs no probe; deleting uses backward shifting (and keeps
 * those back-pointers right), so there are no tombstones to clean up.
 *
 * Out-of-order pairs can sit in the ring behind a younger head; they are
 * forgotten a little later than their time, which is harmless: a pair is
 * only ever matched by an event with the same ts, and an event that old is
 * beyond the horizon and never looked up.
 */
#include "tw_dedupe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_hash.h"

#define RING_MIN_CAP 1024u

struct pair {
	uint64_t key_hash;
	int64_t ts;
	uint32_t slot; /* where the index holds it: eviction needs no probe */
};

struct slot {
	uint32_t pos1; /* ring position + 1; 0: empty */
	uint32_t hfrag;
};

struct tw_dedupe {
	int64_t horizon;
	uint32_t max_entries;

	struct pair *ring;
	uint32_t ring_cap; /* power of two */
	uint32_t head;     /* oldest pair */
	uint32_t count;

	struct slot *slots;
	uint32_t slot_mask; /* slots: 2 * ring_cap */

	int64_t max_ts;
	struct tw_dedupe_stats st;
};

static uint64_t pair_hash(uint64_t key_hash, int64_t ts)
{
	return tw_hash_mix(key_hash ^ tw_hash_mix((uint64_t)ts));
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Allocates ring and index for ring_cap pairs; the old ones stay untouched
 * on failure. */
static int alloc_tables(uint32_t ring_cap, struct pair **ring, struct slot **slots)
{
	*ring = malloc((size_t)ring_cap * sizeof(**ring));
	*slots = calloc((size_t)ring_cap * 2, sizeof(**slots));
	if (*ring == NULL || *slots == NULL) {
		free(*ring);
		free(*slots);
		return -1;
	}
	return 0;
}

struct tw_dedupe *tw_dedupe_new(const struct tw_dedupe_config *cfg, char *errbuf,
                                size_t errbuf_size)
{
	struct tw_dedupe *d;
	uint32_t max = cfg->max_entries ? cfg->max_entries : TW_DEDUPE_MAX_ENTRIES_DEFAULT;

	if (cfg->horizon_ns <= 0) {
		snprintf(errbuf, errbuf_size, "dedupe: horizon %lld ns is not positive",
		         (long long)cfg->horizon_ns);
		return NULL;
	}
	if (max > TW_DEDUPE_MAX_ENTRIES_LIMIT) {
		snprintf(errbuf, errbuf_size, "dedupe: max_entries %u is above %u", max,
		         TW_DEDUPE_MAX_ENTRIES_LIMIT);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto nomem;
	d->horizon = cfg->horizon_ns;
	d->max_entries = max;
	d->ring_cap = pow2_at_least(max < RING_MIN_CAP ? max : RING_MIN_CAP);
	if (alloc_tables(d->ring_cap, &d->ring, &d->slots) < 0)
		goto nomem;
	d->slot_mask = d->ring_cap * 2 - 1;
	d->max_ts = INT64_MIN;
	return d;
nomem:
	free(d);
	snprintf(errbuf, errbuf_size, "dedupe: out of memory");
	return NULL;
}

void tw_dedupe_free(struct tw_dedupe *d)
{
	if (d == NULL)
		return;
	free(d->ring);
	free(d->slots);
	free(d);
}

static void index_insert(struct tw_dedupe *d, uint32_t pos, uint64_t h)
{
	uint32_t i = (uint32_t)h & d->slot_mask;

	while (d->slots[i].pos1 != 0)
		i = (i + 1) & d->slot_mask;
	d->slots[i].pos1 = pos + 1;
	d->slots[i].hfrag = (uint32_t)h;
	d->ring[pos].slot = i;
}

/* Removes ring position pos from the index. */
static void index_remove(struct tw_dedupe *d, uint32_t pos)
{
	uint32_t mask = d->slot_mask;
	uint32_t i = d->ring[pos].slot;

	/* Backward shift: pull later members of the probe run into the gap
	 * when the gap lies between their home slot and where they are. */
	for (uint32_t j = (i + 1) & mask; d->slots[j].pos1 != 0; j = (j + 1) & mask) {
		uint32_t home = d->slots[j].hfrag & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			d->slots[i] = d->slots[j];
			d->ring[d->slots[i].pos1 - 1].slot = i;
			i = j;
		}
	}
	d->slots[i].pos1 = 0;
}

static void pop_head(struct tw_dedupe *d)
{
	index_remove(d, d->head);
	d->head = (d->head + 1) & (d->ring_cap - 1);
	d->count--;
}

/* Doubles the ring (up to what max_entries needs); -1 when out of memory. */
static int grow(struct tw_dedupe *d)
{
	uint32_t cap = d->ring_cap * 2;
	struct pair *ring;
	struct slot *slots;

	if (alloc_tables(cap, &ring, &slots) < 0)
		return -1;
	for (uint32_t k = 0; k < d->count; k++)
		ring[k] = d->ring[(d->head + k) & (d->ring_cap - 1)];
	free(d->ring);
	free(d->slots);
	d->ring = ring;
	d->slots = slots;
	d->ring_cap = cap;
	d->slot_mask = cap * 2 - 1;
	d->head = 0;
	for (uint32_t k = 0; k < d->count; k++)
		index_insert(d, k, pair_hash(ring[k].key_hash, ring[k].ts));
	return 0;
}

int tw_dedupe_check(struct tw_dedupe *d, uint64_t key_hash, int64_t ts_ns)
{
	uint64_t h;
	int64_t cutoff;
	uint32_t i, pos;

	d->st.checked++;
	if (ts_ns > d->max_ts)
		d->max_ts = ts_ns;
	/* max_ts >= ts_ns here, so only the subtraction can overflow. */
	cutoff = d->max_ts < INT64_MIN + d->horizon ? INT64_MIN : d->max_ts - d->horizon;
	while (d->count > 0 && d->ring[d->head].ts <= cutoff)
		pop_head(d);
	if (ts_ns <= cutoff) {
		d->st.beyond_horizon++;
		return TW_DEDUPE_NEW;
	}

	h = pair_hash(key_hash, ts_ns);
	for (i = (uint32_t)h & d->slot_mask; d->slots[i].pos1 != 0; i = (i + 1) & d->slot_mask) {
		const struct pair *p;

		if (d->slots[i].hfrag != (uint32_t)h)
			continue;
		p = &d->ring[d->slots[i].pos1 - 1];
		if (p->key_hash == key_hash && p->ts == ts_ns) {
			d->st.duplicates++;
			return TW_DEDUPE_DUPLICATE;
		}
	}

	if (d->count == d->max_entries ||
	    (d->count == d->ring_cap && (d->ring_cap >= d->max_entries || grow(d) < 0))) {
		pop_head(d);
		d->st.evicted_early++;
	}
	pos = (d->head + d->count) & (d->ring_cap - 1);
	d->ring[pos].key_hash = key_hash;
	d->ring[pos].ts = ts_ns;
	d->count++;
	index_insert(d, pos, h);
	return TW_DEDUPE_NEW;
}

void tw_dedupe_restore(struct tw_dedupe *d, int64_t max_ts_ns)
{
	if (max_ts_ns > d->max_ts)
		d->max_ts = max_ts_ns;
}

void tw_dedupe_stats(const struct tw_dedupe *d, struct tw_dedupe_stats *st)
{
	*st = d->st;
	st->entries = d->count;
	st->capacity = d->ring_cap;
	st->max_ts_ns = d->max_ts;
}
