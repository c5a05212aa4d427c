/*
 * config.c - /etc/hanmeterd.conf: the key table, the parser, the checks.
 *
 * One row of keys[] per key: section, name, type, where it lands in struct
 * hm_config, its default (as text, parsed by the same code as the file, so
 * a default can never be a value the file could not hold) and its range.
 *
 * inih (Debian's libinih 55) tells its handler neither the line number nor
 * where a section starts, and merges repeated sections.  So the file is fed
 * to ini_parse_stream() through our own line reader, which counts lines,
 * sees every section header (to map it to a struct, record its line and
 * refuse duplicates), strips indentation (inih would otherwise take an
 * indented line as a continuation of the previous value) and refuses lines
 * longer than inih's buffer (which it would otherwise split silently).  The
 * handler returns 0 on error so that ini_parse_stream()'s return value is
 * the line of the first error; the message is ours.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "hanmeter/profile.h"

#include "config.h"

/* inih's line buffer (INI_MAX_LINE in Debian's build): 200 bytes including
 * the CR, LF and NUL it reserves, so 197 characters of text. */
#define LINE_MAX_CHARS 197

enum section { S_NONE, S_DAEMON, S_METER, S_MQTT, S_DOMOTICZ, S_JOURNAL, S_JSONL };

static const char *const section_name[] = {
    [S_NONE] = "",           [S_DAEMON] = "daemon", [S_METER] = "meter", [S_MQTT] = "mqtt", [S_DOMOTICZ] = "domoticz",
    [S_JOURNAL] = "journal", [S_JSONL] = "jsonl",
};

enum ktype {
	T_STR,      /* text, at most size - 1 bytes */
	T_PATH,     /* absolute path */
	T_NAME,     /* a meter name ([a-zA-Z0-9_-]+) */
	T_TOPIC,    /* MQTT topic level(s): no wildcards, no leading or trailing '/' */
	T_URL,      /* http:// or https:// */
	T_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	T_UINT,     /* unsigned, min..max */
	T_INT,      /* int, min..max */
	T_PORT,     /* TCP port, 1..65535 (uint16_t) */
	T_HOSTPORT, /* HOST:PORT or [IPv6]:PORT; host at off, uint16_t port at off2 */
	T_BAUD,     /* one of the standard rates (termios Bxxx), or auto (0) */
	T_PARITY,   /* none | even | odd | auto */
	T_LOGLEVEL, /* err | warning | notice | info | debug -> LOG_* */
	T_PROFILE,  /* auto | a profile name from hm_profiles[] */
	T_SCALE,    /* a positive decimal -> struct hm_num (exact) */
	T_KEY16,    /* 32 hex digits -> 16 bytes at off, bool at off2 */
	T_STEPS,    /* ascending kW decimals -> uint32_t W at off, unsigned count at off2 */
	T_PROTOCOL, /* auto | hdlc | mbus | p1 | dlms -> enum hm_protocol */
	T_KMPREGS,  /* KMP register ids (decimal or 0x hex) -> uint16_t at off, unsigned count at off2 */
};

#define F_SECRET 1u /* never logged; warn when the file is readable by others */
#define F_SOURCE 2u /* a meter's source: exactly one per meter */

struct key {
	enum section sec;   /* the section it belongs to */
	const char *name;   /* key name */
	enum ktype type;    /* how the value is parsed */
	size_t off, size;   /* the field in the section's struct */
	size_t off2;        /* T_HOSTPORT: the port; T_KEY16: the has_ flag */
	const char *def;    /* default, as text; NULL: zero/empty */
	long long min, max; /* T_UINT, T_INT: range */
	unsigned flags;     /* F_* */
};

#define FLD(st, f) offsetof(struct st, f), sizeof(((struct st *)0)->f)
#define K(sec, st, name, type, f, def, min, max, flags)              \
	{                                                            \
		sec, name, type, FLD(st, f), 0, def, min, max, flags \
	}
#define DM(name, type, f, def, min, max)        K(S_DAEMON, hm_daemon_conf, name, type, f, def, min, max, 0)
#define MT(name, type, f, def, min, max, flags) K(S_METER, hm_meter_conf, name, type, f, def, min, max, flags)
#define MQ(name, type, f, def, min, max, flags) K(S_MQTT, hm_mqtt_conf, name, type, f, def, min, max, flags)
#define DZ(name, type, f, def, min, max, flags) K(S_DOMOTICZ, hm_domoticz_conf, name, type, f, def, min, max, flags)
#define IDX(name, f)                            DZ(name, T_INT, f, "0", 0, 999999, 0)

