/* Unit tests for lib/app.c: --help, --version, usage errors, start, signal, stop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "app.h"
#include "log.h"
#include "version.h"

static const struct config_option options[] = {
    APP_COMMON_OPTIONS("7070"),
    {.name = "extra", .flag = "--extra", .type = CONFIG_STRING, .def = "x", .help = "Extra."},
    {0},
};

struct streams {
	FILE *out, *err, *log;
	char *out_buf, *err_buf, *log_buf;
	size_t out_size, err_size, log_size;
	struct app app;
};

static int setup(void **state)
{
	struct streams *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	s->out = open_memstream(&s->out_buf, &s->out_size);
	s->err = open_memstream(&s->err_buf, &s->err_size);
	s->log = open_memstream(&s->log_buf, &s->log_size);
	if (s->out == NULL || s->err == NULL || s->log == NULL)
		return -1;
	log_set_output(s->log);
	unsetenv("SLUICE_LOG_LEVEL");
	unsetenv("SLUICE_METRICS_ADDR");
	unsetenv("SLUICE_METRICS_PORT");
	unsetenv("SLUICE_CONFIG");
	s->app = (struct app){.program = "sluice-test",
	                      .component = "test",
	                      .usage = "Usage: sluice-test [options] [ARG]\n",
	                      .epilog = "Modes:\n  none\n",
	                      .options = options,
	                      .max_args = 1,
	                      .out = s->out,
	                      .err = s->err};
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct streams *s = *state;
	app_stop(&s->app);
	log_set_output(NULL);
	log_set_component(NULL);
	log_set_level(LOG_LEVEL_INFO);
	fclose(s->out);
	fclose(s->err);
	fclose(s->log);
	free(s->out_buf);
	free(s->err_buf);
	free(s->log_buf);
	free(s);
	return 0;
}

static int parse(struct streams *s, int *status, ...)
{
	char *argv[16] = {(char *)"sluice-test"};
	int argc = 1;
	va_list ap;

	va_start(ap, status);
	for (char *a = va_arg(ap, char *); a != NULL; a = va_arg(ap, char *))
		argv[argc++] = a;
	va_end(ap);
	int rc = app_parse(&s->app, argc, argv, status);
	fflush(s->out);
	fflush(s->err);
	return rc;
}

static void test_version(void **state)
{
	struct streams *s = *state;
	int status = -1;

	assert_int_equal(parse(s, &status, "--version", NULL), APP_ERR);
	assert_int_equal(status, 0);
	assert_string_equal(s->out_buf,
	                    "sluice-test " SLUICE_VERSION " (git " SLUICE_GIT_REV ")\n");
	assert_string_equal(s->err_buf, "");
	assert_null(s->app.cfg);
}

static void test_help(void **state)
{
	struct streams *s = *state;
	int status = -1;

	assert_int_equal(parse(s, &status, "-h", NULL), APP_ERR);
	assert_int_equal(status, 0);
	const char *out = s->out_buf;
	assert_memory_equal(out, "Usage: sluice-test [options] [ARG]\n\nOptions:\n", 45);
	assert_non_null(strstr(out, "  --log-level debug|info|warn|error\n"
	                            "      Lowest level that is logged.\n"
	                            "      env SLUICE_LOG_LEVEL, file log.level, default info\n"));
	assert_non_null(strstr(out,
	                       "  --metrics-port INT (0..65535)\n"
	                       "      Port of that endpoint; 0 picks a free one.\n"
	                       "      env SLUICE_METRICS_PORT, file metrics.port, default 7070\n"));
	assert_non_null(
	    strstr(out, "  --extra STRING\n      Extra.\n      file extra, default x\n"));
	size_t n = strlen(out);
	assert_string_equal(out + n - strlen("\nModes:\n  none\n"), "\nModes:\n  none\n");
}

static void test_usage_errors(void **state)
{
	struct streams *s = *state;
	int status = -1;

	assert_int_equal(parse(s, &status, "--metrics-port=x", NULL), APP_ERR);
	assert_int_equal(status, APP_EXIT_USAGE);
	assert_string_equal(s->err_buf, "sluice-test: config: --metrics-port: \"x\" is not an "
	                                "integer\nTry 'sluice-test --help'.\n");
	assert_null(s->app.cfg);

	/* A fresh stream for the second message. */
	fclose(s->err);
	free(s->err_buf);
	s->err_buf = NULL;
	s->err = open_memstream(&s->err_buf, &s->err_size);
	assert_non_null(s->err);
	s->app.err = s->err;
	assert_int_equal(parse(s, &status, "one", "two", NULL), APP_ERR);
	assert_int_equal(status, APP_EXIT_USAGE);
	assert_string_equal(s->err_buf, "sluice-test: unexpected argument 'two'\n"
	                                "Try 'sluice-test --help'.\n");
	assert_null(s->app.cfg);
	assert_string_equal(s->out_buf, "");
}

