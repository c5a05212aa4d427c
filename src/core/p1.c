/*
 * p1.c - P1/DSMR telegrams: framer, CRC check and parser (see p1.h).
 *
 * DSMR 5.0.2 6.12: CRC-16/ARC over '/' .. '!'.  Line format (IEC 62056-21
 * data sets): OBIS "A-B:C.D.E" then one or more "(...)" groups; the value
 * is the last group, "digits[.digits][*unit]".  Meter quirks handled:
 * CR LF before the '/' (Kamstrup SE), a CRC without leading zeros
 * (warmtelink "!B9F"), values without a unit (Smarty "1-0:4.7.0(00.007)"
 * is kvar), units in any case ("kVArh"), M-Bus channels on 24.2.3
 * (Fluvius) as well as 24.2.1, identifiers hex-encoded or not.
 */
#include <string.h>

#include "hanmeter/crc.h"
#include "hanmeter/p1.h"

enum { IDLE, BODY, TAIL, TAIL_CR };

#define TAIL_MAX            (HM_P1_CRC_DIGITS + 2) /* CRC digits, CR, LF */
#define GROUPS_MAX          16                     /* value groups kept per line */
#define MANTISSA_DIGITS_MAX 18                     /* fits int64 */
#define MBUS_CHANNELS       4                      /* DSMR: M-Bus channels 1..4 */

/* DLMS unit codes (IEC 62056-62) for extras. */
#define UNIT_SECOND 7
#define UNIT_M3     13
#define UNIT_J      25
#define UNIT_W      27
#define UNIT_VAR    29
#define UNIT_WH     30
#define UNIT_VARH   32
#define UNIT_A      33
#define UNIT_V      35

/* CRC digits: DSMR 5.0.2 6.12 writes them upper case, and taking only that
 * form keeps a flipped case bit ('E' -> 'e') from passing as the same CRC. */
static int crc_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The '!' that ends the data: the first one at the start of a line (a
 * ')' with one bit flipped is a '!' too, but never right after a LF). */
static const char *find_end(const char *t, size_t len)
{
	for (const char *p = t; (p = memchr(p, HM_P1_END, len - (size_t)(p - t))) != NULL; p++)
		if (p > t && p[-1] == '\n')
			return p;
	return NULL;
}

enum hm_err hm_p1_check(const char *t, size_t len, bool *has_crc)
{
	if (has_crc)
		*has_crc = false;
	if (len < 1 || t[0] != HM_P1_START)
		return HM_ERR_NOT_MINE;
	const char *bang = find_end(t, len);
	if (!bang)
		return HM_ERR_TRUNCATED;
	size_t i = (size_t)(bang - t) + 1, digits = 0;
	unsigned crc = 0;
	for (; i < len && crc_digit((unsigned char)t[i]) >= 0; i++, digits++)
		crc = crc << 4 | (unsigned)crc_digit((unsigned char)t[i]);
	if (digits > HM_P1_CRC_DIGITS)
		return HM_ERR_BAD_FORMAT;
	/* Then the line end: optional after 4 digits (nothing can follow), but
	 * needed after fewer, or a telegram cut inside its CRC would pass. */
	bool eol = false;
	if (i < len && t[i] == '\r')
		i++;
	if (i < len && t[i] == '\n') {
		i++;
		eol = true;
	}
	if (i != len)
		return HM_ERR_BAD_FORMAT;
	if (!eol && digits < HM_P1_CRC_DIGITS)
		return HM_ERR_TRUNCATED;
	if (digits == 0)
		return HM_ERR_OK;
	if (has_crc)
		*has_crc = true;
	size_t covered = (size_t)(bang - t) + 1;
	return hm_crc16_arc((const uint8_t *)t, covered) == crc ? HM_ERR_OK : HM_ERR_CRC_MISMATCH;
}

/* --- framer ------------------------------------------------------------ */

void hm_p1_init(struct hm_p1 *p)
{
	memset(p, 0, sizeof *p);
	p->state = IDLE;
}

static void reject(struct hm_p1 *p, enum hm_err err, hm_p1_cb cb, void *ctx)
{
	struct hm_p1_msg m = {.err = err};
	p->stats.errors[err]++;
	cb(ctx, &m);
	p->len = 0;
	p->state = IDLE;
}

