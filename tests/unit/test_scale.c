/* Unit tests for operator/scale.c: every rule of scale.h on its own (with
 * the trend rule off unless it is the subject), then the trend rule, the
 * history's bounds, and an exhaustive sweep of invariants. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scale.h"

#define T0 INT64_C(1795410000000) /* 2026-11-23T05:00:00Z in ms */
#define SEC INT64_C(1000)

/* A resource under test: its spec, the caller's state, the Deployment's
 * replicas (poll() applies each decision, as the reconciler would) and
 * the clock. */
struct rig {
	struct scale_spec spec;
	struct scale_state st;
	struct scale_decision d;
	int32_t cur;
	int32_t partitions;
	int64_t now;
	int64_t consumed;
	const int64_t *plag;
};

static void rig_init(struct rig *r, int32_t min, int32_t max, int64_t threshold)
{
	memset(r, 0, sizeof(*r));
	scale_spec_defaults(&r->spec);
	r->spec.min_replicas = min;
	r->spec.max_replicas = max;
	r->spec.lag_threshold = threshold;
	r->spec.trend_window_ms = 0; /* rules in isolation; trend tests turn it on */
	r->partitions = 100;
	r->now = T0;
	r->cur = min;
}

static int32_t poll_at(struct rig *r, int64_t t, int64_t lag)
{
	struct scale_obs o = {
	    .ok = 1,
	    .total_lag = lag,
	    .partition_lag = r->plag,
	    .partitions = r->partitions,
	    .consumed = r->consumed,
	    .current_replicas = r->cur,
	    .now_ms = t,
	};
	char err[128];

	assert_int_equal(scale_spec_validate(&r->spec, err, sizeof(err)), 0);
	r->now = t;
	int32_t n = scale_decide(&r->spec, &r->st, &o, NULL, &r->d);
	assert_int_equal(n, r->d.desired);
	assert_true(strlen(r->d.reason_text) > 0);
	r->cur = n;
	return n;
}

/* The next poll, one polling interval later. */
static int32_t poll_next(struct rig *r, int64_t lag)
{
	return poll_at(r, r->now + r->spec.polling_interval_ms, lag);
}

static int32_t poll_fail(struct rig *r, const char *why)
{
	struct scale_obs o = {.ok = 0, .current_replicas = r->cur, .now_ms = r->now};

	r->now += r->spec.polling_interval_ms;
	o.now_ms = r->now;
	r->cur = scale_decide(&r->spec, &r->st, &o, why, &r->d);
	return r->cur;
}

static void test_defaults_and_validation(void **state)
{
	struct scale_spec s;
	char err[128];

	(void)state;
	scale_spec_defaults(&s);
	assert_int_equal(s.polling_interval_ms, 5000);
	assert_int_equal(s.stabilization_window_ms, 300000);
	assert_int_equal(s.cooldown_period_ms, 300000);
	assert_int_equal(s.fallback_replicas, -1);
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), 0);

	s.min_replicas = -1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	assert_string_equal(err, "minReplicas: must be >= 0");
	scale_spec_defaults(&s);
	s.max_replicas = 0;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	assert_string_equal(err, "maxReplicas: must be >= 1");
	scale_spec_defaults(&s);
	s.min_replicas = 5;
	s.max_replicas = 4;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	assert_string_equal(err, "maxReplicas: must not be below minReplicas");
	scale_spec_defaults(&s);
	s.lag_threshold = 0;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	assert_string_equal(err, "lagThreshold: must be > 0");
	scale_spec_defaults(&s);
	s.activation_lag_threshold = -1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	scale_spec_defaults(&s);
	s.polling_interval_ms = 0;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	assert_string_equal(err, "pollingInterval: must be > 0");
	scale_spec_defaults(&s);
	s.stabilization_window_ms = -1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	scale_spec_defaults(&s);
	s.cooldown_period_ms = -1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	scale_spec_defaults(&s);
	s.trend_window_ms = -1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	scale_spec_defaults(&s);
	s.fallback_replicas = -2;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	scale_spec_defaults(&s);
	s.failure_threshold = -1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
	assert_string_equal(err, "fallback.failureThreshold: must be >= 0");
	/* A NULL or empty errbuf is fine. */
	assert_int_equal(scale_spec_validate(&s, NULL, 0), -1);
}

