/*
 * pipeline.h - what the two C ends of pipeline.bench share: loadgen.c (the
 * meters) and mqttsub.c (the subscriber).
 *
 * Both keep timing records: loadgen notes (stream, seq, ns) when a frame's
 * last byte was written, mqttsub when the reading it carried arrived, and
 * bench/harness.py pairs the two logs.  ns is CLOCK_MONOTONIC (both run on
 * one machine).  A log is the records in order, each little-endian "<IIQ"
 * (16 bytes, no header).  Both talk TCP on 127.0.0.1 only, with Nagle off
 * so that a frame or packet leaves when it is written.
 *
 * Header-only: each program includes it once.
 */
#ifndef HM_BENCH_PIPELINE_H
#define HM_BENCH_PIPELINE_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECS_FIRST 65536 /* records room is made for at first; doubled as needed */

struct rec {
	uint32_t stream, seq;
	uint64_t ns;
};

static struct rec *recs;
static size_t n_recs, cap_recs;

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A system call failed: say which (prefixed with the program's name), exit 2. */
static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(errno));
	exit(2);
}

static inline void record(uint32_t stream, uint32_t seq, uint64_t ns)
{
	if (n_recs == cap_recs) {
		cap_recs = cap_recs ? 2 * cap_recs : RECS_FIRST;
		recs = realloc(recs, cap_recs * sizeof *recs);
		if (!recs)
			die("realloc");
	}
	recs[n_recs++] = (struct rec){stream, seq, ns};
}

/* 127.0.0.1:port. */
static inline struct sockaddr_in loopback(unsigned port)
{
	return (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static inline void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Writes every record to path, byte by byte so no host order leaks in. */
static inline void reclog_write(const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		die(path);
	for (size_t k = 0; k < n_recs; k++) {
		uint8_t b[16];
		for (int q = 0; q < 4; q++) {
			b[q] = (uint8_t)(recs[k].stream >> (8 * q));
			b[4 + q] = (uint8_t)(recs[k].seq >> (8 * q));
		}
		for (int q = 0; q < 8; q++)
			b[8 + q] = (uint8_t)(recs[k].ns >> (8 * q));
		fwrite(b, sizeof b, 1, f);
	}
	fclose(f);
}

#endif
