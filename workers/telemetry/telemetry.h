/* telemetry.h -- `sluice-worker telemetry`: one member of a TelemetryWindow's
 * consumer group. It reads the topic, turns messages into window results
 * and writes them to the sinks, committing offsets only for what the sinks
 * acknowledged:
 *
 *   Kafka message -> tw_parse -> tw_core (dedupe, windows) -> rowbuf
 *     malformed / late / overflow -> dead-letter topic (dead_letter.h)
 *   every flush interval or flush_rows: freeze the batch, take each
 *   partition's checkpoint, write the batch to every sink (retrying the
 *   same batch with backoff), wait for the dead letters' delivery, then
 *   commit each partition's checkpoint offset with its metadata text.
 *
 * docs/telemetry-worker.md says how to run it and what it guarantees;
 * docs/telemetry-semantics.md explains the checkpoints.
 *
 * Threads: everything runs on the caller's thread, including every
 * librdkafka callback but logging (kafka.h). telemetry_healthz and
 * telemetry_readyz and telemetry_state are the exception: the HTTP server calls them on its
 * thread, and they read only state kept for them under a lock.
 */
#ifndef SLUICE_TELEMETRY_H
#define SLUICE_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define TELEMETRY_ERR (-1)

struct telemetry_options {
	const char *spec_path;       /* the TelemetryWindow, JSON or YAML (tw_spec) */
	const char *client_id;       /* NULL: "sluice-worker-<hostname>" */
	int64_t flush_interval_ms;   /* a batch is cut at the latest after this */
	size_t flush_rows;           /* ... or once this many rows plus raw events wait */
	size_t buffer_max;           /* rows plus events held behind a retrying batch
	                                before consumption pauses */
	int64_t unhealthy_after_ms;  /* /healthz fails once a sink has failed this long */
	int64_t session_timeout_ms;  /* group session; 0: librdkafka's default */
	int64_t shutdown_timeout_ms; /* how long SIGTERM's final flush may take */
	int64_t retry_max_ms;        /* backoff cap between retries of a batch */
	int64_t trim_interval_ms;    /* retention (tw_sink_trim) period */
	int create_dlq_topic;        /* create the dead-letter topic if it is missing */
};

/* Defaults for everything but spec_path: 500 ms, 2000 rows, 20000 held,
 * 60 s, librdkafka's session, 20 s, 30 s, 60 s, create. */
void telemetry_options_default(struct telemetry_options *o);

struct telemetry;

/*
 * Loads the spec and builds the parser, the stream core and the sinks
 * (which connect lazily). Nothing talks to Kafka yet. Returns 0 with *out
 * set (free with telemetry_free), or TELEMETRY_ERR with the reason in
 * errbuf, e.g. "/etc/sluice/tw.yaml: spec.window.size: required".
 */
int telemetry_new(const struct telemetry_options *o, struct telemetry **out, char *errbuf,
                  size_t errbuf_size);

/* httpd_check_fn's for app.h: /healthz fails when a sink (or the
 * dead-letter producer) has failed continuously for unhealthy_after_ms, or
 * on a fatal error; /readyz succeeds once the group gave this member its
 * first assignment (possibly empty). arg is the struct telemetry. */
int telemetry_healthz(void *arg, char *reason, size_t reason_size);
int telemetry_readyz(void *arg, char *reason, size_t reason_size);

/* httpd_state_fn for app.h: GET /status's state (tw_status_json of the
 * snapshot the loop publishes every second; docs/status.md). arg is the
 * struct telemetry. */
char *telemetry_state(void *arg);

/*
 * Registers the metrics in reg (borrowed; it must outlive t), creates the
 * consumer and the dead-letter producer, creates the dead-letter topic when
 * asked, and subscribes. Returns 0 or TELEMETRY_ERR with errbuf set.
 */
int telemetry_start(struct telemetry *t, struct metrics_registry *reg, char *errbuf,
                    size_t errbuf_size);

/*
 * The loop, until SIGTERM/SIGINT (signals.h) or a fatal error. On a stop it
 * pauses consumption, finishes the batch in flight and the rows behind it
 * within shutdown_timeout_ms, commits what the sinks acknowledged, and
 * leaves the group. Returns 0 after a clean stop, TELEMETRY_ERR after a
 * fatal error (logged: the process should exit non-zero and be restarted;
 * nothing unacknowledged was committed).
 */
int telemetry_run(struct telemetry *t);

/* Frees t (closing Kafka clients if telemetry_run did not). NULL: no-op. */
void telemetry_free(struct telemetry *t);

/* ==== Counters and status ==== */

struct telemetry_counters {
	uint64_t events_in;    /* messages read, valid or not */
	uint64_t duplicates;   /* dropped by dedupe */
	uint64_t late;         /* every window closed: dead-lettered */
	uint64_t partial_late; /* hopping: some windows closed, added to the others */
	uint64_t replayed;     /* after a restore: windows emitted before the commit */
	uint64_t overflow;     /* state cap reached: dead-lettered */
	uint64_t malformed;    /* refused by the parser or out of range: dead-lettered */
	uint64_t windows_emitted;
	uint64_t dead_lettered; /* dead letters delivered */
	uint64_t batches;       /* batches every sink acknowledged */
	uint64_t commits;       /* partition checkpoints committed */
};

/* One assigned partition's state, for the status. */
struct telemetry_partition_status {
	int32_t partition;
	int64_t committed_offset;        /* negative: none yet */
	int64_t lag;                     /* negative: unknown */
	int64_t max_ts_ns, watermark_ns; /* TW_TS_NONE: none */
	uint64_t open_windows;
};

/*
 * The status as JSON, in the field names the TelemetryWindow status uses:
 *   {"resource":"ns/name","eventsIn":..,"duplicates":..,"late":..,
 *    "partialLate":..,"replayed":..,"overflow":..,"malformed":..,
 *    "windowsEmitted":..,"deadLettered":..,"batches":..,"commits":..,
 *    "lag":<sum of known lags>,"lastWatermark":"<RFC 3339, the lowest
 *    partition watermark>"|null,"partitions":[{"partition":..,
 *    "committedOffset":..|null,"lag":..|null,"maxEventTime":..|null,
 *    "watermark":..|null,"openWindows":..}]}
 * Returns a string to free(), or NULL when out of memory.
 */
char *telemetry_status_json(const char *resource, const struct telemetry_counters *c,
                            const struct telemetry_partition_status *parts, size_t nparts);

/* The running worker's status (telemetry_status_json of its state). */
char *telemetry_snapshot_json(struct telemetry *t);

/* The retry backoff of a batch is tw_flush_backoff_ms (tw_flush.h). */

#endif