/* desired = ceil(lag / threshold): each step from a fresh state, where
 * every change is a scale-up from 1. */
static void test_level_is_ceil_of_lag_over_threshold(void **state)
{
	static const struct {
		int64_t lag;
		int32_t want;
	} t[] = {
	    {0, 1},  {1, 1},   {10, 1},   {11, 2},   {20, 2},
	    {21, 3}, {99, 10}, {100, 10}, {101, 11}, {1000000, 16},
	};
	struct rig r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rig_init(&r, 1, 16, 10);
		r.partitions = 32;
		assert_int_equal(poll_at(&r, T0, t[i].lag), t[i].want);
		assert_int_equal(r.d.lag, t[i].lag);
	}
}

/* KEDA #2908: the capped metric 64*3000 over 63 replicas is a ratio of
 * 1.016, inside the HPA's tolerance, so KEDA stays at 63. Here the cap is
 * on the count and 63 -> 64 happens. */
static void test_partition_cap_is_reached_exactly(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 100, 3000);
	r.partitions = 64;
	r.cur = 63;
	assert_int_equal(poll_at(&r, T0, 64 * 3000), 64);
	assert_int_equal(r.d.reason, SCALE_UP);
	assert_non_null(strstr(r.d.reason_text, "63 -> 64"));

	rig_init(&r, 1, 100, 3000);
	r.partitions = 64;
	r.cur = 63;
	assert_int_equal(poll_at(&r, T0, INT64_C(1) << 40), 64); /* far above: still 64 */
	assert_int_equal(poll_next(&r, INT64_C(1) << 40), 64);
	assert_int_equal(r.d.reason, SCALE_STEADY);

	/* One step below the cap is one step below. */
	rig_init(&r, 1, 100, 3000);
	r.partitions = 64;
	r.cur = 62;
	assert_int_equal(poll_at(&r, T0, 63 * 3000), 63);
}

static void test_idle_consumers_reach_max_exactly(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 100, 3000);
	r.spec.allow_idle_consumers = 1;
	r.partitions = 64;
	r.cur = 99;
	assert_int_equal(poll_at(&r, T0, 100 * 3000), 100);
	/* Past max: max. */
	rig_init(&r, 1, 100, 3000);
	r.spec.allow_idle_consumers = 1;
	r.partitions = 64;
	assert_int_equal(poll_at(&r, T0, 1000 * 3000), 100);
	/* Without the flag the same lag stops at the partitions. */
	rig_init(&r, 1, 100, 3000);
	r.partitions = 64;
	assert_int_equal(poll_at(&r, T0, 1000 * 3000), 64);
	/* Between P and max, with the flag: the level itself. */
	rig_init(&r, 1, 100, 3000);
	r.spec.allow_idle_consumers = 1;
	r.partitions = 64;
	assert_int_equal(poll_at(&r, T0, 70 * 3000 - 1), 70);
}

static void test_min_wins_over_partition_cap(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 8, 10, 100);
	r.partitions = 4;
	r.cur = 8;
	assert_int_equal(poll_at(&r, T0, 100000), 8);
	assert_int_equal(r.d.reason, SCALE_STEADY);
}

static void test_limit_to_partitions_with_lag(void **state)
{
	static const int64_t plag[8] = {5000, 0, 0, 0, 0, 0, 0, 3};
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 100);
	r.partitions = 8;
	r.plag = plag;
	r.spec.limit_to_partitions_with_lag = 1;
	/* 51 by level, 8 partitions, 2 of them with lag: 2. */
	assert_int_equal(poll_at(&r, T0, 5003), 2);
	/* Without the flag: 8. */
	rig_init(&r, 1, 10, 100);
	r.partitions = 8;
	r.plag = plag;
	assert_int_equal(poll_at(&r, T0, 5003), 8);
	/* The flag with no per-partition lag given: the partition count. */
	rig_init(&r, 1, 10, 100);
	r.partitions = 8;
	r.spec.limit_to_partitions_with_lag = 1;
	assert_int_equal(poll_at(&r, T0, 5003), 8);
}

