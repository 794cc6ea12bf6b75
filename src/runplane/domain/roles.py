"""Roles and what each may do: the one table every surface checks."""

from enum import StrEnum


class Permission(StrEnum):
    """One thing a key may be allowed to do within its tenant."""

    READ = "read"  # runs, events, steps, agents, threads, assistants, crons, approvals
    SEE_CONTEXT = "see_context"  # a run's, assistant's or cron's hidden `context`
    CREATE_RUNS = "create_runs"  # start runs, write threads/assistants/crons/store items
    CANCEL_RUNS = "cancel_runs"
    REPAIR_RUNS = "repair_runs"  # resume a stalled or lost run elsewhere, or fail it
    DELETE = "delete"  # runs, threads, assistants, crons, store items
    DECIDE_APPROVALS = "decide_approvals"
    PUBLISH = "publish"  # publish or pin agent revisions, create draft revisions
    MANAGE_CONNECTIONS = "manage_connections"  # any user's connection, not just one's own
    ACT_AS_USER = "act_as_user"  # start a run for a `user_id` other than the key's own
    WIDEN_INTEGRATIONS = "widen_integrations"  # `integrations: ["*"]` on a run
    MANAGE_INTEGRATIONS = "manage_integrations"  # install, change, remove customer integrations
    MANAGE_KEYS = "manage_keys"  # create, list, revoke keys; rotate the webhook secret
    HOLD_FILES = "hold_files"  # put a legal hold on a file, and release it
    READ_AUDIT = "read_audit"  # the tenant's audit events (who changed keys, roles, settings)
    MANAGE_BUDGETS = "manage_budgets"  # set or remove the tenant's and agents' budgets
    GOVERN = "govern"  # the governance policy, legal holds, evidence exports, signing keys


P = Permission
_EVERYTHING = frozenset(Permission)
_MEMBER = frozenset({P.READ, P.CREATE_RUNS, P.CANCEL_RUNS})

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": _EVERYTHING,
    "member": _MEMBER,
    "approver": _MEMBER | {P.DECIDE_APPROVALS},
    "viewer": frozenset({P.READ}),
}
ROLES = tuple(ROLE_PERMISSIONS)


def allows(role: str, permission: Permission) -> bool:
    """Tell whether a key of this role may do this; unknown roles may do nothing."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
