/* Unit tests for operator/scale.c: every rule of scale.h on its own (with
 * the trend rule off unless it is the subject), then the trend rule, the
 * history's bounds, and an exhaustive sweep of invariants. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
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
	const int64_t *still; /* partition_still_ms, or NULL */
	int32_t ready;        /* obs.ready_replicas; RIG_READY_CUR: cur */
	int32_t paused;       /* obs.paused_replicas */
	int work_known;       /* obs.work_*: the workers' own account */
	int64_t work_events, work_busy_ms;
};

#define RIG_READY_CUR (-100)

/* The rings the rigs' states hold (scale.h, "State"), by rig address, so
 * that a rig set up again, or left on the stack when its test returns,
 * gives its ring back: recorded after each decision (which may allocate
 * or free it), freed by rig_init and after the last test. */
#define RIGS_MAX 256
static struct {
	const struct rig *rig;
	struct scale_sample *ring;
} rigs[RIGS_MAX];

static void rig_track(const struct rig *r)
{
	int free_slot = -1;

	for (int i = 0; i < RIGS_MAX; i++) {
		if (rigs[i].rig == r) {
			rigs[i].ring = r->st.ring;
			return;
		}
		if (rigs[i].rig == NULL && free_slot < 0)
			free_slot = i;
	}
	assert_true(free_slot >= 0);
	rigs[free_slot].rig = r;
	rigs[free_slot].ring = r->st.ring;
}

static void rig_forget(const struct rig *r)
{
	for (int i = 0; i < RIGS_MAX; i++)
		if (rigs[i].rig == r) {
			free(rigs[i].ring);
			rigs[i].rig = NULL;
			rigs[i].ring = NULL;
		}
}

static int rigs_free_all(void **state)
{
	(void)state;
	for (int i = 0; i < RIGS_MAX; i++) {
		free(rigs[i].ring);
		rigs[i].rig = NULL;
		rigs[i].ring = NULL;
	}
	return 0;
}

static void rig_init(struct rig *r, int32_t min, int32_t max, int64_t threshold)
{
	rig_forget(r);
	memset(r, 0, sizeof(*r));
	scale_spec_defaults(&r->spec);
	r->spec.min_replicas = min;
	r->spec.max_replicas = max;
	r->spec.lag_threshold = threshold;
	r->spec.trend_window_ms = 0; /* rules in isolation; trend tests turn it on */
	r->partitions = 100;
	r->now = T0;
	r->cur = min;
	r->ready = -1; /* unknown, as a caller that does not read it */
	r->paused = SCALE_NOT_PAUSED;
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
	    .ready_replicas = r->ready == RIG_READY_CUR ? r->cur : r->ready,
	    .partition_still_ms = r->still,
	    .paused = r->paused != SCALE_NOT_PAUSED,
	    .paused_replicas = r->paused,
	    .work_known = r->work_known,
	    .work_events = r->work_events,
	    .work_busy_ms = r->work_busy_ms,
	};
	char err[128];

	assert_int_equal(scale_spec_validate(&r->spec, err, sizeof(err)), 0);
	r->now = t;
	int32_t n = scale_decide(&r->spec, &r->st, &o, NULL, &r->d);
	rig_track(r);
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
	struct scale_obs o = {.ok = 0,
	                      .current_replicas = r->cur,
	                      .now_ms = r->now,
	                      .ready_replicas = -1,
	                      .paused = r->paused != SCALE_NOT_PAUSED,
	                      .paused_replicas = r->paused};

	r->now += r->spec.polling_interval_ms;
	o.now_ms = r->now;
	r->cur = scale_decide(&r->spec, &r->st, &o, why, &r->d);
	rig_track(r);
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
	scale_state_newest(&r.st)->lag = 10000; /* as if measured at T0 */
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
	scale_state_newest(&r.st)->lag = 10000;
	r.consumed = 1000;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 9900), 10);
	assert_int_equal(r.d.reason, SCALE_UP);

	/* The trend off: up, whatever the pace. */
	rig_init(&r, 1, 20, 1000);
	r.cur = 2;
	assert_int_equal(poll_at(&r, T0, 1000), 2);
	scale_state_newest(&r.st)->lag = 10000;
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
	rig_forget(&b);
	b = a;
	assert_int_equal(scale_state_copy(&b.st, &a.st), 0);
	rig_track(&b);
	poll_next(&a, 555);
	poll_next(&b, 555);
	assert_int_equal(a.d.desired, b.d.desired);
	assert_int_equal(a.d.reason, b.d.reason);
	assert_string_equal(a.d.reason_text, b.d.reason_text);
	assert_int_equal(a.st.count, b.st.count);
	assert_int_equal(a.st.cap, b.st.cap);
	for (int i = 0; i < a.st.count; i++) {
		struct scale_sample x, y;
		assert_int_equal(scale_state_sample(&a.st, i, &x), 0);
		assert_int_equal(scale_state_sample(&b.st, i, &y), 0);
		assert_memory_equal(&x, &y, sizeof(x));
	}
	struct scale_state sa = a.st, sb = b.st;
	sa.ring = sb.ring = NULL; /* the rest as plain values */
	assert_memory_equal(&sa, &sb, sizeof(sa));
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
	for (int i = SCALE_STEADY; i <= SCALE_DOWN_DRAIN; i++) {
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

/* ---- Issue 18: validation of the new fields. */
static void test_validation_new_fields(void **state)
{
	static const struct {
		int field;
		int64_t value;
		const char *err;
	} t[] = {
	    {0, 0, "persistentLagAfter: must be > 0"},
	    {0, -5, "persistentLagAfter: must be > 0"},
	    {1, -1, "targetDrainSeconds: must be >= 0"},
	    {2, 0, "targetUtilization: must be 1..100"},
	    {2, 101, "targetUtilization: must be 1..100"},
	    {3, -1, "scaleUpInterval: must be >= 0"},
	};
	struct scale_spec s;
	char err[128];

	(void)state;
	scale_spec_defaults(&s);
	assert_int_equal(s.persistent_after_ms, 30000);
	assert_int_equal(s.target_utilization_pct, 80);
	assert_int_equal(s.target_drain_ms, 0);
	assert_int_equal(s.scale_up_interval_ms, 0);
	assert_false(s.exclude_persistent_lag);
	assert_false(s.even_partitions);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		scale_spec_defaults(&s);
		switch (t[i].field) {
		case 0:
			s.persistent_after_ms = t[i].value;
			break;
		case 1:
			s.target_drain_ms = t[i].value;
			break;
		case 2:
			s.target_utilization_pct = (int32_t)t[i].value;
			break;
		default:
			s.scale_up_interval_ms = t[i].value;
		}
		assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), -1);
		assert_string_equal(err, t[i].err);
	}
	/* The edges that pass. */
	scale_spec_defaults(&s);
	s.persistent_after_ms = 1;
	s.target_drain_ms = 0;
	s.target_utilization_pct = 100;
	s.scale_up_interval_ms = 0;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), 0);
	s.target_utilization_pct = 1;
	assert_int_equal(scale_spec_validate(&s, err, sizeof(err)), 0);
}

