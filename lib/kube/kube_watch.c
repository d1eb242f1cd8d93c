/*
 * kube_watch.c - watch-stream decoding and the watch request. See
 * kube_watch.h.
 *
 * Each byte is scanned for '\n' once: a line wholly inside a chunk is parsed
 * in place, only a line that spans chunks is copied into the carry buffer.
 * (The generated C client re-parses its whole buffer on every chunk, which is
 * quadratic in the event size.)
 */
#include "kube_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* A carry buffer grown past this for one big event is given back after it. */
#define CARRY_KEEP (1u << 20)

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *kube_watch_type_name(enum kube_watch_type type)
{
	if ((int)type < 0 || (size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
		return "UNKNOWN";
	return type_names[type];
}

void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_event,
                             const char *resource_version)
{
	memset(d, 0, sizeof(*d));
	d->max_event = max_event > 0 ? max_event : KUBE_WATCH_MAX_EVENT_DEFAULT;
	kube_strlcpy(d->resource_version, sizeof(d->resource_version), resource_version);
}

void kube_watch_decoder_free(struct kube_watch_decoder *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
}

static int fail(struct kube_watch_decoder *d, struct kube_error *err, int rc, const char *msg)
{
	d->failed = rc;
	return kube_error_set(err, rc, 0, msg);
}

static int type_parse(const char *s, enum kube_watch_type *type)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*type = (enum kube_watch_type)i;
			return 0;
		}
	}
	return -1;
}

/* Decodes one line (no '\n') and delivers it. */
static int decode_line(struct kube_watch_decoder *d, const char *line, size_t len, kube_watch_fn fn,
                       void *opaque, struct kube_error *err)
{
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (len > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r')) {
		line++;
		len--;
	}
	if (len == 0)
		return KUBE_OK;

	cJSON *json = cJSON_ParseWithLength(line, len);
	if (json == NULL)
		return fail(d, err, KUBE_EPROTOCOL, "watch event is not JSON");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
	cJSON *object = cJSON_GetObjectItemCaseSensitive(json, "object");
	struct kube_watch_event ev;
	memset(&ev, 0, sizeof(ev));
	if (!cJSON_IsString(type) || !cJSON_IsObject(object)) {
		cJSON_Delete(json);
		return fail(d, err, KUBE_EPROTOCOL, "watch event without a type or an object");
	}
	if (type_parse(type->valuestring, &ev.type) != 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "watch event of unknown type \"%.64s\"",
		         type->valuestring);
		cJSON_Delete(json);
		return fail(d, err, KUBE_EPROTOCOL, msg);
	}
	ev.object = cJSON_DetachItemViaPointer(json, object);
	cJSON_Delete(json);

	/* Copied before the callback, which may take and free the object. */
	char rv[KUBE_WATCH_RV_MAX];
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ev.object, "metadata");
	const cJSON *jrv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	if (cJSON_IsString(jrv) && jrv->valuestring[0] != '\0') {
		if (kube_strlcpy(rv, sizeof(rv), jrv->valuestring) != KUBE_OK) {
			cJSON_Delete(ev.object);
			return fail(d, err, KUBE_EPROTOCOL, "watch event resourceVersion too long");
		}
		ev.resource_version = rv;
	}
	if (ev.type == KUBE_WATCH_ERROR) {
		ev.rc = kube_status_decode(0, ev.object, &ev.error);
		if (ev.rc >= 0) /* an ERROR whose Status says success: not a stream */
			ev.rc = KUBE_EPROTOCOL;
		/* An ERROR's object is a Status, not a version to resume from. */
		ev.resource_version = NULL;
	}

	int rc = fn(&ev, opaque);
	cJSON_Delete(ev.object);
	if (rc != 0) {
		d->failed = rc;
		return rc;
	}
	d->events++;
	if (ev.type == KUBE_WATCH_BOOKMARK)
		d->bookmarks++;
	if (ev.type == KUBE_WATCH_ERROR) {
		d->failed = ev.rc;
		if (err != NULL)
			*err = ev.error;
		return ev.rc;
	}
	if (ev.resource_version != NULL)
		memcpy(d->resource_version, rv, strlen(rv) + 1);
	return KUBE_OK;
}

/* Appends n bytes to the carry buffer (the caller checked the bound). */
static int carry(struct kube_watch_decoder *d, const char *data, size_t n)
{
	if (d->len + n > d->cap) {
		size_t ncap = d->cap == 0 ? 4096 : d->cap;
		while (ncap < d->len + n)
			ncap *= 2;
		if (ncap > d->max_event)
			ncap = d->max_event;
		char *nbuf = realloc(d->buf, ncap);
		if (nbuf == NULL)
			return KUBE_ENOMEM;
		d->buf = nbuf;
		d->cap = ncap;
	}
	memcpy(d->buf + d->len, data, n);
	d->len += n;
	return KUBE_OK;
}

static void carry_done(struct kube_watch_decoder *d)
{
	d->len = 0;
	if (d->cap > CARRY_KEEP)
		kube_watch_decoder_free(d);
}

