/* Unit tests for the pure parts of lib/kube/reflector.c: store keys, watch
 * events applied one by one, listings page by page (mark and sweep) and
 * whole-list replacement on top of them, with the changes they report,
 * ownership (deep copies out, everything freed: LSan checks), bounds,
 * readers on other threads, the backoff curve and option checks. The
 * list/watch loop runs against a fake API server in test_reflector_loop.c
 * and a real one in tests/integration/reflector_it.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflector.h"

/* ---------------------------------------------------------------- helpers */

static cJSON *obj(const char *ns, const char *name, const char *rv)
{
	char buf[512];
	cJSON *o;

	if (ns != NULL)
		snprintf(
		    buf, sizeof(buf),
		    "{\"kind\":\"VideoJob\",\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\","
		    "\"resourceVersion\":\"%s\"},\"spec\":{\"segmentSeconds\":2}}",
		    ns, name, rv);
	else
		snprintf(buf, sizeof(buf),
		         "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\","
		         "\"resourceVersion\":\"%s\"}}",
		         name, rv);
	o = cJSON_Parse(buf);
	assert_non_null(o);
	return o;
}

static const char *rv_of(const cJSON *o)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "resourceVersion");

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What a handler heard: "added ns/a rv=1 old=-" lines. */
struct log {
	char lines[64][128];
	int n;
	struct reflector_store *store; /* when set, the handler reads it too */
	int seen_in_store;             /* the handler's key was readable */
};

static void record(enum reflector_event ev, const char *key, const cJSON *o, const cJSON *old,
                   void *opaque)
{
	struct log *l = opaque;

	assert_true(l->n < 64);
	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s %s rv=%s old=%s",
	         reflector_event_name(ev), key, o != NULL ? rv_of(o) : "-",
	         old != NULL ? rv_of(old) : "-");
	if (l->store != NULL) {
		cJSON *copy = NULL;
		int rc = reflector_store_get(l->store, key, &copy);

		/* The handler runs without the lock: reading does not deadlock,
		 * and it sees the change it is told about. */
		if (ev == REFLECTOR_DELETED) {
			assert_int_equal(rc, REFLECTOR_ENOTFOUND);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(rv_of(copy), rv_of(o));
			l->seen_in_store++;
		}
		cJSON_Delete(copy);
	}
}

static int has_line(const struct log *l, const char *line)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->lines[i], line) == 0)
			return 1;
	return 0;
}

static cJSON *array_of(cJSON *first, ...)
{
	cJSON *a = cJSON_CreateArray();
	va_list ap;

	assert_non_null(a);
	va_start(ap, first);
	for (cJSON *o = first; o != NULL; o = va_arg(ap, cJSON *))
		cJSON_AddItemToArray(a, o);
	va_end(ap);
	return a;
}

/* ---------------------------------------------------------------- keys */

static void test_object_key(void **state)
{
	char buf[REFLECTOR_KEY_MAX];
	char small[6];
	cJSON *o;
	char longname[400];

	(void)state;
	o = obj("media", "demo", "1");
	assert_int_equal(reflector_object_key(o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "media/demo");
	assert_int_equal(reflector_object_key(o, small, sizeof(small)), REFLECTOR_EINVAL);
	assert_string_equal(small, "");
	cJSON_Delete(o);

	o = obj(NULL, "cluster-wide", "1");
	assert_int_equal(reflector_object_key(o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cluster-wide");
	cJSON_Delete(o);

	static const char *const bad[] = {
	    "{}",
	    "{\"metadata\":5}",
	    "{\"metadata\":{}}",
	    "{\"metadata\":{\"name\":\"\"}}",
	    "{\"metadata\":{\"name\":7}}",
	    "{\"metadata\":{\"name\":\"a/b\"}}",
	    "{\"metadata\":{\"name\":\"a\",\"namespace\":\"x/y\"}}",
	    "[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = cJSON_Parse(bad[i]);
		assert_non_null(o);
		assert_int_equal(reflector_object_key(o, buf, sizeof(buf)), REFLECTOR_EINVAL);
		cJSON_Delete(o);
	}
	assert_int_equal(reflector_object_key(NULL, buf, sizeof(buf)), REFLECTOR_EINVAL);
	assert_int_equal(reflector_object_key(NULL, NULL, 0), REFLECTOR_EINVAL);

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	o = obj("ns", longname, "1");
	assert_int_equal(reflector_object_key(o, buf, sizeof(buf)), REFLECTOR_EINVAL);
	cJSON_Delete(o);
}

/* ---------------------------------------------------------------- apply */

static void test_apply_add_update_delete(void **state)
{
	struct reflector_store *s;
	struct log l = {0};
	cJSON *copy;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	l.store = s;
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "a", "1"), record, &l), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "a", "2"), record, &l), 0);
	/* The same version again (a replayed event): nobody is told. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "a", "2"), record, &l), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "a", "2"), record, &l), 0);
	/* MODIFIED for an object never seen is an add, from the store's view. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "b", "3"), record, &l), 0);
	assert_int_equal(reflector_store_len(s), 2);

	assert_int_equal(reflector_store_get(s, "ns/a", &copy), 0);
	assert_string_equal(rv_of(copy), "2");
	cJSON_Delete(copy);

	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_DELETED, obj("ns", "a", "4"), record, &l), 0);
	/* A delete for an object the store never held still reaches the
	 * handler, with the event's object as the last state. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_DELETED, obj("ns", "ghost", "5"), record, &l), 0);
	assert_int_equal(reflector_store_get(s, "ns/a", &copy), REFLECTOR_ENOTFOUND);
	assert_null(copy);
	assert_int_equal(reflector_store_len(s), 1);

	assert_int_equal(l.n, 5);
	assert_string_equal(l.lines[0], "added ns/a rv=1 old=-");
	assert_string_equal(l.lines[1], "updated ns/a rv=2 old=1");
	assert_string_equal(l.lines[2], "added ns/b rv=3 old=-");
	assert_string_equal(l.lines[3], "deleted ns/a rv=- old=2");
	assert_string_equal(l.lines[4], "deleted ns/ghost rv=- old=5");
	assert_int_equal(l.seen_in_store, 3);
	reflector_store_free(s);
}

static void test_apply_without_handler_and_other_types(void **state)
{
	struct reflector_store *s;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj(NULL, "n", "1"), NULL, NULL), 0);
	/* Bookmarks and errors do not touch the store; the object is freed. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_BOOKMARK, obj(NULL, "bm", "9"), NULL, NULL), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ERROR, obj(NULL, "e", "9"), NULL, NULL), 0);
	assert_int_equal(reflector_store_len(s), 1);
	/* No key: refused and freed. */
	assert_int_equal(reflector_store_apply(s, KUBE_WATCH_ADDED,
	                                       cJSON_Parse("{\"metadata\":{}}"), NULL, NULL),
	                 REFLECTOR_EINVAL);
	assert_int_equal(reflector_store_apply(s, KUBE_WATCH_ADDED, NULL, NULL, NULL),
	                 REFLECTOR_EINVAL);
	/* Objects without a resourceVersion always count as changed. */
	assert_int_equal(reflector_store_apply(s, KUBE_WATCH_MODIFIED,
	                                       cJSON_Parse("{\"metadata\":{\"name\":\"n\"}}"), NULL,
	                                       NULL),
	                 0);
	{
		struct log l = {0};

		assert_int_equal(reflector_store_apply(
		                     s, KUBE_WATCH_MODIFIED,
		                     cJSON_Parse("{\"metadata\":{\"name\":\"n\"}}"), record, &l),
		                 0);
		assert_int_equal(l.n, 1);
	}
	reflector_store_free(s);
	reflector_store_free(NULL);
}

