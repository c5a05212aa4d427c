/*
 * kmp.c - the KMP source: polls a Kamstrup MULTICAL heat meter (302, 402,
 * 403, 601, 602, 603) over its optical eye (device = ..., 1200 baud 8N2)
 * or through ser2net (tcp = HOST:PORT), where the meter speaks only when
 * asked.
 *
 * A round every poll_interval seconds (3600 by default: each answer costs
 * the meter's battery, as in Home Assistant's Kamstrup 403 integration),
 * the first one FIRST_POLL_MS after the source opens: the registers list
 * is asked for in GetRegister requests of at most 8 (kmppoll.h), one at a
 * time; each waits timeout ms for its answer and is sent again up to
 * retries times after a silence or a bad answer (CRC, wrong registers).
 * Every bad answer and every timeout counts in stats.errors.  Until the
 * meter told its serial number (GetSerialNo, asked first in a round), so
 * that readings carry meter_serial, which Home Assistant discovery needs
 * as the device's identity.  The registers
 * of a round make one reading, handed on when the round ends; a request
 * that never got a good answer leaves its registers out (never stale or
 * guessed values).  A round in which no request was answered fails the
 * source: it is closed, the meter shows offline, and the back-off reopens
 * it and starts a new round.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/kmppoll.h"
#include "common/serial.h"
#include "daemon.h"
#include "log.h"

#define READ_CHUNK    256                       /* an answer is at most HM_KMP_FRAME_MAX (258) bytes */
#define FIRST_POLL_MS 500                       /* after open: lets an optical head's supply settle */
#define KMP_STOP_BITS 2                         /* MULTICAL optical eye: 8N2 */
#define METER_MODEL   "Kamstrup MULTICAL (KMP)" /* KMP GetType gives a code, not a name */

struct kmp_src {
	struct hm_serial *port;    /* device =, or NULL */
	struct hm_resolve *query;  /* tcp =: name lookup in flight */
	int fd;                    /* -1 = none */
	bool connected;            /* serial open, or TCP connect done */
	sd_event_source *io;       /* watch on fd */
	sd_event_source *poll;     /* next round */
	sd_event_source *deadline; /* answer timeout while a request is out */
	struct hm_kmp_rx rx;       /* the answer being gathered */
	unsigned req, n_req;       /* request of the round, requests per round */
	unsigned tries;            /* times the current request was sent */
	unsigned answered;         /* requests of the round with a good answer */
	bool asking_serial;        /* the request out is GetSerialNo */
	char serial[16];           /* the meter's serial number, "" = not known yet */
	bool waiting;              /* a request is out */
	uint64_t round_start_us;   /* CLOCK_MONOTONIC of the round's start */
};

static bool kmp_claims(const struct hm_meter_conf *mc)
{
	return mc->kmp;
}

static void kmp_close(struct hm_meter *m)
{
	struct kmp_src *ks = m->src;
	if (!ks)
		return;
	hm_resolve_cancel(ks->query);
	sd_event_source_disable_unref(ks->io);
	sd_event_source_disable_unref(ks->poll);
	sd_event_source_disable_unref(ks->deadline);
	if (ks->port)
		hm_serial_close(ks->port); /* closes fd */
	else if (ks->fd >= 0)
		close(ks->fd);
	free(ks);
	m->src = NULL;
}

/* "request 2, try 3: why", rate-limited like the framer's rejections. */
static void log_bad(struct hm_meter *m, unsigned req, unsigned try, const char *why)
{
	unsigned dropped;
	if (!hm_ratelimit_ok(&m->rl_reject, &dropped))
		return;
	if (dropped)
		hm_log_meter(LOG_WARNING, m->conf->name, "%u similar messages suppressed", dropped);
	hm_log_meter(LOG_WARNING, m->conf->name, "kmp: request %u%s, try %u: %s", req, req ? "" : " (GetSerialNo)", try,
	             why);
}

static void send_request(struct hm_meter *m);

/* Arms t to fire at CLOCK_MONOTONIC usec (0: now + rel_us). */
static int arm(struct hm_meter *m, sd_event_source **t, uint64_t rel_us, sd_event_time_handler_t cb)
{
	if (*t) {
		sd_event_source_set_time_relative(*t, rel_us);
		return sd_event_source_set_enabled(*t, SD_EVENT_ONESHOT);
	}
	return sd_event_add_time_relative(m->d->event, t, CLOCK_MONOTONIC, rel_us, 0, cb, m);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata);

