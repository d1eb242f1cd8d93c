/* tw_pause.h -- whether the telemetry worker reads its partitions, and the
 * processing clock that leaves out the time it did not.
 *
 * The loop pauses consumption when the sinks are behind (the buffer behind
 * the batch in flight is full) and when it stops. The stream core's idle
 * timeout (window.idleTimeout) runs on processing time: a partition is idle
 * when its producers are quiet, not while this worker waits for a sink, so
 * the time consumption was paused, or the loop was blocked writing,
 * committing or queueing dead letters, is left out of it. Counting such a
 * wait would advance the watermark over events still unread in Kafka and
 * turn them late.
 *
 * struct tw_pause and its clock are pure (the caller passes the monotonic
 * time); tw_pause_partitions and tw_pause_assignment are librdkafka
 * adapters, called on the loop's thread.
 */
#ifndef SLUICE_TW_PAUSE_H
#define SLUICE_TW_PAUSE_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct tw_pause {
	int paused;
	int64_t paused_since; /* monotonic ms when consumption was paused */
	int64_t stall_ms;     /* time not reading; a pause counts once it ends */
};

/* The processing time at monotonic mono_ms: the clock, stopped while
 * paused, less every stall. */
int64_t tw_pause_now(const struct tw_pause *p, int64_t mono_ms);

/* The loop did not read for ms (blocked on a sink, a commit, a full
 * dead-letter queue). Ignored while paused: the pause counts already. */
void tw_pause_stalled(struct tw_pause *p, int64_t ms);

/* Records the switch to pause (1) or reading (0) at mono_ms; nothing when
 * it already is so. */
void tw_pause_mark(struct tw_pause *p, int pause, int64_t mono_ms);

/* Pauses (or resumes) the partitions in list on consumer; failures are
 * logged (resource names the TelemetryWindow), never fatal. Pausing drops
 * what librdkafka had prefetched; resuming starts at the next offset not
 * yet returned. */
void tw_pause_partitions(rd_kafka_t *consumer, rd_kafka_topic_partition_list_t *list, int pause,
                         const char *resource);

/* tw_pause_partitions of every partition assigned to consumer. Returns 0,
 * or -1 (logged) when the assignment cannot be read. */
int tw_pause_assignment(rd_kafka_t *consumer, int pause, const char *resource);

#endif
