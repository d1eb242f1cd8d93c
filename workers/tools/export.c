/* export.c -- the last N windows of a TelemetryWindow as CSV; see
 * export.h. */
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "pg.h"
#include "secret_env.h"
#include "tw_spec.h"

#define SQL_MAX 2048
/* An export of many windows is one long statement: five minutes. */
#define EXPORT_CONNECT_TIMEOUT_S 10
#define EXPORT_STATEMENT_TIMEOUT_MS 300000
#define NCOLS 13

const char export_csv_header[] = "key,window_start,window_end,field,count,value_count,"
                                 "sum,min,max,mean,p50,p95,p99";

/* Times as RFC 3339 UTC with milliseconds, by the server, so the export and
 * a psql session agree on every digit. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

int export_sql(char *buf, size_t size, const char *table, int with_key)
{
	const char *key_cond = with_key ? " AND key = $3" : "";
	int n = snprintf(
	    buf, size,
	    "WITH w AS (SELECT DISTINCT window_start FROM \"%s\" "
	    "WHERE resource = $1%s ORDER BY window_start DESC LIMIT $2::bigint) "
	    "SELECT key, " TS("t.window_start") ", " TS(
	        "t.window_end") ", "
	                        "field, count, value_count, sum, min, max, mean, p50, p95, p99 "
	                        "FROM \"%s\" t JOIN w ON t.window_start = w.window_start "
	                        "WHERE t.resource = $1%s ORDER BY t.window_start, key, field",
	    table, key_cond, table, key_cond);

	return n < 0 || (size_t)n >= size ? -1 : n;
}

int export_csv_cell(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL)
		return fputs(s, f) == EOF ? EOF : 0;
	if (fputc('"', f) == EOF)
		return EOF;
	for (; *s != '\0'; s++) {
		if (*s == '"' && fputc('"', f) == EOF)
			return EOF;
		if (fputc(*s, f) == EOF)
			return EOF;
	}
	return fputc('"', f) == EOF ? EOF : 0;
}

static void conn_error(PGconn *c, char *buf, size_t size)
{
	const char *m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t n;

	snprintf(buf, size, "%s", m);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
}

/* Streams the rows (single-row mode: memory stays flat for any N) into f.
 * Returns the rows written, or -1 with the reason in errbuf. */
static long long write_rows(PGconn *c, const struct tw_spec *spec, const struct export_options *o,
                            FILE *f, char *errbuf, size_t errbuf_size)
{
	char sql[SQL_MAX], resource[512], last[32];
	const char *params[3];
	PGresult *r;
	long long rows = 0;
	int failed = 0;

	snprintf(resource, sizeof(resource), "%s/%s", spec->namespace, spec->name);
	snprintf(last, sizeof(last), "%lld", o->last);
	params[0] = resource;
	params[1] = last;
	params[2] = o->key;
	if (export_sql(sql, sizeof(sql), spec->sinks.postgres.table, o->key != NULL) < 0) {
		snprintf(errbuf, errbuf_size, "query too long");
		return -1;
	}
	if (!PQsendQueryParams(c, sql, o->key != NULL ? 3 : 2, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(c)) {
		conn_error(c, errbuf, errbuf_size);
		return -1;
	}
	if (fprintf(f, "%s\n", export_csv_header) < 0)
		failed = 1;
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_SINGLE_TUPLE && !failed) {
			for (int col = 0; col < NCOLS && !failed; col++) {
				if ((col > 0 && fputc(',', f) == EOF) ||
				    (!PQgetisnull(r, 0, col) &&
				     export_csv_cell(f, PQgetvalue(r, 0, col)) == EOF))
					failed = 1;
			}
			if (fputc('\n', f) == EOF)
				failed = 1;
			rows++;
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !failed) {
			const char *m = PQresultErrorMessage(r);

			snprintf(errbuf, errbuf_size, "%s: %s", spec->sinks.postgres.table,
			         m != NULL && m[0] != '\0' ? m : PQresStatus(st));
			errbuf[strcspn(errbuf, "\n")] = '\0';
			failed = 2;
		}
		PQclear(r); /* read every result, so the connection ends clean */
	}
	if (failed == 1)
		snprintf(errbuf, errbuf_size, "writing the CSV: %s", strerror(errno));
	return failed ? -1 : rows;
}

