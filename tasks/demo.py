"""`invoke demo`: a compressed trading week on the shipped stand-ins, with a timeline and a verdict."""
import os
import shutil
import tempfile
from pathlib import Path

from invoke import Exit

from ecosystem import base_images, engine
from ecosystem.errors import EcosystemError

from ._common import ROOT, ecosystem_task


@ecosystem_task(record=False, help={"keep": "leave the demo's stack and folder in place to look around "
                                            "(remove them with the printed commands)"})
def demo(c, keep=False):
    """Run a compressed trading week on the stand-ins, print its timeline and a verdict, clean up.

    No broker account or private repository is needed: the scheduler opens the window, the day's
    processes and the evening chain run, then backup, offload, reports and a restore drill."""
    from standins import demo as demos  # here: every other task loads faster without it

    def say(text):
        print(text, flush=True)

    client = engine.connect()
    base = base_images.python_base(client, os.environ.get("PYTHON_BASE_IMAGE", "python:3.10-slim-bookworm"), say=say)
    folder = Path(tempfile.mkdtemp(prefix="pysystemtrade-demo-"))
    folder.chmod(0o755)  # the stand-in processes' user reads the repository's private folder below it
    ws = demos.workspace(ROOT, folder)
    checks, timeline, failure, left, made = [], [], None, [], []
    out = Path(tempfile.mkdtemp(prefix="pysystemtrade-demo-output-"))
    try:
        demos.prepare(client, ws, base_image=base, say=say)
        say(f"demo ecosystem {ws.suffix} in {folder}: building the images, setting up, starting the stack")
        ws.run("build")
        ws.run("setup")
        demos.write_behaviour(ws)
        ws.run("up")
        demos.seed(client, ws)
        say("the week, as the scheduler runs it (simulated clock; each job runs for real):")
        timeline = demos.week(ws, say=say, client=client)
        checks = demos.verdict(ws, timeline)
        made = demos.outputs(ws, out, say)
    except demos.DemoFailed as exc:
        failure = f"{exc}\n" + "\n".join(exc.output.strip().splitlines()[-15:])
    except EcosystemError as exc:
        failure = str(exc)
    except Exception as exc:  # noqa: BLE001 - the engine, smbd, a file: say what, clean up all the same
        failure = f"{type(exc).__name__}: {exc}"
    finally:  # also after Ctrl-C: whatever was made goes
        if not keep:
            say("cleaning up: the demo's containers, network, volumes, images and folder")
            left = demos.remove(client, ws)
    if not made:
        shutil.rmtree(out, ignore_errors=True)  # nothing was put there: no empty folder left behind
    print()
    print("verdict:")
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.what}: {check.detail}")
    if not keep:
        print(f"  {'PASS' if not left else 'FAIL'}  nothing left behind: " +
              (", ".join(left) if left else "no container, volume, network, image, smbd or folder of the demo"))
    if made:
        print(f"\nthe last day's brief and a picture of the status page: {', '.join(str(p) for p in made)}")
    if keep:
        kept = demos.leftovers(client, ws.suffix)
        print(f"\nkept (--keep), for you to look around: the folder {folder}; on the engine: {', '.join(kept)}" +
              (f"; the stand-in smbd (process {ws.smb.process.pid})" if ws.smb and ws.smb.process else ""))
        print(f"  look: ECOSYSTEM_ENV_FILE={ws.env_file} invoke status (its scheduler is not running: the demo's "
              f"ran on a simulated clock); the page: http://127.0.0.1:{ws.settings.status_page_port}/")
        print(f"  remove: ECOSYSTEM_ENV_FILE={ws.env_file} invoke down, then docker volume rm and docker image rm "
              f"of the names above, rm -r {folder}" +
              (f", kill {ws.smb.process.pid}" if ws.smb and ws.smb.process else ""))
    if failure:
        raise Exit(f"demo failed: {failure}", code=1)
    if not checks or not all(c.ok for c in checks) or left:
        raise Exit("demo: FAILED (see the verdict above)", code=1)
    if keep:
        print("\ndemo: PASSED - this host runs the ecosystem and its backups restore; what it made is kept (above)")
        return
    print("\ndemo: PASSED - this host runs the ecosystem, its backups restore, and nothing was left behind"
          + (f" but its output folder {out}" if made else ""))
