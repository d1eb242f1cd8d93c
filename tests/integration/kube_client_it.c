/*
 * kube_client_it.c - the Kubernetes client (lib/kube/kube_*.c) against a REAL
 * kube-apiserver and kube-controller-manager: every verb, real Status errors,
 * watches, both ways of authenticating.
 *
 * Needs KUBECONFIG with contexts "sluice" (bearer token) and "sluice-cert"
 * (client certificate), as tests/e2e/stack.sh writes into build/stack.env.
 * Everything happens in a namespace of its own (sluice-it-<pid>), deleted at
 * the end; the Widget CRD (tests/e2e/fixtures/crd-widgets.yaml) is applied
 * and left in place, as other tests use it too.
 *
 * Build and run (from the repository root, with the stack up):
 *
 *   cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
 *      -Wmissing-prototypes -Wformat=2 -O2 -g -Ilib \
 *      $(pkg-config --cflags libcurl libcjson yaml-0.1 libmicrohttpd cmocka) \
 *      -o build/tests/kube_client_it tests/integration/kube_client_it.c \
 *      $(ls build/lib/[a-z]*.o build/operator/[a-z]*.o | grep -v /main.o) \
 *      $(pkg-config --libs libcurl libcjson yaml-0.1 libmicrohttpd cmocka) -lpthread -lm
 *   . build/stack.env && build/tests/kube_client_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "kube_client.h"
#include "kube_watch.h"
#include "clock.h"

#define FIELD_MANAGER "sluice-it"

static struct {
	struct kube_client *tok;  /* context sluice: bearer token, HTTP/2 */
	struct kube_client *cert; /* context sluice-cert: client cert, HTTP/1.1 */
	char ns[64];
	char tmp[64];
} it;

/* ---------------------------------------------------------------- helpers */

static cJSON *jsonf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static cJSON *jsonf(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	cJSON *j = cJSON_Parse(buf);
	if (j == NULL)
		fail_msg("bad JSON in test: %s", buf);
	return j;
}

