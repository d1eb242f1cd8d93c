/* Unit tests for operator/topics.c's batching and handle renewal, with no
 * Kafka: the cluster is an address nobody listens on (127.0.0.1:1), so
 * every request fails, but how many requests were sent, which handle
 * answered and when a handle is made again are counted all the same
 * (topics_stats). The real cluster's answers are tests/integration/topics_it.c's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "topic_ledger.h"
#include "topics.h"

#define NOWHERE "127.0.0.1:1"
#define CALLS 8
/* Long enough that every later call joins while the first is in flight. */
#define SLOW_MS 1500

struct call {
	struct topics *t;
	int remove; /* topics_delete, else topics_create */
	char topic[64];
	int rc, created;
	char err[512];
};

static void *run_call(void *arg)
{
	struct call *c = arg;

	if (c->remove)
		c->rc =
		    topics_delete(c->t, NOWHERE, NULL, c->topic, SLOW_MS, c->err, sizeof(c->err));
	else
		c->rc = topics_create(c->t, NOWHERE, NULL, c->topic, 2, 1, SLOW_MS, &c->created,
		                      c->err, sizeof(c->err));
	return NULL;
}

struct calls_at_least {
	int remove;
	unsigned long long n;
};

static int calls_reached(const struct topics_stats *s, void *arg)
{
	const struct calls_at_least *want = arg;

	return (want->remove ? s->delete_calls : s->create_calls) >= want->n;
}

/* Blocks until n calls reached a handle (topics_stats_wait: no polling). */
static void wait_calls(struct topics *t, int remove, unsigned long long n)
{
	struct calls_at_least want = {remove, n};
	struct topics_stats s;

	assert_true(topics_stats_wait(t, calls_reached, &want, 10000, &s));
}

/* One call alone, then CALLS - 1 while it is in flight: two requests, the
 * second carrying all the later ones; every caller gets its own answer. */
static void coalesce(int remove)
{
	struct topics *t = topics_new("test-topics-batch");
	struct call calls[CALLS];
	pthread_t th[CALLS];
	struct topics_stats s;

	assert_non_null(t);
	for (int i = 0; i < CALLS; i++) {
		calls[i] = (struct call){.t = t, .remove = remove, .rc = 99};
		snprintf(calls[i].topic, sizeof(calls[i].topic), "batch-%d", i);
	}
	assert_int_equal(pthread_create(&th[0], NULL, run_call, &calls[0]), 0);
	wait_calls(t, remove, 1);
	for (int i = 1; i < CALLS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, run_call, &calls[i]), 0);
	for (int i = 0; i < CALLS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	topics_stats(t, &s);
	if (remove) {
		assert_int_equal(s.delete_calls, CALLS);
		assert_int_equal(s.delete_requests, 2);
		assert_int_equal(s.topics_deleted, 0);
	} else {
		assert_int_equal(s.create_calls, CALLS);
		assert_int_equal(s.create_requests, 2);
		assert_int_equal(s.topics_created, 0);
	}
	assert_int_equal(s.handles_made, 1);
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(calls[i].rc, TOPICS_EUNAVAILABLE);
		assert_int_equal(calls[i].created, 0);
		/* Each error names the caller's own topic. */
		assert_non_null(strstr(calls[i].err, calls[i].topic));
		assert_non_null(strstr(calls[i].err, "TIMED_OUT"));
	}
	topics_free(t);
}

static void test_create_coalesces(void **state)
{
	(void)state;
	coalesce(0);
}

static void test_delete_coalesces(void **state)
{
	(void)state;
	coalesce(1);
}

/* Calls one at a time: a request each, no wait for anyone. */
static void test_alone(void **state)
{
	struct topics *t = topics_new("test-topics-batch");
	struct topics_stats s;
	char err[512];
	int created = 7;
	double t0;

	(void)state;
	assert_non_null(t);
	t0 = clock_mono_s();
	assert_int_equal(
	    topics_create(t, NOWHERE, NULL, "a", 1, 1, 200, &created, err, sizeof(err)),
	    TOPICS_EUNAVAILABLE);
	assert_int_equal(created, 0);
	assert_int_equal(topics_create(t, NOWHERE, NULL, "a", 1, 1, 200, NULL, err, sizeof(err)),
	                 TOPICS_EUNAVAILABLE);
	assert_int_equal(topics_delete(t, NOWHERE, NULL, "a", 200, err, sizeof(err)),
	                 TOPICS_EUNAVAILABLE);
	/* Each waits its own time-out plus the answer's margin, no more. */
	assert_true(clock_mono_s() - t0 < 3 * 2.5);
	topics_stats(t, &s);
	assert_int_equal(s.create_calls, 2);
	assert_int_equal(s.create_requests, 2);
	assert_int_equal(s.delete_requests, 1);
	topics_free(t);
}

static void describe_n(struct topics *t, const char *prefix, int from, int to)
{
	char err[512], topic[64];
	int p, r;

	for (int i = from; i < to; i++) {
		snprintf(topic, sizeof(topic), "%s-%d", prefix, i);
		assert_int_not_equal(
		    topics_describe(t, NOWHERE, NULL, topic, 1, &p, &r, err, sizeof(err)),
		    TOPICS_OK);
	}
}

