/* Unit tests for lib/kube/kube_client.c and kube_watch_run(): the pure path
 * and query builders, then the client against a small libmicrohttpd server
 * in this process that records what each request carried (method, headers,
 * query, body) and answers the shapes the API server uses — including the
 * ones a real API server will not produce on demand (429 with Retry-After,
 * an oversized body, a watch that goes quiet). tests/integration/
 * kube_client_it.c runs the same client against a real kube-apiserver. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kube_client.h"
#include "kube_watch.h"
#include "log.h"
#include "clock.h"

/* ---------------------------------------------------------------- pure */

static void test_path(void **state)
{
	(void)state;
	char buf[KUBE_PATH_MAX];
	struct {
		struct kube_ref ref;
		const char *want;
	} ok[] = {
	    {{"", "v1", "configmaps", "ns", "cm", NULL}, "/api/v1/namespaces/ns/configmaps/cm"},
	    {{NULL, "v1", "configmaps", "ns", NULL, NULL}, "/api/v1/namespaces/ns/configmaps"},
	    {{NULL, "v1", "configmaps", NULL, NULL, NULL}, "/api/v1/configmaps"},
	    {{NULL, "v1", "namespaces", NULL, "ns", NULL}, "/api/v1/namespaces/ns"},
	    {{"apps", "v1", "deployments", "ns", "d", "scale"},
	     "/apis/apps/v1/namespaces/ns/deployments/d/scale"},
	    {{"sluice.dev", "v1alpha1", "videojobs", "ns", "v", "status"},
	     "/apis/sluice.dev/v1alpha1/namespaces/ns/videojobs/v/status"},
	    {{"rbac.authorization.k8s.io", "v1", "clusterroles", NULL, "system:controller:x", NULL},
	     "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:x"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(kube_path(buf, sizeof(buf), &ok[i].ref), 0);
		assert_string_equal(buf, ok[i].want);
	}
	struct kube_ref bad[] = {
	    {NULL, "v1", "configmaps", "ns", "a/b", NULL},
	    {NULL, "v1", "configmaps", "ns", "..", NULL},
	    {NULL, "v1", "configmaps", "ns", ".", NULL},
	    {NULL, "v1", "configmaps", "ns", "", NULL},
	    {NULL, "v1", "configmaps", "n s", "a", NULL},
	    {NULL, "v1", "configmaps", "ns", "a?b", NULL},
	    {NULL, "v1", "configmaps", "ns", "a#b", NULL},
	    {NULL, "v1", "configmaps", "ns", "%2e", NULL},
	    {NULL, "v1", "configmaps", "ns", "a\nb", NULL},
	    {NULL, NULL, "configmaps", "ns", "a", NULL},
	    {NULL, "v1", NULL, "ns", "a", NULL},
	    {"a/b", "v1", "x", NULL, NULL, NULL},
	    {NULL, "v1", "configmaps", "ns", NULL, "status"}, /* subresource needs a name */
	    {NULL, "v1", "configmaps", "ns", "a", "st/x"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kube_path(buf, sizeof(buf), &bad[i]), KUBE_EINVAL);
	char small[20];
	assert_int_equal(kube_path(small, sizeof(small), &ok[0].ref), KUBE_EINVAL);
	assert_string_equal(small, "");
}

static void test_query(void **state)
{
	(void)state;
	char buf[64] = "/api/v1/pods";
	assert_int_equal(kube_query_add(buf, sizeof(buf), "labelSelector", "a=b,c!=d"), 0);
	assert_string_equal(buf, "/api/v1/pods?labelSelector=a%3Db%2Cc%21%3Dd");
	assert_int_equal(kube_query_add(buf, sizeof(buf), "limit", "5"), 0);
	assert_string_equal(buf, "/api/v1/pods?labelSelector=a%3Db%2Cc%21%3Dd&limit=5");
	assert_int_equal(kube_query_add(buf, sizeof(buf), "x", NULL), 0);
	assert_int_equal(kube_query_add(buf, sizeof(buf), "x", ""), 0);
	assert_string_equal(buf, "/api/v1/pods?labelSelector=a%3Db%2Cc%21%3Dd&limit=5");
	/* No room: unchanged. */
	assert_int_equal(kube_query_add(buf, sizeof(buf), "continue", "eyJ2IjoibWV0YS5rOHMuaW8v"),
	                 KUBE_EINVAL);
	assert_string_equal(buf, "/api/v1/pods?labelSelector=a%3Db%2Cc%21%3Dd&limit=5");
	char u[64] = "/p";
	assert_int_equal(kube_query_add(u, sizeof(u), "k", "~._-+/ \xc3\xa9&#"), 0);
	assert_string_equal(u, "/p?k=~._-%2B%2F%20%C3%A9%26%23");
}

static void test_stats_names(void **state)
{
	(void)state;
	assert_string_equal(kube_verb_name(KUBE_VERB_GET), "get");
	assert_string_equal(kube_verb_name(KUBE_VERB_DELETE), "delete");
	assert_string_equal(kube_verb_name(KUBE_VERB_COUNT), "unknown");
	assert_string_equal(kube_stats_code_name(kube_stats_code_index(0)), "error");
	assert_string_equal(kube_stats_code_name(kube_stats_code_index(200)), "200");
	assert_string_equal(kube_stats_code_name(kube_stats_code_index(410)), "410");
	assert_string_equal(kube_stats_code_name(kube_stats_code_index(599)), "other");
	assert_null(kube_stats_code_name(KUBE_STATS_CODES));
	assert_null(kube_stats_code_name(-1));
	for (int i = 0; i < KUBE_STATS_CODES - 1; i++)
		assert_int_equal(kube_stats_code_index(atoi(kube_stats_code_name(i))), i);
}

/* ---------------------------------------------------------------- fake server */

static atomic_int server_quit;
static atomic_int server_connections;

struct req {
	char *body;
	size_t len;
};

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *r = *con_cls;
	if (r != NULL) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&server_connections, 1);
}

