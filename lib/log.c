/*
 * log.c - structured JSON-lines logging. See log.h for the contract.
 *
 * A line is built in a fixed buffer on the stack and written with one
 * fwrite(): no allocation, so logging works when memory is short, and no
 * partial lines when threads log at once.
 */
#include "log.h"

#include <stdarg.h>
#include <string.h>

static enum log_level log_min = LOG_LEVEL_INFO;
static char log_component[LOG_COMPONENT_MAX] = "sluice";
static FILE *log_out;
static log_clock_fn log_clock;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name, enum log_level *level)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	if ((int)level < 0 || (size_t)level >= sizeof(log_names) / sizeof(log_names[0]))
		return "unknown";
	return log_names[level];
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

enum log_level log_get_level(void)
{
	return log_min;
}

int log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_set_component(const char *component)
{
	if (component == NULL)
		component = "sluice";
	/* Cut at a character boundary so the stored name stays valid UTF-8. */
	size_t n = strlen(component);
	if (n > sizeof(log_component) - 1) {
		n = sizeof(log_component) - 1;
		while (n > 0 && ((unsigned char)component[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(log_component, component, n);
	log_component[n] = '\0';
}

void log_set_output(FILE *out)
{
	log_out = out;
}

void log_set_clock(log_clock_fn clock)
{
	log_clock = clock;
}

/*
 * Length of the valid UTF-8 sequence starting at s (n bytes available), or 0
 * when s does not start one. Rejects overlong forms, surrogates and code
 * points above U+10FFFF (RFC 3629, table 3-7 of the Unicode standard).
 */
static size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		len = 2;
	} else if (c < 0xF0) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

size_t log_json_escape(char *dst, size_t dst_size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t in = 0, out = 0;

	if (dst_size == 0)
		return 0;
	while (in < len) {
		char unit[8];
		const char *bytes = unit;
		size_t unit_len, consumed = 1;
		unsigned char c = s[in];

		if (c == '"' || c == '\\') {
			unit[0] = '\\';
			unit[1] = (char)c;
			unit_len = 2;
		} else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
			unit[0] = '\\';
			unit[1] = c == '\n'   ? 'n'
			          : c == '\r' ? 'r'
			          : c == '\t' ? 't'
			          : c == '\b' ? 'b'
			                      : 'f';
			unit_len = 2;
		} else if (c < 0x20 || c == 0x7F) {
			/* DEL is legal JSON but escaped so a line never carries a
			 * control byte to a terminal. */
			memcpy(unit, "\\u00", 4);
			unit[4] = hex[c >> 4];
			unit[5] = hex[c & 0xF];
			unit_len = 6;
		} else if (c < 0x80) {
			unit[0] = (char)c;
			unit_len = 1;
		} else {
			consumed = utf8_sequence_length(s + in, len - in);
			if (consumed == 0) {
				bytes = "\\ufffd";
				unit_len = 6;
				consumed = 1;
			} else {
				bytes = src + in;
				unit_len = consumed;
			}
		}
		if (out + unit_len + 1 > dst_size)
			break;
		memcpy(dst + out, bytes, unit_len);
		out += unit_len;
		in += consumed;
	}
	dst[out] = '\0';
	return in;
}

/* A line under construction. Appends keep LINE_RESERVE bytes free so the
 * closing of the object always fits, whatever was cut. */
struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	int truncated;
};

#define LINE_END_TRUNCATED ",\"truncated\":true}\n"
#define LINE_RESERVE sizeof(LINE_END_TRUNCATED)

static size_t line_room(const struct line *l)
{
	return sizeof(l->buf) - LINE_RESERVE - l->len;
}

/* Appends s as it is (it must be valid JSON text); -1 if it does not fit. */
static int line_raw(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > line_room(l)) {
		l->truncated = 1;
		return -1;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return 0;
}

/* Appends "prefix+s" as a JSON string; prefix is trusted JSON-safe text.
 * Returns 0, or -1 when s was cut (the string is still closed). */
static int line_string(struct line *l, const char *prefix, const char *s)
{
	size_t room = line_room(l);
	size_t plen = strlen(prefix);
	size_t n = strlen(s);

	if (room < plen + 2) {
		l->truncated = 1;
		return -1;
	}
	l->buf[l->len++] = '"';
	memcpy(l->buf + l->len, prefix, plen);
	l->len += plen;
	/* room - plen - 1 leaves exactly one byte for the closing quote, which
	 * takes the place of the terminating NUL written by the escaper. */
	size_t esc = log_json_escape(l->buf + l->len, room - plen - 1, s, n);
	l->len += strlen(l->buf + l->len);
	l->buf[l->len++] = '"';
	if (esc < n) {
		l->truncated = 1;
		return -1;
	}
	return 0;
}

static int key_is_reserved(const char *key)
{
	return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 ||
	       strcmp(key, "component") == 0 || strcmp(key, "msg") == 0 ||
	       strcmp(key, "truncated") == 0;
}

/* Appends ,"key":"value" (value NULL: null). A pair whose key or separator
 * does not fit is dropped whole; a value that does not fit is cut. */
static void line_field(struct line *l, const char *key, const char *value)
{
	size_t start = l->len;

	if (line_raw(l, ",") < 0 || line_string(l, key_is_reserved(key) ? "_" : "", key) < 0 ||
	    line_raw(l, ":") < 0)
		goto drop;
	if (value == NULL) {
		if (line_raw(l, "null") < 0)
			goto drop;
		return;
	}
	if (line_room(l) < 2)
		goto drop;
	(void)line_string(l, "", value);
	return;
drop:
	l->len = start;
	l->truncated = 1;
}

static void line_timestamp(struct line *l)
{
	struct timespec now = {0, 0};
	struct tm tm;
	char ts[48];

	if (log_clock != NULL)
		log_clock(&now);
	else if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		now.tv_sec = 0;
	if (gmtime_r(&now.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(now.tv_nsec / 1000000));
	(void)line_raw(l, "{\"ts\":\"");
	(void)line_raw(l, ts);
	(void)line_raw(l, "\"");
}

void log_msg(enum log_level level, const char *msg, ...)
{
	struct line l;
	va_list ap;

	if (!log_enabled(level))
		return;
	l.len = 0;
	l.truncated = 0;

	/* The fixed fields are short and bounded (LOG_COMPONENT_MAX), so they
	 * always fit; only msg and the context fields can be cut. */
	line_timestamp(&l);
	(void)line_raw(&l, ",\"level\":\"");
	(void)line_raw(&l, log_level_name(level));
	(void)line_raw(&l, "\",\"component\":");
	(void)line_string(&l, "", log_component);
	(void)line_raw(&l, ",\"msg\":");
	(void)line_string(&l, "", msg != NULL ? msg : "");

	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (key == NULL)
			break;
		const char *value = va_arg(ap, const char *);
		if (l.truncated)
			break;
		line_field(&l, key, value);
		if (value == NULL)
			break;
	}
	va_end(ap);

	const char *end = l.truncated ? LINE_END_TRUNCATED : "}\n";
	size_t end_len = strlen(end);
	memcpy(l.buf + l.len, end, end_len);
	l.len += end_len;

	FILE *out = log_out != NULL ? log_out : stderr;
	flockfile(out);
	(void)fwrite(l.buf, 1, l.len, out);
	(void)fflush(out);
	funlockfile(out);
}
