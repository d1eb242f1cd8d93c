/* watch_settle.c -- the settle tracker. See watch_settle.h. */
#include "watch_settle.h"

#include <stdlib.h>

#include "strmap.h"

struct entry {
	int64_t size, mtime_ns;
	int64_t since_ms; /* stable since: the first scan with this size and mtime */
	uint64_t gen;     /* the scan that last observed it */
	int ready;
};

struct watch_settle {
	struct strmap *map;
	int64_t settle_ms;
	uint64_t gen;
};

int watch_settle_new(struct watch_settle **out, int64_t settle_ms, size_t max_entries)
{
	struct watch_settle *t;

	*out = NULL;
	if (max_entries == 0 || settle_ms < 0)
		return WATCH_SETTLE_ENOMEM;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return WATCH_SETTLE_ENOMEM;
	if (strmap_new(&t->map, max_entries) != STRMAP_OK) {
		free(t);
		return WATCH_SETTLE_ENOMEM;
	}
	t->settle_ms = settle_ms;
	*out = t;
	return 0;
}

static int free_entry(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	free(value);
	return 0;
}

void watch_settle_free(struct watch_settle *t)
{
	if (t == NULL)
		return;
	strmap_foreach(t->map, free_entry, NULL);
	strmap_free(t->map);
	free(t);
}

void watch_settle_begin(struct watch_settle *t)
{
	t->gen++;
}

int watch_settle_observe(struct watch_settle *t, const char *name, int64_t size, int64_t mtime_ns,
                         int64_t now_ms, int *is_new)
{
	struct entry *e = strmap_get(t->map, name);
	int rc;

	*is_new = 0;
	if (e == NULL) {
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return WATCH_SETTLE_ENOMEM;
		rc = strmap_put(t->map, name, e, NULL, NULL);
		if (rc != STRMAP_OK) {
			free(e);
			return rc == STRMAP_EFULL ? WATCH_SETTLE_EFULL : WATCH_SETTLE_ENOMEM;
		}
		e->size = size;
		e->mtime_ns = mtime_ns;
		e->since_ms = now_ms;
		*is_new = 1;
	} else if (e->size != size || e->mtime_ns != mtime_ns) {
		e->size = size;
		e->mtime_ns = mtime_ns;
		e->since_ms = now_ms;
	}
	e->gen = t->gen;
	/* A clock that went backwards (a test's, never CLOCK_MONOTONIC) only
	 * lengthens the wait. */
	e->ready = now_ms >= e->since_ms && now_ms - e->since_ms >= t->settle_ms;
	return e->ready ? WATCH_SETTLE_READY : WATCH_SETTLE_WAIT;
}

void watch_settle_forget(struct watch_settle *t, const char *name)
{
	free(strmap_remove(t->map, name));
}

struct sweep {
	uint64_t gen;
	const char **stale; /* the map's own key copies, removed after the walk */
	size_t n;
};

static int collect_stale(const char *key, void *value, void *opaque)
{
	struct sweep *s = opaque;
	const struct entry *e = value;

	if (e->gen != s->gen)
		s->stale[s->n++] = key;
	return 0;
}

size_t watch_settle_end(struct watch_settle *t)
{
	struct sweep s = {.gen = t->gen};
	size_t len = strmap_len(t->map), i;

	if (len == 0)
		return 0;
	s.stale = malloc(len * sizeof(*s.stale));
	if (s.stale == NULL)
		return 0; /* kept for the next scan to drop */
	strmap_foreach(t->map, collect_stale, &s);
	/* Each key is the map's own copy: it goes with its entry. */
	for (i = 0; i < s.n; i++)
		free(strmap_remove(t->map, s.stale[i]));
	free(s.stale);
	return s.n;
}

struct due {
	int64_t settle_ms;
	int64_t min;
};

static int earliest(const char *key, void *value, void *opaque)
{
	const struct entry *e = value;
	struct due *d = opaque;
	int64_t at = e->since_ms + d->settle_ms;

	(void)key;
	if (!e->ready && (d->min < 0 || at < d->min))
		d->min = at;
	return 0;
}

int64_t watch_settle_next_due(const struct watch_settle *t)
{
	struct due d = {.settle_ms = t->settle_ms, .min = -1};

	strmap_foreach(t->map, earliest, &d);
	return d.min;
}

int watch_settle_tracked(const struct watch_settle *t, const char *name)
{
	return strmap_get(t->map, name) != NULL;
}

size_t watch_settle_len(const struct watch_settle *t)
{
	return strmap_len(t->map);
}
