/* Unit tests for operator/topic_plan.c (which topics the operator made and
 * what to do with each), operator/topics.c's pure rules (replication
 * factor, min.insync.replicas, the client cache key) and lib/kafka.c's
 * metadata readers (kafka_metadata_topic_ready, kafka_metadata_answerer). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "kafka.h"
#include "reconcile_vj_plan.h"
#include "topic_plan.h"
#include "topics.h"

static void test_replication(void **state)
{
	(void)state;
	/* Default: min(3, brokers). */
	assert_int_equal(topics_replication(0, 1), 1);
	assert_int_equal(topics_replication(0, 2), 2);
	assert_int_equal(topics_replication(0, 3), 3);
	assert_int_equal(topics_replication(0, 7), 3);
	assert_int_equal(topics_replication(0, 0), 1);
	assert_int_equal(topics_replication(-1, -5), 1);
	/* Asked for: as asked, even past the brokers (the broker refuses it,
	 * and the condition says so). */
	assert_int_equal(topics_replication(1, 3), 1);
	assert_int_equal(topics_replication(2, 3), 2);
	assert_int_equal(topics_replication(5, 3), 5);
	/* min.insync.replicas */
	assert_int_equal(topics_min_insync(0), 0);
	assert_int_equal(topics_min_insync(1), 0);
	assert_int_equal(topics_min_insync(2), 2);
	assert_int_equal(topics_min_insync(3), 2);
	assert_int_equal(topics_min_insync(5), 2);
}

static void test_key(void **state)
{
	char a[TOPICS_KEY_MAX], b[TOPICS_KEY_MAX];
	struct kafka_security s1 = {
	    .tls = 1, .ca_pem = "CA", .sasl_mechanism = "PLAIN", .username = "u", .password = "p"};
	struct kafka_security s2 = s1;

	(void)state;
	/* Same settings: same key; PLAINTEXT keys differ from any security. */
	assert_string_equal(topics_key("k:9092", &s1, a, sizeof(a)),
	                    topics_key("k:9092", &s2, b, sizeof(b)));
	assert_int_equal(strncmp(a, "k:9092#", 7), 0);
	assert_string_not_equal(topics_key("k:9092", NULL, a, sizeof(a)),
	                        topics_key("k:9092", &s1, b, sizeof(b)));
	assert_string_equal(topics_key("k:9092", NULL, a, sizeof(a)),
	                    topics_key("k:9092", NULL, b, sizeof(b)));
	/* Another password, username, CA, TLS, bootstrap: another key. */
	s2.password = "q";
	assert_string_not_equal(topics_key("k:9092", &s1, a, sizeof(a)),
	                        topics_key("k:9092", &s2, b, sizeof(b)));
	s2 = s1;
	s2.username = "v";
	assert_string_not_equal(a, topics_key("k:9092", &s2, b, sizeof(b)));
	s2 = s1;
	s2.ca_pem = "CB";
	assert_string_not_equal(a, topics_key("k:9092", &s2, b, sizeof(b)));
	s2 = s1;
	s2.tls = 0;
	assert_string_not_equal(a, topics_key("k:9092", &s2, b, sizeof(b)));
	assert_string_not_equal(a, topics_key("k:9093", &s1, b, sizeof(b)));
	/* Absent and empty differ; so do fields run together. */
	s2 = s1;
	s2.password = NULL;
	struct kafka_security s3 = s1;
	s3.password = "";
	assert_string_not_equal(topics_key("k", &s2, a, sizeof(a)),
	                        topics_key("k", &s3, b, sizeof(b)));
	s2 = s1;
	s2.username = "up";
	s2.password = "";
	s3 = s1;
	s3.username = "u";
	s3.password = "p";
	assert_string_not_equal(topics_key("k", &s2, a, sizeof(a)),
	                        topics_key("k", &s3, b, sizeof(b)));
}

static cJSON *status_of(const char *json)
{
	cJSON *st = cJSON_Parse(json);
	assert_non_null(st);
	return st;
}