static void test_get_is_a_deep_copy(void **state)
{
	struct reflector_store *s;
	cJSON *a, *b;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "a", "1"), NULL, NULL), 0);
	assert_int_equal(reflector_store_get(s, "ns/a", &a), 0);
	assert_int_equal(reflector_store_get(s, "ns/a", &b), 0);
	assert_ptr_not_equal(a, b);
	/* The caller's copy is its own to change and free. */
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "spec"),
	                                       "segmentSeconds", cJSON_CreateNumber(9));
	cJSON_Delete(a);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
	                     cJSON_GetObjectItemCaseSensitive(b, "spec"), "segmentSeconds")
	                     ->valueint,
	                 2);
	cJSON_Delete(b);
	assert_int_equal(reflector_store_get(s, "ns/a", &a), 0);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(
	                     cJSON_GetObjectItemCaseSensitive(a, "spec"), "segmentSeconds")
	                     ->valueint,
	                 2);
	cJSON_Delete(a);
	assert_int_equal(reflector_store_get(s, NULL, &a), REFLECTOR_ENOTFOUND);
	reflector_store_free(s);
}

/* ---------------------------------------------------------------- trimming */

static const char full_object[] =
    "{\"kind\":\"Deployment\",\"metadata\":{\"namespace\":\"ns\",\"name\":\"d\","
    "\"uid\":\"u-1\",\"resourceVersion\":\"7\",\"generation\":3,"
    "\"labels\":{\"sluice.dev/telemetrywindow\":\"tw\"},"
    "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{...}\","
    "\"note\":\"caf\\u00e9 \\\"quoted\\\"\"},"
    "\"managedFields\":[{\"manager\":\"kubectl\"}],"
    "\"ownerReferences\":[{\"kind\":\"TelemetryWindow\",\"name\":\"tw\"}]},"
    "\"spec\":{\"replicas\":2,\"big\":1234567890123456,\"huge\":-4.5e300,"
    "\"ratio\":0.1},"
    "\"status\":{\"readyReplicas\":1}}";

static const cJSON *at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
	return b != NULL ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

/* What a handler saw, for the projection test. */
static void keep_last(enum reflector_event ev, const char *key, const cJSON *o, const cJSON *old,
                      void *opaque)
{
	cJSON **last = opaque;
	(void)ev;
	(void)key;
	(void)old;
	cJSON_Delete(*last);
	*last = cJSON_Duplicate(o, 1);
}

static void test_objects_are_trimmed_and_survive_the_round_trip(void **state)
{
	struct reflector_store *s;
	cJSON *got;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, cJSON_Parse(full_object), NULL, NULL), 0);
	assert_int_equal(reflector_store_get(s, "ns/d", &got), 0);
	/* Bookkeeping nobody reads is gone... */
	assert_null(at(got, "metadata", "managedFields"));
	assert_null(
	    cJSON_GetObjectItemCaseSensitive(at(got, "metadata", "annotations"),
	                                     "kubectl.kubernetes.io/last-applied-configuration"));
	/* ...and the rest comes back as it went in. */
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(at(got, "metadata", "annotations"), "note")
	        ->valuestring,
	    "caf\xc3\xa9 \"quoted\"");
	assert_int_equal(at(got, "spec", "replicas")->valueint, 2);
	/* cJSON alone would print 1.23456789012346e+15. */
	assert_true(at(got, "spec", "big")->valuedouble == 1234567890123456.0);
	assert_true(at(got, "spec", "huge")->valuedouble == -4.5e300);
	assert_true(at(got, "spec", "ratio")->valuedouble == 0.1);
	assert_int_equal(at(got, "status", "readyReplicas")->valueint, 1);
	cJSON_Delete(got);
	reflector_store_free(s);
}

