"""Who may decide a run's approvals: the permission, and never on a run one started.

An approver key may not decide approvals of a run it started (the same key) or of a run
that acts for the user it is bound to (the same ``user_id``), unless the server allows
self-approval. Admin keys are exempt: they can mint approver keys anyway, so the rule
would not hold them back.
"""

from runplane.domain.errors import Forbidden
from runplane.domain.models import Principal, RunRecord
from runplane.domain.roles import Permission, allows


def exempt_from_self_rule(role: str, allow_self: bool) -> bool:
    """Tell whether keys of this role may decide their own runs' approvals."""
    return allow_self or allows(role, Permission.MANAGE_KEYS)


def is_own_run(who: Principal, run: RunRecord) -> bool:
    """Tell whether the key started the run, or the run acts for the key's bound user."""
    if run["created_by_key_id"] is not None and run["created_by_key_id"] == who.key_id:
        return True
    return who.user_id is not None and who.user_id == run["user_id"]


def require_decider(who: Principal, run: RunRecord, *, allow_self: bool) -> None:
    """Raise Forbidden unless this key may decide this run's approvals."""
    who.require(Permission.DECIDE_APPROVALS)
    if is_own_run(who, run) and not exempt_from_self_rule(who.role, allow_self):
        raise Forbidden(
            "an approver may not decide approvals of a run it started "
            "(the server's allow_self_approval setting permits it)",
            [{"name": "run_id", "value": run["id"]}],
        )


def may_decide(who: Principal, run: RunRecord, *, allow_self: bool) -> bool:
    """Tell whether this key may decide this run's approvals (and so see their links)."""
    try:
        require_decider(who, run, allow_self=allow_self)
    except Forbidden:
        return False
    return True


def starter_may_decide(role: str | None, *, allow_self: bool) -> bool:
    """Tell whether the key that started a run may decide its approvals itself.

    Only then does the run's own ``notify`` webhook, an address its starter chose, get
    the approval link: otherwise a member could decide its own runs through its webhook.
    """
    if role is None or not allows(role, Permission.DECIDE_APPROVALS):
        return False
    return exempt_from_self_rule(role, allow_self)
