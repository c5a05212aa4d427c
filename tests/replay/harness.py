"""harness.py - the replay harness shared by tests/replay/*.test (the gpsfake idea).

Real parts only, all on 127.0.0.1:
  Broker      a real mosquitto on a free port, own config, no persistence;
              can be killed and restarted on the same port
  Subscriber  mosquitto_sub -F %j on '#', every message kept with its retain flag
  TcpMeter    a listening socket the daemon's tcp source connects to (ser2net
              style); frames from $VECTORS are written to it
  Daemon      hanmeterd -n with a test config and its own NOTIFY_SOCKET;
              start() returns once READY=1 arrived
  Domoticz    a Domoticz JSON API stand-in (http.server) that checks requests
              the way Domoticz takes them

Expected values come from $VECTORS/MANIFEST.tsv.  Tests print TAP-like
"ok - name" / "not ok - name" lines; skip() exits 77 with a loud message.
Python 3 standard library only.
"""

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BUILD = os.environ.get("HM_BUILD", "")
VECTORS = os.environ.get("VECTORS", "")
FAILED = []
PASSED = []


# ---- reporting -----------------------------------------------------------

def skip(why):
    """Exits 77; the last line is the reason (tests/run shows it)."""
    print("#" * 70)
    print("SKIPPED, not passed: %s" % why)
    sys.exit(77)


def check(name, cond, detail=""):
    """Records one test case; detail is printed when it fails."""
    if cond:
        PASSED.append(name)
        print("ok - %s" % name)
    else:
        FAILED.append(name)
        print("not ok - %s%s" % (name, (": " + detail) if detail else ""))
    sys.stdout.flush()
    return cond


def finish():
    print("# %d passed, %d failed" % (len(PASSED), len(FAILED)))
    sys.exit(1 if FAILED else 0)


