"""fdatasync latency on the filesystem of a directory (run.sh gives it the gateway's data directory).

Usage: python3 fsync_latency.py DIR [N] [MAX_SECONDS]

Two ways a durable log reaches the disk, measured side by side:
  append     write a 512-byte record at the end of a growing file, then fdatasync: the file's size
             changes, so the filesystem must also commit that metadata (a journal commit on ext4)
  overwrite  pwrite 512 bytes at a fixed offset of a file whose blocks are already written, then
             fdatasync: only the data block goes to the disk
The two alternate call by call, so a slow phase of the disk hits both alike. Each sample times the
write and the fdatasync together. Stops after N samples of each or MAX_SECONDS, whichever is first;
the first few samples are dropped (page cache, journal start). Prints one line:
  FSYNC fs=TYPE n=.. append_p50=.. append_p99=.. overwrite_p50=.. overwrite_p99=.. (ms)
Only the Python standard library is used; the files are removed afterwards.
"""
import os
import sys
import time

RECORD = 512
PREALLOC = 1 << 20  # the overwrite file: 1 MiB of written (not merely reserved) blocks
OFFSET = 4096  # the overwritten record, away from the file's first block
WARMUP = 10


def fs_type(path):
    """The type of the filesystem holding path: the longest mount point that contains it."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1].replace("\\040", " ")
                inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
                if inside and len(mnt) > len(best):
                    best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


def timed(step):
    t0 = time.perf_counter_ns()
    step()
    return (time.perf_counter_ns() - t0) / 1e6


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0.0


def prepared_overwrite_file(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"\0" * PREALLOC)
    os.fsync(fd)  # blocks and size on disk before the first sample
    return fd


def measure(directory, n, max_seconds):
    record = b"x" * (RECORD - 1) + b"\n"
    app_path = os.path.join(directory, "fsync-probe-append.tmp")
    ovw_path = os.path.join(directory, "fsync-probe-overwrite.tmp")
    app = os.open(app_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    ovw = prepared_overwrite_file(ovw_path)
    appends, overwrites = [], []
    deadline = time.monotonic() + max_seconds
    try:
        for i in range(n + WARMUP):
            a = timed(lambda: (os.write(app, record), os.fdatasync(app)))
            o = timed(lambda: (os.pwrite(ovw, record, OFFSET), os.fdatasync(ovw)))
            if i >= WARMUP:
                appends.append(a)
                overwrites.append(o)
            if time.monotonic() > deadline:
                break
    finally:
        os.close(app)
        os.close(ovw)
        os.unlink(app_path)
        os.unlink(ovw_path)
    return appends, overwrites


def main():
    directory = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    max_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    appends, overwrites = measure(directory, n, max_seconds)
    print("FSYNC fs=%s n=%d append_p50=%.3f append_p99=%.3f overwrite_p50=%.3f overwrite_p99=%.3f" % (
        fs_type(directory), len(appends), pct(appends, 50), pct(appends, 99), pct(overwrites, 50),
        pct(overwrites, 99)))


if __name__ == "__main__":
    main()
