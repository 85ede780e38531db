-- Every open event stream asks, every half second, which of its tenant's stores changed since a moment:
-- without an index on updated_at each of those polls reads the whole stores table.
CREATE INDEX stores_updated ON stores (updated_at);
