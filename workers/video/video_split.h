/* video_split.h -- `sluice-worker split --config VJ.json`: plans a VideoJob.
 *
 * Opens spec.source.uri (file:// or http(s):// through libavformat), picks
 * the best video stream, reads its packet index without decoding (pts and
 * keyframe flags), and cuts it into keyframe-aligned segments of about
 * spec.segmentSeconds (video_plan.h). Then:
 *   1. records the job and its segments in PostgreSQL (video_db.h);
 *   2. creates the task topic when absent (spec.workers.maxReplicas
 *      partitions) and its dead-letter topic, and publishes one task per
 *      segment not yet done (vj_task.h; key: the segment index, partition:
 *      index mod partitions, so segments spread over the workers);
 *   3. writes the progress meta to Redis (vj_progress.h), split_done last.
 * Idempotent: when the plan is recorded and split_done is set, a rerun
 * publishes nothing; when a previous run stopped between 1 and 3, the rerun
 * publishes the segments not yet done again (a task is safe to repeat).
 *
 * Bad input (truncated file, not a video, no video stream, unreachable URL,
 * unsupported codec) fails before anything is recorded, with a message
 * naming the job and FFmpeg's own error:
 *   split media/clip: file:///in/x.mp4: open: Invalid data found when processing input
 */
#ifndef SLUICE_VIDEO_SPLIT_H
#define SLUICE_VIDEO_SPLIT_H

#include <stddef.h>

/* Runs split for the VideoJob in spec_path. Returns the exit status: 0
 * done, 1 failed (the reason logged and on stderr), 2 a bad config. */
int video_split_main(const char *spec_path);

#endif
