/*
 * fuzz_apdustream.c - libFuzzer entry: a byte stream through the framer for
 * bare general-glo-ciphering APDUs (Luxembourg Smarty P1 port), every
 * candidate judged by hm_decode(), whose verdict steers the framer.
 *
 * Input: byte 0 picks the largest chunk (1..256), byte 1 seeds the chunk
 * lengths (fuzz_stream.h), byte 2 names the DLMS key (fuzz_decode.h); the
 * rest is the stream.
 *
 * Invariants checked, beyond "no crash":
 *  - a candidate starts DB 08, is at most HM_MSG_MAX bytes, and is exactly
 *    one whole APDU by its own A-XDR length (read here independently:
 *    one byte below 0x80, else 0x81 n or 0x82 n n, IEC 62056-6-2);
 *  - the stream fed whole and in chunks gives the same events, verdicts
 *    and stats (fuzz_stream.h; each run has its own decoder, set up alike,
 *    since the verdicts steer the framer);
 *  - every byte is counted once: bytes = frame + garbage + rejected once
 *    flushed, one rejected byte per rejection, frame bytes = the accepted
 *    candidates' lengths, errors = refusals + reported rejections exactly;
 *  - every candidate decodes or fails with a counted error (fuzz_decode.h).
 *
 * needs: src/core/apdustream.c src/core/decode.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/apdustream.h"

#include "fuzz_decode.h"
#include "fuzz_stream.h"

/* The judge of each run: its decoder and what it decided. */
static struct judge {
	struct hm_decoder dec;
	struct hm_reading reading;
	uint64_t accepted, accepted_bytes;
	uint64_t refused[HM_ERR_COUNT];
} judges[2];

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

static struct judge *judge_of(const struct fuzz_run *r)
{
	return &judges[r == &fuzz_runs[1]];
}

static enum hm_err on_msg(void *ctx, const struct hm_apdustream_msg *m)
{
	struct fuzz_run *r = ctx;
	struct judge *j = judge_of(r);
	if (m->err != HM_ERR_OK) {
		FUZZ_CHECK(m->len == 0);
		fuzz_run_record(r, m->err, 0, m->data, 0);
		return m->err;
	}
	FUZZ_CHECK(m->data != NULL && m->len <= HM_MSG_MAX);
	FUZZ_CHECK(apdu_len(m->data, m->len) == m->len);
	enum hm_err verdict = fuzz_decode(&j->dec, m->data, m->len, &j->reading);
	if (verdict == HM_ERR_OK) {
		j->accepted++;
		j->accepted_bytes += m->len;
	} else {
		j->refused[verdict]++;
	}
	fuzz_run_record(r, HM_ERR_OK, (uint8_t)verdict, m->data, m->len); /* a candidate, its verdict */
	return verdict;
}

static void check_stats(const struct fuzz_run *r, size_t fed)
{
	const struct hm_apdustream_stats *s = &framer.stats;
	const struct judge *j = judge_of(r);
	uint64_t errs = 0, refused = 0;
	for (int e = 1; e < HM_ERR_COUNT; e++) {
		FUZZ_CHECK(s->errors[e] == j->refused[e] + r->rejected[e]);
		errs += s->errors[e];
		refused += j->refused[e];
	}
	fuzz_run_check_counts(r, fed, s->bytes, s->messages + refused, s->garbage_bytes, s->errors);
	FUZZ_CHECK(framer.len == 0);
	FUZZ_CHECK(s->bytes == s->frame_bytes + s->garbage_bytes + s->rejected_bytes);
	FUZZ_CHECK(s->messages == j->accepted && s->frame_bytes == j->accepted_bytes);
	FUZZ_CHECK(s->rejected_bytes == errs);
}

FUZZ_FRAMER(apdustream, framer, on_msg, check_stats);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size - 3 > FUZZ_STREAM_MAX)
		return 0;
	for (int k = 0; k < 2; k++) {
		memset(&judges[k].accepted, 0, sizeof judges[k] - offsetof(struct judge, accepted));
		fuzz_decoder_setup(&judges[k].dec, data[2]);
	}
	fuzz_stream_check(&apdustream_framer, data[0], data[1], data + 3, size - 3);
	return 0;
}
