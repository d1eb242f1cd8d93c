/* Unit tests for dashboard/dash_api.c with dash_upload.c and dash_load.c,
 * over real sockets: a dashboard made of a cache fed by hand (no API
 * server), a fake watcher (an httpd handler here) for uploads, and a fake
 * sluice-worker (a shell script) for loads. Lists, details, the page's
 * files, errors; an upload forwarded whole, refused early by the watcher
 * (the client's body never sent), refused by the dashboard without a
 * token, aborted when the client goes away; a load run to its end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <curl/curl.h>

#include "dash_api.h"
#include "dash_cache.h"
#include "dash_load.h"
#include "dash_route.h"
#include "dash_store.h"
#include "dash_upload.h"
#include "clock.h"
#include "httpd.h"
#include "kube_client.h"
#include "kube_config.h"
#include "log.h"

static char errbuf[512];

/* ------------------------------------------------------------ the fake watcher */

struct watcher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t bytes;
	int begins, bodies, dones, completed;
	char file[256];
};

static struct watcher w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void w_reset(void)
{
	pthread_mutex_lock(&w.mu);
	w.bytes = 0;
	w.begins = w.bodies = w.dones = 0;
	w.completed = -1;
	w.file[0] = '\0';
	pthread_mutex_unlock(&w.mu);
}

static int w_wait(const int *counter, int n)
{
	struct timespec deadline;
	int v;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&w.mu);
	while (*counter < n && pthread_cond_timedwait(&w.cv, &w.mu, &deadline) == 0)
		;
	v = *counter;
	pthread_mutex_unlock(&w.mu);
	return v;
}

static void w_begin(void *arg, struct httpd_request *r, void **state)
{
	const char *auth = httpd_request_header(r, "Authorization");
	const char *path = httpd_request_path(r);

	(void)arg;
	*state = NULL;
	pthread_mutex_lock(&w.mu);
	w.begins++;
	if (strncmp(path, "/uploads/", 9) == 0)
		snprintf(w.file, sizeof(w.file), "%s", path + 9);
	pthread_mutex_unlock(&w.mu);
	if (auth == NULL || strcmp(auth, "Bearer good") != 0) {
		static const char no[] = "{\"error\":\"bad token\"}";
		httpd_respond(r, 401, "application/json", no, sizeof(no) - 1);
	}
}

static void w_body(void *arg, struct httpd_request *r, void *state, const char *data, size_t len)
{
	(void)arg;
	(void)r;
	(void)state;
	(void)data;
	pthread_mutex_lock(&w.mu);
	w.bodies++;
	w.bytes += len;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
}

static void w_end(void *arg, struct httpd_request *r, void *state)
{
	char body[512];

	(void)arg;
	(void)state;
	pthread_mutex_lock(&w.mu);
	snprintf(body, sizeof(body),
	         "{\"videoJob\":\"cam-x\",\"namespace\":\"media\",\"file\":\"%s\",\"bytes\":%zu}",
	         w.file, w.bytes);
	pthread_mutex_unlock(&w.mu);
	httpd_respond(r, 201, "application/json", body, strlen(body));
}

static void w_done(void *arg, void *state, int completed)
{
	(void)arg;
	(void)state;
	pthread_mutex_lock(&w.mu);
	w.dones++;
	w.completed = completed;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
}

static const struct httpd_handler watcher_handler = {
    .begin = w_begin, .body = w_body, .end = w_end, .done = w_done};

/* ------------------------------------------------------------ the fake API server */

/* Secret prod/kafka: ca.crt "CA-PEM", user "loader", password "s3cret"
 * (base64, as the API server gives data); any other Secret is NotFound. */
