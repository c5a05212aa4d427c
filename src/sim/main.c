/*
 * main.c - hanmeter-sim: a simulated AMS/HAN meter port.
 *
 * Writes the byte stream a Norwegian Aidon, Kaifa or Kamstrup meter sends on
 * its HAN port (HDLC frames carrying DLMS data-notifications, see meter.c and
 * frame.c) to stdout, into a pseudo-terminal (like a USB M-Bus adapter), or
 * to TCP clients (like ser2net).  Lists come at the make's cadence on a
 * simulated clock that runs --speed times real time (or, with --fast, as
 * fast as the readers take them).  --expect writes the values of every list
 * as JSON lines: the oracle the tests compare decoders against.
 *
 * One process, one thread, one epoll loop.  --streams N runs N meters (each
 * its own id and seed) on N ptys or N TCP ports; every reader of a stream
 * gets the live stream from the next frame on.  A reader that falls behind
 * loses whole frames (counted), as it would on a real port; with --fast the
 * simulator waits for its readers instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "common/fdio.h"
#include "common/opt.h"

#define INFO_MAX         2048           /* our longest list (Kamstrup hourly, 3-phase) is ~310 bytes */
#define WIRE_MAX         8192           /* garbage + the frames of one list, even at the smallest --max-frame */
#define CONN_BUF         (64 * 1024)    /* per TCP client: ~25 min of Aidon lists at 1x, like ser2net's backlog */
#define PTY_BUF          4096           /* per pty, on top of the kernel's 4 KiB: what a USB adapter holds */
#define CONNS_PER_STREAM 64             /* readers per stream; more are turned away */
#define GARBAGE_MAX      48             /* bytes in one burst of line noise */
#define FAST_BATCH       64             /* lists per stream per loop turn with --fast */
#define MAX_FRAME_MIN    32             /* smallest --max-frame that leaves room for data */
#define HDLC_LEN_MAX     2047           /* IEC 62056-46: 11-bit frame length */
#define EVENTS_MAX       256            /* epoll events taken per wake-up */
#define LINE_MAX         (4 * WIRE_MAX) /* --baud: bytes queued for the simulated serial line */
#define LINE_CHUNK       32             /* --baud: most bytes released per wake-up (~ a UART FIFO) */

enum out_kind { OUT_STDOUT, OUT_PTY, OUT_TCP };

/* What an epoll event is about: the first member of struct stream (its
 * listening socket) and of struct conn; NULL data is the signalfd. */
enum watch { W_LISTEN = 1, W_CONN };

struct conn {
	enum watch kind;  /* W_CONN */
	struct stream *s; /* the stream it reads */
	bool want_out;    /* registered for EPOLLOUT: bytes are waiting */
	int fd;           /* -1 = free */
	uint8_t *buf;     /* bytes waiting for the reader */
	size_t cap;       /* CONN_BUF or PTY_BUF */
	size_t len;       /* bytes held */
	uint64_t dropped; /* lists lost because the reader was behind */
};

struct stream {
	enum watch kind; /* W_LISTEN */
	struct sim_meter m;
	struct sim_rng fault; /* --garbage/--corrupt draws, apart from the model */
	int listen_fd;        /* OUT_TCP */
	int pty_fd;           /* OUT_PTY: the master */
	int pty_slave;        /* held open so the pty persists between readers */
	char pty_path[128];
	struct conn conn[CONNS_PER_STREAM];
	uint64_t lists; /* lists generated */
	int64_t lag_ms; /* real-time offset: streams are spread over 10 s, as unsynchronised meters are */
	uint8_t *line;  /* --baud: bytes not yet "on the wire" */
	size_t line_len;
	double line_t0; /* --baud: real time (ms) at which line[0] starts */
	bool done;
};

static struct {
	enum sim_make make;
	unsigned phases;
	int64_t start_ms;
	double speed;        /* 0 = --fast */
	uint64_t count;      /* lists per stream, 0 = unlimited */
	int64_t duration_ms; /* simulated, 0 = unlimited */
	uint64_t seed;
	unsigned streams;
	enum out_kind out;
	const char *link;
	char tcp_host[128];
	unsigned tcp_port;
	double garbage, corrupt;
	unsigned baud; /* 0: a list's bytes go out at once */
	size_t max_frame;
	const char *expect;
	bool quiet;
} opt = {
    .make = SIM_AIDON,
    .phases = 3,
    .speed = 1,
    .seed = 1,
    .streams = 1,
    .out = OUT_STDOUT,
    .tcp_host = "127.0.0.1",
    .max_frame = HDLC_LEN_MAX,
};

