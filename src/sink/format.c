/*
 * format.c - MQTT state messages and Domoticz svalues (see format.h).
 *
 * Values stay exact decimals (struct hm_num) up to the last step: Wh
 * counters are the kWh mantissa shifted by powers of ten in integers, so
 * 155232.51 kWh becomes 155232510 Wh and never 155232509.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hanmeter/json.h"
#include "sink/format.h"
#include "sink/strbuf.h"

static int done(const struct hm_strbuf *b)
{
	return b->overflow ? -ENOSPC : (int)b->len;
}

int hm_format_state(const char *meter, const struct hm_reading *r, char *buf, size_t cap)
{
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_puts(&b, "{\"meter\":");
	hm_strbuf_json(&b, meter);
	if (b.overflow)
		return -ENOSPC;
	/* hm_json_members writes "a":1,"b":2 with no braces, or nothing. */
	int n = hm_json_members(r, buf + b.len + 1, cap - b.len - 1);
	if (n < 0)
		return -ENOSPC;
	if (n > 0) {
		buf[b.len] = ',';
		b.len += (size_t)n + 1;
	}
	hm_strbuf_puts(&b, "}");
	return done(&b);
}

bool hm_format_has_energy(const struct hm_reading *r)
{
	for (int f = 0; f < HM_NUM_COUNT; f++)
		if (hm_reading_has_num(r, (enum hm_num_field)f) && hm_num_info[f].state_class &&
		    strcmp(hm_num_info[f].state_class, "total_increasing") == 0)
			return true;
	return false;
}

/* v * 10^shift as an integer, rounded half away from zero. */
static int64_t scaled(struct hm_num v, int shift)
{
	int e = v.e + shift;
	int64_t m = v.m;
	for (; e > 0; e--)
		m *= 10;
	if (e < 0) {
		int64_t div = 1;
		for (; e < 0 && div <= INT64_MAX / 10; e++)
			div *= 10;
		int64_t q = m / div, rem = m % div;
		if (rem >= div - rem)
			q++;
		else if (-rem >= div + rem)
			q--;
		m = q;
	}
	return m;
}

/* Field f in unit 10^-shift of its own (kWh -> Wh: shift 3), 0 if absent. */
static int64_t get(const struct hm_reading *r, enum hm_num_field f, int shift)
{
	return hm_reading_has_num(r, f) ? scaled(r->num[f], shift) : 0;
}

/* An energy pair for one direction: tariff registers if the meter has
 * them, else the total in the first slot and 0 in the second. */
static bool energy_pair(const struct hm_reading *r, enum hm_num_field total, enum hm_num_field t1, enum hm_num_field t2,
                        int64_t out[2])
{
	if (hm_reading_has_num(r, t1) || hm_reading_has_num(r, t2)) {
		out[0] = get(r, t1, 3);
		out[1] = get(r, t2, 3);
		return true;
	}
	out[0] = get(r, total, 3);
	out[1] = 0;
	return hm_reading_has_num(r, total);
}

int hm_format_dz_p1(const struct hm_reading *r, char *buf, size_t cap)
{
	int64_t use[2], ret[2];
	if (!energy_pair(r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, HM_NUM_ACTIVE_ENERGY_IMPORT_T1_KWH,
	                 HM_NUM_ACTIVE_ENERGY_IMPORT_T2_KWH, use))
		return -ENODATA;
	/* A meter without an export register has exported nothing. */
	energy_pair(r, HM_NUM_ACTIVE_ENERGY_EXPORT_KWH, HM_NUM_ACTIVE_ENERGY_EXPORT_T1_KWH,
	            HM_NUM_ACTIVE_ENERGY_EXPORT_T2_KWH, ret);
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_printf(&b, "%" PRId64 ";%" PRId64 ";%" PRId64 ";%" PRId64 ";%" PRId64 ";%" PRId64, use[0], use[1],
	                 ret[0], ret[1], get(r, HM_NUM_ACTIVE_POWER_IMPORT_W, 0),
	                 get(r, HM_NUM_ACTIVE_POWER_EXPORT_W, 0));
	return done(&b);
}

