/* tw_spec.h -- the TelemetryWindow spec: one definition of its fields, their
 * defaults and their validation, for the worker's --config file and for the
 * operator, which writes the same JSON into the worker's ConfigMap.
 *
 * Input is the resource as JSON (or YAML, converted): either a Kubernetes
 * object {"apiVersion", "kind": "TelemetryWindow", "metadata": {"name",
 * "namespace"}, "spec": {...}} or the short form {"name", "namespace",
 * "spec": {...}}. Fields, defaults and bounds:
 *
 *   kafka.bootstrap         required, "host:port[,host:port...]"
 *   kafka.topic             required, a Kafka topic name
 *   kafka.group             default "sluice-tw-<namespace>-<name>"
 *   kafka.deadLetterTopic   default "<topic>.dlq"; must differ from topic
 *   format                  json (default) | csv | influx
 *   csv.columns[]           required with format csv, else refused
 *   csv.delimiter           one character, default ","
 *   fields.timestamp        required for json and csv; influx: "" or "_time"
 *                           (the line's own timestamp)
 *   fields.timestampFormat  rfc3339 (default) | epoch_s | epoch_ms | epoch_us |
 *                           epoch_ns | a strptime pattern (has a '%');
 *                           influx: the precision, default epoch_ns
 *   fields.keys[]           0..TW_KEYS_MAX names, no repeats
 *   fields.values[]         0..TW_VALUES_MAX names, no repeats
 *   window.size             required duration, at most 10000h
 *   window.slide            default size; divides size; size/slide <= 1024
 *   window.watermarkDelay   default 10s
 *   window.allowedLateness  default 0s
 *   window.idleTimeout      default 30s; "0s" turns idle advance off
 *   dedupe.enabled          default true
 *   dedupe.horizon          default size + watermarkDelay
 *   dedupe.maxEntries       default 262144 per partition (Sluice addition:
 *                           the memory bound, see tw_dedupe.h)
 *   aggregations[]          default all: count sum min max mean p50 p95 p99
 *   sinks                   optional; each sink optional:
 *     influxdb: url (http[s]://, required), database (required), org (v2),
 *               token {name, key} (a Secret reference; required for api v2),
 *               raw (default false), windows (default true; not both false),
 *               api v1 (default) | v2
 *     postgres: dsn {name, key} (a Secret reference, required),
 *               table (default telemetry_windows; a lower-case identifier)
 *     redis:    addr "host:port" (required), prefix (default
 *               "sluice:<namespace>:<name>:"), ttl (default 1h),
 *               password {name, key} (a Secret reference: AUTH on every
 *               connect), username (an ACL user; needs a password)
 *   retention.maxRowsPerKey default 1000 (0: no cap)
 *   retention.maxAge        default 0s (no age limit)
 *   workers.minReplicas     default 1;  workers.maxReplicas default 10
 *   workers.lagThreshold    default 1000 (messages of lag per replica)
 *   workers.activationLagThreshold  default 0: scale from zero only above it
 *   workers.image           default unset (the operator's --worker-image);
 *                           no blanks, at most 1024 bytes
 *   workers.imagePullPolicy Always | IfNotPresent | Never; default unset
 *                           (Kubernetes decides)
 *   workers.resources       {requests, limits}: maps of at most
 *                           SPEC_RESOURCES_MAX resource names to Kubernetes
 *                           quantities ("500m", "64Mi", or an integer), as
 *                           in a Pod's container
 *
 * Durations are strings: "30s", "500ms", "2m", "1h", "1m30s" (lib/config's
 * syntax; ms resolution). Unknown fields are errors, so a typo cannot pass
 * for a default. Every error names the field path:
 *
 *   spec.window.slide: 45s does not divide spec.window.size: 60s
 */
#ifndef SLUICE_TW_SPEC_H
#define SLUICE_TW_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "spec_common.h"
#include "tw_event.h"
#include "tw_parse.h"
#include "tw_time.h"

enum tw_spec_error {
	TW_SPEC_E_INVALID = -1, /* the spec breaks a rule; errbuf names the field */
	TW_SPEC_E_NOMEM = -2,
	TW_SPEC_E_IO = -3, /* tw_spec_load_file: the file could not be read */
};

