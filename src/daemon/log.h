/*
 * log.h - logging for the daemon: the journal under systemd (with structured
 * fields), syslog(3) otherwise, stderr in the foreground; and rate limits so
 * that a meter repeating the same error cannot flood any of them.
 */
#ifndef HANMETERD_LOG_H
#define HANMETERD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* Where messages go and the most verbose priority kept (LOG_ERR..LOG_DEBUG). */
void hm_log_init(bool foreground, int level);
void hm_log_set_level(int level);

/* A message.  Priorities are syslog's (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG). */
void hm_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A message about one meter: "meter NAME: ..." with HANMETER_METER=NAME in the journal. */
void hm_log_meter(int prio, const char *meter, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* At most `burst` events per `interval_us`; the rest are counted in
 * suppressed and reported ("N similar messages suppressed") when the next
 * window opens. */
struct hm_ratelimit {
	uint64_t interval_us; /* window length */
	unsigned burst;       /* events allowed per window */
	uint64_t begin_us;    /* start of the current window (CLOCK_MONOTONIC) */
	unsigned count;       /* events in the current window */
	unsigned suppressed;  /* events dropped in the current window */
};
#define HM_RATELIMIT_INIT(interval_s, burst_n)                        \
	{                                                             \
		(uint64_t)(interval_s) * 1000000u, (burst_n), 0, 0, 0 \
	}

/* True if an event may be logged now.  *suppressed_before is set to how many
 * were dropped in the previous window (log that once), else 0. */
bool hm_ratelimit_ok(struct hm_ratelimit *rl, unsigned *suppressed_before);

#endif
