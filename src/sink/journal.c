/*
 * journal.c - the journal sink: every [journal] readings = N seconds, one
 * line per meter with its latest reading, as name=value pairs in the units
 * the names end with:
 *
 *   meter house: active_power_import_w=2531 ... voltage_l1_v=231
 *
 * (HANMETER_METER=house in the journal).  Everything else the journal gets
 * (start, reconnects, rejected frames) comes from log.c directly; readings
 * = 0 keeps just that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

struct journal {
	struct hm_daemon *d;
	unsigned n;              /* meters */
	struct hm_reading *last; /* n latest readings */
	bool *fresh;             /* n: a reading arrived since the last line */
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
	int rc = j->last && j->fresh ? 0 : -ENOMEM;
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
	if (!j->timer || i >= j->n)
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
