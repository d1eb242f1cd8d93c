/* video_audio.h -- one source audio track into assemble's output: stream
 * copied when the output container carries its codec, else decoded and
 * re-encoded once, whole, to AAC with FFmpeg's native encoder.
 *
 * Why once and whole: the segments are video only, so audio never went
 * through `process`; encoding the track in one pass here, from its first
 * sample to its last, gives one encoder priming at the start (which the
 * MP4 muxer hides with an edit list) and no seams, where encoding it per
 * segment would put a priming gap or click at every segment boundary.
 * Copy is preferred whenever the container allows it
 * (avformat_query_codec(..., FF_COMPLIANCE_NORMAL) == 1): no loss, no work.
 * The re-encode is for what the container cannot carry (PCM in MP4); AAC
 * because MP4 and MOV, where that happens, carry it, every player decodes
 * it, and FFmpeg's own encoder needs no external library. A container that
 * carries neither the track's codec nor AAC (PCM into WebM) fails at open
 * and says to use .mkv.
 *
 * The transcode: decode -> abuffer -> aresample -> aformat (the encoder's
 * sample format, rate and layout) -> abuffersink, cut into frames of the
 * encoder's frame size -> encode -> packets. The rate is the source's when
 * AAC allows it, else the nearest AAC rate; the layout the source's when
 * AAC has it, else AAC's layout with as many channels, else stereo;
 * 64 kb/s per channel.
 *
 * Timing: the source's time zero (its first video frame, or the earliest
 * audio packet when that comes first; the video is shifted the same way)
 * becomes 0 in the output, for copied and encoded packets alike,
 * so every track keeps its offset to the video. Each track reads through
 * its own demuxer with every other stream discarded, so tracks advance
 * independently, each only as far as the video has got (one packet read
 * ahead, plus the decoder's and encoder's own delay when transcoding):
 * memory does not grow with how the source interleaves its tracks. The
 * price: the source is opened once per track, and read once per track
 * where its container cannot skip other streams' bytes (Matroska, AVI).
 *
 * Metadata: the track's "language" and "title" tags and its disposition
 * are copied; other tags (encoder, handler) would describe the source's
 * file, not the output's.
 *
 * Errors name the track by its source stream index (as ffprobe numbers
 * it) and codec, then the step and FFmpeg's message:
 *
 *   source audio track 2 (pcm_s24le): encode aac: Invalid argument
 *
 * Threads: one thread at a time per track; nothing global.
 */
#ifndef SLUICE_VIDEO_AUDIO_H
#define SLUICE_VIDEO_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avformat.h>

struct video_audio;

/*
 * Adds source stream `stream` of *src (an opened, probed demuxer on the
 * source) to out as out's next stream; call it before
 * avformat_write_header. *src is taken over, success or not, and set to
 * NULL: the track reads from it until it is freed. The source's time
 * zero (in zero_tb) is 0 in the output. out is borrowed and must outlive
 * the track. Returns 0 with *track (free with video_audio_free), or -1
 * with "source audio track N (codec): ..." in errbuf.
 */
int video_audio_open(AVFormatContext **src, int stream, AVFormatContext *out, int64_t zero,
                     AVRational zero_tb, struct video_audio **track, char *errbuf,
                     size_t errbuf_size);

/* 1 when the track is re-encoded to AAC, 0 when it is stream copied. */
int video_audio_transcoded(const struct video_audio *track);

/*
 * Writes (av_interleaved_write_frame) the track's packets whose dts comes
 * before until, in AV_TIME_BASE units of the output's timeline; INT64_MAX:
 * every packet left, the encoder flushed. Returns 0, or -1 with errbuf set
 * (the track is then unusable but must still be freed).
 */
int video_audio_write_until(struct video_audio *track, int64_t until, char *errbuf,
                            size_t errbuf_size);

/* Frees the track and its demuxer; NULL is a no-op. */
void video_audio_free(struct video_audio *track);

#endif
