/*
 * test_crc.c - the three CRC-16s against their catalogued check values and
 * against bit-at-a-time references written from the algorithm definitions
 * (poly, reflection, init, xorout), over random data at every length,
 * every alignment and every split point of the incremental form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/crc.h"

static const uint8_t check_input[] = "123456789"; /* the catalogue's check string, 9 bytes */

/* Reference: a reflected CRC-16, one bit at a time (shift right, poly reflected). */
static uint16_t ref_reflected(uint16_t poly_rev, uint16_t init, uint16_t xorout, const uint8_t *p, size_t n)
{
	uint16_t crc = init;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ poly_rev) : (uint16_t)(crc >> 1);
	}
	return (uint16_t)(crc ^ xorout);
}

/* Reference: a non-reflected CRC-16, one bit at a time (shift left). */
static uint16_t ref_normal(uint16_t poly, uint16_t init, const uint8_t *p, size_t n)
{
	uint16_t crc = init;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ poly) : (uint16_t)(crc << 1);
	}
	return crc;
}

static uint16_t ref_x25(const uint8_t *p, size_t n)
{
	return ref_reflected(0x8408, 0xFFFF, 0xFFFF, p, n);
}
static uint16_t ref_arc(const uint8_t *p, size_t n)
{
	return ref_reflected(0xA001, 0, 0, p, n);
}
static uint16_t ref_xmodem(const uint8_t *p, size_t n)
{
	return ref_normal(0x1021, 0, p, n);
}

/* xorshift32, fixed seed: the same "random" data on every run. */
static uint32_t rng_state = 0x2545F491u;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void check_values(void **state)
{
	(void)state;
	/* Values from the CRC catalogue (reveng), also in crc.h. */
	assert_int_equal(hm_crc16_x25(check_input, 9), 0x906E);
	assert_int_equal(hm_crc16_arc(check_input, 9), 0xBB3D);
	assert_int_equal(hm_crc16_xmodem(check_input, 9), 0x31C3);
	/* The references agree with the catalogue too, so they are references. */
	assert_int_equal(ref_x25(check_input, 9), 0x906E);
	assert_int_equal(ref_arc(check_input, 9), 0xBB3D);
	assert_int_equal(ref_xmodem(check_input, 9), 0x31C3);
	/* Empty input: init ^ xorout. */
	assert_int_equal(hm_crc16_x25(check_input, 0), 0x0000);
	assert_int_equal(hm_crc16_arc(check_input, 0), 0x0000);
	assert_int_equal(hm_crc16_xmodem(check_input, 0), 0x0000);
}

/* The X.25 residue: a frame with its FCS appended (LSB first) has the
 * constant "good FCS" 0xF0B8 in the register before the final XOR
 * (RFC 1662 section C.2). */
static void x25_good_fcs_residue(void **state)
{
	(void)state;
	uint8_t buf[64];
	for (size_t n = 0; n < 60; n++) {
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rng();
		uint16_t fcs = hm_crc16_x25(buf, n);
		buf[n] = (uint8_t)(fcs & 0xFF);
		buf[n + 1] = (uint8_t)(fcs >> 8);
		assert_int_equal(hm_crc16_x25_update(HM_CRC16_X25_INIT, buf, n + 2), 0xF0B8);
	}
}

/* A real HCS from a capture: Kaifa list 1 header "A0 27 01 02 01 10" has
 * HCS 5A 87 on the wire (vectors kaifa-ma304h3e-list1-no.hex), i.e. 0x875A. */
static void x25_real_hcs(void **state)
{
	(void)state;
	static const uint8_t hdr[] = {0xA0, 0x27, 0x01, 0x02, 0x01, 0x10};
	assert_int_equal(hm_crc16_x25(hdr, sizeof hdr), 0x875A);
}

/* The KMP property the vectors README states: XMODEM over data + CRC (big-endian) is 0. */
static void xmodem_residue_zero(void **state)
{
	(void)state;
	uint8_t buf[40];
	for (size_t n = 0; n < 38; n++) {
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rng();
		uint16_t crc = hm_crc16_xmodem(buf, n);
		buf[n] = (uint8_t)(crc >> 8);
		buf[n + 1] = (uint8_t)(crc & 0xFF);
		assert_int_equal(hm_crc16_xmodem(buf, n + 2), 0);
	}
}

/* Every length 0..300 at every start alignment 0..7 against the references:
 * covers the slicing-by-8 body, every tail length and unaligned starts. */
static void against_reference(void **state)
{
	(void)state;
	static uint8_t buf[320];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rng();
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= 308; n++) {
			assert_int_equal(hm_crc16_x25(buf + off, n), ref_x25(buf + off, n));
			assert_int_equal(hm_crc16_arc(buf + off, n), ref_arc(buf + off, n));
			assert_int_equal(hm_crc16_xmodem(buf + off, n), ref_xmodem(buf + off, n));
		}
	/* All-ones and all-zeros buffers hit the table corners. */
	memset(buf, 0xFF, sizeof buf);
	assert_int_equal(hm_crc16_x25(buf, sizeof buf), ref_x25(buf, sizeof buf));
	memset(buf, 0x00, sizeof buf);
	assert_int_equal(hm_crc16_x25(buf, sizeof buf), ref_x25(buf, sizeof buf));
	/* Every byte value in every lane of an 8-byte block. */
	for (int lane = 0; lane < 8; lane++)
		for (int v = 0; v < 256; v++) {
			uint8_t blk[8] = {0};
			blk[lane] = (uint8_t)v;
			assert_int_equal(hm_crc16_x25(blk, 8), ref_x25(blk, 8));
		}
}

/* The incremental form over every split point (and a three-way split)
 * equals the one-shot form. */
static void incremental_every_split(void **state)
{
	(void)state;
	static uint8_t buf[400];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)rng();
	const size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 400};
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		size_t n = lens[li];
		uint16_t whole = hm_crc16_x25(buf, n);
		assert_int_equal(whole, ref_x25(buf, n));
		for (size_t k = 0; k <= n; k++) {
			uint16_t c = hm_crc16_x25_update(HM_CRC16_X25_INIT, buf, k);
			c = hm_crc16_x25_update(c, buf + k, n - k);
			assert_int_equal(hm_crc16_x25_final(c), whole);
			for (size_t j = k; j <= n && j < k + 10; j++) {
				uint16_t d = hm_crc16_x25_update(HM_CRC16_X25_INIT, buf, k);
				d = hm_crc16_x25_update(d, buf + k, j - k);
				d = hm_crc16_x25_update(d, buf + j, n - j);
				assert_int_equal(hm_crc16_x25_final(d), whole);
			}
		}
		/* byte by byte */
		uint16_t c = HM_CRC16_X25_INIT;
		for (size_t k = 0; k < n; k++)
			c = hm_crc16_x25_update(c, buf + k, 1);
		assert_int_equal(hm_crc16_x25_final(c), whole);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(check_values),      cmocka_unit_test(x25_good_fcs_residue),
	    cmocka_unit_test(x25_real_hcs),      cmocka_unit_test(xmodem_residue_zero),
	    cmocka_unit_test(against_reference), cmocka_unit_test(incremental_every_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
