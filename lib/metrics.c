/*
 * metrics.c - Prometheus counters, gauges and histograms. See metrics.h.
 *
 * A family keeps its children twice: in an array, in creation order, which
 * is the order they render in, and in a strmap (lib/strmap.h) keyed by their
 * label values, which finds one in O(1) on every update: the operator's
 * autoscaler keeps thousands of children per family (~10 series for each of
 * its resources) and updates them hundreds of times a second.
 *
 * The key encodes the values unambiguously (any byte but NUL may occur in a
 * value, so no separator would do): each value is preceded by its length
 * plus one as a varint (7 bits a byte, least significant first, the high
 * bit set on all but the last byte), so no byte of the prefix is NUL. The
 * map's copy of the key is the only copy of the values: a child holds a
 * pointer to it and decodes it when rendering. One allocation per child
 * (with its histogram buckets) plus the map's node holding the key.
 */
#include "metrics.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "strmap.h"

enum family_type {
	FAMILY_COUNTER,
	FAMILY_GAUGE,
	FAMILY_HISTOGRAM,
};

struct child {
	const char *key;    /* the label values, encoded: the index's copy */
	double value;       /* counter, gauge; a histogram's sum */
	uint64_t buckets[]; /* histogram: nbounds + 1 counts, not cumulative;
	                       the last is the +Inf overflow; their total is the
	                       count */
};

struct metrics_family {
	struct metrics_registry *reg;
	enum family_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	struct child **children; /* creation order */
	size_t nchildren;
	size_t cap;
	struct strmap *index; /* encoded label values -> child */
	struct metrics_family *next;
};

struct metrics_registry {
	pthread_mutex_t lock;
	struct metrics_family *head;
	struct metrics_family *tail;
};

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *reg = calloc(1, sizeof(*reg));

	if (reg == NULL)
		return NULL;
	if (pthread_mutex_init(&reg->lock, NULL) != 0) {
		free(reg);
		return NULL;
	}
	return reg;
}

