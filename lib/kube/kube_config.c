/*
 * kube_config.c - kubeconfig and in-cluster configuration. See kube_config.h.
 *
 * The kubeconfig is read whole (bounded) and loaded with libyaml's document
 * API; lookups then walk the node tree by key. Field names and precedence
 * follow client-go (tools/clientcmd/api/v1/types.go, rest/config.go): *-data
 * beats the file form, tokenFile beats token.
 */
#include "kube_config.h"
#include "kube_status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "log.h"

static void set_err(char *errbuf, size_t errbuf_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errbuf_size, const char *fmt, ...)
{
	if (errbuf == NULL || errbuf_size == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errbuf_size, fmt, ap);
	va_end(ap);
}

static void blob_free(struct kube_blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* ---------------------------------------------------------------- files */

/*
 * Reads the regular file path (at most max bytes) into *out, NUL-terminated.
 * st (may be NULL) receives its fstat(). Returns 0, KUBE_ECONFIG with a
 * "path: reason" message, or KUBE_ENOMEM.
 */
static int read_file(const char *path, size_t max, struct kube_blob *out, struct stat *st,
                     char *msg, size_t msg_size)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(msg, msg_size, "%s: %s", path, strerror(errno));
		return KUBE_ECONFIG;
	}
	if (fstat(fd, &sb) != 0) {
		set_err(msg, msg_size, "%s: %s", path, strerror(errno));
		close(fd);
		return KUBE_ECONFIG;
	}
	if (!S_ISREG(sb.st_mode)) {
		set_err(msg, msg_size, "%s: not a regular file", path);
		close(fd);
		return KUBE_ECONFIG;
	}
	if ((unsigned long long)sb.st_size > max) {
		set_err(msg, msg_size, "%s: larger than %zu bytes", path, max);
		close(fd);
		return KUBE_ECONFIG;
	}
	size_t cap = (size_t)sb.st_size + 1, len = 0;
	unsigned char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return KUBE_ENOMEM;
	}
	/* Read to EOF rather than trusting st_size: the file may change. */
	for (;;) {
		if (len == cap - 1) {
			if (cap - 1 >= max + 1) {
				set_err(msg, msg_size, "%s: larger than %zu bytes", path, max);
				free(buf);
				close(fd);
				return KUBE_ECONFIG;
			}
			size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			unsigned char *nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				free(buf);
				close(fd);
				return KUBE_ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(msg, msg_size, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return KUBE_ECONFIG;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		set_err(msg, msg_size, "%s: larger than %zu bytes", path, max);
		free(buf);
		return KUBE_ECONFIG;
	}
	buf[len] = '\0';
	out->data = buf;
	out->len = len;
	if (st != NULL)
		*st = sb;
	return KUBE_OK;
}

/* Joins dir and a relative path (absolute paths pass through). */
static int resolve_path(char *dst, size_t size, const char *dir, const char *path)
{
	int n;
	if (path[0] == '/' || dir[0] == '\0')
		n = snprintf(dst, size, "%s", path);
	else
		n = snprintf(dst, size, "%s/%s", dir, path);
	return (n < 0 || (size_t)n >= size) ? KUBE_EINVAL : KUBE_OK;
}

/* ---------------------------------------------------------------- base64 */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kube_config_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	unsigned char *buf = malloc(len / 4 * 3 + 4);
	if (buf == NULL)
		return KUBE_ENOMEM;
	size_t n = 0, pad = 0;
	unsigned acc = 0, bits = 0, quantum = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 || pad > 0)
			goto bad; /* a bad character, or data after padding */
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		quantum++;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* A last quantum of 1 character cannot encode a byte; padding must
	 * complete the quantum exactly; leftover bits must be zero (Go's
	 * StdEncoding is strict about all three). */
	quantum %= 4;
	if (quantum == 1 || (pad > 0 && (quantum < 2 || quantum + pad != 4)) || acc != 0)
		goto bad;
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return KUBE_OK;
bad:
	free(buf);
	return KUBE_EINVAL;
}

