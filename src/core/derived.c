/*
 * derived.c - hourly, daily and monthly energy and the Norwegian capacity
 * tariff from a meter's cumulative registers and its own clock (derived.h).
 *
 * Time.  Nordic HAN meters stamp their hourly list with local wall-clock
 * time and (in every capture we hold) either no UTC offset or one that
 * contradicts the season (+01:00 in September, +00:00 in July), so the
 * stamp is read as CET/CEST wall time and turned into an absolute hour
 * with the EU rule (Directive 2000/84/EC: summer time from 01:00 UTC on the
 * last Sunday of March to 01:00 UTC on the last Sunday of October).  On the
 * autumn day the stamp 02:00 comes twice: the first is CEST, the second CET.
 * A second 02:00 whose registers equal the first is a retransmission (a
 * repeat), otherwise it is the second 02:00.  In spring 02:00 does not
 * exist; a meter sending it is read as CET (the same instant as 03:00 CEST).
 *
 * Gaps.  When samples are missing, the register difference spans k hours.
 * Attributing it all to the hour it closes would invent a peak k times too
 * high and push the capacity step up; dropping it would lose energy.  It is
 * spread evenly, in exact integers (the remainder to the earliest hours), so
 * day and month totals stay exact and the peaks are never overstated.
 *
 * All energies are int64 mWh (10^-6 kWh): the finest register resolution
 * the meters use is 1 Wh, a CT scale adds at most a few digits, and 2^63
 * mWh is 9.2e12 kWh.
 */
#include <errno.h>
#include <string.h>

#include "hanmeter/crc.h"
#include "hanmeter/derived.h"

#define MWH_PER_KWH 1000000 /* 10^6: our unit is 10^-6 kWh */
#define MWH_PER_WH  1000
#define STALE_MAX_H 48        /* a clock further back than this was reset, not adjusted */
#define GAP_ITER_H  (24 * 33) /* gap hours older than this lie in earlier months */
#define YEAR_MIN    2000      /* meter clocks before this are unset, not history */
#define YEAR_MAX    9999
#define MAX_KW_DEF  1000                      /* a 1 MW connection; a 3x63 A house takes 43 kW */
#define MAX_KW_CAP  1000000                   /* whatever max_kw says: 1 GW, so an hour is <= 10^12 mWh */
#define E_MAX       INT64_C(1000000000000000) /* 10^15 mWh = 1 TWh: no sum of ours gets near, none overflows */

/* Common Norwegian grid-company steps since the 2022 tariff model (kW). */
static const uint32_t default_steps_w[] = {2000, 5000, 10000, 15000, 20000, 25000, 50000, 75000, 100000};

static const char *const event_names[] = {
#define HM_DE_NAME(id, str) str,
    HM_DERIVED_EVENTS(HM_DE_NAME)
#undef HM_DE_NAME
};

const char *hm_derived_event_name(enum hm_derived_event ev)
{
	return (unsigned)ev < HM_DERIVED_EVENT_COUNT ? event_names[ev] : "unknown";
}

/* --- calendar ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1).  Years are
 * counted from March so the leap day ends the year; 400 years are 146097
 * days; 719468 is the day number of 1970-01-01 in that count. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = m > 2 ? m - 3 : m + 9; /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse, for days >= 0. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* The last Sunday of month m, in days since 1970 (1970-01-01 was a Thursday). */
static int64_t last_sunday(int y, int m)
{
	int64_t last = days_from_civil(y, m, month_days(y, m));
	int wd = (int)((last + 4) % 7); /* 0 = Sunday */
	return last - wd;
}

/* Is UTC hour u (hours since 1970) in EU summer time? */
static bool summer(int64_t u)
{
	int y, m, dd;
	civil_from_days(u / 24, &y, &m, &dd);
	return u >= last_sunday(y, 3) * 24 + 1 && u < last_sunday(y, 10) * 24 + 1;
}

/* CET/CEST offset of UTC hour u, hours. */
static int offset_h(int64_t u)
{
	return summer(u) ? 2 : 1;
}

/* The local day (days since 1970) in which UTC hour u starts. */
static int32_t local_day(int64_t u)
{
	return (int32_t)((u + offset_h(u)) / 24);
}

static bool same_month(int32_t a, int32_t b)
{
	int ya, ma, yb, mb, dd;
	civil_from_days(a, &ya, &ma, &dd);
	civil_from_days(b, &yb, &mb, &dd);
	return ya == yb && ma == mb;
}

/* --- inputs -------------------------------------------------------------- */

struct stamp {
	int y, mo, d, h, mi;
	int64_t day; /* days since 1970 of the local date */
};