static void forget_n(struct topics *t, const char *prefix, int from, int to)
{
	char topic[64];

	for (int i = from; i < to; i++) {
		snprintf(topic, sizeof(topic), "%s-%d", prefix, i);
		topics_forget(t, NOWHERE, NULL, topic);
	}
}

/* Described topics are held until dead ones reach the ledger's limit
 * (max(TOPIC_LEDGER_MIN_DEAD, live)); then the handle is made again and
 * holds none. */
static void test_renew_on_forget(void **state)
{
	struct topics_opts o = {.stale_ms = -1};
	struct topics *t = topics_new_ex("test-topics-batch", &o);
	struct topics_stats s;

	(void)state;
	assert_non_null(t);
	describe_n(t, "r", 0, 100);
	topics_stats(t, &s);
	assert_int_equal(s.handles_made, 1);
	assert_int_equal(s.handles_open, 1);
	assert_int_equal(s.topics_held, 100);
	assert_int_equal(s.topics_dead, 0);
	/* A topic no handle described: nothing to do. */
	topics_forget(t, NOWHERE, NULL, "never");
	topics_forget(t, "127.0.0.1:2", NULL, "r-1");
	forget_n(t, "r", 0, 40); /* 40 dead < 60 live */
	topics_stats(t, &s);
	assert_int_equal(s.topics_dead, 40);
	assert_int_equal(s.handles_renewed, 0);
	forget_n(t, "r", 0, 40); /* twice is once */
	topics_stats(t, &s);
	assert_int_equal(s.topics_dead, 40);
	forget_n(t, "r", 40, 50); /* 50 dead >= 50 live: made again */
	topics_stats(t, &s);
	assert_int_equal(s.handles_renewed, 1);
	assert_int_equal(s.handles_open, 0);
	assert_int_equal(s.topics_held, 0);
	/* The next call makes a fresh handle that holds only its topic. */
	describe_n(t, "r", 60, 61);
	topics_stats(t, &s);
	assert_int_equal(s.handles_made, 2);
	assert_int_equal(s.topics_held, 1);

	/* Few live: TOPIC_LEDGER_MIN_DEAD dead are needed. */
	describe_n(t, "s", 0, TOPIC_LEDGER_MIN_DEAD);
	forget_n(t, "s", 0, TOPIC_LEDGER_MIN_DEAD - 1);
	topics_stats(t, &s);
	assert_int_equal(s.handles_renewed, 1);
	forget_n(t, "s", TOPIC_LEDGER_MIN_DEAD - 1, TOPIC_LEDGER_MIN_DEAD);
	topics_stats(t, &s);
	assert_int_equal(s.handles_renewed, 2);
	assert_int_equal(s.topics_held, 0);
	topics_free(t);
}

/* A full ledger retires its handle at once, dead topics or not. */
static void test_renew_when_full(void **state)
{
	struct topics_opts o = {.ledger_cap = 4, .stale_ms = -1};
	struct topics *t = topics_new_ex("test-topics-batch", &o);
	struct topics_stats s;

	(void)state;
	assert_non_null(t);
	describe_n(t, "f", 0, 4);
	describe_n(t, "f", 0, 4); /* the same again: no new entry */
	topics_stats(t, &s);
	assert_int_equal(s.topics_held, 4);
	assert_int_equal(s.handles_renewed, 0);
	describe_n(t, "f", 4, 5);
	topics_stats(t, &s);
	assert_int_equal(s.handles_renewed, 1);
	assert_int_equal(s.handles_open, 0);
	describe_n(t, "f", 5, 6);
	topics_stats(t, &s);
	assert_int_equal(s.handles_made, 2);
	assert_int_equal(s.topics_held, 1);
	topics_free(t);
}

/* The ledgers' clock in test_stale: moved by hand, not by waiting. */
static int64_t fake_now_ms;

static int64_t fake_clock(void)
{
	return fake_now_ms;
}

/* Topics not described for stale_ms count as dead. */
static void test_stale(void **state)
{
	struct topics_opts o = {.stale_ms = 1000, .now_ms = fake_clock};
	struct topics *t;
	struct topics_stats s;

	(void)state;
	fake_now_ms = 1000000;
	t = topics_new_ex("test-topics-batch", &o);
	assert_non_null(t);
	describe_n(t, "old", 0, TOPIC_LEDGER_MIN_DEAD);
	topics_stats(t, &s);
	assert_int_equal(s.topics_dead, 0);
	fake_now_ms += 1001; /* past stale_ms since the last describe */
	topics_stats(t, &s);
	assert_int_equal(s.topics_dead, TOPIC_LEDGER_MIN_DEAD);
	/* Nothing ran on the handle since: still open. */
	assert_int_equal(s.handles_renewed, 0);
	assert_int_equal(s.handles_open, 1);
	/* The next call's return sees them: made again. */
	describe_n(t, "old", TOPIC_LEDGER_MIN_DEAD, TOPIC_LEDGER_MIN_DEAD + 1);
	topics_stats(t, &s);
	assert_int_equal(s.handles_renewed, 1);
	assert_int_equal(s.handles_open, 0);
	topics_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alone),
	    cmocka_unit_test(test_create_coalesces),
	    cmocka_unit_test(test_delete_coalesces),
	    cmocka_unit_test(test_renew_on_forget),
	    cmocka_unit_test(test_renew_when_full),
	    cmocka_unit_test(test_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
