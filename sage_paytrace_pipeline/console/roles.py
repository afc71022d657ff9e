"""Who may do what in the console: four roles, each including the one below it."""

from __future__ import annotations

ROLES = ("viewer", "clerk", "approver", "admin")

# The least role each permission needs.
PERMISSIONS = {
    "view": "viewer",  # the queue, approvals, audit
    "resolve": "clerk",  # link a payer, mark reviewed
    "approve": "approver",  # approve or reject a refund request
    "export": "clerk",  # the audit trail as CSV
}


def allowed(role: str, permission: str) -> bool:
    """Whether `role` holds `permission`; an unknown role or permission holds nothing."""
    if role not in ROLES or permission not in PERMISSIONS:
        return False
    return ROLES.index(role) >= ROLES.index(PERMISSIONS[permission])
