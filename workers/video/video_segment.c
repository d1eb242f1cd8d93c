/* video_segment.c -- decode, filter and encode one segment (see
 * video_segment.h for the contract). The loop follows FFmpeg's
 * doc/examples/decode_filter_video.c and transcode.c; what is ours:
 *
 *   - frames are kept by pts in [start, end), not by packet, so B-frame
 *     reordering and open-GOP leading pictures land in the right segment:
 *     the decoder emits frames in presentation order, so the first frame
 *     at or past end means every earlier one has been seen;
 *   - the filter graph, encoder and muxer are set up from the first kept
 *     frame (its size and pixel format are the truth, codec parameters
 *     can be guesses), so a segment that keeps nothing touches no file;
 *   - each filtered frame waits for its successor before it is encoded,
 *     so its duration (to the next frame, the last one's to end) is known
 *     and written on its packet.
 */
#include "video_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "clock.h"
#include "video_analysis.h"
#include "video_nvenc.h"
#include "video_probe.h"
#include "video_timing.h"
#include "vj_spec.h"

/* Invalid packets from the demuxer in a row before the source counts as
 * unreadable rather than damaged in places. */
#define MAX_BAD_READS 1000

/* Output timestamps and durations by output pts, for the packets the
 * encoder returns (after its reordering and delay). */
struct dur {
	int64_t pts, dur; /* encoder time base */
};

struct seg {
	const struct vseg_request *req;
	struct vseg_result *res;
	char *errbuf;
	size_t errbuf_size;

	AVFormatContext *in;
	AVStream *st;
	int si;
	struct video_timing vt; /* the video packets of in, timed as split times them */
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;

	AVFilterGraph *graph;
	AVFilterContext *src, *sink;
	AVRational sink_tb;
	AVFrame *filt, *pending; /* pending: the filtered frame awaiting its successor */
	int have_pending;
	int64_t pending_dur; /* sink tb; the last source frame's, for an open end */
	int64_t offset;      /* sink tb: output pts = pts - offset */
	int offset_set;
	int64_t seg_len; /* sink tb: end - start; INT64_MAX for an open end */

	AVCodecContext *enc;
	AVFormatContext *out;
	AVStream *ost;
	AVPacket *opkt;
	int header_written;
	char path[PATH_MAX], tmp[PATH_MAX];
	int tmp_made;
	int64_t sent;        /* frames sent to the encoder */
	int64_t out_end_pts; /* encoder tb: end of the last packet written */
	struct dur *durs;
	size_t ndurs, cap_durs;

	struct video_analysis va;
	struct SwsContext *sws;
	uint8_t *gray;
	int gray_linesize;
	size_t gray_size;

	int have_pkt;                   /* s->pkt holds the next packet (seek_start's keyframe) */
	int64_t last_pts, last_src_dur; /* stream tb, of the last decoded frame */
	int done;                       /* a frame at or past end was decoded */
};