static void test_metadata_projection(void **state)
{
	struct reflector_store *s;
	cJSON *got, *heard = NULL;
	char *text;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	reflector_store_set_project(s, reflector_keep_metadata);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, cJSON_Parse(full_object), keep_last, &heard),
	    0);
	assert_int_equal(reflector_store_get(s, "ns/d", &got), 0);
	text = cJSON_PrintUnformatted(got);
	assert_string_equal(text,
	                    "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"d\",\"uid\":\"u-1\","
	                    "\"resourceVersion\":\"7\",\"generation\":3,\"labels\":{"
	                    "\"sluice.dev/telemetrywindow\":\"tw\"},\"ownerReferences\":[{"
	                    "\"kind\":\"TelemetryWindow\",\"name\":\"tw\"}]}}");
	/* The handler hears of the object as stored. */
	assert_true(cJSON_Compare(heard, got, 1));
	cJSON_free(text);
	cJSON_Delete(got);
	/* A whole list goes through the projection too. */
	assert_int_equal(
	    reflector_store_replace(s, array_of(cJSON_Parse(full_object), NULL), NULL, NULL, NULL),
	    0);
	assert_int_equal(reflector_store_get(s, "ns/d", &got), 0);
	assert_null(cJSON_GetObjectItemCaseSensitive(got, "spec"));
	assert_non_null(at(got, "metadata", "labels"));
	cJSON_Delete(got);
	cJSON_Delete(heard);
	/* Nothing to project is no harm. */
	reflector_keep_metadata(NULL);
	reflector_store_free(s);
}

static void test_apply_bounded(void **state)
{
	struct reflector_store *s;
	struct log l = {0};

	(void)state;
	assert_int_equal(reflector_store_new(&s, 2), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "a", "1"), record, &l), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "b", "1"), record, &l), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "c", "1"), record, &l),
	    REFLECTOR_EFULL);
	/* Updates and deletes of held objects still work. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "a", "2"), record, &l), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_DELETED, obj("ns", "b", "2"), record, &l), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "c", "1"), record, &l), 0);
	assert_int_equal(l.n, 5); /* the refused add was reported to nobody */
	assert_true(has_line(&l, "added ns/c rv=1 old=-"));
	reflector_store_free(s);
}

/* ---------------------------------------------------------------- replace */

static void test_replace_reports_the_difference(void **state)
{
	struct reflector_store *s;
	struct reflector_replace_result res;
	struct log l = {0};

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	l.store = s;
	assert_int_equal(
	    reflector_store_replace(s,
	                            array_of(obj("ns", "keep", "1"), obj("ns", "change", "1"),
	                                     obj("ns", "gone", "1"), NULL),
	                            record, &l, &res),
	    0);
	assert_int_equal(res.added, 3);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.seen_in_store, 3);
	assert_true(has_line(&l, "added ns/gone rv=1 old=-"));

	/* A relist after an outage: one unchanged, one changed, one deleted
	 * meanwhile, one new; plus a key listed twice and one without a key. */
	l.n = 0;
	l.seen_in_store = 0;
	assert_int_equal(
	    reflector_store_replace(s,
	                            array_of(obj("ns", "keep", "1"), obj("ns", "change", "7"),
	                                     obj("ns", "new", "8"), obj("ns", "new", "9"),
	                                     cJSON_Parse("{\"metadata\":{\"name\":\"\"}}"), NULL),
	                            record, &l, &res),
	    0);
	assert_int_equal(res.added, 1);
	assert_int_equal(res.updated, 2);
	assert_int_equal(res.deleted, 1);
	assert_int_equal(res.unchanged, 1);
	assert_int_equal(res.invalid, 1);
	assert_int_equal(res.dropped, 0);
	assert_int_equal(l.n, 4);
	/* The handler sees the old objects alive, and the new state in the store. */
	assert_true(has_line(&l, "updated ns/change rv=7 old=1"));
	assert_true(has_line(&l, "deleted ns/gone rv=- old=1"));
	/* Items are stored as they come: a key listed twice is added, then
	 * updated (the later copy wins). */
	assert_true(has_line(&l, "added ns/new rv=8 old=-"));
	assert_true(has_line(&l, "updated ns/new rv=9 old=8"));
	assert_string_equal(l.lines[3], "deleted ns/gone rv=- old=1"); /* deletions last */
	assert_int_equal(reflector_store_len(s), 3);

	/* An empty list deletes everything. */
	l.n = 0;
	l.store = NULL;
	assert_int_equal(reflector_store_replace(s, cJSON_CreateArray(), record, &l, NULL), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(reflector_store_len(s), 0);
	/* Not an array: refused, store unchanged, argument freed. */
	assert_int_equal(reflector_store_replace(s, cJSON_CreateObject(), record, &l, &res),
	                 REFLECTOR_EINVAL);
	assert_int_equal(reflector_store_replace(s, NULL, NULL, NULL, NULL), REFLECTOR_EINVAL);
	reflector_store_free(s);
}

static void test_replace_bounded(void **state)
{
	struct reflector_store *s;
	struct reflector_replace_result res;
	cJSON *copy;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 2), 0);
	assert_int_equal(
	    reflector_store_replace(s,
	                            array_of(obj("ns", "a", "1"), obj("ns", "b", "1"),
	                                     obj("ns", "c", "1"), obj("ns", "d", "1"), NULL),
	                            NULL, NULL, &res),
	    REFLECTOR_EFULL);
	assert_int_equal(res.added, 2);
	assert_int_equal(res.dropped, 2);
	/* The first ones listed are kept. */
	assert_int_equal(reflector_store_get(s, "ns/a", &copy), 0);
	cJSON_Delete(copy);
	assert_int_equal(reflector_store_get(s, "ns/b", &copy), 0);
	cJSON_Delete(copy);
	assert_int_equal(reflector_store_get(s, "ns/c", &copy), REFLECTOR_ENOTFOUND);
	reflector_store_free(s);
}

/* ---------------------------------------------------------------- listings */

