/*
 * kube_status.c - Status decoding and result codes. See kube_status.h.
 */
#include "kube_status.h"

#include <stdio.h>
#include <string.h>

/* Cut length for n bytes of s so that no UTF-8 sequence is split. */
static size_t utf8_cut(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Copies len bytes of src into dst (size > 0), cut to fit, non-printable
 * ASCII control bytes replaced by spaces so a log line stays one line. */
static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	if (size == 0)
		return;
	if (len > size - 1)
		len = utf8_cut(src, size - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[i] = (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
	}
	dst[len] = '\0';
}

int kube_strlcpy(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return KUBE_EINVAL;
	if (src == NULL)
		src = "";
	size_t len = strlen(src);
	int rc = KUBE_OK;
	if (len > size - 1) {
		len = utf8_cut(src, size - 1);
		rc = KUBE_EINVAL;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return rc;
}

void kube_error_clear(struct kube_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

int kube_error_set(struct kube_error *err, int rc, int code, const char *message)
{
	if (err == NULL)
		return rc;
	kube_error_clear(err);
	err->code = code;
	if (message != NULL)
		copy_text(err->message, sizeof(err->message), message, strlen(message));
	return rc;
}

/* The StatusReason the API server uses for a code (k8s.io/apimachinery
 * pkg/apis/meta/v1/types.go), for bodies that are not a Status. */
static const char *reason_for_code(int code)
{
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 405:
		return "MethodNotAllowed";
	case 406:
		return "NotAcceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "RequestEntityTooLarge";
	case 415:
		return "UnsupportedMediaType";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 500:
		return "InternalError";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return "";
	}
}

int kube_status_rc(int http_code, const char *reason)
{
	if (reason == NULL)
		reason = "";
	/* A watch's "too old resource version" is 410 Expired; an expired list
	 * continue token is 410 too; older servers sent 500 with reason Expired.
	 * All mean the same to a reflector: relist. */
	if (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0)
		return KUBE_EGONE;
	if (http_code >= 200 && http_code < 300)
		return KUBE_OK;
	switch (http_code) {
	case 400:
		return KUBE_EBADREQUEST;
	case 401:
		return KUBE_EUNAUTHORIZED;
	case 403:
		return KUBE_EFORBIDDEN;
	case 404:
		return KUBE_ENOTFOUND;
	case 409:
		return strcmp(reason, "AlreadyExists") == 0 ? KUBE_EEXISTS : KUBE_ECONFLICT;
	case 410:
		return KUBE_EGONE;
	case 422:
		return KUBE_EINVALID;
	case 429:
		return KUBE_ETOOMANY;
	default:
		break;
	}
	if (http_code >= 500 && http_code < 600)
		return KUBE_ESERVER;
	if (http_code == 0)
		return KUBE_EPROTOCOL;
	return KUBE_EHTTP;
}

static void copy_json_string(char *dst, size_t size, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(v) && v->valuestring != NULL)
		copy_text(dst, size, v->valuestring, strlen(v->valuestring));
}

/* An int field within [0, max], else 0: a Status is data from the network. */
static int json_int(const cJSON *obj, const char *key, int max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max)
		return 0;
	return (int)v->valuedouble;
}

static void decode_causes(const cJSON *details, struct kube_error *err)
{
	const cJSON *causes = cJSON_GetObjectItemCaseSensitive(details, "causes");
	const cJSON *c;
	if (!cJSON_IsArray(causes))
		return;
	cJSON_ArrayForEach(c, causes)
	{
		if (!cJSON_IsObject(c))
			continue;
		err->n_causes_total++;
		if (err->n_causes >= KUBE_ERROR_MAX_CAUSES)
			continue;
		struct kube_error_cause *out = &err->causes[err->n_causes++];
		copy_json_string(out->reason, sizeof(out->reason), c, "reason");
		copy_json_string(out->field, sizeof(out->field), c, "field");
		copy_json_string(out->message, sizeof(out->message), c, "message");
	}
}

