/*
 * config.c - options from defaults, a YAML file, the environment and flags.
 * See config.h for the contract and the error formats.
 *
 * Every source goes through set_value(), the one place that parses a value
 * and says what is wrong with it, so an error reads the same whichever
 * source carried the bad value.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "err.h"

/* Config files are a few lines; the bound stops a wrong path (a log file, a
 * device) from being read into memory. */
#define CONFIG_FILE_MAX (1024 * 1024)

struct config_value {
	enum config_origin origin;
	char *str;         /* CONFIG_STRING, CONFIG_ENUM: owned; NULL when unset */
	long long num;     /* CONFIG_INT, CONFIG_BOOL, CONFIG_DURATION (ms) */
	unsigned yaml_gen; /* the YAML load that set it, to find duplicate keys */
	size_t yaml_line;  /* the line it was set on in that load */
};

struct config {
	const struct config_option *table;
	size_t count;
	struct config_value *values;
	char *file;
	char **args;
	int nargs;
	int help;
	int version;
	unsigned yaml_gen;
};

/* Where a value came from, for error messages. */
struct source {
	enum config_origin origin;
	const char *where; /* file path, variable or flag */
	size_t line;       /* file line, 1-based */
};

/*
 * Writes s into dst as a double-quoted string a terminal shows safely:
 * quotes, backslashes and control bytes escaped, cut after 64 bytes with
 * "...". Values come from users and files, so they may hold anything.
 */
static const char *quote(char *dst, size_t dst_size, const char *s)
{
	size_t o = 0;
	size_t i;

	if (dst_size < 8) {
		if (dst_size > 0)
			dst[0] = '\0';
		return dst;
	}
	dst[o++] = '"';
	for (i = 0; i < 64 && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[5];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			n = 4;
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (o + n + 5 > dst_size) /* room for "..." + quote + NUL */
			break;
		memcpy(dst + o, esc, n);
		o += n;
	}
	if (s[i] != '\0') {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

/* The key an error names and the note after it, by origin (config.h). */
static const char *source_key(const struct config_option *opt, const struct source *src)
{
	if (src->origin == CONFIG_ORIGIN_ENV || src->origin == CONFIG_ORIGIN_FLAG)
		return src->where;
	return opt->name;
}

static const char *source_note(char *buf, size_t size, const struct source *src)
{
	switch (src->origin) {
	case CONFIG_ORIGIN_DEFAULT:
		snprintf(buf, size, " (default)");
		break;
	case CONFIG_ORIGIN_FILE:
		snprintf(buf, size, " (file %s, line %zu)", src->where, src->line);
		break;
	case CONFIG_ORIGIN_ENV:
		snprintf(buf, size, " (environment)");
		break;
	default:
		buf[0] = '\0';
		break;
	}
	return buf;
}

/* 0, -1 when s is not an integer, -2 when it does not fit a long long. */
static int parse_int(const char *s, long long *out)
{
	const char *p = s;
	char *end;

	if (*p == '+' || *p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -2;
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

int config_parse_int(const char *s, long long *out)
{
	if (s == NULL)
		return CONFIG_ERR;
	return parse_int(s, out) == 0 ? 0 : CONFIG_ERR;
}

int config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	if (s == NULL)
		return CONFIG_ERR;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return CONFIG_ERR;
}

/* 0, -1 when s is not a duration, -2 when it does not fit in milliseconds. */
static int parse_duration(const char *s, long long *out)
{
	long long total = 0;
	const char *p = s;

	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		long long n = 0, unit;

		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (n > (LLONG_MAX - (*p - '0')) / 10)
				return -2;
			n = n * 10 + (*p - '0');
		}
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 60 * 60 * 1000;
			p++;
		} else {
			return -1;
		}
		if (n > LLONG_MAX / unit || total > LLONG_MAX - n * unit)
			return -2;
		total += n * unit;
	}
	*out = total;
	return 0;
}

int config_parse_duration_ms(const char *s, long long *out)
{
	if (s == NULL)
		return CONFIG_ERR;
	return parse_duration(s, out) == 0 ? 0 : CONFIG_ERR;
}