/* A store holding ns/<name> at rv for each name, handler unheard. */
static struct reflector_store *store_with(size_t max, const char *rv, const char *const *names)
{
	struct reflector_store *s;

	assert_int_equal(reflector_store_new(&s, max), 0);
	for (; *names != NULL; names++)
		assert_int_equal(
		    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", *names, rv), NULL, NULL),
		    0);
	return s;
}

static int holds(struct reflector_store *s, const char *key, const char *rv)
{
	cJSON *copy = NULL;
	int ok;

	if (reflector_store_get(s, key, &copy) != 0)
		return 0;
	ok = rv == NULL || strcmp(rv_of(copy), rv) == 0;
	cJSON_Delete(copy);
	return ok;
}

static void test_list_pages_added_updated_unchanged_deleted(void **state)
{
	static const char *const held[] = {"same", "moved", "late", "gone", NULL};
	struct reflector_store *s = store_with(0, "1", held);
	struct reflector_replace_result res = {0};
	struct log l = {0};

	(void)state;
	l.store = s;
	reflector_store_list_begin(s);
	/* Page 1: unchanged, updated, added; reported as the page is stored,
	 * nothing deleted yet (the rest may come on a later page). */
	assert_int_equal(
	    reflector_store_list_page(s,
	                              array_of(obj("ns", "same", "1"), obj("ns", "moved", "2"),
	                                       obj("ns", "new", "3"), NULL),
	                              record, &l, &res),
	    0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.lines[0], "updated ns/moved rv=2 old=1");
	assert_string_equal(l.lines[1], "added ns/new rv=3 old=-");
	assert_int_equal(reflector_store_len(s), 5);
	assert_true(holds(s, "ns/gone", "1"));
	/* Page 2: an object held from before, listed late; an empty page and
	 * one without items change nothing. */
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "late", "1"), NULL), record, &l, &res),
	    0);
	assert_int_equal(reflector_store_list_page(s, cJSON_CreateArray(), record, &l, &res), 0);
	assert_int_equal(reflector_store_list_page(s, NULL, record, &l, &res), 0);
	assert_int_equal(l.n, 2);
	/* The end sweeps what no page had: reported deleted, with its last state. */
	assert_int_equal(reflector_store_list_end(s, record, &l, &res), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.lines[2], "deleted ns/gone rv=- old=1");
	assert_int_equal(l.seen_in_store, 2);
	assert_int_equal(res.added, 1);
	assert_int_equal(res.updated, 1);
	assert_int_equal(res.unchanged, 2);
	assert_int_equal(res.deleted, 1);
	assert_int_equal(res.invalid, 0);
	assert_int_equal(res.dropped, 0);
	assert_int_equal(reflector_store_len(s), 4);
	assert_true(holds(s, "ns/moved", "2"));
	assert_true(holds(s, "ns/new", "3"));
	assert_false(holds(s, "ns/gone", NULL));

	/* A second listing with the same content: nothing to say. */
	l.n = 0;
	memset(&res, 0, sizeof(res));
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(
	        s, array_of(obj("ns", "new", "3"), obj("ns", "same", "1"), NULL), record, &l, &res),
	    0);
	assert_int_equal(reflector_store_list_page(
	                     s, array_of(obj("ns", "late", "1"), obj("ns", "moved", "2"), NULL),
	                     record, &l, &res),
	                 0);
	assert_int_equal(reflector_store_list_end(s, record, &l, &res), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(res.unchanged, 4);
	assert_int_equal(res.added + res.updated + res.deleted, 0);

	/* An empty listing deletes everything; no handler is fine. */
	reflector_store_list_begin(s);
	assert_int_equal(reflector_store_list_end(s, NULL, NULL, NULL), 0);
	assert_int_equal(reflector_store_len(s), 0);
	reflector_store_free(s);
}

/* The same listing fed item by item (reflector_store_list_item), as the
 * reflector reads a page: same reports, same sweep, same bound. */
static void test_list_items_one_by_one(void **state)
{
	static const char *const held[] = {"same", "moved", "gone", NULL};
	struct reflector_store *s = store_with(3, "1", held);
	struct reflector_replace_result res = {0};
	struct log l = {0};
	cJSON *nameless = cJSON_CreateObject();

	(void)state;
	l.store = s;
	/* No listing open: refused, the item freed. */
	assert_int_equal(reflector_store_list_item(s, obj("ns", "x", "1"), record, &l, &res),
	                 REFLECTOR_EINVAL);
	reflector_store_list_begin(s);
	assert_int_equal(reflector_store_list_item(s, obj("ns", "same", "1"), record, &l, &res), 0);
	assert_int_equal(reflector_store_list_item(s, obj("ns", "moved", "2"), record, &l, &res),
	                 0);
	assert_int_equal(reflector_store_list_item(s, obj("ns", "new", "3"), record, &l, &res), 0);
	/* A fourth seen object is past the bound (3): dropped, counted. */
	assert_int_equal(reflector_store_list_item(s, obj("ns", "more", "1"), record, &l, &res),
	                 REFLECTOR_EFULL);
	/* Not an object, or no key: refused or counted invalid, freed. */
	assert_int_equal(reflector_store_list_item(s, cJSON_CreateArray(), record, &l, &res),
	                 REFLECTOR_EINVAL);
	assert_int_equal(reflector_store_list_item(s, nameless, record, &l, &res), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.lines[0], "updated ns/moved rv=2 old=1");
	assert_string_equal(l.lines[1], "added ns/new rv=3 old=-");
	assert_int_equal(reflector_store_list_end(s, record, &l, &res), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.lines[2], "deleted ns/gone rv=- old=1");
	assert_int_equal(res.added, 1);
	assert_int_equal(res.updated, 1);
	assert_int_equal(res.unchanged, 1);
	assert_int_equal(res.deleted, 1);
	assert_int_equal(res.invalid, 1);
	assert_int_equal(res.dropped, 1);
	assert_int_equal(reflector_store_len(s), 3);
	reflector_store_free(s);
}

