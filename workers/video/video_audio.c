/* video_audio.c -- one source audio track into assemble's output; see
 * video_audio.h. The transcode loop follows FFmpeg's
 * doc/examples/transcode.c, pulled from the muxing side: the output asks
 * for its next packet, and the track decodes and filters only as much of
 * the source as that packet needs.
 */
#include "video_audio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>

#include "err.h"

/* AAC-LC at this many bits per second per channel: 128 kb/s for stereo,
 * what the ffmpeg tool's users usually ask for. */
#define AAC_BITS_PER_CHANNEL 64000

struct video_audio {
	AVFormatContext *in; /* this track's own demuxer */
	AVStream *ist;       /* in in */
	AVFormatContext *out;
	AVStream *ost;  /* in out */
	AVPacket *next; /* the next packet to write, shifted, in tb; NULL at the end */
	AVRational tb;  /* next's time base: ist's (copy) or the encoder's */
	int64_t shift;  /* subtracted from next's timestamps (tb) */
	char name[48];  /* "source audio track N (codec)", for messages */
	int transcoded;

	/* Transcoding only. */
	AVCodecContext *dec, *enc;
	AVFilterGraph *graph;
	AVFilterContext *src, *sink;
	AVPacket *ipkt;
	AVFrame *frame, *filt;
	int64_t next_pts; /* ist tb: where a frame without pts goes */
	int in_eof;       /* the demuxer is done; the decoder was sent NULL */
	int dec_eof;      /* the decoder is drained; the graph was closed */
	int filt_eof;     /* the graph is drained; the encoder was sent NULL */
};

__attribute__((format(printf, 4, 5))) static int fail(const struct video_audio *t, char *errbuf,
                                                      size_t size, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(errbuf, size, -1, "%s: %s", t->name, msg);
}

static int fail_av(const struct video_audio *t, char *errbuf, size_t size, const char *what,
                   int err)
{
	char msg[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(err, msg, sizeof(msg));
	return fail(t, errbuf, size, "%s: %s", what, msg);
}

/* The next packet of the track from its demuxer into p: 1, or 0 at the
 * end of the source. Empty packets carry nothing to write or decode. */
static int read_source(struct video_audio *t, AVPacket *p, char *errbuf, size_t size)
{
	int rc;

	for (;;) {
		rc = av_read_frame(t->in, p);
		if (rc == AVERROR_EOF)
			return 0;
		if (rc < 0)
			return fail_av(t, errbuf, size, "read", rc);
		if (p->stream_index == t->ist->index && p->size > 0)
			return 1;
		av_packet_unref(p);
	}
}

/* Copy: the next source packet with a dts (the muxer needs one). */
static int next_copied(struct video_audio *t, char *errbuf, size_t size)
{
	int rc;

	for (;;) {
		rc = read_source(t, t->next, errbuf, size);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			av_packet_free(&t->next);
			return 0;
		}
		if (t->next->dts != AV_NOPTS_VALUE)
			return 0;
		av_packet_unref(t->next);
	}
}

/* The conversion to what the encoder takes, built from the first decoded
 * frame: its format, rate and layout are the truth, the stream's
 * parameters can be guesses. */
