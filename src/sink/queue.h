/*
 * queue.h - the MQTT sink's bounded hold queue for messages published while
 * the broker is away.
 *
 * Allocated once at start (queue_max slots of HM_QUEUE_TOPIC_MAX +
 * HM_QUEUE_PAYLOAD_MAX bytes); nothing is allocated per message.  Messages
 * leave in arrival order.  When the queue is full, the oldest message that
 * carries no cumulative energy (a power-only list 1/2 reading) is evicted
 * first: a missed power sample is harmless, a missed meter total is not.
 * Only when every slot holds an energy message does the oldest energy
 * message go (the newest total supersedes it; counted in dropped_energy).
 */
#ifndef HM_SINK_QUEUE_H
#define HM_SINK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A topic is <prefix>/<meter name>/state: prefix up to 255 bytes
 * (HM_CONF_STR) plus a 63-byte meter name plus the suffix. */
#define HM_QUEUE_TOPIC_MAX 384

/* A state message: the JSON of a reading.  The largest Nordic list (Danish
 * Kamstrup, 35 values) renders to about 1.5 KiB; 4 KiB leaves room for the
 * unnamed OBIS extras.  The slot array is calloc'ed, so its pages cost
 * memory only once used: measured 4.7 MB more RSS with all 1000 slots of
 * the default queue held (x86-64, release build). */
#define HM_QUEUE_PAYLOAD_MAX 4096

struct hm_queue_msg {
	char topic[HM_QUEUE_TOPIC_MAX];
	char payload[HM_QUEUE_PAYLOAD_MAX];
	size_t payload_len; /* bytes at payload */
	int qos;            /* 0..2 */
	bool retain;
	bool energy; /* carries a cumulative (total_increasing) value: evicted last */
};

struct hm_queue {
	struct hm_queue_msg *slot; /* cap slots, allocated at init */
	unsigned *order;           /* slot numbers in arrival order, n used */
	unsigned cap, n;
	uint64_t queued;         /* messages accepted */
	uint64_t dropped_power;  /* power-only messages evicted for room */
	uint64_t dropped_energy; /* energy messages evicted (queue full of them) */
	uint64_t rejected;       /* messages too big for a slot */
};

/* Allocates cap slots (cap >= 1).  0 or -ENOMEM / -EINVAL. */
int hm_queue_init(struct hm_queue *q, unsigned cap);
void hm_queue_free(struct hm_queue *q);

/* Holds a copy of a message.  Returns 0 (held, nothing lost), 1 (held, a
 * power-only message was evicted), 2 (held, an energy message was evicted),
 * or -EMSGSIZE (topic or payload too big; counted in rejected). */
int hm_queue_push(struct hm_queue *q, const char *topic, const char *payload, size_t len, int qos, bool retain,
                  bool energy);

/* The oldest message, or NULL if empty. */
const struct hm_queue_msg *hm_queue_peek(const struct hm_queue *q);
/* Drops the oldest message (after it was handed to the broker). */
void hm_queue_pop(struct hm_queue *q);

static inline unsigned hm_queue_len(const struct hm_queue *q)
{
	return q->n;
}

#endif
