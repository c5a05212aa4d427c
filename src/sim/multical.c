/*
 * multical.c - hanmeter-sim -m multical: a Kamstrup MULTICAL heat meter's
 * optical eye, answering KMP requests on a pty (like an IR head on a USB
 * port) or to one TCP client at a time (like ser2net).
 *
 * KMP as the vectors show it (kmp-*.hex, Kamstrup's KMP documentation as
 * PyKMP quotes it): a request is 80 <body> 0D, an answer 40 <body> 0D;
 * body = address 3F, CID, data, CRC-16/XMODEM (big-endian); the bytes
 * 06 0D 1B 40 80 inside a body go as 1B, byte ^ FF.  This file has its own
 * encoder and decoder, written from that description, so that a mistake
 * in src/core/kmp.c is not mirrored here.
 *
 *   GetType (01)      -> 2 bytes meter type, 2 bytes software revision
 *   GetSerialNo (02)  -> 4 bytes serial number, big-endian
 *   GetRegister (10)  -> per register asked for that the meter has: id (2),
 *                        unit (1), mantissa length (1), sign/exponent (1),
 *                        mantissa; unknown ids are left out of the answer
 *
 * The model: a heating circuit whose flow and return temperatures wander
 * around 65 and 40 degrees C, a flow that follows a demand curve, power =
 * flow * dT * 1.163 W per (l/h K) (water's heat capacity), and the
 * registers E1 (MWh) and V1 (m3) integrating power and flow on a clock
 * that runs --speed times real time.  Every value is rounded to the
 * integer mantissa the meter sends before it is both sent and written to
 * --expect, so the oracle states exactly what went on the wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "common/fdio.h"
#include "common/opt.h"

#define KMP_REQ      0x80 /* start byte, to the meter */
#define KMP_ANS      0x40 /* start byte, from the meter */
#define KMP_STOP     0x0D
#define KMP_ESC      0x1B
#define KMP_ADDR     0x3F  /* heat meter */
#define BODY_MAX     160   /* a request asks for at most 8 registers: 2 + 1 + 16 + 2 */
#define WATER_W_LH_K 1.163 /* W per (l/h * K): 4.186 kJ/(kg K) / 3.6 */

/* KMP unit codes (Kamstrup KMP documentation) */
enum { U_MWH = 3, U_KW = 22, U_C = 37, U_K = 38, U_M3 = 40, U_LH = 41, U_H = 46 };

static struct {
	int pty_master, pty_slave, listen_fd, conn_fd;
	char pty_path[128];
	const char *link;
	char tcp_host[128];
	unsigned tcp_port;
	bool use_pty, use_tcp;
	FILE *expect;
	double speed;
	uint64_t seed;
	unsigned silent;  /* requests left unanswered (UINT_MAX: all) */
	unsigned bad_crc; /* answers sent with a wrong CRC */
	bool echo;        /* send the request back first, as some IR heads do */
	unsigned delay_ms;
	bool quiet;
	uint64_t answers, requests, rejected;
} g = {.pty_master = -1, .pty_slave = -1, .listen_fd = -1, .conn_fd = -1, .tcp_host = "127.0.0.1", .speed = 1};

/* The meter state. */
static struct {
	struct sim_rng rng;
	double t_s;                  /* model time, s */
	double e1_mwh, v1_m3, hours; /* registers that integrate */
	double t_flow, t_ret;        /* degrees C */
	double flow_lh;              /* l/h */
	double min_flow, max_flow;   /* this month, l/h */
	uint32_t serial;
} mc;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double real0;

static void model_init(void)
{
	mc.rng.s = g.seed ^ 0x4D554C5449434131u; /* "MULTICA1": apart from the HAN makes' streams */
	mc.e1_mwh = 20 + 80 * sim_rng_unit(&mc.rng);
	mc.v1_m3 = 500 + 2000 * sim_rng_unit(&mc.rng);
	mc.hours = 20000 + sim_rng_below(&mc.rng, 30000);
	mc.serial = 60000000u + sim_rng_below(&mc.rng, 9999999);
	mc.t_flow = 65;
	mc.t_ret = 40;
	mc.flow_lh = 150;
	mc.min_flow = mc.max_flow = mc.flow_lh;
	real0 = mono_s();
}