static int open_graph(struct video_audio *t, const AVFrame *f, char *errbuf, size_t size)
{
	const AVFilter *abuffer = avfilter_get_by_name("abuffer");
	const AVFilter *abuffersink = avfilter_get_by_name("abuffersink");
	AVFilterInOut *outputs = avfilter_inout_alloc();
	AVFilterInOut *inputs = avfilter_inout_alloc();
	char in_layout[128], out_layout[128], args[512], desc[512];
	int rc = -1;

	t->graph = avfilter_graph_alloc();
	if (t->graph == NULL || outputs == NULL || inputs == NULL || abuffer == NULL ||
	    abuffersink == NULL) {
		fail(t, errbuf, size, "convert: out of memory");
		goto out;
	}
	if (av_channel_layout_describe(&f->ch_layout, in_layout, sizeof(in_layout)) < 0 ||
	    av_channel_layout_describe(&t->enc->ch_layout, out_layout, sizeof(out_layout)) < 0) {
		fail(t, errbuf, size, "convert: cannot name the channel layout");
		goto out;
	}
	snprintf(args, sizeof(args),
	         "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
	         t->ist->time_base.num, t->ist->time_base.den, f->sample_rate,
	         av_get_sample_fmt_name(f->format), in_layout);
	rc = avfilter_graph_create_filter(&t->src, abuffer, "in", args, NULL, t->graph);
	if (rc < 0) {
		rc = fail_av(t, errbuf, size, "convert: source", rc);
		goto out;
	}
	rc = avfilter_graph_create_filter(&t->sink, abuffersink, "out", NULL, NULL, t->graph);
	if (rc < 0) {
		rc = fail_av(t, errbuf, size, "convert: sink", rc);
		goto out;
	}
	snprintf(desc, sizeof(desc),
	         "aresample=%d,aformat=sample_fmts=%s:sample_rates=%d:channel_layouts=%s",
	         t->enc->sample_rate, av_get_sample_fmt_name(t->enc->sample_fmt),
	         t->enc->sample_rate, out_layout);
	outputs->name = av_strdup("in");
	outputs->filter_ctx = t->src;
	inputs->name = av_strdup("out");
	inputs->filter_ctx = t->sink;
	if (outputs->name == NULL || inputs->name == NULL) {
		rc = fail(t, errbuf, size, "convert: out of memory");
		goto out;
	}
	rc = avfilter_graph_parse_ptr(t->graph, desc, &inputs, &outputs, NULL);
	if (rc >= 0)
		rc = avfilter_graph_config(t->graph, NULL);
	if (rc < 0) {
		rc = fail_av(t, errbuf, size, "convert", rc);
		goto out;
	}
	/* Whole frames of the encoder's size; the last one may be short,
	 * which the AAC encoder takes (AV_CODEC_CAP_SMALL_LAST_FRAME). */
	av_buffersink_set_frame_size(t->sink, (unsigned)t->enc->frame_size);
	rc = 0;
out:
	avfilter_inout_free(&inputs);
	avfilter_inout_free(&outputs);
	return rc;
}

/* Decodes one frame and pushes it into the graph, or closes the graph
 * once the decoder is drained. */
static int feed_graph(struct video_audio *t, char *errbuf, size_t size)
{
	AVFrame *f = t->frame;
	int rc;

	for (;;) {
		rc = avcodec_receive_frame(t->dec, f);
		if (rc == 0)
			break;
		if (rc == AVERROR_EOF) {
			t->dec_eof = 1;
			if (t->graph == NULL)
				return 0; /* not one frame: nothing to convert */
			rc = av_buffersrc_add_frame(t->src, NULL);
			return rc < 0 ? fail_av(t, errbuf, size, "convert", rc) : 0;
		}
		if (rc != AVERROR(EAGAIN))
			return fail_av(t, errbuf, size, "decode", rc);
		if (t->in_eof)
			return fail(t, errbuf, size, "decode: the decoder stalled at the end");
		rc = read_source(t, t->ipkt, errbuf, size);
		if (rc < 0)
			return -1;
		if (rc == 0)
			t->in_eof = 1;
		rc = avcodec_send_packet(t->dec, rc == 0 ? NULL : t->ipkt);
		av_packet_unref(t->ipkt);
		if (rc < 0)
			return fail_av(t, errbuf, size, "decode", rc);
	}
	f->pts = f->best_effort_timestamp;
	if (f->pts == AV_NOPTS_VALUE)
		f->pts = t->next_pts;
	if (f->pts != AV_NOPTS_VALUE && f->sample_rate > 0)
		t->next_pts = f->pts + av_rescale_q(f->nb_samples, (AVRational){1, f->sample_rate},
		                                    t->ist->time_base);
	/* A layout that says only how many channels (PCM in AVI, WAV):
	 * take the usual one for that count, as the ffmpeg tool does. */
	if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
		int n = f->ch_layout.nb_channels;

		av_channel_layout_uninit(&f->ch_layout);
		av_channel_layout_default(&f->ch_layout, n);
	}
	if (t->graph == NULL && open_graph(t, f, errbuf, size) < 0) {
		av_frame_unref(f);
		return -1;
	}
	rc = av_buffersrc_add_frame(t->src, f); /* takes f's data, leaves it blank */
	av_frame_unref(f);
	return rc < 0 ? fail_av(t, errbuf, size, "convert", rc) : 0;
}