static void complete(struct hm_p1 *p, hm_p1_cb cb, void *ctx)
{
	bool has_crc;
	enum hm_err err = hm_p1_check(p->buf, p->len, &has_crc);
	if (err == HM_ERR_OK && !has_crc && p->crc_seen)
		err = HM_ERR_CRC_MISMATCH; /* this meter sends CRCs: one went missing */
	if (err != HM_ERR_OK) {
		reject(p, err, cb, ctx);
		return;
	}
	if (has_crc)
		p->crc_seen = true;
	struct hm_p1_msg m = {.data = p->buf, .len = p->len, .has_crc = has_crc};
	p->stats.telegrams++;
	cb(ctx, &m);
	p->len = 0;
	p->state = IDLE;
}

static void start(struct hm_p1 *p)
{
	p->buf[0] = HM_P1_START;
	p->len = 1;
	p->state = BODY;
}

void hm_p1_feed(struct hm_p1 *p, const uint8_t *data, size_t len, hm_p1_cb cb, void *ctx)
{
	p->stats.bytes += len;
	for (size_t i = 0; i < len; i++) {
		char c = (char)data[i];
		switch (p->state) {
		case IDLE:
			if (c == HM_P1_START)
				start(p);
			else
				p->stats.garbage_bytes++;
			continue;
		case BODY:
			if (c == HM_P1_START) { /* the '!' line was lost: start over */
				reject(p, HM_ERR_TRUNCATED, cb, ctx);
				start(p);
				continue;
			}
			break;
		case TAIL: /* after '!': up to 4 CRC digits, then CR LF */
			if (c == '\r' || c == '\n') {
				p->buf[p->len++] = c; /* room was kept when '!' came */
				if (c == '\n')
					complete(p, cb, ctx);
				else
					p->state = TAIL_CR;
				continue;
			}
			if (crc_digit((unsigned char)c) < 0)
				break;
			p->buf[p->len++] = c;
			/* Four digits end it: some meters send no CR LF after the last telegram. */
			if (p->len - p->end - 1 == HM_P1_CRC_DIGITS)
				complete(p, cb, ctx);
			continue;
		case TAIL_CR:
			if (c == '\n') {
				p->buf[p->len++] = c;
				complete(p, cb, ctx);
				continue;
			}
			break;
		}
		if (p->state != BODY) { /* junk in the CRC line */
			reject(p, HM_ERR_BAD_FORMAT, cb, ctx);
			if (c == HM_P1_START)
				start(p);
			continue;
		}
		/* Keep room for the CRC digits and CR LF behind the '!'. */
		if (p->len + 1 + HM_P1_CRC_DIGITS + 2 > sizeof p->buf) {
			reject(p, HM_ERR_OVERSIZE, cb, ctx);
			continue;
		}
		if (c == HM_P1_END && p->buf[p->len - 1] == '\n') {
			p->end = p->len;
			p->state = TAIL;
		}
		p->buf[p->len++] = c;
	}
}

void hm_p1_flush(struct hm_p1 *p, hm_p1_cb cb, void *ctx)
{
	if (p->state != IDLE)
		reject(p, HM_ERR_TRUNCATED, cb, ctx);
}

/* --- parser ------------------------------------------------------------ */

struct span {
	const char *p;
	size_t n;
};

