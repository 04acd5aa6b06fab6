"""The court clerk's portal: his court's cases, their status, attendance and documents."""
