/* video_plan.c -- keyframe-aligned segments; see video_plan.h. */
#include "video_plan.h"

#include <stdlib.h>

/* Sorting the segment starts lets frames be counted by binary search. */
static size_t segment_of(const struct video_plan_segment *s, size_t n, int64_t pts)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (s[mid].start_pts <= pts)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int video_plan_segments(const struct video_plan_packet *pk, size_t n, int64_t target,
                        struct video_plan_segment **out, size_t *nout)
{
	struct video_plan_segment *s;
	int64_t min = INT64_MAX, max = INT64_MIN;
	size_t ns = 0, cap = 16;

	*out = NULL;
	*nout = 0;
	if (n == 0 || target <= 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		min = pk[i].pts < min ? pk[i].pts : min;
		max = pk[i].pts > max ? pk[i].pts : max;
	}
	s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return -1;
	s[ns++].start_pts = min;
	for (size_t i = 0; i < n; i++) {
		int64_t start = s[ns - 1].start_pts;

		/* Overflow-safe "pts - start >= target". */
		if (!pk[i].key || pk[i].pts <= start || pk[i].pts - start < target)
			continue;
		if (ns == cap) {
			struct video_plan_segment *t = realloc(s, 2 * cap * sizeof(*s));

			if (t == NULL) {
				free(s);
				return -1;
			}
			s = t;
			cap *= 2;
		}
		s[ns].start_pts = pk[i].pts;
		s[ns].frames = 0;
		ns++;
	}
	for (size_t i = 0; i + 1 < ns; i++)
		s[i].end_pts = s[i + 1].start_pts;
	s[ns - 1].end_pts = max + 1;
	for (size_t i = 0; i < n; i++)
		s[segment_of(s, ns, pk[i].pts)].frames++;
	*out = s;
	*nout = ns;
	return 0;
}
