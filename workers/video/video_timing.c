/* video_timing.c -- video packets with their presentation times; see
 * video_timing.h. */
#include "video_timing.h"

#include <string.h>

char video_timing_vop_type(const uint8_t *data, int size)
{
	for (int i = 0; i + 4 < size; i++)
		if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 && data[i + 3] == 0xB6)
			return "IPBS"[data[i + 4] >> 6];
	return 0;
}

int video_timing_open(struct video_timing *t, AVFormatContext *fmt, int stream)
{
	const AVStream *st = fmt->streams[stream];
	int ret;

	memset(t, 0, sizeof(*t));
	t->fmt = fmt;
	t->stream = stream;
	t->last_dts = AV_NOPTS_VALUE;
	/* Without B-frames (no decoder delay) each picture is shown at its
	 * own slot, and the demuxer's times are right as they are. */
	t->reorder = st->codecpar->codec_id == AV_CODEC_ID_MPEG4 &&
	             strcmp(fmt->iformat->name, "avi") == 0 && st->codecpar->video_delay > 0;
	/* The rest of such streams: what genpts guessed is wrong for B-frames
	 * (it ignores their order), and the decoder's own times, from dts, are
	 * a full decode's; so the packets go without pts. */
	t->untimed =
	    !t->reorder && st->codecpar->video_delay > 0 &&
	    ((fmt->iformat->flags & AVFMT_NOTIMESTAMPS) || strcmp(fmt->iformat->name, "avi") == 0);
	if (!t->reorder)
		return 0;
	const AVBitStreamFilter *f = av_bsf_get_by_name("mpeg4_unpack_bframes");
	if (f == NULL)
		return AVERROR_BSF_NOT_FOUND;
	ret = av_bsf_alloc(f, &t->unpack);
	if (ret < 0)
		return ret;
	ret = avcodec_parameters_copy(t->unpack->par_in, st->codecpar);
	if (ret < 0)
		return ret;
	t->unpack->time_base_in = st->time_base;
	return av_bsf_init(t->unpack);
}

/* The demuxer's next packet of the stream with data in it. */
static int demux(struct video_timing *t, AVPacket *pkt)
{
	for (;;) {
		int ret = av_read_frame(t->fmt, pkt);

		if (ret < 0)
			return ret;
		t->last_corrupt = (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0;
		if (pkt->stream_index == t->stream && pkt->size > 0)
			return 0;
		av_packet_unref(pkt);
	}
}

/* A packet out of the filter joins the held ones; see video_timing.h for
 * the rule. held[ready], when ready < nheld, is the reference picture that
 * waits for the next one; everything after it waits with it. */
static int hold(struct video_timing *t, AVPacket *pkt)
{
	if (t->nheld == VIDEO_TIMING_HELD_MAX)
		return AVERROR(E2BIG);
	if (pkt->dts == AV_NOPTS_VALUE)
		pkt->dts = t->last_dts != AV_NOPTS_VALUE ? t->last_dts + 1 : 0;
	t->last_dts = pkt->dts;
	t->last_dur = pkt->duration;
	if (video_timing_vop_type(pkt->data, pkt->size) == 'B') {
		pkt->pts = pkt->dts;
		if (t->ready == t->nheld)
			t->ready++;
	} else {
		if (t->ready < t->nheld) {
			t->held[t->ready]->pts = pkt->dts;
			t->ready = t->nheld;
		}
		pkt->pts = AV_NOPTS_VALUE;
	}
	t->held[t->nheld] = av_packet_alloc();
	if (t->held[t->nheld] == NULL)
		return AVERROR(ENOMEM);
	av_packet_move_ref(t->held[t->nheld], pkt);
	t->nheld++;
	return 0;
}

/* The stream's end: the waiting reference picture is shown one slot past
 * the last packet. */
static void release_all(struct video_timing *t)
{
	if (t->ready < t->nheld)
		t->held[t->ready]->pts = t->last_dts + (t->last_dur > 0 ? t->last_dur : 1);
	t->ready = t->nheld;
}

static void pop(struct video_timing *t, AVPacket *pkt)
{
	av_packet_move_ref(pkt, t->held[0]);
	av_packet_free(&t->held[0]);
	memmove(t->held, t->held + 1, (size_t)(t->nheld - 1) * sizeof(t->held[0]));
	t->nheld--;
	t->ready--;
}

int video_timing_read(struct video_timing *t, AVPacket *pkt)
{
	if (!t->reorder) {
		int ret = demux(t, pkt);
		if (ret == 0 && t->untimed)
			pkt->pts = AV_NOPTS_VALUE;
		return ret;
	}
	for (;;) {
		if (t->ready > 0) {
			pop(t, pkt);
			return 0;
		}
		if (t->filter_eof) {
			if (t->nheld == 0)
				return AVERROR_EOF;
			release_all(t);
			continue;
		}
		int ret = av_bsf_receive_packet(t->unpack, pkt);
		if (ret == 0) {
			ret = hold(t, pkt);
			av_packet_unref(pkt);
			if (ret < 0)
				return ret;
			continue;
		}
		if (ret == AVERROR_EOF) {
			t->filter_eof = 1;
			continue;
		}
		if (ret != AVERROR(EAGAIN))
			return ret;
		if (t->demux_eof)
			return AVERROR_EOF; /* a filter that neither ends nor asks for more */
		ret = demux(t, pkt);
		if (ret == AVERROR_EOF) {
			t->demux_eof = 1;
			ret = av_bsf_send_packet(t->unpack, NULL);
		} else if (ret == 0) {
			ret = av_bsf_send_packet(t->unpack, pkt);
			av_packet_unref(pkt);
		}
		if (ret < 0)
			return ret;
	}
}

void video_timing_reset(struct video_timing *t)
{
	for (int i = 0; i < t->nheld; i++)
		av_packet_free(&t->held[i]);
	t->nheld = t->ready = 0;
	t->last_dts = AV_NOPTS_VALUE;
	t->demux_eof = t->filter_eof = 0;
	t->last_corrupt = 0;
	if (t->unpack != NULL)
		av_bsf_flush(t->unpack);
}

void video_timing_close(struct video_timing *t)
{
	video_timing_reset(t);
	av_bsf_free(&t->unpack);
}