static bool span_ieq(struct span s, const char *lit)
{
	if (s.n != strlen(lit))
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char a = s.p[i], b = lit[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

/* "A-B:C.D.E" (optionally "*F"); returns the bytes used, 0 if not OBIS. */
static size_t parse_obis(const char *s, size_t n, uint8_t o[5])
{
	static const char sep[] = "-:..";
	size_t i = 0;
	for (int k = 0; k < 5; k++) {
		unsigned v = 0, d = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && d < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			d++;
		}
		if (d == 0 || v > 255)
			return 0;
		o[k] = (uint8_t)v;
		if (k < 4) {
			if (i >= n || s[i] != sep[k])
				return 0;
			i++;
		}
	}
	if (i < n && s[i] == '*') /* F, ignored */
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	return i;
}

/* "(...)(...)": the groups' contents.  Returns the count, -1 if malformed. */
static int parse_groups(const char *s, size_t n, struct span *g, int max)
{
	int k = 0;
	size_t i = 0;
	while (i < n) {
		if (s[i] != '(')
			return -1;
		const char *close = memchr(s + i, ')', n - i);
		if (!close)
			return -1;
		if (k < max)
			g[k++] = (struct span){s + i + 1, (size_t)(close - (s + i + 1))};
		i = (size_t)(close - s) + 1;
	}
	return k;
}

/* "0001.234*kWh" -> m, e, unit; false if not a plain decimal. */
static bool parse_number(struct span v, struct hm_num *num, struct span *unit)
{
	const char *star = memchr(v.p, '*', v.n);
	size_t n = star ? (size_t)(star - v.p) : v.n;
	*unit = star ? (struct span){star + 1, v.n - n - 1} : (struct span){v.p + v.n, 0};
	int64_t m = 0;
	int e = 0, digits = 0;
	bool neg = false, point = false;
	size_t i = 0;
	if (n > 0 && v.p[0] == '-') {
		neg = true;
		i++;
	}
	for (; i < n; i++) {
		char c = v.p[i];
		if (c == '.' && !point) {
			point = true;
			continue;
		}
		if (c < '0' || c > '9')
			return false;
		if (m == 0 && c == '0') { /* leading zeros: no significant digit yet */
			if (point)
				e--;
			continue;
		}
		if (++digits > MANTISSA_DIGITS_MAX)
			return false;
		m = m * 10 + (c - '0');
		if (point)
			e--;
	}
	if (n == 0 || n == (size_t)neg + point) /* "", "-", ".", "-." */
		return false;
	num->m = neg ? -m : m;
	num->e = (int16_t)(m == 0 ? 0 : e);
	return true;
}

/* Exponent shift from the telegram's unit to the field's, or false. */
static bool field_shift(const char *field_unit, struct span unit, int *shift)
{
	static const struct {
		const char *field, *given; /* given "" = no unit in the telegram */
		int shift;
	} conv[] = {
	    {"W", "kW", 3},        {"W", "W", 0},         {"W", "", 3},     /* DSMR: kW */
	    {"var", "kvar", 3},    {"var", "var", 0},     {"var", "", 3},   /* kvar */
	    {"kWh", "kWh", 0},     {"kWh", "Wh", -3},     {"kWh", "", 0},   /* kWh */
	    {"kvarh", "kvarh", 0}, {"kvarh", "varh", -3}, {"kvarh", "", 0}, /* kvarh */
	    {"V", "V", 0},         {"V", "", 0},          {"A", "A", 0},
	    {"A", "", 0},          {"", "", 0}, /* power factor */
	};
	for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++)
		if (strcmp(conv[i].field, field_unit) == 0 && span_ieq(unit, conv[i].given)) {
			*shift = conv[i].shift;
			return true;
		}
	return false;
}

/* A DLMS unit code and exponent shift for an extra, or false if unknown. */
static bool extra_unit(struct span unit, uint8_t *code, int *shift)
{
	static const struct {
		const char *given;
		uint8_t code;
		int shift;
	} conv[] = {
	    {"", 0, 0},           {"W", UNIT_W, 0},       {"kW", UNIT_W, 3},
	    {"var", UNIT_VAR, 0}, {"kvar", UNIT_VAR, 3},  {"Wh", UNIT_WH, 0},
	    {"kWh", UNIT_WH, 3},  {"varh", UNIT_VARH, 0}, {"kvarh", UNIT_VARH, 3},
	    {"A", UNIT_A, 0},     {"V", UNIT_V, 0},       {"s", UNIT_SECOND, 0},
	    {"m3", UNIT_M3, 0},   {"GJ", UNIT_J, 9},
	};
	for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++)
		if (span_ieq(unit, conv[i].given)) {
			*code = conv[i].code;
			*shift = conv[i].shift;
			return true;
		}
	return false;
}

/* Text that is hex-encoded printable ASCII is decoded; anything else is kept. */
static void set_id(struct hm_reading *r, enum hm_text_field f, struct span v)
{
	char out[HM_TEXT_MAX];
	size_t n = v.n / 2;
	bool hex = v.n >= 2 && v.n % 2 == 0 && n < sizeof out;
	for (size_t i = 0; hex && i < n; i++) {
		int hi = hexval((unsigned char)v.p[2 * i]), lo = hexval((unsigned char)v.p[2 * i + 1]);
		int c = hi < 0 || lo < 0 ? -1 : hi << 4 | lo; /* no shift of -1 (UB) */
		if (c < 0x20 || c > 0x7E)
			hex = false;
		else
			out[i] = (char)c;
	}
	if (hex)
		hm_reading_set_text(r, f, out, n);
	else
		hm_reading_set_text(r, f, v.p, v.n);
}

