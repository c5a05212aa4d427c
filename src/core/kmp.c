/*
 * kmp.c - Kamstrup Meter Protocol: byte stuffing, CRC-16/XMODEM, GetRegister
 * requests and responses, and the MULTICAL registers the reading names.
 * Layouts: kmp.h.  Unit codes and register ids: Kamstrup's KMP register
 * list as published for the MULTICAL 40x/60x families.
 */
#include <string.h>

#include "hanmeter/crc.h"
#include "hanmeter/kmp.h"

#define CRC_LEN           2
#define SIGN_NEG_MANTISSA 0x80 /* sign/exponent byte: mantissa negative */
#define SIGN_NEG_EXPONENT 0x40 /* sign/exponent byte: exponent negative */
#define EXPONENT_MASK     0x3F
#define REG_HDR_LEN       5 /* id (2), unit, length, sign/exponent */
#define MANTISSA_MAX      8

static bool must_stuff(uint8_t b)
{
	return b == HM_KMP_ACK || b == HM_KMP_STOP || b == HM_KMP_ESC || b == HM_KMP_START_FROM_METER ||
	       b == HM_KMP_START_TO_METER;
}

enum hm_err hm_kmp_decode(const uint8_t *p, size_t len, uint8_t *body, size_t cap, struct hm_kmp_frame *f)
{
	size_t n = 0, i;

	memset(f, 0, sizeof *f);
	if (len < 1 || (p[0] != HM_KMP_START_TO_METER && p[0] != HM_KMP_START_FROM_METER))
		return HM_ERR_NOT_MINE;
	for (i = 1; i < len && p[i] != HM_KMP_STOP; i++) {
		uint8_t b = p[i];
		if (b == HM_KMP_ESC) {
			if (++i >= len || p[i] == HM_KMP_STOP)
				return i >= len ? HM_ERR_TRUNCATED : HM_ERR_BAD_FORMAT;
			b = (uint8_t)(p[i] ^ 0xFF);
			if (!must_stuff(b)) /* only the five special bytes are ever escaped */
				return HM_ERR_BAD_FORMAT;
		} else if (must_stuff(b)) {
			return HM_ERR_BAD_FORMAT; /* a special byte left unstuffed */
		}
		if (n >= cap)
			return HM_ERR_OVERSIZE;
		body[n++] = b;
	}
	if (i >= len)
		return HM_ERR_TRUNCATED;
	if (i + 1 != len || n < 2 + CRC_LEN)
		return HM_ERR_BAD_FORMAT;
	if (hm_crc16_xmodem(body, n) != 0)
		return HM_ERR_CRC_MISMATCH;
	f->start = p[0];
	f->addr = body[0];
	f->cid = body[1];
	f->data = body + 2;
	f->data_len = n - 2 - CRC_LEN;
	return HM_ERR_OK;
}

enum hm_err hm_kmp_encode(uint8_t start, uint8_t addr, uint8_t cid, const uint8_t *data, size_t n, uint8_t *out,
                          size_t cap, size_t *out_len)
{
	uint8_t body[HM_KMP_BODY_MAX];
	size_t bn = 0, o = 0;

	*out_len = 0;
	if (n > sizeof body - 2 - CRC_LEN)
		return HM_ERR_OVERSIZE;
	body[bn++] = addr;
	body[bn++] = cid;
	if (n)
		memcpy(body + bn, data, n);
	bn += n;
	uint16_t crc = hm_crc16_xmodem(body, bn);
	body[bn++] = (uint8_t)(crc >> 8);
	body[bn++] = (uint8_t)crc;

	if (cap < 2)
		return HM_ERR_OVERSIZE;
	out[o++] = start;
	for (size_t i = 0; i < bn; i++) {
		if (o + 2 + 1 > cap) /* room for a stuffed pair and the stop byte */
			return HM_ERR_OVERSIZE;
		if (must_stuff(body[i])) {
			out[o++] = HM_KMP_ESC;
			out[o++] = (uint8_t)(body[i] ^ 0xFF);
		} else {
			out[o++] = body[i];
		}
	}
	out[o++] = HM_KMP_STOP;
	*out_len = o;
	return HM_ERR_OK;
}

enum hm_err hm_kmp_request_registers(uint8_t addr, const uint16_t *ids, size_t n, uint8_t *out, size_t cap,
                                     size_t *out_len)
{
	uint8_t data[1 + 2 * HM_KMP_REGS_MAX];

	*out_len = 0;
	if (n < 1 || n > HM_KMP_REGS_MAX)
		return HM_ERR_BAD_FORMAT;
	data[0] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		data[1 + 2 * i] = (uint8_t)(ids[i] >> 8);
		data[2 + 2 * i] = (uint8_t)ids[i];
	}
	return hm_kmp_encode(HM_KMP_START_TO_METER, addr, HM_KMP_CID_GET_REGISTER, data, 1 + 2 * n, out, cap, out_len);
}

enum hm_err hm_kmp_request(uint8_t addr, uint8_t cid, uint8_t *out, size_t cap, size_t *out_len)
{
	return hm_kmp_encode(HM_KMP_START_TO_METER, addr, cid, NULL, 0, out, cap, out_len);
}

enum hm_err hm_kmp_parse_registers(const struct hm_kmp_frame *f, struct hm_kmp_register *regs, size_t max, size_t *n)
{
	const uint8_t *p = f->data;
	size_t left = f->data_len;