/* Gives the encoder one converted frame, or NULL once the graph is
 * drained. */
static int feed_encoder(struct video_audio *t, char *errbuf, size_t size)
{
	int rc;

	for (;;) {
		if (t->graph != NULL)
			rc = av_buffersink_get_frame(t->sink, t->filt);
		else /* no frame decoded yet, or none at all */
			rc = t->dec_eof ? AVERROR_EOF : AVERROR(EAGAIN);
		if (rc >= 0) {
			t->filt->pts = av_rescale_q(
			    t->filt->pts, av_buffersink_get_time_base(t->sink), t->enc->time_base);
			rc = avcodec_send_frame(t->enc, t->filt);
			av_frame_unref(t->filt);
			return rc < 0 ? fail_av(t, errbuf, size, "encode aac", rc) : 0;
		}
		if (rc == AVERROR_EOF)
			break;
		if (rc != AVERROR(EAGAIN))
			return fail_av(t, errbuf, size, "convert", rc);
		if (t->dec_eof)
			return fail(t, errbuf, size, "convert: the graph stalled at the end");
		if (feed_graph(t, errbuf, size) < 0)
			return -1;
	}
	t->filt_eof = 1;
	rc = avcodec_send_frame(t->enc, NULL);
	return rc < 0 ? fail_av(t, errbuf, size, "encode aac", rc) : 0;
}

/* Transcode: the encoder's next packet. */
static int next_encoded(struct video_audio *t, char *errbuf, size_t size)
{
	int rc;

	for (;;) {
		rc = avcodec_receive_packet(t->enc, t->next);
		if (rc == 0)
			return 0;
		if (rc == AVERROR_EOF) {
			av_packet_free(&t->next);
			return 0;
		}
		if (rc != AVERROR(EAGAIN))
			return fail_av(t, errbuf, size, "encode aac", rc);
		if (t->filt_eof)
			return fail(t, errbuf, size, "encode aac: the encoder stalled at the end");
		if (feed_encoder(t, errbuf, size) < 0)
			return -1;
	}
}

/* Reads next ahead and shifts it onto the output's timeline. */
static int advance(struct video_audio *t, char *errbuf, size_t size)
{
	int rc = t->transcoded ? next_encoded(t, errbuf, size) : next_copied(t, errbuf, size);

	if (rc < 0 || t->next == NULL)
		return rc;
	if (t->next->dts != AV_NOPTS_VALUE)
		t->next->dts -= t->shift;
	if (t->next->pts != AV_NOPTS_VALUE)
		t->next->pts -= t->shift;
	return 0;
}

/* The AAC encoder's rate for a source at rate: the same when AAC has it,
 * else the nearest (the higher of two as near), as the ffmpeg tool picks. */
static int aac_rate(const AVCodec *aac, int rate)
{
	int best = 0;

	if (aac->supported_samplerates == NULL)
		return rate;
	for (const int *r = aac->supported_samplerates; *r != 0; r++) {
		int64_t d = llabs((int64_t)*r - rate), bd = llabs((int64_t)best - rate);

		if (best == 0 || d < bd || (d == bd && *r > best))
			best = *r;
	}
	return best;
}

/* The AAC encoder's layout for a source with layout src: the same when
 * AAC has it, else AAC's with as many channels, else stereo. */
