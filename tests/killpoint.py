"""A child process that SIGKILLs itself at one step of the runtime or the CLI, as a user's kill -9
at that moment: tests run a verb through it and then check what the next command sees.

DIE_AT is Python source defining ``die_at("before|after module.Attr.name")``: it wraps that
step (a module, then attributes: a class, a module it uses) so that the process kills itself
right before or right after it. A test's child script is DIE_AT plus what it runs."""

from __future__ import annotations

import textwrap

DIE_AT = textwrap.dedent("""
    import importlib, os, signal, sys

    def die_at(spec):
        when, point = spec.split(" ")
        *path, name = point.split(".")
        owner = importlib.import_module(path[0])
        for i, part in enumerate(path[1:], 2):
            owner = getattr(owner, part, None) or importlib.import_module(".".join(path[:i]))
        step = getattr(owner, name)
        def step_and_die(*args, **kw):
            if when == "after":
                step(*args, **kw)
            os.kill(os.getpid(), signal.SIGKILL)
        setattr(owner, name, step_and_die)
""")
