/*
 * test_derived.c - derived figures (hourly, daily, monthly energy, capacity
 * tariff) over accelerated months of hourly lists, and the state text.
 *
 * SYNTHETIC: every sample here is built by the test, not captured.  The
 * generator walks the meter's wall clock hour by hour; the DST days of 2026
 * are written down by hand (last Sundays: 2026-03-29 and 2026-10-25, from
 * 2026-01-01 being a Thursday), not computed by derived.c's calendar.  The
 * hour starting at wall-clock label (day D, hour H, occurrence O: 1 for the
 * second 02:00 of the autumn day) uses
 *
 *     import = 1000 + 10 D + 100 H + 5 O  Wh,    export = D + H  Wh
 *
 * so a normal day imports 24 (1000 + 10 D) + 100 (0 + ... + 23) =
 * 51600 + 240 D Wh and exports 24 D + 276 Wh; the spring day lacks H = 2,
 * the autumn day has it twice (the second time 5 Wh more).  Each day's peak
 * is its 23:00 hour, 3300 + 10 D Wh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/crc.h"
#include "hanmeter/derived.h"
#include "jsoncheck.h"

#define WH INT64_C(1000) /* mWh per Wh */

enum day_kind { NORMAL, SPRING, AUTUMN };

/* meter_time 2026-06-01Thh:00:ss, as a list's clock. */
static void set_clock(struct hm_reading *r, int hour, int sec)
{
	struct hm_time t = {.year = 2026, .month = 6, .day = 1, .hour = (uint8_t)hour, .sec = (uint8_t)sec};
	hm_reading_set_time(r, HM_TEXT_METER_TIME, &t);
}

static enum day_kind kind_of(int m, int d)
{
	if (m == 3 && d == 29)
		return SPRING;
	if (m == 10 && d == 25)
		return AUTUMN;
	return NORMAL;
}

static int month_len(int m)
{
	static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}; /* 2026: no leap year */
	return n[m - 1];
}

/* Closed forms (Wh) of one whole day. */
static int64_t day_import(int m, int d)
{
	int64_t v = 51600 + 240 * (int64_t)d;
	switch (kind_of(m, d)) {
	case SPRING: return v - (1000 + 10 * d + 200);
	case AUTUMN: return v + (1000 + 10 * d + 200 + 5);
	default: return v;
	}
}

static int64_t day_export(int m, int d)
{
	int64_t v = 24 * (int64_t)d + 276;
	switch (kind_of(m, d)) {
	case SPRING: return v - (d + 2);
	case AUTUMN: return v + (d + 2);
	default: return v;
	}
}

static int day_hours(int m, int d)
{
	return kind_of(m, d) == SPRING ? 23 : kind_of(m, d) == AUTUMN ? 25 : 24;
}

/* A wall-clock hour label. */
struct label {
	int m, d, h, occ;
};

static struct label next_label(struct label l)
{
	if (kind_of(l.m, l.d) == AUTUMN && l.h == 2 && l.occ == 0)
		return (struct label){l.m, l.d, 2, 1};
	l.occ = 0;
	if (++l.h == 2 && kind_of(l.m, l.d) == SPRING)
		l.h = 3;
	if (l.h == 24) {
		l.h = 0;
		if (++l.d > month_len(l.m)) {
			l.d = 1;
			l.m++;
		}
	}
	return l;
}

static int64_t c_import(struct label l)
{
	return 1000 + 10 * l.d + 100 * l.h + 5 * l.occ;
}

static int64_t c_export(struct label l)
{
	return l.d + l.h;
}

static void stamp(struct label l, char *buf, size_t cap)
{
	snprintf(buf, cap, "2026-%02d-%02dT%02d:00:05", l.m, l.d, l.h);
}

/* The meter: its registers in Wh. */
struct meter {
	int64_t imp_wh, exp_wh;
};

static enum hm_derived_event feed(struct hm_derived *d, struct label at, const struct meter *mt)
{
	char t[32];
	stamp(at, t, sizeof t);
	struct hm_num imp = {mt->imp_wh, -3}, exp = {mt->exp_wh, -3};
	return hm_derived_feed(d, t, imp, &exp, "7359992895913195");
}

/* Members as a JSON object, checked for validity. */
static const char *json(const struct hm_derived *d)
{
	static char buf[HM_DERIVED_JSON_MAX + 2];
	buf[0] = '{';
	int n = hm_derived_json(d, buf + 1, HM_DERIVED_JSON_MAX);
	assert_true(n > 0);
	buf[n + 1] = '}';
	buf[n + 2] = 0;
	if (!json_valid(buf, (size_t)n + 2))
		fail_msg("invalid JSON: %s", buf);
	return buf;
}

