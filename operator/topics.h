/*
 * topics.h - the Kafka topics a resource needs: is the input there, create
 * the ones the operator owns (a VideoJob's task topic, a dead-letter
 * topic), delete them when the resource goes.
 *
 * Resources name their own bootstrap servers and credentials, so this keeps
 * one librdkafka producer handle per distinct bootstrap string and security
 * settings (topics_key; at most TOPICS_MAX_CLIENTS,
 * the least recently used closed past that), made with lib/kafka.h and
 * allow.auto.create.topics=false so that asking about a topic never creates
 * it. An unknown host does not block start-up: a call waits at most its
 * timeout and says "unavailable".
 *
 * Security failures: librdkafka retries a refused login or handshake by
 * itself and tells only its error callback, while the call waits. So
 * kafka_topic_describe asks in slices of a second, looking at the handle's
 * error events between them, and topics_describe answers TOPICS_EAUTH or
 * TOPICS_ETLS as soon as one says so. A handle that
 * failed so is closed once no call runs on it: the next call makes a new
 * one from the settings it is given (a Secret fixed in the meantime), and
 * no handle retries bad credentials in the background.
 *
 * Batched admin requests (issue 19): topics_create calls that run at once
 * on one handle share one CreateTopics request, topics_delete calls one
 * DeleteTopics (group commit, topic_batch.h): a call that finds none in
 * flight sends its own at once; the ones that come while it is in flight
 * queue, and the oldest of them sends everything queued (at most
 * TOPICS_BATCH_MAX topics) when it returns. Every caller gets its own
 * topics' answers. A queued call waits for the request ahead of it, so it
 * may take up to twice its timeout. A CreateTopics batch is in flight
 * until what it created is on every broker: one kafka_meta_wait (lib/kafka_meta.h)
 * for all its topics, through probe handles the client keeps, so a burst
 * of VideoJobs costs a request and a wait per batch, not a handle per
 * broker per topic. topics_create_many puts one caller's topics (a
 * VideoJob's task and dead-letter topics) in one batch.
 *
 * Describes: every handle keeps one all-topics Metadata answer for
 * describe_age_ms (default KAFKA_META_MAX_AGE_MS, a second), shared by
 * the calls that come meanwhile (kafka_meta, lib/kafka_meta.h). TOPICS_ENOTFOUND
 * always comes from an answer asked for after the call began (a missing
 * topic is created and owned: one made a moment ago must not be missed);
 * topics this client created are noted as they are, and a grow or delete
 * drops the answer once done. So the operator's own changes are seen at
 * once, another client's deletions and growths within the second.
 *
 * No topic kept forever: librdkafka keeps an object per topic a handle
 * described (~9 KiB for 4 partitions) until the handle is destroyed. Each
 * handle has a topic_ledger.h of the topics it described; a topic deleted
 * through topics_delete or given up with topics_forget is dead at once,
 * one not described for TOPICS_STALE_MS dead too. Once the dead reach
 * the ledger's limit (or it is full), the handle takes no new call and is
 * destroyed when its last call returns; the next call makes a fresh one.
 *
 * Threads: any thread; one mutex guards the handle cache (librdkafka
 * handles are thread-safe, calls run outside the lock).
 */
#ifndef SLUICE_TOPICS_H
#define SLUICE_TOPICS_H

#include <stddef.h>
#include <stdint.h>

#include "kafka.h"

#define TOPICS_MAX_CLIENTS 16
/* Topics in one CreateTopics or DeleteTopics request. */
#define TOPICS_BATCH_MAX 64
/* Topics in one topics_create_many call. */
#define TOPICS_CALL_MAX 4
/* An error text of this module, NUL included. */
#define TOPICS_ERR_MAX 512
/* Topics a handle's ledger records; a handle that described more is made
 * again. */
#define TOPICS_LEDGER_CAP 4096
/* A topic not described for this long counts as dead (its resource is
 * likely gone without a topics_forget). */
#define TOPICS_STALE_MS (10 * 60 * 1000)

enum topics_rc {
	TOPICS_OK = 0,
	TOPICS_ENOTFOUND = -1,    /* the cluster answered: no such topic */
	TOPICS_EUNAVAILABLE = -2, /* no answer in time: unknown host, brokers down */
	TOPICS_EFAILED = -3,      /* another refusal (errbuf says which) */
	TOPICS_EAUTH = -4,        /* SASL authentication failed (errbuf: librdkafka's reason) */
	TOPICS_ETLS = -5,         /* the TLS handshake failed: unknown CA, expired
	                             certificate, name mismatch (errbuf: the reason) */
};

/* kafka_security_failure (lib/kafka.h) as a topics_rc: TOPICS_EAUTH,
 * TOPICS_ETLS, else 0. Pure. */
int topics_security_failure(int err, const char *text);

/* The condition reason of a topics_rc: "KafkaAuthenticationFailed",
 * "KafkaTLSFailed", "TopicNotFound", "KafkaUnavailable" (unavailable and
 * any other failure); NULL for TOPICS_OK. Pure. */
const char *topics_reason(int rc);

/* kafka_take_security_error (lib/kafka.h) as a topics_rc: for topics.c's
 * and lag.c's handles, which nobody else polls. */
int topics_drain_errors(rd_kafka_t *rk, char *errbuf, size_t errbuf_size);

/*
 * The replication factor of a topic the operator creates: requested
 * (spec.kafka.replicationFactor, or createTopic's) when above 0, else
 * min(3, brokers) (brokers < 1 counts as 1). Pure.
 */
int topics_replication(int requested, int brokers);

/* min.insync.replicas for a topic of replication factor rf: min(2, rf)
 * when rf > 1 (a write is acknowledged by two copies, and one broker may
 * be lost without stopping producers), else 0 (the broker's default). Pure. */
