/* Unit tests for workers/telemetry/tw_agg.c: names, config, count/sum/min/max/mean,
 * absent and non-finite values, quantiles on and off, merge, reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tw_agg.h"

static struct tw_agg_config config(uint32_t nvalues, unsigned kinds)
{
	struct tw_agg_config cfg;
	char err[128];

	assert_int_equal(tw_agg_config_init(&cfg, nvalues, kinds, 0, 0, err, sizeof(err)), 0);
	return cfg;
}

static struct tw_event event2(double a, double b, uint32_t present)
{
	struct tw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.values[0] = a;
	ev.values[1] = b;
	ev.present = present;
	return ev;
}

static void test_names(void **state)
{
	static const char *const names[] = {"count", "sum", "min", "max",
	                                    "mean",  "p50", "p95", "p99"};
	unsigned all = 0;

	(void)state;
	for (size_t i = 0; i < 8; i++) {
		unsigned kind = 0;

		assert_int_equal(tw_agg_parse(names[i], &kind), 0);
		assert_int_equal(kind, 1u << i);
		assert_string_equal(tw_agg_name(kind), names[i]);
		all |= kind;
	}
	assert_int_equal(all, TW_AGG_ALL);
	{
		unsigned kind = 99;

		assert_int_equal(tw_agg_parse("median", &kind), -1);
		assert_int_equal(tw_agg_parse("COUNT", &kind), -1);
		assert_int_equal(tw_agg_parse(NULL, &kind), -1);
		assert_int_equal(kind, 99);
	}
	assert_null(tw_agg_name(0));
	assert_null(tw_agg_name(TW_AGG_SUM | TW_AGG_MIN));
	assert_null(tw_agg_name(1u << 9));
}

static void test_config_errors(void **state)
{
	struct tw_agg_config cfg;
	char err[128];

	(void)state;
	assert_int_equal(
	    tw_agg_config_init(&cfg, TW_VALUES_MAX + 1, TW_AGG_ALL, 0, 0, err, sizeof(err)),
	    TW_AGG_E_CONFIG);
	assert_string_equal(err, "aggregates: 17 value fields, the most is 16");
	assert_int_equal(tw_agg_config_init(&cfg, 1, 0x100, 0, 0, err, sizeof(err)),
	                 TW_AGG_E_CONFIG);
	assert_string_equal(err, "aggregates: unknown kind bits 0x100");
	assert_int_equal(tw_agg_config_init(&cfg, 1, TW_AGG_ALL, 0.7, 0, err, sizeof(err)),
	                 TW_AGG_E_CONFIG);
	assert_string_equal(err, "sketch: relative accuracy 0.7 is not in (0, 0.5]");
	assert_int_equal(tw_agg_config_init(&cfg, 1, TW_AGG_ALL, 0.02, 100, err, sizeof(err)), 0);
	assert_true(cfg.sketch.alpha == 0.02);
	assert_int_equal(cfg.sketch.max_buckets, 100);
}

static void test_basic_statistics(void **state)
{
	struct tw_agg_config cfg = config(2, TW_AGG_ALL);
	struct tw_agg *a = tw_agg_new(&cfg);
	struct tw_value_result r[2];
	const double xs[] = {3, -1, 4, 1, 5, 9, 2, 6};

	(void)state;
	assert_non_null(a);
	for (size_t i = 0; i < 8; i++) {
		struct tw_event ev = event2(xs[i], 10 * xs[i], 3);

		assert_int_equal(tw_agg_add(a, &cfg, &ev), 0);
	}
	tw_agg_result(a, &cfg, r);
	assert_int_equal(a->count, 8);
	assert_int_equal(r[0].count, 8);
	assert_true(r[0].sum == 29);
	assert_true(r[0].min == -1);
	assert_true(r[0].max == 9);
	assert_true(r[0].mean == 29.0 / 8);
	/* Sorted: -1 1 2 3 4 5 6 9; ranks floor(q * 7): p50 -> 3, p95 -> 6,
	 * p99 -> 6 (value 6); within 1%. */
	assert_true(fabs(r[0].p50 - 3) <= 0.03 + 1e-12);
	assert_true(fabs(r[0].p95 - 6) <= 0.06 + 1e-12);
	assert_true(fabs(r[0].p99 - 6) <= 0.06 + 1e-12);
	assert_true(r[1].sum == 290);
	assert_true(r[1].min == -10);
	tw_agg_free(a);
}

