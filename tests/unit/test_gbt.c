/*
 * test_gbt.c - general-block-transfer reassembly.
 *
 * No capture in the vectors uses GBT, so the blocks are built here
 * (synthetic, labelled): the Danish Kamstrup ciphered APDU (a real capture)
 * is cut into blocks of several sizes; reassembled, it must be that APDU
 * byte for byte, and hm_decode must give the MANIFEST's values from it.
 * Then lost, repeated, cut and oversized blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/decode.h"
#include "hanmeter/gbt.h"
#include "vectors.h"

#define BUF 4096
#define DK  "encrypted-denmark-kamstrup-omnipower-radius.hex"

struct sink {
	unsigned good, errs;
	unsigned err_by[HM_ERR_COUNT];
	uint8_t last[HM_MSG_MAX];
	size_t last_len;
};

static void collect(void *ctx, enum hm_err err, const uint8_t *msg, size_t len)
{
	struct sink *s = ctx;
	if (err != HM_ERR_OK) {
		assert_null(msg);
		s->errs++;
		s->err_by[err]++;
		return;
	}
	s->good++;
	memcpy(s->last, msg, len);
	s->last_len = len;
}

/* One block: E0, control, number, ack 0, A-XDR length, data. */
static size_t block(uint8_t *out, bool last, uint16_t number, const uint8_t *data, size_t n)
{
	size_t k = 0;
	out[k++] = HM_GBT_TAG;
	out[k++] = last ? HM_GBT_LAST_BLOCK : 0;
	out[k++] = (uint8_t)(number >> 8);
	out[k++] = (uint8_t)number;
	out[k++] = 0;
	out[k++] = 0;
	if (n < 0x80) {
		out[k++] = (uint8_t)n;
	} else {
		out[k++] = 0x82;
		out[k++] = (uint8_t)(n >> 8);
		out[k++] = (uint8_t)n;
	}
	memcpy(out + k, data, n);
	return k + n;
}

static unsigned hexv(char c)
{
	return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

static void key(const char *hex, uint8_t k[16])
{
	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)(hexv(hex[2 * i]) << 4 | hexv(hex[2 * i + 1]));
}

/* The DK APDU: the HDLC info field after the LLC (header walked by hand). */
static size_t dk_apdu(uint8_t *apdu)
{
	static uint8_t raw[BUF];
	size_t n, nl;
	struct hm_hexline l[2];
	assert_int_equal(vec_hex(DK, raw, sizeof raw, &n, l, 2, &nl), 0);
	size_t s = 3; /* 7E, format (2); then dst, src addresses end at low bit 1 */
	while (!(raw[s] & 1))
		s++;
	s++;
	while (!(raw[s] & 1))
		s++;
	s += 1 + 1 + 2 + 3; /* last address byte, control, HCS, LLC */
	memcpy(apdu, raw + s, n - 3 - s);
	return n - 3 - s;
}

static void real_apdu_in_blocks(void **state)
{
	(void)state;
	vec_require();
	static uint8_t apdu[BUF], blk[BUF];
	static struct hm_gbt g;
	static struct hm_decoder d;
	static struct hm_reading r;
	static const size_t sizes[] = {1, 7, 100, 200, 0x7F, 0x80, 10000};
	size_t n = dk_apdu(apdu);
	assert_int_equal(apdu[0], 0xDB);
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		struct sink s = {0};
		hm_gbt_init(&g);
		uint16_t num = 1;
		for (size_t off = 0; off < n; off += sizes[si], num++) {
			size_t k = n - off < sizes[si] ? n - off : sizes[si];
			size_t bl = block(blk, off + k == n, num, apdu + off, k);
			hm_gbt_feed(&g, blk, bl, collect, &s);
			assert_int_equal(s.good, off + k == n ? 1 : 0);
		}
		assert_int_equal(s.errs, 0);
		assert_int_equal(s.last_len, n);
		assert_memory_equal(s.last, apdu, n);

		hm_decoder_init(&d);
		key(vec_manifest(DK, "encryption_key"), d.key);
		key(vec_manifest(DK, "auth_key"), d.auth_key);
		d.has_key = d.has_auth_key = true;
		assert_int_equal(hm_decode(&d, s.last, s.last_len, &r), HM_ERR_OK);
		char want[64], got[64];
		const char *exp = vec_manifest(DK, "expected_values");
		static const char *const names[] = {"active_energy_import_kwh", "voltage_l1_v", "power_factor",
		                                    "active_energy_import_l3_kwh"};
		for (size_t i = 0; i < 4; i++) {
			assert_true(vec_expect(exp, names[i], want, sizeof want));
			int f = hm_num_field_by_name(names[i]);
			assert_true(hm_reading_has_num(&r, f));
			hm_num_format(r.num[f], got, sizeof got);
			assert_string_equal(got, want);
		}
	}
}

