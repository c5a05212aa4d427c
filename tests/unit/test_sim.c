/*
 * test_sim.c - the simulator's lists through the core decoder.
 *
 * Every list the simulated meters emit over two hours (three hourly lists)
 * is decoded with hm_decode(); each value the simulator recorded in its
 * oracle JSON must come out as exactly the same decimal, under the same
 * name, and the reading may hold no field the oracle does not name.  The
 * expected values are the simulator's own record of what it encoded, never
 * the decoder's output.
 *
 * The simulator is a program, not a library, so its two model files are
 * compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/decode.h"
#include "hanmeter/reading.h"

#include "sim/frame.c"
#include "sim/meter.c"

#define START_MS (1767225600000LL) /* 2026-01-01T00:00:00Z */
#define SPAN_MS  (7215LL * 1000)   /* two hours and the hourly lists after them */

/* Finds "name": in the oracle's members and copies the value (string
 * values without quotes).  Returns 1 if found. */
static int oracle_value(const char *json, const char *name, char *buf, size_t cap)
{
	char key[80];
	snprintf(key, sizeof key, "\"%s\":", name);
	const char *p = strstr(json, key);
	if (!p)
		return 0;
	p += strlen(key);
	bool str = *p == '"';
	p += str;
	size_t n = strcspn(p, str ? "\"" : ",}");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, p, n);
	buf[n] = 0;
	return 1;
}

static void check_make(enum sim_make make, unsigned phases)
{
	static struct hm_decoder dec;
	static struct hm_reading r;
	struct sim_meter m;
	uint8_t info[2048];
	char json[2048], want[128], got[128];
	unsigned lists = 0, hourly = 0;

	hm_decoder_init(&dec);
	sim_meter_init(&m, make, phases, 5, START_MS);
	while (m.t_ms < START_MS + SPAN_MS) {
		int list;
		int n = sim_meter_emit(&m, info, sizeof info, json, sizeof json, &list);
		assert_true(n > 0);
		enum hm_err e = hm_decode(&dec, info, (size_t)n, &r);
		if (e != HM_ERR_OK)
			fail_msg("%s %u-phase list %d seq %llu: %s", sim_make_name(make), phases, list,
			         (unsigned long long)m.seq, hm_err_name(e));
		assert_string_equal(r.profile, sim_make_name(make));
		for (int f = 0; f < HM_NUM_COUNT; f++) {
			int in_oracle = oracle_value(json, hm_num_info[f].name, want, sizeof want);
			if (!hm_reading_has_num(&r, f)) {
				if (in_oracle)
					fail_msg("seq %llu: %s missing", (unsigned long long)m.seq,
					         hm_num_info[f].name);
				continue;
			}
			if (!in_oracle)
				fail_msg("seq %llu: %s decoded but not sent", (unsigned long long)m.seq,
				         hm_num_info[f].name);
			assert_true(hm_num_format(r.num[f], got, sizeof got) > 0);
			if (strcmp(want, got) != 0)
				fail_msg("seq %llu: %s sent %s, decoded %s", (unsigned long long)m.seq,
				         hm_num_info[f].name, want, got);
		}
		for (int f = 0; f < HM_TEXT_COUNT; f++) {
			int in_oracle = oracle_value(json, hm_text_name[f], want, sizeof want);
			if (!hm_reading_has_text(&r, f)) {
				if (in_oracle)
					fail_msg("seq %llu: %s missing", (unsigned long long)m.seq, hm_text_name[f]);
				continue;
			}
			if (!in_oracle)
				fail_msg("seq %llu: %s decoded but not sent", (unsigned long long)m.seq,
				         hm_text_name[f]);
			char tbuf[HM_TEXT_MAX];
			assert_string_equal(want, hm_reading_text(&r, f, tbuf));
		}
		lists++;
		hourly += list == (make == SIM_KAMSTRUP ? 2 : 3);
	}
	assert_int_equal(hourly, 3);
	/* the cadence: Aidon 2.5 s, Kaifa 2 s, Kamstrup 10 s plus the hourly lists */
	unsigned want_lists = make == SIM_AIDON ? 2886 : make == SIM_KAIFA ? 3608 : 722 + 3;
	assert_int_equal(lists, want_lists);
}

static void aidon3(void **state)
{
	(void)state;
	check_make(SIM_AIDON, 3);
}
static void aidon1(void **state)
{
	(void)state;
	check_make(SIM_AIDON, 1);
}
static void kaifa3(void **state)
{
	(void)state;
	check_make(SIM_KAIFA, 3);
}
static void kaifa1(void **state)
{
	(void)state;
	check_make(SIM_KAIFA, 1);
}
static void kamstrup3(void **state)
{
	(void)state;
	check_make(SIM_KAMSTRUP, 3);
}
static void kamstrup1(void **state)
{
	(void)state;
	check_make(SIM_KAMSTRUP, 1);
}

/* The frame writer: HCS/FCS by the catalogue CRC, segmentation bits. */
static void frames(void **state)
{
	(void)state;
	uint8_t info[300], out[4096];
	for (size_t i = 0; i < sizeof info; i++)
		info[i] = (uint8_t)(i * 7);
	unsigned n;
	int len = sim_hdlc_frame(sim_hdlc_addr(SIM_AIDON), info, sizeof info, 100, out, sizeof out, &n);
	assert_int_equal(n, 4); /* 300 bytes in 100 - 10 = 90 byte slices */
	size_t o = 0;
	for (unsigned k = 0; k < n; k++) {
		uint8_t *f = out + o;
		size_t flen = (size_t)((f[1] << 8 | f[2]) & 0x07FF);
		bool last = k == n - 1;
		assert_int_equal(f[0], 0x7E);
		assert_int_equal(f[flen + 1], 0x7E);
		assert_int_equal((f[1] & 0x08) != 0, !last);                /* segmentation bit */
		assert_int_equal((f[6] & 0x10) != 0, last);                 /* P/F bit, Aidon control 0x13 */
		assert_int_equal(hm_crc16_x25(f + 1, 6), f[7] | f[8] << 8); /* HCS, LSB first */
		assert_int_equal(hm_crc16_x25(f + 1, flen - 2), f[flen - 1] | f[flen] << 8);
		o += flen + 2;
	}
	assert_int_equal((size_t)len, o);
	assert_int_equal(len, 300 + 4 * 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(aidon3), cmocka_unit_test(aidon1),    cmocka_unit_test(kaifa3),
	    cmocka_unit_test(kaifa1), cmocka_unit_test(kamstrup3), cmocka_unit_test(kamstrup1),
	    cmocka_unit_test(frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
