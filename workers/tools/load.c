/* load.c -- publishes a CSV or Parquet file to a Kafka topic; see load.h. */
#include "load.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "csvrec.h"
#include "kafka.h"
#include "log.h"
#include "parquet.h"
#include "signals.h"

/* Most key fields. */
#define LOAD_KEYS_MAX 16
/* How often progress is shown: a terminal line, or a log line. */
#define BAR_MS 100
#define LOG_MS 2000
/* Failed deliveries and skipped records logged one by one; the rest are
 * only counted. */
#define LOAD_LOG_MAX 10
/* Longest wait for the last delivery reports (librdkafka's own
 * message.timeout.ms, 5 minutes, ends every message before). */
#define LOAD_FLUSH_MAX_MS (6 * 60 * 1000)

struct load {
	const struct load_options *o;
	rd_kafka_t *p;
	FILE *f;
	struct csvrec_reader r;
	struct parquet_reader *pq; /* set when the file is Parquet */
	char *const *columns;      /* the column names: the header's, or the Parquet reader's */
	char **csv_columns;        /* the header's names, in the header's scratch */
	char *header_scratch;
	size_t ncolumns;
	size_t key_idx[LOAD_KEYS_MAX];
	size_t nkeys;
	uint64_t rows, sent, delivered, failed, skipped;
	uint64_t dr_failed; /* failed delivery reports (part of failed) */
	uint64_t file_size; /* 0: unknown (a pipe) */
	int bar;
	int64_t start_ms, last_progress_ms;
};

static const char *u64(char *buf, size_t size, uint64_t v)
{
	snprintf(buf, size, "%" PRIu64, v);
	return buf;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct load *l = opaque;
	char text[256], src[KAFKA_SOURCE_MAX];

	(void)rk;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		l->delivered++;
		return;
	}
	l->dr_failed++;
	if (l->failed++ < LOAD_LOG_MAX)
		log_error("message not delivered", "topic", l->o->topic, "source",
		          kafka_source(src, sizeof(src), l->o->topic, msg->partition, -1), "error",
		          kafka_strerror(text, sizeof(text), msg->err), NULL);
}

static void progress(struct load *l, int64_t now, int final)
{
	char a[32], b[32], c[32], d[32], e[32];
	double secs = (double)(now - l->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)l->delivered / secs : 0;
	int pct = l->file_size > 0 ? (int)(l->r.bytes * 100 / l->file_size) : -1;

	if (l->pq != NULL)
		pct = parquet_nrows(l->pq) > 0
		          ? (int)(parquet_row(l->pq) * 100 / parquet_nrows(l->pq))
		          : 100;

	if (pct > 100)
		pct = 100;
	if (!final && now - l->last_progress_ms < (l->bar ? BAR_MS : LOG_MS))
		return;
	l->last_progress_ms = now;
	if (l->o->progress == LOAD_PROGRESS_NONE)
		return;
	if (l->bar) {
		char bar[32];
		int fill = pct >= 0 ? pct * 30 / 100 : 0;
		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '-';
		bar[30] = '\0';
		if (pct >= 0)
			fprintf(stderr, "\r[%s] %3d%%", bar, pct);
		else
			fprintf(stderr, "\r");
		fprintf(stderr,
		        "  %" PRIu64 " rows  %" PRIu64 " delivered  %" PRIu64
		        " failed  %.0f msg/s\033[K%s",
		        l->rows, l->delivered, l->failed, rate, final ? "\n" : "");
		fflush(stderr);
		return;
	}
	snprintf(e, sizeof(e), "%d", pct);
	log_info(final ? "load finished" : "load progress", "file", l->o->file, "topic",
	         l->o->topic, "rows", u64(a, sizeof(a), l->rows), "delivered",
	         u64(b, sizeof(b), l->delivered), "failed", u64(c, sizeof(c), l->failed), "skipped",
	         u64(d, sizeof(d), l->skipped), "percent", pct >= 0 ? e : "unknown", NULL);
}

