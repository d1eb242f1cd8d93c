/* tw_core.c -- partitions of dedupe + windows; see tw_core.h. */
#include "tw_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_hash.h"

struct part {
	int32_t id;
	struct tw_window *win;
	struct tw_dedupe *dd; /* NULL when dedupe is off */
	uint64_t events_in;
	uint64_t duplicates;
	uint64_t skipped;
};

struct tw_core {
	struct tw_core_config cfg;
	tw_emit_fn emit;
	void *opaque;
	struct part *parts; /* sorted by id */
	size_t nparts, cap;
	size_t last; /* index of the last partition used: the usual next one */
};

int tw_core_config_from_spec(const struct tw_spec *spec, struct tw_core_config *cfg, char *errbuf,
                             size_t errbuf_size)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->window.size_ns = spec->window.size_ns;
	cfg->window.slide_ns = spec->window.slide_ns;
	cfg->window.delay_ns = spec->window.watermark_delay_ns;
	cfg->window.lateness_ns = spec->window.allowed_lateness_ns;
	cfg->window.idle_timeout_ms = spec->window.idle_timeout_ns / 1000000;
	cfg->window.max_states = 0;
	if (tw_agg_config_init(&cfg->window.agg, (uint32_t)spec->fields.nvalues, spec->aggregations,
	                       0, 0, errbuf, errbuf_size) < 0)
		return TW_WINDOW_E_CONFIG;
	cfg->dedupe_enabled = spec->dedupe.enabled;
	cfg->dedupe.horizon_ns = spec->dedupe.horizon_ns;
	cfg->dedupe.max_entries = spec->dedupe.max_entries;
	return tw_window_config_check(&cfg->window, errbuf, errbuf_size);
}

