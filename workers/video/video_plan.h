/* video_plan.h -- where a video is cut: the pure core of `split`.
 *
 * Input: the video stream's packets in decode order (their presentation
 * time and keyframe flag), read from the container without decoding.
 * Output: segments [start_pts, end_pts) that start on keyframes and last
 * about target ticks each: a segment ends at the first keyframe at least
 * target after its start. The first segment starts at the smallest pts (so
 * every frame belongs to one segment), the last ends one past the largest.
 * Each segment's frame count is the number of packets whose pts is in its
 * range, so the counts add up to the packet count.
 */
#ifndef SLUICE_VIDEO_PLAN_H
#define SLUICE_VIDEO_PLAN_H

#include <stddef.h>
#include <stdint.h>

struct video_plan_packet {
	int64_t pts; /* presentation time (dts when the container has no pts) */
	int key;     /* a keyframe: decoding can start here */
};

struct video_plan_segment {
	int64_t start_pts, end_pts;
	int64_t frames;
};

/*
 * Plans pk[0..n) (n >= 1) with target ticks (> 0) per segment. *out is
 * malloc'd (the caller frees), *nout segments. Keyframes whose pts is not
 * above the current segment's start are ignored (a stream whose keyframe
 * times go backwards gets fewer, longer segments, never overlapping ones).
 * Returns 0, or -1 when n is 0, target is not positive, or out of memory.
 */
int video_plan_segments(const struct video_plan_packet *pk, size_t n, int64_t target,
                        struct video_plan_segment **out, size_t *nout);

#endif
