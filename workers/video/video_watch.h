/* video_watch.h -- `sluice-worker-video watch --config VW.json`: the
 * watcher of one VideoWatch (vw_spec.h), which the operator runs as a
 * one-replica Deployment. Every new file in the watched folder becomes one
 * VideoJob (docs/video-watch.md):
 *
 *   look     the folder (vw_spec_dir_path, not recursive) is listed every
 *            spec.rescanSeconds, and sooner when inotify reports a change
 *            (where the file system delivers events; NFS does not, and the
 *            rescan alone suffices). Names that vw_name_matches only.
 *   settle   a file counts as written once its size and mtime stayed the
 *            same for spec.settleSeconds (watch_settle.h).
 *   take     unless its marker exists (watch_marker.h), POST the VideoJob
 *            of vw_job_object to the API server; 201, and 409
 *            AlreadyExists (a restarted or second watcher: the job's name
 *            is deterministic), both mean taken; then the marker is
 *            written. A file no job can be made for (vw_job_object's
 *            error, or the API's 400/422) is logged, counted and marked
 *            "rejected: <reason>", never retried. Other API errors are
 *            retried with backoff (1 s doubling to 60 s).
 *   status   status.watcher (watch_status.h) is merge-patched when it
 *            changed, at most every WATCH_STATUS_MIN_INTERVAL_MS. A
 *            missing or unreadable folder is not fatal: folderError says
 *            why and the watcher rescans until it can read it.
 *
 * With spec.upload, the upload endpoint (video_upload.h) serves
 * PUT /uploads/<file> on spec.upload.port and takes each complete upload
 * at once, through video_watch's own take.
 *
 * Threads: the caller's runs the loop; the upload endpoint's threads take
 * uploaded files. Taking is serialised by one lock, so a file is never
 * POSTed by both at once and the scan never sees an upload unmarked.
 */
#ifndef SLUICE_VIDEO_WATCH_H
#define SLUICE_VIDEO_WATCH_H

#include <stddef.h>

#include "metrics.h"

struct video_watch_options {
	const char *spec_path;     /* the VideoWatch (vw_spec_load_file) */
	const char *kubeconfig;    /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
	const char *upload_addr;   /* the upload endpoint's address; NULL or "":
	                            * upload_host, else 127.0.0.1 */
	const char *upload_host;   /* $POD_IP: host of status.watcher.uploadURL
	                            * (NULL: upload_addr) */
	const char *upload_token;  /* the bearer token; required with spec.upload */
	const char *dashboard_url; /* where uploads point to follow a job; NULL: the API path */
};

/* From the environment: upload_host $POD_IP, upload_token
 * $SLUICE_UPLOAD_TOKEN, dashboard_url $SLUICE_DASHBOARD_URL (unset or
 * empty: NULL); everything else NULL. */
void video_watch_options_default(struct video_watch_options *o);

struct video_watch;

/* Loads the spec and the Kubernetes configuration; nothing is contacted
 * yet. 0 with *out set (free with video_watch_free), or -1 with errbuf
 * saying why (a bad spec, spec.upload without a token, no kubeconfig). */
int video_watch_new(const struct video_watch_options *o, struct video_watch **out, char *errbuf,
                    size_t errbuf_size);

/*
 * Registers the metrics in reg (borrowed, must outlive w):
 *   sluice_watch_files_seen_total       files that appeared unmarked
 *   sluice_watch_jobs_created_total     VideoJobs created
 *   sluice_watch_files_rejected_total   files no VideoJob could be made for
 *   sluice_watch_api_errors_total       failed creates (retried)
 *   sluice_watch_scans_total            folder listings
 *   sluice_watch_folder_ok              1 when the folder can be read
 *   sluice_watch_pending_files          files waiting to settle or retry
 * and those of video_upload.h; reads status.watcher back from the API
 * server (so counts go on after a restart), starts inotify and the upload
 * endpoint. 0 or -1 with errbuf set.
 */
int video_watch_start(struct video_watch *w, struct metrics_registry *reg, char *errbuf,
                      size_t errbuf_size);

/* /readyz: ready once the folder was scanned the first time, readable or
 * not (status.watcher.folderError says which). */
int video_watch_readyz(void *arg, char *reason, size_t reason_size);

/* The loop until SIGTERM/SIGINT (signals.h); writes the status a last
 * time. 0 after a clean stop, -1 after a fatal error (logged). */
int video_watch_run(struct video_watch *w);

/* Stops the upload endpoint and frees everything; NULL is a no-op. */
void video_watch_free(struct video_watch *w);

#endif
