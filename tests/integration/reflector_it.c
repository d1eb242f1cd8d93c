/*
 * reflector_it.c - the reflector (lib/kube/reflector.c) against a REAL
 * kube-apiserver: list then watch, every change seen once, re-watch after
 * the server's timeout without relisting, bookmarks, relist after 410 Gone,
 * LISTs that really come in pages (label-selected, across namespaces; the
 * relist too, reporting what went meanwhile), what the server does with
 * resourceVersion "0" + limit and with a watch-list request,
 * an API server that goes away and comes back, prompt stop, the handler
 * feeding the work queue, and a VideoJob (crds/) reflected with its
 * defaults.
 *
 * The API server "goes away" without touching the stack: the reflector's
 * client talks to it through a TCP relay in this file (TLS passes through
 * untouched), which the tests close (connections cut, port refusing) and
 * reopen on the same port.
 *
 * Needs KUBECONFIG with context "sluice" (build/stack.env). Everything
 * happens in two namespaces of its own (sluice-rit-<pid> and
 * sluice-rit-<pid>-b), deleted at the end;
 * the VideoJob CRD is applied (server-side) and left in place.
 *
 * Build and run (from the repository root, with the stack up):
 *
 *   make build/tests/reflector_it && . build/stack.env && build/tests/reflector_it
 *
 * or, while another module does not build, by hand:
 *
 *   cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Ilib -Ioperator -Iworkers \
 *      $(pkg-config --cflags libcurl libcjson yaml-0.1 cmocka) \
 *      -o build/tests/reflector_it tests/integration/reflector_it.c \
 *      lib/log.c lib/kube/kube_*.c lib/strmap.c operator/workqueue.c \
 *      lib/kube/reflector.c lib/yaml_json.c \
 *      $(pkg-config --libs libcurl libcjson yaml-0.1 cmocka) -lpthread -lm
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kube_client.h"
#include "reflector.h"
#include "workqueue.h"
#include "yaml_json.h"
#include "log.h"
#include "clock.h"

static struct {
	struct kube_client *direct; /* straight to the API server */
	char ns[64];
	char ns2[80];                        /* a second namespace, for cluster-wide listings */
	char server[KUBE_CONFIG_SERVER_MAX]; /* the API server's https://host:port */
	int label_seq;
} it;

/* ---------------------------------------------------------------- helpers */

static cJSON *jsonf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static cJSON *jsonf(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;
	cJSON *j;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	j = cJSON_Parse(buf);
	if (j == NULL)
		fail_msg("bad JSON in test: %s", buf);
	return j;
}

static void expect_rc(int rc, int want, const struct kube_error *e, const char *what)
{
	if (rc != want) {
		char buf[1024];

		fail_msg("%s: got %d (%s) want %d: %s", what, rc, kube_strerror(rc), want,
		         kube_error_format(e, buf, sizeof(buf)));
	}
}

static struct kube_client *client_to(const char *server)
{
	struct kube_config cfg;
	struct kube_client *c;
	char err[1024];

	if (kube_config_load(&cfg, NULL, "sluice", err, sizeof(err)) != 0)
		fail_msg("kubeconfig: %s", err);
	if (server != NULL)
		snprintf(cfg.server, sizeof(cfg.server), "%s", server);
	if (kube_client_new(&c, &cfg, NULL, err, sizeof(err)) != 0)
		fail_msg("client: %s", err);
	return c;
}

/* A label value of its own per test, so each reflector sees only its
 * test's ConfigMaps. */
static void new_label(char *buf, size_t size)
{
	snprintf(buf, size, "t%d", ++it.label_seq);
}

/* A ConfigMap in ns labelled rit=label (no labels when label is NULL). */
static void create_cm_in(const char *ns, const char *name, const char *label, const char *value)
{
	struct kube_ref cms = {NULL, "v1", "configmaps", ns, NULL, NULL};
	struct kube_error e;
	char labels[128] = "";
	cJSON *cm;

	if (label != NULL)
		snprintf(labels, sizeof(labels), ",\"labels\":{\"rit\":\"%s\"}", label);
	cm = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	           "\"%s\"%s},\"data\":{\"v\":\"%s\"}}",
	           name, labels, value);
	expect_rc(kube_client_create(it.direct, &cms, cm, NULL, &e), 0, &e, name);
	cJSON_Delete(cm);
}

static void create_cm(const char *name, const char *label, const char *value)
{
	create_cm_in(it.ns, name, label, value);
}

static void update_cm_in(const char *ns, const char *name, const char *value)
{
	struct kube_ref cm = {NULL, "v1", "configmaps", ns, name, NULL};
	struct kube_error e;
	cJSON *patch = jsonf("{\"data\":{\"v\":\"%s\"}}", value);

	expect_rc(kube_client_merge_patch(it.direct, &cm, patch, NULL, &e), 0, &e, name);
	cJSON_Delete(patch);
}

static void update_cm(const char *name, const char *value)
{
	update_cm_in(it.ns, name, value);
}

static void delete_cm_in(const char *ns, const char *name)
{
	struct kube_ref cm = {NULL, "v1", "configmaps", ns, name, NULL};
	struct kube_error e;

	expect_rc(kube_client_delete(it.direct, &cm, NULL, NULL, &e), 0, &e, name);
}

static void delete_cm(const char *name)
{
	delete_cm_in(it.ns, name);
}

