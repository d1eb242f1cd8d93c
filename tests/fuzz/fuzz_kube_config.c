/*
 * fuzz_kube_config.c - libFuzzer target for where the API server is and
 * how to reach it (lib/kube/kube_config.c): a kubeconfig file (libyaml,
 * contexts, clusters, users, base64 PEM data, tokens, files relative to
 * the kubeconfig), the in-cluster configuration (the service environment
 * variables and the service-account directory), and the strict base64
 * decoder under both.
 *
 * Byte 0 picks: bit 0 in-cluster (else a kubeconfig), bit 1 a --context
 * ("other") instead of current-context, bit 2 the base64 decoder alone.
 * A kubeconfig is the rest of the input, written to config in a private
 * folder that also holds ca.crt, client.crt, client.key and token, so
 * relative paths and tokenFile resolve. In-cluster, the rest is
 * NUL-separated: KUBERNETES_SERVICE_HOST, _PORT, then the token, ca.crt and
 * namespace files (a missing field: no such file).
 *
 * Checks beyond the sanitizers: a failure names its source; a success has
 * an http(s) server without a trailing '/', a namespace, a client
 * certificate only with its key, PEM where PEM is promised, a token that is
 * one visible-ASCII header value; a copy equals the original; decoded
 * base64 encodes and decodes back to the same bytes. The folder (in
 * /dev/shm where there is one) is removed at exit, not after a crash. Run: make fuzz
 * (FUZZ_TIME=seconds).
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fuzz_input.h"
#include "kube_config.h"
#include "kube_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEM(what) "-----BEGIN " what "-----\nMIIBfuzz\n-----END " what "-----\n"

static char dir[PATH_MAX];

static void path_of(char *buf, const char *name)
{
	FUZZ_CHECK((size_t)snprintf(buf, PATH_MAX, "%s/%s", dir, name) < PATH_MAX);
}

static void write_file(const char *name, const char *text, size_t len)
{
	char p[PATH_MAX];
	FILE *f;

	path_of(p, name);
	f = fopen(p, "wb");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(len == 0 || fwrite(text, 1, len, f) == len);
	FUZZ_CHECK(fclose(f) == 0);
}

static void remove_dir(void)
{
	static const char *const names[] = {"config", "ca.crt",   "client.crt", "client.key",
	                                    "token",  "sa/token", "sa/ca.crt",  "sa/namespace",
	                                    "sa",     NULL};
	char p[PATH_MAX];

	for (size_t i = 0; names[i] != NULL; i++) {
		path_of(p, names[i]);
		(void)remove(p);
	}
	(void)rmdir(dir);
}

/* The folder's parent: /dev/shm where there is one (a tmpfs: every input
 * writes a file, and a disk's journal makes that the slowest step), else
 * $TMPDIR or /tmp. */
static const char *parent_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
}

static void setup(void)
{
	char p[PATH_MAX];

	if (dir[0] != '\0')
		return;
	snprintf(dir, sizeof(dir), "%s/sluice-fuzz-kube-XXXXXX", parent_dir());
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	atexit(remove_dir);
	write_file("ca.crt", PEM("CERTIFICATE"), strlen(PEM("CERTIFICATE")));
	write_file("client.crt", PEM("CERTIFICATE"), strlen(PEM("CERTIFICATE")));
	write_file("client.key", PEM("EC PRIVATE KEY"), strlen(PEM("EC PRIVATE KEY")));
	write_file("token", "eyJhbGciOi.fuzz.token\n", 22);
	path_of(p, "sa");
	FUZZ_CHECK(mkdir(p, 0700) == 0);
}

static int has_pem(const struct kube_blob *b)
{
	return b->len > 0 && memmem(b->data, b->len, "-----BEGIN ", 11) != NULL;
}

static void check_config(struct kube_config *cfg)
{
	struct kube_config copy;
	const char *tok = NULL;
	char errbuf[512];
	size_t n = strlen(cfg->server);

	FUZZ_CHECK(strncmp(cfg->server, "https://", 8) == 0 ||
	           strncmp(cfg->server, "http://", 7) == 0);
	FUZZ_CHECK(n > 0 && cfg->server[n - 1] != '/');
	FUZZ_CHECK(cfg->namespace[0] != '\0' && cfg->source[0] != '\0');
	FUZZ_CHECK((cfg->client_cert.len > 0) == (cfg->client_key.len > 0));
	FUZZ_CHECK(cfg->ca.len == 0 || has_pem(&cfg->ca));
	FUZZ_CHECK(cfg->client_cert.len == 0 || has_pem(&cfg->client_cert));
	FUZZ_CHECK(!(cfg->insecure_skip_tls_verify && cfg->ca.len > 0));
	FUZZ_CHECK(kube_config_token(cfg, time(NULL), 0, &tok, errbuf, sizeof(errbuf)) == 0);
	if (tok != NULL) {
		FUZZ_CHECK(tok[0] != '\0');
		for (const char *c = tok; *c != '\0'; c++)
			FUZZ_CHECK(*c >= 0x21 && *c <= 0x7e);
	}
	FUZZ_CHECK(kube_config_copy(&copy, cfg) == 0);
	FUZZ_CHECK(strcmp(copy.server, cfg->server) == 0 && copy.ca.len == cfg->ca.len);
	FUZZ_CHECK(copy.ca.len == 0 || memcmp(copy.ca.data, cfg->ca.data, copy.ca.len) == 0);
	FUZZ_CHECK((copy.token == NULL) == (cfg->token == NULL));
	FUZZ_CHECK(copy.token == NULL || strcmp(copy.token, cfg->token) == 0);
	kube_config_free(&copy);
}

