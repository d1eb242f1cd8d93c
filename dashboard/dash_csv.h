/* dash_csv.h -- the CSV side of the dashboard's load form, decided without
 * I/O: how `sluice-worker load` (workers/tools/load.h) must publish a file
 * so that the TelemetryWindow reads it (its format, delimiter and key
 * fields, judged against the file's header row), the loader's command
 * line, and what its log lines say of its progress. Pure; tested with
 * tables of cases (tests/unit/test_dashboard_csv.c).
 */
#ifndef SLUICE_DASH_CSV_H
#define SLUICE_DASH_CSV_H

#include <stddef.h>

#include "kafka.h"
#include "tw_spec.h"

#define DASH_KEY_FIELDS_MAX 1024

struct dash_load_plan {
	int as_json;   /* publish each record as a JSON object (format json) */
	char delim[2]; /* the file's delimiter, as --delimiter takes it */
	char key_fields[DASH_KEY_FIELDS_MAX]; /* "a,b" for --key-fields, or "" */
};

/*
 * How to publish a file whose first record is header (len bytes, without
 * its line break) to the TelemetryWindow spec:
 *   format json     each record as a JSON object keyed by the header
 *                   (--as-json); the header must hold fields.timestamp
 *   format csv      each record as it is, split at csv.delimiter; the
 *                   header must be csv.columns exactly, in order (the
 *                   worker reads cells by position)
 *   format influx   refused: the topic takes line protocol, not CSV
 * The message key is the spec's key fields (those the header has), so a
 * key's records share a partition as the worker expects. Returns 0, or -1
 * with errbuf saying what to fix, e.g.
 *   the file's header has no column "ts" (spec.fields.timestamp)
 */
int dash_load_plan(const struct tw_spec *spec, const char *header, size_t len,
                   struct dash_load_plan *out, char *errbuf, size_t errbuf_size);

/* The loader's TLS and SASL options (workers/tools/load.h): the secrets
 * as paths of files, never as values, so that no secret is on its command
 * line (which every process of the pod may read). NULL: not given. */
struct dash_load_security {
	int tls;
	const char *ca_file, *cert_file, *key_file, *server_name;
	const char *sasl_mechanism, *sasl_username, *sasl_password_file;
};

/* The loader's arguments, borrowed strings. */
struct dash_load_cmd {
	const char *worker; /* the sluice-worker binary */
	const char *file, *topic, *bootstrap, *client_id;
	const struct dash_load_plan *plan;
	const struct dash_load_security *sec; /* NULL: PLAINTEXT */
};

#define DASH_LOAD_ARGV_MAX 40

/*
 * argv for `<worker> load --file F --topic T --bootstrap B --progress log
 * --log-level info [--client-id C] [--delimiter D] [--key-fields K] [--as-json]
 * [--tls] [--tls-ca-file F] [--tls-cert-file F --tls-key-file F]
 * [--tls-server-name N] [--sasl-mechanism M --sasl-username U
 * --sasl-password-file F]`, NULL ended, pointing into c. Returns argc, or -1
 * when argv (max entries, NULL included) is too small.
 */
int dash_load_argv(const struct dash_load_cmd *c, const char **argv, size_t max);

/* Where a resource's Kafka secrets go for one load: files in a private
 * directory (made 0700 by the caller), each written 0600 and removed with
 * it when the loader ends. */
#define DASH_LOAD_SECRET_FILES 4
#define DASH_LOAD_PATH_MAX 4096
struct dash_load_secrets {
	struct dash_load_security args; /* the paths point into files[] */
	size_t n;                       /* files to write */
	struct {
		char path[DASH_LOAD_PATH_MAX];
		const char *content; /* borrowed from the kafka_security */
	} files[DASH_LOAD_SECRET_FILES];
};

/*
 * The loader's options for sec (a resource's spec.kafka.tls and .sasl
 * resolved, lib/contract/kafka_security.h) with its secrets as files of
 * dir: ca.pem, cert.pem, key.pem, sasl-password (those sec has), and the
 * rest (server name, mechanism, username) as values. sec without TLS or
 * SASL: out->n 0 and out->args all unset. Returns 0, or -1 when a path
 * would not fit. out must not be copied (args point into it). Pure.
 */
int dash_load_secrets_plan(const struct kafka_security *sec, const char *dir,
                           struct dash_load_secrets *out);

/*
 * Whether an entry of the dashboard's environment ("NAME=value") is passed
 * on to the loader: not SLUICE_CONFIG (an options file meant for the
 * dashboard), nor a secret the loader must not hold or must not mistake
 * for the resource's: the status Redis's password
 * (SLUICE_STATUS_REDIS_PASSWORD) and a Kafka SASL password
 * (SLUICE_KAFKA_SASL_PASSWORD: the resource's comes as a file). 1: kept.
 * Pure.
 */
int dash_load_env_keep(const char *entry);

/* What the loader said so far. */
struct dash_load_progress {
	long long rows, delivered, failed, skipped;
	int percent;     /* -1: unknown */
	int finished;    /* "load finished" was logged */
	char error[512]; /* the last error line: its msg and error fields */
};

/* An empty progress (counts 0, percent -1). */
void dash_load_progress_init(struct dash_load_progress *p);

/*
 * Reads one line of the loader's stderr (its JSON log lines, lib/log.h):
 * "load progress" and "load finished" set the counts (and finished); a
 * line at level error sets error; a line that is not JSON (the loader's
 * usage messages) sets error too. Returns 1 when p changed, else 0.
 */
int dash_load_progress_line(const char *line, struct dash_load_progress *p);

#endif
