/*
 * serial.c - the serial source: a meter's HAN port through an M-Bus adapter
 * (device = /dev/ttyUSB0, /dev/serial/by-id/..., /dev/hanmeter0) or a pty.
 *
 * The fd is non-blocking and watched by the loop.  End of file, EIO or a
 * hang-up (adapter unplugged, pty master closed) fail the source; the meter
 * then retries with back-off until the device path opens again.
 *
 * baud = auto and/or parity = auto: the port is opened at each setting HAN
 * and P1 meters use, in turn (2400 8E1 NEK HAN Aidon/Kaifa, 2400 8N1
 * Kamstrup, 115200 8N1 DSMR 4/5, 9600 7E1 DSMR 2.2/3), restricted to the
 * baud or parity that is given.  A setting is kept as soon as a framer
 * yields a good (checksummed) message at it, and that is logged; it is
 * given up after DETECT_BYTES bytes or DETECT_WINDOW_S seconds without one.
 * The setting found is kept for the meter's life (until a reload), across
 * reconnects.  7E1 is read as 8N1 with bit 7 (the parity bit) stripped:
 * both are 10-bit characters, so the UART delivers the same bits.  Limits:
 * a pty has no line, so on a pty only the baud rate changes and the
 * detector can be tested only by what it is fed; a meter silent for longer
 * than the window makes it move on (it comes round again).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/serial.h"
#include "daemon.h"
#include "log.h"

/* One read: 2400 baud is 240 bytes/s; a 4 KiB read holds seconds of it. */
#define READ_CHUNK 4096

/* Detection: 2 KiB is more than two of the longest messages (a ~600-byte
 * Swedish Aidon list, an ~1 KiB DSMR 5 telegram), so a right setting has
 * shown a good one by then; 25 s covers two 10 s list-2 periods, for a
 * wrong baud that yields few bytes. */
#define DETECT_BYTES    2048
#define DETECT_WINDOW_S 25
#define SETTINGS_MAX    4

struct line_setting {
	unsigned baud;
	enum hm_parity parity;
	bool seven_bit; /* 7E1: read as 8N1, bit 7 stripped */
};

/* The settings meters use, in the order tried (see the header comment). */
static const struct line_setting known[SETTINGS_MAX] = {
    {2400, HM_PARITY_EVEN, false},   /* NEK HAN: Aidon, Kaifa */
    {2400, HM_PARITY_NONE, false},   /* Kamstrup HAN */
    {115200, HM_PARITY_NONE, false}, /* DSMR 4.x / 5.x P1 */
    {9600, HM_PARITY_EVEN, true},    /* DSMR 2.2 / 3.0 P1, 7E1 */
};

struct serial_src {
	struct hm_serial *port;
	int fd;
	sd_event_source *io;
	/* detection */
	struct line_setting try[SETTINGS_MAX]; /* candidates */
	unsigned n_try, cur;                   /* how many, which one is open */
	bool detecting;                        /* more than one candidate and none found yet */
	uint64_t frames0;                      /* m->stats.frames when cur was opened */
	size_t bytes;                          /* bytes read at cur */
	sd_event_source *window;               /* DETECT_WINDOW_S at cur */
};

static bool serial_claims(const struct hm_meter_conf *mc)
{
	return mc->device[0] != 0;
}

static const char *setting_name(const struct line_setting *l, char *buf, size_t len)
{
	snprintf(buf, len, "%u %c%c1", l->baud, l->seven_bit ? '7' : '8',
	         l->parity == HM_PARITY_EVEN  ? 'E'
	         : l->parity == HM_PARITY_ODD ? 'O'
	                                      : 'N');
	return buf;
}

/* The candidates for mc: known[] filtered by a given baud or parity; a
 * given baud no meter in known[] uses gets even, then none. */
static unsigned candidates(const struct hm_meter_conf *mc, struct line_setting *out)
{
	unsigned n = 0;
	if (mc->baud && mc->parity != HM_PARITY_AUTO) {
		out[0] = (struct line_setting){mc->baud, mc->parity, false};
		return 1;
	}
	for (unsigned i = 0; i < SETTINGS_MAX; i++)
		if ((!mc->baud || mc->baud == known[i].baud) &&
		    (mc->parity == HM_PARITY_AUTO || mc->parity == known[i].parity))
			out[n++] = known[i];
	if (n == 0 && mc->baud) {
		out[n++] = (struct line_setting){mc->baud, HM_PARITY_EVEN, false};
		out[n++] = (struct line_setting){mc->baud, HM_PARITY_NONE, false};
	}
	return n;
}

static int open_port(struct hm_meter *m, struct serial_src *ss);
static void drop_port(struct serial_src *ss);

