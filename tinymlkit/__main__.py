"""``python -m tinymlkit``."""
import sys

from .cli import main

sys.exit(main())
