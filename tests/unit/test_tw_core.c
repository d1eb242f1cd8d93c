/* Unit tests for workers/telemetry/tw_core.c: partitions (assign, revoke, limits,
 * independence), dedupe in front of the windows, skipped offsets, idle
 * ticks across partitions, and the crash/restore replay of a stream with
 * duplicates through checkpoint metadata text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_core.h"

#define S INT64_C(1000000000)
#define MS INT64_C(1000000)

struct got {
	int32_t partition;
	char key[16];
	int64_t start;
	uint64_t count;
	struct tw_value_result v;
};

struct sink {
	struct got *r;
	size_t n, cap;
};

static void collect(void *opaque, const struct tw_result *res)
{
	struct sink *s = opaque;
	struct got *g;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		assert_non_null(s->r);
	}
	g = &s->r[s->n++];
	memset(g, 0, sizeof(*g));
	g->partition = res->partition;
	memcpy(g->key, res->key, res->key_len);
	g->start = res->start_ns;
	g->count = res->count;
	g->v = res->values[0];
}

static struct tw_core_config config(int64_t size, int64_t slide, int64_t delay, int64_t idle_ms,
                                    int dedupe)
{
	struct tw_core_config c;
	char err[128];

	memset(&c, 0, sizeof(c));
	c.window.size_ns = size;
	c.window.slide_ns = slide;
	c.window.delay_ns = delay;
	c.window.idle_timeout_ms = idle_ms;
	assert_int_equal(tw_agg_config_init(&c.window.agg, 1, TW_AGG_ALL, 0, 0, err, sizeof(err)),
	                 0);
	c.dedupe_enabled = dedupe;
	c.dedupe.horizon_ns = size + delay;
	return c;
}

static struct tw_core *make(const struct tw_core_config *c, struct sink *s)
{
	char err[128];
	struct tw_core *core = tw_core_new(c, collect, s, err, sizeof(err));

	assert_non_null(core);
	return core;
}

static struct tw_event ev(const char *key, int64_t ts, double v)
{
	struct tw_event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = ts;
	e.key_len = strlen(key);
	memcpy(e.key, key, e.key_len);
	e.values[0] = v;
	e.present = 1;
	return e;
}

static int put(struct tw_core *c, int32_t p, int64_t off, const char *key, int64_t ts, double v)
{
	struct tw_event e = ev(key, ts, v);

	return tw_core_process(c, p, off, &e, 0);
}

static void test_new_errors(void **state)
{
	struct tw_core_config c = config(10 * S, 10 * S, 0, 0, 1);
	struct sink s = {0};
	char err[128];

	(void)state;
	assert_null(tw_core_new(&c, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "core: no emit callback");
	c.dedupe.horizon_ns = 0;
	assert_null(tw_core_new(&c, collect, &s, err, sizeof(err)));
	assert_string_equal(err, "core: dedupe horizon is not positive");
	c = config(10 * S, 3 * S, 0, 0, 0);
	assert_null(tw_core_new(&c, collect, &s, err, sizeof(err)));
	assert_string_equal(err, "window: slide_ns 3000000000 does not divide size_ns 10000000000");
	tw_core_free(NULL);
}

static void test_partitions(void **state)
{
	struct tw_core_config c = config(10 * S, 10 * S, 0, 0, 1);
	struct sink s = {0};
	struct tw_core *core = make(&c, &s);
	struct tw_checkpoint cp;
	struct tw_core_stats st;
	int32_t ids[8];

	(void)state;
	assert_int_equal(put(core, 3, 0, "k", S, 1), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_skip(core, 3, 0), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_checkpoint(core, 3, &cp), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_stats(core, 3, &st), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_revoke(core, 3), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_assign(core, 3, NULL, 0), 0);
	assert_int_equal(tw_core_assign(core, 3, NULL, 0), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_assign(core, 0, NULL, 0), 0);
	assert_int_equal(tw_core_assign(core, 7, NULL, 0), 0);
	assert_int_equal(tw_core_partitions(core, ids, 8), 3);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 3);
	assert_int_equal(ids[2], 7);
	assert_int_equal(tw_core_partitions(core, ids, 1), 3);
	assert_true(tw_core_has(core, 7));
	assert_false(tw_core_has(core, 8));

	/* Independent watermarks: partition 0 racing ahead closes nothing
	 * of partition 3. */
	assert_int_equal(put(core, 3, 0, "k", 1 * S, 1), TW_ADDED);
	assert_int_equal(put(core, 0, 0, "k", 1 * S, 2), TW_ADDED);
	assert_int_equal(put(core, 0, 1, "k", 100 * S, 2), TW_ADDED);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].partition, 0);
	assert_int_equal(put(core, 3, 1, "k", 5 * S, 1), TW_ADDED);
	assert_int_equal(put(core, 3, 2, "k", 10 * S, 1), TW_ADDED);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.r[1].partition, 3);
	assert_int_equal(s.r[1].count, 2);

	/* Revocation frees the state; a later assignment starts fresh. */
	assert_int_equal(tw_core_revoke(core, 3), 0);
	assert_false(tw_core_has(core, 3));
	assert_int_equal(put(core, 3, 3, "k", 11 * S, 1), TW_CORE_E_PARTITION);
	assert_int_equal(tw_core_assign(core, 3, NULL, 0), 0);
	assert_int_equal(put(core, 3, 3, "k", 5 * S, 1), TW_ADDED); /* no watermark yet */
	assert_int_equal(tw_core_stats(core, 3, &st), 0);
	assert_int_equal(st.events_in, 1);
	tw_core_free(core);
	free(s.r);
}

