/* Unit tests for operator/scale_quiet.c: the quiet check over every
 * combination of what it looks at, eligibility over every combination of
 * a full poll's outcome, and the decision hash on scale_decide's own
 * idle runs (the same decision poll after poll, so a quiet resource's
 * polls are skipped; a change that time alone makes is seen). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "scale_quiet.h"

/* Every combination: each field unchanged or changed, found or not,
 * every since_full from 0 past full_every; the verdict is the first
 * reason in the enum's order. */
static void test_check_exhaustive(void **state)
{
	const struct quiet_memo base = {.obj_rv = 11, .dep_rv = 22, .end_sum = 1000};
	size_t skips = 0, total = 0;

	(void)state;
	for (uint32_t every = 0; every <= 4; every++)
		for (uint32_t since = 0; since <= 5; since++)
			for (int bits = 0; bits < 128; bits++) {
				struct quiet_memo m = base;
				struct quiet_seen s = {
				    .obj_found = !(bits & 1),
				    .obj_rv = (bits & 2) ? 12 : 11,
				    .dep_found = !(bits & 4),
				    .dep_rv = (bits & 8) ? 23 : 22,
				    .reader_ok = !(bits & 16),
				    .ends_ok = !(bits & 32),
				    .end_sum = (bits & 64) ? 1001 : 1000,
				};
				enum quiet_verdict want;

				m.since_full = since;
				if (since + 1 >= every)
					want = QUIET_FULL_DUE;
				else if (bits & 1)
					want = QUIET_FULL_GONE;
				else if (bits & 2)
					want = QUIET_FULL_EDITED;
				else if (bits & 12)
					want = QUIET_FULL_DEPLOY;
				else if (bits & 16)
					want = QUIET_FULL_READER;
				else if (bits & 32)
					want = QUIET_FULL_READ_ERR;
				else if (bits & 64)
					want = QUIET_FULL_INPUT;
				else
					want = QUIET_SKIP;
				assert_int_equal(quiet_check(&m, &s, every), want);
				skips += want == QUIET_SKIP;
				total++;
			}
	/* Skipped only with nothing changed and the full poll not due. */
	assert_int_equal(skips, 0 + 0 + 1 + 2 + 3);
	assert_int_equal(total, 5 * 6 * 128);
	/* QUIET_FULL_EVERY: 11 polls skipped, the 12th full. */
	struct quiet_memo m = base;
	const struct quiet_seen same = {1, 11, 1, 22, 1, 1, 1000};
	int skipped = 0;

	while (quiet_check(&m, &same, QUIET_FULL_EVERY) == QUIET_SKIP) {
		m.since_full++;
		skipped++;
	}
	assert_int_equal(skipped, QUIET_FULL_EVERY - 1);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(quiet_verdict_name(QUIET_SKIP), "skip");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_DUE), "due");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_GONE), "gone");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_EDITED), "edited");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_DEPLOY), "deployment");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_READER), "reader");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_READ_ERR), "read-error");
	assert_string_equal(quiet_verdict_name(QUIET_FULL_INPUT), "input");
	assert_string_equal(quiet_verdict_name((enum quiet_verdict)99), "unknown");
}

/* Every reason, lag 0 or not, read or not, paused or not, desired equal
 * to current or not, history idle or not: quiet only when all say
 * "nothing to do" and the reason is steady or idle. */
static void test_eligible_exhaustive(void **state)
{
	size_t yes = 0;

	(void)state;
	for (int reason = SCALE_STEADY; reason <= SCALE_DOWN_DRAIN; reason++)
		for (int bits = 0; bits < 32; bits++) {
			const struct quiet_outcome o = {
			    .read_ok = !(bits & 1),
			    .total_lag = (bits & 2) ? 5 : 0,
			    .desired = (bits & 4) ? 3 : 2,
			    .current = 2,
			    .paused = (bits & 8) != 0,
			    .reason = (enum scale_reason)reason,
			    .history_idle = !(bits & 16),
			};
			int want = bits == 0 && (reason == SCALE_STEADY || reason == SCALE_IDLE);

			assert_int_equal(quiet_eligible(&o), want);
			yes += (size_t)want;
		}
	assert_int_equal(yes, 2);
}

/* Idle polls through scale_decide: after the first reads, each poll's
 * decision hashes as the one before while nothing happens (steady at
 * min, idle at zero), and never 0; a cooldown that ends, or a different
 * decision, hashes otherwise. */
