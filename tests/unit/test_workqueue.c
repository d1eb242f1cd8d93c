/* Unit tests for operator/workqueue.c: dedup, one worker per key, requeue
 * after done(), per-key exponential backoff on a fake clock, delayed adds,
 * bounds, shutdown waking getters, and many threads hammering it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workqueue.h"

/* ---------------------------------------------------------------- helpers */

struct fake_clock {
	int64_t now;
};

static int64_t fake_now(void *opaque)
{
	return ((struct fake_clock *)opaque)->now;
}

static struct workqueue *new_queue(struct fake_clock *clk, size_t max_keys, int64_t base,
                                   int64_t max)
{
	struct workqueue_options o = {.max_keys = max_keys,
	                              .base_delay_ms = base,
	                              .max_delay_ms = max,
	                              .clock = clk != NULL ? fake_now : NULL,
	                              .clock_opaque = clk};
	struct workqueue *q;
	char err[128];

	assert_int_equal(workqueue_new(&q, &o, err, sizeof(err)), 0);
	return q;
}

/* Takes a key without blocking; "" when none is ready. */
static const char *take(struct workqueue *q)
{
	static char key[WORKQUEUE_KEY_MAX];
	int rc = workqueue_get(q, key, sizeof(key), 0);

	if (rc == WORKQUEUE_ETIMEDOUT)
		return "";
	assert_int_equal(rc, 0);
	return key;
}

static void take_done(struct workqueue *q, const char *want)
{
	char key[WORKQUEUE_KEY_MAX];

	assert_int_equal(workqueue_get(q, key, sizeof(key), 0), 0);
	assert_string_equal(key, want);
	assert_int_equal(workqueue_done(q, key), 0);
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- creation */

static void test_new_defaults_and_bad_options(void **state)
{
	struct workqueue *q;
	struct workqueue_options o = {0};
	char err[128];
	int64_t d;

	(void)state;
	assert_int_equal(workqueue_new(&q, NULL, err, sizeof(err)), 0);
	/* Defaults: 5 ms, then doubling. */
	assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
	assert_int_equal(d, 5);
	assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
	assert_int_equal(d, 10);
	workqueue_free(q);

	o.base_delay_ms = 100;
	o.max_delay_ms = 10;
	assert_int_equal(workqueue_new(&q, &o, err, sizeof(err)), WORKQUEUE_EINVAL);
	assert_null(q);
	assert_string_equal(err, "workqueue: max_delay_ms is below base_delay_ms");
	o.base_delay_ms = -1;
	assert_int_equal(workqueue_new(&q, &o, err, sizeof(err)), WORKQUEUE_EINVAL);
	assert_string_equal(err, "workqueue: delays must not be negative");
	o.base_delay_ms = 1;
	o.max_delay_ms = 1;
	o.max_keys = SIZE_MAX;
	assert_int_equal(workqueue_new(&q, &o, NULL, 0), WORKQUEUE_EINVAL);
	workqueue_free(NULL);
}

/* ---------------------------------------------------------------- FIFO, dedup */

static void test_fifo_order_and_dedup(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	struct workqueue_stats st;

	(void)state;
	assert_int_equal(workqueue_add(q, "VideoJob/ns/a"), 0);
	assert_int_equal(workqueue_add(q, "VideoJob/ns/b"), 0);
	assert_int_equal(workqueue_add(q, "VideoJob/ns/a"), 0); /* coalesced */
	assert_int_equal(workqueue_add(q, "TelemetryWindow/ns/a"), 0);
	assert_int_equal(workqueue_len(q), 3);
	workqueue_stats(q, &st);
	assert_int_equal(st.adds, 3);
	assert_int_equal(st.depth, 3);
	assert_int_equal(st.tracked, 3);

	take_done(q, "VideoJob/ns/a");
	take_done(q, "VideoJob/ns/b");
	take_done(q, "TelemetryWindow/ns/a");
	assert_string_equal(take(q), "");
	workqueue_stats(q, &st);
	/* Nothing left to remember: every entry was freed. */
	assert_int_equal(st.tracked, 0);
	assert_int_equal(st.processing, 0);
	workqueue_free(q);
}

static void test_key_never_handed_out_twice(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	char k1[WORKQUEUE_KEY_MAX];
	struct workqueue_stats st;

	(void)state;
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_get(q, k1, sizeof(k1), 0), 0);
	assert_string_equal(k1, "a");
	/* Added again (twice) while a worker holds it: not handed out... */
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_add(q, "b"), 0);
	assert_string_equal(take(q), "b");
	assert_string_equal(take(q), "");
	assert_int_equal(workqueue_len(q), 0);
	workqueue_stats(q, &st);
	assert_int_equal(st.processing, 2);
	assert_int_equal(workqueue_done(q, "b"), 0);
	/* ...until done(): then exactly once. */
	assert_int_equal(workqueue_done(q, "a"), 0);
	assert_int_equal(workqueue_len(q), 1);
	take_done(q, "a");
	assert_string_equal(take(q), "");
	workqueue_free(q);
}

