/* Unit tests for lib/httpd.c, over real sockets with libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "version.h"

static char errbuf[256];

struct reply {
	long status;
	char body[8192];
	size_t len;
	char content_type[128];
	char allow[64];
	CURLcode rc;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	if (r->len + len >= sizeof(r->body))
		return 0; /* too big: fail the transfer */
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	if (len > 7 && strncasecmp(data, "Allow: ", 7) == 0) {
		size_t v = len - 7;
		while (v > 0 && (data[7 + v - 1] == '\r' || data[7 + v - 1] == '\n'))
			v--;
		if (v >= sizeof(r->allow))
			v = sizeof(r->allow) - 1;
		memcpy(r->allow, data + 7, v);
		r->allow[v] = '\0';
	}
	return len;
}

/* method: "GET", "HEAD", "POST" or any other verb. */
static struct reply fetch_from(const char *host, int port, const char *method, const char *path)
{
	struct reply r;
	char url[256];
	CURL *c = curl_easy_init();
	char *ct = NULL;

	memset(&r, 0, sizeof(r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://%s:%d%s", host, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "payload=1");
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	r.rc = curl_easy_perform(c);
	if (r.rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
			snprintf(r.content_type, sizeof(r.content_type), "%s", ct);
	}
	curl_easy_cleanup(c);
	return r;
}

static struct reply fetch(int port, const char *method, const char *path)
{
	return fetch_from("127.0.0.1", port, method, path);
}

static atomic_int ready;

static int ready_check(void *arg, char *reason, size_t reason_size)
{
	assert_ptr_equal(arg, &ready);
	if (atomic_load(&ready))
		return 0;
	snprintf(reason, reason_size, "not ready: warming up");
	return 1;
}

static int silent_failure(void *arg, char *reason, size_t reason_size)
{
	(void)arg;
	(void)reason;
	(void)reason_size;
	return -1;
}

struct fixture {
	struct metrics_registry *reg;
	struct metrics_family *requests;
	struct httpd *h;
	int port;
};

static int group_setup(void **state)
{
	(void)state;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->reg = metrics_registry_new();
	if (f->reg == NULL || metrics_counter(f->reg, "requests_total", "Requests \"served\".",
	                                      NULL, &f->requests, errbuf, sizeof(errbuf)) != 0)
		return -1;
	if (metrics_add(f->requests, NULL, 3) != 0)
		return -1;
	atomic_store(&ready, 0);
	struct httpd_options opts = {
	    .addr = "127.0.0.1",
	    .port = 0,
	    .metrics = f->reg,
	    .readyz = ready_check,
	    .readyz_arg = &ready,
	};
	if (httpd_start(&opts, &f->h, errbuf, sizeof(errbuf)) != 0)
		return -1;
	f->port = httpd_port(f->h);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	httpd_stop(f->h);
	metrics_registry_free(f->reg);
	free(f);
	return 0;
}

static void test_port_zero_picks_a_port(void **state)
{
	struct fixture *f = *state;
	assert_true(f->port > 0);
	assert_true(f->port <= 65535);
}

static void test_metrics(void **state)
{
	struct fixture *f = *state;
	struct reply r = fetch(f->port, "GET", "/metrics");

	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_string_equal(r.body, "# HELP requests_total Requests \"served\".\n"
	                            "# TYPE requests_total counter\n"
	                            "requests_total 3\n");

	/* Each request renders afresh. */
	assert_int_equal(metrics_inc(f->requests, NULL), 0);
	r = fetch(f->port, "GET", "/metrics?format=text");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "requests_total 4\n"));
}

static void test_head(void **state)
{
	struct fixture *f = *state;
	struct reply r = fetch(f->port, "HEAD", "/metrics");

	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(r.len, 0);
	r = fetch(f->port, "HEAD", "/healthz");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
}

static void test_healthz_and_readyz(void **state)
{
	struct fixture *f = *state;
	struct reply r = fetch(f->port, "GET", "/healthz");

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");

	r = fetch(f->port, "GET", "/readyz");
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "not ready: warming up");
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");

	atomic_store(&ready, 1);
	r = fetch(f->port, "GET", "/readyz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	const char *paths[] = {"/",     "/metrics/", "/healthz/x", "/METRICS",
	                       "/nope", "/status",   NULL};

	for (int i = 0; paths[i] != NULL; i++) {
		struct reply r = fetch(f->port, "GET", paths[i]);
		assert_int_equal(r.rc, CURLE_OK);
		assert_int_equal(r.status, 404);
		assert_string_equal(r.body, "not found");
		assert_string_equal(r.content_type, "text/plain; charset=utf-8");
	}
}

