"""Place a real order in a Storefleet store through its public API and read it back as admin."""
