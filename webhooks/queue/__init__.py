"""The task queue (`backend`: Huey on SQLite or Redis), per-item locks (`locks`),
tracker-wide holds after a 429 (`holds`) and coalesced scheduling (`scheduling`)."""
