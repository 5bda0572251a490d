"""The core stays headless and cheap to import; the CLI's help loads none of the heavy parts."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import memrl

CORE = sorted(
    m.name
    for m in pkgutil.walk_packages(memrl.__path__, "memrl.")
    if not m.name.startswith(("memrl.cli", "memrl.mcp", "memrl.tui", "memrl.__main__"))
)
FRONT_END_LIBS = ("textual", "mcp", "typer")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_modules_import_no_front_end_library():
    assert "memrl.memory" in CORE and "memrl.learning.engine" in CORE
    loaded = _modules_after("\n".join(f"import {m}" for m in CORE))
    leaked = sorted(m for m in loaded if m.split(".")[0] in FRONT_END_LIBS)
    assert not leaked, f"the core imported {leaked[:5]}"


def test_help_loads_no_model_index_or_tui():
    loaded = _modules_after(
        "import sys\nsys.argv = ['memrl', '--help']\nfrom memrl.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    heavy = sorted(
        m
        for m in loaded
        if m.split(".")[0]
        in ("fastembed", "lancedb", "textual", "onnxruntime", "pydantic", "numpy", "mcp")
    )
    assert not heavy, f"`memrl --help` imported {heavy[:5]}"


def test_listing_does_not_load_the_model_or_lancedb(data_dir):
    loaded = _modules_after(
        "import sys\nsys.argv = ['memrl', 'list']\nfrom memrl.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert not {"fastembed", "lancedb", "onnxruntime"} & {m.split(".")[0] for m in loaded}


def test_lancedb_imports_with_deferred_validators_and_leaves_pydantic_as_it_was():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pydantic._internal._config import config_defaults as d\n"
            "from memrl.index import _lancedb\n"
            "lancedb = _lancedb()\n"
            "from lance_namespace import DescribeTableRequest as R\n"
            "built_at_import = R.__pydantic_complete__\n"
            "r = R.model_validate({'id': ['a', 'b']})\n"
            "print(d['defer_build'], built_at_import, R.__pydantic_complete__, r.id)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # Deferred while LanceDB was imported, built (and working) on first use, and the
    # default is back for every model defined afterwards.
    assert out.stdout.split() == ["False", "False", "True", "['a',", "'b']"]


def test_a_local_store_never_runs_the_rest_clients_package_init(data_dir):
    """Capture and search stay off the REST client's API classes (0.1 s and 7 MB a process)
    yet the package answers its own names as before when something does ask for them."""
    loaded = _modules_after(
        "from memrl.memory import Memory\n"
        "memory = Memory()\n"
        "memory.capture({'task': 'Flaky login test', 'summary': 'Pinned the clock in the test'})\n"
        "assert memory.search('login test', limit=1).hits\n"
    )
    assert "lancedb" in loaded and "lance_namespace" in loaded
    assert "lance_namespace_urllib3_client.api" not in loaded
    assert "lance_namespace_urllib3_client.api_client" not in loaded
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from memrl.index import _lancedb\n"
            "_lancedb()\n"
            "import lance_namespace_urllib3_client as client\n"
            "from lance_namespace_urllib3_client import Configuration\n"
            "print(client.TableApi.__name__, client.models.ListTablesRequest.__name__,"
            " Configuration.__module__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == [
        "TableApi",
        "ListTablesRequest",
        "lance_namespace_urllib3_client.configuration",
    ]


def test_the_bundled_model_embeds_without_fastembed(data_dir):
    """fastembed (half a second and 20 MB to import) is for models named in the settings."""
    loaded = _modules_after(
        "from memrl.memory import Memory\n"
        "vector = Memory().embedder.embed_query('flaky login test')\n"
        "assert vector.shape == (384,)"
    )
    roots = {m.split(".")[0] for m in loaded}
    assert "onnxruntime" in roots and "fastembed" not in roots
