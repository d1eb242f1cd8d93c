/* bench_video.c -- the VideoJob data plane against one ffmpeg process.
 *
 * A 60 s 1080p H.264 source (made once with the ffmpeg tool, cached under
 * build/bench/) goes through a scale + colour filter and libx264 twice, on
 * the same cores, in the same invocation:
 *
 *   reference  one `ffmpeg -i src -vf F -c:v libx264 -preset P -crf 23`
 *              process, its threads left to ffmpeg (one per core);
 *   sluice     split (video_probe_open + video_plan_segments, the code
 *              `split` runs: the packet index read with libavformat,
 *              keyframe-aligned segments of 2 s, no decoding), process (2
 *              worker processes taking segments from a shared counter, each
 *              running video_segment.c with decoder, filter and encoder
 *              threads at 1) and assemble (concat demuxer, stream copy, the
 *              source's audio added, `ffmpeg -c copy`).
 *
 * It prints both wall times, their ratio (sluice / reference; target
 * <= 1.05), frames per second, and each worker's peak RSS (target <= 200 MB
 * at 1080p). Kafka, PostgreSQL and Redis are left out: per segment they add
 * a few round trips (milliseconds), and `make bench` runs without the stack.
 *
 * Then, untimed, what the speed costs in quality and size:
 *
 *   seam PSNR  each output's per-frame PSNR against the source put through
 *              the same filter graph (one ffmpeg pass each, inf counted as
 *              100 dB), averaged over the frames within +-1 s of a seam (the
 *              start of every segment but the first) and over the rest;
 *              seam dip = sluice's elsewhere - sluice's seam (target
 *              <= 0.5 dB), seam vs single process = the reference's seam -
 *              sluice's seam, the same frames (target <= 0.5 dB);
 *   bit rate   each output's video stream bytes * 8 / its duration, read
 *              with libavformat, and sluice / reference (target <= 1.03).
 *
 * Each target prints "ok" or "FAIL" beside its figure. The exit status is 0
 * whether targets are met or not (the bench reports, it is not a timed
 * test), and 1 when a run fails or a figure cannot be computed; the work
 * directory is then kept and named.
 *
 * Parameters (environment): BENCH_VIDEO_SECONDS (60), BENCH_VIDEO_SIZE
 * (1920x1080), BENCH_VIDEO_FILTERS ("scale=1280:-2,hue=s=0.6"),
 * BENCH_VIDEO_PRESET (veryfast), BENCH_VIDEO_WORKERS (2),
 * BENCH_VIDEO_SEAM_WINDOW (0.25: seconds either side of a seam; with 2 s
 * segments a window of 1 s would leave no frame "elsewhere").
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "clock.h"
#include "err.h"
#include "video_plan.h"
#include "video_probe.h"
#include "video_segment.h"

#define SEGMENT_SECONDS 2
/* split's own limit on reading the index (video_split.c); a local file
 * never comes near it. */
#define PROBE_TIMEOUT_MS 15000
/* Identical frames have an infinite PSNR; one such frame would make any
 * mean infinite, so it counts as 100 dB (far above any lossy encode). */
#define PSNR_CAP_DB 100.0
#define PSNR_KEY "lavfi.psnr.psnr_avg="

/* The printed targets. */
#define TARGET_RATIO 1.05
#define TARGET_RSS_MB 200.0
#define TARGET_SEAM_DIP_DB 0.5
#define TARGET_SEAM_VS_REF_DB 0.5
#define TARGET_BITRATE_RATIO 1.03

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

static const char *verdict(double figure, double target)
{
	return figure <= target ? "ok" : "FAIL";
}

/* Mean PSNR of one output, split by where its frames lie: [1] within the
 * window of a seam, [0] elsewhere. */
struct psnr_split {
	double sum[2];
	int64_t n[2];
};

static int near_seam(double t, const double *seams, int nseams, double window)
{
	/* pts_time is printed with 6 significant digits: a frame exactly
	 * window away from a seam must not fall out on a rounding. */
	for (int i = 0; i < nseams; i++)
		if (fabs(t - seams[i]) <= window + 1e-6)
			return 1;
	return 0;
}

/*
 * Per-frame PSNR of out against src put through filters, in one ffmpeg
 * pass, sorted by near_seam into *ps. The frames are read from the
 * metadata filter's print (presentation time, then the psnr filter's
 * values) rather than psnr's stats_file, whose frame numbers would place a
 * frame in time only at a constant, known frame rate. Both sides start at
 * 0 (setpts) because psnr pairs frames by timestamp and the source need not
 * start at 0. Returns 0, or -1 with errbuf set.
 */