/* ---------------------------------------------------------------- token */

/* A token goes into an HTTP header: anything but visible ASCII could inject
 * or break headers. Trims surrounding whitespace in place. */
static int token_clean(char *tok, size_t *len)
{
	size_t start = 0, end = *len;
	while (start < end && strchr(" \t\r\n", tok[start]) != NULL)
		start++;
	while (end > start && strchr(" \t\r\n", tok[end - 1]) != NULL)
		end--;
	if (end == start)
		return KUBE_EINVAL;
	for (size_t i = start; i < end; i++)
		if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7E)
			return KUBE_EINVAL;
	memmove(tok, tok + start, end - start);
	tok[end - start] = '\0';
	*len = end - start;
	return KUBE_OK;
}

/* Reads cfg->token_file into cfg->token. msg gets "path: why". */
static int token_read(struct kube_config *cfg, time_t now, char *msg, size_t msg_size)
{
	struct kube_blob b = {0};
	struct stat st;
	int rc = read_file(cfg->token_file, KUBE_CONFIG_TOKEN_MAX, &b, &st, msg, msg_size);
	if (rc != KUBE_OK)
		return rc;
	size_t len = b.len;
	if (token_clean((char *)b.data, &len) != KUBE_OK) {
		set_err(msg, msg_size, "%s: empty, or not a token (control or non-ASCII bytes)",
		        cfg->token_file);
		blob_free(&b);
		return KUBE_ECONFIG;
	}
	if (cfg->token != NULL)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	cfg->token = (char *)b.data;
	cfg->token_read_at = now;
	cfg->token_mtime = st.st_mtim;
	cfg->token_size = st.st_size;
	cfg->token_ino = st.st_ino;
	return KUBE_OK;
}

int kube_config_token(struct kube_config *cfg, time_t now, int force, const char **token,
                      char *errbuf, size_t errbuf_size)
{
	*token = cfg->token;
	if (cfg->token_file[0] == '\0')
		return KUBE_OK;

	int reload = force || cfg->token == NULL || now < cfg->token_read_at ||
	             now - cfg->token_read_at >= cfg->token_reload_seconds;
	struct stat st;
	/* A projected token is replaced by an atomic symlink swap, which
	 * stat() (following links) sees as a new inode and mtime. */
	if (!reload && stat(cfg->token_file, &st) == 0 &&
	    (st.st_mtim.tv_sec != cfg->token_mtime.tv_sec ||
	     st.st_mtim.tv_nsec != cfg->token_mtime.tv_nsec || st.st_size != cfg->token_size ||
	     st.st_ino != cfg->token_ino))
		reload = 1;
	if (!reload)
		return KUBE_OK;

	char msg[KUBE_CONFIG_PATH_MAX + 128];
	int rc = token_read(cfg, now, msg, sizeof(msg));
	if (rc == KUBE_OK) {
		*token = cfg->token;
		return KUBE_OK;
	}
	if (cfg->token != NULL) {
		/* Keep the token we have; try again after the next period. */
		cfg->token_read_at = now;
		log_warn("token file re-read failed; keeping the previous token", "source",
		         cfg->source, "error", msg, NULL);
		return KUBE_OK;
	}
	set_err(errbuf, errbuf_size, "%s: token %s", cfg->source, msg);
	return rc;
}

/* ---------------------------------------------------------------- yaml */

/* One kubeconfig being loaded. */
struct kc {
	const char *path;
	char dir[KUBE_CONFIG_PATH_MAX];
	yaml_document_t doc;
	char *errbuf;
	size_t errbuf_size;
	char what[2 * KUBE_CONFIG_NAME_MAX + 32]; /* "user \"u\": " prefix */
};

