/* vj_task.h -- one segment of a VideoJob as a Kafka message: what `split`
 * publishes and `process` consumes. A task carries references (the source
 * URI, a presentation-time range, where the segment file goes), never
 * frames: a raw 1080p frame alone is above Kafka's 1 MB default.
 *
 * The message value is JSON (key: the segment index in decimal):
 *
 *   {"v":1, "job":"media/clip", "source":"file:///in/clip.mp4",
 *    "segment":3, "segments":10, "stream":0, "time_base":[1,12800],
 *    "start_pts":76800, "end_pts":102400, "start_ms":6000, "end_ms":8000,
 *    "frames":48, "output":"file:///out/.clip.mp4.segments/seg-00003.mp4"}
 *
 * The segment is the source's video stream `stream` frames whose
 * presentation time (pts, in time_base units; dts where the container gives
 * no pts) is in [start_pts, end_pts). start_pts is a keyframe's, so decoding
 * can start there (av_seek_frame(..., start_pts, AVSEEK_FLAG_BACKWARD));
 * end_pts is the next segment's start_pts (the last segment's is one past
 * the source's last pts). start_ms/end_ms are the same range in
 * milliseconds from the video's first frame, for people and logs. frames
 * is the number of video packets with a pts in the range (the frame count
 * the output must have), -1 when unknown. output is the file:// URI the
 * segment file must be renamed to once complete (written under a temporary
 * name first).
 */
#ifndef SLUICE_VJ_TASK_H
#define SLUICE_VJ_TASK_H

#include <stddef.h>
#include <stdint.h>

#define VJ_TASK_VERSION 1
/* "<namespace>/<name>": 63 + 1 + 253. */
#define VJ_TASK_JOB_MAX 317
#define VJ_TASK_URI_MAX 4096
/* Largest message vj_task_decode reads. */
#define VJ_TASK_MSG_MAX 16384

struct vj_task {
	char job[VJ_TASK_JOB_MAX + 1];
	char source[VJ_TASK_URI_MAX + 1];
	char output[VJ_TASK_URI_MAX + 1];
	int32_t segment;  /* 0-based */
	int32_t segments; /* how many the job has */
	int32_t stream;   /* the video stream's index in the source */
	int32_t tb_num, tb_den;
	int64_t start_pts, end_pts;
	int64_t start_ms, end_ms;
	int64_t frames; /* -1: unknown */
};

/* The message value for t: a NUL-terminated JSON string the caller frees
 * with free(), or NULL when out of memory. */
char *vj_task_encode(const struct vj_task *t);

/* The message key for t: the segment index in decimal. Returns 0, or -1
 * when it does not fit. */
int vj_task_key(const struct vj_task *t, char *buf, size_t size);

/*
 * Parses data[0..len) (not NUL-terminated, at most VJ_TASK_MSG_MAX bytes)
 * into *out. Every field is required except frames (default -1); unknown
 * fields are ignored so a newer split can add some. Checks: version 1,
 * 0 <= segment < segments, stream >= 0, time base > 0, start_pts < end_pts,
 * start_ms <= end_ms, frames >= -1, the URIs non-empty and within bounds.
 * Returns 0, or -1 with one line naming the field in errbuf
 * ("task: segment: 12 is not below segments: 10").
 */
int vj_task_decode(const char *data, size_t len, struct vj_task *out, char *errbuf,
                   size_t errbuf_size);

/* Fills out (size bytes) with the default segment file URI for segment idx
 * of a job whose final output is output_uri (file://): a hidden directory
 * beside it, "<dir>/.<basename>.segments/seg-<idx, 5 digits>.mp4". Returns
 * 0, or -1 when output_uri is not a file:// URI or the result does not fit. */
int vj_task_segment_uri(const char *output_uri, int32_t idx, char *out, size_t size);

/* The directory part of vj_task_segment_uri (a file:// URI, no trailing
 * slash). Same returns. */
int vj_task_segment_dir_uri(const char *output_uri, char *out, size_t size);

#endif
