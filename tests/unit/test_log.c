/* Unit tests for lib/log.c: exact lines, levels, escaping, truncation, threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"

/* 2026-11-23T05:00:00.123Z */
static void fixed_clock(struct timespec *now)
{
	now->tv_sec = 1795410000;
	now->tv_nsec = 123456789;
}

struct capture {
	FILE *f;
	char *buf;
	size_t size;
};

static int setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->f = open_memstream(&c->buf, &c->size);
	if (c->f == NULL) {
		free(c);
		return -1;
	}
	log_set_output(c->f);
	log_set_clock(fixed_clock);
	log_set_component("operator");
	log_set_level(LOG_LEVEL_INFO);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct capture *c = *state;
	log_set_output(NULL);
	log_set_clock(NULL);
	log_set_component(NULL);
	log_set_level(LOG_LEVEL_INFO);
	fclose(c->f);
	free(c->buf);
	free(c);
	return 0;
}

/* Everything logged so far; valid until the next log call. */
static const char *captured(void **state)
{
	struct capture *c = *state;
	fflush(c->f);
	return c->buf;
}

#define PREFIX "{\"ts\":\"2026-11-23T05:00:00.123Z\",\"level\":\"info\",\"component\":\"operator\","

static void test_level_parse(void **state)
{
	(void)state;
	enum log_level level = LOG_LEVEL_ERROR;

	assert_int_equal(log_level_parse("debug", &level), 0);
	assert_int_equal(level, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("info", &level), 0);
	assert_int_equal(level, LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("warn", &level), 0);
	assert_int_equal(level, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("error", &level), 0);
	assert_int_equal(level, LOG_LEVEL_ERROR);

	assert_int_equal(log_level_parse("INFO", &level), -1);
	assert_int_equal(log_level_parse("warning", &level), -1);
	assert_int_equal(log_level_parse("", &level), -1);
	assert_int_equal(log_level_parse("info ", &level), -1);
	assert_int_equal(log_level_parse(NULL, &level), -1);
	assert_int_equal(level, LOG_LEVEL_ERROR); /* untouched on error */

	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
	assert_string_equal(log_level_name((enum log_level)7), "unknown");
	assert_string_equal(log_level_name((enum log_level) - 1), "unknown");
}

static void test_exact_line(void **state)
{
	log_info("watch restarted", "resource", "videojobs", "reason", "410 Gone", NULL);
	assert_string_equal(captured(state),
	                    PREFIX "\"msg\":\"watch restarted\","
	                           "\"resource\":\"videojobs\",\"reason\":\"410 Gone\"}\n");
}

static void test_no_fields_and_levels(void **state)
{
	log_set_level(LOG_LEVEL_WARN);
	log_debug("d", NULL);
	log_info("i", NULL);
	assert_string_equal(captured(state), "");
	log_warn("w", NULL);
	log_error("e", NULL);
	assert_string_equal(captured(state),
	                    "{\"ts\":\"2026-11-23T05:00:00.123Z\",\"level\":\"warn\","
	                    "\"component\":\"operator\",\"msg\":\"w\"}\n"
	                    "{\"ts\":\"2026-11-23T05:00:00.123Z\",\"level\":\"error\","
	                    "\"component\":\"operator\",\"msg\":\"e\"}\n");
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);

	log_set_level(LOG_LEVEL_DEBUG);
	assert_true(log_enabled(LOG_LEVEL_DEBUG));
}

static void test_msg_is_not_a_format(void **state)
{
	log_info("100%s %d %n%%", "k", "%s", NULL);
	assert_string_equal(captured(state), PREFIX "\"msg\":\"100%s %d %n%%\",\"k\":\"%s\"}\n");
}

