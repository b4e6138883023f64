"""lab05 checks accept the reference answers and name exactly the mistakes of wrong ones.

The trigger check replays one year (seed 42, as the lab) that is simulated once for the
module; the registry check works on a real MLflow registry in a temporary work dir; the
policy check gets years played under right and wrong policies. Each wrong answer must
fail, and its failed messages must carry the phrase of every mistake it makes and of no
other (``MISTAKES`` tables).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from mlops_course.classroom.checks import CheckFailed, ExerciseNotDone, run_check
from mlops_course.classroom.lab_checks import lab05_continuous_training as lab
from mlops_course.simulation import outcomes
from mlops_course.simulation.policies import (
    LEVEL_0,
    LEVEL_2,
    NEVER,
    GateDecision,
    MetricGate,
    OperatingPolicy,
)
from mlops_course.simulation.simulator import simulate_year

SEED = 42


def passed(results) -> bool:
    return all(result.passed for result in results)


def failed_messages(results) -> str:
    return " ".join(result.message for result in results if not result.passed)


def feedback(check, *args) -> str:
    """What the notebook prints when ``check`` rejects the student's answer."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(CheckFailed):
        run_check(check, *args)
    return out.getvalue()


def assert_names_only(messages: str, made: set[str], mistakes: dict[str, str]) -> None:
    for mistake, phrase in mistakes.items():
        assert (phrase in messages) == (mistake in made), (mistake, messages)


@pytest.fixture(scope="module")
def observed() -> lab.ObservedYear:
    return lab.observe_year(SEED)


# --- The observed year ------------------------------------------------------------------


def test_the_observed_year_is_level_2s_answers_week_by_week(observed):
    weekly = observed.result.weekly
    assert [o.week for o in observed.observations] == list(range(len(weekly)))
    for observation, shown in zip(observed.observations, weekly["trigger"], strict=True):
        answer = "; ".join(LEVEL_2.trigger(observation))
        assert shown.removesuffix(" (конвейер занят)") == answer
    assert observed.result.policy.name == "level_2"


def test_week_kinds_follow_the_alarms(observed):
    kinds = lab.week_kinds(observed).set_index("week")
    refused = [o.week for o in observed.observations if o.batch_valid is False]
    assert refused and (kinds.loc[refused, "kind"] == lab.REFUSED).all()
    first_event = min(event.start_week for event in observed.events)
    assert set(kinds.loc[: first_event - 1, "kind"]) <= {lab.CALM, lab.NOISE}
    alarms = observed.result.alarms
    for week, row in kinds.iterrows():
        here = alarms[(alarms["week"] == week) & (alarms["kind"] != outcomes.VALIDATION)]
        assert (row["kind"] == lab.CALM) == (here.empty and week not in refused)
        assert bool(row["events"]) == (row["kind"] == lab.EVIDENCE)
        if row["kind"] == lab.NOISE:
            assert here["false_alarm"].all()


def test_event_evidence_holds_only_the_events_own_signals(observed):
    by_key = {event.key: event for event in observed.events}
    routing = lab.event_evidence(observed, by_key["routing_change"])
    assert routing and all(o.degraded and not o.drift_detected for o in routing)
    winter = lab.event_evidence(observed, by_key["winter"])
    assert winter and all(set(o.drifted_columns) <= {"temperature_c", "weather"} for o in winter)
    for event in observed.events:
        for observation in lab.event_evidence(observed, event):
            assert observation.week >= event.start_week and observation.batch_valid
    assert len(routing) == lab.FIRST_EVIDENCE_WEEKS


# --- Exercise 1: the trigger ------------------------------------------------------------


def right_trigger(observation):
    reasons = []
    if observation.drift_detected:
        reasons.append(f"дрейф данных: {', '.join(observation.drifted_columns)}")
    if observation.degraded:
        reasons.append("качество ухудшилось")
    return reasons


def right_bool_trigger(observation):
    return bool(observation.drift_detected) or observation.degraded


def always(observation):
    return True


def never(observation):
    return False


def quarterly_calendar(observation):  # wrong: a schedule, blind to the observation
    return (observation.week + 1) % 4 == 0


def drift_only(observation):
    return bool(observation.drift_detected)


def degradation_only(observation):
    return observation.degraded


