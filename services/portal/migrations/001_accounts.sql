-- The portal's accounts, sessions, links, branding and audit trail (contract v2 section 7).
-- Addresses are stored lower-cased: one account per e-mail address, whatever its roles.
CREATE TABLE portal.account (
    id                uuid        PRIMARY KEY,
    email             text        NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash     text,                     -- argon2id, NULL until enrolment sets it
    totp_secret       text,                     -- base32, NULL until the first code confirms it
    totp_last_step    bigint,                   -- last accepted time step: a code is used once
    failed_attempts   integer     NOT NULL DEFAULT 0,
    locked_until      timestamptz,
    created_at        timestamptz NOT NULL,
    enrolled_at       timestamptz
);

-- Issuer users: an account's role in a tenant's space.
CREATE TABLE portal.member (
    account_id uuid        NOT NULL REFERENCES portal.account (id) ON DELETE CASCADE,
    tenant     text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('admin', 'staff')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, tenant)
);
CREATE INDEX member_tenant ON portal.member (tenant);

-- Ten single-use recovery codes per account, stored as SHA-256 (they carry 60 random bits).
CREATE TABLE portal.recovery_code (
    account_id uuid        NOT NULL REFERENCES portal.account (id) ON DELETE CASCADE,
    code_hash  bytea       NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (account_id, code_hash)
);

-- E-mailed links (enrolment 24 h, sign-in 15 min); only the SHA-256 of the token is kept.
CREATE TABLE portal.link (
    token_hash bytea       PRIMARY KEY,
    email      text        NOT NULL,
    purpose    text        NOT NULL CHECK (purpose IN ('enrol', 'signin')),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX link_expiry ON portal.link (expires_at);

-- Server-side sessions; the cookie holds a random token, the table its SHA-256.
CREATE TABLE portal.session (
    public_id   uuid        PRIMARY KEY,      -- what the sessions page shows and ends
    token_hash  bytea       NOT NULL UNIQUE,
    account_id  uuid        REFERENCES portal.account (id) ON DELETE CASCADE,
    stage       text        NOT NULL,         -- anon, otp, enrol_password, enrol_totp, full
    csrf_token  text        NOT NULL,
    data        jsonb       NOT NULL DEFAULT '{}',
    user_agent  text,
    address     text,
    created_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL
);
CREATE INDEX session_account ON portal.session (account_id);
CREATE INDEX session_seen ON portal.session (last_seen);

-- Failed sign-in attempts per client address (throttling).
CREATE TABLE portal.login_failure (
    address text        NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX login_failure_address ON portal.login_failure (address, at);

-- An issuer revoked a recipient's access to its invoices.
CREATE TABLE portal.revoked (
    tenant     text        NOT NULL,
    email      text        NOT NULL,
    revoked_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, email)
);

-- The issuer's space: display name and logo (sanitised before it is stored).
CREATE TABLE portal.brand (
    tenant       text        PRIMARY KEY,
    display_name text,
    logo         bytea,
    logo_type    text CHECK (logo_type IN ('image/png', 'image/svg+xml')),
    updated_at   timestamptz NOT NULL
);

-- Every view and download (and every change an issuer makes), per tenant.
CREATE TABLE portal.audit (
    id         bigserial   PRIMARY KEY,
    tenant     text        NOT NULL,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    invoice_id uuid,
    address    text,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_tenant ON portal.audit (tenant, id);
