/*
 * loadgen.c - the benchmark's meters: N simulated Aidon HAN ports served
 * over TCP, one listening port per meter, as ser2net serves serial ports.
 *
 * Every list is encoded by the simulator's own code (src/sim/meter.c,
 * frame.c: the same bytes hanmeter-sim sends), with one change that makes
 * each frame identifiable at the far end of the pipeline: the value of
 * active power import (OBIS 1.0.1.7.0.255, double-long-unsigned, present
 * in every Aidon list) is replaced by the list's sequence number 1, 2, ...
 * of its stream, before the frame's HCS and FCS are computed.  So the
 * frame is valid and its reading carries "active_power_import_w":SEQ.
 *
 * Cadence: an Aidon list every 2.5 s per meter (list 1, and list 2 every
 * 10 s in its place), times --speed.  The N streams are spread evenly over
 * that period, as unsynchronised meters are, so the schedule is one
 * round-robin cursor: event j is stream j % N at t0 + j * period / N.
 * --fast instead writes as fast as the daemon reads (saturation).
 *
 * For every frame written it records CLOCK_MONOTONIC right after the
 * write() that put its last byte into the socket; at exit it writes these
 * (stream, seq, ns) records to --log, little-endian "<IIQ" each.
 *
 * Protocol with the harness (bench/harness.py) on stdout, one line each:
 *   "ports FILE"      the listening ports are in FILE, one per stream
 *   "connected N"     all N streams are connected; SIGUSR1 starts sending
 *                     (the harness first lets the daemon's start-up settle)
 *   "started N"       sending begins
 *   "done SENT DROP"  the duration is over, sending stopped
 * then it waits for SIGTERM/SIGINT, writes the log and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "pipeline.h"
#include "sim/sim.h"

#define INFO_MAX      1024 /* an Aidon list 3 (3-phase) is ~230 bytes of information field */
#define WIRE_MAX      1280 /* its one frame: info + 2 flags, format, addresses, control, HCS, FCS */
#define PERIOD_MS     2500 /* Aidon: a list every 2.5 s (NEK HAN, and hanmeter-sim(1)) */
#define EVENTS_MAX    256
#define EPHEMERAL_MIN 32768 /* Linux net.ipv4.ip_local_port_range default start */

/* Aidon's register for active power import: OBIS 1.0.1.7.0.255 as an
 * octet-string, then the value's tag double-long-unsigned (A-XDR 0x06). */
static const uint8_t p_import[] = {0x09, 0x06, 0x01, 0x00, 0x01, 0x07, 0x00, 0xFF, 0x06};

struct stream {
	int lfd, fd;            /* listening socket; connection or -1 */
	struct sim_meter m;     /* the simulated meter */
	uint32_t seq;           /* lists sent */
	uint8_t wire[WIRE_MAX]; /* bytes of the frame being written */
	size_t len, off;        /* its length, bytes already written */
	uint32_t pending_seq;   /* seq of the frame in wire */
	bool want_out;          /* EPOLLOUT registered */
};

static struct stream *st;
static unsigned n_streams, n_connected;
static double speed = 1;
static bool fast;
static double duration_s = 10;
static uint64_t max_lists; /* -c: stop after this many lists in all (0: by duration only) */
static uint64_t sent, dropped, partial;
static int epfd;
static bool close_listeners; /* RLIMIT_NOFILE too low for 2 fds per stream */

/* Encodes stream i's next list, seq patched in, into its wire buffer. */
static void encode(unsigned i)
{
	struct stream *s = &st[i];
	uint8_t info[INFO_MAX];
	int list;
	unsigned frames;
	int n = sim_meter_emit(&s->m, info, sizeof info, NULL, 0, &list);
	if (n < 0) {
		fprintf(stderr, "loadgen: encoder buffer too small\n");
		exit(2);
	}
	s->pending_seq = ++s->seq;
	for (int k = 0; k + (int)sizeof p_import + 4 <= n; k++)
		if (memcmp(info + k, p_import, sizeof p_import) == 0) {
			uint8_t *v = info + k + sizeof p_import;
			v[0] = (uint8_t)(s->seq >> 24), v[1] = (uint8_t)(s->seq >> 16);
			v[2] = (uint8_t)(s->seq >> 8), v[3] = (uint8_t)s->seq;
			break;
		}
	int w = sim_hdlc_frame(sim_hdlc_addr(SIM_AIDON), info, (size_t)n, 2047, s->wire, sizeof s->wire, &frames);
	if (w < 0) {
		fprintf(stderr, "loadgen: frame buffer too small\n");
		exit(2);
	}
	s->len = (size_t)w;
	s->off = 0;
}

