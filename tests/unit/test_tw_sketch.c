/* Unit tests for workers/telemetry/tw_sketch.c: the relative-error bound on several
 * distributions against exact sorted quantiles, merging, zero and negative
 * values, the bucket cap and its collapse, refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_sketch.h"

#define ALPHA 0.01
/* The bound holds up to floating-point rounding in log() and exp(). */
#define SLACK (1.0 + 1e-9)

static const double qs[] = {0.0,  0.001, 0.01, 0.05, 0.1,   0.25, 0.5,
                            0.75, 0.9,   0.95, 0.99, 0.999, 1.0};

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s ? s : 1;
}

static double uniform01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double normal(void)
{
	double u = uniform01(), v = uniform01();

	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct tw_sketch_config config(void)
{
	struct tw_sketch_config cfg;
	char err[128];

	assert_int_equal(
	    tw_sketch_config_init(&cfg, ALPHA, TW_SKETCH_BUCKETS_DEFAULT, err, sizeof(err)), 0);
	return cfg;
}

/* Adds xs to a sketch and checks every quantile against the sorted data. */
static void check_accuracy(const char *name, double *xs, size_t n)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch s;

	tw_sketch_init(&s);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tw_sketch_add(&s, &cfg, xs[i]), 0);
	qsort(xs, n, sizeof(*xs), cmp_double);
	assert_int_equal(tw_sketch_count(&s), n);
	assert_int_equal(tw_sketch_collapsed(&s), 0);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		double exact = xs[(size_t)floor(qs[k] * (double)(n - 1))];
		double est = tw_sketch_quantile(&s, &cfg, qs[k]);

		if (fabs(est - exact) > ALPHA * fabs(exact) * SLACK) {
			fail_msg("%s: q=%g exact=%.17g estimate=%.17g rel=%g", name, qs[k], exact,
			         est, fabs(est - exact) / fabs(exact));
		}
	}
	tw_sketch_free(&s);
}

#define N 100000

static void test_accuracy_uniform(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(1);
	for (size_t i = 0; i < N; i++)
		xs[i] = 1.0 + 999.0 * uniform01();
	check_accuracy("uniform[1,1000)", xs, N);
	free(xs);
}

static void test_accuracy_exponential(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(2);
	for (size_t i = 0; i < N; i++)
		xs[i] = -log(1.0 - uniform01()) * 50.0;
	check_accuracy("exponential(mean 50)", xs, N);
	free(xs);
}

static void test_accuracy_lognormal_heavy_tail(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(3);
	for (size_t i = 0; i < N; i++)
		xs[i] = exp(3.0 * normal()); /* spans ~1e-6 .. 1e6 */
	check_accuracy("lognormal(0,3)", xs, N);
	free(xs);
}

static void test_accuracy_normal_with_negatives(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(4);
	for (size_t i = 0; i < N; i++)
		xs[i] = 20.0 + 100.0 * normal();
	check_accuracy("normal(20,100)", xs, N);
	free(xs);
}

static void test_accuracy_all_negative(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(5);
	for (size_t i = 0; i < N; i++)
		xs[i] = -1.0 - 1e4 * uniform01();
	check_accuracy("uniform[-10001,-1)", xs, N);
	free(xs);
}

static void test_accuracy_zeros_and_mixed(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(6);
	for (size_t i = 0; i < N; i++) {
		double u = uniform01();

		xs[i] = u < 0.3 ? 0.0 : (u < 0.5 ? -uniform01() * 10 : uniform01() * 1e6);
	}
	check_accuracy("30% zeros, negatives, positives", xs, N);
	free(xs);
}

static void test_accuracy_integers_with_ties(void **state)
{
	double *xs = malloc(N * sizeof(*xs));

	(void)state;
	rng_seed(7);
	for (size_t i = 0; i < N; i++)
		xs[i] = floor(uniform01() * 5.0); /* 0,1,2,3,4 only */
	check_accuracy("integers 0..4", xs, N);
	free(xs);
}

static void test_accuracy_small_samples(void **state)
{
	(void)state;
	rng_seed(8);
	for (size_t n = 1; n <= 40; n++) {
		double xs[40];

		for (size_t i = 0; i < n; i++)
			xs[i] = (uniform01() - 0.3) * 1000.0;
		check_accuracy("small sample", xs, n);
	}
}