/* ---------------------------------------------------------------- the recorder */

/* Everything the handler heard, as "added ns/name v=..." lines. */
struct recorder {
	pthread_mutex_t mu;
	char lines[256][160];
	int n;
	struct workqueue *queue; /* when set, the handler enqueues as the operator will */
};

static void on_change(enum reflector_event ev, const char *key, const cJSON *obj, const cJSON *old,
                      void *opaque)
{
	struct recorder *rec = opaque;
	const cJSON *o = obj != NULL ? obj : old;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "v");

	pthread_mutex_lock(&rec->mu);
	if (rec->n < 256)
		snprintf(rec->lines[rec->n++], sizeof(rec->lines[0]), "%s %s v=%s",
		         reflector_event_name(ev), key, cJSON_IsString(v) ? v->valuestring : "-");
	pthread_mutex_unlock(&rec->mu);
	if (rec->queue != NULL) {
		char qkey[WORKQUEUE_KEY_MAX];
		const char *slash = strchr(key, '/');

		assert_non_null(slash);
		snprintf(qkey, sizeof(qkey), "ConfigMap/%s", key);
		assert_int_equal(workqueue_add(rec->queue, qkey), 0);
	}
}

/* How many lines equal line exactly. */
static int heard(struct recorder *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int heard(struct recorder *rec, const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int count = 0;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&rec->mu);
	for (int i = 0; i < rec->n; i++)
		count += strcmp(rec->lines[i], line) == 0;
	pthread_mutex_unlock(&rec->mu);
	return count;
}

static int heard_total(struct recorder *rec)
{
	int n;

	pthread_mutex_lock(&rec->mu);
	n = rec->n;
	pthread_mutex_unlock(&rec->mu);
	return n;
}

/* ---------------------------------------------------------------- a running reflector */

struct running {
	struct reflector *r;
	struct recorder rec;
	atomic_int stop;
	pthread_t thread;
	int rc;
	double stopped_in; /* seconds from stop to return */
};

static void *run_main(void *arg)
{
	struct running *run = arg;

	run->rc = reflector_run(run->r);
	return NULL;
}

/* Starts a reflector over this namespace's ConfigMaps labelled rit=label;
 * its handler records every change, and enqueues it into q when q is set. */
static struct running *start(struct kube_client *c, const char *label,
                             void (*tweak)(struct reflector_options *), struct workqueue *q)
{
	struct running *run = calloc(1, sizeof(*run));
	struct reflector_options o;
	char selector[64], err[256];

	assert_non_null(run);
	pthread_mutex_init(&run->rec.mu, NULL);
	run->rec.queue = q;
	atomic_init(&run->stop, 0);
	snprintf(selector, sizeof(selector), "rit=%s", label);
	memset(&o, 0, sizeof(o));
	o.name = "configmaps-it";
	o.client = c;
	o.ref = (struct kube_ref){NULL, "v1", "configmaps", it.ns, NULL, NULL};
	o.label_selector = selector;
	o.page_size = 2; /* several pages even for a few objects */
	o.backoff_initial_ms = 50;
	o.backoff_max_ms = 400;
	o.handler = on_change;
	o.opaque = &run->rec;
	o.stop = &run->stop;
	if (tweak != NULL)
		tweak(&o);
	if (reflector_new(&run->r, &o, err, sizeof(err)) != 0)
		fail_msg("reflector_new: %s", err);
	assert_int_equal(pthread_create(&run->thread, NULL, run_main, run), 0);
	return run;
}

static void stop(struct running *run)
{
	double t0 = clock_mono_s();

	atomic_store(&run->stop, 1);
	assert_int_equal(pthread_join(run->thread, NULL), 0);
	run->stopped_in = clock_mono_s() - t0;
	assert_int_equal(run->rc, 0);
}

static void finish(struct running *run)
{
	reflector_free(run->r);
	pthread_mutex_destroy(&run->rec.mu);
	free(run);
}

static struct reflector_stats stats_of(struct running *run)
{
	struct reflector_stats st;

	reflector_stats(run->r, &st);
	return st;
}

static int store_has(struct running *run, const char *name, const char *value)
{
	char key[REFLECTOR_KEY_MAX];
	cJSON *o = NULL;
	int ok;

	snprintf(key, sizeof(key), "%s/%s", it.ns, name);
	if (reflector_store_get(reflector_get_store(run->r), key, &o) != 0)
		return 0;
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(o, "data"), "v");

		ok = value == NULL || (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0);
	}
	cJSON_Delete(o);
	return ok;
}

/* ---------------------------------------------------------------- the relay */

/*
 * A TCP relay on 127.0.0.1 to the API server. relay_close() cuts every
 * connection and stops listening (connections are refused: the API server
 * is "away"); relay_open() listens again on the same port. One thread polls
 * everything; commands reach it through a pipe and are acknowledged, so a
 * test knows the relay is closed when relay_close() returns.
 */
#define RELAY_PAIRS 32

static struct relay {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ctl[2];
	int cmd, acked; /* cmd: 0 none, 1 close, 2 open, 3 quit */
	int lfd;
	int port, up_port;
	int fds[RELAY_PAIRS][2];
	atomic_int accepted;
} relay;

static void relay_close_pairs(void)
{
	for (int i = 0; i < RELAY_PAIRS; i++)
		for (int j = 0; j < 2; j++)
			if (relay.fds[i][j] >= 0) {
				close(relay.fds[i][j]);
				relay.fds[i][j] = -1;
			}
}

