/* csvrec.c -- RFC 4180 records out of a file; see csvrec.h. */
#include "csvrec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void csvrec_init(struct csvrec_reader *r, FILE *f)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->next_line = 1;
}

void csvrec_free(struct csvrec_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

static int append(struct csvrec_reader *r, const char *p, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		size_t ncap = r->cap == 0 ? 4096 : r->cap;
		while (ncap < r->len + n + 1)
			ncap *= 2;
		char *nb = realloc(r->buf, ncap);
		if (nb == NULL)
			return -1;
		r->buf = nb;
		r->cap = ncap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return 0;
}

int csvrec_read(struct csvrec_reader *r, const char **rec, size_t *len, char *errbuf,
                size_t errbuf_size)
{
	char *line = NULL;
	size_t lcap = 0;
	int in_quotes = 0;
	int rc = -1;

	r->len = 0;
	if (append(r, "", 0) < 0)
		goto nomem;
	for (;;) {
		errno = 0;
		ssize_t n = getline(&line, &lcap, r->f);
		if (n < 0) {
			if (ferror(r->f)) {
				snprintf(errbuf, errbuf_size, "csv: read error: %s",
				         strerror(errno != 0 ? errno : EIO));
				goto done;
			}
			if (in_quotes) {
				snprintf(errbuf, errbuf_size,
				         "csv: line %" PRIu64
				         ": unterminated quoted cell at the end of the file",
				         r->line);
				goto done;
			}
			rc = 0;
			goto done;
		}
		r->bytes += (uint64_t)n;
		if (r->len == 0 && !in_quotes)
			r->line = r->next_line;
		r->next_line++;
		/* A record ends at a line break outside quotes; "" toggles
		 * twice, so counting quotes is enough. */
		for (ssize_t i = 0; i < n; i++)
			if (line[i] == '"')
				in_quotes = !in_quotes;
		if (r->len + (size_t)n > CSVREC_MAX) {
			snprintf(errbuf, errbuf_size,
			         "csv: line %" PRIu64 ": record longer than %d bytes", r->line,
			         CSVREC_MAX);
			goto done;
		}
		if (append(r, line, (size_t)n) < 0)
			goto nomem;
		if (in_quotes)
			continue;
		/* Drop the line break (\n or \r\n) that ends the record. */
		if (r->len > 0 && r->buf[r->len - 1] == '\n')
			r->len--;
		if (r->len > 0 && r->buf[r->len - 1] == '\r')
			r->len--;
		r->buf[r->len] = '\0';
		if (r->len == 0)
			continue; /* an empty line between records */
		*rec = r->buf;
		*len = r->len;
		rc = 1;
		goto done;
	}
nomem:
	snprintf(errbuf, errbuf_size, "csv: out of memory");
done:
	free(line);
	return rc;
}

int csvrec_split(const char *rec, size_t len, char delim, char *scratch, size_t scratch_size,
                 char **cells, size_t max, char *errbuf, size_t errbuf_size)
{
	size_t i = 0, o = 0, n = 0;

	if (scratch_size < len + max) {
		snprintf(errbuf, errbuf_size, "csv: scratch buffer too small");
		return -1;
	}
	for (;;) {
		if (n == max) {
			snprintf(errbuf, errbuf_size, "csv: more than %zu cells", max);
			return -1;
		}
		cells[n] = scratch + o;
		if (i < len && rec[i] == '"') {
			i++;
			for (;;) {
				if (i >= len) {
					snprintf(errbuf, errbuf_size,
					         "csv: unterminated quoted cell %zu", n + 1);
					return -1;
				}
				if (rec[i] == '"') {
					if (i + 1 < len && rec[i + 1] == '"') {
						scratch[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				scratch[o++] = rec[i++];
			}
			if (i < len && rec[i] != delim) {
				snprintf(errbuf, errbuf_size,
				         "csv: '%c' after the closing quote of cell %zu", rec[i],
				         n + 1);
				return -1;
			}
		} else {
			while (i < len && rec[i] != delim) {
				if (rec[i] == '"') {
					snprintf(errbuf, errbuf_size,
					         "csv: '\"' inside unquoted cell %zu", n + 1);
					return -1;
				}
				scratch[o++] = rec[i++];
			}
		}
		scratch[o++] = '\0';
		n++;
		if (i >= len)
			return (int)n;
		i++; /* the delimiter */
	}
}

int csvrec_is_json_number(const char *s, size_t len)
{
	size_t i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == len;
}

struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap == 0 ? 256 : b->cap;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		char *np = realloc(b->p, ncap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A JSON string, escaped the way every Sluice JSON writer escapes. */
static void put_string(struct sbuf *b, const char *s)
{
	char chunk[512];
	size_t len = strlen(s), done = 0;

	put(b, "\"", 1);
	while (done < len && !b->failed) {
		size_t used = log_json_escape(chunk, sizeof(chunk), s + done, len - done);
		if (used == 0) {
			b->failed = 1; /* cannot happen: one character always fits */
			break;
		}
		put(b, chunk, strlen(chunk));
		done += used;
	}
	put(b, "\"", 1);
}

char *csvrec_join(char *const *cells, size_t n, char delim)
{
	struct sbuf b = {0};
	char special[] = {delim, '"', '\r', '\n', '\0'};

	put(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		const char *c = cells[i];
		size_t len = strlen(c);
		if (i > 0)
			put(&b, &delim, 1);
		if (strcspn(c, special) == len) {
			put(&b, c, len);
			continue;
		}
		put(&b, "\"", 1);
		for (const char *q = strchr(c, '"'); q != NULL; q = strchr(c, '"')) {
			put(&b, c, (size_t)(q - c) + 1);
			put(&b, "\"", 1);
			c = q + 1;
		}
		put(&b, c, strlen(c));
		put(&b, "\"", 1);
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *csvrec_json(char *const *names, char *const *cells, size_t n)
{
	struct sbuf b = {0};

	put(&b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		const char *c = cells[i];
		size_t clen = strlen(c);
		while (clen > 0 && (c[clen - 1] == ' ' || c[clen - 1] == '\t'))
			clen--;
		while (clen > 0 && (c[0] == ' ' || c[0] == '\t'))
			c++, clen--;
		if (i > 0)
			put(&b, ",", 1);
		put_string(&b, names[i]);
		put(&b, ":", 1);
		if (clen == 0)
			put(&b, "null", 4);
		else if (csvrec_is_json_number(c, clen))
			put(&b, c, clen);
		else
			put_string(&b, cells[i]);
	}
	put(&b, "}", 1);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