def no_tolerance(observation):  # wrong: any live loss above the reference counts
    return (
        bool(observation.drift_detected) or observation.live_metric > observation.reference_metric
    )


def any_alarm(observation):  # wrong: a refused batch raises an alarm too
    return bool(observation.alarms)


def short_safety_net(observation):  # wrong: «stale» after three weeks
    return right_bool_trigger(observation) or observation.weeks_since_deployment >= 3


def printing(observation):  # wrong: print instead of return
    if observation.drift_detected:
        print("переобучить")


def numpy_bool(observation):  # wrong: a numpy boolean
    return np.bool_(right_bool_trigger(observation))


TRIGGER_MISTAKES = {
    "never": "не сработал ни разу",
    "always": "каждую неделю, не глядя",
    "calendar": "по календарю",
    "ignores drift": "не реагирует на дрейф данных",
    "ignores degradation": "не реагирует на падение качества",
    "no tolerance": "в пределах шума",
    "refused batch": "хотя партию отклонила проверка",
    "age": "по возрасту модели",
}


@pytest.mark.parametrize("answer", [right_trigger, right_bool_trigger])
def test_trigger_check_accepts_right_answers(observed, answer):
    results = lab.check_trigger(answer, observed)
    assert passed(results), failed_messages(results)
    names = [event.name for event in observed.events if event.kind in lab.EVENT_KINDS]
    for name in names:  # every drift event is named with the week the trigger fired
        assert any(f"«{name}»" in r.message and "сработал на неделе" in r.message for r in results)
    assert "ложных срабатываний 0" in " ".join(r.message for r in results)


@pytest.mark.parametrize(
    ("answer", "made"),
    [
        (always, {"always", "refused batch"}),
        (never, {"never"}),
        # Seed 42: the calendar comes by in week 23 (routing) and 35 (peak) by luck.
        (quarterly_calendar, {"calendar", "ignores drift"}),
        (drift_only, {"ignores degradation"}),
        (degradation_only, {"ignores drift"}),
        (no_tolerance, {"no tolerance", "refused batch"}),
        (any_alarm, {"refused batch"}),
        (short_safety_net, {"age"}),
    ],
)
def test_trigger_hints_name_only_the_mistakes_made(observed, answer, made):
    results = lab.check_trigger(answer, observed)
    assert not passed(results)
    assert_names_only(failed_messages(results), made, TRIGGER_MISTAKES)


def test_trigger_check_counts_false_triggers_in_calm_weeks(observed):
    kinds = lab.week_kinds(observed)
    calm = kinds[kinds["kind"] == lab.CALM]
    always_line = next(r for r in lab.check_trigger(always, observed) if "спокойные" in r.message)
    assert f"ложных срабатываний {len(calm)} " in always_line.message
    calendar = lab.check_trigger(quarterly_calendar, observed)
    fired = [w for w in calm["week"] if (w + 1) % 4 == 0]
    assert f"ложных срабатываний {len(fired)} " in failed_messages(calendar)
    assert len(fired) > lab.MAX_FALSE_TRIGGERS


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [(printing, "ничего не вернула (None)"), (numpy_bool, "np.bool_")],
)
def test_a_wrong_return_value_gets_a_hint_not_a_traceback(observed, answer, phrase):
    out = feedback(lab.check_trigger, answer, observed)
    assert phrase in out and "Запустите ячейку" not in out


# --- Exercise 2: the quality gate ---------------------------------------------------------

MARGIN = 0.005


def right_gate(challenger, champion):
    if challenger.data_valid is not True:
        return GateDecision(False, f"данные не проверены: {challenger.data_valid}")
    gain = champion.metrics["log_loss"] - challenger.metrics["log_loss"]
    return GateDecision(gain > MARGIN, f"прирост {gain:+.4f}")


def cost_gate(challenger, champion):  # right too: ₽ per order with a 1 ₽ margin
    if challenger.data_valid is not True:
        return False, "данные не проверены"
    gain = champion.metrics["cost_per_order"] - challenger.metrics["cost_per_order"]
    return gain > 1.0, f"₽ на заказ: прирост {gain:+.2f}"


def checked(compare):
    """A gate that refuses unchecked data and passes when ``compare(new, old)``."""

    def gate(challenger, champion):
        if challenger.data_valid is not True:
            return False, "данные не проверены"
        new, old = challenger.metrics["log_loss"], champion.metrics["log_loss"]
        return bool(compare(new, old)), f"{new:.4f} против {old:.4f}"

    return gate