static void test_activation_from_zero(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	r.spec.activation_lag_threshold = 100;
	assert_int_equal(poll_at(&r, T0, 0), 0);
	assert_int_equal(r.d.reason, SCALE_IDLE);
	assert_false(r.d.active);
	assert_int_equal(poll_next(&r, 100), 0); /* at the threshold: not above */
	assert_int_equal(r.d.reason, SCALE_IDLE);
	assert_int_equal(poll_next(&r, 101), 1);
	assert_int_equal(r.d.reason, SCALE_ACTIVATE);
	assert_true(r.d.active);
	assert_non_null(strstr(r.d.reason_text, "0 -> 1"));

	/* Straight from 0 to the level, no stop at 1. */
	rig_init(&r, 0, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 5500), 6);
	assert_int_equal(r.d.reason, SCALE_ACTIVATE);

	/* Activation 0 (the default): any lag activates. */
	rig_init(&r, 0, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 1), 1);
}

/* With minReplicas >= 1 the activation threshold has no say (KEDA). */
static void test_activation_ignored_with_min(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	r.spec.activation_lag_threshold = 100;
	assert_int_equal(poll_at(&r, T0, 50), 1);
	assert_int_equal(r.d.reason, SCALE_STEADY);
	assert_int_equal(poll_at(&r, T0 + 3600 * SEC, 0), 1);
}

static void test_scale_up_is_immediate(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	r.cur = 2;
	assert_int_equal(poll_at(&r, T0, 2000), 2);
	assert_int_equal(r.d.reason, SCALE_STEADY);
	assert_int_equal(poll_next(&r, 8000), 8);
	assert_int_equal(r.d.reason, SCALE_UP);
	assert_non_null(strstr(r.d.reason_text, "2 -> 8"));
	/* Even right after a scale-down decision. */
	assert_int_equal(poll_next(&r, 9000), 9);
}

static void test_scale_down_waits_for_the_window(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 8000), 8);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 1000), 8);
	assert_int_equal(r.d.reason, SCALE_DOWN_STABILIZING);
	assert_non_null(strstr(r.d.reason_text, "keeping 8"));
	assert_int_equal(poll_at(&r, T0 + 100 * SEC, 4000), 8);
	assert_int_equal(poll_at(&r, T0 + 299 * SEC, 1000), 8);
	/* T0's 8 has left the window; T0+100s's 4 has not. */
	assert_int_equal(poll_at(&r, T0 + 301 * SEC, 1000), 4);
	assert_int_equal(r.d.reason, SCALE_DOWN);
	assert_non_null(strstr(r.d.reason_text, "8 -> 4"));
	assert_int_equal(poll_at(&r, T0 + 399 * SEC, 1000), 4);
	assert_int_equal(poll_at(&r, T0 + 401 * SEC, 1000), 1);

	/* A zero window: down at once. */
	rig_init(&r, 1, 10, 1000);
	r.spec.stabilization_window_ms = 0;
	assert_int_equal(poll_at(&r, T0, 8000), 8);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 1000), 1);
}

/* The window's highest recommendation never lifts replicas above cur:
 * if someone scaled the Deployment down by hand, we do not go back up
 * on an old recommendation. */
static void test_scale_down_never_goes_up(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 8000), 8);
	r.cur = 3;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 1000), 3);
	assert_int_equal(r.d.reason, SCALE_DOWN_STABILIZING);
}

