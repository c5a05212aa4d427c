/*
 * tcp.c - the TCP source: a meter's HAN port behind ser2net, socat or an
 * ESP-Link style bridge in raw mode (tcp = HOST:PORT).  The bytes on the
 * stream are exactly the bytes of the serial line.
 *
 *   resolve (hm_resolve_start, off the loop) -> non-blocking connect to each
 *   address in turn -> read -> on close, error or idle_timeout seconds of
 *   silence: fail, and the meter retries with back-off.
 *
 * The idle timeout matters: a ser2net session whose Wi-Fi bridge reboots
 * often dies without a FIN or RST, and a HAN meter speaks at least every
 * 10 s (list 2; 2-2.5 s for list 1), so silence means the stream is dead.
 * The same timer bounds the connect.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

#define READ_CHUNK 4096
#define ADDRS_MAX  8 /* addresses tried per connection attempt */

struct tcp_src {
	struct hm_resolve *query;                /* name lookup in flight, or NULL */
	struct sockaddr_storage addr[ADDRS_MAX]; /* resolved addresses */
	socklen_t addr_len[ADDRS_MAX];
	unsigned n_addr, next_addr; /* how many, which to try next */
	int fd;                     /* socket, or -1 */
	bool connected;             /* connect completed */
	sd_event_source *io;        /* watch on fd */
	sd_event_source *idle;      /* idle/connect timeout */
};

static bool tcp_claims(const struct hm_meter_conf *mc)
{
	return mc->tcp_host[0] != 0;
}

static void drop_socket(struct tcp_src *ts)
{
	ts->io = sd_event_source_disable_unref(ts->io);
	if (ts->fd >= 0)
		close(ts->fd);
	ts->fd = -1;
	ts->connected = false;
}

static void tcp_close(struct hm_meter *m)
{
	struct tcp_src *ts = m->src;
	if (!ts)
		return;
	hm_resolve_cancel(ts->query);
	drop_socket(ts);
	sd_event_source_disable_unref(ts->idle);
	free(ts);
	m->src = NULL;
}

/* Pushes the idle deadline idle_timeout seconds from now (0: no deadline). */
static void kick_idle(struct hm_meter *m)
{
	struct tcp_src *ts = m->src;
	if (ts->idle)
		sd_event_source_set_time_relative(ts->idle, (uint64_t)m->conf->idle_timeout_s * 1000000u);
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hm_meter *m = userdata;
	struct tcp_src *ts = m->src;
	(void)s;
	(void)usec;
	hm_log_meter(LOG_INFO, m->conf->name, "%s for %u s",
	             ts->connected ? "no bytes"
	             : ts->fd >= 0 ? "connect pending"
	                           : "name lookup pending",
	             m->conf->idle_timeout_s);
	hm_meter_fail(m, -ETIMEDOUT);
	return 0;
}

static void try_next(struct hm_meter *m, int last_err);

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hm_meter *m = userdata;
	struct tcp_src *ts = m->src;
	(void)s;
	(void)revents;
	if (!ts->connected) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			drop_socket(ts);
			try_next(m, err);
			return 0;
		}
		ts->connected = true;
		sd_event_source_set_io_events(ts->io, EPOLLIN);
		kick_idle(m);
		hm_meter_online(m);
		return 0;
	}
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		kick_idle(m);
		hm_meter_input(m, buf, (size_t)n);
		return 0;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	hm_meter_fail(m, n == 0 ? -ECONNRESET : -errno); /* 0: the peer closed */
	return 0;
}

/* Connects to the next resolved address; after the last one, fails. */
static void try_next(struct hm_meter *m, int last_err)
{
	struct tcp_src *ts = m->src;
	while (ts->next_addr < ts->n_addr) {
		unsigned i = ts->next_addr++;
		int fd = socket(ts->addr[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd < 0) {
			last_err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
		if (connect(fd, (struct sockaddr *)&ts->addr[i], ts->addr_len[i]) < 0 && errno != EINPROGRESS) {
			last_err = errno;
			close(fd);
			continue;
		}
		int rc = sd_event_add_io(m->d->event, &ts->io, fd, EPOLLOUT, on_io, m);
		if (rc < 0) {
			last_err = -rc;
			close(fd);
			continue;
		}
		ts->fd = fd;
		return; /* on_io sees the outcome */
	}
	hm_meter_fail(m, -(last_err ? last_err : EHOSTUNREACH));
}

static void on_resolved(void *ctx, int err, const struct addrinfo *ai)
{
	struct hm_meter *m = ctx;
	struct tcp_src *ts = m->src;
	ts->query = NULL;
	if (err) {
		hm_log_meter(LOG_WARNING, m->conf->name, "tcp %s: %s", m->conf->tcp_host, gai_strerror(err));
		hm_meter_fail(m, err == EAI_AGAIN ? -EAGAIN : -EHOSTUNREACH);
		return;
	}
	for (; ai && ts->n_addr < ADDRS_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof ts->addr[0])
			continue;
		memcpy(&ts->addr[ts->n_addr], ai->ai_addr, ai->ai_addrlen);
		ts->addr_len[ts->n_addr++] = ai->ai_addrlen;
	}
	try_next(m, 0);
}

static int tcp_open(struct hm_meter *m)
{
	struct tcp_src *ts = calloc(1, sizeof *ts);
	if (!ts)
		return -ENOMEM;
	ts->fd = -1;
	m->src = ts;
	int rc = 0;
	if (m->conf->idle_timeout_s)
		rc = sd_event_add_time_relative(m->d->event, &ts->idle, CLOCK_MONOTONIC,
		                                (uint64_t)m->conf->idle_timeout_s * 1000000u, 0, on_idle, m);
	if (rc >= 0)
		rc = hm_resolve_start(m->d, m->conf->tcp_host, m->conf->tcp_port, SOCK_STREAM, on_resolved, m,
		                      &ts->query);
	if (rc < 0) {
		tcp_close(m);
		return rc;
	}
	return 0;
}

const struct hm_source_ops hm_source_tcp = {
    .name = "tcp",
    .claims = tcp_claims,
    .open = tcp_open,
    .close = tcp_close,
};