def unchecked_data(challenger, champion):  # wrong: metrics only
    gain = champion.metrics["log_loss"] - challenger.metrics["log_loss"]
    return gain > MARGIN, "по метрике"


def only_false_refused(challenger, champion):  # wrong: data_valid=None passes
    if challenger.data_valid is False:
        return False, "данные не прошли проверку"
    gain = champion.metrics["log_loss"] - challenger.metrics["log_loss"]
    return gain > MARGIN, "по метрике"


GATE_MISTAKES = {
    "reversed": "Сравнение перевёрнуто",
    "ignores champion": "не смотрят на чемпиона",
    "no margin": "Нет запаса на шум",
    "too strict": "Запас слишком велик",
    "refuses valid": "не пропустили ни одной модели",
    "passes all": "пропускают любую модель",
    "refused data": "не смотрят на challenger.data_valid",
    "unchecked data": "data_valid=None значит",
    "no reason": "верните и причину",
}


@pytest.mark.parametrize("answer", [right_gate, cost_gate, checked(lambda n, o: o - n > 0.01)])
def test_gate_check_accepts_right_answers(answer):
    results = lab.check_gate(answer)
    assert passed(results), failed_messages(results)
    for case, result in zip(lab.GATE_CASES, results, strict=False):  # the gate's own reason
        reason = answer(case.challenger, case.champion)
        reason = reason.reason if isinstance(reason, GateDecision) else reason[1]
        assert result.message.endswith(reason) and f"«{case.name}»" in result.message


@pytest.mark.parametrize(
    ("answer", "made"),
    [
        (checked(lambda new, old: new - old > MARGIN), {"reversed"}),
        (checked(lambda new, old: new < old), {"no margin"}),
        (checked(lambda new, old: new < 0.32), {"ignores champion"}),  # a fixed bar
        (checked(lambda new, old: old - new > 0.05), {"too strict"}),
        (lambda challenger, champion: (False, "нет"), {"refuses valid"}),
        (lambda challenger, champion: (True, "да"), {"passes all", "refused data"}),
        (unchecked_data, {"refused data"}),
        (only_false_refused, {"unchecked data"}),
        (MetricGate("log_loss", MARGIN), {"unchecked data"}),
        (lambda challenger, champion: right_gate(challenger, champion).passed, {"no reason"}),
    ],
)
def test_gate_hints_name_only_the_mistakes_made(answer, made):
    results = lab.check_gate(answer)
    assert not passed(results)
    assert_names_only(failed_messages(results), made, GATE_MISTAKES)


def test_the_gate_cases_are_what_their_names_say():
    for case in lab.GATE_CASES:
        new, old = case.challenger.metrics, case.champion.metrics
        gain = old["log_loss"] - new["log_loss"]
        cost_gain = old["cost_per_order"] - new["cost_per_order"]
        assert np.sign(gain) == np.sign(cost_gain)  # log loss and ₽ tell the same story
        assert np.sign(new["roc_auc"] - old["roc_auc"]) == np.sign(gain)
        if case.key == "noise":
            assert 0 < gain < MARGIN
        if case.should_pass:
            assert gain > 4 * MARGIN and case.challenger.data_valid is True
    assert {case.challenger.data_valid for case in lab.GATE_CASES} == {True, False, None}


def test_a_wrong_gate_answer_type_gets_a_hint():
    out = feedback(lab.check_gate, lambda challenger, champion: "да")
    assert "GateDecision(пропустить, причина)" in out and "Запустите ячейку" not in out


# --- Exercise 3: promotion and rollback on the MLflow registry -------------------------


@pytest.fixture(scope="module")
def model_uri(observed, tmp_path_factory) -> str:
    """A real model logged to a fresh tracking store: the year's first model."""
    from mlops_course.versioning import tracking

    tracking.setup_tracking(home=tmp_path_factory.mktemp("lab05-registry"))
    first = observed.result.shelf.versions[1]
    info = tracking.log_training_run(
        first.model, first.features, first.validation, {}, first.reference_metrics
    )
    return info.model_uri


def registry():
    from mlops_course.versioning import registry

    return registry


