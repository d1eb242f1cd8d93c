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
#include "video_audio.h"
#include "video_db.h"
#include "video_probe.h"
#include "vj_progress.h"
#include "vj_spec.h"
#include "vj_task.h"

#define ERR_MAX 2048
#define PROBE_TIMEOUT_MS 15000

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
	struct video_audio **tracks; /* the source's audio, in source order */
	size_t ntracks;
	int64_t frames_written, dts_fixed;
	/* The source time that is 0 in the output (its video time base): its
	 * first video frame, or an audio track's first packet where one
	 * starts earlier (an AVI whose B-frames delay its first picture), so
	 * every track keeps its offset to the video and none goes negative. */
	int64_t zero;
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
	a->zero = a->segs[0].start_pts; /* open_source may move it earlier */
	return 0;
}

/* Writes every audio track's packets that come before time t (AV_TIME_BASE
 * units of the output timeline); INT64_MAX: all that is left. */
static int audio_until(struct assemble *a, int64_t t, char *errbuf, size_t size)
{
	for (size_t i = 0; i < a->ntracks; i++)
		if (video_audio_write_until(a->tracks[i], t, errbuf, size) < 0)
			return -1;
	return 0;
}

/* Opens the source, probed. No rewind: av_read_frame first hands back the
 * packets find_stream_info read ahead. A seek to the start would lose
 * audio: Matroska seeks to the first video keyframe's cue and drops every
 * packet before its time (an AAC's first frame, priming included). */
static int source_open(struct assemble *a, AVFormatContext **fmt, char *errbuf, size_t size)
{
	AVDictionary *opts = NULL;
	int rc;

	av_dict_set(&opts, "rw_timeout", "15000000", 0);
	av_dict_set(&opts, "protocol_whitelist", "file,http,https,tcp,tls,crypto", 0);
	rc = avformat_open_input(fmt, video_probe_url(a->row.source), NULL, &opts);
	av_dict_free(&opts);
	if (rc < 0)
		return av_fail(errbuf, size, "source: open", rc);
	rc = avformat_find_stream_info(*fmt, NULL);
	if (rc < 0)
		return av_fail(errbuf, size, "source: probe", rc);
	return 0;
}

/* The source video's display matrix (its rotation) onto the output's
 * video stream. The segments cannot bring it: process encodes the
 * decoded pixels as they are stored, unrotated, and writes no matrix, so
 * without the source's the output would play sideways. */
static int copy_rotation(struct assemble *a, const AVFormatContext *src, char *errbuf, size_t size)
{
	const AVStream *st;
	const uint8_t *matrix;
	uint8_t *copy;
	size_t n = 0;

	if (a->row.stream < 0 || (unsigned)a->row.stream >= src->nb_streams)
		return 0;
	st = src->streams[a->row.stream];
	if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
		return 0;
	matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &n);
	if (matrix == NULL || n == 0)
		return 0;
	copy = av_stream_new_side_data(a->vout, AV_PKT_DATA_DISPLAYMATRIX, n);
	if (copy == NULL)
		return av_fail(errbuf, size, "output: rotation", AVERROR(ENOMEM));
	memcpy(copy, matrix, n);
	return 0;
}

/* What the output takes from the source itself: the video's rotation and
 * every audio track, in source order, each on its own demuxer
 * (video_audio.h says why). The first open serves the first track. */
