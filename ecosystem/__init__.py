"""The lower layer: plain modules that know settings, Docker, files, SMB and git.

Nothing here imports invoke; the task modules in ``tasks/`` call into these.
"""
import logging

# a library's part: it logs, the application (a task, the scheduler: ecosystem.logs) decides where to
logging.getLogger(__name__).addHandler(logging.NullHandler())