def right_promote(name, version):
    current = registry().get_alias_version(name, "champion")
    if current is not None and current != version:
        registry().set_alias(name, "previous_champion", current)
    registry().set_alias(name, "champion", version)


def right_rollback(name):
    previous = registry().get_alias_version(name, "previous_champion")
    if previous is None:
        raise LookupError("нет previous_champion")
    registry().set_alias(name, "champion", previous)
    registry().delete_alias(name, "previous_champion")
    return previous


def right_release(name, version, decision):
    if decision.passed:
        right_promote(name, version)
        if registry().get_alias_version(name, "challenger") == version:
            registry().delete_alias(name, "challenger")
    else:
        registry().set_alias(name, "challenger", version)


def forgets_previous(name, version):  # wrong: the way back is lost
    registry().set_alias(name, "champion", version)


def previous_every_time(name, version):  # wrong: re-promoting overwrites the way back
    current = registry().get_alias_version(name, "champion")
    if current is not None:
        registry().set_alias(name, "previous_champion", current)
    registry().set_alias(name, "champion", version)


def deletes_champion(name):  # wrong: the rollback deletes the alias instead of moving it
    registry().delete_alias(name, "champion")


def swaps(name):  # wrong: the rolled-back version becomes the way back
    aliases = registry().aliases(name)
    registry().set_alias(name, "champion", aliases["previous_champion"])
    registry().set_alias(name, "previous_champion", aliases["champion"])


def ignores_decision(name, version, decision):  # wrong: a refused model is promoted
    registry().set_alias(name, "challenger", version)
    right_promote(name, version)
    registry().delete_alias(name, "challenger")


def release_with(promote):
    """The right release, promoting with ``promote``."""

    def release(name, version, decision):
        if decision.passed:
            promote(name, version)
        else:
            registry().set_alias(name, "challenger", version)

    return release


def no_challenger(name, version, decision):  # wrong: a refused version is not marked
    if decision.passed:
        right_promote(name, version)


def keeps_challenger(name, version, decision):  # wrong: the champion stays challenger too
    registry().set_alias(name, "challenger", version)
    if decision.passed:
        right_promote(name, version)


REGISTRY_MISTAKES = {
    "forgets previous": "не указывает на прежнего чемпиона",
    "overwrites previous": "затёрла previous_champion",
    "deletes champion": "а не удаляет его",
    "swaps": "откатанную v2",
    "keeps previous": "Алиас previous_champion остался",
    "ignores decision": "Отклонённая модель стала чемпионом",
    "no challenger": "алиасом challenger",
    "keeps challenger": "снимите с неё алиас challenger",
    "promote's mistake in release": "та же ошибка promote",
}
RIGHT = {"promote": right_promote, "rollback": right_rollback, "release": right_release}


def test_registry_check_accepts_the_right_answer_and_the_packages(model_uri):
    results = lab.check_registry(right_promote, right_rollback, right_release, model_uri)
    assert passed(results), failed_messages(results)
    assert registry().aliases(lab.CHECK_MODEL) == {"champion": 3, "previous_champion": 2}

    def package_release(name, version, decision):
        registry().set_alias(name, "challenger", version)
        if decision.passed:
            registry().promote(name, version)

    package = lab.check_registry(
        registry().promote, registry().rollback, package_release, model_uri
    )
    assert passed(package), failed_messages(package)


@pytest.mark.parametrize(
    ("wrong", "made"),
    [
        ({"promote": forgets_previous}, {"forgets previous"}),
        (
            {"promote": forgets_previous, "release": release_with(forgets_previous)},
            {"forgets previous", "promote's mistake in release"},
        ),
        ({"promote": previous_every_time}, {"overwrites previous"}),
        ({"rollback": deletes_champion}, {"deletes champion", "keeps previous"}),
        ({"rollback": swaps}, {"swaps"}),
        ({"release": ignores_decision}, {"ignores decision"}),
        ({"release": no_challenger}, {"no challenger"}),
        ({"release": keeps_challenger}, {"keeps challenger"}),
    ],
)
def test_registry_hints_name_only_the_mistakes_made(model_uri, wrong, made):
    answer = {**RIGHT, **wrong}
    results = lab.check_registry(
        answer["promote"], answer["rollback"], answer["release"], model_uri
    )
    assert not passed(results)
    assert_names_only(failed_messages(results), made, REGISTRY_MISTAKES)