static void test_method_not_allowed(void **state)
{
	struct fixture *f = *state;
	const char *methods[] = {"POST", "DELETE", "PUT", "OPTIONS", NULL};

	for (int i = 0; methods[i] != NULL; i++) {
		struct reply r = fetch(f->port, methods[i], "/metrics");
		assert_int_equal(r.rc, CURLE_OK);
		assert_int_equal(r.status, 405);
		assert_string_equal(r.body, "method not allowed");
		assert_string_equal(r.allow, "GET, HEAD");
	}
	/* Even for unknown paths: the method is checked first. */
	struct reply r = fetch(f->port, "POST", "/nope");
	assert_int_equal(r.status, 405);
}

static void test_port_in_use(void **state)
{
	struct fixture *f = *state;
	struct httpd *second = (struct httpd *)1;
	struct httpd_options opts = {.addr = "127.0.0.1", .port = f->port};
	char expect[128];

	assert_int_equal(httpd_start(&opts, &second, errbuf, sizeof(errbuf)), HTTPD_ERR);
	assert_null(second);
	snprintf(expect, sizeof(expect),
	         "httpd: cannot listen on 127.0.0.1:%d: Address already in use", f->port);
	assert_string_equal(errbuf, expect);
	/* The first server is unharmed. */
	assert_int_equal(fetch(f->port, "GET", "/healthz").status, 200);
}

static void test_default_address_and_checks(void **state)
{
	(void)state;
	struct httpd *h;
	struct httpd_options opts = {.port = 0, .healthz = silent_failure};

	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), 0);
	int port = httpd_port(h);
	/* Default address is 127.0.0.1; without a registry /metrics is 404;
	 * a failing check without a reason says "not ok". */
	struct reply r = fetch(port, "GET", "/metrics");
	assert_int_equal(r.status, 404);
	r = fetch(port, "GET", "/healthz");
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "not ok");
	r = fetch(port, "GET", "/readyz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	httpd_stop(h);

	/* Stopped: nothing listens any more. */
	r = fetch(port, "GET", "/healthz");
	assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
	httpd_stop(NULL);
}

static void test_fixed_port(void **state)
{
	(void)state;
	struct httpd *h;
	struct httpd_options opts = {.port = 0};

	/* Find a free port, release it, then ask for it by number. */
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), 0);
	opts.port = httpd_port(h);
	httpd_stop(h);
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(httpd_port(h), opts.port);
	assert_int_equal(fetch(opts.port, "GET", "/healthz").status, 200);
	httpd_stop(h);
}

static void test_bad_options(void **state)
{
	(void)state;
	struct httpd *h = (struct httpd *)1;
	struct httpd_options opts = {.addr = "localhost", .port = 0};

	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), HTTPD_ERR);
	assert_null(h);
	assert_string_equal(errbuf, "httpd: invalid listen address \"localhost\" (want an IPv4 "
	                            "or IPv6 address)");
	opts.addr = "127.0.0.1:80";
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), HTTPD_ERR);
	assert_string_equal(errbuf, "httpd: invalid listen address \"127.0.0.1:80\" (want an IPv4 "
	                            "or IPv6 address)");
	opts.addr = "127.0.0.1";
	opts.port = 65536;
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), HTTPD_ERR);
	assert_string_equal(errbuf, "httpd: invalid port 65536 (want 0..65535)");
	opts.port = -1;
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), HTTPD_ERR);
	assert_string_equal(errbuf, "httpd: invalid port -1 (want 0..65535)");
	/* An address this machine does not have. */
	opts.addr = "192.0.2.1";
	opts.port = 0;
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), HTTPD_ERR);
	assert_string_equal(errbuf, "httpd: cannot listen on 192.0.2.1:0: Cannot assign requested "
	                            "address");
}

