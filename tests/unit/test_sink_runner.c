/* test_sink_runner.c -- a sink's jobs on its own thread: outcomes as the sink
 * gave them, one job at a time, the loop woken when a job ends, and freeing
 * waits for a write in progress. The sink here is a unit-test sink (an ops
 * table of the test's own); the real sinks are tested on the real servers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sink_runner.h"
#include "tw_sink_int.h"

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int hold;   /* a write waits while set */
	int rc;     /* what the next write or trim returns */
	int writes; /* writes finished */
	size_t rows_seen;
	int64_t trim_ns;
	int wakes;
};

static struct fake fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int fake_open(const struct tw_spec *spec, const char *secret, void **impl, char *errbuf,
                     size_t errbuf_size)
{
	(void)spec;
	(void)secret;
	(void)errbuf;
	(void)errbuf_size;
	*impl = &fake;
	return 0;
}

static int fake_write(void *impl, const struct tw_batch *b, char *errbuf, size_t errbuf_size)
{
	struct fake *f = impl;

	pthread_mutex_lock(&f->mu);
	while (f->hold)
		pthread_cond_wait(&f->cond, &f->mu);
	f->writes++;
	f->rows_seen = b->nrows;
	int rc = f->rc;
	pthread_mutex_unlock(&f->mu);
	if (rc != 0)
		return tw_sink_fail(errbuf, errbuf_size, rc, "fake: refused %zu rows", b->nrows);
	return 0;
}

static int fake_trim(void *impl, int64_t now_ns, char *errbuf, size_t errbuf_size)
{
	struct fake *f = impl;

	f->trim_ns = now_ns;
	if (f->rc != 0)
		return tw_sink_fail(errbuf, errbuf_size, f->rc, "fake: trim failed");
	return 0;
}

static int64_t fake_retry_after(const void *impl)
{
	(void)impl;
	return 1500;
}

static void fake_close(void *impl)
{
	(void)impl;
}

static const struct tw_sink_ops fake_ops = {"fake",    fake_open,        fake_write,
                                            fake_trim, fake_retry_after, fake_close};

static void on_wake(void *arg)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->mu);
	f->wakes++;
	pthread_mutex_unlock(&f->mu);
}

/* Collects the running job's outcome, waiting up to 5 s for it. */
static int collect_within(struct sink_runner *r, struct sink_outcome *o)
{
	for (int i = 0; i < 5000; i++) {
		if (sink_runner_collect(r, o))
			return 1;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return 0;
}

static int setup(void **state)
{
	struct tw_sink **sinks = calloc(1, sizeof(*sinks));
	char errbuf[256];

	fake.hold = 0;
	fake.rc = 0;
	fake.writes = 0;
	fake.rows_seen = 0;
	fake.trim_ns = 0;
	fake.wakes = 0;
	assert_non_null(sinks);
	assert_int_equal(tw_sink_open(&fake_ops, NULL, NULL, &sinks[0], errbuf, sizeof(errbuf)), 0);
	*state = sinks;
	return 0;
}

static int teardown(void **state)
{
	tw_sinks_free(*state, 1);
	return 0;
}

static void test_write_outcomes(void **state)
{
	struct tw_sink **sinks = *state;
	struct tw_row rows[3];
	struct tw_batch b = {.rows = rows, .nrows = 3};
	struct sink_outcome o;
	char errbuf[256];

	memset(rows, 0, sizeof(rows));
	struct sink_runner *r = sink_runner_new(sinks[0], on_wake, &fake, errbuf, sizeof(errbuf));
	assert_non_null(r);
	assert_int_equal(sink_runner_collect(r, &o), 0); /* nothing started */
	assert_false(sink_runner_busy(r));

	assert_int_equal(sink_runner_write(r, &b), 0);
	assert_true(sink_runner_busy(r));
	assert_true(collect_within(r, &o));
	assert_int_equal(o.job, SINK_JOB_WRITE);
	assert_int_equal(o.rc, TW_SINK_OK);
	assert_int_equal(o.retry_after_ms, 0);
	assert_int_equal(fake.rows_seen, 3);
	assert_int_equal(fake.wakes, 1);
	assert_false(sink_runner_busy(r));

	/* A retry carries the sink's message and its Retry-After. */
	fake.rc = TW_SINK_E_RETRY;
	assert_int_equal(sink_runner_write(r, &b), 0);
	assert_true(collect_within(r, &o));
	assert_int_equal(o.rc, TW_SINK_E_RETRY);
	assert_int_equal(o.retry_after_ms, 1500);
	assert_string_equal(o.error, "fake: refused 3 rows");

	/* A rejection has no Retry-After: retrying cannot help. */
	fake.rc = TW_SINK_E_REJECT;
	assert_int_equal(sink_runner_write(r, &b), 0);
	assert_true(collect_within(r, &o));
	assert_int_equal(o.rc, TW_SINK_E_REJECT);
	assert_int_equal(o.retry_after_ms, 0);
	assert_int_equal(fake.wakes, 3);
	sink_runner_free(r);
}

static void test_one_job_at_a_time(void **state)
{
	struct tw_sink **sinks = *state;
	struct tw_batch b = {0};
	struct sink_outcome o;
	char errbuf[256];

	struct sink_runner *r = sink_runner_new(sinks[0], NULL, NULL, errbuf, sizeof(errbuf));
	assert_non_null(r);
	fake.hold = 1;
	assert_int_equal(sink_runner_write(r, &b), 0);
	/* Busy until the outcome is collected: neither a write nor a trim
	 * starts meanwhile, and there is nothing to collect yet. */
	assert_int_equal(sink_runner_write(r, &b), -1);
	assert_int_equal(sink_runner_trim(r, 5), -1);
	assert_int_equal(sink_runner_collect(r, &o), 0);
	pthread_mutex_lock(&fake.mu);
	fake.hold = 0;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.mu);
	assert_true(collect_within(r, &o));
	assert_int_equal(fake.writes, 1);

	/* A trim reports like a write, with its own job kind. */
	fake.rc = TW_SINK_E_RETRY;
	assert_int_equal(sink_runner_trim(r, 42), 0);
	assert_true(collect_within(r, &o));
	assert_int_equal(o.job, SINK_JOB_TRIM);
	assert_int_equal(o.rc, TW_SINK_E_RETRY);
	assert_string_equal(o.error, "fake: trim failed");
	assert_int_equal(fake.trim_ns, 42);
	sink_runner_free(r);
}

static void *release_later(void *arg)
{
	(void)arg;
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	pthread_mutex_lock(&fake.mu);
	fake.hold = 0;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.mu);
	return NULL;
}

static void test_free_waits_for_the_write(void **state)
{
	struct tw_sink **sinks = *state;
	struct tw_batch b = {0};
	pthread_t th;
	char errbuf[256];

	struct sink_runner *r = sink_runner_new(sinks[0], on_wake, &fake, errbuf, sizeof(errbuf));
	assert_non_null(r);
	fake.hold = 1;
	assert_int_equal(sink_runner_write(r, &b), 0);
	assert_int_equal(pthread_create(&th, NULL, release_later, NULL), 0);
	/* Never a sink left in the middle of a transaction: the write ends
	 * before the thread does. */
	sink_runner_free(r);
	assert_int_equal(fake.writes, 1);
	pthread_join(th, NULL);
	sink_runner_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_job_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_waits_for_the_write, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
