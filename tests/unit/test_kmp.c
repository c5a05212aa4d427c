/*
 * test_kmp.c - the Kamstrup Meter Protocol codec against the KMP vectors.
 *
 * Expected values come from MANIFEST.tsv (serial number, register, unit,
 * scaler byte and mantissa of the documentation example; the MULTICAL
 * readings) and from the vector bytes themselves: every request line must
 * be what our request builder produces for the same register, byte for
 * byte.  Every frame is also truncated at every length and flipped at
 * every bit; synthetic frames (built here) cover stuffing and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/crc.h"
#include "hanmeter/kmp.h"
#include "vectors.h"

#define BUF  4096
#define MAXL 32

struct capture {
	uint8_t raw[BUF];
	size_t n;
	struct hm_hexline lines[MAXL];
	size_t nl;
};

static void load(const char *file, struct capture *c)
{
	assert_int_equal(vec_hex(file, c->raw, sizeof c->raw, &c->n, c->lines, MAXL, &c->nl), 0);
	assert_true(c->nl > 0 && c->nl <= MAXL);
}

static const uint8_t *line(const struct capture *c, size_t l, size_t *len)
{
	*len = c->lines[l].len;
	return c->raw + c->lines[l].off;
}

/* Documentation examples: requests rebuilt byte for byte, serial number and
 * the synthetic register value as the MANIFEST states them. */
static void doc_examples(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	const char *file = "kmp-kamstrup-doc-examples.hex";
	const char *exp = vec_manifest(file, "expected_values");
	uint8_t body[HM_KMP_BODY_MAX], out[HM_KMP_FRAME_MAX];
	struct hm_kmp_frame f;
	size_t n, on;
	char want[64], got[64];
	load(file, &c);
	assert_int_equal(c.nl, 5);

	/* Line 1: GetType request. */
	const uint8_t *p = line(&c, 0, &n);
	assert_int_equal(hm_kmp_decode(p, n, body, sizeof body, &f), HM_ERR_OK);
	assert_int_equal(f.start, HM_KMP_START_TO_METER);
	assert_int_equal(f.cid, HM_KMP_CID_GET_TYPE);
	assert_int_equal(hm_kmp_request(HM_KMP_ADDR_HEAT_METER, HM_KMP_CID_GET_TYPE, out, sizeof out, &on), HM_ERR_OK);
	assert_int_equal(on, n);
	assert_memory_equal(out, p, n);

	/* Line 2: GetSerialNo request; line 3: its response. */
	p = line(&c, 1, &n);
	assert_int_equal(hm_kmp_request(HM_KMP_ADDR_HEAT_METER, HM_KMP_CID_GET_SERIAL, out, sizeof out, &on),
	                 HM_ERR_OK);
	assert_int_equal(on, n);
	assert_memory_equal(out, p, n);
	p = line(&c, 2, &n);
	assert_int_equal(hm_kmp_decode(p, n, body, sizeof body, &f), HM_ERR_OK);
	assert_int_equal(f.start, HM_KMP_START_FROM_METER);
	uint32_t serial;
	assert_int_equal(hm_kmp_parse_serial(&f, &serial), HM_ERR_OK);
	assert_true(vec_expect(exp, "[GetSerialNo response] serial_number", want, sizeof want));
	assert_int_equal(serial, strtoul(want, NULL, 10));

	/* Line 4: GetRegister 0x0080 request (0x80 stuffed as 1B 7F). */
	p = line(&c, 3, &n);
	assert_true(vec_expect(exp, "[GetRegister 0x0080 response] register", want, sizeof want));
	uint16_t id = (uint16_t)strtoul(want, NULL, 16);
	assert_int_equal(hm_kmp_request_registers(HM_KMP_ADDR_HEAT_METER, &id, 1, out, sizeof out, &on), HM_ERR_OK);
	assert_int_equal(on, n);
	assert_memory_equal(out, p, n);

	/* Line 5: its response. */
	p = line(&c, 4, &n);
	assert_int_equal(hm_kmp_decode(p, n, body, sizeof body, &f), HM_ERR_OK);
	struct hm_kmp_register regs[HM_KMP_REGS_MAX];
	size_t nr;
	assert_int_equal(hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &nr), HM_ERR_OK);
	assert_int_equal(nr, 1);
	assert_int_equal(regs[0].id, id);
	assert_true(vec_expect(exp, "unit_code", want, sizeof want));
	assert_int_equal(regs[0].unit, strtoul(want, NULL, 16));
	assert_string_equal(hm_kmp_unit_name(regs[0].unit), "kW");
	assert_true(vec_expect(exp, "mantissa", want, sizeof want));
	assert_int_equal(regs[0].value.m, strtoll(want, NULL, 10));
	assert_true(vec_expect(exp, "scaler_byte", want, sizeof want)); /* "0x11 (exponent +17)" */
	assert_int_equal(regs[0].value.e, (int)strtoul(want, NULL, 16) & 0x3F);
	/* value = m * 10^e written as d.dddE+xx, as the MANIFEST gives it */
	snprintf(got, sizeof got, "%lld", (long long)regs[0].value.m);
	size_t nd = strlen(got);
	char sci[96];
	snprintf(sci, sizeof sci, "%c.%sE+%d", got[0], got + 1, (int)(regs[0].value.e + nd - 1));
	assert_true(vec_expect(exp, "value", want, sizeof want));
	assert_string_equal(sci, want);
}