/* ---- Rule 1a's input: how long each partition has stood still. */
static void test_track_partitions(void **state)
{
	struct scale_partition_track tr[3];
	int64_t pos[3] = {100, 200, 300}, lag[3] = {5, 0, 7}, still[3];

	(void)state;
	memset(tr, 0, sizeof(tr));
	scale_track_partitions(tr, 3, pos, lag, T0, 1, still);
	assert_int_equal(still[0], 0);
	assert_int_equal(still[1], 0);
	assert_int_equal(still[2], 0);
	/* Standing with the same lag: the clock runs; no lag: it does not. */
	scale_track_partitions(tr, 3, pos, lag, T0 + 5 * SEC, 0, still);
	assert_int_equal(still[0], 5 * SEC);
	assert_int_equal(still[1], 0);
	assert_int_equal(still[2], 5 * SEC);
	/* Partition 0 moves; partition 2's lag grows at the same position
	 * (new messages nobody has tried: a group at zero): both restart. */
	pos[0] = 103;
	lag[0] = 2;
	lag[2] = 9;
	scale_track_partitions(tr, 3, pos, lag, T0 + 10 * SEC, 0, still);
	assert_int_equal(still[0], 0);
	assert_int_equal(still[2], 0);
	/* The lag shrinking at a standing position (retention, a marker
	 * aborted) is still standing. */
	lag[2] = 8;
	scale_track_partitions(tr, 3, pos, lag, T0 + 40 * SEC, 0, still);
	assert_int_equal(still[0], 30 * SEC);
	assert_int_equal(still[2], 30 * SEC);
	/* fresh restarts everything. */
	scale_track_partitions(tr, 3, pos, lag, T0 + 45 * SEC, 1, still);
	assert_int_equal(still[0], 0);
	assert_int_equal(still[2], 0);
}

/* Rule 1a on one read: the persistent part counts for nothing. */
static void test_persistent_lag_excluded(void **state)
{
	static const int64_t plag[8] = {4000, 4, 4, 4, 0, 0, 0, 0};
	static const int64_t stuck[8] = {0, 40000, 40000, 30000, 0, 0, 0, 0};
	static const int64_t young[8] = {0, 29999, 29999, 29999, 0, 0, 0, 0};
	static const struct {
		int exclude, limit;
		const int64_t *still;
		int32_t want;
		int64_t persistent;
	} t[] = {
	    {1, 0, stuck, 4, 12}, /* 4000: 4 */
	    {0, 0, stuck, 5, 0},  /* 4012: 5 */
	    {1, 0, young, 5, 0},  /* not yet 30 s */
	    {1, 0, NULL, 5, 0},   /* no still times: inert */
	    {1, 1, stuck, 1, 12}, /* one partition with lag that counts */
	    {0, 1, stuck, 4, 0},
	};
	struct rig r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rig_init(&r, 1, 10, 1000);
		r.partitions = 8;
		r.plag = plag;
		r.still = t[i].still;
		r.spec.exclude_persistent_lag = t[i].exclude;
		r.spec.limit_to_partitions_with_lag = t[i].limit;
		assert_int_equal(poll_at(&r, T0, 4012), t[i].want);
		assert_int_equal(r.d.lag, 4012); /* the lag shown is all of it */
		assert_int_equal(r.d.persistent_lag, t[i].persistent);
		assert_int_equal(r.d.persistent_partitions, t[i].persistent ? 3 : 0);
		if (t[i].persistent)
			assert_non_null(
			    strstr(r.d.reason_text, ", 12 of it persistent on 3 partitions"));
		else
			assert_null(strstr(r.d.reason_text, "persistent"));
	}
	/* Activity too: only persistent lag is inactive. */
	static const int64_t only[8] = {0, 4, 4, 4, 0, 0, 0, 0};
	rig_init(&r, 0, 10, 1000);
	r.partitions = 8;
	r.plag = only;
	r.still = stuck;
	r.spec.exclude_persistent_lag = 1;
	assert_int_equal(poll_at(&r, T0, 12), 0);
	assert_false(r.d.active);
	assert_int_equal(r.d.reason, SCALE_IDLE);
	assert_int_equal(r.d.lag_seconds, 0); /* nothing that can drain */
}

/* Feeds the rig's partitions through scale_track_partitions, as the
 * operator does each poll. */
struct parts {
	struct scale_partition_track tr[8];
	int64_t pos[8], lag[8], still[8];
	int32_t n;
	int fresh;
};

static int32_t poll_parts(struct rig *r, struct parts *p, int64_t t)
{
	int64_t total = 0;

	scale_track_partitions(p->tr, p->n, p->pos, p->lag, t, p->fresh, p->still);
	p->fresh = 0;
	for (int32_t i = 0; i < p->n; i++)
		total += p->lag[i];
	r->partitions = p->n;
	r->plag = p->lag;
	r->still = p->still;
	return poll_at(r, t, total);
}

/* KEDA #5675: transaction markers leave lag 1 on each partition that no
 * consumer ever commits past. With excludePersistentLag the marker lag is
 * inactive after persistentLagAfter, and the group goes to zero after the
 * cooldown, and stays there; without it, one replica forever. */
static void test_keda_5675_transaction_markers(void **state)
{
	struct rig r;
	struct parts p;

	(void)state;
	for (int exclude = 0; exclude <= 1; exclude++) {
		memset(&p, 0, sizeof(p));
		p.n = 4;
		p.fresh = 1;
		for (int i = 0; i < 4; i++) {
			p.pos[i] = 1000 * i + 99;
			p.lag[i] = 1;
		}
		rig_init(&r, 0, 10, 10);
		r.spec.exclude_persistent_lag = exclude;
		r.cur = 1;
		int64_t zero_at = -1;
		for (int64_t t = T0; t <= T0 + 1200 * SEC; t += 5 * SEC) {
			int32_t n = poll_parts(&r, &p, t);
			if (n == 0 && zero_at < 0)
				zero_at = t - T0;
			if (zero_at >= 0)
				assert_int_equal(n, 0); /* once at zero, stays */
		}
		if (exclude) {
			/* Active until 25 s (still 25 s < 30 s), then 300 s. */
			assert_int_equal(zero_at, 325 * SEC);
			assert_int_equal(r.d.reason, SCALE_IDLE);
			assert_int_equal(r.d.persistent_lag, 4);
			assert_int_equal(r.d.persistent_partitions, 4);
		} else {
			assert_int_equal(zero_at, -1);
			assert_int_equal(r.cur, 1);
		}
	}
}

/* KEDA #5906: a partition the group never committed on reads position =
 * earliest (operator/lag.c); nothing consumes it, it stands still, and it
 * is left out like any other persistent lag. The partitions that move
 * count in full. */
static void test_keda_5906_no_committed_offset(void **state)
{
	struct rig r;
	struct parts p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.n = 3;
	p.fresh = 1;
	p.pos[2] = 0; /* earliest: no commit */
	p.lag[2] = 500;
	rig_init(&r, 1, 10, 100);
	r.spec.exclude_persistent_lag = 1;
	r.spec.stabilization_window_ms = 0;
	for (int i = 0; i <= 6; i++) {
		p.pos[0] += 1000; /* consumed, 50 behind */
		p.pos[1] += 1000;
		p.lag[0] = p.lag[1] = 50;
		int32_t n = poll_parts(&r, &p, T0 + i * 5 * SEC);
		/* 600: 6, capped at 3 partitions; from 30 s, 100: 1. */
		assert_int_equal(n, i < 6 ? 3 : 1);
	}
	assert_int_equal(r.d.persistent_lag, 500);
	assert_int_equal(r.d.persistent_partitions, 1);
	assert_int_equal(r.d.lag, 600);
	/* New messages on it make it count again. */
	p.lag[2] = 900;
	assert_int_equal(poll_parts(&r, &p, T0 + 35 * SEC), 3);
	assert_int_equal(r.d.persistent_lag, 0);
}

/* The rule never keeps a group at zero from new messages: a lag that
 * grows at a standing position is not persistent, however long it has
 * stood. */
static void test_persistent_rule_still_activates(void **state)
{
	struct rig r;
	struct parts p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.n = 2;
	p.fresh = 1;
	rig_init(&r, 0, 10, 1000);
	r.spec.exclude_persistent_lag = 1;
	r.spec.activation_lag_threshold = 100;
	int64_t t = T0;
	/* 1 message/s on partition 0 at zero replicas: 100 s to pass 100. */
	for (; p.lag[0] <= 100; t += 5 * SEC) {
		assert_int_equal(poll_parts(&r, &p, t), 0);
		p.lag[0] += 5;
	}
	assert_int_equal(poll_parts(&r, &p, t), 1);
	assert_int_equal(r.d.reason, SCALE_ACTIVATE);
}

