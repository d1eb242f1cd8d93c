/* upload_rules.h -- what the VideoWatch upload endpoint (video_upload.h)
 * accepts, decided without I/O: the request line, the bearer token, the
 * announced size, the file name; and what it answers: the 201's JSON and
 * the URL to follow the job at. Tested with tables of cases
 * (tests/unit/test_video_upload_rules.c).
 *
 * Threads: every function is pure and safe from any thread.
 */
#ifndef SLUICE_UPLOAD_RULES_H
#define SLUICE_UPLOAD_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "vw_spec.h"

/* The collection files are PUT into: PUT /uploads/<file>. */
#define UPLOAD_PATH_PREFIX "/uploads/"

/* Longest file name taken (bytes): the temporary name ".upload-<file>-<16
 * hex>" must fit in a directory entry (255 bytes). */
#define UPLOAD_NAME_MAX 200

/* What to answer: status 0 when the request may go on, else the HTTP
 * status and a one-line message for the body. */
struct upload_verdict {
	unsigned int status;
	char message[512];
};

/*
 * Whether authorization (the Authorization header, NULL when absent) is
 * "Bearer <token>" with token equal to expected (the scheme's case is
 * ignored, as RFC 9110 has it). The comparison takes the same time
 * whatever the header holds, for a given expected, so timing tells
 * nothing of the token. An empty expected never matches. 1 or 0.
 */
int upload_token_ok(const char *expected, const char *authorization);

/*
 * The file name of a request path: what follows UPLOAD_PATH_PREFIX,
 * judged by upload_check_name. Returns a pointer into path, or NULL when
 * path does not start with the prefix (v then holds 404).
 */
const char *upload_path_name(const char *path, struct upload_verdict *v);

/*
 * Whether name may be uploaded into spec's folder: one path segment (no
 * '/'), not starting with '.', at most UPLOAD_NAME_MAX bytes, no control
 * bytes, and matching spec.glob. Returns 0, or -1 with v holding 400 and
 * a message naming the rule, e.g.
 *   "clip.txt" does not match the watch's glob "*.mp4"
 */
int upload_check_name(const struct vw_spec *spec, const char *name, struct upload_verdict *v);

/*
 * Judges a request once its headers are in, in this order: method (405
 * unless PUT), path (404 outside /uploads/), token (401), size (413 when
 * content_length, -1 for none, is over spec.upload.maxBytes), name (400).
 * token is the expected token. On 0 *name points into path.
 */
int upload_check_request(const struct vw_spec *spec, const char *token, const char *method,
                         const char *path, const char *authorization, long long content_length,
                         const char **name, struct upload_verdict *v);

/* Whether received bytes so far are past max_bytes; v then holds 413. */
int upload_over_limit(int64_t received, int64_t max_bytes, struct upload_verdict *v);

/*
 * The temporary name a file is streamed to in the watched folder:
 * ".upload-<name>-<16 hex digits of rnd>", which no glob matches (a
 * leading '.'), so a rescan never takes a partial upload. Returns 0, or
 * -1 when it does not fit.
 */
int upload_temp_name(char *buf, size_t size, const char *name, uint64_t rnd);

/*
 * Where to follow a job: dashboard (SLUICE_DASHBOARD_URL; NULL or "" for
 * none, a trailing '/' dropped) + "/#/videojobs/<ns>/<job>", else the
 * API path "/apis/sluice.dev/v1alpha1/namespaces/<ns>/videojobs/<job>".
 * Returns 0, or -1 when it does not fit.
 */
int upload_follow_url(char *buf, size_t size, const char *dashboard, const char *ns,
                      const char *job);

/*
 * The body of a 201 (and of a 202 whose job is still to be made):
 *   {"videoJob":job,"namespace":ns,"file":file,"url":follow URL}
 * plus "pending": why, when pending is not NULL. A malloc'd,
 * NUL-terminated string the caller frees; NULL when out of memory.
 */
char *upload_response_json(const char *job, const char *ns, const char *file, const char *dashboard,
                           const char *pending);

/* "http://<host>:<port>/uploads" (an IPv6 host in brackets), the status'
 * uploadURL. Returns 0, or -1 when it does not fit. */
int upload_url(char *buf, size_t size, const char *host, int port);

#endif
