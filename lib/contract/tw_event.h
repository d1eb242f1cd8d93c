/* tw_event.h -- one telemetry event, as the parsers produce it and the
 * stream core (dedupe, windows, aggregates) consumes it.
 *
 * The event borrows nothing: the key is copied into `key`, so an event
 * outlives the Kafka message it was parsed from. Sizes are bounded so the
 * hot path never allocates per event; a key or a value set that does not fit
 * is a malformed event (TW_EVENT_E_TOO_LONG), never truncated silently.
 */
#ifndef SLUICE_TW_EVENT_H
#define SLUICE_TW_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Most key bytes: the key fields' values joined by TW_KEY_SEP. */
#define TW_KEY_MAX 256
/* Most value fields per event (spec.fields.values). */
#define TW_VALUES_MAX 16
/* Joins key fields: a byte that cannot appear in UTF-8 text. */
#define TW_KEY_SEP '\x1f'

struct tw_event {
	int64_t ts_ns;                /* event time, ns since the Unix epoch (UTC) */
	size_t key_len;               /* bytes used in key */
	char key[TW_KEY_MAX];         /* key fields joined by TW_KEY_SEP, not NUL-terminated */
	uint32_t present;             /* bit i set: values[i] was in the event */
	double values[TW_VALUES_MAX]; /* in spec.fields.values order */
};

/* Why an event was refused; the reason text for the dead-letter topic comes
 * with it in the parser's errbuf. */
enum tw_event_error {
	TW_EVENT_OK = 0,
	TW_EVENT_E_SYNTAX = -1,    /* not JSON / CSV / line protocol */
	TW_EVENT_E_MISSING = -2,   /* a timestamp or key field is absent */
	TW_EVENT_E_TYPE = -3,      /* a value that is not a number, a key that is not a scalar */
	TW_EVENT_E_TIMESTAMP = -4, /* unparsable or absurd (before 1970 or after 2262) */
	TW_EVENT_E_TOO_LONG = -5,  /* key or field count past the bounds above */
};

#endif
