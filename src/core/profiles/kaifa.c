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

#define T(x) (-1 - HM_TEXT_##x) /* a text position, told apart from numeric fields (>= 0) */
#define N(x) HM_NUM_##x

/* clang-format off */
static const int list_1ph[] = {
	T(LIST_VERSION), T(METER_ID), T(METER_MODEL),
	N(ACTIVE_POWER_IMPORT_W), N(ACTIVE_POWER_EXPORT_W), N(REACTIVE_POWER_IMPORT_VAR), N(REACTIVE_POWER_EXPORT_VAR),
	N(CURRENT_L1_A),
	N(VOLTAGE_L1_V),
};
static const int list_3ph[] = {
	T(LIST_VERSION), T(METER_ID), T(METER_MODEL),
	N(ACTIVE_POWER_IMPORT_W), N(ACTIVE_POWER_EXPORT_W), N(REACTIVE_POWER_IMPORT_VAR), N(REACTIVE_POWER_EXPORT_VAR),
	N(CURRENT_L1_A), N(CURRENT_L2_A), N(CURRENT_L3_A),
	N(VOLTAGE_L1_V), N(VOLTAGE_L2_V), N(VOLTAGE_L3_V),
};
static const int list_3_tail[] = {
	T(METER_TIME),
	N(ACTIVE_ENERGY_IMPORT_KWH), N(ACTIVE_ENERGY_EXPORT_KWH),
	N(REACTIVE_ENERGY_IMPORT_KVARH), N(REACTIVE_ENERGY_EXPORT_KVARH),
};
/* clang-format on */
#define LEN(a) (sizeof(a) / sizeof(a)[0])

static enum hm_err put_at(struct hm_reading *r, int what, const struct hm_axdr_item *v)
{
	r->items++;
	if (what < 0)
		return hm_profile_put_text(r, -1 - what, v);
	int scaler;
	uint8_t unit;
	kaifa_scale(what, &scaler, &unit, NULL);
	return hm_profile_put_num(r, what, v, scaler, unit);
}

static bool is_kfm(const struct hm_axdr_item *it)
{
	return hm_profile_is_string(it) && it->len >= strlen(KFM_PREFIX) &&
	       memcmp(it->data, KFM_PREFIX, strlen(KFM_PREFIX)) == 0;
}

static enum hm_err kaifa_decode(const struct hm_apdu *a, struct hm_reading *r)
{
	const struct hm_axdr *ax = &a->ax;
	const struct hm_axdr_item *top = &ax->item[0];

	if (ax->n < 2 || top->tag != HM_AXDR_STRUCTURE)
		return HM_ERR_NOT_MINE;

	/* List 1: one bare double-long-unsigned. */
	if (top->len == 1 && ax->n == 2) {
		if (ax->item[1].tag != HM_AXDR_UINT32)
			return HM_ERR_NOT_MINE;
		return put_at(r, N(ACTIVE_POWER_IMPORT_W), &ax->item[1]);
	}

	/* Sweden: OBIS/value pairs led by the list version. */
	if (ax->n >= 3 && hm_profile_is_obis(&ax->item[1]) && is_kfm(&ax->item[2])) {
		int pairs = hm_profile_walk(ax, 1, r, kaifa_scale, NULL);
		return pairs < 0 ? (enum hm_err) - pairs : HM_ERR_OK;
	}

	/* Norway: positional, led by the list version. */
	if (!is_kfm(&ax->item[1]))
		return HM_ERR_NOT_MINE;
	const int *head;
	size_t nhead;
	switch (top->len) {
	case LEN(list_1ph):
	case LEN(list_1ph) + LEN(list_3_tail): head = list_1ph, nhead = LEN(list_1ph); break;
	case LEN(list_3ph):
	case LEN(list_3ph) + LEN(list_3_tail): head = list_3ph, nhead = LEN(list_3ph); break;
	default: return HM_ERR_UNKNOWN_LIST;
	}
	if (ax->n != 1u + top->len) /* bare values only: nothing nested */
		return HM_ERR_UNKNOWN_LIST;
	for (unsigned i = 0; i < top->len; i++) {
		int what = i < nhead ? head[i] : list_3_tail[i - nhead];
		enum hm_err err = put_at(r, what, &ax->item[1 + i]);
		if (err != HM_ERR_OK)
			return err;
	}
	return HM_ERR_OK;
}

const struct hm_profile hm_profile_kaifa = {
    .name = "kaifa",
    .manufacturer = "Kaifa",
    .decode = kaifa_decode,
};