static void family_free(struct metrics_family *f)
{
	for (size_t i = 0; i < f->nchildren; i++)
		free(f->children[i]);
	free(f->children);
	strmap_free(f->index);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_registry_free(struct metrics_registry *reg)
{
	if (reg == NULL)
		return;
	for (struct metrics_family *f = reg->head, *next; f != NULL; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int metric_name_valid(const char *s)
{
	if (s == NULL || !(is_alpha(s[0]) || s[0] == ':'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!(is_alpha(*s) || is_digit(*s) || *s == ':'))
			return 0;
	return 1;
}

static int label_name_valid(const char *s)
{
	if (s == NULL || !is_alpha(s[0]) || strncmp(s, "__", 2) == 0)
		return 0;
	for (s++; *s != '\0'; s++)
		if (!(is_alpha(*s) || is_digit(*s)))
			return 0;
	return 1;
}

/* ---- the key: label values encoded as one string ------------------------ */

/* Bytes the key for values (n of them) takes, its NUL included. */
static size_t key_size(const char *const values[], size_t n)
{
	size_t size = 1;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(values[i]);
		for (size_t x = len + 1; x > 0x7f; x >>= 7)
			size++;
		size += 1 + len;
	}
	return size;
}

/* Writes the key for values into out, which holds key_size() bytes. */
static void key_write(char *out, const char *const values[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(values[i]);
		size_t x = len + 1;
		for (; x > 0x7f; x >>= 7)
			*out++ = (char)(0x80 | (x & 0x7f));
		*out++ = (char)x;
		memcpy(out, values[i], len);
		out += len;
	}
	*out = '\0';
}

/* The next value of a key: returns its first byte and sets *len, moving *p
 * past it. Only for keys key_write() wrote. */
static const char *key_next(const char **p, size_t *len)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t x = 0;
	unsigned shift = 0;

	for (;; shift += 7) {
		unsigned char byte = *s++;
		x |= (size_t)(byte & 0x7f) << shift;
		if ((byte & 0x80) == 0)
			break;
	}
	*len = x - 1;
	*p = (const char *)s + *len;
	return (const char *)s;
}

/* Counts values (NULL for none); METRICS_ERR unless they are one per label. */
static int values_match(const struct metrics_family *f, const char *const values[])
{
	size_t n = 0;

	while (values != NULL && values[n] != NULL && n <= f->nlabels)
		n++;
	return n == f->nlabels ? 0 : METRICS_ERR;
}

/* The key for values, in buf when it fits, else malloc'd (the caller frees
 * it when it is not buf); NULL when out of memory. */
static char *key_make(const struct metrics_family *f, const char *const values[], char *buf,
                      size_t buf_size)
{
	size_t size = key_size(values, f->nlabels);
	char *key = size <= buf_size ? buf : malloc(size);

	if (key != NULL)
		key_write(key, values, f->nlabels);
	return key;
}

/* Appends a new child for key; NULL when full or out of memory. Caller
 * locks. */
static struct child *child_add(struct metrics_family *f, const char *key)
{
	struct child *c;
	size_t nbuckets = f->type == FAMILY_HISTOGRAM ? f->nbounds + 1 : 0;

	if (f->nchildren >= METRICS_MAX_CHILDREN)
		return NULL;
	if (f->nchildren == f->cap) {
		size_t cap = f->cap > 0 ? f->cap * 2 : 4;
		struct child **children = realloc(f->children, cap * sizeof(*children));
		if (children == NULL)
			return NULL;
		f->children = children;
		f->cap = cap;
	}
	c = calloc(1, sizeof(*c) + nbuckets * sizeof(c->buckets[0]));
	if (c == NULL)
		return NULL;
	if (strmap_put(f->index, key, c, &c->key, NULL) != STRMAP_OK) {
		free(c);
		return NULL;
	}
	f->children[f->nchildren++] = c;
	return c;
}

/* Drops child i: out of the index, out of the array (the others keep their
 * order), freed. Caller locks. */
static void child_remove(struct metrics_family *f, size_t i)
{
	struct child *c = f->children[i];

	strmap_remove(f->index, c->key);
	memmove(&f->children[i], &f->children[i + 1], (f->nchildren - i - 1) * sizeof(c));
	f->nchildren--;
	free(c);
}

static int family_register(struct metrics_registry *reg, enum family_type type, const char *name,
                           const char *help, const char *const labels[], const double *bounds,
                           size_t nbounds, struct metrics_family **out, char *errbuf,
                           size_t errbuf_size)
{
	struct metrics_family *f;
	size_t nlabels = 0;
	int rc = 0;

	*out = NULL;
	if (!metric_name_valid(name))
		return err_set(errbuf, errbuf_size, METRICS_ERR,
		               "metrics: invalid metric name \"%.64s\"",
		               name != NULL ? name : "(null)");
	for (; labels != NULL && labels[nlabels] != NULL; nlabels++) {
		if (nlabels == METRICS_MAX_LABELS)
			return err_set(errbuf, errbuf_size, METRICS_ERR,
			               "metrics: %s: more than %d labels", name,
			               METRICS_MAX_LABELS);
		if (!label_name_valid(labels[nlabels]))
			return err_set(errbuf, errbuf_size, METRICS_ERR,
			               "metrics: %s: invalid label name \"%.64s\"", name,
			               labels[nlabels]);
		if (type == FAMILY_HISTOGRAM && strcmp(labels[nlabels], "le") == 0)
			return err_set(errbuf, errbuf_size, METRICS_ERR,
			               "metrics: %s: a histogram cannot have the label \"le\"",
			               name);
		for (size_t j = 0; j < nlabels; j++)
			if (strcmp(labels[j], labels[nlabels]) == 0)
				return err_set(errbuf, errbuf_size, METRICS_ERR,
				               "metrics: %s: label \"%s\" appears twice", name,
				               labels[j]);
	}
	if (nbounds > METRICS_MAX_BUCKETS)
		return err_set(errbuf, errbuf_size, METRICS_ERR,
		               "metrics: %s: more than %d buckets", name, METRICS_MAX_BUCKETS);
	for (size_t i = 0; i < nbounds; i++)
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			return err_set(errbuf, errbuf_size, METRICS_ERR,
			               "metrics: %s: bucket bounds must be finite and increasing",
			               name);

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return err_set(errbuf, errbuf_size, METRICS_ERR, "metrics: out of memory");
	f->reg = reg;
	f->type = type;
	f->name = strdup(name);
	f->help = help != NULL ? strdup(help) : NULL;
	f->labels = calloc(nlabels > 0 ? nlabels : 1, sizeof(*f->labels));
	f->bounds = calloc(nbounds > 0 ? nbounds : 1, sizeof(*f->bounds));
	if (f->name == NULL || (help != NULL && f->help == NULL) || f->labels == NULL ||
	    f->bounds == NULL || strmap_new(&f->index, METRICS_MAX_CHILDREN) != STRMAP_OK)
		goto oom;
	for (; f->nlabels < nlabels; f->nlabels++) {
		f->labels[f->nlabels] = strdup(labels[f->nlabels]);
		if (f->labels[f->nlabels] == NULL)
			goto oom;
	}
	if (nbounds > 0)
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	f->nbounds = nbounds;
	if (nlabels == 0 && child_add(f, "") == NULL)
		goto oom;

	pthread_mutex_lock(&reg->lock);
	for (const struct metrics_family *g = reg->head; g != NULL; g = g->next)
		if (strcmp(g->name, name) == 0)
			rc = METRICS_ERR;
	if (rc == 0) {
		if (reg->tail != NULL)
			reg->tail->next = f;
		else
			reg->head = f;
		reg->tail = f;
	}
	pthread_mutex_unlock(&reg->lock);
	if (rc < 0) {
		family_free(f);
		return err_set(errbuf, errbuf_size, METRICS_ERR,
		               "metrics: metric \"%s\" is already registered", name);
	}
	*out = f;
	return 0;
oom:
	family_free(f);
	return err_set(errbuf, errbuf_size, METRICS_ERR, "metrics: out of memory");
}

int metrics_counter(struct metrics_registry *reg, const char *name, const char *help,
                    const char *const labels[], struct metrics_family **out, char *errbuf,
                    size_t errbuf_size)
{
	return family_register(reg, FAMILY_COUNTER, name, help, labels, NULL, 0, out, errbuf,
	                       errbuf_size);
}

int metrics_gauge(struct metrics_registry *reg, const char *name, const char *help,
                  const char *const labels[], struct metrics_family **out, char *errbuf,
                  size_t errbuf_size)
{
	return family_register(reg, FAMILY_GAUGE, name, help, labels, NULL, 0, out, errbuf,
	                       errbuf_size);
}

int metrics_histogram(struct metrics_registry *reg, const char *name, const char *help,
                      const char *const labels[], const double *bounds, size_t nbounds,
                      struct metrics_family **out, char *errbuf, size_t errbuf_size)
{
	*out = NULL;
	if (nbounds > 0 && bounds == NULL)
		return err_set(errbuf, errbuf_size, METRICS_ERR, "metrics: %s: bounds missing",
		               name != NULL ? name : "");
	return family_register(reg, FAMILY_HISTOGRAM, name, help, labels, bounds, nbounds, out,
	                       errbuf, errbuf_size);
}

/* The child for key, created on first use; NULL when the family is full or
 * memory ran out. Caller locks. */
static struct child *child_get(struct metrics_family *f, const char *key)
{
	struct child *c = strmap_get(f->index, key);

	return c != NULL ? c : child_add(f, key);
}

enum update_op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(struct metrics_family *f, const char *const values[], enum update_op op, double v)
{
	struct child *c;
	char buf[256];
	char *key;
	int rc = 0;

	if (f == NULL || values_match(f, values) < 0)
		return METRICS_ERR;
	switch (op) {
	case OP_ADD:
		if (f->type == FAMILY_HISTOGRAM || (f->type == FAMILY_COUNTER && !(v >= 0)))
			return METRICS_ERR;
		break;
	case OP_SET:
		if (f->type != FAMILY_GAUGE)
			return METRICS_ERR;
		break;
	case OP_OBSERVE:
		if (f->type != FAMILY_HISTOGRAM)
			return METRICS_ERR;
		break;
	}

	key = key_make(f, values, buf, sizeof(buf));
	if (key == NULL)
		return METRICS_ERR;
	pthread_mutex_lock(&f->reg->lock);
	c = child_get(f, key);
	if (c == NULL) {
		rc = METRICS_ERR;
	} else if (op == OP_ADD) {
		c->value += v;
	} else if (op == OP_SET) {
		c->value = v;
	} else {
		size_t i = 0;
		/* A bucket counts values <= its bound; NaN compares false with
		 * every bound and so lands in +Inf only. */
		while (i < f->nbounds && !(v <= f->bounds[i]))
			i++;
		c->buckets[i]++;
		c->value += v;
	}
	pthread_mutex_unlock(&f->reg->lock);
	if (key != buf)
		free(key);
	return rc;
}

int metrics_add(struct metrics_family *fam, const char *const values[], double v)
{
	return update(fam, values, OP_ADD, v);
}

int metrics_inc(struct metrics_family *fam, const char *const values[])
{
	return update(fam, values, OP_ADD, 1.0);
}

int metrics_set(struct metrics_family *fam, const char *const values[], double v)
{
	return update(fam, values, OP_SET, v);
}

int metrics_observe(struct metrics_family *fam, const char *const values[], double v)
{
	return update(fam, values, OP_OBSERVE, v);
}

int metrics_remove(struct metrics_family *fam, const char *const values[])
{
	char buf[256];
	char *key;
	int removed = 0;

	if (fam == NULL || values_match(fam, values) < 0)
		return METRICS_ERR;
	key = key_make(fam, values, buf, sizeof(buf));
	if (key == NULL)
		return METRICS_ERR;
	pthread_mutex_lock(&fam->reg->lock);
	const struct child *c = strmap_get(fam->index, key);
	/* Found in O(1); its place in the array by a scan of pointers. */
	for (size_t i = 0; c != NULL && i < fam->nchildren; i++)
		if (fam->children[i] == c) {
			child_remove(fam, i);
			removed = 1;
			break;
		}
	pthread_mutex_unlock(&fam->reg->lock);
	if (key != buf)
		free(key);
	return removed;
}

/* Whether child c has the value want[i] (want_len[i] bytes) for each label
 * i where want[i] is not NULL. */
static int child_matches(const struct metrics_family *f, const struct child *c,
                         const char *const want[], const size_t want_len[])
{
	const char *key = c->key;

	for (size_t i = 0; i < f->nlabels; i++) {
		size_t len;
		const char *v = key_next(&key, &len);
		if (want[i] != NULL && (len != want_len[i] || memcmp(v, want[i], len) != 0))
			return 0;
	}
	return 1;
}

/* Removes f's children whose label names[k] has values[k] (lens[k] bytes)
 * for every k < n; returns how many. Caller locks. */
static size_t family_remove_matching(struct metrics_family *f, const char *const names[],
                                     const char *const values[], const size_t lens[], size_t n)
{
	const char *want[METRICS_MAX_LABELS] = {NULL};
	size_t want_len[METRICS_MAX_LABELS] = {0};
	size_t kept = 0, removed = 0;

	for (size_t k = 0; k < n; k++) {
		size_t i = 0;
		while (i < f->nlabels && strcmp(f->labels[i], names[k]) != 0)
			i++;
		if (i == f->nlabels)
			return 0; /* the family lacks this label */
		if (want[i] != NULL && strcmp(want[i], values[k]) != 0)
			return 0; /* one name, two values: nothing matches */
		want[i] = values[k];
		want_len[i] = lens[k];
	}
	/* One pass, keeping the others in order. */
	for (size_t i = 0; i < f->nchildren; i++) {
		struct child *c = f->children[i];
		if (child_matches(f, c, want, want_len)) {
			strmap_remove(f->index, c->key);
			free(c);
			removed++;
		} else {
			f->children[kept++] = c;
		}
	}
	f->nchildren = kept;
	return removed;
}

int metrics_remove_matching(struct metrics_registry *reg, const char *const names[],
                            const char *const values[])
{
	size_t lens[METRICS_MAX_LABELS];
	size_t n = 0, removed = 0;

	if (reg == NULL || names == NULL || values == NULL)
		return METRICS_ERR;
	for (; names[n] != NULL || values[n] != NULL; n++) {
		if (n == METRICS_MAX_LABELS || names[n] == NULL || values[n] == NULL)
			return METRICS_ERR;
		lens[n] = strlen(values[n]);
	}
	if (n == 0)
		return METRICS_ERR;
	pthread_mutex_lock(&reg->lock);
	for (struct metrics_family *f = reg->head; f != NULL; f = f->next)
		removed += family_remove_matching(f, names, values, lens, n);
	pthread_mutex_unlock(&reg->lock);
	return removed > INT_MAX ? INT_MAX : (int)removed;
}

const char *metrics_format_value(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, size, "%s", v > 0 ? "+Inf" : "-Inf");
	} else {
		/* The fewest significant digits that read back as v: "0.1",
		 * not "0.10000000000000001". 17 digits always round-trip. */
		int prec = 1;
		for (; prec < 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		/* %g switches to an exponent once it exceeds the precision,
		 * so 40000 at one digit is "4e+04"; write whole numbers below
		 * 1e17 in full, as people and other exporters do. */
		char e[40];
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		const char *x = strchr(e, 'e');
		int exp = x != NULL ? atoi(x + 1) : 0;
		if (exp >= prec && exp < 17)
			prec = exp + 1;
		snprintf(buf, size, "%.*g", prec, v);
	}
	return buf;
}

/* ---- rendering ---------------------------------------------------------- */

/* A growing output buffer; after a failed allocation every append is a
 * no-op and failed stays set. */
struct sbuf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

static void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 4096;
		while (b->len + n + 1 > cap)
			cap *= 2;
		char *data = realloc(b->data, cap);
		if (data == NULL) {
			b->failed = 1;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
}

/* Writes the len bytes at s escaping backslash and newline, and double
 * quotes when quotes is set: HELP text escapes the first two, label values
 * all three. */
static void sbuf_escaped(struct sbuf *b, const char *s, size_t len, int quotes)
{
	const char *run = s;
	const char *end = s + len;

	for (; s < end; s++) {
		const char *esc = NULL;
		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quotes)
			esc = "\\\"";
		if (esc != NULL) {
			sbuf_put(b, run, (size_t)(s - run));
			sbuf_puts(b, esc);
			run = s + 1;
		}
	}
	sbuf_put(b, run, (size_t)(s - run));
}

