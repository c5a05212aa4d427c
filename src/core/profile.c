/*
 * profile.c - the meter profile table (auto-detection order) and the helpers
 * every profile uses to turn OBIS-coded values into the canonical reading.
 *
 * OBIS (IEC 62056-61) A-B:C.D.E*F: A=1 electricity, A=0 abstract (clock,
 * identities); C.D.E names the quantity; F=255 "current value".  Units
 * (IEC 62056-62): Wh and varh become kWh and kvarh by exponent -3.
 */
#include <string.h>

#include "profiles/profiles.h"

/* Most specific first: a profile must answer HM_ERR_NOT_MINE for the
 * others' lists.  obis (generic) claims anything OBIS-coded, so it is last. */
const struct hm_profile *const hm_profiles[] = {
    &hm_profile_aidon,       /* array of {OBIS, value, {scaler, unit}}: Aidon NO and SE */
    &hm_profile_kaifa,       /* KFM_001: positional (NO) or OBIS pairs (SE) */
    &hm_profile_kamstrup,    /* Kamstrup_V0001: flat OBIS/value pairs, implicit scalers */
    &hm_profile_wienernetze, /* 9 bare values, no OBIS (Austria, Wiener Netze) */
    &hm_profile_obis,        /* anything else OBIS-coded */
    NULL,
};

const struct hm_profile *hm_profile_find(const char *name)
{
	for (int i = 0; hm_profiles[i]; i++)
		if (strcmp(hm_profiles[i]->name, name) == 0)
			return hm_profiles[i];
	return NULL;
}

#define KEY(c, d, e) ((uint32_t)(c) << 16 | (uint32_t)(d) << 8 | (uint32_t)(e)) /* OBIS C.D.E */

/* put_field() looks no numeric field's code up here.  That is right while
 * no text code that A = 1 can carry (the cases below with A any or 1) has
 * the C.D.E of a numeric field (which all have A = 1); these fail to compile
 * otherwise.  A new such case needs its line here. */
#define IS_NUM_KEY(id, nm, un, c, d, e, dc, sc) || KEY(c, d, e) == TEXT_KEY
#define TEXT_KEY                                KEY(0, 2, 129)
_Static_assert(!(0 HM_NUM_FIELDS(IS_NUM_KEY)), "x.x.0.2.129 is also a numeric field");
#undef TEXT_KEY
#define TEXT_KEY KEY(96, 1, 1)
_Static_assert(!(0 HM_NUM_FIELDS(IS_NUM_KEY)), "1.x.96.1.1 is also a numeric field");
#undef TEXT_KEY
#define TEXT_KEY KEY(0, 0, 5)
_Static_assert(!(0 HM_NUM_FIELDS(IS_NUM_KEY)), "1.x.0.0.5 is also a numeric field");
#undef TEXT_KEY
#define TEXT_KEY KEY(0, 0, 1)
_Static_assert(!(0 HM_NUM_FIELDS(IS_NUM_KEY)), "1.x.0.0.1 is also a numeric field");
#undef TEXT_KEY
#undef IS_NUM_KEY

/* The text field of OBIS code o (README "Expected values" table), or -1.
 * Every value of a list is looked up here first, so it is a switch on C.D.E
 * (most codes fall through at once) and A is checked after; B is anything.
 * F must be 255. */
static int text_field_by_obis(const uint8_t o[6])
{
	uint8_t a = o[0];
	if (o[5] != 0xFF)
		return -1;
	switch (KEY(o[2], o[3], o[4])) {
	case KEY(0, 2, 129): return HM_TEXT_LIST_VERSION;             /* x.x.0.2.129: OBIS list version */
	case KEY(96, 1, 0): return a == 0 ? HM_TEXT_METER_ID : -1;    /* 0.x.96.1.0: GS1 meter id */
	case KEY(96, 1, 7): return a == 0 ? HM_TEXT_METER_MODEL : -1; /* 0.x.96.1.7: meter type */
	case KEY(96, 1, 1):
		return a == 0   ? HM_TEXT_METER_ID_2  /* 0.x.96.1.1: second identifier */
		       : a == 1 ? HM_TEXT_METER_MODEL /* Kamstrup 1.1.96.1.1: type number */
		                : -1;
	case KEY(42, 0, 0):
		return a == 0 ? HM_TEXT_LOGICAL_DEVICE_NAME : -1;     /* 0.x.42.0.0: COSEM logical device name */
	case KEY(1, 0, 0): return a == 0 ? HM_TEXT_METER_TIME : -1;   /* 0.x.1.0.0: clock (Kamstrup B=1) */
	case KEY(0, 0, 5): return a == 1 ? HM_TEXT_METER_ID : -1;     /* Kamstrup 1.1.0.0.5: GS1 meter id */
	case KEY(0, 0, 1): return a == 1 ? HM_TEXT_METER_SERIAL : -1; /* Kamstrup DK 1.1.0.0.1: serial */
	default: return -1;
	}
}