static void test_parse_ok(void **state)
{
	struct streams *s = *state;
	int status = -1;

	assert_int_equal(parse(s, &status, "mode", "--extra=y", NULL), 0);
	assert_non_null(s->app.cfg);
	assert_string_equal(config_arg(s->app.cfg, 0), "mode");
	assert_string_equal(config_get_string(s->app.cfg, "extra"), "y");
	assert_int_equal(config_get_int(s->app.cfg, "metrics.port"), 7070);
}

static void test_start_wait_stop(void **state)
{
	struct streams *s = *state;
	int status = -1;

	assert_int_equal(parse(s, &status, "--metrics-port=0", "--log-level=debug", NULL), 0);
	assert_int_equal(app_start(&s->app), 0);
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	assert_non_null(s->app.httpd);
	int port = httpd_port(s->app.httpd);
	assert_true(port > 0);

	char *text;
	size_t len;
	assert_int_equal(metrics_render(s->app.metrics, &text, &len), 0);
	assert_non_null(strstr(text,
	                       "sluice_build_info{component=\"test\",version=\"" SLUICE_VERSION
	                       "\",git_rev=\"" SLUICE_GIT_REV "\"} 1\n"));
	assert_non_null(strstr(text, "\nprocess_start_time_seconds 1"));
	free(text);

	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(app_wait(&s->app), SIGTERM);
	app_stop(&s->app);
	assert_null(s->app.cfg);
	assert_null(s->app.httpd);
	app_stop(&s->app); /* twice is fine */

	fflush(s->log);
	const char *log = s->log_buf;
	assert_non_null(strstr(
	    log, "\"component\":\"test\",\"msg\":\"starting\",\"version\":\"" SLUICE_VERSION "\""));
	char expect[160];
	snprintf(expect, sizeof(expect),
	         "\"msg\":\"http endpoint listening\",\"addr\":\"127.0.0.1\",\"port\":\"%d\"",
	         port);
	assert_non_null(strstr(log, expect));
	assert_non_null(strstr(log, "\"msg\":\"stop requested\",\"signal\":\"SIGTERM\"}\n"));
	assert_non_null(strstr(log, "\"msg\":\"stopped\"}\n"));
}

static void test_start_fails_on_taken_port(void **state)
{
	struct streams *s = *state;
	struct httpd *squatter;
	struct httpd_options opts = {.port = 0};
	char errbuf[256], port_arg[32];
	int status = -1;

	assert_int_equal(httpd_start(&opts, &squatter, errbuf, sizeof(errbuf)), 0);
	snprintf(port_arg, sizeof(port_arg), "--metrics-port=%d", httpd_port(squatter));
	assert_int_equal(parse(s, &status, port_arg, NULL), 0);
	assert_int_equal(app_start(&s->app), APP_ERR);
	app_stop(&s->app);
	httpd_stop(squatter);

	fflush(s->log);
	char expect[200];
	snprintf(expect, sizeof(expect),
	         "\"level\":\"error\",\"component\":\"test\",\"msg\":\"cannot start the http "
	         "endpoint\",\"error\":\"httpd: cannot listen on 127.0.0.1:%s: Address already in "
	         "use\"}\n",
	         port_arg + strlen("--metrics-port="));
	assert_non_null(strstr(s->log_buf, expect));
}

/* Past the fixed threshold a block is a mapping of its own (counted in
 * hblks while held), however large the blocks freed before it. */
static void test_fix_mmap_threshold(void **state)
{
	(void)state;
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	free(malloc(8u << 20)); /* would raise glibc's dynamic threshold to 8 MiB */
	app_fix_mmap_threshold(64 * 1024);
	size_t before = mallinfo2().hblks;
	char *big = malloc(256 * 1024);
	assert_non_null(big);
	assert_int_equal(mallinfo2().hblks, before + 1);
	free(big);
	assert_int_equal(mallinfo2().hblks, before);
#endif
	app_trim_memory();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fix_mmap_threshold),
	    cmocka_unit_test_setup_teardown(test_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_wait_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_fails_on_taken_port, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
