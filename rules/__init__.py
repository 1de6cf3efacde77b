"""The PMO rule and rollup engine. Pure: no HTTP, database or Flask imports here."""
