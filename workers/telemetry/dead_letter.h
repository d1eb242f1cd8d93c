/* dead_letter.h -- what the telemetry worker writes to a TelemetryWindow's
 * dead-letter topic (spec.kafka.deadLetterTopic), and why.
 *
 * Every dead letter carries headers that say where it came from and why it
 * is there, so an operator can read the topic with any client (kcat -J)
 * and replay or discard what it finds:
 *
 *   sluice-reason    one line: the parser's reason for a malformed message
 *                    ("json: unexpected '}' at byte 17"), or the core's for
 *                    a late or refused event, or the sink's for a rejected
 *                    batch ("influxdb: 400 ...")
 *   sluice-kind      malformed | late | overflow | rejected
 *   sluice-source    "topic/partition/offset" of the message it came from
 *                    (for a rejected window row: "topic/partition/-")
 *   sluice-resource  "namespace/name" of the TelemetryWindow
 *
 * The value is the original payload, byte for byte, for malformed, late
 * and overflow messages (the key is the original key); for a batch a sink
 * rejected it is each window row, or raw event, as one JSON object
 * (dead_letter_row_json, dead_letter_event_json).
 *
 * Pure: builds text only. tw_dlq.c produces it.
 */
#ifndef SLUICE_DEAD_LETTER_H
#define SLUICE_DEAD_LETTER_H

#include <stddef.h>
#include <stdint.h>

#include "dlq.h"
#include "tw_event.h"
#include "tw_sink.h"
#include "tw_spec.h"

/* Longest reason built here, NUL included. */
#define DLQ_REASON_MAX 256

/*
 * The reason for an event the core refused, from its verdict (TW_LATE,
 * TW_OVERFLOW) or error (TW_WINDOW_E_RANGE), the event, and the partition's
 * watermark after it (ns, TW_TS_NONE for none):
 *
 *   late: event time 2026-11-23T05:00:01Z is before the watermark
 *     2026-11-23T05:00:12Z: every window that contains it has closed
 *   overflow: the partition holds its most (pane, key) aggregates; event
 *     time 2026-11-23T05:00:01Z not added
 *   event time 2200-01-01T00:00:00Z is out of the range windows handle
 *     (years 1823 to 2116)
 *
 * Writes one line into buf (cut to size) and returns buf. Other codes give
 * "refused by the stream core (<code>)".
 */
const char *dead_letter_reason(char *buf, size_t size, int code, const struct tw_event *ev,
                               int64_t watermark_ns);

/* The sluice-kind of that same code: late, overflow, or malformed. */
const char *dead_letter_kind(int code);

/*
 * A rejected window row as one JSON object, for the dead-letter topic:
 *
 *   {"resource":"ns/name","partition":3,"key":{"device":"d1"},
 *    "start":"2026-11-23T05:00:00Z","end":"2026-11-23T05:00:10Z","count":4,
 *    "values":{"temp":{"count":4,"sum":86,"min":21,"max":22,"mean":21.5,
 *              "p50":21.5,"p95":22,"p99":22}}}
 *
 * Key fields by name (the key split at TW_KEY_SEP), value fields by name;
 * a statistic without a value (NaN) is null. Returns a NUL-terminated
 * string the caller frees with free(), or NULL when out of memory.
 */
char *dead_letter_row_json(const struct tw_spec *spec, const struct tw_row *row);

/* A raw event the same way: {"resource":..,"key":{..},"time":"...Z",
 * "values":{"temp":21.5}} (absent values left out). free(); NULL: no
 * memory. */
char *dead_letter_event_json(const struct tw_spec *spec, const struct tw_event *ev);

#endif
