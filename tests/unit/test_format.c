/*
 * test_format.c - the sinks' payloads: the MQTT state message and the
 * Domoticz svalues.
 *
 * Readings are built from MANIFEST.tsv's expected_values (the values a
 * correct decoder produces for a capture), so these tests check the sinks
 * alone, independent of the decoder.  The expected svalues were worked out
 * by hand from those values and Domoticz's formats (format.h):
 *
 *   file                            P1 svalue (Wh;Wh;Wh;Wh;W;W)       current (A)
 *   kamstrup-6841121-list2-no.hex   155232510;0;0;0;2690;0            2.84;8.96;10.21
 *   aidon-6525-list3-no.hex         22721380;0;0;0;280;0              1.3;0;0.9   (no L2 CT)
 *   kaifa-ma304h3e-list3-no.hex     10494991;0;0;0;119;0              0.678;0.808;1.019
 *   dsmr-5.0-example.txt            4426;2399;2444;0;244;0 (tariffs)  0.48;0.44;0.86
 *                                   (Electric device: 244;6825, the tariffs' sum)
 *   aidon-6525-list1-no.hex         no energy: -ENODATA               -ENODATA
 *
 * Synthetic readings (labelled so) cover rounding and escaping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/reading.h"
#include "sink/format.h"
#include "vectors.h"

/* ---- helpers -------------------------------------------------------------- */

/* "155232.51" -> m=15523251, e=-2 (no floating point on the way). */
static void parse_decimal(const char *s, struct hm_num *v)
{
	int64_t m = 0;
	int e = 0, neg = 0, frac = 0;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s; s++) {
		if (*s == '.') {
			frac = 1;
			continue;
		}
		assert_true(*s >= '0' && *s <= '9');
		m = m * 10 + (*s - '0');
		e -= frac;
	}
	v->m = neg ? -m : m;
	v->e = (int16_t)e;
}

/* Fills r from an expected_values string ("a=1; b=x; ..."); names the core
 * does not know (mbus_1_value) are skipped. */
static void reading_from_expected(struct hm_reading *r, const char *exp)
{
	char buf[4096];
	hm_reading_clear(r);
	snprintf(buf, sizeof buf, "%s", exp);
	for (char *tok = strtok(buf, ";"); tok; tok = strtok(NULL, ";")) {
		while (*tok == ' ')
			tok++;
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = 0;
		int f = hm_num_field_by_name(tok);
		if (f >= 0) {
			struct hm_num v;
			parse_decimal(eq + 1, &v);
			hm_reading_set_num(r, (enum hm_num_field)f, v.m, v.e);
		} else if ((f = hm_text_field_by_name(tok)) >= 0 && hm_text_time(f) >= 0) {
			/* a clock: YYYY-MM-DDThh:mm:ss[+hh:mm] */
			unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
			char sign = 0;
			int n = sscanf(eq + 1, "%4u-%2u-%2uT%2u:%2u:%2u%c%2u:%2u", &y, &mo, &d, &h, &mi, &sec, &sign,
			               &oh, &om);
			assert_true(n == 6 || n == 9);
			int off = (int)(oh * 60 + om) * (sign == '-' ? -1 : 1);
			struct hm_time t = {(uint16_t)y, (uint8_t)mo,  (uint8_t)d, (uint8_t)h,
			                    (uint8_t)mi, (uint8_t)sec, n == 9,     (int16_t)off};
			hm_reading_set_time(r, (enum hm_text_field)f, &t);
		} else if (f >= 0) {
			hm_reading_set_text(r, (enum hm_text_field)f, eq + 1, strlen(eq + 1));
		}
	}
}

static void manifest_reading(struct hm_reading *r, const char *file)
{
	const char *exp = vec_manifest(file, "expected_values");
	if (!exp)
		fail_msg("%s is not in MANIFEST.tsv", file);
	reading_from_expected(r, exp);
}

/* The raw text of member name's value in a JSON object ("155232.51",
 * "\"2022-11-26T15:00:05\""), tolerant of spaces after the colon. */
static const char *member(const char *json, const char *name, char *out, size_t cap)
{
	char key[96];
	snprintf(key, sizeof key, "\"%s\"", name);
	const char *p = strstr(json, key);
	if (!p)
		return NULL;
	p += strlen(key);
	p += strspn(p, " ");
	if (*p++ != ':')
		return NULL;
	p += strspn(p, " ");
	size_t n = strcspn(p, ",}");
	if (*p == '"') {
		const char *q = p + 1;
		while (*q && *q != '"')
			q += *q == '\\' ? 2 : 1;
		n = (size_t)(q - p) + 1;
	}
	snprintf(out, cap, "%.*s", (int)n, p);
	return out;
}

