/* Unit tests for lib/kube/kube_config.c: kubeconfig shapes (inline data and
 * files, tokens and certificates), the errors users will see, the resolution
 * order, in-cluster files and token rotation. Files live in a temporary
 * directory per test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube_config.h"
#include "kube_status.h"
#include "log.h"

#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0EgY2VydA==\n-----END CERTIFICATE-----\n"
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nY2xpZW50\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\na2V5\n-----END PRIVATE KEY-----\n"

struct env {
	char dir[64];
	char path[256]; /* dir/config */
	FILE *log;
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/kube_config_test.XXXXXX");
	if (mkdtemp(e->dir) == NULL) {
		free(e);
		return -1;
	}
	snprintf(e->path, sizeof(e->path), "%s/config", e->dir);
	/* Token re-read warnings go here, not into the test output. */
	e->log = tmpfile();
	log_set_output(e->log);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	nftw(e->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	log_set_output(NULL);
	if (e->log != NULL)
		fclose(e->log);
	free(e);
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *b64(const char *s)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s);
	char *out = malloc(n / 3 * 4 + 8);
	assert_non_null(out);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* A kubeconfig with two clusters, three users and four contexts, as kubectl
 * writes them (--embed-certs for "prod"). */
static void write_kubeconfig(const struct env *e)
{
	char *ca = b64(CA_PEM), *cert = b64(CERT_PEM), *key = b64(KEY_PEM);
	char text[8192];
	snprintf(text, sizeof(text),
	         "apiVersion: v1\n"
	         "kind: Config\n"
	         "preferences: {}\n"
	         "current-context: prod\n"
	         "clusters:\n"
	         "- name: prod\n"
	         "  cluster:\n"
	         "    server: https://127.0.0.1:6443/\n"
	         "    certificate-authority-data: %s\n"
	         "- cluster:\n"
	         "    server: \"https://dev.example:443/k8s/clusters/c-1\"\n"
	         "    certificate-authority: certs/ca.crt\n"
	         "    proxy-url: http://proxy:3128\n"
	         "  name: dev\n"
	         "- name: lab\n"
	         "  cluster:\n"
	         "    server: https://lab:6443\n"
	         "    insecure-skip-tls-verify: true\n"
	         "users:\n"
	         "- name: admin\n"
	         "  user:\n"
	         "    token: '  abc.def-ghi  '\n"
	         "- name: cert\n"
	         "  user:\n"
	         "    client-certificate-data: %s\n"
	         "    client-key-data: %s\n"
	         "- name: files\n"
	         "  user:\n"
	         "    client-certificate: certs/client.crt\n"
	         "    client-key: %s/certs/client.key\n"
	         "    tokenFile: token\n"
	         "contexts:\n"
	         "- name: prod\n"
	         "  context: {cluster: prod, user: admin}\n"
	         "- name: prod-cert\n"
	         "  context:\n"
	         "    cluster: prod\n"
	         "    user: cert\n"
	         "    namespace: sluice\n"
	         "- name: dev\n"
	         "  context:\n"
	         "    cluster: dev\n"
	         "    user: files\n"
	         "- name: lab\n"
	         "  context:\n"
	         "    cluster: lab\n"
	         "    user: ~\n",
	         ca, cert, key, e->dir);
	free(ca);
	free(cert);
	free(key);
	write_file(e->dir, "config", text);
	char certs[128];
	snprintf(certs, sizeof(certs), "%s/certs", e->dir);
	mkdir(certs, 0700);
	write_file(certs, "ca.crt", CA_PEM);
	write_file(certs, "client.crt", CERT_PEM);
	write_file(certs, "client.key", KEY_PEM);
	write_file(e->dir, "token", "file-token-1\n");
}

static void assert_blob(const struct kube_blob *b, const char *text)
{
	assert_int_equal(b->len, strlen(text));
	assert_memory_equal(b->data, text, b->len);
}

