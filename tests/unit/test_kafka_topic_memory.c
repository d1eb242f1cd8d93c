/* Unit tests for lib/kafka.c's topic descriptions (issue 19): describing
 * topics leaves no per-topic objects in the handle. On librdkafka's mock
 * cluster, a long-lived consumer handle (as operator/lag.c's reader)
 * describes TOPICS distinct 4-partition topics, one by one and all at once,
 * then asks ListOffsets for all their partitions (rd_kafka_offsets_for_times,
 * as lag.c does); the heap it holds afterwards (glibc's mallinfo2, all
 * arenas) must stay under BOUND_PER_TOPIC bytes a topic. A control handle
 * that makes a topic object per topic (what kafka_topic_describe did
 * before) shows what the bound guards against: ~8.8 KiB a topic. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "kafka.h"

#include "heap_probe.h"
#include "mock_topic.h"

#include <librdkafka/rdkafka_mock.h> /* after rdkafka.h, which kafka.h includes */

#define TIMEOUT_MS 5000
#define TOPICS 500
#define WARM 50      /* topics the warm-up describes, not counted */
#define CONTROL 100  /* topics the control handle describes */
#define PARTITIONS 4 /* the mock's default for an auto-created topic */
/* What a described topic may leave behind: none of its objects (an
 * rd_kafka_itopic_t and a toppar per partition held ~8.8 KiB), and
 * allocator noise well under this; the metadata cache's entries for every
 * topic of the cluster are made by the warm-up's first request already. */
#define BOUND_PER_TOPIC 1024

struct mock {
	rd_kafka_t *host;
	rd_kafka_mock_cluster_t *mc;
	const char *bootstrap;
};

/* The mock finds a topic by a linear walk of all it has: names that differ
 * in their first bytes keep that walk cheap. */
static void topic_name(char *buf, size_t size, int i)
{
	snprintf(buf, size, "%c%c-vj-%05d", 'a' + i % 26, 'a' + i / 26 % 26, i);
}

/* A mock cluster with the topics 0 .. TOPICS + WARM + CONTROL - 1. The
 * seeding producer goes away with the topic objects it made. */
static void mock_up(struct mock *m)
{
	char err[512], name[32];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	m->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(m->host);
	m->mc = rd_kafka_mock_cluster_new(m->host, 1);
	assert_non_null(m->mc);
	m->bootstrap = rd_kafka_mock_cluster_bootstraps(m->mc);

	struct kafka_config kc = {.bootstrap = m->bootstrap, .client_id = "seed"};
	rd_kafka_t *p = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(p);
	for (int i = 0; i < TOPICS + WARM + CONTROL; i++) {
		topic_name(name, sizeof(name), i);
		/* The old way (mock_topic.h); on a producer the mock
		 * makes the topic (PARTITIONS partitions). */
		assert_int_equal(mock_topic_describe(p, name, TIMEOUT_MS), PARTITIONS);
	}
	rd_kafka_destroy(p);
}

static void mock_down(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->host);
}

static rd_kafka_t *reader(const struct mock *m)
{
	char err[512];
	struct kafka_config kc = {.bootstrap = m->bootstrap, .client_id = "unit", .group = "g"};
	rd_kafka_t *c = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));

	assert_non_null(c);
	return c;
}

