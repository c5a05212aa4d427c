/*
 * test_queue.c - the MQTT hold queue: order, bounds and the eviction rule
 * (power-only messages go before cumulative-energy ones; when only energy
 * messages are left the oldest goes, and every loss is counted).
 *
 * Messages are synthetic: payload "p<N>" (power) or "e<N>" (energy), so a
 * test can say exactly which ones must survive.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sink/queue.h"

static void push(struct hm_queue *q, char kind, int n, int expect_rc)
{
	char p[16];
	int len = snprintf(p, sizeof p, "%c%d", kind, n);
	assert_int_equal(hm_queue_push(q, "hanmeter/m/state", p, (size_t)len, 1, false, kind == 'e'), expect_rc);
}

/* Pops everything and compares with the expected payloads, oldest first. */
static void drain(struct hm_queue *q, const char *const *want, unsigned n)
{
	assert_int_equal(hm_queue_len(q), n);
	for (unsigned i = 0; i < n; i++) {
		const struct hm_queue_msg *m = hm_queue_peek(q);
		assert_non_null(m);
		assert_int_equal(m->payload_len, strlen(want[i]));
		assert_memory_equal(m->payload, want[i], m->payload_len);
		assert_string_equal(m->topic, "hanmeter/m/state");
		assert_int_equal(m->qos, 1);
		assert_int_equal(m->energy, want[i][0] == 'e');
		hm_queue_pop(q);
	}
	assert_null(hm_queue_peek(q));
	assert_int_equal(hm_queue_len(q), 0);
}

static void fifo_order(void **st)
{
	(void)st;
	struct hm_queue q;
	assert_int_equal(hm_queue_init(&q, 4), 0);
	push(&q, 'p', 1, 0);
	push(&q, 'e', 2, 0);
	push(&q, 'p', 3, 0);
	static const char *const want[] = {"p1", "e2", "p3"};
	drain(&q, want, 3);
	hm_queue_pop(&q); /* popping an empty queue is harmless */
	assert_int_equal(q.dropped_power + q.dropped_energy, 0);
	hm_queue_free(&q);
}

/* Full: the oldest power-only message goes, energy stays in order. */
static void evicts_power_first(void **st)
{
	(void)st;
	struct hm_queue q;
	assert_int_equal(hm_queue_init(&q, 4), 0);
	push(&q, 'e', 1, 0);
	push(&q, 'p', 2, 0);
	push(&q, 'e', 3, 0);
	push(&q, 'p', 4, 0);
	push(&q, 'e', 5, 1); /* evicts p2 */
	push(&q, 'p', 6, 1); /* evicts p4 */
	push(&q, 'e', 7, 1); /* evicts p6 (the only power message left) */
	static const char *const want[] = {"e1", "e3", "e5", "e7"};
	assert_int_equal(q.dropped_power, 3);
	assert_int_equal(q.dropped_energy, 0);
	assert_int_equal(q.queued, 7);
	drain(&q, want, 4);
	hm_queue_free(&q);
}

/* Full of energy: the oldest energy message goes, and it is counted. */
static void evicts_oldest_energy_last(void **st)
{
	(void)st;
	struct hm_queue q;
	assert_int_equal(hm_queue_init(&q, 3), 0);
	push(&q, 'e', 1, 0);
	push(&q, 'e', 2, 0);
	push(&q, 'e', 3, 0);
	push(&q, 'p', 4, 2); /* a power message still gets in: e1 goes */
	push(&q, 'e', 5, 1); /* now p4 is the victim */
	static const char *const want[] = {"e2", "e3", "e5"};
	assert_int_equal(q.dropped_energy, 1);
	assert_int_equal(q.dropped_power, 1);
	drain(&q, want, 3);
	hm_queue_free(&q);
}

static void push_any(struct hm_queue *q, char kind, int n)
{
	char p[16];
	int len = snprintf(p, sizeof p, "%c%d", kind, n);
	assert_true(hm_queue_push(q, "hanmeter/m/state", p, (size_t)len, 1, false, kind == 'e') >= 0);
}

/* Slots are reused: thousands of pushes and pops through a small queue
 * never lose a slot (order[] stays a permutation), and the contents always
 * equal a naive model of the rule: a plain array where a push into a full
 * array deletes the first power entry, else the first entry. */
static void slots_recycle(void **st)
{
	(void)st;
	struct hm_queue q;
	int model[5], mn = 0;
	assert_int_equal(hm_queue_init(&q, 5), 0);
	for (int i = 0; i < 5000; i++) {
		char kind = (i % 3) ? 'p' : 'e';
		push_any(&q, kind, i);
		if (mn == 5) {
			int victim = 0;
			for (int k = 0; k < mn; k++)
				if (model[k] % 3) {
					victim = k;
					break;
				}
			memmove(&model[victim], &model[victim + 1], (size_t)(mn - victim - 1) * sizeof model[0]);
			mn--;
		}
		model[mn++] = i;
		if (i % 7 == 0) {
			hm_queue_pop(&q);
			memmove(&model[0], &model[1], (size_t)(mn - 1) * sizeof model[0]);
			mn--;
		}
		assert_int_equal(hm_queue_len(&q), mn);
		for (int k = 0; k < mn; k++) {
			char want[16];
			snprintf(want, sizeof want, "%c%d", (model[k] % 3) ? 'p' : 'e', model[k]);
			const struct hm_queue_msg *m = &q.slot[q.order[k]];
			assert_int_equal(m->payload_len, strlen(want));
			assert_memory_equal(m->payload, want, m->payload_len);
		}
		unsigned seen = 0;
		for (unsigned k = 0; k < q.cap; k++)
			for (unsigned j = 0; j < q.cap; j++)
				seen += q.order[j] == k;
		assert_int_equal(seen, q.cap);
	}
	hm_queue_free(&q);
}

static void rejects_oversize(void **st)
{
	(void)st;
	static char big[HM_QUEUE_PAYLOAD_MAX + 1];
	struct hm_queue q;
	assert_int_equal(hm_queue_init(&q, 2), 0);
	memset(big, 'x', sizeof big);
	assert_int_equal(hm_queue_push(&q, "t", big, sizeof big, 0, false, true), -EMSGSIZE);
	assert_int_equal(hm_queue_push(&q, "t", big, sizeof big - 1, 0, false, true), 0);
	assert_int_equal(q.rejected, 1);
	assert_int_equal(hm_queue_len(&q), 1);
	assert_int_equal(hm_queue_peek(&q)->payload_len, HM_QUEUE_PAYLOAD_MAX);
	hm_queue_free(&q);
	assert_int_equal(hm_queue_init(&q, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fifo_order),
	    cmocka_unit_test(evicts_power_first),
	    cmocka_unit_test(evicts_oldest_energy_last),
	    cmocka_unit_test(slots_recycle),
	    cmocka_unit_test(rejects_oversize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
