"""Every bullet of the lecture, where the course demonstrates it and the number that does.

Notebook 12 builds its coverage table from this list at run time: each number is pulled
from the *committed, executed* outputs of the notebook that printed it
(``notebooks/NN_*.ipynb``), never typed in here, so the table cannot go stale. If a notebook
changes and a pattern no longer finds its number, ``tests/unit/test_lecture_coverage.py``
fails and names the bullet. Since only committed outputs (seed 42) are read, the table does
not depend on the seed notebook 12 itself runs with.

A bullet the course does not show by a number has no evidence and says why (``note``);
the agenda slide's items are a table of contents, not claims (``AGENDA``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown

from mlops_course.classroom.course_map import NOTEBOOKS
from mlops_course.config import repo_root

NO_NUMBER = "не показано числом"
QUOTED = r"'[^']*'"  # an item of a printed Python list of strings
PENDING = "ожидается: ноутбук ещё не собран"
AGENDA = "оглавление лекции"
TITLES = {number: title for number, _, title, _ in NOTEBOOKS}
STEMS = {number: stem for number, stem, _, _ in NOTEBOOKS}


class MissingEvidence(LookupError):
    """A notebook no longer prints the number (or has no such section) a bullet relies on."""


@dataclass(frozen=True)
class Evidence:
    """A number printed in one section of one notebook.

    ``pattern`` is searched in the text outputs (streams, text/plain, text/markdown) of the
    code cells of ``section`` (a ``##`` or ``###`` heading, up to the next heading of the
    same or a higher level); ``template`` formats the match (``str.format`` over its groups,
    or a function of the match).
    """

    notebook: str  # "04"
    section: str
    pattern: str
    template: str | Callable[[re.Match], str]

    def extract(self, root: Path | None = None) -> str:
        text = "\n".join(section_outputs(notebook_path(self.notebook, root), self.section))
        match = re.search(self.pattern, text, re.DOTALL)
        if match is None:
            raise MissingEvidence(
                f"{self.notebook} «{self.section}»: в выводах нет /{self.pattern}/"
            )
        if callable(self.template):
            return self.template(match)
        return self.template.format(*match.groups())


@dataclass(frozen=True)
class Bullet:
    """One bullet of the lecture (its slide, its text) and what demonstrates it."""

    slide: str
    text: str
    evidence: tuple[Evidence, ...] = ()
    note: str = ""  # why there is no number, or which notebooks an agenda item covers
    agenda: bool = False
    places: tuple[str, ...] = field(default=())  # notebooks, for bullets without evidence


def notebook_path(number: str, root: Path | None = None) -> Path:
    return (root or repo_root()) / "notebooks" / f"{STEMS[number]}.ipynb"


@cache
def _read(path: Path, mtime: float) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_notebook(path: Path) -> dict:
    """A committed notebook as its JSON (nbformat 4, as the builder writes it).

    Plain ``json``: importing ``nbformat`` (its schema validator) alone takes ~2 s, more than
    reading every notebook of the course. Cached until the file changes.
    """
    return _read(path, path.stat().st_mtime)


def _text(value: str | list[str]) -> str:
    """A notebook string field: on disk multi-line text is a list of lines."""
    return value if isinstance(value, str) else "".join(value)


def heading_text(line: str) -> tuple[int, str] | None:
    """(level, text) of a Markdown heading line, else None."""
    match = re.match(r"^(#{1,6})\s+(.*\S)\s*$", line)
    return (len(match[1]), match[2]) if match else None


def cell_texts(cell: dict) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("text"):
            texts.append(_text(output["text"]))
        data = output.get("data", {})
        texts.extend(_text(data[kind]) for kind in ("text/markdown", "text/plain") if kind in data)
    return texts


def section_outputs(path: Path, section: str) -> list[str]:
    """Text outputs of the code cells under heading ``section`` of notebook ``path``."""
    if not path.is_file():
        raise MissingEvidence(f"{path.name}: ноутбука нет")
    inside, level, texts = False, 0, []
    for cell in read_notebook(path)["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _text(cell["source"]).splitlines():
                heading = heading_text(line)
                if heading and heading[1] == section:
                    inside, level = True, heading[0]
                elif heading and inside and heading[0] <= level:
                    return texts
        elif inside:
            texts.extend(cell_texts(cell))
    if not inside:
        raise MissingEvidence(f"{path.name}: нет раздела «{section}»")
    return texts


def anchor(section: str) -> str | None:
    """JupyterLab's id of a rendered heading: its text with spaces replaced by "-"
    (``createHeaderId``). None when the text would break a Markdown link (parentheses)."""
    text = re.sub(r"[`*]", "", section)
    return None if re.search(r"[()\[\]<>]", text) else text.replace(" ", "-")


def place_link(number: str, section: str | None = None) -> str:
    """A Markdown link to a notebook (and its section), relative to ``notebooks/``."""
    label = f"{number} · {TITLES[number]}"
    target = f"{STEMS[number]}.ipynb"
    if section and (fragment := anchor(section)):
        target += f"#{fragment}"
    quoted = section if section and section.startswith("«") else f"«{section}»"
    shown = f"{label}, {quoted}" if section else label
    return f"[{shown}]({target})"


def _level_0(characteristic: str, measured: str) -> Evidence:
    """A row of notebook 08's table «Характеристики уровня 0 → что мы измерили»."""
    pattern = rf"\| {re.escape(characteristic)} \| {re.escape(measured)} \| ([^|]+?) \|"
    return Evidence("08", "Характеристики уровня 0 → что мы измерили", pattern, measured + ": {0}")


