"""The design card's task collections that are not built yet.

Each exists so `invoke --list` shows the whole shape of the tool; running one
says plainly that it is not built yet and which issue brings it, and exits 1.
"""
from invoke import Collection, Exit, Task

PENDING = {
    "demo": ("run a compressed trading week on the stand-ins and print a verdict", 8),
}


def _pending_task(name: str, what: str, issue: int) -> Task:
    def body(c):
        raise Exit(f"invoke {name}: not built yet ({what}); it arrives with issue #{issue}", code=1)

    body.__name__ = name.rpartition(".")[2]
    body.__doc__ = f"Not yet: {what} (issue #{issue})."
    return Task(body, name=body.__name__)


def add_pending(ns: Collection) -> None:
    """Add every not-yet-built task to ``ns``, dotted names as sub-collections."""
    for name, (what, issue) in PENDING.items():
        collection_name, _, task_name = name.rpartition(".")
        target = ns
        if collection_name:
            target = ns.collections.get(collection_name) or Collection(collection_name)
            if collection_name not in ns.collections:
                ns.add_collection(target)
        target.add_task(_pending_task(name, what, issue))
