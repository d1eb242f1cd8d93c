/* Unit tests for the video data plane on inputs as cameras and recorders
 * make them: split's packet index and plan (video_probe.c, video_plan.c)
 * and every segment run with vseg_run (video_segment.c), with no server.
 *
 * For each input the frames kept by all the segments together must be
 * exactly the frames a full decode of the source gives (ffprobe
 * -show_frames, the reference): the same count, the same timestamps, in
 * order, each in exactly one segment; and split's frame count must be that
 * count. Clips are made at test time with the ffmpeg tool (lavfi sources),
 * tiny, with a keyframe every 12 frames and segments of half a second, so
 * every input is cut at several seams, some inside a GOP's B-frames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>
#include <libavutil/mathematics.h>

#include "video_plan.h"
#include "video_probe.h"
#include "video_segment.h"
#include "video_timing.h"

#define MAX_FRAMES 1024

static char dir[256];

static int sh(const char *fmt, ...)
{
	char cmd[4096];
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
#define SRC "-f lavfi -i testsrc2=s=160x120:r=25:d=3 "
#define GOP "-g 12 "

/* A DivX 5 "packed bitstream" AVI, which ffmpeg cannot write: one B-frame
 * between references, repacked by a script (its path from the repository's
 * root, where the tests run). The format takes the output path thrice. */
#define DIVX_PACKED                                                                                \
	FF SRC GOP "-c:v mpeg4 -bf 1 -q:v 4 -f m4v %s.m4v && "                                     \
	           "python3 tests/e2e/fixtures/divx_packed.py %s.m4v %s 25"

/* Each input: its file name and the ffmpeg arguments that make it, or a
 * whole command. */
static const struct input {
	const char *name, *args, *command;
} inputs[] = {
    {.name = "h264-bf.mp4",
     .args = SRC GOP "-c:v libx264 -preset ultrafast -bf 3 -pix_fmt yuv420p"},
    /* MPEG-4 ASP with B-frames in AVI: no pts in the container, open GOPs
     * (a keyframe's leading B-frames are stored after it). */
    {.name = "mpeg4-bf.avi", .args = SRC GOP "-c:v mpeg4 -bf 2 -q:v 4"},
    {.name = "xvid-bf.avi", .args = SRC GOP "-c:v mpeg4 -bf 2 -q:v 4 -vtag XVID"},
    {.name = "divx-packed.avi", .command = DIVX_PACKED},
    /* A capture tool's dropped frames: 3 of every 4 are empty index
     * entries (the AVI muxer writes them for the gaps). */
    {.name = "dropped.avi",
     .args = SRC "-vf select='not(mod(n\\,4))' -fps_mode passthrough -c:v mpeg4 -g 3"},
    {.name = "h264-bf.avi",
     .args = SRC GOP "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p"},
    {.name = "mjpeg.avi", .args = SRC "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p"},
    {.name = "cinepak.avi", .args = "-f lavfi -i testsrc2=s=64x48:r=10:d=2 -c:v cinepak -g 6"},
    /* Variable frame rate: 7 of every 10 frames kept with their times. */
    {.name = "vfr.mp4",
     .args = SRC "-vf select='lt(mod(n\\,10)\\,7)' -fps_mode passthrough " GOP
                 "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p"},
    {.name = "vfr.mkv",
     .args = SRC "-vf select='lt(mod(n\\,10)\\,7)' -fps_mode passthrough " GOP
                 "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p"},
    {.name = "full-range.mp4", .args = SRC GOP "-c:v libx264 -preset ultrafast -pix_fmt yuvj420p"},
    {.name = "10bit.mkv", .args = SRC GOP "-c:v libx264 -preset ultrafast -pix_fmt yuv420p10le"},
    {.name = "interlaced.ts",
     .args = SRC GOP "-c:v mpeg2video -flags +ilme+ildct -top 1 -bf 2 -q:v 4"},
};

#define NINPUTS (sizeof(inputs) / sizeof(inputs[0]))

