#!/usr/bin/env python3
"""Attacker-versus-probe measurement for pared at its default limits.

Runs one pared server (any binary, either runtime) on a loopback port and,
for each attack mode, lets an attacker hold connections while a probe from
another loopback address asks for a small file once a second; reports the
share of probes answered within 3 s. Then measures server memory (VmRSS)
with stalled uploads, during and after.

Modes (attacker connections from 127.0.0.2, probes from 127.0.0.3):
  keepalive  64 keep-alive connections (the per-client limit), each sending
             one HEAD every 12 s
  slowread   64 connections with SO_RCVBUF 4096 reading 64 KB every 20 s
             from a 200 MB file
  flood      512 idle keep-alive connections from 8 addresses (127.0.1.1-8,
             64 each): the global limit, each sending one HEAD every 12 s
  stalled    500 uploads each sending 1 MB of a 100 MB body, then stalling;
             server RSS before, during, and 3 s after they end

Usage: scripts/robustness.py BINARY RUNTIME [SECONDS] [MODES]
(MODES: comma list of keepalive,slowread,flood,stalled; default all)
Only loopback addresses are used; every loop is bounded; the server is
stopped by its PID.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, RT = sys.argv[1], sys.argv[2]
SECS = int(sys.argv[3]) if len(sys.argv) > 3 else 30
MODES = (sys.argv[4] if len(sys.argv) > 4 else "keepalive,slowread,flood,stalled").split(",")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect(port, src, rcvbuf=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def start_server(root):
    p = subprocess.Popen(
        [BIN, "--runtime", RT, "server", "0", "--root", root, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    port = int(line.split("(port ")[1].split(",")[0].split(")")[0])
    return p, port


def probe(port):
    t = time.monotonic()
    try:
        s = connect(port, "127.0.0.3", timeout=3)
        s.sendall(b"GET /small.txt HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.startswith(b"HTTP/1.0 200") and time.monotonic() - t < 3
    except OSError:
        return False


def hold_keepalive(port, sources, per_source, stop, held):
    def one(src):
        try:
            s = connect(port, src)
        except OSError:
            return
        held.append(s)
        while not stop.is_set():
            try:
                s.sendall(b"HEAD /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                s.recv(4096)
            except OSError:
                return
            stop.wait(12)
    threads = []
    for src in sources:
        for _ in range(per_source):
            t = threading.Thread(target=one, args=(src,), daemon=True)
            t.start()
            threads.append(t)
    return threads


def hold_slowread(port, n, stop, held):
    def one():
        try:
            s = connect(port, "127.0.0.2", rcvbuf=4096, timeout=30)
            s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        except OSError:
            return
        held.append(s)
        while not stop.is_set():
            try:
                got = 0
                while got < 65536:
                    c = s.recv(65536 - got)
                    if not c:
                        return
                    got += len(c)
            except OSError:
                return
            stop.wait(20)
    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def attack(port, mode):
    stop = threading.Event()
    held = []
    if mode == "keepalive":
        hold_keepalive(port, ["127.0.0.2"], 64, stop, held)
    elif mode == "slowread":
        hold_slowread(port, 64, stop, held)
    else:
        hold_keepalive(port, [f"127.0.1.{i}" for i in range(1, 9)], 64, stop, held)
    time.sleep(3)
    ok = total = 0
    end = time.monotonic() + SECS
    while time.monotonic() < end:
        t = time.monotonic()
        total += 1
        ok += probe(port)
        time.sleep(max(0.0, 1 - (time.monotonic() - t)))
    stop.set()
    for s in held:
        try:
            s.close()
        except OSError:
            pass
    return ok, total, len(held)


def stalled(port, pid, n=500):
    time.sleep(1)
    before = rss_kib(pid)
    chunk = b"u" * (1 << 20)
    socks = []
    for i in range(n):
        try:
            s = connect(port, f"127.0.2.{i // 60 + 1}")
            s.sendall(f"PUT /stall/{i}.bin HTTP/1.0\r\nContent-Length: 104857600\r\n\r\n".encode())
            s.sendall(chunk)
            socks.append(s)
        except OSError:
            pass
    time.sleep(3)
    during = rss_kib(pid)
    for s in socks:
        s.close()
    time.sleep(3)
    after = rss_kib(pid)
    return before, during, after, len(socks)


def main():
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "small.txt"), "wb") as f:
            f.write(b"s" * 1024)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(1 << 20) * 200)
        for mode in [m for m in ["keepalive", "slowread", "flood"] if m in MODES]:
            p, port = start_server(root)
            try:
                ok, total, held = attack(port, mode)
                print(f"{RT} {mode}: {ok}/{total} probes answered within 3 s "
                      f"(attacker held {held} connections)", flush=True)
            finally:
                p.kill()
                p.wait()
        if "stalled" not in MODES:
            return
        p, port = start_server(root)
        try:
            b, d, a, n = stalled(port, p.pid)
            print(f"{RT} stalled: {n} uploads, RSS {b / 1024:.0f} MiB before, "
                  f"{d / 1024:.0f} MiB during ({(d - b) / max(n, 1):.0f} KiB each), "
                  f"{a / 1024:.0f} MiB after", flush=True)
        finally:
            p.kill()
            p.wait()


main()
