/*
 * reflector.c - list + watch into a cache; see reflector.h.
 *
 * The store is a strmap from key to the object as compact JSON text, under
 * a mutex: text takes a fraction of a cJSON tree's memory (a tree node is
 * 64 bytes before its strings), and the cache is most of the operator's
 * memory. Readers get a tree parsed from the text. Changes are worked out
 * with the lock held and reported after it is released, so a handler may
 * read the store; objects a change replaced are freed only after their
 * handler ran (the store has one writer, so nothing else can free them
 * meanwhile).
 *
 * A listing is mark and sweep over the one map: each object carries the
 * number of the last listing that saw it; a page stores its items and
 * marks them; the end removes what the open listing did not mark. No
 * second map, no whole list in memory.
 */
#include "reflector.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "clock.h"
#include "log.h"
#include "strmap.h"

/* ================================================================ the store */

/*
 * Objects of one kind are nearly the same text (a TelemetryWindow's keys,
 * spec and conditions differ from the next one's in names, uids, times
 * and versions): each is kept deflated with the store's first object as a
 * preset dictionary, which takes a 1.5 KiB TelemetryWindow to ~80 bytes
 * (~780 deflated alone). A raw deflate stream with a 4 KiB window reaches
 * the whole dictionary and an object as large; larger objects compress
 * against their own text, as plain deflate. Nothing is kept between calls:
 * a stream is set up per object (~25 KiB of zlib state, freed at once).
 */
#define DICT_MAX 4096
#define ZWINDOW_BITS 12
#define ZMEM_LEVEL 4

/* An object as held: its resourceVersion, compared on every event without a
 * parse, then the object's compact JSON, deflated (data_len < text_len) or
 * as it is (data_len == text_len), in the same allocation. */
struct stored {
	unsigned long long seen; /* the last listing (gen) that saw it */
	uint32_t text_len, data_len;
	char rv[]; /* NUL-terminated, then data_len bytes of data */
};

struct reflector_store {
	pthread_mutex_t mu;
	struct strmap *map; /* key -> struct stored *; room for 2 * max */
	size_t max;
	reflector_project_fn project;
	/* The listing: mark and sweep. gen numbers listings; an object whose
	 * seen is gen was seen by the open one; seen_n counts those held. */
	unsigned long long gen;
	size_t seen_n;
	int listing;
	/* The preset dictionary: the first object's text (its first DICT_MAX
	 * bytes), set once by the writer before that object is stored, never
	 * changed after (every object held was deflated against it). */
	unsigned char *dict;
	size_t dict_len;
	int dict_chosen; /* dict settled (NULL when its copy failed: none ever) */
};

const char *reflector_event_name(enum reflector_event ev)
{
	switch (ev) {
	case REFLECTOR_ADDED:
		return "added";
	case REFLECTOR_UPDATED:
		return "updated";
	case REFLECTOR_DELETED:
		return "deleted";
	}
	return "unknown";
}

int reflector_store_new(struct reflector_store **out, size_t max_objects)
{
	struct reflector_store *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return REFLECTOR_ENOMEM;
	s->max = max_objects != 0 ? max_objects : REFLECTOR_MAX_OBJECTS_DEFAULT;
	/* A listing may hold max objects it saw beside max stale ones
	 * (reflector.h); the bound itself is kept here, not by the map. */
	if (strmap_new(&s->map, s->max <= SIZE_MAX / 2 ? 2 * s->max : SIZE_MAX) != 0) {
		free(s);
		return REFLECTOR_ENOMEM;
	}
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		strmap_free(s->map);
		free(s);
		return REFLECTOR_ENOMEM;
	}
	*out = s;
	return 0;
}

void reflector_store_set_project(struct reflector_store *s, reflector_project_fn fn)
{
	s->project = fn;
}

static void stored_free(struct stored *st)
{
	free(st);
}

static int delete_value(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	stored_free(value);
	return 0;
}

/* Frees a map and every object in it. */
static void free_objects(struct strmap *m)
{
	strmap_foreach(m, delete_value, NULL);
	strmap_free(m);
}

void reflector_store_free(struct reflector_store *s)
{
	if (s == NULL)
		return;
	free_objects(s->map);
	pthread_mutex_destroy(&s->mu);
	free(s->dict);
	free(s);
}

static const char *meta_string(const cJSON *obj, const char *field)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, field);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int reflector_object_key(const cJSON *obj, char *buf, size_t size)
{
	const char *ns = meta_string(obj, "namespace");
	const char *name = meta_string(obj, "name");
	int n;

	if (buf == NULL || size == 0)
		return REFLECTOR_EINVAL;
	buf[0] = '\0';
	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
	    (ns != NULL && strchr(ns, '/') != NULL))
		return REFLECTOR_EINVAL;
	if (ns == NULL || ns[0] == '\0')
		n = snprintf(buf, size, "%s", name);
	else
		n = snprintf(buf, size, "%s/%s", ns, name);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return REFLECTOR_EINVAL;
	}
	return 0;
}

/* Whether two resourceVersions are the same, non-empty, one. Compared for
 * equality only: resourceVersions are opaque (never ordered). */
static int same_version(const char *a, const char *b)
{
	return a != NULL && b != NULL && a[0] != '\0' && strcmp(a, b) == 0;
}

/* What the cache never needs and every object carries: managedFields
 * (server-side apply's bookkeeping, often larger than the spec) and
 * kubectl's last-applied copy of the whole object. Dropped as client-go's
 * informers are advised to, they make up most of a cached object. */
static void trim_object(cJSON *obj)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");

	cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
	cJSON_DeleteItemFromObjectCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"),
	    "kubectl.kubernetes.io/last-applied-configuration");
}

