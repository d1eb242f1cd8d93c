/* Unit tests for workers/telemetry/tw_window.c: tumbling and hopping assignment,
 * out-of-order data within the delay, the exact emission boundary (with
 * and without allowed lateness), late and partially late events, idle
 * advance, ordering, offsets under disorder, checkpoints and the
 * crash/restore replay, bounds, and a randomized comparison with a
 * brute-force model that keeps every window separately (no panes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_hash.h"
#include "tw_window.h"

#define S INT64_C(1000000000)
#define MS INT64_C(1000000)

/* ---- fixture -------------------------------------------------------- */

struct got {
	char key[32];
	int32_t partition;
	int64_t start, end;
	uint64_t count;
	struct tw_value_result v[2];
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
	assert_true(res->key_len < sizeof(g->key));
	memcpy(g->key, res->key, res->key_len);
	g->partition = res->partition;
	g->start = res->start_ns;
	g->end = res->end_ns;
	g->count = res->count;
	assert_true(res->nvalues <= 2);
	memcpy(g->v, res->values, res->nvalues * sizeof(g->v[0]));
}

struct fx {
	struct tw_window *w;
	struct sink s;
	int64_t off;
	int64_t now;
};

static struct tw_window_config wcfg(int64_t size, int64_t slide, int64_t delay, int64_t late,
                                    int64_t idle_ms)
{
	struct tw_window_config c;
	char err[128];

	memset(&c, 0, sizeof(c));
	c.size_ns = size;
	c.slide_ns = slide;
	c.delay_ns = delay;
	c.lateness_ns = late;
	c.idle_timeout_ms = idle_ms;
	assert_int_equal(tw_agg_config_init(&c.agg, 1, TW_AGG_ALL, 0, 0, err, sizeof(err)), 0);
	return c;
}

static void fx_init(struct fx *f, const struct tw_window_config *c)
{
	char err[128];

	memset(f, 0, sizeof(*f));
	f->w = tw_window_new(c, 7, collect, &f->s, err, sizeof(err));
	assert_non_null(f->w);
	f->now = 1000;
}

static void fx_free(struct fx *f)
{
	tw_window_free(f->w);
	free(f->s.r);
}

static struct tw_event mkev(const char *key, int64_t ts, double v)
{
	struct tw_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = ts;
	ev.key_len = strlen(key);
	memcpy(ev.key, key, ev.key_len);
	ev.values[0] = v;
	ev.present = 1;
	return ev;
}

/* Adds one event at the next offset and the fixture's processing time. */
static int put(struct fx *f, const char *key, int64_t ts, double v)
{
	struct tw_event ev = mkev(key, ts, v);

	return tw_window_add(f->w, &ev, tw_hash_bytes(ev.key, ev.key_len), f->off++, f->now);
}

static const struct got *find(const struct sink *s, const char *key, int64_t start)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->r[i].key, key) == 0 && s->r[i].start == start)
			return &s->r[i];
	return NULL;
}

/* ---- config --------------------------------------------------------- */

static void test_config_check(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 0, 0, 0);
	char err[128];

	(void)state;
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), 0);
	c.size_ns = 0;
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: size_ns out of range");
	c.size_ns = TW_DURATION_LIMIT + 1;
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	c = wcfg(10 * S, 20 * S, 0, 0, 0);
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: slide_ns out of range");
	c = wcfg(10 * S, 3 * S, 0, 0, 0);
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: slide_ns 3000000000 does not divide size_ns 10000000000");
	c = wcfg(2048 * S, S, 0, 0, 0);
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: size_ns / slide_ns is 2048, the most is 1024");
	c = wcfg(10 * S, 10 * S, -1, 0, 0);
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: delay_ns out of range");
	c = wcfg(10 * S, 10 * S, 0, -1, 0);
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: lateness_ns out of range");
	c = wcfg(10 * S, 10 * S, 0, 0, -1);
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: idle_timeout_ms out of range");
	c = wcfg(10 * S, 10 * S, 0, 0, 0);
	c.agg.nvalues = TW_VALUES_MAX + 1;
	assert_int_equal(tw_window_config_check(&c, err, sizeof(err)), TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "window: 17 value fields, the most is 16");
	c = wcfg(10 * S, 10 * S, 0, 0, 0);
	assert_null(tw_window_new(&c, 0, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "window: no emit callback");
	tw_window_free(NULL);
}

/* ---- tumbling ------------------------------------------------------- */

static void test_tumbling_basic(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 0, 0, 0);
	struct tw_window_stats st;
	struct fx f;
	const struct got *g;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "b", 1 * S, 10), TW_ADDED);
	assert_int_equal(put(&f, "a", 2 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "a", 9 * S + 999999999, 3), TW_ADDED);
	assert_int_equal(f.s.n, 0);
	/* ts 10 s: watermark 10 s = the end of [0, 10): closed, emitted. */
	assert_int_equal(put(&f, "a", 10 * S, 100), TW_ADDED);
	assert_int_equal(f.s.n, 2);
	assert_string_equal(f.s.r[0].key, "a"); /* by key within a start */
	assert_string_equal(f.s.r[1].key, "b");
	g = &f.s.r[0];
	assert_int_equal(g->partition, 7);
	assert_int_equal(g->start, 0);
	assert_int_equal(g->end, 10 * S);
	assert_int_equal(g->count, 2);
	assert_true(g->v[0].sum == 4 && g->v[0].min == 1 && g->v[0].max == 3 && g->v[0].mean == 2);
	assert_true(g->v[0].p50 == 1 && g->v[0].p99 == 1); /* rank floor(q * 1) = 0 */
	assert_int_equal(f.s.r[1].count, 1);
	tw_window_stats(f.w, &st);
	assert_int_equal(st.events_in, 4);
	assert_int_equal(st.added, 4);
	assert_int_equal(st.windows_emitted, 2);
	assert_int_equal(st.open_windows, 1); /* [10, 20) */
	assert_int_equal(st.open_states, 1);
	assert_int_equal(st.panes, 1);
	assert_int_equal(st.max_ts_ns, 10 * S);
	assert_int_equal(st.watermark_ns, 10 * S);
	fx_free(&f);
}

static void test_exact_emission_boundary(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 2 * S, 0, 0);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 5 * S, 1), TW_ADDED);
	/* wm = 12 s - 1 ns - 2 s = 10 s - 1 ns < end 10 s: still open. */
	assert_int_equal(put(&f, "k", 12 * S - 1, 1), TW_ADDED);
	assert_int_equal(f.s.n, 0);
	/* An event of [0, 10) still gets in while the window is open. */
	assert_int_equal(put(&f, "k", 9 * S, 1), TW_ADDED);
	/* wm = 10 s exactly: closed. */
	assert_int_equal(put(&f, "k", 12 * S, 1), TW_ADDED);
	assert_int_equal(f.s.n, 1);
	assert_int_equal(f.s.r[0].count, 2);
	/* Now [0, 10) is closed: an event in it is late. */
	assert_int_equal(put(&f, "k", 10 * S - 1, 1), TW_LATE);
	assert_int_equal(put(&f, "k", 0, 1), TW_LATE);
	/* [10, 20) is open: ts 10 s is in. */
	assert_int_equal(put(&f, "k", 10 * S, 1), TW_ADDED);
	fx_free(&f);
}

