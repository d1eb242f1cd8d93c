/* The reflector's loop against a misbehaving fake API server (libmicrohttpd,
 * in process): what a real one does not do on demand. Everything a real API
 * server does is tested in tests/integration/reflector_it.c.
 *
 *   - a watch that answers 200 and ends at once, every time, is client-go's
 *     "very short watch": backed off, not re-requested in a tight loop;
 *   - a list without a resourceVersion is refused, never watched from "";
 *   - a server answering 500 to lists is retried with backoff, and stop
 *     ends the run promptly;
 *   - a paged listing whose continue token expires midway (410) deletes
 *     nothing and is retried whole; the complete one then reports what
 *     went meanwhile. */
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
enum list_mode { LIST_OK, LIST_NO_RV, LIST_500, LIST_PAGED };

static struct {
	struct MHD_Daemon *d;
	unsigned port;
	atomic_int list_mode;
	atomic_int lists, watches;
	/* LIST_PAGED: listings begun (a LIST without continue), whether a
	 * LIST carried a resourceVersion or lacked limit=3, a 410 sent to a
	 * watch. */
	atomic_int listings, with_rv, without_limit, gone_sent;
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

/*
 * LIST_PAGED: objects o0..o6 (o0..o5 from the third listing on: o6 was
 * deleted meanwhile), three a page, continue tokens "<listing>.<page>".
 * The second listing's second page answers 410 Expired, as an API server
 * does for a continue token past compaction.
 */
static enum MHD_Result paged(struct MHD_Connection *c)
{
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	char body[2048];
	int listing, page = 0, n, len;

	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion") != NULL)
		atomic_store(&fake.with_rv, 1);
	if (limit == NULL || strcmp(limit, "3") != 0)
		atomic_store(&fake.without_limit, 1);
	if (cont == NULL)
		listing = atomic_fetch_add(&fake.listings, 1) + 1;
	else if (sscanf(cont, "%d.%d", &listing, &page) != 2)
		return reply(c, 400, "{\"kind\":\"Status\",\"code\":400}");
	if (listing == 2 && page == 1)
		return reply(c, 410,
		             "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Expired\","
		             "\"code\":410,\"message\":\"The provided continue parameter is too "
		             "old\"}");
	n = listing >= 3 ? 6 : 7;
	len = snprintf(body, sizeof(body),
	               "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"9\"");
	if ((page + 1) * 3 < n)
		len += snprintf(body + len, sizeof(body) - (size_t)len, ",\"continue\":\"%d.%d\"",
		                listing, page + 1);
	len += snprintf(body + len, sizeof(body) - (size_t)len, "},\"items\":[");
	for (int i = page * 3; i < n && i < (page + 1) * 3; i++)
		len += snprintf(body + len, sizeof(body) - (size_t)len,
		                "%s{\"metadata\":{\"namespace\":\"ns\",\"name\":\"o%d\","
		                "\"resourceVersion\":\"4\"}}",
		                i > page * 3 ? "," : "", i);
	snprintf(body + len, sizeof(body) - (size_t)len, "]}");
	return reply(c, 200, body);
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
		if (atomic_load(&fake.list_mode) == LIST_PAGED &&
		    atomic_exchange(&fake.gone_sent, 1) == 0)
			return reply(c, 200,
			             "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
			             "\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410,"
			             "\"message\":\"too old resource version\"}}\n");
		return reply(c, 200, ""); /* ends at once, having said nothing */
	}
	atomic_fetch_add(&fake.lists, 1);
	switch (atomic_load(&fake.list_mode)) {
	case LIST_PAGED:
		return paged(c);
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

/* What the reflector's handler heard, per event. */
static atomic_int heard[3];

static void count_event(enum reflector_event ev, const char *key, const cJSON *obj,
                        const cJSON *old, void *opaque)
{
	(void)key;
	(void)obj;
	(void)old;
	(void)opaque;
	atomic_fetch_add(&heard[ev], 1);
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
	o.page_size = 3;
	o.handler = count_event;
	o.stop = &run.stop;
	for (int i = 0; i < 3; i++)
		atomic_store(&heard[i], 0);
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

static void test_listing_cut_midway_deletes_nothing(void **state)
{
	struct reflector_stats st;
	double took;

	(void)state;
	atomic_store(&fake.list_mode, LIST_PAGED);
	st = run_for(1.5, &took);
	/* Listing 1: 7 objects in 3 pages. The watch's 410 asks for a relist;
	 * listing 2 stores its first page, then its continue token expires:
	 * nothing deleted, retried after a back-off; listing 3 (2 pages) has
	 * o6 gone: deleted, once. */
	assert_true(st.synced);
	assert_int_equal(atomic_load(&fake.listings), 3);
	assert_int_equal(st.lists, 2);
	assert_int_equal(st.relists, 1);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.list_errors, 1);
	assert_int_equal(st.list_pages, 3 + 1 + 2);
	assert_int_equal(st.objects, 6);
	assert_int_equal(atomic_load(&heard[REFLECTOR_ADDED]), 7);
	assert_int_equal(atomic_load(&heard[REFLECTOR_UPDATED]), 0);
	assert_int_equal(atomic_load(&heard[REFLECTOR_DELETED]), 1);
	/* Every LIST is a consistent read (no resourceVersion: "0" would be
	 * answered in one page from the watch cache) with the page size. */
	assert_int_equal(atomic_load(&fake.with_rv), 0);
	assert_int_equal(atomic_load(&fake.without_limit), 0);
	assert_true(took < 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_very_short_watches_back_off),
	    cmocka_unit_test(test_list_without_resource_version_refused),
	    cmocka_unit_test(test_server_errors_back_off_and_stop_is_prompt),
	    cmocka_unit_test(test_listing_cut_midway_deletes_nothing),
	};

	return cmocka_run_group_tests_name("reflector_loop", tests, fake_up, fake_down);
}
