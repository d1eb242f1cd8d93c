/* Unit tests for workers/video/video_nvenc.c: x264's preset names and crf in
 * NVENC's terms, table by table; and, through vseg_run on a tiny clip, that
 * FFmpeg's own h264_nvenc and hevc_nvenc wrappers take every option name and
 * value set_encoder_options gives them (a wrong one fails as "encoder
 * <name>: options" before the encoder opens). Without a GPU and its driver
 * (this test's usual machine) the encoder then fails to open, and the
 * segment fails with VSEG_E_ENCODE naming the encoder; with one, the segment
 * is encoded and must start with a keyframe. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "video_nvenc.h"
#include "video_segment.h"
#include "vj_spec.h"

/* ------------------------------------------------------------- presets */

static void test_presets(void **state)
{
	static const struct {
		const char *x264, *nvenc;
	} cases[] = {
	    {"ultrafast", "p1"},
	    {"superfast", "p1"},
	    {"veryfast", "p2"},
	    {"faster", "p3"},
	    {"fast", "p3"},
	    {"medium", "p4"},
	    {"slow", "p5"},
	    {"slower", "p6"},
	    {"veryslow", "p7"},
	    /* Left out or unknown: medium's. */
	    {NULL, "p4"},
	    {"", "p4"},
	    {"placebo", "p4"},
	    {"Medium", "p4"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("preset %s\n", cases[i].x264 != NULL ? cases[i].x264 : "(null)");
		assert_string_equal(video_nvenc_preset(cases[i].x264), cases[i].nvenc);
	}
}

/* Every preset vj_spec takes has its own place, never slower for a faster
 * name. */
static void test_presets_are_ordered(void **state)
{
	static const char *const x264[] = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
	                                   "medium",    "slow",      "slower",   "veryslow"};
	int last = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(x264) / sizeof(x264[0]); i++) {
		const char *p = video_nvenc_preset(x264[i]);
		int n = p[1] - '0';

		assert_int_equal(p[0], 'p');
		assert_in_range(n, 1, 7);
		assert_true(n >= last);
		last = n;
	}
	assert_int_equal(last, 7);
}

/* ------------------------------------------------------------- options */

