/* Unit tests for lib/kafka.c: error text, the source string, refused
 * configurations, and, on librdkafka's mock cluster, a consumer made by
 * kafka_consumer_new that joins its group through the rebalance helpers,
 * commits an offset with checkpoint metadata, and a second client of the
 * group that reads both back (the telemetry worker's restore path). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "log.h"

#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which kafka.h includes */

static void test_error_text(void **state)
{
	char buf[256], err[256];

	(void)state;
	assert_string_equal(
	    kafka_strerror(buf, sizeof(buf), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
	    "Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)");
	assert_int_equal(kafka_fail(err, sizeof(err), "commit", RD_KAFKA_RESP_ERR__TIMED_OUT),
	                 KAFKA_ERR);
	assert_string_equal(err, "kafka: commit: Local: Timed out (_TIMED_OUT)");
	assert_int_equal(kafka_fail_error(err, sizeof(err), "x", NULL), 0);
	rd_kafka_error_t *e =
	    rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "Erroneous state: %s", "testing");
	assert_int_equal(kafka_fail_error(err, sizeof(err), "assign", e), KAFKA_ERR);
	assert_string_equal(err, "kafka: assign: Erroneous state: testing (_STATE)");
	/* Cut, never overrun. */
	char small[12];
	kafka_fail(small, sizeof(small), "commit", RD_KAFKA_RESP_ERR__TIMED_OUT);
	assert_string_equal(small, "kafka: comm");
}

static void test_source(void **state)
{
	char buf[KAFKA_SOURCE_MAX];

	(void)state;
	assert_string_equal(kafka_source(buf, sizeof(buf), "events", 3, 1234), "events/3/1234");
	assert_string_equal(kafka_source(buf, sizeof(buf), "events", 0, -1001), "events/0/-");
	char small[8];
	assert_string_equal(kafka_source(small, sizeof(small), "events", 3, 1234), "events/");
}

static void test_message_timeout_env(void **state)
{
	char buf[16], err[256];

	(void)state;
	unsetenv(KAFKA_MESSAGE_TIMEOUT_ENV);
	assert_string_equal(kafka_message_timeout("0", buf, sizeof(buf), err, sizeof(err)), "0");
	setenv(KAFKA_MESSAGE_TIMEOUT_ENV, "", 1);
	assert_string_equal(kafka_message_timeout("300000", buf, sizeof(buf), err, sizeof(err)),
	                    "300000");
	setenv(KAFKA_MESSAGE_TIMEOUT_ENV, "5000", 1);
	assert_string_equal(kafka_message_timeout("0", buf, sizeof(buf), err, sizeof(err)), "5000");
	setenv(KAFKA_MESSAGE_TIMEOUT_ENV, "0007", 1);
	assert_string_equal(kafka_message_timeout("0", buf, sizeof(buf), err, sizeof(err)), "7");
	setenv(KAFKA_MESSAGE_TIMEOUT_ENV, "2147483647", 1);
	assert_non_null(kafka_message_timeout("0", buf, sizeof(buf), err, sizeof(err)));
	static const char *const bad[] = {"5s", "-1", "2147483648", "99999999999999999999",
	                                  " 5", "1.5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv(KAFKA_MESSAGE_TIMEOUT_ENV, bad[i], 1);
		assert_null(kafka_message_timeout("0", buf, sizeof(buf), err, sizeof(err)));
		assert_non_null(strstr(err, "SLUICE_KAFKA_MESSAGE_TIMEOUT_MS: \""));
		assert_non_null(strstr(err, "is not a number of milliseconds"));
	}
	unsetenv(KAFKA_MESSAGE_TIMEOUT_ENV);
}

static void test_refused_configs(void **state)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = "127.0.0.1:1", .client_id = "t"};

	(void)state;
	assert_null(kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "kafka: group.id: required for a consumer");
	kc.bootstrap = "";
	kc.group = "g";
	assert_null(kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "kafka: bootstrap.servers: required");
	kc.bootstrap = "127.0.0.1:1";
	kc.client_id = NULL;
	assert_null(kafka_producer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "kafka: client.id: required");
	kc.client_id = "t";
	static const char *const bad[] = {"no.such.property", "1", NULL};
	kc.extra = bad;
	assert_null(kafka_producer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "kafka: no.such.property=1: "));
	static const char *const odd[] = {"linger.ms", NULL};
	kc.extra = odd;
	assert_null(kafka_producer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err, "kafka: linger.ms: property without a value");
	/* A good configuration builds (nothing connects until it is used). */
	kc.extra = NULL;
	kc.session_timeout_ms = 6000;
	rd_kafka_t *rk = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_destroy(rk);
}

struct member {
	int assigned; /* rebalance callbacks that assigned */
	int64_t offset;
	char meta[64];
};

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct member *m = opaque;
	char e[256];

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* As the worker does: read commits and their metadata first. */
		assert_int_equal(rd_kafka_committed(rk, parts, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
		for (int i = 0; i < parts->cnt; i++) {
			if (parts->elems[i].partition != 1)
				continue;
			m->offset = parts->elems[i].offset;
			snprintf(m->meta, sizeof(m->meta), "%.*s",
			         (int)parts->elems[i].metadata_size,
			         parts->elems[i].metadata != NULL ? (char *)parts->elems[i].metadata
			                                          : "");
		}
		assert_int_equal(kafka_rebalance_assign(rk, parts, e, sizeof(e)), 0);
		m->assigned++;
	} else {
		assert_int_equal(kafka_rebalance_revoke(rk, parts, e, sizeof(e)), 0);
	}
}

/* librdkafka's mock cluster of one broker, hosted by *host (destroy the
 * cluster, then the host), with topic of partitions partitions. */
