/* tw_health.h -- the telemetry worker's health, as /healthz and /readyz
 * answer it: for each sink and for the dead-letter producer (one slot
 * each), since when it has failed and its last error; whether the group
 * gave this member its first assignment; and the fatal error that stops
 * the loop.
 *
 * Threads: the loop's thread changes it; the HTTP server's thread asks
 * (tw_health_check, tw_health_ready), both under the lock.
 * tw_health_is_fatal is the loop's own copy of the fatal flag, read without
 * the lock on the loop's thread only.
 */
#ifndef SLUICE_TW_HEALTH_H
#define SLUICE_TW_HEALTH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Most slots: the sinks and the dead-letter producer. */
#define TW_HEALTH_SLOTS 8

/* Members are read-only outside tw_health_*(). */
struct tw_health {
	pthread_mutex_t mu;
	const char *resource; /* "ns/name" (borrowed), for the fatal error's log line */
	size_t n;
	const char *names[TW_HEALTH_SLOTS];        /* borrowed */
	int64_t failing_since_ms[TW_HEALTH_SLOTS]; /* monotonic; 0: healthy */
	char last_error[TW_HEALTH_SLOTS][256];
	int64_t last_ok_ns[TW_HEALTH_SLOTS]; /* wall clock of the last success; 0: none */
	int ready;
	char fatal_text[512]; /* non-empty: a fatal error stops the worker */
	int fatal;            /* the loop's copy: fatal_text is set */
};

/* No slots, not ready, not fatal. resource must outlive h. Returns 0, or -1
 * when the lock cannot be created (h is then not to be destroyed). */
int tw_health_init(struct tw_health *h, const char *resource);
void tw_health_destroy(struct tw_health *h);

/* A slot for name (borrowed), healthy. Returns its number, or -1 when all
 * TW_HEALTH_SLOTS are taken. */
int tw_health_add(struct tw_health *h, const char *name);

/* The slot's name; "" for a slot that does not exist. */
const char *tw_health_name(const struct tw_health *h, size_t slot);

/* The slot works (again), as of now on the wall clock (its last success,
 * for /status). Returns 1 when it had been failing: it recovered. */
int tw_health_ok(struct tw_health *h, size_t slot);

/* The slot failed at now_ms (monotonic) with error (cut to fit); the first
 * failure of a run starts its clock. */
void tw_health_failed(struct tw_health *h, size_t slot, int64_t now_ms, const char *error);

/* The first assignment arrived: /readyz succeeds from now on. */
void tw_health_set_ready(struct tw_health *h);

/* A stop that no flush can fix: the first one is logged ("what: detail")
 * and shown by /healthz; later ones are ignored. */
void tw_health_set_fatal(struct tw_health *h, const char *what, const char *detail);

/* Whether a fatal error was set (the loop's thread only). */
int tw_health_is_fatal(const struct tw_health *h);

/*
 * /healthz at now_ms: 0 when healthy, 1 with the reason in reason after a
 * fatal error ("fatal: <what>: <detail>") or when a slot has failed for
 * longer than unhealthy_after_ms ("<name> has failed for <s> s: <error>").
 */
int tw_health_check(struct tw_health *h, int64_t now_ms, int64_t unhealthy_after_ms, char *reason,
                    size_t reason_size);

/* One slot as GET /status shows it (docs/status.md). */
struct tw_health_slot {
	const char *name;       /* borrowed, as added */
	int failing;            /* 0: ok */
	int64_t failing_for_ms; /* since its first failure of this run; 0 when ok */
	char last_error[256];   /* the last failure's error, kept after a recovery; "": none */
	int64_t last_ok_ns;     /* wall clock of the last success; 0: none yet */
};

/* Every slot at now_ms (monotonic) into out[0..TW_HEALTH_SLOTS), the
 * fatal text ("" when none, fatal_size bytes) and whether ready, copied
 * under the lock: safe from the HTTP thread. Returns the number of slots. */
size_t tw_health_view(struct tw_health *h, int64_t now_ms, struct tw_health_slot *out, char *fatal,
                      size_t fatal_size, int *ready);

/* /readyz: 0 once ready, else 1 with "waiting for the first partition
 * assignment" in reason. */
int tw_health_ready(struct tw_health *h, char *reason, size_t reason_size);

#endif
