"""The bottom layer: interfaces every package shares (:mod:`common.protocols`), atomic file writes
(:mod:`common.io`), statistics (:mod:`common.stats`) and provenance (:mod:`common.provenance`).

It imports nothing from the project; every other package may import it.
"""