static struct {
	uint64_t lists, frames, bytes, garbage_bytes, corrupted, dropped, refused, overrun;
} stats;

static struct stream *streams;
static int epfd = -1;
static uint64_t conns_waiting;    /* readers with bytes not yet written */
static double line_rate;          /* --baud: bytes per real ms */
static uint8_t out_buf[CONN_BUF]; /* --fast to stdout: one write() per 64 KiB, not per list */
static size_t out_len;
static FILE *expect_file;
static int64_t real0_ms;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fputs("usage: hanmeter-sim [options]\n"
	      "  -m, --meter MAKE      aidon (default), kaifa or kamstrup; multical: a KMP heat\n"
	      "                        meter answering requests (-m multical --help)\n"
	      "  -1, --single-phase    a one-phase meter (default three-phase)\n"
	      "      --start TIME      meter clock start, YYYY-MM-DDTHH:MM:SS (default: now, UTC)\n"
	      "      --speed N         N times real time (default 1)\n"
	      "      --fast            no pacing: as fast as the readers take it\n"
	      "  -n, --count N         stop after N lists (per stream)\n"
	      "  -d, --duration S      stop after S seconds of meter time\n"
	      "  -s, --seed N          randomness seed (default 1)\n"
	      "      --pty             write into a new pseudo-terminal, print its path\n"
	      "      --link PATH       with --pty: also make the symlink PATH to it\n"
	      "      --tcp [HOST:]PORT serve the stream to TCP clients (HOST default 127.0.0.1)\n"
	      "      --streams N       N meters on N ptys or ports PORT..PORT+N-1\n"
	      "      --garbage P       random bytes before a frame with probability P\n"
	      "      --corrupt P       flip a byte of a frame with probability P\n"
	      "      --max-frame N     bytes between flags before segmenting (32..2047, default 2047)\n"
	      "      --baud N          send bytes at a serial line's pace (meters: 2400), times --speed\n"
	      "  -e, --expect FILE     write the encoded values of every list as JSON lines\n"
	      "  -q, --quiet           no statistics at exit\n"
	      "  -h, --help            this text\n"
	      "      --version         version\n"
	      "Without --pty or --tcp the binary stream goes to stdout.\n",
	      f);
}

static int parse_prob(const char *s, double *p)
{
	double x;
	if (hm_opt_parse_real(s, &x) || !(x >= 0 && x <= 1))
		return -1;
	*p = x;
	return 0;
}