/* Most durations may be: 10000h (keeps event-time arithmetic in int64). */
#define TW_SPEC_DURATION_MAX_NS (INT64_C(10000) * 3600 * 1000000000)
/* Most windows an event belongs to (size / slide). */
#define TW_WINDOW_PANES_MAX 1024
/* Default bound on remembered dedupe pairs per partition: 10 MiB at most. */
#define TW_DEDUPE_MAX_ENTRIES_DEFAULT (1u << 18)
/* Upper limit for dedupe.maxEntries (the index is 32-bit, at most half full). */
#define TW_DEDUPE_MAX_ENTRIES_LIMIT (1u << 30)
/* Largest config file read. */
#define TW_SPEC_FILE_MAX (1024 * 1024)

/*
 * A parsed, defaulted, validated spec. Every string is owned by the struct
 * and freed by tw_spec_free; unset optional strings are NULL (only
 * influxdb.org, influxdb.token, workers.image and workers.imagePullPolicy
 * may be). Plain data otherwise: read it
 * from any thread once parsed.
 */
struct tw_spec {
	char *name;
	char *namespace;

	struct spec_kafka kafka;

	enum tw_format format;
	struct {
		char **columns;
		size_t ncolumns;
		char delimiter;
	} csv;

	struct {
		char *timestamp; /* "" for influx's own timestamp */
		enum tw_time_kind timestamp_kind;
		char *timestamp_pattern; /* TW_TIME_STRPTIME only, else NULL */
		char *keys[TW_KEYS_MAX];
		size_t nkeys;
		char *values[TW_VALUES_MAX];
		size_t nvalues;
	} fields;

	struct {
		int64_t size_ns, slide_ns, watermark_delay_ns, allowed_lateness_ns;
		int64_t idle_timeout_ns;
	} window;

	struct {
		int enabled;
		int64_t horizon_ns;
		uint32_t max_entries;
	} dedupe;

	unsigned aggregations; /* TW_AGG_* bits */

	struct {
		struct spec_influxdb influxdb;
		/* spec.sinks.influxdb_raw and .windows: what the InfluxDB sink
		 * writes, raw events and window results (not both off). */
		int influxdb_raw, influxdb_windows;
		struct spec_postgres postgres;
		struct {
			int enabled;
			char *addr, *prefix;
			int64_t ttl_ns;
			char *username;                  /* NULL: the default user */
			struct spec_secret_ref password; /* name NULL: no AUTH */
		} redis;
	} sinks;

	struct {
		uint32_t max_rows_per_key;
		int64_t max_age_ns;
	} retention;

	struct spec_workers workers;
};

/*
 * Parses spec (the resource's .spec object) for the resource name in
 * namespace into *out. Returns 0, or TW_SPEC_E_INVALID / TW_SPEC_E_NOMEM
 * with one line in errbuf. On success the caller frees *out with
 * tw_spec_free; on failure *out holds nothing to free.
 */
int tw_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct tw_spec *out,
                  char *errbuf, size_t errbuf_size);

/* The same for a whole document, in either form described at the top.
 * Errors name metadata.name, kind, ... for the envelope. */
int tw_spec_parse_document(const cJSON *doc, struct tw_spec *out, char *errbuf, size_t errbuf_size);

/*
 * Reads path (JSON when its first non-blank byte is '{', YAML otherwise; at
 * most TW_SPEC_FILE_MAX bytes) and parses it as a document. Errors start
 * with the path: "/etc/sluice/tw.yaml: spec.window.size: required".
 */
int tw_spec_load_file(const char *path, struct tw_spec *out, char *errbuf, size_t errbuf_size);

/* Frees what tw_spec_parse put in spec and zeroes it; safe on a zeroed
 * struct and twice. */
void tw_spec_free(struct tw_spec *spec);

/*
 * Fills *ps, the input parser's settings (tw_parse.h), from spec. Strings
 * and arrays in *ps are borrowed from spec: keep spec alive while ps is
 * used (tw_parser_new copies what it keeps, so that is one call).
 * tw_spec_parse has already checked that tw_parser_new accepts them.
 */
void tw_spec_parser_spec(const struct tw_spec *spec, struct tw_parser_spec *ps);

#endif
