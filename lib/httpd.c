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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "version.h"

#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_JSON "application/json"

/* Bounds the JSON escaping of /status's short strings (component, version). */
#define STATUS_NAME_MAX 256

struct httpd {
	struct MHD_Daemon *daemon;
	struct httpd_options opts;
	int port;
};

struct httpd_request {
	struct MHD_Connection *conn;
	const struct httpd_handler *handler;
	const char *method, *path;
	void *state;
	int answered;
	size_t n_headers;
	char *header_name[HTTPD_MAX_HEADERS], *header_value[HTTPD_MAX_HEADERS];
	/* An answer given while the body streams in: libmicrohttpd 0.9 queues
	 * no response in that state (MHD_queue_response says MHD_NO), so it
	 * is kept here and queued once the body is all in. */
	int in_body, deferred;
	unsigned int d_status;
	char *d_type, *d_body;
	size_t d_len;
};

/* Queues a response holding body (copied, or taken over and freed by MHD
 * when owned is set). */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
                               const char *content_type, char *body, size_t len, int owned,
                               const struct httpd_request *r)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	size_t i;

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
	for (i = 0; r != NULL && i < r->n_headers; i++) {
		if (MHD_add_response_header(resp, r->header_name[i], r->header_value[i]) !=
		    MHD_YES) {
			MHD_destroy_response(resp);
			return MHD_NO;
		}
	}
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned int status,
                                    const char *text)
{
	return respond(conn, status, CONTENT_TYPE_TEXT, (char *)text, strlen(text), 0, NULL);
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
	return respond(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS, text, len, 1, NULL);
}

/* "name":"<v escaped>", then a comma. */
static int add_string_member(struct buf *b, const char *name, const char *v)
{
	char esc[STATUS_NAME_MAX];

	(void)log_json_escape(esc, sizeof(esc), v, strlen(v));
	if (buf_append_str(b, "\"") < 0 || buf_append_str(b, name) < 0 ||
	    buf_append_str(b, "\":\"") < 0 || buf_append_str(b, esc) < 0 ||
	    buf_append_str(b, "\",") < 0)
		return -1;
	return 0;
}

/* The /status document (httpd.h). Built into a buf without a cap: the
 * registry is bounded by its own limits and the state by its program. */
static enum MHD_Result serve_status(struct MHD_Connection *conn, const struct httpd *h)
{
	char now[CLOCK_RFC3339_MAX] = "";
	char *metrics = NULL, *state = NULL;
	size_t mlen = 0;
	struct buf b;
	int rc = 0;

	buf_init(&b, (size_t)-1);
	if (h->opts.metrics != NULL && metrics_render_json(h->opts.metrics, &metrics, &mlen) < 0)
		rc = -1;
	if (rc == 0 && h->opts.state != NULL)
		state = h->opts.state(h->opts.state_arg);
	(void)clock_format_rfc3339(clock_real_ns(), now, sizeof(now));
	if (rc == 0 &&
	    (buf_append_str(&b, "{") < 0 ||
	     add_string_member(&b, "component", h->opts.component) < 0 ||
	     add_string_member(&b, "version", SLUICE_VERSION) < 0 ||
	     add_string_member(&b, "gitRev", SLUICE_GIT_REV) < 0 ||
	     add_string_member(&b, "time", now) < 0 || buf_append_str(&b, "\"metrics\":") < 0 ||
	     buf_append_str(&b, metrics != NULL ? metrics : "{}") < 0 ||
	     buf_append_str(&b, ",\"state\":") < 0 ||
	     buf_append_str(&b, state != NULL && state[0] != '\0' ? state : "null") < 0 ||
	     buf_append(&b, "}\n", 3) < 0)) /* the NUL too: b.data is a C string */
		rc = -1;
	free(metrics);
	free(state);
	if (rc < 0) {
		buf_free(&b);
		return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                    "cannot render the status: out of memory");
	}
	/* respond() takes the allocation over; the NUL is not sent. */
	return respond(conn, MHD_HTTP_OK, CONTENT_TYPE_JSON, b.data, b.len - 1, 1, NULL);
}

/* ------------------------------------------------------ the handler's API */

const char *httpd_request_method(const struct httpd_request *r)
{
	return r->method;
}

const char *httpd_request_path(const struct httpd_request *r)
{
	return r->path;
}

const char *httpd_request_header(const struct httpd_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_request_query(const struct httpd_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

long long httpd_parse_content_length(const char *v)
{
	char *end;
	long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : n;
}

long long httpd_request_content_length(const struct httpd_request *r)
{
	return httpd_parse_content_length(httpd_request_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH));
}

int httpd_request_answered(const struct httpd_request *r)
{
	return r->answered;
}

int httpd_header(struct httpd_request *r, const char *name, const char *value)
{
	char *n, *v;

	if (r->n_headers == HTTPD_MAX_HEADERS)
		return -1;
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return -1;
	}
	r->header_name[r->n_headers] = n;
	r->header_value[r->n_headers++] = v;
	return 0;
}

static int respond_request(struct httpd_request *r, unsigned int status, const char *content_type,
                           char *body, size_t len, int owned)
{
	if (r->answered) {
		if (owned)
			free(body);
		return -1;
	}
	r->answered = 1;
	if (r->in_body) {
		r->d_type = strdup(content_type);
		r->d_body = owned ? body : malloc(len > 0 ? len : 1);
		if (r->d_type == NULL || r->d_body == NULL) {
			free(r->d_type);
			free(r->d_body);
			r->d_type = r->d_body = NULL;
			return -1; /* answered with nothing: the connection is closed */
		}
		if (!owned && len > 0)
			memcpy(r->d_body, body, len);
		r->d_status = status;
		r->d_len = len;
		r->deferred = 1;
		return 0;
	}
	return respond(r->conn, status, content_type, body, len, owned, r) == MHD_YES ? 0 : -1;
}

