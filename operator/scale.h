/*
 * scale.h - the lag -> replicas decision: a pure function (no clock, no I/O,
 * no allocation) that the reconcilers call once per polling interval with
 * what operator/lag.h measured. It matches KEDA's Kafka scaler with the
 * HPA's default behaviour, then adds a trend rule and the rules of issue
 * 18 (persistent lag, pause, drain time, even partitions, up interval).
 * docs/autoscaling.md has a worked example; the rules, in the order
 * scale_decide() applies them:
 *
 *   L = total lag (less rule 1a's part), T = lagThreshold, P = partitions,
 *   cur = current replicas, A = activationLagThreshold, min/max =
 *   min/maxReplicas, now in ms.
 *
 *   0. Read failure (obs->ok == 0): failures += 1. Paused (0b): the pause's
 *      count, failures still counted. More than failureThreshold
 *      consecutive failures (KEDA's ">") with fallbackReplicas >= 0:
 *      desired = clamp(fallbackReplicas, min, max). Otherwise desired =
 *      cur (the HPA skips scaling when a metric errors; never to zero on a
 *      blind poll, KEDA #4098/#6520). Nothing is added to the history. A
 *      good read sets failures = 0.
 *  0b. Pause (obs->paused, operator/scale_pause.h): desired =
 *      that count exactly (not held to min/max, as KEDA's paused-replicas)
 *      or cur (SCALE_PAUSED_KEEP). The read still enters the history (with
 *      rule 1a's lag; the rates and the rate per replica stay measured)
 *      with no recommendation, so a pause holds nothing once lifted. The
 *      first read after a pause starts afresh as a restarted operator
 *      does (the window seeded with cur, lastActive = now): up at once,
 *      down after a window, to zero after a cooldown.
 *  1a. Persistent lag (excludePersistentLag, with obs->partition_lag and
 *      obs->partition_still_ms): a partition with lag > 0 whose position
 *      has stood still >= persistentLagAfter counts 0 below: for L, for
 *      limitToPartitionsWithLag, for the history's lag (rates) and for
 *      activity (KEDA #5675: transaction markers; #5906: no valid
 *      offset, which operator/lag.c reads as position = earliest). The
 *      decision's lag is still all of it; persistent_lag says how much
 *      was left out. scale_track_partitions() restarts a partition's
 *      clock when its lag grows, so new messages at zero replicas count.
 *   4. Activity: active = L > A (strictly, as KEDA). Active sets
 *      lastActive = now. The first good read also sets lastActive = now, so
 *      an operator restart waits a full cooldown before going to zero.
 *  1b. Drain (targetDrainSeconds > 0, a rate per replica R measured, rates
 *      known): base = ceil((I + L / D) / (R * U)), I the input rate, D the
 *      target in seconds, U = targetUtilization / 100, then rule 1's cap.
 *      It replaces rules 1 and 2 (I already holds the growth). Without R
 *      yet (cold start): rules 1 and 2 as if it were unset.
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
 *                          rebalance the group for nothing (after 3a).
 *   3. rec = clamp(base, max(min, 1), max): the recommendation while active.
 *  3a. Even (evenPartitions, P > 0, not allowIdleConsumers): the busiest
 *      replica holds ceil(P/r) partitions and sets the pace, so rec goes
 *      up to the least r' >= rec with ceil(P/r') <= floor(P/rec), i.e.
 *      r' = ceil(P / floor(P/rec)) (P=12: 5 -> 6, 7 -> 12; P=10: 3 -> 4).
 *      Above min(max, the cap): ceil(P / ceil(P/limit)), the largest count
 *      there with the same busiest replica; never below min.
 *   5. Zero: when min == 0 and not active:
 *        cur == 0:                              desired = 0 (stays idle);
 *        now - lastActive >= cooldownPeriod:    desired = 0 (KEDA's cooldown,
 *                                               straight to zero, no window);
 *        otherwise: fall through to 6 (at least one replica).
 *      When min == 0, active and cur == 0: desired = rec (0 -> n at once).
 *   6. Up/down: rec > cur: desired = rec at once (HPA scale-up window 0).
 *      rec < cur: desired = min(cur, the highest rec recorded in the last
 *      stabilizationWindow, this one included), the HPA's scale-down rule:
 *      a big drop goes in one step once the window allows.
 *      A fresh state records max(rec, cur) for its first read, as the HPA
 *      seeds a new autoscaler with the current count: an operator restart
 *      does not scale down before a window has passed.
 *      cur outside [max(min,1), max] is corrected at once.
 *  6a. scaleUpInterval > 0: a step up from cur >= max(min, 1) within the
 *      interval after the last decided step up is held at cur
 *      (SCALE_UP_DELAYED; its rec is recorded, so no scale-down follows
 *      it). Every decided step up sets last_up_ms, 0 -> n included (the
 *      group just formed; the next change is a rebalance); 0 -> n and a
 *      count below min are never held.
 *
 * Rates: each good read adds a sample (time, lag, consumed, ready) to the
 * history; consumed is a counter of the group's progress (operator/lag.h:
 * the sum of positions). Over the samples within trendWindow (12 polling
 * intervals when it is 0): the consume rate c is the average
 * d(consumed)/dt from the oldest to the newest; the input rate I = c +
 * (lag_newest - lag_oldest)/dt (>= 0); the growth rate g is the median of
 * d(lag)/dt between consecutive samples, so a single burst among steady
 * polls is not taken for a trend (nor, once draining starts, does the
 * burst hide it). They are known when the oldest and the newest sample
 * are at least one polling interval apart. A drop in consumed (offsets
 * reset, partitions changed) clears the history's rates: they restart
 * from that sample (the rate per replica is kept: the workers' speed did
 * not change).
 *
 * Rate per replica R (state->rate_per_replica). Where the workers report
 * their own work (obs->work_known: a TelemetryWindow's workers write, per
 * process, the messages they processed and the milliseconds they were
 * busy, lib/contract/tw_progress.h), R comes from that alone (see
 * measure_work() in scale.c): between two good reads with work (the
 * first read against zero: the counters start with their processes),
 * Δevents / Δbusy is what one replica does per second of work, whatever the load,
 * no backlog needed (a replica busy half the time still shows its full
 * speed). An interval with less than SCALE_WORK_MIN_BUSY_MS of busy time
 * is not taken yet (the base is kept, so busy time adds up over polls);
 * one where either sum went down (a member stopped and its fields went,
 * or restarted) is skipped and the reads start again from it. Each
 * measurement is averaged 50/50 with the value before. This is preferred
 * to the group's offsets because a worker that commits only what its
 * sinks acknowledged after windows close (the telemetry worker,
 * docs/telemetry-worker.md) has committed offsets that trail processing
 * by a window and advance at the input rate, never at its speed: the
 * offsets measured 17.6 events/s per replica where a worker processes
 * tens of thousands. Once a resource has reported work, a read without
 * it (the status Redis unreadable for a poll) measures nothing.
 *
 * Otherwise (see measure_rate() in scale.c), from the group's offsets:
 * over the newest run of samples with the same ready count > 0,
 * Δconsumed / Δt / min(ready, P). Where the group was backlogged all along
 * (each sample's lag > 0 and at least the work done until the next one)
 * it is a measurement: taken as it is over >= 2 polling intervals,
 * averaged 50/50 with the old value over one. Elsewhere it is a lower
 * bound and only raises R. lagSeconds = ceil(L / (R * min(ready, P)))
 * when R and ready are known, else ceil(L / c) when c > 0; 0 when L == 0;
 * -1 (unknown) else.
 *
 * State: struct scale_state belongs to the caller, one per resource, zeroed
 * before the first call and released with scale_state_free. Samples closer
 * together than max(pollingInterval/2, window/(SCALE_HISTORY_MAX-8)) are
 * merged (their highest recommendation kept), so the history always spans
 * the longest window whatever the call rate, and a window ends within one
 * such gap (window/64) of its length.
 *
 * The history costs memory only while it has something to remember
 * (issue 19: thousands of mostly idle resources). A resource whose samples
 * within the longest window W = max(stabilizationWindow, the rate window)
 * are all alike (lag, consumed, ready and recommendation the same: an
 * idle resource at its floor, nothing arriving) is "quiet": its state holds
 * the newest sample and the spacing of the run before it, no ring; the
 * older samples of the run are reconstructed evenly spaced when read. The
 * first read that differs gives the state a ring of
 * scale_history_cap(spec) samples (W / merge gap + 4, at most
 * SCALE_HISTORY_MAX), filled with the run, and the read is decided over
 * it; once a whole window has passed alike again, the ring is freed. So a
 * resource idle from its start never allocates. The decisions are those of
 * a full ring, but for the run's sample times, taken as evenly spaced
 * (exact for regular polls; otherwise within one poll's jitter).
 * scale_decide may therefore allocate (the ring); when it cannot, the
 * history restarts from the read (as after an operator restart, without
 * the seeding), and nothing else changes.
 *
 * SCALE_HISTORY_MAX: 72 holds the default 300 s window at the default 5 s
 * polls (60 samples) unmerged, with room (a ring of it: 2.9 KiB).
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
#define SCALE_DEFAULT_PERSISTENT_MS 30000
#define SCALE_DEFAULT_UTILIZATION_PCT 80
/* The least busy time (ms, summed over the workers) one work-based rate
 * measurement spans, so that the counter's 1 ms steps stay under 5 %. A
 * telemetry worker is fast (6200 events in 3 busy ms on the e2e stack),
 * so a larger bound would take minutes of light load to reach. */
