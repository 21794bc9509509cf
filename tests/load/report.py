"""Turn the raw lines run.sh collected in target/load/ into the markdown report.
Usage: python3 report.py OUT_DIR DURATION"""
import os
import platform
import subprocess
import sys

OUT, DURATION = sys.argv[1], sys.argv[2]


def read(name):
    path = os.path.join(OUT, name)
    return open(path).read().splitlines() if os.path.exists(path) else []


def fields(parts):
    return {k: float(v) for k, v in (p.split("=", 1) for p in parts if "=" in p)}


rows = {}
for line in read("rows.txt"):
    parts = line.split()
    r = fields(parts[2:])
    if "rps" in r:  # a shape whose wrk run produced no result line is left out
        rows[(parts[0], int(parts[1]))] = r
streams = {line.split()[0]: fields(line.split()[1:]) for line in read("stream.txt")}
peers = list(dict.fromkeys(k[0] for k in rows))
shapes = sorted({k[1] for k in rows})


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "?")
    except OSError:
        return "?"


def guest_halt_poll():
    """The guest kernel's halt-polling window: 0 means an idle vCPU halts at once and every wake-up
    exits to the host, which dominates the 1-connection latency (docs/performance.md)."""
    try:
        with open("/sys/module/haltpoll/parameters/guest_halt_poll_ns") as f:
            return "guest halt-polling %s ns" % f.read().strip()
    except OSError:
        return "no guest halt-polling driver"


print("# auditgate load benchmark\n")
print("Date: %s UTC. Machine: %d CPUs (%s), kernel %s, %s. %s s per shape, wrk -t1, wrk and nginx on "
      "CPU 0, gateway on CPU 1. Request: 2,048-byte chat body; answer: canned completion from nginx.\n" % (
          subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M"], capture_output=True, text=True).stdout.strip(),
          os.cpu_count(), cpu_model(), platform.release(), guest_halt_poll(), DURATION))
