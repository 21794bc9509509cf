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

def added(r, base, key):
    """r's latency percentile minus the base's, or n/a when the base was not measured."""
    return "%+.3f" % (r[key] - base[key]) if r and base else "n/a"


d1, pt1 = rows.get(("direct", 1)), rows.get(("passthrough", 1))
if any(rows.get((p, 1)) for p in peers if p not in ("direct", "passthrough")) or (pt1 and d1):
    print("\n## Added latency at 1 connection, over the direct call and over passthrough\n")
    print("Over passthrough is the gateway's own cost: the proxying any Rust gateway pays is in both.\n")
    print("| target | over direct p50 ms | p90 | p99 | p99.9 | over passthrough p50 ms | p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for p in peers:
        r = rows.get((p, 1))
        if p != "direct" and r:
            over_pt = ("-", "-") if p == "passthrough" else (added(r, pt1, "p50"), added(r, pt1, "p99"))
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                p, added(r, d1, "p50"), added(r, d1, "p90"), added(r, d1, "p99"), added(r, d1, "p999"), *over_pt))

if streams:
    print("\n## Streaming time to first byte (sequential calls, one keep-alive connection)\n")
    print("| target | TTFB p50 ms | p90 ms | p99 ms | added over direct p50 ms | p99 | added over passthrough p50 ms "
          "| p99 | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ds, pts = streams.get("direct"), streams.get("passthrough")
    for p, s in streams.items():
        over_d = ("-", "-") if p == "direct" else (added(s, ds, "p50"), added(s, ds, "p99"))
        over_pt = ("-", "-") if p in ("direct", "passthrough") else (added(s, pts, "p50"), added(s, pts, "p99"))
        print("| %s | %.3f | %.3f | %.3f | %s | %s | %s | %s | %d |" % (
            p, s["p50"], s["p90"], s["p99"], *over_d, *over_pt, s["errors"]))

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

def rps_ratio(a, peer, c, fmt):
    """a's RPS over the peer's at c connections, or n/a when the peer was skipped."""
    r = rows.get((peer, c))
    return fmt % (a["rps"] / r["rps"]) if r and r["rps"] > 0 else "n/a"


def cpu_cell(peer, c):
    r = rows.get((peer, c))
    return "%.0f" % r["cpu_us"] if r and "cpu_us" in r else "n/a"


RATIO_PEERS = (("direct", "%.3f"), ("passthrough", "%.3f"), ("litellm", "%.1fx"), ("portkey", "%.1fx"))
gateway_rows = [(p, c, rows[(p, c)]) for p in ("auditgate", "auditgate-fresh") for c in shapes if (p, c) in rows]
if gateway_rows:
    print("\n## Per shape: RPS, ratios and CPU per request\n")
    print("Ratios are auditgate's RPS over the peer's in the same shape; CPU is the process's user + "
          "system time over the shape divided by its requests. n/a: the peer was skipped.\n")
    print("| target | conns | RPS |" + "".join(" / %s |" % p for p, _ in RATIO_PEERS) +
          " CPU µs/req | passthrough CPU µs/req |")
    print("|---|---:|---:|" + "---:|" * len(RATIO_PEERS) + "---:|---:|")
    for p, c, a in gateway_rows:
        cells = [rps_ratio(a, peer, c, fmt) for peer, fmt in RATIO_PEERS]
        print("| %s | %d | %.0f |%s %s | %s |" % (
            p, c, a["rps"], "".join(" %s |" % x for x in cells), cpu_cell(p, c), cpu_cell("passthrough", c)))

slow = read("slow.txt")
if slow:
    s = fields(slow[0].split())
    print("\n## 1,000 concurrent slow streams through auditgate\n")
    print("| RSS before MB | all open MB | middle MB | end MB | peak MB | completed | failed | growth kB per MB relayed |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("| %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %.1f |" % (
        s["before"] / 1024, s["open"] / 1024, s["mid"] / 1024, s["end"] / 1024, s["peak"] / 1024,
        s["done"], s["failed"], s["growth_kb_per_mb"]))

fsync = read("fsync.txt")
# the filesystem type is the one word among the numbers
kind = next((x.split("=", 1)[1] for x in fsync[0].split() if x.startswith("fs=")), "?") if fsync else "?"
fs = fields([x for x in fsync[0].split() if not x.startswith("fs=")]) if fsync else None
if fs:
    print("\n## fdatasync latency in the gateway's data directory (%s)\n" % kind)
    print("A 512-byte write then fdatasync, timed together: `append` at the end of a growing file (the "
          "size changes, so the filesystem commits metadata too), `overwrite` at a fixed offset of a file "
          "whose blocks are already written. The two alternate call by call.\n")
    print("| samples | append p50 ms | append p99 ms | overwrite p50 ms | overwrite p99 ms |")
    print("|---:|---:|---:|---:|---:|")
    print("| %d | %.3f | %.3f | %.3f | %.3f |" % (
        fs["n"], fs["append_p50"], fs["append_p99"], fs["overwrite_p50"], fs["overwrite_p99"]))