/* Advances the model to now (real time times --speed). */
static void model_advance(void)
{
	double t = (mono_s() - real0) * g.speed;
	double dt = t - mc.t_s;
	if (dt <= 0)
		return;
	mc.t_s = t;
	double demand = 0.6 + 0.4 * sin(2 * M_PI * t / 86400.0); /* one cycle a day */
	mc.flow_lh = 250 * demand + 10 * sim_rng_gauss(&mc.rng);
	if (mc.flow_lh < 0)
		mc.flow_lh = 0;
	mc.t_flow += 0.05 * sim_rng_gauss(&mc.rng) + 0.01 * (65 - mc.t_flow);
	mc.t_ret += 0.05 * sim_rng_gauss(&mc.rng) + 0.01 * (40 - mc.t_ret);
	double p_kw = mc.flow_lh * (mc.t_flow - mc.t_ret) * WATER_W_LH_K / 1000.0;
	mc.e1_mwh += p_kw * dt / 3600.0 / 1000.0;
	mc.v1_m3 += mc.flow_lh * dt / 3600.0 / 1000.0;
	mc.hours += dt / 3600.0;
	if (mc.flow_lh < mc.min_flow)
		mc.min_flow = mc.flow_lh;
	if (mc.flow_lh > mc.max_flow)
		mc.max_flow = mc.flow_lh;
}

/* A register as sent: mantissa * 10^exp in unit, mantissa on len bytes. */
struct reg {
	uint16_t id;
	const char *field; /* the reading field it stands for, or NULL */
	uint8_t unit;
	int exp;
	unsigned len;
	int64_t m;
};

/* The registers this meter has, valued now. */
static size_t registers(struct reg *r)
{
	int64_t tf = llround(mc.t_flow * 100), tr = llround(mc.t_ret * 100);
	int64_t flow = llround(mc.flow_lh);
	/* the meter computes power from its own rounded readings */
	int64_t p = llround((double)flow * (double)(tf - tr) / 100.0 * WATER_W_LH_K / 100.0); /* 0.1 kW */
	const struct reg all[] = {
	    {0x003C, "heat_energy_e1_mwh", U_MWH, -3, 4, (int64_t)floor(mc.e1_mwh * 1000)},
	    {0x0044, "volume_v1_m3", U_M3, -2, 4, (int64_t)floor(mc.v1_m3 * 100)},
	    {0x004A, "flow_l_h", U_LH, 0, 2, flow},
	    {0x0050, "power_kw", U_KW, -1, 2, p},
	    {0x0056, "temp_flow_c", U_C, -2, 2, tf},
	    {0x0057, "temp_return_c", U_C, -2, 2, tr},
	    {0x0059, "temp_diff_k", U_K, -2, 2, tf - tr}, /* signed: can be negative */
	    {0x008B, "max_flow_month_l_h", U_LH, 0, 2, llround(mc.max_flow)},
	    {0x008D, "min_flow_month_l_h", U_LH, 0, 2, llround(mc.min_flow)},
	    {0x03EC, NULL, U_H, 0, 4, (int64_t)floor(mc.hours)}, /* hour counter */
	};
	memcpy(r, all, sizeof all);
	return sizeof all / sizeof all[0];
}