static void test_escaping(void **state)
{
	log_info("q\"b\\n\nt\tr\rB\bF\f", "ctl", "\x01\x1f\x7f", "utf8",
	         "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x8e\xac", NULL);
	assert_string_equal(captured(state),
	                    PREFIX "\"msg\":\"q\\\"b\\\\n\\nt\\tr\\rB\\bF\\f\","
	                           "\"ctl\":\"\\u0001\\u001f\\u007f\","
	                           "\"utf8\":\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x8e\xac\"}\n");
}

static void test_invalid_utf8(void **state)
{
	/* lone continuation, invalid lead, overlong '/', surrogate D800, above
	 * U+10FFFF, and a sequence cut short by the end of the string */
	log_info("m", "bad",
	         "a\x80"
	         "b\xff"
	         "c\xc0\xaf"
	         "d\xed\xa0\x80"
	         "e\xf4\x90\x80\x80"
	         "f\xe6\x97",
	         NULL);
	assert_string_equal(
	    captured(state),
	    PREFIX "\"msg\":\"m\",\"bad\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd"
	           "d\\ufffd\\ufffd\\ufffde\\ufffd\\ufffd\\ufffd\\ufffdf\\ufffd\\ufffd\"}\n");
}

static void test_reserved_keys_and_null_value(void **state)
{
	log_info("m", "msg", "x", "level", "y", "ts", "z", "component", "c", "truncated", "t",
	         NULL);
	assert_string_equal(captured(state),
	                    PREFIX "\"msg\":\"m\",\"_msg\":\"x\",\"_level\":\"y\",\"_ts\":\"z\","
	                           "\"_component\":\"c\",\"_truncated\":\"t\"}\n");
}

static void test_null_value_ends_list(void **state)
{
	const char *missing = NULL;
	log_info("m", "a", "1", "b", missing, "c", "3", NULL);
	assert_string_equal(captured(state), PREFIX "\"msg\":\"m\",\"a\":\"1\",\"b\":null}\n");
}

static void test_null_msg(void **state)
{
	log_info(NULL, NULL);
	assert_string_equal(captured(state), PREFIX "\"msg\":\"\"}\n");
}

static void test_component(void **state)
{
	char long_name[200];

	log_set_component("worker \"x\"");
	log_info("m", NULL);
	assert_non_null(strstr(captured(state), "\"component\":\"worker \\\"x\\\"\""));

	/* Cut to 63 bytes without splitting the two-byte character at 62..63. */
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name + 62, "\xc3\xa9", 2);
	long_name[199] = '\0';
	log_set_component(long_name);
	log_info("n", NULL);
	char expect[128];
	snprintf(expect, sizeof(expect), "\"component\":\"%.62s\",\"msg\":\"n\"", long_name);
	assert_non_null(strstr(captured(state), expect));
}

/* Parses the single line in s and returns it (caller deletes). */
static cJSON *parse_line(const char *s)
{
	size_t n = strlen(s);
	assert_true(n > 0);
	assert_int_equal(s[n - 1], '\n');
	assert_null(memchr(s, '\n', n - 1));
	cJSON *obj = cJSON_ParseWithLength(s, n);
	assert_non_null(obj);
	return obj;
}

static void test_truncated_msg(void **state)
{
	char *big = malloc(10001);
	assert_non_null(big);
	memset(big, 'a', 10000);
	big[10000] = '\0';
	log_info(big, "after", "x", NULL);
	free(big);

	const char *out = captured(state);
	size_t n = strlen(out);
	assert_true(n <= LOG_LINE_MAX);
	assert_string_equal(out + n - 21, "a\",\"truncated\":true}\n");
	assert_null(strstr(out, "after"));
	cJSON *obj = parse_line(out);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")));
	cJSON_Delete(obj);
}

