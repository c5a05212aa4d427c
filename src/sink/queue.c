/*
 * queue.c - the MQTT sink's bounded hold queue (rules in queue.h).
 *
 * order[] is a permutation of the slot numbers: order[0..n) are the held
 * messages, oldest first; order[n..cap) are the free slots.  Removing a
 * message from the middle moves its slot number to the free part, so no
 * slot is ever lost and nothing is allocated after hm_queue_init().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sink/queue.h"

int hm_queue_init(struct hm_queue *q, unsigned cap)
{
	memset(q, 0, sizeof *q);
	if (cap == 0)
		return -EINVAL;
	q->slot = calloc(cap, sizeof *q->slot);
	q->order = calloc(cap, sizeof *q->order);
	if (!q->slot || !q->order) {
		hm_queue_free(q);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cap; i++)
		q->order[i] = i;
	q->cap = cap;
	return 0;
}

void hm_queue_free(struct hm_queue *q)
{
	free(q->slot);
	free(q->order);
	q->slot = NULL;
	q->order = NULL;
	q->cap = q->n = 0;
}

/* Removes the message at arrival position i; its slot becomes free. */
static void remove_at(struct hm_queue *q, unsigned i)
{
	unsigned s = q->order[i];
	memmove(&q->order[i], &q->order[i + 1], (q->n - i - 1) * sizeof *q->order);
	q->order[--q->n] = s;
}

/* Makes room for one message; returns what hm_queue_push() reports. */
static int make_room(struct hm_queue *q)
{
	if (q->n < q->cap)
		return 0;
	for (unsigned i = 0; i < q->n; i++) {
		if (!q->slot[q->order[i]].energy) {
			remove_at(q, i);
			q->dropped_power++;
			return 1;
		}
	}
	remove_at(q, 0);
	q->dropped_energy++;
	return 2;
}

int hm_queue_push(struct hm_queue *q, const char *topic, const char *payload, size_t len, int qos, bool retain,
                  bool energy)
{
	size_t tl = strlen(topic);
	if (tl >= HM_QUEUE_TOPIC_MAX || len > HM_QUEUE_PAYLOAD_MAX) {
		q->rejected++;
		return -EMSGSIZE;
	}
	int rc = make_room(q);
	struct hm_queue_msg *m = &q->slot[q->order[q->n++]];
	memcpy(m->topic, topic, tl + 1);
	memcpy(m->payload, payload, len);
	m->payload_len = len;
	m->qos = qos;
	m->retain = retain;
	m->energy = energy;
	q->queued++;
	return rc;
}

const struct hm_queue_msg *hm_queue_peek(const struct hm_queue *q)
{
	return q->n ? &q->slot[q->order[0]] : NULL;
}

void hm_queue_pop(struct hm_queue *q)
{
	if (q->n)
		remove_at(q, 0);
}
