/* video_analysis.c -- mean luma, motion and scene score of a luma plane.
 * See video_analysis.h for the definitions. */
#include "video_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void va_init(struct video_analysis *va)
{
	memset(va, 0, sizeof(*va));
	va->which = VJ_ANALYSIS_ALL;
}

void va_select(struct video_analysis *va, unsigned which)
{
	va->which = which & VJ_ANALYSIS_ALL;
	va_reset(va);
}

void va_free(struct video_analysis *va)
{
	free(va->prev);
	va_init(va);
}

void va_reset(struct video_analysis *va)
{
	va->prev_w = va->prev_h = 0;
}

int va_step(int w, int h)
{
	return (int64_t)w * h > VA_FULL_RES_MAX ? 2 : 1;
}

/* What one pass over the sampled plane gathers. */
struct scan {
	const uint8_t *y;
	ptrdiff_t stride;
	int w, h, sw;
	uint8_t *prev; /* read and overwritten in place (motion) */
	uint64_t sum, diff;
	uint32_t hist[VA_BINS];
};

/*
 * The pass, with the step and the measures as constants at each call
 * below, so that the compiler makes one loop per selection with nothing in
 * it for a measure not asked for (a lone sum vectorises; the histogram's
 * scattered increments would keep it from doing so).
 */
static inline __attribute__((always_inline)) void
scan_plane(struct scan *s, const int step, const int sum, const int hist, const int diff)
{
	/* Locals, not s's members: the stores into prev (bytes) may alias
	 * anything, which would make the compiler reload every member. */
	const uint8_t *const y = s->y;
	const ptrdiff_t stride = s->stride;
	const int w = s->w, h = s->h, sw = s->sw;
	uint8_t *prev = s->prev;
	uint64_t total = 0, d = 0;
	uint32_t bins[VA_BINS] = {0};

	for (int r = 0; r < h; r += step) {
		const uint8_t *row = y + (ptrdiff_t)r * stride;
		for (int c = 0, k = 0; c < w; c += step, k++) {
			unsigned v = row[c];
			if (sum)
				total += v;
			if (hist)
				bins[v >> 2]++;
			if (diff) {
				d += (unsigned)abs((int)v - (int)prev[k]);
				prev[k] = (uint8_t)v;
			}
		}
		if (diff)
			prev += sw;
	}
	s->sum = total;
	s->diff = d;
	if (hist)
		memcpy(s->hist, bins, sizeof(bins));
}

#define SCAN_CASE(bits, a, b, c)                                                                   \
	case bits:                                                                                 \
		if (step == 1)                                                                     \
			scan_plane(s, 1, a, b, c);                                                 \
		else                                                                               \
			scan_plane(s, 2, a, b, c);                                                 \
		break

static void scan_selected(struct scan *s, int step, unsigned which)
{
	enum {
		L = VJ_ANALYSIS_MEAN_LUMA,
		M = VJ_ANALYSIS_MOTION,
		S = VJ_ANALYSIS_SCENE_SCORE,
	};

	switch (which) {
		SCAN_CASE(L, 1, 0, 0);
		SCAN_CASE(M, 0, 0, 1);
		SCAN_CASE(S, 0, 1, 0);
		SCAN_CASE(L | M, 1, 0, 1);
		SCAN_CASE(L | S, 1, 1, 0);
		SCAN_CASE(M | S, 0, 1, 1);
		SCAN_CASE(L | M | S, 1, 1, 1);
	default:
		break;
	}
}

int va_measure(struct video_analysis *va, const uint8_t *y, ptrdiff_t stride, int w, int h,
               struct va_measures *m)
{
	const unsigned which = va->which;
	const int want_motion = (which & VJ_ANALYSIS_MOTION) != 0;
	const int want_scene = (which & VJ_ANALYSIS_SCENE_SCORE) != 0;

	m->mean_luma = m->motion = m->scene_score = NAN;
	if (which == 0)
		return 0;
	if (w <= 0 || h <= 0) {
		va_reset(va);
		return -1;
	}
	int step = va_step(w, h);
	int sw = (w + step - 1) / step, sh = (h + step - 1) / step;
	size_t n = (size_t)sw * (size_t)sh;
	int have_prev = va->prev_w == sw && va->prev_h == sh;
	struct scan s = {.y = y, .stride = stride, .w = w, .h = h, .sw = sw};

	/* Only motion needs the previous frame's samples. */
	if (want_motion && va->prev_cap < n) {
		uint8_t *p = realloc(va->prev, n);
		if (p == NULL) {
			va_reset(va);
			return -1;
		}
		/* Zeroed so that the difference below reads defined bytes; it
		 * is not used: a bigger frame has no previous one. */
		memset(p, 0, n);
		va->prev = p;
		va->prev_cap = n;
		have_prev = 0;
	}
	/* One pass: sum, histogram and difference against the previous
	 * frame's samples, which are overwritten in place as they are read. */
	s.prev = va->prev;
	scan_selected(&s, step, which);
	if (which & VJ_ANALYSIS_MEAN_LUMA)
		m->mean_luma = (double)s.sum / (double)n;
	if (have_prev && want_motion)
		m->motion = (double)s.diff / (double)n;
	if (have_prev && want_scene) {
		uint64_t l1 = 0;
		for (int i = 0; i < VA_BINS; i++)
			l1 += s.hist[i] > va->prev_hist[i] ? s.hist[i] - va->prev_hist[i]
			                                   : va->prev_hist[i] - s.hist[i];
		m->scene_score = (double)l1 / (2.0 * (double)n);
	}
	if (want_scene)
		memcpy(va->prev_hist, s.hist, sizeof(s.hist));
	va->prev_w = sw;
	va->prev_h = sh;
	return 0;
}