/* The shortest of "1h", "2m", "5s", "500ms" that states ms exactly. */
static const char *format_duration(char *buf, size_t size, long long ms)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%lldh", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%lldm", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, size, "%llds", ms / 1000);
	else
		snprintf(buf, size, "%lldms", ms);
	return buf;
}

/* "debug, info, warn, error" */
static const char *join_choices(char *buf, size_t size, const char *const *choices)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; choices[i] != NULL && o < size; i++) {
		int n = snprintf(buf + o, size - o, "%s%s", i > 0 ? ", " : "", choices[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return buf;
}

static int set_string(struct config_value *v, const char *text, char *errbuf, size_t errbuf_size)
{
	char *copy = strdup(text);

	if (copy == NULL)
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	free(v->str);
	v->str = copy;
	return 0;
}

/* Parses text as option i's type and stores it; errors name src. */
static int set_value(struct config *cfg, size_t i, const char *text, const struct source *src,
                     char *errbuf, size_t errbuf_size)
{
	const struct config_option *opt = &cfg->table[i];
	struct config_value *v = &cfg->values[i];
	const char *key = source_key(opt, src);
	char q[160], note[4096 + 64], list[512], lo[32], hi[32];
	long long n;
	int b, rc;

	switch (opt->type) {
	case CONFIG_STRING:
		if (set_string(v, text, errbuf, errbuf_size) < 0)
			return CONFIG_ERR;
		break;
	case CONFIG_ENUM:
		for (size_t c = 0; opt->choices[c] != NULL; c++) {
			if (strcmp(text, opt->choices[c]) == 0) {
				if (set_string(v, text, errbuf, errbuf_size) < 0)
					return CONFIG_ERR;
				goto done;
			}
		}
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: %s: %s is not one of %s%s",
		               key, quote(q, sizeof(q), text),
		               join_choices(list, sizeof(list), opt->choices),
		               source_note(note, sizeof(note), src));
	case CONFIG_INT:
		rc = parse_int(text, &n);
		if (rc == -1)
			return err_set(
			    errbuf, errbuf_size, CONFIG_ERR, "config: %s: %s is not an integer%s",
			    key, quote(q, sizeof(q), text), source_note(note, sizeof(note), src));
		if (rc == -2 || (opt->min < opt->max && (n < opt->min || n > opt->max))) {
			if (opt->min < opt->max)
				return err_set(errbuf, errbuf_size, CONFIG_ERR,
				               "config: %s: %s is out of range %lld..%lld%s", key,
				               quote(q, sizeof(q), text), opt->min, opt->max,
				               source_note(note, sizeof(note), src));
			return err_set(
			    errbuf, errbuf_size, CONFIG_ERR, "config: %s: %s is out of range%s",
			    key, quote(q, sizeof(q), text), source_note(note, sizeof(note), src));
		}
		v->num = n;
		break;
	case CONFIG_BOOL:
		if (config_parse_bool(text, &b) < 0)
			return err_set(errbuf, errbuf_size, CONFIG_ERR,
			               "config: %s: %s is not a boolean (use true or false)%s", key,
			               quote(q, sizeof(q), text),
			               source_note(note, sizeof(note), src));
		v->num = b;
		break;
	case CONFIG_DURATION:
		rc = parse_duration(text, &n);
		if (rc == -1)
			return err_set(
			    errbuf, errbuf_size, CONFIG_ERR,
			    "config: %s: %s is not a duration (use e.g. 500ms, 5s, 2m, 1h)%s", key,
			    quote(q, sizeof(q), text), source_note(note, sizeof(note), src));
		if (rc == -2 || (opt->min < opt->max && (n < opt->min || n > opt->max))) {
			if (opt->min < opt->max)
				return err_set(errbuf, errbuf_size, CONFIG_ERR,
				               "config: %s: %s is out of range %s..%s%s", key,
				               quote(q, sizeof(q), text),
				               format_duration(lo, sizeof(lo), opt->min),
				               format_duration(hi, sizeof(hi), opt->max),
				               source_note(note, sizeof(note), src));
			return err_set(
			    errbuf, errbuf_size, CONFIG_ERR, "config: %s: %s is out of range%s",
			    key, quote(q, sizeof(q), text), source_note(note, sizeof(note), src));
		}
		v->num = n;
		break;
	}
done:
	v->origin = src->origin;
	return 0;
}

static const char *const type_names[] = {
    [CONFIG_STRING] = "STRING",     [CONFIG_INT] = "INT",   [CONFIG_BOOL] = "BOOL",
    [CONFIG_DURATION] = "DURATION", [CONFIG_ENUM] = "ENUM",
};

static int type_valid(enum config_type t)
{
	return t >= CONFIG_STRING && t <= CONFIG_ENUM;
}

/* Lower-case letters, digits, '_' and '-' between single dots. */
static int name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= CONFIG_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '.' && name[i + 1] == '.')
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

