/*
 * kafka_coop_it.c - lib/kafka.c's consumers against REAL Kafka from the
 * test stack, with cooperative-sticky (the workers' strategy):
 *
 *   - consumers closed before their first rebalance completes, five at a
 *     time in one group (the shape of librdkafka#4312's reproducer), ten
 *     rounds: with kafka_consumer_close/_destroy none aborts the process
 *     (librdkafka 2.0.2 does, in rd_kafka_destroy, without the wait);
 *   - two members of one group on a 6-partition topic: when the second
 *     joins, the first gives up only the partitions that move (one revoke
 *     of 3), and keeps the other 3 without a revoke;
 *   - with "range" forced, the first member is revoked all 6 (eager).
 *
 * Needs build/stack.env (KAFKA_BOOTSTRAP), as `make integration` sources
 * it. Every run makes topics and groups of its own (pid and time in the
 * names).
 *
 *   make build/tests/kafka_coop_it && . build/stack.env && build/tests/kafka_coop_it
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

#include "clock.h"
#include "kafka.h"
#include "kafka_meta.h"
#include "log.h"

#define TIMEOUT_MS 30000
#define PARTITIONS 6

static struct {
	const char *bootstrap;
	char run[48];
	rd_kafka_t *admin;
} g;

static int setup(void **state)
{
	char err[512];
	struct kafka_config kc = {.client_id = "kafka-coop-it"};

	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	g.bootstrap = getenv("KAFKA_BOOTSTRAP");
	if (g.bootstrap == NULL || g.bootstrap[0] == '\0') {
		fprintf(stderr, "kafka_coop_it: KAFKA_BOOTSTRAP is not set (make stack-up)\n");
		return -1;
	}
	snprintf(g.run, sizeof(g.run), "%ld-%ld", (long)getpid(), (long)time(NULL));
	kc.bootstrap = g.bootstrap;
	g.admin = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	if (g.admin == NULL) {
		fprintf(stderr, "kafka_coop_it: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rd_kafka_destroy(g.admin);
	return 0;
}

static void make_topic(const char *topic)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = g.bootstrap, .client_id = "kafka-coop-it"};

	assert_int_equal(
	    kafka_topic_create(g.admin, topic, PARTITIONS, 1, TIMEOUT_MS, err, sizeof(err)), 0);
	if (kafka_topic_wait(g.admin, &kc, topic, PARTITIONS, TIMEOUT_MS, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* One member's view of its rebalances. */
struct member {
	int assigned; /* the first assignment came (kafka_consumer_close's flag) */
	int held[PARTITIONS];
	int revokes;      /* revoke callbacks */
	int revoked;      /* partitions they named */
	int revoked_kept; /* revokes of a partition the member holds at the end */
	int revoked_mask; /* which partitions were ever revoked */
};

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct member *m = opaque;
	char e[256];

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		m->assigned = 1;
		for (int i = 0; i < parts->cnt; i++)
			m->held[parts->elems[i].partition] = 1;
		if (kafka_rebalance_assign(rk, parts, e, sizeof(e)) < 0)
			fprintf(stderr, "kafka_coop_it: %s\n", e);
		return;
	}
	m->revokes++;
	m->revoked += parts->cnt;
	for (int i = 0; i < parts->cnt; i++) {
		m->held[parts->elems[i].partition] = 0;
		m->revoked_mask |= 1 << parts->elems[i].partition;
	}
	if (kafka_rebalance_revoke(rk, parts, e, sizeof(e)) < 0)
		fprintf(stderr, "kafka_coop_it: %s\n", e);
}

static int held(const struct member *m)
{
	int n = 0;
	for (int i = 0; i < PARTITIONS; i++)
		n += m->held[i];
	return n;
}

static rd_kafka_t *member_new(const char *group, const char *topic, const char *strategy,
                              struct member *m)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = g.bootstrap,
	                          .client_id = "kafka-coop-it",
	                          .group = group,
	                          .session_timeout_ms = 10000,
	                          .assignment_strategy = strategy};
	rd_kafka_t *rk = kafka_consumer_new(&kc, on_rebalance, m, err, sizeof(err));
	if (rk == NULL)
		fail_msg("%s", err);
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(topics);
	return rk;
}

static void poll_once(rd_kafka_t *rk, int ms)
{
	rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, ms);
	if (msg != NULL)
		rd_kafka_message_destroy(msg);
}

static void member_close(rd_kafka_t *rk, struct member *m, int expect_destroy_ok)
{
	char err[512];
	int ok = -1;

	assert_int_equal(
	    kafka_consumer_close(rk, &m->assigned, KAFKA_CLOSE_WAIT_MS, &ok, err, sizeof(err)), 0);
	if (expect_destroy_ok >= 0)
		assert_int_equal(ok, expect_destroy_ok);
	kafka_consumer_destroy(rk, ok);
}

/* ---- closing before the first rebalance completes ---- */

#define EARLY_MEMBERS 5
#define EARLY_ROUNDS 4

struct early {
	const char *group, *topic;
	int poll_ms; /* how long it polls before it closes */
	int was_assigned, destroy_ok, close_rc;
};