static void test_token_inline_ca(void **state)
{
	struct env *e = *state;
	write_kubeconfig(e);
	struct kube_config c;
	char err[512] = "";
	assert_int_equal(kube_config_load_kubeconfig(&c, e->path, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.context, "prod");
	assert_string_equal(c.cluster, "prod");
	assert_string_equal(c.user, "admin");
	/* The trailing slash goes: paths are appended to it. */
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_string_equal(c.namespace, "default");
	assert_blob(&c.ca, CA_PEM);
	assert_int_equal(c.client_cert.len, 0);
	assert_int_equal(c.insecure_skip_tls_verify, 0);
	const char *tok;
	assert_int_equal(kube_config_token(&c, time(NULL), 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "abc.def-ghi");
	assert_non_null(strstr(c.source, "context \"prod\""));
	kube_config_free(&c);
	kube_config_free(&c); /* twice is fine: it was zeroed */
	kube_config_free(NULL);
}

static void test_cert_inline_named_context(void **state)
{
	struct env *e = *state;
	write_kubeconfig(e);
	struct kube_config c;
	char err[512] = "";
	assert_int_equal(kube_config_load_kubeconfig(&c, e->path, "prod-cert", err, sizeof(err)),
	                 0);
	assert_string_equal(c.user, "cert");
	assert_string_equal(c.namespace, "sluice");
	assert_blob(&c.client_cert, CERT_PEM);
	assert_blob(&c.client_key, KEY_PEM);
	assert_null(c.token);
	const char *tok = "x";
	assert_int_equal(kube_config_token(&c, time(NULL), 0, &tok, err, sizeof(err)), 0);
	assert_null(tok);

	struct kube_config copy;
	assert_int_equal(kube_config_copy(&copy, &c), 0);
	kube_config_free(&c);
	assert_blob(&copy.client_key, KEY_PEM);
	assert_string_equal(copy.namespace, "sluice");
	kube_config_free(&copy);
}

static void test_files_relative_and_token_file(void **state)
{
	struct env *e = *state;
	write_kubeconfig(e);
	struct kube_config c;
	char err[512] = "";
	assert_int_equal(kube_config_load_kubeconfig(&c, e->path, "dev", err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://dev.example:443/k8s/clusters/c-1");
	assert_string_equal(c.proxy_url, "http://proxy:3128");
	assert_blob(&c.ca, CA_PEM);            /* relative to the kubeconfig */
	assert_blob(&c.client_cert, CERT_PEM); /* relative */
	assert_blob(&c.client_key, KEY_PEM);   /* absolute */
	char want[512];
	snprintf(want, sizeof(want), "%s/token", e->dir);
	assert_string_equal(c.token_file, want);
	const char *tok;
	assert_int_equal(kube_config_token(&c, time(NULL), 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "file-token-1");
	kube_config_free(&c);
}

static void test_insecure_no_user(void **state)
{
	struct env *e = *state;
	write_kubeconfig(e);
	struct kube_config c;
	char err[512] = "";
	assert_int_equal(kube_config_load_kubeconfig(&c, e->path, "lab", err, sizeof(err)), 0);
	assert_int_equal(c.insecure_skip_tls_verify, 1);
	assert_int_equal(c.ca.len, 0);
	assert_string_equal(c.user, "");
	assert_null(c.token);
	kube_config_free(&c);
}

/* Loads text as a kubeconfig and checks the error message. */
static void expect_error(const struct env *e, const char *text, const char *context,
                         const char *want)
{
	write_file(e->dir, "config", text);
	struct kube_config c;
	char err[1024] = "";
	char full[1024];
	int rc = kube_config_load_kubeconfig(&c, e->path, context, err, sizeof(err));
	if (rc != KUBE_ECONFIG)
		fail_msg("expected KUBE_ECONFIG (%d) for \"%s\", got %d (%s)", KUBE_ECONFIG, want,
		         rc, err);
	snprintf(full, sizeof(full), "kubeconfig %s: %s", e->path, want);
	assert_string_equal(err, full);
	kube_config_free(&c);
}

#define CL "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
#define U "users: [{name: u, user: {}}]\n"
#define CTX "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"

static void test_errors(void **state)
{
	struct env *e = *state;
	expect_error(e, CL CTX "users: []\n", "foo", "context \"foo\" not found");
	expect_error(e,
	             CL CTX "users:\n- name: u\n  user:\n    client-certificate-data: '%%%'\n"
	                    "    client-key-data: "
	                    "a2V5\n",
	             NULL, "user \"u\": client-certificate-data is not valid base64");
	expect_error(e,
	             CL CTX "users:\n- name: u\n  user:\n    client-certificate-data: aGVsbG8=\n"
	                    "    client-key-data: a2V5\n",
	             NULL,
	             "user \"u\": client-certificate-data does not hold PEM data (no -----BEGIN)");
	expect_error(e, CL CTX "users: []\n", NULL, "context \"x\": user \"u\" not found");
	expect_error(e, "clusters: []\n" CTX, NULL, "context \"x\": cluster \"c\" not found");
	expect_error(e, CL "contexts:\n- name: x\n  context: {user: u}\ncurrent-context: x\n", NULL,
	             "context \"x\": no cluster");
	expect_error(e, CL "contexts: []\n", NULL, "no current-context and no context given");
	expect_error(e, CL "contexts: []\ncurrent-context: \"\"\n", NULL,
	             "no current-context and no context given");
	expect_error(e, "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n" CTX U,
	             NULL, "cluster \"c\": server is missing");
	expect_error(e, "clusters:\n- name: c\n  cluster: {server: 'h:6443'}\n" CTX U, NULL,
	             "cluster \"c\": server \"h:6443\" is not an http(s):// URL");
	expect_error(e,
	             "clusters:\n- name: c\n  cluster: {server: 'https://h', "
	             "insecure-skip-tls-verify: yes please}\n" CTX U,
	             NULL, "cluster \"c\": insecure-skip-tls-verify is not true or false");
	expect_error(e,
	             "clusters:\n- name: c\n  cluster: {server: 'https://h', "
	             "insecure-skip-tls-verify: true, certificate-authority-data: "
	             "LS0tLS1CRUdJTiBYLS0tLS0K}\n" CTX U,
	             NULL,
	             "cluster \"c\": certificate-authority with insecure-skip-tls-verify is not "
	             "allowed");
	expect_error(e,
	             "clusters:\n- name: c\n  cluster: {server: 'https://h', "
	             "certificate-authority: /nonexistent/ca.crt}\n" CTX U,
	             NULL,
	             "cluster \"c\": certificate-authority /nonexistent/ca.crt: No such file or "
	             "directory");
	expect_error(e,
	             "clusters:\n- name: c\n  cluster: {server: 'https://h', tls-server-name: "
	             "k}\n" CTX U,
	             NULL, "cluster \"c\": tls-server-name is not supported");
	expect_error(e, CL CTX "users:\n- name: u\n  user:\n    exec:\n      command: aws\n", NULL,
	             "user \"u\": exec credential plugins are not supported (use token, tokenFile "
	             "or a client certificate)");
	expect_error(e, CL CTX "users:\n- name: u\n  user: {username: a, password: b}\n", NULL,
	             "user \"u\": basic auth (username/password) is not supported (use token, "
	             "tokenFile or a client certificate)");
	expect_error(e,
	             CL CTX "users:\n- name: u\n  user: {client-certificate-data: "
	                    "LS0tLS1CRUdJTiBYLS0tLS0K}\n",
	             NULL, "user \"u\": client certificate without client key");
	expect_error(e, CL CTX "users:\n- name: u\n  user: {client-key: /nonexistent.key}\n", NULL,
	             "user \"u\": client-key /nonexistent.key: No such file or directory");
	expect_error(e, CL CTX "users:\n- name: u\n  user: {tokenFile: /nonexistent-token}\n", NULL,
	             "user \"u\": tokenFile /nonexistent-token: No such file or directory");
	expect_error(e, CL CTX "users:\n- name: u\n  user: {token: \"a\\nInjected: x\"}\n", NULL,
	             "user \"u\": token is empty or holds control or non-ASCII bytes");
	expect_error(e, CL CTX "users:\n- name: u\n  user: {token: [1]}\n", NULL,
	             "user \"u\": token is not a string (line 11)");
	expect_error(e, CL "contexts: {x: 1}\ncurrent-context: x\n", NULL,
	             "contexts is not a list (line 5)");
	expect_error(e, CL "contexts:\n- name: x\n  context: 7\ncurrent-context: x\n", NULL,
	             "context \"x\" has no context mapping");
	expect_error(e, "clusters: [\n", NULL,
	             "line 2 column 1: did not find expected node content");
	expect_error(e, "- a\n- b\n", NULL, "not a YAML mapping");
	expect_error(e, "", NULL, "empty file");
	expect_error(e, "# only a comment\n", NULL, "empty file");
}

static void test_file_errors(void **state)
{
	struct env *e = *state;
	struct kube_config c;
	char err[1024];
	assert_int_equal(
	    kube_config_load_kubeconfig(&c, "/nonexistent/config", NULL, err, sizeof(err)),
	    KUBE_ECONFIG);
	assert_string_equal(err, "kubeconfig /nonexistent/config: No such file or directory");
	assert_int_equal(kube_config_load_kubeconfig(&c, e->dir, NULL, err, sizeof(err)),
	                 KUBE_ECONFIG);
	assert_non_null(strstr(err, "not a regular file"));
	kube_config_free(&c);
}

static void test_kubeconfig_env_and_home(void **state)
{
	struct env *e = *state;
	write_kubeconfig(e);
	struct kube_config c;
	char err[1024] = "", list[600];

	/* The first non-empty entry of a colon list; later ones are not read. */
	snprintf(list, sizeof(list), "::%s:/nonexistent/second", e->path);
	setenv("KUBECONFIG", list, 1);
	assert_int_equal(kube_config_load_kubeconfig(&c, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.context, "prod");
	kube_config_free(&c);
	/* An explicit path wins over $KUBECONFIG. */
	setenv("KUBECONFIG", "/nonexistent/first", 1);
	assert_int_equal(kube_config_load_kubeconfig(&c, e->path, "lab", err, sizeof(err)), 0);
	kube_config_free(&c);
	assert_int_equal(kube_config_load_kubeconfig(&c, "", NULL, err, sizeof(err)), KUBE_ECONFIG);
	assert_string_equal(err, "kubeconfig /nonexistent/first: No such file or directory");

	/* No $KUBECONFIG: $HOME/.kube/config. */
	unsetenv("KUBECONFIG");
	char *old_home = getenv("HOME") != NULL ? strdup(getenv("HOME")) : NULL;
	char kdir[256];
	snprintf(kdir, sizeof(kdir), "%s/.kube", e->dir);
	assert_int_equal(mkdir(kdir, 0700), 0);
	char cfgpath[300];
	snprintf(cfgpath, sizeof(cfgpath), "%s/config", kdir);
	assert_int_equal(rename(e->path, cfgpath), 0);
	/* Relative certs/ now resolve against .kube/: move them too. */
	char from[300], to[300];
	snprintf(from, sizeof(from), "%s/certs", e->dir);
	snprintf(to, sizeof(to), "%s/certs", kdir);
	assert_int_equal(rename(from, to), 0);
	setenv("HOME", e->dir, 1);
	assert_int_equal(kube_config_load_kubeconfig(&c, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.context, "prod");
	kube_config_free(&c);
	assert_int_equal(kube_config_load(&c, NULL, "prod-cert", err, sizeof(err)), 0);
	assert_string_equal(c.namespace, "sluice");
	kube_config_free(&c);
	unsetenv("HOME");
	assert_int_equal(kube_config_load_kubeconfig(&c, NULL, NULL, err, sizeof(err)),
	                 KUBE_ECONFIG);
	assert_string_equal(err,
	                    "no kubeconfig: KUBECONFIG and HOME are unset and not in a cluster");
	if (old_home != NULL) {
		setenv("HOME", old_home, 1);
		free(old_home);
	}
}

/* A service-account directory like the kubelet mounts. */
static void write_sa(const struct env *e, const char *token, const char *ns)
{
	write_file(e->dir, "token", token);
	write_file(e->dir, "ca.crt", CA_PEM);
	if (ns != NULL)
		write_file(e->dir, "namespace", ns);
}

static void test_incluster(void **state)
{
	struct env *e = *state;
	struct kube_config c;
	char err[1024] = "";
	write_sa(e, "sa-token-1\n", "sluice-system\n");

	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), KUBE_ECONFIG);
	assert_string_equal(
	    err, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://10.0.0.1:443");
	assert_string_equal(c.namespace, "sluice-system");
	assert_string_equal(c.source, "in-cluster");
	assert_blob(&c.ca, CA_PEM);
	const char *tok;
	assert_int_equal(kube_config_token(&c, time(NULL), 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "sa-token-1");
	kube_config_free(&c);

	/* IPv6 gets brackets. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	kube_config_free(&c);

	/* Junk in the environment. */
	setenv("KUBERNETES_SERVICE_PORT", "443/x", 1);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), KUBE_ECONFIG);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	/* No namespace file: "default". */
	char p[300];
	snprintf(p, sizeof(p), "%s/namespace", e->dir);
	unlink(p);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), 0);
	assert_string_equal(c.namespace, "default");
	kube_config_free(&c);

	/* No CA: refused (a silent fallback to system CAs would fail later
	 * with a worse message). */
	snprintf(p, sizeof(p), "%s/ca.crt", e->dir);
	unlink(p);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), KUBE_ECONFIG);
	char want[600];
	snprintf(want, sizeof(want), "in-cluster: CA %s/ca.crt: No such file or directory", e->dir);
	assert_string_equal(err, want);

	/* No token: refused. */
	write_sa(e, "", NULL);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), KUBE_ECONFIG);
	assert_non_null(strstr(err, "empty, or not a token"));
	snprintf(p, sizeof(p), "%s/token", e->dir);
	unlink(p);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), KUBE_ECONFIG);
	assert_non_null(strstr(err, "in-cluster: token "));
	kube_config_free(&c);
}