static void api_begin(void *arg, struct httpd_request *r, void **state)
{
	static const char kafka[] =
	    "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"kafka\",\"namespace\":\"prod\"},"
	    "\"data\":{\"ca.crt\":\"Q0EtUEVN\",\"user\":\"bG9hZGVy\",\"password\":"
	    "\"czNjcmV0\"}}";
	static const char missing[] =
	    "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":"
	    "\"NotFound\",\"message\":\"secrets not found\",\"code\":404}";

	(void)arg;
	*state = NULL;
	if (strcmp(httpd_request_path(r), "/api/v1/namespaces/prod/secrets/kafka") == 0)
		httpd_respond(r, 200, "application/json", kafka, sizeof(kafka) - 1);
	else
		httpd_respond(r, 404, "application/json", missing, sizeof(missing) - 1);
}

static const struct httpd_handler api_handler = {.begin = api_begin};

/* ------------------------------------------------------------ the dashboard */

struct fixture {
	struct dash_cache *cache;
	struct dash_store *store;
	struct dash_loads *loads;
	struct dash_api *api;
	struct httpd *h, *watcher, *apiserver;
	struct kube_client *kube;
	int port, watcher_port;
	char dir[64], worker[128];
};

/* The fake sluice-worker: writes its arguments to $dir/args, and of each
 * Kafka secret's file (under sluice-load-kafka-*) the modes of the file and
 * its directory and its content to $dir/secrets, and says what the loader
 * says, counting the file's records but the header. */
static const char worker_script[] =
    "#!/bin/sh\n"
    "echo \"$@\" > \"$(dirname \"$0\")/args\"\n"
    "for a in \"$@\"; do case \"$a\" in */sluice-load-kafka-*) printf '%s %s %s\\n' "
    "\"$(stat -c %a \"$a\")\" \"$(stat -c %a \"$(dirname \"$a\")\")\" \"$(cat \"$a\")\" "
    ">> \"$(dirname \"$0\")/secrets\";; esac; done\n"
    "n=$(($(wc -l < \"$3\") - 1))\n"
    "echo '{\"level\":\"info\",\"msg\":\"load starting\"}' >&2\n"
    "echo \"{\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"load finished\\\",\\\"rows\\\":\\\"$n\\\","
    "\\\"delivered\\\":\\\"$n\\\",\\\"failed\\\":\\\"0\\\",\\\"skipped\\\":\\\"0\\\","
    "\\\"percent\\\":\\\"100\\\"}\" >&2\n";