/* A small strict JSON checker: objects, arrays, strings, numbers, literals. */
static const char *js_value(const char *p);
static const char *js_ws(const char *p)
{
	return p + strspn(p, " \t\r\n");
}
static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
	}
	return *p == '"' ? p + 1 : NULL;
}
static const char *js_value(const char *p)
{
	p = js_ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (!(p = js_string(js_ws(p))))
					return NULL;
				p = js_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = js_value(p)))
				return NULL;
			p = js_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return js_string(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	char *end;
	strtod(p, &end);
	return end == p ? NULL : end;
}
static int json_valid(const char *s)
{
	const char *p = js_value(s);
	return p && *js_ws(p) == 0;
}

/* ---- Domoticz svalues from MANIFEST readings -------------------------- */

struct dz_case {
	const char *file;
	const char *p1;      /* NULL: -ENODATA expected */
	const char *power;   /* POWER;ENERGY */
	const char *current; /* I1;I2;I3 */
	const char *voltage[3];
};

static const struct dz_case dz_cases[] = {
    {"kamstrup-6841121-list2-no.hex",
     "155232510;0;0;0;2690;0",
     "2690;155232510",
     "2.84;8.96;10.21",
     {"238", "239", "240"}},
    {"aidon-6525-list3-no.hex", "22721380;0;0;0;280;0", "280;22721380", "1.3;0;0.9", {"227.6", "230.3", "230.9"}},
    {"kaifa-ma304h3e-list3-no.hex",
     "10494991;0;0;0;119;0",
     "119;10494991",
     "0.678;0.808;1.019",
     {"228.7", "0", "229.8"}},
    /* P1 meters have tariff registers and no total: USAGE1/2, RETURN1/2 are the
	 * tariffs; the Electric device gets their sum, 4426 + 2399 Wh. */
    {"dsmr-5.0-example.txt", "4426;2399;2444;0;244;0", "244;6825", "0.48;0.44;0.86", {"230", "230", "229"}},
    {"aidon-6525-list1-no.hex", NULL, NULL, NULL, {NULL, NULL, NULL}},
};

static void check_fmt(int rc, const char *buf, const char *want, const char *what, const char *file)
{
	if (!want) {
		if (rc != -ENODATA)
			fail_msg("%s %s: want -ENODATA, got %d \"%s\"", file, what, rc, rc >= 0 ? buf : "");
		return;
	}
	if (rc < 0 || strcmp(buf, want) != 0)
		fail_msg("%s %s: want \"%s\", got %d \"%s\"", file, what, want, rc, rc >= 0 ? buf : "");
	assert_int_equal(rc, (int)strlen(want));
}

static void dz_manifest(void **st)
{
	(void)st;
	vec_require();
	static struct hm_reading r;
	char buf[128];
	for (size_t i = 0; i < sizeof dz_cases / sizeof dz_cases[0]; i++) {
		const struct dz_case *c = &dz_cases[i];
		manifest_reading(&r, c->file);
		check_fmt(hm_format_dz_p1(&r, buf, sizeof buf), buf, c->p1, "P1", c->file);
		check_fmt(hm_format_dz_power(&r, buf, sizeof buf), buf, c->power, "power", c->file);
		check_fmt(hm_format_dz_current(&r, buf, sizeof buf), buf, c->current, "current", c->file);
		for (int ph = 1; ph <= 3; ph++)
			check_fmt(hm_format_dz_voltage(&r, ph, buf, sizeof buf), buf, c->voltage[ph - 1], "voltage",
			          c->file);
	}
}

/* Synthetic: kWh with more decimals than Wh hold are rounded half away
 * from zero, exactly (no binary floating point on the way). */
