"""`pmo-bridge demo`: the whole product on the sandbox trackers, one scripted week.

Beside `sandbox/`, outside the service package: the service never imports a sandbox."""