static void add(struct dash_cache *c, enum dash_kind k, const char *json)
{
	cJSON *obj = cJSON_Parse(json);

	assert_non_null(obj);
	assert_int_equal(dash_cache_apply(c, k, KUBE_WATCH_ADDED, obj), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct httpd_options wo = {.port = 0, .handler = &watcher_handler};
	char vw[1024];
	FILE *s;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-dash-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->worker, sizeof(f->worker), "%s/sluice-worker", f->dir);
	s = fopen(f->worker, "w");
	if (s == NULL || fputs(worker_script, s) == EOF || fclose(s) != 0 ||
	    chmod(f->worker, 0755) != 0)
		return -1;
	if (httpd_start(&wo, &f->watcher, errbuf, sizeof(errbuf)) != 0)
		return -1;
	f->watcher_port = httpd_port(f->watcher);

	struct dash_cache_options co = {.history_ms = 3600000};
	if (dash_cache_start(&f->cache, &co, errbuf, sizeof(errbuf)) != 0)
		return -1;
	add(f->cache, DASH_VJ,
	    "{\"metadata\":{\"name\":\"clip\",\"namespace\":\"media\"},\"status\":{\"phase\":"
	    "\"Processing\",\"segmentsDone\":1,\"segmentsTotal\":2,\"replicas\":1,\"lag\":3}}");
	add(f->cache, DASH_VJ, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"other\"}}");
	add(f->cache, DASH_TW,
	    "{\"metadata\":{\"name\":\"sensors\",\"namespace\":\"prod\"},\"spec\":{\"kafka\":{"
	    "\"bootstrap\":\"k:9092\",\"topic\":\"in\"},\"fields\":{\"timestamp\":\"ts\",\"keys\":"
	    "[\"host\"],\"values\":[\"temp\"]},\"window\":{\"size\":\"1m\"}},\"status\":{\"lag\":5}"
	    "}");
	snprintf(
	    vw, sizeof(vw),
	    "{\"metadata\":{\"name\":\"cam\",\"namespace\":\"media\"},\"spec\":{\"upload\":{}},"
	    "\"status\":{\"watcher\":{\"uploadURL\":\"http://127.0.0.1:%d/uploads\"}}}",
	    f->watcher_port);
	add(f->cache, DASH_VW, vw);
	add(f->cache, DASH_VW,
	    "{\"metadata\":{\"name\":\"closed\",\"namespace\":\"media\"},\"status\":{\"watcher\":{"
	    "\"uploadURL\":\"http://127.0.0.1:1/uploads\"}}}");
	add(f->cache, DASH_VW, "{\"metadata\":{\"name\":\"quiet\",\"namespace\":\"media\"}}");
	dash_cache_sample_now(f->cache, clock_real_ns() / 1000000);

	struct httpd_options ko = {.port = 0, .handler = &api_handler};
	struct kube_config kcfg;
	if (httpd_start(&ko, &f->apiserver, errbuf, sizeof(errbuf)) != 0)
		return -1;
	memset(&kcfg, 0, sizeof(kcfg));
	snprintf(kcfg.server, sizeof(kcfg.server), "http://127.0.0.1:%d", httpd_port(f->apiserver));
	if (kube_client_new(&f->kube, &kcfg, NULL, errbuf, sizeof(errbuf)) != 0)
		return -1;

	struct dash_store_options so = {0};
	struct dash_loads_options lo = {
	    .worker = f->worker, .work_dir = f->dir, .max_bytes = 4096, .kube = f->kube};
	f->store = dash_store_new(&so);
	f->loads = dash_loads_new(&lo);
	struct dash_api_options ao = {.cache = f->cache,
	                              .store = f->store,
	                              .loads = f->loads,
	                              .history_ms = 3600000,
	                              .sample_ms = 5000};
	f->api = dash_api_new(&ao, errbuf, sizeof(errbuf));
	if (f->store == NULL || f->loads == NULL || f->api == NULL)
		return -1;
	struct httpd_options ho = {.port = 0, .handler = dash_api_handler(f->api)};
	if (httpd_start(&ho, &f->h, errbuf, sizeof(errbuf)) != 0)
		return -1;
	f->port = httpd_port(f->h);
	w_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];

	httpd_stop(f->h);
	dash_api_free(f->api);
	dash_loads_free(f->loads);
	dash_store_free(f->store);
	dash_cache_stop(f->cache);
	httpd_stop(f->watcher);
	kube_client_free(f->kube);
	httpd_stop(f->apiserver);
	snprintf(path, sizeof(path), "%s/args", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/secrets", f->dir);
	unlink(path);
	unlink(f->worker);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ the client */

struct reply {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	curl_off_t uploaded;
};

static size_t on_data(char *d, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char *p = realloc(r->body, r->len + size * n + 1);

	assert_non_null(p);
	r->body = p;
	memcpy(r->body + r->len, d, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_head(char *d, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t have = strlen(r->headers), len = size * n;

	if (have + len < sizeof(r->headers)) {
		memcpy(r->headers + have, d, len);
		r->headers[have + len] = '\0';
	}
	return len;
}

struct src {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct src *s = arg;
	size_t want = size * n;

	if (want > s->len - s->off)
		want = s->len - s->off;
	memcpy(buf, s->data + s->off, want);
	s->off += want;
	return want;
}

/* method and path, with body (NULL: none) and up to two header lines. */
static struct reply req(int port, const char *method, const char *path, const char *body,
                        size_t len, const char *h1, const char *h2)
{
	struct reply r;
	struct src s = {.data = body, .len = len};
	struct curl_slist *hs = NULL;
	char url[512];
	CURL *c = curl_easy_init();

	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &s);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (h1 != NULL)
		hs = curl_slist_append(hs, h1);
	if (h2 != NULL)
		hs = curl_slist_append(hs, h2);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &r.uploaded);
	curl_slist_free_all(hs);
	curl_easy_cleanup(c);
	if (r.body == NULL)
		r.body = calloc(1, 1);
	return r;
}

static struct reply get(int port, const char *path)
{
	return req(port, "GET", path, NULL, 0, NULL, NULL);
}

static int has_header(const struct reply *r, const char *line)
{
	return strcasestr(r->headers, line) != NULL;
}

/* ------------------------------------------------------------ tests */

static void test_lists_details_and_errors(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	r = get(f->port, "/api/v1/videojobs");
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_string_equal(r.body,
	                    "{\"kind\":\"VideoJob\",\"synced\":true,\"count\":2,\"items\":["
	                    "{\"namespace\":\"media\",\"name\":\"clip\",\"phase\":"
	                    "\"Processing\",\"segmentsDone\":1,\"segmentsTotal\":2,\"lag\":3,"
	                    "\"replicas\":1,\"percent\":50},{\"namespace\":\"other\","
	                    "\"name\":\"a\"}]}");
	free(r.body);
	r = get(f->port, "/api/v1/videojobs?namespace=other");
	assert_non_null(strstr(r.body, "\"count\":1,"));
	free(r.body);
	r = get(f->port, "/api/v1/telemetrywindows/prod/sensors");
	assert_int_equal(r.status, 200);
	cJSON *d = cJSON_Parse(r.body);
	assert_non_null(d);
	assert_string_equal(dash_json_str(d, "kind"), "TelemetryWindow");
	assert_true(dash_json_num(d, "lag", -1) == 5);
	cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "samples"), "t");
	assert_int_equal(cJSON_GetArraySize(t), 2); /* the one at add, the one sampled */
	cJSON_Delete(d);
	free(r.body);
	r = get(f->port, "/api/v1/workers?kind=telemetrywindows");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"total\":1"));
	assert_non_null(strstr(r.body, "\"name\":\"sensors\""));
	free(r.body);
	r = get(f->port, "/api/v1/workers?limit=0");
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "{\"error\":\"limit: want an integer in 1..200\"}");
	free(r.body);
	r = get(f->port, "/api/v1/info");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"counts\":{\"videojobs\":2,\"telemetrywindows\":1,"
	                               "\"videowatches\":3}"));
	free(r.body);
	r = get(f->port, "/api/v1/videojobs/media/nope");
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"error\":\"no VideoJob media/nope\"}");
	free(r.body);
	r = req(f->port, "POST", "/api/v1/videowatches", "x", 1, NULL, NULL);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	free(r.body);
	r = get(f->port, "/nope");
	assert_int_equal(r.status, 404);
	free(r.body);
	/* A store the resource has none of: 409, never a 5xx. */
	r = get(f->port, "/api/v1/telemetrywindows/prod/sensors/latest");
	assert_int_equal(r.status, 409);
	free(r.body);
	r = get(f->port, "/api/v1/videojobs/media/clip/frames?points=5");
	assert_int_equal(r.status, 400);
	free(r.body);
}

