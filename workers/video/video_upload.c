/* video_upload.c -- the upload endpoint. See video_upload.h. */
#include "video_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "upload_probe.h"
#include "upload_rules.h"
#include "watch_marker.h"

#define CONTENT_TYPE_JSON "application/json"

struct video_upload {
	struct video_upload_options o;
	char *token, *dashboard_url, *dir;
	struct httpd_handler handler;
	struct httpd *httpd;
	struct metrics_family *uploads, *bytes;
};

/* One PUT in progress. */
struct upload {
	char name[UPLOAD_NAME_MAX + 1];
	char tmp[PATH_MAX];   /* the temporary file's path */
	char final[PATH_MAX]; /* <dir>/<name> */
	int fd;               /* the temporary file, -1 once closed */
	int64_t received;
	int probed;
	int placed; /* renamed to final: no longer ours to remove */
	int64_t started_ms;
};

static void count(struct video_upload *u, const char *result)
{
	const char *v[] = {result, NULL};

	if (u->uploads != NULL)
		(void)metrics_inc(u->uploads, v);
}

static const char *result_of(unsigned int status)
{
	switch (status) {
	case 201:
		return "ok";
	case 202:
		return "pending";
	case 400:
		return "bad_request";
	case 401:
		return "unauthorized";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 409:
		return "exists";
	case 413:
		return "too_large";
	case 415:
		return "not_video";
	case 422:
		return "rejected";
	default:
		return "error";
	}
}

/* Answers status with text (a line), counted, logged unless it is a 2xx. */
static void refuse(struct video_upload *u, struct httpd_request *r, const struct upload *up,
                   unsigned int status, const char *text)
{
	char code[8];

	snprintf(code, sizeof(code), "%u", status);
	count(u, result_of(status));
	log_warn("upload refused", "watch", u->o.spec->name, "file",
	         up != NULL ? up->name : httpd_request_path(r), "status", code, "reason", text,
	         NULL);
	if (status == 405)
		(void)httpd_header(r, "Allow", "PUT");
	(void)httpd_respond_text(r, status, text);
}

/* Closes and removes the temporary file, unless it was placed. */
static void discard(struct upload *up)
{
	if (up->fd >= 0) {
		close(up->fd);
		up->fd = -1;
	}
	if (!up->placed && up->tmp[0] != '\0') {
		if (unlink(up->tmp) != 0 && errno != ENOENT)
			log_warn("cannot remove a partial upload", "path", up->tmp, "error",
			         strerror(errno), NULL);
		up->tmp[0] = '\0';
	}
}

static uint64_t random64(void)
{
	static _Atomic uint64_t seq;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* O_EXCL still makes the name ours; this only spreads them. */
	return (uint64_t)clock_real_ns() ^ (seq++ << 48) ^ (uint64_t)getpid();
}

/* 409 when the name is present, as a file or as a marker. */
static int check_free(struct video_upload *u, const struct upload *up, char *why, size_t size)
{
	struct stat st;
	int m;

	if (lstat(up->final, &st) == 0)
		return err_set(why, size, -1, "\"%s\" is already in the watched folder", up->name);
	m = watch_marker_exists(u->dir, u->o.spec->name, up->name);
	if (m == 1)
		return err_set(why, size, -1,
		               "\"%s\" was taken before (its marker is in %s/.sluice/%s); pick "
		               "another name",
		               up->name, u->dir, u->o.spec->name);
	return 0;
}