/* Gives up the current setting and opens the next one. */
static void next_setting(struct hm_meter *m, struct serial_src *ss)
{
	char a[32], b[32];
	unsigned from = ss->cur;
	ss->cur = (ss->cur + 1) % ss->n_try;
	hm_log_meter(LOG_INFO, m->conf->name, "serial: no valid checksum at %s in %zu bytes; trying %s",
	             setting_name(&ss->try[from], a, sizeof a), ss->bytes,
	             setting_name(&ss->try[ss->cur], b, sizeof b));
	drop_port(ss);
	int rc = open_port(m, ss);
	if (rc < 0)
		hm_meter_fail(m, rc); /* frees ss */
}

static int on_window(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	(void)s;
	(void)usec;
	next_setting(m, m->src);
	return 0;
}

/* After each read while detecting: a good message keeps the setting. */
static void detect(struct hm_meter *m, struct serial_src *ss, size_t n)
{
	char a[32];
	if (m->stats.frames > ss->frames0) {
		ss->detecting = false;
		ss->window = sd_event_source_disable_unref(ss->window);
		m->line_found = ss->cur + 1;
		hm_log_meter(LOG_NOTICE, m->conf->name, "serial: %s yields valid checksums: keeping it",
		             setting_name(&ss->try[ss->cur], a, sizeof a));
		return;
	}
	ss->bytes += n;
	if (ss->bytes >= DETECT_BYTES)
		next_setting(m, ss);
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hm_meter *m = userdata;
	struct serial_src *ss = m->src;
	uint8_t buf[READ_CHUNK];
	(void)s;
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		if (ss->try[ss->cur].seven_bit)
			for (ssize_t i = 0; i < n; i++)
				buf[i] &= 0x7F; /* the parity bit of a 7E1 character */
		hm_meter_input(m, buf, (size_t)n);
		if (ss->detecting)
			detect(m, ss, (size_t)n);
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* 0 = end of file; EIO = pty master gone or adapter unplugged; HUP likewise. */
	(void)revents;
	hm_meter_fail(m, n == 0 ? -EIO : -errno);
	return 0;
}

static void drop_port(struct serial_src *ss)
{
	ss->io = sd_event_source_disable_unref(ss->io);
	ss->window = sd_event_source_disable_unref(ss->window);
	hm_serial_close(ss->port);
	ss->port = NULL;
}

static void serial_close(struct hm_meter *m)
{
	struct serial_src *ss = m->src;
	if (!ss)
		return;
	drop_port(ss);
	free(ss);
	m->src = NULL;
}

/* Opens the port at ss->try[ss->cur]; 0 or -errno. */
static int open_port(struct hm_meter *m, struct serial_src *ss)
{
	static const enum hm_serial_parity parity[] = {[HM_PARITY_NONE] = HM_SERIAL_PARITY_NONE,
	                                               [HM_PARITY_EVEN] = HM_SERIAL_PARITY_EVEN,
	                                               [HM_PARITY_ODD] = HM_SERIAL_PARITY_ODD,
	                                               [HM_PARITY_AUTO] = HM_SERIAL_PARITY_EVEN};
	const struct line_setting *l = &ss->try[ss->cur];
	/* 7E1 is read as 8N1 (see the header comment). */
	enum hm_serial_parity par = l->seven_bit ? HM_SERIAL_PARITY_NONE : parity[l->parity];
	char err[HM_CONF_STR + 128];
	ss->port = hm_serial_open(m->conf->device, l->baud, par, 1, &ss->fd, err, sizeof err);
	if (!ss->port) {
		int e = errno ? errno : EIO;
		hm_log_meter(LOG_DEBUG, m->conf->name, "%s", err);
		return -e;
	}
	int rc = sd_event_add_io(m->d->event, &ss->io, ss->fd, EPOLLIN, on_readable, m);
	if (rc >= 0 && ss->detecting) {
		ss->frames0 = m->stats.frames;
		ss->bytes = 0;
		rc = sd_event_add_time_relative(m->d->event, &ss->window, CLOCK_MONOTONIC,
		                                (uint64_t)DETECT_WINDOW_S * 1000000u, 0, on_window, m);
	}
	if (rc < 0) {
		drop_port(ss);
		return rc;
	}
	return 0;
}

static int serial_open(struct hm_meter *m)
{
	char a[32];
	struct serial_src *ss = calloc(1, sizeof *ss);
	if (!ss)
		return -ENOMEM;
	ss->n_try = candidates(m->conf, ss->try);
	if (m->line_found && m->line_found <= ss->n_try) {
		ss->cur = m->line_found - 1; /* found before this reconnect: keep it */
	} else if (ss->n_try > 1) {
		ss->detecting = true;
		hm_log_meter(LOG_INFO, m->conf->name, "serial: detecting the line settings (%u candidates), trying %s",
		             ss->n_try, setting_name(&ss->try[0], a, sizeof a));
	}
	m->src = ss;
	int rc = open_port(m, ss);
	if (rc < 0) {
		free(ss);
		m->src = NULL;
		return rc;
	}
	hm_meter_online(m);
	return 0;
}

const struct hm_source_ops hm_source_serial = {
    .name = "serial",
    .claims = serial_claims,
    .open = serial_open,
    .close = serial_close,
};