def verdict(ok, detail):
    return "%s (%s)" % ("met" if ok else "**not met**", detail)


def failures(peer, c):
    """Why auditgate's row cannot count (a fast error answer looks like a fast call), or None."""
    r = rows.get((peer, c))
    bad = int(r.get("non2xx", 0) + r.get("sockerr", 0)) if r else 0
    return "%s had %d failed requests at %d connections" % (peer, bad, c) if bad else None


def need(*things):
    """n/a naming what this run did not measure, or None when everything is there."""
    missing = [name for name, value in things if not value]
    return "n/a (not measured: %s)" % ", ".join(missing) if missing else None


def target_rps(peer, floor):
    a, r = rows.get(("auditgate", 32)), rows.get((peer, 32))
    gap = need(("auditgate at 32 connections", a), ("%s at 32 connections" % peer, r))
    if gap or not r["rps"]:
        return gap or "n/a (%s answered nothing at 32 connections)" % peer
    bad = failures("auditgate", 32)
    ratio = a["rps"] / r["rps"]
    detail = "%.0f / %.0f RPS = %.3g" % (a["rps"], r["rps"], ratio)
    if failures(peer, 32):
        detail += "; %s's figure includes failures" % peer
    return "**not met** (%s)" % bad if bad else verdict(ratio >= floor, detail)


def target_latency(what, gw, base, fsync_times, bad):
    """auditgate's p50 over passthrough's against a multiple of the overwrite fdatasync p50; bad(gw)
    says why auditgate's figure cannot count."""
    gap = need(("auditgate " + what, gw), ("passthrough " + what, base), ("fdatasync", fs))
    if gap:
        return gap
    if bad(gw):
        return "**not met** (%s)" % bad(gw)
    over = gw["p50"] - base["p50"]
    limit = fsync_times * fs["overwrite_p50"] + 0.1
    return verdict(over <= limit, "%+.3f ms over passthrough; limit %d x %.3f + 0.1 = %.3f ms" % (
        over, fsync_times, fs["overwrite_p50"], limit))


def target_rss():
    a = rows.get(("auditgate", 256))
    if not a:
        return "n/a (not measured: auditgate at 256 connections)"
    mb = a["hwm_kb"] / 1024
    return verdict(mb <= 100, "peak %.1f MB, limit 100 MB" % mb)


def target_slow():
    """Flat: RSS at the end within 5 % of RSS with all streams open, and every stream completed."""
    lines = read("slow.txt")
    if not lines:
        return "n/a (not measured: slow streams)"
    sl = fields(lines[0].split())
    growth = (sl["end"] - sl["open"]) / 1024
    ok = growth <= 0.05 * sl["open"] / 1024 and sl["failed"] == 0
    return verdict(ok, "%d completed, %d failed; all open %.1f MB, end %.1f MB (%+.1f MB, limit +5 %%), peak %.1f MB" % (
        sl["done"], sl["failed"], sl["open"] / 1024, sl["end"] / 1024, growth, sl["peak"] / 1024))


print("\n## Targets (issue 21), from this run\n")
print("- at 32 connections, auditgate RPS >= 0.5 x passthrough RPS: %s" % target_rps("passthrough", 0.5))
print("- 1-connection added p50 over passthrough <= 2 x overwrite fdatasync p50 + 0.1 ms: %s" % target_latency(
    "at 1 connection", rows.get(("auditgate", 1)), rows.get(("passthrough", 1)), 2,
    lambda _: failures("auditgate", 1)))
print("- streaming TTFB p50 added over passthrough <= 1 x overwrite fdatasync p50 + 0.1 ms: %s" % target_latency(
    "streaming TTFB", streams.get("auditgate"), streams.get("passthrough"), 1,
    lambda s: "auditgate had %d failed streams" % s["errors"] if s.get("errors") else None))
print("- at 32 connections, auditgate RPS >= 100 x LiteLLM: %s" % target_rps("litellm", 100))
print("- at 32 connections, auditgate RPS >= 10 x Portkey: %s" % target_rps("portkey", 10))
print("- peak RSS <= 100 MB at 256 connections: %s" % target_rss())
print("- RSS flat under {:,} slow streams: {}".format(int(os.environ.get("SLOW_STREAMS") or 1000), target_slow()))

switches = read("switches.txt")
if switches:
    print("\n## Thread switches per request\n")
    print("Context switches (voluntary + involuntary, from /proc/PID/task/*/status) per request, by thread "
          "name, during each shape: each is a thread going to sleep or being put off the core, so they count "
          "the hand-offs and wake-ups a call costs.\n")
    for line in switches:
        parts = line.split()
        if len(parts) < 3:
            continue
        per = sorted(((k, float(v)) for k, v in (p.split("=", 1) for p in parts[2:])), key=lambda kv: -kv[1])
        total = sum(v for _, v in per)
        detail = ", ".join("%s %.2f" % (k, v) for k, v in per if v >= 0.01)
        print("- %s, %s connection(s): %.2f per request (%s)" % (parts[0], parts[1], total, detail))

notes = read("notes.txt")
if notes:
    print("\n## Notes\n")
    print("\n".join(notes))