/* A resource of the bench's shape: ~1.5 KiB of text, the names, uid and
 * versions its own. */
static cJSON *resource(int i)
{
	char text[2048];

	snprintf(
	    text, sizeof(text),
	    "{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"TelemetryWindow\","
	    "\"metadata\":{\"creationTimestamp\":\"2026-12-07T23:56:%02dZ\","
	    "\"finalizers\":[\"sluice.dev/cleanup\"],\"generation\":1,\"name\":\"tw%d\","
	    "\"namespace\":\"bench\",\"resourceVersion\":\"%d\","
	    "\"uid\":\"75897779-4e3e-443c-89ed-%012d\"},\"spec\":{\"aggregations\":[\"count\","
	    "\"sum\",\"min\",\"max\",\"mean\",\"p50\",\"p95\",\"p99\"],\"fields\":{\"keys\":[\"k\"]"
	    ","
	    "\"timestamp\":\"ts\",\"values\":[\"v\"]},\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\","
	    "\"topic\":\"in-%d\"},\"window\":{\"size\":\"10s\"},\"workers\":{\"minReplicas\":0,"
	    "\"maxReplicas\":10,\"lagThreshold\":1000}},\"status\":{\"conditions\":[{"
	    "\"lastTransitionTime\":\"2026-12-07T23:57:%02dZ\",\"message\":\"workers deployed\","
	    "\"observedGeneration\":1,\"reason\":\"Running\",\"status\":\"True\",\"type\":"
	    "\"Ready\"},"
	    "{\"lastTransitionTime\":\"2026-12-07T23:57:06Z\",\"message\":\"topic in-%d has 4 "
	    "partitions\",\"observedGeneration\":1,\"reason\":\"TopicFound\",\"status\":\"True\","
	    "\"type\":\"TopicReady\"}],\"lag\":%d,\"observedGeneration\":1,\"phase\":\"Running\","
	    "\"scaling\":{\"inputRate\":%d.5,\"message\":\"lag %d at or below activation 0: "
	    "staying at 0\",\"reason\":\"idle\"}}}",
	    i % 60, i, 1000 + i, i, i, i % 60, i, i * 7, i, i * 7);
	return cJSON_Parse(text);
}

/* Objects are held deflated against the first one: many alike cost a
 * fraction of their text, and every one reads back exactly. */
static void test_objects_held_compactly(void **state)
{
	enum { N = 200 };
	struct reflector_store *s;
	size_t text = 0;
	char key[64];

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	for (int i = 0; i < N; i++) {
		cJSON *o = resource(i);
		char *t = cJSON_PrintUnformatted(o);
		text += strlen(t);
		cJSON_free(t);
		assert_int_equal(reflector_store_apply(s, KUBE_WATCH_ADDED, o, NULL, NULL), 0);
	}
	for (int i = 0; i < N; i++) {
		cJSON *want = resource(i), *got = NULL;
		snprintf(key, sizeof(key), "bench/tw%d", i);
		assert_int_equal(reflector_store_get(s, key, &got), 0);
		assert_true(cJSON_Compare(want, got, 1));
		cJSON_Delete(want);
		cJSON_Delete(got);
	}
	/* ~1 KiB of text each; held, with keys and versions, under a
	 * quarter of it. */
	print_message("text %zu bytes each, held %zu\n", text / N, reflector_store_bytes(s) / N);
	assert_true(text / N > 1000);
	assert_true(reflector_store_bytes(s) < text / 4);
	/* An object unlike the first (no dictionary to speak of) still
	 * round-trips, deflated alone or kept as it is. */
	cJSON *odd = obj("other", "x", "9");
	cJSON_AddStringToObject(odd, "blob", "qwertyuiopasdfghjklzxcvbnm0123456789");
	cJSON *copy = cJSON_Duplicate(odd, 1), *got = NULL;
	assert_int_equal(reflector_store_apply(s, KUBE_WATCH_ADDED, odd, NULL, NULL), 0);
	assert_int_equal(reflector_store_get(s, "other/x", &got), 0);
	assert_true(cJSON_Compare(copy, got, 1));
	cJSON_Delete(copy);
	cJSON_Delete(got);
	reflector_store_free(s);
}

static void test_list_failed_midway_then_complete(void **state)
{
	static const char *const held[] = {"a", "b", "c", NULL};
	struct reflector_store *s = store_with(0, "1", held);
	struct reflector_replace_result res = {0};
	struct log l = {0};

	(void)state;
	/* A listing that fails after one page (the API server gone, a 410 on
	 * the continue token): its page stays applied, nothing is deleted. */
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "a", "2"), obj("ns", "x", "1"), NULL),
	                              record, &l, &res),
	    0);
	reflector_store_list_abort(s);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.lines[0], "updated ns/a rv=2 old=1");
	assert_string_equal(l.lines[1], "added ns/x rv=1 old=-");
	assert_int_equal(reflector_store_len(s), 4);
	/* No listing open: a page or an end is refused (the page freed). */
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "y", "1"), NULL), record, &l, NULL),
	    REFLECTOR_EINVAL);
	assert_int_equal(reflector_store_list_end(s, record, &l, NULL), REFLECTOR_EINVAL);
	reflector_store_list_abort(s); /* twice is harmless */
	assert_int_equal(l.n, 2);
	assert_int_equal(reflector_store_len(s), 4);

	/* The retried listing, complete: what the failed one saw counts for
	 * nothing; what is absent now goes. */
	l.n = 0;
	memset(&res, 0, sizeof(res));
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "a", "2"), NULL), record, &l, &res), 0);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "b", "1"), NULL), record, &l, &res), 0);
	assert_int_equal(reflector_store_list_end(s, record, &l, &res), 0);
	assert_int_equal(l.n, 2);
	assert_true(has_line(&l, "deleted ns/c rv=- old=1"));
	assert_true(has_line(&l, "deleted ns/x rv=- old=1"));
	assert_int_equal(res.unchanged, 2);
	assert_int_equal(res.deleted, 2);
	assert_int_equal(reflector_store_len(s), 2);

	/* A listing begun again before its end starts over: the first one's
	 * marks count for nothing. */
	l.n = 0;
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "a", "2"), NULL), record, &l, NULL), 0);
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "b", "1"), NULL), record, &l, NULL), 0);
	assert_int_equal(reflector_store_list_end(s, record, &l, NULL), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.lines[0], "deleted ns/a rv=- old=2");

	/* A page that is not an array: refused, nothing stored, the listing
	 * still open (the caller aborts). */
	reflector_store_list_begin(s);
	assert_int_equal(reflector_store_list_page(s, cJSON_CreateObject(), record, &l, NULL),
	                 REFLECTOR_EINVAL);
	reflector_store_list_abort(s);
	assert_int_equal(reflector_store_len(s), 1);
	reflector_store_free(s);
}

