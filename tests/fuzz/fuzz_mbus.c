/*
 * fuzz_mbus.c - libFuzzer entry: a byte stream through the wired M-Bus
 * long-frame framer (EN 13757-2, DLMS segments as the Austrian customer
 * interfaces send them), every message through hm_decode(), and the input
 * itself through hm_mbus_frame_parse().
 *
 * Input: byte 0 picks the largest chunk (1..256), byte 1 seeds the chunk
 * lengths, byte 2 names the DLMS key (fuzz_decode.h); the rest is the stream.
 *
 * Invariants checked, beyond "no crash":
 *  - hm_mbus_frame_parse: a frame it accepts is 68 L L 68 ... CS 16 with the
 *    8-bit sum from C up to CS right (checked independently here), and the
 *    fields point where the layout says;
 *  - the stream fed whole and in chunks gives the same events and stats;
 *  - messages are non-empty, within HM_MSG_MAX; rejections carry no data;
 *    stats count what was fed and what was reported;
 *  - every message decodes or fails with a counted error (fuzz_decode.h).
 *
 * needs: src/core/mbus.c src/core/decode.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/mbus.h"

#include "fuzz_decode.h"

#define STREAM_MAX 65536
#define EVENTS_MAX (STREAM_MAX + 2)

struct event {
	uint8_t err;
	uint8_t segments;
	uint16_t zero; /* no padding: events are compared with memcmp */
	uint32_t len;
	uint64_t hash;
};

struct run {
	struct event ev[EVENTS_MAX];
	size_t n;
	unsigned good;
	uint64_t rejected[HM_ERR_COUNT];
	bool decode;
	struct hm_decoder dec;
	struct hm_reading reading;
};

static struct run runs[2];
static struct hm_mbus framer;

static void check_frame_parse(const uint8_t *p, size_t len)
{
	struct hm_mbus_frame f;
	enum hm_err rc = hm_mbus_frame_parse(&f, p, len);
	FUZZ_CHECK((unsigned)rc < HM_ERR_COUNT);
	if (rc != HM_ERR_OK)
		return;
	FUZZ_CHECK(len >= 9 && p[0] == 0x68 && p[3] == 0x68 && p[1] == p[2] && p[1] >= 3);
	size_t l = p[1];
	FUZZ_CHECK(f.frame_len == l + 6 && f.frame_len <= len && p[l + 5] == 0x16);
	uint8_t sum = 0;
	for (size_t i = 4; i < 4 + l; i++)
		sum = (uint8_t)(sum + p[i]);
	FUZZ_CHECK(p[4 + l] == sum);
	FUZZ_CHECK(f.c == p[4] && f.a == p[5] && f.ci == p[6]);
	FUZZ_CHECK(f.data == p + 7 && f.data_len == l - 3);
}

static void on_msg(void *ctx, const struct hm_mbus_msg *m)
{
	struct run *r = ctx;
	FUZZ_CHECK((unsigned)m->err < HM_ERR_COUNT);
	if (m->err == HM_ERR_OK) {
		FUZZ_CHECK(m->data != NULL && m->len <= HM_MSG_MAX && m->segments >= 1);
		r->good++;
		if (r->decode)
			fuzz_decode(&r->dec, m->data, m->len, &r->reading);
	} else {
		FUZZ_CHECK(m->data == NULL);
		r->rejected[m->err]++;
	}
	FUZZ_CHECK(r->n < EVENTS_MAX);
	r->ev[r->n++] = (struct event){
	    .err = (uint8_t)m->err,
	    .segments = (uint8_t)m->segments,
	    .len = (uint32_t)m->len,
	    .hash = m->err == HM_ERR_OK ? fuzz_hash(m->data, m->len) : 0,
	};
}

static void check_stats(const struct run *r, size_t fed)
{
	const struct hm_mbus_stats *s = &framer.stats;
	FUZZ_CHECK(s->bytes == fed);
	FUZZ_CHECK(s->messages == r->good);
	FUZZ_CHECK(s->frames >= s->messages);
	FUZZ_CHECK(s->garbage_bytes <= fed);
	FUZZ_CHECK(s->errors[HM_ERR_OK] == 0);
	for (int e = 1; e < HM_ERR_COUNT; e++)
		FUZZ_CHECK(s->errors[e] >= r->rejected[e]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size - 3 > STREAM_MAX)
		return 0;
	size_t max_chunk = (size_t)data[0] + 1;
	uint32_t seed = data[1] * 2654435761u | 1;
	const uint8_t *s = data + 3;
	size_t n = size - 3;

	check_frame_parse(s, n);

	memset(&runs[0].n, 0, sizeof runs[0] - offsetof(struct run, n));
	runs[0].decode = true;
	fuzz_decoder_setup(&runs[0].dec, data[2]);
	hm_mbus_init(&framer);
	hm_mbus_feed(&framer, s, n, on_msg, &runs[0]);
	hm_mbus_flush(&framer, on_msg, &runs[0]);
	check_stats(&runs[0], n);
	struct hm_mbus_stats whole = framer.stats;

	memset(&runs[1].n, 0, sizeof runs[1] - offsetof(struct run, n));
	hm_mbus_init(&framer);
	for (size_t off = 0; off < n;) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		size_t c = 1 + seed % max_chunk;
		if (c > n - off)
			c = n - off;
		hm_mbus_feed(&framer, s + off, c, on_msg, &runs[1]);
		off += c;
	}
	hm_mbus_flush(&framer, on_msg, &runs[1]);
	check_stats(&runs[1], n);

	FUZZ_CHECK(runs[1].n == runs[0].n);
	FUZZ_CHECK(memcmp(runs[1].ev, runs[0].ev, runs[0].n * sizeof runs[0].ev[0]) == 0);
	FUZZ_CHECK(memcmp(&framer.stats, &whole, sizeof whole) == 0);
	return 0;
}
