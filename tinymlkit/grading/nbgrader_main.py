"""``python -m tinymlkit.grading.nbgrader_main ARGS``: nbgrader's own command line, without two slow steps.

1. Every nbgrader process imports nbformat, whose jsonschema loads ``rfc3987_syntax`` (see
   :mod:`tinymlkit.slow_imports`): about 9 CPU seconds before nbgrader does anything.
2. Each time nbgrader creates a gradebook it runs ``alembic heads`` as a child process to learn the newest
   database migration (``nbgrader.api.get_alembic_version``). That child imports nbgrader again (one of its
   migration scripts does), rfc3987 parsers included: 11-12 s on the development machine, paid by every
   ``generate_assignment`` on a new course and by every grading run's template gradebook.

:func:`prepare` skips the optional import and runs the same ``alembic heads`` command in this process
(alembic's own ``command.heads`` on nbgrader's own temporary ``alembic.ini``), once. Then nbgrader's own
``main()`` runs unchanged, with the same arguments and configuration. Grading in a Dask worker calls
:func:`prepare` too.
"""
from __future__ import annotations

import functools
import io
import sys

__all__ = ["prepare", "alembic_head", "main"]


@functools.lru_cache(maxsize=1)
def alembic_head() -> str:
    """nbgrader's newest gradebook migration, as ``alembic heads`` prints it first (asked once per process)."""
    from alembic import command
    from alembic.config import Config
    from nbgrader.dbutil import _temp_alembic_ini

    out = io.StringIO()
    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:  # the same file nbgrader writes for its child
        command.heads(Config(ini, stdout=out))
    return out.getvalue().split("\n")[0].split(" ")[0]


def prepare() -> None:
    """Skip the slow optional import (if nbformat is not loaded yet) and answer nbgrader's alembic question here."""
    if "nbformat" not in sys.modules:
        from ..slow_imports import skip_slow_imports

        skip_slow_imports("nbgrader run by the kit does not validate IRIs (tinymlkit.grading.nbgrader_main)")
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def main() -> None:
    """Prepare, then run nbgrader's command line on ``sys.argv``."""
    prepare()
    from nbgrader.apps.nbgraderapp import main as nbgrader_main

    nbgrader_main()


if __name__ == "__main__":
    main()
