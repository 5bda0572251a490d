"""Are the hooks working? Whether they are installed, and what failed lately.

A hook never breaks Claude Code, so it fails quietly: exit 0, one line on stderr that
Claude Code shows only in its debug view, an entry in the hooks log. `memrl status` asks
here, so a broken config, a bad environment variable or a read-only store is seen.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from memrl.errors import ConfigError
from memrl.integrations.claude import settings
from memrl.integrations.claude.hooks import LOG_FILE, fallback_log

RECENT = timedelta(hours=24)  # failures this recent are shown
# `<stamp> pid <pid> [data dir "<json path>"] <event> <session>: failed: <reason>`; the data
# dir is named only in the temp-dir log that every store falls back to.
_FAILED = re.compile(
    r'^(\S+) pid \d+ (?:data dir ("(?:[^"\\]|\\.)*") )?(\S+) (\S+): failed: (.*)$', re.M
)


@dataclass(frozen=True, slots=True)
class Failure:
    at: datetime
    event: str
    session: str
    reason: str


@dataclass(slots=True)
class HooksHealth:
    settings: Path
    installed: list[str] = field(default_factory=list)  # events that run memrl's hook
    missing: list[str] = field(default_factory=list)  # events memrl installs, not there
    differ: list[str] = field(default_factory=list)  # another memrl or another store's
    problem: str | None = None  # the settings file cannot be read
    failures: list[Failure] = field(default_factory=list)  # recent, the latest first
    log: Path | None = None  # where the latest failure is told in full

    def as_dict(self) -> dict[str, object]:
        return {
            "settings": str(self.settings),
            "installed": self.installed,
            "missing": self.missing,
            "differ": self.differ,
            "problem": self.problem,
            "recent_failures": [
                {"at": f.at.isoformat(), "event": f.event, "session": f.session, "reason": f.reason}
                for f in self.failures
            ],
            "log": str(self.log) if self.log else None,
        }


def check(root: Path, now: datetime | None = None) -> HooksHealth:
    """The hooks as installed for this user, and this store's hook failures of the last day."""
    health = HooksHealth(settings.settings_path())
    try:
        hooks = settings.read(health.settings).get("hooks", {})
    except ConfigError as exc:
        health.problem = str(exc)
        hooks = {}
    want = settings.wanted()
    for event in settings.HOOKS:
        ours = [
            h["command"]
            for group in hooks.get(event, [])
            if isinstance(group, dict)
            for h in group.get("hooks") or []
            if settings.is_memrl_hook(h)
        ]
        if not ours:
            health.missing.append(event)
            continue
        health.installed.append(event)
        if want[event]["command"] not in ours:
            health.differ.append(event)
    since = (now or datetime.now(UTC)) - RECENT
    root = root.absolute()
    own = root / LOG_FILE
    found = [(f, own) for path in (own.with_name(own.name + ".1"), own) for f in _read(path)]
    found += [(f, fallback_log()) for f in _read(fallback_log(), root)]
    found = sorted((item for item in found if item[0].at >= since), key=lambda item: item[0].at)
    health.failures = [f for f, _ in reversed(found)]
    health.log = found[-1][1] if found else None
    return health


def _read(path: Path, root: Path | None = None) -> list[Failure]:
    """The failures logged in `path`; in the shared temp-dir log, only those of `root`."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for m in _FAILED.finditer(text):
        stamp, where, event, session, reason = m.groups()
        if root is not None and (where is None or Path(json.loads(where)) != root):
            continue
        try:
            at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        out.append(Failure(at, event, session, reason))
    return out
