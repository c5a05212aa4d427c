/*
 * reading.h - the one canonical reading every meter, list and protocol ends as.
 *
 * Sinks only ever see struct hm_reading.  Numeric fields are exact decimals
 * (mantissa * 10^exponent), never binary floating point, so 94064.59 kWh is
 * printed as 94064.59 and not 94064.589999.  Field names end in their unit,
 * as in ../shared/vectors/README.md.  OBIS codes the core has no name for are
 * kept in extra[], not dropped.
 */
#ifndef HANMETER_READING_H
#define HANMETER_READING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/limits.h"

/*
 * Numeric fields.  X(ID, name, unit, obis C, D, E, device_class, state_class)
 * OBIS is A-B:C.D.E.F with A=1 (electricity); C.D.E identify the quantity.
 * device_class/state_class are Home Assistant's (NULL: none).
 */
/* clang-format off */
#define HM_NUM_FIELDS(X)                                                                                   \
	X(ACTIVE_POWER_IMPORT_W, "active_power_import_w", "W", 1, 7, 0, "power", "measurement")              \
	X(ACTIVE_POWER_EXPORT_W, "active_power_export_w", "W", 2, 7, 0, "power", "measurement")              \
	X(REACTIVE_POWER_IMPORT_VAR, "reactive_power_import_var", "var", 3, 7, 0, "reactive_power", "measurement") \
	X(REACTIVE_POWER_EXPORT_VAR, "reactive_power_export_var", "var", 4, 7, 0, "reactive_power", "measurement") \
	X(CURRENT_L1_A, "current_l1_a", "A", 31, 7, 0, "current", "measurement")                              \
	X(CURRENT_L2_A, "current_l2_a", "A", 51, 7, 0, "current", "measurement")                              \
	X(CURRENT_L3_A, "current_l3_a", "A", 71, 7, 0, "current", "measurement")                              \
	X(VOLTAGE_L1_V, "voltage_l1_v", "V", 32, 7, 0, "voltage", "measurement")                              \
	X(VOLTAGE_L2_V, "voltage_l2_v", "V", 52, 7, 0, "voltage", "measurement")                              \
	X(VOLTAGE_L3_V, "voltage_l3_v", "V", 72, 7, 0, "voltage", "measurement")                              \
	X(ACTIVE_ENERGY_IMPORT_KWH, "active_energy_import_kwh", "kWh", 1, 8, 0, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_EXPORT_KWH, "active_energy_export_kwh", "kWh", 2, 8, 0, "energy", "total_increasing") \
	X(REACTIVE_ENERGY_IMPORT_KVARH, "reactive_energy_import_kvarh", "kvarh", 3, 8, 0, NULL, "total_increasing") \
	X(REACTIVE_ENERGY_EXPORT_KVARH, "reactive_energy_export_kvarh", "kvarh", 4, 8, 0, NULL, "total_increasing") \
	X(ACTIVE_ENERGY_IMPORT_T1_KWH, "active_energy_import_t1_kwh", "kWh", 1, 8, 1, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_IMPORT_T2_KWH, "active_energy_import_t2_kwh", "kWh", 1, 8, 2, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_EXPORT_T1_KWH, "active_energy_export_t1_kwh", "kWh", 2, 8, 1, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_EXPORT_T2_KWH, "active_energy_export_t2_kwh", "kWh", 2, 8, 2, "energy", "total_increasing") \
	X(ACTIVE_POWER_IMPORT_L1_W, "active_power_import_l1_w", "W", 21, 7, 0, "power", "measurement")       \
	X(ACTIVE_POWER_EXPORT_L1_W, "active_power_export_l1_w", "W", 22, 7, 0, "power", "measurement")       \
	X(REACTIVE_POWER_IMPORT_L1_VAR, "reactive_power_import_l1_var", "var", 23, 7, 0, "reactive_power", "measurement") \
	X(REACTIVE_POWER_EXPORT_L1_VAR, "reactive_power_export_l1_var", "var", 24, 7, 0, "reactive_power", "measurement") \
	X(ACTIVE_POWER_IMPORT_L2_W, "active_power_import_l2_w", "W", 41, 7, 0, "power", "measurement")       \
	X(ACTIVE_POWER_EXPORT_L2_W, "active_power_export_l2_w", "W", 42, 7, 0, "power", "measurement")       \
	X(REACTIVE_POWER_IMPORT_L2_VAR, "reactive_power_import_l2_var", "var", 43, 7, 0, "reactive_power", "measurement") \
	X(REACTIVE_POWER_EXPORT_L2_VAR, "reactive_power_export_l2_var", "var", 44, 7, 0, "reactive_power", "measurement") \
	X(ACTIVE_POWER_IMPORT_L3_W, "active_power_import_l3_w", "W", 61, 7, 0, "power", "measurement")       \
	X(ACTIVE_POWER_EXPORT_L3_W, "active_power_export_l3_w", "W", 62, 7, 0, "power", "measurement")       \
	X(REACTIVE_POWER_IMPORT_L3_VAR, "reactive_power_import_l3_var", "var", 63, 7, 0, "reactive_power", "measurement") \
	X(REACTIVE_POWER_EXPORT_L3_VAR, "reactive_power_export_l3_var", "var", 64, 7, 0, "reactive_power", "measurement") \
	X(ACTIVE_ENERGY_IMPORT_L1_KWH, "active_energy_import_l1_kwh", "kWh", 21, 8, 0, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_EXPORT_L1_KWH, "active_energy_export_l1_kwh", "kWh", 22, 8, 0, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_IMPORT_L2_KWH, "active_energy_import_l2_kwh", "kWh", 41, 8, 0, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_EXPORT_L2_KWH, "active_energy_export_l2_kwh", "kWh", 42, 8, 0, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_IMPORT_L3_KWH, "active_energy_import_l3_kwh", "kWh", 61, 8, 0, "energy", "total_increasing") \
	X(ACTIVE_ENERGY_EXPORT_L3_KWH, "active_energy_export_l3_kwh", "kWh", 62, 8, 0, "energy", "total_increasing") \
	X(POWER_FACTOR, "power_factor", "", 13, 7, 0, "power_factor", "measurement")                        \
	X(POWER_FACTOR_L1, "power_factor_l1", "", 33, 7, 0, "power_factor", "measurement")                  \
	X(POWER_FACTOR_L2, "power_factor_l2", "", 53, 7, 0, "power_factor", "measurement")                  \
	X(POWER_FACTOR_L3, "power_factor_l3", "", 73, 7, 0, "power_factor", "measurement")                  \
	/* Not electricity.  C = 255 is no electricity OBIS code, so that no list \
	 * value ever maps to these; D.E keep them distinct: 6.n KMP heat-meter  \
	 * registers (kmp.c), 24.n P1 M-Bus channel n (0-n:24.2.1), whose unit   \
	 * varies (m3, GJ) and is in the text field mbus_<n>_unit. */            \
	X(HEAT_ENERGY_E1_MWH, "heat_energy_e1_mwh", "MWh", 255, 6, 1, "energy", "total_increasing")         \
	X(HEAT_ENERGY_E1_GJ, "heat_energy_e1_gj", "GJ", 255, 6, 2, "energy", "total_increasing")            \
	X(POWER_KW, "power_kw", "kW", 255, 6, 3, "power", "measurement")                                     \
	X(TEMP_FLOW_C, "temp_flow_c", "\xc2\xb0" "C", 255, 6, 4, "temperature", "measurement")              \
	X(TEMP_RETURN_C, "temp_return_c", "\xc2\xb0" "C", 255, 6, 5, "temperature", "measurement")          \
	X(TEMP_DIFF_K, "temp_diff_k", "K", 255, 6, 6, "temperature", "measurement")                          \
	X(FLOW_L_H, "flow_l_h", "l/h", 255, 6, 7, NULL, "measurement")                                        \
	X(VOLUME_V1_M3, "volume_v1_m3", "m\xc2\xb3", 255, 6, 8, "water", "total_increasing")                  \
	X(MIN_FLOW_MONTH_L_H, "min_flow_month_l_h", "l/h", 255, 6, 9, NULL, "measurement")                    \
	X(MAX_FLOW_MONTH_L_H, "max_flow_month_l_h", "l/h", 255, 6, 10, NULL, "measurement")                   \
	X(MBUS_1_VALUE, "mbus_1_value", "", 255, 24, 1, NULL, "total_increasing")                             \
	X(MBUS_2_VALUE, "mbus_2_value", "", 255, 24, 2, NULL, "total_increasing")                             \
	X(MBUS_3_VALUE, "mbus_3_value", "", 255, 24, 3, NULL, "total_increasing")                             \
	X(MBUS_4_VALUE, "mbus_4_value", "", 255, 24, 4, NULL, "total_increasing")
