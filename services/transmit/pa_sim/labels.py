"""Official French lifecycle statuses (codes and labels) the simulator can report."""

from __future__ import annotations

from typing import Final

LIFECYCLE_LABELS: Final[dict[int, str]] = {
    200: "Déposée",
    201: "Émise",
    202: "Reçue",
    203: "Mise à disposition",
    204: "Prise en charge",
    205: "Approuvée",
    206: "Approuvée partiellement",
    207: "En litige",
    208: "Suspendue",
    209: "Complétée",
    210: "Refusée",
    211: "Paiement transmis",
    212: "Encaissée",
    213: "Rejetée",
    214: "Visée",
    220: "Annulée",
    221: "Erreur de routage",
    224: "Demande de paiement direct",
    225: "Affacturée",
    226: "Affacturée confidentiel",
    227: "Changement de compte à payer",
    228: "Non affacturée",
    501: "Irrecevable",
}


def lifecycle_label(code: int) -> str:
    """The label of a lifecycle code; codes outside the main list get a neutral label."""
    return LIFECYCLE_LABELS.get(code, f"Statut {code}")
