#!/usr/bin/env python3
"""Side-by-side benchmark of cronwrightd, Debian's cron and busybox crond (issue 5).

This file owns the daemon benchmark: it installs the peers if they are missing, runs every
daemon instance (each from its own copy of the program) in its own mount namespace on
identical crontabs (private /etc/cron.d, /etc/crontab, /var/spool/cron, /run and /dev, with
/dev/log a datagram socket this script reads), measures idle cost, load time and memory at
scale, fire latency, bursts, reload and a 100 MB output job, prints one table per row and,
with --write-doc, puts them at the top of docs/BENCHMARKS.md.

Python 3.11 standard library only; run as root (namespaces, mounts, the peers' setuid-free
root crontabs). Command: `python3 benches/daemons.py --write-doc` (full) or
`python3 benches/daemons.py --quick --only cronwrightd` (under 2 minutes; what CI runs: it
fails when cronwrightd's idle wakeups or idle RSS are over two coarse bounds, see --check-bounds).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CW_BIN = os.path.join(REPO, "target", "release", "cronwrightd")
DAEMONS = ["cronwrightd", "debian-cron", "busybox-crond"]
PEERS = ["debian-cron", "busybox-crond"]
# Syscalls a daemon sits in while it waits for its next deadline (x86_64 numbers): select,
# poll, pause, nanosleep, rt_sigtimedwait, epoll_wait, clock_nanosleep, pselect6, ppoll,
# epoll_pwait, epoll_pwait2. The first time the main thread is found in one of them after
# exec, the daemon has loaded its crontabs.
SLEEP_SYSCALLS = {23, 7, 34, 35, 128, 232, 230, 270, 271, 281, 441}
HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Syslog receiver: one thread, one datagram socket per daemon instance.


class Syslog:
    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.pending: list[tuple[socket.socket, list]] = []
        self.stop = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def register(self, path: str) -> list:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        os.chmod(path, 0o666)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        records: list = []
        with self.lock:
            self.pending.append((s, records))
        self.wake_w.send(b"x")
        return records

    def _run(self) -> None:
        while not self.stop:
            for key, _ in self.sel.select(1.0):
                if key.data is None:
                    self.wake_r.recv(64)
                    with self.lock:
                        for s, rec in self.pending:
                            self.sel.register(s, selectors.EVENT_READ, rec)
                        self.pending.clear()
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    continue
                key.data.append((time.time(), data.decode("utf-8", "replace")))


# ---------------------------------------------------------------------------------------------
# /proc readers.


def smaps_rollup(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (kB) from one read of /proc/PID/smaps_rollup. USS is the pages no
    other process maps (Private_Clean + Private_Dirty + Private_Hugetlb); PSS adds each shared
    page divided by the number of processes mapping it."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    uss = sum(fields.get(k, 0) for k in ("Private_Clean", "Private_Dirty", "Private_Hugetlb"))
    return {"rss": fields.get("Rss", 0), "pss": fields.get("Pss", 0), "uss": uss}


def proc_counters(pid: int) -> dict:
    """Context switches over all threads, CPU seconds, RSS, USS and PSS (smaps_rollup) and
    peak RSS (VmHWM), memory in kB."""
    switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        switches += int(line.split()[1])
        except OSError:
            pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / HZ
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                hwm = int(line.split()[1])
    return {"switches": switches, "cpu": cpu, **smaps_rollup(pid), "hwm": hwm,
            "threads": len(os.listdir(f"/proc/{pid}/task"))}


def schedstat(pid: int) -> float:
    """Seconds the task has spent on a CPU (nanosecond resolution, unlike utime+stime)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid: int) -> list[int]:
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def same_exe_tree(pid: int, exe: str) -> list[int]:
    """The daemon and its descendants still running the daemon's program (Debian cron and
    busybox keep a forked copy of themselves per job to collect output)."""
    out = []
    for p in [pid] + descendants(pid):
        try:
            if os.readlink(f"/proc/{p}/exe") == exe:
                out.append(p)
        except OSError:
            pass
    return out


def tree_rss_same_exe(pid: int, exe: str) -> int:
    """VmRSS (kB) summed over same_exe_tree: cheap enough to sample every few milliseconds."""
    total = 0
    for p in same_exe_tree(pid, exe):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_smaps_same_exe(pid: int, exe: str) -> dict[str, int]:
    """RSS, USS and PSS (kB, smaps_rollup) summed over same_exe_tree."""
    total = {"rss": 0, "uss": 0, "pss": 0}
    for p in same_exe_tree(pid, exe):
        try:
            for k, v in smaps_rollup(p).items():
                total[k] += v
        except OSError:
            pass
    return total


# ---------------------------------------------------------------------------------------------
# One daemon instance in its own mount namespace.


