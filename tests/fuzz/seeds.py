#!/usr/bin/env python3
"""seeds.py VECTORS OUTDIR - seed corpora for the fuzz entries, made at run time.

Converts the captures in VECTORS (hex text, P1 telegrams) into binary seed
files, one directory per entry under OUTDIR (build/..., never the repo).  The
input layout of each entry is described at the top of tests/fuzz/fuzz_*.c;
this script prepends the same header bytes.  Keys are named by index into
the distinct (encryption key, auth key) pairs of MANIFEST.tsv in row order,
exactly as fuzz.h's fuzz_keys_load() numbers them.

Frame layouts used to cut the captures (from the vectors README):
  HDLC     7E | format(2) | dst addr | src addr | control | HCS(2) | info | FCS(2) | 7E
  M-Bus    68 L L 68 | C A CI STSAP DTSAP data... | CS 16  (APDU = the data, segments concatenated)
  DLMS     [E6 E7 00] 0F invoke-id(4) date-time(00 | 09 0C +12 | 0C +12) body
Standard library only.
"""
import os
import re
import sys


def manifest(vectors):
    rows = []
    with open(os.path.join(vectors, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols and cols[0]:
                rows.append(cols + [""] * (len(header) - len(cols)))
    return rows


HEX32 = re.compile(r"^[0-9A-Fa-f]{32}$")


def key_table(rows):
    """Distinct (ek, ak) pairs in row order; ak None when absent."""
    keys = []
    for r in rows:
        if len(r) < 6 or not HEX32.match(r[4]):
            continue
        pair = (r[4].upper(), r[5].upper() if HEX32.match(r[5]) else None)
        if pair not in keys:
            keys.append(pair)
    return keys


def hex_lines(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(bytes.fromhex(line))
    return out


def addr_len(b, i):
    for k in range(4):
        if i + k < len(b) and b[i + k] & 1:
            return k + 1
    return 0


def hdlc_info(frame):
    """(info field, segmented) of one HDLC frame, or None."""
    if len(frame) < 9 or frame[0] != 0x7E or frame[1] >> 4 != 0xA:
        return None
    flen = (frame[1] & 7) << 8 | frame[2]
    da = addr_len(frame, 3)
    sa = addr_len(frame, 3 + da) if da else 0
    if not sa:
        return None
    hdr = 2 + da + sa + 1
    if flen + 1 > len(frame) or flen < hdr + 4:
        return None
    return frame[1 + hdr + 2 : 1 + flen - 2], bool(frame[1] & 0x08)


def mbus_apdu(frames):
    out = b""
    for fr in frames:
        if len(fr) < 11 or fr[0] != 0x68 or fr[3] != 0x68:
            return None
        ln = fr[1]
        out += fr[4 + 5 : 4 + ln]
    return out


def body_of(apdu):
    """The A-XDR notification-body of a plain data-notification, or None."""
    if apdu[:3] == b"\xe6\xe7\x00":
        apdu = apdu[3:]
    if len(apdu) < 6 or apdu[0] != 0x0F:
        return None
    p = 5
    if apdu[p] == 0x00:
        p += 1
    elif apdu[p] == 0x09 and apdu[p + 1] == 0x0C:
        p += 14
    elif apdu[p] == 0x0C:
        p += 13
    else:
        return None
    return apdu[p:] or None


class Out:
    def __init__(self, root):
        self.root = root
        self.count = {}

    def put(self, entry, name, data):
        d = os.path.join(self.root, entry)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        self.count[entry] = self.count.get(entry, 0) + 1


# Synthetic seeds (not captures): an op list for fuzz_reading (see its
# header), and configuration files for fuzz_config.
READING_SEEDS = {
    "synthetic-nums": bytes([0, 0]) + (94064_59).to_bytes(8, "big") + bytes([0xFE])
    + bytes([0, 7]) + (2301).to_bytes(8, "big") + bytes([0xFF])
    + bytes([4]) + (1).to_bytes(8, "big") + (300).to_bytes(2, "big"),
    "synthetic-texts": bytes([1, 1, 16]) + b"7359992890941742" + bytes([3, 5]) + b'a"\\\x01\xff'
    + bytes([2, 1, 0, 1, 8, 0, 255, 0]) + (5).to_bytes(8, "big") + bytes([0xFD, 30, 0]),
}

# The forms hexfile.h accepts, one per line (synthetic).
HEX_FORMS = b"""# comment
7e a0 2a 41 08 83
0x7E,0xA0,0x2A
0010: 7e a0 2a 41  |~.*A|
00000000  7e a0 2a 41 08 83 13 04  |~.*A....|
7E:A0:2A
"""

CONFIG_SEEDS = {
    "synthetic-minimal.conf": b"[meter han]\ndevice = /dev/ttyUSB0\n",
    "synthetic-full.conf": b"""# synthetic configuration for fuzzing
[daemon]
log_level = debug
status_interval = 10

[meter han]
device = /dev/ttyUSB0
baud = 2400
parity = even
profile = auto
scale = 1

[meter ser2net]
tcp = 127.0.0.1:2001
profile = kamstrup
retry_min = 500
retry_max = 30000

[mqtt]
host = 127.0.0.1
port = 1883
topic_prefix = hanmeter
homeassistant = yes
qos = 1
retain = no

[domoticz]
url = http://127.0.0.1:8080
interval = 60
idx_power = 3

[journal]
readings = 60

[jsonl]
path = -
""",
}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: seeds.py VECTORS OUTDIR")
    vectors, outdir = sys.argv[1], sys.argv[2]
    out = Out(outdir)
    for name, data in READING_SEEDS.items():
        out.put("fuzz_reading", name, data)
    out.put("fuzz_hexfile", "synthetic-forms", bytes([64, 2]) + HEX_FORMS)
    for name, data in CONFIG_SEEDS.items():
        out.put("fuzz_config", name, data)
    srcdir = os.environ.get("HM_SRCDIR", ".")
    for conf in ("etc/hanmeterd.conf",):
        p = os.path.join(srcdir, conf)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out.put("fuzz_config", os.path.basename(p), f.read())

    if not os.path.isfile(os.path.join(vectors, "MANIFEST.tsv")):
        print("seeds.py: no vectors at %s: synthetic seeds only" % vectors, file=sys.stderr)
        return
    rows = manifest(vectors)
    keys = key_table(rows)
    for r in rows:
        fname, fmt = r[0], r[3]
        path = os.path.join(vectors, fname)
        if not os.path.isfile(path):
            continue
        stem = os.path.splitext(fname)[0]
        ksel = 0
        if HEX32.match(r[4]):
            ksel = 1 + keys.index((r[4].upper(), r[5].upper() if HEX32.match(r[5]) else None))
        if fname.endswith(".txt"):
            with open(path, "rb") as f:
                tele = f.read()
            out.put("fuzz_p1", stem, bytes([255, 1]) + tele)
            continue
        with open(path, "rb") as f:
            out.put("fuzz_hexfile", stem, bytes([255, 3]) + f.read())
        lines = hex_lines(path)
        if not lines:
            continue
        apdus = []
        if fmt.startswith("hdlc") or fmt.startswith("raw-serial-stream"):
            stream = b"".join(lines)
            out.put("fuzz_hdlc", stem + "-bytes", bytes([7, 1, ksel]) + stream)
            out.put("fuzz_hdlc", stem + "-chunks", bytes([255, 2, ksel]) + stream)
            if fmt.startswith("hdlc"):
                infos = [hdlc_info(fr) for fr in lines]
                if all(infos):
                    if any(seg for _, seg in infos):
                        apdus.append(b"".join(i for i, _ in infos))
                    else:
                        apdus.extend(i for i, _ in infos)
        elif fmt.startswith("mbus"):
            out.put("fuzz_mbus", stem, bytes([255, 1, ksel]) + b"".join(lines))
            a = mbus_apdu(lines)
            if a:
                apdus.append(a)
        elif fmt.startswith("kmp"):
            for i, fr in enumerate(lines):
                out.put("fuzz_kmp", "%s-%d" % (stem, i + 1), fr)
            # fuzz_kmppoll: the ids the requests ask for, then every line as
            # the stream (requests are the echo an optical head hears)
            ids = b"".join(fr[4:6] for fr in lines if fr[:1] == b"\x80" and len(fr) >= 8 and fr[3] == 1)
            if ids:
                out.put("fuzz_kmppoll", stem, bytes([len(ids) // 2 - 1]) + ids + b"".join(lines))
        elif fmt.startswith("dlms-apdu") or fmt.startswith("dsmr-p1-encrypted"):
            apdus.extend(lines)
        for i, a in enumerate(apdus):
            n = "%s-%d" % (stem, i + 1)
            out.put("fuzz_apdu", n, bytes([ksel]) + a)
            plain = a[3:] if a[:3] == b"\xe6\xe7\x00" else a
            if plain[:1] == b"\xdb":
                out.put("fuzz_cipher", n, bytes([ksel]) + plain)
                if plain is a:  # a bare APDU (no LLC, as Smarty sends): twice, noise between, for the stream framer
                    out.put("fuzz_apdustream", n, bytes([255, 1, ksel]) + a + b"\x00\xdb\x07" + a)
            body = body_of(a)
            if body:
                out.put("fuzz_axdr", n, body)
    print("seeds: " + ", ".join("%s %d" % kv for kv in sorted(out.count.items())))


if __name__ == "__main__":
    main()
