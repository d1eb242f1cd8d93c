/* bench_video.c -- the VideoJob data plane against one ffmpeg process.
 *
 * A 60 s 1080p H.264 source (made once with the ffmpeg tool, cached under
 * build/bench/) goes through a scale + colour filter and libx264 twice, on
 * the same cores, in the same invocation:
 *
 *   reference  one `ffmpeg -i src -vf F -c:v libx264 -preset P -crf 23`
 *              process, its threads left to ffmpeg (one per core);
 *   sluice     split (the packet index read with libavformat, keyframe-
 *              aligned segments of 2 s, no decoding), process (2 worker
 *              processes taking segments from a shared counter, each
 *              running video_segment.c with decoder, filter and encoder
 *              threads at 1) and assemble (concat demuxer, stream copy, the
 *              source's audio added, `ffmpeg -c copy`).
 *
 * It prints both wall times, their ratio (sluice / reference; target
 * <= 1.15), frames per second, and each worker's peak RSS (target <= 200 MB
 * at 1080p). Kafka, PostgreSQL and Redis are left out: per segment they add
 * a few round trips (milliseconds), and `make bench` runs without the stack.
 *
 * Parameters (environment): BENCH_VIDEO_SECONDS (60), BENCH_VIDEO_SIZE
 * (1920x1080), BENCH_VIDEO_FILTERS ("scale=1280:-2,hue=s=0.6"),
 * BENCH_VIDEO_PRESET (veryfast), BENCH_VIDEO_WORKERS (2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "video_segment.h"
#include "clock.h"

#define SEGMENT_SECONDS 2
#define MAX_SEGMENTS 4096

struct seg {
	int64_t start, end;
};

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : def;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "bench_video: command failed (%d): %s\n", rc, cmd);
	return rc == 0 ? 0 : -1;
}

/* split: keyframe-aligned segments of about SEGMENT_SECONDS from the packet
 * index, the last one ending one past the last pts. */
static int plan(const char *src, struct seg *segs, int *nsegs, int64_t *frames)
{
	AVFormatContext *in = NULL;
	AVPacket *pkt = av_packet_alloc();
	int64_t last = INT64_MIN;
	int n = 0;

	*frames = 0;
	if (pkt == NULL || avformat_open_input(&in, src, NULL, NULL) < 0 ||
	    avformat_find_stream_info(in, NULL) < 0)
		return -1;
	int si = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (si < 0)
		return -1;
	AVRational tb = in->streams[si]->time_base;
	int64_t per = av_rescale_q(SEGMENT_SECONDS, (AVRational){1, 1}, tb);
	while (av_read_frame(in, pkt) >= 0) {
		if (pkt->stream_index == si) {
			(*frames)++;
			if (pkt->pts > last)
				last = pkt->pts;
			if ((pkt->flags & AV_PKT_FLAG_KEY) && n < MAX_SEGMENTS &&
			    (n == 0 || pkt->pts - segs[n - 1].start >= per))
				segs[n++].start = pkt->pts;
		}
		av_packet_unref(pkt);
	}
	for (int i = 0; i < n; i++)
		segs[i].end = i + 1 < n ? segs[i + 1].start : last + 1;
	*nsegs = n;
	av_packet_free(&pkt);
	avformat_close_input(&in);
	return n > 0 ? 0 : -1;
}