static void sbuf_value(struct sbuf *b, double v)
{
	char buf[32];
	sbuf_puts(b, metrics_format_value(buf, sizeof(buf), v));
}

static void sbuf_count(struct sbuf *b, uint64_t n)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, n);
	sbuf_puts(b, buf);
}

/* name{a="x",b="y"[,le="..."]} — nothing between name and value when there
 * are no labels. */
static void render_series(struct sbuf *b, const struct metrics_family *f, const char *suffix,
                          const struct child *c, const char *le)
{
	sbuf_puts(b, f->name);
	sbuf_puts(b, suffix);
	if (f->nlabels == 0 && le == NULL)
		return;
	sbuf_puts(b, "{");
	const char *key = c->key;
	for (size_t i = 0; i < f->nlabels; i++) {
		size_t len;
		const char *v = key_next(&key, &len);
		if (i > 0)
			sbuf_puts(b, ",");
		sbuf_puts(b, f->labels[i]);
		sbuf_puts(b, "=\"");
		sbuf_escaped(b, v, len, 1);
		sbuf_puts(b, "\"");
	}
	if (le != NULL) {
		sbuf_puts(b, f->nlabels > 0 ? ",le=\"" : "le=\"");
		sbuf_puts(b, le);
		sbuf_puts(b, "\"");
	}
	sbuf_puts(b, "}");
}

