/* Unit tests for workers/video/watch_settle.c: when a file counts as
 * written, on a fake clock. Tables of scans (what each listing shows, at
 * what time, and what the tracker must say), then the bound, forgetting,
 * the next due time and vanished files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch_settle.h"

#define SEC INT64_C(1000)
#define T0 INT64_C(5000000) /* any monotonic start */
#define W WATCH_SETTLE_WAIT
#define R WATCH_SETTLE_READY
#define MAX_STEPS 12

/* One observation of one file: at t (ms after T0) it has size and mtime
 * (s); the tracker must answer want (and is_new). */
struct obs {
	int64_t t;
	int64_t size, mtime;
	int want, is_new;
};

struct settle_case {
	const char *name;
	int64_t settle_ms;
	struct obs steps[MAX_STEPS];
	int n;
};

/* clang-format off */
static const struct settle_case cases[] = {
    {"unchanged for settle: ready", 10 * SEC,
     {{0, 100, 1, W, 1}, {5 * SEC, 100, 1, W, 0}, {10 * SEC, 100, 1, R, 0}}, 3},
    {"ready exactly at settle, not a millisecond before", 10 * SEC,
     {{0, 100, 1, W, 1}, {10 * SEC - 1, 100, 1, W, 0}, {10 * SEC, 100, 1, R, 0}}, 3},
    {"growing file waits from its last change", 10 * SEC,
     {{0, 100, 1, W, 1}, {4 * SEC, 200, 2, W, 0}, {8 * SEC, 300, 3, W, 0},
      {12 * SEC, 300, 3, W, 0}, {17 * SEC, 300, 3, W, 0}, {18 * SEC, 300, 3, R, 0}}, 6},
    {"size changes alone restart the wait (mtime kept by the writer)", 10 * SEC,
     {{0, 100, 7, W, 1}, {9 * SEC, 150, 7, W, 0}, {18 * SEC, 150, 7, W, 0},
      {19 * SEC, 150, 7, R, 0}}, 4},
    {"mtime changes alone restart the wait (rewritten in place)", 10 * SEC,
     {{0, 100, 7, W, 1}, {9 * SEC, 100, 8, W, 0}, {19 * SEC, 100, 8, R, 0}}, 3},
    {"a file that shrinks (truncated, rewritten) waits again", 5 * SEC,
     {{0, 500, 1, W, 1}, {5 * SEC, 500, 1, R, 0}, {6 * SEC, 10, 2, W, 0},
      {11 * SEC, 10, 2, R, 0}}, 4},
    {"settle 0: ready at first sight", 0,
     {{0, 1, 1, R, 1}, {1, 2, 2, R, 0}}, 2},
    {"empty file settles like any other", 2 * SEC,
     {{0, 0, 1, W, 1}, {2 * SEC, 0, 1, R, 0}}, 2},
    {"long settle (a day)", 86400 * SEC,
     {{0, 1, 1, W, 1}, {86399 * SEC, 1, 1, W, 0}, {86400 * SEC, 1, 1, R, 0}}, 3},
    {"the clock going back never makes a file ready early", 10 * SEC,
     {{10 * SEC, 1, 1, W, 1}, {0, 1, 1, W, 0}, {19 * SEC, 1, 1, W, 0},
      {20 * SEC, 1, 1, R, 0}}, 4},
    {"mtime from a writer whose clock is hours off does not matter", 3 * SEC,
     {{0, 9, 2000000000, W, 1}, {3 * SEC, 9, 2000000000, R, 0}}, 2},
};
/* clang-format on */

static void test_cases(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct settle_case *k = &cases[c];
		struct watch_settle *t;

		assert_int_equal(watch_settle_new(&t, k->settle_ms, 10), 0);
		for (int i = 0; i < k->n; i++) {
			const struct obs *o = &k->steps[i];
			int is_new = -1, rc;

			watch_settle_begin(t);
			rc = watch_settle_observe(t, "a.mp4", o->size, o->mtime * 1000000000LL,
			                          T0 + o->t, &is_new);
			if (rc != o->want || is_new != o->is_new)
				fail_msg("%s, step %d: got %d (new %d), want %d (new %d)", k->name,
				         i, rc, is_new, o->want, o->is_new);
			assert_int_equal(watch_settle_end(t), 0);
		}
		watch_settle_free(t);
	}
}