static void test_allowed_lateness_boundary(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 2 * S, 3 * S, 0);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 5 * S, 1), TW_ADDED);
	/* Closes at wm >= 10 + 3 = 13 s, i.e. max_ts >= 15 s. */
	assert_int_equal(put(&f, "k", 15 * S - 1, 1), TW_ADDED);
	assert_int_equal(put(&f, "k", 1 * S, 1), TW_ADDED); /* late by wm, within lateness */
	assert_int_equal(f.s.n, 0);
	assert_int_equal(put(&f, "k", 15 * S, 1), TW_ADDED);
	assert_int_equal(f.s.n, 1);
	assert_int_equal(f.s.r[0].count, 2);
	assert_int_equal(f.s.r[0].end, 10 * S); /* lateness delays, never widens */
	assert_int_equal(put(&f, "k", 9 * S, 1), TW_LATE);
	fx_free(&f);
}

static void test_out_of_order_within_delay(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 10 * S, 0, 0);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 5 * S, 5), TW_ADDED);
	assert_int_equal(put(&f, "k", 18 * S, 18), TW_ADDED);
	assert_int_equal(put(&f, "k", 3 * S, 3), TW_ADDED); /* wm 8 s: [0,10) open */
	assert_int_equal(put(&f, "k", 11 * S, 11), TW_ADDED);
	assert_int_equal(put(&f, "k", 9 * S, 9), TW_ADDED);
	assert_int_equal(f.s.n, 0);
	assert_int_equal(put(&f, "k", 20 * S, 20), TW_ADDED); /* wm 10 s */
	assert_int_equal(f.s.n, 1);
	assert_int_equal(f.s.r[0].count, 3);
	assert_true(f.s.r[0].v[0].sum == 17);
	assert_int_equal(put(&f, "k", 30 * S, 30), TW_ADDED); /* wm 20 s */
	assert_int_equal(f.s.n, 2);
	assert_int_equal(f.s.r[1].start, 10 * S);
	assert_int_equal(f.s.r[1].count, 2); /* 18 and 11; 20 is in [20,30) */
	assert_true(f.s.r[1].v[0].sum == 29);
	fx_free(&f);
}

static void test_late_never_mixed_in(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 0, 0, 0);
	struct tw_window_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 1 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "k", 25 * S, 1), TW_ADDED); /* closes [0,10) and [10,20) */
	assert_int_equal(f.s.n, 1);                          /* [10,20) had nothing */
	assert_int_equal(put(&f, "k", 2 * S, 1), TW_LATE);
	assert_int_equal(put(&f, "k", 15 * S, 1), TW_LATE); /* an empty closed window too */
	assert_int_equal(put(&f, "other", 19 * S, 1), TW_LATE);
	assert_int_equal(put(&f, "k", 40 * S, 1), TW_ADDED);
	assert_int_equal(f.s.n, 2);
	assert_int_equal(f.s.r[1].start, 20 * S);
	assert_int_equal(f.s.r[1].count, 1);
	assert_null(find(&f.s, "k", 10 * S));
	assert_null(find(&f.s, "other", 10 * S));
	tw_window_stats(f.w, &st);
	assert_int_equal(st.late, 3);
	assert_int_equal(st.added, 3);
	fx_free(&f);
}

/* ---- hopping -------------------------------------------------------- */

static void test_hopping_assignment(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 5 * S, 0, 0, 0);
	struct fx f;
	const struct got *g;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 1 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "k", 7 * S, 7), TW_ADDED);
	assert_int_equal(put(&f, "k", 12 * S, 12), TW_ADDED);
	assert_int_equal(put(&f, "z", 100 * S, 0), TW_ADDED); /* closes everything before */
	assert_int_equal(f.s.n, 4);
	g = find(&f.s, "k", -5 * S); /* epoch-aligned, so [-5 s, 5 s) exists */
	assert_non_null(g);
	assert_int_equal(g->count, 1);
	assert_int_equal(g->end, 5 * S);
	g = find(&f.s, "k", 0);
	assert_true(g != NULL && g->count == 2 && g->v[0].sum == 8);
	g = find(&f.s, "k", 5 * S);
	assert_true(g != NULL && g->count == 2 && g->v[0].sum == 19);
	g = find(&f.s, "k", 10 * S);
	assert_true(g != NULL && g->count == 1 && g->v[0].sum == 12);
	/* In start order. */
	for (size_t i = 1; i < f.s.n; i++)
		assert_true(f.s.r[i - 1].start < f.s.r[i].start);
	fx_free(&f);
}

static void test_hopping_partially_late(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 5 * S, 0, 0, 0);
	struct tw_window_stats st;
	struct fx f;
	const struct got *g;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 1 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "k", 10 * S, 10), TW_ADDED); /* closes [-5,5) and [0,10) */
	assert_int_equal(f.s.n, 2);
	g = find(&f.s, "k", 0);
	assert_true(g != NULL && g->count == 1);
	/* 7 s: in [0,10) (closed) and [5,15) (open): added to the open one. */
	assert_int_equal(put(&f, "k", 7 * S, 7), TW_PARTIAL_LATE);
	/* 3 s: [-5,5) and [0,10), both closed. */
	assert_int_equal(put(&f, "k", 3 * S, 3), TW_LATE);
	assert_int_equal(put(&f, "k", 30 * S, 0), TW_ADDED);
	g = find(&f.s, "k", 5 * S);
	assert_true(g != NULL && g->count == 2 && g->v[0].sum == 17);
	g = find(&f.s, "k", 0);
	assert_true(g->count == 1); /* still the first result; nothing emitted twice */
	for (size_t i = 0; i < f.s.n; i++)
		for (size_t j = i + 1; j < f.s.n; j++)
			assert_false(f.s.r[i].start == f.s.r[j].start &&
			             strcmp(f.s.r[i].key, f.s.r[j].key) == 0);
	tw_window_stats(f.w, &st);
	assert_int_equal(st.partial_late, 1);
	assert_int_equal(st.late, 1);
	fx_free(&f);
}

static void test_hopping_open_windows_count(void **state)
{
	struct tw_window_config c = wcfg(4 * S, S, 100 * S, 0, 0);
	struct tw_window_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "a", 10 * S, 1), TW_ADDED); /* windows 7..10 */
	tw_window_stats(f.w, &st);
	assert_int_equal(st.open_windows, 4);
	assert_int_equal(put(&f, "b", 11 * S + 5, 1), TW_ADDED); /* 8..11: union 7..11 */
	tw_window_stats(f.w, &st);
	assert_int_equal(st.open_windows, 5);
	assert_int_equal(put(&f, "c", 30 * S, 1), TW_ADDED); /* 27..30, disjoint */
	tw_window_stats(f.w, &st);
	assert_int_equal(st.open_windows, 9);
	assert_int_equal(st.panes, 3);
	assert_int_equal(st.open_states, 3);
	fx_free(&f);
}

