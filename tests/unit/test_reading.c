/*
 * test_reading.c - the canonical reading: field tables, setters, lookups,
 * extras, and the exact decimal formatting (hand-worked expectations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/reading.h"

static struct hm_reading r;

static void num_format(void **state)
{
	(void)state;
	static const struct {
		int64_t m;
		int e;
		const char *want;
	} cases[] = {
	    {9406459, -2, "94064.59"},
	    {-1, 0, "-1"},
	    {0, 0, "0"},
	    {0, -3, "0"},
	    {0, 5, "0"},
	    {8, -3, "0.008"},
	    {-8, -3, "-0.008"},
	    {10, -1, "1"},
	    {2300, -2, "23"},
	    {2305, -2, "23.05"},
	    {120, -1, "12"},
	    {1205, -3, "1.205"},
	    {5, 3, "5000"},
	    {-10, -1, "-1"},
	    {1000, -3, "1"},
	    {1, -1, "0.1"},
	    {12345, 0, "12345"},
	    {100, -5, "0.001"},
	    {7, -10, "0.0000000007"},
	    {INT64_MAX, 0, "9223372036854775807"},
	    {INT64_MIN, 0, "-9223372036854775808"},
	    {INT64_MIN, -19, "-0.9223372036854775808"},
	    {INT64_MAX, -3, "9223372036854775.807"},
	};
	char buf[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hm_num v = {.m = cases[i].m, .e = (int16_t)cases[i].e};
		int n = hm_num_format(v, buf, sizeof buf);
		if (n < 0 || strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: %lld e%d gave '%s' (%d), want '%s'", i, (long long)cases[i].m, cases[i].e,
			         n < 0 ? "(error)" : buf, n, cases[i].want);
		assert_int_equal(n, (int)strlen(cases[i].want));
		/* Exactly enough room works; one byte less fails cleanly. */
		char tight[64];
		assert_int_equal(hm_num_format(v, tight, strlen(cases[i].want) + 1), n);
		assert_string_equal(tight, cases[i].want);
		assert_int_equal(hm_num_format(v, tight, strlen(cases[i].want)), -1);
	}
	assert_int_equal(hm_num_format((struct hm_num){.m = 1, .e = 0}, buf, 0), -1);
}

static void to_double(void **state)
{
	(void)state;
	assert_true(hm_num_to_double((struct hm_num){.m = 9406459, .e = -2}) == 94064.59);
	assert_true(hm_num_to_double((struct hm_num){.m = -5, .e = 3}) == -5000.0);
}

static void tables(void **state)
{
	(void)state;
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		assert_non_null(hm_num_info[f].name);
		assert_non_null(hm_num_info[f].unit);
		assert_int_equal(hm_num_field_by_name(hm_num_info[f].name), f);
		assert_int_equal(
		    hm_num_field_by_obis(hm_num_info[f].obis_c, hm_num_info[f].obis_d, hm_num_info[f].obis_e), f);
		for (int g = 0; g < f; g++)
			assert_string_not_equal(hm_num_info[f].name, hm_num_info[g].name);
	}
	for (int f = 0; f < HM_TEXT_COUNT; f++) {
		assert_int_equal(hm_text_field_by_name(hm_text_name[f]), f);
		assert_int_equal(hm_num_field_by_name(hm_text_name[f]), -1);
	}
	/* README's OBIS table, spot checks */
	assert_int_equal(hm_num_field_by_obis(1, 8, 0), HM_NUM_ACTIVE_ENERGY_IMPORT_KWH);
	assert_int_equal(hm_num_field_by_obis(52, 7, 0), HM_NUM_VOLTAGE_L2_V);
	assert_int_equal(hm_num_field_by_obis(71, 7, 0), HM_NUM_CURRENT_L3_A);
	assert_int_equal(hm_num_field_by_obis(2, 8, 2), HM_NUM_ACTIVE_ENERGY_EXPORT_T2_KWH);
	assert_int_equal(hm_num_field_by_obis(91, 7, 0), -1);
	/* Every C for the D.E values that take the lookup's table (7.0, 8.0)
	 * and some that do not: a field exactly where hm_num_info says, -1
	 * elsewhere (also C = 0 and 255 at the table's edges). */
	static const uint8_t de[][2] = {{7, 0}, {8, 0}, {8, 1}, {8, 2}, {7, 1}, {6, 1}, {24, 1}, {0, 0}};
	for (size_t k = 0; k < sizeof de / sizeof de[0]; k++)
		for (int c = 0; c < 256; c++) {
			int want = -1;
			for (int f = 0; f < HM_NUM_COUNT; f++)
				if (hm_num_info[f].obis_c == c && hm_num_info[f].obis_d == de[k][0] &&
				    hm_num_info[f].obis_e == de[k][1])
					want = f;
			assert_int_equal(hm_num_field_by_obis((uint8_t)c, de[k][0], de[k][1]), want);
		}
	assert_int_equal(hm_num_field_by_name("voltage_l1_v"), HM_NUM_VOLTAGE_L1_V);
	assert_int_equal(hm_num_field_by_name("nonesuch"), -1);
	assert_int_equal(hm_text_field_by_name("meter_id"), HM_TEXT_METER_ID);
	assert_string_equal(hm_num_info[HM_NUM_ACTIVE_ENERGY_IMPORT_KWH].unit, "kWh");
}