static void test_partition_limit(void **state)
{
	struct tw_core_config c = config(10 * S, 10 * S, 0, 0, 0);
	struct sink s = {0};
	struct tw_core *core = make(&c, &s);

	(void)state;
	/* Assigned in descending order: every insert moves the array. */
	for (int32_t p = TW_CORE_PARTITIONS_MAX - 1; p >= 0; p--)
		assert_int_equal(tw_core_assign(core, p, NULL, 0), 0);
	assert_int_equal(tw_core_assign(core, TW_CORE_PARTITIONS_MAX, NULL, 0), TW_CORE_E_LIMIT);
	assert_int_equal(tw_core_revoke(core, 17), 0);
	assert_int_equal(tw_core_assign(core, TW_CORE_PARTITIONS_MAX, NULL, 0), 0);
	for (int32_t p = 0; p <= TW_CORE_PARTITIONS_MAX; p++)
		assert_int_equal(tw_core_has(core, p), p != 17);
	tw_core_free(core);
	free(s.r);
}

static void test_duplicates_and_skips(void **state)
{
	struct tw_core_config c = config(10 * S, 10 * S, 0, 0, 1);
	struct sink s = {0};
	struct tw_core *core = make(&c, &s);
	struct tw_checkpoint cp;
	struct tw_core_stats st;

	(void)state;
	assert_int_equal(tw_core_assign(core, 0, NULL, 0), 0);
	assert_int_equal(put(core, 0, 0, "a", 1 * S, 1), TW_ADDED);
	assert_int_equal(put(core, 0, 1, "a", 1 * S, 1), TW_DUPLICATE);
	assert_int_equal(put(core, 0, 2, "b", 1 * S, 1), TW_ADDED);
	assert_int_equal(put(core, 0, 3, "a", 1 * S, 50), TW_DUPLICATE); /* values don't matter */
	assert_int_equal(tw_core_skip(core, 0, 4), 0);                   /* malformed */
	/* Refused before dedupe sees it: a bad offset or time is not
	 * remembered, so the same pair is new at a good offset. */
	assert_int_equal(put(core, 0, 4, "c", 2 * S, 1), TW_WINDOW_E_OFFSET);
	assert_int_equal(put(core, 0, 5, "c", INT64_MAX, 1), TW_WINDOW_E_RANGE);
	assert_int_equal(put(core, 0, 5, "c", 2 * S, 1), TW_ADDED);
	assert_int_equal(put(core, 0, 6, "a", 10 * S, 1), TW_ADDED); /* closes [0,10) */
	assert_int_equal(s.n, 3);
	assert_string_equal(s.r[0].key, "a");
	assert_int_equal(s.r[0].count, 1);
	assert_true(s.r[0].v.sum == 1);
	assert_int_equal(put(core, 0, 7, "a", 10 * S, 1), TW_DUPLICATE);
	assert_int_equal(tw_core_skip(core, 0, 8), 0);
	assert_int_equal(tw_core_stats(core, 0, &st), 0);
	assert_int_equal(st.events_in, 7);
	assert_int_equal(st.duplicates, 3);
	assert_int_equal(st.skipped, 2);
	assert_int_equal(st.window.events_in, 4);
	assert_int_equal(st.window.windows_emitted, 3);
	assert_int_equal(st.window.open_windows, 1);
	assert_int_equal(st.dedupe_entries, 4);
	assert_int_equal(st.dedupe_evicted_early, 0);
	assert_int_equal(tw_core_checkpoint(core, 0, &cp), 0);
	assert_int_equal(cp.offset, 6); /* [10,20) holds offset 6 */
	/* Dedupe off: repeats are events. */
	{
		struct tw_core_config c2 = config(10 * S, 10 * S, 0, 0, 0);
		struct tw_core *core2 = make(&c2, &s);

		assert_int_equal(tw_core_assign(core2, 0, NULL, 0), 0);
		assert_int_equal(put(core2, 0, 0, "a", 1 * S, 1), TW_ADDED);
		assert_int_equal(put(core2, 0, 1, "a", 1 * S, 1), TW_ADDED);
		assert_int_equal(tw_core_stats(core2, 0, &st), 0);
		assert_int_equal(st.dedupe_entries, 0);
		tw_core_free(core2);
	}
	tw_core_free(core);
	free(s.r);
}