static void test_absent_and_non_finite_values(void **state)
{
	struct tw_agg_config cfg = config(2, TW_AGG_ALL);
	struct tw_agg *a = tw_agg_new(&cfg);
	struct tw_value_result r[2];
	struct tw_event e1 = event2(5, 99, 1);         /* value 1 absent */
	struct tw_event e2 = event2(NAN, INFINITY, 3); /* both present but not finite */
	struct tw_event e3 = event2(7, 0, 1);

	(void)state;
	assert_int_equal(tw_agg_add(a, &cfg, &e1), 0);
	assert_int_equal(tw_agg_add(a, &cfg, &e2), 0);
	assert_int_equal(tw_agg_add(a, &cfg, &e3), 0);
	tw_agg_result(a, &cfg, r);
	assert_int_equal(a->count, 3); /* every event counts */
	assert_int_equal(r[0].count, 2);
	assert_true(r[0].sum == 12);
	assert_true(r[0].mean == 6);
	assert_int_equal(r[1].count, 0);
	assert_true(r[1].sum == 0);
	assert_true(isnan(r[1].min) && isnan(r[1].max) && isnan(r[1].mean));
	assert_true(isnan(r[1].p50) && isnan(r[1].p95) && isnan(r[1].p99));
	tw_agg_free(a);
}

static void test_quantiles_off(void **state)
{
	struct tw_agg_config cfg = config(1, TW_AGG_COUNT | TW_AGG_SUM | TW_AGG_MEAN);
	struct tw_agg *a = tw_agg_new(&cfg);
	struct tw_value_result r;
	struct tw_event e = event2(2.5, 0, 1);

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_int_equal(tw_agg_add(a, &cfg, &e), 0);
	tw_agg_result(a, &cfg, &r);
	assert_true(r.sum == 250);
	assert_true(r.min == 2.5); /* free, so filled anyway */
	assert_true(isnan(r.p50) && isnan(r.p95) && isnan(r.p99));
	assert_int_equal(tw_sketch_count(&a->v[0].sketch), 0); /* no sketch kept */
	tw_agg_free(a);
}

static void test_no_value_fields(void **state)
{
	struct tw_agg_config cfg = config(0, TW_AGG_COUNT);
	struct tw_agg *a = tw_agg_new(&cfg), *b = tw_agg_new(&cfg);
	struct tw_event e = event2(0, 0, 0);

	(void)state;
	assert_int_equal(tw_agg_add(a, &cfg, &e), 0);
	assert_int_equal(tw_agg_add(b, &cfg, &e), 0);
	assert_int_equal(tw_agg_merge(a, b, &cfg), 0);
	assert_int_equal(a->count, 2);
	tw_agg_free(a);
	tw_agg_free(b);
	tw_agg_free(NULL);
}

static void test_merge_equals_adding_everything(void **state)
{
	struct tw_agg_config cfg = config(2, TW_AGG_ALL);
	struct tw_agg *a = tw_agg_new(&cfg), *b = tw_agg_new(&cfg), *all = tw_agg_new(&cfg);
	struct tw_agg *empty = tw_agg_new(&cfg);
	struct tw_value_result ra[2], rall[2];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		/* Integers, so sums are exact in any order. */
		struct tw_event e = event2(i % 37 - 10, i * 3, i % 5 ? 3 : 1);

		assert_int_equal(tw_agg_add(i < 400 ? a : b, &cfg, &e), 0);
		assert_int_equal(tw_agg_add(all, &cfg, &e), 0);
	}
	assert_int_equal(tw_agg_merge(a, b, &cfg), 0);
	assert_int_equal(tw_agg_merge(a, empty, &cfg), 0);
	tw_agg_result(a, &cfg, ra);
	tw_agg_result(all, &cfg, rall);
	assert_int_equal(a->count, all->count);
	assert_memory_equal(ra, rall, sizeof(ra));
	tw_agg_free(a);
	tw_agg_free(b);
	tw_agg_free(all);
	tw_agg_free(empty);
}

static void test_reset(void **state)
{
	struct tw_agg_config cfg = config(1, TW_AGG_ALL);
	struct tw_agg *a = tw_agg_new(&cfg);
	struct tw_value_result r;
	struct tw_event e = event2(4, 0, 1), f = event2(-8, 0, 1);

	(void)state;
	assert_int_equal(tw_agg_add(a, &cfg, &e), 0);
	tw_agg_reset(a);
	assert_int_equal(a->count, 0);
	tw_agg_result(a, &cfg, &r);
	assert_int_equal(r.count, 0);
	assert_true(isnan(r.min));
	assert_int_equal(tw_agg_add(a, &cfg, &f), 0);
	tw_agg_result(a, &cfg, &r);
	assert_true(r.min == -8 && r.max == -8 && r.p50 == -8 && r.sum == -8);
	tw_agg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_basic_statistics),
	    cmocka_unit_test(test_absent_and_non_finite_values),
	    cmocka_unit_test(test_quantiles_off),
	    cmocka_unit_test(test_no_value_fields),
	    cmocka_unit_test(test_merge_equals_adding_everything),
	    cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
