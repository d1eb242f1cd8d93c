/* tw_window.c -- one partition's windows; the contract is in tw_window.h.
 *
 * State: panes (one slide of event time each) sorted by start, each a hash
 * map from key to aggregate, plus the clock (max_ts, wm), the emission
 * cursor and the offset bookkeeping. A window [s, s + size) is the merge of
 * the panes s, s + slide, ..., s + size - slide.
 *
 * The cursor ("closed_before") is the start of the first window not yet
 * closed: windows are closed strictly in start order, because they all
 * have the same size and the watermark only moves forward. A pane is freed
 * as soon as the cursor passes it (its newest window, the one starting at
 * the pane itself, has been emitted).
 */
#include "tw_window.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_time.h"

#define PANE_MIN_SLOTS 16u

/* One key's aggregate in one pane. */
struct entry {
	uint64_t hash;
	struct tw_agg *agg;
	uint32_t key_len;
	char key[];
};

struct slot {
	uint64_t hash;
	struct entry *e; /* NULL: empty */
};

struct pane {
	int64_t start;
	int64_t min_offset;   /* offset of the first event added */
	int64_t clock_max_ts; /* the clock just before that event */
	int64_t clock_wm;
	uint32_t n;    /* entries */
	uint32_t mask; /* slots - 1; at most half full */
	struct slot *slots;
};

/* An entry to emit, with its pane for the merge order. */
struct ref {
	const struct entry *e;
	int64_t pane_start;
};

struct tw_window {
	struct tw_window_config cfg;
	int32_t partition;
	tw_emit_fn emit;
	void *opaque;

	int64_t max_ts;
	int64_t wm;
	int64_t cursor; /* every window starting before this is closed */
	int64_t next_offset;
	int64_t last_arrival_ms;
	int64_t ts_max; /* tw_window_ts_max(&cfg) */
	int used;       /* an event or a restore happened: restore is refused */

	struct pane **panes; /* sorted by start */
	uint32_t npanes, panes_cap;
	struct pane *last; /* the pane of the previous event: the usual next one */
	uint64_t nstates;

	/* Emission scratch, reused across windows. */
	struct ref *refs;
	size_t refs_cap;
	struct tw_agg *merged;
	struct tw_value_result values[TW_VALUES_MAX];

	struct tw_window_stats st;
};

const char *tw_verdict_name(int verdict)
{
	switch (verdict) {
	case TW_ADDED:
		return "added";
	case TW_PARTIAL_LATE:
		return "partial_late";
	case TW_LATE:
		return "late";
	case TW_REPLAYED:
		return "replayed";
	case TW_DUPLICATE:
		return "duplicate";
	case TW_OVERFLOW:
		return "overflow";
	default:
		return "error";
	}
}

/* The start of the newest window holding ts: floor, not C's truncation,
 * so times before 1970 fall in the window that contains them. */
static int64_t align(int64_t ts, int64_t slide)
{
	return tw_time_floor_div(ts, slide) * slide;
}

static int out_of_range(const char *name, char *errbuf, size_t errbuf_size)
{
	snprintf(errbuf, errbuf_size, "window: %s out of range", name);
	return TW_WINDOW_E_CONFIG;
}

int tw_window_config_check(const struct tw_window_config *cfg, char *errbuf, size_t errbuf_size)
{
	if (cfg->size_ns <= 0 || cfg->size_ns > TW_DURATION_LIMIT)
		return out_of_range("size_ns", errbuf, errbuf_size);
	if (cfg->slide_ns <= 0 || cfg->slide_ns > cfg->size_ns)
		return out_of_range("slide_ns", errbuf, errbuf_size);
	if (cfg->delay_ns < 0 || cfg->delay_ns > TW_DURATION_LIMIT)
		return out_of_range("delay_ns", errbuf, errbuf_size);
	if (cfg->lateness_ns < 0 || cfg->lateness_ns > TW_DURATION_LIMIT)
		return out_of_range("lateness_ns", errbuf, errbuf_size);
	if (cfg->idle_timeout_ms < 0 || cfg->idle_timeout_ms > TW_DURATION_LIMIT / 1000000)
		return out_of_range("idle_timeout_ms", errbuf, errbuf_size);
	if (cfg->size_ns % cfg->slide_ns != 0) {
		snprintf(errbuf, errbuf_size,
		         "window: slide_ns %" PRId64 " does not divide size_ns %" PRId64,
		         cfg->slide_ns, cfg->size_ns);
		return TW_WINDOW_E_CONFIG;
	}
	if (cfg->size_ns / cfg->slide_ns > TW_WINDOW_PANES_MAX) {
		snprintf(errbuf, errbuf_size,
		         "window: size_ns / slide_ns is %" PRId64 ", the most is %d",
		         cfg->size_ns / cfg->slide_ns, TW_WINDOW_PANES_MAX);
		return TW_WINDOW_E_CONFIG;
	}
	if (cfg->agg.nvalues > TW_VALUES_MAX) {
		snprintf(errbuf, errbuf_size, "window: %u value fields, the most is %d",
		         cfg->agg.nvalues, TW_VALUES_MAX);
		return TW_WINDOW_E_CONFIG;
	}
	return 0;
}