static int make_clips(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-vin-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	av_log_set_level(AV_LOG_QUIET);
	for (size_t i = 0; i < NINPUTS; i++) {
		const char *out = path(inputs[i].name);
		int rc = inputs[i].command != NULL ? sh(inputs[i].command, out, out, out)
		                                   : sh(FF "%s %s", inputs[i].args, out);
		if (rc < 0) {
			fprintf(stderr, "cannot make %s\n", inputs[i].name);
			return -1;
		}
	}
	return 0;
}

static int remove_clips(void **state)
{
	(void)state;
	return sh("rm -rf '%s'", dir);
}

/* The reference: the video frames of a full decode, in presentation order,
 * with their best-effort timestamps in the stream's time base (ffprobe
 * -show_frames). A frame ffprobe gives no time (the last picture of a
 * container without pts) follows its predecessor by the frame before's
 * step. */
static int reference_frames(const char *file, int64_t *pts, int max)
{
	char cmd[1024], line[128];
	int n = 0;

	snprintf(cmd, sizeof(cmd),
	         "ffprobe -v error -select_streams v:0 -show_entries "
	         "frame=best_effort_timestamp -of csv=p=0 '%s'",
	         file);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p) != NULL && n < max) {
		if (line[0] == '\n')
			continue;
		if (strncmp(line, "N/A", 3) == 0) {
			assert_true(n >= 2);
			pts[n] = pts[n - 1] + (pts[n - 1] - pts[n - 2]);
		} else {
			pts[n] = strtoll(line, NULL, 10);
		}
		n++;
	}
	assert_int_equal(pclose(p), 0);
	return n;
}

struct kept {
	int64_t pts[MAX_FRAMES];
	int n;
};

static int on_row(void *arg, const struct vseg_frame *row)
{
	struct kept *k = arg;

	if (k->n < MAX_FRAMES)
		k->pts[k->n] = row->pts;
	k->n++;
	return 0;
}

/* Plans file as split does, runs every segment, and checks the frames kept
 * against the reference. */
static void check_input(const char *name)
{
	static int64_t want[MAX_FRAMES];
	static struct kept got;
	struct video_probe p;
	struct video_plan_segment *segs = NULL;
	size_t nsegs = 0;
	char err[1024], uri[600], out[600];
	const char *file = path(name);

	int nwant = reference_frames(file, want, MAX_FRAMES);
	assert_true(nwant > 10);
	snprintf(uri, sizeof(uri), "file://%s", file);
	if (video_probe_open(uri, 10000, &p, err, sizeof(err)) != 0)
		fail_msg("%s: split refuses it: %s", name, err);
	/* Split's count is the frames a decoder gives. */
	if ((int)p.npackets != nwant)
		fail_msg("%s: split counts %zu frames, a full decode gives %d", name, p.npackets,
		         nwant);
	int64_t half_s =
	    p.whole ? INT64_MAX
	            : av_rescale_q(1, (AVRational){1, 2}, (AVRational){p.tb_num, p.tb_den});
	assert_int_equal(video_plan_segments(p.packets, p.npackets, half_s, &segs, &nsegs), 0);
	if (nsegs < 3 && !p.whole)
		fail_msg("%s: %zu segments; the test wants seams", name, nsegs);
	/* Only H.264 in AVI is planned whole. */
	assert_int_equal(p.whole, strcmp(name, "h264-bf.avi") == 0);

	memset(&got, 0, sizeof(got));
	for (size_t i = 0; i < nsegs; i++) {
		struct vseg_request r;
		struct vseg_result res;
		int before = got.n;

		vseg_request_init(&r);
		r.source = file;
		r.segment = (int)i;
		r.stream_index = p.stream;
		r.start_pts = segs[i].start_pts;
		r.end_pts = i + 1 == nsegs ? VSEG_END_OPEN : segs[i].end_pts;
		snprintf(out, sizeof(out), "%s/%s-%zu.mp4", dir, name, i);
		r.output = out;
		r.encoder.preset = "ultrafast";
		r.encoder.threads = 1;
		r.decoder_threads = 1;
		r.filter_threads = 1;
		r.on_frame = on_row;
		r.frame_arg = &got;
		if (vseg_run(&r, &res, err, sizeof(err)) != 0)
			fail_msg("%s: %s", name, err);
		/* Split's per-segment count is what the segment keeps. */
		if (got.n - before != segs[i].frames)
			fail_msg("%s: segment %zu [%" PRId64 ", %" PRId64 ") keeps %d frames, the "
			         "plan says %" PRId64,
			         name, i, r.start_pts, segs[i].end_pts, got.n - before,
			         segs[i].frames);
		assert_int_equal(res.frames, got.n - before);
	}
	if (got.n != nwant)
		fail_msg("%s: the segments keep %d frames, a full decode gives %d", name, got.n,
		         nwant);
	for (int i = 0; i < nwant; i++)
		if (got.pts[i] != want[i])
			fail_msg("%s: frame %d at pts %" PRId64
			         ", a full decode has it at %" PRId64,
			         name, i, got.pts[i], want[i]);
	free(segs);
	video_probe_free(&p);
}