/* The MULTICAL captures: every request is what we would send for the
 * register its response answers; the responses give the MANIFEST's values. */
static void multical_captures(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	const char *file = "kmp-kamstrup-multical-heat-captures.hex";
	const char *exp = vec_manifest(file, "expected_values");
	uint8_t body[HM_KMP_BODY_MAX], out[HM_KMP_FRAME_MAX];
	struct hm_kmp_frame f;
	struct hm_reading r;
	size_t n, on, nr;
	unsigned stored = 0;
	load(file, &c);
	assert_int_equal(c.nl, 18);
	hm_reading_clear(&r);
	for (size_t l = 0; l + 1 < c.nl; l += 2) {
		struct hm_kmp_register regs[HM_KMP_REGS_MAX];
		const uint8_t *rsp = line(&c, l + 1, &n);
		assert_int_equal(hm_kmp_decode(rsp, n, body, sizeof body, &f), HM_ERR_OK);
		assert_int_equal(f.start, HM_KMP_START_FROM_METER);
		assert_int_equal(f.addr, HM_KMP_ADDR_HEAT_METER);
		assert_int_equal(hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &nr), HM_ERR_OK);
		assert_int_equal(nr, 1);
		assert_non_null(hm_kmp_unit_name(regs[0].unit));
		stored += hm_kmp_to_reading(regs, nr, &r);

		const uint8_t *req = line(&c, l, &n);
		assert_int_equal(hm_kmp_request_registers(HM_KMP_ADDR_HEAT_METER, &regs[0].id, 1, out, sizeof out, &on),
		                 HM_ERR_OK);
		assert_int_equal(on, n);
		assert_memory_equal(out, req, n);
	}
	assert_int_equal(stored, 9);

	/* Every expected name is a field with exactly that value. */
	unsigned checked = 0;
	for (const char *p = exp; p && *p;) {
		char name[64], want[64], got[64];
		const char *eq = strchr(p, '=');
		assert_non_null(eq);
		snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
		assert_true(vec_expect(exp, name, want, sizeof want));
		int fi = hm_num_field_by_name(name);
		print_message("%s = %s\n", name, want);
		assert_true(fi >= 0);
		assert_true(hm_reading_has_num(&r, fi));
		assert_true(hm_num_format(r.num[fi], got, sizeof got) > 0);
		assert_string_equal(got, want);
		checked++;
		p = strstr(p, "; ");
		if (p)
			p += 2;
	}
	assert_int_equal(checked, 9);
}