static void test_done_errors(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	char k[WORKQUEUE_KEY_MAX];

	(void)state;
	assert_int_equal(workqueue_done(q, "never"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_add(q, "a"), 0);
	/* Queued but not taken. */
	assert_int_equal(workqueue_done(q, "a"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_get(q, k, sizeof(k), 0), 0);
	assert_int_equal(workqueue_done(q, "a"), 0);
	assert_int_equal(workqueue_done(q, "a"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_done(q, NULL), WORKQUEUE_EINVAL);
	workqueue_free(q);
}

static void test_bad_keys_and_buffers(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	char big[WORKQUEUE_KEY_MAX + 1];
	char small[8];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(workqueue_add(q, ""), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_add(q, NULL), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_add(q, big), WORKQUEUE_EINVAL);
	big[WORKQUEUE_KEY_MAX - 1] = '\0'; /* the longest allowed */
	assert_int_equal(workqueue_add(q, big), 0);
	assert_int_equal(workqueue_add_after(q, "", 10), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_add_rate_limited(q, "", NULL), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_get(q, small, sizeof(small), 0), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_get(q, NULL, 0, 0), WORKQUEUE_EINVAL);
	assert_string_equal(take(q), big);
	assert_int_equal(workqueue_done(q, big), 0);
	workqueue_forget(q, "");
	assert_int_equal(workqueue_failures(q, ""), 0);
	workqueue_free(q);
}

/* ---------------------------------------------------------------- backoff */

static void test_exponential_backoff_on_fake_clock(void **state)
{
	struct fake_clock clk = {1000};
	struct workqueue *q = new_queue(&clk, 0, 5, 1000 * 1000);
	int64_t want = 5, d;

	(void)state;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(workqueue_failures(q, "k"), (unsigned)i);
		assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
		assert_int_equal(d, want);
		/* Not before its time... */
		clk.now += d - 1;
		assert_string_equal(take(q), "");
		/* ...and at it. */
		clk.now += 1;
		take_done(q, "k");
		want *= 2;
	}
	assert_int_equal(workqueue_failures(q, "k"), 10);
	/* A success forgets the failures: the next one waits 5 ms again. */
	workqueue_forget(q, "k");
	assert_int_equal(workqueue_failures(q, "k"), 0);
	assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
	assert_int_equal(d, 5);
	clk.now += 5;
	take_done(q, "k");
	workqueue_forget(q, "k");
	workqueue_forget(q, "unknown"); /* a no-op */
	{
		struct workqueue_stats st;

		workqueue_stats(q, &st);
		assert_int_equal(st.tracked, 0);
		assert_int_equal(st.retries, 11);
	}
	workqueue_free(q);
}

static void test_backoff_capped_without_overflow(void **state)
{
	struct fake_clock clk = {0};
	struct workqueue *q = new_queue(&clk, 0, 5, 1000 * 1000);
	int64_t d = 0;

	(void)state;
	/* 5 ms * 2^18 > 1000 s: capped from the 19th failure on, and far past
	 * 2^63 nothing overflows (UBSan would say). */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
		if (i == 17)
			assert_int_equal(d, INT64_C(5) << 17);
		if (i >= 18)
			assert_int_equal(d, 1000 * 1000);
	}
	/* Only one wait for the key, at its earliest time (the first: 5 ms). */
	clk.now = 5;
	take_done(q, "k");
	assert_string_equal(take(q), "");
	workqueue_free(q);

	/* base == max: every retry waits the same. */
	q = new_queue(&clk, 0, 7, 7);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(workqueue_add_rate_limited(q, "k", &d), 0);
		assert_int_equal(d, 7);
	}
	workqueue_free(q);
}