static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* "YYYY-MM-DDThh:mm:ss", anything after it (an offset) ignored. */
static bool parse_stamp(const char *t, struct stamp *st)
{
	int sec;
	if (!t || strnlen(t, 19) < 19 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
		return false;
	if (!digits(t, 4, &st->y) || !digits(t + 5, 2, &st->mo) || !digits(t + 8, 2, &st->d) ||
	    !digits(t + 11, 2, &st->h) || !digits(t + 14, 2, &st->mi) || !digits(t + 17, 2, &sec))
		return false;
	if (st->y < YEAR_MIN || st->y > YEAR_MAX || st->mo < 1 || st->mo > 12 || st->d < 1 ||
	    st->d > month_days(st->y, st->mo) || st->h > 23 || st->mi > 59 || sec > 60)
		return false;
	st->day = days_from_civil(st->y, st->mo, st->d);
	return true;
}

/* kWh as an exact decimal to mWh; false if negative, finer than 1 mWh or too big. */
static bool to_mwh(struct hm_num v, int64_t *out)
{
	int e = v.e + 6; /* MWH_PER_KWH = 10^6 */
	int64_t m = v.m;
	if (m < 0)
		return false;
	for (; e > 0; e--)
		if (__builtin_mul_overflow(m, 10, &m))
			return false;
	for (; e < 0; e++) {
		if (m % 10)
			return false;
		m /= 10;
	}
	*out = m;
	return true;
}

/* --- state --------------------------------------------------------------- */

static void clear_month(struct hm_derived *d)
{
	d->month = (struct hm_derived_pair){0, 0};
	d->hours_month = d->estimated_month = 0;
	for (int i = 0; i < HM_DERIVED_DAYS; i++)
		d->day_max_mwh[i] = -1;
}

void hm_derived_init(struct hm_derived *d)
{
	memset(d, 0, sizeof *d);
	d->n_steps = sizeof default_steps_w / sizeof default_steps_w[0];
	memcpy(d->step_w, default_steps_w, sizeof default_steps_w);
	d->max_kw = MAX_KW_DEF;
	d->day = -1;
	clear_month(d);
}

int hm_derived_set_steps(struct hm_derived *d, const uint32_t *step_w, unsigned n)
{
	if (n < 1 || n > HM_DERIVED_STEPS_MAX)
		return -EINVAL;
	for (unsigned i = 1; i < n; i++)
		if (step_w[i] <= step_w[i - 1])
			return -EINVAL;
	memcpy(d->step_w, step_w, n * sizeof *step_w);
	d->n_steps = n;
	return 0;
}

/* Makes local day `day` the current one: a new day starts at zero, a new
 * month too, with no peaks. */
static void roll(struct hm_derived *d, int32_t day)
{
	if (day == d->day)
		return;
	bool next = d->day >= 0 && day == d->day + 1; /* else there is no "yesterday" */
	d->yesterday = next ? d->today : (struct hm_derived_pair){0, 0};
	d->hours_yesterday = next ? d->hours_today : 0;
	if (d->day < 0 || !same_month(day, d->day)) {
		int y, m, dd, py, pm;
		civil_from_days(day, &y, &m, &dd);
		civil_from_days(d->day < 0 ? 0 : d->day, &py, &pm, &dd);
		next = d->day >= 0 && (py * 12 + pm) + 1 == y * 12 + m;
		int64_t top[3];
		unsigned n = next ? hm_derived_top3(d, top, NULL) : 0;
		d->last_month = next ? d->month : (struct hm_derived_pair){0, 0};
		d->hours_last_month = next ? d->hours_month : 0;
		d->last_month_top_mwh = 0;
		for (unsigned i = 0; i < n; i++)
			d->last_month_top_mwh += top[i];
		d->last_month_top_n = (uint8_t)n;
		clear_month(d);
	}
	d->today = (struct hm_derived_pair){0, 0};
	d->hours_today = 0;
	d->day = day;
}

/* Attributes one hour starting at UTC hour u. */
static void attribute(struct hm_derived *d, int64_t u, struct hm_derived_pair e, bool estimated)
{
	int32_t day = local_day(u);
	int y, m, dom;
	if (day < d->day) /* cannot happen: hours only move forward */
		return;
	roll(d, day);
	civil_from_days(day, &y, &m, &dom);
	d->today.import_mwh += e.import_mwh;
	d->today.export_mwh += e.export_mwh;
	d->month.import_mwh += e.import_mwh;
	d->month.export_mwh += e.export_mwh;
	d->hours_today++;
	d->hours_month++;
	if (estimated)
		d->estimated_month++;
	if (e.import_mwh > d->day_max_mwh[dom - 1])
		d->day_max_mwh[dom - 1] = e.import_mwh;
	d->have_last = true;
	d->last_hour = u;
	d->last = e;
	d->last_estimated = estimated;
}

/* Share i (0-based) of total spread over k hours: whole Wh where the total
 * is whole Wh, the remainder units to the earliest hours. */
static int64_t share(int64_t total, int64_t k, int64_t i)
{
	int64_t unit = total % MWH_PER_WH == 0 ? MWH_PER_WH : 1;
	int64_t n = total / unit;
	return (n / k + (i < n % k)) * unit;
}

static void set_base(struct hm_derived *d, int64_t u, struct hm_derived_pair regs, int32_t day)
{
	d->have_base = true;
	d->base_hour = u;
	d->base = regs;
	roll(d, day);
}

/* The absolute hour of a local stamp (see the top of the file). */
static int64_t utc_hour(const struct hm_derived *d, const struct stamp *st, struct hm_derived_pair regs)
{
	int64_t lh = st->day * 24 + st->h;
	int64_t cest = lh - 2, cet = lh - 1;
	bool cest_ok = summer(cest), cet_ok = !summer(cet);
	if (cest_ok && cet_ok) { /* autumn, 02:xx: the first or the second? */
		bool same =
		    d->have_base && d->base.import_mwh == regs.import_mwh && d->base.export_mwh == regs.export_mwh;
		if (d->have_base && (d->base_hour > cest || (d->base_hour == cest && !same)))
			return cet;
		return cest;
	}
	return cest_ok ? cest : cet; /* neither (spring 02:xx): CET */
}

enum hm_derived_event hm_derived_feed(struct hm_derived *d, const char *meter_time, struct hm_num import,
                                      const struct hm_num *export, const char *meter_id)
{
	struct stamp st;
	struct hm_derived_pair regs = {0, 0};
	if (!parse_stamp(meter_time, &st) || !to_mwh(import, &regs.import_mwh) ||
	    (export && !to_mwh(*export, &regs.export_mwh))) {
		d->bad++;
		return HM_DERIVED_BAD_SAMPLE;
	}
	if (st.mi != 0)
		return HM_DERIVED_NOT_HOURLY;
	if (!export) /* no export register: nothing flows that way */
		regs.export_mwh = d->have_base ? d->base.export_mwh : 0;
	else if (!d->has_export && d->have_base) /* export appears: its baseline starts now */
		d->base.export_mwh = regs.export_mwh;
	d->has_export = d->has_export || export;

	int64_t u = utc_hour(d, &st, regs);
	int32_t day = (int32_t)st.day;

	char id[sizeof d->meter_id] = "";
	if (meter_id) { /* as stored: one line of the state file, at most HM_TEXT_MAX - 1 */
		size_t n = strnlen(meter_id, sizeof id - 1);
		for (size_t i = 0; i < n; i++)
			id[i] = (unsigned char)meter_id[i] < 0x20 ? '?' : meter_id[i];
		id[n] = 0;
	}
	if (id[0] && strcmp(id, d->meter_id) != 0) {
		bool known = d->meter_id[0] != 0;
		memcpy(d->meter_id, id, sizeof id);
		if (known && d->have_base) {
			d->resets++;
			set_base(d, u, regs, day);
			return HM_DERIVED_METER_CHANGED;
		}
	}
	if (!d->have_base) {
		d->samples++;
		set_base(d, u, regs, day);
		return HM_DERIVED_BASELINE;
	}
	if (u == d->base_hour) {
		d->repeats++;
		return HM_DERIVED_REPEAT;
	}
	if (u < d->base_hour) {
		if (d->base_hour - u <= STALE_MAX_H) {
			d->stale++;
			return HM_DERIVED_STALE;
		}
		/* The clock was reset: the figures of "today" and "this month"
		 * would mix two time lines.  Start again; keep the counters. */
		d->resets++;
		d->day = -1;
		d->have_last = false;
		clear_month(d);
		set_base(d, u, regs, day);
		return HM_DERIVED_CLOCK_JUMP;
	}

	struct hm_derived_pair diff = {regs.import_mwh - d->base.import_mwh, regs.export_mwh - d->base.export_mwh};
	int64_t k = u - d->base_hour;
	if (diff.import_mwh < 0 || diff.export_mwh < 0) {
		d->resets++;
		set_base(d, u, regs, day);
		return HM_DERIVED_BACKWARDS;
	}
	int64_t limit = (int64_t)(d->max_kw < MAX_KW_CAP ? d->max_kw : MAX_KW_CAP) * MWH_PER_KWH; /* mWh per hour */
	if (diff.import_mwh / k > limit || diff.export_mwh / k > limit) {
		d->resets++;
		set_base(d, u, regs, day);
		return HM_DERIVED_IMPLAUSIBLE;
	}

	/* Hours further back than GAP_ITER_H belong to earlier months, whose
	 * figures are gone: skipping them changes nothing we keep. */
	int64_t first = k > GAP_ITER_H ? k - GAP_ITER_H : 0;
	for (int64_t i = first; i < k; i++) {
		struct hm_derived_pair e = {share(diff.import_mwh, k, i), share(diff.export_mwh, k, i)};
		attribute(d, d->base_hour + i, e, k > 1);
	}
	if (k > 1)
		d->gap_hours += (uint64_t)k;
	d->samples++;
	set_base(d, u, regs, day);
	return k > 1 ? HM_DERIVED_GAP : HM_DERIVED_HOUR;
}

/* The import total of a reading: the total register, else the tariff sum. */
static bool reading_energy(const struct hm_reading *r, enum hm_num_field total, enum hm_num_field t1,
                           enum hm_num_field t2, struct hm_num *out)
{
	if (hm_reading_has_num(r, total)) {
		*out = r->num[total];
		return true;
	}
	if (!hm_reading_has_num(r, t1) || !hm_reading_has_num(r, t2))
		return false;
	struct hm_num a = r->num[t1], b = r->num[t2];
	while (a.e > b.e) { /* bring both to the finer exponent */
		if (__builtin_mul_overflow(a.m, 10, &a.m))
			return false;
		a.e--;
	}
	while (b.e > a.e) {
		if (__builtin_mul_overflow(b.m, 10, &b.m))
			return false;
		b.e--;
	}
	if (__builtin_add_overflow(a.m, b.m, &out->m))
		return false;
	out->e = a.e;
	return true;
}

bool hm_derived_update(struct hm_derived *d, const struct hm_reading *r, enum hm_derived_event *ev)
{
	struct hm_num imp, exp;
	enum hm_derived_event e = HM_DERIVED_NONE;
	char t[HM_TEXT_MAX];
	const char *when = hm_reading_text(r, HM_TEXT_METER_TIME, t);
	if (when && reading_energy(r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, HM_NUM_ACTIVE_ENERGY_IMPORT_T1_KWH,
	                           HM_NUM_ACTIVE_ENERGY_IMPORT_T2_KWH, &imp)) {
		bool has_exp = reading_energy(r, HM_NUM_ACTIVE_ENERGY_EXPORT_KWH, HM_NUM_ACTIVE_ENERGY_EXPORT_T1_KWH,
		                              HM_NUM_ACTIVE_ENERGY_EXPORT_T2_KWH, &exp);
		const char *id = hm_reading_has_text(r, HM_TEXT_METER_ID) ? r->text[HM_TEXT_METER_ID] : NULL;
		e = hm_derived_feed(d, when, imp, has_exp ? &exp : NULL, id);
	}
	if (ev)
		*ev = e;
	switch (e) {
	case HM_DERIVED_BASELINE:
	case HM_DERIVED_HOUR:
	case HM_DERIVED_GAP:
	case HM_DERIVED_BACKWARDS:
	case HM_DERIVED_IMPLAUSIBLE:
	case HM_DERIVED_METER_CHANGED:
	case HM_DERIVED_CLOCK_JUMP: return true;
	default: return false;
	}
}

/* --- capacity tariff ----------------------------------------------------- */

unsigned hm_derived_top3(const struct hm_derived *d, int64_t top[3], unsigned dom[3])
{
	int64_t t[3] = {-1, -1, -1};
	unsigned n = 0, dd[3] = {0, 0, 0};
	if (d->day < 0)
		return 0;
	for (unsigned i = 0; i < HM_DERIVED_DAYS; i++) {
		int64_t v = d->day_max_mwh[i];
		if (v < 0)
			continue;
		/* into the sorted three; on a tie the earlier day stays ahead */
		unsigned j;
		if (n < 3)
			j = n++;
		else if (v > t[2])
			j = 2;
		else
			continue;
		for (; j > 0 && t[j - 1] < v; j--) {
			t[j] = t[j - 1];
			dd[j] = dd[j - 1];
		}
		t[j] = v;
		dd[j] = i + 1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (top)
			top[i] = t[i];
		if (dom)
			dom[i] = dd[i];
	}
	return n;
}

/* Step of a mean given as the sum of n peaks (mWh = mW over one hour):
 * mean <= threshold, compared exactly as sum <= threshold * n in mW. */
static unsigned step_of(const struct hm_derived *d, int64_t sum, unsigned n)
{
	for (unsigned i = 0; i < d->n_steps; i++)
		if (sum <= (int64_t)d->step_w[i] * 1000 * (int64_t)n)
			return i + 1;
	return d->n_steps + 1;
}

int64_t hm_derived_mean_mwh(const struct hm_derived *d)
{
	int64_t top[3], sum = 0;
	unsigned n = hm_derived_top3(d, top, NULL);
	if (n == 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		sum += top[i];
	return (sum + n / 2) / n; /* sum >= 0 */
}

unsigned hm_derived_step(const struct hm_derived *d)
{
	int64_t top[3], sum = 0;
	unsigned n = hm_derived_top3(d, top, NULL);
	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++)
		sum += top[i];
	return step_of(d, sum, n);
}

/* --- output -------------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_i64(struct out *o, int64_t v)
{
	char tmp[24];
	int n = hm_num_format((struct hm_num){v, 0}, tmp, sizeof tmp);
	put(o, tmp, (size_t)n);
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[sizeof tmp - 1 - (size_t)n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + sizeof tmp - (size_t)n, (size_t)n);
}

/* mWh as kWh ("1.5"). */
static void put_kwh(struct out *o, int64_t mwh)
{
	char tmp[32];
	int n = hm_num_format((struct hm_num){mwh, -6}, tmp, sizeof tmp);
	put(o, tmp, (size_t)n);
}

static void put_2(struct out *o, int v)
{
	char tmp[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
	put(o, tmp, 2);
}

static void key(struct out *o, const char *k)
{
	if (o->len)
		put(o, ",", 1);
	put(o, "\"", 1);
	puts_(o, k);
	put(o, "\":", 2);
}

static void key_kwh(struct out *o, const char *k, int64_t mwh)
{
	key(o, k);
	put_kwh(o, mwh);
}

static void key_u64(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	put_u64(o, v);
}

int hm_derived_json(const struct hm_derived *d, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, cap == 0};
	if (cap)
		buf[0] = 0;
	if (d->have_last) {
		int64_t local = d->last_hour + offset_h(d->last_hour);
		int y, m, dom;
		civil_from_days(local / 24, &y, &m, &dom);
		key_kwh(&o, "energy_import_last_hour_kwh", d->last.import_mwh);
		if (d->has_export)
			key_kwh(&o, "energy_export_last_hour_kwh", d->last.export_mwh);
		key(&o, "last_hour_start");
		put(&o, "\"", 1);
		put_i64(&o, y);
		put(&o, "-", 1);
		put_2(&o, m);
		put(&o, "-", 1);
		put_2(&o, dom);
		put(&o, "T", 1);
		put_2(&o, (int)(local % 24));
		puts_(&o, offset_h(d->last_hour) == 2 ? ":00:00+02:00\"" : ":00:00+01:00\"");
		key(&o, "last_hour_estimated");
		puts_(&o, d->last_estimated ? "true" : "false");
	}
	if (d->day >= 0) {
		key_kwh(&o, "energy_import_today_kwh", d->today.import_mwh);
		key_kwh(&o, "energy_import_month_kwh", d->month.import_mwh);
		if (d->has_export) {
			key_kwh(&o, "energy_export_today_kwh", d->today.export_mwh);
			key_kwh(&o, "energy_export_month_kwh", d->month.export_mwh);
		}
		key_u64(&o, "hours_today", d->hours_today);
		key_u64(&o, "hours_month", d->hours_month);
		key_u64(&o, "hours_estimated_month", d->estimated_month);
	}
	int64_t top[3];
	unsigned dom[3];
	unsigned n = hm_derived_top3(d, top, dom);
	if (n) {
		key_kwh(&o, "capacity_tariff_mean_kw", hm_derived_mean_mwh(d));
		key_u64(&o, "capacity_tariff_step", hm_derived_step(d));
		key(&o, "capacity_top3_kwh");
		for (unsigned i = 0; i < n; i++) {
			put(&o, i ? "," : "[", 1);
			put_kwh(&o, top[i]);
		}
		put(&o, "]", 1);
		key(&o, "capacity_top3_days");
		for (unsigned i = 0; i < n; i++) {
			put(&o, i ? "," : "[", 1);
			put_u64(&o, dom[i]);
		}
		put(&o, "]", 1);
	}
	if (d->hours_yesterday) {
		key_kwh(&o, "energy_import_yesterday_kwh", d->yesterday.import_mwh);
		if (d->has_export)
			key_kwh(&o, "energy_export_yesterday_kwh", d->yesterday.export_mwh);
		key_u64(&o, "hours_yesterday", d->hours_yesterday);
	}
	if (d->hours_last_month) {
		key_kwh(&o, "energy_import_last_month_kwh", d->last_month.import_mwh);
		if (d->has_export)
			key_kwh(&o, "energy_export_last_month_kwh", d->last_month.export_mwh);
		key_u64(&o, "hours_last_month", d->hours_last_month);
	}
	if (d->last_month_top_n) {
		unsigned ln = d->last_month_top_n;
		key_kwh(&o, "capacity_tariff_last_month_mean_kw", (d->last_month_top_mwh + ln / 2) / ln);
		key_u64(&o, "capacity_tariff_last_month_step", step_of(d, d->last_month_top_mwh, ln));
	}
	key_u64(&o, "derived_repeats", d->repeats);
	key_u64(&o, "derived_stale", d->stale);
	key_u64(&o, "derived_resets", d->resets);
	key_u64(&o, "derived_bad", d->bad);
	key_u64(&o, "derived_gap_hours", d->gap_hours);
	return o.overflow ? -1 : (int)o.len;
}

/* --- state file text -------------------------------------------------------
 *
 *   hanmeter-derived 1
 *   base HOUR IMPORT EXPORT          hours since 1970 (UTC), mWh, mWh
 *   export 0|1
 *   meter_id TEXT                    the rest of the line (absent: none)
 *   day DAY IMPORT EXPORT HOURS      local day since 1970 (-1: none), today's sums
 *   month IMPORT EXPORT HOURS ESTIMATED
 *   max V1 ... V31                   largest hourly import per day of month (-1: none)
 *   yesterday IMPORT EXPORT HOURS    the day before (HOURS 0: none)
 *   last_month IMPORT EXPORT HOURS TOP_SUM TOP_N
 *   last HOUR IMPORT EXPORT 0|1      the last closed hour (absent: none)
 *   count SAMPLES REPEATS STALE RESETS BAD GAP_HOURS
 *   crc XXXX                         CRC-16/X.25 of every byte before this line
 *
 * Lines in this order, each ending in LF; the crc line is the trailer, so a
 * truncated file fails either the trailer or the checksum.
 */
#define STATE_MAGIC "hanmeter-derived 1\n"
#define STATE_NAME  "hanmeter-derived "

int hm_derived_save(const struct hm_derived *d, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, cap == 0};
	puts_(&o, STATE_MAGIC);
	if (d->have_base) {
		puts_(&o, "base ");
		put_i64(&o, d->base_hour);
		put(&o, " ", 1);
		put_i64(&o, d->base.import_mwh);
		put(&o, " ", 1);
		put_i64(&o, d->base.export_mwh);
		put(&o, "\n", 1);
	}
	puts_(&o, d->has_export ? "export 1\n" : "export 0\n");
	if (d->meter_id[0]) {
		puts_(&o, "meter_id ");
		puts_(&o, d->meter_id);
		put(&o, "\n", 1);
	}
	puts_(&o, "day ");
	put_i64(&o, d->day);
	put(&o, " ", 1);
	put_i64(&o, d->today.import_mwh);
	put(&o, " ", 1);
	put_i64(&o, d->today.export_mwh);
	put(&o, " ", 1);
	put_u64(&o, d->hours_today);
	puts_(&o, "\nmonth ");
	put_i64(&o, d->month.import_mwh);
	put(&o, " ", 1);
	put_i64(&o, d->month.export_mwh);
	put(&o, " ", 1);
	put_u64(&o, d->hours_month);
	put(&o, " ", 1);
	put_u64(&o, d->estimated_month);
	puts_(&o, "\nmax");
	for (int i = 0; i < HM_DERIVED_DAYS; i++) {
		put(&o, " ", 1);
		put_i64(&o, d->day_max_mwh[i]);
	}
	puts_(&o, "\nyesterday ");
	put_i64(&o, d->yesterday.import_mwh);
	put(&o, " ", 1);
	put_i64(&o, d->yesterday.export_mwh);
	put(&o, " ", 1);
	put_u64(&o, d->hours_yesterday);
	puts_(&o, "\nlast_month ");
	put_i64(&o, d->last_month.import_mwh);
	put(&o, " ", 1);
	put_i64(&o, d->last_month.export_mwh);
	put(&o, " ", 1);
	put_u64(&o, d->hours_last_month);
	put(&o, " ", 1);
	put_i64(&o, d->last_month_top_mwh);
	put(&o, " ", 1);
	put_u64(&o, d->last_month_top_n);
	put(&o, "\n", 1);
	if (d->have_last) {
		puts_(&o, "last ");
		put_i64(&o, d->last_hour);
		put(&o, " ", 1);
		put_i64(&o, d->last.import_mwh);
		put(&o, " ", 1);
		put_i64(&o, d->last.export_mwh);
		puts_(&o, d->last_estimated ? " 1\n" : " 0\n");
	}
	puts_(&o, "count ");
	const uint64_t c[] = {d->samples, d->repeats, d->stale, d->resets, d->bad, d->gap_hours};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		if (i)
			put(&o, " ", 1);
		put_u64(&o, c[i]);
	}
	put(&o, "\n", 1);
	if (o.overflow)
		return -1;
	static const char hex[] = "0123456789ABCDEF";
	uint16_t crc = hm_crc16_x25((const uint8_t *)buf, o.len);
	char tr[] = {'c', 'r', 'c', ' ', hex[crc >> 12], hex[crc >> 8 & 15], hex[crc >> 4 & 15], hex[crc & 15], '\n'};
	put(&o, tr, sizeof tr);
	return o.overflow ? -1 : (int)o.len;
}