static int aac_layout(const AVCodec *aac, const AVChannelLayout *src, AVChannelLayout *out)
{
	const AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
	const AVChannelLayout *pick = NULL;
	AVChannelLayout want;
	int rc;

	/* Only a channel count: the usual layout for it. */
	if (src->order == AV_CHANNEL_ORDER_UNSPEC || src->nb_channels <= 0)
		av_channel_layout_default(&want, src->nb_channels > 0 ? src->nb_channels : 2);
	else if (av_channel_layout_copy(&want, src) < 0)
		return AVERROR(ENOMEM);
	if (aac->ch_layouts == NULL) {
		*out = want; /* any layout will do: out takes want's */
		return 0;
	}
	for (const AVChannelLayout *l = aac->ch_layouts; l->nb_channels != 0; l++) {
		if (av_channel_layout_compare(l, &want) == 0) {
			pick = l;
			break;
		}
		if (pick == NULL && l->nb_channels == want.nb_channels)
			pick = l;
	}
	rc = av_channel_layout_copy(out, pick != NULL ? pick : &stereo);
	av_channel_layout_uninit(&want);
	return rc;
}

static int open_transcode(struct video_audio *t, char *errbuf, size_t size)
{
	const AVCodecParameters *par = t->ist->codecpar;
	const AVCodec *dcodec = avcodec_find_decoder(par->codec_id);
	const AVCodec *aac = avcodec_find_encoder_by_name("aac");
	int rc;

	if (avformat_query_codec(t->out->oformat, AV_CODEC_ID_AAC, FF_COMPLIANCE_NORMAL) != 1)
		return fail(t, errbuf, size,
		            "a %s output carries neither this codec nor aac; choose an "
		            "output.uri ending in .mkv",
		            t->out->oformat->name);
	if (dcodec == NULL)
		return fail(t, errbuf, size, "no decoder for this codec");
	if (aac == NULL)
		return fail(t, errbuf, size, "encode aac: FFmpeg has no aac encoder");
	if (par->sample_rate <= 0)
		return fail(t, errbuf, size, "the source gives no sample rate");
	t->dec = avcodec_alloc_context3(dcodec);
	t->enc = avcodec_alloc_context3(aac);
	t->ipkt = av_packet_alloc();
	t->frame = av_frame_alloc();
	t->filt = av_frame_alloc();
	if (t->dec == NULL || t->enc == NULL || t->ipkt == NULL || t->frame == NULL ||
	    t->filt == NULL)
		return fail(t, errbuf, size, "out of memory");
	rc = avcodec_parameters_to_context(t->dec, par);
	if (rc < 0)
		return fail_av(t, errbuf, size, "decode", rc);
	t->dec->pkt_timebase = t->ist->time_base;
	rc = avcodec_open2(t->dec, dcodec, NULL);
	if (rc < 0)
		return fail_av(t, errbuf, size, "decode", rc);

	t->enc->sample_fmt = aac->sample_fmts != NULL ? aac->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
	t->enc->sample_rate = aac_rate(aac, par->sample_rate);
	rc = aac_layout(aac, &par->ch_layout, &t->enc->ch_layout);
	if (rc < 0)
		return fail_av(t, errbuf, size, "encode aac", rc);
	t->enc->bit_rate = (int64_t)AAC_BITS_PER_CHANNEL * t->enc->ch_layout.nb_channels;
	t->enc->time_base = (AVRational){1, t->enc->sample_rate};
	if (t->out->oformat->flags & AVFMT_GLOBALHEADER)
		t->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	rc = avcodec_open2(t->enc, aac, NULL);
	if (rc < 0)
		return fail_av(t, errbuf, size, "encode aac", rc);
	/* The encoder's parameters, its priming (initial_padding) included:
	 * the MP4 muxer turns that into an edit list, so players skip it. */
	rc = avcodec_parameters_from_context(t->ost->codecpar, t->enc);
	if (rc < 0)
		return fail_av(t, errbuf, size, "encode aac", rc);
	t->ost->time_base = t->enc->time_base;
	t->tb = t->enc->time_base;
	t->next_pts = AV_NOPTS_VALUE;
	t->transcoded = 1;
	return 0;
}