static void test_backoff_is_per_key(void **state)
{
	struct fake_clock clk = {0};
	struct workqueue *q = new_queue(&clk, 0, 10, 1000);
	int64_t d;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(workqueue_add_rate_limited(q, "slow", &d), 0);
	assert_int_equal(d, 40);
	assert_int_equal(workqueue_add_rate_limited(q, "fresh", &d), 0);
	assert_int_equal(d, 10);
	clk.now = 10;
	assert_string_equal(take(q), "slow"); /* its first wait, 10 ms, kept */
	assert_string_equal(take(q), "fresh");
	assert_int_equal(workqueue_failures(q, "slow"), 3);
	assert_int_equal(workqueue_failures(q, "fresh"), 1);
	workqueue_free(q);
}

/* ---------------------------------------------------------------- delays */

static void test_add_after_on_fake_clock(void **state)
{
	struct fake_clock clk = {500};
	struct workqueue *q = new_queue(&clk, 0, 0, 0);
	struct workqueue_stats st;

	(void)state;
	assert_int_equal(workqueue_add_after(q, "late", 300), 0);
	assert_int_equal(workqueue_add_after(q, "early", 100), 0);
	assert_int_equal(workqueue_add_after(q, "now", 0), 0);
	assert_int_equal(workqueue_add_after(q, "past", -5), 0);
	workqueue_stats(q, &st);
	assert_int_equal(st.depth, 2);
	assert_int_equal(st.waiting, 2);
	take_done(q, "now");
	take_done(q, "past");
	assert_string_equal(take(q), "");
	clk.now = 599;
	assert_string_equal(take(q), "");
	clk.now = 600;
	take_done(q, "early");
	assert_string_equal(take(q), "");
	clk.now = 10000; /* long past: still delivered, once */
	take_done(q, "late");
	assert_string_equal(take(q), "");
	workqueue_stats(q, &st);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.tracked, 0);
	workqueue_free(q);
}

static void test_add_after_keeps_the_earliest_time(void **state)
{
	struct fake_clock clk = {0};
	struct workqueue *q = new_queue(&clk, 0, 0, 0);

	(void)state;
	assert_int_equal(workqueue_add_after(q, "a", 100), 0);
	assert_int_equal(workqueue_add_after(q, "a", 50), 0); /* earlier: moves */
	assert_int_equal(workqueue_add_after(q, "b", 50), 0);
	assert_int_equal(workqueue_add_after(q, "b", 100), 0); /* later: ignored */
	clk.now = 50;
	assert_int_equal(workqueue_len(q), 2);
	take_done(q, "a");
	take_done(q, "b");
	clk.now = 1000;
	assert_string_equal(take(q), "");
	workqueue_free(q);
}

static void test_add_after_while_queued_or_processing(void **state)
{
	struct fake_clock clk = {0};
	struct workqueue *q = new_queue(&clk, 0, 0, 0);
	char k[WORKQUEUE_KEY_MAX];

	(void)state;
	/* Queued now and asked for again later: processed now and again then
	 * (a periodic poll is not swallowed by an event). */
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_add_after(q, "a", 30), 0);
	take_done(q, "a");
	assert_string_equal(take(q), "");
	clk.now = 30;
	take_done(q, "a");

	/* Coming due while a worker holds it: queued after done(). */
	assert_int_equal(workqueue_add(q, "b"), 0);
	assert_int_equal(workqueue_get(q, k, sizeof(k), 0), 0);
	assert_int_equal(workqueue_add_after(q, "b", 10), 0);
	clk.now = 40;
	assert_string_equal(take(q), "");
	assert_int_equal(workqueue_done(q, "b"), 0);
	take_done(q, "b");
	workqueue_free(q);
}

