"""STAND-IN offload target: a real ``smbd`` on loopback, on a port of its own, from a private smb.conf.

Started by the tests and by ``invoke demo`` (Samba must be installed; ``scripts/install.sh``
installs it; root is needed for its system user and password database). It serves one
writable share, ``backups``, to one user whose password the caller chooses. The system user
``pstsmb`` (no home, no shell) is created once and kept, so later runs reuse it.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from standins.net import free_port

SMB_USER = "pstsmb"

CONF = """[global]
   server role = standalone server
   smb ports = {port}
   interfaces = 127.0.0.1
   bind interfaces only = yes
   disable netbios = yes
   server min protocol = SMB2_10
   map to guest = never
   passdb backend = tdbsam:{root}/private/passdb.tdb
   pid directory = {root}/run
   lock directory = {root}/lock
   state directory = {root}/state
   cache directory = {root}/cache
   private dir = {root}/private
   ncalrpc dir = {root}/ncalrpc
   log file = {root}/log.%m
   log level = 1
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes

[backups]
   path = {share}
   read only = no
   valid users = {user}
"""


@dataclass
class SambaServer:
    root: Path
    port: int
    user: str
    password: str
    share: str = "backups"
    process: subprocess.Popen | None = None

    share_path: Path | None = None

    @property
    def conf(self) -> Path:
        return self.root / "smb.conf"

    def halt(self) -> None:
        """Stop smbd, keeping its share and configuration (for a fault drill)."""
        import os
        import signal

        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the per-connection children too: connections break
            self.process.wait()

    def resume(self) -> None:
        """Start smbd again after ``halt``, on the same port, share and users."""
        _launch(self)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.share_path is not None:
            shutil.rmtree(self.share_path, ignore_errors=True)


def _ensure_unix_user(name: str) -> None:
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)


def start_samba(root: Path, password: str) -> SambaServer:
    """Configure and start smbd under ``root``; return once it accepts connections."""
    _ensure_unix_user(SMB_USER)
    # the share lives outside pytest's private (0700) folders, so the share's user can reach it
    share = Path(tempfile.mkdtemp(prefix="pst-smb-share-"))
    share.chmod(0o755)
    shutil.chown(share, user=SMB_USER)
    server = SambaServer(root=root, port=free_port(), user=SMB_USER, password=password, share_path=share)
    for sub in ("run", "lock", "state", "cache", "private", "ncalrpc"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    try:
        server.conf.write_text(CONF.format(port=server.port, root=root, share=share, user=SMB_USER))
        subprocess.run(["smbpasswd", "-c", str(server.conf), "-a", "-s", SMB_USER],
                       input=f"{password}\n{password}\n", text=True, check=True, capture_output=True)
        _launch(server)
    except BaseException:
        server.stop()  # the share folder goes too
        raise
    return server


def _launch(server: SambaServer) -> None:
    smbd = shutil.which("smbd") or "/usr/sbin/smbd"
    root = server.root
    log = open(root / "smbd.out", "a")
    server.process = subprocess.Popen([smbd, "--foreground", "--no-process-group", "--debug-stdout",
                                       f"--configfile={server.conf}"], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)  # smbd signals its whole process group on exit
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"smbd exited: {(root / 'smbd.out').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("smbd did not accept connections within 30 s")
