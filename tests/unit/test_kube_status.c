/* Unit tests for lib/kube/kube_status.c: Status objects as the API server
 * sends them (bodies copied from a v1.33 kube-apiserver), one per code, and
 * the bounds on what is copied out of them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_status.h"

static int decode(int http, const char *body, struct kube_error *err)
{
	return kube_status_decode_body(http, body, body != NULL ? strlen(body) : 0, err);
}

static void test_not_found(void **state)
{
	(void)state;
	struct kube_error e;
	int rc = decode(404,
	                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	                "\"status\":\"Failure\",\"message\":\"configmaps \\\"nope\\\" not found\","
	                "\"reason\":\"NotFound\",\"details\":{\"name\":\"nope\",\"kind\":"
	                "\"configmaps\"},\"code\":404}",
	                &e);
	assert_int_equal(rc, KUBE_ENOTFOUND);
	assert_int_equal(e.code, 404);
	assert_string_equal(e.reason, "NotFound");
	assert_string_equal(e.message, "configmaps \"nope\" not found");
	assert_int_equal(e.n_causes, 0);
	char buf[256];
	assert_string_equal(kube_error_format(&e, buf, sizeof(buf)),
	                    "404 NotFound: configmaps \"nope\" not found");
}

static void test_conflict_and_exists(void **state)
{
	(void)state;
	struct kube_error e;
	assert_int_equal(
	    decode(409,
	           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
	           "\"configmaps \\\"a\\\" already exists\",\"reason\":\"AlreadyExists\","
	           "\"details\":{\"name\":\"a\",\"kind\":\"configmaps\"},\"code\":409}",
	           &e),
	    KUBE_EEXISTS);
	assert_string_equal(e.reason, "AlreadyExists");
	assert_int_equal(
	    decode(409,
	           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Operation cannot be "
	           "fulfilled on configmaps \\\"a\\\": the object has been modified; please apply "
	           "your changes to the latest version and try again\",\"reason\":\"Conflict\","
	           "\"code\":409}",
	           &e),
	    KUBE_ECONFLICT);
	assert_string_equal(e.reason, "Conflict");
	assert_non_null(strstr(e.message, "has been modified"));
	/* A 409 without a reason is a conflict. */
	assert_int_equal(decode(409, "", &e), KUBE_ECONFLICT);
	assert_string_equal(e.reason, "Conflict");
}

static void test_gone(void **state)
{
	(void)state;
	struct kube_error e;
	assert_int_equal(decode(410,
	                        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	                        "\"status\":\"Failure\",\"message\":\"too old resource version: 1 "
	                        "(2)\",\"reason\":\"Expired\",\"code\":410}",
	                        &e),
	                 KUBE_EGONE);
	assert_string_equal(e.reason, "Expired");
	assert_int_equal(decode(410, "{\"kind\":\"Status\",\"reason\":\"Gone\",\"code\":410}", &e),
	                 KUBE_EGONE);
	/* An expired continue token (older servers: 500 with reason Expired)
	 * means relist just the same, as client-go's IsResourceExpired. */
	assert_int_equal(
	    decode(500, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":500}", &e),
	    KUBE_EGONE);
	/* Inside a watch ERROR event there is no HTTP code: the Status's own. */
	cJSON *st = cJSON_Parse("{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410,"
	                        "\"message\":\"too old resource version: 5 (10)\"}");
	assert_non_null(st);
	assert_int_equal(kube_status_decode(0, st, &e), KUBE_EGONE);
	assert_int_equal(e.code, 410);
	cJSON_Delete(st);
}

