/* yaml_json.c -- YAML to cJSON through libyaml's event parser; see
 * yaml_json.h. Events rather than libyaml's document API because only
 * events say whether a scalar had an explicit tag, which decides between
 * `!!str 10` (a string) and `10` (a number). */
#include "yaml_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
	char *name;
	cJSON *node; /* owned by the tree being built */
};

struct yj {
	yaml_parser_t parser;
	char *errbuf;
	size_t errbuf_size;
	size_t nodes;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
};

__attribute__((format(printf, 3, 4))) static int fail_at(struct yj *y, const yaml_mark_t *mark,
                                                         const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A quoted scalar may hold a newline; the message stays one line. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	snprintf(y->errbuf, y->errbuf_size, "yaml: line %zu column %zu: %s", mark->line + 1,
	         mark->column + 1, msg);
	return -1;
}

static int next_event(struct yj *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->parser, ev))
		return 0;
	snprintf(y->errbuf, y->errbuf_size, "yaml: line %zu column %zu: %s%s%s",
	         y->parser.problem_mark.line + 1, y->parser.problem_mark.column + 1,
	         y->parser.problem != NULL ? y->parser.problem : "syntax error",
	         y->parser.context != NULL ? " " : "",
	         y->parser.context != NULL ? y->parser.context : "");
	return -1;
}

static int count_nodes(struct yj *y, size_t n, const yaml_mark_t *mark)
{
	y->nodes += n;
	if (y->nodes > YAML_JSON_NODES_MAX)
		return fail_at(y, mark, "more than %d values (aliases expanded)",
		               YAML_JSON_NODES_MAX);
	return 0;
}

static size_t tree_size(const cJSON *node)
{
	size_t n = 1;

	for (const cJSON *c = node->child; c != NULL; c = c->next)
		n += tree_size(c);
	return n;
}

static int remember_anchor(struct yj *y, const yaml_char_t *name, cJSON *node)
{
	if (name == NULL)
		return 0;
	if (y->nanchors == y->anchors_cap) {
		size_t cap = y->anchors_cap ? y->anchors_cap * 2 : 8;
		struct anchor *a = realloc(y->anchors, cap * sizeof(*a));

		if (a == NULL)
			return -1;
		y->anchors = a;
		y->anchors_cap = cap;
	}
	y->anchors[y->nanchors].name = strdup((const char *)name);
	if (y->anchors[y->nanchors].name == NULL)
		return -1;
	y->anchors[y->nanchors++].node = node;
	return 0;
}

/* Whole-string matches of the core schema's plain-scalar forms. */
static int is_null(const char *s)
{
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int is_bool(const char *s, int *v)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
		*v = 1;
		return 1;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
		*v = 0;
		return 1;
	}
	return 0;
}

static int is_number(const char *s, double *v)
{
	const char *p = s;
	char *end;
	int digits = 0;

	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0o", 2) == 0) {
		unsigned long long u;

		if (s[2] == '\0' || s[2] == '-' || s[2] == '+')
			return 0;
		errno = 0;
		u = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
		if (errno != 0 || *end != '\0')
			return 0;
		*v = (double)u;
		return 1;
	}
	/* [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )? */
	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits == 0)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return 0;
	errno = 0;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v);
}

/* n, or NULL with "out of memory" said when cJSON could not allocate. */
static cJSON *made(struct yj *y, cJSON *n)
{
	if (n == NULL)
		snprintf(y->errbuf, y->errbuf_size, "yaml: out of memory");
	return n;
}

/* The scalar as JSON, or NULL with the reason in errbuf. */
static cJSON *scalar(struct yj *y, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	double d;
	int b;

	if (tag != NULL && strcmp(tag, "!") != 0) {
		if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
			fail_at(y, &ev->start_mark, "unsupported tag %s", tag);
			return NULL;
		}
		tag += strlen(TAG_PREFIX);
		if (strcmp(tag, "str") == 0)
			return made(y, cJSON_CreateString(s));
		if (strcmp(tag, "null") == 0 && is_null(s))
			return made(y, cJSON_CreateNull());
		if (strcmp(tag, "bool") == 0 && is_bool(s, &b))
			return made(y, cJSON_CreateBool(b));
		if ((strcmp(tag, "int") == 0 || strcmp(tag, "float") == 0) && is_number(s, &d))
			return made(y, cJSON_CreateNumber(d));
		fail_at(y, &ev->start_mark, "\"%s\" is not a valid !!%s", s, tag);
		return NULL;
	}
	if (!plain || tag != NULL) /* quoted, block, or the non-specific "!" */
		return made(y, cJSON_CreateString(s));
	if (is_null(s))
		return made(y, cJSON_CreateNull());
	if (is_bool(s, &b))
		return made(y, cJSON_CreateBool(b));
	if (is_number(s, &d))
		return made(y, cJSON_CreateNumber(d));
	return made(y, cJSON_CreateString(s));
}

static cJSON *node(struct yj *y, yaml_event_t *ev, int depth);

