/*
 * meter.c - the simulated meter: a household's load over the day, and the
 * three Norwegian HAN list layouts (NEK HAN / NVE, as the makes send them).
 *
 * Cadence (measured from the makes' captures and documentation):
 *   Aidon    list 1 (P+) every 2.5 s, list 2 every 10 s, list 3 at hh:00:00
 *            (it replaces that list 2)
 *   Kaifa    list 1 every 2 s, list 2 every 10 s, list 3 at hh:00:10
 *   Kamstrup list 1 every 10 s, list 2 (hourly) extra at hh:00:05
 *
 * Layouts (byte for byte as in the captures; values are ours):
 *   Aidon    0F 40000000 00 (no date-time), array of structures
 *            {OBIS, value[, {scaler, unit}]}; P u32 W, I int16 0.1 A,
 *            U u16 0.1 V, energy u32 scaler 1 (10 Wh); clock deviation 0.
 *   Kaifa    0F 40000000 09 0C <date-time>, one structure of bare values,
 *            no OBIS codes: P u32 W, I u32 mA, U u32 0.1 V, energy u32 Wh;
 *            strings are octet-strings; deviation 0x8000 (unspecified).
 *   Kamstrup 0F 00000000 0C <date-time> (no 09 tag), one flat structure of
 *            OBIS, value pairs behind the list version; P u32 W, I u32
 *            0.01 A, U u16 V, energy u32 0.01 kWh; one-phase meters keep the
 *            25/35 element count with null-data in place of L2/L3 pairs;
 *            clock status 0x80 while daylight saving time is in force.
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define MS_PER_HOUR 3600000
#define MS_PER_DAY  86400000
/* "YYYY-MM-DDThh:mm:ss+00:00", with room for any int the compiler imagines in a field */
#define ISO_MAX 80

/* ---- randomness ---------------------------------------------------------- */

uint64_t sim_rng_next(struct sim_rng *r)
{
	/* splitmix64 (Steele, Lea, Flood 2014): constants from the paper */
	uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

double sim_rng_unit(struct sim_rng *r)
{
	return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); /* 53 bits */
}

