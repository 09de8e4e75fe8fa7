"""The portal: issuers and their customers, over HTTPS (contract v2 section 7)."""