struct header_scan {
	cJSON *obj;
	int content_types, accepts;
};

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
	(void)kind;
	struct header_scan *h = cls;
	if (strcasecmp(key, "Content-Type") == 0) {
		h->content_types++;
		cJSON_AddStringToObject(h->obj, "contentType", value);
	} else if (strcasecmp(key, "Accept") == 0) {
		h->accepts++;
		cJSON_AddStringToObject(h->obj, "accept", value);
	} else if (strcasecmp(key, "Authorization") == 0) {
		cJSON_AddStringToObject(h->obj, "authorization", value);
	} else if (strcasecmp(key, "User-Agent") == 0) {
		cJSON_AddStringToObject(h->obj, "userAgent", value);
	}
	return MHD_YES;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
	(void)kind;
	cJSON_AddStringToObject(cls, key, value != NULL ? value : "");
	return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body,
                             const char *extra_header, const char *extra_value)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (extra_header != NULL)
		MHD_add_response_header(resp, extra_header, extra_value);
	enum MHD_Result ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, cJSON *obj)
{
	char *text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	enum MHD_Result ret = reply(c, code, text, NULL, NULL);
	cJSON_free(text);
	return ret;
}

/* The multi-event stream the watch test expects, sent 7 bytes at a time. */
static const char watch_stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"15\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"16\"}}}"
    "\n";

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	size_t n = sizeof(watch_stream) - 1;
	if (pos >= n)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t len = n - pos < 7 ? n - pos : 7;
	if (len > max)
		len = max;
	memcpy(buf, watch_stream + pos, len);
	usleep(1000);
	return (ssize_t)len;
}

/* One event, then silence until the server quits (at most 20 s). */
static ssize_t idle_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	static const char first[] =
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"i\",\"resourceVersion\":"
	    "\"5\"}}}\n";
	if (pos == 0 && max >= sizeof(first) - 1) {
		memcpy(buf, first, sizeof(first) - 1);
		return (ssize_t)(sizeof(first) - 1);
	}
	for (int i = 0; i < 1000 && !atomic_load(&server_quit); i++)
		usleep(20000);
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result serve_stream(struct MHD_Connection *c, MHD_ContentReaderCallback fn)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, fn, NULL, NULL);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A collection of 5 items served in pages, like the API server: continue
 * "c<i>" resumes at item i; resourceVersion next to continue is a 400. */
