/* video_watch.c -- the VideoWatch's watcher. See video_watch.h. */
#include "video_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "kube_client.h"
#include "kube_config.h"
#include "log.h"
#include "signals.h"
#include "upload_rules.h"
#include "version.h"
#include "video_probe.h"
#include "video_upload.h"
#include "vw_spec.h"
#include "watch_marker.h"
#include "watch_settle.h"
#include "watch_status.h"

#define API_GROUP "sluice.dev"
#define API_VERSION "v1alpha1"
/* Scans an inotify event asks for are at least this far apart: a file
 * being written sends IN_MODIFY for every write. */
#define EVENT_SCAN_GAP_MS 1000
#define MIN_SCAN_GAP_MS 100
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STATUS_RETRY_MS 5000
#define INOTIFY_MASK                                                                               \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM |        \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct video_watch {
	struct video_watch_options o;
	char *upload_token, *dashboard_url, *upload_host, *upload_addr;
	struct vw_spec spec;
	char dir[PATH_MAX];
	struct kube_client *kube;
	struct watch_settle *settle;
	struct video_upload *upload;
	int ino_fd, wd, wake_fd;

	/* Taking a file: the scan's marker check and track, every take. */
	pthread_mutex_t take_mu;
	/* st, marker_error. */
	pthread_mutex_t mu;
	struct watch_status st;
	char marker_error[512]; /* the last marker that could not be written */

	/* The loop's own. */
	struct watch_status sent;
	int64_t sent_at_ms, status_retry_at_ms;
	char status_error[512];
	int64_t retry_at_ms, backoff_ms;
	int events; /* inotify said something changed */
	atomic_int ready;

	struct metrics_family *m_seen, *m_created, *m_rejected, *m_api_errors, *m_scans,
	    *m_folder_ok, *m_pending;
};

/* ------------------------------------------------------------- helpers */

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

void video_watch_options_default(struct video_watch_options *o)
{
	memset(o, 0, sizeof(*o));
	o->upload_host = env_or_null("POD_IP");
	o->upload_token = env_or_null("SLUICE_UPLOAD_TOKEN");
	o->dashboard_url = env_or_null("SLUICE_DASHBOARD_URL");
}

static void inc(struct metrics_family *f)
{
	if (f != NULL)
		(void)metrics_inc(f, NULL);
}

static void set(struct metrics_family *f, double v)
{
	if (f != NULL)
		(void)metrics_set(f, NULL, v);
}