enum hm_err hm_profile_put_num(struct hm_reading *r, enum hm_num_field f, const struct hm_axdr_item *v, int scaler,
                               uint8_t unit)
{
	if (!hm_profile_is_int(v) || scaler < -HM_SCALER_MAX || scaler > HM_SCALER_MAX)
		return HM_ERR_MALFORMED_APDU;
	if (unit == HM_UNIT_NONE)
		unit = hm_profile_field_unit(f);
	hm_reading_set_num(r, f, v->ival, scaler + hm_profile_unit_shift(unit));
	return HM_ERR_OK;
}

enum hm_err hm_profile_put_text(struct hm_reading *r, enum hm_text_field f, const struct hm_axdr_item *v)
{
	bool clock = hm_text_time(f) >= 0;
	if (!clock && hm_profile_is_string(v)) { /* the common case first */
		hm_reading_set_text(r, f, (const char *)v->data, v->len);
		return HM_ERR_OK;
	}
	if (clock) {
		struct hm_time t;
		if ((v->tag != HM_AXDR_OCTET_STRING && v->tag != HM_AXDR_DATE_TIME) || v->len != 12 ||
		    !hm_dlms_datetime(v->data, &t))
			return HM_ERR_MALFORMED_APDU;
		hm_reading_set_time(r, f, &t);
		return HM_ERR_OK;
	}
	if (hm_profile_is_int(v)) { /* Kamstrup DK sends its serial as double-long-unsigned */
		char buf[24];
		int n = hm_num_format((struct hm_num){.m = v->ival}, buf, sizeof buf);
		hm_reading_set_text(r, f, buf, (size_t)n);
		return HM_ERR_OK;
	}
	return HM_ERR_MALFORMED_APDU;
}

/* True if every byte is printable ASCII (an identifier sent as octet-string). */
static bool printable(const struct hm_axdr_item *v)
{
	for (size_t i = 0; i < v->len; i++)
		if (v->data[i] < 0x20 || v->data[i] > 0x7E)
			return false;
	return v->len > 0;
}

/* An unnamed value, kept as an extra with its scaler and unit: numbers as
 * they are, text as text, other bytes (dates, floats, binary) in hex. */
static void put_extra(struct hm_reading *r, const uint8_t obis[6], const struct hm_axdr_item *v, int scaler,
                      uint8_t unit)
{
	static const char hex[] = "0123456789abcdef";
	struct hm_extra x = {.unit = unit};
	memcpy(x.obis, obis, 6);
	if (hm_profile_is_int(v)) {
		x.num = (struct hm_num){.m = v->ival, .e = (int16_t)scaler};
	} else if (v->tag == HM_AXDR_VISIBLE_STRING || v->tag == HM_AXDR_UTF8_STRING ||
	           (v->tag == HM_AXDR_OCTET_STRING && printable(v))) {
		size_t n = v->len < sizeof x.text - 1 ? v->len : sizeof x.text - 1;
		x.is_text = true;
		memcpy(x.text, v->data, n);
	} else { /* octet-strings, dates, floats, bit-strings: hex, cut to fit */
		size_t o = 0;
		x.is_text = true;
		for (size_t i = 0; i < v->len && o + 2 < sizeof x.text; i++) {
			x.text[o++] = hex[v->data[i] >> 4];
			x.text[o++] = hex[v->data[i] & 15];
		}
	}
	hm_reading_add_extra(r, &x);
}

