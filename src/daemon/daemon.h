/*
 * daemon.h - the pieces of hanmeterd and the two extension tables.
 *
 * One process, one thread, one sd-event loop.  A daemon has meters (one per
 * [meter NAME] section); each meter owns one source instance, one framer and
 * one decoder.  Decoded readings go to every started sink.
 *
 * Adding a source or a sink means one file in src/source or src/sink and one
 * line in hm_sources[] / hm_sinks[] (registry.c).  Sources and sinks never
 * block: they register their fds and timers on d->event.
 */
#ifndef HANMETERD_DAEMON_H
#define HANMETERD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hanmeter/decode.h"
#include "hanmeter/hdlc.h"
#include "hanmeter/reading.h"

#include "config.h"

struct hm_daemon;
struct hm_meter;

/* Per-meter counters (published in STATUS= and by sinks as statistics). */
struct hm_meter_stats {
	uint64_t bytes;        /* bytes received from the source */
	uint64_t readings;     /* readings decoded and handed to sinks */
	uint64_t reconnects;   /* source (re)opens after the first */
	uint64_t last_frame_us;/* CLOCK_MONOTONIC of the last good message, 0 = none */
};

/* A source: where a meter's bytes come from. */
struct hm_source_ops {
	const char *name; /* "serial", "tcp", "file" */
	/* True if this source serves mc (e.g. serial: mc->device is set). */
	bool (*claims)(const struct hm_meter_conf *mc);
	/* Opens the source and registers its fd/timers on m->d->event; 0 or -errno.
	 * Bytes read go to hm_meter_input(); a later failure calls hm_meter_fail(). */
	int (*open)(struct hm_meter *m);
	/* Closes the source and drops its event sources; safe to call when closed. */
	void (*close)(struct hm_meter *m);
};

/* A sink: where readings go. */
struct hm_sink_ops {
	const char *name; /* "mqtt", "domoticz", "journal", "jsonl": its config section */
	/* True if the configuration asks for this sink. */
	bool (*enabled)(const struct hm_config *c);
	/* Starts the sink (connections, fds, timers on d->event); 0 or -errno.
	 * *state is the sink's own data, passed back to the calls below. */
	int (*start)(struct hm_daemon *d, void **state);
	/* A decoded reading from meter m (r is only valid during the call). */
	void (*reading)(void *state, struct hm_meter *m, const struct hm_reading *r);
	/* Meter m's source went up (online) or down; may be NULL. */
	void (*availability)(void *state, struct hm_meter *m, bool online);
	/* Every framed message or rejected candidate of meter m; may be NULL. */
	void (*frame)(void *state, struct hm_meter *m, const struct hm_frame *f);
	/* Flushes what can be flushed within a short bound and frees state. */
	void (*stop)(void *state);
};

extern const struct hm_source_ops *const hm_sources[]; /* NULL-terminated */
extern const struct hm_sink_ops *const hm_sinks[];     /* NULL-terminated */

struct hm_meter {
	struct hm_daemon *d;                /* owner */
	const struct hm_meter_conf *conf;   /* points into d->conf */
	const struct hm_source_ops *source; /* the source serving it */
	void *src;                          /* the source's own state */
	struct hm_hdlc hdlc;                /* framer */
	struct hm_decoder dec;              /* decoder */
	struct hm_reading reading;          /* scratch for the current message */
	struct hm_meter_stats stats;        /* counters */
	bool online;                        /* source open and delivering */
	unsigned retry_ms;                  /* current back-off */
	sd_event_source *retry_timer;       /* armed while the source is closed */
};

struct hm_daemon {
	sd_event *event;                   /* the one loop */
	struct hm_config *conf;            /* the configuration in force */
	unsigned n_meters;
	struct hm_meter *meter;            /* n_meters entries */
	unsigned n_sinks;
	const struct hm_sink_ops *sink[8]; /* started sinks */
	void *sink_state[8];               /* their state */
	bool foreground;                   /* -n: log to stderr */
};

/* Bytes from m's source: framer -> decoder -> sinks. */
void hm_meter_input(struct hm_meter *m, const uint8_t *p, size_t n);
/* m's source failed (errno-style err): close it, tell sinks, arm the back-off. */
void hm_meter_fail(struct hm_meter *m, int err);
/* m's source is open and delivering (resets the back-off, tells sinks). */
void hm_meter_online(struct hm_meter *m);

#endif
