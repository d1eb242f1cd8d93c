/*
 * kube_status.h - the Kubernetes API's Status object, and the result codes of
 * every kube_* function.
 *
 * A kube_* call returns 0 or one of the negative KUBE_E* codes below. When the
 * API server answers with an error it sends a Status object
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind);
 * kube_status_decode() turns it into a struct kube_error, and its code and
 * reason pick the return code, so callers switch on one int:
 * KUBE_ENOTFOUND -> create, KUBE_ECONFLICT -> re-read and retry,
 * KUBE_EGONE -> relist, KUBE_ETRANSPORT -> the API server is away, back off.
 *
 * Pure: no I/O, no global state; every function is safe from any thread.
 */
#ifndef SLUICE_KUBE_STATUS_H
#define SLUICE_KUBE_STATUS_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum kube_rc {
	KUBE_OK = 0,
	KUBE_EINVAL = -1,     /* a bad argument: empty name, path or query too long */
	KUBE_ENOMEM = -2,     /* an allocation failed */
	KUBE_ECONFIG = -3,    /* kubeconfig or in-cluster files missing or wrong */
	KUBE_ETRANSPORT = -4, /* no HTTP answer: refused, DNS, TLS, timeout, reset */
	KUBE_EPROTOCOL = -5,  /* an answer the API does not send: bad JSON, no type */
	KUBE_ETOOLARGE = -6,  /* a response or one watch event past its bound */
	KUBE_ESTOPPED = -7,   /* the caller's stop flag ended a watch */
	/* Answers from the API server, from the Status code and reason. */
	KUBE_EBADREQUEST = -10,   /* 400 BadRequest */
	KUBE_EUNAUTHORIZED = -11, /* 401 Unauthorized: no or stale credentials */
	KUBE_EFORBIDDEN = -12,    /* 403 Forbidden: RBAC said no */
	KUBE_ENOTFOUND = -13,     /* 404 NotFound */
	KUBE_ECONFLICT = -14,     /* 409 Conflict: resourceVersion changed under us */
	KUBE_EEXISTS = -15,       /* 409 AlreadyExists: create of an existing name */
	KUBE_EGONE = -16,         /* 410, or reason Expired / Gone: relist */
	KUBE_EINVALID = -17,      /* 422 Invalid: see kube_error.causes */
	KUBE_ETOOMANY = -18,      /* 429 TooManyRequests: wait retry_after_seconds */
	KUBE_ESERVER = -19,       /* 5xx: InternalError, ServiceUnavailable, Timeout */
	KUBE_EHTTP = -20,         /* any other non-2xx (405, 406, 413, 415, ...) */
};

/* How many field causes of a 422 (details.causes) are kept; the rest are
 * counted in n_causes_total but dropped. */
#define KUBE_ERROR_MAX_CAUSES 8

struct kube_error_cause {
	char reason[64];   /* "FieldValueInvalid", "FieldValueRequired", ... */
	char field[128];   /* "spec.size" */
	char message[256]; /* "Invalid value: 42: spec.size in body should be ..." */
};

/*
 * What went wrong, for a log line or a condition message. Strings are always
 * NUL-terminated and cut to fit (at a UTF-8 boundary). For transport errors
 * code is 0, reason is "" and message holds libcurl's text.
 */
struct kube_error {
	int code;                /* HTTP code (the Status's code), 0 for none */
	char reason[64];         /* Status reason: "NotFound", "Conflict", ... */
	char message[512];       /* Status message, or transport detail */
	int retry_after_seconds; /* details.retryAfterSeconds or Retry-After; 0 */
	int n_causes;            /* causes kept, <= KUBE_ERROR_MAX_CAUSES */
	int n_causes_total;      /* causes the server sent */
	struct kube_error_cause causes[KUBE_ERROR_MAX_CAUSES];
};

/* Empties err (all zero). NULL is a no-op. */
void kube_error_clear(struct kube_error *err);

/*
 * Fills err (may be NULL) with code, reason "" and message, cut to fit, for
 * errors found on our side (transport, protocol, bounds). Returns rc, so
 * callers can `return kube_error_set(err, KUBE_EPROTOCOL, 0, "...")`.
 */
int kube_error_set(struct kube_error *err, int rc, int code, const char *message);

/*
 * The return code for an HTTP code and Status reason (reason may be NULL or
 * ""). 2xx gives 0. A reason of Expired or Gone gives KUBE_EGONE whatever the
 * code, as client-go's IsResourceExpired does; 409 splits on AlreadyExists.
 */
int kube_status_rc(int http_code, const char *reason);

/*
 * Decodes a Status object (already parsed) into err and returns its code.
 * http_code is the response's status, or 0 inside a watch ERROR event (the
 * Status's own "code" is used then); when both exist the Status's code wins
 * unless it is missing or 0. A JSON value that is not a Status (no "kind":
 * "Status" and no code/reason) still gives a result from http_code, with
 * message "" . Returns 0 for a 2xx code, else a negative KUBE_E* code;
 * KUBE_EPROTOCOL when there is neither an http_code nor a Status code.
 */
int kube_status_decode(int http_code, const cJSON *status, struct kube_error *err);

/*
 * As kube_status_decode() on a raw response body of len bytes (not
 * necessarily NUL-terminated). A body that is not JSON (a proxy's HTML page)
 * gives the result for http_code with the body's first printable bytes as the
 * message, and a reason named after the code ("ServiceUnavailable").
 */
int kube_status_decode_body(int http_code, const char *body, size_t len, struct kube_error *err);

/*
 * Copies the NUL-terminated src into dst (size bytes), cutting at a UTF-8
 * character boundary so the copy stays valid text; always NUL-terminates when
 * size > 0. src NULL copies "". Returns 0, or KUBE_EINVAL when src was cut.
 * The one bounded copy the kube_* modules use.
 */
int kube_strlcpy(char *dst, size_t size, const char *src);

/* A fixed string naming rc: "not found", "transport error", ... */
const char *kube_strerror(int rc);

/*
 * Writes a one-line description of err into buf (size bytes, always
 * NUL-terminated when size > 0), e.g.
 *   404 NotFound: configmaps "x" not found
 *   422 Invalid: Widget.e2e.sluice.dev "w" is invalid: ... [spec.size: Invalid value ...]
 *   transport: Failed to connect to 127.0.0.1 port 1: Connection refused
 * Returns buf.
 */
const char *kube_error_format(const struct kube_error *err, char *buf, size_t size);

#endif /* SLUICE_KUBE_STATUS_H */
