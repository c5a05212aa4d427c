/*
 * derived.h - figures computed from a meter's cumulative energy registers
 * and its own clock: energy of the last full hour, today and this month, and
 * the Norwegian capacity tariff ("effekttrinn").
 *
 * Pure like the rest of the core: fed hourly samples (meter_time, import and
 * export kWh as exact decimals), state in a caller-owned struct, no clock,
 * no heap.  The rules (see derived.c for the reasoning):
 *
 *  - A sample is a reading with meter_time at minute 00 and an import
 *    register (active_energy_import_kwh, else t1 + t2).  The list stamped
 *    14:00:xx closes the hour 13:00-14:00 and the energy is the register
 *    difference.  Later samples stamped in the same hour are repeats: they
 *    count once.  Samples at other minutes (P1 meters every 10 s) are skipped.
 *  - The meter's clock is local wall-clock time of Central Europe
 *    (CET/CEST, EU rule: summer time from the last Sunday of March to the
 *    last Sunday of October, 01:00 UTC).  Any +hh:mm suffix is ignored:
 *    captured meters send offsets that contradict the season.
 *  - Days and months run from local midnight to local midnight, so a day
 *    has 23, 24 or 25 hours.  An hour belongs to the day of its start.
 *  - A gap (the difference spans k > 1 hours) is spread evenly over those
 *    hours, exactly (the remainder goes to the earliest hours), and the
 *    hours are counted as estimated.  Nothing invented, nothing lost.
 *  - A register going backwards, one rising more than max_kw allows, or a
 *    different meter id is a meter swap or reset: the interval is not
 *    attributed, the baseline restarts.  Never negative consumption.
 *  - Capacity tariff: for each day of the month the largest hourly import;
 *    the mean of the three largest of those (fewer while the month has
 *    fewer days) in kW.  Step n (1-based) is the first threshold the mean
 *    does not exceed (mean <= threshold); above the last, n_steps + 1.
 *    Default thresholds (kW): 2 5 10 15 20 25 50 75 100.
 *  - When a day or a month ends, its totals (and the month's tariff) stay
 *    published as yesterday / last month: the list stamped 00:00 on the 1st
 *    closes the month's last hour and opens the next month at once.
 */
#ifndef HANMETER_DERIVED_H
#define HANMETER_DERIVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/limits.h"
#include "hanmeter/reading.h"

#define HM_DERIVED_STEPS_MAX 16 /* capacity tariff thresholds */
#define HM_DERIVED_DAYS      31 /* days in the longest month */

/* A text rendering of the state (hm_derived_save): a dozen lines, the
 * longest 31 numbers of <= 16 digits; ~1.1 KiB at the extremes. */
#define HM_DERIVED_TEXT_MAX 2048

/* A JSON rendering of the figures (hm_derived_json): ~30 members; with
 * every sum at the 10^15 mWh the state may hold and every counter at 2^64 - 1
 * it is ~1.1 KiB (test_derived.c, extremes). */
#define HM_DERIVED_JSON_MAX 2048

/* What a sample did (for the caller's log and counters). */
#define HM_DERIVED_EVENTS(X)                                                                          \
	X(NONE, "none")                   /* no energy register or no meter_time: not a sample */     \
	X(NOT_HOURLY, "not_hourly")       /* meter_time not at minute 00 */                           \
	X(BAD_SAMPLE, "bad_sample")       /* meter_time or register unreadable, or negative */        \
	X(BASELINE, "baseline")           /* first sample: the baseline, nothing to attribute yet */  \
	X(HOUR, "hour")                   /* one hour closed */                                       \
	X(GAP, "gap")                     /* several hours closed, the difference spread over them */ \
	X(REPEAT, "repeat")               /* the same hour again: counted once */                     \
	X(STALE, "stale")                 /* older than the baseline (clock stepped back <= 48 h) */  \
	X(BACKWARDS, "backwards")         /* a register went down: baseline restarted */              \
	X(IMPLAUSIBLE, "implausible")     /* rose faster than max_kw: baseline restarted */           \
	X(METER_CHANGED, "meter_changed") /* another meter id: baseline restarted */                  \
	X(CLOCK_JUMP, "clock_jump")       /* clock stepped back more than 48 h: started again */

enum hm_derived_event {
#define HM_DE_ENUM(id, str) HM_DERIVED_##id,
	HM_DERIVED_EVENTS(HM_DE_ENUM)
#undef HM_DE_ENUM
	    HM_DERIVED_EVENT_COUNT
};

/* Energy both ways, in mWh (10^-6 kWh): every register resolution fits. */
struct hm_derived_pair {
	int64_t import_mwh;
	int64_t export_mwh;
};

struct hm_derived {
	/* Configuration: set by hm_derived_init(), may be changed after; not saved. */
	unsigned n_steps;                      /* thresholds in use */
	uint32_t step_w[HM_DERIVED_STEPS_MAX]; /* W, ascending */
	uint32_t max_kw;                       /* plausibility: faster rise = reset (kW) */