static void test_invalid_causes(void **state)
{
	(void)state;
	struct kube_error e;
	const char *body =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"Widget.e2e.sluice.dev \\\"w\\\" is invalid: spec.size: Invalid value: "
	    "42: spec.size in body should be less than or equal to 10\",\"reason\":\"Invalid\","
	    "\"details\":{\"name\":\"w\",\"group\":\"e2e.sluice.dev\",\"kind\":\"Widget\","
	    "\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: 42: "
	    "spec.size in body should be less than or equal to 10\",\"field\":\"spec.size\"},"
	    "{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\",\"field\":"
	    "\"spec.color\"}]},\"code\":422}";
	assert_int_equal(decode(422, body, &e), KUBE_EINVALID);
	assert_int_equal(e.code, 422);
	assert_string_equal(e.reason, "Invalid");
	assert_int_equal(e.n_causes, 2);
	assert_int_equal(e.n_causes_total, 2);
	assert_string_equal(e.causes[0].reason, "FieldValueInvalid");
	assert_string_equal(e.causes[0].field, "spec.size");
	assert_non_null(strstr(e.causes[0].message, "less than or equal to 10"));
	assert_string_equal(e.causes[1].field, "spec.color");
	/* The message names the field: the format adds nothing. */
	char buf[512];
	kube_error_format(&e, buf, sizeof(buf));
	assert_null(strstr(buf, " ["));

	/* More causes than kept: counted, not stored. */
	char big[8192];
	int n = snprintf(big, sizeof(big),
	                 "{\"kind\":\"Status\",\"reason\":\"Invalid\","
	                 "\"message\":\"x\",\"code\":422,\"details\":{\"causes\":[");
	for (int i = 0; i < 20; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n,
		              "%s{\"reason\":\"FieldValueInvalid\",\"field\":\"spec.f%d\","
		              "\"message\":\"bad\"}",
		              i ? "," : "", i);
	snprintf(big + n, sizeof(big) - (size_t)n, "]}}");
	assert_int_equal(decode(422, big, &e), KUBE_EINVALID);
	assert_int_equal(e.n_causes, KUBE_ERROR_MAX_CAUSES);
	assert_int_equal(e.n_causes_total, 20);
	assert_string_equal(e.causes[7].field, "spec.f7");
	/* Message "x" does not name the field: the first cause is appended. */
	assert_string_equal(kube_error_format(&e, buf, sizeof(buf)),
	                    "422 Invalid: x [spec.f0: bad]");
}

static void test_each_code(void **state)
{
	(void)state;
	static const struct {
		int http;
		const char *reason;
		int rc;
	} cases[] = {
	    {400, "BadRequest", KUBE_EBADREQUEST},
	    {401, "Unauthorized", KUBE_EUNAUTHORIZED},
	    {403, "Forbidden", KUBE_EFORBIDDEN},
	    {404, "NotFound", KUBE_ENOTFOUND},
	    {405, "MethodNotAllowed", KUBE_EHTTP},
	    {406, "NotAcceptable", KUBE_EHTTP},
	    {409, "Conflict", KUBE_ECONFLICT},
	    {409, "AlreadyExists", KUBE_EEXISTS},
	    {410, "Gone", KUBE_EGONE},
	    {413, "RequestEntityTooLarge", KUBE_EHTTP},
	    {415, "UnsupportedMediaType", KUBE_EHTTP},
	    {422, "Invalid", KUBE_EINVALID},
	    {429, "TooManyRequests", KUBE_ETOOMANY},
	    {500, "InternalError", KUBE_ESERVER},
	    {503, "ServiceUnavailable", KUBE_ESERVER},
	    {504, "Timeout", KUBE_ESERVER},
	    {418, "", KUBE_EHTTP},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[256];
		struct kube_error e;
		snprintf(body, sizeof(body),
		         "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"m%zu\","
		         "\"reason\":\"%s\",\"code\":%d}",
		         i, cases[i].reason, cases[i].http);
		assert_int_equal(decode(cases[i].http, body, &e), cases[i].rc);
		assert_int_equal(e.code, cases[i].http);
		assert_string_equal(e.reason, cases[i].reason);
		/* The same code from the code alone (a body that says nothing). */
		if (cases[i].http != 409 || strcmp(cases[i].reason, "Conflict") == 0) {
			assert_int_equal(decode(cases[i].http, NULL, &e), cases[i].rc);
			assert_string_equal(e.reason, cases[i].reason);
		}
	}
	for (int code = 200; code < 300; code++)
		assert_int_equal(kube_status_rc(code, NULL), KUBE_OK);
	assert_int_equal(kube_status_rc(502, ""), KUBE_ESERVER);
	assert_int_equal(kube_status_rc(302, ""), KUBE_EHTTP);
}

