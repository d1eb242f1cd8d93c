/* video_segment.h -- one VideoJob segment, start to finish, with the FFmpeg
 * libraries only (no servers): the `process` worker's data plane.
 *
 *   open the source -> seek to the keyframe at or before start -> demux and
 *   decode -> keep exactly the frames whose pts is in [start, end) ->
 *   measure each (video_analysis.h, on the *decoded source* frame, so the
 *   rows describe the source whatever the filters do; only the measures
 *   req->analysis selects, none at all when it is 0) -> buffer -> the
 *   job's filter graph -> buffersink -> encode (a closed GOP that starts
 *   with a keyframe) -> mux into a temporary file next to the output ->
 *   fsync -> rename onto the output -> fsync the directory.
 *
 * So a reader sees either no output file or a complete one; a crash leaves
 * at most a ".<name>.<pid>-<n>.tmp" file behind, never a partial output
 * under the final name.
 *
 * Timestamps: start and end are in the source video stream's time base
 * (what split reads from the packet index, exact for any frame rate). The
 * output's timestamps start at 0 (pts - start) in the filter graph's output
 * time base, and every packet carries its duration (to the next frame; the
 * last frame's runs to end, or is its own duration when the stream ends
 * first), so the segment file lasts exactly end - start and the concat
 * demuxer places the next segment where this one ends.
 *
 * Corrupt packets inside a readable stream (the decoder says
 * AVERROR_INVALIDDATA) are skipped and counted in the result, not fatal;
 * so are demuxer packets it calls invalid. Everything else is an error with
 * a message naming the segment and carrying FFmpeg's own text:
 *
 *   segment 3: open "file:///v/in.mp4": No such file or directory
 *   segment 3: filter graph "scale=w=oops": Invalid argument
 *
 * Threads: decoder, filter graph and encoder thread counts are set
 * explicitly (the API's default is 1). vseg_run blocks the calling thread;
 * FFmpeg's worker threads are joined before it returns. Log lines from
 * FFmpeg itself go wherever av_log goes (the caller sets av_log_set_level).
 */
#ifndef SLUICE_VIDEO_SEGMENT_H
#define SLUICE_VIDEO_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

enum vseg_error {
	VSEG_E_SOURCE = -1,    /* open, probe, seek or read the source */
	VSEG_E_DECODE = -2,    /* no decoder, or it failed other than on bad data */
	VSEG_E_FILTER = -3,    /* the graph does not parse, configure or run */
	VSEG_E_ENCODE = -4,    /* unknown encoder or bad settings, or it failed */
	VSEG_E_OUTPUT = -5,    /* create, write, fsync or rename the output */
	VSEG_E_EMPTY = -6,     /* no frame of the source lies in [start, end) */
	VSEG_E_CANCELLED = -7, /* the cancel callback said stop */
	VSEG_E_CALLBACK = -8,  /* the frame callback returned non-zero */
	VSEG_E_NOMEM = -9,
	VSEG_E_ARG = -10, /* a request that cannot be right (end <= start, no output) */
};

/* end_pts meaning "to the end of the stream" (the last segment). */
#define VSEG_END_OPEN INT64_MAX

/* One frame's analysis row, handed to the callback in presentation order. */
struct vseg_frame {
	int64_t index;                         /* 0-based within the segment */
	int64_t pts;                           /* source stream time base */
	int64_t pts_ms;                        /* the same in milliseconds (rounded to nearest) */
	double mean_luma, motion, scene_score; /* video_analysis.h; NaN: none, or
	                                          not in vseg_request.analysis */
};

/* Returns 0 to go on, non-zero to stop the segment (VSEG_E_CALLBACK). */
typedef int (*vseg_frame_fn)(void *arg, const struct vseg_frame *row);
/* Returns non-zero when the segment should be abandoned (SIGTERM); polled
 * between packets and from inside blocking reads (AVIOInterruptCB). */
typedef int (*vseg_cancel_fn)(void *arg);

struct vseg_encoder {
	const char *codec;  /* libx264 (NULL or ""), libx265, libvpx-vp9, mpeg4,
	                       h264_nvenc, hevc_nvenc (video_nvenc.h) */
	int crf;            /* < 0: the codec's default; mpeg4: the qscale, 1..31 */
	const char *preset; /* x264/x265 preset (NULL: medium); vp9: see .c */
	int threads;        /* encoder threads; 0: FFmpeg picks (one per core) */
};

struct vseg_request {
	const char *source;          /* URL or path, as avformat_open_input takes it */
	int segment;                 /* the segment's index, for messages */
	int stream_index;            /* < 0: the best video stream */
	int64_t start_pts, end_pts;  /* [start, end), stream time base; VSEG_END_OPEN */
	const char *filters;         /* libavfilter graph; NULL or "": none */
	struct vseg_encoder encoder; /* how to encode */
	int decoder_threads;         /* 0: FFmpeg picks */
	int filter_threads;          /* 0: FFmpeg picks */
	const char *output;          /* final path (a file:// prefix is allowed); the
	                                container follows its extension */
	unsigned analysis;           /* VJ_ANALYSIS_* bits (spec.analysis): the
	                                measures computed; 0: none (frames are not
	                                read, every measure is NaN) */
	vseg_frame_fn on_frame;      /* may be NULL */
	void *frame_arg;
	vseg_cancel_fn cancel; /* may be NULL */
	void *cancel_arg;
};

struct vseg_result {
	int64_t frames;              /* frames encoded into the output */
	int64_t frames_in;           /* decoded source frames in [start, end) */
	int64_t corrupt_packets;     /* packets skipped as invalid data */
	int64_t concealed;           /* kept frames the decoder flagged as damaged
	                                (it concealed errors in them) */
	int64_t first_pts, last_pts; /* of the kept source frames, stream time base */
	int tb_num, tb_den;          /* the source stream's time base */
	int64_t duration_ms;         /* of the output file */
	int64_t bytes;               /* of the output file */
	int width, height;           /* of the output */
	double seconds;              /* wall time of vseg_run */
};

/* Zeroes r and fills the defaults: best stream, open end, libx264 at its
 * default crf, decoder/filter/encoder threads 0 (FFmpeg picks), all three
 * measures. */
void vseg_request_init(struct vseg_request *r);

/*
 * Runs the segment described by req. Returns 0 with *res filled and the
 * output in place, or a negative vseg_error with one line in errbuf
 * (starting "segment <n>: ") and no output file created or replaced (a
 * previous complete output of the same segment is left as it was). Calls
 * req->on_frame once per kept frame, before the output is renamed into
 * place.
 */
int vseg_run(const struct vseg_request *req, struct vseg_result *res, char *errbuf,
             size_t errbuf_size);

/* A short name for an error code ("source", "filter", ...), for metric
 * labels and dead letters. */
const char *vseg_error_name(int err);

#endif
