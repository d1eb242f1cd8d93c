/* it_env.h -- what every integration test reads from the stack's env file
 * (build/stack.env, sourced by `make integration`). Header-only: each test
 * is one translation unit built on its own. */
#ifndef SLUICE_IT_ENV_H
#define SLUICE_IT_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

/* The variable's value; fails the test when the stack did not set it. */
static inline const char *it_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0')
		fail_msg("%s is not set: source build/stack.env (make integration does)", name);
	return v;
}

/* A small file's content, NUL-terminated (the caller frees it): the stack's
 * PEM files. */
static inline char *it_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static inline void it_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Polls pred every 20 ms until it holds; fails naming what after seconds. */
#define IT_WAIT_FOR(pred, seconds, what)                                                           \
	do {                                                                                       \
		double until_ = clock_mono_s() + (seconds);                                        \
		while (!(pred)) {                                                                  \
			if (clock_mono_s() > until_)                                               \
				fail_msg("timed out after %.1fs waiting for %s",                   \
				         (double)(seconds), what);                                 \
			it_sleep_ms(20);                                                           \
		}                                                                                  \
	} while (0)

#endif /* SLUICE_IT_ENV_H */