static void test_cooldown_before_zero(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 3000), 3);
	/* Lag gone: at least one replica until the cooldown, the window
	 * holds 3 meanwhile. */
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 0), 3);
	assert_int_equal(r.d.reason, SCALE_COOLDOWN);
	assert_non_null(strstr(r.d.reason_text, "in 295s"));
	assert_int_equal(poll_at(&r, T0 + 299 * SEC, 0), 3);
	assert_int_equal(poll_at(&r, T0 + 300 * SEC, 0), 0);
	assert_int_equal(r.d.reason, SCALE_TO_ZERO);
	assert_int_equal(poll_at(&r, T0 + 305 * SEC, 0), 0);
	assert_int_equal(r.d.reason, SCALE_IDLE);

	/* Cooldown longer than the window: down to 1, then 0. */
	rig_init(&r, 0, 10, 1000);
	r.spec.cooldown_period_ms = 600 * SEC;
	assert_int_equal(poll_at(&r, T0, 3000), 3);
	assert_int_equal(poll_at(&r, T0 + 301 * SEC, 0), 1);
	assert_int_equal(r.d.reason, SCALE_DOWN);
	assert_int_equal(poll_at(&r, T0 + 400 * SEC, 0), 1);
	assert_int_equal(r.d.reason, SCALE_COOLDOWN);
	assert_int_equal(poll_at(&r, T0 + 600 * SEC, 0), 0);

	/* Lag at or below activation counts as inactive: the cooldown runs
	 * from the last time it was above. */
	rig_init(&r, 0, 10, 1000);
	r.spec.activation_lag_threshold = 50;
	assert_int_equal(poll_at(&r, T0, 3000), 3);
	assert_int_equal(poll_at(&r, T0 + 100 * SEC, 51), 3);
	assert_int_equal(poll_at(&r, T0 + 200 * SEC, 50), 3);
	assert_int_equal(poll_at(&r, T0 + 399 * SEC, 50), 1);
	assert_int_equal(poll_at(&r, T0 + 400 * SEC, 50), 0);

	/* A zero cooldown: straight to zero. */
	rig_init(&r, 0, 10, 1000);
	r.spec.cooldown_period_ms = 0;
	assert_int_equal(poll_at(&r, T0, 3000), 3);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 0), 0);
}

/* A restarted operator (fresh state) finding replicas and no lag waits a
 * whole cooldown: the first read counts as activity. */
static void test_fresh_state_waits_for_cooldown(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	r.cur = 3;
	assert_int_equal(poll_at(&r, T0, 0), 3);
	assert_int_equal(r.d.reason, SCALE_COOLDOWN);
	/* The first read's count is in the window, like the HPA's seed. */
	assert_int_equal(poll_at(&r, T0 + 299 * SEC, 0), 3);
	assert_int_equal(poll_at(&r, T0 + 300 * SEC, 0), 0);

	/* With min >= 1: the window, seeded with the count found. */
	rig_init(&r, 1, 10, 1000);
	r.cur = 5;
	assert_int_equal(poll_at(&r, T0, 0), 5);
	assert_int_equal(r.d.reason, SCALE_DOWN_STABILIZING);
	assert_int_equal(poll_at(&r, T0 + 301 * SEC, 0), 1);
}

static void test_read_failure_keeps_then_falls_back(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	r.spec.fallback_replicas = 6;
	r.spec.failure_threshold = 3;
	assert_int_equal(poll_at(&r, T0, 2000), 2);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(poll_fail(&r, "kafka: broker down"), 2);
		assert_int_equal(r.d.reason, SCALE_READ_ERROR);
		assert_int_equal(r.d.lag, -1);
		assert_int_equal(r.d.lag_seconds, -1);
	}
	assert_non_null(strstr(r.d.reason_text, "kafka: broker down"));
	assert_int_equal(poll_fail(&r, NULL), 6);
	assert_int_equal(r.d.reason, SCALE_FALLBACK);
	assert_non_null(strstr(r.d.reason_text, "4 polls"));
	/* A good read ends it, and counting starts again. */
	assert_int_equal(poll_next(&r, 7000), 7);
	assert_int_equal(r.st.failures, 0);
	assert_int_equal(poll_fail(&r, "x"), 7);

	/* No fallback configured: keep, forever, and never go to zero. */
	rig_init(&r, 0, 10, 1000);
	r.spec.cooldown_period_ms = 0;
	assert_int_equal(poll_at(&r, T0, 2000), 2);
	for (int i = 0; i < 100; i++)
		assert_int_equal(poll_fail(&r, "x"), 2);

	/* Fallback is clamped to the bounds; threshold 0: at the first failure. */
	rig_init(&r, 2, 5, 1000);
	r.spec.fallback_replicas = 50;
	r.spec.failure_threshold = 0;
	assert_int_equal(poll_fail(&r, "x"), 5);
	r.spec.fallback_replicas = 0;
	assert_int_equal(poll_fail(&r, "x"), 2);
}

