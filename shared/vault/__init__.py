"""Sealed documents: master key, tenant keys, AES-GCM envelopes and the blob store.

Shared by every service that writes or reads archived bytes (archive writes; transmit and the
portal read), so that no service imports another.
"""