/* CRC-16/XMODEM: polynomial 0x1021, init 0, not reflected, no final XOR. */
static uint16_t crc_xmodem(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

static bool must_stuff(uint8_t b)
{
	return b == 0x06 || b == KMP_STOP || b == KMP_ESC || b == KMP_ANS || b == KMP_REQ;
}

/* Sends 40 <addr cid data crc, stuffed> 0D; bad: the CRC's low byte flipped. */
static void send_answer(int fd, uint8_t cid, const uint8_t *data, size_t n, bool bad)
{
	uint8_t body[BODY_MAX * 2], out[BODY_MAX * 4];
	size_t bl = 0, ol = 0;
	body[bl++] = KMP_ADDR;
	body[bl++] = cid;
	memcpy(body + bl, data, n);
	bl += n;
	uint16_t crc = crc_xmodem(body, bl);
	body[bl++] = (uint8_t)(crc >> 8);
	body[bl++] = (uint8_t)(crc ^ (bad ? 0x01 : 0));
	out[ol++] = KMP_ANS;
	for (size_t i = 0; i < bl; i++) {
		if (must_stuff(body[i])) {
			out[ol++] = KMP_ESC;
			out[ol++] = (uint8_t)(body[i] ^ 0xFF);
		} else {
			out[ol++] = body[i];
		}
	}
	out[ol++] = KMP_STOP;
	if (hm_write_all(fd, out, ol) == 0)
		g.answers++;
}

static void json_value(FILE *f, int64_t m, int e)
{
	/* exact decimal: m * 10^e */
	if (e >= 0) {
		fprintf(f, "\"%lld", (long long)m);
		for (int i = 0; i < e; i++)
			fputc('0', f);
		fputc('"', f);
		return;
	}
	int64_t p = 1;
	for (int i = 0; i < -e; i++)
		p *= 10;
	int64_t a = m < 0 ? -m : m;
	fprintf(f, "\"%s%lld.%0*lld\"", m < 0 ? "-" : "", (long long)(a / p), -e, (long long)(a % p));
}

/* One request body (unstuffed, CRC checked): answer it. */
static void handle(int fd, const uint8_t *b, size_t n)
{
	uint8_t data[BODY_MAX];
	size_t dl = 0;
	if (n < 2 || b[0] != KMP_ADDR) {
		g.rejected++;
		return;
	}
	g.requests++;
	if (g.silent) {
		if (g.silent != UINT32_MAX)
			g.silent--;
		return;
	}
	if (g.delay_ms)
		usleep(g.delay_ms * 1000u);
	model_advance();
	bool bad = g.bad_crc > 0;
	if (bad)
		g.bad_crc--;
	uint8_t cid = b[1];
	const uint8_t *d = b + 2;
	size_t len = n - 2;
	if (cid == 0x01) {
		static const uint8_t type[] = {0x00, 0x1C, 0x01, 0x04}; /* a plausible type and revision */
		send_answer(fd, cid, type, sizeof type, bad);
		return;
	}
	if (cid == 0x02) {
		uint8_t s[4] = {(uint8_t)(mc.serial >> 24), (uint8_t)(mc.serial >> 16), (uint8_t)(mc.serial >> 8),
		                (uint8_t)mc.serial};
		send_answer(fd, cid, s, sizeof s, bad);
		return;
	}
	if (cid != 0x10 || len < 1 || d[0] < 1 || d[0] > 8 || len != 1 + 2u * d[0]) {
		g.rejected++; /* a real meter stays silent on what it does not take */
		return;
	}
	struct reg all[16];
	size_t nall = registers(all);
	if (g.expect)
		fprintf(g.expect, "{\"seq\":%llu,\"corrupt\":%s,\"values\":{", (unsigned long long)g.answers,
		        bad ? "true" : "false");
	bool first = true;
	for (unsigned i = 0; i < d[0]; i++) {
		uint16_t id = (uint16_t)(d[1 + 2 * i] << 8 | d[2 + 2 * i]);
		const struct reg *r = NULL;
		for (size_t k = 0; k < nall; k++)
			if (all[k].id == id)
				r = &all[k];
		if (!r)
			continue;
		uint64_t a = (uint64_t)(r->m < 0 ? -r->m : r->m);
		data[dl++] = (uint8_t)(id >> 8);
		data[dl++] = (uint8_t)id;
		data[dl++] = r->unit;
		data[dl++] = (uint8_t)r->len;
		/* sign/exponent: bit 7 mantissa negative, bit 6 exponent negative, bits 0-5 |exponent| */
		data[dl++] = (uint8_t)((r->m < 0 ? 0x80 : 0) | (r->exp < 0 ? 0x40 : 0) | (unsigned)abs(r->exp));
		for (unsigned k = r->len; k-- > 0;)
			data[dl++] = (uint8_t)(a >> (8 * k));
		if (g.expect) {
			char key[32];
			if (r->field)
				snprintf(key, sizeof key, "%s", r->field);
			else
				snprintf(key, sizeof key, "register_%u", id);
			fprintf(g.expect, "%s\"%s\":", first ? "" : ",", key);
			json_value(g.expect, r->m, r->exp);
			first = false;
		}
	}
	if (g.expect)
		fputs("}}\n", g.expect);
	send_answer(fd, cid, data, dl, bad);
}

/* Request bytes from fd: 80 <stuffed body> 0D, anything else skipped. */
static void take(int fd, const uint8_t *p, size_t n)
{
	static uint8_t body[BODY_MAX];
	static size_t bl;
	static bool in, esc;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == KMP_REQ) { /* a start byte is never inside a body: begin again */
			in = true;
			esc = false;
			bl = 0;
			continue;
		}
		if (!in)
			continue;
		if (c == KMP_STOP) {
			in = false;
			if (esc || bl < 4 || crc_xmodem(body, bl) != 0)
				g.rejected++;
			else
				handle(fd, body, bl - 2);
			continue;
		}
		if (c == KMP_ESC && !esc) {
			esc = true;
			continue;
		}
		if (bl == sizeof body) {
			in = false;
			g.rejected++;
			continue;
		}
		body[bl++] = esc ? (uint8_t)(c ^ 0xFF) : c;
		esc = false;
	}
}