/* A cursor over one line of the state text. */
struct line {
	const char *p, *end; /* the rest of the line, without its LF */
};

/* Takes the next line starting with word + ' ' (or word alone at the end of
 * the line when word ends in nothing to follow); false if it is not next. */
static bool take_line(const char **p, const char *end, const char *word, struct line *l)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t w = strlen(word);
	if (!nl || (size_t)(nl - *p) < w + 1 || memcmp(*p, word, w) != 0 || (*p)[w] != ' ')
		return false;
	l->p = *p + w + 1;
	l->end = nl;
	*p = nl + 1;
	return true;
}

/* One decimal integer, then a space or the end of the line. */
static bool take_i64(struct line *l, int64_t min, int64_t max, int64_t *v)
{
	const char *s = l->p;
	bool neg = s < l->end && *s == '-';
	s += neg;
	if (s >= l->end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < l->end && s[1] != ' '))
		return false;
	uint64_t m = 0;
	for (; s < l->end && *s >= '0' && *s <= '9'; s++) {
		if (m > (UINT64_MAX - 9) / 10)
			return false;
		m = m * 10 + (uint64_t)(*s - '0');
	}
	if (m > (uint64_t)INT64_MAX)
		return false;
	int64_t x = neg ? -(int64_t)m : (int64_t)m;
	if (x < min || x > max || (neg && m == 0))
		return false;
	if (s < l->end) {
		if (*s != ' ' || s + 1 >= l->end)
			return false;
		s++;
	}
	l->p = s;
	*v = x;
	return true;
}

