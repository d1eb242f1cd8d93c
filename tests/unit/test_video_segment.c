/* Unit tests for workers/video/video_segment.c and workers/video/video_analysis.c:
 * exact frame counts at keyframe and mid-GOP boundaries with B-frames,
 * segment durations, the analysis values (black ~16, a cut scores high),
 * other encoders and containers, errors that name the segment and carry
 * FFmpeg's text, and that no partial output is ever left under the final
 * name. Clips are made at test time with the ffmpeg tool in a temporary
 * directory, tiny so the whole file runs in a few seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "video_analysis.h"
#include "video_segment.h"

static char dir[256];

/* Runs a shell command; 0 when it exited 0. */
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

#define FF "ffmpeg -nostdin -hide_banner -loglevel error -y "

static int make_clips(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-vseg-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	av_log_set_level(AV_LOG_QUIET);
	/* H.264 with B-frames, a keyframe every 12 frames, 3 s at 24 fps,
	 * with audio (which the segment must ignore). */
	if (sh(FF "-f lavfi -i testsrc2=s=128x72:r=24:d=3 -f lavfi -i sine=d=3 -c:v libx264 "
	          "-preset ultrafast -x264-params keyint=12:min-keyint=12:scenecut=0:bframes=3:"
	          "b-adapt=0 -pix_fmt yuv420p -c:a aac -shortest %s",
	       path("h264.mp4")) < 0)
		return -1;
	/* 10 black then 10 white frames at 10 fps: a hard cut at frame 10. */
	if (sh(FF
	       "-f lavfi -i color=black:s=64x48:r=10:d=1 -f lavfi -i color=white:s=64x48:r=10:d=1 "
	       "-filter_complex '[0][1]concat=n=2:v=1[v]' -map '[v]' -c:v libx264 -preset "
	       "ultrafast -pix_fmt yuv420p %s",
	       path("cut.mp4")) < 0)
		return -1;
	/* MPEG-4 Part 2 in AVI. Without B-frames: AVI stores no pts, and
	 * with B-frames a keyframe's dts is not its picture's time (split's
	 * concern, see docs/video-process.md). */
	if (sh(FF "-f lavfi -i testsrc2=s=128x72:r=24:d=2 -c:v mpeg4 -g 12 -bf 0 %s",
	       path("m4.avi")) < 0)
		return -1;
	return 0;
}

static int remove_clips(void **state)
{
	(void)state;
	return sh("rm -rf '%s'", dir);
}

/* The presentation timestamps of the source's video frames (sorted) and
 * the keyframes', from the packet index as split reads it. */
