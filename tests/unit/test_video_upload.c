/* Unit tests for workers/video/video_upload.c: the upload endpoint over
 * real sockets (libcurl, and raw sockets where a client must misbehave),
 * with a temporary folder and a fake taker in place of the API server.
 * The videos are YUV4MPEG2 (a text header and raw frames), which FFmpeg
 * opens with a video stream and which is easy to write here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "clock.h"
#include "log.h"
#include "video_upload.h"
#include "vw_spec.h"
#include "watch_marker.h"

#define TOKEN "tok-123"
#define MAX_BYTES (6 << 20)

struct fake_taker {
	pthread_mutex_t mu;
	int locked;
	int calls;
	int rc; /* what take answers */
	char last[256];
	int was_locked;
};

struct fixture {
	char dir[128];
	struct vw_spec spec;
	struct fake_taker taker;
	struct video_upload *u;
	struct metrics_registry *reg;
	int port;
};

static void fake_lock(void *arg)
{
	struct fake_taker *t = arg;

	pthread_mutex_lock(&t->mu);
	t->locked = 1;
}

static void fake_unlock(void *arg)
{
	struct fake_taker *t = arg;

	t->locked = 0;
	pthread_mutex_unlock(&t->mu);
}

static int fake_take(void *arg, const char *file, char *job, size_t job_size, char *why,
                     size_t why_size)
{
	struct fake_taker *t = arg;

	t->calls++;
	t->was_locked = t->locked;
	snprintf(t->last, sizeof(t->last), "%s", file);
	if (vw_job_name("cam", file, job, job_size) != 0)
		job[0] = '\0';
	if (t->rc == VIDEO_UPLOAD_PENDING)
		snprintf(why, why_size, "cannot create VideoJob %s: connection refused", job);
	if (t->rc == VIDEO_UPLOAD_REJECTED)
		snprintf(why, why_size, "the API server refused the VideoJob: spec.x: Invalid");
	return t->rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char json[2 * PATH_MAX], err[512];
	cJSON *j;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_video_upload.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(json, sizeof(json),
	         "{\"volume\":{\"mountPath\":\"%s\",\"hostPath\":{\"path\":\"%s\"}},"
	         "\"upload\":{\"token\":{\"name\":\"up\",\"key\":\"t\"},\"maxBytes\":%d,"
	         "\"port\":8080},"
	         "\"template\":{\"output\":{\"uri\":\"file://%s/out/{stem}.mkv\"},"
	         "\"kafka\":{\"bootstrap\":\"k:9092\"}}}",
	         f->dir, f->dir, MAX_BYTES, f->dir);
	j = cJSON_Parse(json);
	if (j == NULL || vw_spec_parse(j, "cam", "media", &f->spec, err, sizeof(err)) != 0) {
		fprintf(stderr, "spec: %s\n", err);
		return -1;
	}
	cJSON_Delete(j);
	pthread_mutex_init(&f->taker.mu, NULL);
	f->taker.rc = VIDEO_UPLOAD_TAKEN;
	f->reg = metrics_registry_new();
	struct video_upload_options o = {
	    .spec = &f->spec,
	    .dir = f->dir,
	    .addr = "127.0.0.1",
	    .port = 0,
	    .token = TOKEN,
	    .dashboard_url = NULL,
	    .taker = {fake_lock, fake_unlock, fake_take, &f->taker},
	    .metrics = f->reg,
	};
	if (f->reg == NULL || video_upload_start(&o, &f->u, err, sizeof(err)) != 0) {
		fprintf(stderr, "start: %s\n", err);
		return -1;
	}
	f->port = video_upload_port(f->u);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 16];

	video_upload_stop(f->u);
	metrics_registry_free(f->reg);
	vw_spec_free(&f->spec);
	pthread_mutex_destroy(&f->taker.mu);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	log_set_output(devnull); /* the endpoint logs every refusal */
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

/* ------------------------------------------------------------- content */

