/*
 * lag.h - reads a consumer group's lag on one topic through librdkafka,
 * for the scaler (operator/scale.h) and the resources' status.
 *
 * One poll is three requests however many partitions the topic has:
 *   1. Metadata for the topic (its partition count; lib/kafka.h's
 *      kafka_topic_describe);
 *   2. OffsetFetch for the group (rd_kafka_ListConsumerGroupOffsets, the
 *      admin API: no consumer of that group is needed);
 *   3. ListOffsets for the latest and the earliest offsets of every
 *      partition (rd_kafka_offsets_for_times with the protocol's special
 *      timestamps -1 and -2), which librdkafka sends as one request per
 *      partition leader. librdkafka 2.0.2 has no rd_kafka_ListOffsets (2.3)
 *      and rd_kafka_query_watermark_offsets costs a round trip per
 *      partition.
 * The reader is a consumer handle (lib/kafka.h, isolation.level
 * read_committed), so "latest" is the last stable offset: records of open
 * or aborted transactions are not lag, as the workers never read them.
 *
 * Per partition, with start/end the earliest/latest offsets:
 *   position = committed, raised to start when retention deleted past it;
 *              no commit: start (reset earliest) or end (reset latest);
 *   lag      = end - position, never below 0.
 * So messages already deleted by retention are never lag (KEDA #7936),
 * and a group that never committed under "latest" has lag 0. consumed, the
 * sum of positions, is the progress counter scale.h derives rates from.
 *
 * Threads: a reader is used by one thread at a time (the reconcile loop);
 * librdkafka's own threads are hidden.
 */
#ifndef SLUICE_LAG_H
#define SLUICE_LAG_H

#include <stddef.h>
#include <stdint.h>

#include "kafka.h"

enum lag_reset {
	LAG_RESET_EARLIEST = 0, /* the workers' auto.offset.reset (lib/kafka.h) */
	LAG_RESET_LATEST,
};

struct lag_partition {
	int32_t partition;
	int64_t committed; /* -1: the group committed nothing here */
	int64_t start;     /* earliest offset still stored */
	int64_t end;       /* last stable offset (next to be written) */
	int64_t position;  /* where the group stands, see above */
	int64_t lag;       /* end - position, >= 0 */
};

struct lag_result {
	int32_t partitions;      /* entries in p and lag */
	struct lag_partition *p; /* by partition id, 0 .. partitions-1 */
	int64_t *lag;            /* p[i].lag again, for scale_obs.partition_lag */
	int64_t total_lag;       /* sum of lag */
	int64_t consumed;        /* sum of position */
	int32_t uncommitted;     /* partitions without a commit */
	size_t cap;              /* allocated entries (internal) */
};

struct lag_reader;

/*
 * A reader for the cluster at bootstrap ("host:port[,...]"), to be kept
 * and reused for every poll of every group on that cluster (a handle
 * costs threads and a metadata cache; KEDA #7453 shows what one per
 * resource costs). Returns 0 and *out, or -1 with the reason in errbuf.
 * Free with lag_reader_free (NULL is a no-op).
 */
int lag_reader_new(const char *bootstrap, struct lag_reader **out, char *errbuf,
                   size_t errbuf_size);
/* The same with sec (NULL: PLAINTEXT; copied by librdkafka, so it need
 * not outlive the call). */
int lag_reader_new_sec(const char *bootstrap, const struct kafka_security *sec,
                       struct lag_reader **out, char *errbuf, size_t errbuf_size);

/* 1 when a read failed because the brokers refused the reader's login or
 * TLS handshake (its error events said so, and errbuf of that read carried
 * librdkafka's reason): the reader is not reused by its pool. */
int lag_reader_failed(const struct lag_reader *r);
void lag_reader_free(struct lag_reader *r);

/* The bootstrap the reader was made for (owned by the reader). */
const char *lag_reader_bootstrap(const struct lag_reader *r);

/*
 * Reads group's lag on topic into *out, waiting at most timeout_ms per
 * request. *out must be zeroed before its first use; it may be reused
 * poll after poll (its arrays grow as needed) and is freed with
 * lag_result_free. Returns 0, or -1 with one line in errbuf:
 *   lag: topic "t": Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)
 *   lag: group "g" offsets: Local: Timed out (_TIMED_OUT)
 * A failed read leaves *out's numbers unspecified (feed scale.h ok = 0).
 */
int lag_read(struct lag_reader *r, const char *group, const char *topic, enum lag_reset reset,
             int timeout_ms, struct lag_result *out, char *errbuf, size_t errbuf_size);

/* Frees what lag_read allocated in res and zeroes it; safe twice. */
void lag_result_free(struct lag_result *res);

/*
 * Readers kept by bootstrap and security settings (topics_key of
 * operator/topics.h: two resources with other credentials never share a
 * reader): the operator holds one pool and asks it for a resource's
 * cluster on each poll. lag_pool_get returns the pool's reader (made on
 * first use, and made again after lag_reader_failed; the pool owns it)
 * or NULL with errbuf. At most max_readers clusters (-1 past that).
 */
struct lag_pool;
int lag_pool_new(size_t max_readers, struct lag_pool **out);
struct lag_reader *lag_pool_get(struct lag_pool *pool, const char *bootstrap,
                                const struct kafka_security *sec, char *errbuf, size_t errbuf_size);
void lag_pool_free(struct lag_pool *pool);

/* Kafka's own reset names: "earliest" or "latest"; 0, or -1 otherwise. */
int lag_reset_parse(const char *name, enum lag_reset *out);

#endif /* SLUICE_LAG_H */
