"""STAND-IN of pysystemtrade's sysproduction/startup.py: the cold-start routine.

Marks every process finished and clears the IB client ids, as upstream's startup() does (1.80:
dataControlProcess().finish_all_processes(), which skips records not marked running, then
dataBrokerClientIDs().clear_all_clientids()).
"""
from sysproduction.data.control_process import _store, dataControlProcess


def startup():
    dataControlProcess().finish_all_processes()
    with _store(write=True) as data:
        data["ib_client_ids"] = []
        data["startups"] = data.get("startups", 0) + 1
    print("startup (stand-in): all processes marked finished, IB client ids cleared", flush=True)


if __name__ == "__main__":
    startup()
