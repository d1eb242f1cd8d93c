/* Unit tests for the pure part of workers/telemetry/tw_flush.c: the retry
 * backoff, what the next step of a batch is (a table of cases, then an
 * exhaustive sweep of every state of three sinks against the rules of
 * tw_flush.h, and a walk of every state to its end), what a sink's outcome
 * does, when a batch is due, which trims may start and how long the loop
 * may wait. The adapter runs against real Kafka and sinks in
 * tests/e2e/test_telemetry.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tw_flush.h"
#include "tw_sink.h"

#define T0 INT64_C(1000000)

static void test_backoff(void **state)
{
	(void)state;
	/* 100 ms doubling, half fixed and half jittered. */
	assert_int_equal(tw_flush_backoff_ms(1, 0, 30000, 0), 50);
	assert_int_equal(tw_flush_backoff_ms(1, 0, 30000, 0.5), 75);
	assert_int_equal(tw_flush_backoff_ms(2, 0, 30000, 0), 100);
	assert_int_equal(tw_flush_backoff_ms(4, 0, 30000, 0.999), 799);
	/* Capped, however many attempts. */
	assert_int_equal(tw_flush_backoff_ms(9, 0, 30000, 0), 12800);
	assert_int_equal(tw_flush_backoff_ms(10, 0, 30000, 0), 15000);
	assert_int_equal(tw_flush_backoff_ms(4000000000u, 0, 30000, 0.5), 22500);
	assert_int_equal(tw_flush_backoff_ms(3, 0, 10, 0), 50); /* cap below 100 ms: 100 */
	/* A server's Retry-After wins, up to five minutes. */
	assert_int_equal(tw_flush_backoff_ms(1, 1234, 30000, 0.9), 1234);
	assert_int_equal(tw_flush_backoff_ms(1, 3600000, 30000, 0), 300000);
	/* Jitter outside [0, 1) counts as 0. */
	assert_int_equal(tw_flush_backoff_ms(1, 0, 30000, 1.0), 50);
	assert_int_equal(tw_flush_backoff_ms(1, 0, 30000, -3), 50);
}

/* One row: the state (retry_at is T0), the call, and the answer. */
struct decide_case {
	const char *name;
	int active, attempting, failed;
	unsigned acked, started, running;
	int64_t now;
	size_t nsinks;
	int empty;
	unsigned busy;
	enum tw_flush_step step;
	unsigned sinks;
};

