/* dash_csv.c -- the load form's decisions; see dash_csv.h. */
#include "dash_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "csvrec.h"
#include "err.h"

/* The header's cells, split at delim into a scratch the caller frees. */
static int split_header(const char *header, size_t len, char delim, char **scratch, char ***cells,
                        char *errbuf, size_t errbuf_size)
{
	char err[256];
	int n;

	*scratch = malloc(len + CSVREC_CELLS_MAX);
	*cells = malloc(CSVREC_CELLS_MAX * sizeof(**cells));
	if (*scratch == NULL || *cells == NULL)
		return err_set(errbuf, errbuf_size, -1, "out of memory");
	n = csvrec_split(header, len, delim, *scratch, len + CSVREC_CELLS_MAX, *cells,
	                 CSVREC_CELLS_MAX, err, sizeof(err));
	if (n < 0)
		return err_set(errbuf, errbuf_size, -1, "the file's header: %s", err);
	return n;
}

static int has(char *const *cells, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(cells[i], name) == 0)
			return 1;
	return 0;
}

int dash_load_plan(const struct tw_spec *spec, const char *header, size_t len,
                   struct dash_load_plan *out, char *errbuf, size_t errbuf_size)
{
	char *scratch = NULL, **cells = NULL;
	size_t used = 0;
	int n, rc = -1;

	memset(out, 0, sizeof(*out));
	if (spec->format == TW_FORMAT_LP)
		return err_set(errbuf, errbuf_size, -1,
		               "the TelemetryWindow reads InfluxDB line protocol (spec.format "
		               "influx), not CSV");
	out->delim[0] = spec->format == TW_FORMAT_CSV ? spec->csv.delimiter : ',';
	out->as_json = spec->format == TW_FORMAT_JSON;
	n = split_header(header, len, out->delim[0], &scratch, &cells, errbuf, errbuf_size);
	if (n < 0)
		goto done;
	if (spec->format == TW_FORMAT_CSV) {
		int same = (size_t)n == spec->csv.ncolumns;
		for (int i = 0; same && i < n; i++)
			same = strcmp(cells[i], spec->csv.columns[i]) == 0;
		if (!same) {
			char want[512] = "";
			size_t w = 0;
			for (size_t i = 0; i < spec->csv.ncolumns && w < sizeof(want); i++)
				w += (size_t)snprintf(want + w, sizeof(want) - w, "%s%s",
				                      i > 0 ? "," : "", spec->csv.columns[i]);
			err_set(
			    errbuf, errbuf_size, -1,
			    "the file's header must be spec.csv.columns: %.*s (the worker reads "
			    "cells by position)",
			    (int)sizeof(want), want);
			goto done;
		}
	} else if (spec->fields.timestamp != NULL && spec->fields.timestamp[0] != '\0' &&
	           !has(cells, n, spec->fields.timestamp)) {
		err_set(errbuf, errbuf_size, -1,
		        "the file's header has no column \"%s\" (spec.fields.timestamp)",
		        spec->fields.timestamp);
		goto done;
	}
	for (size_t k = 0; k < spec->fields.nkeys; k++) {
		const char *key = spec->fields.keys[k];
		size_t kl = strlen(key);
		if (!has(cells, n, key))
			continue;
		if (used + kl + 2 > sizeof(out->key_fields)) {
			err_set(errbuf, errbuf_size, -1, "spec.fields.keys: too long");
			goto done;
		}
		if (used > 0)
			out->key_fields[used++] = ',';
		memcpy(out->key_fields + used, key, kl + 1);
		used += kl;
	}
	rc = 0;
done:
	free(scratch);
	free(cells);
	return rc;
}

int dash_load_argv(const struct dash_load_cmd *c, const char **argv, size_t max)
{
	size_t n = 0;

#define ARG(x)                                                                                     \
	do {                                                                                       \
		if (n + 1 >= max)                                                                  \
			return -1;                                                                 \
		argv[n++] = (x);                                                                   \
	} while (0)
	ARG(c->worker);
	ARG("load");
	ARG("--file");
	ARG(c->file);
	ARG("--topic");
	ARG(c->topic);
	ARG("--bootstrap");
	ARG(c->bootstrap);
	ARG("--progress");
	ARG("log");
	ARG("--log-level"); /* its progress lines are info */
	ARG("info");
	if (c->client_id != NULL && c->client_id[0] != '\0') {
		ARG("--client-id");
		ARG(c->client_id);
	}
	if (c->plan->delim[0] != '\0' && c->plan->delim[0] != ',') {
		ARG("--delimiter");
		ARG(c->plan->delim);
	}
	if (c->plan->key_fields[0] != '\0') {
		ARG("--key-fields");
		ARG(c->plan->key_fields);
	}
	if (c->plan->as_json)
		ARG("--as-json");
	if (c->sec != NULL) {
		const struct dash_load_security *t = c->sec;
		if (t->tls)
			ARG("--tls");
		if (t->ca_file != NULL) {
			ARG("--tls-ca-file");
			ARG(t->ca_file);
		}
		if (t->cert_file != NULL) {
			ARG("--tls-cert-file");
			ARG(t->cert_file);
		}
		if (t->key_file != NULL) {
			ARG("--tls-key-file");
			ARG(t->key_file);
		}
		if (t->server_name != NULL) {
			ARG("--tls-server-name");
			ARG(t->server_name);
		}
		if (t->sasl_mechanism != NULL) {
			ARG("--sasl-mechanism");
			ARG(t->sasl_mechanism);
		}
		if (t->sasl_username != NULL) {
			ARG("--sasl-username");
			ARG(t->sasl_username);
		}
		if (t->sasl_password_file != NULL) {
			ARG("--sasl-password-file");
			ARG(t->sasl_password_file);
		}
	}
#undef ARG
	argv[n] = NULL;
	return (int)n;
}