static void test_truncation_keeps_characters_whole(void **state)
{
	/* 5000 two-byte characters cannot fit; the cut must fall between them. */
	char *big = malloc(10001);
	assert_non_null(big);
	for (int i = 0; i < 5000; i++)
		memcpy(big + 2 * i, "\xc3\xa9", 2);
	big[10000] = '\0';
	log_info("m", "v", big, NULL);
	free(big);

	cJSON *obj = parse_line(captured(state));
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(obj, "v"));
	assert_non_null(v);
	assert_true(strlen(v) > 7000);
	assert_int_equal(strlen(v) % 2, 0);
	assert_int_equal((unsigned char)v[strlen(v) - 2], 0xc3);
	cJSON_Delete(obj);
}

static void test_field_that_does_not_fit_is_dropped_whole(void **state)
{
	const char *head = PREFIX "\"msg\":\"m\"";
	/* Fill the line so that exactly 5 bytes of room are left after the
	 * first field: the second field cannot fit and is dropped. */
	size_t room = LOG_LINE_MAX - sizeof(",\"truncated\":true}\n");
	size_t vlen = room - strlen(head) - strlen(",\"a\":\"\"") - 5;
	char *v = malloc(vlen + 1);
	assert_non_null(v);
	memset(v, 'v', vlen);
	v[vlen] = '\0';
	log_info("m", "a", v, "abcdefgh", "x", NULL);

	const char *out = captured(state);
	assert_int_equal(strlen(out), strlen(head) + strlen(",\"a\":\"\"") + vlen +
	                                  strlen(",\"truncated\":true}\n"));
	assert_null(strstr(out, "abcdefgh"));
	cJSON *obj = parse_line(out);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "a")), v);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(obj, "truncated")));
	cJSON_Delete(obj);
	free(v);
}

static void test_json_escape_bounds(void **state)
{
	(void)state;
	char dst[16];

	assert_int_equal(log_json_escape(dst, sizeof(dst), "plain", 5), 5);
	assert_string_equal(dst, "plain");
	/* 'a','b' fit; the escaped quote needs 2 bytes + NUL and does not. */
	assert_int_equal(log_json_escape(dst, 4, "ab\"c", 4), 2);
	assert_string_equal(dst, "ab");
	/* \u0001 needs 6 bytes + NUL */
	assert_int_equal(log_json_escape(dst, 6, "\x01", 1), 0);
	assert_string_equal(dst, "");
	assert_int_equal(log_json_escape(dst, 7, "\x01", 1), 1);
	assert_string_equal(dst, "\\u0001");
	/* Embedded NUL is escaped, not a terminator. */
	assert_int_equal(log_json_escape(dst, sizeof(dst), "a\0b", 3), 3);
	assert_string_equal(dst, "a\\u0000b");
	assert_int_equal(log_json_escape(dst, 0, "x", 1), 0);
	/* A multi-byte character is written whole or not at all. */
	assert_int_equal(log_json_escape(dst, 3, "x\xe6\x97\xa5", 4), 1);
	assert_string_equal(dst, "x");
}

static void *log_many(void *arg)
{
	const char *name = arg;
	for (int i = 0; i < 200; i++)
		log_info("from a thread", "thread", name, "payload",
		         "0123456789012345678901234567890123456789", NULL);
	return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
	pthread_t t[4];
	const char *names[4] = {"t0", "t1", "t2", "t3"};

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_many, (void *)names[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);

	const char *p = captured(state);
	int lines = 0;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		cJSON *obj = cJSON_ParseWithLength(p, (size_t)(nl - p));
		assert_non_null(obj);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "msg")),
		                    "from a thread");
		cJSON_Delete(obj);
		lines++;
		p = nl + 1;
	}
	assert_int_equal(lines, 800);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_level_parse),
	    cmocka_unit_test_setup_teardown(test_exact_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_fields_and_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msg_is_not_a_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reserved_keys_and_null_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_null_value_ends_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_null_msg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_component, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_msg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncation_keeps_characters_whole, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_field_that_does_not_fit_is_dropped_whole, setup,
	                                    teardown),
	    cmocka_unit_test(test_json_escape_bounds),
	    cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
