"""ODK Validate through pyxform's jar: passed, failed with readable messages, or plainly unavailable.

Each real run starts a JVM (0.3-4 s), so only three tests call Java.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from forms.validate import clean_messages, java_available, odk_validate, validator_name
from forms.xlsform import Conversion


def test_java_is_present_for_odk_validate() -> None:
    # ODK Validate is one of the real parts Ruta is tested against; .ci/run installs Java when it is
    # missing, so its absence is a broken test machine, never a reason to skip.
    assert java_available(), "Java is missing: apt-get install default-jre-headless"


def test_converted_corpus_form_passes(converted: Callable[[str], Conversion]) -> None:
    result = odk_validate(converted("pyxform/widgets.xls").xform)
    assert result.status == "passed", result.messages
    assert result.passed
    assert result.validator == "ODK Validate 1.20.0 (javarosa 5.1.0)"


def test_ambiguous_date_form_fails_with_the_xpath_named(converted: Callable[[str], Conversion]) -> None:
    result = odk_validate(converted("pyxform/xl_date_ambiguous.xlsx").xform)
    assert result.status == "failed"
    assert any("instance('names_list')" in m for m in result.messages), result.messages
    # Banners, temp file names and Java class names are noise to a form author.
    assert not any(m.startswith(("ODK Validate", "Result:", ">>", "org.")) for m in result.messages)
    assert not any("form.xml" in m or "/tmp" in m for m in result.messages)


def test_handwritten_xform_with_broken_xpath_fails(corpus: Path) -> None:
    xform = (
        (corpus / "central-backend/forms/simple.xml")
        .read_bytes()
        .replace(b'type="int"', b'type="int" constraint=". &gt; (("')
    )
    assert b"constraint" in xform
    result = odk_validate(xform)
    assert result.status == "failed"
    assert result.messages == [
        "bind for ${age} contains invalid constraint expression [. > ((] mismatched brackets or parentheses!"
    ]


def test_missing_java_is_reported_as_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java anywhere on PATH
    assert not java_available()
    result = odk_validate(b"<h:html/>")
    assert result.status == "unavailable"
    assert not result.passed
    assert len(result.messages) == 1 and "Java is not installed" in result.messages[0]
    assert "did not run" in result.messages[0]


def test_clean_messages_strips_banners_and_java_classes() -> None:
    raw = (
        "ODK Validate Errors:\n>> Something broke the parser. See above for a hint.\n"
        "org.javarosa.xpath.XPathUnsupportedException: XPath evaluation: unsupported construct [x]\n"
        "java.lang.RuntimeException: Problem found at nodeset: ${q}\n\n>> XForm is invalid.\n"
        ": bind for ${q} contains invalid constraint expression\n"
        "The following files failed validation:\n${form}.xml\n\nResult: Invalid"
    )
    assert clean_messages(raw) == [
        "XPath evaluation: unsupported construct [x]",
        "Problem found at nodeset: ${q}",
        "bind for ${q} contains invalid constraint expression",
    ]


def test_validator_name_comes_from_the_bundled_jar() -> None:
    assert validator_name().startswith("ODK Validate 1.")