def test_an_unfinished_function_of_three_is_named(model_uri):
    def rollback(name):
        raise NotImplementedError("Упражнение не выполнено: верните champion назад")

    with pytest.raises(ExerciseNotDone) as unfinished:
        run_check(lab.check_registry, right_promote, rollback, right_release, model_uri)
    message = str(unfinished.value)
    assert "функция rollback ещё не написана" in message and "верните champion назад" in message


# --- Exercise 4: the student's policy through the year ----------------------------------


def policy(**fields) -> OperatingPolicy:
    chosen = {"trigger": right_trigger, "gate": right_gate, "validate_data": True, "monitor": True}
    return OperatingPolicy("моя политика", **{**chosen, **fields})


@pytest.fixture(scope="module")
def level_0() -> object:
    return simulate_year(LEVEL_0, SEED)


def test_policy_check_accepts_a_ct_policy_that_beats_level_0(observed, level_0):
    # Level 2 is a right answer too: its own trigger and gate, cheaper than level 0. (The
    # lab's own policy passes in the solution notebook, which nbval runs.)
    year = observed.result
    results = lab.check_policy(year, level_0, year.policy.trigger, year.policy.gate)
    assert passed(results), failed_messages(results)
    assert year.summary()["cost_rub"] < level_0.summary()["cost_rub"]


def every_quarter(observation):
    return (observation.week + 1) % 13 == 0


POLICY_MISTAKES = {
    "not yours": "не ваши функции",
    "no monitor": "monitor=False",
    "no validation": "validate_data=False",
    "no retrain": "не сработал за год ни разу",
    "gate refuses all": "Ворота отклонили все",
}


@pytest.mark.parametrize(
    ("fields", "made"),
    [
        # The defaults of OperatingPolicy: nothing checked, nothing monitored.
        ({"validate_data": False, "monitor": False}, {"no monitor", "no validation"}),
        ({"trigger": NEVER}, {"not yours", "no retrain"}),
        (
            {"trigger": every_quarter, "gate": lambda challenger, champion: (False, "нет")},
            {"not yours", "gate refuses all"},
        ),
    ],
)
def test_a_policy_worse_than_level_0_is_told_why(level_0, fields, made):
    year = simulate_year(policy(**fields), SEED)
    assert year.summary()["cost_rub"] > level_0.summary()["cost_rub"]
    results = lab.check_policy(year, level_0, right_trigger, right_gate)
    assert not passed(results)
    assert_names_only(failed_messages(results), made, POLICY_MISTAKES)


def test_a_policy_without_the_students_functions_is_named(observed, level_0):
    results = lab.check_policy(observed.result, level_0, right_trigger, right_gate)
    assert [r.passed for r in results] == [False, True]  # level 2 beats level 0 all the same
    assert_names_only(failed_messages(results), {"not yours"}, POLICY_MISTAKES)


def test_policy_check_wants_a_year_and_level_0_of_the_same_seed(observed, level_0):
    year = observed.result
    assert "simulate_year(my_policy, seed)" in feedback(
        lab.check_policy, year.policy, level_0, right_trigger, right_gate
    )
    assert "simulate_year(LEVEL_0, seed)" in feedback(
        lab.check_policy, level_0, year, right_trigger, right_gate
    )


def test_the_policy_table_and_comparison_come_from_the_summaries(observed, level_0):
    table = lab.policy_table([level_0, observed.result])
    assert list(table.columns) == ["уровень 0", "уровень 2"]
    ours, theirs = observed.result.summary(), level_0.summary()
    assert table.loc["выкаток", "уровень 2"] == ours["deployments"]
    assert table.loc["₽ против уровня 0", "уровень 0"] == "+0.0%"
    assert table.loc["обнаружение: Новый район, нед.", "уровень 0"] == "—"
    assert table.loc["обнаружение: Новый район, нед.", "уровень 2"] == "0"
    line = lab.policy_comparison(observed.result, level_0)
    difference = f"{theirs['cost_rub'] - ours['cost_rub']:,.0f}".replace(",", "\u202f")
    assert line.startswith(f"уровень 2 против уровня 0: −{difference} ₽")
    assert lab.policy_name(policy()) == "моя политика"
