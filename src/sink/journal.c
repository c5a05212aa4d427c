/*
 * journal.c - the journal sink: every [journal] readings = N seconds, one
 * line per meter with its latest reading, as name=value pairs in the units
 * the names end with:
 *
 *   meter house: active_power_import_w=2531 ... voltage_l1_v=231
 *
 * (HANMETER_METER=house in the journal).  And whenever a meter's hourly
 * list closes an hour (derived.h), at once, whatever readings is, the
 * derived figures, import first, energy in kWh, capacity mean in kW:
 *
 *   meter house: hour 13-14 1.234 kWh, today 12.3 kWh, month 456.7 kWh,
 *   capacity step 3 (mean 6.100 kW)
 *
 * (", export ..." when the meter has an export register; "hour 13-14 ...
 * estimated" for an hour spread over a gap; "yesterday" and "last month"
 * for the list at midnight, which closes them; no capacity part while the
 * month has no hour).  Everything else the journal gets (start,
 * reconnects, rejected frames) comes from log.c directly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "sink/strbuf.h"

struct journal {
	struct hm_daemon *d;
	unsigned n;              /* meters */
	struct hm_reading *last; /* n latest readings */
	bool *fresh;             /* n: a reading arrived since the last line */
	int64_t *hour_logged;    /* n: derived last_hour of the last hour line, INT64_MIN none */
	sd_event_source *timer;  /* every interval_s */
};

static bool journal_enabled(const struct hm_config *c)
{
	return c->journal.enabled;
}

static void log_reading(const char *meter, const struct hm_reading *r)
{
	char line[1024];
	size_t n = 0;
	for (int f = 0; f < HM_NUM_COUNT && n < sizeof line - 64; f++) {
		char v[40];
		if (!hm_reading_has_num(r, f) || hm_num_format(r->num[f], v, sizeof v) < 0)
			continue;
		int k = snprintf(line + n, sizeof line - n, "%s%s=%s", n ? " " : "", hm_num_info[f].name, v);
		if (k < 0 || (size_t)k >= sizeof line - n)
			break;
		n += (size_t)k;
	}
	line[n] = 0;
	hm_log_meter(LOG_INFO, meter, "%s", n ? line : "reading without numeric fields");
}

#define MWH_PER_KWH 1000000 /* derived.h keeps energy in mWh */

/* mWh as kWh with dec (0..6) decimals, rounded half up (figures are >= 0). */
static void fmt_kwh(char *buf, size_t cap, int64_t mwh, unsigned dec)
{
	int64_t unit = 1;
	for (unsigned i = dec; i < 6; i++)
		unit *= 10;
	int64_t v = (mwh + unit / 2) / unit, scale = MWH_PER_KWH / unit;
	if (dec)
		snprintf(buf, cap, "%" PRId64 ".%0*" PRId64, v / scale, (int)dec, v % scale);
	else
		snprintf(buf, cap, "%" PRId64, v);
}

/* The local start hour of the last hour, from hm_derived_json()'s
 * "last_hour_start":"YYYY-MM-DDThh:00:00+hh:00" (the core owns the
 * CET/CEST rule); -1 if absent. */
