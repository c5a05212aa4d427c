/*
 * daemon.c - the one sd-event loop: signals, start/stop, reload, and the
 * service manager protocol (sd_notify(3)).
 *
 *   start   sinks first (so the first reading has somewhere to go), then
 *           every meter's source; READY=1 once both are up.  A source that
 *           cannot open is retried with back-off; it never stops the daemon.
 *   SIGHUP  parse the file into a new configuration and check it; only if it
 *           is good: RELOADING=1, stop sources and sinks, swap, start, READY=1.
 *           A bad file leaves everything running and logs file:line: message.
 *           (systemd 252 has no Type=notify-reload; the unit's ExecReload
 *           sends the SIGHUP.)
 *   SIGTERM/SIGINT  STOPPING=1, leave the loop, stop sources then sinks
 *           (each flushes within its own short bound), exit 0.
 *   STATUS= every daemon.status_interval seconds; WATCHDOG=1 from sd-event
 *           itself when the unit sets WatchdogSec=.
 *
 * Signals are blocked and delivered through signalfd by sd-event: no code
 * runs in signal context.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"

/* Starts meters and sinks for d->conf.  On a reload, old[] are the meters of
 * the previous configuration: counters follow a meter by name. */
static int start_all(struct hm_daemon *d, bool first, const struct hm_meter *old, unsigned n_old)
{
	struct hm_config *c = d->conf;

	/* Meters exist before sinks start (a sink may size its tables by them);
	 * their sources open after, so that no reading arrives before a sink. */
	d->meter = calloc(c->n_meters ? c->n_meters : 1, sizeof *d->meter);
	if (!d->meter)
		return -ENOMEM;
	d->n_meters = c->n_meters;
	for (unsigned i = 0; i < c->n_meters; i++)
		if (hm_meter_init(d, &d->meter[i], &c->meter[i]) < 0)
			hm_log_meter(LOG_ERR, c->meter[i].name, "no source serves this meter");
	for (unsigned i = 0; i < d->n_meters; i++)
		for (unsigned j = 0; j < n_old; j++)
			if (strcmp(d->meter[i].conf->name, old[j].conf->name) == 0) {
				d->meter[i].stats = old[j].stats;
				d->meter[i].derived = old[j].derived; /* newer than its file if a save failed */
				hm_derived_set_steps(&d->meter[i].derived, c->meter[i].capacity_step_w,
				                     c->meter[i].n_capacity_steps); /* the new file's */
			}

	d->n_sinks = 0;
	for (size_t i = 0; hm_sinks[i]; i++) {
		const struct hm_sink_ops *so = hm_sinks[i];
		void *state = NULL;
		if (!so->enabled(c))
			continue;
		if (d->n_sinks == sizeof d->sink / sizeof d->sink[0]) {
			hm_log(LOG_ERR, "sink %s: too many sinks", so->name);
			continue;
		}
		int rc = so->start(d, &state);
		if (rc < 0) {
			hm_log(LOG_ERR, "sink %s: cannot start: %s", so->name, strerror(-rc));
			if (first)
				return rc;
			continue; /* on reload: run without it rather than not at all */
		}
		d->sink[d->n_sinks] = so;
		d->sink_state[d->n_sinks++] = state;
	}

	if (d->n_sinks == 0)
		hm_log(LOG_WARNING,
		       "no sink configured: readings go nowhere (add [mqtt], [domoticz], [journal] or [jsonl])");
	for (unsigned i = 0; i < d->n_meters; i++)
		hm_meter_start(&d->meter[i]);
	return 0;
}

static void stop_all(struct hm_daemon *d)
{
	for (unsigned i = 0; i < d->n_meters; i++)
		hm_meter_stop(&d->meter[i]);
	while (d->n_sinks > 0) {
		d->n_sinks--;
		d->sink[d->n_sinks]->stop(d->sink_state[d->n_sinks]);
	}
}

static void free_meters(struct hm_daemon *d)
{
	free(d->meter);
	d->meter = NULL;
	d->n_meters = 0;
}

static void notify_status(struct hm_daemon *d)
{
	uint64_t frames = 0, readings = 0, errors = 0, reconnects = 0, garbage = 0, last = 0;
	unsigned online = 0;
	for (unsigned i = 0; i < d->n_meters; i++) {
		const struct hm_meter *m = &d->meter[i];
		frames += m->stats.frames;
		readings += m->stats.readings;
		errors += m->stats.errors;
		reconnects += m->stats.reconnects;
		garbage += m->hdlc.stats.garbage_bytes;
		online += m->online;
		if (m->stats.last_frame_us > last)
			last = m->stats.last_frame_us;
	}
	char age[48] = "no frame yet";
	if (last)
		snprintf(age, sizeof age, "last frame %" PRIu64 " s ago", (hm_now_us() - last) / 1000000u);
	sd_notifyf(0,
	           "STATUS=%u meters (%u online), %" PRIu64 " frames, %" PRIu64 " readings, %" PRIu64
	           " errors, %" PRIu64 " reconnects, %" PRIu64 " garbage bytes, %s",
	           d->n_meters, online, frames, readings, errors, reconnects, garbage, age);
}

