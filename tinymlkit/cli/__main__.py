"""``python -m tinymlkit.cli``."""
import sys

from . import main

sys.exit(main())
