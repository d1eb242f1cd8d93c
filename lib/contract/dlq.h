/* dlq.h -- what every dead letter carries, telemetry's and video's alike:
 * the headers a reader of a dead-letter topic (kcat -J, a replay tool)
 * relies on, and the values of sluice-kind. The payloads and reasons are
 * each pipeline's (workers/telemetry/dead_letter.h, workers/video/
 * video_process.c); docs/contracts.md §2 lists them.
 */
#ifndef SLUICE_DLQ_H
#define SLUICE_DLQ_H

#define DLQ_HEADER_REASON "sluice-reason"
#define DLQ_HEADER_KIND "sluice-kind"
#define DLQ_HEADER_SOURCE "sluice-source"
#define DLQ_HEADER_RESOURCE "sluice-resource"

/* sluice-kind values. */
#define DLQ_KIND_MALFORMED "malformed"
#define DLQ_KIND_LATE "late"
#define DLQ_KIND_OVERFLOW "overflow"
#define DLQ_KIND_REJECTED "rejected"

#endif
