"""Who may decide a run's approvals: the permission, and never on a run one started."""

from typing import Any, cast

import pytest

from runplane.domain.deciders import may_decide, require_decider, starter_may_decide
from runplane.domain.errors import Forbidden
from runplane.domain.models import Principal, RunRecord

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only


def run(created_by: str | None = "key_starter", user_id: str | None = None) -> RunRecord:
    row: dict[str, Any] = {"id": "run_1", "created_by_key_id": created_by, "user_id": user_id}
    return cast(RunRecord, row)


def key(role: str, key_id: str = "key_other", user_id: str | None = None) -> Principal:
    return Principal(tenant_id="ten_1", key_id=key_id, role=role, user_id=user_id)


@pytest.mark.parametrize("role", ["member", "viewer", "nobody"])
def test_keys_without_the_permission_may_not_decide(role: str) -> None:
    with pytest.raises(Forbidden, match="needs decide_approvals"):
        require_decider(key(role), run(), allow_self=True)


def test_an_approver_decides_other_runs_but_not_its_own() -> None:
    assert may_decide(key("approver"), run(), allow_self=False)
    assert not may_decide(key("approver", "key_starter"), run(), allow_self=False)
    with pytest.raises(Forbidden, match="run it started") as refused:
        require_decider(key("approver", "key_starter"), run(), allow_self=False)
    assert refused.value.details == [{"name": "run_id", "value": "run_1"}]


def test_a_run_acting_for_the_approvers_own_user_is_its_own() -> None:
    bound = key("approver", user_id="alice")
    assert not may_decide(bound, run(user_id="alice"), allow_self=False)
    assert may_decide(bound, run(user_id="bob"), allow_self=False)
    # An unbound key is not "the same user" as a run with no user.
    assert may_decide(key("approver"), run(user_id=None), allow_self=False)


def test_the_setting_allows_self_approval_and_admins_are_exempt() -> None:
    assert may_decide(key("approver", "key_starter"), run(), allow_self=True)
    assert may_decide(key("admin", "key_starter"), run(), allow_self=False)
    assert may_decide(key("admin", user_id="alice"), run(user_id="alice"), allow_self=False)


def test_runs_started_before_it_was_recorded_are_nobodys_own() -> None:
    assert may_decide(key("approver", "key_starter"), run(created_by=None), allow_self=False)


@pytest.mark.parametrize(
    ("role", "allow_self", "gets_link"),
    [
        ("admin", False, True),
        ("approver", False, False),
        ("approver", True, True),
        ("member", True, False),
        ("viewer", True, False),
        (None, True, False),
    ],
)
def test_a_runs_webhook_gets_the_link_only_if_its_starter_may_decide(
    role: str | None, allow_self: bool, gets_link: bool
) -> None:
    assert starter_may_decide(role, allow_self=allow_self) is gets_link
