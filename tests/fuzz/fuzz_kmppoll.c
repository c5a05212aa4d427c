/*
 * fuzz_kmppoll.c - libFuzzer entry: the KMP polling round of hanmeterd and
 * hanmeter --kmp (src/common/kmppoll.c): answers picked out of an arbitrary
 * byte stream, each checked against a request and stored in a reading.
 *
 * Input: byte 0 = n, the number of register ids asked for (1 + byte % 32);
 * then n ids (2 bytes each, big-endian); the rest is the stream from the
 * meter.  Every answer found is taken as the answer to request 0, 1, ...
 * in turn (wrapping).
 *
 * Invariants checked, beyond "no crash":
 *  - the stream fed whole and fed a byte at a time yields the same answers;
 *  - an answer starts with 40, and ends with 0D or fills HM_KMP_FRAME_MAX;
 *    the bytes consumed never exceed those fed;
 *  - an answer refused stores nothing (fields and extras unchanged);
 *  - an answer taken stores at most the registers of its request, each
 *    one of the ids asked for (extras: pseudo OBIS 0.0.255.6.hi.lo of an
 *    asked-for id).
 *
 * needs: src/common/kmppoll.c src/core/kmp.c src/core/reading.c
 */
#include "common/kmppoll.h"

#include "fuzz.h"

#define ANSWERS_MAX 64

static struct hm_reading reading, before;
static uint8_t got[ANSWERS_MAX][HM_KMP_FRAME_MAX];
static size_t got_len[ANSWERS_MAX];

/* Feeds s[0..n) in pieces of step bytes; returns the answers found. */
static unsigned feed(const uint8_t *s, size_t n, size_t step, bool record)
{
	struct hm_kmp_rx rx = {0};
	unsigned k = 0;
	for (size_t at = 0; at < n;) {
		size_t piece = n - at < step ? n - at : step;
		size_t off = 0;
		while (off < piece) {
			bool done;
			size_t used = hm_kmp_rx_feed(&rx, s + at + off, piece - off, &done);
			FUZZ_CHECK(used <= piece - off);
			off += used;
			if (!done) {
				FUZZ_CHECK(off == piece);
				break;
			}
			FUZZ_CHECK(rx.len >= 1 && rx.buf[0] == HM_KMP_START_FROM_METER);
			FUZZ_CHECK(rx.buf[rx.len - 1] == HM_KMP_STOP || rx.len == HM_KMP_FRAME_MAX);
			if (k < ANSWERS_MAX) {
				if (record) {
					memcpy(got[k], rx.buf, rx.len);
					got_len[k] = rx.len;
				} else {
					FUZZ_CHECK(got_len[k] == rx.len && memcmp(got[k], rx.buf, rx.len) == 0);
				}
			}
			k++;
			hm_kmp_rx_reset(&rx);
		}
		at += piece;
	}
	return k;
}

static bool asked(const uint16_t *ids, size_t n, uint16_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	size_t n = 1 + data[0] % 32;
	if (size < 1 + 2 * n)
		return 0;
	uint16_t ids[32];
	for (size_t i = 0; i < n; i++)
		ids[i] = (uint16_t)(data[1 + 2 * i] << 8 | data[2 + 2 * i]);
	const uint8_t *s = data + 1 + 2 * n;
	size_t sl = size - 1 - 2 * n;

	unsigned whole = feed(s, sl, sl ? sl : 1, true);
	FUZZ_CHECK(feed(s, sl, 1, false) == whole);

	unsigned n_req = hm_kmp_poll_requests(n);
	hm_reading_clear(&reading);
	for (unsigned k = 0; k < whole && k < ANSWERS_MAX; k++) {
		unsigned req = k % n_req, stored = 0;
		before = reading;
		enum hm_err err = hm_kmp_poll_answer(ids, n, req, got[k], got_len[k], &reading, &stored);
		FUZZ_CHECK((unsigned)err < HM_ERR_COUNT);
		if (err != HM_ERR_OK) {
			FUZZ_CHECK(stored == 0);
			FUZZ_CHECK(memcmp(before.num_set, reading.num_set, sizeof reading.num_set) == 0);
			FUZZ_CHECK(before.n_extra == reading.n_extra);
			continue;
		}
		size_t first = (size_t)req * HM_KMP_REGS_MAX;
		size_t count = n - first < HM_KMP_REGS_MAX ? n - first : HM_KMP_REGS_MAX;
		FUZZ_CHECK(stored <= count);
		for (unsigned x = before.n_extra; x < reading.n_extra; x++) {
			const uint8_t *o = reading.extra[x].obis;
			FUZZ_CHECK(o[0] == 0 && o[1] == 0 && o[2] == 255 && o[3] == 6);
			FUZZ_CHECK(asked(ids + first, count, (uint16_t)(o[4] << 8 | o[5])));
		}
	}
	return 0;
}
