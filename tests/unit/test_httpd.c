/* Unit tests for lib/httpd.c, over real sockets with libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "httpd.h"
#include "log.h"
#include "metrics.h"

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
	const char *paths[] = {"/", "/metrics/", "/healthz/x", "/METRICS", "/nope", NULL};

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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};
	/* MHD reports client-side trouble through the log; keep test output clean. */
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
