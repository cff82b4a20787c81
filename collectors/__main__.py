"""`python -m collectors …`: the command line's old name (a contract: cron jobs and scripts call it), which runs
`marketdash.cli` unchanged."""

import sys

from marketdash.cli import main

sys.exit(main(prog="python -m collectors"))
