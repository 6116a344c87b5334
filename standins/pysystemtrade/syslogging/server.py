"""STAND-IN of pysystemtrade's syslogging/server.py: the socket log server.

Same command line (``--port``, ``--file``), same place (binds localhost, so only processes in
its network namespace reach it), same wire format (Python logging's SocketHandler: pickled
LogRecords with a 4-byte length), writing a midnight-rotated file.
"""
import argparse
import logging
import logging.handlers
import pickle
import signal
import socketserver
import struct
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class LogRecordStreamHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            header = self.connection.recv(4, 0x100)  # MSG_WAITALL
            if len(header) < 4:
                return
            (size,) = struct.unpack(">L", header)
            data = self.connection.recv(size, 0x100)
            record = logging.makeLogRecord(pickle.loads(data))
            logging.getLogger(record.name).handle(record)


class LogRecordSocketReceiver(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def logging_server():
    parser = argparse.ArgumentParser(description="Start the socket logging server (stand-in)")
    parser.add_argument("-p", "--port", type=int, default=logging.handlers.DEFAULT_TCP_LOGGING_PORT)
    parser.add_argument("-f", "--file", required=True)
    args = parser.parse_args()
    rotating = logging.handlers.TimedRotatingFileHandler(args.file, when="midnight", backupCount=5, encoding="utf8")
    logging.basicConfig(handlers=[rotating], format=LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S", level=logging.DEBUG)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    with LogRecordSocketReceiver(("localhost", args.port), LogRecordStreamHandler) as server:
        print(f"log server (stand-in) accepting connections at localhost:{args.port}, writing to {args.file}",
              flush=True)
        server.serve_forever()


if __name__ == "__main__":
    sys.exit(logging_server())
