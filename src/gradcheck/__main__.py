"""``python -m gradcheck``: the command line (see :mod:`gradcheck.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
