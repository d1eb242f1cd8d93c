/*
 * kube_client.c - the Kubernetes REST client. See kube_client.h.
 *
 * Every request: take a pooled easy handle, curl_easy_reset() it (which keeps
 * its live connections, TLS session and DNS caches), set the options again,
 * perform, decode, give the handle back. Resetting each time costs
 * microseconds and means no option of one request leaks into the next.
 */
#include "kube_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE (64u << 20)
#define DEFAULT_MAX_HANDLES 4u
/* An error body of a stream is a Status: small. */
#define STREAM_ERROR_BODY_MAX (64u << 10)
#define URL_MAX (KUBE_CONFIG_SERVER_MAX + KUBE_PATH_MAX)

struct handle {
	CURL *curl;
	int busy;
	char errbuf[CURL_ERROR_SIZE];
};

struct kube_client {
	struct kube_config cfg;
	long connect_timeout_ms;
	long timeout_ms;
	enum kube_http_version http_version;
	size_t max_response_bytes;
	char user_agent[128];

	pthread_mutex_t lock; /* handles[].busy, n_handles, cfg's token */
	pthread_cond_t handle_freed;
	struct handle *handles;
	unsigned n_handles, max_handles;

	atomic_ullong stats[KUBE_VERB_COUNT][KUBE_STATS_CODES];
	atomic_ullong connects;
	atomic_ullong http2;
};

/* ---------------------------------------------------------------- paths */

static int segment_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7F || *p == '/' || *p == '?' || *p == '#' || *p == '%')
			return 0;
	return 1;
}

int kube_path(char *buf, size_t size, const struct kube_ref *ref)
{
	int core = ref->group == NULL || ref->group[0] == '\0';
	if ((!core && !segment_ok(ref->group)) || !segment_ok(ref->version) ||
	    !segment_ok(ref->resource) || (ref->namespace != NULL && !segment_ok(ref->namespace)) ||
	    (ref->name != NULL && !segment_ok(ref->name)) ||
	    (ref->subresource != NULL && (!segment_ok(ref->subresource) || ref->name == NULL)))
		return KUBE_EINVAL;
	int n = snprintf(
	    buf, size, "%s%s/%s%s%s/%s%s%s%s%s", core ? "/api" : "/apis/", core ? "" : ref->group,
	    ref->version, ref->namespace != NULL ? "/namespaces/" : "",
	    ref->namespace != NULL ? ref->namespace : "", ref->resource,
	    ref->name != NULL ? "/" : "", ref->name != NULL ? ref->name : "",
	    ref->subresource != NULL ? "/" : "", ref->subresource != NULL ? ref->subresource : "");
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return KUBE_EINVAL;
	}
	return KUBE_OK;
}

int kube_query_add(char *buf, size_t size, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if (value == NULL || value[0] == '\0')
		return KUBE_OK;
	size_t len = strlen(buf), start = len;
	size_t klen = strlen(key);
	if (len + 1 + klen + 1 >= size)
		return KUBE_EINVAL;
	buf[len++] = strchr(buf, '?') != NULL ? '&' : '?';
	memcpy(buf + len, key, klen);
	len += klen;
	buf[len++] = '=';
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
		int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		            *p == '~';
		if (len + (plain ? 1 : 3) >= size) {
			buf[start] = '\0';
			return KUBE_EINVAL;
		}
		if (plain) {
			buf[len++] = (char)*p;
		} else {
			buf[len++] = '%';
			buf[len++] = hex[*p >> 4];
			buf[len++] = hex[*p & 15];
		}
	}
	buf[len] = '\0';
	return KUBE_OK;
}

/* ---------------------------------------------------------------- stats */

static const int stats_codes[KUBE_STATS_CODES] = {0,   200, 201, 202, 204, 400, 401, 403, 404,
                                                  405, 409, 410, 422, 429, 500, 503, 504, -1};
static const char *const stats_code_names[KUBE_STATS_CODES] = {
    "error", "200", "201", "202", "204", "400", "401", "403", "404",
    "405",   "409", "410", "422", "429", "500", "503", "504", "other"};
static const char *const verb_names[KUBE_VERB_COUNT] = {"get",     "list",  "watch", "create",
                                                        "replace", "apply", "patch", "delete"};

const char *kube_verb_name(enum kube_verb verb)
{
	if ((int)verb < 0 || verb >= KUBE_VERB_COUNT)
		return "unknown";
	return verb_names[verb];
}

const char *kube_stats_code_name(int index)
{
	if (index < 0 || index >= KUBE_STATS_CODES)
		return NULL;
	return stats_code_names[index];
}

int kube_stats_code_index(int http_code)
{
	for (int i = 0; i < KUBE_STATS_CODES - 1; i++)
		if (stats_codes[i] == http_code)
			return i;
	return KUBE_STATS_CODES - 1;
}