static void test_extreme_magnitudes(void **state)
{
	/* Within the 1e17 span a 2048-bucket store holds without collapsing,
	 * at both ends of the double range (the top bucket's representative
	 * overflows to inf and is clamped to max). */
	double big[] = {1e300, 1e295, -1e300, -1e295, DBL_MAX, -DBL_MAX, 3e299, 0.0};
	double small[] = {1e-300, 1e-295, -1e-300, -1e-295, DBL_MIN, -DBL_MIN, 3e-299, 0.0};

	(void)state;
	check_accuracy("huge", big, sizeof(big) / sizeof(big[0]));
	check_accuracy("tiny", small, sizeof(small) / sizeof(small[0]));
}

static void test_constant_and_single(void **state)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch s;

	(void)state;
	tw_sketch_init(&s);
	assert_true(isnan(tw_sketch_quantile(&s, &cfg, 0.5)));
	assert_int_equal(tw_sketch_add(&s, &cfg, 42.5), 0);
	/* Clamped to [min, max]: one value answers itself exactly. */
	assert_true(tw_sketch_quantile(&s, &cfg, 0.0) == 42.5);
	assert_true(tw_sketch_quantile(&s, &cfg, 0.99) == 42.5);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(tw_sketch_add(&s, &cfg, 42.5), 0);
	assert_true(tw_sketch_quantile(&s, &cfg, 0.5) == 42.5);
	/* q outside [0, 1] and NaN are clamped. */
	assert_true(tw_sketch_quantile(&s, &cfg, -1.0) == 42.5);
	assert_true(tw_sketch_quantile(&s, &cfg, 7.0) == 42.5);
	assert_true(tw_sketch_quantile(&s, &cfg, NAN) == 42.5);
	tw_sketch_free(&s);
	tw_sketch_free(&s); /* twice is fine */
}

static void test_zero_and_subnormal(void **state)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch s;

	(void)state;
	tw_sketch_init(&s);
	assert_int_equal(tw_sketch_add(&s, &cfg, 0.0), 0);
	assert_int_equal(tw_sketch_add(&s, &cfg, -0.0), 0);
	assert_int_equal(tw_sketch_add(&s, &cfg, DBL_MIN / 4), 0);
	assert_int_equal(tw_sketch_add(&s, &cfg, -DBL_MIN / 4), 0);
	assert_int_equal(s.zero, 4);
	assert_int_equal(tw_sketch_buckets(&s), 0);
	assert_true(tw_sketch_quantile(&s, &cfg, 0.5) == 0.0);
	tw_sketch_free(&s);
}

static void test_refuses_non_finite(void **state)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch s;

	(void)state;
	tw_sketch_init(&s);
	assert_int_equal(tw_sketch_add(&s, &cfg, NAN), TW_SKETCH_E_VALUE);
	assert_int_equal(tw_sketch_add(&s, &cfg, INFINITY), TW_SKETCH_E_VALUE);
	assert_int_equal(tw_sketch_add(&s, &cfg, -INFINITY), TW_SKETCH_E_VALUE);
	assert_int_equal(tw_sketch_count(&s), 0);
	tw_sketch_free(&s);
}

static void test_merge_equals_union(void **state)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch a, b, all, empty;

	(void)state;
	tw_sketch_init(&a);
	tw_sketch_init(&b);
	tw_sketch_init(&all);
	tw_sketch_init(&empty);
	rng_seed(9);
	for (int i = 0; i < 20000; i++) {
		/* Different ranges so the merge must grow dst both ways. */
		double x = i % 2 ? exp(4 * normal()) : -1e3 * (uniform01() + 1e-6);
		double y = i % 3 ? 1e-3 * (uniform01() + 1e-6) : 1e9 * uniform01();

		assert_int_equal(tw_sketch_add(&a, &cfg, x), 0);
		assert_int_equal(tw_sketch_add(&b, &cfg, y), 0);
		assert_int_equal(tw_sketch_add(&all, &cfg, x), 0);
		assert_int_equal(tw_sketch_add(&all, &cfg, y), 0);
	}
	assert_int_equal(tw_sketch_merge(&a, &empty, &cfg), 0);
	assert_int_equal(tw_sketch_merge(&empty, &b, &cfg), 0); /* into an empty one */
	assert_int_equal(tw_sketch_merge(&a, &empty, &cfg), 0);
	assert_int_equal(tw_sketch_count(&a), tw_sketch_count(&all));
	assert_int_equal(tw_sketch_collapsed(&all), 0);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
		assert_true(tw_sketch_quantile(&a, &cfg, qs[k]) ==
		            tw_sketch_quantile(&all, &cfg, qs[k]));
	tw_sketch_free(&a);
	tw_sketch_free(&b);
	tw_sketch_free(&all);
	tw_sketch_free(&empty);
}