static int kc_fail(struct kc *k, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int kc_fail(struct kc *k, int rc, const char *fmt, ...)
{
	if (k->errbuf == NULL || k->errbuf_size == 0)
		return rc;
	char detail[KUBE_CONFIG_PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(k->errbuf, k->errbuf_size, "kubeconfig %s: %s%s", k->path, k->what, detail);
	return rc;
}

static yaml_node_t *map_get(struct kc *k, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	size_t klen = strlen(key);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(&k->doc, p->key);
		if (kn != NULL && kn->type == YAML_SCALAR_NODE && kn->data.scalar.length == klen &&
		    memcmp(kn->data.scalar.value, key, klen) == 0)
			return yaml_document_get_node(&k->doc, p->value);
	}
	return NULL;
}

/* A YAML null (~, null, nothing) or an empty string counts as absent, as in
 * client-go, where "" is a field's zero value. */
static int is_null(const yaml_node_t *n)
{
	if (n == NULL)
		return 1;
	if (n->type != YAML_SCALAR_NODE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	if (len == 0)
		return 1;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return (len == 1 && v[0] == '~') ||
	       (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
	                     memcmp(v, "NULL", 4) == 0));
}

/*
 * The string at map[key] into dst. Returns 1 when present, 0 when absent
 * (dst ""), or a negative code (message set) when it is not a string or too
 * long.
 */
static int get_str(struct kc *k, yaml_node_t *map, const char *key, char *dst, size_t size)
{
	yaml_node_t *n = map_get(k, map, key);
	dst[0] = '\0';
	if (is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return kc_fail(k, KUBE_ECONFIG, "%s is not a string (line %lu)", key,
		               (unsigned long)n->start_mark.line + 1);
	if (n->data.scalar.length >= size)
		return kc_fail(k, KUBE_ECONFIG, "%s is longer than %zu bytes", key, size - 1);
	memcpy(dst, n->data.scalar.value, n->data.scalar.length);
	dst[n->data.scalar.length] = '\0';
	if (strlen(dst) != n->data.scalar.length)
		return kc_fail(k, KUBE_ECONFIG, "%s holds a NUL byte", key);
	return 1;
}

/* The raw scalar at map[key] (not copied), or NULL when absent. */
static int get_scalar(struct kc *k, yaml_node_t *map, const char *key, const char **val,
                      size_t *len)
{
	yaml_node_t *n = map_get(k, map, key);
	*val = NULL;
	*len = 0;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return kc_fail(k, KUBE_ECONFIG, "%s is not a string (line %lu)", key,
		               (unsigned long)n->start_mark.line + 1);
	*val = (const char *)n->data.scalar.value;
	*len = n->data.scalar.length;
	return 1;
}

static int get_bool(struct kc *k, yaml_node_t *map, const char *key, int *out)
{
	const char *v;
	size_t len;
	int rc = get_scalar(k, map, key, &v, &len);
	*out = 0;
	if (rc <= 0)
		return rc;
	if ((len == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "True", 4) || !memcmp(v, "TRUE", 4))))
		*out = 1;
	else if (!(len == 5 &&
	           (!memcmp(v, "false", 5) || !memcmp(v, "False", 5) || !memcmp(v, "FALSE", 5))))
		return kc_fail(k, KUBE_ECONFIG, "%s is not true or false", key);
	return 1;
}

/*
 * In the sequence root[list] ("contexts"), the entry whose name is name;
 * returns its inner mapping (entry[inner], e.g. "context") in *out.
 * Returns 1 found, 0 not found, negative on a malformed list.
 */
static int find_named(struct kc *k, yaml_node_t *root, const char *list, const char *inner,
                      const char *name, yaml_node_t **out)
{
	yaml_node_t *seq = map_get(k, root, list);
	*out = NULL;
	if (is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return kc_fail(k, KUBE_ECONFIG, "%s is not a list (line %lu)", list,
		               (unsigned long)seq->start_mark.line + 1);
	size_t nlen = strlen(name);
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *entry = yaml_document_get_node(&k->doc, *it);
		yaml_node_t *nn = map_get(k, entry, "name");
		if (nn == NULL || nn->type != YAML_SCALAR_NODE || nn->data.scalar.length != nlen ||
		    memcmp(nn->data.scalar.value, name, nlen) != 0)
			continue;
		yaml_node_t *body = map_get(k, entry, inner);
		if (body == NULL || body->type != YAML_MAPPING_NODE)
			return kc_fail(k, KUBE_ECONFIG, "%s \"%s\" has no %s mapping", inner, name,
			               inner);
		*out = body;
		return 1;
	}
	return 0;
}