int httpd_respond(struct httpd_request *r, unsigned int status, const char *content_type,
                  const char *body, size_t len)
{
	return respond_request(r, status, content_type, (char *)body, len, 0);
}

int httpd_respond_owned(struct httpd_request *r, unsigned int status, const char *content_type,
                        char *body, size_t len)
{
	return respond_request(r, status, content_type, body, len, 1);
}

int httpd_respond_text(struct httpd_request *r, unsigned int status, const char *text)
{
	size_t n = strlen(text);
	char *body = malloc(n + 2);

	if (body == NULL)
		return respond_request(r, MHD_HTTP_INTERNAL_SERVER_ERROR, CONTENT_TYPE_TEXT,
		                       (char *)"out of memory\n", 14, 0);
	memcpy(body, text, n);
	body[n] = '\n';
	body[n + 1] = '\0';
	return respond_request(r, status, CONTENT_TYPE_TEXT, body, n + 1, 1);
}

/* ------------------------------------------------------------ dispatch */

static int builtin_path(const struct httpd *h, const char *url)
{
	return (strcmp(url, "/metrics") == 0 && h->opts.metrics != NULL) ||
	       (strcmp(url, "/status") == 0 && h->opts.component != NULL) ||
	       strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0;
}

static enum MHD_Result serve_builtin(const struct httpd *h, struct MHD_Connection *conn,
                                     const char *url, const char *method)
{
	/* Every answer is decided by method and path alone, so it is queued on
	 * the first call; MHD discards any request body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	if (strcmp(url, "/metrics") == 0 && h->opts.metrics != NULL)
		return serve_metrics(conn, h->opts.metrics);
	if (strcmp(url, "/status") == 0 && h->opts.component != NULL)
		return serve_status(conn, h);
	if (strcmp(url, "/healthz") == 0)
		return serve_check(conn, h->opts.healthz, h->opts.healthz_arg);
	if (strcmp(url, "/readyz") == 0)
		return serve_check(conn, h->opts.readyz, h->opts.readyz_arg);
	return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* Whether the request has a body to come: a Content-Length above 0, or a
 * chunked one. */
static int has_body(struct MHD_Connection *conn)
{
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	return (cl != NULL && strspn(cl, "0") != strlen(cl)) || (te != NULL && te[0] != '\0');
}

static int expects_continue(struct MHD_Connection *conn)
{
	const char *e = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

	return e != NULL && strcasecmp(e, "100-continue") == 0;
}

/* One call of MHD's access handler for a request the handler serves: the
 * first (headers in), one per body chunk, the last (body complete). */
static enum MHD_Result serve_handler(const struct httpd_handler *hd, struct MHD_Connection *conn,
                                     const char *url, const char *method, const char *data,
                                     size_t *data_size, void **req_cls)
{
	struct httpd_request *r = *req_cls;

	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->conn = conn;
		r->handler = hd;
		r->method = method;
		r->path = url;
		*req_cls = r;
		/* A client that sends its body without waiting for "100 Continue"
		 * would read a reset, not the answer, were the connection closed
		 * with its body unread: an answer begin gives such a request goes
		 * out once the body is in (read and dropped), as one given in
		 * body does. */
		int blind = has_body(conn) && !expects_continue(conn);
		r->in_body = blind;
		hd->begin(hd->arg, r, &r->state);
		r->in_body = 0;
		if (blind && r->answered && !r->deferred)
			return MHD_NO; /* the answer could not be kept */
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (!r->answered) {
			r->in_body = 1;
			hd->body(hd->arg, r, r->state, data, *data_size);
			r->in_body = 0;
			if (r->answered && !r->deferred)
				return MHD_NO; /* the answer could not be kept */
		}
		*data_size = 0; /* consumed, or discarded once answered */
		return MHD_YES;
	}
	if (r->deferred) {
		enum MHD_Result rc =
		    respond(conn, r->d_status, r->d_type, r->d_body, r->d_len, 1, r);
		r->d_body = NULL; /* respond took it over */
		r->deferred = 0;
		return rc;
	}
	if (!r->answered) {
		hd->end(hd->arg, r, r->state);
		if (!r->answered)
			return respond_request(r, MHD_HTTP_INTERNAL_SERVER_ERROR, CONTENT_TYPE_TEXT,
			                       (char *)"no response\n", 12, 0) == 0
			           ? MHD_YES
			           : MHD_NO;
	}
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	const struct httpd *h = cls;

	(void)version;
	if (h->opts.handler == NULL || (*req_cls == NULL && builtin_path(h, url)))
		return serve_builtin(h, conn, url, method);
	return serve_handler(h->opts.handler, conn, url, method, upload_data, upload_data_size,
	                     req_cls);
}

/* The end of a request the handler served: done, then the request freed. */
static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
	struct httpd_request *r = *req_cls;
	size_t i;

	(void)cls;
	(void)conn;
	if (r == NULL)
		return;
	if (r->handler->done != NULL)
		r->handler->done(r->handler->arg, r->state,
		                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->answered);
	for (i = 0; i < r->n_headers; i++) {
		free(r->header_name[i]);
		free(r->header_value[i]);
	}
	free(r->d_type);
	free(r->d_body);
	free(r);
	*req_cls = NULL;
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
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	        (opts->handler != NULL ? MHD_USE_THREAD_PER_CONNECTION : 0),
	    0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
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
