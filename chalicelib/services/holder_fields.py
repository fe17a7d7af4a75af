"""How pwreg shows a holder, and the audit fields that name who acted and whom an event is
about (SPEC 8 v2, 11): shared by pwreg, the enrolment and the password changes.
"""
from __future__ import annotations

from typing import Any

from chalicelib.domain import phone as phones
from chalicelib.domain.holders import Holder


def shown(holder: Holder) -> dict[str, Any]:
    """A holder as pwreg shows them (SPEC 8 v2): never the whole number."""
    return {"id": holder.id, "name": holder.name,
            "phone_masked": phones.masked_national(holder.phone),
            "authenticator": holder.authenticator is not None,
            "proven": holder.proven}  # by the organisation's identity provider (SPEC 15)


def acting_as(holder_id: str, holder_name: str, proven_by: str = "") -> dict[str, str]:
    """The audit fields naming the holder who acted (none: a login alone names nobody), and
    `proven_by`, the identity provider's issuer, when it proved them (SPEC 15)."""
    if not holder_id:
        return {}
    fields = {"holder_id": holder_id, "holder_name": holder_name}
    return {**fields, "proven_by": proven_by} if proven_by else fields


def subject(holder: Holder, added: bool = False) -> dict[str, str]:
    """The audit fields naming the holder an event is about."""
    fields = {"subject_id": holder.id, "subject_name": holder.name}
    if holder.proven:
        fields["subject_proven_by"] = holder.issuer
    return {**fields, "added_by": holder.added_by} if added else fields