static void dz_rounding(void **st)
{
	(void)st;
	static struct hm_reading r;
	char buf[128];
	hm_reading_clear(&r);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, 123456, -5); /* 1.23456 kWh = 1234.56 Wh */
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_EXPORT_KWH, 12345, -4);  /* 1.2345 kWh = 1234.5 Wh */
	hm_reading_set_num(&r, HM_NUM_ACTIVE_POWER_IMPORT_W, 15, -1);        /* 1.5 W */
	hm_reading_set_num(&r, HM_NUM_ACTIVE_POWER_EXPORT_W, 14, -1);        /* 1.4 W */
	check_fmt(hm_format_dz_p1(&r, buf, sizeof buf), buf, "1235;0;1235;0;2;1", "P1", "synthetic");
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, 2, 3); /* 2000 kWh as 2e3 */
	check_fmt(hm_format_dz_power(&r, buf, sizeof buf), buf, "2;2000000", "power", "synthetic");
	/* too small a buffer is an error, never a cut value */
	assert_int_equal(hm_format_dz_p1(&r, buf, 8), -ENOSPC);
}

static void dz_mqtt_json(void **st)
{
	(void)st;
	char buf[128];
	int n = hm_format_dz_mqtt(42, "155232510;0;0;0;2690;0", buf, sizeof buf);
	assert_true(n > 0);
	assert_true(json_valid(buf));
	char v[64];
	assert_string_equal(member(buf, "idx", v, sizeof v), "42");
	assert_string_equal(member(buf, "nvalue", v, sizeof v), "0");
	assert_string_equal(member(buf, "svalue", v, sizeof v), "\"155232510;0;0;0;2690;0\"");
}

/* ---- state message ------------------------------------------------------- */

static void state_manifest(void **st)
{
	(void)st;
	vec_require();
	static struct hm_reading r;
	static char buf[4096];
	manifest_reading(&r, "kamstrup-6841121-list2-no.hex");
	int n = hm_format_state("house", &r, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(n, (int)strlen(buf));
	if (!json_valid(buf))
		fail_msg("not JSON: %s", buf);
	char v[64];
	assert_string_equal(member(buf, "meter", v, sizeof v), "\"house\"");
	/* every expected value, by name, exactly as the MANIFEST writes it */
	char exp[4096];
	snprintf(exp, sizeof exp, "%s", vec_manifest("kamstrup-6841121-list2-no.hex", "expected_values"));
	int checked = 0;
	for (char *tok = strtok(exp, ";"); tok; tok = strtok(NULL, ";")) {
		while (*tok == ' ')
			tok++;
		char *eq = strchr(tok, '=');
		*eq = 0;
		char want[96];
		if (hm_num_field_by_name(tok) >= 0)
			snprintf(want, sizeof want, "%s", eq + 1);
		else
			snprintf(want, sizeof want, "\"%s\"", eq + 1);
		if (!member(buf, tok, v, sizeof v))
			fail_msg("%s missing in %s", tok, buf);
		assert_string_equal(v, want);
		checked++;
	}
	assert_int_equal(checked, 19);
	/* the meter's clock only: nothing like an arrival time is added */
	assert_null(strstr(buf, "\"received"));
	assert_null(strstr(buf, "\"timestamp"));
	assert_true(hm_format_has_energy(&r));
	/* too small: an error, never truncated JSON */
	assert_int_equal(hm_format_state("house", &r, buf, 64), -ENOSPC);
}

/* Synthetic: a meter name that needs escaping, a power-only reading, and
 * an empty one. */
static void state_synthetic(void **st)
{
	(void)st;
	static struct hm_reading r;
	char buf[512], v[64];
	hm_reading_clear(&r);
	assert_true(hm_format_state("a\"b\\c", &r, buf, sizeof buf) > 0);
	assert_true(json_valid(buf));
	assert_string_equal(member(buf, "meter", v, sizeof v), "\"a\\\"b\\\\c\"");
	assert_false(hm_format_has_energy(&r));
	hm_reading_set_num(&r, HM_NUM_ACTIVE_POWER_IMPORT_W, 280, 0);
	assert_true(hm_format_state("m", &r, buf, sizeof buf) > 0);
	assert_true(json_valid(buf));
	assert_string_equal(member(buf, "active_power_import_w", v, sizeof v), "280");
	assert_false(hm_format_has_energy(&r));
	hm_reading_set_num(&r, HM_NUM_REACTIVE_ENERGY_EXPORT_KVARH, 170843, -2);
	assert_true(hm_format_has_energy(&r)); /* any total_increasing field counts */
}

int main(void)
{
	(void)vec_hex; /* vectors.h helpers this file does not need */
	(void)vec_expect;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dz_manifest),    cmocka_unit_test(dz_rounding),     cmocka_unit_test(dz_mqtt_json),
	    cmocka_unit_test(state_manifest), cmocka_unit_test(state_synthetic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