static void test_ipv6(void **state)
{
	(void)state;
	struct httpd *h;
	struct httpd_options opts = {.addr = "::1", .port = 0};

	/* Containers without IPv6 cannot bind ::1; that is not this code's fault. */
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int usable = probe >= 0 && bind(probe, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	if (probe >= 0)
		close(probe);
	if (!usable)
		skip();

	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), 0);
	struct reply r = fetch_from("[::1]", httpd_port(h), "GET", "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");

	struct httpd *second = NULL;
	opts.port = httpd_port(h);
	assert_int_equal(httpd_start(&opts, &second, errbuf, sizeof(errbuf)), HTTPD_ERR);
	char expect[128];
	snprintf(expect, sizeof(expect), "httpd: cannot listen on [::1]:%d: Address already in use",
	         opts.port);
	assert_string_equal(errbuf, expect);
	httpd_stop(h);
}

/* ------------------------------------------------------ the handler's API */

/* What the test handler saw, under a lock: the tests wait on it (with a
 * deadline) for callbacks that run on the server's threads. */
struct seen {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int begins, bodies, ends, dones, completed;
	size_t bytes;
	uint32_t sum;
};

static struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void seen_reset(void)
{
	pthread_mutex_lock(&seen.mu);
	seen.begins = seen.bodies = seen.ends = seen.dones = 0;
	seen.completed = -1;
	seen.bytes = 0;
	seen.sum = 0;
	pthread_mutex_unlock(&seen.mu);
}

/* Waits until *counter reaches n, at most 5 s; returns its value. */
static int seen_wait(const int *counter, int n)
{
	struct timespec deadline;
	int v;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&seen.mu);
	while (*counter < n && pthread_cond_timedwait(&seen.cv, &seen.mu, &deadline) == 0)
		;
	v = *counter;
	pthread_mutex_unlock(&seen.mu);
	return v;
}

static uint32_t checksum(uint32_t sum, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sum = sum * 31 + (unsigned char)data[i];
	return sum;
}

/* The paths of the test handler:
 *   /echo    answers in end: the bytes and chunks it read, a header
 *   /deny    answers 401 in begin (a missing token)
 *   /limit   answers 413 in body once more than 1000 bytes came
 *   /silent  never answers (httpd answers 500 for it)
 *   /query   answers in begin with ?x= and the X-Token header */
static void h_begin(void *arg, struct httpd_request *r, void **state)
{
	const char *path = httpd_request_path(r);
	char text[256];

	assert_ptr_equal(arg, &seen);
	*state = &seen;
	pthread_mutex_lock(&seen.mu);
	seen.begins++;
	pthread_mutex_unlock(&seen.mu);
	if (strcmp(path, "/deny") == 0) {
		assert_int_equal(httpd_header(r, "WWW-Authenticate", "Bearer"), 0);
		assert_int_equal(httpd_respond_text(r, 401, "no token"), 0);
		assert_true(httpd_request_answered(r));
	} else if (strcmp(path, "/query") == 0) {
		const char *x = httpd_request_query(r, "x"),
		           *t = httpd_request_header(r, "x-token");
		snprintf(text, sizeof(text), "%s %s x=%s token=%s len=%lld",
		         httpd_request_method(r), path, x != NULL ? x : "(none)",
		         t != NULL ? t : "(none)", httpd_request_content_length(r));
		assert_int_equal(httpd_respond(r, 200, "text/plain", text, strlen(text)), 0);
		/* A second answer is refused. */
		assert_int_equal(httpd_respond_text(r, 500, "again"), -1);
	}
}

static void h_body(void *arg, struct httpd_request *r, void *state, const char *data, size_t len)
{
	size_t bytes;

	(void)arg;
	assert_ptr_equal(state, &seen);
	assert_false(httpd_request_answered(r));
	pthread_mutex_lock(&seen.mu);
	seen.bodies++;
	seen.bytes += len;
	seen.sum = checksum(seen.sum, data, len);
	bytes = seen.bytes;
	pthread_cond_broadcast(&seen.cv);
	pthread_mutex_unlock(&seen.mu);
	if (strcmp(httpd_request_path(r), "/limit") == 0 && bytes > 1000)
		assert_int_equal(httpd_respond_text(r, 413, "too large"), 0);
}

static void h_end(void *arg, struct httpd_request *r, void *state)
{
	char text[128];

	(void)arg;
	assert_ptr_equal(state, &seen);
	pthread_mutex_lock(&seen.mu);
	seen.ends++;
	snprintf(text, sizeof(text), "bytes=%zu sum=%u", seen.bytes, (unsigned)seen.sum);
	pthread_mutex_unlock(&seen.mu);
	if (strcmp(httpd_request_path(r), "/echo") == 0) {
		assert_int_equal(httpd_header(r, "X-Echo", "yes"), 0);
		assert_int_equal(httpd_respond(r, 200, "text/plain", text, strlen(text)), 0);
	}
}