struct index {
	int64_t pts[1024], key[256];
	int n, nkey;
	AVRational tb;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void read_index(const char *file, struct index *ix)
{
	AVFormatContext *in = NULL;
	AVPacket *pkt = av_packet_alloc();

	memset(ix, 0, sizeof(*ix));
	assert_int_equal(avformat_open_input(&in, file, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(in, NULL) >= 0);
	int si = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	assert_true(si >= 0);
	ix->tb = in->streams[si]->time_base;
	while (av_read_frame(in, pkt) >= 0) {
		if (pkt->stream_index == si) {
			/* AVI stores no pts: its packets' dts are frame numbers. */
			int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
			assert_true(ix->n < 1024);
			ix->pts[ix->n++] = t;
			if (pkt->flags & AV_PKT_FLAG_KEY)
				ix->key[ix->nkey++] = t;
		}
		av_packet_unref(pkt);
	}
	qsort(ix->pts, (size_t)ix->n, sizeof(int64_t), cmp_i64);
	qsort(ix->key, (size_t)ix->nkey, sizeof(int64_t), cmp_i64);
	av_packet_free(&pkt);
	avformat_close_input(&in);
}

static int count_in(const struct index *ix, int64_t start, int64_t end)
{
	int n = 0;
	for (int i = 0; i < ix->n; i++)
		n += ix->pts[i] >= start && ix->pts[i] < end;
	return n;
}

/* What a segment file holds: video packets, whether the first (in decode
 * order) is a keyframe, and its duration in ms. */
struct probe {
	int packets, first_key, keys, width, height;
	int64_t duration_ms;
	char codec[32];
};

static void probe_file(const char *file, struct probe *p)
{
	AVFormatContext *in = NULL;
	AVPacket *pkt = av_packet_alloc();
	int64_t end = INT64_MIN, start = INT64_MAX;

	memset(p, 0, sizeof(*p));
	assert_int_equal(avformat_open_input(&in, file, NULL, NULL), 0);
	assert_true(avformat_find_stream_info(in, NULL) >= 0);
	assert_int_equal(in->nb_streams, 1);
	AVStream *st = in->streams[0];
	p->width = st->codecpar->width;
	p->height = st->codecpar->height;
	snprintf(p->codec, sizeof(p->codec), "%s", avcodec_get_name(st->codecpar->codec_id));
	while (av_read_frame(in, pkt) >= 0) {
		if (p->packets == 0)
			p->first_key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
		p->keys += (pkt->flags & AV_PKT_FLAG_KEY) != 0;
		p->packets++;
		if (pkt->pts < start)
			start = pkt->pts;
		if (pkt->pts + pkt->duration > end)
			end = pkt->pts + pkt->duration;
		av_packet_unref(pkt);
	}
	p->duration_ms = av_rescale_q(end - start, st->time_base, (AVRational){1, 1000});
	av_packet_free(&pkt);
	avformat_close_input(&in);
}

/* Files in the test directory whose name starts with '.' (temporaries). */
static int hidden_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		     strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

struct rows {
	struct vseg_frame r[512];
	int n;
	int stop_at; /* >0: return non-zero at this row */
};

static int on_row(void *arg, const struct vseg_frame *row)
{
	struct rows *rs = arg;

	if (rs->n < 512)
		rs->r[rs->n] = *row;
	rs->n++;
	return rs->stop_at > 0 && rs->n >= rs->stop_at;
}

static void request(struct vseg_request *r, const char *src, int segment, int64_t start,
                    int64_t end, const char *out, struct rows *rows)
{
	vseg_request_init(r);
	r->source = src;
	r->segment = segment;
	r->start_pts = start;
	r->end_pts = end;
	r->output = out;
	r->encoder.preset = "ultrafast";
	r->encoder.threads = 1;
	r->decoder_threads = 1;
	r->filter_threads = 1;
	if (rows != NULL) {
		memset(rows, 0, sizeof(*rows));
		r->on_frame = on_row;
		r->frame_arg = rows;
	}
}

/* ==== video_analysis ==== */

static void test_analysis_flat_and_cut(void **state)
{
	struct video_analysis va;
	struct va_measures m;
	uint8_t black[16 * 8], white[16 * 8];

	(void)state;
	memset(black, 16, sizeof(black));
	memset(white, 235, sizeof(white));
	va_init(&va);
	assert_int_equal(va_measure(&va, black, 16, 16, 8, &m), 0);
	assert_true(fabs(m.mean_luma - 16) < 1e-9);
	assert_true(isnan(m.motion) && isnan(m.scene_score));
	assert_int_equal(va_measure(&va, black, 16, 16, 8, &m), 0);
	assert_true(m.motion == 0 && m.scene_score == 0);
	assert_int_equal(va_measure(&va, white, 16, 16, 8, &m), 0);
	assert_true(fabs(m.motion - 219) < 1e-9);
	assert_true(fabs(m.scene_score - 1) < 1e-9);
	/* A size change has no previous frame. */
	assert_int_equal(va_measure(&va, white, 8, 8, 8, &m), 0);
	assert_true(isnan(m.motion));
	/* Negative stride (bottom-up rows) reads the same samples. */
	assert_int_equal(va_measure(&va, white + 7 * 16, -16, 16, 8, &m), 0);
	assert_true(fabs(m.mean_luma - 235) < 1e-9);
	assert_int_equal(va_measure(&va, white, 16, 0, 8, &m), -1);
	va_free(&va);
}

static void test_analysis_half_change(void **state)
{
	struct video_analysis va;
	struct va_measures m;
	enum { W = 1280, H = 720 };
	uint8_t *a = malloc(W * H), *b = malloc(W * H);

	(void)state;
	assert_int_equal(va_step(W, H), 2);
	assert_int_equal(va_step(640, 480), 1);
	memset(a, 100, W * H);
	memcpy(b, a, W * H);
	memset(b, 200, W * H / 2); /* the top half brightens */
	va_init(&va);
	assert_int_equal(va_measure(&va, a, W, W, H, &m), 0);
	assert_int_equal(va_measure(&va, b, W, W, H, &m), 0);
	assert_true(fabs(m.mean_luma - 150) < 1e-9);
	assert_true(fabs(m.motion - 50) < 1e-9);
	assert_true(fabs(m.scene_score - 0.5) < 1e-9);
	va_free(&va);
	free(a);
	free(b);
}

/* ==== segments ==== */

/* Every keyframe-aligned segment keeps exactly its frames, B-frames and
 * all; together they cover the source once; each file starts with a
 * keyframe and lasts end - start. */
static void test_keyframe_segments_exact(void **state)
{
	struct index ix;
	struct rows rows;
	struct vseg_request r;
	struct vseg_result res;
	struct probe p;
	char err[512], name[64];
	int total = 0;

	(void)state;
	read_index(path("h264.mp4"), &ix);
	assert_int_equal(ix.n, 72);
	assert_int_equal(ix.nkey, 6);
	for (int i = 0; i < ix.nkey; i++) {
		int64_t start = ix.key[i];
		int64_t end = i + 1 < ix.nkey ? ix.key[i + 1] : VSEG_END_OPEN;
		snprintf(name, sizeof(name), "seg%d.mp4", i);
		request(&r, path("h264.mp4"), i, start, end, path(name), &rows);
		int rc = vseg_run(&r, &res, err, sizeof(err));
		if (rc != 0)
			fail_msg("segment %d: %s", i, err);
		int want = count_in(&ix, start, end);
		assert_int_equal(want, 12);
		assert_int_equal(res.frames_in, want);
		assert_int_equal(res.frames, want);
		assert_int_equal(rows.n, want);
		assert_int_equal(res.corrupt_packets, 0);
		assert_int_equal(res.first_pts, start);
		assert_int_equal(res.tb_num, ix.tb.num);
		assert_int_equal(res.tb_den, ix.tb.den);
		for (int k = 0; k < rows.n; k++) {
			assert_int_equal(rows.r[k].index, k);
			assert_true(k == 0 || rows.r[k].pts > rows.r[k - 1].pts);
			assert_true(rows.r[k].mean_luma > 10 && rows.r[k].mean_luma < 250);
		}
		assert_true(isnan(rows.r[0].motion));
		assert_false(isnan(rows.r[1].motion));
		probe_file(path(name), &p);
		assert_int_equal(p.packets, want);
		assert_true(p.first_key);
		assert_string_equal(p.codec, "h264");
		assert_int_equal(p.width, 128);
		/* 12 frames at 24 fps: 500 ms, the last frame's duration included. */
		assert_true(llabs(p.duration_ms - 500) <= 1);
		assert_true(llabs(res.duration_ms - 500) <= 1);
		total += (int)res.frames;
	}
	assert_int_equal(total, ix.n);
	assert_int_equal(hidden_files(), 0);
}

/* A boundary inside a GOP (not a keyframe): decoding starts at the
 * keyframe before it, and only the frames from start on are kept. */
static void test_mid_gop_boundary(void **state)
{
	struct index ix;
	struct rows rows;
	struct vseg_request r;
	struct vseg_result res;
	struct probe p;
	char err[512];

	(void)state;
	read_index(path("h264.mp4"), &ix);
	int64_t start = ix.pts[17], end = ix.pts[40];
	request(&r, path("h264.mp4"), 7, start, end, path("mid.mp4"), &rows);
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(res.frames, 23);
	assert_int_equal(rows.n, 23);
	assert_int_equal(rows.r[0].pts, start);
	assert_int_equal(rows.r[22].pts, ix.pts[39]);
	probe_file(path("mid.mp4"), &p);
	assert_int_equal(p.packets, 23);
	assert_true(p.first_key);
}

static void test_analysis_values(void **state)
{
	struct index ix;
	struct rows rows;
	struct vseg_request r;
	struct vseg_result res;
	char err[512];

	(void)state;
	read_index(path("cut.mp4"), &ix);
	assert_int_equal(ix.n, 20);
	request(&r, path("cut.mp4"), 0, ix.pts[0], VSEG_END_OPEN, path("cut-out.mp4"), &rows);
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(rows.n, 20);
	for (int i = 0; i < 20; i++) {
		const struct vseg_frame *f = &rows.r[i];
		if (i < 10)
			assert_true(fabs(f->mean_luma - 16) < 1.5);
		else
			assert_true(fabs(f->mean_luma - 235) < 1.5);
		if (i == 0)
			continue;
		if (i == 10) {
			assert_true(f->scene_score > 0.9);
			assert_true(f->motion > 200);
		} else {
			assert_true(f->scene_score < 0.05);
			assert_true(f->motion < 2);
		}
	}
	assert_int_equal(rows.r[10].pts_ms, 1000);
}

/* Filters, other encoders and containers: a scale + colour graph, MPEG-4
 * Part 2 in AVI as the source, VP9 in WebM and MPEG-4 in AVI as outputs,
 * and a graph that changes the frame rate. */
static void test_filters_and_encoders(void **state)
{
	struct index ix;
	struct vseg_request r;
	struct vseg_result res;
	struct probe p;
	char err[512];

	(void)state;
	read_index(path("m4.avi"), &ix);
	assert_int_equal(ix.n, 48);
	request(&r, path("m4.avi"), 1, ix.key[1], ix.key[3], path("m4-x264.mp4"), NULL);
	r.filters = "scale=64:36,hue=s=0";
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(res.frames, count_in(&ix, ix.key[1], ix.key[3]));
	probe_file(path("m4-x264.mp4"), &p);
	assert_int_equal(p.width, 64);
	assert_int_equal(p.height, 36);
	assert_int_equal(p.packets, res.frames);

	request(&r, path("h264.mp4"), 2, 0, VSEG_END_OPEN, path("vp9.webm"), NULL);
	r.encoder.codec = "libvpx-vp9";
	r.encoder.crf = 40;
	r.encoder.preset = "ultrafast";
	r.filters = "scale=64:36";
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(res.frames, 72);
	probe_file(path("vp9.webm"), &p);
	assert_string_equal(p.codec, "vp9");
	assert_int_equal(p.packets, 72);
	assert_true(p.first_key);

	request(&r, path("h264.mp4"), 3, 0, VSEG_END_OPEN, path("m4.avi.out.avi"), NULL);
	r.encoder.codec = "mpeg4";
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	probe_file(path("m4.avi.out.avi"), &p);
	assert_string_equal(p.codec, "mpeg4");
	assert_int_equal(p.packets, 72);

	/* 24 -> 12 fps: half the frames, same duration. */
	request(&r, path("h264.mp4"), 4, ix.pts[0], VSEG_END_OPEN, path("fps.mp4"), NULL);
	read_index(path("h264.mp4"), &ix);
	r.start_pts = ix.key[0];
	r.end_pts = ix.key[2];
	r.filters = "fps=12";
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(res.frames_in, 24);
	assert_int_equal(res.frames, 12);
	assert_true(llabs(res.duration_ms - 1000) <= 1);
	assert_int_equal(hidden_files(), 0);
}

static void test_bad_filter_graph(void **state)
{
	struct index ix;
	struct vseg_request r;
	struct vseg_result res;
	char err[512];
	struct stat sb;

	(void)state;
	read_index(path("h264.mp4"), &ix);
	request(&r, path("h264.mp4"), 2, ix.key[2], ix.key[3], path("badfilter.mp4"), NULL);
	r.filters = "scale=64:36,nosuchfilter=1";
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_FILTER);
	assert_non_null(strstr(err, "segment 2: "));
	assert_non_null(strstr(err, "scale=64:36,nosuchfilter=1"));
	assert_non_null(strstr(err, "no such filter: \"nosuchfilter\""));
	assert_int_equal(stat(path("badfilter.mp4"), &sb), -1);

	r.filters = "scale=w=";
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_FILTER);
	assert_non_null(strstr(err, "filter graph \"scale=w=\""));
	assert_int_equal(hidden_files(), 0);
}

