/*
 * scale.h - the lag -> replicas decision: a pure function (no clock, no I/O,
 * no allocation) that the reconcilers call once per polling interval with
 * what operator/lag.h measured. It matches KEDA's Kafka scaler with the
 * HPA's default behaviour, then adds a trend rule. docs/autoscaling.md has
 * a worked example; the rules, in the order scale_decide() applies them:
 *
 *   L = total lag, T = lagThreshold, P = partitions, cur = current replicas,
 *   A = activationLagThreshold, min/max = min/maxReplicas, now in ms.
 *
 *   0. Read failure (obs->ok == 0): failures += 1. More than
 *      failureThreshold consecutive failures (KEDA's ">") with
 *      fallbackReplicas >= 0: desired = clamp(fallbackReplicas, min, max).
 *      Otherwise desired = cur (the HPA skips scaling when a metric errors;
 *      never to zero on a blind poll, KEDA #4098/#6520). Nothing is added
 *      to the history. A good read sets failures = 0.
 *   1. Level: base = ceil(L / T) (0 when L <= 0). Unless allowIdleConsumers,
 *      base = min(base, P) (limitToPartitionsWithLag: min(base, partitions
 *      whose lag > 0)). The cap is applied to the replica count itself, not
 *      to a metric later divided by the HPA with a 10 % tolerance, so P is
 *      reached exactly (KEDA #2908: stuck at 63 of 64).
 *   2. Trend (trendWindow > 0 and rates known, see below): with g the lag's
 *      growth rate (messages/s, produced minus consumed) measured over the
 *      last S seconds (S <= H = trendWindow):
 *        growing (g > 0):  base = max(base, capped ceil((L + g*min(H,S)) / T)),
 *                          the level the lag will reach as far ahead as
 *                          the rate was measured back (a one-off step
 *                          seen over two polls is not a minute's trend);
 *        draining (g < 0): a step up (rec > cur >= 1) is held at cur when
 *                          L / -g <= H, the lag is gone within a window
 *                          at the current pace, more replicas would only
 *                          rebalance the group for nothing.
 *   3. rec = clamp(base, max(min, 1), max): the recommendation while active.
 *   4. Activity: active = L > A (strictly, as KEDA). Active sets
 *      lastActive = now. The first good read also sets lastActive = now, so
 *      an operator restart waits a full cooldown before going to zero.
 *   5. Zero: when min == 0 and not active:
 *        cur == 0:                              desired = 0 (stays idle);
 *        now - lastActive >= cooldownPeriod:    desired = 0 (KEDA's cooldown,
 *                                               straight to zero, no window);
 *        otherwise: fall through to 6 (at least one replica).
 *      When min == 0, active and cur == 0: desired = rec (0 -> n at once).
 *   6. Up/down: rec > cur: desired = rec at once (HPA scale-up window 0).
 *      rec < cur: desired = min(cur, the highest rec recorded in the last
 *      stabilizationWindow, this one included), the HPA's scale-down rule.
 *      A fresh state records max(rec, cur) for its first read, as the HPA
 *      seeds a new autoscaler with the current count: an operator restart
 *      does not scale down before a window has passed.
 *      cur outside [max(min,1), max] is corrected at once.
 *
 * Rates: each good read adds a sample (time, lag, consumed) to the history;
 * consumed is a counter of the group's progress (operator/lag.h: the sum of
 * positions). Over the samples within trendWindow: the consume rate c is
 * the average d(consumed)/dt from the oldest to the newest; the growth rate
 * g is the median of d(lag)/dt between consecutive samples, so a single
 * burst among steady polls is not taken for a trend (nor, once draining
 * starts, does the burst hide it). They are known when the oldest and the
 * newest sample are at least one polling interval apart. A drop in consumed (offsets reset,
 * partitions changed) clears the history's rates: they restart from that sample. lagSeconds =
 * ceil(L / c) when c > 0; 0 when L == 0; -1 (unknown) else.
 *
 * State: struct scale_state belongs to the caller, one per resource, zeroed
 * before the first call (a plain value, ~2.9 KiB; no pointers inside, so it
 * may be copied or reset by memset). Samples closer together than
 * max(pollingInterval/2, window/(SCALE_HISTORY_MAX-8)) are merged (their
 * highest recommendation kept), so the ring always spans the longest
 * window whatever the call rate, and a window ends within one such gap
 * (window/64) of its length.
 *
 * SCALE_HISTORY_MAX: 72 holds the default 300 s window at the default 5 s
 * polls (60 samples) unmerged, with room; it is the largest part of the
 * operator's memory per resource (128 took 5 KiB each).
 */
#ifndef SLUICE_SCALE_H
#define SLUICE_SCALE_H

#include <stddef.h>
#include <stdint.h>

#define SCALE_HISTORY_MAX 72
#define SCALE_REASON_MAX 256

/* Defaults (ms where a time). */
#define SCALE_DEFAULT_POLLING_MS 5000
#define SCALE_DEFAULT_STABILIZATION_MS 300000
#define SCALE_DEFAULT_COOLDOWN_MS 300000
#define SCALE_DEFAULT_TREND_MS 60000
#define SCALE_DEFAULT_FAILURE_THRESHOLD 3