static void *early_member(void *arg)
{
	struct early *e = arg;
	struct member m = {0};
	char err[512];
	struct kafka_config kc = {.bootstrap = g.bootstrap,
	                          .client_id = "kafka-coop-it-early",
	                          .group = e->group,
	                          .session_timeout_ms = 10000,
	                          .assignment_strategy = KAFKA_STRATEGY_COOPERATIVE};
	rd_kafka_t *rk = kafka_consumer_new(&kc, on_rebalance, &m, err, sizeof(err));
	if (rk == NULL) {
		e->close_rc = -2;
		return NULL;
	}
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, e->topic, RD_KAFKA_PARTITION_UA);
	(void)rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	poll_once(rk, e->poll_ms);
	e->was_assigned = m.assigned;
	e->close_rc = kafka_consumer_close(rk, &m.assigned, KAFKA_CLOSE_WAIT_MS, &e->destroy_ok,
	                                   err, sizeof(err));
	kafka_consumer_destroy(rk, e->destroy_ok);
	return NULL;
}

static void test_close_before_first_rebalance(void **state)
{
	char topic[96], group[96];
	int unassigned = 0;

	(void)state;
	snprintf(topic, sizeof(topic), "coop-early-%s", g.run);
	snprintf(group, sizeof(group), "coop-early-%s", g.run);
	make_topic(topic);
	srand((unsigned)time(NULL));
	for (int round = 0; round < EARLY_ROUNDS; round++) {
		pthread_t th[EARLY_MEMBERS];
		struct early e[EARLY_MEMBERS];
		for (int i = 0; i < EARLY_MEMBERS; i++) {
			e[i] = (struct early){
			    .group = group, .topic = topic, .poll_ms = rand() % 1000};
			assert_int_equal(pthread_create(&th[i], NULL, early_member, &e[i]), 0);
		}
		for (int i = 0; i < EARLY_MEMBERS; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(e[i].close_rc, 0);
			/* The brokers are up: every join completes within the wait. */
			assert_int_equal(e[i].destroy_ok, 1);
			unassigned += !e[i].was_assigned;
		}
	}
	/* The case that matters happened: members closing unassigned. */
	fprintf(stderr, "kafka_coop_it: %d of %d members closed before their first assignment\n",
	        unassigned, EARLY_MEMBERS * EARLY_ROUNDS);
	assert_true(unassigned > 0);
}

/* ---- a second member joins ---- */

/* Polls both until a holds want_a and b want_b partitions (and b has had
 * its first assignment), at most TIMEOUT_MS. */
static void settle(rd_kafka_t *ra, struct member *a, rd_kafka_t *rb, struct member *b, int want_a,
                   int want_b)
{
	int64_t deadline = clock_mono_ms() + TIMEOUT_MS;

	while (clock_mono_ms() < deadline) {
		poll_once(ra, 50);
		if (rb != NULL)
			poll_once(rb, 50);
		if (held(a) == want_a && (b == NULL || (b->assigned && held(b) == want_b)))
			break;
	}
	assert_int_equal(held(a), want_a);
	if (b != NULL)
		assert_int_equal(held(b), want_b);
}

/* Runs the scene; *seen is a's view once both settled, before either
 * closes (closing revokes the rest). */
static void second_member_joins(const char *strategy, const char *tag, struct member *seen)
{
	struct member m_a = {0}, m_b = {0}, *a = &m_a, *b = &m_b;
	char topic[96], group[96];

	snprintf(topic, sizeof(topic), "coop-%s-%s", tag, g.run);
	snprintf(group, sizeof(group), "coop-%s-%s", tag, g.run);
	make_topic(topic);
	rd_kafka_t *ra = member_new(group, topic, strategy, a);
	settle(ra, a, NULL, NULL, PARTITIONS, 0);
	assert_int_equal(a->revokes, 0);
	rd_kafka_t *rb = member_new(group, topic, strategy, b);
	settle(ra, a, rb, b, PARTITIONS / 2, PARTITIONS / 2);
	/* Whatever a holds now it never gave up along the way? */
	for (int i = 0; i < PARTITIONS; i++)
		if (a->held[i] && (a->revoked_mask & (1 << i)))
			a->revoked_kept++;
	*seen = *a;
	member_close(rb, b, 1);
	member_close(ra, a, 1);
}

static void test_second_member_cooperative(void **state)
{
	struct member a;

	(void)state;
	second_member_joins(KAFKA_STRATEGY_COOPERATIVE, "coop", &a);
	/* a gave up exactly the 3 partitions that moved, in one revoke... */
	assert_int_equal(a.revokes, 1);
	assert_int_equal(a.revoked, PARTITIONS / 2);
	/* ...and kept the other 3 without a revoke of them. */
	assert_int_equal(a.revoked_kept, 0);
}

static void test_second_member_range(void **state)
{
	struct member a;

	(void)state;
	second_member_joins(KAFKA_STRATEGY_EAGER, "range", &a);
	/* Eager: a is revoked everything, then given half back. */
	assert_int_equal(a.revokes, 1);
	assert_int_equal(a.revoked, PARTITIONS);
	assert_int_equal(a.revoked_kept, PARTITIONS / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_close_before_first_rebalance),
	    cmocka_unit_test(test_second_member_cooperative),
	    cmocka_unit_test(test_second_member_range),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
