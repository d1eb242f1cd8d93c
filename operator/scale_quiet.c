/* scale_quiet.c - the quiet fast path's decisions (scale_quiet.h). */
#include "scale_quiet.h"

#include <string.h>

enum quiet_verdict quiet_check(const struct quiet_memo *m, const struct quiet_seen *s,
                               uint32_t full_every)
{
	if (m->since_full + 1 >= full_every)
		return QUIET_FULL_DUE;
	if (!s->obj_found)
		return QUIET_FULL_GONE;
	if (s->obj_rv != m->obj_rv)
		return QUIET_FULL_EDITED;
	if (!s->dep_found || s->dep_rv != m->dep_rv)
		return QUIET_FULL_DEPLOY;
	if (!s->reader_ok)
		return QUIET_FULL_READER;
	if (!s->ends_ok)
		return QUIET_FULL_READ_ERR;
	if (s->end_sum != m->end_sum)
		return QUIET_FULL_INPUT;
	return QUIET_SKIP;
}

const char *quiet_verdict_name(enum quiet_verdict v)
{
	switch (v) {
	case QUIET_SKIP:
		return "skip";
	case QUIET_FULL_DUE:
		return "due";
	case QUIET_FULL_GONE:
		return "gone";
	case QUIET_FULL_EDITED:
		return "edited";
	case QUIET_FULL_DEPLOY:
		return "deployment";
	case QUIET_FULL_READER:
		return "reader";
	case QUIET_FULL_READ_ERR:
		return "read-error";
	case QUIET_FULL_INPUT:
		return "input";
	}
	return "unknown";
}

int quiet_eligible(const struct quiet_outcome *o)
{
	return o->read_ok && o->total_lag == 0 && o->desired == o->current && !o->paused &&
	       (o->reason == SCALE_STEADY || o->reason == SCALE_IDLE) && o->history_idle;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

uint64_t quiet_decision_hash(const struct scale_decision *d)
{
	uint64_t h = 1469598103934665603ULL;
	int32_t reason = (int32_t)d->reason;

	h = mix(h, &d->desired, sizeof(d->desired));
	h = mix(h, &reason, sizeof(reason));
	h = mix(h, &d->lag, sizeof(d->lag));
	h = mix(h, &d->lag_seconds, sizeof(d->lag_seconds));
	h = mix(h, &d->rates_known, sizeof(d->rates_known));
	h = mix(h, &d->rate_per_replica, sizeof(d->rate_per_replica));
	if (d->rates_known)
		h = mix(h, &d->input_rate, sizeof(d->input_rate));
	h = mix(h, &d->persistent_lag, sizeof(d->persistent_lag));
	h = mix(h, d->reason_text, strnlen(d->reason_text, sizeof(d->reason_text)));
	return h != 0 ? h : 1;
}
