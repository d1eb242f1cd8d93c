/*
 * mock_topic.h - a topic made on librdkafka's mock cluster for the tests
 * that count what a handle keeps of its topics (test_lag.c,
 * test_kafka_topic_memory.c). Include after cmocka.h.
 */
#ifndef SLUICE_MOCK_TOPIC_H
#define SLUICE_MOCK_TOPIC_H

#include <librdkafka/rdkafka.h>

/* Metadata for topic alone through a topic object of rk (the old way of
 * describing a topic: the object stays in rk until destroyed here). On a
 * producer the mock cluster makes a topic it does not know, with its
 * default partition count. Returns the topic's partition count. */
static inline int mock_topic_describe(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int partitions;

	assert_non_null(rkt);
	assert_int_equal(rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms),
	                 RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(md->topic_cnt, 1);
	partitions = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return partitions;
}

#endif /* SLUICE_MOCK_TOPIC_H */