static void test_page_files(void **state)
{
	struct fixture *f = *state;
	struct reply r = get(f->port, "/");
	char etag[128] = "", inm[160];
	const char *e;

	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(r.body, "assets/uPlot.iife.min.js"));
	e = strcasestr(r.headers, "ETag: ");
	assert_non_null(e);
	sscanf(e + 6, "%127[^\r\n]", etag);
	free(r.body);
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	r = req(f->port, "GET", "/index.html", NULL, 0, inm, NULL);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.len, 0);
	free(r.body);
	r = get(f->port, "/assets/uPlot.iife.min.js");
	assert_int_equal(r.status, 200);
	assert_true(r.len > 10000);
	assert_true(has_header(&r, "Content-Type: text/javascript; charset=utf-8"));
	free(r.body);
	r = req(f->port, "HEAD", "/assets/app.css", NULL, 0, NULL, NULL);
	assert_int_equal(r.status, 200);
	free(r.body);
	r = get(f->port, "/assets/nope.js");
	assert_int_equal(r.status, 404);
	free(r.body);
}

static char *pattern(size_t len)
{
	char *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(i * 13 + i / 1000);
	return p;
}

static void test_upload_forwarded(void **state)
{
	struct fixture *f = *state;
	size_t len = 3 << 20;
	char *data = pattern(len), want[256];
	struct reply r;

	r = req(f->port, "PUT", "/api/v1/videowatches/media/cam/upload/a%20b.mp4", data, len,
	        "Authorization: Bearer good", "Content-Type: video/mp4");
	assert_int_equal(r.status, 201);
	snprintf(want, sizeof(want),
	         "{\"videoJob\":\"cam-x\",\"namespace\":\"media\",\"file\":\"a b.mp4\","
	         "\"bytes\":%zu}",
	         len);
	assert_string_equal(r.body, want);
	assert_true(has_header(&r, "Content-Type: application/json"));
	free(r.body);
	assert_int_equal(w_wait(&w.dones, 1), 1);
	assert_int_equal(w.completed, 1);
	assert_true(w.bodies >= 2); /* it came in pieces, as it went */

	/* The watcher refuses the token before the body: the dashboard answers
	 * at once, and a client waiting for 100 Continue never sends its body. */
	w_reset();
	r = req(f->port, "PUT", "/api/v1/videowatches/media/cam/upload/a.mp4", data, len,
	        "Authorization: Bearer bad", "Expect: 100-continue");
	assert_int_equal(r.status, 401);
	assert_string_equal(r.body, "{\"error\":\"bad token\"}");
	assert_int_equal(r.uploaded, 0);
	free(r.body);
	assert_int_equal(w_wait(&w.dones, 1), 1);
	assert_int_equal(w.bytes, 0);

	/* No token: the dashboard refuses without asking the watcher. */
	w_reset();
	r = req(f->port, "PUT", "/api/v1/videowatches/media/cam/upload/a.mp4", data, 1000, NULL,
	        NULL);
	assert_int_equal(r.status, 401);
	assert_true(has_header(&r, "WWW-Authenticate: Bearer"));
	free(r.body);
	assert_int_equal(w.begins, 0);

	/* No upload URL, a watcher that is down, a watch that does not exist. */
	r = req(f->port, "PUT", "/api/v1/videowatches/media/quiet/upload/a.mp4", data, 10,
	        "Authorization: Bearer good", NULL);
	assert_int_equal(r.status, 409);
	free(r.body);
	r = req(f->port, "PUT", "/api/v1/videowatches/media/closed/upload/a.mp4", data, 10,
	        "Authorization: Bearer good", NULL);
	assert_int_equal(r.status, 502);
	assert_non_null(strstr(r.body, "cannot upload to the watcher at http://127.0.0.1:1/"
	                               "uploads/a.mp4"));
	free(r.body);
	r = req(f->port, "PUT", "/api/v1/videowatches/media/none/upload/a.mp4", data, 10,
	        "Authorization: Bearer good", NULL);
	assert_int_equal(r.status, 404);
	free(r.body);
	free(data);
}

