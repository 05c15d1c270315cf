"""``python -m torch_deepsmote`` runs the ``deepsmote`` command."""

import sys

from .cli import main

sys.exit(main())
