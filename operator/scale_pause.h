/*
 * scale_pause.h - the pause annotations of a scaled resource, read into
 * struct scale_obs's paused_replicas (operator/scale.h). Pure: cJSON in, a
 * number out, no I/O.
 *
 *   metadata.annotations["sluice.dev/paused-replicas"] = "N"
 *       a non-negative decimal integer (digits only, at most 9 of them):
 *       the workers are held at N replicas;
 *   metadata.annotations["sluice.dev/paused"] = "true"
 *       held at whatever runs now ("false" means not paused).
 *
 * paused-replicas wins when both are there (as KEDA's
 * autoscaling.keda.sh/paused-replicas over .../paused). A malformed value
 * of either ("two", "-1", " 3", "yes") pauses nothing: the scaler goes on,
 * and the caller reports the annotation (a Warning Event InvalidAnnotation,
 * once per value) from the text written to why.
 */
#ifndef SLUICE_SCALE_PAUSE_H
#define SLUICE_SCALE_PAUSE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SCALE_PAUSE_ANNOTATION "sluice.dev/paused"
#define SCALE_PAUSE_REPLICAS_ANNOTATION "sluice.dev/paused-replicas"

/*
 * annotations: the metadata.annotations object, or NULL. Returns
 * SCALE_NOT_PAUSED, SCALE_PAUSED_KEEP or the count (>= 0). When an
 * annotation present is malformed, returns SCALE_NOT_PAUSED and writes
 * one line to why (when why_size > 0), e.g.
 *   annotation sluice.dev/paused-replicas: "two" is not a non-negative integer
 * otherwise why is set to "".
 */
int32_t scale_pause_from_annotations(const cJSON *annotations, char *why, size_t why_size);

#endif /* SLUICE_SCALE_PAUSE_H */
