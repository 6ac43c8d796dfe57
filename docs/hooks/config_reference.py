"""MkDocs hook: the config reference page (``reference/config.md``), generated from the schema
at every build by :func:`hyco.compose.reference.config_reference` (never written by hand)."""

from mkdocs.structure.files import File

PAGE = "reference/config.md"


def on_files(files, config):
    from hyco.compose.reference import config_reference

    files.append(File.generated(config, PAGE, content=config_reference()))
    return files
