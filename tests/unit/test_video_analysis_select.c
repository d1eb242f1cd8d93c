/* Unit tests for spec.analysis choosing the per-frame measures:
 * workers/video/video_analysis.c computes exactly the selected ones (each
 * equal to what the full analysis gives, the others NaN, no copy of the
 * previous frame without motion, nothing read with none), video_db's COPY
 * text writes what is not selected as NULL, and vseg_run passes the
 * selection through (a clip made with the ffmpeg tool at test time). The
 * PostgreSQL side is tests/integration/video_db_it.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "video_analysis.h"
#include "video_db.h"
#include "video_segment.h"
#include "vj_spec.h"

#define L VJ_ANALYSIS_MEAN_LUMA
#define M VJ_ANALYSIS_MOTION
#define S VJ_ANALYSIS_SCENE_SCORE

/* Same value, NaN included. */
static int same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* A deterministic plane: a gradient that moves with t, plus noise. */
static void fill(uint8_t *y, int w, int h, int t)
{
	uint32_t x = 2463534242u + (uint32_t)t * 7919u;

	for (int r = 0; r < h; r++)
		for (int c = 0; c < w; c++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			y[(size_t)r * (size_t)w + (size_t)c] =
			    (uint8_t)((r + c + 9 * t) % 200 + (x & 31) + (t % 3 == 2 ? 20 : 0));
		}
}

/* Every selection, at full and at quarter sampling, over frames with a
 * size change in the middle: each selected measure is the full analysis's
 * value, bit for bit; the rest are NaN. */
static void test_every_selection_matches_the_full_analysis(void **state)
{
	static const int sizes[][2] = {{64, 48}, {1280, 720}};
	enum { FRAMES = 6 };

	(void)state;
	for (size_t z = 0; z < 2; z++) {
		const int w = sizes[z][0], h = sizes[z][1];
		uint8_t *y = malloc((size_t)w * (size_t)h);
		struct va_measures want[FRAMES];
		struct video_analysis va;

		assert_non_null(y);
		/* The reference: everything, with a smaller frame at 3 (no
		 * motion or scene score there or right after). */
		va_init(&va);
		for (int t = 0; t < FRAMES; t++) {
			int fw = t == 3 ? w / 2 : w;
			fill(y, fw, h, t);
			assert_int_equal(va_measure(&va, y, fw, fw, h, &want[t]), 0);
		}
		va_free(&va);
		assert_true(isnan(want[0].motion) && isnan(want[3].motion) &&
		            isnan(want[4].motion));
		assert_false(isnan(want[1].motion) || isnan(want[5].scene_score));

		for (unsigned which = 0; which <= VJ_ANALYSIS_ALL; which++) {
			va_init(&va);
			va_select(&va, which);
			for (int t = 0; t < FRAMES; t++) {
				struct va_measures m;
				int fw = t == 3 ? w / 2 : w;
				fill(y, fw, h, t);
				assert_int_equal(va_measure(&va, y, fw, fw, h, &m), 0);
				assert_true(
				    same(m.mean_luma, (which & L) ? want[t].mean_luma : NAN));
				assert_true(same(m.motion, (which & M) ? want[t].motion : NAN));
				assert_true(
				    same(m.scene_score, (which & S) ? want[t].scene_score : NAN));
			}
			/* The previous frame is kept only for motion. */
			if (which & M)
				assert_non_null(va.prev);
			else
				assert_null(va.prev);
			va_free(&va);
		}
		free(y);
	}
}

/* Nothing selected: the plane is not read (NULL will do), every measure
 * is NaN, and even a size that would be refused is not looked at. */
static void test_nothing_selected_reads_nothing(void **state)
{
	struct video_analysis va;
	struct va_measures m = {1, 2, 3};

	(void)state;
	va_init(&va);
	va_select(&va, 0);
	assert_int_equal(va_measure(&va, NULL, 0, 1920, 1080, &m), 0);
	assert_true(isnan(m.mean_luma) && isnan(m.motion) && isnan(m.scene_score));
	assert_int_equal(va_measure(&va, NULL, 0, 0, 0, &m), 0);
	assert_null(va.prev);
	va_free(&va);
}

/* va_select forgets the previous frame and keeps only known bits; va_init
 * selects all three (what a caller that never selects gets). */
static void test_select_resets_and_masks(void **state)
{
	struct video_analysis va;
	struct va_measures m;
	uint8_t a[16 * 8], b[16 * 8];

	(void)state;
	memset(a, 16, sizeof(a));
	memset(b, 235, sizeof(b));
	va_init(&va);
	assert_int_equal(va.which, VJ_ANALYSIS_ALL);
	assert_int_equal(va_measure(&va, a, 16, 16, 8, &m), 0);
	va_select(&va, 0xF0u | M);
	assert_int_equal(va.which, M);
	assert_int_equal(va_measure(&va, b, 16, 16, 8, &m), 0);
	assert_true(isnan(m.motion) && isnan(m.mean_luma) && isnan(m.scene_score));
	assert_int_equal(va_measure(&va, a, 16, 16, 8, &m), 0);
	assert_true(fabs(m.motion - 219) < 1e-9);
	/* Scene score alone: its histogram, no samples kept. */
	va_select(&va, S);
	assert_int_equal(va_measure(&va, a, 16, 16, 8, &m), 0);
	assert_true(isnan(m.scene_score));
	assert_int_equal(va_measure(&va, b, 16, 16, 8, &m), 0);
	assert_true(fabs(m.scene_score - 1) < 1e-9);
	assert_true(isnan(m.motion) && isnan(m.mean_luma));
	/* Bad sizes are still refused when something is selected. */
	assert_int_equal(va_measure(&va, a, 16, 0, 8, &m), -1);
	va_free(&va);
}