static rd_kafka_mock_cluster_t *mock_cluster(const char *topic, int partitions, rd_kafka_t **host)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	*host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(*host);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(*host, 1);
	assert_non_null(mc);
	assert_int_equal(rd_kafka_mock_topic_create(mc, topic, partitions, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	return mc;
}

static rd_kafka_t *join(const char *bootstrap, struct member *m)
{
	char err[512];
	struct kafka_config kc = {
	    .bootstrap = bootstrap, .client_id = "unit", .group = "g", .session_timeout_ms = 6000};
	rd_kafka_t *rk = kafka_consumer_new(&kc, on_rebalance, m, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, "events", RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(topics);
	time_t deadline = time(NULL) + 30;
	while (m->assigned == 0 && time(NULL) < deadline) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
		if (msg != NULL)
			rd_kafka_message_destroy(msg);
	}
	assert_int_equal(m->assigned, 1);
	return rk;
}

static void test_commit_metadata_round_trip(void **state)
{
	char err[512];

	(void)state;
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *mc = mock_cluster("events", 2, &host);
	const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);

	struct member first = {0};
	rd_kafka_t *rk = join(bootstrap, &first);
	assert_true(first.offset < 0); /* nothing committed yet */
	/* The fetcher's wake-up: a ListOffsets round trip to the leader... */
	assert_int_equal(kafka_wake_fetcher(rk, 5000), 0);
	/* ...which fails, changing nothing, while the broker is away. */
	assert_int_equal(rd_kafka_mock_broker_set_down(mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(kafka_wake_fetcher(rk, 300), KAFKA_ERR);
	/* The waker does it off the caller's thread, one at a time: while a
	 * failed one rests, a poke starts nothing; freeing ends the rest. */
	struct kafka_waker *w = kafka_waker_new(rk, 300, 60000, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(kafka_waker_poke(w), 1);
	assert_int_equal(kafka_waker_poke(w), 0);
	kafka_waker_free(w);
	assert_int_equal(rd_kafka_mock_broker_set_up(mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(list, "events", 1);
	static char meta[] = "tw1 4000000000 1000000000 5000000000";
	e->offset = 2;
	e->metadata = meta;
	e->metadata_size = strlen(meta);
	assert_int_equal(rd_kafka_commit(rk, list, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	e->metadata = NULL;
	e->metadata_size = 0;
	rd_kafka_topic_partition_list_destroy(list);
	/* Assigned already: closes without waiting, and may be destroyed. */
	int destroy_ok = 0;
	assert_int_equal(
	    kafka_consumer_close(rk, &first.assigned, 1000, &destroy_ok, err, sizeof(err)), 0);
	assert_int_equal(destroy_ok, 1);
	kafka_consumer_destroy(rk, destroy_ok);

	/* Another member of the group reads both back, as a new owner does
	 * (without joining: the mock waits out a session before a second
	 * join). */
	struct kafka_config kc = {.bootstrap = bootstrap, .client_id = "unit2", .group = "g"};
	rk = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(rk);
	list = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(list, "events", 0);
	rd_kafka_topic_partition_list_add(list, "events", 1);
	assert_int_equal(rd_kafka_committed(rk, list, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_true(list->elems[0].offset < 0);
	assert_int_equal(list->elems[1].offset, 2);
	assert_int_equal(list->elems[1].metadata_size, strlen(meta));
	assert_memory_equal(list->elems[1].metadata, meta, strlen(meta));
	rd_kafka_topic_partition_list_destroy(list);
	rd_kafka_destroy(rk);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
}

static void test_reaper_destroys_every_message(void **state)
{
	enum { N = 2 * KAFKA_REAPER_SLICE + 100 }; /* full slices and a partial one */
	char err[512];

	(void)state;
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *mc = mock_cluster("r", 1, &host);
	const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
	struct kafka_config pc = {.bootstrap = bootstrap, .client_id = "unit-p"};
	rd_kafka_t *p = kafka_producer_new(&pc, NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	for (int i = 0; i < N; i++)
		assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("r"),
		                                   RD_KAFKA_V_PARTITION(0),
		                                   RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_END),
		                 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);

	struct kafka_config kc = {.bootstrap = bootstrap, .client_id = "unit-c", .group = "r"};
	rd_kafka_t *rk = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, "r", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(list);
	struct kafka_reaper *r = kafka_reaper_new(err, sizeof(err));
	assert_non_null(r);
	int got = 0;
	time_t deadline = time(NULL) + 30;
	while (got < N && time(NULL) < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			got++;
		kafka_reaper_put(r, m);
	}
	assert_int_equal(got, N);
	kafka_reaper_flush(r); /* the partial slice, handed over */
	kafka_reaper_flush(r); /* nothing left to hand over: a no-op */
	/* Every message destroyed before the consumer goes: a message still
	 * held would keep it from closing, and leak under the sanitizers. */
	kafka_reaper_drain(r);
	/* Never subscribed (assigned by hand): no group to wait for. */
	int never = 0, destroy_ok = 0;
	assert_int_equal(kafka_consumer_close(rk, &never, 60000, &destroy_ok, err, sizeof(err)), 0);
	assert_int_equal(destroy_ok, 1);
	kafka_consumer_destroy(rk, destroy_ok);
	kafka_reaper_free(r);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
}

static int quiet(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_ERROR); /* librdkafka's connection noise */
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_text),
	    cmocka_unit_test(test_source),
	    cmocka_unit_test(test_message_timeout_env),
	    cmocka_unit_test(test_refused_configs),
	    cmocka_unit_test(test_commit_metadata_round_trip),
	    cmocka_unit_test(test_reaper_destroys_every_message),
	};

	return cmocka_run_group_tests(tests, quiet, NULL);
}