/* Splits "a,b" into the header's column indexes. */
static int resolve_keys(struct load *l)
{
	const char *s = l->o->key_fields;

	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
		size_t i;
		if (l->nkeys == LOAD_KEYS_MAX) {
			fprintf(stderr, "sluice-worker: load: --key-fields: more than %d fields\n",
			        LOAD_KEYS_MAX);
			return -1;
		}
		for (i = 0; i < l->ncolumns; i++)
			if (strlen(l->columns[i]) == n && memcmp(l->columns[i], s, n) == 0)
				break;
		if (i == l->ncolumns) {
			fprintf(
			    stderr,
			    "sluice-worker: load: --key-fields: \"%.*s\" is not a column of %s\n",
			    (int)n, s, l->o->file);
			return -1;
		}
		l->key_idx[l->nkeys++] = i;
		s = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* Where the current record is in the file, for log lines: a CSV line
 * or a Parquet row. */
static const char *where_key(const struct load *l)
{
	return l->pq != NULL ? "row" : "line";
}

static const char *where(const struct load *l, char *buf, size_t size)
{
	return u64(buf, size, l->pq != NULL ? parquet_row(l->pq) : l->r.line);
}

/* A Parquet file says what it is in its first bytes (read in place, so a
 * CSV file is read from its start all the same); only a regular file can
 * be Parquet, whose metadata is at its end. */
static int open_parquet(struct load *l)
{
	char head[4], errbuf[512];
	int fd = fileno(l->f);
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    !parquet_magic(head, sizeof(head)))
		return 0;
	l->pq = parquet_open_fd(fd, l->o->file, errbuf, sizeof(errbuf));
	if (l->pq == NULL) {
		fprintf(stderr, "sluice-worker: load: %s\n", errbuf);
		return -1;
	}
	l->columns = parquet_names(l->pq);
	l->ncolumns = parquet_ncolumns(l->pq);
	return 1;
}

static int read_header(struct load *l, char delim)
{
	char errbuf[256];
	const char *rec;
	size_t len;
	int rc = csvrec_read(&l->r, &rec, &len, errbuf, sizeof(errbuf));

	if (rc <= 0) {
		fprintf(stderr, "sluice-worker: load: %s: %s\n", l->o->file,
		        rc == 0 ? "empty file: no header" : errbuf);
		return -1;
	}
	if (parquet_magic(rec, len)) {
		fprintf(stderr,
		        "sluice-worker: load: %s: this is a Parquet file, which is read from its "
		        "end: give it as a file (--file F.parquet), not through a pipe\n",
		        l->o->file);
		return -1;
	}
	l->header_scratch = malloc(len + CSVREC_CELLS_MAX);
	l->csv_columns = malloc(CSVREC_CELLS_MAX * sizeof(*l->csv_columns));
	l->columns = l->csv_columns;
	if (l->header_scratch == NULL || l->csv_columns == NULL) {
		fprintf(stderr, "sluice-worker: load: out of memory\n");
		return -1;
	}
	int n = csvrec_split(rec, len, delim, l->header_scratch, len + CSVREC_CELLS_MAX,
	                     l->csv_columns, CSVREC_CELLS_MAX, errbuf, sizeof(errbuf));
	if (n < 0) {
		fprintf(stderr, "sluice-worker: load: %s: header: %s\n", l->o->file, errbuf);
		return -1;
	}
	l->ncolumns = (size_t)n;
	return 0;
}

/* Produces one message, waiting while librdkafka's queue is full. */
static int produce(struct load *l, const char *key, size_t key_len, const char *value, size_t len)
{
	char text[256];

	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
		    l->p, RD_KAFKA_V_TOPIC(l->o->topic), RD_KAFKA_V_KEY(key, key_len),
		    RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			l->sent++;
			return 0;
		}
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			char line[32];
			log_error("cannot produce", "topic", l->o->topic, where_key(l),
			          where(l, line, sizeof(line)), "error",
			          kafka_strerror(text, sizeof(text), err), NULL);
			l->failed++;
			return -1;
		}
		rd_kafka_poll(l->p, 100);
		progress(l, clock_mono_ms(), 0);
	}
}

/* --rate: message n is due at start + n / rate seconds. */
static void pace(struct load *l)
{
	if (l->o->rate <= 0)
		return;
	for (;;) {
		int64_t due = l->start_ms + (int64_t)(l->sent * 1000 / (uint64_t)l->o->rate);
		int64_t now = clock_mono_ms();
		if (now >= due || signals_stop_requested())
			return;
		int64_t wait = due - now < 100 ? due - now : 100;
		rd_kafka_poll(l->p, (int)wait);
		progress(l, clock_mono_ms(), 0);
	}
}

/* One data record as load publishes it: its cells (when needed) and the
 * text it is published as without --as-json. */