void kube_client_stats(struct kube_client *c, struct kube_client_stats *out)
{
	for (int v = 0; v < KUBE_VERB_COUNT; v++)
		for (int i = 0; i < KUBE_STATS_CODES; i++)
			out->requests[v][i] =
			    atomic_load_explicit(&c->stats[v][i], memory_order_relaxed);
	out->connects = atomic_load_explicit(&c->connects, memory_order_relaxed);
	out->http2 = atomic_load_explicit(&c->http2, memory_order_relaxed);
}

/* ---------------------------------------------------------------- client */

int kube_client_new(struct kube_client **out, struct kube_config *cfg,
                    const struct kube_client_options *opts, char *errbuf, size_t errbuf_size)
{
	static const struct kube_client_options defaults;
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (cfg->server[0] == '\0') {
		snprintf(errbuf, errbuf_size, "kube client: configuration has no server");
		return KUBE_EINVAL;
	}
	/* Thread-safe in libcurl >= 7.84 built "threadsafe" (Debian's is);
	 * reference-counted, paired with curl_global_cleanup() in _free. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(errbuf, errbuf_size, "kube client: curl_global_init failed");
		return KUBE_ENOMEM;
	}
	struct kube_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		curl_global_cleanup();
		snprintf(errbuf, errbuf_size, "kube client: out of memory");
		return KUBE_ENOMEM;
	}
	c->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->http_version = opts->http_version;
	c->max_response_bytes =
	    opts->max_response_bytes > 0 ? opts->max_response_bytes : DEFAULT_MAX_RESPONSE;
	c->max_handles = opts->max_handles > 0 ? opts->max_handles : DEFAULT_MAX_HANDLES;
	snprintf(c->user_agent, sizeof(c->user_agent), "%s",
	         opts->user_agent != NULL ? opts->user_agent : "sluice-operator/" SLUICE_VERSION);
	c->handles = calloc(c->max_handles, sizeof(*c->handles));
	if (c->handles == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->handles);
		free(c);
		curl_global_cleanup();
		snprintf(errbuf, errbuf_size, "kube client: out of memory");
		return KUBE_ENOMEM;
	}
	if (pthread_cond_init(&c->handle_freed, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		free(c->handles);
		free(c);
		curl_global_cleanup();
		snprintf(errbuf, errbuf_size, "kube client: out of memory");
		return KUBE_ENOMEM;
	}
	for (int v = 0; v < KUBE_VERB_COUNT; v++)
		for (int i = 0; i < KUBE_STATS_CODES; i++)
			atomic_init(&c->stats[v][i], 0);
	atomic_init(&c->connects, 0);
	atomic_init(&c->http2, 0);
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	*out = c;
	return KUBE_OK;
}

void kube_client_free(struct kube_client *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->n_handles; i++)
		curl_easy_cleanup(c->handles[i].curl);
	free(c->handles);
	pthread_cond_destroy(&c->handle_freed);
	pthread_mutex_destroy(&c->lock);
	kube_config_free(&c->cfg);
	free(c);
	curl_global_cleanup();
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
	return &c->cfg;
}

/* A free handle, made on first use; waits while max_handles are busy. */
static struct handle *handle_take(struct kube_client *c)
{
	struct handle *h = NULL;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		for (unsigned i = 0; i < c->n_handles && h == NULL; i++)
			if (!c->handles[i].busy)
				h = &c->handles[i];
		if (h == NULL && c->n_handles < c->max_handles) {
			CURL *curl = curl_easy_init();
			if (curl != NULL) {
				h = &c->handles[c->n_handles++];
				h->curl = curl;
			}
		}
		if (h != NULL || c->n_handles == 0)
			break;
		pthread_cond_wait(&c->handle_freed, &c->lock);
	}
	if (h != NULL)
		h->busy = 1;
	pthread_mutex_unlock(&c->lock);
	return h;
}

