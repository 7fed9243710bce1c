"""Grading the labs: nbgrader's own commands, made safe to hand back and fast enough for a class.

What is here, and what it may import (it sits at the top, beside the command line; it never imports
TensorFlow itself, and nothing below it imports it):

- ``env``: how to run nbgrader from this Python without an activated virtual environment.
- ``rules``: checks a lab can run on a student's functions ("numpy only").
- ``labs``: helpers the labs' setup cells call (kept out of the notebooks).
- ``nbgrader_plugins``: nbgrader preprocessors: a per-notebook time budget, test-cell restoring without
  checksum noise, and feedback with hidden tests (source, seeds, tracebacks) removed.
- ``tamper``: what a submission changed in the cells it may not change, compared with the release.
- ``submissions``: finding submissions (nbgrader's folders, the exchange, a folder of ``<id>.ipynb``).
- ``forked_kernels``: graded kernels forked from a server that has imported what the labs import (a kernel spec
  on ``JUPYTER_PATH`` sends jupyter_client's kernel starts to it).
- ``autograde``: one submission graded by ``nbgrader autograde`` in its own course copy and gradebook.
- ``merge``: one graded submission written into the instructor's gradebook.
- ``parallel``: a whole class on a Dask cluster, idempotently, with a summary table.
"""