static enum MHD_Result serve_pages(struct MHD_Connection *c)
{
	const char *limit_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	const char *rv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
	if (cont != NULL && rv != NULL)
		return reply(c, 400,
		             "{\"kind\":\"Status\",\"code\":400,\"reason\":\"BadRequest\","
		             "\"message\":\"specifying resource version is not allowed when using "
		             "continue\"}",
		             NULL, NULL);
	if (cont != NULL && strcmp(cont, "expired") == 0)
		return reply(c, 410,
		             "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
		             "\"message\":\"The provided continue parameter is too old\"}",
		             NULL, NULL);
	int start = cont != NULL ? atoi(cont + 1) : 0;
	int limit = limit_s != NULL ? atoi(limit_s) : 5;
	cJSON *list = cJSON_CreateObject();
	cJSON_AddStringToObject(list, "kind", "ThingList");
	cJSON *meta = cJSON_AddObjectToObject(list, "metadata");
	cJSON_AddStringToObject(meta, "resourceVersion", "777");
	cJSON *items = cJSON_AddArrayToObject(list, "items");
	int i;
	for (i = start; i < 5 && i < start + limit; i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%d", i);
		cJSON *it = cJSON_CreateObject();
		cJSON_AddObjectToObject(it, "metadata");
		cJSON_AddStringToObject(cJSON_GetObjectItem(it, "metadata"), "name", name);
		cJSON_AddItemToArray(items, it);
	}
	if (i < 5) {
		char next[16];
		snprintf(next, sizeof(next), "c%d", i);
		cJSON_AddStringToObject(meta, "continue", next);
		cJSON_AddNumberToObject(meta, "remainingItemCount", 5 - i);
	}
	return reply_json(c, 200, list);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct req *r = *con_cls;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		*con_cls = r;
		return r != NULL ? MHD_YES : MHD_NO;
	}
	if (*upload_size > 0) {
		char *nb = realloc(r->body, r->len + *upload_size + 1);
		if (nb == NULL)
			return MHD_NO;
		r->body = nb;
		memcpy(r->body + r->len, upload, *upload_size);
		r->len += *upload_size;
		r->body[r->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}

	if (strstr(url, "/notfound") != NULL)
		return reply(c, 404,
		             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		             "\"message\":\"configmaps \\\"notfound\\\" not found\",\"reason\":"
		             "\"NotFound\",\"code\":404}",
		             NULL, NULL);
	if (strstr(url, "/ratelimited") != NULL)
		return reply(c, 429, "slow down", "Retry-After", "7");
	if (strstr(url, "/big") != NULL) {
		size_t n = 2u << 20;
		char *big = malloc(n + 1);
		if (big == NULL)
			return MHD_NO;
		memset(big, ' ', n);
		big[0] = '[';
		big[n - 1] = ']';
		big[n] = '\0';
		enum MHD_Result ret = reply(c, 200, big, NULL, NULL);
		free(big);
		return ret;
	}
	if (strstr(url, "/secret") != NULL) {
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (auth == NULL || strcmp(auth, "Bearer good") != 0)
			return reply(
			    c, 401,
			    "{\"kind\":\"Status\",\"code\":401,\"reason\":\"Unauthorized\","
			    "\"message\":\"Unauthorized\"}",
			    NULL, NULL);
		return reply(c, 200, "{\"kind\":\"Secret\"}", NULL, NULL);
	}
	if (strstr(url, "/pagedthings") != NULL)
		return serve_pages(c);
	const char *watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	if (watch != NULL) {
		const char *sel =
		    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
		return serve_stream(c, sel != NULL && strcmp(sel, "idle") == 0 ? idle_reader
		                                                               : stream_reader);
	}

	/* Echo what came. */
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "url", url);
	struct header_scan h = {o, 0, 0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, on_header, &h);
	cJSON_AddNumberToObject(o, "contentTypes", h.content_types);
	cJSON_AddNumberToObject(o, "accepts", h.accepts);
	cJSON *args = cJSON_AddObjectToObject(o, "args");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, args);
	if (r->body != NULL) {
		cJSON *b = cJSON_Parse(r->body);
		cJSON_AddItemToObject(o, "body", b != NULL ? b : cJSON_CreateString(r->body));
	}
	return reply_json(c, strcmp(method, "POST") == 0 ? 201 : 200, o);
}

struct fixture {
	struct MHD_Daemon *d;
	struct kube_client *client;
	char dir[64];
	char token_file[128];
	FILE *log;
};

static void put_token(const struct fixture *f, const char *token)
{
	FILE *fp = fopen(f->token_file, "w");
	assert_non_null(fp);
	fputs(token, fp);
	assert_int_equal(fclose(fp), 0);
}

