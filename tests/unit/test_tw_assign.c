/* Unit tests for the pure parts of partition assignment: where an assigned
 * partition starts (tw_assign_restore, workers/telemetry/tw_assign.c) and
 * the owned partitions' table (workers/telemetry/tw_parts.c). The
 * rebalance callback itself runs against real Kafka in
 * tests/e2e/test_telemetry.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tw_assign.h"
#include "tw_parts.h"
#include "tw_window.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1795410000) * S)

static const struct tw_checkpoint cp0 = {
    .offset = 120, .max_ts_ns = T0 + 5 * S, .watermark_ns = T0 + 2 * S, .closed_before_ns = T0};

static void test_restore(void **state)
{
	char meta[TW_CHECKPOINT_TEXT_MAX], long_meta[300];
	struct tw_restore r;
	int len;

	(void)state;
	len = tw_checkpoint_format(&cp0, meta, sizeof(meta));
	assert_true(len > 0);

	/* Nothing committed: a fresh start, whatever the metadata says. */
	tw_assign_restore(-1001, meta, (size_t)len, &r);
	assert_int_equal(r.committed_offset, TW_PART_NO_COMMIT);
	assert_false(r.have_cp);
	assert_false(r.bad_meta);
	assert_string_equal(r.meta, "");
	tw_assign_restore(-2, NULL, 0, &r); /* RD_KAFKA_OFFSET_END and such */
	assert_int_equal(r.committed_offset, TW_PART_NO_COMMIT);

	/* An offset without metadata: the windows start afresh there. */
	tw_assign_restore(77, NULL, 0, &r);
	assert_int_equal(r.committed_offset, 77);
	assert_false(r.have_cp);
	assert_false(r.bad_meta);
	tw_assign_restore(77, meta, 0, &r);
	assert_false(r.have_cp);
	assert_false(r.bad_meta);

	/* A checkpoint: restored, its offset the committed one. The metadata
	 * is not NUL-terminated. */
	char raw[TW_CHECKPOINT_TEXT_MAX + 8];
	memcpy(raw, meta, (size_t)len);
	memset(raw + len, 'x', 8);
	tw_assign_restore(120, raw, (size_t)len, &r);
	assert_int_equal(r.committed_offset, 120);
	assert_true(r.have_cp);
	assert_false(r.bad_meta);
	assert_string_equal(r.meta, meta);
	assert_int_equal(r.cp.offset, 120);
	assert_int_equal(r.cp.max_ts_ns, cp0.max_ts_ns);
	assert_int_equal(r.cp.watermark_ns, cp0.watermark_ns);
	assert_int_equal(r.cp.closed_before_ns, cp0.closed_before_ns);
	tw_assign_restore(500, meta, (size_t)len, &r); /* the offset is the commit's */
	assert_true(r.have_cp);
	assert_int_equal(r.cp.offset, 500);

	/* Not a checkpoint (another tool committed): start afresh at the
	 * offset, and say why. */
	tw_assign_restore(9, "hello", 5, &r);
	assert_int_equal(r.committed_offset, 9);
	assert_false(r.have_cp);
	assert_true(r.bad_meta);
	assert_string_equal(r.meta, "hello");
	assert_true(strlen(r.error) > 0);

	/* Too long: cut to fit, and refused. */
	memset(long_meta, 'a', sizeof(long_meta));
	tw_assign_restore(9, long_meta, sizeof(long_meta), &r);
	assert_int_equal(strlen(r.meta), TW_CHECKPOINT_TEXT_MAX - 1);
	assert_true(r.bad_meta);
	assert_false(r.have_cp);
}

static void test_parts_table(void **state)
{
	struct tw_parts ps = {0};
	struct tw_part *p;

	(void)state;
	assert_null(tw_parts_find(&ps, 0));
	tw_parts_remove(&ps, 0); /* nothing there: fine */
	p = tw_parts_add(&ps, 3);
	assert_non_null(p);
	assert_int_equal(p->partition, 3);
	assert_int_equal(p->committed_offset, TW_PART_NO_COMMIT);
	assert_string_equal(p->committed_meta, "");
	assert_int_equal(p->lag, -1);
	p->committed_offset = 10;
	/* Adding again is the same entry, as it was. */
	p = tw_parts_add(&ps, 3);
	assert_int_equal(ps.n, 1);
	assert_int_equal(p->committed_offset, 10);
	/* Past the first allocation. */
	for (int32_t i = 100; i < 140; i++)
		assert_non_null(tw_parts_add(&ps, i));
	assert_int_equal(ps.n, 41);
	assert_true(ps.cap >= 41);
	for (int32_t i = 100; i < 140; i++)
		assert_int_equal(tw_parts_find(&ps, i)->partition, i);
	assert_int_equal(tw_parts_find(&ps, 3)->committed_offset, 10);
	/* Removing keeps the others. */
	tw_parts_remove(&ps, 3);
	tw_parts_remove(&ps, 139);
	tw_parts_remove(&ps, 139);
	assert_int_equal(ps.n, 39);
	assert_null(tw_parts_find(&ps, 3));
	assert_null(tw_parts_find(&ps, 139));
	for (int32_t i = 100; i < 139; i++)
		assert_non_null(tw_parts_find(&ps, i));
	tw_parts_free(&ps);
	assert_int_equal(ps.n, 0);
	assert_null(ps.v);
	tw_parts_free(&ps);                    /* twice: fine */
	assert_non_null(tw_parts_add(&ps, 1)); /* and reusable */
	tw_parts_free(&ps);
}

static void test_part_changed(void **state)
{
	struct tw_part p = {.partition = 0, .committed_offset = TW_PART_NO_COMMIT, .lag = -1};
	struct tw_checkpoint cp = cp0;
	char meta[TW_CHECKPOINT_TEXT_MAX], want[TW_CHECKPOINT_TEXT_MAX];

	(void)state;
	assert_true(tw_checkpoint_format(&cp, want, sizeof(want)) > 0);
	/* Nothing processed yet: nothing to commit. */
	cp.offset = TW_OFFSET_NONE;
	assert_false(tw_part_changed(&p, &cp, meta, sizeof(meta)));
	cp.offset = 120;
	/* Never committed: commit. */
	assert_true(tw_part_changed(&p, &cp, meta, sizeof(meta)));
	assert_string_equal(meta, want);
	/* Committed just that: nothing new. */
	p.committed_offset = 120;
	snprintf(p.committed_meta, sizeof(p.committed_meta), "%s", want);
	assert_false(tw_part_changed(&p, &cp, meta, sizeof(meta)));
	/* The offset moved, or only the watermark (an idle advance). */
	cp.offset = 121;
	assert_true(tw_part_changed(&p, &cp, meta, sizeof(meta)));
	cp.offset = 120;
	cp.watermark_ns += S;
	assert_true(tw_part_changed(&p, &cp, meta, sizeof(meta)));
	assert_string_not_equal(meta, want);
	/* Committed under another text (a bad metadata was found): commit. */
	cp = cp0;
	snprintf(p.committed_meta, sizeof(p.committed_meta), "%s", "");
	assert_true(tw_part_changed(&p, &cp, meta, sizeof(meta)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restore),
	    cmocka_unit_test(test_parts_table),
	    cmocka_unit_test(test_part_changed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
