"""The lower layer: plain modules that know settings, Docker, files, SMB and git.

Nothing here imports invoke; the task modules in ``tasks/`` call into these.
"""
