/* tw_sink.h -- what the telemetry loop hands its sinks, and what it gets back.
 *
 * The flush (workers/telemetry/tw_flush.c) collects emitted windows (copied out of the
 * core's callback into tw_rows) and, when raw points are on, the accepted
 * events, into a tw_batch; it hands the same batch to every configured sink
 * and commits Kafka offsets only after every sink returned 0 for it. So a
 * sink must be idempotent: the same batch written twice (a retry, a replay
 * after a crash) leaves the same rows, keyed by (resource, key, window start).
 *
 * Sinks: PostgreSQL (tw_sink_pg.c), Redis (tw_sink_redis.c), InfluxDB v1 and
 * v2 (tw_sink_influx.c). Each is created from the parsed spec and owns its
 * connection; a sink is used by one thread at a time.
 */
#ifndef SLUICE_TW_SINK_H
#define SLUICE_TW_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "tw_agg.h"
#include "tw_event.h"

struct tw_spec;

/* One emitted window of one key, owned (a copy of a struct tw_result). */
struct tw_row {
	int32_t partition;
	size_t key_len;
	char key[TW_KEY_MAX]; /* key fields joined by TW_KEY_SEP, not NUL-terminated */
	int64_t start_ns, end_ns;
	uint64_t count;
	uint32_t nvalues;
	struct tw_value_result values[TW_VALUES_MAX]; /* spec.fields.values order */
};

/* What one write hands every sink. Owned by the loop; sinks only read it. */
struct tw_batch {
	const struct tw_row *rows;
	size_t nrows;
	const struct tw_event *events; /* raw points (InfluxDB raw); may be 0 */
	size_t nevents;
};

enum tw_sink_result {
	TW_SINK_OK = 0,
	/* Transient: the server is away, timed out, 429/5xx, a deadlock. Nothing
	 * of the batch may be assumed written; the loop retries the whole batch
	 * after tw_sink_retry_after_ms() (or its own backoff) and does not
	 * commit offsets meanwhile. */
	TW_SINK_E_RETRY = -1,
	/* Permanent for this batch (InfluxDB 400/422, a row the database
	 * refuses): retrying cannot help. The loop dead-letters the batch with
	 * the reason and moves on. */
	TW_SINK_E_REJECT = -2,
	/* Configuration or start-up failure (bad DSN, unknown database and no
	 * right to create it): the worker reports it and turns unhealthy. */
	TW_SINK_E_CONFIG = -3,
};

struct tw_sink;

/* Creates the sinks the spec configures, in order postgres, redis, influxdb.
 * Each connects lazily on first write (so a server that is down at start is
 * a TW_SINK_E_RETRY, not a crash). Returns the number created (0..3) in
 * *n and an array the caller frees with tw_sinks_free; negative with the
 * reason in errbuf on a configuration error. Secrets (DSNs with passwords,
 * tokens) never sit in the spec: a secret reference {name, key} is read from
 * the environment variable tw_sink_secret_env() names, which the operator
 * fills from the Secret (env valueFrom.secretKeyRef) and a local run sets. */
int tw_sinks_new(const struct tw_spec *spec, struct tw_sink ***sinks, size_t *n, char *errbuf,
                 size_t errbuf_size);
void tw_sinks_free(struct tw_sink **sinks, size_t n);

struct metrics_registry;

/* Registers the sinks' metrics in reg and records into them from then on:
 *
 *   sluice_tw_sink_write_seconds{sink}           histogram: tw_sink_write's time
 *   sluice_tw_sink_errors_total{sink,op,result}  failed writes and trims, by
 *                                                op (write, trim) and result
 *                                                (retry, reject, config)
 *
 * Process-wide: call it at start-up, before any sink writes (writers read
 * the families without a lock). The same reg again is a no-op; NULL stops
 * recording. Returns 0, or -1 (the reason logged) when reg refuses the
 * families (a name already registered). */
int tw_sinks_set_metrics(struct metrics_registry *reg);

/* Secret references are read with lib/secret_env.h. */

/* "postgres", "redis" or "influxdb": for logs and metric labels. */
const char *tw_sink_name(const struct tw_sink *s);

/* Writes the batch durably (committed transaction, pipeline replies read,
 * 2xx from InfluxDB). Returns a tw_sink_result, with the server's own
 * message in errbuf on failure. */
int tw_sink_write(struct tw_sink *s, const struct tw_batch *batch, char *errbuf,
                  size_t errbuf_size);

/* After TW_SINK_E_RETRY: how long the server asked to wait (Retry-After),
 * or 0 when it did not say. */
int64_t tw_sink_retry_after_ms(const struct tw_sink *s);

/* Retention (spec.retention): deletes rows past max rows per key and older
 * than max age. Called periodically by the loop; sinks without rows of
 * their own (Redis expires by TTL) return 0. */
int tw_sink_trim(struct tw_sink *s, int64_t now_ns, char *errbuf, size_t errbuf_size);

#endif