static void test_tick_idles_every_partition(void **state)
{
	struct tw_core_config c = config(10 * S, 10 * S, 5 * S, 1000, 1);
	struct sink s = {0};
	struct tw_core *core = make(&c, &s);
	struct tw_event e = ev("k", 3 * S, 1);

	(void)state;
	assert_int_equal(tw_core_assign(core, 0, NULL, 0), 0);
	assert_int_equal(tw_core_assign(core, 1, NULL, 0), 0);
	assert_int_equal(tw_core_process(core, 0, 0, &e, 0), TW_ADDED);
	assert_int_equal(tw_core_process(core, 1, 0, &e, 500), TW_ADDED);
	tw_core_tick(core, 999);
	assert_int_equal(s.n, 0);
	/* Partition 0 idle since 0: wm = 3 + 12 - 5 = 10 s. Partition 1
	 * only since 500 ms: 3 + 11.5 - 5 = 9.5 s. */
	tw_core_tick(core, 12000);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].partition, 0);
	tw_core_tick(core, 12500);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.r[1].partition, 1);
	/* A duplicate is not activity: it does not hold the idle clock. */
	assert_int_equal(tw_core_assign(core, 2, NULL, 0), 0);
	e.ts_ns = 100 * S;
	assert_int_equal(tw_core_process(core, 2, 0, &e, 30000), TW_ADDED);
	assert_int_equal(tw_core_process(core, 2, 1, &e, 30900), TW_DUPLICATE);
	tw_core_tick(core, 31000); /* idle 1 s since the event, 100 ms since the repeat */
	{
		struct tw_core_stats st;

		assert_int_equal(tw_core_stats(core, 2, &st), 0);
		assert_int_equal(st.window.watermark_ns, 100 * S + 1 * S - 5 * S);
	}
	tw_core_free(core);
	free(s.r);
}

static void test_assign_restore_errors(void **state)
{
	struct tw_core_config c = config(10 * S, 10 * S, 0, 0, 1);
	struct sink s = {0};
	struct tw_core *core = make(&c, &s);
	struct tw_checkpoint bad = {-5, 0, 0, 0};

	(void)state;
	assert_int_equal(tw_core_assign(core, 0, &bad, 0), TW_WINDOW_E_CONFIG);
	assert_false(tw_core_has(core, 0));
	tw_core_free(core);
	free(s.r);
}

/* ---- crash and restore with duplicates -------------------------------- */

struct rec {
	char key[8];
	int64_t ts;
	double v;
	int malformed;
};

static uint64_t rnd(uint64_t *r)
{
	*r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
	return *r >> 33;
}

static struct rec *make_stream(uint64_t seed, int n)
{
	struct rec *ev_ = calloc((size_t)n, sizeof(*ev_));
	uint64_t r = seed;
	int64_t t = 1700000000 * S;

	for (int i = 0; i < n; i++) {
		if (i > 0 && rnd(&r) % 8 == 0) {
			/* A redelivery of a recent event (at-least-once producers). */
			int back = 1 + (int)(rnd(&r) % (i < 50 ? (uint64_t)i : 50));

			ev_[i] = ev_[i - back];
			ev_[i].v += 1000; /* same (key, ts): still a duplicate */
			continue;
		}
		snprintf(ev_[i].key, sizeof(ev_[i].key), "d%d", (int)(rnd(&r) % 13));
		t += (int64_t)(rnd(&r) % 250) * MS;
		ev_[i].ts = t - (int64_t)(rnd(&r) % 4000) * MS;
		ev_[i].v = (double)(rnd(&r) % 100000) / 3.0;
		ev_[i].malformed = rnd(&r) % 97 == 0;
	}
	return ev_;
}

