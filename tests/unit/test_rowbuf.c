/* Unit tests for workers/telemetry/rowbuf.c: results copied out of the core's
 * callback, the frozen batch and the tail behind it, release, shrinking
 * after a burst, and the bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rowbuf.h"

static struct tw_result result(int32_t partition, const char *key, int64_t start, uint64_t count,
                               const struct tw_value_result *values, uint32_t nvalues)
{
	struct tw_result r = {.partition = partition,
	                      .key = key,
	                      .key_len = strlen(key),
	                      .start_ns = start,
	                      .end_ns = start + 10,
	                      .count = count,
	                      .nvalues = nvalues,
	                      .values = values};
	return r;
}

static struct tw_event event(const char *key, int64_t ts)
{
	struct tw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = ts;
	ev.key_len = strlen(key);
	memcpy(ev.key, key, ev.key_len);
	ev.present = 1;
	ev.values[0] = (double)ts;
	return ev;
}

static void test_copies_results(void **state)
{
	struct rowbuf b;
	struct tw_batch batch;
	char key[8] = "dev\x1f"
	              "7";
	struct tw_value_result v[2] = {
	    {.count = 3, .sum = 6, .min = 1, .max = 3, .mean = 2, .p50 = 2, .p95 = 3, .p99 = 3},
	    {.count = 0,
	     .sum = 0,
	     .min = NAN,
	     .max = NAN,
	     .mean = NAN,
	     .p50 = NAN,
	     .p95 = NAN,
	     .p99 = NAN}};

	(void)state;
	rowbuf_init(&b);
	struct tw_result r = result(4, key, 100, 3, v, 2);
	assert_int_equal(rowbuf_add_result(&b, &r), 0);
	/* The core lends its result only for the callback: a copy must not
	 * see later changes. */
	key[0] = 'X';
	v[0].sum = 99;
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows, 1);
	assert_int_equal(batch.nevents, 0);
	assert_null(batch.events);
	const struct tw_row *row = &batch.rows[0];
	assert_int_equal(row->partition, 4);
	assert_int_equal(row->key_len, 5);
	assert_memory_equal(row->key,
	                    "dev\x1f"
	                    "7",
	                    5);
	assert_int_equal(row->start_ns, 100);
	assert_int_equal(row->end_ns, 110);
	assert_int_equal(row->count, 3);
	assert_int_equal(row->nvalues, 2);
	assert_true(row->values[0].sum == 6);
	assert_true(isnan(row->values[1].mean));
	rowbuf_free(&b);
	rowbuf_free(&b); /* twice is fine */
}

static void test_freeze_and_tail(void **state)
{
	struct rowbuf b;
	struct tw_batch batch;
	char key[16];

	(void)state;
	rowbuf_init(&b);
	assert_false(rowbuf_frozen(&b));
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows + batch.nevents, 0);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		struct tw_result r = result(0, key, i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
		struct tw_event ev = event(key, i);
		assert_int_equal(rowbuf_add_event(&b, &ev), 0);
	}
	assert_int_equal(rowbuf_pending(&b), 10);
	rowbuf_freeze(&b);
	assert_true(rowbuf_frozen(&b));
	assert_int_equal(rowbuf_pending(&b), 0);
	/* What arrives during a retry waits behind the batch... */
	for (int i = 5; i < 8; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		struct tw_result r = result(0, key, i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
	}
	struct tw_event ev = event("late", 99);
	assert_int_equal(rowbuf_add_event(&b, &ev), 0);
	assert_int_equal(rowbuf_pending(&b), 4);
	/* ...and a second freeze does not widen the batch in flight. */
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows, 5);
	assert_int_equal(batch.nevents, 5);
	assert_int_equal(batch.rows[4].start_ns, 4);
	assert_int_equal(batch.events[4].ts_ns, 4);
	rowbuf_release(&b);
	assert_false(rowbuf_frozen(&b));
	assert_int_equal(rowbuf_pending(&b), 4);
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows, 3);
	assert_int_equal(batch.rows[0].start_ns, 5);
	assert_memory_equal(batch.rows[2].key, "k7", 2);
	assert_int_equal(batch.nevents, 1);
	assert_int_equal(batch.events[0].ts_ns, 99);
	rowbuf_release(&b);
	assert_int_equal(rowbuf_pending(&b), 0);
	rowbuf_free(&b);
}

static void test_empty_freeze(void **state)
{
	struct rowbuf b;
	struct tw_batch batch;

	(void)state;
	rowbuf_init(&b);
	/* A flush with nothing to write still takes a turn (it commits the
	 * checkpoints): rows that arrive meanwhile are not part of it. */
	rowbuf_freeze(&b);
	assert_true(rowbuf_frozen(&b));
	struct tw_result r = result(1, "k", 1, 1, NULL, 0);
	assert_int_equal(rowbuf_add_result(&b, &r), 0);
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows, 0);
	assert_int_equal(rowbuf_pending(&b), 1);
	rowbuf_release(&b);
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows, 1);
	rowbuf_free(&b);
}

