/* influx_client.c -- InfluxDB writes over libcurl; see influx_client.h. */
#include "influx_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "log.h"

/* Response bytes kept for classification and the error message. */
#define BODY_MAX 4096
/* URLs and the Authorization header. */
#define URL_MAX 8192

struct influx_client {
	int api;
	char *db, *log_key, *log_value;
	struct buf write_url, query_url;
	CURL *curl;
	struct curl_slist *write_headers, *query_headers, *delete_headers;
	char curl_err[CURL_ERROR_SIZE];
	char body[BODY_MAX + 1];
	size_t body_len;
	int create_refused; /* CREATE DATABASE was refused (401/403): not again */
	int64_t retry_after_ms;
	int curl_global;
};

/* ==== HTTP ==== */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct influx_client *c = arg;
	size_t bytes = size * n, room = BODY_MAX - c->body_len;
	size_t take = bytes < room ? bytes : room;

	memcpy(c->body + c->body_len, p, take);
	c->body_len += take;
	return bytes; /* the rest is dropped, not an error */
}

/* The body's first line, for messages. */
static const char *body_line(const struct influx_client *c, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)strcspn(c->body, "\r\n"), c->body);
	return buf;
}

/* POSTs len bytes of data to url; *status is the HTTP status. A transfer
 * failure (refused, reset, timed out) is RETRY; a URL curl cannot use is
 * CONFIG. */
static int http_post(struct influx_client *c, const char *url, struct curl_slist *headers,
                     const char *data, size_t len, long *status, char *errbuf, size_t errbuf_size)
{
	CURLcode cc;

	c->body_len = 0;
	c->body[0] = '\0';
	c->curl_err[0] = '\0';
	if ((cc = curl_easy_setopt(c->curl, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data)) != CURLE_OK ||
	    (cc = curl_easy_perform(c->curl)) != CURLE_OK) {
		int rc = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL
		             ? INFLUX_CONFIG
		             : INFLUX_RETRY;
		const char *detail = c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(cc);

		log_msg(rc == INFLUX_RETRY ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
		        "influxdb request failed", c->log_key, c->log_value, "url", url, "error",
		        detail, NULL);
		return err_set(errbuf, errbuf_size, rc, "influxdb: POST %s: %s", url, detail);
	}
	c->body[c->body_len] = '\0';
	*status = 0;
	if ((cc = curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status)) != CURLE_OK)
		return err_set(errbuf, errbuf_size, INFLUX_RETRY,
		               "influxdb: POST %s: no status: %s", url, curl_easy_strerror(cc));
	return 0;
}

/* CREATE DATABASE, as Telegraf does on "database not found". Returns 0
 * when it exists now; INFLUX_CONFIG when the server refused (401/403: no
 * right to create it), RETRY otherwise. */
static int create_database(struct influx_client *c, char *errbuf, size_t errbuf_size)
{
	struct buf q;
	char line[256];
	long status;
	int rc;

	buf_init(&q, 4096);
	if (influx_create_db_body(&q, c->db) < 0) {
		buf_free(&q);
		return err_set(errbuf, errbuf_size, INFLUX_RETRY, "influxdb: out of memory");
	}
	rc = http_post(c, c->query_url.data, c->query_headers, q.data, q.len - 1, &status, errbuf,
	               errbuf_size);
	buf_free(&q);
	if (rc < 0)
		return rc;
	if (status == 200 && strstr(c->body, "\"error\"") == NULL) {
		log_info("influxdb database created", c->log_key, c->log_value, "database", c->db,
		         NULL);
		return 0;
	}
	rc = status == 401 || status == 403 ? INFLUX_CONFIG : INFLUX_RETRY;
	if (rc == INFLUX_CONFIG)
		c->create_refused = 1;
	body_line(c, line, sizeof(line));
	log_error("influxdb CREATE DATABASE failed", c->log_key, c->log_value, "database", c->db,
	          "response", line, NULL);
	return err_set(errbuf, errbuf_size, rc,
	               "influxdb: database \"%s\" not found and CREATE DATABASE failed: %ld %s",
	               c->db, status, line);
}