/* ---- Rule 1b's input: the measured rate per replica. */
static void test_rate_per_replica_measured(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, INT64_C(1000000000)); /* the level stays at 1 */
	r.partitions = 8;
	r.cur = 2;
	r.ready = 2;
	r.consumed = 0;
	/* Backlogged: 2 replicas do 10000 per 5 s. */
	assert_int_equal(poll_at(&r, T0, 100000), 2);
	assert_true(r.d.rate_per_replica == 0);
	r.consumed = 10000;
	poll_at(&r, T0 + 5 * SEC, 95000);
	assert_true(r.d.rate_per_replica > 999.9 && r.d.rate_per_replica < 1000.1);
	assert_int_equal(r.st.rate_measured_ms, T0 + 5 * SEC);
	/* Arrivals: consumed 2000/s, lag -1000/s: 1000/s. */
	assert_true(r.d.input_rate > 999.9 && r.d.input_rate < 1000.1);
	/* lagSeconds from it: 95000 / (1000 x 2). */
	assert_int_equal(r.d.lag_seconds, 48);
	/* Slower (8000 in the last 5 s): over the run of 10 s, (18000 / 10)
	 * / 2 = 900, taken as it is (>= 2 intervals). */
	r.consumed = 18000;
	poll_at(&r, T0 + 10 * SEC, 90000);
	assert_true(r.d.rate_per_replica > 899.9 && r.d.rate_per_replica < 900.1);
	/* The ready count changes: the run restarts; one interval at 4 ready
	 * (4 x 1000/s) is averaged with the value before: (900 + 1000) / 2. */
	r.ready = 4;
	r.consumed = 20000;
	poll_at(&r, T0 + 15 * SEC, 88000);
	assert_true(r.d.rate_per_replica > 899.9 && r.d.rate_per_replica < 900.1);
	r.consumed = 40000;
	poll_at(&r, T0 + 20 * SEC, 80000);
	assert_true(r.d.rate_per_replica > 949.9 && r.d.rate_per_replica < 950.1);
	assert_int_equal(r.d.lag_seconds, 22); /* 80000 / 3800 */
	/* Ready above the partitions: only 8 can work. */
	r.ready = 12;
	poll_at(&r, T0 + 25 * SEC, 80000);
	assert_int_equal(r.d.lag_seconds, 11); /* 80000 / (950 x 8) */
	/* Ready unknown: lagSeconds from the consume rate as before. */
	r.ready = -1;
	poll_at(&r, T0 + 30 * SEC, 80000);
	assert_true(r.d.rates_known);
	assert_int_equal(r.d.lag_seconds, (int64_t)ceil(80000.0 / r.d.consume_rate - 1e-9));
}

/* A run that was not backlogged is a lower bound: it raises the rate,
 * never lowers it. A small lag that the replicas clear within each poll
 * (messages in flight) is no backlog. */
static void rate_rig(struct rig *r, double rate)
{
	rig_init(r, 1, 20, INT64_C(1000000000)); /* the level stays at 1 */
	r->partitions = 8;
	r->ready = 2;
	r->st.rate_per_replica = rate; /* as if measured */
}

static void test_rate_unbacklogged_only_raises(void **state)
{
	struct rig r;

	(void)state;
	/* Idle: 500/s per replica with no lag: 1000 stays. */
	rate_rig(&r, 1000);
	for (int i = 0; i < 4; i++) {
		r.consumed = i * 5000;
		poll_at(&r, T0 + i * 5 * SEC, 0);
	}
	assert_true(r.d.rate_per_replica > 999.9 && r.d.rate_per_replica < 1000.1);
	/* Keeping up with a small lag (300 < the 5000 done each poll): no
	 * backlog, the same. */
	rate_rig(&r, 1000);
	for (int i = 0; i < 4; i++) {
		r.consumed = i * 5000;
		poll_at(&r, T0 + i * 5 * SEC, 300);
	}
	assert_true(r.d.rate_per_replica > 999.9 && r.d.rate_per_replica < 1000.1);
	/* Read as a backlog (lag > 0 alone), that would have been 500. */
	rate_rig(&r, 1000);
	for (int i = 0; i < 4; i++) {
		r.consumed = i * 5000;
		poll_at(&r, T0 + i * 5 * SEC, 6000);
	}
	assert_true(r.d.rate_per_replica > 499.9 && r.d.rate_per_replica < 500.1);
	/* Idle but faster than known: raised, at once. */
	rate_rig(&r, 1000);
	for (int i = 0; i < 2; i++) {
		r.consumed = i * 15000;
		poll_at(&r, T0 + i * 5 * SEC, 0);
	}
	assert_true(r.d.rate_per_replica > 1499.9 && r.d.rate_per_replica < 1500.1);
	assert_int_equal(r.st.rate_measured_ms, T0 + 5 * SEC);
	/* A backlog with no progress (a rebalance, stuck consumers) is a
	 * stall, not a speed: kept. */
	for (int i = 2; i < 6; i++)
		poll_at(&r, T0 + i * 5 * SEC, 100000);
	assert_true(r.d.rate_per_replica > 1499.9 && r.d.rate_per_replica < 1500.1);
	/* An offset reset restarts the rates, not the speed per replica. */
	r.consumed = 10;
	poll_at(&r, T0 + 30 * SEC, 100000);
	assert_false(r.d.rates_known);
	assert_true(r.d.rate_per_replica > 1499.9 && r.d.rate_per_replica < 1500.1);
	/* A backlog that drains measures (and lowers) it: one interval is
	 * averaged with the value before, two are taken as they are. */
	r.consumed = 10 + 2 * 800 * 5;
	poll_at(&r, T0 + 35 * SEC, 95000);
	assert_true(r.d.rate_per_replica > 1149.9 && r.d.rate_per_replica < 1150.1);
	r.consumed = 10 + 2 * 800 * 10;
	poll_at(&r, T0 + 40 * SEC, 90000);
	assert_true(r.d.rate_per_replica > 799.9 && r.d.rate_per_replica < 800.1);
	/* Not with a ready count unknown. */
	r.ready = -1;
	r.consumed += 1000000;
	poll_at(&r, T0 + 45 * SEC, 0);
	assert_true(r.d.rate_per_replica > 799.9 && r.d.rate_per_replica < 800.1);
}

/* The workers' own work (obs.work_*): Δevents / Δbusy is one replica's
 * rate whatever the load, and the offsets are not used any more. */
static void work_rig(struct rig *r)
{
	rig_init(r, 1, 20, INT64_C(1000000000)); /* the level stays at 1 */
	r->partitions = 8;
	r->cur = 2;
	r->ready = 2;
	r->work_known = 1;
	r->consumed = 1000000;
}

#define NEAR(x, want) ((x) > (want)-0.01 && (x) < (want) + 0.01)

