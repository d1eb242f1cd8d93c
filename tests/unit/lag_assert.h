/*
 * lag_assert.h - the checks of operator/lag.h's batched reads shared by
 * tests/unit/test_lag.c (mock cluster) and tests/integration/lag_it.c
 * (real Kafka). Include after cmocka.h and lag.h.
 */
#ifndef SLUICE_LAG_ASSERT_H
#define SLUICE_LAG_ASSERT_H

#include <string.h>

#include "lag.h"

/* a and b read the same, partition by partition. */
static inline void lag_assert_same(const struct lag_result *a, const struct lag_result *b)
{
	assert_int_equal(a->partitions, b->partitions);
	assert_int_equal(a->total_lag, b->total_lag);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->uncommitted, b->uncommitted);
	for (int32_t i = 0; i < a->partitions; i++) {
		assert_int_equal(a->p[i].partition, b->p[i].partition);
		assert_int_equal(a->p[i].committed, b->p[i].committed);
		assert_int_equal(a->p[i].start, b->p[i].start);
		assert_int_equal(a->p[i].end, b->p[i].end);
		assert_int_equal(a->p[i].position, b->p[i].position);
		assert_int_equal(a->p[i].lag, b->p[i].lag);
		assert_int_equal(a->lag[i], b->lag[i]);
	}
}

/* Each of a lag_read_many's n queries read again alone: one that read
 * (errors[i] "") equals its lag_read, one that failed fails lag_read with
 * the same line. one is the lag_read's result (reused). Returns how many
 * failed. */
static inline size_t lag_assert_reads_match(struct lag_reader *r, size_t n,
                                            const struct lag_query q[],
                                            const struct lag_result res[],
                                            char (*errors)[LAG_ERROR_MAX], struct lag_result *one,
                                            int timeout_ms)
{
	char err[LAG_ERROR_MAX];
	size_t failed = 0;

	for (size_t i = 0; i < n; i++) {
		int rc = lag_read(r, q[i].group, q[i].topic, q[i].reset, timeout_ms, one, err,
		                  sizeof(err));

		if (errors[i][0] != '\0') {
			assert_int_equal(rc, -1);
			assert_string_equal(errors[i], err);
			failed++;
			continue;
		}
		assert_int_equal(rc, 0);
		lag_assert_same(&res[i], one);
	}
	return failed;
}

#endif /* SLUICE_LAG_ASSERT_H */
