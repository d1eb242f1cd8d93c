/*
 * config.h - options from defaults, a YAML file, the environment and flags.
 *
 * A program declares its options once, in a table; this module parses every
 * source against that table, so a name, its flag, its variable and its help
 * text cannot drift apart. Later sources win:
 *
 *   defaults < YAML file (--config FILE or $SLUICE_CONFIG) < environment < flags
 *
 * The file maps nested mappings onto dotted names: `metrics: {port: 9090}` sets
 * "metrics.port" (so does a top-level `metrics.port: 9090`). Each error names
 * the key, the value and where it came from, in the caller's errbuf:
 *
 *   config: metrics.port: "abc" is not an integer (file /x/a.yaml, line 3)
 *   config: --log-level: "loud" is not one of debug, info, warn, error
 *   config: SLUICE_METRICS_PORT: "70000" is out of range 0..65535 (environment)
 *   config: unknown key "metrcs.port" in file a.yaml line 2
 *
 * Functions return 0 or CONFIG_ERR; on error errbuf holds one line without a
 * trailing newline. A struct config is not thread-safe to modify; once loaded
 * it is read-only and the getters may be called from any thread.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_ERR (-1)

/* The variable naming the YAML file when --config is not given. */
#define CONFIG_FILE_ENV "SLUICE_CONFIG"

/* Bounds: longer names or deeper files are errors, not truncations. */
#define CONFIG_NAME_MAX 128
#define CONFIG_DEPTH_MAX 16

enum config_type {
	CONFIG_STRING = 1,
	/* Decimal integer, optional sign; within [min, max] when min < max. */
	CONFIG_INT,
	/* true/false, yes/no, on/off, 1/0 (any case). A bool flag alone means
	 * true; --flag=false sets false. */
	CONFIG_BOOL,
	/* One or more <integer><unit> with units ms, s, m, h ("1m30s"), or "0";
	 * read as milliseconds, within [min, max] ms when min < max. */
	CONFIG_DURATION,
	/* One of the strings in choices. */
	CONFIG_ENUM,
};

/*
 * One option. Tables are arrays ended by an entry whose name is NULL. All
 * strings are borrowed and must outlive every config made from the table
 * (string literals, in practice).
 */
struct config_option {
	/* Dotted path in the YAML file: "metrics.port". Lower-case letters,
	 * digits, '_' and '-' between dots. A name may not also be the prefix
	 * of another ("metrics" and "metrics.port"). */
	const char *name;
	const char *flag; /* "--metrics-port", or NULL for no flag */
	const char *env;  /* "SLUICE_METRICS_PORT", or NULL for no variable */
	enum config_type type;
	/* The default, written as a flag value would be. Required except for
	 * CONFIG_STRING, where NULL means unset (config_get_string: NULL). */
	const char *def;
	const char *help;           /* one line for --help */
	long long min, max;         /* CONFIG_INT, CONFIG_DURATION (ms): bounds when min < max */
	const char *const *choices; /* CONFIG_ENUM: NULL-terminated allowed values */
};

/* Where an option's current value came from. */
enum config_origin {
	CONFIG_ORIGIN_UNSET = 0,
	CONFIG_ORIGIN_DEFAULT,
	CONFIG_ORIGIN_FILE,
	CONFIG_ORIGIN_ENV,
	CONFIG_ORIGIN_FLAG,
};

struct config;

/*
 * The whole start-up in one call: checks the table and its defaults, reads
 * argv (argv[0] is the program and is skipped), loads the YAML file named by
 * --config or $SLUICE_CONFIG, then the environment, then applies the flags.
 *
 * Flags: --name=value or --name value; bool flags take no separate value;
 * "--" ends the flags. Arguments that are not flags are positional and kept,
 * in order, for the caller (config_arg). --help/-h and --version/-V are
 * recorded (config_help_requested, config_version_requested) and, when seen,
 * the file and environment are not read, so --help works with a broken
 * configuration.
 *
 * Empty environment variables count as unset, so `X=` in a manifest does not
 * override the file with an empty value.
 *
 * On success *out owns a config (free with config_free). On error *out is
 * NULL and errbuf says why.
 */
int config_load(const struct config_option *table, int argc, char *const argv[],
                struct config **out, char *errbuf, size_t errbuf_size);

/*
 * The pieces config_load is made of, for tests and fuzzers.
 *
 * config_new: a config holding the table's defaults; fails when the table
 * is malformed (no type, enum without choices, bad name) or a default does
 * not parse.
 * config_load_yaml: applies a YAML document of len bytes; origin names it
 * in errors (a path). The whole text is checked for YAML syntax before any
 * key is applied, so a syntax error is reported as one wherever it is.
 * config_load_file: reads path and applies it.
 * config_load_env: applies the environment.
 * On error the config may hold part of the source; callers discard it.
 */
int config_new(const struct config_option *table, struct config **out, char *errbuf,
               size_t errbuf_size);
int config_load_yaml(struct config *cfg, const char *origin, const char *data, size_t len,
                     char *errbuf, size_t errbuf_size);
int config_load_file(struct config *cfg, const char *path, char *errbuf, size_t errbuf_size);
int config_load_env(struct config *cfg, char *errbuf, size_t errbuf_size);

/* Frees cfg and everything it owns; NULL is a no-op. */
void config_free(struct config *cfg);

/*
 * Getters by option name. The returned string is owned by cfg and valid until
 * config_free. Asking for a name the table lacks, or with the getter of
 * another type, is a programming error: the getter prints it on stderr and
 * aborts, so a typo is caught on the first run instead of read as 0.
 * config_get_string also serves CONFIG_ENUM options.
 */
const char *config_get_string(const struct config *cfg, const char *name);
long long config_get_int(const struct config *cfg, const char *name);
int config_get_bool(const struct config *cfg, const char *name);
long long config_get_duration_ms(const struct config *cfg, const char *name);
enum config_origin config_get_origin(const struct config *cfg, const char *name);

/* "default", "file", "environment", "flag" or "unset". Static string. */
const char *config_origin_name(enum config_origin origin);

/* The YAML file that was read, or NULL; owned by cfg. */
const char *config_file(const struct config *cfg);

/* Positional arguments, in order; config_arg returns NULL past the end. */
int config_argc(const struct config *cfg);
const char *config_arg(const struct config *cfg, int i);

int config_help_requested(const struct config *cfg);
int config_version_requested(const struct config *cfg);

/*
 * Writes the option list for --help: each option's flag and value, its help,
 * its variable, file key and default; then --config, --help and --version.
 */
void config_print_help(const struct config_option *table, FILE *out);

/*
 * Value parsers, shared with anything else that reads these syntaxes. Each
 * returns 0 or CONFIG_ERR and leaves *out alone on error.
 */
int config_parse_int(const char *s, long long *out);
int config_parse_bool(const char *s, int *out);
int config_parse_duration_ms(const char *s, long long *out);

#endif /* SLUICE_CONFIG_H */