static void test_list_watch_events_meanwhile(void **state)
{
	static const char *const held[] = {"old", NULL};
	struct reflector_store *s = store_with(2, "1", held);
	struct log l = {0};

	(void)state;
	/* Events applied while a listing is open are newer than it: what they
	 * store counts as seen, what they delete is forgotten by it. */
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "p", "1"), obj("ns", "q", "1"), NULL),
	                              record, &l, NULL),
	    0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_DELETED, obj("ns", "p", "2"), record, &l), 0);
	/* p's place is free again: r fits in the two the listing keeps. */
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "r", "1"), NULL), record, &l, NULL), 0);
	assert_int_equal(reflector_store_list_end(s, record, &l, NULL), 0);
	assert_true(has_line(&l, "deleted ns/old rv=- old=1"));
	assert_int_equal(reflector_store_len(s), 2);
	assert_true(holds(s, "ns/q", "1"));
	assert_true(holds(s, "ns/r", "1"));

	reflector_store_free(s);
	s = store_with(0, "1", held);
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "w", "5"), NULL, NULL), 0);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "old", "6"), NULL, NULL), 0);
	assert_int_equal(reflector_store_list_end(s, NULL, NULL, NULL), 0);
	assert_int_equal(reflector_store_len(s), 2);
	assert_true(holds(s, "ns/w", "5"));
	assert_true(holds(s, "ns/old", "6"));
	reflector_store_free(s);
}

static void test_list_bounded(void **state)
{
	static const char *const held[] = {"a", "b", "c", NULL};
	struct reflector_store *s = store_with(3, "1", held);
	struct reflector_replace_result res = {0};
	struct log l = {0};

	(void)state;
	/* Full outside a listing: a new key is refused. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "z", "1"), NULL, NULL),
	    REFLECTOR_EFULL);
	/* In a listing the stale ones do not count: d, e and f are the first
	 * three keys it sees (the store holds six meanwhile: 2 * max). */
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "d", "1"), obj("ns", "e", "1"), NULL),
	                              record, &l, &res),
	    0);
	assert_int_equal(
	    reflector_store_list_page(
	        s, array_of(obj("ns", "f", "1"), obj("ns", "a", "1"), obj("ns", "g", "1"), NULL),
	        record, &l, &res),
	    REFLECTOR_EFULL);
	assert_int_equal(reflector_store_len(s), 6);
	/* Seeing d again takes no second place. */
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "d", "2"), NULL), record, &l, &res), 0);
	assert_int_equal(reflector_store_list_end(s, record, &l, &res), 0);
	assert_int_equal(res.added, 3);
	assert_int_equal(res.updated, 1);
	assert_int_equal(res.dropped, 2); /* a (held, listed past the bound) and g */
	assert_int_equal(res.deleted, 3); /* a, b, c */
	assert_int_equal(reflector_store_len(s), 3);
	assert_true(holds(s, "ns/d", "2"));
	assert_true(holds(s, "ns/e", "1"));
	assert_true(holds(s, "ns/f", "1"));
	assert_false(holds(s, "ns/a", NULL));
	/* A failed listing may leave more than max held: new keys wait for
	 * the next complete one, updates go on. */
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "h", "1"), NULL), NULL, NULL, NULL), 0);
	reflector_store_list_abort(s);
	assert_int_equal(reflector_store_len(s), 4);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", "i", "1"), NULL, NULL),
	    REFLECTOR_EFULL);
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "h", "2"), NULL, NULL), 0);
	reflector_store_list_begin(s);
	assert_int_equal(
	    reflector_store_list_page(s, array_of(obj("ns", "h", "2"), obj("ns", "i", "1"), NULL),
	                              NULL, NULL, NULL),
	    0);
	assert_int_equal(reflector_store_list_end(s, NULL, NULL, NULL), 0);
	assert_int_equal(reflector_store_len(s), 2);
	reflector_store_free(s);
}

/* ---------------------------------------------------------------- foreach */

static int count_keys(const char *key, const cJSON *o, void *opaque)
{
	char k[REFLECTOR_KEY_MAX];

	assert_int_equal(reflector_object_key(o, k, sizeof(k)), 0);
	assert_string_equal(k, key);
	++*(int *)opaque;
	return 0;
}

static int stop_at_two(const char *key, const cJSON *o, void *opaque)
{
	(void)key;
	(void)o;
	return ++*(int *)opaque == 2 ? 7 : 0;
}

static void test_foreach(void **state)
{
	struct reflector_store *s;
	int n = 0;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	for (int i = 0; i < 50; i++) {
		char name[16];

		snprintf(name, sizeof(name), "o%d", i);
		assert_int_equal(
		    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", name, "1"), NULL, NULL),
		    0);
	}
	assert_int_equal(reflector_store_foreach(s, count_keys, &n), 0);
	assert_int_equal(n, 50);
	n = 0;
	assert_int_equal(reflector_store_foreach(s, stop_at_two, &n), 7);
	assert_int_equal(n, 2);
	reflector_store_free(s);
}

