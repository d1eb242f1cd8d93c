/* Unit tests for workers/telemetry/tw_dedupe.c: repeats, the horizon and its exact
 * boundary, out-of-order pairs, eviction as max_ts advances, the memory
 * bound, growth, restore, and a randomized comparison with a brute-force
 * model of the documented semantics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_dedupe.h"
#include "tw_hash.h"

#define S INT64_C(1000000000)

static struct tw_dedupe *make(int64_t horizon, uint32_t max)
{
	struct tw_dedupe_config cfg = {.horizon_ns = horizon, .max_entries = max};
	char err[128];
	struct tw_dedupe *d = tw_dedupe_new(&cfg, err, sizeof(err));

	assert_non_null(d);
	return d;
}

static uint64_t key(const char *k)
{
	return tw_hash_bytes(k, strlen(k));
}

static void test_config_errors(void **state)
{
	struct tw_dedupe_config cfg = {.horizon_ns = 0};
	char err[128];

	(void)state;
	assert_null(tw_dedupe_new(&cfg, err, sizeof(err)));
	assert_string_equal(err, "dedupe: horizon 0 ns is not positive");
	cfg.horizon_ns = S;
	cfg.max_entries = TW_DEDUPE_MAX_ENTRIES_LIMIT + 1;
	assert_null(tw_dedupe_new(&cfg, err, sizeof(err)));
	assert_string_equal(err, "dedupe: max_entries 1073741825 is above 1073741824");
	tw_dedupe_free(NULL);
}

static void test_repeats(void **state)
{
	struct tw_dedupe *d = make(60 * S, 0);
	struct tw_dedupe_stats st;

	(void)state;
	assert_int_equal(tw_dedupe_check(d, key("a"), 10 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("a"), 10 * S), TW_DEDUPE_DUPLICATE);
	assert_int_equal(tw_dedupe_check(d, key("a"), 10 * S), TW_DEDUPE_DUPLICATE);
	assert_int_equal(tw_dedupe_check(d, key("b"), 10 * S), TW_DEDUPE_NEW);     /* other key */
	assert_int_equal(tw_dedupe_check(d, key("a"), 10 * S + 1), TW_DEDUPE_NEW); /* other ts */
	assert_int_equal(tw_dedupe_check(d, key("b"), 10 * S), TW_DEDUPE_DUPLICATE);
	/* Out of order, inside the horizon. */
	assert_int_equal(tw_dedupe_check(d, key("a"), 5 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("a"), 5 * S), TW_DEDUPE_DUPLICATE);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.checked, 8);
	assert_int_equal(st.duplicates, 4);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.beyond_horizon, 0);
	assert_int_equal(st.max_ts_ns, 10 * S + 1);
	tw_dedupe_free(d);
}

static void test_horizon_boundary(void **state)
{
	struct tw_dedupe *d = make(60 * S, 0);
	struct tw_dedupe_stats st;

	(void)state;
	assert_int_equal(tw_dedupe_check(d, key("a"), 100 * S), TW_DEDUPE_NEW);
	/* ts == max_ts - horizon is outside (remember ts > max - horizon). */
	assert_int_equal(tw_dedupe_check(d, key("x"), 40 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("x"), 40 * S), TW_DEDUPE_NEW);
	/* One ns newer is inside. */
	assert_int_equal(tw_dedupe_check(d, key("y"), 40 * S + 1), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("y"), 40 * S + 1), TW_DEDUPE_DUPLICATE);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.beyond_horizon, 2);
	assert_int_equal(st.entries, 2);
	tw_dedupe_free(d);
}

/* Before 1970 (down to 1900) and at the int64 limit: the same horizon
 * rules, no overflow in max_ts - horizon. */
