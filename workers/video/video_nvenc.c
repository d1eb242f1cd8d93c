/* video_nvenc.c -- x264's crf and preset in NVENC's terms; see video_nvenc.h. */
#include "video_nvenc.h"

#include <stddef.h>
#include <string.h>

#include "vj_spec.h"

#define NVENC_CRF_MAX 51

const char *video_nvenc_preset(const char *x264_preset)
{
	/* Medium on NVENC's default p4, the ends on the ends; the three
	 * fastest x264 names share the two fastest NVENC presets. */
	static const struct {
		const char *x264, *nvenc;
	} map[] = {
	    {"ultrafast", "p1"}, {"superfast", "p1"}, {"veryfast", "p2"},
	    {"faster", "p3"},    {"fast", "p3"},      {"medium", "p4"},
	    {"slow", "p5"},      {"slower", "p6"},    {"veryslow", "p7"},
	};

	if (x264_preset == NULL || x264_preset[0] == '\0')
		return "p4";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].x264, x264_preset) == 0)
			return map[i].nvenc;
	return "p4";
}

int video_nvenc_options(const char *codec, const char *preset, int crf, struct video_nvenc *out)
{
	if (!vj_spec_codec_nvenc(codec))
		return 0;
	memset(out, 0, sizeof(*out));
	out->preset = video_nvenc_preset(preset);
	out->forced_idr = 1;
	out->b_ref_mode = "disabled";
	if (crf > NVENC_CRF_MAX)
		crf = NVENC_CRF_MAX;
	if (crf == 0) {
		/* cq 0 is NVENC's "automatic": the finest fixed quantiser
		 * instead. */
		out->rc = "constqp";
		out->qp = 0;
	} else if (crf > 0) {
		out->rc = "vbr";
		out->cq = crf;
	}
	return 1;
}