static const struct key keys[] = {
    DM("log_level", T_LOGLEVEL, log_level, "info", 0, 0),
    DM("status_interval", T_UINT, status_interval_s, "10", 1, 3600),
    DM("state_dir", T_PATH, state_dir, NULL, 0, 0), /* default: $STATE_DIRECTORY or /var/lib/hanmeterd */

    MT("device", T_PATH, device, NULL, 0, 0, F_SOURCE),
    {S_METER, "tcp", T_HOSTPORT, FLD(hm_meter_conf, tcp_host), offsetof(struct hm_meter_conf, tcp_port), NULL, 0, 0,
     F_SOURCE},
    MT("file", T_STR, file, NULL, 0, 0, F_SOURCE),
    MT("baud", T_BAUD, baud, "2400", 0, 0, 0),
    MT("parity", T_PARITY, parity, "even", 0, 0, 0),
    MT("profile", T_PROFILE, profile, "auto", 0, 0, 0),
    MT("scale", T_SCALE, scale, "1", 0, 0, 0),
    {S_METER, "capacity_steps", T_STEPS, FLD(hm_meter_conf, capacity_step_w),
     offsetof(struct hm_meter_conf, n_capacity_steps), "2 5 10 15 20 25 50 75 100", 0, 0, 0},
    {S_METER, "key", T_KEY16, FLD(hm_meter_conf, key), offsetof(struct hm_meter_conf, has_key), NULL, 0, 0, F_SECRET},
    {S_METER, "auth_key", T_KEY16, FLD(hm_meter_conf, auth_key), offsetof(struct hm_meter_conf, has_auth_key), NULL, 0,
     0, F_SECRET},
    MT("idle_timeout", T_UINT, idle_timeout_s, "60", 0, 86400, 0),
    MT("retry_min", T_UINT, retry_min_ms, "1000", 10, 3600000, 0),
    MT("retry_max", T_UINT, retry_max_ms, "60000", 10, 3600000, 0),
    MT("pace", T_UINT, pace_ms, "0", 0, 3600000, 0),
    MT("loop", T_BOOL, loop, "no", 0, 0, 0),

    /* Protocols (int1): framing, MQTT input.  baud and parity above also take auto. */
    MT("protocol", T_PROTOCOL, protocol, "auto", 0, 0, 0),
    MT("mqtt_topic", T_STR, mqtt_topic, NULL, 0, 0, F_SOURCE),
    {S_METER, "mqtt_broker", T_HOSTPORT, FLD(hm_meter_conf, mqtt_host), offsetof(struct hm_meter_conf, mqtt_port), NULL,
     0, 0, 0}, /* default: [mqtt] host and port, else 127.0.0.1:1883 */
    /* KMP polling (src/source/kmp.c); kmp = yes also makes baud default to
     * 1200 and parity to none, the MULTICAL optical eye's 8N2 */
    MT("kmp", T_BOOL, kmp, "no", 0, 0, 0),
    /* E1, V1, flow, power, flow/return temperature, difference, max/min flow this month */
    {S_METER, "registers", T_KMPREGS, FLD(hm_meter_conf, kmp_reg), offsetof(struct hm_meter_conf, n_kmp_regs),
     "60 68 74 80 86 87 89 139 141", 0, 0, 0},
    MT("poll_interval", T_UINT, poll_interval_s, "3600", 1, 86400, 0),
    MT("timeout", T_UINT, timeout_ms, "2000", 50, 60000, 0),
    MT("retries", T_UINT, retries, "2", 0, 10, 0),

    MQ("host", T_STR, host, "127.0.0.1", 0, 0, 0),
    MQ("port", T_PORT, port, "1883", 0, 0, 0), /* 8883 when tls = yes and port is not given */
    MQ("topic_prefix", T_TOPIC, topic_prefix, "hanmeter", 0, 0, 0),
    MQ("homeassistant", T_BOOL, homeassistant, "yes", 0, 0, 0),
    MQ("discovery_prefix", T_TOPIC, discovery_prefix, "homeassistant", 0, 0, 0),
    MQ("client_id", T_STR, client_id, NULL, 0, 0, 0), /* default: hanmeterd-<hostname> */
    MQ("username", T_STR, username, NULL, 0, 0, 0),
    MQ("password", T_STR, password, NULL, 0, 0, F_SECRET),
    MQ("qos", T_INT, qos, "1", 0, 2, 0),
    MQ("retain", T_BOOL, retain, "no", 0, 0, 0),
    MQ("keepalive", T_UINT, keepalive_s, "60", 5, 65535, 0), /* MQTT: 16-bit seconds */
    MQ("tls", T_BOOL, tls, "no", 0, 0, 0),
    MQ("cafile", T_PATH, cafile, NULL, 0, 0, 0),
    MQ("capath", T_PATH, capath, NULL, 0, 0, 0),
    MQ("certfile", T_PATH, certfile, NULL, 0, 0, 0),
    MQ("keyfile", T_PATH, keyfile, NULL, 0, 0, 0),
    MQ("tls_insecure", T_BOOL, tls_insecure, "no", 0, 0, 0),
    MQ("raw", T_BOOL, publish_raw, "no", 0, 0, 0),
    MQ("per_value", T_BOOL, per_value, "no", 0, 0, 0),
    MQ("queue", T_UINT, queue_max, "1000", 0, 1000000, 0),

    DZ("meter", T_NAME, meter, NULL, 0, 0, 0), /* default: the first [meter] */
    DZ("url", T_URL, url, "http://127.0.0.1:8080", 0, 0, 0),
    DZ("username", T_STR, username, NULL, 0, 0, 0),
    DZ("password", T_STR, password, NULL, 0, 0, F_SECRET),
    DZ("mqtt", T_BOOL, mqtt, "no", 0, 0, 0),
    DZ("mqtt_topic", T_TOPIC, mqtt_topic, "domoticz/in", 0, 0, 0),
    DZ("interval", T_UINT, interval_s, "60", 1, 86400, 0),
    DZ("tls_verify", T_BOOL, tls_verify, "yes", 0, 0, 0),
    IDX("idx_p1", idx_p1),
    IDX("idx_power", idx_power),
    IDX("idx_voltage_l1", idx_voltage_l1),
    IDX("idx_voltage_l2", idx_voltage_l2),
    IDX("idx_voltage_l3", idx_voltage_l3),
    IDX("idx_current", idx_current),
    IDX("idx_heat", idx_heat), /* KMP heat meters */
    IDX("idx_temp_flow", idx_temp_flow),
    IDX("idx_temp_return", idx_temp_return),

    K(S_JOURNAL, hm_journal_conf, "readings", T_UINT, interval_s, "0", 0, 86400, 0),

    K(S_JSONL, hm_jsonl_conf, "path", T_STR, path, "-", 0, 0, 0),
};

