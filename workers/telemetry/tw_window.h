/* tw_window.h -- event-time windows of one Kafka partition: assignment,
 * watermark, lateness, idle advance, emission and committable offsets.
 *
 * Pure: no I/O, no clock. Event time comes in the events; processing time
 * (a monotonic clock in ms) is passed in by the caller on every call.
 * docs/telemetry-semantics.md walks through all of this with an example.
 *
 * WINDOWS. size and slide (ns): tumbling when equal, hopping when slide <
 * size and size is a multiple of slide. Aligned to the Unix epoch: windows
 * are [s, s + size) for every s that is a multiple of slide, and an event
 * at ts belongs to each of the size/slide windows that contain it, the
 * newest starting at floor(ts / slide) * slide. A (key, window) without
 * events is never emitted. Internally events go into panes of one slide
 * each and a window is the merge of its panes, so a hopping event costs
 * one update, not size/slide.
 *
 * WATERMARK. max_ts is the largest event time seen; the watermark is
 * wm = max(wm, max_ts - delay) and never goes back. A window [s, e) is
 * CLOSED when wm >= e + lateness, i.e. once an event with
 * ts >= e + lateness + delay has been seen (the same boundary as Flink's
 * bounded-out-of-orderness watermark and Kafka Streams' grace period).
 * Closing emits the window, once, through the emit callback, during the
 * call that moved the watermark.
 *
 * LATE. An event is LATE when every window containing it is closed: it is
 * not added anywhere, and the caller sends it to the dead-letter topic. In
 * hopping windows an event can be PARTIALLY LATE: its older windows are
 * closed and its newer ones open; it is added to the open ones only (the
 * closed ones were emitted without it and stay so) and reported as
 * TW_PARTIAL_LATE so the caller can count it. An event is classified
 * against the watermark after its own ts has been taken into max_ts, so an
 * event never makes itself late.
 *
 * IDLE. When idle_timeout_ms > 0 and no event has reached these windows
 * (tw_window_add, whatever its verdict) for that long in processing time,
 * the watermark follows the clock:
 * wm = max(wm, max_ts + (now - last_arrival) - delay), so the last windows
 * of a partition that went quiet are emitted. This is the only input
 * that is not in the data: a replay after a crash need not repeat it.
 *
 * OFFSETS. Each pane remembers the lowest Kafka offset that went into it.
 * The committable offset is the lowest of those over the panes still
 * needed by an open window, or (last offset processed + 1) when none is
 * open. Committing only that (after the sinks acknowledged the windows
 * emitted so far) means a crash replays exactly the events of windows not
 * yet emitted.
 *
 * CHECKPOINT AND RESTORE. tw_window_checkpoint() gives that offset plus the
 * clock (max_ts, wm) as it stood just before that offset was processed
 * and the point below which every window has been emitted; the caller
 * stores them as the Kafka commit's metadata (tw_checkpoint_format). On
 * re-assignment tw_window_restore() puts them back in a fresh partition
 * and the caller replays from the offset. The replay then sees the same
 * watermark at every event as the first run did, so it classifies every
 * event identically (late stays late, in stays in); windows the first run
 * already emitted are not emitted again (their events are answered
 * TW_REPLAYED), and every other window is emitted with exactly the events
 * and the aggregates (bit for bit) the first run would have given it.
 * Effectively once, with idempotent sinks. Exception: an idle advance that
 * happened between the committed offset and the crash is not replayed.
 *
 * ORDER. Results are emitted by window start, then by key (bytes compared
 * with memcmp, a shorter key before its extensions).
 *
 * Times before 1970 are negative; alignment rounds toward minus infinity
 * (tw_time_floor_div), so -1 ns is in the window [-slide, 0), not [0, slide).
 *
 * BOUNDS. Event times must lie within -TW_TS_LIMIT (1823, before any time
 * tw_time accepts) and tw_window_ts_max(cfg): the int64 ns limit
 * (2262-04-11T23:47:16.854775807Z) less size, delay and lateness, so that
 * the end of every window of the event, and the watermark that closes it,
 * are int64 ns too; anything outside is TW_WINDOW_E_RANGE. Size, slide,
 * delay and lateness at most TW_DURATION_LIMIT. The number of
 * (pane, key) aggregates held is capped by max_states: past it an event
 * that would need a new one is refused as TW_OVERFLOW (not added, counted;
 * dead-letter it). Offsets must increase strictly (one partition's order).
 *
 * Not thread-safe: one partition, one owner.
 */
