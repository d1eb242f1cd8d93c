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

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "lag.h"
#include "topic_ledger.h"

#include "heap_probe.h"
#include "lag_assert.h"
#include "mock_topic.h"

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

static void commit_topic(const struct mock *m, const char *group, const char *topic, int partitions,
                         const int64_t *offsets)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = m->bootstrap, .client_id = "unit", .group = group};
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

static void commit(const struct mock *m, const char *group, int partitions, const int64_t *offsets)
{
	commit_topic(m, group, "tasks", partitions, offsets);
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

/* Produces count messages into each partition of topic. */
static void produce(const struct mock *m, const char *topic, int partitions, int count)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = m->bootstrap, .client_id = "unit"};
	rd_kafka_t *p = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));

	assert_non_null(p);
	for (int part = 0; part < partitions; part++)
		for (int i = 0; i < count; i++)
			assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
			                                   RD_KAFKA_V_PARTITION(part),
			                                   RD_KAFKA_V_VALUE("x", 1),
			                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			                                   RD_KAFKA_V_END),
			                 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(rd_kafka_flush(p, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}

/* Many (group, topic) in one round equal one lag_read each; a topic the
 * brokers do not know fails its queries only; repeated topics and groups
 * are fine. */
static void test_read_many(void **state)
{
	static const int counts[3] = {5, 7, 0};
	static const int64_t commits[3] = {2, -1, -1};
	static const int64_t commits2[2] = {1, 4};
	const struct lag_query q[] = {
	    {"g", "tasks", LAG_RESET_EARLIEST},  {"g2", "second", LAG_RESET_EARLIEST},
	    {"g", "gone", LAG_RESET_EARLIEST},   {"g2", "tasks", LAG_RESET_LATEST},
	    {"g", "tasks", LAG_RESET_LATEST},    {"g3", "second", LAG_RESET_LATEST},
	    {"g", "second", LAG_RESET_EARLIEST},
	};
	const size_t n = sizeof(q) / sizeof(q[0]);
	struct lag_result res[sizeof(q) / sizeof(q[0])], one = {0};
	char errors[sizeof(q) / sizeof(q[0])][LAG_ERROR_MAX], err[512];
	struct mock m;
	struct lag_reader *r;

	(void)state;
	memset(res, 0, sizeof(res));
	mock_up(&m, counts, 3);
	assert_int_equal(rd_kafka_mock_topic_create(m.mc, "second", 2, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	produce(&m, "second", 2, 6);
	commit(&m, "g", 3, commits);
	commit_topic(&m, "g2", "second", 2, commits2);
	rd_kafka_mock_topic_set_error(m.mc, "gone", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(lag_reader_new(m.bootstrap, &r, err, sizeof(err)), 0);

	assert_int_equal(lag_read_many(r, n, q, res, errors, TIMEOUT_MS), 1);
	assert_int_equal(lag_assert_reads_match(r, n, q, res, errors, &one, TIMEOUT_MS), 1);
	printf("missing topic: %s\n", errors[2]);
	assert_non_null(strstr(errors[2], "lag: metadata of topic \"gone\""));
	assert_non_null(strstr(errors[2], "UNKNOWN_TOPIC_OR_PART"));
	assert_int_equal(res[0].total_lag, 3 + 7);
	assert_int_equal(res[1].total_lag, (6 - 1) + (6 - 4));
	assert_int_equal(res[5].total_lag, 0);  /* g3: no commit, latest */
	assert_int_equal(res[6].total_lag, 12); /* g: no commit on second */
	assert_int_equal(res[4].total_lag, 3);

	/* Nothing to read, and too much at once. */
	assert_int_equal(lag_read_many(r, 0, q, res, errors, TIMEOUT_MS), 0);
	assert_int_equal(lag_read_many(r, LAG_READ_MANY_MAX + 1, q, res, NULL, TIMEOUT_MS),
	                 LAG_READ_MANY_MAX + 1);
	for (size_t i = 0; i < n; i++)
		lag_result_free(&res[i]);
	lag_result_free(&one);
	lag_reader_free(r);
	mock_down(&m);
}

/* The topics' end sums in one round equal the sums of lag_read_many's
 * per-partition ends; a missing topic fails alone; duplicates are fine;
 * new messages move the sum; a reader is found again by its id until
 * the pool lets it go. */
static void test_read_ends(void **state)
{
	static const int counts[3] = {5, 7, 0};
	const char *const topics[] = {"tasks", "second", "gone", "tasks"};
	const size_t n = sizeof(topics) / sizeof(topics[0]);
	int64_t sums[4];
	char errors[4][LAG_ERROR_MAX], err[512];
	struct lag_result res = {0};
	struct lag_pool *pool;
	struct mock m;
	struct lag_reader *r;

	(void)state;
	mock_up(&m, counts, 3);
	assert_int_equal(rd_kafka_mock_topic_create(m.mc, "second", 2, 1),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	produce(&m, "second", 2, 6);
	rd_kafka_mock_topic_set_error(m.mc, "gone", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(lag_pool_new(2, &pool), 0);
	r = lag_pool_get(pool, m.bootstrap, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_not_equal(lag_reader_id(r), 0);
	assert_ptr_equal(lag_pool_find(pool, lag_reader_id(r)), r);
	assert_null(lag_pool_find(pool, lag_reader_id(r) + 1000));
	assert_null(lag_pool_find(pool, 0));
	assert_null(lag_pool_find(NULL, lag_reader_id(r)));
	assert_int_equal(lag_reader_id(NULL), 0);

	assert_int_equal(lag_read_ends(r, n, topics, NULL, sums, errors, TIMEOUT_MS), 1);
	assert_int_equal(sums[0], 5 + 7 + 0);
	assert_int_equal(sums[1], 6 + 6);
	assert_int_equal(sums[3], sums[0]);
	assert_string_equal(errors[0], "");
	assert_string_equal(errors[1], "");
	assert_string_equal(errors[3], "");
	printf("missing topic: %s\n", errors[2]);
	assert_non_null(strstr(errors[2], "lag: metadata of topic \"gone\""));
	/* The same as lag_read's ends. */
	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)), 0);
	int64_t sum = 0;
	for (int32_t i = 0; i < res.partitions; i++)
		sum += res.p[i].end;
	assert_int_equal(sum, sums[0]);

	/* New messages move it; NULL errors is fine. */
	produce(&m, "tasks", 3, 2);
	assert_int_equal(lag_read_ends(r, 1, topics, NULL, sums, NULL, TIMEOUT_MS), 0);
	assert_int_equal(sums[0], 5 + 7 + 0 + 3 * 2);

	/* A ListOffsets that fails fails the topics it served. */
	rd_kafka_mock_push_request_errors(m.mc, API_LIST_OFFSETS, 1,
	                                  RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(lag_read_ends(r, 1, topics, NULL, sums, errors, TIMEOUT_MS), 1);
	assert_non_null(strstr(errors[0], "TOPIC_AUTHORIZATION_FAILED"));

	/* Nothing, too many, a NULL topic. */
	assert_int_equal(lag_read_ends(r, 0, topics, NULL, sums, errors, TIMEOUT_MS), 0);
	assert_int_equal(
	    lag_read_ends(r, LAG_READ_MANY_MAX + 1, topics, NULL, NULL, NULL, TIMEOUT_MS),
	    LAG_READ_MANY_MAX + 1);
	const char *const none[] = {"tasks", NULL};
	assert_int_equal(lag_read_ends(r, 2, none, NULL, sums, errors, TIMEOUT_MS), 2);
	assert_string_equal(errors[0], "lag: a query without a topic");

	lag_result_free(&res);
	lag_pool_free(pool);
	mock_down(&m);
}

/* With the partition counts known, lag_read_ends asks no Metadata: with
 * the topic's Metadata answered with an error, a read that knows reads on
 * and one that asks fails. A count short of the topic's partitions sums
 * those it names; one past them fails the topic (ListOffsets' error). */
static void test_read_ends_known(void **state)
{
	static const int counts[3] = {5, 7, 1};
	const char *const topics[] = {"tasks"};
	const int32_t known[] = {3}, too_many[] = {5}, too_few[] = {2};
	int64_t sums[1];
	char errors[1][LAG_ERROR_MAX], err[512];
	struct lag_reader *r;
	struct mock m;

	(void)state;
	mock_up(&m, counts, 3);
	assert_int_equal(lag_reader_new(m.bootstrap, &r, err, sizeof(err)), 0);
	/* A first read learns the leaders (the caller's full read does). */
	assert_int_equal(lag_read_ends(r, 1, topics, NULL, sums, errors, TIMEOUT_MS), 0);
	assert_int_equal(sums[0], 5 + 7 + 1);
	assert_int_equal(lag_read_ends(r, 1, topics, too_many, sums, errors, TIMEOUT_MS), 1);
	printf("past the partitions: %s\n", errors[0]);
	assert_non_null(strstr(errors[0], "lag: end offset of tasks/3"));

	rd_kafka_mock_topic_set_error(m.mc, "tasks", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(lag_read_ends(r, 1, topics, known, sums, errors, TIMEOUT_MS), 0);
	assert_int_equal(sums[0], 5 + 7 + 1);
	assert_int_equal(lag_read_ends(r, 1, topics, too_few, sums, errors, TIMEOUT_MS), 0);
	assert_int_equal(sums[0], 5 + 7);
	/* What a read that asks gets now (its answer then stays in the
	 * handle's cache: the topic fails every read until it is fixed). */
	assert_int_equal(lag_read_ends(r, 1, topics, NULL, sums, errors, TIMEOUT_MS), 1);
	assert_non_null(strstr(errors[0], "TOPIC_AUTHORIZATION_FAILED"));

	lag_reader_free(r);
	mock_down(&m);
}

/*
 * Issue 19: the lag reader's memory does not grow over 10,000 create/delete
 * cycles of topics, counted as the heap bytes the process holds (allocations,
 * not RSS; heap_probe.h). The mock cluster runs in this process and can
 * delete no topic, so it holds CYCLE_TOPICS topics, made first, and each
 * cycle is one of them seen anew: read (in rounds of CYCLE_BATCH, one
 * lag_read_many each, beside a topic that lives throughout) and forgotten,
 * as the autoscaler does when its resource goes away; after CYCLE_TOPICS
 * cycles the names come round again, as the next VideoJobs' would. A topic
 * object and its partitions held ~4.4-8.8 KiB each (kafka.h): the bound is
 * allocator noise.
 */
#define CYCLES 10000
#define CYCLE_TOPICS 500
#define CYCLE_BATCH 250
#define CYCLE_BOUND_BYTES 64
static void cycle_name(char *buf, size_t size, int i)
{
	/* The mock finds a topic by a linear walk of all it has: names that
	 * differ in their first byte keep that walk cheap. */
	i %= CYCLE_TOPICS;
	snprintf(buf, size, "%c%c-vj-%05d", 'a' + i % 26, 'a' + i / 26 % 26, i);
}

static void test_no_topic_kept_forever(void **state)
{
	static const int counts[1] = {3};
	struct lag_query q[CYCLE_BATCH + 1];
	static struct lag_result res[CYCLE_BATCH + 1];
	static char names[CYCLE_BATCH][32];
	static char errors[CYCLE_BATCH + 1][LAG_ERROR_MAX];
	char err[512];
	struct mock m;
	struct lag_reader *r;
	size_t before = 0, most = 0;

	(void)state;
	mock_up(&m, counts, 1);
	{
		/* The seeding handle goes with the objects naming made. */
		struct kafka_config kc = {.bootstrap = m.bootstrap, .client_id = "seed"};
		rd_kafka_t *seed = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));

		assert_non_null(seed);
		for (int i = 0; i < CYCLE_TOPICS; i++) {
			cycle_name(names[0], sizeof(names[0]), i);
			(void)mock_topic_describe(seed, names[0], TIMEOUT_MS);
		}
		rd_kafka_destroy(seed);
	}
	assert_int_equal(lag_reader_new(m.bootstrap, &r, err, sizeof(err)), 0);
	q[CYCLE_BATCH] = (struct lag_query){"live", "tasks", LAG_RESET_EARLIEST};

	int64_t t0 = clock_mono_ms();
	for (int done = 0; done < CYCLES; done += CYCLE_BATCH) {
		for (int i = 0; i < CYCLE_BATCH; i++) {
			cycle_name(names[i], sizeof(names[i]), done + i);
			q[i] = (struct lag_query){"vj", names[i], LAG_RESET_EARLIEST};
		}
		size_t failed = lag_read_many(r, CYCLE_BATCH + 1, q, res, errors, TIMEOUT_MS);
		if (failed != 0)
			fail_msg("cycle %d: %zu failed, first: %s %s", done, failed, errors[0],
			         errors[CYCLE_BATCH]);
		for (int i = 0; i < CYCLE_BATCH; i++)
			lag_reader_forget(r, names[i]); /* the VideoJob went away */
		size_t used = heap_probe_used();
		if (done == 0)
			before = used; /* past the first round: the connections,
			                  buffers, the metadata cache of every topic */
		if (used > most)
			most = used;
	}
	size_t after = heap_probe_used();
	printf("heap: %zu bytes after the first %d cycles, %zu after %d (at most %zu), %.1f "
	       "bytes per cycle; handle made again %llu times, %.1f s\n",
	       before, CYCLE_BATCH, after, CYCLES, most,
	       ((double)after - (double)before) / (CYCLES - CYCLE_BATCH),
	       (unsigned long long)lag_reader_renewals(r), (double)(clock_mono_ms() - t0) / 1000.0);
	if (HEAP_PROBE_MEASURES)
		assert_true(most <= before + (size_t)(CYCLES - CYCLE_BATCH) * CYCLE_BOUND_BYTES);
	for (int i = 0; i <= CYCLE_BATCH; i++)
		lag_result_free(&res[i]);
	lag_reader_free(r);
	mock_down(&m);
}

/* A reader forgets topics; it makes its handle again once enough are dead,
 * and reads on after it. */
static void test_forget_renews(void **state)
{
	static const int counts[1] = {4};
	struct lag_query q[TOPIC_LEDGER_MIN_DEAD + 1];
	struct lag_result res[TOPIC_LEDGER_MIN_DEAD + 1];
	char names[TOPIC_LEDGER_MIN_DEAD][32], err[512];
	struct mock m;
	struct lag_reader *r;
	struct lag_pool *pool;

	(void)state;
	memset(res, 0, sizeof(res));
	mock_up(&m, counts, 1);
	assert_int_equal(lag_pool_new(2, &pool), 0);
	r = lag_pool_get(pool, m.bootstrap, NULL, err, sizeof(err));
	assert_non_null(r);
	for (int i = 0; i < TOPIC_LEDGER_MIN_DEAD; i++) {
		snprintf(names[i], sizeof(names[i]), "t%d", i);
		assert_int_equal(rd_kafka_mock_topic_create(m.mc, names[i], 2, 1),
		                 RD_KAFKA_RESP_ERR_NO_ERROR);
		q[i] = (struct lag_query){"g", names[i], LAG_RESET_EARLIEST};
	}
	q[TOPIC_LEDGER_MIN_DEAD] = (struct lag_query){"g", "tasks", LAG_RESET_EARLIEST};
	assert_int_equal(lag_read_many(r, TOPIC_LEDGER_MIN_DEAD + 1, q, res, NULL, TIMEOUT_MS), 0);
	assert_int_equal(lag_reader_renewals(r), 0);
	for (int i = 0; i < TOPIC_LEDGER_MIN_DEAD - 1; i++)
		lag_pool_forget(pool, names[i]);
	lag_pool_forget(pool, "never-read");
	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res[0], err, sizeof(err)),
	    0);
	assert_int_equal(lag_reader_renewals(r), 0); /* 31 dead < 32 */
	lag_pool_forget(pool, names[TOPIC_LEDGER_MIN_DEAD - 1]);
	assert_int_equal(
	    lag_read(r, "g", "tasks", LAG_RESET_EARLIEST, TIMEOUT_MS, &res[0], err, sizeof(err)),
	    0);
	assert_int_equal(lag_reader_renewals(r), 1);
	assert_int_equal(res[0].partitions, 1);
	assert_int_equal(res[0].total_lag, 4);
	/* The handle knows the cluster's topics (the metadata cache that
	 * describing fills), and holds no object of any. */
	int held = 0;
	assert_int_equal(lag_reader_held_topics(r, TIMEOUT_MS, &held, err, sizeof(err)), 0);
	assert_int_equal(held, TOPIC_LEDGER_MIN_DEAD + 1);
	for (int i = 0; i <= TOPIC_LEDGER_MIN_DEAD; i++)
		lag_result_free(&res[i]);
	lag_pool_forget(NULL, "x");
	lag_pool_free(pool);
	mock_down(&m);
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
	    cmocka_unit_test(test_read_many),
	    cmocka_unit_test(test_read_ends),
	    cmocka_unit_test(test_read_ends_known),
	    cmocka_unit_test(test_forget_renews),
	    cmocka_unit_test(test_no_topic_kept_forever),
	};

	return cmocka_run_group_tests(tests, quiet, NULL);
}
