"""Services: every change to the data goes through one of these functions.

One module per aggregate: ``accounts`` (people, passwords, API tokens), ``processes`` (processes
and the roles held in them), ``recommendations`` (writing, editing, co-authors and ``fire``, the
only way a state changes), ``comments`` (threads, hiding, reports), ``signins`` (sign-ins as rows, signing out),
``throttle`` (sign-in and password-check limits in the database), ``departments`` (departments, their members and the statements
they are asked for), ``sessions`` (the steering round's sessions, agenda, decisions and minutes),
``follow_ups`` (reports on the implementation of adopted recommendations), ``categories`` (categories of a process and their routing to departments), ``notifications`` (who is told what,
follows, settings, the e-mail outbox), ``passwords`` (invitations and password resets), ``erasure`` (erasing a person), ``intake`` (public submissions by residents without an account), ``chain_checks`` (checks of the audit chain the worker runs); ``validation`` holds what they
all check the same way. Each function that changes something runs in one write transaction
(``app.transactions.write_transaction``), checks the actor's permissions, changes the models and
appends exactly one audit event; anything that fails rolls all of it back. A call that changes
nothing (the same text saved again, a role already held) records nothing; the one write without
an event is bookkeeping, a token's last use (``user_for_token``, at most once a minute). The
``find_*`` and hashing functions only read or compute. Nothing outside this package writes models
or the audit trail.

The names below are the package's public face, so that the ways in (web, API, CLI) say
``services.create_comment(...)`` without knowing which module holds it.
"""

from . import chain_checks, counts, intake
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
    set_affiliation,
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
from .follow_ups import record_follow_up
from .notifications import (
    follow,
    follows,
    mark_read,
    modes as notification_modes,
    save_settings as save_notification_settings,
    unfollow,
    unsubscribe,
)
from .passwords import invite_user, request_password_reset, set_password_with_link, token_for
from .processes import (
    create_process,
    find_process,
    grant_role,
    parse_links,
    revoke_role,
    set_answer_template,
    update_overview,
)
from .recommendations import add_author, create_recommendation, fire, update_recommendation, workflow_of
from .sessions import (
    MinutesItem,
    add_ready,
    add_to_agenda,
    close_session,
    create_session,
    decide,
    minutes_items,
    move_item,
    parse_held_at,
    readable_items,
    remove_from_agenda,
    update_minutes,
)
from .signins import end_session, sign_in, sign_out_everywhere, user_for_session
from .throttle import password_attempt, sign_in_attempt

__all__ = [
    "MinutesItem",
    "minutes_items",
    "readable_items",
    "Caller",
    "chain_checks",
    "counts",
    "intake",
    "add_author",
    "add_department_member",
    "answer_statement",
    "change_password",
    "check_new_password",
    "create_comment",
    "create_department",
    "create_process",
    "create_recommendation",
    "create_token",
    "create_user",
    "decline_statement",
    "decoy_password_hash",
    "Erasure",
    "erase_user",
    "dismiss_report",
    "edit_comment",
    "find_department",
    "find_process",
    "remove_department_member",
    "request_statement",
    "find_user",
    "fire",
    "grant_role",
    "hash_password",
    "hash_token",
    "hide_comment",
    "rehash_password_if_needed",
    "parse_links",
    "report_comment",
    "revoke_role",
    "revoke_tokens",
    "set_active",
    "set_affiliation",
    "update_overview",
    "update_recommendation",
    "user_for_token",
    "workflow_of",
    "end_session",
    "sign_in",
    "sign_out_everywhere",
    "user_for_session",
    "password_attempt",
    "sign_in_attempt",
    "record_follow_up",
    "set_answer_template",
    "add_ready",
    "add_to_agenda",
    "close_session",
    "create_session",
    "decide",
    "move_item",
    "parse_held_at",
    "remove_from_agenda",
    "update_minutes",
    "follow",
    "follows",
    "mark_read",
    "notification_modes",
    "save_notification_settings",
    "unfollow",
    "unsubscribe",
    "invite_user",
    "request_password_reset",
    "set_password_with_link",
    "token_for",
]
