/* video_probe.c -- the packet index of a source's video stream; see
 * video_probe.h. */
#include "video_probe.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "log.h"
#include "video_timing.h"
#include "vj_spec.h"

/* Only what a VideoJob source may be: no concat:, pipe:, data: ... */
#define PROTOCOLS "file,http,https,tcp,tls,crypto"

static const char *log_job = "";

static void on_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
	static int print_prefix = 1;
	char line[1024];
	size_t n;

	if (level > av_log_get_level())
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0)
		return;
	if (level <= AV_LOG_ERROR)
		log_error("ffmpeg", "job", log_job, "text", line, NULL);
	else
		log_warn("ffmpeg", "job", log_job, "text", line, NULL);
}

void video_probe_log_to_json(const char *job)
{
	log_job = job;
	av_log_set_level(AV_LOG_WARNING);
	av_log_set_callback(on_av_log);
}

const char *video_probe_url(const char *uri)
{
	const char *path = vj_spec_file_path(uri);

	return path != NULL ? path : uri;
}

static int av_fail(char *errbuf, size_t size, const char *uri, const char *step, int err)
{
	char msg[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(err, msg, sizeof(msg));
	snprintf(errbuf, size, "%s: %s: %s", uri, step, msg);
	return -1;
}

static int push(struct video_probe *p, size_t *cap, int64_t pts, int key)
{
	if (p->npackets == *cap) {
		size_t n = *cap != 0 ? 2 * *cap : 4096;
		struct video_plan_packet *t = realloc(p->packets, n * sizeof(*t));

		if (t == NULL)
			return -1;
		p->packets = t;
		*cap = n;
	}
	p->packets[p->npackets].pts = pts;
	p->packets[p->npackets].key = key;
	p->npackets++;
	return 0;
}

/* The frames the container promises: its index's entries when it has an
 * index (they list only chunks that hold data), else the header's count.
 * An AVI capture tool records a frame it dropped as an empty chunk, which
 * the header counts but which is no frame (the demuxer neither indexes nor
 * returns it): such a file promises more in its header than it holds, yet
 * is complete. */
static int64_t frames_promised(AVStream *st)
{
	int n = avformat_index_get_entries_count(st);

	return n > 0 ? n : st->nb_frames;
}

/* Reads every packet of stream idx into p. */
static int read_index(AVFormatContext *fmt, struct video_probe *p, const char *uri, char *errbuf,
                      size_t size)
{
	AVStream *st = fmt->streams[p->stream];
	AVPacket *pkt = av_packet_alloc();
	struct video_timing vt;
	int64_t last_dur = 0, seen = 0;
	size_t cap = 0;
	int rc, last_corrupt;

	if (pkt == NULL)
		return av_fail(errbuf, size, uri, "read", AVERROR(ENOMEM));
	rc = video_timing_open(&vt, fmt, p->stream);
	if (rc < 0) {
		video_timing_close(&vt);
		av_packet_free(&pkt);
		return av_fail(errbuf, size, uri, "read", rc);
	}
	p->min_pts = INT64_MAX;
	p->max_pts = INT64_MIN;
	while ((rc = video_timing_read(&vt, pkt)) >= 0) {
		int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;

		seen++;
		p->bytes += pkt->size;
		if (pts == AV_NOPTS_VALUE) {
			p->corrupt++;
			av_packet_unref(pkt);
			continue;
		}
		if (pkt->flags & AV_PKT_FLAG_CORRUPT)
			p->corrupt++;
		if (push(p, &cap, pts, (pkt->flags & AV_PKT_FLAG_KEY) != 0) < 0) {
			video_timing_close(&vt);
			av_packet_free(&pkt);
			return av_fail(errbuf, size, uri, "read", AVERROR(ENOMEM));
		}
		if (pts < p->min_pts)
			p->min_pts = pts;
		if (pts >= p->max_pts) {
			p->max_pts = pts;
			last_dur = pkt->duration;
		}
		av_packet_unref(pkt);
	}
	last_corrupt = vt.last_corrupt;
	p->whole = vt.untimed;
	video_timing_close(&vt);
	av_packet_free(&pkt);
	if (rc != AVERROR_EOF)
		return av_fail(errbuf, size, uri, "read packets", rc);
	if (p->npackets == 0) {
		snprintf(errbuf, size, "%s: read packets: the video stream has no frames", uri);
		return -1;
	}
	/* A container whose index promises more frames than could be read has
	 * lost its end (a truncated MP4 with the index at the front). One frame
	 * of slack: AVI headers count one more than they hold. */
	int64_t promised = frames_promised(st);
	if (last_corrupt) {
		/* The data stops inside a packet: cut short, not merely damaged
		 * in places (damage is counted, and skipped by the segments). */
		snprintf(errbuf, size,
		         "%s: read packets: truncated: the file ends inside a packet after "
		         "%" PRId64 " video frames",
		         uri, seen);
		return -1;
	}
	if (promised > 0 && seen + 1 < promised) {
		snprintf(errbuf, size,
		         "%s: read packets: truncated: the index lists %" PRId64
		         " video frames, only %" PRId64 " could be read",
		         uri, promised, seen);
		return -1;
	}
	if (last_dur <= 0 && st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0)
		last_dur = av_rescale_q(1, av_inv_q(st->avg_frame_rate), st->time_base);
	p->duration_ms =
	    av_rescale_q(p->max_pts + last_dur - p->min_pts, st->time_base, (AVRational){1, 1000});
	return 0;
}

int video_probe_open(const char *uri, int timeout_ms, struct video_probe *out, char *errbuf,
                     size_t errbuf_size)
{
	AVFormatContext *fmt = NULL;
	AVDictionary *opts = NULL;
	const AVCodecParameters *par;
	char timeout[32];
	int rc, idx;

	memset(out, 0, sizeof(*out));
	snprintf(timeout, sizeof(timeout), "%lld", (long long)timeout_ms * 1000);
	av_dict_set(&opts, "rw_timeout", timeout, 0);
	av_dict_set(&opts, "protocol_whitelist", PROTOCOLS, 0);
	av_dict_set(&opts, "fflags", VIDEO_PROBE_FFLAGS, 0);
	rc = avformat_open_input(&fmt, video_probe_url(uri), NULL, &opts);
	av_dict_free(&opts);
	if (rc < 0)
		return av_fail(errbuf, errbuf_size, uri, "open", rc);
	rc = avformat_find_stream_info(fmt, NULL);
	if (rc < 0) {
		avformat_close_input(&fmt);
		return av_fail(errbuf, errbuf_size, uri, "probe", rc);
	}
	idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (idx < 0) {
		avformat_close_input(&fmt);
		return av_fail(errbuf, errbuf_size, uri, "no video stream", idx);
	}
	par = fmt->streams[idx]->codecpar;
	out->stream = idx;
	out->tb_num = fmt->streams[idx]->time_base.num;
	out->tb_den = fmt->streams[idx]->time_base.den;
	out->width = par->width;
	out->height = par->height;
	snprintf(out->codec, sizeof(out->codec), "%s", avcodec_get_name(par->codec_id));
	out->has_audio = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) >= 0;
	if (par->codec_id == AV_CODEC_ID_NONE || avcodec_find_decoder(par->codec_id) == NULL) {
		char what[96];
		char tag[AV_FOURCC_MAX_STRING_SIZE];

		av_fourcc_make_string(tag, par->codec_tag);
		snprintf(what, sizeof(what), "unsupported codec %s (tag %s)", out->codec, tag);
		avformat_close_input(&fmt);
		return av_fail(errbuf, errbuf_size, uri, what, AVERROR_DECODER_NOT_FOUND);
	}
	if (out->tb_num <= 0 || out->tb_den <= 0) {
		avformat_close_input(&fmt);
		return av_fail(errbuf, errbuf_size, uri, "no time base", AVERROR_INVALIDDATA);
	}
	rc = read_index(fmt, out, uri, errbuf, errbuf_size);
	avformat_close_input(&fmt);
	if (rc < 0)
		video_probe_free(out);
	return rc;
}

void video_probe_free(struct video_probe *p)
{
	free(p->packets);
	memset(p, 0, sizeof(*p));
}