void reflector_keep_metadata(cJSON *obj)
{
	static const char *const keep[] = {"name",
	                                   "namespace",
	                                   "uid",
	                                   "resourceVersion",
	                                   "generation",
	                                   "labels",
	                                   "ownerReferences",
	                                   "deletionTimestamp"};
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *it, *next;

	for (it = obj != NULL ? obj->child : NULL; it != NULL; it = next) {
		next = it->next;
		if (it != meta)
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
	}
	for (it = meta != NULL ? meta->child : NULL; it != NULL; it = next) {
		size_t i = 0;

		next = it->next;
		while (i < sizeof(keep) / sizeof(keep[0]) && strcmp(it->string, keep[i]) != 0)
			i++;
		if (i == sizeof(keep) / sizeof(keep[0]))
			cJSON_Delete(cJSON_DetachItemViaPointer(meta, it));
	}
}

/* Whether cJSON would print n with digits lost: it writes 15 significant
 * digits where they read back within an epsilon, so 1234567890123456
 * comes back as 1234567890123460. */
static int lossy_number(const cJSON *n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%1.15g", n->valuedouble);
	return strtod(buf, NULL) != n->valuedouble;
}

static int has_lossy_number(const cJSON *t)
{
	for (const cJSON *it = t->child; it != NULL; it = it->next)
		if ((cJSON_IsNumber(it) && lossy_number(it)) || has_lossy_number(it))
			return 1;
	return 0;
}

/* Replaces every lossy number in t by its 17 digits, verbatim. */
static int fix_lossy_numbers(cJSON *t)
{
	for (cJSON *it = t->child, *next; it != NULL; it = next) {
		next = it->next;
		if (cJSON_IsNumber(it) && lossy_number(it)) {
			char buf[32];
			cJSON *raw;

			snprintf(buf, sizeof(buf), "%1.17g", it->valuedouble);
			if ((raw = cJSON_CreateRaw(buf)) == NULL)
				return -1;
			/* The key moves over: the replaced item goes, raw keeps it. */
			raw->string = it->string;
			raw->type |= it->type & cJSON_StringIsConst;
			it->string = NULL;
			cJSON_ReplaceItemViaPointer(t, it, raw);
		} else if (fix_lossy_numbers(it) != 0) {
			return -1;
		}
	}
	return 0;
}

/* obj as compact JSON that parses back to the same values; NULL when out
 * of memory. */
static char *print_exact(const cJSON *obj)
{
	cJSON *copy;
	char *text = NULL;

	if (!has_lossy_number(obj))
		return cJSON_PrintUnformatted(obj);
	/* Rare (a number of 16 or more digits): fix a copy, the caller's tree
	 * stays as it is. */
	if ((copy = cJSON_Duplicate(obj, 1)) != NULL && fix_lossy_numbers(copy) == 0)
		text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return text;
}

/* text (n bytes) deflated against the dictionary into out (cap bytes);
 * the length, or 0 when it does not fit in cap or zlib fails. */
static size_t deflate_text(const struct reflector_store *s, const char *text, size_t n,
                           unsigned char *out, size_t cap)
{
	z_stream z;
	size_t len = 0;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -ZWINDOW_BITS, ZMEM_LEVEL,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	if (s->dict_len == 0 || deflateSetDictionary(&z, s->dict, (uInt)s->dict_len) == Z_OK) {
		z.next_in = (Bytef *)(uintptr_t)text;
		z.avail_in = (uInt)n;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) == Z_STREAM_END)
			len = z.total_out;
	}
	deflateEnd(&z);
	return len;
}

/* st's data inflated into text (st->text_len bytes). Returns 0, or -1
 * when zlib fails (out of memory; corrupt data cannot happen). */
static int inflate_text(const struct reflector_store *s, const struct stored *st, char *text)
{
	const unsigned char *data = (const unsigned char *)st->rv + strlen(st->rv) + 1;
	z_stream z;
	int ok = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -ZWINDOW_BITS) != Z_OK)
		return -1;
	if (s->dict_len == 0 || inflateSetDictionary(&z, s->dict, (uInt)s->dict_len) == Z_OK) {
		z.next_in = (Bytef *)(uintptr_t)data;
		z.avail_in = st->data_len;
		z.next_out = (Bytef *)text;
		z.avail_out = st->text_len;
		ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == st->text_len;
	}
	inflateEnd(&z);
	return ok ? 0 : -1;
}

/* The first object's text becomes the dictionary (the writer only). */
static void set_dict(struct reflector_store *s, const char *text, size_t n)
{
	size_t len = n < DICT_MAX ? n : DICT_MAX;

	if (s->dict_chosen)
		return;
	s->dict_chosen = 1;
	if (len == 0 || (s->dict = malloc(len)) == NULL)
		return; /* no dictionary, for good: plain deflate, still correct */
	memcpy(s->dict, text, len);
	s->dict_len = len;
}

/* obj trimmed (and projected) into its stored form; obj stays the
 * caller's. NULL when out of memory. */
static struct stored *stored_new(struct reflector_store *s, cJSON *obj)
{
	const char *rv;
	struct stored *st = NULL;
	unsigned char *z = NULL;
	char *text;
	size_t n, tn, zn = 0;

	trim_object(obj);
	if (s->project != NULL)
		s->project(obj);
	rv = meta_string(obj, "resourceVersion");
	n = rv != NULL ? strlen(rv) : 0;
	if ((text = print_exact(obj)) == NULL)
		return NULL;
	tn = strlen(text);
	if (tn > UINT32_MAX) {
		cJSON_free(text);
		return NULL;
	}
	set_dict(s, text, tn);
	/* Kept deflated only where that is smaller. */
	if (tn > 0 && (z = malloc(tn)) != NULL)
		zn = deflate_text(s, text, tn, z, tn - 1);
	st = malloc(sizeof(*st) + n + 1 + (zn > 0 ? zn : tn));
	if (st != NULL) {
		memcpy(st->rv, rv != NULL ? rv : "", n + 1);
		memcpy(st->rv + n + 1, zn > 0 ? (const char *)z : text, zn > 0 ? zn : tn);
		st->seen = 0;
		st->text_len = (uint32_t)tn;
		st->data_len = (uint32_t)(zn > 0 ? zn : tn);
	}
	free(z);
	cJSON_free(text);
	return st;
}

