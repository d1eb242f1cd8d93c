/* dash_store.h -- what the dashboard reads from a resource's result stores,
 * as the sinks wrote it (docs/telemetry-sinks.md, docs/video-process.md):
 *
 *   frames   a VideoJob's per-frame analysis (mean luma, motion, scene
 *            score over the source's time) from its frames table, at most
 *            max points (averaged into buckets of equal time beyond), and
 *            its scene cuts: frames whose scene score is at least
 *            DASH_SCENE_CUT
 *   latest   a TelemetryWindow's last windows per key from its Redis sink
 *            (<prefix><key>:timeline)
 *   history  its windows since a time from its PostgreSQL sink, one series
 *            per (key, field)
 *   export   its last N windows as CSV, the exporter's query and cells
 *            (workers/tools/export.h)
 *
 * Where: the resource's effective spec (dash_view_effective_spec: the
 * dashboard's defaults where the resource names no sink); the DSN from
 * its Secret (dash_secret.h) when a connection is opened; connections kept
 * per target (dash_pool.h) and made again when one fails.
 *
 * Every call fills a struct dash_reply: 200 and the body, or an error
 * status and {"error": "..."}: 409 when the resource has no such sink or
 * its spec does not parse, 502 when the store or the Secret cannot be
 * read. Messages never hold a secret (pg.h scrubs the DSN's password).
 *
 * Threads: any; one connection per call.
 */
#ifndef SLUICE_DASH_STORE_H
#define SLUICE_DASH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dash_view.h"
#include "kube_client.h"

/* FFmpeg's usual threshold for a cut (select='gt(scene,0.4)'), on the
 * frames table's scene_score (0..1). */
#define DASH_SCENE_CUT 0.4
#define DASH_FRAMES_POINTS_DEFAULT 2000
#define DASH_FRAMES_POINTS_MAX 20000
#define DASH_CUTS_MAX 1000
#define DASH_HISTORY_ROWS_MAX 50000
#define DASH_LATEST_KEYS_MAX 200
#define DASH_EXPORT_LAST_MAX 100000
#define DASH_EXPORT_BYTES_MAX (256u << 20)

struct dash_reply {
	unsigned int status;
	const char *type; /* static */
	char *body;       /* malloc'd; the caller frees */
	size_t len;
};

/* A reply of status with {"error": message}. Returns status. */
unsigned int dash_reply_error(struct dash_reply *r, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A 200 (or status) with obj printed; takes obj. */
unsigned int dash_reply_json(struct dash_reply *r, unsigned int status, cJSON *obj);

struct dash_store_options {
	struct kube_client *kube; /* for Secrets; borrowed */
	struct dash_defaults defaults;
	int timeout_ms; /* connect and each query; 0: 10000 */
};

struct dash_store;

struct dash_store *dash_store_new(const struct dash_store_options *o);
void dash_store_free(struct dash_store *s);

/* Idle connections kept (PostgreSQL and Redis), for /metrics and tests. */
size_t dash_store_idle(struct dash_store *s);

/* The reads above; obj is the cached resource (VideoJob or
 * TelemetryWindow). Each returns r->status. */
unsigned int dash_store_frames(struct dash_store *s, const cJSON *obj, int max_points,
                               struct dash_reply *r);
unsigned int dash_store_latest(struct dash_store *s, const cJSON *obj, int max_keys, int last,
                               struct dash_reply *r);
unsigned int dash_store_history(struct dash_store *s, const cJSON *obj, int64_t since_ms,
                                const char *key, const char *field, long limit,
                                struct dash_reply *r);
unsigned int dash_store_export(struct dash_store *s, const cJSON *obj, long long last,
                               const char *key, struct dash_reply *r);

/*
 * The TelemetryWindow's spec as its workers read it (the effective spec,
 * parsed by tw_spec_parse) into *out (tw_spec_free it). A spec that names
 * no bootstrap, with no default either, gets "unset:9092" (*bootstrap_known
 * 0): the reads above need none. Returns 0, or -1 with errbuf set.
 */
struct tw_spec;
int dash_store_tw_spec(const struct dash_store *s, const cJSON *obj, struct tw_spec *out,
                       int *bootstrap_known, char *errbuf, size_t errbuf_size);

#endif