/* "YYMMDDhhmmssX" (X = S summer, W winter) -> meter_time, meter_time_dst_flag. */
static void set_time(struct hm_reading *r, struct span v)
{
	if (v.n != 13 || (v.p[12] != 'S' && v.p[12] != 'W'))
		return;
	for (int i = 0; i < 12; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return;
	const char *s = v.p;
#define D2(i) (uint8_t)((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
	struct hm_time t = {.year = (uint16_t)(2000 + D2(0)),
	                    .month = D2(2),
	                    .day = D2(4),
	                    .hour = D2(6),
	                    .min = D2(8),
	                    .sec = D2(10)}; /* local time; the S/W flag says which */
#undef D2
	hm_reading_set_time(r, HM_TEXT_METER_TIME, &t);
	hm_reading_set_text(r, HM_TEXT_METER_TIME_DST_FLAG, s + 12, 1);
}

static void set_extra(struct hm_reading *r, const uint8_t o[5], struct span v)
{
	struct hm_extra x = {.obis = {o[0], o[1], o[2], o[3], o[4], 0xFF}};
	struct span unit;
	int shift;
	if (!parse_number(v, &x.num, &unit) || !extra_unit(unit, &x.unit, &shift))
		return; /* text, timestamps, units we cannot name: not guessed at */
	if (x.num.m != 0)
		x.num.e = (int16_t)(x.num.e + shift);
	hm_reading_add_extra(r, &x);
}

static void parse_line(struct hm_reading *r, const char *s, size_t n)
{
	uint8_t o[5];
	struct span g[GROUPS_MAX];
	size_t k = parse_obis(s, n, o);
	if (k == 0)
		return; /* not a data line (DSMR 2.2/3.0 continuation lines start with '(') */
	int ng = parse_groups(s + k, n - k, g, GROUPS_MAX);
	if (ng <= 0)
		return;
	r->items++;
	struct span v = g[ng - 1];
	/* One value, or a timestamp and a value (1-0:1.6.0 peak demand); longer
	 * lines are logs (1-0:99.97.0), not a value of their own. */
	bool single = ng == 1 || (ng == 2 && g[0].n == 13);

	if (o[0] == 0 && o[1] == 0) {
		if (o[2] == 1 && o[3] == 0 && o[4] == 0)
			set_time(r, v);
		else if (o[2] == 96 && o[3] == 1 && o[4] == 1)
			set_id(r, HM_TEXT_METER_ID, v);
		else if (o[2] == 42 && o[3] == 0 && o[4] == 0)
			set_id(r, HM_TEXT_LOGICAL_DEVICE_NAME, v);
		else if (o[2] == 96 && o[3] == 1 && o[4] == 4) /* Fluvius e-MUCS version */
			hm_reading_set_text(r, HM_TEXT_P1_VERSION, v.p, v.n);
		else if (o[2] == 96 && o[3] == 14 && o[4] == 0) {
			size_t z = 0;
			while (z + 1 < v.n && v.p[z] == '0')
				z++;
			hm_reading_set_text(r, HM_TEXT_TARIFF, v.p + z, v.n - z);
		} else if (single)
			set_extra(r, o, v);
		return;
	}
	if (o[0] == 1 && o[2] == 0 && o[3] == 2 && o[4] == 8) { /* 1-3:0.2.8 DSMR version */
		hm_reading_set_text(r, HM_TEXT_P1_VERSION, v.p, v.n);
		return;
	}
	if (o[0] == 0 && o[1] >= 1 && o[1] <= MBUS_CHANNELS && o[2] == 24 && o[3] == 2 && (o[4] == 1 || o[4] == 3)) {
		struct hm_num num;
		struct span unit;
		if (!parse_number(v, &num, &unit))
			return;
		hm_reading_set_num(r, HM_NUM_MBUS_1_VALUE + (o[1] - 1), num.m, num.e);
		hm_reading_set_text(r, HM_TEXT_MBUS_1_UNIT + (o[1] - 1), unit.p, unit.n);
		return;
	}
	if (o[2] == 96 && o[3] == 1)
		return; /* identifiers of M-Bus devices (0-n:96.1.x): text, not numbers */
	int f = o[0] == 1 ? hm_num_field_by_obis(o[2], o[3], o[4]) : -1;
	if (f >= 0 && ng == 1) {
		struct hm_num num;
		struct span unit;
		int shift;
		if (parse_number(v, &num, &unit) && field_shift(hm_num_info[f].unit, unit, &shift)) {
			hm_reading_set_num(r, f, num.m, num.e + shift);
			return;
		}
	}
	if (single)
		set_extra(r, o, v);
}

enum hm_err hm_p1_parse(const char *t, size_t len, struct hm_reading *r)
{
	hm_reading_clear(r);
	enum hm_err err = hm_p1_check(t, len, NULL);
	if (err != HM_ERR_OK)
		return err;
	r->profile = "p1";
	const char *end = find_end(t, len); /* hm_p1_check found it */
	for (const char *s = t; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		size_t n = (size_t)(e - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (s == t) /* the identification line, without the '/' */
			hm_reading_set_text(r, HM_TEXT_P1_HEADER, s + 1, n - 1);
		else
			parse_line(r, s, n);
		s = nl ? nl + 1 : end;
	}
	return HM_ERR_OK;
}
