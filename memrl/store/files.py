"""Episode files: atomic writes and the on-disk layout.

`episodes/YYYY-MM-DD/<id>.json` are the source of truth; `archive/YYYY-MM-DD/<id>.json`
holds pruned and merged-away episodes. A write is a temp file in the same folder,
fsync, rename: a reader (or a crash) sees the old file or the new one, never half.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from memrl.errors import StoreError

EPISODES = "episodes"
ARCHIVE = "archive"
TMP_PREFIX = ".tmp-"
IMPORTING = ".import.lock"  # held (shared) by every import under way
LEFTOVER_AGE = 60.0  # seconds before a temp file counts as left behind by a killed writer


def explain(exc: OSError, path: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"no space left to write {path}; free some disk space and retry")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(
            f"cannot write {path}: the data directory is read-only or not yours. "
            "Fix its permissions or point MEMRL_DATA_DIR elsewhere."
        )
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


def check_writable(folder: Path) -> None:
    """Raise StoreError, with the fix, unless a file can be made in `folder`: a read-only
    store reads as healthy, and only the first capture would fail."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise explain(exc, folder) from None


class Spool:
    """Lines parked on disk: an unnamed file in the data dir, gone when closed or on a crash."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.file = tempfile.TemporaryFile("w+", encoding="utf-8", dir=root)  # noqa: SIM115 (closed by __exit__)
        except OSError as exc:
            raise explain(exc, root) from None

    def add(self, line: str) -> None:
        try:
            self.file.write(line + "\n")
        except OSError as exc:
            raise explain(exc, self.root) from None

    def __iter__(self) -> Iterator[str]:
        self.file.seek(0)
        return iter(self.file)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.file.close()


@contextmanager
def importing(root: Path) -> Iterator[None]:
    """Mark an import under way (a shared lock, so imports at once all hold it) until it
    ends or its process dies, for `import_running` in other processes."""
    import fcntl

    try:
        fd = os.open(root / IMPORTING, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only store: the import itself says so when it writes
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


EMPTY_STORE = "the memory is empty: capture an episode first"


def empty_store_note(root: Path) -> str:
    """What to say of a store with nothing in it: empty, or an import about to fill it."""
    if import_running(root):
        return (
            "nothing is stored yet: a `memrl import` under way stores its first episodes "
            "within a minute; search again then"
        )
    if uncatalogued(root):
        return (
            f"no episode is catalogued, but episode files are in {root / EPISODES} (memrl.db "
            "deleted? files copied in? an import stopped early?): run `memrl index` to read "
            "them, or that import again"
        )
    return EMPTY_STORE


def uncatalogued(root: Path) -> bool:
    """Is there any episode file on disk? Asked of a store whose catalog holds none."""
    try:
        return next((root / EPISODES).glob("*/*.json"), None) is not None
    except OSError:
        return False


def import_running(root: Path) -> bool:
    """Whether a `memrl import` is under way on this store, in any process."""
    import fcntl

    try:
        fd = os.open(root / IMPORTING, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextmanager
def replacing(path: Path, mode: str = "w", *, durable: bool = True) -> Iterator[IO[Any]]:
    """A file written beside `path` that replaces it only once the block completes: a
    reader, a crash or an error sees the old file or the new one, never half of it.

    Only a regular file is replaced, keeping its permissions. A symlink is followed, so
    the file it points to changes and the link stays (a dotfiles repo). Anything else (a
    terminal, a pipe, `/dev/null`, `/dev/stdout`) is written to in place: a file put in
    its place would break it for every program. Raises OSError."""
    encoding = None if "b" in mode else "utf-8"
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
        return
    target = Path(os.path.realpath(path))
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
    try:
        if st is not None:
            os.chmod(tmp_name, stat.S_IMODE(st.st_mode))
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path, "wb", durable=durable) as fh:
            fh.write(data)
    except OSError as exc:
        raise explain(exc, path) from None


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def move(src: Path, dst: Path) -> None:
    """Rename within the data dir (episodes/ <-> archive/): atomic on one filesystem."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    except OSError as exc:
        raise explain(exc, dst) from None


@dataclass(frozen=True, slots=True)
class FileEntry:
    id: str
    rel: str  # relative to the data dir, as the catalog records it
    path: str
    archived: bool
    mtime_ns: int
    size: int


def scan(root: Path, leftovers: list[Path] | None = None) -> Iterator[FileEntry]:
    """Every episode file under episodes/ and archive/, with stat data, without reading it.

    Temp files that a killed writer left behind (a minute old or more: a live write takes
    milliseconds) are added to `leftovers` when it is given.
    """
    stale = time.time() - LEFTOVER_AGE
    for folder, archived in ((EPISODES, False), (ARCHIVE, True)):
        base = root / folder
        try:
            days = list(os.scandir(base))
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            raise StoreError(
                f"{base} is a file where memrl keeps a folder of episode files: move it "
                "aside, then run `memrl index` (episodes/ and archive/ hold YYYY-MM-DD/<id>.json)."
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot read {base}: {exc.strerror}") from None
        for day in days:
            if not day.is_dir():
                continue
            try:
                entries = list(os.scandir(day.path))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot read {day.path}: {exc.strerror}") from None
            for entry in entries:
                name = entry.name
                try:
                    if name.startswith(TMP_PREFIX):
                        if leftovers is not None and entry.stat().st_mtime < stale:
                            leftovers.append(Path(entry.path))
                        continue
                    if not name.endswith(".json") or name.startswith("."):
                        continue
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                rel = f"{folder}/{day.name}/{name}"
                yield FileEntry(name[:-5], rel, entry.path, archived, st.st_mtime_ns, st.st_size)


def dir_size(root: Path | str, skip: Collection[str] = ()) -> int:
    """Bytes in the files under `root`, leaving out its entries named in `skip`."""
    total = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        if entry.name in skip:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                total += dir_size(entry.path)
            else:
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass
    return total
