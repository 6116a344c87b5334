"""STAND-IN helper: reads the YAML pysystemtrade's config files are written in, without PyYAML.

The stand-in image installs no packages, so this reads the shapes the real files use: block
mappings nested by indentation, lists of scalars (``- item``), plain and quoted scalars, and
``!ENV ${NAME:default}`` values (upstream's syslogging/pyyaml_env.parse_config substitutes
them and leaves the result a string). Flow collections (``{...}``, ``[...]``) and anchors are
not read.

It also merges the configs as upstream does:
- ``load_control_config``: syscontrol/control_config.yaml filled under
  private_control_config.yaml, the private value winning at every level (upstream 1.80:
  sysdata/config/control_config.get_control_config, Config.fill_with_defaults,
  sysdata/config/fill_config_dict_with_defaults.fill_config_dict_with_defaults);
- ``private_config_value``: private_config.yaml read for one key, with a default (upstream:
  sysdata/config/production_config.get_production_config, defaults.yaml under private_config.yaml).
"""
import os
import re
from pathlib import Path

_ENV = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?")


def code_folder():
    return Path(os.environ.get("PYSYS_CODE", Path(__file__).resolve().parents[1]))


def private_config_folder():
    """PYSYS_PRIVATE_CONFIG_DIR, else the code folder's private/ (upstream 1.80:
    sysdata/config/private_directory.get_full_path_for_private_config)."""
    return Path(os.environ.get("PYSYS_PRIVATE_CONFIG_DIR", code_folder() / "private"))


def _strip_comment(line):
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index]
    return line


def scalar(text):
    """Given one YAML scalar as written, return its value (str, int, float, bool or None)."""
    text = text.strip()
    if text.startswith("!ENV"):
        # upstream's parse_config: ${NAME:default} from the environment, 'N/A' when unset with no default
        value = text[len("!ENV"):].strip().strip("'\"")
        return _ENV.sub(lambda m: os.environ.get(m.group(1), m.group(2) if m.group(2) is not None else "N/A"), value)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _lines(text):
    result = []
    for raw in text.splitlines():
        line = _strip_comment(raw).rstrip()
        if line.strip() and line.strip() != "---":
            result.append((len(line) - len(line.lstrip(" ")), line.strip()))
    return result


def _block(lines, index, indent):
    if lines[index][1].startswith("- ") or lines[index][1] == "-":
        items = []
        while index < len(lines) and lines[index][0] == indent and (lines[index][1] + " ").startswith("- "):
            rest = lines[index][1][1:].strip()
            index += 1
            if rest:
                items.append(scalar(rest))
            elif index < len(lines) and lines[index][0] > indent:
                value, index = _block(lines, index, lines[index][0])
                items.append(value)
            else:
                items.append(None)
        return items, index
    mapping = {}
    while index < len(lines) and lines[index][0] == indent:
        content = lines[index][1]
        key, colon, rest = content.partition(":")
        if not colon or (rest and not rest.startswith((" ", "\t"))):
            raise ValueError(f"not a 'key: value' line: {content!r}")
        key = scalar(key)
        index += 1
        if rest.strip():
            mapping[key] = scalar(rest)
        elif index < len(lines) and (lines[index][0] > indent or
                                     (lines[index][0] == indent and lines[index][1].startswith("-"))):
            mapping[key], index = _block(lines, index, lines[index][0])
        else:
            mapping[key] = None
    return mapping, index


def parse(text):
    """Given YAML text of the shapes above, return its top-level mapping as a dict ({} when empty)."""
    lines = _lines(text)
    if not lines:
        return {}
    value, index = _block(lines, 0, lines[0][0])
    if index != len(lines):
        raise ValueError(f"unexpected indentation at {lines[index][1]!r}")
    return value if isinstance(value, dict) else {}


def read(path):
    """Parse the YAML file at ``path``; {} if it does not exist."""
    try:
        return parse(Path(path).read_text())
    except FileNotFoundError:
        return {}


def fill_with_defaults(config, defaults):
    """Return ``config`` with every key of ``defaults`` it lacks (or has as null) filled in, at every level."""
    merged = dict(config)
    for key, default in defaults.items():
        value = merged.get(key)
        if value is None:
            merged[key] = default
        elif isinstance(value, dict) and isinstance(default, dict):
            merged[key] = fill_with_defaults(value, default)
    return merged


def load_control_config():
    upstream = read(code_folder() / "syscontrol" / "control_config.yaml")
    private = read(private_config_folder() / "private_control_config.yaml")
    return fill_with_defaults(private, upstream)


def private_config_value(key, default=None):
    value = read(private_config_folder() / "private_config.yaml").get(key)
    return default if value is None else value