static int parse_time(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%d-%d-%d%*1[T ]%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &n) != 6 ||
	    s[n])
		return -1;
	if (tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_START = 256,
		O_SPEED,
		O_FAST,
		O_PTY,
		O_LINK,
		O_TCP,
		O_STREAMS,
		O_GARBAGE,
		O_CORRUPT,
		O_MAXF,
		O_BAUD,
		O_VER
	};
	static const struct option lo[] = {
	    {"meter", required_argument, NULL, 'm'},
	    {"single-phase", no_argument, NULL, '1'},
	    {"start", required_argument, NULL, O_START},
	    {"speed", required_argument, NULL, O_SPEED},
	    {"fast", no_argument, NULL, O_FAST},
	    {"count", required_argument, NULL, 'n'},
	    {"duration", required_argument, NULL, 'd'},
	    {"seed", required_argument, NULL, 's'},
	    {"pty", no_argument, NULL, O_PTY},
	    {"link", required_argument, NULL, O_LINK},
	    {"tcp", required_argument, NULL, O_TCP},
	    {"streams", required_argument, NULL, O_STREAMS},
	    {"garbage", required_argument, NULL, O_GARBAGE},
	    {"corrupt", required_argument, NULL, O_CORRUPT},
	    {"max-frame", required_argument, NULL, O_MAXF},
	    {"baud", required_argument, NULL, O_BAUD},
	    {"expect", required_argument, NULL, 'e'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, O_VER},
	    {NULL, 0, NULL, 0},
	};
	bool have_start = false;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "m:1n:d:s:e:qh", lo, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'm': {
			int mk = sim_make_by_name(optarg);
			if (mk < 0)
				bad = "--meter wants aidon, kaifa or kamstrup";
			else
				opt.make = (enum sim_make)mk;
			break;
		}
		case '1': opt.phases = 1; break;
		case O_START:
			if (parse_time(optarg, &opt.start_ms))
				bad = "--start wants YYYY-MM-DDTHH:MM:SS (1970 or later)";
			have_start = true;
			break;
		case O_SPEED:
			if (hm_opt_parse_real(optarg, &opt.speed) || !(opt.speed > 0 && opt.speed <= 1e9))
				bad = "--speed wants a number above 0";
			break;
		case O_FAST: opt.speed = 0; break;
		case 'n':
			if (hm_opt_parse_uint(optarg, UINT64_MAX, &opt.count) || opt.count == 0)
				bad = "--count wants a positive integer";
			break;
		case 'd':
			if (hm_opt_parse_uint(optarg, INT64_MAX / 1000, &v) || v == 0)
				bad = "--duration wants a positive number of seconds";
			opt.duration_ms = (int64_t)v * 1000;
			break;
		case 's':
			if (hm_opt_parse_uint(optarg, UINT64_MAX, &opt.seed))
				bad = "--seed wants a non-negative integer";
			break;
		case O_PTY: opt.out = OUT_PTY; break;
		case O_LINK: opt.link = optarg; break;
		case O_TCP:
			opt.out = OUT_TCP;
			if (hm_opt_parse_hostport(optarg, opt.tcp_host, sizeof opt.tcp_host, &opt.tcp_port))
				bad = "--tcp wants [HOST:]PORT";
			break;
		case O_STREAMS:
			if (hm_opt_parse_uint(optarg, 4096, &v) || v == 0)
				bad = "--streams wants 1..4096";
			opt.streams = (unsigned)v;
			break;
		case O_GARBAGE:
			if (parse_prob(optarg, &opt.garbage))
				bad = "--garbage wants a probability 0..1";
			break;
		case O_CORRUPT:
			if (parse_prob(optarg, &opt.corrupt))
				bad = "--corrupt wants a probability 0..1";
			break;
		case O_MAXF:
			if (hm_opt_parse_uint(optarg, HDLC_LEN_MAX, &v) || v < MAX_FRAME_MIN)
				bad = "--max-frame wants 32..2047";
			opt.max_frame = (size_t)v;
			break;
		case O_BAUD:
			if (hm_opt_parse_uint(optarg, 4000000, &v) || v < 300)
				bad = "--baud wants 300..4000000";
			opt.baud = (unsigned)v;
			break;
		case 'e': opt.expect = optarg; break;
		case 'q': opt.quiet = true; break;
		case 'h': usage(stdout); exit(0);
		case O_VER: printf("hanmeter-sim %s\n", HM_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
		if (bad) {
			fprintf(stderr, "hanmeter-sim: %s (got '%s')\n", bad, optarg);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hanmeter-sim: unexpected argument '%s'\n", argv[optind]);
		exit(2);
	}
	if (opt.link && (opt.out != OUT_PTY || opt.streams != 1)) {
		fprintf(stderr, "hanmeter-sim: --link needs --pty and one stream\n");
		exit(2);
	}
	if (opt.streams > 1 && opt.out == OUT_STDOUT) {
		fprintf(stderr, "hanmeter-sim: --streams needs --pty or --tcp\n");
		exit(2);
	}
	if (opt.out == OUT_TCP && opt.tcp_port && opt.tcp_port + opt.streams - 1 > 65535) {
		fprintf(stderr, "hanmeter-sim: ports %u..%u out of range\n", opt.tcp_port,
		        opt.tcp_port + opt.streams - 1);
		exit(2);
	}
	if (!have_start) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		opt.start_ms = (int64_t)ts.tv_sec * 1000;
	}
}

/* ---- outputs ------------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

static int open_pty(struct stream *s)
{
	s->pty_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->pty_fd < 0 || grantpt(s->pty_fd) || unlockpt(s->pty_fd) ||
	    ptsname_r(s->pty_fd, s->pty_path, sizeof s->pty_path))
		return -errno;
	/* Hold the slave open: the pty then survives readers coming and going,
	 * and raw mode set here means nothing written before a reader opens it
	 * is echoed or has CR/LF translated. */
	s->pty_slave = open(s->pty_path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s->pty_slave < 0)
		return -errno;
	struct termios tio;
	if (tcgetattr(s->pty_slave, &tio))
		return -errno;
	cfmakeraw(&tio);
	cfsetispeed(&tio, B2400); /* only informative on a pty */
	cfsetospeed(&tio, B2400);
	if (tcsetattr(s->pty_slave, TCSANOW, &tio))
		return -errno;
	return set_nonblock(s->pty_fd);
}