static void test_load_order(void **state)
{
	struct env *e = *state;
	struct kube_config c;
	char err[1024] = "";
	write_kubeconfig(e);
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);

	/* In a pod without KUBECONFIG: in-cluster. kube_config_load() reads
	 * the real service-account directory, which this machine lacks, so
	 * the error proves which way it went. */
	assert_int_equal(kube_config_load(&c, NULL, NULL, err, sizeof(err)), KUBE_ECONFIG);
	assert_non_null(strstr(err, "in-cluster: token " KUBE_CONFIG_SA_DIR "/token"));
	/* $KUBECONFIG beats in-cluster. */
	setenv("KUBECONFIG", e->path, 1);
	assert_int_equal(kube_config_load(&c, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(c.context, "prod");
	kube_config_free(&c);
	/* An explicit path beats both. */
	setenv("KUBECONFIG", "/nonexistent", 1);
	assert_int_equal(kube_config_load(&c, e->path, "lab", err, sizeof(err)), 0);
	assert_string_equal(c.context, "lab");
	kube_config_free(&c);
	/* An empty KUBECONFIG counts as unset. */
	setenv("KUBECONFIG", ":", 1);
	assert_int_equal(kube_config_load(&c, NULL, NULL, err, sizeof(err)), KUBE_ECONFIG);
	assert_non_null(strstr(err, "in-cluster"));
}

static void replace_file(const struct env *e, const char *name, const char *text)
{
	/* Like the kubelet's atomic writer: a new file renamed over the old,
	 * so the inode changes. */
	char tmp[300], p[300];
	write_file(e->dir, "tmp.new", text);
	snprintf(tmp, sizeof(tmp), "%s/tmp.new", e->dir);
	snprintf(p, sizeof(p), "%s/%s", e->dir, name);
	assert_int_equal(rename(tmp, p), 0);
}

static void test_token_rotation(void **state)
{
	struct env *e = *state;
	struct kube_config c;
	char err[1024] = "";
	const char *tok;
	write_sa(e, "token-1\n", NULL);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	assert_int_equal(kube_config_load_incluster(&c, e->dir, err, sizeof(err)), 0);
	time_t t0 = c.token_read_at;
	assert_int_equal(kube_config_token(&c, t0, 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "token-1");

	/* Rotated on disk: seen at once (new inode), not after the period. */
	replace_file(e, "token", "token-2\n");
	assert_int_equal(kube_config_token(&c, t0 + 1, 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "token-2");
	assert_int_equal(c.token_read_at, t0 + 1);

	/* Rewritten in place with the same size and (faked) the same mtime:
	 * only the period finds it. */
	char p[300];
	snprintf(p, sizeof(p), "%s/token", e->dir);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	write_file(e->dir, "token", "token-3\n");
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
	assert_int_equal(kube_config_token(&c, t0 + 2, 0, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "token-2");
	assert_int_equal(kube_config_token(&c, t0 + 1 + KUBE_CONFIG_TOKEN_RELOAD_SECONDS, 0, &tok,
	                                   err, sizeof(err)),
	                 0);
	assert_string_equal(tok, "token-3");

	/* force (after a 401) re-reads now. */
	write_file(e->dir, "token", "token-4\n");
	assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);
	assert_int_equal(kube_config_token(&c, c.token_read_at, 1, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "token-4");

	/* The file vanishes mid-rotation: keep the token we have (and log). */
	unlink(p);
	assert_int_equal(kube_config_token(&c, c.token_read_at, 1, &tok, err, sizeof(err)), 0);
	assert_string_equal(tok, "token-4");
	fflush(e->log);
	assert_true(ftell(e->log) > 0);

	/* A clock that went back re-reads rather than trusting the cache. */
	write_file(e->dir, "token", "token-5\n");
	assert_int_equal(kube_config_token(&c, c.token_read_at - 100, 0, &tok, err, sizeof(err)),
	                 0);
	assert_string_equal(tok, "token-5");
	kube_config_free(&c);
}

static void test_base64(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"", ""},    {"YQ==", "a"}, {"YWI=", "ab"},     {"YWJj", "abc"},
	    {"YQ", "a"}, {"YWI", "ab"}, {"YW Jj\n", "abc"}, {"aGVs\r\nbG8=", "hello"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		unsigned char *out;
		size_t len;
		assert_int_equal(
		    kube_config_base64_decode(good[i].in, strlen(good[i].in), &out, &len), 0);
		assert_int_equal(len, strlen(good[i].out));
		assert_memory_equal(out, good[i].out, len);
		assert_int_equal(out[len], '\0');
		free(out);
	}
	static const char *const bad[] = {
	    "Y", "YQ=", "YQ===", "Y===", "YQ==YQ==", "YR==", "YWJ*", "YW-j", "====", "YWJjZ"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *out = (unsigned char *)"x";
		size_t len = 9;
		assert_int_equal(kube_config_base64_decode(bad[i], strlen(bad[i]), &out, &len),
		                 KUBE_EINVAL);
		assert_null(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_token_inline_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cert_inline_named_context, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files_relative_and_token_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_insecure_no_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kubeconfig_env_and_home, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incluster, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_rotation, setup, teardown),
	    cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests_name("kube_config", tests, NULL, NULL);
}
