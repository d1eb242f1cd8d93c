/* dash_cache.c -- reflectors and the index of rows and samples; see
 * dash_cache.h. */
#include "dash_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "reflector.h"
#include "strmap.h"

/* A list answer never grows past this (a thousand rows are ~0.5 MB). */
#define LIST_MAX (256u << 20)

/* One resource in the index. */
struct entry {
	char *row; /* dash_view_row as compact JSON */
	size_t row_len;
	const char *key; /* the map's own copy: "<ns>/<name>" */
	struct dash_sample last;
	struct dash_ring ring;
};

struct kind_state {
	struct dash_cache *c;
	enum dash_kind kind;
	struct reflector *refl;        /* NULL without kube */
	struct reflector_store *store; /* the reflector's, or our own without kube */
	pthread_t thread;
	int started;
	pthread_rwlock_t mu; /* guards index and its entries */
	struct strmap *index;
};

struct dash_cache {
	struct kind_state k[DASH_KINDS];
	size_t ring_max;
	int64_t history_ms, sample_ms;
	atomic_int stop;
	pthread_t sampler;
	int sampler_started;
	pthread_mutex_t mu; /* the sampler's wait */
	pthread_cond_t cv;
	struct metrics_family *objects;
};

static void entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	free(e->row);
	dash_ring_free(&e->ring);
	free(e);
}

/* The reflector's handler: the row and sample of a changed resource. */
static void on_change(enum reflector_event ev, const char *key, const cJSON *obj, const cJSON *old,
                      void *opaque)
{
	struct kind_state *ks = opaque;
	struct entry *e;
	char *row = NULL;

	(void)old;
	if (ev == REFLECTOR_DELETED) {
		pthread_rwlock_wrlock(&ks->mu);
		e = strmap_remove(ks->index, key);
		pthread_rwlock_unlock(&ks->mu);
		entry_free(e);
		return;
	}
	cJSON *r = dash_view_row(ks->kind, obj);
	if (r != NULL)
		row = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	if (row == NULL) {
		log_warn("cannot index a resource", "kind", dash_kind_name(ks->kind), "key", key,
		         "error", "out of memory", NULL);
		return;
	}
	pthread_rwlock_wrlock(&ks->mu);
	e = strmap_get(ks->index, key);
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		if (e == NULL || strmap_put(ks->index, key, e, &e->key, NULL) != 0) {
			pthread_rwlock_unlock(&ks->mu);
			free(e);
			free(row);
			log_warn("cannot index a resource", "kind", dash_kind_name(ks->kind), "key",
			         key, "error", "out of memory or too many", NULL);
			return;
		}
		dash_ring_init(&e->ring, ks->c->ring_max);
		dash_view_sample(obj, &e->last);
		e->last.t_ms = clock_real_ns() / 1000000;
		(void)dash_ring_push(&e->ring, &e->last); /* a chart from the start */
	} else {
		dash_view_sample(obj, &e->last);
	}
	free(e->row);
	e->row = row;
	e->row_len = strlen(row);
	pthread_rwlock_unlock(&ks->mu);
}

static void *reflector_thread(void *arg)
{
	reflector_run(arg);
	return NULL;
}

