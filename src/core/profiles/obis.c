/*
 * obis.c - generic OBIS-coded lists (Landis+Gyr, Iskraemeco, Sagemcom, ...).
 *
 * Takes any body in which values follow their OBIS code: structures
 * {OBIS, value[, {scaler, unit}]} nested at any depth, or flat OBIS/value
 * sequences.  Known C.D.E codes become named fields (value * 10^scaler in
 * the DLMS unit, Wh -> kWh); a value without a scaler/unit structure is
 * taken as scaler 0 in the field's base unit (W, var, A, V, Wh, varh), the
 * COSEM default.  Unknown OBIS codes are kept as extras.  A body with no
 * OBIS code at all is not ours.
 */
#include "profiles.h"

static enum hm_err obis_decode(const struct hm_apdu *a, struct hm_reading *r)
{
	int pairs = hm_profile_walk(&a->ax, 0, r, NULL, NULL);
	if (pairs < 0)
		return (enum hm_err) - pairs;
	return pairs ? HM_ERR_OK : HM_ERR_NOT_MINE;
}

const struct hm_profile hm_profile_obis = {
    .name = "obis",
    .manufacturer = "unknown", /* the list does not say */
    .decode = obis_decode,
};