__attribute__((format(printf, 3, 4))) static int fail(struct seg *s, int code, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(s->errbuf, s->errbuf_size, "segment %d: ", s->req->segment);

	if (n < 0 || (size_t)n >= s->errbuf_size)
		return code;
	va_start(ap, fmt);
	vsnprintf(s->errbuf + n, s->errbuf_size - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

static int fail_av(struct seg *s, int code, const char *what, int averr)
{
	char text[AV_ERROR_MAX_STRING_SIZE];

	if (averr == AVERROR(ENOMEM))
		code = VSEG_E_NOMEM;
	av_strerror(averr, text, sizeof(text));
	return fail(s, code, "%s: %s", what, text);
}

const char *vseg_error_name(int err)
{
	switch (err) {
	case VSEG_E_SOURCE:
		return "source";
	case VSEG_E_DECODE:
		return "decode";
	case VSEG_E_FILTER:
		return "filter";
	case VSEG_E_ENCODE:
		return "encode";
	case VSEG_E_OUTPUT:
		return "output";
	case VSEG_E_EMPTY:
		return "empty";
	case VSEG_E_CANCELLED:
		return "cancelled";
	case VSEG_E_CALLBACK:
		return "callback";
	case VSEG_E_NOMEM:
		return "nomem";
	case VSEG_E_ARG:
		return "argument";
	default:
		return "other";
	}
}

void vseg_request_init(struct vseg_request *r)
{
	memset(r, 0, sizeof(*r));
	r->stream_index = -1;
	r->end_pts = VSEG_END_OPEN;
	r->encoder.crf = -1;
	r->analysis = VJ_ANALYSIS_ALL;
}

static int cancelled(void *arg)
{
	const struct seg *s = arg;

	return s->req->cancel != NULL && s->req->cancel(s->req->cancel_arg);
}

/* ==== input ==== */

static int open_input(struct seg *s)
{
	const struct vseg_request *req = s->req;
	AVDictionary *opts = NULL;
	char what[PATH_MAX + 32];
	int ret;

	s->in = avformat_alloc_context();
	if (s->in == NULL)
		return fail(s, VSEG_E_NOMEM, "out of memory");
	s->in->interrupt_callback.callback = cancelled;
	s->in->interrupt_callback.opaque = s;
	snprintf(what, sizeof(what), "open \"%s\"", req->source);
	av_dict_set(&opts, "fflags", VIDEO_PROBE_FFLAGS, 0);
	ret = avformat_open_input(&s->in, req->source, NULL, &opts);
	av_dict_free(&opts);
	if (ret < 0) /* avformat_open_input freed s->in */
		return cancelled(s) ? fail(s, VSEG_E_CANCELLED, "cancelled")
		                    : fail_av(s, VSEG_E_SOURCE, what, ret);
	ret = avformat_find_stream_info(s->in, NULL);
	if (ret < 0) {
		snprintf(what, sizeof(what), "probe \"%s\"", req->source);
		return fail_av(s, VSEG_E_SOURCE, what, ret);
	}
	if (req->stream_index >= 0) {
		if ((unsigned)req->stream_index >= s->in->nb_streams ||
		    s->in->streams[req->stream_index]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
			return fail(s, VSEG_E_SOURCE, "\"%s\": stream %d is not a video stream",
			            req->source, req->stream_index);
		s->si = req->stream_index;
	} else {
		ret = av_find_best_stream(s->in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
		if (ret < 0)
			return fail_av(s, VSEG_E_SOURCE, "no video stream", ret);
		s->si = ret;
	}
	s->st = s->in->streams[s->si];
	/* Only the video stream is demuxed; audio is the assembler's. */
	for (unsigned i = 0; i < s->in->nb_streams; i++)
		if ((int)i != s->si)
			s->in->streams[i]->discard = AVDISCARD_ALL;
	ret = video_timing_open(&s->vt, s->in, s->si);
	if (ret < 0)
		return fail_av(s, VSEG_E_SOURCE, "read the video stream", ret);
	s->res->tb_num = s->st->time_base.num;
	s->res->tb_den = s->st->time_base.den;
	return 0;
}

static int open_decoder(struct seg *s)
{
	const AVCodec *codec = avcodec_find_decoder(s->st->codecpar->codec_id);
	int ret;

	if (codec == NULL)
		return fail(s, VSEG_E_DECODE, "no decoder for codec %s",
		            avcodec_get_name(s->st->codecpar->codec_id));
	s->dec = avcodec_alloc_context3(codec);
	if (s->dec == NULL)
		return fail(s, VSEG_E_NOMEM, "out of memory");
	ret = avcodec_parameters_to_context(s->dec, s->st->codecpar);
	if (ret < 0)
		return fail_av(s, VSEG_E_DECODE, "decoder parameters", ret);
	s->dec->pkt_timebase = s->st->time_base;
	s->dec->thread_count = s->req->decoder_threads;
	s->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	ret = avcodec_open2(s->dec, codec, NULL);
	if (ret < 0)
		return fail_av(s, VSEG_E_DECODE, "open decoder", ret);
	return 0;
}

/* The packet's presentation time, its dts when it has none. */
static int64_t packet_time(const AVPacket *pkt)
{
	return pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
}

/* Reads to the first keyframe of the video stream after a seek, dropping
 * what comes before it (nothing decodes without it). 1: it is in s->pkt;
 * 0: none before the end; < 0: a read error. */
static int read_to_keyframe(struct seg *s)
{
	for (;;) {
		int ret = video_timing_read(&s->vt, s->pkt);

		if (ret == AVERROR_EOF)
			return 0;
		if (ret == AVERROR_INVALIDDATA)
			continue;
		if (ret < 0)
			return ret;
		if ((s->pkt->flags & AV_PKT_FLAG_KEY) && packet_time(s->pkt) != AV_NOPTS_VALUE)
			return 1;
		av_packet_unref(s->pkt);
	}
}

/*
 * Puts the demuxer on a keyframe at or before start, with that keyframe's
 * packet held in s->pkt for decode_all; 0, or a vseg_error. Demuxers that seek by dts or by
 * byte position (MPEG-TS) can land just past the keyframe whose pts is
 * start (its dts is earlier), so the keyframe found is checked and the
 * seek retried from further back (1 s, then doubling) until it is at or
 * before start. A source that cannot seek, or a start that backing off
 * reaches the beginning, is read from its beginning: slower, same frames.
 */
static int seek_start(struct seg *s)
{
	AVRational tb = s->st->time_base;
	int64_t first = s->st->start_time != AV_NOPTS_VALUE ? s->st->start_time : 0;
	int64_t second = av_rescale_q(1, (AVRational){1, 1}, tb), back = 0;

	for (int tries = 0; tries < 12 && s->req->start_pts > first; tries++) {
		int64_t target = s->req->start_pts - back;

		if (target <= first)
			break;
		if (avformat_seek_file(s->in, s->si, INT64_MIN, target, target, 0) < 0 &&
		    av_seek_frame(s->in, s->si, target, AVSEEK_FLAG_BACKWARD) < 0)
			break;
		video_timing_reset(&s->vt);
		int ret = read_to_keyframe(s);
		if (ret < 0) {
			char what[PATH_MAX + 16];
			snprintf(what, sizeof(what), "seek \"%s\"", s->req->source);
			return cancelled(s) ? fail(s, VSEG_E_CANCELLED, "cancelled")
			                    : fail_av(s, VSEG_E_SOURCE, what, ret);
		}
		if (ret == 1 && packet_time(s->pkt) <= s->req->start_pts) {
			s->have_pkt = 1;
			return 0;
		}
		av_packet_unref(s->pkt);
		back = back == 0 ? second : 2 * back;
	}
	if (s->req->start_pts <= first)
		return 0; /* just opened: at the top already */
	/* From the top: opened again, as a seek to the first timestamp can
	 * land past the first keyframe for the same reason. */
	video_timing_close(&s->vt);
	avformat_close_input(&s->in);
	return open_input(s);
}

/* ==== analysis ==== */

/* Whether fmt's first plane is plain 8-bit luma the analysis can read in
 * place (yuv*p, yuvj*p, nv12, gray, ...). */
static int plain_luma(enum AVPixelFormat fmt)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);

	return d != NULL &&
	       !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL |
	                     AV_PIX_FMT_FLAG_BITSTREAM)) &&
	       d->nb_components >= 1 && d->comp[0].plane == 0 && d->comp[0].depth == 8 &&
	       d->comp[0].step == 1 && d->comp[0].offset == 0 && d->comp[0].shift == 0;
}