#define SCALE_WORK_MIN_BUSY_MS 20

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
	/* Rule 1a: a partition whose position has not moved for
	 * persistent_after_ms while it had lag counts 0, for the level and for
	 * activity alike (KEDA #5675, #5906: transaction markers, partitions
	 * without a valid offset); needs obs->partition_still_ms. */
	int exclude_persistent_lag;
	int64_t persistent_after_ms; /* > 0, default 30 s */
	/* Rule 1b: > 0 sizes the group to drain the backlog within this time
	 * at the measured rate per replica (see "Rate per replica"); 0: off. */
	int64_t target_drain_ms;
	int32_t target_utilization_pct; /* 1..100, default 80: of the measured rate */
	/* Rule 3a: 1 rounds the recommendation up to a count the partitions
	 * spread over evenly enough (see rule 3a above). */
	int even_partitions;
	/* Rule 6a: the least time between two scale-ups (0 -> n is never
	 * held); 0: none. */
	int64_t scale_up_interval_ms;
};

/* The pause annotations' values (scale_pause_from_annotations returns one;
 * obs->paused_replicas holds one while obs->paused): not paused; paused at
 * whatever runs now (sluice.dev/paused: "true"); >= 0: paused at that
 * count (sluice.dev/paused-replicas). */
#define SCALE_NOT_PAUSED (-1)
#define SCALE_PAUSED_KEEP (-2)

