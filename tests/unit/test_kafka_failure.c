/* Unit tests for the operator's Kafka security failures: operator/topics.c's
 * classifier (librdkafka error code and text to KafkaAuthenticationFailed /
 * KafkaTLSFailed) and condition reasons, and operator/secret_cache.c (a
 * Secret's key decoded, the cache's TTL, what a missing Secret or key
 * says). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "secret_cache.h"
#include "topics.h"

/* Texts librdkafka 2.0.2 gave against the test stack's listeners. */
#define T_SASL                                                                                     \
	"sasl_ssl://127.0.0.1:51191/bootstrap: SASL authentication error: Authentication failed "  \
	"during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "      \
	"(after 343ms in state AUTH_REQ)"
#define T_CA                                                                                       \
	"sasl_ssl://127.0.0.1:51191/bootstrap: SSL handshake failed: error:0A000086:SSL "          \
	"routines::certificate verify failed: broker certificate could not be verified"
#define T_EXPIRED                                                                                  \
	"ssl://127.0.0.1:38021/bootstrap: Receive failed: error:0A000416:SSL routines::sslv3 "     \
	"alert certificate unknown: SSL alert number 46 (after 3ms in state APIVERSION_QUERY)"

static void test_classify_codes(void **state)
{
	(void)state;
	/* By code alone, whatever the text. */
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__AUTHENTICATION, NULL),
	                 TOPICS_EAUTH);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, ""),
	                 TOPICS_EAUTH);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM, "x"),
	                 TOPICS_EAUTH);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE, NULL),
	                 TOPICS_EAUTH);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__SSL, NULL), TOPICS_ETLS);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__SSL, T_SASL), TOPICS_ETLS);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__AUTHENTICATION, T_CA),
	                 TOPICS_EAUTH);
	/* Not security: */
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR_NO_ERROR, NULL), 0);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT, NULL), 0);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TIMED_OUT, ""), 0);
	assert_int_equal(
	    topics_security_failure(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"),
	    0);
	assert_int_equal(
	    topics_security_failure(RD_KAFKA_RESP_ERR__RESOLVE, "Failed to resolve 'nowhere:9092'"),
	    0);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
	                                         "Broker: Topic authorization failed"),
	                 0);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, NULL), 0);
}

static void test_classify_texts(void **state)
{
	(void)state;
	/* A transport error whose text says why. */
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT, T_SASL),
	                 TOPICS_EAUTH);
	assert_int_equal(
	    topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT, "Authentication failed"),
	    TOPICS_EAUTH);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT, T_CA), TOPICS_ETLS);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT, T_EXPIRED),
	                 TOPICS_ETLS);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__FAIL, "SSL handshake failed"),
	                 TOPICS_ETLS);
	assert_int_equal(
	    topics_security_failure(RD_KAFKA_RESP_ERR__FAIL, "x: certificate verify failed"),
	    TOPICS_ETLS);
	assert_int_equal(topics_security_failure(-1, "SSL alert number 42"), TOPICS_ETLS);
	/* Network trouble is not a security failure. */
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT,
	                                         "Connection refused (after 0ms in state CONNECT)"),
	                 0);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT,
	                                         "Disconnected while requesting ApiVersion"),
	                 0);
	assert_int_equal(topics_security_failure(RD_KAFKA_RESP_ERR__TRANSPORT, ""), 0);
}

static void test_reasons(void **state)
{
	(void)state;
	assert_null(topics_reason(TOPICS_OK));
	assert_string_equal(topics_reason(TOPICS_ENOTFOUND), "TopicNotFound");
	assert_string_equal(topics_reason(TOPICS_EUNAVAILABLE), "KafkaUnavailable");
	assert_string_equal(topics_reason(TOPICS_EFAILED), "KafkaUnavailable");
	assert_string_equal(topics_reason(TOPICS_EAUTH), "KafkaAuthenticationFailed");
	assert_string_equal(topics_reason(TOPICS_ETLS), "KafkaTLSFailed");
	assert_string_equal(topics_reason(-99), "KafkaUnavailable");
}

/* ---------------------------------------------------------- secrets */

static void test_secret_value(void **state)
{
	cJSON *s = cJSON_Parse("{\"data\":{\"password\":\"czNjcjN0\",\"bad\":\"!!!\"}}");
	char *v = NULL, why[256];

	(void)state;
	assert_non_null(s);
	assert_int_equal(secret_value(s, "ns", "creds", "password", &v, why, sizeof(why)), 0);
	assert_string_equal(v, "s3cr3t");
	free(v);
	assert_int_equal(secret_value(s, "ns", "creds", "user", &v, why, sizeof(why)), -1);
	assert_null(v);
	assert_string_equal(why, "Secret \"creds\" in namespace \"ns\" has no key \"user\"");
	assert_int_equal(secret_value(s, "ns", "creds", "bad", &v, why, sizeof(why)), -1);
	assert_string_equal(
	    why, "Secret \"creds\" in namespace \"ns\": key \"bad\" is not valid base64");
	assert_null(strstr(why, "!!!"));
	cJSON_Delete(s);
	/* A Secret without data (all keys empty). */
	s = cJSON_Parse("{\"metadata\":{}}");
	assert_int_equal(secret_value(s, "ns", "creds", "password", &v, why, sizeof(why)), -1);
	cJSON_Delete(s);
}

