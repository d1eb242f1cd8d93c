/* video_timing.h -- a source's video packets in decode order, each with the
 * time a full decode shows its picture at: what split plans from and what
 * every segment reads, so that both agree on every frame's time.
 *
 * Most containers store presentation times, or libavformat rebuilds them
 * (VIDEO_PROBE_FFLAGS: genpts). MPEG-4 Part 2 in AVI is timed here
 * instead, because libavformat gets two of its forms wrong:
 *
 *   - DivX 5's "packed bitstream" stores a reference picture together with
 *     the B-frame after it in one chunk and leaves a not-coded VOP in the
 *     next: the mpeg4_unpack_bframes bitstream filter undoes that, so the
 *     decoder gets one picture a packet, in decode order;
 *   - then, when the stream has B-frames (a decoder delay; without them
 *     every picture is shown at its own slot and nothing is changed), chunk
 *     n being decoded at slot n (the packet's dts), a B-frame
 *     is shown at its own slot and a reference picture at the slot of the
 *     next reference picture (the one after it in decode order), or one
 *     slot past the last packet at the end of the stream:
 *
 *       decode order  I0 P3 B1 B2 P6 B4 B5      (dts 0 1 2 3 4 5 6)
 *       pts           1  4  2  3  7  5  6
 *
 *     which is what a full decode gives (its best-effort times), and
 *     depends only on the packets from a keyframe on: the same after a
 *     seek as from the start.
 *
 * The empty chunks an AVI capture tool writes for frames it dropped are no
 * packets here (the demuxer skips them; the gap stays in the dts).
 */
#ifndef SLUICE_VIDEO_TIMING_H
#define SLUICE_VIDEO_TIMING_H

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>

/* Packets held while a reference picture waits for the next one: it and
 * the B-frames after it (MPEG-4 ASP streams have a few). */
#define VIDEO_TIMING_HELD_MAX 64

struct video_timing {
	AVFormatContext *fmt; /* borrowed */
	int stream;
	int reorder; /* timed here (MPEG-4 Part 2 in AVI) */
	/* The stream's pictures have no presentation times that hold after a
	 * seek: the container stores none (AVI, raw streams), the decoder
	 * reorders (B-frames), and the codec is not one timed here. Its
	 * packets go without pts (the decoder's own times, from dts, are a
	 * full decode's); split plans it whole (video_probe.h). */
	int untimed;
	AVBSFContext *unpack; /* mpeg4_unpack_bframes, when reorder */
	AVPacket *held[VIDEO_TIMING_HELD_MAX];
	int nheld, ready;           /* held[0..ready) have their pts */
	int64_t last_dts, last_dur; /* of the last packet taken in */
	int demux_eof, filter_eof;  /* the demuxer, the filter at their end */
	int last_corrupt;           /* the demuxer's last packet (any stream) was cut short */
};

/* How a B-frame and a reference picture are told apart: the VOP coding
 * type of the packet's first VOP (ISO 14496-2 6.2.5). 'I', 'P', 'B', 'S',
 * or 0 when the packet holds no VOP. */
char video_timing_vop_type(const uint8_t *data, int size);

/*
 * Starts reading stream of fmt (opened, stream info found). Returns 0, or
 * a negative AVERROR (no bitstream filter, out of memory).
 */
int video_timing_open(struct video_timing *t, AVFormatContext *fmt, int stream);

/*
 * The next packet of the video stream, in decode order, pts set (empty
 * packets and other streams' are skipped). Returns 0, AVERROR_EOF at the
 * end, or the demuxer's error (AVERROR_INVALIDDATA for a damaged packet:
 * the caller may read on).
 */
int video_timing_read(struct video_timing *t, AVPacket *pkt);

/* Forgets what is held: call after every seek. */
void video_timing_reset(struct video_timing *t);

void video_timing_close(struct video_timing *t);

#endif