static int psnr_of(const char *out, const char *src, const char *filters, const char *stats,
                   const double *seams, int nseams, double window, struct psnr_split *ps,
                   char *errbuf, size_t size)
{
	char cmd[4096], line[512];
	double t = 0.0;
	int have_t = 0, n;
	FILE *f;

	memset(ps, 0, sizeof(*ps));
	n = snprintf(cmd, sizeof(cmd),
	             "ffmpeg -nostdin -hide_banner -loglevel error -y -i %s -i %s -lavfi "
	             "'[0:v]setpts=PTS-STARTPTS[main];[1:v]%s,setpts=PTS-STARTPTS[ref];"
	             "[main][ref]psnr,metadata=mode=print:file=%s' -f null -",
	             out, src, filters, stats);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return err_set(errbuf, size, -1, "PSNR of %s: command too long", out);
	if (sh(cmd) < 0)
		return err_set(errbuf, size, -1, "PSNR of %s: ffmpeg failed", out);
	f = fopen(stats, "r");
	if (f == NULL)
		return err_set(errbuf, size, -1, "PSNR of %s: %s: %s", out, stats, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		const size_t klen = strlen(PSNR_KEY);
		char *end;

		if (strncmp(line, "frame:", 6) == 0) {
			const char *p = strstr(line, "pts_time:");

			t = p != NULL ? strtod(p + 9, &end) : 0.0;
			/* NOPTS: a frame that cannot be placed. */
			if (p == NULL || end == p + 9) {
				fclose(f);
				return err_set(errbuf, size, -1,
				               "PSNR of %s: frame without a time: %s", out, line);
			}
			have_t = 1;
			continue;
		}
		if (strncmp(line, PSNR_KEY, klen) != 0)
			continue;
		double v = strtod(line + klen, &end);
		if (!have_t || end == line + klen || isnan(v)) {
			fclose(f);
			return err_set(errbuf, size, -1, "PSNR of %s: unreadable line in %s: %s",
			               out, stats, line);
		}
		if (v > PSNR_CAP_DB)
			v = PSNR_CAP_DB;
		int at = near_seam(t, seams, nseams, window);
		ps->sum[at] += v;
		ps->n[at]++;
		have_t = 0;
	}
	n = ferror(f);
	fclose(f);
	if (n != 0)
		return err_set(errbuf, size, -1, "PSNR of %s: reading %s failed", out, stats);
	if (ps->n[0] + ps->n[1] == 0)
		return err_set(errbuf, size, -1, "PSNR of %s: no frame compared", out);
	return 0;
}

/* One output's video stream: bytes, frames, and its duration (first pts to
 * the end of the last frame). */
/* One output's video stream as the bit rate sees it: bytes, frames and
 * seconds (first frame to the end of the last), read with split's own
 * packet index (the container's bit rate fields are estimates, or absent
 * after a stream copy; the packets are the stream). */
struct video_rate {
	int64_t bytes, frames;
	double seconds;
};

static int rate_of(const char *path, struct video_rate *r, char *errbuf, size_t size)
{
	struct video_probe p;
	char why[1024];

	if (video_probe_open(path, 10000, &p, why, sizeof(why)) < 0)
		return err_set(errbuf, size, -1, "bit rate of %s", why);
	r->bytes = p.bytes;
	r->frames = (int64_t)p.npackets;
	r->seconds = (double)p.duration_ms / 1000.0;
	video_probe_free(&p);
	if (r->seconds <= 0)
		return err_set(errbuf, size, -1, "bit rate of %s: no duration", path);
	return 0;
}

