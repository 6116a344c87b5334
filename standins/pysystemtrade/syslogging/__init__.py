# set once logging is configured (upstream 1.80: syslogging/__init__.py, read by syslogging.logger.get_logger)
logging_configured = False
