"""`python -m marketdash …`: the command line (marketdash/cli/)."""

import sys

from marketdash.cli import main

sys.exit(main())
