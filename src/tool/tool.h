/*
 * tool.h - the pieces of the hanmeter command-line tool.
 *
 *   input.c    where bytes come from (file, hex text, stdin, tcp://, serial
 *              port), the raw log (-l) and paced replay
 *   hanmeter.c options, and the path of every unit of bytes: framer or bare
 *              APDU -> decoder -> printers
 *   print.c    the output forms: -x frames, -p A-XDR tree, -f fields, --json,
 *              --stats
 *
 * The tool is a plain blocking program: one input, read until it ends (or
 * --count / --timeout / a signal stops it), everything in one struct hm_tool.
 */
#ifndef HM_TOOL_H
#define HM_TOOL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "hanmeter/cipher.h"
#include "hanmeter/decode.h"
#include "hanmeter/dlms.h"
#include "hanmeter/hdlc.h"
#include "hanmeter/kmp.h"
#include "hanmeter/mbus.h"
#include "hanmeter/apdustream.h"
#include "hanmeter/p1.h"
#include "hanmeter/reading.h"

#include "common/serial.h"

#define HM_TOOL_KMP_REGS_MAX 32 /* --registers: as hanmeterd's registers = */

/* What kind of thing the INPUT argument names. */
enum hm_input_kind {
	HM_INPUT_STDIN,  /* "-" or no argument */
	HM_INPUT_FILE,   /* a capture file */
	HM_INPUT_TCP,    /* tcp://HOST:PORT, a ser2net/socat raw stream */
	HM_INPUT_SERIAL, /* a character device (serial adapter, pty) */
};

/* How one unit of bytes (a hex line, a read()) is taken apart. */
enum hm_unit_kind {
	HM_UNIT_AUTO, /* a byte stream's framing, decided by its first unit */
	HM_UNIT_HDLC, /* fed to the HDLC framer (IEC 62056-46) */
	HM_UNIT_MBUS, /* fed to the M-Bus long-frame framer (EN 13757-2) */
	HM_UNIT_P1,   /* fed to the P1 telegram framer (DSMR) */
	HM_UNIT_APDU, /* a bare APDU (LLC E6 E7 00 optional), decoded as one message */
	HM_UNIT_KMP,  /* one KMP frame (80/40 ... 0D), a request or a register response */
	HM_UNIT_DLMS, /* fed to the bare glo-ciphered APDU framer (Luxembourg Smarty P1 port) */
};

/* KMP responses of one polling round, gathered into one reading. */
struct hm_kmp_session {
	struct hm_reading reading; /* the registers the reading has fields for */
	uint16_t ids[64];          /* registers seen this round (a repeat starts the next) */
	unsigned n_ids;            /* entries used in ids[] */
	unsigned stored;           /* register values stored in reading */
};

struct hm_tool {
	/* --- options --- */
	const char *input;            /* the INPUT argument ("-" for stdin) */
	enum hm_input_kind kind;      /* what input names */
	bool hex;                     /* input is hex text (--hex, or a *.hex file) */
	bool stream;                  /* every hex line is raw stream bytes (--stream, or the file says so) */
	enum hm_unit_kind framing;    /* --framing: of a byte stream (AUTO, HDLC or MBUS) */
	bool show_frames;             /* -x */
	bool show_tree;               /* -p */
	bool show_fields;             /* -f (the default) */
	bool json;                    /* --json */
	bool stats;                   /* --stats */
	bool pace;                    /* --replay-pace: honour "# +SECONDS" comments */
	unsigned long count;          /* -c: stop after this many readings (0 = no limit) */
	unsigned timeout_ms;          /* -t: stop after this long without a byte (0 = never) */
	unsigned baud;                /* --baud (2400) */
	enum hm_serial_parity parity; /* --parity (even) */
	const char *log_path;         /* -l FILE, or NULL */