static int fixture_up(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	atomic_store(&server_quit, 0);
	atomic_store(&server_connections, 0);
	f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
	                        NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED,
	                        on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
	                        NULL, MHD_OPTION_END);
	if (f->d == NULL)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kube_client_test.XXXXXX");
	if (info == NULL || mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->token_file, sizeof(f->token_file), "%s/token", f->dir);
	put_token(f, "good\n");
	f->log = tmpfile();
	log_set_output(f->log);

	/* A kubeconfig pointing at the fake server, token from a file. */
	char path[128], text[512];
	snprintf(path, sizeof(path), "%s/config", f->dir);
	snprintf(text, sizeof(text),
	         "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%u'}}]\n"
	         "users: [{name: u, user: {tokenFile: token}}]\n"
	         "contexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]\n"
	         "current-context: x\n",
	         (unsigned)info->port);
	FILE *fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fputs(text, fp);
	fclose(fp);
	struct kube_config cfg;
	char err[512];
	if (kube_config_load_kubeconfig(&cfg, path, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	struct kube_client_options opts = {.max_response_bytes = 1u << 20, .max_handles = 2};
	if (kube_client_new(&f->client, &cfg, &opts, err, sizeof(err)) != 0) {
		kube_config_free(&cfg);
		return -1;
	}
	*state = f;
	return 0;
}

static int fixture_down(void **state)
{
	struct fixture *f = *state;
	kube_client_free(f->client);
	atomic_store(&server_quit, 1);
	MHD_stop_daemon(f->d);
	char p[160];
	snprintf(p, sizeof(p), "%s/config", f->dir);
	unlink(p);
	unlink(f->token_file);
	rmdir(f->dir);
	log_set_output(NULL);
	fclose(f->log);
	free(f);
	return 0;
}

static const struct kube_ref cm = {NULL, "v1", "configmaps", "ns", "cm", NULL};
static const struct kube_ref cms = {NULL, "v1", "configmaps", "ns", NULL, NULL};

static const char *str_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int num_at(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

static void test_get_headers_and_reuse(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 5; i++) {
		cJSON *out = NULL;
		struct kube_error e;
		assert_int_equal(kube_client_get(f->client, &cm, &out, &e), 0);
		assert_string_equal(str_at(out, "method"), "GET");
		assert_string_equal(str_at(out, "url"), "/api/v1/namespaces/ns/configmaps/cm");
		assert_int_equal(num_at(out, "accepts"), 1);
		assert_int_equal(num_at(out, "contentTypes"), 0);
		assert_string_equal(str_at(out, "accept"), "application/json");
		assert_string_equal(str_at(out, "authorization"), "Bearer good");
		assert_non_null(strstr(str_at(out, "userAgent"), "sluice-operator/"));
		cJSON_Delete(out);
	}
	struct kube_client_stats st;
	kube_client_stats(f->client, &st);
	assert_int_equal(st.requests[KUBE_VERB_GET][kube_stats_code_index(200)], 5);
	/* Five requests, one connection: kept alive. */
	assert_int_equal(st.connects, 1);
	assert_int_equal(atomic_load(&server_connections), 1);
	assert_string_equal(kube_client_config(f->client)->namespace, "ns");
}

static cJSON *body_of(cJSON *echo)
{
	return cJSON_GetObjectItemCaseSensitive(echo, "body");
}

static void test_verbs_on_the_wire(void **state)
{
	struct fixture *f = *state;
	cJSON *out;
	struct kube_error e;
	cJSON *obj = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	                         "{\"name\":\"cm\"},\"data\":{\"k\":\"v\"}}");

	assert_int_equal(kube_client_create(f->client, &cms, obj, &out, &e), 0);
	assert_string_equal(str_at(out, "method"), "POST");
	assert_string_equal(str_at(out, "url"), "/api/v1/namespaces/ns/configmaps");
	assert_string_equal(str_at(out, "contentType"), "application/json");
	assert_int_equal(num_at(out, "contentTypes"), 1);
	assert_true(cJSON_Compare(body_of(out), obj, 1));
	cJSON_Delete(out);

	assert_int_equal(kube_client_replace(f->client, &cm, obj, &out, &e), 0);
	assert_string_equal(str_at(out, "method"), "PUT");
	assert_true(cJSON_Compare(body_of(out), obj, 1));
	cJSON_Delete(out);

	assert_int_equal(kube_client_apply(f->client, &cm, obj, "sluice-operator", 1, &out, &e), 0);
	assert_string_equal(str_at(out, "method"), "PATCH");
	assert_string_equal(str_at(out, "contentType"), "application/apply-patch+yaml");
	assert_int_equal(num_at(out, "contentTypes"), 1);
	cJSON *args = cJSON_GetObjectItemCaseSensitive(out, "args");
	assert_string_equal(str_at(args, "fieldManager"), "sluice-operator");
	assert_string_equal(str_at(args, "force"), "true");
	cJSON_Delete(out);
	assert_int_equal(kube_client_apply(f->client, &cm, obj, "m", 0, &out, &e), 0);
	assert_null(str_at(cJSON_GetObjectItemCaseSensitive(out, "args"), "force"));
	cJSON_Delete(out);
	assert_int_equal(kube_client_apply(f->client, &cm, obj, "", 1, &out, &e), KUBE_EINVAL);
	assert_null(out);

	cJSON *patch = cJSON_Parse("{\"data\":{\"k\":null}}");
	assert_int_equal(kube_client_merge_patch(f->client, &cm, patch, &out, &e), 0);
	assert_string_equal(str_at(out, "contentType"), "application/merge-patch+json");
	assert_true(cJSON_Compare(body_of(out), patch, 1));
	cJSON_Delete(out);
	cJSON_Delete(patch);

	cJSON *ops = cJSON_Parse("[{\"op\":\"add\",\"path\":\"/data/x\",\"value\":\"y\"}]");
	assert_int_equal(kube_client_json_patch(f->client, &cm, ops, &out, &e), 0);
	assert_string_equal(str_at(out, "contentType"), "application/json-patch+json");
	assert_true(cJSON_Compare(body_of(out), ops, 1));
	cJSON_Delete(out);
	assert_int_equal(kube_client_json_patch(f->client, &cm, obj, &out, &e), KUBE_EINVAL);
	cJSON_Delete(ops);

	struct kube_delete_opts del = {.propagation_policy = "Foreground",
	                               .grace_period_seconds = 0,
	                               .precondition_uid = "u-1"};
	assert_int_equal(kube_client_delete(f->client, &cm, &del, &out, &e), 0);
	assert_string_equal(str_at(out, "method"), "DELETE");
	cJSON *b = body_of(out);
	assert_string_equal(str_at(b, "kind"), "DeleteOptions");
	assert_string_equal(str_at(b, "propagationPolicy"), "Foreground");
	assert_int_equal(num_at(b, "gracePeriodSeconds"), 0);
	assert_string_equal(str_at(cJSON_GetObjectItemCaseSensitive(b, "preconditions"), "uid"),
	                    "u-1");
	cJSON_Delete(out);
	assert_int_equal(kube_client_delete(f->client, &cm, NULL, NULL, &e), 0);

	struct kube_ref dep = {"apps", "v1", "deployments", "ns", "d", NULL};
	assert_int_equal(kube_client_scale(f->client, &dep, 3, &out, &e), 0);
	assert_string_equal(str_at(out, "url"), "/apis/apps/v1/namespaces/ns/deployments/d/scale");
	assert_string_equal(str_at(out, "contentType"), "application/merge-patch+json");
	assert_int_equal(num_at(cJSON_GetObjectItemCaseSensitive(body_of(out), "spec"), "replicas"),
	                 3);
	cJSON_Delete(out);
	assert_int_equal(kube_client_scale(f->client, &dep, -1, &out, &e), KUBE_EINVAL);

	struct kube_list_opts lo = {.label_selector = "app in (a,b)", .limit = 2};
	assert_int_equal(kube_client_list(f->client, &cms, &lo, &out, &e), 0);
	args = cJSON_GetObjectItemCaseSensitive(out, "args");
	assert_string_equal(str_at(args, "labelSelector"), "app in (a,b)");
	assert_string_equal(str_at(args, "limit"), "2");
	cJSON_Delete(out);

	assert_int_equal(
	    kube_client_request(f->client, KUBE_VERB_GET, "GET", "/version", NULL, NULL, &out, &e),
	    0);
	assert_string_equal(str_at(out, "url"), "/version");
	cJSON_Delete(out);

	/* Verb/name mismatches are caught before any I/O. */
	assert_int_equal(kube_client_get(f->client, &cms, &out, &e), KUBE_EINVAL);
	assert_int_equal(kube_client_create(f->client, &cm, obj, &out, &e), KUBE_EINVAL);
	assert_int_equal(kube_client_list(f->client, &cm, NULL, &out, &e), KUBE_EINVAL);
	cJSON_Delete(obj);

	struct kube_client_stats st;
	kube_client_stats(f->client, &st);
	assert_int_equal(st.requests[KUBE_VERB_CREATE][kube_stats_code_index(201)], 1);
	assert_int_equal(st.requests[KUBE_VERB_APPLY][kube_stats_code_index(200)], 2);
	assert_int_equal(st.requests[KUBE_VERB_PATCH][kube_stats_code_index(200)], 3);
	assert_int_equal(st.requests[KUBE_VERB_DELETE][kube_stats_code_index(200)], 2);
	assert_int_equal(st.requests[KUBE_VERB_REPLACE][kube_stats_code_index(200)], 1);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	cJSON *out = (cJSON *)1;
	struct kube_error e;
	struct kube_ref nf = {NULL, "v1", "configmaps", "ns", "notfound", NULL};
	assert_int_equal(kube_client_get(f->client, &nf, &out, &e), KUBE_ENOTFOUND);
	assert_null(out);
	assert_int_equal(e.code, 404);
	assert_string_equal(e.message, "configmaps \"notfound\" not found");

	struct kube_ref rl = {NULL, "v1", "configmaps", "ns", "ratelimited", NULL};
	assert_int_equal(kube_client_get(f->client, &rl, &out, &e), KUBE_ETOOMANY);
	assert_int_equal(e.retry_after_seconds, 7);
	assert_string_equal(e.reason, "TooManyRequests");
	assert_string_equal(e.message, "slow down");

	struct kube_ref big = {NULL, "v1", "configmaps", "ns", "big", NULL};
	assert_int_equal(kube_client_get(f->client, &big, &out, &e), KUBE_ETOOLARGE);
	assert_null(out);

	struct kube_client_stats st;
	kube_client_stats(f->client, &st);
	assert_int_equal(st.requests[KUBE_VERB_GET][kube_stats_code_index(404)], 1);
	assert_int_equal(st.requests[KUBE_VERB_GET][kube_stats_code_index(429)], 1);
}