static void wake(struct video_watch *w)
{
	uint64_t one = 1;

	if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cannot wake the watch loop", "error", strerror(errno), NULL);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* ---------------------------------------------------------------- take */

enum take_flags {
	TAKE_UPLOAD = 1, /* a complete upload: counted as seen here, and a
	                  * rejected one gets no marker (its file goes) */
};

/* The outcome of a take in the status, under mu. */
static void note_take(struct video_watch *w, const char *file, const char *job, int rc, int flags)
{
	pthread_mutex_lock(&w->mu);
	if ((flags & TAKE_UPLOAD) && rc != VIDEO_UPLOAD_PENDING)
		w->st.files_seen++;
	if (rc == VIDEO_UPLOAD_TAKEN)
		w->st.jobs_created++;
	if (rc == VIDEO_UPLOAD_REJECTED)
		w->st.files_rejected++;
	if (rc == VIDEO_UPLOAD_TAKEN || rc == VIDEO_UPLOAD_EXISTED || rc == VIDEO_UPLOAD_REJECTED)
		copy_str(w->st.last_file, sizeof(w->st.last_file), file);
	if (rc == VIDEO_UPLOAD_TAKEN || rc == VIDEO_UPLOAD_EXISTED)
		copy_str(w->st.last_job, sizeof(w->st.last_job), job);
	pthread_mutex_unlock(&w->mu);
	if ((flags & TAKE_UPLOAD) && rc != VIDEO_UPLOAD_PENDING)
		inc(w->m_seen);
	if (rc == VIDEO_UPLOAD_TAKEN)
		inc(w->m_created);
	if (rc == VIDEO_UPLOAD_REJECTED)
		inc(w->m_rejected);
	if (rc == VIDEO_UPLOAD_PENDING)
		inc(w->m_api_errors);
	wake(w);
}

static void mark(struct video_watch *w, const char *file, const char *content)
{
	char err[512];

	if (watch_marker_write(w->dir, w->spec.name, file, content, err, sizeof(err)) == 0)
		return;
	log_error("cannot write the marker of a taken file: it will be looked at again", "watch",
	          w->spec.name, "file", file, "error", err, NULL);
	pthread_mutex_lock(&w->mu);
	snprintf(w->marker_error, sizeof(w->marker_error), "cannot write markers: %.480s", err);
	pthread_mutex_unlock(&w->mu);
}

/*
 * Makes file's VideoJob and marker; take_mu held. Returns an enum
 * video_upload_take, the job's name in job, and on failure why.
 */
static int take_locked(struct video_watch *w, const char *file, int flags, char *job,
                       size_t job_size, char *why, size_t why_size)
{
	const struct kube_ref ref = {API_GROUP,         API_VERSION, "videojobs",
	                             w->spec.namespace, NULL,        NULL};
	char marker[WATCH_MARKER_CONTENT_MAX];
	struct kube_error kerr;
	cJSON *obj;
	int m, rc;

	job[0] = '\0';
	why[0] = '\0';
	if (vw_job_name(w->spec.name, file, job, job_size) != 0)
		job[0] = '\0';
	m = watch_marker_exists(w->dir, w->spec.name, file);
	if (m == 1)
		return VIDEO_UPLOAD_MARKED;
	if (m < 0) {
		snprintf(why, why_size, "cannot read its marker: %s", strerror(-m));
		note_take(w, file, job, VIDEO_UPLOAD_PENDING, flags);
		return VIDEO_UPLOAD_PENDING;
	}
	obj = vw_job_object(&w->spec, file, why, why_size);
	if (obj == NULL) {
		rc = VIDEO_UPLOAD_REJECTED;
	} else {
		rc = kube_client_create(w->kube, &ref, obj, NULL, &kerr);
		cJSON_Delete(obj);
		if (rc == 0) {
			rc = VIDEO_UPLOAD_TAKEN;
		} else if (rc == KUBE_EEXISTS) {
			rc = VIDEO_UPLOAD_EXISTED;
		} else if (rc == KUBE_EINVALID || rc == KUBE_EBADREQUEST) {
			snprintf(why, why_size, "the API server refused the VideoJob: %s",
			         kerr.message);
			rc = VIDEO_UPLOAD_REJECTED;
		} else {
			snprintf(why, why_size, "cannot create VideoJob %s: %s%s%s", job,
			         kerr.reason[0] != '\0' ? kerr.reason : "",
			         kerr.reason[0] != '\0' ? ": " : "", kerr.message);
			rc = VIDEO_UPLOAD_PENDING;
		}
	}
	switch (rc) {
	case VIDEO_UPLOAD_TAKEN:
	case VIDEO_UPLOAD_EXISTED:
		mark(w, file, job);
		log_info(rc == VIDEO_UPLOAD_TAKEN ? "videojob created"
		                                  : "videojob already there: file taken",
		         "watch", w->spec.name, "file", file, "videojob", job, NULL);
		break;
	case VIDEO_UPLOAD_REJECTED:
		log_warn("file rejected: no VideoJob can be made for it", "watch", w->spec.name,
		         "file", file, "reason", why, NULL);
		if (!(flags & TAKE_UPLOAD)) {
			snprintf(marker, sizeof(marker), "rejected: %s", why);
			mark(w, file, marker);
		}
		break;
	default:
		log_warn("cannot create the VideoJob yet: retrying", "watch", w->spec.name, "file",
		         file, "error", why, NULL);
		break;
	}
	note_take(w, file, job, rc, flags);
	return rc;
}

/* The upload endpoint's taker (video_upload.h). */
static void taker_lock(void *arg)
{
	struct video_watch *w = arg;

	pthread_mutex_lock(&w->take_mu);
}

static void taker_unlock(void *arg)
{
	struct video_watch *w = arg;

	pthread_mutex_unlock(&w->take_mu);
}

static int taker_take(void *arg, const char *file, char *job, size_t job_size, char *why,
                      size_t why_size)
{
	return take_locked(arg, file, TAKE_UPLOAD, job, job_size, why, why_size);
}

/* ---------------------------------------------------------------- scan */

static void set_folder_error(struct video_watch *w, const char *text)
{
	pthread_mutex_lock(&w->mu);
	if (strcmp(w->st.folder_error, text) != 0) {
		if (text[0] != '\0')
			log_warn("the watched folder cannot be read: rescanning until it can",
			         "watch", w->spec.name, "error", text, NULL);
		else if (w->st.folder_error[0] != '\0')
			log_info("the watched folder can be read again", "watch", w->spec.name,
			         "dir", w->dir, NULL);
		copy_str(w->st.folder_error, sizeof(w->st.folder_error), text);
	}
	pthread_mutex_unlock(&w->mu);
}

static void watch_folder(struct video_watch *w)
{
	if (w->ino_fd < 0 || w->wd >= 0)
		return;
	w->wd = inotify_add_watch(w->ino_fd, w->dir, INOTIFY_MASK);
	if (w->wd < 0 && errno != ENOENT && errno != ENOTDIR)
		log_debug("no inotify on the watched folder: rescans alone", "dir", w->dir, "error",
		          strerror(errno), NULL);
}

/* One file of a listing; take_mu not held. Returns 1 when the API server
 * failed (retry_at_ms is then set), else 0. */
static int scan_one(struct video_watch *w, int dfd, const char *name, int64_t now, int *full)
{
	struct stat st;
	char job[64], why[512];
	int rc, is_new = 0, m;

	if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode))
		return 0;
	if (!watch_settle_tracked(w->settle, name)) {
		/* Under the lock: an upload placing this very file has written
		 * its marker by the time we look. */
		pthread_mutex_lock(&w->take_mu);
		m = watch_marker_exists(w->dir, w->spec.name, name);
		if (m != 0) {
			pthread_mutex_unlock(&w->take_mu);
			if (m < 0)
				log_warn("cannot tell whether a file was taken", "file", name,
				         "error", strerror(-m), NULL);
			return 0;
		}
		rc = watch_settle_observe(
		    w->settle, name, (int64_t)st.st_size,
		    (int64_t)st.st_mtim.tv_sec * CLOCK_NS_PER_S + st.st_mtim.tv_nsec, now, &is_new);
		pthread_mutex_unlock(&w->take_mu);
		if (is_new) {
			pthread_mutex_lock(&w->mu);
			w->st.files_seen++;
			pthread_mutex_unlock(&w->mu);
			inc(w->m_seen);
			log_info("new file", "watch", w->spec.name, "file", name, NULL);
		}
	} else {
		rc = watch_settle_observe(
		    w->settle, name, (int64_t)st.st_size,
		    (int64_t)st.st_mtim.tv_sec * CLOCK_NS_PER_S + st.st_mtim.tv_nsec, now, &is_new);
	}
	if (rc == WATCH_SETTLE_EFULL || rc == WATCH_SETTLE_ENOMEM) {
		(*full)++;
		return 0;
	}
	if (rc != WATCH_SETTLE_READY || now < w->retry_at_ms)
		return 0;
	pthread_mutex_lock(&w->take_mu);
	rc = take_locked(w, name, 0, job, sizeof(job), why, sizeof(why));
	pthread_mutex_unlock(&w->take_mu);
	if (rc == VIDEO_UPLOAD_PENDING) {
		w->backoff_ms = w->backoff_ms == 0                   ? BACKOFF_MIN_MS
		                : w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
		                                                     : w->backoff_ms * 2;
		w->retry_at_ms = now + w->backoff_ms;
		return 1;
	}
	w->backoff_ms = 0;
	watch_settle_forget(w->settle, name);
	return 0;
}

