/* tw_event_lp.h -- a raw telemetry event as one line protocol point: the
 * InfluxDB sink's raw mode (spec.sinks.influxdb_raw) writes events this way.
 * Pure.
 */
#ifndef SLUICE_TW_EVENT_LP_H
#define SLUICE_TW_EVENT_LP_H

#include <stddef.h>

#include "lineproto.h"
#include "tw_event.h"

/*
 * Appends the raw event ev as a point of measurement: the key is split on
 * TW_KEY_SEP into n_keys tag values named key_names[i], and each present
 * value becomes a float field named value_names[i]. The key must have
 * exactly n_keys parts. An event with no present value is refused (a point
 * needs a field). Contract otherwise as for lp_append().
 */
int tw_lp_append_event(struct buf *b, const char *measurement, const char *const *key_names,
                       size_t n_keys, const char *const *value_names, size_t n_values,
                       const struct tw_event *ev, char *errbuf, size_t errbuf_size);

#endif