print("| target | conns | RPS | p50 ms | p90 ms | p99 ms | p99.9 ms | non-2xx | socket errors | peak RSS MB "
      "| gateway CPU µs/req |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in peers:
    for c in shapes:
        r = rows.get((p, c))
        if not r:
            continue
        rss = "-" if p == "direct" else "%.1f" % (r["hwm_kb"] / 1024)
        cpu = "-" if p == "direct" else "%.0f" % r.get("cpu_us", 0)
        print("| %s | %d | %.0f | %.3f | %.3f | %.3f | %.3f | %d | %d | %s | %s |" % (
            p, c, r["rps"], r["p50"], r["p90"], r["p99"], r["p999"], r["non2xx"], r["sockerr"], rss, cpu))

failed = [(p, c, r) for (p, c), r in rows.items() if r.get("non2xx", 0) > 0 or r.get("sockerr", 0) > 0]
for p, c, r in sorted(failed):
    print("\n**%s at %d connections: %d non-2xx answers and %d socket errors in %d requests; its "
          "figures there include failures.**" % (p, c, r.get("non2xx", 0), r.get("sockerr", 0), r.get("requests", 0)))

if any(p == "auditgate-fresh" for p in peers):
    print("\n`auditgate-fresh`: auditgate with a new number at the start of the last message on every "
          "call (the next turn of a conversation); the `auditgate` rows resend one request, the best "
          "case for the scans it remembers of texts it has seen (`src/pii/memo.rs`).")

core_rows = [(p, c, rows[(p, c)]) for p in peers for c in shapes if "core_busy" in rows.get((p, c), {})]
if core_rows:
    print("\n## The gateway's core during each shape (`/proc/stat`, CPU %s)\n" % os.environ.get("GW_CPU", "1"))
    print("How the gateway's core spent each shape: `busy` is everything but idle and I/O wait (the "
          "gateway's threads, the softirq delivery of what it sends over loopback to the peers' sockets, "
          "the block layer's workers for its fsyncs); `iowait` is the core idle while an fsync is in "
          "flight, `idle` the core idle otherwise; `steal` is time the host gave this vCPU's core to "
          "something else.\n")
    print("| target | conns | busy % | of which softirq % | iowait % | idle % | steal % | core busy µs per request |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p, c, r in core_rows:
        print("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |" % (
            p, c, r["core_busy"], r["core_soft"], r["core_iowait"], r["core_idle"], r.get("core_steal", 0),
            r["core_us"]))

d1 = rows.get(("direct", 1))
if d1:
    print("\n## Added latency over the direct call (1 connection)\n")
    print("| target | p50 added ms | p90 added ms | p99 added ms | p99.9 added ms |")
    print("|---|---:|---:|---:|---:|")
    for p in peers:
        r = rows.get((p, 1))
        if p != "direct" and r:
            print("| %s | %+.3f | %+.3f | %+.3f | %+.3f |" % (
                p, r["p50"] - d1["p50"], r["p90"] - d1["p90"], r["p99"] - d1["p99"], r["p999"] - d1["p999"]))

if streams:
    print("\n## Streaming time to first byte (sequential calls, one keep-alive connection)\n")
    print("| target | TTFB p50 ms | p90 ms | p99 ms | added p50 ms | added p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ds = streams.get("direct")
    for p, s in streams.items():
        add50 = "%+.3f" % (s["p50"] - ds["p50"]) if ds and p != "direct" else "-"
        add99 = "%+.3f" % (s["p99"] - ds["p99"]) if ds and p != "direct" else "-"
        print("| %s | %.3f | %.3f | %.3f | %s | %s | %d |" % (p, s["p50"], s["p90"], s["p99"], add50, add99, s["errors"]))

loglat = {int(line.split()[1]): fields(line.split()[2:]) for line in read("loglat.txt")}
if loglat:
    print("\n## Where auditgate's time went, from its own log (response entries of each shape)\n")
    print("`inside` runs from reading the request to just before the response entry is appended (the "
          "request entry's durable append included); `upstream` is the upstream call. What the client "
          "sees beyond `inside` is the response entry's durable append and the send.\n")
    print("| conns | calls | inside p50 ms | p90 | p99 | p99.9 | upstream p50 ms | p99 | client p50 ms | client p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, g in sorted(loglat.items()):
        r = rows.get(("auditgate", c), {})
        print("| %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s |" % (
            c, g["calls"], g["gw_p50"], g["gw_p90"], g["gw_p99"], g["gw_p999"], g["up_p50"], g["up_p99"],
            "%.3f" % r["p50"] if r else "-", "%.3f" % r["p99"] if r else "-"))

ag = {c: rows.get(("auditgate", c)) for c in shapes}
if any(ag.values()):
    print("\n## Ratios\n")
    others = [p for p in peers if p not in ("direct", "auditgate", "auditgate-fresh")]
    print("| conns | auditgate / direct RPS |" + "".join(" auditgate / %s RPS |" % p for p in others))
    print("|---:|---:|" + "---:|" * len(others))
    for c in shapes:
        a = ag.get(c)
        if not a:
            continue
        cells = []
        for p in others:
            r = rows.get((p, c))
            cells.append("%.1fx" % (a["rps"] / r["rps"]) if r and r["rps"] > 0 else "-")
        d = rows.get(("direct", c))
        direct = "%.3f" % (a["rps"] / d["rps"]) if d and d["rps"] else "-"
        print("| %d | %s |%s" % (c, direct, "".join(" %s |" % x for x in cells)))

slow = read("slow.txt")
if slow:
    s = fields(slow[0].split())
    print("\n## 1,000 concurrent slow streams through auditgate\n")
    print("| RSS before MB | all open MB | middle MB | end MB | peak MB | completed | failed | growth kB per MB relayed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("| %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %.1f |" % (
        s["before"] / 1024, s["open"] / 1024, s["mid"] / 1024, s["end"] / 1024, s["peak"] / 1024,
        s["done"], s["failed"], s["growth_kb_per_mb"]))

notes = read("notes.txt")
if notes:
    print("\n## Notes\n")
    print("\n".join(notes))
