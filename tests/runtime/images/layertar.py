"""Build layer tarballs entry by entry for the tests (tarfile, no files on disk needed)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


class LayerTar:
    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tf = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def _info(self, name: str, type_: bytes, **kw: object) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = int(kw.pop("mode", 0o755 if type_ == tarfile.DIRTYPE else 0o644))  # type: ignore[call-overload]
        ti.mtime = int(kw.pop("mtime", 1_000_000))  # type: ignore[call-overload]
        for k, v in kw.items():
            setattr(ti, k, v)
        return ti

    def dir(self, name: str, **kw: object) -> LayerTar:
        self.tf.addfile(self._info(name, tarfile.DIRTYPE, **kw))
        return self

    def file(self, name: str, data: bytes = b"x", **kw: object) -> LayerTar:
        ti = self._info(name, tarfile.REGTYPE, **kw)
        ti.size = len(data)
        self.tf.addfile(ti, io.BytesIO(data))
        return self

    def symlink(self, name: str, target: str) -> LayerTar:
        self.tf.addfile(self._info(name, tarfile.SYMTYPE, linkname=target, mode=0o777))
        return self

    def hardlink(self, name: str, target: str) -> LayerTar:
        self.tf.addfile(self._info(name, tarfile.LNKTYPE, linkname=target))
        return self

    def chardev(self, name: str, major: int, minor: int) -> LayerTar:
        self.tf.addfile(self._info(name, tarfile.CHRTYPE, devmajor=major, devminor=minor, mode=0o666))
        return self

    def bytes(self) -> bytes:
        self.tf.close()
        return self.buf.getvalue()

    def write(self, path: Path) -> Path:
        path.write_bytes(self.bytes())
        return path
