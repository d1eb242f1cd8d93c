/* video_assemble.c -- `sluice-worker assemble`; see video_assemble.h. */
#include "video_assemble.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#include "log.h"
#include "video_db.h"
#include "video_probe.h"
#include "vj_progress.h"
#include "vj_spec.h"
#include "vj_task.h"

#define ERR_MAX 2048
#define PROBE_TIMEOUT_MS 15000

struct audio_in {
	AVFormatContext *fmt;
	int stream;     /* in fmt; -1: no audio */
	AVStream *out;  /* in the output */
	AVPacket *next; /* read ahead; NULL at the end */
	int64_t shift;  /* subtracted from its timestamps (audio tb) */
};

struct assemble {
	struct vj_spec spec;
	char job[VJ_TASK_JOB_MAX + 1];
	PGconn *pg;
	redisContext *redis;
	struct video_db_job row;
	struct video_db_segment *segs;
	size_t nsegs;
	char final_path[VIDEO_DB_URI_MAX + 1];
	char tmp_path[VIDEO_DB_URI_MAX + 64];
	AVFormatContext *out;
	AVStream *vout;
	struct audio_in audio;
	int64_t frames_written, dts_fixed;
	int not_ready;
};

/* snprintf into errbuf; long paths are cut, which is fine for a message. */
__attribute__((format(printf, 3, 4))) static int errf(char *errbuf, size_t size, const char *fmt,
                                                      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, size, fmt, ap);
	va_end(ap);
	return -1;
}

