"""ODK Validate (javarosa, the engine inside ODK Collect) run over an XForm, with a plain-language result.

pyxform 4.5 ships the ODK Validate jar; it needs the machine's Java. Where Java is missing the result is
``unavailable`` rather than an error, so publishing still works on a field hub without Java and the
admin is told plainly that the check did not run. One run takes 0.3-4 s (a JVM start), so callers run it
once per uploaded version, not per request.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pyxform.validators import odk_validate as _odk

__all__ = ["FAILED", "PASSED", "UNAVAILABLE", "ValidationResult", "java_available", "odk_validate"]

PASSED = "passed"
FAILED = "failed"
UNAVAILABLE = "unavailable"

# Lines ODK Validate prints around the real message that mean nothing to a form author.
_NOISE = re.compile(
    r"^(ODK Validate (Errors|Warnings):|>>.*|The following files failed "
    r"validation:|\$\{form\}\.xml|Result: (Invalid|Valid)|Xform is valid.*|Xform parsing completed.*)$",
    re.IGNORECASE,
)
# "org.javarosa.xpath.XPathUnsupportedException: XPath evaluation: ..." -> "XPath evaluation: ..."
_JAVA_CLASS = re.compile(r"^(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error):\s*")
# pyxform's own answers for a run that did not complete (timeout, killed JVM).
_INCOMPLETE = ("XForm took to long to completely validate.", "Bad return code from ODK Validate.")


@dataclass(frozen=True)
class ValidationResult:
    """``status`` is ``passed``, ``failed`` or ``unavailable``; ``messages`` are ODK Validate's, cleaned."""

    status: str
    messages: list[str] = field(default_factory=list)
    validator: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED


def java_available() -> bool:
    """True when a ``java`` executable is on PATH (what pyxform checks before running the jar)."""
    return shutil.which("java") is not None


def odk_validate(xform: bytes) -> ValidationResult:
    """Run ODK Validate over ``xform`` (written to a private temporary file) and report the outcome."""
    validator = validator_name()
    with tempfile.TemporaryDirectory(prefix="ruta-validate-") as folder:
        # The file is named form.xml: ODK Validate echoes the file name in its output.
        path = Path(folder) / "form.xml"
        path.write_bytes(xform)
        try:
            warnings = _odk.check_xform(str(path))
        except _odk.ODKValidateError as err:
            messages = clean_messages(str(err))
            return ValidationResult(FAILED, messages or ["ODK Validate rejected the form."], validator)
        except OSError:
            return ValidationResult(
                UNAVAILABLE,
                [
                    "Java is not installed on this server, so ODK Validate did not run and the form was not "
                    "checked the way ODK Collect will read it. Install Java (for example "
                    "default-jre-headless) to enable the check."
                ],
                validator,
            )
    if any(w.strip() in _INCOMPLETE for w in warnings):
        return ValidationResult(
            UNAVAILABLE,
            ["ODK Validate did not finish (it timed out or was stopped), so the form was not checked."],
            validator,
        )
    return ValidationResult(PASSED, [m for w in warnings for m in clean_messages(w)], validator)


def clean_messages(raw: str) -> list[str]:
    """Split ODK Validate output into its meaningful lines, without banners and Java class names."""
    messages = []
    for line in raw.splitlines():
        # pyxform's cleaner drops "org...XFormParseException" but leaves its ": " behind.
        text = _JAVA_CLASS.sub("", line.strip()).strip().lstrip(":").strip()
        if text and not _NOISE.match(text) and text not in messages:
            messages.append(text)
    return messages


@cache
def validator_name() -> str:
    """``ODK Validate 1.20.0 (javarosa 5.1.0)``, read from the jar pyxform ships, for the record."""
    jar = Path(_odk.ODK_VALIDATE_PATH)
    name = "ODK Validate"
    try:
        release = json.loads((jar.parent / "installed.json").read_text(encoding="utf-8"))
        name += " " + str(release.get("tag_name", "")).lstrip("v")
    except (OSError, ValueError):
        pass
    try:
        with zipfile.ZipFile(jar) as archive:
            props = archive.read("META-INF/maven/org.getodk/javarosa/pom.properties").decode("utf-8")
        version = next(line.split("=", 1)[1] for line in props.splitlines() if line.startswith("version="))
        name += f" (javarosa {version.strip()})"
    except (OSError, KeyError, StopIteration, zipfile.BadZipFile):
        pass
    return name.strip()
