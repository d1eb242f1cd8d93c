/*
 * workqueue.h - the operator's work queue: keys to reconcile, each handed to
 * one worker at a time, retried with per-key exponential backoff.
 *
 * Semantics are client-go's (k8s.io/client-go/util/workqueue;
 * docs/operator-internals.md), which controllers are written against:
 *
 *   - A key queued twice is queued once (events for one object coalesce).
 *   - A key being processed is never handed to a second worker: added again
 *     meanwhile, it is queued when workqueue_done() says the first run ended,
 *     so the next run sees the newest state.
 *   - workqueue_add_rate_limited() requeues a key after base * 2^n, n the
 *     key's failures so far (5 ms, 10 ms, 20 ms ... capped at 1000 s);
 *     workqueue_forget() resets n after a success.
 *   - workqueue_add_after() queues a key once a delay has passed (periodic
 *     work such as a status poll); a key already waiting keeps the earlier
 *     of its two times.
 *   - Bounded: at most max_keys distinct keys are tracked (queued, waiting,
 *     processing or holding a failure count); adding one more fails with
 *     WORKQUEUE_EFULL rather than growing without limit.
 *   - workqueue_shutdown() wakes every waiting workqueue_get(), which then
 *     returns WORKQUEUE_ESHUTDOWN even when keys are still queued: the
 *     operator is stopping and starts no new reconcile.
 *
 * Keys are strings of at most WORKQUEUE_KEY_MAX - 1 bytes; the operator's
 * are "<Kind>/<namespace>/<name>" (workqueue_key()).
 *
 * Time: the delays are measured on the queue's clock, CLOCK_MONOTONIC in
 * milliseconds unless options inject another (tests use a fake one and
 * drive it by hand). How long workqueue_get() blocks (timeout_ms) is real
 * time.
 *
 * Threads: every function may be called from any thread at once; one mutex
 * guards the queue and a condition variable (on CLOCK_MONOTONIC) wakes
 * getters when a key is queued, comes due or the queue shuts down. The
 * clock function is called with the mutex held and must not call back into
 * the queue. No thread of its own: a key waiting in add_after() is moved to
 * the queue by whichever getter next looks.
 */
#ifndef SLUICE_WORKQUEUE_H
#define SLUICE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Longest key, NUL included: a kind, a namespace (63), a name (253). */
#define WORKQUEUE_KEY_MAX 512

#define WORKQUEUE_MAX_KEYS_DEFAULT 16384
#define WORKQUEUE_BASE_DELAY_MS_DEFAULT 5
#define WORKQUEUE_MAX_DELAY_MS_DEFAULT (1000 * 1000)

enum workqueue_rc {
	WORKQUEUE_OK = 0,
	WORKQUEUE_EINVAL = -1,    /* empty or too long key; done() of a key not taken */
	WORKQUEUE_ENOMEM = -2,    /* an allocation failed */
	WORKQUEUE_EFULL = -3,     /* max_keys distinct keys are tracked already */
	WORKQUEUE_ESHUTDOWN = -4, /* workqueue_shutdown() was called */
	WORKQUEUE_ETIMEDOUT = -5, /* workqueue_get(): nothing came due in time */
};

/* Milliseconds on a monotonic clock. */
typedef int64_t (*workqueue_clock_fn)(void *opaque);

struct workqueue_options {
	size_t max_keys;          /* 0: WORKQUEUE_MAX_KEYS_DEFAULT */
	int64_t base_delay_ms;    /* first retry's delay; 0: 5 */
	int64_t max_delay_ms;     /* cap of every retry's delay; 0: 1000 s */
	workqueue_clock_fn clock; /* NULL: CLOCK_MONOTONIC */
	void *clock_opaque;
};

/* Counters, for workqueue_depth, workqueue_adds_total, workqueue_retries_total
 * (controller-runtime's workqueue metrics; docs/operator.md, "Metrics"). */
struct workqueue_stats {
	size_t depth;      /* keys queued, ready for a worker */
	size_t waiting;    /* keys waiting for a delay to pass */
	size_t processing; /* keys a worker holds */
	size_t tracked;    /* distinct keys known, bounded by max_keys */
	uint64_t adds;     /* keys queued (a coalesced add does not count) */
	uint64_t retries;  /* workqueue_add_rate_limited() calls */
	uint64_t refused;  /* adds refused with WORKQUEUE_EFULL */
};

