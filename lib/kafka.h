/*
 * kafka.h - the one place where Sluice sets up librdkafka: consumers,
 * producers, topic creation and error text, shared by the workers and the
 * operator so that every client is configured the same way.
 *
 * Consumers are made for at-least-once processing with offsets committed by
 * the program itself, never behind its back:
 *
 *   enable.auto.commit=false        the program commits, after its sinks
 *                                   acknowledged (workers/telemetry/tw_flush.c)
 *   enable.auto.offset.store=false  nothing is stored implicitly either
 *   auto.offset.reset=earliest      a group without a commit starts at the
 *                                   beginning: no event is skipped
 *   partition.assignment.strategy=range (kafka_config's
 *                                   assignment_strategy; cooperative-sticky
 *                                   on request) eager rebalancing by
 *                                   default: in the full e2e suite a 3-member
 *                                   video group under 2.0.2's
 *                                   cooperative-sticky left a task unread
 *                                   for over a minute (its sticky assignor
 *                                   had fixes up to 2.4). With
 *                                   cooperative-sticky a scale step moves
 *                                   only the partitions that change owner.
 *                                   kafka_rebalance_assign() and
 *                                   _revoke() follow whichever protocol is
 *                                   in use. The librdkafka Debian ships
 *                                   (2.0.2) aborts destroying a
 *                                   cooperative-sticky consumer that joined
 *                                   its group but has had no assignment yet
 *                                   (librdkafka#4312, fixed in 2.3.0):
 *                                   close consumers with
 *                                   kafka_consumer_close(), which waits for
 *                                   that assignment (see below).
 *   isolation.level=read_committed  aborted transactional writes are never
 *                                   read
 *   enable.partition.eof=false, statistics.interval.ms=0
 *   queued.min.messages=20000,      the prefetch queue per partition: the
 *   queued.max.messages.kbytes=8192 defaults (100000 messages, 64 MiB)
 *                                   alone would take the worker past its
 *                                   64 MB memory target; 20000 messages
 *                                   still cover several poll rounds
 *
 * Producers: acks=all and enable.idempotence=true (no duplicates or
 * reordering from internal retries), partitioner=murmur2_random (the Java
 * client's: a key lands in the same partition whichever client produced
 * it).
 *
 * librdkafka's log lines go to lib/log (component unchanged, "kafka_fac"
 * and "client" fields); its error callback logs there too. Fatal errors
 * (rd_kafka_fatal_error) are only logged: callers check for them.
 *
 * Threads: librdkafka runs its own threads and calls the log callback from
 * them (lib/log is thread-safe). Every other callback (rebalance, delivery
 * reports, errors) runs inside the caller's rd_kafka_consumer_poll,
 * rd_kafka_poll or rd_kafka_flush, on the caller's thread.
 */
#ifndef SLUICE_KAFKA_H
#define SLUICE_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define KAFKA_ERR (-1)

/* Longest text kafka_source() writes, NUL included. */
#define KAFKA_SOURCE_MAX 300

/*
 * How a client proves itself to the brokers and checks them. Values, not
 * file names: PEM text and credentials as the program read them (from a
 * Secret). security.protocol follows: TLS and SASL: SASL_SSL; TLS alone:
 * SSL; SASL alone: SASL_PLAINTEXT; neither: PLAINTEXT. Every string may be
 * NULL (unset).
 */
struct kafka_security {
	int tls;                    /* 1: TLS to every broker */
	const char *ca_pem;         /* trust these CAs (NULL: the system's) */
	const char *cert_pem;       /* a client certificate ... */
	const char *key_pem;        /* ... and its key, both or neither */
	const char *server_name;    /* the name brokers' certificates must carry */
	const char *sasl_mechanism; /* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"; NULL: no SASL */
	const char *username, *password;
};

/*
 * The librdkafka properties sec maps to, as name, value pairs into pairs
 * (room for n pointers, NULL-terminated; KAFKA_SECURITY_PAIRS_MAX is
 * always enough). The one place where Sluice's security model becomes
 * librdkafka's:
 *
 *   security.protocol   plaintext | ssl | sasl_plaintext | sasl_ssl
 *   ssl.ca.pem          ca_pem (unset: the system's trust store)
 *   ssl.certificate.pem, ssl.key.pem
 *                       cert_pem, key_pem (both or neither)
 *   ssl.endpoint.identification.algorithm
 *                       https: each broker's certificate must carry the
 *                       host it is reached at; none when server_name is
 *                       set: librdkafka 2.0.2 has no property for another
 *                       name, so the constructors check server_name
 *                       against the leaf certificate themselves (an
 *                       ssl_cert_verify_cb, with OpenSSL's X509_check_host
 *                       or X509_check_ip_asc), after OpenSSL verified the
 *                       chain.
 *   sasl.mechanism, sasl.username, sasl.password
 *
 * sec NULL: no pairs (librdkafka's default, PLAINTEXT). Returns 0, or
 * KAFKA_ERR with the reason in errbuf, never quoting a password or key:
 *   kafka: ssl.certificate.pem and ssl.key.pem: give both or neither
 *   kafka: ssl.ca.pem: set without tls
 *   kafka: sasl.mechanism: "GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
 *   kafka: sasl.username: required with sasl.mechanism SCRAM-SHA-512
 * Values point into sec.
 */
