"""The portfolio dashboard: the snapshot, its cache, the page and its SVG."""
