"""Data sources, one module each, all giving the same thing (paths, labels, split): Speech Commands
(whole or a streamed subset), the synthetic keyword and person sets, COCO visual wake words (from local files, or N photos
fetched: vww_coco_fetch), Wake Vision, image folders, machine sounds, and the shared downloader.

May import: config, errors, files, paths (layer 0), audio and vision (layer 1). Layer 2: the
pipelines, the advanced track and the command line import it.
"""