static int open_listener(struct stream *s, unsigned port, char *name, size_t cap)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai;
	char ps[8];
	snprintf(ps, sizeof ps, "%u", port);
	int rc = getaddrinfo(opt.tcp_host, ps, &hints, &ai);
	if (rc) {
		fprintf(stderr, "hanmeter-sim: %s: %s\n", opt.tcp_host, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		rc = -errno;
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[64], serv[16];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
	                NI_NUMERICHOST | NI_NUMERICSERV)) {
		close(fd);
		return -EINVAL;
	}
	snprintf(name, cap, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
	s->listen_fd = fd;
	return 0;
}

/* Keeps c's epoll interest (EPOLLOUT only while bytes wait) and the count
 * of waiting readers in step with c->len. */
static void conn_watch(struct conn *c)
{
	bool want = c->len > 0;
	if (want == c->want_out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
	if (want)
		conns_waiting++;
	else
		conns_waiting--;
}

static void conn_close(struct conn *c)
{
	c->len = 0;
	conn_watch(c);
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	free(c->buf);
	stats.dropped += c->dropped;
	c->fd = -1;
	c->buf = NULL;
	c->len = 0;
	c->dropped = 0;
}

static struct conn *conn_open(struct stream *s, int fd)
{
	for (unsigned i = 0; i < CONNS_PER_STREAM; i++) {
		struct conn *c = &s->conn[i];
		if (c->fd >= 0)
			continue;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		c->cap = opt.out == OUT_PTY ? PTY_BUF : CONN_BUF;
		if (!(c->buf = malloc(c->cap)))
			return NULL;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c->buf);
			c->buf = NULL;
			return NULL;
		}
		c->kind = W_CONN;
		c->s = s;
		c->want_out = false;
		c->fd = fd;
		c->len = 0;
		return c;
	}
	return NULL;
}

/* Writes what c holds, as far as the reader takes it.  -errno if it is gone. */
static int conn_flush(struct conn *c)
{
	while (c->len) {
		ssize_t n = write(c->fd, c->buf, c->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			break;
		}
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
	}
	conn_watch(c);
	return 0;
}

/* True if every reader of s can take a whole list now (--fast back-pressure). */
static bool stream_has_room(const struct stream *s)
{
	if (opt.out == OUT_STDOUT)
		return true;
	bool any = false;
	for (unsigned i = 0; i < CONNS_PER_STREAM; i++) {
		if (s->conn[i].fd < 0)
			continue;
		any = true;
		if (s->conn[i].len && s->conn[i].cap - s->conn[i].len < WIRE_MAX)
			return false;
	}
	return any; /* nobody listening: wait for a reader rather than race ahead */
}

/* ---- one list ------------------------------------------------------------ */

/* Hands bytes of stream s to its readers: stdout (blocking), or each pty or
 * TCP reader's buffer; a reader without room for all of them loses them. */
static int out_flush(void)
{
	int rc = hm_write_all(STDOUT_FILENO, out_buf, out_len);
	out_len = 0;
	return rc;
}

static int deliver(struct stream *s, const uint8_t *p, size_t len)
{
	if (opt.out == OUT_STDOUT && opt.speed > 0)
		return hm_write_all(STDOUT_FILENO, p, len);
	if (opt.out == OUT_STDOUT) {
		int rc = sizeof out_buf - out_len < len ? out_flush() : 0;
		memcpy(out_buf + out_len, p, len);
		out_len += len;
		return rc;
	}
	for (unsigned i = 0; i < CONNS_PER_STREAM; i++) {
		struct conn *c = &s->conn[i];
		if (c->fd < 0)
			continue;
		if (c->cap - c->len < len) {
			c->dropped++;
			continue;
		}
		memcpy(c->buf + c->len, p, len);
		c->len += len;
		if (conn_flush(c) < 0 && opt.out == OUT_TCP)
			conn_close(c);
		else
			conn_watch(c);
	}
	return 0;
}

/* Generates stream s's next list and hands its bytes to every reader.
 * Returns 0, or -errno when stdout is gone. */
