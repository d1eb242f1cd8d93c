/* Unit tests for operator/topic_ledger.c: the renew decision over every
 * (live, dead) pair up to past its thresholds, then the ledger's records:
 * touch, forget, staleness, the cap, clear, and a model-checked random
 * walk against a plain array. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topic_ledger.h"

#define T0 INT64_C(1795410000000)
#define STALE INT64_C(60000)

/* The rule in topic_ledger.h's words, written again independently. */
static int rule(size_t live, size_t dead)
{
	if (dead == 0)
		return 0;
	if (live <= TOPIC_LEDGER_MIN_DEAD)
		return dead >= TOPIC_LEDGER_MIN_DEAD;
	return dead >= live;
}

static void test_decide_exhaustive(void **state)
{
	(void)state;
	for (size_t live = 0; live <= 300; live++)
		for (size_t dead = 0; dead <= 300; dead++)
			if (topic_ledger_decide(live, dead) != rule(live, dead)) {
				fail_msg("decide(%zu, %zu) = %d", live, dead,
				         topic_ledger_decide(live, dead));
			}
}

static void test_decide_table(void **state)
{
	static const struct {
		size_t live, dead;
		int renew;
	} cases[] = {
	    {0, 0, 0},
	    {0, 1, 0},
	    {0, 31, 0},
	    {0, 32, 1},
	    {31, 32, 1},
	    {32, 31, 0},
	    {32, 32, 1},
	    {33, 32, 0},
	    {33, 33, 1},
	    {1000, 999, 0},
	    {1000, 1000, 1},
	    {1000, 5000, 1},
	    {SIZE_MAX, SIZE_MAX - 1, 0},
	    {SIZE_MAX, SIZE_MAX, 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (topic_ledger_decide(cases[i].live, cases[i].dead) != cases[i].renew)
			fail_msg("case %zu: live %zu dead %zu", i, cases[i].live, cases[i].dead);
}

static void test_new_invalid(void **state)
{
	struct topic_ledger *l = (void *)1;

	(void)state;
	assert_int_equal(topic_ledger_new(0, STALE, &l), TOPIC_LEDGER_EINVAL);
	assert_null(l);
	assert_int_equal(topic_ledger_new(1, STALE, NULL), TOPIC_LEDGER_EINVAL);
	topic_ledger_free(NULL);
	topic_ledger_clear(NULL);
	assert_int_equal(topic_ledger_cap(NULL), 0);
	assert_int_equal(topic_ledger_forget(NULL, "t"), 0);
	assert_int_equal(topic_ledger_has(NULL, "t"), 0);
	assert_int_equal(topic_ledger_touch(NULL, "t", T0), TOPIC_LEDGER_EINVAL);
}

static void test_touch_names(void **state)
{
	struct topic_ledger *l;
	char name[TOPIC_LEDGER_NAME_MAX + 2];

	(void)state;
	assert_int_equal(topic_ledger_new(4, STALE, &l), 0);
	assert_int_equal(topic_ledger_cap(l), 4);
	assert_int_equal(topic_ledger_touch(l, NULL, T0), TOPIC_LEDGER_EINVAL);
	assert_int_equal(topic_ledger_touch(l, "", T0), TOPIC_LEDGER_EINVAL);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0'; /* 250 characters */
	assert_int_equal(topic_ledger_touch(l, name, T0), TOPIC_LEDGER_EINVAL);
	name[TOPIC_LEDGER_NAME_MAX] = '\0'; /* 249: Kafka's longest */
	assert_int_equal(topic_ledger_touch(l, name, T0), 0);
	assert_true(topic_ledger_has(l, name));
	topic_ledger_free(l);
}

static void test_forget_and_touch_again(void **state)
{
	struct topic_ledger *l;
	struct topic_ledger_counts c;

	(void)state;
	assert_int_equal(topic_ledger_new(8, STALE, &l), 0);
	assert_int_equal(topic_ledger_forget(l, "never"), 0);
	assert_int_equal(topic_ledger_touch(l, "a", T0), 0);
	assert_int_equal(topic_ledger_touch(l, "b", T0), 0);
	assert_int_equal(topic_ledger_touch(l, "a", T0), 0); /* once */
	topic_ledger_count(l, T0, &c);
	assert_int_equal(c.held, 2);
	assert_int_equal(c.live, 2);
	assert_int_equal(c.dead, 0);
	assert_int_equal(topic_ledger_forget(l, "a"), 1);
	assert_int_equal(topic_ledger_forget(l, "a"), 1);
	topic_ledger_count(l, T0, &c);
	assert_int_equal(c.held, 2);
	assert_int_equal(c.live, 1);
	assert_int_equal(c.dead, 1);
	assert_int_equal(c.forgotten, 1);
	/* The resource came back under the same name: live again. */
	assert_int_equal(topic_ledger_touch(l, "a", T0 + 1), 0);
	topic_ledger_count(l, T0 + 1, &c);
	assert_int_equal(c.live, 2);
	assert_int_equal(c.forgotten, 0);
	topic_ledger_free(l);
}

static void test_staleness(void **state)
{
	struct topic_ledger *l, *never;
	struct topic_ledger_counts c;

	(void)state;
	assert_int_equal(topic_ledger_new(8, STALE, &l), 0);
	assert_int_equal(topic_ledger_touch(l, "a", T0), 0);
	assert_int_equal(topic_ledger_touch(l, "b", T0 + 10), 0);
	topic_ledger_count(l, T0 + STALE, &c); /* exactly the limit: still live */
	assert_int_equal(c.live, 2);
	topic_ledger_count(l, T0 + STALE + 1, &c);
	assert_int_equal(c.live, 1);
	assert_int_equal(c.dead, 1);
	assert_int_equal(c.forgotten, 0);
	/* A touch with an older clock never moves the last use back. */
	assert_int_equal(topic_ledger_touch(l, "b", T0), 0);
	topic_ledger_count(l, T0 + STALE + 10, &c);
	assert_int_equal(c.live, 1);
	topic_ledger_count(l, T0 + STALE + 11, &c);
	assert_int_equal(c.live, 0);
	assert_int_equal(c.dead, 2);
	/* A touch revives a stale topic. */
	assert_int_equal(topic_ledger_touch(l, "a", T0 + STALE + 11), 0);
	topic_ledger_count(l, T0 + STALE + 11, &c);
	assert_int_equal(c.live, 1);
	topic_ledger_free(l);

	/* stale_ms <= 0: only forgetting kills. */
	assert_int_equal(topic_ledger_new(8, 0, &never), 0);
	assert_int_equal(topic_ledger_touch(never, "a", T0), 0);
	topic_ledger_count(never, T0 + INT64_C(1000000000000), &c);
	assert_int_equal(c.live, 1);
	topic_ledger_free(never);
}

static void test_cap_and_clear(void **state)
{
	struct topic_ledger *l;
	struct topic_ledger_counts c;
	char name[32];

	(void)state;
	assert_int_equal(topic_ledger_new(3, STALE, &l), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(topic_ledger_touch(l, name, T0), 0);
	}
	assert_int_equal(topic_ledger_touch(l, "t3", T0), TOPIC_LEDGER_FULL);
	assert_false(topic_ledger_has(l, "t3"));
	assert_int_equal(topic_ledger_touch(l, "t1", T0 + 5), 0); /* known: fine */
	/* Forgotten ones still count against the cap: the handle holds them. */
	assert_int_equal(topic_ledger_forget(l, "t0"), 1);
	assert_int_equal(topic_ledger_touch(l, "t3", T0), TOPIC_LEDGER_FULL);
	topic_ledger_clear(l);
	topic_ledger_count(l, T0, &c);
	assert_int_equal(c.held, 0);
	assert_false(topic_ledger_has(l, "t1"));
	assert_int_equal(topic_ledger_touch(l, "t3", T0), 0);
	topic_ledger_clear(l);
	topic_ledger_clear(l);
	topic_ledger_free(l);
}

static void test_renew_on_ledger(void **state)
{
	struct topic_ledger *l;
	char name[32];

	(void)state;
	assert_int_equal(topic_ledger_new(1000, STALE, &l), 0);
	/* 40 live: renew once 40 are dead (max(32, live)). */
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(topic_ledger_touch(l, name, T0), 0);
	}
	for (int i = 0; i < 39; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		topic_ledger_forget(l, name);
	}
	assert_false(topic_ledger_renew(l, T0)); /* 41 live, 39 dead */
	topic_ledger_forget(l, "t39");
	assert_true(topic_ledger_renew(l, T0)); /* 40 live, 40 dead */
	/* Staleness alone makes every topic dead. */
	topic_ledger_clear(l);
	for (int i = 0; i < 31; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(topic_ledger_touch(l, name, T0), 0);
	}
	assert_false(topic_ledger_renew(l, T0 + STALE + 1)); /* 31 dead < 32 */
	assert_int_equal(topic_ledger_touch(l, "t31", T0), 0);
	assert_true(topic_ledger_renew(l, T0 + STALE + 1));
	assert_false(topic_ledger_renew(l, T0 + STALE));
	topic_ledger_free(l);
}

/* A random walk of touches, forgets, clock steps and clears, checked
 * against a plain array after every step. */
#define WALK_TOPICS 64
static void test_model_walk(void **state)
{
	struct model {
		int held, forgotten;
		int64_t last;
	} m[WALK_TOPICS];
	struct topic_ledger *l;
	unsigned seed = 12345;
	int64_t now = T0;
	const size_t cap = 48;

	(void)state;
	memset(m, 0, sizeof(m));
	assert_int_equal(topic_ledger_new(cap, STALE, &l), 0);
	for (int step = 0; step < 20000; step++) {
		char name[32];
		int t, op;
		size_t held = 0, live = 0, dead = 0, forgotten = 0;
		struct topic_ledger_counts c;

		seed = seed * 1103515245u + 12345u;
		op = (int)((seed >> 16) % 100);
		seed = seed * 1103515245u + 12345u;
		t = (int)((seed >> 16) % WALK_TOPICS);
		snprintf(name, sizeof(name), "topic-%d", t);
		for (int i = 0; i < WALK_TOPICS; i++)
			held += (size_t)m[i].held;
		if (op < 55) {
			int rc = topic_ledger_touch(l, name, now);
			if (!m[t].held && held >= cap) {
				assert_int_equal(rc, TOPIC_LEDGER_FULL);
			} else {
				assert_int_equal(rc, 0);
				if (!m[t].held || now > m[t].last)
					m[t].last = now;
				m[t].held = 1;
				m[t].forgotten = 0;
			}
		} else if (op < 80) {
			assert_int_equal(topic_ledger_forget(l, name), m[t].held);
			if (m[t].held)
				m[t].forgotten = 1;
		} else if (op < 99) {
			now += (int64_t)((seed >> 8) % 20000);
		} else {
			topic_ledger_clear(l);
			memset(m, 0, sizeof(m));
		}
		held = 0;
		for (int i = 0; i < WALK_TOPICS; i++) {
			if (!m[i].held)
				continue;
			held++;
			if (m[i].forgotten) {
				forgotten++;
				dead++;
			} else if (now - m[i].last > STALE) {
				dead++;
			} else {
				live++;
			}
		}
		topic_ledger_count(l, now, &c);
		assert_int_equal(c.held, held);
		assert_int_equal(c.live, live);
		assert_int_equal(c.dead, dead);
		assert_int_equal(c.forgotten, forgotten);
		assert_int_equal(topic_ledger_renew(l, now), rule(live, dead));
		assert_int_equal(topic_ledger_has(l, name), m[t].held);
	}
	topic_ledger_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide_exhaustive),
	    cmocka_unit_test(test_decide_table),
	    cmocka_unit_test(test_new_invalid),
	    cmocka_unit_test(test_touch_names),
	    cmocka_unit_test(test_forget_and_touch_again),
	    cmocka_unit_test(test_staleness),
	    cmocka_unit_test(test_cap_and_clear),
	    cmocka_unit_test(test_renew_on_ledger),
	    cmocka_unit_test(test_model_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
