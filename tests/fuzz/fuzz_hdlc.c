/*
 * fuzz_hdlc.c - libFuzzer entry: a byte stream through the HDLC framer
 * (IEC 62056-46 frame format type 3), every message through hm_decode(),
 * every reading through hm_json_members().
 *
 * Input: byte 0 picks the largest chunk (1..256 bytes), byte 1 seeds the
 * sequence of chunk lengths, byte 2 names the DLMS key (fuzz_decode.h); the
 * rest is the stream, as a serial port would deliver it.
 *
 * Invariants checked, beyond "no crash":
 *  - the stream fed whole and fed in chunks gives the same events and the
 *    same statistics (read() boundaries must not matter);
 *  - a good message's last frame opens with 7E, has a type-3 format field
 *    whose length matches, and its HCS and FCS verify with an independent
 *    CRC-16/X.25 (a frame that fails its checks never yields a message);
 *  - a rejection carries an error and no information field;
 *  - stats.bytes is what was fed, stats.messages the messages reported,
 *    stats.errors[] at least the rejections reported of each kind;
 *  - every message decodes or fails with a counted error (fuzz_decode.h).
 *
 * needs: src/core/hdlc.c src/core/decode.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/hdlc.h"

#include "fuzz_decode.h"

/* Input past this is not a plausible serial burst; it only slows the run. */
#define STREAM_MAX 65536
/* Events of one run: each starts at a distinct flag byte or ends the input. */
#define EVENTS_MAX (STREAM_MAX + 2)

struct event {
	uint8_t err;
	uint8_t segments;
	uint16_t zero; /* no padding: events are compared with memcmp */
	uint32_t info_len;
	uint64_t info_hash;
};

struct run {
	struct event ev[EVENTS_MAX];
	size_t n;
	unsigned good;
	uint64_t rejected[HM_ERR_COUNT];
	bool decode;           /* run hm_decode on messages (the whole-stream run only) */
	struct hm_decoder dec; /* one per stream, as a source owns one */
	struct hm_reading reading;
};

static struct run runs[2];
static struct hm_hdlc framer;

/* Address field: 1, 2 or 4 bytes, each with the low bit 0 but the last. */
static size_t addr_len(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 4; i++)
		if (p[i] & 1)
			return i + 1;
	return 0;
}

static void check_good_frame(const struct hm_frame *f)
{
	FUZZ_CHECK(f->hcs_ok && f->fcs_ok);
	FUZZ_CHECK(f->segments >= 1);
	FUZZ_CHECK(f->info_len <= HM_MSG_MAX);
	FUZZ_CHECK(f->info != NULL || f->info_len == 0);
	FUZZ_CHECK(f->raw != NULL && f->raw_len <= HM_HDLC_FRAME_MAX);

	/* The frame as the meter sent it: 7E, format, ..., FCS (closing 7E optional). */
	const uint8_t *raw = f->raw;
	FUZZ_CHECK(f->raw_len >= 1 + 2 + 2 + 1 + 2 && raw[0] == HM_HDLC_FLAG);
	uint16_t format = (uint16_t)(raw[1] << 8 | raw[2]);
	FUZZ_CHECK(format == f->format);
	FUZZ_CHECK((format >> 12) == 0xA);
	size_t flen = format & 0x7FF;
	FUZZ_CHECK(flen == f->declared_len);
	FUZZ_CHECK(f->raw_len == flen + 1 || f->raw_len == flen + 2);
	if (f->raw_len == flen + 2)
		FUZZ_CHECK(raw[flen + 1] == HM_HDLC_FLAG);
	/* FCS over format..info, LSB first; HCS over format..control. */
	uint16_t fcs = fuzz_crc_x25(raw + 1, flen - 2);
	FUZZ_CHECK(raw[flen - 1] == (fcs & 0xFF) && raw[flen] == (fcs >> 8));
	size_t da = addr_len(raw + 3, flen - 2);
	FUZZ_CHECK(da != 0 && da != 3);
	size_t sa = addr_len(raw + 3 + da, flen - 2 - da);
	FUZZ_CHECK(sa != 0 && sa != 3);
	size_t hdr = 2 + da + sa + 1; /* format, addresses, control */
	FUZZ_CHECK(flen >= hdr + 2);
	FUZZ_CHECK(f->control == raw[hdr]);
	if (flen > hdr + 2) { /* an information field follows: it has its own HCS */
		uint16_t hcs = fuzz_crc_x25(raw + 1, hdr);
		FUZZ_CHECK(raw[hdr + 1] == (hcs & 0xFF) && raw[hdr + 2] == (hcs >> 8));
		if (f->segments == 1) /* unsegmented: the info field is this frame's */
			FUZZ_CHECK(f->info_len == flen - hdr - 4 &&
			           memcmp(f->info, raw + 1 + hdr + 2, f->info_len) == 0);
	}
}

static void on_frame(void *ctx, const struct hm_frame *f)
{
	struct run *r = ctx;
	FUZZ_CHECK((unsigned)f->err < HM_ERR_COUNT);
	if (f->err == HM_ERR_OK) {
		check_good_frame(f);
		r->good++;
		if (r->decode)
			fuzz_decode(&r->dec, f->info, f->info_len, &r->reading);
	} else {
		FUZZ_CHECK(f->info == NULL);
		r->rejected[f->err]++;
	}
	FUZZ_CHECK(r->n < EVENTS_MAX);
	r->ev[r->n++] = (struct event){
	    .err = (uint8_t)f->err,
	    .segments = (uint8_t)f->segments,
	    .info_len = (uint32_t)f->info_len,
	    .info_hash = f->err == HM_ERR_OK ? fuzz_hash(f->info, f->info_len) : 0,
	};
}

static void check_stats(const struct run *r, size_t fed)
{
	const struct hm_hdlc_stats *s = &framer.stats;
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
	uint8_t key_sel = data[2];
	const uint8_t *s = data + 3;
	size_t n = size - 3;
	struct hm_hdlc_stats whole;

	/* Run 0: the whole stream at once, every message decoded. */
	memset(&runs[0].n, 0, sizeof runs[0] - offsetof(struct run, n));
	runs[0].decode = true;
	fuzz_decoder_setup(&runs[0].dec, key_sel);
	hm_hdlc_init(&framer);
	hm_hdlc_feed(&framer, s, n, on_frame, &runs[0]);
	hm_hdlc_flush(&framer, on_frame, &runs[0]);
	check_stats(&runs[0], n);
	whole = framer.stats;

	/* Run 1: the same stream in chunks of 1..max_chunk bytes (xorshift32). */
	memset(&runs[1].n, 0, sizeof runs[1] - offsetof(struct run, n));
	hm_hdlc_init(&framer);
	for (size_t off = 0; off < n;) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		size_t c = 1 + seed % max_chunk;
		if (c > n - off)
			c = n - off;
		hm_hdlc_feed(&framer, s + off, c, on_frame, &runs[1]);
		off += c;
	}
	hm_hdlc_flush(&framer, on_frame, &runs[1]);
	check_stats(&runs[1], n);

	FUZZ_CHECK(runs[1].n == runs[0].n);
	FUZZ_CHECK(memcmp(runs[1].ev, runs[0].ev, runs[0].n * sizeof runs[0].ev[0]) == 0);
	FUZZ_CHECK(memcmp(&framer.stats, &whole, sizeof whole) == 0);
	return 0;
}