	*n = 0;
	if (f->cid != HM_KMP_CID_GET_REGISTER)
		return HM_ERR_NOT_MINE;
	while (left > 0) {
		if (left < REG_HDR_LEN)
			return HM_ERR_MALFORMED_APDU;
		size_t ml = p[3];
		if (ml > MANTISSA_MAX || left < REG_HDR_LEN + ml || *n >= max)
			return HM_ERR_MALFORMED_APDU;
		uint64_t m = 0;
		for (size_t i = 0; i < ml; i++)
			m = m << 8 | p[REG_HDR_LEN + i];
		if (m > INT64_MAX)
			return HM_ERR_MALFORMED_APDU;
		uint8_t se = p[4];
		int e = se & EXPONENT_MASK;
		struct hm_kmp_register *r = &regs[(*n)++];
		r->id = (uint16_t)(p[0] << 8 | p[1]);
		r->unit = p[2];
		r->value.m = (se & SIGN_NEG_MANTISSA) ? -(int64_t)m : (int64_t)m;
		r->value.e = (int16_t)((se & SIGN_NEG_EXPONENT) ? -e : e);
		p += REG_HDR_LEN + ml;
		left -= REG_HDR_LEN + ml;
	}
	return HM_ERR_OK;
}

enum hm_err hm_kmp_parse_serial(const struct hm_kmp_frame *f, uint32_t *serial)
{
	if (f->cid != HM_KMP_CID_GET_SERIAL)
		return HM_ERR_NOT_MINE;
	if (f->data_len != 4)
		return HM_ERR_MALFORMED_APDU;
	*serial = (uint32_t)f->data[0] << 24 | (uint32_t)f->data[1] << 16 | (uint32_t)f->data[2] << 8 | f->data[3];
	return HM_ERR_OK;
}

/* KMP unit codes (Kamstrup KMP documentation, unit table). */
static const char *const unit_names[] = {
    [1] = "Wh",
    [2] = "kWh",
    [3] = "MWh",
    [4] = "GWh",
    [5] = "J",
    [6] = "kJ",
    [7] = "MJ",
    [8] = "GJ",
    [9] = "Cal",
    [10] = "kCal",
    [11] = "Mcal",
    [12] = "Gcal",
    [13] = "varh",
    [14] = "kvarh",
    [15] = "Mvarh",
    [16] = "Gvarh",
    [17] = "VAh",
    [18] = "kVAh",
    [19] = "MVAh",
    [20] = "GVAh",
    [21] = "W",
    [22] = "kW",
    [23] = "MW",
    [24] = "GW",
    [25] = "var",
    [26] = "kvar",
    [27] = "Mvar",
    [28] = "Gvar",
    [29] = "VA",
    [30] = "kVA",
    [31] = "MVA",
    [32] = "GVA",
    [33] = "V",
    [34] = "A",
    [35] = "kV",
    [36] = "kA",
    [37] = "\xc2\xb0"
           "C",
    [38] = "K",
    [39] = "l",
    [40] = "m\xc2\xb3",
    [41] = "l/h",
    [42] = "m\xc2\xb3/h",
    [44] = "ton",
    [45] = "ton/h",
    [46] = "h",
    [52] = "bar",
    [58] = "min",
    [60] = "s",
    [61] = "ms",
    [62] = "days",
};

const char *hm_kmp_unit_name(uint8_t unit)
{
	return unit < sizeof unit_names / sizeof unit_names[0] ? unit_names[unit] : NULL;
}

/* KMP unit codes by quantity: the field's own unit has shift 0; the others
 * are decimal multiples of it (value * 10^shift in the field's unit). */
struct conv {
	uint8_t unit;
	int8_t shift;
};
#define CONV_MAX 4

static const struct kmp_field {
	uint16_t reg;            /* register id */
	enum hm_num_field field; /* where it goes */
	struct conv conv[CONV_MAX];
} kmp_fields[] = {
    /* 0x003C heat energy E1: Wh, kWh, MWh, GWh -> MWh; or kJ, MJ, GJ -> GJ */
    {0x003C, HM_NUM_HEAT_ENERGY_E1_MWH, {{1, -6}, {2, -3}, {3, 0}, {4, 3}}},
    {0x003C, HM_NUM_HEAT_ENERGY_E1_GJ, {{6, -6}, {7, -3}, {8, 0}, {57, 1}}},
    {0x0050, HM_NUM_POWER_KW, {{21, -3}, {22, 0}, {23, 3}}},     /* power: W, kW, MW */
    {0x0056, HM_NUM_TEMP_FLOW_C, {{37, 0}}},                     /* t1, flow temperature */
    {0x0057, HM_NUM_TEMP_RETURN_C, {{37, 0}}},                   /* t2, return temperature */
    {0x0059, HM_NUM_TEMP_DIFF_K, {{38, 0}}},                     /* t1 - t2 */
    {0x004A, HM_NUM_FLOW_L_H, {{41, 0}, {42, 3}}},               /* flow V1: l/h, m3/h */
    {0x0044, HM_NUM_VOLUME_V1_M3, {{39, -3}, {40, 0}, {55, 1}}}, /* volume V1: l, m3, m3 x 10 */
    {0x008D, HM_NUM_MIN_FLOW_MONTH_L_H, {{41, 0}, {42, 3}}},     /* min flow this month */
    {0x008B, HM_NUM_MAX_FLOW_MONTH_L_H, {{41, 0}, {42, 3}}},     /* max flow this month */
};

unsigned hm_kmp_to_reading(const struct hm_kmp_register *regs, size_t n, struct hm_reading *r)
{
	unsigned stored = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof kmp_fields / sizeof kmp_fields[0]; k++) {
			const struct kmp_field *kf = &kmp_fields[k];
			if (kf->reg != regs[i].id)
				continue;
			for (int c = 0; c < CONV_MAX && kf->conv[c].unit; c++)
				if (kf->conv[c].unit == regs[i].unit) {
					hm_reading_set_num(r, kf->field, regs[i].value.m,
					                   regs[i].value.e + kf->conv[c].shift);
					stored++;
				}
		}
	return stored;
}