static void test_emission_order(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 5 * S, 20 * S, 0, 0);
	static const char *const keys[] = {"b",
	                                   "ab",
	                                   "a",
	                                   "",
	                                   "aa",
	                                   "B",
	                                   "a\x1f"
	                                   "b"};
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(put(&f, keys[i], (int64_t)(i % 3) * 3 * S, 1), TW_ADDED);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(put(&f, keys[i], 12 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "zz", 100 * S, 1), TW_ADDED);
	/* ts 0 or 3 s: windows -5, 0, 5, 10 (with 12 s); ts 6 s: 0, 5, 10. */
	assert_int_equal(f.s.n, 5 * 4 + 2 * 3);
	for (size_t i = 1; i < f.s.n; i++) {
		const struct got *x = &f.s.r[i - 1], *y = &f.s.r[i];

		assert_true(x->start < y->start ||
		            (x->start == y->start && strcmp(x->key, y->key) < 0));
	}
	fx_free(&f);
}

/* ---- idle ----------------------------------------------------------- */

static void test_idle_advance(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 10 * S, 0, 30000);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	f.now = 1000;
	assert_int_equal(put(&f, "k", 5 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "k", 12 * S, 1), TW_ADDED);
	tw_window_tick(f.w, 1000 + 29999); /* 1 ms short of the timeout */
	assert_int_equal(f.s.n, 0);
	assert_int_equal(tw_window_watermark(f.w), 2 * S);
	/* Idle for exactly 30 s: wm = 12 + 30 - 10 = 32 s. */
	tw_window_tick(f.w, 1000 + 30000);
	assert_int_equal(tw_window_watermark(f.w), 32 * S);
	assert_int_equal(f.s.n, 2); /* [0,10) and [10,20) */
	/* It keeps following the clock. */
	tw_window_tick(f.w, 1000 + 45000);
	assert_int_equal(tw_window_watermark(f.w), 47 * S);
	/* An event classified against the advanced watermark. */
	f.now = 1000 + 45000;
	assert_int_equal(put(&f, "k", 19 * S, 1), TW_LATE);
	assert_int_equal(put(&f, "k", 40 * S, 1), TW_ADDED); /* [40,50) open (47 < 50) */
	/* The clock going backwards does nothing. */
	tw_window_tick(f.w, 0);
	assert_int_equal(tw_window_watermark(f.w), 47 * S);
	fx_free(&f);
}

static void test_idle_applied_before_an_event(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 10 * S, 0, 30000);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	f.now = 0;
	assert_int_equal(put(&f, "k", 15 * S, 1), TW_ADDED);
	/* No tick for 60 s, then an event: the idle advance (wm = 15 + 60 -
	 * 10 = 65 s) comes first, so [10,20) is emitted and ts 12 s is late,
	 * as it would have been with ticks. */
	f.now = 60000;
	assert_int_equal(put(&f, "k", 12 * S, 1), TW_LATE);
	assert_int_equal(f.s.n, 1);
	fx_free(&f);
}

static void test_idle_off_and_before_events(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 0, 0, 0);
	struct tw_window_config ci = wcfg(10 * S, 10 * S, 0, 0, 1000);
	struct fx f, g;

	(void)state;
	fx_init(&f, &c);
	fx_init(&g, &ci);
	tw_window_tick(g.w, INT64_MAX / 2); /* no event yet: nothing to advance */
	assert_int_equal(tw_window_watermark(g.w), TW_TS_NONE);
	assert_int_equal(put(&f, "k", 5 * S, 1), TW_ADDED);
	tw_window_tick(f.w, INT64_C(1) << 60); /* idle off: the watermark waits for data */
	assert_int_equal(f.s.n, 0);
	assert_int_equal(tw_window_watermark(f.w), 5 * S);
	/* A huge idle gap saturates instead of overflowing. */
	assert_int_equal(put(&g, "k", 5 * S, 1), TW_ADDED);
	tw_window_tick(g.w, INT64_C(1) << 60);
	assert_int_equal(g.s.n, 1);
	assert_int_equal(tw_window_watermark(g.w), 5 * S + TW_DURATION_LIMIT);
	fx_free(&f);
	fx_free(&g);
}

/* ---- offsets and checkpoints ---------------------------------------- */

static void test_committable_offsets_out_of_order(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 5 * S, 0, 0);
	struct tw_checkpoint cp;
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	tw_window_checkpoint(f.w, &cp);
	assert_int_equal(cp.offset, TW_OFFSET_NONE);
	assert_int_equal(cp.max_ts_ns, TW_TS_NONE);

	assert_int_equal(put(&f, "k", 1 * S, 1), TW_ADDED);  /* off 0 -> [0,10) */
	assert_int_equal(put(&f, "k", 12 * S, 1), TW_ADDED); /* off 1 -> [10,20), wm 7 */
	assert_int_equal(put(&f, "k", 3 * S, 1), TW_ADDED);  /* off 2 -> [0,10) */
	tw_window_checkpoint(f.w, &cp);
	assert_int_equal(cp.offset, 0);
	assert_int_equal(cp.max_ts_ns, TW_TS_NONE); /* nothing before offset 0 */
	assert_int_equal(cp.watermark_ns, TW_TS_NONE);

	assert_int_equal(put(&f, "k", 16 * S, 1), TW_ADDED); /* off 3, wm 11: [0,10) out */
	assert_int_equal(f.s.n, 1);
	tw_window_checkpoint(f.w, &cp);
	assert_int_equal(cp.offset, 1); /* [10,20) holds offset 1 */
	assert_int_equal(cp.max_ts_ns, 1 * S);
	assert_int_equal(cp.watermark_ns, 1 * S - 5 * S);
	assert_int_equal(cp.closed_before_ns, 10 * S);

	assert_int_equal(put(&f, "k", 26 * S, 1), TW_ADDED); /* off 4, wm 21: [10,20) out */
	tw_window_checkpoint(f.w, &cp);
	assert_int_equal(cp.offset, 4);
	assert_int_equal(cp.max_ts_ns, 16 * S);
	assert_int_equal(cp.watermark_ns, 11 * S);
	assert_int_equal(cp.closed_before_ns, 20 * S);

	/* A late event and skipped (malformed) offsets open nothing. */
	assert_int_equal(put(&f, "k", 2 * S, 1), TW_LATE); /* off 5 */
	tw_window_skip(f.w, 6);
	tw_window_skip(f.w, 3); /* at or below the last: ignored */
	assert_int_equal(tw_window_next_offset(f.w), 7);
	tw_window_checkpoint(f.w, &cp);
	assert_int_equal(cp.offset, 4);

	/* Everything closed: the committable offset is last + 1. */
	f.off = 7;
	assert_int_equal(put(&f, "k", 100 * S, 1), TW_ADDED); /* off 7, opens [100,110) */
	tw_window_checkpoint(f.w, &cp);
	assert_int_equal(cp.offset, 7);
	{
		struct tw_window_config c2 = wcfg(10 * S, 10 * S, 0, 0, 0);
		struct fx g;

		fx_init(&g, &c2);
		assert_int_equal(put(&g, "k", 1 * S, 1), TW_ADDED);
		assert_int_equal(put(&g, "k", 10 * S, 1), TW_ADDED); /* closes [0,10) */
		assert_int_equal(put(&g, "k", 5 * S, 1), TW_LATE);
		tw_window_skip(g.w, 3);
		tw_window_checkpoint(g.w, &cp);
		assert_int_equal(cp.offset, 1);
		fx_free(&g);
	}
	{
		/* Late events only, no open window: next offset. */
		struct tw_window_config c3 = wcfg(10 * S, 10 * S, 0, 0, 0);
		struct fx g;

		fx_init(&g, &c3);
		assert_int_equal(put(&g, "k", 1 * S, 1), TW_ADDED);
		assert_int_equal(put(&g, "k", 10 * S, 1), TW_ADDED);
		assert_int_equal(put(&g, "k", 20 * S, 1), TW_ADDED);
		tw_window_checkpoint(g.w, &cp);
		assert_int_equal(cp.offset, 2);
		assert_int_equal(cp.max_ts_ns, 10 * S);
		fx_free(&g);
	}
	fx_free(&f);
}

