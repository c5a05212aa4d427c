/*
 * test_profile.c - the helpers every meter profile files values with
 * (src/core/profile.c): each named OBIS code lands in its own field and
 * nowhere else, units are converted or refused, unknown codes are kept.
 *
 * Expectations are written out here from ../shared/vectors/README.md
 * ("Expected values": OBIS code of each text field) and IEC 62056-62 (unit
 * codes), not taken from the code under test.  profile.c looks a numeric
 * field up without looking at the text codes; numeric_fields and
 * text_fields below are what show that no code is both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/profiles/profiles.h"

static struct hm_reading r;

/* IEC 62056-62 unit codes by the unit string of HM_NUM_FIELDS; 0: none. */
static unsigned dlms_unit(const char *u)
{
	static const struct {
		const char *s;
		unsigned code;
	} units[] = {{"W", 27}, {"var", 29}, {"kWh", 30}, {"kvarh", 32}, {"A", 33}, {"V", 35}, {"", 255}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(units[i].s, u) == 0)
			return units[i].code;
	return 0;
}

static bool no_num(void)
{
	for (int f = 0; f < HM_NUM_COUNT; f++)
		if (hm_reading_has_num(&r, f))
			return false;
	return true;
}

/* Every electricity field by its OBIS code (B = 0 and Kamstrup's B = 1),
 * without and with its DLMS unit: that field, as m * 10^e in its own unit
 * (Wh and varh become kWh and kvarh), and nothing else.  With a unit that
 * is not the field's the value is an extra instead. */
static void numeric_fields(void **state)
{
	(void)state;
	int checked = 0;
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		const struct hm_num_info *in = &hm_num_info[f];
		if (in->obis_c == 255) /* not electricity: no list value maps here */
			continue;
		unsigned unit = dlms_unit(in->unit);
		assert_int_not_equal(unit, 0);
		assert_int_equal(hm_profile_field_unit(f), unit);
		bool kilo = strcmp(in->unit, "kWh") == 0 || strcmp(in->unit, "kvarh") == 0;
		for (uint8_t b = 0; b < 2; b++) {
			const uint8_t obis[6] = {1, b, in->obis_c, in->obis_d, in->obis_e, 255};
			const struct hm_axdr_item v = {.tag = HM_AXDR_UINT32, .len = 4, .ival = 1234};
			for (int with_unit = 0; with_unit < 2; with_unit++) {
				hm_reading_clear(&r);
				assert_int_equal(hm_profile_put(&r, obis, &v, -1, with_unit ? (uint8_t)unit : 0),
				                 HM_ERR_OK);
				assert_true(hm_reading_has_num(&r, f));
				assert_int_equal(r.num[f].m, 1234);
				assert_int_equal(r.num[f].e, kilo ? -4 : -1);
				assert_int_equal(r.text_set, 0);
				assert_int_equal(r.n_extra, 0);
				assert_int_equal(r.items, 1);
				checked++;
			}
			/* volts where the field is not in volts (or amperes where it is): an extra */
			uint8_t wrong = unit == 35 ? 33 : 35;
			hm_reading_clear(&r);
			assert_int_equal(hm_profile_put(&r, obis, &v, 0, wrong), HM_ERR_OK);
			assert_true(no_num());
			assert_int_equal(r.n_extra, 1);
			assert_memory_equal(r.extra[0].obis, obis, 6);
			assert_int_equal(r.extra[0].unit, wrong);
		}
	}
	assert_int_equal(checked, 4 * 40); /* the 40 electricity fields of reading.h */
}

