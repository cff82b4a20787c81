"""`python -m marketdash …`: the command line (marketdash/cli.py)."""

import sys

from marketdash.cli import main

sys.exit(main())