static void test_rate_from_work_under_partial_load(void **state)
{
	struct rig r;

	(void)state;
	work_rig(&r);
	/* The first read is the base: nothing measured yet. */
	poll_at(&r, T0, 0);
	assert_true(r.d.rate_per_replica == 0);
	/* Two replicas each busy half of 5 s at 20000/s: 100000 events in
	 * 5000 busy ms. No lag at all, and the commits trail (100/s): the
	 * offsets could only say 50/s per replica; the work says 20000. */
	r.consumed += 500;
	r.work_events = 100000;
	r.work_busy_ms = 5000;
	poll_at(&r, T0 + 5 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 20000));
	assert_int_equal(r.st.rate_measured_ms, T0 + 5 * SEC);
	/* Nearly idle: 10 busy ms is below SCALE_WORK_MIN_BUSY_MS, so nothing
	 * changes and the base stays where it was ... */
	r.consumed += 500;
	r.work_events += 200;
	r.work_busy_ms += 10;
	poll_at(&r, T0 + 10 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 20000));
	assert_int_equal(r.st.rate_measured_ms, T0 + 5 * SEC);
	/* ... until the busy time adds up: 300 events in 20 ms since the
	 * base, 15000/s, averaged with 20000. */
	r.consumed += 500;
	r.work_events += 100;
	r.work_busy_ms += 10;
	poll_at(&r, T0 + 15 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 17500));
	assert_int_equal(r.st.rate_measured_ms, T0 + 15 * SEC);
	/* A backlog read from the offsets changes nothing: work decides. */
	r.consumed += 100;
	poll_at(&r, T0 + 20 * SEC, 500000);
	assert_true(NEAR(r.d.rate_per_replica, 17500));
	/* lagSeconds from it: 500000 / (17500 x 2). */
	assert_int_equal(r.d.lag_seconds, 15);
	/* The status Redis unreadable for a poll: no work, and still no
	 * offset measurement (a backlogged run that would read 10/s). */
	r.work_known = 0;
	r.consumed += 100;
	poll_at(&r, T0 + 25 * SEC, 499900);
	r.consumed += 100;
	poll_at(&r, T0 + 30 * SEC, 499800);
	assert_true(NEAR(r.d.rate_per_replica, 17500));
	/* Back: the interval from the last base (3 polls) measures. */
	r.work_known = 1;
	r.work_events += 175000;
	r.work_busy_ms += 10000;
	poll_at(&r, T0 + 35 * SEC, 499700);
	assert_true(NEAR(r.d.rate_per_replica, 17500));
	assert_int_equal(r.st.rate_measured_ms, T0 + 35 * SEC);
}

static void test_rate_from_work_member_restart(void **state)
{
	struct rig r;

	(void)state;
	work_rig(&r);
	/* Workers that ran before this operator started: the first read
	 * measures their whole lives (the counters start at zero). */
	r.work_events = 400000;
	r.work_busy_ms = 40000;
	poll_at(&r, T0, 0);
	assert_true(NEAR(r.d.rate_per_replica, 10000));
	r.work_events += 50000;
	r.work_busy_ms += 5000;
	poll_at(&r, T0 + 5 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 10000));
	/* A member stopped (its fields deleted, 300000 events in 30 s) while
	 * the other worked on: the sums went down, the interval is skipped. */
	r.work_events += 20000 - 300000;
	r.work_busy_ms += 1000 - 30000;
	poll_at(&r, T0 + 10 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 10000));
	assert_int_equal(r.st.rate_measured_ms, T0 + 5 * SEC);
	/* Only the busy time going down (a member restarted): skipped too. */
	r.work_events += 1000;
	r.work_busy_ms -= 500;
	poll_at(&r, T0 + 15 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 10000));
	assert_int_equal(r.st.rate_measured_ms, T0 + 5 * SEC);
	/* The next interval measures from the new base: 30000/s, averaged. */
	r.work_events += 30000;
	r.work_busy_ms += 1000;
	poll_at(&r, T0 + 20 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 20000));
	assert_int_equal(r.st.rate_measured_ms, T0 + 20 * SEC);
	/* Busy time with no events: no speed, nothing changes. */
	r.work_busy_ms += 1000;
	poll_at(&r, T0 + 25 * SEC, 0);
	assert_true(NEAR(r.d.rate_per_replica, 20000));
	assert_int_equal(r.st.rate_measured_ms, T0 + 20 * SEC);
}

/* Rule 1b on a rate from the workers' work, measured within the same
 * two polls: input 5000/s (consumed 25000 in 5 s, lag steady 20000),
 * 1000 events per busy second at 80 %: ceil((5000 + 20000/10) / 800) =
 * ceil(8.75) = 9. */
static void test_drain_rule_with_work_rate(void **state)
{
	struct rig r;

	(void)state;
	work_rig(&r);
	r.partitions = 16;
	r.cur = 1;
	r.ready = 1;
	r.spec.target_drain_ms = 10 * SEC;
	r.spec.target_utilization_pct = 80;
	assert_int_equal(poll_at(&r, T0, 20000), 1);
	assert_false(r.d.drain_rule);
	r.consumed += 25000;
	r.work_events += 5000;
	r.work_busy_ms += 5000;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 20000), 9);
	assert_true(r.d.drain_rule);
	assert_int_equal(r.d.reason, SCALE_UP_DRAIN);
	assert_true(NEAR(r.d.rate_per_replica, 1000));
	assert_true(NEAR(r.d.input_rate, 5000));
	assert_int_equal(r.d.lag_seconds, 20); /* 20000 / (1000 x 1 ready) */
	/* Faster workers (3000/s: (3000 + 1000) / 2 = 2000 after the
	 * average): ceil(7000 / 1600) = 5, held by the window at 9. */
	r.consumed += 25000;
	r.work_events += 15000;
	r.work_busy_ms += 5000;
	assert_int_equal(poll_at(&r, T0 + 10 * SEC, 20000), 9);
	assert_true(NEAR(r.d.rate_per_replica, 2000));
	assert_int_equal(r.d.reason, SCALE_DOWN_STABILIZING);
	assert_non_null(strstr(r.d.reason_text, "5 replicas drain it"));
}

/* ---- Rule 1b: targetDrainSeconds. Two polls 5 s apart, the rate per
 * replica given (ready unknown, so it is not remeasured): replicas =
 * ceil((input + L / T) / (rate x utilization)), then the cap. */
static void test_drain_rule_formula(void **state)
{
	static const struct {
		int64_t lag0, lag1, consumed; /* over the 5 s */
		int64_t target_s;
		int32_t util, p, max, cur;
		double rate;
		int even;
		int32_t want;
		enum scale_reason reason;
	} t[] = {
	    /* input 5000 + 20000/10 = 7000 at 1000: 7. */
	    {20000, 20000, 25000, 10, 100, 16, 20, 1, 1000, 0, 7, SCALE_UP_DRAIN},
	    /* at 80 %: 8.75 -> 9. */
	    {20000, 20000, 25000, 10, 80, 16, 20, 1, 1000, 0, 9, SCALE_UP_DRAIN},
	    /* the partition cap, then max. */
	    {20000, 20000, 25000, 10, 80, 8, 20, 1, 1000, 0, 8, SCALE_UP_DRAIN},
	    {20000, 20000, 25000, 10, 80, 16, 5, 1, 1000, 0, 5, SCALE_UP_DRAIN},
	    /* no lag: the input alone, 5000 / 800 = 6.25 -> 7. */
	    {0, 0, 25000, 10, 80, 16, 20, 1, 1000, 0, 7, SCALE_UP_DRAIN},
	    /* nothing at all: minReplicas. */
	    {0, 0, 0, 10, 80, 16, 20, 1, 1000, 0, 1, SCALE_STEADY},
	    /* a draining lag: input 5000 - 2000 = 3000, + 30000/10: 6. */
	    {40000, 30000, 25000, 10, 100, 16, 20, 1, 1000, 0, 6, SCALE_UP_DRAIN},
	    /* a longer target: 3000 + 30000/60 = 3500 -> 4. */
	    {40000, 30000, 25000, 60, 100, 16, 20, 1, 1000, 0, 4, SCALE_UP_DRAIN},
	    /* faster replicas: 7000 / 3500 = 2. */
	    {20000, 20000, 25000, 10, 100, 16, 20, 1, 3500, 0, 2, SCALE_UP_DRAIN},
	    /* with even partitions, 7 of 12 -> 12. */
	    {20000, 20000, 25000, 10, 100, 12, 20, 1, 1000, 1, 12, SCALE_UP_DRAIN},
	    /* already there. */
	    {20000, 20000, 25000, 10, 100, 16, 20, 7, 1000, 0, 7, SCALE_STEADY},
	    /* above it: the window (fresh state seeds cur) keeps 10. */
	    {20000, 20000, 25000, 10, 100, 16, 20, 10, 1000, 0, 10, SCALE_DOWN_STABILIZING},
	};
	struct rig r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rig_init(&r, 1, t[i].max, INT64_C(1000000000));
		r.partitions = t[i].p;
		r.spec.target_drain_ms = t[i].target_s * SEC;
		r.spec.target_utilization_pct = t[i].util;
		r.spec.even_partitions = t[i].even;
		r.cur = t[i].cur;
		r.st.rate_per_replica = t[i].rate;
		r.consumed = 1000000;
		assert_int_equal(poll_at(&r, T0, t[i].lag0), t[i].cur);
		r.consumed += t[i].consumed;
		if (poll_at(&r, T0 + 5 * SEC, t[i].lag1) != t[i].want)
			fail_msg("row %zu: %d, want %d (%s)", i, r.d.desired, t[i].want,
			         r.d.reason_text);
		assert_int_equal(r.d.reason, t[i].reason);
		assert_true(r.d.drain_rule);
		assert_true(r.d.rate_per_replica == t[i].rate);
	}
	/* The line, in words. */
	rig_init(&r, 1, 20, INT64_C(1000000000));
	r.partitions = 16;
	r.spec.target_drain_ms = 10 * SEC;
	r.spec.target_utilization_pct = 100;
	r.st.rate_per_replica = 1000;
	r.consumed = 1000000;
	poll_at(&r, T0, 20000);
	r.consumed += 25000;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 20000), 7);
	assert_string_equal(r.d.reason_text,
	                    "lag 20000 over 16 partitions, input 5000/s, 1000/s per replica at "
	                    "100%: 7 replicas drain it in 10.0s (target 10s): 1 -> 7");
	/* The same capped at 5: more than the target, said so. */
	r.spec.max_replicas = 5;
	r.cur = 1;
	r.consumed += 25000;
	assert_int_equal(poll_at(&r, T0 + 10 * SEC, 20000), 5);
	assert_non_null(strstr(r.d.reason_text, "5 replicas cannot keep up (target 10s)"));
}