/* Whether name is prefix followed by a dot and more. */
static int has_prefix(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(name, prefix, n) == 0 && name[n] == '.';
}

static int flag_reserved(const char *flag)
{
	return strcmp(flag, "--config") == 0 || strcmp(flag, "--help") == 0 ||
	       strcmp(flag, "--version") == 0;
}

static int check_table(const struct config_option *table, size_t count, char *errbuf,
                       size_t errbuf_size)
{
	for (size_t i = 0; i < count; i++) {
		const struct config_option *o = &table[i];

		if (!name_valid(o->name))
			return err_set(errbuf, errbuf_size, CONFIG_ERR,
			               "config: option table: invalid name \"%s\"", o->name);
		if (!type_valid(o->type))
			return err_set(errbuf, errbuf_size, CONFIG_ERR,
			               "config: option table: %s: invalid type", o->name);
		if (o->type == CONFIG_ENUM && (o->choices == NULL || o->choices[0] == NULL))
			return err_set(errbuf, errbuf_size, CONFIG_ERR,
			               "config: option table: %s: enum without choices", o->name);
		if (o->def == NULL && o->type != CONFIG_STRING)
			return err_set(errbuf, errbuf_size, CONFIG_ERR,
			               "config: option table: %s: no default", o->name);
		if (o->flag != NULL && (strncmp(o->flag, "--", 2) != 0 || o->flag[2] == '\0' ||
		                        strchr(o->flag, '=') != NULL || flag_reserved(o->flag)))
			return err_set(errbuf, errbuf_size, CONFIG_ERR,
			               "config: option table: %s: invalid flag \"%s\"", o->name,
			               o->flag);
		for (size_t j = 0; j < i; j++) {
			const struct config_option *p = &table[j];
			if (strcmp(o->name, p->name) == 0 || has_prefix(o->name, p->name) ||
			    has_prefix(p->name, o->name))
				return err_set(
				    errbuf, errbuf_size, CONFIG_ERR,
				    "config: option table: names \"%s\" and \"%s\" collide",
				    p->name, o->name);
			if (o->flag != NULL && p->flag != NULL && strcmp(o->flag, p->flag) == 0)
				return err_set(errbuf, errbuf_size, CONFIG_ERR,
				               "config: option table: flag %s is used twice",
				               o->flag);
		}
	}
	return 0;
}

int config_new(const struct config_option *table, struct config **out, char *errbuf,
               size_t errbuf_size)
{
	struct config *cfg;
	size_t count = 0;

	*out = NULL;
	if (table == NULL)
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: option table: NULL");
	while (table[count].name != NULL)
		count++;
	if (check_table(table, count, errbuf, errbuf_size) < 0)
		return CONFIG_ERR;

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	cfg->table = table;
	cfg->count = count;
	cfg->values = calloc(count > 0 ? count : 1, sizeof(*cfg->values));
	if (cfg->values == NULL) {
		free(cfg);
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	}
	for (size_t i = 0; i < count; i++) {
		struct source src = {CONFIG_ORIGIN_DEFAULT, NULL, 0};
		if (table[i].def == NULL)
			continue;
		if (set_value(cfg, i, table[i].def, &src, errbuf, errbuf_size) < 0) {
			config_free(cfg);
			return CONFIG_ERR;
		}
	}
	*out = cfg;
	return 0;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->count; i++)
		free(cfg->values[i].str);
	free(cfg->values);
	for (int i = 0; i < cfg->nargs; i++)
		free(cfg->args[i]);
	free(cfg->args);
	free(cfg->file);
	free(cfg);
}