def schedule(t: int, seconds: bool) -> str:
    """Fields firing once at epoch second t (local time), 6 fields when `seconds`."""
    lt = time.localtime(t)
    f = f"{lt.tm_min} {lt.tm_hour} {lt.tm_mday} {lt.tm_mon} *"
    return f"{lt.tm_sec} {f}" if seconds else f


class Instance:
    def __init__(self, h: "Harness", daemon: str, label: str) -> None:
        self.h, self.daemon, self.label = h, daemon, label
        self.dir = tempfile.mkdtemp(prefix=f"cwbench-{daemon}-{label}-")
        for sub in ("crond", "spool/crontabs", "run", "out"):
            os.makedirs(os.path.join(self.dir, sub))
        os.chmod(os.path.join(self.dir, "spool/crontabs"), 0o700)
        open(os.path.join(self.dir, "crontab"), "w").close()
        self.out = os.path.join(self.dir, "out")
        self.log = h.syslog.register(os.path.join(self.dir, "log.sock"))
        self.proc: subprocess.Popen | None = None
        self.pid = 0
        self.t_exec = 0.0
        # Each instance runs its own copy of the daemon's program (a new file, not a link):
        # instances side by side then share none of its pages, and USS and PSS count them as
        # for a daemon alone on the machine.
        src = os.path.realpath({"cronwrightd": CW_BIN, "debian-cron": "/usr/sbin/cron",
                                "busybox-crond": "/bin/busybox"}[daemon])
        self.exe = os.path.realpath(os.path.join(self.dir, "bin", os.path.basename(src)))
        os.makedirs(os.path.dirname(self.exe))
        shutil.copy2(src, self.exe)
        if daemon == "cronwrightd":
            # Its PAM session helper is found beside it: with Debian's cron installed for the
            # run, /etc/pam.d/cron exists, and cronwrightd opens a session per job as cron does.
            helper = os.path.join(os.path.dirname(CW_BIN), "cronwright-session")
            shutil.copy2(helper, os.path.join(os.path.dirname(self.exe), "cronwright-session"))
            with open(os.path.join(self.dir, "cronwright.toml"), "w") as f:
                # Its own paths name the private folders directly: no mount point (/etc/crontab,
                # /var/spool/cron) need exist on a machine with no cron package installed.
                f.write(f'[sources]\nsystem_crontab = "{self.dir}/crontab"\n'
                        f'system_dirs = ["{self.dir}/crond"]\n'
                        f'user_spool = "{self.dir}/spool/crontabs"\n[log]\nsyslog = true\n'
                        'syslog_socket = "/dev/log"\n[mail]\nenabled = false\n'
                        '[daemon]\nreboot_marker = "/run/cronwrightd.reboot"\n'
                        f'state_dir = "{self.dir}/state"\n'
                        f'control_socket = "{self.dir}/control.sock"\n')

    def write_crontab(self, lines: list[str], name: str = "root") -> None:
        """Writes root's crontab as crontab(1) does: a new file renamed into the spool."""
        text = 'MAILTO=""\n' + "".join(line + "\n" for line in lines)
        if self.daemon == "busybox-crond":
            text = text.split("\n", 1)[1]  # busybox would take the quotes literally
        d = os.path.join(self.dir, "spool/crontabs")
        tmp = os.path.join(d, f".tmp.{name}")
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(d, name))

    def write_entries(self, lines: list[str]) -> None:
        """Debian cron refuses a crontab over 10,000 lines: give it system-format files of
        10,000 lines in /etc/cron.d instead (same entries, run as root)."""
        if self.daemon == "debian-cron" and len(lines) > 10000:
            for i in range(0, len(lines), 10000):
                with open(os.path.join(self.dir, "crond", f"bench{i // 10000:03d}"), "w") as f:
                    for line in lines[i:i + 10000]:
                        fs = line.split(" ", 5)
                        f.write(" ".join(fs[:5]) + " root " + fs[5] + "\n")
        else:
            self.write_crontab(lines)

    def start(self) -> None:
        d = self.dir
        argv = {"cronwrightd": f"{self.exe} --foreground --config {d}/cronwright.toml",
                "debian-cron": f"{self.exe} -f -L 15",
                "busybox-crond": f"{self.exe} crond -f -c {d}/spool/crontabs"}[self.daemon]
        # Debian's cron has its paths compiled in: private folders are mounted over them (its
        # package, installed for the run, provides the mount points).
        cron_mounts = (f"mount --bind {d}/crond /etc/cron.d\nmount --bind {d}/crontab /etc/crontab\n"
                       f"mount --bind {d}/spool /var/spool/cron\n"
                       if self.daemon == "debian-cron" else "")
        script = f"""set -e
{cron_mounts}mount -t tmpfs -o mode=755 bench-run /run
mount -t tmpfs -o mode=755 bench-dev /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/tty c 5 0
ln -s /proc/self/fd /dev/fd; ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
mkdir /dev/shm /dev/pts; : > /dev/log; mount --bind {d}/log.sock /dev/log
read go < {d}/go
exec {argv} </dev/null >/dev/null 2>{d}/stderr
"""
        fifo = os.path.join(d, "go")
        os.mkfifo(fifo)
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                      script], stdin=subprocess.DEVNULL,
                                     stderr=open(os.path.join(d, "setup.err"), "w"))
        self.pid = self.proc.pid
        self.h.started.append(self)
        # The shell waits on the fifo once its mounts are done, so that the clock starts at
        # the exec and not when a poller happens to notice it.
        deadline = time.time() + 10
        fd = -1
        while fd < 0:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{self.daemon} did not start: "
                                       + open(os.path.join(d, "setup.err")).read())
                time.sleep(0.001)
        time.sleep(0.02)
        self.cpu0 = schedstat(self.pid)
        self.t_exec = time.time()
        os.write(fd, b"go\n")
        os.close(fd)

    def wait_loaded(self, timeout: float = 60) -> tuple[float, float]:
        """Seconds from the exec until the daemon's main thread first sleeps in a wait syscall,
        and the CPU seconds it used until then (from /proc/PID/schedstat)."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                with open(f"/proc/{self.pid}/syscall") as f:
                    nr = f.read().split()[0]
                if (nr.isdigit() and int(nr) in SLEEP_SYSCALLS
                        and os.readlink(f"/proc/{self.pid}/exe") == self.exe):
                    return time.time() - self.t_exec, schedstat(self.pid) - self.cpu0
            except (OSError, IndexError):
                pass
        return float("nan"), float("nan")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        victims = descendants(self.pid)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for p in victims:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stamps(self, name: str) -> list[float]:
        try:
            with open(os.path.join(self.out, name)) as f:
                return [float(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []


def stamp(out: str, name: str) -> str:
    return f"date +\\%s.\\%N >> {out}/{name}"


# ---------------------------------------------------------------------------------------------
# Statistics and tables.


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def fmt(x: float, unit: str = "", nd: int = 1) -> str:
    if x != x:
        return "n/a"
    return f"{x:,.{nd}f}{unit}"


def mr(xs: list[float], unit: str = "", nd: int = 1) -> str:
    """Median and range of repetitions."""
    xs = [x for x in xs if x == x]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return fmt(xs[0], unit, nd)
    return f"{fmt(med(xs), unit, nd)} ({fmt(min(xs), '', nd)}–{fmt(max(xs), '', nd)})"


class Table:
    def __init__(self, title: str, note: str = "") -> None:
        self.title, self.note = title, note
        self.rows: list[tuple[str, dict[str, str], dict[str, float]]] = []

    def add(self, metric: str, cells: dict[str, str], values: dict[str, float]) -> None:
        self.rows.append((metric, cells, values))

    def markdown(self, daemons: list[str]) -> str:
        head = "| | " + " | ".join(daemons) + " | cronwrightd / best peer |\n"
        head += "|---" * (len(daemons) + 2) + "|\n"
        body = ""
        for metric, cells, values in self.rows:
            peers = [values[p] for p in PEERS if p in values and values[p] == values[p]]
            cw = values.get("cronwrightd", float("nan"))
            if peers and cw == cw and min(peers) > 0:
                ratio = f"{cw / min(peers):.3g}x"
            elif peers and cw == cw and min(peers) == 0:
                ratio = "best peer 0"
            else:
                ratio = "–"
            body += f"| {metric} | " + " | ".join(cells.get(d, "–") for d in daemons)
            body += f" | {ratio} |\n"
        note = f"\n{self.note}\n" if self.note else ""
        return f"### {self.title}\n\n{head}{body}{note}"


# ---------------------------------------------------------------------------------------------
# The harness.


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.daemons = [d for d in DAEMONS if not args.only or d in args.only]
        self.syslog = Syslog()
        self.started: list[Instance] = []
        self.tables: list[Table] = []
        # cronwrightd alone in quick mode takes deadlines in seconds, 10 s apart.
        self.seconds = args.quick and self.daemons == ["cronwrightd"]
        self.idle_res: dict[tuple[str, str], list[dict]] = {}

    def cleanup(self) -> None:
        for inst in self.started:
            inst.stop()
        if not self.args.keep:
            for inst in self.started:
                shutil.rmtree(inst.dir, ignore_errors=True)

    # -- rows -------------------------------------------------------------------------------

    def idle_start(self) -> list[tuple[str, str, Instance]]:
        insts = []
        for rep in range(self.args.reps):
            for d in self.daemons:
                for case in ("no jobs", "one daily job"):
                    inst = Instance(self, d, f"idle{rep}")
                    if case == "one daily job":
                        inst.write_crontab(["0 4 * * * /bin/true"])
                    inst.start()
                    insts.append((d, case, inst))
        time.sleep(2)
        for _, _, inst in insts:
            inst.idle0 = (time.time(), proc_counters(inst.pid))
        return insts

    def idle_finish(self, insts) -> None:
        res: dict[tuple[str, str], list[dict]] = {}
        ends = [(time.time(), proc_counters(inst.pid)) for _, _, inst in insts]
        for (d, case, inst), (t1, c1) in zip(insts, ends):
            t0, c0 = inst.idle0
            w = t1 - t0
            res.setdefault((d, case), []).append({
                "wph": (c1["switches"] - c0["switches"]) * 3600 / w,
                "cpu": (c1["cpu"] - c0["cpu"]) * 1000 * 3600 / w,
                "rss": c1["rss"] / 1024, "uss": c1["uss"] / 1024, "pss": c1["pss"] / 1024,
                "hwm": c1["hwm"] / 1024, "threads": c1["threads"], "w": w})
            inst.stop()
        self.idle_res = res
        w = med([r["w"] for v in res.values() for r in v])
        t = Table(f"Idle cost (window {w:.0f} s, {self.args.reps} instances of each side by side)",
                  "Wakeups are context switches of all the daemon's threads, scaled to an hour; "
                  "CPU is utime+stime scaled to an hour. RSS counts every resident page the "
                  "daemon maps, shared libraries included; USS only the pages no other process "
                  "maps (what stopping the daemon frees), and PSS adds to USS each shared page "
                  "divided by the number of processes mapping it. All three come from one read "
                  "of /proc/PID/smaps_rollup at the end of the window, and each instance runs "
                  "its own copy of the daemon's program, so that instances side by side share "
                  "none of its pages; peak RSS is VmHWM from /proc/PID/status.")
        for case in ("no jobs", "one daily job"):
            for key, name, unit, nd in (("wph", "wakeups/hour", "", 0),
                                        ("cpu", "CPU ms/hour", " ms", 1),
                                        ("rss", "RSS", " MiB", 2), ("uss", "USS", " MiB", 2),
                                        ("pss", "PSS", " MiB", 2), ("hwm", "peak RSS", " MiB", 2)):
                cells, vals = {}, {}
                for d in self.daemons:
                    xs = [r[key] for r in res.get((d, case), [])]
                    cells[d], vals[d] = mr(xs, unit, nd), med(xs)
                t.add(f"{case}: {name}", cells, vals)
        self.tables.insert(0, t)

    def scale(self) -> None:
        sizes = [1000, 10000, 100000]
        res: dict[tuple[str, int], list[tuple[float, dict, float, float]]] = {}
        month = (time.localtime().tm_mon + 5) % 12 + 1  # never due during the run
        for n in sizes:
            lines = [f"{i % 60} {(i // 60) % 24} {1 + i % 28} {month} * /bin/echo entry{i}"
                     for i in range(n)]
            for rep in range(self.args.reps):
                for d in self.daemons:
                    inst = Instance(self, d, f"scale{n}")
                    inst.write_entries(lines)
                    inst.start()
                    load, cpu = inst.wait_loaded()
                    time.sleep(0.5)
                    c = proc_counters(inst.pid)
                    logged = float("nan")
                    if d == "cronwrightd":
                        for t, m in list(inst.log):
                            if "START" in m:
                                logged = t - inst.t_exec
                                break
                    res.setdefault((d, n), []).append((load * 1000, c, logged * 1000,
                                                        cpu * 1000))
                    inst.stop()
                    shutil.rmtree(inst.dir, ignore_errors=True)
        empty = {}
        for d in self.daemons:
            inst = Instance(self, d, "scale0")
            inst.start()
            inst.wait_loaded()
            time.sleep(0.5)
            empty[d] = proc_counters(inst.pid)
            inst.stop()
        t = Table("Memory and load time at scale",
                  "Load time: from the daemon's exec (the harness releases a shell waiting on a "
                  "fifo, which execs the daemon) until its main thread first sleeps in a wait "
                  "syscall (/proc/PID/syscall polled in a tight loop), the same signal for every "
                  "daemon; CPU time to load: on-CPU time over the same span from "
                  "/proc/PID/schedstat, unaffected by other load on the machine; for cronwrightd the START log line's arrival is given in brackets as a "
                  "cross-check. RSS, USS and PSS as in the idle table (/proc/PID/smaps_rollup, "
                  "0.5 s after the load). Bytes/entry: (RSS after load - RSS with no crontab) / "
                  "entries; bytes/entry (USS): the same from USS. "
                  "Debian cron refuses a crontab over 10,000 lines, so at 100,000 it gets the same "
                  "entries as ten 10,000-line files in /etc/cron.d.")
        for n in sizes:
            cells, vals = {}, {}
            for d in self.daemons:
                xs = [r[0] for r in res[(d, n)]]
                cells[d], vals[d] = mr(xs, " ms", 2), med(xs)
                if d == "cronwrightd":
                    cells[d] += f" [START {fmt(med([r[2] for r in res[(d, n)]]), ' ms', 2)}]"
            t.add(f"{n:,} entries: load time", cells, vals)
            cells, vals = {}, {}
            for d in self.daemons:
                xs = [r[3] for r in res[(d, n)]]
                cells[d], vals[d] = mr(xs, " ms", 2), med(xs)
            t.add(f"{n:,} entries: CPU time to load", cells, vals)
            for key, name in (("rss", "RSS"), ("uss", "USS"), ("pss", "PSS")):
                cells, vals = {}, {}
                for d in self.daemons:
                    xs = [r[1][key] / 1024 for r in res[(d, n)]]
                    cells[d], vals[d] = mr(xs, " MiB", 2), med(xs)
                t.add(f"{n:,} entries: {name}", cells, vals)
            for key, name in (("rss", "bytes/entry"), ("uss", "bytes/entry (USS)")):
                cells, vals = {}, {}
                for d in self.daemons:
                    xs = [(r[1][key] - empty[d][key]) * 1024 / n for r in res[(d, n)]]
                    cells[d], vals[d] = mr(xs, " B", 0), med(xs)
                t.add(f"{n:,} entries: {name}", cells, vals)
        self.tables.append(t)

    def fire_and_reload(self) -> None:
        """Every daemon side by side with one job a minute (and cronwrightd with one a second);
        N seconds before each boundary, root's crontab is rewritten with an extra job due at it."""
        minutes = self.args.fire_minutes
        lead = self.args.reload_lead
        insts = {}
        for d in self.daemons if not self.seconds else []:
            inst = Instance(self, d, "fire")
            if True:
                inst.write_crontab(["* * * * * " + stamp(inst.out, "fire")])
                inst.start()
                insts[d] = inst
        sec = reload_s = None
        if "cronwrightd" in self.daemons:
            sec = Instance(self, "cronwrightd", "fire-s")
            sec.write_crontab(["* * * * * * " + stamp(sec.out, "fire")])
            sec.start()
            reload_s = Instance(self, "cronwrightd", "reload-s")
            reload_s.start()
        t_start = time.time()
        boundaries: list[int] = []
        reload_s_results: list[tuple[float, float, float]] = []
        if self.seconds:
            end = t_start + self.args.fire_seconds
            while time.time() < end:
                self._reload_seconds(reload_s, reload_s_results)
        else:
            first = int(t_start // 60 + 1) * 60
            if first - t_start < lead + 1:
                first += 60
            for k in range(minutes):
                b = first + 60 * k
                if k % 2 == 1 and reload_s is not None:
                    self._reload_seconds(reload_s, reload_s_results)
                sleep_until(b - lead)
                for d, inst in insts.items():
                    inst.write_crontab(["* * * * * " + stamp(inst.out, "fire"),
                                        schedule(b, False) + " " + stamp(inst.out, f"reload-{b}")])
                boundaries.append(b)
            sleep_until(boundaries[-1] + 5 if boundaries else time.time())
        t = Table("Fire latency: deadline to the job's first instruction (`date +%s.%N`)",
                  f"One job every minute, {len(boundaries)} minutes, all daemons side by side "
                  "(their minute wakes then interleave: cronwrightd at the boundary, busybox "
                  "within the next second, Debian 1-2 s after). cronwrightd also ran a separate "
                  "instance with a job every second.")
        lat = {}
        for d, inst in insts.items():
            xs = []
            for s in inst.stamps("fire"):
                b = int(s // 60) * 60
                if b in boundaries:
                    xs.append((s - b) * 1000)
            lat[d] = xs
        for name, f, nd in () if self.seconds else (("median", med, 1), ("p99", lambda v: pct(v, 99), 1),
                            ("max", lambda v: max(v) if v else float("nan"), 1)):
            cells = {d: fmt(f(lat[d]), " ms", nd) for d in lat}
            t.add(f"every minute: {name}", cells, {d: f(lat[d]) for d in lat})
        if sec is not None:
            xs = [(s - int(s)) * 1000 for s in sec.stamps("fire") if s > t_start + 2]
            for name, v in (("median", med(xs)), ("p99", pct(xs, 99)),
                            ("max", max(xs) if xs else float("nan"))):
                t.add(f"every second ({len(xs)} runs): {name}",
                      {"cronwrightd": fmt(v, " ms", 2), **self.no_seconds()}, {"cronwrightd": v})
        self.tables.append(t)

        t = Table("Reload", f"Root's crontab rewritten (new file renamed over it, as crontab(1) "
                  f"does) {lead} s before a minute boundary with a job due at that boundary.")
        cells, vals = {}, {}
        for d, inst in insts.items():
            ok, late = 0, []
            for b in boundaries:
                xs = [s for s in inst.stamps(f"reload-{b}") if b <= s < b + 60]
                if xs:
                    ok += 1
                    late.append((xs[0] - b) * 1000)
            cells[d] = f"{ok}/{len(boundaries)} (late {fmt(med(late), ' ms', 1)})"
            vals[d] = med(late)
        if insts:
            t.add(f"change {lead} s before the boundary honoured at it", cells, vals)
        if reload_s_results:
            rl = [r[0] for r in reload_s_results]
            jl = [r[1] for r in reload_s_results]
            t.add("time from the rename to the RELOAD log line",
                  {"cronwrightd": mr(rl, " ms", 2), **{p: "minute wake (see above)" for p in PEERS
                                                       if p in self.daemons}},
                  {"cronwrightd": med(rl)})
            t.add("job due 2 s after the change: lateness",
                  {"cronwrightd": f"{sum(1 for r in reload_s_results if r[2])}/"
                   f"{len(reload_s_results)} ran, {mr(jl, ' ms', 2)}", **self.no_seconds()},
                  {"cronwrightd": med(jl)})
        self.tables.append(t)
        for inst in list(insts.values()) + [i for i in (sec, reload_s) if i is not None]:
            inst.stop()

    def no_seconds(self) -> dict[str, str]:
        """The peers' cells of a row they cannot take part in: their schedules have no
        seconds field."""
        return {p: "no seconds field" for p in PEERS if p in self.daemons}

    def _reload_seconds(self, inst: Instance, out: list) -> None:
        """cronwrightd only: a new crontab with a job due 2 s later; RELOAD line and job time."""
        sleep_until(int(time.time()) + 1.3)
        due = int(time.time()) + 2
        name = f"rs-{due}"
        n0 = len(inst.log)
        t_w = time.time()
        inst.write_crontab([f"{schedule(due, True)} {stamp(inst.out, name)}"])
        sleep_until(due + 2)
        rl = float("nan")
        for t, m in inst.log[n0:]:
            if "RELOAD" in m:
                rl = (t - t_w) * 1000
                break
        xs = inst.stamps(name)
        out.append((rl, (xs[0] - due) * 1000 if xs else float("nan"), bool(xs)))

    def slots(self) -> None:
        """Bursts of 200 and 1,000 jobs and the 100 MB output job, each daemon alone at its
        deadline: deadlines are spread so no two daemons work at the same time."""
        step = 10 if self.seconds else 60
        kinds = ["burst200", "burst1000", "out100m"]
        insts = {d: Instance(self, d, "slots") for d in self.daemons}
        t0 = time.time() + (5 if self.seconds else 15)
        first = int(t0 // step + 1) * step
        plan = []
        k = 0
        for rep in range(self.args.slot_reps):
            for kind in kinds:
                for d in self.daemons:
                    plan.append((first + step * k, d, kind))
                    k += 1
        for d, inst in insts.items():
            lines = []
            for b, dd, kind in plan:
                if dd != d:
                    continue
                f = schedule(b, self.seconds)
                if kind.startswith("burst"):
                    n = int(kind[5:])
                    lines += [f"{f} {stamp(inst.out, f'{kind}-{b}')}"] * n
                else:
                    lines.append(f"{f} head -c 100000000 /dev/zero; " + stamp(inst.out, f"{kind}-{b}"))
            inst.write_crontab(lines)
            inst.start()
        time.sleep(2)
        idle_rss = {d: tree_rss_same_exe(i.pid, i.exe) for d, i in insts.items()}
        idle_mem = {d: tree_smaps_same_exe(i.pid, i.exe) for d, i in insts.items()}
        res: dict[tuple[str, str], list] = {}
        for b, d, kind in plan:
            inst = insts[d]
            sleep_until(b - 0.5)
            if kind == "out100m":
                n0 = len(inst.log)
                peak = 0
                end = b + (8 if self.seconds else 30)
                while time.time() < end:
                    peak = max(peak, tree_rss_same_exe(inst.pid, inst.exe))
                    if inst.stamps(f"{kind}-{b}") and time.time() > b + 3:
                        break
                    time.sleep(0.005)
                time.sleep(2)
                logged = any("head -c" in m for _, m in inst.log[n0:])
                done = inst.stamps(f"{kind}-{b}")
                res.setdefault((d, kind), []).append(
                    ((peak - idle_rss[d]) / 1024, logged, (done[0] - b) if done else float("nan")))
            else:
                sleep_until(b + (8 if self.seconds else 25))
                xs = inst.stamps(f"{kind}-{b}")
                n = int(kind[5:])
                res.setdefault((d, kind), []).append(
                    ((max(xs) - b) * 1000 if len(xs) >= n else float("nan"), len(xs),
                     (min(xs) - b) * 1000 if xs else float("nan")))
        for inst in insts.values():
            inst.stop()
        t = Table("Burst: jobs due at the same deadline",
                  "Time from the deadline until the last job's first instruction (first job in "
                  "brackets); each daemon alone at its deadline, " + ("10 s" if self.seconds else
                                                                      "one minute") + " apart.")
        for n in (200, 1000):
            cells, vals = {}, {}
            for d in self.daemons:
                rs = res[(d, f"burst{n}")]
                xs = [r[0] for r in rs]
                cells[d] = mr(xs, " ms", 0) + f" [first {fmt(med([r[2] for r in rs]), ' ms', 0)}]"
                if any(r[1] < n for r in rs):
                    cells[d] += f" (only {min(r[1] for r in rs)} of {n} ran)"
                vals[d] = med(xs)
            t.add(f"{n:,} jobs: last started", cells, vals)
        self.tables.append(t)
        t = Table("Output volume: a job writing 100 MB to stdout",
                  "Peak RSS growth: highest RSS, sampled every 5 ms, of the daemon plus its "
                  "descendants still running the daemon's own program (Debian cron and busybox "
                  "collect output in a forked child), minus the same before any job (VmRSS "
                  "from /proc/PID/status, cheap to sample). The idle rows: RSS, USS and PSS as in "
                  "the idle table, summed over the same processes.")
        cells, vals, lc = {}, {}, {}
        for d in self.daemons:
            rs = res[(d, "out100m")]
            xs = [r[0] for r in rs]
            cells[d], vals[d] = mr(xs, " MiB", 2), med(xs)
            lc[d] = f"{sum(1 for r in rs if r[1])}/{len(rs)}"
        t.add("peak RSS growth during the job", cells, vals)
        t.add("run logged (command in syslog)", lc, {})
        for key, name in (("rss", "RSS"), ("uss", "USS"), ("pss", "PSS")):
            t.add(f"{name} before (idle, slots crontab loaded)",
                  {d: fmt(idle_mem[d][key] / 1024, " MiB", 2) for d in self.daemons},
                  {d: idle_mem[d][key] / 1024 for d in self.daemons})
        self.tables.append(t)

    # -- output -----------------------------------------------------------------------------

    def report(self, command: str, started: datetime.datetime) -> str:
        cpu = "unknown"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        versions = []
        for d, cmd in (("debian-cron", ["dpkg-query", "-W", "-f", "${Version}", "cron"]),
                       ("busybox-crond", ["dpkg-query", "-W", "-f", "${Version}",
                                          "busybox-static"])):
            if d in self.daemons:
                v = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
                versions.append(f"{d} {v}")
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        head = (f"Command, from a clone, as root: `{command}`\n\n"
                f"Measured {started:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu}), "
                f"cronwrightd at commit {commit}"
                + (", peers from Debian: " + ", ".join(versions) if versions else "") + ". "
                f"Repetitions: {self.args.reps} (bursts and output: {self.args.slot_reps}); idle window {self.args.idle_window} s; "
                f"fire latency over {self.args.fire_minutes} minutes. Cells are the median "
                "(and range) of the repetitions.\n\n")
        return head + "\n".join(t.markdown(self.daemons) for t in self.tables)


def sleep_until(t: float) -> None:
    while True:
        d = t - time.time()
        if d <= 0:
            return
        time.sleep(min(d, 0.5))


def check_idle_bounds(h: Harness) -> list[str]:
    """Coarse bounds on cronwrightd's idle rows (both cases): wakeups/hour and RSS, the median
    of the repetitions as in the table. Prints the verdict line to stderr; returns one message
    per figure over its bound."""
    a = h.args
    cases = [(case, h.idle_res.get(("cronwrightd", case), [])) for case in ("no jobs",
                                                                           "one daily job")]
    if not all(rs for _, rs in cases):
        print("idle bounds: not checked (the idle row did not run for cronwrightd)",
              file=sys.stderr)
        return []
    failed = []
    wph = {case: med([r["wph"] for r in rs]) for case, rs in cases}
    rss = {case: med([r["rss"] for r in rs]) for case, rs in cases}
    for case, _ in cases:
        if not wph[case] <= a.max_idle_wakeups:
            failed.append(f"cronwrightd idle wakeups ({case}): {wph[case]:,.0f}/h, over the "
                          f"bound of {a.max_idle_wakeups:g}/h")
        if not rss[case] <= a.max_idle_rss_mib:
            failed.append(f"cronwrightd idle RSS ({case}): {rss[case]:.2f} MiB, over the "
                          f"bound of {a.max_idle_rss_mib:g} MiB")
    for msg in failed:
        print(msg, file=sys.stderr)
    w, r = max(wph.values()), max(rss.values())
    print(f"idle bounds: wakeups {w:,.0f}/h {'<=' if w <= a.max_idle_wakeups else '>'} "
          f"{a.max_idle_wakeups:g}/h, RSS {r:.2f} MiB {'<=' if r <= a.max_idle_rss_mib else '>'} "
          f"{a.max_idle_rss_mib:g} MiB: {'FAILED' if failed else 'ok'}", file=sys.stderr)
    return failed


def install_peers() -> None:
    missing = [p for p, path in (("cron", "/usr/sbin/cron"), ("busybox-static", "/bin/busybox"))
               if not os.path.exists(path)]
    if os.path.exists("/bin/busybox"):
        r = subprocess.run(["/bin/busybox", "crond", "--help"], capture_output=True, text=True)
        if "applet not found" in (r.stdout + r.stderr):
            missing.append("busybox-static")
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                   env=env)


BEGIN = "<!-- benches/daemons.py: generated from here -->"
END = "<!-- benches/daemons.py: generated up to here -->"


def write_doc(body: str) -> None:
    """Replaces the generated part of the daemon section of docs/BENCHMARKS.md (between the
    markers), keeping the hand-written analysis after it and the criterion section; the first
    time, puts a new section at the top."""
    path = os.path.join(REPO, "docs", "BENCHMARKS.md")
    with open(path) as f:
        old = f.read()
    generated = f"{BEGIN}\n\n{body}\n{END}"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + generated + old[old.index(END) + len(END):]
    else:
        rest = old.split("\n", 1)[1].lstrip("\n") if old.startswith("# ") else old
        new = ("# Benchmarks\n\n## The daemons side by side (`benches/daemons.py`)\n\n"
               + generated + "\n\n" + rest)
    with open(path, "w") as f:
        f.write(new)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="short windows, one repetition (with --only cronwrightd: deadlines in "
                         "seconds, under 2 minutes)")
    ap.add_argument("--only", action="append", choices=DAEMONS)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--slot-reps", type=int,
                    help="repetitions of the burst and output rows, one minute per daemon and "
                         "kind each (default --reps)")
    ap.add_argument("--idle-window", type=int, help="seconds (default 600, quick 20)")
    ap.add_argument("--fire-minutes", type=int, help="default 6, quick 2")
    ap.add_argument("--fire-seconds", type=int, default=20, help="quick cronwrightd-only mode")
    ap.add_argument("--reload-lead", type=int, default=2, help="seconds before the boundary")
    ap.add_argument("--rows", default="idle,scale,fire,slots")
    ap.add_argument("--write-doc", action="store_true", help="update docs/BENCHMARKS.md")
    ap.add_argument("--keep", action="store_true", help="keep the instances' folders")
    ap.add_argument("--no-build", action="store_true",
                    help="run target/release/cronwrightd as it is, without cargo build")
    ap.add_argument("--check-bounds", action=argparse.BooleanOptionalAction,
                    help="exit 1 when cronwrightd's idle wakeups or idle RSS (both idle cases) "
                         "are over the bounds below (default: on with --quick)")
    ap.add_argument("--max-idle-wakeups", type=float, default=0,
                    help="bound on idle wakeups/hour (default 0)")
    ap.add_argument("--max-idle-rss-mib", type=float, default=3,
                    help="bound on idle RSS in MiB (default 3)")
    args = ap.parse_args()
    args.reps = args.reps or (1 if args.quick else 3)
    args.slot_reps = args.slot_reps or args.reps
    args.idle_window = args.idle_window or (20 if args.quick else 600)
    args.fire_minutes = args.fire_minutes or (2 if args.quick else 6)
    if args.check_bounds is None:
        args.check_bounds = args.quick
    if os.geteuid() != 0:
        print("needs root (mount namespaces)", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    command = "python3 benches/daemons.py " + " ".join(sys.argv[1:])
    if set(args.only or DAEMONS) & set(PEERS):
        install_peers()
    if args.no_build:
        if not os.access(CW_BIN, os.X_OK):
            print(f"--no-build: no {CW_BIN}", file=sys.stderr)
            return 2
    else:
        log("building cronwrightd")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "cronwrightd",
                        "--bin", "cronwright-session"], cwd=REPO, check=True)
    h = Harness(args)
    rows = args.rows.split(",")
    try:
        idle = None
        if "idle" in rows:
            log("idle: starting instances")
            idle = h.idle_start()
            idle_end = time.time() + args.idle_window
        if "scale" in rows:
            log("scale")
            h.scale()
        if "fire" in rows:
            log("fire latency and reload")
            h.fire_and_reload()
        if "slots" in rows:
            log("bursts and output")
            h.slots()
        if idle is not None:
            sleep_until(idle_end)
            h.idle_finish(idle)
    finally:
        h.cleanup()
    body = h.report(command, started)
    print(body)
    if args.write_doc:
        write_doc(body)
    # A row cronwrightd has no figure for means something did not run (a job that never
    # started, a log line that never came): fail, so CI's --quick run catches it.
    missing = [f"{t.title}: {metric}" for t in h.tables for metric, _, values in t.rows
               if "cronwrightd" in values and values["cronwrightd"] != values["cronwrightd"]]
    if missing:
        print("no figure for cronwrightd in: " + "; ".join(missing), file=sys.stderr)
    # Coarse bounds, to catch a regression (not timings): no idle wakeups, a small idle RSS.
    over = check_idle_bounds(h) if args.check_bounds else []
    return 1 if missing or over else 0


if __name__ == "__main__":
    sys.exit(main())
