"""``python -m tinymlkit.grading.nbgrader_main ARGS``: nbgrader's own command line, started without a slow import.

Every nbgrader process imports nbformat, whose jsonschema loads ``rfc3987_syntax`` (see
:mod:`tinymlkit.slow_imports`): about 9 CPU seconds before nbgrader does anything, once per submission when
a class is graded in parallel (each submission is its own ``nbgrader autograde``). Here that optional package
is skipped and nbgrader's own ``main()`` runs unchanged, with the same arguments and configuration.
"""
from __future__ import annotations


def main() -> None:
    """Skip the slow optional import, then run nbgrader's command line on ``sys.argv``."""
    from ..slow_imports import skip_slow_imports

    skip_slow_imports("nbgrader processes the kit starts do not validate IRIs (tinymlkit.grading.nbgrader_main)")
    from nbgrader.apps.nbgraderapp import main as nbgrader_main

    nbgrader_main()


if __name__ == "__main__":
    main()