static void test_checkpoint_text(void **state)
{
	struct tw_checkpoint cp = {42, 1700000000123456789, -5, TW_TS_NONE}, back;
	char buf[TW_CHECKPOINT_TEXT_MAX], err[128];
	struct tw_checkpoint worst = {0, INT64_MIN + 1, INT64_MIN + 1, INT64_MIN + 1};

	(void)state;
	assert_int_equal(tw_checkpoint_format(&cp, buf, sizeof(buf)), 28);
	assert_string_equal(buf, "tw1 1700000000123456789 -5 -");
	assert_int_equal(tw_checkpoint_parse(buf, 42, &back, err, sizeof(err)), 0);
	assert_memory_equal(&cp, &back, sizeof(cp));
	assert_true(tw_checkpoint_format(&worst, buf, sizeof(buf)) > 0); /* always fits */
	assert_int_equal(tw_checkpoint_parse(buf, 0, &back, err, sizeof(err)), 0);
	assert_int_equal(back.max_ts_ns, INT64_MIN + 1);
	assert_int_equal(tw_checkpoint_format(&cp, buf, 10), -1);
	assert_string_equal(buf, "");

	static const char *const bad[] = {
	    "",
	    "tw2 1 2 3",
	    "tw1 1 2",
	    "tw1 1 2 3 4",
	    "tw1 1  2 3",
	    "tw1 x 2 3",
	    "tw1 1 2 3 ",
	    "tw1 99999999999999999999 2 3",
	    "tw1 -9223372036854775808 2 3",
	    "tw1 1 2 +3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tw_checkpoint_parse(bad[i], 0, &back, err, sizeof(err)),
		                 TW_WINDOW_E_CONFIG);
	assert_int_equal(tw_checkpoint_parse("tw2", 0, &back, err, sizeof(err)),
	                 TW_WINDOW_E_CONFIG);
	assert_string_equal(err, "checkpoint: metadata does not start with \"tw1 \"");
	assert_int_equal(tw_checkpoint_parse("tw1 -", 0, &back, err, sizeof(err)),
	                 TW_WINDOW_E_CONFIG);
	assert_string_equal(
	    err, "checkpoint: metadata is not \"tw1 <max_ts> <watermark> <closed_before>\"");
	assert_int_equal(tw_checkpoint_parse(NULL, 0, &back, err, sizeof(err)), TW_WINDOW_E_CONFIG);
}

static void test_restore_errors(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 0, 0, 0);
	struct tw_checkpoint ok = {5, 10 * S, 8 * S, 0};
	struct tw_checkpoint bad;
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	bad = ok;
	bad.offset = -2;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.max_ts_ns = tw_window_ts_max(&c) + 1;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.max_ts_ns = -TW_TS_LIMIT - 1;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.watermark_ns = INT64_MIN + 1;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.watermark_ns = TW_TS_NONE; /* max_ts without a watermark */
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.closed_before_ns = -TW_TS_LIMIT - 4 * TW_DURATION_LIMIT;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	assert_int_equal(tw_window_restore(f.w, &ok, 0), 0);
	assert_int_equal(tw_window_restore(f.w, &ok, 0), TW_WINDOW_E_STATE);
	assert_int_equal(tw_window_next_offset(f.w), 5);
	assert_int_equal(tw_window_max_ts(f.w), 10 * S);
	fx_free(&f);

	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", 1, 1), TW_ADDED);
	assert_int_equal(tw_window_restore(f.w, &ok, 0), TW_WINDOW_E_STATE);
	fx_free(&f);

	/* Upwards: a watermark past INT64_MAX - delay or a cursor past the
	 * last window start + slide was never written by a worker. */
	c = wcfg(10 * S, 10 * S, 1 * S, 0, 0);
	fx_init(&f, &c);
	bad = ok;
	bad.watermark_ns = INT64_MAX - 1 * S + 1;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.closed_before_ns = INT64_MAX;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), TW_WINDOW_E_CONFIG);
	bad = ok;
	bad.watermark_ns = INT64_MAX - 1 * S;
	bad.closed_before_ns = INT64_MAX - 1 * S;
	assert_int_equal(tw_window_restore(f.w, &bad, 0), 0);
	fx_free(&f);
}

static void test_bounds(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 0, 0, 0);
	struct tw_window_stats st;
	struct fx f;

	(void)state;
	c.max_states = 2;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "k", tw_window_ts_max(&c) + 1, 1), TW_WINDOW_E_RANGE);
	assert_int_equal(put(&f, "k", INT64_MAX, 1), TW_WINDOW_E_RANGE);
	assert_int_equal(put(&f, "k", -TW_TS_LIMIT - 1, 1), TW_WINDOW_E_RANGE);
	assert_int_equal(put(&f, "k", INT64_MIN, 1), TW_WINDOW_E_RANGE);
	f.off = 10;
	assert_int_equal(put(&f, "a", 1 * S, 1), TW_ADDED);
	f.off = 10;
	assert_int_equal(put(&f, "a", 1 * S, 1), TW_WINDOW_E_OFFSET);
	f.off = -1;
	assert_int_equal(put(&f, "a", 1 * S, 1), TW_WINDOW_E_OFFSET);
	f.off = 11;
	assert_int_equal(put(&f, "b", 2 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "c", 3 * S, 1), TW_OVERFLOW); /* a third state */
	assert_int_equal(put(&f, "a", 4 * S, 1), TW_ADDED);    /* existing state: fine */
	assert_int_equal(put(&f, "c", 9 * S, 1), TW_OVERFLOW);
	/* 15 s closes [0,10) first, which makes room for it. */
	assert_int_equal(put(&f, "c", 15 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "d", 16 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "e", 17 * S, 1), TW_OVERFLOW); /* new key, no room */
	tw_window_stats(f.w, &st);
	assert_int_equal(st.overflow, 3);
	assert_int_equal(st.events_in, 8);
	assert_int_equal(st.open_states, 2);
	/* Extreme but legal times: no overflow in the arithmetic. */
	assert_int_equal(put(&f, "a", TW_TS_LIMIT, 1), TW_ADDED);
	assert_int_equal(f.s.n, 4); /* a, b of [0,10); c, d of [10,20) */
	fx_free(&f);

	fx_init(&f, &c);
	assert_int_equal(put(&f, "neg", -TW_TS_LIMIT, 1), TW_ADDED);
	assert_int_equal(put(&f, "neg", -25 * S - 1, 2), TW_ADDED); /* [-30 s, -20 s) */
	assert_int_equal(put(&f, "neg", 0, 3), TW_ADDED);
	assert_non_null(find(&f.s, "neg", -30 * S));
	fx_free(&f);
}

/* ---- history: before 1970, and up to the int64 limit ------------------ */

