/*
 * mqttsub.c - the benchmark's subscriber: counts what reaches the broker
 * and notes when each reading arrived.
 *
 * A minimal MQTT 3.1.1 client (OASIS MQTT 3.1.1, sections 3.1 CONNECT,
 * 3.3 PUBLISH, 3.8 SUBSCRIBE; no library, so it costs the machine as little
 * as possible): CONNECT with a clean session and keepalive 0 (no PINGREQ
 * needed), SUBSCRIBE to one filter at QoS 0, then read PUBLISH packets.
 *
 * Each read() is stamped with CLOCK_MONOTONIC as it returns; every PUBLISH
 * in it gets that time.  A message whose topic is <prefix>/m<I>/state and
 * whose payload holds "active_power_import_w":SEQ, or whose topic is
 * <prefix>/m<I>/active_power_import_w with payload SEQ (per-value mode),
 * is recorded as (I, SEQ, ns): loadgen.c puts SEQ there, so the harness
 * pairs each message with the moment its frame's last byte was written.
 *
 *   mqttsub -p PORT -t FILTER -l LOG
 * prints "subscribed" when the SUBACK is in; SIGUSR1 prints
 * "count MESSAGES BYTES"; SIGTERM writes LOG ("<IIQ" records) and exits.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pipeline.h"

#define BUF_SIZE (1 << 20) /* many messages per read at 10,000 meters */

/* MQTT control packet types (MQTT 3.1.1, 2.2.1), first byte high nibble */
enum { CONNECT = 1, CONNACK = 2, PUBLISH = 3, SUBSCRIBE = 8, SUBACK = 9 };

static volatile sig_atomic_t want_count, want_quit;
static uint64_t messages, payload_bytes, unmatched;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		want_count = 1;
	else
		want_quit = 1;
}

/* Appends an MQTT UTF-8 string (2-byte big-endian length, then bytes). */
static size_t put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);
	p[0] = (uint8_t)(n >> 8);
	p[1] = (uint8_t)n;
	memcpy(p + 2, s, n);
	return n + 2;
}

/* Writes a packet: fixed header (type/flags, remaining length varint) + body. */
static void send_packet(int fd, uint8_t first, const uint8_t *body, size_t len)
{
	uint8_t pkt[1024];
	size_t n = 0;
	pkt[n++] = first;
	size_t rl = len;
	do {
		uint8_t b = rl % 128;
		rl /= 128;
		pkt[n++] = (uint8_t)(b | (rl ? 0x80 : 0));
	} while (rl);
	memcpy(pkt + n, body, len);
	n += len;
	if (write(fd, pkt, n) != (ssize_t)n)
		die("write");
}

static unsigned long parse_uint(const char *p, const char *end, const char **after)
{
	unsigned long v = 0;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (unsigned long)(*p++ - '0');
	*after = p;
	return v;
}

static void on_publish(const char *topic, size_t tlen, const char *pl, size_t plen, uint64_t ns)
{
	static const char key[] = "\"active_power_import_w\":";
	static const char leaf[] = "/active_power_import_w";
	messages++;
	payload_bytes += plen;
	/* <prefix>/m<I>/... : the meter level is the one starting "/m" followed by a digit */
	const char *t = topic, *tend = topic + tlen, *after;
	const char *mi = NULL;
	for (const char *q = t; q + 2 < tend; q++)
		if (q[0] == '/' && q[1] == 'm' && q[2] >= '0' && q[2] <= '9') {
			mi = q + 2;
			break;
		}
	if (!mi)
		return;
	unsigned long stream = parse_uint(mi, tend, &after);
	if (after >= tend || *after != '/')
		return;
	size_t rest = (size_t)(tend - after);
	const char *v = NULL, *vend = pl + plen;
	if (rest == 6 && memcmp(after, "/state", 6) == 0) {
		for (const char *q = pl; q + sizeof key - 1 <= vend; q++)
			if (memcmp(q, key, sizeof key - 1) == 0) {
				v = q + sizeof key - 1;
				break;
			}
	} else if (rest == sizeof leaf - 1 && memcmp(after, leaf, rest) == 0) {
		v = pl;
	} else {
		return;
	}
	if (!v || v >= vend || *v < '0' || *v > '9') {
		unmatched++;
		return;
	}
	unsigned long seq = parse_uint(v, vend, &after);
	record((uint32_t)stream, (uint32_t)seq, ns);
}