/* Many keys with random delays come out in time order. */
static void test_many_delays_come_out_in_order(void **state)
{
	struct fake_clock clk = {0};
	struct workqueue *q = new_queue(&clk, 2000, 0, 0);
	int64_t last = -1;
	unsigned seed = 7;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		char key[32];

		seed = seed * 1103515245u + 12345u;
		snprintf(key, sizeof(key), "%u/%d", (seed >> 8) % 5000, i);
		assert_int_equal(workqueue_add_after(q, key, 1 + (int64_t)((seed >> 8) % 5000)), 0);
	}
	for (int n = 0; n < 1000;) {
		const char *k;

		clk.now++;
		while ((k = take(q))[0] != '\0') {
			int64_t due = 1 + atoll(k);

			assert_true(due <= clk.now);
			assert_true(due >= last);
			last = due;
			assert_int_equal(workqueue_done(q, k), 0);
			n++;
		}
	}
	workqueue_free(q);
}

/* ---------------------------------------------------------------- bounds */

static void test_bounded(void **state)
{
	struct fake_clock clk = {0};
	struct workqueue *q = new_queue(&clk, 3, 0, 0);
	struct workqueue_stats st;
	char k[WORKQUEUE_KEY_MAX];

	(void)state;
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_add_after(q, "b", 100), 0);
	assert_int_equal(workqueue_add_rate_limited(q, "c", NULL), 0);
	assert_int_equal(workqueue_add(q, "d"), WORKQUEUE_EFULL);
	assert_int_equal(workqueue_add_after(q, "d", 5), WORKQUEUE_EFULL);
	assert_int_equal(workqueue_add_rate_limited(q, "d", NULL), WORKQUEUE_EFULL);
	/* Keys already known are still accepted. */
	assert_int_equal(workqueue_add(q, "a"), 0);
	assert_int_equal(workqueue_add(q, "b"), 0);
	workqueue_stats(q, &st);
	assert_int_equal(st.refused, 3);
	assert_int_equal(st.tracked, 3);
	assert_string_equal(workqueue_strerror(WORKQUEUE_EFULL),
	                    "work queue full (max_keys distinct keys tracked)");

	/* "a" done and forgotten by the queue: room for "d". */
	take_done(q, "a");
	take_done(q, "b");
	assert_int_equal(workqueue_add(q, "d"), 0);
	/* "d" was queued first; then "c" (due at 5 ms) and "b" (100 ms) come
	 * due, in their time order. */
	clk.now = 100;
	take_done(q, "d");
	assert_int_equal(workqueue_get(q, k, sizeof(k), 0), 0);
	assert_string_equal(k, "c");
	assert_int_equal(workqueue_done(q, "c"), 0);
	take_done(q, "b");
	/* "c" failed once: its count is remembered, so it holds a slot until
	 * forgotten, even once processed. */
	workqueue_stats(q, &st);
	assert_int_equal(st.tracked, 1);
	workqueue_forget(q, "c");
	workqueue_stats(q, &st);
	assert_int_equal(st.tracked, 0);
	workqueue_free(q);
}

static void test_fill_to_the_bound_and_drain(void **state)
{
	struct workqueue *q = new_queue(NULL, 100, 0, 0);
	char key[32];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			assert_int_equal(workqueue_add(q, key), 0);
		}
		assert_int_equal(workqueue_add(q, "one-too-many"), WORKQUEUE_EFULL);
		/* The ring wraps on later rounds. */
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			take_done(q, key);
		}
		for (int i = 0; i < round * 7 % 100; i++) {
			assert_int_equal(workqueue_add(q, "x"), 0);
			take_done(q, "x");
		}
	}
	workqueue_free(q);
}

