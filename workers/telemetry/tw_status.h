/* tw_status.h -- the telemetry worker's state for GET /status
 * (docs/status.md): what the loop publishes every second (the counters,
 * each assigned partition's offsets and watermark, whether consumption is
 * paused) together with each sink's health, read from tw_health when the
 * request comes.
 *
 * Threads: tw_status_publish runs on the loop's thread, tw_status_json on
 * the HTTP server's; each holds the lock while it touches the snapshot, so
 * a request never reads the stream core, which is the loop's alone.
 */
#ifndef SLUICE_TW_STATUS_H
#define SLUICE_TW_STATUS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry.h"
#include "tw_health.h"

/* One assigned partition as published. */
struct tw_status_part {
	struct telemetry_partition_status st;
	int64_t consumed_offset; /* the next offset to read (the consumer's
	                            position); negative: none yet */
};

/* Members are read-only outside tw_status_*(). */
struct tw_status {
	pthread_mutex_t mu;
	int inited;
	const char *resource, *topic; /* borrowed */
	struct tw_health *health;     /* borrowed: slots [0, nsinks) are the sinks,
	                                 slot nsinks the dead-letter producer */
	size_t nsinks;
	int published;        /* a snapshot exists */
	int64_t published_ns; /* its wall-clock time */
	struct telemetry_counters c;
	struct tw_status_part *parts; /* ascending by partition */
	size_t nparts, cap;
	int paused;
	uint64_t rows_held;
};

/* Nothing published yet. resource, topic and health must outlive s.
 * Returns 0, or -1 when the lock cannot be created. */
int tw_status_init(struct tw_status *s, const char *resource, const char *topic,
                   struct tw_health *health, size_t nsinks);

/* Frees the snapshot; a zeroed or never initialised s is a no-op. */
void tw_status_destroy(struct tw_status *s);

/*
 * Replaces the snapshot: the counters, parts[0..n) (copied, sorted by
 * partition), whether consumption is paused and the rows held (rowbuf).
 * Returns 0, or -1 when out of memory (the previous snapshot stays).
 */
int tw_status_publish(struct tw_status *s, const struct telemetry_counters *c,
                      const struct tw_status_part *parts, size_t n, int paused, uint64_t rows_held);

/*
 * The state object of GET /status at now_ms (monotonic, for how long a
 * sink has failed), as docs/status.md lists its fields: the
 * telemetry_status_json members (resource, counters, lag, lastWatermark,
 * partitions[] with consumedOffset added), then topic, assignedPartitions,
 * openWindows, rowsHeld, paused, ready, fatal, publishedAt, sinks[] and
 * deadLetterProducer. Returns a string to free(), or NULL when out of
 * memory.
 */
char *tw_status_json(struct tw_status *s, int64_t now_ms);

#endif
