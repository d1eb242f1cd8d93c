/* kafka_security.h -- a resource's spec.kafka.tls and spec.kafka.sasl made
 * into lib/kafka.h's struct kafka_security: the one mapping from the
 * contract's Secret references to the values a Kafka client is made with,
 * used by the workers (the values from their environment, where the
 * operator put each referenced Secret key: lib/secret_env.h) and by the
 * operator (the values read from the API server). */
#ifndef SLUICE_KAFKA_SECURITY_H
#define SLUICE_KAFKA_SECURITY_H

#include <stddef.h>

#include "kafka.h"
#include "spec_common.h"

/*
 * Finds the value of key in Secret name. Returns it (owned by the
 * resolver, valid as long as the caller uses the kafka_security made from
 * it), or NULL with why it is missing in why ("the Secret does not exist",
 * "no key password in it", "environment variable SLUICE_SECRET_X_Y is
 * unset"); ctx is the caller's.
 */
typedef const char *(*spec_secret_fn)(void *ctx, const char *name, const char *key, char *why,
                                      size_t why_size);

/*
 * out from k's tls and sasl (nothing set: out is all zero, PLAINTEXT),
 * each referenced value through get. Returns 0, or -1 with the first
 * missing reference named in errbuf:
 *   spec.kafka.sasl.password: Secret "kafka-creds" key "password": the Secret does not exist
 * out's strings point into k (server_name) and into what get returned.
 */
int spec_kafka_security(const struct spec_kafka *k, spec_secret_fn get, void *ctx,
                        struct kafka_security *out, char *errbuf, size_t errbuf_size);

/* The workers' resolver: secret_env_get (ctx unused). */
const char *spec_secret_from_env(void *ctx, const char *name, const char *key, char *why,
                                 size_t why_size);

/* The Secret references k's tls and sasl name (those set, in the order ca,
 * cert, key, username, password) into out; returns how many. The operator
 * gives each to the worker pods as an environment variable (secret_env.h),
 * where spec_kafka_security_env finds it. */
#define SPEC_KAFKA_SECRET_REFS_MAX 5
size_t spec_kafka_secret_refs(const struct spec_kafka *k,
                              const struct spec_secret_ref *out[SPEC_KAFKA_SECRET_REFS_MAX]);

/* spec_kafka_security with spec_secret_from_env: what a worker calls. */
int spec_kafka_security_env(const struct spec_kafka *k, struct kafka_security *out, char *errbuf,
                            size_t errbuf_size);

#endif