static void test_decide_table(void **state)
{
	static const struct decide_case c[] = {
	    {"no batch", 0, 0, 0, 0, 0, 0, T0, 3, 0, 0, TW_FLUSH_NONE, 0},
	    {"no batch, writes ignored", 0, 1, 1, 7, 7, 7, T0, 3, 1, 7, TW_FLUSH_NONE, 0},
	    {"backing off", 1, 0, 0, 0, 0, 0, T0 - 1, 3, 0, 0, TW_FLUSH_BACKOFF, 0},
	    {"retry time reached", 1, 0, 0, 0, 0, 0, T0, 3, 0, 0, TW_FLUSH_BEGIN, 0},
	    {"retry time passed", 1, 0, 0, 3, 0, 0, T0 + 5, 3, 0, 7, TW_FLUSH_BEGIN, 0},
	    {"first attempt: write to all", 1, 1, 0, 0, 0, 0, T0, 3, 0, 0, TW_FLUSH_WRITE, 7},
	    {"a sink trims: the others", 1, 1, 0, 0, 0, 0, T0, 3, 0, 2, TW_FLUSH_WRITE, 5},
	    {"every sink trims", 1, 1, 0, 0, 0, 0, T0, 3, 0, 7, TW_FLUSH_PENDING, 0},
	    {"retry: only the one not done", 1, 1, 0, 5, 0, 0, T0, 3, 0, 0, TW_FLUSH_WRITE, 2},
	    {"empty batch: nothing to write", 1, 1, 0, 0, 0, 0, T0, 3, 1, 7, TW_FLUSH_SKIP, 7},
	    {"empty batch, some done", 1, 1, 0, 1, 0, 0, T0, 3, 1, 0, TW_FLUSH_SKIP, 6},
	    {"writes running", 1, 1, 0, 0, 7, 7, T0, 3, 0, 7, TW_FLUSH_PENDING, 0},
	    {"one write still running", 1, 1, 1, 3, 7, 4, T0, 3, 0, 4, TW_FLUSH_PENDING, 0},
	    {"all back, one failed", 1, 1, 1, 3, 7, 0, T0, 3, 0, 0, TW_FLUSH_RETRY, 0},
	    {"all back and done", 1, 1, 0, 7, 7, 0, T0, 3, 0, 0, TW_FLUSH_COMMIT, 0},
	    {"done before this attempt", 1, 1, 0, 7, 0, 0, T0, 3, 0, 7, TW_FLUSH_COMMIT, 0},
	    {"no sinks: straight to commit", 1, 1, 0, 0, 0, 0, T0, 0, 0, 0, TW_FLUSH_COMMIT, 0},
	    {"no sinks, empty batch", 1, 1, 0, 0, 0, 0, T0, 0, 1, 0, TW_FLUSH_COMMIT, 0},
	    {"one sink of one", 1, 1, 0, 0, 0, 0, T0, 1, 0, 0, TW_FLUSH_WRITE, 1},
	    {"bits past nsinks ignored", 1, 1, 0, 0, 0, 0, T0, 1, 0, 6, TW_FLUSH_WRITE, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tw_flush_state st = {.active = c[i].active,
		                            .attempting = c[i].attempting,
		                            .failed = c[i].failed,
		                            .acked = c[i].acked,
		                            .started = c[i].started,
		                            .running = c[i].running,
		                            .retry_at = T0};
		struct tw_flush_decision d =
		    tw_flush_decide(&st, c[i].now, c[i].nsinks, c[i].empty, c[i].busy);
		if (d.step != c[i].step || d.sinks != c[i].sinks)
			fail_msg("%s: step %d sinks %u, want step %d sinks %u", c[i].name, d.step,
			         d.sinks, c[i].step, c[i].sinks);
	}
}

/* Applies a decision as the adapter does: a write starts on every sink it
 * names. */
static void apply(struct tw_flush_state *st, struct tw_flush_decision d)
{
	switch (d.step) {
	case TW_FLUSH_BEGIN:
		tw_flush_on_begin(st);
		break;
	case TW_FLUSH_SKIP:
		tw_flush_on_skip(st, d.sinks);
		break;
	case TW_FLUSH_WRITE:
		tw_flush_on_started(st, d.sinks);
		break;
	default:
		break;
	}
}

static int stops(enum tw_flush_step s)
{
	return s == TW_FLUSH_NONE || s == TW_FLUSH_BACKOFF || s == TW_FLUSH_PENDING ||
	       s == TW_FLUSH_RETRY || s == TW_FLUSH_COMMIT;
}

/* One state of the sweep: the answer follows the rules of tw_flush.h, and
 * asking again after applying it ends (in a step that waits or finishes)
 * within five asks. */
static void check_state(const struct tw_flush_state *st, int64_t now, size_t nsinks, int empty,
                        unsigned busy)
{
	unsigned todo = ((1u << nsinks) - 1) & ~(st->acked | st->started);
	struct tw_flush_decision d = tw_flush_decide(st, now, nsinks, empty, busy);
	struct tw_flush_state w = *st;
	int asks = 0;

	if (!st->active) {
		assert_int_equal(d.step, TW_FLUSH_NONE);
		return;
	}
	if (!st->attempting) {
		assert_int_equal(d.step, now < st->retry_at ? TW_FLUSH_BACKOFF : TW_FLUSH_BEGIN);
		return;
	}
	switch (d.step) {
	case TW_FLUSH_SKIP:
		assert_true(empty);
		assert_int_not_equal(todo, 0);
		assert_int_equal(d.sinks, todo);
		break;
	case TW_FLUSH_WRITE:
		assert_false(empty);
		assert_int_not_equal(d.sinks, 0);
		assert_int_equal(d.sinks, todo & ~busy);
		break;
	case TW_FLUSH_PENDING:
		assert_int_equal(todo & ~busy, 0);
		assert_false(empty && todo != 0);
		assert_true(st->running != 0 || todo != 0);
		break;
	case TW_FLUSH_RETRY:
	case TW_FLUSH_COMMIT:
		assert_int_equal(todo, 0);
		assert_int_equal(st->running, 0);
		assert_int_equal(d.step, st->failed ? TW_FLUSH_RETRY : TW_FLUSH_COMMIT);
		break;
	default:
		fail_msg("step %d while attempting", d.step);
	}
	do {
		d = tw_flush_decide(&w, now, nsinks, empty, busy);
		apply(&w, d);
	} while (!stops(d.step) && ++asks < 5);
	assert_true(stops(d.step));
}

/* Every state of up to three sinks (active, attempting, failed; acked,
 * started, running and busy sets), on both sides of retry_at, with an
 * empty batch and a full one. */
static void test_decide_sweep(void **state)
{
	size_t n = 0;

	(void)state;
	for (size_t nsinks = 0; nsinks <= 3; nsinks++) {
		unsigned k = 1u << nsinks; /* values of one set */
		for (unsigned code = 0; code < 8 * k * k * k * k * 2 * 2; code++) {
			unsigned c = code;
			struct tw_flush_state st = {.retry_at = T0};
			unsigned busy;
			int64_t now;
			int empty;

			st.active = c & 1;
			st.attempting = (c >> 1) & 1;
			st.failed = (c >> 2) & 1;
			c >>= 3;
			st.acked = c % k;
			c /= k;
			st.started = c % k;
			c /= k;
			st.running = c % k;
			c /= k;
			busy = c % k;
			c /= k;
			now = (c & 1) ? T0 : T0 - 1;
			empty = (c >> 1) & 1;
			check_state(&st, now, nsinks, empty, busy);
			n++;
		}
	}
	assert_int_equal(n, 32 * (1 + 16 + 256 + 4096));
}

/* A batch through three sinks: the second fails with a Retry-After, the
 * others are done; after the backoff only the second is written again. */
static void test_batch_with_a_retry(void **state)
{
	struct tw_flush_state st;
	struct tw_flush_decision d;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(tw_flush_decide(&st, T0, 3, 0, 0).step, TW_FLUSH_NONE);
	tw_flush_on_cut(&st, T0);
	assert_true(st.active);
	assert_int_equal(st.frozen_at, T0);
	d = tw_flush_decide(&st, T0, 3, 0, 0);
	assert_int_equal(d.step, TW_FLUSH_BEGIN); /* a new batch is tried at once */
	apply(&st, d);
	d = tw_flush_decide(&st, T0, 3, 0, 0);
	assert_int_equal(d.step, TW_FLUSH_WRITE);
	assert_int_equal(d.sinks, 7);
	apply(&st, d);
	assert_int_equal(tw_flush_decide(&st, T0, 3, 0, 7).step, TW_FLUSH_PENDING);
	assert_int_equal(tw_flush_outcome(&st, 0, TW_SINK_OK, 0), TW_FLUSH_ACKED);
	assert_int_equal(tw_flush_outcome(&st, 1, TW_SINK_E_RETRY, 2500), TW_FLUSH_FAILED);
	assert_int_equal(tw_flush_decide(&st, T0, 3, 0, 4).step, TW_FLUSH_PENDING);
	assert_int_equal(tw_flush_outcome(&st, 2, TW_SINK_E_REJECT, 0), TW_FLUSH_REJECTED);
	assert_int_equal(st.acked, 5);
	assert_int_equal(st.running, 0);
	assert_int_equal(tw_flush_decide(&st, T0 + 10, 3, 0, 0).step, TW_FLUSH_RETRY);
	tw_flush_on_retry(&st, T0 + 10, 30000, 0.5);
	assert_false(st.attempting);
	assert_int_equal(st.attempt, 1);
	assert_int_equal(st.retry_at, T0 + 10 + 2500); /* the server's Retry-After */
	assert_int_equal(st.retry_after, 0);
	assert_int_equal(tw_flush_decide(&st, T0 + 2509, 3, 0, 0).step, TW_FLUSH_BACKOFF);
	d = tw_flush_decide(&st, T0 + 2510, 3, 0, 0);
	assert_int_equal(d.step, TW_FLUSH_BEGIN);
	apply(&st, d);
	assert_false(st.failed);
	d = tw_flush_decide(&st, T0 + 2510, 3, 0, 0);
	assert_int_equal(d.step, TW_FLUSH_WRITE);
	assert_int_equal(d.sinks, 2);
	apply(&st, d);
	assert_int_equal(tw_flush_outcome(&st, 1, TW_SINK_E_CONFIG, 0), TW_FLUSH_FAILED);
	tw_flush_on_retry(&st, T0 + 3000, 30000, 0);
	assert_int_equal(st.attempt, 2);
	assert_int_equal(st.retry_at, T0 + 3000 + 100); /* own backoff: 200 ms, half fixed */
	apply(&st, tw_flush_decide(&st, T0 + 3100, 3, 0, 0));
	apply(&st, tw_flush_decide(&st, T0 + 3100, 3, 0, 0));
	assert_int_equal(tw_flush_outcome(&st, 1, TW_SINK_OK, 0), TW_FLUSH_ACKED);
	assert_int_equal(tw_flush_decide(&st, T0 + 3100, 3, 0, 0).step, TW_FLUSH_COMMIT);
	/* The next cut starts afresh. */
	tw_flush_on_cut(&st, T0 + 4000);
	assert_int_equal(st.acked, 0);
	assert_int_equal(st.attempt, 0);
	assert_int_equal(st.retry_at, T0 + 4000);
}

static void test_outcome(void **state)
{
	static const struct {
		int rc;
		int64_t retry_after, want_retry_after;
		enum tw_flush_outcome want;
		int acked, failed;
	} c[] = {
	    {TW_SINK_OK, 0, 100, TW_FLUSH_ACKED, 1, 0},
	    {TW_SINK_OK, 5000, 100, TW_FLUSH_ACKED, 1, 0}, /* Retry-After only on failure */
	    {TW_SINK_E_REJECT, 0, 100, TW_FLUSH_REJECTED, 1, 0},
	    {TW_SINK_E_RETRY, 0, 100, TW_FLUSH_FAILED, 0, 1},
	    {TW_SINK_E_RETRY, 50, 100, TW_FLUSH_FAILED, 0, 1}, /* the longest wins */
	    {TW_SINK_E_RETRY, 5000, 5000, TW_FLUSH_FAILED, 0, 1},
	    {TW_SINK_E_CONFIG, 0, 100, TW_FLUSH_FAILED, 0, 1},
	    {-99, 0, 100, TW_FLUSH_FAILED, 0, 1}, /* unknown: retried, never committed */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tw_flush_state st = {
		    .active = 1, .attempting = 1, .started = 6, .running = 6, .retry_after = 100};
		assert_int_equal(tw_flush_outcome(&st, 2, c[i].rc, c[i].retry_after), c[i].want);
		assert_int_equal(st.running, 2); /* sink 2 is back, sink 1 runs on */
		assert_int_equal(st.acked, c[i].acked ? 4u : 0u);
		assert_int_equal(st.failed, c[i].failed);
		assert_int_equal(st.retry_after, c[i].want_retry_after);
	}
}

static void test_due(void **state)
{
	static const struct {
		size_t pending, flush_rows;
		int64_t since, interval;
		enum tw_flush_due want;
	} c[] = {
	    {0, 2000, 0, 500, TW_FLUSH_NOT_DUE},
	    {1999, 2000, 499, 500, TW_FLUSH_NOT_DUE},
	    {2000, 2000, 0, 500, TW_FLUSH_DUE}, /* rows reached: no need to wait */
	    {5000, 2000, -5, 500, TW_FLUSH_DUE},
	    {1, 2000, 500, 500, TW_FLUSH_DUE},
	    {0, 2000, 500, 500, TW_FLUSH_DUE_IF_CHANGED}, /* only checkpoints can have moved */
	    {0, 2000, 100000, 500, TW_FLUSH_DUE_IF_CHANGED},
	    {0, 0, 0, 500, TW_FLUSH_DUE}, /* flush_rows 0: every turn */
	    {0, 2000, 0, 0, TW_FLUSH_DUE_IF_CHANGED},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		assert_int_equal(
		    tw_flush_due(c[i].pending, c[i].flush_rows, c[i].since, c[i].interval),
		    c[i].want);
}

static void test_trims(void **state)
{
	static const struct {
		int attempting;
		unsigned acked, started, due, busy, want;
	} c[] = {
	    {0, 0, 0, 7, 0, 7},                     /* no attempt: every idle sink */
	    {0, 0, 0, 7, 2, 5},                     /* a busy one waits */
	    {0, 0, 0, 0, 0, 0}, {1, 0, 0, 7, 0, 0}, /* every write still to start goes first */
	    {1, 1, 2, 7, 0, 3},                     /* done or started: may trim once idle */
	    {1, 1, 2, 7, 2, 1},                     /* ... the started one is still busy writing */
	    {1, 7, 0, 5, 0, 5},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tw_flush_state st = {.active = 1,
		                            .attempting = c[i].attempting,
		                            .acked = c[i].acked,
		                            .started = c[i].started};
		assert_int_equal(tw_flush_trims(&st, c[i].due, c[i].busy), c[i].want);
	}
}

static void test_wait(void **state)
{
	struct tw_flush_state st = {0};

	(void)state;
	assert_int_equal(tw_flush_wait_ms(&st, T0, 321, 100), 321); /* idle: until the cut */
	st.active = 1;
	st.retry_at = T0 + 40;
	assert_int_equal(tw_flush_wait_ms(&st, T0, 321, 100), 40);       /* backing off */
	assert_int_equal(tw_flush_wait_ms(&st, T0 + 50, 321, 100), -10); /* not clamped */
	st.running = 2;
	assert_int_equal(tw_flush_wait_ms(&st, T0, 321, 100), 100); /* a write wakes the loop */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff),      cmocka_unit_test(test_decide_table),
	    cmocka_unit_test(test_decide_sweep), cmocka_unit_test(test_batch_with_a_retry),
	    cmocka_unit_test(test_outcome),      cmocka_unit_test(test_due),
	    cmocka_unit_test(test_trims),        cmocka_unit_test(test_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
