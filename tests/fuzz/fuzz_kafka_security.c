/*
 * fuzz_kafka_security.c - libFuzzer target for the Kafka SASL/TLS settings
 * mapping, from where they are written to what librdkafka is given:
 *
 *   the operator's defaults  --kafka-*-secret flags / SLUICE_KAFKA_* env
 *                            (spec_defaults_kafka_check), filled into a
 *                            resource's spec.kafka (spec_defaults_apply);
 *   the resource             spec.kafka.tls and .sasl read
 *                            (spec_get_kafka_security), the Secret
 *                            references listed (spec_kafka_secret_refs);
 *   the values               each reference resolved, by a resolver and
 *                            through the environment as the workers do
 *                            (secret_env_name, spec_kafka_security_env);
 *   librdkafka               kafka_security_pairs (lib/kafka.c, read only
 *                            here), also on settings that skip the spec;
 *   failures                 kafka_security_failure's classification and
 *                            kafka_cert_has_name on the rest as DER.
 *
 * The input is lines: flags (byte 0 of it: bit 0 --kafka-tls, bits 1-3 the
 * room given to kafka_security_pairs when below 7, bits 4-5 which error
 * code to classify, bit 6 a DER parse), --kafka-bootstrap, the ca, cert,
 * key, server-name, sasl-mechanism, sasl-username and sasl-password
 * settings, then the resource's spec.kafka (JSON or YAML) to the end.
 *
 * Checks beyond the sanitizers: every refusal is one line; defaults the
 * operator accepts at start make a spec.kafka the reader accepts; a spec
 * the reader accepts and whose Secrets resolve always maps to librdkafka
 * settings (the protocol its tls and sasl call for, the resolved values as
 * they are), and the environment path gives the same values; a message
 * never depends on a password or key; a table too small is refused, not
 * overrun. Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "kafka.h"
#include "kafka_security.h"
#include "secret_env.h"
#include "spec_common.h"
#include "spec_defaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_FLAGS, F_BOOTSTRAP, F_CA, F_CERT, F_KEY, F_SERVER, F_MECH, F_USER, F_PASS, F_KAFKA, F_N };

static const char *unset_empty(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* The resolver: a value made from the reference, none for a Secret named
 * "missing...", an empty one for "empty...". Values live in the context
 * until the next input. */
struct resolver {
	char values[SPEC_KAFKA_SECRET_REFS_MAX][2 * SPEC_NAME_MAX + 16];
	size_t n;
};

static const char *resolve(void *ctx, const char *name, const char *key, char *why, size_t why_size)
{
	struct resolver *r = ctx;
	char *v;

	if (strncmp(name, "missing", 7) == 0) {
		snprintf(why, why_size, "the Secret does not exist");
		return NULL;
	}
	if (strncmp(name, "empty", 5) == 0)
		return "";
	FUZZ_CHECK(r->n < SPEC_KAFKA_SECRET_REFS_MAX);
	v = r->values[r->n++];
	snprintf(v, sizeof(r->values[0]), "%s=%s", name, key);
	return v;
}

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* kafka_security_pairs on sec: the pairs, or a one-line refusal; the same
 * answer and message whatever the password and key are. */
static int pairs_of(const struct kafka_security *sec, const char **pairs, size_t n)
{
	struct kafka_security other = *sec;
	const char *pairs2[KAFKA_SECURITY_PAIRS_MAX];
	char errbuf[512], errbuf2[512];
	int rc, rc2;

	errbuf[0] = errbuf2[0] = '\0';
	rc = kafka_security_pairs(sec, pairs, n, errbuf, sizeof(errbuf));
	FUZZ_CHECK(rc == 0 || rc == KAFKA_ERR);
	if (rc != 0)
		fuzz_check_one_line(errbuf);
	if (other.password != NULL && other.password[0] != '\0')
		other.password = "\x01other password";
	if (other.key_pem != NULL && other.key_pem[0] != '\0')
		other.key_pem = "\x01other key";
	rc2 = kafka_security_pairs(&other, pairs2, n, errbuf2, sizeof(errbuf2));
	FUZZ_CHECK(rc2 == rc && strcmp(errbuf, errbuf2) == 0);
	return rc;
}

/* The pairs sec maps to, checked against it. */
static void check_pairs(const struct kafka_security *sec, const char **pairs)
{
	const char *want = sec->tls ? (sec->sasl_mechanism ? "sasl_ssl" : "ssl")
	                            : (sec->sasl_mechanism ? "sasl_plaintext" : "plaintext");
	size_t n = 0;

	while (pairs[n] != NULL) {
		FUZZ_CHECK(pairs[n + 1] != NULL);
		for (size_t j = 0; j < n; j += 2)
			FUZZ_CHECK(strcmp(pairs[j], pairs[n]) != 0);
		if (strcmp(pairs[n], "sasl.password") == 0)
			FUZZ_CHECK(pairs[n + 1] == sec->password);
		if (strcmp(pairs[n], "ssl.key.pem") == 0)
			FUZZ_CHECK(pairs[n + 1] == sec->key_pem);
		n += 2;
	}
	FUZZ_CHECK(n >= 2 && n < KAFKA_SECURITY_PAIRS_MAX);
	FUZZ_CHECK(strcmp(pairs[0], "security.protocol") == 0 && strcmp(pairs[1], want) == 0);
}

