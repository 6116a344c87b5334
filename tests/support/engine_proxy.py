"""A unix socket that forwards to the real Docker engine until it is cut: the engine "gone" for every
client that reaches it through ``url`` (the SDK, the docker CLI, compose), while the engine itself,
and every other test's containers, carry on. Loopback only: a socket file in the test's folder."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path


def engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise RuntimeError(f"the engine proxy forwards to a unix socket, not {host}")
    return host.removeprefix("unix://")


class EngineProxy:
    def __init__(self, folder: Path) -> None:
        self.path = str(Path(folder) / "engine.sock")
        self.target = engine_socket()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(64)
        self.cut_off = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while not self.cut_off.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        """Forward one direction. The end of it is passed on as a half-close, as the engine's own
        socket does: `docker exec` and `docker run -i` close their input and still read the output."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:  # a broken direction (or the cut): both ends go
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """The engine is gone: every connection is dropped and no new one is answered."""
        self.cut_off.set()
        self._listener.close()
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._open.clear()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
