/*
 * profiles.h - internal: the profiles of hm_profiles[] and the helpers they
 * share (src/core/profile.c).  Not installed; sinks and sources use profile.h.
 */
#ifndef HM_CORE_PROFILES_H
#define HM_CORE_PROFILES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hanmeter/profile.h"

extern const struct hm_profile hm_profile_aidon;
extern const struct hm_profile hm_profile_kaifa;
extern const struct hm_profile hm_profile_kamstrup;
extern const struct hm_profile hm_profile_wienernetze;
extern const struct hm_profile hm_profile_obis;

/* DLMS unit codes (IEC 62056-62, Blue Book "unit" enumeration) we convert. */
enum hm_dlms_unit {
	HM_UNIT_NONE = 0,    /* not given: the field's own unit, scaler as passed */
	HM_UNIT_W = 27,      /* active power */
	HM_UNIT_VAR = 29,    /* reactive power */
	HM_UNIT_WH = 30,     /* active energy */
	HM_UNIT_VARH = 32,   /* reactive energy */
	HM_UNIT_A = 33,      /* current */
	HM_UNIT_V = 35,      /* voltage */
	HM_UNIT_COUNT = 255, /* "count": dimensionless (power factor) */
};

/* The DLMS unit code of a unit string of HM_NUM_FIELDS. */
static inline uint8_t hm_profile_unit_code(const char *u)
{
	return strcmp(u, "W") == 0       ? HM_UNIT_W
	       : strcmp(u, "var") == 0   ? HM_UNIT_VAR
	       : strcmp(u, "kWh") == 0   ? HM_UNIT_WH
	       : strcmp(u, "kvarh") == 0 ? HM_UNIT_VARH
	       : strcmp(u, "A") == 0     ? HM_UNIT_A
	       : strcmp(u, "V") == 0     ? HM_UNIT_V
	       : strcmp(u, "") == 0      ? HM_UNIT_COUNT /* dimensionless (power factor) */
	                                 : HM_UNIT_NONE;
}

/* reading.c's table of the common OBIS codes: field + 1 (0: none) at C for
 * C.7.0 (instantaneous) and at HM_NUM_OBIS_FAST_ROW + C for C.8.0 (totals). */
#define HM_NUM_OBIS_FAST_ROW 256
extern const int8_t hm_num_obis_fast[];

/* hm_num_field_by_obis() with its common case inline: nearly every value a
 * list carries is C.7.0 or C.8.0, and this runs for each. */
static inline int hm_profile_field_by_obis(uint8_t c, uint8_t d, uint8_t e)
{
	if (e == 0 && (d == 7 || d == 8))
		return hm_num_obis_fast[(d - 7) * HM_NUM_OBIS_FAST_ROW + c] - 1;
	return hm_num_field_by_obis(c, d, e);
}

/* The DLMS unit code matching field f's unit ("W" -> 27, "kWh" -> 30 (Wh)).
 * One case per field with its unit string as written in HM_NUM_FIELDS: the
 * compiler folds each strcmp of two literals, so with optimisation this is
 * a table lookup, and the strings stay the one source of truth.  Inline:
 * it runs for every value, from every profile. */
static inline uint8_t hm_profile_field_unit(enum hm_num_field f)
{
	switch (f) {
#define HM_NF_UNIT(id, nm, un, ...) \
	case HM_NUM_##id: return hm_profile_unit_code(un);
		HM_NUM_FIELDS(HM_NF_UNIT)
#undef HM_NF_UNIT
	default: return HM_UNIT_NONE;
	}
}

/* Exponent that turns the DLMS unit into the field's unit (Wh -> kWh: -3). */
static inline int hm_profile_unit_shift(uint8_t unit)
{
	return unit == HM_UNIT_WH || unit == HM_UNIT_VARH ? -3 : 0;
}

/* The item tests below run for every item of every list, from every
 * profile: inline, so that a check is a compare and not a call. */

/* True if it is an octet-string of 6 bytes, i.e. can be an OBIS code. */
static inline bool hm_profile_is_obis(const struct hm_axdr_item *it)
{
	return it->tag == HM_AXDR_OCTET_STRING && it->len == 6;
}

/* True for the A-XDR integer types (and enum, boolean). */
static inline bool hm_profile_is_int(const struct hm_axdr_item *it)
{
	switch (it->tag) {
	case HM_AXDR_BOOLEAN:
	case HM_AXDR_INT8:
	case HM_AXDR_INT16:
	case HM_AXDR_INT32:
	case HM_AXDR_INT64:
	case HM_AXDR_UINT8:
	case HM_AXDR_UINT16:
	case HM_AXDR_UINT32:
	case HM_AXDR_UINT64:
	case HM_AXDR_ENUM: return true;
	default: return false;
	}
}

/* True for octet-, visible- and utf8-strings. */
static inline bool hm_profile_is_string(const struct hm_axdr_item *it)
{
	return it->tag == HM_AXDR_OCTET_STRING || it->tag == HM_AXDR_VISIBLE_STRING || it->tag == HM_AXDR_UTF8_STRING;
}

/* Stores one value the list identifies by OBIS code: a named numeric field
 * (value * 10^scaler in the DLMS unit, converted to the field's unit: Wh ->
 * kWh), a named text field (identity strings, the clock), or else an extra.
 * A value whose unit disagrees with the field's is kept as an extra, never
 * relabelled.  null-data values (Kamstrup placeholders) are skipped.
 * HM_ERR_OK, or HM_ERR_MALFORMED_APDU for a container where a value belongs. */
enum hm_err hm_profile_put(struct hm_reading *r, const uint8_t obis[6], const struct hm_axdr_item *v, int scaler,
                           uint8_t unit);

