/*
 * fuzz_kmp.c - libFuzzer entry: Kamstrup Meter Protocol frames through
 * hm_kmp_decode(), the register and serial parsers and hm_kmp_to_reading();
 * and arbitrary bodies through hm_kmp_encode() and back.
 *
 * Input: one physical frame (start 80/40, stuffed body, stop 0D).  The same
 * bytes, read as start, address, CID and data, are also encoded.
 *
 * Invariants checked, beyond "no crash" (expected values from kmp.h's
 * layout, recomputed here):
 *  - a decoded frame is the input unstuffed (06 0D 1B 40 80 sent as 1B,
 *    byte ^ FF), ends in its only 0D, and its CRC-16/XMODEM (bitwise
 *    reference) over address, CID, data and CRC is 0;
 *  - stuffing is canonical: re-encoding a decoded frame gives the input
 *    back byte for byte, and decoding an encoded frame gives its parts back;
 *  - GetRegister responses: every register's id, unit and exact value
 *    (+-mantissa * 10^+-exponent) match a parse done here; at most the
 *    registers asked for; GetSerialNo: the 4 bytes big-endian;
 *  - the reading built from the registers is well-formed and valid JSON.
 *
 * needs: src/core/kmp.c src/core/json.c src/core/reading.c
 */
#include "hanmeter/kmp.h"

#include "fuzz_decode.h"

static uint8_t body[HM_KMP_BODY_MAX], body2[HM_KMP_BODY_MAX], ref[HM_KMP_FRAME_MAX * 2];
static uint8_t enc[HM_KMP_FRAME_MAX];
static struct hm_reading reading;

/* CRC-16/XMODEM bit by bit: polynomial 0x1021, init 0, not reflected. */
static uint16_t crc_xmodem(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

static bool special(uint8_t b)
{
	return b == 0x06 || b == 0x0D || b == 0x1B || b == 0x40 || b == 0x80;
}

/* Unstuffs p[1..len-1) (between start and stop) into ref; its length. */
static size_t unstuff(const uint8_t *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 1; i + 1 < len; i++) {
		if (p[i] == 0x1B) {
			FUZZ_CHECK(i + 2 < len);
			ref[n++] = (uint8_t)(p[++i] ^ 0xFF);
			FUZZ_CHECK(special(ref[n - 1]));
		} else {
			FUZZ_CHECK(!special(p[i]));
			ref[n++] = p[i];
		}
	}
	return n;
}

static void check_registers(const struct hm_kmp_frame *f)
{
	struct hm_kmp_register regs[HM_KMP_REGS_MAX];
	size_t n = 0;
	enum hm_err rc = hm_kmp_parse_registers(f, regs, HM_KMP_REGS_MAX, &n);
	if (f->cid != HM_KMP_CID_GET_REGISTER)
		FUZZ_CHECK(rc == HM_ERR_NOT_MINE);
	if (rc != HM_ERR_OK)
		return;
	FUZZ_CHECK(n <= HM_KMP_REGS_MAX);
	/* id(2) unit(1) len(1) sign/exponent(1) mantissa(len), back to back. */
	const uint8_t *d = f->data;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(at + 5 <= f->data_len);
		uint16_t id = (uint16_t)(d[at] << 8 | d[at + 1]);
		uint8_t unit = d[at + 2], mlen = d[at + 3], se = d[at + 4];
		FUZZ_CHECK(mlen <= 8 && at + 5 + mlen <= f->data_len);
		uint64_t m = 0;
		for (size_t k = 0; k < mlen; k++)
			m = m << 8 | d[at + 5 + k];
		FUZZ_CHECK(m <= (uint64_t)INT64_MAX);
		int64_t sm = (se & 0x80) ? -(int64_t)m : (int64_t)m;
		int e = (se & 0x40) ? -(se & 0x3F) : (se & 0x3F);
		FUZZ_CHECK(regs[i].id == id && regs[i].unit == unit);
		FUZZ_CHECK(regs[i].value.m == sm && regs[i].value.e == e);
		at += 5 + mlen;
	}
	FUZZ_CHECK(at == f->data_len); /* every byte of the response accounted for */

	hm_reading_clear(&reading);
	reading.profile = "kmp";
	unsigned stored = hm_kmp_to_reading(regs, n, &reading);
	FUZZ_CHECK(stored <= n);
	fuzz_check_reading(&reading);
	for (size_t i = 0; i < n; i++)
		(void)hm_kmp_unit_name(regs[i].unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > HM_KMP_FRAME_MAX * 2)
		return 0;
	struct hm_kmp_frame f;
	enum hm_err rc = hm_kmp_decode(data, size, body, sizeof body, &f);
	FUZZ_CHECK((unsigned)rc < HM_ERR_COUNT);
	if (rc == HM_ERR_OK) {
		FUZZ_CHECK(size >= 2 && (data[0] == 0x80 || data[0] == 0x40) && f.start == data[0]);
		FUZZ_CHECK(data[size - 1] == HM_KMP_STOP && memchr(data, HM_KMP_STOP, size - 1) == NULL);
		size_t n = unstuff(data, size);
		FUZZ_CHECK(n >= 4 && crc_xmodem(ref, n) == 0);
		FUZZ_CHECK(f.addr == ref[0] && f.cid == ref[1]);
		FUZZ_CHECK(f.data_len == n - 4 && memcmp(f.data, ref + 2, f.data_len) == 0);
		/* Canonical: encoding the parts gives the frame back. */
		size_t elen = 0;
		FUZZ_CHECK(hm_kmp_encode(f.start, f.addr, f.cid, f.data, f.data_len, enc, sizeof enc, &elen) ==
		           HM_ERR_OK);
		FUZZ_CHECK(elen == size && memcmp(enc, data, size) == 0);
		check_registers(&f);
		if (f.cid == HM_KMP_CID_GET_SERIAL) {
			uint32_t serial;
			if (hm_kmp_parse_serial(&f, &serial) == HM_ERR_OK)
				FUZZ_CHECK(f.data_len == 4 &&
				           serial == ((uint32_t)f.data[0] << 24 | (uint32_t)f.data[1] << 16 |
				                      (uint32_t)f.data[2] << 8 | f.data[3]));
		}
	}

	/* Encode: start, address, CID from the first bytes, data the rest. */
	if (size >= 3) {
		uint8_t start = data[0] & 1 ? HM_KMP_START_FROM_METER : HM_KMP_START_TO_METER;
		size_t elen = 0;
		rc = hm_kmp_encode(start, data[1], data[2], data + 3, size - 3, enc, sizeof enc, &elen);
		if (size - 3 + 4 > HM_KMP_BODY_MAX)
			FUZZ_CHECK(rc == HM_ERR_OVERSIZE);
		if (rc == HM_ERR_OK) {
			FUZZ_CHECK(elen <= sizeof enc);
			struct hm_kmp_frame g;
			FUZZ_CHECK(hm_kmp_decode(enc, elen, body2, sizeof body2, &g) == HM_ERR_OK);
			FUZZ_CHECK(g.start == start && g.addr == data[1] && g.cid == data[2]);
			FUZZ_CHECK(g.data_len == size - 3 && memcmp(g.data, data + 3, g.data_len) == 0);
		}
	}
	return 0;
}
