/* watch_marker.h -- the markers of a VideoWatch's taken files: one file per
 * taken name, <dir>/.sluice/<watch>/<file> (VW_MARKER_DIR), whose content
 * is the VideoJob's name, or "rejected: <reason>" for a file no job could
 * be made for. A file with a marker is never taken again, by this watcher,
 * a restarted one or a second one at once (vw_spec.h). Shared by the
 * folder scan (video_watch.h) and the upload endpoint (video_upload.h).
 *
 * Threads: any; each call works on the file system alone.
 */
#ifndef SLUICE_WATCH_MARKER_H
#define SLUICE_WATCH_MARKER_H

#include <stddef.h>

/* Longest marker content written. */
#define WATCH_MARKER_CONTENT_MAX 1024

/* <dir>/.sluice/<watch>/<file> (file may be NULL: the folder itself) into
 * buf. Returns 0, or -1 when it does not fit. Pure. */
int watch_marker_path(char *buf, size_t size, const char *dir, const char *watch, const char *file);

/* 1 when file has a marker, 0 when it has none, or a negative errno value
 * when that cannot be told (EACCES, EIO...). */
int watch_marker_exists(const char *dir, const char *watch, const char *file);

/*
 * Writes file's marker with content atomically: the folders made when
 * missing (0750), a temporary file written, fsync'd and renamed over the
 * marker, the folder fsync'd. Returns 0, or -1 with errbuf naming the path
 * and the system's reason ("/videos/.sluice/cam: Read-only file system").
 */
int watch_marker_write(const char *dir, const char *watch, const char *file, const char *content,
                       char *errbuf, size_t errbuf_size);

#endif
