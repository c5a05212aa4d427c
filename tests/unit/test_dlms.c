/*
 * test_dlms.c - data-notification header parsing and COSEM date-time
 * formatting.
 *
 * Synthetic APDUs are hand-made; the date-time cases follow the rule of
 * vectors/README.md ("Times"): offset = -deviation, 0x8000 = no suffix.
 * The real captures' header times are checked against MANIFEST.tsv's
 * apdu_time (present exactly when the manifest states one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/dlms.h"
#include "msgvec.h"

static struct hm_apdu apdu;

/* 2022-10-15 15:08:15, hundredths 0xFF, deviation dev, status 0 */
static void dt(uint8_t out[12], unsigned dev)
{
	const uint8_t b[12] = {0x07, 0xE6, 10, 15, 6, 15, 8, 15, 0xFF, (uint8_t)(dev >> 8), (uint8_t)dev, 0x00};
	memcpy(out, b, 12);
}

static void datetime_format(void **state)
{
	(void)state;
	static const struct {
		unsigned dev;
		const char *want;
	} cases[] = {
	    {0xFFC4, "2022-10-15T15:08:15+01:00"}, /* -60 min: README's example */
	    {0xFF88, "2022-10-15T15:08:15+02:00"}, /* -120: CEST */
	    {0x8000, "2022-10-15T15:08:15"},       /* unspecified */
	    {0x0000, "2022-10-15T15:08:15+00:00"}, /* Aidon NO */
	    {0x003C, "2022-10-15T15:08:15-01:00"}, /* +60 min: west of UTC */
	    {0xFDE4, "2022-10-15T15:08:15+09:00"}, /* -540 */
	    {0xFFE2, "2022-10-15T15:08:15+00:30"}, /* -30 */
	    {0x00D2, "2022-10-15T15:08:15-03:30"}, /* +210, Newfoundland */
	};
	uint8_t b[12];
	char buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dt(b, cases[i].dev);
		int n = hm_dlms_datetime_format(b, buf, sizeof buf);
		assert_int_equal(n, (int)strlen(cases[i].want));
		assert_string_equal(buf, cases[i].want);
	}
	/* Exactly enough room, and one byte less. */
	dt(b, 0xFFC4);
	assert_int_equal(hm_dlms_datetime_format(b, buf, 26), 25);
	assert_int_equal(hm_dlms_datetime_format(b, buf, 25), -1);
	/* Implausible: month 13, day 0, hour 24, unspecified year or seconds, deviation 13 h. */
	static const struct {
		int at;
		uint8_t v;
	} bad[] = {{2, 13}, {2, 0xFF}, {3, 0}, {5, 24}, {6, 60}, {7, 0xFF}, {0, 0xFF}, {9, 0x03}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		dt(b, 0x8000);
		b[bad[i].at] = bad[i].v;
		if (bad[i].at == 0)
			b[1] = 0xFF;
		assert_int_equal(hm_dlms_datetime_format(b, buf, sizeof buf), -1);
	}
}

/* Every value of every field against libc's printf of the same numbers:
 * years 0 to 9999, each month, day, hour, minute and second, and every
 * whole-minute deviation from -720 to +720.  (Years above 9999 are left out:
 * what they give is a known bug, tests/fuzz/regress/KNOWN datetime-year.) */
static void datetime_every_value(void **state)
{
	(void)state;
	static const unsigned years[] = {0, 7, 99, 999, 1999, 2024, 9999};
	uint8_t b[12];
	char got[64], want[64];
	for (size_t y = 0; y < sizeof years / sizeof years[0]; y++) {
		for (unsigned v = 0; v < 60; v++) {
			unsigned month = v % 12 + 1, day = v % 31 + 1, hour = v % 24, min = v, sec = 59 - v;
			const uint8_t raw[12] = {(uint8_t)(years[y] >> 8),
			                         (uint8_t)years[y],
			                         (uint8_t)month,
			                         (uint8_t)day,
			                         0xFF,
			                         (uint8_t)hour,
			                         (uint8_t)min,
			                         (uint8_t)sec,
			                         0xFF,
			                         0x80,
			                         0x00,
			                         0x00};
			memcpy(b, raw, sizeof b);
			snprintf(want, sizeof want, "%04u-%02u-%02uT%02u:%02u:%02u", years[y], month, day, hour, min,
			         sec);
			assert_int_equal(hm_dlms_datetime_format(b, got, sizeof got), (int)strlen(want));
			assert_string_equal(got, want);
		}
	}
	for (int dev = -720; dev <= 720; dev++) {
		dt(b, (unsigned)dev & 0xFFFF);
		int off = -dev, a = off < 0 ? -off : off;
		snprintf(want, sizeof want, "2022-10-15T15:08:15%c%02d:%02d", off < 0 ? '-' : '+', a / 60, a % 60);
		assert_int_equal(hm_dlms_datetime_format(b, got, sizeof got), (int)strlen(want));
		assert_string_equal(got, want);
	}
}

