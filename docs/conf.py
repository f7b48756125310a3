"""Sphinx configuration of the blazingmq documentation.

Built from the *installed* package (autodoc imports ``blazingmq`` and its
compiled extension): ``pip install '.[docs]'`` first, then
``python -m sphinx -W --keep-going -n -b html docs build/docs/html``.
"""

from __future__ import annotations

import blazingmq

project = "blazingmq"
author = "The blazingmq authors"
copyright = "2026, the blazingmq authors"
release = blazingmq.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# Warnings are errors (-W) and every cross-reference must resolve (-n).
nitpicky = True
# The build is offline (no intersphinx): references to the standard library,
# pytest and the private callback aliases of the signatures are not links.
nitpick_ignore = [
    ("py:class", name)
    for name in (
        "OnSessionEvent",
        "OnMessage",
        "OnAck",
        "Path",
        "pathlib.Path",
        "os.PathLike",
        "subprocess.Popen",
        "_pytest.tmpdir.TempPathFactory",
        "pytest.TempPathFactory",
        "pytest.FixtureRequest",
        "_pytest.fixtures.FixtureRequest",
        "AuthnCredentialOption",
        "_session.AuthnCredentialOption",
        "_asyncio.Future",
        "asyncio.Future",
        "OnOperationDone",
        "blazingmq._enums._ShortReprEnum",
        "blazingmq._options._ValueClass",
        "opentelemetry.trace.TracerProvider",
        "opentelemetry.metrics.MeterProvider",
    )
] + [("py:mod", "logging"), ("py:func", "functools.partial")]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = False  # show values, not private constant names
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
napoleon_custom_sections = [("Thread safety", "notes_style")]


html_theme = "furo"
html_title = f"blazingmq {release}"
templates_path: list[str] = []
exclude_patterns = ["_build"]
html_static_path: list[str] = []