static void test_transport_error(void **state)
{
	(void)state;
	/* A port nobody listens on: the API server is down. */
	struct kube_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.server, sizeof(cfg.server), "http://127.0.0.1:1");
	struct kube_client *c;
	char err[256];
	assert_int_equal(kube_client_new(&c, &cfg, NULL, err, sizeof(err)), 0);
	cJSON *out;
	struct kube_error e;
	assert_int_equal(kube_client_get(c, &cm, &out, &e), KUBE_ETRANSPORT);
	assert_null(out);
	assert_int_equal(e.code, 0);
	assert_non_null(strstr(e.message, "127.0.0.1"));
	assert_non_null(strstr(e.message, "(GET /api/v1/namespaces/ns/configmaps/cm)"));
	struct kube_client_stats st;
	kube_client_stats(c, &st);
	assert_int_equal(st.requests[KUBE_VERB_GET][kube_stats_code_index(0)], 1);
	kube_client_free(c);
	kube_client_free(NULL);

	struct kube_config empty;
	memset(&empty, 0, sizeof(empty));
	assert_int_equal(kube_client_new(&c, &empty, NULL, err, sizeof(err)), KUBE_EINVAL);
}

static void test_401_rereads_token(void **state)
{
	struct fixture *f = *state;
	struct kube_ref s = {NULL, "v1", "secrets", "ns", "secret", NULL};
	cJSON *out;
	struct kube_error e;
	assert_int_equal(kube_client_get(f->client, &s, &out, &e), 0);
	cJSON_Delete(out);

	/* A wrong token on disk (seen at once: the size changed): one 401,
	 * one forced re-read and retry, still 401. */
	put_token(f, "wrong\n");
	assert_int_equal(kube_client_get(f->client, &s, &out, &e), KUBE_EUNAUTHORIZED);
	assert_null(out);
	assert_int_equal(e.code, 401);

	/* The file is fixed with a token of the same size and the old mtime
	 * put back, so nothing tells the client but the 401: the first try
	 * sends the cached "wrong", the retry re-reads and succeeds (the
	 * blank is trimmed). */
	struct stat st;
	assert_int_equal(stat(f->token_file, &st), 0);
	put_token(f, "good \n");
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, f->token_file, times, 0), 0);
	assert_int_equal(kube_client_get(f->client, &s, &out, &e), 0);
	assert_string_equal(str_at(out, "kind"), "Secret");
	cJSON_Delete(out);

	struct kube_client_stats stats;
	kube_client_stats(f->client, &stats);
	assert_int_equal(stats.requests[KUBE_VERB_GET][kube_stats_code_index(401)], 3);
	assert_int_equal(stats.requests[KUBE_VERB_GET][kube_stats_code_index(200)], 2);
}