/* Records the Retry-After of the last response (the longest asked for
 * during this write wins). */
static void note_retry_after(struct influx_client *c)
{
	struct curl_header *h = NULL;
	int64_t ms;

	if (curl_easy_header(c->curl, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
	    h == NULL)
		return;
	ms = influx_retry_after(h->value, time(NULL));
	if (ms > c->retry_after_ms)
		c->retry_after_ms = ms;
}

/* One request body, answered by influx_classify: an influx_post_fn. */
static int post_once(void *ctx, const char *data, size_t len, char *errbuf, size_t errbuf_size)
{
	struct influx_client *c = ctx;
	char line[256], code[16];
	long status;
	int rc;

	for (int attempt = 0;; attempt++) {
		if ((rc = http_post(c, c->write_url.data, c->write_headers, data, len, &status,
		                    errbuf, errbuf_size)) < 0)
			return rc;
		body_line(c, line, sizeof(line));
		snprintf(code, sizeof(code), "%ld", status);
		switch (influx_classify(c->api, status, c->body)) {
		case INFLUX_ACT_OK:
			return INFLUX_OK;
		case INFLUX_ACT_SPLIT:
			log_warn("influxdb request too large; splitting it", c->log_key,
			         c->log_value, NULL);
			return INFLUX_TOO_LARGE;
		case INFLUX_ACT_CREATE_DB:
			if (attempt > 0 || c->create_refused)
				return err_set(errbuf, errbuf_size,
				               c->create_refused ? INFLUX_CONFIG : INFLUX_RETRY,
				               "influxdb: %ld: %s", status, line);
			if ((rc = create_database(c, errbuf, errbuf_size)) < 0)
				return rc;
			continue; /* and write again, once */
		case INFLUX_ACT_AUTH:
			/* The caller decides whether to retry (a token being
			 * rotated heals by itself); say so loudly. */
			log_error("influxdb refused the credentials: check the token Secret",
			          c->log_key, c->log_value, "url", c->write_url.data, "status",
			          code, "response", line, NULL);
			return err_set(errbuf, errbuf_size, INFLUX_AUTH,
			               "influxdb: %ld (check the token): %s", status, line);
		case INFLUX_ACT_RETRY:
			note_retry_after(c);
			log_warn("influxdb write to retry", c->log_key, c->log_value, "status",
			         code, "response", line, NULL);
			return err_set(errbuf, errbuf_size, INFLUX_RETRY, "influxdb: %ld: %s",
			               status, line);
		case INFLUX_ACT_REJECT:
		default:
			log_error("influxdb rejected points", c->log_key, c->log_value, "status",
			          code, "response", line, NULL);
			return err_set(errbuf, errbuf_size, INFLUX_REJECT, "influxdb: %ld: %s",
			               status, line);
		}
	}
}

int influx_client_write(struct influx_client *c, const char *body, size_t len, char *errbuf,
                        size_t errbuf_size)
{
	c->retry_after_ms = 0;
	if (len == 0)
		return INFLUX_OK;
	return influx_post_split(body, len, post_once, c, errbuf, errbuf_size);
}

int influx_client_delete(struct influx_client *c, const struct influx_delete_req *req, char *errbuf,
                         size_t errbuf_size)
{
	char line[256], code[16];
	long status;
	int rc;

	if (req->url->len == 0 || req->body->len == 0)
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG, "influxdb: delete: no request");
	rc = http_post(c, req->url->data, c->delete_headers, req->body->data, req->body->len - 1,
	               &status, errbuf, errbuf_size);
	if (rc < 0)
		return rc;
	rc = influx_delete_outcome(c->api, status, c->body);
	if (rc == INFLUX_OK)
		return INFLUX_OK;
	body_line(c, line, sizeof(line));
	snprintf(code, sizeof(code), "%ld", status);
	log_warn("influxdb retention delete failed", c->log_key, c->log_value, "status", code,
	         "response", line, NULL);
	return err_set(errbuf, errbuf_size, rc, "influxdb: delete: %ld: %s", status, line);
}

int64_t influx_client_retry_after_ms(const struct influx_client *c)
{
	return c->retry_after_ms;
}

