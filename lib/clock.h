/* clock.h -- the one clock: monotonic time for timeouts, intervals and
 * rates (never the wall clock, which steps), wall-clock time for what is
 * written down, and RFC 3339 text for both binaries' logs, statuses and
 * rows.
 */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_S INT64_C(1000000000)

/* Buffer size that always fits clock_format_rfc3339()'s output, NUL
 * included ("1677-09-21T00:12:43.145224192Z", the longest, needs 31). */
#define CLOCK_RFC3339_MAX 40

/* CLOCK_MONOTONIC, in ns, ms and (for rates and benchmarks) seconds. */
int64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);
double clock_mono_s(void);

/* now + ms as an absolute CLOCK_MONOTONIC time: the deadline for
 * pthread_cond_timedwait on a condition variable whose clock is
 * CLOCK_MONOTONIC (pthread_condattr_setclock), so a wall-clock step never
 * stretches or cuts a wait. */
struct timespec clock_mono_deadline(int64_t ms);

/* Initialises cond with CLOCK_MONOTONIC as its clock, for waits until a
 * clock_mono_deadline. Returns 0 or the pthread error number. */
int clock_cond_init(pthread_cond_t *cond);

/* CLOCK_REALTIME in ns since the Unix epoch. */
int64_t clock_real_ns(void);

/*
 * Formats ns as RFC 3339 in UTC into buf: "2026-11-23T05:00:00Z", with a
 * fraction of 3, 6 or 9 digits when it is not zero (".123Z", ".123456Z").
 * Every int64 is accepted (years 1677 to 2262). Returns the length written,
 * NUL not counted, or -1 when size is too small (CLOCK_RFC3339_MAX always
 * is enough); buf is then an empty string if size > 0.
 */
int clock_format_rfc3339(int64_t ns, char *buf, size_t size);

#endif