static void usage(FILE *f)
{
	fputs("usage: hanmeter-sim -m multical [options]\n"
	      "  A Kamstrup MULTICAL heat meter answering KMP requests.\n"
	      "      --pty             answer on a new pseudo-terminal, print its path\n"
	      "      --link PATH       with --pty: also make the symlink PATH to it\n"
	      "      --tcp [HOST:]PORT answer TCP clients, one at a time (HOST default 127.0.0.1)\n"
	      "      --speed N         the meter's clock runs N times real time (default 1)\n"
	      "  -s, --seed N          randomness seed (default 1)\n"
	      "      --silent N        leave the first N requests unanswered (all: --silent all)\n"
	      "      --bad-crc N       send the first N answers with a wrong CRC\n"
	      "      --echo            send every request back before the answer (IR head echo)\n"
	      "      --delay MS        wait MS before answering\n"
	      "  -e, --expect FILE     write the values of every register answer as JSON lines\n"
	      "  -q, --quiet           no statistics at exit\n",
	      f);
}

/* 0..UINT32_MAX - 1: UINT32_MAX is --silent all. */
static int parse_uint(const char *s, unsigned *v)
{
	uint64_t x;
	if (hm_opt_parse_uint(s, UINT32_MAX - 1, &x))
		return -1;
	*v = (unsigned)x;
	return 0;
}

