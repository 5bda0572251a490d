"""`python -m memrl.tui [--demo] [--project P] [--review]`: the same app as `memrl tui`."""

from __future__ import annotations

import argparse

from memrl.tui.launch import run

parser = argparse.ArgumentParser(prog="python -m memrl.tui", description=__doc__)
parser.add_argument("--demo", action="store_true", help="open a throwaway seeded store")
parser.add_argument("--project", help="start filtered to this project")
parser.add_argument("--review", action="store_true", help="open on the Review screen")
args = parser.parse_args()
run(demo=args.demo, project=args.project, start="review" if args.review else "browse")