#define N_KEYS (sizeof keys / sizeof keys[0])

/* Section instances: the five singletons, then the meters. */
#define INST_METER0 (S_JSONL + 1)

struct parse {
	struct hm_config *c;
	FILE *f;
	int lineno;                     /* line just handed to inih */
	int err_line;                   /* first error: line (-1 none, 0 whole file) */
	char err_msg[HM_CONF_ERR - 64]; /* its message (without "file:line: ") */
	enum section cur;               /* section of the lines being read */
	unsigned cur_inst;              /* its instance */
	int sec_line[INST_METER0];      /* header line of each singleton section, 0 = absent (meters: mc->line) */
	int (*key_line)[N_KEYS];        /* per instance: line each key was set on, 0 = not set */
	int *source_key;                /* per meter: index in keys[] of its source, -1 none */
	unsigned cap;                   /* meters c->meter, key_line and source_key have room for */
	bool secrets;                   /* a F_SECRET key was set */
};

/* Room for one more meter: c->meter and the per-meter tables double when
 * full, so a file of 10,000 meters costs a few reallocations, and one of
 * one meter a few hundred bytes.  0, or -1 when out of memory. */
static int grow(struct parse *p)
{
	if (p->c->n_meters < p->cap)
		return 0;
	unsigned cap = p->cap ? 2 * p->cap : 4;
	struct hm_meter_conf *m = realloc(p->c->meter, cap * sizeof *m);
	if (!m)
		return -1;
	p->c->meter = m;
	int(*kl)[N_KEYS] = realloc(p->key_line, (INST_METER0 + cap) * sizeof *kl);
	if (!kl)
		return -1;
	p->key_line = kl;
	memset(kl + INST_METER0 + p->cap, 0, (cap - p->cap) * sizeof *kl);
	int *sk = realloc(p->source_key, cap * sizeof *sk);
	if (!sk)
		return -1;
	p->source_key = sk;
	p->cap = cap;
	return 0;
}

static void fail(struct parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct parse *p, int line, const char *fmt, ...)
{
	if (p->err_line >= 0) /* the first error is the one reported */
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err_msg, sizeof p->err_msg, fmt, ap);
	va_end(ap);
	p->err_line = line;
}

static void *field(struct hm_config *c, unsigned inst, size_t off)
{
	char *base;
	switch (inst) {
	case S_DAEMON: base = (char *)&c->daemon; break;
	case S_MQTT: base = (char *)&c->mqtt; break;
	case S_DOMOTICZ: base = (char *)&c->domoticz; break;
	case S_JOURNAL: base = (char *)&c->journal; break;
	case S_JSONL: base = (char *)&c->jsonl; break;
	default: base = (char *)&c->meter[inst - INST_METER0]; break;
	}
	return base + off;
}

/* ---- value parsers: 0, or -1 with msg ----------------------------------- */

static bool is_name_char(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '-';
}

static int parse_ull(const char *s, unsigned long long *v)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* A positive decimal "40", "0.5", "1.25" as mantissa * 10^exponent. */
static int parse_decimal(const char *s, struct hm_num *n)
{
	int64_t m = 0;
	int e = 0, digits = 0;
	bool point = false;
	for (; *s; s++) {
		if (*s == '.' && !point) {
			point = true;
			continue;
		}
		if (!isdigit((unsigned char)*s) || digits >= 18) /* 18 digits fit int64_t */
			return -1;
		m = m * 10 + (*s - '0');
		if (m)
			digits++;
		if (point)
			e--;
	}
	if (!digits && m == 0 && e == 0 && !point)
		return -1;
	n->m = m;
	n->e = (int16_t)e;
	return 0;
}

static const unsigned bauds[] = {300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800};

