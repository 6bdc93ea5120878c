"""Files holding secrets or data (the token file, the SQLite database), created so that no other
local user can plant, redirect or read them.

New files are created exclusively (O_EXCL), never through a symlink (O_NOFOLLOW), mode 0600.
Replacing a file writes a fresh temporary file beside it and renames it over the old name:
rename replaces a symlink rather than following it, and in a sticky directory such as /tmp it
cannot replace another user's file. A file is trusted only if it is a regular file (not a
symlink), owned by this user and not accessible to group or others.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeFile(RuntimeError):
    """A path this server will not read or write; the message says why and what to do."""


def create_exclusive(path: Path, content: bytes = b"") -> None:
    """Create `path` (0600) with `content`; fails if anything, even a dangling symlink, is there."""
    fd = os.open(path, _CREATE, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_private(path: Path, content: bytes) -> None:
    """Write `content` to `path` through an exclusive temporary file and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    create_exclusive(tmp, content)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UnsafeFile(
            f"cannot replace {path} ({exc.strerror}); it was not written by this server: "
            "remove it or choose another --db/--token-file"
        ) from None


def problem(st: os.stat_result, *, allow_readable: bool = False) -> str:
    """Why a file with this lstat/fstat may not be trusted ('' when it may)."""
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return f"is owned by uid {st.st_uid}, not by this user ({os.geteuid()})"
    mask = 0o022 if allow_readable else 0o077
    if st.st_mode & mask:
        return f"has mode {stat.S_IMODE(st.st_mode):04o} (group/other access)"
    return ""


def read_trusted(path: Path) -> str | None:
    """The text of `path` if it exists and may be trusted, else None (never follows a link)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None  # missing, or a symlink (ELOOP)
    try:
        if problem(os.fstat(fd)):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(64 * 1024).decode("utf-8", "replace")
    finally:
        os.close(fd)


def private_dir(path: Path) -> Path:
    """`path` as a directory only this user can enter (created 0700 when missing)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise UnsafeFile(f"{path} is not a private directory of this user (or is a symlink)")
    return path


def ensure_db_file(path: str) -> None:
    """Create a new SQLite file 0600 before SQLite does (it would use the umask); SQLite gives
    its -wal and -shm files the database file's mode. An existing file is the user's own."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        create_exclusive(Path(path))
    except (FileExistsError, FileNotFoundError):
        return  # there already, or no such folder (SQLite then says so itself)