static void scan(struct video_watch *w, int64_t now)
{
	char err[PATH_MAX + 128], n[32];
	struct dirent *ent;
	int full = 0, read_err = 0;
	DIR *d;

	watch_folder(w);
	inc(w->m_scans);
	pthread_mutex_lock(&w->mu);
	w->st.last_scan_ns = clock_real_ns();
	w->marker_error[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	/* Ready from the first scan on, readable folder or not: folderError
	 * tells the rest, and the upload endpoint answers why meanwhile. */
	atomic_store(&w->ready, 1);
	d = opendir(w->dir);
	if (d == NULL) {
		snprintf(err, sizeof(err), "%s: %s", w->dir, strerror(errno));
		set_folder_error(w, err);
		set(w->m_folder_ok, 0);
		/* Whatever was waiting is gone with the folder. */
		watch_settle_begin(w->settle);
		watch_settle_end(w->settle);
		set(w->m_pending, 0);
		return;
	}
	watch_settle_begin(w->settle);
	while (!signals_stop_requested()) {
		errno = 0;
		ent = readdir(d);
		if (ent == NULL) {
			read_err = errno;
			break;
		}
		if (!vw_name_matches(&w->spec, ent->d_name))
			continue;
		/* After a failed create, files are still observed but none is
		 * taken before w->retry_at_ms (scan_one checks it). */
		(void)scan_one(w, dirfd(d), ent->d_name, now, &full);
	}
	if (read_err != 0) {
		snprintf(err, sizeof(err), "%s: %s", w->dir, strerror(read_err));
		closedir(d);
		set_folder_error(w, err);
		set(w->m_folder_ok, 0);
		return;
	}
	closedir(d);
	/* A stopped listing saw only part of the folder: drop nothing. */
	if (!signals_stop_requested())
		watch_settle_end(w->settle);
	if (full > 0) {
		snprintf(n, sizeof(n), "%d", full);
		log_warn("too many files waiting: these wait for room", "watch", w->spec.name,
		         "files", n, NULL);
	}
	pthread_mutex_lock(&w->mu);
	copy_str(err, sizeof(err), w->marker_error);
	pthread_mutex_unlock(&w->mu);
	set_folder_error(w, err);
	set(w->m_folder_ok, err[0] == '\0');
	set(w->m_pending, (double)watch_settle_len(w->settle));
}

/* -------------------------------------------------------------- status */

static void write_status(struct video_watch *w, int64_t now, int force)
{
	const struct kube_ref ref = {API_GROUP,         API_VERSION,  "videowatches",
	                             w->spec.namespace, w->spec.name, "status"};
	struct watch_status cur;
	struct kube_error kerr;
	int64_t at;
	cJSON *patch;
	int rc;

	pthread_mutex_lock(&w->mu);
	cur = w->st;
	pthread_mutex_unlock(&w->mu);
	if (!force && (now < w->status_retry_at_ms ||
	               !watch_status_due(&cur, &w->sent, w->sent_at_ms, now, &at)))
		return;
	if (force && w->sent_at_ms >= 0 && watch_status_equal(&cur, &w->sent))
		return;
	patch = watch_status_patch(&cur);
	if (patch == NULL) {
		w->status_retry_at_ms = now + STATUS_RETRY_MS;
		return;
	}
	rc = kube_client_merge_patch(w->kube, &ref, patch, NULL, &kerr);
	cJSON_Delete(patch);
	if (rc == 0) {
		w->sent = cur;
		w->sent_at_ms = now;
		w->status_retry_at_ms = 0;
		if (w->status_error[0] != '\0')
			log_info("status written again", "watch", w->spec.name, NULL);
		w->status_error[0] = '\0';
		return;
	}
	w->status_retry_at_ms = now + STATUS_RETRY_MS;
	if (strcmp(w->status_error, kerr.message) != 0) {
		log_warn("cannot write the VideoWatch's status: retrying", "watch", w->spec.name,
		         "error", kerr.message, NULL);
		copy_str(w->status_error, sizeof(w->status_error), kerr.message);
	}
}

/* When the status wants writing next (ms, monotonic), or -1. */
static int64_t status_next(struct video_watch *w, int64_t now)
{
	struct watch_status cur;
	int64_t at;

	pthread_mutex_lock(&w->mu);
	cur = w->st;
	pthread_mutex_unlock(&w->mu);
	if (w->status_retry_at_ms > now)
		return w->status_retry_at_ms;
	if (watch_status_due(&cur, &w->sent, w->sent_at_ms, now, &at))
		return now;
	return at;
}

/* ---------------------------------------------------------------- loop */

static void drain_inotify(struct video_watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	for (;;) {
		n = read(w->ino_fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_IGNORED)
				w->wd = -1; /* the folder went: watched again once back */
			/* Names starting with '.' are never taken: an upload
			 * streaming into its temporary file, the markers' folder. */
			if (ev->len == 0 || ev->name[0] != '.')
				w->events = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void drain_wake(struct video_watch *w)
{
	uint64_t v;

	while (read(w->wake_fd, &v, sizeof(v)) > 0)
		;
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* When the next scan is wanted (ms, monotonic): the rescan, a file due
 * to settle, the retry of a failed create, inotify's news. */
static int64_t scan_wanted(const struct video_watch *w, int64_t next_scan, int64_t last_scan)
{
	int64_t at = earliest(next_scan, watch_settle_next_due(w->settle));

	if (w->retry_at_ms > 0 && watch_settle_len(w->settle) > 0)
		at = earliest(at, w->retry_at_ms);
	if (w->events)
		at = earliest(at, last_scan + EVENT_SCAN_GAP_MS);
	/* Never two listings closer than this, whatever asks (a folder whose
	 * listing keeps failing halfway must not spin the loop). */
	return at < last_scan + MIN_SCAN_GAP_MS ? last_scan + MIN_SCAN_GAP_MS : at;
}

int video_watch_run(struct video_watch *w)
{
	const int64_t rescan_ms = (int64_t)w->spec.rescan_seconds * 1000;
	int64_t now = clock_mono_ms(), next_scan = now, last_scan = now - MIN_SCAN_GAP_MS, next;
	struct pollfd fds[3];
	int n, timeout;

	while (!signals_stop_requested()) {
		now = clock_mono_ms();
		if (now >= scan_wanted(w, next_scan, last_scan)) {
			if (w->retry_at_ms > 0 && now >= w->retry_at_ms)
				w->retry_at_ms = 0;
			w->events = 0;
			scan(w, now);
			now = clock_mono_ms();
			last_scan = now;
			next_scan = now + rescan_ms;
		}
		write_status(w, now, 0);

		next = earliest(scan_wanted(w, next_scan, last_scan), status_next(w, now));
		now = clock_mono_ms();
		timeout = next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);

		n = 0;
		fds[n++] = (struct pollfd){.fd = signals_fd(), .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = w->wake_fd, .events = POLLIN};
		if (w->ino_fd >= 0)
			fds[n++] = (struct pollfd){.fd = w->ino_fd, .events = POLLIN};
		if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			log_error("poll failed", "error", strerror(errno), NULL);
			return -1;
		}
		drain_wake(w);
		if (w->ino_fd >= 0)
			drain_inotify(w);
	}
	log_info("stop requested", "watch", w->spec.name, NULL);
	/* The endpoint first: no take may land after the last status. */
	video_upload_stop(w->upload);
	w->upload = NULL;
	write_status(w, clock_mono_ms(), 1);
	return 0;
}

int video_watch_readyz(void *arg, char *reason, size_t reason_size)
{
	struct video_watch *w = arg;

	if (!atomic_load(&w->ready)) {
		snprintf(reason, reason_size, "the folder has not been scanned yet");
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ lifetime */

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst == NULL ? -1 : 0;
}

int video_watch_new(const struct video_watch_options *o, struct video_watch **out, char *errbuf,
                    size_t errbuf_size)
{
	struct kube_client_options ko = {.timeout_ms = 15000,
	                                 .user_agent = "sluice-worker-video/" SLUICE_VERSION};
	struct kube_config kcfg;
	struct video_watch *w;
	char err[1024];

	*out = NULL;
	if (o->spec_path == NULL)
		return err_set(errbuf, errbuf_size, -1, "watch: --config VW.json is required");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return err_set(errbuf, errbuf_size, -1, "watch: out of memory");
	w->ino_fd = w->wd = w->wake_fd = -1;
	w->sent_at_ms = -1;
	pthread_mutex_init(&w->take_mu, NULL);
	pthread_mutex_init(&w->mu, NULL);
	/* The operator passes no --upload-addr: the pod's IP (downward API)
	 * is where its Service sends uploads. */
	if (dup_opt(&w->upload_token, o->upload_token) != 0 ||
	    dup_opt(&w->dashboard_url, o->dashboard_url) != 0 ||
	    dup_opt(&w->upload_host, o->upload_host) != 0 ||
	    dup_opt(&w->upload_addr, o->upload_addr != NULL && o->upload_addr[0] != '\0'
	                                 ? o->upload_addr
	                             : o->upload_host != NULL ? o->upload_host
	                                                      : "127.0.0.1") != 0) {
		video_watch_free(w);
		return err_set(errbuf, errbuf_size, -1, "watch: out of memory");
	}
	w->o = *o;
	if (vw_spec_load_file(o->spec_path, &w->spec, errbuf, errbuf_size) < 0) {
		video_watch_free(w);
		return -1;
	}
	if (vw_spec_dir_path(&w->spec, w->dir, sizeof(w->dir)) != 0) {
		video_watch_free(w);
		return err_set(errbuf, errbuf_size, -1, "watch: the folder's path is too long");
	}
	if (w->spec.upload.enabled && w->upload_token == NULL) {
		video_watch_free(w);
		return err_set(errbuf, errbuf_size, -1,
		               "watch: spec.upload is set but $SLUICE_UPLOAD_TOKEN is empty (the "
		               "operator sets it from the Secret spec.upload.token names)");
	}
	if (watch_settle_new(&w->settle, (int64_t)w->spec.settle_seconds * 1000,
	                     WATCH_SETTLE_MAX) != 0) {
		video_watch_free(w);
		return err_set(errbuf, errbuf_size, -1, "watch: out of memory");
	}
	if (kube_config_load(&kcfg, o->kubeconfig, NULL, err, sizeof(err)) != 0) {
		video_watch_free(w);
		return err_set(errbuf, errbuf_size, -1, "watch: %s", err);
	}
	if (kube_client_new(&w->kube, &kcfg, &ko, err, sizeof(err)) != 0) {
		kube_config_free(&kcfg);
		video_watch_free(w);
		return err_set(errbuf, errbuf_size, -1, "watch: %s", err);
	}
	*out = w;
	return 0;
}

static int register_metrics(struct video_watch *w, struct metrics_registry *reg, char *errbuf,
                            size_t errbuf_size)
{
	if (metrics_counter(reg, "sluice_watch_files_seen_total",
	                    "Files that appeared in the watched folder unmarked, uploads included.",
	                    NULL, &w->m_seen, errbuf, errbuf_size) != 0 ||
	    metrics_counter(reg, "sluice_watch_jobs_created_total", "VideoJobs created.", NULL,
	                    &w->m_created, errbuf, errbuf_size) != 0 ||
	    metrics_counter(reg, "sluice_watch_files_rejected_total",
	                    "Files no VideoJob could be made for.", NULL, &w->m_rejected, errbuf,
	                    errbuf_size) != 0 ||
	    metrics_counter(reg, "sluice_watch_api_errors_total",
	                    "VideoJob creations that failed and are retried.", NULL,
	                    &w->m_api_errors, errbuf, errbuf_size) != 0 ||
	    metrics_counter(reg, "sluice_watch_scans_total", "Listings of the watched folder.",
	                    NULL, &w->m_scans, errbuf, errbuf_size) != 0 ||
	    metrics_gauge(reg, "sluice_watch_folder_ok",
	                  "1 when the watched folder can be read and markers written.", NULL,
	                  &w->m_folder_ok, errbuf, errbuf_size) != 0 ||
	    metrics_gauge(reg, "sluice_watch_pending_files",
	                  "Files waiting to settle or for the API server.", NULL, &w->m_pending,
	                  errbuf, errbuf_size) != 0)
		return -1;
	return 0;
}

/* Counts go on from the status a previous watcher wrote. */
static void seed_status(struct video_watch *w)
{
	const struct kube_ref ref = {API_GROUP,         API_VERSION,  "videowatches",
	                             w->spec.namespace, w->spec.name, NULL};
	struct kube_error kerr;
	cJSON *obj = NULL;

	if (kube_client_get(w->kube, &ref, &obj, &kerr) != 0) {
		log_warn("cannot read the VideoWatch back: its counts start at 0", "watch",
		         w->spec.name, "namespace", w->spec.namespace, "error", kerr.message, NULL);
		return;
	}
	watch_status_seed(&w->st, obj);
	cJSON_Delete(obj);
}

int video_watch_start(struct video_watch *w, struct metrics_registry *reg, char *errbuf,
                      size_t errbuf_size)
{
	char settle[16], rescan[16];

	if (register_metrics(w, reg, errbuf, errbuf_size) != 0)
		return -1;
	video_probe_log_to_json(w->spec.name);
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return err_set(errbuf, errbuf_size, -1, "watch: eventfd: %s", strerror(errno));
	w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ino_fd < 0)
		log_warn("no inotify: rescans alone", "error", strerror(errno), NULL);
	seed_status(w);
	if (w->spec.upload.enabled) {
		struct video_upload_options uo = {
		    .spec = &w->spec,
		    .dir = w->dir,
		    .addr = w->upload_addr,
		    .port = w->spec.upload.port,
		    .token = w->upload_token,
		    .dashboard_url = w->dashboard_url,
		    .taker = {taker_lock, taker_unlock, taker_take, w},
		    .metrics = reg,
		};
		const char *host = w->upload_host != NULL ? w->upload_host : w->upload_addr;

		if (video_upload_start(&uo, &w->upload, errbuf, errbuf_size) != 0)
			return -1;
		if (upload_url(w->st.upload_url, sizeof(w->st.upload_url), host,
		               video_upload_port(w->upload)) != 0)
			w->st.upload_url[0] = '\0';
	}
	snprintf(settle, sizeof(settle), "%d", w->spec.settle_seconds);
	snprintf(rescan, sizeof(rescan), "%d", w->spec.rescan_seconds);
	log_info("watching", "watch", w->spec.name, "namespace", w->spec.namespace, "dir", w->dir,
	         "glob", w->spec.glob, "settleSeconds", settle, "rescanSeconds", rescan,
	         "uploadURL", w->st.upload_url[0] != '\0' ? w->st.upload_url : "none", NULL);
	return 0;
}

void video_watch_free(struct video_watch *w)
{
	if (w == NULL)
		return;
	video_upload_stop(w->upload);
	if (w->ino_fd >= 0)
		close(w->ino_fd);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	kube_client_free(w->kube);
	watch_settle_free(w->settle);
	vw_spec_free(&w->spec);
	free(w->upload_token);
	free(w->dashboard_url);
	free(w->upload_host);
	free(w->upload_addr);
	pthread_mutex_destroy(&w->take_mu);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
