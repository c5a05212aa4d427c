/*
 * hanmeter.c - the command-line decoder, dumper, logger and replayer.
 *
 *   hanmeter [options] [INPUT]
 *
 * INPUT is a serial port, tcp://HOST:PORT, a capture file (raw bytes, or
 * hex text for *.hex and --hex) or "-" / nothing for stdin.  Every unit of
 * bytes the input yields (one read(), or one data line of hex text) goes
 * either to the HDLC framer, which finds whole checked frames in any
 * chunking, or, for a hex line that is a bare APDU, straight to the decoder.
 * What comes out is printed in the forms the options ask for (print.c).
 * man/hanmeter.1 is the user's documentation; keep the two in step.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hanmeter/profile.h"

#include "common/opt.h"
#include "tool.h"

volatile sig_atomic_t hm_tool_stop;

/* Option values for long options without a short form. */
enum {
	OPT_JSON = 256,
	OPT_HEX,
	OPT_STREAM,
	OPT_KEY,
	OPT_AUTH_KEY,
	OPT_PROFILE,
	OPT_BAUD,
	OPT_PARITY,
	OPT_LIST_PORTS,
	OPT_STATS,
	OPT_PACE,
	OPT_FRAMING,
	OPT_KMP,
	OPT_REGISTERS,
	OPT_KMP_TIMEOUT,
	OPT_INTERVAL,
};

static const struct option long_opts[] = {
    {"frames", no_argument, NULL, 'x'},
    {"tree", no_argument, NULL, 'p'},
    {"fields", no_argument, NULL, 'f'},
    {"json", no_argument, NULL, OPT_JSON},
    {"hex", no_argument, NULL, OPT_HEX},
    {"stream", no_argument, NULL, OPT_STREAM},
    {"log", required_argument, NULL, 'l'},
    {"replay-pace", no_argument, NULL, OPT_PACE},
    {"count", required_argument, NULL, 'c'},
    {"timeout", required_argument, NULL, 't'},
    {"key", required_argument, NULL, OPT_KEY},
    {"auth-key", required_argument, NULL, OPT_AUTH_KEY},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"baud", required_argument, NULL, OPT_BAUD},
    {"parity", required_argument, NULL, OPT_PARITY},
    {"framing", required_argument, NULL, OPT_FRAMING},
    {"list-ports", no_argument, NULL, OPT_LIST_PORTS},
    {"stats", no_argument, NULL, OPT_STATS},
    {"kmp", no_argument, NULL, OPT_KMP},
    {"registers", required_argument, NULL, OPT_REGISTERS},
    {"kmp-timeout", required_argument, NULL, OPT_KMP_TIMEOUT},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fputs("usage: hanmeter [options] [INPUT]\n"
	      "Decode AMS/HAN smart-meter data (HDLC + DLMS/COSEM) from INPUT:\n"
	      "a serial port, tcp://HOST:PORT, a capture file (raw bytes; hex text\n"
	      "for *.hex or --hex), or - / nothing for stdin.\n"
	      "\n"
	      "output (any combination; default -f):\n"
	      "  -x, --frames          each frame in hex with its HCS/FCS verdict\n"
	      "  -p, --tree            the A-XDR structure of each message\n"
	      "  -f, --fields          decoded fields, name = value unit\n"
	      "      --json            one JSON object per message or rejected frame\n"
	      "      --stats           framer and decoder counters at the end\n"
	      "input:\n"
	      "      --hex             input is hex text (as the vectors and -l logs)\n"
	      "      --stream          feed every hex line to the framer (no bare APDUs)\n"
	      "      --framing F       hdlc, mbus, p1 or dlms: of a byte stream (default: from its start)\n"
	      "  -l, --log FILE        log the raw bytes read, as replayable hex text\n"
	      "      --replay-pace     replay a -l log at the pace it was recorded\n"
	      "  -c, --count N         stop after N readings\n"
	      "  -t, --timeout SEC     stop after SEC seconds without a byte\n"
	      "      --baud N          serial speed (2400)\n"
	      "      --parity P        none, even or odd (even: 8E1)\n"
	      "      --list-ports      list serial adapters and exit\n"
	      "KMP heat meters (Kamstrup MULTICAL), polled on a serial port or tcp://:\n"
	      "      --kmp             poll INPUT over KMP (then 1200 baud 8N2 by default)\n"
	      "      --registers LIST  register ids, e.g. 60,68,74,80,86,87,89 (default as hanmeterd)\n"
	      "      --kmp-timeout MS  wait for each answer (2000); 2 retries\n"
	      "      --interval SEC    between rounds with -c N (10)\n"
	      "decoding:\n"
	      "      --key HEX         DLMS encryption key (32 hex digits)\n"
	      "      --auth-key HEX    DLMS authentication key (32 hex digits)\n"
	      "      --profile NAME    use this meter profile only:",
	      out);
	for (const struct hm_profile *const *p = hm_profiles; *p; p++)
		fprintf(out, " %s", (*p)->name);
	fputs("\n"
	      "  -h, --help            this text\n"
	      "  -V, --version         the version\n"
	      "Exit status: 0 when something was decoded, 1 when nothing was (or the\n"
	      "input failed), 2 on a usage error.  See hanmeter(1).\n",
	      out);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hanmeter: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'hanmeter --help'.\n", stderr);
	return 2;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20; /* ASCII lower case */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 32 hex digits -> 16 bytes (AES-128, IEC 62056-5-3 security suite 0). */
