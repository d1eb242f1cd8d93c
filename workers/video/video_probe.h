/* video_probe.h -- a source's video packet index, read through libavformat
 * without decoding: what split plans from and assemble checks against.
 */
#ifndef SLUICE_VIDEO_PROBE_H
#define SLUICE_VIDEO_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "video_plan.h"

struct video_probe {
	int stream; /* the video stream's index */
	int tb_num, tb_den;
	int width, height;
	char codec[32];
	int has_audio;
	struct video_plan_packet *packets; /* decode order; malloc'd */
	size_t npackets;
	int64_t min_pts, max_pts;
	int64_t duration_ms; /* first frame to the end of the last */
	int64_t corrupt;     /* packets flagged corrupt (kept) */
	int64_t bytes;       /* of the video packets, all told */
	/* 1: plan one segment. The container stores no presentation times and
	 * its B-frames are of a codec video_timing cannot order (H.264 in
	 * AVI): only a decoder that starts at the top knows each picture's
	 * time, so the video is not cut (slower, every frame exact). */
	int whole;
};

/*
 * The demuxer flags split and the segments both open a source with, so
 * that both see the same packet timestamps. genpts: a container that
 * stores no presentation time for some pictures (MPEG-1/2 with B-frames in
 * AVI, raw streams) gets it rebuilt from decode order and the parser's
 * picture types; without it a keyframe's time would be its dts, too early
 * for a picture that B-frames are shown before. MPEG-4 Part 2 in AVI is
 * timed by video_timing.h instead (packed bitstreams).
 */
#define VIDEO_PROBE_FFLAGS "+genpts"

/*
 * Opens uri (file:///path, http(s)://...) and reads its video packet
 * index. Network reads time out after timeout_ms. Returns 0, or -1 with
 * "<uri>: <step>: <FFmpeg's message>" in errbuf. Free with
 * video_probe_free.
 */
int video_probe_open(const char *uri, int timeout_ms, struct video_probe *out, char *errbuf,
                     size_t errbuf_size);

void video_probe_free(struct video_probe *p);

/* Sends FFmpeg's own log lines (warnings and errors: "moov atom not found",
 * "partial file") to lib/log as JSON lines with msg "ffmpeg", the line in
 * "text" and the job in "job" (borrowed: keep it alive while FFmpeg runs),
 * instead of bare text on stderr. For the one-shot modes split and
 * assemble. */
void video_probe_log_to_json(const char *job);

/* The URL libavformat opens for uri: the path of a file:// URI, else uri. */
const char *video_probe_url(const char *uri);

#endif