	/* The baseline: the last accepted sample. */
	bool have_base;
	int64_t base_hour;           /* its stamp, hours since 1970-01-01T00Z */
	struct hm_derived_pair base; /* its registers (mWh) */
	bool has_export;             /* the meter has an export register */
	char meter_id[HM_TEXT_MAX];  /* "" until a reading carries one */

	/* The meter's current local day (of its last sample) and sums. */
	int32_t day;                          /* local date, days since 1970-01-01; -1 none */
	struct hm_derived_pair today, month;  /* closed hours of that day / month */
	uint16_t hours_today, hours_month;    /* hours attributed */
	uint16_t estimated_month;             /* of those, spread over a gap */
	int64_t day_max_mwh[HM_DERIVED_DAYS]; /* per day of month: largest hourly import; -1 none */

	/* The day and month before, kept when the next one begins (hours 0: none). */
	struct hm_derived_pair yesterday, last_month;
	uint16_t hours_yesterday, hours_last_month;
	int64_t last_month_top_mwh; /* sum of its top three days' peaks */
	uint8_t last_month_top_n;   /* how many days that sum has (0..3) */

	/* The last closed hour. */
	bool have_last;
	int64_t last_hour; /* its start, hours since 1970-01-01T00Z */
	struct hm_derived_pair last;
	bool last_estimated; /* spread over a gap */

	/* Counters since the state was created. */
	uint64_t samples; /* samples taken (baseline, hour, gap) */
	uint64_t repeats, stale, resets,
	    bad;            /* REPEAT; STALE; BACKWARDS/IMPLAUSIBLE/METER_CHANGED/CLOCK_JUMP; BAD_SAMPLE */
	uint64_t gap_hours; /* hours estimated by spreading */
};

/* An empty state with the default thresholds and max_kw (1000 kW). */
void hm_derived_init(struct hm_derived *d);

/* Thresholds in W, ascending, 1..HM_DERIVED_STEPS_MAX of them; 0 or -EINVAL. */
int hm_derived_set_steps(struct hm_derived *d, const uint32_t *step_w, unsigned n);

/* One sample: meter_time as in reading.h ("YYYY-MM-DDThh:mm:ss[+hh:mm]"),
 * import kWh, export kWh (NULL: the meter has none), meter id (NULL or "":
 * unknown).  Returns what it did. */
enum hm_derived_event hm_derived_feed(struct hm_derived *d, const char *meter_time, struct hm_num import,
                                      const struct hm_num *export, const char *meter_id);

/* hm_derived_feed() with what a reading carries.  True if the figures changed
 * (an hour closed, or a day began); *ev (may be NULL) says what happened. */
bool hm_derived_update(struct hm_derived *d, const struct hm_reading *r, enum hm_derived_event *ev);

/* The stable name of an event ("gap"). */
const char *hm_derived_event_name(enum hm_derived_event ev);

/* The capacity tariff: the top three days (largest first, mWh, day of month
 * 1..31) into top[]/dom[] (either may be NULL); returns how many (0..3). */
unsigned hm_derived_top3(const struct hm_derived *d, int64_t top[3], unsigned dom[3]);
/* The capacity mean: the top three days' hourly peaks averaged, in mWh per
 * hour (= mW), rounded half up; -1 when the month has no hour yet. */
int64_t hm_derived_mean_mwh(const struct hm_derived *d);
/* Step 1..n_steps+1, or 0 when the month has no hour yet. */
unsigned hm_derived_step(const struct hm_derived *d);

/* The figures as JSON members (no braces, like hm_json_members):
 * energy_import_last_hour_kwh, energy_export_last_hour_kwh, last_hour_start,
 * last_hour_estimated, energy_import_today_kwh, ..._month_kwh, the export
 * twins, hours_today, hours_month, hours_estimated_month,
 * capacity_tariff_mean_kw, capacity_tariff_step, capacity_top3_kwh,
 * capacity_top3_days, energy_import_yesterday_kwh, ..._last_month_kwh (and
 * export), capacity_tariff_last_month_mean_kw, ..._step, and the counters.  A figure not known yet is left
 * out.  Returns the length (excluding NUL), or -1 if cap is too small. */
int hm_derived_json(const struct hm_derived *d, char *buf, size_t cap);

/* The state (not the configuration) as text, a version line first and a
 * CRC-16/X.25 trailer last.  Returns the length, or -1 if cap is too small. */
int hm_derived_save(const struct hm_derived *d, char *buf, size_t cap);

/* Parses text from hm_derived_save() into d, keeping d's configuration.
 * Anything short of a complete, intact, consistent file is refused with
 * -EINVAL (bad checksum, truncated, garbage, out of range) or -ENOTSUP (a
 * version we do not know), and d is left unchanged. */
int hm_derived_load(struct hm_derived *d, const char *text, size_t len);

#endif
