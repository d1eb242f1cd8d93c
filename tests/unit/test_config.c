/* Unit tests for lib/config.c: every type, every source, precedence, every error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

static const struct config_option table[] = {
    {.name = "log.level",
     .flag = "--log-level",
     .env = "SLUICE_TEST_LOG_LEVEL",
     .type = CONFIG_ENUM,
     .def = "info",
     .help = "Lowest level logged.",
     .choices = levels},
    {.name = "metrics.port",
     .flag = "--metrics-port",
     .env = "SLUICE_TEST_METRICS_PORT",
     .type = CONFIG_INT,
     .def = "8080",
     .help = "Port of the HTTP endpoint.",
     .min = 0,
     .max = 65535},
    {.name = "metrics.addr",
     .flag = "--metrics-addr",
     .env = "SLUICE_TEST_METRICS_ADDR",
     .type = CONFIG_STRING,
     .def = "127.0.0.1",
     .help = "Address of the HTTP endpoint."},
    {.name = "kubeconfig",
     .flag = "--kubeconfig",
     .env = "SLUICE_TEST_KUBECONFIG",
     .type = CONFIG_STRING,
     .help = "Path to a kubeconfig."},
    {.name = "dry-run",
     .flag = "--dry-run",
     .env = "SLUICE_TEST_DRY_RUN",
     .type = CONFIG_BOOL,
     .def = "false",
     .help = "Change nothing."},
    {.name = "resync",
     .flag = "--resync",
     .env = "SLUICE_TEST_RESYNC",
     .type = CONFIG_DURATION,
     .def = "5m",
     .help = "Full resync period.",
     .min = 1000,
     .max = 3600000},
    {.name = "timeout",
     .flag = "--timeout",
     .type = CONFIG_DURATION,
     .def = "500ms",
     .help = "Request timeout."},
    {.name = "offset", .type = CONFIG_INT, .def = "-5", .help = "File only."},
    {0},
};

static const char *const test_env[] = {
    "SLUICE_TEST_LOG_LEVEL",  "SLUICE_TEST_METRICS_PORT", "SLUICE_TEST_METRICS_ADDR",
    "SLUICE_TEST_KUBECONFIG", "SLUICE_TEST_DRY_RUN",      "SLUICE_TEST_RESYNC",
    CONFIG_FILE_ENV,
};

static char dir[] = "/tmp/sluice-config-test-XXXXXX";
static char errbuf[512];

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	/* Files a failed test left behind. */
	DIR *d = opendir(dir);
	if (d != NULL) {
		char path[512];
		for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	return rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(test_env) / sizeof(test_env[0]); i++)
		unsetenv(test_env[i]);
	errbuf[0] = '\0';
	return 0;
}

