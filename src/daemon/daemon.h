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
#include <netdb.h>

#include <systemd/sd-event.h>

#include "hanmeter/apdustream.h"
#include "hanmeter/decode.h"
#include "hanmeter/cipher.h"
#include "hanmeter/derived.h"
#include "hanmeter/gbt.h"
#include "hanmeter/hdlc.h"
#include "hanmeter/mbus.h"
#include "hanmeter/p1.h"
#include "hanmeter/reading.h"

#include "config.h"
#include "log.h"

struct hm_daemon;
struct hm_meter;
struct hm_resolver;
struct hm_resolve;

/* Per-meter counters (published in STATUS= and by sinks as statistics). */
struct hm_meter_stats {
	uint64_t bytes;         /* bytes received from the source */
	uint64_t readings;      /* readings decoded and handed to sinks */
	uint64_t reconnects;    /* source (re)opens after the first */
	uint64_t last_frame_us; /* CLOCK_MONOTONIC of the last good message, 0 = none */
	uint64_t frames;        /* good messages from the framer */
	uint64_t errors;        /* rejected frames + messages that decoded to no reading */
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
	/* Protocols (int1): the framing in use, the other framers, block
	 * transfer, and the AES context the decoder reuses for every frame. */
	enum hm_protocol proto;    /* conf->protocol, or AUTO until a framer yields a good message */
	struct hm_mbus mbus;       /* M-Bus long-frame framer (protocol mbus or auto) */
	struct hm_p1 p1;           /* P1 telegram framer (protocol p1 or auto) */
	struct hm_apdustream dlms; /* bare ciphered APDUs, Smarty (protocol dlms or auto) */
	struct hm_gbt gbt;         /* general-block-transfer reassembly, after every framer */
	struct hm_cipher cipher;
	bool cipher_open;              /* cipher holds an EVP context (closed by hm_meter_stop) */
	unsigned line_found;           /* serial baud/parity = auto: 1 + the index of the setting found, 0 = none yet */
	struct hm_reading reading;     /* scratch for the current message */
	struct hm_meter_stats stats;   /* counters */
	bool online;                   /* source open and delivering */
	unsigned retry_ms;             /* current back-off */
	sd_event_source *retry_timer;  /* armed while the source is closed */
	unsigned opens;                /* times the source came online */
	struct hm_ratelimit rl_reject; /* "frame rejected" messages */
	struct hm_ratelimit rl_fail;   /* "source failed" messages */
	/* Derived figures (derived.h), kept in <state_dir>/<name>.derived.  While
	 * sinks see the hourly reading that changed them, derived_len > 0 and
	 * derived_json holds them as JSON members (hm_derived_json); else 0. */
	struct hm_derived derived;
	int derived_len;
	char derived_json[HM_DERIVED_JSON_MAX];
};

struct hm_daemon {
	sd_event *event;        /* the one loop */
	struct hm_config *conf; /* the configuration in force */
	unsigned n_meters;
	struct hm_meter *meter; /* n_meters entries */
	unsigned n_sinks;
	const struct hm_sink_ops *sink[8]; /* started sinks */
	void *sink_state[8];               /* their state */
	bool foreground;                   /* -n: log to stderr */
	unsigned debug;                    /* -D count: 1 = debug messages, 2 = also every frame in hex */
	struct hm_resolver *resolver;      /* asynchronous getaddrinfo (hm_resolve_start) */
	sd_event_source *status_timer;     /* STATUS= refresh every daemon.status_interval_s */
	uint32_t rand;                     /* xorshift32 state for back-off jitter */
};

/* Runs the daemon on a checked configuration (owned by the daemon from now
 * on) until SIGTERM/SIGINT; returns the process exit status. */
int hm_daemon_run(struct hm_config *conf, bool foreground, unsigned debug);

/*
 * Name resolution without blocking the loop (libsystemd 252 does not export
 * sd-resolve): glibc's getaddrinfo_a() resolves in its own thread, which
 * wakes the loop through an eventfd.  cb runs on the loop with err = 0 and
 * the addresses (valid during the call only), or err = an EAI_* code
 * (gai_strerror()).  hm_resolve_cancel() guarantees cb is not called after
 * it returns.  Numeric hosts work too (no DNS is asked).
 */
typedef void (*hm_resolve_cb)(void *ctx, int err, const struct addrinfo *ai);
int hm_resolve_start(struct hm_daemon *d, const char *host, uint16_t port, int socktype, hm_resolve_cb cb, void *ctx,
                     struct hm_resolve **req);
void hm_resolve_cancel(struct hm_resolve *req);
int hm_resolver_new(struct hm_daemon *d);
void hm_resolver_free(struct hm_daemon *d);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t hm_now_us(void);

/* Bytes from m's source: framer -> decoder -> sinks. */
void hm_meter_input(struct hm_meter *m, const uint8_t *p, size_t n);
/* One whole message that came without a framer (an MQTT payload holding a
 * bare APDU, LLC header optional): block transfer -> decoder -> sinks. */
void hm_meter_apdu(struct hm_meter *m, const uint8_t *p, size_t n);
/* "hdlc", "mbus", "p1" or "auto". */
const char *hm_protocol_name(enum hm_protocol p);
/* A reading a polling source (KMP) assembled itself, bypassing the framer
 * and decoder: scale -> every sink, counted in stats.readings.  r may be
 * m->reading. */
void hm_meter_reading(struct hm_meter *m, struct hm_reading *r);
/* m's source failed (errno-style err): close it, tell sinks, arm the back-off. */
void hm_meter_fail(struct hm_meter *m, int err);
/* m's source is open and delivering (resets the back-off, tells sinks). */
void hm_meter_online(struct hm_meter *m);
/* m's source ended for good (a file source at its end): flush the framer, no retry. */
void hm_meter_eof(struct hm_meter *m);
/* Sets m up for mc: framer, decoder, the source from hm_sources[] that
 * claims mc (none opened yet, so sinks starting next can see every meter).
 * 0, or -ENODEV when no source claims mc. */
int hm_meter_init(struct hm_daemon *d, struct hm_meter *m, const struct hm_meter_conf *mc);
/* Opens m's source; one that fails is retried with back-off, never fatal. */
void hm_meter_start(struct hm_meter *m);
/* Closes m's source, drops its timers and frees its AES context (at stop
 * and reload; sinks are not told through availability(): their stop()
 * follows). */
void hm_meter_stop(struct hm_meter *m);
/* "serial /dev/ttyUSB0", "tcp host:port", "file PATH": for messages. */
const char *hm_meter_where(const struct hm_meter *m, char *buf, size_t len);

#endif