/* ==== Life ==== */

void influx_client_close(struct influx_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->write_headers);
	curl_slist_free_all(c->query_headers);
	curl_slist_free_all(c->delete_headers);
	if (c->curl_global)
		curl_global_cleanup();
	buf_free(&c->write_url);
	buf_free(&c->query_url);
	free(c->db);
	free(c->log_key);
	free(c->log_value);
	free(c);
}

/* The write request's headers, the query's (CREATE DATABASE: a form,
 * curl's default type) and the retention delete's (influx_delete_plan's
 * type for the api: a form for v1, JSON for v2), each with the token when
 * there is one. */
static int set_headers(struct influx_client *c, const char *token, char *errbuf, size_t errbuf_size)
{
	struct buf auth;
	int rc = 0;

	buf_init(&auth, URL_MAX);
	if (token != NULL && (buf_append_str(&auth, "Authorization: Token ") < 0 ||
	                      buf_append_str(&auth, token) < 0 || buf_append(&auth, "", 1) < 0)) {
		buf_free(&auth);
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG, "influxdb: token too long");
	}
	for (int q = 0; q < 3 && rc == 0; q++) {
		struct curl_slist **list = q == 0   ? &c->write_headers
		                           : q == 1 ? &c->query_headers
		                                    : &c->delete_headers;
		const char *type = q == 0   ? "Content-Type: text/plain; charset=utf-8"
		                   : q == 1 ? NULL
		                   : c->api == 2
		                       ? "Content-Type: application/json"
		                       : "Content-Type: application/x-www-form-urlencoded";
		/* "Expect:" off: curl would wait for a 100 Continue on large bodies. */
		const char *hs[] = {type, "Expect:", token != NULL ? auth.data : NULL};

		for (size_t i = 0; i < 3 && rc == 0; i++) {
			struct curl_slist *l;

			if (hs[i] == NULL)
				continue;
			l = curl_slist_append(*list, hs[i]);
			if (l == NULL)
				rc = err_set(errbuf, errbuf_size, INFLUX_CONFIG,
				             "influxdb: out of memory");
			else
				*list = l;
		}
	}
	if (auth.data != NULL)
		memset(auth.data, 0, auth.len); /* the token lives on in the lists only */
	buf_free(&auth);
	return rc;
}

static int setup_curl(struct influx_client *c, const struct influx_client_options *o, char *errbuf,
                      size_t errbuf_size)
{
	CURLcode cc;

	if ((cc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG, "influxdb: curl_global_init: %s",
		               curl_easy_strerror(cc));
	c->curl_global = 1;
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG,
		               "influxdb: curl_easy_init failed");
	if ((cc = curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, o->timeout_s)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "sluice-worker")) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c)) != CURLE_OK)
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG, "influxdb: curl: %s",
		               curl_easy_strerror(cc));
	return set_headers(c, o->token, errbuf, errbuf_size);
}

int influx_client_open(const struct influx_client_options *o, struct influx_client **out,
                       char *errbuf, size_t errbuf_size)
{
	struct influx_client *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (c == NULL)
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG, "influxdb: out of memory");
	buf_init(&c->write_url, URL_MAX);
	buf_init(&c->query_url, URL_MAX);
	c->api = o->api;
	c->db = strdup(o->db);
	c->log_key = strdup(o->log_key != NULL ? o->log_key : "database");
	c->log_value = strdup(o->log_key != NULL && o->log_value != NULL ? o->log_value : o->db);
	if (c->db == NULL || c->log_key == NULL || c->log_value == NULL) {
		influx_client_close(c);
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG, "influxdb: out of memory");
	}
	if (influx_write_url(&c->write_url, c->api, o->url, c->db, o->org) < 0 ||
	    influx_query_url(&c->query_url, o->url) < 0) {
		influx_client_close(c);
		return err_set(errbuf, errbuf_size, INFLUX_CONFIG,
		               "influxdb: url or database too long");
	}
	if ((rc = setup_curl(c, o, errbuf, errbuf_size)) < 0) {
		influx_client_close(c);
		return rc;
	}
	*out = c;
	return 0;
}
