"""``python -m ppsolve.train``: see ``ppsolve.train.cli``."""
import sys

from .cli import main

sys.exit(main())
