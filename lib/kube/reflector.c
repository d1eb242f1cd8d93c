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
 */
#include "reflector.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "strmap.h"

/* ================================================================ the store */

/* An object as held: its resourceVersion, compared on every event without a
 * parse, and the object as compact JSON. */
struct stored {
	char *json;
	char rv[];
};

struct reflector_store {
	pthread_mutex_t mu;
	struct strmap *map; /* key -> struct stored * */
	size_t max;
	reflector_project_fn project;
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
	if (strmap_new(&s->map, s->max) != 0) {
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
	if (st == NULL)
		return;
	free(st->json);
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

/* obj trimmed (and projected) into its stored form; obj stays the
 * caller's. NULL when out of memory. */
static struct stored *stored_new(const struct reflector_store *s, cJSON *obj)
{
	const char *rv;
	struct stored *st;
	size_t n;

	trim_object(obj);
	if (s->project != NULL)
		s->project(obj);
	rv = meta_string(obj, "resourceVersion");
	n = rv != NULL ? strlen(rv) : 0;
	st = malloc(sizeof(*st) + n + 1);
	if (st == NULL)
		return NULL;
	memcpy(st->rv, rv != NULL ? rv : "", n + 1);
	if ((st->json = print_exact(obj)) == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

/* A tree of a stored object, the caller's; NULL for NULL or out of memory. */
static cJSON *stored_parse(const struct stored *st)
{
	return st != NULL ? cJSON_Parse(st->json) : NULL;
}

int reflector_store_apply(struct reflector_store *s, enum kube_watch_type type, cJSON *obj,
                          reflector_handler_fn fn, void *opaque)
{
	char key[REFLECTOR_KEY_MAX];
	struct stored *st, *old = NULL;
	cJSON *prev;
	enum reflector_event ev;
	int rc;

	if (type != KUBE_WATCH_ADDED && type != KUBE_WATCH_MODIFIED && type != KUBE_WATCH_DELETED) {
		cJSON_Delete(obj);
		return 0;
	}
	if (reflector_object_key(obj, key, sizeof(key)) != 0) {
		cJSON_Delete(obj);
		return REFLECTOR_EINVAL;
	}
	if (type == KUBE_WATCH_DELETED) {
		pthread_mutex_lock(&s->mu);
		old = strmap_remove(s->map, key);
		pthread_mutex_unlock(&s->mu);
		if (fn != NULL) {
			prev = stored_parse(old);
			fn(REFLECTOR_DELETED, key, NULL, prev != NULL ? prev : obj, opaque);
			cJSON_Delete(prev);
		}
		stored_free(old);
		cJSON_Delete(obj);
		return 0;
	}
	if ((st = stored_new(s, obj)) == NULL) {
		cJSON_Delete(obj);
		return REFLECTOR_ENOMEM;
	}
	pthread_mutex_lock(&s->mu);
	old = strmap_get(s->map, key);
	if (old != NULL && same_version(old->rv, st->rv)) {
		pthread_mutex_unlock(&s->mu);
		stored_free(st);
		cJSON_Delete(obj);
		return 0;
	}
	old = NULL;
	rc = strmap_put(s->map, key, st, NULL, (void **)&old);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		stored_free(st);
		cJSON_Delete(obj);
		return rc == STRMAP_EFULL ? REFLECTOR_EFULL : REFLECTOR_ENOMEM;
	}
	ev = old != NULL ? REFLECTOR_UPDATED : REFLECTOR_ADDED;
	if (fn != NULL) {
		prev = stored_parse(old);
		fn(ev, key, obj, prev, opaque);
		cJSON_Delete(prev);
	}
	stored_free(old);
	cJSON_Delete(obj);
	return 0;
}

/* One change found by replace, reported once the lock is released. */
struct change {
	enum reflector_event ev;
	const char *key; /* the new map's key copy, or the old map's */
	const struct stored *obj, *old;
};

struct diff {
	const struct strmap *fresh, *stale;
	struct change *changes;
	size_t n;
	struct reflector_replace_result *res;
};

/* New objects against the old map: added, updated or unchanged. */
static int find_added(const char *key, void *value, void *opaque)
{
	struct diff *d = opaque;
	const struct stored *st = value, *old = strmap_get(d->stale, key);

	if (old == NULL) {
		d->changes[d->n++] = (struct change){REFLECTOR_ADDED, key, st, NULL};
		d->res->added++;
	} else if (!same_version(old->rv, st->rv)) {
		d->changes[d->n++] = (struct change){REFLECTOR_UPDATED, key, st, old};
		d->res->updated++;
	} else {
		d->res->unchanged++;
	}
	return 0;
}

/* Old objects that are not in the new list: deleted while unwatched. */
static int find_deleted(const char *key, void *value, void *opaque)
{
	struct diff *d = opaque;

	if (strmap_get(d->fresh, key) == NULL) {
		d->changes[d->n++] = (struct change){REFLECTOR_DELETED, key, NULL, value};
		d->res->deleted++;
	}
	return 0;
}

/* Tells fn of one change, with trees parsed from the stored text. */
static void report(const struct change *c, reflector_handler_fn fn, void *opaque)
{
	cJSON *obj = stored_parse(c->obj), *old = stored_parse(c->old);

	if ((c->obj == NULL || obj != NULL) && (c->old == NULL || old != NULL))
		fn(c->ev, c->key, obj, old, opaque);
	else
		log_error("a cached object could not be parsed again (out of memory): change "
		          "not reported",
		          "key", c->key, "event", reflector_event_name(c->ev), NULL);
	cJSON_Delete(obj);
	cJSON_Delete(old);
}

int reflector_store_replace(struct reflector_store *s, cJSON *items, reflector_handler_fn fn,
                            void *opaque, struct reflector_replace_result *res)
{
	struct reflector_replace_result local;
	struct strmap *fresh = NULL;
	struct diff d = {0};
	cJSON *it;

	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(items);
		return REFLECTOR_EINVAL;
	}
	if (strmap_new(&fresh, s->max) != 0) {
		cJSON_Delete(items);
		return REFLECTOR_ENOMEM;
	}
	/* Move every item into a new map, without the lock: the old content
	 * stays readable meanwhile. Each tree goes as soon as its text is
	 * made, so a long list is never held twice. */
	while ((it = cJSON_DetachItemViaPointer(items, items->child)) != NULL) {
		char key[REFLECTOR_KEY_MAX];
		struct stored *st;
		void *dup = NULL;
		int r;

		if (reflector_object_key(it, key, sizeof(key)) != 0) {
			res->invalid++;
			cJSON_Delete(it);
			continue;
		}
		st = stored_new(s, it);
		cJSON_Delete(it);
		r = st != NULL ? strmap_put(fresh, key, st, NULL, &dup) : STRMAP_ENOMEM;
		if (r == STRMAP_EFULL) {
			res->dropped++;
			stored_free(st);
			continue;
		}
		if (r != 0) {
			stored_free(st);
			cJSON_Delete(items);
			free_objects(fresh);
			memset(res, 0, sizeof(*res));
			return REFLECTOR_ENOMEM;
		}
		stored_free(dup); /* a key listed twice: the later wins */
	}
	cJSON_Delete(items);

	pthread_mutex_lock(&s->mu);
	d.fresh = fresh;
	d.stale = s->map;
	d.res = res;
	d.changes = calloc(strmap_len(fresh) + strmap_len(s->map) + 1, sizeof(*d.changes));
	if (d.changes == NULL) {
		pthread_mutex_unlock(&s->mu);
		free_objects(fresh);
		memset(res, 0, sizeof(*res));
		return REFLECTOR_ENOMEM;
	}
	strmap_foreach(fresh, find_added, &d);
	strmap_foreach(s->map, find_deleted, &d);
	s->map = fresh;
	pthread_mutex_unlock(&s->mu);

	/* The old map (d.stale) is the writer's alone now: its objects stay
	 * alive for the handlers, then go. */
	if (fn != NULL)
		for (size_t i = 0; i < d.n; i++)
			report(&d.changes[i], fn, opaque);
	free(d.changes);
	free_objects((struct strmap *)d.stale);
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
	else if ((*out = stored_parse(st)) == NULL)
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

struct foreach_ctx {
	reflector_store_fn fn;
	void *opaque;
};

static int foreach_one(const char *key, void *value, void *opaque)
{
	struct foreach_ctx *c = opaque;
	cJSON *obj = stored_parse(value);
	int rc;

	if (obj == NULL)
		return 0; /* out of memory: this one is skipped, as if not yet seen */
	rc = c->fn(key, obj, c->opaque);
	cJSON_Delete(obj);
	return rc;
}

int reflector_store_foreach(struct reflector_store *s, reflector_store_fn fn, void *opaque)
{
	struct foreach_ctx c = {fn, opaque};
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = strmap_foreach(s->map, foreach_one, &c);
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

/* LISTs every page and replaces the store; rv receives the list's
 * resourceVersion. relist: not the first LIST, or one a 410 asked for.
 * Returns 0 or the kube_* code. */
static int list_into_store(struct reflector *r, int relist, char *rv, size_t rv_size,
                           struct kube_error *e)
{
	/* client-go: the first LIST may be served from the watch cache
	 * ("0"); a relist reads consistently (""), since the cache may be
	 * behind what made the old resourceVersion expire. */
	struct kube_list_opts lo = {.label_selector = r->label_selector,
	                            .field_selector = r->field_selector,
	                            .resource_version = relist ? "" : "0",
	                            .limit = r->page_size};
	struct reflector_replace_result res;
	cJSON *list = NULL, *items;
	const cJSON *meta, *lrv;
	int rc;

	rc = kube_client_list_all(r->client, &r->ref, &lo, &list, e);
	if (rc != 0)
		return rc;
	meta = cJSON_GetObjectItemCaseSensitive(list, "metadata");
	lrv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	if (!cJSON_IsString(lrv) || lrv->valuestring[0] == '\0' ||
	    kube_strlcpy(rv, rv_size, lrv->valuestring) != 0) {
		cJSON_Delete(list);
		return kube_error_set(e, KUBE_EPROTOCOL, 200,
		                      "list: no usable metadata.resourceVersion");
	}
	items = cJSON_DetachItemFromObjectCaseSensitive(list, "items");
	cJSON_Delete(list);
	if (items == NULL)
		items = cJSON_CreateArray();
	if (items == NULL)
		return kube_error_set(e, KUBE_ENOMEM, 0, "list: out of memory");
	rc = reflector_store_replace(r->store, items, r->handler, r->opaque, &res);
	if (rc == REFLECTOR_ENOMEM)
		return kube_error_set(e, KUBE_ENOMEM, 0, "list: out of memory");
	if (res.dropped > 0 || res.invalid > 0) {
		char n[64];

		snprintf(n, sizeof(n), "%zu", res.dropped + res.invalid);
		log_msg(LOG_LEVEL_ERROR, "objects left out of the cache (max_objects or no name)",
		        "reflector", r->name, "count", n, NULL);
		STAT_ADD(r, dropped, res.dropped + res.invalid);
	}
	{
		char a[32], u[32], d[32], total[32];

		snprintf(a, sizeof(a), "%zu", res.added);
		snprintf(u, sizeof(u), "%zu", res.updated);
		snprintf(d, sizeof(d), "%zu", res.deleted);
		snprintf(total, sizeof(total), "%zu", reflector_store_len(r->store));
		log_msg(relist ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, relist ? "relisted" : "listed",
		        "reflector", r->name, "resourceVersion", rv, "objects", total, "added", a,
		        "updated", u, "deleted", d, NULL);
	}
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
