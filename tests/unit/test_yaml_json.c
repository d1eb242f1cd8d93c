/* Unit tests for lib/yaml_json.c: core-schema scalars, tags, anchors
 * and aliases, structure, every error, and the bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "yaml_json.h"

/* Converts yaml and compares the compact JSON with want. */
static void same(const char *yaml, const char *want)
{
	cJSON *j = NULL;
	char err[256] = "";
	char *got;

	if (yaml_json_parse(yaml, strlen(yaml), &j, err, sizeof(err)) != 0)
		fail_msg("%s: %s", yaml, err);
	got = cJSON_PrintUnformatted(j);
	if (strcmp(got, want) != 0)
		fail_msg("yaml %s\n got  %s\n want %s", yaml, got, want);
	free(got);
	cJSON_Delete(j);
}

static void refused(const char *yaml, const char *want)
{
	cJSON *j = NULL;
	char err[256] = "";

	assert_int_equal(yaml_json_parse(yaml, strlen(yaml), &j, err, sizeof(err)), -1);
	assert_null(j);
	if (strcmp(err, want) != 0)
		fail_msg("yaml %s\n got  %s\n want %s", yaml, err, want);
}

static void test_scalars(void **state)
{
	(void)state;
	same("a: 1", "{\"a\":1}");
	same("a: -1.5e3", "{\"a\":-1500}");
	same("a: .5", "{\"a\":0.5}");
	same("a: +7", "{\"a\":7}");
	same("a: 0x1F", "{\"a\":31}");
	same("a: 0o17", "{\"a\":15}");
	same("a: true\nb: False\nc: TRUE", "{\"a\":true,\"b\":false,\"c\":true}");
	same("a: yes\nb: on\nc: no", "{\"a\":\"yes\",\"b\":\"on\",\"c\":\"no\"}"); /* YAML 1.2 */
	same("a: ~\nb: null\nc:\nd: NULL", "{\"a\":null,\"b\":null,\"c\":null,\"d\":null}");
	same("a: 30s\nb: 1m30s\nc: 127.0.0.1:9092",
	     "{\"a\":\"30s\",\"b\":\"1m30s\",\"c\":\"127.0.0.1:9092\"}");
	same("a: \"1\"\nb: '2'\nc: \"true\"", "{\"a\":\"1\",\"b\":\"2\",\"c\":\"true\"}");
	same("a: 1.2.3\nb: 0x\nc: 1e\nd: .\ne: -x",
	     "{\"a\":\"1.2.3\",\"b\":\"0x\",\"c\":\"1e\",\"d\":\".\",\"e\":\"-x\"}");
	same("a: .inf\nb: .nan", "{\"a\":\".inf\",\"b\":\".nan\"}");
	same("a: |\n  line1\n  line2\n", "{\"a\":\"line1\\nline2\\n\"}");
	same("a: >\n  folded\n  text\n", "{\"a\":\"folded text\\n\"}");
	same("a: \"%Y-%m-%d %H:%M:%S\"", "{\"a\":\"%Y-%m-%d %H:%M:%S\"}");
	same("a: é", "{\"a\":\"é\"}");
}

static void test_tags(void **state)
{
	(void)state;
	same("a: !!str 10\nb: !!int \"10\"\nc: !!float 1\nd: !!bool true\ne: !!null ~",
	     "{\"a\":\"10\",\"b\":10,\"c\":1,\"d\":true,\"e\":null}");
	same("a: ! 10", "{\"a\":\"10\"}");
	same("a: !!map {b: 1}\nc: !!seq [1]", "{\"a\":{\"b\":1},\"c\":[1]}");
	refused("a: !!int ten", "yaml: line 1 column 4: \"ten\" is not a valid !!int");
	refused("a: !!bool maybe", "yaml: line 1 column 4: \"maybe\" is not a valid !!bool");
	refused("a: !custom x", "yaml: line 1 column 4: unsupported tag !custom");
}

static void test_collections(void **state)
{
	(void)state;
	same("[1, two, {three: 3}]", "[1,\"two\",{\"three\":3}]");
	same("a:\n  - x\n  - y: [1, 2]\n", "{\"a\":[\"x\",{\"y\":[1,2]}]}");
	same("a: {}\nb: []", "{\"a\":{},\"b\":[]}");
	same("---\nscalar\n...\n", "\"scalar\"");
	same("1: one\ntrue: yes", "{\"1\":\"one\",\"true\":\"yes\"}"); /* keys are text */
	same("# only a comment\na: 1 # trailing\n", "{\"a\":1}");
}

static void test_anchors(void **state)
{
	(void)state;
	same("base: &b {size: 30s, slide: 10s}\nw: *b",
	     "{\"base\":{\"size\":\"30s\",\"slide\":\"10s\"},\"w\":{\"size\":\"30s\",\"slide\":"
	     "\"10s\"}}");
	same("a: &x 1\nb: *x\nc: &x 2\nd: *x", "{\"a\":1,\"b\":1,\"c\":2,\"d\":2}");
	refused("a: *nope", "yaml: line 1 column 4: unknown alias *nope");
	/* An alias inside its own anchor's node cannot be expanded. */
	refused("a: &r [*r]", "yaml: line 1 column 8: unknown alias *r");
}

static void test_errors(void **state)
{
	(void)state;
	refused("", "yaml: the file holds no document");
	refused("# nothing\n", "yaml: the file holds no document");
	refused("a: 1\n---\nb: 2\n", "yaml: line 2 column 1: more than one document; give one");
	refused("a: 1\na: 2\n", "yaml: line 2 column 1: duplicate key \"a\"");
	refused("? [1]\n: x\n", "yaml: line 1 column 3: mapping keys must be plain strings");
	refused("a: [1, 2\n", "yaml: line 2 column 1: did not find expected ',' or ']' while "
	                      "parsing a flow sequence");
	refused("a: b: c\n",
	        "yaml: line 1 column 5: mapping values are not allowed in this context");
	refused("a:\n\tb: 1\n", "yaml: line 2 column 1: found character that cannot start any "
	                        "token while scanning for the next token");
}

static void test_bounds(void **state)
{
	char deep[4096];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < YAML_JSON_DEPTH_MAX + 1; i++)
		deep[n++] = '[';
	for (int i = 0; i < YAML_JSON_DEPTH_MAX + 1; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	refused(deep, "yaml: line 1 column 65: nested deeper than 64");
	deep[0] = ' '; /* 64 levels: fine */
	deep[n - 1] = '\0';
	{
		cJSON *j;
		char err[256];

		assert_int_equal(yaml_json_parse(deep, strlen(deep), &j, err, sizeof(err)), 0);
		cJSON_Delete(j);
	}
	/* A "billion laughs": each level doubles the expansion ten times. */
	refused("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
	        "yaml: line 5 column 36: more than 100000 values (aliases expanded)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars),     cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_collections), cmocka_unit_test(test_anchors),
	    cmocka_unit_test(test_errors),      cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
