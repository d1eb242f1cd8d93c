/* vw_spec.h -- the VideoWatch spec: a watched folder whose new files become
 * VideoJobs. One definition of its fields, defaults and validation, for the
 * operator (which judges the resource and writes it into the watcher's
 * ConfigMap) and for the watcher (`sluice-worker-video watch`, which reads
 * that file). Kept in step with crds/videowatches.sluice.dev.yaml by
 * tests/unit/test_crd_vw_spec.c.
 *
 * Input is the resource as JSON (or YAML), as vj_spec.h describes: a
 * Kubernetes object or the short form. Fields, defaults and bounds:
 *
 *   volume          required: mountPath and one Kubernetes volume source,
 *                   as a VideoJob's spec.volume; copied into every job
 *   directory       default "" (the mount itself): relative to mountPath,
 *                   no "..", no leading "/"
 *   glob            default "*": fnmatch(3) pattern for file names in the
 *                   directory (not recursive; names starting with "." never
 *                   match: temporary uploads and the markers live there)
 *   settleSeconds   default 10, 0..86400: a file counts as written once its
 *                   size and mtime stayed the same this long
 *   rescanSeconds   default 30, 1..3600: the periodic rescan (inotify is
 *                   used too where the filesystem delivers it; NFS does not)
 *   successfulJobsHistoryLimit  default 3, 0..1000 (as a CronJob's)
 *   failedJobsHistoryLimit      default 1, 0..1000
 *   upload          optional: the HTTP upload endpoint of the watcher
 *     token         required: {name, key}, a Secret holding the bearer token
 *     maxBytes      default 10 GiB, 1 MiB..1 TiB
 *     port          default 8080, 1..65535
 *   template        required: a VideoJob spec without source and volume
 *                   (added per file). output.uri may hold {stem} (the file
 *                   name without its extension), {name} (the whole name) and
 *                   {ext} (without the dot); judged by vj_spec_parse itself,
 *                   so a template that would make an invalid VideoJob is
 *                   refused with the VideoJob's own message, under
 *                   spec.template.
 *   watcher         optional: image, imagePullPolicy, resources,
 *                   nodeSelector, tolerations, affinity of the watcher pod
 *
 * Unknown fields are errors. Every error names the field path.
 */
#ifndef SLUICE_VW_SPEC_H
#define SLUICE_VW_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "spec_common.h"

enum vw_spec_error {
	VW_SPEC_E_INVALID = -1,
	VW_SPEC_E_NOMEM = -2,
	VW_SPEC_E_IO = -3,
};

#define VW_SPEC_FILE_MAX (1024 * 1024)
#define VW_UPLOAD_MAX_BYTES_DEFAULT (10LL << 30)

/* The label on every VideoJob a VideoWatch created (value: the watch's
 * name), and the annotation naming its file (relative to the directory). */
#define VW_LABEL_WATCH "sluice.dev/videowatch"
#define VW_ANNOTATION_FILE "sluice.dev/source-file"
/* The folder under the watched directory holding one marker per taken file:
 * .sluice/<watch>/<file>, whose content is the VideoJob's name. A file with
 * a marker is never taken again, even after its job was deleted. */
#define VW_MARKER_DIR ".sluice"

struct vw_spec {
	char *name;
	char *namespace;
	char *uid; /* metadata.uid when the document has one (the watcher's
	            * ownerReferences); NULL otherwise */

	char *mount_path; /* spec.volume.mountPath */
	char *directory;  /* "" for the mount itself */
	char *glob;
	int settle_seconds;
	int rescan_seconds;
	int successful_history, failed_history;

	struct {
		int enabled;
		struct spec_secret_ref token;
		int64_t max_bytes;
		int port;
	} upload;

	/* Owned copies: spec.volume and spec.template as given. */
	cJSON *volume;
	cJSON *template;
	/* spec.watcher as given, or NULL; its shape is checked. */
	cJSON *watcher;
};

int vw_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct vw_spec *out,
                  char *errbuf, size_t errbuf_size);
int vw_spec_parse_document(const cJSON *doc, struct vw_spec *out, char *errbuf, size_t errbuf_size);
int vw_spec_load_file(const char *path, struct vw_spec *out, char *errbuf, size_t errbuf_size);
void vw_spec_free(struct vw_spec *spec);

/* The watched directory's absolute path: mountPath joined with directory.
 * Returns 0, or -1 when it does not fit. */
int vw_spec_dir_path(const struct vw_spec *spec, char *buf, size_t size);

/* Whether a file name (no '/') is one the watch takes: glob matches and it
 * does not start with '.'. Pure. */
int vw_name_matches(const struct vw_spec *spec, const char *file);

/*
 * The VideoJob's name for file (a name in the watched directory): the
 * watch's name (at most 16 characters), the file's stem reduced to [a-z0-9-]
 * (at most 20), and 8 hex digits of a hash of the watch's name and the file
 * name, joined by '-': "cam-front-door-2024-01-01-3f2a9c1e". The same file
 * always gives the same name, so a restarted or second watcher cannot
 * create a second job for it (the API server answers 409). At most 47
 * characters. Returns 0, or -1 when buf is too small. Pure.
 */
int vw_job_name(const char *watch, const char *file, char *buf, size_t size);

/*
 * The VideoJob for file as a Kubernetes object: metadata (name from
 * vw_job_name, the label and annotation above, an ownerReference to the
 * watch when uid is set, controller but not blockOwnerDeletion), spec = the template with
 * source.uri (file://<dir>/<file>), volume, and output.uri's placeholders filled. Returns a new
 * object, or NULL with errbuf saying why (the file name does not make a valid job, e.g. an
 * output.uri that would equal the source).
 */
cJSON *vw_job_object(const struct vw_spec *spec, const char *file, char *errbuf,
                     size_t errbuf_size);

#endif