static long find_option(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->count; i++)
		if (strcmp(cfg->table[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Whether some option lives under prefix ("metrics" for "metrics.port"). */
static int is_section(const struct config *cfg, const char *prefix)
{
	for (size_t i = 0; i < cfg->count; i++)
		if (has_prefix(cfg->table[i].name, prefix))
			return 1;
	return 0;
}

/* ---- YAML --------------------------------------------------------------- */

struct walk {
	struct config *cfg;
	yaml_parser_t parser;
	const char *origin;
	char *errbuf;
	size_t errbuf_size;
};

static int walk_next(struct walk *w, yaml_event_t *ev)
{
	yaml_parser_t *p = &w->parser;

	if (yaml_parser_parse(p, ev))
		return 0;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		               "config: file %s: out of memory", w->origin);
	case YAML_READER_ERROR:
		return err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		               "config: file %s: cannot read YAML: %s (byte %zu)", w->origin,
		               p->problem != NULL ? p->problem : "unknown error",
		               p->problem_offset);
	default:
		if (p->context != NULL)
			return err_set(
			    w->errbuf, w->errbuf_size, CONFIG_ERR,
			    "config: file %s: YAML syntax error at line %zu, column %zu: %s (%s at "
			    "line %zu)",
			    w->origin, p->problem_mark.line + 1, p->problem_mark.column + 1,
			    p->problem != NULL ? p->problem : "unknown error", p->context,
			    p->context_mark.line + 1);
		return err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		               "config: file %s: YAML syntax error at line %zu, column %zu: %s",
		               w->origin, p->problem_mark.line + 1, p->problem_mark.column + 1,
		               p->problem != NULL ? p->problem : "unknown error");
	}
}

/* A plain `key:`, `key: ~` or `key: null` leaves the option as it was. */
static int scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *event_kind(yaml_event_type_t t)
{
	switch (t) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_ALIAS_EVENT:
		return "an alias";
	default:
		return "something else";
	}
}

static int walk_mapping(struct walk *w, const char *prefix, int depth);

/* Handles the value event ev of key path (key on key_line). Owns ev. */
static int walk_value(struct walk *w, const char *path, size_t key_line, yaml_event_t *ev,
                      int depth)
{
	struct config *cfg = w->cfg;
	size_t line = ev->start_mark.line + 1;
	long i = find_option(cfg, path);
	char q[160];
	int rc = 0;

	if (i < 0 && !(ev->type == YAML_MAPPING_START_EVENT && is_section(cfg, path))) {
		rc = err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		             "config: unknown key %s in file %s line %zu",
		             quote(q, sizeof(q), path), w->origin, key_line);
	} else if (ev->type == YAML_MAPPING_START_EVENT && i < 0) {
		if (depth >= CONFIG_DEPTH_MAX)
			rc = err_set(
			    w->errbuf, w->errbuf_size, CONFIG_ERR,
			    "config: file %s line %zu: mappings nested deeper than %d levels",
			    w->origin, line, CONFIG_DEPTH_MAX);
		else
			rc = walk_mapping(w, path, depth + 1);
	} else if (ev->type != YAML_SCALAR_EVENT) {
		rc = err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		             "config: %s: expected a value, found %s (file %s, line %zu)", path,
		             event_kind(ev->type), w->origin, line);
	} else if (!scalar_is_null(ev)) {
		struct config_value *v = &cfg->values[i];
		struct source src = {CONFIG_ORIGIN_FILE, w->origin, line};
		const char *text = (const char *)ev->data.scalar.value;

		if (v->yaml_gen == cfg->yaml_gen)
			rc = err_set(
			    w->errbuf, w->errbuf_size, CONFIG_ERR,
			    "config: duplicate key %s in file %s line %zu (first on line %zu)",
			    quote(q, sizeof(q), path), w->origin, key_line, v->yaml_line);
		else if (strlen(text) != ev->data.scalar.length)
			rc = err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
			             "config: %s: value holds a NUL byte (file %s, line %zu)", path,
			             w->origin, line);
		else
			rc = set_value(cfg, (size_t)i, text, &src, w->errbuf, w->errbuf_size);
		if (rc == 0) {
			v->yaml_gen = cfg->yaml_gen;
			v->yaml_line = key_line;
		}
	}
	yaml_event_delete(ev);
	return rc;
}

