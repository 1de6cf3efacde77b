"""HTTP: the Flask app factory, webhook intake, the admin and operations endpoints, the
portfolio views, viewer access, OpenAPI, and the waitress worker that serves them."""
