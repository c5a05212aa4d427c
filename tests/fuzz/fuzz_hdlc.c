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
 *    same statistics (read() boundaries must not matter; fuzz_stream.h);
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
#include "fuzz_stream.h"

static struct hm_hdlc framer;
static struct hm_decoder dec; /* one per stream, as a source owns one */
static struct hm_reading reading;

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
	struct fuzz_run *r = ctx;
	if (f->err == HM_ERR_OK) {
		check_good_frame(f);
		if (r->whole) /* messages are decoded in the whole-stream run only */
			fuzz_decode(&dec, f->info, f->info_len, &reading);
	}
	fuzz_run_record(r, f->err, (uint8_t)f->segments, f->info, f->info_len);
}

static void check_stats(const struct fuzz_run *r, size_t fed)
{
	const struct hm_hdlc_stats *s = &framer.stats;
	fuzz_run_check_counts(r, fed, s->bytes, s->messages, s->garbage_bytes, s->errors);
	FUZZ_CHECK(s->frames >= s->messages);
}

FUZZ_FRAMER(hdlc, framer, on_frame, check_stats);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size - 3 > FUZZ_STREAM_MAX)
		return 0;
	memset(&reading, 0, sizeof reading);
	fuzz_decoder_setup(&dec, data[2]);
	fuzz_stream_check(&hdlc_framer, data[0], data[1], data + 3, size - 3);
	return 0;
}