static void test_bounds_are_corrected(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	r.cur = 20;
	assert_int_equal(poll_at(&r, T0, 50000), 10);
	assert_int_equal(r.d.reason, SCALE_BOUNDS);
	rig_init(&r, 2, 10, 1000);
	r.cur = 0;
	assert_int_equal(poll_at(&r, T0, 0), 2);
	rig_init(&r, 3, 10, 1000);
	r.cur = 1;
	assert_int_equal(poll_at(&r, T0, 0), 3);
	assert_int_equal(r.d.reason, SCALE_BOUNDS);
	/* Negative inputs read as 0. */
	rig_init(&r, 0, 10, 1000);
	r.cur = -4;
	assert_int_equal(poll_at(&r, T0, -7), 0);
	assert_int_equal(r.d.lag, 0);
}

/* A lag growing 200/s adds replicas for where it will be a window ahead. */
static void test_trend_growing_scales_earlier(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	assert_int_equal(poll_at(&r, T0, 500), 1);
	assert_false(r.d.rates_known); /* one sample */
	r.consumed = 0;                /* one replica that consumes nothing */
	/* 200/s seen over 5 s: 5 s ahead, 2500: 3 where the level says 2. */
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 1500), 3);
	assert_true(r.d.rates_known);
	assert_int_equal(r.d.rate_span_ms, 5000);
	assert_true(r.d.lag_rate > 199.9 && r.d.lag_rate < 200.1);
	assert_int_equal(r.d.reason, SCALE_UP_TREND);
	assert_non_null(strstr(r.d.reason_text, "growing 200.0/s, 5s ahead needs 3: 1 -> 3"));
	assert_int_equal(r.d.lag_seconds, -1); /* consuming nothing */
	/* Still 200/s after 30 s: 30 s ahead, 12500: 13 where the level says 7. */
	assert_int_equal(poll_at(&r, T0 + 30 * SEC, 6500), 13);
	assert_int_equal(r.d.reason, SCALE_UP_TREND);
	/* After 90 s at 200/s, the lead stops at the window: 18500 + 12000. */
	assert_int_equal(poll_at(&r, T0 + 90 * SEC, 18500), 20);
	assert_int_equal(r.d.rate_span_ms, 60000);
	r.spec.max_replicas = 40;
	/* 5 s later, the window holds only T0+90 s: 5 s ahead again. */
	assert_int_equal(poll_at(&r, T0 + 95 * SEC, 19500), 21);
	assert_int_equal(r.d.rate_span_ms, 5000);

	/* The same reads with the trend off: the level alone. */
	rig_init(&r, 1, 20, 1000);
	assert_int_equal(poll_at(&r, T0, 500), 1);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 1500), 2);
	assert_int_equal(r.d.reason, SCALE_UP);

	/* Growth still obeys the partition cap and max. */
	rig_init(&r, 1, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	r.partitions = 6;
	assert_int_equal(poll_at(&r, T0, 500), 1);
	assert_int_equal(poll_at(&r, T0 + 30 * SEC, 6500), 6);
}

