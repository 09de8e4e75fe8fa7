"""Where the TSA's chain (the bundles' ``tsa.pem``) and its trusted root come from (file reads).

Chain: ``EFACTURE_TSA_CHAIN_FILE`` when set, else the built-in TSA's keystore
(``<data_dir>/tsa``, read only: nothing here creates an authority). Root (the trust anchor the
archive checks every token against, and ``keys export-trust`` publishes as ``tsa-ca.pem``):
``EFACTURE_TSA_CA`` when set, else the keystore's CA certificate — the operator's own TSA,
also when it is reached at ``EFACTURE_TSA_URL`` on a shared data volume. An external TSA with
neither is refused with one sentence (:class:`TsaTrustError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from services.archive.domain.timestamp_check import check_timestamp
from services.archive.domain.tsa_anchor import check_anchor, load_root
from services.archive.domain.verify_report import CheckFailed
from services.archive.tsa.keystore import CA_CERT, load_public_chain, tsa_key_dir
from shared.errors import RetryableError
from shared.settings import Settings


class TsaTrustError(LookupError):
    """The TSA chain or root is not available; the message is one sentence."""


@dataclass(frozen=True)
class TsaTrust:
    chain_pem: bytes
    root_pem: bytes

    def chain(self) -> list[x509.Certificate]:
        """The chain's certificates, TSA first, in canonical PEM (an operator's file may have
        comments or other line breaks), ending at the root when the file stops below it."""
        certs = x509.load_pem_x509_certificates(self.chain_pem)
        root = x509.load_pem_x509_certificate(self.root_pem)
        last = certs[-1]
        if last.issuer != last.subject and last.issuer == root.subject:
            certs.append(root)
        return certs


def _read(path: Path, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TsaTrustError(f"cannot read {setting} {path} ({exc.strerror})") from exc


def chain_pem(settings: Settings) -> bytes:
    """The TSA chain for bundles: TSA certificate first, CA last."""
    if settings.tsa_chain_file is not None:
        return _read(settings.tsa_chain_file, "EFACTURE_TSA_CHAIN_FILE")
    directory = tsa_key_dir(settings)
    found = load_public_chain(directory)
    if found is not None:
        return found
    if settings.tsa_url:
        raise TsaTrustError("an external TSA is configured but EFACTURE_TSA_CHAIN_FILE is not "
                            "set, so the bundle's tsa.pem cannot be written")
    raise TsaTrustError(f"the built-in TSA has no keys in {directory}: is EFACTURE_DATA_DIR "
                        "the one the services run with?")


def root_pem(settings: Settings) -> bytes:
    """The TSA root certificate (PEM) the archive and auditors trust."""
    if settings.tsa_ca is not None:
        return _read(settings.tsa_ca, "EFACTURE_TSA_CA")
    path = tsa_key_dir(settings) / CA_CERT
    if path.is_file():
        return path.read_bytes()
    if settings.tsa_url:
        raise TsaTrustError("an external TSA is configured but EFACTURE_TSA_CA (its root "
                            "certificate) is not set, so its tokens cannot be trusted")
    raise TsaTrustError(f"the built-in TSA has no CA certificate in {path.parent}: is "
                        "EFACTURE_TSA_KEY_DIR (or EFACTURE_DATA_DIR) the one the TSA runs with?")


def load(settings: Settings) -> TsaTrust:
    """Chain and root together; raises :class:`TsaTrustError`."""
    return TsaTrust(chain_pem=chain_pem(settings), root_pem=root_pem(settings))


class TrustedTokens:
    """Checks each new token before archive stores it: its signature, its certificate chain,
    and that the chain ends at the trusted root. Trust files are read on first use (the
    built-in TSA may create its keys after archive starts) and again before giving up."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._trust: tuple[list[x509.Certificate], x509.Certificate] | None = None

    def check(self, response_der: bytes, document: bytes) -> None:
        """Raise ``RetryableError(code="tsa-untrusted")`` unless the token is trusted: the
        invoice is not at fault, the TSA (or the configuration) is."""
        problem = ""
        for reload in (False, True):
            try:
                if self._trust is None or reload:
                    trust = load(self._settings)
                    self._trust = (trust.chain(), load_root(trust.root_pem, "the TSA root"))
                chain, root = self._trust
                check_timestamp(response_der, chain, document, strict_der=False)
                check_anchor(chain, root)
                return
            except CheckFailed as exc:
                problem = exc.sentence
            except (TsaTrustError, ValueError) as exc:
                problem = str(exc)
        raise RetryableError(f"the TSA's token is not trusted: {problem}", code="tsa-untrusted")
