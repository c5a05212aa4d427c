/*
 * aidon.c - Aidon HAN lists, Norway (AIDON_V0001) and Sweden.
 *
 * The notification body is an array of structures, one per register:
 *   { OBIS octet-string(6), value, { scaler integer, unit enum } }   numbers
 *   { OBIS octet-string(6), value }                                  strings, clock
 * The value is m * 10^scaler in the DLMS unit; Wh and varh become kWh and
 * kvarh.  List 1 is a one-element array (1.0.1.7.0.255), list 2 adds the
 * identity strings, list 3 the clock and energies.  IT-network meters
 * (6525, 6540) omit 51.7.0 (L2 current): a missing register is just absent.
 * Swedish lists and list 1 carry no list version; a list whose version is
 * not AIDON_* has the same shape but is another make's (generic obis).
 */
#include <string.h>

#include "profiles.h"

#define AIDON_PREFIX "AIDON_" /* list version "AIDON_V0001" */

static const uint8_t list_version[] = {0, 2, 129, 255}; /* x.x.0.2.129.255, C..F */

/* True if obis is the OBIS code of the list version and v another make's. */
static inline bool foreign_version(const uint8_t obis[6], const struct hm_axdr_item *v)
{
	return memcmp(obis + 2, list_version, sizeof list_version) == 0 && hm_profile_is_string(v) &&
	       (v->len < strlen(AIDON_PREFIX) || memcmp(v->data, AIDON_PREFIX, strlen(AIDON_PREFIX)) != 0);
}

/* {scaler, unit} as Aidon sends it, 02 02 0F <scaler> 16 <unit>, taken
 * whole (see hm_axdr_take_open()); else false, nothing moved. */
static inline bool take_scaler_unit(struct hm_axdr_rd *rd, int *scaler, uint8_t *unit)
{
	const uint8_t *p = rd->p + rd->pos;
	if (rd->len - rd->pos < 6 || p[0] != HM_AXDR_STRUCTURE || p[1] != 2 || p[2] != HM_AXDR_INT8 ||
	    p[4] != HM_AXDR_ENUM)
		return false;
	*scaler = (int8_t)p[3];
	*unit = p[5];
	rd->pos += 6;
	return true;
}

/* Another make's list version anywhere in the body (an error path: the
 * body as items). */
static bool foreign_list(struct hm_apdu *a)
{
	const struct hm_axdr *ax = &a->ax;
	if (hm_dlms_items(a) != HM_ERR_OK)
		return false;
	for (unsigned i = 2; i + 1 < ax->n; i++)
		if (hm_profile_is_obis(&ax->item[i]) && foreign_version(ax->item[i].data, &ax->item[i + 1]))
			return true;
	return false;
}

/* The elements of the array, read straight from the bytes: each must be
 * {OBIS, value} or {OBIS, value, {int8 scaler, enum unit}}.  The first
 * one's shape is what makes the list Aidon's (else HM_ERR_NOT_MINE); after
 * that a wrong shape is HM_ERR_UNKNOWN_LIST. */
static enum hm_err read_list(struct hm_axdr_rd *rd, struct hm_reading *r)
{
	struct hm_axdr_item top, s, o, v, t;
	enum hm_err err;

	if (hm_axdr_next(rd, &top) != HM_ERR_OK || top.tag != HM_AXDR_ARRAY)
		return HM_ERR_NOT_MINE;
	for (unsigned e = 0; e < top.len; e++) {
		enum hm_err shape = e == 0 ? HM_ERR_NOT_MINE : HM_ERR_UNKNOWN_LIST;
		unsigned n;
		const uint8_t *obis;
		if (!hm_axdr_take_open(rd, HM_AXDR_STRUCTURE, &n)) {
			if ((err = hm_axdr_next(rd, &s)) != HM_ERR_OK)
				return e == 0 ? HM_ERR_NOT_MINE : err;
			if (s.tag != HM_AXDR_STRUCTURE)
				return shape;
			n = s.len;
		}
		if (n != 2 && n != 3)
			return shape;
		if (!hm_axdr_take_obis(rd, &obis)) {
			if ((err = hm_axdr_next(rd, &o)) != HM_ERR_OK)
				return e == 0 ? HM_ERR_NOT_MINE : err;
			if (!hm_profile_is_obis(&o))
				return shape;
			obis = o.data;
		}
		if (!hm_axdr_take_int(rd, &v)) {
			if (!hm_axdr_take_string(rd, &v) && (err = hm_axdr_next(rd, &v)) != HM_ERR_OK)
				return err;
			if (hm_profile_is_container(&v))
				return HM_ERR_MALFORMED_APDU; /* a container where a value belongs */
			/* The same shape from another make (its list version says so)
			 * goes to the generic profile. */
			if (foreign_version(obis, &v))
				return HM_ERR_NOT_MINE;
		}
		int scaler = 0;
		uint8_t unit = HM_UNIT_NONE;
		if (n == 3 && !take_scaler_unit(rd, &scaler, &unit)) {
			if ((err = hm_axdr_next(rd, &t)) != HM_ERR_OK)
				return err;
			if (t.tag != HM_AXDR_STRUCTURE || t.len != 2)
				return HM_ERR_UNKNOWN_LIST;
			if ((err = hm_axdr_next(rd, &t)) != HM_ERR_OK)
				return err;
			if (t.tag != HM_AXDR_INT8)
				return HM_ERR_UNKNOWN_LIST;
			scaler = (int)t.ival;
			if ((err = hm_axdr_next(rd, &t)) != HM_ERR_OK)
				return err;
			if (t.tag != HM_AXDR_ENUM)
				return HM_ERR_UNKNOWN_LIST;
			unit = (uint8_t)t.ival;
		}
		if ((err = hm_profile_put_inline(r, obis, &v, scaler, unit)) != HM_ERR_OK)
			return err;
	}
	return rd->pos == rd->len ? HM_ERR_OK : HM_ERR_MALFORMED_APDU; /* bytes after the body */
}

static enum hm_err aidon_decode(struct hm_apdu *a, struct hm_reading *r)
{
	struct hm_axdr_rd rd = {.p = a->body, .len = a->body_len};
	enum hm_err err = read_list(&rd, r);
	/* Another make's version anywhere in the body makes it HM_ERR_NOT_MINE,
	 * whatever else is wrong with it.  The walk checks each {OBIS, value}
	 * as it goes; the whole body is searched only when the walk fails. */
	return err != HM_ERR_OK && err != HM_ERR_NOT_MINE && foreign_list(a) ? HM_ERR_NOT_MINE : err;
}

const struct hm_profile hm_profile_aidon = {
    .name = "aidon",
    .manufacturer = "Aidon",
    .decode = aidon_decode,
};