/* A lag shrinking fast enough is left to the replicas there. */
static void test_trend_draining_holds(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	r.cur = 2;
	r.consumed = 0;
	assert_int_equal(poll_at(&r, T0, 10000), 10); /* no rates yet: level */

	rig_init(&r, 1, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	r.cur = 2;
	r.consumed = 100000;
	assert_int_equal(poll_at(&r, T0, 1000), 2);
	/* Now a big lag appears but the replicas drain it fast. */
	r.st.ring[r.st.head].lag = 10000; /* as if measured at T0 */
	r.consumed = 102000;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 9000), 2);
	assert_int_equal(r.d.reason, SCALE_HOLD_DRAINING);
	assert_true(r.d.consume_rate > 399.9 && r.d.consume_rate < 400.1);
	assert_true(r.d.lag_rate < -199.9 && r.d.lag_rate > -200.1);
	assert_int_equal(r.d.lag_seconds, 23); /* ceil(9000 / 400) */
	assert_non_null(strstr(r.d.reason_text, "gone in 45s"));

	/* Draining too slowly (9900 at -20/s: 495 s): up. */
	rig_init(&r, 1, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	r.cur = 2;
	assert_int_equal(poll_at(&r, T0, 1000), 2);
	r.st.ring[r.st.head].lag = 10000;
	r.consumed = 1000;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 9900), 10);
	assert_int_equal(r.d.reason, SCALE_UP);

	/* The trend off: up, whatever the pace. */
	rig_init(&r, 1, 20, 1000);
	r.cur = 2;
	assert_int_equal(poll_at(&r, T0, 1000), 2);
	r.st.ring[r.st.head].lag = 10000;
	r.consumed = 2000;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 9000), 9);
}

static void test_rates_and_lag_seconds(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 0), 1);
	assert_int_equal(r.d.lag_seconds, 0); /* no lag: nothing to drain */
	assert_int_equal(poll_at(&r, T0 + 1 * SEC, 500), 1);
	assert_false(r.d.rates_known); /* less than one polling interval apart */
	assert_int_equal(r.d.lag_seconds, -1);
	r.consumed = 1000;
	/* T0 + 1 s merged into T0's sample (closer than half a poll). */
	assert_int_equal(r.st.count, 1);
	assert_int_equal(poll_at(&r, T0 + 11 * SEC, 500), 1);
	assert_true(r.d.rates_known);
	assert_true(r.d.consume_rate > 99.9 && r.d.consume_rate < 100.1);
	assert_int_equal(r.d.lag_seconds, 5);
	/* Progress going backwards (an offset reset): rates start over. */
	r.consumed = 10;
	assert_int_equal(poll_at(&r, T0 + 16 * SEC, 500), 1);
	assert_false(r.d.rates_known);
	r.consumed = 510;
	assert_int_equal(poll_at(&r, T0 + 21 * SEC, 500), 1);
	assert_true(r.d.consume_rate > 99.9 && r.d.consume_rate < 100.1);
	/* So does a change of partition count. */
	r.partitions = 200;
	r.consumed = 610;
	assert_int_equal(poll_at(&r, T0 + 26 * SEC, 500), 1);
	assert_false(r.d.rates_known);
	/* Rates use only the trend window (default 60 s when trend is off). */
	r.consumed = 100000;
	assert_int_equal(poll_at(&r, T0 + 1000 * SEC, 500), 1);
	assert_false(r.d.rates_known);
}

/* Reads ten times a second for ten minutes: the ring merges them and the
 * 300 s window is still honoured. */
static void test_history_spans_the_window_at_any_rate(void **state)
{
	struct rig r;
	int64_t t;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	assert_int_equal(poll_at(&r, T0, 8000), 8);
	for (t = T0 + 100; t < T0 + 299 * SEC; t += 100)
		assert_int_equal(poll_at(&r, t, 1000), 8);
	assert_true(r.st.count <= SCALE_HISTORY_MAX);
	for (; t < T0 + 305 * SEC; t += 100)
		poll_at(&r, t, 1000);
	assert_int_equal(r.cur, 1);

	/* A long window with fast polls. */
	rig_init(&r, 1, 10, 1000);
	r.spec.polling_interval_ms = 100;
	r.spec.stabilization_window_ms = 3600 * SEC;
	assert_int_equal(poll_at(&r, T0, 8000), 8);
	for (t = T0 + 100; t < T0 + 3590 * SEC; t += 1000)
		assert_int_equal(poll_at(&r, t, 1000), 8);
	/* The window ends within one merge gap (3600 s / 64) of its length. */
	for (; t < T0 + 3670 * SEC; t += 1000)
		poll_at(&r, t, 1000);
	assert_int_equal(r.cur, 1);
}

