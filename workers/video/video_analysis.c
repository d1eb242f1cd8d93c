/* video_analysis.c -- mean luma, motion and scene score of a luma plane.
 * See video_analysis.h for the definitions. */
#include "video_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void va_init(struct video_analysis *va)
{
	memset(va, 0, sizeof(*va));
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

int va_measure(struct video_analysis *va, const uint8_t *y, ptrdiff_t stride, int w, int h,
               struct va_measures *m)
{
	m->mean_luma = m->motion = m->scene_score = NAN;
	if (w <= 0 || h <= 0) {
		va_reset(va);
		return -1;
	}
	int step = va_step(w, h);
	int sw = (w + step - 1) / step, sh = (h + step - 1) / step;
	size_t n = (size_t)sw * (size_t)sh;
	int have_prev = va->prev_w == sw && va->prev_h == sh;
	uint32_t hist[VA_BINS] = {0};
	uint64_t sum = 0, diff = 0;

	if (va->prev_cap < n) {
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
	uint8_t *prev = va->prev;
	for (int r = 0; r < h; r += step) {
		const uint8_t *row = y + (ptrdiff_t)r * stride;
		if (step == 1) {
			for (int c = 0; c < w; c++) {
				unsigned v = row[c];
				sum += v;
				hist[v >> 2]++;
				diff += (unsigned)abs((int)v - (int)prev[c]);
				prev[c] = (uint8_t)v;
			}
		} else {
			for (int c = 0, k = 0; c < w; c += 2, k++) {
				unsigned v = row[c];
				sum += v;
				hist[v >> 2]++;
				diff += (unsigned)abs((int)v - (int)prev[k]);
				prev[k] = (uint8_t)v;
			}
		}
		prev += sw;
	}
	m->mean_luma = (double)sum / (double)n;
	if (have_prev) {
		uint64_t l1 = 0;
		m->motion = (double)diff / (double)n;
		for (int i = 0; i < VA_BINS; i++)
			l1 += hist[i] > va->prev_hist[i] ? hist[i] - va->prev_hist[i]
			                                 : va->prev_hist[i] - hist[i];
		m->scene_score = (double)l1 / (2.0 * (double)n);
	}
	memcpy(va->prev_hist, hist, sizeof(hist));
	va->prev_w = sw;
	va->prev_h = sh;
	return 0;
}