static int parse_key(const char *s, uint8_t key[16])
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* "2.5" seconds -> milliseconds. */
static int parse_seconds(const char *s, unsigned *ms)
{
	double v;
	if (hm_opt_parse_real(s, &v) < 0 || !(v > 0) || v > 86400.0 * 365)
		return -1;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static enum hm_input_kind input_kind(const char *in)
{
	if (strcmp(in, "-") == 0)
		return HM_INPUT_STDIN;
	if (strncmp(in, "tcp://", 6) == 0)
		return HM_INPUT_TCP;
	/* /dev/ttyUSB0, a by-id link, a pty, a socat link=... symlink to one */
	if (hm_input_is_port(in))
		return HM_INPUT_SERIAL;
	return HM_INPUT_FILE;
}

static bool limit_reached(const struct hm_tool *t)
{
	return t->count && t->readings >= t->count;
}

/* --- the path of every message ---------------------------------------- */

static void reading_out(struct hm_tool *t, const struct hm_reading *r)
{
	t->readings++;
	hm_print_reading(t, r);
	if (limit_reached(t))
		hm_tool_stop = 1;
}

void hm_tool_reading(struct hm_tool *t, const struct hm_reading *r)
{
	reading_out(t, r);
}

/* -p: the A-XDR tree of a message.  Our own parse, so that a list no
 * profile knows can still be looked at; a ciphered message is shown once
 * the decoder has deciphered it into a data-notification. */
static void tree(struct hm_tool *t, const uint8_t *p, size_t n, enum hm_err err)
{
	static const uint8_t llc[3] = {0xE6, 0xE7, 0x00}; /* IEC 62056-46 LLC header */
	const uint8_t *apdu = n >= 3 && memcmp(p, llc, 3) == 0 ? p + 3 : p;

	if (n && *apdu == HM_DLMS_DATA_NOTIFICATION) {
		if (hm_dlms_parse(&t->apdu, p, n) == HM_ERR_OK)
			hm_print_tree(t, &t->apdu);
	} else if (n && *apdu == HM_CIPHER_TAG && (err == HM_ERR_OK || err == HM_ERR_UNKNOWN_LIST) &&
	           t->dec.plain[0] == HM_DLMS_DATA_NOTIFICATION && hm_dlms_items(&t->dec.apdu) == HM_ERR_OK) {
		/* deciphered and parsed (only a profile may have said no) */
		hm_print_tree(t, &t->dec.apdu);
	}
}

/* One message (an HDLC information field, a reassembled M-Bus APDU, a bare
 * APDU line, a P1 telegram) to the decoder. */
static enum hm_err message(struct hm_tool *t, const uint8_t *p, size_t n)
{
	if (limit_reached(t))
		return HM_ERR_OK;
	t->messages++;
	enum hm_err err = hm_decode(&t->dec, p, n, &t->reading);
	if (t->show_tree)
		tree(t, p, n, err);
	if (err != HM_ERR_OK)
		hm_print_error(t, err, "decode", NULL);
	else
		reading_out(t, &t->reading);
	return err;
}

static void frame_cb(void *ctx, const struct hm_frame *f)
{
	struct hm_tool *t = ctx;
	if (limit_reached(t)) /* the rest of this read() comes after the last reading asked for */
		return;
	if (t->show_frames)
		hm_print_frame(t, f);
	if (f->err != HM_ERR_OK)
		hm_print_error(t, f->err, "hdlc", f);
	else
		message(t, f->info, f->info_len);
}

static void mbus_cb(void *ctx, const struct hm_mbus_msg *m)
{
	struct hm_tool *t = ctx;
	if (limit_reached(t))
		return;
	if (t->show_frames)
		hm_print_mbus(t, m);
	if (m->err != HM_ERR_OK)
		hm_print_error(t, m->err, "mbus", NULL);
	else
		message(t, m->data, m->len);
}

/* Bare glo-ciphered APDUs (Smarty): the decoder's verdict is the framer's
 * only proof of a message (apdustream.h). */
static enum hm_err dlms_cb(void *ctx, const struct hm_apdustream_msg *m)
{
	struct hm_tool *t = ctx;
	if (limit_reached(t))
		return HM_ERR_OK;
	if (m->err != HM_ERR_OK) {
		hm_print_error(t, m->err, "dlms", NULL);
		return m->err;
	}
	if (t->show_frames)
		hm_print_apdu_hex(t, m->data, m->len);
	return message(t, m->data, m->len);
}

static void p1_cb(void *ctx, const struct hm_p1_msg *m)
{
	struct hm_tool *t = ctx;
	if (limit_reached(t))
		return;
	if (t->show_frames)
		hm_print_p1(t, m);
	if (m->err != HM_ERR_OK)
		hm_print_error(t, m->err, "p1", NULL);
	else
		message(t, (const uint8_t *)m->data, m->len);
}

/* --- KMP: a heat meter answers register requests one response at a time;
 * the responses of one polling round make one reading.  A register asked
 * for again starts the next round. */

static void kmp_emit(struct hm_tool *t)
{
	struct hm_kmp_session *k = &t->kmp;
	if (k->stored && !limit_reached(t)) {
		k->reading.profile = "kmp";
		reading_out(t, &k->reading);
	}
	hm_reading_clear(&k->reading);
	k->n_ids = 0;
	k->stored = 0;
}

static void kmp_frame(struct hm_tool *t, const uint8_t *p, size_t n)
{
	struct hm_kmp_session *k = &t->kmp;
	struct hm_kmp_register regs[HM_KMP_REGS_MAX];
	uint8_t body[HM_KMP_BODY_MAX];
	struct hm_kmp_frame f;
	size_t nregs = 0;

	enum hm_err err = hm_kmp_decode(p, n, body, sizeof body, &f);
	if (t->show_frames)
		hm_print_kmp(t, p, n, err, err == HM_ERR_OK ? &f : NULL);
	if (err != HM_ERR_OK) {
		hm_print_error(t, err, "kmp", NULL);
		return;
	}
	if (f.start != HM_KMP_START_FROM_METER || f.cid != HM_KMP_CID_GET_REGISTER)
		return; /* a request, or a reply that carries no register */
	t->messages++;
	err = hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &nregs);
	if (err != HM_ERR_OK) {
		hm_print_error(t, err, "kmp", NULL);
		return;
	}
	for (size_t i = 0; i < nregs; i++) {
		for (unsigned j = 0; j < k->n_ids; j++)
			if (k->ids[j] == regs[i].id) {
				kmp_emit(t); /* the next polling round begins */
				break;
			}
		if (k->n_ids < sizeof k->ids / sizeof k->ids[0])
			k->ids[k->n_ids++] = regs[i].id;
	}
	k->stored += hm_kmp_to_reading(regs, nregs, &k->reading);
}