/* The COPY text: a measure outside the selection is \N whatever the row
 * holds; a NaN inside it too; bounds hold for every selection. */
static void test_copy_row_writes_unselected_as_null(void **state)
{
	const struct vseg_frame f = {.index = 7,
	                             .pts = 900,
	                             .pts_ms = 1234,
	                             .mean_luma = 16.5,
	                             .motion = 2,
	                             .scene_score = 0.25};
	static const struct {
		unsigned which;
		const char *tail;
	} cases[] = {
	    {L | M | S, "16.5\t2\t0.25\n"}, {L, "16.5\t\\N\t\\N\n"},      {M, "\\N\t2\t\\N\n"},
	    {S, "\\N\t\\N\t0.25\n"},        {L | S, "16.5\t\\N\t0.25\n"}, {0, "\\N\t\\N\t\\N\n"},
	};
	char buf[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = video_db_copy_row(buf, sizeof(buf), "media/clip", 3, cases[i].which, &f);
		snprintf(want, sizeof(want), "media/clip\t3\t7\t1234\t%s", cases[i].tail);
		assert_string_equal(buf, want);
		assert_int_equal(n, (int)strlen(want));
		for (size_t size = 1; size <= strlen(want); size++)
			assert_int_equal(
			    video_db_copy_row(buf, size, "media/clip", 3, cases[i].which, &f), -1);
	}
	struct vseg_frame first = f;
	first.motion = NAN;
	video_db_copy_row(buf, sizeof(buf), "j", 0, L | M, &first);
	assert_string_equal(buf, "j\t0\t7\t1234\t16.5\t\\N\t\\N\n");
}

/* ==== through vseg_run ==== */

static char dir[256];

static int make_clip(void **state)
{
	char cmd[1024];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-vasel-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	av_log_set_level(AV_LOG_QUIET);
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
	         "testsrc2=s=96x64:r=25:d=1 -c:v libx264 -preset ultrafast -g 25 -pix_fmt "
	         "yuv420p %s/in.mp4",
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

struct rows {
	struct vseg_frame r[64];
	int n;
};

static int on_row(void *arg, const struct vseg_frame *row)
{
	struct rows *rs = arg;

	if (rs->n < 64)
		rs->r[rs->n] = *row;
	rs->n++;
	return 0;
}

static void run(unsigned which, struct rows *rows)
{
	struct vseg_request r;
	struct vseg_result res;
	char in[300], out[300], err[512];

	snprintf(in, sizeof(in), "%s/in.mp4", dir);
	snprintf(out, sizeof(out), "%s/out-%u.mp4", dir, which);
	memset(rows, 0, sizeof(*rows));
	vseg_request_init(&r);
	assert_int_equal(r.analysis, VJ_ANALYSIS_ALL);
	r.source = in;
	r.output = out;
	r.encoder.preset = "ultrafast";
	r.decoder_threads = r.filter_threads = r.encoder.threads = 1;
	r.analysis = which;
	r.on_frame = on_row;
	r.frame_arg = rows;
	if (vseg_run(&r, &res, err, sizeof(err)) != 0)
		fail_msg("analysis %u: %s", which, err);
	assert_int_equal(res.frames, 25);
	assert_int_equal(rows->n, 25);
}

/* The segment's rows carry the selected measures only, each as the full
 * analysis has it; with none, the frames are still all there (and
 * encoded), every measure NaN. */
static void test_segment_rows_follow_the_selection(void **state)
{
	static struct rows all, some;

	(void)state;
	run(VJ_ANALYSIS_ALL, &all);
	assert_false(isnan(all.r[1].motion) || isnan(all.r[1].scene_score));
	for (unsigned which = 0; which < VJ_ANALYSIS_ALL; which++) {
		run(which, &some);
		for (int k = 0; k < 25; k++) {
			assert_int_equal(some.r[k].index, all.r[k].index);
			assert_int_equal(some.r[k].pts_ms, all.r[k].pts_ms);
			assert_true(
			    same(some.r[k].mean_luma, (which & L) ? all.r[k].mean_luma : NAN));
			assert_true(same(some.r[k].motion, (which & M) ? all.r[k].motion : NAN));
			assert_true(
			    same(some.r[k].scene_score, (which & S) ? all.r[k].scene_score : NAN));
		}
	}
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_every_selection_matches_the_full_analysis),
	    cmocka_unit_test(test_nothing_selected_reads_nothing),
	    cmocka_unit_test(test_select_resets_and_masks),
	    cmocka_unit_test(test_copy_row_writes_unselected_as_null),
	};
	const struct CMUnitTest segment[] = {
	    cmocka_unit_test(test_segment_rows_follow_the_selection),
	};
	int failed = cmocka_run_group_tests_name("video_analysis_select", pure, NULL, NULL);

	return failed + cmocka_run_group_tests_name("video_analysis_select_segment", segment,
	                                            make_clip, remove_clip);
}