static void handle_give(struct kube_client *c, struct handle *h)
{
	pthread_mutex_lock(&c->lock);
	h->busy = 0;
	pthread_cond_signal(&c->handle_freed);
	pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- transfer */

/* One request's state, seen by the libcurl callbacks. */
struct xfer {
	CURL *curl;
	char *buf; /* the body (or a stream's error body) */
	size_t len, cap, max;
	int too_large;
	int retry_after;
	/* Streaming: 2xx chunks go to fn instead of buf. */
	kube_stream_fn fn;
	void *opaque;
	int fn_rc;
	int delivering; /* 1: 2xx, deliver; 0: buffer; -1: not known yet */
	const atomic_int *stop;
	int stopped;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	if (x->stop != NULL && atomic_load(x->stop)) {
		x->stopped = 1;
		return 0;
	}
	if (x->fn != NULL && x->delivering < 0) {
		long code = 0;
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
		x->delivering = code >= 200 && code < 300;
	}
	if (x->fn != NULL && x->delivering) {
		x->fn_rc = x->fn(data, n, x->opaque);
		return x->fn_rc == 0 ? n : 0;
	}
	if (n > x->max - x->len) {
		x->too_large = 1;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		size_t ncap = x->cap == 0 ? 16384 : x->cap;
		while (ncap < x->len + n + 1)
			ncap *= 2;
		char *nbuf = realloc(x->buf, ncap);
		if (nbuf == NULL) {
			x->too_large = 1;
			return 0;
		}
		x->buf = nbuf;
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/* Keeps Retry-After (seconds form) for 429 and 503 answers. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		long v = 0;
		size_t i = sizeof(name) - 1;
		while (i < n && (data[i] == ' ' || data[i] == '\t'))
			i++;
		while (i < n && data[i] >= '0' && data[i] <= '9' && v < 86400)
			v = v * 10 + (data[i++] - '0');
		x->retry_after = (int)v;
	}
	return n;
}

/* Checked by libcurl about once a second even on an idle connection, which
 * is what lets a watch that receives nothing stop promptly. */
static int progress_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct xfer *x = userp;
	if (x->stop != NULL && atomic_load(x->stop)) {
		x->stopped = 1;
		return 1;
	}
	return 0;
}

#define SETOPT(curl, opt, val)                                                                     \
	do {                                                                                       \
		if (curl_easy_setopt((curl), (opt), (val)) != CURLE_OK)                            \
			return -1;                                                                 \
	} while (0)

static int set_tls(struct kube_client *c, CURL *curl)
{
	const struct kube_config *cfg = &c->cfg;
	struct curl_blob blob;
	if (cfg->insecure_skip_tls_verify) {
		SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->ca.len > 0) {
		/* The cluster CA alone: not the system bundle too, as client-go. */
		blob = (struct curl_blob){cfg->ca.data, cfg->ca.len, CURL_BLOB_NOCOPY};
		SETOPT(curl, CURLOPT_CAINFO_BLOB, &blob);
		SETOPT(curl, CURLOPT_CAINFO, (char *)NULL);
		SETOPT(curl, CURLOPT_CAPATH, (char *)NULL);
	}
	if (cfg->client_cert.len > 0) {
		blob = (struct curl_blob){cfg->client_cert.data, cfg->client_cert.len,
		                          CURL_BLOB_NOCOPY};
		SETOPT(curl, CURLOPT_SSLCERT_BLOB, &blob);
		SETOPT(curl, CURLOPT_SSLCERTTYPE, "PEM");
		blob =
		    (struct curl_blob){cfg->client_key.data, cfg->client_key.len, CURL_BLOB_NOCOPY};
		SETOPT(curl, CURLOPT_SSLKEY_BLOB, &blob);
		SETOPT(curl, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return 0;
}

static int set_options(struct kube_client *c, struct handle *h, struct xfer *x, const char *url,
                       const char *method, const char *body, size_t body_len,
                       struct curl_slist *headers, long timeout_ms)
{
	CURL *curl = h->curl;
	curl_easy_reset(curl);
	h->errbuf[0] = '\0';
	SETOPT(curl, CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(curl, CURLOPT_URL, url);
	SETOPT(curl, CURLOPT_PROTOCOLS_STR, "https,http");
	SETOPT(curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	SETOPT(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* A peer that vanished without a FIN (a node gone) must not hang a
	 * watch until its timeout: probe idle connections. */
	SETOPT(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(curl, CURLOPT_TCP_KEEPIDLE, 30L);
	SETOPT(curl, CURLOPT_TCP_KEEPINTVL, 10L);
	SETOPT(curl, CURLOPT_HTTP_VERSION,
	       c->http_version == KUBE_HTTP_1_1 ? (long)CURL_HTTP_VERSION_1_1
	                                        : (long)CURL_HTTP_VERSION_2TLS);
	SETOPT(curl, CURLOPT_USERAGENT, c->user_agent);
	SETOPT(curl, CURLOPT_ACCEPT_ENCODING, ""); /* big lists come gzipped */
	if (c->cfg.proxy_url[0] != '\0')
		SETOPT(curl, CURLOPT_PROXY, c->cfg.proxy_url);
	if (set_tls(c, curl) != 0)
		return -1;
	SETOPT(curl, CURLOPT_HTTPHEADER, headers);
	SETOPT(curl, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(curl, CURLOPT_WRITEDATA, x);
	SETOPT(curl, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(curl, CURLOPT_HEADERDATA, x);
	if (x->stop != NULL) {
		SETOPT(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
		SETOPT(curl, CURLOPT_XFERINFODATA, x);
		SETOPT(curl, CURLOPT_NOPROGRESS, 0L);
	}
	if (body != NULL) {
		/* POSTFIELDS makes it a POST; PUT, PATCH and DELETE rename it. */
		SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		SETOPT(curl, CURLOPT_POSTFIELDS, body);
		if (strcmp(method, "POST") != 0)
			SETOPT(curl, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") == 0) {
		SETOPT(curl, CURLOPT_HTTPGET, 1L);
	} else {
		SETOPT(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	return 0;
}

/* "Authorization: Bearer <token>" under the lock (another thread may be
 * replacing the token); NULL in *out when there is no token. */
static int auth_header(struct kube_client *c, int force, char **out, struct kube_error *err)
{
	char msg[512];
	const char *token = NULL;
	*out = NULL;
	pthread_mutex_lock(&c->lock);
	int rc = kube_config_token(&c->cfg, time(NULL), force, &token, msg, sizeof(msg));
	if (rc == KUBE_OK && token != NULL) {
		size_t len = strlen(token) + sizeof("Authorization: Bearer ");
		*out = malloc(len);
		if (*out == NULL)
			rc = KUBE_ENOMEM;
		else
			snprintf(*out, len, "Authorization: Bearer %s", token);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == KUBE_ENOMEM)
		return kube_error_set(err, rc, 0, "out of memory");
	if (rc != KUBE_OK)
		return kube_error_set(err, rc, 0, msg);
	return KUBE_OK;
}

static void secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void count(struct kube_client *c, enum kube_verb verb, int http_code)
{
	atomic_fetch_add_explicit(&c->stats[verb][kube_stats_code_index(http_code)], 1,
	                          memory_order_relaxed);
}

/*
 * Performs one request, retrying once after a 401 when the token comes from a
 * file (it may have rotated under us). On return x holds the body and
 * *http_code the status (0 when no answer). Returns 0 when an answer came
 * (any status), else a negative code with err set.
 */
static int perform(struct kube_client *c, enum kube_verb verb, const char *method,
                   const char *path_query, const char *content_type, const char *body,
                   size_t body_len, long timeout_ms, struct xfer *x, long *http_code,
                   struct kube_error *err)
{
	char url[URL_MAX];
	*http_code = 0;
	if (snprintf(url, sizeof(url), "%s%s", c->cfg.server, path_query) >= (int)sizeof(url))
		return kube_error_set(err, KUBE_EINVAL, 0, "request URL too long");

	struct handle *h = handle_take(c);
	if (h == NULL)
		return kube_error_set(err, KUBE_ENOMEM, 0, "curl_easy_init failed");
	x->curl = h->curl;

	int rc = KUBE_OK;
	for (int attempt = 0; attempt < 2; attempt++) {
		char *auth = NULL;
		struct curl_slist *headers = NULL, *tmp;
		char ct[128];
		rc = auth_header(c, attempt > 0, &auth, err);
		if (rc != KUBE_OK)
			break;
		/* Exactly one Accept and one Content-Type (the generated C
		 * client sends five Content-Types; notes §1). "Expect:" stops
		 * libcurl waiting for 100-continue on big bodies. */
		const char *lines[4] = {"Accept: application/json", "Expect:", NULL, auth};
		if (content_type != NULL) {
			snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
			lines[2] = ct;
		}
		for (int i = 0; i < 4; i++) {
			if (lines[i] == NULL)
				continue;
			tmp = curl_slist_append(headers, lines[i]);
			if (tmp == NULL) {
				rc = KUBE_ENOMEM;
				break;
			}
			headers = tmp;
		}
		if (rc == KUBE_OK &&
		    set_options(c, h, x, url, method, body, body_len, headers, timeout_ms) != 0)
			rc = KUBE_EINVAL;
		CURLcode res = CURLE_OK;
		if (rc == KUBE_OK) {
			res = curl_easy_perform(h->curl);
			long connects = 0, version = 0;
			if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, http_code) !=
			    CURLE_OK)
				*http_code = 0;
			if (curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects) ==
			        CURLE_OK &&
			    connects > 0)
				atomic_fetch_add_explicit(&c->connects,
				                          (unsigned long long)connects,
				                          memory_order_relaxed);
			if (*http_code != 0 &&
			    curl_easy_getinfo(h->curl, CURLINFO_HTTP_VERSION, &version) ==
			        CURLE_OK &&
			    version == CURL_HTTP_VERSION_2_0)
				atomic_fetch_add_explicit(&c->http2, 1, memory_order_relaxed);
		}
		curl_slist_free_all(headers);
		secret_free(auth);
		if (rc != KUBE_OK) {
			kube_error_set(err, rc, 0, "could not set up the request (curl options)");
			break;
		}
		if (res != CURLE_OK) {
			if (x->stopped)
				rc = kube_error_set(err, KUBE_ESTOPPED, 0, "stopped by the caller");
			else if (x->too_large)
				rc = kube_error_set(err, KUBE_ETOOLARGE, (int)*http_code,
				                    "response larger than the client's bound");
			else if (x->fn_rc != 0)
				rc = x->fn_rc;
			else {
				/* libcurl's text names host and port; the path says
				 * which request. */
				char msg[512];
				snprintf(msg, sizeof(msg), "%.255s (%.8s %.200s)",
				         h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(res),
				         method, path_query);
				rc = kube_error_set(err, KUBE_ETRANSPORT, 0, msg);
			}
			/* A stream that got its answer and then stopped was
			 * still answered; a cut connection was not. */
			if (rc == KUBE_ETRANSPORT)
				*http_code = 0;
			break;
		}
		if (*http_code == 401 && attempt == 0 && c->cfg.token_file[0] != '\0') {
			log_info("401 from the API server; re-reading the token file", "source",
			         c->cfg.source, "path", path_query, NULL);
			x->len = 0;
			x->retry_after = 0;
			x->delivering = -1;
			count(c, verb, 401);
			continue;
		}
		break;
	}
	count(c, verb, (int)*http_code);
	handle_give(c, h);
	return rc;
}

/*
 * A request with a JSON body out; a 2xx answer's body is left in x->buf
 * (x->len bytes, NUL-terminated; NULL when empty), the caller's to free.
 * Non-2xx answers are decoded into err.
 */
static int request_body(struct kube_client *c, enum kube_verb verb, const char *method,
                        const char *path_query, const char *content_type, const cJSON *body,
                        struct xfer *x, long *code, struct kube_error *err)
{
	char *text = NULL;
	if (body != NULL) {
		text = cJSON_PrintUnformatted(body);
		if (text == NULL)
			return kube_error_set(err, KUBE_ENOMEM, 0, "cannot print the request body");
	}
	*x = (struct xfer){.max = c->max_response_bytes, .delivering = -1};
	int rc = perform(c, verb, method, path_query, content_type, text,
	                 text != NULL ? strlen(text) : 0, c->timeout_ms, x, code, err);
	cJSON_free(text);
	if (rc == KUBE_OK && (*code < 200 || *code >= 300)) {
		rc = kube_status_decode_body((int)*code, x->buf, x->len, err);
		if (rc == KUBE_OK) /* 1xx/3xx: not something we asked for */
			rc = KUBE_EHTTP;
		if (err->retry_after_seconds == 0)
			err->retry_after_seconds = x->retry_after;
	}
	if (rc != KUBE_OK) {
		free(x->buf);
		x->buf = NULL;
		x->len = 0;
	}
	return rc;
}

/* A request with a JSON body out and a JSON answer back. */
static int request_json(struct kube_client *c, enum kube_verb verb, const char *method,
                        const char *path_query, const char *content_type, const cJSON *body,
                        cJSON **out, struct kube_error *err)
{
	struct kube_error local;
	struct xfer x;
	long code = 0;
	if (err == NULL)
		err = &local;
	kube_error_clear(err);
	if (out != NULL)
		*out = NULL;

	int rc = request_body(c, verb, method, path_query, content_type, body, &x, &code, err);
	if (rc == KUBE_OK && out != NULL && x.len > 0) {
		*out = cJSON_ParseWithLength(x.buf, x.len);
		if (*out == NULL)
			rc = kube_error_set(err, KUBE_EPROTOCOL, (int)code,
			                    "response body is not JSON");
	}
	free(x.buf);
	return rc;
}

int kube_client_request(struct kube_client *c, enum kube_verb verb, const char *method,
                        const char *path_query, const char *content_type, const cJSON *body,
                        cJSON **out, struct kube_error *err)
{
	if ((int)verb < 0 || verb >= KUBE_VERB_COUNT || method == NULL || path_query == NULL ||
	    path_query[0] != '/' || (body != NULL && content_type == NULL)) {
		if (out != NULL)
			*out = NULL;
		return kube_error_set(err, KUBE_EINVAL, 0, "kube_client_request: bad arguments");
	}
	return request_json(c, verb, method, path_query, content_type, body, out, err);
}

int kube_client_stream(struct kube_client *c, const char *path_query, long timeout_ms,
                       const atomic_int *stop, kube_stream_fn fn, void *opaque,
                       struct kube_error *err)
{
	struct kube_error local;
	if (err == NULL)
		err = &local;
	kube_error_clear(err);
	if (path_query == NULL || path_query[0] != '/' || fn == NULL)
		return kube_error_set(err, KUBE_EINVAL, 0, "kube_client_stream: bad arguments");
	struct xfer x = {.max = STREAM_ERROR_BODY_MAX,
	                 .delivering = -1,
	                 .fn = fn,
	                 .opaque = opaque,
	                 .stop = stop};
	long code;
	int rc = perform(c, KUBE_VERB_WATCH, "GET", path_query, NULL, NULL, 0,
	                 timeout_ms > 0 ? timeout_ms : 0, &x, &code, err);
	if (rc == KUBE_OK && (code < 200 || code >= 300)) {
		rc = kube_status_decode_body((int)code, x.buf, x.len, err);
		if (rc == KUBE_OK)
			rc = KUBE_EHTTP;
		if (err->retry_after_seconds == 0)
			err->retry_after_seconds = x.retry_after;
	}
	free(x.buf);
	return rc;
}

/* ---------------------------------------------------------------- verbs */

static int ref_path(const struct kube_ref *ref, char *buf, size_t size, struct kube_error *err)
{
	if (ref == NULL || kube_path(buf, size, ref) != KUBE_OK)
		return kube_error_set(err, KUBE_EINVAL, 0,
		                      "bad resource reference (empty or unsafe segment)");
	return KUBE_OK;
}

/* The checks every verb shares: a path, and *out cleared. */
static int begin(const struct kube_ref *ref, int want_name, char *path, cJSON **out,
                 struct kube_error *err)
{
	if (out != NULL)
		*out = NULL;
	kube_error_clear(err);
	if (ref != NULL && want_name >= 0 && (ref->name != NULL) != want_name)
		return kube_error_set(
		    err, KUBE_EINVAL, 0,
		    want_name ? "this verb needs ref->name"
		              : "this verb acts on a collection: ref->name must be NULL");
	return ref_path(ref, path, KUBE_PATH_MAX, err);
}

int kube_client_get(struct kube_client *c, const struct kube_ref *ref, cJSON **out,
                    struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 1, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	return request_json(c, KUBE_VERB_GET, "GET", path, NULL, NULL, out, err);
}

static int list_query(char *path, const struct kube_list_opts *opts, struct kube_error *err)
{
	char limit[32] = "";
	if (opts == NULL)
		return KUBE_OK;
	if (opts->limit > 0)
		snprintf(limit, sizeof(limit), "%ld", opts->limit);
	if (kube_query_add(path, KUBE_PATH_MAX, "labelSelector", opts->label_selector) ||
	    kube_query_add(path, KUBE_PATH_MAX, "fieldSelector", opts->field_selector) ||
	    kube_query_add(path, KUBE_PATH_MAX, "resourceVersion", opts->resource_version) ||
	    kube_query_add(path, KUBE_PATH_MAX, "continue", opts->continue_token) ||
	    kube_query_add(path, KUBE_PATH_MAX, "limit", limit))
		return kube_error_set(err, KUBE_EINVAL, 0, "list query too long");
	return KUBE_OK;
}

int kube_client_list(struct kube_client *c, const struct kube_ref *ref,
                     const struct kube_list_opts *opts, cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 0, path, out, err);
	if (rc == KUBE_OK)
		rc = list_query(path, opts, err);
	if (rc != KUBE_OK)
		return rc;
	return request_json(c, KUBE_VERB_LIST, "GET", path, NULL, NULL, out, err);
}

/* Past JSON whitespace. */
static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* One JSON value at *p (taken by the caller), *p moved past it; NULL when
 * the text holds no value there (or out of memory). */
static cJSON *parse_one(const char **p, const char *end)
{
	const char *stop = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(*p, (size_t)(end - *p), &stop, 0);
	if (v != NULL)
		*p = skip_ws(stop, end);
	return v;
}

/* The elements of the array at *p, each parsed alone and handed to fn. */
static int each_element(const char **p, const char *end, kube_list_item_fn fn, void *opaque)
{
	const char *q = skip_ws(*p + 1, end); /* past '[' */
	if (q < end && *q == ']') {
		*p = skip_ws(q + 1, end);
		return KUBE_OK;
	}
	for (;;) {
		cJSON *item = parse_one(&q, end);
		int rc;
		if (item == NULL)
			return KUBE_EPROTOCOL;
		if ((rc = fn(item, opaque)) != 0)
			return rc;
		if (q < end && *q == ',') {
			q = skip_ws(q + 1, end);
			continue;
		}
		if (q < end && *q == ']') {
			*p = skip_ws(q + 1, end);
			return KUBE_OK;
		}
		return KUBE_EPROTOCOL;
	}
}

int kube_list_each_item(const char *text, size_t len, kube_list_item_fn fn, void *opaque,
                        cJSON **meta)
{
	const char *end = text + len, *p = skip_ws(text, end);
	*meta = NULL;
	if (p >= end || *p != '{')
		return KUBE_EPROTOCOL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return KUBE_OK;
	for (;;) {
		cJSON *key = parse_one(&p, end), *v;
		int rc = KUBE_OK;
		if (!cJSON_IsString(key) || p >= end || *p != ':') {
			cJSON_Delete(key);
			goto bad;
		}
		p = skip_ws(p + 1, end);
		if (strcmp(key->valuestring, "items") == 0 && p < end && *p == '[') {
			rc = each_element(&p, end, fn, opaque);
		} else if ((v = parse_one(&p, end)) == NULL) {
			rc = KUBE_EPROTOCOL;
		} else if (strcmp(key->valuestring, "metadata") == 0 && *meta == NULL) {
			*meta = v;
		} else if (strcmp(key->valuestring, "items") == 0 && !cJSON_IsNull(v)) {
			cJSON_Delete(v); /* items that are not an array */
			rc = KUBE_EPROTOCOL;
		} else {
			cJSON_Delete(v);
		}
		cJSON_Delete(key);
		if (rc != KUBE_OK) {
			cJSON_Delete(*meta);
			*meta = NULL;
			return rc;
		}
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return KUBE_OK;
		goto bad;
	}
bad:
	cJSON_Delete(*meta);
	*meta = NULL;
	return KUBE_EPROTOCOL;
}

int kube_client_list_each(struct kube_client *c, const struct kube_ref *ref,
                          const struct kube_list_opts *opts, kube_list_item_fn fn, void *opaque,
                          cJSON **meta, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	struct kube_error local;
	struct xfer x;
	long code = 0;
	if (err == NULL)
		err = &local;
	*meta = NULL;
	int rc = begin(ref, 0, path, NULL, err);
	if (rc == KUBE_OK)
		rc = list_query(path, opts, err);
	if (rc == KUBE_OK)
		rc = request_body(c, KUBE_VERB_LIST, "GET", path, NULL, NULL, &x, &code, err);
	if (rc != KUBE_OK)
		return rc;
	rc = kube_list_each_item(x.buf != NULL ? x.buf : "", x.len, fn, opaque, meta);
	free(x.buf);
	if (rc != KUBE_OK && err->message[0] == '\0')
		return kube_error_set(err, rc, (int)code,
		                      rc == KUBE_EPROTOCOL ? "list: not a list object"
		                                           : "list: an item could not be taken");
	return rc;
}

int kube_client_list_all(struct kube_client *c, const struct kube_ref *ref,
                         const struct kube_list_opts *opts, cJSON **out, struct kube_error *err)
{
	struct kube_list_opts o = {0};
	cJSON *all = NULL, *items = NULL;
	char *cont = NULL;
	int rc = KUBE_OK;
	if (opts != NULL)
		o = *opts;
	*out = NULL;
	for (int page = 0;; page++) {
		if (page >= KUBE_LIST_MAX_PAGES) {
			rc = kube_error_set(err, KUBE_ETOOLARGE, 0, "list: too many pages");
			break;
		}
		cJSON *res;
		rc = kube_client_list(c, ref, &o, &res, err);
		if (rc != KUBE_OK)
			break;
		cJSON *res_items = cJSON_GetObjectItemCaseSensitive(res, "items");
		cJSON *meta = cJSON_GetObjectItemCaseSensitive(res, "metadata");
		cJSON *next = cJSON_GetObjectItemCaseSensitive(meta, "continue");
		if (!cJSON_IsObject(res) ||
		    (!cJSON_IsArray(res_items) && !cJSON_IsNull(res_items) && res_items != NULL)) {
			cJSON_Delete(res);
			rc = kube_error_set(err, KUBE_EPROTOCOL, 200, "list: no items array");
			break;
		}
		char *next_cont = NULL;
		if (cJSON_IsString(next) && next->valuestring[0] != '\0') {
			next_cont = strdup(next->valuestring);
			if (next_cont == NULL) {
				cJSON_Delete(res);
				rc = kube_error_set(err, KUBE_ENOMEM, 0, "out of memory");
				break;
			}
		}
		if (all == NULL) {
			all = res;
			items = res_items;
			if (items == NULL || cJSON_IsNull(items)) {
				/* An empty list may come as "items": null. */
				cJSON_DeleteItemFromObjectCaseSensitive(all, "items");
				items = cJSON_AddArrayToObject(all, "items");
			}
		} else if (res_items != NULL && cJSON_IsArray(res_items)) {
			cJSON *item;
			while ((item = cJSON_DetachItemFromArray(res_items, 0)) != NULL)
				cJSON_AddItemToArray(items, item);
			cJSON_Delete(res);
		} else {
			cJSON_Delete(res);
		}
		free(cont);
		cont = next_cont;
		if (cont == NULL || items == NULL)
			break;
		/* Later pages come from the snapshot the token names; a
		 * resourceVersion next to continue is refused by the server. */
		o.continue_token = cont;
		o.resource_version = NULL;
	}
	free(cont);
	if (rc == KUBE_OK && items == NULL)
		rc = kube_error_set(err, KUBE_ENOMEM, 0, "out of memory");
	if (rc != KUBE_OK) {
		cJSON_Delete(all);
		return rc;
	}
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(all, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "continue");
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "remainingItemCount");
	*out = all;
	return KUBE_OK;
}

int kube_client_create(struct kube_client *c, const struct kube_ref *ref, const cJSON *body,
                       cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 0, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	return request_json(c, KUBE_VERB_CREATE, "POST", path, "application/json", body, out, err);
}

int kube_client_replace(struct kube_client *c, const struct kube_ref *ref, const cJSON *body,
                        cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 1, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	return request_json(c, KUBE_VERB_REPLACE, "PUT", path, "application/json", body, out, err);
}

int kube_client_apply(struct kube_client *c, const struct kube_ref *ref, const cJSON *body,
                      const char *field_manager, int force, cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 1, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	if (field_manager == NULL || field_manager[0] == '\0' || strlen(field_manager) > 128)
		return kube_error_set(err, KUBE_EINVAL, 0,
		                      "apply needs a fieldManager of 1 to 128 bytes");
	if (kube_query_add(path, sizeof(path), "fieldManager", field_manager) != KUBE_OK ||
	    (force && kube_query_add(path, sizeof(path), "force", "true") != KUBE_OK))
		return kube_error_set(err, KUBE_EINVAL, 0, "apply: path too long");
	return request_json(c, KUBE_VERB_APPLY, "PATCH", path, "application/apply-patch+yaml", body,
	                    out, err);
}

int kube_client_merge_patch(struct kube_client *c, const struct kube_ref *ref, const cJSON *patch,
                            cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 1, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	return request_json(c, KUBE_VERB_PATCH, "PATCH", path, "application/merge-patch+json",
	                    patch, out, err);
}

int kube_client_json_patch(struct kube_client *c, const struct kube_ref *ref, const cJSON *ops,
                           cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 1, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	if (!cJSON_IsArray(ops))
		return kube_error_set(err, KUBE_EINVAL, 0, "a JSON patch is an array of ops");
	return request_json(c, KUBE_VERB_PATCH, "PATCH", path, "application/json-patch+json", ops,
	                    out, err);
}

int kube_client_delete(struct kube_client *c, const struct kube_ref *ref,
                       const struct kube_delete_opts *opts, cJSON **out, struct kube_error *err)
{
	char path[KUBE_PATH_MAX];
	int rc = begin(ref, 1, path, out, err);
	if (rc != KUBE_OK)
		return rc;
	/* DeleteOptions in the body: it also carries preconditions, which a
	 * query string cannot. */
	cJSON *body = cJSON_CreateObject();
	int ok = body != NULL && cJSON_AddStringToObject(body, "kind", "DeleteOptions") &&
	         cJSON_AddStringToObject(body, "apiVersion", "v1");
	if (ok && opts != NULL && opts->propagation_policy != NULL)
		ok = cJSON_AddStringToObject(body, "propagationPolicy", opts->propagation_policy) !=
		     NULL;
	if (ok && opts != NULL && opts->grace_period_seconds >= 0)
		ok = cJSON_AddNumberToObject(body, "gracePeriodSeconds",
		                             (double)opts->grace_period_seconds) != NULL;
	if (ok && opts != NULL &&
	    (opts->precondition_uid != NULL || opts->precondition_resource_version != NULL)) {
		cJSON *pre = cJSON_AddObjectToObject(body, "preconditions");
		ok = pre != NULL;
		if (ok && opts->precondition_uid != NULL)
			ok = cJSON_AddStringToObject(pre, "uid", opts->precondition_uid) != NULL;
		if (ok && opts->precondition_resource_version != NULL)
			ok = cJSON_AddStringToObject(pre, "resourceVersion",
			                             opts->precondition_resource_version) != NULL;
	}
	if (!ok) {
		cJSON_Delete(body);
		return kube_error_set(err, KUBE_ENOMEM, 0, "out of memory");
	}
	rc = request_json(c, KUBE_VERB_DELETE, "DELETE", path, "application/json", body, out, err);
	cJSON_Delete(body);
	return rc;
}

int kube_client_scale(struct kube_client *c, const struct kube_ref *ref, int replicas, cJSON **out,
                      struct kube_error *err)
{
	if (out != NULL)
		*out = NULL;
	if (ref == NULL || replicas < 0)
		return kube_error_set(err, KUBE_EINVAL, 0, "scale: bad reference or replicas < 0");
	struct kube_ref scale = *ref;
	scale.subresource = "scale";
	cJSON *patch = cJSON_CreateObject();
	cJSON *spec = patch != NULL ? cJSON_AddObjectToObject(patch, "spec") : NULL;
	if (spec == NULL || cJSON_AddNumberToObject(spec, "replicas", replicas) == NULL) {
		cJSON_Delete(patch);
		return kube_error_set(err, KUBE_ENOMEM, 0, "out of memory");
	}
	int rc = kube_client_merge_patch(c, &scale, patch, out, err);
	cJSON_Delete(patch);
	return rc;
}