static int start_hour(const char *json)
{
	static const char key[] = "\"last_hour_start\":\"";
	const char *p = strstr(json, key);
	if (!p || strlen(p) < sizeof key - 1 + 13)
		return -1;
	p += sizeof key - 1 + 11; /* past "YYYY-MM-DDT" */
	if (p[0] < '0' || p[0] > '2' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

static void log_hour(const struct hm_meter *m)
{
	const struct hm_derived *d = &m->derived;
	char line[512], a[32], b[32], c[32]; /* nine numbers of <= 21 bytes and ~130 of text */
	struct hm_strbuf o;
	int h = start_hour(m->derived_json);

	/* The list at 00:00 closes the day's last hour and opens the next day
	 * (and on the 1st the next month) at 0: then the closed day and month
	 * are the news. */
	bool new_day = d->hours_today == 0 && d->hours_yesterday > 0;
	bool new_month = d->hours_month == 0 && d->hours_last_month > 0;
	const struct hm_derived_pair *day = new_day ? &d->yesterday : &d->today;
	const struct hm_derived_pair *month = new_month ? &d->last_month : &d->month;
	const char *day_word = new_day ? "yesterday" : "today", *month_word = new_month ? "last month" : "month";

	fmt_kwh(a, sizeof a, d->last.import_mwh, 3);
	fmt_kwh(b, sizeof b, day->import_mwh, 1);
	fmt_kwh(c, sizeof c, month->import_mwh, 1);
	hm_strbuf_init(&o, line, sizeof line);
	if (h >= 0)
		hm_strbuf_printf(&o, "hour %02d-%02d %s kWh", h, h + 1, a);
	else
		hm_strbuf_printf(&o, "last hour %s kWh", a);
	if (d->last_estimated)
		hm_strbuf_puts(&o, " estimated");
	hm_strbuf_printf(&o, ", %s %s kWh, %s %s kWh", day_word, b, month_word, c);
	if (d->has_export) {
		fmt_kwh(a, sizeof a, d->last.export_mwh, 3);
		fmt_kwh(b, sizeof b, day->export_mwh, 1);
		fmt_kwh(c, sizeof c, month->export_mwh, 1);
		hm_strbuf_printf(&o, ", export hour %s kWh, %s %s kWh, %s %s kWh", a, day_word, b, month_word, c);
	}
	int64_t mean = hm_derived_mean_mwh(d);
	if (mean >= 0) {
		fmt_kwh(a, sizeof a, mean, 3); /* mean hourly kWh = kW */
		hm_strbuf_printf(&o, ", capacity step %u (mean %s kW)", hm_derived_step(d), a);
	}
	hm_log_meter(LOG_INFO, m->conf->name, "%s", line);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct journal *j = userdata;
	for (unsigned i = 0; i < j->n; i++)
		if (j->fresh[i]) {
			j->fresh[i] = false;
			log_reading(j->d->conf->meter[i].name, &j->last[i]);
		}
	sd_event_source_set_time(s, usec + (uint64_t)j->d->conf->journal.interval_s * 1000000u);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static void journal_free(struct journal *j)
{
	sd_event_source_disable_unref(j->timer);
	free(j->last);
	free(j->fresh);
	free(j->hour_logged);
	free(j);
}

static int journal_start(struct hm_daemon *d, void **state)
{
	struct journal *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	j->d = d;
	j->n = d->conf->n_meters;
	j->last = calloc(j->n ? j->n : 1, sizeof *j->last);
	j->fresh = calloc(j->n ? j->n : 1, sizeof *j->fresh);
	j->hour_logged = calloc(j->n ? j->n : 1, sizeof *j->hour_logged);
	int rc = j->last && j->fresh && j->hour_logged ? 0 : -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < j->n; i++)
		j->hour_logged[i] = INT64_MIN;
	/* an hour in the state file was logged by the run that closed it */
	for (unsigned k = 0; rc == 0 && k < d->n_meters; k++) {
		const struct hm_meter *m = &d->meter[k];
		size_t i = (size_t)(m->conf - d->conf->meter);
		if (i < j->n && m->derived.have_last)
			j->hour_logged[i] = m->derived.last_hour;
	}
	if (rc == 0 && d->conf->journal.interval_s)
		rc = sd_event_add_time_relative(d->event, &j->timer, CLOCK_MONOTONIC,
		                                (uint64_t)d->conf->journal.interval_s * 1000000u, 0, on_tick, j);
	if (rc < 0) {
		journal_free(j);
		return rc;
	}
	*state = j;
	return 0;
}

static void journal_reading(void *state, struct hm_meter *m, const struct hm_reading *r)
{
	struct journal *j = state;
	size_t i = (size_t)(m->conf - j->d->conf->meter);
	if (i >= j->n)
		return;
	/* derived_len > 0: this reading changed the figures; log once per hour */
	if (m->derived_len > 0 && m->derived.have_last && m->derived.last_hour != j->hour_logged[i]) {
		j->hour_logged[i] = m->derived.last_hour;
		log_hour(m);
	}
	if (!j->timer)
		return;
	j->last[i] = *r;
	j->fresh[i] = true;
}

static void journal_stop(void *state)
{
	journal_free(state);
}

const struct hm_sink_ops hm_sink_journal = {
    .name = "journal",
    .enabled = journal_enabled,
    .start = journal_start,
    .reading = journal_reading,
    .availability = NULL,
    .frame = NULL,
    .stop = journal_stop,
};
