/* video_analysis.h -- the per-frame measures a VideoJob writes to
 * PostgreSQL (spec.analysis), computed on an 8-bit luma plane. Pure: no
 * FFmpeg, no I/O; video_segment.c feeds it the decoded source frames.
 *
 *   mean_luma    mean of the Y samples, 0..255 (limited-range black is
 *                16, white 235)
 *   motion       mean absolute difference of Y against the previous frame,
 *                0..255; NaN for the first frame seen (no previous one)
 *   scene_score  half the L1 distance between the normalised 64-bin luma
 *                histograms of this frame and the previous one, 0..1: 0 for
 *                the same brightness distribution, 1 when no sample falls
 *                in a bin the other frame used (a cut from black to
 *                white); NaN for the first frame. Histograms ignore where
 *                samples are, so it does not react to pans the way motion
 *                does, and a cut between two scenes of the same tonal
 *                distribution scores low: motion shows those.
 *
 * Only the measures selected (va_select, spec.analysis: VJ_ANALYSIS_* bits)
 * are computed; the others are NaN and cost nothing: no copy of the
 * previous frame is kept without motion, no histogram is built without
 * scene_score, and with none selected the plane is not read at all.
 *
 * Frames larger than VA_FULL_RES_MAX samples are measured on every other
 * sample of every other row (a quarter of them): at 1080p that keeps the
 * cost well under a millisecond per frame, and means move by far less than
 * the measures' useful precision. va_step() says which.
 *
 * Threads: a struct video_analysis belongs to one thread.
 */
#ifndef SLUICE_VIDEO_ANALYSIS_H
#define SLUICE_VIDEO_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "vj_spec.h"

#define VA_BINS 64
/* Frames up to this many samples (720x576) are measured at every sample. */
#define VA_FULL_RES_MAX (720 * 576)

struct video_analysis {
	unsigned which; /* VJ_ANALYSIS_* bits: the measures computed */
	uint8_t *prev;  /* the previous frame's sampled luma, packed (motion) */
	size_t prev_cap;
	int prev_w, prev_h;          /* sampled size; 0: no previous frame */
	uint32_t prev_hist[VA_BINS]; /* scene_score */
};

struct va_measures {
	double mean_luma, motion, scene_score; /* NaN: not available */
};

/* An empty state (no previous frame) computing all three measures. */
void va_init(struct video_analysis *va);

/* Selects the measures the next calls compute: which is VJ_ANALYSIS_*
 * bits (others ignored), 0 for none. Forgets the previous frame. */
void va_select(struct video_analysis *va, unsigned which);

/* Frees the copy of the previous frame; va can be reused after va_init. */
void va_free(struct video_analysis *va);

/* Forgets the previous frame, so the next one has no motion or scene
 * score (a new segment, a size change). */
void va_reset(struct video_analysis *va);

/* The sampling step for a w x h frame: 1 or 2 (see above). */
int va_step(int w, int h);

/*
 * Measures one frame: y is the luma plane (w x h samples, rows stride
 * bytes apart; stride may be negative as FFmpeg allows), and remembers it
 * as the previous frame for the next call. A frame of another size than
 * the previous one gets NaN motion and scene score; a measure not selected
 * is NaN. Returns 0, or -1 when out of memory or w/h are not positive (m is
 * then all NaN and the state is reset). With nothing selected, y is not
 * read (it may be NULL) and the result is 0 with m all NaN.
 */
int va_measure(struct video_analysis *va, const uint8_t *y, ptrdiff_t stride, int w, int h,
               struct va_measures *m);

#endif