/* What one poll measured (operator/lag.h fills the same numbers). */
struct scale_obs {
	int ok;                       /* 0: the lag could not be read */
	int64_t total_lag;            /* sum of per-partition lag, >= 0 */
	const int64_t *partition_lag; /* partitions entries, or NULL */
	int32_t partitions;           /* the topic's partition count */
	int64_t consumed;             /* progress counter (sum of positions) */
	int32_t current_replicas;     /* the Deployment's spec.replicas now */
	int64_t now_ms;               /* wall clock, ms since the epoch */
	int32_t ready_replicas;       /* the Deployment's status.readyReplicas; -1 unknown */
	/* partitions entries or NULL: how long each partition's position has
	 * not moved while it had lag (scale_track_partitions), for rule 1a. */
	const int64_t *partition_still_ms;
	/* 1: the scaler is paused at paused_replicas (>= 0, or SCALE_PAUSED_KEEP);
	 * a zeroed obs is not paused. */
	int paused;
	int32_t paused_replicas;
	/* The workers' own account of their work (see "Rate per replica"):
	 * work_known 1 when read; then the sums over the members of the
	 * messages processed and the milliseconds busy, each cumulative since
	 * its process started. */
	int work_known;
	int64_t work_events, work_busy_ms;
};

/* What the caller keeps per partition between polls for rule 1a. */
struct scale_partition_track {
	int64_t position; /* at the last poll */
	int64_t since_ms; /* when it last moved, had no lag, or its lag grew */
	int64_t lag;      /* at the last poll */
};

/*
 * Pure: updates track (n entries, the caller's, zeroed or from the last
 * poll with the same n; a caller whose partition count changed passes a
 * zeroed array) with this poll's positions and lags, and sets still_ms[i]
 * to how long partition i's position has stood still while its lag was
 * > 0 (0 when it moved, has no lag, is seen for the first time, or its lag
 * grew: new messages that no consumer has tried yet, as at zero replicas,
 * are not a message the consumers are stuck on).
 */
void scale_track_partitions(struct scale_partition_track *track, int32_t n, const int64_t *position,
                            const int64_t *lag, int64_t now_ms, int fresh, int64_t *still_ms);

