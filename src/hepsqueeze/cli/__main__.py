"""``python -m hepsqueeze.cli``."""

import sys

from hepsqueeze.cli import main

sys.exit(main())