/* Reads key/value pairs up to the end of the mapping whose start event was
 * just consumed; prefix is its dotted path ("" at the top). */
static int walk_mapping(struct walk *w, const char *prefix, int depth)
{
	for (;;) {
		yaml_event_t key, value;
		char path[CONFIG_NAME_MAX + 1], q[160];
		size_t key_line;

		if (walk_next(w, &key) < 0)
			return CONFIG_ERR;
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			return 0;
		}
		key_line = key.start_mark.line + 1;
		if (key.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&key);
			return err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
			               "config: file %s line %zu: keys must be plain strings",
			               w->origin, key_line);
		}
		const char *k = (const char *)key.data.scalar.value;
		int n =
		    snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", k);
		if (n < 0 || (size_t)n >= sizeof(path) || strlen(k) != key.data.scalar.length) {
			int rc = err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
			                 "config: unknown key %s in file %s line %zu",
			                 quote(q, sizeof(q), path), w->origin, key_line);
			yaml_event_delete(&key);
			return rc;
		}
		yaml_event_delete(&key);
		if (walk_next(w, &value) < 0)
			return CONFIG_ERR;
		if (walk_value(w, path, key_line, &value, depth) < 0)
			return CONFIG_ERR;
	}
}

/* Consumes the next event and checks it is of type t. */
static int walk_expect(struct walk *w, yaml_event_type_t t)
{
	yaml_event_t ev;
	int rc = 0;

	if (walk_next(w, &ev) < 0)
		return CONFIG_ERR;
	if (ev.type == YAML_DOCUMENT_START_EVENT && t == YAML_STREAM_END_EVENT)
		rc = err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		             "config: file %s line %zu: more than one YAML document", w->origin,
		             ev.start_mark.line + 1);
	else if (ev.type != t)
		rc = err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		             "config: file %s line %zu: unexpected YAML event", w->origin,
		             ev.start_mark.line + 1);
	yaml_event_delete(&ev);
	return rc;
}

/* After STREAM_START: an empty stream, or one document whose top is a
 * mapping (or empty). */
static int walk_stream(struct walk *w)
{
	yaml_event_t ev;
	int rc;

	if (walk_next(w, &ev) < 0)
		return CONFIG_ERR;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		return err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		               "config: file %s: unexpected YAML event", w->origin);
	}
	yaml_event_delete(&ev);

	if (walk_next(w, &ev) < 0)
		return CONFIG_ERR;
	if (ev.type == YAML_MAPPING_START_EVENT) {
		yaml_event_delete(&ev);
		rc = walk_mapping(w, "", 1);
	} else if (ev.type == YAML_SCALAR_EVENT && scalar_is_null(&ev)) {
		yaml_event_delete(&ev);
		rc = 0;
	} else {
		rc = err_set(
		    w->errbuf, w->errbuf_size, CONFIG_ERR,
		    "config: file %s line %zu: the top level must be a mapping of options, not %s",
		    w->origin, ev.start_mark.line + 1,
		    ev.type == YAML_SCALAR_EVENT ? "a scalar" : event_kind(ev.type));
		yaml_event_delete(&ev);
	}
	if (rc < 0)
		return rc;
	if (walk_expect(w, YAML_DOCUMENT_END_EVENT) < 0)
		return CONFIG_ERR;
	return walk_expect(w, YAML_STREAM_END_EVENT);
}

/* Parses the whole stream once, for syntax alone, so that a syntax error is
 * reported as such even when an earlier key would fail on its own. */
static int check_syntax(struct walk *w, const char *data, size_t len)
{
	yaml_event_t ev;
	int rc = 0, end = 0;

	if (!yaml_parser_initialize(&w->parser))
		return err_set(w->errbuf, w->errbuf_size, CONFIG_ERR,
		               "config: file %s: out of memory", w->origin);
	yaml_parser_set_input_string(&w->parser, (const unsigned char *)data, len);
	while (!end) {
		rc = walk_next(w, &ev);
		if (rc < 0)
			break;
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&w->parser);
	return rc;
}