/* A YUV4MPEG2 video of frames frames of w x h (4:2:0). Malloc'd. */
static char *y4m(int w, int h, int frames, size_t *len)
{
	char head[128];
	size_t hn = (size_t)snprintf(head, sizeof(head),
	                             "YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n", w, h);
	size_t frame = (size_t)w * h * 3 / 2;
	size_t n = hn + (size_t)frames * (6 + frame);
	char *p = malloc(n), *q = p;

	assert_non_null(p);
	memcpy(q, head, hn);
	q += hn;
	for (int i = 0; i < frames; i++) {
		memcpy(q, "FRAME\n", 6);
		q += 6;
		memset(q, 16 + i, frame);
		q += frame;
	}
	*len = n;
	return p;
}

static char *text(size_t n)
{
	char *p = malloc(n);
	static const char line[] = "this is not a video, only words on a line\n";

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = line[i % (sizeof(line) - 1)];
	return p;
}

/* ------------------------------------------------------------- clients */

struct reply {
	long status;
	char body[4096];
	size_t len;
};

struct src {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct src *s = arg;
	size_t k = size * n;

	if (k > s->len - s->off)
		k = s->len - s->off;
	memcpy(buf, s->data + s->off, k);
	s->off += k;
	return k;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (r->len + len >= sizeof(r->body))
		len = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return size * n;
}

