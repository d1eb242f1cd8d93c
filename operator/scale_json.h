/*
 * scale_json.h - the scaler's spec and status in a resource's JSON: reads
 * the scaling fields of spec.workers into a struct scale_spec, and writes a
 * decision into the status fields (lag, lagSeconds, replicas,
 * desiredReplicas, lastScaleTime). Pure: cJSON in, cJSON out, no I/O.
 *
 * spec.workers fields (all optional; absent ones keep the kind's default):
 *   minReplicas, maxReplicas              integers
 *   lagThreshold, activationLagThreshold  integers (messages)
 *   allowIdleConsumers, limitToPartitionsWithLag   booleans
 *   pollingInterval, stabilizationWindow, cooldownPeriod, trendWindow
 *       durations: "30s", "500ms", "5m", "1m30s", or a number of seconds
 *       (KEDA writes pollingInterval: 30)
 *   fallback: {replicas, failureThreshold}   integers
 * Other fields of spec.workers (image, resources, ...) are not ours and are
 * left alone.
 */
#ifndef SLUICE_SCALE_JSON_H
#define SLUICE_SCALE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "scale.h"

/*
 * Fills *out from workers (the spec.workers object; NULL = all defaults)
 * on top of *defaults (the kind's: scale_spec_defaults() then e.g.
 * min 1, max 10, lagThreshold 1000 for TelemetryWindow), then checks it
 * with scale_spec_validate. Returns 0, or -1 with the field path in errbuf:
 *   spec.workers.pollingInterval: "5 s" is not a duration
 *   spec.workers.lagThreshold: must be > 0
 */
int scale_spec_from_json(const cJSON *workers, const struct scale_spec *defaults,
                         struct scale_spec *out, char *errbuf, size_t errbuf_size);

/*
 * Sets in status (an object): lag (not while unread, d->lag < 0), lagSeconds
 * (not while unknown: the CRDs say minimum 0), replicas (the count the
 * Deployment runs now), desiredReplicas (d->desired), lastScaleTime
 * (RFC 3339 in whole seconds, not when last_scale_ms is 0). A field not
 * set is left as it was: a read failure keeps the last lag shown. Other
 * fields are untouched. Returns 0, or -1 when out of memory.
 */
int scale_status_fill(cJSON *status, const struct scale_decision *d, int32_t replicas,
                      int64_t last_scale_ms);

#endif /* SLUICE_SCALE_JSON_H */