#define KAFKA_SECURITY_PAIRS_MAX 20
#define KAFKA_SERVER_NAMES_MAX 64
int kafka_security_pairs(const struct kafka_security *sec, const char **pairs, size_t n,
                         char *errbuf, size_t errbuf_size);

/* 1 when the DER certificate der (size bytes) carries name: a DNS name
 * (wildcards as RFC 6125 allows) or an IP address (IPv4 or IPv6 text)
 * among its subjectAltNames (or, without DNS names, its common name).
 * What the constructors check with server_name; 0 also for a certificate
 * that does not parse. */
int kafka_cert_has_name(const unsigned char *der, size_t size, const char *name);

struct kafka_config {
	const char *bootstrap; /* "host:port[,host:port...]", required */
	/* NULL: PLAINTEXT. Applied by every constructor below, before extra
	 * (kafka_security_pairs). With a server_name, the client's opaque
	 * (NULL too) is also the key the certificate check finds the name by:
	 * at most KAFKA_SERVER_NAMES_MAX different (opaque, server name) pairs
	 * per process, and the constructors refuse more. */
	const struct kafka_security *security;
	const char *client_id; /* required: shows in broker logs and group listings */
	const char *group;     /* consumers: the group id, required */
	/* Consumers: how long the group waits for a silent member before
	 * giving its partitions away (a kill -9 is noticed after this). 0:
	 * librdkafka's default (45 s). The heartbeat interval follows it. */
	int session_timeout_ms;
	/* Consumers: partition.assignment.strategy. NULL:
	 * KAFKA_STRATEGY_EAGER ("range", stop-everyone rebalances);
	 * KAFKA_STRATEGY_COOPERATIVE for incremental ones (see above why it
	 * is not the default). Every member of a group must name the same
	 * protocol's strategies. */
	const char *assignment_strategy;
	/* Any other librdkafka properties, applied last as name, value pairs,
	 * NULL-terminated; NULL for none. */
	const char *const *extra;
};

#define KAFKA_STRATEGY_COOPERATIVE "cooperative-sticky"
#define KAFKA_STRATEGY_EAGER "range"

typedef void (*kafka_rebalance_fn)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t *partitions, void *opaque);
typedef void (*kafka_delivery_fn)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/*
 * A consumer configured as above (not subscribed yet). rebalance may be NULL
 * (librdkafka then assigns by itself); opaque reaches every callback.
 * Returns the handle (the caller closes it with kafka_consumer_close and
 * frees it with kafka_consumer_destroy), or NULL with the reason in errbuf:
 *   kafka: group.id: required for a consumer
 */
rd_kafka_t *kafka_consumer_new(const struct kafka_config *kc, kafka_rebalance_fn rebalance,
                               void *opaque, char *errbuf, size_t errbuf_size);

/*
 * Leaves the group (rd_kafka_consumer_close: the rebalance callback gives
 * every partition back) in the way librdkafka 2.0.2's cooperative-sticky
 * survives. *assigned is the caller's flag, set (to 1, on the thread that
 * polls, or with __atomic) by its rebalance callback on the first
 * RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, even an empty one. A subscribed
 * cooperative consumer without one polls for it first, at most wait_ms
 * (serving the callback; a message that comes is dropped uncommitted).
 * *destroy_ok says whether kafka_consumer_destroy may free the handle: 0
 * when the assignment never came, since rd_kafka_destroy could then abort
 * the process (librdkafka#4312; the why is in lib/kafka.c). Eager or
 * unsubscribed consumers close at once. Returns 0, or KAFKA_ERR with
 * librdkafka's reason in errbuf (the consumer is closed all the same).
 */
#define KAFKA_CLOSE_WAIT_MS 10000
int kafka_consumer_close(rd_kafka_t *rk, const int *assigned, int wait_ms, int *destroy_ok,
                         char *errbuf, size_t errbuf_size);