int main(int argc, char **argv)
{
	unsigned port = 1883;
	const char *filter = "#", *logfile = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "p:t:l:")) != -1) {
		switch (opt) {
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': filter = optarg; break;
		case 'l': logfile = optarg; break;
		default: fprintf(stderr, "usage: mqttsub -p PORT -t FILTER -l LOG\n"); return 64;
		}
	}
	if (!logfile || strlen(filter) > 512)
		return 64;

	struct sigaction sa = {.sa_handler = on_sig}; /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = loopback(port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect");
	int rcvbuf = 4 << 20;
	nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

	uint8_t body[600];
	size_t n = 0;
	char cid[32];
	snprintf(cid, sizeof cid, "benchsub-%d", (int)getpid());
	n += put_str(body + n, "MQTT");
	body[n++] = 4;                /* protocol level: 3.1.1 */
	body[n++] = 0x02;             /* clean session */
	body[n++] = 0, body[n++] = 0; /* keepalive 0: off */
	n += put_str(body + n, cid);
	send_packet(fd, CONNECT << 4, body, n);
	n = 0;
	body[n++] = 0, body[n++] = 1; /* packet identifier 1 */
	n += put_str(body + n, filter);
	body[n++] = 0;                                  /* requested QoS 0 */
	send_packet(fd, SUBSCRIBE << 4 | 0x2, body, n); /* SUBSCRIBE flags are 0010 (3.8.1) */

	uint8_t *buf = malloc(BUF_SIZE);
	size_t have = 0;
	if (!buf)
		die("malloc");
	while (!want_quit) {
		if (want_count) {
			want_count = 0;
			printf("count %llu %llu\n", (unsigned long long)messages, (unsigned long long)payload_bytes);
			fflush(stdout);
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		ssize_t r = read(fd, buf + have, BUF_SIZE - have);
		uint64_t ns = now_ns();
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			fprintf(stderr, "mqttsub: broker closed the connection\n");
			break;
		}
		have += (size_t)r;
		size_t off = 0;
		for (;;) { /* every whole packet in buf */
			size_t i = off + 1, rl = 0, mul = 1;
			if (i >= have)
				break;
			while (i < have && (buf[i] & 0x80)) {
				rl += (size_t)(buf[i++] & 0x7F) * mul;
				mul *= 128;
			}
			if (i >= have)
				break;
			rl += (size_t)(buf[i++] & 0x7F) * mul;
			if (i + rl > have)
				break;
			int type = buf[off] >> 4;
			if (type == PUBLISH && rl >= 2) {
				size_t tl = (size_t)buf[i] << 8 | buf[i + 1];
				size_t hdr = 2 + tl + ((buf[off] & 0x06) ? 2 : 0); /* packet id only with QoS > 0 */
				if (hdr <= rl)
					on_publish((const char *)buf + i + 2, tl, (const char *)buf + i + hdr, rl - hdr,
					           ns);
			} else if (type == SUBACK) {
				printf("subscribed\n");
				fflush(stdout);
			} else if (type == CONNACK && rl >= 2 && buf[i + 1] != 0) {
				fprintf(stderr, "mqttsub: CONNACK refused (%u)\n", buf[i + 1]);
				return 2;
			}
			off = i + rl;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (have == BUF_SIZE) {
			fprintf(stderr, "mqttsub: packet larger than the buffer\n");
			return 2;
		}
	}
	reclog_write(logfile);
	fprintf(stderr, "mqttsub: %llu messages, %llu payload bytes, %zu readings matched, %llu unmatched\n",
	        (unsigned long long)messages, (unsigned long long)payload_bytes, n_recs, (unsigned long long)unmatched);
	return 0;
}
