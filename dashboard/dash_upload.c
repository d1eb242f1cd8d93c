/* dash_upload.c -- uploads forwarded to a VideoWatch's watcher; see
 * dash_upload.h. */
#include "dash_upload.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "log.h"

int dash_upload_url(char *buf, size_t size, const char *base, const char *file)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t bl = strlen(base), n;

	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		return -1;
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (bl + 2 > size)
		return -1;
	memcpy(buf, base, bl);
	n = bl;
	buf[n++] = '/';
	for (const unsigned char *p = (const unsigned char *)file; *p != '\0'; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		            *p == '~';
		if (n + (plain ? 1 : 3) >= size)
			return -1;
		if (plain) {
			buf[n++] = (char)*p;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	buf[n] = '\0';
	return 0;
}

struct dash_upload {
	CURL *curl;
	struct curl_slist *headers;
	int fd_write, fd_read; /* the socket pair: ours, the transfer's */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wants_body; /* the read callback was called */
	int done;       /* the transfer ended */
	atomic_int abort;
	CURLcode rc;
	char curl_err[CURL_ERROR_SIZE];
	char url[2048];
	char *reply;
	size_t reply_len;
	int reply_cut;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct dash_upload *u = arg;
	ssize_t got;

	pthread_mutex_lock(&u->mu);
	if (!u->wants_body) {
		u->wants_body = 1;
		pthread_cond_broadcast(&u->cv);
	}
	pthread_mutex_unlock(&u->mu);
	do {
		got = read(u->fd_read, buf, size * n);
	} while (got < 0 && errno == EINTR);
	if (atomic_load(&u->abort) || got < 0)
		return CURL_READFUNC_ABORT;
	return (size_t)got; /* 0: the body ended */
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	struct dash_upload *u = arg;
	size_t len = size * n, room = DASH_UPLOAD_REPLY_MAX - u->reply_len;

	if (len > room) {
		u->reply_cut = 1;
		len = room;
	}
	if (len > 0) {
		char *p = realloc(u->reply, u->reply_len + len + 1);
		if (p == NULL)
			return 0;
		u->reply = p;
		memcpy(u->reply + u->reply_len, data, len);
		u->reply_len += len;
		u->reply[u->reply_len] = '\0';
	}
	return size * n;
}

/* Polled by libcurl about once a second, waiting or not: an abort ends the
 * transfer wherever it is (connecting, waiting for the answer). */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct dash_upload *u = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load(&u->abort) ? 1 : 0;
}

static void *transfer(void *arg)
{
	struct dash_upload *u = arg;
	CURLcode rc = curl_easy_perform(u->curl);

	/* No more reading: a writer still feeding gets EPIPE, not a block. */
	close(u->fd_read);
	pthread_mutex_lock(&u->mu);
	u->rc = rc;
	u->done = 1;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

static void upload_free(struct dash_upload *u)
{
	if (u->fd_write >= 0)
		close(u->fd_write);
	curl_slist_free_all(u->headers);
	curl_easy_cleanup(u->curl);
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->mu);
	free(u->reply);
	free(u);
}

/* The transfer's outcome into r; call once it is done. */
static void outcome(struct dash_upload *u, struct dash_reply *r)
{
	long status = 0;
	char *ct = NULL;

	if (u->rc != CURLE_OK) {
		dash_reply_error(r, 502, "cannot upload to the watcher at %s: %s", u->url,
		                 u->curl_err[0] != '\0' ? u->curl_err : curl_easy_strerror(u->rc));
		return;
	}
	curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(u->curl, CURLINFO_CONTENT_TYPE, &ct);
	if (status < 100 || status > 599) {
		dash_reply_error(r, 502, "the watcher at %s answered no HTTP status", u->url);
		return;
	}
	r->status = (unsigned int)status;
	r->type = ct != NULL && strncmp(ct, "application/json", 16) == 0
	              ? "application/json"
	              : "text/plain; charset=utf-8";
	r->body = u->reply != NULL ? u->reply : strdup("");
	r->len = u->reply != NULL ? u->reply_len : 0;
	u->reply = NULL;
	if (r->body == NULL)
		dash_reply_error(r, 500, "out of memory");
}

