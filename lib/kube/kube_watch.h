/*
 * kube_watch.h - a Kubernetes watch: the stream decoder and the request.
 *
 * A watch response is one JSON event per line,
 *   {"type":"ADDED","object":{...}}\n{"type":"BOOKMARK","object":{...}}\n...
 * delivered by the network in arbitrary chunks. The decoder (pure: no I/O,
 * no curl) takes chunks as they come, splits lines, parses each event and
 * hands it to a callback, tracking the last resourceVersion so a broken watch
 * resumes where it was. kube_watch_run() is the thin edge that streams
 * GET ...?watch=1 through kube_client_stream() into the decoder.
 *
 * An ERROR event carries a Status; one with code 410 (reason Expired or
 * Gone) means the resourceVersion is too old: the caller must relist
 * (client-go's Reflector relists on it; docs/operator-internals.md). The decoder reports it as
 * KUBE_EGONE.
 *
 * Threads: a decoder belongs to one thread. kube_watch_run() may run on any
 * thread; it holds one of the client's handles until it returns.
 */
#ifndef SLUICE_KUBE_WATCH_H
#define SLUICE_KUBE_WATCH_H

#include <stdatomic.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "kube_client.h"
#include "kube_status.h"

/* resourceVersions are opaque strings (etcd's are decimal uint64s). */
#define KUBE_WATCH_RV_MAX 128
/* One event's bound by default: etcd refuses values over 1.5 MiB, so 8 MiB
 * of JSON is far past any real object yet stops a runaway stream. */
#define KUBE_WATCH_MAX_EVENT_DEFAULT (8u << 20)

enum kube_watch_type {
	KUBE_WATCH_ADDED,
	KUBE_WATCH_MODIFIED,
	KUBE_WATCH_DELETED,
	KUBE_WATCH_BOOKMARK,
	KUBE_WATCH_ERROR,
};

struct kube_watch_event {
	enum kube_watch_type type;
	/* The event's object. Owned by the decoder and freed after the
	 * callback returns; a callback that keeps it sets it to NULL (and then
	 * owns it). For ERROR it is the Status. */
	cJSON *object;
	/* object's metadata.resourceVersion, or NULL (points into object). */
	const char *resource_version;
	/* ERROR only: the Status decoded, and its code (KUBE_EGONE: relist). */
	struct kube_error error;
	int rc;
};

/*
 * Called once per event, in stream order. Returns 0 to go on; anything else
 * stops the decoder, which returns that value. The tracked resourceVersion
 * moves past an event only when its callback returned 0, so a resumed watch
 * sees again the event a callback refused.
 */
typedef int (*kube_watch_fn)(struct kube_watch_event *ev, void *opaque);

/* "ADDED", ..., "ERROR"; "UNKNOWN" out of range. Static strings. */
const char *kube_watch_type_name(enum kube_watch_type type);

struct kube_watch_decoder {
	char *buf;       /* a partial line carried between chunks */
	size_t len, cap; /* bytes held, allocated */
	size_t max_event;
	int failed; /* a sticky error: every later feed returns it */
	char resource_version[KUBE_WATCH_RV_MAX];
	unsigned long long events; /* delivered, all types */
	unsigned long long bookmarks;
};

/*
 * Starts a decoder. max_event bounds one event line in bytes (0:
 * KUBE_WATCH_MAX_EVENT_DEFAULT); resource_version (NULL: "") seeds the
 * tracked one. No allocation until a line spans chunks.
 */
void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_event,
                             const char *resource_version);

/*
 * Feeds len bytes of the stream. Complete events go to fn in order; a partial
 * line is kept for the next feed. Blank lines (and a '\r' before '\n') are
 * skipped. Returns 0 when every complete event was delivered, or stops at the
 * first of:
 *   fn's non-zero return           (returned as is)
 *   an ERROR event                 (after fn saw it: its rc, KUBE_EGONE for 410)
 *   a line longer than max_event   KUBE_ETOOLARGE
 *   a line that is not an event    KUBE_EPROTOCOL (bad JSON, no type or object,
 *                                  unknown type, resourceVersion too long)
 *   no memory                      KUBE_ENOMEM
 * err (may be NULL) says which. Errors are sticky: the stream cannot be
 * trusted after one, so the watch must restart.
 */
int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t len,
                            kube_watch_fn fn, void *opaque, struct kube_error *err);

/*
 * The stream ended: a last event without its newline is delivered; a partial
 * one gives KUBE_EPROTOCOL (the connection was cut mid-event). Returns as
 * _feed().
 */
int kube_watch_decoder_finish(struct kube_watch_decoder *d, kube_watch_fn fn, void *opaque,
                              struct kube_error *err);

/* Frees the carried buffer; the decoder may be initialised again. */
void kube_watch_decoder_free(struct kube_watch_decoder *d);

/* ---------------------------------------------------------------- the request */

struct kube_watch_opts {
	/* Start after this version (a list's metadata.resourceVersion, or the
	 * last one seen). NULL or "": from now, with a synthetic ADDED for
	 * every existing object. */
	const char *resource_version;
	const char *label_selector; /* NULL: all */
	const char *field_selector; /* NULL: all */
	/* Server-side timeoutSeconds; 0 picks 300..599 at random, as client-go
	 * does so that watchers do not all reconnect at once. */
	int timeout_seconds;
	int no_bookmarks; /* 1: do not ask for BOOKMARK events */
	size_t max_event; /* 0: KUBE_WATCH_MAX_EVENT_DEFAULT */
	/* Set non-zero (from any thread or a signal handler) to end the watch
	 * within about a second, even when no event arrives. May be NULL. */
	const atomic_int *stop;
};

/*
 * Watches ref's collection (ref->name NULL; namespace NULL for all) and feeds
 * every event to fn. rv_out (rv_size bytes, may be NULL) receives the last
 * resourceVersion seen, whatever the outcome, for the next watch.
 * Returns:
 *   0                the server ended the watch (timeoutSeconds): watch again
 *                    from rv_out
 *   KUBE_EGONE       rv too old (a 410 ERROR event or answer): relist
 *   KUBE_ESTOPPED    opts->stop was set
 *   KUBE_ETRANSPORT  the connection failed or was cut: back off, watch again
 *   fn's non-zero return, a decoder error (kube_watch_decoder_feed), or a
 *   Status error for the request itself (KUBE_EFORBIDDEN, ...)
 * err (may be NULL) has the detail.
 */
int kube_watch_run(struct kube_client *c, const struct kube_ref *ref,
                   const struct kube_watch_opts *opts, kube_watch_fn fn, void *opaque, char *rv_out,
                   size_t rv_size, struct kube_error *err);

/*
 * The request path and query kube_watch_run() sends, into buf (size bytes),
 * with timeout_seconds already chosen. Returns 0 or KUBE_EINVAL. Pure.
 */
int kube_watch_path(char *buf, size_t size, const struct kube_ref *ref,
                    const struct kube_watch_opts *opts, int timeout_seconds);

#endif /* SLUICE_KUBE_WATCH_H */