/* ---------------------------------------------------------------- blocking */

struct getter {
	struct workqueue *q;
	int timeout_ms;
	int rc;
	char key[WORKQUEUE_KEY_MAX];
	int64_t took_ms;
	int64_t done_ms; /* real_ms() when the get returned */
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	int64_t t0 = real_ms();

	g->rc = workqueue_get(g->q, g->key, sizeof(g->key), g->timeout_ms);
	g->done_ms = real_ms();
	g->took_ms = g->done_ms - t0;
	return NULL;
}

static void test_get_timeout(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	struct getter g = {q, 50, 1, "", 0, 0};

	(void)state;
	getter_main(&g);
	assert_int_equal(g.rc, WORKQUEUE_ETIMEDOUT);
	assert_true(g.took_ms >= 49 && g.took_ms < 2000);
	assert_string_equal(g.key, "");
	workqueue_free(q);
}

static void test_blocked_get_wakes_on_add(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	struct getter g = {q, -1, 1, "", 0, 0};
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, getter_main, &g), 0);
	sleep_ms(50);
	assert_int_equal(workqueue_add(q, "wake"), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.key, "wake");
	assert_int_equal(workqueue_done(q, "wake"), 0);
	workqueue_free(q);
}

static void test_blocked_get_wakes_when_a_delay_passes(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	struct getter g = {q, -1, 1, "", 0, 0};
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, getter_main, &g), 0);
	sleep_ms(20);
	/* The getter sleeps without a deadline; a far key, then a near one:
	 * it must shorten its wait for the near one. */
	assert_int_equal(workqueue_add_after(q, "far", 60 * 1000), 0);
	int64_t added_ms = real_ms();
	assert_int_equal(workqueue_add_after(q, "near", 40), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.key, "near");
	/* Measured from the add, not from the getter's start: a loaded machine
	 * may start the thread late, and its wait is then shorter. */
	assert_true(g.done_ms - added_ms >= 40 - 1 && g.done_ms - added_ms < 5000);
	assert_int_equal(workqueue_done(q, "near"), 0);
	workqueue_free(q);
}

static void test_shutdown_wakes_every_getter(void **state)
{
	struct workqueue *q = new_queue(NULL, 0, 0, 0);
	struct getter g[4];
	pthread_t t[4];
	char k[WORKQUEUE_KEY_MAX];

	(void)state;
	assert_int_equal(workqueue_add(q, "held"), 0);
	assert_int_equal(workqueue_get(q, k, sizeof(k), 0), 0);
	assert_int_equal(workqueue_add_after(q, "later", 60 * 1000), 0);
	for (int i = 0; i < 4; i++) {
		g[i] = (struct getter){q, i == 0 ? 60 * 1000 : -1, 1, "", 0, 0};
		assert_int_equal(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
	}
	sleep_ms(50);
	assert_false(workqueue_shutting_down(q));
	workqueue_shutdown(q);
	workqueue_shutdown(q); /* idempotent */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(g[i].rc, WORKQUEUE_ESHUTDOWN);
		assert_true(g[i].took_ms < 5000);
	}
	assert_true(workqueue_shutting_down(q));
	/* Adds are refused; a key queued before is not handed out; the worker
	 * that held one still reports done. */
	assert_int_equal(workqueue_add(q, "new"), WORKQUEUE_ESHUTDOWN);
	assert_int_equal(workqueue_add_after(q, "new", 5), WORKQUEUE_ESHUTDOWN);
	assert_int_equal(workqueue_add_rate_limited(q, "new", NULL), WORKQUEUE_ESHUTDOWN);
	assert_int_equal(workqueue_get(q, k, sizeof(k), 0), WORKQUEUE_ESHUTDOWN);
	assert_int_equal(workqueue_done(q, "held"), 0);
	workqueue_free(q);
}

