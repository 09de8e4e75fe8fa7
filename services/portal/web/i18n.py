"""French by default, English when the browser prefers it (``Accept-Language``).

Templates write their French text through ``t("…")``; :data:`EN` holds the English. A string
missing here is shown in French (never an empty page).
"""

from __future__ import annotations

from collections.abc import Callable


def language(accept_language: str | None) -> str:
    """``en`` when English ranks above French in ``Accept-Language``, else ``fr``."""
    best: dict[str, float] = {}
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in ("fr", "en") and q > best.get(primary, -1.0):
            best[primary] = q
    return "en" if best.get("en", 0.0) > best.get("fr", 0.0) else "fr"


def translator(lang: str) -> Callable[[object], str]:
    def t(text: object) -> str:
        s = "" if text is None else str(text)
        return EN.get(s, s) if lang == "en" else s
    return t


EN: dict[str, str] = {
    "Page précédente": "Previous page", "Page suivante": "Next page", "Pages": "Pages",
    "Indiquez votre adresse : si elle a accès à l'espace factures, vous recevrez un lien de "
    "connexion (ou d'inscription).": "Enter your address: if it has access to the invoice "
    "space, you will receive a sign-in (or enrolment) link.",
    "Adresse e-mail": "E-mail address", "Recevoir le lien": "Send me the link",
    "Connecté en tant que": "Signed in as", "Sessions ouvertes": "Open sessions",
    "(cette session)": "(this session)", "Fermer cette session": "End this session",
    "Consultations, téléchargements et modifications": "Views, downloads and changes",
    "Quand": "When", "Qui": "Who", "Action": "Action", "Facture": "Invoice",
    "Adresse réseau": "Network address", "Aucun événement.": "No event.",
    "Journal d'audit": "Audit trail", "Aller au contenu": "Skip to content",
    "Espace factures": "Invoice space", "Mes factures": "My invoices",
    "Factures émises": "Issued invoices", "Clients": "Clients", "Consommation": "Usage",
    "Paramètres": "Settings", "Audit": "Audit", "Mon compte": "My account",
    "Se déconnecter": "Sign out",
    "Connexion chiffrée · documents chiffrés et horodatés":
        "Encrypted connection · documents encrypted and time-stamped",
    "Navigation principale": "Main navigation", "Lien d'accès envoyé.": "Access link sent.",
    "Accès retiré.": "Access revoked.", "Clients destinataires": "Recipient clients",
    "Client": "Client", "Identifiant": "Identifier", "E-mail": "E-mail",
    "Factures": "Invoices", "Dernière facture": "Last invoice", "Accès": "Access",
    "Actions": "Actions", "Renvoyer l'accès": "Re-send access", "Retirer l'accès": "Revoke access",
    "Aucun client n'a encore reçu de facture par l'espace factures.":
        "No client has received an invoice through the invoice space yet.",
    "Confirmez le mot de passe": "Confirm the password", "Enregistrer": "Save",
    "Scannez ce code avec votre application d'authentification (par exemple FreeOTP, Aegis, "
    "Google Authenticator), puis saisissez le code qu'elle affiche.":
        "Scan this code with your authenticator app (for instance FreeOTP, Aegis, Google "
        "Authenticator), then enter the code it shows.",
    "Saisie manuelle": "Manual entry", "Clé :": "Key:", "Adresse :": "URI:",
    "Code à six chiffres": "Six-digit code", "Confirmer": "Confirm",
    "QR code de l'authentification à deux facteurs": "Two-factor authentication QR code",
    "Retour à l'accueil": "Back to the home page", "Émetteur": "Issuer", "Numéro": "Number",
    "Date d'émission": "Issue date", "Destinataire": "Recipient",
    "Montant TTC à payer": "Amount due (incl. VAT)", "État": "State",
    "Archivée le": "Archived on", "Empreinte SHA-256": "SHA-256 fingerprint",
    "Téléchargements": "Downloads", "Facture PDF": "PDF invoice",
    "Fichier d'origine": "Original file", "Preuve d'archivage (zip)": "Archiving proof (zip)",
    "Historique": "History", "Aucun événement enregistré.": "No event recorded.",
    "Tous": "All", "Du": "From", "Au": "To", "Filtrer": "Filter",
    "Factures reçues": "Invoices received", "Date": "Date", "Montant TTC": "Amount incl. VAT",
    "Télécharger une période": "Download a period",
    "Télécharger les PDF (zip)": "Download the PDFs (zip)",
    "Filtrer les factures": "Filter the invoices", "Liste des factures": "Invoice list",
    "Client (e-mail ou identifiant)": "Client (e-mail or identifier)",
    "Catalogue des factures": "Invoice catalogue",
    "Pour continuer, confirmez que vous ouvrez bien ce lien vous-même.":
        "To continue, confirm that you are opening this link yourself.",
    "Confirmer et continuer": "Confirm and continue", "Mot de passe": "Password",
    "Continuer": "Continue",
    "Première connexion, ou mot de passe oublié ?": "First sign-in, or forgot your password?",
    "Recevoir un lien par e-mail": "Get a link by e-mail", "Page de connexion": "Sign-in page",
    "Code à six chiffres de votre application d'authentification (ou un code de secours)":
        "Six-digit code from your authenticator app (or a recovery code)",
    "Se connecter": "Sign in",
    "Votre accès est prêt. Conservez ces dix codes de secours en lieu sûr : chacun remplace "
    "une fois le code de l'application si vous la perdez. Ils ne seront plus affichés.":
        "Your access is ready. Keep these ten recovery codes somewhere safe: each replaces the "
        "app's code once if you lose it. They will not be shown again.",
    "Accéder à mes factures": "Go to my invoices", "Votre espace": "Your space",
    "Nom affiché": "Display name", "Logo (PNG ou SVG, 512 Ko au plus)":
        "Logo (PNG or SVG, at most 512 KB)", "Utilisateurs": "Users",
    "Utilisateurs de l'espace": "Users of the space", "Rôle": "Role", "Activé": "Enrolled",
    "Retirer": "Remove", "Adresse e-mail du nouvel utilisateur": "New user's e-mail address",
    "staff (consultation)": "staff (read only)", "admin (gestion)": "admin (management)",
    "Ajouter et envoyer l'invitation": "Add and send the invitation",
    "Factures archivées (conservées)": "Archived invoices (stored)",
    "Cumul depuis la souscription": "Cumulative since subscription",
    "Période en cours": "Current period",
    "Factures de la période en cours": "Invoices in the current period",
    "Factures de la période précédente": "Invoices in the previous period", "Formule": "Plan",
    "Tranches de la période en cours": "Tranches in the current period", "Tranches": "Tranches",
    "Souscription": "Subscription",
    "Relevé de la période précédente": "Statement of the previous period",
    "Pas encore de période close.": "No closed period yet.",
    # Page titles and messages set in code.
    "Connexion": "Sign in", "Code de vérification": "Verification code",
    "Recevoir un lien d'accès": "Get an access link",
    "Vérifiez votre messagerie": "Check your mailbox", "Confirmer l'accès": "Confirm access",
    "Lien expiré ou déjà utilisé": "Link expired or already used",
    "Ce lien n'est plus valable. Demandez-en un nouveau.":
        "This link is no longer valid. Ask for a new one.",
    "Recevoir un nouveau lien": "Get a new link",
    "Choisir un mot de passe": "Choose a password",
    "Application d'authentification": "Authenticator app", "Codes de secours": "Recovery codes",
    "Mon compte ": "My account", "Consommation ": "Usage", "Journal d'audit ": "Audit trail",
    "Page introuvable": "Page not found",
    "Cette page n'existe pas, ou vous n'y avez pas accès.":
        "This page does not exist, or you have no access to it.",
    "Formulaire expiré": "Form expired",
    "Ce formulaire n'est plus valable : rechargez la page et recommencez.":
        "This form is no longer valid: reload the page and try again.",
    "Preuve indisponible": "Proof unavailable", "Période invalide": "Invalid period",
    "Période trop longue": "Period too long", "Document indisponible": "Document unavailable",
    "Adresse e-mail, mot de passe ou code incorrect (ou trop d'essais : réessayez dans "
    "15 minutes).": "Wrong e-mail address, password or code (or too many attempts: try again "
                    "in 15 minutes).",
    "Si cette adresse a accès à l'espace factures, un lien vient de lui être envoyé. Il est "
    "valable 15 minutes pour une connexion, 24 heures pour une première inscription, et ne sert "
    "qu'une fois.": "If this address has access to the invoice space, a link has just been "
    "sent to it. It is valid 15 minutes for a sign-in, 24 hours for a first enrolment, and "
    "works once.",
    "Archivée": "Archived", "Transmise": "Transmitted", "Reçue par le service": "Received",
    "Échec de transmission": "Transmission failed", "Refusée": "Rejected",
    "Supprimée (fin de conservation)": "Deleted (end of retention)",
    "Paramètres enregistrés.": "Settings saved.", "Facture ": "Invoice ",
    "Nouveau mot de passe": "New password", "au moins": "at least", "caractères": "characters",
    "facture": "invoice", "factures": "invoices", "sans numéro": "no number",
    "mise en forme lisible du fichier XML d'origine": "readable rendering of the original XML",
    "retiré": "revoked", "actif": "active", "non activé": "not enrolled", "oui": "yes",
    "non": "no", "Page": "Page", "sur": "of", "gratuite": "free", "payante": "paid",
    "du": "from", "au": "to",
}
