"""Privacy on the device, measured: the image-minimisation study (``minimise``).

The keyword obfuscator trained against a speaker-ID adversary (issue 18, item 1) is not built yet.

May import: errors, runtime, vision (layers 0-1); only the notebooks import it.
"""
