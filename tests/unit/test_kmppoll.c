/*
 * test_kmppoll.c - one KMP polling round (src/common/kmppoll.c): finding
 * the answer in a stream with our echo and noise in it, splitting the
 * register list into requests of 8, checking an answer against its request.
 *
 * Synthetic frames, built here with this file's own CRC-16/XMODEM (bitwise,
 * polynomial 0x1021, init 0; check value 0x31C3) and stuffing (06 0D 1B 40
 * 80 sent as 1B, byte ^ FF), so a mistake in src/core is not mirrored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/kmppoll.h"

static uint16_t crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* start, body (address, CID, data) + CRC, stuffed, 0D; crc_xor spoils it. */
static size_t mkframe(uint8_t start, const uint8_t *body, size_t n, uint16_t crc_xor, uint8_t *out)
{
	uint8_t b[256];
	size_t o = 0;
	memcpy(b, body, n);
	uint16_t crc = crc16(body, n) ^ crc_xor;
	b[n] = (uint8_t)(crc >> 8);
	b[n + 1] = (uint8_t)crc;
	out[o++] = start;
	for (size_t i = 0; i < n + 2; i++) {
		if (b[i] == 0x06 || b[i] == 0x0D || b[i] == 0x1B || b[i] == 0x40 || b[i] == 0x80) {
			out[o++] = 0x1B;
			out[o++] = (uint8_t)(b[i] ^ 0xFF);
		} else {
			out[o++] = b[i];
		}
	}
	out[o++] = 0x0D;
	return o;
}

static void crc_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc16((const uint8_t *)"123456789", 9), 0x31C3);
}

/* E1 = 55006 * 10^-3 MWh (unit 03, 4 bytes, sign/exponent 43), then the
 * hour counter 0x03EC = 27508 h (unit 46 = 0x2E, 4 bytes, exponent 0). */
static const uint8_t answer_body[] = {0x3F, 0x10, 0x00, 0x3C, 0x03, 0x04, 0x43, 0x00, 0x00, 0xD6,
                                      0xDE, 0x03, 0xEC, 0x2E, 0x04, 0x00, 0x00, 0x00, 0x6B, 0x74};

static void rx_finds_answer_in_echo_and_noise(void **state)
{
	(void)state;
	uint8_t stream[512], req[64], ans[128];
	static const uint8_t req_body[] = {0x3F, 0x10, 0x02, 0x00, 0x3C, 0x03, 0xEC};
	size_t rl = mkframe(0x80, req_body, sizeof req_body, 0, req);
	size_t al = mkframe(0x40, answer_body, sizeof answer_body, 0, ans);
	static const uint8_t noise[] = {0x00, 0xFF, 0x0D, 0x55};
	size_t n = 0;
	memcpy(stream + n, noise, sizeof noise);
	n += sizeof noise;
	memcpy(stream + n, req, rl); /* the head hears our request */
	n += rl;
	memcpy(stream + n, ans, al);
	n += al;
	stream[n++] = 0x77; /* after the answer: left for the next call */

	for (size_t cut = 0; cut <= n; cut++) { /* every split of the stream in two reads */
		struct hm_kmp_rx rx = {0};
		bool done = false;
		size_t used = hm_kmp_rx_feed(&rx, stream, cut, &done);
		if (!done) /* else the answer ended within the first part */
			used += hm_kmp_rx_feed(&rx, stream + cut, n - cut, &done);
		assert_true(done);
		assert_int_equal(rx.len, al);
		assert_memory_equal(rx.buf, ans, al);
		assert_int_equal(rx.skipped, sizeof noise + rl);
		assert_int_equal(used, n - 1); /* the trailing byte is not taken */
	}
}

static void requests_of_at_most_8(void **state)
{
	(void)state;
	assert_int_equal(hm_kmp_poll_requests(1), 1);
	assert_int_equal(hm_kmp_poll_requests(8), 1);
	assert_int_equal(hm_kmp_poll_requests(9), 2);
	assert_int_equal(hm_kmp_poll_requests(32), 4);

	uint16_t ids[9] = {0x3C, 0x50, 0x56, 0x57, 0x59, 0x4A, 0x44, 0x8D, 0x8B};
	uint8_t out[HM_KMP_FRAME_MAX], want[64];
	size_t len;
	/* request 0: 8 registers */
	uint8_t b0[3 + 16] = {0x3F, 0x10, 8};
	for (int i = 0; i < 8; i++) {
		b0[3 + 2 * i] = (uint8_t)(ids[i] >> 8);
		b0[4 + 2 * i] = (uint8_t)ids[i];
	}
	size_t wl = mkframe(0x80, b0, sizeof b0, 0, want);
	assert_int_equal(hm_kmp_poll_request(ids, 9, 0, out, sizeof out, &len), HM_ERR_OK);
	assert_int_equal(len, wl);
	assert_memory_equal(out, want, wl);
	/* request 1: 0x8B alone */
	static const uint8_t b1[] = {0x3F, 0x10, 1, 0x00, 0x8B};
	wl = mkframe(0x80, b1, sizeof b1, 0, want);
	assert_int_equal(hm_kmp_poll_request(ids, 9, 1, out, sizeof out, &len), HM_ERR_OK);
	assert_int_equal(len, wl);
	assert_memory_equal(out, want, wl);
}