static void has_member(const struct hm_derived *d, const char *member)
{
	const char *j = json(d);
	if (!strstr(j, member))
		fail_msg("'%s' not in %s", member, j);
}

/* Walks a whole month (m) from its first 00:00 to the next month's, checking
 * every hour, every day and the month against the closed forms. */
static void walk_month(int m)
{
	struct hm_derived d;
	struct meter mt = {5000000, 1000}; /* 5000 kWh, 1 kWh */
	struct label l = {m, 1, 0, 0};
	hm_derived_init(&d);
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_BASELINE);
	int64_t month_imp = 0, month_exp = 0;
	unsigned hours = 0;
	while (l.m == m) {
		struct label nx = next_label(l);
		mt.imp_wh += c_import(l);
		mt.exp_wh += c_export(l);
		assert_int_equal(feed(&d, nx, &mt), HM_DERIVED_HOUR);
		hours++;
		/* the hour just closed is l */
		assert_int_equal(d.last.import_mwh, c_import(l) * WH);
		assert_int_equal(d.last.export_mwh, c_export(l) * WH);
		assert_false(d.last_estimated);
		if (nx.h == 0 && nx.occ == 0) { /* a day ended */
			assert_int_equal(d.yesterday.import_mwh, day_import(l.m, l.d) * WH);
			assert_int_equal(d.yesterday.export_mwh, day_export(l.m, l.d) * WH);
			assert_int_equal(d.hours_yesterday, day_hours(l.m, l.d));
			assert_int_equal(d.today.import_mwh, 0);
			assert_int_equal(d.hours_today, 0);
			month_imp += day_import(l.m, l.d);
			month_exp += day_export(l.m, l.d);
			if (nx.m == m) {
				assert_int_equal(d.month.import_mwh, month_imp * WH);
				assert_int_equal(d.month.export_mwh, month_exp * WH);
				assert_int_equal(d.hours_month, hours);
				/* top three so far: the last three days' 23:00 peaks */
				int64_t top[3];
				unsigned dom[3];
				unsigned n = hm_derived_top3(&d, top, dom);
				assert_int_equal(n, l.d < 3 ? (unsigned)l.d : 3u);
				for (unsigned i = 0; i < n; i++) {
					assert_int_equal(dom[i], (unsigned)l.d - i);
					assert_int_equal(top[i], (3300 + 10 * (l.d - (int)i)) * WH);
				}
			}
		}
		l = nx;
	}
	/* The 00:00 list of the 1st closed the month's last hour and opened the next. */
	int last = month_len(m);
	assert_int_equal(d.last_month.import_mwh, month_imp * WH);
	assert_int_equal(d.last_month.export_mwh, month_exp * WH);
	assert_int_equal(d.hours_last_month, hours);
	assert_int_equal(d.month.import_mwh, 0);
	assert_int_equal(d.hours_month, 0);
	assert_int_equal(hm_derived_step(&d), 0); /* no hour of the new month yet */
	/* top three: the last three days, peaks 3300 + 10 D: the mean is the middle one */
	assert_int_equal(d.last_month_top_n, 3);
	assert_int_equal(d.last_month_top_mwh, (3 * 3300 + 10 * (3 * last - 3)) * WH);
	/* days 29-31: (3590 + 3600 + 3610) / 3 = 3600 Wh in one hour = 3.6 kW: step 2 (2 < 3.6 <= 5) */
	assert_int_equal(last, 31);
	has_member(&d, "\"capacity_tariff_last_month_mean_kw\":3.6,");
	has_member(&d, "\"capacity_tariff_last_month_step\":2,");
	assert_int_equal(d.repeats + d.stale + d.resets + d.bad + d.gap_hours, 0);
}

/* October 2026 with the 25-hour day: two 02:00 hours. */
static void october_autumn(void **state)
{
	(void)state;
	walk_month(10);
	/* 31 days of 24 hours + 1; the total by the closed form summed by hand:
	 * 31 * 51600 + 240 * 496 + 1455 = 1720095 Wh. */
	int64_t sum = 0;
	for (int d = 1; d <= 31; d++)
		sum += day_import(10, d);
	assert_int_equal(sum, 1720095);
}

/* March 2026 with the 23-hour day: no 02:00 hour. */
static void march_spring(void **state)
{
	(void)state;
	walk_month(3);
	/* 31 * 51600 + 240 * 496 - 1490 = 1717150 Wh */
	int64_t sum = 0;
	for (int d = 1; d <= 31; d++)
		sum += day_import(3, d);
	assert_int_equal(sum, 1717150);
}