double sim_rng_gauss(struct sim_rng *r)
{
	/* Box-Muller; 1 - unit() is in (0, 1], so log() is finite */
	double u = 1.0 - sim_rng_unit(r), v = sim_rng_unit(r);
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

uint32_t sim_rng_below(struct sim_rng *r, uint32_t n)
{
	return n ? (uint32_t)(sim_rng_next(r) % n) : 0;
}

/* ---- the makes ----------------------------------------------------------- */

struct make_info {
	const char *name;
	const char *version;   /* the list version string lists 2 and 3 start with */
	const char *id_prefix; /* GS1 company prefix of the meter id */
	const char *model[2];  /* one-phase, three-phase type strings */
	int64_t period_ms;     /* list 1 cadence */
	int64_t hourly_ms;     /* offset of the hourly list after the full hour */
	struct sim_hdlc_addr hdlc;
};

/* clang-format off */
static const struct make_info makes[] = {
	[SIM_AIDON] = {
		.name = "aidon",
		.version = "AIDON_V0001",
		.id_prefix = "7359992",
		.model = {"6515", "6534"},
		.period_ms = 2500,
		.hourly_ms = 0,
		/* dst 0x41, src 0x08 0x83, UI frame with P/F (captures aidon-6534-*) */
		.hdlc = {{0x41, 0x08, 0x83}, 3, 0x13},
	},
	[SIM_KAIFA] = {
		.name = "kaifa",
		.version = "KFM_001",
		.id_prefix = "6970631",
		.model = {"MA105H2E", "MA304H4"},
		.period_ms = 2000,
		.hourly_ms = 10000,
		/* dst 0x01, src 0x02 0x01, control 0x10 (captures kaifa-ma304h4-*) */
		.hdlc = {{0x01, 0x02, 0x01}, 3, 0x10},
	},
	[SIM_KAMSTRUP] = {
		.name = "kamstrup",
		.version = "Kamstrup_V0001",
		.id_prefix = "5706567",
		.model = {"6861111BN242101040", "6841131BN243101040"},
		.period_ms = 10000,
		.hourly_ms = 5000,
		/* dst 0x2B, src 0x21, control 0x13 (captures kamstrup-6841*) */
		.hdlc = {{0x2B, 0x21}, 2, 0x13},
	},
};
/* clang-format on */

const char *sim_make_name(enum sim_make make)
{
	return makes[make].name;
}

int sim_make_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof makes / sizeof makes[0]; i++)
		if (strcmp(makes[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct sim_hdlc_addr *sim_hdlc_addr(enum sim_make make)
{
	return &makes[make].hdlc;
}

/* ---- schedule ------------------------------------------------------------ */

static int64_t ceil_to(int64_t t, int64_t step)
{
	return (t + step - 1) / step * step;
}

/* The first list time at or after t. */
static int64_t first_at_or_after(enum sim_make make, int64_t t)
{
	const struct make_info *mi = &makes[make];
	int64_t tick = ceil_to(t, mi->period_ms);
	if (make == SIM_KAMSTRUP) {
		/* the hourly list comes between two 10 s lists */
		int64_t hourly = ceil_to(t - mi->hourly_ms, MS_PER_HOUR) + mi->hourly_ms;
		if (hourly < tick)
			return hourly;
	}
	return tick;
}

int sim_meter_next_list(const struct sim_meter *m, int64_t *t_ms)
{
	int64_t t = m->t_ms;
	*t_ms = t;
	if (t % MS_PER_HOUR == makes[m->make].hourly_ms)
		return m->make == SIM_KAMSTRUP ? 2 : 3;
	if (m->make == SIM_KAMSTRUP)
		return 1;
	return t % 10000 == 0 ? 2 : 1; /* list 2 every 10 s */
}

/* ---- the household ------------------------------------------------------- */

void sim_meter_init(struct sim_meter *m, enum sim_make make, unsigned phases, uint64_t seed, int64_t start_ms)
{
	memset(m, 0, sizeof *m);
	m->make = make;
	m->phases = phases == 1 ? 1 : 3;
	m->rng.s = seed;
	m->t_ms = first_at_or_after(make, start_ms);
	m->model_ms = m->t_ms;
	m->model = makes[make].model[m->phases == 3];
	int n = snprintf(m->id, sizeof m->id, "%s", makes[make].id_prefix);
	for (; n < 16; n++)
		m->id[n] = (char)('0' + sim_rng_below(&m->rng, 10));
	m->id[16] = 0;
	m->load_scale = 0.7 + 0.8 * sim_rng_unit(&m->rng);
	m->walk = 1.0;
	for (unsigned i = 0; i < 3; i++) {
		m->share[i] = m->phases == 3 ? 1.0 / 3 : (i == 0);
		m->volt[i] = 229.0 + 6.0 * sim_rng_unit(&m->rng);
	}
	m->e_mwh[0] = (5000.0 + 55000.0 * sim_rng_unit(&m->rng)) * 1e6; /* kWh -> mWh */
	m->e_mwh[1] = 0;                                                /* no production */
	m->e_mwh[2] = (10.0 + 500.0 * sim_rng_unit(&m->rng)) * 1e6;
	m->e_mwh[3] = (1000.0 + 9000.0 * sim_rng_unit(&m->rng)) * 1e6;
	m->q_var = 0;
	m->p_w = 0;
}

/* The household's mean load (W) at local time t: night base, a morning and
 * a larger evening peak, and electric heating that follows the season. */
static double daily_curve(int64_t t_ms)
{
	double h = (double)(t_ms % MS_PER_DAY) / MS_PER_HOUR;
	double day = (double)(t_ms / MS_PER_DAY);
	double base = 300.0 + 80.0 * sin(2.0 * M_PI * (h - 9.0) / 24.0);
	double morning = 900.0 * exp(-pow((h - 7.5) / 1.0, 2));
	double evening = 1600.0 * exp(-pow((h - 18.5) / 1.8, 2));
	/* 1970-01-15 + k years is mid-January: the coldest weeks */
	double winter = 0.5 * (1.0 + cos(2.0 * M_PI * (day - 14.0) / 365.25));
	return base + morning + evening + 1400.0 * winter;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Integrates the power held since model_ms up to t, then draws new state. */
static void advance(struct sim_meter *m, int64_t t)
{
	int64_t dt_ms = t - m->model_ms;
	if (dt_ms <= 0)
		goto draw;
	/* W * ms = mJ; 1 mWh = 3600 mJ */
	m->e_mwh[0] += m->p_w * (double)dt_ms / 3600.0;
	if (m->q_var > 0)
		m->e_mwh[2] += m->q_var * (double)dt_ms / 3600.0;
	else
		m->e_mwh[3] += -m->q_var * (double)dt_ms / 3600.0;
	m->model_ms = t;

	double dt_s = (double)dt_ms / 1000.0;
	double k = clamp(dt_s / 900.0, 0, 1); /* mean reversion over ~15 min */
	m->walk += (1.0 - m->walk) * k + 0.03 * sqrt(dt_s / 10.0) * sim_rng_gauss(&m->rng);
	m->walk = clamp(m->walk, 0.5, 1.8);
	for (unsigned i = 0; i < 3; i++) {
		double nominal = 231.0;
		m->volt[i] += (nominal - m->volt[i]) * k + 0.4 * sqrt(dt_s / 10.0) * sim_rng_gauss(&m->rng);
		m->volt[i] = clamp(m->volt[i], 216.0, 248.0);
		if (m->phases == 3)
			m->share[i] = clamp(m->share[i] + 0.01 * sim_rng_gauss(&m->rng), 0.1, 0.6);
	}
	if (m->kettle_w > 0 && t >= m->kettle_end_ms)
		m->kettle_w = 0;
	if (m->kettle_w == 0 && sim_rng_unit(&m->rng) < dt_s / 1800.0) { /* one every ~30 min */
		m->kettle_w = 1200.0 + 1800.0 * sim_rng_unit(&m->rng);
		m->kettle_end_ms = t + 60000 + (int64_t)sim_rng_below(&m->rng, 540000);
	}
draw:;
	double p = m->load_scale * daily_curve(t) * m->walk + m->kettle_w;
	p *= 1.0 + 0.03 * sim_rng_gauss(&m->rng);
	m->p_w = p < 0 ? 0 : p;
	/* mostly capacitive (switch-mode supplies), as in the captures */
	m->q_var = m->p_w * (-0.15 + 0.08 * sim_rng_gauss(&m->rng));
}

/* ---- byte and JSON writers ----------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool over;
};

static void put8(struct wbuf *w, unsigned v)
{
	if (w->len < w->cap)
		w->p[w->len++] = (uint8_t)v;
	else
		w->over = true;
}

static void put_be(struct wbuf *w, uint64_t v, unsigned bytes)
{
	while (bytes--)
		put8(w, (unsigned)(v >> (8 * bytes)) & 0xFF);
}

static void put_mem(struct wbuf *w, const void *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(w, ((const uint8_t *)s)[i]);
}

/* A-XDR tags used here (DLMS Green Book, Data ::= CHOICE) */
enum {
	T_NULL = 0x00,
	T_ARRAY = 0x01,
	T_STRUCT = 0x02,
	T_U32 = 0x06,
	T_OCTETS = 0x09,
	T_VISIBLE = 0x0A,
	T_DATETIME = 0x0C, /* Kamstrup's header form */
	T_INT8 = 0x0F,
	T_INT16 = 0x10,
	T_U16 = 0x12,
	T_ENUM = 0x16,
};

/* DLMS unit codes (IEC 62056-62 / Blue Book) */
enum { U_WH = 0x1E, U_VARH = 0x20, U_W = 0x1B, U_VAR = 0x1D, U_A = 0x21, U_V = 0x23 };

static void put_obis(struct wbuf *w, unsigned a, unsigned b, unsigned c, unsigned d, unsigned e)
{
	put8(w, T_OCTETS);
	put8(w, 6);
	put8(w, a);
	put8(w, b);
	put8(w, c);
	put8(w, d);
	put8(w, e);
	put8(w, 0xFF);
}

static void put_string(struct wbuf *w, unsigned tag, const char *s)
{
	put8(w, tag);
	put8(w, (unsigned)strlen(s));
	put_mem(w, s, strlen(s));
}

static void put_value(struct wbuf *w, unsigned tag, int64_t v)
{
	put8(w, tag);
	put_be(w, (uint64_t)v, tag == T_U32 ? 4 : 2);
}

/* array or structure header: tag and element count */
static void put_head(struct wbuf *w, unsigned tag, unsigned n)
{
	put8(w, tag);
	put8(w, n);
}

/* Aidon's {OBIS, visible-string} identity registers */
static void aidon_text(struct wbuf *w, unsigned a, unsigned b, unsigned c, unsigned d, unsigned e, const char *s)
{
	put_head(w, T_STRUCT, 2);
	put_obis(w, a, b, c, d, e);
	put_string(w, T_VISIBLE, s);
}

struct jbuf {
	char *p;
	size_t len, cap;
	bool over;
};

static void jprintf(struct jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jprintf(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	if (!j->p)
		return; /* nobody asked for the oracle */
	va_start(ap, fmt);
	int n = vsnprintf(j->p + j->len, j->len < j->cap ? j->cap - j->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->cap - j->len)
		j->over = true;
	else
		j->len += (size_t)n;
}

/* "name":m*10^e as a plain decimal without trailing zeros (-e digits at most). */
static void jnum(struct jbuf *j, const char *name, int64_t m, int e)
{
	uint64_t a = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
	const char *sign = m < 0 ? "-" : "";
	if (e >= 0) {
		for (; e > 0; e--)
			a *= 10;
		jprintf(j, ",\"%s\":%s%llu", name, sign, (unsigned long long)a);
		return;
	}
	uint64_t div = 1;
	for (int i = 0; i < -e; i++)
		div *= 10;
	uint64_t ip = a / div, fp = a % div;
	int digits = -e;
	while (digits > 0 && fp % 10 == 0 && fp) {
		fp /= 10;
		digits--;
	}
	if (fp == 0)
		jprintf(j, ",\"%s\":%s%llu", name, sign, (unsigned long long)ip);
	else
		jprintf(j, ",\"%s\":%s%llu.%0*llu", name, sign, (unsigned long long)ip, digits, (unsigned long long)fp);
}

static void jstr(struct jbuf *j, const char *name, const char *s)
{
	jprintf(j, ",\"%s\":\"%s\"", name, s); /* our strings are plain ASCII */
}

/* ---- clock --------------------------------------------------------------- */

/* EU daylight saving time (last Sunday of March to last Sunday of October),
 * judged on the local date, which is all Kamstrup's status bit needs. */
static bool eu_summer(const struct tm *tm)
{
	int mon = tm->tm_mon + 1;
	if (mon != 3 && mon != 10)
		return mon > 3 && mon < 10;
	int wday31 = (tm->tm_wday + 31 - tm->tm_mday) % 7; /* both months have 31 days */
	int last_sunday = 31 - wday31;
	return mon == 3 ? tm->tm_mday >= last_sunday : tm->tm_mday < last_sunday;
}

/* COSEM date-time (12 bytes): year(2) month day weekday(1=Mon) hour min sec
 * hundredths deviation(2, minutes, 0x8000 = unspecified) status. */
static void put_datetime(struct wbuf *w, int64_t t_ms, enum sim_make make, char *iso, size_t isocap)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	put_be(w, (uint64_t)(tm.tm_year + 1900), 2);
	put8(w, (unsigned)tm.tm_mon + 1);
	put8(w, (unsigned)tm.tm_mday);
	put8(w, tm.tm_wday == 0 ? 7 : (unsigned)tm.tm_wday);
	put8(w, (unsigned)tm.tm_hour);
	put8(w, (unsigned)tm.tm_min);
	put8(w, (unsigned)tm.tm_sec);
	put8(w, 0xFF); /* hundredths not specified, as all three makes send */
	if (make == SIM_AIDON) {
		put_be(w, 0x0000, 2); /* Aidon: deviation 0 (UTC) */
		put8(w, 0x00);
	} else {
		put_be(w, 0x8000, 2);
		put8(w, make == SIM_KAMSTRUP && eu_summer(&tm) ? 0x80 : 0x00);
	}
	snprintf(iso, isocap, "%04d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, make == SIM_AIDON ? "+00:00" : "");
}

/* A clock as an octet-string of 12 (09 0C <date-time>), as all three makes
 * send it in their lists (and Kaifa in the notification header). */
static void put_clock(struct wbuf *w, int64_t t_ms, enum sim_make make, char *iso, size_t isocap)
{
	put8(w, T_OCTETS);
	put8(w, 12);
	put_datetime(w, t_ms, make, iso, isocap);
}

/* ---- the lists ----------------------------------------------------------- */

/* The integers one list carries, in the make's resolution. */
struct regs {
	int64_t p[4];    /* P+ P- Q+ Q- in W / var */
	int64_t cur[3];  /* Aidon 0.1 A, Kaifa mA, Kamstrup 0.01 A */
	int64_t volt[3]; /* Aidon, Kaifa 0.1 V; Kamstrup V */
	int64_t e[4];    /* A+ A- R+ R-: Aidon, Kamstrup 10 Wh; Kaifa Wh */
};

/* Resolutions as powers of ten: [make] = {current, voltage, energy in kWh} */
static const int res_exp[][3] = {
    [SIM_AIDON] = {-1, -1, -2},
    [SIM_KAIFA] = {-3, -1, -3},
    [SIM_KAMSTRUP] = {-2, 0, -2},
};

static int64_t quantise(double v, int e)
{
	return llround(v * pow(10.0, -e));
}

static void sample(const struct sim_meter *m, struct regs *r)
{
	const int *x = res_exp[m->make];
	r->p[0] = llround(m->p_w);
	r->p[1] = 0;
	r->p[2] = m->q_var > 0 ? llround(m->q_var) : 0;
	r->p[3] = m->q_var < 0 ? llround(-m->q_var) : 0;
	for (unsigned i = 0; i < 3; i++) {
		double p = m->p_w * m->share[i], q = m->q_var * m->share[i];
		double amps = i < m->phases ? sqrt(p * p + q * q) / m->volt[i] : 0;
		r->cur[i] = quantise(amps, x[0]);
		r->volt[i] = quantise(m->volt[i], x[1]);
	}
	/* registers count whole units and never round up: mWh -> 10^(3+e) kWh units */
	double unit_mwh = pow(10.0, 6 + x[2]);
	for (unsigned i = 0; i < 4; i++)
		r->e[i] = (int64_t)floor(m->e_mwh[i] / unit_mwh);
}

static const char *const power_name[4] = {"active_power_import_w", "active_power_export_w", "reactive_power_import_var",
                                          "reactive_power_export_var"};
static const char *const energy_name[4] = {"active_energy_import_kwh", "active_energy_export_kwh",
                                           "reactive_energy_import_kvarh", "reactive_energy_export_kvarh"};
static const char *const cur_name[3] = {"current_l1_a", "current_l2_a", "current_l3_a"};
static const char *const volt_name[3] = {"voltage_l1_v", "voltage_l2_v", "voltage_l3_v"};

/* OBIS C of P+ P- Q+ Q- (x.7.0 power, x.8.0 energy), IL1-3, UL1-3 */
static const unsigned c_power[4] = {1, 2, 3, 4};
static const unsigned c_cur[3] = {31, 51, 71};
static const unsigned c_volt[3] = {32, 52, 72};

/* level 1: P+ only; 2: the instantaneous registers; 3: and the energies */
static void json_regs(struct jbuf *j, const struct sim_meter *m, const struct regs *r, int list)
{
	const int *x = res_exp[m->make];
	for (unsigned i = 0; i < (list == 1 ? 1u : 4u); i++)
		jnum(j, power_name[i], r->p[i], 0);
	if (list == 1)
		return;
	for (unsigned i = 0; i < m->phases; i++)
		jnum(j, cur_name[i], r->cur[i], x[0]);
	for (unsigned i = 0; i < m->phases; i++)
		jnum(j, volt_name[i], r->volt[i], x[1]);
	if (list == 3)
		for (unsigned i = 0; i < 4; i++)
			jnum(j, energy_name[i], r->e[i], x[2]);
}

/* Aidon {OBIS, value, {scaler, unit}} register */
static void aidon_reg(struct wbuf *w, unsigned a, unsigned c, unsigned d, unsigned tag, int64_t v, int scaler,
                      unsigned unit)
{
	put_head(w, T_STRUCT, 3);
	put_obis(w, a, 0, c, d, 0);
	put_value(w, tag, v);
	put_head(w, T_STRUCT, 2);
	put8(w, T_INT8);
	put8(w, (unsigned)scaler & 0xFF);
	put8(w, T_ENUM);
	put8(w, unit);
}

static void aidon_list(struct wbuf *w, const struct sim_meter *m, const struct regs *r, int list, int64_t t, char *iso,
                       size_t isocap)
{
	static const unsigned punit[4] = {U_W, U_W, U_VAR, U_VAR}, eunit[4] = {U_WH, U_WH, U_VARH, U_VARH};
	unsigned n = list == 1 ? 1 : 3 + 4 + 2 * m->phases + (list == 3 ? 5 : 0);
	put_head(w, T_ARRAY, n);
	if (list == 1) {
		aidon_reg(w, 1, 1, 7, T_U32, r->p[0], 0, U_W);
		return;
	}
	aidon_text(w, 1, 1, 0, 2, 129, makes[SIM_AIDON].version); /* list version */
	aidon_text(w, 0, 0, 96, 1, 0, m->id);                     /* meter id (GS1) */
	aidon_text(w, 0, 0, 96, 1, 7, m->model);                  /* meter type */
	for (unsigned i = 0; i < 4; i++)
		aidon_reg(w, 1, c_power[i], 7, T_U32, r->p[i], 0, punit[i]);
	for (unsigned i = 0; i < m->phases; i++)
		aidon_reg(w, 1, c_cur[i], 7, T_INT16, r->cur[i], -1, U_A);
	for (unsigned i = 0; i < m->phases; i++)
		aidon_reg(w, 1, c_volt[i], 7, T_U16, r->volt[i], -1, U_V);
	if (list != 3)
		return;
	put_head(w, T_STRUCT, 2);
	put_obis(w, 0, 0, 1, 0, 0); /* clock */
	put_clock(w, t, m->make, iso, isocap);
	for (unsigned i = 0; i < 4; i++)
		aidon_reg(w, 1, c_power[i], 8, T_U32, r->e[i], 1, eunit[i]);
}

static void kaifa_list(struct wbuf *w, const struct sim_meter *m, const struct regs *r, int list, int64_t t, char *iso,
                       size_t isocap)
{
	unsigned n = list == 1 ? 1 : 3 + 4 + 2 * m->phases + (list == 3 ? 5 : 0);
	put_head(w, T_STRUCT, n);
	if (list == 1) {
		put_value(w, T_U32, r->p[0]);
		return;
	}
	put_string(w, T_OCTETS, makes[SIM_KAIFA].version);
	put_string(w, T_OCTETS, m->id);
	put_string(w, T_OCTETS, m->model);
	for (unsigned i = 0; i < 4; i++)
		put_value(w, T_U32, r->p[i]);
	for (unsigned i = 0; i < m->phases; i++)
		put_value(w, T_U32, r->cur[i]);
	for (unsigned i = 0; i < m->phases; i++)
		put_value(w, T_U32, r->volt[i]);
	if (list != 3)
		return;
	put_clock(w, t, m->make, iso, isocap);
	for (unsigned i = 0; i < 4; i++)
		put_value(w, T_U32, r->e[i]);
}

static void kamstrup_pair(struct wbuf *w, unsigned c, unsigned d, unsigned tag, int64_t v)
{
	put_obis(w, 1, 1, c, d, 0);
	put_value(w, tag, v);
}

/* A one-phase Kamstrup keeps the element count: null-data for OBIS and value */
static void kamstrup_absent(struct wbuf *w)
{
	put8(w, T_NULL);
	put8(w, T_NULL);
}

static void kamstrup_list(struct wbuf *w, const struct sim_meter *m, const struct regs *r, int list, int64_t t,
                          char *iso, size_t isocap)
{
	put_head(w, T_STRUCT, list == 1 ? 25 : 35); /* 1 + 12 pairs (+ 5 pairs hourly), nulls keep the count */
	put_string(w, T_VISIBLE, makes[SIM_KAMSTRUP].version);
	put_obis(w, 1, 1, 0, 0, 5); /* meter id (GS1) */
	put_string(w, T_VISIBLE, m->id);
	put_obis(w, 1, 1, 96, 1, 1); /* meter type */
	put_string(w, T_VISIBLE, m->model);
	for (unsigned i = 0; i < 4; i++)
		kamstrup_pair(w, c_power[i], 7, T_U32, r->p[i]);
	for (unsigned i = 0; i < 3; i++)
		if (i < m->phases)
			kamstrup_pair(w, c_cur[i], 7, T_U32, r->cur[i]);
		else
			kamstrup_absent(w);
	for (unsigned i = 0; i < 3; i++)
		if (i < m->phases)
			kamstrup_pair(w, c_volt[i], 7, T_U16, r->volt[i]);
		else
			kamstrup_absent(w);
	if (list == 1)
		return;
	put_obis(w, 0, 1, 1, 0, 0); /* clock 0.1.1.0.0.255 */
	put_clock(w, t, m->make, iso, isocap);
	for (unsigned i = 0; i < 4; i++)
		kamstrup_pair(w, c_power[i], 8, T_U32, r->e[i]);
}

int sim_meter_emit(struct sim_meter *m, uint8_t *info, size_t cap, char *json, size_t jcap, int *list_out)
{
	int64_t t;
	int list = sim_meter_next_list(m, &t);
	advance(m, t);
	struct regs r;
	sample(m, &r);

	struct wbuf w = {info, 0, cap, false};
	struct jbuf j = {json, 0, jcap, false};
	char apdu_iso[ISO_MAX] = "", meter_iso[ISO_MAX] = "";
	static const uint8_t llc[3] = {0xE6, 0xE7, 0x00}; /* LLC: dst/src LSAP, quality (IEC 62056-46 6.4.4) */
	put_mem(&w, llc, sizeof llc);
	put8(&w, 0x0F);                                                     /* data-notification */
	put_be(&w, m->make == SIM_KAMSTRUP ? 0x00000000u : 0x40000000u, 4); /* long-invoke-id-and-priority */
	switch (m->make) {
	case SIM_AIDON: put8(&w, 0x00); break; /* no date-time */
	case SIM_KAIFA: put_clock(&w, t, m->make, apdu_iso, sizeof apdu_iso); break;
	case SIM_KAMSTRUP: /* the date-time type tag itself, as later Kamstrup firmware sends it */
		put8(&w, T_DATETIME);
		put_datetime(&w, t, m->make, apdu_iso, sizeof apdu_iso);
		break;
	}
	switch (m->make) {
	case SIM_AIDON: aidon_list(&w, m, &r, list, t, meter_iso, sizeof meter_iso); break;
	case SIM_KAIFA: kaifa_list(&w, m, &r, list, t, meter_iso, sizeof meter_iso); break;
	case SIM_KAMSTRUP: kamstrup_list(&w, m, &r, list, t, meter_iso, sizeof meter_iso); break;
	}

	jprintf(&j, "\"profile\":\"%s\"", makes[m->make].name);
	if (*apdu_iso)
		jstr(&j, "apdu_time", apdu_iso);
	if (list > 1 || m->make == SIM_KAMSTRUP) {
		jstr(&j, "list_version", makes[m->make].version);
		jstr(&j, "meter_id", m->id);
		jstr(&j, "meter_model", m->model);
	}
	json_regs(&j, m, &r, m->make == SIM_KAMSTRUP ? (list == 1 ? 2 : 3) : list);
	if (*meter_iso)
		jstr(&j, "meter_time", meter_iso);

	m->seq++;
	/* the next list */
	int64_t next = m->make == SIM_KAMSTRUP ? first_at_or_after(m->make, t + 1) : t + makes[m->make].period_ms;
	m->t_ms = next;
	*list_out = list;
	return w.over || j.over ? -1 : (int)w.len;
}
