"""STAND-IN helper: reads the two-level YAML of control_config.yaml without PyYAML.

Upstream merges syscontrol/control_config.yaml with private/private_control_config.yaml
(the private one wins); this does the same for the flat `section: {process: value}` shape.
"""
import os
from pathlib import Path


def _parse(text):
    result, section = {}, None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        key, _, value = line.strip().partition(":")
        value = value.strip().strip("'\"")
        if not raw.startswith((" ", "\t")):
            section = key
            result.setdefault(section, {})
        elif section is not None:
            result[section][key] = value
    return result


def load_control_config():
    code = Path(os.environ.get("PYSYS_CODE", Path(__file__).resolve().parents[1]))
    merged = _parse((code / "syscontrol" / "control_config.yaml").read_text())
    private = Path(os.environ.get("PYSYS_PRIVATE_CONFIG_DIR", code / "private")) / "private_control_config.yaml"
    if private.exists():
        for section, values in _parse(private.read_text()).items():
            merged.setdefault(section, {}).update(values)
    return merged
