/*
 * kube_config.h - where the API server is and how to authenticate to it:
 * a kubeconfig file (libyaml) or the in-cluster service account.
 *
 * Everything is read into memory at load time, so a bad file fails at start-up
 * with a message naming the file, context, cluster or user and the field; the
 * CA and client certificate then reach libcurl as in-memory blobs (no temp
 * files). The one thing read again later is a bearer token that lives in a
 * file (in-cluster, or a kubeconfig user's tokenFile): bound service-account
 * tokens rotate, so kube_config_token() re-reads it when the file changes and
 * at least every token_reload_seconds, as client-go does every minute.
 *
 * Resolution order of kube_config_load() (the one controller-runtime uses):
 *   1. an explicit path (--kubeconfig),
 *   2. $KUBECONFIG: the FIRST non-empty entry of its colon-separated list
 *      (files are not merged as kubectl does),
 *   3. in-cluster, when $KUBERNETES_SERVICE_HOST is set,
 *   4. $HOME/.kube/config.
 *
 * Supported kubeconfig fields: current-context; contexts[].context.{cluster,
 * user, namespace}; clusters[].cluster.{server, certificate-authority,
 * certificate-authority-data, insecure-skip-tls-verify, proxy-url};
 * users[].user.{token, tokenFile, client-certificate, client-certificate-data,
 * client-key, client-key-data}. Relative file paths are relative to the
 * kubeconfig's directory. exec and auth-provider plugins, basic auth and
 * tls-server-name are refused with a message saying so, rather than ignored.
 *
 * Threads: a struct kube_config is not locked; its owner (a kube_client) calls
 * kube_config_token() under its own lock.
 */
#ifndef SLUICE_KUBE_CONFIG_H
#define SLUICE_KUBE_CONFIG_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define KUBE_CONFIG_PATH_MAX 4096
#define KUBE_CONFIG_SERVER_MAX 1024
#define KUBE_CONFIG_NAME_MAX 254
/* Bounds on what is read into memory: a kubeconfig, one PEM file, a token. */
#define KUBE_CONFIG_FILE_MAX (4u << 20)
#define KUBE_CONFIG_PEM_MAX (1u << 20)
#define KUBE_CONFIG_TOKEN_MAX (64u << 10)
/* client-go re-reads a token file every minute (transport/token_source.go). */
#define KUBE_CONFIG_TOKEN_RELOAD_SECONDS 60

/* The in-cluster service-account directory. */
#define KUBE_CONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* A blob of bytes read from a file or decoded from base64; owned. */
struct kube_blob {
	unsigned char *data;
	size_t len;
};

struct kube_config {
	/* Where it came from, for messages: "kubeconfig /x context \"c\"" or
	 * "in-cluster". */
	char source[KUBE_CONFIG_PATH_MAX + 2 * KUBE_CONFIG_NAME_MAX + 32];
	char context[KUBE_CONFIG_NAME_MAX];
	char cluster[KUBE_CONFIG_NAME_MAX];
	char user[KUBE_CONFIG_NAME_MAX];

	/* "https://host:port" plus any path prefix, no trailing slash. */
	char server[KUBE_CONFIG_SERVER_MAX];
	char proxy_url[KUBE_CONFIG_SERVER_MAX]; /* "" for none */
	/* The context's namespace, the service account's, or "default". */
	char namespace[KUBE_CONFIG_NAME_MAX];

	int insecure_skip_tls_verify;
	struct kube_blob ca;          /* PEM; empty: the system's CAs */
	struct kube_blob client_cert; /* PEM; empty with client_key empty */
	struct kube_blob client_key;  /* PEM */

	/* Bearer token: inline (token_file "") or read from token_file. */
	char *token; /* NUL-terminated, owned; NULL for none */
	char token_file[KUBE_CONFIG_PATH_MAX];
	int token_reload_seconds;
	time_t token_read_at;        /* when token_file was last read */
	struct timespec token_mtime; /* its st_mtim, st_size and st_ino then */
	off_t token_size;
	ino_t token_ino;
};

/* The --kubeconfig option (lib/config.h's struct config_option) of every
 * binary that talks to the API server, under the option name name_:
 * a kubeconfig file outside the cluster, the in-cluster configuration when
 * unset. */
#define KUBE_CONFIG_OPTION(name_)                                                                  \
	{                                                                                          \
		.name = name_, .flag = "--kubeconfig", .env = "KUBECONFIG", .type = CONFIG_STRING, \
		.help = "kubeconfig file for running outside the cluster; unset: in-cluster "      \
		        "config.",                                                                 \
	}

/*
 * Loads a kubeconfig into cfg (which the caller provides, uninitialised).
 * path NULL or "": $KUBECONFIG's first entry, else $HOME/.kube/config.
 * context NULL or "": the file's current-context.
 * Returns 0, or KUBE_ECONFIG / KUBE_ENOMEM with errbuf saying what and where:
 *   kubeconfig /x: context "foo" not found
 *   kubeconfig /x: user "u": client-certificate-data is not valid base64
 * On error cfg holds nothing to free (kube_config_free() is still safe).
 */
int kube_config_load_kubeconfig(struct kube_config *cfg, const char *path, const char *context,
                                char *errbuf, size_t errbuf_size);

/*
 * Loads the in-cluster configuration: the server from
 * $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT (an IPv6 host gets
 * brackets), and token, ca.crt and namespace from sa_dir (NULL:
 * KUBE_CONFIG_SA_DIR; tests pass a temporary directory). The token file must
 * exist; the namespace file may be missing ("default").
 * Returns 0, or KUBE_ECONFIG / KUBE_ENOMEM with errbuf set.
 */
int kube_config_load_incluster(struct kube_config *cfg, const char *sa_dir, char *errbuf,
                               size_t errbuf_size);

/*
 * Loads by the resolution order in the header comment: path (explicit
 * kubeconfig) if given, then $KUBECONFIG, in-cluster, $HOME/.kube/config.
 * context applies to kubeconfig files only.
 */
int kube_config_load(struct kube_config *cfg, const char *path, const char *context, char *errbuf,
                     size_t errbuf_size);

/*
 * The bearer token to send now, or NULL in *token when the config has none
 * (client certificates). For a token file it is re-read when its mtime, size
 * or inode changed or token_reload_seconds passed since the last read (now is
 * time(NULL); tests pass their own), or always when force is set (after a
 * 401). If a re-read fails while a token is held, the held token is kept and
 * a warning is logged: a failed read must not turn into an outage.
 * *token points into cfg and stays valid until the next call or
 * kube_config_free(). Returns 0, or KUBE_ECONFIG (errbuf set) when there is no
 * token to give and the file cannot be read.
 */
int kube_config_token(struct kube_config *cfg, time_t now, int force, const char **token,
                      char *errbuf, size_t errbuf_size);

/*
 * Deep-copies src into dst (uninitialised), for a second client (a watch
 * thread of its own). Returns 0 or KUBE_ENOMEM (dst then holds nothing).
 */
int kube_config_copy(struct kube_config *dst, const struct kube_config *src);

/* Frees what cfg owns and zeroes it. NULL is a no-op. */
void kube_config_free(struct kube_config *cfg);

/*
 * Strict base64 (RFC 4648, standard alphabet) as Go's StdEncoding, which
 * kubectl writes; whitespace is skipped and the final padding may be left
 * out. *out is malloc'd and NUL-terminated (not counted in *out_len); the
 * caller frees it. Returns 0, KUBE_EINVAL for bad input, KUBE_ENOMEM.
 */
int kube_config_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif /* SLUICE_KUBE_CONFIG_H */