static int has_pem(const struct kube_blob *b)
{
	return b->len > 0 && memmem(b->data, b->len, "-----BEGIN ", 11) != NULL;
}

/*
 * A PEM given as key (a file, relative to the kubeconfig) or key_data
 * (base64, which wins, as in client-go). Returns 1 present, 0 absent,
 * negative on error.
 */
static int get_pem(struct kc *k, yaml_node_t *map, const char *file_key, const char *data_key,
                   struct kube_blob *out)
{
	const char *v;
	size_t len;
	int rc = get_scalar(k, map, data_key, &v, &len);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		rc = kube_config_base64_decode(v, len, &out->data, &out->len);
		if (rc == KUBE_ENOMEM)
			return kc_fail(k, rc, "%s: out of memory", data_key);
		if (rc != KUBE_OK)
			return kc_fail(k, KUBE_ECONFIG, "%s is not valid base64", data_key);
		if (!has_pem(out))
			return kc_fail(k, KUBE_ECONFIG, "%s does not hold PEM data (no -----BEGIN)",
			               data_key);
		return 1;
	}
	char file[KUBE_CONFIG_PATH_MAX], full[KUBE_CONFIG_PATH_MAX];
	rc = get_str(k, map, file_key, file, sizeof(file));
	if (rc <= 0)
		return rc;
	if (resolve_path(full, sizeof(full), k->dir, file) != KUBE_OK)
		return kc_fail(k, KUBE_ECONFIG, "%s: path too long", file_key);
	char msg[KUBE_CONFIG_PATH_MAX + 128];
	rc = read_file(full, KUBE_CONFIG_PEM_MAX, out, NULL, msg, sizeof(msg));
	if (rc != KUBE_OK)
		return kc_fail(k, rc, "%s %s", file_key, msg);
	if (!has_pem(out))
		return kc_fail(k, KUBE_ECONFIG, "%s %s does not hold PEM data (no -----BEGIN)",
		               file_key, full);
	return 1;
}

static int load_cluster(struct kc *k, yaml_node_t *cl, struct kube_config *cfg)
{
	static const char *const unsupported[] = {"tls-server-name", NULL};
	int rc;
	snprintf(k->what, sizeof(k->what), "cluster \"%s\": ", cfg->cluster);
	for (int i = 0; unsupported[i] != NULL; i++)
		if (!is_null(map_get(k, cl, unsupported[i])))
			return kc_fail(k, KUBE_ECONFIG, "%s is not supported", unsupported[i]);

	if ((rc = get_str(k, cl, "server", cfg->server, sizeof(cfg->server))) < 0)
		return rc;
	if (rc == 0)
		return kc_fail(k, KUBE_ECONFIG, "server is missing");
	if (strncmp(cfg->server, "https://", 8) != 0 && strncmp(cfg->server, "http://", 7) != 0)
		return kc_fail(k, KUBE_ECONFIG, "server \"%s\" is not an http(s):// URL",
		               cfg->server);
	/* "https://" alone (or "https:///x") names no host; trimmed below it
	 * would become "https:". */
	size_t scheme = cfg->server[4] == 's' ? 8 : 7;
	if (cfg->server[scheme] == '\0' || cfg->server[scheme] == '/')
		return kc_fail(k, KUBE_ECONFIG, "server \"%s\" has no host", cfg->server);
	size_t slen = strlen(cfg->server);
	while (slen > 0 && cfg->server[slen - 1] == '/')
		cfg->server[--slen] = '\0';

	if ((rc = get_str(k, cl, "proxy-url", cfg->proxy_url, sizeof(cfg->proxy_url))) < 0)
		return rc;
	if ((rc = get_bool(k, cl, "insecure-skip-tls-verify", &cfg->insecure_skip_tls_verify)) < 0)
		return rc;
	if ((rc = get_pem(k, cl, "certificate-authority", "certificate-authority-data", &cfg->ca)) <
	    0)
		return rc;
	/* client-go refuses this pair too: a CA that is not checked is a lie. */
	if (rc > 0 && cfg->insecure_skip_tls_verify)
		return kc_fail(
		    k, KUBE_ECONFIG,
		    "certificate-authority with insecure-skip-tls-verify is not allowed");
	return KUBE_OK;
}