/* Cold start: no rate measured yet, the level rule (with its text), not
 * the drain rule. */
static void test_drain_rule_cold_start(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, 1000);
	r.partitions = 16;
	r.spec.target_drain_ms = 10 * SEC;
	r.ready = RIG_READY_CUR;
	assert_int_equal(poll_at(&r, T0, 5500), 6);
	assert_false(r.d.drain_rule);
	assert_int_equal(r.d.reason, SCALE_UP);
	assert_string_equal(r.d.reason_text,
	                    "lag 5500 (threshold 1000/replica, 16 partitions), no rate "
	                    "measured yet: lag/threshold needs 6: 1 -> 6");
	/* Rates known but no backlog yet measured per replica: still level. */
	r.consumed = 100;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 7500), 8);
	assert_false(r.d.drain_rule);
	assert_true(r.d.rates_known);
	assert_true(r.d.rate_per_replica == 0);
}

/* A drained backlog: rule 1b's recommendation falls, and the group goes
 * down in one step once the stabilization window lets it. */
static void test_drain_rule_scales_down_after_window(void **state)
{
	struct rig r;
	int64_t t = T0;

	(void)state;
	rig_init(&r, 1, 20, INT64_C(1000000000));
	r.partitions = 16;
	r.spec.target_drain_ms = 10 * SEC;
	r.spec.target_utilization_pct = 100;
	r.spec.stabilization_window_ms = 60 * SEC;
	r.st.rate_per_replica = 1000;
	r.consumed = 1000000;
	poll_at(&r, t, 20000);
	r.cur = 1;
	t += 5 * SEC;
	r.consumed += 25000;
	assert_int_equal(poll_at(&r, t, 20000), 7);
	int64_t last7 = t;
	/* Lag gone, the input goes on at 5000/s: 5 replicas. */
	for (t += 5 * SEC; t <= last7 + 60 * SEC; t += 5 * SEC) {
		r.consumed += 25000;
		assert_int_equal(poll_at(&r, t, 0), 7);
		assert_int_equal(r.d.reason, SCALE_DOWN_STABILIZING);
		assert_true(r.d.drain_rule);
	}
	r.consumed += 25000;
	assert_int_equal(poll_at(&r, t, 0), 5);
	assert_int_equal(r.d.reason, SCALE_DOWN_DRAIN);
	assert_non_null(strstr(r.d.reason_text, ": 7 -> 5"));
}

/* The whole loop on a model group: 1000/s per replica, 3000/s arriving,
 * 50000 waiting at the start; the committed offsets trail 1 s behind
 * the work (a lag of 3000 even when the group keeps up). Rule 1b measures
 * the rate from the backlog, drains it, and settles at ceil(3000 / 800)
 * = 4, where it stays: the small in-flight lag is not read as a backlog
 * that would lower the rate and climb to maxReplicas. */
static void test_drain_rule_model_group(void **state)
{
	struct rig r;
	int64_t backlog = 50000, done = 1000000;
	const int64_t input = 3000, per = 1000;
	int32_t top = 0;

	(void)state;
	rig_init(&r, 1, 20, 10000);
	r.partitions = 16;
	r.spec.target_drain_ms = 30 * SEC;
	r.spec.stabilization_window_ms = 60 * SEC;
	r.ready = RIG_READY_CUR;
	r.cur = 1;
	for (int i = 0; i < 360; i++) {
		r.consumed = done - input;
		int32_t n = poll_at(&r, T0 + i * 5 * SEC, backlog + input);
		top = n > top ? n : top;
		/* Five seconds of work by n replicas. */
		int64_t avail = backlog + input * 5, cap = (int64_t)n * per * 5;
		int64_t did = avail < cap ? avail : cap;
		done += did;
		backlog = avail - did;
	}
	assert_int_equal(r.cur, 4);
	assert_true(top <= 8);
	assert_true(r.d.drain_rule);
	assert_true(r.d.rate_per_replica > 999.9 && r.d.rate_per_replica < 1000.1);
	assert_int_equal(backlog, 0);
}

/* ---- Rule 3a: even partitions. */
static int32_t busiest(int32_t p, int32_t r)
{
	return (p + r - 1) / r;
}

/* The definition, by search: the least r' >= r whose busiest replica
 * carries no more than P/r; above max, the largest count <= max with the
 * busiest replica of max; never below min. */
static int32_t even_brute(int32_t p, int32_t r, int32_t min, int32_t max)
{
	int32_t e = -1;

	if (r >= p)
		return r;
	for (int32_t c = r; c <= p; c++)
		if ((int64_t)r * busiest(p, c) <= p) {
			e = c;
			break;
		}
	if (e > max) {
		/* Largest c <= max with c = ceil(P/k) for some k. */
		e = 1;
		for (int32_t c = max; c >= 1; c--) {
			int ok = 0;
			for (int32_t k = 1; k <= p && !ok; k++)
				ok = busiest(p, k) == c;
			if (ok) {
				e = c;
				break;
			}
		}
	}
	return e < min ? min : e;
}

