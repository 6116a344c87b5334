"""Benchmark (not part of CI): upload throughput to a real smbd on loopback, against Samba's own `smbclient put`.

Targets, against the CLI's throughput on the same file and share in the same run: our upload
(``SmbSession.upload`` plus the remote size check) at least 0.35x; with read-back verification
(what `invoke offload` does by default: upload, size, SHA-256 read back with 8 reads in flight)
at least 0.5x. Also shown, for reference: the read-back with one read in flight (what it was),
and a naive upload (one write in flight).

    .venv/bin/python -m tests.benchmarks.bench_offload [--megabytes 500] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ecosystem import smb
from ecosystem.secrets import Secret
from tests.support.samba import start_samba

PASSWORD = "bench-smb-password"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-offload-"))
    server = start_samba(folder / "smb", PASSWORD)
    try:
        data = folder / "set.bin"
        with open(data, "wb") as handle:
            for _ in range(args.megabytes):
                handle.write(os.urandom(1 << 20))
        size = data.stat().st_size
        address = smb.ShareAddress("127.0.0.1", server.port, server.share, "", server.user, Secret(PASSWORD))
        cli, ours, verified, sequential, naive = [], [], [], [], []
        auth = folder / "auth"
        auth.write_text(f"username = {server.user}\npassword = {PASSWORD}\n")
        for round_number in range(args.rounds):
            start = time.perf_counter()
            subprocess.run(["smbclient", f"//127.0.0.1/{server.share}", "-p", str(server.port), "-A", str(auth),
                            "-m", "SMB3", "-c", f"put {data} cli_{round_number}.bin"], check=True, capture_output=True)
            cli.append(time.perf_counter() - start)
            with smb.session(address) as share:
                start = time.perf_counter()
                share.upload(data, f"ours_{round_number}.bin")
                assert share.size(f"ours_{round_number}.bin") == size
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                share.upload(data, f"verified_{round_number}.bin")
                assert share.size(f"verified_{round_number}.bin") == size
                share.sha256(f"verified_{round_number}.bin")
                verified.append(time.perf_counter() - start)
                start = time.perf_counter()
                share.upload(data, f"sequential_{round_number}.bin")
                assert share.size(f"sequential_{round_number}.bin") == size
                share.sha256(f"sequential_{round_number}.bin", window=1)
                sequential.append(time.perf_counter() - start)
                start = time.perf_counter()
                share.upload(data, f"naive_{round_number}.bin", window=1)
                naive.append(time.perf_counter() - start)
            for path in server.share_path.glob("*.bin"):
                path.unlink()
        mb = size / 1e6

        def rate(times):
            return mb / statistics.median(times)
        print(f"{mb:.0f} MB to smbd on loopback, medians of {args.rounds} rounds:")
        print(f"  smbclient put:                   {rate(cli):7.1f} MB/s")
        print(f"  ours (8 writes in flight + size): {rate(ours):7.1f} MB/s -> {rate(ours) / rate(cli):.2f}x of the CLI "
              f"(target >= 0.35): {'met' if rate(ours) / rate(cli) >= 0.35 else 'NOT met'}")
        print(f"  ours with read-back verification: {rate(verified):7.1f} MB/s -> {rate(verified) / rate(cli):.2f}x "
              f"(target >= 0.5): {'met' if rate(verified) / rate(cli) >= 0.5 else 'NOT met'}")
        print(f"  the same, one read in flight:     {rate(sequential):7.1f} MB/s -> "
              f"{rate(sequential) / rate(cli):.2f}x")
        print(f"  naive (one write in flight):      {rate(naive):7.1f} MB/s -> {rate(naive) / rate(cli):.2f}x")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