/* The two 02:00 hours of the autumn day are told apart, and published with
 * their offsets; the same 02:00 list sent twice is one hour. */
static void autumn_repeat_vs_second_hour(void **state)
{
	(void)state;
	struct hm_derived d;
	struct meter mt = {100000, 0};
	hm_derived_init(&d);
	struct label l = {10, 25, 0, 0};
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_BASELINE);
	for (int i = 0; i < 2; i++) { /* 00-01, 01-02 */
		mt.imp_wh += c_import(l);
		l = next_label(l);
		assert_int_equal(feed(&d, l, &mt), HM_DERIVED_HOUR);
	}
	has_member(&d, "\"last_hour_start\":\"2026-10-25T01:00:00+02:00\"");
	/* the first 02:00 list again, unchanged: a repeat */
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_REPEAT);
	mt.imp_wh += c_import(l); /* the first 02-03 (CEST) */
	l = next_label(l);
	assert_int_equal(l.h, 2);
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_HOUR);
	assert_int_equal(d.last.import_mwh, (1000 + 250 + 200) * WH);
	has_member(&d, "\"last_hour_start\":\"2026-10-25T02:00:00+02:00\"");
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_REPEAT); /* second 02:00 again */
	mt.imp_wh += c_import(l);                              /* the second 02-03 (CET) */
	l = next_label(l);
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_HOUR);
	assert_int_equal(d.last.import_mwh, (1000 + 250 + 200 + 5) * WH);
	has_member(&d, "\"last_hour_start\":\"2026-10-25T02:00:00+01:00\"");
	assert_int_equal(d.hours_today, 4);
	assert_int_equal(d.repeats, 2);
}

/* October again, with faults: every list of days 5-7 and both 02:00 lists
 * sent twice, a stale list, three lists missing inside day 10 and three
 * missing across midnight 15/16.  Energy is neither lost nor invented. */
static void october_faults(void **state)
{
	(void)state;
	struct hm_derived d;
	struct meter mt = {5000000, 1000};
	struct label l = {10, 1, 0, 0};
	hm_derived_init(&d);
	assert_int_equal(feed(&d, l, &mt), HM_DERIVED_BASELINE);
	unsigned dup = 0, skipped = 0;
	int64_t day15_imp = -1, day15_exp = -1;
	while (l.m == 10) {
		struct label nx = next_label(l);
		mt.imp_wh += c_import(l);
		mt.exp_wh += c_export(l);
		bool skip =
		    (nx.d == 10 && nx.h >= 5 && nx.h <= 7) || (nx.d == 15 && nx.h == 23) || (nx.d == 16 && nx.h <= 1);
		if (skip) {
			skipped++;
			l = nx;
			continue;
		}
		enum hm_derived_event ev = feed(&d, nx, &mt);
		if (nx.d == 10 && nx.h == 8) {
			assert_int_equal(ev, HM_DERIVED_GAP);
			/* 04-08 spread: import 4 * 1100 + 100 * (4+5+6+7) = 6600 Wh, 1650 each;
			 * export 4 * 10 + 22 = 62 Wh: 16, 16, 15, 15 */
			assert_int_equal(d.last.import_mwh, 1650 * WH);
			assert_int_equal(d.last.export_mwh, 15 * WH);
			assert_true(d.last_estimated);
			has_member(&d, "\"last_hour_estimated\":true");
		} else if (nx.d == 16 && nx.h == 2) {
			assert_int_equal(ev, HM_DERIVED_GAP);
			/* 15th 22-24 and 16th 00-02: import 3350+3450+1160+1260 = 9220 Wh,
			 * 2305 each; export 37+38+16+17 = 108 Wh, 27 each */
			assert_int_equal(d.last.import_mwh, 2305 * WH);
			assert_int_equal(d.last.export_mwh, 27 * WH);
			assert_int_equal(d.yesterday.import_mwh, day15_imp * WH);
			assert_int_equal(d.yesterday.export_mwh, day15_exp * WH);
			assert_int_equal(d.today.import_mwh, 2 * 2305 * WH);
			assert_int_equal(d.hours_yesterday, 24);
		} else {
			assert_int_equal(ev, HM_DERIVED_HOUR);
		}
		if (nx.d == 15 && nx.h == 22) { /* expected day 15, with its last two hours spread */
			day15_imp = day_import(10, 15) - 3350 - 3450 + 2 * 2305;
			day15_exp = day_export(10, 15) - 37 - 38 + 2 * 27;
		}
		if (nx.h == 0 && nx.occ == 0 && l.d == 10) { /* day 10: gap inside it, total exact */
			assert_int_equal(d.yesterday.import_mwh, day_import(10, 10) * WH);
			assert_int_equal(d.yesterday.export_mwh, day_export(10, 10) * WH);
		}
		if ((nx.d >= 5 && nx.d <= 7) || (nx.d == 25 && nx.h == 2)) {
			assert_int_equal(feed(&d, nx, &mt), HM_DERIVED_REPEAT);
			dup++;
		}
		if (nx.d == 20 && nx.h == 12) { /* a list from three hours ago */
			struct label old = {10, 20, 9, 0};
			struct meter om = {mt.imp_wh - 5000, mt.exp_wh - 50};
			int64_t before = d.today.import_mwh;
			assert_int_equal(feed(&d, old, &om), HM_DERIVED_STALE);
			assert_int_equal(d.today.import_mwh, before);
		}
		l = nx;
	}
	assert_int_equal(skipped, 6);
	assert_int_equal(dup, 3 * 24 + 2);
	assert_int_equal(d.repeats, dup);
	assert_int_equal(d.stale, 1);
	assert_int_equal(d.gap_hours, 8);
	assert_int_equal(d.resets, 0);
	int64_t sum_i = 0, sum_e = 0;
	for (int dd = 1; dd <= 31; dd++) {
		sum_i += day_import(10, dd);
		sum_e += day_export(10, dd);
	}
	assert_int_equal(d.last_month.import_mwh, sum_i * WH);
	assert_int_equal(d.last_month.export_mwh, sum_e * WH);
	assert_int_equal(d.hours_last_month, 31 * 24 + 1);
	/* the peaks of days 29-31 were measured: tariff unchanged */
	assert_int_equal(d.last_month_top_mwh, (3590 + 3600 + 3610) * WH);
}

