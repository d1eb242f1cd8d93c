/*
 * workqueue.c - the keyed work queue with per-key backoff; see workqueue.h.
 *
 * Every key the queue knows has one entry, found through a strmap. An entry
 * is in up to two places at once: the FIFO of ready keys (a ring of entry
 * pointers) and the min-heap of keys waiting for a time (ordered by
 * ready_at). Its flags follow client-go's sets: "dirty" means it must be
 * processed (again); "processing" means a worker holds it. A dirty key that
 * is not being processed is in the FIFO, exactly once. An entry is freed as
 * soon as it is none of dirty, processing, waiting and failed, so the map
 * holds only keys with something to remember.
 */
#include "workqueue.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "strmap.h"

#define NOT_WAITING SIZE_MAX

struct entry {
	const char *key; /* the map's copy, valid while the entry lives */
	unsigned failures;
	unsigned char dirty, processing;
	size_t heap_idx; /* NOT_WAITING or its place in the heap */
	int64_t ready_at;
};

struct workqueue {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */

	struct strmap *entries; /* key -> struct entry * */
	size_t max_keys;

	struct entry **fifo; /* ring of max_keys slots */
	size_t head, count;

	struct entry **heap; /* max_keys slots, min ready_at first */
	size_t nheap;

	int64_t base_delay_ms, max_delay_ms;
	workqueue_clock_fn clock;
	void *clock_opaque;

	size_t processing;
	int shutdown;
	uint64_t adds, retries, refused;
};

/* The default clock: clock_mono_ms, in the shape of an injectable one. */
static int64_t default_clock(void *opaque)
{
	(void)opaque;
	return clock_mono_ms();
}

static int64_t now_ms(const struct workqueue *q)
{
	return q->clock(q->clock_opaque);
}

int workqueue_new(struct workqueue **out, const struct workqueue_options *opts, char *errbuf,
                  size_t errbuf_size)
{
	struct workqueue_options o = {0};
	struct workqueue *q;
	int rc;

	*out = NULL;
	if (opts != NULL)
		o = *opts;
	if (o.max_keys == 0)
		o.max_keys = WORKQUEUE_MAX_KEYS_DEFAULT;
	if (o.base_delay_ms == 0)
		o.base_delay_ms = WORKQUEUE_BASE_DELAY_MS_DEFAULT;
	if (o.max_delay_ms == 0)
		o.max_delay_ms = WORKQUEUE_MAX_DELAY_MS_DEFAULT;
	if (o.base_delay_ms < 0 || o.max_delay_ms < 0)
		return err_set(errbuf, errbuf_size, WORKQUEUE_EINVAL,
		               "workqueue: delays must not be negative");
	if (o.max_delay_ms < o.base_delay_ms)
		return err_set(errbuf, errbuf_size, WORKQUEUE_EINVAL,
		               "workqueue: max_delay_ms is below base_delay_ms");
	if (o.max_keys > SIZE_MAX / sizeof(struct entry *) / 2)
		return err_set(errbuf, errbuf_size, WORKQUEUE_EINVAL,
		               "workqueue: max_keys is too large");

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return err_set(errbuf, errbuf_size, WORKQUEUE_ENOMEM, "workqueue: out of memory");
	q->max_keys = o.max_keys;
	q->base_delay_ms = o.base_delay_ms;
	q->max_delay_ms = o.max_delay_ms;
	q->clock = o.clock != NULL ? o.clock : default_clock;
	q->clock_opaque = o.clock_opaque;
	q->fifo = calloc(o.max_keys, sizeof(*q->fifo));
	q->heap = calloc(o.max_keys, sizeof(*q->heap));
	if (q->fifo == NULL || q->heap == NULL || strmap_new(&q->entries, o.max_keys) != 0) {
		free(q->fifo);
		free(q->heap);
		free(q);
		return err_set(errbuf, errbuf_size, WORKQUEUE_ENOMEM, "workqueue: out of memory");
	}
	if ((rc = pthread_mutex_init(&q->mu, NULL)) != 0) {
		strmap_free(q->entries);
		free(q->fifo);
		free(q->heap);
		free(q);
		return err_set(errbuf, errbuf_size, WORKQUEUE_ENOMEM, "workqueue: %s",
		               strerror(rc));
	}
	/* Timed waits on CLOCK_MONOTONIC, so a wall-clock step (NTP) neither
	 * stalls nor hurries a getter. */
	if ((rc = clock_cond_init(&q->cv)) != 0) {
		pthread_mutex_destroy(&q->mu);
		strmap_free(q->entries);
		free(q->fifo);
		free(q->heap);
		free(q);
		return err_set(errbuf, errbuf_size, WORKQUEUE_ENOMEM, "workqueue: %s",
		               strerror(rc));
	}
	*out = q;
	return 0;
}