static int measure(struct seg *s, const AVFrame *f, struct va_measures *m)
{
	const uint8_t *y = f->data[0];
	ptrdiff_t stride = f->linesize[0];

	if (!plain_luma(f->format)) {
		/* Anything else (RGB, 10-bit, packed) is converted to gray. */
		s->sws =
		    sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width,
		                         f->height, AV_PIX_FMT_GRAY8, SWS_POINT, NULL, NULL, NULL);
		if (s->sws == NULL)
			return fail(s, VSEG_E_DECODE, "cannot convert %s to gray for analysis",
			            av_get_pix_fmt_name(f->format));
		int ls = FFALIGN(f->width, 32);
		size_t need = (size_t)ls * (size_t)f->height;
		if (need > s->gray_size) {
			uint8_t *g = av_realloc(s->gray, need);
			if (g == NULL)
				return fail(s, VSEG_E_NOMEM, "out of memory");
			s->gray = g;
			s->gray_size = need;
		}
		s->gray_linesize = ls;
		uint8_t *dst[4] = {s->gray, NULL, NULL, NULL};
		int dst_ls[4] = {ls, 0, 0, 0};
		sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
		          dst_ls);
		y = s->gray;
		stride = ls;
	}
	if (va_measure(&s->va, y, stride, f->width, f->height, m) < 0)
		return fail(s, VSEG_E_NOMEM, "out of memory");
	return 0;
}

/* ==== output ==== */

static void strip_file_scheme(const char *uri, char *out, size_t size)
{
	if (strncmp(uri, "file://", 7) == 0)
		uri += 7;
	else if (strncmp(uri, "file:", 5) == 0)
		uri += 5;
	snprintf(out, size, "%s", uri);
}

/* mkdir -p: the segments' directory (vj_task's default sits beside the
 * job's output) may not exist yet, and several workers may race to make it. */
static int make_dirs(char *dir)
{
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		int rc = mkdir(dir, 0755);
		*p = c;
		if (rc != 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			return 0;
	}
}

/* "<dir>/.<name>.<pid>-<n>.tmp": hidden, unique per process and call, in
 * the output's directory so that rename() is atomic. */
