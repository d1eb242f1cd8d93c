/* dash_view.h -- what the dashboard shows of a cached resource: the row of
 * a list, the detail page, the sample of its workers, and the effective
 * spec the dashboard reads a resource's sinks from. Pure: cJSON in, new
 * cJSON out; never a Secret's value (specs hold only {name, key}
 * references). Field names are the CRDs' (crds/) and the status the
 * operator writes (docs/contracts.md §6).
 */
#ifndef SLUICE_DASH_VIEW_H
#define SLUICE_DASH_VIEW_H

#include <cjson/cJSON.h>

#include "dash_ring.h"
#include "spec_defaults.h"

enum dash_kind {
	DASH_VJ = 0, /* VideoJob */
	DASH_TW,     /* TelemetryWindow */
	DASH_VW,     /* VideoWatch */
	DASH_KINDS,
};

/* "videojobs", "telemetrywindows", "videowatches"; "VideoJob", ... */
const char *dash_kind_plural(enum dash_kind k);
const char *dash_kind_name(enum dash_kind k);

/*
 * A list row (every kind: namespace, name, created, phase, ready {status,
 * reason, message} from the Ready condition):
 *   VideoJob         progress, percent (0..100 from the segment counts),
 *                    segmentsDone, segmentsTotal, framesDone, framesTotal,
 *                    lag, lagSeconds, replicas, desiredReplicas, source,
 *                    output, startTime, completionTime, videoWatch (the
 *                    sluice.dev/videowatch label), failed (the Failed
 *                    condition's message when True)
 *   TelemetryWindow  topic, format, windowSize, lag, lagSeconds, replicas,
 *                    desiredReplicas, lastWatermark, eventsProcessed,
 *                    duplicates, late, malformed, windowsEmitted, sinks
 *                    ["postgres", "redis", "influxdb"] as the spec names them
 *   VideoWatch       directory, glob, upload (1 when spec.upload is set),
 *                    active, succeeded, failed, and status.watcher's
 *                    filesSeen, jobsCreated, filesRejected, lastFile,
 *                    lastJob, lastScanTime, folderError, uploadURL
 * A field the resource does not have is left out (never 0 for "unknown").
 * Returns a new object, NULL when out of memory.
 */
cJSON *dash_view_row(enum dash_kind k, const cJSON *obj);

/* The detail page: the row, plus "conditions" (as written), "spec" (as
 * stored), "labels" and "annotations". New object or NULL. */
cJSON *dash_view_detail(enum dash_kind k, const cJSON *obj);

/* The workers' sample: status.replicas, .desiredReplicas, .lag (-1 when
 * absent), t_ms left as it is. */
void dash_view_sample(const cJSON *obj, struct dash_sample *s);

/* What the dashboard assumes where a resource leaves a sink or the
 * bootstrap out: the operator's own defaults (its --kafka-bootstrap with
 * that cluster's --kafka-tls, --kafka-*-secret..., --redis-addr,
 * --postgres-secret), given to the dashboard too. NULL or "": none. */
struct dash_defaults {
	const char *kafka_bootstrap;
	struct spec_kafka_defaults kafka_security;
	const char *redis_addr;
	const char *postgres_secret;
};

/*
 * The spec a worker of the resource runs with, as the operator builds its
 * ConfigMap (docs/contracts.md §1): a copy of spec with kafka.bootstrap
 * (and its tls and sasl when the resource names neither), sinks.redis
 * {addr} and sinks.postgres {dsn: {name, key: "dsn"}} added from d where
 * absent; a sink the resource names is kept as written. For both
 * TelemetryWindows and VideoJobs. New object, or NULL when out of memory.
 */
cJSON *dash_view_effective_spec(const cJSON *spec, const struct dash_defaults *d);

/* Who the dashboard AUTHs as on a TelemetryWindow's Redis sink. */
enum dash_redis_auth {
	DASH_REDIS_AUTH_NONE,   /* the resource's own sink, without a password */
	DASH_REDIS_AUTH_SECRET, /* its own, with spec.sinks.redis.password: that
	                         * Secret (read through the API) and its username */
	DASH_REDIS_AUTH_STATUS, /* none of its own: the default sink is the status
	                         * Redis (--redis-addr), AUTHed with the status
	                         * Redis's credentials from the dashboard's
	                         * environment (lib/redis_conn.h:
	                         * SLUICE_STATUS_REDIS_USERNAME, _PASSWORD), as
	                         * the workers do */
};

/* Which, for the resource's own spec (its .spec, as written, not the
 * effective one) and whether its parsed sinks.redis has a password
 * reference. Pure. */
enum dash_redis_auth dash_view_redis_auth(const cJSON *spec, int has_password);

/* Helpers for cJSON objects: the string or number at a dotted path
 * ("status.watcher.uploadURL"); NULL / -1 when absent or of another type. */
const char *dash_json_str(const cJSON *obj, const char *path);
double dash_json_num(const cJSON *obj, const char *path, double absent);

#endif