/* The round is over: hand on what it gathered, schedule the next. */
static void end_round(struct hm_meter *m)
{
	struct kmp_src *ks = m->src;
	ks->waiting = false;
	sd_event_source_set_enabled(ks->deadline, SD_EVENT_OFF);
	if (ks->answered == 0) {
		hm_log_meter(LOG_WARNING, m->conf->name, "kmp: no answer to any of %u requests (%u tries each)",
		             ks->n_req, m->conf->retries + 1);
		hm_meter_fail(m, -ETIMEDOUT);
		return;
	}
	if (ks->answered < ks->n_req)
		hm_log_meter(LOG_NOTICE, m->conf->name, "kmp: %u of %u requests unanswered: their registers left out",
		             ks->n_req - ks->answered, ks->n_req);
	if (ks->serial[0])
		hm_reading_set_text(&m->reading, HM_TEXT_METER_SERIAL, ks->serial, strlen(ks->serial));
	hm_reading_set_text(&m->reading, HM_TEXT_METER_MODEL, METER_MODEL, strlen(METER_MODEL));
	hm_meter_reading(m, &m->reading);
	/* the next round interval seconds after this one began: no drift */
	uint64_t next = ks->round_start_us + (uint64_t)m->conf->poll_interval_s * 1000000u, now = hm_now_us();
	int rc = arm(m, &ks->poll, next > now ? next - now : 0, on_poll);
	if (rc < 0)
		hm_meter_fail(m, rc);
}

/* The current request is done with (answered or given up): the next one. */
static void next_request(struct hm_meter *m)
{
	struct kmp_src *ks = m->src;
	ks->tries = 0;
	if (ks->asking_serial) { /* answered or not: the registers now */
		ks->asking_serial = false;
		send_request(m);
	} else if (++ks->req >= ks->n_req)
		end_round(m);
	else
		send_request(m);
}

/* No (good) answer to the current request: send it again or give up. */
static void retry(struct hm_meter *m, const char *why)
{
	struct kmp_src *ks = m->src;
	m->stats.errors++;
	log_bad(m, ks->asking_serial ? 0 : ks->req + 1, ks->tries, why);
	if (ks->tries <= m->conf->retries)
		send_request(m);
	else
		next_request(m);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	(void)s;
	(void)usec;
	if (m->src && ((struct kmp_src *)m->src)->waiting)
		retry(m, "no answer within timeout");
	return 0;
}

static void send_request(struct hm_meter *m)
{
	struct kmp_src *ks = m->src;
	uint8_t req[HM_KMP_FRAME_MAX];
	size_t len;
	enum hm_err err =
	    ks->asking_serial
	        ? hm_kmp_request(HM_KMP_ADDR_HEAT_METER, HM_KMP_CID_GET_SERIAL, req, sizeof req, &len)
	        : hm_kmp_poll_request(m->conf->kmp_reg, m->conf->n_kmp_regs, ks->req, req, sizeof req, &len);
	if (err != HM_ERR_OK) {
		hm_log_meter(LOG_ERR, m->conf->name, "kmp: cannot build request %u", ks->req + 1); /* our bug */
		hm_meter_fail(m, -EINVAL);
		return;
	}
	hm_kmp_rx_reset(&ks->rx);
	ks->tries++;
	ks->waiting = true;
	/* A request is at most 1 + 2 * 20 + 1 bytes: it fits any empty
	 * pipe, pty or socket buffer, so a short write means a dead line. */
	ssize_t n = write(ks->fd, req, len);
	if (n != (ssize_t)len) {
		hm_meter_fail(m, n < 0 ? -errno : -EIO);
		return;
	}
	int rc = arm(m, &ks->deadline, (uint64_t)m->conf->timeout_ms * 1000u, on_deadline);
	if (rc < 0)
		hm_meter_fail(m, rc);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	struct kmp_src *ks = m->src;
	(void)s;
	(void)usec;
	hm_reading_clear(&m->reading);
	m->reading.profile = "kmp";
	ks->round_start_us = hm_now_us();
	ks->req = ks->tries = ks->answered = 0;
	ks->n_req = hm_kmp_poll_requests(m->conf->n_kmp_regs);
	ks->asking_serial = !ks->serial[0];
	send_request(m);
	return 0;
}

/* The GetSerialNo answer in rx: the serial number, or an error. */
static enum hm_err take_serial(struct kmp_src *ks)
{
	uint8_t body[HM_KMP_BODY_MAX];
	struct hm_kmp_frame f;
	uint32_t serial;
	enum hm_err err = hm_kmp_decode(ks->rx.buf, ks->rx.len, body, sizeof body, &f);
	if (err == HM_ERR_OK && (f.start != HM_KMP_START_FROM_METER || f.addr != HM_KMP_ADDR_HEAT_METER))
		err = HM_ERR_NOT_MINE;
	if (err == HM_ERR_OK)
		err = hm_kmp_parse_serial(&f, &serial);
	if (err == HM_ERR_OK)
		snprintf(ks->serial, sizeof ks->serial, "%" PRIu32, serial);
	return err;
}