static int relay_listen(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("relay: bind 127.0.0.1:%d: %s", port, strerror(errno));
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	relay.port = ntohs(a.sin_port);
	return fd;
}

static int relay_connect_upstream(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)relay.up_port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Copies what is readable on from to to; 0 when the pair must close. */
static int relay_pump(int from, int to)
{
	char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return 0;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));

		if (w <= 0)
			return 0;
		off += w;
	}
	return 1;
}

static void *relay_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2 + 2 * RELAY_PAIRS];
		int np = 0;

		p[np++] = (struct pollfd){relay.ctl[0], POLLIN, 0};
		if (relay.lfd >= 0)
			p[np++] = (struct pollfd){relay.lfd, POLLIN, 0};
		for (int i = 0; i < RELAY_PAIRS; i++)
			if (relay.fds[i][0] >= 0) {
				p[np++] = (struct pollfd){relay.fds[i][0], POLLIN, 0};
				p[np++] = (struct pollfd){relay.fds[i][1], POLLIN, 0};
			}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents != 0) {
			char c;
			int cmd;

			if (read(relay.ctl[0], &c, 1) != 1)
				break;
			pthread_mutex_lock(&relay.mu);
			cmd = relay.cmd;
			if (cmd == 1 || cmd == 3) {
				relay_close_pairs();
				if (relay.lfd >= 0)
					close(relay.lfd);
				relay.lfd = -1;
			} else if (cmd == 2 && relay.lfd < 0) {
				relay.lfd = relay_listen(relay.port);
			}
			relay.acked = cmd;
			pthread_cond_broadcast(&relay.cv);
			pthread_mutex_unlock(&relay.mu);
			if (cmd == 3)
				return NULL;
			continue; /* fds changed: poll again */
		}
		for (int k = 1; k < np; k++) {
			if (p[k].revents == 0)
				continue;
			if (relay.lfd >= 0 && p[k].fd == relay.lfd) {
				int c = accept4(relay.lfd, NULL, NULL, SOCK_CLOEXEC);
				int u = c >= 0 ? relay_connect_upstream() : -1;
				int slot = -1;

				for (int i = 0; i < RELAY_PAIRS && slot < 0; i++)
					if (relay.fds[i][0] < 0)
						slot = i;
				if (c < 0 || u < 0 || slot < 0) {
					if (c >= 0)
						close(c);
					if (u >= 0)
						close(u);
					continue;
				}
				relay.fds[slot][0] = c;
				relay.fds[slot][1] = u;
				atomic_fetch_add(&relay.accepted, 1);
				continue;
			}
			for (int i = 0; i < RELAY_PAIRS; i++) {
				int side = relay.fds[i][0] == p[k].fd   ? 0
				           : relay.fds[i][1] == p[k].fd ? 1
				                                        : -1;

				if (side < 0)
					continue;
				if (!relay_pump(relay.fds[i][side], relay.fds[i][!side])) {
					close(relay.fds[i][0]);
					close(relay.fds[i][1]);
					relay.fds[i][0] = relay.fds[i][1] = -1;
				}
				break;
			}
		}
	}
	return NULL;
}

static void relay_command(int cmd)
{
	char c = 'x';

	pthread_mutex_lock(&relay.mu);
	relay.cmd = cmd;
	relay.acked = 0;
	pthread_mutex_unlock(&relay.mu);
	assert_int_equal(write(relay.ctl[1], &c, 1), 1);
	pthread_mutex_lock(&relay.mu);
	while (relay.acked != cmd)
		pthread_cond_wait(&relay.cv, &relay.mu);
	pthread_mutex_unlock(&relay.mu);
}

static void relay_start(void)
{
	const char *colon = strrchr(it.server, ':');

	assert_non_null(colon);
	/* The stack's API server listens on 127.0.0.1. */
	assert_non_null(strstr(it.server, "127.0.0.1"));
	relay.up_port = atoi(colon + 1);
	memset(relay.fds, -1, sizeof(relay.fds));
	pthread_mutex_init(&relay.mu, NULL);
	pthread_cond_init(&relay.cv, NULL);
	assert_int_equal(pipe(relay.ctl), 0);
	relay.lfd = relay_listen(0);
	atomic_init(&relay.accepted, 0);
	assert_int_equal(pthread_create(&relay.thread, NULL, relay_main, NULL), 0);
}

static void relay_close(void)
{
	relay_command(1);
}

static void relay_open(void)
{
	relay_command(2);
}

static void relay_stop(void)
{
	relay_command(3);
	pthread_join(relay.thread, NULL);
	close(relay.ctl[0]);
	close(relay.ctl[1]);
	pthread_cond_destroy(&relay.cv);
	pthread_mutex_destroy(&relay.mu);
}

static struct kube_client *client_via_relay(void)
{
	char url[64];