static void answer_stored(void **state)
{
	(void)state;
	uint16_t ids[] = {0x3C, 0x50, 0x03EC}; /* 0x50 is left out by the meter: allowed */
	uint8_t ans[128];
	size_t al = mkframe(0x40, answer_body, sizeof answer_body, 0, ans);
	struct hm_reading r;
	unsigned stored;
	hm_reading_clear(&r);
	assert_int_equal(hm_kmp_poll_answer(ids, 3, 0, ans, al, &r, &stored), HM_ERR_OK);
	assert_int_equal(stored, 2);
	assert_true(hm_reading_has_num(&r, HM_NUM_HEAT_ENERGY_E1_MWH));
	assert_int_equal(r.num[HM_NUM_HEAT_ENERGY_E1_MWH].m, 55006);
	assert_int_equal(r.num[HM_NUM_HEAT_ENERGY_E1_MWH].e, -3);
	assert_false(hm_reading_has_num(&r, HM_NUM_POWER_KW));
	assert_int_equal(r.n_extra, 1);
	static const uint8_t obis[6] = {0, 0, 255, 6, 0x03, 0xEC};
	assert_memory_equal(r.extra[0].obis, obis, 6);
	assert_int_equal(r.extra[0].num.m, 27508);
	assert_int_equal(r.extra[0].num.e, 0);
}

/* Each wrong answer is refused whole: nothing stored. */
static void answer_refused(void **state)
{
	(void)state;
	uint8_t ans[128], body[sizeof answer_body];
	struct hm_reading r;
	unsigned stored;
	size_t al;
	uint16_t asked[] = {0x3C, 0x03EC}, not_hour[] = {0x3C, 0x50}, reversed[] = {0x03EC, 0x3C};

	struct {
		const char *what;
		uint8_t start;
		uint16_t crc_xor;
		uint8_t cid;
		const uint16_t *ids;
		enum hm_err want;
	} cases[] = {
	    {"bad CRC", 0x40, 0x0001, 0x10, asked, HM_ERR_CRC_MISMATCH},
	    {"a request, not an answer", 0x80, 0, 0x10, asked, HM_ERR_NOT_MINE},
	    {"another CID", 0x40, 0, 0x11, asked, HM_ERR_NOT_MINE},
	    {"a register not asked for", 0x40, 0, 0x10, not_hour, HM_ERR_MALFORMED_APDU},
	    {"out of order", 0x40, 0, 0x10, reversed, HM_ERR_MALFORMED_APDU},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(body, answer_body, sizeof body);
		body[1] = cases[i].cid;
		al = mkframe(cases[i].start, body, sizeof body, cases[i].crc_xor, ans);
		hm_reading_clear(&r);
		enum hm_err err = hm_kmp_poll_answer(cases[i].ids, 2, 0, ans, al, &r, &stored);
		if (err != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].what, hm_err_name(err), hm_err_name(cases[i].want));
		assert_int_equal(stored, 0);
		assert_false(hm_reading_has_num(&r, HM_NUM_HEAT_ENERGY_E1_MWH));
		assert_int_equal(r.n_extra, 0);
	}
	/* cut short: every proper prefix of a good answer is refused */
	al = mkframe(0x40, answer_body, sizeof answer_body, 0, ans);
	for (size_t n = 0; n < al; n++) {
		hm_reading_clear(&r);
		assert_int_not_equal(hm_kmp_poll_answer(asked, 2, 0, ans, n, &r, &stored), HM_ERR_OK);
		assert_int_equal(r.n_extra, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(crc_check_value),       cmocka_unit_test(rx_finds_answer_in_echo_and_noise),
	    cmocka_unit_test(requests_of_at_most_8), cmocka_unit_test(answer_stored),
	    cmocka_unit_test(answer_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