struct workqueue;

/*
 * Creates a queue; opts NULL takes every default. Returns 0 with *out set,
 * or WORKQUEUE_EINVAL (max_delay below base_delay, a negative delay) /
 * WORKQUEUE_ENOMEM with errbuf (may be NULL) saying which.
 */
int workqueue_new(struct workqueue **out, const struct workqueue_options *opts, char *errbuf,
                  size_t errbuf_size);

/* Frees the queue. No other thread may be using it (shut it down and join
 * the workers first). NULL is a no-op. */
void workqueue_free(struct workqueue *q);

/*
 * Queues key now (a no-op when it is queued already). Returns 0,
 * WORKQUEUE_ESHUTDOWN, WORKQUEUE_EFULL, WORKQUEUE_EINVAL or WORKQUEUE_ENOMEM.
 */
int workqueue_add(struct workqueue *q, const char *key);

/* Queues key once delay_ms has passed on the queue's clock; delay_ms <= 0
 * is workqueue_add(). Returns as workqueue_add(). */
int workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms);

/*
 * Records a failure of key and queues it after its backoff:
 * min(base * 2^failures, max), failures counted before this one. The delay
 * used goes to *delay_ms when not NULL. Returns as workqueue_add().
 */
int workqueue_add_rate_limited(struct workqueue *q, const char *key, int64_t *delay_ms);

/* Forgets key's failures (after a successful reconcile). No-op for an
 * unknown key. */
void workqueue_forget(struct workqueue *q, const char *key);

/* How many failures key has now (client-go's NumRequeues). */
unsigned workqueue_failures(struct workqueue *q, const char *key);

/*
 * Takes the oldest queued key into key_out (key_size bytes, at least
 * WORKQUEUE_KEY_MAX) and marks it processing; the caller must call
 * workqueue_done() with it when the reconcile ends, whatever its result.
 * Blocks while nothing is ready: timeout_ms < 0 waits as long as needed,
 * 0 not at all, > 0 at most that long. Returns 0, WORKQUEUE_ETIMEDOUT,
 * WORKQUEUE_ESHUTDOWN, or WORKQUEUE_EINVAL (key_size too small).
 */
int workqueue_get(struct workqueue *q, char *key_out, size_t key_size, int timeout_ms);

/* Ends the processing of key (from workqueue_get); a key added meanwhile is
 * queued now. Returns 0, or WORKQUEUE_EINVAL when key was not being
 * processed. Works after shutdown. */
int workqueue_done(struct workqueue *q, const char *key);

/* Stops the queue: adds fail with WORKQUEUE_ESHUTDOWN and every getter
 * returns WORKQUEUE_ESHUTDOWN, waiting ones at once. Idempotent. */
void workqueue_shutdown(struct workqueue *q);

/* Whether workqueue_shutdown() was called. */
int workqueue_shutting_down(struct workqueue *q);

/* Keys queued and ready (workqueue_depth). */
size_t workqueue_len(struct workqueue *q);

/* A consistent copy of the counters. */
void workqueue_stats(struct workqueue *q, struct workqueue_stats *out);

/* A fixed string for rc: "queue full", ... */
const char *workqueue_strerror(int rc);

/*
 * Writes the operator's key for an object, "<kind>/<namespace>/<name>", or
 * "<kind>/<name>" when namespace is NULL or "" (cluster-scoped), into buf
 * (size bytes). kind and name must be non-empty and no part may hold '/'.
 * Returns 0 or WORKQUEUE_EINVAL (also when it does not fit).
 */
int workqueue_key(char *buf, size_t size, const char *kind, const char *namespace,
                  const char *name);

/*
 * Splits a key from workqueue_key() in place: *kind, *namespace ("" for
 * cluster-scoped) and *name point into key, whose '/' become NULs.
 * Returns 0 or WORKQUEUE_EINVAL (not two or three non-empty parts).
 */
int workqueue_key_split(char *key, const char **kind, const char **namespace, const char **name);

#endif /* SLUICE_WORKQUEUE_H */