/* hm_profile_put and _put_field: one body, inlined into both. */
static inline enum hm_err put_field(struct hm_reading *r, const uint8_t obis[6], int f, const struct hm_axdr_item *v,
                                    int scaler, uint8_t unit)
{
	if (v->tag == HM_AXDR_NULL)
		return HM_ERR_OK;
	if (scaler < -HM_SCALER_MAX || scaler > HM_SCALER_MAX)
		return HM_ERR_MALFORMED_APDU;
	if (v->tag == HM_AXDR_ARRAY || v->tag == HM_AXDR_STRUCTURE)
		return HM_ERR_MALFORMED_APDU;
	r->items++;
	/* No code is both a numeric and a text field (numeric fields have A = 1
	 * and C an electrical quantity, the text codes C = 0 or 96, or A = 0:
	 * asserted above text_field_by_obis), so a numeric field needs no text
	 * lookup.  test_profile.c puts every code of both kinds. */
	if (f < 0) {
		int tf = text_field_by_obis(obis);
		if (tf >= 0) {
			if (hm_profile_put_text(r, tf, v) == HM_ERR_OK)
				return HM_ERR_OK;
			put_extra(r, obis, v, scaler, unit); /* e.g. an unspecified clock: kept raw */
			return HM_ERR_OK;
		}
	} else if (hm_profile_is_int(v)) {
		uint8_t want = hm_profile_field_unit(f);
		if (unit == HM_UNIT_NONE || unit == want) { /* hm_profile_put_num, its checks done above */
			hm_reading_set_num(r, f, v->ival, scaler + hm_profile_unit_shift(want));
			return HM_ERR_OK;
		}
	}
	put_extra(r, obis, v, scaler, unit);
	return HM_ERR_OK;
}

enum hm_err hm_profile_put_field(struct hm_reading *r, const uint8_t obis[6], int f, const struct hm_axdr_item *v,
                                 int scaler, uint8_t unit)
{
	return put_field(r, obis, f, v, scaler, unit);
}

int hm_profile_obis_field(const uint8_t obis[6])
{
	return obis[0] == 1 && obis[5] == 0xFF ? hm_profile_field_by_obis(obis[2], obis[3], obis[4]) : -1;
}

enum hm_err hm_profile_put(struct hm_reading *r, const uint8_t obis[6], const struct hm_axdr_item *v, int scaler,
                           uint8_t unit)
{
	return put_field(r, obis, hm_profile_obis_field(obis), v, scaler, unit);
}

int hm_profile_walk(const struct hm_axdr *ax, unsigned from, struct hm_reading *r)
{
	int pairs = 0;
	unsigned i = from;
	while (i < ax->n) {
		const struct hm_axdr_item *o = &ax->item[i];
		/* A pair is an OBIS code and, as its next sibling, a value that is no
		 * container (else keep looking inside: the code was something else). */
		if (!hm_profile_is_obis(o) || i + 1 >= ax->n || ax->item[i + 1].depth != o->depth ||
		    ax->item[i + 1].tag == HM_AXDR_ARRAY || ax->item[i + 1].tag == HM_AXDR_STRUCTURE) {
			i++;
			continue;
		}
		unsigned v = i + 1, k = v + 1; /* v is no container: hm_axdr_skip(ax, v) */
		int scaler = 0;
		uint8_t unit = HM_UNIT_NONE;
		const struct hm_axdr_item *s = k < ax->n ? &ax->item[k] : NULL;
		if (s && s->depth == o->depth && s->tag == HM_AXDR_STRUCTURE && s->len == 2 &&
		    ax->item[k + 1].tag == HM_AXDR_INT8 && ax->item[k + 2].tag == HM_AXDR_ENUM) {
			scaler = (int)ax->item[k + 1].ival;
			unit = (uint8_t)ax->item[k + 2].ival;
			k += 3;
		}
		enum hm_err err = hm_profile_put(r, o->data, &ax->item[v], scaler, unit);
		if (err != HM_ERR_OK)
			return -(int)err;
		pairs++;
		i = k;
	}
	return pairs;
}
