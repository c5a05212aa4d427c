/*
 * kamstrup.c - Kamstrup OMNIPOWER HAN lists (list version Kamstrup_V0001).
 *
 * The body is one flat structure: a visible-string list version, then OBIS
 * octet-string / value pairs (B = 1: 1.1.1.7.0.255 ...).  Single-phase
 * meters keep the three-phase length and put null-data (00) in place of each
 * missing OBIS code and value.  Values are bare integers; the scaling is
 * Kamstrup's HAN document's: W and var, 0.01 A, 1 V, power factor 0.01, and
 * energy 0.01 kWh in Norway but Wh (varh) in Sweden and Denmark.
 *
 * Telling the country apart: the layout is identical, so it is read from the
 * type number (1.1.96.1.1.255, e.g. "6841138BN245101090").  In every
 * Norwegian capture we have (6841121BN243.., 6841138AN243.., 6861111BN242..)
 * the 12th character is '2' or '3'; the Swedish capture has '5'.  Danish
 * lists (1.1.0.0.1.255 serial, power factors) carry no type number.  So:
 * a type number with '2' or '3' there means 0.01 kWh, anything else Wh.  Only
 * list 2/3 (hourly, with energy) depends on it; the rule rests on four meters
 * and should be revisited when a Swedish or Danish hourly capture turns up.
 */
#include <string.h>

#include "profiles.h"

#define KAMSTRUP_PREFIX  "Kamstrup" /* list version "Kamstrup_V0001" */
#define TYPE_COUNTRY_POS 11         /* 0-based position of the country digit in the type number */

/* Finds the type number and applies the rule above. */
static bool is_norwegian(const struct hm_axdr *ax)
{
	static const uint8_t type_obis[6] = {1, 1, 96, 1, 1, 255};
	for (unsigned i = 1; i + 1 < ax->n; i++) {
		const struct hm_axdr_item *o = &ax->item[i], *v = &ax->item[i + 1];
		if (hm_profile_is_obis(o) && memcmp(o->data, type_obis, 6) == 0 && hm_profile_is_string(v))
			return v->len > TYPE_COUNTRY_POS &&
			       (v->data[TYPE_COUNTRY_POS] == '2' || v->data[TYPE_COUNTRY_POS] == '3');
	}
	return false;
}

struct kam_ctx {
	const struct hm_axdr *ax;
	int norway; /* energy in 0.01 kWh rather than Wh; -1: not looked up yet */
};

static void kamstrup_scale(int f, int *scaler, uint8_t *unit, struct kam_ctx *ctx)
{
	*unit = hm_profile_field_unit(f);
	switch (*unit) {
	case HM_UNIT_A: *scaler = -2; break;     /* 0.01 A */
	case HM_UNIT_COUNT: *scaler = -2; break; /* power factor 0.01 */
	case HM_UNIT_WH:
	case HM_UNIT_VARH:
		/* Only lists with energies (hourly) need the country: looked up
		 * at the first one, once per list. */
		if (ctx->norway < 0)
			ctx->norway = is_norwegian(ctx->ax);
		*scaler = ctx->norway ? 1 : 0; /* 10 Wh = 0.01 kWh, or Wh */
		break;
	default: *scaler = 0; break; /* W, var, V */
	}
}

static enum hm_err kamstrup_decode(const struct hm_apdu *a, struct hm_reading *r)
{
	const struct hm_axdr *ax = &a->ax;
	const struct hm_axdr_item *top = &ax->item[0], *ver = &ax->item[1];

	if (ax->n < 2 || top->tag != HM_AXDR_STRUCTURE || ver->tag != HM_AXDR_VISIBLE_STRING ||
	    ver->len < strlen(KAMSTRUP_PREFIX) || memcmp(ver->data, KAMSTRUP_PREFIX, strlen(KAMSTRUP_PREFIX)) != 0)
		return HM_ERR_NOT_MINE;
	if (ax->n != 1u + top->len) /* flat: nothing nested */
		return HM_ERR_UNKNOWN_LIST;
	hm_reading_set_text(r, HM_TEXT_LIST_VERSION, (const char *)ver->data, ver->len);
	r->items++;

	/* Pairs, with null-data standing in for absent OBIS codes and values. */
	struct kam_ctx ctx = {.ax = ax, .norway = -1};
	for (unsigned i = 2; i < ax->n; i++) {
		const struct hm_axdr_item *o = &ax->item[i];
		if (o->tag == HM_AXDR_NULL)
			continue;
		if (!hm_profile_is_obis(o) || i + 1 >= ax->n)
			return HM_ERR_UNKNOWN_LIST;
		const struct hm_axdr_item *v = &ax->item[++i];
		int scaler = 0;
		uint8_t unit = HM_UNIT_NONE;
		int f = o->data[0] == 1 ? hm_profile_field_by_obis(o->data[2], o->data[3], o->data[4]) : -1;
		if (f >= 0)
			kamstrup_scale(f, &scaler, &unit, &ctx);
		if (f >= 0 && o->data[5] == 0xFF && hm_profile_is_int(v)) {
			/* What hm_profile_put_field does with an integer for a field
			 * in the field's own unit (kamstrup_scale's scalers are all
			 * within HM_SCALER_MAX), without looking the unit up again. */
			r->items++;
			hm_reading_set_num(r, f, v->ival, scaler + hm_profile_unit_shift(unit));
			continue;
		}
		/* f as hm_profile_obis_field() has it (F = 255 too), not looked up again */
		enum hm_err err = hm_profile_put_field(r, o->data, o->data[5] == 0xFF ? f : -1, v, scaler, unit);
		if (err != HM_ERR_OK)
			return err;
	}
	return HM_ERR_OK;
}

const struct hm_profile hm_profile_kamstrup = {
    .name = "kamstrup",
    .manufacturer = "Kamstrup",
    .decode = kamstrup_decode,
};
