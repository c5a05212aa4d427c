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

/* True if o is the OBIS code of the list version and v another make's. */
static inline bool foreign_version(const struct hm_axdr_item *o, const struct hm_axdr_item *v)
{
	return hm_profile_is_obis(o) && memcmp(o->data + 2, list_version, sizeof list_version) == 0 &&
	       hm_profile_is_string(v) &&
	       (v->len < strlen(AIDON_PREFIX) || memcmp(v->data, AIDON_PREFIX, strlen(AIDON_PREFIX)) != 0);
}

/* Another make's list version anywhere in the body. */
static bool foreign_list(const struct hm_axdr *ax)
{
	for (unsigned i = 2; i + 1 < ax->n; i++)
		if (foreign_version(&ax->item[i], &ax->item[i + 1]))
			return true;
	return false;
}

static enum hm_err aidon_decode(const struct hm_apdu *a, struct hm_reading *r)
{
	const struct hm_axdr *ax = &a->ax;
	const struct hm_axdr_item *top = &ax->item[0];

	/* Mine: an array whose first element is a structure opening with an OBIS code. */
	if (ax->n < 3 || top->tag != HM_AXDR_ARRAY || ax->item[1].tag != HM_AXDR_STRUCTURE ||
	    !hm_profile_is_obis(&ax->item[2]))
		return HM_ERR_NOT_MINE;

	/*
	 * The same shape from another make (its list version says so) goes to
	 * the generic profile: another make's version anywhere in the body
	 * makes it HM_ERR_NOT_MINE, whatever else is wrong with it.  In a body
	 * of the shape below the only place it can be is an element's {OBIS,
	 * value}, which the walk checks as it goes; the whole body is searched
	 * only when the walk fails, rather than before every list.
	 */
	unsigned i = 1;
	enum hm_err err = HM_ERR_OK;
	for (unsigned e = 0; e < top->len && err == HM_ERR_OK; e++) {
		/* Every element must have that shape: {OBIS, value} or {OBIS, value, {int8, enum}}. */
		const struct hm_axdr_item *s = &ax->item[i];
		if (i + 2 >= ax->n || s->tag != HM_AXDR_STRUCTURE || (s->len != 2 && s->len != 3) ||
		    !hm_profile_is_obis(&ax->item[i + 1])) {
			err = HM_ERR_UNKNOWN_LIST;
			break;
		}
		/* The value is one item unless it is a container (which put
		 * rejects); the structure ends after it or after {int8, enum}. */
		unsigned v = i + 2, k = ax->item[v].tag == HM_AXDR_ARRAY || ax->item[v].tag == HM_AXDR_STRUCTURE
		                            ? hm_axdr_skip(ax, v)
		                            : v + 1;
		if (foreign_version(&ax->item[i + 1], &ax->item[v]))
			return HM_ERR_NOT_MINE;
		int scaler = 0;
		uint8_t unit = HM_UNIT_NONE;
		if (s->len == 3) {
			if (k + 2 >= ax->n || ax->item[k].tag != HM_AXDR_STRUCTURE || ax->item[k].len != 2 ||
			    ax->item[k + 1].tag != HM_AXDR_INT8 || ax->item[k + 2].tag != HM_AXDR_ENUM) {
				err = HM_ERR_UNKNOWN_LIST;
				break;
			}
			scaler = (int)ax->item[k + 1].ival;
			unit = (uint8_t)ax->item[k + 2].ival;
		}
		err = hm_profile_put_inline(r, ax->item[i + 1].data, &ax->item[v], scaler, unit);
		i = s->len == 3 ? k + 3 : k; /* hm_axdr_skip(ax, i), known from the shape just checked */
	}
	return err != HM_ERR_OK && foreign_list(ax) ? HM_ERR_NOT_MINE : err;
}

const struct hm_profile hm_profile_aidon = {
    .name = "aidon",
    .manufacturer = "Aidon",
    .decode = aidon_decode,
};
