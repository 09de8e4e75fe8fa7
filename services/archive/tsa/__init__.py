"""The built-in RFC 3161 time-stamping authority (used when ``EFACTURE_TSA_URL`` is unset).

:class:`~services.archive.tsa.authority.TimeStampAuthority` answers TimeStampReq DER with
TimeStampResp DER; :mod:`services.archive.tsa.app` serves it over HTTP.
"""
