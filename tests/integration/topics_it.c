/*
 * topics_it.c - operator/topics.c against REAL Kafka from the test stack:
 * 50 threads creating 50 topics at once share CreateTopics requests (fewer
 * requests than topics, every topic there with its partitions, every
 * caller told its own answer), the same for deleting them, callers of one
 * topic at once see it created exactly once, create/describe/delete
 * cycles leave no handle holding more than the ledger's limit of topics,
 * and one call's topics (topics_create_many) go in one request and one
 * wait, through probe handles kept across calls.
 *
 * Needs build/stack.env (KAFKA_BOOTSTRAP), as `make integration` sources
 * it. Every run makes topics of its own (pid and time in the names) and
 * deletes them.
 *
 *   make build/tests/topics_it && (set -a; . build/stack.env; set +a; build/tests/topics_it)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "it_env.h"
#include "topic_ledger.h"
#include "topics.h"

#define TIMEOUT_MS 15000
#define THREADS 50
#define CYCLES 70

static struct {
	const char *bootstrap;
	int brokers; /* KAFKA_BROKERS of the stack, 1 when unset */
	char run[48];
} g;

static int setup(void **state)
{
	(void)state;
	g.bootstrap = getenv("KAFKA_BOOTSTRAP");
	if (g.bootstrap == NULL || g.bootstrap[0] == '\0') {
		fprintf(stderr, "topics_it: KAFKA_BOOTSTRAP is not set (source build/stack.env)\n");
		return -1;
	}
	g.brokers = getenv("KAFKA_BROKERS") != NULL ? atoi(getenv("KAFKA_BROKERS")) : 1;
	snprintf(g.run, sizeof(g.run), "%ld-%ld", (long)getpid(), (long)time(NULL));
	return 0;
}

struct call {
	struct topics *t;
	pthread_barrier_t *start;
	int remove;
	char topic[128];
	int partitions;
	int rc, created;
	double seconds;
	char err[512];
};

static void *run_call(void *arg)
{
	struct call *c = arg;
	double t0;

	pthread_barrier_wait(c->start);
	t0 = clock_mono_s();
	if (c->remove)
		c->rc = topics_delete(c->t, g.bootstrap, NULL, c->topic, TIMEOUT_MS, c->err,
		                      sizeof(c->err));
	else
		c->rc = topics_create(c->t, g.bootstrap, NULL, c->topic, c->partitions, 0,
		                      TIMEOUT_MS, &c->created, c->err, sizeof(c->err));
	c->seconds = clock_mono_s() - t0;
	return NULL;
}

/* Runs calls[0..n) at once, each on its own thread. */
static void run_all(struct call *calls, size_t n)
{
	pthread_t th[THREADS];
	pthread_barrier_t start;

	assert_true(n <= THREADS);
	assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
	for (size_t i = 0; i < n; i++) {
		calls[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, run_call, &calls[i]), 0);
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
}

static int absent(struct topics *t, const char *topic)
{
	char err[512];
	int p, r;

	return topics_describe(t, g.bootstrap, NULL, topic, TIMEOUT_MS, &p, &r, err, sizeof(err)) ==
	       TOPICS_ENOTFOUND;
}

