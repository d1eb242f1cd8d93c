/* spec_defaults.h -- a resource's effective spec: what the operator fills in
 * where a TelemetryWindow or VideoJob leaves the Kafka bootstrap (with the
 * default cluster's TLS and SASL) or a whole sink out (docs/contracts.md §1
 * and §3, docs/kafka-security.md). The operator writes the result into the
 * workers' ConfigMap and makes its own Kafka clients from it; the dashboard
 * reads the same result to find where the workers wrote. One function, so
 * they never disagree. Pure, as is the check of the Kafka defaults; the
 * options that give those are declared here once for both programs.
 */
#ifndef SLUICE_SPEC_DEFAULTS_H
#define SLUICE_SPEC_DEFAULTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"

/*
 * The default cluster's security: kafka.tls and kafka.sasl of a resource
 * that names neither its own bootstrap nor tls nor sasl. Secret references
 * are written "secret/key" and name a Secret of each resource's namespace.
 * NULL or "" members are unset.
 */
struct spec_kafka_defaults {
	int tls;                     /* kafka.tls (even {}); implied by the four below */
	const char *ca, *cert, *key; /* tls.ca, tls.cert, tls.key: "secret/key" */
	const char *server_name;     /* tls.serverName */
	const char *sasl_mechanism;  /* sasl.mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 */
	const char *sasl_username;   /* sasl.username: "secret/key" */
	const char *sasl_password;   /* sasl.password: "secret/key" */
};

/* NULL or "" members are unset. */
struct spec_defaults {
	const char *kafka_bootstrap; /* kafka.bootstrap when left out */
	/* With kafka_bootstrap: what a resource that names none of
	 * kafka.bootstrap, .tls, .sasl gets as its tls and sasl. */
	struct spec_kafka_defaults kafka;
	const char *redis_addr; /* sinks.redis {addr} */
	/* The default sinks.redis's credentials, those of the status Redis it
	 * is: {username, password: {name: secret, key}} (docs/deploy.md). */
	const char *redis_username, *redis_password_secret, *redis_password_key;
	const char *postgres_secret; /* sinks.postgres {dsn: {name: this, key: "dsn"}} */
	const char *influx_url;      /* sinks.influxdb {url, database}, both needed */
	const char *influx_database;
};

/*
 * A deep copy of spec where d fills what the resource leaves out:
 * kafka.bootstrap; with it, kafka.tls and kafka.sasl from d->kafka, only
 * when the resource names neither tls nor sasl (one rule: the default
 * cluster comes with its security, a resource's own settings are never
 * mixed with the defaults); and whole sinks (a sink the resource names is
 * left exactly as it is). An empty "sinks" is left out. A spec that is not
 * an object is copied as it is (the parser names the problem). A Secret
 * reference without a '/' is written as the string it is, which the parser
 * refuses (spec_defaults_kafka_check catches it at start). New object, or
 * NULL when out of memory.
 */
cJSON *spec_defaults_apply(const cJSON *spec, const struct spec_defaults *d);

/*
 * Whether k can be given to resources of bootstrap: each reference is
 * "secret/key" (a DNS subdomain, a Secret key [-._a-zA-Z0-9]+), cert and
 * key come together, a SASL mechanism is one of the three and has a
 * username and a password, and a username or password has a mechanism;
 * any setting needs bootstrap (the default cluster's). Returns 0, or -1
 * with the flag named in errbuf:
 *   --kafka-ca-secret: "kafka-ca" is not secret/key
 */
int spec_defaults_kafka_check(const struct spec_kafka_defaults *k, const char *bootstrap,
                              char *errbuf, size_t errbuf_size);

/* The options that give struct spec_kafka_defaults, for the operator's and
 * the dashboard's tables (config.h); read with spec_defaults_kafka_from. */
extern const char *const spec_defaults_sasl_choices[];
#define SPEC_DEFAULTS_KAFKA_OPTIONS                                                                \
	{.name = "kafka-tls",                                                                      \
	 .flag = "--kafka-tls",                                                                    \
	 .env = "SLUICE_KAFKA_TLS",                                                                \
	 .type = CONFIG_BOOL,                                                                      \
	 .def = "false",                                                                           \
	 .help = "TLS to the --kafka-bootstrap cluster for resources that name no bootstrap, "     \
	         "tls or sasl (implied by the --kafka-*-secret and --kafka-server-name below)."},  \
	    {.name = "kafka-ca-secret",                                                            \
	     .flag = "--kafka-ca-secret",                                                          \
	     .env = "SLUICE_KAFKA_CA_SECRET",                                                      \
	     .type = CONFIG_STRING,                                                                \
	     .help = "secret/key: the CA (PEM) of those brokers, a Secret in each resource's "     \
	             "namespace; unset: the system's CAs."},                                       \
	    {.name = "kafka-cert-secret",                                                          \
	     .flag = "--kafka-cert-secret",                                                        \
	     .env = "SLUICE_KAFKA_CERT_SECRET",                                                    \
	     .type = CONFIG_STRING,                                                                \
	     .help =                                                                               \
	         "secret/key: a client certificate (PEM) for them (with --kafka-key-secret)."},    \
	    {.name = "kafka-key-secret",                                                           \
	     .flag = "--kafka-key-secret",                                                         \
	     .env = "SLUICE_KAFKA_KEY_SECRET",                                                     \
	     .type = CONFIG_STRING,                                                                \
	     .help = "secret/key: that certificate's unencrypted private key (PEM)."},             \
	    {.name = "kafka-server-name",                                                          \
	     .flag = "--kafka-server-name",                                                        \
	     .env = "SLUICE_KAFKA_SERVER_NAME",                                                    \
	     .type = CONFIG_STRING,                                                                \
	     .help = "The name every broker's certificate must carry (tls.serverName)."},          \
	    {.name = "kafka-sasl-mechanism",                                                       \
	     .flag = "--kafka-sasl-mechanism",                                                     \
	     .env = "SLUICE_KAFKA_SASL_MECHANISM",                                                 \
	     .type = CONFIG_ENUM,                                                                  \
	     .def = "",                                                                            \
	     .choices = spec_defaults_sasl_choices,                                                \
	     .help = "SASL to that cluster: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: none."}, \
	    {.name = "kafka-sasl-username-secret",                                                 \
	     .flag = "--kafka-sasl-username-secret",                                               \
	     .env = "SLUICE_KAFKA_SASL_USERNAME_SECRET",                                           \
	     .type = CONFIG_STRING,                                                                \
	     .help = "secret/key: the SASL username, a Secret in each resource's namespace."},     \
	{                                                                                          \
		.name = "kafka-sasl-password-secret", .flag = "--kafka-sasl-password-secret",      \
		.env = "SLUICE_KAFKA_SASL_PASSWORD_SECRET", .type = CONFIG_STRING,                 \
		.help = "secret/key: the SASL password, a Secret in each resource's namespace."    \
	}

/*
 * out from cfg's SPEC_DEFAULTS_KAFKA_OPTIONS (its strings owned by cfg),
 * then spec_defaults_kafka_check against bootstrap. Returns 0 or -1 with
 * errbuf set.
 */
int spec_defaults_kafka_from(const struct config *cfg, const char *bootstrap,
                             struct spec_kafka_defaults *out, char *errbuf, size_t errbuf_size);

#endif