/* Walks a dotted path of object keys ("metadata.name"). */
static const cJSON *at(const cJSON *o, const char *path)
{
	char key[128];
	while (o != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");
		assert_true(n < sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		o = cJSON_GetObjectItemCaseSensitive(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

static const char *str(const cJSON *o, const char *path)
{
	const cJSON *v = at(o, path);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *path)
{
	const cJSON *v = at(o, path);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Fails the test with the decoded Status when rc is not want. */
static void expect_rc(int rc, int want, const struct kube_error *e, const char *what)
{
	if (rc != want) {
		char buf[1024];
		fail_msg("%s: got %d (%s) want %d (%s): %s", what, rc, kube_strerror(rc), want,
		         kube_strerror(want), kube_error_format(e, buf, sizeof(buf)));
	}
}

static struct kube_ref ref_of(const char *group, const char *version, const char *resource,
                              const char *ns, const char *name)
{
	return (struct kube_ref){group, version, resource, ns, name, NULL};
}

/* ---------------------------------------------------------------- YAML -> cJSON */

/* Enough YAML for a manifest: plain scalars typed as YAML 1.2 core does. */
static cJSON *yaml_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	assert_true(depth < 64);
	if (n->type == YAML_SCALAR_NODE) {
		const char *v = (const char *)n->data.scalar.value;
		if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return cJSON_CreateString(v);
		if (strcmp(v, "true") == 0)
			return cJSON_CreateTrue();
		if (strcmp(v, "false") == 0)
			return cJSON_CreateFalse();
		if (v[0] == '\0' || strcmp(v, "null") == 0 || strcmp(v, "~") == 0)
			return cJSON_CreateNull();
		char *end;
		double d = strtod(v, &end);
		if (*end == '\0' && strspn(v, "-+0123456789.eE") == strlen(v))
			return cJSON_CreateNumber(d);
		return cJSON_CreateString(v);
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		cJSON *a = cJSON_CreateArray();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			cJSON_AddItemToArray(
			    a, yaml_to_json(doc, yaml_document_get_node(doc, *i), depth + 1));
		return a;
	}
	cJSON *o = cJSON_CreateObject();
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		assert_int_equal(k->type, YAML_SCALAR_NODE);
		cJSON_AddItemToObject(
		    o, (const char *)k->data.scalar.value,
		    yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1));
	}
	return o;
}

static cJSON *load_yaml(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("%s: cannot open (run from the repository root)", path);
	yaml_parser_t parser;
	yaml_document_t doc;
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_file(&parser, f);
	assert_true(yaml_parser_load(&parser, &doc));
	cJSON *j = yaml_to_json(&doc, yaml_document_get_root_node(&doc), 0);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return j;
}

/* ---------------------------------------------------------------- setup */

static struct kube_client *client_for(const char *context, enum kube_http_version v)
{
	struct kube_config cfg;
	char err[1024];
	int rc = kube_config_load(&cfg, NULL, context, err, sizeof(err));
	if (rc != 0)
		fail_msg("load %s: %s", context, err);
	struct kube_client_options o = {.http_version = v};
	struct kube_client *c;
	if (kube_client_new(&c, &cfg, &o, err, sizeof(err)) != 0)
		fail_msg("client %s: %s", context, err);
	return c;
}

static int group_setup(void **state)
{
	(void)state;
	if (getenv("KUBECONFIG") == NULL) {
		fprintf(stderr, "kube_client_it: KUBECONFIG is not set (. build/stack.env)\n");
		return -1;
	}
	it.tok = client_for("sluice", KUBE_HTTP_2);
	it.cert = client_for("sluice-cert", KUBE_HTTP_1_1);
	snprintf(it.ns, sizeof(it.ns), "sluice-it-%ld", (long)getpid());
	snprintf(it.tmp, sizeof(it.tmp), "/tmp/kube_client_it.XXXXXX");
	if (mkdtemp(it.tmp) == NULL)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (it.tok != NULL) {
		/* Background: the namespace controller empties it. */
		struct kube_ref ns = ref_of(NULL, "v1", "namespaces", NULL, it.ns);
		struct kube_delete_opts d = {.propagation_policy = "Background",
		                             .grace_period_seconds = -1};
		kube_client_delete(it.tok, &ns, &d, NULL, NULL);
		struct kube_client_stats st;
		kube_client_stats(it.tok, &st);
		unsigned long long total = 0;
		for (int v = 0; v < KUBE_VERB_COUNT; v++)
			for (int i = 0; i < KUBE_STATS_CODES; i++)
				total += st.requests[v][i];
		printf("token client: %llu requests, %llu connections, %llu over HTTP/2\n", total,
		       st.connects, st.http2);
	}
	kube_client_free(it.tok);
	kube_client_free(it.cert);
	char p[128];
	snprintf(p, sizeof(p), "%s/token", it.tmp);
	unlink(p);
	rmdir(it.tmp);
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_auth_both_ways(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	/* The cert client has no token: the client certificate is all. */
	assert_null(kube_client_config(it.cert)->token);
	assert_true(kube_client_config(it.cert)->client_cert.len > 0);
	assert_non_null(kube_client_config(it.tok)->token);
	assert_int_equal(kube_client_config(it.tok)->client_cert.len, 0);

	struct kube_client *both[] = {it.tok, it.cert};
	for (int i = 0; i < 2; i++) {
		expect_rc(kube_client_request(both[i], KUBE_VERB_GET, "GET", "/version", NULL, NULL,
		                              &out, &e),
		          0, &e, "GET /version");
		assert_string_equal(str(out, "major"), "1");
		cJSON_Delete(out);
		/* Who am I, per the API server: both are the admin. */
		cJSON *review = jsonf("{\"apiVersion\":\"authentication.k8s.io/v1\","
		                      "\"kind\":\"SelfSubjectReview\"}");
		struct kube_ref ssr =
		    ref_of("authentication.k8s.io", "v1", "selfsubjectreviews", NULL, NULL);
		expect_rc(kube_client_create(both[i], &ssr, review, &out, &e), 0, &e,
		          "SelfSubjectReview");
		assert_string_equal(str(out, "status.userInfo.username"), "sluice-admin");
		cJSON_Delete(out);
		cJSON_Delete(review);
	}

	/* A wrong token: 401. No credentials at all: 403 for system:anonymous. */
	struct kube_config bad;
	assert_int_equal(kube_config_copy(&bad, kube_client_config(it.tok)), 0);
	free(bad.token);
	bad.token = strdup("not-a-valid-token");
	struct kube_client *c;
	char err[256];
	assert_int_equal(kube_client_new(&c, &bad, NULL, err, sizeof(err)), 0);
	struct kube_ref def = ref_of(NULL, "v1", "namespaces", NULL, "default");
	expect_rc(kube_client_get(c, &def, &out, &e), KUBE_EUNAUTHORIZED, &e, "bad token");
	assert_int_equal(e.code, 401);
	assert_string_equal(e.reason, "Unauthorized");
	kube_client_free(c);

	struct kube_config anon;
	assert_int_equal(kube_config_copy(&anon, kube_client_config(it.tok)), 0);
	free(anon.token);
	anon.token = NULL;
	assert_int_equal(kube_client_new(&c, &anon, NULL, err, sizeof(err)), 0);
	expect_rc(kube_client_get(c, &def, &out, &e), KUBE_EFORBIDDEN, &e, "anonymous");
	assert_int_equal(e.code, 403);
	assert_string_equal(e.reason, "Forbidden");
	assert_non_null(strstr(e.message, "system:anonymous"));
	kube_client_free(c);

	/* The API server down (a port nobody listens on): a transport error,
	 * not an HTTP one. */
	struct kube_config down;
	assert_int_equal(kube_config_copy(&down, kube_client_config(it.tok)), 0);
	snprintf(down.server, sizeof(down.server), "https://127.0.0.1:1");
	assert_int_equal(kube_client_new(&c, &down, NULL, err, sizeof(err)), 0);
	expect_rc(kube_client_get(c, &def, &out, &e), KUBE_ETRANSPORT, &e, "server down");
	assert_int_equal(e.code, 0);
	kube_client_free(c);

	/* TLS is verified for real: the system CAs do not know the stack's. */
	struct kube_config noca;
	assert_int_equal(kube_config_copy(&noca, kube_client_config(it.tok)), 0);
	free(noca.ca.data);
	noca.ca.data = NULL;
	noca.ca.len = 0;
	assert_int_equal(kube_client_new(&c, &noca, NULL, err, sizeof(err)), 0);
	expect_rc(kube_client_get(c, &def, &out, &e), KUBE_ETRANSPORT, &e, "unknown CA");
	assert_non_null(strstr(e.message, "certificate"));
	kube_client_free(c);
}

static void test_token_file_rotation(void **state)
{
	(void)state;
	/* The admin's token through a tokenFile that starts out wrong. */
	const char *good = kube_client_config(it.tok)->token;
	size_t len = strlen(good);
	char path[128];
	snprintf(path, sizeof(path), "%s/token", it.tmp);
	char *wrong = malloc(len + 2);
	memset(wrong, 'x', len);
	wrong[len] = '\n';
	wrong[len + 1] = '\0';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(wrong, f);
	fclose(f);

	struct kube_config cfg;
	assert_int_equal(kube_config_copy(&cfg, kube_client_config(it.tok)), 0);
	free(cfg.token);
	cfg.token = NULL;
	snprintf(cfg.token_file, sizeof(cfg.token_file), "%s", path);
	struct kube_client *c;
	char err[256];
	assert_int_equal(kube_client_new(&c, &cfg, NULL, err, sizeof(err)), 0);
	struct kube_ref def = ref_of(NULL, "v1", "namespaces", NULL, "default");
	cJSON *out;
	struct kube_error e;
	expect_rc(kube_client_get(c, &def, &out, &e), KUBE_EUNAUTHORIZED, &e, "wrong token file");

	/* Rotated to the right token: same size, old mtime put back, so only
	 * the 401 makes the client re-read it (as after a projected-token
	 * rotation that the periodic check has not seen yet). */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", good);
	fclose(f);
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	expect_rc(kube_client_get(c, &def, &out, &e), 0, &e, "rotated token file");
	assert_string_equal(str(out, "metadata.name"), "default");
	cJSON_Delete(out);
	struct kube_client_stats stats;
	kube_client_stats(c, &stats);
	assert_int_equal(stats.requests[KUBE_VERB_GET][kube_stats_code_index(401)], 3);
	assert_int_equal(stats.requests[KUBE_VERB_GET][kube_stats_code_index(200)], 1);
	kube_client_free(c);
	free(wrong);
}

static void test_namespace_and_configmap(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	struct kube_ref nss = ref_of(NULL, "v1", "namespaces", NULL, NULL);
	cJSON *ns = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
	                  "{\"name\":\"%s\"}}",
	                  it.ns);
	expect_rc(kube_client_create(it.tok, &nss, ns, &out, &e), 0, &e, "create namespace");
	assert_string_equal(str(out, "metadata.name"), it.ns);
	cJSON_Delete(out);
	cJSON_Delete(ns);

	struct kube_ref cms = ref_of(NULL, "v1", "configmaps", it.ns, NULL);
	cJSON *cm = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                  "\"one\",\"labels\":{\"app\":\"it\",\"tier\":\"x\"}},\"data\":{\"k\":"
	                  "\"v\",\"gone\":\"soon\"}}");
	/* Created with the certificate client, read with the token client. */
	expect_rc(kube_client_create(it.cert, &cms, cm, &out, &e), 0, &e, "create configmap");
	cJSON_Delete(out);
	struct kube_ref one = ref_of(NULL, "v1", "configmaps", it.ns, "one");
	expect_rc(kube_client_get(it.tok, &one, &out, &e), 0, &e, "get configmap");
	assert_string_equal(str(out, "data.k"), "v");
	assert_string_equal(str(out, "metadata.labels.app"), "it");
	char rv[64];
	snprintf(rv, sizeof(rv), "%s", str(out, "metadata.resourceVersion"));
	cJSON_Delete(out);

	/* A real 409 AlreadyExists. */
	expect_rc(kube_client_create(it.tok, &cms, cm, &out, &e), KUBE_EEXISTS, &e, "create twice");
	assert_null(out);
	assert_int_equal(e.code, 409);
	assert_string_equal(e.reason, "AlreadyExists");
	assert_string_equal(e.message, "configmaps \"one\" already exists");
	cJSON_Delete(cm);

	/* A real 404. */
	struct kube_ref nope = ref_of(NULL, "v1", "configmaps", it.ns, "nope");
	expect_rc(kube_client_get(it.tok, &nope, &out, &e), KUBE_ENOTFOUND, &e, "get missing");
	assert_int_equal(e.code, 404);
	assert_string_equal(e.reason, "NotFound");
	assert_string_equal(e.message, "configmaps \"nope\" not found");

	/* Merge patch: change a key, delete one with null, drop a label. */
	cJSON *patch = jsonf("{\"metadata\":{\"labels\":{\"tier\":null}},\"data\":{\"k\":\"v2\","
	                     "\"gone\":null}}");
	expect_rc(kube_client_merge_patch(it.tok, &one, patch, &out, &e), 0, &e, "merge patch");
	assert_string_equal(str(out, "data.k"), "v2");
	assert_null(at(out, "data.gone"));
	assert_null(at(out, "metadata.labels.tier"));
	assert_string_equal(str(out, "metadata.labels.app"), "it");
	cJSON_Delete(out);
	cJSON_Delete(patch);

	/* JSON patch: an op that applies, then a failing test op (422). */
	cJSON *ops = jsonf("[{\"op\":\"add\",\"path\":\"/data/j\",\"value\":\"p\"}]");
	expect_rc(kube_client_json_patch(it.tok, &one, ops, &out, &e), 0, &e, "json patch");
	assert_string_equal(str(out, "data.j"), "p");
	cJSON_Delete(out);
	cJSON_Delete(ops);
	ops = jsonf("[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"not-it\"}]");
	expect_rc(kube_client_json_patch(it.tok, &one, ops, &out, &e), KUBE_EINVALID, &e,
	          "json patch test op");
	assert_int_equal(e.code, 422);
	cJSON_Delete(ops);

	/* A real 409 Conflict: replace with the stale resourceVersion. */
	cJSON *stale = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                     "\"one\",\"resourceVersion\":\"%s\"},\"data\":{\"k\":\"v3\"}}",
	                     rv);
	expect_rc(kube_client_replace(it.tok, &one, stale, &out, &e), KUBE_ECONFLICT, &e,
	          "replace stale");
	assert_int_equal(e.code, 409);
	assert_string_equal(e.reason, "Conflict");
	assert_non_null(strstr(e.message, "the object has been modified"));
	cJSON_Delete(stale);
	/* And the same replace from the current version works. */
	expect_rc(kube_client_get(it.tok, &one, &out, &e), 0, &e, "get");
	cJSON *fresh = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                     "\"one\",\"resourceVersion\":\"%s\"},\"data\":{\"k\":\"v3\"}}",
	                     str(out, "metadata.resourceVersion"));
	cJSON_Delete(out);
	expect_rc(kube_client_replace(it.tok, &one, fresh, &out, &e), 0, &e, "replace fresh");
	assert_string_equal(str(out, "data.k"), "v3");
	cJSON_Delete(out);
	cJSON_Delete(fresh);

	/* 405: a verb the path does not take. */
	char path[KUBE_PATH_MAX];
	assert_int_equal(kube_path(path, sizeof(path), &one), 0);
	cJSON *empty = cJSON_CreateObject();
	expect_rc(kube_client_request(it.tok, KUBE_VERB_CREATE, "POST", path, "application/json",
	                              empty, &out, &e),
	          KUBE_EHTTP, &e, "POST to an object");
	assert_int_equal(e.code, 405);
	cJSON_Delete(empty);
}

