"""Sound for the keyword track: WAV files, the board's micro features, augmentation, spectral features.

Modules: ``wav`` (read and write with validation, resampling), ``features`` (TensorFlow's
``audio_microfrontend`` op, the board's own front end, and its int8 rule), ``augment`` (background noise,
time shift, loudest second), ``perturb`` (speed, pitch, vocal tract, reverberation), ``spectral``
(log-mel and MFCC for the lessons), ``conditions`` (a clip's level, noise floor, SNR and clipping, for
scores per recording condition).

May import: config, errors, files, tf_quiet (layer 0) and ``runtime``'s quantisation rule (layer 1);
TensorFlow only through ``tf_quiet``. Layer 1: everything from ``board_input`` up may import it.
"""
