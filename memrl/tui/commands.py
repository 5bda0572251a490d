"""Command palette entries: every action of the TUI, named and explained, with its key."""

from __future__ import annotations

from textual.screen import Screen

# (title, help, action, where): where is "app", "episode" (a screen showing episodes)
# or "browse"; actions without a namespace run on the screen.
ENTRIES = [
    (
        "Search episodes",
        "Search as you type, ranked as Claude sees them  (key /)",
        "app.search",
        "app",
    ),
    (
        "Feedback session",
        "Rate what was retrieved but never rated  (key f)",
        "app.feedback_session",
        "app",
    ),
    (
        "Review",
        "Step through duplicates, stale and never-used episodes  (key r)",
        "app.review",
        "app",
    ),
    (
        "Prune",
        "Archive old, low-utility episodes, with the reason for each  (key P)",
        "app.prune",
        "app",
    ),
    ("Overview", "Utility histogram, captures per day, projects  (key o)", "app.overview", "app"),
    (
        "Undo",
        "Undo the last rating, archive, prune, merge, pin or edit  (key u)",
        "app.undo",
        "app",
    ),
    ("Refresh", "Re-read the store now  (key ctrl+r)", "app.refresh", "app"),
    (
        "Update the search index",
        "Embed the episodes it lacks or that changed; rebuild it if damaged  (key I)",
        "app.rebuild_index",
        "app",
    ),
    (
        "Rebuild the search index",
        "Re-embed every episode from scratch, as `memrl index --rebuild` does",
        "app.rebuild_index(True)",
        "app",
    ),
    ("Mark helpful", "Rate the selected episodes helpful  (key +)", "rate(True)", "episode"),
    ("Mark unhelpful", "Rate the selected episodes unhelpful  (key -)", "rate(False)", "episode"),
    (
        "Pin / unpin",
        "Protect from decay and pruning, or stop protecting  (key p)",
        "pin",
        "episode",
    ),
    (
        "Archive",
        "Move the selected episodes to the archive, after confirming  (key a)",
        "archive",
        "episode",
    ),
    (
        "Restore",
        "Bring the selected archived episodes back into the store and search  (key a)",
        "restore",
        "episode",
    ),
    ("Edit", "Edit the episode's fields in a form  (key e)", "edit", "episode"),
    (
        "Edit in $EDITOR",
        "Edit the episode as JSON in your editor  (key E)",
        "edit_external",
        "episode",
    ),
    (
        "Utility curve",
        "The episode's utility over time, with its events  (key c)",
        "curve",
        "episode",
    ),
    (
        "Propagation graph",
        "The episode's neighbours and the value flowing each way  (key g)",
        "graph",
        "episode",
    ),
    (
        "Mark for merge",
        "Mark or unmark the episode under the cursor  (key space)",
        "mark",
        "browse",
    ),
    ("Merge marked", "Merge the marked episodes into one  (key m)", "merge", "browse"),
    ("Sort", "Sort by the next column; S reverses  (key s)", "sort", "browse"),
    (
        "Archived episodes",
        "List the archived episodes (a restores them), or the live ones again  (key A)",
        "toggle_archived",
        "browse",
    ),
    (
        "Filter",
        "Filter by project, outcome or tag  (tab moves between panes)",
        "focus_filters",
        "browse",
    ),
]


def entries(screen: Screen) -> list[tuple[str, str, str]]:
    from memrl.tui.screens.base import EpisodeActions, FormScreen
    from memrl.tui.screens.browse import BrowseScreen

    out = []
    for title, help_text, action, where in ENTRIES:
        name = action.removeprefix("app.").partition("(")[0]
        if isinstance(screen, FormScreen) and name in screen.APP_ACTIONS_OFF:
            continue  # a form's keys are text; its palette offers no more than they do
        if where == "episode" and not isinstance(screen, EpisodeActions):
            continue
        if where == "browse" and not isinstance(screen, BrowseScreen):
            continue
        if where != "app" and screen.check_action(action.partition("(")[0], ()) is False:
            continue  # as the footer: archive on live episodes, restore on archived ones
        out.append((title, help_text, action))
    return out
