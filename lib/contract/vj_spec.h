/* vj_spec.h -- the VideoJob spec: one definition of its fields, their
 * defaults and their validation, for the worker's --config file (split,
 * process, assemble) and for the operator, which writes the same JSON into
 * the worker's ConfigMap (docs/contracts.md §1). Kept in step with
 * crds/videojobs.sluice.dev.yaml by tests/unit/test_crd_vj_spec.c.
 *
 * Input is the resource as JSON (or YAML, converted): either a Kubernetes
 * object {"apiVersion", "kind": "VideoJob", "metadata": {"name",
 * "namespace"}, "spec": {...}} or the short form {"name", "namespace",
 * "spec": {...}}. Fields, defaults and bounds:
 *
 *   source.uri              required: file:///path or http(s)://host/path
 *                           (no user:password@ in the URL)
 *   output.uri              required: file:///path, not the source
 *   segmentSeconds          default 2, 1..60
 *   maxAttempts             default 3, 1..100: tries per segment before it
 *                           is failed and dead-lettered (Sluice addition)
 *   filters                 a libavfilter graph, at most 4096 bytes; NULL
 *                           in the struct when absent or ""
 *   analysis[]              default all of meanLuma, motion, sceneScore
 *   encoder.codec           libx264 (default) | libx265 | libvpx-vp9 | mpeg4 |
 *                           h264_nvenc | hevc_nvenc (NVIDIA's hardware
 *                           encoders: the process pods ask for a GPU, and the
 *                           operator fails the job when no node has one)
 *   encoder.crf             default 23, 0..51 (NVENC: its constant quality, cq)
 *   encoder.preset          default medium (x264 names; NVENC: p1..p7)
 *   kafka.bootstrap         required, "host:port[,host:port...]"
 *   kafka.topic             default "sluice-vj-<namespace>-<name>"
 *   (derived, not in the spec) consumer group "sluice-vj-<namespace>-<name>",
 *                           dead-letter topic "<topic>.dlq"
 *   workers.minReplicas     default 0, 0..1000
 *   workers.maxReplicas     default 4, 1..1000, >= minReplicas; also the
 *                           task topic's partition count
 *   workers.lagThreshold    default 2 (pending tasks per replica), 1..1000000
 *   workers.activationLagThreshold default 0, 0..1000000
 *   workers.image, workers.imagePullPolicy (Always|IfNotPresent|Never),
 *   workers.resources       {requests, limits}: maps of at most
 *                           SPEC_RESOURCES_MAX resource names to quantities,
 *                           as in a Pod's container
 *   workers.env, nodeSelector, tolerations, affinity, serviceAccountName:
 *                           shapes checked (spec_read.h), read by the operator
 *   volume                  optional: mountPath (absolute), subPath, and one
 *                           Kubernetes volume source (persistentVolumeClaim,
 *                           hostPath, ...) mounted read-write in every pod of
 *                           the job; file:// URIs must then be under mountPath
 *   sinks                   optional; each sink optional:
 *     postgres: dsn {name, key} (a Secret reference), table (default
 *               video_frames even without a postgres block), deleteWithJob
 *               (default false: when true, deleting the VideoJob deletes its
 *               plan, segment and frame rows first: `sluice-worker purge`;
 *               it needs dsn in the same block)
 *     redis:    addr "host:port", password {name, key}, prefix (default
 *               "sluice:vj:<namespace>:<name>:", the docs/contracts.md §3 keys)
 *     influxdb: url, database (both required), org, token {name, key},
 *               api v1 (default) | v2 (token required)
 *
 * Unknown fields are errors, so a typo cannot pass for a default. Every
 * error names the field path:
 *
 *   spec.segmentSeconds: 0 is out of range 1..60
 */
#ifndef SLUICE_VJ_SPEC_H
#define SLUICE_VJ_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "spec_common.h"

enum vj_spec_error {
	VJ_SPEC_E_INVALID = -1, /* the spec breaks a rule; errbuf names the field */
	VJ_SPEC_E_NOMEM = -2,
	VJ_SPEC_E_IO = -3, /* vj_spec_load_file: the file could not be read */
};

/* Largest config file read. */
#define VJ_SPEC_FILE_MAX (1024 * 1024)

/* spec.analysis, as bits. */
enum {
	VJ_ANALYSIS_MEAN_LUMA = 1u << 0,
	VJ_ANALYSIS_MOTION = 1u << 1,
	VJ_ANALYSIS_SCENE_SCORE = 1u << 2,
	VJ_ANALYSIS_ALL = 7u,
};

/*
 * A parsed, defaulted, validated spec. Every string is owned by the struct
 * and freed by vj_spec_free; optional strings without a default are NULL.
 * Plain data otherwise: read it from any thread once parsed.
 */
struct vj_spec {
	char *name;
	char *namespace;

	char *source_uri;
	char *output_uri;
	int segment_seconds;
	int max_attempts;
	char *filters;           /* NULL: none */
	char *volume_mount_path; /* spec.volume.mountPath; NULL: no volume */
	unsigned analysis;       /* VJ_ANALYSIS_* bits; 0 when the list is empty */

	struct {
		char *codec, *preset;
		int crf;
	} encoder;

	struct spec_kafka kafka; /* group sluice-vj-<ns>-<name> and <topic>.dlq derived */
	struct spec_workers workers;

	struct {
		struct spec_postgres postgres; /* table always set */
		/* sinks.postgres.deleteWithJob: the job's rows go when it is
		 * deleted (the operator's purge Job); default 0. */
		int postgres_delete_with_job;
		struct {
			int enabled;
			char *addr;
			struct spec_secret_ref password;
			char *prefix; /* always set */
		} redis;
		struct spec_influxdb influxdb;
	} sinks;
};

/*
 * Parses spec (the resource's .spec object) for the resource name in
 * namespace ("" or NULL: "default") into *out. Returns 0, or
 * VJ_SPEC_E_INVALID / VJ_SPEC_E_NOMEM with one line in errbuf. On success
 * the caller frees *out with vj_spec_free; on failure *out holds nothing.
 */
int vj_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct vj_spec *out,
                  char *errbuf, size_t errbuf_size);

/* The same for a whole document, in either form described at the top. */
int vj_spec_parse_document(const cJSON *doc, struct vj_spec *out, char *errbuf, size_t errbuf_size);

/*
 * Reads path (JSON when its first non-blank byte is '{', YAML otherwise; at
 * most VJ_SPEC_FILE_MAX bytes) and parses it as a document. Errors start
 * with the path: "/etc/sluice/config.json: spec.source.uri: required".
 */
int vj_spec_load_file(const char *path, struct vj_spec *out, char *errbuf, size_t errbuf_size);

/* Frees what vj_spec_parse put in spec and zeroes it; safe on a zeroed
 * struct and twice. */
void vj_spec_free(struct vj_spec *spec);

/* The job's name as tasks, rows and logs carry it: "<namespace>/<name>".
 * Returns 0, or -1 when it does not fit in buf. */
int vj_spec_job_id(const struct vj_spec *spec, char *buf, size_t size);

/* Whether codec is one of NVIDIA's hardware encoders (h264_nvenc,
 * hevc_nvenc): its process workers need a node with allocatable
 * nvidia.com/gpu, the NVIDIA driver at run time, and NVENC's options
 * instead of x264's. The one list both the operator and the worker ask.
 * NULL is not. Pure. */
int vj_spec_codec_nvenc(const char *codec);

/* The local path of a file:// URI (the part after "file://", which starts
 * with '/'), or NULL when uri is not a file URI. Borrowed from uri. */
const char *vj_spec_file_path(const char *uri);

#endif