/* ---------------------------------------------------------------- threads */

#define N_KEYS 64
#define N_WORKERS 6
#define N_PRODUCERS 3
#define ADDS_PER_PRODUCER 20000

static struct {
	struct workqueue *q;
	atomic_int in_flight[N_KEYS];
	atomic_int overlaps;
	atomic_long processed;
	/* A key's last add, and the last time a worker started on it after
	 * that add: every add must be followed by a run. */
	atomic_long add_seq[N_KEYS];
	atomic_long run_seq[N_KEYS];
	atomic_long seq;
	atomic_int failures_left;
} hammer;

static void *producer_main(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < ADDS_PER_PRODUCER; i++) {
		char key[16];
		int k;

		seed = seed * 1103515245u + 12345u;
		k = (int)((seed >> 8) % N_KEYS);
		snprintf(key, sizeof(key), "k/%d", k);
		atomic_store(&hammer.add_seq[k], atomic_fetch_add(&hammer.seq, 1) + 1);
		assert_int_equal(workqueue_add(hammer.q, key), 0);
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	char key[WORKQUEUE_KEY_MAX];

	(void)arg;
	while (workqueue_get(hammer.q, key, sizeof(key), -1) == 0) {
		int k = atoi(key + 2);

		if (atomic_fetch_add(&hammer.in_flight[k], 1) != 0)
			atomic_fetch_add(&hammer.overlaps, 1);
		atomic_store(&hammer.run_seq[k], atomic_fetch_add(&hammer.seq, 1) + 1);
		atomic_fetch_add(&hammer.processed, 1);
		atomic_fetch_sub(&hammer.in_flight[k], 1);
		/* Some runs fail and retry with backoff (1 ms base here). */
		if (atomic_fetch_sub(&hammer.failures_left, 1) > 0)
			assert_int_equal(workqueue_add_rate_limited(hammer.q, key, NULL), 0);
		else
			workqueue_forget(hammer.q, key);
		assert_int_equal(workqueue_done(hammer.q, key), 0);
	}
	return NULL;
}

static void test_threads_never_share_a_key(void **state)
{
	pthread_t workers[N_WORKERS], producers[N_PRODUCERS];
	struct workqueue_stats st;
	int64_t deadline;

	(void)state;
	memset(&hammer, 0, sizeof(hammer));
	hammer.q = new_queue(NULL, 0, 1, 8);
	atomic_store(&hammer.failures_left, 500);
	for (int i = 0; i < N_WORKERS; i++)
		assert_int_equal(pthread_create(&workers[i], NULL, worker_main, NULL), 0);
	for (int i = 0; i < N_PRODUCERS; i++)
		assert_int_equal(
		    pthread_create(&producers[i], NULL, producer_main, (void *)(uintptr_t)(i + 1)),
		    0);
	for (int i = 0; i < N_PRODUCERS; i++)
		assert_int_equal(pthread_join(producers[i], NULL), 0);
	/* Let the queue drain (retries included), then stop the workers. */
	deadline = real_ms() + 20000;
	do {
		sleep_ms(10);
		workqueue_stats(hammer.q, &st);
	} while ((st.depth || st.waiting || st.processing) && real_ms() < deadline);
	assert_int_equal(st.depth + st.waiting + st.processing, 0);
	workqueue_shutdown(hammer.q);
	for (int i = 0; i < N_WORKERS; i++)
		assert_int_equal(pthread_join(workers[i], NULL), 0);

	assert_int_equal(atomic_load(&hammer.overlaps), 0);
	/* Coalescing: fewer runs than adds, but every key ran after its last add. */
	assert_true(atomic_load(&hammer.processed) > 0);
	for (int k = 0; k < N_KEYS; k++)
		assert_true(atomic_load(&hammer.run_seq[k]) > atomic_load(&hammer.add_seq[k]));
	workqueue_stats(hammer.q, &st);
	assert_int_equal(st.retries, 500);
	workqueue_free(hammer.q);
}