static void h_done(void *arg, void *state, int completed)
{
	(void)arg;
	assert_ptr_equal(state, &seen);
	pthread_mutex_lock(&seen.mu);
	seen.dones++;
	seen.completed = completed;
	pthread_cond_broadcast(&seen.cv);
	pthread_mutex_unlock(&seen.mu);
}

static const struct httpd_handler test_handler = {
    .begin = h_begin, .body = h_body, .end = h_end, .done = h_done, .arg = &seen};

static int handler_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct httpd_options opts = {.port = 0, .handler = &test_handler};

	if (f == NULL || httpd_start(&opts, &f->h, errbuf, sizeof(errbuf)) != 0)
		return -1;
	f->port = httpd_port(f->h);
	seen_reset();
	*state = f;
	return 0;
}

/* A request body fed to libcurl in pieces of `piece` bytes. */
struct upload {
	const char *data;
	size_t len, off, piece;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t want = size * n, left = u->len - u->off;

	if (want > u->piece)
		want = u->piece;
	if (want > left)
		want = left;
	memcpy(buf, u->data + u->off, want);
	u->off += want;
	return want;
}

/* method PUT or POST with body (len bytes, sent in pieces); chunked:
 * Transfer-Encoding: chunked instead of Content-Length. extra: a header
 * line or NULL. *uploaded: the body bytes libcurl sent. */
static struct reply send_body(int port, const char *method, const char *path, const char *body,
                              size_t len, int chunked, const char *extra, long long *uploaded)
{
	struct reply r;
	struct upload u = {.data = body, .len = len, .piece = 16384};
	struct curl_slist *h = NULL;
	char url[256];
	curl_off_t up = 0;
	CURL *c = curl_easy_init();

	memset(&r, 0, sizeof(r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	if (!chunked)
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	if (extra != NULL)
		h = curl_slist_append(h, extra);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	r.rc = curl_easy_perform(c);
	if (r.rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
	if (uploaded != NULL)
		*uploaded = (long long)up;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r;
}

static char *pattern(size_t len)
{
	char *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)('a' + (i * 7 + i / 251) % 26);
	return p;
}

/* A PUT's body reaches body() in several chunks, whole and in order, with
 * Content-Length or chunked; end answers; done says completed. */
static void test_handler_put_in_chunks(void **state)
{
	struct fixture *f = *state;
	size_t len = 1 << 20;
	char *body = pattern(len), expect[128];

	for (int chunked = 0; chunked <= 1; chunked++) {
		seen_reset();
		struct reply r = send_body(f->port, "PUT", "/echo", body, len, chunked, NULL, NULL);
		assert_int_equal(r.rc, CURLE_OK);
		assert_int_equal(r.status, 200);
		snprintf(expect, sizeof(expect), "bytes=%zu sum=%u", len,
		         (unsigned)checksum(0, body, len));
		assert_string_equal(r.body, expect);
		assert_int_equal(seen_wait(&seen.dones, 1), 1);
		pthread_mutex_lock(&seen.mu);
		assert_int_equal(seen.begins, 1);
		assert_true(seen.bodies >= 2);
		assert_int_equal(seen.ends, 1);
		assert_int_equal(seen.completed, 1);
		pthread_mutex_unlock(&seen.mu);
	}
	free(body);
}

/* An answer in begin (401): no body is read, end is not called, the
 * client that waits for "100 Continue" never sends its body, and the
 * connection stays usable. */
static void test_handler_early_401(void **state)
{
	struct fixture *f = *state;
	size_t len = 4 << 20;
	char *body = pattern(len);
	long long uploaded = -1;
	struct reply r;

	r = send_body(f->port, "PUT", "/deny", body, len, 0, "Expect: 100-continue", &uploaded);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.body, "no token\n");
	assert_int_equal(uploaded, 0);
	assert_int_equal(seen_wait(&seen.dones, 1), 1);
	pthread_mutex_lock(&seen.mu);
	assert_int_equal(seen.bodies, 0);
	assert_int_equal(seen.ends, 0);
	assert_int_equal(seen.completed, 1);
	pthread_mutex_unlock(&seen.mu);

	/* A client that sends its body without waiting (as a browser does)
	 * gets the 401 too, once its body is in: never a reset, however large
	 * the body. The body is not handed to the handler. */
	for (int chunked = 0; chunked <= 1; chunked++) {
		seen_reset();
		r = send_body(f->port, "PUT", "/deny", body, len, chunked, "Expect:", &uploaded);
		assert_int_equal(r.rc, CURLE_OK);
		assert_int_equal(r.status, 401);
		assert_string_equal(r.body, "no token\n");
		assert_true(uploaded >= (long long)len); /* chunked: with its framing */
		assert_int_equal(seen_wait(&seen.dones, 1), 1);
		assert_int_equal(seen.bodies, 0);
		assert_int_equal(seen.ends, 0);
		assert_int_equal(seen.completed, 1);
	}
	/* The connection stays usable for the next request. */
	r = fetch(f->port, "GET", "/query?x=1");
	assert_int_equal(r.status, 200);
	free(body);
}

/* An answer in body (413): the rest of the body is not handed over and
 * end is not called. */
static void test_handler_answer_in_body(void **state)
{
	struct fixture *f = *state;
	size_t len = 1 << 20;
	char *body = pattern(len);
	struct reply r = send_body(f->port, "POST", "/limit", body, len, 0, NULL, NULL);

	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.body, "too large\n");
	assert_int_equal(seen_wait(&seen.dones, 1), 1);
	pthread_mutex_lock(&seen.mu);
	assert_int_equal(seen.ends, 0);
	assert_true(seen.bytes < len);
	pthread_mutex_unlock(&seen.mu);
	free(body);
}