struct scale_spec {
	int32_t min_replicas;             /* >= 0 */
	int32_t max_replicas;             /* >= 1, >= min_replicas */
	int64_t lag_threshold;            /* > 0: messages of lag per replica */
	int64_t activation_lag_threshold; /* >= 0: 0 <-> 1 only above it */
	int allow_idle_consumers;         /* 1: no cap at the partition count */
	int limit_to_partitions_with_lag; /* 1: cap at partitions with lag > 0 */
	int64_t polling_interval_ms;      /* > 0, default 5 s */
	int64_t stabilization_window_ms;  /* >= 0, default 300 s (HPA scale-down) */
	int64_t cooldown_period_ms;       /* >= 0, default 300 s (KEDA) */
	int64_t trend_window_ms;          /* >= 0, default 60 s; 0: no trend rule */
	int32_t fallback_replicas;        /* -1: none (keep current) */
	int32_t failure_threshold;        /* >= 0, default 3 */
};

/* What one poll measured (operator/lag.h fills the same numbers). */
struct scale_obs {
	int ok;                       /* 0: the lag could not be read */
	int64_t total_lag;            /* sum of per-partition lag, >= 0 */
	const int64_t *partition_lag; /* partitions entries, or NULL */
	int32_t partitions;           /* the topic's partition count */
	int64_t consumed;             /* progress counter (sum of positions) */
	int32_t current_replicas;     /* the Deployment's spec.replicas now */
	int64_t now_ms;               /* wall clock, ms since the epoch */
};

struct scale_sample {
	int64_t t_first_ms, t_ms; /* first and last read merged into it */
	int64_t lag, consumed;
	int32_t rec; /* highest recommendation (rule 3) seen in it */
};

struct scale_state {
	struct scale_sample ring[SCALE_HISTORY_MAX];
	int head, count;        /* ring[head] is the newest */
	int32_t partitions;     /* at the last good read */
	int32_t failures;       /* consecutive read failures */
	int64_t last_active_ms; /* 0: no good read yet */
	int64_t rate_from_ms;   /* samples before this are not used for rates */
};

enum scale_reason {
	SCALE_STEADY = 0,       /* desired == cur, nothing to do */
	SCALE_UP,               /* level above cur: up at once */
	SCALE_UP_TREND,         /* up, and the growth rule asked for more */
	SCALE_HOLD_DRAINING,    /* an up held: the lag drains within a window */
	SCALE_DOWN,             /* down to the window's highest recommendation */
	SCALE_DOWN_STABILIZING, /* wanted lower; the window keeps cur */
	SCALE_ACTIVATE,         /* 0 -> n: lag above activation */
	SCALE_IDLE,             /* stays at 0: lag at or below activation */
	SCALE_COOLDOWN,         /* inactive, waiting for the cooldown */
	SCALE_TO_ZERO,          /* cooldown passed: 0 */
	SCALE_BOUNDS,           /* cur outside [min, max]: corrected */
	SCALE_READ_ERROR,       /* lag unreadable: kept cur */
	SCALE_FALLBACK,         /* lag unreadable too long: fallback replicas */
};

struct scale_decision {
	int32_t desired;
	enum scale_reason reason;
	int64_t lag;                        /* L, -1 when unread */
	int64_t lag_seconds;                /* time to drain at the consume rate; -1 unknown */
	int rates_known;                    /* consume_rate and lag_rate valid */
	double consume_rate;                /* messages/s */
	double lag_rate;                    /* messages/s, > 0 growing */
	int64_t rate_span_ms;               /* the time the rates were measured over */
	int active;                         /* L > activation threshold */
	char reason_text[SCALE_REASON_MAX]; /* one line for status and Events */
};

/* Fills *spec with the defaults: min 0, max 10, lagThreshold 1000,
 * activation 0, no idle consumers, the SCALE_DEFAULT_* times, no fallback. */
void scale_spec_defaults(struct scale_spec *spec);

/* 0 if spec is usable, else -1 with "<field>: <why>" in errbuf, e.g.
 * "lagThreshold: must be > 0". */
int scale_spec_validate(const struct scale_spec *spec, char *errbuf, size_t errbuf_size);

/*
 * The decision for one poll. spec must have passed scale_spec_validate;
 * state is the caller's (zeroed before the first call) and is updated;
 * error_text (why the read failed, for the reason line) may be NULL. Fills *out, returns
 * out->desired. Pure: the same (spec, state, obs) always gives the same result.
 */
int32_t scale_decide(const struct scale_spec *spec, struct scale_state *state,
                     const struct scale_obs *obs, const char *error_text,
                     struct scale_decision *out);

/* A short stable name per reason ("up", "hold-draining", ...), for metric
 * labels and Event reasons. Static string. */
const char *scale_reason_name(enum scale_reason reason);

#endif /* SLUICE_SCALE_H */