/* 1900-01-01T00:00:00Z, tw_time's earliest time. */
#define T1900 (INT64_C(-2208988800) * S)

static void test_ts_max(void **state)
{
	struct tw_window_config c = wcfg(60 * S, 60 * S, 5 * S, 0, 0);
	struct tw_window_config h = wcfg(10 * S, 2 * S, 3 * S, 4 * S, 0);

	(void)state;
	assert_true(tw_window_ts_max(&c) == INT64_MAX - 65 * S);
	assert_true(tw_window_ts_max(&h) == INT64_MAX - 17 * S);
	/* The largest durations still leave 2262 a window (about 4 years
	 * short of the limit at worst). */
	c = wcfg(TW_DURATION_LIMIT, TW_DURATION_LIMIT, TW_DURATION_LIMIT, TW_DURATION_LIMIT, 0);
	assert_true(tw_window_ts_max(&c) == INT64_MAX - 3 * TW_DURATION_LIMIT);
}

/* Window starts before 1970 are floor(ts / slide) * slide, not C's
 * truncation: -1 ns is in [-slide, 0), never in [0, slide). */
static void test_negative_alignment(void **state)
{
	struct tw_window_config c = wcfg(60 * S, 60 * S, 0, 0, 0);
	struct tw_window_config h = wcfg(10 * S, 5 * S, 0, 0, 0);
	struct tw_window_config odd = wcfg(21 * S, 7 * S, 0, 0, 0);
	struct tw_window_config day = wcfg(86400 * S, 86400 * S, 0, 0, 0);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "a", T1900, 1), TW_ADDED);
	assert_int_equal(put(&f, "a", T1900 + 59 * S + 999999999, 2), TW_ADDED);
	assert_int_equal(put(&f, "b", -60 * S, 3), TW_ADDED);
	assert_int_equal(put(&f, "b", -1, 4), TW_ADDED);
	assert_int_equal(put(&f, "c", 0, 5), TW_ADDED);
	assert_int_equal(put(&f, "c", 59 * S, 6), TW_ADDED);
	assert_int_equal(put(&f, "z", 120 * S, 0), TW_ADDED); /* closes them all */
	assert_int_equal(f.s.n, 3);
	assert_int_equal(f.s.r[0].start, T1900);
	assert_int_equal(f.s.r[0].end, T1900 + 60 * S);
	assert_int_equal(f.s.r[0].count, 2);
	assert_int_equal(f.s.r[1].start, -60 * S);
	assert_int_equal(f.s.r[1].end, 0);
	assert_int_equal(f.s.r[1].count, 2);
	assert_true(f.s.r[1].v[0].sum == 7);
	assert_int_equal(f.s.r[2].start, 0);
	assert_int_equal(f.s.r[2].count, 2);
	fx_free(&f);

	/* hopping: -1 ns is in [-10 s, 0) and [-5 s, 5 s) */
	fx_init(&f, &h);
	assert_int_equal(put(&f, "a", -1, 1), TW_ADDED);
	assert_int_equal(put(&f, "z", 100 * S, 0), TW_ADDED);
	assert_int_equal(f.s.n, 2);
	assert_int_equal(f.s.r[0].start, -10 * S);
	assert_int_equal(f.s.r[0].end, 0);
	assert_int_equal(f.s.r[1].start, -5 * S);
	assert_int_equal(f.s.r[1].end, 5 * S);
	fx_free(&f);

	/* a slide that does not divide a minute: -1 ns, -7 s and -7 s - 1 */
	fx_init(&f, &odd);
	assert_int_equal(put(&f, "b", -7 * S - 1, 1), TW_ADDED); /* [-28,-7) [-21,0) [-14,7) */
	assert_int_equal(put(&f, "a", -1, 1), TW_ADDED);         /* [-21,0) [-14,7) [-7,14) */
	assert_int_equal(put(&f, "z", 1000 * S, 0), TW_ADDED);
	assert_non_null(find(&f.s, "a", -21 * S));
	assert_non_null(find(&f.s, "a", -14 * S));
	assert_non_null(find(&f.s, "a", -7 * S));
	assert_null(find(&f.s, "a", 0));
	assert_non_null(find(&f.s, "b", -28 * S));
	assert_non_null(find(&f.s, "b", -14 * S));
	assert_null(find(&f.s, "b", -7 * S));
	fx_free(&f);

	/* days: 1900 is not a leap year, 1904 and 2000 are */
	fx_init(&f, &day);
	assert_int_equal(put(&f, "d", INT64_C(-2203977600) * S + 43200 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "d", INT64_C(-2203891200) * S + 43200 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "d", INT64_C(-2077747200) * S + 1, 1), TW_ADDED);
	assert_int_equal(put(&f, "d", INT64_C(951782400) * S + 86399 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "z", INT64_C(951782400) * S + 10 * 86400 * S, 0), TW_ADDED);
	assert_non_null(find(&f.s, "d", INT64_C(-2203977600) * S)); /* 1900-02-28 */
	assert_non_null(find(&f.s, "d", INT64_C(-2203891200) * S)); /* 1900-03-01 */
	assert_non_null(find(&f.s, "d", INT64_C(-2077747200) * S)); /* 1904-02-29 */
	assert_non_null(find(&f.s, "d", INT64_C(951782400) * S));   /* 2000-02-29 */
	fx_free(&f);
}

/* The watermark, lateness and late verdicts work the same before 1970. */
static void test_negative_watermark_and_late(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 10 * S, 2 * S, 3 * S, 0);
	struct tw_window_stats st;
	struct fx f;
	const int64_t b = T1900 + 1000 * S;

	(void)state;
	fx_init(&f, &c);
	assert_int_equal(put(&f, "a", b + 1 * S, 1), TW_ADDED);
	/* [b, b+10) closes at wm >= b + 13 s, i.e. ts >= b + 15 s */
	assert_int_equal(put(&f, "a", b + 15 * S - 1, 1), TW_ADDED);
	assert_int_equal(f.s.n, 0);
	assert_int_equal(put(&f, "a", b + 9 * S, 1), TW_ADDED); /* within lateness */
	assert_int_equal(put(&f, "a", b + 15 * S, 1), TW_ADDED);
	assert_int_equal(f.s.n, 1);
	assert_int_equal(f.s.r[0].start, b);
	assert_int_equal(f.s.r[0].count, 2);
	assert_int_equal(put(&f, "a", b + 9 * S, 1), TW_LATE);
	tw_window_stats(f.w, &st);
	assert_int_equal(st.watermark_ns, b + 13 * S);
	assert_int_equal(st.late, 1);
	fx_free(&f);

	/* across 1970: [-10 s, 0) closes at wm >= 3 s, i.e. ts >= 5 s */
	fx_init(&f, &c);
	assert_int_equal(put(&f, "a", -1, 1), TW_ADDED);
	assert_int_equal(put(&f, "a", 5 * S - 1, 1), TW_ADDED);
	assert_int_equal(f.s.n, 0);
	assert_int_equal(put(&f, "a", 5 * S, 1), TW_ADDED);
	assert_int_equal(f.s.n, 1);
	assert_int_equal(f.s.r[0].start, -10 * S);
	assert_int_equal(f.s.r[0].end, 0);
	fx_free(&f);
}

/* Near the int64 limit: the last event time windows take is added, its
 * windows end within int64, and the idle advance closes them even though
 * max_ts + gap would pass INT64_MAX. */