/* A tree of a stored object, the caller's; NULL for NULL or out of memory. */
static cJSON *stored_parse(const struct reflector_store *s, const struct stored *st)
{
	const char *data;
	char *text;
	cJSON *obj;

	if (st == NULL)
		return NULL;
	data = st->rv + strlen(st->rv) + 1;
	if (st->data_len == st->text_len)
		return cJSON_ParseWithLength(data, st->text_len);
	if ((text = malloc((size_t)st->text_len + 1)) == NULL)
		return NULL;
	obj = inflate_text(s, st, text) == 0 ? cJSON_ParseWithLength(text, st->text_len) : NULL;
	free(text);
	return obj;
}

/* Marks st seen by the open listing, if any (the lock held). */
static void mark_seen(struct reflector_store *s, struct stored *st)
{
	if (s->listing && st->seen != s->gen) {
		st->seen = s->gen;
		s->seen_n++;
	}
}

/* st leaves the map (the lock held): the listing's count forgets it. */
static void unmark(struct reflector_store *s, const struct stored *st)
{
	if (st != NULL && s->listing && st->seen == s->gen)
		s->seen_n--;
}

/*
 * Whether storing under a key that holds old (NULL: a new key) keeps the
 * bound (the lock held). Outside a listing only a new key takes a place:
 * fewer than max held. During one every object it sees takes a place among
 * the max it keeps; the others held are stale and go at its end, so one
 * seen past max is left to that sweep, as a whole-list replace would drop
 * it.
 */
static int room_for(const struct reflector_store *s, const struct stored *old)
{
	if (!s->listing)
		return old != NULL || strmap_len(s->map) < s->max;
	return (old != NULL && old->seen == s->gen) || s->seen_n < s->max;
}

/* What store_put did. */
enum put_outcome { PUT_ADDED, PUT_UPDATED, PUT_UNCHANGED };

/*
 * Stores obj (taken) under key, marked seen by an open listing, and tells
 * fn (may be NULL) of an add or a change. Returns 0 with *out set,
 * REFLECTOR_EFULL or REFLECTOR_ENOMEM.
 */
static int store_put(struct reflector_store *s, const char *key, cJSON *obj,
                     reflector_handler_fn fn, void *opaque, enum put_outcome *out)
{
	struct stored *st, *old = NULL;
	cJSON *prev;
	int rc;

	/* Refused or unchanged is decided before the object is printed and
	 * deflated (a relist's unchanged objects cost a compare each). The
	 * store has one writer: what is held cannot change until it puts. */
	pthread_mutex_lock(&s->mu);
	old = strmap_get(s->map, key);
	if (!room_for(s, old)) {
		pthread_mutex_unlock(&s->mu);
		cJSON_Delete(obj);
		return REFLECTOR_EFULL;
	}
	if (old != NULL && same_version(old->rv, meta_string(obj, "resourceVersion"))) {
		mark_seen(s, old);
		pthread_mutex_unlock(&s->mu);
		cJSON_Delete(obj);
		*out = PUT_UNCHANGED;
		return 0;
	}
	pthread_mutex_unlock(&s->mu);
	if ((st = stored_new(s, obj)) == NULL) {
		cJSON_Delete(obj);
		return REFLECTOR_ENOMEM;
	}
	pthread_mutex_lock(&s->mu);
	if (old != NULL)
		st->seen = old->seen;
	old = NULL;
	rc = strmap_put(s->map, key, st, NULL, (void **)&old);
	if (rc == 0)
		mark_seen(s, st);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		stored_free(st);
		cJSON_Delete(obj);
		return rc == STRMAP_EFULL ? REFLECTOR_EFULL : REFLECTOR_ENOMEM;
	}
	*out = old != NULL ? PUT_UPDATED : PUT_ADDED;
	if (fn != NULL) {
		prev = stored_parse(s, old);
		fn(old != NULL ? REFLECTOR_UPDATED : REFLECTOR_ADDED, key, obj, prev, opaque);
		cJSON_Delete(prev);
	}
	stored_free(old);
	cJSON_Delete(obj);
	return 0;
}

int reflector_store_apply(struct reflector_store *s, enum kube_watch_type type, cJSON *obj,
                          reflector_handler_fn fn, void *opaque)
{
	char key[REFLECTOR_KEY_MAX];
	struct stored *old;
	enum put_outcome out;
	cJSON *prev;

	if (type != KUBE_WATCH_ADDED && type != KUBE_WATCH_MODIFIED && type != KUBE_WATCH_DELETED) {
		cJSON_Delete(obj);
		return 0;
	}
	if (reflector_object_key(obj, key, sizeof(key)) != 0) {
		cJSON_Delete(obj);
		return REFLECTOR_EINVAL;
	}
	if (type != KUBE_WATCH_DELETED)
		return store_put(s, key, obj, fn, opaque, &out);
	pthread_mutex_lock(&s->mu);
	old = strmap_remove(s->map, key);
	unmark(s, old);
	pthread_mutex_unlock(&s->mu);
	if (fn != NULL) {
		prev = stored_parse(s, old);
		fn(REFLECTOR_DELETED, key, NULL, prev != NULL ? prev : obj, opaque);
		cJSON_Delete(prev);
	}
	stored_free(old);
	cJSON_Delete(obj);
	return 0;
}

/* ---------------------------------------------------------------- listings */

void reflector_store_list_begin(struct reflector_store *s)
{
	pthread_mutex_lock(&s->mu);
	/* A new mark: every object held is unseen by this listing. */
	s->gen++;
	s->seen_n = 0;
	s->listing = 1;
	pthread_mutex_unlock(&s->mu);
}

