/*
 * scale_quiet.h - when an idle resource's poll may be skipped: the pure
 * decisions of the autoscaler's quiet fast path (operator/autoscaler.c,
 * docs/autoscaling.md "What an idle resource costs").
 *
 * A full poll whose outcome was "nothing to do" (quiet_eligible: read,
 * lag 0, desired == current, steady or idle at zero, not paused, the
 * decision history an idle run with no ring) leaves a memo: the hashes of
 * the object's and its Deployment's resourceVersions and the sum of the
 * topic's latest offsets. The next polls look only at those (quiet_check):
 * all unchanged, the poll is done; anything else, or every full_every-th
 * poll, makes a full poll.
 *
 * Why an unchanged end sum means an unchanged lag: per partition lag =
 * end - position with position <= end (lag.h), so lag 0 means position ==
 * end for every partition. Ends only grow, so an unchanged sum is every
 * end unchanged; the committed offsets cannot pass them, so the lag stays
 * 0 and the consumed sum (the positions) stays the same. What this does
 * not see (a group's offsets reset backwards by hand, a Secret's value
 * changed under the same object) the periodic full poll does.
 */
#ifndef SLUICE_SCALE_QUIET_H
#define SLUICE_SCALE_QUIET_H

#include <stdint.h>

#include "scale.h"

/* A full poll every this many polls of a quiet resource (once a minute at
 * the default 5 s). */
#define QUIET_FULL_EVERY 12

/* What a quiet resource remembers of its last full poll. */
struct quiet_memo {
	uint64_t obj_rv;     /* hash of the object's resourceVersion */
	uint64_t dep_rv;     /* hash of its Deployment's */
	int64_t end_sum;     /* sum of the topic's latest offsets */
	uint32_t since_full; /* polls skipped since the last full one */
};

/* What a quiet poll finds now. */
struct quiet_seen {
	int obj_found; /* 0: the object left the store */
	uint64_t obj_rv;
	int dep_found; /* 0: the Deployment left its store */
	uint64_t dep_rv;
	int reader_ok; /* 0: the remembered reader is gone or failed */
	int ends_ok;   /* 0: the ends could not be read */
	int64_t end_sum;
};

enum quiet_verdict {
	QUIET_SKIP = 0,      /* nothing changed: the poll is done */
	QUIET_FULL_DUE,      /* the periodic full poll */
	QUIET_FULL_GONE,     /* the object left the store */
	QUIET_FULL_EDITED,   /* the object changed */
	QUIET_FULL_DEPLOY,   /* the Deployment changed or left */
	QUIET_FULL_READER,   /* the reader is gone */
	QUIET_FULL_READ_ERR, /* the ends could not be read */
	QUIET_FULL_INPUT,    /* new messages (or a topic recreated) */
};

/* Pure: the verdict for one poll of a quiet resource with memo m, the
 * first reason that applies in the enum's order. full_every <= 1: every
 * poll is full. */
enum quiet_verdict quiet_check(const struct quiet_memo *m, const struct quiet_seen *s,
                               uint32_t full_every);

/* A short stable name per verdict ("skip", "due", ...). Static string. */
const char *quiet_verdict_name(enum quiet_verdict v);

/* A full poll's outcome, as quiet_eligible judges it. */
struct quiet_outcome {
	int read_ok;       /* the lag was read */
	int64_t total_lag; /* its total */
	int32_t desired;   /* the decision */
	int32_t current;   /* the Deployment's replicas */
	int paused;        /* a pause annotation held it */
	enum scale_reason reason;
	int history_idle; /* the state holds no ring (scale.h, "State") */
};

/* Pure: 1 when a full poll with this outcome makes the resource quiet. */
int quiet_eligible(const struct quiet_outcome *o);

/* Pure: a hash of what a decision shows (desired, reason, lag, lag
 * seconds, rates, persistent lag, reason text), never 0: a quiet poll
 * whose decision hashes the same as the last full poll's would write no
 * status, scale nothing and set the same gauges. */
uint64_t quiet_decision_hash(const struct scale_decision *d);

#endif /* SLUICE_SCALE_QUIET_H */
