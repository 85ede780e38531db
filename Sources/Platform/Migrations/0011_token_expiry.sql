-- Tokens with a life cycle: an optional expiry set when the token is issued. An expired token is refused
-- like a revoked one; it stays listed (with its state) until retention removes it, so people can see
-- which automation lost access and when.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
CREATE INDEX api_tokens_expires ON api_tokens (expires_at) WHERE expires_at IS NOT NULL;