static int load_user(struct kc *k, yaml_node_t *u, struct kube_config *cfg)
{
	static const struct {
		const char *key, *why;
	} unsupported[] = {
	    {"exec", "exec credential plugins are not supported"},
	    {"auth-provider", "auth-provider plugins are not supported"},
	    {"username", "basic auth (username/password) is not supported"},
	    {"password", "basic auth (username/password) is not supported"},
	    {"as", "impersonation (as) is not supported"},
	};
	int rc;
	snprintf(k->what, sizeof(k->what), "user \"%s\": ", cfg->user);
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (!is_null(map_get(k, u, unsupported[i].key)))
			return kc_fail(k, KUBE_ECONFIG,
			               "%s (use token, tokenFile or a client "
			               "certificate)",
			               unsupported[i].why);

	int has_cert =
	    get_pem(k, u, "client-certificate", "client-certificate-data", &cfg->client_cert);
	if (has_cert < 0)
		return has_cert;
	int has_key = get_pem(k, u, "client-key", "client-key-data", &cfg->client_key);
	if (has_key < 0)
		return has_key;
	if (has_cert != has_key)
		return kc_fail(k, KUBE_ECONFIG, "%s without %s",
		               has_cert ? "client certificate" : "client key",
		               has_cert ? "client key" : "client certificate");

	char file[KUBE_CONFIG_PATH_MAX];
	if ((rc = get_str(k, u, "tokenFile", file, sizeof(file))) < 0)
		return rc;
	if (rc > 0) {
		/* tokenFile wins over token and is re-read (rest.Config). */
		if (resolve_path(cfg->token_file, sizeof(cfg->token_file), k->dir, file) != KUBE_OK)
			return kc_fail(k, KUBE_ECONFIG, "tokenFile: path too long");
		char msg[KUBE_CONFIG_PATH_MAX + 128];
		if ((rc = token_read(cfg, time(NULL), msg, sizeof(msg))) != KUBE_OK)
			return kc_fail(k, rc, "tokenFile %s", msg);
		return KUBE_OK;
	}
	const char *v;
	size_t len;
	if ((rc = get_scalar(k, u, "token", &v, &len)) < 0)
		return rc;
	if (rc > 0) {
		if (len > KUBE_CONFIG_TOKEN_MAX)
			return kc_fail(k, KUBE_ECONFIG, "token is longer than %u bytes",
			               KUBE_CONFIG_TOKEN_MAX);
		/* A "\0" escape in a quoted scalar: strndup would stop there and
		 * token_clean read past the copy. */
		if (memchr(v, '\0', len) != NULL)
			return kc_fail(k, KUBE_ECONFIG, "token holds a NUL byte");
		cfg->token = strndup(v, len);
		if (cfg->token == NULL)
			return kc_fail(k, KUBE_ENOMEM, "token: out of memory");
		if (token_clean(cfg->token, &len) != KUBE_OK)
			return kc_fail(k, KUBE_ECONFIG,
			               "token is empty or holds control or non-ASCII bytes");
	}
	return KUBE_OK;
}