	snprintf(url, sizeof(url), "https://127.0.0.1:%d", relay.port);
	return client_to(url);
}

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
	struct kube_ref nss = {NULL, "v1", "namespaces", NULL, NULL, NULL};
	struct kube_error e;
	cJSON *ns;
	int rc;

	(void)state;
	if (getenv("KUBECONFIG") == NULL) {
		fprintf(stderr, "reflector_it: KUBECONFIG is not set (. build/stack.env)\n");
		return -1;
	}
	/* The reflector logs every list, relist and back-off: keep them for a
	 * failing run, not the passing one. */
	log_set_level(getenv("REFLECTOR_IT_LOG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	it.direct = client_to(NULL);
	snprintf(it.server, sizeof(it.server), "%s", kube_client_config(it.direct)->server);
	snprintf(it.ns, sizeof(it.ns), "sluice-rit-%ld", (long)getpid());
	snprintf(it.ns2, sizeof(it.ns2), "%s-b", it.ns);
	for (int i = 0; i < 2; i++) {
		ns = jsonf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
		           "\"%s\"}}",
		           i == 0 ? it.ns : it.ns2);
		rc = kube_client_create(it.direct, &nss, ns, NULL, &e);
		cJSON_Delete(ns);
		if (rc != 0) {
			char buf[512];

			fprintf(stderr, "reflector_it: create namespace: %s\n",
			        kube_error_format(&e, buf, sizeof(buf)));
			return -1;
		}
	}
	relay_start();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	relay_stop();
	if (it.direct != NULL) {
		struct kube_ref ns = {NULL, "v1", "namespaces", NULL, it.ns, NULL};
		struct kube_delete_opts d = {.propagation_policy = "Background",
		                             .grace_period_seconds = -1};

		kube_client_delete(it.direct, &ns, &d, NULL, NULL);
		ns.name = it.ns2;
		kube_client_delete(it.direct, &ns, &d, NULL, NULL);
	}
	kube_client_free(it.direct);
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_list_then_watch(void **state)
{
	char label[16];
	struct running *run;
	struct reflector_stats st;

	(void)state;
	new_label(label, sizeof(label));
	/* Five objects before the reflector starts: paged LIST (page size 2). */
	for (int i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof(name), "lw-%d", i);
		create_cm(name, label, "0");
	}
	create_cm("lw-other", "someone-else", "0"); /* outside the selector */
	run = start(it.direct, label, NULL, NULL);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list");
	assert_int_equal(reflector_store_len(reflector_get_store(run->r)), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(heard(&run->rec, "added %s/lw-%d v=0", it.ns, i), 1);

	/* Then the watch carries every change. */
	create_cm("lw-new", label, "1");
	update_cm("lw-0", "2");
	delete_cm("lw-1");
	update_cm("lw-other", "9"); /* not ours: never heard */
	IT_WAIT_FOR(heard(&run->rec, "deleted %s/lw-1 v=0", it.ns) == 1, 10, "the delete");
	IT_WAIT_FOR(heard(&run->rec, "added %s/lw-new v=1", it.ns) == 1, 10, "the add");
	IT_WAIT_FOR(heard(&run->rec, "updated %s/lw-0 v=2", it.ns) == 1, 10, "the update");
	assert_true(store_has(run, "lw-0", "2"));
	assert_true(store_has(run, "lw-new", "1"));
	assert_false(store_has(run, "lw-1", NULL));
	assert_false(store_has(run, "lw-other", NULL));
	assert_int_equal(reflector_store_len(reflector_get_store(run->r)), 5);
	assert_int_equal(heard_total(&run->rec), 8);

	st = stats_of(run);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.relists, 0);
	assert_int_equal(st.list_errors, 0);
	assert_int_equal(st.watches, 1);
	assert_int_equal(st.events, 3);
	assert_true(st.synced);
	assert_string_not_equal(st.resource_version, "");
	stop(run);
	/* The idle watch noticed the stop flag within about a second. */
	assert_true(run->stopped_in < 2.0);
	finish(run);
}

static void short_watches(struct reflector_options *o)
{
	o->watch_timeout_seconds = 1;
}

static void test_rewatch_after_timeout_loses_nothing(void **state)
{
	char label[16];
	struct running *run;
	struct reflector_stats st;

	(void)state;
	new_label(label, sizeof(label));
	run = start(it.direct, label, short_watches, NULL);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list");
	/* Changes spread over several 1 s watches: each watch resumes from
	 * the last version seen, so every change is heard exactly once. */
	for (int i = 0; i < 8; i++) {
		char name[32];

		snprintf(name, sizeof(name), "rw-%d", i);
		create_cm(name, label, "x");
		it_sleep_ms(400);
	}
	for (int i = 0; i < 8; i++)
		IT_WAIT_FOR(heard(&run->rec, "added %s/rw-%d v=x", it.ns, i) == 1, 10, "an add");
	IT_WAIT_FOR(stats_of(run).watches >= 4, 10, "several watches");
	st = stats_of(run);
	assert_int_equal(heard_total(&run->rec), 8);
	assert_int_equal(st.lists, 1); /* re-watched, never relisted */
	assert_int_equal(st.relists, 0);
	assert_true(st.watch_restarts >= 3);
	assert_int_equal(st.watch_errors, 0);
	assert_int_equal(st.expired, 0);
	stop(run);
	finish(run);
}

static void bookmark_watches(struct reflector_options *o)
{
	o->watch_timeout_seconds = 5;
}