struct record {
	char *const *cells; /* NULL when the cells were not needed */
	const char *text;
	size_t len;
	char *owned; /* text to free, if any */
};

static void skipped(struct load *l, const char *why)
{
	char at[32];

	if (l->skipped++ < LOAD_LOG_MAX)
		log_warn("record skipped", "file", l->o->file, where_key(l),
		         where(l, at, sizeof(at)), "error", why, NULL);
}

struct csv_source {
	char delim;
	int need_cells;
	char **cells;
	char *scratch;
	size_t scratch_size;
};

/* The next CSV record. Returns 1, 0 at the end, 2 for a record skipped
 * (logged and counted), -1 when the file cannot be read on (logged). */
static int next_csv(struct load *l, struct csv_source *src, struct record *rec)
{
	char errbuf[256];
	const char *text;
	size_t len;
	int r = csvrec_read(&l->r, &text, &len, errbuf, sizeof(errbuf));

	if (r == 0)
		return 0;
	if (r < 0) {
		log_error("cannot read the file", "file", l->o->file, "error", errbuf, NULL);
		return -1;
	}
	l->rows++;
	rec->text = text;
	rec->len = len;
	rec->cells = NULL;
	if (!src->need_cells)
		return 1;
	if (src->scratch_size < len + CSVREC_CELLS_MAX) {
		free(src->scratch);
		src->scratch_size = len + CSVREC_CELLS_MAX;
		src->scratch = malloc(src->scratch_size);
		if (src->scratch == NULL) {
			src->scratch_size = 0;
			log_error("out of memory", NULL);
			return -1;
		}
	}
	int n = csvrec_split(text, len, src->delim, src->scratch, src->scratch_size, src->cells,
	                     CSVREC_CELLS_MAX, errbuf, sizeof(errbuf));
	if (n >= 0 && (size_t)n != l->ncolumns)
		snprintf(errbuf, sizeof(errbuf), "csv: %d cells, the header has %zu", n,
		         l->ncolumns);
	if (n < 0 || (size_t)n != l->ncolumns) {
		skipped(l, errbuf);
		return 2;
	}
	rec->cells = src->cells;
	return 1;
}

/* The next Parquet row, as next_csv; its text is the row as a CSV record
 * (csvrec_join), so it is published as the same row from a CSV file is. */
static int next_parquet(struct load *l, char delim, struct record *rec)
{
	char errbuf[512];
	char *const *cells;
	int r = parquet_next(l->pq, &cells, errbuf, sizeof(errbuf));

	if (r == PARQUET_END)
		return 0;
	if (r == PARQUET_ERROR) {
		log_error("cannot read the file", "file", l->o->file, "error", errbuf, NULL);
		return -1;
	}
	l->rows++;
	if (r == PARQUET_BAD_ROW) {
		skipped(l, errbuf);
		return 2;
	}
	rec->cells = cells;
	rec->text = NULL;
	rec->len = 0;
	if (l->o->as_json)
		return 1;
	rec->owned = csvrec_join(cells, l->ncolumns, delim);
	if (rec->owned == NULL) {
		log_error("out of memory", NULL);
		return -1;
	}
	rec->text = rec->owned;
	rec->len = strlen(rec->owned);
	return 1;
}

static int publish(struct load *l, char delim)
{
	char key[4096];
	struct csv_source csv = {.delim = delim, .need_cells = l->nkeys > 0 || l->o->as_json};
	int rc = 0;

	csv.cells = malloc(CSVREC_CELLS_MAX * sizeof(*csv.cells));
	if (csv.cells == NULL) {
		log_error("out of memory", NULL);
		return -1;
	}
	while (!signals_stop_requested()) {
		struct record rec = {0};
		int r = l->pq != NULL ? next_parquet(l, delim, &rec) : next_csv(l, &csv, &rec);
		if (r == 0)
			break;
		if (r < 0) {
			rc = -1;
			break;
		}
		if (r == 2)
			continue;
		const char *value = rec.text;
		size_t value_len = rec.len, key_len = 0;
		char *json = NULL;
		for (size_t k = 0; rec.cells != NULL && k < l->nkeys; k++) {
			const char *c = rec.cells[l->key_idx[k]];
			size_t clen = strlen(c);
			if (key_len + clen + 1 > sizeof(key))
				clen = sizeof(key) - key_len - 1;
			if (k > 0 && key_len < sizeof(key) - 1)
				key[key_len++] = ',';
			memcpy(key + key_len, c, clen);
			key_len += clen;
		}
		if (l->o->as_json) {
			json = csvrec_json(l->columns, rec.cells, l->ncolumns);
			if (json == NULL) {
				free(rec.owned);
				log_error("out of memory", NULL);
				rc = -1;
				break;
			}
			value = json;
			value_len = strlen(json);
		}
		/* A CSV record is bounded as it is read; a Parquet row only here. */
		if (l->pq != NULL && value_len > CSVREC_MAX) {
			char why[96];
			snprintf(why, sizeof(why),
			         "the row takes %zu bytes as a message (at most %d)", value_len,
			         CSVREC_MAX);
			skipped(l, why);
			free(json);
			free(rec.owned);
			continue;
		}
		pace(l);
		int p = produce(l, l->nkeys > 0 ? key : NULL, key_len, value, value_len);
		free(json);
		free(rec.owned);
		if (p < 0) {
			rc = -1;
			break;
		}
		rd_kafka_poll(l->p, 0);
		progress(l, clock_mono_ms(), 0);
	}
	free(csv.scratch);
	free(csv.cells);
	return rc;
}

