#!/usr/bin/env python3
"""Memory and CPU of big folders, for BENCHMARKS.md (issue "Hardening,
second pass", item 1).

Runs one pared server (any binary, either runtime) on a loopback port over
a folder of ENTRIES empty files, then:
  readers  READERS connections from one address, each with SO_RCVBUF 4096,
           ask for the folder's page and read it at 2 KiB/s for SECONDS;
           the server's VmRSS is sampled every 0.5 s (peak), and again 3 s
           after they all closed (does memory return?)
  head     20 HEADs of the folder, one after another: the server's CPU
           time (utime + stime) per HEAD
  propfind one PROPFIND Depth 1 of the folder read at full speed, and
           READERS of them read at 2 KiB/s: peak VmRSS

Usage: scripts/big_listing.py BINARY RUNTIME [READERS] [SECONDS] [ENTRIES]
Only loopback is used; every loop is bounded; the server is stopped by its
PID.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, RT = sys.argv[1], sys.argv[2]
READERS = int(sys.argv[3]) if len(sys.argv) > 3 else 60
SECS = int(sys.argv[4]) if len(sys.argv) > 4 else 20
ENTRIES = int(sys.argv[5]) if len(sys.argv) > 5 else 100_000
TICK = os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    return s


def slow_reader(port, request, stop, got):
    try:
        s = connect(port)
        s.sendall(request)
        while not stop.is_set():
            d = s.recv(2048)
            if not d:
                break
            got.append(len(d))
            time.sleep(1)
        s.close()
    except OSError:
        pass


def readers(pid, port, request, label):
    stop, got = threading.Event(), []
    base = rss_mib(pid)
    ts = [threading.Thread(target=slow_reader, args=(port, request, stop, got)) for _ in range(READERS)]
    for t in ts:
        t.start()
    peak, end = base, time.monotonic() + SECS
    while time.monotonic() < end:
        peak = max(peak, rss_mib(pid))
        time.sleep(0.5)
    stop.set()
    for t in ts:
        t.join(timeout=15)
    time.sleep(3)
    after = rss_mib(pid)
    print(f"{label}: {READERS} readers at 2 KiB/s for {SECS} s: RSS before {base:.0f} MiB, "
          f"peak {peak:.0f} MiB, 3 s after they closed {after:.0f} MiB "
          f"({sum(got) // 1024} KiB read in all)")


def main():
    with tempfile.TemporaryDirectory() as root:
        many = os.path.join(root, "many")
        os.mkdir(many)
        for i in range(ENTRIES):
            open(os.path.join(many, f"file-{i:06d}.dat"), "w").close()
        p = subprocess.Popen([BIN, "--runtime", RT, "server", "0", "--root", root, "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            line = p.stdout.readline().decode()
            port = int(line.split("(port ")[1].split(",")[0].split(")")[0])
            print(f"{BIN} ({RT}), folder of {ENTRIES} entries")
            readers(p.pid, port, b"GET /many/ HTTP/1.0\r\n\r\n", "page")
            c0 = cpu_s(p.pid)
            for _ in range(20):
                s = connect(port)
                s.sendall(b"HEAD /many/ HTTP/1.0\r\n\r\n")
                while s.recv(65536):
                    pass
                s.close()
            print(f"head: {(cpu_s(p.pid) - c0) / 20 * 1000:.0f} ms of server CPU per HEAD")
            body = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>')
            req = (b"PROPFIND /many/ HTTP/1.0\r\nDepth: 1\r\nContent-Length: "
                   + str(len(body)).encode() + b"\r\n\r\n" + body)
            readers(p.pid, port, req, "propfind")
        finally:
            p.terminate()
            p.wait(timeout=30)


main()