/* A register going backwards (meter swap), another meter id, an implausible
 * jump and a clock reset restart the baseline; nothing negative. */
static void resets(void **state)
{
	(void)state;
	struct hm_derived d;
	hm_derived_init(&d);
	const char *id = "A1";
	struct {
		const char *t;
		int64_t imp_wh;
		const char *id;
		enum hm_derived_event ev;
		int64_t today_wh; /* expected afterwards */
	} seq[] = {
	    {"2026-01-10T00:00:10", 1000000, id, HM_DERIVED_BASELINE, 0},
	    {"2026-01-10T01:00:10", 1001500, id, HM_DERIVED_HOUR, 1500},
	    {"2026-01-10T02:00:10", 3200, id, HM_DERIVED_BACKWARDS, 1500}, /* swapped: new meter at 3.2 kWh */
	    {"2026-01-10T03:00:10", 4000, id, HM_DERIVED_HOUR, 2300},
	    {"2026-01-10T04:00:10", 4100, "B2", HM_DERIVED_METER_CHANGED, 2300},
	    {"2026-01-10T05:00:10", 4600, "B2", HM_DERIVED_HOUR, 2800},
	    {"2026-01-10T06:00:10", 5004600, "B2", HM_DERIVED_IMPLAUSIBLE, 2800}, /* 5000 kWh in an hour */
	    {"2026-01-10T07:00:10", 5005000, "B2", HM_DERIVED_HOUR, 3200},
	    {"2026-01-10T07:00:20", 5005000, "B2", HM_DERIVED_REPEAT, 3200},
	    {"2026-01-10T07:15:00", 5005100, "B2", HM_DERIVED_NOT_HOURLY, 3200},
	    {"2026-01-09T05:00:10", 5005200, "B2", HM_DERIVED_STALE, 3200},   /* 26 h back */
	    {"2026-01-08T05:00:10", 5005200, "B2", HM_DERIVED_CLOCK_JUMP, 0}, /* 50 h back */
	    {"2026-01-08T06:00:10", 5005300, NULL, HM_DERIVED_HOUR, 100},
	};
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
		struct hm_num imp = {seq[i].imp_wh, -3};
		enum hm_derived_event ev = hm_derived_feed(&d, seq[i].t, imp, NULL, seq[i].id);
		if (ev != seq[i].ev)
			fail_msg("step %zu (%s): %s, want %s", i, seq[i].t, hm_derived_event_name(ev),
			         hm_derived_event_name(seq[i].ev));
		assert_int_equal(d.today.import_mwh, seq[i].today_wh * WH);
		assert_true(d.month.import_mwh >= 0 && d.last.import_mwh >= 0);
	}
	assert_int_equal(d.resets, 4);
	assert_int_equal(d.repeats, 1);
	assert_false(d.has_export);
	const char *j = json(&d);
	assert_null(strstr(j, "export"));    /* no export register, no export figures */
	assert_null(strstr(j, "yesterday")); /* the clock jump leaves no "yesterday" */
	assert_non_null(strstr(j, "\"derived_resets\":4"));
}

