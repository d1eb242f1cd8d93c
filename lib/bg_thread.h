/* bg_thread.h -- a background thread and the lock and condition its owner
 * shares with it, started and stopped one way.
 *
 * The owner embeds a struct bg_thread next to the state the two share,
 * guards that state with t->mu, signals t->cond when it changes, and reads
 * t->stop in the thread's loop. bg_thread_stop sets stop, wakes the thread
 * and joins it: a thread that is in the middle of its work finishes it
 * first. The condition waits on CLOCK_MONOTONIC (bg_thread_sleep_ms).
 * The thread runs at a nice value 5 above its owner's.
 */
#ifndef SLUICE_BG_THREAD_H
#define SLUICE_BG_THREAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct bg_thread {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop; /* under mu: the owner asked the thread to end */
	void *(*main)(void *);
	void *arg;
};

/* Starts main(arg). Returns 0, or -1 with "<what>: cannot start its
 * thread: <reason>" in errbuf (nothing left to stop). */
int bg_thread_start(struct bg_thread *t, void *(*main)(void *), void *arg, const char *what,
                    char *errbuf, size_t errbuf_size);

/* Sets stop, wakes the thread, waits for it to end, and frees the lock and
 * condition. */
void bg_thread_stop(struct bg_thread *t);

/* With t->mu held: waits until ms have passed or stop is set (other
 * signals of t->cond do not end the wait). Returns stop. */
int bg_thread_sleep_ms(struct bg_thread *t, int64_t ms);

#endif
