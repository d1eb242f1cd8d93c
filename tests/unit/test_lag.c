/* Unit tests for operator/lag.c on librdkafka's mock cluster: the lag per
 * partition under both reset policies, reuse of a result across polls, a
 * broker error failing the poll with a readable line, the reader pool. The
 * real-Kafka cases (retention, Kafka's own tool) are in
 * tests/integration/lag_it.c and tests/e2e/test_lag.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kafka.h"
#include "log.h"
#include "lag.h"

#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which kafka.h includes */

#define TIMEOUT_MS 5000
/* Kafka protocol API keys (librdkafka keeps its names private). */
#define API_OFFSET_FETCH 9
#define API_LIST_OFFSETS 2

struct mock {
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *mc;
	const char *bootstrap;
};

static void mock_up(struct mock *m, const int *counts, int partitions)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	m->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(m->host);
	m->mc = rd_kafka_mock_cluster_new(m->host, 1);
	assert_non_null(m->mc);
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, "tasks", partitions, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	m->bootstrap = rd_kafka_mock_cluster_bootstraps(m->mc);

	struct kafka_config kc = {.bootstrap = m->bootstrap, .client_id = "unit"};
	rd_kafka_t *p = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	for (int part = 0; part < partitions; part++)
		for (int i = 0; i < counts[part]; i++)
			assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("tasks"),
			                                   RD_KAFKA_V_PARTITION(part),
			                                   RD_KAFKA_V_VALUE("x", 1),
			                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			                                   RD_KAFKA_V_END),
			                 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_flush(p, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}

static void mock_down(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->host);
}

static void commit(const struct mock *m, const char *group, int partitions, const int64_t *offsets)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = m->bootstrap, .client_id = "unit", .group = group};
	rd_kafka_t *c = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);

	assert_non_null(c);
	for (int p = 0; p < partitions; p++)
		if (offsets[p] >= 0)
			rd_kafka_topic_partition_list_add(l, "tasks", p)->offset = offsets[p];
	assert_int_equal(rd_kafka_commit(c, l, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

static void test_lag_per_partition(void **state)
{
	static const int counts[3] = {5, 7, 0};
	static const int64_t commits[3] = {2, -1, -1};
	struct mock m;
	struct lag_reader *r;
	struct lag_result res = {0};
	char err[512];

	(void)state;
	mock_up(&m, counts, 3);
	commit(&m, "g", 3, commits);
	assert_int_equal(lag_reader_new(m.bootstrap, &r, err, sizeof(err)), 0);

	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.partitions, 3);
	assert_int_equal(res.p[0].committed, 2);
	assert_int_equal(res.p[0].end, 5);
	assert_int_equal(res.p[0].lag, 3);
	assert_int_equal(res.p[1].committed, -1);
	assert_int_equal(res.p[1].start, 0);
	assert_int_equal(res.p[1].end, 7);
	assert_int_equal(res.p[1].lag, 7);
	assert_int_equal(res.p[2].lag, 0);
	assert_int_equal(res.total_lag, 10);
	assert_int_equal(res.uncommitted, 2);
	assert_int_equal(res.consumed, 2);
	assert_int_equal(res.lag[1], 7);

	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_LATEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.total_lag, 3);
	assert_int_equal(res.consumed, 2 + 7 + 0);

	/* A commit past the end (a reset forward) is no lag, not a negative. */
	static const int64_t ahead[3] = {9, -1, -1};
	commit(&m, "g2", 3, ahead);
	assert_int_equal(
	    lag_read(r, "g2", "tasks", LAG_RESET_LATEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.p[0].lag, 0);
	assert_int_equal(res.total_lag, 0);

	lag_result_free(&res);
	lag_reader_free(r);
	mock_down(&m);
}

/* A broker error on the group's offsets fails the poll: never read as "no
 * commit" (KEDA #4098 went to zero that way). */
static void test_broker_error_fails_the_poll(void **state)
{
	static const int counts[2] = {3, 3};
	struct mock m;
	struct lag_reader *r;
	struct lag_result res = {0};
	char err[512];

	(void)state;
	mock_up(&m, counts, 2);
	assert_int_equal(lag_reader_new(m.bootstrap, &r, err, sizeof(err)), 0);
	rd_kafka_mock_push_request_errors(m.mc, API_OFFSET_FETCH, 1,
	                                  RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), -1);
	printf("offset fetch error: %s\n", err);
	assert_non_null(strstr(err, "lag: group \"g\" offset"));
	assert_non_null(strstr(err, "GROUP_AUTHORIZATION_FAILED"));
	rd_kafka_mock_push_request_errors(m.mc, API_LIST_OFFSETS, 1,
	                                  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), -1);
	printf("list offsets error: %s\n", err);
	assert_non_null(strstr(err, "TOPIC_AUTHORIZATION_FAILED"));
	/* The next poll works again. */
	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.total_lag, 6);
	/* (An unknown topic: lag_it.c, the mock creates topics on demand.) */
	lag_result_free(&res);
	lag_reader_free(r);
	mock_down(&m);
}

static void test_pool_and_reset_names(void **state)
{
	static const int counts[1] = {1};
	struct mock m;
	struct lag_pool *pool;
	char err[512];
	enum lag_reset reset = LAG_RESET_EARLIEST;

	(void)state;
	mock_up(&m, counts, 1);
	assert_int_equal(lag_pool_new(1, &pool), 0);
	struct lag_reader *a = lag_pool_get(pool, m.bootstrap, NULL, err, sizeof(err));
	assert_non_null(a);
	assert_ptr_equal(lag_pool_get(pool, m.bootstrap, NULL, err, sizeof(err)), a);
	assert_string_equal(lag_reader_bootstrap(a), m.bootstrap);
	assert_null(lag_pool_get(pool, "127.0.0.1:1", NULL, err, sizeof(err)));
	assert_string_equal(err, "lag: too many Kafka clusters (1)");
	lag_pool_free(pool);
	lag_pool_free(NULL);
	lag_reader_free(NULL);
	mock_down(&m);

	assert_int_equal(lag_reset_parse("latest", &reset), 0);
	assert_int_equal(reset, LAG_RESET_LATEST);
	assert_int_equal(lag_reset_parse("earliest", &reset), 0);
	assert_int_equal(reset, LAG_RESET_EARLIEST);
	assert_int_equal(lag_reset_parse("Earliest", &reset), -1);
	assert_int_equal(lag_reset_parse(NULL, &reset), -1);
	assert_int_equal(reset, LAG_RESET_EARLIEST);
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
	    cmocka_unit_test(test_lag_per_partition),
	    cmocka_unit_test(test_broker_error_fails_the_poll),
	    cmocka_unit_test(test_pool_and_reset_names),
	};

	return cmocka_run_group_tests(tests, quiet, NULL);
}
