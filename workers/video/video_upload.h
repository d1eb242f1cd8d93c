/* video_upload.h -- the VideoWatch's HTTP upload endpoint (spec.upload),
 * served by the watcher (video_watch.h) on its own port:
 *
 *   curl -T movie.mp4 -H "Authorization: Bearer $TOKEN" http://HOST:PORT/uploads/
 *
 * PUT /uploads/<file> streams the body into the watched folder and, once
 * it is complete and a video, makes its VideoJob at once (no settle wait:
 * the upload is known complete). In order:
 *
 *   headers  the rules of upload_rules.h (405, 404, 401 for a wrong or
 *            missing token, 413 for a Content-Length over
 *            spec.upload.maxBytes, 400 for a bad name naming the glob),
 *            then 409 when the file or its marker (watch_marker.h) is
 *            there already, 400 when the name cannot make a VideoJob.
 *            All answered before any body is read, so a client that sent
 *            "Expect: 100-continue" (curl -T) never sends it.
 *   body     written to ".upload-<file>-<random>" in the folder (O_EXCL,
 *            0640), which the rescan never takes; 413 and the file
 *            deleted once it grows past maxBytes (a chunked body); 507 when
 *            the disk is full. After the first UPLOAD_PROBE_BYTES, FFmpeg
 *            must recognise the container (upload_probe.h), else 415 with
 *            its reason and the file deleted.
 *   end      the whole file opened by FFmpeg with a video stream (else
 *            415, deleted), fsync'd, renamed to <file> without replacing
 *            (renameat2 RENAME_NOREPLACE, or link + unlink where the file
 *            system lacks it; 409 if another upload got there first), and
 *            taken: 201 {"videoJob", "namespace", "file", "url"}; 202 with
 *            "pending" when the API server could not be reached (the file
 *            stays, and the folder scan makes its job later); 422 when the
 *            API refused the job (the file is deleted).
 *
 * A client that goes away halfway leaves nothing: no file, no job.
 *
 * Threads: libmicrohttpd's, one per connection (httpd.h); the taker is
 * called from them.
 */
#ifndef SLUICE_VIDEO_UPLOAD_H
#define SLUICE_VIDEO_UPLOAD_H

#include <stddef.h>

#include "metrics.h"
#include "vw_spec.h"

/* What taking a file came to (video_watch_take). */
enum video_upload_take {
	VIDEO_UPLOAD_TAKEN = 0,     /* the VideoJob was created */
	VIDEO_UPLOAD_EXISTED = 1,   /* a VideoJob of that name was there already */
	VIDEO_UPLOAD_MARKED = 2,    /* the file has a marker: never taken again */
	VIDEO_UPLOAD_REJECTED = -1, /* no VideoJob can be made for it (why says) */
	VIDEO_UPLOAD_PENDING = -2,  /* the API server failed; try again later */
};

/*
 * How the endpoint takes a file it placed: take(arg, file, ...) makes its
 * VideoJob and marker and returns an enum video_upload_take, the job's
 * name in job and, on failure, the reason in why. The endpoint holds
 * lock(arg) from the rename into place until take returns, so the folder
 * scan, which takes the same lock, never sees the file unmarked.
 */
struct video_upload_taker {
	void (*lock)(void *arg);
	void (*unlock)(void *arg);
	int (*take)(void *arg, const char *file, char *job, size_t job_size, char *why,
	            size_t why_size);
	void *arg;
};

struct video_upload_options {
	const struct vw_spec *spec; /* borrowed; must outlive the endpoint */
	const char *dir;            /* the watched folder (vw_spec_dir_path) */
	const char *addr;           /* listen address; NULL: 127.0.0.1 */
	int port;                   /* spec.upload.port; 0 picks one (tests) */
	const char *token;          /* the bearer token; copied; must not be empty */
	const char *dashboard_url;  /* SLUICE_DASHBOARD_URL; copied; NULL: none */
	struct video_upload_taker taker;
	/* Registers, when not NULL (borrowed, must outlive the endpoint):
	 *   sluice_watch_uploads_total{result}  ok | pending | unauthorized |
	 *       too_large | bad_request | exists | not_video | rejected |
	 *       not_found | method_not_allowed | error | aborted
	 *   sluice_watch_upload_bytes_total     body bytes received, as they
	 *                                       arrive */
	struct metrics_registry *metrics;
};

struct video_upload;

/* Registers the metrics and starts serving. Returns 0 with *out set (stop
 * with video_upload_stop), or -1 with errbuf saying why. */
int video_upload_start(const struct video_upload_options *o, struct video_upload **out,
                       char *errbuf, size_t errbuf_size);

/* The port it listens on (the one picked for port 0). */
int video_upload_port(const struct video_upload *u);

/* Stops serving (finishing requests in progress, whose temporary files are
 * removed) and frees u. NULL is a no-op. */
void video_upload_stop(struct video_upload *u);

#endif