static void test_list_selector_paging(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	struct kube_ref cms = ref_of(NULL, "v1", "configmaps", it.ns, NULL);
	for (int i = 0; i < 7; i++) {
		cJSON *cm = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		                  "{\"name\":\"page-%d\",\"labels\":{\"set\":\"%s\"}}}",
		                  i, i < 5 ? "paged" : "other");
		expect_rc(kube_client_create(it.tok, &cms, cm, NULL, &e), 0, &e, "create page-N");
		cJSON_Delete(cm);
	}
	/* One page of 2 and a continue token (no remainingItemCount: the
	 * server does not count when a selector filters). */
	struct kube_list_opts lo = {.label_selector = "set=paged", .limit = 2};
	expect_rc(kube_client_list(it.tok, &cms, &lo, &out, &e), 0, &e, "list page 1");
	assert_int_equal(cJSON_GetArraySize(at(out, "items")), 2);
	assert_non_null(str(out, "metadata.continue"));
	char cont[1024];
	snprintf(cont, sizeof(cont), "%s", str(out, "metadata.continue"));
	cJSON_Delete(out);
	/* The next page by hand, with the token (opaque, base64 with '='). */
	lo.continue_token = cont;
	expect_rc(kube_client_list(it.tok, &cms, &lo, &out, &e), 0, &e, "list page 2");
	assert_int_equal(cJSON_GetArraySize(at(out, "items")), 2);
	cJSON_Delete(out);

	/* All pages: exactly the 5 selected, in name order. */
	lo.continue_token = NULL;
	expect_rc(kube_client_list_all(it.tok, &cms, &lo, &out, &e), 0, &e, "list all");
	const cJSON *items = at(out, "items");
	assert_int_equal(cJSON_GetArraySize(items), 5);
	for (int i = 0; i < 5; i++) {
		char want[32];
		snprintf(want, sizeof(want), "page-%d", i);
		assert_string_equal(str(cJSON_GetArrayItem(items, i), "metadata.name"), want);
	}
	assert_non_null(str(out, "metadata.resourceVersion"));
	assert_null(at(out, "metadata.continue"));
	cJSON_Delete(out);

	/* Set-based selector with characters that need escaping. */
	struct kube_list_opts in = {.label_selector = "set in (other,nothing),set!=paged"};
	expect_rc(kube_client_list_all(it.tok, &cms, &in, &out, &e), 0, &e, "list set-based");
	assert_int_equal(cJSON_GetArraySize(at(out, "items")), 2);
	cJSON_Delete(out);
	/* Field selector. */
	struct kube_list_opts fs = {.field_selector = "metadata.name=page-3"};
	expect_rc(kube_client_list(it.tok, &cms, &fs, &out, &e), 0, &e, "field selector");
	assert_int_equal(cJSON_GetArraySize(at(out, "items")), 1);
	cJSON_Delete(out);
	/* A bad selector: a real 400. */
	struct kube_list_opts bad = {.label_selector = "a b c"};
	expect_rc(kube_client_list(it.tok, &cms, &bad, &out, &e), KUBE_EBADREQUEST, &e,
	          "bad selector");
	assert_int_equal(e.code, 400);
	/* A forged continue token: a real 400 too ("continue key is not valid"). */
	struct kube_list_opts forged = {.continue_token = "bm90LWEtdG9rZW4=", .limit = 2};
	int rc = kube_client_list(it.tok, &cms, &forged, &out, &e);
	assert_true(rc == KUBE_EBADREQUEST || rc == KUBE_EGONE);
}