/* PUT data to path; chunked when chunked is set (no Content-Length). */
static struct reply put(const struct fixture *f, const char *path, const char *token,
                        const char *data, size_t len, int chunked)
{
	struct reply r;
	struct src s = {data, len, 0};
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(&r, 0, sizeof(r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &s);
	if (!chunked)
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	rc = curl_easy_perform(c);
	/* A server that answers before the body is all sent may close while
	 * curl still sends: the answer is what counts. */
	if (rc == CURLE_OK || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

static int connect_to(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* What the server sent within timeout_ms, until it closes or goes quiet
 * after its first bytes. */
static void recv_some(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	int64_t end = clock_mono_ms() + timeout_ms;

	buf[0] = '\0';
	while (n + 1 < size && clock_mono_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, n > 0 ? 200 : 100) <= 0) {
			if (n > 0)
				break;
			continue;
		}
		r = recv(fd, buf + n, size - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
	}
}

/* ------------------------------------------------------------- folder */

/* Entries of the folder other than "." and ".." (and .sluice). */
static int entries(const struct fixture *f, char names[][256], int max)
{
	DIR *d = opendir(f->dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, ".sluice") == 0)
			continue;
		if (n < max)
			snprintf(names[n], 256, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int folder_count(const struct fixture *f)
{
	char names[16][256];

	return entries(f, names, 16);
}

/* Waits (up to 10 s) until the folder holds n entries: on inotify's
 * word that it changed, so the wait ends with the change, not a timer. */
static void wait_folder_count(const struct fixture *f, int n)
{
	int64_t end = clock_mono_ms() + 10000;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	char buf[4096];

	assert_true(fd >= 0);
	assert_true(inotify_add_watch(fd, f->dir,
	                              IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) >= 0);
	/* Watching before counting: a change between the two still wakes us. */
	while (folder_count(f) != n && clock_mono_ms() < end) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, (int)(end - clock_mono_ms())) > 0)
			while (read(fd, buf, sizeof(buf)) > 0)
				;
	}
	close(fd);
	assert_int_equal(folder_count(f), n);
}

/* The registry renders line. */
static void assert_metric(const struct fixture *f, const char *line)
{
	size_t len;
	char *m;

	assert_int_equal(metrics_render(f->reg, &m, &len), 0);
	if (strstr(m, line) == NULL)
		fail_msg("no metric line %s in\n%s", line, m);
	free(m);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	struct stat st;
	char *p;

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	*len = fread(p, 1, (size_t)st.st_size, fp);
	fclose(fp);
	return p;
}

/* -------------------------------------------------------------- tests */

static void test_video_is_stored_and_taken(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], *back, job[64];
	size_t len, blen;
	char *v = y4m(64, 48, 5, &len);
	struct reply r = put(f, "/uploads/clip.y4m", TOKEN, v, len, 0);
	cJSON *j;

	assert_int_equal(r.status, 201);
	j = cJSON_Parse(r.body);
	assert_non_null(j);
	assert_int_equal(vw_job_name("cam", "clip.y4m", job, sizeof(job)), 0);
	assert_string_equal(cJSON_GetObjectItem(j, "videoJob")->valuestring, job);
	assert_string_equal(cJSON_GetObjectItem(j, "namespace")->valuestring, "media");
	assert_string_equal(cJSON_GetObjectItem(j, "file")->valuestring, "clip.y4m");
	assert_non_null(strstr(cJSON_GetObjectItem(j, "url")->valuestring,
	                       "/apis/sluice.dev/v1alpha1/namespaces/media/videojobs/"));
	cJSON_Delete(j);
	/* Taken once, under the lock, and the file is whole under its name. */
	assert_int_equal(f->taker.calls, 1);
	assert_true(f->taker.was_locked);
	assert_string_equal(f->taker.last, "clip.y4m");
	snprintf(path, sizeof(path), "%s/clip.y4m", f->dir);
	back = slurp(path, &blen);
	assert_int_equal(blen, len);
	assert_memory_equal(back, v, len);
	free(back);
	assert_int_equal(folder_count(f), 1);
	free(v);

	/* The same name again: 409, before the body. */
	v = y4m(16, 16, 1, &len);
	r = put(f, "/uploads/clip.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(r.body, "already in the watched folder"));
	assert_int_equal(f->taker.calls, 1);
	free(v);
}

/* A file bigger than the prefix FFmpeg looks at first, sent chunked. */
static void test_big_video_chunked(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *v = y4m(640, 480, 11, &len);
	struct reply r;

	assert_true(len > (4u << 20));
	assert_true(len < MAX_BYTES);
	r = put(f, "/uploads/big.y4m", TOKEN, v, len, 1);
	assert_int_equal(r.status, 201);
	assert_int_equal(f->taker.calls, 1);
	assert_int_equal(folder_count(f), 1);
	free(v);
}

static void test_not_a_video(void **state)
{
	struct fixture *f = *state;
	char *t = text(10000);
	struct reply r = put(f, "/uploads/notes.mp4", TOKEN, t, 10000, 0);

	assert_int_equal(r.status, 415);
	assert_non_null(strstr(r.body, "\"notes.mp4\" is not a video FFmpeg can open: "
	                               "Invalid data found when processing input"));
	assert_int_equal(folder_count(f), 0);
	assert_int_equal(f->taker.calls, 0);
	free(t);
	/* Empty. */
	r = put(f, "/uploads/empty.mp4", TOKEN, "", 0, 0);
	assert_int_equal(r.status, 415);
	assert_int_equal(folder_count(f), 0);
}

/* A container FFmpeg recognises from its start whose whole does not open
 * with a video stream: a YUV4MPEG2 header over text. */
static void test_recognised_but_broken(void **state)
{
	struct fixture *f = *state;
	static const char bad[] = "YUV4MPEG2 W0 H0 F25:1\nFRAME\nxx";
	struct reply r = put(f, "/uploads/bad.y4m", TOKEN, bad, sizeof(bad) - 1, 0);

	assert_int_equal(r.status, 415);
	assert_non_null(strstr(r.body, "is not a video FFmpeg can open"));
	assert_int_equal(folder_count(f), 0);
}

/* Past the first 4 MiB of text the upload is refused and its file
 * deleted; what the client sends after is read and dropped (libmicrohttpd
 * answers once the body is all in). */
static void test_refused_after_the_prefix(void **state)
{
	struct fixture *f = *state;
	size_t total = 5u << 20, part = (4u << 20) + 100000;
	char head[256], resp[2048];
	char *t = text(total);
	int fd = connect_to(f->port);

	snprintf(head, sizeof(head),
	         "PUT /uploads/long.mp4 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	         "\r\nContent-Length: %zu\r\n\r\n",
	         total);
	send_all(fd, head, strlen(head));
	send_all(fd, t, part);
	/* Refused on the prefix (counted before the file goes), the temporary
	 * file gone, before the rest. */
	wait_folder_count(f, 0);
	assert_metric(f, "sluice_watch_uploads_total{result=\"not_video\"} 1\n");
	send_all(fd, t + part, total - part);
	recv_some(fd, resp, sizeof(resp), 10000);
	assert_non_null(strstr(resp, "HTTP/1.1 415"));
	assert_non_null(strstr(resp, "Invalid data found when processing input"));
	close(fd);
	assert_int_equal(folder_count(f), 0);
	free(t);
}

static void test_token(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *v = y4m(16, 16, 1, &len);
	struct reply r = put(f, "/uploads/a.y4m", "wrong", v, len, 0);

	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "Authorization: Bearer"));
	r = put(f, "/uploads/a.y4m", NULL, v, len, 0);
	assert_int_equal(r.status, 401);
	assert_int_equal(folder_count(f), 0);
	assert_int_equal(f->taker.calls, 0);
	free(v);
}