static void test_source_errors(void **state)
{
	struct vseg_request r;
	struct vseg_result res;
	char err[512];

	(void)state;
	request(&r, path("missing.mp4"), 5, 0, 100, path("x.mp4"), NULL);
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_SOURCE);
	assert_non_null(strstr(err, "segment 5: open \""));
	assert_non_null(strstr(err, "No such file or directory"));

	/* Not a video at all. */
	FILE *f = fopen(path("text.mp4"), "w");
	assert_non_null(f);
	fputs("this is not a video file, just some text\n", f);
	fclose(f);
	request(&r, path("text.mp4"), 6, 0, 100, path("x.mp4"), NULL);
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_SOURCE);
	assert_non_null(strstr(err, "segment 6: "));

	/* A range past the end keeps nothing and writes nothing. */
	request(&r, path("h264.mp4"), 7, 10000000, VSEG_END_OPEN, path("x.mp4"), NULL);
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_EMPTY);
	assert_non_null(strstr(err, "segment 7: no frame"));

	request(&r, path("h264.mp4"), 8, 100, 100, path("x.mp4"), NULL);
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_ARG);

	request(&r, path("h264.mp4"), 9, 0, VSEG_END_OPEN, path("x.mp4"), NULL);
	r.encoder.codec = "nosuchcodec";
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_ENCODE);
	assert_non_null(strstr(err, "unknown video encoder \"nosuchcodec\""));

	/* A missing directory is made (mkdir -p); one under a file cannot be. */
	struct stat sb0;
	char under_file[PATH_MAX];
	snprintf(under_file, sizeof(under_file), "%s/x.mp4", path("h264.mp4"));
	request(&r, path("h264.mp4"), 9, 0, VSEG_END_OPEN, under_file, NULL);
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_OUTPUT);
	assert_non_null(strstr(err, "Not a directory"));
	request(&r, path("h264.mp4"), 9, 0, 100, path("made/here/x.mp4"), NULL);
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), 0);
	assert_int_equal(stat(path("made/here/x.mp4"), &sb0), 0);
	unlink(path("made/here/x.mp4"));
	rmdir(path("made/here"));
	rmdir(path("made"));

	struct stat sb;
	assert_int_equal(stat(path("x.mp4"), &sb), -1);
	assert_int_equal(hidden_files(), 0);
}

