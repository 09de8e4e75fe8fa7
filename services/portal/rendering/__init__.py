"""Readable PDF renderings of CII and UBL invoices (Factur-X PDF/A-3, XML embedded)."""
