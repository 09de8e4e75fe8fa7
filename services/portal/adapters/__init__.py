"""The portal's I/O: mail, and what the web side adds."""
