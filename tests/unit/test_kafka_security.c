/* Unit tests for Kafka TLS and SASL: lib/kafka.c's kafka_security_pairs
 * (every protocol, every property, every refusal) and kafka_cert_has_name
 * (on certificates made here with OpenSSL), clients built with each
 * setting; lib/contract's spec.kafka.tls and spec.kafka.sasl parsing for
 * both kinds, and spec_kafka_security's Secret resolution. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kafka.h"
#include "kafka_security.h"
#include "log.h"
#include "tw_spec.h"
#include "vj_spec.h"

/* ==== kafka_security_pairs ==== */

/* pairs as "name=value;..." (PEM and secrets by name only). */
static const char *joined(const char *const *pairs, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; pairs[i] != NULL; i += 2)
		n += (size_t)snprintf(buf + n, size - n, "%s%s=%s", i ? ";" : "", pairs[i],
		                      pairs[i + 1]);
	return buf;
}

static void expect_pairs(const struct kafka_security *sec, const char *want)
{
	const char *pairs[KAFKA_SECURITY_PAIRS_MAX];
	char err[256] = "", buf[1024];

	assert_int_equal(
	    kafka_security_pairs(sec, pairs, KAFKA_SECURITY_PAIRS_MAX, err, sizeof(err)), 0);
	assert_string_equal(joined(pairs, buf, sizeof(buf)), want);
}

static void expect_refused(const struct kafka_security *sec, const char *want)
{
	const char *pairs[KAFKA_SECURITY_PAIRS_MAX];
	char err[256] = "";

	assert_int_equal(
	    kafka_security_pairs(sec, pairs, KAFKA_SECURITY_PAIRS_MAX, err, sizeof(err)),
	    KAFKA_ERR);
	assert_string_equal(err, want);
	assert_null(strstr(err, "s3cret"));
}

static void test_pairs_protocols(void **state)
{
	(void)state;
	expect_pairs(NULL, "");
	expect_pairs(&(struct kafka_security){0}, "security.protocol=plaintext");
	expect_pairs(&(struct kafka_security){.tls = 1},
	             "security.protocol=ssl;ssl.endpoint.identification.algorithm=https");
	expect_pairs(&(struct kafka_security){.sasl_mechanism = "PLAIN",
	                                      .username = "u",
	                                      .password = "s3cret"},
	             "security.protocol=sasl_plaintext;sasl.mechanism=PLAIN;sasl.username=u;"
	             "sasl.password=s3cret");
	expect_pairs(&(struct kafka_security){.tls = 1,
	                                      .ca_pem = "CA",
	                                      .sasl_mechanism = "SCRAM-SHA-512",
	                                      .username = "u",
	                                      .password = "s3cret"},
	             "security.protocol=sasl_ssl;ssl.ca.pem=CA;"
	             "ssl.endpoint.identification.algorithm=https;sasl.mechanism=SCRAM-SHA-512;"
	             "sasl.username=u;sasl.password=s3cret");
	expect_pairs(&(struct kafka_security){.tls = 1,
	                                      .ca_pem = "CA",
	                                      .cert_pem = "CERT",
	                                      .key_pem = "KEY",
	                                      .server_name = "kafka.internal",
	                                      .sasl_mechanism = "SCRAM-SHA-256",
	                                      .username = "u",
	                                      .password = "s3cret"},
	             "security.protocol=sasl_ssl;ssl.ca.pem=CA;ssl.certificate.pem=CERT;"
	             "ssl.key.pem=KEY;ssl.endpoint.identification.algorithm=none;"
	             "sasl.mechanism=SCRAM-SHA-256;sasl.username=u;sasl.password=s3cret");
	/* Empty strings are unset. */
	expect_pairs(&(struct kafka_security){.tls = 1, .ca_pem = "", .server_name = ""},
	             "security.protocol=ssl;ssl.endpoint.identification.algorithm=https");
}

