/*
 * scale.c - the lag -> replicas decision. The rules and why are in scale.h;
 * this file follows them in order.
 */
#include "scale.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void scale_spec_defaults(struct scale_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->min_replicas = 0;
	spec->max_replicas = 10;
	spec->lag_threshold = 1000;
	spec->activation_lag_threshold = 0;
	spec->polling_interval_ms = SCALE_DEFAULT_POLLING_MS;
	spec->stabilization_window_ms = SCALE_DEFAULT_STABILIZATION_MS;
	spec->cooldown_period_ms = SCALE_DEFAULT_COOLDOWN_MS;
	spec->trend_window_ms = SCALE_DEFAULT_TREND_MS;
	spec->fallback_replicas = -1;
	spec->failure_threshold = SCALE_DEFAULT_FAILURE_THRESHOLD;
	spec->persistent_after_ms = SCALE_DEFAULT_PERSISTENT_MS;
	spec->target_utilization_pct = SCALE_DEFAULT_UTILIZATION_PCT;
}

void scale_track_partitions(struct scale_partition_track *track, int32_t n, const int64_t *position,
                            const int64_t *lag, int64_t now_ms, int fresh, int64_t *still_ms)
{
	for (int32_t i = 0; i < n; i++) {
		struct scale_partition_track *t = &track[i];

		/* A lag that grew at a standing position is new messages that
		 * no one has tried yet (a group at zero replicas), not a
		 * message the consumers are stuck on. */
		if (fresh || position[i] != t->position || lag[i] <= 0 || lag[i] > t->lag)
			t->since_ms = now_ms;
		t->position = position[i];
		t->lag = lag[i];
		still_ms[i] = now_ms - t->since_ms;
	}
}

static int invalid(char *errbuf, size_t errbuf_size, const char *what)
{
	if (errbuf != NULL && errbuf_size > 0)
		snprintf(errbuf, errbuf_size, "%s", what);
	return -1;
}

int scale_spec_validate(const struct scale_spec *s, char *errbuf, size_t errbuf_size)
{
	if (s->min_replicas < 0)
		return invalid(errbuf, errbuf_size, "minReplicas: must be >= 0");
	if (s->max_replicas < 1)
		return invalid(errbuf, errbuf_size, "maxReplicas: must be >= 1");
	if (s->min_replicas > s->max_replicas)
		return invalid(errbuf, errbuf_size, "maxReplicas: must not be below minReplicas");
	if (s->lag_threshold <= 0)
		return invalid(errbuf, errbuf_size, "lagThreshold: must be > 0");
	if (s->activation_lag_threshold < 0)
		return invalid(errbuf, errbuf_size, "activationLagThreshold: must be >= 0");
	if (s->polling_interval_ms <= 0)
		return invalid(errbuf, errbuf_size, "pollingInterval: must be > 0");
	if (s->stabilization_window_ms < 0)
		return invalid(errbuf, errbuf_size, "stabilizationWindow: must be >= 0");
	if (s->cooldown_period_ms < 0)
		return invalid(errbuf, errbuf_size, "cooldownPeriod: must be >= 0");
	if (s->trend_window_ms < 0)
		return invalid(errbuf, errbuf_size, "trendWindow: must be >= 0");
	if (s->fallback_replicas < -1)
		return invalid(errbuf, errbuf_size, "fallback.replicas: must be >= 0");
	if (s->failure_threshold < 0)
		return invalid(errbuf, errbuf_size, "fallback.failureThreshold: must be >= 0");
	if (s->persistent_after_ms <= 0)
		return invalid(errbuf, errbuf_size, "persistentLagAfter: must be > 0");
	if (s->target_drain_ms < 0)
		return invalid(errbuf, errbuf_size, "targetDrainSeconds: must be >= 0");
	if (s->target_utilization_pct < 1 || s->target_utilization_pct > 100)
		return invalid(errbuf, errbuf_size, "targetUtilization: must be 1..100");
	if (s->scale_up_interval_ms < 0)
		return invalid(errbuf, errbuf_size, "scaleUpInterval: must be >= 0");
	return 0;
}

const char *scale_reason_name(enum scale_reason r)
{
	switch (r) {
	case SCALE_STEADY:
		return "steady";
	case SCALE_UP:
		return "up";
	case SCALE_UP_TREND:
		return "up-trend";
	case SCALE_HOLD_DRAINING:
		return "hold-draining";
	case SCALE_DOWN:
		return "down";
	case SCALE_DOWN_STABILIZING:
		return "down-stabilizing";
	case SCALE_ACTIVATE:
		return "activate";
	case SCALE_IDLE:
		return "idle";
	case SCALE_COOLDOWN:
		return "cooldown";
	case SCALE_TO_ZERO:
		return "to-zero";
	case SCALE_BOUNDS:
		return "bounds";
	case SCALE_READ_ERROR:
		return "read-error";
	case SCALE_FALLBACK:
		return "fallback";
	case SCALE_PAUSED:
		return "paused";
	case SCALE_UP_DELAYED:
		return "up-delayed";
	case SCALE_UP_DRAIN:
		return "up-drain";
	case SCALE_DOWN_DRAIN:
		return "down-drain";
	}
	return "unknown";
}

