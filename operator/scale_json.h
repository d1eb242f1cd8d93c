/*
 * scale_json.h - the scaler's spec and status: maps a resource's parsed
 * spec.workers (lib/contract/spec_common.h, one parser for the operator and
 * the workers) onto struct scale_spec over the operator's defaults, and
 * writes a decision into the status fields (lag, lagSeconds, replicas,
 * desiredReplicas, lastScaleTime, scaling). Pure: no I/O.
 */
#ifndef SLUICE_SCALE_JSON_H
#define SLUICE_SCALE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "scale.h"
#include "spec_common.h"

/*
 * *out = *operator_defaults (scale_spec_defaults() with the operator's flags
 * applied: --polling-interval, --stabilization-window, --cooldown-period,
 * --trend-window, --fallback-replicas, --fallback-failure-threshold), then
 * from w minReplicas, maxReplicas, lagThreshold, activationLagThreshold
 * (always: the parser filled in the kind's defaults), then every member of
 * w->scaling that is not SPEC_UNSET; then scale_spec_validate. Returns 0, or
 * -1 with "spec.workers.<field>: <why>" in errbuf (out untouched) for a
 * spec the contract's parser did not check, e.g.
 *   spec.workers.scaling.pollingInterval: must be > 0
 */
int scale_spec_from_workers(const struct spec_workers *w,
                            const struct scale_spec *operator_defaults, struct scale_spec *out,
                            char *errbuf, size_t errbuf_size);

/*
 * Sets in status (an object): lag (not while unread, d->lag < 0), lagSeconds
 * (not while unknown: the CRDs say minimum 0), replicas (ready_replicas, the
 * Deployment's ready count; not when < 0, unknown), desiredReplicas
 * (d->desired), lastScaleTime (RFC 3339 in whole seconds, not when
 * last_scale_ms is 0) and scaling, a new object each time:
 *   reason          scale_reason_name(d->reason)
 *   message         d->reason_text
 *   ratePerReplica  d->rate_per_replica to 0.1, only when > 0
 *   inputRate       d->input_rate to 0.1, only when d->rates_known
 *   persistentLag   d->persistent_lag (0 when none)
 *   paused          d->reason == SCALE_PAUSED
 * A field not set is left as it was when status is sent as a merge patch: a
 * read failure keeps the last lag and rates shown. Other fields are
 * untouched. Returns 0, or -1 when out of memory.
 */
int scale_status_fill(cJSON *status, const struct scale_decision *d, int32_t ready_replicas,
                      int64_t last_scale_ms);

#endif /* SLUICE_SCALE_JSON_H */