static void test_retry_after(void **state)
{
	(void)state;
	struct kube_error e;
	assert_int_equal(decode(429,
	                        "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":"
	                        "\"too many requests\",\"details\":{\"retryAfterSeconds\":3},"
	                        "\"code\":429}",
	                        &e),
	                 KUBE_ETOOMANY);
	assert_int_equal(e.retry_after_seconds, 3);
	/* Values from the network are bounded. */
	decode(429, "{\"kind\":\"Status\",\"code\":429,\"details\":{\"retryAfterSeconds\":1e12}}",
	       &e);
	assert_int_equal(e.retry_after_seconds, 0);
	decode(429, "{\"kind\":\"Status\",\"code\":429,\"details\":{\"retryAfterSeconds\":-5}}",
	       &e);
	assert_int_equal(e.retry_after_seconds, 0);
}

static void test_not_json(void **state)
{
	(void)state;
	struct kube_error e;
	/* A proxy's page in front of the API server. */
	assert_int_equal(decode(503, "<html>\r\n<b>Service Unavailable</b>\n</html>", &e),
	                 KUBE_ESERVER);
	assert_int_equal(e.code, 503);
	assert_string_equal(e.reason, "ServiceUnavailable");
	/* Kept as one line: control bytes become spaces. */
	assert_string_equal(e.message, "<html>  <b>Service Unavailable</b> </html>");
	/* JSON but not a Status: the code decides. */
	assert_int_equal(decode(404, "{\"hello\":1}", &e), KUBE_ENOTFOUND);
	assert_string_equal(e.reason, "NotFound");
	assert_string_equal(e.message, "");
	assert_int_equal(decode(500, "[1,2]", &e), KUBE_ESERVER);
	/* The Status's code wins over the HTTP code it came in. */
	assert_int_equal(
	    decode(200, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}", &e),
	    KUBE_ENOTFOUND);
	/* No code anywhere: not an answer we understand. */
	assert_int_equal(kube_status_decode(0, NULL, &e), KUBE_EPROTOCOL);
	/* Types that lie: ignored. */
	assert_int_equal(
	    decode(403, "{\"kind\":7,\"code\":\"x\",\"reason\":[],\"message\":{}}", &e),
	    KUBE_EFORBIDDEN);
	assert_string_equal(e.reason, "Forbidden");
	/* err may be NULL. */
	assert_int_equal(decode(404, "{}", NULL), KUBE_ENOTFOUND);
}

static void test_bounds(void **state)
{
	(void)state;
	struct kube_error e;
	/* A 2000-byte message of 2-byte characters: cut below 512 bytes on a
	 * character boundary. */
	size_t cap = 4200;
	char *body = malloc(cap);
	assert_non_null(body);
	int n = snprintf(body, cap, "{\"kind\":\"Status\",\"code\":500,\"message\":\"");
	for (int i = 0; i < 1000; i++)
		n += snprintf(body + n, cap - (size_t)n, "\xc3\xa9");
	n += snprintf(body + n, cap - (size_t)n, "\",\"reason\":\"");
	for (int i = 0; i < 100; i++)
		body[n++] = 'R';
	snprintf(body + n, cap - (size_t)n, "\"}");
	assert_int_equal(decode(500, body, &e), KUBE_ESERVER);
	assert_int_equal(strlen(e.message), 510);
	assert_int_equal(strlen(e.reason), 63);
	free(body);

	char small[16];
	kube_error_format(&e, small, sizeof(small));
	/* "500 RRRRRRRRRRR" fits 15 bytes; no partial character either way. */
	assert_int_equal(strlen(small), 15);
	e.code = 0;
	memset(e.message, 0, sizeof(e.message));
	strcpy(e.message, "ab\xc3\xa9\xc3\xa9");
	char tiny[5];
	/* "ab" + one 2-byte char = 4 bytes: fits; the next one would split. */
	assert_string_equal(kube_error_format(&e, tiny, sizeof(tiny)), "ab\xc3\xa9");
	char tiny4[4];
	assert_string_equal(kube_error_format(&e, tiny4, sizeof(tiny4)), "ab");
	assert_string_equal(kube_error_format(NULL, tiny4, sizeof(tiny4)), "");
}