static int32_t clamp32(int64_t v, int32_t lo, int32_t hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return (int32_t)v;
}

/* ceil(a / b) for a >= 0, b > 0, without overflow. */
static int64_t ceil_div(int64_t a, int64_t b)
{
	if (a <= 0)
		return 0;
	return a / b + (a % b != 0);
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* ceil(v) for v >= 0 as an int64, saturating (no undefined conversion).
 * The 1e-9 keeps a result that is whole in exact arithmetic (6 replicas
 * for exactly 6 replicas' work) from rounding up on a last-bit error. */
static int64_t ceil_sat(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= (double)(INT64_MAX / 2))
		return INT64_MAX / 2;
	return (int64_t)ceil(v - 1e-9);
}

/* Appends to a bounded line; a line too long is cut, never overrun. */
struct line {
	char *buf;
	size_t size, len;
};

__attribute__((format(printf, 2, 3))) static void addf(struct line *l, const char *fmt, ...)
{
	va_list ap;

	if (l->len + 1 >= l->size)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = l->len + (size_t)n < l->size ? l->len + (size_t)n : l->size - 1;
}

/* Sets the decision's one line (cut at SCALE_REASON_MAX - 1). */
__attribute__((format(printf, 2, 3))) static void say(struct scale_decision *out, const char *fmt,
                                                      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason_text, sizeof(out->reason_text), fmt, ap);
	va_end(ap);
}

/* The sample age polls back (age < count): the ring's, or a quiet run's
 * reconstructed (scale.h, "State"). */
static struct scale_sample sample_get(const struct scale_state *st, int age)
{
	struct scale_sample x;

	if (st->ring != NULL)
		return st->ring[((st->head - age) % st->cap + st->cap) % st->cap];
	x = st->quiet;
	if (age > 0) {
		x.t_first_ms = st->quiet.t_first_ms - (int64_t)age * st->quiet_step_ms;
		x.t_ms = x.t_first_ms + st->quiet_span_ms;
	}
	return x;
}

static struct scale_sample *newest_of(struct scale_state *st)
{
	return st->ring != NULL ? &st->ring[st->head] : &st->quiet;
}

/* The gap under which a new read merges into the newest sample, so that
 * SCALE_HISTORY_MAX samples always span the longest window. */
static int64_t merge_gap_ms(const struct scale_spec *s)
{
	int64_t win = max64(s->stabilization_window_ms, s->trend_window_ms);
	return max64(s->polling_interval_ms / 2, win / (SCALE_HISTORY_MAX - 8));
}

/* The history that rates are measured over. */
static int64_t rate_window_ms(const struct scale_spec *s)
{
	return s->trend_window_ms > 0 ? s->trend_window_ms : s->polling_interval_ms * 12;
}

/* The longest look back of any rule: samples older than this are never
 * read again. */
static int64_t longest_window_ms(const struct scale_spec *s)
{
	return max64(s->stabilization_window_ms, rate_window_ms(s));
}

int32_t scale_history_cap(const struct scale_spec *s)
{
	int64_t n = longest_window_ms(s) / max64(merge_gap_ms(s), 1) + 4;

	return n < SCALE_HISTORY_MAX ? (int32_t)n : SCALE_HISTORY_MAX;
}

/* The two samples alike for a quiet run: all but their times. */
static int alike(const struct scale_sample *a, const struct scale_sample *b)
{
	return a->lag == b->lag && a->consumed == b->consumed && a->ready == b->ready &&
	       a->rec == b->rec;
}

/* Adds (or merges) the read into the history; returns the sample. lag is
 * the lag that counts (rule 1a's persistent part left out). A quiet state
 * (no ring) takes a read alike its run (its recommendation is checked once
 * decided); one that differs sets quiet_lost and restarts the run from
 * itself (what the state keeps when no ring can be had). */