static void render_family(struct sbuf *b, const struct metrics_family *f)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};

	if (f->nchildren == 0)
		return;
	if (f->help != NULL) {
		sbuf_puts(b, "# HELP ");
		sbuf_puts(b, f->name);
		sbuf_puts(b, " ");
		sbuf_escaped(b, f->help, strlen(f->help), 0);
		sbuf_puts(b, "\n");
	}
	sbuf_puts(b, "# TYPE ");
	sbuf_puts(b, f->name);
	sbuf_puts(b, " ");
	sbuf_puts(b, type_names[f->type]);
	sbuf_puts(b, "\n");

	for (size_t i = 0; i < f->nchildren; i++) {
		const struct child *c = f->children[i];

		if (f->type != FAMILY_HISTOGRAM) {
			render_series(b, f, "", c, NULL);
			sbuf_puts(b, " ");
			sbuf_value(b, c->value);
			sbuf_puts(b, "\n");
			continue;
		}
		uint64_t cumulative = 0;
		char le[32];
		for (size_t k = 0; k <= f->nbounds; k++) {
			cumulative += c->buckets[k];
			if (k < f->nbounds)
				metrics_format_value(le, sizeof(le), f->bounds[k]);
			else
				snprintf(le, sizeof(le), "+Inf");
			render_series(b, f, "_bucket", c, le);
			sbuf_puts(b, " ");
			sbuf_count(b, cumulative);
			sbuf_puts(b, "\n");
		}
		render_series(b, f, "_sum", c, NULL);
		sbuf_puts(b, " ");
		sbuf_value(b, c->value);
		sbuf_puts(b, "\n");
		render_series(b, f, "_count", c, NULL);
		sbuf_puts(b, " ");
		sbuf_count(b, cumulative);
		sbuf_puts(b, "\n");
	}
}