/* A client that goes away halfway through its body: done(completed=0),
 * and no answer is asked for. */
static void test_handler_client_gone(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	char req[256], part[1000];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	int n = snprintf(req, sizeof(req),
	                 "PUT /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n");
	assert_int_equal(write(fd, req, (size_t)n), n);
	memset(part, 'x', sizeof(part));
	assert_int_equal(write(fd, part, sizeof(part)), (ssize_t)sizeof(part));
	assert_true(seen_wait(&seen.bodies, 1) >= 1);
	close(fd);
	assert_int_equal(seen_wait(&seen.dones, 1), 1);
	pthread_mutex_lock(&seen.mu);
	assert_int_equal(seen.completed, 0);
	assert_int_equal(seen.ends, 0);
	pthread_mutex_unlock(&seen.mu);
}

/* A GET answered in begin, with its query and headers; a handler that
 * never answers gets a 500; the built-in paths stay built in. */
static void test_handler_get_and_builtins(void **state)
{
	struct fixture *f = *state;
	struct reply r = fetch(f->port, "GET", "/query?x=a%20b");

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /query x=a b token=(none) len=-1");
	assert_int_equal(seen_wait(&seen.dones, 1), 1);
	assert_int_equal(seen.completed, 1);

	seen_reset();
	r = fetch(f->port, "DELETE", "/silent");
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "no response\n");
	assert_int_equal(seen_wait(&seen.dones, 1), 1);
	assert_int_equal(seen.ends, 1);

	seen_reset();
	r = fetch(f->port, "GET", "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	r = fetch(f->port, "POST", "/readyz");
	assert_int_equal(r.status, 405);
	assert_int_equal(seen.begins, 0);
	/* Without a registry /metrics is the handler's. */
	r = fetch(f->port, "GET", "/metrics");
	assert_int_equal(r.status, 500);
	assert_int_equal(seen_wait(&seen.dones, 1), 1);
}

/* ---- GET /status ---- */

static atomic_int state_calls;

/* A state that changes with each call, as a program's snapshot does; NULL
 * on the third call, as when out of memory. */
static char *test_state(void *arg)
{
	char text[128];
	int n = atomic_fetch_add(&state_calls, 1) + 1;

	assert_string_equal(arg, "state arg");
	if (n == 3)
		return NULL;
	snprintf(text, sizeof(text), "{\"calls\":%d,\"name\":\"a \\\"b\\\"\"}", n);
	return strdup(text);
}

/* GET path as JSON: the document, parsed (the caller deletes it). */
static cJSON *fetch_json(int port, const char *path, long *status)
{
	struct reply r = fetch(port, "GET", path);

	assert_int_equal(r.rc, CURLE_OK);
	*status = r.status;
	assert_string_equal(r.content_type, "application/json");
	cJSON *doc = cJSON_Parse(r.body);
	assert_non_null(doc);
	return doc;
}