/* The numeric field hm_profile_put files OBIS code obis under (A = 1,
 * F = 255, C.D.E known), or -1. */
int hm_profile_obis_field(const uint8_t obis[6]);

/* hm_profile_put for a caller that has looked up f = hm_profile_obis_field(obis)
 * already (to choose a scaling), so that it is not looked up twice. */
enum hm_err hm_profile_put_field(struct hm_reading *r, const uint8_t obis[6], int f, const struct hm_axdr_item *v,
                                 int scaler, uint8_t unit);

/* hm_profile_put with its common case inline: an integer for a named
 * numeric field, in the field's unit (or none given), scaler in range.  That
 * case is exactly what hm_profile_put does with it (count the item, set the
 * number); everything else (null-data, text, extras, errors) goes to it. */
static inline enum hm_err hm_profile_put_inline(struct hm_reading *r, const uint8_t obis[6],
                                                const struct hm_axdr_item *v, int scaler, uint8_t unit)
{
	int f = obis[0] == 1 && obis[5] == 0xFF ? hm_profile_field_by_obis(obis[2], obis[3], obis[4]) : -1;
	if (f >= 0 && hm_profile_is_int(v) && scaler >= -HM_SCALER_MAX && scaler <= HM_SCALER_MAX) {
		uint8_t want = hm_profile_field_unit(f);
		if (unit == HM_UNIT_NONE || unit == want) {
			r->items++;
			hm_reading_set_num(r, f, v->ival, scaler + hm_profile_unit_shift(want));
			return HM_ERR_OK;
		}
	}
	return hm_profile_put_field(r, obis, f, v, scaler, unit);
}

/* Sets numeric field f from an integer item with the given scaler and unit. */
enum hm_err hm_profile_put_num(struct hm_reading *r, enum hm_num_field f, const struct hm_axdr_item *v, int scaler,
                               uint8_t unit);

/* Sets text field f from a string item (the clock: formatted date-time). */
enum hm_err hm_profile_put_text(struct hm_reading *r, enum hm_text_field f, const struct hm_axdr_item *v);

/* True for an array or a structure. */
static inline bool hm_profile_is_container(const struct hm_axdr_item *it)
{
	return it->tag == HM_AXDR_ARRAY || it->tag == HM_AXDR_STRUCTURE;
}

/* A list's implicit scaling: (scaler, unit) of named field f, for lists that
 * send bare integers (Kaifa, Kamstrup). */
typedef void hm_profile_scale_fn(int f, int *scaler, uint8_t *unit, void *ctx);

/*
 * Reads n elements of a flat OBIS/value list (Kamstrup, Swedish Kaifa) from
 * rd and stores each pair: an OBIS code and its value, or a null-data
 * standing in for an absent code or value (Kamstrup single-phase).  Values
 * are bare: a named field gets (scaler, unit) from scale().  A container, or
 * a code with no value after it, is HM_ERR_UNKNOWN_LIST.  Always inline, so
 * that in each profile's copy scale() is a known function the compiler
 * takes in, not a call through a pointer per value: this is the loop that
 * decodes most of those lists.
 */
static inline __attribute__((always_inline)) enum hm_err
hm_profile_pairs(struct hm_axdr_rd *rd, unsigned n, struct hm_reading *r, hm_profile_scale_fn *scale, void *ctx)
{
	while (n > 0) {
		struct hm_axdr_item o, v;
		const uint8_t *c;
		enum hm_err err;
		if (!hm_axdr_take_obis(rd, &c)) {
			if ((err = hm_axdr_next(rd, &o)) != HM_ERR_OK)
				return err;
			if (o.tag == HM_AXDR_NULL) {
				n--;
				continue;
			}
			if (!hm_profile_is_obis(&o))
				return HM_ERR_UNKNOWN_LIST;
			c = o.data;
		}
		if (n < 2)
			return HM_ERR_UNKNOWN_LIST; /* a code with no value */
		n -= 2;
		if (!hm_axdr_take_int(rd, &v) && !hm_axdr_take_string(rd, &v)) {
			if ((err = hm_axdr_next(rd, &v)) != HM_ERR_OK)
				return err;
			if (hm_profile_is_container(&v))
				return HM_ERR_UNKNOWN_LIST;
		}
		int scaler = 0;
		uint8_t unit = HM_UNIT_NONE;
		int f = c[0] == 1 ? hm_profile_field_by_obis(c[2], c[3], c[4]) : -1;
		if (f >= 0)
			scale(f, &scaler, &unit, ctx);
		if (f >= 0 && c[5] == 0xFF && hm_profile_is_int(&v)) {
			/* What hm_profile_put_field does with an integer for a field in
			 * the field's own unit (scale()'s scalers are within
			 * HM_SCALER_MAX), without looking the unit up again. */
			r->items++;
			hm_reading_set_num(r, f, v.ival, scaler + hm_profile_unit_shift(unit));
			continue;
		}
		/* f as hm_profile_obis_field() has it (F = 255 too), not looked up again */
		if ((err = hm_profile_put_field(r, c, c[5] == 0xFF ? f : -1, &v, scaler, unit)) != HM_ERR_OK)
			return err;
	}
	return HM_ERR_OK;
}

/* Walks every {OBIS, value[, {scaler, unit}]} in a parsed body (structures
 * of pairs at any depth, or flat OBIS/value sequences) from item `from` on
 * and stores each with hm_profile_put; a pair without a scaler/unit
 * structure is scaler 0 in the field's unit.  Returns the number of pairs
 * found (>= 0) or -(enum hm_err). */
int hm_profile_walk(const struct hm_axdr *ax, unsigned from, struct hm_reading *r);

#endif