int config_load_yaml(struct config *cfg, const char *origin, const char *data, size_t len,
                     char *errbuf, size_t errbuf_size)
{
	struct walk w = {cfg, {0}, origin, errbuf, errbuf_size};
	int rc;

	if (check_syntax(&w, data, len) < 0)
		return CONFIG_ERR;
	if (!yaml_parser_initialize(&w.parser))
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: file %s: out of memory",
		               origin);
	yaml_parser_set_input_string(&w.parser, (const unsigned char *)data, len);
	/* A new generation: keys set by an earlier load are not duplicates. */
	cfg->yaml_gen++;
	rc = walk_expect(&w, YAML_STREAM_START_EVENT);
	if (rc == 0)
		rc = walk_stream(&w);
	yaml_parser_delete(&w.parser);
	return rc;
}

/* via: what named the file ("--config", "SLUICE_CONFIG"), for errors. */
static int load_file(struct config *cfg, const char *path, const char *via, char *errbuf,
                     size_t errbuf_size)
{
	char q[160], from[64] = "";
	FILE *f;
	char *data;
	size_t len;
	int rc;

	if (via != NULL)
		snprintf(from, sizeof(from), " (from %s)", via);
	f = fopen(path, "rb");
	if (f == NULL)
		return err_set(errbuf, errbuf_size, CONFIG_ERR,
		               "config: cannot read config file %s%s: %s",
		               quote(q, sizeof(q), path), from, strerror(errno));
	data = malloc(CONFIG_FILE_MAX + 1);
	if (data == NULL) {
		fclose(f);
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	}
	len = fread(data, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = err_set(errbuf, errbuf_size, CONFIG_ERR,
		             "config: cannot read config file %s%s: %s", quote(q, sizeof(q), path),
		             from, strerror(errno));
	} else if (len > CONFIG_FILE_MAX) {
		rc = err_set(errbuf, errbuf_size, CONFIG_ERR,
		             "config: config file %s%s is larger than %d bytes",
		             quote(q, sizeof(q), path), from, CONFIG_FILE_MAX);
	} else {
		char *copy = strdup(path);
		if (copy == NULL) {
			rc = err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
		} else {
			free(cfg->file);
			cfg->file = copy;
			rc = config_load_yaml(cfg, path, data, len, errbuf, errbuf_size);
		}
	}
	free(data);
	fclose(f);
	return rc;
}

int config_load_file(struct config *cfg, const char *path, char *errbuf, size_t errbuf_size)
{
	return load_file(cfg, path, NULL, errbuf, errbuf_size);
}

int config_load_env(struct config *cfg, char *errbuf, size_t errbuf_size)
{
	for (size_t i = 0; i < cfg->count; i++) {
		const char *name = cfg->table[i].env;
		const char *text;

		if (name == NULL)
			continue;
		text = getenv(name);
		if (text == NULL || text[0] == '\0')
			continue;
		struct source src = {CONFIG_ORIGIN_ENV, name, 0};
		if (set_value(cfg, i, text, &src, errbuf, errbuf_size) < 0)
			return CONFIG_ERR;
	}
	return 0;
}

/* ---- flags -------------------------------------------------------------- */

/* A flag seen in argv, applied after the file and the environment. */
struct pending {
	size_t option;
	const char *value; /* borrowed from argv */
};

static int add_arg(struct config *cfg, const char *arg, char *errbuf, size_t errbuf_size)
{
	char *copy = strdup(arg);
	char **args;

	if (copy == NULL)
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	args = realloc(cfg->args, ((size_t)cfg->nargs + 1) * sizeof(*args));
	if (args == NULL) {
		free(copy);
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	}
	cfg->args = args;
	cfg->args[cfg->nargs++] = copy;
	return 0;
}

static long find_flag(const struct config *cfg, const char *flag, size_t len)
{
	for (size_t i = 0; i < cfg->count; i++) {
		const char *f = cfg->table[i].flag;
		if (f != NULL && strlen(f) == len && strncmp(f, flag, len) == 0)
			return (long)i;
	}
	return -1;
}

/*
 * Reads argv into pending flags, positional arguments, the --config path and
 * the help/version requests. *npending counts the flags stored.
 */