static void test_even_partitions_table(void **state)
{
	/* KEDA #2581's P = 12 and the P = 10 of KEDA's docs (whose divisors
	 * give 5 for 3, where 4 carries no more per replica: 3,3,2,2 <=
	 * 10/3). */
	static const struct {
		int32_t p, need, want;
	} t[] = {
	    {12, 1, 1}, {12, 2, 2},  {12, 3, 3},   {12, 4, 4},   {12, 5, 6},
	    {12, 6, 6}, {12, 7, 12}, {12, 11, 12}, {12, 12, 12}, {10, 3, 4},
	    {10, 4, 5}, {10, 5, 5},  {10, 6, 10},  {7, 2, 3},    {126, 43, 63},
	};
	struct rig r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rig_init(&r, 1, 200, 1);
		r.partitions = t[i].p;
		r.spec.even_partitions = 1;
		assert_int_equal(poll_at(&r, T0, t[i].need), t[i].want);
		if (t[i].want != t[i].need)
			assert_non_null(strstr(r.d.reason_text, "evened over"));
	}
	/* Off, or with allowIdleConsumers: the level itself. */
	rig_init(&r, 1, 20, 1);
	r.partitions = 12;
	assert_int_equal(poll_at(&r, T0, 5), 5);
	rig_init(&r, 1, 20, 1);
	r.partitions = 12;
	r.spec.even_partitions = 1;
	r.spec.allow_idle_consumers = 1;
	assert_int_equal(poll_at(&r, T0, 5), 5);
	/* KEDA #7517: 126 partitions, 43 needed: 63 (2 each, KEDA's next
	 * divisor too); 50 needed: 63 as well; 30 needed: 32 (4 each at
	 * most), where the divisors jump to 42. */
	rig_init(&r, 1, 200, 1);
	r.partitions = 126;
	r.spec.even_partitions = 1;
	assert_int_equal(poll_at(&r, T0, 30), 32);
}

/* Every P in 1..64, need in 1..P, max in 1..P (and min 0..2), against
 * the definition by search. */
static void test_even_partitions_exhaustive(void **state)
{
	struct rig r;
	long cases = 0;

	(void)state;
	for (int32_t p = 1; p <= 64; p++)
		for (int32_t need = 1; need <= p; need++)
			for (int32_t max = 1; max <= p; max += (p > 16 ? 3 : 1))
				for (int32_t min = 0; min <= 2 && min <= max; min++) {
					rig_init(&r, min, max, 1);
					r.partitions = p;
					r.spec.even_partitions = 1;
					r.cur = 0;
					int32_t lo = min > 0 ? min : 1;
					int32_t r0 = need < lo ? lo : need < max ? need : max;
					int32_t want = even_brute(p, r0, lo, max);
					int32_t got = poll_at(&r, T0, need);
					if (got != want)
						fail_msg("P=%d need=%d min=%d max=%d: %d, want %d",
						         p, need, min, max, got, want);
					assert_true(got <= max);
					/* The busiest replica carries no more than with
					 * the clamped need in equal shares. */
					if (max >= p)
						assert_true((int64_t)r0 * busiest(p, got) <= p);
					cases++;
				}
	assert_true(cases > 20000);
}

/* KEDA #4791: stuck 2 below maxReplicas with partitions = max. Here the
 * last step to max (= P) happens, evened or not, and an even count
 * reaches max when max is itself one. */
static void test_keda_4791_reaches_max(void **state)
{
	struct rig r;

	(void)state;
	for (int even = 0; even <= 1; even++) {
		rig_init(&r, 1, 24, 1000);
		r.partitions = 24;
		r.spec.even_partitions = even;
		r.cur = 22;
		assert_int_equal(poll_at(&r, T0, 23 * 1000), even ? 24 : 23);
		assert_int_equal(poll_next(&r, 24 * 1000), 24);
		assert_int_equal(poll_next(&r, 1000000), 24);
	}
	/* max 10 of 64 partitions, even: 10 (7 partitions at most each,
	 * as with 10), not the divisor 8. */
	rig_init(&r, 1, 10, 1000);
	r.partitions = 64;
	r.spec.even_partitions = 1;
	assert_int_equal(poll_at(&r, T0, 1000000), 10);
	/* max 5 of 12: 4 runs what 5 would (3 each). */
	rig_init(&r, 1, 5, 1000);
	r.partitions = 12;
	r.spec.even_partitions = 1;
	assert_int_equal(poll_at(&r, T0, 1000000), 4);
	/* ... unless minReplicas says 5. */
	rig_init(&r, 5, 5, 1000);
	r.partitions = 12;
	r.spec.even_partitions = 1;
	r.cur = 5;
	assert_int_equal(poll_at(&r, T0, 1000000), 5);
}

/* ---- Rule 6a: scaleUpInterval. */
static void test_scale_up_interval(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, 1000);
	r.partitions = 20;
	r.spec.scale_up_interval_ms = 60 * SEC;
	r.cur = 2;
	assert_int_equal(poll_at(&r, T0, 2000), 2);
	/* The first step up: at once (none before). */
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 4000), 4);
	assert_int_equal(r.st.last_up_ms, T0 + 5 * SEC);
	/* The next one waits. */
	assert_int_equal(poll_at(&r, T0 + 10 * SEC, 8000), 4);
	assert_int_equal(r.d.reason, SCALE_UP_DELAYED);
	assert_non_null(
	    strstr(r.d.reason_text, "needs 8: up held 55s more (scaleUpInterval 60s): keeping 4"));
	assert_int_equal(poll_at(&r, T0 + 64 * SEC, 8000), 4);
	assert_int_equal(poll_at(&r, T0 + 65 * SEC, 8000), 8);
	assert_int_equal(r.d.reason, SCALE_UP);
	/* The delayed recommendations are in the window: no scale-down
	 * after an up that was held. */
	assert_int_equal(poll_at(&r, T0 + 70 * SEC, 1000), 8);
	assert_int_equal(r.d.reason, SCALE_DOWN_STABILIZING);

	/* 0 -> n is never delayed, and starts the interval. */
	rig_init(&r, 0, 20, 1000);
	r.partitions = 20;
	r.spec.scale_up_interval_ms = 60 * SEC;
	assert_int_equal(poll_at(&r, T0, 3000), 3);
	assert_int_equal(r.d.reason, SCALE_ACTIVATE);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 6000), 3);
	assert_int_equal(r.d.reason, SCALE_UP_DELAYED);

	/* Below minReplicas is corrected at once. */
	rig_init(&r, 3, 20, 1000);
	r.spec.scale_up_interval_ms = 60 * SEC;
	r.cur = 3;
	assert_int_equal(poll_at(&r, T0, 5000), 5);
	r.cur = 1;
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 0), 3);
	assert_int_equal(r.d.reason, SCALE_BOUNDS);
	/* A need above min from below it is not held below min either. */
	r.cur = 1;
	assert_int_equal(poll_at(&r, T0 + 10 * SEC, 9000), 9);

	/* 0 (the default): no delay. */
	rig_init(&r, 1, 20, 1000);
	r.cur = 2;
	assert_int_equal(poll_at(&r, T0, 4000), 4);
	assert_int_equal(poll_at(&r, T0 + 5 * SEC, 8000), 8);
}

/* KEDA #5096: a burst whose lag grows every poll scales in many small
 * steps (a rebalance each). With scaleUpInterval at most one step per
 * interval, and the last one still reaches what the lag needs. */
static void test_keda_5096_fewer_steps(void **state)
{
	struct rig r;
	int64_t last_step = 0;
	int steps = 0, steps_plain = 0;

	(void)state;
	for (int interval = 0; interval <= 1; interval++) {
		rig_init(&r, 1, 30, 1000);
		r.partitions = 30;
		r.spec.scale_up_interval_ms = interval ? 60 * SEC : 0;
		r.cur = 1;
		last_step = 0;
		int n = 0;
		for (int i = 0; i < 60; i++) {
			int64_t t = T0 + i * 5 * SEC;
			int32_t before = r.cur;
			/* +2000 a poll for 2 minutes, then flat at 48000. */
			int64_t lag = 2000 * (i < 24 ? i + 1 : 24);
			if (poll_at(&r, t, lag) > before) {
				if (interval && last_step)
					assert_true(t - last_step >= 60 * SEC);
				last_step = t;
				n++;
			}
		}
		assert_int_equal(r.cur, 30); /* 48000: 48, max 30 */
		if (interval)
			steps = n;
		else
			steps_plain = n;
	}
	assert_true(steps <= 4);
	assert_true(steps_plain >= 14);
}