static int load_doc(struct kc *k, const struct kube_blob *text)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return kc_fail(k, KUBE_ENOMEM, "cannot start the YAML parser");
	yaml_parser_set_input_string(&parser, text->data, text->len);
	int ok = yaml_parser_load(&parser, &k->doc);
	int rc = KUBE_OK;
	if (!ok)
		rc = kc_fail(k, KUBE_ECONFIG, "line %lu column %lu: %s",
		             (unsigned long)parser.problem_mark.line + 1,
		             (unsigned long)parser.problem_mark.column + 1,
		             parser.problem != NULL ? parser.problem : "invalid YAML");
	yaml_parser_delete(&parser);
	return rc;
}

static int load_kubeconfig(struct kc *k, const char *context, struct kube_config *cfg)
{
	int rc;
	yaml_node_t *root = yaml_document_get_root_node(&k->doc);
	if (root == NULL)
		return kc_fail(k, KUBE_ECONFIG, "empty file");
	if (root->type != YAML_MAPPING_NODE)
		return kc_fail(k, KUBE_ECONFIG, "not a YAML mapping");

	if (context != NULL && context[0] != '\0') {
		if (kube_strlcpy(cfg->context, sizeof(cfg->context), context) != KUBE_OK)
			return kc_fail(k, KUBE_ECONFIG, "context name too long");
	} else {
		if ((rc = get_str(k, root, "current-context", cfg->context, sizeof(cfg->context))) <
		    0)
			return rc;
		if (rc == 0)
			return kc_fail(k, KUBE_ECONFIG, "no current-context and no context given");
	}

	yaml_node_t *ctx, *cl, *u = NULL;
	if ((rc = find_named(k, root, "contexts", "context", cfg->context, &ctx)) < 0)
		return rc;
	if (rc == 0)
		return kc_fail(k, KUBE_ECONFIG, "context \"%s\" not found", cfg->context);
	snprintf(k->what, sizeof(k->what), "context \"%s\": ", cfg->context);
	if ((rc = get_str(k, ctx, "cluster", cfg->cluster, sizeof(cfg->cluster))) < 0)
		return rc;
	if (rc == 0)
		return kc_fail(k, KUBE_ECONFIG, "no cluster");
	if ((rc = get_str(k, ctx, "user", cfg->user, sizeof(cfg->user))) < 0)
		return rc;
	if ((rc = get_str(k, ctx, "namespace", cfg->namespace, sizeof(cfg->namespace))) < 0)
		return rc;
	if (rc == 0)
		kube_strlcpy(cfg->namespace, sizeof(cfg->namespace), "default");

	if ((rc = find_named(k, root, "clusters", "cluster", cfg->cluster, &cl)) < 0)
		return rc;
	if (rc == 0)
		return kc_fail(k, KUBE_ECONFIG, "cluster \"%s\" not found", cfg->cluster);
	if (cfg->user[0] != '\0') {
		if ((rc = find_named(k, root, "users", "user", cfg->user, &u)) < 0)
			return rc;
		if (rc == 0)
			return kc_fail(k, KUBE_ECONFIG, "user \"%s\" not found", cfg->user);
	}
	if ((rc = load_cluster(k, cl, cfg)) < 0)
		return rc;
	if (u != NULL && (rc = load_user(k, u, cfg)) < 0)
		return rc;
	k->what[0] = '\0';
	return KUBE_OK;
}

static void config_init(struct kube_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->token_reload_seconds = KUBE_CONFIG_TOKEN_RELOAD_SECONDS;
}

/* The kubeconfig path when none is given: $KUBECONFIG's first entry, else
 * $HOME/.kube/config. Returns 1 from $KUBECONFIG, 0 from $HOME, or negative. */
