"""The task tree: the one place that assembles every collection into invoke's namespace.

``tasks.py`` and the ``tasks/`` folder share a name. Invoke loads this file as
the module ``tasks``; plain ``import tasks`` finds this file too, because
``tasks/`` has no ``__init__.py``. Setting ``__path__`` below makes this module
the package of the task modules in ``tasks/``, so both see one namespace.
"""
import os

__path__ = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")]

from invoke import Collection

from tasks import (
    backup,
    brief,
    build,
    config,
    demo,
    doctor,
    eod,
    gateway,
    history,
    offload,
    pipelines,
    plan,
    processes,
    recover,
    reports,
    restore,
    scheduler,
    service,
    setup,
    stack,
    weekly,
)

ns = Collection()
ns.add_task(config.config)
ns.add_task(doctor.doctor)
ns.add_task(history.history)
ns.add_task(plan.plan)
ns.add_task(build.build)
ns.add_task(build.rollback)
ns.add_task(setup.setup)
for verb in (stack.up, stack.down, stack.status, stack.logs, processes.launch, processes.stop, processes.shell):
    ns.add_task(verb)
ns.add_task(eod.eod)
ns.add_task(backup.backup)
ns.add_task(backup.backups_)
ns.add_task(restore.restore)
ns.add_task(restore.resume)
ns.add_task(recover.recover)
ns.add_task(reports.reports)
ns.add_task(offload.offload)
ns.add_task(pipelines.nightly)
ns.add_task(pipelines.weekend)
ns.add_task(scheduler.run_scheduler)
ns.add_task(scheduler.show_schedule)
ns.add_task(service.install_service)
ns.add_collection(Collection("gateway", gateway.status, gateway.login, gateway.weekly_login))
ns.add_collection(Collection("weekly", weekly.sync, weekly.open_, weekly.close))
ns.add_task(brief.brief)
ns.add_task(demo.demo)
