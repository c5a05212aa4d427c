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
 *
 * Netz NOe (Austria) wraps its pairs in a structure that opens with the
 * clock as a bare 12-byte octet-string and closes with the meter number as
 * a bare octet-string, neither with an OBIS code: those two positions are
 * read as meter_time and meter_number.
 */
#include "profiles.h"

#define DATE_TIME_LEN 12 /* COSEM date-time octets */

/* The Netz NOe bare clock and meter number, if the top structure has them. */
static void bare_ends(const struct hm_axdr *ax, struct hm_reading *r)
{
	const struct hm_axdr_item *top = &ax->item[0];
	if (top->tag != HM_AXDR_STRUCTURE || top->len < 3 || ax->n < 3)
		return;
	const struct hm_axdr_item *first = &ax->item[1];
	if (first->tag == HM_AXDR_OCTET_STRING && first->len == DATE_TIME_LEN &&
	    !hm_reading_has_text(r, HM_TEXT_METER_TIME) &&
	    hm_profile_put_text(r, HM_TEXT_METER_TIME, first) == HM_ERR_OK)
		r->items++;
	/* The last top-level element, when it is a string that no OBIS code precedes. */
	unsigned last = 1, prev = 0;
	for (unsigned i = 1; i < ax->n; i = hm_axdr_skip(ax, i))
		prev = last, last = i;
	const struct hm_axdr_item *l = &ax->item[last], *p = &ax->item[prev];
	if (last > 1 && hm_profile_is_string(l) && !hm_profile_is_obis(p) && !hm_profile_is_obis(l) &&
	    hm_profile_put_text(r, HM_TEXT_METER_NUMBER, l) == HM_ERR_OK)
		r->items++;
}

static enum hm_err obis_decode(struct hm_apdu *a, struct hm_reading *r)
{
	enum hm_err err = hm_dlms_items(a);
	if (err != HM_ERR_OK)
		return err;
	int pairs = hm_profile_walk(&a->ax, 0, r);
	if (pairs < 0)
		return (enum hm_err) - pairs;
	if (pairs == 0)
		return HM_ERR_NOT_MINE;
	bare_ends(&a->ax, r);
	return HM_ERR_OK;
}

const struct hm_profile hm_profile_obis = {
    .name = "obis",
    .manufacturer = "unknown", /* the list does not say */
    .fallback = true,          /* any OBIS-coded list: after the specific profiles */
    .decode = obis_decode,
};
