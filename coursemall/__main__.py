"""Command line: `python -m coursemall <command>`.

  migrate   apply database migrations (alembic upgrade head)
  seed      create the owner account and, in demo mode, the demo shop (idempotent)
  banner    print where the shop runs and the demo sign-ins
  backup    write a backup archive (database + media): backup [--out FILE]
  restore   restore a backup archive into the configured data folder: restore FILE [--force]
  export    export orders, learners and courses as JSON/CSV: export [--out DIR] [--format json|csv]
"""

from __future__ import annotations

import sys

from coursemall.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