static int free_entry(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	free(value);
	return 0;
}

void workqueue_free(struct workqueue *q)
{
	if (q == NULL)
		return;
	strmap_foreach(q->entries, free_entry, NULL);
	strmap_free(q->entries);
	free(q->fifo);
	free(q->heap);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static int key_ok(const char *key)
{
	return key != NULL && key[0] != '\0' && strlen(key) < WORKQUEUE_KEY_MAX;
}

/* ---------------------------------------------------------------- entries */

/* The entry for key, created when absent; NULL with *rc set when the queue
 * is full or memory ran out. */
static struct entry *entry_obtain(struct workqueue *q, const char *key, int *rc)
{
	struct entry *e = strmap_get(q->entries, key);
	int r;

	if (e != NULL)
		return e;
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		*rc = WORKQUEUE_ENOMEM;
		return NULL;
	}
	e->heap_idx = NOT_WAITING;
	r = strmap_put(q->entries, key, e, &e->key, NULL);
	if (r != 0) {
		free(e);
		if (r == STRMAP_EFULL) {
			q->refused++;
			*rc = WORKQUEUE_EFULL;
		} else {
			*rc = WORKQUEUE_ENOMEM;
		}
		return NULL;
	}
	return e;
}

/* Frees e when nothing about it is left to remember. */
static void entry_release(struct workqueue *q, struct entry *e)
{
	if (e->dirty || e->processing || e->heap_idx != NOT_WAITING || e->failures != 0)
		return;
	strmap_remove(q->entries, e->key);
	free(e);
}

/* ---------------------------------------------------------------- the FIFO */

static void fifo_push(struct workqueue *q, struct entry *e)
{
	/* Cannot overflow: the ring has a slot per possible entry and an entry
	 * is in it at most once. */
	q->fifo[(q->head + q->count) % q->max_keys] = e;
	q->count++;
	pthread_cond_signal(&q->cv);
}

static struct entry *fifo_pop(struct workqueue *q)
{
	struct entry *e = q->fifo[q->head];

	q->head = (q->head + 1) % q->max_keys;
	q->count--;
	return e;
}

/* client-go's Add on an entry: dirty once; into the FIFO unless a worker
 * holds it (then done() queues it). */
static void enqueue(struct workqueue *q, struct entry *e)
{
	if (e->dirty)
		return;
	e->dirty = 1;
	q->adds++;
	if (!e->processing)
		fifo_push(q, e);
}

/* ---------------------------------------------------------------- the heap */

static void heap_set(struct workqueue *q, size_t i, struct entry *e)
{
	q->heap[i] = e;
	e->heap_idx = i;
}

static void heap_up(struct workqueue *q, size_t i)
{
	struct entry *e = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (q->heap[parent]->ready_at <= e->ready_at)
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, e);
}

static void heap_down(struct workqueue *q, size_t i)
{
	struct entry *e = q->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		int64_t best = e->ready_at;

		if (l < q->nheap && q->heap[l]->ready_at < best) {
			m = l;
			best = q->heap[l]->ready_at;
		}
		if (r < q->nheap && q->heap[r]->ready_at < best)
			m = r;
		if (m == i)
			break;
		heap_set(q, i, q->heap[m]);
		i = m;
	}
	heap_set(q, i, e);
}

static void heap_remove_top(struct workqueue *q)
{
	struct entry *top = q->heap[0];

	top->heap_idx = NOT_WAITING;
	q->nheap--;
	if (q->nheap > 0) {
		q->heap[0] = q->heap[q->nheap];
		heap_down(q, 0);
	}
}

/* Waits e until ready_at, or moves it earlier when it waits already. */
static void wait_until(struct workqueue *q, struct entry *e, int64_t ready_at)
{
	int wakes = q->nheap == 0 || ready_at < q->heap[0]->ready_at;

	if (e->heap_idx == NOT_WAITING) {
		e->ready_at = ready_at;
		q->heap[q->nheap] = e;
		e->heap_idx = q->nheap++;
		heap_up(q, e->heap_idx);
	} else if (ready_at < e->ready_at) {
		e->ready_at = ready_at;
		heap_up(q, e->heap_idx);
	}
	/* A new earliest time: sleeping getters must shorten their wait. */
	if (wakes)
		pthread_cond_broadcast(&q->cv);
}

