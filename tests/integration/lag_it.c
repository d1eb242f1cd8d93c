/*
 * lag_it.c - operator/lag.c against REAL Kafka from the test stack: a topic
 * with known offsets, a group with known commits, and the lag read back
 * partition by partition; messages deleted by retention (DeleteRecords)
 * must not count; errors must read well.
 *
 * Needs build/stack.env (KAFKA_BOOTSTRAP), as `make integration` sources
 * it. Every run makes topics and groups of its own (pid and time in the
 * names). With LAG_IT_JSON=1 the first test prints one line
 *   LAG_JSON {"topic": ..., "group": ..., "partitions": [...]}
 * that tests/e2e/test_lag.py compares with Kafka's own consumer-group tool.
 *
 *   make build/tests/lag_it && . build/stack.env && build/tests/lag_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "kafka.h"
#include "lag.h"

#include "lag_assert.h"

#define TIMEOUT_MS 10000

static struct {
	const char *bootstrap;
	char run[48];
	rd_kafka_t *producer;
} g;

static int setup(void **state)
{
	char err[512];
	struct kafka_config kc = {.client_id = "lag-it"};

	(void)state;
	g.bootstrap = getenv("KAFKA_BOOTSTRAP");
	if (g.bootstrap == NULL || g.bootstrap[0] == '\0') {
		fprintf(stderr, "lag_it: KAFKA_BOOTSTRAP is not set (make stack-up)\n");
		return -1;
	}
	snprintf(g.run, sizeof(g.run), "%ld-%ld", (long)getpid(), (long)time(NULL));
	kc.bootstrap = g.bootstrap;
	g.producer = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	if (g.producer == NULL) {
		fprintf(stderr, "lag_it: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (g.producer != NULL) {
		rd_kafka_flush(g.producer, TIMEOUT_MS);
		rd_kafka_destroy(g.producer);
	}
	return 0;
}

/* A topic of the run with per-partition message counts. */
static void make_topic(const char *topic, int partitions, const int *counts)
{
	char err[512];

	assert_int_equal(
	    kafka_topic_create(g.producer, topic, partitions, 1, TIMEOUT_MS, err, sizeof(err)), 0);
	for (int p = 0; p < partitions; p++)
		for (int i = 0; i < counts[p]; i++) {
			char v[32];
			int n = snprintf(v, sizeof(v), "m%d-%d", p, i);
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    g.producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
			    RD_KAFKA_V_VALUE(v, (size_t)n),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
			rd_kafka_poll(g.producer, 0);
		}
	assert_int_equal(rd_kafka_flush(g.producer, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Commits offsets[p] for each p with offsets[p] >= 0, as group's member
 * would after processing that far (a consumer of the group, no
 * subscription: the same OffsetCommit the workers send). */
static void commit(const char *group, const char *topic, int partitions, const int64_t *offsets)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = g.bootstrap, .client_id = "lag-it", .group = group};
	rd_kafka_t *c = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);

	assert_non_null(c);
	for (int p = 0; p < partitions; p++)
		if (offsets[p] >= 0)
			rd_kafka_topic_partition_list_add(l, topic, p)->offset = offsets[p];
	assert_int_equal(rd_kafka_commit(c, l, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

/* Deletes partition p's records before offset, as retention would. */
static void delete_before(const char *topic, int p, int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_queue_t *q = rd_kafka_queue_new(g.producer);

	rd_kafka_topic_partition_list_add(l, topic, p)->offset = offset;
	rd_kafka_DeleteRecords_t *d = rd_kafka_DeleteRecords_new(l);
	rd_kafka_DeleteRecords(g.producer, &d, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
	assert_non_null(ev);
	assert_int_equal(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR);
	const rd_kafka_topic_partition_list_t *res =
	    rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
	assert_int_equal(res->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_event_destroy(ev);
	rd_kafka_DeleteRecords_destroy(d);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_queue_destroy(q);
}

static void print_json(const char *topic, const char *group, const struct lag_result *r)
{
	printf("LAG_JSON {\"bootstrap\": \"%s\", \"topic\": \"%s\", \"group\": \"%s\", "
	       "\"total_lag\": %" PRId64 ", \"partitions\": [",
	       g.bootstrap, topic, group, r->total_lag);
	for (int32_t i = 0; i < r->partitions; i++)
		printf("%s{\"partition\": %" PRId32 ", \"committed\": %" PRId64
		       ", \"start\": %" PRId64 ", \"end\": %" PRId64 ", \"lag\": %" PRId64 "}",
		       i ? ", " : "", r->p[i].partition, r->p[i].committed, r->p[i].start,
		       r->p[i].end, r->p[i].lag);
	printf("]}\n");
	fflush(stdout);
}

/* Produce N per partition, commit M in some: lag = N - M; uncommitted
 * partitions count whole (earliest) or not at all (latest). */
static void test_lag_is_end_minus_committed(void **state)
{
	static const int counts[4] = {10, 20, 30, 40};
	static const int64_t commits[4] = {4, 20, -1, -1};
	char topic[96], group[96], err[512];
	struct lag_reader *r;
	struct lag_result res = {0};

	(void)state;
	snprintf(topic, sizeof(topic), "lag-it-%s", g.run);
	snprintf(group, sizeof(group), "lag-it-g-%s", g.run);
	make_topic(topic, 4, counts);
	commit(group, topic, 4, commits);

	assert_int_equal(lag_reader_new(g.bootstrap, &r, err, sizeof(err)), 0);
	assert_string_equal(lag_reader_bootstrap(r), g.bootstrap);
	assert_int_equal(
	    lag_read(r, group, topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.partitions, 4);
	static const int64_t want[4] = {6, 0, 30, 40};
	for (int p = 0; p < 4; p++) {
		assert_int_equal(res.p[p].partition, p);
		assert_int_equal(res.p[p].start, 0);
		assert_int_equal(res.p[p].end, counts[p]);
		assert_int_equal(res.p[p].committed, commits[p]);
		assert_int_equal(res.p[p].lag, want[p]);
		assert_int_equal(res.lag[p], want[p]);
	}
	assert_int_equal(res.total_lag, 76);
	assert_int_equal(res.uncommitted, 2);
	assert_int_equal(res.consumed, 24);
	if (getenv("LAG_IT_JSON") != NULL)
		print_json(topic, group, &res);

	/* latest: a partition without a commit is no lag. The same result
	 * struct, reused. */
	assert_int_equal(
	    lag_read(r, group, topic, LAG_RESET_LATEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.total_lag, 6);
	assert_int_equal(res.consumed, 4 + 20 + 30 + 40);

	/* Progress: commit more, read again with the same reader. (Another
	 * group, so that the first stays as printed for test_lag.py.) */
	static const int64_t more[4] = {10, 20, 30, 1};
	char group2[120];
	snprintf(group2, sizeof(group2), "%s-2", group);
	commit(group2, topic, 4, commits);
	assert_int_equal(
	    lag_read(r, group2, topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.total_lag, 76);
	commit(group2, topic, 4, more);
	assert_int_equal(
	    lag_read(r, group2, topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.total_lag, 0 + 0 + 0 + 39);
	assert_int_equal(res.uncommitted, 0);

	/* A group that never committed: everything is lag. */
	assert_int_equal(lag_read(r, "lag-it-nobody", topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res,
	                          err, sizeof(err)),
	                 0);
	assert_int_equal(res.total_lag, 100);
	assert_int_equal(res.uncommitted, 4);
	lag_result_free(&res);
	lag_result_free(&res);
	lag_reader_free(r);
}

/* Retention: the start offset, not 0, bounds the lag (KEDA #7936), also
 * for a commit older than the start. */
static void test_deleted_messages_are_not_lag(void **state)
{
	static const int counts[3] = {20, 40, 10};
	static const int64_t commits[3] = {-1, 5, -1};
	char topic[96], group[96], err[512];
	struct lag_reader *r;
	struct lag_result res = {0};

	(void)state;
	snprintf(topic, sizeof(topic), "lag-it-ret-%s", g.run);
	snprintf(group, sizeof(group), "lag-it-ret-g-%s", g.run);
	make_topic(topic, 3, counts);
	commit(group, topic, 3, commits);
	delete_before(topic, 0, 10);
	delete_before(topic, 1, 15);

	assert_int_equal(lag_reader_new(g.bootstrap, &r, err, sizeof(err)), 0);
	assert_int_equal(
	    lag_read(r, group, topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	assert_int_equal(res.p[0].start, 10);
	assert_int_equal(res.p[0].lag, 10); /* not 20 */
	assert_int_equal(res.p[1].start, 15);
	assert_int_equal(res.p[1].committed, 5);
	assert_int_equal(res.p[1].position, 15);
	assert_int_equal(res.p[1].lag, 25); /* not 35 */
	assert_int_equal(res.p[2].lag, 10);
	assert_int_equal(res.total_lag, 45);
	lag_result_free(&res);
	lag_reader_free(r);
}

static void test_errors_read_well(void **state)
{
	char topic[96], err[512];
	struct lag_reader *r;
	struct lag_result res = {0};

	(void)state;
	snprintf(topic, sizeof(topic), "lag-it-missing-%s", g.run);
	assert_int_equal(lag_reader_new(g.bootstrap, &r, err, sizeof(err)), 0);
	assert_int_equal(lag_read(r, "g", topic, LAG_RESET_EARLIEST, 3000, &res, err, sizeof(err)),
	                 -1);
	printf("unknown topic: %s\n", err);
	assert_non_null(strstr(err, "lag: "));
	assert_non_null(strstr(err, topic));
	assert_non_null(strstr(err, "UNKNOWN_TOPIC_OR_PART"));
	lag_result_free(&res);
	lag_reader_free(r);

	/* Nothing listening: a timeout, in bounded time. */
	assert_int_equal(lag_reader_new("127.0.0.1:1", &r, err, sizeof(err)), 0);
	time_t t0 = time(NULL);
	assert_int_equal(lag_read(r, "g", "t", LAG_RESET_EARLIEST, 1500, &res, err, sizeof(err)),
	                 -1);
	assert_true(time(NULL) - t0 <= 10);
	printf("no broker: %s\n", err);
	assert_non_null(strstr(err, "lag: "));
	lag_result_free(&res);
	lag_reader_free(r);

	/* No bootstrap at all. */
	assert_int_equal(lag_reader_new("", &r, err, sizeof(err)), -1);
	assert_null(r);
	assert_non_null(strstr(err, "bootstrap"));
}

static void test_pool_keeps_one_reader_per_cluster(void **state)
{
	char err[512];
	struct lag_pool *pool;

	(void)state;
	assert_int_equal(lag_pool_new(2, &pool), 0);
	struct lag_reader *a = lag_pool_get(pool, g.bootstrap, NULL, err, sizeof(err));
	assert_non_null(a);
	assert_ptr_equal(lag_pool_get(pool, g.bootstrap, NULL, err, sizeof(err)), a);
	struct lag_reader *b = lag_pool_get(pool, "127.0.0.1:1", NULL, err, sizeof(err));
	assert_non_null(b);
	assert_true(a != b);
	assert_null(lag_pool_get(pool, "127.0.0.1:2", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "too many Kafka clusters"));
	lag_pool_free(pool);
	lag_pool_free(NULL);

	enum lag_reset reset;
	assert_int_equal(lag_reset_parse("latest", &reset), 0);
	assert_int_equal(reset, LAG_RESET_LATEST);
	assert_int_equal(lag_reset_parse("earliest", &reset), 0);
	assert_int_equal(reset, LAG_RESET_EARLIEST);
	assert_int_equal(lag_reset_parse("none", &reset), -1);
	assert_int_equal(lag_reset_parse(NULL, &reset), -1);
}

/*
 * lag_read_many of 20 groups on 20 topics (and one topic that does not
 * exist) equals 20 lag_reads; the missing topic fails its query only. Then
 * the figure of issue 19: one lag_read_many of 200 queries (200 groups on
 * the 20 topics) against 200 lag_reads, on a warm reader, best of 3.
 */
#define MANY_TOPICS 20
#define MANY_QUERIES 200
static void test_read_many_equals_reads(void **state)
{
	static char topics[MANY_TOPICS][96], groups[MANY_QUERIES][96];
	static struct lag_query q[MANY_QUERIES + 1];
	static struct lag_result res[MANY_QUERIES + 1], one;
	static char errors[MANY_QUERIES + 1][LAG_ERROR_MAX];
	char missing[96], err[512];
	struct lag_reader *r;

	(void)state;
	for (int t = 0; t < MANY_TOPICS; t++) {
		const int counts[2] = {t + 3, 2 * t};
		const int64_t commits[2] = {t % 3 == 0 ? -1 : t / 2, t % 2 == 0 ? -1 : t};
		snprintf(topics[t], sizeof(topics[t]), "lag-it-many-%d-%s", t, g.run);
		make_topic(topics[t], 2, counts);
		snprintf(groups[t], sizeof(groups[t]), "lag-it-many-g%d-%s", t, g.run);
		if (commits[0] >= 0 || commits[1] >= 0)
			commit(groups[t], topics[t], 2, commits);
	}
	for (int i = MANY_TOPICS; i < MANY_QUERIES; i++)
		snprintf(groups[i], sizeof(groups[i]), "lag-it-many-g%d-%s", i, g.run);
	snprintf(missing, sizeof(missing), "lag-it-many-missing-%s", g.run);
	assert_int_equal(lag_reader_new(g.bootstrap, &r, err, sizeof(err)), 0);

	for (int i = 0; i < MANY_TOPICS; i++)
		q[i] = (struct lag_query){groups[i], topics[i],
		                          i % 2 ? LAG_RESET_LATEST : LAG_RESET_EARLIEST};
	q[MANY_TOPICS] = (struct lag_query){groups[0], missing, LAG_RESET_EARLIEST};
	assert_int_equal(lag_read_many(r, MANY_TOPICS + 1, q, res, errors, TIMEOUT_MS), 1);
	printf("missing topic in a batch: %s\n", errors[MANY_TOPICS]);
	assert_non_null(strstr(errors[MANY_TOPICS], missing));
	assert_non_null(strstr(errors[MANY_TOPICS], "UNKNOWN_TOPIC_OR_PART"));
	assert_int_equal(
	    lag_assert_reads_match(r, MANY_TOPICS + 1, q, res, errors, &one, TIMEOUT_MS), 1);
	for (int i = 0; i < MANY_TOPICS; i++)
		assert_int_equal(res[i].partitions, 2);
	assert_int_equal(res[4].total_lag, (4 + 3 - 2) + 8); /* t 4: commit p0 at 2, none on p1 */

	/* 200 queries: every group on one of the 20 topics. */
	for (int i = 0; i < MANY_QUERIES; i++)
		q[i] = (struct lag_query){groups[i], topics[i % MANY_TOPICS], LAG_RESET_EARLIEST};
	int64_t best_many = INT64_MAX, best_each = INT64_MAX;
	for (int round = 0; round < 3; round++) {
		int64_t t0 = clock_mono_ns();
		assert_int_equal(lag_read_many(r, MANY_QUERIES, q, res, errors, TIMEOUT_MS), 0);
		int64_t t1 = clock_mono_ns();
		assert_int_equal(
		    lag_assert_reads_match(r, MANY_QUERIES, q, res, errors, &one, TIMEOUT_MS), 0);
		int64_t t2 = clock_mono_ns();
		if (t1 - t0 < best_many)
			best_many = t1 - t0;
		if (t2 - t1 < best_each)
			best_each = t2 - t1;
	}
	printf("LAG_MANY_FIGURES {\"queries\": %d, \"read_many_ms\": %.1f, \"reads_ms\": %.1f, "
	       "\"ratio\": %.1f}\n",
	       MANY_QUERIES, (double)best_many / 1e6, (double)best_each / 1e6,
	       (double)best_each / (double)best_many);
	for (int i = 0; i <= MANY_QUERIES; i++)
		lag_result_free(&res[i]);
	lag_result_free(&one);
	lag_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lag_is_end_minus_committed),
	    cmocka_unit_test(test_deleted_messages_are_not_lag),
	    cmocka_unit_test(test_errors_read_well),
	    cmocka_unit_test(test_pool_keeps_one_reader_per_cluster),
	    cmocka_unit_test(test_read_many_equals_reads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
