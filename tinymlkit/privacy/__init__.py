"""Privacy on the device, measured: the image-minimisation study (``minimise``) and the keyword obfuscator
(a small code per clip, optionally trained against a speaker-ID adversary), judged by fresh attackers (``obfuscator``).

May import: errors, config, audio, runtime, vision (layers 0-1); data, models, train, convert, evaluate
(layer 2); pipelines.kws (its class weights). Only the notebooks and benchmarks import it.
"""
