/* sink_runner.c -- a sink's jobs on their own thread; see sink_runner.h. */
#include "sink_runner.h"

#include <stdio.h>
#include <stdlib.h>

#include "bg_thread.h"

enum state { IDLE, QUEUED, RUNNING, DONE };

struct sink_runner {
	struct tw_sink *sink;
	void (*wake)(void *);
	void *wake_arg;

	struct bg_thread bg;
	enum state state; /* under bg.mu */

	/* The job: written by the loop before QUEUED, read by the thread. */
	enum sink_job job;
	struct tw_batch batch;
	int64_t now_ns;
	/* The outcome: written by the thread before DONE, read by the loop. */
	struct sink_outcome out;
};

static void run_job(struct sink_runner *r)
{
	struct sink_outcome *o = &r->out;

	o->job = r->job;
	o->error[0] = '\0';
	o->retry_after_ms = 0;
	if (r->job == SINK_JOB_WRITE) {
		o->rc = tw_sink_write(r->sink, &r->batch, o->error, sizeof(o->error));
		if (o->rc == TW_SINK_E_RETRY)
			o->retry_after_ms = tw_sink_retry_after_ms(r->sink);
	} else {
		o->rc = tw_sink_trim(r->sink, r->now_ns, o->error, sizeof(o->error));
	}
}

static void *runner_main(void *arg)
{
	struct sink_runner *r = arg;

	pthread_mutex_lock(&r->bg.mu);
	for (;;) {
		while (r->state != QUEUED && !r->bg.stop)
			pthread_cond_wait(&r->bg.cond, &r->bg.mu);
		if (r->state != QUEUED)
			break; /* stopping, nothing queued */
		r->state = RUNNING;
		pthread_mutex_unlock(&r->bg.mu);
		run_job(r);
		pthread_mutex_lock(&r->bg.mu);
		r->state = DONE;
		pthread_cond_broadcast(&r->bg.cond);
		if (r->wake != NULL)
			r->wake(r->wake_arg);
	}
	pthread_mutex_unlock(&r->bg.mu);
	return NULL;
}

struct sink_runner *sink_runner_new(struct tw_sink *s, void (*wake)(void *), void *arg,
                                    char *errbuf, size_t errbuf_size)
{
	struct sink_runner *r = calloc(1, sizeof(*r));
	char what[64];

	if (r == NULL) {
		snprintf(errbuf, errbuf_size, "sink runner: out of memory");
		return NULL;
	}
	r->sink = s;
	r->wake = wake;
	r->wake_arg = arg;
	snprintf(what, sizeof(what), "%s sink", tw_sink_name(s));
	if (bg_thread_start(&r->bg, runner_main, r, what, errbuf, errbuf_size) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

void sink_runner_free(struct sink_runner *r)
{
	if (r == NULL)
		return;
	/* A job already queued or running finishes first: a sink is never
	 * left in the middle of a transaction or a pipeline. */
	bg_thread_stop(&r->bg);
	free(r);
}

int sink_runner_busy(struct sink_runner *r)
{
	pthread_mutex_lock(&r->bg.mu);
	int busy = r->state != IDLE;
	pthread_mutex_unlock(&r->bg.mu);
	return busy;
}

static int start(struct sink_runner *r, enum sink_job job, const struct tw_batch *batch,
                 int64_t now_ns)
{
	pthread_mutex_lock(&r->bg.mu);
	if (r->state != IDLE) {
		pthread_mutex_unlock(&r->bg.mu);
		return -1;
	}
	r->job = job;
	if (batch != NULL)
		r->batch = *batch;
	r->now_ns = now_ns;
	r->state = QUEUED;
	pthread_cond_broadcast(&r->bg.cond);
	pthread_mutex_unlock(&r->bg.mu);
	return 0;
}

int sink_runner_write(struct sink_runner *r, const struct tw_batch *batch)
{
	return start(r, SINK_JOB_WRITE, batch, 0);
}

int sink_runner_trim(struct sink_runner *r, int64_t now_ns)
{
	return start(r, SINK_JOB_TRIM, NULL, now_ns);
}

int sink_runner_collect(struct sink_runner *r, struct sink_outcome *out)
{
	pthread_mutex_lock(&r->bg.mu);
	int done = r->state == DONE;
	if (done) {
		*out = r->out;
		r->state = IDLE;
	}
	pthread_mutex_unlock(&r->bg.mu);
	return done;
}
