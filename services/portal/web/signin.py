"""Sign-in: ``POST /login`` (email, password), ``POST /login/otp`` (code or recovery code),
``POST /logout``; ``/access`` e-mails a sign-in or enrolment link.

Every failure answers the same page with the same sentence, whether the address is unknown,
the password wrong, the code wrong or reused, or the account locked; an unknown address
still costs one argon2 verification. Ten failures in a row lock the account for 15 minutes;
past ``throttle_limit`` failures in 15 minutes, an address is answered 429 unchecked.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.responses import Response

from services.portal.auth import accounts, links, passwords, recovery, sessions, throttle, totp
from services.portal.web.endpoint import Ctx
from services.portal.web.mail import send_link

FAILED = "Adresse e-mail, mot de passe ou code incorrect (ou trop d'essais : réessayez dans " \
         "15 minutes)."
THROTTLED = "Trop de tentatives depuis votre adresse réseau : réessayez dans quelques minutes."


def home_for(ctx: Ctx) -> str:
    return "/issuer/invoices" if ctx.tenants else "/invoices"


async def login_form(ctx: Ctx) -> Response:
    if ctx.account is not None:
        return ctx.redirect(home_for(ctx))
    return ctx.render("login.html", {"title": "Connexion"})


async def _throttled(ctx: Ctx) -> Response | None:
    if await throttle.blocked(ctx.conn, ctx.address, ctx.now, ctx.portal.throttle_limit):
        return ctx.render("login.html", {"title": "Connexion", "error": THROTTLED}, status=429)
    return None


async def login(ctx: Ctx) -> Response:
    if (answer := await _throttled(ctx)) is not None:
        return answer
    email, password = ctx.field("email"), ctx.field("password")
    account = await accounts.by_email(ctx.conn, email) if email else None
    stored = account.password_hash if account is not None else None
    good = passwords.verify(stored, password)
    if account is None or not good or account.locked(ctx.now):
        await throttle.record(ctx.conn, ctx.address, ctx.now)
        if account is not None:
            await accounts.record_failure(ctx.conn, account, ctx.now)
        return ctx.render("login.html", {"title": "Connexion", "error": FAILED,
                                         "email": email})
    if account.totp_secret is None:
        # An enrolment left before its second factor: only a new e-mailed link finishes it
        # (a password alone never registers an authenticator).
        return ctx.render("login.html", {"title": "Connexion", "error": FAILED,
                                         "email": email})
    await sessions.rotate(ctx.conn, ctx.session, stage="otp", account_id=account.id, data={},
                          now=ctx.now)
    return ctx.redirect("/login/otp")


async def otp_form(ctx: Ctx) -> Response:
    return ctx.render("otp.html", {"title": "Code de vérification"})


async def otp(ctx: Ctx) -> Response:
    if (answer := await _throttled(ctx)) is not None:
        return answer
    assert ctx.session.account_id is not None
    account = await accounts.by_id(ctx.conn, ctx.session.account_id)
    code = ctx.field("code")
    ok = False
    if account is not None and account.totp_secret and not account.locked(ctx.now):
        if recovery.looks_like(code):
            ok = await accounts.use_recovery_code(ctx.conn, account.id, code, ctx.now)
        else:
            try:
                secret = ctx.portal.box.open(account.totp_secret, account.id)
            except LookupError:
                secret = None  # its master key is gone: a new enrolment link restores access
            step = totp.verify(secret, code, ctx.now, account.totp_last_step) if secret else None
            ok = step is not None and await accounts.use_totp_step(ctx.conn, account.id, step)
    if account is None or not ok:
        await throttle.record(ctx.conn, ctx.address, ctx.now)
        if account is not None:
            await accounts.record_failure(ctx.conn, account, ctx.now)
        return ctx.render("otp.html", {"title": "Code de vérification", "error": FAILED})
    await accounts.record_success(ctx.conn, account.id)
    await sessions.rotate(ctx.conn, ctx.session, stage="full", account_id=account.id, data={},
                          now=ctx.now)
    ctx.tenants = await accounts.memberships(ctx.conn, account.id)
    return ctx.redirect(home_for(ctx))


async def logout(ctx: Ctx) -> Response:
    await sessions.end(ctx.conn, ctx.session.public_id)
    ctx.session.ended = True
    return ctx.redirect("/login")


async def access_form(ctx: Ctx) -> Response:
    return ctx.render("access.html", {"title": "Recevoir un lien d'accès"})


async def access(ctx: Ctx) -> Response:
    """Always the same answer; a link goes only to an address that has (or may open) an
    account: an enrolled account, an issuer user, or the recipient of a visible invoice."""
    if (answer := await _throttled(ctx)) is not None:
        return answer
    email = accounts.normalise_email(ctx.field("email"))
    mail: BackgroundTask | None = None
    if "@" in email and len(email) <= 254:
        account = await accounts.by_email(ctx.conn, email)
        known = account is not None and (
            account.enrolled or await accounts.memberships(ctx.conn, account.id))
        if await links.recently_sent(ctx.conn, email, ctx.now) >= links.MAX_RECENT:
            pass  # enough links are on their way; the answer stays the same
        elif known or await accounts.is_recipient(ctx.conn, email):
            url, enrolment = await links.link_for(ctx.conn, ctx.portal.settings.portal_url,
                                                  email, ctx.now)
            # Sent after the commit and the answer: its timing shows nothing either.
            mail = BackgroundTask(send_link, ctx.portal, email, url, enrolment)
        else:
            await throttle.record(ctx.conn, ctx.address, ctx.now)
    answer = ctx.render("message.html", {
        "title": "Vérifiez votre messagerie",
        "message": "Si cette adresse a accès à l'espace factures, un lien vient de lui être "
                   "envoyé. Il est valable 15 minutes pour une connexion, 24 heures pour une "
                   "première inscription, et ne sert qu'une fois."})
    answer.background = mail
    return answer


async def link_form(ctx: Ctx) -> Response:
    """GET of an e-mailed link: a confirmation page only (the link is not spent)."""
    return ctx.render("link.html", {"title": "Confirmer l'accès",
                                    "token": ctx.request.path_params["token"]})


async def link_confirm(ctx: Ctx) -> Response:
    found = await links.consume(ctx.conn, ctx.request.path_params["token"], ctx.now)
    if found is None:
        return ctx.render("message.html", {
            "title": "Lien expiré ou déjà utilisé",
            "message": "Ce lien n'est plus valable. Demandez-en un nouveau.",
            "action": ("/access", "Recevoir un nouveau lien")}, status=410)
    email, _purpose = found
    account = await accounts.ensure(ctx.conn, email, ctx.now)
    if account.enrolled:
        # The link proves the address; the second factor is still asked.
        await sessions.rotate(ctx.conn, ctx.session, stage="otp", account_id=account.id,
                              data={}, now=ctx.now)
        return ctx.redirect("/login/otp")
    await sessions.rotate(ctx.conn, ctx.session, stage="enrol_password", account_id=account.id,
                          data={}, now=ctx.now)
    return ctx.redirect("/enrol/password")
