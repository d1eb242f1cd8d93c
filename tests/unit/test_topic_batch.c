/* Unit tests for operator/topic_batch.c (group commit of Kafka admin
 * requests): hand-picked cases, then every sequence of joins and returns up
 * to a length, checked step by step against a plain reference model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "topic_batch.h"

/* The members of a list linked by next, into ids (index in reqs). */
static size_t list_ids(const struct topic_batch_req *r, const struct topic_batch_req *reqs,
                       int *ids, size_t cap)
{
	size_t n = 0;

	for (; r != NULL && n < cap; r = r->next)
		ids[n++] = (int)(r - reqs);
	return n;
}

static void test_alone(void **state)
{
	struct topic_batch b = {0};
	struct topic_batch_req r[2];

	(void)state;
	assert_true(topic_batch_idle(&b));
	/* Nothing in flight: lead at once, alone (no added delay). */
	assert_int_equal(topic_batch_join(&b, &r[0]), TOPIC_BATCH_LEADING);
	assert_int_equal(r[0].state, TOPIC_BATCH_LEADING);
	assert_ptr_equal(b.run, &r[0]);
	assert_int_equal(b.running, 1);
	assert_null(r[0].next);
	assert_false(topic_batch_idle(&b));
	assert_null(topic_batch_done(&b, 64));
	assert_int_equal(r[0].state, TOPIC_BATCH_DONE);
	assert_true(topic_batch_idle(&b));
	/* Sequential calls each lead. */
	assert_int_equal(topic_batch_join(&b, &r[1]), TOPIC_BATCH_LEADING);
	assert_null(topic_batch_done(&b, 64));
	assert_int_equal(r[1].state, TOPIC_BATCH_DONE);
	assert_true(topic_batch_idle(&b));
}

static void test_coalesce(void **state)
{
	struct topic_batch b = {0};
	struct topic_batch_req r[5];
	int ids[8];

	(void)state;
	assert_int_equal(topic_batch_join(&b, &r[0]), TOPIC_BATCH_LEADING);
	/* While r0 is in flight, the rest queue. */
	for (int i = 1; i < 5; i++)
		assert_int_equal(topic_batch_join(&b, &r[i]), TOPIC_BATCH_QUEUED);
	assert_int_equal(b.queued, 4);
	/* r0 returns: the oldest queued leads all of them in one request. */
	assert_ptr_equal(topic_batch_done(&b, 64), &r[1]);
	assert_int_equal(r[0].state, TOPIC_BATCH_DONE);
	assert_int_equal(r[1].state, TOPIC_BATCH_LEADING);
	for (int i = 2; i < 5; i++)
		assert_int_equal(r[i].state, TOPIC_BATCH_RUNNING);
	assert_int_equal(list_ids(b.run, r, ids, 8), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ids[i], i + 1);
	assert_int_equal(b.running, 4);
	assert_int_equal(b.queued, 0);
	assert_null(b.head);
	assert_null(b.tail);
	assert_null(topic_batch_done(&b, 64));
	for (int i = 0; i < 5; i++)
		assert_int_equal(r[i].state, TOPIC_BATCH_DONE);
	assert_true(topic_batch_idle(&b));
}

static void test_max(void **state)
{
	struct topic_batch b = {0};
	struct topic_batch_req r[6];
	int ids[8];

	(void)state;
	topic_batch_join(&b, &r[0]);
	for (int i = 1; i < 6; i++)
		topic_batch_join(&b, &r[i]);
	/* At most max per request, oldest first; the rest wait their turn. */
	assert_ptr_equal(topic_batch_done(&b, 2), &r[1]);
	assert_int_equal(list_ids(b.run, r, ids, 8), 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 2);
	assert_int_equal(b.queued, 3);
	assert_int_equal(r[3].state, TOPIC_BATCH_QUEUED);
	/* A newcomer queues behind them. */
	struct topic_batch_req late;
	assert_int_equal(topic_batch_join(&b, &late), TOPIC_BATCH_QUEUED);
	assert_ptr_equal(b.tail, &late);
	assert_ptr_equal(topic_batch_done(&b, 2), &r[3]);
	assert_int_equal(list_ids(b.run, r, ids, 8), 2);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 4);
	assert_int_equal(r[1].state, TOPIC_BATCH_DONE);
	assert_int_equal(r[2].state, TOPIC_BATCH_DONE);
	assert_int_equal(r[5].state, TOPIC_BATCH_QUEUED);
	/* max 0 counts as 1. */
	assert_ptr_equal(topic_batch_done(&b, 0), &r[5]);
	assert_int_equal(b.running, 1);
	assert_null(r[5].next);
	assert_int_equal(late.state, TOPIC_BATCH_QUEUED);
	assert_ptr_equal(topic_batch_done(&b, 0), &late);
	assert_ptr_equal(b.head, NULL);
	assert_null(topic_batch_done(&b, 0));
	assert_int_equal(late.state, TOPIC_BATCH_DONE);
	assert_true(topic_batch_idle(&b));
}

