"""harness.py - the pieces the benchmark scripts share (python3 standard
library only): a real mosquitto on a free loopback port, the load
generator (loadgen.c), the subscriber (mqttsub.c), hanmeterd with a
generated configuration, and the /proc figures of a process.

Figures come from the kernel, not from the programs measured:
  CPU     /proc/PID/stat utime+stime (clock ticks, all threads, exited
          ones included) and /proc/PID/schedstat (ns on the CPU, main
          thread: every thread hanmeterd runs its loop on)
  memory  /proc/PID/smaps_rollup Rss and Pss (kB)
  wakeups /proc/PID/status voluntary + involuntary context switches
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("HM_BUILD", os.path.abspath("build/rel"))
TICK = os.sysconf("SC_CLK_TCK")
NOFILE = 65536  # the unit's LimitNOFILE=


def raise_nofile(n=NOFILE):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ns(pid):
    """(ticks-based ns of all threads, schedstat ns of the main thread)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    with open(f"/proc/{pid}/schedstat") as f:
        sched = int(f.read().split()[0])
    return ticks * 1e9 / TICK, sched


def mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Anonymous"):
                out[k] = int(v.split()[0])
    return out


def machine_busy_ns():
    """CPU time all cores spent not idle since boot (/proc/stat), ns."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) * 1e9 / TICK  # minus idle, iowait


def ctx_switches(pid):
    n = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
    return n


def median(xs):
    s = sorted(xs)
    if not s:
        return float("nan")
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def pct(xs, p):
    s = sorted(xs)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def read_recs(path):
    """{(stream, seq): ns} from a "<IIQ" log."""
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    for st, seq, ns in struct.iter_unpack("<IIQ", data):
        out.setdefault((st, seq), ns)
    return out


class Proc:
    """A child process whose stdout lines are read on demand."""

    def __init__(self, argv, name, logdir, stdin=None):
        self.name = name
        self.err = open(os.path.join(logdir, name + ".err"), "w")
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1)
        self.pid = self.p.pid

    def expect(self, prefix, timeout=60):
        """The next stdout line starting with prefix (others skipped)."""
        import select
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([self.p.stdout], [], [], max(0.01, end - time.monotonic()))
            if not r:
                continue
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} exited ({self.p.poll()}) waiting for '{prefix}'")
            if line.startswith(prefix):
                return line.split()
        raise RuntimeError(f"{self.name}: no '{prefix}' within {timeout} s")

    def stop(self, timeout=20):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()
        return self.p.returncode


class Broker:
    """A real mosquitto on a port below the ephemeral range (32768..): the
    machine is shared, and a port from bind(0) may be taken by another
    program's listener between our check and mosquitto's bind; mosquitto
    then exits and, worse, the readiness probe reaches the other listener
    (seen: the daemon published into somebody else's broker).  So the
    probe also checks that our mosquitto is alive, and a port it could not
    take is skipped."""

    def __init__(self, logdir):
        import random
        self.log = open(os.path.join(logdir, "mosquitto.err"), "w")
        for _ in range(50):
            self.port = random.randrange(19000, 20000)
            try:  # free now?
                s = socket.socket()
                s.bind(("127.0.0.1", self.port))
                s.close()
            except OSError:
                continue
            conf = os.path.join(logdir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 0\nmax_inflight_messages 0\nset_tcp_nodelay true\n"
                        "log_dest stderr\nlog_type error\n")
            self.p = subprocess.Popen(["mosquitto", "-c", conf], stdout=self.log, stderr=self.log)
            self.pid = self.p.pid
            end = time.monotonic() + 10
            while time.monotonic() < end and self.p.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                    time.sleep(0.05)
                    if self.p.poll() is None:
                        return
                except OSError:
                    time.sleep(0.05)
            self.p.kill()
            self.p.wait()
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        self.p.terminate()
        self.p.wait()
        self.log.close()


def write_config(path, ports, mqtt_port, per_value=False, extra_meter="", qos=1):
    with open(path, "w") as f:
        f.write("[daemon]\nlog_level = %s\n\n" % os.environ.get("HM_BENCH_LOG_LEVEL", "warning"))
        f.write(f"[mqtt]\nhost = 127.0.0.1\nport = {mqtt_port}\ntopic_prefix = bench\n"
                f"homeassistant = no\nclient_id = hanmeterd-bench\nqos = {qos}\n")
        if per_value:
            f.write("per_value = yes\n")
        f.write("\n")
        for i, port in enumerate(ports):
            f.write(f"[meter m{i}]\ntcp = 127.0.0.1:{port}\n{extra_meter}\n")
    os.chmod(path, 0o640)


class Daemon:
    def __init__(self, conf, logdir, nofile=None):
        self.err = open(os.path.join(logdir, "hanmeterd.err"), "w")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)

        def limits():
            import resource
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            n = min(nofile or NOFILE, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))

        self.p = subprocess.Popen([os.path.join(BUILD, "hanmeterd"), "-n", "-c", conf], stdout=self.err,
                                  stderr=self.err, env=env, preexec_fn=limits)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()
        return self.p.returncode


def tmpdir():
    return tempfile.mkdtemp(prefix="hm-bench-")


def say(*a):
    print(*a, flush=True)
    sys.stdout.flush()


def settle(pid, quiet=0.02, step=0.2, timeout=60):
    """Waits until pid used under `quiet` of a core over `step` seconds
    (the daemon's start-up work: connects, availability messages)."""
    end = time.monotonic() + timeout
    last = cpu_ns(pid)[1]
    while time.monotonic() < end:
        time.sleep(step)
        now = cpu_ns(pid)[1]
        if (now - last) / (step * 1e9) < quiet:
            return
        last = now


def drain(sub, expect_min, settle=0.3, timeout=30):
    """Asks the subscriber for its count until it reaches expect_min and
    stops moving for settle seconds (or timeout).  Returns the count."""
    end = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < end:
        sub.p.send_signal(signal.SIGUSR1)
        n = int(sub.expect("count", 10)[1])
        if n != last:
            last, since = n, time.monotonic()
        elif n >= expect_min or time.monotonic() - since > 2:
            if time.monotonic() - since >= settle:
                break
        time.sleep(0.05)
    return last


def run_pipeline(streams, speed=1.0, fast=False, duration=10.0, count=0, per_value=False, qos=1, sample=None,
                 idle=0.0, label=""):
    """One run: broker, subscriber, loadgen with `streams` meters, hanmeterd.
    Returns a dict of figures.  sample(daemon_pid, frames_so_far) is
    called once mid-run when given (the footprint's RSS probe)."""
    d = tmpdir()
    broker = Broker(d)
    sub = lg = dm = None
    try:
        sub = Proc([os.path.join(BUILD, "bench", "mqttsub"), "-p", str(broker.port), "-t", "bench/#", "-l",
                    os.path.join(d, "sub.log")], "mqttsub", d)
        sub.expect("subscribed")
        argv = [os.path.join(BUILD, "bench", "loadgen"), "-n", str(streams), "-p", os.path.join(d, "ports"), "-l",
                os.path.join(d, "send.log"), "-d", str(duration)]
        argv += ["-f"] if fast else ["-s", str(speed)]
        if count:
            argv += ["-c", str(count)]
        lg = Proc(argv, "loadgen", d)
        lg.expect("ports")
        with open(os.path.join(d, "ports")) as f:
            ports = [int(x) for x in f]
        conf = os.path.join(d, "hanmeterd.conf")
        write_config(conf, ports, broker.port, per_value=per_value, qos=qos)
        t_launch = time.monotonic()
        dm = Daemon(conf, d)
        lg.expect("connected", 300)
        t_connected = time.monotonic() - t_launch
        settle(dm.pid)
        sub.p.send_signal(signal.SIGUSR1)
        before = int(sub.expect("count", 10)[1])  # availability and status messages of the start
        lg.p.send_signal(signal.SIGUSR1)
        lg.expect("started", 10)
        procs = {"hanmeterd": dm.pid, "mosquitto": broker.pid, "loadgen": lg.pid, "mqttsub": sub.pid}
        c0 = {k: cpu_ns(v) for k, v in procs.items()}
        busy0 = machine_busy_ns()
        x0 = ctx_switches(dm.pid)
        m0 = mem_kb(dm.pid)
        t0 = time.monotonic()
        sampled = None
        if sample:
            sampled = sample(dm.pid, lg, sub)
        done = lg.expect("done", duration + 120)
        t1 = time.monotonic()
        sent = int(done[1])
        got = drain(sub, before + (sent if not per_value else sent * 2)) - before
        t2 = time.monotonic()
        c2 = {k: cpu_ns(v) for k, v in procs.items()}
        busy2 = machine_busy_ns()
        x2 = ctx_switches(dm.pid)
        m2 = mem_kb(dm.pid)
        idle_fig = None
        if idle:
            ci, xi = cpu_ns(dm.pid), ctx_switches(dm.pid)
            time.sleep(idle)
            ce, xe = cpu_ns(dm.pid), ctx_switches(dm.pid)
            idle_fig = {"seconds": idle, "cpu_percent": (ce[1] - ci[1]) / (idle * 1e9) * 100,
                        "wakeups_per_s": (xe - xi) / idle}
        alive = dm.alive()
    finally:
        for p in (dm, lg, sub):
            if p:
                p.stop()
        broker.stop()
    sends = read_recs(os.path.join(d, "send.log"))
    recv = read_recs(os.path.join(d, "sub.log"))
    lat = [(ns - sends[k]) / 1e6 for k, ns in recv.items() if k in sends]
    frames = len(recv)
    # Delivered frames over the time from the first frame written to the
    # last reading received: the rate the whole pipeline sustained (with
    # --fast the sockets and libmosquitto's queue fill faster than that).
    span = (max(recv.values()) - min(sends.values())) / 1e9 if recv and sends else 0
    window = span if span > 0 else t1 - t0
    cpu = {k: (c2[k][1] - c0[k][1]) / 1e3 for k in procs}  # us, schedstat (main thread)
    # what the rest of the machine (other users, other tests) used meanwhile, in % of one core
    ours = sum((c2[k][0] - c0[k][0]) for k in procs)
    other = max(0.0, (busy2 - busy0 - ours) / 1e9 / (t2 - t0) * 100)
    cpu_all = {k: (c2[k][0] - c0[k][0]) / 1e3 for k in procs}  # us, all threads, tick resolution
    out = {
        "label": label,
        "streams": streams,
        "speed": "fast" if fast else speed,
        "per_value": per_value,
        "seconds": round(window, 3),
        "send_seconds": round(t1 - t0, 3),
        "connect_s": round(t_connected, 3),
        "frames_sent": len(sends),
        "frames_received": frames,
        "frames_lost": len(sends) - len(set(recv) & set(sends)),
        "messages": got,
        "frames_per_s": round(frames / window, 1) if window else 0,
        "messages_per_s": round(got / window, 1) if window else 0,
        "machine_other_cpu_percent": round(other, 1),
        "cpu_us_per_frame": round(cpu["hanmeterd"] / frames, 2) if frames else None,
        "daemon_cpu_percent": round(cpu["hanmeterd"] / 1e6 / (t2 - t0) * 100, 4),
        "daemon_cpu_all_threads_percent": round(cpu_all["hanmeterd"] / 1e6 / (t2 - t0) * 100, 4),
        "broker_cpu_us_per_frame": round(cpu["mosquitto"] / frames, 2) if frames else None,
        "wakeups_per_frame": round((x2 - x0) / frames, 2) if frames else None,
        "latency_ms_p50": round(median(lat), 3) if lat else None,
        "latency_ms_p99": round(pct(lat, 99), 3) if lat else None,
        "latency_ms_max": round(max(lat), 3) if lat else None,
        "rss_kb": m2.get("Rss"),
        "pss_kb": m2.get("Pss"),
        "rss_kb_start": m0.get("Rss"),
        "daemon_survived": alive,
        "logs": d,
    }
    if alive and frames and not os.environ.get("HM_BENCH_KEEP"):
        import shutil
        shutil.rmtree(d, ignore_errors=True)  # kept when something went wrong, or with HM_BENCH_KEEP=1
        out["logs"] = None
    if idle_fig:
        out["idle"] = idle_fig
    if sampled:
        out["sample"] = sampled
    return out