/* ---------------------------------------------------------------- keys */

static void test_key_format_and_split(void **state)
{
	char buf[WORKQUEUE_KEY_MAX];
	const char *kind, *ns, *name;
	char small[8];

	(void)state;
	assert_int_equal(workqueue_key(buf, sizeof(buf), "VideoJob", "media", "demo"), 0);
	assert_string_equal(buf, "VideoJob/media/demo");
	assert_int_equal(workqueue_key_split(buf, &kind, &ns, &name), 0);
	assert_string_equal(kind, "VideoJob");
	assert_string_equal(ns, "media");
	assert_string_equal(name, "demo");

	assert_int_equal(workqueue_key(buf, sizeof(buf), "Namespace", NULL, "media"), 0);
	assert_string_equal(buf, "Namespace/media");
	assert_int_equal(workqueue_key(buf, sizeof(buf), "Namespace", "", "media"), 0);
	assert_string_equal(buf, "Namespace/media");
	assert_int_equal(workqueue_key_split(buf, &kind, &ns, &name), 0);
	assert_string_equal(kind, "Namespace");
	assert_string_equal(ns, "");
	assert_string_equal(name, "media");

	assert_int_equal(workqueue_key(buf, sizeof(buf), "", "ns", "n"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_key(buf, sizeof(buf), "K", "ns", ""), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_key(buf, sizeof(buf), "K", "a/b", "n"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_key(buf, sizeof(buf), "K", "ns", "a/b"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_key(buf, sizeof(buf), NULL, "ns", "n"), WORKQUEUE_EINVAL);
	assert_int_equal(workqueue_key(small, sizeof(small), "Kind", "ns", "name"),
	                 WORKQUEUE_EINVAL);
	assert_string_equal(small, "");
	assert_int_equal(workqueue_key(NULL, 0, "K", "ns", "n"), WORKQUEUE_EINVAL);

	static const char *const bad[] = {"", "a", "/a", "a/", "a//b", "a/b/", "a/b/c/d", "/a/b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char copy[16];

		snprintf(copy, sizeof(copy), "%s", bad[i]);
		assert_int_equal(workqueue_key_split(copy, &kind, &ns, &name), WORKQUEUE_EINVAL);
	}
	assert_int_equal(workqueue_key_split(NULL, &kind, &ns, &name), WORKQUEUE_EINVAL);
}

static void test_strerror(void **state)
{
	(void)state;
	for (int rc = 0; rc >= -5; rc--)
		assert_string_not_equal(workqueue_strerror(rc), "unknown work queue error");
	assert_string_equal(workqueue_strerror(-99), "unknown work queue error");
	assert_string_equal(workqueue_strerror(WORKQUEUE_ESHUTDOWN), "work queue shut down");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_defaults_and_bad_options),
	    cmocka_unit_test(test_fifo_order_and_dedup),
	    cmocka_unit_test(test_key_never_handed_out_twice),
	    cmocka_unit_test(test_done_errors),
	    cmocka_unit_test(test_bad_keys_and_buffers),
	    cmocka_unit_test(test_exponential_backoff_on_fake_clock),
	    cmocka_unit_test(test_backoff_capped_without_overflow),
	    cmocka_unit_test(test_backoff_is_per_key),
	    cmocka_unit_test(test_add_after_on_fake_clock),
	    cmocka_unit_test(test_add_after_keeps_the_earliest_time),
	    cmocka_unit_test(test_add_after_while_queued_or_processing),
	    cmocka_unit_test(test_many_delays_come_out_in_order),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_fill_to_the_bound_and_drain),
	    cmocka_unit_test(test_get_timeout),
	    cmocka_unit_test(test_blocked_get_wakes_on_add),
	    cmocka_unit_test(test_blocked_get_wakes_when_a_delay_passes),
	    cmocka_unit_test(test_shutdown_wakes_every_getter),
	    cmocka_unit_test(test_threads_never_share_a_key),
	    cmocka_unit_test(test_key_format_and_split),
	    cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