static void kubeconfig(const uint8_t *data, size_t size, int context)
{
	struct kube_config cfg;
	char p[PATH_MAX], errbuf[1024];
	int rc;

	write_file("config", (const char *)data, size);
	path_of(p, "config");
	errbuf[0] = '\0';
	rc = kube_config_load_kubeconfig(&cfg, p, context ? "other" : NULL, errbuf, sizeof(errbuf));
	fuzz_note(rc == 0 ? "loaded" : "refused", errbuf);
	if (rc != 0) {
		FUZZ_CHECK(rc == KUBE_ECONFIG || rc == KUBE_ENOMEM);
		FUZZ_CHECK(strncmp(errbuf, "kubeconfig ", 11) == 0);
		kube_config_free(&cfg);
		return;
	}
	check_config(&cfg);
	kube_config_free(&cfg);
	kube_config_free(&cfg);
}

static void incluster(const uint8_t *data, size_t size)
{
	enum { HOST, PORT, TOKEN, CA, NS, N };
	static const char *const files[] = {
	    [TOKEN] = "sa/token", [CA] = "sa/ca.crt", [NS] = "sa/namespace"};
	struct kube_config cfg;
	char *f[N], p[PATH_MAX], errbuf[1024];
	size_t found;
	char *buf = fuzz_fields(data, size, '\0', f, N, &found);
	int rc;

	(void)found;
	FUZZ_CHECK(setenv("KUBERNETES_SERVICE_HOST", f[HOST], 1) == 0);
	if (f[PORT] != NULL)
		FUZZ_CHECK(setenv("KUBERNETES_SERVICE_PORT", f[PORT], 1) == 0);
	else
		unsetenv("KUBERNETES_SERVICE_PORT");
	for (int i = TOKEN; i < N; i++) {
		if (f[i] != NULL) {
			write_file(files[i], f[i], strlen(f[i]));
		} else {
			path_of(p, files[i]);
			(void)remove(p);
		}
	}
	path_of(p, "sa");
	errbuf[0] = '\0';
	rc = kube_config_load_incluster(&cfg, p, errbuf, sizeof(errbuf));
	fuzz_note(rc == 0 ? "loaded" : "refused", errbuf);
	if (rc != 0) {
		FUZZ_CHECK(rc == KUBE_ECONFIG || rc == KUBE_ENOMEM);
		FUZZ_CHECK(strncmp(errbuf, "in-cluster", 10) == 0);
	} else {
		FUZZ_CHECK(strncmp(cfg.server, "https://", 8) == 0 && cfg.token != NULL);
		check_config(&cfg);
	}
	kube_config_free(&cfg);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(buf);
}

static void base64(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL, *again = NULL, *enc;
	size_t len = 0, len2 = 0;
	int rc = kube_config_base64_decode((const char *)data, size, &out, &len);

	if (rc != 0) {
		FUZZ_CHECK(rc == KUBE_EINVAL && out == NULL);
		return;
	}
	FUZZ_CHECK(out != NULL && out[len] == '\0' && len <= size / 4 * 3 + 2);
	enc = malloc(4 * ((len + 2) / 3) + 1);
	FUZZ_CHECK(enc != NULL);
	FUZZ_CHECK((size_t)EVP_EncodeBlock(enc, out, (int)len) == 4 * ((len + 2) / 3));
	FUZZ_CHECK(
	    kube_config_base64_decode((const char *)enc, 4 * ((len + 2) / 3), &again, &len2) == 0);
	FUZZ_CHECK(len2 == len && memcmp(again, out, len) == 0);
	free(again);
	free(enc);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	if (data[0] & 4)
		base64(data + 1, size - 1);
	else if (data[0] & 1)
		incluster(data + 1, size - 1);
	else
		kubeconfig(data + 1, size - 1, data[0] & 2);
	return 0;
}