static void header_forms(void **state)
{
	(void)state;
	/* 00: no date-time (Aidon); body unsigned 5 */
	static const uint8_t absent[] = {0xE6, 0xE7, 0x00, 0x0F, 0x40, 0x00, 0x00, 0x01, 0x00, 0x11, 0x05};
	assert_int_equal(hm_dlms_parse(&apdu, absent, sizeof absent), HM_ERR_OK);
	assert_false(apdu.has_time);
	assert_int_equal(apdu.invoke_id, 0x40000001);
	assert_int_equal(apdu.body_len, 2);
	assert_int_equal(apdu.ax.n, 1);
	assert_int_equal(apdu.ax.item[0].ival, 5);
	/* without the LLC */
	assert_int_equal(hm_dlms_parse(&apdu, absent + 3, sizeof absent - 3), HM_ERR_OK);
	assert_int_equal(apdu.ax.item[0].ival, 5);

	/* 09 0C <12> (Kaifa) and bare 0C <12> (Kamstrup) give the same time */
	uint8_t k[64], t[12];
	dt(t, 0x8000);
	size_t n = 0;
	k[n++] = 0x0F, k[n++] = 0, k[n++] = 0, k[n++] = 0, k[n++] = 9;
	k[n++] = 0x09, k[n++] = 0x0C;
	memcpy(k + n, t, 12), n += 12;
	k[n++] = 0x11, k[n++] = 7;
	assert_int_equal(hm_dlms_parse(&apdu, k, n), HM_ERR_OK);
	assert_true(apdu.has_time);
	assert_memory_equal(apdu.time, t, 12);
	assert_int_equal(apdu.invoke_id, 9);
	assert_int_equal(apdu.ax.item[0].ival, 7);
	memmove(k + 5, k + 6, n - 6); /* drop the 09 */
	assert_int_equal(hm_dlms_parse(&apdu, k, n - 1), HM_ERR_OK);
	assert_true(apdu.has_time);
	assert_memory_equal(apdu.time, t, 12);
	assert_int_equal(apdu.ax.item[0].ival, 7);

	/* 09 with a length other than 12, an unknown header byte */
	static const uint8_t len11[] = {0x0F, 0, 0, 0, 0, 0x09, 0x0B, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x00};
	static const uint8_t what[] = {0x0F, 0, 0, 0, 0, 0x05, 0x11, 0x01};
	assert_int_equal(hm_dlms_parse(&apdu, len11, sizeof len11), HM_ERR_MALFORMED_APDU);
	assert_int_equal(hm_dlms_parse(&apdu, what, sizeof what), HM_ERR_MALFORMED_APDU);
	/* a trailing byte after the body */
	static const uint8_t trail[] = {0x0F, 0, 0, 0, 0, 0x00, 0x11, 0x05, 0x00};
	assert_int_equal(hm_dlms_parse(&apdu, trail, sizeof trail), HM_ERR_MALFORMED_APDU);
	/* no body */
	assert_int_equal(hm_dlms_parse(&apdu, trail, 6), HM_ERR_TRUNCATED);
	/* not a data-notification: get-response, general-glo-ciphering, nothing */
	static const uint8_t get[] = {0xE6, 0xE7, 0x00, 0xC4, 0x01, 0x81, 0x00};
	static const uint8_t glo[] = {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};
	assert_int_equal(hm_dlms_parse(&apdu, get, sizeof get), HM_ERR_NOT_MINE);
	assert_int_equal(hm_dlms_parse(&apdu, glo, sizeof glo), HM_ERR_NOT_MINE);
	assert_int_equal(hm_dlms_parse(&apdu, glo, 0), HM_ERR_NOT_MINE);
	assert_int_equal(hm_dlms_parse(&apdu, get, 3), HM_ERR_TRUNCATED); /* LLC only */
}

/* Every capture's header time, against the manifest. */
static void vector_header_times(void **state)
{
	(void)state;
	vec_require();
	assert_true(load_vectors() >= 31);
	int with = 0, without = 0;
	for (int i = 0; i < nvecs; i++)
		for (int k = 0; k < vecs[i].nmsg; k++) {
			char exp[4096], want[64], got[64];
			expected_for(vecs[i].expected, vecs[i].msg[k].line, exp, sizeof exp);
			assert_int_equal(hm_dlms_parse(&apdu, vecs[i].msg[k].b, vecs[i].msg[k].len), HM_ERR_OK);
			if (!vec_expect(exp, "apdu_time", want, sizeof want)) {
				if (apdu.has_time)
					fail_msg("%s: header time the manifest does not state", vecs[i].file);
				without++;
				continue;
			}
			assert_true(apdu.has_time);
			assert_true(hm_dlms_datetime_format(apdu.time, got, sizeof got) > 0);
			if (strcmp(got, want) != 0)
				fail_msg("%s: apdu_time %s, want %s", vecs[i].file, got, want);
			with++;
		}
	fprintf(stderr, "%d header times match the manifest, %d messages without one\n", with, without);
	assert_true(with >= 15 && without >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(datetime_format),
	    cmocka_unit_test(datetime_every_value),
	    cmocka_unit_test(header_forms),
	    cmocka_unit_test(vector_header_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