static int set_value(struct parse *p, const struct key *k, unsigned inst, const char *v, char *msg, size_t mlen)
{
	void *f = field(p->c, inst, k->off);
	size_t len = strlen(v);
	unsigned long long u;

	switch (k->type) {
	case T_STR:
	case T_PATH:
	case T_NAME:
	case T_TOPIC:
	case T_URL:
		if (len >= k->size) {
			snprintf(msg, mlen, "%s: value too long (at most %zu characters)", k->name, k->size - 1);
			return -1;
		}
		if (k->type == T_PATH && len && v[0] != '/') {
			snprintf(msg, mlen, "%s: '%s' is not an absolute path", k->name, v);
			return -1;
		}
		if (k->type == T_NAME)
			for (const char *s = v; *s; s++)
				if (!is_name_char((unsigned char)*s)) {
					snprintf(msg, mlen, "%s: '%s' is not a meter name", k->name, v);
					return -1;
				}
		if (k->type == T_TOPIC &&
		    (!len || strpbrk(v, "+#") || v[0] == '/' || v[len - 1] == '/' || strstr(v, "//"))) {
			snprintf(msg, mlen,
			         "%s: '%s' is not a topic prefix (no '+', '#', empty or leading/trailing '/')", k->name,
			         v);
			return -1;
		}
		if (k->type == T_URL && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
			snprintf(msg, mlen, "%s: '%s' is not an http:// or https:// URL", k->name, v);
			return -1;
		}
		memcpy(f, v, len + 1);
		return 0;
	case T_BOOL:
		if (parse_bool(v, f) < 0) {
			snprintf(msg, mlen, "%s: '%s' is not yes or no", k->name, v);
			return -1;
		}
		return 0;
	case T_UINT:
		if (parse_ull(v, &u) < 0 || u < (unsigned long long)k->min || u > (unsigned long long)k->max) {
			snprintf(msg, mlen, "%s: '%s' is not a number in %lld..%lld", k->name, v, k->min, k->max);
			return -1;
		}
		*(unsigned *)f = (unsigned)u;
		return 0;
	case T_INT: {
		bool neg = v[0] == '-';
		if (parse_ull(v + neg, &u) < 0 || u > LLONG_MAX || (neg ? -(long long)u : (long long)u) < k->min ||
		    (neg ? -(long long)u : (long long)u) > k->max) {
			snprintf(msg, mlen, "%s: '%s' is not a number in %lld..%lld", k->name, v, k->min, k->max);
			return -1;
		}
		*(int *)f = (int)(neg ? -(long long)u : (long long)u);
		return 0;
	}
	case T_PORT:
		if (parse_ull(v, &u) < 0 || u < 1 || u > 65535) {
			snprintf(msg, mlen, "%s: '%s' is not a port (1..65535)", k->name, v);
			return -1;
		}
		*(uint16_t *)f = (uint16_t)u;
		return 0;
	case T_HOSTPORT: {
		const char *colon = strrchr(v, ':'), *h = v, *he = colon;
		if (v[0] == '[') { /* [IPv6]:port */
			h = v + 1;
			he = strchr(v, ']');
			if (!he || he[1] != ':')
				colon = NULL;
		} else if (colon && strchr(v, ':') != colon) {
			colon = NULL; /* a bare IPv6 address needs brackets */
		}
		if (!colon || he == h || parse_ull(colon + 1, &u) < 0 || u < 1 || u > 65535 ||
		    (size_t)(he - h) >= k->size || strpbrk(v, " \t")) {
			snprintf(msg, mlen, "%s: '%s' is not HOST:PORT (IPv6: [ADDRESS]:PORT)", k->name, v);
			return -1;
		}
		memcpy(f, h, (size_t)(he - h));
		((char *)f)[he - h] = 0;
		*(uint16_t *)field(p->c, inst, k->off2) = (uint16_t)u;
		return 0;
	}
	case T_BAUD:
		if (strcasecmp(v, "auto") == 0) {
			*(unsigned *)f = 0;
			return 0;
		}
		if (parse_ull(v, &u) == 0)
			for (size_t i = 0; i < sizeof bauds / sizeof bauds[0]; i++)
				if (u == bauds[i]) {
					*(unsigned *)f = bauds[i];
					return 0;
				}
		snprintf(msg, mlen, "%s: '%s' is not a standard rate (2400 for HAN, 300..460800)", k->name, v);
		return -1;
	case T_PARITY: {
		static const char *const names[] = {[HM_PARITY_NONE] = "none",
		                                    [HM_PARITY_EVEN] = "even",
		                                    [HM_PARITY_ODD] = "odd",
		                                    [HM_PARITY_AUTO] = "auto"};
		for (int i = 0; i < 4; i++)
			if (strcasecmp(v, names[i]) == 0) {
				*(enum hm_parity *)f = (enum hm_parity)i;
				return 0;
			}
		snprintf(msg, mlen, "%s: '%s' is not none, even, odd or auto", k->name, v);
		return -1;
	}
	case T_LOGLEVEL: {
		static const struct {
			const char *name;
			int level;
		} levels[] = {{"err", LOG_ERR},       {"error", LOG_ERR}, {"warning", LOG_WARNING},
		              {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG}};
		for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
			if (strcasecmp(v, levels[i].name) == 0) {
				*(int *)f = levels[i].level;
				return 0;
			}
		snprintf(msg, mlen, "%s: '%s' is not err, warning, notice, info or debug", k->name, v);
		return -1;
	}
	case T_PROFILE:
		if (len < k->size && (strcmp(v, "auto") == 0 || hm_profile_find(v))) {
			memcpy(f, v, len + 1);
			return 0;
		}
		snprintf(msg, mlen, "%s: '%s' is not auto or a known meter profile", k->name, v);
		for (size_t i = 0; hm_profiles[i]; i++)
			snprintf(msg + strlen(msg), mlen - strlen(msg), "%s%s", i ? ", " : " (", hm_profiles[i]->name);
		if (hm_profiles[0])
			snprintf(msg + strlen(msg), mlen - strlen(msg), ")");
		return -1;
	case T_SCALE: {
		struct hm_num n;
		/* Current transformers: 50/5 .. 5000/5, so 10 .. 1000; 10^6 leaves room
		 * and keeps mantissa products well inside int64_t. */
		if (parse_decimal(v, &n) < 0 || n.m == 0 || hm_num_to_double(n) > 1e6) {
			snprintf(msg, mlen, "%s: '%s' is not a positive decimal up to 1000000", k->name, v);
			return -1;
		}
		*(struct hm_num *)f = n;
		return 0;
	}
	case T_KEY16: {
		uint8_t *out = f;
		if (len != 2 * HM_CONF_KEY_LEN) {
			snprintf(msg, mlen, "%s: expected %d hex digits, got %zu characters", k->name,
			         2 * HM_CONF_KEY_LEN, len);
			return -1;
		}
		for (size_t i = 0; i < HM_CONF_KEY_LEN; i++) {
			int hi = hexval((unsigned char)v[2 * i]), lo = hexval((unsigned char)v[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				snprintf(msg, mlen, "%s: not a hex digit at position %zu", k->name,
				         2 * i + (hi >= 0) + 1);
				return -1;
			}
			out[i] = (uint8_t)(hi << 4 | lo);
		}
		*(bool *)field(p->c, inst, k->off2) = true;
		return 0;
	}
	case T_PROTOCOL: {
		static const char *const names[] = {[HM_PROTO_AUTO] = "auto",
		                                    [HM_PROTO_HDLC] = "hdlc",
		                                    [HM_PROTO_MBUS] = "mbus",
		                                    [HM_PROTO_P1] = "p1",
		                                    [HM_PROTO_DLMS] = "dlms"};
		for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
			if (strcasecmp(v, names[i]) == 0) {
				*(enum hm_protocol *)f = (enum hm_protocol)i;
				return 0;
			}
		snprintf(msg, mlen, "%s: '%s' is not auto, hdlc, mbus, p1 or dlms", k->name, v);
		return -1;
	}
	case T_STEPS: { /* derived.h: the capacity tariff's thresholds */
		uint32_t *w = f;
		unsigned n = 0;
		char tok[32];
		for (const char *q = v; *q;) {
			size_t tl = strcspn(q, " \t,");
			struct hm_num x;
			int64_t watts;
			if (tl == 0) {
				q++;
				continue;
			}
			snprintf(tok, sizeof tok, "%.*s", (int)(tl < sizeof tok ? tl : sizeof tok - 1), q);
			q += tl;
			if (n == HM_DERIVED_STEPS_MAX || tl >= sizeof tok || parse_decimal(tok, &x) < 0 || x.e < -3 ||
			    hm_num_to_double(x) > 1e6 || x.m == 0) {
				snprintf(msg, mlen,
				         "%s: expected 1 to %d thresholds in kW (up to 3 decimals, at most 1000000)",
				         k->name, HM_DERIVED_STEPS_MAX);
				return -1;
			}
			watts = x.m;
			for (int sh = x.e + 3; sh > 0; sh--) /* kW -> W, exact since x.e >= -3 */
				watts *= 10;
			if (n && (uint32_t)watts <= w[n - 1]) {
				snprintf(msg, mlen, "%s: thresholds must rise: '%s' after %u W", k->name, tok,
				         w[n - 1]);
				return -1;
			}
			w[n++] = (uint32_t)watts;
		}
		if (n == 0) {
			snprintf(msg, mlen, "%s: no threshold given", k->name);
			return -1;
		}
		*(unsigned *)field(p->c, inst, k->off2) = n;
		return 0;
	}
	case T_KMPREGS: { /* kmp.h: GetRegister ids, sent 8 to a request */
		uint16_t *ids = f;
		unsigned n = 0;
		for (const char *q = v; *q;) {
			size_t tl = strcspn(q, " \t,");
			if (tl == 0) {
				q++;
				continue;
			}
			char tok[16], *end;
			snprintf(tok, sizeof tok, "%.*s", (int)(tl < sizeof tok ? tl : sizeof tok - 1), q);
			q += tl;
			errno = 0;
			unsigned long id = isdigit((unsigned char)tok[0]) ? strtoul(tok, &end, 0) : 0;
			if (n == HM_CONF_KMP_REGS_MAX || tl >= sizeof tok || errno || *end || id == 0 || id > 0xFFFF) {
				snprintf(msg, mlen, "%s: expected 1 to %d register ids (1..65535, decimal or 0x hex)",
				         k->name, HM_CONF_KMP_REGS_MAX);
				return -1;
			}
			for (unsigned i = 0; i < n; i++)
				if (ids[i] == id) {
					snprintf(msg, mlen, "%s: register %lu listed twice", k->name, id);
					return -1;
				}
			ids[n++] = (uint16_t)id;
		}
		if (n == 0) {
			snprintf(msg, mlen, "%s: no register given", k->name);
			return -1;
		}
		*(unsigned *)field(p->c, inst, k->off2) = n;
		return 0;
	}
	}
	snprintf(msg, mlen, "%s: internal error: unknown type", k->name);
	return -1;
}

/* Every key of section sec in instance inst to its default. */
static void set_defaults(struct parse *p, enum section sec, unsigned inst)
{
	char msg[128];
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].sec == sec && keys[i].def)
			(void)set_value(p, &keys[i], inst, keys[i].def, msg,
			                sizeof msg); /* test_config checks they parse */
}

