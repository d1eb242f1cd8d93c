/* watch_status.h -- the VideoWatch's status.watcher, which the watcher pod
 * alone writes (the operator merge-patches the other status fields): what
 * it holds, when it is worth sending, and the merge patch that sends it,
 *
 *   {"status":{"watcher":{"filesSeen":3,"jobsCreated":2,"filesRejected":1,
 *     "lastFile":"b.mp4","lastJob":"cam-b-1a2b3c4d",
 *     "lastScanTime":"2026-11-23T05:00:00Z","folderError":"",
 *     "uploadURL":"http://10.0.0.7:8080/uploads"}}}
 *
 * to PATCH .../videowatches/<name>/status. Pure: plain structs in, cJSON
 * out, the caller's clock.
 */
#ifndef SLUICE_WATCH_STATUS_H
#define SLUICE_WATCH_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Sends at most this often (a burst of files or uploads is one patch). */
#define WATCH_STATUS_MIN_INTERVAL_MS 3000

struct watch_status {
	int64_t files_seen;     /* files that appeared unmarked, uploads included */
	int64_t jobs_created;   /* VideoJobs this watch created (201s) */
	int64_t files_rejected; /* files no VideoJob could be made for */
	char last_file[256];    /* the file last taken or rejected */
	char last_job[64];      /* the VideoJob last created or found */
	int64_t last_scan_ns;   /* wall clock of the last scan; 0: none yet */
	char folder_error[512]; /* "" when the folder can be read */
	char upload_url[300];   /* "" when there is no upload endpoint */
};

/* 1 when a and b would send the same patch, else 0. */
int watch_status_equal(const struct watch_status *a, const struct watch_status *b);

/*
 * Whether to send cur now: it differs from sent (the last one the API
 * server took; ignored when sent_at_ms < 0, none yet) and at least
 * WATCH_STATUS_MIN_INTERVAL_MS passed since sent_at_ms. When it differs
 * but is too early, *at_ms is when it will be due; else -1.
 */
int watch_status_due(const struct watch_status *cur, const struct watch_status *sent,
                     int64_t sent_at_ms, int64_t now_ms, int64_t *at_ms);

/* The merge patch above for s; a new object, NULL when out of memory. */
cJSON *watch_status_patch(const struct watch_status *s);

/*
 * Takes the counters, lastFile and lastJob over from a VideoWatch object's
 * status.watcher (as the API server has it), so a restarted watcher counts
 * on from where the last one stopped. Absent or malformed fields leave s
 * as it is.
 */
void watch_status_seed(struct watch_status *s, const cJSON *watch);

#endif