static void test_apply_idempotent(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	struct kube_ref ap = ref_of(NULL, "v1", "configmaps", it.ns, "applied");
	cJSON *body = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                    "\"applied\",\"namespace\":\"%s\",\"labels\":{\"by\":\"ssa\"}},"
	                    "\"data\":{\"a\":\"1\"}}",
	                    it.ns);
	/* Apply creates it. */
	expect_rc(kube_client_apply(it.tok, &ap, body, FIELD_MANAGER, 1, &out, &e), 0, &e,
	          "apply 1");
	char rv1[64];
	snprintf(rv1, sizeof(rv1), "%s", str(out, "metadata.resourceVersion"));
	const cJSON *mf = cJSON_GetArrayItem(at(out, "metadata.managedFields"), 0);
	assert_string_equal(str(mf, "manager"), FIELD_MANAGER);
	assert_string_equal(str(mf, "operation"), "Apply");
	cJSON_Delete(out);
	/* The same apply again changes nothing, not even the version. */
	expect_rc(kube_client_apply(it.tok, &ap, body, FIELD_MANAGER, 1, &out, &e), 0, &e,
	          "apply 2");
	assert_string_equal(str(out, "metadata.resourceVersion"), rv1);
	cJSON_Delete(out);
	cJSON_Delete(body);

	/* Another manager takes field data.a: a conflict without force, and
	 * taken over with force. */
	body = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	             "\"applied\"},\"data\":{\"a\":\"2\"}}");
	expect_rc(kube_client_apply(it.tok, &ap, body, "someone-else", 0, &out, &e), KUBE_ECONFLICT,
	          &e, "apply conflict");
	assert_int_equal(e.code, 409);
	assert_true(e.n_causes >= 1);
	assert_string_equal(e.causes[0].reason, "FieldManagerConflict");
	assert_string_equal(e.causes[0].field, ".data.a");
	expect_rc(kube_client_apply(it.tok, &ap, body, "someone-else", 1, &out, &e), 0, &e,
	          "apply force");
	assert_string_equal(str(out, "data.a"), "2");
	cJSON_Delete(out);
	cJSON_Delete(body);
}

