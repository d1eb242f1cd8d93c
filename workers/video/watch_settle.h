/* watch_settle.h -- when a file in a watched folder counts as written: once
 * its size and mtime stayed the same for settle_ms (VideoWatch
 * spec.settleSeconds). The watcher (video_watch.h) feeds it each scan's
 * listing; it decides, without I/O and on the caller's clock, which files
 * are ready to take.
 *
 * The clock is the watcher's monotonic one (now_ms), never the files'
 * mtimes: a writer on another machine (NFS) whose clock is off cannot make
 * a file look settled early. A file is "stable since" the first scan that
 * saw its current size and mtime; any change starts the wait again.
 *
 * Only files still to take are tracked: the caller forgets a file once it
 * is taken (its marker written) and never observes marked files, so the
 * bound is on files pending at once, not on the folder's size. Entries for
 * files a scan no longer lists are dropped by watch_settle_end.
 *
 * Threads: none; the owner serialises every call.
 */
#ifndef SLUICE_WATCH_SETTLE_H
#define SLUICE_WATCH_SETTLE_H

#include <stddef.h>
#include <stdint.h>

/* Files waiting to settle at once; past it, new names wait for room. */
#define WATCH_SETTLE_MAX 10000

enum watch_settle_rc {
	WATCH_SETTLE_WAIT = 0,   /* changed, or not stable for settle_ms yet */
	WATCH_SETTLE_READY = 1,  /* unchanged for settle_ms: take it */
	WATCH_SETTLE_EFULL = -1, /* a new name, max_entries held: not tracked */
	WATCH_SETTLE_ENOMEM = -2,
};

struct watch_settle;

/* A tracker for files that must stay unchanged settle_ms (>= 0) and at
 * most max_entries (>= 1) of them. Returns 0 with *out set, or
 * WATCH_SETTLE_ENOMEM (also for max_entries 0). */
int watch_settle_new(struct watch_settle **out, int64_t settle_ms, size_t max_entries);

/* Frees t and its entries; NULL is a no-op. */
void watch_settle_free(struct watch_settle *t);

/* A scan begins: entries not observed from now until watch_settle_end are
 * the files that went away. */
void watch_settle_begin(struct watch_settle *t);

/*
 * One file of the scan: its size and mtime (ns) now, at now_ms. A new name
 * gets an entry stable since now_ms (*is_new set to 1; else 0); a changed
 * size or mtime restarts its wait at now_ms. Returns WATCH_SETTLE_READY
 * once now_ms - stable_since >= settle_ms (at first sight when settle_ms
 * is 0), else WATCH_SETTLE_WAIT; WATCH_SETTLE_EFULL or _ENOMEM when a new
 * name cannot be tracked (*is_new 0; observing it again later retries).
 * name is copied.
 */
int watch_settle_observe(struct watch_settle *t, const char *name, int64_t size, int64_t mtime_ns,
                         int64_t now_ms, int *is_new);

/* Drops name's entry (it was taken, or its marker showed up). Unknown
 * names are ignored. */
void watch_settle_forget(struct watch_settle *t, const char *name);

/* The scan ended: drops every entry not observed since watch_settle_begin
 * and returns how many were dropped. */
size_t watch_settle_end(struct watch_settle *t);

/* The earliest now_ms at which a waiting entry, left unchanged, becomes
 * ready: when the next scan is worth making. -1 when none waits (entries
 * already ready are the caller's to retry). */
int64_t watch_settle_next_due(const struct watch_settle *t);

/* 1 when name has an entry, else 0. */
int watch_settle_tracked(const struct watch_settle *t, const char *name);

/* Entries held. */
size_t watch_settle_len(const struct watch_settle *t);

#endif
