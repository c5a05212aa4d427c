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

/* The rule above, on the type number as the reading has it. */
static bool is_norwegian(const struct hm_reading *r)
{
	const char *t = r->text[HM_TEXT_METER_MODEL];
	return hm_reading_has_text(r, HM_TEXT_METER_MODEL) && strlen(t) > TYPE_COUNTRY_POS &&
	       (t[TYPE_COUNTRY_POS] == '2' || t[TYPE_COUNTRY_POS] == '3');
}

/* The index of the lowest set bit of m (m != 0). */
static int ctz64(uint64_t m)
{
	int n = 0;
	while (!(m & 1)) {
		m >>= 1;
		n++;
	}
	return n;
}

static void kamstrup_scale(int f, int *scaler, uint8_t *unit, void *ctx)
{
	uint64_t *energies = ctx; /* a bit per field, as hm_reading.num_set */
	*unit = hm_profile_field_unit(f);
	switch (*unit) {
	case HM_UNIT_A: *scaler = -2; break;     /* 0.01 A */
	case HM_UNIT_COUNT: *scaler = -2; break; /* power factor 0.01 */
	case HM_UNIT_WH:
	case HM_UNIT_VARH:
		/* Wh for now; kamstrup_decode() makes it 10 Wh at the end if the
		 * type number (which may come before or after) says Norway. */
		energies[f / 64] |= UINT64_C(1) << (f % 64);
		*scaler = 0;
		break;
	default: *scaler = 0; break; /* W, var, V */
	}
}

static enum hm_err kamstrup_decode(struct hm_apdu *a, struct hm_reading *r)
{
	struct hm_axdr_rd rd = {.p = a->body, .len = a->body_len};
	struct hm_axdr_item top, ver;

	if (hm_axdr_next(&rd, &top) != HM_ERR_OK || top.tag != HM_AXDR_STRUCTURE || top.len < 1 ||
	    hm_axdr_next(&rd, &ver) != HM_ERR_OK || ver.tag != HM_AXDR_VISIBLE_STRING ||
	    ver.len < strlen(KAMSTRUP_PREFIX) || memcmp(ver.data, KAMSTRUP_PREFIX, strlen(KAMSTRUP_PREFIX)) != 0)
		return HM_ERR_NOT_MINE;
	hm_reading_set_text(r, HM_TEXT_LIST_VERSION, (const char *)ver.data, ver.len);
	r->items++;

	/* Pairs, with null-data standing in for absent OBIS codes and values. */
	uint64_t energies[(HM_NUM_COUNT + 63) / 64] = {0};
	enum hm_err err = hm_profile_pairs(&rd, top.len - 1u, r, kamstrup_scale, energies);
	if (err != HM_ERR_OK)
		return err;
	if (rd.pos != rd.len)
		return HM_ERR_MALFORMED_APDU; /* bytes after the body */
	if (is_norwegian(r))
		for (unsigned w = 0; w < sizeof energies / sizeof energies[0]; w++)
			for (uint64_t m = energies[w]; m; m &= m - 1) {
				int f = (int)(w * 64) + ctz64(m);
				if (hm_reading_has_num(r, f))
					hm_reading_set_num(r, f, r->num[f].m, r->num[f].e + 1); /* 10 Wh = 0.01 kWh */
			}
	return HM_ERR_OK;
}

const struct hm_profile hm_profile_kamstrup = {
    .name = "kamstrup",
    .manufacturer = "Kamstrup",
    .decode = kamstrup_decode,
};
