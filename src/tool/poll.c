/*
 * poll.c - hanmeter --kmp: polls a Kamstrup MULTICAL heat meter over KMP
 * (optical eye on a serial port, 1200 baud 8N2, or tcp://HOST:PORT to
 * ser2net), with the daemon's request code (common/kmppoll.h).
 *
 * A round: GetSerialNo once (meter_serial in the readings), then the
 * registers (--registers, default the daemon's list) in GetRegister requests
 * of at most 8.  Each request waits --kmp-timeout ms for its answer and is
 * sent again up to 2 times after silence or a bad answer; its registers are
 * left out of the round when none came.  One round, or -c N rounds with
 * --interval seconds from the start of one to the next.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/kmppoll.h"
#include "tool.h"

#define KMP_TRIES 3 /* a request, and 2 more after silence or a bad answer */

static const uint16_t default_regs[] = {60, 68, 74, 80, 86, 87, 89, 139, 141}; /* as hanmeterd.conf(5) */

int hm_tool_kmp_registers(struct hm_tool *t, const char *list)
{
	unsigned n = 0;
	for (const char *q = list; *q;) {
		size_t tl = strcspn(q, " \t,");
		if (tl == 0) {
			q++;
			continue;
		}
		char tok[16], *end;
		if (tl >= sizeof tok || n == HM_TOOL_KMP_REGS_MAX)
			return -EINVAL;
		memcpy(tok, q, tl);
		tok[tl] = 0;
		q += tl;
		errno = 0;
		unsigned long id = strtoul(tok, &end, 0);
		if (errno || *end || id == 0 || id > 0xFFFF || tok[0] == '-' || tok[0] == '+')
			return -EINVAL;
		t->kmp_reg[n++] = (uint16_t)id;
	}
	t->n_kmp_regs = n;
	return n ? 0 : -EINVAL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints a frame for -x (its own decode, as for a capture line). */
static void show(struct hm_tool *t, const uint8_t *raw, size_t n)
{
	uint8_t body[HM_KMP_BODY_MAX];
	struct hm_kmp_frame f;
	enum hm_err err = hm_kmp_decode(raw, n, body, sizeof body, &f);
	hm_print_kmp(t, raw, n, err, err == HM_ERR_OK ? &f : NULL);
}

/* Sends req and waits for one answer in rx: 1 got one, 0 timeout, -errno. */
static int exchange(struct hm_tool *t, int fd, const uint8_t *req, size_t len, struct hm_kmp_rx *rx)
{
	hm_kmp_rx_reset(rx);
	if (t->show_frames)
		show(t, req, len);
	if (write(fd, req, len) != (ssize_t)len)
		return errno ? -errno : -EIO;
	int64_t deadline = now_ms() + t->kmp_timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0 || hm_tool_stop)
			return 0;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, (int)left);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		uint8_t buf[256];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (t->log)
			hm_log_unit(t, buf, (size_t)n);
		bool done;
		hm_kmp_rx_feed(rx, buf, (size_t)n, &done); /* bytes after the answer: none expected */
		if (done)
			return 1;
	}
}

/* One round into r; returns the registers stored, or -errno for a dead line. */
static int round_once(struct hm_tool *t, int fd, struct hm_reading *r, char *serial, size_t scap)
{
	uint8_t req[HM_KMP_FRAME_MAX];
	size_t len;
	struct hm_kmp_rx rx = {0};
	int stored = 0, rc;

	hm_reading_clear(r);
	r->profile = "kmp";
	if (!serial[0] &&
	    hm_kmp_request(HM_KMP_ADDR_HEAT_METER, HM_KMP_CID_GET_SERIAL, req, sizeof req, &len) == HM_ERR_OK) {
		for (int k = 0; k < KMP_TRIES && !serial[0]; k++) {
			if ((rc = exchange(t, fd, req, len, &rx)) < 0)
				return rc;
			if (rc == 0)
				continue;
			if (t->show_frames)
				show(t, rx.buf, rx.len);
			uint8_t body[HM_KMP_BODY_MAX];
			struct hm_kmp_frame f;
			uint32_t sn;
			enum hm_err err = hm_kmp_decode(rx.buf, rx.len, body, sizeof body, &f);
			if (err == HM_ERR_OK)
				err = hm_kmp_parse_serial(&f, &sn);
			if (err == HM_ERR_OK)
				snprintf(serial, scap, "%" PRIu32, sn);
			else
				hm_print_error(t, err, "kmp", NULL);
		}
	}
	unsigned n_req = hm_kmp_poll_requests(t->n_kmp_regs);
	for (unsigned i = 0; i < n_req && !hm_tool_stop; i++) {
		if (hm_kmp_poll_request(t->kmp_reg, t->n_kmp_regs, i, req, sizeof req, &len) != HM_ERR_OK)
			return -EINVAL;
		int k;
		for (k = 0; k < KMP_TRIES; k++) {
			if ((rc = exchange(t, fd, req, len, &rx)) < 0)
				return rc;
			if (rc == 0) {
				fprintf(stderr, "hanmeter: kmp: request %u: no answer within %u ms\n", i + 1,
				        t->kmp_timeout_ms);
				continue;
			}
			if (t->show_frames)
				show(t, rx.buf, rx.len);
			t->messages++;
			unsigned s;
			enum hm_err err = hm_kmp_poll_answer(t->kmp_reg, t->n_kmp_regs, i, rx.buf, rx.len, r, &s);
			if (err == HM_ERR_OK) {
				stored += (int)s;
				break;
			}
			hm_print_error(t, err, "kmp", NULL);
		}
	}
	if (serial[0])
		hm_reading_set_text(r, HM_TEXT_METER_SERIAL, serial, strlen(serial));
	return stored;
}

int hm_tool_kmp_poll(struct hm_tool *t, int fd)
{
	static struct hm_reading r; /* ~10 KiB */
	char serial[16] = "";
	if (!t->n_kmp_regs) {
		memcpy(t->kmp_reg, default_regs, sizeof default_regs);
		t->n_kmp_regs = sizeof default_regs / sizeof default_regs[0];
	}
	unsigned long rounds = t->count ? t->count : 1;
	for (unsigned long k = 0; k < rounds && !hm_tool_stop; k++) {
		int64_t start = now_ms();
		int n = round_once(t, fd, &r, serial, sizeof serial);
		if (n < 0) {
			fprintf(stderr, "hanmeter: %s: %s\n", t->input, strerror(-n));
			return n;
		}
		if (n > 0)
			hm_tool_reading(t, &r);
		else
			fprintf(stderr, "hanmeter: kmp: round %lu: no register answered\n", k + 1);
		int64_t wait = start + (int64_t)t->kmp_interval_s * 1000 - now_ms();
		while (k + 1 < rounds && wait > 0 && !hm_tool_stop) {
			struct timespec ts = {.tv_sec = (time_t)(wait / 1000),
			                      .tv_nsec = (long)(wait % 1000) * 1000000};
			nanosleep(&ts, NULL);
			wait = start + (int64_t)t->kmp_interval_s * 1000 - now_ms();
		}
	}
	return 0;
}