static int make_tmp_name(struct seg *s)
{
	static unsigned counter;
	char a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s", s->path);
	snprintf(b, sizeof(b), "%s", s->path);
	int n = snprintf(s->tmp, sizeof(s->tmp), "%s/.%s.%ld-%u.tmp", dirname(a), basename(b),
	                 (long)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	if (n < 0 || (size_t)n >= sizeof(s->tmp))
		return fail(s, VSEG_E_ARG, "output path too long: %s", s->path);
	snprintf(a, sizeof(a), "%s", s->path);
	char *dir = dirname(a);
	if (dir[0] == '/' && make_dirs(dir) != 0)
		return fail(s, VSEG_E_OUTPUT, "create directory \"%s\": %s", dir, strerror(errno));
	return 0;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

static int set_encoder_options(struct seg *s, const char *name)
{
	const struct vseg_encoder *e = &s->req->encoder;
	const char *preset = e->preset != NULL && e->preset[0] != '\0' ? e->preset : "medium";
	void *priv = s->enc->priv_data;
	struct video_nvenc nv;
	char what[160];
	int ret = 0;

	if (strcmp(name, "libx264") == 0 || strcmp(name, "libx265") == 0) {
		ret = av_opt_set(priv, "preset", preset, 0);
		if (ret < 0) {
			snprintf(what, sizeof(what), "encoder %s: preset \"%s\"", name, preset);
			return fail_av(s, VSEG_E_ENCODE, what, ret);
		}
		if (e->crf >= 0)
			ret = av_opt_set_double(priv, "crf", e->crf, 0);
		/* The segment must start a closed GOP: the forced first
		 * picture becomes an IDR, and no picture refers across it.
		 * (x264 closes GOPs by default; x265 does not.) */
		if (ret >= 0)
			ret = av_opt_set_int(priv, "forced-idr", 1, 0);
		if (ret >= 0 && strcmp(name, "libx265") == 0)
			ret = av_opt_set(priv, "x265-params", "open-gop=0:log-level=error", 0);
		if (ret >= 0 && strcmp(name, "libx264") == 0)
			ret = av_opt_set(priv, "x264-params", "open-gop=0", 0);
	} else if (strcmp(name, "libvpx-vp9") == 0) {
		/* Constant quality (bit rate 0 with a crf), good deadline;
		 * the preset maps to cpu-used, faster presets higher. */
		static const struct {
			const char *preset;
			int cpu_used;
		} cpu[] = {{"ultrafast", 5}, {"superfast", 5}, {"veryfast", 5}, {"faster", 4},
		           {"fast", 3},      {"medium", 2},    {"slow", 1},     {"slower", 0},
		           {"veryslow", 0},  {"placebo", 0}};
		int cpu_used = 2;
		for (size_t i = 0; i < sizeof(cpu) / sizeof(cpu[0]); i++)
			if (strcmp(cpu[i].preset, preset) == 0)
				cpu_used = cpu[i].cpu_used;
		s->enc->bit_rate = 0;
		ret = av_opt_set_double(priv, "crf", e->crf >= 0 ? e->crf : 32, 0);
		if (ret >= 0)
			ret = av_opt_set_int(priv, "cpu-used", cpu_used, 0);
		if (ret >= 0)
			ret = av_opt_set_int(priv, "row-mt", 1, 0);
	} else if (strcmp(name, "mpeg4") == 0) {
		/* No crf in MPEG-4 Part 2: a fixed quantiser, crf / 6
		 * rounded (the default 23 gives 4), 1..31. */
		int q = e->crf >= 0 ? (e->crf + 3) / 6 : 4;
		if (q < 1)
			q = 1;
		if (q > 31)
			q = 31;
		s->enc->flags |= AV_CODEC_FLAG_QSCALE;
		s->enc->global_quality = FF_QP2LAMBDA * q;
	} else if (video_nvenc_options(name, preset, e->crf, &nv)) {
		/* NVIDIA's encoders: x264's crf and preset in NVENC's terms,
		 * and the forced first picture an IDR with no B-frame as a
		 * reference, so the segment starts a closed GOP
		 * (video_nvenc.h). No bit-rate target: the wrapper's default
		 * 2 Mb/s would cap constant quality. */
		s->enc->bit_rate = 0;
		ret = av_opt_set(priv, "preset", nv.preset, 0);
		if (ret >= 0 && nv.rc != NULL)
			ret = av_opt_set(priv, "rc", nv.rc, 0);
		if (ret >= 0 && nv.rc != NULL && strcmp(nv.rc, "vbr") == 0)
			ret = av_opt_set_double(priv, "cq", nv.cq, 0);
		if (ret >= 0 && nv.rc != NULL && strcmp(nv.rc, "constqp") == 0)
			ret = av_opt_set_int(priv, "qp", nv.qp, 0);
		if (ret >= 0)
			ret = av_opt_set_int(priv, "forced-idr", nv.forced_idr, 0);
		if (ret >= 0)
			ret = av_opt_set(priv, "b_ref_mode", nv.b_ref_mode, 0);
	}
	if (ret < 0) {
		snprintf(what, sizeof(what), "encoder %s: options", name);
		return fail_av(s, VSEG_E_ENCODE, what, ret);
	}
	return 0;
}

/* Opens the encoder and the temporary output from the graph's output and
 * the first filtered frame (colour properties). */
static int open_output(struct seg *s, const AVFrame *first)
{
	const char *name = s->req->encoder.codec != NULL && s->req->encoder.codec[0] != '\0'
	                       ? s->req->encoder.codec
	                       : "libx264";
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	AVRational fr = av_buffersink_get_frame_rate(s->sink);
	char what[PATH_MAX + 64];
	int ret;

	if (codec == NULL || codec->type != AVMEDIA_TYPE_VIDEO)
		return fail(s, VSEG_E_ENCODE, "unknown video encoder \"%s\"", name);
	ret = avformat_alloc_output_context2(&s->out, NULL, NULL, s->path);
	if (ret < 0) {
		snprintf(what, sizeof(what), "output \"%s\": container", s->path);
		return fail_av(s, VSEG_E_OUTPUT, what, ret);
	}
	s->enc = avcodec_alloc_context3(codec);
	if (s->enc == NULL)
		return fail(s, VSEG_E_NOMEM, "out of memory");
	s->enc->width = av_buffersink_get_w(s->sink);
	s->enc->height = av_buffersink_get_h(s->sink);
	s->enc->pix_fmt = av_buffersink_get_format(s->sink);
	s->enc->sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(s->sink);
	if (fr.num <= 0 || fr.den <= 0)
		fr = s->st->avg_frame_rate.num > 0 ? s->st->avg_frame_rate : s->st->r_frame_rate;
	if (fr.num > 0 && fr.den > 0)
		s->enc->framerate = fr;
	s->enc->time_base = s->sink_tb;
	/* MPEG-4 Part 2 allows time base denominators up to 65535. */
	if (codec->id == AV_CODEC_ID_MPEG4 && s->enc->time_base.den > 65535) {
		if (fr.num > 0 && fr.den > 0 && fr.num <= 65535)
			s->enc->time_base = av_inv_q(fr);
		else
			av_reduce(&s->enc->time_base.num, &s->enc->time_base.den, s->sink_tb.num,
			          s->sink_tb.den, 65535);
	}
	s->enc->color_range = first->color_range;
	s->enc->color_primaries = first->color_primaries;
	s->enc->color_trc = first->color_trc;
	s->enc->colorspace = first->colorspace;
	s->enc->chroma_sample_location = first->chroma_location;
	s->enc->thread_count = s->req->encoder.threads;
	s->enc->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	if (s->out->oformat->flags & AVFMT_GLOBALHEADER)
		s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	ret = set_encoder_options(s, name);
	if (ret < 0)
		return ret;
	ret = avcodec_open2(s->enc, codec, NULL);
	if (ret < 0) {
		snprintf(what, sizeof(what), "open encoder %s (%dx%d %s)", name, s->enc->width,
		         s->enc->height, av_get_pix_fmt_name(s->enc->pix_fmt));
		/* FFmpeg's reason ("Cannot load libcuda.so.1") goes to its log
		 * only; its return code says "Operation not permitted". */
		if (vj_spec_codec_nvenc(name))
			return fail(s, VSEG_E_ENCODE,
			            "%s: no usable NVIDIA GPU: the node needs one, and the "
			            "container the driver's libcuda.so.1 and libnvidia-encode.so.1",
			            what);
		return fail_av(s, VSEG_E_ENCODE, what, ret);
	}
	s->ost = avformat_new_stream(s->out, NULL);
	if (s->ost == NULL)
		return fail(s, VSEG_E_NOMEM, "out of memory");
	ret = avcodec_parameters_from_context(s->ost->codecpar, s->enc);
	if (ret < 0)
		return fail_av(s, VSEG_E_OUTPUT, "output stream parameters", ret);
	s->ost->time_base = s->enc->time_base;
	if (s->enc->framerate.num > 0)
		s->ost->avg_frame_rate = s->enc->framerate;
	ret = make_tmp_name(s);
	if (ret < 0)
		return ret;
	ret = avio_open(&s->out->pb, s->tmp, AVIO_FLAG_WRITE);
	if (ret < 0) {
		snprintf(what, sizeof(what), "create \"%s\"", s->tmp);
		return fail_av(s, VSEG_E_OUTPUT, what, ret);
	}
	s->tmp_made = 1;
	ret = avformat_write_header(s->out, NULL);
	if (ret < 0) {
		snprintf(what, sizeof(what), "write header of \"%s\"", s->path);
		return fail_av(s, VSEG_E_OUTPUT, what, ret);
	}
	s->header_written = 1;
	return 0;
}

static int dur_push(struct seg *s, int64_t pts, int64_t dur)
{
	if (s->ndurs == s->cap_durs) {
		size_t ncap = s->cap_durs ? s->cap_durs * 2 : 64;
		struct dur *d = realloc(s->durs, ncap * sizeof(*d));
		if (d == NULL)
			return -1;
		s->durs = d;
		s->cap_durs = ncap;
	}
	s->durs[s->ndurs].pts = pts;
	s->durs[s->ndurs].dur = dur;
	s->ndurs++;
	return 0;
}

/* The duration recorded for output pts (pts increase, so a binary
 * search); 0 when unknown. */
static int64_t dur_find(const struct seg *s, int64_t pts)
{
	size_t lo = 0, hi = s->ndurs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->durs[mid].pts < pts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ndurs && s->durs[lo].pts == pts ? s->durs[lo].dur : 0;
}

/* Sends frame (NULL: flush) to the encoder and writes what comes out. */
static int encode(struct seg *s, AVFrame *frame)
{
	int ret = avcodec_send_frame(s->enc, frame);

	if (ret < 0)
		return fail_av(s, VSEG_E_ENCODE, "encode", ret);
	for (;;) {
		ret = avcodec_receive_packet(s->enc, s->opkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return fail_av(s, VSEG_E_ENCODE, "encode", ret);
		if (s->opkt->duration <= 0)
			s->opkt->duration = dur_find(s, s->opkt->pts);
		if (s->opkt->pts != AV_NOPTS_VALUE &&
		    s->opkt->pts + s->opkt->duration > s->out_end_pts)
			s->out_end_pts = s->opkt->pts + s->opkt->duration;
		s->opkt->stream_index = s->ost->index;
		av_packet_rescale_ts(s->opkt, s->enc->time_base, s->ost->time_base);
		s->res->bytes += s->opkt->size;
		s->res->frames++;
		ret = av_interleaved_write_frame(s->out, s->opkt);
		if (ret < 0) {
			char what[PATH_MAX + 16];
			snprintf(what, sizeof(what), "write \"%s\"", s->tmp);
			return fail_av(s, VSEG_E_OUTPUT, what, ret);
		}
	}
}

/* Encodes the pending filtered frame, which lasts dur (sink tb). */
static int encode_pending(struct seg *s, int64_t dur)
{
	AVFrame *f = s->pending;
	int64_t out_pts = f->pts - s->offset;

	if (dur <= 0)
		dur = 1;
	f->pts = av_rescale_q(out_pts, s->sink_tb, s->enc->time_base);
	dur = av_rescale_q(dur, s->sink_tb, s->enc->time_base);
	if (dur <= 0)
		dur = 1;
	if (s->ndurs > 0 && f->pts <= s->durs[s->ndurs - 1].pts)
		return fail(s, VSEG_E_FILTER,
		            "the filter graph's output timestamps do not increase (pts %" PRId64
		            " after %" PRId64 ")",
		            f->pts, s->durs[s->ndurs - 1].pts);
	if (dur_push(s, f->pts, dur) < 0)
		return fail(s, VSEG_E_NOMEM, "out of memory");
	/* The first picture of the segment is a keyframe (an IDR with
	 * forced-idr), whatever the encoder's GOP logic would do. */
	f->pict_type = s->sent == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	f->pkt_duration = dur;
	s->sent++;
	int ret = encode(s, f);
	av_frame_unref(f);
	s->have_pending = 0;
	return ret;
}

/* Takes one frame out of the sink into the pending slot, encoding the
 * frame that was there. */
static int on_filtered(struct seg *s, AVFrame *f)
{
	int ret;

	if (f->pts == AV_NOPTS_VALUE)
		return fail(s, VSEG_E_FILTER, "the filter graph's output has no timestamps");
	if (s->enc == NULL) {
		ret = open_output(s, f);
		if (ret < 0)
			return ret;
	}
	if (!s->offset_set) {
		/* A graph that rebases time (setpts=PTS-STARTPTS) starts
		 * before start: take its first frame as 0 then. */
		if (f->pts < s->offset)
			s->offset = f->pts;
		s->offset_set = 1;
	}
	if (s->have_pending) {
		ret = encode_pending(s, f->pts - s->pending->pts);
		if (ret < 0)
			return ret;
	}
	av_frame_move_ref(s->pending, f);
	s->have_pending = 1;
	return 0;
}

static int drain_sink(struct seg *s)
{
	for (;;) {
		int ret = av_buffersink_get_frame(s->sink, s->filt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return fail_av(s, VSEG_E_FILTER, "filter graph", ret);
		ret = on_filtered(s, s->filt);
		av_frame_unref(s->filt);
		if (ret < 0)
			return ret;
	}
}

/* ==== filter graph ==== */

/*
 * The first filter named in desc that libavfilter does not have, copied
 * into name; 0 when every name is known. avfilter_graph_parse_ptr says
 * only "Invalid argument" for it (the name goes to av_log), and a user who
 * mistyped a filter wants the name. A light scan of the graph syntax:
 * chains split at ';', filters at ',', [labels] skipped, quotes and
 * backslash escapes in arguments honoured.
 */
static int unknown_filter(const char *desc, char *name, size_t size)
{
	const char *p = desc;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',' || *p == ';')
			p++;
		while (*p == '[') {
			while (*p != '\0' && *p != ']')
				p++;
			if (*p == ']')
				p++;
			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
		}
		size_t n = 0;
		while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
		       (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
			n++;
		if (n > 0 && n < size) {
			memcpy(name, p, n);
			name[n] = '\0';
			if (avfilter_get_by_name(name) == NULL)
				return 1;
		}
		p += n;
		/* To the end of this filter's arguments and output labels. */
		int quoted = 0;
		while (*p != '\0' && (quoted || (*p != ',' && *p != ';'))) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '\'')
				quoted = !quoted;
			p++;
		}
	}
	return 0;
}

static int open_graph(struct seg *s, const AVFrame *f)
{
	const char *desc =
	    s->req->filters != NULL && s->req->filters[0] != '\0' ? s->req->filters : "null";
	const AVFilter *buffersrc = avfilter_get_by_name("buffer");
	const AVFilter *buffersink = avfilter_get_by_name("buffersink");
	AVFilterInOut *outputs = avfilter_inout_alloc();
	AVFilterInOut *inputs = avfilter_inout_alloc();
	AVRational tb = s->st->time_base;
	AVRational sar = f->sample_aspect_ratio;
	char args[512], what[4200];
	int ret;

	s->graph = avfilter_graph_alloc();
	if (s->graph == NULL || outputs == NULL || inputs == NULL || buffersrc == NULL ||
	    buffersink == NULL) {
		ret = fail(s, VSEG_E_NOMEM, "out of memory");
		goto out;
	}
	s->graph->nb_threads = s->req->filter_threads;
	if (sar.num <= 0 || sar.den <= 0)
		sar = (AVRational){0, 1};
	snprintf(args, sizeof(args),
	         "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", f->width,
	         f->height, f->format, tb.num, tb.den, sar.num, sar.den);
	AVRational fr = s->st->avg_frame_rate.num > 0 ? s->st->avg_frame_rate : s->st->r_frame_rate;
	if (fr.num > 0 && fr.den > 0) {
		size_t n = strlen(args);
		snprintf(args + n, sizeof(args) - n, ":frame_rate=%d/%d", fr.num, fr.den);
	}
	ret = avfilter_graph_create_filter(&s->src, buffersrc, "in", args, NULL, s->graph);
	if (ret < 0) {
		ret = fail_av(s, VSEG_E_FILTER, "filter graph source", ret);
		goto out;
	}
	ret = avfilter_graph_create_filter(&s->sink, buffersink, "out", NULL, NULL, s->graph);
	if (ret < 0) {
		ret = fail_av(s, VSEG_E_FILTER, "filter graph sink", ret);
		goto out;
	}
	/* The sink offers the encoder's pixel formats, so the graph converts
	 * once, where the user's filters end (as the ffmpeg tool does). */
	const char *name = s->req->encoder.codec != NULL && s->req->encoder.codec[0] != '\0'
	                       ? s->req->encoder.codec
	                       : "libx264";
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	if (codec != NULL && codec->pix_fmts != NULL) {
		ret = av_opt_set_int_list(s->sink, "pix_fmts", codec->pix_fmts, AV_PIX_FMT_NONE,
		                          AV_OPT_SEARCH_CHILDREN);
		if (ret < 0) {
			ret = fail_av(s, VSEG_E_FILTER, "filter graph sink formats", ret);
			goto out;
		}
	}
	outputs->name = av_strdup("in");
	outputs->filter_ctx = s->src;
	outputs->pad_idx = 0;
	outputs->next = NULL;
	inputs->name = av_strdup("out");
	inputs->filter_ctx = s->sink;
	inputs->pad_idx = 0;
	inputs->next = NULL;
	if (outputs->name == NULL || inputs->name == NULL) {
		ret = fail(s, VSEG_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "filter graph \"%s\"", desc);
	ret = avfilter_graph_parse_ptr(s->graph, desc, &inputs, &outputs, NULL);
	if (ret < 0) {
		char unknown[64];
		if (unknown_filter(desc, unknown, sizeof(unknown)))
			ret = fail(s, VSEG_E_FILTER, "%s: no such filter: \"%s\"", what, unknown);
		else
			ret = fail_av(s, VSEG_E_FILTER, what, ret);
		goto out;
	}
	ret = avfilter_graph_config(s->graph, NULL);
	if (ret < 0) {
		ret = fail_av(s, VSEG_E_FILTER, what, ret);
		goto out;
	}
	if (av_buffersink_get_type(s->sink) != AVMEDIA_TYPE_VIDEO) {
		ret = fail(s, VSEG_E_FILTER, "%s: its output is not video", what);
		goto out;
	}
	s->sink_tb = av_buffersink_get_time_base(s->sink);
	s->offset = av_rescale_q(s->req->start_pts, s->st->time_base, s->sink_tb);
	s->seg_len =
	    s->req->end_pts == VSEG_END_OPEN
	        ? INT64_MAX
	        : av_rescale_q(s->req->end_pts - s->req->start_pts, s->st->time_base, s->sink_tb);
	ret = 0;
out:
	avfilter_inout_free(&inputs);
	avfilter_inout_free(&outputs);
	return ret;
}

/* ==== the frame loop ==== */

/* A decoded frame: kept when its pts lies in [start, end). */
static int on_decoded(struct seg *s, AVFrame *f)
{
	const struct vseg_request *req = s->req;
	int64_t pts = f->best_effort_timestamp;
	int ret;

	if (pts == AV_NOPTS_VALUE)
		pts = s->last_pts != AV_NOPTS_VALUE
		          ? s->last_pts + (s->last_src_dur > 0 ? s->last_src_dur : 1)
		          : 0;
	if (s->last_pts != AV_NOPTS_VALUE && pts > s->last_pts)
		s->last_src_dur = pts - s->last_pts;
	if (f->pkt_duration > 0)
		s->last_src_dur = f->pkt_duration;
	s->last_pts = pts;
	if (pts < req->start_pts)
		return 0;
	if (pts >= req->end_pts) {
		s->done = 1;
		return 0;
	}
	struct vseg_frame row = {.index = s->res->frames_in, .pts = pts};
	struct va_measures m = {NAN, NAN, NAN};
	row.pts_ms = av_rescale_q_rnd(pts, s->st->time_base, (AVRational){1, 1000},
	                              AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
	/* No analysis: no conversion to gray either. */
	ret = req->analysis != 0 ? measure(s, f, &m) : 0;
	if (ret < 0)
		return ret;
	row.mean_luma = m.mean_luma;
	row.motion = m.motion;
	row.scene_score = m.scene_score;
	if (req->on_frame != NULL && req->on_frame(req->frame_arg, &row) != 0)
		return fail(s, VSEG_E_CALLBACK,
		            "the frame callback stopped the segment at frame %" PRId64, row.index);
	if (f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT))
		s->res->concealed++;
	if (s->res->frames_in == 0)
		s->res->first_pts = pts;
	s->res->last_pts = pts;
	s->res->frames_in++;

	if (s->graph == NULL) {
		ret = open_graph(s, f);
		if (ret < 0)
			return ret;
	}
	f->pts = pts;
	f->pict_type = AV_PICTURE_TYPE_NONE;
	ret = av_buffersrc_add_frame_flags(s->src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
	if (ret < 0)
		return fail_av(s, VSEG_E_FILTER, "filter graph input", ret);
	return drain_sink(s);
}

static int receive_frames(struct seg *s)
{
	for (;;) {
		int ret = avcodec_receive_frame(s->dec, s->frame);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret == AVERROR_INVALIDDATA) {
			/* Frame threads report a bad packet here. */
			s->res->corrupt_packets++;
			continue;
		}
		if (ret < 0)
			return fail_av(s, VSEG_E_DECODE, "decode", ret);
		ret = s->done ? 0 : on_decoded(s, s->frame);
		av_frame_unref(s->frame);
		if (ret < 0)
			return ret;
	}
}

static int decode_all(struct seg *s)
{
	int bad_reads = 0, ret;

	while (!s->done) {
		if (cancelled(s))
			return fail(s, VSEG_E_CANCELLED, "cancelled");
		ret = s->have_pkt ? 0 : video_timing_read(&s->vt, s->pkt);
		s->have_pkt = 0;
		if (ret == AVERROR_EOF)
			break;
		if (ret == AVERROR_INVALIDDATA && ++bad_reads < MAX_BAD_READS) {
			s->res->corrupt_packets++;
			continue;
		}
		if (ret < 0) {
			if (cancelled(s))
				return fail(s, VSEG_E_CANCELLED, "cancelled");
			char what[PATH_MAX + 16];
			snprintf(what, sizeof(what), "read \"%s\"", s->req->source);
			return fail_av(s, VSEG_E_SOURCE, what, ret);
		}
		bad_reads = 0;
		ret = avcodec_send_packet(s->dec, s->pkt);
		av_packet_unref(s->pkt);
		if (ret == AVERROR_INVALIDDATA) {
			s->res->corrupt_packets++;
		} else if (ret < 0 && ret != AVERROR(EAGAIN)) {
			return fail_av(s, VSEG_E_DECODE, "decode", ret);
		}
		ret = receive_frames(s);
		if (ret < 0)
			return ret;
	}
	if (!s->done) {
		/* End of input: the frames the decoder still holds. */
		ret = avcodec_send_packet(s->dec, NULL);
		if (ret < 0 && ret != AVERROR_EOF)
			return fail_av(s, VSEG_E_DECODE, "decode", ret);
		ret = receive_frames(s);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The graph's end, the last frame and the encoder's delay; then the
 * trailer, fsync and the rename that publishes the file. */
static int finish(struct seg *s)
{
	char what[2 * PATH_MAX + 32];
	int ret = av_buffersrc_add_frame_flags(s->src, NULL, 0);

	if (ret < 0)
		return fail_av(s, VSEG_E_FILTER, "filter graph input", ret);
	ret = drain_sink(s);
	if (ret < 0)
		return ret;
	if (s->have_pending) {
		int64_t out_pts = s->pending->pts - s->offset;
		int64_t dur = 0;
		/* Up to end when a frame at or past end was seen (the next
		 * segment starts there); at the end of the stream the last
		 * frame keeps its own duration (split's last end is one tick
		 * past the last pts, not a frame past it). */
		if (s->done && s->seg_len != INT64_MAX && s->seg_len > out_pts)
			dur = s->seg_len - out_pts;
		else if (s->last_src_dur > 0)
			dur = av_rescale_q(s->last_src_dur, s->st->time_base, s->sink_tb);
		else if (s->ndurs > 0)
			dur =
			    av_rescale_q(s->durs[s->ndurs - 1].dur, s->enc->time_base, s->sink_tb);
		ret = encode_pending(s, dur);
		if (ret < 0)
			return ret;
	}
	if (s->enc == NULL)
		return fail(s, VSEG_E_FILTER, "the filter graph produced no frame");
	ret = encode(s, NULL);
	if (ret < 0)
		return ret;
	ret = av_write_trailer(s->out);
	if (ret < 0) {
		snprintf(what, sizeof(what), "finish \"%s\"", s->tmp);
		return fail_av(s, VSEG_E_OUTPUT, what, ret);
	}
	ret = avio_closep(&s->out->pb);
	if (ret < 0) {
		snprintf(what, sizeof(what), "close \"%s\"", s->tmp);
		return fail_av(s, VSEG_E_OUTPUT, what, ret);
	}
	/* Durable before it is visible: data first, then the name. */
	if (fsync_path(s->tmp, O_RDONLY) != 0)
		return fail(s, VSEG_E_OUTPUT, "fsync \"%s\": %s", s->tmp, strerror(errno));
	if (rename(s->tmp, s->path) != 0)
		return fail(s, VSEG_E_OUTPUT, "rename \"%s\" to \"%s\": %s", s->tmp, s->path,
		            strerror(errno));
	s->tmp_made = 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", s->path);
	if (fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY) != 0)
		return fail(s, VSEG_E_OUTPUT, "fsync the directory of \"%s\": %s", s->path,
		            strerror(errno));
	s->res->duration_ms =
	    av_rescale_q(s->out_end_pts, s->enc->time_base, (AVRational){1, 1000});
	s->res->width = s->enc->width;
	s->res->height = s->enc->height;
	struct stat sb;
	if (stat(s->path, &sb) == 0)
		s->res->bytes = sb.st_size;
	return 0;
}

static void seg_free(struct seg *s)
{
	if (s->out != NULL) {
		if (s->out->pb != NULL)
			avio_closep(&s->out->pb);
		avformat_free_context(s->out);
	}
	if (s->tmp_made)
		(void)unlink(s->tmp);
	avcodec_free_context(&s->enc);
	avfilter_graph_free(&s->graph);
	avcodec_free_context(&s->dec);
	video_timing_close(&s->vt);
	avformat_close_input(&s->in);
	av_packet_free(&s->pkt);
	av_packet_free(&s->opkt);
	av_frame_free(&s->frame);
	av_frame_free(&s->filt);
	av_frame_free(&s->pending);
	sws_freeContext(s->sws);
	av_free(s->gray);
	free(s->durs);
	va_free(&s->va);
}

int vseg_run(const struct vseg_request *req, struct vseg_result *res, char *errbuf,
             size_t errbuf_size)
{
	struct seg s = {.req = req, .res = res, .errbuf = errbuf, .errbuf_size = errbuf_size};
	double t0 = clock_mono_s();
	int ret;

	memset(res, 0, sizeof(*res));
	if (errbuf_size > 0)
		errbuf[0] = '\0';
	s.last_pts = AV_NOPTS_VALUE;
	va_init(&s.va);
	va_select(&s.va, req->analysis);
	if (req->source == NULL || req->output == NULL || req->output[0] == '\0')
		return fail(&s, VSEG_E_ARG, "a source and an output are required");
	if (req->end_pts <= req->start_pts)
		return fail(&s, VSEG_E_ARG, "empty time range [%" PRId64 ", %" PRId64 ")",
		            req->start_pts, req->end_pts);
	strip_file_scheme(req->output, s.path, sizeof(s.path));
	s.pkt = av_packet_alloc();
	s.opkt = av_packet_alloc();
	s.frame = av_frame_alloc();
	s.filt = av_frame_alloc();
	s.pending = av_frame_alloc();
	if (s.pkt == NULL || s.opkt == NULL || s.frame == NULL || s.filt == NULL ||
	    s.pending == NULL) {
		ret = fail(&s, VSEG_E_NOMEM, "out of memory");
		goto out;
	}
	ret = open_input(&s);
	if (ret == 0)
		ret = open_decoder(&s);
	if (ret == 0) {
		ret = seek_start(&s);
		if (ret == 0)
			ret = decode_all(&s);
	}
	if (ret == 0 && res->frames_in == 0)
		ret =
		    fail(&s, VSEG_E_EMPTY, "no frame of \"%s\" lies in [%" PRId64 ", %" PRId64 ")",
		         req->source, req->start_pts, req->end_pts);
	if (ret == 0)
		ret = finish(&s);
out:
	seg_free(&s);
	res->seconds = clock_mono_s() - t0;
	return ret;
}
