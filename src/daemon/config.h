/*
 * config.h - /etc/hanmeterd.conf as data.
 *
 * The file is INI (inih).  hm_config_load() parses a whole file into a fresh
 * struct hm_config and checks it; on any error it fills err with
 * "file:line: message" and returns -EINVAL, leaving nothing half-applied
 * (reload is parse, check, swap).  Every key, its type, default and range
 * is one row of the key table in config.c; man/hanmeterd.conf.5 documents
 * the same rows.  Values that are read as numbers by sinks stay exact where
 * they multiply readings (scale is a decimal, never a double).
 */
#ifndef HANMETERD_CONFIG_H
#define HANMETERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/derived.h"
#include "hanmeter/reading.h"

#define HM_CONF_METERS_MAX   60000 /* [meter NAME] sections in one file: one fd each, within LimitNOFILE=65536 */
#define HM_CONF_STR          256   /* paths, URLs, host names */
#define HM_CONF_NAME         64    /* meter names, client ids */
#define HM_CONF_ERR          512   /* "file:line: message" */
#define HM_CONF_KEY_LEN      16    /* DLMS AES-128 keys (IEC 62056-5-3 security suite 0) */
#define HM_CONF_KMP_REGS_MAX 32    /* registers = : ids polled per KMP meter (4 requests of 8) */

enum hm_parity { HM_PARITY_NONE, HM_PARITY_EVEN, HM_PARITY_ODD, HM_PARITY_AUTO /* parity = auto: detected */ };

/* protocol = : how a meter's byte stream is framed. */
enum hm_protocol {
	HM_PROTO_AUTO, /* feed every framer until one yields a good message, then keep that one */
	HM_PROTO_HDLC, /* IEC 62056-46 HDLC (Nordic HAN, Wiener Netze) */
	HM_PROTO_MBUS, /* EN 13757-2 wired M-Bus long frames (Austrian customer interfaces) */
	HM_PROTO_P1,   /* DSMR / P1 telegrams */
	HM_PROTO_DLMS, /* bare general-glo-ciphering APDUs back to back (Luxembourg Smarty P1 port) */
};

/* [meter NAME]: one meter and where its bytes come from. */
struct hm_meter_conf {
	char name[HM_CONF_NAME];           /* section name; [a-zA-Z0-9_-]+ (used in MQTT topics) */
	char device[HM_CONF_STR];          /* device = serial port path, or "" */
	char tcp_host[HM_CONF_STR];        /* tcp = HOST:PORT (ser2net/socat raw), host part, or "" */
	uint16_t tcp_port;                 /* tcp = HOST:PORT, port part */
	char file[HM_CONF_STR];            /* file = capture to replay (testing), or "" */
	unsigned baud;                     /* baud = 2400 (0: auto, detected) */
	enum hm_parity parity;             /* parity = even (Kamstrup meters: none) */
	char profile[16];                  /* profile = auto | aidon | kaifa | kamstrup */
	struct hm_num scale;               /* scale = 1: current-transformer factor (current, power, energy), exact */
	bool has_key;                      /* key = 32 hex digits: the meter encrypts (general-glo-ciphering) */
	uint8_t key[HM_CONF_KEY_LEN];      /* encryption key (EK) */
	bool has_auth_key;                 /* auth_key = 32 hex digits: GCM authentication key (AK) */
	uint8_t auth_key[HM_CONF_KEY_LEN]; /* authentication key */
	unsigned pace_ms;                  /* pace = 0: file source, pause between lines (hex) or 64-byte chunks, ms */
	bool loop;                         /* loop = no: file source, replay again from the start at the end */
	unsigned idle_timeout_s;           /* idle_timeout = 60: reconnect a TCP source silent this long */
	unsigned retry_min_ms;             /* retry_min = 1000: first back-off after a source error, ms */
	unsigned retry_max_ms;             /* retry_max = 60000: back-off cap, ms */
	int line;                          /* line of the section header (for messages) */
	/* protocols: framing, MQTT input (int1) */
	enum hm_protocol protocol;    /* protocol = auto */
	char mqtt_topic[HM_CONF_STR]; /* mqtt_topic = T1,T2: MQTT input source (HAN readers), or "" */
	char mqtt_host[HM_CONF_STR];  /* mqtt_broker = HOST:PORT, host part (default: [mqtt] host) */
	uint16_t mqtt_port;           /* mqtt_broker port part (default: [mqtt] port) */
	bool mqtt_same_broker;        /* mqtt_broker is [mqtt]'s: its username, password and TLS apply */
	/* capacity_steps = 2 5 10 15 20 25 50 75 100: capacity tariff thresholds (kW), ascending */
	uint32_t capacity_step_w[HM_DERIVED_STEPS_MAX]; /* W */
	unsigned n_capacity_steps;                      /* thresholds given */
	/* KMP polling (Kamstrup MULTICAL heat meters, src/source/kmp.c) */
	bool kmp;                               /* kmp = no: poll a KMP meter on device or tcp */
	uint16_t kmp_reg[HM_CONF_KMP_REGS_MAX]; /* registers = 60 68 74 ...: KMP register ids */
	unsigned n_kmp_regs;                    /* ids given */
	unsigned poll_interval_s;               /* poll_interval = 3600: s between polls (battery) */
	unsigned timeout_ms;                    /* timeout = 2000: wait for one answer, ms */
	unsigned retries;                       /* retries = 2: requests sent again after a timeout or bad frame */
};