static void test_owned(void **state)
{
	struct topic_owned o;
	cJSON *st;

	(void)state;
	topic_plan_owned(NULL, &o);
	assert_int_equal(o.n, 0);
	assert_false(topic_plan_recorded(NULL));

	st = status_of("{\"phase\":\"Running\"}");
	topic_plan_owned(st, &o);
	assert_int_equal(o.n, 0);
	assert_false(topic_plan_recorded(st));
	cJSON_Delete(st);

	st = status_of("{\"kafka\":{\"createdTopics\":[]}}");
	topic_plan_owned(st, &o);
	assert_int_equal(o.n, 0);
	assert_true(topic_plan_recorded(st));
	cJSON_Delete(st);

	/* Non-strings, empty strings and repeats dropped. */
	st = status_of("{\"kafka\":{\"createdTopics\":[\"a\",1,\"\",\"b\",\"a\",null]}}");
	topic_plan_owned(st, &o);
	assert_int_equal(o.n, 2);
	assert_string_equal(o.name[0], "a");
	assert_string_equal(o.name[1], "b");
	assert_true(topic_plan_owns(&o, "a"));
	assert_true(topic_plan_owns(&o, "b"));
	assert_false(topic_plan_owns(&o, "c"));
	assert_false(topic_plan_owns(&o, NULL));
	cJSON_Delete(st);

	/* Not a list: nothing, and not recorded. */
	st = status_of("{\"kafka\":{\"createdTopics\":\"a\"}}");
	topic_plan_owned(st, &o);
	assert_int_equal(o.n, 0);
	assert_false(topic_plan_recorded(st));
	cJSON_Delete(st);

	/* Bounded. */
	st = status_of("{\"kafka\":{\"createdTopics\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\","
	               "\"8\",\"9\",\"10\"]}}");
	topic_plan_owned(st, &o);
	assert_int_equal(o.n, TOPIC_PLAN_MAX);
	cJSON_Delete(st);
}

