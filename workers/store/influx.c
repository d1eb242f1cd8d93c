/* influx.c -- InfluxDB's HTTP API rules and URLs; see influx.h. */
#include "influx.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "err.h"

enum influx_action influx_classify(int api, long status, const char *body)
{
	const char *b = body != NULL ? body : "";

	if (status >= 200 && status < 300)
		return INFLUX_ACT_OK;
	if (api == 1 && strstr(b, "database not found") != NULL)
		return INFLUX_ACT_CREATE_DB;
	if (status == 413)
		return INFLUX_ACT_SPLIT;
	if (status == 401 || status == 403)
		return INFLUX_ACT_AUTH;
	/* The server is overloaded and may not be able to say more. */
	if (status == 429 || status == 502 || status == 503 || status == 504)
		return INFLUX_ACT_RETRY;
	/* Any other 4xx is the client's mistake: the same request fails again. */
	if (status >= 400 && status < 500)
		return INFLUX_ACT_REJECT;
	if (strstr(b, "hinted handoff queue not empty") != NULL)
		return INFLUX_ACT_OK;
	if (strstr(b, "partial write") != NULL || strstr(b, "unable to parse") != NULL ||
	    strstr(b, "points beyond retention policy") != NULL ||
	    strstr(b, "retention policy not found") != NULL)
		return INFLUX_ACT_REJECT;
	return INFLUX_ACT_RETRY;
}

int64_t influx_retry_after(const char *value, time_t now)
{
	const char *p = value;
	double secs;
	char *end;
	time_t when;

	if (p == NULL)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p) || *p == '.') {
		secs = strtod(p, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0' || !isfinite(secs))
			return INFLUX_RETRY_AFTER_BAD_MS;
		if (secs * 1000 >= INFLUX_RETRY_AFTER_MAX_MS)
			return INFLUX_RETRY_AFTER_MAX_MS;
		return (int64_t)ceil(secs * 1000);
	}
	when = curl_getdate(p, NULL);
	if (when == (time_t)-1)
		return INFLUX_RETRY_AFTER_BAD_MS;
	if (when <= now)
		return 0;
	if ((int64_t)(when - now) * 1000 >= INFLUX_RETRY_AFTER_MAX_MS)
		return INFLUX_RETRY_AFTER_MAX_MS;
	return (int64_t)(when - now) * 1000;
}

int influx_append_encoded(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s != '\0' && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			rc = buf_append(b, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

int influx_append_base(struct buf *b, const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return buf_append(b, url, n);
}

int influx_write_url(struct buf *out, int api, const char *url, const char *db, const char *org)
{
	int rc = influx_append_base(out, url);

	if (rc == 0 && api == 2) {
		rc = buf_append_str(out, "/api/v2/write?");
		if (rc == 0 && org != NULL)
			if ((rc = buf_append_str(out, "org=")) == 0 &&
			    (rc = influx_append_encoded(out, org)) == 0)
				rc = buf_append_str(out, "&");
		if (rc == 0 && (rc = buf_append_str(out, "bucket=")) == 0)
			rc = influx_append_encoded(out, db);
	} else if (rc == 0) {
		if ((rc = buf_append_str(out, "/write?db=")) == 0)
			rc = influx_append_encoded(out, db);
	}
	if (rc == 0)
		rc = buf_append_str(out, "&precision=ns");
	if (rc == 0)
		rc = buf_append(out, "", 1);
	return rc;
}

size_t influx_split_point(const char *data, size_t len)
{
	size_t lines = 0, half, seen = 0;

	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	if (len > 0 && data[len - 1] != '\n')
		lines++;
	if (lines < 2)
		return 0;
	half = lines / 2;
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && ++seen == half)
			return i + 1;
	return 0;
}

int influx_query_url(struct buf *out, const char *url)
{
	int rc = influx_append_base(out, url);

	if (rc == 0)
		rc = buf_append_str(out, "/query");
	if (rc == 0)
		rc = buf_append(out, "", 1);
	return rc;
}

int influx_create_db_body(struct buf *out, const char *db)
{
	int rc = buf_append_str(out, "q=");

	if (rc == 0)
		rc = influx_append_encoded(out, "CREATE DATABASE \"");
	if (rc == 0)
		rc = influx_append_encoded(out, db);
	if (rc == 0)
		rc = influx_append_encoded(out, "\"");
	if (rc == 0)
		rc = buf_append(out, "", 1);
	return rc;
}

/* Longest reason kept for the second half while the first one's stands. */
#define REASON_MAX 512

static int post_split(const char *data, size_t len, influx_post_fn post, void *ctx, char *errbuf,
                      size_t errbuf_size, int depth)
{
	char second[REASON_MAX];
	size_t cut;
	int rc1, rc2;

	rc1 = post(ctx, data, len, errbuf, errbuf_size);
	if (rc1 != INFLUX_TOO_LARGE)
		return rc1;
	cut = influx_split_point(data, len);
	if (cut == 0 || depth >= 64)
		return err_set(errbuf, errbuf_size, INFLUX_REJECT,
		               "influxdb: 413: one point of %zu bytes is larger than the server "
		               "takes",
		               len);
	rc1 = post_split(data, cut, post, ctx, errbuf, errbuf_size, depth + 1);
	if (rc1 != INFLUX_OK && rc1 != INFLUX_REJECT)
		return rc1;
	/* Keep the first half's reason when both halves fail. */
	rc2 = post_split(data + cut, len - cut, post, ctx, rc1 < 0 ? second : errbuf,
	                 rc1 < 0 ? sizeof(second) : errbuf_size, depth + 1);
	if (rc2 != INFLUX_OK && rc2 != INFLUX_REJECT) {
		if (rc1 < 0)
			err_set(errbuf, errbuf_size, rc2, "%s", second);
		return rc2;
	}
	return rc1 < 0 ? rc1 : rc2;
}

int influx_post_split(const char *data, size_t len, influx_post_fn post, void *ctx, char *errbuf,
                      size_t errbuf_size)
{
	return post_split(data, len, post, ctx, errbuf, errbuf_size, 0);
}