struct key_walk {
	int n, sum, without_rv;
};

static int walk_keys(const char *key, const char *rv, void *opaque)
{
	struct key_walk *w = opaque;

	assert_non_null(key);
	assert_non_null(rv);
	if (rv[0] == '\0')
		w->without_rv++;
	else
		w->sum += atoi(rv);
	w->n++;
	return w->n == 1000 ? 9 : 0;
}

/* The key walk sees every key with its resourceVersion, parses nothing,
 * and stops where fn says so; the rv lookup answers without a parse,
 * refuses a buffer too small, and follows updates and deletes. */
static void test_foreach_key_and_rv(void **state)
{
	struct reflector_store *s;
	struct key_walk w = {0};
	char rv[32];
	cJSON *bare;

	(void)state;
	assert_int_equal(reflector_store_new(&s, 0), 0);
	assert_int_equal(reflector_store_foreach_key(s, walk_keys, &w), 0);
	assert_int_equal(w.n, 0);
	for (int i = 1; i <= 40; i++) {
		char name[16], v[16];

		snprintf(name, sizeof(name), "o%d", i);
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(
		    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", name, v), NULL, NULL), 0);
	}
	/* An object without a resourceVersion. */
	bare = obj("ns", "bare", "1");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(bare, "metadata"),
	                                        "resourceVersion");
	assert_int_equal(reflector_store_apply(s, KUBE_WATCH_ADDED, bare, NULL, NULL), 0);
	assert_int_equal(reflector_store_foreach_key(s, walk_keys, &w), 0);
	assert_int_equal(w.n, 41);
	assert_int_equal(w.sum, 40 * 41 / 2);
	assert_int_equal(w.without_rv, 1);

	assert_int_equal(reflector_store_rv(s, "ns/o7", rv, sizeof(rv)), 0);
	assert_string_equal(rv, "7");
	assert_int_equal(reflector_store_rv(s, "ns/bare", rv, sizeof(rv)), 0);
	assert_string_equal(rv, "");
	assert_int_equal(reflector_store_rv(s, "ns/none", rv, sizeof(rv)), REFLECTOR_ENOTFOUND);
	assert_string_equal(rv, "");
	assert_int_equal(reflector_store_rv(s, NULL, rv, sizeof(rv)), REFLECTOR_ENOTFOUND);
	/* "17" needs 3 bytes. */
	assert_int_equal(reflector_store_rv(s, "ns/o17", rv, 3), 0);
	assert_string_equal(rv, "17");
	assert_int_equal(reflector_store_rv(s, "ns/o17", rv, 2), REFLECTOR_EINVAL);
	assert_string_equal(rv, "");
	assert_int_equal(reflector_store_rv(s, "ns/o17", rv, 0), REFLECTOR_EINVAL);

	/* An update moves it, a delete removes it. */
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_MODIFIED, obj("ns", "o7", "107"), NULL, NULL), 0);
	assert_int_equal(reflector_store_rv(s, "ns/o7", rv, sizeof(rv)), 0);
	assert_string_equal(rv, "107");
	assert_int_equal(
	    reflector_store_apply(s, KUBE_WATCH_DELETED, obj("ns", "o7", "108"), NULL, NULL), 0);
	assert_int_equal(reflector_store_rv(s, "ns/o7", rv, sizeof(rv)), REFLECTOR_ENOTFOUND);

	/* The walk stops at fn's non-zero. */
	for (int i = 41; i <= 1200; i++) {
		char name[16];

		snprintf(name, sizeof(name), "o%d", i);
		assert_int_equal(
		    reflector_store_apply(s, KUBE_WATCH_ADDED, obj("ns", name, "5"), NULL, NULL),
		    0);
	}
	w = (struct key_walk){0};
	assert_int_equal(reflector_store_foreach_key(s, walk_keys, &w), 9);
	assert_int_equal(w.n, 1000);
	reflector_store_free(s);
}

/* ---------------------------------------------------------------- threads */

static struct {
	struct reflector_store *s;
	atomic_int done;
	atomic_long reads;
} race;

static int check_one(const char *key, const cJSON *o, void *opaque)
{
	(void)key;
	(void)opaque;
	assert_non_null(rv_of(o));
	return 0;
}

static void *reader_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&race.done)) {
		cJSON *copy = NULL;
		int rc = reflector_store_get(race.s, "ns/hot", &copy);

		if (rc == 0) {
			assert_string_equal(
			    cJSON_GetObjectItemCaseSensitive(
			        cJSON_GetObjectItemCaseSensitive(copy, "metadata"), "name")
			        ->valuestring,
			    "hot");
			cJSON_Delete(copy);
		} else {
			assert_int_equal(rc, REFLECTOR_ENOTFOUND);
		}
		(void)reflector_store_len(race.s);
		reflector_store_foreach(race.s, check_one, NULL);
		{
			char rv[32];
			int rc2 = reflector_store_rv(race.s, "ns/hot", rv, sizeof(rv));
			assert_true(rc2 == 0 || rc2 == REFLECTOR_ENOTFOUND);
		}
		atomic_fetch_add(&race.reads, 1);
	}
	return NULL;
}

