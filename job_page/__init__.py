"""The job page: `GET /api/jobs`, a small HTML page for people, built on the status API."""
