/* Unit tests for lib/contract/spec_defaults.c: the effective spec's Kafka
 * defaults (the default cluster's bootstrap with its TLS and SASL, given
 * only to a resource that names none of bootstrap, tls, sasl), the check of
 * those defaults and their options. Pure: no server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kafka_security.h"
#include "spec_defaults.h"
#include "tw_spec.h"
#include "vj_spec.h"

/* The chart's full set: mutual TLS with a CA and a name, SCRAM. */
static const struct spec_defaults full = {
    .kafka_bootstrap = "kafka.kafka.svc:9094",
    .kafka =
        {
            .tls = 1,
            .ca = "kafka-ca/ca.crt",
            .cert = "sluice-client/tls.crt",
            .key = "sluice-client/tls.key",
            .server_name = "kafka.internal",
            .sasl_mechanism = "SCRAM-SHA-512",
            .sasl_username = "kafka-user/username",
            .sasl_password = "kafka-user/password",
        },
    .redis_addr = "redis:6379",
};

static const cJSON *at(const cJSON *o, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, ".", &save); p != NULL && o != NULL;
	     p = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, p);
	return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
	return cJSON_GetStringValue(at(o, path));
}

/* spec (JSON text) through spec_defaults_apply with d. */
static cJSON *apply(const char *spec, const struct spec_defaults *d)
{
	cJSON *in = cJSON_Parse(spec), *out;
	assert_non_null(in);
	out = spec_defaults_apply(in, d);
	assert_non_null(out);
	cJSON_Delete(in);
	return out;
}

#define TW_REST "\"fields\":{\"timestamp\":\"ts\"},\"window\":{\"size\":\"30s\"}"

/* No bootstrap, no tls, no sasl: the default cluster with all of its
 * security, which the workers' parser reads back as the same settings. */
static void test_defaults_applied_when_nothing_named(void **state)
{
	cJSON *eff = apply("{\"kafka\":{\"topic\":\"sensors\"}," TW_REST "}", &full);
	struct tw_spec ts;
	const struct spec_secret_ref *refs[SPEC_KAFKA_SECRET_REFS_MAX];
	char err[512];

	(void)state;
	assert_string_equal(str_at(eff, "kafka.bootstrap"), "kafka.kafka.svc:9094");
	assert_string_equal(str_at(eff, "kafka.tls.ca.name"), "kafka-ca");
	assert_string_equal(str_at(eff, "kafka.tls.ca.key"), "ca.crt");
	assert_string_equal(str_at(eff, "kafka.tls.cert.name"), "sluice-client");
	assert_string_equal(str_at(eff, "kafka.tls.cert.key"), "tls.crt");
	assert_string_equal(str_at(eff, "kafka.tls.key.name"), "sluice-client");
	assert_string_equal(str_at(eff, "kafka.tls.key.key"), "tls.key");
	assert_string_equal(str_at(eff, "kafka.tls.serverName"), "kafka.internal");
	assert_string_equal(str_at(eff, "kafka.sasl.mechanism"), "SCRAM-SHA-512");
	assert_string_equal(str_at(eff, "kafka.sasl.username.name"), "kafka-user");
	assert_string_equal(str_at(eff, "kafka.sasl.username.key"), "username");
	assert_string_equal(str_at(eff, "kafka.sasl.password.name"), "kafka-user");
	assert_string_equal(str_at(eff, "kafka.sasl.password.key"), "password");
	/* The resource's own fields are kept. */
	assert_string_equal(str_at(eff, "kafka.topic"), "sensors");

	assert_int_equal(tw_spec_parse(eff, "w", "team-a", &ts, err, sizeof(err)), 0);
	assert_true(ts.kafka.tls.enabled);
	assert_string_equal(ts.kafka.tls.server_name, "kafka.internal");
	assert_int_equal(ts.kafka.sasl.mechanism, SPEC_SASL_SCRAM_SHA_512);
	/* Every reference reaches the worker pods as a secretKeyRef. */
	assert_int_equal(spec_kafka_secret_refs(&ts.kafka, refs), 5);
	assert_string_equal(refs[0]->name, "kafka-ca");
	assert_string_equal(refs[4]->key, "password");
	tw_spec_free(&ts);
	cJSON_Delete(eff);

	/* No kafka object at all: made, with the same settings (a VideoJob). */
	eff = apply("{}", &full);
	assert_string_equal(str_at(eff, "kafka.bootstrap"), "kafka.kafka.svc:9094");
	assert_string_equal(str_at(eff, "kafka.sasl.mechanism"), "SCRAM-SHA-512");
	assert_non_null(at(eff, "kafka.tls.ca"));
	cJSON_Delete(eff);
}

/* A resource that names its own bootstrap talks to its own cluster: none
 * of the default cluster's security, however much of it there is. */