static void test_batched_create_delete(void **state)
{
	struct topics *t = topics_new("topics-it");
	struct topics *check = topics_new("topics-it-check");
	static struct call calls[THREADS];
	struct topics_stats s;
	double slowest = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(check);
	for (int i = 0; i < THREADS; i++) {
		calls[i] = (struct call){.t = t, .partitions = i % 4 + 1, .rc = 99};
		snprintf(calls[i].topic, sizeof(calls[i].topic), "topics-it-%s-%d", g.run, i);
	}
	run_all(calls, THREADS);
	for (int i = 0; i < THREADS; i++) {
		int p = 0, r = 0;
		char err[512];

		if (calls[i].rc != TOPICS_OK)
			fail_msg("create %s: %d %s", calls[i].topic, calls[i].rc, calls[i].err);
		assert_int_equal(calls[i].created, 1);
		if (calls[i].seconds > slowest)
			slowest = calls[i].seconds;
		/* There, with its own partition count, seen by another client. */
		assert_int_equal(topics_describe(check, g.bootstrap, NULL, calls[i].topic,
		                                 TIMEOUT_MS, &p, &r, err, sizeof(err)),
		                 TOPICS_OK);
		assert_int_equal(p, calls[i].partitions);
		assert_true(r >= 1);
	}
	topics_stats(t, &s);
	printf("topics_it: %d topics created by %llu CreateTopics requests (slowest caller "
	       "%.2fs)\n",
	       THREADS, s.create_requests, slowest);
	assert_int_equal(s.create_calls, THREADS);
	assert_int_equal(s.topics_created, THREADS);
	assert_true(s.create_requests < THREADS);
	assert_true(s.create_requests >= 1);

	slowest = 0;
	for (int i = 0; i < THREADS; i++) {
		calls[i].remove = 1;
		calls[i].rc = 99;
	}
	run_all(calls, THREADS);
	for (int i = 0; i < THREADS; i++) {
		if (calls[i].rc != TOPICS_OK)
			fail_msg("delete %s: %d %s", calls[i].topic, calls[i].rc, calls[i].err);
		if (calls[i].seconds > slowest)
			slowest = calls[i].seconds;
	}
	topics_stats(t, &s);
	printf("topics_it: %d topics deleted by %llu DeleteTopics requests (slowest caller "
	       "%.2fs)\n",
	       THREADS, s.delete_requests, slowest);
	assert_int_equal(s.delete_calls, THREADS);
	assert_int_equal(s.topics_deleted, THREADS);
	assert_true(s.delete_requests < THREADS);
	for (int i = 0; i < THREADS; i++)
		IT_WAIT_FOR(absent(check, calls[i].topic), 30, calls[i].topic);
	/* Deleting again: absent is success, nothing deleted. */
	calls[0].rc = topics_delete(t, g.bootstrap, NULL, calls[0].topic, TIMEOUT_MS, calls[0].err,
	                            sizeof(calls[0].err));
	assert_int_equal(calls[0].rc, TOPICS_OK);
	topics_stats(t, &s);
	assert_int_equal(s.topics_deleted, THREADS);
	topics_free(check);
	topics_free(t);
}

/* Callers of one topic at once (a duplicate in one request): created
 * exactly once, every caller told success. */
static void test_same_topic(void **state)
{
	struct topics *t = topics_new("topics-it");
	static struct call calls[10];
	char topic[128], err[512];
	int made = 0;

	(void)state;
	assert_non_null(t);
	snprintf(topic, sizeof(topic), "topics-it-%s-same", g.run);
	for (int i = 0; i < 10; i++) {
		calls[i] = (struct call){.t = t, .partitions = 2, .rc = 99};
		snprintf(calls[i].topic, sizeof(calls[i].topic), "%s", topic);
	}
	run_all(calls, 10);
	for (int i = 0; i < 10; i++) {
		if (calls[i].rc != TOPICS_OK)
			fail_msg("create %s: %d %s", topic, calls[i].rc, calls[i].err);
		made += calls[i].created;
	}
	assert_int_equal(made, 1);
	assert_int_equal(topics_delete(t, g.bootstrap, NULL, topic, TIMEOUT_MS, err, sizeof(err)),
	                 TOPICS_OK);
	topics_free(t);
}

/* Topics that come and go: the handle is made again as they die, so it
 * never holds more than the ledger's limit (the lag reader's leak in issue
 * 19, here for topics.c's handles). */
static void test_cycles_hold_bounded(void **state)
{
	struct topics *t = topics_new("topics-it");
	struct topics_stats s;
	size_t most = 0;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < CYCLES; i++) {
		char topic[128], err[512];
		int p = 0, r = 0;

		snprintf(topic, sizeof(topic), "topics-it-%s-cycle-%d", g.run, i);
		if (topics_create(t, g.bootstrap, NULL, topic, 4, 0, TIMEOUT_MS, NULL, err,
		                  sizeof(err)) != TOPICS_OK)
			fail_msg("create %s: %s", topic, err);
		assert_int_equal(topics_describe(t, g.bootstrap, NULL, topic, TIMEOUT_MS, &p, &r,
		                                 err, sizeof(err)),
		                 TOPICS_OK);
		assert_int_equal(p, 4);
		if (topics_delete(t, g.bootstrap, NULL, topic, TIMEOUT_MS, err, sizeof(err)) !=
		    TOPICS_OK)
			fail_msg("delete %s: %s", topic, err);
		topics_stats(t, &s);
		if (s.topics_held > most)
			most = s.topics_held;
		assert_true(s.topics_held <= TOPIC_LEDGER_MIN_DEAD);
	}
	topics_stats(t, &s);
	printf("topics_it: %d create/describe/delete cycles: at most %zu topics held, %llu "
	       "handles made, %llu made again\n",
	       CYCLES, most, s.handles_made, s.handles_renewed);
	assert_true(s.handles_renewed >= (unsigned long long)(CYCLES / TOPIC_LEDGER_MIN_DEAD));
	topics_free(t);
}