static void test_pure_and_repeatable(void **state)
{
	struct rig a, b;

	(void)state;
	rig_init(&a, 0, 10, 100);
	a.spec.trend_window_ms = 30 * SEC;
	for (int i = 0; i < 50; i++) {
		a.consumed += i * 7;
		poll_next(&a, (i * 37) % 900);
	}
	b = a;
	poll_next(&a, 555);
	poll_next(&b, 555);
	assert_int_equal(a.d.desired, b.d.desired);
	assert_int_equal(a.d.reason, b.d.reason);
	assert_string_equal(a.d.reason_text, b.d.reason_text);
	assert_memory_equal(&a.st, &b.st, sizeof(a.st));
}

static void test_huge_values(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 1000, 1);
	r.spec.trend_window_ms = 60 * SEC;
	r.spec.allow_idle_consumers = 1;
	assert_int_equal(poll_at(&r, T0, INT64_MAX), 1000);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 0), 1000);
	assert_int_equal(poll_at(&r, T0 + 10 * SEC, INT64_MAX), 1000);
	assert_int_equal(r.d.reason, SCALE_STEADY);
}

static void test_reason_names(void **state)
{
	(void)state;
	for (int i = SCALE_STEADY; i <= SCALE_FALLBACK; i++) {
		const char *n = scale_reason_name((enum scale_reason)i);
		assert_string_not_equal(n, "unknown");
		for (int j = SCALE_STEADY; j < i; j++)
			assert_string_not_equal(n, scale_reason_name((enum scale_reason)j));
	}
	assert_string_equal(scale_reason_name((enum scale_reason)99), "unknown");
}

/* Every (min, max, partitions, idle, cur, lag) in small ranges, fresh
 * state: the result stays in bounds, never above the cap unless min says
 * so, reaches the level when that is above cur, and zero only when
 * allowed. */
static void test_invariants_sweep(void **state)
{
	static const int64_t lags[] = {0, 1, 9, 10, 11, 50, 99, 100, 101, 155, 1000, 100000};
	struct rig r;
	long cases = 0;

	(void)state;
	for (int32_t min = 0; min <= 3; min++)
		for (int32_t max = min > 1 ? min : 1; max <= 12; max++)
			for (int32_t p = 1; p <= 14; p++)
				for (int idle = 0; idle <= 1; idle++)
					for (int32_t cur = 0; cur <= 14; cur++)
						for (size_t li = 0;
						     li < sizeof(lags) / sizeof(lags[0]); li++) {
							int64_t lag = lags[li];
							rig_init(&r, min, max, 10);
							r.spec.allow_idle_consumers = idle;
							r.spec.activation_lag_threshold = 10;
							r.partitions = p;
							r.cur = cur;
							int32_t d = poll_at(&r, T0, lag);
							int32_t lo = min > 0 ? min : 1;
							int64_t lvl = (lag + 9) / 10;
							int32_t cap =
							    idle ? max : (p < max ? p : max);
							cases++;
							assert_true(d <= max);
							assert_true(d >= min);
							if (d == 0)
								assert_true(
								    min == 0 &&
								    (cur == 0 || lag <= 10));
							if (d > lo)
								assert_true(d <= cap || d <= cur);
							if (lvl > cur && lag > 10)
								assert_true(
								    d >= (lvl < cap ? lvl : cap) ||
								    d >= lo);
							if (cur >= lo && cur <= max && d < cur)
								assert_true(
								    0); /* fresh state: no
								           decrease but to 0 */
						}
	assert_true(cases > 100000);
}

/* docs/autoscaling.md's worked example, poll by poll: a start, a burst,
 * the drain, the window and the cooldown. Keep the two in step. */