/* A big drop goes in one step once the window allows (HPA window max). */
static void test_scale_down_in_one_step(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 20, 1000);
	r.partitions = 20;
	r.spec.stabilization_window_ms = 60 * SEC;
	r.spec.scale_up_interval_ms = 60 * SEC;
	assert_int_equal(poll_at(&r, T0, 20000), 20);
	for (int64_t t = T0 + 5 * SEC; t <= T0 + 60 * SEC; t += 5 * SEC)
		assert_int_equal(poll_at(&r, t, 0), 20);
	assert_int_equal(poll_at(&r, T0 + 65 * SEC, 0), 1);
	assert_int_equal(r.d.reason, SCALE_DOWN);
	assert_non_null(strstr(r.d.reason_text, "20 -> 1"));
}

/* ---- The pause. */
static void test_pause(void **state)
{
	struct rig r;

	(void)state;
	/* paused-replicas: that count exactly, outside the bounds too. */
	rig_init(&r, 4, 10, 1000);
	r.cur = 5;
	r.paused = 3;
	assert_int_equal(poll_at(&r, T0, 50000), 3);
	assert_int_equal(r.d.reason, SCALE_PAUSED);
	assert_true(strncmp(r.d.reason_text,
	                    "paused by annotation sluice.dev/paused-replicas: 3 replicas (5 -> 3)",
	                    68) == 0);
	assert_int_equal(r.d.lag, 50000);
	assert_int_equal(poll_next(&r, 50000), 3);
	assert_string_equal(
	    r.d.reason_text,
	    "paused by annotation sluice.dev/paused-replicas: 3 replicas; lag 50000 "
	    "(threshold 1000/replica, 100 partitions)");
	r.paused = 0;
	assert_int_equal(poll_next(&r, 50000), 0);
	r.paused = 50;
	assert_int_equal(poll_next(&r, 0), 50);

	/* paused: whatever runs now. */
	rig_init(&r, 1, 10, 1000);
	r.cur = 2;
	r.paused = SCALE_PAUSED_KEEP;
	assert_int_equal(poll_at(&r, T0, 9000), 2);
	assert_int_equal(r.d.reason, SCALE_PAUSED);
	assert_true(strncmp(r.d.reason_text,
	                    "paused by annotation sluice.dev/paused: keeping 2 replicas", 58) == 0);
	r.cur = 7; /* scaled by hand meanwhile */
	assert_int_equal(poll_next(&r, 9000), 7);

	/* Read failures while paused: the pause holds (no fallback), the
	 * failures are counted, and fall back once unpaused. */
	rig_init(&r, 1, 10, 1000);
	r.spec.fallback_replicas = 6;
	r.spec.failure_threshold = 1;
	r.cur = 2;
	r.paused = 4;
	assert_int_equal(poll_at(&r, T0, 1000), 4);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(poll_fail(&r, "kafka: broker down"), 4);
		assert_int_equal(r.d.reason, SCALE_PAUSED);
		assert_int_equal(r.st.failures, i);
	}
	assert_non_null(strstr(r.d.reason_text, "lag unreadable (3 in a row): kafka: broker down"));
	r.paused = SCALE_PAUSED_KEEP;
	assert_int_equal(poll_fail(&r, "x"), 4);
	r.paused = SCALE_NOT_PAUSED;
	assert_int_equal(poll_fail(&r, "x"), 6);
	assert_int_equal(r.d.reason, SCALE_FALLBACK);
	r.paused = 4;
	assert_int_equal(poll_next(&r, 1000), 4); /* a good read, paused */
	assert_int_equal(r.st.failures, 0);
}

/* While paused the reads still feed the history (rates stay known), but
 * record no recommendation; the first read after the pause starts afresh
 * as a restarted operator would: up at once, down only after a window,
 * zero only after a cooldown. */
static void test_pause_then_resume(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	r.spec.stabilization_window_ms = 60 * SEC;
	r.spec.cooldown_period_ms = 120 * SEC;
	r.cur = 2;
	r.paused = 8;
	for (int i = 0; i < 30; i++) {
		r.consumed = i * 1000;
		assert_int_equal(poll_at(&r, T0 + i * 5 * SEC, 0), 8);
	}
	assert_true(r.d.rates_known);
	assert_true(r.d.consume_rate > 199.9 && r.d.consume_rate < 200.1);
	for (int i = 0; i < r.st.count; i++) {
		struct scale_sample x;
		assert_int_equal(scale_state_sample(&r.st, i, &x), 0);
		assert_int_equal(x.rec, 0);
	}
	/* Unpaused at 8 with no lag: the cooldown and the window start now. */
	r.paused = SCALE_NOT_PAUSED;
	int64_t t0 = T0 + 150 * SEC;
	assert_int_equal(poll_at(&r, t0, 0), 8);
	assert_int_equal(r.d.reason, SCALE_COOLDOWN);
	assert_int_equal(poll_at(&r, t0 + 60 * SEC, 0), 8);
	assert_int_equal(poll_at(&r, t0 + 65 * SEC, 0), 1);
	assert_int_equal(poll_at(&r, t0 + 119 * SEC, 0), 1);
	assert_int_equal(poll_at(&r, t0 + 120 * SEC, 0), 0);

	/* Unpaused with lag: up at once. */
	rig_init(&r, 1, 10, 1000);
	r.cur = 1;
	r.paused = 1;
	assert_int_equal(poll_at(&r, T0, 7000), 1);
	r.paused = SCALE_NOT_PAUSED;
	assert_int_equal(poll_next(&r, 7000), 7);
	assert_int_equal(r.d.reason, SCALE_UP);
}

/* ---- Everything at once: a pseudo-random run with every rule on. The
 * pause is obeyed exactly; otherwise the bounds hold, ups are spaced by
 * the interval (but from 0 or below min), and the line is one line. */