static int open_copy(struct video_audio *t, char *errbuf, size_t size)
{
	int rc = avcodec_parameters_copy(t->ost->codecpar, t->ist->codecpar);

	if (rc < 0)
		return fail_av(t, errbuf, size, "copy", rc);
	t->ost->codecpar->codec_tag = 0; /* the source container's tag may mean nothing here */
	t->ost->time_base = t->ist->time_base;
	t->tb = t->ist->time_base;
	return 0;
}

int video_audio_open(AVFormatContext **src, int stream, AVFormatContext *out, int64_t zero,
                     AVRational zero_tb, struct video_audio **track, char *errbuf,
                     size_t errbuf_size)
{
	struct video_audio *t = calloc(1, sizeof(*t));
	static const char *const keep[] = {"language", "title"};
	int rc;

	*track = NULL;
	if (t == NULL) {
		avformat_close_input(src);
		return err_set(errbuf, errbuf_size, -1, "source audio track %d: out of memory",
		               stream);
	}
	t->in = *src;
	*src = NULL;
	t->out = out;
	t->ist = t->in->streams[stream];
	snprintf(t->name, sizeof(t->name), "source audio track %d (%s)", stream,
	         avcodec_get_name(t->ist->codecpar->codec_id));
	/* This demuxer serves this track alone. */
	for (unsigned i = 0; i < t->in->nb_streams; i++)
		if ((int)i != stream)
			t->in->streams[i]->discard = AVDISCARD_ALL;
	t->ost = avformat_new_stream(out, NULL);
	t->next = av_packet_alloc();
	if (t->ost == NULL || t->next == NULL) {
		rc = fail(t, errbuf, errbuf_size, "out of memory");
		goto fail;
	}
	if (avformat_query_codec(out->oformat, t->ist->codecpar->codec_id, FF_COMPLIANCE_NORMAL) ==
	    1)
		rc = open_copy(t, errbuf, errbuf_size);
	else
		rc = open_transcode(t, errbuf, errbuf_size);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const AVDictionaryEntry *e = av_dict_get(t->ist->metadata, keep[i], NULL, 0);

		if (e != NULL && av_dict_set(&t->ost->metadata, keep[i], e->value, 0) < 0) {
			rc = fail(t, errbuf, errbuf_size, "out of memory");
			goto fail;
		}
	}
	t->ost->disposition = t->ist->disposition;
	t->shift = av_rescale_q(zero, zero_tb, t->tb);
	if (advance(t, errbuf, errbuf_size) < 0)
		goto fail;
	*track = t;
	return 0;
fail:
	video_audio_free(t);
	return -1;
}

int video_audio_transcoded(const struct video_audio *track)
{
	return track->transcoded;
}

int video_audio_write_until(struct video_audio *t, int64_t until, char *errbuf, size_t errbuf_size)
{
	int rc;

	while (t->next != NULL) {
		AVPacket *p = t->next;
		int64_t ts = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;

		if (until != INT64_MAX && av_rescale_q(ts, t->tb, AV_TIME_BASE_Q) >= until)
			return 0;
		p->stream_index = t->ost->index;
		p->pos = -1;
		av_packet_rescale_ts(p, t->tb, t->ost->time_base);
		rc = av_interleaved_write_frame(t->out, p); /* takes p's data, leaves it blank */
		if (rc < 0)
			return fail_av(t, errbuf, errbuf_size, "write", rc);
		if (advance(t, errbuf, errbuf_size) < 0)
			return -1;
	}
	return 0;
}

void video_audio_free(struct video_audio *track)
{
	if (track == NULL)
		return;
	av_packet_free(&track->next);
	av_packet_free(&track->ipkt);
	av_frame_free(&track->frame);
	av_frame_free(&track->filt);
	avfilter_graph_free(&track->graph);
	avcodec_free_context(&track->dec);
	avcodec_free_context(&track->enc);
	avformat_close_input(&track->in);
	free(track);
}
