/*
 * input.c - where hanmeter's bytes come from, the raw log and paced replay.
 *
 * Sources: stdin, a capture file, tcp://HOST:PORT (ser2net "raw" or socat
 * tcp-listen: the meter's bytes, unchanged), a serial port (through
 * src/common/serial.c: libserialport for adapters, termios for ptys).  A
 * byte source is read in whatever chunks read() returns and every chunk is
 * one unit for the stream's framer (HDLC, M-Bus or P1, see hanmeter.c).
 *
 * Hex text (the vectors' format, and what -l writes: a *.hex file, --hex, or
 * a regular file whose first byte is '#') is read line by line.
 * Each data line is one unit:
 *   - in a file whose header says "# format: raw-serial-stream", or with
 *     --stream, every line is stream bytes (one read() of the capture);
 *   - otherwise a line starting E6 E7 00 (LLC), 0F (data-notification) or
 *     DB (general-glo-ciphering) is a bare APDU and decoded as one message;
 *   - a line starting 68 L L 68 is M-Bus bytes (a long frame, EN 13757-2);
 *   - a line 40 ... 0D or 80 ... 0D is one KMP frame (Kamstrup Meter
 *     Protocol response or request);
 *   - any other line (an HDLC frame, 7E ...) is HDLC stream bytes.
 * All HDLC lines go to one framer and all M-Bus lines to another, so
 * several frames on a line, a frame split over lines and segmented messages
 * all work.  A byte stream (and a raw-stream hex file) is M-Bus if its first
 * unit starts with an M-Bus header, P1 if it starts with '/' (after CR LF),
 * else HDLC; --framing decides instead.  "# +SECONDS" comment
 * lines (written by -l) give the time of the next line since the start;
 * --replay-pace sleeps until then.  Data lines are numbered from 1,
 * comments and blank lines not counted (vectors/README.md "[line N]").
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hexfile.h"

#include "tool.h"

/* One read() from a byte source.  At 2400 baud a meter sends ~240 bytes/s,
 * so this only matters for files; 4 KiB is one page. */
#define READ_CHUNK 4096

/* The longest hex text line taken: a -l log line is one read() (READ_CHUNK
 * bytes = 8 KiB of digits); pasted dumps with separators are up to 3 chars
 * per byte.  64 KiB covers a whole 8 KiB segmented message on one line. */
#define HEX_LINE_MAX 65536

/* Stop reasons of read_some() besides a byte count. */
#define READ_EOF  0
#define READ_STOP (-1000) /* signal, --count or --timeout */

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Reads up to cap bytes, waiting at most --timeout for the first one.
 * Returns the count, READ_EOF, READ_STOP, or -errno. */
static ssize_t read_some(struct hm_tool *t, int fd, uint8_t *buf, size_t cap)
{
	for (;;) {
		if (hm_tool_stop)
			return READ_STOP;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, t->timeout_ms ? (int)t->timeout_ms : -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0) {
			if (t->timeout_ms)
				fprintf(stderr, "hanmeter: %s: no data for %u.%03u s, stopping\n", t->input,
				        t->timeout_ms / 1000, t->timeout_ms % 1000);
			return READ_STOP;
		}
		ssize_t n = read(fd, buf, cap);
		if (n >= 0)
			return n;
		if (errno == EINTR || errno == EAGAIN)
			continue;
		return -errno;
	}
}

static int read_failed(struct hm_tool *t, ssize_t n)
{
	fprintf(stderr, "hanmeter: %s: %s\n", t->input, strerror((int)-n));
	return (int)n;
}

/* --- byte sources ------------------------------------------------------ */

static int run_bytes(struct hm_tool *t, int fd)
{
	uint8_t buf[READ_CHUNK];
	for (;;) {
		ssize_t n = read_some(t, fd, buf, sizeof buf);
		if (n == READ_EOF || n == READ_STOP)
			return 0;
		if (n < 0)
			return read_failed(t, n);
		hm_tool_unit(t, buf, (size_t)n, HM_UNIT_AUTO);
	}
}

/* --- hex text ---------------------------------------------------------- */

/* Sleeps until t0 + seconds (--replay-pace). */
static void pace_until(struct hm_tool *t, double seconds)
{
	if (!(seconds >= 0) || seconds > 1e9)
		return;
	struct timespec at = t->t0;
	long long ns = (long long)(seconds * 1e9);
	at.tv_sec += (time_t)(ns / 1000000000);
	at.tv_nsec += (long)(ns % 1000000000);
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
		if (hm_tool_stop)
			return;
}