static int default_path(char *dst, size_t size, char *errbuf, size_t errbuf_size)
{
	const char *env = getenv("KUBECONFIG");
	if (env != NULL) {
		/* Skip empty entries ("::a"), take the first real one. */
		while (*env == ':')
			env++;
		size_t len = strcspn(env, ":");
		if (len > 0) {
			if (len >= size) {
				set_err(errbuf, errbuf_size, "KUBECONFIG: first path too long");
				return KUBE_ECONFIG;
			}
			memcpy(dst, env, len);
			dst[len] = '\0';
			return 1;
		}
	}
	const char *home = getenv("HOME");
	if (home == NULL || home[0] == '\0') {
		set_err(errbuf, errbuf_size,
		        "no kubeconfig: KUBECONFIG and HOME are unset and not in a cluster");
		return KUBE_ECONFIG;
	}
	int n = snprintf(dst, size, "%s/.kube/config", home);
	if (n < 0 || (size_t)n >= size) {
		set_err(errbuf, errbuf_size, "HOME: path too long");
		return KUBE_ECONFIG;
	}
	return 0;
}

int kube_config_load_kubeconfig(struct kube_config *cfg, const char *path, const char *context,
                                char *errbuf, size_t errbuf_size)
{
	char file[KUBE_CONFIG_PATH_MAX];
	config_init(cfg);
	if (path == NULL || path[0] == '\0') {
		int rc = default_path(file, sizeof(file), errbuf, errbuf_size);
		if (rc < 0)
			return rc;
		path = file;
	}

	struct kc k;
	memset(&k, 0, sizeof(k));
	k.path = path;
	k.errbuf = errbuf;
	k.errbuf_size = errbuf_size;
	const char *slash = strrchr(path, '/');
	if (slash != NULL) {
		size_t dlen = slash == path ? 1 : (size_t)(slash - path);
		if (dlen >= sizeof(k.dir))
			return kc_fail(&k, KUBE_ECONFIG, "path too long");
		memcpy(k.dir, path, dlen);
		k.dir[dlen] = '\0';
	}

	struct kube_blob text = {0};
	char msg[KUBE_CONFIG_PATH_MAX + 128];
	int rc = read_file(path, KUBE_CONFIG_FILE_MAX, &text, NULL, msg, sizeof(msg));
	if (rc != KUBE_OK) {
		set_err(errbuf, errbuf_size, "kubeconfig %s", msg);
		return rc;
	}
	rc = load_doc(&k, &text);
	blob_free(&text);
	if (rc != KUBE_OK)
		return rc;
	rc = load_kubeconfig(&k, context, cfg);
	yaml_document_delete(&k.doc);
	if (rc != KUBE_OK) {
		kube_config_free(cfg);
		return rc;
	}
	snprintf(cfg->source, sizeof(cfg->source), "kubeconfig %s context \"%s\"", path,
	         cfg->context);
	return KUBE_OK;
}

/* ---------------------------------------------------------------- in-cluster */