static void bad_crc(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	const char *file = "kmp-kamstrup-bad-crc.hex";
	char want[64];
	uint8_t body[HM_KMP_BODY_MAX];
	struct hm_kmp_frame f;
	size_t n;
	load(file, &c);
	assert_true(vec_expect(vec_manifest(file, "expected_values"), "expect_reject", want, sizeof want));
	const uint8_t *p = line(&c, 0, &n);
	enum hm_err e = hm_kmp_decode(p, n, body, sizeof body, &f);
	assert_string_equal(hm_err_name(e), want);
	assert_int_equal(f.data_len, 0);
}

/* Every prefix of every frame fails; every bit flip fails. */
static void truncations_and_flips(void **state)
{
	(void)state;
	vec_require();
	static const char *const files[] = {"kmp-kamstrup-doc-examples.hex", "kmp-kamstrup-multical-heat-captures.hex"};
	static struct capture c;
	uint8_t body[HM_KMP_BODY_MAX], frame[HM_KMP_FRAME_MAX];
	struct hm_kmp_frame f;
	unsigned flips = 0;
	for (size_t fi = 0; fi < 2; fi++) {
		load(files[fi], &c);
		for (size_t l = 0; l < c.nl; l++) {
			size_t n;
			const uint8_t *p = line(&c, l, &n);
			for (size_t k = 0; k < n; k++)
				assert_int_not_equal(hm_kmp_decode(p, k, body, sizeof body, &f), HM_ERR_OK);
			memcpy(frame, p, n);
			for (size_t k = 0; k < n; k++)
				for (int b = 0; b < 8; b++) {
					frame[k] ^= (uint8_t)(1u << b);
					assert_int_not_equal(hm_kmp_decode(frame, n, body, sizeof body, &f), HM_ERR_OK);
					frame[k] ^= (uint8_t)(1u << b);
					flips++;
				}
		}
	}
	assert_true(flips > 1000);
}