/* Meter times and registers that are not samples. */
static void bad_samples(void **state)
{
	(void)state;
	struct hm_derived d;
	hm_derived_init(&d);
	static const char *const bad_times[] = {
	    "2026-13-01T00:00:00", "2026-02-29T00:00:00", "2026-10-01 00:00:00", "",
	    "1999-12-31T23:00:00", "2026-10-01T24:00:00", "2026-10-0xT00:00:00", "2026-10-01T00:00",
	    "2026-04-31T00:00:00",
	};
	struct hm_num ok = {1, 0};
	for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++)
		assert_int_equal(hm_derived_feed(&d, bad_times[i], ok, NULL, NULL), HM_DERIVED_BAD_SAMPLE);
	assert_int_equal(hm_derived_feed(&d, NULL, ok, NULL, NULL), HM_DERIVED_BAD_SAMPLE);
	struct hm_num neg = {-5, 0}, fine = {1, -7}, huge = {INT64_MAX / 10, 0};
	assert_int_equal(hm_derived_feed(&d, "2026-10-01T00:00:00", neg, NULL, NULL), HM_DERIVED_BAD_SAMPLE);
	assert_int_equal(hm_derived_feed(&d, "2026-10-01T00:00:00", fine, NULL, NULL), HM_DERIVED_BAD_SAMPLE);
	assert_int_equal(hm_derived_feed(&d, "2026-10-01T00:00:00", huge, NULL, NULL), HM_DERIVED_BAD_SAMPLE);
	assert_int_equal(hm_derived_feed(&d, "2026-10-01T00:00:00", ok, &neg, NULL), HM_DERIVED_BAD_SAMPLE);
	assert_int_equal(d.bad, sizeof bad_times / sizeof bad_times[0] + 5);
	assert_false(d.have_base);
	/* a leap day is a date; an offset suffix is ignored; 10^-6 kWh is fine */
	struct hm_num micro = {1, -6};
	assert_int_equal(hm_derived_feed(&d, "2028-02-29T00:00:05+01:00", micro, NULL, NULL), HM_DERIVED_BASELINE);
	assert_string_equal(hm_derived_event_name(HM_DERIVED_GAP), "gap");
	assert_string_equal(hm_derived_event_name(HM_DERIVED_EVENT_COUNT), "unknown");
}

/* Capacity steps at their boundaries: mean <= threshold. */
static void steps(void **state)
{
	(void)state;
	struct hm_derived d;
	hm_derived_init(&d);
	assert_int_equal(hm_derived_step(&d), 0);
	/* one day with a 5.000 kWh hour: mean exactly 5 kW is step 2 (2 < 5 <= 5) */
	struct hm_num r0 = {0, 0}, r1 = {5000, -3};
	hm_derived_feed(&d, "2026-11-02T00:00:00", r0, NULL, NULL);
	hm_derived_feed(&d, "2026-11-02T01:00:00", r1, NULL, NULL);
	assert_int_equal(hm_derived_step(&d), 2);
	has_member(&d, "\"capacity_tariff_mean_kw\":5,");
	/* the next day 5.003 kWh: mean of 5.000 and 5.003 = 5.0015 > 5: step 3 */
	struct hm_num r2 = {5000, -3}, r3 = {10003, -3};
	hm_derived_feed(&d, "2026-11-03T00:00:00", r2, NULL, NULL);
	hm_derived_feed(&d, "2026-11-03T01:00:00", r3, NULL, NULL);
	assert_int_equal(hm_derived_step(&d), 3);
	has_member(&d, "\"capacity_tariff_mean_kw\":5.0015,");
	has_member(&d, "\"capacity_top3_kwh\":[5.003,5],\"capacity_top3_days\":[3,2]");
	/* one more day at 0.001 kWh: still the top three; mean 10.004 / 3 = 3.334667 (rounded mW) */
	struct hm_num r4 = {10003, -3}, r5 = {10004, -3};
	hm_derived_feed(&d, "2026-11-04T00:00:00", r4, NULL, NULL);
	hm_derived_feed(&d, "2026-11-04T01:00:00", r5, NULL, NULL);
	has_member(&d, "\"capacity_tariff_mean_kw\":3.334667,");
	assert_int_equal(hm_derived_step(&d), 2);
	/* a fourth, higher day pushes the lowest out; one day counts once however many peaks */
	struct hm_num r6 = {10004, -3}, r7 = {160004, -3}, r8 = {310004, -3};
	hm_derived_feed(&d, "2026-11-05T00:00:00", r6, NULL, NULL);
	hm_derived_feed(&d, "2026-11-05T01:00:00", r7, NULL, NULL); /* 150 kWh */
	hm_derived_feed(&d, "2026-11-05T02:00:00", r8, NULL, NULL); /* 150 kWh again, same day */
	has_member(&d, "\"capacity_top3_kwh\":[150,5.003,5],\"capacity_top3_days\":[5,3,2]");
	/* (150 + 5.003 + 5) / 3 = 53.334333 kW: above 50, not above 75: step 8 */
	assert_int_equal(hm_derived_step(&d), 8);
	/* custom steps */
	static const uint32_t mine[] = {4000, 60000};
	assert_int_equal(hm_derived_set_steps(&d, mine, 2), 0);
	assert_int_equal(hm_derived_step(&d), 2);
	static const uint32_t low[] = {1000};
	assert_int_equal(hm_derived_set_steps(&d, low, 1), 0);
	assert_int_equal(hm_derived_step(&d), 2); /* above the last: n_steps + 1 */
	static const uint32_t unsorted[] = {5000, 2000};
	assert_int_equal(hm_derived_set_steps(&d, unsorted, 2), -EINVAL);
	assert_int_equal(hm_derived_set_steps(&d, mine, 0), -EINVAL);
	assert_int_equal(hm_derived_set_steps(&d, mine, HM_DERIVED_STEPS_MAX + 1), -EINVAL);
	assert_int_equal(d.n_steps, 1);
}

