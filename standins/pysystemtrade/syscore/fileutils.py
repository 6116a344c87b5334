"""STAND-IN of the path resolution in pysystemtrade's syscore/fileutils.py.

Upstream (1.80: resolve_path_and_filename_for_package, get_resolved_pathname,
transform_path_into_list) treats '.', '/' and '\\' alike as separators, so a path may be
written in package notation: 'syslogging.logging_prod.yaml' is the file logging_prod.yaml in
the package syslogging's folder; '/data/logging.yaml' is absolute. The last two parts of a
file name are its name and extension, so a folder whose name holds a dot is split there
('/home/me/my.dir/x.yaml' resolves to /home/me/my/dir/x.yaml): as upstream does.
"""
import os
import re
from importlib import import_module


def _parts(pathname):
    parts = re.split(r"[./\\]", str(pathname))
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _join(parts):
    if parts[0] == "":  # absolute: it began with a separator
        return os.path.sep + os.path.join(*parts[1:]) if len(parts) > 1 else os.path.sep
    if parts[0].endswith(":"):  # a Windows drive
        return os.path.join(parts[0] + "\\", *parts[1:])
    # relative: the first part is a package, importable here
    folder = os.path.dirname(import_module(parts[0]).__file__)
    return os.path.join(folder, *parts[1:])


def get_resolved_pathname(pathname):
    if "@" in str(pathname):  # an rsync address: left alone, as upstream does
        return str(pathname)
    return _join(_parts(pathname))


def resolve_path_and_filename_for_package(path_and_filename):
    parts = _parts(path_and_filename)
    extension, name = parts.pop(), parts.pop()
    return os.path.join(_join(parts), f"{name}.{extension}")