/* "Expect: 100-continue" (curl -T): a refusal comes instead of the 100,
 * so the body is never sent. */
static void test_refused_before_100_continue(void **state)
{
	struct fixture *f = *state;
	static const char *const heads[] = {
	    "PUT /uploads/a.y4m HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
	    "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
	    "PUT /uploads/a.y4m HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
	    "Content-Length: 99999999\r\nExpect: 100-continue\r\n\r\n",
	};
	static const char *const want[] = {"HTTP/1.1 401", "HTTP/1.1 413"};
	char resp[2048];

	for (size_t i = 0; i < 2; i++) {
		int fd = connect_to(f->port);

		send_all(fd, heads[i], strlen(heads[i]));
		recv_some(fd, resp, sizeof(resp), 5000);
		assert_non_null(strstr(resp, want[i]));
		assert_null(strstr(resp, "100 Continue"));
		close(fd);
	}
	assert_non_null(strstr(resp, "99999999 bytes is over the watch's limit of 6291456 bytes"));
	assert_int_equal(folder_count(f), 0);
}

static void test_too_large_streamed(void **state)
{
	struct fixture *f = *state;
	size_t len = MAX_BYTES + 1;
	char *v = text(len);
	struct reply r = put(f, "/uploads/huge.y4m", TOKEN, v, len, 1);

	/* The text is refused by FFmpeg after 4 MiB already; a video header
	 * first makes the size the reason. */
	memcpy(v, "YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\nFRAME\n", 47);
	assert_true(r.status == 415 || r.status == 413);
	r = put(f, "/uploads/huge.y4m", TOKEN, v, len, 1);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "over the watch's limit of 6291456 bytes"));
	wait_folder_count(f, 0);
	assert_int_equal(f->taker.calls, 0);
	free(v);
}

static void test_client_gone_halfway(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *v = y4m(320, 240, 20, &len);
	char head[256];
	int fd = connect_to(f->port);

	snprintf(head, sizeof(head),
	         "PUT /uploads/half.y4m HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	         "\r\nContent-Length: %zu\r\n\r\n",
	         len);
	send_all(fd, head, strlen(head));
	send_all(fd, v, len / 2);
	/* The temporary file is there while the body comes... */
	wait_folder_count(f, 1);
	{
		char names[4][256];

		assert_int_equal(entries(f, names, 4), 1);
		assert_int_equal(strncmp(names[0], ".upload-half.y4m-", 17), 0);
	}
	/* ...and gone with the client. */
	close(fd);
	wait_folder_count(f, 0);
	assert_int_equal(f->taker.calls, 0);
	free(v);
}