static void test_burst_shrinks_back(void **state)
{
	struct rowbuf b;

	(void)state;
	rowbuf_init(&b);
	for (int i = 0; i < 5000; i++) {
		struct tw_result r = result(0, "k", i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
	}
	size_t big = b.tail.cap_rows;
	assert_true(big >= 5000);
	rowbuf_freeze(&b);
	struct tw_result r = result(0, "after", 1, 1, NULL, 0);
	assert_int_equal(rowbuf_add_result(&b, &r), 0);
	rowbuf_release(&b);
	assert_int_equal(rowbuf_pending(&b), 1);
	assert_int_equal(rowbuf_held(&b), 1);
	assert_memory_equal(b.tail.rows[0].key, "after", 5);
	assert_true(b.batch.cap_rows < big);
	rowbuf_free(&b);
}

static void test_adds_never_move_the_batch(void **state)
{
	struct rowbuf b;
	struct tw_batch before, after;

	(void)state;
	rowbuf_init(&b);
	for (int i = 0; i < 3; i++) {
		struct tw_result r = result(0, "k", i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
	}
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &before);
	/* The sinks' threads read the batch while the loop adds: growing the
	 * tail (many reallocations) leaves it where and what it was. */
	for (int i = 0; i < 20000; i++) {
		struct tw_result r = result(1, "tail", i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
	}
	rowbuf_batch(&b, &after);
	assert_ptr_equal(before.rows, after.rows);
	assert_int_equal(after.nrows, 3);
	assert_int_equal(after.rows[2].start_ns, 2);
	assert_int_equal(rowbuf_pending(&b), 20000);
	assert_int_equal(rowbuf_held(&b), 20003);
	rowbuf_release(&b);
	rowbuf_freeze(&b);
	rowbuf_batch(&b, &after);
	assert_int_equal(after.nrows, 20000);
	assert_int_equal(after.rows[0].start_ns, 0);
	assert_int_equal(rowbuf_pending(&b), 0);
	rowbuf_free(&b);
}

static void test_bounds(void **state)
{
	struct rowbuf b;
	struct tw_value_result v[TW_VALUES_MAX + 1];
	char key[TW_KEY_MAX + 1];

	(void)state;
	memset(v, 0, sizeof(v));
	memset(key, 'k', sizeof(key));
	rowbuf_init(&b);
	struct tw_result r = result(0, "k", 1, 1, v, TW_VALUES_MAX + 1);
	assert_int_equal(rowbuf_add_result(&b, &r), -1);
	r = result(0, "k", 1, 1, v, TW_VALUES_MAX);
	r.key = key;
	r.key_len = TW_KEY_MAX + 1;
	assert_int_equal(rowbuf_add_result(&b, &r), -1);
	r.key_len = TW_KEY_MAX;
	assert_int_equal(rowbuf_add_result(&b, &r), 0);
	assert_int_equal(rowbuf_pending(&b), 1);
	/* The cap itself, without allocating it: a full buffer refuses. */
	b.tail.nevents = b.tail.cap_events = ROWBUF_MAX;
	struct tw_event ev = event("k", 1);
	assert_int_equal(rowbuf_add_event(&b, &ev), -1);
	b.tail.nevents = b.tail.cap_events = 0;
	rowbuf_free(&b);
}

static void test_drop_partition(void **state)
{
	struct rowbuf b;
	struct tw_batch batch;

	(void)state;
	rowbuf_init(&b);
	for (int i = 0; i < 4; i++) {
		struct tw_result r = result(i % 2, "k", i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
	}
	rowbuf_freeze(&b);
	for (int i = 4; i < 10; i++) {
		struct tw_result r = result(i % 3 == 0 ? 1 : 2, "k", i, 1, NULL, 0);
		assert_int_equal(rowbuf_add_result(&b, &r), 0);
	}
	/* Tail: 4(2) 5(2) 6(1) 7(2) 8(2) 9(1). The batch in flight keeps its
	 * partition 1 rows; the tail loses them, in order otherwise. */
	assert_int_equal(rowbuf_drop_partition(&b, 1), 2);
	assert_int_equal(rowbuf_drop_partition(&b, 7), 0);
	rowbuf_batch(&b, &batch);
	assert_int_equal(batch.nrows, 4);
	assert_int_equal(batch.rows[1].partition, 1);
	rowbuf_release(&b);
	assert_int_equal(rowbuf_pending(&b), 4);
	int64_t want[] = {4, 5, 7, 8};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(b.tail.rows[i].start_ns, want[i]);
		assert_int_equal(b.tail.rows[i].partition, 2);
	}
	assert_int_equal(rowbuf_drop_partition(&b, 2), 4);
	assert_int_equal(rowbuf_pending(&b), 0);
	rowbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copies_results),
	    cmocka_unit_test(test_freeze_and_tail),
	    cmocka_unit_test(test_empty_freeze),
	    cmocka_unit_test(test_burst_shrinks_back),
	    cmocka_unit_test(test_adds_never_move_the_batch),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_drop_partition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
