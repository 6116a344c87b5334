"""Benchmark (not part of CI): writing and extracting a volume archive, against plain tar and gzip.

Targets, same data in the same run: writing a volume archive (``volumes.archive``: streamed
out of a helper container, hashed on the way) runs at 0.9x or better of plain ``tar`` piped to
the same compressor inside the same helper writing to a bind mount; the extraction phase of a
restore (``volumes.restore``) at 0.9x or better of plain extraction. The checksum pass and the
archive check a restore runs first are reported separately.

    .venv/bin/python -m tests.benchmarks.bench_backup [--megabytes 400] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import docker

from ecosystem import archives, volumes
from tests.support import images as test_images

SEED = ("mkdir -p /v/prices /v/fx && head -c {random}M /dev/urandom > /v/prices/random.bin && "
        "for i in $(seq 1 {files}); do seq 1 40000 | sed \"s/$/,$i,1.2345,ES/\" > /v/fx/file_$i.csv; done")


def docker_run(image, *args, stdin=None, check=True):
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", "0", *args[:-1],
                           "--entrypoint", "bash", image, "-o", "pipefail", "-c", args[-1]],
                          stdin=stdin, check=check, capture_output=True)


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=400, help="size of the random part of the data")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    image = test_images.debian_python_image(client)
    token = f"pst-bench-{uuid.uuid4().hex[:8]}"
    source, target_ours, target_plain = f"{token}-src", f"{token}-ours", f"{token}-plain"
    for name in (source, target_ours, target_plain):
        client.volumes.create(name)
    folder = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        docker_run(image, "-v", f"{source}:/v", SEED.format(random=args.megabytes, files=200))
        ours_write, plain_write, ours_extract, plain_extract, checks = [], [], [], [], []
        archive = folder / "ours.tar.gz"
        for _ in range(args.rounds):
            ours_write.append(timed(lambda: volumes.archive(image, source, archive)))
            plain_write.append(timed(lambda: docker_run(
                image, "-v", f"{source}:/v:ro", "-v", f"{folder}:/out",
                f"tar -C /v --numeric-owner -cf - . | {volumes.COMPRESSOR} > /out/plain.tar.gz")))
            checks.append(timed(lambda: (archives.sha256_file(archive), archives.check_tar(archive))))
            ours_extract.append(timed(lambda: volumes.restore(image, target_ours, archive)))
            with open(archive, "rb") as handle:
                plain_extract.append(timed(lambda: docker_run(
                    image, "-i", "-v", f"{target_plain}:/v", "find /v -mindepth 1 -delete && tar -C /v --numeric-owner "
                    "-xzf -", stdin=handle)))
        size = archive.stat().st_size / 1e6
        write_ratio = statistics.median(plain_write) / statistics.median(ours_write)
        extract_ratio = statistics.median(plain_extract) / statistics.median(ours_extract)
        print(f"data: {args.megabytes} MB random + 200 CSV files; archive {size:.0f} MB; "
              f"medians of {args.rounds} rounds")
        print(f"  write:   ours {statistics.median(ours_write):.2f}s, plain tar | {volumes.COMPRESSOR} "
              f"{statistics.median(plain_write):.2f}s -> {write_ratio:.2f}x of plain (target >= 0.90): "
              f"{'met' if write_ratio >= 0.9 else 'NOT met'}")
        print(f"  extract: ours {statistics.median(ours_extract):.2f}s, "
              f"plain tar -x {statistics.median(plain_extract):.2f}s"
              f" -> {extract_ratio:.2f}x of plain (target >= 0.90): {'met' if extract_ratio >= 0.9 else 'NOT met'}")
        print(f"  before extracting, a restore's checksum pass and archive check: {statistics.median(checks):.2f}s "
              "(reported separately)")
    finally:
        for name in (source, target_ours, target_plain):
            subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)
        subprocess.run(["rm", "-rf", str(folder)])


if __name__ == "__main__":
    main()