static void test_names(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], err[256];
	size_t len;
	char *v = y4m(16, 16, 1, &len);
	struct reply r;

	r = put(f, "/uploads/", TOKEN, v, len, 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "no file name"));
	r = put(f, "/uploads/.x.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 400);
	r = put(f, "/uploads/a%2Fb.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "one path segment"));
	r = put(f, "/elsewhere/a.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 404);
	/* A name with a marker was taken before: never again. */
	assert_int_equal(
	    watch_marker_write(f->dir, "cam", "old.y4m", "cam-old-1", err, sizeof(err)), 0);
	r = put(f, "/uploads/old.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 409);
	assert_non_null(strstr(r.body, "taken before"));
	/* A name already in the folder (written there by other means). */
	snprintf(path, sizeof(path), "%s/there.y4m", f->dir);
	write_file(path, "x", 1);
	r = put(f, "/uploads/there.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 409);
	assert_int_equal(folder_count(f), 1);
	assert_int_equal(f->taker.calls, 0);
	free(v);
}

static void test_method(void **state)
{
	struct fixture *f = *state;
	CURL *c = curl_easy_init();
	char url[128];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/uploads/a.y4m", f->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	{
		struct reply r;

		memset(&r, 0, sizeof(r));
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 405);
	curl_easy_cleanup(c);
}

/* What the taker says becomes the answer. */
static void test_take_outcomes(void **state)
{
	struct fixture *f = *state;
	size_t len;
	char *v = y4m(16, 16, 2, &len);
	struct reply r;
	cJSON *j;

	/* The API server is away: stored, 202, the job to come. */
	f->taker.rc = VIDEO_UPLOAD_PENDING;
	r = put(f, "/uploads/p.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 202);
	j = cJSON_Parse(r.body);
	assert_non_null(j);
	assert_non_null(
	    strstr(cJSON_GetObjectItem(j, "pending")->valuestring, "connection refused"));
	assert_non_null(cJSON_GetObjectItem(j, "videoJob"));
	cJSON_Delete(j);
	assert_int_equal(folder_count(f), 1);

	/* A job of that name was there already: taken all the same. */
	f->taker.rc = VIDEO_UPLOAD_EXISTED;
	r = put(f, "/uploads/e.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(folder_count(f), 2);

	/* The API refused the job: 422 and nothing kept. */
	f->taker.rc = VIDEO_UPLOAD_REJECTED;
	r = put(f, "/uploads/r.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(r.body, "no VideoJob can be made for \"r.y4m\": the API server"));
	assert_int_equal(folder_count(f), 2);

	/* Marked meanwhile (another watcher): 409 and nothing kept. */
	f->taker.rc = VIDEO_UPLOAD_MARKED;
	r = put(f, "/uploads/m.y4m", TOKEN, v, len, 0);
	assert_int_equal(r.status, 409);
	assert_int_equal(folder_count(f), 2);
	assert_int_equal(f->taker.calls, 4);
	free(v);
}

static void test_metrics(void **state)
{
	struct fixture *f = *state;
	size_t len, tlen;
	char *v = y4m(16, 16, 1, &len), *m;

	assert_int_equal(put(f, "/uploads/a.y4m", TOKEN, v, len, 0).status, 201);
	assert_int_equal(put(f, "/uploads/b.y4m", "no", v, len, 0).status, 401);
	assert_int_equal(put(f, "/uploads/c.mp4", TOKEN, "words", 5, 0).status, 415);
	assert_int_equal(metrics_render(f->reg, &m, &tlen), 0);
	assert_non_null(strstr(m, "sluice_watch_uploads_total{result=\"ok\"} 1\n"));
	assert_non_null(strstr(m, "sluice_watch_uploads_total{result=\"unauthorized\"} 1\n"));
	assert_non_null(strstr(m, "sluice_watch_uploads_total{result=\"not_video\"} 1\n"));
	{
		char want[96];

		snprintf(want, sizeof(want), "sluice_watch_upload_bytes_total %zu\n", len + 5);
		assert_non_null(strstr(m, want));
	}
	free(m);
	free(v);
}

static void test_start_errors(void **state)
{
	struct fixture *f = *state;
	struct video_upload *u = NULL;
	char err[256];
	struct video_upload_options o = {
	    .spec = &f->spec,
	    .dir = f->dir,
	    .port = 0,
	    .token = "",
	    .taker = {fake_lock, fake_unlock, fake_take, &f->taker},
	};

	assert_int_equal(video_upload_start(&o, &u, err, sizeof(err)), -1);
	assert_null(u);
	assert_string_equal(err, "upload: the bearer token is empty");
	o.token = "t";
	o.port = f->port; /* taken */
	assert_int_equal(video_upload_start(&o, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Address already in use"));
	video_upload_stop(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_video_is_stored_and_taken),
	    T(test_big_video_chunked),
	    T(test_not_a_video),
	    T(test_recognised_but_broken),
	    T(test_refused_after_the_prefix),
	    T(test_token),
	    T(test_refused_before_100_continue),
	    T(test_too_large_streamed),
	    T(test_client_gone_halfway),
	    T(test_names),
	    T(test_method),
	    T(test_take_outcomes),
	    T(test_metrics),
	    T(test_start_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