/* A file cut inside a packet is truncated, whatever its index says; the
 * dropped-frame AVI above promises more in its header and is complete. */
static void test_cut_inside_a_packet_is_truncated(void **state)
{
	struct video_probe p;
	char err[1024], uri[600];

	(void)state;
	assert_int_equal(sh("f='%s'; head -c $(( $(stat -c %%s \"$f\") * 6 / 10 )) \"$f\" > '%s'",
	                    path("mpeg4-bf.avi"), path("cut.avi")),
	                 0);
	snprintf(uri, sizeof(uri), "file://%s", path("cut.avi"));
	assert_int_equal(video_probe_open(uri, 10000, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated: the file ends inside a packet"));
	/* The same with its index at the front and its end gone. */
	assert_int_equal(sh(FF SRC GOP "-c:v libx264 -preset ultrafast -movflags +faststart %s",
	                    path("fast.mp4")),
	                 0);
	assert_int_equal(sh("f='%s'; head -c $(( $(stat -c %%s \"$f\") / 2 )) \"$f\" > '%s'",
	                    path("fast.mp4"), path("cut.mp4")),
	                 0);
	snprintf(uri, sizeof(uri), "file://%s", path("cut.mp4"));
	assert_int_equal(video_probe_open(uri, 10000, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
}

/* How video_timing tells a B-frame from a reference picture. */
static void test_vop_type(void **state)
{
	static const uint8_t i_vop[] = {0, 0, 1, 0xB0, 1, 0, 0, 1, 0xB6, 0x10, 0x55};
	static const uint8_t p_vop[] = {0, 0, 1, 0xB6, 0x51};
	static const uint8_t b_vop[] = {0xAA, 0, 0, 1, 0xB6, 0x93, 0};
	static const uint8_t s_vop[] = {0, 0, 1, 0xB6, 0xC0};
	static const uint8_t none[] = {0, 0, 1, 0xB6};

	(void)state;
	assert_int_equal(video_timing_vop_type(i_vop, sizeof(i_vop)), 'I');
	assert_int_equal(video_timing_vop_type(p_vop, sizeof(p_vop)), 'P');
	assert_int_equal(video_timing_vop_type(b_vop, sizeof(b_vop)), 'B');
	assert_int_equal(video_timing_vop_type(s_vop, sizeof(s_vop)), 'S');
	assert_int_equal(video_timing_vop_type(none, sizeof(none)), 0);
	assert_int_equal(video_timing_vop_type(none, 0), 0);
}

static void test_input_frame_exact(void **state)
{
	check_input(((const struct input *)*state)->name);
}

int main(void)
{
	struct CMUnitTest tests[NINPUTS + 2];

	for (size_t i = 0; i < NINPUTS; i++) {
		struct CMUnitTest t =
		    cmocka_unit_test_prestate(test_input_frame_exact, (void *)&inputs[i]);
		t.name = inputs[i].name;
		tests[i] = t;
	}
	tests[NINPUTS] = (struct CMUnitTest)cmocka_unit_test(test_cut_inside_a_packet_is_truncated);
	tests[NINPUTS + 1] = (struct CMUnitTest)cmocka_unit_test(test_vop_type);
	return _cmocka_run_group_tests("video_inputs", tests, NINPUTS + 2, make_clips,
	                               remove_clips);
}