int64_t tw_window_ts_max(const struct tw_window_config *cfg)
{
	/* Each term is at most TW_DURATION_LIMIT (2^55): no overflow. */
	return INT64_MAX - cfg->size_ns - cfg->delay_ns - cfg->lateness_ns;
}

int tw_window_ts_ok(const struct tw_window *w, int64_t ts)
{
	return ts >= -TW_TS_LIMIT && ts <= w->ts_max;
}

struct tw_window *tw_window_new(const struct tw_window_config *cfg, int32_t partition,
                                tw_emit_fn emit, void *opaque, char *errbuf, size_t errbuf_size)
{
	struct tw_window *w;

	if (tw_window_config_check(cfg, errbuf, errbuf_size) < 0)
		return NULL;
	if (emit == NULL) {
		snprintf(errbuf, errbuf_size, "window: no emit callback");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		goto nomem;
	w->cfg = *cfg;
	w->ts_max = tw_window_ts_max(cfg);
	if (w->cfg.max_states == 0)
		w->cfg.max_states = TW_WINDOW_MAX_STATES_DEFAULT;
	w->partition = partition;
	w->emit = emit;
	w->opaque = opaque;
	w->max_ts = TW_TS_NONE;
	w->wm = TW_TS_NONE;
	w->cursor = TW_TS_NONE;
	w->next_offset = TW_OFFSET_NONE;
	w->merged = tw_agg_new(&w->cfg.agg);
	if (w->merged == NULL)
		goto nomem;
	return w;
nomem:
	tw_window_free(w);
	snprintf(errbuf, errbuf_size, "window: out of memory");
	return NULL;
}

static void pane_free(struct pane *p)
{
	for (uint32_t i = 0; i <= p->mask; i++) {
		if (p->slots[i].e != NULL) {
			tw_agg_free(p->slots[i].e->agg);
			free(p->slots[i].e);
		}
	}
	free(p->slots);
	free(p);
}

void tw_window_free(struct tw_window *w)
{
	if (w == NULL)
		return;
	for (uint32_t i = 0; i < w->npanes; i++)
		pane_free(w->panes[i]);
	free(w->panes);
	free(w->refs);
	tw_agg_free(w->merged);
	free(w);
}

/* ---- panes ---------------------------------------------------------- */

/* Index of the first pane with start >= start. */
static uint32_t pane_lower_bound(const struct tw_window *w, int64_t start)
{
	uint32_t lo = 0, hi = w->npanes;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (w->panes[mid]->start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct pane *pane_find(struct tw_window *w, int64_t start)
{
	uint32_t i;

	if (w->last != NULL && w->last->start == start)
		return w->last;
	i = pane_lower_bound(w, start);
	if (i < w->npanes && w->panes[i]->start == start)
		return w->last = w->panes[i];
	return NULL;
}

static struct pane *pane_create(struct tw_window *w, int64_t start, int64_t offset,
                                int64_t clock_max_ts, int64_t clock_wm)
{
	uint32_t i = pane_lower_bound(w, start);
	struct pane *p;

	if (w->npanes == w->panes_cap) {
		uint32_t cap = w->panes_cap ? w->panes_cap * 2 : 8;
		struct pane **panes = realloc(w->panes, cap * sizeof(*panes));

		if (panes == NULL)
			return NULL;
		w->panes = panes;
		w->panes_cap = cap;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->slots = calloc(PANE_MIN_SLOTS, sizeof(*p->slots));
	if (p->slots == NULL) {
		free(p);
		return NULL;
	}
	p->mask = PANE_MIN_SLOTS - 1;
	p->start = start;
	p->min_offset = offset;
	p->clock_max_ts = clock_max_ts;
	p->clock_wm = clock_wm;
	memmove(&w->panes[i + 1], &w->panes[i], (w->npanes - i) * sizeof(*w->panes));
	w->panes[i] = p;
	w->npanes++;
	return w->last = p;
}

/* Frees the panes the cursor has passed. */
static void panes_drop_closed(struct tw_window *w)
{
	uint32_t k = 0;

	while (k < w->npanes && w->panes[k]->start < w->cursor) {
		w->nstates -= w->panes[k]->n;
		if (w->panes[k] == w->last)
			w->last = NULL;
		pane_free(w->panes[k]);
		k++;
	}
	if (k > 0) {
		memmove(&w->panes[0], &w->panes[k], (w->npanes - k) * sizeof(*w->panes));
		w->npanes -= k;
	}
}

static struct entry *entry_find(const struct pane *p, const char *key, size_t len, uint64_t hash)
{
	for (uint32_t i = (uint32_t)hash & p->mask; p->slots[i].e != NULL; i = (i + 1) & p->mask) {
		const struct entry *e = p->slots[i].e;

		if (p->slots[i].hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
			return p->slots[i].e;
	}
	return NULL;
}

static void slot_put(struct slot *slots, uint32_t mask, uint64_t hash, struct entry *e)
{
	uint32_t i = (uint32_t)hash & mask;

	while (slots[i].e != NULL)
		i = (i + 1) & mask;
	slots[i].hash = hash;
	slots[i].e = e;
}

static struct entry *entry_create(struct tw_window *w, struct pane *p, const char *key, size_t len,
                                  uint64_t hash)
{
	struct entry *e;

	if ((p->n + 1) * 2 > p->mask + 1) {
		uint32_t mask = p->mask * 2 + 1;
		struct slot *slots = calloc((size_t)mask + 1, sizeof(*slots));

		if (slots == NULL)
			return NULL;
		for (uint32_t i = 0; i <= p->mask; i++)
			if (p->slots[i].e != NULL)
				slot_put(slots, mask, p->slots[i].hash, p->slots[i].e);
		free(p->slots);
		p->slots = slots;
		p->mask = mask;
	}
	e = malloc(sizeof(*e) + len);
	if (e == NULL)
		return NULL;
	e->agg = tw_agg_new(&w->cfg.agg);
	if (e->agg == NULL) {
		free(e);
		return NULL;
	}
	e->hash = hash;
	e->key_len = (uint32_t)len;
	memcpy(e->key, key, len);
	slot_put(p->slots, p->mask, hash, e);
	p->n++;
	w->nstates++;
	return e;
}

/* ---- emission ------------------------------------------------------- */

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	size_t n = x->e->key_len < y->e->key_len ? x->e->key_len : y->e->key_len;
	int c = memcmp(x->e->key, y->e->key, n);

	if (c != 0)
		return c;
	if (x->e->key_len != y->e->key_len)
		return x->e->key_len < y->e->key_len ? -1 : 1;
	return (x->pane_start > y->pane_start) - (x->pane_start < y->pane_start);
}

/* Emits window [s, s + size) for every key in its panes, keys in order. */
static int emit_window(struct tw_window *w, int64_t s)
{
	int64_t end = s + w->cfg.size_ns;
	size_t n = 0;
	uint32_t first = pane_lower_bound(w, s);

	for (uint32_t i = first; i < w->npanes && w->panes[i]->start < end; i++)
		n += w->panes[i]->n;
	if (n == 0)
		return 0;
	if (n > w->refs_cap) {
		size_t cap = w->refs_cap ? w->refs_cap : 64;
		struct ref *refs;

		while (cap < n)
			cap *= 2;
		refs = realloc(w->refs, cap * sizeof(*refs));
		if (refs == NULL)
			return TW_WINDOW_E_NOMEM;
		w->refs = refs;
		w->refs_cap = cap;
	}
	n = 0;
	for (uint32_t i = first; i < w->npanes && w->panes[i]->start < end; i++) {
		const struct pane *p = w->panes[i];

		for (uint32_t j = 0; j <= p->mask; j++) {
			if (p->slots[j].e != NULL) {
				w->refs[n].e = p->slots[j].e;
				w->refs[n].pane_start = p->start;
				n++;
			}
		}
	}
	qsort(w->refs, n, sizeof(*w->refs), ref_cmp);

	for (size_t i = 0; i < n;) {
		const struct entry *e = w->refs[i].e;
		const struct tw_agg *agg = e->agg;
		size_t j = i + 1;
		struct tw_result r;

		while (j < n && w->refs[j].e->key_len == e->key_len &&
		       memcmp(w->refs[j].e->key, e->key, e->key_len) == 0)
			j++;
		if (j - i > 1) {
			tw_agg_reset(w->merged);
			for (size_t k = i; k < j; k++)
				if (tw_agg_merge(w->merged, w->refs[k].e->agg, &w->cfg.agg) < 0)
					return TW_WINDOW_E_NOMEM;
			agg = w->merged;
		}
		tw_agg_result(agg, &w->cfg.agg, w->values);
		r.partition = w->partition;
		r.key = e->key;
		r.key_len = e->key_len;
		r.start_ns = s;
		r.end_ns = end;
		r.count = agg->count;
		r.nvalues = w->cfg.agg.nvalues;
		r.values = w->values;
		w->emit(w->opaque, &r);
		w->st.windows_emitted++;
		i = j;
	}
	return 0;
}

/* Emits, in order, every window the watermark has closed. */
static int close_windows(struct tw_window *w)
{
	const int64_t size = w->cfg.size_ns, slide = w->cfg.slide_ns;
	int64_t limit, first_open;

	if (w->wm == TW_TS_NONE)
		return 0;
	/* Window s is closed iff wm >= s + size + lateness. The bounds on
	 * times and durations keep this from overflowing. */
	limit = w->wm - size - w->cfg.lateness_ns;
	while (w->npanes > 0) {
		int64_t s = w->panes[0]->start - size + slide;
		int rc;

		if (s < w->cursor)
			s = w->cursor;
		if (s > limit)
			break;
		rc = emit_window(w, s);
		if (rc < 0)
			return rc;
		w->cursor = s + slide;
		panes_drop_closed(w);
	}
	first_open = align(limit, slide) + slide;
	if (first_open > w->cursor)
		w->cursor = first_open;
	return 0;
}

static int raise_watermark(struct tw_window *w, int64_t wm)
{
	if (wm <= w->wm)
		return 0;
	w->wm = wm;
	return close_windows(w);
}

static int idle_advance(struct tw_window *w, int64_t now_ms)
{
	int64_t gap_ms, gap_ns;

	if (w->cfg.idle_timeout_ms <= 0 || w->max_ts == TW_TS_NONE)
		return 0;
	gap_ms = now_ms - w->last_arrival_ms;
	if (gap_ms < w->cfg.idle_timeout_ms)
		return 0;
	/* Past the duration bound the answer no longer changes anything but
	 * could overflow: every window is closed long before. */
	gap_ns = gap_ms > TW_DURATION_LIMIT / 1000000 ? TW_DURATION_LIMIT : gap_ms * 1000000;
	/* Near the int64 limit max_ts + gap saturates: the watermark still
	 * reaches INT64_MAX - delay, past the last window's end + lateness
	 * (tw_window_ts_max), so the last windows of 2262 close too. */
	if (w->max_ts > INT64_MAX - gap_ns)
		return raise_watermark(w, INT64_MAX - w->cfg.delay_ns);
	return raise_watermark(w, w->max_ts + gap_ns - w->cfg.delay_ns);
}

/* ---- the calls ------------------------------------------------------ */

int tw_window_add(struct tw_window *w, const struct tw_event *ev, uint64_t key_hash, int64_t offset,
                  int64_t now_ms)
{
	const int64_t ts = ev->ts_ns, size = w->cfg.size_ns, slide = w->cfg.slide_ns;
	int64_t clock_max_ts, clock_wm, p;
	int verdict = TW_ADDED, rc;
	struct pane *pane;
	struct entry *e = NULL;

	if (!tw_window_ts_ok(w, ts))
		return TW_WINDOW_E_RANGE;
	if (offset < 0 || (w->next_offset != TW_OFFSET_NONE && offset < w->next_offset))
		return TW_WINDOW_E_OFFSET;

	rc = idle_advance(w, now_ms);
	if (rc < 0)
		return rc;
	w->used = 1;
	w->st.events_in++;
	w->next_offset = offset + 1;
	w->last_arrival_ms = now_ms;

	/* The clock as it stood before this event: a pane this event opens
	 * records it for the checkpoint (see tw_window_checkpoint). */
	clock_max_ts = w->max_ts;
	clock_wm = w->wm;
	if (ts > w->max_ts)
		w->max_ts = ts;
	/* Close what the raised watermark closes before adding: an event
	 * never closes a window that contains it (that would need
	 * ts - delay >= end > ts), so this changes no result, and it frees
	 * state before this event asks for some. */
	if (w->max_ts - w->cfg.delay_ns > w->wm) {
		rc = raise_watermark(w, w->max_ts - w->cfg.delay_ns);
		if (rc < 0)
			return rc;
	}

	p = align(ts, slide);
	if (w->wm != TW_TS_NONE) {
		int64_t limit = w->wm - size - w->cfg.lateness_ns;

		if (p <= limit)
			verdict = TW_LATE;
		else if (p - size + slide <= limit)
			verdict = TW_PARTIAL_LATE;
	}
	if (verdict != TW_LATE && p < w->cursor)
		verdict = TW_REPLAYED; /* only after a restore, see the header */

	if (verdict == TW_ADDED || verdict == TW_PARTIAL_LATE) {
		pane = pane_find(w, p);
		if (pane != NULL)
			e = entry_find(pane, ev->key, ev->key_len, key_hash);
		if (e == NULL && w->nstates >= w->cfg.max_states) {
			verdict = TW_OVERFLOW;
		} else {
			if (pane == NULL)
				pane = pane_create(w, p, offset, clock_max_ts, clock_wm);
			if (pane != NULL && e == NULL)
				e = entry_create(w, pane, ev->key, ev->key_len, key_hash);
			if (e == NULL)
				return TW_WINDOW_E_NOMEM;
			if (tw_agg_add(e->agg, &w->cfg.agg, ev) < 0)
				return TW_WINDOW_E_NOMEM;
		}
	}
	switch (verdict) {
	case TW_ADDED:
		w->st.added++;
		break;
	case TW_PARTIAL_LATE:
		w->st.partial_late++;
		break;
	case TW_LATE:
		w->st.late++;
		break;
	case TW_REPLAYED:
		w->st.replayed++;
		break;
	default:
		w->st.overflow++;
		break;
	}
	return verdict;
}

void tw_window_skip(struct tw_window *w, int64_t offset)
{
	if (offset >= 0 && (w->next_offset == TW_OFFSET_NONE || offset >= w->next_offset)) {
		w->next_offset = offset + 1;
		w->used = 1;
	}
}

void tw_window_tick(struct tw_window *w, int64_t now_ms)
{
	/* Out of memory while emitting leaves the windows for the next tick:
	 * nothing is lost, only delayed. */
	(void)idle_advance(w, now_ms);
}

void tw_window_checkpoint(const struct tw_window *w, struct tw_checkpoint *cp)
{
	const struct pane *low = NULL;

	for (uint32_t i = 0; i < w->npanes; i++)
		if (low == NULL || w->panes[i]->min_offset < low->min_offset)
			low = w->panes[i];
	if (low != NULL) {
		cp->offset = low->min_offset;
		cp->max_ts_ns = low->clock_max_ts;
		cp->watermark_ns = low->clock_wm;
	} else {
		cp->offset = w->next_offset;
		cp->max_ts_ns = w->max_ts;
		cp->watermark_ns = w->wm;
	}
	cp->closed_before_ns = w->cursor;
}

int tw_window_restore(struct tw_window *w, const struct tw_checkpoint *cp, int64_t now_ms)
{
	/* Downwards the watermark and the cursor trail the earliest event time
	 * by at most size, delay and lateness. Upwards the watermark stops at
	 * INT64_MAX - delay (the idle advance's limit) and the cursor one
	 * slide past the last window start an event can have. */
	const int64_t bound = TW_TS_LIMIT + 3 * TW_DURATION_LIMIT;
	const int64_t wm_max = INT64_MAX - w->cfg.delay_ns;
	const int64_t cursor_max = w->ts_max + w->cfg.slide_ns;

	if (w->used || w->npanes > 0)
		return TW_WINDOW_E_STATE;
	if ((cp->offset < 0 && cp->offset != TW_OFFSET_NONE) ||
	    (cp->max_ts_ns != TW_TS_NONE && !tw_window_ts_ok(w, cp->max_ts_ns)) ||
	    (cp->watermark_ns != TW_TS_NONE &&
	     (cp->watermark_ns > wm_max || cp->watermark_ns < -bound)) ||
	    (cp->closed_before_ns != TW_TS_NONE &&
	     (cp->closed_before_ns > cursor_max || cp->closed_before_ns < -bound)) ||
	    (cp->max_ts_ns == TW_TS_NONE) != (cp->watermark_ns == TW_TS_NONE))
		return TW_WINDOW_E_CONFIG;
	w->max_ts = cp->max_ts_ns;
	w->wm = cp->watermark_ns;
	w->cursor = cp->closed_before_ns;
	w->next_offset = cp->offset;
	w->last_arrival_ms = now_ms;
	w->used = 1;
	return 0;
}

int64_t tw_window_max_ts(const struct tw_window *w)
{
	return w->max_ts;
}

int64_t tw_window_watermark(const struct tw_window *w)
{
	return w->wm;
}

int64_t tw_window_next_offset(const struct tw_window *w)
{
	return w->next_offset;
}

void tw_window_stats(const struct tw_window *w, struct tw_window_stats *st)
{
	const int64_t size = w->cfg.size_ns, slide = w->cfg.slide_ns;
	int64_t lo = 0, hi = 0;
	uint64_t open = 0;
	int have = 0;

	/* Open windows: the union, over panes, of the starts of the windows
	 * that contain each pane and are not closed yet. */
	for (uint32_t i = 0; i < w->npanes; i++) {
		int64_t a = w->panes[i]->start - size + slide, b = w->panes[i]->start;

		if (a < w->cursor)
			a = w->cursor;
		if (have && a <= hi + slide) {
			if (b > hi)
				hi = b;
			continue;
		}
		if (have)
			open += (uint64_t)((hi - lo) / slide + 1);
		lo = a;
		hi = b;
		have = 1;
	}
	if (have)
		open += (uint64_t)((hi - lo) / slide + 1);

	*st = w->st;
	st->open_windows = open;
	st->open_states = w->nstates;
	st->panes = w->npanes;
	st->max_ts_ns = w->max_ts;
	st->watermark_ns = w->wm;
}

/* ---- checkpoint text ------------------------------------------------ */

static int put_ts(char *buf, size_t size, int64_t v)
{
	if (v == TW_TS_NONE)
		return snprintf(buf, size, "-");
	return snprintf(buf, size, "%" PRId64, v);
}

int tw_checkpoint_format(const struct tw_checkpoint *cp, char *buf, size_t size)
{
	char a[24], b[24], c[24];
	int n;

	put_ts(a, sizeof(a), cp->max_ts_ns);
	put_ts(b, sizeof(b), cp->watermark_ns);
	put_ts(c, sizeof(c), cp->closed_before_ns);
	n = snprintf(buf, size, "tw1 %s %s %s", a, b, c);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}

/* Reads "-" or a decimal int64 ending at a space or NUL; advances *s. */
static int get_ts(const char **s, int64_t *v)
{
	const char *p = *s;
	char *end;
	long long x;

	if (p[0] == '-' && (p[1] == ' ' || p[1] == '\0')) {
		*v = TW_TS_NONE;
		*s = p + 1;
		return 0;
	}
	if (!(p[0] == '-' || (p[0] >= '0' && p[0] <= '9')))
		return -1;
	errno = 0;
	x = strtoll(p, &end, 10);
	if (errno != 0 || end == p || (*end != ' ' && *end != '\0') || x == LLONG_MIN)
		return -1;
	*v = x;
	*s = end;
	return 0;
}

int tw_checkpoint_parse(const char *text, int64_t offset, struct tw_checkpoint *cp, char *errbuf,
                        size_t errbuf_size)
{
	const char *s = text;
	struct tw_checkpoint c;

	if (s == NULL || strncmp(s, "tw1 ", 4) != 0) {
		snprintf(errbuf, errbuf_size, "checkpoint: metadata does not start with \"tw1 \"");
		return TW_WINDOW_E_CONFIG;
	}
	s += 4;
	if (get_ts(&s, &c.max_ts_ns) < 0 || *s++ != ' ' || get_ts(&s, &c.watermark_ns) < 0 ||
	    *s++ != ' ' || get_ts(&s, &c.closed_before_ns) < 0 || *s != '\0') {
		snprintf(
		    errbuf, errbuf_size,
		    "checkpoint: metadata is not \"tw1 <max_ts> <watermark> <closed_before>\"");
		return TW_WINDOW_E_CONFIG;
	}
	c.offset = offset;
	*cp = c;
	return 0;
}