static void test_all_rules_together(void **state)
{
	static int64_t plag[12], still[12];
	struct rig r;
	uint64_t x = 88172645463325252ULL;
	int64_t last_up = 0;
	int seen[SCALE_DOWN_DRAIN + 1] = {0}, persistent = 0, evened = 0;

	(void)state;
	rig_init(&r, 0, 9, 500);
	r.partitions = 12;
	r.plag = plag;
	r.still = still;
	r.ready = RIG_READY_CUR;
	r.spec.trend_window_ms = 30 * SEC;
	r.spec.stabilization_window_ms = 60 * SEC;
	r.spec.cooldown_period_ms = 90 * SEC;
	r.spec.exclude_persistent_lag = 1;
	r.spec.limit_to_partitions_with_lag = 1;
	r.spec.target_drain_ms = 20 * SEC;
	r.spec.even_partitions = 1;
	r.spec.scale_up_interval_ms = 30 * SEC;
	r.spec.fallback_replicas = 2;
	r.spec.failure_threshold = 1;
	for (int i = 0; i < 5000; i++) {
		int64_t t = T0 + i * 5 * SEC, total = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (int p = 0; p < 12; p++) {
			plag[p] = (int64_t)((x >> (p * 5)) % 7) * ((i / 50) % 4) * 300;
			still[p] = (int64_t)((x >> (p * 3)) % 4) * 15 * SEC;
			total += plag[p];
		}
		/* Every fifth stretch of 300 polls paused, at 3 or at cur. */
		r.paused = (i / 300) % 5 != 4 ? SCALE_NOT_PAUSED : x % 2 ? 3 : SCALE_PAUSED_KEEP;
		r.consumed += (int64_t)(x % 5000);
		int32_t before = r.cur;
		int32_t n;
		if (x % 17 == 0)
			n = poll_fail(&r, "flaky");
		else
			n = poll_at(&r, t, total);
		assert_true(strlen(r.d.reason_text) < SCALE_REASON_MAX);
		assert_null(strchr(r.d.reason_text, '\n'));
		seen[r.d.reason]++;
		persistent += r.d.persistent_lag > 0;
		evened += strstr(r.d.reason_text, "evened over") != NULL;
		if (r.paused >= 0) {
			assert_int_equal(n, r.paused);
			continue;
		}
		if (r.paused == SCALE_PAUSED_KEEP) {
			assert_int_equal(n, before);
			continue;
		}
		assert_true(n >= r.spec.min_replicas && n <= r.spec.max_replicas);
		if (n > before && before >= 1 && r.d.reason != SCALE_FALLBACK) {
			if (last_up)
				assert_true(r.now - last_up >= 30 * SEC);
			last_up = r.now;
		} else if (n > before) {
			last_up = r.now;
		}
	}
	/* The run went through every rule. */
	static const enum scale_reason want[] = {
	    SCALE_STEADY,   SCALE_UP_DRAIN,   SCALE_DOWN_DRAIN, SCALE_DOWN_STABILIZING,
	    SCALE_ACTIVATE, SCALE_COOLDOWN,   SCALE_TO_ZERO,    SCALE_IDLE,
	    SCALE_PAUSED,   SCALE_UP_DELAYED, SCALE_READ_ERROR, SCALE_FALLBACK,
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (seen[want[i]] == 0)
			fail_msg("never %s", scale_reason_name(want[i]));
	assert_true(persistent > 0);
	assert_true(evened > 0);
}

/* Issue 19: an idle resource's history holds no ring; activity gets one
 * sized from the windows; a whole window alike again frees it. */
static void test_quiet_history_holds_no_ring(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 10, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(poll_next(&r, 0), 0);
		assert_null(r.st.ring);
		assert_int_equal(scale_state_heap_bytes(&r.st), 0);
	}
	assert_int_equal(r.d.reason, SCALE_IDLE);
	assert_true(r.d.rates_known); /* the run is a history all the same */
	assert_int_equal(r.st.count, scale_history_cap(&r.spec));
	assert_true(sizeof(r.st) < 256);

	/* Activity: a ring sized from the windows, not SCALE_HISTORY_MAX. */
	assert_int_equal(poll_next(&r, 5000), 5);
	assert_non_null(r.st.ring);
	assert_int_equal(r.st.cap, scale_history_cap(&r.spec));
	/* 300 s over its merge gap (300 s / 64) + 4, not SCALE_HISTORY_MAX */
	assert_int_equal(r.st.cap, 64 + 4);
	for (int i = 0; i < 10; i++) {
		r.consumed += 500;
		poll_next(&r, 4000 - 400 * i);
	}
	assert_non_null(r.st.ring);
	/* Idle again: the ring stays while the window remembers the lag... */
	int64_t idle_from = r.now;
	while (r.st.ring != NULL) {
		poll_next(&r, 0);
		assert_true(r.now - idle_from <= 300 * SEC + 5 * SEC);
	}
	/* ... and goes once a whole window is alike. */
	assert_true(r.now - idle_from >= 300 * SEC);
	assert_int_equal(r.cur, 0); /* cooled down to zero meanwhile */
	for (int i = 0; i < 50; i++) {
		poll_next(&r, 0);
		assert_null(r.st.ring);
	}
}

/* A burst after a quiet run is read over the run: the median growth of a
 * minute of flat samples and one step is 0, so no trend (a run dropped
 * instead would see one step, +600/s, and ask for twice as many). */
static void test_burst_after_quiet_run_is_no_trend(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 0, 20, 1000);
	r.spec.trend_window_ms = 60 * SEC;
	for (int i = 0; i < 30; i++)
		poll_next(&r, 0);
	assert_null(r.st.ring);
	assert_int_equal(poll_next(&r, 3000), 3);
	assert_int_equal(r.d.reason, SCALE_ACTIVATE);
	assert_true(r.d.rates_known);
	assert_true(r.d.lag_rate == 0);
	assert_int_equal(r.d.rate_span_ms, 60 * SEC);
	assert_non_null(r.st.ring);
	struct scale_sample x;
	assert_int_equal(scale_state_sample(&r.st, 12, &x), 0);
	assert_int_equal(x.t_ms, r.now - 60 * SEC);
	assert_int_equal(x.lag, 0);
}

/* Only evenly spaced runs are kept without a ring (they are then exactly
 * the ring's samples): an irregular poll keeps the ring for a window. */
static void test_uneven_polls_keep_the_ring(void **state)
{
	struct rig r;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	r.spec.stabilization_window_ms = 60 * SEC;
	poll_next(&r, 0);
	assert_null(r.st.ring);
	poll_at(&r, r.now + 7 * SEC, 0);
	assert_null(r.st.ring); /* two samples: the run's step is 7 s */
	poll_at(&r, r.now + 5 * SEC, 0);
	assert_non_null(r.st.ring); /* 5 s: not the run's step */
	int64_t t = r.now;
	while (r.st.ring != NULL && r.now - t < 200 * SEC)
		poll_next(&r, 0);
	assert_null(r.st.ring);
	/* once the first, uneven step has left the 60 s window */
	assert_true(r.now - (t - 12 * SEC) > 60 * SEC);
}

/* A longer window while busy grows the ring, keeping its samples. */
static void test_ring_grows_with_the_window(void **state)
{
	struct rig r;
	struct scale_sample x;

	(void)state;
	rig_init(&r, 1, 10, 1000);
	r.spec.stabilization_window_ms = 60 * SEC;
	for (int i = 0; i < 20; i++) {
		r.consumed += 100;
		poll_next(&r, 100 * i);
	}
	int32_t cap = r.st.cap;
	assert_int_equal(cap, scale_history_cap(&r.spec));
	r.spec.stabilization_window_ms = 600 * SEC;
	r.consumed += 100;
	poll_next(&r, 5000);
	assert_true(r.st.cap > cap);
	assert_int_equal(r.st.cap, scale_history_cap(&r.spec));
	/* The longer window's merge gap (600 s / 64) merged the read. */
	assert_int_equal(scale_state_sample(&r.st, 0, &x), 0);
	assert_int_equal(x.lag, 5000);
	assert_int_equal(scale_state_sample(&r.st, 1, &x), 0);
	assert_int_equal(x.lag, 1800);
	assert_int_equal(r.st.count, 20);
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
	    cmocka_unit_test(test_validation_new_fields),
	    cmocka_unit_test(test_track_partitions),
	    cmocka_unit_test(test_persistent_lag_excluded),
	    cmocka_unit_test(test_keda_5675_transaction_markers),
	    cmocka_unit_test(test_keda_5906_no_committed_offset),
	    cmocka_unit_test(test_persistent_rule_still_activates),
	    cmocka_unit_test(test_rate_per_replica_measured),
	    cmocka_unit_test(test_rate_unbacklogged_only_raises),
	    cmocka_unit_test(test_rate_from_work_under_partial_load),
	    cmocka_unit_test(test_rate_from_work_member_restart),
	    cmocka_unit_test(test_drain_rule_with_work_rate),
	    cmocka_unit_test(test_drain_rule_formula),
	    cmocka_unit_test(test_drain_rule_cold_start),
	    cmocka_unit_test(test_drain_rule_scales_down_after_window),
	    cmocka_unit_test(test_drain_rule_model_group),
	    cmocka_unit_test(test_even_partitions_table),
	    cmocka_unit_test(test_even_partitions_exhaustive),
	    cmocka_unit_test(test_keda_4791_reaches_max),
	    cmocka_unit_test(test_scale_up_interval),
	    cmocka_unit_test(test_keda_5096_fewer_steps),
	    cmocka_unit_test(test_scale_down_in_one_step),
	    cmocka_unit_test(test_pause),
	    cmocka_unit_test(test_pause_then_resume),
	    cmocka_unit_test(test_all_rules_together),
	    cmocka_unit_test(test_quiet_history_holds_no_ring),
	    cmocka_unit_test(test_burst_after_quiet_run_is_no_trend),
	    cmocka_unit_test(test_uneven_polls_keep_the_ring),
	    cmocka_unit_test(test_ring_grows_with_the_window),
	};

	return cmocka_run_group_tests(tests, NULL, rigs_free_all);
}