static struct scale_sample *history_add(const struct scale_spec *s, struct scale_state *st,
                                        const struct scale_obs *o, int64_t lag)
{
	struct scale_sample *newest = st->count > 0 ? newest_of(st) : NULL;
	int32_t ready = o->ready_replicas >= 0 ? o->ready_replicas : -1;
	int add = newest == NULL || o->now_ms - newest->t_first_ms >= merge_gap_ms(s);

	/* Progress went backwards (offsets reset, a group deleted) or the
	 * topic changed shape: rates across that point mean nothing. */
	if (newest != NULL && (o->consumed < newest->consumed || o->partitions != st->partitions))
		st->rate_from_ms = o->now_ms;
	st->partitions = o->partitions;

	if (st->ring == NULL) {
		if (newest != NULL && (lag != newest->lag || o->consumed != newest->consumed ||
		                       ready != newest->ready)) {
			st->quiet_lost = 1;
			st->count = 0; /* restart from this read */
			newest = NULL;
			add = 1;
		}
		if (add && newest != NULL) {
			/* The newest joins the run before it, which holds
			 * evenly spaced samples only: the run is then exactly
			 * what a ring would hold. */
			int64_t step = o->now_ms - newest->t_first_ms;
			int64_t span = newest->t_ms - newest->t_first_ms;

			if (st->count == 1 && span >= 0 && span < step) {
				st->quiet_step_ms = step;
				st->quiet_span_ms = span;
			} else if (step != st->quiet_step_ms || span != st->quiet_span_ms) {
				st->quiet_lost = 1;
				st->count = 0;
				newest = NULL;
			}
		}
		if (add) {
			if (newest != NULL) {
				if (st->count < scale_history_cap(s))
					st->count++;
			} else {
				st->count = 1;
			}
			newest = &st->quiet;
			newest->t_first_ms = o->now_ms;
			/* rec stays the run's until decided (checked there) */
			if (st->count == 1)
				newest->rec = 0;
		}
	} else if (add) {
		st->head = (st->head + 1) % st->cap;
		if (st->count < st->cap)
			st->count++;
		newest = &st->ring[st->head];
		newest->t_first_ms = o->now_ms;
		newest->rec = 0;
	}
	newest->t_ms = o->now_ms;
	newest->lag = lag;
	newest->consumed = o->consumed;
	newest->ready = ready;
	return newest;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Rates over the samples inside the trend window (and after rate_from_ms):
 * the consume rate is the average between the oldest and the newest; the
 * growth rate is the median of the growth between consecutive samples, so
 * that one burst among steady polls is not read as a trend. The input
 * rate is what arrived over the same span: consumed plus the lag's net
 * growth from the oldest to the newest. */
static void history_rates(const struct scale_spec *s, struct scale_state *st, int64_t now,
                          struct scale_decision *out)
{
	const struct scale_sample newest = sample_get(st, 0);
	struct scale_sample oldest = newest, next = newest;
	int64_t win = rate_window_ms(s);
	double slopes[SCALE_HISTORY_MAX];
	int n = 0, found = 0;

	for (int age = 1; age < st->count && age < SCALE_HISTORY_MAX; age++) {
		const struct scale_sample x = sample_get(st, age);
		if (x.t_ms < now - win || x.t_ms < st->rate_from_ms)
			break;
		oldest = x;
		found = 1;
		if (next.t_ms > x.t_ms)
			slopes[n++] =
			    (double)(next.lag - x.lag) * 1000.0 / (double)(next.t_ms - x.t_ms);
		next = x;
	}
	if (!found || n == 0 || newest.t_ms - oldest.t_ms < s->polling_interval_ms)
		return;
	double dt = (double)(newest.t_ms - oldest.t_ms) / 1000.0;
	out->rates_known = 1;
	out->rate_span_ms = newest.t_ms - oldest.t_ms;
	out->consume_rate = (double)(newest.consumed - oldest.consumed) / dt;
	qsort(slopes, (size_t)n, sizeof(slopes[0]), cmp_double);
	out->lag_rate = n % 2 ? slopes[n / 2] : (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0;
	out->input_rate = out->consume_rate + (double)(newest.lag - oldest.lag) / dt;
	if (out->input_rate < 0)
		out->input_rate = 0;
}

/* The replicas that can work: a ready replica beyond the partition count
 * holds no partition and does nothing. 0 when unknown. */
static int32_t busy_replicas(int32_t ready, int32_t partitions)
{
	if (ready <= 0)
		return 0;
	return partitions > 0 && partitions < ready ? partitions : ready;
}

static double per_replica(const struct scale_sample *newest, const struct scale_sample *old,
                          int32_t busy)
{
	double dt = (double)(newest->t_ms - old->t_ms) / 1000.0;

	return (double)(newest->consumed - old->consumed) / dt / (double)busy;
}

/*
 * Rule 1b's measured rate per replica. Over the newest run of samples
 * (within the rate window, after rate_from_ms) with the same ready count
 * as now: the part of it where the group was backlogged measures what a
 * replica does; the whole run only bounds it from below.
 *
 * Backlogged, between two consecutive samples x (older) and y: both have
 * lag > 0 and x's lag covers the work done until y (x.lag >= y.consumed -
 * x.consumed), so the replicas never ran out of messages in between. The
 * second condition matters: a group keeping up shows a small lag at any
 * instant (messages in flight, offsets committed every few seconds); read
 * as a backlog, that would measure the input's share per replica, and
 * with targetUtilization < 100 % every decision would ask for more
 * replicas, measure less per replica, and climb to maxReplicas.
 *
 * Smoothing: a measurement over >= 2 polling intervals is already an
 * average of several polls and is taken as it is (smoothing it again would
 * only lag behind a real change of speed, e.g. heavier messages); one over
 * a single interval (right after the ready count changed, when a rebalance
 * may have paused the group for part of it) is noisy and is averaged 50/50
 * with the value before. A run with no progress at all is a stall
 * (rebalance, stuck consumers), not a speed: it changes nothing.
 */
static void measure_rate(const struct scale_spec *s, struct scale_state *st, int32_t partitions,
                         int64_t now)
{
	const struct scale_sample newest = sample_get(st, 0);
	struct scale_sample run = newest, backlog = newest, next = newest;
	int64_t win = rate_window_ms(s), poll = s->polling_interval_ms;
	int32_t busy = busy_replicas(newest.ready, partitions);
	int backlogged = newest.lag > 0, have_run = 0, have_backlog = 0;

	if (busy == 0)
		return;
	for (int age = 1; age < st->count; age++) {
		const struct scale_sample x = sample_get(st, age);
		if (x.t_ms < now - win || x.t_ms < st->rate_from_ms || x.ready != newest.ready)
			break;
		run = x;
		have_run = 1;
		backlogged = backlogged && x.lag > 0 && x.lag >= next.consumed - x.consumed;
		if (backlogged) {
			backlog = x;
			have_backlog = 1;
		}
		next = x;
	}
	if (have_backlog && newest.t_ms - backlog.t_ms >= poll) {
		double m = per_replica(&newest, &backlog, busy);
		if (m <= 0)
			return;
		if (st->rate_per_replica <= 0 || newest.t_ms - backlog.t_ms >= 2 * poll)
			st->rate_per_replica = m;
		else
			st->rate_per_replica = (st->rate_per_replica + m) / 2.0;
		st->rate_measured_ms = now;
	} else if (have_run && newest.t_ms - run.t_ms >= poll) {
		double m = per_replica(&newest, &run, busy);
		if (m > st->rate_per_replica) {
			st->rate_per_replica = m;
			st->rate_measured_ms = now;
		}
	}
}

/*
 * The rate per replica from the workers' own work (scale.h, "Rate per
 * replica"): Δevents / Δbusy between this read and the base, once the
 * busy time reaches SCALE_WORK_MIN_BUSY_MS; a sum that went down skips
 * the interval and rebases.
 */
static void measure_work(struct scale_state *st, const struct scale_obs *o, int64_t now)
{
	/* No base yet: the counters start at zero with their processes, so
	 * the first read is a measurement of its own. */
	int64_t de = o->work_events - (st->work_based ? st->work_events : 0);
	int64_t db = o->work_busy_ms - (st->work_based ? st->work_busy_ms : 0);

	st->work_seen = 1;
	if (de >= 0 && db >= 0 && db < SCALE_WORK_MIN_BUSY_MS) {
		if (!st->work_based) {
			st->work_based = 1;
			st->work_events = st->work_busy_ms = 0;
		}
		return; /* too little work yet: keep the base, it adds up */
	}
	if (de > 0 && db > 0) {
		double m = (double)de * 1000.0 / (double)db;

		st->rate_per_replica =
		    st->rate_per_replica > 0 ? (st->rate_per_replica + m) / 2.0 : m;
		st->rate_measured_ms = now;
	}
	st->work_based = 1;
	st->work_events = o->work_events;
	st->work_busy_ms = o->work_busy_ms;
}

/* The highest recommendation recorded within the stabilization window. */
static int32_t window_max_rec(const struct scale_spec *s, struct scale_state *st, int64_t now)
{
	int32_t m = sample_get(st, 0).rec;

	for (int age = 1; age < st->count; age++) {
		const struct scale_sample x = sample_get(st, age);
		if (x.t_ms < now - s->stabilization_window_ms)
			break;
		if (x.rec > m)
			m = x.rec;
	}
	return m;
}

/* Rule 1a on one read: the lag that counts. */
struct lag_view {
	int64_t total;            /* as read, >= 0 */
	int64_t eff;              /* total less the persistent part */
	int64_t persistent;       /* left out */
	int32_t persistent_parts; /* partitions it is on */
	int32_t lagged;           /* partitions with lag > 0 that count; -1 unknown */
};

static void lag_view(const struct scale_spec *s, const struct scale_obs *o, struct lag_view *v)
{
	int rule = s->exclude_persistent_lag && o->partition_still_ms != NULL;

	memset(v, 0, sizeof(*v));
	v->total = o->total_lag > 0 ? o->total_lag : 0;
	v->lagged = -1;
	if (o->partition_lag != NULL && o->partitions > 0) {
		v->lagged = 0;
		for (int32_t p = 0; p < o->partitions; p++) {
			int64_t l = o->partition_lag[p];
			if (l <= 0)
				continue;
			if (rule && o->partition_still_ms[p] >= s->persistent_after_ms) {
				v->persistent =
				    v->persistent > INT64_MAX - l ? INT64_MAX : v->persistent + l;
				v->persistent_parts++;
			} else {
				v->lagged++;
			}
		}
	}
	v->eff = v->total > v->persistent ? v->total - v->persistent : 0;
}

/* The partition cap of rule 1; INT64_MAX when none applies. */
static int64_t partition_cap(const struct scale_spec *s, const struct scale_obs *o,
                             const struct lag_view *v)
{
	if (s->allow_idle_consumers || o->partitions <= 0)
		return INT64_MAX;
	if (s->limit_to_partitions_with_lag && v->lagged >= 0)
		return v->lagged;
	return o->partitions;
}

static int64_t level(int64_t lag, int64_t threshold, int64_t cap)
{
	int64_t n = ceil_div(lag, threshold);
	return n < cap ? n : cap;
}

/*
 * Rule 3a: r (>= 1) rounded up to the least r' >= r whose busiest replica,
 * holding ceil(P/r') partitions, carries no more than P/r: with
 * k = floor(P/r), that is ceil(P/r') <= k, so r' = ceil(P/k). Above limit,
 * the largest count <= limit of the form ceil(P/m) (it has the same
 * busiest replica as limit itself); never below min. r >= P: unchanged.
 */
static int32_t even_count(int32_t r, int32_t p, int32_t limit, int32_t min)
{
	if (p <= 0 || r <= 0 || r >= p)
		return r;
	int32_t k = p / r;
	int32_t e = (p + k - 1) / k;
	if (e > limit && limit >= 1) {
		int32_t m = (p + limit - 1) / limit;
		e = (p + m - 1) / m;
	}
	return e < min ? min : e;
}

/* The pause's count, or -1 when not paused. */
static int32_t pause_target(const struct scale_obs *o, int32_t cur)
{
	if (!o->paused)
		return -1;
	return o->paused_replicas >= 0 ? o->paused_replicas : cur;
}

/* The pause: desired = its count, whatever the bounds; rest is the
 * read's summary (or its error) for the line. */
static int32_t decide_paused(const struct scale_obs *o, int32_t cur, int32_t target,
                             const char *rest, struct scale_decision *out)
{
	struct line l = {out->reason_text, sizeof(out->reason_text), 0};

	out->desired = target;
	out->reason = SCALE_PAUSED;
	if (o->paused_replicas >= 0)
		addf(&l, "paused by annotation sluice.dev/paused-replicas: %" PRId32 " replicas",
		     target);
	else
		addf(&l, "paused by annotation sluice.dev/paused: keeping %" PRId32 " replicas",
		     cur);
	if (o->paused_replicas >= 0 && target != cur)
		addf(&l, " (%" PRId32 " -> %" PRId32 ")", cur, target);
	addf(&l, "; %s", rest);
	return target;
}

static int32_t decide_failed(const struct scale_spec *s, struct scale_state *st,
                             const struct scale_obs *o, int32_t cur, const char *err,
                             struct scale_decision *out)
{
	int32_t paused = pause_target(o, cur);

	if (err == NULL)
		err = "unknown error";
	st->failures++;
	if (paused >= 0) {
		char rest[SCALE_REASON_MAX];

		st->paused = 1;
		snprintf(rest, sizeof(rest), "lag unreadable (%" PRId32 " in a row): %s",
		         st->failures, err);
		return decide_paused(o, cur, paused, rest, out);
	}
	if (s->fallback_replicas >= 0 && st->failures > s->failure_threshold) {
		out->desired = clamp32(s->fallback_replicas, s->min_replicas, s->max_replicas);
		out->reason = SCALE_FALLBACK;
		say(out,
		    "lag unreadable for %" PRId32 " polls: fallback to %" PRId32 " replicas: %s",
		    st->failures, out->desired, err);
	} else {
		out->desired = cur;
		out->reason = SCALE_READ_ERROR;
		say(out, "lag unreadable (%" PRId32 " in a row): keeping %" PRId32 " replicas: %s",
		    st->failures, cur, err);
	}
	return out->desired;
}

/* Rule 1b's words for n replicas: how long they take to drain the lag at
 * the planned rate (rate per replica x utilization). */
static void drain_words(struct line *l, const struct scale_spec *s, const struct scale_obs *o,
                        int64_t lag, double planned, double input, int32_t n)
{
	double cap = planned * (double)busy_replicas(n, o->partitions);

	if (cap <= input)
		addf(l, "%" PRId32 " replicas cannot keep up (target %gs)", n,
		     (double)s->target_drain_ms / 1000.0);
	else if (lag == 0)
		addf(l, "%" PRId32 " replicas keep up (target %gs)", n,
		     (double)s->target_drain_ms / 1000.0);
	else
		addf(l, "%" PRId32 " replicas drain it in %.1fs (target %gs)", n,
		     (double)lag / (cap - input), (double)s->target_drain_ms / 1000.0);
}

/* The decision over the history as it is (scale_decide sizes it). */
static int32_t decide(const struct scale_spec *s, struct scale_state *st, const struct scale_obs *o,
                      const char *err, struct scale_decision *out)
{
	int32_t cur = o->current_replicas > 0 ? o->current_replicas : 0;
	int32_t lo = s->min_replicas > 0 ? s->min_replicas : 1;
	int64_t now = o->now_ms;

	memset(out, 0, sizeof(*out));
	out->lag = -1;
	out->lag_seconds = -1;
	out->rate_per_replica = st->rate_per_replica;
	if (!o->ok)
		return decide_failed(s, st, o, cur, err, out);
	st->failures = 0;

	/* Rule 1a: the lag that counts, for everything below. */
	struct lag_view v;
	lag_view(s, o, &v);
	out->lag = v.total;
	out->persistent_lag = v.persistent;
	out->persistent_partitions = v.persistent_parts;

	/* The pause. The first read after one starts afresh, as a restart. */
	int32_t paused = pause_target(o, cur);
	int resume = st->paused && paused < 0;
	st->paused = paused >= 0;

	/* Rule 4 first: activity does not depend on the history. */
	out->active = v.eff > s->activation_lag_threshold;
	if (st->last_active_ms == 0 || out->active || resume)
		st->last_active_ms = now;

	int fresh = st->count == 0 || resume;
	int32_t run_rec = st->quiet.rec;
	struct scale_sample *sample = history_add(s, st, o, v.eff);
	int merged = sample->t_first_ms != now;
	history_rates(s, st, now, out);
	if (o->work_known)
		measure_work(st, o, now);
	else if (!st->work_seen)
		measure_rate(s, st, o->partitions, now);
	out->rate_per_replica = st->rate_per_replica;
	int32_t busy_now = busy_replicas(o->ready_replicas, o->partitions);
	if (v.eff == 0)
		out->lag_seconds = 0;
	else if (st->rate_per_replica > 0 && busy_now > 0)
		out->lag_seconds = ceil_sat((double)v.eff / (st->rate_per_replica * busy_now));
	else if (out->rates_known && out->consume_rate > 0)
		out->lag_seconds = ceil_sat((double)v.eff / out->consume_rate);

	char head[224], need[160];
	struct line h = {head, sizeof(head), 0}, nd = {need, sizeof(need), 0};
	int drain = s->target_drain_ms > 0 && st->rate_per_replica > 0 && out->rates_known;
	double planned = st->rate_per_replica * (double)s->target_utilization_pct / 100.0;
	if (drain)
		addf(&h,
		     "lag %" PRId64 " over %" PRId32 " partitions, input %.0f/s, %.0f/s per "
		     "replica at %" PRId32 "%%",
		     v.eff, o->partitions, out->input_rate, st->rate_per_replica,
		     s->target_utilization_pct);
	else
		addf(&h, "lag %" PRId64 " (threshold %" PRId64 "/replica, %" PRId32 " partitions)",
		     v.total, s->lag_threshold, o->partitions);
	if (v.persistent > 0)
		addf(&h, ", %" PRId64 " of it persistent on %" PRId32 " partitions", v.persistent,
		     v.persistent_parts);
	if (s->target_drain_ms > 0 && !drain)
		addf(&h, ", no rate measured yet: lag/threshold");

	if (paused >= 0)
		return decide_paused(o, cur, paused, head, out);

	/* Rules 1-3. */
	int64_t cap = partition_cap(s, o, &v);
	int64_t base, level_only;
	int trend_up = 0, hold = 0;
	double horizon_s = (double)s->trend_window_ms / 1000.0;
	double lead_s = 0;
	if (drain) {
		/* Rule 1b: the input plus the backlog spread over the target,
		 * at the planned rate per replica. */
		double work = out->input_rate + (double)v.eff * 1000.0 / (double)s->target_drain_ms;
		int64_t n = ceil_sat(work / planned);
		base = level_only = n < cap ? n : cap;
		out->drain_rule = 1;
	} else {
		base = level_only = level(v.eff, s->lag_threshold, cap);
	}
	if (!drain && s->trend_window_ms > 0 && out->rates_known && out->lag_rate > 0) {
		/* Look ahead no further than the rate looked back: a step in
		 * the lag seen over two polls is not a trend for a minute. */
		lead_s = (double)(out->rate_span_ms < s->trend_window_ms ? out->rate_span_ms
		                                                         : s->trend_window_ms) /
		         1000.0;
		double proj = (double)v.eff + out->lag_rate * lead_s;
		int64_t p = proj >= (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ceil(proj);
		int64_t n = level(p, s->lag_threshold, cap);
		if (n > base) {
			base = n;
			trend_up = 1;
		}
	}
	int32_t rec = clamp32(base, lo, s->max_replicas);
	int32_t uneven = rec;
	if (s->even_partitions && !s->allow_idle_consumers && o->partitions > 0) {
		int32_t limit = cap < s->max_replicas ? (int32_t)cap : s->max_replicas;
		rec = even_count(rec, o->partitions, limit > lo ? limit : lo, s->min_replicas);
	}
	if (!drain && s->trend_window_ms > 0 && out->rates_known && out->lag_rate < 0 && cur >= 1 &&
	    rec > cur && (double)v.eff / -out->lag_rate <= horizon_s) {
		int32_t held = clamp32(cur, lo, s->max_replicas);
		if (held < rec) {
			rec = held;
			hold = 1;
		}
	}
	sample->rec = merged && sample->rec > rec ? sample->rec : rec;
	/* The HPA seeds a new autoscaler's history with the current count,
	 * so a restarted (or unpaused) operator does not scale down before
	 * a window. */
	if (fresh && clamp32(cur, lo, s->max_replicas) > sample->rec)
		sample->rec = clamp32(cur, lo, s->max_replicas);
	/* A quiet run holds one recommendation for all its samples. */
	if (st->ring == NULL && st->count > 1 && sample->rec != run_rec) {
		st->quiet_lost = 1;
		st->count = 1;
	}

	if (drain) {
		addf(&nd, ": ");
		drain_words(&nd, s, o, v.eff, planned, out->input_rate, rec);
	} else {
		addf(&nd, " needs %" PRId32, rec);
	}
	if (rec != uneven && !hold)
		addf(&nd, " (%" PRId32 ", evened over %" PRId32 " partitions)", uneven,
		     o->partitions);

	/* Rule 5. */
	int cooling = 0;
	if (s->min_replicas == 0 && !out->active) {
		if (cur == 0) {
			out->desired = 0;
			out->reason = SCALE_IDLE;
			say(out, "%s at or below activation %" PRId64 ": staying at 0", head,
			    s->activation_lag_threshold);
			return 0;
		}
		if (now - st->last_active_ms >= s->cooldown_period_ms) {
			out->desired = 0;
			out->reason = SCALE_TO_ZERO;
			say(out,
			    "%s at or below activation %" PRId64 " for %" PRId64
			    "s (cooldown %" PRId64 "s): %" PRId32 " -> 0",
			    head, s->activation_lag_threshold, (now - st->last_active_ms) / 1000,
			    s->cooldown_period_ms / 1000, cur);
			return 0;
		}
		cooling = 1;
	}

	/* Rule 6. */
	if (rec > cur) {
		int bounds = cur < lo && rec == lo;
		/* Rule 6a: a step up from a running group waits for the
		 * interval since the last one (0 -> n and a count below
		 * minReplicas never do). */
		if (s->scale_up_interval_ms > 0 && cur >= lo && st->last_up_ms > 0 &&
		    now - st->last_up_ms < s->scale_up_interval_ms) {
			out->desired = cur;
			out->reason = SCALE_UP_DELAYED;
			say(out,
			    "%s%s: up held %" PRId64 "s more (scaleUpInterval %" PRId64
			    "s): keeping %" PRId32,
			    head, need,
			    (s->scale_up_interval_ms - (now - st->last_up_ms) + 999) / 1000,
			    s->scale_up_interval_ms / 1000, cur);
			return cur;
		}
		st->last_up_ms = now;
		out->desired = rec;
		out->reason = cur == 0 ? SCALE_ACTIVATE
		              : bounds ? SCALE_BOUNDS
		              : drain  ? SCALE_UP_DRAIN
		              : trend_up && clamp32(level_only, lo, s->max_replicas) < rec
		                  ? SCALE_UP_TREND
		                  : SCALE_UP;
		if (trend_up && out->reason == SCALE_UP_TREND)
			say(out, "%s growing %.1f/s, %.0fs ahead%s: %" PRId32 " -> %" PRId32, head,
			    out->lag_rate, lead_s, need, cur, rec);
		else
			say(out, "%s%s: %" PRId32 " -> %" PRId32, head, need, cur, rec);
		return rec;
	}
	if (rec == cur) {
		out->desired = cur;
		if (hold) {
			out->reason = SCALE_HOLD_DRAINING;
			say(out, "%s draining %.1f/s, gone in %.0fs <= %.0fs: holding %" PRId32,
			    head, -out->lag_rate, (double)v.eff / -out->lag_rate, horizon_s, cur);
		} else if (cooling) {
			out->reason = SCALE_COOLDOWN;
			say(out,
			    "%s at or below activation %" PRId64
			    ": 0 after the cooldown, in %" PRId64 "s",
			    head, s->activation_lag_threshold,
			    (s->cooldown_period_ms - (now - st->last_active_ms) + 999) / 1000);
		} else if (drain) {
			out->reason = SCALE_STEADY;
			say(out, "%s%s: keeping %" PRId32, head, need, cur);
		} else {
			out->reason = SCALE_STEADY;
			say(out, "%s: %" PRId32 " replicas", head, cur);
		}
		return cur;
	}
	/* rec < cur: the HPA's scale-down stabilization. */
	int32_t wmax = window_max_rec(s, st, now);
	int32_t d = wmax < cur ? wmax : cur;
	out->desired = d;
	if (d < cur) {
		out->reason = cur > s->max_replicas && d == s->max_replicas ? SCALE_BOUNDS
		              : drain                                       ? SCALE_DOWN_DRAIN
		                                                            : SCALE_DOWN;
		say(out,
		    "%s%s, highest in the last %" PRId64 "s %" PRId32 ": %" PRId32 " -> %" PRId32,
		    head, need, s->stabilization_window_ms / 1000, wmax, cur, d);
	} else if (cooling) {
		out->reason = SCALE_COOLDOWN;
		say(out,
		    "%s at or below activation %" PRId64 ": 0 after the cooldown, in %" PRId64
		    "s; keeping %" PRId32 " meanwhile",
		    head, s->activation_lag_threshold,
		    (s->cooldown_period_ms - (now - st->last_active_ms) + 999) / 1000, cur);
	} else {
		out->reason = SCALE_DOWN_STABILIZING;
		say(out, "%s%s, but %" PRId32 " within the last %" PRId64 "s: keeping %" PRId32,
		    head, need, wmax, s->stabilization_window_ms / 1000, cur);
	}
	return d;
}

/* ---- the history's memory (scale.h, "State") ---- */

void scale_state_free(struct scale_state *st)
{
	if (st == NULL)
		return;
	free(st->ring);
	memset(st, 0, sizeof(*st));
}

int scale_state_copy(struct scale_state *dst, const struct scale_state *src)
{
	*dst = *src;
	if (src->ring == NULL)
		return 0;
	dst->ring = malloc((size_t)src->cap * sizeof(*dst->ring));
	if (dst->ring == NULL) {
		memset(dst, 0, sizeof(*dst));
		return -1;
	}
	memcpy(dst->ring, src->ring, (size_t)src->cap * sizeof(*dst->ring));
	return 0;
}

int scale_state_sample(const struct scale_state *st, int age, struct scale_sample *out)
{
	if (age < 0 || age >= st->count)
		return -1;
	*out = sample_get(st, age);
	return 0;
}

struct scale_sample *scale_state_newest(struct scale_state *st)
{
	return st->count > 0 ? newest_of(st) : NULL;
}

size_t scale_state_heap_bytes(const struct scale_state *st)
{
	return st->ring != NULL ? (size_t)st->cap * sizeof(*st->ring) : 0;
}

/* Gives st a ring of cap samples holding its history (the ring's, or the
 * quiet run's reconstructed; the newest cap of them). 0, or -1 when out of
 * memory (st unchanged). */
static int ring_resize(struct scale_state *st, int32_t cap)
{
	struct scale_sample *ring = malloc((size_t)cap * sizeof(*ring));
	int32_t n = st->count < cap ? st->count : cap;

	if (ring == NULL)
		return -1;
	for (int32_t i = 0; i < n; i++)
		ring[n - 1 - i] = sample_get(st, i); /* oldest first */
	free(st->ring);
	st->ring = ring;
	st->cap = cap;
	st->count = n;
	st->head = n > 0 ? n - 1 : 0;
	return 0;
}

/* A busy state whose samples within the longest window are all alike
 * gives its ring back: the run is kept as the newest sample and its
 * spacing. */
static void maybe_quiet(const struct scale_spec *s, struct scale_state *st, int64_t now)
{
	const struct scale_sample newest = sample_get(st, 0);
	int64_t win = longest_window_ms(s);
	int32_t k = 0;
	struct scale_sample x = newest;

	if (st->ring == NULL || st->count == 0)
		return;
	struct scale_sample prev = newest;
	int64_t step = 0, span = 0;

	for (int age = 1; age < st->count; age++) {
		x = sample_get(st, age);
		if (x.t_ms < now - win)
			break; /* never read again */
		/* Alike and evenly spaced, or the run would not be exact. */
		if (!alike(&x, &newest))
			return;
		if (age == 1) {
			step = prev.t_first_ms - x.t_first_ms;
			span = x.t_ms - x.t_first_ms;
			if (span < 0 || span >= step)
				return;
		} else if (prev.t_first_ms - x.t_first_ms != step ||
		           x.t_ms - x.t_first_ms != span) {
			return;
		}
		prev = x;
		k = age;
	}
	st->quiet_step_ms = step;
	st->quiet_span_ms = span;
	free(st->ring);
	st->ring = NULL;
	st->cap = st->head = 0;
	st->count = k + 1;
	st->quiet = newest;
}

int32_t scale_decide(const struct scale_spec *s, struct scale_state *st, const struct scale_obs *o,
                     const char *err, struct scale_decision *out)
{
	int32_t want = scale_history_cap(s), d;

	if (st->ring != NULL && st->cap < want)
		(void)ring_resize(st, want); /* settings changed; the old ring otherwise */
	if (st->ring == NULL) {
		struct scale_state before = *st; /* no heap: a plain copy */

		st->quiet_lost = 0;
		d = decide(s, st, o, err, out);
		if (!st->quiet_lost)
			return d;
		/* The read differs from the quiet run: decide it again over
		 * the run in a ring. Without memory, the run restarted. */
		st->quiet_lost = 0;
		if (ring_resize(&before, want) != 0)
			return d;
		*st = before;
		st->quiet_lost = 0;
	}
	d = decide(s, st, o, err, out);
	if (o->ok)
		maybe_quiet(s, st, o->now_ms);
	return d;
}
