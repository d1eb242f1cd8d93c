/* bg_thread.c -- see bg_thread.h. */
#include "bg_thread.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "clock.h"

/* Background threads run at a lower priority than the thread that owns
 * them: the owner (a worker's loop) is the one that must keep up with its
 * stream, and what they do (writes, frees, wake-ups) waits well. On Linux
 * a thread's nice value is its own. */
#define BG_THREAD_NICE 5

static void *trampoline(void *arg)
{
	struct bg_thread *t = arg;

	(void)setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0) + BG_THREAD_NICE);
	return t->main(t->arg);
}

int bg_thread_start(struct bg_thread *t, void *(*main)(void *), void *arg, const char *what,
                    char *errbuf, size_t errbuf_size)
{
	int err;

	t->stop = 0;
	pthread_mutex_init(&t->mu, NULL);
	clock_cond_init(&t->cond);
	t->main = main;
	t->arg = arg;
	if ((err = pthread_create(&t->thread, NULL, trampoline, t)) != 0) {
		snprintf(errbuf, errbuf_size, "%s: cannot start its thread: %s", what,
		         strerror(err));
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->mu);
		return -1;
	}
	return 0;
}

void bg_thread_stop(struct bg_thread *t)
{
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mu);
}

int bg_thread_sleep_ms(struct bg_thread *t, int64_t ms)
{
	struct timespec until = clock_mono_deadline(ms);

	while (!t->stop && pthread_cond_timedwait(&t->cond, &t->mu, &until) != ETIMEDOUT)
		;
	return t->stop;
}