static int emit(struct stream *s, unsigned idx)
{
	uint8_t info[INFO_MAX], wire[WIRE_MAX];
	char json[2048];
	int list;
	int n = sim_meter_emit(&s->m, info, sizeof info, expect_file ? json : NULL, sizeof json, &list);
	if (n < 0) {
		fprintf(stderr, "hanmeter-sim: list does not fit the buffers (bug)\n");
		exit(1);
	}
	size_t off = 0;
	if (opt.garbage > 0 && sim_rng_unit(&s->fault) < opt.garbage) {
		size_t g = 1 + sim_rng_below(&s->fault, GARBAGE_MAX);
		for (size_t i = 0; i < g; i++)
			wire[off++] = (uint8_t)sim_rng_next(&s->fault);
		stats.garbage_bytes += g;
	}
	unsigned frames;
	int fl = sim_hdlc_frame(sim_hdlc_addr(s->m.make), info, (size_t)n, opt.max_frame, wire + off, sizeof wire - off,
	                        &frames);
	if (fl < 0) {
		fprintf(stderr, "hanmeter-sim: frames do not fit the buffers (bug)\n");
		exit(1);
	}
	bool corrupt = false;
	if (opt.corrupt > 0 && sim_rng_unit(&s->fault) < opt.corrupt) {
		/* flip a byte strictly inside the first frame (never a flag), so
		 * that exactly this list is lost and the framer must say so */
		size_t first_len = 2 + (((size_t)wire[off + 1] << 8 | wire[off + 2]) & 0x07FF);
		size_t at = off + 1 + sim_rng_below(&s->fault, (uint32_t)(first_len - 2));
		wire[at] ^= (uint8_t)(1 + sim_rng_below(&s->fault, 255));
		corrupt = true;
		stats.corrupted++;
	}
	size_t len = off + (size_t)fl;
	s->lists++;
	stats.lists++;
	stats.frames += frames;
	stats.bytes += len;

	if (expect_file) {
		fprintf(expect_file, "{\"seq\":%llu,\"list\":%d", (unsigned long long)s->m.seq, list);
		if (opt.streams > 1)
			fprintf(expect_file, ",\"stream\":%u", idx);
		if (frames > 1)
			fprintf(expect_file, ",\"segments\":%u", frames);
		if (corrupt)
			fputs(",\"corrupt\":true", expect_file);
		fprintf(expect_file, ",%s}\n", json);
	}

	if (!s->line)
		return deliver(s, wire, len);
	/* --baud: the list waits for the line */
	if (LINE_MAX - s->line_len < len) {
		stats.overrun++; /* the line cannot keep up (a tiny --baud) */
		return 0;
	}
	if (s->line_len == 0)
		s->line_t0 = (double)mono_ms();
	memcpy(s->line + s->line_len, wire, len);
	s->line_len += len;
	return 0;
}

/* --baud: hands on the bytes of s's line that are due by now.  Returns
 * -errno when stdout is gone; lowers *next to when the next chunk is due. */
static int line_release(struct stream *s, int64_t now, int64_t *next)
{
	double due = ((double)now - s->line_t0) * line_rate;
	size_t n = due < 1 ? 0 : due >= (double)s->line_len ? s->line_len : (size_t)due;
	int rc = 0;
	if (n) {
		rc = deliver(s, s->line, n);
		memmove(s->line, s->line + n, s->line_len - n);
		s->line_len -= n;
		s->line_t0 += (double)n / line_rate;
	}
	if (s->line_len) {
		size_t chunk = s->line_len < LINE_CHUNK ? s->line_len : LINE_CHUNK;
		int64_t t = (int64_t)ceil(s->line_t0 + (double)chunk / line_rate);
		*next = *next < t ? *next : t;
	}
	return rc;
}

static bool stream_done(const struct stream *s)
{
	if (opt.count && s->lists >= opt.count)
		return true;
	return opt.duration_ms && s->m.t_ms >= opt.start_ms + opt.duration_ms;
}

/* Real time (CLOCK_MONOTONIC ms) at which s's next list is due. */
static int64_t due_ms(const struct stream *s)
{
	return real0_ms + s->lag_ms + (int64_t)ceil((double)(s->m.t_ms - opt.start_ms) / opt.speed);
}

/* ---- the loop ------------------------------------------------------------ */

static void drain(int fd)
{
	uint8_t junk[512];
	while (read(fd, junk, sizeof junk) > 0)
		;
}

