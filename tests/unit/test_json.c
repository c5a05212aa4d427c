/*
 * test_json.c - JSON rendering: escaping (hand-verified strings), and every
 * output, also for hostile bytes, accepted by an independent RFC 8259
 * checker (jsoncheck.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/json.h"
#include "hanmeter/limits.h"
#include "jsoncheck.h"

static void strings(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"abc", 3, "\"abc\""},
	    {"", 0, "\"\""},
	    {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
	    {"a\0b", 3, "\"a\\u0000b\""},                                /* NUL inside */
	    {"\n\t\x1f\x7f", 4, "\"\\u000a\\u0009\\u001f\\u007f\""},     /* control bytes, DEL */
	    {"\xc3\xb8l", 3, "\"\xc3\xb8l\""},                           /* valid UTF-8 passes: "øl" */
	    {"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},                     /* euro sign */
	    {"\xf0\x9f\x92\xa1", 4, "\"\xf0\x9f\x92\xa1\""},             /* 4-byte sequence */
	    {"\xff", 1, "\"\\u00ff\""},                                  /* never valid */
	    {"\xc3", 1, "\"\\u00c3\""},                                  /* cut sequence */
	    {"\xc0\xaf", 2, "\"\\u00c0\\u00af\""},                       /* overlong '/' */
	    {"\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\""},            /* surrogate */
	    {"\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\""}, /* > U+10FFFF */
	    {"\xe2\x82x", 3, "\"\\u00e2\\u0082x\""},                     /* bad continuation */
	};
	char buf[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int n = hm_json_string(cases[i].in, cases[i].len, buf, sizeof buf);
		if (n < 0 || strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: got %s, want %s", i, n < 0 ? "(error)" : buf, cases[i].want);
		assert_int_equal(n, (int)strlen(cases[i].want));
		assert_true(json_valid(buf, (size_t)n));
		/* exact room, then one byte less */
		assert_int_equal(hm_json_string(cases[i].in, cases[i].len, buf, strlen(cases[i].want) + 1), n);
		assert_int_equal(hm_json_string(cases[i].in, cases[i].len, buf, strlen(cases[i].want)), -1);
	}
}

/* Every 2-byte string (all 65536) and a pseudo-random spread of longer
 * ones: the output is always valid JSON. */
static void any_bytes_valid(void **state)
{
	(void)state;
	char in[8], out[64];
	for (unsigned v = 0; v < 65536; v++) {
		in[0] = (char)(v >> 8), in[1] = (char)v;
		int n = hm_json_string(in, 2, out, sizeof out);
		assert_true(n > 0);
		assert_true(json_valid(out, (size_t)n));
	}
	uint32_t x = 12345;
	for (int i = 0; i < 200000; i++) {
		for (int k = 0; k < 5; k++) {
			x = x * 1103515245u + 12345u; /* LCG: any fixed sequence will do */
			in[k] = (char)(x >> 16);
		}
		int n = hm_json_string(in, 5, out, sizeof out);
		assert_true(n > 0);
		assert_true(json_valid(out, (size_t)n));
	}
}

static void members(void **state)
{
	(void)state;
	static struct hm_reading r;
	char buf[HM_JSON_MAX];
	hm_reading_clear(&r);
	assert_int_equal(hm_json_members(&r, buf, sizeof buf), 0);
	assert_string_equal(buf, "");

	r.profile = "aidon";
	hm_reading_set_text(&r, HM_TEXT_METER_ID, "7359992895913195", 16);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_POWER_IMPORT_W, 1769, 0);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_EXPORT_KWH, 8, -3);
	hm_reading_set_num(&r, HM_NUM_CURRENT_L1_A, -10, -1);
	struct hm_extra x = {.obis = {1, 0, 91, 7, 0, 255}, .num = {3, -1}, .unit = 33};
	hm_reading_add_extra(&r, &x);
	struct hm_extra t = {.obis = {0, 0, 96, 1, 9, 255}, .is_text = true, .text = "a\"b"};
	hm_reading_add_extra(&r, &t);
	int n = hm_json_members(&r, buf, sizeof buf);
	const char *want = "\"profile\":\"aidon\",\"meter_id\":\"7359992895913195\",\"active_power_import_w\":1769,"
	                   "\"current_l1_a\":-1,\"active_energy_export_kwh\":0.008,\"obis_1_0_91_7_0_255\":0.3,"
	                   "\"obis_0_0_96_1_9_255\":\"a\\\"b\"";
	assert_string_equal(buf, want);
	assert_int_equal(n, (int)strlen(want));
	char obj[HM_JSON_MAX + 2];
	snprintf(obj, sizeof obj, "{%s}", buf);
	assert_true(json_valid(obj, strlen(obj)));

	/* Too small at every size: -1, never an overrun (ASan watches). */
	for (size_t cap = 0; cap <= (size_t)n; cap++) {
		char *small = malloc(cap ? cap : 1);
		assert_int_equal(hm_json_members(&r, small, cap), -1);
		free(small);
	}

	/* The largest reading there can be fits HM_JSON_MAX: every field set
	 * with the longest number the profiles can produce (19 digits, scaler
	 * -HM_SCALER_MAX, Wh -> kWh), every text and text extra full of '"'
	 * (each escaped to 2 bytes), every extra used and one dropped. */
	hm_reading_clear(&r);
	r.profile = "wienernetze";
	char quotes[HM_TEXT_MAX * 2];
	memset(quotes, '"', sizeof quotes);
	for (int f = 0; f < HM_TEXT_COUNT; f++)
		hm_reading_set_text(&r, f, quotes, sizeof quotes);
	for (int f = 0; f < HM_NUM_COUNT; f++)
		hm_reading_set_num(&r, f, INT64_MIN + 1, -HM_SCALER_MAX - 3);
	for (int i = 0; i < HM_EXTRA_MAX + 1; i++) {
		struct hm_extra e = {.obis = {255, 255, 255, 255, 255, (uint8_t)i}, .is_text = true};
		memset(e.text, '"', sizeof e.text - 1);
		hm_reading_add_extra(&r, &e);
	}
	n = hm_json_members(&r, buf, sizeof buf);
	fprintf(stderr, "largest reading renders as %d bytes of JSON (HM_JSON_MAX %d)\n", n, HM_JSON_MAX);
	assert_true(n > 0);
	assert_true(strstr(buf, "\"extra_dropped\":1") != NULL);
	snprintf(obj, sizeof obj, "{%s}", buf);
	assert_true(json_valid(obj, strlen(obj)));
	/* and numbers in extras at their longest */
	for (unsigned i = 0; i < r.n_extra; i++)
		r.extra[i] = (struct hm_extra){.num = {INT64_MIN, HM_SCALER_MAX}};
	assert_true(hm_json_members(&r, buf, sizeof buf) > 0);
}

static void checker_rejects(void **state)
{
	(void)state;
	/* The checker itself must be able to say no. */
	static const char *bad[] = {"{",  "{\"a\":}", "{\"a\":1,}", "\"\x01\"", "\"\\x41\"",   "01",
	                            "1.", "\"\xff\"", "{} {}",      "[1 2]",    "\"\xc0\xaf\""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (json_valid(bad[i], strlen(bad[i])))
			fail_msg("checker accepted %s", bad[i]);
	assert_true(json_valid("{\"a\":[1,-0.5,\"\\u00ff\",true,null]}", 33));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(strings),
	    cmocka_unit_test(any_bytes_valid),
	    cmocka_unit_test(members),
	    cmocka_unit_test(checker_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