def _items(printed_list: str) -> int:
    """How many strings a printed Python list holds (its items may contain commas)."""
    return len(re.findall(QUOTED, printed_list))


def _pair(a: str, b: str) -> str:
    """Two printed hashes, shortened: "bde3ac30 = bde3ac30" or "46558ae0 ≠ 7be75916"."""
    return f"{a[:8]} {'=' if a == b else '≠'} {b[:8]}"


FAILED = "✗ упал"


def _verdicts(table: str) -> list[tuple[str, str]]:
    """(original code, colleague's change) per test row of notebook 02's test table."""
    return re.findall(r"(✓ прошёл|✗ упал)\s+(✓ прошёл|✗ упал)", table)


INTRO, WHY, DEPLOY, EFFECTS = (
    "Что такое MLOps",
    "Почему MLOps — не просто DevOps для ML",
    "Проблемы при развертывании",
    "Последствия",
)
EVOLUTION, PROBLEMS, LIFECYCLE = (
    "Эволюция: от DevOps к MLOps",
    "Проблемы Production ML",
    "Жизненный цикл ML-проекта",
)
LEVELS, ARCHITECTURE, SUMMARY = ("Уровни зрелости MLOps", "Архитектурная схема", "Итоги")

BULLETS: list[Bullet] = [
    # --- «О чем эта лекция»: the agenda, what each part of the course covers
    Bullet(
        "О чем эта лекция", "Что такое MLOps и почему это актуально", agenda=True, places=("01",)
    ),
    Bullet("О чем эта лекция", "Эволюция: от DevOps к MLOps", agenda=True, places=("02",)),
    Bullet(
        "О чем эта лекция",
        "Ключевые проблемы production-систем с ML",
        agenda=True,
        places=("04", "05", "06", "07"),
    ),
    Bullet("О чем эта лекция", "Жизненный цикл ML-проекта", agenda=True, places=("03",)),
    Bullet("О чем эта лекция", "Уровни зрелости MLOps", agenda=True, places=("08", "09", "10")),
    Bullet(
        "О чем эта лекция", "Инструменты и компоненты MLOps-экосистемы", agenda=True, places=("11",)
    ),
    # --- definition and analogy
    Bullet(
        INTRO,
        "MLOps — совокупность практик и инструментов для автоматизации, масштабирования и "
        "управления жизненным циклом ML в производственной среде",
        note="определение; его части показаны строками ниже (автоматизация — уровни 1–2, "
        "масштабирование — 07, жизненный цикл — 03)",
        places=("01",),
    ),
    Bullet(
        INTRO,
        "Культура взаимодействия между Data Scientists, ML-инженерами и DevOps-специалистами",
        (_level_0("разрыв DS и эксплуатации", "из них ждём релизного окна"),),
    ),
    Bullet(
        INTRO,
        "Аналогия: DevOps объединяет разработку и эксплуатацию ПО",
        (
            Evidence(
                "02",
                "DevOps: код проверяется тестами",
                r"(\d+)\s+The README's test command",
                lambda m: (
                    f"CI на каждый push: {int(m[1]) + 1} шага, от checkout до "
                    "тестов, как их запустит эксплуатация"
                ),
            ),
        ),
    ),
    Bullet(
        INTRO,
        "Аналогия: MLOps добавляет в цепочку данные и модели — first-class citizens",
        (
            Evidence(
                "02",
                "«В ML код — это лишь часть системы»",
                r"код \(train\.py\)\s+(\w+)\s+(\w+)\s+данные\s+(\w+)\s+(\w+)"
                r"\s+модель\s+(\w+)\s+(\w+)",
                lambda m: (
                    f"хэши за неделю: код {_pair(m[1], m[2])}, данные {_pair(m[3], m[4])}, "
                    f"модель {_pair(m[5], m[6])}"
                ),
            ),
        ),
    ),
    # --- why MLOps is not just DevOps for ML
    Bullet(
        WHY,
        "ML-системы зависят от данных, а не только от кода",
        (
            Evidence(
                "01",
                "Провал 3: данные изменились под тем же именем файла",
                r"ROC AUC сдвинулся на (\S+) при том же коде",
                "ROC AUC сдвинулся на {0} при том же коде",
            ),
        ),
    ),
    Bullet(
        WHY,
        "Модели деградируют со временем (дрейф данных)",
        (
            Evidence(
                "01",
                "2. Модели деградируют со временем",
                r"весенняя дороже переобученной на (\S+%)",
                "весенняя модель дороже переобученной на {0} (зима, пик, маршрутизация)",
            ),
        ),
    ),
    Bullet(
        WHY,
        "Воспроизводимость экспериментов критически важна",
        (
            Evidence(
                "01",
                "3. Воспроизводимость критически важна",
                r"без seed, две модели одинаковы: (\w+)\s+с seed, две модели одинаковы: (\w+)",
                "две модели одинаковы: без seed — {0}, с seed — {1}",
            ),
        ),
    ),
    Bullet(
        WHY,
        "Пример провала: модель, работающая локально, не развёртывается из-за окружения или данных",
        (
            Evidence(
                "01",
                "Провал 1: обучение и сервинг видят разные признаки (training–serving skew)",
                r"падение ROC AUC из-за skew: ([\d.]+)\s+сервис поднимает тревогу у (\d+%)",
                "ROC AUC в сервисе ниже на {0}, тревога у {1} заказов",
            ),
            Evidence(
                "01",
                "Провал 2: другое окружение",
                r"различия: \[([^\]]+)\]",
                lambda m: (
                    f"другое окружение: различий в версиях — {_items(m[1])}, загрузка остановлена"
                ),
            ),
        ),
    ),
    # --- lifecycle (the diagram, shown twice in the lecture)
    Bullet(
        LIFECYCLE,
        "Схема жизненного цикла: данные → обучение → оценка → развёртывание → мониторинг → снова",
        (
            Evidence(
                "03",
                "Виток 2: мир изменился",
                r"версия в сервисе: была \['(\d+)'\] стала \['(\d+)'\]",
                "два витка цикла с живым сервисом: версия {0} → {1}",
            ),
        ),
    ),
    # --- deployment problems
    Bullet(
        DEPLOY,
        "Сложность настройки окружения",
        (
            Evidence(
                "03",
                "Проблемы развёртывания и их последствия — в числах",
                r"\| Сложность настройки окружения \| [^|]+ \| ([^;|]+)",
                "{0}",
            ),
        ),
    ),
    Bullet(
        DEPLOY,
        "Необходимость ручной настройки параметров",
        (
            Evidence(
                "03",
                "Проблемы развёртывания и их последствия — в числах",
                r"\| Необходимость ручной настройки параметров \| [^|]+ \| ([^|]+?) \|",
                "{0}",
            ),
        ),
    ),
    Bullet(
        DEPLOY,
        "Отсутствие мониторинга и управления",
        (_level_0("нет мониторинга", "тревог за год; обнаружено событий"),),
    ),
    Bullet(
        DEPLOY,
        "Нехватка ресурсов для поддержки",
        (
            Evidence(
                "08",
                "Чек-лист ручного обновления",
                r"(\d+) дн\.: задачу получает data scientist, у которого есть и другая работа",
                "data scientist с другой работой берётся за обновление через {0} дн.",
            ),
        ),
    ),
    # --- consequences
    Bullet(
        EFFECTS,
        "Снижение точности модели",
        (
            Evidence(
                "03",
                "Проблемы развёртывания и их последствия — в числах",
                r"\| Снижение точности модели \| ([^|]+?) \|",
                "{0}",
            ),
        ),
    ),
    Bullet(
        EFFECTS,
        "Увеличение времени на внедрение",
        (_level_0("низкая скорость обновлений", "до модели на новой маршрутизации"),),
    ),
    Bullet(EFFECTS, "Рост затрат", (_level_0("итог: цена уровня 0", "₽ сверх оракула за год"),)),
    Bullet(
        EFFECTS,
        "Снижение доверия к системе",
        (
            Evidence(
                "03",
                "Проблемы развёртывания и их последствия — в числах",
                r"\| Снижение доверия к системе \| ([^|]+?) \|",
                "{0}",
            ),
        ),
    ),
    # --- evolution
    Bullet(
        EVOLUTION,
        "DevOps: автоматизация развёртывания и мониторинга ПО",
        (
            Evidence(
                "02",
                "DevOps: код проверяется тестами",
                r"исходный код\s+код коллеги\s*\n(.+)",
                lambda m: (
                    f"тестов {len(_verdicts(m[1]))}: на исходном коде упало "
                    f"{sum(a == FAILED for a, _ in _verdicts(m[1]))}, на правке коллеги — "
                    f"{sum(b == FAILED for _, b in _verdicts(m[1]))}"
                ),
            ),
        ),
    ),
    Bullet(
        EVOLUTION,
        "DataOps: автоматизация ETL-процессов и управления данными",
        (
            Evidence(
                "02",
                "DataOps: ETL с проверкой данных",
                r"Данные не прошли проверку \(строк: (\d+), нарушений: (\d+)\).*?стоимость: (\S+)",
                "ETL остановил партию в метрах ({0} строк, нарушений: {1}); "
                "без проверки стоимость {2}",
            ),
        ),
    ),
    Bullet(
        EVOLUTION,
        "MLOps: интеграция ML-моделей в production, включая данные, обучение и мониторинг",
        (
            Evidence(
                "02",
                "MLOps: ворота качества и реестр моделей",
                r"версия 2: Отклонено.*?прирост (\S+) не больше требуемого (\d+\.\d+)",
                "ворота не пустили худшую версию 2: прирост log loss {0} (нужно > {1})",
            ),
        ),
    ),
    Bullet(
        EVOLUTION,
        "Ключевое отличие: в ML код — лишь часть системы; данные и модели требуют отдельного "
        "управления версиями и мониторинга",
        (
            Evidence(
                "02",
                "«В ML код — это лишь часть системы»",
                r"ML-код: (\d+) из (\d+) непустых строк \((\d+%)\)",
                "ML-код — {0} из {1} строк системы курса ({2})",
            ),
        ),
    ),
    # --- problems of production ML
    Bullet(
        PROBLEMS,
        "1. Дрейф данных (Data Drift)",
        (
            Evidence(
                "04",
                "Насколько хороши детекторы",
                r"\n1000\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)",
                "KS на 1000 заказах: ложные тревоги {0}, зимний сдвиг силы 0.1 пойман в {1}",
            ),
            Evidence(
                "04",
                "Дрейф ≠ деградация",
                r"\nзима\s+temperature_c, weather\s+[\d.]+\s+([\d.]+).*?\nзима\s+([\d.]+)",
                "зимой весенняя модель {0} ₽ на заказ, переобученная {1} ₽",
            ),
        ),
    ),
    Bullet(
        PROBLEMS,
        "2. Концептуальный дрейф (Concept Drift)",
        (
            Evidence(
                "05",
                "Детекторы дрейфа данных молчат",
                r"после смены: (\d+ из \d+) недель",
                "детектор дрейфа данных после смены: тревог {0} недель (ложных)",
            ),
            Evidence(
                "05",
                "Онлайн-детектор: тест Пейджа — Хинкли",
                r"тревога на заказе (\d+) из (\d+) недели (\d+)",
                "Пейдж — Хинкли: тревога на заказе {0} из {1} недели {2}",
            ),
        ),
    ),
    Bullet(
        PROBLEMS,
        "3. Проблема воспроизводимости (Reproducibility)",
        (
            Evidence(
                "06",
                "1. Случайность без зерна",
                r"без зерна, разных моделей из (\d+): (\d+)",
                "без зерна разных моделей из {0}: {1}",
            ),
            Evidence(
                "06",
                "Доказательство: две независимые копии — одни и те же хэши",
                r"все выходы совпали: (\w+)",
                "две независимые копии пайплайна — все выходы совпали: {0}",
            ),
        ),
    ),
    Bullet(
        PROBLEMS,
        "4. Масштабируемость",
        (
            Evidence(
                "07",
                "За пределами памяти: Dask",
                r"pandas: .*?пик (\d+) МБ.*?исполнитель 1: .*?пик (\d+) МБ",
                "1.2 млн заказов: пик памяти pandas {0} МБ, исполнителя Dask {1} МБ",
            ),
            Evidence(
                "07",
                "Параллелизм на одной машине",
                r"бесконечно много ядер — не больше (\S+×)",
                "по Амдалу — не больше {0} на сколь угодно многих ядрах",
            ),
        ),
    ),
    # --- maturity levels
    Bullet(
        LEVELS,
        "Уровень 0: обучение и деплой вручную",
        (_level_0("обучение и выкатка вручную", "ждём людей на обновление"),),
    ),
    Bullet(
        LEVELS,
        "Уровень 0: нет автоматизации",
        (
            _level_0("нет проверки данных", "log loss недели в метрах; цена инцидента"),
            _level_0("нет проверки модели (CI/CD)", "выкачено хуже прежней"),
        ),
    ),
    Bullet(
        LEVELS,
        "Уровень 0: хрупкость и низкая скорость обновлений",
        (
            _level_0("хрупкость", "недель дальше 0.02 от оракула"),
            _level_0("низкая скорость обновлений", "от решения до production"),
        ),
    ),
    Bullet(
        LEVELS,
        "Уровень 1: автоматическое переобучение",
        (
            Evidence(
                "09",
                "Год на уровне 1: симулятор",
                r"уровень 1: .*?переобучений (\d+), выкаток (\d+)",
                "за год переобучений {0}, выкаток {1}",
            ),
            Evidence(
                "09",
                "Уровень 1 против уровня 0 на том же году",
                r"уровень 1 дешевле уровня 0 на (.+? ₽) за год",
                "дешевле уровня 0 на {0} за год",
            ),
        ),
    ),
    Bullet(
        LEVELS,
        "Уровень 1: но деплой и мониторинг могут оставаться ручными",
        (
            Evidence(
                "09",
                "Одобрение человеком: сколько стоит ожидание",
                r"одобрение 3 дн\. = (\d+) нед\..*?\nбез одобрения\s+\d+\s+(-?\d+)",
                lambda m: (
                    f"ручное одобрение (3 дн.) откладывает выкатку на {m[1]} нед.; "
                    f"без него год дешевле на {-int(m[2]):,} ₽".replace(",", " ")
                ),
            ),
        ),
    ),
    Bullet(
        LEVELS,
        "Уровень 2: CI/CD/CT (Continuous Training)",
        (
            Evidence(
                "10",
                "CI конвейера: тесты до того, как изменение пойдёт в работу",
                r"тестов: (\d+), прошли: (\d+).*?не прошли: (\w+).*?не прошли: (\w+)",
                "тестов конвейера {0}, прошли {1}; две плохие правки остановлены "
                "(по одному упавшему тесту)",
            ),
        ),
    ),
    Bullet(
        LEVELS,
        "Уровень 2: автоматический деплой и мониторинг",
        (
            Evidence(
                "10",
                "Автоматический мониторинг: метрики Prometheus и задача дрейфа",
                r"predictions_total по всем меткам: (\d+), отправлено заказов: (\d+)",
                "predictions_total = {0} при {1} отправленных заказах",
            ),
            Evidence(
                "10",
                "Автоматический откат по отложенным меткам",
                r"хуже на (\S+ ₽) → откат к v(\d+)",
                "новая версия хуже на {0} на заказ → автооткат к v{1}",
            ),
        ),
    ),
    Bullet(
        LEVELS,
        "Уровень 2: A/B-тестирование моделей",
        (
            Evidence(
                "10",
                "A/B-тест: претендент на живом трафике",
                r"разница (-?[\d.]+) \[ДИ ([^\]]+)\]; заказов (\d+) и \d+ → при",
                "претендент − чемпион: {0} ₽ на заказ, ДИ [{1}], по {2} заказов в группе",
            ),
        ),
    ),
    # --- the architecture slide
    Bullet(
        ARCHITECTURE,
        "Версионирование: данные (DVC), код (Git), модели (MLflow)",
        (
            Evidence(
                "06",
                "Возврат к старой версии: `git checkout` + `dvc checkout`",
                r"метрики первого коммита вернулись в точности: (\w+)",
                "git checkout + dvc checkout вернули метрики старого коммита в точности: {0}",
            ),
            Evidence(
                "06",
                "Родословная (lineage): версия → запуск → данные и коммит",
                r"в dvc\.lock того коммита: (\w+) (\w+)",
                "md5 модели и данных в запуске MLflow = в dvc.lock: {0}, {1}",
            ),
        ),
    ),
    Bullet(
        ARCHITECTURE,
        "Оркестрация: пайплайны (Airflow, Prefect)",
        (
            Evidence(
                "09",
                "Партия в метрах: остановка на проверке данных",
                r"проверка данных\s+✗\s+не прошли проверку недели: (\d+)",
                "поток Prefect остановился на проверке данных (неделя {0}), обучения не было",
            ),
        ),
    ),
    Bullet(
        ARCHITECTURE,
        "Сервинг: развёртывание (FastAPI, Docker, Kubernetes)",
        (
            Evidence(
                "07",
                "Пропускная способность сервиса и число процессов",
                r"1 процесс\s+[\d.]+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
                "сервис FastAPI, 1 процесс: {0} запросов/с, p50 {1} мс, p99 {2} мс",
            ),
            Evidence(
                "11",
                "Под нагрузкой: частота запросов, p95 и автомасштабирование",
                r"HPA: ⌈[^⌉]+⌉ в пределах ([\d–]+) → подов: (\d+)",
                "Docker и Kubernetes здесь не запускаются; HPA при измеренной нагрузке: "
                "подов {1} (пределы {0})",
            ),
        ),
    ),
    Bullet(
        ARCHITECTURE,
        "Мониторинг: метрики (Prometheus), дрейф (Evidently)",
        (
            Evidence(
                "04",
                "Отчёт Evidently",
                r"числа расходятся у: (\w+)\s+Йенсен — Шеннон \w+ по значениям: ([\d.]+)",
                "Evidently сверен с нашими статистиками: расходится только {0} "
                "(Evidently считает JS по значениям: {1})",
            ),
            Evidence(
                "11",
                "Prometheus: настоящий сервер собирает метрики сервиса",
                r"sum by \(variant\) \(predictions_total.*?\) = (\{[^}]+\})",
                "PromQL у настоящего Prometheus: предсказаний по вариантам {0}",
            ),
        ),
    ),
    Bullet(
        ARCHITECTURE,
        "Автоматизация: CI/CD (GitHub Actions)",
        (
            Evidence(
                "10",
                "CT-воркфлоу: `.github/workflows/continuous-training.yml`",
                r"по расписанию \(cron, UTC\): ([^—\n]+?) — ([^\n]+)",
                "переобучение в GitHub Actions по cron «{0}» ({1}), по push и по тревоге",
            ),
        ),
    ),
    # --- the summary slide
    Bullet(
        SUMMARY,
        "MLOps решает проблемы эксплуатации ML-моделей",
        (
            Evidence(
                "10",
                "Три уровня на одном году",
                r"уровень 0: (.+? ₽) за год.*?уровень 2: (.+? ₽) за год",
                "один и тот же год: уровень 0 — {0}, уровень 2 — {1}",
            ),
        ),
    ),
    Bullet(
        SUMMARY,
        "Основные вызовы: дрейф, воспроизводимость, масштабируемость",
        note="перечень, а не утверждение: каждый вызов показан числом в строках "
        "«Проблемы Production ML» (ноутбуки 04–07)",
        places=("04", "05", "06", "07"),
    ),
    Bullet(
        SUMMARY,
        "Жизненный цикл ML — это непрерывный процесс",
        (
            Evidence(
                "05",
                "Стратегии переобучения",
                r"\n0\s+0\s+[\d.]+\s+([\d.]+)\s*\n1\s+\d+\s+[\d.]+\s+[\d.]+\s*\n2\s+(\d+)\s+[\d.]+\s+([\d.]+)",
                "после смены маршрутизации: без переобучения {0} ₽ на заказ, "
                "скользящее окно ({1} переобучений) — {2} ₽",
            ),
        ),
    ),
]