/* Writes content to dir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *content, size_t len)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

#define WRITE(name, text) write_file(name, text, sizeof(text) - 1)

static void remove_file(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* config_load with argv given as a NULL-terminated list after argv[0]. */
static int load(struct config **cfg, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"prog";
	va_start(ap, cfg);
	for (char *a = va_arg(ap, char *); a != NULL; a = va_arg(ap, char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return config_load(table, argc, argv, cfg, errbuf, sizeof(errbuf));
}

/* Loads and expects failure with exactly message. */
#define assert_load_error(message, ...)                                                            \
	do {                                                                                       \
		struct config *bad_ = (struct config *)1;                                          \
		assert_int_equal(load(&bad_, __VA_ARGS__), CONFIG_ERR);                            \
		assert_null(bad_);                                                                 \
		assert_string_equal(errbuf, message);                                              \
	} while (0)

static void test_defaults(void **state)
{
	(void)state;
	struct config *cfg;

	assert_int_equal(load(&cfg, NULL), 0);
	assert_string_equal(config_get_string(cfg, "log.level"), "info");
	assert_int_equal(config_get_int(cfg, "metrics.port"), 8080);
	assert_string_equal(config_get_string(cfg, "metrics.addr"), "127.0.0.1");
	assert_null(config_get_string(cfg, "kubeconfig"));
	assert_int_equal(config_get_bool(cfg, "dry-run"), 0);
	assert_int_equal(config_get_duration_ms(cfg, "resync"), 300000);
	assert_int_equal(config_get_duration_ms(cfg, "timeout"), 500);
	assert_int_equal(config_get_int(cfg, "offset"), -5);
	assert_int_equal(config_get_origin(cfg, "metrics.port"), CONFIG_ORIGIN_DEFAULT);
	assert_int_equal(config_get_origin(cfg, "kubeconfig"), CONFIG_ORIGIN_UNSET);
	assert_null(config_file(cfg));
	assert_int_equal(config_argc(cfg), 0);
	assert_null(config_arg(cfg, 0));
	assert_false(config_help_requested(cfg));
	assert_false(config_version_requested(cfg));
	config_free(cfg);
	config_free(NULL);
}

static void test_parse_int(void **state)
{
	(void)state;
	long long v = 42;

	assert_int_equal(config_parse_int("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_int("-5", &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(config_parse_int("+7", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(config_parse_int("9223372036854775807", &v), 0);
	assert_true(v == 9223372036854775807LL);
	v = 42;
	const char *bad[] = {"",
	                     "abc",
	                     "1.5",
	                     " 1",
	                     "1 ",
	                     "0x10",
	                     "-",
	                     "+",
	                     "1e3",
	                     "9223372036854775808",
	                     "-9223372036854775809",
	                     NULL};
	for (int i = 0; bad[i] != NULL; i++)
		assert_int_equal(config_parse_int(bad[i], &v), CONFIG_ERR);
	assert_int_equal(config_parse_int(NULL, &v), CONFIG_ERR);
	assert_int_equal(v, 42);
}

static void test_parse_bool(void **state)
{
	(void)state;
	const char *yes[] = {"true", "TRUE", "True", "yes", "on", "1", "YES", NULL};
	const char *no[] = {"false", "FALSE", "no", "off", "0", "Off", NULL};
	const char *bad[] = {"", "tru", "y", "2", "truee", " true", NULL};
	int b;

	for (int i = 0; yes[i] != NULL; i++) {
		b = 0;
		assert_int_equal(config_parse_bool(yes[i], &b), 0);
		assert_int_equal(b, 1);
	}
	for (int i = 0; no[i] != NULL; i++) {
		b = 1;
		assert_int_equal(config_parse_bool(no[i], &b), 0);
		assert_int_equal(b, 0);
	}
	for (int i = 0; bad[i] != NULL; i++) {
		b = 7;
		assert_int_equal(config_parse_bool(bad[i], &b), CONFIG_ERR);
		assert_int_equal(b, 7);
	}
	assert_int_equal(config_parse_bool(NULL, &b), CONFIG_ERR);
}

static void test_parse_duration(void **state)
{
	(void)state;
	struct {
		const char *s;
		long long ms;
	} good[] = {
	    {"0", 0},        {"0s", 0},       {"500ms", 500},   {"5s", 5000},
	    {"2m", 120000},  {"1h", 3600000}, {"1m30s", 90000}, {"1h2m3s4ms", 3723004},
	    {"10ms5ms", 15},
	};
	const char *bad[] = {"",
	                     "5",
	                     "ms",
	                     "-1s",
	                     "1.5s",
	                     "1d",
	                     "5S",
	                     "s5",
	                     " 5s",
	                     "5s ",
	                     "5 s",
	                     "1hh",
	                     "9999999999999999999h",
	                     "99999999999999999999ms",
	                     NULL};
	long long v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		assert_int_equal(config_parse_duration_ms(good[i].s, &v), 0);
		assert_int_equal(v, good[i].ms);
	}
	for (int i = 0; bad[i] != NULL; i++) {
		v = -7;
		assert_int_equal(config_parse_duration_ms(bad[i], &v), CONFIG_ERR);
		assert_int_equal(v, -7);
	}
	assert_int_equal(config_parse_duration_ms(NULL, &v), CONFIG_ERR);
}

static void test_flags(void **state)
{
	(void)state;
	struct config *cfg;

	assert_int_equal(load(&cfg, "--metrics-port=9091", "--log-level", "debug", "mode",
	                      "--dry-run", "--kubeconfig", "/k", "--resync=1m30s", "-", "--timeout",
	                      "2s", "--", "--metrics-port=1", NULL),
	                 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 9091);
	assert_string_equal(config_get_string(cfg, "log.level"), "debug");
	assert_int_equal(config_get_bool(cfg, "dry-run"), 1);
	assert_string_equal(config_get_string(cfg, "kubeconfig"), "/k");
	assert_int_equal(config_get_duration_ms(cfg, "resync"), 90000);
	assert_int_equal(config_get_duration_ms(cfg, "timeout"), 2000);
	assert_int_equal(config_get_origin(cfg, "metrics.port"), CONFIG_ORIGIN_FLAG);
	assert_int_equal(config_argc(cfg), 3);
	assert_string_equal(config_arg(cfg, 0), "mode");
	assert_string_equal(config_arg(cfg, 1), "-");
	assert_string_equal(config_arg(cfg, 2), "--metrics-port=1");
	assert_null(config_arg(cfg, 3));
	assert_null(config_arg(cfg, -1));
	config_free(cfg);

	/* Last flag wins; explicit bool values; empty string values. */
	assert_int_equal(load(&cfg, "--metrics-port", "1", "--metrics-port", "2", "--dry-run",
	                      "--dry-run=false", "--metrics-addr=", NULL),
	                 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 2);
	assert_int_equal(config_get_bool(cfg, "dry-run"), 0);
	assert_string_equal(config_get_string(cfg, "metrics.addr"), "");
	config_free(cfg);

	/* A value may start with a dash when given separately. */
	assert_int_equal(load(&cfg, "--kubeconfig", "-weird", NULL), 0);
	assert_string_equal(config_get_string(cfg, "kubeconfig"), "-weird");
	config_free(cfg);
}

static void test_flag_errors(void **state)
{
	(void)state;
	assert_load_error("config: unknown flag \"--metrcs-port\"", "--metrcs-port=1", NULL);
	assert_load_error("config: unknown flag \"-x\"", "-x", NULL);
	assert_load_error("config: unknown flag \"--help\"", "--help=yes", NULL);
	assert_load_error("config: --metrics-port: missing value", "--metrics-port", NULL);
	assert_load_error("config: --config: missing value", "--config", NULL);
	assert_load_error("config: --config: missing value", "--config=", NULL);
	assert_load_error("config: --metrics-port: \"abc\" is not an integer", "--metrics-port",
	                  "abc", NULL);
	assert_load_error("config: --metrics-port: \"\" is not an integer",
	                  "--metrics-port=", NULL);
	assert_load_error("config: --metrics-port: \"70000\" is out of range 0..65535",
	                  "--metrics-port=70000", NULL);
	assert_load_error("config: --metrics-port: \"-1\" is out of range 0..65535",
	                  "--metrics-port=-1", NULL);
	assert_load_error("config: --metrics-port: \"99999999999999999999\" is out of range "
	                  "0..65535",
	                  "--metrics-port=99999999999999999999", NULL);
	assert_load_error("config: --log-level: \"loud\" is not one of debug, info, warn, error",
	                  "--log-level=loud", NULL);
	assert_load_error("config: --dry-run: \"maybe\" is not a boolean (use true or false)",
	                  "--dry-run=maybe", NULL);
	assert_load_error("config: --resync: \"5x\" is not a duration (use e.g. 500ms, 5s, 2m, "
	                  "1h)",
	                  "--resync=5x", NULL);
	assert_load_error("config: --resync: \"2h\" is out of range 1s..1h", "--resync=2h", NULL);
	assert_load_error("config: --resync: \"999ms\" is out of range 1s..1h", "--resync=999ms",
	                  NULL);
	assert_load_error("config: --timeout: \"99999999999999999999ms\" is out of range",
	                  "--timeout=99999999999999999999ms", NULL);
}

static void test_values_are_quoted_safely(void **state)
{
	(void)state;
	assert_load_error("config: --log-level: \"a\\\"b\\\\c\\x0ad\\x1b\" is not one of debug, "
	                  "info, warn, error",
	                  "--log-level=a\"b\\c\nd\x1b", NULL);

	char arg[200] = "--kubeconfig=x";
	char longv[120];
	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	snprintf(arg, sizeof(arg), "--log-level=%s", longv);
	char expect[256];
	snprintf(expect, sizeof(expect),
	         "config: --log-level: \"%.64s...\" is not one of debug, info, warn, error", longv);
	assert_load_error(expect, arg, NULL);
}

static void test_help_and_version(void **state)
{
	(void)state;
	struct config *cfg;

	/* A broken file and environment do not stop --help. */
	setenv(CONFIG_FILE_ENV, "/nonexistent/sluice.yaml", 1);
	setenv("SLUICE_TEST_METRICS_PORT", "abc", 1);
	assert_int_equal(load(&cfg, "--help", "--metrics-port=x", NULL), 0);
	assert_true(config_help_requested(cfg));
	assert_false(config_version_requested(cfg));
	assert_int_equal(config_get_int(cfg, "metrics.port"), 8080);
	config_free(cfg);

	assert_int_equal(load(&cfg, "-V", NULL), 0);
	assert_true(config_version_requested(cfg));
	config_free(cfg);
	assert_int_equal(load(&cfg, "mode", "--version", NULL), 0);
	assert_true(config_version_requested(cfg));
	assert_string_equal(config_arg(cfg, 0), "mode");
	config_free(cfg);
	assert_int_equal(load(&cfg, "-h", NULL), 0);
	assert_true(config_help_requested(cfg));
	config_free(cfg);

	/* Unknown flags are still errors. */
	assert_load_error("config: unknown flag \"--bogus\"", "--bogus", "--help", NULL);
}

static void test_file(void **state)
{
	(void)state;
	struct config *cfg;
	const char *path = WRITE("a.yaml", "# Sluice\n"
	                                   "log:\n"
	                                   "  level: warn\n"
	                                   "metrics:\n"
	                                   "  port: 9100\n"
	                                   "  addr: \"127.0.0.2\"\n"
	                                   "kubeconfig: ''\n"
	                                   "dry-run: yes\n"
	                                   "resync: 10m\n"
	                                   "timeout: 0\n"
	                                   "offset: 12\n");

	assert_int_equal(load(&cfg, "--config", path, NULL), 0);
	assert_string_equal(config_get_string(cfg, "log.level"), "warn");
	assert_int_equal(config_get_int(cfg, "metrics.port"), 9100);
	assert_string_equal(config_get_string(cfg, "metrics.addr"), "127.0.0.2");
	assert_string_equal(config_get_string(cfg, "kubeconfig"), "");
	assert_int_equal(config_get_bool(cfg, "dry-run"), 1);
	assert_int_equal(config_get_duration_ms(cfg, "resync"), 600000);
	assert_int_equal(config_get_duration_ms(cfg, "timeout"), 0);
	assert_int_equal(config_get_int(cfg, "offset"), 12);
	assert_int_equal(config_get_origin(cfg, "metrics.port"), CONFIG_ORIGIN_FILE);
	assert_string_equal(config_file(cfg), path);
	config_free(cfg);
	remove_file("a.yaml");
}

static void test_file_dotted_keys_nulls_and_empty(void **state)
{
	(void)state;
	struct config *cfg;
	const char *path = WRITE("b.yaml", "metrics.port: 7000\n"
	                                   "log: {level: error}\n"
	                                   "kubeconfig:\n"
	                                   "metrics:\n"
	                                   "  addr: ~\n"
	                                   "dry-run: null\n");

	char arg[300];
	snprintf(arg, sizeof(arg), "--config=%s", path);
	assert_int_equal(load(&cfg, arg, NULL), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 7000);
	assert_string_equal(config_get_string(cfg, "log.level"), "error");
	/* Null values leave the defaults. */
	assert_null(config_get_string(cfg, "kubeconfig"));
	assert_string_equal(config_get_string(cfg, "metrics.addr"), "127.0.0.1");
	assert_int_equal(config_get_origin(cfg, "metrics.addr"), CONFIG_ORIGIN_DEFAULT);
	assert_int_equal(config_get_bool(cfg, "dry-run"), 0);
	config_free(cfg);

	const char *empties[] = {"", "# only a comment\n", "---\n", "~\n", "---\n...\n"};
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		path = write_file("e.yaml", empties[i], strlen(empties[i]));
		assert_int_equal(load(&cfg, "--config", path, NULL), 0);
		assert_int_equal(config_get_int(cfg, "metrics.port"), 8080);
		config_free(cfg);
	}
	remove_file("b.yaml");
	remove_file("e.yaml");
}

/* Writes text to dir/bad.yaml, loads it, and checks the error, in which
 * "%s" stands for the file's path. */
static void check_file_error(const char *text, const char *message)
{
	char expect[512];
	const char *path = write_file("bad.yaml", text, strlen(text));
	const char *at = strstr(message, "%s");
	assert_non_null(at);
	snprintf(expect, sizeof(expect), "%.*s%s%s", (int)(at - message), message, path, at + 2);
	assert_load_error(expect, "--config", path, NULL);
	remove_file("bad.yaml");
}

static void test_file_value_errors(void **state)
{
	(void)state;
	check_file_error("log:\n  level: info\nmetrics:\n  port: abc\n",
	                 "config: metrics.port: \"abc\" is not an integer (file %s, line 4)");
	check_file_error(
	    "metrics:\n  port: 65536\n",
	    "config: metrics.port: \"65536\" is out of range 0..65535 (file %s, line 2)");
	check_file_error("log:\n  level: LOUD\n",
	                 "config: log.level: \"LOUD\" is not one of debug, info, warn, error (file "
	                 "%s, line 2)");
	check_file_error(
	    "dry-run: maybe\n",
	    "config: dry-run: \"maybe\" is not a boolean (use true or false) (file %s, "
	    "line 1)");
	check_file_error("resync: 5\n", "config: resync: \"5\" is not a duration (use e.g. 500ms, "
	                                "5s, 2m, 1h) (file %s, line 1)");
	/* The line is the value's, when the value sits below its key. */
	check_file_error("metrics:\n  port:\n    abc\n",
	                 "config: metrics.port: \"abc\" is not an integer (file %s, line 3)");
	check_file_error("metrics:\n  addr: \"a\\0b\"\n",
	                 "config: metrics.addr: value holds a NUL byte (file %s, line 2)");
}

static void test_file_structure_errors(void **state)
{
	(void)state;
	check_file_error("log:\n  level: info\nmetrcs.port: 1\n",
	                 "config: unknown key \"metrcs.port\" in file %s line 3");
	check_file_error("metrcs:\n  port: 1\n",
	                 "config: unknown key \"metrcs\" in file %s line 1");
	check_file_error("metrics:\n  prot: 1\n",
	                 "config: unknown key \"metrics.prot\" in file %s line 2");
	check_file_error("metrics: 5\n", "config: unknown key \"metrics\" in file %s line 1");
	check_file_error(
	    "metrics:\n  port:\n    x: 1\n",
	    "config: metrics.port: expected a value, found a mapping (file %s, line 3)");
	check_file_error("log:\n  level: [debug]\n",
	                 "config: log.level: expected a value, found a list (file %s, line 2)");
	check_file_error("metrics:\n  addr: &a x\nkubeconfig: *a\n",
	                 "config: kubeconfig: expected a value, found an alias (file %s, line 3)");
	check_file_error(
	    "metrics:\n  port: 1\n  port: 2\n",
	    "config: duplicate key \"metrics.port\" in file %s line 3 (first on line 2)");
	check_file_error(
	    "metrics.port: 1\nmetrics:\n  port: 2\n",
	    "config: duplicate key \"metrics.port\" in file %s line 3 (first on line 1)");
	check_file_error("hello\n", "config: file %s line 1: the top level must be a mapping of "
	                            "options, not a scalar");
	check_file_error("- a\n", "config: file %s line 1: the top level must be a mapping of "
	                          "options, not a list");
	check_file_error("? [a]\n: 1\n", "config: file %s line 1: keys must be plain strings");
	check_file_error("metrics:\n  port: 1\n---\nlog:\n  level: info\n",
	                 "config: file %s line 3: more than one YAML document");
}

static void test_file_syntax_errors(void **state)
{
	(void)state;
	check_file_error("log:\n  level: a: b\n",
	                 "config: file %s: YAML syntax error at line 2, column 11: "
	                 "mapping values are not allowed in this context");
	check_file_error("metrics:\n  port: 1\n bad: 2\n",
	                 "config: file %s: YAML syntax error at line 3, column 2: did not find "
	                 "expected key (while parsing a block mapping at line 1)");
	check_file_error("metrics: [1, 2\n",
	                 "config: file %s: YAML syntax error at line 2, column 1: did not find "
	                 "expected ',' or ']' (while parsing a flow sequence at line 1)");
	check_file_error("a: \"unterminated\n",
	                 "config: file %s: YAML syntax error at line 2, column 1: found unexpected "
	                 "end of stream (while scanning a quoted scalar at line 1)");
	check_file_error(
	    "metrics:\n  port: \x80\n",
	    "config: file %s: cannot read YAML: invalid leading UTF-8 octet (byte 17)");
}

static void test_file_missing_and_large(void **state)
{
	(void)state;
	assert_load_error("config: cannot read config file \"/nonexistent/a.yaml\" (from "
	                  "--config): No such file or directory",
	                  "--config", "/nonexistent/a.yaml", NULL);
	setenv(CONFIG_FILE_ENV, "/nonexistent/b.yaml", 1);
	assert_load_error("config: cannot read config file \"/nonexistent/b.yaml\" (from "
	                  "SLUICE_CONFIG): No such file or directory",
	                  NULL);
	unsetenv(CONFIG_FILE_ENV);

	/* A directory: fopen succeeds, reading fails. */
	assert_load_error("config: cannot read config file \"/tmp\" (from --config): Is a "
	                  "directory",
	                  "--config=/tmp", NULL);

	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, '#', big);
	const char *path = write_file("big.yaml", text, big);
	free(text);
	char expect[512];
	snprintf(expect, sizeof(expect),
	         "config: config file \"%s\" (from --config) is larger than 1048576 bytes", path);
	assert_load_error(expect, "--config", path, NULL);
	remove_file("big.yaml");
}

static void test_environment(void **state)
{
	(void)state;
	struct config *cfg;

	setenv("SLUICE_TEST_METRICS_PORT", "9100", 1);
	setenv("SLUICE_TEST_LOG_LEVEL", "debug", 1);
	setenv("SLUICE_TEST_DRY_RUN", "on", 1);
	setenv("SLUICE_TEST_RESYNC", "30s", 1);
	setenv("SLUICE_TEST_KUBECONFIG", "", 1); /* empty: unset */
	assert_int_equal(load(&cfg, NULL), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 9100);
	assert_int_equal(config_get_origin(cfg, "metrics.port"), CONFIG_ORIGIN_ENV);
	assert_string_equal(config_get_string(cfg, "log.level"), "debug");
	assert_int_equal(config_get_bool(cfg, "dry-run"), 1);
	assert_int_equal(config_get_duration_ms(cfg, "resync"), 30000);
	assert_null(config_get_string(cfg, "kubeconfig"));
	config_free(cfg);

	setenv("SLUICE_TEST_METRICS_PORT", "abc", 1);
	assert_load_error("config: SLUICE_TEST_METRICS_PORT: \"abc\" is not an integer "
	                  "(environment)",
	                  NULL);
	setenv("SLUICE_TEST_METRICS_PORT", "70000", 1);
	assert_load_error("config: SLUICE_TEST_METRICS_PORT: \"70000\" is out of range 0..65535 "
	                  "(environment)",
	                  NULL);
	unsetenv("SLUICE_TEST_METRICS_PORT");
	setenv("SLUICE_TEST_LOG_LEVEL", "loud", 1);
	assert_load_error("config: SLUICE_TEST_LOG_LEVEL: \"loud\" is not one of debug, info, "
	                  "warn, error (environment)",
	                  NULL);
	/* A flag does not rescue a bad variable: every source must be valid. */
	assert_load_error("config: SLUICE_TEST_LOG_LEVEL: \"loud\" is not one of debug, info, "
	                  "warn, error (environment)",
	                  "--log-level=info", NULL);
}

static void test_precedence(void **state)
{
	(void)state;
	struct config *cfg;
	const char *path =
	    WRITE("p.yaml", "metrics:\n  port: 1\n  addr: file\nlog:\n  level: warn\n");
	char file_arg[300];
	snprintf(file_arg, sizeof(file_arg), "--config=%s", path);

	/* file < env < flag, per option */
	setenv("SLUICE_TEST_METRICS_PORT", "2", 1);
	setenv("SLUICE_TEST_METRICS_ADDR", "env", 1);
	assert_int_equal(load(&cfg, file_arg, "--metrics-port=3", NULL), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 3);
	assert_string_equal(config_get_string(cfg, "metrics.addr"), "env");
	assert_string_equal(config_get_string(cfg, "log.level"), "warn");
	assert_string_equal(config_get_string(cfg, "kubeconfig") == NULL ? "unset" : "set",
	                    "unset");
	assert_int_equal(config_get_origin(cfg, "metrics.port"), CONFIG_ORIGIN_FLAG);
	assert_int_equal(config_get_origin(cfg, "metrics.addr"), CONFIG_ORIGIN_ENV);
	assert_int_equal(config_get_origin(cfg, "log.level"), CONFIG_ORIGIN_FILE);
	assert_int_equal(config_get_origin(cfg, "resync"), CONFIG_ORIGIN_DEFAULT);
	config_free(cfg);

	unsetenv("SLUICE_TEST_METRICS_PORT");
	unsetenv("SLUICE_TEST_METRICS_ADDR");
	assert_int_equal(load(&cfg, file_arg, NULL), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 1);
	assert_string_equal(config_get_string(cfg, "metrics.addr"), "file");
	config_free(cfg);

	/* The file may come from SLUICE_CONFIG; --config overrides it. */
	setenv(CONFIG_FILE_ENV, path, 1);
	assert_int_equal(load(&cfg, NULL), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 1);
	assert_string_equal(config_file(cfg), path);
	config_free(cfg);
	const char *other = WRITE("q.yaml", "metrics:\n  port: 5\n");
	assert_int_equal(load(&cfg, "--config", other, NULL), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 5);
	config_free(cfg);
	setenv(CONFIG_FILE_ENV, "", 1); /* empty: no file */
	assert_int_equal(load(&cfg, NULL), 0);
	assert_null(config_file(cfg));
	config_free(cfg);

	remove_file("p.yaml");
	remove_file("q.yaml");
}

static void test_pieces(void **state)
{
	(void)state;
	struct config *cfg;
	static const char yaml[] = "metrics:\n  port: 10\n";

	assert_int_equal(config_new(table, &cfg, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(
	    config_load_yaml(cfg, "inline", yaml, sizeof(yaml) - 1, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 10);
	/* A second document load may set the same keys: not duplicates. */
	assert_int_equal(
	    config_load_yaml(cfg, "inline", "metrics: {port: 11}", 19, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 11);
	/* Only len bytes are read. */
	assert_int_equal(config_load_yaml(cfg, "inline", "metrics: {port: 12}garbage", 19, errbuf,
	                                  sizeof(errbuf)),
	                 0);
	assert_int_equal(config_get_int(cfg, "metrics.port"), 12);
	assert_int_equal(config_load_file(cfg, "/nonexistent", errbuf, sizeof(errbuf)), CONFIG_ERR);
	assert_string_equal(errbuf, "config: cannot read config file \"/nonexistent\": No such "
	                            "file or directory");
	config_free(cfg);

	/* A tiny errbuf is cut, still terminated; NULL errbuf is allowed. */
	char tiny[12];
	char *argv[] = {(char *)"prog", (char *)"--nope", NULL};
	assert_int_equal(config_load(table, 2, argv, &cfg, tiny, sizeof(tiny)), CONFIG_ERR);
	assert_string_equal(tiny, "config: unk");
	assert_int_equal(config_load(table, 2, argv, &cfg, NULL, 0), CONFIG_ERR);
}

static void test_table_errors(void **state)
{
	(void)state;
	static const char *const none[] = {NULL};
	struct {
		struct config_option opts[3];
		const char *message;
	} cases[] = {
	    {{{.name = "Bad", .type = CONFIG_STRING}},
	     "config: option table: invalid name \"Bad\""},
	    {{{.name = "a..b", .type = CONFIG_STRING}},
	     "config: option table: invalid name \"a..b\""},
	    {{{.name = "a.", .type = CONFIG_STRING}}, "config: option table: invalid name \"a.\""},
	    {{{.name = "", .type = CONFIG_STRING}}, "config: option table: invalid name \"\""},
	    {{{.name = "a"}}, "config: option table: a: invalid type"},
	    {{{.name = "a", .type = CONFIG_ENUM, .def = "x"}},
	     "config: option table: a: enum without choices"},
	    {{{.name = "a", .type = CONFIG_ENUM, .def = "x", .choices = none}},
	     "config: option table: a: enum without choices"},
	    {{{.name = "a", .type = CONFIG_INT}}, "config: option table: a: no default"},
	    {{{.name = "a", .flag = "-a", .type = CONFIG_STRING}},
	     "config: option table: a: invalid flag \"-a\""},
	    {{{.name = "a", .flag = "--a=b", .type = CONFIG_STRING}},
	     "config: option table: a: invalid flag \"--a=b\""},
	    {{{.name = "a", .flag = "--config", .type = CONFIG_STRING}},
	     "config: option table: a: invalid flag \"--config\""},
	    {{{.name = "a", .flag = "--help", .type = CONFIG_STRING}},
	     "config: option table: a: invalid flag \"--help\""},
	    {{{.name = "metrics", .type = CONFIG_STRING},
	      {.name = "metrics.port", .type = CONFIG_STRING}},
	     "config: option table: names \"metrics\" and \"metrics.port\" collide"},
	    {{{.name = "a", .type = CONFIG_STRING}, {.name = "a", .type = CONFIG_STRING}},
	     "config: option table: names \"a\" and \"a\" collide"},
	    {{{.name = "a", .flag = "--x", .type = CONFIG_STRING},
	      {.name = "b", .flag = "--x", .type = CONFIG_STRING}},
	     "config: option table: flag --x is used twice"},
	    {{{.name = "metrics.port", .type = CONFIG_INT, .def = "x"}},
	     "config: metrics.port: \"x\" is not an integer (default)"},
	    {{{.name = "p", .type = CONFIG_INT, .def = "0", .min = 1, .max = 9}},
	     "config: p: \"0\" is out of range 1..9 (default)"},
	};
	struct config *cfg;
	char *argv[] = {(char *)"prog", NULL};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg = (struct config *)1;
		assert_int_equal(config_new(cases[i].opts, &cfg, errbuf, sizeof(errbuf)),
		                 CONFIG_ERR);
		assert_null(cfg);
		assert_string_equal(errbuf, cases[i].message);
		assert_int_equal(config_load(cases[i].opts, 1, argv, &cfg, errbuf, sizeof(errbuf)),
		                 CONFIG_ERR);
		assert_string_equal(errbuf, cases[i].message);
	}
	assert_int_equal(config_new(NULL, &cfg, errbuf, sizeof(errbuf)), CONFIG_ERR);
	assert_string_equal(errbuf, "config: option table: NULL");

	/* An empty table is fine: only --config, --help, --version. */
	static const struct config_option empty[] = {{0}};
	assert_int_equal(config_load(empty, 1, argv, &cfg, errbuf, sizeof(errbuf)), 0);
	config_free(cfg);
}

static void test_nesting_limit(void **state)
{
	(void)state;
	/* 17 levels of mapping above the option: over CONFIG_DEPTH_MAX. */
	static const struct config_option deep[] = {
	    {.name = "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", .type = CONFIG_STRING},
	    {0},
	};
	char text[1024];
	size_t o = 0;
	for (int i = 0; i < 17; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%*sa:\n", 2 * i, "");
	o += (size_t)snprintf(text + o, sizeof(text) - o, "%*sa: x\n", 2 * 17, "");
	struct config *cfg;
	assert_int_equal(config_new(deep, &cfg, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(config_load_yaml(cfg, "deep", text, o, errbuf, sizeof(errbuf)),
	                 CONFIG_ERR);
	assert_string_equal(errbuf, "config: file deep line 17: mappings nested deeper than 16 "
	                            "levels");
	config_free(cfg);
}

/* Runs fn in a child and checks that it aborts with message on stderr. */
static void assert_aborts(void (*fn)(void), const char *message)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	char buf[256] = "";
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(buf, message));
}

static struct config *misuse_cfg;

static void get_unknown(void)
{
	(void)config_get_int(misuse_cfg, "metrics.prot");
}

static void get_wrong_type(void)
{
	(void)config_get_int(misuse_cfg, "metrics.addr");
}

static void test_getter_misuse_aborts(void **state)
{
	(void)state;
	assert_int_equal(load(&misuse_cfg, NULL), 0);
	assert_aborts(get_unknown, "config_get_int: no option \"metrics.prot\" in the table");
	assert_aborts(get_wrong_type, "config_get_int: option \"metrics.addr\" is of type STRING");
	config_free(misuse_cfg);
}

static void test_origin_names(void **state)
{
	(void)state;
	assert_string_equal(config_origin_name(CONFIG_ORIGIN_DEFAULT), "default");
	assert_string_equal(config_origin_name(CONFIG_ORIGIN_FILE), "file");
	assert_string_equal(config_origin_name(CONFIG_ORIGIN_ENV), "environment");
	assert_string_equal(config_origin_name(CONFIG_ORIGIN_FLAG), "flag");
	assert_string_equal(config_origin_name(CONFIG_ORIGIN_UNSET), "unset");
}

static void test_print_help(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	assert_non_null(f);
	config_print_help(table, f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(
	    buf, "Options:\n"
	         "  --log-level debug|info|warn|error\n"
	         "      Lowest level logged.\n"
	         "      env SLUICE_TEST_LOG_LEVEL, file log.level, default info\n"
	         "  --metrics-port INT (0..65535)\n"
	         "      Port of the HTTP endpoint.\n"
	         "      env SLUICE_TEST_METRICS_PORT, file metrics.port, default 8080\n"
	         "  --metrics-addr STRING\n"
	         "      Address of the HTTP endpoint.\n"
	         "      env SLUICE_TEST_METRICS_ADDR, file metrics.addr, default 127.0.0.1\n"
	         "  --kubeconfig STRING\n"
	         "      Path to a kubeconfig.\n"
	         "      env SLUICE_TEST_KUBECONFIG, file kubeconfig\n"
	         "  --dry-run[=true|false]\n"
	         "      Change nothing.\n"
	         "      env SLUICE_TEST_DRY_RUN, file dry-run, default false\n"
	         "  --resync DURATION (1s..1h)\n"
	         "      Full resync period.\n"
	         "      env SLUICE_TEST_RESYNC, file resync, default 5m\n"
	         "  --timeout DURATION\n"
	         "      Request timeout.\n"
	         "      file timeout, default 500ms\n"
	         "  (file only) offset: INT\n"
	         "      File only.\n"
	         "      default -5\n"
	         "  --config FILE\n"
	         "      YAML file of options, keyed by the file names above (nested mappings\n"
	         "      or dotted keys). Precedence: defaults < file < environment < flags.\n"
	         "      env SLUICE_CONFIG\n"
	         "  -h, --help\n"
	         "      Print this help and exit.\n"
	         "  -V, --version\n"
	         "      Print the version and exit.\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_defaults, setup),
	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_parse_bool),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test_setup(test_flags, setup),
	    cmocka_unit_test_setup(test_flag_errors, setup),
	    cmocka_unit_test_setup(test_values_are_quoted_safely, setup),
	    cmocka_unit_test_setup(test_help_and_version, setup),
	    cmocka_unit_test_setup(test_file, setup),
	    cmocka_unit_test_setup(test_file_dotted_keys_nulls_and_empty, setup),
	    cmocka_unit_test_setup(test_file_value_errors, setup),
	    cmocka_unit_test_setup(test_file_structure_errors, setup),
	    cmocka_unit_test_setup(test_file_syntax_errors, setup),
	    cmocka_unit_test_setup(test_file_missing_and_large, setup),
	    cmocka_unit_test_setup(test_environment, setup),
	    cmocka_unit_test_setup(test_precedence, setup),
	    cmocka_unit_test_setup(test_pieces, setup),
	    cmocka_unit_test_setup(test_table_errors, setup),
	    cmocka_unit_test_setup(test_nesting_limit, setup),
	    cmocka_unit_test_setup(test_getter_misuse_aborts, setup),
	    cmocka_unit_test(test_origin_names),
	    cmocka_unit_test(test_print_help),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