static void test_list_all_pages(void **state)
{
	struct fixture *f = *state;
	struct kube_ref things = {"e2e.sluice.dev", "v1", "pagedthings", "ns", NULL, NULL};
	struct kube_list_opts lo = {.limit = 2, .resource_version = "0"};
	cJSON *out;
	struct kube_error e;
	assert_int_equal(kube_client_list_all(f->client, &things, &lo, &out, &e), 0);
	cJSON *items = cJSON_GetObjectItemCaseSensitive(out, "items");
	assert_int_equal(cJSON_GetArraySize(items), 5);
	for (int i = 0; i < 5; i++) {
		char want[16];
		snprintf(want, sizeof(want), "t%d", i);
		cJSON *meta =
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(items, i), "metadata");
		assert_string_equal(str_at(meta, "name"), want);
	}
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(out, "metadata");
	assert_string_equal(str_at(meta, "resourceVersion"), "777");
	assert_null(cJSON_GetObjectItemCaseSensitive(meta, "continue"));
	assert_null(cJSON_GetObjectItemCaseSensitive(meta, "remainingItemCount"));
	cJSON_Delete(out);
	struct kube_client_stats st;
	kube_client_stats(f->client, &st);
	assert_int_equal(st.requests[KUBE_VERB_LIST][kube_stats_code_index(200)], 3);

	/* An expired continue token: relist. */
	lo.continue_token = "expired";
	lo.resource_version = NULL;
	out = (cJSON *)1;
	assert_int_equal(kube_client_list_all(f->client, &things, &lo, &out, &e), KUBE_EGONE);
	assert_null(out);
}

