"""`python -m eems_check`: the same as the `eems-check` command."""

import sys

from .cli import main

sys.exit(main())
