"""Removal of an auto-remove (``--rm``) container once it has exited, whoever is still there.

docker removes such a container in its daemon, podman has conmon run an exit command; composer's
monitor does it (runtime.executor.supervise.Monitor.hand_over_removal): when the container's
process has exited for good, a child of the monitor waits for the container's *removal claim*
and, unless the claim's holder marked the container as taken care of, becomes the remover: this
script, ``python -I runtime/autoremove.py ROOT RUNDIR ID FD`` (FD: the claim, held).

The claim is an flock on the file ``removal`` in the container's run dir. The creator of an
auto-remove container takes it before the container can run and holds it while it may remove the
container itself (an attached ``run --rm``, which returns only once the container is gone);
a removal takes it when it is free; a restart holds it across its stop. Whoever made the
removal needless writes a word into the file (``removed``, ``restarted``): the waiting child
then exits, after ``removed`` once it deleted what an attached ``run --rm`` left it (the
container's dirs renamed to their trash names, Paths.container_trash: the CLI returns sooner).
A kill of the holder frees the claim with nothing written: the child removes the
container. So there is exactly one removal, and the container goes even when no CLI is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runtime.containers import ContainerManager

CLAIM = "removal"  # the claim's file in the container's run dir (the monitor names it too)
# where in the claim the monitor writes a byte once its waiting child is forked (after the words):
# a removal may then leave that child the container's dirs (container_lifecycle._dirs_to_trash)
WAITED_AT = 64


def claim(run: str, *, wait: bool = False) -> int:
    """The claim of the container whose run dir is *run*, taken (an fd to keep), or -1 when
    another process holds it (without *wait*) or the run dir is gone."""
    try:
        fd = os.open(f"{run}/{CLAIM}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return -1
    return fd


def mark(fd: int, word: bytes) -> None:
    """Say in the claim *fd* that no removal is needed any more (the container is gone, or runs
    again): the monitor's waiting child reads it once the claim is free."""
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.pwrite(fd, word, 0)


def waited_for(fd: int) -> bool:
    """Whether the monitor's child waits for the claim *fd* (held): it deletes the trash of the
    container's dirs once it reads ``removed``."""
    try:
        return os.pread(fd, 1, WAITED_AT) == b"w"
    except OSError:
        return False


def held(mgr: ContainerManager, cid: str) -> int:
    """The claim this process holds for *cid* (taken at its create), or one taken now, free;
    -1 when another process holds it. The caller gives it back with :func:`release`."""
    fd = mgr.claims.pop(cid, -1)
    return fd if fd >= 0 else claim(mgr.paths.container_run(cid))


def release(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def main(argv: list[str]) -> int:
    """The remover: remove container argv[3] of the engine (argv[1], argv[2]) holding the claim
    argv[4]; a container started again meanwhile stays (its monitor hands it over again)."""
    from runtime.engine import Engine
    from runtime.errors import Conflict, EngineError, NotFound
    from runtime.paths import Paths

    root, rundir, cid, fd = argv[1], argv[2], argv[3], int(argv[4])
    engine = Engine(Paths(root=root, rundir=rundir))

    try:
        engine.containers.claims[cid] = fd  # remove() marks it once the row is gone
        engine.containers.remove(cid, force=False, volumes=True)
    except NotFound:  # removed by a CLI killed before it marked the claim: maybe its dirs' trash
        from runtime.trees import remove_trees

        remove_trees(engine.paths.container_trash(cid))
        return 0
    except Conflict:
        return 0
    except EngineError as exc:
        print(f"autoremove {cid[:12]}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv))
