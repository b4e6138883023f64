"""The lecture-coverage table of notebook 12 reads its numbers from the committed notebooks.

If a notebook changes and a number a lecture bullet relies on is no longer printed, the
bullet's test fails and names it; bullets without a number are listed (and must say why).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops_course.classroom import lecture_coverage as lc
from tests.conftest import REPO_ROOT

WITH_EVIDENCE = [bullet for bullet in lc.BULLETS if bullet.evidence]
# The two bullets the course does not show by a number (notebook 12 names them too):
# the definition of MLOps and the list of challenges on the «Итоги» slide.
EXPECTED_WITHOUT_NUMBER = {
    "MLOps — совокупность практик и инструментов для автоматизации, масштабирования и "
    "управления жизненным циклом ML в производственной среде",
    "Основные вызовы: дрейф, воспроизводимость, масштабируемость",
}


def built(evidence: lc.Evidence) -> bool:
    return lc.notebook_path(evidence.notebook, REPO_ROOT).is_file()


@pytest.mark.parametrize("bullet", WITH_EVIDENCE, ids=lambda bullet: bullet.text[:60])
def test_every_number_is_still_printed_by_its_notebook(bullet: lc.Bullet) -> None:
    for evidence in bullet.evidence:
        if not built(evidence):  # notebooks 09-11 before they exist: the row says «ожидается»
            continue
        try:
            number = evidence.extract(REPO_ROOT)
        except lc.MissingEvidence as error:
            pytest.fail(f"пункт лекции «{bullet.text}»: {error}")
        assert any(ch.isdigit() for ch in number) or "True" in number, (bullet.text, number)


def test_bullets_without_a_number_are_named_and_say_why() -> None:
    table = lc.coverage(REPO_ROOT)
    missing = lc.without_number(table)
    print("пункты лекции без числа:", *missing, sep="\n- ")
    assert set(missing) == EXPECTED_WITHOUT_NUMBER
    for bullet in lc.BULLETS:
        if not bullet.evidence:
            assert bullet.note or bullet.agenda, f"«{bullet.text}»: say why there is no number"
            assert bullet.places, f"«{bullet.text}»: which notebooks cover it"


def test_the_table_follows_the_lecture_and_links_to_real_sections() -> None:
    table = lc.coverage(REPO_ROOT)
    assert table["bullet"].tolist() == [bullet.text for bullet in lc.BULLETS]
    slides = list(dict.fromkeys(table["slide"]))
    assert slides[0] == "О чем эта лекция" and slides[-1] == "Итоги"
    assert len(table["bullet"]) == len(set(table["bullet"])), "a bullet listed twice"
    for bullet in WITH_EVIDENCE:
        for evidence in bullet.evidence:
            if built(evidence):  # the section exists (else extract raised above)
                link = lc.place_link(evidence.notebook, evidence.section)
                assert f"({lc.STEMS[evidence.notebook]}.ipynb" in link


def test_anchor_is_jupyterlabs_heading_id() -> None:
    # JupyterLab's createHeaderId: the rendered text with spaces replaced by "-"
    assert lc.anchor("Дрейф ≠ деградация") == "Дрейф-≠-деградация"
    assert lc.anchor("Возврат: `git checkout`") == "Возврат:-git-checkout"
    assert lc.anchor("Провал 1: skew (training–serving)") is None  # would break the link
    assert "#" not in lc.place_link("01", "Провал 1: skew (training–serving)")


def changed_copy(tmp_path: Path, number: str, old: str, new: str) -> Path:
    """A checkout-like folder whose notebook ``number`` prints ``new`` instead of ``old``."""
    (tmp_path / "notebooks").mkdir()
    for stem in lc.STEMS.values():
        source = REPO_ROOT / "notebooks" / f"{stem}.ipynb"
        if source.is_file():
            shutil.copy(source, tmp_path / "notebooks" / source.name)
    path = lc.notebook_path(number, tmp_path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = [line.replace(old, new) for line in output["text"]]
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def test_a_changed_notebook_fails_naming_the_bullet(tmp_path: Path) -> None:
    root = changed_copy(tmp_path, "05", "Пейдж — Хинкли: тревога на заказе", "тревога:")
    with pytest.raises(lc.MissingEvidence, match="Концептуальный дрейф.*05"):
        lc.coverage(root)


def test_a_missing_notebook_makes_its_rows_pending(tmp_path: Path) -> None:
    root = changed_copy(tmp_path, "05", "", "")
    lc.notebook_path("10", root).unlink(missing_ok=True)
    table = lc.coverage(root).set_index("bullet")
    assert table.loc["Уровень 2: A/B-тестирование моделей", "status"] == lc.PENDING
    assert lc.PENDING in table.loc["Уровень 2: A/B-тестирование моделей", "number"]
    assert table.loc["4. Масштабируемость", "status"] == "число"


def test_numbers_come_from_the_notebook_not_from_the_module(tmp_path: Path) -> None:
    root = changed_copy(tmp_path, "01", "ROC AUC сдвинулся на +0.038", "ROC AUC сдвинулся на +0.5")
    table = lc.coverage(root).set_index("bullet")
    assert "+0.5" in table.loc["ML-системы зависят от данных, а не только от кода", "number"]


def test_figure_counts_each_bullet_once() -> None:
    table = lc.coverage(REPO_ROOT)
    assert lc.status_counts(table).to_numpy().sum() == len(lc.BULLETS)
    evidence = lc.evidence_counts()
    assert evidence.to_numpy().sum() == sum(len(bullet.evidence) for bullet in lc.BULLETS)