static void comment_line(struct hm_tool *t, const char *s)
{
	s++; /* '#' */
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '+') {
		char *end;
		double sec = strtod(s + 1, &end);
		if (end != s + 1 && t->pace)
			pace_until(t, sec);
		return;
	}
	if (strncmp(s, "format:", 7) == 0) {
		if (strstr(s, "raw-serial-stream"))
			t->stream = true;
		if (t->log) /* a log of a raw stream must replay as one */
			fprintf(t->log, "# %s\n", s);
	}
}

static bool is_bare_apdu(const uint8_t *p, size_t n)
{
	if (n >= 3 && p[0] == 0xE6 && p[1] == 0xE7 && p[2] == 0x00) /* LLC, IEC 62056-46 / 8802-2 */
		return true;
	return n >= 1 && (p[0] == HM_DLMS_DATA_NOTIFICATION || p[0] == HM_DLMS_GENERAL_GLO_CIPHERING);
}

/* The unit kind of one hex data line (the rules at the top of this file). */
static enum hm_unit_kind classify(const struct hm_tool *t, const uint8_t *p, size_t n)
{
	if (t->stream)
		return HM_UNIT_AUTO;
	if (is_bare_apdu(p, n))
		return HM_UNIT_APDU;
	if (hm_tool_is_mbus(p, n))
		return HM_UNIT_MBUS;
	if (n >= 3 && (p[0] == HM_KMP_START_FROM_METER || p[0] == HM_KMP_START_TO_METER) && p[n - 1] == HM_KMP_STOP)
		return HM_UNIT_KMP;
	return HM_UNIT_HDLC;
}

static void hex_line(struct hm_tool *t, char *s, unsigned textline)
{
	static uint8_t bytes[HEX_LINE_MAX / 2];
	char err[128];
	struct hm_hexline one;
	size_t n, nlines;

	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = 0;
	if (len == 0)
		return;
	if (*s == '#') {
		comment_line(t, s);
		return;
	}
	t->line++;
	if (hm_hex_parse(s, len, bytes, sizeof bytes, &n, &one, 1, &nlines, err, sizeof err) < 0) {
		const char *why = strncmp(err, "line 1: ", 8) == 0 ? err + 8 : err;
		fprintf(stderr, "hanmeter: %s:%u: %s (line skipped)\n", t->input, textline, why);
		t->bad_lines++;
		return;
	}
	if (n == 0)
		return;
	hm_tool_unit(t, bytes, n, classify(t, bytes, n));
}

static int run_hex(struct hm_tool *t, int fd)
{
	static char text[HEX_LINE_MAX + READ_CHUNK];
	size_t have = 0;
	unsigned textline = 0;
	bool skipping = false; /* inside an over-long line */

	for (;;) {
		ssize_t n = read_some(t, fd, (uint8_t *)text + have, sizeof text - 1 - have);
		if (n == READ_STOP)
			return 0;
		if (n < 0)
			return read_failed(t, n);
		have += (size_t)n;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(text + start, '\n', have - start);
			if (!nl && n == READ_EOF && start < have)
				nl = text + have; /* last line without a newline */
			if (!nl)
				break;
			*nl = 0;
			textline++;
			if (!skipping && !hm_tool_stop)
				hex_line(t, text + start, textline);
			skipping = false;
			start = (size_t)(nl - text) + 1;
			if (start > have)
				start = have;
		}
		memmove(text, text + start, have - start);
		have -= start;
		if (n == READ_EOF)
			return 0;
		if (have == sizeof text - 1) {
			fprintf(stderr, "hanmeter: %s:%u: line longer than %d characters (skipped)\n", t->input,
			        textline + 1, HEX_LINE_MAX);
			t->bad_lines++;
			t->line++;
			skipping = true;
			have = 0;
		}
	}
}

/* --- opening ----------------------------------------------------------- */

bool hm_input_looks_hex(const char *path)
{
	/* '#' first, then only text: a binary capture that happens to start
	 * with 0x23 has a non-text byte within its first frame. */
	char buf[512];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf) : -1;
	close(fd);
	if (n < 1 || buf[0] != '#')
		return false;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if ((c < 0x20 || c > 0x7E) && c != '\n' && c != '\r' && c != '\t')
			return false;
	}
	return true;
}

