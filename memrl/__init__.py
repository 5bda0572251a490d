"""memrl: a memory that learns, for Claude Code.

The package root stays import-cheap: `memrl --help` must not pay for LanceDB,
the model runtime or Textual. Import `memrl.memory.Memory` for the one API every front-end uses.
"""

__version__ = "0.1.0"
