"""The closed vocabularies of an episode, importable without pydantic (the CLI's help uses them)."""

from enum import StrEnum


class Outcome(StrEnum):
    success = "success"
    partial = "partial"
    failure = "failure"
    unknown = "unknown"


class TaskType(StrEnum):
    bugfix = "bugfix"
    feature = "feature"
    refactor = "refactor"
    test = "test"
    docs = "docs"
    research = "research"
    debug = "debug"
    setup = "setup"
    unknown = "unknown"


class Source(StrEnum):
    cli = "cli"
    mcp = "mcp"
    hook = "hook"
    tui = "tui"
    imported = "import"