static void take_answer(struct hm_meter *m)
{
	struct kmp_src *ks = m->src;
	unsigned stored;
	enum hm_err err = ks->asking_serial ? take_serial(ks)
	                                    : hm_kmp_poll_answer(m->conf->kmp_reg, m->conf->n_kmp_regs, ks->req,
	                                                         ks->rx.buf, ks->rx.len, &m->reading, &stored);
	hm_kmp_rx_reset(&ks->rx);
	if (err != HM_ERR_OK) {
		retry(m, hm_err_text(err));
		return;
	}
	m->stats.frames++;
	m->stats.last_frame_us = hm_now_us();
	if (!ks->asking_serial)
		ks->answered++;
	sd_event_source_set_enabled(ks->deadline, SD_EVENT_OFF);
	ks->waiting = false;
	next_request(m);
}

static void connected(struct hm_meter *m)
{
	struct kmp_src *ks = m->src;
	ks->connected = true;
	hm_meter_online(m);
	int rc = arm(m, &ks->poll, (uint64_t)FIRST_POLL_MS * 1000u, on_poll);
	if (rc < 0)
		hm_meter_fail(m, rc);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hm_meter *m = userdata;
	struct kmp_src *ks = m->src;
	(void)s;
	if (!ks->connected) { /* a TCP connect finished */
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			hm_meter_fail(m, -err);
			return 0;
		}
		sd_event_source_set_io_events(ks->io, EPOLLIN);
		connected(m);
		return 0;
	}
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) { /* end of file, EIO: pty master or peer gone, adapter unplugged */
		(void)revents;
		hm_meter_fail(m, n == 0 ? -ECONNRESET : -errno);
		return 0;
	}
	m->stats.bytes += (uint64_t)n;
	for (size_t off = 0; off < (size_t)n && m->src == ks;) {
		bool done;
		off += hm_kmp_rx_feed(&ks->rx, buf + off, (size_t)n - off, &done);
		if (!done)
			break;
		if (ks->waiting)
			take_answer(m); /* may end the round, or fail and free ks */
		else
			hm_kmp_rx_reset(&ks->rx); /* late answer to a request given up: dropped */
	}
	return 0;
}

static void on_resolved(void *ctx, int err, const struct addrinfo *ai)
{
	struct hm_meter *m = ctx;
	struct kmp_src *ks = m->src;
	ks->query = NULL;
	if (err) {
		hm_log_meter(LOG_WARNING, m->conf->name, "tcp %s: %s", m->conf->tcp_host, gai_strerror(err));
		hm_meter_fail(m, err == EAI_AGAIN ? -EAGAIN : -EHOSTUNREACH);
		return;
	}
	/* the first address only: a ser2net box has one */
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		hm_meter_fail(m, -e);
		return;
	}
	ks->fd = fd;
	int rc = sd_event_add_io(m->d->event, &ks->io, fd, EPOLLOUT, on_io, m);
	if (rc < 0)
		hm_meter_fail(m, rc);
}

static int kmp_open(struct hm_meter *m)
{
	static const enum hm_serial_parity parity[] = {[HM_PARITY_NONE] = HM_SERIAL_PARITY_NONE,
	                                               [HM_PARITY_EVEN] = HM_SERIAL_PARITY_EVEN,
	                                               [HM_PARITY_ODD] = HM_SERIAL_PARITY_ODD};
	char err[HM_CONF_STR + 128];
	struct kmp_src *ks = calloc(1, sizeof *ks);
	if (!ks)
		return -ENOMEM;
	ks->fd = -1;
	m->src = ks;
	if (m->conf->device[0]) {
		ks->port = hm_serial_open(m->conf->device, m->conf->baud, parity[m->conf->parity], KMP_STOP_BITS,
		                          &ks->fd, err, sizeof err);
		if (!ks->port) {
			int e = errno ? errno : EIO;
			hm_log_meter(LOG_DEBUG, m->conf->name, "%s", err);
			kmp_close(m);
			return -e;
		}
		int rc = sd_event_add_io(m->d->event, &ks->io, ks->fd, EPOLLIN, on_io, m);
		if (rc < 0) {
			kmp_close(m);
			return rc;
		}
		connected(m);
		return 0;
	}
	int rc = hm_resolve_start(m->d, m->conf->tcp_host, m->conf->tcp_port, SOCK_STREAM, on_resolved, m, &ks->query);
	if (rc < 0) {
		kmp_close(m);
		return rc;
	}
	return 0;
}

const struct hm_source_ops hm_source_kmp = {
    .name = "kmp",
    .claims = kmp_claims,
    .open = kmp_open,
    .close = kmp_close,
};
