/*
 * fuzz_apdustream.c - libFuzzer entry: a byte stream through the framer for
 * bare general-glo-ciphering APDUs (Luxembourg Smarty P1 port), every
 * candidate judged by hm_decode(), whose verdict steers the framer.
 *
 * Input: byte 0 picks the largest chunk (1..256), byte 1 seeds the chunk
 * lengths, byte 2 names the DLMS key (fuzz_decode.h); the rest is the stream.
 *
 * Invariants checked, beyond "no crash":
 *  - a candidate starts DB 08, is at most HM_MSG_MAX bytes, and is exactly
 *    one whole APDU by its own A-XDR length (read here independently:
 *    one byte below 0x80, else 0x81 n or 0x82 n n, IEC 62056-6-2);
 *  - rejections carry no data;
 *  - the stream fed whole and in chunks gives the same events and stats;
 *  - every byte is counted once: bytes = frame + garbage + rejected once
 *    flushed, one rejected byte per rejection, frame bytes = the accepted
 *    candidates' lengths;
 *  - every candidate decodes or fails with a counted error (fuzz_decode.h).
 *
 * needs: src/core/apdustream.c src/core/decode.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/apdustream.h"

#include "fuzz_decode.h"

#define STREAM_MAX 65536
#define EVENTS_MAX (STREAM_MAX + 2)

struct event {
	uint32_t err; /* no padding: events are compared with memcmp */
	uint32_t len;
	uint64_t hash;
};

struct run {
	struct event ev[EVENTS_MAX];
	size_t n;
	uint64_t accepted, accepted_bytes;
	uint64_t refused[HM_ERR_COUNT];
	struct hm_decoder dec;
	struct hm_reading reading;
};

static struct run runs[2];
static struct hm_apdustream framer;

/* The APDU length from its own header (cipher.h layout), or 0 if none. */
static size_t apdu_len(const uint8_t *p, size_t len)
{
	if (len < 11 || p[0] != 0xDB || p[1] != 8)
		return 0;
	if (p[10] < 0x80)
		return 11 + (size_t)p[10];
	if (p[10] == 0x81 && len >= 12)
		return 12 + (size_t)p[11];
	if (p[10] == 0x82 && len >= 13)
		return 13 + ((size_t)p[11] << 8 | p[12]);
	return 0;
}

static enum hm_err on_msg(void *ctx, const struct hm_apdustream_msg *m)
{
	struct run *r = ctx;
	enum hm_err verdict = m->err;
	FUZZ_CHECK((unsigned)m->err < HM_ERR_COUNT);
	if (m->err == HM_ERR_OK) {
		FUZZ_CHECK(m->data != NULL && m->len <= HM_MSG_MAX);
		FUZZ_CHECK(apdu_len(m->data, m->len) == m->len);
		verdict = fuzz_decode(&r->dec, m->data, m->len, &r->reading);
		if (verdict == HM_ERR_OK) {
			r->accepted++;
			r->accepted_bytes += m->len;
		} else {
			r->refused[verdict]++;
		}
	} else {
		FUZZ_CHECK(m->data == NULL && m->len == 0);
	}
	FUZZ_CHECK(r->n < EVENTS_MAX);
	r->ev[r->n++] = (struct event){
	    .err = (uint32_t)(m->err == HM_ERR_OK ? verdict : m->err) | (m->err == HM_ERR_OK ? 0x100u : 0),
	    .len = (uint32_t)m->len,
	    .hash = m->err == HM_ERR_OK ? fuzz_hash(m->data, m->len) : 0,
	};
	return verdict;
}

static void check_stats(const struct run *r, size_t fed)
{
	const struct hm_apdustream_stats *s = &framer.stats;
	uint64_t errs = 0;
	FUZZ_CHECK(framer.len == 0);
	FUZZ_CHECK(s->bytes == fed);
	FUZZ_CHECK(s->bytes == s->frame_bytes + s->garbage_bytes + s->rejected_bytes);
	FUZZ_CHECK(s->messages == r->accepted && s->frame_bytes == r->accepted_bytes);
	FUZZ_CHECK(s->errors[HM_ERR_OK] == 0);
	for (int e = 1; e < HM_ERR_COUNT; e++) {
		FUZZ_CHECK(s->errors[e] >= r->refused[e]);
		errs += s->errors[e];
	}
	FUZZ_CHECK(s->rejected_bytes == errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size - 3 > STREAM_MAX)
		return 0;
	size_t max_chunk = (size_t)data[0] + 1;
	uint32_t seed = data[1] * 2654435761u | 1;
	const uint8_t *s = data + 3;
	size_t n = size - 3;

	for (int k = 0; k < 2; k++) {
		memset(&runs[k].n, 0, sizeof runs[k] - offsetof(struct run, n));
		fuzz_decoder_setup(&runs[k].dec, data[2]);
	}
	hm_apdustream_init(&framer);
	hm_apdustream_feed(&framer, s, n, on_msg, &runs[0]);
	hm_apdustream_flush(&framer, on_msg, &runs[0]);
	check_stats(&runs[0], n);
	struct hm_apdustream_stats whole = framer.stats;

	hm_apdustream_init(&framer);
	for (size_t off = 0; off < n;) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		size_t c = 1 + seed % max_chunk;
		if (c > n - off)
			c = n - off;
		hm_apdustream_feed(&framer, s + off, c, on_msg, &runs[1]);
		off += c;
	}
	hm_apdustream_flush(&framer, on_msg, &runs[1]);
	check_stats(&runs[1], n);

	FUZZ_CHECK(runs[1].n == runs[0].n);
	FUZZ_CHECK(memcmp(runs[1].ev, runs[0].ev, runs[0].n * sizeof runs[0].ev[0]) == 0);
	FUZZ_CHECK(memcmp(&framer.stats, &whole, sizeof whole) == 0);
	return 0;
}