struct scale_sample {
	int64_t t_first_ms, t_ms; /* first and last read merged into it */
	int64_t lag, consumed;
	int32_t rec;   /* highest recommendation (rule 3) seen in it */
	int32_t ready; /* ready replicas at its last read; -1 unknown */
};

struct scale_state {
	/* The history (see "State"): ring, cap samples on the heap, ring[head]
	 * the newest, while the resource is busy; NULL while it is quiet, the
	 * newest sample then in quiet and the count - 1 before it alike,
	 * quiet_step_ms apart, each spanning quiet_span_ms. */
	struct scale_sample *ring;
	int32_t cap, head, count;
	int32_t quiet_lost; /* internal: a read in a quiet state differed */
	struct scale_sample quiet;
	int64_t quiet_step_ms, quiet_span_ms;
	int32_t partitions;       /* at the last good read */
	int32_t failures;         /* consecutive read failures */
	int64_t last_active_ms;   /* 0: no good read yet */
	int64_t rate_from_ms;     /* samples before this are not used for rates */
	double rate_per_replica;  /* smoothed measured messages/s per busy replica; 0: none yet */
	int64_t rate_measured_ms; /* when rate_per_replica was last updated */
	int64_t last_up_ms;       /* when a scale-up (0 -> n included) was last decided */
	int32_t paused;           /* 1: the last read was paused (the next one reseeds) */
	/* measure_work's base: the sums at the last read it started from. */
	int32_t work_seen;  /* 1: the workers reported work (offsets measure no more) */
	int32_t work_based; /* 1: work_events/work_busy_ms hold a base */
	int64_t work_events, work_busy_ms;
};

/* Frees the state's ring and zeroes it (a fresh state). NULL is a no-op. */
void scale_state_free(struct scale_state *st);

/* A deep copy of src into dst (whose old content is not freed): 0, or -1
 * when out of memory (dst then zeroed). */
int scale_state_copy(struct scale_state *dst, const struct scale_state *src);

/* The sample age polls back (0: the newest) into *out, as the decision
 * reads it (a quiet run's reconstructed): 0, or -1 when age >= count. */
int scale_state_sample(const struct scale_state *st, int age, struct scale_sample *out);

/* The newest sample, writable (tests set its lag), or NULL before the
 * first good read. */
struct scale_sample *scale_state_newest(struct scale_state *st);

/* Bytes the state holds on the heap (its ring; 0 while quiet). */
size_t scale_state_heap_bytes(const struct scale_state *st);

/* The ring a busy state of spec gets: the samples the longest window can
 * hold at the merge gap, plus 4, at most SCALE_HISTORY_MAX. Pure. */
int32_t scale_history_cap(const struct scale_spec *spec);

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
	SCALE_PAUSED,           /* the pause annotation holds the count */
	SCALE_UP_DELAYED,       /* an up held until scaleUpInterval has passed */
	SCALE_UP_DRAIN,         /* up, sized by targetDrainSeconds */
	SCALE_DOWN_DRAIN,       /* down, sized by targetDrainSeconds */
};

struct scale_decision {
	int32_t desired;
	enum scale_reason reason;
	int64_t lag;                        /* all of it (1a's part too), -1 when unread */
	int64_t lag_seconds;                /* time to drain (see Rates); -1 unknown */
	int rates_known;                    /* consume_rate, lag_rate, input_rate valid */
	double consume_rate;                /* messages/s */
	double lag_rate;                    /* messages/s, > 0 growing */
	int64_t rate_span_ms;               /* the time the rates were measured over */
	int active;                         /* L > activation threshold */
	int64_t persistent_lag;             /* lag left out by rule 1a */
	int32_t persistent_partitions;      /* partitions it was on */
	double rate_per_replica;            /* state's measured rate; 0: unknown */
	double input_rate;                  /* messages/s arriving; valid with rates_known */
	int drain_rule;                     /* 1: rule 1b sized the recommendation */
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
 * out->desired. Deterministic: the same (spec, state, obs) always gives the
 * same result; no I/O, no clock; allocates or frees only the state's ring
 * (see "State").
 */
int32_t scale_decide(const struct scale_spec *spec, struct scale_state *state,
                     const struct scale_obs *obs, const char *error_text,
                     struct scale_decision *out);

/* A short stable name per reason ("up", "hold-draining", ...), for metric
 * labels and Event reasons. Static string. */
const char *scale_reason_name(enum scale_reason reason);

#endif /* SLUICE_SCALE_H */