/* A client that goes away halfway: the transfer to the watcher is aborted
 * (the watcher sees its request end incomplete). */
static void test_upload_client_gone(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	char head[512], part[4096];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	int n =
	    snprintf(head, sizeof(head),
	             "PUT /api/v1/videowatches/media/cam/upload/gone.mp4 HTTP/1.1\r\n"
	             "Host: x\r\nAuthorization: Bearer good\r\nContent-Length: 1000000\r\n\r\n");
	assert_int_equal(write(fd, head, (size_t)n), n);
	memset(part, 'x', sizeof(part));
	assert_int_equal(write(fd, part, sizeof(part)), (ssize_t)sizeof(part));
	assert_true(w_wait(&w.bodies, 1) >= 1);
	close(fd);
	assert_int_equal(w_wait(&w.dones, 1), 1);
	assert_int_equal(w.completed, 0);
	assert_true(w.bytes < 1000000);
}

static void test_load_runs_the_loader(void **state)
{
	struct fixture *f = *state;
	static const char csv[] = "ts,host,temp\n2026-01-01T00:00:00Z,d-1,1\n"
	                          "2026-01-01T00:00:01Z,d-2,2\n";
	const char *base = "/api/v1/telemetrywindows/prod/sensors/load";
	char path[256], id[32] = "", args[1024] = "";
	struct reply r;
	FILE *a;

	r = req(f->port, "POST", base, csv, strlen(csv), "Content-Type: text/plain", NULL);
	assert_int_equal(r.status, 415);
	free(r.body);
	r = req(f->port, "POST", base, "a,b\n1,2\n", 8, "Content-Type: text/csv", NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "{\"error\":\"the file's header has no column \\\"ts\\\" "
	                            "(spec.fields.timestamp)\"}");
	free(r.body);
	char *big = pattern(5000);
	r = req(f->port, "POST", base, big, 5000, "Content-Type: text/csv", NULL);
	assert_int_equal(r.status, 413);
	free(r.body);
	free(big);

	r = req(f->port, "POST", base, csv, strlen(csv), "Content-Type: text/csv", NULL);
	assert_int_equal(r.status, 202);
	const char *p = strstr(r.body, "\"id\":\"");
	assert_non_null(p);
	memcpy(id, p + 6, DASH_LOAD_ID_LEN);
	assert_non_null(strstr(r.body, "\"state\":\"running\""));
	free(r.body);
	snprintf(path, sizeof(path), "%s/%s?wait=x", base, id);
	r = get(f->port, path);
	assert_int_equal(r.status, 400);
	free(r.body);
	/* A long poll: answered once the loader ended. */
	snprintf(path, sizeof(path), "%s/%s?wait=30", base, id);
	r = get(f->port, path);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"state\":\"succeeded\""));
	assert_non_null(strstr(r.body, "\"rows\":2,\"delivered\":2,\"failed\":0,\"skipped\":0,"
	                               "\"percent\":100"));
	assert_non_null(strstr(r.body, "\"exitCode\":0"));
	free(r.body);
	snprintf(path, sizeof(path), "%s/args", f->dir);
	a = fopen(path, "r");
	assert_non_null(a);
	assert_non_null(fgets(args, sizeof(args), a));
	fclose(a);
	assert_non_null(strstr(args, " --topic in --bootstrap k:9092 --progress log --log-level "
	                             "info --client-id sluice-dashboard-load --key-fields host "
	                             "--as-json"));
	r = get(f->port, "/api/v1/telemetrywindows/prod/sensors/load/0123456789abcdef");
	assert_int_equal(r.status, 404);
	free(r.body);
}