static void test_options(void **state)
{
	static const struct {
		const char *codec, *preset;
		int crf;
		int nvenc;
		const char *want_preset, *rc;
		int cq, qp;
	} cases[] = {
	    /* crf is NVENC's constant quality, cq, on the same scale. */
	    {"h264_nvenc", "medium", 23, 1, "p4", "vbr", 23, 0},
	    {"hevc_nvenc", "veryslow", 28, 1, "p7", "vbr", 28, 0},
	    {"h264_nvenc", "ultrafast", 1, 1, "p1", "vbr", 1, 0},
	    {"h264_nvenc", "fast", 51, 1, "p3", "vbr", 51, 0},
	    /* cq 0 is NVENC's "automatic": crf 0 is the finest fixed QP. */
	    {"h264_nvenc", "slow", 0, 1, "p5", "constqp", 0, 0},
	    {"hevc_nvenc", NULL, 0, 1, "p4", "constqp", 0, 0},
	    /* No crf: the preset's own rate control. */
	    {"hevc_nvenc", "slower", -1, 1, "p6", NULL, 0, 0},
	    /* Past the scale: its end. */
	    {"h264_nvenc", "medium", 60, 1, "p4", "vbr", 51, 0},
	    /* Not NVENC: nothing. */
	    {"libx264", "medium", 23, 0, NULL, NULL, 0, 0},
	    {"libx265", "medium", 23, 0, NULL, NULL, 0, 0},
	    {"libvpx-vp9", "medium", 23, 0, NULL, NULL, 0, 0},
	    {"mpeg4", "medium", 23, 0, NULL, NULL, 0, 0},
	    {"h264_vaapi", "medium", 23, 0, NULL, NULL, 0, 0},
	    {NULL, "medium", 23, 0, NULL, NULL, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct video_nvenc o = {.preset = "untouched"};

		print_message("options %s %s crf %d\n", cases[i].codec ? cases[i].codec : "(null)",
		              cases[i].preset ? cases[i].preset : "(null)", cases[i].crf);
		assert_int_equal(
		    video_nvenc_options(cases[i].codec, cases[i].preset, cases[i].crf, &o),
		    cases[i].nvenc);
		/* The operator asks the same list (vj_spec.h). */
		assert_int_equal(vj_spec_codec_nvenc(cases[i].codec), cases[i].nvenc);
		if (!cases[i].nvenc) {
			assert_string_equal(o.preset, "untouched");
			continue;
		}
		assert_string_equal(o.preset, cases[i].want_preset);
		if (cases[i].rc == NULL)
			assert_null(o.rc);
		else
			assert_string_equal(o.rc, cases[i].rc);
		assert_int_equal(o.cq, cases[i].cq);
		assert_int_equal(o.qp, cases[i].qp);
		/* Every segment starts a closed GOP. */
		assert_int_equal(o.forced_idr, 1);
		assert_string_equal(o.b_ref_mode, "disabled");
	}
}

/* ---------------------------------------------- FFmpeg's wrappers take them */

static char dir[256];

static int make_clip(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-nvenc-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	av_log_set_level(AV_LOG_QUIET);
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi "
	         "-i testsrc2=s=64x48:r=10:d=1 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "
	         "%s/in.mp4",
	         dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int remove_clip(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Whether the first packet of path's first stream is a keyframe. */
static int first_packet_is_key(const char *path)
{
	AVFormatContext *fmt = NULL;
	AVPacket *pkt = av_packet_alloc();
	int key = 0;

	if (pkt != NULL && avformat_open_input(&fmt, path, NULL, NULL) == 0 &&
	    av_read_frame(fmt, pkt) == 0)
		key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
	av_packet_free(&pkt);
	avformat_close_input(&fmt);
	return key;
}

static void test_wrappers_take_the_options(void **state)
{
	static const struct {
		const char *codec, *preset;
		int crf;
	} cases[] = {
	    {"h264_nvenc", "medium", 23},  /* preset, rc vbr, cq */
	    {"h264_nvenc", "veryslow", 0}, /* rc constqp, qp */
	    {"hevc_nvenc", "ultrafast", 30}, {"hevc_nvenc", "slow", 0},
	    {"h264_nvenc", "fast", -1}, /* the preset's rate control */
	};
	char in[300], out[300], err[512];

	(void)state;
	snprintf(in, sizeof(in), "%s/in.mp4", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vseg_request r;
		struct vseg_result res;
		int rc;

		snprintf(out, sizeof(out), "%s/out-%zu.mp4", dir, i);
		vseg_request_init(&r);
		r.source = in;
		r.segment = (int)i;
		r.start_pts = 0;
		r.end_pts = VSEG_END_OPEN;
		r.output = out;
		r.encoder.codec = cases[i].codec;
		r.encoder.preset = cases[i].preset;
		r.encoder.crf = cases[i].crf;
		r.decoder_threads = r.filter_threads = r.encoder.threads = 1;
		rc = vseg_run(&r, &res, err, sizeof(err));
		print_message("%s %s crf %d: %d %s\n", cases[i].codec, cases[i].preset,
		              cases[i].crf, rc, rc == 0 ? "encoded (a GPU is here)" : err);
		if (rc == 0) {
			assert_int_equal(res.frames, 10);
			assert_true(first_packet_is_key(out));
			continue;
		}
		/* Every option was taken: it is opening the encoder that failed
		 * (no GPU, no libcuda), named, and nothing was left behind. */
		assert_int_equal(rc, VSEG_E_ENCODE);
		assert_null(strstr(err, ": options"));
		char want[64];
		snprintf(want, sizeof(want), "open encoder %s", cases[i].codec);
		if (strstr(err, want) == NULL)
			fail_msg("want \"%s\" in \"%s\"", want, err);
		assert_int_not_equal(access(out, F_OK), 0);
	}
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_presets),
	    cmocka_unit_test(test_presets_are_ordered),
	    cmocka_unit_test(test_options),
	};
	const struct CMUnitTest ffmpeg[] = {
	    cmocka_unit_test(test_wrappers_take_the_options),
	};
	int failed = cmocka_run_group_tests_name("video_nvenc", pure, NULL, NULL);

	return failed +
	       cmocka_run_group_tests_name("video_nvenc_ffmpeg", ffmpeg, make_clip, remove_clip);
}