static void test_near_int64_limit(void **state)
{
	struct tw_window_config c = wcfg(60 * S, 60 * S, 5 * S, 0, 1000);
	struct tw_window_config h = wcfg(10 * S, 2 * S, 3 * S, 4 * S, 1000);
	int64_t max;
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	max = tw_window_ts_max(&c);
	assert_int_equal(put(&f, "a", max - 3600 * S, 1), TW_ADDED);
	assert_int_equal(put(&f, "a", max, 2), TW_ADDED);
	assert_int_equal(put(&f, "a", max + 1, 3), TW_WINDOW_E_RANGE);
	assert_int_equal(put(&f, "a", INT64_MAX, 3), TW_WINDOW_E_RANGE);
	assert_int_equal(f.s.n, 1); /* the hour-old window */
	f.now += 100000;            /* max_ts + 100 s is past INT64_MAX: saturates */
	tw_window_tick(f.w, f.now);
	assert_int_equal(f.s.n, 2);
	assert_int_equal(f.s.r[1].start, max - max % (60 * S));
	assert_true(f.s.r[1].end > max && f.s.r[1].end <= INT64_MAX - 5 * S);
	assert_int_equal(f.s.r[1].count, 1);
	assert_int_equal(tw_window_watermark(f.w), INT64_MAX - 5 * S);
	/* After the limit is reached, later ticks change nothing. */
	f.now += 1000000;
	tw_window_tick(f.w, f.now);
	assert_int_equal(f.s.n, 2);
	fx_free(&f);

	/* hopping with lateness: all five windows of the last event close */
	fx_init(&f, &h);
	max = tw_window_ts_max(&h);
	assert_int_equal(put(&f, "a", max, 1), TW_ADDED);
	f.now += 100000; /* max_ts + 100 s is past INT64_MAX: saturates */
	tw_window_tick(f.w, f.now);
	assert_int_equal(f.s.n, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_true(f.s.r[i].start <= max && f.s.r[i].end > max);
		assert_true(f.s.r[i].end + 4 * S <= tw_window_watermark(f.w));
	}
	fx_free(&f);

	/* 2262-04-11T23:00:00Z with one-minute windows: an ordinary window */
	fx_init(&f, &c);
	assert_int_equal(put(&f, "a", INT64_C(9223369200) * S, 1), TW_ADDED);
	f.now += 100000; /* max_ts + 100 s is past INT64_MAX: saturates */
	tw_window_tick(f.w, f.now);
	assert_int_equal(f.s.n, 1);
	assert_int_equal(f.s.r[0].start, INT64_C(9223369200) * S);
	assert_int_equal(f.s.r[0].end, INT64_C(9223369260) * S);
	fx_free(&f);
}

static void test_revoke_emits_nothing(void **state)
{
	struct tw_window_config c = wcfg(10 * S, 5 * S, 0, 0, 0);
	struct fx f;

	(void)state;
	fx_init(&f, &c);
	for (int i = 0; i < 1000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "key%d", i % 50);
		assert_true(put(&f, k, (int64_t)i * 10 * MS, i) >= 0);
	}
	size_t n = f.s.n;
	tw_window_free(f.w); /* open windows go away silently (and leak-free) */
	f.w = NULL;
	assert_int_equal(f.s.n, n);
	fx_free(&f);
}

/* ---- brute-force model ---------------------------------------------- */

/* Keeps every (key, window) on its own: no panes, no cursor. */
struct mwin {
	char key[8];
	int64_t start;
	uint64_t count;
	double sum, min, max;
	struct tw_sketch sk;
	int emitted;
};

struct model {
	struct tw_window_config c;
	struct mwin *w;
	size_t n, cap;
	int64_t max_ts, wm, last_ms;
	struct sink out;
};

static int mwin_cmp(const void *a, const void *b)
{
	const struct mwin *x = *(const struct mwin *const *)a, *y = *(const struct mwin *const *)b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void model_close(struct model *m)
{
	struct mwin **ready = malloc((m->n + 1) * sizeof(*ready));
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++)
		if (!m->w[i].emitted && m->wm != TW_TS_NONE &&
		    m->w[i].start + m->c.size_ns + m->c.lateness_ns <= m->wm)
			ready[k++] = &m->w[i];
	qsort(ready, k, sizeof(*ready), mwin_cmp);
	for (size_t i = 0; i < k; i++) {
		struct tw_value_result v;
		struct tw_result r;

		v.count = ready[i]->count;
		v.sum = ready[i]->sum;
		v.min = ready[i]->min;
		v.max = ready[i]->max;
		v.mean = v.sum / (double)v.count;
		v.p50 = tw_sketch_quantile(&ready[i]->sk, &m->c.agg.sketch, 0.5);
		v.p95 = tw_sketch_quantile(&ready[i]->sk, &m->c.agg.sketch, 0.95);
		v.p99 = tw_sketch_quantile(&ready[i]->sk, &m->c.agg.sketch, 0.99);
		r.partition = 7;
		r.key = ready[i]->key;
		r.key_len = strlen(ready[i]->key);
		r.start_ns = ready[i]->start;
		r.end_ns = ready[i]->start + m->c.size_ns;
		r.count = ready[i]->count;
		r.nvalues = 1;
		r.values = &v;
		collect(&m->out, &r);
		ready[i]->emitted = 1;
	}
	free(ready);
}

static void model_idle(struct model *m, int64_t now)
{
	if (m->c.idle_timeout_ms > 0 && m->max_ts != TW_TS_NONE &&
	    now - m->last_ms >= m->c.idle_timeout_ms) {
		int64_t cand = m->max_ts + (now - m->last_ms) * MS - m->c.delay_ns;

		if (cand > m->wm) {
			m->wm = cand;
			model_close(m);
		}
	}
}

static int model_add(struct model *m, const char *key, int64_t ts, double v, int64_t now)
{
	int64_t slide = m->c.slide_ns, size = m->c.size_ns;
	int64_t p = (ts >= 0 ? ts / slide : -((-ts + slide - 1) / slide)) * slide;
	int closed = 0, total = 0;

	model_idle(m, now);
	m->last_ms = now;
	if (ts > m->max_ts)
		m->max_ts = ts;
	if (m->max_ts - m->c.delay_ns > m->wm)
		m->wm = m->max_ts - m->c.delay_ns;
	for (int64_t s = p - size + slide; s <= p; s += slide) {
		struct mwin *w = NULL;

		total++;
		if (s + size + m->c.lateness_ns <= m->wm) {
			closed++;
			continue;
		}
		for (size_t i = 0; i < m->n; i++)
			if (m->w[i].start == s && strcmp(m->w[i].key, key) == 0)
				w = &m->w[i];
		if (w == NULL) {
			if (m->n == m->cap) {
				m->cap = m->cap ? m->cap * 2 : 256;
				m->w = realloc(m->w, m->cap * sizeof(*m->w));
			}
			w = &m->w[m->n++];
			memset(w, 0, sizeof(*w));
			strcpy(w->key, key);
			w->start = s;
			w->min = INFINITY;
			w->max = -INFINITY;
			tw_sketch_init(&w->sk);
		}
		w->count++;
		w->sum += v;
		w->min = v < w->min ? v : w->min;
		w->max = v > w->max ? v : w->max;
		assert_int_equal(tw_sketch_add(&w->sk, &m->c.agg.sketch, v), 0);
	}
	model_close(m);
	return closed == total ? TW_LATE : closed > 0 ? TW_PARTIAL_LATE : TW_ADDED;
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		tw_sketch_free(&m->w[i].sk);
	free(m->w);
	free(m->out.r);
}

