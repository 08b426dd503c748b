"""Storage adapters: the store URL, recorders, the cipher, the append-only logs, the views."""