static void apply_widget_crd(void)
{
	struct kube_error e;
	cJSON *out;
	cJSON *crd = load_yaml("tests/e2e/fixtures/crd-widgets.yaml");
	struct kube_ref ref = ref_of("apiextensions.k8s.io", "v1", "customresourcedefinitions",
	                             NULL, "widgets.e2e.sluice.dev");
	expect_rc(kube_client_apply(it.tok, &ref, crd, FIELD_MANAGER, 1, &out, &e), 0, &e,
	          "apply CRD");
	cJSON_Delete(out);
	cJSON_Delete(crd);
	/* Wait until Established, as kubectl wait would. */
	for (int i = 0; i < 300; i++) {
		expect_rc(kube_client_get(it.tok, &ref, &out, &e), 0, &e, "get CRD");
		const cJSON *c;
		int ok = 0;
		cJSON_ArrayForEach(c, at(out, "status.conditions"))
		{
			if (strcmp(str(c, "type"), "Established") == 0 &&
			    strcmp(str(c, "status"), "True") == 0)
				ok = 1;
		}
		cJSON_Delete(out);
		if (ok)
			return;
		it_sleep_ms(100);
	}
	fail_msg("CRD widgets.e2e.sluice.dev not Established after 30 s");
}

static void test_crd_status_subresource(void **state)
{
	(void)state;
	apply_widget_crd();
	struct kube_error e;
	cJSON *out;
	struct kube_ref widgets = ref_of("e2e.sluice.dev", "v1", "widgets", it.ns, NULL);
	struct kube_ref w = ref_of("e2e.sluice.dev", "v1", "widgets", it.ns, "w1");
	cJSON *body = jsonf("{\"apiVersion\":\"e2e.sluice.dev/v1\",\"kind\":\"Widget\","
	                    "\"metadata\":{\"name\":\"w1\"},\"spec\":{\"size\":3}}");
	/* The CRD may need a moment to be served after Established. */
	int rc = KUBE_ENOTFOUND;
	for (int i = 0; i < 50 && rc == KUBE_ENOTFOUND; i++) {
		rc = kube_client_create(it.tok, &widgets, body, &out, &e);
		if (rc == KUBE_ENOTFOUND)
			it_sleep_ms(100);
	}
	expect_rc(rc, 0, &e, "create widget");
	/* Defaulted by the schema. */
	assert_string_equal(str(out, "spec.color"), "blue");
	double gen = num(out, "metadata.generation");
	cJSON_Delete(out);
	cJSON_Delete(body);

	/* A real 422 naming the field. */
	body = jsonf("{\"apiVersion\":\"e2e.sluice.dev/v1\",\"kind\":\"Widget\","
	             "\"metadata\":{\"name\":\"too-big\"},\"spec\":{\"size\":42}}");
	expect_rc(kube_client_create(it.tok, &widgets, body, &out, &e), KUBE_EINVALID, &e,
	          "create invalid widget");
	assert_int_equal(e.code, 422);
	assert_string_equal(e.reason, "Invalid");
	assert_true(e.n_causes >= 1);
	assert_string_equal(e.causes[0].field, "spec.size");
	assert_string_equal(e.causes[0].reason, "FieldValueInvalid");
	assert_non_null(strstr(e.message, "spec.size"));
	cJSON_Delete(body);

	/* /status: merge patch the status; a spec change sent there is ignored
	 * and the generation does not move. */
	struct kube_ref ws = w;
	ws.subresource = "status";
	cJSON *patch = jsonf("{\"status\":{\"phase\":\"Ready\"},\"spec\":{\"size\":9}}");
	expect_rc(kube_client_merge_patch(it.tok, &ws, patch, &out, &e), 0, &e, "patch status");
	assert_string_equal(str(out, "status.phase"), "Ready");
	assert_int_equal((int)num(out, "spec.size"), 3);
	assert_true(num(out, "metadata.generation") == gen);
	cJSON_Delete(out);
	cJSON_Delete(patch);
	/* GET /status, and SSA on /status. */
	expect_rc(kube_client_get(it.tok, &ws, &out, &e), 0, &e, "get status");
	assert_string_equal(str(out, "status.phase"), "Ready");
	cJSON_Delete(out);
	cJSON *st = jsonf("{\"apiVersion\":\"e2e.sluice.dev/v1\",\"kind\":\"Widget\","
	                  "\"metadata\":{\"name\":\"w1\"},\"status\":{\"phase\":\"Applied\"}}");
	expect_rc(kube_client_apply(it.tok, &ws, st, FIELD_MANAGER, 1, &out, &e), 0, &e,
	          "apply status");
	assert_string_equal(str(out, "status.phase"), "Applied");
	cJSON_Delete(out);
	cJSON_Delete(st);
	/* The main endpoint ignores .status. */
	patch = jsonf("{\"status\":{\"phase\":\"Ignored\"},\"spec\":{\"size\":4}}");
	expect_rc(kube_client_merge_patch(it.tok, &w, patch, &out, &e), 0, &e, "patch main");
	assert_string_equal(str(out, "status.phase"), "Applied");
	assert_int_equal((int)num(out, "spec.size"), 4);
	assert_true(num(out, "metadata.generation") == gen + 1);
	cJSON_Delete(out);
	cJSON_Delete(patch);
}

static cJSON *deployment(const char *name, int replicas)
{
	return jsonf("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
	             "\"%s\",\"labels\":{\"app\":\"%s\"}},\"spec\":{\"replicas\":%d,\"selector\":"
	             "{\"matchLabels\":{\"app\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":"
	             "{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
	             "\"registry.invalid/none:1\"}]}}}}",
	             name, name, replicas, name, name);
}