void reflector_store_list_abort(struct reflector_store *s)
{
	pthread_mutex_lock(&s->mu);
	s->listing = 0;
	s->seen_n = 0;
	pthread_mutex_unlock(&s->mu);
}

/* One listed item (taken) into the store, counted in *res. Returns 0,
 * REFLECTOR_EFULL (dropped) or REFLECTOR_ENOMEM. */
static int list_one(struct reflector_store *s, cJSON *it, reflector_handler_fn fn, void *opaque,
                    struct reflector_replace_result *res)
{
	char key[REFLECTOR_KEY_MAX];
	enum put_outcome out;
	int r;

	if (reflector_object_key(it, key, sizeof(key)) != 0) {
		res->invalid++;
		cJSON_Delete(it);
		return 0;
	}
	r = store_put(s, key, it, fn, opaque, &out);
	if (r == REFLECTOR_EFULL)
		res->dropped++;
	if (r != 0)
		return r;
	if (out == PUT_ADDED)
		res->added++;
	else if (out == PUT_UPDATED)
		res->updated++;
	else
		res->unchanged++;
	return 0;
}

static int listing_open(struct reflector_store *s)
{
	int listing;

	pthread_mutex_lock(&s->mu);
	listing = s->listing;
	pthread_mutex_unlock(&s->mu);
	return listing;
}

int reflector_store_list_item(struct reflector_store *s, cJSON *item, reflector_handler_fn fn,
                              void *opaque, struct reflector_replace_result *res)
{
	struct reflector_replace_result local = {0};

	if (!listing_open(s) || !cJSON_IsObject(item)) {
		cJSON_Delete(item);
		return REFLECTOR_EINVAL;
	}
	return list_one(s, item, fn, opaque, res != NULL ? res : &local);
}

int reflector_store_list_page(struct reflector_store *s, cJSON *items, reflector_handler_fn fn,
                              void *opaque, struct reflector_replace_result *res)
{
	struct reflector_replace_result local;
	int rc = 0;
	cJSON *it;

	if (res == NULL) {
		memset(&local, 0, sizeof(local));
		res = &local;
	}
	if (!listing_open(s) || (items != NULL && !cJSON_IsArray(items))) {
		cJSON_Delete(items);
		return REFLECTOR_EINVAL;
	}
	/* Each tree goes as soon as its text is stored, so the page shrinks
	 * as the store grows. */
	while (items != NULL && (it = cJSON_DetachItemViaPointer(items, items->child)) != NULL) {
		int r = list_one(s, it, fn, opaque, res);

		if (r == REFLECTOR_EFULL) {
			rc = REFLECTOR_EFULL;
			continue;
		}
		if (r != 0) {
			cJSON_Delete(items);
			return REFLECTOR_ENOMEM;
		}
	}
	cJSON_Delete(items);
	return rc;
}

/* An object the listing did not see, taken out of the map. */
struct stale {
	char *key;
	struct stored *st;
};

struct sweep {
	const struct reflector_store *s;
	struct stale *v;
	size_t n, cap;
	int failed;
};

static int count_stale(const char *key, void *value, void *opaque)
{
	struct sweep *w = opaque;
	const struct stored *st = value;

	(void)key;
	if (st->seen != w->s->gen)
		w->cap++;
	return 0;
}

static int collect_stale(const char *key, void *value, void *opaque)
{
	struct sweep *w = opaque;
	struct stored *st = value;

	if (st->seen == w->s->gen || w->n >= w->cap)
		return 0;
	if ((w->v[w->n].key = strdup(key)) == NULL) {
		w->failed = 1;
		return 1;
	}
	w->v[w->n++].st = st;
	return 0;
}

int reflector_store_list_end(struct reflector_store *s, reflector_handler_fn fn, void *opaque,
                             struct reflector_replace_result *res)
{
	struct sweep w = {.s = s};

	pthread_mutex_lock(&s->mu);
	if (!s->listing) {
		pthread_mutex_unlock(&s->mu);
		return REFLECTOR_EINVAL;
	}
	strmap_foreach(s->map, count_stale, &w);
	if (w.cap > 0) {
		w.v = calloc(w.cap, sizeof(*w.v));
		if (w.v != NULL)
			strmap_foreach(s->map, collect_stale, &w);
		if (w.v == NULL || w.failed) {
			for (size_t i = 0; i < w.n; i++)
				free(w.v[i].key);
			free(w.v);
			s->listing = 0;
			pthread_mutex_unlock(&s->mu);
			return REFLECTOR_ENOMEM;
		}
	}
	/* Removed after the walk: the map may not change under foreach. The
	 * key copies outlive the map's, for the handler. */
	for (size_t i = 0; i < w.n; i++)
		strmap_remove(s->map, w.v[i].key);
	s->listing = 0;
	s->seen_n = 0;
	pthread_mutex_unlock(&s->mu);

	/* The removed objects are the writer's alone now: they stay alive for
	 * the handler, then go. */
	for (size_t i = 0; i < w.n; i++) {
		if (fn != NULL) {
			cJSON *old = stored_parse(s, w.v[i].st);

			if (old != NULL)
				fn(REFLECTOR_DELETED, w.v[i].key, NULL, old, opaque);
			else
				log_error("a cached object could not be parsed again (out of "
				          "memory): deletion not reported",
				          "key", w.v[i].key, NULL);
			cJSON_Delete(old);
		}
		stored_free(w.v[i].st);
		free(w.v[i].key);
	}
	free(w.v);
	if (res != NULL)
		res->deleted += w.n;
	return 0;
}

