"""Tracked, resumable training runs of an arm (:mod:`hyco.runs.train`), what they record beside
their metrics (:mod:`hyco.runs.outputs`), and the seed scheme of repeated runs
(:mod:`hyco.runs.seeds`)."""
