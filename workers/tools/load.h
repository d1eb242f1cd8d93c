/* load.h -- `sluice-worker load`: publishes a CSV or Parquet file to a
 * Kafka topic, one message per data record, for back-fills.
 *
 *   sluice-worker load --file F.csv|F.parquet --topic T --bootstrap B
 *                      [--key-fields a,b] [--rate N] [--as-json]
 *
 * The file's first bytes say which it is: Parquet's magic "PAR1" (in a
 * regular file: Parquet is read from its end), CSV otherwise, whatever
 * the file's name. In a CSV file the first record is the header (column
 * names); it is not published. Each data record is published as it is in
 * the file (without its line break), or with --as-json as a JSON object
 * keyed by the header's names (csvrec_json). A Parquet file's columns are
 * the header, and each row (parquet.h: its cells as text) is published as
 * the same row of a CSV file would be: as a CSV record (csvrec_join), or
 * with --as-json the same JSON object.
 *
 * The message key is the key fields' cells, in the order given, joined by
 * ',' (no key without --key-fields), and the producer partitions by it as
 * Java clients do (murmur2), so every record of a key lands in the same
 * partition. The topic must exist: topics are never auto-created.
 *
 * Progress goes to stderr: on a terminal, one line redrawn at most ten
 * times a second; otherwise a JSON log line ("load progress") every two
 * seconds. At the end it waits for every delivery report and logs "load
 * finished" with the rows read, delivered, failed and skipped (records
 * that could not be split to find their key; Parquet rows with a value
 * that has no text, or longer than 1 MiB as a message). SIGTERM/SIGINT
 * stop reading and still wait for what was sent.
 *
 * Threads: the caller's, plus librdkafka's.
 */
#ifndef SLUICE_LOAD_H
#define SLUICE_LOAD_H

enum load_progress {
	LOAD_PROGRESS_AUTO = 0, /* a bar on a terminal, log lines otherwise */
	LOAD_PROGRESS_BAR,
	LOAD_PROGRESS_LOG,
	LOAD_PROGRESS_NONE,
};

struct load_options {
	const char *file;       /* required; "-" reads stdin */
	const char *topic;      /* required */
	const char *bootstrap;  /* required */
	const char *key_fields; /* "a,b" or NULL */
	const char *client_id;  /* NULL: "sluice-load-<hostname>" */
	long long rate;         /* messages per second; 0: as fast as possible */
	int as_json;
	char delimiter; /* 0: ',' */
	enum load_progress progress;
	/* TLS and SASL to the brokers (docs/kafka-security.md). Files are
	 * read at start; any TLS file or server name implies tls. */
	int tls;
	const char *tls_ca_file, *tls_cert_file, *tls_key_file, *tls_server_name;
	const char *sasl_mechanism; /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; NULL: none */
	const char *sasl_username;
	/* The password: never a flag. The value (SLUICE_KAFKA_SASL_PASSWORD)
	 * or a file holding it (a trailing line break is dropped). */
	const char *sasl_password, *sasl_password_file;
};

/* Exit status for main: 0 when every record was delivered; 1 when any
 * delivery failed, any record was skipped, or the run could not start
 * (logged); 2 for bad options (printed on stderr). */
int load_run(const struct load_options *o);

#endif