/* The text fields' OBIS codes, each with a string: that text, no number. */
static void text_fields(void **state)
{
	(void)state;
	static const struct {
		uint8_t obis[6];
		enum hm_text_field f;
	} cases[] = {
	    {{0, 0, 0, 2, 129, 255}, HM_TEXT_LIST_VERSION},       /* Aidon, Kaifa SE */
	    {{1, 1, 0, 2, 129, 255}, HM_TEXT_LIST_VERSION},       /* any A and B */
	    {{0, 0, 96, 1, 0, 255}, HM_TEXT_METER_ID},            /* GS1 number */
	    {{0, 0, 96, 1, 7, 255}, HM_TEXT_METER_MODEL},         /* meter type */
	    {{0, 0, 96, 1, 1, 255}, HM_TEXT_METER_ID_2},          /* second identifier */
	    {{0, 0, 42, 0, 0, 255}, HM_TEXT_LOGICAL_DEVICE_NAME}, /* COSEM logical device name */
	    {{1, 1, 0, 0, 5, 255}, HM_TEXT_METER_ID},             /* Kamstrup GS1 number */
	    {{1, 1, 96, 1, 1, 255}, HM_TEXT_METER_MODEL},         /* Kamstrup type number */
	    {{1, 1, 0, 0, 1, 255}, HM_TEXT_METER_SERIAL},         /* Kamstrup DK serial */
	};
	static const uint8_t id[] = "ABC-123";
	const struct hm_axdr_item v = {.tag = HM_AXDR_VISIBLE_STRING, .len = 7, .data = id};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hm_reading_clear(&r);
		assert_int_equal(hm_profile_put(&r, cases[i].obis, &v, 0, 0), HM_ERR_OK);
		assert_int_equal(r.text_set, UINT32_C(1) << cases[i].f);
		assert_string_equal(r.text[cases[i].f], "ABC-123");
		assert_true(no_num());
		assert_int_equal(r.n_extra, 0);
	}
	/* The clock, 0.0.1.0.0.255 and Kamstrup's 0.1.1.0.0.255: 2022-10-15 15:08:15, deviation unspecified. */
	static const uint8_t clock[12] = {0x07, 0xE6, 10, 15, 6, 15, 8, 15, 0xFF, 0x80, 0x00, 0x00};
	const struct hm_axdr_item t = {.tag = HM_AXDR_OCTET_STRING, .len = 12, .data = clock};
	for (uint8_t b = 0; b < 2; b++) {
		const uint8_t obis[6] = {0, b, 1, 0, 0, 255};
		hm_reading_clear(&r);
		assert_int_equal(hm_profile_put(&r, obis, &t, 0, 0), HM_ERR_OK);
		assert_int_equal(r.text_set, UINT32_C(1) << HM_TEXT_METER_TIME);
		char tbuf[HM_TEXT_MAX];
		assert_string_equal(hm_reading_text(&r, HM_TEXT_METER_TIME, tbuf), "2022-10-15T15:08:15");
		assert_true(no_num());
	}
}

/* Codes no field has, and a named code with F other than 255: kept as
 * extras with their scaler and unit, never filed under a name. */
static void unknown_codes(void **state)
{
	(void)state;
	static const uint8_t codes[][6] = {
	    {1, 0, 99, 7, 0, 255}, /* no such quantity */
	    {1, 0, 1, 7, 0, 0},    /* 1.7.0 but F = 0 */
	    {0, 0, 1, 7, 0, 255},  /* 1.7.0 but A = 0 */
	    {0, 0, 96, 1, 9, 255}, /* an identifier we have no name for */
	};
	const struct hm_axdr_item v = {.tag = HM_AXDR_INT16, .len = 2, .ival = -5};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		hm_reading_clear(&r);
		assert_int_equal(hm_profile_put(&r, codes[i], &v, 2, 27), HM_ERR_OK);
		assert_true(no_num());
		assert_int_equal(r.text_set, 0);
		assert_int_equal(r.n_extra, 1);
		assert_memory_equal(r.extra[0].obis, codes[i], 6);
		assert_false(r.extra[0].is_text);
		assert_int_equal(r.extra[0].num.m, -5);
		assert_int_equal(r.extra[0].num.e, 2);
		assert_int_equal(r.extra[0].unit, 27);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(numeric_fields),
	    cmocka_unit_test(text_fields),
	    cmocka_unit_test(unknown_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