/* Lists ReplicaSets with label app=name; returns how many, and whether the
 * first has ownerReferences. */
static int replicasets(const char *name, int *owned)
{
	struct kube_ref rss = ref_of("apps", "v1", "replicasets", it.ns, NULL);
	char sel[96];
	snprintf(sel, sizeof(sel), "app=%s", name);
	struct kube_list_opts lo = {.label_selector = sel};
	cJSON *out;
	struct kube_error e;
	expect_rc(kube_client_list_all(it.tok, &rss, &lo, &out, &e), 0, &e, "list replicasets");
	int n = cJSON_GetArraySize(at(out, "items"));
	if (owned != NULL)
		*owned = n > 0 && cJSON_GetArraySize(at(cJSON_GetArrayItem(at(out, "items"), 0),
		                                        "metadata.ownerReferences")) > 0;
	cJSON_Delete(out);
	return n;
}

/* Polls until pred(arg) or timeout; fails with what. */
static void wait_until(int (*pred)(const char *), const char *arg, int seconds, const char *what)
{
	double end = clock_mono_s() + seconds;
	while (clock_mono_s() < end) {
		if (pred(arg))
			return;
		it_sleep_ms(200);
	}
	fail_msg("timed out after %d s waiting for %s", seconds, what);
}

static int has_rs(const char *name)
{
	return replicasets(name, NULL) > 0;
}

static int rs_orphaned(const char *name)
{
	int owned = 1;
	return replicasets(name, &owned) > 0 && !owned;
}

static int no_rs(const char *name)
{
	return replicasets(name, NULL) == 0;
}

static int deployment_gone(const char *name)
{
	struct kube_ref d = ref_of("apps", "v1", "deployments", it.ns, name);
	return kube_client_get(it.tok, &d, NULL, NULL) == KUBE_ENOTFOUND;
}

static void test_scale_and_delete_propagation(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	struct kube_ref da = ref_of("apps", "v1", "deployments", it.ns, "fg");
	struct kube_ref db = ref_of("apps", "v1", "deployments", it.ns, "orphan");
	cJSON *a = deployment("fg", 1), *b = deployment("orphan", 1);
	expect_rc(kube_client_apply(it.tok, &da, a, FIELD_MANAGER, 1, NULL, &e), 0, &e, "apply fg");
	expect_rc(kube_client_apply(it.tok, &db, b, FIELD_MANAGER, 1, NULL, &e), 0, &e,
	          "apply orphan");
	cJSON_Delete(a);
	cJSON_Delete(b);

	/* /scale: set, then read back through /scale and the Deployment. */
	expect_rc(kube_client_scale(it.tok, &da, 3, &out, &e), 0, &e, "scale");
	assert_string_equal(str(out, "kind"), "Scale");
	assert_int_equal((int)num(out, "spec.replicas"), 3);
	cJSON_Delete(out);
	struct kube_ref scale = da;
	scale.subresource = "scale";
	expect_rc(kube_client_get(it.tok, &scale, &out, &e), 0, &e, "get scale");
	assert_int_equal((int)num(out, "spec.replicas"), 3);
	assert_string_equal(str(out, "status.selector"), "app=fg");
	cJSON_Delete(out);
	expect_rc(kube_client_get(it.tok, &da, &out, &e), 0, &e, "get deployment");
	assert_int_equal((int)num(out, "spec.replicas"), 3);
	cJSON_Delete(out);
	/* Scale to a negative count through the raw /scale: a real 422. */
	cJSON *neg = jsonf("{\"spec\":{\"replicas\":-1}}");
	expect_rc(kube_client_merge_patch(it.tok, &scale, neg, &out, &e), KUBE_EINVALID, &e,
	          "scale -1");
	cJSON_Delete(neg);

	/* The controller-manager gives each a ReplicaSet. */
	wait_until(has_rs, "fg", 60, "ReplicaSet of fg");
	wait_until(has_rs, "orphan", 60, "ReplicaSet of orphan");

	/* Foreground: the Deployment stays (deletionTimestamp, finalizer)
	 * until its ReplicaSet is gone, then goes. */
	struct kube_delete_opts fg = {.propagation_policy = "Foreground",
	                              .grace_period_seconds = -1};
	expect_rc(kube_client_delete(it.tok, &da, &fg, &out, &e), 0, &e, "delete foreground");
	assert_non_null(str(out, "metadata.deletionTimestamp"));
	assert_string_equal(str(cJSON_GetArrayItem(at(out, "metadata.finalizers"), 0), ""),
	                    "foregroundDeletion");
	cJSON_Delete(out);
	wait_until(no_rs, "fg", 60, "fg's ReplicaSet deleted with it");
	wait_until(deployment_gone, "fg", 60, "fg deleted");

	/* Orphan: the ReplicaSet survives, without its owner reference. */
	struct kube_delete_opts orphan = {.propagation_policy = "Orphan",
	                                  .grace_period_seconds = -1};
	expect_rc(kube_client_delete(it.tok, &db, &orphan, NULL, &e), 0, &e, "delete orphan");
	wait_until(deployment_gone, "orphan", 60, "orphan deleted");
	wait_until(rs_orphaned, "orphan", 60, "orphan's ReplicaSet left without owner");

	/* Background on a ConfigMap: a Status back, then a real 404. */
	struct kube_ref one = ref_of(NULL, "v1", "configmaps", it.ns, "one");
	struct kube_delete_opts bg = {.propagation_policy = "Background",
	                              .grace_period_seconds = 0};
	expect_rc(kube_client_delete(it.tok, &one, &bg, &out, &e), 0, &e, "delete background");
	cJSON_Delete(out);
	expect_rc(kube_client_get(it.tok, &one, &out, &e), KUBE_ENOTFOUND, &e, "get deleted");
	expect_rc(kube_client_delete(it.tok, &one, &bg, &out, &e), KUBE_ENOTFOUND, &e,
	          "delete twice");
	/* A precondition on the wrong uid: a real 409 Conflict. */
	struct kube_ref ap = ref_of(NULL, "v1", "configmaps", it.ns, "applied");
	struct kube_delete_opts pre = {.precondition_uid = "00000000-0000-0000-0000-000000000000",
	                               .grace_period_seconds = -1};
	expect_rc(kube_client_delete(it.tok, &ap, &pre, &out, &e), KUBE_ECONFLICT, &e,
	          "delete precondition");
	assert_non_null(strstr(e.message, "the UID in the precondition"));
}

