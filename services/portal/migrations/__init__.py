"""The portal schema's migrations (web application 001-049; rendering, notifications 050+)."""