/* clang-format on */

/* Text fields: identity strings and clocks, stored formatted.  X(ID, name) */
/* clang-format off */
#define HM_TEXT_FIELDS(X)                                                      \
	X(LIST_VERSION, "list_version")       /* x.x.0.2.129.255 */             \
	X(METER_ID, "meter_id")               /* 0.0.96.1.0.255 (GS1) */        \
	X(METER_MODEL, "meter_model")         /* 0.0.96.1.7.255 */              \
	X(METER_SERIAL, "meter_serial")       /* Kamstrup DK 1.1.0.0.1 */       \
	X(METER_ID_2, "meter_id_2")           /* 0.0.96.1.1 */                  \
	X(METER_NUMBER, "meter_number")       /* positional ids */              \
	X(LOGICAL_DEVICE_NAME, "logical_device_name") /* 0.0.42.0.0 */          \
	X(METER_TIME, "meter_time")           /* 0.0.1.0.0.255, YYYY-MM-DDThh:mm:ss[+hh:mm] */ \
	X(APDU_TIME, "apdu_time")             /* data-notification header date-time */ \
	X(TARIFF, "tariff")                   /* P1 0-0:96.14.0 */              \
	X(P1_HEADER, "p1_header")             /* P1 identification line */      \
	X(P1_VERSION, "p1_version")           /* P1 1-3:0.2.8 */                \
	X(METER_TIME_DST_FLAG, "meter_time_dst_flag") /* P1 clock suffix S/W */ \
	X(MBUS_1_UNIT, "mbus_1_unit")         /* P1 M-Bus channel unit: m3, GJ, "" */ \
	X(MBUS_2_UNIT, "mbus_2_unit")                                          \
	X(MBUS_3_UNIT, "mbus_3_unit")                                          \
	X(MBUS_4_UNIT, "mbus_4_unit")