/* The reference model: ids in flight and queued, in order. */
#define SEQ_LEN 10
#define NREQ (SEQ_LEN + 1)
struct model {
	int run[NREQ], nrun;
	int queue[NREQ], nqueue;
	enum topic_batch_state state[NREQ];
	int joined;
};

static void model_join(struct model *m)
{
	int id = m->joined++;

	if (m->nrun == 0 && m->nqueue == 0) {
		m->run[m->nrun++] = id;
		m->state[id] = TOPIC_BATCH_LEADING;
	} else {
		m->queue[m->nqueue++] = id;
		m->state[id] = TOPIC_BATCH_QUEUED;
	}
}

static void model_done(struct model *m, int max)
{
	int take;

	for (int i = 0; i < m->nrun; i++)
		m->state[m->run[i]] = TOPIC_BATCH_DONE;
	if (max < 1)
		max = 1;
	take = m->nqueue < max ? m->nqueue : max;
	for (int i = 0; i < take; i++) {
		m->run[i] = m->queue[i];
		m->state[m->queue[i]] = i == 0 ? TOPIC_BATCH_LEADING : TOPIC_BATCH_RUNNING;
	}
	m->nrun = take;
	memmove(m->queue, m->queue + take, (size_t)(m->nqueue - take) * sizeof(int));
	m->nqueue -= take;
}

/* b and reqs agree with m: lists, lengths, every state. */
static void check(const struct topic_batch *b, const struct topic_batch_req *reqs,
                  const struct model *m)
{
	int ids[NREQ + 1];
	size_t n = list_ids(b->run, reqs, ids, NREQ + 1);

	assert_int_equal(n, m->nrun);
	assert_int_equal(b->running, m->nrun);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], m->run[i]);
	n = list_ids(b->head, reqs, ids, NREQ + 1);
	assert_int_equal(n, m->nqueue);
	assert_int_equal(b->queued, m->nqueue);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], m->queue[i]);
	if (m->nqueue > 0)
		assert_ptr_equal(b->tail, &reqs[m->queue[m->nqueue - 1]]);
	else
		assert_null(b->tail);
	assert_int_equal(topic_batch_idle(b), m->nrun == 0 && m->nqueue == 0);
	for (int i = 0; i < m->joined; i++)
		assert_int_equal(reqs[i].state, m->state[i]);
	/* Something queued always has something in flight ahead of it. */
	if (m->nqueue > 0)
		assert_true(m->nrun > 0);
}

/* Every sequence of SEQ_LEN steps, each a join or a return with max 1, 2
 * or 3 (a return only while a request is in flight). */
static void test_every_sequence(void **state)
{
	unsigned long long total = 1, sequences = 0;

	(void)state;
	for (int i = 0; i < SEQ_LEN; i++)
		total *= 4;
	for (unsigned long long code = 0; code < total; code++) {
		struct topic_batch b = {0};
		struct topic_batch_req reqs[NREQ];
		struct model m;
		unsigned long long c = code;
		int valid = 1;

		memset(&m, 0, sizeof(m));
		memset(reqs, 0, sizeof(reqs));
		for (int step = 0; step < SEQ_LEN && valid; step++, c /= 4) {
			int op = (int)(c % 4);

			if (op == 0) {
				enum topic_batch_state want;

				model_join(&m);
				want = m.state[m.joined - 1];
				assert_int_equal(topic_batch_join(&b, &reqs[m.joined - 1]), want);
			} else if (m.nrun == 0) {
				valid = 0; /* a return with nothing in flight: not a sequence */
				break;
			} else {
				struct topic_batch_req *lead = topic_batch_done(&b, (size_t)op);

				model_done(&m, op);
				if (m.nrun > 0)
					assert_ptr_equal(lead, &reqs[m.run[0]]);
				else
					assert_null(lead);
			}
			check(&b, reqs, &m);
		}
		if (!valid)
			continue;
		sequences++;
		/* Draining answers everyone, each exactly once. */
		while (m.nrun > 0) {
			topic_batch_done(&b, 3);
			model_done(&m, 3);
			check(&b, reqs, &m);
		}
		for (int i = 0; i < m.joined; i++)
			assert_int_equal(reqs[i].state, TOPIC_BATCH_DONE);
		assert_true(topic_batch_idle(&b));
	}
	assert_true(sequences > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alone),
	    cmocka_unit_test(test_coalesce),
	    cmocka_unit_test(test_max),
	    cmocka_unit_test(test_every_sequence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