int kube_status_decode(int http_code, const cJSON *status, struct kube_error *err)
{
	struct kube_error local;
	if (err == NULL)
		err = &local;
	kube_error_clear(err);
	err->code = http_code;

	if (cJSON_IsObject(status)) {
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(status, "kind");
		int is_status = cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0;
		int code = json_int(status, "code", 999);
		if (is_status || code != 0 ||
		    cJSON_GetObjectItemCaseSensitive(status, "reason") != NULL) {
			if (code != 0)
				err->code = code;
			copy_json_string(err->reason, sizeof(err->reason), status, "reason");
			copy_json_string(err->message, sizeof(err->message), status, "message");
			const cJSON *details = cJSON_GetObjectItemCaseSensitive(status, "details");
			if (cJSON_IsObject(details)) {
				err->retry_after_seconds =
				    json_int(details, "retryAfterSeconds", 86400);
				decode_causes(details, err);
			}
		}
	}
	if (err->reason[0] == '\0')
		kube_strlcpy(err->reason, sizeof(err->reason), reason_for_code(err->code));
	return kube_status_rc(err->code, err->reason);
}

int kube_status_decode_body(int http_code, const char *body, size_t len, struct kube_error *err)
{
	cJSON *json = NULL;
	if (body != NULL && len > 0)
		json = cJSON_ParseWithLength(body, len);
	int rc = kube_status_decode(http_code, json, err);
	if (json == NULL && err != NULL && body != NULL && len > 0 && err->message[0] == '\0')
		copy_text(err->message, sizeof(err->message), body, len);
	cJSON_Delete(json);
	return rc;
}

const char *kube_strerror(int rc)
{
	switch (rc) {
	case KUBE_OK:
		return "ok";
	case KUBE_EINVAL:
		return "invalid argument";
	case KUBE_ENOMEM:
		return "out of memory";
	case KUBE_ECONFIG:
		return "configuration error";
	case KUBE_ETRANSPORT:
		return "transport error";
	case KUBE_EPROTOCOL:
		return "protocol error";
	case KUBE_ETOOLARGE:
		return "too large";
	case KUBE_ESTOPPED:
		return "stopped";
	case KUBE_EBADREQUEST:
		return "bad request";
	case KUBE_EUNAUTHORIZED:
		return "unauthorized";
	case KUBE_EFORBIDDEN:
		return "forbidden";
	case KUBE_ENOTFOUND:
		return "not found";
	case KUBE_ECONFLICT:
		return "conflict";
	case KUBE_EEXISTS:
		return "already exists";
	case KUBE_EGONE:
		return "expired (relist)";
	case KUBE_EINVALID:
		return "invalid";
	case KUBE_ETOOMANY:
		return "too many requests";
	case KUBE_ESERVER:
		return "server error";
	case KUBE_EHTTP:
		return "http error";
	default:
		return "unknown error";
	}
}

/* Length of s[0..len) without a trailing incomplete UTF-8 sequence, for text
 * that snprintf() cut where we could not see the following bytes. */
static size_t utf8_complete(const char *s, size_t len)
{
	size_t back = 0;
	while (back < len && back < 3 && ((unsigned char)s[len - 1 - back] & 0xC0) == 0x80)
		back++;
	if (back == len)
		return len;
	unsigned char lead = (unsigned char)s[len - 1 - back];
	size_t need = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
	return back + 1 < need ? len - 1 - back : len;
}

const char *kube_error_format(const struct kube_error *err, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (err == NULL)
		return buf;
	int n;
	if (err->code == 0)
		n = snprintf(buf, size, "%s", err->message);
	else
		n = snprintf(buf, size, "%d %s: %s", err->code, err->reason, err->message);
	/* The 422 message usually lists the fields already; add the first
	 * cause only when the message does not name it. */
	if (n >= 0 && (size_t)n < size && err->n_causes > 0 && err->causes[0].field[0] != '\0' &&
	    strstr(err->message, err->causes[0].field) == NULL)
		n += snprintf(buf + n, size - (size_t)n, " [%s: %s]", err->causes[0].field,
		              err->causes[0].message);
	if (n < 0 || (size_t)n >= size) {
		size_t len = strlen(buf);
		buf[utf8_complete(buf, len)] = '\0';
	}
	return buf;
}