int main(void)
{
	int seconds = atoi(env_or("BENCH_VIDEO_SECONDS", "60"));
	const char *size = env_or("BENCH_VIDEO_SIZE", "1920x1080");
	const char *filters = env_or("BENCH_VIDEO_FILTERS", "scale=1280:-2,hue=s=0.6");
	const char *preset = env_or("BENCH_VIDEO_PRESET", "veryfast");
	int nworkers = atoi(env_or("BENCH_VIDEO_WORKERS", "2"));
	char dir[] = "build/bench/video-XXXXXX";
	char src[512], cmd[4096];
	static struct seg segs[MAX_SEGMENTS];
	int nsegs = 0;
	int64_t frames = 0;

	if (seconds <= 0 || nworkers <= 0)
		return 2;
	av_log_set_level(AV_LOG_ERROR);
	(void)mkdir("build", 0755);
	(void)mkdir("build/bench", 0755);
	snprintf(src, sizeof(src), "build/bench/source-%ds-%s.mp4", seconds, size);
	if (access(src, R_OK) != 0) {
		printf("bench_video: making the %d s %s source (once; cached as %s)\n", seconds,
		       size, src);
		fflush(stdout);
		snprintf(cmd, sizeof(cmd),
		         "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
		         "testsrc2=s=%s:r=25:d=%d -f lavfi -i sine=d=%d -c:v libx264 -preset "
		         "ultrafast -g 50 -pix_fmt yuv420p -c:a aac -shortest %s.tmp.mp4 && mv "
		         "%s.tmp.mp4 %s",
		         size, seconds, seconds, src, src, src);
		if (sh(cmd) < 0)
			return 1;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	/* The reference: one ffmpeg process. */
	double t0 = clock_mono_s();
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -nostdin -hide_banner -loglevel error -y -i %s -vf '%s' -c:v libx264 "
	         "-preset %s -crf 23 -an %s/reference.mp4",
	         src, filters, preset, dir);
	if (sh(cmd) < 0)
		return 1;
	double ref_s = clock_mono_s() - t0;

	/* Sluice: split, process with nworkers processes, assemble. */
	t0 = clock_mono_s();
	if (plan(src, segs, &nsegs, &frames) < 0) {
		fprintf(stderr, "bench_video: cannot plan %s\n", src);
		return 1;
	}
	double split_s = clock_mono_s() - t0;
	int *next = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                 -1, 0);
	if (next == MAP_FAILED)
		return 1;
	*next = 0;
	pid_t pids[64];
	for (int w = 0; w < nworkers && w < 64; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			return 1;
		if (pids[w] == 0) {
			for (;;) {
				int i = __atomic_fetch_add(next, 1, __ATOMIC_SEQ_CST);
				if (i >= nsegs)
					_exit(0);
				struct vseg_request r;
				struct vseg_result res;
				char out[600], err[1024];
				vseg_request_init(&r);
				snprintf(out, sizeof(out), "%s/seg-%05d.mp4", dir, i);
				r.source = src;
				r.segment = i;
				r.start_pts = segs[i].start;
				r.end_pts = segs[i].end;
				r.filters = filters;
				r.encoder.preset = preset;
				r.encoder.crf = 23;
				r.encoder.threads = 1;
				r.decoder_threads = 1;
				r.filter_threads = 1;
				r.output = out;
				if (vseg_run(&r, &res, err, sizeof(err)) != 0) {
					fprintf(stderr, "bench_video: %s\n", err);
					_exit(1);
				}
			}
		}
	}
	long max_rss_kb[64] = {0};
	int failed = 0;
	for (int w = 0; w < nworkers && w < 64; w++) {
		int status;
		struct rusage ru;
		if (wait4(pids[w], &status, 0, &ru) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
		else
			max_rss_kb[w] = ru.ru_maxrss;
	}
	if (failed)
		return 1;
	double process_s = clock_mono_s() - t0 - split_s;
	double t1 = clock_mono_s();
	char list[600];
	snprintf(list, sizeof(list), "%s/list.txt", dir);
	FILE *f = fopen(list, "w");
	if (f == NULL)
		return 1;
	for (int i = 0; i < nsegs; i++)
		fprintf(f, "file 'seg-%05d.mp4'\n", i);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -nostdin -hide_banner -loglevel error -y -f concat -safe 0 -i %s -i %s "
	         "-map 0:v -map 1:a -c copy -movflags +faststart %s/output.mp4",
	         list, src, dir);
	if (sh(cmd) < 0)
		return 1;
	double assemble_s = clock_mono_s() - t1;
	double ours_s = clock_mono_s() - t0;

	printf("bench_video: %d s %s H.264 source, %" PRId64 " frames, filter \"%s\", libx264 %s "
	       "crf 23, %ld cores\n",
	       seconds, size, frames, filters, preset, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  reference (one ffmpeg process):   %7.2f s  %6.1f fps\n", ref_s,
	       (double)frames / ref_s);
	printf("  sluice (split+%d workers+assemble): %7.2f s  %6.1f fps  (split %.2f s, %d "
	       "segments in %.2f s, assemble %.2f s)\n",
	       nworkers, ours_s, (double)frames / ours_s, split_s, nsegs, process_s, assemble_s);
	printf("  ratio sluice/reference: %.3f (target <= 1.15)\n", ours_s / ref_s);
	for (int w = 0; w < nworkers && w < 64; w++)
		printf("  worker %d peak RSS: %.1f MB (target <= 200 MB)\n", w,
		       (double)max_rss_kb[w] / 1024.0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)sh(cmd);
	return 0;
}