void hm_config_defaults(struct hm_config *c)
{
	struct parse p = {.c = c, .err_line = -1};
	memset(c, 0, sizeof *c);
	for (enum section s = S_DAEMON; s <= S_JSONL; s++)
		if (s != S_METER)
			set_defaults(&p, s, s);
	const char *sd = getenv("STATE_DIRECTORY"); /* systemd: StateDirectory=, colon-separated list */
	if (sd && sd[0] == '/' && strcspn(sd, ":") < sizeof c->daemon.state_dir)
		snprintf(c->daemon.state_dir, sizeof c->daemon.state_dir, "%.*s", (int)strcspn(sd, ":"), sd);
	else
		snprintf(c->daemon.state_dir, sizeof c->daemon.state_dir, "/var/lib/hanmeterd");
}

/* ---- the line reader: sections, line numbers --------------------------- */

static void section_header(struct parse *p, char *s)
{
	char *end = strchr(s, ']');
	p->cur = S_NONE;
	if (!end) {
		fail(p, p->lineno, "section header without ']'");
		return;
	}
	*end = 0;
	char *rest = end + 1;
	rest += strspn(rest, " \t\r\n");
	if (*rest && *rest != ';' && *rest != '#') {
		fail(p, p->lineno, "text after the section header [%s]", s);
		return;
	}
	unsigned inst = 0;
	for (enum section sec = S_DAEMON; sec <= S_JSONL; sec++)
		if (sec != S_METER && strcmp(s, section_name[sec]) == 0)
			inst = sec;
	if (!inst && strncmp(s, "meter ", 6) == 0) {
		const char *name = s + 6;
		size_t n = strlen(name);
		if (!n || n >= HM_CONF_NAME ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                 "0123456789_-") != n) {
			fail(p, p->lineno, "[meter %s]: a meter name is 1..%d of a-z A-Z 0-9 _ -", name,
			     HM_CONF_NAME - 1);
			return;
		}
		for (unsigned i = 0; i < p->c->n_meters; i++)
			if (strcmp(p->c->meter[i].name, name) == 0) {
				fail(p, p->lineno, "duplicate section [meter %s] (first at line %d)", name,
				     p->c->meter[i].line);
				return;
			}
		if (p->c->n_meters == HM_CONF_METERS_MAX) {
			fail(p, p->lineno, "more than %d meters", HM_CONF_METERS_MAX);
			return;
		}
		if (grow(p) < 0) {
			fail(p, p->lineno, "[meter %s]: out of memory", name);
			return;
		}
		struct hm_meter_conf *mc = &p->c->meter[p->c->n_meters];
		memset(mc, 0, sizeof *mc);
		inst = INST_METER0 + p->c->n_meters++;
		memcpy(mc->name, name, n + 1);
		mc->line = p->lineno;
		p->source_key[inst - INST_METER0] = -1;
		set_defaults(p, S_METER, inst);
		p->cur = S_METER;
		p->cur_inst = inst;
		return;
	}
	if (!inst) {
		fail(p, p->lineno, "unknown section [%s] (known: daemon, meter NAME, mqtt, domoticz, journal, jsonl)",
		     s);
		return;
	}
	if (p->sec_line[inst]) {
		fail(p, p->lineno, "duplicate section [%s] (first at line %d)", s, p->sec_line[inst]);
		return;
	}
	p->sec_line[inst] = p->lineno;
	p->cur = (enum section)inst;
	p->cur_inst = inst;
}

