/* tw_ingest.h -- one Kafka message through the telemetry stream, and the
 * counts of what became of each:
 *
 *   message -> tw_parse -> tw_core (dedupe, windows) -> emitted windows to
 *                                                       the rows (rowbuf)
 *     refused by the parser, event time out of range -> dead letter
 *                                  (malformed), its offset skipped
 *     late, overflow             -> dead letter, the watermark in its reason
 *     added (partially late too) -> its raw point held, when InfluxDB
 *                                   keeps them
 *     duplicate, replayed        -> counted only
 *
 * tw_ingest_decide and tw_ingest_malformed_kind are the pure decisions;
 * tw_ingest_message and tw_ingest_emit apply them, on the loop's thread.
 */
#ifndef SLUICE_TW_INGEST_H
#define SLUICE_TW_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "rowbuf.h"
#include "tw_core.h"
#include "tw_dlq.h"
#include "tw_health.h"
#include "tw_parse.h"

/* Why a message was malformed, as metric labels: -enum tw_event_error, and
 * an event time out of the range windows handle. */
enum tw_malformed_kind {
	TW_MALFORMED_OTHER,
	TW_MALFORMED_SYNTAX,
	TW_MALFORMED_MISSING,
	TW_MALFORMED_TYPE,
	TW_MALFORMED_TIMESTAMP,
	TW_MALFORMED_TOO_LONG,
	TW_MALFORMED_RANGE,
	TW_MALFORMED_KINDS
};

/* "other", "syntax", "missing", "type", "timestamp", "too_long", "range". */
extern const char *const tw_malformed_names[TW_MALFORMED_KINDS];

/* What the counters count (struct tw_ingest's n[]). */
enum tw_ingest_counter {
	TW_IN_EVENTS,       /* messages of an owned partition, valid or not */
	TW_IN_DUPLICATES,   /* dropped by dedupe */
	TW_IN_LATE,         /* every window closed: dead-lettered */
	TW_IN_PARTIAL_LATE, /* hopping: added to the windows still open */
	TW_IN_REPLAYED,     /* windows emitted before the last commit */
	TW_IN_OVERFLOW,     /* the partition's state is full: dead-lettered */
	TW_IN_MALFORMED,    /* refused by the parser or out of range: dead-lettered */
	TW_IN_WINDOWS,      /* window results emitted */
	TW_IN_COUNTERS,
	TW_IN_NONE = TW_IN_COUNTERS /* a decision that counts nothing more */
};

enum tw_ingest_do {
	TW_INGEST_KEEP,        /* in its windows: hold its raw point when they are kept */
	TW_INGEST_DROP,        /* counted, nothing else */
	TW_INGEST_DEAD,        /* dead letter whose reason gives the watermark */
	TW_INGEST_MALFORMED,   /* dead letter (malformed, range), offset skipped */
	TW_INGEST_REDELIVERED, /* at or below the last offset processed: skipped */
	TW_INGEST_FATAL,       /* the core failed: stop */
};

struct tw_ingest_action {
	enum tw_ingest_do what;
	enum tw_ingest_counter counter; /* what goes up by one, or TW_IN_NONE */
	enum tw_dlq_kind dlq;           /* for DEAD and MALFORMED */
};

/* What to do with an event tw_core_process answered rc for (a verdict
 * TW_ADDED ... TW_DUPLICATE, or an error). */
struct tw_ingest_action tw_ingest_decide(int rc);

/* The label of a parser's refusal (rc < 0, an enum tw_event_error);
 * unknown codes are TW_MALFORMED_OTHER. */
enum tw_malformed_kind tw_ingest_malformed_kind(int rc);

/*
 * The caller fills every pointer (borrowed) and raw, and zeroes the
 * counters. Emitted windows land in rows through tw_ingest_emit, which the
 * core must be created with (opaque: this struct).
 */
struct tw_ingest {
	struct tw_parser *parser;
	struct tw_core *core;
	struct rowbuf *rows;
	struct tw_dlq *dlq;
	struct tw_health *health; /* fatal errors */
	const char *resource;     /* for logs */
	int raw;                  /* hold raw events (InfluxDB raw) */
	uint64_t n[TW_IN_COUNTERS];
	uint64_t malformed_by[TW_MALFORMED_KINDS];
};

/* tw_emit_fn: copies a window result into the rows (fatal when they are
 * full or out of memory) and counts it. */
void tw_ingest_emit(void *opaque, const struct tw_result *r);

/* One message from the consumer. now: the processing time (tw_pause_now)
 * the burst it belongs to began at. A consumer error is logged; a message
 * of a partition no longer owned is ignored. */
void tw_ingest_message(struct tw_ingest *in, const rd_kafka_message_t *m, int64_t now);

#endif
