"""Pages anyone may open: the front page, health check and certificate verification."""
