"""Benchmark (not part of CI): offload throughput to a real smbd on loopback, against Samba's own `smbclient put`.

The target (issue 17): what `invoke offload` does by default (each file encrypted to the backup
key, sent with eight writes in flight, then read back by a second process, while the next file
is sent, decrypted and compared with the manifest) at 0.5x or better of `smbclient put` of the
same bytes to the same share, in the same run. The set is two archives (40% and 60%), so the
read-back of the first overlaps the sending of the second. Also shown, so each part's cost is seen: offload without
the read-back, a plain upload (no encryption), age encryption alone (to nowhere), and a read-back
alone (eight reads in flight, hashed).

    .venv/bin/python -m tests.benchmarks.bench_offload [--megabytes 500] [--rounds 3]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ecosystem import backup_key, offload, smb
from ecosystem.archives import sha256_file
from ecosystem.backup_sets import Manifest
from ecosystem.secrets import Secret
from tests.support.samba import start_samba

PASSWORD = "bench-smb-password"


class _Nowhere(io.RawIOBase):
    def write(self, data) -> int:
        return len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-offload-"))
    server = start_samba(folder / "smb", PASSWORD)
    try:
        name = f"pst-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        set_folder = folder / name
        set_folder.mkdir()
        files = {}
        for file_name, share_of in (("db.archive.gz", 0.4), ("parquet.tar.gz", 0.6)):  # a set: two archives
            with open(set_folder / file_name, "wb") as handle:
                for _ in range(int(args.megabytes * share_of)):
                    handle.write(os.urandom(1 << 20))
            size, digest = sha256_file(set_folder / file_name)
            files[file_name] = {"size": size, "sha256": digest}
        data = folder / "whole.bin"  # the CLI, the plain upload and the parts get the same bytes as one file
        with open(data, "wb") as whole:
            for file_name in files:
                whole.write((set_folder / file_name).read_bytes())
        size = data.stat().st_size
        manifest = Manifest(name, datetime.now(UTC).isoformat(), "online", ["db", "parquet"], files)
        manifest.write(set_folder)
        key, _ = backup_key.ensure(folder / "backup-key.txt")
        address = smb.ShareAddress("127.0.0.1", server.port, server.share, "", server.user, Secret(PASSWORD))
        times: dict[str, list[float]] = {k: [] for k in ("cli", "verified", "unverified", "plain", "encrypt", "read")}
        auth = folder / "auth"
        auth.write_text(f"username = {server.user}\npassword = {PASSWORD}\n")
        for round_number in range(args.rounds):
            start = time.perf_counter()
            subprocess.run(["smbclient", f"//127.0.0.1/{server.share}", "-p", str(server.port), "-A", str(auth),
                            "-m", "SMB3", "-c", f"put {data} cli_{round_number}.bin"], check=True, capture_output=True)
            times["cli"].append(time.perf_counter() - start)
            with smb.session(address) as share:
                for kind, verify in (("verified", True), ("unverified", False)):
                    start = time.perf_counter()
                    offload.send_set(share, set_folder, manifest, key, verify=verify, say=lambda _: None)
                    times[kind].append(time.perf_counter() - start)
                    share.rmtree(name)
                start = time.perf_counter()
                share.upload(data, f"plain_{round_number}.bin")
                times["plain"].append(time.perf_counter() - start)
                start = time.perf_counter()
                share.sha256(f"plain_{round_number}.bin")
                times["read"].append(time.perf_counter() - start)
            start = time.perf_counter()
            with open(data, "rb") as source:
                backup_key.encrypt(source, _Nowhere(), key, hashed=False)
            times["encrypt"].append(time.perf_counter() - start)
            for path in server.share_path.glob("*.bin"):
                path.unlink()
        mb = size / 1e6

        def rate(kind: str) -> float:
            return mb / statistics.median(times[kind])
        cli = rate("cli")
        ratio = rate("verified") / cli
        print(f"{mb:.0f} MB (a set of two archives, 40% and 60%; the CLI puts the same bytes as one file) to smbd "
              f"on loopback, medians of {args.rounds} rounds:")
        print(f"  smbclient put:                                {cli:7.1f} MB/s")
        print(f"  offload: encrypted, read back and decrypted   {rate('verified'):7.1f} MB/s -> {ratio:.2f}x of the "
              f"CLI (target >= 0.5): {'met' if ratio >= 0.5 else 'NOT met'}")
        print(f"  offload without the read-back:                {rate('unverified'):7.1f} MB/s -> "
              f"{rate('unverified') / cli:.2f}x")
        print("each part alone:")
        print(f"  plain upload (8 writes in flight, signed):    {rate('plain'):7.1f} MB/s -> "
              f"{rate('plain') / cli:.2f}x")
        print(f"  age encryption (to nowhere):                  {rate('encrypt'):7.1f} MB/s")
        print(f"  read-back (8 reads in flight, hashed):        {rate('read'):7.1f} MB/s")
        serial = 1 / (1 / rate("plain") + 1 / rate("encrypt") + 1 / rate("read"))
        print(f"  the three one after another would give:       {serial:7.1f} MB/s -> {serial / cli:.2f}x")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