/* rd_kafka_destroy(rk) when destroy_ok, else leaves rk as it is (logged):
 * for a process about to exit. NULL is fine. */
void kafka_consumer_destroy(rd_kafka_t *rk, int destroy_ok);

/*
 * The consumer's prefetch bound: librdkafka stops fetching a partition once
 * this many messages (or KAFKA_PREFETCH_KBYTES) wait in the consumer's queue.
 * 20,000 small messages are two fetch responses of headroom: with 10,000 a
 * loop reading 600,000 a second emptied its queue before the next response
 * came (docs/telemetry-worker.md); each 10,000 costs ~2-3 MB of RSS.
 */
#define KAFKA_PREFETCH_MESSAGES 20000
#define KAFKA_PREFETCH_KBYTES 8192

/*
 * Has the consumer's fetcher look at its partitions again now. librdkafka
 * 2.0.2 stops fetching a partition whose queue reached the prefetch bound
 * and looks again only when the partition leader's broker thread next
 * wakes, which can be a second later (librdkafka issue #2879;
 * fetch.queue.backoff.ms in 2.2 fixes it): a consumer that drains its
 * queue faster than that then reads one queueful per second. A ListOffsets
 * request for the assigned partitions wakes the thread of every leader it
 * goes to. Blocks for its round trip, at most timeout_ms. Returns 0, or
 * KAFKA_ERR when the request failed (nothing else changes).
 */
int kafka_wake_fetcher(rd_kafka_t *consumer, int timeout_ms);

/*
 * kafka_wake_fetcher on a thread of its own, so a loop that asks for a
 * wake-up goes on processing its queue instead of waiting a round trip for
 * the brokers' answer (at hundreds of thousands of messages a second, those
 * waits were a quarter of the loop's time). A failed wake-up makes the
 * waker rest fail_ms before the next. The consumer must outlive the waker.
 */
struct kafka_waker;

/* NULL with the reason in errbuf when the thread cannot start. */
struct kafka_waker *kafka_waker_new(rd_kafka_t *consumer, int timeout_ms, int fail_ms, char *errbuf,
                                    size_t errbuf_size);

/* Starts one wake-up and returns 1, or returns 0 when the last one is still
 * under way (or resting after a failure). Never blocks on the network. */
int kafka_waker_poke(struct kafka_waker *w);

/* Waits for a wake-up under way, then stops the thread. NULL is fine. */
void kafka_waker_free(struct kafka_waker *w);

/*
 * Destroys consumed messages on a thread of its own. A message is memory the
 * broker thread allocated, and glibc frees it under that thread's arena
 * lock: a loop destroying 500,000 messages a second while the broker thread
 * allocates the next ones slept on that lock about a fifth of the time. The
 * loop hands messages over in slices of KAFKA_REAPER_SLICE (one lock
 * each); the reaper thread frees them, and waits on the lock instead.
 */
#define KAFKA_REAPER_SLICE 1024
struct kafka_reaper;

/* NULL with the reason in errbuf when the thread cannot start. */
struct kafka_reaper *kafka_reaper_new(char *errbuf, size_t errbuf_size);

/* Takes m (destroyed later, on the reaper's thread). Never blocks but to
 * hand a full slice over while the reaper has six waiting. */
void kafka_reaper_put(struct kafka_reaper *r, rd_kafka_message_t *m);

/* Hands a partly filled slice over now (a quiet stream would otherwise
 * keep its last messages, and the fetch buffers they point into, until
 * the slice fills). Blocks as kafka_reaper_put does. */
void kafka_reaper_flush(struct kafka_reaper *r);

/* Returns when every message put so far is destroyed: call it before
 * closing the consumer the messages came from. */
void kafka_reaper_drain(struct kafka_reaper *r);

/* Drains, then stops the thread. NULL is fine. */
void kafka_reaper_free(struct kafka_reaper *r);

/* A producer configured as above; delivery (may be NULL) gets each
 * message's report during rd_kafka_poll/rd_kafka_flush. Free with
 * rd_kafka_destroy after rd_kafka_flush. NULL with the reason in errbuf. */
rd_kafka_t *kafka_producer_new(const struct kafka_config *kc, kafka_delivery_fn delivery,
                               void *opaque, char *errbuf, size_t errbuf_size);