static void test_reset_keeps_memory(void **state)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch s;
	size_t buckets;

	(void)state;
	tw_sketch_init(&s);
	for (int i = 1; i < 1000; i++)
		assert_int_equal(tw_sketch_add(&s, &cfg, i), 0);
	buckets = tw_sketch_buckets(&s);
	assert_true(buckets > 0);
	tw_sketch_reset(&s);
	assert_int_equal(tw_sketch_count(&s), 0);
	assert_int_equal(tw_sketch_buckets(&s), buckets);
	assert_true(isnan(tw_sketch_quantile(&s, &cfg, 0.5)));
	assert_int_equal(tw_sketch_add(&s, &cfg, 7.0), 0);
	assert_true(tw_sketch_quantile(&s, &cfg, 0.5) == 7.0);
	tw_sketch_free(&s);
}

static void test_bucket_cap_collapses_lowest(void **state)
{
	struct tw_sketch_config cfg;
	struct tw_sketch s;
	char err[128];
	double xs[2001], sorted[4002];

	(void)state;
	assert_int_equal(tw_sketch_config_init(&cfg, ALPHA, 64, err, sizeof(err)), 0);
	tw_sketch_init(&s);
	/* 1e-10 .. 1e10: needs ~2300 buckets at 1%; the cap is 64 a store. */
	for (int i = 0; i <= 2000; i++) {
		xs[i] = pow(10.0, -10.0 + i / 100.0);
		assert_int_equal(tw_sketch_add(&s, &cfg, xs[i]), 0);
		assert_int_equal(tw_sketch_add(&s, &cfg, -xs[i]), 0);
		assert_true(tw_sketch_buckets(&s) <= 2 * 64);
		sorted[2 * i] = xs[i];
		sorted[2 * i + 1] = -xs[i];
	}
	qsort(sorted, 4002, sizeof(sorted[0]), cmp_double);
	assert_true(tw_sketch_collapsed(&s) > 0);
	/* The largest magnitudes keep the bound: the 64 buckets of a store
	 * cover ratios up to 1.0202^64 = 3.6, i.e. the top ~0.28 decades; the
	 * positive half's top 1% lies there. */
	{
		double exact = sorted[(size_t)floor(0.9995 * 4001)];
		double est = tw_sketch_quantile(&s, &cfg, 0.9995);

		assert_true(fabs(est - exact) <= ALPHA * exact * SLACK);
		est = tw_sketch_quantile(&s, &cfg, 1.0);
		assert_true(est == xs[2000]);
		est = tw_sketch_quantile(&s, &cfg, 0.0);
		assert_true(est == -xs[2000]);
	}
	/* Collapsed small magnitudes answer too large a magnitude, never a
	 * value outside [min, max]. */
	{
		double med = tw_sketch_quantile(&s, &cfg, 0.5);

		assert_true(med >= -xs[2000] && med <= xs[2000]);
	}
	tw_sketch_free(&s);
}