static void test_bookmarks_move_the_version(void **state)
{
	char label[16];
	char rv0[KUBE_WATCH_RV_MAX];
	struct running *run;

	(void)state;
	new_label(label, sizeof(label));
	run = start(it.direct, label, bookmark_watches, NULL);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list");
	snprintf(rv0, sizeof(rv0), "%s", stats_of(run).resource_version);
	/* Others' ConfigMaps change; ours do not. The server sends a BOOKMARK
	 * before the watch's timeout, carrying a newer version. */
	for (int i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "bm-%s-%d", label, i);
		create_cm(name, "not-this-one", "0");
	}
	IT_WAIT_FOR(strcmp(stats_of(run).resource_version, rv0) != 0, 15,
	            "a bookmark with a newer version");
	assert_true(stats_of(run).bookmarks >= 1);
	assert_int_equal(heard_total(&run->rec), 0);
	assert_int_equal(stats_of(run).events, 0);
	stop(run);
	finish(run);
}

static void resume_from_compacted(struct reflector_options *o)
{
	/* Long compacted out of the watch cache: the watch gets 410 Expired. */
	o->resume_resource_version = "1";
}

static void test_relist_after_410(void **state)
{
	char label[16];
	struct running *run;
	struct reflector_stats st;

	(void)state;
	new_label(label, sizeof(label));
	create_cm("gone-a", label, "1");
	create_cm("gone-b", label, "1");
	run = start(it.direct, label, resume_from_compacted, NULL);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the relist after 410");
	st = stats_of(run);
	assert_true(st.expired >= 1);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.relists, 1);
	assert_true(store_has(run, "gone-a", "1"));
	assert_true(store_has(run, "gone-b", "1"));
	assert_int_equal(heard(&run->rec, "added %s/gone-a v=1", it.ns), 1);
	/* And it watches on from the list's version. */
	update_cm("gone-a", "2");
	IT_WAIT_FOR(heard(&run->rec, "updated %s/gone-a v=2", it.ns) == 1, 10, "the update");
	assert_string_not_equal(stats_of(run).resource_version, "1");
	stop(run);
	finish(run);
}

static void fast_backoff(struct reflector_options *o)
{
	o->backoff_initial_ms = 50;
	o->backoff_max_ms = 200;
}

static void test_api_server_away_then_back(void **state)
{
	char label[16];
	struct kube_client *via;
	struct running *run;
	struct reflector_stats st;
	uint64_t errors_before;

	(void)state;
	new_label(label, sizeof(label));
	create_cm("away-stays", label, "1");
	create_cm("away-goes", label, "1");
	via = client_via_relay();
	run = start(via, label, fast_backoff, NULL);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list through the relay");
	assert_int_equal(reflector_store_len(reflector_get_store(run->r)), 2);

	/* The API server goes away: the watch is cut, reconnects are refused. */
	relay_close();
	IT_WAIT_FOR(stats_of(run).watch_errors >= 3, 10, "failed reconnects");
	/* Meanwhile the world moves on. */
	create_cm("away-new", label, "2");
	update_cm("away-stays", "2");
	delete_cm("away-goes");
	it_sleep_ms(300);
	assert_true(store_has(run, "away-goes", NULL)); /* it cannot know yet */
	errors_before = stats_of(run).watch_errors;

	/* Back: the reflector re-watches from its last version and catches up
	 * without a relist (the version is still in the watch cache). */
	relay_open();
	IT_WAIT_FOR(heard(&run->rec, "deleted %s/away-goes v=1", it.ns) == 1, 10, "the delete");
	IT_WAIT_FOR(heard(&run->rec, "added %s/away-new v=2", it.ns) == 1, 10, "the add");
	IT_WAIT_FOR(heard(&run->rec, "updated %s/away-stays v=2", it.ns) == 1, 10, "the update");
	assert_true(store_has(run, "away-stays", "2"));
	assert_true(store_has(run, "away-new", "2"));
	assert_false(store_has(run, "away-goes", NULL));
	st = stats_of(run);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.relists, 0);
	assert_true(st.watch_restarts >= 3);
	/* Backed off, not hammering: a handful of tries in ~1 s at 50..200 ms. */
	assert_true(errors_before < 40);
	assert_int_equal(heard_total(&run->rec), 5);
	stop(run);
	finish(run);
	kube_client_free(via);
}

static void test_starts_while_api_server_away(void **state)
{
	char label[16];
	struct kube_client *via;
	struct running *run;
	struct reflector_stats st;

	(void)state;
	new_label(label, sizeof(label));
	create_cm("late-a", label, "1");
	/* Pointed at a port that refuses: LISTs fail and back off; not synced. */
	relay_close();
	via = client_via_relay();
	run = start(via, label, fast_backoff, NULL);
	IT_WAIT_FOR(stats_of(run).list_errors >= 2, 10, "failed lists");
	assert_false(reflector_synced(run->r));
	assert_int_equal(heard_total(&run->rec), 0);
	/* The API server comes: synced. */
	relay_open();
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list once reachable");
	st = stats_of(run);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.relists, 0);
	assert_true(store_has(run, "late-a", "1"));
	stop(run);
	finish(run);
	kube_client_free(via);
}

static void test_stop_while_backing_off(void **state)
{
	char label[16];
	struct kube_client *via;
	struct running *run;

	(void)state;
	new_label(label, sizeof(label));
	relay_close();
	via = client_via_relay();
	run = start(via, label, NULL, NULL); /* the defaults: 800 ms doubling to 30 s */
	IT_WAIT_FOR(stats_of(run).list_errors >= 3, 20, "failed lists");
	stop(run);
	assert_true(run->stopped_in < 1.0);
	finish(run);
	kube_client_free(via);
	relay_open();
}