static void test_own_bootstrap_gets_none(void **state)
{
	cJSON *eff =
	    apply("{\"kafka\":{\"bootstrap\":\"mine:9092\",\"topic\":\"t\"}," TW_REST "}", &full);

	(void)state;
	assert_string_equal(str_at(eff, "kafka.bootstrap"), "mine:9092");
	assert_null(at(eff, "kafka.tls"));
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);
}

/* A resource that names its own tls (or sasl) but no bootstrap gets the
 * default bootstrap and keeps its own settings exactly: no default is mixed
 * in, not even the other section. */
static void test_own_tls_or_sasl_kept(void **state)
{
	cJSON *eff = apply("{\"kafka\":{\"topic\":\"t\",\"tls\":{\"ca\":{\"name\":\"mine\","
	                   "\"key\":\"ca.pem\"}}}," TW_REST "}",
	                   &full);

	(void)state;
	assert_string_equal(str_at(eff, "kafka.bootstrap"), "kafka.kafka.svc:9094");
	assert_string_equal(str_at(eff, "kafka.tls.ca.name"), "mine");
	assert_string_equal(str_at(eff, "kafka.tls.ca.key"), "ca.pem");
	assert_null(at(eff, "kafka.tls.cert"));
	assert_null(at(eff, "kafka.tls.serverName"));
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);

	/* tls: {} is a choice too (the system's CAs). */
	eff = apply("{\"kafka\":{\"tls\":{}}}", &full);
	assert_int_equal(cJSON_GetArraySize(at(eff, "kafka.tls")), 0);
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);

	eff = apply("{\"kafka\":{\"sasl\":{\"mechanism\":\"PLAIN\",\"username\":{\"name\":\"u\","
	            "\"key\":\"u\"},\"password\":{\"name\":\"u\",\"key\":\"p\"}}}}",
	            &full);
	assert_string_equal(str_at(eff, "kafka.sasl.mechanism"), "PLAIN");
	assert_string_equal(str_at(eff, "kafka.sasl.password.key"), "p");
	assert_null(at(eff, "kafka.tls"));
	cJSON_Delete(eff);
}

/* Each section only when the defaults set some of it; --kafka-tls alone is
 * tls: {}; a CA alone implies TLS; nothing without a default bootstrap. */
static void test_partial_defaults(void **state)
{
	struct spec_defaults d = {.kafka_bootstrap = "k:9093", .kafka = {.tls = 1}};
	cJSON *eff;
	struct vj_spec vs;
	char err[512];

	(void)state;
	eff = apply("{}", &d);
	assert_true(cJSON_IsObject(at(eff, "kafka.tls")));
	assert_int_equal(cJSON_GetArraySize(at(eff, "kafka.tls")), 0);
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);

	d.kafka = (struct spec_kafka_defaults){.ca = "ca/ca.crt"};
	eff = apply("{}", &d);
	assert_string_equal(str_at(eff, "kafka.tls.ca.name"), "ca");
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);

	d.kafka = (struct spec_kafka_defaults){
	    .sasl_mechanism = "PLAIN", .sasl_username = "u/user", .sasl_password = "u/pass"};
	eff = apply("{\"kafka\":{}}", &d);
	assert_null(at(eff, "kafka.tls"));
	assert_string_equal(str_at(eff, "kafka.sasl.username.key"), "user");
	cJSON_Delete(eff);

	/* A VideoJob's parser reads the same sections. */
	eff = apply("{\"source\":{\"uri\":\"file:///i.mp4\"},\"output\":{\"uri\":"
	            "\"file:///o.mp4\"}}",
	            &full);
	assert_int_equal(vj_spec_parse(eff, "v", "team-a", &vs, err, sizeof(err)), 0);
	assert_true(vs.kafka.tls.enabled);
	assert_string_equal(vs.kafka.tls.ca.name, "kafka-ca");
	assert_int_equal(vs.kafka.sasl.mechanism, SPEC_SASL_SCRAM_SHA_512);
	vj_spec_free(&vs);
	cJSON_Delete(eff);

	/* Security without a default bootstrap gives nothing (refused at start
	 * by spec_defaults_kafka_check). */
	d.kafka_bootstrap = NULL;
	eff = apply("{\"kafka\":{\"topic\":\"t\"}}", &d);
	assert_null(at(eff, "kafka.bootstrap"));
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);

	/* A kafka that is not an object is left for the parser. */
	eff = apply("{\"kafka\":\"k:9092\"}", &full);
	assert_string_equal(str_at(eff, "kafka"), "k:9092");
	cJSON_Delete(eff);
}