@dataclass(frozen=True)
class Row:
    slide: str
    bullet: str
    place: str
    number: str
    status: str  # "число", NO_NUMBER, PENDING or AGENDA


def evaluate(bullet: Bullet, root: Path | None = None) -> Row:
    """The bullet's row: its places and numbers read from the notebooks now.

    A missing notebook makes its numbers pending; a notebook that exists but no longer
    prints the number raises ``MissingEvidence`` naming the bullet.
    """
    if bullet.agenda:
        places = ", ".join(place_link(n) for n in bullet.places)
        return Row(bullet.slide, bullet.text, places, AGENDA, AGENDA)
    if not bullet.evidence:
        places = ", ".join(place_link(n) for n in bullet.places)
        return Row(bullet.slide, bullet.text, places, f"{NO_NUMBER}: {bullet.note}", NO_NUMBER)
    places, numbers, pending = [], [], 0
    for evidence in bullet.evidence:
        places.append(place_link(evidence.notebook, evidence.section))
        if not notebook_path(evidence.notebook, root).is_file():
            numbers.append(f"{PENDING} ({evidence.notebook})")
            pending += 1
            continue
        try:
            numbers.append(evidence.extract(root))
        except MissingEvidence as error:
            raise MissingEvidence(f"пункт лекции «{bullet.text}»: {error}") from None
    status = PENDING if pending == len(bullet.evidence) else "число"
    places = list(dict.fromkeys(places))  # two numbers from one section: one link
    return Row(bullet.slide, bullet.text, "; ".join(places), "; ".join(numbers), status)