static void test_status(void **state)
{
	struct fixture *f = *state;
	struct httpd *h;
	long status;
	struct httpd_options opts = {.metrics = f->reg,
	                             .component = "tester \"1\"",
	                             .state = test_state,
	                             .state_arg = (void *)"state arg"};

	atomic_store(&state_calls, 0);
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), 0);
	cJSON *doc = fetch_json(httpd_port(h), "/status", &status);
	assert_int_equal(status, 200);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "component")),
	                    "tester \"1\"");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "version")),
	                    SLUICE_VERSION);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "gitRev")),
	                    SLUICE_GIT_REV);
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "time"));
	assert_non_null(t);
	assert_int_equal(t[strlen(t) - 1], 'Z');
	/* The same registry /metrics renders. */
	cJSON *series = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metrics"), "requests_total"), "series");
	assert_int_equal(cJSON_GetArraySize(series), 1);
	assert_int_equal(
	    cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(series, 0), "value")), 3);
	cJSON *st = cJSON_GetObjectItem(doc, "state");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "calls")), 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(st, "name")), "a \"b\"");
	cJSON_Delete(doc);

	/* Each request renders afresh: the metric and the state. */
	assert_int_equal(metrics_inc(f->requests, NULL), 0);
	doc = fetch_json(httpd_port(h), "/status", &status);
	series = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metrics"), "requests_total"), "series");
	assert_int_equal(
	    cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(series, 0), "value")), 4);
	assert_int_equal(
	    cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "state"), "calls")),
	    2);
	cJSON_Delete(doc);

	/* A state that cannot be had is null; the rest is still there. */
	doc = fetch_json(httpd_port(h), "/status", &status);
	assert_int_equal(status, 200);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "state")));
	assert_non_null(cJSON_GetObjectItem(doc, "metrics"));
	cJSON_Delete(doc);

	/* HEAD: the headers alone; other methods: 405. */
	struct reply r = fetch(httpd_port(h), "HEAD", "/status");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	r = fetch(httpd_port(h), "POST", "/status");
	assert_int_equal(r.status, 405);
	httpd_stop(h);
}

/* No registry and no state callback: {} and null. */
static void test_status_bare(void **state)
{
	struct httpd *h;
	long status;
	struct httpd_options opts = {.component = "bare"};

	(void)state;
	assert_int_equal(httpd_start(&opts, &h, errbuf, sizeof(errbuf)), 0);
	cJSON *doc = fetch_json(httpd_port(h), "/status", &status);
	assert_int_equal(status, 200);
	cJSON *m = cJSON_GetObjectItem(doc, "metrics");
	assert_true(cJSON_IsObject(m));
	assert_null(m->child);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "state")));
	cJSON_Delete(doc);
	/* /metrics without a registry is still 404. */
	assert_int_equal(fetch(httpd_port(h), "GET", "/metrics").status, 404);
	httpd_stop(h);
}

/* Content-Length as the request accessor reads it: digits only, in range. */
static void test_parse_content_length(void **state)
{
	(void)state;
	assert_int_equal(httpd_parse_content_length("0"), 0);
	assert_int_equal(httpd_parse_content_length("1048576"), 1048576);
	assert_int_equal(httpd_parse_content_length("9223372036854775807"), 9223372036854775807LL);
	assert_int_equal(httpd_parse_content_length(NULL), -1);
	assert_int_equal(httpd_parse_content_length(""), -1);
	assert_int_equal(httpd_parse_content_length("-1"), -1);
	assert_int_equal(httpd_parse_content_length("+5"), -1);
	assert_int_equal(httpd_parse_content_length(" 5"), -1);
	assert_int_equal(httpd_parse_content_length("5 "), -1);
	assert_int_equal(httpd_parse_content_length("12abc"), -1);
	assert_int_equal(httpd_parse_content_length("9223372036854775808"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_content_length),
	    cmocka_unit_test_setup_teardown(test_port_zero_picks_a_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_healthz_and_readyz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
	    cmocka_unit_test(test_default_address_and_checks),
	    cmocka_unit_test(test_fixed_port),
	    cmocka_unit_test(test_bad_options),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test_setup_teardown(test_status, setup, teardown),
	    cmocka_unit_test(test_status_bare),
	    cmocka_unit_test_setup_teardown(test_handler_put_in_chunks, handler_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_early_401, handler_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_answer_in_body, handler_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_client_gone, handler_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_get_and_builtins, handler_setup, teardown),
	};
	/* MHD reports client-side trouble through the log; keep test output clean. */
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