static void test_action(void **state)
{
	(void)state;
	/* Every combination of state, may_create and owned. */
	static const struct {
		enum topic_state st;
		int may, owned;
		enum topic_action want;
	} cases[] = {
	    {TOPIC_STATE_FOUND, 0, 0, TOPIC_KEEP},
	    {TOPIC_STATE_FOUND, 0, 1, TOPIC_KEEP},
	    {TOPIC_STATE_FOUND, 1, 0, TOPIC_KEEP}, /* pre-existing: left alone */
	    {TOPIC_STATE_FOUND, 1, 1, TOPIC_KEEP},
	    {TOPIC_STATE_NOT_FOUND, 0, 0, TOPIC_MISSING},
	    {TOPIC_STATE_NOT_FOUND, 0, 1, TOPIC_CREATE}, /* ours, createTopic since removed */
	    {TOPIC_STATE_NOT_FOUND, 1, 0, TOPIC_CLAIM},
	    {TOPIC_STATE_NOT_FOUND, 1, 1, TOPIC_CREATE}, /* claimed, creation failed before */
	    {TOPIC_STATE_UNAVAILABLE, 0, 0, TOPIC_KEEP},
	    {TOPIC_STATE_UNAVAILABLE, 0, 1, TOPIC_KEEP},
	    {TOPIC_STATE_UNAVAILABLE, 1, 0, TOPIC_KEEP},
	    {TOPIC_STATE_UNAVAILABLE, 1, 1, TOPIC_KEEP},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(topic_plan_action(cases[i].st, cases[i].may, cases[i].owned),
		                 cases[i].want);
}

static void test_claim(void **state)
{
	struct topic_owned o = {0};
	const char *claim[] = {"t", "t.dlq", "t"};
	cJSON *p;
	char *text;

	(void)state;
	p = topic_plan_claim(&o, claim, 3);
	assert_non_null(p);
	text = cJSON_PrintUnformatted(p);
	assert_string_equal(text, "{\"kafka\":{\"createdTopics\":[\"t\",\"t.dlq\"]}}");
	cJSON_free(text);
	cJSON_Delete(p);

	/* Kept names first, no repeats; an empty claim writes the record. */
	o.n = 1;
	o.name[0] = "old";
	p = topic_plan_claim(&o, claim, 2);
	text = cJSON_PrintUnformatted(p);
	assert_string_equal(text, "{\"kafka\":{\"createdTopics\":[\"old\",\"t\",\"t.dlq\"]}}");
	cJSON_free(text);
	cJSON_Delete(p);
	o.n = 0;
	p = topic_plan_claim(&o, NULL, 0);
	text = cJSON_PrintUnformatted(p);
	assert_string_equal(text, "{\"kafka\":{\"createdTopics\":[]}}");
	cJSON_free(text);
	cJSON_Delete(p);

	/* Past the bound: refused. */
	o.n = TOPIC_PLAN_MAX;
	for (size_t i = 0; i < TOPIC_PLAN_MAX; i++)
		o.name[i] = "x";
	assert_null(topic_plan_claim(&o, claim, 1));
}

static void test_grow(void **state)
{
	(void)state;
	assert_int_equal(topic_plan_grow(3, 5), 5);
	assert_int_equal(topic_plan_grow(5, 5), 0);
	assert_int_equal(topic_plan_grow(5, 3), 0); /* never shrink */
	assert_int_equal(topic_plan_grow(0, 3), 0); /* unknown count */
	assert_int_equal(vj_plan_partitions(3, 6, 1), 6);
	assert_int_equal(vj_plan_partitions(3, 6, 0), 0); /* someone else's topic */
	assert_int_equal(vj_plan_partitions(6, 3, 1), 0);
	assert_int_equal(vj_plan_partitions(6, 6, 1), 0);
}

static void test_metadata(void **state)
{
	struct rd_kafka_metadata_partition parts[3] = {
	    {.id = 0, .leader = 1}, {.id = 1, .leader = 2}, {.id = 2, .leader = 3}};
	struct rd_kafka_metadata_topic topic = {
	    .topic = (char *)"t", .partition_cnt = 3, .partitions = parts};
	struct rd_kafka_metadata md = {.topic_cnt = 1, .topics = &topic};
	struct rd_kafka_metadata_broker brokers[3] = {
	    {.id = 1, .host = (char *)"127.0.0.1", .port = 9092},
	    {.id = 2, .host = (char *)"127.0.0.1", .port = 9093},
	    {.id = 3, .host = (char *)"127.0.0.1", .port = 9094}};
	struct rd_kafka_metadata cluster = {.broker_cnt = 3, .brokers = brokers};
	char why[128];

	(void)state;
	assert_true(kafka_metadata_topic_ready(&md, "t", 3, why, sizeof(why)));
	assert_true(kafka_metadata_topic_ready(&md, "t", 2, why, sizeof(why)));
	/* The race of issue 17: a broker that has not heard of it yet. */
	topic.partition_cnt = 0;
	assert_false(kafka_metadata_topic_ready(&md, "t", 3, why, sizeof(why)));
	assert_string_equal(why, "0 of 3 partitions");
	topic.partition_cnt = 3;
	topic.err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
	assert_false(kafka_metadata_topic_ready(&md, "t", 3, why, sizeof(why)));
	assert_string_equal(why, "UNKNOWN_TOPIC_OR_PART");
	topic.err = RD_KAFKA_RESP_ERR_NO_ERROR;
	parts[1].leader = -1;
	assert_false(kafka_metadata_topic_ready(&md, "t", 3, why, sizeof(why)));
	assert_string_equal(why, "partition 1 has no leader");
	parts[1].leader = 2;
	parts[2].err = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
	assert_false(kafka_metadata_topic_ready(&md, "t", 3, why, sizeof(why)));
	parts[2].err = RD_KAFKA_RESP_ERR_NO_ERROR;
	assert_false(kafka_metadata_topic_ready(&md, "u", 3, why, sizeof(why)));
	assert_string_equal(why, "not in the answer");
	assert_false(kafka_metadata_topic_ready(&md, "t", 4, why, sizeof(why)));
	assert_string_equal(why, "3 of 4 partitions");

	/* Who answered: by id, or by "host:port/bootstrap" before the id. */
	md.orig_broker_id = 2;
	assert_int_equal(kafka_metadata_answerer(&cluster, &md), 1);
	md.orig_broker_id = 9;
	assert_int_equal(kafka_metadata_answerer(&cluster, &md), -1);
	md.orig_broker_id = -1;
	md.orig_broker_name = (char *)"127.0.0.1:9094/bootstrap";
	assert_int_equal(kafka_metadata_answerer(&cluster, &md), 2);
	md.orig_broker_name = (char *)"127.0.0.1:90921/bootstrap";
	assert_int_equal(kafka_metadata_answerer(&cluster, &md), -1);
	md.orig_broker_name = NULL;
	assert_int_equal(kafka_metadata_answerer(&cluster, &md), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replication), cmocka_unit_test(test_key),
	    cmocka_unit_test(test_owned),       cmocka_unit_test(test_action),
	    cmocka_unit_test(test_claim),       cmocka_unit_test(test_grow),
	    cmocka_unit_test(test_metadata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
