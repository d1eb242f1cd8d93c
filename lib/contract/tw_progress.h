/* tw_progress.h -- a TelemetryWindow's progress in the status Redis
 * (docs/contracts.md §3): the workers write it, the operator reads it for the
 * resource's status.
 *
 * One hash per resource, `sluice:tw:<ns>:<name>:stats`, with fields per
 * Kafka partition N:
 *
 *   pN.events      messages read (valid or not)
 *   pN.duplicates  events dropped by dedupe
 *   pN.late        events whose every window had closed
 *   pN.malformed   messages that were not events
 *   pN.windows     window results emitted
 *   pN.watermark   the partition's watermark, ns since the epoch (absent
 *                  until the partition has one)
 *
 * and, per worker process ("member": its pod name), the work it did since
 * it started, for the autoscaler's rate per replica (operator/scale.h):
 *
 *   m.<member>.events   messages it processed (valid or not)
 *   m.<member>.busy_ms  milliseconds it spent working: from a consume call
 *                       that returned messages until it next waited for
 *                       messages (blocking sink writes and commits count;
 *                       polling an empty topic and back-pressure pauses do
 *                       not)
 *
 * all decimal integers. The partition's current owner writes its fields
 * with one HSET after each commit: the totals it inherited when it was
 * given the partition (read back from the hash) plus its own counts. The
 * counts are at least once: events replayed after a crash are counted
 * again, as Kafka's own consumer metrics count them. A member's pair goes
 * in the same HSET (one consistent reading of both) and is deleted (HDEL,
 * best effort) when the process stops cleanly; a crashed member's pair
 * stays as it was and adds nothing to later differences. The hash has no
 * TTL: the operator deletes it with the resource (tw_progress_delete).
 */
#ifndef SLUICE_TW_PROGRESS_H
#define SLUICE_TW_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

/* Longest key: prefix, a 63-byte namespace, a 253-byte name, suffix. */
#define TW_PROGRESS_KEY_MAX 352

/* Most partitions one hash may describe (and tw_progress_sum reads). */
#define TW_PROGRESS_PARTITIONS_MAX 65536

/* Longest member name (a pod name is at most 253 bytes). */
#define TW_PROGRESS_MEMBER_MAX 253

/* One partition's fields. */
struct tw_progress_part {
	int64_t events, duplicates, late, malformed, windows;
	int64_t watermark_ns; /* INT64_MIN: none */
};

/* A resource's progress: the partitions' counts summed. */
struct tw_progress {
	int64_t events, duplicates, late, malformed, windows;
	int64_t watermark_ns; /* the lowest partition watermark; INT64_MIN if none */
	size_t partitions;    /* partitions that reported anything */
	/* The members' work, summed over every m.<member>.* pair present. */
	size_t work_members;  /* members with a busy_ms field; 0: no work known */
	int64_t work_events;  /* sum of m.<member>.events */
	int64_t work_busy_ms; /* sum of m.<member>.busy_ms */
};

/* One member's work (cumulative since the process started). */
struct tw_progress_work {
	const char *member; /* 1..TW_PROGRESS_MEMBER_MAX bytes */
	int64_t events, busy_ms;
};

/* "sluice:tw:<ns>:<name>:stats" into buf. Returns 0, or -1 when it does not
 * fit (or ns/name is NULL or empty). */
int tw_progress_key(const char *ns, const char *name, char *buf, size_t size);

/*
 * Pure: sums a hash given as n field/value pairs (HGETALL's reply) into
 * *out, the members' m.<member>.events and .busy_ms into work_*. Other
 * fields are ignored (room for later additions); a known field with a
 * value that is not a decimal integer is an error. Returns 0, or -1 with
 * the reason in errbuf.
 */
int tw_progress_sum(const char *const *fields, const char *const *values, size_t n,
                    struct tw_progress *out, char *errbuf, size_t errbuf_size);

/*
 * HGETALL of the resource's hash, summed (tw_progress_sum). A missing hash
 * is no error: *out is all zero with watermark_ns INT64_MIN. Returns 0, or
 * -1 with the reason in errbuf (a connection error leaves c->err set:
 * reconnect).
 */
int tw_progress_read(redisContext *c, const char *ns, const char *name, struct tw_progress *out,
                     char *errbuf, size_t errbuf_size);

/*
 * One partition's fields as stored: *found is 0 when the hash has none of
 * them (then *out is zero, watermark_ns INT64_MIN). Returns 0 or -1 with the
 * reason in errbuf.
 */
int tw_progress_read_part(redisContext *c, const char *ns, const char *name, int32_t partition,
                          struct tw_progress_part *out, int *found, char *errbuf,
                          size_t errbuf_size);

/*
 * Writes n partitions' fields with one HSET (a watermark of INT64_MIN is
 * left as stored). Returns 0 or -1 with the reason in errbuf.
 */
int tw_progress_write(redisContext *c, const char *ns, const char *name, const int32_t *partitions,
                      const struct tw_progress_part *parts, size_t n, char *errbuf,
                      size_t errbuf_size);

/* The same, with work's pair (NULL: none) in the same HSET. n == 0 with a
 * work writes the pair alone. */
int tw_progress_write_work(redisContext *c, const char *ns, const char *name,
                           const int32_t *partitions, const struct tw_progress_part *parts,
                           size_t n, const struct tw_progress_work *work, char *errbuf,
                           size_t errbuf_size);

/* HDEL of member's pair (the process stops). Returns 0 or -1. */
int tw_progress_forget_member(redisContext *c, const char *ns, const char *name, const char *member,
                              char *errbuf, size_t errbuf_size);

/* Deletes the resource's hash (the resource is gone). Returns 0 or -1. */
int tw_progress_delete(redisContext *c, const char *ns, const char *name, char *errbuf,
                       size_t errbuf_size);

#endif