/* A table of n pointers exactly: too small is refused, never overrun. */
static void small_table(const struct kafka_security *sec, size_t n)
{
	const char **pairs = malloc(n * sizeof(*pairs));
	char errbuf[256];

	FUZZ_CHECK(pairs != NULL);
	if (kafka_security_pairs(sec, pairs, n, errbuf, sizeof(errbuf)) != 0)
		fuzz_check_one_line(errbuf);
	free(pairs);
}

/* The workers' path: each reference in the environment under
 * secret_env_name, read back by spec_kafka_security_env. Skipped when two
 * references share a variable or one is too long for the operator's
 * 256-byte name (operator/children.c leaves those out). */
static void env_round_trip(const struct spec_kafka *k, const struct kafka_security *want)
{
	const struct spec_secret_ref *refs[SPEC_KAFKA_SECRET_REFS_MAX];
	char vars[SPEC_KAFKA_SECRET_REFS_MAX][256];
	struct resolver r = {.n = 0};
	struct kafka_security got;
	char errbuf[512], why[64];
	size_t n = spec_kafka_secret_refs(k, refs);
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (secret_env_name(refs[i]->name, refs[i]->key, vars[i], sizeof(vars[i])) != 0)
			return;
		for (size_t j = 0; j < i; j++)
			if (strcmp(vars[i], vars[j]) == 0)
				return;
	}
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(setenv(vars[i],
		                  resolve(&r, refs[i]->name, refs[i]->key, why, sizeof(why)),
		                  1) == 0);
	rc = spec_kafka_security_env(k, &got, errbuf, sizeof(errbuf));
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(got.tls == want->tls && same(got.ca_pem, want->ca_pem) &&
	           same(got.cert_pem, want->cert_pem) && same(got.key_pem, want->key_pem) &&
	           same(got.server_name, want->server_name) &&
	           same(got.sasl_mechanism, want->sasl_mechanism) &&
	           same(got.username, want->username) && same(got.password, want->password));
	for (size_t i = 0; i < n; i++)
		unsetenv(vars[i]);
}