int kube_config_load_incluster(struct kube_config *cfg, const char *sa_dir, char *errbuf,
                               size_t errbuf_size)
{
	char path[KUBE_CONFIG_PATH_MAX], msg[KUBE_CONFIG_PATH_MAX + 128];
	int rc;
	config_init(cfg);
	if (sa_dir == NULL)
		sa_dir = KUBE_CONFIG_SA_DIR;
	kube_strlcpy(cfg->source, sizeof(cfg->source), "in-cluster");

	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
		set_err(
		    errbuf, errbuf_size,
		    "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
		return KUBE_ECONFIG;
	}
	/* An IPv6 address needs brackets in a URL (client-go uses
	 * net.JoinHostPort). */
	int ipv6 = strchr(host, ':') != NULL && host[0] != '[';
	int n = snprintf(cfg->server, sizeof(cfg->server), "https://%s%s%s:%s", ipv6 ? "[" : "",
	                 host, ipv6 ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof(cfg->server) || strpbrk(host, "/?#@ ") != NULL ||
	    port[strspn(port, "0123456789")] != '\0') {
		set_err(errbuf, errbuf_size,
		        "in-cluster: KUBERNETES_SERVICE_HOST/PORT do not form a URL (%s:%s)", host,
		        port);
		return KUBE_ECONFIG;
	}

	if (snprintf(path, sizeof(path), "%s/token", sa_dir) >= (int)sizeof(path) ||
	    kube_strlcpy(cfg->token_file, sizeof(cfg->token_file), path) != KUBE_OK) {
		set_err(errbuf, errbuf_size, "in-cluster: service-account path too long");
		return KUBE_ECONFIG;
	}
	if ((rc = token_read(cfg, time(NULL), msg, sizeof(msg))) != KUBE_OK) {
		set_err(errbuf, errbuf_size, "in-cluster: token %s", msg);
		kube_config_free(cfg);
		return rc;
	}

	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	if ((rc = read_file(path, KUBE_CONFIG_PEM_MAX, &cfg->ca, NULL, msg, sizeof(msg))) !=
	    KUBE_OK) {
		set_err(errbuf, errbuf_size, "in-cluster: CA %s", msg);
		kube_config_free(cfg);
		return rc;
	}
	if (!has_pem(&cfg->ca)) {
		set_err(errbuf, errbuf_size, "in-cluster: CA %s does not hold PEM data", path);
		kube_config_free(cfg);
		return KUBE_ECONFIG;
	}

	struct kube_blob ns = {0};
	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	kube_strlcpy(cfg->namespace, sizeof(cfg->namespace), "default");
	if (read_file(path, KUBE_CONFIG_NAME_MAX, &ns, NULL, msg, sizeof(msg)) == KUBE_OK) {
		size_t len = ns.len;
		if (token_clean((char *)ns.data, &len) == KUBE_OK)
			kube_strlcpy(cfg->namespace, sizeof(cfg->namespace), (char *)ns.data);
		blob_free(&ns);
	}
	return KUBE_OK;
}

int kube_config_load(struct kube_config *cfg, const char *path, const char *context, char *errbuf,
                     size_t errbuf_size)
{
	if ((path == NULL || path[0] == '\0')) {
		const char *env = getenv("KUBECONFIG");
		const char *host = getenv("KUBERNETES_SERVICE_HOST");
		if ((env == NULL || env[strspn(env, ":")] == '\0') && host != NULL &&
		    host[0] != '\0')
			return kube_config_load_incluster(cfg, NULL, errbuf, errbuf_size);
	}
	return kube_config_load_kubeconfig(cfg, path, context, errbuf, errbuf_size);
}

/* ---------------------------------------------------------------- copy, free */

static int blob_copy(struct kube_blob *dst, const struct kube_blob *src)
{
	dst->data = NULL;
	dst->len = 0;
	if (src->data == NULL)
		return KUBE_OK;
	dst->data = malloc(src->len + 1);
	if (dst->data == NULL)
		return KUBE_ENOMEM;
	memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
	return KUBE_OK;
}

int kube_config_copy(struct kube_config *dst, const struct kube_config *src)
{
	*dst = *src;
	dst->ca = dst->client_cert = dst->client_key = (struct kube_blob){0};
	dst->token = NULL;
	if (blob_copy(&dst->ca, &src->ca) != KUBE_OK ||
	    blob_copy(&dst->client_cert, &src->client_cert) != KUBE_OK ||
	    blob_copy(&dst->client_key, &src->client_key) != KUBE_OK ||
	    (src->token != NULL && (dst->token = strdup(src->token)) == NULL)) {
		kube_config_free(dst);
		return KUBE_ENOMEM;
	}
	return KUBE_OK;
}

void kube_config_free(struct kube_config *cfg)
{
	if (cfg == NULL)
		return;
	blob_free(&cfg->ca);
	blob_free(&cfg->client_cert);
	/* The key is a secret: do not leave it in freed memory. */
	if (cfg->client_key.data != NULL)
		explicit_bzero(cfg->client_key.data, cfg->client_key.len);
	blob_free(&cfg->client_key);
	if (cfg->token != NULL)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	memset(cfg, 0, sizeof(*cfg));
}
