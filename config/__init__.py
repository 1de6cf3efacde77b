"""Settings and the bundled PMO rule packs."""