static int av_fail(char *errbuf, size_t size, const char *what, int err)
{
	char msg[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(err, msg, sizeof(msg));
	return errf(errbuf, size, "%s: %s", what, msg);
}

/* The plan, and whether every segment is done. */
static int load_plan(struct assemble *a, char *errbuf, size_t size)
{
	int64_t total, done, failed;
	int found = video_db_read_plan(a->pg, a->job, &a->row, &a->segs, &a->nsegs, errbuf, size);

	if (found < 0)
		return -1;
	if (found == 0) {
		snprintf(errbuf, size, "no plan recorded in PostgreSQL: run split first");
		a->not_ready = 1;
		return -1;
	}
	if (video_db_segment_counts(a->pg, a->job, &total, &done, &failed, errbuf, size) < 0)
		return -1;
	if (failed > 0) {
		for (size_t i = 0; i < a->nsegs; i++)
			if (strcmp(a->segs[i].state, "failed") == 0) {
				snprintf(errbuf, size, "segment %" PRId32 " failed",
				         a->segs[i].idx);
				return -1;
			}
	}
	if (done < total || total != a->row.segments_total) {
		snprintf(errbuf, size, "not ready: %" PRId64 " of %" PRId32 " segments done", done,
		         a->row.segments_total);
		a->not_ready = 1;
		return -1;
	}
	return 0;
}

static int audio_read(struct audio_in *in, char *errbuf, size_t size)
{
	int rc;

	for (;;) {
		rc = av_read_frame(in->fmt, in->next);
		if (rc == AVERROR_EOF) {
			av_packet_free(&in->next);
			return 0;
		}
		if (rc < 0)
			return av_fail(errbuf, size, "source audio: read", rc);
		if (in->next->stream_index == in->stream && in->next->size > 0 &&
		    in->next->dts != AV_NOPTS_VALUE)
			return 0;
		av_packet_unref(in->next);
	}
}

/* Writes the source's audio packets that come before time t (AV_TIME_BASE
 * units of the output timeline); INT64_MAX: all that is left. */
static int audio_until(struct assemble *a, int64_t t, char *errbuf, size_t size)
{
	struct audio_in *in = &a->audio;
	AVStream *ist;
	int rc;

	if (in->stream < 0)
		return 0;
	ist = in->fmt->streams[in->stream];
	while (in->next != NULL) {
		AVPacket *p = in->next;
		int64_t dts = p->dts - in->shift;

		if (t != INT64_MAX && av_rescale_q(dts, ist->time_base, AV_TIME_BASE_Q) >= t)
			return 0;
		p->dts = dts;
		if (p->pts != AV_NOPTS_VALUE)
			p->pts -= in->shift;
		p->stream_index = in->out->index;
		p->pos = -1;
		av_packet_rescale_ts(p, ist->time_base, in->out->time_base);
		rc = av_interleaved_write_frame(a->out, p);
		if (rc < 0)
			return av_fail(errbuf, size, "write audio", rc);
		if (audio_read(in, errbuf, size) < 0)
			return -1;
	}
	return 0;
}

static int open_audio(struct assemble *a, char *errbuf, size_t size)
{
	struct audio_in *in = &a->audio;
	AVDictionary *opts = NULL;
	AVStream *ist;
	int rc;

	in->stream = -1;
	av_dict_set(&opts, "rw_timeout", "15000000", 0);
	av_dict_set(&opts, "protocol_whitelist", "file,http,https,tcp,tls,crypto", 0);
	rc = avformat_open_input(&in->fmt, video_probe_url(a->row.source), NULL, &opts);
	av_dict_free(&opts);
	if (rc < 0)
		return av_fail(errbuf, size, "source: open", rc);
	rc = avformat_find_stream_info(in->fmt, NULL);
	if (rc < 0)
		return av_fail(errbuf, size, "source: probe", rc);
	rc = av_find_best_stream(in->fmt, AVMEDIA_TYPE_AUDIO, -1, a->row.stream, NULL, 0);
	if (rc < 0)
		return 0; /* no audio: video only */
	in->stream = rc;
	ist = in->fmt->streams[rc];
	if (avformat_query_codec(a->out->oformat, ist->codecpar->codec_id, FF_COMPLIANCE_NORMAL) !=
	    1) {
		snprintf(errbuf, size,
		         "source audio: %s cannot be stream-copied into a %s output; choose "
		         "an output.uri ending in .mkv",
		         avcodec_get_name(ist->codecpar->codec_id), a->out->oformat->name);
		return -1;
	}
	in->out = avformat_new_stream(a->out, NULL);
	if (in->out == NULL || avcodec_parameters_copy(in->out->codecpar, ist->codecpar) < 0)
		return av_fail(errbuf, size, "output: audio stream", AVERROR(ENOMEM));
	in->out->codecpar->codec_tag = 0;
	in->out->time_base = ist->time_base;
	/* Same shift as the video: the source's first video frame is 0. */
	in->shift = av_rescale_q(a->segs[0].start_pts, (AVRational){a->row.tb_num, a->row.tb_den},
	                         ist->time_base);
	/* Undo what find_stream_info read ahead: start from the top. */
	rc = av_seek_frame(in->fmt, -1, INT64_MIN, AVSEEK_FLAG_BACKWARD);
	if (rc < 0)
		log_warn("cannot rewind the source for its audio", "job", a->job, NULL);
	in->next = av_packet_alloc();
	if (in->next == NULL)
		return av_fail(errbuf, size, "source audio", AVERROR(ENOMEM));
	return audio_read(in, errbuf, size);
}

/* Opens segment i's file with one video stream. */
static int open_segment(struct assemble *a, size_t i, AVFormatContext **fmt, char *errbuf,
                        size_t size)
{
	const char *path = vj_spec_file_path(a->segs[i].output);
	char what[VIDEO_DB_URI_MAX + 64];
	int rc;

	snprintf(what, sizeof(what), "segment %zu (%s)", i, a->segs[i].output);
	if (path == NULL) {
		errf(errbuf, size, "%s: not a file:// URI", what);
		return -1;
	}
	rc = avformat_open_input(fmt, path, NULL, NULL);
	if (rc < 0)
		return av_fail(errbuf, size, what, rc);
	rc = avformat_find_stream_info(*fmt, NULL);
	if (rc < 0)
		return av_fail(errbuf, size, what, rc);
	rc = av_find_best_stream(*fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (rc < 0)
		return av_fail(errbuf, size, what, rc);
	return rc;
}

static int open_output(struct assemble *a, AVFormatContext *first, int vidx, char *errbuf,
                       size_t size)
{
	const AVOutputFormat *of = av_guess_format(NULL, a->final_path, NULL);
	AVStream *ist = first->streams[vidx];
	int rc;

	if (of == NULL) {
		snprintf(errbuf, size, "output %s: no container for this extension",
		         a->spec.output_uri);
		return -1;
	}
	rc = avformat_alloc_output_context2(&a->out, of, NULL, a->tmp_path);
	if (rc < 0)
		return av_fail(errbuf, size, "output", rc);
	a->vout = avformat_new_stream(a->out, NULL);
	if (a->vout == NULL || avcodec_parameters_copy(a->vout->codecpar, ist->codecpar) < 0)
		return av_fail(errbuf, size, "output: video stream", AVERROR(ENOMEM));
	a->vout->codecpar->codec_tag = 0;
	a->vout->time_base = ist->time_base;
	a->vout->avg_frame_rate = ist->avg_frame_rate;
	return 0;
}

static int write_header(struct assemble *a, char *errbuf, size_t size)
{
	AVDictionary *opts = NULL;
	int rc;

	if (strcmp(a->out->oformat->name, "mp4") == 0 || strcmp(a->out->oformat->name, "mov") == 0)
		av_dict_set(&opts, "movflags", "+faststart", 0);
	rc = avio_open(&a->out->pb, a->tmp_path, AVIO_FLAG_WRITE);
	if (rc < 0) {
		av_dict_free(&opts);
		return av_fail(errbuf, size, "output: create", rc);
	}
	rc = avformat_write_header(a->out, &opts);
	av_dict_free(&opts);
	if (rc < 0)
		return av_fail(errbuf, size, "output: header", rc);
	return 0;
}

/* Copies segment i's video packets, placed at its planned start. */
static int copy_segment(struct assemble *a, size_t i, AVFormatContext *fmt, int vidx,
                        int64_t *last_dts, char *errbuf, size_t size)
{
	AVStream *ist = fmt->streams[vidx];
	AVRational src_tb = {a->row.tb_num, a->row.tb_den};
	AVPacket *pkt = av_packet_alloc();
	int64_t start = ist->start_time, offset, frames = 0;
	char what[64];
	int rc;

	if (pkt == NULL)
		return av_fail(errbuf, size, "copy", AVERROR(ENOMEM));
	snprintf(what, sizeof(what), "segment %zu: read", i);
	if (start == AV_NOPTS_VALUE)
		start = 0;
	offset = av_rescale_q(a->segs[i].start_pts - a->segs[0].start_pts, src_tb, ist->time_base) -
	         start;
	while ((rc = av_read_frame(fmt, pkt)) >= 0) {
		int64_t t;

		if (pkt->stream_index != vidx || pkt->size == 0) {
			av_packet_unref(pkt);
			continue;
		}
		if (pkt->pts != AV_NOPTS_VALUE)
			pkt->pts += offset;
		if (pkt->dts != AV_NOPTS_VALUE)
			pkt->dts += offset;
		pkt->stream_index = a->vout->index;
		pkt->pos = -1;
		av_packet_rescale_ts(pkt, ist->time_base, a->vout->time_base);
		/* Segments encoded apart can overlap by their B-frame delay at
		 * the seams; the muxer needs strictly increasing dts. */
		if (pkt->dts != AV_NOPTS_VALUE && *last_dts != INT64_MIN && pkt->dts <= *last_dts) {
			pkt->dts = *last_dts + 1;
			if (pkt->pts != AV_NOPTS_VALUE && pkt->pts < pkt->dts)
				pkt->pts = pkt->dts;
			a->dts_fixed++;
		}
		if (pkt->dts != AV_NOPTS_VALUE)
			*last_dts = pkt->dts;
		t = av_rescale_q(pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts,
		                 a->vout->time_base, AV_TIME_BASE_Q);
		if (audio_until(a, t, errbuf, size) < 0) {
			av_packet_free(&pkt);
			return -1;
		}
		rc = av_interleaved_write_frame(a->out, pkt);
		if (rc < 0) {
			av_packet_free(&pkt);
			return av_fail(errbuf, size, "write video", rc);
		}
		frames++;
	}
	av_packet_free(&pkt);
	if (rc != AVERROR_EOF)
		return av_fail(errbuf, size, what, rc);
	if (a->segs[i].frames_expected >= 0 && frames != a->segs[i].frames_expected) {
		char n1[24], n2[24], idx[24];

		snprintf(idx, sizeof(idx), "%zu", i);
		snprintf(n1, sizeof(n1), "%" PRId64, frames);
		snprintf(n2, sizeof(n2), "%" PRId64, a->segs[i].frames_expected);
		log_warn("segment frame count differs from the plan", "job", a->job, "segment", idx,
		         "frames", n1, "expected", n2, NULL);
	}
	a->frames_written += frames;
	return 0;
}

/* Checks the finished partial file against the plan. */
static int verify(struct assemble *a, char *errbuf, size_t size)
{
	struct video_probe p;
	char uri[VIDEO_DB_URI_MAX + 80], why[ERR_MAX];
	int64_t frame_ms, want = a->row.frames_total, diff;

	snprintf(uri, sizeof(uri), "file://%s", a->tmp_path);
	if (video_probe_open(uri, PROBE_TIMEOUT_MS, &p, why, sizeof(why)) < 0) {
		errf(errbuf, size, "verify: %s", why);
		return -1;
	}
	frame_ms = want > 0 ? (a->row.duration_ms + want - 1) / want : 0;
	diff = p.duration_ms - a->row.duration_ms;
	if (p.npackets + 1 < (size_t)want || (int64_t)p.npackets > want + 1 ||
	    diff > frame_ms + 1 || diff < -(frame_ms + 1)) {
		snprintf(errbuf, size,
		         "verify: the output has %zu frames and lasts %" PRId64
		         " ms; the plan says %" PRId64 " frames and %" PRId64 " ms",
		         p.npackets, p.duration_ms, want, a->row.duration_ms);
		video_probe_free(&p);
		return -1;
	}
	a->frames_written = (int64_t)p.npackets;
	video_probe_free(&p);
	return 0;
}

static int sync_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int assemble(struct assemble *a, char *errbuf, size_t size)
{
	const char *path = vj_spec_file_path(a->spec.output_uri);
	int64_t last_dts = INT64_MIN;
	int rc;

	snprintf(a->final_path, sizeof(a->final_path), "%s", path);
	snprintf(a->tmp_path, sizeof(a->tmp_path), "%s.partial-%ld", path, (long)getpid());
	for (size_t i = 0; i < a->nsegs; i++) {
		AVFormatContext *fmt = NULL;
		int vidx = open_segment(a, i, &fmt, errbuf, size);

		if (vidx < 0) {
			avformat_close_input(&fmt);
			return -1;
		}
		if (i == 0 &&
		    (open_output(a, fmt, vidx, errbuf, size) < 0 ||
		     open_audio(a, errbuf, size) < 0 || write_header(a, errbuf, size) < 0)) {
			avformat_close_input(&fmt);
			return -1;
		}
		if (i > 0 &&
		    fmt->streams[vidx]->codecpar->codec_id != a->vout->codecpar->codec_id) {
			snprintf(errbuf, size, "segment %zu: codec %s, segment 0 has %s", i,
			         avcodec_get_name(fmt->streams[vidx]->codecpar->codec_id),
			         avcodec_get_name(a->vout->codecpar->codec_id));
			avformat_close_input(&fmt);
			return -1;
		}
		rc = copy_segment(a, i, fmt, vidx, &last_dts, errbuf, size);
		avformat_close_input(&fmt);
		if (rc < 0)
			return -1;
	}
	if (audio_until(a, INT64_MAX, errbuf, size) < 0)
		return -1;
	rc = av_write_trailer(a->out);
	if (rc < 0)
		return av_fail(errbuf, size, "output: trailer", rc);
	rc = avio_closep(&a->out->pb);
	if (rc < 0)
		return av_fail(errbuf, size, "output: close", rc);
	if (verify(a, errbuf, size) < 0)
		return -1;
	if (sync_file(a->tmp_path) < 0 || rename(a->tmp_path, a->final_path) < 0) {
		errf(errbuf, size, "output: rename %s: %s", a->final_path, strerror(errno));
		return -1;
	}
	a->tmp_path[0] = '\0';
	return 0;
}

static int run(struct assemble *a, char *errbuf, size_t size)
{
	char n1[24], n2[24], n3[24];

	a->pg = video_db_connect_spec(&a->spec, errbuf, size);
	if (a->pg == NULL)
		return -1;
	a->redis = vj_progress_connect_spec(&a->spec, errbuf, size);
	if (a->redis == NULL || load_plan(a, errbuf, size) < 0 || assemble(a, errbuf, size) < 0)
		return -1;
	if (video_db_job_state(a->pg, a->job, "assembled", NULL, errbuf, size) < 0 ||
	    vj_progress_assembled(a->redis, a->spec.namespace, a->spec.name, a->frames_written,
	                          errbuf, size) < 0)
		return -1;
	snprintf(n1, sizeof(n1), "%zu", a->nsegs);
	snprintf(n2, sizeof(n2), "%" PRId64, a->frames_written);
	snprintf(n3, sizeof(n3), "%" PRId64, a->dts_fixed);
	log_info("assembled", "job", a->job, "output", a->spec.output_uri, "segments", n1, "frames",
	         n2, "audio", a->audio.stream >= 0 ? "copied" : "none", "dts_adjusted", n3, NULL);
	return 0;
}

static void cleanup(struct assemble *a)
{
	if (a->out != NULL) {
		if (a->out->pb != NULL)
			avio_closep(&a->out->pb);
		avformat_free_context(a->out);
	}
	if (a->tmp_path[0] != '\0')
		unlink(a->tmp_path); /* never leave a partial output behind */
	av_packet_free(&a->audio.next);
	avformat_close_input(&a->audio.fmt);
	if (a->redis != NULL)
		redisFree(a->redis);
	if (a->pg != NULL)
		PQfinish(a->pg);
	free(a->segs);
	vj_spec_free(&a->spec);
}

int video_assemble_main(const char *spec_path)
{
	struct assemble a;
	char errbuf[ERR_MAX] = "", msg[ERR_MAX + 400], why[512];
	int status = 0;

	memset(&a, 0, sizeof(a));
	a.audio.stream = -1;
	if (spec_path == NULL) {
		fprintf(stderr,
		        "sluice-worker: assemble: --config FILE (the VideoJob) is required\n");
		return 2;
	}
	if (vj_spec_load_file(spec_path, &a.spec, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: assemble: %s\n", errbuf);
		return 2;
	}
	vj_spec_job_id(&a.spec, a.job, sizeof(a.job));
	video_probe_log_to_json(a.job);
	if (vj_spec_file_path(a.spec.output_uri) == NULL) {
		fprintf(stderr, "sluice-worker: assemble %s: spec.output.uri: not file://\n",
		        a.job);
		vj_spec_free(&a.spec);
		return 2;
	}
	if (run(&a, errbuf, sizeof(errbuf)) < 0) {
		errf(msg, sizeof(msg), "assemble %s: %s", a.job, errbuf);
		fprintf(stderr, "sluice-worker: %s\n", msg);
		if (a.not_ready) {
			log_warn("assemble: not ready", "job", a.job, "error", msg, NULL);
			status = VIDEO_ASSEMBLE_NOT_READY;
		} else {
			log_error("assemble failed", "job", a.job, "error", msg, NULL);
			if (a.pg != NULL)
				video_db_job_state(a.pg, a.job, "failed", msg, why, sizeof(why));
			if (a.redis == NULL)
				log_error("cannot report the failure: no status Redis", "job",
				          a.job, NULL);
			else if (vj_progress_job_failed(a.redis, a.spec.namespace, a.spec.name, msg,
			                                why, sizeof(why)) != 0)
				log_error("cannot report the failure to the status Redis", "job",
				          a.job, "error", why, NULL);
			/* The last line: the pod's termination message. */
			fprintf(stderr, "sluice-worker: assemble %s: %s\n", a.job, msg);
			status = 1;
		}
	}
	cleanup(&a);
	return status;
}