static bool take_u64(struct line *l, uint64_t *v)
{
	const char *s = l->p;
	if (s >= l->end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < l->end && s[1] != ' '))
		return false;
	uint64_t m = 0;
	for (; s < l->end && *s >= '0' && *s <= '9'; s++) {
		if (m > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		m = m * 10 + (uint64_t)(*s - '0');
	}
	if (s < l->end) {
		if (*s != ' ' || s + 1 >= l->end)
			return false;
		s++;
	}
	l->p = s;
	*v = m;
	return true;
}

static bool line_done(const struct line *l)
{
	return l->p == l->end;
}

#define HOUR_MAX        ((int64_t)(YEAR_MAX + 1 - 1970) * 366 * 24) /* beyond any stamp we accept */
#define DAY_MAX         ((int64_t)(YEAR_MAX + 1 - 1970) * 366)
#define HOURS_MONTH_MAX (31 * 24 + 1) /* 31 days, one of them 25 hours long */

int hm_derived_load(struct hm_derived *d, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	struct line l;
	int64_t v[5];
	uint64_t u[6];
	struct hm_derived n = *d; /* configuration kept, state replaced */

	if (len < sizeof STATE_MAGIC - 1 || memcmp(text, STATE_MAGIC, sizeof STATE_MAGIC - 1) != 0)
		return len >= sizeof STATE_NAME - 1 && memcmp(text, STATE_NAME, sizeof STATE_NAME - 1) == 0 ? -ENOTSUP
		                                                                                            : -EINVAL;
	/* The trailer: the last line is "crc XXXX", over all bytes before it. */
	if (len < 10 || text[len - 1] != '\n' || memcmp(end - 9, "crc ", 4) != 0 || end[-10] != '\n')
		return -EINVAL;
	uint16_t want = 0;
	for (int i = 0; i < 4; i++) {
		char c = end[-5 + i];
		int x = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (x < 0)
			return -EINVAL;
		want = (uint16_t)(want << 4 | x);
	}
	if (hm_crc16_x25((const uint8_t *)text, len - 9) != want)
		return -EINVAL;
	end -= 9;
	p += sizeof STATE_MAGIC - 1;

	n.have_base = take_line(&p, end, "base", &l);
	if (n.have_base) {
		if (!take_i64(&l, 0, HOUR_MAX, &v[0]) || !take_i64(&l, 0, INT64_MAX, &v[1]) ||
		    !take_i64(&l, 0, INT64_MAX, &v[2]) || !line_done(&l))
			return -EINVAL;
		n.base_hour = v[0];
		n.base = (struct hm_derived_pair){v[1], v[2]};
	} else {
		n.base_hour = 0;
		n.base = (struct hm_derived_pair){0, 0};
	}
	if (!take_line(&p, end, "export", &l) || !take_i64(&l, 0, 1, &v[0]) || !line_done(&l))
		return -EINVAL;
	n.has_export = v[0];
	n.meter_id[0] = 0;
	if (take_line(&p, end, "meter_id", &l)) {
		size_t idlen = (size_t)(l.end - l.p);
		if (idlen == 0 || idlen >= sizeof n.meter_id || memchr(l.p, 0, idlen))
			return -EINVAL;
		memcpy(n.meter_id, l.p, idlen);
		n.meter_id[idlen] = 0;
	}
	if (!take_line(&p, end, "day", &l) || !take_i64(&l, -1, DAY_MAX, &v[0]) || !take_i64(&l, 0, E_MAX, &v[1]) ||
	    !take_i64(&l, 0, E_MAX, &v[2]) || !take_i64(&l, 0, 25, &v[3]) || !line_done(&l))
		return -EINVAL;
	n.day = (int32_t)v[0];
	n.today = (struct hm_derived_pair){v[1], v[2]};
	n.hours_today = (uint16_t)v[3];
	if (!take_line(&p, end, "month", &l) || !take_i64(&l, 0, E_MAX, &v[0]) || !take_i64(&l, 0, E_MAX, &v[1]) ||
	    !take_i64(&l, 0, HOURS_MONTH_MAX, &v[2]) || !take_i64(&l, 0, v[2], &v[3]) || !line_done(&l))
		return -EINVAL;
	n.month = (struct hm_derived_pair){v[0], v[1]};
	n.hours_month = (uint16_t)v[2];
	n.estimated_month = (uint16_t)v[3];
	if (!take_line(&p, end, "max", &l))
		return -EINVAL;
	for (int i = 0; i < HM_DERIVED_DAYS; i++)
		if (!take_i64(&l, -1, E_MAX, &n.day_max_mwh[i]))
			return -EINVAL;
	if (!line_done(&l))
		return -EINVAL;
	if (!take_line(&p, end, "yesterday", &l) || !take_i64(&l, 0, E_MAX, &v[0]) || !take_i64(&l, 0, E_MAX, &v[1]) ||
	    !take_i64(&l, 0, 25, &v[2]) || !line_done(&l))
		return -EINVAL;
	n.yesterday = (struct hm_derived_pair){v[0], v[1]};
	n.hours_yesterday = (uint16_t)v[2];
	if (!take_line(&p, end, "last_month", &l) || !take_i64(&l, 0, E_MAX, &v[0]) || !take_i64(&l, 0, E_MAX, &v[1]) ||
	    !take_i64(&l, 0, HOURS_MONTH_MAX, &v[2]) || !take_i64(&l, 0, 3 * E_MAX, &v[3]) ||
	    !take_i64(&l, 0, 3, &v[4]) || !line_done(&l))
		return -EINVAL;
	n.last_month = (struct hm_derived_pair){v[0], v[1]};
	n.hours_last_month = (uint16_t)v[2];
	n.last_month_top_mwh = v[3];
	n.last_month_top_n = (uint8_t)v[4];
	n.have_last = take_line(&p, end, "last", &l);
	if (n.have_last) {
		if (!take_i64(&l, 0, HOUR_MAX, &v[0]) || !take_i64(&l, 0, E_MAX, &v[1]) ||
		    !take_i64(&l, 0, E_MAX, &v[2]) || !take_i64(&l, 0, 1, &v[3]) || !line_done(&l))
			return -EINVAL;
		n.last_hour = v[0];
		n.last = (struct hm_derived_pair){v[1], v[2]};
		n.last_estimated = v[3];
	} else {
		n.last_hour = 0;
		n.last = (struct hm_derived_pair){0, 0};
		n.last_estimated = false;
	}
	if (!take_line(&p, end, "count", &l))
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		if (!take_u64(&l, &u[i]))
			return -EINVAL;
	if (!line_done(&l) || p != end)
		return -EINVAL;
	n.samples = u[0];
	n.repeats = u[1];
	n.stale = u[2];
	n.resets = u[3];
	n.bad = u[4];
	n.gap_hours = u[5];

	/* Consistency: sums within the month, no day without a date. */
	if (n.today.import_mwh > n.month.import_mwh || n.today.export_mwh > n.month.export_mwh ||
	    n.hours_today > n.hours_month)
		return -EINVAL;
	if (n.day < 0 && (n.hours_month || n.month.import_mwh || n.month.export_mwh))
		return -EINVAL;
	*d = n;
	return 0;
}