static void *sampler_thread(void *arg)
{
	struct dash_cache *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!atomic_load(&c->stop)) {
		struct timespec deadline = clock_mono_deadline(c->sample_ms);
		int rc = pthread_cond_timedwait(&c->cv, &c->mu, &deadline);
		if (rc == ETIMEDOUT && !atomic_load(&c->stop)) {
			pthread_mutex_unlock(&c->mu);
			dash_cache_sample_now(c, clock_real_ns() / 1000000);
			pthread_mutex_lock(&c->mu);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int register_metrics(struct dash_cache *c, struct metrics_registry *m, char *errbuf,
                            size_t errbuf_size)
{
	static const char *const labels[] = {"kind", NULL};

	if (m == NULL)
		return 0;
	return metrics_gauge(m, "sluice_dashboard_cache_objects",
	                     "Resources in the dashboard's cache, per kind.", labels, &c->objects,
	                     errbuf, errbuf_size);
}

int dash_cache_start(struct dash_cache **out, const struct dash_cache_options *o, char *errbuf,
                     size_t errbuf_size)
{
	struct dash_cache *c = calloc(1, sizeof(*c));
	const char *ns = o->namespace != NULL && o->namespace[0] != '\0' ? o->namespace : NULL;

	*out = NULL;
	if (c == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	c->history_ms = o->history_ms > 0 ? o->history_ms : 3600000;
	c->sample_ms = o->sample_ms;
	c->ring_max = o->sample_ms > 0 ? (size_t)(c->history_ms / o->sample_ms) + 1 : DASH_RING_MAX;
	if (c->ring_max > DASH_RING_MAX)
		c->ring_max = DASH_RING_MAX;
	pthread_mutex_init(&c->mu, NULL);
	clock_cond_init(&c->cv);
	for (int i = 0; i < DASH_KINDS; i++) {
		struct kind_state *ks = &c->k[i];
		ks->c = c;
		ks->kind = (enum dash_kind)i;
		pthread_rwlock_init(&ks->mu, NULL);
		if (strmap_new(&ks->index, DASH_CACHE_MAX_OBJECTS) != 0) {
			snprintf(errbuf, errbuf_size, "out of memory");
			goto fail;
		}
	}
	if (register_metrics(c, o->metrics, errbuf, errbuf_size) != 0)
		goto fail;
	for (int i = 0; i < DASH_KINDS; i++) {
		struct kind_state *ks = &c->k[i];
		if (o->kube == NULL) {
			if (reflector_store_new(&ks->store, DASH_CACHE_MAX_OBJECTS) != 0) {
				snprintf(errbuf, errbuf_size, "out of memory");
				goto fail;
			}
			continue;
		}
		struct reflector_options ro = {
		    .name = dash_kind_plural(ks->kind),
		    .client = o->kube,
		    .ref = {.group = DASH_GROUP,
		            .version = DASH_VERSION,
		            .resource = dash_kind_plural(ks->kind),
		            .namespace = ns},
		    .max_objects = DASH_CACHE_MAX_OBJECTS,
		    .handler = on_change,
		    .opaque = ks,
		    .stop = &c->stop,
		};
		if (reflector_new(&ks->refl, &ro, errbuf, errbuf_size) != 0)
			goto fail;
		ks->store = reflector_get_store(ks->refl);
	}
	for (int i = 0; o->kube != NULL && i < DASH_KINDS; i++) {
		if (pthread_create(&c->k[i].thread, NULL, reflector_thread, c->k[i].refl) != 0) {
			snprintf(errbuf, errbuf_size, "cannot start a reflector thread");
			goto fail;
		}
		c->k[i].started = 1;
	}
	if (c->sample_ms > 0) {
		if (pthread_create(&c->sampler, NULL, sampler_thread, c) != 0) {
			snprintf(errbuf, errbuf_size, "cannot start the sampler thread");
			goto fail;
		}
		c->sampler_started = 1;
	}
	*out = c;
	return 0;
fail:
	dash_cache_stop(c);
	return -1;
}

static int free_entry(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	entry_free(value);
	return 0;
}

void dash_cache_stop(struct dash_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	atomic_store(&c->stop, 1);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->sampler_started)
		pthread_join(c->sampler, NULL);
	for (int i = 0; i < DASH_KINDS; i++)
		if (c->k[i].started)
			pthread_join(c->k[i].thread, NULL);
	for (int i = 0; i < DASH_KINDS; i++) {
		struct kind_state *ks = &c->k[i];
		if (ks->refl != NULL)
			reflector_free(ks->refl);
		else
			reflector_store_free(ks->store);
		if (ks->index != NULL) {
			strmap_foreach(ks->index, free_entry, NULL);
			strmap_free(ks->index);
		}
		pthread_rwlock_destroy(&ks->mu);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int dash_cache_synced(struct dash_cache *c, enum dash_kind k)
{
	return c->k[k].refl == NULL || reflector_synced(c->k[k].refl);
}

int dash_cache_ready(void *cache, char *reason, size_t reason_size)
{
	struct dash_cache *c = cache;

	if (c == NULL) {
		snprintf(reason, reason_size, "starting");
		return 1;
	}
	for (int i = 0; i < DASH_VW; i++) {
		if (!dash_cache_synced(c, (enum dash_kind)i)) {
			snprintf(reason, reason_size, "%s not listed yet",
			         dash_kind_plural((enum dash_kind)i));
			return 1;
		}
	}
	return 0;
}

struct collect {
	const struct entry **e;
	size_t n, cap;
	const char *ns; /* filter, or NULL */
	size_t ns_len;
};

static int collect_one(const char *key, void *value, void *opaque)
{
	struct collect *col = opaque;

	if (col->ns != NULL && (strncmp(key, col->ns, col->ns_len) != 0 || key[col->ns_len] != '/'))
		return 0;
	if (col->n == col->cap)
		return 1; /* cannot happen: cap is the map's length */
	col->e[col->n++] = value;
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct entry *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

/* Every entry of ks (in namespace ns unless NULL), sorted by key, into
 * col; under the caller's read lock. Returns 0 or -1. */
static int collect(struct kind_state *ks, const char *ns, struct collect *col)
{
	memset(col, 0, sizeof(*col));
	col->cap = strmap_len(ks->index);
	col->ns = ns != NULL && ns[0] != '\0' ? ns : NULL;
	col->ns_len = col->ns != NULL ? strlen(col->ns) : 0;
	if (col->cap == 0)
		return 0;
	col->e = malloc(col->cap * sizeof(*col->e));
	if (col->e == NULL)
		return -1;
	strmap_foreach(ks->index, collect_one, col);
	qsort(col->e, col->n, sizeof(*col->e), by_key);
	return 0;
}

char *dash_cache_list(struct dash_cache *c, enum dash_kind k, const char *ns, size_t *len)
{
	struct kind_state *ks = &c->k[k];
	struct collect col;
	struct buf b;
	char head[160];
	int rc = 0;

	buf_init(&b, LIST_MAX);
	pthread_rwlock_rdlock(&ks->mu);
	if (collect(ks, ns, &col) < 0) {
		pthread_rwlock_unlock(&ks->mu);
		return NULL;
	}
	snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"synced\":%s,\"count\":%zu,\"items\":[",
	         dash_kind_name(k), dash_cache_synced(c, k) ? "true" : "false", col.n);
	rc |= buf_append_str(&b, head);
	for (size_t i = 0; i < col.n && rc == 0; i++) {
		if (i > 0)
			rc |= buf_append(&b, ",", 1);
		rc |= buf_append(&b, col.e[i]->row, col.e[i]->row_len);
	}
	pthread_rwlock_unlock(&ks->mu);
	free(col.e);
	rc |= buf_append(&b, "]}", 3); /* with the NUL */
	if (rc != 0) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len - 1;
	return b.data;
}

static void make_key(char *key, size_t size, const char *ns, const char *name)
{
	snprintf(key, size, "%s/%s", ns, name);
}

cJSON *dash_cache_get(struct dash_cache *c, enum dash_kind k, const char *ns, const char *name)
{
	char key[REFLECTOR_KEY_MAX];
	cJSON *obj = NULL;

	make_key(key, sizeof(key), ns, name);
	if (reflector_store_get(c->k[k].store, key, &obj) != 0)
		return NULL;
	return obj;
}

cJSON *dash_cache_samples(struct dash_cache *c, enum dash_kind k, const char *ns, const char *name)
{
	struct kind_state *ks = &c->k[k];
	char key[REFLECTOR_KEY_MAX];
	int64_t since = clock_real_ns() / 1000000 - c->history_ms;
	struct entry *e;
	cJSON *out = NULL;

	make_key(key, sizeof(key), ns, name);
	pthread_rwlock_rdlock(&ks->mu);
	e = strmap_get(ks->index, key);
	if (e != NULL)
		out = dash_ring_json(&e->ring, since);
	pthread_rwlock_unlock(&ks->mu);
	return out;
}

struct pick {
	const struct entry *e;
	enum dash_kind kind;
};

static int by_lag(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	if (x->e->last.lag != y->e->last.lag)
		return x->e->last.lag > y->e->last.lag ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->e->key, y->e->key);
}

/* {"kind","namespace","name","samples"} for one entry. */
static cJSON *worker_item(const struct pick *p, int64_t since)
{
	const char *slash = strchr(p->e->key, '/');
	cJSON *o = cJSON_CreateObject();
	cJSON *s = dash_ring_json(&p->e->ring, since);
	char ns[REFLECTOR_KEY_MAX];

	if (o == NULL || s == NULL || slash == NULL || (size_t)(slash - p->e->key) >= sizeof(ns))
		goto fail;
	memcpy(ns, p->e->key, (size_t)(slash - p->e->key));
	ns[slash - p->e->key] = '\0';
	if (cJSON_AddStringToObject(o, "kind", dash_kind_name(p->kind)) == NULL ||
	    cJSON_AddStringToObject(o, "namespace", ns) == NULL ||
	    cJSON_AddStringToObject(o, "name", slash + 1) == NULL ||
	    !cJSON_AddItemToObject(o, "samples", s))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	cJSON_Delete(s);
	return NULL;
}

char *dash_cache_workers(struct dash_cache *c, enum dash_kind k, size_t max, size_t *len)
{
	int64_t since = clock_real_ns() / 1000000 - c->history_ms;
	struct collect col[DASH_VW];
	struct pick *picks = NULL;
	size_t n = 0, total = 0;
	cJSON *out = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(out, "items");
	char *text = NULL;
	int locked = 0, failed = 0;

	memset(col, 0, sizeof(col));
	/* Both kinds locked at once, always in the same order. */
	for (int i = 0; i < DASH_VW; i++) {
		pthread_rwlock_rdlock(&c->k[i].mu);
		locked = i + 1;
		if ((k == DASH_KINDS || k == (enum dash_kind)i) &&
		    collect(&c->k[i], NULL, &col[i]) < 0)
			failed = 1;
		total += col[i].n;
	}
	if (!failed && total > 0) {
		picks = malloc(total * sizeof(*picks));
		failed = picks == NULL;
	}
	for (int i = 0; !failed && i < DASH_VW; i++)
		for (size_t j = 0; j < col[i].n; j++)
			picks[n++] = (struct pick){col[i].e[j], (enum dash_kind)i};
	if (!failed && n > 0)
		qsort(picks, n, sizeof(*picks), by_lag);
	for (size_t i = 0; !failed && i < n && i < max; i++) {
		cJSON *item = worker_item(&picks[i], since);
		if (item == NULL || items == NULL || !cJSON_AddItemToArray(items, item)) {
			cJSON_Delete(item);
			failed = 1;
		}
	}
	for (int i = locked - 1; i >= 0; i--)
		pthread_rwlock_unlock(&c->k[i].mu);
	if (!failed && cJSON_AddNumberToObject(out, "total", (double)total) != NULL)
		text = cJSON_PrintUnformatted(out);
	if (text != NULL)
		*len = strlen(text);
	cJSON_Delete(out);
	free(picks);
	for (int i = 0; i < DASH_VW; i++)
		free(col[i].e);
	return text;
}

static int sample_one(const char *key, void *value, void *opaque)
{
	struct entry *e = value;
	const int64_t *now = opaque;

	(void)key;
	e->last.t_ms = *now;
	(void)dash_ring_push(&e->ring, &e->last); /* out of memory: a gap */
	return 0;
}

void dash_cache_sample_now(struct dash_cache *c, int64_t now_ms)
{
	for (int i = 0; i < DASH_KINDS; i++) {
		struct kind_state *ks = &c->k[i];
		const char *labels[] = {dash_kind_plural(ks->kind), NULL};
		size_t n;

		pthread_rwlock_wrlock(&ks->mu);
		if (i != DASH_VW)
			strmap_foreach(ks->index, sample_one, &now_ms);
		n = strmap_len(ks->index);
		pthread_rwlock_unlock(&ks->mu);
		if (c->objects != NULL)
			(void)metrics_set(c->objects, labels, (double)n);
	}
}

int dash_cache_apply(struct dash_cache *c, enum dash_kind k, enum kube_watch_type type, cJSON *obj)
{
	struct kind_state *ks = &c->k[k];

	if (ks->refl != NULL) {
		cJSON_Delete(obj);
		return -1; /* the reflector is the store's one writer */
	}
	return reflector_store_apply(ks->store, type, obj, on_change, ks) == 0 ? 0 : -1;
}

size_t dash_cache_len(struct dash_cache *c, enum dash_kind k)
{
	struct kind_state *ks = &c->k[k];
	size_t n;

	pthread_rwlock_rdlock(&ks->mu);
	n = strmap_len(ks->index);
	pthread_rwlock_unlock(&ks->mu);
	return n;
}