static void run_example(struct rig *r, int32_t *out, int n)
{
	static const int64_t lag[] = {0, 2000,  3000, 2500, 1200, 0, 0,
	                              0, 12000, 9000, 6000, 3000, 0};
	static const int64_t con[] = {0,    0,    0,    1500,  4000,  6500, 6500,
	                              6500, 6500, 9500, 12500, 15500, 18500};

	for (int i = 0; i < n; i++) {
		r->consumed = i < 13 ? con[i] : 18500;
		out[i] = poll_at(r, T0 + i * 5 * SEC, i < 13 ? lag[i] : 0);
	}
}

static void test_worked_example(void **state)
{
	static const int32_t want[] = {0, 4, 6, 6, 6, 6, 6, 6, 8, 8, 8, 8, 8};
	int32_t got[72];
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	r.spec.trend_window_ms = SCALE_DEFAULT_TREND_MS;
	r.partitions = 8;
	run_example(&r, got, 72);
	for (int i = 0; i < 13; i++)
		if (got[i] != want[i])
			fail_msg("t=%ds: %d replicas, want %d", i * 5, got[i], want[i]);
	for (int i = 13; i < 70; i++)
		assert_int_equal(got[i], 8); /* the window, then the cooldown */
	assert_int_equal(got[70], 6);        /* 350 s: the 8 of 40-45 s left the window */
	assert_int_equal(got[71], 0);        /* 355 s: 300 s since the lag was last > 0 */
	assert_int_equal(r.d.reason, SCALE_TO_ZERO);

	/* The same without the trend rule: 2 and 3 at 5 and 10 s. */
	rig_init(&r, 0, 10, 1000);
	r.partitions = 8;
	run_example(&r, got, 3);
	assert_int_equal(got[1], 2);
	assert_int_equal(got[2], 3);
}

/* Steady polls and one burst: the median growth ignores the burst. */
static void test_trend_ignores_one_burst(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	r.partitions = 20;
	r.cur = 3;
	for (int i = 0; i < 10; i++)
		assert_int_equal(poll_at(&r, T0 + i * 5 * SEC, 2500), 3);
	assert_int_equal(poll_at(&r, T0 + 50 * SEC, 9500), 10); /* level only */
	assert_int_equal(r.d.reason, SCALE_UP);
	assert_true(r.d.lag_rate == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_and_validation),
	    cmocka_unit_test(test_level_is_ceil_of_lag_over_threshold),
	    cmocka_unit_test(test_partition_cap_is_reached_exactly),
	    cmocka_unit_test(test_idle_consumers_reach_max_exactly),
	    cmocka_unit_test(test_min_wins_over_partition_cap),
	    cmocka_unit_test(test_limit_to_partitions_with_lag),
	    cmocka_unit_test(test_activation_from_zero),
	    cmocka_unit_test(test_activation_ignored_with_min),
	    cmocka_unit_test(test_scale_up_is_immediate),
	    cmocka_unit_test(test_scale_down_waits_for_the_window),
	    cmocka_unit_test(test_scale_down_never_goes_up),
	    cmocka_unit_test(test_cooldown_before_zero),
	    cmocka_unit_test(test_fresh_state_waits_for_cooldown),
	    cmocka_unit_test(test_read_failure_keeps_then_falls_back),
	    cmocka_unit_test(test_bounds_are_corrected),
	    cmocka_unit_test(test_trend_growing_scales_earlier),
	    cmocka_unit_test(test_trend_draining_holds),
	    cmocka_unit_test(test_rates_and_lag_seconds),
	    cmocka_unit_test(test_history_spans_the_window_at_any_rate),
	    cmocka_unit_test(test_pure_and_repeatable),
	    cmocka_unit_test(test_huge_values),
	    cmocka_unit_test(test_reason_names),
	    cmocka_unit_test(test_invariants_sweep),
	    cmocka_unit_test(test_worked_example),
	    cmocka_unit_test(test_trend_ignores_one_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