static int parse_argv(struct config *cfg, int argc, char *const argv[], struct pending *pending,
                      size_t *npending, const char **config_path, char *errbuf, size_t errbuf_size)
{
	char q[160];
	int only_args = 0;

	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a];

		if (only_args || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (add_arg(cfg, arg, errbuf, errbuf_size) < 0)
				return CONFIG_ERR;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_args = 1;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cfg->help = 1;
			continue;
		}
		if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
			cfg->version = 1;
			continue;
		}

		const char *eq = strchr(arg, '=');
		size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		const char *value = eq != NULL ? eq + 1 : NULL;
		long i = arg[1] == '-' ? find_flag(cfg, arg, len) : -1;
		int is_config = len == 8 && strncmp(arg, "--config", 8) == 0;

		if (i < 0 && !is_config) {
			char name[CONFIG_NAME_MAX];
			snprintf(name, sizeof(name), "%.*s", (int)len, arg);
			return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: unknown flag %s",
			               quote(q, sizeof(q), name));
		}
		const char *flag = is_config ? "--config" : cfg->table[i].flag;
		if (value == NULL && !is_config && cfg->table[i].type == CONFIG_BOOL)
			value = "true";
		if (value == NULL) {
			if (a + 1 >= argc)
				return err_set(errbuf, errbuf_size, CONFIG_ERR,
				               "config: %s: missing value", flag);
			value = argv[++a];
		}
		if (is_config) {
			if (value[0] == '\0')
				return err_set(errbuf, errbuf_size, CONFIG_ERR,
				               "config: --config: missing value");
			*config_path = value;
			continue;
		}
		pending[*npending].option = (size_t)i;
		pending[*npending].value = value;
		(*npending)++;
	}
	return 0;
}

int config_load(const struct config_option *table, int argc, char *const argv[],
                struct config **out, char *errbuf, size_t errbuf_size)
{
	struct config *cfg;
	struct pending *pending;
	size_t npending = 0;
	const char *path = NULL, *via = "--config";
	int rc;

	*out = NULL;
	if (config_new(table, &cfg, errbuf, errbuf_size) < 0)
		return CONFIG_ERR;
	pending = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*pending));
	if (pending == NULL) {
		config_free(cfg);
		return err_set(errbuf, errbuf_size, CONFIG_ERR, "config: out of memory");
	}
	rc = parse_argv(cfg, argc, argv, pending, &npending, &path, errbuf, errbuf_size);
	if (rc == 0 && (cfg->help || cfg->version))
		goto out;
	if (rc == 0 && path == NULL) {
		path = getenv(CONFIG_FILE_ENV);
		via = CONFIG_FILE_ENV;
		if (path != NULL && path[0] == '\0')
			path = NULL;
	}
	if (rc == 0 && path != NULL)
		rc = load_file(cfg, path, via, errbuf, errbuf_size);
	if (rc == 0)
		rc = config_load_env(cfg, errbuf, errbuf_size);
	for (size_t p = 0; rc == 0 && p < npending; p++) {
		const struct config_option *opt = &table[pending[p].option];
		struct source src = {CONFIG_ORIGIN_FLAG, opt->flag, 0};
		rc = set_value(cfg, pending[p].option, pending[p].value, &src, errbuf, errbuf_size);
	}
out:
	free(pending);
	if (rc < 0) {
		config_free(cfg);
		return CONFIG_ERR;
	}
	*out = cfg;
	return 0;
}

/* ---- getters ------------------------------------------------------------ */

/* A wrong name or type is a bug in the caller, not a user error. */
static size_t lookup(const struct config *cfg, const char *name, const char *getter,
                     enum config_type want, enum config_type also)
{
	long i = cfg != NULL && name != NULL ? find_option(cfg, name) : -1;

	if (i < 0) {
		fprintf(stderr, "%s: no option \"%s\" in the table\n", getter,
		        name != NULL ? name : "(null)");
		abort();
	}
	if (cfg->table[i].type != want && cfg->table[i].type != also) {
		fprintf(stderr, "%s: option \"%s\" is of type %s\n", getter, name,
		        type_names[cfg->table[i].type]);
		abort();
	}
	return (size_t)i;
}

const char *config_get_string(const struct config *cfg, const char *name)
{
	return cfg->values[lookup(cfg, name, __func__, CONFIG_STRING, CONFIG_ENUM)].str;
}