static void reader_free(rd_kafka_t *c)
{
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

/* ListOffsets (latest) for every partition of topics first .. first+n-1. */
static void list_offsets(rd_kafka_t *rk, int first, int n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n * PARTITIONS);
	char name[32];

	for (int i = first; i < first + n; i++) {
		topic_name(name, sizeof(name), i);
		for (int p = 0; p < PARTITIONS; p++)
			rd_kafka_topic_partition_list_add(l, name, p)->offset = RD_KAFKA_OFFSET_END;
	}
	assert_int_equal(rd_kafka_offsets_for_times(rk, l, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int i = 0; i < l->cnt; i++) {
		assert_int_equal(l->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
		assert_int_equal(l->elems[i].offset, 0);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Describes topics first .. first+n-1 one by one, then all at once. */
static void describe_all(rd_kafka_t *rk, int first, int n)
{
	static struct kafka_topic_info info[TOPICS];
	static char names[TOPICS][32];
	char err[512];
	int parts = 0, repl = 0;

	assert_true(n <= TOPICS);
	for (int i = 0; i < n; i++) {
		topic_name(names[i], sizeof(names[i]), first + i);
		if (kafka_topic_describe(rk, names[i], TIMEOUT_MS, &parts, &repl, err,
		                         sizeof(err)) < 0)
			fail_msg("%s: %s", names[i], err);
		assert_int_equal(parts, PARTITIONS);
		assert_int_equal(repl, 1);
		info[i] = (struct kafka_topic_info){.topic = names[i]};
	}
	if (kafka_topics_describe(rk, info, (size_t)n, TIMEOUT_MS, err, sizeof(err)) < 0)
		fail_msg("%d topics: %s", n, err);
	for (int i = 0; i < n; i++) {
		assert_int_equal(info[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
		assert_int_equal(info[i].partitions, PARTITIONS);
	}
}

static void test_describe_holds_no_topic_objects(void **state)
{
	struct mock m;
	char err[512];
	int held = 0;

	(void)state;
	mock_up(&m);
	rd_kafka_t *c = reader(&m);

	/* Warm-up: the connection, the metadata cache (every topic of the
	 * cluster), the allocator's arenas and librdkafka's buffers. */
	describe_all(c, TOPICS, WARM);
	list_offsets(c, TOPICS, WARM);
	size_t before = heap_probe_used();
	int64_t t0 = clock_mono_ms();

	describe_all(c, 0, TOPICS);
	list_offsets(c, 0, TOPICS);
	size_t after = heap_probe_used();
	double per_topic = ((double)after - (double)before) / TOPICS;
	printf("described %d topics (%d partitions) one by one and at once, ListOffsets of "
	       "all: %.0f bytes held per topic, %.1f s\n",
	       TOPICS, PARTITIONS, per_topic, (double)(clock_mono_ms() - t0) / 1000.0);
	if (HEAP_PROBE_MEASURES)
		assert_true(per_topic < BOUND_PER_TOPIC);

	/* What the handle knows: the metadata cache's entries, every topic of
	 * the cluster, and no more. */
	assert_int_equal(kafka_topics_held(c, TIMEOUT_MS, &held, err, sizeof(err)), 0);
	assert_int_equal(held, TOPICS + WARM + CONTROL);
	reader_free(c);

	/* The control: a topic object per topic, as before issue 19. */
	c = reader(&m);
	for (int i = 0; i < WARM; i++) {
		char name[32];
		topic_name(name, sizeof(name), TOPICS + i);
		assert_int_equal(mock_topic_describe(c, name, TIMEOUT_MS), PARTITIONS);
	}
	before = heap_probe_used();
	for (int i = 0; i < CONTROL; i++) {
		char name[32];
		topic_name(name, sizeof(name), TOPICS + WARM + i);
		assert_int_equal(mock_topic_describe(c, name, TIMEOUT_MS), PARTITIONS);
	}
	after = heap_probe_used();
	double control = ((double)after - (double)before) / CONTROL;
	printf("control: a topic object per described topic holds %.0f bytes per topic\n", control);
	if (HEAP_PROBE_MEASURES)
		assert_true(control > 2 * BOUND_PER_TOPIC);
	reader_free(c);
	mock_down(&m);
}

/* A topic the cluster lacks: kafka_topic_describe says
 * UNKNOWN_TOPIC_OR_PART, and kafka_topics_describe that topic's own
 * UNKNOWN_TOPIC_OR_PART beside the topics that exist. */
static void test_unknown_topic(void **state)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	int parts = -1, repl = -1;

	(void)state;
	rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(host);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
	assert_non_null(mc);
	assert_int_equal(rd_kafka_mock_topic_create(mc, "one", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	struct mock m = {.host = host, .mc = mc, .bootstrap = rd_kafka_mock_cluster_bootstraps(mc)};
	rd_kafka_t *c = reader(&m);

	assert_int_equal(
	    kafka_topic_describe(c, "one", TIMEOUT_MS, &parts, &repl, err, sizeof(err)), 0);
	assert_int_equal(parts, 1);
	assert_int_equal(repl, 1);
	assert_int_equal(
	    kafka_topic_describe(c, "missing", TIMEOUT_MS, &parts, &repl, err, sizeof(err)),
	    KAFKA_ERR);
	assert_non_null(strstr(err, "metadata of topic \"missing\""));
	assert_non_null(strstr(err, "UNKNOWN_TOPIC_OR_PART"));

	struct kafka_topic_info info[3] = {
	    {.topic = "missing"}, {.topic = "one"}, {.topic = "nor"}};
	assert_int_equal(kafka_topics_describe(c, info, 3, TIMEOUT_MS, err, sizeof(err)), 0);
	assert_int_equal(info[0].err, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(info[1].err, RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(info[1].partitions, 1);
	assert_int_equal(info[2].err, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(kafka_topics_describe(c, info, 1, TIMEOUT_MS, err, sizeof(err)), 0);
	assert_int_equal(info[0].err, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	assert_int_equal(kafka_topics_describe(c, info, 0, TIMEOUT_MS, err, sizeof(err)), 0);
	/* The requests name no topic, so the mock created none of them. */
	assert_int_equal(
	    kafka_topic_describe(c, "missing", TIMEOUT_MS, &parts, &repl, err, sizeof(err)),
	    KAFKA_ERR);
	reader_free(c);
	mock_down(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_describe_holds_no_topic_objects),
	    cmocka_unit_test(test_unknown_topic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
