/*
 * What lib/kafka.c shares with the other lib/kafka_*.c modules, and with
 * nothing else: the client settings and the Metadata readers.
 */
#ifndef SLUICE_KAFKA_INT_H
#define SLUICE_KAFKA_INT_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "kafka.h"

/* The settings every client shares (kc's cluster, security and client id;
 * opaque for the callbacks). NULL with the reason in errbuf. */
rd_kafka_conf_t *kafka_conf_common(const struct kafka_config *kc, void *opaque, char *errbuf,
                                   size_t errbuf_size);

/* rd_kafka_new of type with conf (taken on success only). NULL with the
 * reason in errbuf. */
rd_kafka_t *kafka_client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                             const struct kafka_config *kc, char *errbuf, size_t errbuf_size);

/* The Metadata request of every topic of the cluster (all_topics 1) or of
 * those rk knows (0), retried in slices of a second with the security
 * errors looked at between them. Returns 0 with *md (the caller destroys
 * it), or KAFKA_ERR with either a security failure's text in sec_text
 * ("kafka: <librdkafka's reason>") or, with sec_text "", the error in *err. */
int kafka_metadata_fetch(rd_kafka_t *rk, int all_topics, int timeout_ms,
                         const struct rd_kafka_metadata **md, rd_kafka_resp_err_t *err,
                         char *sec_text, size_t sec_text_size);

/* topic's entry in md, or NULL. */
const struct rd_kafka_metadata_topic *kafka_metadata_topic(const struct rd_kafka_metadata *md,
                                                           const char *topic);

/* topic's partition and replica counts from md, an answer for every topic
 * of the cluster (kafka_topic_describe's contract). */
int kafka_describe_from(const struct rd_kafka_metadata *md, const char *topic, int *partitions,
                        int *replication, char *errbuf, size_t errbuf_size);

#endif /* SLUICE_KAFKA_INT_H */