static void test_readers_while_the_writer_writes(void **state)
{
	pthread_t t[3];

	(void)state;
	assert_int_equal(reflector_store_new(&race.s, 0), 0);
	atomic_store(&race.done, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, NULL), 0);
	/* Writing goes on until the readers have read too: on a busy machine
	 * they may not be scheduled before 3000 writes are done. */
	for (int i = 0; i < 3000 || atomic_load(&race.reads) < 3; i++) {
		char rv[16];

		snprintf(rv, sizeof(rv), "%d", i + 1);
		if (i % 100 == 99) {
			assert_int_equal(
			    reflector_store_replace(
			        race.s, array_of(obj("ns", "hot", rv), obj("ns", "cold", rv), NULL),
			        NULL, NULL, NULL),
			    0);
		} else if (i % 10 == 9) {
			assert_int_equal(reflector_store_apply(race.s, KUBE_WATCH_DELETED,
			                                       obj("ns", "hot", rv), NULL, NULL),
			                 0);
		} else {
			assert_int_equal(reflector_store_apply(race.s, KUBE_WATCH_MODIFIED,
			                                       obj("ns", "hot", rv), NULL, NULL),
			                 0);
		}
	}
	atomic_store(&race.done, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_true(atomic_load(&race.reads) > 0);
	reflector_store_free(race.s);
}

/* ---------------------------------------------------------------- backoff */

static void test_backoff_curve(void **state)
{
	(void)state;
	/* client-go's defaults: 800 ms doubling to 30 s; each wait in [d/2, d]. */
	assert_int_equal(reflector_backoff_ms(0, 800, 30000, 1.0), 800);
	assert_int_equal(reflector_backoff_ms(0, 800, 30000, 0.0), 400);
	assert_int_equal(reflector_backoff_ms(1, 800, 30000, 1.0), 1600);
	assert_int_equal(reflector_backoff_ms(5, 800, 30000, 1.0), 25600);
	assert_int_equal(reflector_backoff_ms(6, 800, 30000, 1.0), 30000);
	assert_int_equal(reflector_backoff_ms(6, 800, 30000, 0.0), 15000);
	assert_int_equal(reflector_backoff_ms(1000, 800, 30000, 0.5), 22500);
	/* Out-of-range randomness is clamped. */
	assert_int_equal(reflector_backoff_ms(0, 800, 30000, 7.0), 800);
	assert_int_equal(reflector_backoff_ms(0, 800, 30000, -1.0), 400);
	for (unsigned n = 0; n < 70; n++)
		for (double r = 0; r <= 1.0; r += 0.25) {
			int64_t ms = reflector_backoff_ms(n, 50, 1000, r);

			assert_true(ms >= 25 && ms <= 1000);
		}
}

/* ---------------------------------------------------------------- options */

static void test_new_checks_options(void **state)
{
	struct reflector *r;
	struct reflector_options o;
	struct reflector_stats st;
	char err[256];
	atomic_int stop = 0;
	/* Never used for I/O here: reflector_new does none. */
	struct kube_client *fake = (struct kube_client *)&stop;
	char long_group[200];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.client = fake;
	o.ref = (struct kube_ref){"sluice.dev", "v1alpha1", "videojobs", NULL, NULL, NULL};
	assert_int_equal(reflector_new(&r, &o, err, sizeof(err)), REFLECTOR_EINVAL);
	assert_string_equal(err, "reflector: client and stop are required");
	o.stop = &stop;
	o.ref.name = "x";
	assert_int_equal(reflector_new(&r, &o, err, sizeof(err)), REFLECTOR_EINVAL);
	assert_non_null(strstr(err, "no name"));
	o.ref.name = NULL;
	o.ref.version = NULL;
	assert_int_equal(reflector_new(&r, &o, err, sizeof(err)), REFLECTOR_EINVAL);
	assert_string_equal(err, "reflector: ref.version is required");
	o.ref.version = "v1alpha1";
	memset(long_group, 'g', sizeof(long_group) - 1);
	long_group[sizeof(long_group) - 1] = '\0';
	o.ref.group = long_group;
	assert_int_equal(reflector_new(&r, &o, err, sizeof(err)), REFLECTOR_EINVAL);
	assert_string_equal(err, "reflector: ref.group is too long");
	o.ref.group = "sluice.dev";
	o.page_size = -1;
	assert_int_equal(reflector_new(&r, &o, NULL, 0), REFLECTOR_EINVAL);
	o.page_size = 0;

	o.label_selector = "app=sluice";
	assert_int_equal(reflector_new(&r, &o, err, sizeof(err)), 0);
	reflector_stats(r, &st);
	assert_int_equal(st.lists, 0);
	assert_int_equal(st.synced, 0);
	assert_int_equal(st.objects, 0);
	assert_string_equal(st.resource_version, "");
	assert_false(reflector_synced(r));
	assert_non_null(reflector_get_store(r));
	assert_int_equal(reflector_store_len(reflector_get_store(r)), 0);
	reflector_free(r);
	reflector_free(NULL);
	assert_string_equal(reflector_event_name((enum reflector_event)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_object_key),
	    cmocka_unit_test(test_apply_add_update_delete),
	    cmocka_unit_test(test_apply_without_handler_and_other_types),
	    cmocka_unit_test(test_get_is_a_deep_copy),
	    cmocka_unit_test(test_objects_are_trimmed_and_survive_the_round_trip),
	    cmocka_unit_test(test_metadata_projection),
	    cmocka_unit_test(test_apply_bounded),
	    cmocka_unit_test(test_replace_reports_the_difference),
	    cmocka_unit_test(test_replace_bounded),
	    cmocka_unit_test(test_list_pages_added_updated_unchanged_deleted),
	    cmocka_unit_test(test_list_items_one_by_one),
	    cmocka_unit_test(test_objects_held_compactly),
	    cmocka_unit_test(test_list_failed_midway_then_complete),
	    cmocka_unit_test(test_list_watch_events_meanwhile),
	    cmocka_unit_test(test_list_bounded),
	    cmocka_unit_test(test_foreach),
	    cmocka_unit_test(test_foreach_key_and_rv),
	    cmocka_unit_test(test_readers_while_the_writer_writes),
	    cmocka_unit_test(test_backoff_curve),
	    cmocka_unit_test(test_new_checks_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