/*
 * The producers' delivery timeout (librdkafka's message.timeout.ms: how long
 * a message is retried while its partition has no leader before its
 * delivery report says it failed; 0: forever). SLUICE_KAFKA_MESSAGE_TIMEOUT_MS
 * when set (decimal ms, 0 to 2147483647), else dflt. Writes the value into
 * buf (at least 16 bytes) and returns buf, or NULL with the reason in errbuf:
 *   SLUICE_KAFKA_MESSAGE_TIMEOUT_MS: "5s" is not a number of milliseconds
 */
#define KAFKA_MESSAGE_TIMEOUT_ENV "SLUICE_KAFKA_MESSAGE_TIMEOUT_MS"
const char *kafka_message_timeout(const char *dflt, char *buf, size_t size, char *errbuf,
                                  size_t errbuf_size);

/*
 * Creates topic with partitions and replication factor through rk (any
 * client handle), waiting at most timeout_ms. A topic that already exists
 * is success (its settings are left as they are). Returns 0, or KAFKA_ERR
 * with the broker's reason in errbuf:
 *   kafka: create topic "t": Broker: Invalid replication factor (INVALID_REPLICATION_FACTOR): ...
 */
int kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions, int replication,
                       int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * kafka_topic_create, and: min_insync > 0 sets the new topic's
 * min.insync.replicas (0: the broker's default); *created (may be NULL)
 * is 1 when this call created the topic, 0 when it existed already.
 */
int kafka_topic_create_ex(rd_kafka_t *rk, const char *topic, int partitions, int replication,
                          int min_insync, int timeout_ms, int *created, char *errbuf,
                          size_t errbuf_size);

/* Grows topic to partitions in all (CreatePartitions); a topic that has
 * them already is success. Partitions never shrink. Returns 0, or
 * KAFKA_ERR with the broker's reason in errbuf. */
int kafka_topic_grow(rd_kafka_t *rk, const char *topic, int partitions, int timeout_ms,
                     char *errbuf, size_t errbuf_size);

/* The wait for a created topic on every broker and the shared describe
 * answer of a long-lived handle: kafka_meta.h. */

/* Whether md reports topic with at least partitions partitions, each with a
 * leader: 1, or 0 with why ("2 of 3 partitions", "partition 1 has no
 * leader", "UNKNOWN_TOPIC_OR_PART", "not in the answer"). Pure. */
int kafka_metadata_topic_ready(const struct rd_kafka_metadata *md, const char *topic,
                               int partitions, char *why, size_t why_size);

/* The index in cluster->brokers of the broker that sent answer, or -1.
 * Pure. */
int kafka_metadata_answerer(const struct rd_kafka_metadata *cluster,
                            const struct rd_kafka_metadata *answer);

/* The refusals a client meets when it cannot prove itself to the brokers
 * or trust them. */
enum kafka_security_failure {
	KAFKA_SEC_NONE = 0,
	KAFKA_SEC_AUTH = 1, /* SASL: a wrong password, an unknown user, a mechanism refused */
	KAFKA_SEC_TLS = 2,  /* an unknown CA, an expired certificate, a name it lacks */
};

/*
 * Which refusal an error code and its text tell of (either may): KAFKA_SEC_AUTH
 * for RD_KAFKA_RESP_ERR__AUTHENTICATION, SASL_AUTHENTICATION_FAILED,
 * UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE or a text saying "SASL
 * authentication error"/"Authentication failed"; KAFKA_SEC_TLS for
 * RD_KAFKA_RESP_ERR__SSL or a text saying "SSL handshake failed",
 * "certificate verify failed", "SSL routines" or "SSL alert" (OpenSSL's
 * words: a broker that refuses an expired client certificate sends an
 * alert after the handshake, which librdkafka reports as a transport
 * error: "Receive failed: error:0A000416:SSL routines::sslv3 alert
 * certificate unknown"); else KAFKA_SEC_NONE. text may be NULL. Pure.
 */
int kafka_security_failure(int err, const char *text);

/*
 * Serves rk's main queue without blocking (error events are queued there
 * and would pile up on a handle nobody polls) and returns the last security
 * failure among the errors found, with its text in errbuf ("kafka:
 * <librdkafka's reason>"; errbuf untouched when none). At most 1000 events
 * a call.
 */
int kafka_take_security_error(rd_kafka_t *rk, char *errbuf, size_t errbuf_size);

/*
 * Reads topic's partition count and the replica count of its first
 * partition from the cluster's metadata. Returns 0, or KAFKA_ERR with the
 * reason in errbuf (an unknown topic: UNKNOWN_TOPIC_OR_PART). Asks in
 * slices of at most a second and looks at the client's errors between
 * them, so a refused login or handshake fails in about a second with its
 * reason (kafka_take_security_error) instead of timing out.
 *
 * Memory (issue 19): asks for the metadata of every topic of the cluster
 * and picks topic from the answer, so the handle keeps no topic object for
 * it (librdkafka 2.0.2 keeps one, and a partition object per partition,
 * ~4.3 KiB for 1 and ~8.8 KiB for 4 partitions, for every topic named in a
 * request, until the handle is destroyed). What stays is the metadata
 * cache's entry per topic of the cluster (~50-140 B), replaced by each such
 * answer. Time: the answer grows with the cluster's topic count (mock
 * cluster: ~1.6 ms at 1,000 topics, ~13 ms at 5,000). A request that names
 * no topic never has the broker auto-create one.
 */
int kafka_topic_describe(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions,
                         int *replication, char *errbuf, size_t errbuf_size);

/* One topic of kafka_topics_describe: topic in, the rest out. */
struct kafka_topic_info {
	const char *topic;
	int partitions;          /* > 0 when err is NO_ERROR */
	rd_kafka_resp_err_t err; /* the broker's code for this topic (UNKNOWN_TOPIC_OR_PART...) */
};

/*
 * kafka_topic_describe for n topics in one Metadata request: each topic's
 * partition count, or its own error (a topic missing from the answer, which
 * lists the whole cluster: RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, as
 * kafka_topic_describe says; a topic answered with no partitions is
 * NO_ERROR with partitions 0, for the caller to judge). The request is for
 * every topic of the cluster, as kafka_topic_describe's (same memory and
 * time), whatever n: the handle keeps no topic object for any of them.
 * Time and security failures as kafka_topic_describe. Returns 0 when the
 * request was answered (each topic's err says the rest), or KAFKA_ERR with
 * the reason in errbuf (the topics' fields then unspecified). At most
 * KAFKA_DESCRIBE_MAX topics.
 */
#define KAFKA_DESCRIBE_MAX 4096
int kafka_topics_describe(rd_kafka_t *rk, struct kafka_topic_info *topics, size_t n, int timeout_ms,
                          char *errbuf, size_t errbuf_size);

/*
 * How many topics the handle knows (its topic objects and its metadata
 * cache's topics, as librdkafka lists "the topics known locally"), into
 * *held: one Metadata round trip naming them all. After a
 * kafka_topic_describe or kafka_topics_describe the cache lists every
 * topic of the cluster (compact entries, no topic objects), so held is
 * then at least the cluster's topic count: the bytes a handle keeps per
 * topic are measured in tests/unit/test_kafka_topic_memory.c. For tests
 * and figures. Returns 0, or KAFKA_ERR with errbuf.
 */
int kafka_topics_held(rd_kafka_t *rk, int timeout_ms, int *held, char *errbuf, size_t errbuf_size);

/*
 * The rebalance callback's two moves for either protocol: assign adds
 * partitions (with the offsets the caller put in them) to the assignment,
 * revoke removes them (eager: clears the assignment). Return 0, or
 * KAFKA_ERR with librdkafka's reason in errbuf.
 */
int kafka_rebalance_assign(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions,
                           char *errbuf, size_t errbuf_size);
int kafka_rebalance_revoke(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions,
                           char *errbuf, size_t errbuf_size);

/*
 * Error text as "<description> (<NAME>)", e.g.
 *   Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)
 * into buf; returns buf. The name is what to search for in librdkafka's
 * and Kafka's documentation.
 */
const char *kafka_strerror(char *buf, size_t size, rd_kafka_resp_err_t err);

/* Writes "kafka: <what>: <kafka_strerror>" into errbuf; returns KAFKA_ERR,
 * so a failure reads: return kafka_fail(errbuf, errbuf_size, "commit", err); */
int kafka_fail(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_resp_err_t err);

/* The same for an rd_kafka_error_t, which it destroys; NULL error: 0. */
int kafka_fail_error(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_error_t *error);

/*
 * Whether rk hit a fatal error (an idempotent producer's broken sequence, a
 * fenced consumer): 1 with the description in errbuf, else 0. A fatal
 * client is unusable; the program should stop and be restarted.
 */
int kafka_fatal(rd_kafka_t *rk, char *errbuf, size_t errbuf_size);

/* "topic/partition/offset" (offset "-" when negative), the form Sluice uses
 * in logs and in dead letters' sluice-source header. Cut to fit; returns
 * buf. */
const char *kafka_source(char *buf, size_t size, const char *topic, int32_t partition,
                         int64_t offset);

#endif /* SLUICE_KAFKA_H */