#ifndef SLUICE_TW_WINDOW_H
#define SLUICE_TW_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "tw_agg.h"
#include "tw_event.h"
#include "tw_spec.h" /* TW_WINDOW_PANES_MAX */

/* "No time yet" for max_ts and the watermark. */
#define TW_TS_NONE INT64_MIN
/* Event times below -TW_TS_LIMIT (2^62 ns, 1823) are refused; the upper
 * bound is tw_window_ts_max(). */
#define TW_TS_LIMIT (INT64_C(1) << 62)
/* Bound for each duration: 2^55 ns, about 417 days. */
#define TW_DURATION_LIMIT (INT64_C(1) << 55)
/* Default cap on (pane, key) aggregates per partition. */
#define TW_WINDOW_MAX_STATES_DEFAULT 1000000u
/* "Nothing to commit" for a checkpoint's offset. */
#define TW_OFFSET_NONE INT64_C(-1)

/* What became of an event (tw_window_add's non-negative results). */
enum tw_verdict {
	TW_ADDED = 0,        /* in every window that contains it */
	TW_PARTIAL_LATE = 1, /* hopping: in its open windows only, some were closed */
	TW_LATE = 2,         /* every window closed: not added; dead-letter it */
	TW_REPLAYED = 3,     /* after a restore: its windows were emitted before the checkpoint */
	TW_DUPLICATE = 4,    /* tw_core only: dropped by dedupe */
	TW_OVERFLOW = 5,     /* state cap reached: not added; dead-letter it */
};

enum tw_window_error {
	TW_WINDOW_E_NOMEM = -1,
	TW_WINDOW_E_CONFIG = -2,
	TW_WINDOW_E_RANGE = -3,  /* event time beyond TW_TS_LIMIT: dead-letter it */
	TW_WINDOW_E_OFFSET = -4, /* offset not above the last one processed */
	TW_WINDOW_E_STATE = -5,  /* restore on a partition that already saw events */
};

/* The verdict's name for logs and metrics labels: "added", "late", ... */
const char *tw_verdict_name(int verdict);

struct tw_window_config {
	int64_t size_ns;
	int64_t slide_ns;        /* size_ns % slide_ns == 0 */
	int64_t delay_ns;        /* watermark delay, >= 0 */
	int64_t lateness_ns;     /* allowed lateness, >= 0 */
	int64_t idle_timeout_ms; /* 0: never advance on processing time */
	uint32_t max_states;     /* 0 picks TW_WINDOW_MAX_STATES_DEFAULT */
	struct tw_agg_config agg;
};

/* One emitted window of one key. Everything it points to is owned by the
 * partition and valid only during the emit callback: copy what you keep. */
struct tw_result {
	int32_t partition;
	const char *key; /* key_len bytes, not NUL-terminated */
	size_t key_len;
	int64_t start_ns, end_ns; /* [start, end) */
	uint64_t count;           /* events of this key in the window */
	uint32_t nvalues;
	const struct tw_value_result *values; /* in spec.fields.values order */
};

/* Receives each result, in order, from inside tw_window_add/tick (and
 * tw_core's calls). It must not call back into the same partition. */
typedef void (*tw_emit_fn)(void *opaque, const struct tw_result *result);

/* Where a partition stands, for the Kafka commit. */
struct tw_checkpoint {
	int64_t offset;           /* commit this; TW_OFFSET_NONE: nothing to commit yet */
	int64_t max_ts_ns;        /* max event time before offset (TW_TS_NONE: none) */
	int64_t watermark_ns;     /* watermark just before offset was processed */
	int64_t closed_before_ns; /* every window starting before this was emitted */
};

/* Longest tw_checkpoint_format output, NUL included. */
#define TW_CHECKPOINT_TEXT_MAX 96

struct tw_window_stats {
	uint64_t events_in;       /* tw_window_add calls that got a verdict */
	uint64_t added;           /* TW_ADDED */
	uint64_t partial_late;    /* TW_PARTIAL_LATE */
	uint64_t late;            /* TW_LATE */
	uint64_t replayed;        /* TW_REPLAYED */
	uint64_t overflow;        /* TW_OVERFLOW */
	uint64_t windows_emitted; /* results handed to the callback */
	uint64_t open_windows;    /* window starts not yet closed that hold events */
	uint64_t open_states;     /* (pane, key) aggregates held */
	uint32_t panes;           /* panes held */
	int64_t max_ts_ns;
	int64_t watermark_ns;
};

