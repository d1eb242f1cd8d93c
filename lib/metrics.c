/*
 * metrics.c - Prometheus counters, gauges and histograms. See metrics.h.
 *
 * Children are found by a linear scan of their label values: families hold
 * tens of children, not thousands, and the scan keeps the code obvious.
 * METRICS_MAX_CHILDREN bounds the worst case.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

enum family_type {
	FAMILY_COUNTER,
	FAMILY_GAUGE,
	FAMILY_HISTOGRAM,
};

struct child {
	char **values;     /* one per label name */
	double value;      /* counter, gauge */
	uint64_t *buckets; /* histogram: nbounds + 1 counts, not cumulative; the
	                      last is the +Inf overflow */
	double sum;        /* histogram */
	uint64_t count;    /* histogram */
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
	struct child **children;
	size_t nchildren;
	size_t cap;
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

static void child_free(struct child *c, size_t nlabels)
{
	if (c == NULL)
		return;
	if (c->values != NULL)
		for (size_t i = 0; i < nlabels; i++)
			free(c->values[i]);
	free(c->values);
	free(c->buckets);
	free(c);
}

static void family_free(struct metrics_family *f)
{
	for (size_t i = 0; i < f->nchildren; i++)
		child_free(f->children[i], f->nlabels);
	free(f->children);
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

/* Creates a child for values (already counted to match). Caller locks. */
static struct child *child_new(struct metrics_family *f, const char *const values[])
{
	struct child *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->values = calloc(f->nlabels > 0 ? f->nlabels : 1, sizeof(*c->values));
	if (c->values == NULL)
		goto fail;
	for (size_t i = 0; i < f->nlabels; i++) {
		c->values[i] = strdup(values[i]);
		if (c->values[i] == NULL)
			goto fail;
	}
	if (f->type == FAMILY_HISTOGRAM) {
		c->buckets = calloc(f->nbounds + 1, sizeof(*c->buckets));
		if (c->buckets == NULL)
			goto fail;
	}
	return c;
fail:
	child_free(c, f->nlabels);
	return NULL;
}

/* Appends a new child; NULL when full or out of memory. Caller locks. */
static struct child *child_add(struct metrics_family *f, const char *const values[])
{
	struct child *c;

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
	c = child_new(f, values);
	if (c != NULL)
		f->children[f->nchildren++] = c;
	return c;
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
	    f->bounds == NULL)
		goto oom;
	for (; f->nlabels < nlabels; f->nlabels++) {
		f->labels[f->nlabels] = strdup(labels[f->nlabels]);
		if (f->labels[f->nlabels] == NULL)
			goto oom;
	}
	if (nbounds > 0)
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	f->nbounds = nbounds;
	if (nlabels == 0 && child_add(f, NULL) == NULL)
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

/* The child for values, created on first use; NULL when values do not match
 * the labels, the family is full or memory ran out. Caller locks. */
static struct child *child_get(struct metrics_family *f, const char *const values[])
{
	size_t n = 0;

	while (values != NULL && values[n] != NULL && n <= f->nlabels)
		n++;
	if (n != f->nlabels)
		return NULL;
	for (size_t i = 0; i < f->nchildren; i++) {
		struct child *c = f->children[i];
		size_t j = 0;
		while (j < n && strcmp(c->values[j], values[j]) == 0)
			j++;
		if (j == n)
			return c;
	}
	return child_add(f, values);
}

enum update_op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(struct metrics_family *f, const char *const values[], enum update_op op, double v)
{
	struct child *c;
	int rc = 0;

	if (f == NULL)
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

	pthread_mutex_lock(&f->reg->lock);
	c = child_get(f, values);
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
		c->sum += v;
		c->count++;
	}
	pthread_mutex_unlock(&f->reg->lock);
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

/* Writes s escaping backslash and newline, and double quotes when quotes is
 * set: HELP text escapes the first two, label values all three. */
static void sbuf_escaped(struct sbuf *b, const char *s, int quotes)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
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
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i > 0)
			sbuf_puts(b, ",");
		sbuf_puts(b, f->labels[i]);
		sbuf_puts(b, "=\"");
		sbuf_escaped(b, c->values[i], 1);
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
		sbuf_escaped(b, f->help, 0);
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
		sbuf_value(b, c->sum);
		sbuf_puts(b, "\n");
		render_series(b, f, "_count", c, NULL);
		sbuf_puts(b, " ");
		sbuf_count(b, c->count);
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

/* s as a JSON string, quotes included; the escaping every Sluice JSON
 * writer shares (log_json_escape), in slices that always fit. */
static void json_string(struct sbuf *b, const char *s)
{
	size_t len = strlen(s);
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

		sbuf_puts(b, i > 0 ? ",{\"labels\":{" : "{\"labels\":{");
		for (size_t j = 0; j < f->nlabels; j++) {
			if (j > 0)
				sbuf_puts(b, ",");
			json_string(b, f->labels[j]);
			sbuf_puts(b, ":");
			json_string(b, c->values[j]);
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
		json_value(b, c->sum);
		sbuf_puts(b, ",\"count\":");
		sbuf_count(b, c->count);
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