bool hm_input_is_port(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
		return false;
	/* /dev/null and friends are character devices too; only a tty is a port. */
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return true; /* let the serial code say why it cannot be opened */
	bool tty = isatty(fd);
	close(fd);
	return tty;
}

/* tcp://HOST:PORT or tcp://[V6ADDR]:PORT; a connected socket or -errno. */
static int open_tcp(struct hm_tool *t)
{
	char host[256];
	const char *hp = t->input + 6, *port, *colon = strrchr(hp, ':');
	size_t hl;

	if (!colon || !colon[1]) {
		fprintf(stderr, "hanmeter: %s: expected tcp://HOST:PORT\n", t->input);
		return -EINVAL;
	}
	port = colon + 1;
	hl = (size_t)(colon - hp);
	if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof host) {
		fprintf(stderr, "hanmeter: %s: bad host\n", t->input);
		return -EINVAL;
	}
	memcpy(host, hp, hl);
	host[hl] = 0;

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		fprintf(stderr, "hanmeter: %s: %s\n", t->input, gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	int fd = -1, err = ENOTCONN;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "hanmeter: %s: %s\n", t->input, strerror(err));
		return -err;
	}
	return fd;
}

int hm_input_run(struct hm_tool *t)
{
	struct hm_serial *port = NULL;
	struct stat st;
	int fd, rc;

	switch (t->kind) {
	case HM_INPUT_STDIN:
		fd = STDIN_FILENO;
		t->input = "stdin";
		break;
	case HM_INPUT_TCP:
		fd = open_tcp(t);
		if (fd < 0)
			return fd;
		break;
	case HM_INPUT_FILE:
		fd = open(t->input, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			fprintf(stderr, "hanmeter: %s: %s\n", t->input, strerror(errno));
			return rc;
		}
		break;
	case HM_INPUT_SERIAL: {
		char err[256];
		errno = 0;
		/* the KMP optical eye wants 2 stop bits */
		port = hm_serial_open(t->input, t->baud, t->parity, t->kmp_poll ? 2 : 1, &fd, err, sizeof err);
		if (!port) {
			rc = errno ? -errno : -EIO;
			fprintf(stderr, "hanmeter: %s: %s\n", t->input, err);
			return rc;
		}
		break;
	}
	default: return -EINVAL;
	}
	t->live = !(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));

	if (t->kmp_poll && t->kind != HM_INPUT_SERIAL && t->kind != HM_INPUT_TCP) {
		fprintf(stderr, "hanmeter: --kmp polls a serial port or tcp://HOST:PORT, not %s\n", t->input);
		rc = -EINVAL;
	} else {
		rc = t->kmp_poll ? hm_tool_kmp_poll(t, fd) : t->hex ? run_hex(t, fd) : run_bytes(t, fd);
	}

	if (port)
		hm_serial_close(port);
	else if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

/* --- the raw log (-l) -------------------------------------------------- */

int hm_log_open(struct hm_tool *t)
{
	char stamp[32] = "?";
	time_t now = time(NULL);
	struct tm tm;

	t->log = fopen(t->log_path, "w");
	if (!t->log) {
		int rc = -errno;
		fprintf(stderr, "hanmeter: %s: %s\n", t->log_path, strerror(errno));
		return rc;
	}
	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(t->log,
	        "# %s\n"
	        "# raw bytes read by hanmeter %s from %s, started %s\n"
	        "# one data line per read() (hex), \"# +SECONDS\" since the start above each;\n"
	        "# replay: hanmeter [--replay-pace] %s\n",
	        t->log_path, HM_VERSION, t->input, stamp, t->log_path);
	/* A byte source is a raw stream: say so, so that the replay feeds every
	 * line to the framer.  Hex input passes its own format line on. */
	if (!t->hex || t->stream)
		fputs("# format: raw-serial-stream (hdlc-dlms)\n", t->log);
	return 0;
}

void hm_log_unit(struct hm_tool *t, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	int64_t ms = ms_since(&t->t0);

	fprintf(t->log, "# +%lld.%03lld\n", (long long)(ms / 1000), (long long)(ms % 1000));
	for (size_t i = 0; i < n; i++) {
		putc(digits[p[i] >> 4], t->log);
		putc(digits[p[i] & 15], t->log);
	}
	putc('\n', t->log);
	if (t->live)
		fflush(t->log); /* a killed session still leaves a replayable log */
}
