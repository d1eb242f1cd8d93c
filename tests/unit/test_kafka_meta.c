/* Unit tests for lib/kafka.c's kafka_meta (issue 19) on librdkafka's mock
 * cluster (three brokers): describes share one all-topics answer until it
 * is max_age_ms old or invalidated, but a topic absent from it is asked
 * for again; a wait for several topics asks every
 * broker through probes that are kept across waits (none for a single
 * broker); a topic that never comes times out alone, the ready ones say so. The real cluster's
 * answers are tests/integration/topics_it.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafka.h"
#include "kafka_meta.h"

#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which kafka.h includes */

#define TIMEOUT_MS 5000
#define BROKERS 3
/* Long enough that a test never sees the answer expire by itself. */
#define AGE_MS 600000

struct mock {
	rd_kafka_t *host, *client;
	rd_kafka_mock_cluster_t *mc;
	struct kafka_config kc;
};

static void mock_up_n(struct mock *m, int brokers)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	memset(m, 0, sizeof(*m));
	m->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(m->host);
	m->mc = rd_kafka_mock_cluster_new(m->host, brokers);
	assert_non_null(m->mc);
	m->kc = (struct kafka_config){.bootstrap = rd_kafka_mock_cluster_bootstraps(m->mc),
	                              .client_id = "test-kafka-meta"};
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, "one", 2, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, "two", 4, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	m->client = kafka_producer_new(&m->kc, NULL, NULL, err, sizeof(err));
	assert_non_null(m->client);
}

static void mock_up(struct mock *m)
{
	mock_up_n(m, BROKERS);
}

static void mock_down(struct mock *m)
{
	rd_kafka_destroy(m->client);
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->host);
}

static void describe_ok(struct kafka_meta *km, const char *topic, int partitions)
{
	char err[512];
	int p = 0, r = 0;

	if (kafka_meta_describe(km, topic, TIMEOUT_MS, &p, &r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", topic, err);
	assert_int_equal(p, partitions);
	assert_true(r >= 1); /* the mock gives what it likes */
}

static void test_describes_share_an_answer(void **state)
{
	struct kafka_meta_stats s;
	struct mock m;
	char err[512];
	int p, r, brokers = 0;

	(void)state;
	mock_up(&m);
	struct kafka_meta *km = kafka_meta_new(m.client, AGE_MS);
	assert_non_null(km);
	describe_ok(km, "one", 2);
	describe_ok(km, "two", 4);
	assert_int_equal(kafka_meta_brokers(km, TIMEOUT_MS, &brokers, err, sizeof(err)), 0);
	assert_int_equal(brokers, BROKERS);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.answers_shared, 2);
	/* A topic the answer lacks: asked again (an absent topic is never
	 * judged from an answer older than the call), then
	 * kafka_topic_describe's words. */
	assert_int_equal(kafka_meta_describe(km, "missing", TIMEOUT_MS, &p, &r, err, sizeof(err)),
	                 KAFKA_ERR);
	assert_non_null(strstr(err, "metadata of topic \"missing\""));
	assert_non_null(strstr(err, "UNKNOWN_TOPIC_OR_PART"));
	kafka_meta_stats(km, &s);
	assert_int_equal(s.requests, 2);

	/* Made meanwhile by another client: found at once, for the same
	 * reason; a topic the answer has is answered from it. */
	assert_int_equal(rd_kafka_mock_topic_create(m.mc, "three", 1, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	describe_ok(km, "three", 1);
	describe_ok(km, "one", 2);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.requests, 3);
	/* Invalidated (the handle changed a topic): the next call asks. */
	kafka_meta_invalidate(km);
	describe_ok(km, "one", 2);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.requests, 4);

	/* Created through the handle: described from its note, no request
	 * (the mock has no "four": only the note can say it is there). */
	kafka_meta_created(km, "four", 3, 1);
	describe_ok(km, "four", 3);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.requests, 4);
	/* An invalidation drops the notes too. */
	kafka_meta_invalidate(km);
	assert_int_equal(kafka_meta_describe(km, "four", TIMEOUT_MS, &p, &r, err, sizeof(err)),
	                 KAFKA_ERR);
	/* A note is superseded by an answer fetched after it. */
	kafka_meta_created(km, "four", 3, 1);
	kafka_meta_invalidate(km); /* drops it; a new note, then a newer answer */
	kafka_meta_created(km, "four", 3, 1);
	describe_ok(km, "one", 2); /* the first answer since: lists no "four" */
	assert_int_equal(kafka_meta_describe(km, "four", TIMEOUT_MS, &p, &r, err, sizeof(err)),
	                 KAFKA_ERR);
	kafka_meta_free(km);

	/* max_age_ms 0: every call asks. */
	km = kafka_meta_new(m.client, 0);
	assert_non_null(km);
	describe_ok(km, "one", 2);
	describe_ok(km, "one", 2);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.requests, 2);
	assert_int_equal(s.answers_shared, 0);
	kafka_meta_free(km);
	mock_down(&m);
}

static void test_wait_keeps_probes(void **state)
{
	struct kafka_topic_want w[2] = {{"one", 2, 0}, {"two", 4, 0}};
	struct kafka_meta_stats s;
	struct mock m;
	char err[512];

	(void)state;
	mock_up(&m);
	struct kafka_meta *km = kafka_meta_new(m.client, AGE_MS);
	assert_non_null(km);
	if (kafka_meta_wait(km, &m.kc, w, 2, TIMEOUT_MS, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(w[0].ready && w[1].ready);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.probes_made, BROKERS);
	assert_int_equal(s.probes_open, BROKERS);
	/* Again: the same probes, no new handle. */
	assert_int_equal(kafka_meta_wait(km, &m.kc, w, 1, TIMEOUT_MS, err, sizeof(err)), 0);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.probes_made, BROKERS);

	/* Fewer partitions than asked for: that topic times out, the other
	 * is ready. */
	struct kafka_topic_want more[2] = {{"one", 3, 0}, {"two", 4, 0}};
	assert_int_equal(kafka_meta_wait(km, &m.kc, more, 2, 300, err, sizeof(err)), KAFKA_ERR);
	assert_non_null(strstr(err, "TIMED_OUT"));
	assert_non_null(strstr(err, "2 of 3 partitions"));
	assert_false(more[0].ready);
	assert_true(more[1].ready);
	kafka_meta_free(km);

	/* The one-off form still works, and leaves no probe behind. */
	assert_int_equal(kafka_topic_wait(m.client, &m.kc, "two", 4, TIMEOUT_MS, err, sizeof(err)),
	                 0);
	mock_down(&m);
}

/* One broker: the client's own handle asks it, no probe is made. */
static void test_wait_one_broker(void **state)
{
	struct kafka_topic_want w = {"two", 4, 0};
	struct kafka_meta_stats s;
	struct mock m;
	char err[512];

	(void)state;
	mock_up_n(&m, 1);
	struct kafka_meta *km = kafka_meta_new(m.client, AGE_MS);
	assert_non_null(km);
	if (kafka_meta_wait(km, &m.kc, &w, 1, TIMEOUT_MS, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(w.ready);
	kafka_meta_stats(km, &s);
	assert_int_equal(s.probes_made, 0);
	assert_int_equal(s.probes_open, 0);
	kafka_meta_free(km);
	mock_down(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_describes_share_an_answer),
	    cmocka_unit_test(test_wait_keeps_probes),
	    cmocka_unit_test(test_wait_one_broker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
