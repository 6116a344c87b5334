"""Benchmark (not part of CI): writing and extracting a volume archive, against plain tar and the compressor.

Targets, same data in the same run: writing a volume archive (``volumes.archive``: streamed out
of a helper container, hashed on the way) runs at 0.9x or better of plain ``tar`` piped to the
same compressor inside the same helper writing to a bind mount; the extraction phase of a restore
(``volumes.restore``) at 0.9x or better of plain extraction. Both with zstd (the pysystemtrade
image has it) and with gzip -3 (an image without zstd, as before). Also the comparison that chose
zstd (issue 17): its time and size against gzip -3 on the same data. The checksum pass and the
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


def zstd_image(client, base: str) -> str:
    """The Debian Python base with the zstd tool, as the pysystemtrade image has it."""
    tag = f"pst-bench/zstd:{base.rsplit(':', 1)[-1]}"
    if not client.images.list(name=tag):
        folder = Path(tempfile.mkdtemp(prefix="bench-zstd-image-"))
        (folder / "Dockerfile").write_text(f"FROM {base}\nRUN apt-get update && apt-get install -y "
                                           "--no-install-recommends zstd && rm -rf /var/lib/apt/lists/*\n")
        client.images.build(path=str(folder), tag=tag, rm=True)
    return tag


def measure(image: str, source: str, targets: tuple[str, str], folder: Path, rounds: int, plain_compress: str,
            plain_extract_with: str) -> dict:
    ours_write, plain_write, ours_extract, plain_extract, checks = [], [], [], [], []
    archive = folder / "none"
    for _ in range(rounds):
        done: dict = {}
        ours_write.append(timed(lambda done=done: done.update(volumes.archive(image, source, folder, "ours"))))
        archive = folder / done["file"]
        plain_write.append(timed(lambda: docker_run(
            image, "-v", f"{source}:/v:ro", "-v", f"{folder}:/out",
            f"tar -C /v --numeric-owner -cf - . | {plain_compress} > /out/plain.bin")))
        checks.append(timed(lambda archive=archive: (archives.sha256_file(archive), archives.check_tar(archive))))
        ours_extract.append(timed(lambda archive=archive: volumes.restore(image, targets[0], archive)))
        with open(archive, "rb") as handle:
            plain_extract.append(timed(lambda: docker_run(
                image, "-i", "-v", f"{targets[1]}:/v", f"find /v -mindepth 1 -delete && {plain_extract_with} | "
                "tar -C /v --numeric-owner -xf -", stdin=handle)))
    return {"file": archive.name, "size": archive.stat().st_size / 1e6, "write": statistics.median(ours_write),
            "plain_write": statistics.median(plain_write), "extract": statistics.median(ours_extract),
            "plain_extract": statistics.median(plain_extract), "check": statistics.median(checks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=400, help="size of the random part of the data")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    base = test_images.debian_python_image(client)
    with_zstd = zstd_image(client, base)
    token = f"pst-bench-{uuid.uuid4().hex[:8]}"
    source, target_ours, target_plain = f"{token}-src", f"{token}-ours", f"{token}-plain"
    for name in (source, target_ours, target_plain):
        client.volumes.create(name)
    folder = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        docker_run(base, "-v", f"{source}:/v", SEED.format(random=args.megabytes, files=200))
        found = {"zstd": measure(with_zstd, source, (target_ours, target_plain), folder, args.rounds, volumes.ZSTD,
                                 "zstd -d -q -c"),
                 "gzip -3": measure(base, source, (target_ours, target_plain), folder, args.rounds, volumes.GZIP,
                                    "gzip -d -c")}
        print(f"data: {args.megabytes} MB random + 200 CSV files; medians of {args.rounds} rounds")
        for name, got in found.items():
            write_ratio, extract_ratio = got["plain_write"] / got["write"], got["plain_extract"] / got["extract"]
            print(f"{name} ({got['file']}, {got['size']:.0f} MB):")
            print(f"  write:   ours {got['write']:.2f}s, plain tar | compressor {got['plain_write']:.2f}s -> "
                  f"{write_ratio:.2f}x of plain (target >= 0.90): {'met' if write_ratio >= 0.9 else 'NOT met'}")
            print(f"  extract: ours {got['extract']:.2f}s, plain {got['plain_extract']:.2f}s -> {extract_ratio:.2f}x "
                  f"of plain (target >= 0.90): {'met' if extract_ratio >= 0.9 else 'NOT met'}")
            print(f"  before extracting, a restore's checksum pass and archive check: {got['check']:.2f}s")
        z, g = found["zstd"], found["gzip -3"]
        print(f"zstd against gzip -3, same data: writing {g['write'] / z['write']:.1f}x as fast, extracting "
              f"{g['extract'] / z['extract']:.1f}x, checking {g['check'] / z['check']:.1f}x; size "
              f"{z['size'] / g['size']:.2f} of gzip's")
    finally:
        for name in (source, target_ours, target_plain):
            subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)
        subprocess.run(["rm", "-rf", str(folder)])


if __name__ == "__main__":
    main()
