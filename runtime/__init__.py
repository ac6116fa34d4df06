"""runtime: composer's embedded, daemonless container engine. Never imports composer/.

Keep this module light: the monitor imports runtime.* under `python -I -S` (standard library only),
so nothing here may import a third-party package at import time.
"""

__all__ = ["errors", "paths", "spec"]