/* clang-format on */

enum hm_num_field {
#define HM_NF_ENUM(id, ...) HM_NUM_##id,
	HM_NUM_FIELDS(HM_NF_ENUM)
#undef HM_NF_ENUM
	    HM_NUM_COUNT
};

enum hm_text_field {
#define HM_TF_ENUM(id, ...) HM_TEXT_##id,
	HM_TEXT_FIELDS(HM_TF_ENUM)
#undef HM_TF_ENUM
	    HM_TEXT_COUNT
};

/* Metadata of a numeric field (the table behind HM_NUM_FIELDS). */
struct hm_num_info {
	const char *name;               /* "active_power_import_w" */
	const char *unit;               /* "W", "kWh", "" (dimensionless) */
	uint8_t obis_c, obis_d, obis_e; /* OBIS C.D.E */
	const char *device_class;       /* Home Assistant device_class, or NULL */
	const char *state_class;        /* Home Assistant state_class, or NULL */
};

extern const struct hm_num_info hm_num_info[HM_NUM_COUNT];
extern const char *const hm_text_name[HM_TEXT_COUNT];

/* An exact decimal: value = m * 10^e. */
struct hm_num {
	int64_t m; /* mantissa */
	int16_t e; /* base-10 exponent */
};

/* A clock as the meter sent it: its local date and time, and the UTC
 * offset where the meter gives one.  Kept as numbers and formatted only
 * for output (hm_time_format()): YYYY-MM-DDThh:mm:ss, +hh:mm or -hh:mm
 * after it when has_offset. */
struct hm_time {
	uint16_t year;          /* 0..9999 */
	uint8_t month, day;     /* 1..12, 1..31 */
	uint8_t hour, min, sec; /* 0..23, 0..59, 0..59 */
	bool has_offset;        /* offset is known */
	int16_t offset;         /* minutes east of UTC (+01:00 = 60), -720..720 */
};

/* The clocks among the text fields: text fields whose value is a struct
 * hm_time (r->time[]), formatted when read (hm_reading_text()). */
enum hm_time_field {
	HM_TIME_METER, /* meter_time: the list's clock register */
	HM_TIME_APDU,  /* apdu_time: the notification header's date-time */
	HM_TIME_COUNT
};

/* An OBIS-coded value no field names: kept, with its own scaler and unit. */
struct hm_extra {
	uint8_t obis[6];        /* A.B.C.D.E.F */
	bool is_text;           /* text holds the value instead of num */
	struct hm_num num;      /* value after the scaler */
	uint8_t unit;           /* DLMS unit code (IEC 62056-62), 0 if none */
	char text[HM_TEXT_MAX]; /* printable rendering of a string value */
};

