/* The reflector's loop against a misbehaving fake API server (libmicrohttpd,
 * in process): what a real one does not do on demand. Everything a real API
 * server does is tested in tests/integration/reflector_it.c.
 *
 *   - a watch that answers 200 and ends at once, every time, is client-go's
 *     "very short watch": backed off, not re-requested in a tight loop;
 *   - a list without a resourceVersion is refused, never watched from "";
 *   - a server answering 500 to lists is retried with backoff, and stop
 *     ends the run promptly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reflector.h"
#include "log.h"
#include "clock.h"

/* What the fake server does with a LIST. */
enum list_mode { LIST_OK, LIST_NO_RV, LIST_500 };

static struct {
	struct MHD_Daemon *d;
	unsigned port;
	atomic_int list_mode;
	atomic_int lists, watches;
	char dir[64];
	FILE *log;
} fake;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch") != NULL) {
		atomic_fetch_add(&fake.watches, 1);
		return reply(c, 200, ""); /* ends at once, having said nothing */
	}
	atomic_fetch_add(&fake.lists, 1);
	switch (atomic_load(&fake.list_mode)) {
	case LIST_NO_RV:
		return reply(c, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{},\"items\":[]}");
	case LIST_500:
		return reply(c, 500,
		             "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\","
		             "\"message\":\"etcd is sad\"}");
	default:
		return reply(c, 200,
		             "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"5\"},"
		             "\"items\":[{\"metadata\":{\"namespace\":\"ns\",\"name\":\"a\","
		             "\"resourceVersion\":\"4\"}}]}");
	}
}

static int fake_up(void **state)
{
	const union MHD_DaemonInfo *info;

	(void)state;
	fake.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
	                          0, NULL, NULL, handler, NULL, MHD_OPTION_END);
	if (fake.d == NULL)
		return -1;
	info = MHD_get_daemon_info(fake.d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL)
		return -1;
	fake.port = info->port;
	snprintf(fake.dir, sizeof(fake.dir), "/tmp/reflector_loop.XXXXXX");
	if (mkdtemp(fake.dir) == NULL)
		return -1;
	/* The reflector logs each failure; keep them out of the test output. */
	fake.log = tmpfile();
	log_set_output(fake.log);
	return 0;
}

static int fake_down(void **state)
{
	char p[128];

	(void)state;
	MHD_stop_daemon(fake.d);
	snprintf(p, sizeof(p), "%s/config", fake.dir);
	unlink(p);
	rmdir(fake.dir);
	log_set_output(NULL);
	fclose(fake.log);
	return 0;
}

static struct kube_client *client(void)
{
	char path[128], text[512], err[512];
	struct kube_config cfg;
	struct kube_client *c;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/config", fake.dir);
	snprintf(text, sizeof(text),
	         "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%u'}}]\n"
	         "users: [{name: u, user: {token: t}}]\n"
	         "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
	         "current-context: x\n",
	         fake.port);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	if (kube_config_load_kubeconfig(&cfg, path, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (kube_client_new(&c, &cfg, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return c;
}

struct run {
	struct reflector *r;
	atomic_int stop;
	pthread_t t;
};

static void *run_main(void *arg)
{
	struct run *run = arg;

	assert_int_equal(reflector_run(run->r), 0);
	return NULL;
}

/* Runs a reflector over ns/configmaps for seconds; returns its stats. */
static struct reflector_stats run_for(double seconds, double *stop_took)
{
	struct kube_client *c = client();
	struct reflector_options o;
	struct reflector_stats st;
	struct run run;
	char err[256];
	double t0;

	memset(&o, 0, sizeof(o));
	o.client = c;
	o.ref = (struct kube_ref){NULL, "v1", "configmaps", "ns", NULL, NULL};
	o.backoff_initial_ms = 100;
	o.backoff_max_ms = 400;
	o.stop = &run.stop;
	atomic_init(&run.stop, 0);
	atomic_store(&fake.lists, 0);
	atomic_store(&fake.watches, 0);
	if (reflector_new(&run.r, &o, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pthread_create(&run.t, NULL, run_main, &run), 0);
	usleep((useconds_t)(seconds * 1e6));
	t0 = clock_mono_s();
	atomic_store(&run.stop, 1);
	assert_int_equal(pthread_join(run.t, NULL), 0);
	*stop_took = clock_mono_s() - t0;
	reflector_stats(run.r, &st);
	reflector_free(run.r);
	kube_client_free(c);
	return st;
}

static void test_very_short_watches_back_off(void **state)
{
	struct reflector_stats st;
	double took;

	(void)state;
	atomic_store(&fake.list_mode, LIST_OK);
	st = run_for(1.5, &took);
	assert_true(st.synced);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.lists, 1);
	/* In 1.5 s at 100 ms doubling to 400 ms (each in [d/2, d]): a
	 * handful of watches, not the thousands of a tight loop. */
	assert_true(st.watches >= 3);
	assert_true(st.watches <= 15);
	/* Each counted as an error (the last may have been cut by the stop). */
	assert_true(st.watch_errors <= st.watches && st.watch_errors + 1 >= st.watches);
	assert_int_equal((uint64_t)atomic_load(&fake.watches), st.watches);
	assert_true(took < 1.0);
}

static void test_list_without_resource_version_refused(void **state)
{
	struct reflector_stats st;
	double took;

	(void)state;
	atomic_store(&fake.list_mode, LIST_NO_RV);
	st = run_for(1.0, &took);
	/* Watching from "" would replay everything as ADDED with no list
	 * boundary: the list is refused and retried instead. */
	assert_false(st.synced);
	assert_int_equal(st.lists, 0);
	assert_true(st.list_errors >= 2);
	assert_int_equal(st.watches, 0);
	assert_int_equal(atomic_load(&fake.watches), 0);
}

static void test_server_errors_back_off_and_stop_is_prompt(void **state)
{
	struct reflector_stats st;
	double took;

	(void)state;
	atomic_store(&fake.list_mode, LIST_500);
	st = run_for(1.5, &took);
	assert_false(st.synced);
	assert_true(st.list_errors >= 3);
	assert_true(st.list_errors <= 15);
	assert_int_equal(st.watches, 0);
	assert_true(took < 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_very_short_watches_back_off),
	    cmocka_unit_test(test_list_without_resource_version_refused),
	    cmocka_unit_test(test_server_errors_back_off_and_stop_is_prompt),
	};

	return cmocka_run_group_tests_name("reflector_loop", tests, fake_up, fake_down);
}