int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t len,
                            kube_watch_fn fn, void *opaque, struct kube_error *err)
{
	if (d->failed)
		return kube_error_set(err, d->failed, 0,
		                      "watch decoder stopped after an earlier error");
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t seg = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
		/* Checked before buffering, so a runaway line never grows the
		 * buffer past the bound. */
		if (seg > d->max_event - d->len) {
			char msg[128];
			snprintf(msg, sizeof(msg), "watch event longer than %zu bytes",
			         d->max_event);
			return fail(d, err, KUBE_ETOOLARGE, msg);
		}
		int rc;
		if (nl == NULL) {
			if (carry(d, data + pos, seg) != KUBE_OK)
				return fail(d, err, KUBE_ENOMEM, "out of memory");
			break;
		}
		if (d->len == 0) {
			rc = decode_line(d, data + pos, seg, fn, opaque, err);
		} else {
			if (carry(d, data + pos, seg) != KUBE_OK)
				return fail(d, err, KUBE_ENOMEM, "out of memory");
			rc = decode_line(d, d->buf, d->len, fn, opaque, err);
			carry_done(d);
		}
		if (rc != 0)
			return rc;
		pos += seg + 1;
	}
	return KUBE_OK;
}

int kube_watch_decoder_finish(struct kube_watch_decoder *d, kube_watch_fn fn, void *opaque,
                              struct kube_error *err)
{
	if (d->failed)
		return kube_error_set(err, d->failed, 0,
		                      "watch decoder stopped after an earlier error");
	if (d->len == 0)
		return KUBE_OK;
	int rc = decode_line(d, d->buf, d->len, fn, opaque, err);
	size_t held = d->len;
	carry_done(d);
	if (rc == KUBE_EPROTOCOL) {
		char msg[128];
		snprintf(msg, sizeof(msg), "watch stream ended inside an event (%zu bytes held)",
		         held);
		kube_error_set(err, rc, 0, msg);
	}
	return rc;
}

/* ---------------------------------------------------------------- request */

int kube_watch_path(char *buf, size_t size, const struct kube_ref *ref,
                    const struct kube_watch_opts *opts, int timeout_seconds)
{
	char timeout[16];
	if (ref == NULL || ref->name != NULL || ref->subresource != NULL ||
	    kube_path(buf, size, ref) != KUBE_OK)
		return KUBE_EINVAL;
	snprintf(timeout, sizeof(timeout), "%d", timeout_seconds);
	if (kube_query_add(buf, size, "watch", "1") != KUBE_OK ||
	    kube_query_add(buf, size, "resourceVersion", opts->resource_version) != KUBE_OK ||
	    (!opts->no_bookmarks &&
	     kube_query_add(buf, size, "allowWatchBookmarks", "true") != KUBE_OK) ||
	    (timeout_seconds > 0 &&
	     kube_query_add(buf, size, "timeoutSeconds", timeout) != KUBE_OK) ||
	    kube_query_add(buf, size, "labelSelector", opts->label_selector) != KUBE_OK ||
	    kube_query_add(buf, size, "fieldSelector", opts->field_selector) != KUBE_OK)
		return KUBE_EINVAL;
	return KUBE_OK;
}

struct run {
	struct kube_watch_decoder d;
	kube_watch_fn fn;
	void *opaque;
	struct kube_error *err;
};

static int on_chunk(const char *data, size_t len, void *opaque)
{
	struct run *r = opaque;
	return kube_watch_decoder_feed(&r->d, data, len, r->fn, r->opaque, r->err);
}

int kube_watch_run(struct kube_client *c, const struct kube_ref *ref,
                   const struct kube_watch_opts *opts, kube_watch_fn fn, void *opaque, char *rv_out,
                   size_t rv_size, struct kube_error *err)
{
	static const struct kube_watch_opts defaults;
	struct kube_error local;
	if (err == NULL)
		err = &local;
	if (opts == NULL)
		opts = &defaults;
	if (rv_out != NULL && rv_size > 0)
		kube_strlcpy(rv_out, rv_size, opts->resource_version);

	int timeout = opts->timeout_seconds;
	if (timeout > 86400)
		timeout = 86400; /* and the client's bound below cannot overflow */
	if (timeout <= 0) {
		/* client-go: a random timeout in [5 min, 10 min) "to avoid
		 * situations of hanging watchers" reconnecting together. */
		timeout = 300 + (int)(clock_mono_ns() % CLOCK_NS_PER_S % 300);
	}
	char path[KUBE_PATH_MAX];
	if (fn == NULL || kube_watch_path(path, sizeof(path), ref, opts, timeout) != KUBE_OK)
		return kube_error_set(err, KUBE_EINVAL, 0,
		                      "watch: bad reference (a collection, no name) or query");

	struct run r = {.fn = fn, .opaque = opaque, .err = err};
	kube_watch_decoder_init(&r.d, opts->max_event, opts->resource_version);
	/* The server ends the watch after timeoutSeconds; the client's bound
	 * is a margin past that, for a server that never does. */
	int rc = kube_client_stream(c, path, (long)(timeout + 30) * 1000L, opts->stop, on_chunk, &r,
	                            err);
	if (rc == KUBE_OK)
		rc = kube_watch_decoder_finish(&r.d, fn, opaque, err);
	if (rv_out != NULL && rv_size > 0)
		kube_strlcpy(rv_out, rv_size, r.d.resource_version);
	kube_watch_decoder_free(&r.d);
	return rc;
}