static void set_out(unsigned i, bool on)
{
	struct stream *s = &st[i];
	if (s->want_out == on)
		return;
	struct epoll_event ev = {.events = on ? EPOLLOUT : 0, .data.u64 = (uint64_t)i << 1 | 1};
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
		die("epoll_ctl");
	s->want_out = on;
}

/* Writes what is left of stream i's frame; true when it is all out. */
static bool flush(unsigned i)
{
	struct stream *s = &st[i];
	while (s->off < s->len) {
		ssize_t w = write(s->fd, s->wire + s->off, s->len - s->off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				partial++;
				set_out(i, true);
				return false;
			}
			fprintf(stderr, "loadgen: stream %u: write: %s\n", i, strerror(errno));
			close(s->fd);
			s->fd = -1;
			n_connected--;
			return false;
		}
		s->off += (size_t)w;
	}
	record(i, s->pending_seq, now_ns());
	sent++;
	s->len = s->off = 0;
	set_out(i, false);
	return true;
}

/* Stream i's list is due: send it, or drop it if the last one is still
 * stuck in the socket (a reader that is behind loses lists, as on a port). */
static void due(unsigned i)
{
	struct stream *s = &st[i];
	if (s->fd < 0)
		return;
	if (s->len) {
		dropped++;
		return;
	}
	encode(i);
	flush(i);
}

/* A listening socket on the first free port at or after *port, below the
 * kernel's ephemeral range (32768.. on Linux): ports handed out by bind(0)
 * there are what other programs on the machine pick as "free" ones, and
 * with 10,000 listeners we would take a third of them; a stray client of
 * another program then lands on a meter's port (seen: its meter refused). */
static int listen_one(unsigned *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	for (; *port < EPHEMERAL_MIN; (*port)++) {
		struct sockaddr_in a = loopback(*port);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
			if (listen(fd, 16) < 0)
				die("listen");
			return fd;
		}
		if (errno != EADDRINUSE)
			die("bind");
	}
	fprintf(stderr, "loadgen: no free port left below %u\n", EPHEMERAL_MIN);
	exit(2);
}