static void feed(struct tw_core *c, const struct rec *e, int64_t from, int64_t to, int *v)
{
	for (int64_t i = from; i < to; i++) {
		struct tw_event x = ev(e[i].key, e[i].ts, e[i].v);
		int rc;

		if (e[i].malformed) {
			assert_int_equal(tw_core_skip(c, 0, i), 0);
			rc = -100;
		} else {
			rc = tw_core_process(c, 0, i, &x, 0);
			assert_true(rc >= 0);
		}
		if (v != NULL)
			v[i] = rc;
	}
}

static const struct got *find(const struct sink *s, const char *key, int64_t start)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->r[i].key, key) == 0 && s->r[i].start == start)
			return &s->r[i];
	return NULL;
}

static int same(const struct got *a, const struct got *b)
{
	return a->count == b->count && memcmp(&a->v, &b->v, sizeof(a->v)) == 0;
}

static void crash_and_replay(const struct tw_core_config *cfg, const struct rec *e, int n,
                             int commit, int crash)
{
	struct sink sa = {0}, sb = {0}, sc = {0};
	struct tw_core *a = make(cfg, &sa), *b = make(cfg, &sb), *c = make(cfg, &sc);
	int *va = calloc((size_t)n, sizeof(int)), *vc = calloc((size_t)n, sizeof(int));
	struct tw_checkpoint cp, back;
	char meta[TW_CHECKPOINT_TEXT_MAX], err[128];
	size_t acked;
	int64_t from;

	assert_int_equal(tw_core_assign(a, 0, NULL, 0), 0);
	feed(a, e, 0, n, va);
	assert_int_equal(tw_core_assign(b, 0, NULL, 0), 0);
	feed(b, e, 0, commit, NULL);
	assert_int_equal(tw_core_checkpoint(b, 0, &cp), 0);
	acked = sb.n;
	feed(b, e, commit, crash, NULL);
	tw_core_free(b); /* kill -9 */

	assert_true(tw_checkpoint_format(&cp, meta, sizeof(meta)) > 0);
	assert_int_equal(tw_checkpoint_parse(meta, cp.offset, &back, err, sizeof(err)), 0);
	assert_int_equal(tw_core_assign(c, 0, back.offset == TW_OFFSET_NONE ? NULL : &back, 0), 0);
	from = back.offset == TW_OFFSET_NONE ? 0 : back.offset;
	feed(c, e, from, n, vc);

	for (size_t i = 0; i < sc.n; i++)
		for (size_t j = 0; j < acked; j++)
			assert_false(strcmp(sc.r[i].key, sb.r[j].key) == 0 &&
			             sc.r[i].start == sb.r[j].start);
	for (size_t i = 0; i < sa.n; i++) {
		const struct got *x = find(&sb, sa.r[i].key, sa.r[i].start);
		const struct got *y = find(&sc, sa.r[i].key, sa.r[i].start);

		assert_true(x != NULL || y != NULL);
		if (x != NULL)
			assert_true(same(x, &sa.r[i]));
		if (y != NULL)
			assert_true(same(y, &sa.r[i]));
	}
	assert_true(sb.n + sc.n >= sa.n);
	for (size_t i = 0; i < sc.n; i++)
		assert_non_null(find(&sa, sc.r[i].key, sc.r[i].start));
	for (int64_t i = from; i < n; i++) {
		if (va[i] == vc[i])
			continue;
		if (vc[i] == TW_REPLAYED)
			assert_true(va[i] == TW_ADDED || va[i] == TW_PARTIAL_LATE ||
			            va[i] == TW_DUPLICATE);
		else /* a repeat of an event before the committed offset */
			assert_true(va[i] == TW_DUPLICATE && vc[i] == TW_LATE);
	}
	tw_core_free(a);
	tw_core_free(c);
	free(sa.r);
	free(sb.r);
	free(sc.r);
	free(va);
	free(vc);
}

static void test_restore_replay_with_duplicates(void **state)
{
	struct tw_core_config tumbling = config(1 * S, 1 * S, 2 * S, 0, 1);
	struct tw_core_config hopping = config(2 * S, 500 * MS, 1 * S, 0, 1);
	const int n = 3000;
	struct rec *e = make_stream(21, n);

	(void)state;
	hopping.window.lateness_ns = 300 * MS;
	for (int commit = 0; commit <= n; commit += 250) {
		crash_and_replay(&tumbling, e, n, commit, commit + (n - commit) / 2);
		crash_and_replay(&hopping, e, n, commit, n);
	}
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_errors),
	    cmocka_unit_test(test_partitions),
	    cmocka_unit_test(test_partition_limit),
	    cmocka_unit_test(test_duplicates_and_skips),
	    cmocka_unit_test(test_tick_idles_every_partition),
	    cmocka_unit_test(test_assign_restore_errors),
	    cmocka_unit_test(test_restore_replay_with_duplicates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