static void test_history_and_limit(void **state)
{
	const int64_t t1900 = INT64_C(-2208988800) * S;
	struct tw_dedupe *d = make(60 * S, 0);
	struct tw_dedupe_stats st;

	(void)state;
	assert_int_equal(tw_dedupe_check(d, key("a"), t1900), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("a"), t1900), TW_DEDUPE_DUPLICATE);
	assert_int_equal(tw_dedupe_check(d, key("a"), t1900 + 100 * S), TW_DEDUPE_NEW);
	/* t1900 + 40 s == max - horizon: beyond; one ns later: inside */
	assert_int_equal(tw_dedupe_check(d, key("x"), t1900 + 40 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("x"), t1900 + 40 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("y"), t1900 + 40 * S + 1), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("y"), t1900 + 40 * S + 1), TW_DEDUPE_DUPLICATE);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.beyond_horizon, 2);
	assert_int_equal(st.max_ts_ns, t1900 + 100 * S);
	/* -1 ns and 0 are different pairs; across 1970 the horizon still holds */
	assert_int_equal(tw_dedupe_check(d, key("z"), -1), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("z"), 0), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("z"), -1), TW_DEDUPE_DUPLICATE);
	assert_int_equal(tw_dedupe_check(d, key("z"), -30 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("z"), -30 * S), TW_DEDUPE_DUPLICATE);
	/* the int64 limit */
	assert_int_equal(tw_dedupe_check(d, key("m"), INT64_MAX), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("m"), INT64_MAX), TW_DEDUPE_DUPLICATE);
	assert_int_equal(tw_dedupe_check(d, key("m"), INT64_MAX - 60 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("m"), INT64_MAX - 60 * S), TW_DEDUPE_NEW);
	tw_dedupe_free(d);
}

static void test_forgets_as_max_advances(void **state)
{
	struct tw_dedupe *d = make(10 * S, 0);
	struct tw_dedupe_stats st;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(tw_dedupe_check(d, key("k"), i * S), TW_DEDUPE_NEW);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.entries, 10);
	/* max 15 s: cutoff 5 s, pairs at 0..5 s are forgotten. */
	assert_int_equal(tw_dedupe_check(d, key("k"), 15 * S), TW_DEDUPE_NEW);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.entries, 5); /* 6,7,8,9,15 */
	assert_int_equal(tw_dedupe_check(d, key("k"), 6 * S), TW_DEDUPE_DUPLICATE);
	assert_int_equal(tw_dedupe_check(d, key("k"), 5 * S), TW_DEDUPE_NEW); /* beyond */
	/* A big jump forgets everything but itself. */
	assert_int_equal(tw_dedupe_check(d, key("k"), 1000 * S), TW_DEDUPE_NEW);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.entries, 1);
	tw_dedupe_free(d);
}

static void test_out_of_order_stays_until_head_moves(void **state)
{
	struct tw_dedupe *d = make(10 * S, 0);

	(void)state;
	/* A young head with an old pair behind it: the old pair lingers in
	 * memory, but it can never match (an event that old is beyond the
	 * horizon and not looked up). */
	assert_int_equal(tw_dedupe_check(d, key("a"), 100 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("b"), 91 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("a"), 105 * S), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("b"), 91 * S), TW_DEDUPE_NEW); /* beyond now */
	assert_int_equal(tw_dedupe_check(d, key("a"), 100 * S), TW_DEDUPE_DUPLICATE);
	tw_dedupe_free(d);
}

static void test_memory_bound(void **state)
{
	struct tw_dedupe *d = make(1000 * S, 4);
	struct tw_dedupe_stats st;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(tw_dedupe_check(d, key("k"), i), TW_DEDUPE_NEW);
	assert_int_equal(tw_dedupe_check(d, key("k"), 4), TW_DEDUPE_NEW); /* evicts ts 0 */
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evicted_early, 1);
	assert_int_equal(tw_dedupe_check(d, key("k"), 0), TW_DEDUPE_NEW); /* forgotten early */
	assert_int_equal(tw_dedupe_check(d, key("k"), 4), TW_DEDUPE_DUPLICATE);
	tw_dedupe_free(d);
}

static void test_growth_and_many_pairs(void **state)
{
	struct tw_dedupe *d = make(1000000 * S, 0);
	struct tw_dedupe_stats st;
	const int n = 200000; /* 3 * n pairs pass the default cap of 262144 */

	(void)state;
	for (int i = 0; i < n; i++)
		assert_int_equal(tw_dedupe_check(d, key(i % 2 ? "odd" : "even"), i), TW_DEDUPE_NEW);
	for (int i = 0; i < n; i++)
		assert_int_equal(tw_dedupe_check(d, key(i % 2 ? "odd" : "even"), i),
		                 TW_DEDUPE_DUPLICATE);
	for (int i = 0; i < n; i++)
		assert_int_equal(tw_dedupe_check(d, key(i % 2 ? "even" : "odd"), i), TW_DEDUPE_NEW);
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.entries, TW_DEDUPE_MAX_ENTRIES_DEFAULT);
	assert_int_equal(st.evicted_early, 2 * n - TW_DEDUPE_MAX_ENTRIES_DEFAULT);
	assert_int_equal(st.capacity, TW_DEDUPE_MAX_ENTRIES_DEFAULT);
	tw_dedupe_free(d);
}