static void test_handler_feeds_the_work_queue(void **state)
{
	char label[16], key[WORKQUEUE_KEY_MAX], want[WORKQUEUE_KEY_MAX];
	struct workqueue *q;
	struct running *run;
	char err[128];

	(void)state;
	assert_int_equal(workqueue_new(&q, NULL, err, sizeof(err)), 0);
	new_label(label, sizeof(label));
	create_cm("q-a", label, "1");
	run = start(it.direct, label, NULL, q);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list");
	update_cm("q-a", "2");
	update_cm("q-a", "3");
	IT_WAIT_FOR(heard(&run->rec, "updated %s/q-a v=3", it.ns) == 1, 10, "the updates");
	/* Added by the LIST, updated twice by the watch: one key queued, and
	 * the reconcile reads the newest state from the cache. */
	snprintf(want, sizeof(want), "ConfigMap/%s/q-a", it.ns);
	assert_int_equal(workqueue_get(q, key, sizeof(key), 1000), 0);
	assert_string_equal(key, want);
	assert_int_equal(workqueue_get(q, key, sizeof(key), 0), WORKQUEUE_ETIMEDOUT);
	assert_int_equal(workqueue_done(q, want), 0);
	assert_int_equal(workqueue_len(q), 0);
	assert_true(store_has(run, "q-a", "3"));
	stop(run);
	finish(run);
	workqueue_free(q);
}

/* ---------------------------------------------------------------- paging */

/* ceil(n / page): the pages a listing of n objects takes. */
static uint64_t pages_for(int n, int page)
{
	return (uint64_t)((n + page - 1) / page);
}

/* Items and whether a continue token came, for one LIST of this test's
 * ConfigMaps labelled rit=label (all namespaces), limit 5. */
static int list_once(const char *label, const char *rv, int *has_continue)
{
	struct kube_ref cms = {NULL, "v1", "configmaps", NULL, NULL, NULL};
	char selector[64];
	struct kube_list_opts lo = {.label_selector = selector, .resource_version = rv, .limit = 5};
	struct kube_error e;
	const cJSON *cont;
	cJSON *page = NULL;
	int n;

	snprintf(selector, sizeof(selector), "rit=%s", label);
	expect_rc(kube_client_list(it.direct, &cms, &lo, &page, &e), 0, &e, "one LIST page");
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "items"));
	cont = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(page, "metadata"),
	                                        "continue");
	*has_continue = cJSON_IsString(cont) && cont->valuestring[0] != '\0';
	cJSON_Delete(page);
	return n;
}

/* Every ConfigMap labelled rit=label, in every namespace, page_size 5;
 * resume set: from a long-compacted version (410, relist), with the store
 * seeded first (seed taken; NULL: none), as a reflector restarted with its
 * cache would be. */
static struct running *start_paged(const char *label, const char *resume, cJSON *seed)
{
	struct running *run = calloc(1, sizeof(*run));
	struct reflector_options o;
	char selector[64], err[256];

	assert_non_null(run);
	pthread_mutex_init(&run->rec.mu, NULL);
	atomic_init(&run->stop, 0);
	snprintf(selector, sizeof(selector), "rit=%s", label);
	memset(&o, 0, sizeof(o));
	o.name = "configmaps-paged";
	o.client = it.direct;
	o.ref = (struct kube_ref){NULL, "v1", "configmaps", NULL, NULL, NULL};
	o.label_selector = selector;
	o.page_size = 5;
	o.resume_resource_version = resume;
	o.backoff_initial_ms = 50;
	o.backoff_max_ms = 400;
	o.handler = on_change;
	o.opaque = &run->rec;
	o.stop = &run->stop;
	if (reflector_new(&run->r, &o, err, sizeof(err)) != 0)
		fail_msg("reflector_new: %s", err);
	if (seed != NULL)
		assert_int_equal(
		    reflector_store_replace(reflector_get_store(run->r), seed, NULL, NULL, NULL),
		    0);
	assert_int_equal(pthread_create(&run->thread, NULL, run_main, run), 0);
	return run;
}

static int copy_into(const char *key, const cJSON *obj, void *opaque)
{
	cJSON *copy = cJSON_Duplicate(obj, 1);

	(void)key;
	assert_non_null(copy);
	cJSON_AddItemToArray(opaque, copy);
	return 0;
}

static int has_key(struct running *run, const char *ns, const char *name)
{
	char key[REFLECTOR_KEY_MAX];
	cJSON *o = NULL;
	int rc;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	rc = reflector_store_get(reflector_get_store(run->r), key, &o);
	cJSON_Delete(o);
	return rc == 0;
}

/* The labelled ones: pg-0..19 in ns, pg-20..22 in ns2. */
static const char *ns_of(int i)
{
	return i < 20 ? it.ns : it.ns2;
}