/* The most a PEM file or password file may hold. */
#define SECRET_FILE_MAX (1024 * 1024)

/* path's whole content, NUL-terminated, into *out (the caller frees it);
 * NULL path: *out NULL. 0, or -1 with the reason on stderr. */
static int read_small_file(const char *flag, const char *path, char **out)
{
	FILE *f;
	size_t n;
	char *buf;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return 0;
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "sluice-worker: load: %s: cannot open %s: %s\n", flag, path,
		        strerror(errno));
		return -1;
	}
	buf = malloc(SECRET_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		fprintf(stderr, "sluice-worker: load: %s: out of memory\n", flag);
		return -1;
	}
	n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
	if (ferror(f) || n > SECRET_FILE_MAX || n == 0) {
		fprintf(stderr, "sluice-worker: load: %s: %s is %s\n", flag, path,
		        ferror(f) ? "unreadable"
		        : n == 0  ? "empty"
		                  : "larger than 1 MiB");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* The files and values the options name, as kafka_security. */
struct load_security {
	struct kafka_security sec;
	char *ca, *cert, *key, *password;
};

static void load_security_free(struct load_security *s)
{
	free(s->ca);
	free(s->cert);
	free(s->key);
	free(s->password);
}

/* 0, or 2 (bad options) with the reason on stderr. */
static int load_security(const struct load_options *o, struct load_security *s)
{
	char err[512];
	const char *pairs[KAFKA_SECURITY_PAIRS_MAX];

	memset(s, 0, sizeof(*s));
	if (read_small_file("--tls-ca-file", o->tls_ca_file, &s->ca) < 0 ||
	    read_small_file("--tls-cert-file", o->tls_cert_file, &s->cert) < 0 ||
	    read_small_file("--tls-key-file", o->tls_key_file, &s->key) < 0 ||
	    read_small_file("--sasl-password-file", o->sasl_password_file, &s->password) < 0)
		return 2;
	if (s->password != NULL)
		s->password[strcspn(s->password, "\r\n")] = '\0';
	s->sec.tls = o->tls || s->ca != NULL || s->cert != NULL || s->key != NULL ||
	             (o->tls_server_name != NULL && o->tls_server_name[0] != '\0');
	s->sec.ca_pem = s->ca;
	s->sec.cert_pem = s->cert;
	s->sec.key_pem = s->key;
	s->sec.server_name = o->tls_server_name;
	s->sec.sasl_mechanism = o->sasl_mechanism;
	s->sec.username = o->sasl_username;
	s->sec.password = s->password != NULL ? s->password : o->sasl_password;
	/* The client checks the same; asking here makes it a usage error. */
	if (kafka_security_pairs(&s->sec, pairs, KAFKA_SECURITY_PAIRS_MAX, err, sizeof(err)) < 0) {
		fprintf(stderr,
		        "sluice-worker: load: %s (--tls*, --sasl-mechanism, --sasl-username, "
		        "--sasl-password-file or $SLUICE_KAFKA_SASL_PASSWORD)\n",
		        err);
		return 2;
	}
	return 0;
}

int load_run(const struct load_options *o)
{
	struct load_security ls = {0};
	struct load l = {.o = o};
	char errbuf[512], host[256] = "localhost", client_id[300];
	char delim = o->delimiter != 0 ? o->delimiter : ',';
	int parts = 0, repl = 0, status = 1;

	if (o->file == NULL || o->topic == NULL || o->bootstrap == NULL) {
		fprintf(stderr,
		        "sluice-worker: load: --file, --topic and --bootstrap are required\n");
		return 2;
	}
	if (delim == '"' || delim == '\r' || delim == '\n') {
		fprintf(stderr,
		        "sluice-worker: load: --delimiter cannot be a quote or a line break\n");
		return 2;
	}
	status = load_security(o, &ls);
	if (status != 0) {
		load_security_free(&ls);
		return status;
	}
	status = 1;
	l.f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "r");
	if (l.f == NULL) {
		load_security_free(&ls);
		fprintf(stderr, "sluice-worker: load: cannot open %s: %s\n", o->file,
		        strerror(errno));
		return 2;
	}
	struct stat st;
	if (fstat(fileno(l.f), &st) == 0 && S_ISREG(st.st_mode))
		l.file_size = (uint64_t)st.st_size;
	csvrec_init(&l.r, l.f);
	int is_parquet = open_parquet(&l);
	if (is_parquet < 0 || (is_parquet == 0 && read_header(&l, delim) < 0) ||
	    resolve_keys(&l) < 0) {
		status = 2;
		goto done;
	}
	l.bar = o->progress == LOAD_PROGRESS_BAR ||
	        (o->progress == LOAD_PROGRESS_AUTO && isatty(fileno(stderr)));
	if (o->client_id != NULL && o->client_id[0] != '\0') {
		snprintf(client_id, sizeof(client_id), "%s", o->client_id);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(client_id, sizeof(client_id), "sluice-load-%s", host);
	}
	static const char *const extra[] = {"linger.ms", "20", NULL};
	struct kafka_config kc = {
	    .bootstrap = o->bootstrap, .security = &ls.sec, .client_id = client_id, .extra = extra};
	l.p = kafka_producer_new(&kc, on_delivery, &l, errbuf, sizeof(errbuf));
	if (l.p == NULL) {
		log_error("cannot create the producer", "error", errbuf, NULL);
		goto done;
	}
	/* Fail fast and clearly on a missing topic: the producer would only
	 * give up on each message after its metadata timeout. */
	if (kafka_topic_describe(l.p, o->topic, 10000, &parts, &repl, errbuf, sizeof(errbuf)) < 0) {
		log_error(
		    "cannot publish to the topic (topics are never created by accident: create "
		    "it first)",
		    "topic", o->topic, "error", errbuf, NULL);
		goto done;
	}
	log_info("load starting", "file", o->file, "input", l.pq != NULL ? "parquet" : "csv",
	         "topic", o->topic, "key_fields", o->key_fields != NULL ? o->key_fields : "",
	         "format", o->as_json ? "json" : "csv", NULL);
	l.start_ms = clock_mono_ms();
	l.last_progress_ms = l.start_ms;
	int rc = publish(&l, delim);
	/* Every message sent gets its report, even after a stop request. */
	int64_t flush_start = clock_mono_ms();
	while (rd_kafka_outq_len(l.p) > 0 && clock_mono_ms() - flush_start < LOAD_FLUSH_MAX_MS) {
		(void)rd_kafka_flush(l.p, 100);
		progress(&l, clock_mono_ms(), 0);
	}
	/* Messages still without a report after the wait count as failed. */
	if (l.sent > l.delivered + l.dr_failed)
		l.failed += l.sent - l.delivered - l.dr_failed;
	progress(&l, clock_mono_ms(), 1);
	if (l.bar) {
		char a[32], b[32], c[32], d[32];
		log_info("load finished", "file", o->file, "topic", o->topic, "rows",
		         u64(a, sizeof(a), l.rows), "delivered", u64(b, sizeof(b), l.delivered),
		         "failed", u64(c, sizeof(c), l.failed), "skipped",
		         u64(d, sizeof(d), l.skipped), NULL);
	}
	status = rc == 0 && l.failed == 0 && l.skipped == 0 && !signals_stop_requested() ? 0 : 1;
done:
	if (l.p != NULL)
		rd_kafka_destroy(l.p);
	csvrec_free(&l.r);
	parquet_close(l.pq);
	free(l.csv_columns);
	free(l.header_scratch);
	if (l.f != NULL && l.f != stdin)
		fclose(l.f);
	load_security_free(&ls);
	return status;
}
