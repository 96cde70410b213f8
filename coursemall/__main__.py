"""Command line: `python -m coursemall <command>`.

  migrate   apply database migrations (alembic upgrade head)
  seed      in demo mode, create the demo shop and its accounts (idempotent; production: nothing)
  banner    print where the shop runs: the demo sign-ins, or a new shop's one-time setup link
  setup-link  print a new one-time setup link for a shop not set up yet (older links stop working)
  check     the go-live check: what a production shop must still fix; exit 1 while anything blocks
            (check [--lang zh_CN|en])
  backup    write a backup archive (database + media): backup [--out FILE]
  restore   restore a backup archive into the configured data folder: restore FILE [--force]
  export    export orders, learners and courses as JSON/CSV: export [--out DIR] [--format json|csv]
"""

from __future__ import annotations

import sys

from coursemall.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
