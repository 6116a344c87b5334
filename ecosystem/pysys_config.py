"""What the ecosystem reads of pysystemtrade's own configuration (never writes).

- the private config (``private_config.yaml`` in PRIVATE_CONFIG_DIR): ``ib_ipaddress``,
  ``ib_port``, ``broker_account``, ... It holds secrets: values read here are never printed
  except the few this module names as safe to show.
- the process windows: upstream's ``syscontrol/control_config.yaml`` in the clone, overridden
  by the trader's ``private_control_config.yaml``, merged the way pysystemtrade merges them
  (the private value wins, key by key).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from pathlib import Path

from .errors import EcosystemError

DEFAULT_START, DEFAULT_STOP = time(0, 1), time(23, 50)  # pysystemtrade's defaults


def _load_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise EcosystemError(f"cannot read {path}: {type(exc).__name__}",
                             fix="check that it is valid YAML and readable by this user") from None
    if not isinstance(data, dict):
        raise EcosystemError(f"{path} is not a mapping of keys to values", fix="compare it with upstream's example")
    return data


def private_config(settings) -> dict:
    """Return the private config as a dict ({} if there is none yet)."""
    return _load_yaml(Path(settings.private_config_dir) / "private_config.yaml")


def _parse_time(text) -> time:
    hours, _, minutes = str(text).strip().strip("'\"").partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True)
class Window:
    process: str
    start: time
    stop: time


def process_windows(settings) -> dict[str, Window]:
    """Return each configured process's effective start and stop time (private overrides upstream)."""
    upstream = _load_yaml(Path(settings.pysystemtrade_clone_dir) / "syscontrol" / "control_config.yaml")
    private = _load_yaml(Path(settings.private_config_dir) / "private_control_config.yaml")
    merged: dict[str, dict] = {}
    for source in (upstream, private):
        for key in ("process_configuration_start_time", "process_configuration_stop_time"):
            merged.setdefault(key, {}).update(source.get(key) or {})
    starts, stops = merged["process_configuration_start_time"], merged["process_configuration_stop_time"]
    default_start = _parse_time(starts.get("default", "00:01"))
    default_stop = _parse_time(stops.get("default", "23:50"))
    names = sorted((set(starts) | set(stops)) - {"default"})
    return {name: Window(name, _parse_time(starts[name]) if name in starts else default_start,
                         _parse_time(stops[name]) if name in stops else default_stop) for name in names}


def dead_time(windows: dict[str, Window]) -> tuple[time, time]:
    """Return (from, to): the stretch around midnight after the last stop and before the first start."""
    if not windows:
        return DEFAULT_STOP, DEFAULT_START
    return max(w.stop for w in windows.values()), min(w.start for w in windows.values())


def in_dead_time(moment: time, windows: dict[str, Window]) -> bool:
    """Say whether ``moment`` (a wall-clock time) falls in the dead time, which wraps midnight."""
    begin, end = dead_time(windows)
    return moment > begin or moment < end


SECRET_KEY_WORDS = ("password", "pwd", "token", "secret", "account", "mongo_host")


def secret_values(settings) -> list[str]:
    """Return the private config's values that must never be shown: accounts, passwords, tokens,
    and the credentials inside mongo_host."""
    from urllib.parse import urlsplit

    try:
        config = private_config(settings)
    except EcosystemError:
        return []
    values = []
    for key, value in config.items():
        if isinstance(value, (str, int)) and any(word in str(key).lower() for word in SECRET_KEY_WORDS):
            text = str(value)
            if key == "mongo_host":
                parts = urlsplit(text)
                values += [v for v in (parts.password, parts.username) if v]
            elif len(text) >= 4:
                values.append(text)
    return values