static void on_begin(void *arg, struct httpd_request *r, void **state)
{
	struct video_upload *u = arg;
	struct upload_verdict v;
	struct upload *up;
	const char *name;
	char why[512], tmp_name[NAME_MAX + 1];
	cJSON *job;

	*state = NULL;
	if (upload_check_request(u->o.spec, u->token, httpd_request_method(r),
	                         httpd_request_path(r), httpd_request_header(r, "Authorization"),
	                         httpd_request_content_length(r), &name, &v) != 0) {
		refuse(u, r, NULL, v.status, v.message);
		return;
	}
	up = calloc(1, sizeof(*up));
	if (up == NULL) {
		refuse(u, r, NULL, 500, "out of memory");
		return;
	}
	up->fd = -1;
	up->started_ms = clock_mono_ms();
	snprintf(up->name, sizeof(up->name), "%s", name);
	*state = up;
	if (snprintf(up->final, sizeof(up->final), "%s/%s", u->dir, name) >=
	        (int)sizeof(up->final) ||
	    upload_temp_name(tmp_name, sizeof(tmp_name), name, random64()) != 0 ||
	    snprintf(up->tmp, sizeof(up->tmp), "%s/%s", u->dir, tmp_name) >= (int)sizeof(up->tmp)) {
		up->tmp[0] = '\0';
		refuse(u, r, up, 400, "the file's path is too long");
		return;
	}
	if (check_free(u, up, why, sizeof(why)) != 0) {
		up->tmp[0] = '\0';
		refuse(u, r, up, 409, why);
		return;
	}
	/* The name must make a VideoJob: refused now, not after the body. */
	job = vw_job_object(u->o.spec, name, why, sizeof(why));
	if (job == NULL) {
		up->tmp[0] = '\0';
		refuse(u, r, up, 400, why);
		return;
	}
	cJSON_Delete(job);
	up->fd = open(up->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (up->fd < 0) {
		int err = errno;

		snprintf(why, sizeof(why), "cannot store the upload: %s: %s", u->dir,
		         strerror(err));
		up->tmp[0] = '\0';
		refuse(u, r, up, err == ENOENT || err == ENOTDIR ? 503 : 500, why);
		return;
	}
	log_info("upload started", "watch", u->o.spec->name, "file", up->name, NULL);
}

/* Step 1 of upload_probe.h over what is in; 415 when FFmpeg knows nothing
 * of it. Returns 0 to go on. */
static int probe_prefix(struct video_upload *u, struct httpd_request *r, struct upload *up)
{
	char fmt[128], why[256], msg[UPLOAD_NAME_MAX + 320];

	up->probed = 1;
	if (upload_probe_prefix(up->fd, up->received, fmt, sizeof(fmt), why, sizeof(why)) == 0)
		return 0;
	snprintf(msg, sizeof(msg), "\"%s\" is not a video FFmpeg can open: %s", up->name, why);
	/* Answered (and counted) before the file goes, so whoever sees it gone
	 * sees the count too. */
	refuse(u, r, up, 415, msg);
	discard(up);
	return -1;
}

static void on_body(void *arg, struct httpd_request *r, void *state, const char *data, size_t len)
{
	struct video_upload *u = arg;
	struct upload *up = state;
	struct upload_verdict v;
	char why[512];

	if (u->bytes != NULL)
		(void)metrics_add(u->bytes, NULL, (double)len);
	if (upload_over_limit(up->received + (int64_t)len, u->o.spec->upload.max_bytes, &v)) {
		refuse(u, r, up, v.status, v.message);
		discard(up);
		return;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(up->fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;

			snprintf(why, sizeof(why), "cannot store the upload: %s", strerror(err));
			refuse(u, r, up, err == ENOSPC || err == EDQUOT ? 507 : 500, why);
			discard(up);
			return;
		}
		off += (size_t)w;
	}
	up->received += (int64_t)len;
	if (!up->probed && up->received >= UPLOAD_PROBE_BYTES)
		(void)probe_prefix(u, r, up);
}

/* Renames tmp to final unless final exists: 0, or -1 with errno (EEXIST
 * when it does). */
static int place(const char *tmp, const char *final)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE (NFS, older ones): link
	 * fails with EEXIST just the same. */
	if (link(tmp, final) != 0)
		return -1;
	if (unlink(tmp) != 0)
		log_warn("cannot remove an upload's temporary name", "path", tmp, "error",
		         strerror(errno), NULL);
	return 0;
}

static void answer_taken(struct video_upload *u, struct httpd_request *r, struct upload *up, int rc,
                         const char *job, const char *why)
{
	char msg[700], ms[32];
	char *body;

	switch (rc) {
	case VIDEO_UPLOAD_TAKEN:
	case VIDEO_UPLOAD_EXISTED:
	case VIDEO_UPLOAD_PENDING:
		body = upload_response_json(job, u->o.spec->namespace, up->name, u->dashboard_url,
		                            rc == VIDEO_UPLOAD_PENDING ? why : NULL);
		if (body == NULL) {
			refuse(u, r, up, 500, "out of memory");
			return;
		}
		snprintf(ms, sizeof(ms), "%lld", (long long)(clock_mono_ms() - up->started_ms));
		count(u, rc == VIDEO_UPLOAD_PENDING ? "pending" : "ok");
		log_info(rc == VIDEO_UPLOAD_PENDING ? "upload stored, its VideoJob pending"
		                                    : "upload stored, VideoJob made",
		         "watch", u->o.spec->name, "file", up->name, "videojob", job, "ms", ms,
		         NULL);
		(void)httpd_respond_owned(r, rc == VIDEO_UPLOAD_PENDING ? 202 : 201,
		                          CONTENT_TYPE_JSON, body, strlen(body));
		return;
	case VIDEO_UPLOAD_MARKED:
		/* Marked between begin and now: it will never be taken, so the
		 * file we just placed would only lie there. */
		if (unlink(up->final) != 0)
			log_warn("cannot remove an upload", "path", up->final, "error",
			         strerror(errno), NULL);
		snprintf(msg, sizeof(msg), "\"%s\" was taken before; pick another name", up->name);
		refuse(u, r, up, 409, msg);
		return;
	default:
		if (unlink(up->final) != 0)
			log_warn("cannot remove an upload", "path", up->final, "error",
			         strerror(errno), NULL);
		snprintf(msg, sizeof(msg), "no VideoJob can be made for \"%s\": %.400s", up->name,
		         why);
		refuse(u, r, up, 422, msg);
		return;
	}
}

