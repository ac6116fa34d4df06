"""`composer watch` and `up --watch`: develop.watch rules (rules.py, patterns.py), host file
changes through inotify (inotify.py), and the loop that syncs, restarts and execs (driver.py)."""

__all__: list[str] = []