/* hm_derived_update() takes what a reading carries: the total, or t1 + t2. */
static void from_reading(void **state)
{
	(void)state;
	static struct hm_reading r;
	struct hm_derived d;
	enum hm_derived_event ev;
	hm_derived_init(&d);
	hm_reading_clear(&r);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_POWER_IMPORT_W, 733, 0); /* a list 1: no energy */
	assert_false(hm_derived_update(&d, &r, &ev));
	assert_int_equal(ev, HM_DERIVED_NONE);
	/* a P1-style list: tariff registers only, 0.001 and 0.01 kWh resolution */
	set_clock(&r, 10, 2);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_T1_KWH, 1581123, -3);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_T2_KWH, 143570, -2);
	assert_true(hm_derived_update(&d, &r, &ev));
	assert_int_equal(ev, HM_DERIVED_BASELINE);
	assert_int_equal(d.base.import_mwh, (1581123 + 1435700) * WH);
	set_clock(&r, 10, 12);
	assert_false(hm_derived_update(&d, &r, &ev));
	assert_int_equal(ev, HM_DERIVED_REPEAT);
	set_clock(&r, 11, 2);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_T2_KWH, 143602, -2);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_EXPORT_KWH, 25, -3);
	assert_true(hm_derived_update(&d, &r, &ev));
	assert_int_equal(ev, HM_DERIVED_HOUR);
	assert_int_equal(d.last.import_mwh, 320 * WH);
	assert_int_equal(d.last.export_mwh, 0); /* export appeared: its baseline starts now */
	has_member(&d, "\"energy_import_last_hour_kwh\":0.32,\"energy_export_last_hour_kwh\":0,");
	/* the total register wins over the tariff sum */
	set_clock(&r, 12, 2);
	hm_reading_set_num(&r, HM_NUM_ACTIVE_ENERGY_IMPORT_KWH, 3017266, -3);
	assert_true(hm_derived_update(&d, &r, &ev));
	assert_int_equal(d.last.import_mwh, 123 * WH);
	/* a meter id in the reading: stored, and a different one is a swap */
	hm_reading_set_text(&r, HM_TEXT_METER_ID, "X", 1);
	set_clock(&r, 13, 2);
	assert_true(hm_derived_update(&d, &r, &ev));
	assert_int_equal(ev, HM_DERIVED_HOUR);
	assert_string_equal(d.meter_id, "X");
	hm_reading_set_text(&r, HM_TEXT_METER_ID, "Y", 1);
	set_clock(&r, 14, 2);
	assert_true(hm_derived_update(&d, &r, &ev));
	assert_int_equal(ev, HM_DERIVED_METER_CHANGED);
	assert_true(hm_derived_update(&d, &r, NULL) == false); /* the same list again */
}

/* --- the state text ---------------------------------------------------- */

/* A state with every part present: mid-October with faults behind it and
 * September before it. */
static void busy_state(struct hm_derived *d)
{
	struct meter mt = {5000000, 1000};
	struct label l = {9, 28, 0, 0};
	hm_derived_init(d);
	feed(d, l, &mt);
	while (!(l.m == 10 && l.d == 12 && l.h == 15)) {
		struct label nx = next_label(l);
		mt.imp_wh += c_import(l);
		mt.exp_wh += c_export(l);
		if (!(nx.d == 3 && nx.h == 4))
			feed(d, nx, &mt);
		if (nx.d == 4 && nx.h == 4)
			feed(d, nx, &mt);
		l = nx;
	}
}

