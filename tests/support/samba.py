"""The tests' smbd: the shipped stand-in SMB target (standins/smb_target.py)."""
from standins.smb_target import SambaServer, start_samba  # noqa: F401
