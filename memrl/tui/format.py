"""Small formatters shared by the screens: bars, ages and episode markdown (percentages
are memrl.views.pct, shared with the CLI)."""

from __future__ import annotations

from datetime import UTC, datetime

from memrl.views import EpisodeView, Learned, ago, pct

OUTCOME_STYLE = {"success": "green", "partial": "yellow", "failure": "red", "unknown": "dim"}
OUTCOME_MARK = {"success": "✓", "partial": "◐", "failure": "✗", "unknown": "○"}


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def bar(x: float, width: int = 5) -> str:
    """A bar with eighth blocks, so small differences in utility show."""
    eighths = round(max(0.0, min(1.0, x)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")).ljust(width, " ")


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def learned_line(learned: Learned) -> str:
    parts = [
        f"utility **{pct(learned.utility)}**",
        f"own evidence {pct(learned.q)}",
        f"from neighbours {learned.p * 100:+.0f} pts",
        f"confidence {pct(learned.confidence)}",
    ]
    if learned.decay < 0.995:
        parts.append(f"decayed ×{learned.decay:.2f}")
    return " · ".join(parts)


def _items(title: str, items: list[str], code: bool = False) -> list[str]:
    if not items:
        return []
    fmt = (lambda s: f"- `{s}`") if code else (lambda s: f"- {s}")
    return [f"### {title}", *map(fmt, items), ""]


def episode_markdown(view: EpisodeView, now: float) -> str:
    """The detail pane: what the episode knows, then what memrl learned about it."""
    ep, learned = view.episode, view.learned
    flags = []
    if ep.pinned:
        flags.append("◆ pinned")  # an emoji's width differs between terminals
    if view.archived:
        flags.append("archived")
    if ep.merged_from:
        flags.append(f"merged from {len(ep.merged_from)}")
    head = f"`{ep.short_id}` · {ep.project or 'no project'} · {ep.task_type.value} · "
    head += (
        f"{OUTCOME_MARK[ep.outcome.value]} {ep.outcome.value} · {day(ep.created_at.timestamp())}"
    )
    head += f" ({ago(ep.created_at.timestamp(), now)})"
    lines = [
        f"## {ep.task or ep.title}",
        "",
        head + ("  \n" + " · ".join(flags) if flags else ""),
        "",
    ]
    lines += [ep.summary, ""]
    lines += _items("What worked", ep.what_worked)
    lines += _items("What failed", ep.what_failed)
    if ep.errors_resolved:
        lines.append("### Errors resolved")
        for e in ep.errors_resolved:
            lines.append(f"- `{e.error}`" + (f" → {e.resolution}" if e.resolution else ""))
        lines.append("")
    lines += _items("Files", ep.files, code=True)
    lines += _items("Commands", ep.commands, code=True)
    if ep.tags:
        lines += [" ".join(f"`#{t}`" for t in ep.tags), ""]
    lines += [
        "### Learned",
        learned_line(learned),
        "",
        f"retrieved {learned.retrievals}× · rated helpful {learned.helpful}× · "
        f"unhelpful {learned.unhelpful}×"
        + (f" · last used {ago(learned.last_used_at, now)}" if learned.last_used_at else ""),
    ]
    return "\n".join(lines)
