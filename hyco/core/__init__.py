"""Utilities every layer stands on: the registry, plug-in loading, atomic files, the config
normaliser, project paths, the console and memory monitoring. Nothing here knows a PDE, a network
or an arm."""
