"""Entry points: the command line of ``run.py`` (:mod:`hyco.app.cli`) and its tasks
(:mod:`hyco.app.tasks`)."""