static void check_refused(const struct spec_kafka_defaults *k, const char *bootstrap,
                          const char *want)
{
	char err[512] = "";

	assert_int_equal(spec_defaults_kafka_check(k, bootstrap, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, want);
}

static void test_check(void **state)
{
	char err[512];
	struct spec_kafka_defaults k = full.kafka;

	(void)state;
	assert_int_equal(spec_defaults_kafka_check(&full.kafka, "k:9094", err, sizeof(err)), 0);
	/* Nothing set needs no bootstrap. */
	assert_int_equal(
	    spec_defaults_kafka_check(&(struct spec_kafka_defaults){0}, NULL, err, sizeof(err)), 0);

	k.ca = "kafka-ca";
	check_refused(&k, "k:9094", "--kafka-ca-secret: \"kafka-ca\" is not secret/key");
	k.ca = "Kafka_CA/ca.crt";
	check_refused(&k, "k:9094", "--kafka-ca-secret");
	k.ca = "kafka-ca/";
	check_refused(&k, "k:9094", "--kafka-ca-secret");
	k.ca = "kafka-ca/ca crt";
	check_refused(&k, "k:9094", "--kafka-ca-secret");
	k.ca = "kafka-ca/a/b";
	check_refused(&k, "k:9094", "--kafka-ca-secret");
	k = full.kafka;
	k.sasl_password = "pw";
	check_refused(&k, "k:9094", "--kafka-sasl-password-secret: \"pw\" is not secret/key");

	k = full.kafka;
	k.key = NULL;
	check_refused(&k, "k:9094", "--kafka-cert-secret and --kafka-key-secret: give both");
	k = full.kafka;
	k.server_name = "a b";
	check_refused(&k, "k:9094", "--kafka-server-name: \"a b\" is not a host name");
	k = full.kafka;
	k.sasl_mechanism = "GSSAPI";
	check_refused(&k, "k:9094", "\"GSSAPI\" is not one of PLAIN");
	k = full.kafka;
	k.sasl_password = "";
	check_refused(&k, "k:9094",
	              "--kafka-sasl-password-secret: required with --kafka-sasl-mechanism");
	k = full.kafka;
	k.sasl_username = NULL;
	check_refused(&k, "k:9094", "--kafka-sasl-username-secret: required");
	k = full.kafka;
	k.sasl_mechanism = NULL;
	check_refused(&k, "k:9094", "--kafka-sasl-mechanism: required");
	check_refused(&full.kafka, NULL, "--kafka-bootstrap: required");
	check_refused(&(struct spec_kafka_defaults){.tls = 1}, "", "--kafka-bootstrap: required");
}

static const struct config_option table[] = {
    SPEC_DEFAULTS_KAFKA_OPTIONS,
    {0},
};

static void test_from_config(void **state)
{
	static const char yaml[] = "kafka-ca-secret: kafka-ca/ca.crt\n"
	                           "kafka-server-name: kafka.internal\n"
	                           "kafka-sasl-mechanism: SCRAM-SHA-256\n"
	                           "kafka-sasl-username-secret: u/username\n"
	                           "kafka-sasl-password-secret: u/password\n";
	struct config *cfg = NULL;
	struct spec_kafka_defaults k;
	char err[512];

	(void)state;
	/* The defaults: nothing, which any bootstrap (or none) takes. */
	assert_int_equal(config_new(table, &cfg, err, sizeof(err)), 0);
	assert_int_equal(spec_defaults_kafka_from(cfg, NULL, &k, err, sizeof(err)), 0);
	assert_false(k.tls);
	assert_string_equal(k.sasl_mechanism, "");
	config_free(cfg);

	assert_int_equal(config_new(table, &cfg, err, sizeof(err)), 0);
	assert_int_equal(config_load_yaml(cfg, "t.yaml", yaml, strlen(yaml), err, sizeof(err)), 0);
	assert_int_equal(spec_defaults_kafka_from(cfg, "k:9094", &k, err, sizeof(err)), 0);
	assert_false(k.tls); /* implied by the CA: spec_defaults_apply writes tls */
	assert_string_equal(k.ca, "kafka-ca/ca.crt");
	assert_string_equal(k.sasl_password, "u/password");
	assert_int_equal(spec_defaults_kafka_from(cfg, NULL, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--kafka-bootstrap: required"));
	config_free(cfg);

	/* An unknown mechanism is the config's own error. */
	assert_int_equal(config_new(table, &cfg, err, sizeof(err)), 0);
	assert_int_equal(
	    config_load_yaml(cfg, "t.yaml", "kafka-sasl-mechanism: GSSAPI\n", 29, err, sizeof(err)),
	    CONFIG_ERR);
	assert_non_null(strstr(err, "kafka-sasl-mechanism"));
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_applied_when_nothing_named),
	    cmocka_unit_test(test_own_bootstrap_gets_none),
	    cmocka_unit_test(test_own_tls_or_sasl_kept),
	    cmocka_unit_test(test_partial_defaults),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_from_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
