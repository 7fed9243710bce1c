"""From a model to a sketch: the generated C files, the sketch checker, the kit's sketches, the op table.

Modules (import them by name; this package itself imports nothing, so ``inspect`` may use ``ops``):

- ``render``: the C text of ``model_data.cc/.h``, ``model_settings.h`` and ``model_ops.h``, escaped,
  with the generated-file marker;
- ``write``: ``export_model``, writing those files into a sketch folder all or none;
- ``c_source``: reading a sketch's C sources (comments, constants, strings, embedded model arrays);
- ``checks``: ``check_sketch`` (one function per check) and ``fix_sketch``;
- ``sketches``: the kit's Arduino sketches and their host-side include checks;
- ``ops``: the TFLM op table of the pinned Arduino library (resolver methods, op versions).

May import: config, errors, files, tflite_file, runtime, vision (the pixel table), inspect (the arena
measurement) and each other; never pipelines or anything above them.
"""