struct hm_reading {
	uint64_t num_set[(HM_NUM_COUNT + 63) / 64]; /* bit per enum hm_num_field */
	struct hm_num num[HM_NUM_COUNT];            /* valid where the bit is set */
	uint32_t text_set;                          /* bit per enum hm_text_field */
	char text[HM_TEXT_COUNT][HM_TEXT_MAX];      /* NUL-terminated, valid where set (not the clocks) */
	struct hm_time time[HM_TIME_COUNT];         /* the clocks, valid where their text bit is set */
	const char *profile;                        /* "aidon", "kaifa", "kamstrup", ... (static) */
	unsigned items;                             /* values in the list the meter sent */
	unsigned n_extra;                           /* entries used in extra[] */
	unsigned extra_dropped;                     /* unnamed values that did not fit extra[] */
	struct hm_extra extra[HM_EXTRA_MAX];        /* OBIS codes without a name */
};

/* Empties r: no field set, no extras, no profile.  Only the bookkeeping is
 * reset (set bits, counts, profile): the field storage (~5 KiB, most of it
 * extra[] and text[]) is valid only where a bit or n_extra says so, and
 * every setter writes a whole value, so wiping it per message (and per
 * profile tried) was most of the cost of decoding a short list. */
static inline void hm_reading_clear(struct hm_reading *r)
{
	for (size_t i = 0; i < sizeof r->num_set / sizeof r->num_set[0]; i++)
		r->num_set[i] = 0;
	r->text_set = 0;
	r->profile = NULL;
	r->items = 0;
	r->n_extra = 0;
	r->extra_dropped = 0;
}

/* Sets field f to m * 10^e, normalised (trailing decimal zeros of m move
 * into e: 2300 * 10^-2 is stored as 23 * 10^0; zero as 0 * 10^0).  Inline:
 * every value of every list comes through here. */
static inline void hm_reading_set_num(struct hm_reading *r, enum hm_num_field f, int64_t m, int e)
{
	if ((unsigned)f >= HM_NUM_COUNT)
		return;
	while (m != 0 && m % 10 == 0 && e < INT16_MAX) {
		m /= 10;
		e++;
	}
	if (m == 0)
		e = 0;
	if (e < INT16_MIN)
		e = INT16_MIN; /* far below any meter's resolution; callers pass -9..+9 */
	if (e > INT16_MAX)
		e = INT16_MAX;
	r->num[f] = (struct hm_num){.m = m, .e = (int16_t)e};
	r->num_set[f / 64] |= UINT64_C(1) << (f % 64);
}
bool hm_reading_has_num(const struct hm_reading *r, enum hm_num_field f);
/* Sets a text field from bytes (non-printable bytes are escaped as \xNN).
 * Not for the clocks: those are set with hm_reading_set_time(). */
void hm_reading_set_text(struct hm_reading *r, enum hm_text_field f, const char *s, size_t len);
bool hm_reading_has_text(const struct hm_reading *r, enum hm_text_field f);

/* The clock behind text field f (meter_time, apdu_time), or -1. */
static inline int hm_text_time(enum hm_text_field f)
{
	return f == HM_TEXT_METER_TIME ? HM_TIME_METER : f == HM_TEXT_APDU_TIME ? HM_TIME_APDU : -1;
}

/* Sets clock field f (HM_TEXT_METER_TIME or HM_TEXT_APDU_TIME) to *t. */
static inline void hm_reading_set_time(struct hm_reading *r, enum hm_text_field f, const struct hm_time *t)
{
	int k = hm_text_time(f);
	if (k < 0)
		return;
	r->time[k] = *t;
	r->text_set |= UINT32_C(1) << f;
}

/* Text field f as a string, or NULL if it is not set: r->text[f], or a
 * clock formatted into buf. */
const char *hm_reading_text(const struct hm_reading *r, enum hm_text_field f, char buf[HM_TEXT_MAX]);

/* Formats t as YYYY-MM-DDThh:mm:ss[+hh:mm]; the length, or -1 if cap is
 * too small (26 bytes always do). */
int hm_time_format(const struct hm_time *t, char *buf, size_t cap);
/* Appends an extra; when extra[] is full returns false and counts it in extra_dropped. */
bool hm_reading_add_extra(struct hm_reading *r, const struct hm_extra *x);

/* The field for OBIS C.D.E (A=1, B any), or -1. */
int hm_num_field_by_obis(uint8_t c, uint8_t d, uint8_t e);
/* The field named name ("voltage_l1_v"), or -1. */
int hm_num_field_by_name(const char *name);
int hm_text_field_by_name(const char *name);

/* Plain decimal, no exponent, trailing zeros dropped ("94064.59", "-1", "0").
 * Returns the length written (excluding NUL), or -1 if cap is too small. */
int hm_num_format(struct hm_num v, char *buf, size_t cap);
/* The value as a double (for arithmetic in sinks, never for printing). */
double hm_num_to_double(struct hm_num v);

#endif