int export_run(const struct export_options *o)
{
	struct tw_spec spec;
	char errbuf[1024], var[512], tmp[4096];
	const char *dsn;
	PGconn *c;
	FILE *f = stdout;
	int to_file = o->output != NULL && strcmp(o->output, "-") != 0;
	long long rows;

	if (o->spec_path == NULL || o->spec_path[0] == '\0') {
		fprintf(stderr, "sluice-worker: export: --config FILE (the TelemetryWindow) is "
		                "required\n");
		return EXPORT_EXIT_USAGE;
	}
	if (o->last < 1 || o->last > EXPORT_LAST_MAX) {
		fprintf(stderr, "sluice-worker: export: --last must be 1..%d\n", EXPORT_LAST_MAX);
		return EXPORT_EXIT_USAGE;
	}
	if (tw_spec_load_file(o->spec_path, &spec, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: %s\n", errbuf);
		return EXPORT_EXIT_USAGE;
	}
	if (!spec.sinks.postgres.enabled) {
		fprintf(stderr,
		        "sluice-worker: export: %s has no spec.sinks.postgres: nothing to export "
		        "from\n",
		        o->spec_path);
		tw_spec_free(&spec);
		return EXPORT_EXIT_USAGE;
	}
	dsn = secret_env_get(spec.sinks.postgres.dsn.name, spec.sinks.postgres.dsn.key, var,
	                     sizeof(var));
	if (dsn == NULL) {
		fprintf(stderr,
		        "sluice-worker: export: spec.sinks.postgres.dsn: environment variable %s "
		        "is not set (Secret \"%s\", key \"%s\")\n",
		        var, spec.sinks.postgres.dsn.name, spec.sinks.postgres.dsn.key);
		tw_spec_free(&spec);
		return EXPORT_EXIT_USAGE;
	}
	const struct spec_secret_ref *ca = &spec.sinks.postgres.tls_ca;
	const char *ca_pem = NULL;
	if (ca->name != NULL) {
		ca_pem = secret_env_get(ca->name, ca->key, var, sizeof(var));
		if (ca_pem == NULL) {
			fprintf(stderr,
			        "sluice-worker: export: spec.sinks.postgres.tls.ca: environment "
			        "variable %s is not set (Secret \"%s\", key \"%s\")\n",
			        var, ca->name, ca->key);
			tw_spec_free(&spec);
			return EXPORT_EXIT_USAGE;
		}
	}
	c = pg_connect_ca_pem(dsn, ca_pem, "sluice-export", EXPORT_CONNECT_TIMEOUT_S,
	                      EXPORT_STATEMENT_TIMEOUT_MS, NULL, errbuf, sizeof(errbuf));
	if (c == NULL) {
		fprintf(stderr, "sluice-worker: export: %s\n", errbuf);
		tw_spec_free(&spec);
		return 1;
	}
	if (to_file) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", o->output) >= sizeof(tmp) ||
		    (f = fopen(tmp, "w")) == NULL) {
			fprintf(stderr, "sluice-worker: export: %s: %s\n", o->output,
			        strerror(errno));
			PQfinish(c);
			tw_spec_free(&spec);
			return 1;
		}
	}
	rows = write_rows(c, &spec, o, f, errbuf, sizeof(errbuf));
	if (rows >= 0 && fflush(f) != 0) {
		snprintf(errbuf, sizeof(errbuf), "writing the CSV: %s", strerror(errno));
		rows = -1;
	}
	if (to_file) {
		if (fclose(f) != 0 && rows >= 0) {
			snprintf(errbuf, sizeof(errbuf), "writing the CSV: %s", strerror(errno));
			rows = -1;
		}
		if (rows >= 0 && rename(tmp, o->output) != 0) {
			snprintf(errbuf, sizeof(errbuf), "rename to %.900s: %s", o->output,
			         strerror(errno));
			rows = -1;
		}
		if (rows < 0)
			(void)remove(tmp);
	}
	PQfinish(c);
	if (rows < 0)
		fprintf(stderr, "sluice-worker: export: %s\n", errbuf);
	else
		fprintf(stderr,
		        "sluice-worker: export: %lld rows of the last %lld windows of %s/%s%s%s\n",
		        rows, o->last, spec.namespace, spec.name, o->key != NULL ? ", key " : "",
		        o->key != NULL ? o->key : "");
	tw_spec_free(&spec);
	return rows < 0 ? 1 : 0;
}