def require_tools():
    """Skips (77) unless the daemon, mosquitto and the vectors are there."""
    if not VECTORS or not os.path.isfile(os.path.join(VECTORS, "MANIFEST.tsv")):
        skip("VECTORS not found ($VECTORS=%r): real-capture replay tests" % VECTORS)
    for tool in ("mosquitto", "mosquitto_sub", "mosquitto_pub"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin"]):
            skip("%s is not installed (make deps)" % tool)
    daemon = os.path.join(BUILD, "hanmeterd")
    if not os.access(daemon, os.X_OK):
        skip("%s is not built" % daemon)
    # A daemon without the sinks (or the placeholder main) cannot run these.
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("[meter m]\ntcp = 127.0.0.1:9\n[mqtt]\nhost = 127.0.0.1\n")
    try:
        r = subprocess.run([daemon, "-t", "-c", f.name], capture_output=True, text=True, timeout=20)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        skip("hanmeterd cannot check a config with [mqtt] (%s): not complete yet" %
             (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, step=0.05):
    """Polls pred() until it is true or timeout seconds passed; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


# ---- vectors ---------------------------------------------------------------

def manifest():
    """{file: row dict} from MANIFEST.tsv."""
    rows = {}
    with open(os.path.join(VECTORS, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                cols = line.rstrip("\n").split("\t")
                rows[cols[0]] = dict(zip(header, cols + [""] * (len(header) - len(cols))))
    return rows


def expected(row):
    """expected_values as {name: text}; only plain single-reading rows."""
    out = {}
    for part in row["expected_values"].split("; "):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v
    return out


def hex_frames(name):
    """The data lines of a .hex vector as bytes, one per line."""
    frames = []
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                frames.append(bytes.fromhex(line))
    return frames


def make_certs(work):
    """A throwaway CA and a server certificate for "localhost": (ca, cert, key).
    Also client.pem / client.key, a client certificate from the same CA."""
    def ssl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)
    ca_key, ca, key, csr, crt = (os.path.join(work, n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
        "-subj", "/CN=hanmeter test CA")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(work, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    ssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
        "-extfile", ext)
    # a client certificate from the same CA (for require_certificate)
    ckey, ccsr, ccrt = (os.path.join(work, n) for n in ("client.key", "client.csr", "client.pem"))
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", ckey, "-out", ccsr, "-subj", "/CN=hanmeterd")
    ssl("x509", "-req", "-in", ccsr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", ccrt, "-days", "2")
    # mosquitto started as root runs as user mosquitto: let it read them
    # (throwaway keys in a throwaway directory)
    os.chmod(work, 0o755)
    for f in (ca, crt, key, ckey, ccrt):
        os.chmod(f, 0o644)
    return ca, crt, key


# ---- mosquitto ---------------------------------------------------------------

def localhost_has_v6(port):
    """True if "localhost" resolves to ::1 here and ::1 port is free to listen on."""
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)}
    except OSError:
        return False
    if "::1" not in addrs:
        return False
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", port))
        s.close()
        return True
    except OSError:
        return False


class Broker:
    """extra: more lines for the listener (TLS files, password_file);
    client_args: what mosquitto_pub/_sub then need (--cafile, -u, -P)."""

    def __init__(self, workdir, extra="allow_anonymous true\n", client_args=()):
        self.port = free_port()
        self.client_args = list(client_args)
        self.conf = os.path.join(workdir, "mosquitto.conf")
        self.log = os.path.join(workdir, "mosquitto.log")
        # Where "localhost" also means ::1 (nss-myhostname in a chroot without
        # /etc/hosts, or a dual-stack hosts file), a broker reached by that
        # name must answer there too, as a real dual-stack broker would: the
        # TLS path connects by name and libmosquitto takes its first address.
        per_listener = ("cafile", "capath", "certfile", "keyfile", "require_certificate")
        tls = "".join(l + "\n" for l in extra.splitlines() if l.split(" ")[0] in per_listener)
        v6 = "listener %d ::1\n%s" % (self.port, tls) if localhost_has_v6(self.port) else ""
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n%s%spersistence false\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n" % (self.port, extra, v6))
        self.proc = None

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=logf, stderr=logf)
        logf.close()

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False
        if not wait_for(up, 10):
            raise RuntimeError("mosquitto did not start on port %d" % self.port)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def publish(self, topic, payload, retain=False):
        cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-m", payload]
        cmd += self.client_args
        subprocess.run(cmd + (["-r"] if retain else []), check=True, timeout=10)


class Subscriber:
    """mosquitto_sub on '#'; messages kept as dicts {topic, payload, retain}."""

    def __init__(self, broker, topics=("#",)):
        self.broker = broker
        self.topics = topics
        self.msgs = []
        self.lock = threading.Lock()
        self.proc = None

    def start(self):
        # MQTT 5 retain-as-published: live messages keep their retain flag
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-F", "%j", "-q", "1",
               "-V", "5", "--retain-as-published"] + self.broker.client_args
        for t in tuple(self.topics) + ("harness/marker/#",):
            cmd += ["-t", t]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        # proof of subscription: a marker that must come back
        # (published again until seen: the first may beat the SUBSCRIBE)
        marker = "harness/marker/%d" % id(self)
        for _ in range(50):
            self.broker.publish(marker, "x")
            if wait_for(lambda: self.find(lambda m: m["topic"] == marker), 0.2):
                return
        raise RuntimeError("mosquitto_sub did not subscribe")

    def _read(self, proc):
        for line in proc.stdout:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            msg = {"topic": j.get("topic"), "payload": j.get("payload"), "retain": bool(j.get("retain"))}
            with self.lock:
                self.msgs.append(msg)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def find(self, pred):
        with self.lock:
            return [m for m in self.msgs if pred(m)]

    def topic(self, topic):
        return self.find(lambda m: m["topic"] == topic)

    def last(self, topic):
        got = self.topic(topic)
        return got[-1] if got else None

    def clear(self):
        with self.lock:
            self.msgs = []


# ---- a ser2net-like meter ------------------------------------------------------

class TcpMeter:
    """Listens on a free port; the daemon's tcp source connects here."""

    def __init__(self):
        self.port = free_port()
        self.srv = None
        self.conn = None

    def listen(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(1)

    def accept(self, timeout=20):
        self.srv.settimeout(timeout)
        self.conn, _ = self.srv.accept()
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        self.conn.sendall(data)

    def drop(self):
        """Closes the peer and stops listening (the meter goes away)."""
        for s in (self.conn, self.srv):
            if s:
                s.close()
        self.conn = self.srv = None


# ---- hanmeterd -----------------------------------------------------------------

class Daemon:
    def __init__(self, workdir, config_text, name="hanmeterd"):
        self.workdir = workdir
        self.conf = os.path.join(workdir, name + ".conf")
        self.log = os.path.join(workdir, name + ".log")
        # derived state (hourly lists) in the work directory, never in
        # /var/lib/hanmeterd: a [daemon] state_dir unless the test sets one
        if "state_dir" not in config_text:
            state_dir = os.path.join(workdir, name + ".state")
            os.makedirs(state_dir, exist_ok=True)
            line = "state_dir = %s\n" % state_dir
            # into the test's own [daemon] section if it has one (a second
            # [daemon] would be a duplicate section, exit 78)
            m = re.search(r"^\[daemon\][ \t]*\n", config_text, re.M)
            if m:
                config_text = config_text[:m.end()] + line + config_text[m.end():]
            else:
                config_text = "[daemon]\n" + line + "\n" + config_text
        with open(self.conf, "w") as f:
            f.write(config_text)
        os.chmod(self.conf, 0o600)
        self.proc = None
        self.notify_path = os.path.join(workdir, name + ".notify")

    def start(self, timeout=30):
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(self.notify_path)
        ns.settimeout(timeout)
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([os.path.join(BUILD, "hanmeterd"), "-n", "-D", "-c", self.conf],
                                     stdout=logf, stderr=logf, env=env)
        logf.close()
        try:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                msg = ns.recv(4096).decode(errors="replace")
                if "READY=1" in msg.split("\n"):
                    return True
        except socket.timeout:
            pass
        finally:
            ns.close()
        return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()


# ---- Domoticz stand-in ------------------------------------------------------------

class Domoticz:
    """Answers /json.htm?type=command&param=udevice like Domoticz does.

    Known devices: {idx: kind}; kinds "p1", "power", "voltage", "current",
    "heat" (an Electric instant+counter device used for heat), "temp".
    Every request is recorded with a verdict: "" if Domoticz would take it,
    else why not.  Wrong credentials get 401, an unknown idx or a malformed
    svalue gets {"status":"ERR"} (as Domoticz answers)."""

    SVALUE_FIELDS = {"p1": 6, "power": 2, "voltage": 1, "current": 3, "heat": 2, "temp": 1}

    def __init__(self, devices, user="user", password="secret", tls=None):
        self.devices = devices
        self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer._handle(self)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:  # (certfile, keyfile): HTTPS
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def _verdict(self, h, url, q):
        if h.headers.get("Authorization") != self.auth:
            return 401, "bad or missing basic auth"
        if url.path != "/json.htm":
            return 404, "path %s" % url.path
        one = {k: v[0] for k, v in q.items() if len(v) == 1}
        if one.get("type") != "command" or one.get("param") != "udevice":
            return 200, "not type=command&param=udevice"
        try:
            idx = int(one.get("idx", ""))
        except ValueError:
            return 200, "idx not a number"
        if idx not in self.devices:
            return 200, "unknown idx %d" % idx
        if one.get("nvalue") != "0":
            return 200, "nvalue %r" % one.get("nvalue")
        parts = one.get("svalue", "").split(";")
        kind = self.devices[idx]
        if len(parts) != self.SVALUE_FIELDS[kind]:
            return 200, "%s svalue %r: want %d fields" % (kind, one.get("svalue"), self.SVALUE_FIELDS[kind])
        for p in parts:
            try:
                Decimal(p)
            except Exception:
                return 200, "svalue part %r not a number" % p
        if kind in ("p1", "power", "heat") and any(not p.lstrip("-").isdigit() for p in parts):
            return 200, "%s svalue %r: counters and powers are integers" % (kind, one.get("svalue"))
        return 200, ""

    def _handle(self, h):
        url = urlsplit(h.path)
        q = parse_qs(url.query, keep_blank_values=True)
        code, why = self._verdict(h, url, q)
        rec = {"path": url.path, "query": {k: v[0] for k, v in q.items()}, "code": code, "why": why,
               "time": time.monotonic()}
        with self.lock:
            self.requests.append(rec)
        if code != 200:
            body = b"Unauthorized" if code == 401 else b"Not found"
        else:
            body = json.dumps({"status": "ERR" if why else "OK", "title": "Update Device"}).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json" if code == 200 else "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def got(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---- comparing readings -------------------------------------------------------------

def compare_state(payload, exp, meter):
    """Differences between a state message and MANIFEST values (list of text)."""
    try:
        j = json.loads(payload, parse_float=Decimal)
    except ValueError as e:
        return ["not JSON (%s): %r" % (e, payload[:200])]
    diffs = []
    if j.get("meter") != meter:
        diffs.append("meter %r, want %r" % (j.get("meter"), meter))
    for k, v in exp.items():
        if k not in j:
            diffs.append("%s missing" % k)
            continue
        got = j[k]
        if isinstance(got, str):
            if got != v:
                diffs.append("%s=%r, want %r" % (k, got, v))
        elif isinstance(got, bool) or Decimal(str(got)) != Decimal(v):
            diffs.append("%s=%s, want %s" % (k, got, v))
    return diffs