/* Synthetic: stuffing of every special byte, round trip, limits. */
static void synthetic(void **state)
{
	(void)state;
	static const uint8_t data[] = {0x06, 0x0D, 0x1B, 0x40, 0x80, 0x00, 0xFF, 0x7F};
	uint8_t out[HM_KMP_FRAME_MAX], body[HM_KMP_BODY_MAX];
	struct hm_kmp_frame f;
	size_t on;

	assert_int_equal(hm_kmp_encode(HM_KMP_START_FROM_METER, 0x3F, 0x10, data, sizeof data, out, sizeof out, &on),
	                 HM_ERR_OK);
	/* Each of the five special bytes takes two bytes on the wire; no bare
	 * special byte between start and stop. */
	for (size_t i = 1; i + 1 < on; i++)
		assert_false(out[i] == 0x06 || out[i] == 0x0D || out[i] == 0x40 || out[i] == 0x80);
	assert_int_equal(out[on - 1], HM_KMP_STOP);
	assert_int_equal(hm_kmp_decode(out, on, body, sizeof body, &f), HM_ERR_OK);
	assert_int_equal(f.data_len, sizeof data);
	assert_memory_equal(f.data, data, sizeof data);
	/* The CRC is XMODEM over address, CID, data (independent check). */
	uint8_t plain[2 + sizeof data];
	plain[0] = 0x3F;
	plain[1] = 0x10;
	memcpy(plain + 2, data, sizeof data);
	uint16_t crc = hm_crc16_xmodem(plain, sizeof plain);
	assert_int_equal(body[2 + sizeof data], crc >> 8);
	assert_int_equal(body[3 + sizeof data], crc & 0xFF);

	/* Too small an output; too small a body buffer; bytes after the stop. */
	assert_int_equal(hm_kmp_encode(0x80, 0x3F, 0x10, data, sizeof data, out, 8, &on), HM_ERR_OVERSIZE);
	assert_int_equal(hm_kmp_encode(0x80, 0x3F, 0x10, data, sizeof data, out, sizeof out, &on), HM_ERR_OK);
	assert_int_equal(hm_kmp_decode(out, on, body, 4, &f), HM_ERR_OVERSIZE);
	out[on] = 0x00;
	assert_int_equal(hm_kmp_decode(out, on + 1, body, sizeof body, &f), HM_ERR_BAD_FORMAT);
	/* An escape of a byte that needs none; an unstuffed 0x40; escape at the end. */
	static const uint8_t esc_bad[] = {0x40, 0x3F, 0x1B, 0x00, 0x00, 0x00, 0x0D};
	static const uint8_t bare[] = {0x40, 0x3F, 0x40, 0x00, 0x00, 0x0D};
	static const uint8_t esc_end[] = {0x40, 0x3F, 0x1B, 0x0D};
	static const uint8_t tiny[] = {0x40, 0x3F, 0x02, 0x0D};
	assert_int_equal(hm_kmp_decode(esc_bad, sizeof esc_bad, body, sizeof body, &f), HM_ERR_BAD_FORMAT);
	assert_int_equal(hm_kmp_decode(bare, sizeof bare, body, sizeof body, &f), HM_ERR_BAD_FORMAT);
	assert_int_equal(hm_kmp_decode(esc_end, sizeof esc_end, body, sizeof body, &f), HM_ERR_BAD_FORMAT);
	assert_int_equal(hm_kmp_decode(esc_end, 3, body, sizeof body, &f), HM_ERR_TRUNCATED);
	assert_int_equal(hm_kmp_decode(tiny, sizeof tiny, body, sizeof body, &f), HM_ERR_BAD_FORMAT);
	assert_int_equal(hm_kmp_decode((const uint8_t *)"\x06", 1, body, sizeof body, &f), HM_ERR_NOT_MINE);

	/* Request limits: 0 and 9 registers; 8 fit. */
	uint16_t ids[9] = {0x3C, 0x50, 0x56, 0x57, 0x59, 0x4A, 0x44, 0x8D, 0x8B};
	assert_int_equal(hm_kmp_request_registers(0x3F, ids, 0, out, sizeof out, &on), HM_ERR_BAD_FORMAT);
	assert_int_equal(hm_kmp_request_registers(0x3F, ids, 9, out, sizeof out, &on), HM_ERR_BAD_FORMAT);
	assert_int_equal(hm_kmp_request_registers(0x3F, ids, 8, out, sizeof out, &on), HM_ERR_OK);
	assert_int_equal(hm_kmp_decode(out, on, body, sizeof body, &f), HM_ERR_OK);
	assert_int_equal(f.data_len, 1 + 16);
	assert_int_equal(f.data[0], 8);
}

/* Synthetic register responses: signs, several registers, unit conversion,
 * malformed bodies. */