static void set_has(void **state)
{
	(void)state;
	hm_reading_clear(&r);
	for (int f = 0; f < HM_NUM_COUNT; f++)
		assert_false(hm_reading_has_num(&r, f));
	hm_reading_set_num(&r, HM_NUM_POWER_FACTOR_L3, 98, -2); /* the last field: bit 40 */
	assert_true(hm_reading_has_num(&r, HM_NUM_POWER_FACTOR_L3));
	assert_false(hm_reading_has_num(&r, HM_NUM_POWER_FACTOR_L2));
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, 94064590, -3); /* normalised */
	assert_int_equal(r.num[HM_NUM_ACTIVE_ENERGY_IMPORT_KWH].m, 9406459);
	assert_int_equal(r.num[HM_NUM_ACTIVE_ENERGY_IMPORT_KWH].e, -2);
	assert_false(hm_reading_has_num(&r, HM_NUM_COUNT));
	assert_false(hm_reading_has_num(&r, -1));

	hm_reading_set_text(&r, HM_TEXT_METER_ID, "7359992895913195", 16);
	assert_true(hm_reading_has_text(&r, HM_TEXT_METER_ID));
	assert_false(hm_reading_has_text(&r, HM_TEXT_METER_MODEL));
	assert_string_equal(r.text[HM_TEXT_METER_ID], "7359992895913195");
	/* Non-printable bytes become \xNN; NUL does not cut the string. */
	hm_reading_set_text(&r, HM_TEXT_METER_MODEL, "A\0B\x7f\xc3\xb8\"", 7);
	assert_string_equal(r.text[HM_TEXT_METER_MODEL], "A\\x00B\\x7f\\xc3\\xb8\"");
	/* Too long: cut at a whole character, always terminated. */
	char longs[200];
	memset(longs, '\x01', sizeof longs);
	hm_reading_set_text(&r, HM_TEXT_LIST_VERSION, longs, sizeof longs);
	size_t n = strlen(r.text[HM_TEXT_LIST_VERSION]);
	assert_true(n < HM_TEXT_MAX && n % 4 == 0 && n >= HM_TEXT_MAX - 4);
	memset(longs, 'x', sizeof longs);
	hm_reading_set_text(&r, HM_TEXT_P1_HEADER, longs, sizeof longs);
	assert_int_equal(strlen(r.text[HM_TEXT_P1_HEADER]), HM_TEXT_MAX - 1);
	/* P1 headers keep their backslash as is. */
	hm_reading_set_text(&r, HM_TEXT_P1_HEADER, "ISk5\\2MT382-1000", 16);
	assert_string_equal(r.text[HM_TEXT_P1_HEADER], "ISk5\\2MT382-1000");
}

static void extras(void **state)
{
	(void)state;
	hm_reading_clear(&r);
	struct hm_extra x = {.obis = {1, 0, 91, 7, 0, 255}, .num = {3, -1}, .unit = 33};
	for (int i = 0; i < HM_EXTRA_MAX; i++) {
		x.obis[4] = (uint8_t)i;
		assert_true(hm_reading_add_extra(&r, &x));
	}
	assert_int_equal(r.n_extra, HM_EXTRA_MAX);
	assert_int_equal(r.extra[5].obis[4], 5);
	/* full: a new code is dropped and counted, a known one still replaces */
	x.obis[4] = (uint8_t)HM_EXTRA_MAX;
	assert_false(hm_reading_add_extra(&r, &x));
	assert_false(hm_reading_add_extra(&r, &x));
	assert_int_equal(r.extra_dropped, 2);
	x.obis[4] = 5;
	x.num.m = 42;
	assert_true(hm_reading_add_extra(&r, &x));
	assert_int_equal(r.extra[5].num.m, 42);
	assert_int_equal(r.extra_dropped, 2);
	assert_int_equal(r.n_extra, HM_EXTRA_MAX);
	/* text extras are kept printable */
	hm_reading_clear(&r);
	struct hm_extra t = {.obis = {0, 0, 96, 99, 0, 255}, .is_text = true};
	memcpy(t.text, "a\nb", 4);
	assert_true(hm_reading_add_extra(&r, &t));
	assert_string_equal(r.extra[0].text, "a\\x0ab");
}

/* Every byte value at every position of a text of every length up to 20
 * bytes (the copy checks eight bytes at a time, and the last eight as one
 * word, so each lane, the tail and the overlap are covered): a byte in
 * 0x20..0x7E is kept, any other becomes \xNN in lower-case hex. */
static void text_every_byte(void **state)
{
	(void)state;
	static const char hex[] = "0123456789abcdef";
	char in[20], want[4 * sizeof in + 1];
	for (size_t len = 1; len <= sizeof in; len++) {
		for (int b = 0; b < 256; b++) {
			for (size_t at = 0; at < len; at++) {
				memset(in, 'a', sizeof in);
				in[at] = (char)b;
				size_t o = 0;
				for (size_t i = 0; i < len; i++) {
					unsigned char c = (unsigned char)in[i];
					if (c >= 0x20 && c <= 0x7E) {
						want[o++] = (char)c;
					} else {
						want[o++] = '\\';
						want[o++] = 'x';
						want[o++] = hex[c >> 4];
						want[o++] = hex[c & 15];
					}
				}
				want[o] = 0;
				hm_reading_set_text(&r, HM_TEXT_METER_ID, in, len);
				assert_string_equal(r.text[HM_TEXT_METER_ID], want);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(num_format), cmocka_unit_test(to_double), cmocka_unit_test(tables),
	    cmocka_unit_test(set_has),    cmocka_unit_test(extras),    cmocka_unit_test(text_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
