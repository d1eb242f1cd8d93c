/*
 * httpd.c - /metrics, /healthz, /readyz over libmicrohttpd. See httpd.h.
 *
 * We create and bind the listening socket ourselves and hand it to MHD: that
 * way a taken port is reported with the kernel's own errno, and port 0 can
 * be read back with getsockname().
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "err.h"

#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct httpd {
	struct MHD_Daemon *daemon;
	struct httpd_options opts;
	int port;
};

/* Queues a response holding body (copied, or taken over and freed by MHD
 * when owned is set). */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
                               const char *content_type, char *body, size_t len, int owned)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(
	    len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		if (owned)
			free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned int status,
                                    const char *text)
{
	return respond(conn, status, CONTENT_TYPE_TEXT, (char *)text, strlen(text), 0);
}

static enum MHD_Result serve_check(struct MHD_Connection *conn, httpd_check_fn check, void *arg)
{
	char reason[256] = "";

	if (check == NULL || check(arg, reason, sizeof(reason)) == 0)
		return respond_text(conn, MHD_HTTP_OK, "ok");
	reason[sizeof(reason) - 1] = '\0';
	return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
	                    reason[0] != '\0' ? reason : "not ok");
}

static enum MHD_Result serve_metrics(struct MHD_Connection *conn, struct metrics_registry *reg)
{
	char *text;
	size_t len;

	if (metrics_render(reg, &text, &len) < 0)
		return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                    "cannot render metrics: out of memory");
	return respond(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS, text, len, 1);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	const struct httpd *h = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	/* Every answer is decided by method and path alone, so it is queued on
	 * the first call; MHD discards any request body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	if (strcmp(url, "/metrics") == 0 && h->opts.metrics != NULL)
		return serve_metrics(conn, h->opts.metrics);
	if (strcmp(url, "/healthz") == 0)
		return serve_check(conn, h->opts.healthz, h->opts.healthz_arg);
	if (strcmp(url, "/readyz") == 0)
		return serve_check(conn, h->opts.readyz, h->opts.readyz_arg);
	return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* MHD's own error messages (a failed accept, a broken client) go to our log
 * instead of a bare stderr line. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("http server", "error", msg, NULL);
}

/* "127.0.0.1:9090" or "[::1]:9090" */
static const char *endpoint_name(char *buf, size_t size, const char *addr, int port, int v6)
{
	snprintf(buf, size, v6 ? "[%s]:%d" : "%s:%d", addr, port);
	return buf;
}

int httpd_start(const struct httpd_options *opts, struct httpd **out, char *errbuf,
                size_t errbuf_size)
{
	const char *addr = opts->addr != NULL ? opts->addr : "127.0.0.1";
	struct sockaddr_storage ss;
	socklen_t sslen;
	char name[128];
	struct httpd *h;
	int fd, on = 1, v6 = 0;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	if (opts->port < 0 || opts->port > 65535)
		return err_set(errbuf, errbuf_size, HTTPD_ERR,
		               "httpd: invalid port %d (want 0..65535)", opts->port);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)opts->port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)opts->port);
		sslen = sizeof(*sin6);
		v6 = 1;
	} else {
		return err_set(
		    errbuf, errbuf_size, HTTPD_ERR,
		    "httpd: invalid listen address \"%.64s\" (want an IPv4 or IPv6 address)", addr);
	}
	endpoint_name(name, sizeof(name), addr, opts->port, v6);

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(errbuf, errbuf_size, HTTPD_ERR, "httpd: cannot listen on %s: %s",
		               name, strerror(errno));
	/* SO_REUSEADDR lets a restarted process bind while old connections sit
	 * in TIME_WAIT; a port with a live listener stays taken. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 64) != 0) {
		int err = errno;
		close(fd);
		return err_set(errbuf, errbuf_size, HTTPD_ERR, "httpd: cannot listen on %s: %s",
		               name, strerror(err));
	}
	sslen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		int err = errno;
		close(fd);
		return err_set(errbuf, errbuf_size, HTTPD_ERR,
		               "httpd: cannot listen on %s: getsockname: %s", name, strerror(err));
	}

	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		close(fd);
		return err_set(errbuf, errbuf_size, HTTPD_ERR, "httpd: out of memory");
	}
	h->opts = *opts;
	h->port = ntohs(v6 ? sin6->sin6_port : sin->sin_port);
	h->daemon = MHD_start_daemon(
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (h->daemon == NULL) {
		/* MHD closes a socket it was given on some failure paths and
		 * not on others; close it only if it is still ours. */
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		free(h);
		return err_set(errbuf, errbuf_size, HTTPD_ERR,
		               "httpd: cannot start the HTTP server on %s", name);
	}
	*out = h;
	return 0;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon); /* joins the thread, closes the socket */
	free(h);
}