static void registers(void **state)
{
	(void)state;
	/* E1 in kWh = 55006 (-> 55.006 MWh); temp -0.05 degC (sign and exponent
	 * negative: 0xC2, m 5); volume in litres 1875560 (-> 1875.56 m3); flow in
	 * an unexpected unit (kW) -> not stored. */
	static const uint8_t data[] = {
	    0x00, 0x3C, 2,  4, 0x00, 0x00, 0x00, 0xD6, 0xDE, /* E1 kWh */
	    0x00, 0x56, 37, 1, 0xC2, 0x05,                   /* t1 -0.05 */
	    0x00, 0x44, 39, 3, 0x00, 0x1C, 0x9E, 0x68,       /* V1 in l: 0x1C9E68 = 1875560 */
	    0x00, 0x4A, 22, 1, 0x00, 0x07,                   /* flow in kW: refused */
	};
	struct hm_kmp_frame f = {.cid = HM_KMP_CID_GET_REGISTER, .data = data, .data_len = sizeof data};
	struct hm_kmp_register regs[HM_KMP_REGS_MAX];
	struct hm_reading r;
	size_t n;
	char buf[32];
	assert_int_equal(hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &n), HM_ERR_OK);
	assert_int_equal(n, 4);
	assert_int_equal(regs[1].value.m, -5);
	assert_int_equal(regs[1].value.e, -2);
	hm_reading_clear(&r);
	assert_int_equal(hm_kmp_to_reading(regs, n, &r), 3);
	hm_num_format(r.num[HM_NUM_HEAT_ENERGY_E1_MWH], buf, sizeof buf);
	assert_string_equal(buf, "55.006");
	hm_num_format(r.num[HM_NUM_TEMP_FLOW_C], buf, sizeof buf);
	assert_string_equal(buf, "-0.05");
	hm_num_format(r.num[HM_NUM_VOLUME_V1_M3], buf, sizeof buf);
	assert_string_equal(buf, "1875.56");
	assert_false(hm_reading_has_num(&r, HM_NUM_FLOW_L_H));
	assert_false(hm_reading_has_num(&r, HM_NUM_HEAT_ENERGY_E1_GJ));

	/* Too many for the caller's array. */
	assert_int_equal(hm_kmp_parse_registers(&f, regs, 3, &n), HM_ERR_MALFORMED_APDU);
	/* Every cut inside a register. */
	for (size_t k = 1; k < sizeof data; k++) {
		f.data_len = k;
		enum hm_err e = hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &n);
		bool boundary = k == 9 || k == 15 || k == 23;
		assert_int_equal(e, boundary ? HM_ERR_OK : HM_ERR_MALFORMED_APDU);
	}
	/* A 9-byte mantissa; a mantissa above INT64_MAX; another CID. */
	static const uint8_t m9[] = {0, 1, 0, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	static const uint8_t big[] = {0, 1, 0, 8, 0, 0x80, 0, 0, 0, 0, 0, 0, 0};
	f.data = m9;
	f.data_len = sizeof m9;
	assert_int_equal(hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &n), HM_ERR_MALFORMED_APDU);
	f.data = big;
	f.data_len = sizeof big;
	assert_int_equal(hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &n), HM_ERR_MALFORMED_APDU);
	f.cid = HM_KMP_CID_GET_SERIAL;
	assert_int_equal(hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &n), HM_ERR_NOT_MINE);
	uint32_t serial;
	assert_int_equal(hm_kmp_parse_serial(&f, &serial), HM_ERR_MALFORMED_APDU);
	assert_null(hm_kmp_unit_name(0));
	assert_null(hm_kmp_unit_name(200));

	/* Random response bodies (synthetic, fixed seed), framed with a valid
	 * CRC: the parser answers OK or malformed, never crashes, and what it
	 * accepts maps without harm. */
	static uint8_t rnd[100], out[HM_KMP_FRAME_MAX], body[HM_KMP_BODY_MAX];
	uint32_t x = 4711;
	unsigned ok = 0;
	for (int round = 0; round < 20000; round++) {
		size_t rn = (x >> 9) % sizeof rnd, on;
		for (size_t i = 0; i < rn; i++) {
			x = x * 1103515245u + 12345u;
			rnd[i] = (uint8_t)(x >> 16);
			if (i % 5 == 3) /* keep mantissa lengths plausible now and then */
				rnd[i] &= (round & 1) ? 0x07 : 0xFF;
		}
		assert_int_equal(hm_kmp_encode(0x40, 0x3F, 0x10, rnd, rn, out, sizeof out, &on), HM_ERR_OK);
		assert_int_equal(hm_kmp_decode(out, on, body, sizeof body, &f), HM_ERR_OK);
		assert_int_equal(f.data_len, rn);
		enum hm_err e = hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &n);
		assert_true(e == HM_ERR_OK || e == HM_ERR_MALFORMED_APDU);
		if (e == HM_ERR_OK) {
			hm_reading_clear(&r);
			hm_kmp_to_reading(regs, n, &r);
			ok++;
		}
	}
	assert_true(ok > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(doc_examples),          cmocka_unit_test(multical_captures), cmocka_unit_test(bad_crc),
	    cmocka_unit_test(truncations_and_flips), cmocka_unit_test(synthetic),         cmocka_unit_test(registers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
