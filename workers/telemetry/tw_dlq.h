/* tw_dlq.h -- the telemetry worker's dead-letter producer: what the stream
 * refuses goes to spec.kafka.deadLetterTopic, with the headers and values
 * dead_letter.h describes, so nothing is dropped silently:
 *
 *   a malformed, late or overflowing message   tw_dlq_message
 *   every row and raw event of a batch a sink  tw_dlq_batch
 *   rejected for good
 *
 * The producer retries by itself for message.timeout.ms (infinite unless
 * SLUICE_KAFKA_MESSAGE_TIMEOUT_MS sets it: kafka_message_timeout). A
 * delivery that fails (the timeout passed while no broker led the
 * partition) loses nothing: the dead letter is kept, in memory, and
 * produced again at most every TW_DLQ_AGAIN_MS until delivered; while any
 * is kept, tw_dlq_undelivered is above 0 (the loop pauses consumption and
 * /healthz reports the dead-letter slot failing) and tw_dlq_wait fails, so
 * no commit moves past it. More than TW_DLQ_AGAIN_MAX kept, or a dead
 * letter that cannot be produced, is fatal. A full producer queue is waited
 * on, serving delivery reports, for at most TW_DLQ_QUEUE_FULL_MS; that wait
 * is time the loop did not read (tw_pause_stalled). Before a commit the
 * flush waits for every dead letter produced so far (tw_dlq_wait), so no
 * commit moves past a message whose dead letter could still be lost.
 *
 * Everything runs on the loop's thread, delivery reports included (served
 * by tw_dlq_poll and tw_dlq_wait). tw_dlq_readable_key and
 * tw_dlq_batch_reason are pure.
 */
#ifndef SLUICE_TW_DLQ_H
#define SLUICE_TW_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "tw_health.h"
#include "tw_pause.h"
#include "tw_sink.h"
#include "tw_spec.h"

/* A full producer queue: how long to keep polling before giving up. */
#define TW_DLQ_QUEUE_FULL_MS 60000

/* Failed deliveries kept to be produced again: at most this many (more is
 * fatal), produced again at most this often. */
#define TW_DLQ_AGAIN_MAX 100000
#define TW_DLQ_AGAIN_MS 1000

/* Dead-letter kinds, as the sluice-kind header and metric labels. */
enum tw_dlq_kind { TW_DLQ_MALFORMED, TW_DLQ_LATE, TW_DLQ_OVERFLOW, TW_DLQ_REJECTED, TW_DLQ_KINDS };

/* DLQ_KIND_MALFORMED ... DLQ_KIND_REJECTED (dlq.h), by kind. */
extern const char *const tw_dlq_kind_names[TW_DLQ_KINDS];

/*
 * The caller fills spec, resource, health and pause (all borrowed, to
 * outlive it) and zeroes the rest; tw_dlq_start creates the producer.
 * delivered[] and delivered_total count dead letters delivered, by kind and
 * in all.
 */
struct tw_dlq {
	const struct tw_spec *spec; /* the topics, and the fields for the JSON */
	const char *resource;       /* "ns/name": the sluice-resource header */
	struct tw_health *health;   /* fatal errors */
	struct tw_pause *pause;     /* time spent on a full queue */
	rd_kafka_t *producer;       /* NULL until tw_dlq_start */
	uint64_t delivered[TW_DLQ_KINDS];
	uint64_t delivered_total;
	uint64_t failed_total;          /* delivery reports with an error */
	struct tw_dlq_again *again;     /* failed deliveries, oldest first */
	struct tw_dlq_again *again_end; /* the last of them */
	size_t nagain;
	int64_t again_at;     /* monotonic ms: the next produce-again */
	char last_error[256]; /* the last failed delivery's error */
};

/*
 * Creates the producer (client id "<client_id>-dlq") and, when
 * create_topic, the dead-letter topic with the source topic's partitions
 * and replication (a failure there is logged, not returned). Returns 0, or
 * -1 with the reason in errbuf.
 */
int tw_dlq_start(struct tw_dlq *d, const char *client_id, int create_topic, char *errbuf,
                 size_t errbuf_size);

/* Destroys the producer and the failed deliveries kept (what they still
 * hold is lost: their messages were not committed); NULL producer: no-op. */
void tw_dlq_close(struct tw_dlq *d);

/* m (a message of the source topic) as a dead letter of kind, with reason.
 * Returns 0, or -1 after tw_health_set_fatal. */
int tw_dlq_message(struct tw_dlq *d, enum tw_dlq_kind kind, const rd_kafka_message_t *m,
                   const char *reason);

/* Every row and raw event of b as a "rejected" dead letter in JSON, sink
 * and error making the reason. Stops at the first fatal error. */
void tw_dlq_batch(struct tw_dlq *d, const struct tw_batch *b, const char *sink, const char *error);

/* Serves delivery reports without waiting, and produces again the failed
 * deliveries kept once TW_DLQ_AGAIN_MS passed since the last try. */
void tw_dlq_poll(struct tw_dlq *d);

/* How many failed deliveries are kept to be produced again (0: none; the
 * dead letters in flight are not counted). */
size_t tw_dlq_undelivered(const struct tw_dlq *d);

/* Waits up to timeout_ms for every dead letter produced so far, failed
 * deliveries produced again first. Returns 0 when none is left undelivered,
 * else -1 with how many are in *left (in flight and kept). */
int tw_dlq_wait(struct tw_dlq *d, int timeout_ms, int *left);

/* kafka_fatal of the producer: 1 with the reason in errbuf, else 0. */
int tw_dlq_fatal(struct tw_dlq *d, char *errbuf, size_t errbuf_size);

/* The key as the loader writes it, key fields joined by ',' instead of
 * TW_KEY_SEP: len bytes into dst (as large). Returns len. */
size_t tw_dlq_readable_key(char *dst, const char *key, size_t len);

/* The reason of a rejected batch, one line cut to fit buf:
 * "<sink> rejected the batch: <error>" (at most 32 and 200 bytes of
 * each). Returns buf. */
const char *tw_dlq_batch_reason(char *buf, size_t size, const char *sink, const char *error);

#endif