long long config_get_int(const struct config *cfg, const char *name)
{
	return cfg->values[lookup(cfg, name, __func__, CONFIG_INT, CONFIG_INT)].num;
}

int config_get_bool(const struct config *cfg, const char *name)
{
	return (int)cfg->values[lookup(cfg, name, __func__, CONFIG_BOOL, CONFIG_BOOL)].num;
}

long long config_get_duration_ms(const struct config *cfg, const char *name)
{
	return cfg->values[lookup(cfg, name, __func__, CONFIG_DURATION, CONFIG_DURATION)].num;
}

enum config_origin config_get_origin(const struct config *cfg, const char *name)
{
	long i = cfg != NULL && name != NULL ? find_option(cfg, name) : -1;

	if (i < 0) {
		fprintf(stderr, "%s: no option \"%s\" in the table\n", __func__,
		        name != NULL ? name : "(null)");
		abort();
	}
	return cfg->values[i].origin;
}

const char *config_origin_name(enum config_origin origin)
{
	switch (origin) {
	case CONFIG_ORIGIN_DEFAULT:
		return "default";
	case CONFIG_ORIGIN_FILE:
		return "file";
	case CONFIG_ORIGIN_ENV:
		return "environment";
	case CONFIG_ORIGIN_FLAG:
		return "flag";
	default:
		return "unset";
	}
}

const char *config_file(const struct config *cfg)
{
	return cfg->file;
}

int config_argc(const struct config *cfg)
{
	return cfg->nargs;
}

const char *config_arg(const struct config *cfg, int i)
{
	return i >= 0 && i < cfg->nargs ? cfg->args[i] : NULL;
}

int config_help_requested(const struct config *cfg)
{
	return cfg->help;
}

int config_version_requested(const struct config *cfg)
{
	return cfg->version;
}

/* ---- help --------------------------------------------------------------- */

static void print_value_name(const struct config_option *o, FILE *out)
{
	char list[512];

	switch (o->type) {
	case CONFIG_BOOL:
		fputs("[=true|false]", out);
		break;
	case CONFIG_ENUM:
		join_choices(list, sizeof(list), o->choices);
		fputc(' ', out);
		for (const char *p = list; *p != '\0'; p++) {
			if (p[0] == ',' && p[1] == ' ') {
				fputc('|', out);
				p++;
			} else {
				fputc(*p, out);
			}
		}
		break;
	case CONFIG_INT:
		fputs(" INT", out);
		if (o->min < o->max)
			fprintf(out, " (%lld..%lld)", o->min, o->max);
		break;
	case CONFIG_DURATION: {
		char lo[32], hi[32];
		fputs(" DURATION", out);
		if (o->min < o->max)
			fprintf(out, " (%s..%s)", format_duration(lo, sizeof(lo), o->min),
			        format_duration(hi, sizeof(hi), o->max));
		break;
	}
	default:
		fputs(" STRING", out);
		break;
	}
}

void config_print_help(const struct config_option *table, FILE *out)
{
	fputs("Options:\n", out);
	for (const struct config_option *o = table; o->name != NULL; o++) {
		const char *sep = "";

		if (o->flag != NULL)
			fprintf(out, "  %s", o->flag);
		else
			fprintf(out, "  (file only) %s:", o->name);
		print_value_name(o, out);
		fprintf(out, "\n      %s\n      ", o->help != NULL ? o->help : "");
		if (o->env != NULL) {
			fprintf(out, "env %s", o->env);
			sep = ", ";
		}
		if (o->flag != NULL) {
			fprintf(out, "%sfile %s", sep, o->name);
			sep = ", ";
		}
		if (o->def != NULL)
			fprintf(out, "%sdefault %s", sep, o->def[0] != '\0' ? o->def : "\"\"");
		fputc('\n', out);
	}
	fputs("  --config FILE\n"
	      "      YAML file of options, keyed by the file names above (nested mappings\n"
	      "      or dotted keys). Precedence: defaults < file < environment < flags.\n"
	      "      env " CONFIG_FILE_ENV "\n"
	      "  -h, --help\n"
	      "      Print this help and exit.\n"
	      "  -V, --version\n"
	      "      Print the version and exit.\n",
	      out);
}