static int on_status(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_daemon *d = userdata;
	notify_status(d);
	sd_event_source_set_time(s, usec + (uint64_t)d->conf->daemon.status_interval_s * 1000000u);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static int arm_status(struct hm_daemon *d)
{
	d->status_timer = sd_event_source_disable_unref(d->status_timer);
	return sd_event_add_time_relative(d->event, &d->status_timer, CLOCK_MONOTONIC,
	                                  (uint64_t)d->conf->daemon.status_interval_s * 1000000u, 0, on_status, d);
}

static int log_level(const struct hm_daemon *d)
{
	int level = d->conf->daemon.log_level;
	return d->debug && level < LOG_DEBUG ? LOG_DEBUG : level;
}

static void reload(struct hm_daemon *d)
{
	char err[HM_CONF_ERR];
	struct hm_config *nc = calloc(1, sizeof *nc); /* zeroed, as hm_config_load() wants */
	if (!nc) {
		hm_log(LOG_ERR, "reload: out of memory; keeping the running configuration");
		return;
	}
	if (hm_config_load(nc, d->conf->path, err, sizeof err) < 0) {
		hm_log(LOG_ERR, "reload: %s; keeping the running configuration", err);
		hm_config_free(nc);
		free(nc);
		return;
	}
	sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
	if (nc->warning[0])
		hm_log(LOG_WARNING, "%s", nc->warning);

	unsigned n_old = d->n_meters;
	struct hm_meter *old = d->meter;
	struct hm_config *old_conf = d->conf;
	stop_all(d);
	d->meter = NULL;
	d->n_meters = 0;
	d->conf = nc;
	hm_log_set_level(log_level(d));
	if (start_all(d, false, old, n_old) < 0)
		hm_log(LOG_ERR, "reload: cannot start: out of memory");
	free(old);
	hm_config_free(old_conf);
	free(old_conf);
	arm_status(d);
	hm_log(LOG_NOTICE, "reloaded %s: %u meters, %u sinks", d->conf->path, d->n_meters, d->n_sinks);
	sd_notify(0, "READY=1");
	notify_status(d);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct hm_daemon *d = userdata;
	(void)s;
	if (si->ssi_signo == SIGHUP) {
		hm_log(LOG_INFO, "SIGHUP: reloading %s", d->conf->path);
		reload(d);
		return 0;
	}
	hm_log(LOG_INFO, "%s: stopping", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(d->event, 0);
}

int hm_daemon_run(struct hm_config *conf, bool foreground, unsigned debug)
{
	struct hm_daemon d = {.conf = conf, .foreground = foreground, .debug = debug};
	int rc, status = EXIT_FAILURE;
	sigset_t mask;

	d.rand = (uint32_t)getpid() ^ (uint32_t)hm_now_us();
	hm_log_set_level(log_level(&d));
	if (conf->warning[0])
		hm_log(LOG_WARNING, "%s", conf->warning);

	/* A peer that goes away must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	if ((rc = sd_event_default(&d.event)) < 0 || (rc = hm_resolver_new(&d)) < 0 ||
	    (rc = sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d)) < 0 ||
	    (rc = sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d)) < 0 ||
	    (rc = sd_event_add_signal(d.event, NULL, SIGHUP, on_signal, &d)) < 0 ||
	    (rc = sd_event_set_watchdog(d.event, 1)) < 0 || (rc = arm_status(&d)) < 0) {
		hm_log(LOG_ERR, "event loop: %s", strerror(-rc));
		goto out;
	}
	if ((rc = start_all(&d, true, NULL, 0)) < 0) {
		stop_all(&d);
		goto out;
	}
	hm_log(LOG_NOTICE, "hanmeterd %s: %s, %u meters, %u sinks", HM_VERSION, conf->path, d.n_meters, d.n_sinks);
	sd_notify(0, "READY=1");
	notify_status(&d);

	rc = sd_event_loop(d.event);
	stop_all(&d);
	if (rc < 0)
		hm_log(LOG_ERR, "event loop: %s", strerror(-rc));
	else
		status = EXIT_SUCCESS;
out:
	free_meters(&d);
	d.status_timer = sd_event_source_disable_unref(d.status_timer);
	hm_resolver_free(&d);
	sd_event_unref(d.event);
	hm_config_free(d.conf);
	free(d.conf);
	return status;
}