int topics_min_insync(int rf);

/*
 * The cache key of a client for bootstrap with security sec (NULL:
 * PLAINTEXT): "<bootstrap>#<16 hex digits>", the digits a 64-bit FNV-1a
 * hash of every security field (a field's absence and its empty value
 * differ), so two resources on one cluster with other credentials never
 * share a handle, and a bad password cannot poison another resource's
 * client. Cut to size. Returns buf. Pure.
 */
#define TOPICS_KEY_MAX 1100
const char *topics_key(const char *bootstrap, const struct kafka_security *sec, char *buf,
                       size_t size);

struct topics;

/* A cache for client_id's handles; NULL when out of memory. */
struct topics *topics_new(const char *client_id);

/* Settings of topics_new_ex; zero-initialised: topics_new's. */
struct topics_opts {
	size_t ledger_cap;       /* topics a handle's ledger holds (0: TOPICS_LEDGER_CAP) */
	long long stale_ms;      /* 0: TOPICS_STALE_MS; < 0: only deleted and forgotten
	                            topics are dead */
	int describe_age_ms;     /* 0: KAFKA_META_MAX_AGE_MS; < 0: every describe asks */
	int64_t (*now_ms)(void); /* the ledgers' clock (NULL: clock_mono_ms) */
};

/* topics_new with o's settings. For tests. */
struct topics *topics_new_ex(const char *client_id, const struct topics_opts *o);
/* Closes every handle. NULL is a no-op. */
void topics_free(struct topics *t);

/* Every call below takes the cluster as bootstrap and sec (NULL:
 * PLAINTEXT; copied into the handle, so it need not outlive the call). */

/* Partition and replica counts of topic on bootstrap. */
int topics_describe(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                    const char *topic, int timeout_ms, int *partitions, int *replication,
                    char *errbuf, size_t errbuf_size);

/*
 * Creates topic with partitions and replication factor
 * topics_replication(replication, brokers in the cluster), with
 * topics_min_insync of it; an existing one is success, left as it is.
 * *created (may be NULL): 1 when this call created it. A created topic is
 * waited for on every broker (kafka_topic_wait) within timeout_ms, so a
 * producer started next cannot meet a broker that does not know it.
 */
int topics_create(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                  const char *topic, int partitions, int replication, int timeout_ms, int *created,
                  char *errbuf, size_t errbuf_size);

/* One topic of topics_create_many: topic, partitions and replication in
 * (as topics_create's), the rest out. */
struct topics_new_topic {
	const char *topic;
	int partitions, replication;
	int rc;                   /* topics_rc */
	int created;              /* 1: this call created it */
	char err[TOPICS_ERR_MAX]; /* rc != TOPICS_OK: why */
};

/* topics_create for nt[0..n) (at most TOPICS_CALL_MAX) at once: one
 * CreateTopics request and one wait for all (shared with concurrent
 * callers'), each topic answered in its own entry. Returns TOPICS_OK when
 * every one is, else the first failure's rc. */
int topics_create_many(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                       struct topics_new_topic *nt, size_t n, int timeout_ms);

/* Grows topic to partitions (never shrinks; one that has them is success)
 * and waits for the new partitions on every broker. */
int topics_grow(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                const char *topic, int partitions, int timeout_ms, char *errbuf,
                size_t errbuf_size);

/* Deletes topic (an absent one is success) and, on success, forgets it
 * (topics_forget). */
int topics_delete(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                  const char *topic, int timeout_ms, char *errbuf, size_t errbuf_size);

/* Says the operator no longer needs topic on bootstrap and sec (its
 * resource went away, the topic stays): the handle's ledger counts it dead
 * (toward making the handle again). Touches no cluster; no-op when no
 * handle described it. */
void topics_forget(struct topics *t, const char *bootstrap, const struct kafka_security *sec,
                   const char *topic);

/* Counters since topics_new, for the benchmark and tests. */
struct topics_stats {
	unsigned long long create_calls;    /* topics_create calls that reached a handle */
	unsigned long long create_requests; /* CreateTopics requests sent */
	unsigned long long topics_created;  /* topics they created (not there before) */
	unsigned long long delete_calls;    /* topics_delete calls that reached a handle */
	unsigned long long delete_requests; /* DeleteTopics requests sent */
	unsigned long long topics_deleted;  /* topics they deleted (absent ones not counted) */
	unsigned long long handles_made;    /* librdkafka handles made */
	unsigned long long handles_renewed; /* of them destroyed for their dead topics */
	size_t handles_open;                /* open now */
	size_t topics_held;                 /* topics the open handles described (live + dead) */
	size_t topics_dead; /* of them deleted, forgotten or stale (topic_ledger.h) */
	/* Of the open handles' kafka_meta (lib/kafka_meta.h): */
	unsigned long long metadata_requests; /* all-topics Metadata requests for describes */
	unsigned long long metadata_shared;   /* describes answered by a kept answer */
	unsigned long long probes_made;       /* probe handles made for waits */
	size_t probes_open;
};

/* The counters now into *out. Threads: any. */
void topics_stats(struct topics *t, struct topics_stats *out);

/* Blocks until pred(stats, arg) holds (checked now and after every change
 * of a counter this module keeps itself: calls, requests, handles
 * renewed), at most timeout_ms. Returns 1 with the stats that held in
 * *out, else 0 (the last seen in *out). For tests: no polling. */
typedef int (*topics_stats_pred)(const struct topics_stats *s, void *arg);
int topics_stats_wait(struct topics *t, topics_stats_pred pred, void *arg, int timeout_ms,
                      struct topics_stats *out);

#endif
