"""Services: every change to the data goes through one of these functions.

One module per aggregate: ``accounts`` (people, passwords, API tokens), ``processes`` (processes
and the roles held in them), ``recommendations`` (writing, editing, co-authors and ``fire``, the
only way a state changes), ``comments`` (threads, hiding, reports), ``departments`` (departments, their members and the statements
they are asked for), ``erasure`` (erasing a person); ``validation`` holds what they
all check the same way. Each function runs in one write transaction (``app.transactions``),
checks the actor's permissions, changes the models and appends exactly one audit event; anything
that fails rolls all of it back. Nothing outside this package writes models or the audit trail.

The names below are the package's public face, so that the ways in (web, API, CLI) say
``services.create_comment(...)`` without knowing which module holds it.
"""
from .accounts import (
    Caller,
    change_password,
    check_new_password,
    create_token,
    create_user,
    decoy_password_hash,
    find_user,
    hash_password,
    hash_token,
    rehash_password_if_needed,
    revoke_tokens,
    set_active,
    user_for_token,
)
from .comments import create_comment, dismiss_report, edit_comment, hide_comment, report_comment
from .departments import (
    add_department_member,
    answer_statement,
    create_department,
    decline_statement,
    find_department,
    remove_department_member,
    request_statement,
)
from .erasure import Erasure, erase_user
from .processes import create_process, find_process, grant_role, revoke_role
from .recommendations import add_author, create_recommendation, fire, update_recommendation, workflow_of

__all__ = [
    "Caller", "add_author", "add_department_member", "answer_statement", "change_password", "check_new_password",
    "create_comment", "create_department", "create_process", "create_recommendation", "create_token", "create_user",
    "decline_statement", "decoy_password_hash", "Erasure", "erase_user", "dismiss_report", "edit_comment", "find_department", "find_process",
    "remove_department_member", "request_statement",
    "find_user", "fire", "grant_role", "hash_password", "hash_token", "hide_comment", "rehash_password_if_needed",
    "report_comment", "revoke_role", "revoke_tokens", "set_active", "update_recommendation", "user_for_token",
    "workflow_of",
]
