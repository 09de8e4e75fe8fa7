"""French labels for the codes an invoice carries (UNTDID 1001 and 5305, UN/ECE rec. 20)."""

from __future__ import annotations

_TYPES = {
    "380": "Facture", "381": "Avoir", "383": "Note de débit", "384": "Facture rectificative",
    "386": "Facture d'acompte", "389": "Autofacture", "261": "Avoir autofacturé",
    "393": "Facture affacturée", "396": "Avoir affacturé", "501": "Autofacture affacturée",
    "502": "Avoir autofacturé affacturé", "471": "Facture rectificative affacturée",
    "472": "Facture rectificative autofacturée",
    "473": "Facture rectificative autofacturée affacturée",
    "500": "Autofacture d'acompte", "503": "Facture d'acompte",
}
_VAT = {
    "S": "Taux normal", "Z": "Taux zéro", "E": "Exonérée", "AE": "Autoliquidation",
    "K": "Livraison intracommunautaire", "G": "Exportation hors UE", "O": "Hors champ de la TVA",
    "L": "IGIC (Canaries)", "M": "IPSI (Ceuta et Melilla)", "B": "Transfert (Italie)",
}
_UNITS = {
    "C62": "unité", "H87": "pièce", "EA": "unité", "XPP": "pièce", "HUR": "heure", "DAY": "jour",
    "MIN": "minute", "MON": "mois", "ANN": "an", "WEE": "semaine", "KGM": "kg", "GRM": "g",
    "TNE": "t", "MTR": "m", "KMT": "km", "MTK": "m²", "MTQ": "m³", "LTR": "l", "KWH": "kWh",
    "SET": "lot", "LS": "forfait", "P1": "%", "NAR": "article", "NPR": "paire",
}


def type_label(code: str | None) -> str:
    return _TYPES.get(code or "", "Facture")


def vat_category(code: str | None) -> str:
    if not code:
        return ""
    return _VAT.get(code, code)


def unit(code: str | None) -> str:
    if not code:
        return ""
    return _UNITS.get(code, code)