static void test_strlcpy_and_set(void **state)
{
	(void)state;
	char buf[4];
	assert_int_equal(kube_strlcpy(buf, sizeof(buf), "abc"), KUBE_OK);
	assert_string_equal(buf, "abc");
	assert_int_equal(kube_strlcpy(buf, sizeof(buf), "abcd"), KUBE_EINVAL);
	assert_string_equal(buf, "abc");
	assert_int_equal(kube_strlcpy(buf, sizeof(buf), "a\xc3\xa9z"), KUBE_EINVAL);
	assert_string_equal(buf, "a\xc3\xa9");
	assert_int_equal(kube_strlcpy(buf, sizeof(buf), "ab\xc3\xa9"), KUBE_EINVAL);
	assert_string_equal(buf, "ab");
	assert_int_equal(kube_strlcpy(buf, sizeof(buf), NULL), KUBE_OK);
	assert_string_equal(buf, "");
	assert_int_equal(kube_strlcpy(buf, 0, "x"), KUBE_EINVAL);

	struct kube_error e;
	assert_int_equal(kube_error_set(&e, KUBE_ETRANSPORT, 0, "Failed to connect"),
	                 KUBE_ETRANSPORT);
	assert_int_equal(e.code, 0);
	assert_string_equal(e.reason, "");
	char out[64];
	assert_string_equal(kube_error_format(&e, out, sizeof(out)), "Failed to connect");
	assert_int_equal(kube_error_set(NULL, KUBE_EINVAL, 0, "x"), KUBE_EINVAL);
	kube_error_clear(NULL);
}

static void test_strerror_distinct(void **state)
{
	(void)state;
	static const int codes[] = {
	    KUBE_OK,         KUBE_EINVAL,    KUBE_ENOMEM,    KUBE_ECONFIG,     KUBE_ETRANSPORT,
	    KUBE_EPROTOCOL,  KUBE_ETOOLARGE, KUBE_ESTOPPED,  KUBE_EBADREQUEST, KUBE_EUNAUTHORIZED,
	    KUBE_EFORBIDDEN, KUBE_ENOTFOUND, KUBE_ECONFLICT, KUBE_EEXISTS,     KUBE_EGONE,
	    KUBE_EINVALID,   KUBE_ETOOMANY,  KUBE_ESERVER,   KUBE_EHTTP};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(kube_strerror(codes[i]), "unknown error");
		for (size_t j = 0; j < i; j++) {
			assert_int_not_equal(codes[i], codes[j]);
			assert_string_not_equal(kube_strerror(codes[i]), kube_strerror(codes[j]));
		}
	}
	assert_string_equal(kube_strerror(-999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_conflict_and_exists),
	    cmocka_unit_test(test_gone),
	    cmocka_unit_test(test_invalid_causes),
	    cmocka_unit_test(test_each_code),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_not_json),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_strlcpy_and_set),
	    cmocka_unit_test(test_strerror_distinct),
	};
	return cmocka_run_group_tests_name("kube_status", tests, NULL, NULL);
}