/* Moves every waiting key that has come due into the FIFO. */
static void promote_due(struct workqueue *q)
{
	int64_t now;

	if (q->nheap == 0)
		return;
	now = now_ms(q);
	while (q->nheap > 0 && q->heap[0]->ready_at <= now) {
		struct entry *e = q->heap[0];

		heap_remove_top(q);
		enqueue(q, e);
	}
}

/* ---------------------------------------------------------------- adding */

static int add_locked(struct workqueue *q, const char *key, int64_t delay_ms, int failure,
                      int64_t *delay_out)
{
	struct entry *e;
	int rc = 0;

	if (q->shutdown)
		return WORKQUEUE_ESHUTDOWN;
	e = entry_obtain(q, key, &rc);
	if (e == NULL)
		return rc;
	if (failure) {
		/* base * 2^failures, capped; shifted only while it cannot
		 * overflow. */
		unsigned n = e->failures;
		int64_t d = q->base_delay_ms;

		while (n-- > 0 && d < q->max_delay_ms)
			d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
		delay_ms = d < q->max_delay_ms ? d : q->max_delay_ms;
		if (e->failures < UINT_MAX)
			e->failures++;
		q->retries++;
		if (delay_out != NULL)
			*delay_out = delay_ms;
	}
	if (delay_ms <= 0) {
		enqueue(q, e);
		return 0;
	}
	{
		int64_t now = now_ms(q);

		wait_until(q, e, delay_ms > INT64_MAX - now ? INT64_MAX : now + delay_ms);
	}
	return 0;
}

int workqueue_add(struct workqueue *q, const char *key)
{
	return workqueue_add_after(q, key, 0);
}

int workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms)
{
	int rc;

	if (!key_ok(key))
		return WORKQUEUE_EINVAL;
	pthread_mutex_lock(&q->mu);
	rc = add_locked(q, key, delay_ms, 0, NULL);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int workqueue_add_rate_limited(struct workqueue *q, const char *key, int64_t *delay_ms)
{
	int rc;

	if (!key_ok(key))
		return WORKQUEUE_EINVAL;
	pthread_mutex_lock(&q->mu);
	rc = add_locked(q, key, 0, 1, delay_ms);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	struct entry *e;

	if (!key_ok(key))
		return;
	pthread_mutex_lock(&q->mu);
	e = strmap_get(q->entries, key);
	if (e != NULL) {
		e->failures = 0;
		entry_release(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

unsigned workqueue_failures(struct workqueue *q, const char *key)
{
	struct entry *e;
	unsigned n;

	if (!key_ok(key))
		return 0;
	pthread_mutex_lock(&q->mu);
	e = strmap_get(q->entries, key);
	n = e != NULL ? e->failures : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* ---------------------------------------------------------------- taking */

int workqueue_get(struct workqueue *q, char *key_out, size_t key_size, int timeout_ms)
{
	int64_t give_up = timeout_ms > 0 ? clock_mono_ms() + timeout_ms : 0;
	int rc;

	if (key_out == NULL || key_size < WORKQUEUE_KEY_MAX)
		return WORKQUEUE_EINVAL;
	key_out[0] = '\0';
	pthread_mutex_lock(&q->mu);
	for (;;) {
		int64_t wait_ms = -1; /* -1: until signalled */

		if (q->shutdown) {
			rc = WORKQUEUE_ESHUTDOWN;
			break;
		}
		promote_due(q);
		if (q->count > 0) {
			struct entry *e = fifo_pop(q);

			e->dirty = 0;
			e->processing = 1;
			q->processing++;
			memcpy(key_out, e->key, strlen(e->key) + 1);
			rc = 0;
			break;
		}
		if (timeout_ms == 0) {
			rc = WORKQUEUE_ETIMEDOUT;
			break;
		}
		if (timeout_ms > 0) {
			wait_ms = give_up - clock_mono_ms();
			if (wait_ms <= 0) {
				rc = WORKQUEUE_ETIMEDOUT;
				break;
			}
		}
		if (q->nheap > 0) {
			int64_t due = q->heap[0]->ready_at - now_ms(q);

			/* At least 1 ms, so an injected clock that lags
			 * the real one cannot spin the loop. */
			if (due < 1)
				due = 1;
			if (wait_ms < 0 || due < wait_ms)
				wait_ms = due;
		}
		if (wait_ms < 0) {
			pthread_cond_wait(&q->cv, &q->mu);
		} else {
			struct timespec ts = clock_mono_deadline(wait_ms);
			int r = pthread_cond_timedwait(&q->cv, &q->mu, &ts);

			if (r != 0 && r != ETIMEDOUT && r != EINTR) {
				rc = WORKQUEUE_EINVAL; /* a broken mutex: nothing to wait on */
				break;
			}
		}
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int workqueue_done(struct workqueue *q, const char *key)
{
	struct entry *e;
	int rc = 0;

	if (!key_ok(key))
		return WORKQUEUE_EINVAL;
	pthread_mutex_lock(&q->mu);
	e = strmap_get(q->entries, key);
	if (e == NULL || !e->processing) {
		rc = WORKQUEUE_EINVAL;
	} else {
		e->processing = 0;
		q->processing--;
		/* Added while a worker held it: its turn now. After shutdown no
		 * getter will take it, but the FIFO still tracks it. */
		if (e->dirty)
			fifo_push(q, e);
		else
			entry_release(q, e);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void workqueue_shutdown(struct workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int workqueue_shutting_down(struct workqueue *q)
{
	int s;

	pthread_mutex_lock(&q->mu);
	s = q->shutdown;
	pthread_mutex_unlock(&q->mu);
	return s;
}

size_t workqueue_len(struct workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	promote_due(q);
	n = q->count;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void workqueue_stats(struct workqueue *q, struct workqueue_stats *out)
{
	pthread_mutex_lock(&q->mu);
	promote_due(q);
	out->depth = q->count;
	out->waiting = q->nheap;
	out->processing = q->processing;
	out->tracked = strmap_len(q->entries);
	out->adds = q->adds;
	out->retries = q->retries;
	out->refused = q->refused;
	pthread_mutex_unlock(&q->mu);
}

const char *workqueue_strerror(int rc)
{
	switch (rc) {
	case WORKQUEUE_OK:
		return "ok";
	case WORKQUEUE_EINVAL:
		return "invalid argument (empty or too long key, or done() of a key not taken)";
	case WORKQUEUE_ENOMEM:
		return "out of memory";
	case WORKQUEUE_EFULL:
		return "work queue full (max_keys distinct keys tracked)";
	case WORKQUEUE_ESHUTDOWN:
		return "work queue shut down";
	case WORKQUEUE_ETIMEDOUT:
		return "no key came due in time";
	default:
		return "unknown work queue error";
	}
}

/* ---------------------------------------------------------------- keys */

static int part_ok(const char *s, int may_be_empty)
{
	if (s == NULL || s[0] == '\0')
		return may_be_empty;
	return strchr(s, '/') == NULL;
}

int workqueue_key(char *buf, size_t size, const char *kind, const char *namespace, const char *name)
{
	int n;

	if (buf == NULL || size == 0)
		return WORKQUEUE_EINVAL;
	buf[0] = '\0';
	if (!part_ok(kind, 0) || !part_ok(namespace, 1) || !part_ok(name, 0))
		return WORKQUEUE_EINVAL;
	if (namespace == NULL || namespace[0] == '\0')
		n = snprintf(buf, size, "%s/%s", kind, name);
	else
		n = snprintf(buf, size, "%s/%s/%s", kind, namespace, name);
	if (n < 0 || (size_t)n >= size || (size_t)n >= WORKQUEUE_KEY_MAX) {
		buf[0] = '\0';
		return WORKQUEUE_EINVAL;
	}
	return 0;
}

int workqueue_key_split(char *key, const char **kind, const char **namespace, const char **name)
{
	char *a, *b;

	if (key == NULL || (a = strchr(key, '/')) == NULL)
		return WORKQUEUE_EINVAL;
	b = strchr(a + 1, '/');
	if (b != NULL && strchr(b + 1, '/') != NULL)
		return WORKQUEUE_EINVAL;
	if (a == key || a[1] == '\0' || a[1] == '/' || (b != NULL && b[1] == '\0'))
		return WORKQUEUE_EINVAL;
	*a = '\0';
	*kind = key;
	if (b == NULL) {
		*namespace = a; /* the NUL just written: "" */
		*name = a + 1;
	} else {
		*b = '\0';
		*namespace = a + 1;
		*name = b + 1;
	}
	return 0;
}