/* What list_each hands over: the items' names, in order. */
struct names {
	int n, refuse_at;
	char name[8][16];
};

static int keep_name(cJSON *item, void *opaque)
{
	struct names *k = opaque;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
	if (k->refuse_at >= 0 && k->n == k->refuse_at) {
		cJSON_Delete(item);
		return KUBE_ENOMEM;
	}
	if (k->n < 8)
		snprintf(k->name[k->n], sizeof(k->name[0]), "%s", str_at(meta, "name"));
	k->n++;
	cJSON_Delete(item);
	return 0;
}

static void test_list_each_item_walk(void **state)
{
	(void)state;
	/* Members in any order, whitespace, nested arrays and strings that
	 * look like structure: only items' elements reach fn, one at a time. */
	static const char page[] =
	    " { \"kind\" : \"ThingList\", \"apiVersion\":\"v1\",\n"
	    "  \"items\" : [ "
	    "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"x\":[1,[2,{\"y\":\"]}\"}]]}},\n"
	    "   {\"metadata\":{\"name\":\"b\"}} ],\n"
	    "  \"metadata\" : {\"resourceVersion\":\"9\",\"continue\":\"c2\"} } ";
	struct names k = {.refuse_at = -1};
	cJSON *meta = NULL;
	assert_int_equal(kube_list_each_item(page, sizeof(page) - 1, keep_name, &k, &meta),
	                 KUBE_OK);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.name[0], "a");
	assert_string_equal(k.name[1], "b");
	assert_string_equal(str_at(meta, "resourceVersion"), "9");
	assert_string_equal(str_at(meta, "continue"), "c2");
	cJSON_Delete(meta);

	/* Empty and null items; no items at all. */
	static const char *const empty[] = {"{\"items\":[],\"metadata\":{}}",
	                                    "{\"items\":null,\"metadata\":{}}", "{}",
	                                    "{\"metadata\":{\"resourceVersion\":\"1\"}}"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		struct names none = {.refuse_at = -1};
		assert_int_equal(
		    kube_list_each_item(empty[i], strlen(empty[i]), keep_name, &none, &meta),
		    KUBE_OK);
		assert_int_equal(none.n, 0);
		cJSON_Delete(meta);
	}

	/* Not a list: every one a protocol error, metadata NULL, no leak. */
	static const char *const bad[] = {"",
	                                  "[]",
	                                  "{\"items\":{}}",
	                                  "{\"items\":\"x\"}",
	                                  "{\"metadata\":{},\"items\":[{\"a\":1},]}",
	                                  "{\"metadata\":{},\"items\":[{\"a\":1}",
	                                  "{\"metadata\":{} \"items\":[]}",
	                                  "{\"metadata\":{},\"items\":[{\"a\":1}]",
	                                  "{1:2}",
	                                  "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{"
	                                  "\"metadata\":{\"name\":\"a\"}} x]}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct names some = {.refuse_at = -1};
		meta = (cJSON *)1;
		assert_int_equal(
		    kube_list_each_item(bad[i], strlen(bad[i]), keep_name, &some, &meta),
		    KUBE_EPROTOCOL);
		assert_null(meta);
	}

	/* fn's refusal ends the walk with its code. */
	struct names two = {.refuse_at = 1};
	assert_int_equal(kube_list_each_item(page, sizeof(page) - 1, keep_name, &two, &meta),
	                 KUBE_ENOMEM);
	assert_int_equal(two.n, 1);
	assert_null(meta);
}

static void test_list_each_pages(void **state)
{
	struct fixture *f = *state;
	struct kube_ref things = {"e2e.sluice.dev", "v1", "pagedthings", "ns", NULL, NULL};
	struct kube_list_opts lo = {.limit = 3};
	struct names k = {.refuse_at = -1};
	struct kube_error e;
	cJSON *meta;

	assert_int_equal(kube_client_list_each(f->client, &things, &lo, keep_name, &k, &meta, &e),
	                 0);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.name[2], "t2");
	assert_string_equal(str_at(meta, "resourceVersion"), "777");
	assert_string_equal(str_at(meta, "continue"), "c3");
	lo.continue_token = "c3";
	cJSON_Delete(meta);
	assert_int_equal(kube_client_list_each(f->client, &things, &lo, keep_name, &k, &meta, &e),
	                 0);
	assert_int_equal(k.n, 5);
	assert_string_equal(k.name[4], "t4");
	assert_null(cJSON_GetObjectItemCaseSensitive(meta, "continue"));
	cJSON_Delete(meta);

	/* An item refused: fn's code, said in err. */
	struct names refuse = {.refuse_at = 0};
	lo.continue_token = NULL;
	assert_int_equal(
	    kube_client_list_each(f->client, &things, &lo, keep_name, &refuse, &meta, &e),
	    KUBE_ENOMEM);
	assert_null(meta);
	assert_true(e.message[0] != '\0');

	/* An expired continue token: relist, nothing handed over. */
	struct names none = {.refuse_at = -1};
	lo.continue_token = "expired";
	assert_int_equal(
	    kube_client_list_each(f->client, &things, &lo, keep_name, &none, &meta, &e),
	    KUBE_EGONE);
	assert_int_equal(none.n, 0);
	assert_null(meta);
}