int metrics_render(struct metrics_registry *reg, char **text, size_t *len)
{
	struct sbuf b = {NULL, 0, 0, 0};

	*text = NULL;
	*len = 0;
	sbuf_put(&b, "", 0); /* an empty registry renders as "" */
	pthread_mutex_lock(&reg->lock);
	for (const struct metrics_family *f = reg->head; f != NULL; f = f->next)
		render_family(&b, f);
	pthread_mutex_unlock(&reg->lock);
	if (b.failed) {
		free(b.data);
		return METRICS_ERR;
	}
	*text = b.data;
	*len = b.len;
	return 0;
}

/* ---- JSON ----------------------------------------------------------------- */

/* The len bytes at s as a JSON string, quotes included; the escaping every
 * Sluice JSON writer shares (log_json_escape), in slices that always fit. */
static void json_string_n(struct sbuf *b, const char *s, size_t len)
{
	char out[256];

	sbuf_puts(b, "\"");
	while (len > 0) {
		size_t used = log_json_escape(out, sizeof(out), s, len);
		sbuf_puts(b, out);
		if (used == 0)
			break; /* cannot happen: 256 bytes hold any one escape */
		s += used;
		len -= used;
	}
	sbuf_puts(b, "\"");
}

static void json_string(struct sbuf *b, const char *s)
{
	json_string_n(b, s, strlen(s));
}