/* Entries of dir named sluice-load-kafka-*. */
static int kafka_dirs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, "sluice-load-kafka-", 18) == 0;
	closedir(d);
	return n;
}

/* A TelemetryWindow with spec.kafka.tls and .sasl: the loader gets the
 * Secrets as files of a private directory (0700, each file 0600), named
 * on its command line where no secret is; the directory goes when it
 * ends. A Secret that cannot be read is a 502 before any loader runs. */
static void test_load_kafka_security(void **state)
{
	struct fixture *f = *state;
	static const char csv[] = "ts,host,temp\n2026-01-01T00:00:00Z,d-1,1\n";
	static const char sec[] =
	    "\"tls\":{\"ca\":{\"name\":\"kafka\",\"key\":\"ca.crt\"},\"serverName\":\"k.internal\"}"
	    ","
	    "\"sasl\":{\"mechanism\":\"SCRAM-SHA-512\",\"username\":{\"name\":\"kafka\",\"key\":"
	    "\"user\"},\"password\":{\"name\":\"%s\",\"key\":\"password\"}}";
	char tw[1024], ks[512], path[256], id[32] = "", args[2048] = "", line[512];
	struct reply r;
	FILE *a;

	for (int i = 0; i < 2; i++) {
		snprintf(ks, sizeof(ks), sec, i == 0 ? "kafka" : "nope");
		snprintf(tw, sizeof(tw),
		         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"prod\"},\"spec\":{"
		         "\"kafka\":{\"bootstrap\":\"k:9093\",\"topic\":\"in\",%s},\"fields\":{"
		         "\"timestamp\":\"ts\",\"keys\":[\"host\"],\"values\":[\"temp\"]},"
		         "\"window\":{\"size\":\"1m\"}}}",
		         i == 0 ? "secure" : "broken", ks);
		add(f->cache, DASH_TW, tw);
	}
	r = req(f->port, "POST", "/api/v1/telemetrywindows/prod/broken/load", csv, strlen(csv),
	        "Content-Type: text/csv", NULL);
	assert_int_equal(r.status, 502);
	if (strstr(r.body, "spec.kafka.sasl.password: Secret \\\"nope\\\" key \\\"password\\\"") ==
	        NULL ||
	    strstr(r.body, "NotFound") == NULL)
		fail_msg("%s", r.body);
	free(r.body);
	assert_int_equal(kafka_dirs(f->dir), 0);

	r = req(f->port, "POST", "/api/v1/telemetrywindows/prod/secure/load", csv, strlen(csv),
	        "Content-Type: text/csv", NULL);
	assert_int_equal(r.status, 202);
	const char *p = strstr(r.body, "\"id\":\"");
	assert_non_null(p);
	memcpy(id, p + 6, DASH_LOAD_ID_LEN);
	free(r.body);
	snprintf(path, sizeof(path), "/api/v1/telemetrywindows/prod/secure/load/%s?wait=30", id);
	r = get(f->port, path);
	assert_int_equal(r.status, 200);
	if (strstr(r.body, "\"state\":\"succeeded\"") == NULL)
		fail_msg("%s", r.body);
	free(r.body);
	/* The loader's monitor removed the directory before the load ended. */
	assert_int_equal(kafka_dirs(f->dir), 0);

	snprintf(path, sizeof(path), "%s/args", f->dir);
	a = fopen(path, "r");
	assert_non_null(a);
	assert_non_null(fgets(args, sizeof(args), a));
	fclose(a);
	if (strstr(args, " --bootstrap k:9093 ") == NULL ||
	    strstr(args, " --tls --tls-ca-file ") == NULL ||
	    strstr(args, "/ca.pem --tls-server-name k.internal --sasl-mechanism SCRAM-SHA-512 "
	                 "--sasl-username loader --sasl-password-file ") == NULL ||
	    strstr(args, "/sasl-password\n") == NULL)
		fail_msg("args: %s", args);
	assert_null(strstr(args, "s3cret"));
	assert_null(strstr(args, "CA-PEM"));

	snprintf(path, sizeof(path), "%s/secrets", f->dir);
	a = fopen(path, "r");
	assert_non_null(a);
	assert_non_null(fgets(line, sizeof(line), a));
	assert_string_equal(line, "600 700 CA-PEM\n");
	assert_non_null(fgets(line, sizeof(line), a));
	assert_string_equal(line, "600 700 s3cret\n");
	assert_null(fgets(line, sizeof(line), a));
	fclose(a);
}

static void test_upload_url(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(dash_upload_url(buf, sizeof(buf), "http://w:8080/uploads/", "a b+c.mp4"),
	                 0);
	assert_string_equal(buf, "http://w:8080/uploads/a%20b%2Bc.mp4");
	assert_int_equal(dash_upload_url(buf, sizeof(buf), "https://w/u", "ü.mp4"), 0);
	assert_string_equal(buf, "https://w/u/%C3%BC.mp4");
	assert_int_equal(dash_upload_url(buf, sizeof(buf), "ftp://w/u", "a"), -1);
	assert_int_equal(dash_upload_url(buf, 12, "http://w/u", "abc"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lists_details_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upload_forwarded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upload_client_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_runs_the_loader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_kafka_security, setup, teardown),
	    cmocka_unit_test(test_upload_url),
	};
	log_set_level(LOG_LEVEL_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
