/* dash_pool.h -- the dashboard's kept connections (PostgreSQL, Redis), one
 * cache per kind: connections idle between requests, found again by their
 * target ("<namespace>/<secret>/<key>" for a DSN from a Secret, the address
 * for Redis), bounded, the least recently used idle one closed first when
 * the bound is reached. A connection is lent to one request at a time: a
 * request takes one (or opens its own when none is idle), and gives it
 * back when it worked or drops it (closes it) when it failed, so the next
 * request reconnects. Targets never hold a secret's value: the DSN is read
 * from its Secret only when a connection is opened.
 *
 * Threads: every function may be called from any thread (one mutex);
 * close_fn runs outside it.
 */
#ifndef SLUICE_DASH_POOL_H
#define SLUICE_DASH_POOL_H

#include <stddef.h>

#define DASH_POOL_TARGET_MAX 400

typedef void (*dash_pool_close_fn)(void *conn);

struct dash_pool;

/* A pool keeping at most max_idle idle connections (all targets together).
 * NULL when out of memory. */
struct dash_pool *dash_pool_new(size_t max_idle, dash_pool_close_fn close_fn);

/* An idle connection for target (now the caller's), or NULL when none is
 * idle (open one). */
void *dash_pool_take(struct dash_pool *p, const char *target);

/* Gives a working connection back, idle for target; when max_idle are idle
 * already, the least recently given back one is closed (or this one, when
 * target is too long). */
void dash_pool_give(struct dash_pool *p, const char *target, void *conn);

/* Closes a connection that failed (so the next take opens a new one). */
void dash_pool_drop(struct dash_pool *p, void *conn);

/* Idle connections now. */
size_t dash_pool_idle(struct dash_pool *p);

/* Closes every idle connection and frees p; lent ones stay their holders'
 * (drop them first). NULL is a no-op. */
void dash_pool_free(struct dash_pool *p);

#endif