static void cleanup_link(void)
{
	char target[sizeof streams[0].pty_path];
	ssize_t n = opt.link ? readlink(opt.link, target, sizeof target - 1) : -1;
	if (n > 0) {
		target[n] = 0;
		if (strcmp(target, streams[0].pty_path) == 0)
			unlink(opt.link);
	}
}

/* Many streams and readers need many descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int setup(void)
{
	raise_fd_limit();
	streams = calloc(opt.streams, sizeof *streams);
	if (!streams)
		return -ENOMEM;
	for (unsigned i = 0; i < opt.streams; i++) {
		struct stream *s = &streams[i];
		/* stream i draws from seed + i: stream 0 equals a one-stream run */
		sim_meter_init(&s->m, opt.make, opt.phases, opt.seed + i, opt.start_ms);
		s->fault.s = (opt.seed + i) ^ 0xFA017FA017FA017Fu;
		s->lag_ms = opt.speed > 0 ? (int64_t)(10000.0 * i / opt.streams / opt.speed) : 0;
		if (opt.baud && opt.speed > 0 && !(s->line = malloc(LINE_MAX)))
			return -ENOMEM;
		s->listen_fd = s->pty_fd = s->pty_slave = -1;
		for (unsigned k = 0; k < CONNS_PER_STREAM; k++)
			s->conn[k].fd = -1;
		char name[160];
		int rc = 0;
		if (opt.out == OUT_PTY) {
			rc = open_pty(s);
			if (rc == 0) {
				struct conn *c = conn_open(s, s->pty_fd);
				rc = c ? 0 : -ENOMEM;
			}
			snprintf(name, sizeof name, "%s", s->pty_path);
		} else if (opt.out == OUT_TCP) {
			rc = open_listener(s, opt.tcp_port ? opt.tcp_port + i : 0, name, sizeof name);
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
			s->kind = W_LISTEN;
			if (rc == 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, s->listen_fd, &ev))
				rc = -errno;
		}
		if (rc < 0) {
			fprintf(stderr, "hanmeter-sim: %s: %s\n", opt.out == OUT_PTY ? "pty" : opt.tcp_host,
			        strerror(-rc));
			return rc;
		}
		if (opt.out != OUT_STDOUT)
			printf("%s\n", name);
	}
	if (opt.link) {
		struct stat st;
		if (lstat(opt.link, &st) == 0 && !S_ISLNK(st.st_mode)) {
			fprintf(stderr, "hanmeter-sim: %s exists and is not a symlink; not replacing it\n", opt.link);
			return -EEXIST;
		}
		unlink(opt.link);
		if (symlink(streams[0].pty_path, opt.link)) {
			fprintf(stderr, "hanmeter-sim: symlink %s: %s\n", opt.link, strerror(errno));
			return -errno;
		}
	}
	fflush(stdout);
	return 0;
}

/* -m multical / --meter multical: the KMP heat meter, which answers
 * requests instead of sending lists (multical.c). */