/* A number, or "NaN", "+Inf", "-Inf" as strings: JSON has no such number. */
static void json_value(struct sbuf *b, double v)
{
	char buf[32];

	metrics_format_value(buf, sizeof(buf), v);
	if (isfinite(v)) {
		sbuf_puts(b, buf);
	} else {
		sbuf_puts(b, "\"");
		sbuf_puts(b, buf);
		sbuf_puts(b, "\"");
	}
}

static void json_family(struct sbuf *b, const struct metrics_family *f)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};

	json_string(b, f->name);
	sbuf_puts(b, ":{\"type\":\"");
	sbuf_puts(b, type_names[f->type]);
	sbuf_puts(b, "\",\"help\":");
	if (f->help != NULL)
		json_string(b, f->help);
	else
		sbuf_puts(b, "null");
	sbuf_puts(b, ",\"labels\":[");
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i > 0)
			sbuf_puts(b, ",");
		json_string(b, f->labels[i]);
	}
	sbuf_puts(b, "],\"series\":[");
	for (size_t i = 0; i < f->nchildren; i++) {
		const struct child *c = f->children[i];

		const char *key = c->key;
		sbuf_puts(b, i > 0 ? ",{\"labels\":{" : "{\"labels\":{");
		for (size_t j = 0; j < f->nlabels; j++) {
			size_t len;
			const char *v = key_next(&key, &len);
			if (j > 0)
				sbuf_puts(b, ",");
			json_string(b, f->labels[j]);
			sbuf_puts(b, ":");
			json_string_n(b, v, len);
		}
		sbuf_puts(b, "}");
		if (f->type != FAMILY_HISTOGRAM) {
			sbuf_puts(b, ",\"value\":");
			json_value(b, c->value);
			sbuf_puts(b, "}");
			continue;
		}
		uint64_t cumulative = 0;
		char le[32];
		sbuf_puts(b, ",\"buckets\":{");
		for (size_t k = 0; k <= f->nbounds; k++) {
			cumulative += c->buckets[k];
			if (k < f->nbounds)
				metrics_format_value(le, sizeof(le), f->bounds[k]);
			else
				snprintf(le, sizeof(le), "+Inf");
			if (k > 0)
				sbuf_puts(b, ",");
			json_string(b, le);
			sbuf_puts(b, ":");
			sbuf_count(b, cumulative);
		}
		sbuf_puts(b, "},\"sum\":");
		json_value(b, c->value);
		sbuf_puts(b, ",\"count\":");
		sbuf_count(b, cumulative);
		sbuf_puts(b, "}");
	}
	sbuf_puts(b, "]}");
}

int metrics_render_json(struct metrics_registry *reg, char **text, size_t *len)
{
	struct sbuf b = {NULL, 0, 0, 0};

	*text = NULL;
	*len = 0;
	sbuf_puts(&b, "{");
	pthread_mutex_lock(&reg->lock);
	for (const struct metrics_family *f = reg->head; f != NULL; f = f->next) {
		if (f != reg->head)
			sbuf_puts(&b, ",");
		json_family(&b, f);
	}
	pthread_mutex_unlock(&reg->lock);
	sbuf_puts(&b, "}");
	if (b.failed) {
		free(b.data);
		return METRICS_ERR;
	}
	*text = b.data;
	*len = b.len;
	return 0;
}