def coverage(root: Path | None = None) -> pd.DataFrame:
    """One row per lecture bullet, in lecture order."""
    return pd.DataFrame([evaluate(bullet, root).__dict__ for bullet in BULLETS])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def coverage_markdown(table: pd.DataFrame) -> Markdown:
    """The table with links; the slide is printed once, above its first bullet."""
    rows = ["| слайд лекции | пункт | где показано | число |", "|---|---|---|---|"]
    previous = None
    for row in table.itertuples():
        slide = row.slide if row.slide != previous else ""
        previous = row.slide
        number = row.number if row.status == "число" else f"*{_cell(row.number)}*"
        rows.append(f"| {slide} | {_cell(row.bullet)} | {row.place} | {number} |")
    return Markdown("\n".join(rows))


def without_number(table: pd.DataFrame) -> list[str]:
    """Claims of the lecture the course does not show by a number (agenda excluded)."""
    return table.loc[table["status"] == NO_NUMBER, "bullet"].tolist()


def status_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Bullets per slide and status, slides in lecture order."""
    counts = pd.crosstab(table["slide"], table["status"])
    return counts.reindex(table["slide"].drop_duplicates()).fillna(0).astype(int)


STATUS_COLORS = {"число": "#55A868", PENDING: "#CCB974", NO_NUMBER: "#C44E52", AGENDA: "#BBBBBB"}


def evidence_counts() -> pd.DataFrame:
    """How many numbers each notebook supplies to each lecture slide (slides in order)."""
    pairs = [(b.slide, e.notebook) for b in BULLETS for e in b.evidence]
    counts = pd.crosstab(*zip(*pairs, strict=True)).rename_axis(index=None, columns=None)
    slides = list(dict.fromkeys(b.slide for b in BULLETS))
    return counts.reindex(index=slides, columns=sorted(STEMS)[1:12], fill_value=0)


def plot_coverage(table: pd.DataFrame) -> plt.Figure:
    """Left: per lecture slide, bullets with a number and without. Right: which notebook
    supplies the numbers of which slide (the course map of what was measured)."""
    counts = status_counts(table)
    fig, (bars, grid) = plt.subplots(
        1, 2, figsize=(14, 5.2), sharey=True, gridspec_kw={"width_ratios": [1, 1.3]}
    )
    left = pd.Series(0, index=counts.index)
    for status, color in STATUS_COLORS.items():
        if status in counts:
            bars.barh(counts.index, counts[status], left=left, color=color, label=status)
            left += counts[status]
    bars.invert_yaxis()
    bars.set(xlabel="пунктов лекции", xlim=(0, left.max() + 0.5), title="Пункты слайда")
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=9)
    matrix = evidence_counts().reindex(counts.index)
    grid.imshow(matrix.to_numpy(), cmap="Greens", aspect="auto", vmin=0)
    for (y, x), value in pd.DataFrame(matrix.to_numpy()).stack().items():
        if value:
            color = "white" if value >= 0.6 * matrix.to_numpy().max() else "black"
            grid.text(x, y, str(value), ha="center", va="center", fontsize=9, color=color)
    grid.set_xticks(range(matrix.shape[1]), matrix.columns)
    grid.set(xlabel="ноутбук", title="Откуда числа: ноутбук → слайд")
    fig.suptitle("Покрытие лекции курсом: каждый пункт и число, которое его показало")
    fig.tight_layout()
    return fig