struct tw_core *tw_core_new(const struct tw_core_config *cfg, tw_emit_fn emit, void *opaque,
                            char *errbuf, size_t errbuf_size)
{
	struct tw_core *c;

	if (tw_window_config_check(&cfg->window, errbuf, errbuf_size) < 0)
		return NULL;
	if (cfg->dedupe_enabled && cfg->dedupe.horizon_ns <= 0) {
		snprintf(errbuf, errbuf_size, "core: dedupe horizon is not positive");
		return NULL;
	}
	if (emit == NULL) {
		snprintf(errbuf, errbuf_size, "core: no emit callback");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(errbuf, errbuf_size, "core: out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->emit = emit;
	c->opaque = opaque;
	return c;
}

static void part_free(struct part *p)
{
	tw_window_free(p->win);
	tw_dedupe_free(p->dd);
}

void tw_core_free(struct tw_core *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nparts; i++)
		part_free(&c->parts[i]);
	free(c->parts);
	free(c);
}

/* Index of the first partition with id >= id. */
static size_t lower_bound(const struct tw_core *c, int32_t id)
{
	size_t lo = 0, hi = c->nparts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->parts[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of partition id, or c->nparts when it is not assigned. */
static size_t index_of(const struct tw_core *c, int32_t id)
{
	size_t i;

	if (c->last < c->nparts && c->parts[c->last].id == id)
		return c->last;
	i = lower_bound(c, id);
	return i < c->nparts && c->parts[i].id == id ? i : c->nparts;
}

/* The partition, remembering it as the likely next one. */
static struct part *find(struct tw_core *c, int32_t id)
{
	size_t i = index_of(c, id);

	if (i == c->nparts)
		return NULL;
	c->last = i;
	return &c->parts[i];
}

static const struct part *find_const(const struct tw_core *c, int32_t id)
{
	size_t i = index_of(c, id);

	return i == c->nparts ? NULL : &c->parts[i];
}

int tw_core_assign(struct tw_core *c, int32_t partition, const struct tw_checkpoint *cp,
                   int64_t now_ms)
{
	struct part p = {.id = partition};
	char err[128];
	size_t i;
	int rc;

	if (find_const(c, partition) != NULL)
		return TW_CORE_E_PARTITION;
	if (c->nparts >= TW_CORE_PARTITIONS_MAX)
		return TW_CORE_E_LIMIT;
	if (c->nparts == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct part *parts = realloc(c->parts, cap * sizeof(*parts));

		if (parts == NULL)
			return TW_WINDOW_E_NOMEM;
		c->parts = parts;
		c->cap = cap;
	}
	/* The config was checked in tw_core_new: failures here are memory. */
	p.win = tw_window_new(&c->cfg.window, partition, c->emit, c->opaque, err, sizeof(err));
	if (p.win == NULL)
		return TW_WINDOW_E_NOMEM;
	if (c->cfg.dedupe_enabled) {
		p.dd = tw_dedupe_new(&c->cfg.dedupe, err, sizeof(err));
		if (p.dd == NULL) {
			part_free(&p);
			return TW_WINDOW_E_NOMEM;
		}
	}
	if (cp != NULL) {
		rc = tw_window_restore(p.win, cp, now_ms);
		if (rc < 0) {
			part_free(&p);
			return rc;
		}
		if (p.dd != NULL)
			tw_dedupe_restore(p.dd, cp->max_ts_ns);
	}
	i = lower_bound(c, partition);
	memmove(&c->parts[i + 1], &c->parts[i], (c->nparts - i) * sizeof(*c->parts));
	c->parts[i] = p;
	c->nparts++;
	c->last = i;
	return 0;
}

int tw_core_revoke(struct tw_core *c, int32_t partition)
{
	struct part *p = find(c, partition);
	size_t i;

	if (p == NULL)
		return TW_CORE_E_PARTITION;
	i = (size_t)(p - c->parts);
	part_free(p);
	memmove(&c->parts[i], &c->parts[i + 1], (c->nparts - i - 1) * sizeof(*c->parts));
	c->nparts--;
	c->last = 0;
	return 0;
}

int tw_core_has(const struct tw_core *c, int32_t partition)
{
	return find_const(c, partition) != NULL;
}

int tw_core_process(struct tw_core *c, int32_t partition, int64_t offset, const struct tw_event *ev,
                    int64_t now_ms)
{
	struct part *p = find(c, partition);
	uint64_t h;
	int64_t next;
	int rc;

	if (p == NULL)
		return TW_CORE_E_PARTITION;
	/* Refuse what tw_window_add would refuse before dedupe remembers it. */
	if (!tw_window_ts_ok(p->win, ev->ts_ns))
		return TW_WINDOW_E_RANGE;
	next = tw_window_next_offset(p->win);
	if (offset < 0 || (next != TW_OFFSET_NONE && offset < next))
		return TW_WINDOW_E_OFFSET;

	h = tw_hash_bytes(ev->key, ev->key_len);
	if (p->dd != NULL && tw_dedupe_check(p->dd, h, ev->ts_ns) == TW_DEDUPE_DUPLICATE) {
		p->events_in++;
		p->duplicates++;
		tw_window_skip(p->win, offset);
		/* Processing time still passes for this partition. */
		tw_window_tick(p->win, now_ms);
		return TW_DUPLICATE;
	}
	rc = tw_window_add(p->win, ev, h, offset, now_ms);
	if (rc >= 0)
		p->events_in++;
	return rc;
}

int tw_core_skip(struct tw_core *c, int32_t partition, int64_t offset)
{
	struct part *p = find(c, partition);

	if (p == NULL)
		return TW_CORE_E_PARTITION;
	p->skipped++;
	tw_window_skip(p->win, offset);
	return 0;
}

void tw_core_tick(struct tw_core *c, int64_t now_ms)
{
	for (size_t i = 0; i < c->nparts; i++)
		tw_window_tick(c->parts[i].win, now_ms);
}

int tw_core_checkpoint(const struct tw_core *c, int32_t partition, struct tw_checkpoint *cp)
{
	const struct part *p = find_const(c, partition);

	if (p == NULL)
		return TW_CORE_E_PARTITION;
	tw_window_checkpoint(p->win, cp);
	return 0;
}

int tw_core_stats(const struct tw_core *c, int32_t partition, struct tw_core_stats *st)
{
	const struct part *p = find_const(c, partition);

	if (p == NULL)
		return TW_CORE_E_PARTITION;
	memset(st, 0, sizeof(*st));
	tw_window_stats(p->win, &st->window);
	st->events_in = p->events_in;
	st->duplicates = p->duplicates;
	st->skipped = p->skipped;
	if (p->dd != NULL) {
		struct tw_dedupe_stats ds;

		tw_dedupe_stats(p->dd, &ds);
		st->dedupe_entries = ds.entries;
		st->dedupe_evicted_early = ds.evicted_early;
	}
	return 0;
}

size_t tw_core_partitions(const struct tw_core *c, int32_t *out, size_t n)
{
	for (size_t i = 0; i < c->nparts && i < n; i++)
		out[i] = c->parts[i].id;
	return c->nparts;
}
