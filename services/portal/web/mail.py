"""The portal's own e-mails (links), sent through the mailer (SMTP or ``.eml`` files)."""

from __future__ import annotations

from services.portal.web.state import Portal
from shared.logging import get_logger

log = get_logger(__name__)


def link_text(url: str, enrolment: bool, issuer: str | None = None) -> tuple[str, str]:
    if enrolment:
        subject = "Votre accès à l'espace factures"
        intro = (f"{issuer} vous donne accès à son espace factures." if issuer else
                 "Vous pouvez créer votre accès à l'espace factures.")
        action = "Créez votre accès avec ce lien (valable 24 heures, à usage unique) :"
    else:
        subject = "Votre lien de connexion"
        intro = "Vous avez demandé un lien de connexion à l'espace factures."
        action = "Connectez-vous avec ce lien (valable 15 minutes, à usage unique) :"
    text = (f"Bonjour,\n\n{intro}\n\n{action}\n{url}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n"
            "Ce message est envoyé automatiquement, merci de ne pas y répondre.\n")
    return subject, text


async def send_link(portal: Portal, email: str, url: str, enrolment: bool,
                    issuer: str | None = None) -> None:
    """Send a link e-mail; a failure is logged (the person can ask again), never raised."""
    subject, text = link_text(url, enrolment, issuer)
    try:
        await portal.mail().send(email, subject, text)
    except Exception as exc:
        log.warning("portal-mail-failed", error=type(exc).__name__)
