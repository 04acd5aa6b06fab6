"""The program director's pages."""