static void test_restore_sets_horizon(void **state)
{
	struct tw_dedupe *d = make(10 * S, 0);
	struct tw_dedupe_stats st;

	(void)state;
	tw_dedupe_restore(d, 100 * S);
	assert_int_equal(tw_dedupe_check(d, key("k"), 90 * S), TW_DEDUPE_NEW); /* beyond */
	assert_int_equal(tw_dedupe_check(d, key("k"), 90 * S), TW_DEDUPE_NEW);
	tw_dedupe_restore(d, 50 * S); /* never lowers */
	tw_dedupe_stats(d, &st);
	assert_int_equal(st.max_ts_ns, 100 * S);
	assert_int_equal(st.beyond_horizon, 2);
	tw_dedupe_free(d);
}

/* ---- brute-force model ---------------------------------------------- */

struct model {
	uint64_t *keys;
	int64_t *ts;
	size_t n;
	int64_t max_ts, horizon;
};

static int model_check(struct model *m, uint64_t k, int64_t ts)
{
	int64_t cutoff;
	size_t j = 0;

	if (ts > m->max_ts)
		m->max_ts = ts;
	cutoff = m->max_ts - m->horizon;
	for (size_t i = 0; i < m->n; i++) {
		if (m->ts[i] > cutoff) {
			m->keys[j] = m->keys[i];
			m->ts[j++] = m->ts[i];
		}
	}
	m->n = j;
	if (ts <= cutoff)
		return TW_DEDUPE_NEW;
	for (size_t i = 0; i < m->n; i++)
		if (m->keys[i] == k && m->ts[i] == ts)
			return TW_DEDUPE_DUPLICATE;
	m->keys[m->n] = k;
	m->ts[m->n++] = ts;
	return TW_DEDUPE_NEW;
}

static void test_matches_model(void **state)
{
	const int ops = 30000;
	struct model m = {calloc((size_t)ops, 8), calloc((size_t)ops, 8), 0, INT64_MIN, 50};
	struct tw_dedupe *d = make(50, 0);
	uint64_t r = 12345;
	int64_t t = 1000;
	int dups = 0;

	(void)state;
	for (int i = 0; i < ops; i++) {
		int64_t ts;
		uint64_t k;
		int want;

		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		t += (int64_t)((r >> 33) % 3);      /* time moves slowly forward */
		ts = t - (int64_t)((r >> 40) % 70); /* disorder, up past the horizon */
		k = key((r >> 50) % 2 ? "alpha" : ((r >> 52) % 2 ? "beta" : "gamma"));
		want = model_check(&m, k, ts);
		assert_int_equal(tw_dedupe_check(d, k, ts), want);
		dups += want == TW_DEDUPE_DUPLICATE;
	}
	assert_true(dups > 1000); /* the stream did exercise repeats */
	free(m.keys);
	free(m.ts);
	tw_dedupe_free(d);
}

static void test_hash(void **state)
{
	(void)state;
	/* Stable values: dedupe state would not survive a change in the
	 * hash, and neither would a fuzz corpus keyed on it. */
	assert_true(tw_hash_bytes("", 0) == tw_hash_bytes("", 0));
	assert_true(tw_hash_bytes("a", 1) != tw_hash_bytes("b", 1));
	assert_true(tw_hash_bytes("abcdefgh", 8) != tw_hash_bytes("abcdefgh\0", 9));
	assert_true(tw_hash_bytes("host\x1f"
	                          "a",
	                          6) != tw_hash_bytes("hos\x1f"
	                                              "ta",
	                                              6));
	{
		/* Unaligned input hashes like aligned input. */
		char buf[64] = "xthe quick brown fox jumps over";
		char copy[64];

		memcpy(copy, buf + 1, 30);
		assert_true(tw_hash_bytes(buf + 1, 30) == tw_hash_bytes(copy, 30));
	}
	assert_true(tw_hash_mix(1) != tw_hash_mix(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_repeats),
	    cmocka_unit_test(test_horizon_boundary),
	    cmocka_unit_test(test_history_and_limit),
	    cmocka_unit_test(test_forgets_as_max_advances),
	    cmocka_unit_test(test_out_of_order_stays_until_head_moves),
	    cmocka_unit_test(test_memory_bound),
	    cmocka_unit_test(test_growth_and_many_pairs),
	    cmocka_unit_test(test_restore_sets_horizon),
	    cmocka_unit_test(test_matches_model),
	    cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
