/* video_nvenc.h -- what a VideoJob's encoder fields, written in x264's terms
 * (crf 0..51, preset ultrafast..veryslow), mean to NVIDIA's hardware
 * encoders h264_nvenc and hevc_nvenc, as the options of FFmpeg 5.1's NVENC
 * wrapper (`ffmpeg -h encoder=h264_nvenc`). One table, pure, unit-tested
 * (tests/unit/test_video_nvenc.c); video_segment.c only applies it.
 *
 * Quality. NVENC has no crf. Its nearest is constant quality: rate control
 * "vbr" with a target "cq" on the same 0..51 quantiser scale and no bit-rate
 * target (the caller sets the context's bit_rate to 0: the wrapper's default
 * of 2 Mb/s would otherwise cap it). So crf 1..51 is cq = crf. cq 0 means
 * "automatic" to NVENC, not "best", so crf 0 (x264's lossless) becomes
 * "constqp" with qp 0: NVENC's finest quantiser, near-lossless but not
 * bit-exact (true lossless needs tune=lossless and a 4:4:4 profile, which
 * the segments' yuv420p does not take). crf < 0: the preset's own rate
 * control.
 *
 * Speed. NVENC's presets run p1 (fastest) .. p7 (slowest, best), p4 being
 * its default like x264's medium. x264's nine names map onto the seven with
 * medium on p4 and the ends on the ends:
 *
 *   ultrafast, superfast p1   veryfast p2   faster, fast p3   medium p4
 *   slow p5   slower p6   veryslow p7
 *
 * An unknown name (none gets past vj_spec) is medium's p4.
 *
 * The segment's GOP. A segment is encoded alone and concatenated after the
 * previous one, so its first picture must be an IDR that nothing before it
 * can be referred to from: video_segment.c forces the first frame to an I
 * picture, and "forced-idr" 1 makes NVENC code a forced I picture as an IDR
 * (the wrapper's default is a plain I frame, after which pictures may still
 * refer back). "b_ref_mode" disabled keeps B-frames out of the reference
 * lists, so no B-frame is a reference across a GOP's start either; the
 * wrapper's GOPs (g, 250 by default) start with an IDR (NVENC's idrPeriod
 * is the GOP length).
 *
 * Running it needs the NVIDIA driver's libcuda.so.1 and libnvidia-encode.so.1
 * in the worker's container (the NVIDIA container toolkit mounts them) and a
 * GPU: without them avcodec_open2 fails and the segment fails with
 * VSEG_E_ENCODE naming the encoder.
 *
 * Threads: any; everything is pure and the strings are static.
 */
#ifndef SLUICE_VIDEO_NVENC_H
#define SLUICE_VIDEO_NVENC_H

/* The NVENC wrapper's private options (AVCodecContext.priv_data) for one
 * segment. Strings are static. */
struct video_nvenc {
	const char *preset;     /* "p1".."p7" */
	const char *rc;         /* "vbr" (with cq), "constqp" (with qp), or NULL:
	                           the preset's rate control, no cq or qp */
	int cq;                 /* rc "vbr": the constant-quality target, 1..51 */
	int qp;                 /* rc "constqp": the quantiser, 0..51 */
	int forced_idr;         /* 1: a forced I picture is an IDR */
	const char *b_ref_mode; /* "disabled": B-frames are not references */
};

/* NVENC's preset for an x264 preset name (NULL or "": medium): "p1".."p7".
 * Pure. */
const char *video_nvenc_preset(const char *x264_preset);

/*
 * Whether codec is one of NVIDIA's encoders (vj_spec_codec_nvenc: the list
 * the operator asks too). When it is, returns 1 and fills *out for the
 * x264-style preset (NULL or "": medium) and crf (< 0: the preset's rate
 * control; above 51: 51); otherwise returns 0 and leaves *out alone. Pure.
 */
int video_nvenc_options(const char *codec, const char *preset, int crf, struct video_nvenc *out);

#endif