/* --- units ------------------------------------------------------------- */

bool hm_tool_is_mbus(const uint8_t *p, size_t n)
{
	return n >= 4 && p[0] == HM_MBUS_START && p[3] == HM_MBUS_START && p[1] == p[2];
}

/* The framing of a byte stream, from its first unit: M-Bus, bare
 * glo-ciphered APDUs and P1 have unmistakable starts, anything else is
 * HDLC (which resynchronises). */
static enum hm_unit_kind stream_framing(const uint8_t *p, size_t n)
{
	if (hm_tool_is_mbus(p, n))
		return HM_UNIT_MBUS;
	if (n >= 2 && p[0] == HM_CIPHER_TAG && p[1] == HM_CIPHER_SYSTITLE_LEN) /* DB 08: Smarty */
		return HM_UNIT_DLMS;
	while (n && (*p == '\r' || *p == '\n')) { /* some P1 ports open with CR LF */
		p++;
		n--;
	}
	return n && *p == HM_P1_START ? HM_UNIT_P1 : HM_UNIT_HDLC;
}

void hm_tool_unit(struct hm_tool *t, const uint8_t *p, size_t n, enum hm_unit_kind kind)
{
	t->units++;
	if (t->log)
		hm_log_unit(t, p, n);
	if (kind == HM_UNIT_AUTO) {
		if (t->framing == HM_UNIT_AUTO)
			t->framing = stream_framing(p, n);
		kind = t->framing;
	}
	switch (kind) {
	case HM_UNIT_APDU:
		t->apdus++;
		if (t->show_frames)
			hm_print_apdu_hex(t, p, n);
		message(t, p, n);
		break;
	case HM_UNIT_KMP: kmp_frame(t, p, n); break;
	case HM_UNIT_MBUS: hm_mbus_feed(&t->mbus, p, n, mbus_cb, t); break;
	case HM_UNIT_P1: hm_p1_feed(&t->p1, p, n, p1_cb, t); break;
	case HM_UNIT_DLMS: hm_apdustream_feed(&t->dlms, p, n, dlms_cb, t); break;
	default: hm_hdlc_feed(&t->hdlc, p, n, frame_cb, t); break;
	}
}