static void decide_run(struct scale_spec *spec, int32_t cur, int polls, int64_t *t,
                       struct scale_state *st, struct scale_decision *dec, uint64_t *first_stable,
                       int *changes)
{
	int64_t zeros[4] = {0};
	uint64_t prev = 0;

	*changes = 0;
	*first_stable = 0;
	for (int i = 0; i < polls; i++) {
		const struct scale_obs o = {.ok = 1,
		                            .partition_lag = zeros,
		                            .partitions = 4,
		                            .consumed = 500,
		                            .current_replicas = cur,
		                            .now_ms = *t,
		                            .ready_replicas = cur,
		                            .partition_still_ms = zeros,
		                            .paused_replicas = SCALE_NOT_PAUSED};
		uint64_t h;

		scale_decide(spec, st, &o, NULL, dec);
		h = quiet_decision_hash(dec);
		assert_int_not_equal(h, 0);
		if (i > 0 && h != prev)
			(*changes)++;
		if (i == polls / 2)
			*first_stable = h;
		prev = h;
		*t += spec->polling_interval_ms;
	}
}

static void test_decision_hash_on_idle_runs(void **state)
{
	struct scale_spec spec;
	struct scale_state st;
	struct scale_decision dec;
	int64_t t = 1700000000000LL;
	uint64_t h;
	int changes;

	(void)state;
	/* Steady at min 1: after the rates are known, the same hash. */
	scale_spec_defaults(&spec);
	spec.min_replicas = 1;
	memset(&st, 0, sizeof(st));
	decide_run(&spec, 1, 200, &t, &st, &dec, &h, &changes);
	assert_int_equal(dec.reason, SCALE_STEADY);
	assert_int_equal(scale_state_heap_bytes(&st), 0);
	assert_true(changes <= 2);
	decide_run(&spec, 1, 100, &t, &st, &dec, &h, &changes);
	assert_int_equal(changes, 0);
	scale_state_free(&st);

	/* Idle at zero (min 0): the same hash from the start on. */
	scale_spec_defaults(&spec);
	memset(&st, 0, sizeof(st));
	decide_run(&spec, 0, 200, &t, &st, &dec, &h, &changes);
	assert_int_equal(dec.reason, SCALE_IDLE);
	decide_run(&spec, 0, 100, &t, &st, &dec, &h, &changes);
	assert_int_equal(changes, 0);
	scale_state_free(&st);

	/* At 1 with min 0 and nothing arriving: the cooldown runs out, the
	 * decision changes (a quiet poll's decision would differ, so a full
	 * poll acts on it). Not eligible as quiet meanwhile either. */
	memset(&st, 0, sizeof(st));
	decide_run(&spec, 1, 3, &t, &st, &dec, &h, &changes);
	assert_int_equal(dec.reason, SCALE_COOLDOWN);
	h = quiet_decision_hash(&dec);
	decide_run(&spec, 1, (int)(spec.cooldown_period_ms / spec.polling_interval_ms) + 1, &t, &st,
	           &dec, &h, &changes);
	assert_int_equal(dec.reason, SCALE_TO_ZERO);
	assert_int_not_equal(quiet_decision_hash(&dec), h);
	scale_state_free(&st);

	/* Each field the hash covers changes it. */
	struct scale_decision a = {.desired = 1,
	                           .reason = SCALE_STEADY,
	                           .lag = 0,
	                           .lag_seconds = 0,
	                           .rates_known = 1,
	                           .rate_per_replica = 2.5,
	                           .input_rate = 0,
	                           .persistent_lag = 0};
	snprintf(a.reason_text, sizeof(a.reason_text), "lag 0: 1 replicas");
	const uint64_t ha = quiet_decision_hash(&a);
	struct scale_decision b;

	b = a, b.desired = 2;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.reason = SCALE_IDLE;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.lag = 1;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.lag_seconds = -1;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.rates_known = 0;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.rate_per_replica = 3;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.input_rate = 1;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.persistent_lag = 1;
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	b = a, b.reason_text[0] = 'L';
	assert_int_not_equal(quiet_decision_hash(&b), ha);
	/* What the hash leaves out (other rates while unknown) does not. */
	b = a, b.consume_rate = 9;
	assert_int_equal(quiet_decision_hash(&b), ha);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_exhaustive),
	    cmocka_unit_test(test_verdict_names),
	    cmocka_unit_test(test_eligible_exhaustive),
	    cmocka_unit_test(test_decision_hash_on_idle_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
