/*
 * serial.c - the serial source: a meter's HAN port through an M-Bus adapter
 * (device = /dev/ttyUSB0, /dev/serial/by-id/..., /dev/hanmeter0) or a pty.
 *
 * The fd is non-blocking and watched by the loop.  End of file, EIO or a
 * hang-up (adapter unplugged, pty master closed) fail the source; the meter
 * then retries with back-off until the device path opens again.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/serial.h"
#include "daemon.h"
#include "log.h"

/* One read: 2400 baud is 240 bytes/s; a 4 KiB read holds seconds of it. */
#define READ_CHUNK 4096

struct serial_src {
	struct hm_serial *port;
	int fd;
	sd_event_source *io;
};

static bool serial_claims(const struct hm_meter_conf *mc)
{
	return mc->device[0] != 0;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hm_meter *m = userdata;
	uint8_t buf[READ_CHUNK];
	(void)s;
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		hm_meter_input(m, buf, (size_t)n);
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* 0 = end of file; EIO = pty master gone or adapter unplugged; HUP likewise. */
	(void)revents;
	hm_meter_fail(m, n == 0 ? -EIO : -errno);
	return 0;
}

static void serial_close(struct hm_meter *m)
{
	struct serial_src *ss = m->src;
	if (!ss)
		return;
	sd_event_source_disable_unref(ss->io);
	hm_serial_close(ss->port);
	free(ss);
	m->src = NULL;
}

static int serial_open(struct hm_meter *m)
{
	static const enum hm_serial_parity parity[] = {[HM_PARITY_NONE] = HM_SERIAL_PARITY_NONE,
	                                               [HM_PARITY_EVEN] = HM_SERIAL_PARITY_EVEN,
	                                               [HM_PARITY_ODD] = HM_SERIAL_PARITY_ODD};
	char err[HM_CONF_STR + 128];
	struct serial_src *ss = calloc(1, sizeof *ss);
	if (!ss)
		return -ENOMEM;
	ss->port = hm_serial_open(m->conf->device, m->conf->baud, parity[m->conf->parity], 1, &ss->fd, err, sizeof err);
	if (!ss->port) {
		int e = errno ? errno : EIO;
		hm_log_meter(LOG_DEBUG, m->conf->name, "%s", err);
		free(ss);
		return -e;
	}
	int rc = sd_event_add_io(m->d->event, &ss->io, ss->fd, EPOLLIN, on_readable, m);
	if (rc < 0) {
		hm_serial_close(ss->port);
		free(ss);
		return rc;
	}
	m->src = ss;
	hm_meter_online(m);
	return 0;
}

const struct hm_source_ops hm_source_serial = {
    .name = "serial",
    .claims = serial_claims,
    .open = serial_open,
    .close = serial_close,
};