/* Save, load, same figures; then both go on alike. */
static void state_round_trip(void **state)
{
	(void)state;
	static char text[HM_DERIVED_TEXT_MAX], text2[HM_DERIVED_TEXT_MAX], j1[HM_DERIVED_JSON_MAX];
	struct hm_derived a, b;
	busy_state(&a);
	assert_true(a.have_last && a.hours_yesterday && a.hours_last_month && a.gap_hours && a.repeats);
	int n = hm_derived_save(&a, text, sizeof text);
	assert_true(n > 0 && (size_t)n == strlen(text));
	hm_derived_init(&b);
	assert_int_equal(hm_derived_load(&b, text, (size_t)n), 0);
	assert_int_equal(hm_derived_save(&b, text2, sizeof text2), n);
	assert_string_equal(text, text2);
	strcpy(j1, json(&a));
	assert_string_equal(j1, json(&b));
	struct meter mt = {a.base.import_mwh / WH, a.base.export_mwh / WH};
	struct label l = {10, 12, 15, 0};
	for (int i = 0; i < 24 * 25; i++) {
		struct label nx = next_label(l);
		mt.imp_wh += c_import(l);
		mt.exp_wh += c_export(l);
		assert_int_equal(feed(&a, nx, &mt), feed(&b, nx, &mt));
		strcpy(j1, json(&a));
		assert_string_equal(j1, json(&b));
		l = nx;
	}
	/* an empty state too; and the text is too long for a small buffer */
	hm_derived_init(&a);
	n = hm_derived_save(&a, text, sizeof text);
	assert_true(n > 0);
	busy_state(&b);
	assert_int_equal(hm_derived_load(&b, text, (size_t)n), 0);
	assert_false(b.have_base);
	assert_int_equal(b.day, -1);
	assert_int_equal(hm_derived_save(&a, text, 40), -1);
	assert_int_equal(hm_derived_json(&a, text, 10), -1);
}

/* Every bit flipped, every truncation, garbage: refused, state untouched. */
static void state_refused(void **state)
{
	(void)state;
	static char text[HM_DERIVED_TEXT_MAX], bad[HM_DERIVED_TEXT_MAX + 64];
	static struct hm_derived d, keep;
	struct hm_derived src;
	busy_state(&src);
	int n = hm_derived_save(&src, text, sizeof text);
	assert_true(n > 0);
	hm_derived_init(&d);
	memcpy(&keep, &d, sizeof d);
	unsigned refused = 0;
	for (int i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, text, (size_t)n);
			bad[i] ^= (char)(1 << bit);
			if (hm_derived_load(&d, bad, (size_t)n) == 0)
				fail_msg("byte %d bit %d flipped: accepted", i, bit);
			refused++;
		}
	for (int len = 0; len < n; len++)
		assert_true(hm_derived_load(&d, text, (size_t)len) < 0);
	/* appended bytes */
	size_t tn = strlen(text);
	memcpy(bad, text, tn);
	memcpy(bad + tn, "x\n", 2);
	assert_true(hm_derived_load(&d, bad, tn + 2) < 0);
	/* garbage (fixed-seed xorshift), with and without the right first line */
	uint32_t x = 2463534242u;
	for (int k = 0; k < 2000; k++) {
		size_t len = 1 + k % 600, off = k % 2 ? strlen("hanmeter-derived 1\n") : 0;
		memcpy(bad, "hanmeter-derived 1\n", off);
		for (size_t i = off; i < len + off; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			bad[i] = k % 3 ? (char)x : "0123456789 -\n"[x % 13];
		}
		assert_true(hm_derived_load(&d, bad, len + off) < 0);
	}
	assert_int_equal(memcmp(&d, &keep, sizeof d), 0);
	assert_int_equal(refused, (unsigned)n * 8);
}

/* With the right checksum, wrong content is still refused; a newer version
 * is told apart.  The checksums here are made by the test with crc.c. */
static int load_with_crc(const char *body)
{
	static char buf[HM_DERIVED_TEXT_MAX];
	struct hm_derived d;
	size_t n = strlen(body);
	memcpy(buf, body, n);
	snprintf(buf + n, sizeof buf - n, "crc %04X\n", hm_crc16_x25((const uint8_t *)body, n));
	hm_derived_init(&d);
	return hm_derived_load(&d, buf, strlen(buf));
}

#define MAX31 " -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1\n"

