/*
 * kaifa.c - Kaifa HAN lists (list version KFM_001), Norway and Sweden.
 *
 * Kaifa sends bare integers without scaler/unit; the scaling is fixed by
 * Kaifa's KFM_001 HAN document: W and var, 0.001 A, 0.1 V, Wh and varh.
 *
 * Norway: a structure of bare values whose meaning is their position; the
 * element count tells the list:
 *    1  list 1: P+
 *    9  list 2, single-phase: version, id, model, P+, P-, Q+, Q-, I1, U1
 *   13  list 2, three-phase:  version, id, model, P+, P-, Q+, Q-, I1-3, U1-3
 *   14  list 3, single-phase: list 2 + clock, A+, A-, R+, R-
 *   18  list 3, three-phase:  list 2 + clock, A+, A-, R+, R-
 * IT-network meters report U2 = 0 (the list keeps its length).
 * Sweden: a flat structure of OBIS/value pairs, first 1.0.0.2.129.255 = "KFM_001".
 */
#include <string.h>

#include "profiles.h"

#define KFM_PREFIX "KFM_" /* list version "KFM_001" */

/* The fixed Kaifa scaling for field f (KFM_001). */
static void kaifa_scale(int f, int *scaler, uint8_t *unit, void *ctx)
{
	(void)ctx;
	*unit = hm_profile_field_unit(f);
	switch (*unit) {
	case HM_UNIT_A: *scaler = -3; break; /* mA */
	case HM_UNIT_V: *scaler = -1; break; /* 0.1 V */
	default: *scaler = 0; break;         /* W, var, Wh, varh */
	}
}

/* One position of a Norwegian list: a text field, or a numeric field with
 * the exponent that takes Kaifa's integer to the field's unit (KFM_001, as
 * kaifa_scale() above; kept in the table so that the per-value work is a
 * store, not a unit lookup). */
struct pos {
	int what;   /* >= 0: enum hm_num_field; < 0: -1 - enum hm_text_field */
	int8_t exp; /* value = integer * 10^exp in the field's unit */
};

/* clang-format off */
#define TX(x) {-1 - HM_TEXT_##x, 0}
#define W(x)  {HM_NUM_##x, 0}  /* W, var */
#define MA(x) {HM_NUM_##x, -3} /* mA */
#define DV(x) {HM_NUM_##x, -1} /* 0.1 V */
#define WH(x) {HM_NUM_##x, -3} /* Wh, varh -> kWh, kvarh */

static const struct pos list_1ph[] = {
	TX(LIST_VERSION), TX(METER_ID), TX(METER_MODEL),
	W(ACTIVE_POWER_IMPORT_W), W(ACTIVE_POWER_EXPORT_W), W(REACTIVE_POWER_IMPORT_VAR), W(REACTIVE_POWER_EXPORT_VAR),
	MA(CURRENT_L1_A),
	DV(VOLTAGE_L1_V),
};
static const struct pos list_3ph[] = {
	TX(LIST_VERSION), TX(METER_ID), TX(METER_MODEL),
	W(ACTIVE_POWER_IMPORT_W), W(ACTIVE_POWER_EXPORT_W), W(REACTIVE_POWER_IMPORT_VAR), W(REACTIVE_POWER_EXPORT_VAR),
	MA(CURRENT_L1_A), MA(CURRENT_L2_A), MA(CURRENT_L3_A),
	DV(VOLTAGE_L1_V), DV(VOLTAGE_L2_V), DV(VOLTAGE_L3_V),
};
static const struct pos list_3_tail[] = {
	TX(METER_TIME),
	WH(ACTIVE_ENERGY_IMPORT_KWH), WH(ACTIVE_ENERGY_EXPORT_KWH),
	WH(REACTIVE_ENERGY_IMPORT_KVARH), WH(REACTIVE_ENERGY_EXPORT_KVARH),
};
static const struct pos list_1 = W(ACTIVE_POWER_IMPORT_W);
/* clang-format on */
#define LEN(a) (sizeof(a) / sizeof(a)[0])

static inline enum hm_err put_at(struct hm_reading *r, const struct pos *p, const struct hm_axdr_item *v)
{
	r->items++;
	if (p->what < 0)
		return hm_profile_put_text(r, -1 - p->what, v);
	if (!hm_profile_is_int(v))
		return HM_ERR_MALFORMED_APDU;
	hm_reading_set_num(r, p->what, v->ival, p->exp);
	return HM_ERR_OK;
}