static uint64_t rnd(uint64_t *r)
{
	*r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
	return *r >> 33;
}

static void run_against_model(const struct tw_window_config *c, uint64_t seed, int n, int64_t t0)
{
	struct model m;
	struct fx f;
	uint64_t r = seed;
	int64_t t = t0;
	int verdicts[4] = {0};

	memset(&m, 0, sizeof(m));
	m.c = *c;
	m.max_ts = m.wm = TW_TS_NONE;
	fx_init(&f, c);
	for (int i = 0; i < n; i++) {
		char key[8];
		int64_t ts;
		double v = (double)(rnd(&r) % 1000) - 300; /* integers: exact sums */
		int got, want;

		snprintf(key, sizeof(key), "k%d", (int)(rnd(&r) % 7));
		t += (int64_t)(rnd(&r) % 400) * MS;
		if (rnd(&r) % 500 == 0)
			t += (int64_t)(rnd(&r) % 60) * S; /* a jump */
		ts = t - (int64_t)(rnd(&r) % 6000) * MS;  /* disorder, some late */
		if (rnd(&r) % 50 == 0)
			f.now += (int64_t)(rnd(&r) % 40000); /* a pause */
		else
			f.now += (int64_t)(rnd(&r) % 20);
		if (rnd(&r) % 20 == 0) {
			tw_window_tick(f.w, f.now);
			model_idle(&m, f.now);
		}
		want = model_add(&m, key, ts, v, f.now);
		got = put(&f, key, ts, v);
		assert_int_equal(got, want);
		verdicts[got]++;
		assert_int_equal(f.s.n, m.out.n); /* emitted at the same moment */
	}
	for (size_t i = 0; i < m.out.n; i++) {
		const struct got *a = &f.s.r[i], *b = &m.out.r[i];

		assert_string_equal(a->key, b->key);
		assert_int_equal(a->start, b->start);
		assert_int_equal(a->end, b->end);
		assert_int_equal(a->count, b->count);
		assert_memory_equal(&a->v[0], &b->v[0], sizeof(a->v[0]));
	}
	/* The stream exercised every path. */
	assert_true(verdicts[TW_ADDED] > 0 && verdicts[TW_LATE] > 0);
	if (c->slide_ns < c->size_ns)
		assert_true(verdicts[TW_PARTIAL_LATE] > 0);
	assert_true(m.out.n > 100);
	fx_free(&f);
	model_free(&m);
}

static void test_model_tumbling(void **state)
{
	struct tw_window_config c = wcfg(2 * S, 2 * S, 3 * S, 0, 0);

	(void)state;
	run_against_model(&c, 1, 20000, 1700000000 * S);
}

static void test_model_tumbling_lateness_idle(void **state)
{
	struct tw_window_config c = wcfg(5 * S, 5 * S, 1 * S, 2 * S, 10000);

	(void)state;
	run_against_model(&c, 2, 20000, 1700000000 * S);
}

static void test_model_hopping(void **state)
{
	struct tw_window_config c = wcfg(3 * S, 1 * S, 2 * S, 0, 0);

	(void)state;
	run_against_model(&c, 3, 20000, 1700000000 * S);
}

static void test_model_hopping_lateness_idle(void **state)
{
	struct tw_window_config c = wcfg(4 * S, 500 * MS, 1 * S, 1500 * MS, 5000);

	(void)state;
	run_against_model(&c, 4, 20000, 1700000000 * S);
}

/* The same comparisons before 1970: from 1900-01-01 on, and across 0 with
 * a slide (700 ms) that does not divide a second. */
static void test_model_history(void **state)
{
	struct tw_window_config c = wcfg(2 * S, 2 * S, 3 * S, 0, 0);
	struct tw_window_config h = wcfg(4 * S, 500 * MS, 1 * S, 1500 * MS, 5000);
	struct tw_window_config odd = wcfg(2100 * MS, 700 * MS, 1 * S, 300 * MS, 5000);

	(void)state;
	run_against_model(&c, 5, 20000, T1900);
	run_against_model(&h, 6, 20000, T1900 + 7 * S);
	run_against_model(&odd, 7, 20000, -1800 * S - 3);
}

/* ---- crash and restore ---------------------------------------------- */

struct rec {
	char key[8];
	int64_t ts;
	double v;
};

static struct rec *make_stream(uint64_t seed, int n)
{
	struct rec *ev = calloc((size_t)n, sizeof(*ev));
	uint64_t r = seed;
	int64_t t = 1700000000 * S;

	for (int i = 0; i < n; i++) {
		snprintf(ev[i].key, sizeof(ev[i].key), "k%d", (int)(rnd(&r) % 11));
		t += (int64_t)(rnd(&r) % 300) * MS;
		ev[i].ts = t - (int64_t)(rnd(&r) % 5000) * MS;
		ev[i].v = (double)(rnd(&r) % 100000) / 7.0; /* not exact: bitwise sums matter */
	}
	return ev;
}

/* Feeds events [from, to) at their offsets; verdicts into v (if not NULL). */
static void feed(struct fx *f, const struct rec *ev, int64_t from, int64_t to, int *v)
{
	for (int64_t i = from; i < to; i++) {
		struct tw_event e = mkev(ev[i].key, ev[i].ts, ev[i].v);
		int rc = tw_window_add(f->w, &e, tw_hash_bytes(e.key, e.key_len), i, f->now);

		assert_true(rc >= 0);
		if (v != NULL)
			v[i] = rc;
	}
}

static int same_result(const struct got *a, const struct got *b)
{
	return strcmp(a->key, b->key) == 0 && a->start == b->start && a->end == b->end &&
	       a->count == b->count && memcmp(a->v, b->v, sizeof(a->v)) == 0;
}

/*
 * Run A: the whole stream. Run B: crashes after `crash` events; its last
 * commit happened after `commit` events (checkpoint taken then, and the
 * sinks acknowledged everything emitted so far). Run C: a fresh partition
 * restored from B's commit (offset + metadata text) replays to the end.
 */
