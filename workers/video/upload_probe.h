/* upload_probe.h -- whether an uploaded file is a video FFmpeg can open,
 * asked twice by the upload endpoint (video_upload.h):
 *
 *   1. as soon as the first UPLOAD_PROBE_BYTES are in (or the whole file,
 *      when smaller): does FFmpeg recognise the container from those bytes
 *      alone (av_probe_input_buffer2, content only, never the name's
 *      extension)? A file it cannot identify at all is refused then, with
 *      FFmpeg's own reason, before the rest is sent;
 *   2. once the file is complete: does it open (avformat_open_input +
 *      avformat_find_stream_info on the file, the file protocol only) and
 *      hold a video stream? An MP4 from a recorder often has its index
 *      (moov) at the end, so only the whole file can tell.
 *
 * Threads: any; FFmpeg's demuxers are reentrant.
 */
#ifndef SLUICE_UPLOAD_PROBE_H
#define SLUICE_UPLOAD_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define UPLOAD_PROBE_BYTES (4 << 20)

/*
 * Step 1 over the first len bytes of fd (read with pread; the file offset
 * is left alone). Returns 0 with the format's short name in fmt ("mov,mp4,
 * m4a,3gp,3g2,mj2"), or -1 with FFmpeg's reason in why ("Invalid data
 * found when processing input").
 */
int upload_probe_prefix(int fd, int64_t len, char *fmt, size_t fmt_size, char *why,
                        size_t why_size);

/*
 * Step 2 on the complete file at path. Returns 0, or -1 with why: FFmpeg's
 * reason ("moov atom not found" reads "Invalid data found when processing
 * input"), or "no video stream (FFmpeg found: 1 audio)".
 */
int upload_probe_file(const char *path, char *why, size_t why_size);

#endif