/* Adds dir/name holding content to out's files; *path its path. */
static int secret_file(struct dash_load_secrets *out, const char *dir, const char *name,
                       const char *content, const char **path)
{
	char *p = out->files[out->n].path;
	int n = snprintf(p, DASH_LOAD_PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= DASH_LOAD_PATH_MAX)
		return -1;
	out->files[out->n++].content = content;
	*path = p;
	return 0;
}

int dash_load_secrets_plan(const struct kafka_security *sec, const char *dir,
                           struct dash_load_secrets *out)
{
	struct dash_load_security *a = &out->args;

	memset(out, 0, sizeof(*out));
	if (sec == NULL)
		return 0;
	a->tls = sec->tls;
	if (sec->tls) {
		if ((sec->ca_pem != NULL &&
		     secret_file(out, dir, "ca.pem", sec->ca_pem, &a->ca_file) < 0) ||
		    (sec->cert_pem != NULL &&
		     secret_file(out, dir, "cert.pem", sec->cert_pem, &a->cert_file) < 0) ||
		    (sec->key_pem != NULL &&
		     secret_file(out, dir, "key.pem", sec->key_pem, &a->key_file) < 0))
			return -1;
		a->server_name = sec->server_name;
	}
	if (sec->sasl_mechanism != NULL) {
		a->sasl_mechanism = sec->sasl_mechanism;
		a->sasl_username = sec->username;
		if (sec->password != NULL && secret_file(out, dir, "sasl-password", sec->password,
		                                         &a->sasl_password_file) < 0)
			return -1;
	}
	return 0;
}

int dash_load_env_keep(const char *entry)
{
	static const char *const dropped[] = {
	    "SLUICE_CONFIG=", "SLUICE_STATUS_REDIS_PASSWORD=", "SLUICE_KAFKA_SASL_PASSWORD=", NULL};

	for (size_t i = 0; dropped[i] != NULL; i++)
		if (strncmp(entry, dropped[i], strlen(dropped[i])) == 0)
			return 0;
	return 1;
}

void dash_load_progress_init(struct dash_load_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->percent = -1;
}

/* A count the log writes as a decimal string. */
static int count(const cJSON *line, const char *name, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, name);
	char *end;
	long long n;

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return 0;
	n = strtoll(v->valuestring, &end, 10);
	if (*end != '\0')
		return 0;
	*out = n;
	return 1;
}

int dash_load_progress_line(const char *line, struct dash_load_progress *p)
{
	cJSON *j;
	const char *msg, *level, *err;
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (n == 0)
		return 0;
	j = cJSON_ParseWithLength(line, n);
	if (!cJSON_IsObject(j)) {
		/* The loader's usage errors are plain lines ("sluice-worker: load: ..."). */
		cJSON_Delete(j);
		snprintf(p->error, sizeof(p->error), "%.*s", (int)n, line);
		return 1;
	}
	msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "msg"));
	level = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "level"));
	err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
	int changed = 0;
	if (msg != NULL &&
	    (strcmp(msg, "load progress") == 0 || strcmp(msg, "load finished") == 0)) {
		long long pct = -1;
		changed |= count(j, "rows", &p->rows);
		changed |= count(j, "delivered", &p->delivered);
		changed |= count(j, "failed", &p->failed);
		changed |= count(j, "skipped", &p->skipped);
		if (count(j, "percent", &pct) && pct >= 0 && pct <= 100) {
			p->percent = (int)pct;
			changed = 1;
		}
		if (strcmp(msg, "load finished") == 0) {
			p->finished = 1;
			changed = 1;
		}
	} else if (level != NULL && strcmp(level, "error") == 0 && msg != NULL) {
		snprintf(p->error, sizeof(p->error), "%s%s%s", msg, err != NULL ? ": " : "",
		         err != NULL ? err : "");
		changed = 1;
	}
	cJSON_Delete(j);
	return changed;
}