static void crash_and_replay(const struct tw_window_config *c, const struct rec *ev, int n,
                             int commit, int crash)
{
	struct fx a, b, cc;
	int *va = calloc((size_t)n, sizeof(int)), *vc = calloc((size_t)n, sizeof(int));
	struct tw_checkpoint cp, back;
	char meta[TW_CHECKPOINT_TEXT_MAX], err[128];
	size_t acked;
	int64_t from;

	fx_init(&a, c);
	feed(&a, ev, 0, n, va);

	fx_init(&b, c);
	feed(&b, ev, 0, commit, NULL);
	tw_window_checkpoint(b.w, &cp);
	acked = b.s.n;
	feed(&b, ev, commit, crash, NULL);

	/* Kafka keeps the offset and the metadata string; nothing else. */
	assert_true(tw_checkpoint_format(&cp, meta, sizeof(meta)) > 0);
	assert_int_equal(tw_checkpoint_parse(meta, cp.offset, &back, err, sizeof(err)), 0);
	fx_init(&cc, c);
	from = back.offset == TW_OFFSET_NONE ? 0 : back.offset;
	if (back.offset != TW_OFFSET_NONE)
		assert_int_equal(tw_window_restore(cc.w, &back, cc.now), 0);
	assert_true(from <= commit);
	feed(&cc, ev, from, n, vc);

	/* Nothing acknowledged before the commit is emitted again. */
	for (size_t i = 0; i < cc.s.n; i++)
		for (size_t j = 0; j < acked; j++)
			assert_false(strcmp(cc.s.r[i].key, b.s.r[j].key) == 0 &&
			             cc.s.r[i].start == b.s.r[j].start);
	/* B's and C's results together are exactly A's, bit for bit; where
	 * both emitted a window (after the commit, before the crash) they
	 * agree, so the sinks' upserts converge. */
	for (size_t i = 0; i < b.s.n; i++) {
		const struct got *x = find(&a.s, b.s.r[i].key, b.s.r[i].start);
		const struct got *y = find(&cc.s, b.s.r[i].key, b.s.r[i].start);

		assert_non_null(x);
		assert_true(same_result(x, &b.s.r[i]));
		if (y != NULL)
			assert_true(same_result(y, &b.s.r[i]));
	}
	for (size_t i = 0; i < cc.s.n; i++) {
		const struct got *x = find(&a.s, cc.s.r[i].key, cc.s.r[i].start);

		assert_non_null(x);
		assert_true(same_result(x, &cc.s.r[i]));
	}
	for (size_t i = 0; i < a.s.n; i++)
		assert_true(find(&b.s, a.s.r[i].key, a.s.r[i].start) != NULL ||
		            find(&cc.s, a.s.r[i].key, a.s.r[i].start) != NULL);
	/* Every replayed event is classified as A classified it; events of
	 * windows emitted before the commit are answered REPLAYED. */
	for (int64_t i = from; i < n; i++) {
		if (vc[i] == TW_REPLAYED)
			assert_true(va[i] == TW_ADDED || va[i] == TW_PARTIAL_LATE);
		else
			assert_int_equal(vc[i], va[i]);
	}
	fx_free(&a);
	fx_free(&b);
	fx_free(&cc);
	free(va);
	free(vc);
}

static void test_restore_replay_tumbling(void **state)
{
	struct tw_window_config c = wcfg(1 * S, 1 * S, 2 * S, 0, 0);
	const int n = 4000;
	struct rec *ev = make_stream(11, n);
	static const int points[][2] = {{0, 0},       {0, 1000},    {1, 1},       {1, 2},
	                                {100, 100},   {500, 777},   {1500, 1500}, {2000, 2999},
	                                {3999, 3999}, {4000, 4000}, {1234, 4000}};

	(void)state;
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
		crash_and_replay(&c, ev, n, points[i][0], points[i][1]);
	free(ev);
}

static void test_restore_replay_hopping(void **state)
{
	struct tw_window_config c = wcfg(3 * S, 1 * S, 1 * S, 500 * MS, 0);
	const int n = 4000;
	struct rec *ev = make_stream(12, n);

	(void)state;
	for (int commit = 0; commit <= n; commit += 173)
		crash_and_replay(&c, ev, n, commit, commit + (n - commit) / 3);
	crash_and_replay(&c, ev, n, n, n);
	free(ev);
}

static void test_restore_replay_hopping_long_delay(void **state)
{
	/* Delay longer than the window: many windows open at once, so the
	 * committable offset lags far behind. */
	struct tw_window_config c = wcfg(2 * S, 500 * MS, 4 * S, 0, 0);
	const int n = 3000;
	struct rec *ev = make_stream(13, n);

	(void)state;
	for (int commit = 7; commit <= n; commit += 331)
		crash_and_replay(&c, ev, n, commit, n);
	free(ev);
}

static void test_restore_twice(void **state)
{
	/* A crash during the replay: restore from the replaying run's own
	 * checkpoint; still A's results. */
	struct tw_window_config c = wcfg(3 * S, 1 * S, 1 * S, 0, 0);
	const int n = 3000;
	struct rec *ev = make_stream(14, n);
	struct fx a, b, c1, c2;
	struct tw_checkpoint cp1, cp2;

	(void)state;
	fx_init(&a, &c);
	feed(&a, ev, 0, n, NULL);
	fx_init(&b, &c);
	feed(&b, ev, 0, 1000, NULL);
	tw_window_checkpoint(b.w, &cp1);
	fx_init(&c1, &c);
	assert_int_equal(tw_window_restore(c1.w, &cp1, 0), 0);
	feed(&c1, ev, cp1.offset, cp1.offset + 5, NULL); /* a few replayed events */
	tw_window_checkpoint(c1.w, &cp2);
	assert_true(cp2.offset >= cp1.offset);
	fx_init(&c2, &c);
	assert_int_equal(tw_window_restore(c2.w, &cp2, 0), 0);
	feed(&c2, ev, cp2.offset, n, NULL);
	for (size_t i = 0; i < a.s.n; i++) {
		const struct got *x = &a.s.r[i];
		const struct got *y = find(&b.s, x->key, x->start);

		if (y == NULL)
			y = find(&c1.s, x->key, x->start);
		if (y == NULL)
			y = find(&c2.s, x->key, x->start);
		assert_non_null(y);
		assert_true(same_result(x, y));
	}
	assert_true(b.s.n + c1.s.n + c2.s.n >= a.s.n);
	fx_free(&a);
	fx_free(&b);
	fx_free(&c1);
	fx_free(&c2);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_check),
	    cmocka_unit_test(test_tumbling_basic),
	    cmocka_unit_test(test_exact_emission_boundary),
	    cmocka_unit_test(test_allowed_lateness_boundary),
	    cmocka_unit_test(test_out_of_order_within_delay),
	    cmocka_unit_test(test_late_never_mixed_in),
	    cmocka_unit_test(test_hopping_assignment),
	    cmocka_unit_test(test_hopping_partially_late),
	    cmocka_unit_test(test_hopping_open_windows_count),
	    cmocka_unit_test(test_emission_order),
	    cmocka_unit_test(test_idle_advance),
	    cmocka_unit_test(test_idle_applied_before_an_event),
	    cmocka_unit_test(test_idle_off_and_before_events),
	    cmocka_unit_test(test_committable_offsets_out_of_order),
	    cmocka_unit_test(test_checkpoint_text),
	    cmocka_unit_test(test_restore_errors),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_ts_max),
	    cmocka_unit_test(test_negative_alignment),
	    cmocka_unit_test(test_negative_watermark_and_late),
	    cmocka_unit_test(test_near_int64_limit),
	    cmocka_unit_test(test_revoke_emits_nothing),
	    cmocka_unit_test(test_model_tumbling),
	    cmocka_unit_test(test_model_tumbling_lateness_idle),
	    cmocka_unit_test(test_model_hopping),
	    cmocka_unit_test(test_model_hopping_lateness_idle),
	    cmocka_unit_test(test_model_history),
	    cmocka_unit_test(test_restore_replay_tumbling),
	    cmocka_unit_test(test_restore_replay_hopping),
	    cmocka_unit_test(test_restore_replay_hopping_long_delay),
	    cmocka_unit_test(test_restore_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
