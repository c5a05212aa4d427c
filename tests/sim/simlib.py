"""simlib.py - an independent reader of hanmeter-sim's output, for the tests.

Written from the specifications, not from our C code: CRC-16/X.25, HDLC
frame format type 3 (IEC 62056-46) without byte stuffing, A-XDR (IEC
62056-6-2) and the three Norwegian list layouts (NEK HAN documentation).
Python standard library only.
"""

import json
import os
import subprocess
import sys
from decimal import Decimal

HM_BUILD = os.environ.get("HM_BUILD", "")
SIM = os.path.join(HM_BUILD, "hanmeter-sim")
VECTORS = os.environ.get("VECTORS", "")

META = ("seq", "list", "stream", "segments", "corrupt")


class Tap:
    """ok / not ok lines and the exit status tests/run expects."""

    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, cond, name, detail=""):
        if cond:
            self.passed += 1
            print("ok - " + name)
        else:
            self.failed += 1
            print("not ok - " + name + (": " + detail if detail else ""))
        sys.stdout.flush()
        return cond

    def done(self):
        sys.exit(1 if self.failed else 0)


def skip(reason):
    """Exit 77, loudly; the last line is the reason (tests/run shows it)."""
    print("#" * 70)
    print("##  SKIPPED, NOT PASSED")
    print("#" * 70)
    print("SKIPPED: " + reason)
    sys.exit(77)


def need_sim():
    if not os.access(SIM, os.X_OK):
        skip("no simulator at %s (HM_BUILD not set or not built)" % SIM)