static void synthetic(void **state)
{
	(void)state;
	static struct hm_gbt g;
	static uint8_t b[HM_MSG_MAX + 64];
	struct sink s;
	size_t n;

	/* Not a block: passes through as it is, LLC and all. */
	static const uint8_t plain[] = {0xE6, 0xE7, 0x00, 0x0F, 1, 2, 3, 4, 0};
	memset(&s, 0, sizeof s);
	hm_gbt_init(&g);
	hm_gbt_feed(&g, plain, sizeof plain, collect, &s);
	assert_int_equal(s.good, 1);
	assert_int_equal(s.last_len, sizeof plain);
	assert_memory_equal(s.last, plain, sizeof plain);

	/* Blocks 1, 3 (2 lost): segment error, nothing out; then a fresh 1, 2. */
	memset(&s, 0, sizeof s);
	hm_gbt_init(&g);
	n = block(b, false, 1, (const uint8_t *)"ab", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	n = block(b, true, 3, (const uint8_t *)"ef", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	assert_int_equal(s.good, 0);
	assert_int_equal(s.err_by[HM_ERR_SEGMENT_ERROR], 1);
	n = block(b, false, 1, (const uint8_t *)"ab", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	n = block(b, true, 2, (const uint8_t *)"cd", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	assert_int_equal(s.good, 1);
	assert_memory_equal(s.last, "abcd", 4);

	/* The last block lost, a new message begins: one error, then the message. */
	memset(&s, 0, sizeof s);
	hm_gbt_init(&g);
	n = block(b, false, 1, (const uint8_t *)"xx", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	n = block(b, true, 1, (const uint8_t *)"ok", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	assert_int_equal(s.err_by[HM_ERR_SEGMENT_ERROR], 1);
	assert_int_equal(s.good, 1);
	assert_int_equal(s.last_len, 2);
	assert_memory_equal(s.last, "ok", 2);
	assert_int_equal(g.errors[HM_ERR_SEGMENT_ERROR], 1);

	/* A first block not numbered 1. */
	memset(&s, 0, sizeof s);
	hm_gbt_init(&g);
	n = block(b, true, 2, (const uint8_t *)"ab", 2);
	hm_gbt_feed(&g, b, n, collect, &s);
	assert_int_equal(s.err_by[HM_ERR_SEGMENT_ERROR], 1);

	/* Lengths: every cut of a block, a block longer than its length byte,
	 * a 3-byte A-XDR length. */
	n = block(b, true, 1, (const uint8_t *)"abcdefgh", 8);
	for (size_t k = 1; k < n; k++) {
		memset(&s, 0, sizeof s);
		hm_gbt_init(&g);
		hm_gbt_feed(&g, b, k, collect, &s);
		assert_int_equal(s.good, 0);
		assert_int_equal(s.err_by[HM_ERR_TRUNCATED], 1);
	}
	memset(&s, 0, sizeof s);
	hm_gbt_feed(&g, b, n + 1, collect, &s);
	assert_int_equal(s.err_by[HM_ERR_MALFORMED_APDU], 1);
	b[6] = 0x83;
	hm_gbt_feed(&g, b, n, collect, &s);
	assert_int_equal(s.err_by[HM_ERR_MALFORMED_APDU], 2);

	/* More than HM_MSG_MAX in total: oversize, nothing out. */
	static uint8_t chunk[4000];
	memset(&s, 0, sizeof s);
	hm_gbt_init(&g);
	for (uint16_t i = 1; i <= 3; i++) {
		n = block(b, i == 3, i, chunk, sizeof chunk);
		hm_gbt_feed(&g, b, n, collect, &s);
	}
	assert_int_equal(s.good, 0);
	assert_int_equal(s.err_by[HM_ERR_OVERSIZE], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_apdu_in_blocks),
	    cmocka_unit_test(synthetic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