	/* --- state --- */
	FILE *log;                  /* the open -l file */
	struct timespec t0;         /* CLOCK_MONOTONIC at start (log and pace reference) */
	bool live;                  /* input is a serial port, socket or pipe: flush output often */
	unsigned line;              /* data line (1-based) of the hex unit being fed, 0 = not hex */
	uint64_t units;             /* units fed (hex data lines or read() calls) */
	uint64_t apdus;             /* units taken as bare APDUs */
	uint64_t messages;          /* messages handed to the decoder */
	uint64_t readings;          /* readings printed */
	uint64_t bad_lines;         /* hex lines that did not parse (skipped) */
	struct hm_hdlc hdlc;        /* the HDLC framer */
	struct hm_mbus mbus;        /* the M-Bus framer */
	struct hm_p1 p1;            /* the P1 telegram framer */
	struct hm_apdustream dlms;  /* the bare glo-ciphered APDU framer */
	struct hm_kmp_session kmp;  /* KMP register responses being gathered */
	struct hm_cipher cipher;    /* one AES-GCM context for every ciphered message */
	struct hm_decoder dec;      /* the decoder (keys, forced profile, counters) */
	struct hm_reading reading;  /* the current reading */
	struct hm_apdu apdu;        /* the current message parsed for -p */
	char json_buf[HM_JSON_MAX]; /* one JSON rendering */
	/* --kmp: poll a KMP heat meter (poll.c) */
	bool kmp_poll;                          /* --kmp */
	uint16_t kmp_reg[HM_TOOL_KMP_REGS_MAX]; /* --registers */
	unsigned n_kmp_regs;                    /* 0: the default list */
	unsigned kmp_timeout_ms;                /* --kmp-timeout (2000) */
	unsigned kmp_interval_s;                /* --interval (10): between rounds with -c */
};

/* Set by SIGINT/SIGTERM: stop reading, flush, print statistics. */
extern volatile sig_atomic_t hm_tool_stop;

/* input.c: reads t->input to its end, handing every unit to hm_tool_unit().
 * Returns 0, or -errno after printing why to stderr. */
int hm_input_run(struct hm_tool *t);
/* poll.c: --kmp rounds on the open fd; 0 or -errno. */
int hm_tool_kmp_poll(struct hm_tool *t, int fd);
/* poll.c: parses --registers; 0 or -EINVAL. */
int hm_tool_kmp_registers(struct hm_tool *t, const char *list);
/* hanmeter.c: a reading to the printers (counted; --count stops). */
void hm_tool_reading(struct hm_tool *t, const struct hm_reading *r);
/* input.c: a regular file that starts with '#' and is text: hex text, as
 * every vector and -l log begins. */
bool hm_input_looks_hex(const char *path);
/* input.c: path is a serial port or pty (a character device that is a tty). */
bool hm_input_is_port(const char *path);
/* input.c: opens the -l log and writes its header; 0 or -errno. */
int hm_log_open(struct hm_tool *t);
/* input.c: appends one unit to the -l log, with its "# +SECONDS" stamp. */
void hm_log_unit(struct hm_tool *t, const uint8_t *p, size_t n);

/* hanmeter.c: one unit of bytes from the input. */
void hm_tool_unit(struct hm_tool *t, const uint8_t *p, size_t n, enum hm_unit_kind kind);
/* hanmeter.c: p starts with 68 L L 68, an M-Bus long-frame header (EN 13757-2 5.4). */
bool hm_tool_is_mbus(const uint8_t *p, size_t n);
/* hanmeter.c: end of input: the framer reports what it still holds. */
void hm_tool_finish(struct hm_tool *t);

/* print.c */
void hm_print_frame(struct hm_tool *t, const struct hm_frame *f);
void hm_print_mbus(struct hm_tool *t, const struct hm_mbus_msg *m);
void hm_print_p1(struct hm_tool *t, const struct hm_p1_msg *m);
void hm_print_kmp(struct hm_tool *t, const uint8_t *raw, size_t n, enum hm_err err, const struct hm_kmp_frame *f);
void hm_print_apdu_hex(struct hm_tool *t, const uint8_t *p, size_t n);
void hm_print_tree(struct hm_tool *t, const struct hm_apdu *a);
/* A reading (-f and --json as asked). */
void hm_print_reading(struct hm_tool *t, const struct hm_reading *r);
/* A rejected frame or message: a JSON error object, or a line on stderr.
 * stage names who rejected it ("hdlc", "mbus", "decode"); f is the HDLC
 * framer's event for its errors, else NULL. */
void hm_print_error(struct hm_tool *t, enum hm_err err, const char *stage, const struct hm_frame *f);
void hm_print_stats(struct hm_tool *t);

#endif
