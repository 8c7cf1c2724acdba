"""``python -m streams.cli …``: the ``carpass`` command without the installed entry point."""

import sys

from streams.cli import main

sys.exit(main())