struct events {
	int n;
	char types[16][16];
};

static int record(struct kube_watch_event *ev, void *opaque)
{
	struct events *s = opaque;
	if (s->n < 16)
		snprintf(s->types[s->n++], sizeof(s->types[0]), "%s",
		         kube_watch_type_name(ev->type));
	return 0;
}

static void test_watch_run(void **state)
{
	struct fixture *f = *state;
	struct events s = {0};
	char rv[KUBE_WATCH_RV_MAX];
	struct kube_error e;
	struct kube_watch_opts o = {.resource_version = "10", .timeout_seconds = 30};
	assert_int_equal(kube_watch_run(f->client, &cms, &o, record, &s, rv, sizeof(rv), &e), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.types[0], "ADDED");
	assert_string_equal(s.types[1], "BOOKMARK");
	assert_string_equal(s.types[2], "DELETED");
	assert_string_equal(rv, "16");
	struct kube_client_stats st;
	kube_client_stats(f->client, &st);
	assert_int_equal(st.requests[KUBE_VERB_WATCH][kube_stats_code_index(200)], 1);

	/* A watch of one object is refused before any I/O. */
	assert_int_equal(kube_watch_run(f->client, &cm, &o, record, &s, rv, sizeof(rv), &e),
	                 KUBE_EINVAL);
}

struct stopper {
	atomic_int *flag;
	int delay_ms;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;
	usleep((useconds_t)s->delay_ms * 1000);
	atomic_store(s->flag, 1);
	return NULL;
}

static void test_watch_stop_when_idle(void **state)
{
	struct fixture *f = *state;
	atomic_int stop;
	atomic_init(&stop, 0);
	struct stopper sp = {&stop, 300};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stop_later, &sp), 0);
	struct events s = {0};
	char rv[KUBE_WATCH_RV_MAX];
	struct kube_error e;
	struct kube_watch_opts o = {.label_selector = "idle", .timeout_seconds = 60, .stop = &stop};
	double t0 = clock_mono_s();
	int rc = kube_watch_run(f->client, &cms, &o, record, &s, rv, sizeof(rv), &e);
	double took = clock_mono_s() - t0;
	pthread_join(t, NULL);
	assert_int_equal(rc, KUBE_ESTOPPED);
	assert_int_equal(s.n, 1);
	assert_string_equal(rv, "5");
	/* Nothing arrived after the first event: the progress callback, not a
	 * write, saw the flag, within about a second. */
	assert_true(took >= 0.3);
	assert_true(took < 2.5);
	/* Already set: stops at once. */
	assert_int_equal(kube_watch_run(f->client, &cms, &o, record, &s, rv, sizeof(rv), &e),
	                 KUBE_ESTOPPED);
}

struct worker {
	struct kube_client *c;
	int ok;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 25; i++) {
		cJSON *out = NULL;
		if (kube_client_get(w->c, &cm, &out, NULL) == 0 && out != NULL)
			w->ok++;
		cJSON_Delete(out);
	}
	return NULL;
}

static void test_threads_share_pool(void **state)
{
	struct fixture *f = *state;
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){f->client, 0};
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 25);
	}
	struct kube_client_stats st;
	kube_client_stats(f->client, &st);
	assert_int_equal(st.requests[KUBE_VERB_GET][kube_stats_code_index(200)], 100);
	/* max_handles is 2: at most two connections for 100 requests. */
	assert_true(st.connects <= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_query),
	    cmocka_unit_test(test_stats_names),
	    cmocka_unit_test(test_list_each_item_walk),
	    cmocka_unit_test(test_transport_error),
	    cmocka_unit_test_setup_teardown(test_get_headers_and_reuse, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_verbs_on_the_wire, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_errors, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_401_rereads_token, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_list_all_pages, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_list_each_pages, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_watch_run, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_watch_stop_when_idle, fixture_up, fixture_down),
	    cmocka_unit_test_setup_teardown(test_threads_share_pool, fixture_up, fixture_down),
	};
	return cmocka_run_group_tests_name("kube_client", tests, NULL, NULL);
}