/* A VideoJob's two topics in one call: one CreateTopics request, both
 * there with their partitions once it returns (seen by another client on
 * every broker it asks), and the probes of the wait kept for the next
 * call instead of made again. Describes within a second share an answer. */
static void test_create_many(void **state)
{
	/* Another client that asks every time: a shared answer would not
	 * list what t made within its second. */
	struct topics_opts fresh = {.describe_age_ms = -1};
	struct topics *t = topics_new("topics-it");
	struct topics *check = topics_new_ex("topics-it-check", &fresh);
	struct topics_new_topic nt[2];
	struct topics_stats s, before;
	char names[4][128], err[512];
	int p = 0, r = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(check);
	for (int i = 0; i < 4; i++)
		snprintf(names[i], sizeof(names[i]), "topics-it-%s-many-%d", g.run, i);
	for (int round = 0; round < 2; round++) {
		topics_stats(t, &before);
		nt[0] = (struct topics_new_topic){.topic = names[2 * round], .partitions = 3};
		nt[1] = (struct topics_new_topic){.topic = names[2 * round + 1], .partitions = 1};
		if (topics_create_many(t, g.bootstrap, NULL, nt, 2, TIMEOUT_MS) != TOPICS_OK)
			fail_msg("create %s, %s: %s %s", nt[0].topic, nt[1].topic, nt[0].err,
			         nt[1].err);
		assert_true(nt[0].created && nt[1].created);
		topics_stats(t, &s);
		assert_int_equal(s.create_requests - before.create_requests, 1);
		assert_int_equal(s.topics_created - before.topics_created, 2);
		/* One probe per broker (none for a single broker: the handle
		 * itself asks it), made by the first call only. */
		assert_int_equal(s.probes_made, g.brokers > 1 ? (unsigned long long)g.brokers : 0);
		assert_int_equal(s.probes_made, s.probes_open);
		if (round == 1)
			assert_int_equal(s.probes_made, before.probes_made);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(topics_describe(check, g.bootstrap, NULL, nt[i].topic,
			                                 TIMEOUT_MS, &p, &r, err, sizeof(err)),
			                 TOPICS_OK);
			assert_int_equal(p, nt[i].partitions);
		}
	}
	/* The operator's own create is seen at once: its answer went. */
	assert_int_equal(
	    topics_describe(t, g.bootstrap, NULL, names[3], TIMEOUT_MS, &p, &r, err, sizeof(err)),
	    TOPICS_OK);
	topics_stats(t, &before);
	for (int i = 0; i < 4; i++)
		assert_int_equal(topics_describe(t, g.bootstrap, NULL, names[i], TIMEOUT_MS, &p, &r,
		                                 err, sizeof(err)),
		                 TOPICS_OK);
	topics_stats(t, &s);
	printf("topics_it: 4 describes after the first: %llu Metadata requests, %llu shared\n",
	       s.metadata_requests - before.metadata_requests,
	       s.metadata_shared - before.metadata_shared);
	assert_true(s.metadata_shared - before.metadata_shared >= 1);
	/* Made by another client a moment ago, while t's answer is fresh: t
	 * still finds it (an absent topic is never judged from an answer
	 * older than the call: the operator would claim, and later delete, a
	 * user's topic made just before its resource). */
	char other[128];
	snprintf(other, sizeof(other), "topics-it-%s-many-other", g.run);
	assert_int_equal(
	    topics_describe(t, g.bootstrap, NULL, names[0], TIMEOUT_MS, &p, &r, err, sizeof(err)),
	    TOPICS_OK);
	assert_int_equal(topics_create(check, g.bootstrap, NULL, other, 1, 0, TIMEOUT_MS, NULL, err,
	                               sizeof(err)),
	                 TOPICS_OK);
	assert_int_equal(
	    topics_describe(t, g.bootstrap, NULL, other, TIMEOUT_MS, &p, &r, err, sizeof(err)),
	    TOPICS_OK);
	assert_int_equal(
	    topics_delete(check, g.bootstrap, NULL, other, TIMEOUT_MS, err, sizeof(err)),
	    TOPICS_OK);
	for (int i = 0; i < 4; i++)
		assert_int_equal(
		    topics_delete(t, g.bootstrap, NULL, names[i], TIMEOUT_MS, err, sizeof(err)),
		    TOPICS_OK);
	/* Deleted through the handle: its describes ask again (the broker may
	 * list the topic a moment longer). */
	IT_WAIT_FOR(absent(t, names[0]), 30, names[0]);
	topics_free(check);
	topics_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batched_create_delete),
	    cmocka_unit_test(test_same_topic),
	    cmocka_unit_test(test_cycles_hold_bounded),
	    cmocka_unit_test(test_create_many),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