/* The PSNR figures; returns 0, or -1 when one cannot be computed. */
static int report_psnr(const char *dir, const char *src, const char *filters, const double *seams,
                       int nseams, double window)
{
	static const char *const names[2] = {"sluice", "reference"};
	static const char *const files[2] = {"output.mp4", "reference.mp4"};
	struct psnr_split ps[2];
	double mean[2][2] = {{0}};
	char out[600], stats[600], err[1024];
	int missing = 0;

	printf("  PSNR against the filtered source (per frame, inf as %.0f dB; seam: within %g "
	       "s of the %d segment starts after the first):\n",
	       PSNR_CAP_DB, window, nseams);
	for (int k = 0; k < 2; k++) {
		snprintf(out, sizeof(out), "%s/%s", dir, files[k]);
		snprintf(stats, sizeof(stats), "%s/psnr-%s.txt", dir, names[k]);
		if (psnr_of(out, src, filters, stats, seams, nseams, window, &ps[k], err,
		            sizeof(err)) < 0) {
			printf("    %-9s not computed: %s\n", names[k], err);
			missing = 1;
			continue;
		}
		char txt[2][32];
		for (int at = 0; at < 2; at++) {
			mean[k][at] = ps[k].n[at] > 0 ? ps[k].sum[at] / (double)ps[k].n[at] : NAN;
			if (ps[k].n[at] > 0)
				snprintf(txt[at], sizeof(txt[at]), "%.2f dB", mean[k][at]);
			else
				snprintf(txt[at], sizeof(txt[at]), "none");
		}
		printf("    %-9s seam %s (%" PRId64 " frames), elsewhere %s (%" PRId64 " frames)\n",
		       names[k], txt[1], ps[k].n[1], txt[0], ps[k].n[0]);
	}
	/* No seam (one segment) or nothing outside the windows leaves a mean
	 * undefined: the figure is missing, not zero. */
	if (missing)
		printf("  seam dip (sluice): not computed\n  seam vs single process: not "
		       "computed\n");
	if (missing || ps[0].n[1] == 0 || ps[0].n[0] == 0 || ps[1].n[1] == 0) {
		if (!missing)
			printf("  seam figures: not computed: %d seams, %" PRId64
			       " seam and %" PRId64 " other frames\n",
			       nseams, ps[0].n[1], ps[0].n[0]);
		return -1;
	}
	double dip = mean[0][0] - mean[0][1], vs = mean[1][1] - mean[0][1];
	printf("  seam dip (sluice) = elsewhere - seam: %.2f dB (target <= %.1f): %s\n", dip,
	       TARGET_SEAM_DIP_DB, verdict(dip, TARGET_SEAM_DIP_DB));
	printf("  seam vs single process = reference seam - sluice seam: %.2f dB (target <= %.1f): "
	       "%s\n",
	       vs, TARGET_SEAM_VS_REF_DB, verdict(vs, TARGET_SEAM_VS_REF_DB));
	return 0;
}

/* The bit rate figures; returns 0, or -1 when one cannot be computed. */
static int report_rate(const char *dir)
{
	static const char *const names[2] = {"reference", "sluice"};
	static const char *const files[2] = {"reference.mp4", "output.mp4"};
	struct video_rate r[2];
	char path[600], err[1024];
	int missing = 0;

	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
		if (rate_of(path, &r[k], err, sizeof(err)) < 0) {
			printf("  video bit rate, %s: not computed: %s\n", names[k], err);
			missing = 1;
			continue;
		}
		printf("  video bit rate, %-9s %8.1f kb/s  (%" PRId64 " bytes, %" PRId64
		       " frames, %.2f s)\n",
		       names[k], (double)r[k].bytes * 8.0 / r[k].seconds / 1000.0, r[k].bytes,
		       r[k].frames, r[k].seconds);
	}
	if (missing) {
		printf("  bit rate ratio sluice/reference: not computed\n");
		return -1;
	}
	double ratio = ((double)r[1].bytes / r[1].seconds) / ((double)r[0].bytes / r[0].seconds);
	printf("  bit rate ratio sluice/reference: %.3f (target <= %.2f): %s\n", ratio,
	       TARGET_BITRATE_RATIO, verdict(ratio, TARGET_BITRATE_RATIO));
	return 0;
}