static char *reader(char *buf, int size, void *stream)
{
	struct parse *p = stream;
	if (p->err_line >= 0) /* stop at our first error: nothing after it matters */
		return NULL;
	long start = ftell(p->f);
	if (!fgets(buf, size, p->f))
		return NULL;
	p->lineno++;
	size_t n = strlen(buf);
	if (start >= 0 && ftell(p->f) - start != (long)n) { /* fgets stopped at a NUL, strlen() did not */
		fail(p, p->lineno, "NUL byte in the line: not a text file?");
		return NULL;
	}
	if (n && buf[n - 1] != '\n' && !feof(p->f)) {
		fail(p, p->lineno, "line longer than %d characters", LINE_MAX_CHARS);
		return NULL;
	}
	if (p->lineno == 1 && strncmp(buf, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
		memmove(buf, buf + 3, n - 3 + 1);
	size_t lead = strspn(buf, " \t");
	memmove(buf, buf + lead, strlen(buf + lead) + 1);
	if (buf[0] == '[') {
		section_header(p, buf + 1);
		buf[0] = 0; /* inih sees an empty line: the section is ours to track */
	}
	return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char msg[HM_CONF_ERR - 64];
	(void)section; /* the reader knows the section and its instance */
	if (p->err_line >= 0)
		return 0;
	if (p->cur == S_NONE) {
		fail(p, p->lineno, "%s: key outside any section", name);
		return 0;
	}
	size_t i;
	for (i = 0; i < N_KEYS; i++)
		if (keys[i].sec == p->cur && strcmp(keys[i].name, name) == 0)
			break;
	if (i == N_KEYS) {
		fail(p, p->lineno, "unknown key '%s' in [%s]", name, section_name[p->cur]);
		return 0;
	}
	const struct key *k = &keys[i];
	unsigned inst = p->cur_inst;
	if (p->key_line[inst][i]) {
		fail(p, p->lineno, "%s given twice (first at line %d)", name, p->key_line[inst][i]);
		return 0;
	}
	if (k->flags & F_SOURCE) {
		int *src = &p->source_key[inst - INST_METER0];
		if (*src >= 0) {
			fail(p, p->lineno, "meter %s: %s and %s (line %d) both set; a meter has exactly one source",
			     p->c->meter[inst - INST_METER0].name, name, keys[*src].name, p->key_line[inst][*src]);
			return 0;
		}
		*src = (int)i;
		if (!*value) {
			fail(p, p->lineno, "%s: empty", name);
			return 0;
		}
	}
	if (set_value(p, k, inst, value, msg, sizeof msg) < 0) {
		fail(p, p->lineno, "%s", msg);
		return 0;
	}
	p->key_line[inst][i] = p->lineno;
	if (k->flags & F_SECRET && *value)
		p->secrets = true;
	return 1;
}

/* The line key name was set on in instance inst (0 if not set). */
static int key_line(const struct parse *p, unsigned inst, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0 && p->key_line[inst][i])
			return p->key_line[inst][i];
	return 0;
}

/* The keys of the protocols block: MQTT input topics and broker, serial
 * detection.  [mqtt] is parsed by now (check() runs after the whole file). */
static void check_protocols(struct parse *p, struct hm_meter_conf *mc, unsigned inst)
{
	const struct hm_mqtt_conf *mq = &p->c->mqtt;
	if (key_line(p, inst, "mqtt_broker") && !mc->mqtt_topic[0])
		fail(p, key_line(p, inst, "mqtt_broker"), "meter %s: mqtt_broker needs mqtt_topic", mc->name);
	if (mc->mqtt_topic[0]) {
		/* Comma-separated filters; each non-empty, no spaces (MQTT 3.1.1 4.7). */
		const char *t = mc->mqtt_topic;
		for (;;) {
			size_t n = strcspn(t, ",");
			if (n == 0 || memchr(t, ' ', n)) {
				fail(p, key_line(p, inst, "mqtt_topic"),
				     "meter %s: mqtt_topic: empty topic or space in '%s'", mc->name, mc->mqtt_topic);
				break;
			}
			if (!t[n])
				break;
			t += n + 1;
		}
		if (!mc->mqtt_host[0]) { /* the sink's broker, or the usual local one */
			snprintf(mc->mqtt_host, sizeof mc->mqtt_host, "%s",
			         p->sec_line[S_MQTT] ? mq->host : "127.0.0.1");
			mc->mqtt_port = p->sec_line[S_MQTT] ? mq->port : 1883;
		}
		mc->mqtt_same_broker =
		    p->sec_line[S_MQTT] && strcmp(mc->mqtt_host, mq->host) == 0 && mc->mqtt_port == mq->port;
	}
	if (mc->kmp && (mc->mqtt_topic[0] || mc->baud == 0 || mc->parity == HM_PARITY_AUTO))
		fail(p, key_line(p, inst, "kmp"),
		     "meter %s: kmp = yes polls a meter over device or tcp at a given baud and parity (no mqtt_topic, "
		     "no auto)",
		     mc->name);
	if (mc->baud == 0 && (mc->parity == HM_PARITY_ODD))
		fail(p, key_line(p, inst, "parity"), "meter %s: baud = auto tries even and none parity only", mc->name);
}

/* Cross-key checks and computed defaults, once the whole file is read. */
static void check(struct parse *p)
{
	struct hm_config *c = p->c;

	if (c->n_meters == 0)
		fail(p, 0, "no [meter NAME] section: nothing to read");
	for (unsigned i = 0; i < c->n_meters; i++) {
		struct hm_meter_conf *mc = &c->meter[i];
		unsigned inst = INST_METER0 + i;
		if (p->source_key[i] < 0)
			fail(p, mc->line, "meter %s has no source: set one of device, tcp, file, mqtt_topic", mc->name);
		if (mc->retry_min_ms > mc->retry_max_ms) {
			int l = key_line(p, inst, "retry_min");
			fail(p, l ? l : mc->line, "meter %s: retry_min (%u ms) exceeds retry_max (%u ms)", mc->name,
			     mc->retry_min_ms, mc->retry_max_ms);
		}
		if (mc->has_auth_key && !mc->has_key)
			fail(p, key_line(p, inst, "auth_key"), "meter %s: auth_key without key", mc->name);
		if ((mc->pace_ms || mc->loop) && !mc->file[0])
			fail(p, key_line(p, inst, mc->loop ? "loop" : "pace"),
			     "meter %s: pace and loop apply to a file source only", mc->name);
		if (mc->loop && !mc->pace_ms) /* replaying without pause, forever, would only burn CPU */
			fail(p, key_line(p, inst, "loop"), "meter %s: loop = yes needs pace", mc->name);
		if (mc->kmp) {
			if (mc->file[0])
				fail(p, key_line(p, inst, "kmp"),
				     "meter %s: kmp = yes polls a meter: it needs device or tcp, not file", mc->name);
			if (!key_line(p, inst, "baud"))
				mc->baud = 1200; /* the MULTICAL optical eye */
			if (!key_line(p, inst, "parity"))
				mc->parity = HM_PARITY_NONE;
		} else if (key_line(p, inst, "registers") || key_line(p, inst, "poll_interval") ||
		           key_line(p, inst, "timeout") || key_line(p, inst, "retries")) {
			int l = key_line(p, inst, "registers");
			l = l ? l : key_line(p, inst, "poll_interval");
			l = l ? l : key_line(p, inst, "timeout");
			fail(p, l ? l : key_line(p, inst, "retries"),
			     "meter %s: registers, poll_interval, timeout and retries need kmp = yes", mc->name);
		}
	}

	if (p->sec_line[S_MQTT]) {
		struct hm_mqtt_conf *m = &c->mqtt;
		m->enabled = true;
		m->line = p->sec_line[S_MQTT];
		if (m->tls && !key_line(p, S_MQTT, "port"))
			m->port = 8883; /* IANA secure-mqtt */
		if (!m->host[0])
			fail(p, key_line(p, S_MQTT, "host"), "host: empty");
		if (!m->client_id[0]) {
			char host[HOST_NAME_MAX + 1] = "localhost";
			gethostname(host, sizeof host - 1);
			snprintf(m->client_id, sizeof m->client_id, "hanmeterd-%.*s", (int)(sizeof m->client_id - 11),
			         host);
		}
		if (!m->tls && (m->cafile[0] || m->capath[0] || m->certfile[0] || m->keyfile[0]))
			fail(p, m->line, "[mqtt]: cafile, capath, certfile and keyfile need tls = yes");
		if (!m->certfile[0] != !m->keyfile[0])
			fail(p, key_line(p, S_MQTT, m->certfile[0] ? "certfile" : "keyfile"),
			     "certfile and keyfile go together");
		if (m->password[0] && !m->username[0])
			fail(p, key_line(p, S_MQTT, "password"), "password without username");
		if (m->per_value && m->homeassistant) /* discovery points Home Assistant at the JSON state topic */
			fail(p, key_line(p, S_MQTT, "per_value"),
			     "per_value = yes leaves Home Assistant discovery without its state topic; set "
			     "homeassistant = no");
	}

	if (p->sec_line[S_DOMOTICZ]) {
		struct hm_domoticz_conf *z = &c->domoticz;
		z->enabled = true;
		z->line = p->sec_line[S_DOMOTICZ];
		if (z->meter[0] && !hm_config_meter(c, z->meter))
			fail(p, key_line(p, S_DOMOTICZ, "meter"), "meter: no [meter %s]", z->meter);
		else if (!z->meter[0] && c->n_meters)
			memcpy(z->meter, c->meter[0].name, sizeof z->meter);
		if (z->mqtt && !c->mqtt.enabled)
			fail(p, key_line(p, S_DOMOTICZ, "mqtt"), "mqtt = yes needs an [mqtt] section");
		if (!z->idx_p1 && !z->idx_power && !z->idx_voltage_l1 && !z->idx_voltage_l2 && !z->idx_voltage_l3 &&
		    !z->idx_current && !z->idx_heat && !z->idx_temp_flow && !z->idx_temp_return)
			fail(p, z->line, "[domoticz] sets no idx_*: nothing to send");
	}

	for (unsigned i = 0; i < c->n_meters; i++) /* after [mqtt]: its port may follow tls */
		check_protocols(p, &c->meter[i], INST_METER0 + i);

	if (p->sec_line[S_JOURNAL]) {
		c->journal.enabled = true;
		c->journal.line = p->sec_line[S_JOURNAL];
	}
	if (p->sec_line[S_JSONL]) {
		c->jsonl.enabled = true;
		c->jsonl.line = p->sec_line[S_JSONL];
		if (!c->jsonl.path[0])
			fail(p, key_line(p, S_JSONL, "path"), "path: empty (use - for standard output)");
	}
}

void hm_config_free(struct hm_config *c)
{
	free(c->meter);
	c->meter = NULL;
	c->n_meters = 0;
}

int hm_config_load(struct hm_config *c, const char *path, char *err, size_t errlen)
{
	struct parse *p = calloc(1, sizeof *p);
	int rc = 0;

	hm_config_free(c);
	hm_config_defaults(c);
	if (p) /* the singletons' rows of key_line; the meters' come with grow() */
		p->key_line = calloc(INST_METER0, sizeof *p->key_line);
	if (!p || !p->key_line) {
		free(p);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	p->c = c;
	p->err_line = -1;
	if (strlen(path) >= sizeof c->path) {
		snprintf(err, errlen, "%s: path too long", path);
		free(p->key_line);
		free(p);
		return -ENAMETOOLONG;
	}
	strcpy(c->path, path);

	p->f = fopen(path, "re");
	if (!p->f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(p->key_line);
		free(p);
		return rc;
	}
	struct stat st;
	if (fstat(fileno(p->f), &st) == 0 && (st.st_mode & S_IWOTH)) {
		/* Anyone could point the daemon at another device or broker. */
		fail(p, 0, "writable by anyone (mode %03o): refused; chmod o-w", (unsigned)(st.st_mode & 0777));
	} else {
		int line = ini_parse_stream(reader, p, handler, p);
		if (line > 0 && (p->err_line < 0 || line < p->err_line)) {
			p->err_line = -1;
			fail(p, line, "expected 'key = value', '[section]' or a comment");
		}
		if (p->err_line < 0)
			check(p);
	}
	fclose(p->f);

	if (p->err_line > 0)
		snprintf(err, errlen, "%s:%d: %s", path, p->err_line, p->err_msg);
	else if (p->err_line == 0)
		snprintf(err, errlen, "%s: %s", path, p->err_msg);
	else if (p->secrets && (st.st_mode & S_IROTH))
		snprintf(c->warning, sizeof c->warning,
		         "%s: holds a password or key and is readable by anyone (mode %03o); chmod o-r", path,
		         (unsigned)(st.st_mode & 0777));
	rc = p->err_line >= 0 ? -EINVAL : 0;
	free(p->key_line);
	free(p->source_key);
	free(p);
	return rc;
}

const struct hm_meter_conf *hm_config_meter(const struct hm_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_meters; i++)
		if (strcmp(c->meter[i].name, name) == 0)
			return &c->meter[i];
	return NULL;
}

int hm_config_key(unsigned i, const char **section, const char **name, const char **def)
{
	if (i >= N_KEYS)
		return -ENOENT;
	*section = section_name[keys[i].sec];
	*name = keys[i].name;
	*def = keys[i].def;
	return 0;
}