static int open_source(struct assemble *a, char *errbuf, size_t size)
{
	AVFormatContext *src = NULL;
	AVRational tb = {a->row.tb_num, a->row.tb_den};
	int *audio = NULL;
	size_t naudio = 0;
	int rc = -1;

	if (source_open(a, &src, errbuf, size) < 0 || copy_rotation(a, src, errbuf, size) < 0)
		goto out;
	for (unsigned i = 0; i < src->nb_streams; i++)
		if (src->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
			naudio++;
	if (naudio == 0) {
		rc = 0;
		goto out;
	}
	audio = malloc(naudio * sizeof(*audio));
	a->tracks = calloc(naudio, sizeof(*a->tracks));
	if (audio == NULL || a->tracks == NULL) {
		av_fail(errbuf, size, "source audio", AVERROR(ENOMEM));
		goto out;
	}
	naudio = 0;
	for (unsigned i = 0; i < src->nb_streams; i++) {
		const AVStream *st = src->streams[i];

		if (st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
			continue;
		audio[naudio++] = (int)i;
		if (st->start_time != AV_NOPTS_VALUE) {
			int64_t t = av_rescale_q_rnd(st->start_time, st->time_base, tb,
			                             AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX);
			if (t < a->zero)
				a->zero = t;
		}
	}
	for (size_t k = 0; k < naudio; k++) {
		if (src == NULL && source_open(a, &src, errbuf, size) < 0)
			goto out;
		/* The same shift as the video. */
		if (video_audio_open(&src, audio[k], a->out, a->zero, tb, &a->tracks[a->ntracks],
		                     errbuf, size) < 0)
			goto out;
		a->ntracks++;
	}
	rc = 0;
out:
	free(audio);
	avformat_close_input(&src);
	return rc;
}

/* "none", or what happened to the tracks: "2 copied, 1 aac". */
static void audio_summary(const struct assemble *a, char *buf, size_t size)
{
	size_t aac = 0;

	for (size_t i = 0; i < a->ntracks; i++)
		aac += video_audio_transcoded(a->tracks[i]) ? 1 : 0;
	if (a->ntracks == 0)
		snprintf(buf, size, "none");
	else if (aac == 0)
		snprintf(buf, size, "%zu copied", a->ntracks);
	else if (aac == a->ntracks)
		snprintf(buf, size, "%zu aac", aac);
	else
		snprintf(buf, size, "%zu copied, %zu aac", a->ntracks - aac, aac);
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

/* Copies segment i's video packets, placed at its planned start: a
 * segment file's times run from its start (vseg_run writes pts - start),
 * so its first frame lands where the source shows it, also when that is
 * after the start (a source planned whole, whose decoder shows its first
 * picture a few frames in). */
static int copy_segment(struct assemble *a, size_t i, AVFormatContext *fmt, int vidx,
                        int64_t *last_dts, char *errbuf, size_t size)
{
	AVStream *ist = fmt->streams[vidx];
	AVRational src_tb = {a->row.tb_num, a->row.tb_den};
	AVPacket *pkt = av_packet_alloc();
	int64_t offset, frames = 0;
	char what[64];
	int rc;

	if (pkt == NULL)
		return av_fail(errbuf, size, "copy", AVERROR(ENOMEM));
	snprintf(what, sizeof(what), "segment %zu: read", i);
	offset = av_rescale_q(a->segs[i].start_pts - a->zero, src_tb, ist->time_base);
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
	/* The file must hold what its worker encoded: anything else is a
	 * file replaced or damaged since (a seam that lost a frame). */
	if (a->segs[i].frames_done >= 0 && frames != a->segs[i].frames_done) {
		snprintf(errbuf, size,
		         "segment %zu: its file has %" PRId64
		         " frames, its worker encoded %" PRId64,
		         i, frames, a->segs[i].frames_done);
		return -1;
	}
	a->frames_written += frames;
	return 0;
}

/* The frames the segments' workers encoded, all told; -1 when a segment's
 * count is not recorded. */
static int64_t frames_encoded(const struct assemble *a)
{
	int64_t n = 0;

	for (size_t i = 0; i < a->nsegs; i++) {
		if (a->segs[i].frames_done < 0)
			return -1;
		n += a->segs[i].frames_done;
	}
	return n;
}

/*
 * Checks the finished partial file: it holds every frame the segments'
 * workers encoded and no other (so no frame was lost or doubled at a seam),
 * and lasts what the plan says within one frame. The plan counts the
 * source's packets; the workers encode the frames a decoder gets from them,
 * fewer when packets are damaged (skipped and counted by the workers), or
 * another number when the filters change the rate.
 */
static int verify(struct assemble *a, char *errbuf, size_t size)
{
	struct video_probe p;
	char uri[VIDEO_DB_URI_MAX + 80], why[ERR_MAX];
	int64_t frame_ms, want = a->row.frames_total, diff, encoded = frames_encoded(a);

	snprintf(uri, sizeof(uri), "file://%s", a->tmp_path);
	if (video_probe_open(uri, PROBE_TIMEOUT_MS, &p, why, sizeof(why)) < 0) {
		errf(errbuf, size, "verify: %s", why);
		return -1;
	}
	frame_ms = want > 0 ? (a->row.duration_ms + want - 1) / want : 0;
	diff = p.duration_ms - a->row.duration_ms;
	if (encoded >= 0 && (int64_t)p.npackets != encoded) {
		snprintf(
		    errbuf, size,
		    "verify: the output has %zu frames; the segments' workers encoded %" PRId64,
		    p.npackets, encoded);
		video_probe_free(&p);
		return -1;
	}
	if ((encoded < 0 && (p.npackets + 1 < (size_t)want || (int64_t)p.npackets > want + 1)) ||
	    diff > frame_ms + 1 || diff < -(frame_ms + 1)) {
		snprintf(errbuf, size,
		         "verify: the output has %zu frames and lasts %" PRId64
		         " ms; the plan says %" PRId64 " frames and %" PRId64 " ms",
		         p.npackets, p.duration_ms, want, a->row.duration_ms);
		video_probe_free(&p);
		return -1;
	}
	if (encoded >= 0 && encoded != want) {
		char n1[24], n2[24];

		snprintf(n1, sizeof(n1), "%" PRId64, want);
		snprintf(n2, sizeof(n2), "%" PRId64, encoded);
		log_warn("the output's frame count is not the source's packet count (damaged "
		         "packets skipped, or filters that change the rate)",
		         "job", a->job, "packets", n1, "frames", n2, NULL);
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
		     open_source(a, errbuf, size) < 0 || write_header(a, errbuf, size) < 0)) {
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
	char n1[24], n2[24], n3[24], audio[64];

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
	audio_summary(a, audio, sizeof(audio));
	log_info("assembled", "job", a->job, "output", a->spec.output_uri, "segments", n1, "frames",
	         n2, "audio", audio, "dts_adjusted", n3, NULL);
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
	for (size_t i = 0; i < a->ntracks; i++)
		video_audio_free(a->tracks[i]);
	free(a->tracks);
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
