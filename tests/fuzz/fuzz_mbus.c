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
 *  - the stream fed whole and in chunks gives the same events and stats
 *    (fuzz_stream.h);
 *  - messages are non-empty, within HM_MSG_MAX; rejections carry no data;
 *    stats count what was fed and what was reported;
 *  - every message decodes or fails with a counted error (fuzz_decode.h).
 *
 * needs: src/core/mbus.c src/core/decode.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/mbus.h"

#include "fuzz_decode.h"
#include "fuzz_stream.h"

static struct hm_mbus framer;
static struct hm_decoder dec;
static struct hm_reading reading;

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
	struct fuzz_run *r = ctx;
	if (m->err == HM_ERR_OK) {
		FUZZ_CHECK(m->data != NULL && m->len <= HM_MSG_MAX && m->segments >= 1);
		if (r->whole)
			fuzz_decode(&dec, m->data, m->len, &reading);
	}
	fuzz_run_record(r, m->err, (uint8_t)m->segments, m->data, m->len);
}

static void check_stats(const struct fuzz_run *r, size_t fed)
{
	const struct hm_mbus_stats *s = &framer.stats;
	fuzz_run_check_counts(r, fed, s->bytes, s->messages, s->garbage_bytes, s->errors);
	FUZZ_CHECK(s->frames >= s->messages);
}

FUZZ_FRAMER(mbus, framer, on_msg, check_stats);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size - 3 > FUZZ_STREAM_MAX)
		return 0;
	check_frame_parse(data + 3, size - 3);
	memset(&reading, 0, sizeof reading);
	fuzz_decoder_setup(&dec, data[2]);
	fuzz_stream_check(&mbus_framer, data[0], data[1], data + 3, size - 3);
	return 0;
}
