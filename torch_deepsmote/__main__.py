"""``python -m torch_deepsmote`` runs the ``deepsmote`` command."""

import sys

from torch_deepsmote.cli import main

sys.exit(main())
