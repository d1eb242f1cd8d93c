/*
 * scale.c - the lag -> replicas decision. The rules and why are in scale.h;
 * this file follows them in order.
 */
#include "scale.h"

#include <inttypes.h>
#include <math.h>
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

static struct scale_sample *sample_at(struct scale_state *st, int age)
{
	int i = (st->head - age + SCALE_HISTORY_MAX) % SCALE_HISTORY_MAX;
	return &st->ring[i];
}

/* The gap under which a new read merges into the newest sample, so that
 * SCALE_HISTORY_MAX samples always span the longest window. */
static int64_t merge_gap_ms(const struct scale_spec *s)
{
	int64_t win = max64(s->stabilization_window_ms, s->trend_window_ms);
	return max64(s->polling_interval_ms / 2, win / (SCALE_HISTORY_MAX - 8));
}

/* Adds (or merges) the read into the history; returns the sample. */
static struct scale_sample *history_add(const struct scale_spec *s, struct scale_state *st,
                                        const struct scale_obs *o, int64_t lag)
{
	struct scale_sample *newest = st->count > 0 ? sample_at(st, 0) : NULL;

	/* Progress went backwards (offsets reset, a group deleted) or the
	 * topic changed shape: rates across that point mean nothing. */
	if (newest != NULL && (o->consumed < newest->consumed || o->partitions != st->partitions))
		st->rate_from_ms = o->now_ms;
	st->partitions = o->partitions;

	if (newest != NULL && o->now_ms - newest->t_first_ms < merge_gap_ms(s)) {
		newest->t_ms = o->now_ms;
		newest->lag = lag;
		newest->consumed = o->consumed;
		return newest;
	}
	st->head = (st->head + 1) % SCALE_HISTORY_MAX;
	if (st->count < SCALE_HISTORY_MAX)
		st->count++;
	newest = sample_at(st, 0);
	newest->t_first_ms = newest->t_ms = o->now_ms;
	newest->lag = lag;
	newest->consumed = o->consumed;
	newest->rec = 0;
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
 * that one burst among steady polls is not read as a trend. */
static void history_rates(const struct scale_spec *s, struct scale_state *st, int64_t now,
                          struct scale_decision *out)
{
	const struct scale_sample *newest = sample_at(st, 0), *oldest = NULL;
	int64_t win = s->trend_window_ms > 0 ? s->trend_window_ms : s->polling_interval_ms * 12;
	double slopes[SCALE_HISTORY_MAX];
	int n = 0;

	for (int age = 1; age < st->count; age++) {
		const struct scale_sample *x = sample_at(st, age), *next = sample_at(st, age - 1);
		if (x->t_ms < now - win || x->t_ms < st->rate_from_ms)
			break;
		oldest = x;
		if (next->t_ms > x->t_ms)
			slopes[n++] =
			    (double)(next->lag - x->lag) * 1000.0 / (double)(next->t_ms - x->t_ms);
	}
	if (oldest == NULL || n == 0 || newest->t_ms - oldest->t_ms < s->polling_interval_ms)
		return;
	double dt = (double)(newest->t_ms - oldest->t_ms) / 1000.0;
	out->rates_known = 1;
	out->rate_span_ms = newest->t_ms - oldest->t_ms;
	out->consume_rate = (double)(newest->consumed - oldest->consumed) / dt;
	qsort(slopes, (size_t)n, sizeof(slopes[0]), cmp_double);
	out->lag_rate = n % 2 ? slopes[n / 2] : (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0;
}

/* The highest recommendation recorded within the stabilization window. */
static int32_t window_max_rec(const struct scale_spec *s, struct scale_state *st, int64_t now)
{
	int32_t m = sample_at(st, 0)->rec;

	for (int age = 1; age < st->count; age++) {
		const struct scale_sample *x = sample_at(st, age);
		if (x->t_ms < now - s->stabilization_window_ms)
			break;
		if (x->rec > m)
			m = x->rec;
	}
	return m;
}

/* The partition cap of rule 1; INT64_MAX when none applies. */
static int64_t partition_cap(const struct scale_spec *s, const struct scale_obs *o)
{
	if (s->allow_idle_consumers || o->partitions <= 0)
		return INT64_MAX;
	if (s->limit_to_partitions_with_lag && o->partition_lag != NULL) {
		int64_t n = 0;
		for (int32_t p = 0; p < o->partitions; p++)
			n += o->partition_lag[p] > 0;
		return n;
	}
	return o->partitions;
}

static int64_t level(int64_t lag, int64_t threshold, int64_t cap)
{
	int64_t n = ceil_div(lag, threshold);
	return n < cap ? n : cap;
}

static int32_t decide_failed(const struct scale_spec *s, struct scale_state *st, int32_t cur,
                             const char *err, struct scale_decision *out)
{
	if (err == NULL)
		err = "unknown error";
	st->failures++;
	if (s->fallback_replicas >= 0 && st->failures > s->failure_threshold) {
		out->desired = clamp32(s->fallback_replicas, s->min_replicas, s->max_replicas);
		out->reason = SCALE_FALLBACK;
		snprintf(out->reason_text, sizeof(out->reason_text),
		         "lag unreadable for %" PRId32 " polls: fallback to %" PRId32
		         " replicas: %s",
		         st->failures, out->desired, err);
	} else {
		out->desired = cur;
		out->reason = SCALE_READ_ERROR;
		snprintf(out->reason_text, sizeof(out->reason_text),
		         "lag unreadable (%" PRId32 " in a row): keeping %" PRId32 " replicas: %s",
		         st->failures, cur, err);
	}
	return out->desired;
}

int32_t scale_decide(const struct scale_spec *s, struct scale_state *st, const struct scale_obs *o,
                     const char *err, struct scale_decision *out)
{
	int32_t cur = o->current_replicas > 0 ? o->current_replicas : 0;
	int32_t lo = s->min_replicas > 0 ? s->min_replicas : 1;
	int64_t now = o->now_ms;

	memset(out, 0, sizeof(*out));
	out->lag = -1;
	out->lag_seconds = -1;
	if (!o->ok)
		return decide_failed(s, st, cur, err, out);
	st->failures = 0;

	/* Rule 4 first: activity does not depend on the history. */
	int64_t lag = o->total_lag > 0 ? o->total_lag : 0;
	out->lag = lag;
	out->active = lag > s->activation_lag_threshold;
	if (st->last_active_ms == 0 || out->active)
		st->last_active_ms = now;

	int fresh = st->count == 0;
	struct scale_sample *sample = history_add(s, st, o, lag);
	int merged = sample->t_first_ms != now;
	history_rates(s, st, now, out);
	if (lag == 0)
		out->lag_seconds = 0;
	else if (out->rates_known && out->consume_rate > 0)
		out->lag_seconds = (int64_t)ceil((double)lag / out->consume_rate);

	/* Rules 1-3. */
	int64_t cap = partition_cap(s, o);
	int64_t base = level(lag, s->lag_threshold, cap);
	int64_t level_only = base;
	int trend_up = 0, hold = 0;
	double horizon_s = (double)s->trend_window_ms / 1000.0;
	double lead_s = 0;
	if (s->trend_window_ms > 0 && out->rates_known && out->lag_rate > 0) {
		/* Look ahead no further than the rate looked back: a step in
		 * the lag seen over two polls is not a trend for a minute. */
		lead_s = (double)(out->rate_span_ms < s->trend_window_ms ? out->rate_span_ms
		                                                         : s->trend_window_ms) /
		         1000.0;
		double proj = (double)lag + out->lag_rate * lead_s;
		int64_t p = proj >= (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)ceil(proj);
		int64_t n = level(p, s->lag_threshold, cap);
		if (n > base) {
			base = n;
			trend_up = 1;
		}
	}
	int32_t rec = clamp32(base, lo, s->max_replicas);
	if (s->trend_window_ms > 0 && out->rates_known && out->lag_rate < 0 && cur >= 1 &&
	    rec > cur && (double)lag / -out->lag_rate <= horizon_s) {
		int32_t held = clamp32(cur, lo, s->max_replicas);
		if (held < rec) {
			rec = held;
			hold = 1;
		}
	}
	sample->rec = merged && sample->rec > rec ? sample->rec : rec;
	/* The HPA seeds a new autoscaler's history with the current count,
	 * so a restarted operator does not scale down before a window. */
	if (fresh && clamp32(cur, lo, s->max_replicas) > sample->rec)
		sample->rec = clamp32(cur, lo, s->max_replicas);

	char head[96];
	snprintf(head, sizeof(head),
	         "lag %" PRId64 " (threshold %" PRId64 "/replica, %" PRId32 " partitions)", lag,
	         s->lag_threshold, o->partitions);

	/* Rule 5. */
	int cooling = 0;
	if (s->min_replicas == 0 && !out->active) {
		if (cur == 0) {
			out->desired = 0;
			out->reason = SCALE_IDLE;
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s at or below activation %" PRId64 ": staying at 0", head,
			         s->activation_lag_threshold);
			return 0;
		}
		if (now - st->last_active_ms >= s->cooldown_period_ms) {
			out->desired = 0;
			out->reason = SCALE_TO_ZERO;
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s at or below activation %" PRId64 " for %" PRId64
			         "s (cooldown %" PRId64 "s): %" PRId32 " -> 0",
			         head, s->activation_lag_threshold,
			         (now - st->last_active_ms) / 1000, s->cooldown_period_ms / 1000,
			         cur);
			return 0;
		}
		cooling = 1;
	}

	/* Rule 6. */
	if (rec > cur) {
		out->desired = rec;
		out->reason =
		    cur == 0                                                     ? SCALE_ACTIVATE
		    : trend_up && clamp32(level_only, lo, s->max_replicas) < rec ? SCALE_UP_TREND
		    : cur < lo && clamp32(level_only, lo, s->max_replicas) <= lo ? SCALE_BOUNDS
		                                                                 : SCALE_UP;
		if (out->reason == SCALE_UP_TREND)
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s growing %.1f/s, %.0fs ahead needs %" PRId32 ": %" PRId32
			         " -> %" PRId32,
			         head, out->lag_rate, lead_s, rec, cur, rec);
		else
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s needs %" PRId32 ": %" PRId32 " -> %" PRId32, head, rec, cur,
			         rec);
		return rec;
	}
	if (rec == cur) {
		out->desired = cur;
		if (hold) {
			out->reason = SCALE_HOLD_DRAINING;
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s draining %.1f/s, gone in %.0fs <= %.0fs: holding %" PRId32,
			         head, -out->lag_rate, (double)lag / -out->lag_rate, horizon_s,
			         cur);
		} else if (cooling) {
			out->reason = SCALE_COOLDOWN;
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s at or below activation %" PRId64
			         ": 0 after the cooldown, in %" PRId64 "s",
			         head, s->activation_lag_threshold,
			         (s->cooldown_period_ms - (now - st->last_active_ms) + 999) / 1000);
		} else {
			out->reason = SCALE_STEADY;
			snprintf(out->reason_text, sizeof(out->reason_text),
			         "%s: %" PRId32 " replicas", head, cur);
		}
		return cur;
	}
	/* rec < cur: the HPA's scale-down stabilization. */
	int32_t wmax = window_max_rec(s, st, now);
	int32_t d = wmax < cur ? wmax : cur;
	out->desired = d;
	if (d < cur) {
		out->reason =
		    cur > s->max_replicas && d == s->max_replicas ? SCALE_BOUNDS : SCALE_DOWN;
		snprintf(out->reason_text, sizeof(out->reason_text),
		         "%s needs %" PRId32 ", highest in the last %" PRId64 "s %" PRId32
		         ": %" PRId32 " -> %" PRId32,
		         head, rec, s->stabilization_window_ms / 1000, wmax, cur, d);
	} else if (cooling) {
		out->reason = SCALE_COOLDOWN;
		snprintf(out->reason_text, sizeof(out->reason_text),
		         "%s at or below activation %" PRId64 ": 0 after the cooldown, in %" PRId64
		         "s; keeping %" PRId32 " meanwhile",
		         head, s->activation_lag_threshold,
		         (s->cooldown_period_ms - (now - st->last_active_ms) + 999) / 1000, cur);
	} else {
		out->reason = SCALE_DOWN_STABILIZING;
		snprintf(out->reason_text, sizeof(out->reason_text),
		         "%s needs %" PRId32 ", but %" PRId32 " within the last %" PRId64
		         "s: keeping %" PRId32,
		         head, rec, wmax, s->stabilization_window_ms / 1000, cur);
	}
	return d;
}
