"""The Textual front-end: browse, search, rate, edit, merge, prune and review episodes.

Only this package imports textual; the core never does.
"""