static bool is_kfm(const struct hm_axdr_item *it)
{
	return hm_profile_is_string(it) && it->len >= strlen(KFM_PREFIX) &&
	       memcmp(it->data, KFM_PREFIX, strlen(KFM_PREFIX)) == 0;
}

/* put_at for n positions and the next n bare values in rd; stops at the
 * first error.  A container among them is no Kaifa list. */
static enum hm_err put_run(struct hm_reading *r, const struct pos *p, size_t n, struct hm_axdr_rd *rd)
{
	for (size_t i = 0; i < n; i++) {
		struct hm_axdr_item v;
		enum hm_err err;
		/* The table says what comes: a bare integer, or a string. */
		if (p[i].what >= 0 && hm_axdr_take_int(rd, &v)) {
			r->items++;
			hm_reading_set_num(r, p[i].what, v.ival, p[i].exp);
			continue;
		}
		if (p[i].what >= 0 || !hm_axdr_take_string(rd, &v)) { /* or trouble */
			if ((err = hm_axdr_next(rd, &v)) != HM_ERR_OK)
				return err;
			if (hm_profile_is_container(&v))
				return HM_ERR_UNKNOWN_LIST;
		}
		if ((err = put_at(r, &p[i], &v)) != HM_ERR_OK)
			return err;
	}
	return HM_ERR_OK;
}

/* The list after its structure's header, read straight from the bytes. */
static enum hm_err read_list(struct hm_axdr_rd *rd, unsigned n, struct hm_reading *r)
{
	struct hm_axdr_item first, second;

	/* List 1: one bare double-long-unsigned. */
	if (n == 1 && hm_axdr_take_int(rd, &first))
		return first.tag == HM_AXDR_UINT32 ? put_at(r, &list_1, &first) : HM_ERR_NOT_MINE;
	if (n == 0 || hm_axdr_next(rd, &first) != HM_ERR_OK)
		return HM_ERR_NOT_MINE;
	if (n == 1)
		return first.tag == HM_AXDR_UINT32 ? put_at(r, &list_1, &first) : HM_ERR_NOT_MINE;

	/* Sweden: OBIS/value pairs led by the list version. */
	if (hm_profile_is_obis(&first)) {
		if (hm_axdr_next(rd, &second) != HM_ERR_OK || !is_kfm(&second))
			return HM_ERR_NOT_MINE;
		enum hm_err err = hm_profile_put(r, first.data, &second, 0, HM_UNIT_NONE);
		return err == HM_ERR_OK ? hm_profile_pairs(rd, n - 2, r, kaifa_scale, NULL) : err;
	}

	/* Norway: positional, led by the list version. */
	if (!is_kfm(&first))
		return HM_ERR_NOT_MINE;
	const struct pos *head;
	size_t nhead;
	switch (n) {
	case LEN(list_1ph):
	case LEN(list_1ph) + LEN(list_3_tail): head = list_1ph, nhead = LEN(list_1ph); break;
	case LEN(list_3ph):
	case LEN(list_3ph) + LEN(list_3_tail): head = list_3ph, nhead = LEN(list_3ph); break;
	default: return HM_ERR_UNKNOWN_LIST;
	}
	enum hm_err err = put_at(r, &head[0], &first);
	if (err == HM_ERR_OK)
		err = put_run(r, head + 1, nhead - 1, rd);
	if (err == HM_ERR_OK && n > nhead)
		err = put_run(r, list_3_tail, LEN(list_3_tail), rd);
	return err;
}

static enum hm_err kaifa_decode(struct hm_apdu *a, struct hm_reading *r)
{
	struct hm_axdr_rd rd = {.p = a->body, .len = a->body_len};
	struct hm_axdr_item top;
	unsigned n;

	if (!hm_axdr_take_open(&rd, HM_AXDR_STRUCTURE, &n)) {
		if (hm_axdr_next(&rd, &top) != HM_ERR_OK || top.tag != HM_AXDR_STRUCTURE)
			return HM_ERR_NOT_MINE;
		n = top.len;
	}
	enum hm_err err = read_list(&rd, n, r);
	if (err == HM_ERR_OK && rd.pos != rd.len)
		err = HM_ERR_MALFORMED_APDU; /* bytes after the body */
	return err;
}

const struct hm_profile hm_profile_kaifa = {
    .name = "kaifa",
    .manufacturer = "Kaifa",
    .decode = kaifa_decode,
};