static void test_collapse_descending(void **state)
{
	struct tw_sketch_config cfg;
	struct tw_sketch s;
	char err[128];

	(void)state;
	assert_int_equal(tw_sketch_config_init(&cfg, ALPHA, 16, err, sizeof(err)), 0);
	tw_sketch_init(&s);
	/* Ever smaller values once the store is full: folded in place. */
	for (int i = 0; i <= 2000; i++)
		assert_int_equal(tw_sketch_add(&s, &cfg, pow(10.0, 10.0 - i / 100.0)), 0);
	assert_true(tw_sketch_buckets(&s) <= 16);
	assert_int_equal(tw_sketch_count(&s), 2001);
	assert_true(tw_sketch_collapsed(&s) >= 2001 - 16);
	assert_true(tw_sketch_quantile(&s, &cfg, 1.0) == 1e10);
	/* The 16 top buckets span 1.0202^16 = 1.37: the top 1.4 decades'
	 * worth of values around 1e10 keep the bound. */
	{
		double exact = pow(10.0, 10.0 - 1 / 100.0);
		double est = tw_sketch_quantile(&s, &cfg, 1999.0 / 2000.0);

		assert_true(fabs(est - exact) <= ALPHA * exact * SLACK);
	}
	tw_sketch_free(&s);
}

static void test_sparse_then_dense(void **state)
{
	struct tw_sketch_config cfg = config(), small;
	struct tw_sketch s, t, m;
	char err[128];
	double xs[200];

	(void)state;
	/* Few distinct buckets stay sparse however far apart they are:
	 * 1e-200 and 1e200 need no collapse. */
	tw_sketch_init(&s);
	assert_int_equal(tw_sketch_add(&s, &cfg, 1e-200), 0);
	assert_int_equal(tw_sketch_add(&s, &cfg, 1e200), 0);
	assert_int_equal(tw_sketch_add(&s, &cfg, -1e100), 0);
	assert_int_equal(s.pos.dense, 0);
	assert_true(tw_sketch_buckets(&s) <= 2 * 8);
	assert_true(fabs(tw_sketch_quantile(&s, &cfg, 0.0) + 1e100) <= ALPHA * 1e100 * SLACK);
	assert_true(fabs(tw_sketch_quantile(&s, &cfg, 0.5) - 1e-200) <= ALPHA * 1e-200 * SLACK);
	tw_sketch_free(&s);

	/* The 33rd distinct bucket turns the store dense; answers keep the
	 * bound through the switch. */
	tw_sketch_init(&s);
	for (int i = 0; i < 200; i++) {
		xs[i] = 1.0 + i * 0.5;
		assert_int_equal(tw_sketch_add(&s, &cfg, xs[i]), 0);
		assert_int_equal(s.pos.dense, i >= TW_SKETCH_SPARSE_MAX);
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			double exact = xs[(size_t)floor(qs[k] * i)];
			double est = tw_sketch_quantile(&s, &cfg, qs[k]);

			assert_true(fabs(est - exact) <= ALPHA * exact * SLACK);
		}
	}
	/* Merging sparse into dense and dense into sparse. */
	tw_sketch_init(&t);
	tw_sketch_init(&m);
	assert_int_equal(tw_sketch_add(&t, &cfg, 7.25), 0);
	assert_int_equal(tw_sketch_merge(&t, &s, &cfg), 0);
	assert_int_equal(tw_sketch_add(&m, &cfg, 7.25), 0);
	assert_int_equal(tw_sketch_merge(&s, &m, &cfg), 0);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
		assert_true(tw_sketch_quantile(&t, &cfg, qs[k]) ==
		            tw_sketch_quantile(&s, &cfg, qs[k]));
	tw_sketch_free(&s);
	tw_sketch_free(&t);
	tw_sketch_free(&m);

	/* With max_buckets below the sparse limit, the cap wins. */
	assert_int_equal(tw_sketch_config_init(&small, ALPHA, 16, err, sizeof(err)), 0);
	tw_sketch_init(&s);
	for (int i = 0; i < 17; i++)
		assert_int_equal(tw_sketch_add(&s, &small, pow(2.0, i)), 0);
	assert_int_equal(s.pos.dense, 1);
	assert_true(tw_sketch_buckets(&s) <= 16);
	assert_true(tw_sketch_collapsed(&s) > 0);
	tw_sketch_free(&s);
}