static void join(struct dash_upload *u)
{
	pthread_join(u->thread, NULL);
}

int dash_upload_start(struct dash_upload **out, const struct dash_upload_options *o,
                      struct dash_reply *r)
{
	struct dash_upload *u = calloc(1, sizeof(*u));
	char hdr[8192];
	int fds[2];
	pthread_condattr_t ca;

	*out = NULL;
	if (u == NULL)
		return dash_reply_error(r, 500, "out of memory"), -1;
	u->fd_write = u->fd_read = -1;
	pthread_mutex_init(&u->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(u->url, sizeof(u->url), "%s", o->url);
	u->curl = curl_easy_init();
	if (u->curl == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
		upload_free(u);
		return dash_reply_error(r, 500, "cannot start the upload: %s", strerror(errno)), -1;
	}
	u->fd_write = fds[0];
	u->fd_read = fds[1];
	snprintf(hdr, sizeof(hdr), "Authorization: %s", o->authorization);
	u->headers = curl_slist_append(u->headers, hdr);
	snprintf(hdr, sizeof(hdr), "Content-Type: %s",
	         o->content_type != NULL ? o->content_type : "application/octet-stream");
	u->headers = curl_slist_append(u->headers, hdr);
	if (u->headers == NULL) {
		close(u->fd_read);
		upload_free(u);
		return dash_reply_error(r, 500, "out of memory"), -1;
	}
	curl_easy_setopt(u->curl, CURLOPT_URL, u->url);
	curl_easy_setopt(u->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(u->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(u->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, u->headers);
	curl_easy_setopt(u->curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(u->curl, CURLOPT_READDATA, u);
	curl_easy_setopt(u->curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(u->curl, CURLOPT_WRITEDATA, u);
	curl_easy_setopt(u->curl, CURLOPT_ERRORBUFFER, u->curl_err);
	curl_easy_setopt(u->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(u->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(u->curl, CURLOPT_XFERINFODATA, u);
	curl_easy_setopt(u->curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000L);
	/* A stall (nothing moving for two minutes) ends it; a slow upload does
	 * not. */
	curl_easy_setopt(u->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(u->curl, CURLOPT_LOW_SPEED_TIME, 120L);
	if (o->content_length >= 0)
		curl_easy_setopt(u->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)o->content_length);
	if (pthread_create(&u->thread, NULL, transfer, u) != 0) {
		close(u->fd_read);
		upload_free(u);
		return dash_reply_error(r, 500, "cannot start the upload thread"), -1;
	}
	/* Until the watcher takes the body or answers without it. */
	struct timespec deadline =
	    clock_mono_deadline(o->start_timeout_ms > 0 ? o->start_timeout_ms : 30000);
	pthread_mutex_lock(&u->mu);
	while (!u->wants_body && !u->done && pthread_cond_timedwait(&u->cv, &u->mu, &deadline) == 0)
		;
	int done = u->done, wants = u->wants_body;
	pthread_mutex_unlock(&u->mu);
	if (done) {
		join(u);
		outcome(u, r);
		upload_free(u);
		return 1;
	}
	if (!wants) {
		dash_upload_abort(u);
		return dash_reply_error(r, 504, "the watcher at %s did not answer", o->url), 1;
	}
	*out = u;
	return 0;
}

int dash_upload_feed(struct dash_upload *u, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(u->fd_write, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1; /* EPIPE: the transfer ended */
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

void dash_upload_finish(struct dash_upload *u, struct dash_reply *r)
{
	shutdown(u->fd_write, SHUT_WR); /* the body's end */
	join(u);
	outcome(u, r);
	upload_free(u);
}

void dash_upload_abort(struct dash_upload *u)
{
	if (u == NULL)
		return;
	atomic_store(&u->abort, 1);
	shutdown(u->fd_write, SHUT_RDWR);
	join(u);
	upload_free(u);
}