/* Reads the members of a mapping after its start event. */
static int mapping(struct yj *y, cJSON *obj, int depth)
{
	for (;;) {
		yaml_event_t key, val;
		cJSON *child;
		char *name;

		if (next_event(y, &key) < 0)
			return -1;
		if (key.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&key);
			return 0;
		}
		if (key.type != YAML_SCALAR_EVENT) {
			fail_at(y, &key.start_mark, "mapping keys must be plain strings");
			yaml_event_delete(&key);
			return -1;
		}
		if (cJSON_GetObjectItemCaseSensitive(obj, (const char *)key.data.scalar.value)) {
			fail_at(y, &key.start_mark, "duplicate key \"%s\"",
			        (const char *)key.data.scalar.value);
			yaml_event_delete(&key);
			return -1;
		}
		name = strdup((const char *)key.data.scalar.value);
		yaml_event_delete(&key);
		if (name == NULL || next_event(y, &val) < 0) {
			if (name == NULL)
				snprintf(y->errbuf, y->errbuf_size, "yaml: out of memory");
			free(name);
			return -1;
		}
		child = node(y, &val, depth + 1);
		yaml_event_delete(&val);
		if (child == NULL) {
			free(name);
			return -1;
		}
		cJSON_AddItemToObject(obj, name, child);
		free(name);
	}
}

static int sequence(struct yj *y, cJSON *arr, int depth)
{
	for (;;) {
		yaml_event_t ev;
		cJSON *child;

		if (next_event(y, &ev) < 0)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		child = node(y, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (child == NULL)
			return -1;
		cJSON_AddItemToArray(arr, child);
	}
}

/* Builds the node that starts with ev (the caller deletes ev). */
static cJSON *node(struct yj *y, yaml_event_t *ev, int depth)
{
	const yaml_char_t *anchor = NULL;
	cJSON *n = NULL;

	if (depth >= YAML_JSON_DEPTH_MAX) { /* depth counts from 0 */
		fail_at(y, &ev->start_mark, "nested deeper than %d", YAML_JSON_DEPTH_MAX);
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		for (size_t i = y->nanchors; i-- > 0;) {
			if (strcmp(y->anchors[i].name, (const char *)ev->data.alias.anchor) == 0) {
				if (count_nodes(y, tree_size(y->anchors[i].node), &ev->start_mark) <
				    0)
					return NULL;
				n = cJSON_Duplicate(y->anchors[i].node, 1);
				if (n == NULL)
					goto nomem;
				return n;
			}
		}
		fail_at(y, &ev->start_mark, "unknown alias *%s",
		        (const char *)ev->data.alias.anchor);
		return NULL;
	case YAML_SCALAR_EVENT:
		if (count_nodes(y, 1, &ev->start_mark) < 0)
			return NULL;
		anchor = ev->data.scalar.anchor;
		n = scalar(y, ev);
		if (n == NULL)
			return NULL;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int is_map = ev->type == YAML_MAPPING_START_EVENT;

		if (count_nodes(y, 1, &ev->start_mark) < 0)
			return NULL;
		anchor = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		n = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
		if (n == NULL)
			goto nomem;
		if ((is_map ? mapping(y, n, depth) : sequence(y, n, depth)) < 0) {
			cJSON_Delete(n);
			return NULL;
		}
		break;
	}
	default:
		fail_at(y, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
	/* Registered when complete, so an alias inside its own anchor's node
	 * (a recursive structure) is "unknown" instead of infinite. */
	if (remember_anchor(y, anchor, n) < 0) {
		cJSON_Delete(n);
		goto nomem;
	}
	return n;
nomem:
	snprintf(y->errbuf, y->errbuf_size, "yaml: out of memory");
	return NULL;
}

/* Expects the next event to be of type want; fails with what if not. */
static int expect(struct yj *y, yaml_event_type_t want, const char *what)
{
	yaml_event_t ev;
	int ok;

	if (next_event(y, &ev) < 0)
		return -1;
	ok = ev.type == want;
	if (!ok)
		fail_at(y, &ev.start_mark, "%s", what);
	yaml_event_delete(&ev);
	return ok ? 0 : -1;
}

int yaml_json_parse(const char *data, size_t len, cJSON **out, char *errbuf, size_t errbuf_size)
{
	struct yj y;
	yaml_event_t ev;
	cJSON *root = NULL;
	int rc = -1;

	memset(&y, 0, sizeof(y));
	y.errbuf = errbuf;
	y.errbuf_size = errbuf_size;
	if (errbuf_size > 0)
		errbuf[0] = '\0';
	*out = NULL;
	if (!yaml_parser_initialize(&y.parser)) {
		snprintf(errbuf, errbuf_size, "yaml: out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)data, len);

	if (expect(&y, YAML_STREAM_START_EVENT, "not a YAML stream") < 0 || next_event(&y, &ev) < 0)
		goto done;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		snprintf(errbuf, errbuf_size, "yaml: the file holds no document");
		yaml_event_delete(&ev);
		goto done;
	}
	yaml_event_delete(&ev);
	if (next_event(&y, &ev) < 0)
		goto done;
	root = node(&y, &ev, 0);
	yaml_event_delete(&ev);
	if (root == NULL ||
	    expect(&y, YAML_DOCUMENT_END_EVENT, "expected the end of the document") < 0 ||
	    expect(&y, YAML_STREAM_END_EVENT, "more than one document; give one") < 0)
		goto done;
	*out = root;
	root = NULL;
	rc = 0;
done:
	cJSON_Delete(root);
	for (size_t i = 0; i < y.nanchors; i++)
		free(y.anchors[i].name);
	free(y.anchors);
	yaml_parser_delete(&y.parser);
	return rc;
}
