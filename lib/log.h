/*
 * log.h - structured logging: one JSON object per line, on stderr by default.
 *
 *   {"ts":"2026-11-23T05:00:00.123Z","level":"info","component":"operator",
 *    "msg":"watch restarted","resource":"videojobs","reason":"410 Gone"}
 *
 * Log collectors (and `jq`) read these lines without a custom parser, so every
 * string is escaped to valid JSON whatever bytes it holds.
 *
 * Threads: log_msg() and the log_<level>() macros may be called from any
 * thread; each line is written with a single fwrite() under the stream's lock,
 * so lines from different threads never interleave. The log_set_*() functions
 * change process-wide settings and are meant for start-up, before other
 * threads exist.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdio.h>
#include <time.h>

/* Severity, lowest first. Named LOG_LEVEL_* to stay clear of <syslog.h>. */
enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* The longest line written, newline included. Longer messages or fields are
 * cut at a character boundary and the line gets "truncated":true, so a line
 * is always valid JSON and a runaway value cannot flood the log. */
#define LOG_LINE_MAX 8192

/* The longest component name kept; longer names are cut. */
#define LOG_COMPONENT_MAX 64

/*
 * Parses "debug", "info", "warn" or "error" (exactly, lower case) into *level.
 * Returns 0, or -1 for anything else (including NULL), leaving *level as is.
 */
int log_level_parse(const char *name, enum log_level *level);

/* The name log_level_parse() accepts for level; "unknown" out of range.
 * The string is static. */
const char *log_level_name(enum log_level level);

/* Lines below this level are dropped. Default: LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Whether a line at level would be written; lets callers skip building
 * expensive fields. */
int log_enabled(enum log_level level);

/* The "component" field of every line, e.g. "operator". Copied (at most
 * LOG_COMPONENT_MAX - 1 bytes). Default: "sluice". NULL restores the default. */
void log_set_component(const char *component);

/* Where lines go. Not owned: the caller keeps it open while logging and
 * closes it. NULL restores stderr. */
void log_set_output(FILE *out);

/* The clock behind "ts"; tests install a fixed one. NULL restores
 * clock_gettime(CLOCK_REALTIME). */
typedef void (*log_clock_fn)(struct timespec *now);
void log_set_clock(log_clock_fn clock);

/*
 * Writes one line at level if level is enabled.
 *
 * msg is written as it is: it is not a format string, so "%s" in a message
 * is harmless. It is followed by context fields given as key, value string
 * pairs and ended by NULL:
 *
 *   log_msg(LOG_LEVEL_INFO, "watch restarted", "resource", "videojobs",
 *           "reason", "410 Gone", NULL);
 *
 * A NULL value also ends the list; its key is then written with the value
 * null. Keys that would repeat a fixed field (ts, level, component, msg,
 * truncated) are
 * written with a leading underscore ("_msg") so that no object has a
 * duplicate key. Values that are not valid UTF-8 have each bad byte replaced
 * by U+FFFD. Write errors are ignored: logging must never stop the program.
 */
void log_msg(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * Escapes src (len bytes) as the inside of a JSON string, without the quotes,
 * into dst of dst_size bytes, always NUL-terminated when dst_size > 0.
 * Escapes are never split: output stops before the first character that does
 * not fit. Returns the number of bytes of src consumed (len when everything
 * fit). Shared so that every JSON writer in Sluice escapes the same way.
 */
size_t log_json_escape(char *dst, size_t dst_size, const char *src, size_t len);

#endif /* SLUICE_LOG_H */
