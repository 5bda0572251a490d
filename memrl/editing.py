"""A round trip through the person's editor ($VISUAL, then $EDITOR, then vi).

The CLI's `memrl edit` and the TUI's `E` both hand an episode to the editor this way;
the TUI wraps the editor run in `App.suspend` through `around`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from memrl.errors import InvalidInput


def editor() -> str:
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


def edit_text(
    text: str,
    *,
    prefix: str,
    around: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
) -> tuple[int, str]:
    """The editor's exit status and the text it left (bytes it could not decode kept as
    surrogates, for the caller's validation to name). The temporary file is removed."""
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", prefix=prefix, delete=False, encoding="utf-8"
    ) as fh:
        fh.write(text)
        path = Path(fh.name)
    try:
        with around():
            try:
                status = subprocess.call([*shlex.split(editor()), str(path)])
            except (OSError, ValueError) as exc:  # not found, not executable, bad quoting
                raise InvalidInput(
                    f"cannot run the editor {editor()!r} ({getattr(exc, 'strerror', exc)}); "
                    "set $EDITOR (or $VISUAL) to an editor on PATH. Nothing was changed."
                ) from None
        return status, path.read_text(encoding="utf-8", errors="surrogateescape")
    finally:
        path.unlink(missing_ok=True)