/* ---------------------------------------------------------------- watch */

struct recorded {
	int n;
	enum kube_watch_type type[32];
	char name[32][64];
	char rv[32][KUBE_WATCH_RV_MAX];
	char value[32][16];
	const char *stop_after; /* return 1 after DELETED of this name */
};

static int record(struct kube_watch_event *ev, void *opaque)
{
	struct recorded *r = opaque;
	if (r->n >= 32)
		return 2;
	int i = r->n++;
	r->type[i] = ev->type;
	snprintf(r->name[i], sizeof(r->name[i]), "%s",
	         str(ev->object, "metadata.name") ? str(ev->object, "metadata.name") : "");
	snprintf(r->rv[i], sizeof(r->rv[i]), "%s",
	         ev->resource_version ? ev->resource_version : "");
	snprintf(r->value[i], sizeof(r->value[i]), "%s",
	         str(ev->object, "data.k") ? str(ev->object, "data.k") : "");
	if (r->stop_after != NULL && ev->type == KUBE_WATCH_DELETED &&
	    strcmp(r->name[i], r->stop_after) == 0)
		return 1;
	return 0;
}

struct watch_job {
	struct kube_watch_opts opts;
	struct recorded rec;
	char rv_out[KUBE_WATCH_RV_MAX];
	struct kube_error err;
	int rc;
};

static void *watch_thread(void *arg)
{
	struct watch_job *j = arg;
	struct kube_ref cms = ref_of(NULL, "v1", "configmaps", it.ns, NULL);
	j->rc = kube_watch_run(it.tok, &cms, &j->opts, record, &j->rec, j->rv_out,
	                       sizeof(j->rv_out), &j->err);
	return NULL;
}

static void test_watch(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	struct kube_ref cms = ref_of(NULL, "v1", "configmaps", it.ns, NULL);
	struct kube_ref w1 = ref_of(NULL, "v1", "configmaps", it.ns, "w1");

	/* List, then watch from the list's version (the reflector's way). */
	struct kube_list_opts lo = {.label_selector = "watch=it"};
	expect_rc(kube_client_list_all(it.tok, &cms, &lo, &out, &e), 0, &e, "list before watch");
	char rv0[KUBE_WATCH_RV_MAX];
	snprintf(rv0, sizeof(rv0), "%s", str(out, "metadata.resourceVersion"));
	cJSON_Delete(out);

	static struct watch_job job;
	memset(&job, 0, sizeof(job));
	job.opts = (struct kube_watch_opts){
	    .resource_version = rv0, .label_selector = "watch=it", .timeout_seconds = 30};
	job.rec.stop_after = "w1";
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, watch_thread, &job), 0);

	cJSON *cm = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                  "\"w1\",\"labels\":{\"watch\":\"it\"}},\"data\":{\"k\":\"1\"}}");
	expect_rc(kube_client_create(it.cert, &cms, cm, NULL, &e), 0, &e, "create w1");
	cJSON_Delete(cm);
	cJSON *patch = jsonf("{\"data\":{\"k\":\"2\"}}");
	expect_rc(kube_client_merge_patch(it.cert, &w1, patch, NULL, &e), 0, &e, "patch w1");
	cJSON_Delete(patch);
	expect_rc(kube_client_delete(it.cert, &w1, NULL, NULL, &e), 0, &e, "delete w1");
	pthread_join(t, NULL);

	/* The callback ended the watch at DELETED (returned 1). */
	expect_rc(job.rc, 1, &job.err, "watch");
	assert_int_equal(job.rec.n, 3);
	assert_int_equal(job.rec.type[0], KUBE_WATCH_ADDED);
	assert_int_equal(job.rec.type[1], KUBE_WATCH_MODIFIED);
	assert_int_equal(job.rec.type[2], KUBE_WATCH_DELETED);
	for (int i = 0; i < 3; i++)
		assert_string_equal(job.rec.name[i], "w1");
	assert_string_equal(job.rec.value[0], "1");
	assert_string_equal(job.rec.value[1], "2");
	/* The refused event (the callback returned 1 at DELETED) is not
	 * counted as seen: resuming from rv_out replays it. */
	assert_string_equal(job.rv_out, job.rec.rv[1]);

	/* Resume from the ADDED event's version: MODIFIED and DELETED again. */
	struct watch_job again;
	memset(&again, 0, sizeof(again));
	again.opts = (struct kube_watch_opts){
	    .resource_version = job.rec.rv[0], .label_selector = "watch=it", .timeout_seconds = 10};
	again.rec.stop_after = "w1";
	watch_thread(&again);
	expect_rc(again.rc, 1, &again.err, "resumed watch");
	assert_int_equal(again.rec.n, 2);
	assert_int_equal(again.rec.type[0], KUBE_WATCH_MODIFIED);
	assert_int_equal(again.rec.type[1], KUBE_WATCH_DELETED);
	assert_string_equal(again.rec.rv[0], job.rec.rv[1]);
	assert_string_equal(again.rec.rv[1], job.rec.rv[2]);

	/* A watch the server ends (timeoutSeconds=2) returns 0 and the version
	 * to go on from. */
	struct watch_job quiet;
	memset(&quiet, 0, sizeof(quiet));
	quiet.opts = (struct kube_watch_opts){
	    .resource_version = job.rec.rv[2], .label_selector = "watch=it", .timeout_seconds = 2};
	double t0 = clock_mono_s();
	watch_thread(&quiet);
	expect_rc(quiet.rc, 0, &quiet.err, "watch to its timeout");
	assert_true(clock_mono_s() - t0 >= 1.5);
	assert_int_equal(quiet.rec.n, 0);
	assert_string_equal(quiet.rv_out, job.rec.rv[2]);
}

