/*
 * kafka_meta: what one long-lived admin handle knows of its cluster's
 * topics, shared by the threads that ask through it, and the wait for a
 * created topic on every broker (the operator's topic admin: topics.c).
 */
#ifndef SLUICE_KAFKA_META_H
#define SLUICE_KAFKA_META_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "kafka.h"

/*
 * Waits until every broker of the cluster answers metadata for topic with
 * at least partitions partitions, each with a leader: the state in which a
 * producer that writes right after the topic was made cannot be told
 * "partition count changed from 3 to 0 ... Unknown partition" by a broker
 * that has not yet heard of it (CreateTopics returns once the controller
 * has the topic; the other brokers learn it a moment later).
 *
 * kafka_meta_wait with a kafka_meta of its own (kafka_meta_new(rk, 0)):
 * its probe handles are made for this call and destroyed before it
 * returns. Callers that wait often keep a kafka_meta instead.
 */
#define KAFKA_WAIT_BROKERS_MAX 64
int kafka_topic_wait(rd_kafka_t *rk, const struct kafka_config *kc, const char *topic,
                     int partitions, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * kafka_meta: what one long-lived client handle knows of its cluster,
 * shared by the threads that ask through it (issue 19: at 5,000 topics
 * each all-topics Metadata answer costs ~13 ms, and a VideoJob pass asked
 * for two, then made a handle per broker per topic it created).
 *
 * Describe cache: kafka_meta_describe and kafka_meta_brokers read one
 * all-topics answer (kafka_topic_describe's request: no topic object is
 * made) kept for max_age_ms from when it was asked for; callers that come
 * while it is being fetched wait for it and share it (or its failure).
 * "No such topic" is never answered from an answer older than the call:
 * the operator creates, and owns, what is not there, so a topic someone
 * made a moment ago must not be missed; such a describe asks again (and
 * shares that request with the callers that come meanwhile). A topic the
 * handle created is noted (kafka_meta_created) and described from the
 * note; one it deleted or grew calls kafka_meta_invalidate once done.
 * So what the handle itself changed is never answered from before the
 * change; a topic another client deleted or grew may take max_age_ms to
 * be seen.
 *
 * Probes: kafka_meta_wait asks every broker, each through a metadata-only
 * handle of its own (kc's settings and security, bootstrap.servers = that
 * broker's advertised host:port from the cluster's metadata, so the
 * address clients really use). librdkafka sends a Metadata request to one
 * broker of its choosing, hence one handle per broker; a cluster of one
 * broker is asked through rk itself, with no probe. The probes are kept
 * across calls (made when a broker first appears, closed when it leaves
 * the broker list or with the kafka_meta); each asks all-topics Metadata,
 * so no probe holds a topic object either. With sparse connections
 * (librdkafka's default) a probe talks only to its bootstrap broker; each
 * answer is still counted for the broker that gave it (its
 * orig_broker_id, or "host:port/bootstrap" before the id is known), so a
 * detour costs a round, never a wrong "ready", and a probe that answered
 * for another broker is made again (its connection went and librdkafka
 * reconnected it elsewhere: kept as it is, its own broker would never be
 * asked again).
 *
 * Threads: any; one wait at a time uses the probes (others queue on a
 * mutex). rk must outlive the kafka_meta.
 */
struct kafka_meta;

/* How long an answer is shared by default. */
#define KAFKA_META_MAX_AGE_MS 1000

/* A kafka_meta for rk; max_age_ms <= 0: every call asks (no sharing).
 * NULL when out of memory. */
struct kafka_meta *kafka_meta_new(rd_kafka_t *rk, int max_age_ms);

/* Closes the probes and drops the kept answer (not rk). NULL is a no-op. */
void kafka_meta_free(struct kafka_meta *m);

/* kafka_topic_describe from the shared answer (same results and errors;
 * a failed request is never kept). */
int kafka_meta_describe(struct kafka_meta *m, const char *topic, int timeout_ms, int *partitions,
                        int *replication, char *errbuf, size_t errbuf_size);

/* The number of brokers in the shared answer into *brokers (>= 1).
 * Returns 0, or KAFKA_ERR with the reason in errbuf. */
int kafka_meta_brokers(struct kafka_meta *m, int timeout_ms, int *brokers, char *errbuf,
                       size_t errbuf_size);

/* The handle changed the cluster's topics: the kept answer goes (and
 * every kafka_meta_created note), and one being fetched now is not kept
 * (it may predate the change). For deletions and grown topics. */
void kafka_meta_invalidate(struct kafka_meta *m);

/* The handle created topic with partitions and replication, and it is on
 * every broker (kafka_meta_wait): describes answer it so until an answer
 * fetched since lists it (or max_age_ms passed), instead of asking again
 * because the kept answer lacks it. At most 128 notes, the oldest
 * forgotten first. */
void kafka_meta_created(struct kafka_meta *m, const char *topic, int partitions, int replication);

/* One topic kafka_meta_wait waits for: topic and partitions in, ready out. */
struct kafka_topic_want {
	const char *topic;
	int partitions;
	int ready; /* out: every broker reported it ready */
};

/*
 * Waits until every broker answers metadata with each of w[0..n) having at
 * least its partitions, each with a leader (kafka_topic_wait's condition),
 * with one all-topics request per broker per round for all n: callers that
 * made several topics wait once. Polls with a backoff from
 * KAFKA_WAIT_FIRST_NAP_MS to KAFKA_WAIT_MAX_NAP_MS until every broker is
 * ready for all of them, at most timeout_ms (the cap is low because the
 * whole batch of VideoJobs that made the topics waits: a loaded broker
 * took 100-450 ms to learn a topic, and 500 ms naps added up to half of
 * that again). kc:
 * the settings the probes are made with (the same cluster and security
 * as rk's; used when a probe is made). Returns 0 (every w ready), or
 * KAFKA_ERR with the reason in errbuf (TIMED_OUT naming how many brokers
 * were ready and the last reason; each w[k].ready still says whether that
 * topic was). At most KAFKA_WAIT_TOPICS_MAX topics and
 * KAFKA_WAIT_BROKERS_MAX brokers.
 */
#define KAFKA_WAIT_TOPICS_MAX 64
#define KAFKA_WAIT_FIRST_NAP_MS 10
#define KAFKA_WAIT_MAX_NAP_MS 100
int kafka_meta_wait(struct kafka_meta *m, const struct kafka_config *kc, struct kafka_topic_want *w,
                    size_t n, int timeout_ms, char *errbuf, size_t errbuf_size);

/* Counters since kafka_meta_new, for tests and figures. */
struct kafka_meta_stats {
	unsigned long long requests;       /* all-topics requests of the shared answer */
	unsigned long long answers_shared; /* calls answered by a kept answer */
	unsigned long long probes_made;    /* probe handles made */
	size_t probes_open;                /* open now */
};

void kafka_meta_stats(struct kafka_meta *m, struct kafka_meta_stats *out);

#endif /* SLUICE_KAFKA_META_H */
