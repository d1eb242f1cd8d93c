/*
 * topic_ledger.h - the topics a librdkafka handle has touched, and when to
 * make the handle again so that it keeps no topic forever.
 *
 * librdkafka 2.0.2 keeps an internal topic object (with its partition
 * objects) for every topic a handle described, queried offsets for or
 * produced to, until the handle is destroyed: ~9 KiB for a 4-partition
 * topic, so a long-lived handle grows with every short-lived VideoJob
 * (issue 19). It has no call that drops one topic. The ledger is the
 * owner's record of those topics (name -> last use, and whether the owner
 * said it is gone); topic_ledger_renew says when enough of them are dead
 * that the owner should destroy its handle and make a new one, between
 * calls (none in flight on the handle), then topic_ledger_clear.
 *
 * A topic is dead when the owner forgot it (topic_ledger_forget: its
 * resource went away, the topic was deleted) or when it was not touched for
 * longer than the ledger's stale_ms; else live. The handle should be made
 * again when dead >= max(TOPIC_LEDGER_MIN_DEAD, live): a handle then holds
 * at most about twice its live topics (plus TOPIC_LEDGER_MIN_DEAD), and
 * making it again costs one connection setup per that many dead topics.
 *
 * Bounded: at most cap topics. A touch of a new topic on a full ledger is
 * refused (TOPIC_LEDGER_FULL): the owner makes its handle again (and
 * clears the ledger) before it touches more topics.
 *
 * Pure: no I/O, no clock of its own (the caller passes now_ms, any
 * monotonic milliseconds). Threads: none and no locks; the owner
 * serialises access (one ledger per handle).
 */
#ifndef SLUICE_TOPIC_LEDGER_H
#define SLUICE_TOPIC_LEDGER_H

#include <stddef.h>
#include <stdint.h>

/* Dead topics a handle may hold however few are live. */
#define TOPIC_LEDGER_MIN_DEAD 32
/* Kafka's longest topic name. */
#define TOPIC_LEDGER_NAME_MAX 249

enum topic_ledger_rc {
	TOPIC_LEDGER_OK = 0,
	TOPIC_LEDGER_EINVAL = -1, /* NULL, "", or a name over TOPIC_LEDGER_NAME_MAX */
	TOPIC_LEDGER_ENOMEM = -2,
	TOPIC_LEDGER_FULL = -3, /* a new topic with cap topics held */
};

struct topic_ledger;

/* What a ledger holds at a time now_ms. held = live + dead. */
struct topic_ledger_counts {
	size_t held; /* topics the handle touched since it was made */
	size_t live;
	size_t dead; /* forgotten, or not touched for longer than stale_ms */
	size_t forgotten;
};

/*
 * A ledger for at most cap topics (cap >= 1). stale_ms > 0: a topic not
 * touched for longer counts as dead; <= 0: only forgotten topics are
 * dead. Returns 0 with *out, TOPIC_LEDGER_EINVAL or TOPIC_LEDGER_ENOMEM.
 * Free with topic_ledger_free (NULL is a no-op).
 */
int topic_ledger_new(size_t cap, int64_t stale_ms, struct topic_ledger **out);
void topic_ledger_free(struct topic_ledger *l);

/*
 * Records that the handle is about to touch topic (call it before the
 * request, so a refusal comes before the handle holds the topic): its last
 * use becomes now_ms (never moved back) and a forgotten topic is live
 * again. Returns 0, TOPIC_LEDGER_FULL (a new topic, cap held: make the
 * handle again, topic_ledger_clear, touch again), TOPIC_LEDGER_EINVAL or
 * TOPIC_LEDGER_ENOMEM; on error the ledger is unchanged.
 */
int topic_ledger_touch(struct topic_ledger *l, const char *topic, int64_t now_ms);

/* Marks topic dead now (its resource went away, it was deleted). Returns 1
 * when the ledger holds topic, 0 when the handle never touched it (nothing
 * to do). */
int topic_ledger_forget(struct topic_ledger *l, const char *topic);

/* 1 when the ledger holds topic (live or dead). */
int topic_ledger_has(const struct topic_ledger *l, const char *topic);

/* The counts at now_ms into *out. O(held). */
void topic_ledger_count(const struct topic_ledger *l, int64_t now_ms,
                        struct topic_ledger_counts *out);

/* The decision alone: 1 when a handle holding live and dead topics should be
 * made again, dead >= max(TOPIC_LEDGER_MIN_DEAD, live) with dead > 0. */
int topic_ledger_decide(size_t live, size_t dead);

/* topic_ledger_decide on the ledger's counts at now_ms. O(held). */
int topic_ledger_renew(const struct topic_ledger *l, int64_t now_ms);

/* Forgets every topic: call it once the handle was made again (the new
 * handle holds none). */
void topic_ledger_clear(struct topic_ledger *l);

/* The cap given to topic_ledger_new. */
size_t topic_ledger_cap(const struct topic_ledger *l);

#endif /* SLUICE_TOPIC_LEDGER_H */