void hm_tool_finish(struct hm_tool *t)
{
	/* Stopped by --count: what follows the last reading is not an error. */
	if (limit_reached(t))
		return;
	hm_hdlc_flush(&t->hdlc, frame_cb, t);
	hm_mbus_flush(&t->mbus, mbus_cb, t);
	hm_p1_flush(&t->p1, p1_cb, t);
	hm_apdustream_flush(&t->dlms, dlms_cb, t);
	kmp_emit(t);
}

static void on_signal(int sig)
{
	(void)sig;
	hm_tool_stop = 1;
}

int main(int argc, char **argv)
{
	static struct hm_tool tool; /* ~40 KiB of framer and decoder state: not on the stack */
	struct hm_tool *t = &tool;
	bool list_ports = false;
	uint64_t v;
	int c;

	t->baud = 0; /* below: 2400 8E1 (NEK HAN), or 1200 8N2 with --kmp */
	t->parity = (enum hm_serial_parity) - 1;
	t->kmp_timeout_ms = 2000; /* 8 registers are ~110 bytes, 1 s at 1200 baud 8N2 */
	t->kmp_interval_s = 10;
	hm_decoder_init(&t->dec);
	hm_hdlc_init(&t->hdlc);
	hm_mbus_init(&t->mbus);
	hm_p1_init(&t->p1);
	hm_apdustream_init(&t->dlms);
	hm_reading_clear(&t->kmp.reading);

	while ((c = getopt_long(argc, argv, "xpfl:c:t:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'x': t->show_frames = true; break;
		case 'p': t->show_tree = true; break;
		case 'f': t->show_fields = true; break;
		case OPT_JSON: t->json = true; break;
		case OPT_HEX: t->hex = true; break;
		case OPT_STREAM: t->stream = true; break;
		case 'l': t->log_path = optarg; break;
		case OPT_PACE: t->pace = true; break;
		case OPT_STATS: t->stats = true; break;
		case OPT_LIST_PORTS: list_ports = true; break;
		case 'c':
			if (hm_opt_parse_uint(optarg, ULONG_MAX, &v) < 0 || v == 0)
				return usage_error("--count: '%s' is not a positive number", optarg);
			t->count = (unsigned long)v;
			break;
		case 't':
			if (parse_seconds(optarg, &t->timeout_ms) < 0)
				return usage_error("--timeout: '%s' is not a number of seconds", optarg);
			break;
		case OPT_KEY:
			if (parse_key(optarg, t->dec.key) < 0)
				return usage_error("--key: '%s' is not 32 hex digits", optarg);
			t->dec.has_key = true;
			break;
		case OPT_AUTH_KEY:
			if (parse_key(optarg, t->dec.auth_key) < 0)
				return usage_error("--auth-key: '%s' is not 32 hex digits", optarg);
			t->dec.has_auth_key = true;
			break;
		case OPT_PROFILE:
			t->dec.force = hm_profile_find(optarg);
			if (!t->dec.force)
				return usage_error("--profile: no profile '%s' (see --help)", optarg);
			break;
		case OPT_BAUD:
			/* 300 .. 4 Mbaud covers optical eyes to USB adapters. */
			if (hm_opt_parse_uint(optarg, 4000000, &v) < 0 || v < 300)
				return usage_error("--baud: '%s' is not a baud rate", optarg);
			t->baud = (unsigned)v;
			break;
		case OPT_FRAMING:
			if (strcmp(optarg, "hdlc") == 0)
				t->framing = HM_UNIT_HDLC;
			else if (strcmp(optarg, "mbus") == 0)
				t->framing = HM_UNIT_MBUS;
			else if (strcmp(optarg, "p1") == 0)
				t->framing = HM_UNIT_P1;
			else if (strcmp(optarg, "dlms") == 0)
				t->framing = HM_UNIT_DLMS;
			else
				return usage_error("--framing: '%s' is not hdlc, mbus, p1 or dlms", optarg);
			break;
		case OPT_PARITY:
			if (strcmp(optarg, "none") == 0)
				t->parity = HM_SERIAL_PARITY_NONE;
			else if (strcmp(optarg, "even") == 0)
				t->parity = HM_SERIAL_PARITY_EVEN;
			else if (strcmp(optarg, "odd") == 0)
				t->parity = HM_SERIAL_PARITY_ODD;
			else
				return usage_error("--parity: '%s' is not none, even or odd", optarg);
			break;
		case OPT_KMP: t->kmp_poll = true; break;
		case OPT_REGISTERS:
			if (hm_tool_kmp_registers(t, optarg) < 0)
				return usage_error("--registers: '%s' is not 1 to %d register ids (1..65535)", optarg,
				                   HM_TOOL_KMP_REGS_MAX);
			break;
		case OPT_KMP_TIMEOUT:
			if (hm_opt_parse_uint(optarg, 60000, &v) < 0 || v < 50)
				return usage_error("--kmp-timeout: '%s' is not 50..60000 ms", optarg);
			t->kmp_timeout_ms = (unsigned)v;
			break;
		case OPT_INTERVAL:
			if (hm_opt_parse_uint(optarg, 86400, &v) < 0)
				return usage_error("--interval: '%s' is not 0..86400 s", optarg);
			t->kmp_interval_s = (unsigned)v;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("hanmeter %s\n", HM_VERSION); return 0;
		default: fputs("Try 'hanmeter --help'.\n", stderr); return 2;
		}
	}
	if (argc - optind > 1)
		return usage_error("one INPUT only (got '%s' too)", argv[optind + 1]);
	if (!t->baud)
		t->baud = t->kmp_poll ? 1200 : 2400; /* KMP optical eye : IEC 62056-21 / NEK HAN */
	if ((int)t->parity == -1)
		t->parity = t->kmp_poll ? HM_SERIAL_PARITY_NONE : HM_SERIAL_PARITY_EVEN;
	if (t->n_kmp_regs && !t->kmp_poll)
		return usage_error("--registers needs --kmp");
	if (list_ports)
		return hm_serial_list() < 0 ? 1 : 0;

	t->input = optind < argc ? argv[optind] : "-";
	if (optind == argc && isatty(STDIN_FILENO))
		fprintf(stderr, "hanmeter: reading %s from the terminal (try 'hanmeter --help')\n",
		        t->hex ? "hex text" : "raw bytes");
	t->kind = input_kind(t->input);
	if (ends_with(t->input, ".hex") || (t->kind == HM_INPUT_FILE && hm_input_looks_hex(t->input)))
		t->hex = true;
	if (t->stream && !t->hex)
		return usage_error("--stream applies to hex input only");
	if (t->pace && !t->hex)
		return usage_error("--replay-pace needs hex input (a -l log)");
	if (!t->show_frames && !t->show_tree && !t->show_fields && !t->json)
		t->show_fields = true;

	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a blocked read returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t->t0);

	if (t->log_path && hm_log_open(t) < 0)
		return 1;
	/* One AES context for the whole input; without it the decoder makes
	 * one per ciphered message, slower but just as right. */
	if (hm_cipher_open(&t->cipher) == 0)
		t->dec.cipher = &t->cipher;
	int rc = hm_input_run(t);
	hm_tool_finish(t);
	if (t->dec.cipher)
		hm_cipher_close(&t->cipher);
	if (t->stats)
		hm_print_stats(t);
	if (t->log && fclose(t->log) != 0) {
		fprintf(stderr, "hanmeter: %s: %s\n", t->log_path, strerror(errno));
		rc = -EIO;
	}
	if (fflush(stdout) != 0 && errno != EPIPE) {
		fprintf(stderr, "hanmeter: stdout: %s\n", strerror(errno));
		return 1;
	}
	return rc < 0 || t->readings == 0 ? 1 : 0;
}