static void parse_args(int argc, char **argv)
{
	enum { O_PTY = 256, O_LINK, O_TCP, O_SPEED, O_SILENT, O_BADCRC, O_ECHO, O_DELAY };
	static const struct option lo[] = {
	    {"meter", required_argument, NULL, 'm'},
	    {"pty", no_argument, NULL, O_PTY},
	    {"link", required_argument, NULL, O_LINK},
	    {"tcp", required_argument, NULL, O_TCP},
	    {"speed", required_argument, NULL, O_SPEED},
	    {"seed", required_argument, NULL, 's'},
	    {"silent", required_argument, NULL, O_SILENT},
	    {"bad-crc", required_argument, NULL, O_BADCRC},
	    {"echo", no_argument, NULL, O_ECHO},
	    {"delay", required_argument, NULL, O_DELAY},
	    {"expect", required_argument, NULL, 'e'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "m:s:e:qh", lo, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'm': break; /* multical: how we got here */
		case O_PTY: g.use_pty = true; break;
		case O_LINK: g.link = optarg; break;
		case O_TCP:
			if (hm_opt_parse_hostport(optarg, g.tcp_host, sizeof g.tcp_host, &g.tcp_port))
				bad = "--tcp wants [HOST:]PORT";
			g.use_tcp = true;
			break;
		case O_SPEED:
			if (hm_opt_parse_real(optarg, &g.speed) || !(g.speed > 0 && g.speed <= 1e9))
				bad = "--speed wants a number above 0";
			break;
		case 's': {
			unsigned s;
			if (parse_uint(optarg, &s))
				bad = "--seed wants a non-negative integer";
			g.seed = s;
			break;
		}
		case O_SILENT:
			if (strcmp(optarg, "all") == 0)
				g.silent = UINT32_MAX;
			else if (parse_uint(optarg, &g.silent))
				bad = "--silent wants a count or all";
			break;
		case O_BADCRC:
			if (parse_uint(optarg, &g.bad_crc))
				bad = "--bad-crc wants a count";
			break;
		case O_ECHO: g.echo = true; break;
		case O_DELAY:
			if (parse_uint(optarg, &g.delay_ms) || g.delay_ms > 60000)
				bad = "--delay wants 0..60000 ms";
			break;
		case 'e':
			g.expect = fopen(optarg, "w");
			if (!g.expect) {
				fprintf(stderr, "hanmeter-sim: %s: %s\n", optarg, strerror(errno));
				exit(1);
			}
			setvbuf(g.expect, NULL, _IOLBF, 0);
			break;
		case 'q': g.quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
		if (bad) {
			fprintf(stderr, "hanmeter-sim: %s (got '%s')\n", bad, optarg);
			exit(2);
		}
	}
	if (optind < argc || g.use_pty == g.use_tcp || (g.link && !g.use_pty)) {
		fprintf(stderr, "hanmeter-sim: -m multical needs exactly one of --pty or --tcp "
		                "(--link with --pty), and no other arguments\n");
		exit(2);
	}
}

static int open_pty(void)
{
	g.pty_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (g.pty_master < 0 || grantpt(g.pty_master) || unlockpt(g.pty_master) ||
	    ptsname_r(g.pty_master, g.pty_path, sizeof g.pty_path))
		return -1;
	/* held open so the pty outlives readers; raw, so nothing is echoed or translated */
	g.pty_slave = open(g.pty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios tio;
	if (g.pty_slave < 0 || tcgetattr(g.pty_slave, &tio))
		return -1;
	cfmakeraw(&tio);
	cfsetispeed(&tio, B1200); /* informative only on a pty */
	cfsetospeed(&tio, B1200);
	if (tcsetattr(g.pty_slave, TCSANOW, &tio))
		return -1;
	printf("%s\n", g.pty_path);
	if (g.link) {
		struct stat st;
		if (lstat(g.link, &st) == 0 && !S_ISLNK(st.st_mode)) {
			fprintf(stderr, "hanmeter-sim: %s exists and is not a symlink\n", g.link);
			return -1;
		}
		unlink(g.link);
		if (symlink(g.pty_path, g.link))
			return -1;
	}
	return 0;
}

static int open_listener(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
	char ps[8], host[64], serv[16];
	snprintf(ps, sizeof ps, "%u", g.tcp_port);
	if (getaddrinfo(g.tcp_host, ps, &hints, &ai))
		return -1;
	int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4)) {
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
	                NI_NUMERICHOST | NI_NUMERICSERV))
		return -1;
	printf(strchr(host, ':') ? "[%s]:%s\n" : "%s:%s\n", host, serv);
	g.listen_fd = fd;
	return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int sim_multical_main(int argc, char **argv)
{
	parse_args(argc, argv);
	model_init();
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if ((g.use_pty ? open_pty() : open_listener()) < 0) {
		fprintf(stderr, "hanmeter-sim: %s: %s\n", g.use_pty ? "pty" : g.tcp_host, strerror(errno));
		return 1;
	}
	fflush(stdout);
	while (!stop) {
		struct pollfd pf = {.events = POLLIN};
		pf.fd = g.use_pty ? g.pty_master : g.conn_fd >= 0 ? g.conn_fd : g.listen_fd;
		if (poll(&pf, 1, 500) <= 0)
			continue;
		if (!g.use_pty && g.conn_fd < 0) {
			g.conn_fd = accept4(g.listen_fd, NULL, NULL, SOCK_CLOEXEC);
			continue;
		}
		uint8_t buf[512];
		ssize_t n = read(pf.fd, buf, sizeof buf);
		if (n <= 0) {
			if (!g.use_pty) { /* the client went: wait for the next one */
				close(g.conn_fd);
				g.conn_fd = -1;
			} else if (n < 0 && errno == EIO) {
				usleep(50000); /* no reader on the pty just now */
			}
			continue;
		}
		if (g.echo)
			hm_write_all(pf.fd, buf, (size_t)n);
		take(pf.fd, buf, (size_t)n);
	}
	if (g.link)
		unlink(g.link);
	if (!g.quiet)
		fprintf(stderr, "hanmeter-sim: multical: %llu requests, %llu answers, %llu rejected\n",
		        (unsigned long long)g.requests, (unsigned long long)g.answers, (unsigned long long)g.rejected);
	return 0;
}