static void test_vanished_files_are_dropped(void **state)
{
	struct watch_settle *t;
	int is_new;

	(void)state;
	assert_int_equal(watch_settle_new(&t, 10 * SEC, 10), 0);
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 1, 1, T0, &is_new), W);
	assert_int_equal(watch_settle_observe(t, "b", 1, 1, T0, &is_new), W);
	assert_int_equal(watch_settle_observe(t, "c", 1, 1, T0, &is_new), W);
	assert_int_equal(watch_settle_end(t), 0);
	assert_int_equal(watch_settle_len(t), 3);
	/* b goes away (deleted, renamed): its entry with it. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 1, 1, T0 + SEC, &is_new), W);
	assert_int_equal(watch_settle_observe(t, "c", 1, 1, T0 + SEC, &is_new), W);
	assert_int_equal(watch_settle_end(t), 1);
	assert_int_equal(watch_settle_len(t), 2);
	assert_false(watch_settle_tracked(t, "b"));
	assert_true(watch_settle_tracked(t, "a"));
	/* b back again: new, and its wait starts over. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "b", 1, 1, T0 + 10 * SEC, &is_new), W);
	assert_int_equal(is_new, 1);
	assert_int_equal(watch_settle_observe(t, "a", 1, 1, T0 + 10 * SEC, &is_new), R);
	assert_int_equal(watch_settle_observe(t, "c", 1, 1, T0 + 10 * SEC, &is_new), R);
	assert_int_equal(watch_settle_end(t), 0);
	/* A scan that lists nothing (the folder emptied) drops everything. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_end(t), 3);
	assert_int_equal(watch_settle_len(t), 0);
	assert_int_equal(watch_settle_end(t), 0);
	watch_settle_free(t);
}

static void test_bound(void **state)
{
	struct watch_settle *t;
	char name[32];
	int is_new;

	(void)state;
	assert_int_equal(watch_settle_new(&t, 0, 3), 0);
	watch_settle_begin(t);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(watch_settle_observe(t, name, 1, 1, T0, &is_new), R);
		assert_int_equal(is_new, 1);
	}
	/* Full: a fourth name is not tracked, and not reported new. */
	is_new = -1;
	assert_int_equal(watch_settle_observe(t, "f3", 1, 1, T0, &is_new), WATCH_SETTLE_EFULL);
	assert_int_equal(is_new, 0);
	assert_false(watch_settle_tracked(t, "f3"));
	/* Known names still answer. */
	assert_int_equal(watch_settle_observe(t, "f0", 1, 1, T0, &is_new), R);
	/* Room again once one is taken. */
	watch_settle_forget(t, "f1");
	assert_int_equal(watch_settle_observe(t, "f3", 1, 1, T0, &is_new), R);
	assert_int_equal(is_new, 1);
	assert_int_equal(watch_settle_len(t), 3);
	watch_settle_free(t);

	/* Bad arguments. */
	assert_int_equal(watch_settle_new(&t, 0, 0), WATCH_SETTLE_ENOMEM);
	assert_null(t);
	assert_int_equal(watch_settle_new(&t, -1, 10), WATCH_SETTLE_ENOMEM);
	watch_settle_free(NULL);
}