static void test_paged_listing_and_relist(void **state)
{
	char label[32], name[32];
	struct running *run;
	struct reflector_stats st;
	cJSON *cache;
	int n, more;

	(void)state;
	/* A label of this process's own: the reflector watches every
	 * namespace, where other runs may have their "t1". */
	snprintf(label, sizeof(label), "pg-%ld", (long)getpid());
	for (int i = 0; i < 23; i++) {
		snprintf(name, sizeof(name), "pg-%d", i);
		create_cm_in(ns_of(i), name, label, "0");
	}
	/* Not ours, in both namespaces: unlabelled, or labelled otherwise. */
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "pg-other-%d", i);
		create_cm_in(it.ns, name, NULL, "0");
		create_cm_in(it.ns2, name, i % 2 == 0 ? NULL : "someone-else", "0");
	}

	/* What the server does with a LIST's resourceVersion (measured, not
	 * guessed; docs/kube-client.md): "0" may be answered from the watch
	 * cache, which on v1.33 ignores limit and sends all 23 at once; a
	 * consistent read (none) pages. The reflector asks for the latter. */
	n = list_once(label, "0", &more);
	fprintf(stderr, "reflector_it: LIST resourceVersion=0 limit=5: %d items, %s\n", n,
	        more ? "paged" : "one response, limit ignored");
	n = list_once(label, NULL, &more);
	fprintf(stderr, "reflector_it: LIST (no resourceVersion) limit=5: %d items, %s\n", n,
	        more ? "paged" : "one response");
	assert_int_equal(n, 5);
	assert_true(more);

	/* The first listing: page by page, exactly the labelled ones. */
	run = start_paged(label, NULL, NULL);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the first list");
	st = stats_of(run);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.list_pages, pages_for(23, 5));
	assert_int_equal(st.objects, 23);
	for (int i = 0; i < 23; i++) {
		snprintf(name, sizeof(name), "pg-%d", i);
		assert_true(has_key(run, ns_of(i), name));
		assert_int_equal(heard(&run->rec, "added %s/%s v=0", ns_of(i), name), 1);
	}
	assert_int_equal(heard_total(&run->rec), 23);
	/* The cache as it stands, for the restarted reflector below. */
	cache = cJSON_CreateArray();
	assert_non_null(cache);
	assert_int_equal(reflector_store_foreach(reflector_get_store(run->r), copy_into, cache), 0);
	assert_int_equal(cJSON_GetArraySize(cache), 23);
	stop(run);
	finish(run);

	/* While no reflector looks: three go (one in each namespace and one
	 * more), one changes, one comes. */
	delete_cm_in(it.ns, "pg-3");
	delete_cm_in(it.ns, "pg-11");
	delete_cm_in(it.ns2, "pg-21");
	update_cm_in(it.ns, "pg-7", "1");
	create_cm_in(it.ns2, "pg-new", label, "1");

	/* A reflector with that cache resumes from a compacted version: 410,
	 * relist, page by page too; the sweep reports what went. */
	run = start_paged(label, "1", cache);
	IT_WAIT_FOR(reflector_synced(run->r), 10, "the relist after 410");
	st = stats_of(run);
	assert_true(st.expired >= 1);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.relists, 1);
	assert_int_equal(st.list_pages, pages_for(21, 5));
	assert_int_equal(st.objects, 21);
	assert_int_equal(heard(&run->rec, "deleted %s/pg-3 v=0", it.ns), 1);
	assert_int_equal(heard(&run->rec, "deleted %s/pg-11 v=0", it.ns), 1);
	assert_int_equal(heard(&run->rec, "deleted %s/pg-21 v=0", it.ns2), 1);
	assert_int_equal(heard(&run->rec, "updated %s/pg-7 v=1", it.ns), 1);
	assert_int_equal(heard(&run->rec, "added %s/pg-new v=1", it.ns2), 1);
	assert_int_equal(heard_total(&run->rec), 5); /* the other 18: unchanged, unheard */
	assert_false(has_key(run, it.ns, "pg-3"));
	assert_true(has_key(run, it.ns2, "pg-new"));
	/* And it watches on from the listing's version. */
	update_cm_in(it.ns2, "pg-22", "2");
	IT_WAIT_FOR(heard(&run->rec, "updated %s/pg-22 v=2", it.ns2) == 1, 10, "the update");
	stop(run);
	finish(run);
}

/*
 * Watch-list (sendInitialEvents=true, KEP-3157): whether the API server
 * streams a collection's initial state on a watch. On v1.33 its WatchList
 * gate is beta but off by default, and the server refuses the request as
 * invalid; the reflector therefore lists in pages. When this fails, the
 * server offers it: see docs/kube-client.md ("Listing").
 */
static int discard(const char *data, size_t len, void *opaque)
{
	(void)data;
	(void)len;
	(void)opaque;
	return 0;
}

static void test_watch_list_refused_by_default(void **state)
{
	char path[KUBE_PATH_MAX];
	struct kube_ref cms = {NULL, "v1", "configmaps", it.ns, NULL, NULL};
	struct kube_error e;
	int rc;

	(void)state;
	assert_int_equal(kube_path(path, sizeof(path), &cms), 0);
	assert_int_equal(kube_query_add(path, sizeof(path), "watch", "1"), 0);
	assert_int_equal(kube_query_add(path, sizeof(path), "sendInitialEvents", "true"), 0);
	assert_int_equal(kube_query_add(path, sizeof(path), "resourceVersionMatch", "NotOlderThan"),
	                 0);
	assert_int_equal(kube_query_add(path, sizeof(path), "allowWatchBookmarks", "true"), 0);
	assert_int_equal(kube_query_add(path, sizeof(path), "timeoutSeconds", "1"), 0);
	rc = kube_client_stream(it.direct, path, 5000, NULL, discard, NULL, &e);
	{
		char buf[512];

		fprintf(stderr, "reflector_it: watch-list request: %s (%s)\n", kube_strerror(rc),
		        kube_error_format(&e, buf, sizeof(buf)));
	}
	expect_rc(rc, KUBE_EINVALID, &e, "a watch-list request (WatchList off by default)");
}

