"""Images for the person detector: loading, preprocessing, camera pixel formats, int8 input.

Sub-modules: ``image_io`` (read and write files, EXIF), ``preprocess`` (crop, resize, grayscale),
``pixels`` (the raw frames the sketches send), ``int8_input`` (pixels to the model's int8 input).

May import: errors and files (layer 0) only; it sits in layer 1 with ``audio`` and ``board``, and
anything from layer 2 up may import it.
"""