static void test_forget(void **state)
{
	struct watch_settle *t;
	int is_new;

	(void)state;
	assert_int_equal(watch_settle_new(&t, 5 * SEC, 10), 0);
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 1, 1, T0, &is_new), W);
	watch_settle_forget(t, "a");
	watch_settle_forget(t, "never-seen");
	assert_int_equal(watch_settle_len(t), 0);
	assert_int_equal(watch_settle_end(t), 0);
	/* Forgotten, then listed again (its marker could not be written):
	 * new again, waiting again. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 1, 1, T0 + 60 * SEC, &is_new), W);
	assert_int_equal(is_new, 1);
	watch_settle_free(t);
}

static void test_next_due(void **state)
{
	struct watch_settle *t;
	int is_new;

	(void)state;
	assert_int_equal(watch_settle_new(&t, 10 * SEC, 10), 0);
	assert_int_equal(watch_settle_next_due(t), -1);
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 1, 1, T0, &is_new), W);
	assert_int_equal(watch_settle_observe(t, "b", 1, 1, T0 + 3 * SEC, &is_new), W);
	watch_settle_end(t);
	assert_int_equal(watch_settle_next_due(t), T0 + 10 * SEC);
	/* a changes: b is now the earliest. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 2, 2, T0 + 5 * SEC, &is_new), W);
	assert_int_equal(watch_settle_observe(t, "b", 1, 1, T0 + 5 * SEC, &is_new), W);
	watch_settle_end(t);
	assert_int_equal(watch_settle_next_due(t), T0 + 13 * SEC);
	/* b ready (the caller retries it on its own timer): a is next. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 2, 2, T0 + 13 * SEC, &is_new), W);
	assert_int_equal(watch_settle_observe(t, "b", 1, 1, T0 + 13 * SEC, &is_new), R);
	watch_settle_end(t);
	assert_int_equal(watch_settle_next_due(t), T0 + 15 * SEC);
	/* Everything ready: nothing is due. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 2, 2, T0 + 15 * SEC, &is_new), R);
	assert_int_equal(watch_settle_observe(t, "b", 1, 1, T0 + 15 * SEC, &is_new), R);
	watch_settle_end(t);
	assert_int_equal(watch_settle_next_due(t), -1);
	/* A ready file that changes waits again, and is due again. */
	watch_settle_begin(t);
	assert_int_equal(watch_settle_observe(t, "a", 3, 3, T0 + 16 * SEC, &is_new), W);
	watch_settle_end(t);
	assert_int_equal(watch_settle_next_due(t), T0 + 26 * SEC);
	watch_settle_free(t);
}

/* Many files over many scans, against a model kept here: every file is
 * ready exactly settle after its last change, never before. */
static void test_sweep_against_model(void **state)
{
	enum { FILES = 40, SCANS = 200 };
	struct {
		int64_t size, since;
		int present;
	} model[FILES];
	struct watch_settle *t;
	unsigned seed = 12345;
	char name[16];

	(void)state;
	memset(model, 0, sizeof(model));
	assert_int_equal(watch_settle_new(&t, 7 * SEC, FILES), 0);
	for (int s = 0; s < SCANS; s++) {
		int64_t now = T0 + s * 500;

		watch_settle_begin(t);
		for (int f = 0; f < FILES; f++) {
			int is_new, rc, r;

			seed = seed * 1103515245u + 12345u;
			r = (int)((seed >> 16) % 100);
			if (r < 3) { /* deleted */
				model[f].present = 0;
				continue;
			}
			if (!model[f].present) {
				if (r >= 40)
					continue; /* not there yet */
				model[f].present = 1;
				model[f].size = 1;
				model[f].since = now;
			} else if (r < 15) { /* written to */
				model[f].size++;
				model[f].since = now;
			}
			snprintf(name, sizeof(name), "f%d", f);
			rc = watch_settle_observe(t, name, model[f].size, 0, now, &is_new);
			assert_int_equal(rc, now - model[f].since >= 7 * SEC ? R : W);
		}
		watch_settle_end(t);
		for (int f = 0; f < FILES; f++) {
			snprintf(name, sizeof(name), "f%d", f);
			assert_int_equal(watch_settle_tracked(t, name), model[f].present);
		}
	}
	watch_settle_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),    cmocka_unit_test(test_vanished_files_are_dropped),
	    cmocka_unit_test(test_bound),    cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_next_due), cmocka_unit_test(test_sweep_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