/* [mqtt]: the MQTT sink (and, from issue 4, MQTT input). */
struct hm_mqtt_conf {
	bool enabled;                       /* the section is present */
	char host[HM_CONF_STR];             /* host = 127.0.0.1 */
	uint16_t port;                      /* port = 1883 (8883 with tls) */
	char topic_prefix[HM_CONF_STR];     /* topic_prefix = hanmeter */
	bool homeassistant;                 /* homeassistant = yes: discovery */
	char discovery_prefix[HM_CONF_STR]; /* discovery_prefix = homeassistant */
	char client_id[HM_CONF_NAME];       /* client_id = hanmeterd-<hostname> */
	char username[HM_CONF_NAME];        /* username = */
	char password[HM_CONF_STR];         /* password = (never logged) */
	int qos;                            /* qos = 0..2 (default 1) */
	bool retain;                        /* retain = no: state messages retained */
	unsigned keepalive_s;               /* keepalive = 60 */
	bool tls;                           /* tls = no */
	char cafile[HM_CONF_STR];           /* cafile = (system store if empty) */
	char capath[HM_CONF_STR];           /* capath = */
	char certfile[HM_CONF_STR];         /* certfile = client certificate */
	char keyfile[HM_CONF_STR];          /* keyfile = */
	bool tls_insecure;                  /* tls_insecure = no: skip host name check */
	bool publish_raw;                   /* raw = no: hex of every frame on <prefix>/<meter>/raw */
	bool per_value;     /* per_value = no: each value on <prefix>/<meter>/<field> instead of one JSON state */
	unsigned queue_max; /* queue = 1000: messages held while the broker is away */
	int line;           /* line of the section header */
};

/* [domoticz]: the Domoticz sink (HTTP JSON API, or domoticz/in over MQTT). */
struct hm_domoticz_conf {
	bool enabled;                 /* the section is present */
	char meter[HM_CONF_NAME];     /* meter = which [meter] feeds it (default: the first) */
	char url[HM_CONF_STR];        /* url = http://127.0.0.1:8080 ("" with mqtt = yes only) */
	char username[HM_CONF_NAME];  /* username = basic auth */
	char password[HM_CONF_STR];   /* password = */
	bool mqtt;                    /* mqtt = no: publish to domoticz/in via [mqtt] instead of HTTP */
	char mqtt_topic[HM_CONF_STR]; /* mqtt_topic = domoticz/in */
	unsigned interval_s;          /* interval = 60 */
	bool tls_verify;              /* tls_verify = yes */
	int idx_p1;                   /* idx_p1 = P1 Smart Meter device (energy + power), 0 = off */
	int idx_power;                /* idx_power = Electric (instant + counter) device */
	int idx_voltage_l1, idx_voltage_l2, idx_voltage_l3; /* Voltage devices */
	int idx_current;                                    /* idx_current = three-phase Current device */
	int idx_heat;        /* idx_heat = Electric (instant+counter) device: KMP heat power and E1 */
	int idx_temp_flow;   /* idx_temp_flow = Temperature device: KMP flow temperature */
	int idx_temp_return; /* idx_temp_return = Temperature device: KMP return temperature */
	int line;            /* line of the section header */
};

/* [journal]: logging and periodic reading lines in the journal/syslog. */
struct hm_journal_conf {
	bool enabled;        /* the section is present */
	unsigned interval_s; /* readings = 0: log a reading line every N s (0 = never) */
	int line;
};

/* [jsonl]: one JSON object per reading, to stdout ("-") or a file. */
struct hm_jsonl_conf {
	bool enabled;
	char path[HM_CONF_STR]; /* path = - */
	int line;
};

/* [daemon]: process-wide settings. */
struct hm_daemon_conf {
	int log_level;               /* log_level = info (err|warning|notice|info|debug) */
	unsigned status_interval_s;  /* status_interval = 10: STATUS= refresh */
	char state_dir[HM_CONF_STR]; /* state_dir = $STATE_DIRECTORY or /var/lib/hanmeterd */
};

struct hm_config {
	char path[HM_CONF_STR];    /* the file it came from */
	char warning[HM_CONF_ERR]; /* "file: message" the caller should log (e.g. secrets readable by others), or "" */
	struct hm_daemon_conf daemon;
	unsigned n_meters;
	struct hm_meter_conf *meter; /* n_meters entries, allocated by hm_config_load(), freed by hm_config_free() */
	struct hm_mqtt_conf mqtt;
	struct hm_domoticz_conf domoticz;
	struct hm_journal_conf journal;
	struct hm_jsonl_conf jsonl;
};

/* Sets every default (no meters, no sinks enabled). */
void hm_config_defaults(struct hm_config *c);

/* Parses and checks path into c.  0, or -errno with err = "file:line: message"
 * ("file: message" when it is about the file as a whole: missing, world-writable,
 * no meters).  A non-fatal finding goes to c->warning.  c must be zeroed or
 * hold an earlier load (whose meters it frees); either way, release it with
 * hm_config_free(). */
int hm_config_load(struct hm_config *c, const char *path, char *err, size_t errlen);

/* Frees what hm_config_load() allocated in c (not c itself); c is left
 * without meters. */
void hm_config_free(struct hm_config *c);

/* Walks the key table (for tests and documentation checks): key i's
 * section ("meter" for every [meter NAME]), name and default text (NULL:
 * empty, or computed at load).  0, or -ENOENT past the end. */
int hm_config_key(unsigned i, const char **section, const char **name, const char **def);

/* The meter called name, or NULL. */
const struct hm_meter_conf *hm_config_meter(const struct hm_config *c, const char *name);

#endif