static void test_pairs_refused(void **state)
{
	const char *pairs[4];
	char err[256];

	(void)state;
	expect_refused(&(struct kafka_security){.tls = 1, .cert_pem = "C"},
	               "kafka: ssl.certificate.pem and ssl.key.pem: give both or neither");
	expect_refused(&(struct kafka_security){.tls = 1, .key_pem = "K"},
	               "kafka: ssl.certificate.pem and ssl.key.pem: give both or neither");
	expect_refused(&(struct kafka_security){.ca_pem = "CA"},
	               "kafka: ssl.ca.pem: set without tls");
	expect_refused(&(struct kafka_security){.cert_pem = "C", .key_pem = "K"},
	               "kafka: ssl.certificate.pem: set without tls");
	expect_refused(&(struct kafka_security){.server_name = "x"},
	               "kafka: server name: set without tls");
	expect_refused(
	    &(struct kafka_security){.sasl_mechanism = "GSSAPI", .username = "u", .password = "p"},
	    "kafka: sasl.mechanism: \"GSSAPI\" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512");
	expect_refused(&(struct kafka_security){.sasl_mechanism = "PLAIN", .password = "s3cret"},
	               "kafka: sasl.username: required with sasl.mechanism PLAIN");
	expect_refused(&(struct kafka_security){.sasl_mechanism = "SCRAM-SHA-512", .username = "u"},
	               "kafka: sasl.password: required with sasl.mechanism SCRAM-SHA-512");
	expect_refused(&(struct kafka_security){.password = "s3cret"},
	               "kafka: sasl.password: set without sasl.mechanism");
	expect_refused(&(struct kafka_security){.username = "u"},
	               "kafka: sasl.username: set without sasl.mechanism");
	/* Too little room: refused, never overrun. */
	assert_int_equal(
	    kafka_security_pairs(&(struct kafka_security){.tls = 1}, pairs, 4, err, sizeof(err)),
	    KAFKA_ERR);
	assert_string_equal(err, "kafka: security: too many properties");
	assert_int_equal(kafka_security_pairs(NULL, pairs, 0, err, sizeof(err)), KAFKA_ERR);
}

/* ==== Certificates ==== */

/* A self-signed certificate with the given subjectAltName (and CN
 * "cn.test"), as PEM text (*pem) and DER (*der, *der_len); the key as PEM
 * (*key_pem). The caller frees all three. */
static void make_cert(const char *san, int days, char **pem, unsigned char **der, int *der_len,
                      char **key_pem)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	BIO *bio;
	char *data;
	long n;

	assert_non_null(pkey);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"cn.test", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	if (san != NULL) {
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
	*der = NULL;
	*der_len = i2d_X509(x, der);
	assert_true(*der_len > 0);
	bio = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_X509(bio, x));
	n = BIO_get_mem_data(bio, &data);
	*pem = strndup(data, (size_t)n);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(bio, &data);
	*key_pem = strndup(data, (size_t)n);
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

static void test_cert_names(void **state)
{
	char *pem, *key;
	unsigned char *der;
	int len;

	(void)state;
	make_cert("DNS:broker.test, DNS:*.kafka.test, IP:127.0.0.1, IP:::1", 30, &pem, &der, &len,
	          &key);
	assert_true(kafka_cert_has_name(der, (size_t)len, "broker.test"));
	assert_true(kafka_cert_has_name(der, (size_t)len, "BROKER.test"));
	assert_true(kafka_cert_has_name(der, (size_t)len, "b1.kafka.test"));
	assert_true(kafka_cert_has_name(der, (size_t)len, "127.0.0.1"));
	assert_true(kafka_cert_has_name(der, (size_t)len, "::1"));
	assert_false(kafka_cert_has_name(der, (size_t)len, "other.test"));
	assert_false(kafka_cert_has_name(der, (size_t)len, "a.b.kafka.test"));
	assert_false(kafka_cert_has_name(der, (size_t)len, "kafka.test"));
	assert_false(kafka_cert_has_name(der, (size_t)len, "10.0.0.1"));
	/* With DNS names, the common name does not count. */
	assert_false(kafka_cert_has_name(der, (size_t)len, "cn.test"));
	assert_false(kafka_cert_has_name(der, (size_t)len, ""));
	assert_false(kafka_cert_has_name(der, (size_t)len, NULL));
	assert_false(kafka_cert_has_name(der, (size_t)len / 2, "broker.test"));
	assert_false(kafka_cert_has_name((const unsigned char *)"junk", 4, "broker.test"));
	assert_false(kafka_cert_has_name(NULL, 0, "broker.test"));
	free(pem);
	free(key);
	OPENSSL_free(der);
	/* Without subjectAltName, the common name. */
	make_cert(NULL, 30, &pem, &der, &len, &key);
	assert_true(kafka_cert_has_name(der, (size_t)len, "cn.test"));
	assert_false(kafka_cert_has_name(der, (size_t)len, "broker.test"));
	free(pem);
	free(key);
	OPENSSL_free(der);
}

/* The pairs librdkafka accepts: clients build with each setting (nothing
 * connects until used), a bad PEM is refused without being quoted. */