/*
 * Checks cfg; the messages name the config fields (size_ns, ...). spec
 * validation (tw_spec.c) reports the same problems with spec field paths
 * first, so users see those. Returns 0 or TW_WINDOW_E_CONFIG.
 */
int tw_window_config_check(const struct tw_window_config *cfg, char *errbuf, size_t errbuf_size);

/*
 * The latest event time windows of a checked cfg take: INT64_MAX - size -
 * delay - lateness (about 2262-04-11 for any sane config). An event after
 * it could open a window whose end, or whose closing watermark, is past
 * int64 ns.
 */
int64_t tw_window_ts_max(const struct tw_window_config *cfg);

/*
 * A new, empty partition. cfg is copied. emit receives every result with
 * opaque; partition is copied into each result. Returns NULL with the
 * reason in errbuf for a bad config or no memory. Free with tw_window_free.
 */
struct tw_window *tw_window_new(const struct tw_window_config *cfg, int32_t partition,
                                tw_emit_fn emit, void *opaque, char *errbuf, size_t errbuf_size);

/* Frees w and every open window, emitting nothing (revocation: another
 * consumer replays them from the committed offset). NULL is a no-op. */
void tw_window_free(struct tw_window *w);

/* 1 when tw_window_add would take ts (-TW_TS_LIMIT <= ts <=
 * tw_window_ts_max), 0 when it answers TW_WINDOW_E_RANGE. */
int tw_window_ts_ok(const struct tw_window *w, int64_t ts);

/*
 * Adds one event read at offset, at processing time now_ms. Applies any
 * idle advance due first, then takes ts into the watermark, classifies
 * the event, adds it, and emits every window the watermark closed.
 * key_hash is tw_hash_bytes(ev->key, ev->key_len) (tw_core computes it once
 * for dedupe and windows). Returns a tw_verdict, or TW_WINDOW_E_RANGE /
 * TW_WINDOW_E_OFFSET (w unchanged) or TW_WINDOW_E_NOMEM (the event may be
 * partly counted; treat as fatal for the partition).
 */
int tw_window_add(struct tw_window *w, const struct tw_event *ev, uint64_t key_hash, int64_t offset,
                  int64_t now_ms);

/* Records that offset was consumed without an event reaching w (malformed,
 * duplicate), so the committable offset can move past it. Offsets at or
 * below the last one are ignored. */
void tw_window_skip(struct tw_window *w, int64_t offset);

/* Processing time passes: applies the idle advance if due and emits what
 * it closes. Call it every second or so, and for every partition. */
void tw_window_tick(struct tw_window *w, int64_t now_ms);

/* Fills *cp; see CHECKPOINT above. Take it right after the results of the
 * last call have been handed to the sinks, commit it once they are
 * acknowledged. */
void tw_window_checkpoint(const struct tw_window *w, struct tw_checkpoint *cp);

/*
 * Puts a checkpoint back into a partition that has seen no event yet; now_ms
 * starts the idle clock. Returns 0, TW_WINDOW_E_STATE (w already used) or
 * TW_WINDOW_E_CONFIG (cp out of range: bad metadata).
 */
int tw_window_restore(struct tw_window *w, const struct tw_checkpoint *cp, int64_t now_ms);

/* Largest event time seen (TW_TS_NONE before any); the watermark. */
int64_t tw_window_max_ts(const struct tw_window *w);
int64_t tw_window_watermark(const struct tw_window *w);

/* The offset after the last one processed; TW_OFFSET_NONE before any. */
int64_t tw_window_next_offset(const struct tw_window *w);

void tw_window_stats(const struct tw_window *w, struct tw_window_stats *st);

/*
 * Commit metadata: "tw1 <max_ts> <watermark> <closed_before>" in decimal
 * ns, "-" for TW_TS_NONE. The offset travels as the commit's offset, not
 * in the text. format returns the length, or -1 if size is too small
 * (TW_CHECKPOINT_TEXT_MAX always fits). parse fills *cp (offset from the
 * argument) and returns 0, or TW_WINDOW_E_CONFIG with the reason in errbuf.
 */
int tw_checkpoint_format(const struct tw_checkpoint *cp, char *buf, size_t size);
int tw_checkpoint_parse(const char *text, int64_t offset, struct tw_checkpoint *cp, char *errbuf,
                        size_t errbuf_size);

#endif
