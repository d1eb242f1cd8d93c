/*
 * lag.h - reads a consumer group's lag on one topic through librdkafka,
 * for the scaler (operator/scale.h) and the resources' status.
 *
 * A read is three kinds of requests however many partitions the topic has,
 * and lag_read_many reads many (group, topic) pairs of one cluster in one
 * round of them (one Metadata, one ListOffsets round, the OffsetFetches
 * in flight together):
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
 * One (group, topic) of a lag_read_many. The strings are the caller's and
 * need only outlive the call.
 */
struct lag_query {
	const char *group;
	const char *topic;
	enum lag_reset reset;
};

/* The most queries one lag_read_many takes. */
#define LAG_READ_MANY_MAX 1024
/* Room for one query's error line, NUL included. */
#define LAG_ERROR_MAX 512

/*
 * Reads n queries' lag on the reader's cluster in one round:
 *   1. one Metadata request for every topic of the queries (librdkafka
 *      asks for the topics its handle knows: bounded by the reader's
 *      ledger, see lag_reader_forget);
 *   2. one OffsetFetch per distinct group (the group's partitions of all
 *      its topics), all put in flight at once on one queue;
 *   3. while those run, ListOffsets for the latest, then the earliest
 *      offsets of all partitions of all topics (librdkafka sends one
 *      request per partition leader each time);
 * then collects the OffsetFetch answers. timeout_ms bounds each step.
 * res[i] is q[i]'s result (zeroed before first use, reusable, freed with
 * lag_result_free, as for lag_read). errors (may be NULL) has room for n
 * lines of LAG_ERROR_MAX: errors[i] is "" for a query read, else the
 * line lag_read would have given. An error is per query: a missing topic
 * or a refused group fails only the queries that name it; a request that
 * fails as a whole (the Metadata, a ListOffsets round) fails every query
 * it served. n == 0 reads nothing; n > LAG_READ_MANY_MAX fails every
 * query. Duplicated topics or groups among the queries are asked once.
 * Returns the number of queries that failed (0: all read).
 * Threads: as lag_read.
 */
size_t lag_read_many(struct lag_reader *r, size_t n, const struct lag_query q[],
                     struct lag_result res[], char (*errors)[LAG_ERROR_MAX], int timeout_ms);

/*
 * The latest offsets of n topics of the reader's cluster in one round (the
 * ledger, one Metadata request, one ListOffsets round: lag_read_many's
 * steps 1 and 3, its latest offsets only): end_sums[i] is the sum over
 * topics[i]'s partitions of their latest (last stable) offsets. The
 * autoscaler's quiet check (docs/autoscaling.md, "What an idle resource
 * costs"): with no new message the sum does not move.
 * partitions (NULL: none known) gives topics[i]'s partition count where
 * the caller knows it (> 0; from its last lag_read_many): those topics
 * are left out of the Metadata request, and with all known none is sent
 * (its answer names every topic of the cluster: the costliest part of an
 * idle round). The sum is then over those partitions; a topic that lost
 * partitions (deleted, made again) fails with ListOffsets' error, one
 * that gained some sums the old ones (its caller's periodic full read
 * sees the new ones).
 * errors as for lag_read_many (errors[i] "" when read; end_sums[i]
 * unspecified when not). Duplicated topics are asked once. n == 0 reads
 * nothing; n > LAG_READ_MANY_MAX fails every topic. Returns the number
 * that failed. Threads: as lag_read.
 */
size_t lag_read_ends(struct lag_reader *r, size_t n, const char *const topics[],
                     const int32_t partitions[], int64_t end_sums[], char (*errors)[LAG_ERROR_MAX],
                     int timeout_ms);

/*
 * Topics kept forever: a librdkafka handle keeps what it learnt of every
 * topic it read until the handle is destroyed (operator/topic_ledger.h).
 * The reader records the topics it touched; before a read it makes its
 * handle again (nothing in flight: between reads) once the topics it no
 * longer needs reach max(TOPIC_LEDGER_MIN_DEAD, the live ones). A topic is
 * no longer needed when lag_reader_forget/lag_pool_forget said so (its
 * resource went away) or when no read asked for it for LAG_TOPIC_STALE_MS.
 * At most LAG_TOPICS_MAX topics: past that the handle is made again too.
 */
#define LAG_TOPIC_STALE_MS (10 * 60 * 1000)
#define LAG_TOPICS_MAX 4096

/* The reader no longer needs topic (its resource is gone). Cheap: the
 * handle is made again at the next read that finds enough such topics. */
void lag_reader_forget(struct lag_reader *r, const char *topic);

/* How many times the reader made its handle again (for tests and metrics). */
uint64_t lag_reader_renewals(const struct lag_reader *r);

/*
 * The topics the reader's librdkafka handle holds now, as librdkafka
 * itself lists them (its topic objects and its metadata cache's topics:
 * what a Metadata request for "the topics known locally" names), into
 * *held: one Metadata round trip. 0, or -1 with errbuf.
 */
int lag_reader_held_topics(struct lag_reader *r, int timeout_ms, int *held, char *errbuf,
                           size_t errbuf_size);

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
/* A reader's id: unique in the process, never 0 (0 for NULL). A caller
 * that keeps a reference across polls keeps the id, never the pointer:
 * the pool frees a reader that failed (lag_pool_get). */
uint64_t lag_reader_id(const struct lag_reader *r);
/* The pool's reader with that id, or NULL when the pool holds it no more
 * or it failed (lag_reader_failed). A walk of at most max_readers. */
struct lag_reader *lag_pool_find(struct lag_pool *pool, uint64_t id);
/* lag_reader_forget on every reader of the pool. NULL pool: no-op. */
void lag_pool_forget(struct lag_pool *pool, const char *topic);

/* Kafka's own reset names: "earliest" or "latest"; 0, or -1 otherwise. */
int lag_reset_parse(const char *name, enum lag_reset *out);

#endif /* SLUICE_LAG_H */