/* ---------------------------------------------------------------- VideoJob */

static void apply_videojob_crd(void)
{
	struct kube_ref crd = {"apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL,
	                       "videojobs.sluice.dev", NULL};
	const char *path = "crds/videojobs.sluice.dev.yaml";
	struct kube_error e;
	char err[256], *text;
	cJSON *doc = NULL;
	FILE *f = fopen(path, "rb");
	long len;

	if (f == NULL)
		fail_msg("%s: cannot open (run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	text = malloc((size_t)len);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	if (yaml_json_parse(text, (size_t)len, &doc, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	free(text);
	expect_rc(kube_client_apply(it.direct, &crd, doc, "sluice-it", 1, NULL, &e), 0, &e,
	          "apply the VideoJob CRD");
	cJSON_Delete(doc);
}

static void test_videojob_reflected_with_defaults(void **state)
{
	struct kube_ref vjs = {"sluice.dev", "v1alpha1", "videojobs", it.ns, NULL, NULL};
	struct reflector_options o;
	struct reflector *r;
	struct running run;
	struct kube_error e;
	char err[256], key[REFLECTOR_KEY_MAX];
	cJSON *vj, *got = NULL;
	double until;
	int rc;

	(void)state;
	apply_videojob_crd();
	vj = jsonf("{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"VideoJob\","
	           "\"metadata\":{\"name\":\"clip\"},\"spec\":{"
	           "\"source\":{\"uri\":\"file:///media/in/clip.mp4\"},"
	           "\"output\":{\"uri\":\"file:///media/out/clip.mp4\"},"
	           "\"kafka\":{\"bootstrap\":\"kafka:9092\"}}}");
	/* Until the CRD is Established the collection is 404. */
	until = clock_mono_s() + 30;
	while ((rc = kube_client_create(it.direct, &vjs, vj, NULL, &e)) == KUBE_ENOTFOUND &&
	       clock_mono_s() < until)
		it_sleep_ms(100);
	expect_rc(rc, 0, &e, "create a VideoJob");
	cJSON_Delete(vj);

	memset(&run, 0, sizeof(run));
	pthread_mutex_init(&run.rec.mu, NULL);
	atomic_init(&run.stop, 0);
	memset(&o, 0, sizeof(o));
	o.client = it.direct;
	o.ref = (struct kube_ref){"sluice.dev", "v1alpha1", "videojobs", it.ns, NULL, NULL};
	o.handler = on_change;
	o.opaque = &run.rec;
	o.stop = &run.stop;
	if (reflector_new(&r, &o, err, sizeof(err)) != 0)
		fail_msg("reflector_new: %s", err);
	run.r = r;
	assert_int_equal(pthread_create(&run.thread, NULL, run_main, &run), 0);
	IT_WAIT_FOR(reflector_synced(r), 10, "the VideoJob list");
	snprintf(key, sizeof(key), "%s/clip", it.ns);
	assert_int_equal(reflector_store_get(reflector_get_store(r), key, &got), 0);
	{
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(got, "spec");
		const cJSON *enc = cJSON_GetObjectItemCaseSensitive(spec, "encoder");

		/* The API server wrote the CRD's defaults in. */
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(spec, "segmentSeconds")->valueint,
		                 2);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(enc, "codec")->valuestring,
		                    "libx264");
	}
	cJSON_Delete(got);
	assert_int_equal(heard(&run.rec, "added %s/clip v=-", it.ns), 1);

	/* A status write through the subresource reaches the cache too. */
	{
		struct kube_ref st = {"sluice.dev", "v1alpha1", "videojobs",
		                      it.ns,        "clip",     "status"};
		cJSON *patch = jsonf("{\"status\":{\"phase\":\"Splitting\",\"progress\":\"0%%\"}}");

		expect_rc(kube_client_merge_patch(it.direct, &st, patch, NULL, &e), 0, &e,
		          "status patch");
		cJSON_Delete(patch);
	}
	IT_WAIT_FOR(heard(&run.rec, "updated %s/clip v=-", it.ns) == 1, 10, "the status update");
	assert_int_equal(reflector_store_get(reflector_get_store(r), key, &got), 0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(
	                        cJSON_GetObjectItemCaseSensitive(got, "status"), "phase")
	                        ->valuestring,
	                    "Splitting");
	cJSON_Delete(got);
	stop(&run);
	reflector_free(r);
	pthread_mutex_destroy(&run.rec.mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_then_watch),
	    cmocka_unit_test(test_rewatch_after_timeout_loses_nothing),
	    cmocka_unit_test(test_bookmarks_move_the_version),
	    cmocka_unit_test(test_relist_after_410),
	    cmocka_unit_test(test_api_server_away_then_back),
	    cmocka_unit_test(test_starts_while_api_server_away),
	    cmocka_unit_test(test_stop_while_backing_off),
	    cmocka_unit_test(test_handler_feeds_the_work_queue),
	    cmocka_unit_test(test_paged_listing_and_relist),
	    cmocka_unit_test(test_watch_list_refused_by_default),
	    cmocka_unit_test(test_videojob_reflected_with_defaults),
	};

	return cmocka_run_group_tests_name("reflector_it", tests, group_setup, group_teardown);
}