static void check_env_names(const struct spec_kafka *k)
{
	const struct spec_secret_ref *refs[SPEC_KAFKA_SECRET_REFS_MAX];
	size_t n = spec_kafka_secret_refs(k, refs);

	FUZZ_CHECK(n <= SPEC_KAFKA_SECRET_REFS_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t need =
		    strlen("SLUICE_SECRET_") + strlen(refs[i]->name) + 1 + strlen(refs[i]->key) + 1;
		char *var = malloc(need);

		FUZZ_CHECK(refs[i]->name != NULL && refs[i]->key != NULL && var != NULL);
		FUZZ_CHECK(secret_env_name(refs[i]->name, refs[i]->key, var, need) == 0);
		FUZZ_CHECK(strlen(var) == need - 1 && strncmp(var, "SLUICE_SECRET_", 14) == 0);
		for (const char *c = var; *c != '\0'; c++)
			FUZZ_CHECK((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			           *c == '_');
		FUZZ_CHECK(secret_env_name(refs[i]->name, refs[i]->key, var, need - 1) == -1);
		free(var);
	}
}

/* The resource's spec.kafka after the defaults, read and mapped. */
static void resource(char *const *f, const struct spec_kafka_defaults *d, int defaults_ok,
                     size_t room)
{
	struct spec_defaults sd = {.kafka_bootstrap = unset_empty(f[F_BOOTSTRAP]), .kafka = *d};
	cJSON *kafka = fuzz_document((const uint8_t *)f[F_KAFKA], strlen(f[F_KAFKA]));
	cJSON *spec, *applied;
	const cJSON *k;
	struct spec_kafka out;
	struct spec_ctx c;
	struct resolver r = {.n = 0};
	struct kafka_security sec;
	const char *pairs[KAFKA_SECURITY_PAIRS_MAX];
	char errbuf[512];
	int own, rc;

	if (kafka == NULL)
		return;
	if (!cJSON_IsObject(kafka)) {
		cJSON_Delete(kafka);
		return;
	}
	own = cJSON_HasObjectItem(kafka, "bootstrap") || cJSON_HasObjectItem(kafka, "tls") ||
	      cJSON_HasObjectItem(kafka, "sasl");
	spec = cJSON_CreateObject();
	FUZZ_CHECK(spec != NULL);
	cJSON_AddItemToObject(spec, "kafka", kafka);
	applied = spec_defaults_apply(spec, &sd);
	FUZZ_CHECK(applied != NULL);
	k = cJSON_GetObjectItemCaseSensitive(applied, "kafka");
	FUZZ_CHECK(cJSON_IsObject(k));
	memset(&out, 0, sizeof(out));
	errbuf[0] = '\0';
	c = (struct spec_ctx){errbuf, sizeof(errbuf)};
	rc = spec_get_kafka_security(&c, k, &out);
	fuzz_note(rc == 0 ? "spec accepted" : "spec refused", errbuf);
	if (rc != 0) {
		fuzz_check_one_line(errbuf);
		/* What the operator accepted at start cannot break a resource
		 * that takes it whole. */
		FUZZ_CHECK(!(defaults_ok && !own && sd.kafka_bootstrap != NULL));
		goto out;
	}
	check_env_names(&out);
	errbuf[0] = '\0';
	rc = spec_kafka_security(&out, resolve, &r, &sec, errbuf, sizeof(errbuf));
	fuzz_note(rc == 0 ? "resolved" : "unresolved", errbuf);
	if (rc != 0) {
		fuzz_check_one_line(errbuf);
		FUZZ_CHECK(strncmp(errbuf, "spec.kafka.", 11) == 0);
		goto out;
	}
	FUZZ_CHECK(sec.tls == out.tls.enabled);
	FUZZ_CHECK(same(sec.sasl_mechanism, spec_sasl_mechanism_name(out.sasl.mechanism)));
	/* The reader's rules imply librdkafka's: a spec it accepts maps. */
	FUZZ_CHECK(pairs_of(&sec, pairs, KAFKA_SECURITY_PAIRS_MAX) == 0);
	check_pairs(&sec, pairs);
	small_table(&sec, room);
	env_round_trip(&out, &sec);
out:
	spec_kafka_free(&out);
	cJSON_Delete(applied);
	cJSON_Delete(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int codes[] = {RD_KAFKA_RESP_ERR__AUTHENTICATION, RD_KAFKA_RESP_ERR__SSL,
	                            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_NO_ERROR};
	char *f[F_N];
	size_t n;
	char *buf = fuzz_fields(data, size, '\n', f, F_N, &n);
	unsigned flags = f[F_FLAGS][0] != '\0' ? (unsigned char)f[F_FLAGS][0] : 0;
	size_t room = ((flags >> 1) & 7) < 7 ? ((flags >> 1) & 7) + 1 : KAFKA_SECURITY_PAIRS_MAX;
	struct spec_kafka_defaults d;
	struct kafka_security raw;
	const char *pairs[KAFKA_SECURITY_PAIRS_MAX];
	char errbuf[512];
	int defaults_ok, cls;

	if (n < F_N) {
		free(buf);
		return 0;
	}
	d = (struct spec_kafka_defaults){
	    .tls = (int)(flags & 1),
	    .ca = unset_empty(f[F_CA]),
	    .cert = unset_empty(f[F_CERT]),
	    .key = unset_empty(f[F_KEY]),
	    .server_name = unset_empty(f[F_SERVER]),
	    .sasl_mechanism = unset_empty(f[F_MECH]),
	    .sasl_username = unset_empty(f[F_USER]),
	    .sasl_password = unset_empty(f[F_PASS]),
	};
	errbuf[0] = '\0';
	defaults_ok = spec_defaults_kafka_check(&d, f[F_BOOTSTRAP], errbuf, sizeof(errbuf)) == 0;
	fuzz_note(defaults_ok ? "defaults accepted" : "defaults refused", errbuf);
	if (!defaults_ok)
		fuzz_check_one_line(errbuf);
	resource(f, &d, defaults_ok, room);

	/* librdkafka's settings straight from the lines, past every check. */
	raw = (struct kafka_security){
	    .tls = (int)(flags & 1),
	    .ca_pem = f[F_CA],
	    .cert_pem = f[F_CERT],
	    .key_pem = f[F_KEY],
	    .server_name = f[F_SERVER],
	    .sasl_mechanism = unset_empty(f[F_MECH]),
	    .username = f[F_USER],
	    .password = f[F_PASS],
	};
	if (pairs_of(&raw, pairs, KAFKA_SECURITY_PAIRS_MAX) == 0)
		check_pairs(&raw, pairs);
	small_table(&raw, room);

	cls = kafka_security_failure(codes[(flags >> 4) & 3], f[F_KAFKA]);
	FUZZ_CHECK(cls == KAFKA_SEC_NONE || cls == KAFKA_SEC_AUTH || cls == KAFKA_SEC_TLS);
	if (flags & 64)
		(void)kafka_cert_has_name((const unsigned char *)f[F_KAFKA], strlen(f[F_KAFKA]),
		                          f[F_SERVER]);
	free(buf);
	return 0;
}
