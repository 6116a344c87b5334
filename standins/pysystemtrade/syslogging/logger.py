"""STAND-IN of pysystemtrade's syslogging/logger.py: sim or prod logging, chosen by PYSYS_LOGGING_CONFIG.

As upstream (1.80: get_logger, _configure_logging, _configure_sim, _configure_prod,
_get_log_server_config, _check_log_server; the same in robcarver17's stored logger.py):
- no PYSYS_LOGGING_CONFIG: "sim" logging, console (stdout) only;
- PYSYS_LOGGING_CONFIG names a YAML file (a path, or package notation such as
  ``syslogging.logging_prod.yaml``): the socket handler's host and port are read from it
  (handlers -> socket -> host / port), the log server is checked, and records go to the
  console and to the log server through a ``logging.handlers.SocketHandler``; any problem
  prints ``ERROR: Problem configuring prod logging, reverting to sim: ...`` and falls back to
  sim; a missing file prints ``ERROR: prod logging config '...' not found, reverting to sim``.
Stand-in differences: the YAML is read without PyYAML (sysproduction/yaml_lite.py) and only the
console and socket handlers are built (upstream hands the whole file to logging.config.dictConfig,
so it also builds e.g. the email handler).
"""
import logging
import logging.handlers
import os
import socket
import sys

from syscore.fileutils import resolve_path_and_filename_for_package
from sysproduction import yaml_lite

import syslogging

CONFIG_ENV_VAR = "PYSYS_LOGGING_CONFIG"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def get_logger(name):
    if not syslogging.logging_configured:
        _configure_logging()
    return logging.getLogger(name)


def _configure_logging():
    path = os.getenv(CONFIG_ENV_VAR)
    if path:
        _configure_prod(path)
    else:
        _configure_sim()


def _console():
    handler = logging.StreamHandler(stream=sys.stdout)
    handler.setLevel(logging.DEBUG)
    return handler


def _install(handlers):
    formatter = logging.Formatter(LOG_FORMAT, datefmt=DATE_FORMAT)
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    syslogging.logging_configured = True


def _configure_sim():
    print("Configuring sim logging", flush=True)
    _install([_console()])


def _configure_prod(logging_config_file):
    print(f"Attempting to configure prod logging from {logging_config_file}", flush=True)
    config_path = resolve_path_and_filename_for_package(logging_config_file)
    if not os.path.exists(config_path):
        print(f"ERROR: prod logging config '{config_path}' not found, reverting to sim", flush=True)
        _configure_sim()
        return
    try:
        config = yaml_lite.read(config_path)
        host, port = _get_log_server_config(config)
        try:
            _check_log_server(host, port)
        except BlockingIOError:
            print(f"Log server detected OK at {host}:{port}", flush=True)
        except (ConnectionResetError, ConnectionRefusedError):
            print(f"Cannot connect to log server at {host}:{port}, is it running?", flush=True)
            raise
        server = logging.handlers.SocketHandler(host, port)
        server.setLevel(logging.DEBUG)
        _install([_console(), server])
    except Exception as exc:  # noqa: BLE001 - as upstream: any problem falls back to sim logging
        print(f"ERROR: Problem configuring prod logging, reverting to sim: {exc}", flush=True)
        _configure_sim()


def _get_log_server_config(config):
    handler = config["handlers"]["socket"]
    return handler["host"], handler["port"]


def _check_log_server(host, port):
    """Connect and peek without blocking: BlockingIOError means the server is there and silent
    (upstream's test); no data at all means the connection was closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.connect((host, port))
        data = sock.recv(16, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        if len(data) == 0:
            raise Exception("Unexpected data length")
    finally:
        sock.close()