/* Damaged packets in the middle of a readable file: the segment still
 * succeeds, the damage is counted, not fatal. */
static void test_corrupt_packets(void **state)
{
	struct vseg_request r;
	struct vseg_result res;
	char err[512];

	(void)state;
	/* Overwrite 40 bytes every 300 in a 3000-byte stretch in the middle. */
	assert_int_equal(sh("cp %s %s && python3 -c \"import random,sys\n"
	                    "p=sys.argv[1]; d=bytearray(open(p,'rb').read()); random.seed(1)\n"
	                    "for o in range(len(d)//2, len(d)//2+3000, 300):\n"
	                    "  d[o:o+40]=bytes(random.randrange(256) for _ in range(40))\n"
	                    "open(p,'wb').write(d)\" %s",
	                    path("m4.avi"), path("bad.avi"), path("bad.avi")),
	                 0);
	request(&r, path("bad.avi"), 0, 0, VSEG_END_OPEN, path("bad-out.mp4"), NULL);
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(res.corrupt_packets + res.concealed > 0);
	assert_true(res.frames >= 40 && res.frames <= 48);
}

static int cancel_now(void *arg)
{
	(void)arg;
	return 1;
}

/* A cancel (SIGTERM) or a callback that stops: no output, no temporary. */
static void test_abandon_leaves_nothing(void **state)
{
	struct vseg_request r;
	struct vseg_result res;
	struct rows rows;
	char err[512];
	struct stat sb;

	(void)state;
	request(&r, path("h264.mp4"), 1, 0, VSEG_END_OPEN, path("abandon.mp4"), &rows);
	rows.stop_at = 30;
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_CALLBACK);
	assert_int_equal(stat(path("abandon.mp4"), &sb), -1);
	request(&r, path("h264.mp4"), 1, 0, VSEG_END_OPEN, path("abandon.mp4"), NULL);
	r.cancel = cancel_now;
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_CANCELLED);
	assert_int_equal(stat(path("abandon.mp4"), &sb), -1);
	assert_int_equal(hidden_files(), 0);

	/* A previous complete output is left as it was. */
	request(&r, path("h264.mp4"), 1, 0, VSEG_END_OPEN, path("abandon.mp4"), NULL);
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(stat(path("abandon.mp4"), &sb), 0);
	off_t size = sb.st_size;
	request(&r, path("h264.mp4"), 1, 0, VSEG_END_OPEN, path("abandon.mp4"), &rows);
	rows.stop_at = 50;
	assert_int_equal(vseg_run(&r, &res, err, sizeof(err)), VSEG_E_CALLBACK);
	assert_int_equal(stat(path("abandon.mp4"), &sb), 0);
	assert_int_equal(sb.st_size, size);
	assert_string_equal(vseg_error_name(VSEG_E_CALLBACK), "callback");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_analysis_flat_and_cut),
	    cmocka_unit_test(test_analysis_half_change),
	    cmocka_unit_test(test_keyframe_segments_exact),
	    cmocka_unit_test(test_mid_gop_boundary),
	    cmocka_unit_test(test_analysis_values),
	    cmocka_unit_test(test_filters_and_encoders),
	    cmocka_unit_test(test_bad_filter_graph),
	    cmocka_unit_test(test_source_errors),
	    cmocka_unit_test(test_corrupt_packets),
	    cmocka_unit_test(test_abandon_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, make_clips, remove_clips);
}
