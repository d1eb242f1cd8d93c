/* tw_report.h -- the telemetry worker's side of the status Redis
 * (lib/contract/tw_progress.h, docs/contracts.md §3): after each commit, the partitions it
 * owns are written to `sluice:tw:<ns>:<name>:stats`.
 *
 * The status is advisory, so it never holds the stream up: connects and
 * commands time out after TW_REPORT_TIMEOUT_MS, a failure is counted and
 * logged (at most every 30 s), and the next attempt waits for a backoff
 * (1 s doubling to 30 s); the report after that writes the latest totals,
 * so nothing needs resending.
 *
 * Each partition's counts continue those of its previous owner: the first
 * time a newly assigned partition is written, its stored fields are read
 * back (HMGET) as a base, and every write is base + this worker's counts
 * since the assignment. Until the base is read the partition is not
 * written, so a new owner never resets the totals.
 *
 * Not thread-safe: the worker's loop owns it.
 */
#ifndef SLUICE_TW_REPORT_H
#define SLUICE_TW_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tw_progress.h"

#define TW_REPORT_TIMEOUT_MS 300
#define TW_REPORT_BACKOFF_MIN_MS 1000
#define TW_REPORT_BACKOFF_MAX_MS 30000

struct tw_report;

/* addr "host:port" ("[v6]:port"). Connects lazily. Returns NULL with the
 * reason in errbuf (a bad address, no memory). */
struct tw_report *tw_report_new(const char *addr, const char *ns, const char *name, char *errbuf,
                                size_t errbuf_size);
void tw_report_free(struct tw_report *r);

/* AUTH as user (NULL or "": the default user) with password (NULL or "":
 * no AUTH) on every connect from now on (lib/redis_conn.h). Copies both.
 * Returns 0, or -1 when out of memory. */
int tw_report_set_auth(struct tw_report *r, const char *user, const char *password);

/* Partition revoked: forget it (its base is read again if it comes back). */
void tw_report_forget(struct tw_report *r, int32_t partition);

enum tw_report_result {
	TW_REPORT_WRITTEN = 0,
	TW_REPORT_WAITING = 1, /* backing off after a failure; nothing sent */
	TW_REPORT_FAILED = -1, /* errbuf says why; the next call waits */
	TW_REPORT_NOMEM = -2,
};

/*
 * Writes parts[i], this worker's counts for partitions[i] since it was
 * assigned, as base + counts. now_ms: a monotonic clock for the backoff.
 */
int tw_report_write(struct tw_report *r, const int32_t *partitions,
                    const struct tw_progress_part *parts, size_t n, int64_t now_ms, char *errbuf,
                    size_t errbuf_size);

/*
 * This process's work (tw_progress.h's m.<member>.events and .busy_ms):
 * member names it (copied; "" or NULL: none, nothing is written); events
 * and busy_ms are its totals since it started, set as often as wanted
 * (two stores) and written with the next tw_report_write's HSET. Returns
 * 0, or -1 when out of memory or the member is too long.
 */
int tw_report_set_member(struct tw_report *r, const char *member);
void tw_report_set_work(struct tw_report *r, int64_t events, int64_t busy_ms);

/* The process stops: HDEL of its pair, best effort (one try within the
 * timeout, no backoff). Returns 0, or -1 with the reason in errbuf. */
int tw_report_forget_member(struct tw_report *r, char *errbuf, size_t errbuf_size);

/* Failed writes so far (for the worker's metric). */
uint64_t tw_report_failures(const struct tw_report *r);

#endif
