"""STAND-IN of upstream's sysproduction/linux/scripts/run.py: ``python3 run.py package.module.function``.

As upstream (1.80: resolve_func, then the call): the argument is split at its last dot into a
module, imported with importlib (so the code folder must be on PYTHONPATH, as upstream's
~/.profile sets it), and a function of it, which is called. Upstream asks interactively for any
arguments the function has; every stand-in process takes none, so it is called with none.
"""
import importlib
import sys


def resolve_func(func_reference_name):
    module_name, dot, function_name = func_reference_name.rpartition(".")
    if not dot:
        raise Exception(f"{func_reference_name} should include filename as well as function e.g. "
                        "filename.funcname or module.filename.funcname")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise Exception(
            f"NOT FOUND: Module {module_name} specified for function reference {func_reference_name}\n"
        ) from exc
    function = getattr(module, function_name, None)
    if function is None:
        raise Exception(f"NOT FOUND: function {function_name} in module {module} specified for function "
                        f"reference {func_reference_name}")
    return function


if __name__ == "__main__":
    if len(sys.argv) == 1:
        print("Enter the name of a function with full pathname eg systems.basesystem.System")
        sys.exit()
    resolve_func(sys.argv[1])()