static void test_clients_build(void **state)
{
	char err[1024], *pem, *key;
	unsigned char *der;
	int len;
	rd_kafka_t *rk;
	int opaque_a, opaque_b;

	(void)state;
	make_cert("DNS:broker.test", 30, &pem, &der, &len, &key);
	struct kafka_security sec = {.tls = 1,
	                             .ca_pem = pem,
	                             .cert_pem = pem,
	                             .key_pem = key,
	                             .sasl_mechanism = "SCRAM-SHA-512",
	                             .username = "u",
	                             .password = "s3cret"};
	struct kafka_config kc = {
	    .bootstrap = "127.0.0.1:1", .security = &sec, .client_id = "t", .group = "g"};
	rk = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_destroy(rk);
	/* A server name: the certificate callback, found by each opaque. */
	sec.server_name = "broker.test";
	rk = kafka_consumer_new(&kc, NULL, &opaque_a, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_destroy(rk);
	rk = kafka_consumer_new(&kc, NULL, &opaque_a, err, sizeof(err)); /* the same slot */
	assert_non_null(rk);
	rd_kafka_destroy(rk);
	sec.server_name = "other.test";
	rk = kafka_producer_new(&kc, NULL, &opaque_b, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_destroy(rk);
	rk = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	assert_non_null(rk);
	rd_kafka_destroy(rk);
	/* A bad key: librdkafka's reason, not the PEM. */
	sec.server_name = NULL;
	sec.key_pem = "-----BEGIN PRIVATE KEY-----\ns3cret\n-----END PRIVATE KEY-----\n";
	assert_null(kafka_producer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_null(strstr(err, "s3cret"));
	assert_non_null(strstr(err, "kafka: "));
	/* Refused before librdkafka sees it. */
	sec.key_pem = NULL;
	assert_null(kafka_producer_new(&kc, NULL, NULL, err, sizeof(err)));
	assert_string_equal(err,
	                    "kafka: ssl.certificate.pem and ssl.key.pem: give both or neither");
	free(pem);
	free(key);
	OPENSSL_free(der);
}

/* ==== spec.kafka.tls and spec.kafka.sasl ==== */

static int parse_tw(const char *kafka_extra, struct tw_spec *out, char *err, size_t size)
{
	char doc[2048];
	cJSON *spec;
	int rc;

	snprintf(doc, sizeof(doc),
	         "{\"kafka\":{\"bootstrap\":\"k:9093\",\"topic\":\"t\"%s},"
	         " \"fields\":{\"timestamp\":\"ts\",\"keys\":[\"h\"],\"values\":[\"v\"]},"
	         " \"window\":{\"size\":\"10s\"}}",
	         kafka_extra);
	spec = cJSON_Parse(doc);
	assert_non_null(spec);
	rc = tw_spec_parse(spec, "tw", "ns", out, err, size);
	cJSON_Delete(spec);
	return rc;
}

static int parse_vj(const char *kafka_extra, struct vj_spec *out, char *err, size_t size)
{
	char doc[2048];
	cJSON *spec;
	int rc;

	snprintf(doc, sizeof(doc),
	         "{\"source\":{\"uri\":\"file:///in/a.mp4\"},"
	         " \"output\":{\"uri\":\"file:///out/a.mp4\"},"
	         " \"kafka\":{\"bootstrap\":\"k:9093\"%s}}",
	         kafka_extra);
	spec = cJSON_Parse(doc);
	assert_non_null(spec);
	rc = vj_spec_parse(spec, "vj", "ns", out, err, size);
	cJSON_Delete(spec);
	return rc;
}

static void test_spec_parse(void **state)
{
	struct tw_spec tw;
	struct vj_spec vj;
	char err[512];

	(void)state;
	/* Absent: PLAINTEXT. */
	if (parse_tw("", &tw, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(tw.kafka.tls.enabled, 0);
	assert_int_equal(tw.kafka.sasl.mechanism, SPEC_SASL_NONE);
	tw_spec_free(&tw);
	/* Everything. */
	assert_int_equal(parse_tw(",\"tls\":{\"ca\":{\"name\":\"kafka-ca\",\"key\":\"ca.crt\"},"
	                          "\"cert\":{\"name\":\"client\",\"key\":\"tls.crt\"},"
	                          "\"key\":{\"name\":\"client\",\"key\":\"tls.key\"},"
	                          "\"serverName\":\"kafka.internal\"},"
	                          "\"sasl\":{\"mechanism\":\"SCRAM-SHA-512\","
	                          "\"username\":{\"name\":\"kafka-user\",\"key\":\"username\"},"
	                          "\"password\":{\"name\":\"kafka-user\",\"key\":\"password\"}}",
	                          &tw, err, sizeof(err)),
	                 0);
	assert_int_equal(tw.kafka.tls.enabled, 1);
	assert_string_equal(tw.kafka.tls.ca.name, "kafka-ca");
	assert_string_equal(tw.kafka.tls.ca.key, "ca.crt");
	assert_string_equal(tw.kafka.tls.cert.key, "tls.crt");
	assert_string_equal(tw.kafka.tls.key.key, "tls.key");
	assert_string_equal(tw.kafka.tls.server_name, "kafka.internal");
	assert_int_equal(tw.kafka.sasl.mechanism, SPEC_SASL_SCRAM_SHA_512);
	assert_string_equal(tw.kafka.sasl.username.name, "kafka-user");
	assert_string_equal(tw.kafka.sasl.password.key, "password");
	tw_spec_free(&tw);
	/* tls: {} is TLS with the system's CAs. */
	assert_int_equal(parse_tw(",\"tls\":{}", &tw, err, sizeof(err)), 0);
	assert_int_equal(tw.kafka.tls.enabled, 1);
	assert_null(tw.kafka.tls.ca.name);
	tw_spec_free(&tw);
	/* The VideoJob takes the same. */
	assert_int_equal(parse_vj(",\"tls\":{\"ca\":{\"name\":\"c\",\"key\":\"ca\"}},"
	                          "\"sasl\":{\"mechanism\":\"PLAIN\","
	                          "\"username\":{\"name\":\"u\",\"key\":\"u\"},"
	                          "\"password\":{\"name\":\"u\",\"key\":\"p\"}}",
	                          &vj, err, sizeof(err)),
	                 0);
	assert_int_equal(vj.kafka.tls.enabled, 1);
	assert_string_equal(vj.kafka.tls.ca.name, "c");
	assert_int_equal(vj.kafka.sasl.mechanism, SPEC_SASL_PLAIN);
	vj_spec_free(&vj);
}

static void expect_tw_error(const char *extra, const char *want)
{
	struct tw_spec tw;
	char err[512];

	assert_true(parse_tw(extra, &tw, err, sizeof(err)) < 0);
	assert_string_equal(err, want);
}

static void test_spec_refused(void **state)
{
	struct vj_spec vj;
	char err[512];

	(void)state;
	expect_tw_error(",\"tls\":{\"cert\":{\"name\":\"c\",\"key\":\"tls.crt\"}}",
	                "spec.kafka.tls.key: required with spec.kafka.tls.cert (a client "
	                "certificate and its key)");
	expect_tw_error(",\"tls\":{\"key\":{\"name\":\"c\",\"key\":\"tls.key\"}}",
	                "spec.kafka.tls.cert: required with spec.kafka.tls.key (a client "
	                "certificate and its key)");
	expect_tw_error(",\"tls\":{\"ca\":\"-----BEGIN CERTIFICATE-----\"}",
	                "spec.kafka.tls.ca: must be a Secret reference {name, key}");
	expect_tw_error(",\"tls\":{\"ca\":{\"name\":\"c\"}}", "spec.kafka.tls.ca.key: required");
	expect_tw_error(",\"tls\":{\"insecure\":true}", "spec.kafka.tls.insecure: unknown field");
	expect_tw_error(",\"tls\":true", "spec.kafka.tls: must be an object");
	expect_tw_error(",\"tls\":{\"serverName\":\"a b\"}",
	                "spec.kafka.tls.serverName: \"a b\" is not a host name");
	expect_tw_error(",\"sasl\":{\"username\":{\"name\":\"u\",\"key\":\"u\"},"
	                "\"password\":{\"name\":\"u\",\"key\":\"p\"}}",
	                "spec.kafka.sasl.mechanism: required (PLAIN, SCRAM-SHA-256 or "
	                "SCRAM-SHA-512)");
	expect_tw_error(",\"sasl\":{\"mechanism\":\"GSSAPI\"}",
	                "spec.kafka.sasl.mechanism: \"GSSAPI\" is not one of PLAIN, SCRAM-SHA-256, "
	                "SCRAM-SHA-512");
	expect_tw_error(",\"sasl\":{\"mechanism\":\"PLAIN\","
	                "\"password\":{\"name\":\"u\",\"key\":\"p\"}}",
	                "spec.kafka.sasl.username: required (a Secret reference {name, key})");
	expect_tw_error(",\"sasl\":{\"mechanism\":\"PLAIN\","
	                "\"username\":{\"name\":\"u\",\"key\":\"u\"}}",
	                "spec.kafka.sasl.password: required (a Secret reference {name, key})");
	/* Never inline. */
	expect_tw_error(",\"sasl\":{\"mechanism\":\"PLAIN\",\"username\":\"alice\","
	                "\"password\":{\"name\":\"u\",\"key\":\"p\"}}",
	                "spec.kafka.sasl.username: must be a Secret reference {name, key}");
	expect_tw_error(",\"sasl\":{\"mechanism\":\"PLAIN\","
	                "\"username\":{\"name\":\"u\",\"key\":\"u\"},\"password\":\"s3cret\"}",
	                "spec.kafka.sasl.password: must be a Secret reference {name, key}");
	assert_true(parse_vj(",\"sasl\":{\"mechanism\":\"SCRAM-SHA-1\"}", &vj, err, sizeof(err)) <
	            0);
	assert_string_equal(err, "spec.kafka.sasl.mechanism: \"SCRAM-SHA-1\" is not one of PLAIN, "
	                         "SCRAM-SHA-256, SCRAM-SHA-512");
}

static void test_mechanism_names(void **state)
{
	enum spec_sasl_mechanism m;

	(void)state;
	for (int i = SPEC_SASL_PLAIN; i <= SPEC_SASL_SCRAM_SHA_512; i++) {
		const char *name = spec_sasl_mechanism_name((enum spec_sasl_mechanism)i);
		assert_non_null(name);
		assert_int_equal(spec_sasl_mechanism_parse(name, &m), 0);
		assert_int_equal(m, i);
	}
	assert_null(spec_sasl_mechanism_name(SPEC_SASL_NONE));
	assert_int_equal(spec_sasl_mechanism_parse("plain", &m), -1);
	assert_int_equal(spec_sasl_mechanism_parse("", &m), -1);
}

/* ==== spec_kafka_security ==== */

/* A resolver over a fixed table: "name/key" -> value. */
static const char *fake_secret(void *ctx, const char *name, const char *key, char *why,
                               size_t why_size)
{
	const char *const *table = ctx;
	char want[128];

	snprintf(want, sizeof(want), "%s/%s", name, key);
	for (size_t i = 0; table[i] != NULL; i += 2)
		if (strcmp(table[i], want) == 0)
			return table[i + 1];
	snprintf(why, why_size, "the Secret does not exist");
	return NULL;
}

static void test_resolve(void **state)
{
	static const char *const secrets[] = {
	    "ca/ca.crt", "CA PEM", "client/tls.crt", "CERT",   "client/tls.key", "KEY",
	    "user/name", "alice",  "user/password",  "s3cret", "user/empty",     "",
	    NULL};
	struct spec_kafka k = {0};
	struct kafka_security sec;
	char err[256];

	(void)state;
	/* Nothing set: PLAINTEXT. */
	assert_int_equal(
	    spec_kafka_security(&k, fake_secret, (void *)secrets, &sec, err, sizeof(err)), 0);
	assert_int_equal(sec.tls, 0);
	assert_null(sec.sasl_mechanism);
	/* Everything. */
	k.tls.enabled = 1;
	k.tls.ca = (struct spec_secret_ref){"ca", "ca.crt"};
	k.tls.cert = (struct spec_secret_ref){"client", "tls.crt"};
	k.tls.key = (struct spec_secret_ref){"client", "tls.key"};
	k.tls.server_name = "kafka.internal";
	k.sasl.mechanism = SPEC_SASL_SCRAM_SHA_256;
	k.sasl.username = (struct spec_secret_ref){"user", "name"};
	k.sasl.password = (struct spec_secret_ref){"user", "password"};
	assert_int_equal(
	    spec_kafka_security(&k, fake_secret, (void *)secrets, &sec, err, sizeof(err)), 0);
	assert_int_equal(sec.tls, 1);
	assert_string_equal(sec.ca_pem, "CA PEM");
	assert_string_equal(sec.cert_pem, "CERT");
	assert_string_equal(sec.key_pem, "KEY");
	assert_string_equal(sec.server_name, "kafka.internal");
	assert_string_equal(sec.sasl_mechanism, "SCRAM-SHA-256");
	assert_string_equal(sec.username, "alice");
	assert_string_equal(sec.password, "s3cret");
	/* A missing Secret, named with its key and the resolver's reason. */
	k.sasl.password = (struct spec_secret_ref){"nope", "password"};
	assert_int_equal(
	    spec_kafka_security(&k, fake_secret, (void *)secrets, &sec, err, sizeof(err)), -1);
	assert_string_equal(err, "spec.kafka.sasl.password: Secret \"nope\" key \"password\": the "
	                         "Secret does not exist");
	/* An empty value is missing too. */
	k.sasl.password = (struct spec_secret_ref){"user", "empty"};
	assert_int_equal(
	    spec_kafka_security(&k, fake_secret, (void *)secrets, &sec, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "spec.kafka.sasl.password: Secret \"user\" key \"empty\": no value");
	k.tls.ca = (struct spec_secret_ref){"ca", "other"};
	assert_int_equal(
	    spec_kafka_security(&k, fake_secret, (void *)secrets, &sec, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "spec.kafka.tls.ca: Secret \"ca\" key \"other\": the Secret does not exist");
}

/* The references the operator puts in the worker pods' env. */
static void test_secret_refs(void **state)
{
	const struct spec_secret_ref *refs[SPEC_KAFKA_SECRET_REFS_MAX];
	struct spec_kafka k = {0};

	(void)state;
	assert_int_equal(spec_kafka_secret_refs(&k, refs), 0);
	k.tls.enabled = 1;
	k.tls.ca = (struct spec_secret_ref){"ca", "ca.crt"};
	assert_int_equal(spec_kafka_secret_refs(&k, refs), 1);
	assert_string_equal(refs[0]->name, "ca");
	k.tls.cert = (struct spec_secret_ref){"client", "tls.crt"};
	k.tls.key = (struct spec_secret_ref){"client", "tls.key"};
	k.sasl.mechanism = SPEC_SASL_PLAIN;
	k.sasl.username = (struct spec_secret_ref){"user", "name"};
	k.sasl.password = (struct spec_secret_ref){"user", "password"};
	assert_int_equal(spec_kafka_secret_refs(&k, refs), 5);
	assert_string_equal(refs[1]->key, "tls.crt");
	assert_string_equal(refs[2]->key, "tls.key");
	assert_string_equal(refs[3]->key, "name");
	assert_string_equal(refs[4]->key, "password");
	/* Only what is in use. */
	k.tls.enabled = 0;
	assert_int_equal(spec_kafka_secret_refs(&k, refs), 2);
	k.sasl.mechanism = SPEC_SASL_NONE;
	assert_int_equal(spec_kafka_secret_refs(&k, refs), 0);
}

/* The workers' resolver reads what the operator put in their pods. */
static void test_resolve_env(void **state)
{
	struct spec_kafka k = {0};
	struct kafka_security sec;
	char err[256];

	(void)state;
	k.sasl.mechanism = SPEC_SASL_PLAIN;
	k.sasl.username = (struct spec_secret_ref){"kafka-user", "username"};
	k.sasl.password = (struct spec_secret_ref){"kafka-user", "password"};
	unsetenv("SLUICE_SECRET_KAFKA_USER_PASSWORD");
	setenv("SLUICE_SECRET_KAFKA_USER_USERNAME", "alice", 1);
	assert_int_equal(spec_kafka_security_env(&k, &sec, err, sizeof(err)), -1);
	assert_string_equal(err,
	                    "spec.kafka.sasl.password: Secret \"kafka-user\" key \"password\": "
	                    "environment variable SLUICE_SECRET_KAFKA_USER_PASSWORD is unset "
	                    "or empty");
	setenv("SLUICE_SECRET_KAFKA_USER_PASSWORD", "s3cret", 1);
	assert_int_equal(spec_kafka_security_env(&k, &sec, err, sizeof(err)), 0);
	assert_string_equal(sec.username, "alice");
	assert_string_equal(sec.password, "s3cret");
	unsetenv("SLUICE_SECRET_KAFKA_USER_PASSWORD");
	unsetenv("SLUICE_SECRET_KAFKA_USER_USERNAME");
}

static int quiet(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pairs_protocols), cmocka_unit_test(test_pairs_refused),
	    cmocka_unit_test(test_cert_names),      cmocka_unit_test(test_clients_build),
	    cmocka_unit_test(test_spec_parse),      cmocka_unit_test(test_spec_refused),
	    cmocka_unit_test(test_mechanism_names), cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_resolve_env),     cmocka_unit_test(test_secret_refs),
	};
	return cmocka_run_group_tests(tests, quiet, NULL);
}