static void state_checked(void **state)
{
	(void)state;
	const char *good = "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	                   "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n";
	assert_int_equal(load_with_crc(good), 0);
	static const char *const wrong[] = {
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 26\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n", /* 26 hours today */
	    "hanmeter-derived 1\nbase 500000 -7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n", /* negative register */
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 9 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n", /* today > month */
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax -1\n"
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n", /* one day of 31 */
	    "hanmeter-derived 1\nexport 1\nbase 500000 7 8\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n", /* lines out of order */
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6 7\n", /* an extra counter */
	    "hanmeter-derived 1\nbase 500000 07 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\n", /* leading zero */
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 4\ncount 1 2 3 4 5 6\n", /* four top days */
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 99999999999999999999\n", /* > 2^64 */
	    "hanmeter-derived 1\nbase 500000 7 8\nexport 1\nday 20700 1 2 3\nmonth 5 6 30 0\nmax" MAX31
	    "yesterday 0 0 0\nlast_month 0 0 0 0 0\ncount 1 2 3 4 5 6\nmore 1\n", /* trailing line */
	};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
		if (load_with_crc(wrong[i]) != -EINVAL)
			fail_msg("case %zu accepted", i);
	assert_int_equal(load_with_crc("hanmeter-derived 2\nwhatever\n"), -ENOTSUP);
	assert_int_equal(load_with_crc("hanmeter-derived 1\n"), -EINVAL);
}

/* The largest state the text may hold still renders and round-trips. */
static void extremes(void **state)
{
	(void)state;
	static char text[HM_DERIVED_TEXT_MAX], text2[HM_DERIVED_TEXT_MAX], js[HM_DERIVED_JSON_MAX];
	const int64_t big = INT64_C(1000000000000000); /* 10^15 mWh, the load limit */
	struct hm_derived d, e;
	hm_derived_init(&d);
	d.have_base = d.have_last = d.has_export = d.last_estimated = true;
	d.base = (struct hm_derived_pair){INT64_MAX, INT64_MAX};
	d.base_hour = d.last_hour = (int64_t)(9999 - 1970) * 365 * 24;
	memset(d.meter_id, '9', sizeof d.meter_id - 1);
	d.day = (int32_t)((9999 - 1970) * 365);
	d.today = d.month = d.last = d.yesterday = d.last_month = (struct hm_derived_pair){big, big};
	d.hours_today = d.hours_yesterday = 25;
	d.hours_month = d.hours_last_month = d.estimated_month = 745;
	for (int i = 0; i < HM_DERIVED_DAYS; i++)
		d.day_max_mwh[i] = big - 1 - i; /* long decimals */
	d.last_month_top_mwh = 3 * big - 1;
	d.last_month_top_n = 3;
	d.samples = d.repeats = d.stale = d.resets = d.bad = d.gap_hours = UINT64_MAX;
	int n = hm_derived_json(&d, js, sizeof js);
	assert_true(n > 0);
	print_message("extremes: JSON %d bytes (of %d)\n", n, HM_DERIVED_JSON_MAX);
	n = hm_derived_save(&d, text, sizeof text);
	assert_true(n > 0);
	print_message("extremes: state %d bytes (of %d)\n", n, HM_DERIVED_TEXT_MAX);
	hm_derived_init(&e);
	assert_int_equal(hm_derived_load(&e, text, (size_t)n), 0);
	assert_int_equal(hm_derived_save(&e, text2, sizeof text2), n);
	assert_string_equal(text, text2);
	/* one more than the limit is refused */
	d.month.import_mwh = big + 1;
	n = hm_derived_save(&d, text, sizeof text);
	assert_int_equal(hm_derived_load(&e, text, (size_t)n), -EINVAL);
	/* and the sums go on without overflow from there (UBSan watches): the
	 * base hour is ~6 years before 9999-12-31, a gap of zero energy */
	d.month.import_mwh = big;
	assert_int_equal(hm_derived_feed(&d, "9999-12-31T23:00:00", (struct hm_num){INT64_MAX, -6}, NULL, NULL),
	                 HM_DERIVED_GAP);
	assert_int_equal(d.month.import_mwh, 0);
	assert_true(d.gap_hours < 100000); /* an unsigned counter wrapped: defined */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(october_autumn),
	    cmocka_unit_test(march_spring),
	    cmocka_unit_test(autumn_repeat_vs_second_hour),
	    cmocka_unit_test(october_faults),
	    cmocka_unit_test(resets),
	    cmocka_unit_test(bad_samples),
	    cmocka_unit_test(steps),
	    cmocka_unit_test(from_reading),
	    cmocka_unit_test(state_round_trip),
	    cmocka_unit_test(state_refused),
	    cmocka_unit_test(state_checked),
	    cmocka_unit_test(extremes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