struct fake {
	int calls;
	int answer; /* 0 found, 1 missing, -1 failure */
	const char *json;
};

static int fake_fetch(void *arg, const char *ns, const char *name, cJSON **out, char *why,
                      size_t why_size)
{
	struct fake *f = arg;

	(void)ns;
	(void)name;
	f->calls++;
	*out = NULL;
	if (f->answer < 0)
		snprintf(why, why_size, "Forbidden: secrets is forbidden");
	if (f->answer == 0)
		*out = cJSON_Parse(f->json);
	return f->answer;
}

static void test_cache_ttl(void **state)
{
	struct fake f = {0, 0, "{\"data\":{\"password\":\"b25l\"}}"};
	struct secret_cache *c = secret_cache_new(fake_fetch, &f, 1000);
	char why[256], *v;

	(void)state;
	assert_non_null(c);
	v = secret_cache_get(c, "ns", "s", "password", 10, why, sizeof(why));
	assert_string_equal(v, "one");
	free(v);
	/* Within the TTL: kept, another key of it too. */
	v = secret_cache_get(c, "ns", "s", "password", 1009, why, sizeof(why));
	assert_string_equal(v, "one");
	free(v);
	assert_null(secret_cache_get(c, "ns", "s", "user", 500, why, sizeof(why)));
	assert_string_equal(why, "Secret \"s\" in namespace \"ns\" has no key \"user\"");
	assert_int_equal(f.calls, 1);
	/* Another namespace is another Secret. */
	v = secret_cache_get(c, "other", "s", "password", 500, why, sizeof(why));
	assert_non_null(v);
	free(v);
	assert_int_equal(f.calls, 2);
	/* Past the TTL: read again, the new value seen. */
	f.json = "{\"data\":{\"password\":\"dHdv\"}}";
	v = secret_cache_get(c, "ns", "s", "password", 1010, why, sizeof(why));
	assert_string_equal(v, "two");
	free(v);
	assert_int_equal(f.calls, 3);
	/* Deleted: missing, and kept missing for the TTL. */
	f.answer = 1;
	assert_null(secret_cache_get(c, "ns", "s", "password", 2100, why, sizeof(why)));
	assert_string_equal(why, "Secret \"s\" does not exist in namespace \"ns\"");
	assert_null(secret_cache_get(c, "ns", "s", "password", 2200, why, sizeof(why)));
	assert_int_equal(f.calls, 4);
	/* A failure is not kept: asked again at once. */
	f.answer = -1;
	assert_null(secret_cache_get(c, "ns", "t", "password", 2200, why, sizeof(why)));
	assert_string_equal(why,
	                    "Secret \"t\" in namespace \"ns\": Forbidden: secrets is forbidden");
	assert_null(secret_cache_get(c, "ns", "t", "password", 2201, why, sizeof(why)));
	assert_int_equal(f.calls, 6);
	secret_cache_free(c);
	secret_cache_free(NULL);
}

static void test_cache_bounded(void **state)
{
	struct fake f = {0, 0, "{\"data\":{\"k\":\"dg==\"}}"};
	struct secret_cache *c = secret_cache_new(fake_fetch, &f, 100000);
	char why[256], name[32];

	(void)state;
	/* More Secrets than the cache keeps: the oldest read goes. */
	for (int i = 0; i < SECRET_CACHE_MAX + 10; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		free(secret_cache_get(c, "ns", name, "k", i + 1, why, sizeof(why)));
	}
	assert_int_equal(f.calls, SECRET_CACHE_MAX + 10);
	free(secret_cache_get(c, "ns", "s0", "k", 5000, why, sizeof(why)));
	assert_int_equal(f.calls, SECRET_CACHE_MAX + 11);
	snprintf(name, sizeof(name), "s%d", SECRET_CACHE_MAX + 9);
	free(secret_cache_get(c, "ns", name, "k", 5000, why, sizeof(why)));
	assert_int_equal(f.calls, SECRET_CACHE_MAX + 11);
	secret_cache_free(c);
}

static void test_lookup(void **state)
{
	struct fake f = {0, 0, "{\"data\":{\"a\":\"YQ==\",\"b\":\"Yg==\"}}"};
	struct secret_cache *c = secret_cache_new(fake_fetch, &f, 1000);
	struct secret_lookup l = {.cache = c, .ns = "ns", .now_ms = 1};
	char why[256];

	(void)state;
	assert_string_equal(secret_lookup_get(&l, "s", "a", why, sizeof(why)), "a");
	assert_string_equal(secret_lookup_get(&l, "s", "b", why, sizeof(why)), "b");
	assert_null(secret_lookup_get(&l, "s", "c", why, sizeof(why)));
	assert_int_equal(l.n, 2);
	for (int i = 2; i < SECRET_LOOKUP_MAX; i++)
		assert_non_null(secret_lookup_get(&l, "s", "a", why, sizeof(why)));
	assert_null(secret_lookup_get(&l, "s", "a", why, sizeof(why)));
	secret_lookup_free(&l);
	assert_int_equal(l.n, 0);
	secret_lookup_free(&l);
	secret_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_codes), cmocka_unit_test(test_classify_texts),
	    cmocka_unit_test(test_reasons),        cmocka_unit_test(test_secret_value),
	    cmocka_unit_test(test_cache_ttl),      cmocka_unit_test(test_cache_bounded),
	    cmocka_unit_test(test_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
