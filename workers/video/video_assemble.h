/* video_assemble.h -- `sluice-worker assemble --config VJ.json`: joins a
 * VideoJob's finished segments into spec.output.uri.
 *
 * Once every segment of the plan recorded by split is done (PostgreSQL,
 * video_db.h), it concatenates the segment files without re-encoding
 * (packet copy; each segment placed at its planned start time, so the
 * source's timing, variable frame rate included, is kept) and muxes every
 * audio track of the source beside it, in source order, interleaved by
 * time: stream copied where the container carries the codec, else
 * re-encoded once, whole, to AAC (video_audio.h). The source video's
 * rotation (display matrix) goes onto the output's video stream. The
 * container follows the output's extension; MP4 gets +faststart (the
 * index at the front). It writes "<output>.partial-<pid>" and renames it
 * into place only after checking it: the output's video frame count must be
 * the plan's (within one frame) and its duration the plan's within one
 * frame; otherwise it fails loudly and removes the partial file.
 *
 * Success: video_jobs.state = assembled, Redis meta assembled=1 and
 * output_frames. Failure: video_jobs.state = failed with the reason, Redis
 * meta failed = reason. Exit status: 0 assembled, 1 failed, 2 bad config,
 * 75 (EX_TEMPFAIL) not ready yet (segments still pending; nothing marked).
 */
#ifndef SLUICE_VIDEO_ASSEMBLE_H
#define SLUICE_VIDEO_ASSEMBLE_H

#define VIDEO_ASSEMBLE_NOT_READY 75

int video_assemble_main(const char *spec_path);

#endif