static void test_watch_410(void **state)
{
	(void)state;
	/* resourceVersion 1 is long compacted out of the watch cache: the
	 * server answers 200 with an ERROR event carrying 410 Expired. */
	struct watch_job j;
	memset(&j, 0, sizeof(j));
	j.opts = (struct kube_watch_opts){.resource_version = "1", .timeout_seconds = 10};
	watch_thread(&j);
	expect_rc(j.rc, KUBE_EGONE, &j.err, "watch from rv 1");
	assert_int_equal(j.err.code, 410);
	assert_string_equal(j.err.reason, "Expired");
	assert_non_null(strstr(j.err.message, "too old resource version"));
	assert_int_equal(j.rec.n, 1);
	assert_int_equal(j.rec.type[0], KUBE_WATCH_ERROR);
	/* The version to resume from stays what it was: the caller relists. */
	assert_string_equal(j.rv_out, "1");
}

struct stopper {
	atomic_int *flag;
	int ms;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;
	it_sleep_ms(s->ms);
	atomic_store(s->flag, 1);
	return NULL;
}

static void test_watch_stop(void **state)
{
	(void)state;
	atomic_int stop;
	atomic_init(&stop, 0);
	struct watch_job j;
	memset(&j, 0, sizeof(j));
	/* No object matches: nothing will arrive; only the flag ends it. */
	j.opts = (struct kube_watch_opts){
	    .label_selector = "nothing=here", .timeout_seconds = 120, .stop = &stop};
	struct stopper s = {&stop, 500};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stop_later, &s), 0);
	double t0 = clock_mono_s();
	watch_thread(&j);
	double took = clock_mono_s() - t0;
	pthread_join(t, NULL);
	expect_rc(j.rc, KUBE_ESTOPPED, &j.err, "stopped watch");
	assert_true(took >= 0.45 && took < 2.5);
}

static void test_watch_bookmark(void **state)
{
	(void)state;
	struct kube_error e;
	cJSON *out;
	struct kube_ref cms = ref_of(NULL, "v1", "configmaps", it.ns, NULL);
	expect_rc(kube_client_list(it.tok, &cms, NULL, &out, &e), 0, &e, "list");
	char rv0[KUBE_WATCH_RV_MAX];
	snprintf(rv0, sizeof(rv0), "%s", str(out, "metadata.resourceVersion"));
	cJSON_Delete(out);

	/* A watch that matches nothing while other ConfigMaps change: the
	 * server sends a BOOKMARK (about 2 s before timeoutSeconds, or every
	 * minute) carrying a newer version, so a resumed watch does not start
	 * from far back. */
	static struct watch_job j;
	memset(&j, 0, sizeof(j));
	j.opts = (struct kube_watch_opts){
	    .resource_version = rv0, .label_selector = "nothing=here", .timeout_seconds = 8};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, watch_thread, &j), 0);
	for (int i = 0; i < 3; i++) {
		cJSON *cm = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		                  "{\"name\":\"bm-%d\"}}",
		                  i);
		struct kube_ref one = ref_of(NULL, "v1", "configmaps", it.ns, NULL);
		expect_rc(kube_client_create(it.cert, &one, cm, NULL, &e), 0, &e, "create bm-N");
		cJSON_Delete(cm);
		it_sleep_ms(300);
	}
	pthread_join(t, NULL);
	expect_rc(j.rc, 0, &j.err, "bookmark watch");
	int bookmarks = 0;
	for (int i = 0; i < j.rec.n; i++) {
		assert_int_equal(j.rec.type[i], KUBE_WATCH_BOOKMARK);
		bookmarks++;
	}
	if (bookmarks == 0)
		fail_msg("no BOOKMARK in an 8 s watch while the collection changed");
	/* The bookmark moved the version without any object event. */
	assert_string_not_equal(j.rv_out, rv0);
	assert_string_equal(j.rv_out, j.rec.rv[j.rec.n - 1]);
}

static void test_connection_reuse(void **state)
{
	(void)state;
	struct kube_client_stats st;
	kube_client_stats(it.tok, &st);
	unsigned long long total = 0;
	for (int v = 0; v < KUBE_VERB_COUNT; v++)
		for (int i = 0; i < KUBE_STATS_CODES; i++)
			total += st.requests[v][i];
	/* Hundreds of requests, a handful of connections (one per pooled
	 * handle, plus watches that ran beside requests). */
	assert_true(total > 50);
	assert_true(st.connects <= 4);
	/* The token client asked for HTTP/2 and got it (ALPN h2). */
	assert_true(st.http2 >= total - 1);
	kube_client_stats(it.cert, &st);
	assert_int_equal(st.http2, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_both_ways),
	    cmocka_unit_test(test_token_file_rotation),
	    cmocka_unit_test(test_namespace_and_configmap),
	    cmocka_unit_test(test_list_selector_paging),
	    cmocka_unit_test(test_apply_idempotent),
	    cmocka_unit_test(test_crd_status_subresource),
	    cmocka_unit_test(test_scale_and_delete_propagation),
	    cmocka_unit_test(test_watch),
	    cmocka_unit_test(test_watch_410),
	    cmocka_unit_test(test_watch_stop),
	    cmocka_unit_test(test_watch_bookmark),
	    cmocka_unit_test(test_connection_reuse),
	};
	return cmocka_run_group_tests_name("kube_client_it", tests, group_setup, group_teardown);
}
