/* influx_delete.c -- the retention delete's cutoff, request and answer;
 * see influx_delete.h. */
#include "influx_delete.h"

#include <string.h>

#include "clock.h"
#include "influx.h"

/* Longest InfluxQL statement or predicate built here. */
#define STMT_MAX 4096

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* No control bytes: InfluxQL's strings cannot hold a newline, and none
 * belongs in a measurement or tag value written here. */
static int text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Appends s with '\\' and quote escaped by a backslash (InfluxQL's quoted
 * identifiers and strings, and the v2 predicate's strings). */
static int put_quoted(struct buf *b, const char *s, char quote)
{
	int rc = buf_append(b, &quote, 1);

	for (; *s != '\0' && rc == 0; s++) {
		if (*s == '\\' || *s == quote)
			rc = buf_append(b, "\\", 1);
		if (rc == 0)
			rc = buf_append(b, s, 1);
	}
	if (rc == 0)
		rc = buf_append(b, &quote, 1);
	return rc;
}

/* Appends s as a JSON string (s has no control bytes: text_ok). */
static int put_json(struct buf *b, const char *s)
{
	return put_quoted(b, s, '"');
}

/* cutoff = now - max_age - span, or 1 when nothing is that old. */
static int plan_cutoff(const struct influx_delete_in *in, int64_t *cutoff)
{
	int64_t c;

	if (in->max_age_ns <= 0 || in->span_ns < 0)
		return 1;
	if (__builtin_sub_overflow(in->now_ns, in->max_age_ns, &c) ||
	    __builtin_sub_overflow(c, in->span_ns, &c) || c <= INFLUX_TIME_MIN_NS)
		return 1;
	*cutoff = c;
	return 0;
}

static int v1_request(const struct influx_delete_in *in, const char *cutoff,
                      struct influx_delete_req *req)
{
	struct buf q;
	int rc;

	buf_init(&q, STMT_MAX);
	rc = buf_append_str(&q, "DELETE FROM ");
	if (rc == 0)
		rc = put_quoted(&q, in->measurement, '"');
	if (rc == 0)
		rc = buf_append_str(&q, " WHERE ");
	if (rc == 0 && in->tag_key != NULL) {
		if ((rc = put_quoted(&q, in->tag_key, '"')) == 0 &&
		    (rc = buf_append_str(&q, " = ")) == 0 &&
		    (rc = put_quoted(&q, in->tag_value, '\'')) == 0)
			rc = buf_append_str(&q, " AND ");
	}
	if (rc == 0 && (rc = buf_append_str(&q, "time < ")) == 0 &&
	    (rc = put_quoted(&q, cutoff, '\'')) == 0)
		rc = buf_append(&q, "", 1);
	if (rc == 0 && (rc = influx_append_base(req->url, in->url)) == 0 &&
	    (rc = buf_append_str(req->url, "/query?db=")) == 0 &&
	    (rc = influx_append_encoded(req->url, in->db)) == 0)
		rc = buf_append(req->url, "", 1);
	if (rc == 0 && (rc = buf_append_str(req->body, "q=")) == 0 &&
	    (rc = influx_append_encoded(req->body, q.data)) == 0)
		rc = buf_append(req->body, "", 1);
	buf_free(&q);
	req->content_type = "application/x-www-form-urlencoded";
	return rc;
}

static int v2_request(const struct influx_delete_in *in, const char *stop,
                      struct influx_delete_req *req)
{
	struct buf p;
	int rc;

	buf_init(&p, STMT_MAX);
	rc = buf_append_str(&p, "_measurement=");
	if (rc == 0)
		rc = put_quoted(&p, in->measurement, '"');
	if (rc == 0 && in->tag_key != NULL) {
		if ((rc = buf_append_str(&p, " AND ")) == 0 &&
		    (rc = buf_append_str(&p, in->tag_key)) == 0 &&
		    (rc = buf_append_str(&p, "=")) == 0)
			rc = put_quoted(&p, in->tag_value, '"');
	}
	if (rc == 0)
		rc = buf_append(&p, "", 1);
	if (rc == 0 && (rc = influx_append_base(req->url, in->url)) == 0 &&
	    (rc = buf_append_str(req->url, "/api/v2/delete?")) == 0 && in->org != NULL) {
		if ((rc = buf_append_str(req->url, "org=")) == 0 &&
		    (rc = influx_append_encoded(req->url, in->org)) == 0)
			rc = buf_append_str(req->url, "&");
	}
	if (rc == 0 && (rc = buf_append_str(req->url, "bucket=")) == 0 &&
	    (rc = influx_append_encoded(req->url, in->db)) == 0)
		rc = buf_append(req->url, "", 1);
	if (rc == 0 &&
	    (rc = buf_append_str(req->body, "{\"start\":\"" INFLUX_DELETE_START "\",\"stop\":")) ==
	        0 &&
	    (rc = put_json(req->body, stop)) == 0 &&
	    (rc = buf_append_str(req->body, ",\"predicate\":")) == 0 &&
	    (rc = put_json(req->body, p.data)) == 0 && (rc = buf_append_str(req->body, "}")) == 0)
		rc = buf_append(req->body, "", 1);
	buf_free(&p);
	req->content_type = "application/json";
	return rc;
}

int influx_delete_plan(const struct influx_delete_in *in, struct influx_delete_req *req)
{
	char when[CLOCK_RFC3339_MAX];
	int64_t cutoff;

	if ((in->api != 1 && in->api != 2) || in->url == NULL || in->db == NULL ||
	    in->measurement == NULL || !text_ok(in->measurement) || in->measurement[0] == '\0' ||
	    (in->tag_key != NULL &&
	     (!name_ok(in->tag_key) || in->tag_value == NULL || !text_ok(in->tag_value))))
		return INFLUX_DELETE_E_INVALID;
	if (plan_cutoff(in, &cutoff) != 0)
		return 1;
	req->cutoff_ns = cutoff;
	/* v1: time < cutoff; v2: stop is inclusive, so the last nanosecond
	 * before the cutoff (cutoff > INFLUX_TIME_MIN_NS: no underflow). */
	if (clock_format_rfc3339(in->api == 1 ? cutoff : cutoff - 1, when, sizeof(when)) < 0)
		return INFLUX_DELETE_E_INVALID;
	return in->api == 1 ? v1_request(in, when, req) : v2_request(in, when, req);
}

int influx_delete_outcome(int api, long status, const char *body)
{
	const char *b = body != NULL ? body : "";

	if (api == 1 && (status / 100 == 2 || status == 404) &&
	    strstr(b, "database not found") != NULL)
		return INFLUX_OK; /* nothing was ever written there */
	if (status / 100 == 2)
		return api == 1 && strstr(b, "\"error\"") != NULL ? INFLUX_REJECT : INFLUX_OK;
	if (status == 401 || status == 403)
		return INFLUX_AUTH;
	if (status == 429 || status >= 500 || status < 200 || (status >= 300 && status < 400))
		return INFLUX_RETRY;
	return INFLUX_REJECT;
}