static void on_accept(unsigned i)
{
	struct stream *s = &st[i];
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (s->fd >= 0) { /* ser2net serves one client per port */
		close(fd);
		return;
	}
	nodelay(fd);
	s->fd = fd;
	s->want_out = false;
	struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)i << 1 | 1};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
	n_connected++;
	if (close_listeners) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, s->lfd, NULL);
		close(s->lfd);
		s->lfd = -1;
	}
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: loadgen -n STREAMS -p PORTFILE -l LOG [-s SPEED | -f] [-d SECONDS] [-c LISTS] [-b PORT]\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *portfile = NULL, *logfile = NULL;
	unsigned port = 20000; /* -b: first port tried */
	int opt;
	n_streams = 1;
	while ((opt = getopt(argc, argv, "n:p:l:s:fd:c:b:")) != -1) {
		switch (opt) {
		case 'n': n_streams = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': portfile = optarg; break;
		case 'l': logfile = optarg; break;
		case 's': speed = strtod(optarg, NULL); break;
		case 'f': fast = true; break;
		case 'd': duration_s = strtod(optarg, NULL); break;
		case 'c': max_lists = strtoull(optarg, NULL, 10); break;
		case 'b': port = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!portfile || !logfile || n_streams == 0 || speed <= 0)
		usage();

	/* Two fds per stream (listening, connected), plus a few.  Without
	 * CAP_SYS_RESOURCE the hard limit may be lower (20000 on the bench
	 * machine): then a listening socket is closed once its client is in,
	 * and the streams cannot be reconnected, which the benchmark never
	 * asks of them. */
	struct rlimit rl;
	rlim_t need = 2 * (rlim_t)n_streams + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		close_listeners = true;
		need = (rlim_t)n_streams + 64;
	}
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit(RLIMIT_NOFILE)");
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || epfd < 0)
		die("signalfd/timerfd/epoll");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0}; /* 0: signal, 2: timer, odd: stream */
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u64 = 2;
	epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);

	st = calloc(n_streams, sizeof *st);
	if (!st)
		die("calloc");
	FILE *pf = fopen(portfile, "w");
	if (!pf)
		die(portfile);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	int64_t start_ms = (int64_t)wall.tv_sec * 1000 / 10000 * 10000; /* on a list-2 boundary */
	for (unsigned i = 0; i < n_streams; i++) {
		struct stream *s = &st[i];
		s->fd = -1;
		s->lfd = listen_one(&port);
		sim_meter_init(&s->m, SIM_AIDON, 3, 1 + i, start_ms);
		fprintf(pf, "%u\n", port++);
		struct epoll_event le = {.events = EPOLLIN, .data.u64 = (uint64_t)i << 1};
		le.data.u64 |= (uint64_t)1 << 63; /* listening */
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->lfd, &le) < 0)
			die("epoll_ctl");
	}
	fclose(pf);
	printf("ports %s\n", portfile);
	fflush(stdout);

	bool announced = false, go = false, started = false, finished = false, quit = false;
	uint64_t t0 = 0, end = 0, j = 0;
	double step_ns = (double)PERIOD_MS * 1e6 / speed / n_streams; /* between two streams' lists */
	unsigned rr = 0;                                              /* --fast: next stream */
	bool progress = false;                                        /* --fast: a list went out last turn */
	struct epoll_event evs[EVENTS_MAX];
	while (!quit) {
		int timeout = -1;
		if (started && !finished && fast && progress)
			timeout = 0;
		int n = epoll_wait(epfd, evs, EVENTS_MAX, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			uint64_t d = evs[k].data.u64;
			if (d == 0) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1)
					go = true;
				else
					quit = true;
			} else if (d == 2) {
				uint64_t x;
				if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
					die("timerfd");
			} else if (d >> 63) {
				on_accept((unsigned)((d & ~((uint64_t)1 << 63)) >> 1));
			} else if (!finished) {
				flush((unsigned)(d >> 1));
			}
		}
		uint64_t now = now_ns();
		if (!announced && n_connected == n_streams) {
			announced = true;
			printf("connected %u\n", n_streams);
			fflush(stdout);
		}
		if (!started && announced && go) {
			started = true;
			t0 = now;
			end = t0 + (uint64_t)(duration_s * 1e9);
			printf("started %u\n", n_streams);
			fflush(stdout);
			if (fast) { /* the timer only marks the end */
				struct itimerspec its = {
				    .it_value = {(time_t)(end / 1000000000u), (long)(end % 1000000000u)}};
				timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
			}
		}
		if (!started || finished)
			continue;
		if (now >= end || (max_lists && sent >= max_lists)) {
			finished = true;
			struct itimerspec off = {0};
			timerfd_settime(tfd, 0, &off, NULL);
			printf("done %llu %llu\n", (unsigned long long)sent, (unsigned long long)dropped);
			fflush(stdout);
			continue;
		}
		if (fast) {
			/* one list per writable stream per turn; blocked ones wait for EPOLLOUT */
			uint64_t before = sent;
			for (unsigned c = 0; c < n_streams; c++, rr = (rr + 1) % n_streams)
				if (st[rr].fd >= 0 && !st[rr].len && !(max_lists && sent >= max_lists))
					due(rr);
			progress = sent != before;
			continue;
		}
		while (t0 + (uint64_t)((double)j * step_ns) <= now && !(max_lists && sent >= max_lists)) {
			due((unsigned)(j % n_streams));
			j++;
		}
		uint64_t next = t0 + (uint64_t)((double)j * step_ns);
		if (next > end)
			next = end;
		struct itimerspec its = {.it_value = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)}};
		timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
	}

	reclog_write(logfile);
	fprintf(stderr, "loadgen: %u streams, %llu lists sent, %llu dropped, %llu partial writes\n", n_streams,
	        (unsigned long long)sent, (unsigned long long)dropped, (unsigned long long)partial);
	return 0;
}