int main(void)
{
	int seconds = atoi(env_or("BENCH_VIDEO_SECONDS", "60"));
	const char *size = env_or("BENCH_VIDEO_SIZE", "1920x1080");
	const char *filters = env_or("BENCH_VIDEO_FILTERS", "scale=1280:-2,hue=s=0.6");
	const char *preset = env_or("BENCH_VIDEO_PRESET", "veryfast");
	int nworkers = atoi(env_or("BENCH_VIDEO_WORKERS", "2"));
	double window = atof(env_or("BENCH_VIDEO_SEAM_WINDOW", "0.25"));
	char dir[] = "build/bench/video-XXXXXX";
	char src[512], cmd[4096], err[1024];
	struct video_probe probe;
	struct video_plan_segment *segs = NULL;
	size_t nsegs = 0;
	int64_t frames = 0;

	if (seconds <= 0 || nworkers <= 0 || !(window > 0)) {
		fprintf(stderr, "bench_video: BENCH_VIDEO_SECONDS, BENCH_VIDEO_WORKERS and "
		                "BENCH_VIDEO_SEAM_WINDOW must be positive\n");
		return 2;
	}
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

	/* Sluice: split, process with nworkers processes, assemble. Split is
	 * video_split.c's probe and plan, minus its PostgreSQL row and Kafka
	 * tasks. */
	t0 = clock_mono_s();
	if (video_probe_open(src, PROBE_TIMEOUT_MS, &probe, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_video: %s\n", err);
		return 1;
	}
	AVRational tb = {probe.tb_num, probe.tb_den};
	int64_t target = av_rescale_q(SEGMENT_SECONDS, (AVRational){1, 1}, tb);
	if (video_plan_segments(probe.packets, probe.npackets, target, &segs, &nsegs) < 0) {
		fprintf(stderr, "bench_video: cannot plan %s\n", src);
		return 1;
	}
	frames = (int64_t)probe.npackets;
	double split_s = clock_mono_s() - t0;
	/* Where the seams are, in seconds from the first frame: the outputs'
	 * PSNR passes start their clocks there too. */
	int nseams = (int)nsegs - 1;
	double *seams = calloc(nsegs, sizeof(*seams));
	if (seams == NULL)
		return 1;
	for (int i = 0; i < nseams; i++)
		seams[i] = (double)(segs[i + 1].start_pts - probe.min_pts) * av_q2d(tb);
	video_probe_free(&probe);
	int *next =
	    mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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
				if (i >= (int)nsegs)
					_exit(0);
				struct vseg_request r;
				struct vseg_result res;
				char out[600], verr[1024];
				vseg_request_init(&r);
				snprintf(out, sizeof(out), "%s/seg-%05d.mp4", dir, i);
				r.source = src;
				r.segment = i;
				r.start_pts = segs[i].start_pts;
				r.end_pts = segs[i].end_pts;
				r.filters = filters;
				r.encoder.preset = preset;
				r.encoder.crf = 23;
				r.encoder.threads = 1;
				r.decoder_threads = 1;
				r.filter_threads = 1;
				r.output = out;
				if (vseg_run(&r, &res, verr, sizeof(verr)) != 0) {
					fprintf(stderr, "bench_video: %s\n", verr);
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
	for (size_t i = 0; i < nsegs; i++)
		fprintf(f, "file 'seg-%05zu.mp4'\n", i);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "ffmpeg -nostdin -hide_banner -loglevel error -y -f concat -safe 0 -i %s -i %s "
	         "-map 0:v -map 1:a -c copy -movflags +faststart %s/output.mp4",
	         list, src, dir);
	if (sh(cmd) < 0)
		return 1;
	double assemble_s = clock_mono_s() - t1;
	double ours_s = clock_mono_s() - t0;
	double ratio = ours_s / ref_s;

	printf("bench_video: %d s %s H.264 source, %" PRId64 " frames, filter \"%s\", libx264 %s "
	       "crf 23, %ld cores\n",
	       seconds, size, frames, filters, preset, sysconf(_SC_NPROCESSORS_ONLN));
	printf("  reference (one ffmpeg process):   %7.2f s  %6.1f fps\n", ref_s,
	       (double)frames / ref_s);
	printf("  sluice (split+%d workers+assemble): %7.2f s  %6.1f fps  (split %.2f s, %zu "
	       "segments in %.2f s, assemble %.2f s)\n",
	       nworkers, ours_s, (double)frames / ours_s, split_s, nsegs, process_s, assemble_s);
	printf("  ratio sluice/reference: %.3f (target <= %.2f): %s\n", ratio, TARGET_RATIO,
	       verdict(ratio, TARGET_RATIO));
	for (int w = 0; w < nworkers && w < 64; w++) {
		double mb = (double)max_rss_kb[w] / 1024.0;
		printf("  worker %d peak RSS: %.1f MB (target <= %.0f MB): %s\n", w, mb,
		       TARGET_RSS_MB, verdict(mb, TARGET_RSS_MB));
	}
	/* The timed part is over: what follows reads the outputs. */
	fflush(stdout);
	int missing = report_psnr(dir, src, filters, seams, nseams, window) < 0;
	missing |= report_rate(dir) < 0;
	free(seams);
	free(segs);
	if (missing) {
		printf("bench_video: a figure could not be computed; work files kept in %s\n", dir);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)sh(cmd);
	return 0;
}