static void on_end(void *arg, struct httpd_request *r, void *state)
{
	struct video_upload *u = arg;
	struct upload *up = state;
	char why[512], msg[700], job[64] = "";
	int rc;

	if (!up->probed && probe_prefix(u, r, up) != 0)
		return;
	rc = fsync(up->fd);
	if (rc == 0) {
		rc = close(up->fd);
		up->fd = -1;
	}
	if (rc != 0) {
		int err = errno;

		snprintf(msg, sizeof(msg), "cannot store the upload: %s", strerror(err));
		discard(up);
		refuse(u, r, up, err == ENOSPC || err == EDQUOT ? 507 : 500, msg);
		return;
	}
	if (upload_probe_file(up->tmp, why, sizeof(why)) != 0) {
		snprintf(msg, sizeof(msg), "\"%s\" is not a video FFmpeg can open: %.400s",
		         up->name, why);
		discard(up);
		refuse(u, r, up, 415, msg);
		return;
	}
	u->o.taker.lock(u->o.taker.arg);
	if (place(up->tmp, up->final) != 0) {
		int err = errno;

		u->o.taker.unlock(u->o.taker.arg);
		discard(up);
		if (err == EEXIST)
			snprintf(msg, sizeof(msg), "\"%s\" is already in the watched folder",
			         up->name);
		else
			snprintf(msg, sizeof(msg), "cannot store the upload: %.500s: %s", up->final,
			         strerror(err));
		refuse(u, r, up, err == EEXIST ? 409 : 500, msg);
		return;
	}
	up->placed = 1;
	why[0] = '\0';
	rc = u->o.taker.take(u->o.taker.arg, up->name, job, sizeof(job), why, sizeof(why));
	u->o.taker.unlock(u->o.taker.arg);
	answer_taken(u, r, up, rc, job, why);
}

static void on_done(void *arg, void *state, int completed)
{
	struct video_upload *u = arg;
	struct upload *up = state;

	if (up == NULL)
		return;
	if (!completed && !up->placed && up->tmp[0] != '\0') {
		count(u, "aborted");
		log_warn("upload abandoned: the client went away", "watch", u->o.spec->name, "file",
		         up->name, NULL);
	}
	discard(up);
	free(up);
}

int video_upload_start(const struct video_upload_options *o, struct video_upload **out,
                       char *errbuf, size_t errbuf_size)
{
	static const char *const result[] = {"result", NULL};
	struct video_upload *u;
	struct httpd_options ho = {0};

	*out = NULL;
	if (o->token == NULL || o->token[0] == '\0')
		return err_set(errbuf, errbuf_size, -1, "upload: the bearer token is empty");
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return err_set(errbuf, errbuf_size, -1, "upload: out of memory");
	u->o = *o;
	u->token = strdup(o->token);
	u->dir = strdup(o->dir);
	u->dashboard_url = o->dashboard_url != NULL && o->dashboard_url[0] != '\0'
	                       ? strdup(o->dashboard_url)
	                       : NULL;
	if (u->token == NULL || u->dir == NULL ||
	    (o->dashboard_url != NULL && o->dashboard_url[0] != '\0' && u->dashboard_url == NULL)) {
		video_upload_stop(u);
		return err_set(errbuf, errbuf_size, -1, "upload: out of memory");
	}
	if (o->metrics != NULL && (metrics_counter(o->metrics, "sluice_watch_uploads_total",
	                                           "Uploads answered, by result.", result,
	                                           &u->uploads, errbuf, errbuf_size) != 0 ||
	                           metrics_counter(o->metrics, "sluice_watch_upload_bytes_total",
	                                           "Upload body bytes received.", NULL, &u->bytes,
	                                           errbuf, errbuf_size) != 0)) {
		video_upload_stop(u);
		return -1;
	}
	u->handler = (struct httpd_handler){
	    .begin = on_begin, .body = on_body, .end = on_end, .done = on_done, .arg = u};
	ho.addr = o->addr;
	ho.port = o->port;
	ho.handler = &u->handler;
	if (httpd_start(&ho, &u->httpd, errbuf, errbuf_size) != 0) {
		video_upload_stop(u);
		return -1;
	}
	*out = u;
	return 0;
}

int video_upload_port(const struct video_upload *u)
{
	return httpd_port(u->httpd);
}

void video_upload_stop(struct video_upload *u)
{
	if (u == NULL)
		return;
	httpd_stop(u->httpd);
	free(u->token);
	free(u->dir);
	free(u->dashboard_url);
	free(u);
}