static void test_quantiles_one_pass(void **state)
{
	struct tw_sketch_config cfg = config();
	struct tw_sketch s;
	double out[sizeof(qs) / sizeof(qs[0])];

	(void)state;
	tw_sketch_init(&s);
	tw_sketch_quantiles(&s, &cfg, qs, 3, out);
	assert_true(isnan(out[0]) && isnan(out[1]) && isnan(out[2]));
	rng_seed(77);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(tw_sketch_add(&s, &cfg, 100 * normal()), 0);
	tw_sketch_quantiles(&s, &cfg, qs, sizeof(qs) / sizeof(qs[0]), out);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
		assert_true(out[k] == tw_sketch_quantile(&s, &cfg, qs[k]));
	tw_sketch_free(&s);
}

static void test_config_errors(void **state)
{
	struct tw_sketch_config cfg;
	char err[128];

	(void)state;
	assert_int_equal(tw_sketch_config_init(&cfg, 0.0, 2048, err, sizeof(err)),
	                 TW_SKETCH_E_CONFIG);
	assert_string_equal(err, "sketch: relative accuracy 0 is not in (0, 0.5]");
	assert_int_equal(tw_sketch_config_init(&cfg, 0.6, 2048, err, sizeof(err)),
	                 TW_SKETCH_E_CONFIG);
	assert_string_equal(err, "sketch: relative accuracy 0.6 is not in (0, 0.5]");
	assert_int_equal(tw_sketch_config_init(&cfg, NAN, 2048, err, sizeof(err)),
	                 TW_SKETCH_E_CONFIG);
	assert_int_equal(tw_sketch_config_init(&cfg, 0.01, 8, err, sizeof(err)),
	                 TW_SKETCH_E_CONFIG);
	assert_string_equal(err, "sketch: max_buckets 8 is below 16");
	assert_int_equal(tw_sketch_config_init(&cfg, 0.5, 16, err, sizeof(err)), 0);
	assert_true(fabs(cfg.gamma - 3.0) < 1e-12);
}

static void test_other_alphas(void **state)
{
	(void)state;
	/* The bound scales with alpha: 5% and 0.1% too. */
	for (int k = 0; k < 2; k++) {
		double alpha = k == 0 ? 0.05 : 0.001;
		struct tw_sketch_config cfg;
		struct tw_sketch s;
		char err[128];
		double *xs = malloc(20000 * sizeof(*xs));

		assert_int_equal(tw_sketch_config_init(&cfg, alpha, 1 << 16, err, sizeof(err)), 0);
		tw_sketch_init(&s);
		rng_seed(10 + (uint64_t)k);
		for (int i = 0; i < 20000; i++) {
			xs[i] = exp(2 * normal()) - 0.5;
			assert_int_equal(tw_sketch_add(&s, &cfg, xs[i]), 0);
		}
		qsort(xs, 20000, sizeof(*xs), cmp_double);
		for (size_t j = 0; j < sizeof(qs) / sizeof(qs[0]); j++) {
			double exact = xs[(size_t)floor(qs[j] * 19999)];
			double est = tw_sketch_quantile(&s, &cfg, qs[j]);

			assert_true(fabs(est - exact) <= alpha * fabs(exact) * SLACK);
		}
		tw_sketch_free(&s);
		free(xs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accuracy_uniform),
	    cmocka_unit_test(test_accuracy_exponential),
	    cmocka_unit_test(test_accuracy_lognormal_heavy_tail),
	    cmocka_unit_test(test_accuracy_normal_with_negatives),
	    cmocka_unit_test(test_accuracy_all_negative),
	    cmocka_unit_test(test_accuracy_zeros_and_mixed),
	    cmocka_unit_test(test_accuracy_integers_with_ties),
	    cmocka_unit_test(test_accuracy_small_samples),
	    cmocka_unit_test(test_extreme_magnitudes),
	    cmocka_unit_test(test_constant_and_single),
	    cmocka_unit_test(test_zero_and_subnormal),
	    cmocka_unit_test(test_refuses_non_finite),
	    cmocka_unit_test(test_merge_equals_union),
	    cmocka_unit_test(test_reset_keeps_memory),
	    cmocka_unit_test(test_bucket_cap_collapses_lowest),
	    cmocka_unit_test(test_collapse_descending),
	    cmocka_unit_test(test_sparse_then_dense),
	    cmocka_unit_test(test_quantiles_one_pass),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_other_alphas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