def _crc_table():
    table = []
    for b in range(256):
        crc = b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc_x25(data):
    """CRC-16/X.25: reflected 0x1021 (0x8408), init 0xFFFF, final XOR 0xFFFF."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


assert crc_x25(b"123456789") == 0x906E  # the catalogue check value


def run_sim(args, timeout=120):
    """Runs the simulator to stdout; returns (bytes, stderr text)."""
    p = subprocess.run([SIM] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("hanmeter-sim %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p.stdout, p.stderr.decode()


def read_expect(path):
    with open(path) as f:
        return [json.loads(line, parse_float=Decimal) for line in f if line.strip()]


class Frame:
    def __init__(self, raw):
        self.raw = raw
        self.format = raw[1] << 8 | raw[2]
        self.length = self.format & 0x07FF
        self.segmented = bool(self.format & 0x0800)
        i = 3
        self.addr = []
        for _ in range(2):  # destination, then source: bytes until one with bit 0 set
            a = bytearray()
            while True:
                a.append(raw[i])
                i += 1
                if a[-1] & 1:
                    break
            self.addr.append(bytes(a))
        self.control = raw[i]
        self.header = raw[1 : i + 1]
        self.info = raw[i + 3 : -3]


def find_frames(stream):
    """Scans a byte stream like a HAN reader: a flag, a type-3 format
    field, a length; the frame is good if both flags sit where the length
    says and HCS and FCS are right.  Returns (good frames, rejected starts)."""
    good, bad = [], []
    i = 0
    n = len(stream)
    while i < n:
        if stream[i] != 0x7E:
            i += 1
            continue
        if i + 3 > n or stream[i + 1] >> 4 != 0xA:
            i += 1
            continue
        length = (stream[i + 1] << 8 | stream[i + 2]) & 0x07FF
        end = i + 1 + length  # index of the closing flag
        if length < 9 or end >= n or stream[end] != 0x7E:
            bad.append(i)
            i += 1
            continue
        body = stream[i + 1 : end]
        try:
            f = Frame(stream[i : end + 1])
        except IndexError:
            bad.append(i)
            i += 1
            continue
        hl = len(f.header)
        hcs = body[hl] | body[hl + 1] << 8
        fcs = body[-2] | body[-1] << 8
        if crc_x25(body[:hl]) != hcs or crc_x25(body[:-2]) != fcs:
            bad.append(i)
            i += 1
            continue
        good.append(f)
        i = end + 1  # the closing flag is not shared with the next frame
    return good, bad


def messages(frames):
    """Reassembles segmented messages: yields (info, [frames])."""
    out, info, parts = [], b"", []
    for f in frames:
        info += f.info
        parts.append(f)
        if not f.segmented:
            out.append((info, parts))
            info, parts = b"", []
    return out


# ---- A-XDR -------------------------------------------------------------------

FIXED = {3: 1, 5: 4, 6: 4, 15: 1, 16: 2, 17: 1, 18: 2, 20: 8, 21: 8, 22: 1, 23: 4, 24: 8, 25: 12, 26: 5, 27: 4}
SIGNED = {5, 15, 16, 20}


def axdr(b, i=0):
    """One A-XDR value at b[i:] -> ((tag, value), next index).
    Arrays/structures: a list of elements; strings: bytes; integers: int."""
    tag = b[i]
    i += 1
    if tag == 0:
        return (0, None), i
    if tag in (1, 2):
        n = b[i]
        i += 1
        items = []
        for _ in range(n):
            v, i = axdr(b, i)
            items.append(v)
        return (tag, items), i
    if tag in (9, 10, 12):
        n = b[i]
        i += 1
        return (tag, bytes(b[i : i + n])), i + n
    if tag in FIXED:
        n = FIXED[tag]
        raw = bytes(b[i : i + n])
        if len(raw) != n:
            raise ValueError("truncated")
        if tag in (23, 24, 25, 26, 27):
            return (tag, raw), i + n
        return (tag, int.from_bytes(raw, "big", signed=tag in SIGNED)), i + n
    raise ValueError("tag %d" % tag)


def notification(info):
    """LLC + data-notification -> (invoke id, header date-time bytes or None,
    header date-time form, body (tag, value))."""
    assert info[:3] == b"\xe6\xe7\x00", "LLC"
    assert info[3] == 0x0F, "data-notification"
    invoke = int.from_bytes(info[4:8], "big")
    i = 8
    if info[i] == 0x00:
        dt, form, i = None, "none", i + 1
    elif info[i] == 0x09 and info[i + 1] == 12:
        dt, form, i = info[i + 2 : i + 14], "09 0C", i + 14
    elif info[i] == 0x0C:
        dt, form, i = info[i + 1 : i + 13], "0C", i + 13
    else:
        raise ValueError("date-time form %02x" % info[i])
    body, end = axdr(info, i)
    if end != len(info):
        raise ValueError("%d bytes after the body" % (len(info) - end))
    return invoke, dt, form, body


def shape(v):
    """The layout of a value with its measurements left out: tags, OBIS
    codes, string lengths of identity strings, scalers and units."""
    tag, val = v
    if tag in (1, 2):
        return (tag, tuple(shape(x) for x in val))
    if tag == 9 and len(val) == 6:
        return (tag, "obis", val.hex())
    if tag == 9 and len(val) == 12:
        return (tag, "date-time")
    if tag in (9, 10):
        return (tag, "string")
    if tag in (15, 22):  # Aidon's scaler (integer) and unit (enum)
        return (tag, val)
    return (tag,)


def datetime_text(dt):
    """COSEM date-time -> YYYY-MM-DDThh:mm:ss[+hh:mm] (offset = -deviation)."""
    year = dt[0] << 8 | dt[1]
    s = "%04d-%02d-%02dT%02d:%02d:%02d" % (year, dt[2], dt[3], dt[5], dt[6], dt[7])
    dev = dt[9] << 8 | dt[10]
    if dev != 0x8000:
        dev = dev - 0x10000 if dev & 0x8000 else dev
        off = -dev
        s += "%s%02d:%02d" % ("+" if off >= 0 else "-", abs(off) // 60, abs(off) % 60)
    return s


def scaled(m, e):
    return Decimal(m).scaleb(e)


NAMES = {  # OBIS C.D -> field
    (1, 7): "active_power_import_w", (2, 7): "active_power_export_w",
    (3, 7): "reactive_power_import_var", (4, 7): "reactive_power_export_var",
    (31, 7): "current_l1_a", (51, 7): "current_l2_a", (71, 7): "current_l3_a",
    (32, 7): "voltage_l1_v", (52, 7): "voltage_l2_v", (72, 7): "voltage_l3_v",
    (1, 8): "active_energy_import_kwh", (2, 8): "active_energy_export_kwh",
    (3, 8): "reactive_energy_import_kvarh", (4, 8): "reactive_energy_export_kvarh",
}


def decode(info):
    """Decodes one simulated list into canonical fields, independently of
    the C decoder.  Values as Decimal in the units of vectors/README.md."""
    invoke, dt, form, body = notification(info)
    out = {}
    if dt is not None:
        out["apdu_time"] = datetime_text(dt)
    tag, items = body
    if form == "none":  # Aidon: array of {OBIS, value[, {scaler, unit}]}
        out["profile"] = "aidon"
        for st in items:
            el = st[1]
            obis = el[0][1]
            if obis == bytes([1, 1, 0, 2, 129, 255]):
                out["list_version"] = el[1][1].decode()
            elif obis == bytes([0, 0, 96, 1, 0, 255]):
                out["meter_id"] = el[1][1].decode()
            elif obis == bytes([0, 0, 96, 1, 7, 255]):
                out["meter_model"] = el[1][1].decode()
            elif obis == bytes([0, 0, 1, 0, 0, 255]):
                out["meter_time"] = datetime_text(el[1][1])
            else:
                scaler, unit = el[2][1][0][1], el[2][1][1][1]
                name = NAMES[(obis[2], obis[3])]
                e = scaler - 3 if unit in (0x1E, 0x20) else scaler  # Wh -> kWh
                out[name] = scaled(el[1][1], e)
    elif form == "09 0C":  # Kaifa: bare values in a fixed order
        out["profile"] = "kaifa"
        vals = [v for _, v in items]
        if len(vals) == 1:
            out["active_power_import_w"] = Decimal(vals[0])
        else:
            ph = 3 if len(vals) in (13, 18) else 1
            out["list_version"] = vals[0].decode()
            out["meter_id"] = vals[1].decode()
            out["meter_model"] = vals[2].decode()
            names = ["active_power_import_w", "active_power_export_w", "reactive_power_import_var",
                     "reactive_power_export_var"]
            for k, n in enumerate(names):
                out[n] = Decimal(vals[3 + k])
            for k in range(ph):
                out["current_l%d_a" % (k + 1)] = scaled(vals[7 + k], -3)  # mA
                out["voltage_l%d_v" % (k + 1)] = scaled(vals[7 + ph + k], -1)  # 0.1 V
            if len(vals) > 7 + 2 * ph:
                j = 7 + 2 * ph
                out["meter_time"] = datetime_text(vals[j])
                for k, n in enumerate(["active_energy_import_kwh", "active_energy_export_kwh",
                                       "reactive_energy_import_kvarh", "reactive_energy_export_kvarh"]):
                    out[n] = scaled(vals[j + 1 + k], -3)  # Wh
    else:  # Kamstrup: version, then OBIS/value pairs (null pairs = absent phase)
        out["profile"] = "kamstrup"
        out["list_version"] = items[0][1].decode()
        k = 1
        while k < len(items):
            o, v = items[k], items[k + 1]
            k += 2
            if o[0] == 0:
                continue
            obis = o[1]
            if obis[2:5] == bytes([0, 0, 5]):
                out["meter_id"] = v[1].decode()
            elif obis[2:5] == bytes([96, 1, 1]):
                out["meter_model"] = v[1].decode()
            elif obis[2:5] == bytes([1, 0, 0]):
                out["meter_time"] = datetime_text(v[1])
            else:
                name = NAMES[(obis[2], obis[3])]
                # current 0.01 A, voltage 1 V, energy 0.01 kWh, power W
                e = -2 if obis[2] in (31, 51, 71) or obis[3] == 8 else 0
                out[name] = scaled(v[1], e)
    return out


def values_equal(expected, got):
    """Every non-meta member of expected equals got's (numbers as decimals).
    Returns a list of differences."""
    diff = []
    for k, v in expected.items():
        if k in META:
            continue
        if k not in got:
            diff.append("%s missing" % k)
        elif isinstance(v, (int, Decimal)) and not isinstance(v, bool):
            if Decimal(str(got[k])) != Decimal(v):
                diff.append("%s: want %s got %s" % (k, v, got[k]))
        elif got[k] != v:
            diff.append("%s: want %r got %r" % (k, v, got[k]))
    return diff


def hex_vector(name):
    """The data lines of a .hex vector as bytes."""
    with open(os.path.join(VECTORS, name)) as f:
        return [bytes.fromhex(line.strip()) for line in f if line.strip() and not line.startswith("#")]
