"""The « Nouvelle facture disponible » e-mail: its link, its text, its Message-ID (no I/O here
except through the link hook).

Which link a recipient gets is the web application's decision (contract v2 section 7): an
address that has no enrolled account yet gets an enrolment link (random, single use, 24 h),
an enrolled one gets the invoice's page (``/invoices/{id}``, behind sign-in). The sender asks a
:class:`RecipientLinks` for it; the web side passes its own implementation when it wires the
notifier. :class:`InvoicePageLinks`, the default, always points at the invoice page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from html import escape
from typing import Any, Protocol

import psycopg

SUBJECT = "Nouvelle facture disponible"


@dataclass(frozen=True)
class Link:
    url: str
    enrolment: bool  # True: the address must first create its account (24 h link)


class RecipientLinks(Protocol):
    async def link(self, conn: psycopg.AsyncConnection[Any], *, email: str, tenant: str,
                   invoice_id: uuid.UUID) -> Link:
        """The link for this e-mail. Runs inside the transaction that stores the composed
        message: an enrolment token made here commits with it, or not at all."""
        ...


class InvoicePageLinks:
    """Every recipient is sent to the invoice's page (sign-in or enrolment happen there)."""

    def __init__(self, portal_url: str) -> None:
        self.portal_url = portal_url.rstrip("/")

    async def link(self, conn: psycopg.AsyncConnection[Any], *, email: str, tenant: str,
                   invoice_id: uuid.UUID) -> Link:
        return Link(f"{self.portal_url}/invoices/{invoice_id}", enrolment=False)


def message_id(invoice_id: uuid.UUID, mail_from: str) -> str:
    """Deterministic per invoice: a second send after a crash carries the same Message-ID."""
    domain = mail_from.rpartition("@")[2].strip(" >") or "localhost"
    return f"<invoice.{invoice_id.hex}@{domain}>"  # short: never folded


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


def compose(*, issuer: str, invoice_number: str | None, issue_date: str | None,
            link: Link) -> Composed:
    """The French message: plain text (the part every client shows) and the same in HTML."""
    what = f"la facture n° {invoice_number}" if invoice_number else "une facture"
    when = f" du {issue_date}" if issue_date else ""
    if link.enrolment:
        action = ("Pour la consulter et la télécharger, créez votre accès à l'espace factures "
                  "avec ce lien (valable 24 heures, à usage unique) :")
    else:
        action = "Pour la consulter et la télécharger, connectez-vous à votre espace factures :"
    text = (
        "Bonjour,\n\n"
        f"{issuer} a mis à votre disposition {what}{when}.\n\n"
        f"{action}\n{link.url}\n\n"
        "Si vous n'attendiez pas ce message, ignorez-le : aucun compte n'est créé sans vous.\n\n"
        "Ce message est envoyé automatiquement, merci de ne pas y répondre.\n"
    )
    html = (
        '<!DOCTYPE html><html lang="fr"><body>'
        "<p>Bonjour,</p>"
        f"<p>{escape(issuer)} a mis à votre disposition {escape(what)}{escape(when)}.</p>"
        f'<p>{escape(action)}<br><a href="{escape(link.url)}">{escape(link.url)}</a></p>'
        "<p>Si vous n'attendiez pas ce message, ignorez-le : aucun compte n'est créé sans "
        "vous.</p><p>Ce message est envoyé automatiquement, merci de ne pas y répondre.</p>"
        "</body></html>"
    )
    return Composed(SUBJECT, text, html)
