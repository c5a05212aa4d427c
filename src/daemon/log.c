/*
 * log.c - where the daemon's messages go.
 *
 *   -n (foreground)          stderr, one line each, "warning: " etc. in front
 *   started by systemd       the journal's native protocol, with PRIORITY= and
 *                            HANMETER_METER=NAME on messages about one meter
 *                            (journalctl HANMETER_METER=house)
 *   otherwise                syslog(3), facility daemon
 *
 * "Started by systemd" is told by $JOURNAL_STREAM naming our stderr (systemd
 * sets it when stderr goes to the journal), as sd_journal_stream_fd(3) advises.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "log.h"

enum sink { TO_STDERR, TO_JOURNAL, TO_SYSLOG };

static struct {
	enum sink to;
	int level;
} lg = {TO_STDERR, LOG_INFO};

static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM"); /* "DEVICE:INODE" of the journal stream */
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void hm_log_init(bool foreground, int level)
{
	lg.level = level;
	if (foreground)
		lg.to = TO_STDERR;
	else if (stderr_is_journal())
		lg.to = TO_JOURNAL;
	else {
		lg.to = TO_SYSLOG;
		openlog("hanmeterd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void hm_log_set_level(int level)
{
	lg.level = level;
}

static const char *prefix(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR: return "error: ";
	case LOG_WARNING: return "warning: ";
	case LOG_DEBUG: return "debug: ";
	default: return "";
	}
}

static void vlog(int prio, const char *meter, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
static void vlog(int prio, const char *meter, const char *fmt, va_list ap)
{
	char text[1024];
	if (prio > lg.level)
		return;
	int n = meter ? snprintf(text, sizeof text, "meter %s: ", meter) : 0;
	if (n < 0 || (size_t)n >= sizeof text)
		n = 0;
	vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);

	switch (lg.to) {
	case TO_STDERR: fprintf(stderr, "hanmeterd: %s%s\n", prefix(prio), text); break;
	case TO_JOURNAL:
		if (meter)
			sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", prio, "HANMETER_METER=%s", meter,
			                "SYSLOG_IDENTIFIER=hanmeterd", NULL);
		else
			sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=hanmeterd", NULL);
		break;
	case TO_SYSLOG: syslog(prio, "%s", text); break;
	}
}

void hm_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(prio, NULL, fmt, ap);
	va_end(ap);
}

void hm_log_meter(int prio, const char *meter, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(prio, meter, fmt, ap);
	va_end(ap);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool hm_ratelimit_ok(struct hm_ratelimit *rl, unsigned *suppressed_before)
{
	uint64_t now = now_us();
	*suppressed_before = 0;
	if (rl->begin_us == 0 || now - rl->begin_us >= rl->interval_us) {
		*suppressed_before = rl->suppressed;
		rl->begin_us = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < rl->burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
