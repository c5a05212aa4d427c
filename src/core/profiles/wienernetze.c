/*
 * wienernetze.c - Wiener Netze (Austria) customer interface, Iskraemeco
 * AM550 and Siemens IM150 behind general-glo-ciphering.
 *
 * After deciphering, the body is a structure of 9 bare values without OBIS
 * codes or scalers (Wiener Netze "Kundenschnittstelle" description):
 *   clock (octet-string 12), +A Wh, -A Wh, +R varh, -R varh (double-long-
 *   unsigned), +P W, -P W, +Q var, -Q var (double-long-unsigned)
 */
#include "profiles.h"

#define WN_ITEMS      9  /* top-level elements */
#define DATE_TIME_LEN 12 /* COSEM date-time octets */

static const enum hm_num_field wn_fields[WN_ITEMS - 1] = {
    HM_NUM_ACTIVE_ENERGY_IMPORT_KWH,     HM_NUM_ACTIVE_ENERGY_EXPORT_KWH,  HM_NUM_REACTIVE_ENERGY_IMPORT_KVARH,
    HM_NUM_REACTIVE_ENERGY_EXPORT_KVARH, HM_NUM_ACTIVE_POWER_IMPORT_W,     HM_NUM_ACTIVE_POWER_EXPORT_W,
    HM_NUM_REACTIVE_POWER_IMPORT_VAR,    HM_NUM_REACTIVE_POWER_EXPORT_VAR,
};

static enum hm_err wn_decode(struct hm_apdu *a, struct hm_reading *r)
{
	const struct hm_axdr *ax = &a->ax;
	enum hm_err err = hm_dlms_items(a);
	if (err != HM_ERR_OK)
		return HM_ERR_NOT_MINE; /* no well-formed body is no Wiener Netze list either */

	/* Mine: exactly a flat structure of a 12-byte clock and 8 double-long-unsigned. */
	if (ax->n != 1 + WN_ITEMS || ax->item[0].tag != HM_AXDR_STRUCTURE || ax->item[0].len != WN_ITEMS ||
	    ax->item[1].tag != HM_AXDR_OCTET_STRING || ax->item[1].len != DATE_TIME_LEN)
		return HM_ERR_NOT_MINE;
	for (unsigned i = 2; i < ax->n; i++)
		if (ax->item[i].tag != HM_AXDR_UINT32)
			return HM_ERR_NOT_MINE;

	err = hm_profile_put_text(r, HM_TEXT_METER_TIME, &ax->item[1]);
	if (err != HM_ERR_OK)
		return err;
	for (unsigned i = 0; i < WN_ITEMS - 1; i++)
		if ((err = hm_profile_put_num(r, wn_fields[i], &ax->item[2 + i], 0, HM_UNIT_NONE)) != HM_ERR_OK)
			return err;
	r->items = WN_ITEMS;
	return HM_ERR_OK;
}

const struct hm_profile hm_profile_wienernetze = {
    .name = "wienernetze",
    .manufacturer = "Iskraemeco",
    .decode = wn_decode,
};
