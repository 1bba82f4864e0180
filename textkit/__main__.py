"""``python -m textkit ...``: the same as the ``textkit`` console script."""
import sys

from .cli import main

sys.exit(main())