static bool multical_asked(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "-m") == 0 || strcmp(a, "--meter") == 0) && i + 1 < argc &&
		    !strcmp(argv[i + 1], "multical"))
			return true;
		if (!strcmp(a, "-mmultical") || !strcmp(a, "--meter=multical"))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	if (multical_asked(argc, argv))
		return sim_multical_main(argc, argv);
	parse_args(argc, argv);
	/* 8E1 is 11 bits a byte (Aidon, Kaifa), 8N1 10 (Kamstrup); a faster meter has a faster line */
	if (opt.baud)
		line_rate = opt.baud / (opt.make == SIM_KAMSTRUP ? 10.0 : 11.0) / 1000.0 * opt.speed;
	if (opt.out == OUT_STDOUT && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "hanmeter-sim: not writing binary frames to a terminal; "
		                "redirect stdout, or use --pty or --tcp\n");
		return 2;
	}
	if (opt.expect) {
		expect_file = fopen(opt.expect, "w");
		if (!expect_file) {
			fprintf(stderr, "hanmeter-sim: %s: %s\n", opt.expect, strerror(errno));
			return 1;
		}
		setvbuf(expect_file, NULL, _IOLBF, 0);
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
	if (sfd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev)) {
		perror("hanmeter-sim: signalfd/epoll");
		return 1;
	}
	if (setup() < 0)
		return 1;

	real0_ms = mono_ms();
	int rc = 0;
	bool stop = false;
	while (!stop) {
		/* generate what is due */
		int64_t now = mono_ms(), next = INT64_MAX;
		bool all_done = true, busy = false;
		bool line_busy = false;
		for (unsigned i = 0; i < opt.streams && rc == 0; i++) {
			struct stream *s = &streams[i];
			if (s->line && s->line_len)
				rc = line_release(s, now, &next);
			for (unsigned k = 0; !s->done && rc == 0; k++) {
				if ((s->done = stream_done(s)))
					break;
				if (opt.speed == 0) {
					if (k == FAST_BATCH)
						busy = true;
					if (k == FAST_BATCH || !stream_has_room(s))
						break;
				} else if (due_ms(s) > now) {
					next = next < due_ms(s) ? next : due_ms(s);
					break;
				}
				rc = emit(s, i);
			}
			if (s->line && s->line_len && rc == 0)
				rc = line_release(s, now, &next); /* schedule what was queued just now */
			all_done &= s->done;
			line_busy |= s->line && s->line_len;
		}
		if (rc == 0 && out_len && (all_done || !busy))
			rc = out_flush(); /* before we wait or stop */
		if (rc < 0) {
			if (rc != -EPIPE)
				fprintf(stderr, "hanmeter-sim: stdout: %s\n", strerror(-rc));
			break;
		}
		if (all_done && conns_waiting == 0 && !line_busy)
			break;

		/* wait for readers, clients and the clock */
		int timeout = -1;
		if (busy)
			timeout = 0;
		else if (next != INT64_MAX)
			timeout = next - now > 60000 ? 60000 : (int)(next - now);
		if (all_done && timeout < 0)
			timeout = 5000; /* a reader that never reads must not hold us forever */
		struct epoll_event ev[EVENTS_MAX];
		int nev = epoll_wait(epfd, ev, EVENTS_MAX, timeout);
		if (nev < 0 && errno != EINTR) {
			perror("hanmeter-sim: epoll_wait");
			rc = -errno;
			break;
		}
		if (nev == 0 && all_done && !line_busy)
			break;
		for (int i = 0; i < nev; i++) {
			if (!ev[i].data.ptr) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
					stop = true;
				continue;
			}
			if (*(enum watch *)ev[i].data.ptr == W_LISTEN) {
				struct stream *s = ev[i].data.ptr;
				int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd >= 0 && (all_done || !conn_open(s, fd))) {
					close(fd);
					stats.refused++;
				}
				continue;
			}
			struct conn *c = ev[i].data.ptr;
			if (c->fd < 0)
				continue; /* closed by an earlier event of this batch */
			if (ev[i].events & EPOLLIN) {
				if (opt.out == OUT_PTY) {
					drain(c->fd); /* whatever a reader writes back */
				} else {
					uint8_t junk[256];
					ssize_t r = read(c->fd, junk, sizeof junk);
					if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
						conn_close(c); /* the client left */
						continue;
					}
				}
			}
			if (ev[i].events & (EPOLLERR | EPOLLHUP) && opt.out == OUT_TCP) {
				conn_close(c);
				continue;
			}
			if (ev[i].events & EPOLLOUT && conn_flush(c) < 0 && opt.out == OUT_TCP)
				conn_close(c);
		}
	}

	for (unsigned i = 0; i < opt.streams; i++) {
		struct stream *s = &streams[i];
		for (unsigned k = 0; k < CONNS_PER_STREAM; k++)
			if (s->conn[k].fd >= 0)
				conn_close(&s->conn[k]);
		if (s->pty_slave >= 0)
			close(s->pty_slave);
		if (s->listen_fd >= 0)
			close(s->listen_fd);
	}
	for (unsigned i = 0; i < opt.streams; i++)
		free(streams[i].line);
	if (opt.link)
		cleanup_link();
	if (expect_file)
		fclose(expect_file);
	if (!opt.quiet)
		fprintf(stderr,
		        "hanmeter-sim: %llu lists, %llu frames, %llu bytes, %llu garbage bytes, %llu corrupted, "
		        "%llu deliveries dropped for slow readers, %llu connections refused%s\n",
		        (unsigned long long)stats.lists, (unsigned long long)stats.frames,
		        (unsigned long long)stats.bytes, (unsigned long long)stats.garbage_bytes,
		        (unsigned long long)stats.corrupted, (unsigned long long)stats.dropped,
		        (unsigned long long)stats.refused, stats.overrun ? ", LINE OVERRUN" : "");
	free(streams);
	return rc < 0 && rc != -EPIPE ? 1 : 0;
}