int reflector_store_replace(struct reflector_store *s, cJSON *items, reflector_handler_fn fn,
                            void *opaque, struct reflector_replace_result *res)
{
	struct reflector_replace_result local;
	int rc;

	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(items);
		return REFLECTOR_EINVAL;
	}
	reflector_store_list_begin(s);
	rc = reflector_store_list_page(s, items, fn, opaque, res);
	if (rc != 0 && rc != REFLECTOR_EFULL) {
		reflector_store_list_abort(s);
		return rc;
	}
	rc = reflector_store_list_end(s, fn, opaque, res);
	if (rc != 0)
		return rc;
	return res->dropped > 0 ? REFLECTOR_EFULL : 0;
}

int reflector_store_get(struct reflector_store *s, const char *key, cJSON **out)
{
	const struct stored *st;
	int rc = 0;

	*out = NULL;
	if (key == NULL)
		return REFLECTOR_ENOTFOUND;
	pthread_mutex_lock(&s->mu);
	st = strmap_get(s->map, key);
	if (st == NULL)
		rc = REFLECTOR_ENOTFOUND;
	else if ((*out = stored_parse(s, st)) == NULL)
		rc = REFLECTOR_ENOMEM;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

size_t reflector_store_len(struct reflector_store *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = strmap_len(s->map);
	pthread_mutex_unlock(&s->mu);
	return n;
}

static int add_bytes(const char *key, void *value, void *opaque)
{
	const struct stored *st = value;
	size_t *total = opaque;

	*total += sizeof(*st) + strlen(st->rv) + 1 + st->data_len + strlen(key) + 1;
	return 0;
}

size_t reflector_store_bytes(struct reflector_store *s)
{
	size_t total = 0;

	pthread_mutex_lock(&s->mu);
	strmap_foreach(s->map, add_bytes, &total);
	total += s->dict_len;
	pthread_mutex_unlock(&s->mu);
	return total;
}

struct foreach_ctx {
	const struct reflector_store *s;
	reflector_store_fn fn;
	void *opaque;
};

static int foreach_one(const char *key, void *value, void *opaque)
{
	struct foreach_ctx *c = opaque;
	cJSON *obj = stored_parse(c->s, value);
	int rc;

	if (obj == NULL)
		return 0; /* out of memory: this one is skipped, as if not yet seen */
	rc = c->fn(key, obj, c->opaque);
	cJSON_Delete(obj);
	return rc;
}

int reflector_store_foreach(struct reflector_store *s, reflector_store_fn fn, void *opaque)
{
	struct foreach_ctx c = {s, fn, opaque};
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = strmap_foreach(s->map, foreach_one, &c);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

struct foreach_key_ctx {
	reflector_store_key_fn fn;
	void *opaque;
};

static int foreach_key_one(const char *key, void *value, void *opaque)
{
	const struct foreach_key_ctx *c = opaque;
	const struct stored *st = value;

	return c->fn(key, st->rv, c->opaque);
}

int reflector_store_foreach_key(struct reflector_store *s, reflector_store_key_fn fn, void *opaque)
{
	struct foreach_key_ctx c = {fn, opaque};
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = strmap_foreach(s->map, foreach_key_one, &c);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int reflector_store_rv(struct reflector_store *s, const char *key, char *buf, size_t size)
{
	const struct stored *st;
	int rc = REFLECTOR_OK;

	if (size > 0)
		buf[0] = '\0';
	if (key == NULL)
		return REFLECTOR_ENOTFOUND;
	pthread_mutex_lock(&s->mu);
	st = strmap_get(s->map, key);
	if (st == NULL) {
		rc = REFLECTOR_ENOTFOUND;
	} else {
		size_t n = strlen(st->rv);

		if (n >= size)
			rc = REFLECTOR_EINVAL;
		else
			memcpy(buf, st->rv, n + 1);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ================================================================ the loop */

struct reflector {
	char name[64];
	struct kube_client *client;
	char group[128], version[64], resource[128], namespace[64];
	struct kube_ref ref;
	char *label_selector, *field_selector;
	long page_size;
	int watch_timeout_seconds;
	int backoff_initial_ms, backoff_max_ms, backoff_reset_ms;
	char resume_rv[KUBE_WATCH_RV_MAX];
	int resume;
	reflector_handler_fn handler;
	void *opaque;
	const atomic_int *stop;
	struct reflector_store *store;
	unsigned seed;            /* jitter; rand_r's state */
	unsigned long long heard; /* events of the current watch, bookmarks included */

	pthread_mutex_t mu; /* guards stats */
	struct reflector_stats stats;
	atomic_int synced;
};

static int copy_field(char *dst, size_t size, const char *src, const char *what, int required,
                      char *errbuf, size_t errbuf_size)
{
	if (src == NULL || src[0] == '\0') {
		dst[0] = '\0';
		if (!required)
			return 0;
		snprintf(errbuf, errbuf_size, "reflector: %s is required", what);
		return REFLECTOR_EINVAL;
	}
	if (strlen(src) >= size) {
		snprintf(errbuf, errbuf_size, "reflector: %s is too long", what);
		return REFLECTOR_EINVAL;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int reflector_new(struct reflector **out, const struct reflector_options *opts, char *errbuf,
                  size_t errbuf_size)
{
	char scratch[8];
	struct reflector *r;
	int rc;

	*out = NULL;
	if (errbuf == NULL || errbuf_size == 0) {
		errbuf = scratch;
		errbuf_size = sizeof(scratch);
	}
	if (opts == NULL || opts->client == NULL || opts->stop == NULL) {
		snprintf(errbuf, errbuf_size, "reflector: client and stop are required");
		return REFLECTOR_EINVAL;
	}
	if (opts->ref.name != NULL || opts->ref.subresource != NULL) {
		snprintf(errbuf, errbuf_size,
		         "reflector: ref names a collection: no name, no subresource");
		return REFLECTOR_EINVAL;
	}
	if (opts->page_size < 0 || opts->watch_timeout_seconds < 0 ||
	    opts->backoff_initial_ms < 0 || opts->backoff_max_ms < 0 ||
	    opts->backoff_reset_ms < 0) {
		snprintf(errbuf, errbuf_size, "reflector: sizes and times must not be negative");
		return REFLECTOR_EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(errbuf, errbuf_size, "reflector: out of memory");
		return REFLECTOR_ENOMEM;
	}
	if ((rc = copy_field(r->group, sizeof(r->group), opts->ref.group, "ref.group", 0, errbuf,
	                     errbuf_size)) != 0 ||
	    (rc = copy_field(r->version, sizeof(r->version), opts->ref.version, "ref.version", 1,
	                     errbuf, errbuf_size)) != 0 ||
	    (rc = copy_field(r->resource, sizeof(r->resource), opts->ref.resource, "ref.resource",
	                     1, errbuf, errbuf_size)) != 0 ||
	    (rc = copy_field(r->namespace, sizeof(r->namespace), opts->ref.namespace,
	                     "ref.namespace", 0, errbuf, errbuf_size)) != 0 ||
	    (rc = copy_field(r->resume_rv, sizeof(r->resume_rv), opts->resume_resource_version,
	                     "resume_resource_version", 0, errbuf, errbuf_size)) != 0) {
		free(r);
		return rc;
	}
	/* Cut to fit: it is only a label for logs. */
	kube_strlcpy(r->name, sizeof(r->name),
	             opts->name != NULL && opts->name[0] != '\0' ? opts->name : r->resource);
	r->ref = (struct kube_ref){
	    r->group[0] != '\0' ? r->group : NULL,         r->version, r->resource,
	    r->namespace[0] != '\0' ? r->namespace : NULL, NULL,       NULL};
	r->client = opts->client;
	r->page_size = opts->page_size != 0 ? opts->page_size : 500;
	r->watch_timeout_seconds = opts->watch_timeout_seconds;
	r->backoff_initial_ms = opts->backoff_initial_ms != 0 ? opts->backoff_initial_ms : 800;
	r->backoff_max_ms = opts->backoff_max_ms != 0 ? opts->backoff_max_ms : 30000;
	r->backoff_reset_ms = opts->backoff_reset_ms != 0 ? opts->backoff_reset_ms : 120000;
	if (r->backoff_max_ms < r->backoff_initial_ms)
		r->backoff_max_ms = r->backoff_initial_ms;
	r->resume = r->resume_rv[0] != '\0';
	r->handler = opts->handler;
	r->opaque = opts->opaque;
	r->stop = opts->stop;
	r->seed = (unsigned)(clock_mono_ns() % CLOCK_NS_PER_S) ^ (unsigned)getpid() ^
	          (unsigned)(uintptr_t)r;
	if ((opts->label_selector != NULL &&
	     (r->label_selector = strdup(opts->label_selector)) == NULL) ||
	    (opts->field_selector != NULL &&
	     (r->field_selector = strdup(opts->field_selector)) == NULL) ||
	    reflector_store_new(&r->store, opts->max_objects) != 0) {
		free(r->label_selector);
		free(r->field_selector);
		free(r);
		snprintf(errbuf, errbuf_size, "reflector: out of memory");
		return REFLECTOR_ENOMEM;
	}
	reflector_store_set_project(r->store, opts->project);
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		reflector_store_free(r->store);
		free(r->label_selector);
		free(r->field_selector);
		free(r);
		snprintf(errbuf, errbuf_size, "reflector: cannot create a mutex");
		return REFLECTOR_ENOMEM;
	}
	atomic_init(&r->synced, 0);
	*out = r;
	return 0;
}

void reflector_free(struct reflector *r)
{
	if (r == NULL)
		return;
	reflector_store_free(r->store);
	free(r->label_selector);
	free(r->field_selector);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int reflector_synced(struct reflector *r)
{
	return atomic_load(&r->synced);
}

struct reflector_store *reflector_get_store(struct reflector *r)
{
	return r->store;
}

void reflector_stats(struct reflector *r, struct reflector_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->stats;
	pthread_mutex_unlock(&r->mu);
	out->objects = reflector_store_len(r->store);
	out->synced = reflector_synced(r);
}

int64_t reflector_backoff_ms(unsigned n, int initial_ms, int max_ms, double rnd)
{
	int64_t d = initial_ms > 0 ? initial_ms : 1;

	while (n-- > 0 && d < max_ms)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (rnd < 0)
		rnd = 0;
	if (rnd > 1)
		rnd = 1;
	return d / 2 + (int64_t)(rnd * (double)(d - d / 2));
}

/* ---------------------------------------------------------------- helpers */

static int stopping(const struct reflector *r)
{
	return atomic_load(r->stop) != 0;
}

/* Sleeps ms, in slices short enough to notice the stop flag promptly. */
static void sleep_unless_stopped(const struct reflector *r, int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;

	while (!stopping(r)) {
		int64_t left = until - clock_mono_ms();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* Waits out failure number *n (then counts it), or the server's
 * Retry-After when it asked for longer. */
static void back_off(struct reflector *r, unsigned *n, const struct kube_error *e)
{
	double rnd = (double)rand_r(&r->seed) / (double)RAND_MAX;
	int64_t ms = reflector_backoff_ms(*n, r->backoff_initial_ms, r->backoff_max_ms, rnd);

	if (e != NULL && e->retry_after_seconds > 0 && (int64_t)e->retry_after_seconds * 1000 > ms)
		ms = (int64_t)e->retry_after_seconds * 1000;
	if (*n < 64)
		(*n)++;
	sleep_unless_stopped(r, ms);
}

#define STAT_ADD(r, field, v)                                                                      \
	do {                                                                                       \
		pthread_mutex_lock(&(r)->mu);                                                      \
		(r)->stats.field += (v);                                                           \
		pthread_mutex_unlock(&(r)->mu);                                                    \
	} while (0)

static void set_rv(struct reflector *r, const char *rv)
{
	pthread_mutex_lock(&r->mu);
	kube_strlcpy(r->stats.resource_version, sizeof(r->stats.resource_version), rv);
	pthread_mutex_unlock(&r->mu);
}

static void log_error_of(struct reflector *r, enum log_level level, const char *msg, int rc,
                         const struct kube_error *e, const char *rv)
{
	char detail[1024];

	kube_error_format(e, detail, sizeof(detail));
	log_msg(level, msg, "reflector", r->name, "error", kube_strerror(rc), "detail", detail,
	        "resourceVersion", rv, NULL);
}

/* ---------------------------------------------------------------- list */

/* Logs what a listing did to the store. */
static void log_listing(struct reflector *r, int relist, const char *rv, unsigned pages,
                        const struct reflector_replace_result *res)
{
	char a[32], u[32], d[32], p[32], total[32];

	if (res->dropped > 0 || res->invalid > 0) {
		char n[64];

		snprintf(n, sizeof(n), "%zu", res->dropped + res->invalid);
		log_msg(LOG_LEVEL_ERROR, "objects left out of the cache (max_objects or no name)",
		        "reflector", r->name, "count", n, NULL);
	}
	snprintf(a, sizeof(a), "%zu", res->added);
	snprintf(u, sizeof(u), "%zu", res->updated);
	snprintf(d, sizeof(d), "%zu", res->deleted);
	snprintf(p, sizeof(p), "%u", pages);
	snprintf(total, sizeof(total), "%zu", reflector_store_len(r->store));
	log_msg(relist ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, relist ? "relisted" : "listed",
	        "reflector", r->name, "resourceVersion", rv, "objects", total, "pages", p, "added",
	        a, "updated", u, "deleted", d, NULL);
}

/*
 * One LIST page's metadata: its resourceVersion into rv (the first page's
 * only: later pages come from the same snapshot), its continue token into
 * *cont (NULL at the end; the caller's to free). Frees meta. Returns 0 or
 * a kube_* code.
 */
static int page_meta(cJSON *meta, int first, char *rv, size_t rv_size, char **cont,
                     struct kube_error *e)
{
	const cJSON *lrv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(meta, "continue");
	int rc = 0;

	*cont = NULL;
	/* Without a version there is nothing to watch from: watching from ""
	 * would replay everything with no list boundary. */
	if (first && (!cJSON_IsString(lrv) || lrv->valuestring[0] == '\0' ||
	              kube_strlcpy(rv, rv_size, lrv->valuestring) != 0))
		rc = kube_error_set(e, KUBE_EPROTOCOL, 200,
		                    "list: no usable metadata.resourceVersion");
	else if (cJSON_IsString(next) && next->valuestring[0] != '\0' &&
	         (*cont = strdup(next->valuestring)) == NULL)
		rc = kube_error_set(e, KUBE_ENOMEM, 0, "list: out of memory");
	cJSON_Delete(meta);
	return rc;
}

/* What list_item, the item callback of a listing, stores into. */
struct list_sink {
	struct reflector *r;
	struct reflector_replace_result *res;
};

static int list_item(cJSON *item, void *opaque)
{
	struct list_sink *k = opaque;
	int rc = reflector_store_list_item(k->r->store, item, k->r->handler, k->r->opaque, k->res);

	if (rc == REFLECTOR_ENOMEM)
		return KUBE_ENOMEM;
	return 0; /* dropped, invalid: counted, the listing goes on */
}

/*
 * LISTs page by page into the store (reflector_store_list_*): each page's
 * items are parsed and stored one at a time as the page is read, so the
 * peak is the store plus one page's text and one item's tree.
 * rv receives the list's resourceVersion. A listing that fails midway (the
 * API server gone, 410 for an expired continue token) deletes nothing and
 * is retried whole by the caller, as client-go restarts its list. relist:
 * not the first LIST, or one a 410 asked for (only for the log). Returns 0
 * or the kube_* code.
 */
static int list_into_store(struct reflector *r, int relist, char *rv, size_t rv_size,
                           struct kube_error *e)
{
	/*
	 * Every LIST is a consistent read (no resourceVersion), first or not.
	 * client-go's first LIST asks for "0" (anything the watch cache has),
	 * but the cache answers that with every object in one response,
	 * ignoring limit (measured on kube-apiserver v1.33 by
	 * tests/integration/reflector_it.c: docs/kube-client.md). A consistent
	 * read pages, and since ConsistentListFromCache (beta, on by default
	 * from v1.31) it is served from the watch cache too.
	 */
	struct kube_list_opts lo = {.label_selector = r->label_selector,
	                            .field_selector = r->field_selector,
	                            .resource_version = "",
	                            .limit = r->page_size};
	struct reflector_replace_result res;
	struct list_sink sink = {r, &res};
	char *cont = NULL;
	unsigned pages = 0;
	int rc = 0;

	memset(&res, 0, sizeof(res));
	reflector_store_list_begin(r->store);
	for (;;) {
		cJSON *meta = NULL;
		char *next;

		if (pages >= KUBE_LIST_MAX_PAGES) {
			rc = kube_error_set(e, KUBE_ETOOLARGE, 0, "list: too many pages");
			break;
		}
		if (stopping(r)) {
			rc = kube_error_set(e, KUBE_ESTOPPED, 0, "stopped");
			break;
		}
		/* Item by item: the page is never one tree (kube_client.h). */
		rc = kube_client_list_each(r->client, &r->ref, &lo, list_item, &sink, &meta, e);
		if (rc == 0)
			rc = page_meta(meta, pages == 0, rv, rv_size, &next, e);
		else
			cJSON_Delete(meta);
		if (rc != 0)
			break;
		pages++;
		STAT_ADD(r, list_pages, 1);
		free(cont);
		cont = next;
		if (cont == NULL)
			break;
		/* Later pages come from the snapshot the token names; a
		 * resourceVersion beside continue is refused by the server. */
		lo.continue_token = cont;
		lo.resource_version = NULL;
	}
	free(cont);
	if (rc == 0 && reflector_store_list_end(r->store, r->handler, r->opaque, &res) != 0)
		rc = kube_error_set(e, KUBE_ENOMEM, 0, "list: out of memory");
	if (rc != 0) {
		reflector_store_list_abort(r->store);
		return rc;
	}
	if (res.dropped > 0 || res.invalid > 0)
		STAT_ADD(r, dropped, res.dropped + res.invalid);
	log_listing(r, relist, rv, pages, &res);
	return 0;
}

/* ---------------------------------------------------------------- watch */

static int on_event(struct kube_watch_event *ev, void *opaque)
{
	struct reflector *r = opaque;
	cJSON *obj;
	int rc;

	r->heard++;
	switch (ev->type) {
	case KUBE_WATCH_ADDED:
	case KUBE_WATCH_MODIFIED:
	case KUBE_WATCH_DELETED:
		obj = ev->object;
		ev->object = NULL; /* the store's now */
		rc = reflector_store_apply(r->store, ev->type, obj, r->handler, r->opaque);
		if (rc == REFLECTOR_ENOMEM)
			return KUBE_ENOMEM; /* ends the watch; resumed after a back-off */
		if (rc != 0) {
			/* Refusing the event would replay it forever: record
			 * the loss loudly and go on. */
			log_msg(LOG_LEVEL_ERROR,
			        "watch event left out of the cache (max_objects or no name)",
			        "reflector", r->name, "type", kube_watch_type_name(ev->type),
			        "resourceVersion", ev->resource_version, NULL);
			STAT_ADD(r, dropped, 1);
		}
		STAT_ADD(r, events, 1);
		return 0;
	case KUBE_WATCH_BOOKMARK:
		STAT_ADD(r, bookmarks, 1);
		return 0;
	case KUBE_WATCH_ERROR:
		return 0; /* the decoder ends the watch with its code */
	}
	return 0;
}

int reflector_run(struct reflector *r)
{
	char rv[KUBE_WATCH_RV_MAX] = "", next[KUBE_WATCH_RV_MAX];
	int need_list = !r->resume, listed_once = 0, watched_once = 0, expired = 0;
	unsigned failures = 0;
	struct kube_error e;
	int rc;

	if (r->resume)
		kube_strlcpy(rv, sizeof(rv), r->resume_rv);
	set_rv(r, rv);
	while (!stopping(r)) {
		struct kube_watch_opts wo;
		int64_t started;

		if (need_list) {
			rc = list_into_store(r, listed_once || expired, rv, sizeof(rv), &e);
			if (rc == KUBE_ESTOPPED || stopping(r))
				break;
			if (rc != 0) {
				STAT_ADD(r, list_errors, 1);
				log_error_of(r, LOG_LEVEL_WARN, "list failed; backing off", rc, &e,
				             rv);
				back_off(r, &failures, &e);
				continue;
			}
			STAT_ADD(r, lists, 1);
			if (listed_once || expired)
				STAT_ADD(r, relists, 1);
			listed_once = 1;
			expired = 0;
			need_list = 0;
			set_rv(r, rv);
			atomic_store(&r->synced, 1);
		}

		memset(&wo, 0, sizeof(wo));
		wo.resource_version = rv;
		wo.label_selector = r->label_selector;
		wo.field_selector = r->field_selector;
		wo.timeout_seconds = r->watch_timeout_seconds;
		wo.stop = r->stop;
		STAT_ADD(r, watches, 1);
		if (watched_once)
			STAT_ADD(r, watch_restarts, 1);
		watched_once = 1;
		started = clock_mono_ms();
		r->heard = 0;
		rc = kube_watch_run(r->client, &r->ref, &wo, on_event, r, next, sizeof(next), &e);
		/* Resume after the last event applied, whatever happened. */
		if (next[0] != '\0')
			memcpy(rv, next, sizeof(rv));
		set_rv(r, rv);
		if (rc == KUBE_ESTOPPED || stopping(r))
			break;
		if (clock_mono_ms() - started >= r->backoff_reset_ms)
			failures = 0;
		/* client-go's "very short watch": ended cleanly within a
		 * second having said nothing. Something in the way (a proxy, a
		 * misbehaving server) would otherwise have us re-watch in a
		 * tight loop. */
		if (rc == 0 && r->heard == 0 && clock_mono_ms() - started < 1000)
			rc = kube_error_set(&e, KUBE_EPROTOCOL, 0,
			                    "very short watch: ended within 1 s without an event");
		switch (rc) {
		case 0:
			/* The server's timeoutSeconds: a healthy end. */
			failures = 0;
			break;
		case KUBE_EGONE:
			/* Compacted past our resourceVersion: only a fresh LIST
			 * can say what changed meanwhile. No back-off, as
			 * client-go. */
			STAT_ADD(r, expired, 1);
			log_error_of(r, LOG_LEVEL_INFO, "resourceVersion expired; relisting", rc,
			             &e, rv);
			need_list = 1;
			expired = 1;
			rv[0] = '\0';
			break;
		default:
			/* Away, overloaded, forbidden or a broken stream: watch
			 * again from rv after a back-off (a LIST only if that
			 * rv has expired by then). */
			STAT_ADD(r, watch_errors, 1);
			log_error_of(r, LOG_LEVEL_WARN, "watch failed; backing off", rc, &e, rv);
			back_off(r, &failures, &e);
			break;
		}
	}
	log_msg(LOG_LEVEL_INFO, "reflector stopped", "reflector", r->name, "resourceVersion", rv,
	        NULL);
	return 0;
}