int hm_format_dz_power(const struct hm_reading *r, char *buf, size_t cap)
{
	int64_t wh;
	if (hm_reading_has_num(r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH))
		wh = get(r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, 3);
	else if (hm_reading_has_num(r, HM_NUM_ACTIVE_ENERGY_IMPORT_T1_KWH) ||
	         hm_reading_has_num(r, HM_NUM_ACTIVE_ENERGY_IMPORT_T2_KWH))
		/* P1 meters: no total register, the total is the tariffs' sum */
		wh = get(r, HM_NUM_ACTIVE_ENERGY_IMPORT_T1_KWH, 3) + get(r, HM_NUM_ACTIVE_ENERGY_IMPORT_T2_KWH, 3);
	else
		return -ENODATA;
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_printf(&b, "%" PRId64 ";%" PRId64, get(r, HM_NUM_ACTIVE_POWER_IMPORT_W, 0), wh);
	return done(&b);
}

/* The exact decimal of field f ("231.5"), "0" if absent. */
static void add_num(struct hm_strbuf *b, const struct hm_reading *r, enum hm_num_field f)
{
	char tmp[32];
	if (!hm_reading_has_num(r, f)) {
		hm_strbuf_puts(b, "0");
		return;
	}
	if (hm_num_format(r->num[f], tmp, sizeof tmp) < 0) {
		b->overflow = true;
		return;
	}
	hm_strbuf_puts(b, tmp);
}

int hm_format_dz_voltage(const struct hm_reading *r, int phase, char *buf, size_t cap)
{
	static const enum hm_num_field v[] = {HM_NUM_VOLTAGE_L1_V, HM_NUM_VOLTAGE_L2_V, HM_NUM_VOLTAGE_L3_V};
	if (phase < 1 || phase > 3 || !hm_reading_has_num(r, v[phase - 1]))
		return -ENODATA;
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	add_num(&b, r, v[phase - 1]);
	return done(&b);
}

int hm_format_dz_heat(const struct hm_reading *r, char *buf, size_t cap)
{
	int64_t wh;
	if (hm_reading_has_num(r, HM_NUM_HEAT_ENERGY_E1_MWH))
		wh = get(r, HM_NUM_HEAT_ENERGY_E1_MWH, 6); /* MWh -> Wh, exact */
	else if (hm_reading_has_num(r, HM_NUM_HEAT_ENERGY_E1_GJ))
		wh = (get(r, HM_NUM_HEAT_ENERGY_E1_GJ, 9) + 1800) / 3600; /* GJ -> J -> Wh (3600 J), rounded */
	else
		return -ENODATA;
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_printf(&b, "%" PRId64 ";%" PRId64, get(r, HM_NUM_POWER_KW, 3), wh);
	return done(&b);
}

int hm_format_dz_temp(const struct hm_reading *r, enum hm_num_field f, char *buf, size_t cap)
{
	if (!hm_reading_has_num(r, f))
		return -ENODATA;
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	add_num(&b, r, f);
	return done(&b);
}

int hm_format_dz_current(const struct hm_reading *r, char *buf, size_t cap)
{
	if (!hm_reading_has_num(r, HM_NUM_CURRENT_L1_A))
		return -ENODATA;
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	add_num(&b, r, HM_NUM_CURRENT_L1_A);
	hm_strbuf_puts(&b, ";");
	add_num(&b, r, HM_NUM_CURRENT_L2_A);
	hm_strbuf_puts(&b, ";");
	add_num(&b, r, HM_NUM_CURRENT_L3_A);
	return done(&b);
}

int hm_format_dz_mqtt(int idx, const char *svalue, char *buf, size_t cap)
{
	struct hm_strbuf b;
	hm_strbuf_init(&b, buf, cap);
	hm_strbuf_printf(&b, "{\"idx\":%d,\"nvalue\":0,\"svalue\":", idx);
	hm_strbuf_json(&b, svalue);
	hm_strbuf_puts(&b, "}");
	return done(&b);
}
