"""Python side of the web-form client harness: run ``fill.mjs`` (ODK's @getodk/xforms-engine in Node).

Tests call :func:`fill_xform` to load an XForm in the real ODK Web Forms engine and fill it, and
:func:`submit_via_server` to download a form from a running OpenRosa server, fill it and submit it the
way a web-form host page does. The Node packages are installed by the test command
(``cd tests/clients && npm ci``); when they are missing this module says so instead of skipping, because
a silently skipped client test proves nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["HARNESS_DIR", "EngineError", "fill_xform", "submit_via_server"]

HARNESS_DIR = Path(__file__).resolve().parent
FILL_SCRIPT = HARNESS_DIR / "fill.mjs"
# One run loads jsdom and the engine (~1 s) and the form (1-2 s for the bundled forms); the margin is
# for slow CI machines, not for hangs.
DEFAULT_TIMEOUT = 120.0


class EngineError(RuntimeError):
    """The harness failed: Node or its packages missing, the form did not load, an answer did not apply,
    or (server mode) the server refused. ``result`` holds the harness's JSON output when it printed one
    (e.g. the server's status and body on a refused submission)."""

    def __init__(self, message: str, *, result: dict[str, Any] | None = None, returncode: int | None = None):
        super().__init__(message)
        self.result = result
        self.returncode = returncode


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise EngineError("node is not on PATH: the web-form client tests need Node 20.19+ (see CLIENTS.md)")
    engine = HARNESS_DIR / "node_modules" / "@getodk" / "xforms-engine" / "package.json"
    if not engine.is_file() or not (HARNESS_DIR / "node_modules" / "jsdom").is_dir():
        raise EngineError(
            f"the harness's npm packages are not installed in {HARNESS_DIR / 'node_modules'}; run "
            f"`cd {HARNESS_DIR} && npm ci` (make install-test does this)"
        )
    return node


def _run(
    arguments: list[str], answers: Mapping[str, Any], workdir: Path, timeout: float
) -> tuple[int, str, str]:
    answers_path = workdir / "answers.json"
    answers_path.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    command = [_node(), str(FILL_SCRIPT), *arguments, "--answers", str(answers_path)]
    try:
        completed = subprocess.run(
            command,
            cwd=HARNESS_DIR,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise EngineError(f"fill.mjs did not finish within {timeout:.0f} s: {' '.join(arguments)}") from err
    return completed.returncode, completed.stdout, completed.stderr


def _parse(stdout: str) -> dict[str, Any] | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        parsed = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def fill_xform(
    xform: bytes,
    answers: Mapping[str, Any],
    lang: str | None = None,
    *,
    labels: bool = False,
    attachments: Mapping[str, bytes] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Load ``xform`` in the engine, apply ``answers``, and return the harness's JSON.

    ``attachments`` are the form's media by file name (e.g. ``sites.csv``), served to the engine the way
    a manifest would; any other attachment the form names is missing (blank).

    The result has ``status`` (``ready`` or ``pending``), ``violations`` (reference, condition, message),
    ``xml`` (the instance as it would be submitted), ``instanceID``, ``attachments`` and ``language``;
    with ``labels=True`` also ``labels``: the label of every relevant node in the active language.
    A pending instance is a result, not an error: tests assert on its violations.
    """
    with tempfile.TemporaryDirectory(prefix="ruta-engine-") as tmp:
        workdir = Path(tmp)
        form_path = workdir / "form.xml"
        form_path.write_bytes(xform)
        arguments = ["--xform", str(form_path)]
        if lang:
            arguments += ["--lang", lang]
        if labels:
            arguments.append("--labels")
        for index, (name, content) in enumerate((attachments or {}).items()):
            path = workdir / f"attachment-{index}"
            path.write_bytes(content)
            arguments += ["--attachment", f"{name}={path}"]
        returncode, stdout, stderr = _run(arguments, answers, workdir, timeout)
    result = _parse(stdout)
    if returncode != 0 or result is None:
        raise EngineError(
            stderr.strip() or f"fill.mjs exited with {returncode}", result=result, returncode=returncode
        )
    return result


def submit_via_server(
    root_url: str,
    form_id: str,
    answers: Mapping[str, Any],
    auth_header: str | None = None,
    *,
    lang: str | None = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Fetch ``form_id`` from ``root_url``'s formList, fill it and POST it to ``root_url/submission``.

    Returns ``status``, ``httpStatus``, ``responseBody``, ``instanceID`` and ``xml``. A refused
    submission (not 201/202) raises EngineError carrying the result, unless ``check`` is false, in which
    case the result is returned so a test can assert on the refusal.
    """
    arguments = ["--server", root_url, "--form-id", form_id]
    if auth_header:
        arguments += ["--auth-header", auth_header]
    if lang:
        arguments += ["--lang", lang]
    with tempfile.TemporaryDirectory(prefix="ruta-engine-") as tmp:
        returncode, stdout, stderr = _run(arguments, answers, Path(tmp), timeout)
    result = _parse(stdout)
    if returncode == 0 and result is not None:
        return result
    if not check and result is not None and "httpStatus" in result:
        return result
    raise EngineError(
        stderr.strip() or f"fill.mjs exited with {returncode}", result=result, returncode=returncode
    )
