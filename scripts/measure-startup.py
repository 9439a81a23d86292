#!/usr/bin/env python3
"""Startup time to the `initialize` answer and idle RSS of the stdio server.

Usage: scripts/measure-startup.py build/release/snowflake-mcp [runs]
The demo warehouse is built first (not timed), so runs measure start-up only.
"""
import os
import statistics
import subprocess
import sys
import time

INIT = (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":'
        b'"2025-11-25","capabilities":{},"clientInfo":{"name":"measure","version":"1"}}}\n')


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    quiet = ["--log-level", "warning"]
    subprocess.run([binary, *quiet, "check"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    times, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, *quiet], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdin.write(INIT)
        p.stdin.flush()
        p.stdout.readline()
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.5)  # let the pool open its minimum connections
        rss.append(rss_kib(p.pid))
        p.stdin.close()
        p.wait()
    print(f"initialize answered: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f}, max {max(times):.1f} ({runs} runs)")
    print(f"idle RSS after initialize: median {statistics.median(rss) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
